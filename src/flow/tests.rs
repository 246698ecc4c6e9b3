//! Tests of the flow table: keys, history, echo pairing, forwarding, fragments, samples.

use super::*;
use std::net::IpAddr;

use crate::decode::{tcp_flags, Fragment, Packet, Transport};
use std::net::Ipv4Addr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A packet as the decoder would give it, without payload, IP ID or digest (the tests set
/// what they need).
pub(crate) fn packet(src: &str, dst: &str, ttl: u8, transport: Transport) -> Packet {
    let ip_proto = match transport {
        Transport::Tcp { .. } => 6,
        Transport::Udp { .. } => 17,
        _ => 1,
    };
    Packet {
        src: ip(src),
        dst: ip(dst),
        ip_proto,
        ttl,
        ip_id: 0,
        ip_len: 60,
        fragment: None,
        transport,
        payload_len: 0,
        digest: 0,
        digest_len: 0,
        encap: 0,
        vlan_count: 0,
        truncated: false,
        link_group: false,
    }
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8, seq: u32, len: u32) -> Packet {
    let mut p = packet(
        src,
        dst,
        64,
        Transport::Tcp {
            sport,
            dport,
            flags,
            seq,
            ack: 0,
        },
    );
    p.payload_len = len;
    p
}

use tcp_flags::{ACK, FIN, SYN};

/// The 2 GB benchmark holds 200,000 flows within its 150 MiB budget (README,
/// Performance): a field added to every flow costs 200 KB per byte. Rare counters belong in
/// `RareCounts`, made only for the flows that need them.
#[test]
fn a_flow_record_stays_within_its_memory_budget() {
    assert!(
        std::mem::size_of::<Flow>() <= 264,
        "Flow grew to {} bytes (budget 264)",
        std::mem::size_of::<Flow>()
    );
}

/// Adds the packets a millisecond apart and returns the flows (checking no forwarding link
/// was found: one point, nothing forwarded).
fn add_all(t: &mut FlowTable, packets: &[Packet]) -> Vec<Flow> {
    for (i, p) in packets.iter().enumerate() {
        t.add(p, i as i64 * 1000, 60, i as u64 + 1);
    }
    let (flows, links) = std::mem::replace(t, FlowTable::new(1)).finish();
    assert!(links.is_empty());
    flows
}

#[test]
fn tcp_connection_is_one_flow_with_zeek_history() {
    let mut t = FlowTable::new(100);
    let c = "10.0.0.1";
    let s = "10.0.0.2";
    let pk = [
        tcp(c, 40000, s, 80, SYN, 100, 0),
        tcp(s, 80, c, 40000, SYN | ACK, 500, 0),
        tcp(c, 40000, s, 80, ACK, 101, 0),
        tcp(c, 40000, s, 80, ACK, 101, 10),
        tcp(c, 40000, s, 80, ACK, 101, 10), // retransmission
        tcp(s, 80, c, 40000, ACK, 501, 100),
        tcp(c, 40000, s, 80, FIN | ACK, 111, 0),
        tcp(s, 80, c, 40000, FIN | ACK, 601, 0),
    ];
    let flows = add_all(&mut t, &pk);
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    let (orig, how) = f.originator();
    assert_eq!(how, Orientation::Syn);
    assert_eq!(f.key.sender(orig).port, 40000);
    assert_eq!(f.history.render(orig), "ShADTdFf");
    assert_eq!(f.packets[orig], 5);
    assert_eq!(f.packets[1 - orig], 3);
    assert_eq!(f.retransmissions()[orig], 1);
}

#[test]
fn a_hole_in_a_tcp_sequence_is_counted_once_where_it_is() {
    let mut t = FlowTable::new(100);
    let c = "10.0.0.1";
    let s = "10.0.0.2";
    let pk = [
        tcp(c, 40000, s, 80, SYN, 100, 0),
        tcp(s, 80, c, 40000, SYN | ACK, 500, 0),
        tcp(c, 40000, s, 80, ACK, 101, 10),
        // 111..121 not captured
        tcp(c, 40000, s, 80, ACK, 121, 10),
        tcp(c, 40000, s, 80, ACK, 131, 0),
        tcp(c, 40000, s, 80, ACK, 111, 10), // the hole filled late: a retransmission
        tcp(s, 80, c, 40000, ACK, 501, 100),
        // a new connection on the same ports starts its own sequence: no hole
        tcp(c, 40000, s, 80, SYN, 9_000_000, 0),
    ];
    let flows = add_all(&mut t, &pk);
    let f = &flows[0];
    let (orig, _) = f.originator();
    assert_eq!(f.seq_gaps()[orig], 1);
    assert_eq!(f.seq_gaps()[1 - orig], 0);
    assert_eq!(f.retransmissions()[orig], 1);
}

#[test]
fn echo_requests_pair_with_replies_by_sequence() {
    let mut t = FlowTable::new(100);
    let echo = |request, seq| Transport::Echo {
        v6: false,
        request,
        id: 7,
        seq,
    };
    t.add(&packet("10.0.0.1", "10.0.0.2", 64, echo(true, 1)), 0, 98, 1);
    t.add(
        &packet("10.0.0.2", "10.0.0.1", 64, echo(false, 1)),
        1,
        98,
        2,
    );
    t.add(&packet("10.0.0.1", "10.0.0.2", 64, echo(true, 2)), 2, 98, 3);
    t.add(
        &packet("10.0.0.2", "10.0.0.1", 64, echo(false, 9)),
        3,
        98,
        4,
    );
    let (flows, _) = t.finish();
    assert_eq!(flows.len(), 1);
    let e = &flows[0].echo;
    assert_eq!((e.requests, e.replies, e.paired), (2, 2, 1));
    assert_eq!(flows[0].tshark_a().1, Orientation::EchoRequest);
}

#[test]
fn only_replies_make_the_reply_destination_the_originator() {
    let mut t = FlowTable::new(100);
    let reply = Transport::Echo {
        v6: false,
        request: false,
        id: 7,
        seq: 1,
    };
    t.add(&packet("10.0.0.9", "10.0.0.1", 64, reply), 0, 98, 1);
    let (flows, _) = t.finish();
    let (a, how) = flows[0].tshark_a();
    assert_eq!(how, Orientation::EchoReply);
    assert_eq!(flows[0].key.sender(a).ip, ip("10.0.0.1"));
}

#[test]
fn forwarded_packet_with_snat_links_two_flows() {
    let mut t = FlowTable::new(100);
    let echo = |request| Transport::Echo {
        v6: false,
        request,
        id: 12,
        seq: 1,
    };
    let mut in_leg = packet("10.100.201.4", "10.100.202.4", 64, echo(true));
    in_leg.ip_id = 4242;
    in_leg.digest = 99;
    in_leg.digest_len = 16;
    let mut out_leg = in_leg;
    out_leg.src = ip("10.100.200.68");
    out_leg.ttl = 63;
    t.add(&in_leg, 1_000, 98, 1);
    t.add(&out_leg, 21_000, 98, 2);
    let (flows, links) = t.finish();
    assert_eq!(flows.len(), 2);
    assert_eq!(links.len(), 1);
    let l = links[0];
    assert_eq!((l.from, l.to, l.packets), (0, 1, 1));
    assert_eq!(l.before.0.ip, ip("10.100.201.4"));
    assert_eq!(l.after.0.ip, ip("10.100.200.68"));
    assert_eq!(flows[1].forwarded().iter().sum::<u64>(), 1);
    // each flow of the pair counts what it carries
    assert_eq!(flows[0].echo.requests, 1);
    assert_eq!(flows[1].echo.requests, 1);
}

/// A data segment of 10.100.204.2 -> 10.100.201.4:8080 arriving (TTL 64) and leaving 10 us
/// later (TTL 63) unchanged: forwarded without NAT.
fn forward_one_segment(t: &mut FlowTable) {
    let mut a = tcp("10.100.204.2", 40000, "10.100.201.4", 8080, ACK, 1, 100);
    a.ip_id = 77;
    let mut b = a;
    b.ttl = 63;
    t.add(&a, 0, 154, 1);
    t.add(&b, 10_000, 154, 2);
}

#[test]
fn forwarding_without_nat_stays_one_flow_without_retransmissions() {
    let mut t = FlowTable::new(100);
    forward_one_segment(&mut t);
    let (flows, links) = t.finish();
    assert_eq!(flows.len(), 1);
    assert!(links.is_empty());
    assert_eq!(flows[0].packets.iter().sum::<u64>(), 2);
    assert_eq!(flows[0].retransmissions(), [0, 0]);
    assert_eq!(
        flows[0]
            .ttls
            .iter()
            .map(|t| t.values().len())
            .sum::<usize>(),
        2
    );
}

#[test]
fn same_ttl_duplicates_are_not_forwards() {
    let mut t = FlowTable::new(100);
    let mut a = tcp("10.0.0.1", 40000, "10.0.0.2", 80, ACK, 1, 100);
    a.ip_id = 5;
    t.add(&a, 0, 154, 1);
    t.add(&a, 10, 154, 2);
    assert_eq!(t.forwarded_packets, 0);
}

#[test]
fn fragments_before_their_first_fragment_are_attributed() {
    let mut t = FlowTable::new(100);
    let frag = |offset, more| Fragment {
        offset,
        more,
        id: 31,
    };
    let mut later = packet("10.0.0.1", "10.0.0.2", 64, Transport::None);
    later.ip_proto = 17;
    later.fragment = Some(frag(1480, false));
    let mut first = packet(
        "10.0.0.1",
        "10.0.0.2",
        64,
        Transport::Udp {
            sport: 123,
            dport: 123,
        },
    );
    first.fragment = Some(frag(0, true));
    let mut middle = later;
    middle.fragment = Some(frag(740, true));
    t.add(&later, 0, 100, 1);
    t.add(&first, 1, 100, 2);
    t.add(&middle, 2, 100, 3);
    let (flows, _) = t.finish();
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(flows[0].total_packets(), 3);
    assert_eq!(flows[0].first_frame, 1);
    assert_eq!(flows[0].fragments(), 3);
}

#[test]
fn orphan_fragments_become_a_ports_unknown_flow() {
    let mut t = FlowTable::new(100);
    let mut later = packet("10.0.0.1", "10.0.0.2", 64, Transport::None);
    later.ip_proto = 17;
    later.fragment = Some(Fragment {
        offset: 8,
        more: false,
        id: 1,
    });
    t.add(&later, 0, 100, 1);
    let (flows, _) = t.finish();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].key.kind, KeyKind::PortsUnknown);
}

#[test]
fn flow_cap_counts_what_it_drops() {
    let mut t = FlowTable::new(1);
    t.add(&tcp("10.0.0.1", 1, "10.0.0.2", 80, SYN, 0, 0), 0, 60, 1);
    t.add(&tcp("10.0.0.1", 2, "10.0.0.2", 80, SYN, 0, 0), 0, 60, 2);
    assert_eq!(t.len(), 1);
    assert_eq!(t.dropped_packets, 1);
}

#[test]
fn keys_are_canonical_in_both_directions() {
    let a = Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        port: 1,
    };
    let b = Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        port: 2,
    };
    let (k1, d1) = FlowKey::new(6, KeyKind::Ports, a, b);
    let (k2, d2) = FlowKey::new(6, KeyKind::Ports, b, a);
    assert_eq!(k1, k2);
    assert_ne!(d1, d2);
    assert_eq!(k1.lo, b);
}

#[test]
fn samples_are_the_same_packets_wherever_the_flow_was_captured() {
    let packets: Vec<Packet> = (0..50u32)
        .map(|k| {
            let mut p = tcp("10.0.0.1", 40000, "10.0.0.2", 443, ACK, 1000 + k * 100, 100);
            p.ip_id = 7 + k;
            p.digest = u64::from(k) * 31;
            p.digest_len = 16;
            p
        })
        .collect();
    let keys = |skip: usize, ttl: u8| -> Vec<u64> {
        let mut t = FlowTable::with_samples(10, true);
        for (i, p) in packets.iter().enumerate().skip(skip) {
            let mut p = *p;
            p.ttl = ttl; // forwarding lowers the TTL: not part of the key
            t.add(&p, i as i64, 154, i as u64 + 1);
        }
        let (flows, _) = t.finish();
        let s = flows[0].samples.as_deref().expect("sampled");
        assert!(s[1].samples().is_empty());
        let mut k: Vec<u64> = s[0].samples().iter().map(|s| s.key).collect();
        assert_eq!(k.len(), FIRST_SAMPLES + LOW_SAMPLES);
        k.sort_unstable();
        k
    };
    assert_eq!(keys(0, 64), keys(0, 63), "the same packets at both points");
    // a point that started capturing late still keeps most of the same low-key packets
    let late = keys(10, 64);
    let common = keys(0, 64).iter().filter(|k| late.contains(k)).count();
    assert!(common >= LOW_SAMPLES - 1, "{common}");
    // without sampling, flows carry none
    let mut t = FlowTable::new(10);
    t.add(&packets[0], 0, 154, 1);
    assert!(t.finish().0[0].samples.is_none());
}

#[test]
fn leaving_legs_are_marked_in_the_samples() {
    let mut t = FlowTable::with_samples(10, true);
    forward_one_segment(&mut t);
    let (flows, _) = t.finish();
    let s = flows[0].samples.as_deref().unwrap();
    // 10.100.204.2 sorts after 10.100.201.4: its packets are direction 1
    let legs: Vec<(u8, bool)> = s[1].samples().iter().map(|s| (s.ttl, s.leaving)).collect();
    assert_eq!(legs, vec![(64, false), (63, true)]);
    assert_eq!(flows[0].forwarded_in()[1], 1);
    assert_eq!(flows[0].forwarded()[1], 1);
}

#[test]
fn ttl_set_keeps_four_sorted_values() {
    let mut s = TtlSet::default();
    for t in [64, 63, 64, 1, 200, 7] {
        s.insert(t);
    }
    assert_eq!(s.values(), &[1, 63, 64, 200]);
    assert!(s.overflow);
}

#[test]
fn history_text_reads_like_the_rendered_string() {
    let mut h = History::default();
    for (letter, dir) in [
        (b'S', 0),
        (b'H', 1),
        (b'A', 0),
        (b'D', 0),
        (b'D', 1),
        (b'F', 1),
    ] {
        h.add(letter, dir);
    }
    for orig in 0..2 {
        assert_eq!(h.text(orig).as_str(), h.render(orig));
    }
    assert_eq!(&*h.text(0), "ShADdf");
    assert_eq!(HistoryText::default().as_str(), "");
    assert_eq!(
        HistoryText::from("abcdefghijklmnopqrs").as_str(),
        "abcdefghijklmnop"
    );
    // a character cut by the 16-byte limit is left out whole
    assert_eq!(
        HistoryText::from("abcdefghijklmnoé").as_str(),
        "abcdefghijklmno"
    );
}

/// A UDP datagram with IP ID 0 (DF, as Linux sends them) and payload digest `digest`: a weak
/// fingerprint, the same for every datagram with that payload.
fn udp_id0(src: &str, sport: u16, dst: &str, dport: u16, ttl: u8, digest: u64) -> Packet {
    let mut p = packet(src, dst, ttl, Transport::Udp { sport, dport });
    p.digest = digest;
    p.digest_len = 29;
    p.payload_len = 29;
    p
}

#[test]
fn a_reply_that_looks_like_its_request_is_not_a_forward() {
    // an echo service: the reply repeats the query byte for byte, TTL one lower
    let mut t = FlowTable::new(100);
    t.add(&udp_id0("10.1.0.5", 40000, "10.2.0.53", 7, 64, 9), 0, 71, 1);
    t.add(
        &udp_id0("10.2.0.53", 7, "10.1.0.5", 40000, 63, 9),
        300_000,
        71,
        2,
    );
    assert_eq!(t.forwarded_packets, 0);
    let (flows, links) = t.finish();
    assert!(links.is_empty());
    assert_eq!(flows.len(), 1);
    // one request and one reply, neither forwarded
    assert_eq!(flows[0].packets, [1, 1]);
    assert_eq!(flows[0].forwarded(), [0, 0]);
    assert_eq!(flows[0].forwarded_in(), [0, 0]);
}

#[test]
fn look_alike_flows_are_not_linked() {
    // the server's point of 200 echo exchanges 50 us apart: query i (TTL 63) and reply i
    // (TTL 64) carry the same payload as every other, so reply i then query i+1 look like
    // one packet forwarded with both addresses rewritten
    let mut t = FlowTable::new(1000);
    for i in 0..200u16 {
        let client = format!("10.1.{}.{}", i / 200, i % 200 + 1);
        let ts = i64::from(i) * 50_000;
        let q = udp_id0(&client, 10_000 + i, "10.2.0.53", 7, 63, 9);
        let r = udp_id0("10.2.0.53", 7, &client, 10_000 + i, 64, 9);
        t.add(&q, ts, 71, u64::from(i) * 2 + 1);
        t.add(&r, ts + 100_000, 71, u64::from(i) * 2 + 2);
    }
    assert_eq!(t.forwarded_packets, 0);
    let (flows, links) = t.finish();
    assert!(links.is_empty());
    assert_eq!(flows.len(), 200);
    assert!(flows.iter().all(|f| f.packets == [1, 1]));
}

/// Adds datagrams of one payload (see [`udp_id0`]) to port 53: (source, source port,
/// destination, TTL, time).
fn add_id0(t: &mut FlowTable, legs: &[(&str, u16, &str, u8, i64)]) {
    for (n, &(src, sport, dst, ttl, ts)) in legs.iter().enumerate() {
        t.add(&udp_id0(src, sport, dst, 53, ttl, 9), ts, 71, n as u64 + 1);
    }
}

#[test]
fn look_alikes_of_other_flows_make_a_weak_fingerprint_pair_nothing() {
    // two clients send the same datagram to one server within the window; the NVA's leaving
    // leg (source NAT) could be either client's
    let mut t = FlowTable::new(100);
    add_id0(
        &mut t,
        &[
            ("10.1.0.5", 40000, "10.2.0.53", 64, 0),
            ("10.1.0.6", 40001, "10.2.0.53", 64, 1_000),
            ("10.9.0.1", 50000, "10.2.0.53", 63, 2_000),
        ],
    );
    assert_eq!(t.forwarded_packets, 0);
    assert!(t.finish().1.is_empty());
}

#[test]
fn a_weak_fingerprint_still_links_a_source_nat() {
    // one datagram (IP ID 0) arriving and leaving behind a source NAT: same destination
    let mut t = FlowTable::new(100);
    add_id0(
        &mut t,
        &[
            ("10.1.0.5", 40000, "10.2.0.53", 64, 0),
            ("10.9.0.1", 50000, "10.2.0.53", 63, 20_000),
        ],
    );
    let (flows, links) = t.finish();
    assert_eq!(flows.len(), 2);
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].from, links[0].to, links[0].packets), (0, 1, 1));
    // rewriting both addresses needs a fingerprint that survives it
    let mut t = FlowTable::new(100);
    add_id0(
        &mut t,
        &[
            ("10.1.0.5", 40000, "10.2.0.53", 64, 0),
            ("10.9.0.1", 50000, "10.3.0.53", 63, 20_000),
        ],
    );
    assert!(t.finish().1.is_empty());
}
