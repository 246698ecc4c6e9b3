//! chunks: renders numbered pieces of a document on worker threads and writes them in order.
//!
//! Workers take the next piece number and render it into a buffer from a small pool; the
//! calling thread writes the finished pieces in number order and hands each buffer back. A
//! worker takes a number only once it holds a buffer, so at most the pool's buffers are in
//! flight, however long the document: memory stays bounded, and the piece the writer waits
//! for is always being rendered (no deadlock).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Buffers in flight per worker.
const BUFFERS_PER_WORKER: usize = 2;

struct State {
    /// The next piece to render.
    next: usize,
    /// Buffers no piece holds.
    free: Vec<Vec<u8>>,
    /// Set when the writer failed or a worker panicked: every worker stops.
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a buffer is freed or `stop` is set.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // no code panics while holding the lock; recover the data if it ever did
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// Stops the other workers when a worker panics, so that none waits for a buffer forever
/// (the panic itself reaches the caller through `std::thread::scope`).
struct StopOnPanic<'a>(&'a Shared);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

/// Renders pieces `0..count` with `render(piece, buffer)` (the buffer arrives empty) and
/// writes them to `out` in order, on up to `threads` worker threads.
pub fn write_in_order<W, R>(
    out: &mut W,
    count: usize,
    threads: usize,
    render: R,
) -> std::io::Result<()>
where
    W: Write + ?Sized,
    R: Fn(usize, &mut Vec<u8>) + Sync,
{
    let workers = threads.min(count);
    if workers <= 1 {
        let mut buf = Vec::new();
        for piece in 0..count {
            buf.clear();
            render(piece, &mut buf);
            out.write_all(&buf)?;
        }
        return Ok(());
    }
    let shared = Shared {
        state: Mutex::new(State {
            next: 0,
            free: (0..workers * BUFFERS_PER_WORKER)
                .map(|_| Vec::new())
                .collect(),
            stop: false,
        }),
        changed: Condvar::new(),
    };
    let (done_tx, done_rx) = mpsc::channel::<(usize, Vec<u8>)>();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let done_tx = done_tx.clone();
                let (shared, render) = (&shared, &render);
                s.spawn(move || {
                    let _stop_on_panic = StopOnPanic(shared);
                    while let Some((piece, mut buf)) = take(shared, count) {
                        buf.clear();
                        render(piece, &mut buf);
                        if done_tx.send((piece, buf)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        drop(done_tx);
        let written = write_pieces(out, count, &shared, &done_rx);
        if written.is_err() {
            shared.stop();
        }
        for h in handles {
            // a worker's panic goes on in the caller, with its own message
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        written
    })
}

/// The next piece to render and a buffer for it; None when all are taken or on stop.
fn take(shared: &Shared, count: usize) -> Option<(usize, Vec<u8>)> {
    let mut st = shared.lock();
    loop {
        if st.stop || st.next >= count {
            return None;
        }
        if let Some(buf) = st.free.pop() {
            let piece = st.next;
            st.next += 1;
            return Some((piece, buf));
        }
        st = shared
            .changed
            .wait(st)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// Writes the pieces as they arrive, in order, and frees their buffers.
fn write_pieces<W: Write + ?Sized>(
    out: &mut W,
    count: usize,
    shared: &Shared,
    done: &mpsc::Receiver<(usize, Vec<u8>)>,
) -> std::io::Result<()> {
    let mut arrived = BTreeMap::new();
    let mut next = 0;
    while next < count {
        // Err: every worker is gone, which only a panic does (the scope re-raises it)
        let Ok((piece, buf)) = done.recv() else {
            return Ok(());
        };
        arrived.insert(piece, buf);
        while let Some(buf) = arrived.remove(&next) {
            out.write_all(&buf)?;
            next += 1;
            shared.lock().free.push(buf);
            shared.changed.notify_one();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece_text(piece: usize, buf: &mut Vec<u8>) {
        // pieces of very different sizes, so that they finish out of order
        let n = if piece.is_multiple_of(7) {
            5_000
        } else {
            piece % 13
        };
        for _ in 0..n {
            write!(buf, "{piece},").unwrap();
        }
    }

    fn expected(count: usize) -> Vec<u8> {
        let mut want = Vec::new();
        for piece in 0..count {
            piece_text(piece, &mut want);
        }
        want
    }

    #[test]
    fn pieces_are_written_in_order() {
        for threads in [1, 2, 3, 8] {
            for count in [0, 1, 2, 5, 100] {
                let mut out = Vec::new();
                write_in_order(&mut out, count, threads, piece_text).unwrap();
                assert_eq!(out, expected(count), "{threads} threads, {count} pieces");
            }
        }
    }

    #[test]
    fn buffers_in_flight_stay_bounded() {
        let in_flight = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        let mut out = Vec::new();
        // counts a piece from when it is rendered until the writer sees it
        struct Counting<'a> {
            out: &'a mut Vec<u8>,
            in_flight: &'a std::sync::atomic::AtomicUsize,
        }
        impl Write for Counting<'_> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.out.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
            fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
                self.in_flight
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                self.out.extend_from_slice(b);
                Ok(())
            }
        }
        let mut w = Counting {
            out: &mut out,
            in_flight: &in_flight,
        };
        write_in_order(&mut w, 500, 4, |piece, buf| {
            let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            piece_text(piece, buf);
        })
        .unwrap();
        assert_eq!(out, expected(500));
        assert!(most.into_inner() <= 4 * BUFFERS_PER_WORKER);
    }

    #[test]
    fn a_write_error_stops_the_workers() {
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= 1;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let rendered = std::sync::atomic::AtomicUsize::new(0);
        let err = write_in_order(&mut Failing(3), 10_000, 2, |piece, buf| {
            rendered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            piece_text(piece, buf);
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert!(
            rendered.into_inner() < 100,
            "workers went on after the error"
        );
    }

    #[test]
    #[should_panic(expected = "render failed")]
    fn a_worker_panic_reaches_the_caller() {
        let mut out = Vec::new();
        let _ = write_in_order(&mut out, 1_000, 2, |piece, buf| {
            if piece == 10 {
                panic!("render failed");
            }
            piece_text(piece, buf);
        });
    }
}
