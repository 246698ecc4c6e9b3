//! Zeek-style TCP history (see the letters in the folder's docs): [`History`] stored by
//! absolute direction (`History::segment` reads one segment into it), [`HistoryText`]
//! rendered relative to the originator.

use crate::decode::tcp_flags;

/// Zeek-style TCP history, stored by absolute direction and rendered relative to the
/// originator.
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    /// Letter (ASCII upper case) with bit 7 set for direction 1.
    letters: [u8; 16],
    len: u8,
    seen: [u8; 2],
}

const LETTERS: &[u8; 7] = b"SHADFRT";

impl History {
    /// Records `letter` for direction `dir`, once per direction, while there is room.
    pub(super) fn add(&mut self, letter: u8, dir: usize) {
        let Some(bit) = LETTERS.iter().position(|&l| l == letter) else {
            return;
        };
        let mask = 1u8 << bit;
        if self.seen[dir] & mask != 0 || self.len as usize >= self.letters.len() {
            return;
        }
        self.seen[dir] |= mask;
        self.letters[self.len as usize] = letter | ((dir as u8) << 7);
        self.len += 1;
    }

    /// The history string with upper case for packets sent in direction `orig_dir`.
    pub fn render(&self, orig_dir: usize) -> String {
        self.letters(orig_dir).map(char::from).collect()
    }

    /// [`render`](Self::render), held inline (no allocation).
    pub fn text(&self, orig_dir: usize) -> HistoryText {
        let mut t = HistoryText::default();
        for (slot, b) in t.bytes.iter_mut().zip(self.letters(orig_dir)) {
            *slot = b;
            t.len += 1;
        }
        t
    }

    /// The letters of [`History::render`] (ASCII), without building the string.
    pub fn letters(&self, orig_dir: usize) -> impl Iterator<Item = u8> + '_ {
        self.letters[..self.len as usize].iter().map(move |&b| {
            let c = b & 0x7f;
            if (b >> 7) as usize == orig_dir {
                c
            } else {
                c.to_ascii_lowercase()
            }
        })
    }

    /// True when no letter was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the letter was seen in direction `dir`.
    pub fn has(&self, letter: u8, dir: usize) -> bool {
        LETTERS
            .iter()
            .position(|&l| l == letter)
            .is_some_and(|bit| self.seen[dir] & (1 << bit) != 0)
    }
}

/// A rendered history (at most 16 ASCII letters), held inline; reads as a `str`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryText {
    bytes: [u8; 16],
    len: u8,
}

impl HistoryText {
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(self.bytes.len());
        std::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }
}

/// The longest prefix of `s` that fits (16 bytes, whole characters).
impl From<&str> for HistoryText {
    fn from(s: &str) -> HistoryText {
        let mut n = s.len().min(16);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        let mut t = HistoryText::default();
        t.bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        t.len = n as u8;
        t
    }
}

impl std::ops::Deref for HistoryText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for HistoryText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a TCP segment was to the sequence of its direction seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SegmentSeen {
    /// It continues the sequence (or starts it, or carries no new data).
    InOrder,
    /// Its data had been seen before.
    Retransmitted,
    /// It starts beyond the highest sequence number seen: the bytes in between were not
    /// captured here (a hole this point missed, or lost before it).
    AfterGap,
}

impl History {
    /// Reads one TCP segment of direction `dir` into the history; `seq_end` is the highest
    /// sequence number that direction reached, moved on. Says whether the segment
    /// retransmits data seen before or leaves a hole behind it (a SYN never does: a new
    /// connection on the same ports starts its own sequence).
    #[inline]
    pub(super) fn segment(
        &mut self,
        seq_end: &mut Option<u32>,
        dir: usize,
        flags: u8,
        seq: u32,
        payload_len: u32,
    ) -> SegmentSeen {
        let syn = flags & tcp_flags::SYN != 0;
        let ack = flags & tcp_flags::ACK != 0;
        let fin = flags & tcp_flags::FIN != 0;
        let rst = flags & tcp_flags::RST != 0;
        let mut seen = match *seq_end {
            Some(high) if !syn && (seq.wrapping_sub(high) as i32) > 0 => SegmentSeen::AfterGap,
            _ => SegmentSeen::InOrder,
        };
        if syn {
            self.add(if ack { b'H' } else { b'S' }, dir);
        }
        if fin {
            self.add(b'F', dir);
        }
        if rst {
            self.add(b'R', dir);
        }
        if payload_len > 0 {
            let end = seq.wrapping_add(payload_len);
            match *seq_end {
                Some(high) if (high.wrapping_sub(end) as i32) >= 0 => {
                    seen = SegmentSeen::Retransmitted;
                    self.add(b'T', dir);
                }
                _ => self.add(b'D', dir),
            }
        } else if ack && !syn && !fin && !rst {
            self.add(b'A', dir);
        }
        let end = seq
            .wrapping_add(payload_len)
            .wrapping_add(u32::from(syn))
            .wrapping_add(u32::from(fin));
        *seq_end = Some(match *seq_end {
            Some(high) if (high.wrapping_sub(end) as i32) >= 0 => high,
            _ => end,
        });
        seen
    }
}
