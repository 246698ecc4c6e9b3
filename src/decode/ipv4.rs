//! IPv4 header (RFC 791, options skipped by the header length; IPsec AH skipped as an
//! extension header, as tshark does), and the IPv4 header an ICMP error quotes.

use super::bytes::{be16, byte, len_u32, v4_addr, OrTruncated};
use super::ipv6::ext_chain;
use super::layer::{ip_payload, to_end_of_frame, Ctx, IpPayload, QuotedIp};
use super::numbers::proto;
use super::packet::{Fragment, Packet, SkipReason, Transport};

/// Header fields: byte offsets.
const VERSION_IHL: usize = 0;
const TOTAL_LEN: usize = 2;
const ID: usize = 4;
const FLAGS_FRAGMENT: usize = 6;
const TTL: usize = 8;
const PROTOCOL: usize = 9;
const SRC: usize = 12;
const DST: usize = 16;
/// The header without options.
const MIN_HEADER: usize = 20;
/// In the flags/fragment offset word: more fragments, and the offset in 8-byte units.
const MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET: u16 = 0x1fff;

/// The header length from the version/IHL byte (IHL counts 4-byte words).
fn header_len(version_ihl: u8) -> usize {
    usize::from(version_ihl & 0x0f) * 4
}

/// Reads the IPv4 header at the start of `d` (version nibble 4 already checked or not).
#[inline(always)]
pub(super) fn read<'a>(
    d: &'a [u8],
    ctx: Ctx,
    pkt: &mut Packet,
) -> Result<IpPayload<'a>, SkipReason> {
    let b0 = byte(d, VERSION_IHL).or_truncated()?;
    if b0 >> 4 != 4 {
        return Err(SkipReason::MalformedIp);
    }
    let hlen = header_len(b0);
    if hlen < MIN_HEADER {
        return Err(SkipReason::MalformedIp);
    }
    let total = be16(d, TOTAL_LEN).or_truncated()?;
    if total != 0 && usize::from(total) < hlen {
        return Err(SkipReason::MalformedIp);
    }
    let (Some(src), Some(dst)) = (v4_addr(d, SRC), v4_addr(d, DST)) else {
        return Err(SkipReason::Truncated);
    };
    // Every byte below 20 is there now that the addresses are.
    let id = be16(d, ID).unwrap_or(0);
    let flags_offset = be16(d, FLAGS_FRAGMENT).unwrap_or(0);
    let ttl = byte(d, TTL).unwrap_or(0);
    let mut ip_proto = byte(d, PROTOCOL).unwrap_or(0);
    // Total length 0: TCP segmentation offload, the packet runs to the end of the frame.
    let ip_len = if total == 0 {
        to_end_of_frame(d, ctx)
    } else {
        u32::from(total)
    };
    let offset = u32::from(flags_offset & FRAGMENT_OFFSET) * 8;
    let more = flags_offset & MORE_FRAGMENTS != 0;
    let fragment = (offset > 0 || more).then_some(Fragment {
        offset,
        more,
        id: u32::from(id),
    });

    let (mut l4, inner_ctx) = ip_payload(d, hlen, ip_len, ctx);
    let mut l4_len = ip_len.saturating_sub(hlen as u32);
    let mut truncated = len_u32(d) < ip_len;
    if ip_proto == proto::AH && offset == 0 {
        let chain = ext_chain(l4, ip_proto);
        ip_proto = chain.proto;
        l4 = l4.get(chain.len..).unwrap_or(&[]);
        l4_len = l4_len.saturating_sub(chain.len as u32);
        truncated |= chain.cut;
    }
    *pkt = Packet {
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
        link_group: ctx.link_group,
        truncated,
    };
    Ok(IpPayload {
        l4,
        l4_len,
        inner_ctx,
    })
}

/// The key fields of an IPv4 header quoted in an ICMP error (its lengths describe the original
/// packet, not the quote, so only the header length is used).
pub(super) fn quoted(d: &[u8]) -> Option<QuotedIp<'_>> {
    let hlen = header_len(byte(d, VERSION_IHL)?);
    if hlen < MIN_HEADER {
        return None;
    }
    let src = v4_addr(d, SRC)?;
    let dst = v4_addr(d, DST)?;
    let mut ip_proto = byte(d, PROTOCOL)?;
    let non_first = be16(d, FLAGS_FRAGMENT)? & FRAGMENT_OFFSET != 0;
    let mut l4 = d.get(hlen..).unwrap_or(&[]);
    if ip_proto == proto::AH && !non_first {
        let chain = ext_chain(l4, ip_proto);
        ip_proto = chain.proto;
        l4 = l4.get(chain.len..).unwrap_or(&[]);
    }
    Some(QuotedIp {
        src,
        dst,
        ip_proto,
        l4,
        non_first,
    })
}
