//! bulk: the exports asked for (`--zeek`, `--parquet`, `--csv`) written side by side, from
//! the values more than one of them needs computed once ([`Derived`]). The pieces they share
//! to write a row are [`super::export`]'s.

use std::path::Path;

use super::derived::{Derived, Needs};
use super::Analysis;

/// The bulk exports asked for.
#[derive(Debug, Default)]
pub struct Targets<'a> {
    /// `--zeek DIR`.
    pub zeek: Option<&'a Path>,
    /// `--parquet DIR`.
    pub parquet: Option<&'a Path>,
    /// `--csv FILE`: the file, opened before the analysis, and its name for messages.
    pub csv: Option<(std::fs::File, &'a Path)>,
}

/// Writes the exports asked for: first what more than one of them writes is computed once
/// ([`Derived`]), then the three are written side by side, each on its own thread (and each
/// renders or encodes on several threads of its own). The first error, in the order Zeek,
/// Parquet, CSV, is returned after all have ended.
pub fn write_all(a: &Analysis, t: Targets<'_>) -> std::io::Result<()> {
    let needs = Needs {
        flow_ids: t.zeek.is_some() || t.parquet.is_some(),
        conversation_ids: t.csv.is_some() || t.parquet.is_some(),
        reasons: t.csv.is_some() || t.parquet.is_some(),
        flow_conversations: t.zeek.is_some(),
    };
    let mut lap = crate::timings::Lap::new("exports/");
    let d = &Derived::new(a, needs);
    lap.mark("shared values");
    let failed = |what: &str| std::io::Error::other(format!("{what}: the writing thread failed"));
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        let zeek = t.zeek.map(|dir| {
            scope.spawn(move || ended(start, "zeek", super::zeek::write_dir(a, d, dir)))
        });
        let csv = t.csv.map(|(file, path)| {
            scope.spawn(move || ended(start, "csv", write_csv(a, d, file, path)))
        });
        let parquet = t
            .parquet
            .map(|dir| ended(start, "parquet", super::parquet::write_dir(a, d, dir)));
        let zeek = zeek.map(|h| h.join().map_err(|_| failed("--zeek")));
        let csv = csv.map(|h| h.join().map_err(|_| failed("--csv")));
        zeek.transpose()?.transpose()?;
        parquet.transpose()?;
        csv.transpose()?.transpose()?;
        Ok(())
    })
}

/// Passes `r` on; with FLOWCHECK_TIMINGS, prints when export `what` ended (from `start`, when
/// the exports started side by side).
fn ended<T>(start: std::time::Instant, what: &str, r: T) -> T {
    let took = crate::timings::secs(start.elapsed());
    crate::timings::print(format_args!("exports/{what} ended after {took}"));
    r
}

/// `--csv`: written over the old file in place, then cut after the new rows (when it is a
/// regular file: it may be a pipe), as `pages::write_over` does.
fn write_csv(a: &Analysis, d: &Derived, file: std::fs::File, path: &Path) -> std::io::Result<()> {
    let context =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("--csv {}: {e}", path.display()));
    super::write_over(&file, |pages| super::csv::write(a, d, pages)).map_err(context)
}
