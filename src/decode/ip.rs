//! IPv4 and IPv6 headers (IPv6 extension header chain included), and the hand-off to the
//! transport summary and to the tunnels an IP packet may carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    be16, be32, byte, transport, tunnel, Ctx, Decoded, Fragment, OrTruncated, Packet, SkipReason,
    Transport,
};

/// At most this many IPv6 extension headers in one chain (`ipv6_ext_headers.pcap` in the
/// corpus has 100 of them).
const MAX_IPV6_EXT_HEADERS: usize = 128;

/// IP protocol numbers used here.
pub(super) mod proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const DEST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const SHIM6: u8 = 140;
}

/// IPv4 or IPv6 as the version nibble says (tshark's "ip" dissector does the same, also for
/// LINKTYPE_IPV4 and IP protocol 4).
pub(super) fn ip_any(d: &[u8], ctx: Ctx) -> Decoded {
    match byte(d, 0).or_truncated()? >> 4 {
        4 => ipv4(d, ctx),
        6 => ipv6(d, ctx),
        _ => Err(SkipReason::MalformedIp),
    }
}

fn v4_addr(d: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(b)))
}

fn v6_addr(d: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 16] = d.get(at..at + 16)?.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(b)))
}

fn len_u32(d: &[u8]) -> u32 {
    u32::try_from(d.len()).unwrap_or(u32::MAX)
}

/// Where an IP header's payload lies in the captured bytes.
struct Bounds<'a> {
    /// Captured payload bytes, cut at the IP length (padding dropped).
    payload: &'a [u8],
    /// The context for what the payload holds.
    ctx: Ctx,
}

/// The captured bytes of `d` from `start` up to the IP length `ip_len`.
fn bounds(d: &[u8], start: usize, ip_len: u32, ctx: Ctx) -> Bounds<'_> {
    let end = d.len().min(usize::try_from(ip_len).unwrap_or(usize::MAX));
    let payload = d.get(start..end).unwrap_or(&[]);
    // Only a slice that still runs to the end of the captured frame can have bytes that were
    // on the wire but not captured.
    let uncaptured = if end == d.len() { ctx.uncaptured } else { 0 };
    Bounds {
        payload,
        ctx: Ctx { uncaptured, ..ctx },
    }
}

pub(super) fn ipv4(d: &[u8], ctx: Ctx) -> Decoded {
    let b0 = byte(d, 0).or_truncated()?;
    if b0 >> 4 != 4 {
        return Err(SkipReason::MalformedIp);
    }
    let hlen = usize::from(b0 & 0x0f) * 4;
    if hlen < 20 {
        return Err(SkipReason::MalformedIp);
    }
    let total = be16(d, 2).or_truncated()?;
    if total != 0 && usize::from(total) < hlen {
        return Err(SkipReason::MalformedIp);
    }
    let (Some(src), Some(dst)) = (v4_addr(d, 12), v4_addr(d, 16)) else {
        return Err(SkipReason::Truncated);
    };
    // Every byte below 20 is there now that the addresses are.
    let id = be16(d, 4).unwrap_or(0);
    let flags_offset = be16(d, 6).unwrap_or(0);
    let ttl = byte(d, 8).unwrap_or(0);
    let mut ip_proto = byte(d, 9).unwrap_or(0);
    // Total length 0: TCP segmentation offload, the packet runs to the end of the frame.
    let ip_len = if total == 0 {
        len_u32(d).saturating_add(ctx.uncaptured)
    } else {
        u32::from(total)
    };
    let offset = u32::from(flags_offset & 0x1fff) * 8;
    let more = flags_offset & 0x2000 != 0;
    let fragment = (offset > 0 || more).then_some(Fragment {
        offset,
        more,
        id: u32::from(id),
    });

    let Bounds {
        mut payload,
        ctx: inner_ctx,
    } = bounds(d, hlen, ip_len, ctx);
    let mut l4_len = ip_len.saturating_sub(hlen as u32);
    let mut truncated = len_u32(d) < ip_len;
    if ip_proto == proto::AH && offset == 0 {
        // IPsec AH is skipped as an extension header (as tshark does).
        let chain = ext_chain(payload, ip_proto);
        ip_proto = chain.proto;
        payload = payload.get(chain.len..).unwrap_or(&[]);
        l4_len = l4_len.saturating_sub(chain.len as u32);
        truncated |= chain.cut;
    }
    let pkt = Packet {
        src,
        dst,
        ip_proto,
        ttl,
        ip_id: u32::from(id),
        ip_len,
        fragment,
        transport: Transport::None,
        payload_len: 0,
        digest: 0,
        digest_len: 0,
        encap: ctx.encap,
        vlan_count: ctx.vlan_count,
        truncated,
    };
    Ok(finish(pkt, payload, l4_len, inner_ctx))
}

pub(super) fn ipv6(d: &[u8], ctx: Ctx) -> Decoded {
    if byte(d, 0).or_truncated()? >> 4 != 6 {
        return Err(SkipReason::MalformedIp);
    }
    let (Some(src), Some(dst)) = (v6_addr(d, 8), v6_addr(d, 24)) else {
        return Err(SkipReason::Truncated);
    };
    let plen = be16(d, 4).unwrap_or(0);
    let next = byte(d, 6).unwrap_or(0);
    let ttl = byte(d, 7).unwrap_or(0);
    // Payload length 0 with a hop-by-hop header: a jumbogram or a large segmentation offload
    // packet; it runs to the end of the frame.
    let ip_len = if plen == 0 && next == proto::HOP_BY_HOP {
        len_u32(d).saturating_add(ctx.uncaptured).max(40)
    } else {
        u32::from(plen) + 40
    };
    let Bounds {
        payload,
        ctx: inner_ctx,
    } = bounds(d, 40, ip_len, ctx);
    let chain = ext_chain(payload, next);
    let pkt = Packet {
        src,
        dst,
        ip_proto: chain.proto,
        ttl,
        ip_id: chain.fragment.map_or(0, |f| f.id),
        ip_len,
        fragment: chain.fragment,
        transport: Transport::None,
        payload_len: 0,
        digest: 0,
        digest_len: 0,
        encap: ctx.encap,
        vlan_count: ctx.vlan_count,
        truncated: len_u32(d) < ip_len || chain.cut,
    };
    let l4 = payload.get(chain.len..).unwrap_or(&[]);
    let l4_len = (ip_len - 40).saturating_sub(chain.len as u32);
    Ok(finish(pkt, l4, l4_len, inner_ctx))
}

/// Fills in the transport of `pkt` from its payload `l4` (captured, within the IP length;
/// `l4_len` is the length the headers give), then looks for a tunnel inside it. A fragment is
/// never a tunnel, and a tunnel with no usable IP inside leaves `pkt` as the packet.
fn finish(mut pkt: Packet, l4: &[u8], l4_len: u32, ctx: Ctx) -> Packet {
    let non_first = pkt.fragment.is_some_and(|f| f.offset > 0);
    transport::fill(&mut pkt, l4, l4_len, non_first);
    if pkt.fragment.is_some_and(|f| f.offset > 0 || f.more) {
        return pkt;
    }
    match tunnel::inner(&pkt, l4, ctx) {
        Some(Ok(inner)) => inner,
        _ => pkt,
    }
}

/// The IPv6 extension header chain (or IPv4 AH) in front of the transport.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chain {
    /// The protocol that ends the chain.
    pub proto: u8,
    /// Bytes of extension headers.
    pub len: usize,
    pub fragment: Option<Fragment>,
    /// An extension header was cut short: `proto` is that header's own type.
    pub cut: bool,
}

/// Walks the extension headers at the start of `d`, the first of type `next`. Stops at the
/// first protocol that is not an extension header, after a non-first fragment's header, at a
/// header that does not fit in `d`, or after [`MAX_IPV6_EXT_HEADERS`] headers.
pub(super) fn ext_chain(d: &[u8], mut next: u8) -> Chain {
    let mut len = 0usize;
    let mut fragment = None;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        let size = match next {
            proto::HOP_BY_HOP
            | proto::ROUTING
            | proto::DEST_OPTS
            | proto::MOBILITY
            | proto::SHIM6 => byte(d, len + 1).map(|l| (usize::from(l) + 1) * 8),
            proto::AH => byte(d, len + 1).map(|l| (usize::from(l) + 2) * 4),
            proto::FRAGMENT => Some(8),
            _ => break,
        };
        let header = size.and_then(|size| d.get(len..len + size));
        let Some(header) = header else {
            return Chain {
                proto: next,
                len,
                fragment,
                cut: true,
            };
        };
        let following = byte(header, 0).unwrap_or(0);
        len += header.len();
        if next == proto::FRAGMENT {
            let offset_flags = be16(header, 2).unwrap_or(0);
            let offset = u32::from(offset_flags & 0xfff8);
            fragment = Some(Fragment {
                offset,
                more: offset_flags & 1 != 0,
                id: be32(header, 4).unwrap_or(0),
            });
            if offset > 0 {
                // What follows is the middle of the original payload.
                return Chain {
                    proto: following,
                    len,
                    fragment,
                    cut: false,
                };
            }
        }
        next = following;
    }
    Chain {
        proto: next,
        len,
        fragment,
        cut: false,
    }
}

/// The key fields of an IP header quoted in an ICMP error: addresses, protocol and, when
/// there, the ports or echo identifier (the quote is often cut, and its lengths describe
/// the original packet, not the quote).
pub(super) fn quoted(d: &[u8]) -> Option<transport::QuotedIp<'_>> {
    match byte(d, 0)? >> 4 {
        4 => {
            let hlen = usize::from(byte(d, 0)? & 0x0f) * 4;
            if hlen < 20 {
                return None;
            }
            let src = v4_addr(d, 12)?;
            let dst = v4_addr(d, 16)?;
            let mut ip_proto = byte(d, 9)?;
            let non_first = be16(d, 6)? & 0x1fff != 0;
            let mut l4 = d.get(hlen..).unwrap_or(&[]);
            if ip_proto == proto::AH && !non_first {
                let chain = ext_chain(l4, ip_proto);
                ip_proto = chain.proto;
                l4 = l4.get(chain.len..).unwrap_or(&[]);
            }
            Some(transport::QuotedIp {
                src,
                dst,
                ip_proto,
                l4,
                non_first,
            })
        }
        6 => {
            let src = v6_addr(d, 8)?;
            let dst = v6_addr(d, 24)?;
            let payload = d.get(40..)?;
            let chain = ext_chain(payload, byte(d, 6)?);
            Some(transport::QuotedIp {
                src,
                dst,
                ip_proto: chain.proto,
                l4: payload.get(chain.len..).unwrap_or(&[]),
                non_first: chain.fragment.is_some_and(|f| f.offset > 0),
            })
        }
        _ => None,
    }
}
