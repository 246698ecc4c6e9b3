//! LZ4 frame format decompression (the `lz4` command's `.lz4` files) that hands out every
//! byte decoded before damage.
//!
//! The frame layer is read here and each block is decoded by `lz4_flex`'s block decoder
//! (pure Rust, bounds-checked). lz4_flex has a frame reader of its own, but it takes a
//! stream that ends between two blocks for a clean end (a file cut there would pass
//! silently) and cannot tell how far it got; reading the frame layer here makes every cut
//! and every bad checksum damage, reported after the blocks before it were handed out, as
//! for gzip (`gzip.rs`).
//!
//! Frames follow each other as `cat a.lz4 b.lz4` writes them; skippable frames are skipped.
//! Independent and linked blocks (`lz4 -BD`) are read; block checksums and the content
//! checksum are checked when the frame has them. Frames that need a dictionary, and the
//! legacy format (`lz4 -l`), are refused with their name. A block is at most 4 MiB (the
//! format's largest block size), so memory stays bounded.
//!
//! Why lz4_flex: measured on 2026-12-03 on an lz4 copy (`lz4`, default level, 21 MB) of the
//! 207 MB benchmark capture, 1 MiB reads, best of three on a shared 2-core machine:
//! lz4_flex's frame reader 2.6 GB/s, the C library through the `lz4` crate 0.85 GB/s. Through
//! flowcheck (this reader, lz4_flex's bounds-checked safe decoder) the `.lz4` copy is analysed
//! in 0.14 s, as fast as the plain file (0.15 to 0.20 s): decompression is not what costs.

use std::hash::Hasher as _;
use std::io::{self, Read};

use twox_hash::XxHash32;

use super::source::{damage, Source};

/// Magic number of a frame, little-endian.
pub(super) const MAGIC: u32 = 0x184D_2204;
/// Magic of the legacy format (`lz4 -l`).
pub(super) const LEGACY_MAGIC: u32 = 0x184C_2102;
/// Skippable frames: 0x184D2A50..=0x184D2A5F.
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE: u32 = 0x184D_2A50;
/// Bytes of history a linked block may refer to.
const WINDOW: usize = 64 << 10;

/// The frame descriptor's flags.
#[derive(Debug, Clone, Copy, Default)]
struct Frame {
    linked: bool,
    block_checksum: bool,
    content_checksum: bool,
    max_block: usize,
}

enum State {
    /// Before a frame (the stream may end cleanly here after the first frame).
    Header,
    /// Inside a frame's blocks.
    Blocks,
    /// Damage: returned by the next read, after the bytes already handed out.
    Failed(io::Error),
    Done,
}

/// A decompressing reader over an LZ4 frame stream.
pub(super) struct Unlz4 {
    src: Source,
    state: State,
    frame: Frame,
    frames: u64,
    /// Compressed block being read.
    block: Vec<u8>,
    /// Decoded bytes: `out[window_start..]` is the history linked blocks refer to, and
    /// `out[pos..end]` has not been handed out.
    out: Vec<u8>,
    pos: usize,
    end: usize,
    hasher: XxHash32,
}

fn lz4_damage(what: &str) -> io::Error {
    damage("lz4", what)
}

impl Unlz4 {
    pub(super) fn new(src: Box<dyn Read + Send>) -> Unlz4 {
        Unlz4 {
            src: Source::new(src),
            state: State::Header,
            frame: Frame::default(),
            frames: 0,
            block: Vec::new(),
            out: Vec::new(),
            pos: 0,
            end: 0,
            hasher: XxHash32::with_seed(0),
        }
    }

    /// Reads a frame header; `Ok(false)` at a clean end of the stream (after a frame).
    fn header(&mut self) -> io::Result<bool> {
        loop {
            if !self.src.need(1)? && self.frames > 0 {
                return Ok(false);
            }
            if !self.src.need(4)? {
                return Err(lz4_damage("bytes after the last frame are not a frame"));
            }
            let magic = self.src.u32_at(0);
            if magic & SKIPPABLE_MASK == SKIPPABLE {
                if !self.src.need(8)? {
                    return Err(lz4_damage("skippable frame cut short"));
                }
                let len = self.src.u32_at(4);
                self.src.consume(8);
                if !self.src.skip(len.into())? {
                    return Err(lz4_damage("skippable frame cut short"));
                }
                continue;
            }
            if magic == LEGACY_MAGIC {
                return Err(lz4_damage(
                    "the legacy lz4 format (lz4 -l) is not read: recompress without -l",
                ));
            }
            if magic != MAGIC {
                return Err(lz4_damage("bytes after the last frame are not a frame"));
            }
            return self.descriptor().map(|()| true);
        }
    }

    /// Reads the frame descriptor after the magic number.
    fn descriptor(&mut self) -> io::Result<()> {
        if !self.src.need(7)? {
            return Err(lz4_damage("frame header cut short"));
        }
        let (flg, bd) = (self.src.peek()[4], self.src.peek()[5]);
        if flg >> 6 != 1 {
            return Err(lz4_damage("unknown frame version"));
        }
        if flg & 1 != 0 {
            return Err(lz4_damage(
                "the frame needs a dictionary, which a capture cannot name",
            ));
        }
        let len = 7 + if flg & 0x08 != 0 { 8 } else { 0 };
        if !self.src.need(len)? {
            return Err(lz4_damage("frame header cut short"));
        }
        let descriptor = self.src.peek().get(4..len - 1).unwrap_or(&[]);
        let check = (XxHash32::oneshot(0, descriptor) >> 8) as u8;
        if self.src.peek().get(len - 1) != Some(&check) {
            return Err(lz4_damage(
                "frame header checksum mismatch (the data is corrupt)",
            ));
        }
        let max_block = match (bd >> 4) & 7 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            _ => return Err(lz4_damage("unknown block size in the frame header")),
        };
        self.src.consume(len);
        self.frame = Frame {
            linked: flg & 0x20 == 0,
            block_checksum: flg & 0x10 != 0,
            content_checksum: flg & 0x04 != 0,
            max_block,
        };
        self.hasher = XxHash32::with_seed(0);
        self.out.clear();
        self.pos = 0;
        self.end = 0;
        Ok(())
    }

    /// Reads and decodes the next block into `out[end..]`; `Ok(false)` at the frame's end
    /// (its content checksum checked).
    fn next_block(&mut self) -> io::Result<bool> {
        if !self.src.need(4)? {
            return Err(lz4_damage("compressed data cut short"));
        }
        let word = self.src.u32_at(0);
        self.src.consume(4);
        if word == 0 {
            if self.frame.content_checksum {
                if !self.src.need(4)? {
                    return Err(lz4_damage("frame cut short before its checksum"));
                }
                let sum = self.src.u32_at(0);
                self.src.consume(4);
                if sum != self.hasher.finish_32() {
                    return Err(lz4_damage(
                        "content checksum mismatch (the data is corrupt)",
                    ));
                }
            }
            self.frames += 1;
            return Ok(false);
        }
        let stored = word & 0x8000_0000 != 0;
        let len = (word & 0x7FFF_FFFF) as usize;
        if len > self.frame.max_block {
            return Err(lz4_damage("block larger than the frame's block size"));
        }
        if !self.src.take(len, &mut self.block)? {
            return Err(lz4_damage("compressed data cut short"));
        }
        if self.frame.block_checksum {
            if !self.src.need(4)? {
                return Err(lz4_damage("compressed data cut short"));
            }
            let sum = self.src.u32_at(0);
            self.src.consume(4);
            if sum != XxHash32::oneshot(0, &self.block) {
                return Err(lz4_damage("block checksum mismatch (the data is corrupt)"));
            }
        }
        self.make_room();
        let start = self.end;
        self.out.resize(start + self.frame.max_block, 0);
        let written = if stored {
            let dst = self.out.get_mut(start..start + len).unwrap_or(&mut []);
            dst.copy_from_slice(&self.block);
            len
        } else {
            let (history, dst) = self.out.split_at_mut(start);
            let dict = if self.frame.linked {
                history.get(start.saturating_sub(WINDOW)..).unwrap_or(&[])
            } else {
                &[]
            };
            lz4_flex::block::decompress_into_with_dict(&self.block, dst, dict)
                .map_err(|e| lz4_damage(&format!("corrupt compressed data ({e})")))?
        };
        self.end = start + written;
        self.out.truncate(self.end);
        let produced = self.out.get(start..self.end).unwrap_or(&[]);
        if self.frame.content_checksum {
            self.hasher.write(produced);
        }
        Ok(true)
    }

    /// Drops decoded bytes already handed out, keeping the history a linked block needs.
    fn make_room(&mut self) {
        let keep = if self.frame.linked { WINDOW } else { 0 };
        let drop = self.end.saturating_sub(keep).min(self.pos);
        if drop > 0 {
            self.out.drain(..drop);
            self.pos -= drop;
            self.end -= drop;
        }
    }
}

impl Read for Unlz4 {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.end {
                let avail = self.out.get(self.pos..self.end).unwrap_or(&[]);
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                self.pos += n;
                return Ok(n);
            }
            match &mut self.state {
                State::Header => match self.header() {
                    Ok(true) => self.state = State::Blocks,
                    Ok(false) => self.state = State::Done,
                    Err(e) => self.state = State::Failed(e),
                },
                State::Blocks => match self.next_block() {
                    Ok(true) => {}
                    Ok(false) => self.state = State::Header,
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
