//! The knobs of reading points, the cores that finished points free, and the progress
//! counters the readers update.

use std::time::Duration;

use crate::flow::FlowBudget;

/// Knobs for reading points.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Most flows tracked in the whole run, shared by its points (`analyse_points` draws
    /// them from one [`FlowBudget`]); also the most of any one point.
    pub max_flows: usize,
    /// The run's flow budget; `analyse_points` makes one of `max_flows` when it is None.
    pub budget: Option<std::sync::Arc<FlowBudget>>,
    /// Where to count the bytes read, for a progress display.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// How long to wait for a writer to open a FIFO given as a capture.
    pub fifo_wait: Duration,
    /// Read and decode on one thread while another keeps the flow table (for a point that
    /// has a core to itself; `analyse_points` decides).
    pub pipeline: bool,
    /// Keep packet samples in every flow (what `correlate` follows across points; see
    /// `flow`). `analyse` turns it on when there is more than one point.
    pub samples: bool,
    /// Cores that points which finished have freed: a point still reading one at a time
    /// claims one and pipelines the rest of its file (`analyse_points` sets it).
    pub spare_cores: Option<std::sync::Arc<SpareCores>>,
}

/// Cores free for a point that reads and keeps its flow table on one thread.
#[derive(Debug, Default)]
pub struct SpareCores {
    free: std::sync::atomic::AtomicUsize,
    /// Cores claimed so far.
    claims: std::sync::atomic::AtomicUsize,
}

impl SpareCores {
    /// Gives a core back (its thread is done).
    pub fn release(&self) {
        self.free.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Takes a free core, if there is one.
    pub fn claim(&self) -> bool {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let mut n = self.free.load(Relaxed);
        while n > 0 {
            match self.free.compare_exchange_weak(n, n - 1, Acquire, Relaxed) {
                Ok(_) => {
                    self.claims.fetch_add(1, Relaxed);
                    return true;
                }
                Err(now) => n = now,
            }
        }
        false
    }

    /// How many times a core was claimed.
    pub fn claims(&self) -> usize {
        self.claims.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_flows: 1_000_000,
            budget: None,
            progress: None,
            fifo_wait: Duration::from_secs(10),
            pipeline: false,
            samples: false,
            spare_cores: None,
        }
    }
}

/// Bytes read so far over all points, updated every few thousand frames by the readers.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the (decompressed) captures consumed so far.
    pub bytes_read: std::sync::atomic::AtomicU64,
    /// Frames read so far.
    pub frames_read: std::sync::atomic::AtomicU64,
}

impl Progress {
    pub(super) fn add(&self, bytes: u64, frames: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.bytes_read.fetch_add(bytes, Relaxed);
        self.frames_read.fetch_add(frames, Relaxed);
    }
}

/// Frames between two progress updates.
pub(super) const PROGRESS_EVERY: u64 = 1 << 16;
