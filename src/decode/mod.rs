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

use std::net::IpAddr;

/// TCP flag bits as in the header's flags byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// The transport-layer summary of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP (v6 = false) or ICMPv6 echo request/reply.
    Echo {
        v6: bool,
        request: bool,
        id: u16,
        seq: u16,
    },
    /// ICMP/ICMPv6 error (destination unreachable, time exceeded, packet too big, parameter
    /// problem) with the conversation key of the packet it quotes, when readable.
    IcmpError {
        v6: bool,
        icmp_type: u8,
        code: u8,
        quoted: Option<Quoted>,
    },
    /// Any other ICMP/ICMPv6 message (neighbour discovery, router solicitation, ...).
    IcmpOther {
        v6: bool,
        icmp_type: u8,
        code: u8,
    },
    /// Transport header not available: a non-first IP fragment, or cut by snaplen, or a
    /// protocol that is not TCP/UDP/ICMP (see `Packet::ip_proto`).
    None,
}

/// The key fields of the packet quoted inside an ICMP error (as sent by its originator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip_proto: u8,
    /// Ports for TCP/UDP, (id, 0) for a quoted echo request/reply, (0, 0) otherwise.
    pub sport: u16,
    pub dport: u16,
}

/// IP fragment information (IPv4 flags/offset or IPv6 fragment header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Fragment offset in bytes.
    pub offset: u32,
    pub more: bool,
    /// IPv4 identification or IPv6 fragment header identification.
    pub id: u32,
}

/// Tunnel and tag context bits (outer layers in front of the inner-most IP header).
pub mod encap {
    pub const VLAN: u16 = 1 << 0;
    pub const QINQ: u16 = 1 << 1;
    pub const VXLAN: u16 = 1 << 2;
    pub const GENEVE: u16 = 1 << 3;
    pub const GRE: u16 = 1 << 4;
    pub const ERSPAN: u16 = 1 << 5;
    pub const IP_IN_IP: u16 = 1 << 6;
    pub const MPLS: u16 = 1 << 7;
    pub const PPPOE: u16 = 1 << 8;
    pub const TEREDO: u16 = 1 << 9;
    pub const SLL: u16 = 1 << 10;
    pub const GTP: u16 = 1 << 11;
    /// Names, in bit order, for reports.
    pub const NAMES: [&str; 12] = [
        "vlan", "qinq", "vxlan", "geneve", "gre", "erspan", "ip-in-ip", "mpls", "pppoe", "teredo",
        "sll", "gtp",
    ];
}

/// What the later stages need to know of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Protocol of the inner-most transport (after IPv6 extension headers).
    pub ip_proto: u8,
    /// IPv4 TTL or IPv6 hop limit of the inner-most IP header.
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6 unless fragmented, then the fragment id).
    pub ip_id: u32,
    /// IP total length as written in the header (IPv6: payload length + 40).
    pub ip_len: u32,
    pub fragment: Option<Fragment>,
    pub transport: Transport,
    /// Length of the L4 payload according to the headers (not the captured bytes).
    pub payload_len: u32,
    /// Hash of the first `digest_len` captured L4 payload bytes (at most 16): identifies
    /// the same packet at another capture point. 0 when `digest_len` is 0.
    pub digest: u64,
    pub digest_len: u8,
    /// `encap::*` bits of the layers in front of the inner-most IP header.
    pub encap: u16,
    /// 802.1Q/802.1ad tags seen (outer first, at most the first 4 kept; `vlan_count` counts all).
    pub vlan_count: u8,
    /// True when the capture cut the packet short of what its IP header says.
    pub truncated: bool,
}

/// Why a frame did not yield a packet (every frame is either decoded or counted here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// ARP, STP, LLDP, PPP control, ...: a valid frame with no IP in it.
    NotIp,
    /// The link type is not one flowcheck decodes.
    UnsupportedLinkType,
    /// Cut by snaplen before the IP addresses.
    Truncated,
    /// An IP header that is not valid (bad version, header length, ...).
    MalformedIp,
}

impl SkipReason {
    /// Stable name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NotIp => "not_ip",
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::Truncated => "truncated",
            SkipReason::MalformedIp => "malformed_ip",
        }
    }
}

mod ip;
mod transport;
mod tunnel;

#[cfg(test)]
mod tests;

/// LINKTYPE_* values decoded (see <https://www.tcpdump.org/linktypes.html>).
mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW on most BSDs and as libpcap maps it.
    pub const RAW_12: u32 = 12;
    /// DLT_RAW on OpenBSD.
    pub const RAW_14: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// Ether types (also used as GRE protocol types and SLL protocols).
mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag.
    pub const QINQ_OLD: u16 = 0x9100;
    pub const CISCO_METADATA: u16 = 0x8909;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    pub const TRANSPARENT_ETHERNET: u16 = 0x6558;
    pub const ERSPAN_II: u16 = 0x88be;
    pub const ERSPAN_III: u16 = 0x22eb;
    pub const PPP: u16 = 0x880b;
    /// Values up to this one are 802.3 lengths, not ether types.
    pub const MAX_8023_LEN: u16 = 0x05ff;
}

/// At most this many 802.1Q/802.1ad tags (and Cisco metadata headers) in one Ethernet header.
const MAX_TAGS: usize = 8;
/// At most this many MPLS labels in one stack.
const MAX_MPLS_LABELS: usize = 16;
/// At most this many tunnels (IP-in-IP, GRE, UDP tunnels, MPLS pseudowires) one inside the
/// other.
const MAX_TUNNEL_DEPTH: u8 = 8;

type Decoded = Result<Packet, SkipReason>;

/// What the layers in front of the IP header being decoded contribute.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    encap: u16,
    vlan_count: u8,
    /// Tunnels entered so far.
    depth: u8,
    /// Bytes of the frame that were on the wire but not captured, when the slice being decoded
    /// runs to the end of the captured frame (0 otherwise).
    uncaptured: u32,
}

impl Ctx {
    fn with(self, bit: u16) -> Ctx {
        Ctx {
            encap: self.encap | bit,
            ..self
        }
    }

    /// One tunnel deeper; `None` past [`MAX_TUNNEL_DEPTH`].
    fn deeper(self) -> Option<Ctx> {
        (self.depth < MAX_TUNNEL_DEPTH).then_some(Ctx {
            depth: self.depth + 1,
            ..self
        })
    }
}

/// `Option` -> `Result` with [`SkipReason::Truncated`]: a header read past the captured bytes.
trait OrTruncated<T> {
    fn or_truncated(self) -> Result<T, SkipReason>;
}

impl<T> OrTruncated<T> for Option<T> {
    #[inline]
    fn or_truncated(self) -> Result<T, SkipReason> {
        self.ok_or(SkipReason::Truncated)
    }
}

#[inline]
fn byte(d: &[u8], at: usize) -> Option<u8> {
    d.get(at).copied()
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

#[inline]
fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

#[inline]
fn rest(d: &[u8], from: usize) -> Option<&[u8]> {
    d.get(from..)
}

/// Decodes one frame of the given LINKTYPE_*.
///
/// `wire_len` is the frame's original length; it only matters for an IPv4 total length of 0
/// (TCP segmentation offload), where the IP packet is taken to run to the end of the frame.
pub fn decode(link_type: u32, data: &[u8], wire_len: u32) -> Result<Packet, SkipReason> {
    let captured = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let ctx = Ctx {
        encap: 0,
        vlan_count: 0,
        depth: 0,
        uncaptured: wire_len.saturating_sub(captured),
    };
    match link_type {
        linktype::ETHERNET => ethernet(data, ctx),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 => {
            ip::ip_any(data, ctx)
        }
        linktype::IPV6 => ip::ipv6(data, ctx),
        linktype::LINUX_SLL => linux_sll(data, ctx),
        linktype::LINUX_SLL2 => linux_sll2(data, ctx),
        linktype::NULL => null(data, ctx, false),
        linktype::LOOP => null(data, ctx, true),
        _ => Err(SkipReason::UnsupportedLinkType),
    }
}

/// Ethernet II (or 802.3) header, then whatever its ether type says.
fn ethernet(d: &[u8], ctx: Ctx) -> Decoded {
    let et = be16(d, 12).or_truncated()?;
    by_ethertype(et, rest(d, 14).or_truncated()?, ctx)
}

/// The payload `d` of ether type `et`: VLAN tags are popped here (iteratively, at most
/// [`MAX_TAGS`]), then IP, PPPoE, MPLS or LLC/SNAP.
fn by_ethertype(mut et: u16, mut d: &[u8], mut ctx: Ctx) -> Decoded {
    let mut tags = 0;
    loop {
        match et {
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                ctx.vlan_count = ctx.vlan_count.saturating_add(1);
                ctx.encap |= encap::VLAN;
                if et != ethertype::VLAN || ctx.vlan_count > 1 {
                    ctx.encap |= encap::QINQ;
                }
                et = be16(d, 2).or_truncated()?;
                d = rest(d, 4).or_truncated()?;
            }
            // Cisco metadata: version, length, option (2), SGT (2), then the ether type.
            ethertype::CISCO_METADATA => {
                et = be16(d, 6).or_truncated()?;
                d = rest(d, 8).or_truncated()?;
            }
            _ => break,
        }
        tags += 1;
        if tags > MAX_TAGS {
            return Err(SkipReason::NotIp);
        }
    }
    match et {
        ethertype::IPV4 => ip::ip_any(d, ctx),
        ethertype::IPV6 => ip::ipv6(d, ctx),
        ethertype::PPPOE_SESSION => pppoe(d, ctx),
        ethertype::MPLS | ethertype::MPLS_MULTICAST => mpls(d, ctx),
        0..=ethertype::MAX_8023_LEN => llc_snap(d, ctx),
        _ => Err(SkipReason::NotIp),
    }
}

/// 802.2 LLC: only SNAP with OUI 0 carrying IPv4/IPv6 holds IP (STP, CDP, ... do not).
fn llc_snap(d: &[u8], ctx: Ctx) -> Decoded {
    match d.get(..6) {
        Some([0xaa, 0xaa, 0x03, 0, 0, 0]) => {}
        Some(_) => return Err(SkipReason::NotIp),
        None => return Err(SkipReason::Truncated),
    }
    let payload = rest(d, 8).or_truncated()?;
    match be16(d, 6) {
        Some(ethertype::IPV4) => ip::ip_any(payload, ctx),
        Some(ethertype::IPV6) => ip::ipv6(payload, ctx),
        _ => Err(SkipReason::NotIp),
    }
}

/// PPPoE session header (version/type, code, session id, length), then PPP.
fn pppoe(d: &[u8], ctx: Ctx) -> Decoded {
    if byte(d, 1).or_truncated()? != 0 {
        return Err(SkipReason::NotIp); // not session data
    }
    ppp(rest(d, 6).or_truncated()?, ctx.with(encap::PPPOE))
}

/// PPP (optionally with HDLC address/control 0xff 0x03, protocol field possibly compressed to
/// one byte): IPv4 0x0021, IPv6 0x0057, MPLS 0x0281; anything else (LCP, IPCP, ...) is not IP.
fn ppp(d: &[u8], ctx: Ctx) -> Decoded {
    let d = match d.get(..2) {
        Some([0xff, 0x03]) => rest(d, 2).or_truncated()?,
        _ => d,
    };
    let first = byte(d, 0).or_truncated()?;
    let (proto, payload) = if first & 1 == 1 {
        (u16::from(first), rest(d, 1).or_truncated()?)
    } else {
        (be16(d, 0).or_truncated()?, rest(d, 2).or_truncated()?)
    };
    match proto {
        0x0021 => ip::ip_any(payload, ctx),
        0x0057 => ip::ipv6(payload, ctx),
        0x0281 => mpls(payload, ctx),
        _ => Err(SkipReason::NotIp),
    }
}

/// MPLS label stack, popped to the bottom of stack; the payload is IPv4/IPv6 by its first
/// nibble, or a pseudowire control word (first nibble 0) followed by Ethernet.
fn mpls(d: &[u8], ctx: Ctx) -> Decoded {
    let ctx = ctx.with(encap::MPLS);
    let mut off = 0;
    let mut labels = 0;
    loop {
        let entry = be32(d, off).or_truncated()?;
        off += 4;
        if entry & 0x100 != 0 {
            break;
        }
        labels += 1;
        if labels >= MAX_MPLS_LABELS {
            return Err(SkipReason::NotIp);
        }
    }
    let payload = rest(d, off).or_truncated()?;
    match byte(payload, 0).or_truncated()? >> 4 {
        4 => ip::ip_any(payload, ctx),
        6 => ip::ipv6(payload, ctx),
        0 => {
            let ctx = ctx.deeper().ok_or(SkipReason::NotIp)?;
            ethernet(rest(payload, 4).or_truncated()?, ctx)
        }
        _ => Err(SkipReason::NotIp),
    }
}

/// ARPHRD_NETLINK: the SLL protocol field is a netlink family, not an ether type.
const ARPHRD_NETLINK: u16 = 824;

/// Linux cooked capture v1: packet type, ARPHRD type, address length, address (8),
/// protocol.
fn linux_sll(d: &[u8], ctx: Ctx) -> Decoded {
    let hatype = be16(d, 2).or_truncated()?;
    let proto = be16(d, 14).or_truncated()?;
    cooked(hatype, proto, rest(d, 16).or_truncated()?, ctx)
}

/// Linux cooked capture v2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, address (8).
fn linux_sll2(d: &[u8], ctx: Ctx) -> Decoded {
    let proto = be16(d, 0).or_truncated()?;
    let hatype = be16(d, 8).or_truncated()?;
    cooked(hatype, proto, rest(d, 20).or_truncated()?, ctx)
}

fn cooked(hatype: u16, proto: u16, payload: &[u8], ctx: Ctx) -> Decoded {
    // Protocols up to 0x05ff are Linux pseudo types (802.2 LLC, Novell 802.3, CAN, ...).
    if hatype == ARPHRD_NETLINK || proto <= ethertype::MAX_8023_LEN {
        return Err(SkipReason::NotIp);
    }
    by_ethertype(proto, payload, ctx.with(encap::SLL))
}

/// BSD null (address family in host byte order: either order is accepted) and loop (network
/// byte order): AF_INET 2, AF_INET6 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin).
fn null(d: &[u8], ctx: Ctx, network_order: bool) -> Decoded {
    let header: [u8; 4] = d.get(..4).and_then(|h| h.try_into().ok()).or_truncated()?;
    let family = |af: u32| match af {
        2 => Some(false),
        24 | 28 | 30 => Some(true),
        _ => None,
    };
    let be = family(u32::from_be_bytes(header));
    let v6 = if network_order {
        be
    } else {
        family(u32::from_le_bytes(header)).or(be)
    };
    let payload = rest(d, 4).or_truncated()?;
    match v6 {
        Some(false) => ip::ip_any(payload, ctx),
        Some(true) => ip::ipv6(payload, ctx),
        None => Err(SkipReason::NotIp),
    }
}
