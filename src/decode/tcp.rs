//! TCP header (RFC 9293): ports, flags, sequence and acknowledgement numbers; the payload
//! starts after the data offset.

use super::bytes::{be16, be32, byte};
use super::digest::set_payload;
use super::packet::{Packet, Transport};

/// Header fields: byte offsets.
pub(super) const SRC_PORT: usize = 0;
pub(super) const DST_PORT: usize = 2;
const SEQ: usize = 4;
const ACK: usize = 8;
/// Data offset in the high nibble, in 4-byte words.
const DATA_OFFSET: usize = 12;
const FLAGS: usize = 13;
const MIN_HEADER: usize = 20;

/// Fills the TCP transport of `pkt` from the IP payload `l4` (captured) of length `l4_len`.
/// The ports are enough; flags, sequence and acknowledgement are 0 when cut.
#[inline(always)]
pub(super) fn fill(pkt: &mut Packet, l4: &[u8], l4_len: u32) {
    let (Some(sport), Some(dport)) = (be16(l4, SRC_PORT), be16(l4, DST_PORT)) else {
        pkt.truncated = true;
        pkt.payload_len = l4_len.saturating_sub(MIN_HEADER as u32);
        return;
    };
    let flags = byte(l4, FLAGS);
    // A data offset below 5 is bogus; read the payload as if it were 5.
    let hlen = byte(l4, DATA_OFFSET)
        .map_or(MIN_HEADER, |b| usize::from(b >> 4) * 4)
        .max(MIN_HEADER);
    if flags.is_none() || l4.len() < hlen {
        pkt.truncated = true;
    }
    pkt.transport = Transport::Tcp {
        sport,
        dport,
        flags: flags.unwrap_or(0),
        seq: be32(l4, SEQ).unwrap_or(0),
        ack: be32(l4, ACK).unwrap_or(0),
    };
    set_payload(
        pkt,
        l4.get(hlen..).unwrap_or(&[]),
        l4_len.saturating_sub(hlen as u32),
    );
}
