//! Dictionary encoding for the columns of names (`Kind::Name`: points, protocols, verdicts,
//! rules, directions): each distinct string once, in a dictionary page, and each value as
//! its index, bit-packed (Parquet's `RLE_DICTIONARY`: a byte giving the bit width, then the
//! RLE/bit-packed hybrid, here in bit-packed runs only).
//!
//! On the 2 GB benchmark capture the name columns are 22 MB of the 118 MB the three tables
//! take with every string PLAIN-encoded (`verdict` alone 2.6 MB), and 1 MB as a dictionary:
//! less to write for about the same work per value (a hash lookup instead of a copy).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::hash::FastHasher;

/// Values per bit-packed run (a multiple of 8): one run header for every this many.
const RUN: usize = 8 * 1024;

/// The distinct strings of a column chunk and the index of each value.
#[derive(Debug, Default)]
pub struct Dict {
    /// The distinct strings, PLAIN-encoded: the dictionary page's body.
    pub page: Vec<u8>,
    /// How many distinct strings.
    pub len: u32,
    index: HashMap<Box<[u8]>, u32, BuildHasherDefault<FastHasher>>,
    /// Each value's index in the dictionary, in order.
    ids: Vec<u32>,
    /// Where each string starts in `page` (after its length).
    starts: Vec<u32>,
    /// The last value's index and where its string is in `page` (a column often repeats
    /// its value: it is compared with that string before it is looked up).
    last: Option<(u32, usize, usize)>,
    /// The index of each `&'static str` pushed ([`Dict::push_static`]), by its address and
    /// length: a few per column (verdicts, protocols, rules), found without reading them.
    statics: Vec<(usize, usize, u32)>,
    /// The index + 1 of each point's name pushed ([`Dict::push_point`]), by point (0: none
    /// yet).
    points: Vec<u32>,
}

/// Most `&'static str`s remembered by address per column chunk (more are looked up).
const STATICS: usize = 32;

impl Dict {
    /// A name that is a `&'static str` (a verdict, a protocol): found by its address, which
    /// no other text can share, before it is looked up.
    #[inline(always)]
    pub fn push_static(&mut self, v: &'static str) {
        let key = (v.as_ptr() as usize, v.len());
        let id = match self.statics.iter().find(|s| (s.0, s.1) == key) {
            Some(&(_, _, id)) => id,
            None => self.static_id(v),
        };
        self.ids.push(id);
    }

    #[cold]
    #[inline(never)]
    fn static_id(&mut self, v: &'static str) -> u32 {
        let id = self.id_of(v.as_bytes());
        if self.statics.len() < STATICS {
            self.statics.push((v.as_ptr() as usize, v.len(), id));
        }
        id
    }

    /// The name `v` of point `point` (the points' names do not change while a table is
    /// written): found by the point's place before it is looked up.
    #[inline(always)]
    pub fn push_point(&mut self, point: usize, v: &[u8]) {
        let id = match self.points.get(point) {
            Some(&known) if known > 0 => known - 1,
            _ => self.point_id(point, v),
        };
        self.ids.push(id);
    }

    #[cold]
    #[inline(never)]
    fn point_id(&mut self, point: usize, v: &[u8]) -> u32 {
        let id = self.id_of(v);
        if point < 1 << 16 {
            if self.points.len() <= point {
                self.points.resize(point + 1, 0);
            }
            self.points[point] = id + 1;
        }
        id
    }

    /// The index of `v`, added if it is new.
    fn id_of(&mut self, v: &[u8]) -> u32 {
        match self.index.get(v) {
            Some(&id) => id,
            None => self.add(v),
        }
    }

    #[inline(always)]
    pub fn push(&mut self, v: &[u8]) {
        if let Some((id, start, end)) = self.last {
            if end - start == v.len() && self.page.get(start..end) == Some(v) {
                self.ids.push(id);
                return;
            }
        }
        self.look_up(v);
    }

    #[inline(never)]
    fn look_up(&mut self, v: &[u8]) {
        let id = self.id_of(v);
        self.ids.push(id);
        let start = self.starts.get(id as usize).map_or(0, |&s| s as usize);
        self.last = Some((id, start, start + v.len()));
    }

    #[cold]
    fn add(&mut self, v: &[u8]) -> u32 {
        let id = self.len;
        self.page.extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.starts.push(self.page.len() as u32);
        self.page.extend_from_slice(v);
        self.index.insert(v.into(), id);
        self.len += 1;
        id
    }

    /// The indices, encoded as a data page's values: the bit width, then bit-packed runs.
    pub fn encode_ids(&self, out: &mut Vec<u8>) {
        let width = bit_width(self.len.saturating_sub(1));
        out.push(width);
        for run in self.ids.chunks(RUN) {
            let groups = run.len().div_ceil(8);
            super::rle::varint(out, ((groups as u64) << 1) | 1);
            let start = out.len();
            let mut acc: u64 = 0;
            let mut bits = 0u32;
            for &id in run {
                acc |= u64::from(id) << bits;
                bits += u32::from(width);
                while bits >= 8 {
                    out.push(acc as u8);
                    acc >>= 8;
                    bits -= 8;
                }
            }
            if bits > 0 {
                out.push(acc as u8);
            }
            // the last group is padded to 8 values
            out.resize(start + groups * usize::from(width), 0);
        }
    }

    /// Empties the dictionary for the next column chunk, keeping its room.
    pub fn clear(&mut self) {
        self.page.clear();
        self.len = 0;
        self.index.clear();
        self.ids.clear();
        self.starts.clear();
        self.last = None;
        self.statics.clear();
        self.points.clear();
    }
}

/// Bits to write the indices up to `max` (at least 1).
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()).max(1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_string_once_and_values_as_indices() {
        let mut d = Dict::default();
        for v in ["a", "bb", "a", "a", "c"] {
            d.push(v.as_bytes());
        }
        assert_eq!(d.len, 3);
        assert_eq!(
            d.page,
            [1, 0, 0, 0, b'a', 2, 0, 0, 0, b'b', b'b', 1, 0, 0, 0, b'c']
        );
        let mut out = Vec::new();
        d.encode_ids(&mut out);
        // width 2; one run of one group: header (1 << 1) | 1; ids 0 1 0 0 2 (then padding)
        // packed two bits each from the lowest: 0b00_00_01_00, 0b00_00_00_10
        assert_eq!(out, [2, 3, 0b0000_0100, 0b0000_0010]);
    }

    #[test]
    fn runs_are_cut_and_padded() {
        let mut d = Dict::default();
        for i in 0..(RUN + 3) {
            d.push(if i % 2 == 0 { b"x" } else { b"y" });
        }
        let mut out = Vec::new();
        d.encode_ids(&mut out);
        // width 1; a run of RUN values (RUN / 8 bytes), then one of 3 values (one byte)
        let first = (RUN / 8) as u64;
        let mut header = Vec::new();
        super::super::rle::varint(&mut header, (first << 1) | 1);
        assert_eq!(out.len(), 1 + header.len() + RUN / 8 + 1 + 1);
        assert_eq!(out[1..1 + header.len()], header[..]);
        assert_eq!(out[1 + header.len()], 0b1010_1010);
        assert_eq!(out[out.len() - 2..], [3, 0b010]);
    }

    #[test]
    fn widths() {
        assert_eq!(bit_width(0), 1);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(2), 2);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
    }
}
