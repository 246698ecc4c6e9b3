//! Fuzz target `analyse`: arbitrary bytes as the capture of one point (lengths divisible by 3:
//! also of a second point), through the whole pipeline: capture -> decode -> flow ->
//! correlate -> verdict -> JSON and terminal text.
//!
//! Checks: no panic, no hang, every frame accounted for, the flow cap holds, the JSON
//! parses and is byte for byte what the serde reference writer prints, and the terminal text
//! holds no escape character (colour off: any ESC would come from the input).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use flowcheck::point::{PointInput, ReadOptions};
use flowcheck::report::{json, text};
use libfuzzer_sys::fuzz_target;

/// The capture file each input is written to: in memory (/dev/shm) where there is one. The
/// target goes through the file so that it runs exactly the library entry point the binary
/// runs, whatever the stages behind it become.
fn capture_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("flowcheck-fuzz-{}.pcap", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = capture_path();
    std::fs::write(path, data).expect("write the capture");
    let input = PointInput {
        name: "fuzz".into(),
        path: path.clone(),
    };
    // Odd lengths run with a tiny flow cap, so that the cap's accounting is fuzzed too.
    let max_flows = if data.len() % 2 == 1 { 3 } else { 1_000_000 };
    let opts = ReadOptions {
        max_flows,
        ..ReadOptions::default()
    };
    // Lengths divisible by 3 also run as two points that captured the same packets, so that
    // the multi-point stages (packet sampling, clock offsets, paths) see hostile input too.
    let mut inputs = vec![input];
    if data.len().is_multiple_of(3) {
        inputs.push(PointInput {
            name: "twin".into(),
            path: path.clone(),
        });
    }
    let analysis = flowcheck::analyse(&inputs, &opts);
    for point in &analysis.points {
        let s = &point.summary;
        assert_eq!(
            s.decoded + s.not_decoded.values().sum::<u64>(),
            s.packets,
            "a frame neither decoded nor counted"
        );
        assert!(point.flows.len() <= max_flows, "flow cap exceeded");
    }

    let mut doc = Vec::new();
    json::write(&analysis, &mut doc).expect("JSON renders");
    serde_json::from_slice::<serde_json::Value>(&doc).expect("JSON parses");
    let mut reference = Vec::new();
    json::write_reference(&analysis, &mut reference).expect("reference JSON renders");
    assert!(doc == reference, "JSON differs from the serde reference");

    let mut out = Vec::new();
    text::write(&analysis, &text::TextOptions::default(), &mut out).expect("text renders");
    assert!(
        !out.contains(&0x1b),
        "an escape character reached the terminal text"
    );
});
