//! The payload digest: a hash of the first bytes after the last decoded header, which names
//! the same packet at another capture point.

use super::packet::Packet;

/// How many payload bytes the digest covers at most.
const DIGEST_BYTES: usize = 16;

/// Sets `payload_len` to `len` (what the headers say) and the digest of the `captured` payload.
#[inline]
pub(super) fn set_payload(pkt: &mut Packet, captured: &[u8], len: u32) {
    pkt.payload_len = len;
    let (digest, digest_len) = digest(captured);
    pkt.digest = digest;
    pkt.digest_len = digest_len;
}

/// Hash of the first `min(16, captured)` payload bytes and that count; (0, 0) for none.
///
/// The bytes are loaded as two little-endian words (zero-padded) and mixed with the count by
/// two folded 64x64->128-bit multiplications: not cryptographic, but every input bit reaches
/// every output bit, and it costs a few nanoseconds.
#[inline]
pub(super) fn digest(payload: &[u8]) -> (u64, u8) {
    const K0: u64 = 0x243f_6a88_85a3_08d3;
    const K1: u64 = 0x1319_8a2e_0370_7344;
    const K2: u64 = 0xa409_3822_299f_31d0;
    const K3: u64 = 0x082e_fa98_ec4e_6c89;
    let mut buf = [0u8; DIGEST_BYTES];
    let mut n = 0u8;
    for (slot, &b) in buf.iter_mut().zip(payload) {
        *slot = b;
        n += 1;
    }
    if n == 0 {
        return (0, 0);
    }
    let words = u128::from_le_bytes(buf);
    let (lo, hi) = (words as u64, (words >> 64) as u64);
    let h = fold(lo ^ K0, hi ^ K1 ^ u64::from(n));
    (fold(h ^ K2, u64::from(n) ^ K3), n)
}

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}
