//! Link layers, from the capture's LINKTYPE down to the first IP header: Ethernet II and
//! 802.3 LLC/SNAP, 802.1Q/802.1ad/0x9100 tags and Cisco metadata, PPPoE session and PPP, MPLS
//! (with pseudowires carrying Ethernet), Linux SLL and SLL2, raw IP and BSD null/loop.
//!
//! [`walk`] is a loop over [`Layer`]s, each step reading one header; the only step that can
//! lead back to an earlier kind (an MPLS pseudowire's Ethernet) enters a tunnel, so
//! `Ctx::deeper` bounds it. Tunnels hand their payloads to [`walk`] too.

use super::bytes::{be16, be32, byte, rest, OrTruncated};
use super::layer::{Ctx, Ip, Layer};
use super::numbers::ethertype;
use super::packet::{encap, SkipReason};

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

/// At most this many 802.1Q/802.1ad tags (and Cisco metadata headers) in one Ethernet header.
pub(super) const MAX_TAGS: usize = 8;
/// At most this many MPLS labels in one stack.
const MAX_MPLS_LABELS: usize = 16;

/// Ethernet II header: destination (6), source (6), ether type or 802.3 length.
const ETH_TYPE: usize = 12;
const ETH_HEADER: usize = 14;
/// The group (I/G) bit of a MAC address, in its first octet: broadcast and multicast.
const ETH_GROUP_BIT: u8 = 0x01;
/// An 802.1Q/802.1ad tag after the ether type that announced it: TCI (2), ether type (2).
const TAG_TYPE: usize = 2;
const TAG_LEN: usize = 4;
/// Cisco metadata on Ethernet: version, length, option (2), SGT (2), ether type (2).
const CMD_TYPE: usize = 6;
const CMD_LEN: usize = 8;
/// 802.2 LLC + SNAP: DSAP 0xaa, SSAP 0xaa, control 3, OUI 0 (an ether type follows).
const SNAP_OUI_0: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];
const SNAP_TYPE: usize = 6;
const SNAP_LEN: usize = 8;
/// PPPoE session header: version/type, code (0 for session data), session id (2), length (2).
const PPPOE_CODE: usize = 1;
const PPPOE_LEN: usize = 6;
/// PPP in HDLC-like framing starts with address 0xff and control 0x03.
const PPP_HDLC: [u8; 2] = [0xff, 0x03];
/// PPP protocols that carry IP or MPLS.
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
/// An MPLS label stack entry: label (20 bits), traffic class (3), bottom of stack (1), TTL.
const MPLS_ENTRY: usize = 4;
const MPLS_BOTTOM_OF_STACK: u32 = 0x100;
/// A pseudowire control word in front of the Ethernet frame an MPLS stack carries.
const PW_CONTROL_WORD: usize = 4;
/// Linux cooked capture v1: packet type (2), ARPHRD type (2), address length (2), address (8),
/// protocol (2).
const SLL_PKTTYPE: usize = 0;
const SLL_HATYPE: usize = 2;
const SLL_PROTOCOL: usize = 14;
const SLL_LEN: usize = 16;
/// Linux cooked capture v2: protocol (2), reserved (2), interface index (4), ARPHRD type (2),
/// packet type, address length, address (8).
const SLL2_PROTOCOL: usize = 0;
const SLL2_HATYPE: usize = 8;
const SLL2_PKTTYPE: usize = 10;
const SLL2_LEN: usize = 20;
/// ARPHRD_NETLINK: the SLL protocol field is a netlink family, not an ether type.
const ARPHRD_NETLINK: u16 = 824;
/// Linux packet types (PACKET_*) sent to a link-layer group: broadcast and multicast.
const PACKET_BROADCAST: u16 = 1;
const PACKET_MULTICAST: u16 = 2;
/// BSD null/loop header: the address family as a 32-bit word.
const NULL_LEN: usize = 4;

/// The first layer of a frame of the given LINKTYPE_*.
#[inline(always)]
pub(super) fn first<'a>(
    link_type: u32,
    d: &'a [u8],
    ctx: &mut Ctx,
) -> Result<Layer<'a>, SkipReason> {
    match link_type {
        linktype::ETHERNET => ethernet(d, ctx),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 => {
            Ok(Layer::Ip(Ip::Any(d)))
        }
        linktype::IPV6 => Ok(Layer::Ip(Ip::V6(d))),
        linktype::LINUX_SLL => {
            let hatype = be16(d, SLL_HATYPE).or_truncated()?;
            let protocol = be16(d, SLL_PROTOCOL).or_truncated()?;
            ctx.link_group = to_group(be16(d, SLL_PKTTYPE).or_truncated()?);
            cooked(hatype, protocol, rest(d, SLL_LEN).or_truncated()?, ctx)
        }
        linktype::LINUX_SLL2 => {
            let protocol = be16(d, SLL2_PROTOCOL).or_truncated()?;
            let hatype = be16(d, SLL2_HATYPE).or_truncated()?;
            ctx.link_group = to_group(byte(d, SLL2_PKTTYPE).or_truncated()?.into());
            cooked(hatype, protocol, rest(d, SLL2_LEN).or_truncated()?, ctx)
        }
        linktype::NULL => null(d, false),
        linktype::LOOP => null(d, true),
        _ => Err(SkipReason::UnsupportedLinkType),
    }
}

/// Reads link layers from `layer` on until an IP header; `ctx` collects their bits.
#[inline(always)]
pub(super) fn walk<'a>(mut layer: Layer<'a>, ctx: &mut Ctx) -> Result<Ip<'a>, SkipReason> {
    loop {
        layer = match layer {
            Layer::Ip(ip) => return Ok(ip),
            Layer::Ethernet(d) => ethernet(d, ctx)?,
            Layer::EtherType(et, d) => by_ethertype(et, d, ctx)?,
            Layer::Ppp(d) => ppp(d)?,
            Layer::Mpls(d) => mpls(d, ctx)?,
        };
    }
}

/// Ethernet II (or 802.3) header: its payload and ether type; a destination with the group
/// bit (broadcast or multicast) marks `ctx.link_group`.
#[inline(always)]
fn ethernet<'a>(d: &'a [u8], ctx: &mut Ctx) -> Result<Layer<'a>, SkipReason> {
    let et = be16(d, ETH_TYPE).or_truncated()?;
    ctx.link_group = byte(d, 0).or_truncated()? & ETH_GROUP_BIT != 0;
    Ok(Layer::EtherType(et, rest(d, ETH_HEADER).or_truncated()?))
}

/// The payload `d` of ether type `et`: VLAN tags are popped here (at most [`MAX_TAGS`]), then
/// IP, PPPoE, MPLS or LLC/SNAP.
#[inline(always)]
fn by_ethertype<'a>(mut et: u16, mut d: &'a [u8], ctx: &mut Ctx) -> Result<Layer<'a>, SkipReason> {
    let mut tags = 0;
    loop {
        match et {
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                ctx.vlan_count = ctx.vlan_count.saturating_add(1);
                ctx.encap |= encap::VLAN;
                if et != ethertype::VLAN || ctx.vlan_count > 1 {
                    ctx.encap |= encap::QINQ;
                }
                et = be16(d, TAG_TYPE).or_truncated()?;
                d = rest(d, TAG_LEN).or_truncated()?;
            }
            ethertype::CISCO_METADATA => {
                et = be16(d, CMD_TYPE).or_truncated()?;
                d = rest(d, CMD_LEN).or_truncated()?;
            }
            _ => break,
        }
        tags += 1;
        if tags > MAX_TAGS {
            return Err(SkipReason::NotIp);
        }
    }
    match et {
        ethertype::IPV4 => Ok(Layer::Ip(Ip::Any(d))),
        ethertype::IPV6 => Ok(Layer::Ip(Ip::V6(d))),
        ethertype::PPPOE_SESSION => pppoe(d, ctx),
        ethertype::MPLS | ethertype::MPLS_MULTICAST => Ok(Layer::Mpls(d)),
        0..=ethertype::MAX_8023_LEN => llc_snap(d),
        _ => Err(SkipReason::NotIp),
    }
}

/// 802.2 LLC: only SNAP with OUI 0 carrying IPv4/IPv6 holds IP (STP, CDP, ... do not).
fn llc_snap(d: &[u8]) -> Result<Layer<'_>, SkipReason> {
    match d.get(..SNAP_OUI_0.len()) {
        Some(h) if h == SNAP_OUI_0 => {}
        Some(_) => return Err(SkipReason::NotIp),
        None => return Err(SkipReason::Truncated),
    }
    let payload = rest(d, SNAP_LEN).or_truncated()?;
    match be16(d, SNAP_TYPE) {
        Some(ethertype::IPV4) => Ok(Layer::Ip(Ip::Any(payload))),
        Some(ethertype::IPV6) => Ok(Layer::Ip(Ip::V6(payload))),
        _ => Err(SkipReason::NotIp),
    }
}

/// PPPoE session header, then PPP.
fn pppoe<'a>(d: &'a [u8], ctx: &mut Ctx) -> Result<Layer<'a>, SkipReason> {
    if byte(d, PPPOE_CODE).or_truncated()? != 0 {
        return Err(SkipReason::NotIp); // not session data
    }
    ctx.encap |= encap::PPPOE;
    Ok(Layer::Ppp(rest(d, PPPOE_LEN).or_truncated()?))
}

/// PPP (optionally with HDLC address/control, protocol field possibly compressed to one byte):
/// IPv4, IPv6 and MPLS; anything else (LCP, IPCP, ...) is not IP.
fn ppp(d: &[u8]) -> Result<Layer<'_>, SkipReason> {
    let d = match d.get(..PPP_HDLC.len()) {
        Some(h) if h == PPP_HDLC => rest(d, PPP_HDLC.len()).or_truncated()?,
        _ => d,
    };
    let first = byte(d, 0).or_truncated()?;
    // An odd first byte is a protocol compressed to one byte.
    let (protocol, payload) = if first & 1 == 1 {
        (u16::from(first), rest(d, 1).or_truncated()?)
    } else {
        (be16(d, 0).or_truncated()?, rest(d, 2).or_truncated()?)
    };
    match protocol {
        PPP_IPV4 => Ok(Layer::Ip(Ip::Any(payload))),
        PPP_IPV6 => Ok(Layer::Ip(Ip::V6(payload))),
        PPP_MPLS => Ok(Layer::Mpls(payload)),
        _ => Err(SkipReason::NotIp),
    }
}

/// MPLS label stack, popped to the bottom of stack; the payload is IPv4/IPv6 by its first
/// nibble, or a pseudowire control word (first nibble 0) followed by Ethernet (a tunnel).
fn mpls<'a>(d: &'a [u8], ctx: &mut Ctx) -> Result<Layer<'a>, SkipReason> {
    ctx.encap |= encap::MPLS;
    let mut off = 0;
    let mut labels = 0;
    loop {
        let entry = be32(d, off).or_truncated()?;
        off += MPLS_ENTRY;
        if entry & MPLS_BOTTOM_OF_STACK != 0 {
            break;
        }
        labels += 1;
        if labels >= MAX_MPLS_LABELS {
            return Err(SkipReason::NotIp);
        }
    }
    let payload = rest(d, off).or_truncated()?;
    match byte(payload, 0).or_truncated()? >> 4 {
        4 => Ok(Layer::Ip(Ip::Any(payload))),
        6 => Ok(Layer::Ip(Ip::V6(payload))),
        0 => {
            *ctx = ctx.deeper().ok_or(SkipReason::NotIp)?;
            Ok(Layer::Ethernet(
                rest(payload, PW_CONTROL_WORD).or_truncated()?,
            ))
        }
        _ => Err(SkipReason::NotIp),
    }
}

/// True for a Linux cooked capture's packet type sent to a link-layer group.
fn to_group(pkttype: u16) -> bool {
    matches!(pkttype, PACKET_BROADCAST | PACKET_MULTICAST)
}

/// The payload of a Linux cooked header of ARPHRD type `hatype` and protocol `protocol`.
fn cooked<'a>(
    hatype: u16,
    protocol: u16,
    payload: &'a [u8],
    ctx: &mut Ctx,
) -> Result<Layer<'a>, SkipReason> {
    // Protocols up to 0x05ff are Linux pseudo types (802.2 LLC, Novell 802.3, CAN, ...).
    if hatype == ARPHRD_NETLINK || protocol <= ethertype::MAX_8023_LEN {
        return Err(SkipReason::NotIp);
    }
    ctx.encap |= encap::SLL;
    Ok(Layer::EtherType(protocol, payload))
}

/// BSD null (address family in host byte order: either order is accepted) and loop (network
/// byte order): AF_INET 2, AF_INET6 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin).
fn null(d: &[u8], network_order: bool) -> Result<Layer<'_>, SkipReason> {
    let header: [u8; NULL_LEN] = d
        .get(..NULL_LEN)
        .and_then(|h| h.try_into().ok())
        .or_truncated()?;
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
    let payload = rest(d, NULL_LEN).or_truncated()?;
    match v6 {
        Some(false) => Ok(Layer::Ip(Ip::Any(payload))),
        Some(true) => Ok(Layer::Ip(Ip::V6(payload))),
        None => Err(SkipReason::NotIp),
    }
}
