//! The points of a run in parallel: one thread each up to the number of cores, the run's
//! flow budget shared, spare cores handed to the points still reading.

use super::{analyse_point, PointInput, PointResult, ReadOptions, SpareCores};
use crate::flow::FlowBudget;

/// Analyses every point, in parallel where there are cores for it; results in input order.
pub fn analyse_points(inputs: &[PointInput], opts: &ReadOptions) -> Vec<PointResult> {
    let budgeted;
    let opts = if opts.budget.is_none() {
        budgeted = ReadOptions {
            budget: Some(FlowBudget::new(opts.max_flows)),
            ..opts.clone()
        };
        &budgeted
    } else {
        opts
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = cores.min(inputs.len().max(1));
    // a spare core per point: overlap reading with the flow table inside each point;
    // otherwise the cores that no point reads on, and then those of the points that are done,
    // go to the points still reading (the last point of a run often reads alone for a while)
    let with_cores;
    let opts = if cores >= 2 * inputs.len() {
        with_cores = ReadOptions {
            pipeline: true,
            ..opts.clone()
        };
        &with_cores
    } else if workers > 1 {
        let spare = SpareCores::default();
        for _ in workers..cores {
            spare.release();
        }
        with_cores = ReadOptions {
            spare_cores: Some(std::sync::Arc::new(spare)),
            ..opts.clone()
        };
        &with_cores
    } else {
        opts
    };
    if workers <= 1 {
        return inputs.iter().map(|i| analyse_point(i, opts)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<PointResult>> = (0..inputs.len()).map(|_| None).collect();
    let done: Vec<(usize, PointResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else { break };
                        mine.push((i, analyse_point(input, opts)));
                    }
                    // no point left to start: this core is free for one still reading
                    if let Some(spare) = &opts.spare_cores {
                        spare.release();
                    }
                    mine
                })
            })
            .collect();
        crate::threads::join_all(handles).flatten().collect()
    });
    for (i, r) in done {
        results[i] = Some(r);
    }
    results.into_iter().flatten().collect()
}
