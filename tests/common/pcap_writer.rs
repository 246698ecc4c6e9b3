//! A classic pcap writer for the tests' generated captures (little-endian, microseconds,
//! Ethernet), shared by `lookalike.rs`, `manyflows.rs` and `tests/hostile.rs`.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// A classic pcap file being written, records in the order given.
pub struct PcapOut {
    out: std::io::BufWriter<std::fs::File>,
}

impl PcapOut {
    pub fn create(path: &Path) -> std::io::Result<PcapOut> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
            out.write_all(&w.to_le_bytes())?;
        }
        Ok(PcapOut { out })
    }

    /// One record at `sec` + `usec`.
    pub fn record(&mut self, sec: u32, usec: u32, data: &[u8]) -> std::io::Result<()> {
        for w in [sec, usec, data.len() as u32, data.len() as u32] {
            self.out.write_all(&w.to_le_bytes())?;
        }
        self.out.write_all(data)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
