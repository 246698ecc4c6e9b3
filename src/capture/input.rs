//! The read buffer: bytes of the (decompressed) stream not yet consumed, refilled on demand.

use std::io::{self, Cursor, Read};

use super::gzip::Gunzip;
use super::lz4::Unlz4;
use super::zstd::Unzstd;
use super::Compression;

/// A byte stream seen through one buffer; `buf[pos..end]` holds the bytes not yet consumed.
pub(super) struct Input {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Zero padding the gzip decoder skipped after the last member (see `gzip`).
    gzip_zeros: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl Input {
    pub(super) fn new(src: Box<dyn Read + Send>, size: usize) -> Input {
        Input {
            src,
            buf: vec![0; size],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            gzip_zeros: None,
        }
    }

    /// Zero bytes the gzip decoder skipped after the last member.
    pub(super) fn gzip_trailing_zeros(&self) -> u64 {
        self.gzip_zeros
            .as_ref()
            .map_or(0, |z| z.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Switches to decompressing the stream: the bytes buffered so far are handed to the
    /// decoder first, then the rest of the source. Offsets restart at 0 (they count
    /// decompressed bytes).
    pub(super) fn decompress(&mut self, codec: Compression) -> io::Result<()> {
        let read_so_far = self.peek().to_vec();
        let src = std::mem::replace(&mut self.src, Box::new(io::empty()));
        let compressed: Box<dyn Read + Send> = Box::new(Cursor::new(read_so_far).chain(src));
        self.src = match codec {
            Compression::Gzip => {
                let gunzip = Gunzip::new(compressed);
                self.gzip_zeros = Some(gunzip.trailing_zeros());
                Box::new(gunzip)
            }
            Compression::Zstd => Box::new(Unzstd::new(compressed)?),
            Compression::Lz4 => Box::new(Unlz4::new(compressed)),
        };
        self.pos = 0;
        self.end = 0;
        self.base = 0;
        self.eof = false;
        Ok(())
    }

    /// Stream offset of the first unconsumed byte.
    #[inline]
    pub(super) fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// Index in the buffer of the first unconsumed byte (stable until the next `ensure`).
    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The unconsumed bytes in the buffer (at least what the last successful `ensure` asked).
    #[inline]
    pub(super) fn peek(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// `len` bytes of the buffer from index `start` (empty if out of range, which the
    /// callers rule out).
    #[inline]
    pub(super) fn slice(&self, start: usize, len: usize) -> &[u8] {
        start
            .checked_add(len)
            .and_then(|end| self.buf.get(start..end))
            .unwrap_or(&[])
    }

    /// Marks `n` bytes as consumed (they must be available).
    #[inline]
    pub(super) fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.end);
    }

    /// Asks the processor for the first unconsumed bytes (the next record's header, after a
    /// record was consumed), so that they arrive while the record just read is decoded: the
    /// record headers of a capture are a cache miss each otherwise (measured: the read phase
    /// of the 2 GB benchmark 0.02 s shorter).
    #[inline]
    pub(super) fn prefetch_next(&self) {
        if let Some(next) = self.peek().first() {
            crate::hash::prefetch(next);
        }
    }

    /// Makes `n` bytes available from the current position: `Ok(true)` if they are,
    /// `Ok(false)` if the stream ends first (`peek` then shows what is left). `n` must be
    /// bounded by the caller (the buffer grows to hold it).
    #[inline]
    pub(super) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        self.refill(n)
    }

    #[cold]
    fn refill(&mut self, n: usize) -> io::Result<bool> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base = self.base.saturating_add(self.pos as u64);
            self.end -= self.pos;
            self.pos = 0;
        }
        if n > self.buf.len() {
            // Grow to fit this one record, in 64 KiB steps.
            self.buf.resize(n.next_multiple_of(1 << 16), 0);
        }
        while self.end < n {
            if self.eof {
                return Ok(false);
            }
            let free = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            match self.src.read(free) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end = (self.end + k).min(self.buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
