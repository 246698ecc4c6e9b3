//! The binary's progress indicator: one line on standard error while captures are read.

use flowcheck::point::{PointInput, Progress};

/// A one-line progress indicator on stderr (a terminal), shown once reading has taken more
/// than a second, erased when done.
pub struct ProgressDisplay {
    pub counters: std::sync::Arc<Progress>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressDisplay {
    pub fn start(inputs: &[PointInput]) -> ProgressDisplay {
        use std::sync::atomic::Ordering::Relaxed;
        let total: u64 = inputs
            .iter()
            .filter_map(|i| std::fs::metadata(&i.path).ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        let counters = std::sync::Arc::new(Progress::default());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, st) = (counters.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut shown = false;
            while !st.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let elapsed = start.elapsed().as_secs_f64();
                if elapsed < 1.0 || st.load(Relaxed) {
                    continue;
                }
                let bytes = c.bytes_read.load(Relaxed);
                let frames = c.frames_read.load(Relaxed);
                // gzip inputs count decompressed bytes: the share is an estimate, capped
                let pct = if total > 0 {
                    format!(" ({:.0}%)", (bytes as f64 / total as f64 * 100.0).min(99.0))
                } else {
                    String::new()
                };
                eprint!(
                    "\rflowcheck: read {:.2} GB{pct}, {:.1} M packets, {:.2} GB/s\x1b[K",
                    bytes as f64 / 1e9,
                    frames as f64 / 1e6,
                    bytes as f64 / 1e9 / elapsed
                );
                shown = true;
            }
            if shown {
                eprint!("\r\x1b[K");
            }
        });
        ProgressDisplay {
            counters,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
