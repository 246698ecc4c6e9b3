//! capture: turns capture files into a stream of [`Frame`]s.
//!
//! Owns everything about the file formats: classic pcap (both byte orders, µs and ns magic,
//! the "modified" 0xa1b2cd34 variant), pcapng (several sections and interfaces, each with its
//! own link type, if_tsresol and if_tsoffset; Enhanced and Simple Packet Blocks), and gzip
//! wrapping. The format is sniffed from the first bytes, never guessed from the extension.
//!
//! Reading is streaming: a large buffer is refilled as records are consumed, so memory does
//! not grow with the file. Damage (a record cut short, an absurd length, a bad block) ends the
//! stream with a [`CaptureError`] that carries the byte offset; every frame before it has
//! already been handed out.
//!
//! STUB: to be replaced by the real implementation (see the helper brief).

use std::io::Read;
use std::path::Path;

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Time stamp in nanoseconds since the Unix epoch (pcapng if_tsoffset applied).
    pub ts_ns: i64,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub link_type: u32,
    /// pcapng interface id (0 for classic pcap).
    pub interface: u32,
    /// Original length on the wire (may exceed `data.len()` when snaplen cut it).
    pub wire_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// What kind of file this is, as sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap { big_endian: bool, nanos: bool, modified: bool },
    PcapNg,
}

/// Why reading stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CaptureErrorKind {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("not a pcap or pcapng capture (first bytes {0:02x?})")]
    NotACapture([u8; 4]),
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion { format: &'static str, major: u16, minor: u16 },
    #[error("file cut short: {needed} more bytes were expected")]
    Truncated { needed: u64 },
    #[error("record length {len} is larger than the {limit}-byte limit")]
    RecordTooLarge { len: u64, limit: u64 },
    #[error("malformed {what}")]
    Malformed { what: &'static str },
}

/// Damage found in a capture: where and what.
#[derive(Debug, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct CaptureError {
    /// Byte offset (in the decompressed stream) of the record or block that is damaged.
    pub offset: u64,
    pub kind: CaptureErrorKind,
}

/// A streaming reader over one capture.
pub struct CaptureReader {
    _private: (),
}

impl CaptureReader {
    /// Opens a file (gzip is sniffed and decompressed on the fly).
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        let f = std::fs::File::open(path).map_err(|e| CaptureError {
            offset: 0,
            kind: CaptureErrorKind::Io(e),
        })?;
        Self::from_reader(Box::new(f))
    }

    /// Reads from any byte stream (gzip is sniffed here too).
    pub fn from_reader(_r: Box<dyn Read + Send>) -> Result<CaptureReader, CaptureError> {
        Err(CaptureError { offset: 0, kind: CaptureErrorKind::Malformed { what: "stub" } })
    }

    /// The next frame, `Ok(None)` at the clean end, `Err` at damage (after which `Ok(None)`).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        Ok(None)
    }

    /// The sniffed format.
    pub fn format(&self) -> Format {
        Format::PcapNg
    }

    /// True when the stream was gzip-compressed.
    pub fn gzipped(&self) -> bool {
        false
    }

    /// Link types of all interfaces declared so far, in order of first appearance, no repeats.
    pub fn link_types(&self) -> &[u32] {
        &[]
    }

    /// Bytes of the (decompressed) stream consumed so far.
    pub fn offset(&self) -> u64 {
        0
    }

    /// Frames whose time stamp was invalid (nanosecond field >= 10^9 and the like) and was
    /// normalised; see the module docs for how.
    pub fn timestamp_fixups(&self) -> u64 {
        0
    }
}
