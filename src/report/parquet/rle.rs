//! Parquet's RLE/bit-packed hybrid, the pieces written here: run headers (unsigned LEB128)
//! and definition and repetition levels in RLE runs (levels come in long runs: a column of
//! a single point's lists repeats one level per row). The bit-packed runs of dictionary
//! indices are `dict.rs`'s.

/// Levels (definition or repetition) of a column chunk, RLE-encoded as they are pushed.
/// A level is at most 2 (a list's optional field), so a run's value is one byte.
#[derive(Debug, Default)]
pub struct Levels {
    out: Vec<u8>,
    level: u8,
    run: u32,
}

impl Levels {
    #[inline(always)]
    pub fn push(&mut self, level: u8) {
        self.push_run(level, 1);
    }

    /// `n` entries of `level` (`n` may be 0).
    #[inline(always)]
    pub fn push_run(&mut self, level: u8, n: u32) {
        if n == 0 {
            return;
        }
        if level != self.level || self.run == 0 {
            self.flush();
            self.level = level;
        }
        self.run += n;
    }

    /// Writes the run in progress.
    #[inline(never)]
    fn flush(&mut self) {
        if self.run > 0 {
            varint(&mut self.out, u64::from(self.run) << 1);
            self.out.push(self.level);
            self.run = 0;
        }
    }

    /// Ends the run in progress: the levels are complete ([`Levels::section_len`]).
    pub fn end(&mut self) {
        self.flush();
    }

    /// Bytes of the page section of the ended runs.
    pub fn section_len(&self) -> usize {
        4 + self.out.len()
    }

    /// The runs, ended, as a page section written to `out`: their length (4 bytes,
    /// little-endian) then them.
    pub fn write_section(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.flush();
        out.write_all(&(self.out.len() as u32).to_le_bytes())?;
        out.write_all(&self.out)
    }

    pub fn clear(&mut self) {
        self.out.clear();
        self.run = 0;
    }
}

/// Unsigned LEB128, as Parquet's RLE run headers are written.
pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_runs_with_their_length_first() {
        let mut l = Levels::default();
        for v in [1, 1, 1, 0, 2, 2] {
            l.push(v);
        }
        let mut page = Vec::new();
        l.write_section(&mut page).unwrap();
        // three runs: 3 x 1, 1 x 0, 2 x 2, each (count << 1) then the level
        assert_eq!(page, [6, 0, 0, 0, 6, 1, 2, 0, 4, 2]);
    }

    #[test]
    fn a_long_run_has_a_varint_header() {
        let mut l = Levels::default();
        (0..300).for_each(|_| l.push(1));
        let mut page = Vec::new();
        l.write_section(&mut page).unwrap();
        // 600 = 0b100_1011000: 0xd8 0x04
        assert_eq!(page, [3, 0, 0, 0, 0xd8, 0x04, 1]);
    }
}
