//! VXLAN (RFC 7348) and VXLAN-GPE.

use crate::decode::bytes::{byte, rest, OrTruncated};
use crate::decode::layer::{Ip, Layer};
use crate::decode::packet::SkipReason;

/// Both headers are 8 bytes: flags, reserved or next protocol, VNI.
const HEADER: usize = 8;
/// VXLAN-GPE's next protocol byte and its values.
const GPE_NEXT_PROTOCOL: usize = 3;
const GPE_IPV4: u8 = 1;
const GPE_IPV6: u8 = 2;
const GPE_ETHERNET: u8 = 3;
const GPE_MPLS: u8 = 5;

/// VXLAN: the header, then Ethernet.
pub(super) fn vxlan(p: &[u8]) -> Result<Layer<'_>, SkipReason> {
    Ok(Layer::Ethernet(rest(p, HEADER).or_truncated()?))
}

/// VXLAN-GPE: the header names the payload.
pub(super) fn gpe(p: &[u8]) -> Result<Layer<'_>, SkipReason> {
    let payload = rest(p, HEADER).or_truncated()?;
    match byte(p, GPE_NEXT_PROTOCOL) {
        Some(GPE_IPV4) => Ok(Layer::Ip(Ip::Any(payload))),
        Some(GPE_IPV6) => Ok(Layer::Ip(Ip::V6(payload))),
        Some(GPE_ETHERNET) => Ok(Layer::Ethernet(payload)),
        Some(GPE_MPLS) => Ok(Layer::Mpls(payload)),
        _ => Err(SkipReason::NotIp),
    }
}
