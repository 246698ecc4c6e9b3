//! GRE version 0 (RFC 1701/2784/2890, with RFC 1701 source routing) and version 1 (PPTP's
//! enhanced GRE), and the ERSPAN types I, II and III it carries.

use crate::decode::bytes::{be16, byte, rest, OrTruncated};
use crate::decode::layer::{Ctx, Ip, Layer};
use crate::decode::numbers::ethertype;
use crate::decode::packet::{encap, SkipReason};

/// At most this many RFC 1701 source route entries in a GRE header.
const MAX_SRE: usize = 8;

/// Header: flags and version (2), protocol type (2), then the optional words the flags announce.
const FLAGS: usize = 0;
const PROTOCOL: usize = 2;
const FIXED: usize = 4;
const CHECKSUM: u16 = 0x8000;
const ROUTING: u16 = 0x4000;
const KEY: u16 = 0x2000;
const SEQUENCE: u16 = 0x1000;
/// Version 1 only: an acknowledgement number follows.
const ACK: u16 = 0x0080;
const VERSION: u16 = 0x0007;
/// Each optional field (checksum + offset, key, sequence, ack) is one 4-byte word.
const WORD: usize = 4;
/// A source route entry: address family (2), offset (1), length (1), then `length` bytes.
const SRE_LENGTH: usize = 3;
const SRE_FIXED: usize = 4;
/// ERSPAN type II header (type I, sent without a GRE sequence number, has none).
const ERSPAN_II_HEADER: usize = 8;
/// Cisco metadata over GRE: ether type (2), then version, length, option and SGT.
const CMD_TYPE: usize = 0;
const CMD_LEN: usize = 8;

/// GRE: the header, then what its protocol type names (adds the ERSPAN bit to `ctx`).
pub(super) fn gre<'a>(p: &'a [u8], ctx: &mut Ctx) -> Result<Layer<'a>, SkipReason> {
    let flags = be16(p, FLAGS).or_truncated()?;
    let protocol = be16(p, PROTOCOL).or_truncated()?;
    let version = flags & VERSION;
    if version > 1 {
        return Err(SkipReason::NotIp);
    }
    let mut off = FIXED;
    for bit in [CHECKSUM | ROUTING, KEY, SEQUENCE] {
        if flags & bit != 0 {
            off += WORD;
        }
    }
    if version == 1 && flags & ACK != 0 {
        off += WORD;
    }
    if version == 0 && flags & ROUTING != 0 {
        off = source_routes(p, off)?;
    }
    let payload = rest(p, off).or_truncated()?;
    match protocol {
        ethertype::TRANSPARENT_ETHERNET => Ok(Layer::Ethernet(payload)),
        ethertype::ERSPAN_II => {
            *ctx = ctx.with(encap::ERSPAN);
            let header = if flags & SEQUENCE != 0 {
                ERSPAN_II_HEADER
            } else {
                0
            };
            Ok(Layer::Ethernet(rest(payload, header).or_truncated()?))
        }
        ethertype::ERSPAN_III => {
            *ctx = ctx.with(encap::ERSPAN);
            erspan_iii(payload)
        }
        ethertype::PPP => Ok(Layer::Ppp(payload)),
        // Cisco metadata over GRE puts its ether type first, unlike on Ethernet.
        ethertype::CISCO_METADATA => {
            let et = be16(payload, CMD_TYPE).or_truncated()?;
            Ok(Layer::EtherType(et, rest(payload, CMD_LEN).or_truncated()?))
        }
        0..=ethertype::MAX_8023_LEN => Err(SkipReason::NotIp), // e.g. a keepalive's 0
        other => Ok(Layer::EtherType(other, payload)),
    }
}

/// The offset past the source route entries starting at `off`; the list ends with an entry
/// of family 0 and length 0.
fn source_routes(p: &[u8], mut off: usize) -> Result<usize, SkipReason> {
    let mut entries = 0;
    loop {
        let family = be16(p, off).or_truncated()?;
        let length = usize::from(byte(p, off + SRE_LENGTH).or_truncated()?);
        off += SRE_FIXED + length;
        if family == 0 && length == 0 {
            return Ok(off);
        }
        entries += 1;
        if entries >= MAX_SRE {
            return Err(SkipReason::NotIp);
        }
    }
}

/// ERSPAN type III: 12-byte header, an 8-byte platform specific subheader when its O bit is
/// set, then Ethernet (frame type 0) or IP (frame type 2).
const ERSPAN_III_FRAME_TYPE: usize = 10;
const ERSPAN_III_FLAGS: usize = 11;
const ERSPAN_III_O_BIT: u8 = 0x01;
const ERSPAN_III_HEADER: usize = 12;
const ERSPAN_III_SUBHEADER: usize = 8;

fn erspan_iii(p: &[u8]) -> Result<Layer<'_>, SkipReason> {
    let frame_type_byte = byte(p, ERSPAN_III_FRAME_TYPE).or_truncated()?;
    let flags = byte(p, ERSPAN_III_FLAGS).or_truncated()?;
    let header = if flags & ERSPAN_III_O_BIT != 0 {
        ERSPAN_III_HEADER + ERSPAN_III_SUBHEADER
    } else {
        ERSPAN_III_HEADER
    };
    let payload = rest(p, header).or_truncated()?;
    match (frame_type_byte >> 2) & 0x1f {
        0 => Ok(Layer::Ethernet(payload)),
        2 => Ok(Layer::Ip(Ip::Any(payload))),
        _ => Err(SkipReason::NotIp),
    }
}
