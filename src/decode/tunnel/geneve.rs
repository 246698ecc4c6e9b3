//! GENEVE (RFC 8926).

use crate::decode::bytes::{be16, byte, rest, OrTruncated};
use crate::decode::layer::Layer;
use crate::decode::numbers::ethertype;
use crate::decode::packet::SkipReason;

/// Version (2 bits) and options length (6 bits, in 4-byte words).
const VERSION_OPT_LEN: usize = 0;
/// The payload's ether type.
const PROTOCOL: usize = 2;
/// Fixed part: version/options length, flags, protocol (2), VNI (3), reserved.
const HEADER: usize = 8;

/// GENEVE version 0: the header and its options, then the payload its protocol names.
pub(super) fn geneve(p: &[u8]) -> Result<Layer<'_>, SkipReason> {
    let b0 = byte(p, VERSION_OPT_LEN).or_truncated()?;
    if b0 >> 6 != 0 {
        return Err(SkipReason::NotIp);
    }
    let protocol = be16(p, PROTOCOL).or_truncated()?;
    let payload = rest(p, HEADER + usize::from(b0 & 0x3f) * 4).or_truncated()?;
    Ok(match protocol {
        ethertype::TRANSPARENT_ETHERNET => Layer::Ethernet(payload),
        other => Layer::EtherType(other, payload),
    })
}
