//! Unit tests of the decoder: packets built with etherparse's `PacketBuilder` (tunnels are
//! the inner packet wrapped by the small helpers below), robustness loops, and a cross-check
//! against tshark's flow table for some corpus files (`../shared/corpus`).

use super::*;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpFragOffset, IpHeaders, IpNumber,
    Ipv4Header, LinuxSllPacketType, PacketBuilder, VlanId,
};
use std::net::{Ipv4Addr, Ipv6Addr};

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const ROUTER: [u8; 4] = [10, 0, 0, 254];
const VTEP_A: [u8; 4] = [192, 168, 0, 1];
const VTEP_B: [u8; 4] = [192, 168, 0, 2];
const CLIENT6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const ROUTER6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
];
/// TTL of the inner packets; outer (tunnel) headers use [`OUTER_TTL`].
const TTL: u8 = 64;
const OUTER_TTL: u8 = 30;

fn ip4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn ip6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

/// Serialises a `PacketBuilder` that ends with a transport header.
macro_rules! build {
    ($builder:expr, $payload:expr) => {{
        let builder = $builder;
        let payload: &[u8] = $payload;
        let mut out = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut out, payload)
            .expect("PacketBuilder writes");
        out
    }};
}

/// Serialises a `PacketBuilder` that ends with an IP header carrying protocol `$proto`.
macro_rules! build_ip {
    ($builder:expr, $proto:expr, $payload:expr) => {{
        let builder = $builder;
        let payload: &[u8] = $payload;
        let mut out = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut out, IpNumber($proto), payload)
            .expect("PacketBuilder writes");
        out
    }};
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes an Ethernet frame captured whole.
fn eth(frame: &[u8]) -> Packet {
    decode(1, frame, frame.len() as u32).expect("frame decodes to a packet")
}

fn eth_err(frame: &[u8]) -> SkipReason {
    decode(1, frame, frame.len() as u32).expect_err("frame yields no packet")
}

// --- packets and wrappers -------------------------------------------------------------

/// IPv4 UDP 10.0.0.1:1000 -> 10.0.0.2:53, no link layer.
fn udp_v4(payload: &[u8]) -> Vec<u8> {
    build!(
        PacketBuilder::ipv4(CLIENT, SERVER, TTL).udp(1000, 53),
        payload
    )
}

/// IPv6 UDP [2001:db8::1]:1000 -> [2001:db8::2]:53, no link layer.
fn udp_v6(payload: &[u8]) -> Vec<u8> {
    build!(
        PacketBuilder::ipv6(CLIENT6, SERVER6, TTL).udp(1000, 53),
        payload
    )
}

/// IPv4 ICMP echo request 10.0.0.1 -> 10.0.0.2, id 0x1234 seq 7, no link layer.
fn echo_v4() -> Vec<u8> {
    build!(
        PacketBuilder::ipv4(CLIENT, SERVER, TTL).icmpv4_echo_request(0x1234, 7),
        b"ping"
    )
}

fn ethernet_frame(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    cat(&[&MAC_B, &MAC_A, &ethertype.to_be_bytes(), payload])
}

/// An Ethernet frame with the given tag protocol ids (outer first), VLAN ids 10, 20, ...
fn tagged_frame(tpids: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = cat(&[&MAC_B, &MAC_A]);
    let mut types: Vec<u16> = tpids.to_vec();
    types.push(ethertype);
    frame.extend_from_slice(&types[0].to_be_bytes());
    for (i, next) in types.iter().skip(1).enumerate() {
        frame.extend_from_slice(&(10 * (i as u16 + 1)).to_be_bytes());
        frame.extend_from_slice(&next.to_be_bytes());
    }
    frame.extend_from_slice(payload);
    frame
}

/// Outer IPv4 VTEP_A -> VTEP_B carrying protocol `proto`, no link layer.
fn in_ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    build_ip!(
        PacketBuilder::ipv4(VTEP_A, VTEP_B, OUTER_TTL),
        proto,
        payload
    )
}

/// IPv6 `src` -> `dst` whose payload starts with next header `next`, no link layer.
/// (etherparse's builder refuses extension header numbers as the last next header, so the
/// field is written after building.)
fn ipv6_carrying(src: [u8; 16], dst: [u8; 16], ttl: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut ip = build_ip!(PacketBuilder::ipv6(src, dst, ttl), 253, payload);
    ip[6] = next;
    ip
}

/// Outer IPv6 ROUTER6 -> SERVER6 carrying protocol `proto`, no link layer.
fn in_ipv6(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_carrying(ROUTER6, SERVER6, OUTER_TTL, proto, payload)
}

/// Ethernet + outer IPv4/UDP VTEP_A:sport -> VTEP_B:dport around `payload`.
fn in_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(VTEP_A, VTEP_B, OUTER_TTL)
            .udp(sport, dport),
        payload
    )
}

fn gre(flags: u16, protocol: u16, fields: &[u8], payload: &[u8]) -> Vec<u8> {
    cat(&[
        &flags.to_be_bytes(),
        &protocol.to_be_bytes(),
        fields,
        payload,
    ])
}

fn vxlan(frame: &[u8]) -> Vec<u8> {
    cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], frame])
}

fn arp_frame() -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REQUEST,
        &MAC_A,
        &CLIENT,
        &[0; 6],
        &SERVER,
    )
    .expect("valid ARP");
    let builder = PacketBuilder::ethernet2(MAC_A, MAC_B).arp(arp);
    let mut out = Vec::new();
    builder.write(&mut out).expect("ARP writes");
    out
}

/// A generic IPv6 extension header (hop-by-hop, routing, destination options...) of
/// `(units + 1) * 8` bytes.
fn ext_header(next: u8, units: u8) -> Vec<u8> {
    let mut h = vec![0u8; (usize::from(units) + 1) * 8];
    h[0] = next;
    h[1] = units;
    h
}

fn fragment_header(next: u8, offset: u16, more: bool, id: u32) -> Vec<u8> {
    cat(&[
        &[next, 0],
        &(offset | u16::from(more)).to_be_bytes(),
        &id.to_be_bytes(),
    ])
}

/// A UDP header (length and checksum are not checked by the decoder) and payload.
fn udp_bytes(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    cat(&[
        &sport.to_be_bytes(),
        &dport.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        payload,
    ])
}

fn assert_udp(p: &Packet, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) {
    assert_eq!((p.src, p.dst), (src, dst), "{p:?}");
    assert_eq!(p.ip_proto, 17, "{p:?}");
    assert_eq!(p.transport, Transport::Udp { sport, dport }, "{p:?}");
}

/// The inner packet of the tunnel tests: UDP 10.0.0.1:1000 -> 10.0.0.2:53 with TTL 64.
fn assert_inner_udp_v4(p: &Packet) {
    assert_udp(p, ip4(CLIENT), ip4(SERVER), 1000, 53);
    assert_eq!(p.ttl, TTL);
}

fn assert_inner_udp_v6(p: &Packet) {
    assert_udp(p, ip6(CLIENT6), ip6(SERVER6), 1000, 53);
    assert_eq!(p.ttl, TTL);
}

// --- link layers ------------------------------------------------------------------------

#[test]
fn ethernet_udp() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .udp(1000, 53),
        b"hello dns"
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!(p.ip_len, 20 + 8 + 9);
    assert_eq!(p.payload_len, 9);
    assert_eq!(p.digest_len, 9);
    assert_eq!((p.encap, p.vlan_count, p.truncated), (0, 0, false));
    assert_eq!(p.fragment, None);
}

#[test]
fn linux_sll() {
    let frame = build!(
        PacketBuilder::linux_sll(LinuxSllPacketType::OTHERHOST, 6, [2, 0, 0, 0, 0, 1, 0, 0])
            .ipv4(CLIENT, SERVER, TTL)
            .udp(1000, 53),
        b"x"
    );
    let p = decode(113, &frame, frame.len() as u32).unwrap();
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::SLL);
}

#[test]
fn linux_sll2() {
    let mut header = vec![0u8; 20];
    header[0..2].copy_from_slice(&0x86ddu16.to_be_bytes()); // protocol
    header[8..10].copy_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    header[11] = 6;
    let frame = cat(&[&header, &udp_v6(b"x")]);
    let p = decode(276, &frame, frame.len() as u32).unwrap();
    assert_inner_udp_v6(&p);
    assert_eq!(p.encap, encap::SLL);
    // An SLL2 netlink frame is not IP, whatever its protocol field says.
    header[8..10].copy_from_slice(&824u16.to_be_bytes());
    let frame = cat(&[&header, &udp_v6(b"x")]);
    assert_eq!(
        decode(276, &frame, frame.len() as u32),
        Err(SkipReason::NotIp)
    );
}

#[test]
fn raw_ip_link_types() {
    let v4 = udp_v4(b"x");
    let v6 = udp_v6(b"x");
    for link in [101, 12, 14, 228] {
        assert_inner_udp_v4(&decode(link, &v4, v4.len() as u32).unwrap());
        // The version nibble decides, even for LINKTYPE_IPV4 (as tshark does).
        assert_inner_udp_v6(&decode(link, &v6, v6.len() as u32).unwrap());
    }
    assert_inner_udp_v6(&decode(229, &v6, v6.len() as u32).unwrap());
    assert_eq!(
        decode(229, &v4, v4.len() as u32),
        Err(SkipReason::MalformedIp)
    );
    let garbage = [0x50u8; 40];
    assert_eq!(decode(101, &garbage, 40), Err(SkipReason::MalformedIp));
    assert_eq!(decode(101, &[], 0), Err(SkipReason::Truncated));
}

#[test]
fn bsd_null_and_loop() {
    let v4 = udp_v4(b"x");
    let v6 = udp_v6(b"x");
    let frame = |af: [u8; 4], ip: &[u8]| cat(&[&af, ip]);
    // Null: host byte order, either one accepted.
    for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let f = frame(af, &v4);
        assert_inner_udp_v4(&decode(0, &f, f.len() as u32).unwrap());
    }
    for af in [24u32, 28, 30] {
        for bytes in [af.to_le_bytes(), af.to_be_bytes()] {
            let f = frame(bytes, &v6);
            assert_inner_udp_v6(&decode(0, &f, f.len() as u32).unwrap());
        }
    }
    // Loop: network byte order only.
    let f = frame(30u32.to_be_bytes(), &v6);
    assert_inner_udp_v6(&decode(108, &f, f.len() as u32).unwrap());
    let f = frame(2u32.to_le_bytes(), &v4);
    assert_eq!(decode(108, &f, f.len() as u32), Err(SkipReason::NotIp));
    // AF 7 (OSI) is not IP; a 3-byte frame is truncated.
    let f = frame(7u32.to_le_bytes(), &v4);
    assert_eq!(decode(0, &f, f.len() as u32), Err(SkipReason::NotIp));
    assert_eq!(decode(0, &[2, 0, 0], 3), Err(SkipReason::Truncated));
}

#[test]
fn unknown_link_type() {
    let v4 = udp_v4(b"x");
    assert_eq!(
        decode(281, &v4, v4.len() as u32),
        Err(SkipReason::UnsupportedLinkType)
    );
    assert_eq!(
        decode(u32::MAX, &[], 0),
        Err(SkipReason::UnsupportedLinkType)
    );
}

#[test]
fn non_ip_frames() {
    assert_eq!(eth_err(&arp_frame()), SkipReason::NotIp);
    // LLDP
    assert_eq!(
        eth_err(&ethernet_frame(0x88cc, &[0; 46])),
        SkipReason::NotIp
    );
    // 802.3 length + LLC (STP)
    assert_eq!(
        eth_err(&ethernet_frame(38, &[0x42, 0x42, 0x03, 0, 0, 0])),
        SkipReason::NotIp
    );
    // 802.3 length + SNAP carrying IPv4 is IP.
    let snap = cat(&[&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00], &udp_v4(b"x")]);
    assert_inner_udp_v4(&eth(&ethernet_frame(snap.len() as u16, &snap)));
    // A frame shorter than an Ethernet header.
    assert_eq!(eth_err(&[0; 13]), SkipReason::Truncated);
}

#[test]
fn vlan_single_tag() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(VlanId::try_new(100).unwrap())
            .ipv4(CLIENT, SERVER, TTL)
            .udp(1000, 53),
        b"x"
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::VLAN, 1));
}

#[test]
fn qinq_and_three_tags() {
    let ip = udp_v4(b"x");
    let p = eth(&tagged_frame(&[0x88a8, 0x8100], 0x0800, &ip));
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::VLAN | encap::QINQ, 2));

    let p = eth(&tagged_frame(&[0x8100, 0x8100, 0x8100], 0x0800, &ip));
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::VLAN | encap::QINQ, 3));

    let p = eth(&tagged_frame(&[0x9100, 0x8100], 0x86dd, &udp_v6(b"x")));
    assert_inner_udp_v6(&p);
    assert_eq!(p.vlan_count, 2);

    // A tag cut short.
    let frame = tagged_frame(&[0x8100], 0x0800, &ip);
    assert_eq!(eth_err(&frame[..16]), SkipReason::Truncated);
}

#[test]
fn pppoe_session() {
    let pppoe = |ppp_proto: u16, payload: &[u8]| {
        let len = (payload.len() + 2) as u16;
        let header = cat(&[
            &[0x11, 0x00, 0x00, 0x01],
            &len.to_be_bytes(),
            &ppp_proto.to_be_bytes(),
        ]);
        ethernet_frame(0x8864, &cat(&[&header, payload]))
    };
    let p = eth(&pppoe(0x0021, &udp_v4(b"x")));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::PPPOE);
    assert_inner_udp_v6(&eth(&pppoe(0x0057, &udp_v6(b"x"))));
    // LCP
    assert_eq!(eth_err(&pppoe(0xc021, &[1, 0, 0, 4])), SkipReason::NotIp);
}

#[test]
fn mpls_labels_and_pseudowire() {
    let label =
        |value: u32, bottom: bool| (value << 12 | u32::from(bottom) << 8 | 64).to_be_bytes();
    let frame = ethernet_frame(
        0x8847,
        &cat(&[&label(100, false), &label(200, true), &udp_v4(b"x")]),
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::MPLS);

    // Pseudowire: control word of zeros, then Ethernet with a VLAN tag.
    let inner = tagged_frame(&[0x8100], 0x0800, &udp_v4(b"x"));
    let frame = ethernet_frame(0x8847, &cat(&[&label(300, true), &[0, 0, 0, 0], &inner]));
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::MPLS | encap::VLAN, 1));

    // Neither IP nor a control word.
    let frame = ethernet_frame(0x8847, &cat(&[&label(300, true), &[0x12; 30]]));
    assert_eq!(eth_err(&frame), SkipReason::NotIp);
}

// --- IP ---------------------------------------------------------------------------------

#[test]
fn ipv4_options() {
    let mut header = Ipv4Header::new(0, TTL, IpNumber::UDP, CLIENT, SERVER).unwrap();
    header.options = [0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00].into(); // router alert, NOPs
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(IpHeaders::Ipv4(header, Default::default()))
            .udp(1000, 53),
        b"abc"
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!((p.ip_len, p.payload_len), (28 + 8 + 3, 3));
}

#[test]
fn malformed_ipv4() {
    let mut ip = udp_v4(b"x");
    ip[0] = 0x44; // IHL 4
    assert_eq!(
        eth_err(&ethernet_frame(0x0800, &ip)),
        SkipReason::MalformedIp
    );
    ip[0] = 0x55; // version 5
    assert_eq!(
        eth_err(&ethernet_frame(0x0800, &ip)),
        SkipReason::MalformedIp
    );
    // IPv6 ether type with a version-4 header.
    assert_eq!(
        eth_err(&ethernet_frame(0x86dd, &udp_v4(b"x"))),
        SkipReason::MalformedIp
    );
    // IHL 15 but a total length of 20 (corpus: ipv4-truncated-broken-header.pcap).
    let mut ip = udp_v4(b"x");
    ip[0] = 0x4f;
    ip[2..4].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(
        eth_err(&ethernet_frame(0x0800, &ip)),
        SkipReason::MalformedIp
    );
}

#[test]
fn ipv4_version_6_behind_ipv4_ethertype() {
    // tshark's IPv4 dissector hands a version-6 header to IPv6.
    assert_inner_udp_v6(&eth(&ethernet_frame(0x0800, &udp_v6(b"x"))));
}

#[test]
fn tso_total_length_zero() {
    let mut frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(1000, 80, 1, 100)
            .ack(5),
        &[7u8; 3000]
    );
    frame[16..18].copy_from_slice(&[0, 0]);
    // Captured 200 bytes of a 3054-byte frame.
    let p = decode(1, &frame[..200], frame.len() as u32).unwrap();
    assert_eq!(p.ip_len, 3040);
    assert_eq!(p.payload_len, 3000);
    assert!(p.truncated);
    assert!(matches!(
        p.transport,
        Transport::Tcp {
            sport: 1000,
            dport: 80,
            ..
        }
    ));
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(1000, 80, 1, 100)
            .ack(5),
        &[]
    );
    let bare = eth(&frame);
    frame.extend_from_slice(&[0xee; 6]); // padding to 60 bytes
    let p = eth(&frame);
    assert_eq!((p.payload_len, p.digest_len, p.digest), (0, 0, 0));
    assert_eq!(p, bare);
}

#[test]
fn ipv6_extension_header_chain() {
    let payload = cat(&[
        &ext_header(43, 0), // hop-by-hop -> routing
        &ext_header(60, 2), // routing (24 bytes) -> destination options
        &ext_header(51, 0), // destination options -> AH
        &[
            17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ], // AH (24 bytes) -> UDP
        &udp_bytes(1000, 53, b"abcd"),
    ]);
    let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 0, &payload));
    let p = eth(&frame);
    assert_inner_udp_v6(&p);
    assert_eq!(p.ip_len, 40 + payload.len() as u32);
    assert_eq!(p.payload_len, 4);
    assert_eq!(p.fragment, None);

    // ESP and No Next Header end the chain.
    for last in [50u8, 59] {
        let payload = cat(&[&ext_header(last, 0), &[0xab; 16]]);
        let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 0, &payload));
        let p = eth(&frame);
        assert_eq!(
            (p.ip_proto, p.transport, p.payload_len),
            (last, Transport::None, 16)
        );
    }
}

#[test]
fn ipv4_fragments() {
    let header = |offset_units: u16, more: bool| {
        let mut h = Ipv4Header::new(0, TTL, IpNumber::UDP, CLIENT, SERVER).unwrap();
        h.identification = 4242;
        h.more_fragments = more;
        h.fragment_offset = IpFragOffset::try_new(offset_units).unwrap();
        h
    };
    let first = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(IpHeaders::Ipv4(header(0, true), Default::default()))
            .udp(1000, 53),
        &[1; 16]
    );
    let p = eth(&first);
    assert_inner_udp_v4(&p);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 0,
            more: true,
            id: 4242
        })
    );
    assert_eq!(p.ip_id, 4242);

    let rest = build_ip!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(IpHeaders::Ipv4(header(3, false), Default::default())),
        17,
        &[2; 40]
    );
    let p = eth(&rest);
    assert_eq!((p.src, p.dst, p.ip_proto), (ip4(CLIENT), ip4(SERVER), 17));
    assert_eq!(p.transport, Transport::None);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 24,
            more: false,
            id: 4242
        })
    );
    assert_eq!((p.payload_len, p.digest_len), (40, 16));
}

#[test]
fn ipv6_fragments() {
    let first = cat(&[
        &fragment_header(17, 0, true, 0xdead_beef),
        &udp_bytes(1000, 53, &[1; 16]),
    ]);
    let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 44, &first));
    let p = eth(&frame);
    assert_inner_udp_v6(&p);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 0,
            more: true,
            id: 0xdead_beef
        })
    );
    assert_eq!(p.ip_id, 0xdead_beef);

    let rest = cat(&[&fragment_header(17, 24, false, 0xdead_beef), &[2; 40]]);
    let frame = ethernet_frame(
        0x86dd,
        &ipv6_carrying(CLIENT6, SERVER6, TTL, 0, &cat(&[&ext_header(44, 0), &rest])),
    );
    let p = eth(&frame);
    assert_eq!((p.ip_proto, p.transport), (17, Transport::None));
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 24,
            more: false,
            id: 0xdead_beef
        })
    );
    assert_eq!(p.payload_len, 40);
}

// --- transport --------------------------------------------------------------------------

#[test]
fn tcp_fields() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(40000, 443, 0x0102_0304, 1000)
            .syn()
            .ack(0x0a0b_0c0d),
        b"data!"
    );
    let p = eth(&frame);
    assert_eq!(
        p.transport,
        Transport::Tcp {
            sport: 40000,
            dport: 443,
            flags: tcp_flags::SYN | tcp_flags::ACK,
            seq: 0x0102_0304,
            ack: 0x0a0b_0c0d
        }
    );
    assert_eq!((p.ip_proto, p.payload_len, p.digest_len), (6, 5, 5));
}

#[test]
fn tcp_cut_by_snaplen() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(40000, 443, 9, 1000)
            .fin()
            .ack(1),
        &[0u8; 100]
    );
    let wire = frame.len() as u32;
    // Cut after 12 TCP bytes: ports, sequence and acknowledgement, no flags.
    let p = decode(1, &frame[..14 + 20 + 12], wire).unwrap();
    assert_eq!(
        p.transport,
        Transport::Tcp {
            sport: 40000,
            dport: 443,
            flags: 0,
            seq: 9,
            ack: 1
        }
    );
    assert!(p.truncated);
    assert_eq!((p.payload_len, p.digest_len), (100, 0));
    // Cut after 14 TCP bytes: flags are there.
    let p = decode(1, &frame[..14 + 20 + 14], wire).unwrap();
    assert!(
        matches!(p.transport, Transport::Tcp { flags, .. } if flags == tcp_flags::FIN | tcp_flags::ACK)
    );
    assert!(p.truncated);
    // Cut after 3 TCP bytes: no ports.
    let p = decode(1, &frame[..14 + 20 + 3], wire).unwrap();
    assert_eq!(
        (p.ip_proto, p.transport, p.truncated),
        (6, Transport::None, true)
    );
    // Cut before the addresses.
    assert_eq!(
        decode(1, &frame[..14 + 19], wire),
        Err(SkipReason::Truncated)
    );
    assert_eq!(
        decode(1, &frame[..14 + 2], wire),
        Err(SkipReason::Truncated)
    );
}

#[test]
fn tcp_options_cut_keep_ports_and_flags() {
    let mut frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(40000, 443, 9, 1000)
            .syn(),
        &[]
    );
    frame[14 + 20 + 12] = 0xa0; // 40-byte header: options not captured
    let p = decode(1, &frame, frame.len() as u32 + 20).unwrap();
    assert!(matches!(
        p.transport,
        Transport::Tcp {
            flags: tcp_flags::SYN,
            ..
        }
    ));
    assert!(p.truncated);
}

#[test]
fn echo_v4_and_v6() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .icmpv4_echo_request(0x1234, 7),
        b"ping payload"
    );
    let p = eth(&frame);
    assert_eq!(
        p.transport,
        Transport::Echo {
            v6: false,
            request: true,
            id: 0x1234,
            seq: 7
        }
    );
    assert_eq!((p.ip_proto, p.payload_len, p.digest_len), (1, 12, 12));

    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(SERVER, CLIENT, TTL)
            .icmpv4_echo_reply(0x1234, 7),
        b"ping payload"
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::Echo {
            v6: false,
            request: false,
            id: 0x1234,
            seq: 7
        }
    );

    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(CLIENT6, SERVER6, TTL)
            .icmpv6_echo_request(0xbeef, 1),
        b"ping6"
    );
    let p = eth(&frame);
    assert_eq!(
        p.transport,
        Transport::Echo {
            v6: true,
            request: true,
            id: 0xbeef,
            seq: 1
        }
    );
    assert_eq!(p.ip_proto, 58);
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(SERVER6, CLIENT6, TTL)
            .icmpv6_echo_reply(0xbeef, 1),
        b"ping6"
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::Echo {
            v6: true,
            request: false,
            id: 0xbeef,
            seq: 1
        }
    );
}

#[test]
fn icmp_cut_short() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .icmpv4_echo_request(0x1234, 7),
        b"ping"
    );
    // Identifier cut: no echo conversation can be named.
    let p = decode(1, &frame[..14 + 20 + 5], frame.len() as u32).unwrap();
    assert_eq!(
        p.transport,
        Transport::IcmpOther {
            v6: false,
            icmp_type: 8,
            code: 0
        }
    );
    assert!(p.truncated);
    // Checksum cut: tshark shows no type either.
    let p = decode(1, &frame[..14 + 20 + 3], frame.len() as u32).unwrap();
    assert_eq!(
        (p.ip_proto, p.transport, p.truncated),
        (1, Transport::None, true)
    );
}

#[test]
fn icmp_other() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(CLIENT6, SERVER6, 255)
            .icmpv6_raw(135, 0, [0; 4]),
        &SERVER6
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpOther {
            v6: true,
            icmp_type: 135,
            code: 0
        }
    );
    // Redirect is not an error here.
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(5, 1, SERVER),
        &udp_v4(b"x")[..28]
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpOther {
            v6: false,
            icmp_type: 5,
            code: 1
        }
    );
}

#[test]
fn icmp_error_quoting_udp() {
    let quoted = udp_v4(b"a dns query");
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(3, 3, [0; 4]),
        &quoted[..28]
    );
    let p = eth(&frame);
    assert_eq!((p.src, p.dst, p.ip_proto), (ip4(ROUTER), ip4(CLIENT), 1));
    let expected = Quoted {
        src: ip4(CLIENT),
        dst: ip4(SERVER),
        ip_proto: 17,
        sport: 1000,
        dport: 53,
    };
    assert_eq!(
        p.transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 3,
            code: 3,
            quoted: Some(expected)
        }
    );
    assert_eq!(p.encap, 0, "an ICMP error is not a tunnel");

    // Quote cut inside the UDP header: addresses only.
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(11, 0, [0; 4]),
        &quoted[..22]
    );
    let quoted_ports = Quoted {
        sport: 0,
        dport: 0,
        ..expected
    };
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 11,
            code: 0,
            quoted: Some(quoted_ports)
        }
    );
    // Quote cut before the addresses.
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(3, 1, [0; 4]),
        &quoted[..15]
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 3,
            code: 1,
            quoted: None
        }
    );
}

#[test]
fn icmp_error_quoting_echo() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(11, 0, [0; 4]),
        &echo_v4()[..28]
    );
    let expected = Quoted {
        src: ip4(CLIENT),
        dst: ip4(SERVER),
        ip_proto: 1,
        sport: 0x1234,
        dport: 0,
    };
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 11,
            code: 0,
            quoted: Some(expected)
        }
    );
}

#[test]
fn icmpv6_error_quoting_ipv6_with_hop_by_hop() {
    let quoted = ipv6_carrying(
        CLIENT6,
        SERVER6,
        TTL,
        0,
        &cat(&[&ext_header(17, 0), &udp_bytes(30000, 13000, b"payload")]),
    );
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(ROUTER6, CLIENT6, TTL)
            .icmpv6_raw(1, 4, [0; 4]),
        &quoted
    );
    let p = eth(&frame);
    let expected = Quoted {
        src: ip6(CLIENT6),
        dst: ip6(SERVER6),
        ip_proto: 17,
        sport: 30000,
        dport: 13000,
    };
    assert_eq!(
        p.transport,
        Transport::IcmpError {
            v6: true,
            icmp_type: 1,
            code: 4,
            quoted: Some(expected)
        }
    );
    assert_eq!((p.src, p.dst), (ip6(ROUTER6), ip6(CLIENT6)));
}

#[test]
fn other_protocols() {
    // IGMP
    let frame = cat(&[&ethernet_frame(
        0x0800,
        &build_ip!(
            PacketBuilder::ipv4(CLIENT, [224, 0, 0, 1], 1),
            2,
            &[0x11, 0, 0, 0, 0, 0, 0, 0]
        ),
    )]);
    let p = eth(&frame);
    assert_eq!(
        (p.ip_proto, p.transport, p.payload_len, p.digest_len),
        (2, Transport::None, 8, 8)
    );
}

#[test]
fn digest_covers_first_16_payload_bytes() {
    let packet = |payload: &[u8]| {
        eth(&build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(CLIENT, SERVER, TTL)
                .udp(1000, 53),
            payload
        ))
    };
    let a = packet(b"0123456789abcdef-tail-one");
    let b = packet(b"0123456789abcdef-other-tail");
    let c = packet(b"0123456789abcdeX");
    assert_eq!((a.digest, a.digest_len), (b.digest, 16));
    assert_ne!(a.digest, c.digest);
    let short = packet(b"abc");
    assert_eq!(short.digest_len, 3);
    assert_ne!(short.digest, 0);
    assert_ne!(
        packet(b"ab").digest,
        packet(b"ab\0").digest,
        "the length counts"
    );
    let empty = packet(b"");
    assert_eq!((empty.digest, empty.digest_len), (0, 0));
}

// --- tunnels ----------------------------------------------------------------------------

#[test]
fn ip_in_ip() {
    // 4in4
    let p = eth(&ethernet_frame(0x0800, &in_ipv4(4, &udp_v4(b"x"))));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::IP_IN_IP);
    // 4in6
    let p = eth(&ethernet_frame(0x86dd, &in_ipv6(4, &udp_v4(b"x"))));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::IP_IN_IP);
    // 6in4
    let p = eth(&ethernet_frame(0x0800, &in_ipv4(41, &udp_v6(b"x"))));
    assert_inner_udp_v6(&p);
    // 6in6 behind a routing header (SRv6 style)
    let p = eth(&ethernet_frame(
        0x86dd,
        &in_ipv6(43, &cat(&[&ext_header(41, 0), &udp_v6(b"x")])),
    ));
    assert_inner_udp_v6(&p);
    assert_eq!(p.encap, encap::IP_IN_IP);
}

#[test]
fn ip_in_ip_with_broken_inner_falls_back_to_outer() {
    let p = eth(&ethernet_frame(0x0800, &in_ipv4(4, &[0x45, 0, 0])));
    assert_eq!(
        (p.src, p.dst, p.ip_proto, p.ttl),
        (ip4(VTEP_A), ip4(VTEP_B), 4, OUTER_TTL)
    );
    assert_eq!((p.transport, p.encap), (Transport::None, 0));
}

#[test]
fn gre_variants() {
    let ip = udp_v4(b"x");
    // Plain GRE carrying IPv4.
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0, 0x0800, &[], &ip)),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GRE);
    // Checksum, key and sequence number present.
    let fields = [0u8; 12];
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0xb000, 0x0800, &fields, &ip)),
    ));
    assert_inner_udp_v4(&p);
    // IPv6 payload over an IPv6 outer header.
    let p = eth(&ethernet_frame(
        0x86dd,
        &in_ipv6(47, &gre(0x2000, 0x86dd, &[0; 4], &udp_v6(b"x"))),
    ));
    assert_inner_udp_v6(&p);
    // Transparent Ethernet bridging, with a VLAN tag inside.
    let inner = tagged_frame(&[0x8100], 0x0800, &ip);
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x2000, 0x6558, &[0; 4], &inner)),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::GRE | encap::VLAN, 1));
    // Cisco metadata (the ether type first, as in corpus various_gre.pcap).
    let cmd = cat(&[&[0x08, 0x00, 1, 1, 0, 1, 0, 0], &ip]);
    assert_inner_udp_v4(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x2000, 0x8909, &[0; 4], &cmd)),
    )));
    // RFC 1701 routing: one source route entry then the terminator.
    let sre = [0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0];
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x4000, 0x0800, &cat(&[&[0; 4], &sre]), &ip)),
    ));
    assert_inner_udp_v4(&p);
}

#[test]
fn erspan() {
    let mirrored = ethernet_frame(0x0800, &echo_v4());
    let expect = |p: &Packet| {
        assert_eq!((p.src, p.dst), (ip4(CLIENT), ip4(SERVER)));
        assert_eq!(
            p.transport,
            Transport::Echo {
                v6: false,
                request: true,
                id: 0x1234,
                seq: 7
            }
        );
        assert_eq!(p.encap, encap::GRE | encap::ERSPAN);
    };
    // Type II: GRE sequence number, 8-byte ERSPAN header.
    let erspan2 = cat(&[&[0x10, 0x17, 0x08, 0x64, 0, 0, 0, 0], &mirrored]);
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x1000, 0x88be, &[0, 0, 7, 4], &erspan2)),
    )));
    // Type I: no sequence number, no ERSPAN header.
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0, 0x88be, &[], &mirrored)),
    )));
    // Type III with the optional platform subheader (O bit).
    let erspan3 = cat(&[
        &[0x20, 0x17, 0x00, 0x64, 1, 2, 3, 4, 0, 0, 0, 0x01],
        &[0; 8],
        &mirrored,
    ]);
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x1000, 0x22eb, &[0; 4], &erspan3)),
    )));
    let erspan3 = cat(&[&[0x20, 0x17, 0x00, 0x64, 1, 2, 3, 4, 0, 0, 0, 0], &mirrored]);
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x1000, 0x22eb, &[0; 4], &erspan3)),
    )));
}

#[test]
fn pptp_enhanced_gre() {
    // Version 1, key (payload length + call id) and sequence number present.
    let fields = |len: usize| cat(&[&(len as u16).to_be_bytes(), &[0, 1], &[0, 0, 0, 9]]);
    let ppp_ip = cat(&[&[0xff, 0x03, 0x00, 0x21], &udp_v4(b"x")]);
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x3001, 0x880b, &fields(ppp_ip.len()), &ppp_ip)),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GRE);
    // PPP LCP: no inner IP, the outer GRE packet is the packet (corpus pptp.pcap).
    let lcp = [0xff, 0x03, 0xc0, 0x21, 1, 0, 0, 4];
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x3001, 0x880b, &fields(lcp.len()), &lcp)),
    ));
    assert_eq!(
        (p.src, p.dst, p.ip_proto, p.transport),
        (ip4(VTEP_A), ip4(VTEP_B), 47, Transport::None)
    );
    assert_eq!(p.encap, 0);
}

#[test]
fn gre_keepalive_is_the_inner_gre_packet() {
    // A keepalive: GRE carrying an IPv4 header back to the sender, itself carrying an empty
    // GRE header (protocol 0). tshark shows the inner IP with protocol 47.
    let back = build_ip!(
        PacketBuilder::ipv4(VTEP_B, VTEP_A, 255),
        47,
        &gre(0, 0, &[], &[])
    );
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0, 0x0800, &[], &back)),
    ));
    assert_eq!(
        (p.src, p.dst, p.ip_proto, p.transport),
        (ip4(VTEP_B), ip4(VTEP_A), 47, Transport::None)
    );
    assert_eq!(p.encap, encap::GRE);
}

#[test]
fn vxlan_on_both_ports() {
    let inner = ethernet_frame(0x0800, &echo_v4());
    for port in [4789, 8472] {
        let p = eth(&in_udp(39924, port, &vxlan(&inner)));
        assert_eq!((p.src, p.dst), (ip4(CLIENT), ip4(SERVER)));
        assert_eq!(
            p.transport,
            Transport::Echo {
                v6: false,
                request: true,
                id: 0x1234,
                seq: 7
            }
        );
        assert_eq!(p.encap, encap::VXLAN);
        assert_eq!(p.ttl, TTL);
    }
    // The lower port is tried first: a reply from 4789 to an ephemeral port is VXLAN too.
    assert_eq!(
        eth(&in_udp(4789, 50000, &vxlan(&inner))).encap,
        encap::VXLAN
    );
}

#[test]
fn vxlan_carrying_arp_falls_back_to_outer_udp() {
    let p = eth(&in_udp(39924, 4789, &vxlan(&arp_frame())));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 39924, 4789);
    assert_eq!((p.encap, p.ttl), (0, OUTER_TTL));
    // VXLAN header cut short: same.
    let p = eth(&in_udp(39924, 4789, &[0x08, 0, 0]));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 39924, 4789);
}

#[test]
fn geneve() {
    let ip = udp_v4(b"x");
    // 8 bytes of options, transparent Ethernet.
    let header = [0x02, 0x00, 0x65, 0x58, 0, 0, 42, 0];
    let p = eth(&in_udp(
        50000,
        6081,
        &cat(&[&header, &[0; 8], &ethernet_frame(0x0800, &ip)]),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GENEVE);
    // No options, IPv4 directly.
    let header = [0x00, 0x00, 0x08, 0x00, 0, 0, 42, 0];
    assert_inner_udp_v4(&eth(&in_udp(50000, 6081, &cat(&[&header, &ip]))));
}

#[test]
fn teredo() {
    let ip6 = udp_v6(b"x");
    let p = eth(&in_udp(3544, 50000, &ip6));
    assert_inner_udp_v6(&p);
    assert_eq!(p.encap, encap::TEREDO);
    // Origin indication.
    let origin = [0, 0, 0x12, 0x34, 1, 2, 3, 4];
    assert_inner_udp_v6(&eth(&in_udp(3544, 50000, &cat(&[&origin, &ip6]))));
    // Authentication (client id 2 bytes, no auth value) then origin indication.
    let auth = [0, 1, 2, 0, 0xaa, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    assert_inner_udp_v6(&eth(&in_udp(50000, 3544, &cat(&[&auth, &origin, &ip6]))));
    // A well-known lower port wins (DNS from port 3544 is DNS), even if it looks like IPv6.
    let p = eth(&in_udp(3544, 53, &ip6));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 3544, 53);
    // Not IPv6 inside: the outer UDP datagram.
    let p = eth(&in_udp(50000, 3544, b"not ipv6 at all"));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 50000, 3544);
}

#[test]
fn gtp_u() {
    let ip = udp_v4(b"x");
    let header = cat(&[
        &[0x30, 0xff],
        &(ip.len() as u16).to_be_bytes(),
        &[0, 0, 0, 1],
    ]);
    let p = eth(&in_udp(2152, 2152, &cat(&[&header, &ip])));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GTP);
    // Extension header flag, one PDU session container (4 bytes), then none.
    let header = cat(&[
        &[0x34, 0xff, 0, 0, 0, 0, 0, 1],
        &[0, 0, 0, 0x85],
        &[1, 0x10, 0x09, 0x00],
    ]);
    assert_inner_udp_v4(&eth(&in_udp(2152, 2152, &cat(&[&header, &ip]))));
    // Echo request (type 1): no user packet.
    let header = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_eq!(eth(&in_udp(2152, 2152, &header)).encap, 0);
}

// --- bounds and robustness -----------------------------------------------------------------

#[test]
fn two_thousand_vlan_tags() {
    let tpids = vec![0x8100u16; 2000];
    let frame = tagged_frame(&tpids, 0x0800, &udp_v4(b"x"));
    assert_eq!(eth_err(&frame), SkipReason::NotIp);
    // Within the cap it decodes.
    let frame = tagged_frame(&[0x8100; MAX_TAGS], 0x0800, &udp_v4(b"x"));
    assert_eq!(eth(&frame).vlan_count, MAX_TAGS as u8);
}

#[test]
fn deeply_nested_tunnels_are_bounded() {
    // 200 IPv4-in-IPv4 headers around a UDP packet.
    let mut packet = udp_v4(b"x");
    for _ in 0..200 {
        packet = in_ipv4(4, &packet);
    }
    let p = eth(&ethernet_frame(0x0800, &packet));
    assert_eq!(
        (p.ip_proto, p.transport, p.encap),
        (4, Transport::None, encap::IP_IN_IP)
    );

    // GRE in GRE in GRE ...
    let mut packet = udp_v4(b"x");
    for _ in 0..200 {
        packet = in_ipv4(47, &gre(0, 0x0800, &[], &packet));
    }
    let p = eth(&ethernet_frame(0x0800, &packet));
    assert_eq!((p.ip_proto, p.encap), (47, encap::GRE));

    // VXLAN in VXLAN: the frame grows, the decoder stops at the depth cap.
    let mut frame = ethernet_frame(0x0800, &udp_v4(b"x"));
    for _ in 0..30 {
        frame = in_udp(40000, 4789, &vxlan(&frame));
    }
    let p = eth(&frame);
    assert_eq!((p.ip_proto, p.encap), (17, encap::VXLAN));

    // MPLS pseudowire in MPLS pseudowire ...
    let mut frame = ethernet_frame(0x0800, &udp_v4(b"x"));
    for _ in 0..100 {
        frame = ethernet_frame(0x8847, &cat(&[&[0, 1, 0x01, 64], &[0; 4], &frame]));
    }
    assert_eq!(eth_err(&frame), SkipReason::NotIp);

    // A label stack that never ends.
    let frame = ethernet_frame(0x8847, &[0, 1, 0, 64].repeat(1000));
    assert_eq!(eth_err(&frame), SkipReason::NotIp);
}

#[test]
fn long_ipv6_extension_chain_is_bounded() {
    let mut chain = Vec::new();
    for _ in 0..1000 {
        chain.extend_from_slice(&ext_header(60, 0));
    }
    chain.extend_from_slice(&udp_bytes(1, 2, b"x"));
    let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 60, &chain));
    let p = eth(&frame);
    assert_eq!((p.ip_proto, p.transport), (60, Transport::None));
}

/// Frames exercising most decoding paths, for the robustness loops.
fn sample_frames() -> Vec<Vec<u8>> {
    let ip = udp_v4(b"some udp payload");
    let label = [0, 1, 0x01, 64];
    let lcp = [0xff, 0x03, 0xc0, 0x21, 1, 0, 0, 4];
    let erspan3 = cat(&[
        &[0x20, 0x17, 0x00, 0x64, 1, 2, 3, 4, 0, 0, 0, 0x01],
        &[0; 8],
    ]);
    vec![
        build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(CLIENT, SERVER, TTL)
                .tcp(1, 2, 3, 4)
                .syn(),
            b"tcp data"
        ),
        build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv6(CLIENT6, SERVER6, TTL)
                .icmpv6_echo_request(1, 2),
            b"ping"
        ),
        build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(ROUTER, CLIENT, TTL)
                .icmpv4_raw(3, 3, [0; 4]),
            &ip
        ),
        tagged_frame(&[0x88a8, 0x8100, 0x8100], 0x0800, &ip),
        ethernet_frame(
            0x8847,
            &cat(&[&label, &[0; 4], &ethernet_frame(0x0800, &ip)]),
        ),
        ethernet_frame(0x8864, &cat(&[&[0x11, 0, 0, 1, 0, 40, 0, 0x21], &ip])),
        ethernet_frame(
            0x0800,
            &in_ipv4(
                47,
                &gre(0xb000, 0x6558, &[0; 12], &ethernet_frame(0x0800, &ip)),
            ),
        ),
        ethernet_frame(
            0x0800,
            &in_ipv4(
                47,
                &gre(
                    0x1000,
                    0x22eb,
                    &[0; 4],
                    &cat(&[&erspan3, &ethernet_frame(0x0800, &ip)]),
                ),
            ),
        ),
        ethernet_frame(0x0800, &in_ipv4(47, &gre(0x3081, 0x880b, &[0; 12], &lcp))),
        ethernet_frame(
            0x86dd,
            &in_ipv6(
                0,
                &cat(&[&ext_header(44, 0), &fragment_header(4, 0, false, 1), &ip]),
            ),
        ),
        in_udp(1, 4789, &vxlan(&ethernet_frame(0x0800, &ip))),
        in_udp(
            1,
            6081,
            &cat(&[
                &[0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0],
                &ethernet_frame(0x0800, &ip),
            ]),
        ),
        in_udp(
            3544,
            1,
            &cat(&[&[0, 1, 1, 1, 9, 9], &[0; 9], &[0; 8], &udp_v6(b"x")]),
        ),
        in_udp(
            2152,
            1,
            &cat(&[
                &[0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0],
                &ip,
            ]),
        ),
    ]
}

use crate::test_rng::Rng;

const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 999];

fn check_invariants(result: Result<Packet, SkipReason>) {
    if let Ok(p) = result {
        assert!(p.digest_len <= 16);
        if p.digest_len == 0 {
            assert_eq!(p.digest, 0);
        }
    }
}

#[test]
fn every_prefix_of_every_sample_decodes_without_panic() {
    for frame in sample_frames() {
        // Whole, it is a packet.
        assert!(
            decode(1, &frame, frame.len() as u32).is_ok(),
            "{frame:02x?}"
        );
        for len in 0..=frame.len() {
            for link in LINK_TYPES {
                check_invariants(decode(link, &frame[..len], frame.len() as u32));
                check_invariants(decode(link, &frame[len..], 0));
            }
        }
    }
}

#[test]
fn random_and_mutated_bytes_decode_without_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = [0u8; 256];
    for _ in 0..20_000 {
        let len = (rng.next() % 256) as usize;
        for b in buf.iter_mut().take(len) {
            *b = rng.next() as u8;
        }
        // Bias towards plausible starts so that deeper layers are reached too.
        if rng.next().is_multiple_of(2) && len > 20 {
            buf[12..14].copy_from_slice(&[0x08, 0x00]);
            buf[14] = 0x45;
        }
        for link in LINK_TYPES {
            check_invariants(decode(link, &buf[..len], rng.next() as u32));
        }
    }
    let samples = sample_frames();
    for round in 0..20_000 {
        let mut frame = samples[round % samples.len()].clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % frame.len();
            frame[at] = rng.next() as u8;
        }
        check_invariants(decode(1, &frame, frame.len() as u32));
    }
}

// --- corpus cross-check -------------------------------------------------------------------

mod corpus {
    //! Decodes some corpus captures with a minimal classic-pcap reader (the capture module
    //! is not used here) and compares the flow keys, packet counts and IP bytes with the
    //! tshark oracle in `../shared/corpus/expected` (see `../shared/corpus/ORACLE.md`).

    use super::super::{decode, Packet, Transport};
    use std::collections::BTreeMap;
    use std::net::IpAddr;
    use std::path::{Path, PathBuf};

    fn corpus_dir() -> PathBuf {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
        assert!(
            dir.join("files").is_dir() && dir.join("expected").is_dir(),
            "the corpus cross-check needs ../shared (shared/corpus/files and shared/corpus/expected \
             beside the crate); {} is missing",
            dir.display()
        );
        dir.to_path_buf()
    }

    /// (link type, frames as (bytes, wire length)) of a classic pcap file (µs or ns, either
    /// byte order).
    fn read_pcap(path: &Path) -> (u32, Vec<(Vec<u8>, u32)>) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
        let le = match magic {
            0xa1b2_c3d4 | 0xa1b2_3c4d => true,
            0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
            _ => panic!("{}: not a classic pcap file", path.display()),
        };
        let u32_at = |at: usize| {
            let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        };
        let link_type = u32_at(20) & 0x0fff_ffff;
        let mut frames = Vec::new();
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let (caplen, wire) = (u32_at(at + 8) as usize, u32_at(at + 12));
            let data = &bytes[at + 16..(at + 16 + caplen).min(bytes.len())];
            frames.push((data.to_vec(), wire));
            at += 16 + caplen;
        }
        (link_type, frames)
    }

    fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
        match (addr, port) {
            (IpAddr::V4(a), Some(p)) => format!("{a}:{p}"),
            (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
            (a, None) => a.to_string(),
        }
    }

    /// The oracle's flow key of a packet: proto, the two endpoints (sorted as text) and the
    /// echo identifier, ICMP type/code or IP protocol.
    fn key(p: &Packet) -> String {
        let icmp = |v6: bool| if v6 { "icmpv6" } else { "icmp" };
        let (proto, ports, extra) = match p.transport {
            Transport::Tcp { sport, dport, .. } => ("tcp", Some((sport, dport)), String::new()),
            Transport::Udp { sport, dport } => ("udp", Some((sport, dport)), String::new()),
            Transport::Echo { v6, id, .. } => (icmp(v6), None, format!("ident={id}")),
            Transport::IcmpError {
                v6,
                icmp_type,
                code,
                ..
            }
            | Transport::IcmpOther {
                v6,
                icmp_type,
                code,
            } => (icmp(v6), None, format!("type={icmp_type}/{code}")),
            Transport::None => match p.ip_proto {
                6 => ("tcp", None, String::new()),
                17 => ("udp", None, String::new()),
                1 => ("icmp", None, "type=null/null".to_string()),
                58 => ("icmpv6", None, "type=null/null".to_string()),
                n => ("other", None, format!("ip_proto={n}")),
            },
        };
        let mut ends = [
            endpoint(p.src, ports.map(|(s, _)| s)),
            endpoint(p.dst, ports.map(|(_, d)| d)),
        ];
        ends.sort();
        format!("{proto} {} {} {extra}", ends[0], ends[1])
    }

    fn oracle_key(row: &serde_json::Value) -> String {
        let proto = row["proto"].as_str().unwrap();
        let mut ends = [
            row["a"].as_str().unwrap().to_string(),
            row["b"].as_str().unwrap().to_string(),
        ];
        ends.sort();
        let num = |k: &str| row.get(k).map_or("null".to_string(), |v| v.to_string());
        let extra = match proto {
            "tcp" | "udp" => String::new(),
            "other" => format!("ip_proto={}", num("ip_proto")),
            _ if row.get("ident").is_some() => format!("ident={}", num("ident")),
            _ => format!("type={}/{}", num("icmp_type"), num("icmp_code")),
        };
        format!("{proto} {} {} {extra}", ends[0], ends[1])
    }

    /// key -> (packets, IP bytes)
    type Table = BTreeMap<String, (u64, u64)>;

    fn ours(file: &str) -> Table {
        let (link_type, frames) = read_pcap(&corpus_dir().join("files").join(file));
        let mut table = Table::new();
        for (data, wire) in frames {
            if let Ok(p) = decode(link_type, &data, wire) {
                let entry = table.entry(key(&p)).or_default();
                entry.0 += 1;
                entry.1 += u64::from(p.ip_len);
            }
        }
        table
    }

    fn oracle(file: &str) -> Table {
        let path = corpus_dir()
            .join("expected")
            .join(format!("{file}.flows.jsonl"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut table = Table::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let n = |k: &str| row[k].as_u64().unwrap_or(0);
            table.insert(
                oracle_key(&row),
                (
                    n("packets_ab") + n("packets_ba"),
                    n("ip_bytes_ab") + n("ip_bytes_ba"),
                ),
            );
        }
        table
    }

    /// Classic pcap files of the corpus left out of the comparison, and why.
    const NOT_COMPARED: [(&str, &str); 6] = [
        (
            "fragmented-1.pcap",
            "tshark reassembles IPv4 fragments (the flow stage's job)",
        ),
        (
            "fragmented-syn.pcap",
            "tshark reassembles IPv4 fragments (the flow stage's job)",
        ),
        (
            "ipv6-fragmented-dns.pcap",
            "tshark reassembles IPv6 fragments (the flow stage's job)",
        ),
        (
            "modified-format.pcap",
            "Kuznetzov pcap magic: not read by this test's reader",
        ),
        ("pcap-invalid-version-1.pcap", "tshark refuses the file"),
        (
            "suricata_bug-6875-01_fuzz.pcap",
            "broken record lengths: tshark reads it differently",
        ),
    ];

    #[test]
    fn flows_match_the_tshark_oracle() {
        let mut files: Vec<String> = std::fs::read_dir(corpus_dir().join("files"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".pcap") && !NOT_COMPARED.iter().any(|(n, _)| n == f))
            .collect();
        files.sort();
        // The tunnels, link types and ICMP errors this module must agree with tshark on.
        for needed in [
            "vxlan.pcap",
            "geneve.pcap",
            "gre-sample.pcap",
            "erspanII.pcap",
            "4in4.pcap",
            "4in6.pcap",
            "6in4.pcap",
            "linux_dlt_sll2.pcap",
            "test_loopback.pcap",
            "vlan-qinqinq.pcap",
            "pppoe.pcap",
            "ipv6_ext_headers.pcap",
            "icmp-destunreach-udp.pcap",
        ] {
            assert!(
                files.iter().any(|f| f == needed),
                "corpus file {needed} is missing"
            );
        }
        let mut failures = Vec::new();
        for file in &files {
            let (ours, oracle) = (ours(file), oracle(file));
            if ours != oracle {
                failures.push(format!("{file}:\n  ours:   {ours:?}\n  oracle: {oracle:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn vxlan_inner_echo_and_arp_fallback() {
        let (link_type, frames) = read_pcap(&corpus_dir().join("files/vxlan.pcap"));
        let packets: Vec<Packet> = frames
            .iter()
            .filter_map(|(d, w)| decode(link_type, d, *w).ok())
            .collect();
        assert_eq!(packets.len(), 10);
        let echo: Vec<&Packet> = packets
            .iter()
            .filter(|p| matches!(p.transport, Transport::Echo { .. }))
            .collect();
        assert_eq!(echo.len(), 8);
        let first = echo[0];
        assert_eq!(first.src.to_string(), "10.0.0.1");
        assert_eq!(first.dst.to_string(), "10.0.0.2");
        assert!(matches!(
            first.transport,
            Transport::Echo {
                request: true,
                id: 3389,
                ..
            }
        ));
        assert_eq!(first.encap, super::encap::VXLAN);
        // The two ARP-carrying frames are the outer UDP/4789 datagrams.
        let outer: Vec<&Packet> = packets.iter().filter(|p| p.encap == 0).collect();
        assert_eq!(outer.len(), 2);
        assert!(outer.iter().all(|p| matches!(
            p.transport,
            Transport::Udp { sport: 4789, .. } | Transport::Udp { dport: 4789, .. }
        )));
    }

    #[test]
    fn icmp_error_quote_matches_the_oracle() {
        let (link_type, frames) = read_pcap(&corpus_dir().join("files/icmp-destunreach-udp.pcap"));
        let p = decode(link_type, &frames[0].0, frames[0].1).unwrap();
        let Transport::IcmpError {
            quoted: Some(q), ..
        } = p.transport
        else {
            panic!("not an ICMP error with a quote: {p:?}");
        };
        // Oracle: "udp 192.168.1.1:53>192.168.1.102:59207"
        assert_eq!(
            (
                q.ip_proto,
                q.src.to_string(),
                q.sport,
                q.dst.to_string(),
                q.dport
            ),
            (
                17,
                "192.168.1.1".to_string(),
                53,
                "192.168.1.102".to_string(),
                59207
            )
        );
    }
}
