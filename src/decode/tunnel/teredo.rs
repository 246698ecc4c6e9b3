//! Teredo (RFC 4380): IPv6 in UDP.

use crate::decode::bytes::{be16, byte, rest, OrTruncated};
use crate::decode::layer::{Ip, Layer};
use crate::decode::packet::SkipReason;

/// Authentication header: indicator 0x0001, client id length, auth value length, client id,
/// auth value, nonce (8), confirmation (1).
const AUTH_INDICATOR: u16 = 0x0001;
const AUTH_ID_LEN: usize = 2;
const AUTH_VALUE_LEN: usize = 3;
const AUTH_FIXED: usize = 4 + 8 + 1;
/// Origin indication: indicator 0x0000, obfuscated port (2), obfuscated address (4).
const ORIGIN_INDICATOR: u16 = 0x0000;
const ORIGIN_LEN: usize = 8;

/// Teredo: IPv6, possibly behind an authentication header and/or an origin indication.
pub(super) fn teredo(p: &[u8]) -> Result<Layer<'_>, SkipReason> {
    let mut off = 0;
    if be16(p, off) == Some(AUTH_INDICATOR) {
        let id_len = usize::from(byte(p, AUTH_ID_LEN).or_truncated()?);
        let auth_len = usize::from(byte(p, AUTH_VALUE_LEN).or_truncated()?);
        off += AUTH_FIXED + id_len + auth_len;
    }
    if be16(p, off) == Some(ORIGIN_INDICATOR) {
        off += ORIGIN_LEN;
    }
    Ok(Layer::Ip(Ip::V6(rest(p, off).or_truncated()?)))
}
