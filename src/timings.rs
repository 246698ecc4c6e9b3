//! timings: wall-time lines on standard error for performance work, printed when the
//! `FLOWCHECK_TIMINGS` environment variable is set (`flowcheck: timings: WHAT SECONDS s`).
//! `bench/correlate.sh` reads the `read` and `correlate and judge` lines.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether `FLOWCHECK_TIMINGS` is set (read once per process).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FLOWCHECK_TIMINGS").is_some())
}

/// Prints one timing line, when timings are enabled.
pub fn print(what: std::fmt::Arguments<'_>) {
    if enabled() {
        eprintln!("flowcheck: timings: {what}");
    }
}

/// Seconds, as the timing lines print them (`0.123 s`); formatted only when printed.
pub fn secs(d: Duration) -> Secs {
    Secs(d)
}

/// See [`secs`].
pub struct Secs(Duration);

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} s", self.0.as_secs_f64())
    }
}

/// Wall time between marks: each [`mark`](Lap::mark) prints the time since the last one
/// (or since [`new`](Lap::new)) under `prefix`.
pub struct Lap {
    prefix: &'static str,
    last: Instant,
}

impl Lap {
    pub fn new(prefix: &'static str) -> Lap {
        Lap {
            prefix,
            last: Instant::now(),
        }
    }

    pub fn mark(&mut self, what: &str) {
        if enabled() {
            let now = Instant::now();
            print(format_args!(
                "{}{what} {}",
                self.prefix,
                secs(now - self.last)
            ));
            self.last = now;
        }
    }
}
