//! Tunnels inside an IP packet: IP-in-IP, GRE (with ERSPAN and PPTP) and the UDP
//! encapsulations (VXLAN, VXLAN-GPE, GENEVE, Teredo, GTP-U, GRE-in-UDP, MPLS-in-UDP).
//!
//! Each function decodes the tunnel's payload down to its inner-most IP header; an `Err`
//! means there is no usable IP inside and the caller keeps the outer packet.

use super::ip::{self, proto};
use super::{
    be16, by_ethertype, byte, encap, ethernet, ethertype, mpls, ppp, rest, Ctx, Decoded,
    OrTruncated, Packet, SkipReason, Transport,
};

/// UDP ports of the encapsulations decoded.
mod port {
    pub const VXLAN: u16 = 4789;
    /// Linux's default VXLAN port (tshark does not decode it by default).
    pub const VXLAN_LINUX: u16 = 8472;
    pub const VXLAN_GPE: u16 = 4790;
    pub const GENEVE: u16 = 6081;
    pub const TEREDO: u16 = 3544;
    pub const GTP_U: u16 = 2152;
    pub const GRE_IN_UDP: u16 = 4754;
    pub const MPLS_IN_UDP: u16 = 6635;
}

/// At most this many RFC 1701 source route entries in a GRE header.
const MAX_GRE_SRE: usize = 8;
/// At most this many GTP-U extension headers.
const MAX_GTP_EXT: usize = 8;

/// The packet inside `outer` when `outer` is a tunnel (`None` when it is not one, or when
/// [`super::MAX_TUNNEL_DEPTH`] tunnels were already entered). `l4` is the outer IP payload.
pub(super) fn inner(outer: &Packet, l4: &[u8], ctx: Ctx) -> Option<Decoded> {
    match outer.ip_proto {
        proto::IPIP => Some(ip::ip_any(l4, ctx.deeper()?.with(encap::IP_IN_IP))),
        proto::IPV6 => Some(ip::ipv6(l4, ctx.deeper()?.with(encap::IP_IN_IP))),
        proto::GRE => Some(gre(l4, ctx.deeper()?.with(encap::GRE))),
        proto::UDP => match outer.transport {
            Transport::Udp { sport, dport } => udp(sport, dport, rest(l4, 8)?, ctx),
            _ => None,
        },
        _ => None,
    }
}

/// Below this, a UDP port is taken to be a well-known service's (DNS, NTP, SNMP, ...).
const FIRST_UNPRIVILEGED_PORT: u16 = 1024;

/// A UDP payload on a tunnel port. Like tshark, the lower port is tried first; tshark tries
/// the higher one only when no dissector claims the lower one, which is approximated here by
/// "the lower port is not a well-known port (< 1024)".
fn udp(sport: u16, dport: u16, payload: &[u8], ctx: Ctx) -> Option<Decoded> {
    let (low, high) = if sport <= dport {
        (sport, dport)
    } else {
        (dport, sport)
    };
    let port = if is_tunnel_port(low) {
        low
    } else if low >= FIRST_UNPRIVILEGED_PORT && is_tunnel_port(high) {
        high
    } else {
        return None;
    };
    let ctx = ctx.deeper()?;
    Some(match port {
        port::VXLAN | port::VXLAN_LINUX => vxlan(payload, ctx.with(encap::VXLAN)),
        port::VXLAN_GPE => vxlan_gpe(payload, ctx.with(encap::VXLAN)),
        port::GENEVE => geneve(payload, ctx.with(encap::GENEVE)),
        port::TEREDO => teredo(payload, ctx.with(encap::TEREDO)),
        port::GTP_U => gtp_u(payload, ctx.with(encap::GTP)),
        port::GRE_IN_UDP => gre(payload, ctx.with(encap::GRE)),
        _ => mpls(payload, ctx), // port::MPLS_IN_UDP
    })
}

fn is_tunnel_port(p: u16) -> bool {
    matches!(
        p,
        port::VXLAN
            | port::VXLAN_LINUX
            | port::VXLAN_GPE
            | port::GENEVE
            | port::TEREDO
            | port::GTP_U
            | port::GRE_IN_UDP
            | port::MPLS_IN_UDP
    )
}

/// VXLAN: 8-byte header (flags, VNI), then Ethernet.
fn vxlan(p: &[u8], ctx: Ctx) -> Decoded {
    ethernet(rest(p, 8).or_truncated()?, ctx)
}

/// VXLAN-GPE: 8-byte header whose 4th byte names the payload.
fn vxlan_gpe(p: &[u8], ctx: Ctx) -> Decoded {
    let payload = rest(p, 8).or_truncated()?;
    match byte(p, 3) {
        Some(1) => ip::ip_any(payload, ctx),
        Some(2) => ip::ipv6(payload, ctx),
        Some(3) => ethernet(payload, ctx),
        Some(5) => mpls(payload, ctx),
        _ => Err(SkipReason::NotIp),
    }
}

/// GENEVE: version (2 bits), options length (6 bits, in 4-byte words), flags, protocol
/// type, VNI, reserved; then the options and the payload.
fn geneve(p: &[u8], ctx: Ctx) -> Decoded {
    let b0 = byte(p, 0).or_truncated()?;
    if b0 >> 6 != 0 {
        return Err(SkipReason::NotIp);
    }
    let protocol = be16(p, 2).or_truncated()?;
    let payload = rest(p, 8 + usize::from(b0 & 0x3f) * 4).or_truncated()?;
    match protocol {
        ethertype::TRANSPARENT_ETHERNET => ethernet(payload, ctx),
        other => by_ethertype(other, payload, ctx),
    }
}

/// Teredo: IPv6 in UDP, possibly behind an authentication header (0x0001) and/or an origin
/// indication (0x0000).
fn teredo(p: &[u8], ctx: Ctx) -> Decoded {
    let mut off = 0;
    if be16(p, off) == Some(1) {
        // indicator, client id length, auth value length, client id, auth value, nonce (8),
        // confirmation (1)
        let id_len = usize::from(byte(p, 2).or_truncated()?);
        let auth_len = usize::from(byte(p, 3).or_truncated()?);
        off += 4 + id_len + auth_len + 9;
    }
    if be16(p, off) == Some(0) {
        off += 8; // indicator, obfuscated port (2), obfuscated address (4)
    }
    ip::ipv6(rest(p, off).or_truncated()?, ctx)
}

/// GTP-U: only a G-PDU (message type 255) of version 1 carries a user IP packet.
fn gtp_u(p: &[u8], ctx: Ctx) -> Decoded {
    let flags = byte(p, 0).or_truncated()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || byte(p, 1).or_truncated()? != 0xff {
        return Err(SkipReason::NotIp);
    }
    let mut off = 8;
    if flags & 0x07 != 0 {
        // sequence number (2), N-PDU number (1), next extension header type (1)
        let mut next = byte(p, 11).or_truncated()?;
        off = 12;
        let mut seen = 0;
        while next != 0 {
            seen += 1;
            let words = usize::from(byte(p, off).or_truncated()?);
            if seen > MAX_GTP_EXT || words == 0 {
                return Err(SkipReason::NotIp);
            }
            off += words * 4;
            next = byte(p, off - 1).or_truncated()?;
        }
    }
    ip::ip_any(rest(p, off).or_truncated()?, ctx)
}

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_ACK: u16 = 0x0080;

/// GRE version 0 (RFC 1701/2784/2890) or 1 (PPTP's enhanced GRE).
pub(super) fn gre(p: &[u8], ctx: Ctx) -> Decoded {
    let flags = be16(p, 0).or_truncated()?;
    let protocol = be16(p, 2).or_truncated()?;
    let version = flags & 0x0007;
    if version > 1 {
        return Err(SkipReason::NotIp);
    }
    let mut off = 4;
    for (bit, size) in [
        (GRE_CHECKSUM | GRE_ROUTING, 4),
        (GRE_KEY, 4),
        (GRE_SEQUENCE, 4),
    ] {
        if flags & bit != 0 {
            off += size;
        }
    }
    if version == 1 && flags & GRE_ACK != 0 {
        off += 4;
    }
    if version == 0 && flags & GRE_ROUTING != 0 {
        // Source route entries: address family (2), offset (1), length (1), then `length`
        // bytes; the list ends with an entry of family 0 and length 0.
        let mut entries = 0;
        loop {
            let family = be16(p, off).or_truncated()?;
            let length = usize::from(byte(p, off + 3).or_truncated()?);
            off += 4 + length;
            if family == 0 && length == 0 {
                break;
            }
            entries += 1;
            if entries >= MAX_GRE_SRE {
                return Err(SkipReason::NotIp);
            }
        }
    }
    let payload = rest(p, off).or_truncated()?;
    match protocol {
        ethertype::TRANSPARENT_ETHERNET => ethernet(payload, ctx),
        ethertype::ERSPAN_II => {
            // Type II has an 8-byte header; type I (no GRE sequence number) has none.
            let header = if flags & GRE_SEQUENCE != 0 { 8 } else { 0 };
            ethernet(
                rest(payload, header).or_truncated()?,
                ctx.with(encap::ERSPAN),
            )
        }
        ethertype::ERSPAN_III => erspan_iii(payload, ctx.with(encap::ERSPAN)),
        ethertype::PPP => ppp(payload, ctx),
        // Cisco metadata over GRE puts its ether type first (version, length, option and SGT
        // follow), unlike on Ethernet.
        ethertype::CISCO_METADATA => {
            let et = be16(payload, 0).or_truncated()?;
            by_ethertype(et, rest(payload, 8).or_truncated()?, ctx)
        }
        0..=ethertype::MAX_8023_LEN => Err(SkipReason::NotIp), // e.g. a keepalive's 0
        other => by_ethertype(other, payload, ctx),
    }
}

/// ERSPAN type III: 12-byte header, an 8-byte platform specific subheader when its O bit is
/// set, then Ethernet (frame type 0) or IP (frame type 2).
fn erspan_iii(p: &[u8], ctx: Ctx) -> Decoded {
    let b10 = byte(p, 10).or_truncated()?;
    let b11 = byte(p, 11).or_truncated()?;
    let header = if b11 & 0x01 != 0 { 20 } else { 12 };
    let payload = rest(p, header).or_truncated()?;
    match (b10 >> 2) & 0x1f {
        0 => ethernet(payload, ctx),
        2 => ip::ip_any(payload, ctx),
        _ => Err(SkipReason::NotIp),
    }
}
