//! UDP header (RFC 768): ports; its length and checksum are not used (the IP length bounds
//! the datagram).

use super::bytes::{be16, rest};
use super::digest::set_payload;
use super::packet::{Packet, Transport};

/// Header fields: byte offsets (the same as TCP's for the ports).
pub(super) const SRC_PORT: usize = 0;
pub(super) const DST_PORT: usize = 2;
pub(super) const HEADER: usize = 8;

/// Fills the UDP transport of `pkt` from the IP payload `l4` (captured) of length `l4_len`.
#[inline(always)]
pub(super) fn fill(pkt: &mut Packet, l4: &[u8], l4_len: u32) {
    let payload_len = l4_len.saturating_sub(HEADER as u32);
    let (Some(sport), Some(dport)) = (be16(l4, SRC_PORT), be16(l4, DST_PORT)) else {
        pkt.truncated = true;
        pkt.payload_len = payload_len;
        return;
    };
    if l4.len() < HEADER {
        pkt.truncated = true;
    }
    pkt.transport = Transport::Udp { sport, dport };
    set_payload(pkt, payload(l4).unwrap_or(&[]), payload_len);
}

/// The datagram's payload (`None` when the header is cut).
pub(super) fn payload(l4: &[u8]) -> Option<&[u8]> {
    rest(l4, HEADER)
}
