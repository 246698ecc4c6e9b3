//! Writes look-alike exchanges at two capture points (see `tests/common/lookalike.rs`): the
//! same DNS-like query and reply for N clients within a time span, IPv4 ID 0 with DF and one
//! payload for all (or IPv6 with one payload). A tool for timing correlation on traffic that
//! gives it nothing but flows and time to tell packets apart; `tests/lookalike.rs` runs a
//! size CI can afford.
//!
//!     cargo run --release --example lookalike -- DIR FLOWS [--v6] [--nat] [--echo] [--span-ms MS]
//!     flowcheck DIR/edge.pcap DIR/dns.pcap --json out.json
#[path = "../tests/common/lookalike.rs"]
mod lookalike;

use lookalike::Lookalike;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: lookalike DIR FLOWS [--v6] [--nat] [--echo] [--span-ms MS]");
        std::process::exit(2)
    };
    let (Some(dir), Some(flows)) = (args.first(), args.get(1).and_then(|f| f.parse().ok())) else {
        usage()
    };
    let mut spec = Lookalike {
        flows,
        v6: false,
        span_ns: 1_000_000_000,
        nat: false,
        echo: false,
    };
    let mut rest = args[2..].iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--v6" => spec.v6 = true,
            "--nat" => spec.nat = true,
            "--echo" => spec.echo = true,
            "--span-ms" => match rest.next().and_then(|m| m.parse::<u64>().ok()) {
                Some(ms) => spec.span_ns = ms * 1_000_000,
                None => usage(),
            },
            _ => usage(),
        }
    }
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| lookalike::write(dir.as_ref(), &spec))
    {
        eprintln!("lookalike: {dir}: {e}");
        std::process::exit(1);
    }
}
