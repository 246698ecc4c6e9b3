//! gzip (RFC 1952) decompression that hands out every byte inflated before damage.
//!
//! flate2's `MultiGzDecoder` returns an error, and drops the bytes it inflated, when a `read`
//! call runs into corrupt data: whatever packets that call had already inflated (up to a
//! whole read buffer) would be lost. Here the bytes come first and the damage is reported by
//! the next `read`, so what reaches the capture reader does not depend on how the reads were
//! cut. The deflate decoding itself is flate2's.
//!
//! Members follow each other as `cat a.gz b.gz` writes them; each member's CRC-32 and length
//! are checked at its end. Header fields (extra field, file name, comment) are skipped as
//! they stream by, whatever their length, so no header can make memory grow. Bytes after the
//! last member that do not start another member are damage, like a member cut short, except
//! zero bytes to the end (the padding a tape or `dd` leaves): gzip(1) itself reads such a file
//! and only warns ("decompression OK, trailing zero bytes ignored"), and so does flowcheck,
//! through [`Gunzip::trailing_zeros`].

use std::io::{self, Read};

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::source::Source;

const FTEXT_FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const METHOD_DEFLATE: u8 = 8;

enum State {
    /// Before a member's header (the stream may end cleanly here after the first member).
    Header,
    /// Inflating a member's deflate data.
    Body,
    /// Before a member's CRC-32 and length.
    Trailer,
    /// Damage: returned by the next read, after the bytes already handed out.
    Failed(io::Error),
    /// Clean end, or damage already reported.
    Done,
}

/// A decompressing reader over a gzip stream.
pub(super) struct Gunzip {
    src: Source,
    state: State,
    inflate: Decompress,
    crc: Crc,
    members: u64,
    /// Zero bytes after the last member, skipped (shared with the capture reader).
    zeros: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn damage(what: &str) -> io::Error {
    super::source::damage("gzip", what)
}

impl Gunzip {
    pub(super) fn new(src: Box<dyn Read + Send>) -> Gunzip {
        Gunzip {
            src: Source::new(src),
            state: State::Header,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            members: 0,
            zeros: Default::default(),
        }
    }

    /// The count of zero bytes found after the last member and ignored, as the stream is
    /// read (a handle that stays valid once the reader is boxed).
    pub(super) fn trailing_zeros(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.zeros.clone()
    }

    /// Skips zero bytes to the end of the stream: `Ok(false)` (a clean end) when only zeros
    /// are left, damage at the first other byte.
    fn skip_zero_padding(&mut self) -> io::Result<bool> {
        loop {
            let avail = self.src.peek();
            let zeros = avail.iter().position(|&b| b != 0);
            let n = zeros.unwrap_or(avail.len());
            self.zeros
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            self.src.consume(n);
            if zeros.is_some() {
                return Err(damage(
                    "bytes after the last member are neither a gzip member nor zero padding",
                ));
            }
            if !self.src.fill()? {
                return Ok(false);
            }
        }
    }

    fn need(&mut self, n: usize) -> io::Result<bool> {
        self.src.need(n)
    }

    fn byte_at(&self, i: usize) -> u8 {
        self.src.peek().get(i).copied().unwrap_or(0)
    }

    /// Skips `n` bytes of a header field.
    fn skip(&mut self, n: usize) -> io::Result<()> {
        if self.src.skip(n as u64)? {
            Ok(())
        } else {
            Err(damage("header cut short"))
        }
    }

    /// Skips a zero-terminated header field (file name, comment).
    fn skip_zero_terminated(&mut self) -> io::Result<()> {
        loop {
            if self.src.peek().is_empty() && !self.src.fill()? {
                return Err(damage("header cut short"));
            }
            let avail = self.src.peek();
            match avail.iter().position(|&b| b == 0) {
                Some(i) => {
                    self.src.consume(i + 1);
                    return Ok(());
                }
                None => self.src.consume(avail.len()),
            }
        }
    }

    /// Reads a member header; `Ok(false)` at a clean end of the stream (after a member).
    fn header(&mut self) -> io::Result<bool> {
        if !self.need(1)? && self.members > 0 {
            return Ok(false);
        }
        if self.members > 0 && self.byte_at(0) == 0 {
            return self.skip_zero_padding();
        }
        let magic = self.need(2)? && self.byte_at(0) == 0x1f && self.byte_at(1) == 0x8b;
        if !magic {
            return Err(damage("bytes after the last member are not a gzip member"));
        }
        if !self.need(10)? {
            return Err(damage("header cut short"));
        }
        if self.byte_at(2) != METHOD_DEFLATE {
            return Err(damage("unknown compression method"));
        }
        let flags = self.byte_at(3);
        self.src.consume(10);
        if flags & FEXTRA != 0 {
            if !self.need(2)? {
                return Err(damage("header cut short"));
            }
            let len = u16::from_le_bytes([self.byte_at(0), self.byte_at(1)]);
            self.src.consume(2);
            self.skip(len.into())?;
        }
        if flags & FNAME != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & FCOMMENT != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & FTEXT_FHCRC != 0 {
            self.skip(2)?;
        }
        self.inflate.reset(false);
        self.crc.reset();
        Ok(true)
    }

    /// Checks a member's trailer.
    fn trailer(&mut self) -> io::Result<()> {
        if !self.need(8)? {
            return Err(damage("member cut short before its CRC"));
        }
        let word = |i: usize| {
            u32::from_le_bytes([
                self.byte_at(i),
                self.byte_at(i + 1),
                self.byte_at(i + 2),
                self.byte_at(i + 3),
            ])
        };
        let (crc, size) = (word(0), word(4));
        self.src.consume(8);
        if crc != self.crc.sum() {
            return Err(damage("CRC-32 mismatch (the data is corrupt)"));
        }
        if size != self.crc.amount() {
            return Err(damage("length mismatch (the data is corrupt)"));
        }
        self.members += 1;
        Ok(())
    }

    /// Inflates into `out`: `Ok(n)` with `n > 0`, or moves to another state (`Ok(0)`).
    fn body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.src.peek().is_empty() {
                self.src.fill()?;
            }
            let input = self.src.peek();
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let result = self.inflate.decompress(input, out, FlushDecompress::None);
            let consumed = (self.inflate.total_in() - in_before) as usize;
            let written = (self.inflate.total_out() - out_before) as usize;
            self.src.consume(consumed);
            let produced = out.get(..written).unwrap_or(&[]);
            self.crc.update(produced);
            match result {
                Ok(Status::StreamEnd) => {
                    self.state = State::Trailer;
                    return Ok(written);
                }
                Ok(_) if written > 0 => return Ok(written),
                Ok(_) => {
                    // Nothing came out: the decompressor needs more input.
                    if consumed == 0 && !self.src.fill()? {
                        let why = if self.src.eof() {
                            "compressed data cut short"
                        } else {
                            "the decompressor made no progress"
                        };
                        self.state = State::Failed(damage(why));
                        return Ok(0);
                    }
                }
                Err(e) => {
                    self.state = State::Failed(damage(&format!("corrupt compressed data ({e})")));
                    return Ok(written);
                }
            }
        }
    }
}

impl Read for Gunzip {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.state {
                State::Header => match self.header() {
                    Ok(true) => self.state = State::Body,
                    Ok(false) => self.state = State::Done,
                    Err(e) => self.state = State::Failed(e),
                },
                State::Body => {
                    let n = self.body(out)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                State::Trailer => match self.trailer() {
                    Ok(()) => self.state = State::Header,
                    Err(e) => self.state = State::Failed(e),
                },
                State::Failed(_) => {
                    if let State::Failed(e) = std::mem::replace(&mut self.state, State::Done) {
                        return Err(e);
                    }
                }
                State::Done => return Ok(0),
            }
        }
    }
}
