//! Worker threads, joined: what a scoped worker returned, or its panic going on in the caller
//! with the worker's own message (written once here; every stage that spreads work over the
//! cores joins through it).

use std::thread::ScopedJoinHandle;

/// Waits for a scoped worker and returns what it returned; a panic in the worker goes on in
/// the calling thread, as if it had happened there.
pub fn join<T>(worker: ScopedJoinHandle<'_, T>) -> T {
    match worker.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// [`join`] for each worker, in order.
pub fn join_all<'scope, T: 'scope>(
    workers: impl IntoIterator<Item = ScopedJoinHandle<'scope, T>>,
) -> impl Iterator<Item = T> {
    workers.into_iter().map(join)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let got: Vec<usize> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4).map(|i| scope.spawn(move || i * 10)).collect();
            join_all(workers).collect()
        });
        assert_eq!(got, [0, 10, 20, 30]);
    }

    #[test]
    fn a_workers_panic_goes_on_in_the_caller_with_its_message() {
        let caught = std::panic::catch_unwind(|| {
            std::thread::scope(|scope| join(scope.spawn(|| -> u8 { panic!("worker failed") })))
        });
        let payload = caught.expect_err("the panic reached the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"worker failed"));
    }
}
