//! IPv6 header (RFC 8200) and its extension header chain (also used for IPv4's AH), and the
//! IPv6 header an ICMPv6 error quotes.

use super::bytes::{be16, be32, byte, len_u32, v6_addr, OrTruncated};
use super::layer::{ip_payload, to_end_of_frame, Ctx, IpPayload, QuotedIp};
use super::numbers::proto;
use super::packet::{Fragment, Packet, SkipReason, Transport};

/// Header fields: byte offsets.
const VERSION: usize = 0;
const PAYLOAD_LEN: usize = 4;
const NEXT_HEADER: usize = 6;
const HOP_LIMIT: usize = 7;
const SRC: usize = 8;
const DST: usize = 24;
const HEADER: usize = 40;

/// At most this many IPv6 extension headers in one chain (`ipv6_ext_headers.pcap` in the
/// corpus has 100 of them).
const MAX_EXT_HEADERS: usize = 128;

/// Extension headers: next header (1), length (1, in units that depend on the header).
const EXT_NEXT: usize = 0;
const EXT_LEN: usize = 1;
/// Fragment header: next header, reserved, offset (13 bits, in bytes once masked) + M flag,
/// identification (4).
const FRAG_HEADER: usize = 8;
const FRAG_OFFSET_FLAGS: usize = 2;
const FRAG_ID: usize = 4;
const FRAG_OFFSET_MASK: u16 = 0xfff8;
const FRAG_MORE: u16 = 0x0001;

/// Reads the IPv6 header at the start of `d` and skips its extension headers.
#[inline(always)]
pub(super) fn read<'a>(
    d: &'a [u8],
    ctx: Ctx,
    pkt: &mut Packet,
) -> Result<IpPayload<'a>, SkipReason> {
    if byte(d, VERSION).or_truncated()? >> 4 != 6 {
        return Err(SkipReason::MalformedIp);
    }
    let (Some(src), Some(dst)) = (v6_addr(d, SRC), v6_addr(d, DST)) else {
        return Err(SkipReason::Truncated);
    };
    let plen = be16(d, PAYLOAD_LEN).unwrap_or(0);
    let next = byte(d, NEXT_HEADER).unwrap_or(0);
    let ttl = byte(d, HOP_LIMIT).unwrap_or(0);
    // Payload length 0 with a hop-by-hop header: a jumbogram or a large segmentation offload
    // packet; it runs to the end of the frame.
    let ip_len = if plen == 0 && next == proto::HOP_BY_HOP {
        to_end_of_frame(d, ctx).max(HEADER as u32)
    } else {
        u32::from(plen) + HEADER as u32
    };
    let (payload, inner_ctx) = ip_payload(d, HEADER, ip_len, ctx);
    let chain = ext_chain(payload, next);
    *pkt = Packet {
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
        link_group: ctx.link_group,
        truncated: len_u32(d) < ip_len || chain.cut,
    };
    Ok(IpPayload {
        l4: payload.get(chain.len..).unwrap_or(&[]),
        l4_len: (ip_len - HEADER as u32).saturating_sub(chain.len as u32),
        inner_ctx,
    })
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

/// The size of extension header `next` whose first bytes are `d`; `None` when `next` is not
/// an extension header skipped here (`Some(None)` when its length byte is cut).
fn ext_size(next: u8, d: &[u8]) -> Option<Option<usize>> {
    let len_byte = || byte(d, EXT_LEN).map(usize::from);
    Some(match next {
        proto::HOP_BY_HOP | proto::ROUTING | proto::DEST_OPTS | proto::MOBILITY | proto::SHIM6 => {
            len_byte().map(|l| (l + 1) * 8)
        }
        proto::AH => len_byte().map(|l| (l + 2) * 4),
        proto::FRAGMENT => Some(FRAG_HEADER),
        _ => return None,
    })
}

/// Walks the extension headers at the start of `d`, the first of type `next`. Stops at the
/// first protocol that is not an extension header, after a non-first fragment's header, at a
/// header that does not fit in `d`, or after [`MAX_EXT_HEADERS`] headers.
pub(super) fn ext_chain(d: &[u8], mut next: u8) -> Chain {
    let mut len = 0usize;
    let mut fragment = None;
    for _ in 0..MAX_EXT_HEADERS {
        let here = d.get(len..).unwrap_or(&[]);
        let Some(size) = ext_size(next, here) else {
            break;
        };
        let Some(header) = size.and_then(|size| here.get(..size)) else {
            return Chain {
                proto: next,
                len,
                fragment,
                cut: true,
            };
        };
        let following = byte(header, EXT_NEXT).unwrap_or(0);
        len += header.len();
        if next == proto::FRAGMENT {
            let offset_flags = be16(header, FRAG_OFFSET_FLAGS).unwrap_or(0);
            let offset = u32::from(offset_flags & FRAG_OFFSET_MASK);
            fragment = Some(Fragment {
                offset,
                more: offset_flags & FRAG_MORE != 0,
                id: be32(header, FRAG_ID).unwrap_or(0),
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

/// The key fields of an IPv6 header quoted in an ICMPv6 error.
pub(super) fn quoted(d: &[u8]) -> Option<QuotedIp<'_>> {
    let src = v6_addr(d, SRC)?;
    let dst = v6_addr(d, DST)?;
    let payload = d.get(HEADER..)?;
    let chain = ext_chain(payload, byte(d, NEXT_HEADER)?);
    Some(QuotedIp {
        src,
        dst,
        ip_proto: chain.proto,
        l4: payload.get(chain.len..).unwrap_or(&[]),
        non_first: chain.fragment.is_some_and(|f| f.offset > 0),
    })
}
