use super::*;
use std::path::PathBuf;

use super::read::*;
use crate::capture::CaptureReader;

/// A classic pcap of `n` UDP packets between 40 client ports and one server, both ways,
/// a microsecond apart.
fn udp_capture(n: usize) -> Vec<u8> {
    use crate::testkit::{udp_frame, Pcap, MAGIC_US};
    let (client, server) = ([10u8, 0, 1, 4], [10u8, 0, 2, 4]);
    let mut pcap = Pcap::new(MAGIC_US, false, 65535, 1);
    for i in 0..n {
        let port = 40000 + (i % 40) as u16;
        let ttl = if i % 7 == 0 { 63 } else { 64 };
        let (c, s) = ((client.into(), port), (server.into(), 53));
        let payload = (i as u32).to_be_bytes();
        let (from, to) = if i % 3 == 1 { (s, c) } else { (c, s) };
        let frame = udp_frame(from, to, ttl, &payload).expect("a 4-byte payload");
        let us = 1_700_000_000_000u64 + i as u64;
        let (sec, frac) = ((us / 1_000_000) as u32, (us % 1_000_000) as u32);
        pcap = pcap.record(sec, frac, &frame, frame.len() as u32);
    }
    pcap.bytes()
}

fn analyse_bytes(bytes: &[u8], opts: &ReadOptions) -> PointResult {
    let input = PointInput {
        name: "p".into(),
        path: PathBuf::from("p.pcap"),
    };
    let source = Box::new(std::io::Cursor::new(bytes.to_vec()));
    analyse_reader(&input, source, opts)
}

#[test]
fn a_point_that_gets_a_spare_core_midway_reads_the_same() {
    // 5 times the frames between two asks for a core: the rest of the file is pipelined
    let bytes = udp_capture(5 * STOP_EVERY as usize + 17);
    let alone = analyse_bytes(
        &bytes,
        &ReadOptions {
            samples: true,
            ..ReadOptions::default()
        },
    );
    let spare = std::sync::Arc::new(SpareCores::default());
    spare.release();
    let opts = ReadOptions {
        spare_cores: Some(std::sync::Arc::clone(&spare)),
        samples: true,
        ..ReadOptions::default()
    };
    let helped = analyse_bytes(&bytes, &opts);
    // claimed at the first ask, given back at the end
    assert_eq!(spare.claims(), 1);
    assert!(spare.claim() && !spare.claim());
    let dump = |r: &PointResult| format!("{:?} {:?} {:?}", r.summary, r.flows, r.links);
    assert_eq!(
        dump(&helped),
        dump(&alone),
        "summary, flows, samples and links"
    );
    assert_eq!(helped.summary.packets, 5 * STOP_EVERY + 17);
    assert!(!helped.flows.is_empty());
}

#[test]
fn reading_stops_when_asked_and_goes_on_where_it_stopped() {
    let bytes = udp_capture(3 * STOP_EVERY as usize);
    let mut reader =
        CaptureReader::from_reader(Box::new(std::io::Cursor::new(bytes))).expect("a capture");
    let (mut s, opts) = (PointSummary::default(), ReadOptions::default());
    let mut reading = Reading::default();
    let mut frames = Vec::new();
    let mut asked = 0;
    let ended = reading.run(
        &mut reader,
        &mut s,
        &opts,
        |_, _, _, n| frames.push(n),
        || {
            asked += 1;
            asked == 2
        },
    );
    assert!(!ended);
    assert_eq!(frames.len() as u64, 2 * STOP_EVERY);
    assert!(reading.run(
        &mut reader,
        &mut s,
        &opts,
        |_, _, _, n| frames.push(n),
        || false
    ));
    assert_eq!(frames, (1..=3 * STOP_EVERY).collect::<Vec<_>>());
    assert_eq!(s.packets, 3 * STOP_EVERY);
}
