//! hash: a small, fast, deterministic hasher for the flow tables.
//!
//! The tables are keyed by addresses and ports that come from the capture, so HashDoS is not
//! the threat model here (a hostile capture can only slow its own analysis); speed and
//! reproducible iteration order matter more. This is the multiply-rotate scheme popularised
//! by Firefox and rustc ("Fx"), written for this crate.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiply-rotate hasher: one rotate, one xor and one multiply per word.
#[derive(Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits depending only on the low bits of the words, and
        // hash tables index buckets by the low bits: finish with a full avalanche (the
        // 64-bit finaliser of MurmurHash3) so every input bit reaches every output bit.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// `BuildHasher` for `HashMap`/`IndexMap` with [`FastHasher`].
pub type FastState = BuildHasherDefault<FastHasher>;

/// An insertion-ordered map with the fast hasher.
pub type FastIndexMap<K, V> = indexmap::IndexMap<K, V, FastState>;

/// A hash map with the fast hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

/// Asks the processor to bring the cache line holding `r` closer: a hint with no effect on
/// what the program computes. The flow table issues it for the packets of a batch ahead of
/// the one it updates, so that their lookups overlap instead of waiting one after another.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` only hints the cache; it never faults, not even on an invalid
    // address (and `r` is a valid reference), and SSE is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((r as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn h<T: Hash>(t: T) -> u64 {
        FastState::default().hash_one(t)
    }

    #[test]
    fn equal_values_hash_equal_and_different_values_differ() {
        assert_eq!(h((1u32, 2u16)), h((1u32, 2u16)));
        assert_ne!(h((1u32, 2u16)), h((2u32, 1u16)));
        assert_ne!(h(&b"abc"[..]), h(&b"abd"[..]));
        // tail length is part of the hash: "a\0" and "a" differ
        assert_ne!(h(&b"a\0"[..]), h(&b"a"[..]));
    }

    #[test]
    fn low_bits_spread_when_only_high_bits_of_the_input_differ() {
        // keys that differ only above bit 32 must not share their low bits (bucket index)
        let buckets: std::collections::HashSet<u64> =
            (0..256u64).map(|i| h(i << 40) & 0xff).collect();
        assert!(buckets.len() > 128, "{} distinct low bytes", buckets.len());
    }
}
