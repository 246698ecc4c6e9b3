//! The cores correlation spreads its work over: how many ([`workers`]), memory touched on
//! every core before it is filled ([`touched`]), and an ordered parallel map over chunks with
//! a state per chunk ([`parallel_fill`], how the conversations are built).

/// Flows from which finding the hosts, and touching the memory of the conversations, are
/// worth cores of their own while the flows are joined.
pub(super) const SPREAD: usize = 4096;

/// How many threads correlation uses: the cores, at most `work` (one per item).
pub(super) fn workers(work: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work)
        .max(1)
}

/// A vector with room for `n` results of [`parallel_fill`], its memory touched on every core.
///
/// The results can fill hundreds of megabytes of fresh memory, whose pages cost whoever
/// touches them first a fault and a clearing: better all cores at once than one, and
/// while other work goes on.
pub(super) fn touched<R: Send>(n: usize) -> Vec<Option<R>> {
    let mut out: Vec<Option<R>> = Vec::with_capacity(n);
    let w = workers(n / SPREAD + 1);
    let chunk = n.div_ceil(w).max(1);
    std::thread::scope(|scope| {
        for part in out.spare_capacity_mut().chunks_mut(chunk) {
            scope.spawn(move || {
                for slot in part {
                    slot.write(None);
                }
            });
        }
    });
    out
}

/// `f(&mut state, item)` for every item, in order, in parallel over contiguous chunks, each
/// chunk with a state of its own made by `init`: the results (each `Some`), written in place
/// in `out` (emptied first: best [`touched`]), and the states.
pub(super) fn parallel_fill<T: Sync, R: Send, S: Send>(
    items: &[T],
    mut out: Vec<Option<R>>,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> (Vec<Option<R>>, Vec<S>) {
    let w = workers(items.len() / 256 + 1);
    let chunk = items.len().div_ceil(w).max(1);
    out.clear();
    out.resize_with(items.len(), || None);
    let states = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .zip(out.chunks_mut(chunk))
            .map(|(part, slots)| {
                let (f, init) = (&f, &init);
                scope.spawn(move || {
                    let mut state = init();
                    for (item, slot) in part.iter().zip(slots) {
                        *slot = Some(f(&mut state, item));
                    }
                    state
                })
            })
            .collect();
        crate::threads::join_all(handles).collect()
    });
    (out, states)
}
