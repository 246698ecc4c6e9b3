//! Stage-by-stage throughput on one capture: how long reading alone, reading + decoding,
//! reading + decoding + computing flow keys, and reading + decoding + the flow table take, each
//! on one thread (a benchmark tool, not a test; `bench/run.sh` times the whole program).
//! `STAGE=read+decode` (etc.) runs one stage only.
//!
//!     cargo run --release --example stages -- CAPTURE [MAX_FLOWS]
use std::time::Instant;

use flowcheck::capture::CaptureReader;
use flowcheck::decode;
use flowcheck::flow::{FlowTable, Keyed};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: stages CAPTURE [MAX_FLOWS]");
        std::process::exit(2);
    };
    let max_flows = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::var("STAGE").ok();
    for stage in ["read", "read+decode", "read+decode+key", "read+decode+flow"] {
        if only.as_deref().is_some_and(|o| o != stage) {
            continue;
        }
        let t = Instant::now();
        let mut reader = match CaptureReader::open(path.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("stages: {path}: {e}");
                std::process::exit(2);
            }
        };
        let mut table = FlowTable::new(max_flows);
        let (mut frames, mut decoded) = (0u64, 0u64);
        let mut frame_no = 0u64;
        loop {
            let frame = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("stages: {path}: {e}");
                    break;
                }
            };
            frames += 1;
            frame_no += 1;
            if stage == "read" {
                continue;
            }
            if let Ok(p) = decode::decode(frame.link_type, frame.data, frame.wire_len) {
                decoded += 1;
                match stage {
                    "read+decode+key" => {
                        std::hint::black_box(Keyed::of(&p));
                    }
                    "read+decode+flow" => table.add(&p, frame.ts_ns, frame.wire_len, frame_no),
                    _ => {}
                }
            }
        }
        let flows = table.len();
        let s = t.elapsed().as_secs_f64();
        println!(
            "{stage:>18}: {s:.3} s  {:.2} GB/s  {:.2} M packets/s  frames={frames} decoded={decoded} flows={flows}",
            reader.offset() as f64 / s / 1e9,
            frames as f64 / s / 1e6,
        );
    }
}
