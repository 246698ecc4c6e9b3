//! Unit tests of the decoder: packets built with etherparse's `PacketBuilder` (tunnels are
//! the inner packet wrapped by the small helpers below), robustness loops, and a cross-check
//! against tshark's flow table for some corpus files (`../shared/corpus`), one file per layer;
//! this file holds the shared packet builders.

use super::*;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpFragOffset, IpHeaders, IpNumber,
    Ipv4Header, LinuxSllPacketType, PacketBuilder, VlanId,
};
use std::net::IpAddr;
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
    crate::testkit::ethernet(MAC_B, MAC_A, ethertype, payload)
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
use crate::testkit::udp_bytes;

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

// The layer files come after the macros above, which they use.
mod bounds;
mod corpus;
mod ip;
mod link;
mod transport;
mod tunnel;
