//! Writes capture points of one-packet flows (see `tests/common/manyflows.rs`), for checking
//! how the whole run bounds its memory across points (`--max-flows`; issue 20).
//!
//!     cargo run --release --example manyflows -- DIR FLOWS [POINTS]
//!     prlimit --as=2500000000 flowcheck DIR --no-report
#[path = "../tests/common/manyflows.rs"]
mod manyflows;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(flows)) = (
        args.first(),
        args.get(1).and_then(|f| f.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: manyflows DIR FLOWS [POINTS]");
        std::process::exit(2);
    };
    let points: u32 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3);
    if let Err(e) = manyflows::write_all(dir.as_ref(), flows, points) {
        eprintln!("manyflows: {dir}: {e}");
        std::process::exit(1);
    }
}
