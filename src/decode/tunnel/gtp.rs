//! GTP-U (3GPP TS 29.281): only a version 1 G-PDU carries a user IP packet.

use crate::decode::bytes::{byte, rest, OrTruncated};
use crate::decode::layer::{Ip, Layer};
use crate::decode::packet::SkipReason;

/// At most this many GTP-U extension headers.
const MAX_EXT: usize = 8;

/// Flags: version (3 bits), protocol type, reserved, E, S, PN.
const FLAGS: usize = 0;
const VERSION_1: u8 = 1;
const PROTOCOL_TYPE_GTP: u8 = 0x10;
/// Any of E, S, PN: the optional 4-byte word (sequence number (2), N-PDU number, next
/// extension header type) is there.
const OPTIONAL_WORD: u8 = 0x07;
const MESSAGE_TYPE: usize = 1;
const G_PDU: u8 = 0xff;
/// Mandatory header: flags, message type, length (2), TEID (4).
const HEADER: usize = 8;
const NEXT_EXT_TYPE: usize = 11;
const HEADER_WITH_OPTIONAL: usize = 12;

/// GTP-U: the header and its extension headers (each: length in 4-byte words, content, next
/// type in its last byte), then IP.
pub(super) fn gtp_u(p: &[u8]) -> Result<Layer<'_>, SkipReason> {
    let flags = byte(p, FLAGS).or_truncated()?;
    if flags >> 5 != VERSION_1
        || flags & PROTOCOL_TYPE_GTP == 0
        || byte(p, MESSAGE_TYPE).or_truncated()? != G_PDU
    {
        return Err(SkipReason::NotIp);
    }
    let mut off = HEADER;
    if flags & OPTIONAL_WORD != 0 {
        let mut next = byte(p, NEXT_EXT_TYPE).or_truncated()?;
        off = HEADER_WITH_OPTIONAL;
        let mut seen = 0;
        while next != 0 {
            seen += 1;
            let words = usize::from(byte(p, off).or_truncated()?);
            if seen > MAX_EXT || words == 0 {
                return Err(SkipReason::NotIp);
            }
            off += words * 4;
            next = byte(p, off - 1).or_truncated()?;
        }
    }
    Ok(Layer::Ip(Ip::Any(rest(p, off).or_truncated()?)))
}
