//! Tests of correlation: joins, clocks, hosts, notes, lone flows, sorting, memory.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::group::{quoted_targets, Index, UnionFind};
use super::hosts::{hosts, initial_ttl, special_address, NO_HOST};
use super::nodes::Nodes;
use super::vote::{sort_flat, Flat};
use super::*;
use crate::decode::{tcp_flags, Packet, Transport};
use crate::flow::{Endpoint, FlowTable, KeyKind};
use crate::point::PointSummary;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A packet as the decoder would give it: an 84-byte IPv4 packet carrying 56 bytes of the
/// same payload every time, like `ping -p` or the benchmark's pings.
fn pkt(src: &str, dst: &str, ttl: u8, ip_id: u32, transport: Transport) -> Packet {
    Packet {
        ip_id,
        ip_len: 84,
        payload_len: 56,
        digest: 0x5eed,
        digest_len: 16,
        ..crate::flow::tests::packet(src, dst, ttl, transport)
    }
}

fn echo(request: bool, id: u16, seq: u16) -> Transport {
    Transport::Echo {
        v6: false,
        request,
        id,
        seq,
    }
}

fn tcp(sport: u16, dport: u16, flags: u8, seq: u32, ack: u32) -> Transport {
    Transport::Tcp {
        sport,
        dport,
        flags,
        seq,
        ack,
    }
}

/// One capture point from (packet, time) pairs, with packet samples.
fn point(name: &str, packets: &[(Packet, i64)]) -> PointResult {
    let mut t = FlowTable::with_samples(1000, true);
    for (i, (p, ts)) in packets.iter().enumerate() {
        t.add(p, *ts, p.ip_len + 14, i as u64 + 1);
    }
    let forwarded_packets = t.forwarded_packets;
    let (flows, links) = t.finish();
    PointResult {
        summary: PointSummary {
            name: name.into(),
            first_ts: packets.iter().map(|p| p.1).min(),
            last_ts: packets.iter().map(|p| p.1).max(),
            forwarded_packets,
            ..PointSummary::default()
        },
        flows,
        links,
    }
}

/// A ping of `n` requests client -> server, seen at the client (clock `c_off`) and, with
/// the source rewritten to `nat_ip` and the identifier to `nat_id`, at the server (clock
/// `s_off`), 300 us one way.
fn ping_pair(n: u16, nat_ip: &str, nat_id: u16, c_off: i64, s_off: i64) -> Vec<PointResult> {
    let (mut at_c, mut at_s) = (Vec::new(), Vec::new());
    for seq in 1..=n {
        let t = i64::from(seq) * 200 * MS;
        let id = 1000 + u32::from(seq);
        let rid = 5000 + u32::from(seq);
        at_c.push((
            pkt("10.0.1.4", "10.0.2.4", 64, id, echo(true, 7, seq)),
            t + c_off,
        ));
        at_s.push((
            pkt(nat_ip, "10.0.2.4", 63, id, echo(true, nat_id, seq)),
            t + 300_000 + s_off,
        ));
        at_s.push((
            pkt("10.0.2.4", nat_ip, 64, rid, echo(false, nat_id, seq)),
            t + 400_000 + s_off,
        ));
        at_c.push((
            pkt("10.0.2.4", "10.0.1.4", 63, rid, echo(false, 7, seq)),
            t + 700_000 + c_off,
        ));
    }
    vec![point("client", &at_c), point("server", &at_s)]
}

#[test]
fn icmp_identifier_rewritten_between_points_is_one_conversation() {
    let points = ping_pair(3, "10.0.0.68", 4242, 0, 0);
    let r = correlate_with(&points, &Options::default());
    assert_eq!(r.conversations.len(), 1, "{:#?}", r.conversations);
    let c = &r.conversations[0];
    assert_eq!(c.client.ip, ip("10.0.1.4"));
    assert_eq!(
        c.kind,
        KeyKind::Echo { id: 7 },
        "the identifier as the client knows it"
    );
    let fwd: Vec<usize> = c.route[0].iter().map(|h| h.point).collect();
    let rev: Vec<usize> = c.route[1].iter().map(|h| h.point).collect();
    assert_eq!((fwd, rev), (vec![0, 1], vec![1, 0]));
    let rw = c
        .rewrites
        .iter()
        .find(|r| r.dir == Dir::Forward && r.nat.side == NatSide::Source)
        .expect("the source rewrite");
    assert_eq!(rw.at, RewriteAt::Between(0, 1));
    assert_eq!(
        (rw.nat.from.port, rw.nat.to.port),
        (7, 4242),
        "echo identifiers"
    );
    assert_eq!(rw.nat.to.ip, ip("10.0.0.68"));
    assert_eq!((c.sampled_packets, c.matched_packets), (6, 6));
    assert_eq!(r.matches.flow_pairs, 1);
}

#[test]
fn clock_offsets_of_ten_seconds_and_more_are_found() {
    for (c_off, s_off) in [(0, 10 * S), (-13 * S, 0), (3 * S, -7 * S)] {
        let points = ping_pair(3, "10.0.0.68", 7, c_off, s_off);
        let r = correlate_with(&points, &Options::default());
        let theta = r.clocks.offset(1) - r.clocks.offset(0);
        // the two one-way delays (0.3 ms, 0.3 ms) are equal: exact
        assert!(
            (theta - (s_off - c_off)).abs() <= 1_000,
            "{theta} vs {}",
            s_off - c_off
        );
        let c = &r.conversations[0];
        assert_eq!(c.route[0].len(), 2, "{c:#?}");
        let d = c.route[0][1].delay_ns.unwrap();
        assert!((d - 300_000).abs() <= 1_000, "one-way delay {d}");
        // --assume-synced takes the clocks as they are
        let synced = correlate_with(
            &points,
            &Options {
                assume_synced: true,
                ..Options::default()
            },
        );
        assert!(synced.clocks.assumed_synced);
        assert_eq!(synced.clocks.offset(1), 0);
    }
}

/// Echo request `seq` of 10.0.1.4 -> 10.0.2.4 (identifier 7) leaving the client's point
/// (`at_c`) and reaching the server's (`at_s`) 0.5 ms later, and the reply leaving the
/// server's 0.5 ms after that. Returns the send time and the request's and reply's IP IDs.
fn ping_to_server(
    seq: u16,
    at_c: &mut Vec<(Packet, i64)>,
    at_s: &mut Vec<(Packet, i64)>,
) -> (i64, u32, u32) {
    let t = i64::from(seq) * 200 * MS;
    let (id, rid) = (1000 + u32::from(seq), 5000 + u32::from(seq));
    at_c.push((pkt("10.0.1.4", "10.0.2.4", 64, id, echo(true, 7, seq)), t));
    at_s.push((
        pkt("10.0.1.4", "10.0.2.4", 63, id, echo(true, 7, seq)),
        t + MS / 2,
    ));
    at_s.push((
        pkt("10.0.2.4", "10.0.1.4", 64, rid, echo(false, 7, seq)),
        t + MS,
    ));
    (t, id, rid)
}

#[test]
fn same_looking_pings_far_apart_in_time_are_not_joined() {
    // the server also receives, 5 s later, another client's pings that look the same
    // (same payload, IP IDs and sequence numbers): another conversation
    let mut at_c = Vec::new();
    let mut at_s = Vec::new();
    for seq in 1..=3u16 {
        let (t, id, rid) = ping_to_server(seq, &mut at_c, &mut at_s);
        at_c.push((
            pkt("10.0.2.4", "10.0.1.4", 63, rid, echo(false, 7, seq)),
            t + 3 * MS / 2,
        ));
        at_s.push((
            pkt("10.0.3.4", "10.0.2.4", 63, id, echo(true, 9, seq)),
            t + 5 * S,
        ));
    }
    let points = vec![point("client", &at_c), point("server", &at_s)];
    let r = correlate_with(&points, &Options::default());
    assert_eq!(r.conversations.len(), 2, "{:#?}", r.conversations);
    let real = r
        .conversations
        .iter()
        .find(|c| c.client.ip == ip("10.0.1.4"))
        .unwrap();
    assert!(real.rewrites.is_empty(), "{:?}", real.rewrites);
    assert_eq!(real.matched_packets, 6);
    let other = r
        .conversations
        .iter()
        .find(|c| c.client.ip == ip("10.0.3.4"))
        .unwrap();
    assert_eq!(other.points.len(), 1);
    assert!(
        r.clocks.offset(1).abs() < MS,
        "the look-alikes did not move the clock"
    );
}

#[test]
fn randomised_tcp_sequence_numbers_still_join_the_flows() {
    // a firewall between the points adds a constant to the client's sequence numbers
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    let delta = 0x1234_5678u32;
    for k in 0..6u32 {
        let t = i64::from(k) * 10 * MS;
        let (seq, ack) = (100 + k * 10, 900);
        let mut p = pkt(
            "10.0.1.4",
            "10.0.2.4",
            64,
            300 + k,
            tcp(40000, 443, tcp_flags::ACK, seq, ack),
        );
        p.ip_proto = 6;
        p.digest = u64::from(k) + 77;
        at_a.push((p, t));
        let mut q = p;
        q.transport = tcp(40000, 443, tcp_flags::ACK, seq.wrapping_add(delta), ack);
        q.ttl = 63;
        at_b.push((q, t + 2 * MS));
    }
    let points = vec![point("a", &at_a), point("b", &at_b)];
    let r = correlate_with(&points, &Options::default());
    assert_eq!(r.matches.seq_rewritten_pairs, 1);
    assert_eq!(r.conversations.len(), 1);
    assert!(r.conversations[0].seq_rewritten);
}

#[test]
fn retransmitted_copies_are_matched_to_the_copy_of_their_time() {
    // the same SYN-ACK (IP ID 0, same sequence numbers) sent three times, 1 s apart, seen
    // at both points: three packets, each seen once at each point
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    for k in 0..3i64 {
        let mut p = pkt(
            "10.0.2.4",
            "10.0.1.4",
            64,
            0,
            tcp(443, 40000, tcp_flags::SYN | tcp_flags::ACK, 5, 101),
        );
        p.ip_proto = 6;
        p.digest_len = 0;
        p.digest = 0;
        p.payload_len = 0;
        at_a.push((p, k * S));
        let mut q = p;
        q.ttl = 63;
        at_b.push((q, k * S + MS));
    }
    let points = vec![point("server", &at_a), point("client", &at_b)];
    let r = correlate_with(
        &points,
        &Options {
            assume_synced: true,
            ..Options::default()
        },
    );
    let c = &r.conversations[0];
    assert_eq!(c.traces.len(), 3, "{:#?}", c.traces);
    for t in &c.traces {
        assert_eq!(t.sightings.len(), 2);
        let d = t.sightings[1].ts - t.sightings[0].ts;
        assert_eq!(d, MS, "each copy with its own: {t:?}");
    }
    // without traces: the same conversations, matches and clocks, the traces left out
    let bare = correlate_with(
        &points,
        &Options {
            assume_synced: true,
            without_traces: true,
        },
    );
    assert_eq!(bare.conversations.len(), r.conversations.len());
    assert_eq!(bare.matches, r.matches);
    assert_eq!(format!("{:?}", bare.clocks), format!("{:?}", r.clocks));
    for (b, full) in bare.conversations.iter().zip(&r.conversations) {
        assert!(b.traces.is_empty());
        let mut full = full.clone();
        full.traces = Traces::default();
        assert_eq!(format!("{b:?}"), format!("{full:?}"));
    }
}

#[test]
fn a_point_that_receives_and_never_forwards_loses_the_packets() {
    // the server's replies reach the middle point and go no further; the client's point
    // sees its requests leave
    let mut at_c = Vec::new();
    let mut at_s = Vec::new();
    let mut at_m = Vec::new();
    for seq in 1..=3u16 {
        let (t, _, rid) = ping_to_server(seq, &mut at_c, &mut at_s);
        at_m.push((
            pkt("10.0.2.4", "10.0.1.4", 64, rid, echo(false, 7, seq)),
            t + MS + MS / 4,
        ));
        // the middle point forwards other traffic
        let fwd = pkt(
            "10.0.9.9",
            "10.0.8.8",
            64,
            7000 + u32::from(seq),
            echo(true, 3, seq),
        );
        let mut out = fwd;
        out.ttl = 63;
        at_m.push((fwd, t + 50 * MS));
        at_m.push((out, t + 50 * MS + 10_000));
    }
    // the client also receives something, so that its point hosts it
    at_c.push((pkt("10.0.5.5", "10.0.1.4", 64, 9999, echo(true, 11, 1)), 0));
    at_c.push((pkt("10.0.2.4", "10.0.1.4", 64, 9998, echo(true, 12, 1)), MS));
    at_s.push((pkt("10.0.1.4", "10.0.2.4", 64, 9997, echo(true, 13, 1)), MS));
    let points = vec![
        point("client", &at_c),
        point("nva", &at_m),
        point("server", &at_s),
    ];
    let r = correlate_with(
        &points,
        &Options {
            assume_synced: true,
            ..Options::default()
        },
    );
    let c = r
        .conversations
        .iter()
        .find(|c| c.kind == KeyKind::Echo { id: 7 })
        .unwrap();
    assert_eq!(
        &c.losses[..],
        &[Loss::After {
            dir: Dir::Reverse,
            point: 1
        }],
        "{c:#?}"
    );
    let rev: Vec<usize> = c.route[1].iter().map(|h| h.point).collect();
    assert_eq!(rev, vec![2, 1]);
}

/// The capture sets of the repository: every file of every stage as a point of its own
/// (no packet samples, as flowcheck reads one point), and every stage as a whole.
fn capture_sets() -> Vec<Vec<PointResult>> {
    use crate::point::{analyse_points, resolve_inputs, ReadOptions};
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
    let mut sets = Vec::new();
    for stage in ["stage0", "stage1", "stage2", "stage3", "stage4"] {
        let dir = format!("{root}/{stage}");
        let inputs = resolve_inputs(&[dir]).unwrap();
        for input in &inputs {
            sets.push(analyse_points(
                std::slice::from_ref(input),
                &ReadOptions::default(),
            ));
        }
        let all = ReadOptions {
            samples: true,
            ..ReadOptions::default()
        };
        sets.push(analyse_points(&inputs, &all));
    }
    sets
}

#[test]
fn an_index_holds_what_a_map_of_vectors_holds() {
    // keys out of order, repeated, some never used; values in the order they came
    let entries: Vec<(usize, u32)> = (0..500u32)
        .map(|v| (((v as usize) * 7919 + 13) % 97 % 61, v))
        .collect();
    let index = Index::new(100, || entries.iter().copied());
    let mut map: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for &(k, v) in &entries {
        map.entry(k).or_default().push(v);
    }
    for k in 0..110 {
        let want = map.get(&k).map_or(&[][..], Vec::as_slice);
        assert_eq!(index.get(k), want, "key {k}");
    }
    let empty: Index<u32> = Index::new(100, std::iter::empty);
    assert!(empty.start.is_empty() && empty.get(5).is_empty());
}

#[test]
fn union_find_roots_are_the_first_element_of_each_group() {
    let n = 1000;
    let mut uf = UnionFind((0..n).collect());
    for k in 0..400usize {
        uf.union((k * 37) % n, (k * 101 + 7) % n);
    }
    let found: Vec<usize> = (0..n).map(|x| uf.find(x)).collect();
    let roots = uf.into_roots();
    assert_eq!(roots, found);
    for (x, &r) in roots.iter().enumerate() {
        assert!(r <= x && roots[r] == r, "{x} -> {r}");
        let first = (0..n).find(|&y| roots[y] == r);
        assert_eq!(first, Some(r), "the root is the group's first element");
    }
}

/// Who hosts each address, counted the plain way: packets from it (initial TTL) and to
/// it, per point, neither forwarded there; the most wins, then the first point.
fn hosts_by_address(points: &[PointResult]) -> BTreeMap<IpAddr, usize> {
    let mut seen: BTreeMap<(IpAddr, usize), (u64, u64)> = BTreeMap::new();
    for (pi, p) in points.iter().enumerate() {
        for f in &p.flows {
            if f.quoted.is_some() {
                continue;
            }
            for d in 0..2 {
                let own = f.packets[d].saturating_sub(f.forwarded()[d] + f.forwarded_in()[d]);
                if own == 0 {
                    continue;
                }
                if initial_ttl(&f.ttls[d]) {
                    seen.entry((f.key.sender(d).ip, pi)).or_default().0 += own;
                }
                seen.entry((f.key.sender(1 - d).ip, pi)).or_default().1 += own;
            }
        }
    }
    let mut best: BTreeMap<IpAddr, (u64, usize)> = BTreeMap::new();
    for (&(ip, pi), &(sent, recv)) in &seen {
        let forwards = points[pi].summary.forwarded_packets > 0;
        if sent > 0 && (recv > 0 || !forwards) && !special_address(&ip) {
            let n = sent + recv;
            let e = best.entry(ip).or_insert((n, pi));
            if n > e.0 {
                *e = (n, pi);
            }
        }
    }
    best.into_iter().map(|(ip, (_, pi))| (ip, pi)).collect()
}

fn check_hosts(points: &[PointResult]) {
    let nodes = Nodes::new(points);
    let found = hosts(&nodes);
    let want = hosts_by_address(points);
    for (pi, p) in points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            for (side, &h) in found[nodes.id(pi, fi)].iter().enumerate() {
                let ip = f.key.sender(side).ip;
                let got = (h != NO_HOST).then_some(h as usize);
                assert_eq!(got, want.get(&ip).copied(), "{ip} (point {pi}, flow {fi})");
            }
        }
    }
}

#[test]
fn the_point_with_the_most_packets_from_and_to_an_address_hosts_it() {
    // 10.0.1.4 pings from both points, three times at b, twice at a: b hosts it; 10.0.2.4
    // answers as often at both: the first point, a; 10.0.3.4 only sends (a forwards
    // nothing, so it still hosts it); the broadcast address is nobody's
    let ping = |src: &str, dst: &str, id: u32, ttl: u8| pkt(src, dst, ttl, id, echo(true, 1, 1));
    let pong = |src: &str, dst: &str, id: u32| pkt(src, dst, 64, id, echo(false, 1, 1));
    let at_a = vec![
        (ping("10.0.1.4", "10.0.2.4", 1, 64), 0),
        (pong("10.0.2.4", "10.0.1.4", 2), MS),
        (ping("10.0.1.4", "10.0.2.4", 3, 64), 2 * MS),
        (pong("10.0.2.4", "10.0.1.4", 4), 3 * MS),
        (ping("10.0.3.4", "10.0.9.9", 5, 128), 4 * MS),
        (ping("10.0.3.4", "255.255.255.255", 6, 64), 5 * MS),
    ];
    let mut at_b = Vec::new();
    for k in 0..3u32 {
        at_b.push((ping("10.0.1.4", "10.0.7.7", 10 + k, 64), i64::from(k) * MS));
    }
    at_b.push((pong("10.0.2.4", "10.0.1.4", 20), 4 * MS));
    at_b.push((ping("10.0.1.4", "10.0.2.4", 21, 64), 5 * MS));
    let points = vec![point("a", &at_a), point("b", &at_b)];
    check_hosts(&points);
    let h = hosts_by_address(&points);
    assert_eq!(h.get(&ip("10.0.1.4")), Some(&1));
    assert_eq!(h.get(&ip("10.0.2.4")), Some(&0));
    assert_eq!(h.get(&ip("10.0.3.4")), Some(&0));
    assert_eq!(h.get(&ip("255.255.255.255")), None);
}

#[test]
fn hosts_found_by_sorting_are_those_counted_by_address() {
    for points in capture_sets() {
        check_hosts(&points);
    }
    check_hosts(&ping_pair(4, "10.0.0.68", 9, 0, 0));
}

/// An ICMP port unreachable from `from` about the UDP datagram src:sport -> dst:dport.
fn unreachable(from: &str, src: &str, dst: &str, sport: u16, dport: u16) -> Packet {
    let mut p = pkt(
        from,
        src,
        64,
        77,
        Transport::IcmpError {
            v6: false,
            icmp_type: 3,
            code: 3,
            quoted: Some(crate::decode::Quoted {
                src: ip(src),
                dst: ip(dst),
                ip_proto: 17,
                sport,
                dport,
            }),
        },
    );
    p.ip_proto = 1;
    p
}

#[test]
fn an_icmp_error_is_a_note_on_the_conversation_it_quotes_at_one_point_and_more() {
    let udp = |sport| Transport::Udp { sport, dport: 53 };
    let mut q = pkt("10.0.1.4", "10.0.2.4", 64, 5, udp(4000));
    q.ip_proto = 17;
    let mut other = pkt("10.0.1.4", "10.0.2.4", 64, 6, udp(4001));
    other.ip_proto = 17;
    let err = unreachable("10.0.2.4", "10.0.1.4", "10.0.2.4", 4000, 53);
    // from another router, so a flow of its own
    let lost = unreachable("10.0.2.5", "10.0.1.4", "10.0.2.4", 4999, 53);
    let packets = [(other, 0), (q, MS), (err, 2 * MS), (lost, 3 * MS)];
    let one = vec![point("a", &packets)];
    let two = vec![point("a", &packets), point("b", &packets[..1])];
    for points in [one, two] {
        let r = correlate_with(&points, &Options::default());
        let c = r
            .conversations
            .iter()
            .find(|c| c.client.port == 4000)
            .unwrap();
        assert_eq!(c.icmp_errors.len(), 1, "{c:#?}");
        assert_eq!(c.icmp_errors[0].from, ip("10.0.2.4"));
        assert_eq!((c.icmp_errors[0].icmp_type, c.icmp_errors[0].code), (3, 3));
        // the error quoting a conversation nobody saw is one of its own
        let icmp: Vec<&Conversation> = r.conversations.iter().filter(|c| c.ip_proto == 1).collect();
        assert_eq!(icmp.len(), 1, "{icmp:#?}");
        let nodes = Nodes::new(&points);
        let targets = quoted_targets(&nodes, None);
        assert_eq!(targets, vec![(2, 1)], "the error quotes the second flow");
    }
}

#[test]
fn lone_flows_built_the_short_way_are_built_the_same() {
    let mut sets = capture_sets();
    sets.push(ping_pair(3, "10.0.0.68", 4242, 0, 0));
    for points in sets {
        let short = correlate_inner(&points, &Options::default(), |_| (), true);
        let long = correlate_inner(&points, &Options::default(), |_| (), false);
        assert_eq!(
            format!("{:?}", short.conversations),
            format!("{:?}", long.conversations),
        );
    }
}

#[test]
fn parallel_fill_keeps_the_order_and_gives_each_chunk_its_state() {
    let items: Vec<u64> = (0..10_000).collect();
    let (out, states) = parallel_fill(
        &items,
        touched(items.len()),
        || 0u64,
        |n, &x| {
            *n += 1;
            x * 3
        },
    );
    assert_eq!(out.len(), items.len());
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, r)| *r == Some(i as u64 * 3)));
    assert_eq!(states.iter().sum::<u64>(), items.len() as u64);
    let (none, _) = parallel_fill(&[] as &[u64], Vec::new(), || (), |_, &x| x);
    assert!(none.is_empty());
}

#[test]
fn nats_display_as_their_endpoints_are_written() {
    let e = |s: &str, port| Endpoint { ip: ip(s), port };
    let cases = [
        (e("10.100.201.4", 5), e("10.100.200.68", 5)),
        (e("10.100.201.4", 40000), e("10.100.200.68", 1024)),
        (e("0.0.0.0", 1), e("255.255.255.255", 2)),
        (e("2001:db8::1", 80), e("2001:db8::2", 80)),
        (e("2001:db8::1", 80), e("192.0.2.1", 8080)),
    ];
    for (from, to) in cases {
        let nat = Nat {
            side: NatSide::Source,
            from,
            to,
        };
        let want = if from.port != to.port {
            // written out here, apart from Endpoint::display
            let text = |e: Endpoint| match e.ip {
                std::net::IpAddr::V6(a) => format!("[{a}]:{}", e.port),
                a => format!("{a}:{}", e.port),
            };
            format!("{} -> {}", text(from), text(to))
        } else {
            format!("{} -> {}", from.ip, to.ip)
        };
        assert_eq!(nat.describe(), want);
    }
}

/// The 2 GB benchmark holds 200,000 judged conversations within its 150 MiB budget
/// (README, Performance): a byte more per conversation is 200 KB more. (408 since
/// `Conversation::uncovered`, one pointer: 1.6 MB more at 200,000 conversations; the 2 GB
/// benchmark was not run again for it.)
#[test]
fn a_judged_conversation_stays_within_its_memory_budget() {
    let size = std::mem::size_of::<(Conversation, crate::verdict::Judgement)>();
    assert!(
        size <= 408,
        "a judged conversation grew to {size} bytes (budget 408)"
    );
}

#[test]
fn a_conversation_without_traces_spends_one_word_on_them() {
    // 200,000 conversations of one capture: every word per conversation is 1.6 MB
    assert_eq!(std::mem::size_of::<Traces>(), 8);
    let mut t = Traces::default();
    assert!(t.is_empty() && t.iter().next().is_none());
    let s = |point, ts| Sighting {
        point,
        ts,
        ttl: 64,
        leaving: false,
        src: Endpoint {
            ip: IpAddr::from([10, 0, 0, 1]),
            port: 1,
        },
        dst: Endpoint {
            ip: IpAddr::from([10, 0, 0, 2]),
            port: 2,
        },
        frame: 1,
    };
    t.push(Dir::Forward, 84, 1, [7, 0], [s(0, 10), s(1, 20)]);
    t.push(Dir::Reverse, 84, 0, [7, 0], [s(1, 30)]);
    let all: Vec<PacketTrace> = t.iter().collect();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].dir, all[0].seq, all[0].sightings.len()),
        (Dir::Forward, 7, 2)
    );
    assert_eq!(all[0].sightings[1].ts, 20);
    assert_eq!((all[1].dir, all[1].sightings.len()), (Dir::Reverse, 1));
    assert_eq!(all[1].sightings[0].ts, 30);
}

#[test]
fn voting_records_sort_by_key_node_and_time() {
    let mut rng = crate::test_rng::Rng(0x5eed_1234_abcd_0001);
    for n in [0usize, 1, 2, 255, 256, 257, 1000, 70_000] {
        let mut flat: Vec<Flat> = (0..n)
            .map(|_| {
                // few distinct keys among the small sets, some repeated among the large
                let (distinct, spread) = if n < 300 {
                    (7, 1) // all in the first buckets
                } else {
                    (n as u64 * 2, 0x9e37_79b9_7f4a_7c15)
                };
                let key = ((rng.next() % distinct) << 40) | (rng.next() % 3);
                let key = key.wrapping_mul(spread);
                Flat {
                    key,
                    ts: (rng.next() % 5) as i64,
                    seq: rng.next() as u32,
                    node: (rng.next() % 4) as u32,
                    ..Flat::default()
                }
            })
            .collect();
        let mut want = flat.clone();
        want.sort_unstable_by_key(|r| (r.key, r.node, r.ts));
        let mut spare = Vec::new();
        sort_flat(&mut flat, &mut spare);
        let order = |v: &[Flat]| v.iter().map(|r| (r.key, r.node, r.ts)).collect::<Vec<_>>();
        assert_eq!(order(&flat), order(&want), "n = {n}");
        let seqs = |v: &[Flat]| {
            let mut s: Vec<u32> = v.iter().map(|r| r.seq).collect();
            s.sort_unstable();
            s
        };
        assert_eq!(seqs(&flat), seqs(&want), "the same records, n = {n}");
    }
}
