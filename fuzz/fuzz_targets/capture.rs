//! Fuzz target `capture`: arbitrary bytes as a capture file (pcap, pcapng, or either
//! gzip-wrapped: the reader sniffs), read to the end.
//!
//! Besides "no panic, no hang, no runaway allocation" it checks what the reader promises:
//! every frame is within the record limit, its wire length is at least its captured length,
//! its time stamp is within the clamped range, each frame consumed at least 12 bytes, the
//! stream stays ended after an error, and the result does not depend on how the bytes arrive
//! (read whole, or trickled a few bytes per `read` call).
#![no_main]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Cursor, Read};

use flowcheck::capture::{CaptureReader, MAX_RECORD, MAX_TS_NS, MIN_TS_NS};
use libfuzzer_sys::fuzz_target;

/// A source that hands out at most `step` bytes per `read`.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.data.get(self.pos..).unwrap_or(&[]);
        let n = left.len().min(buf.len()).min(self.step);
        buf[..n].copy_from_slice(&left[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// What one reading produced: per frame (ts, link type, interface, wire length, captured
/// length, hash of the bytes), then the error (offset and message) if any.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<(i64, u32, u32, u32, usize, u64)>,
    end: Option<(u64, String)>,
    link_types: Vec<u32>,
    fixups: u64,
}

fn read(source: Box<dyn Read + Send>) -> Outcome {
    let mut reader = match CaptureReader::from_reader(source) {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                frames: Vec::new(),
                end: Some((e.offset, e.kind.to_string())),
                link_types: Vec::new(),
                fixups: 0,
            }
        }
    };
    let mut frames = Vec::new();
    let mut last_offset = reader.offset();
    let end = loop {
        match reader.next_frame() {
            Ok(Some(f)) => {
                assert!(
                    f.data.len() as u64 <= MAX_RECORD,
                    "frame over the record limit"
                );
                assert!(
                    f.wire_len as usize >= f.data.len(),
                    "wire length below caplen"
                );
                assert!(
                    (MIN_TS_NS..=MAX_TS_NS).contains(&f.ts_ns),
                    "time stamp out of range"
                );
                let mut h = DefaultHasher::new();
                f.data.hash(&mut h);
                frames.push((
                    f.ts_ns,
                    f.link_type,
                    f.interface,
                    f.wire_len,
                    f.data.len(),
                    h.finish(),
                ));
                let offset = reader.offset();
                assert!(
                    offset >= last_offset.saturating_add(12),
                    "a frame from < 12 bytes"
                );
                last_offset = offset;
            }
            Ok(None) => break None,
            Err(e) => break Some((e.offset, e.kind.to_string())),
        }
    };
    // Ended is ended.
    assert!(matches!(reader.next_frame(), Ok(None)));
    Outcome {
        frames,
        end,
        link_types: reader.link_types().to_vec(),
        fixups: reader.timestamp_fixups(),
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = read(Box::new(Cursor::new(data.to_vec())));
    // Small inputs trickle 1..7 bytes per read; large ones in larger odd chunks, which still
    // cut records at every kind of place but keep the run fast.
    let step = if data.len() <= 4096 {
        1 + data.len() % 7
    } else {
        1 + data.len() % 509
    };
    let trickled = read(Box::new(Trickle {
        data: data.to_vec(),
        pos: 0,
        step,
    }));
    assert_eq!(
        whole, trickled,
        "the result depends on read sizes (step {step})"
    );
});
