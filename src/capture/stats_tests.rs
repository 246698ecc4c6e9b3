//! Interface Statistics Blocks on hand-built pcapng files: times in the interface's unit,
//! drop counters per interface and section, and damage that skips the block, not the file.

use super::tests::{open_bytes, Ng, COMMENT};
use super::InterfaceStats;
use crate::testkit::put_ts64;

/// An Interface Statistics Block of `interface` with these options (time stamp 0).
fn isb(ng: Ng, interface: u32, opts: &[(u16, &[u8])]) -> Ng {
    ng.isb(interface, 0, opts)
}

/// A 64-bit time stamp as the two 32-bit words of a packet block, high first.
fn ts(count: u64, be: bool) -> Vec<u8> {
    let mut v = Vec::new();
    put_ts64(&mut v, count, be);
    v
}

fn counter(n: u64, be: bool) -> Vec<u8> {
    if be {
        n.to_be_bytes().to_vec()
    } else {
        n.to_le_bytes().to_vec()
    }
}

/// Reads every frame and returns the statistics and the frame count.
fn stats_of(bytes: &[u8]) -> (InterfaceStats, usize) {
    let mut r = open_bytes(bytes).expect("opens");
    let mut frames = 0;
    while let Ok(Some(_)) = r.next_frame() {
        frames += 1;
    }
    (r.interface_stats(), frames)
}

const S: u64 = 1_795_578_040; // 2026-11-25T03:40:40Z
const NS: i64 = 1_000_000_000;

#[test]
fn start_end_and_drops_are_read_in_both_byte_orders() {
    for be in [false, true] {
        let start = ts(S * 1_000_000, be); // microseconds, the default unit
        let end = ts((S + 10) * 1_000_000 + 5, be);
        let (d1, d2) = (counter(4, be), counter(9, be));
        let bytes = Ng::new()
            .shb(be, 1, &[])
            .idb(1, 65535, &[])
            .epb_with(0, (S + 1) * 1_000_000, &[0u8; 20], 20, COMMENT)
            .isb(
                0,
                0,
                &[(2, &start), (3, &end), (5, &d1), (7, &d2), (4, &d2)],
            )
            .bytes();
        let (s, frames) = stats_of(&bytes);
        assert_eq!(frames, 1);
        assert_eq!(s.start_ns, Some(S as i64 * NS), "be {be}");
        assert_eq!(s.end_ns, Some((S as i64 + 10) * NS + 5_000));
        assert_eq!(s.dropped_by_interface, Some(4));
        assert_eq!(s.dropped_by_os, Some(9));
        assert_eq!((s.blocks, s.damaged_blocks), (1, 0));
    }
}

#[test]
fn times_follow_the_interfaces_resolution_and_offset() {
    // nanoseconds (if_tsresol 9) and 100 s of if_tsoffset
    let offset = 100i64.to_le_bytes();
    let ng = Ng::new()
        .shb(false, 1, &[])
        .idb(1, 0, &[(9, &[9]), (14, &offset)]);
    let bytes = isb(ng, 0, &[(2, &ts(S * 1_000_000_000 + 7, false))]).bytes();
    let (s, _) = stats_of(&bytes);
    assert_eq!(s.start_ns, Some((S as i64 + 100) * NS + 7));
    assert_eq!(s.end_ns, None);
    assert_eq!(s.dropped_by_interface, None);
}

#[test]
fn the_last_block_of_each_interface_counts_over_sections() {
    let c = |n| counter(n, false);
    let (a, b, d) = (c(2), c(5), c(1));
    let ng = Ng::new().shb(false, 1, &[]).idb(1, 0, &[]).idb(1, 0, &[]);
    let ng = isb(ng, 0, &[(5, &a)]);
    let ng = isb(ng, 0, &[(5, &b)]); // totals since the start: 5 replaces 2
    let ng = isb(ng, 1, &[(5, &d)]);
    // a new section: its interfaces start again
    let ng = ng.shb(false, 1, &[]).idb(1, 0, &[]);
    let ng = isb(ng, 0, &[(5, &a), (7, &d)]);
    let (s, _) = stats_of(&ng.bytes());
    assert_eq!(s.dropped_by_interface, Some(5 + 1 + 2));
    assert_eq!(s.dropped_by_os, Some(1));
    assert_eq!(s.blocks, 4);
}

#[test]
fn damaged_statistics_are_skipped_and_the_packets_still_read() {
    let ng = Ng::new().shb(false, 1, &[]).idb(1, 0, &[]);
    // an undeclared interface
    let ng = isb(ng, 3, &[(5, &counter(7, false))]);
    // a counter of 4 bytes
    let ng = isb(ng, 0, &[(5, &[1, 0, 0, 0])]);
    // too short for its fixed part
    let ng = ng.block(5, &[0, 0, 0, 0]);
    // an option running past the block
    let mut body = vec![0u8; 12];
    body.extend_from_slice(&[5, 0, 64, 0, 1, 2, 3, 4]);
    let ng = ng.block(5, &body);
    let bytes = ng
        .epb_with(0, S * 1_000_000, &[0u8; 20], 20, COMMENT)
        .bytes();
    let (s, frames) = stats_of(&bytes);
    assert_eq!(frames, 1, "the packet after the damaged blocks is read");
    assert_eq!((s.blocks, s.damaged_blocks), (0, 4));
    assert_eq!(s.dropped_by_interface, None);
}

#[test]
fn classic_pcap_has_no_statistics() {
    let bytes = super::tests::Pcap::new(super::tests::MAGIC_US, false, 65535, 1)
        .record(1, 0, &[0u8; 20], 20)
        .bytes();
    let (s, frames) = stats_of(&bytes);
    assert_eq!(frames, 1);
    assert_eq!(s, InterfaceStats::default());
}
