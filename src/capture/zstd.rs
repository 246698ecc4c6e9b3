//! zstd (RFC 8878) decompression that hands out every byte decoded before damage.
//!
//! The decoder is the reference C library through the `zstd` crate, driven by its raw
//! streaming API: each call turns some compressed input into output at once, so the bytes
//! decoded before corrupt data are handed out first and the damage is reported by the next
//! `read`, as for gzip (`gzip.rs`): each call is given at most one block (see
//! [`Unzstd::input_limit`]). Frames follow each other as `cat a.zst b.zst` writes them;
//! skippable frames are skipped; each frame's checksum (when it has one) is checked by the
//! library. A stream that ends inside a frame is damage ("cut short").
//!
//! Why this crate: measured on 2026-12-03 on a zstd copy (`zstd -3`, 11 MB) of the 207 MB
//! benchmark capture (`pcapgen --packets 380000 --flows 20000 --seed 1`), streaming it through
//! 1 MiB reads, best of three on a shared 2-core machine: the C library 3.2 GB/s (runs of 1.3
//! to 3.2), ruzstd (pure Rust) 0.92 GB/s (0.74 to 0.92). ruzstd's streaming reader also keeps
//! the last window (up to 8 MiB at the CLI's default levels) until the frame ends, so the
//! packets decoded just before damage would be lost. The library's window is bounded by its
//! default limit (2^27 bytes):
//! a hostile frame cannot make it allocate more.

use std::io::{self, Read};

use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

use super::source::{damage, Source};

enum State {
    Decoding,
    /// Damage: returned by the next read, after the bytes already handed out.
    Failed(io::Error),
    Done,
}

/// A decompressing reader over a zstd stream.
pub(super) struct Unzstd {
    src: Source,
    decoder: Decoder<'static>,
    /// The library's last hint: 0 between frames, else the input it wants next (the rest of
    /// the current block and the next block's 3-byte header).
    hint: usize,
    /// The last call filled the output: the next one only flushes (no new input).
    flushing: bool,
    state: State,
}

/// Size of a block header: a call is given a block's content without the next header.
const BLOCK_HEADER: usize = 3;

fn zstd_damage(what: &str) -> io::Error {
    damage("zstd", what)
}

impl Unzstd {
    pub(super) fn new(src: Box<dyn Read + Send>) -> io::Result<Unzstd> {
        Ok(Unzstd {
            src: Source::new(src),
            decoder: Decoder::new()?,
            hint: 0,
            flushing: false,
            state: State::Decoding,
        })
    }

    /// How much input the next call may take. The library reports an error without the
    /// output of the same call (its position is not updated), so each call is given at most
    /// one block: the block's content, then its successor's header apart (a byte at a time
    /// for headers, whose size the hint tells only after their first byte).
    fn input_limit(&self) -> usize {
        if self.flushing {
            0
        } else if self.hint > BLOCK_HEADER {
            self.hint - BLOCK_HEADER
        } else {
            1
        }
    }

    /// Decodes into `out`: `Ok(n)` with `n > 0`, or moves to another state (`Ok(0)`).
    fn decode(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let limit = self.input_limit();
            if limit > 0 && self.src.peek().is_empty() {
                self.src.fill()?;
            }
            if limit > 0 && self.src.at_end() {
                self.state = if self.hint != 0 {
                    State::Failed(zstd_damage("compressed data cut short"))
                } else {
                    State::Done
                };
                return Ok(0);
            }
            let avail = self.src.peek();
            let mut input = InBuffer::around(avail.get(..limit.min(avail.len())).unwrap_or(&[]));
            let mut output = OutBuffer::around(&mut *out);
            let result = self.decoder.run(&mut input, &mut output);
            let (consumed, written) = (input.pos(), output.pos());
            self.src.consume(consumed);
            match result {
                Ok(hint) => {
                    self.hint = hint;
                    let was_flushing = self.flushing;
                    self.flushing = written == out.len();
                    if written > 0 {
                        return Ok(written);
                    }
                    if consumed == 0 && !was_flushing {
                        self.state = State::Failed(zstd_damage("the decoder made no progress"));
                        return Ok(0);
                    }
                }
                Err(e) => {
                    let what = format!("corrupt compressed data ({e})");
                    self.state = State::Failed(zstd_damage(&what));
                    return Ok(written);
                }
            }
        }
    }
}

impl Read for Unzstd {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.state {
                State::Decoding => {
                    let n = self.decode(out)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
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
