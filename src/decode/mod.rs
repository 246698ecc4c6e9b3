//! decode: turns a captured frame into a [`Packet`]: the few header fields the later stages
//! need, read laxly.
//!
//! Owns link layers (Ethernet, Linux SLL/SLL2, raw IP, BSD null/loopback; stacked 802.1Q and
//! 802.1ad tags), IPv4 (with options) and IPv6 (with extension headers), TCP, UDP, ICMP and
//! ICMPv6, and tunnels (VXLAN on 4789 and 8472, GENEVE, GRE and ERSPAN, IP-in-IP, 6in4, 4in6,
//! ...): the packet is described by its inner-most IP header, the tunnels are kept as context.
//! A packet cut by snaplen still yields whatever key fields were captured. Decoding never
//! allocates and never fails the whole packet for a problem past the fields it could read.
//!
//! Layout, one file per layer, each naming its header's byte offsets: `packet` (the output
//! types), `link` (LINKTYPE to the first IP header: Ethernet, tags, PPPoE/PPP, MPLS, SLL,
//! SLL2, null/loop), `ipv4`, `ipv6` (with the extension header chain), `tcp`, `udp`, `icmp`
//! (with the quoted packet of errors), `digest`, `tunnel/` (one file per tunnel kind), and
//! the small shared pieces: `layer` (what one layer hands the next), `bytes` (bounds-checked
//! readers), `numbers` (IP protocols, ether types). The layers never call each other: each
//! returns what comes next, and [`decode`] below runs them in a loop (link -> IP -> transport
//! -> tunnel -> link ...), ended by the tunnel depth bound (`Ctx::deeper`, 8 tunnels).
//!
//! **Hand-written, not etherparse (measured 2026-12-03).** etherparse 0.21's
//! `LaxSlicedPacket::from_ethernet` (the card's crate, its lax zero-copy slicer) was tried for
//! the link, IP and transport headers of the common frames (Ethernet, VLAN tags, IPv4 without
//! options, IPv6 without extension headers, TCP, UDP, ICMP/ICMPv6 echo), everything else
//! (tunnels, other link types, fragments, ICMP errors, TSO lengths, cut frames) falling back to
//! this decoder. On a `shared/bench/gen` capture (seed 3, 40,103 frames, 23 MB; packets ~60 %
//! TCP, ~30 % UDP, ~10 % ICMP; 10 % of flows IPv6, 5 % VLAN-tagged) it gave the same `Packet` for every frame (and for all
//! 376,458 frames of a 214 MB seed-1 capture) with no fallback, but decoding took 31.4 M
//! instructions against 15.4 M here (valgrind callgrind, inclusive cost of the decode call,
//! 2.04x); read+decode wall time on the 214 MB capture, 5 alternating runs each on the shared
//! 2-core machine: 0.058-0.088 s (median 0.064) here, 0.078-0.119 s (median 0.093) with
//! etherparse (+45 %). It slices and checks every layer into general-purpose slice types,
//! and flowcheck would still need this code for the tshark rules above (TSO lengths, null
//! byte order, SLL netlink, ERSPAN, ...), so the decoder stays hand-written; etherparse builds
//! the unit tests' packets. (The experiment, not kept: an example calling both decoders on
//! every frame of a capture, comparing their `Packet`s, timed alone per decoder.) The split into one file per layer
//! costs little: read+decode of the 40,103-frame capture is 22.30 M instructions against
//! 21.56 M for the single-file recursive decoder it replaced (whole program +0.9 %), the
//! hot readers being `#[inline(always)]` so that the common path compiles into one function.
//!
//! Decisions (they follow what tshark 4.0 shows, see `shared/corpus/ORACLE.md`):
//! - **Which IP header.** The inner-most one that decodes. A tunnel whose payload holds no
//!   usable IP (VXLAN carrying ARP, a GRE keepalive's empty inner GRE, PPTP's PPP LCP, an inner
//!   header cut before its addresses) falls back to the inner-most IP header that does
//!   decode: the outer UDP/4789 datagram, or an `ip_proto` 47 packet with `Transport::None`.
//!   `encap` then holds only the layers in front of *that* header.
//! - **ICMP errors are not tunnels**: the ICMP message is the packet, the IP header and first
//!   8 transport bytes it quotes go to `Transport::IcmpError::quoted`.
//! - **Tunnels recognised**: IP protocols 4 and 41; GRE (versions 0 and 1, checksum, key,
//!   sequence, ack and RFC 1701 routing fields; payloads IPv4/IPv6/MPLS, transparent Ethernet
//!   0x6558, ERSPAN II 0x88be (type I when GRE has no sequence number), ERSPAN III 0x22eb,
//!   PPTP's PPP 0x880b, Cisco metadata 0x8909); UDP ports VXLAN 4789 and 8472 (tshark decodes
//!   only 4789), VXLAN-GPE 4790, GENEVE 6081, Teredo 3544, GTP-U 2152, GRE-in-UDP 4754 and
//!   MPLS-in-UDP 6635. The lower of the two UDP ports is tried first, as tshark does; the
//!   higher one only when the lower one is not a well-known port (>= 1024), where tshark would
//!   have used the lower port's dissector.
//!   An IP packet that is a fragment (MF set or offset > 0) is never decoded as a tunnel, so
//!   that all fragments of one datagram describe the same (outer) flow.
//! - **Link layers**: Ethernet (802.1Q/802.1ad/0x9100 tags, 802.3 + LLC/SNAP), PPPoE session,
//!   MPLS (pop to the bottom of stack; payload nibble 4/6 is IP, nibble 0 is a pseudowire
//!   control word followed by Ethernet), Linux SLL and SLL2, raw IP (version nibble decides,
//!   also for LINKTYPE_IPV4 228 as tshark does), BSD null (either byte order) and loop.
//! - **Lengths.** IPv4 total length 0 is TCP segmentation offload: the IP packet is taken to
//!   run to the end of the frame as on the wire (tshark's `ip.tso_support`); likewise an IPv6
//!   payload length of 0 with a hop-by-hop header (jumbogram, big TSO). The transport is
//!   bounded by the IP length (Ethernet padding ignored). `payload_len` is what the headers
//!   say; `truncated` is set when fewer bytes were captured than the IP header says, or when
//!   the transport header was cut.
//! - **Cut transport headers**: TCP/UDP give their ports when the first 4 bytes are there
//!   (TCP flags, sequence and acknowledgement are 0 when cut); ICMP needs type, code and
//!   checksum (4 bytes), an echo its identifier (6 bytes; else it is `IcmpOther`). Fewer bytes:
//!   `Transport::None` with `ip_proto` set, and `truncated`.
//! - **Fragments**: a non-first fragment (offset > 0) has `Transport::None`; the first
//!   fragment gives its transport header.
//! - **IPv6 extension headers** skipped: hop-by-hop, routing, fragment, destination options,
//!   AH, mobility, shim6 (and HIP/experimental ones are not: they end the chain). `ip_proto` is
//!   the header that ends the chain (ESP 50 and No Next Header 59 included).
//! - **Digest**: a 64-bit multiply-xorshift hash of the first `min(16, captured)` bytes of
//!   the payload after the last decoded header: the TCP/UDP payload, the echo data, the quoted
//!   packet of an ICMP error, the body after the 8-byte header of other ICMP messages, and
//!   the whole IP payload when there is no transport (other protocols, non-first fragments).
//!   Captured bytes past the IP length (padding) never count.
//! - **Bounds** (no input can make decoding loop long or recurse deep): 8 VLAN/metadata tags
//!   (past that: `NotIp`), 16 MPLS labels (`NotIp`), 8 nested tunnels (past that the
//!   inner-most IP reached so far is the packet), 128 IPv6 extension headers (past that the
//!   chain stops there, `Transport::None`), 8 GRE routing entries, 8 GTP extension headers.
//!   `vlan_count` counts the tags of every layer in front of the IP header (an inner Ethernet's
//!   too) and saturates at 255; the QINQ bit is set for a second tag or an 802.1ad/0x9100 one.
//! - **Skip reasons**: `Truncated` when the frame ends before the IP addresses, `MalformedIp`
//!   for a wrong version nibble, IHL < 5 or a total length below the header length (tshark
//!   shows no addresses for those either), `NotIp` for everything else that holds no IP.

mod bytes;
mod digest;
mod icmp;
mod ipv4;
mod ipv6;
mod layer;
mod link;
mod numbers;
mod packet;
mod tcp;
mod tunnel;
mod udp;

#[cfg(test)]
mod tests;

pub use packet::{encap, tcp_flags, Fragment, Packet, Quoted, SkipReason, Transport};

use std::net::{IpAddr, Ipv4Addr};

use bytes::{byte, OrTruncated};
use layer::{Ctx, Ip, IpPayload};
pub use numbers::proto;

/// Decodes one frame of the given LINKTYPE_*.
///
/// `wire_len` is the frame's original length; it only matters for an IPv4 total length of 0
/// (TCP segmentation offload), where the IP packet is taken to run to the end of the frame.
pub fn decode(link_type: u32, data: &[u8], wire_len: u32) -> Result<Packet, SkipReason> {
    let captured = bytes::len_u32(data);
    let mut ctx = Ctx::frame(wire_len.saturating_sub(captured));
    let first = link::first(link_type, data, &mut ctx)?;
    let ip = link::walk(first, &mut ctx)?;
    let mut pkt = UNREAD;
    let mut payload = ip_layer(ip, ctx, &mut pkt)?;
    // One tunnel per pass: `tunnel::inner` enters it only while `Ctx::deeper` allows (at most
    // `MAX_TUNNEL_DEPTH`), so the loop ends. A tunnel with no usable IP inside leaves the
    // packet reached so far as the packet.
    loop {
        let Some((layer, mut ctx)) = tunnel::inner(&pkt, payload.l4, payload.inner_ctx) else {
            return Ok(pkt);
        };
        // the outer frame's destination says nothing of the tunnelled packet's
        ctx.link_group = false;
        let mut inner = pkt;
        match link::walk(layer, &mut ctx).and_then(|ip| ip_layer(ip, ctx, &mut inner)) {
            Ok(inner_payload) => (pkt, payload) = (inner, inner_payload),
            Err(_) => return Ok(pkt),
        }
    }
}

/// The packet before an IP header is read into it (the IP readers write every field).
const UNREAD: Packet = Packet {
    src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    ip_proto: 0,
    ttl: 0,
    ip_id: 0,
    ip_len: 0,
    fragment: None,
    transport: Transport::None,
    payload_len: 0,
    digest: 0,
    digest_len: 0,
    encap: 0,
    vlan_count: 0,
    truncated: false,
    link_group: false,
};

/// Reads an IP header into `pkt` and fills in the transport it carries.
#[inline(always)]
fn ip_layer<'a>(ip: Ip<'a>, ctx: Ctx, pkt: &mut Packet) -> Result<IpPayload<'a>, SkipReason> {
    let payload = match ip {
        Ip::Any(d) => match byte(d, 0).or_truncated()? >> 4 {
            4 => ipv4::read(d, ctx, pkt)?,
            6 => ipv6::read(d, ctx, pkt)?,
            _ => return Err(SkipReason::MalformedIp),
        },
        Ip::V6(d) => ipv6::read(d, ctx, pkt)?,
    };
    transport(pkt, &payload);
    Ok(payload)
}

/// Fills `transport`, `payload_len`, `digest`/`digest_len` (and `truncated` when the transport
/// header is cut) of `pkt` from its IP payload. A non-first fragment has no transport header:
/// its digest is over the IP payload.
#[inline(always)]
fn transport(pkt: &mut Packet, payload: &IpPayload<'_>) {
    let IpPayload { l4, l4_len, .. } = *payload;
    if pkt.fragment.is_some_and(|f| f.offset > 0) {
        digest::set_payload(pkt, l4, l4_len);
        return;
    }
    match pkt.ip_proto {
        proto::TCP => tcp::fill(pkt, l4, l4_len),
        proto::UDP => udp::fill(pkt, l4, l4_len),
        proto::ICMP => icmp::fill(pkt, l4, l4_len, false),
        proto::ICMPV6 => icmp::fill(pkt, l4, l4_len, true),
        _ => digest::set_payload(pkt, l4, l4_len),
    }
}
