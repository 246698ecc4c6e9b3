//! oom: running out of memory ends the run with exit status 2 and a message, never a signal.
//!
//! Rust's default answer to a failed allocation is to abort the process (SIGABRT, no JSON, a
//! terse line). [`ExitOnOom`] is the binary's global allocator: the system allocator, except
//! that an allocation it refuses prints `flowcheck: out of memory ...` and exits with status
//! 2, the status of every other error. Growth that can be refused gracefully (the flow
//! table, see `flow::budget`) asks with `try_reserve` inside [`fallible`], and then gets the
//! refusal back instead.
//!
//! Nothing here allocates: the message is written from a stack buffer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Set while this thread makes an allocation that may fail (see [`fallible`]).
    static FALLIBLE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a `try_reserve`) with allocation failures returned to it rather than ending the
/// process.
pub fn fallible<R>(f: impl FnOnce() -> R) -> R {
    let before = FALLIBLE.with(|c| c.replace(true));
    let r = f();
    FALLIBLE.with(|c| c.set(before));
    r
}

/// The system allocator, ending the process with status 2 and a message when it refuses an
/// allocation outside [`fallible`].
pub struct ExitOnOom;

fn refused(layout: Layout) -> ! {
    use std::io::Write;
    let mut buf = [0u8; 160];
    let mut out: &mut [u8] = &mut buf;
    let _ = writeln!(
        out,
        "flowcheck: out of memory (an allocation of {} bytes was refused); \
         lower --max-flows or allow more memory",
        layout.size()
    );
    let left = out.len();
    let n = buf.len() - left;
    let _ = std::io::stderr().write_all(buf.get(..n).unwrap_or(&[]));
    std::process::exit(2)
}

// SAFETY: every call is forwarded to `System` with the same arguments; a null result is
// either returned (inside `fallible`) or ends the process.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for ExitOnOom {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are System's.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() && !FALLIBLE.with(|c| c.get()) {
            refused(layout);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() && !FALLIBLE.with(|c| c.get()) {
            refused(layout);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() && !FALLIBLE.with(|c| c.get()) {
            refused(Layout::from_size_align(new_size, layout.align()).unwrap_or(layout));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallible_sets_the_flag_only_inside() {
        assert!(!FALLIBLE.with(|c| c.get()));
        let inside = fallible(|| FALLIBLE.with(|c| c.get()));
        assert!(inside);
        assert!(!FALLIBLE.with(|c| c.get()));
        // an impossible reservation inside comes back as an error
        // (black_box: an optimised build may otherwise elide an allocation nothing uses,
        // and take it as granted)
        let mut v: Vec<u64> = std::hint::black_box(Vec::new());
        let asked = std::hint::black_box(usize::MAX / 16);
        assert!(fallible(|| v.try_reserve(asked)).is_err());
        std::hint::black_box(&v);
    }
}
