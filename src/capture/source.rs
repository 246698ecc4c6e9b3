//! The compressed bytes of a gzip, zstd or lz4 capture, buffered from the file for the
//! decoders (`gzip.rs`, `zstd.rs`, `lz4.rs`), with the damage they report.

use std::io::{self, Read};

/// Compressed bytes buffered from the source.
const INPUT_BUFFER: usize = 64 << 10;

/// A buffered byte source: `buf[pos..end]` holds the bytes not yet consumed.
pub(super) struct Source {
    src: Box<dyn Read + Send>,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
}

/// Damage in a compressed stream, named after its format (`zstd: ...`, `lz4: ...`).
pub(super) fn damage(format: &str, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{format}: {what}"))
}

impl Source {
    pub(super) fn new(src: Box<dyn Read + Send>) -> Source {
        Source {
            src,
            buf: vec![0; INPUT_BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
        }
    }

    /// The buffered bytes not yet consumed.
    pub(super) fn peek(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// Marks `n` buffered bytes as consumed.
    pub(super) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }

    /// True once the source has ended (buffered bytes may remain).
    pub(super) fn eof(&self) -> bool {
        self.eof
    }

    /// True once the source has ended and every buffered byte was consumed.
    pub(super) fn at_end(&self) -> bool {
        self.eof && self.pos == self.end
    }

    /// Reads more bytes (after moving the unread ones to the front); `Ok(false)` when the
    /// source is at its end or the buffer is full.
    pub(super) fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        loop {
            let free = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            if free.is_empty() {
                return Ok(false);
            }
            match self.src.read(free) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(k) => {
                    self.end = (self.end + k).min(self.buf.len());
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes `n` (at most the buffer's size) bytes available; `Ok(false)` when the stream
    /// ends first.
    pub(super) fn need(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.pos < n {
            if !self.fill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Moves the next `n` bytes into `out` (replacing its content); `Ok(false)` when the
    /// stream ends first (`out` then holds what there was).
    pub(super) fn take(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<bool> {
        out.clear();
        while out.len() < n {
            if self.pos == self.end && !self.fill()? {
                return Ok(false);
            }
            let k = (n - out.len()).min(self.end - self.pos);
            out.extend_from_slice(self.peek().get(..k).unwrap_or(&[]));
            self.pos += k;
        }
        Ok(true)
    }

    /// Skips `n` bytes; `Ok(false)` when the stream ends first.
    pub(super) fn skip(&mut self, mut n: u64) -> io::Result<bool> {
        while n > 0 {
            if self.pos == self.end && !self.fill()? {
                return Ok(false);
            }
            let k = n.min((self.end - self.pos) as u64) as usize;
            self.pos += k;
            n -= k as u64;
        }
        Ok(true)
    }

    /// A little-endian u32 at `i` of the buffered bytes (0 when not buffered).
    pub(super) fn u32_at(&self, i: usize) -> u32 {
        let b = |k: usize| self.peek().get(i + k).copied().unwrap_or(0);
        u32::from_le_bytes([b(0), b(1), b(2), b(3)])
    }
}
