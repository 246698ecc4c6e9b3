//! Bounds-checked big-endian readers over captured bytes: every header field is read through
//! these, so a frame cut anywhere gives `None` (or [`SkipReason::Truncated`]), never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::packet::SkipReason;

/// `Option` -> `Result` with [`SkipReason::Truncated`]: a header read past the captured bytes.
pub(super) trait OrTruncated<T> {
    fn or_truncated(self) -> Result<T, SkipReason>;
}

impl<T> OrTruncated<T> for Option<T> {
    #[inline]
    fn or_truncated(self) -> Result<T, SkipReason> {
        self.ok_or(SkipReason::Truncated)
    }
}

#[inline]
pub(super) fn byte(d: &[u8], at: usize) -> Option<u8> {
    d.get(at).copied()
}

#[inline]
pub(super) fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

#[inline]
pub(super) fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

/// The bytes of `d` from `from` on (`None` when `d` is shorter).
#[inline]
pub(super) fn rest(d: &[u8], from: usize) -> Option<&[u8]> {
    d.get(from..)
}

#[inline]
pub(super) fn v4_addr(d: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 4] = d.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(b)))
}

#[inline]
pub(super) fn v6_addr(d: &[u8], at: usize) -> Option<IpAddr> {
    let b: [u8; 16] = d.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(b)))
}

/// A slice length as a header-sized count (saturating; captures never hold 4 GiB frames).
#[inline]
pub(super) fn len_u32(d: &[u8]) -> u32 {
    u32::try_from(d.len()).unwrap_or(u32::MAX)
}
