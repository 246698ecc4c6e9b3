//! A classic pcap writer for the tests' generated captures (little-endian, microseconds,
//! Ethernet), streamed to a file; shared by `lookalike.rs`, `manyflows.rs` and
//! `tests/hostile.rs`. The bytes are `flowcheck::testkit`'s.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use flowcheck::testkit::{record_header, Pcap};

/// A classic pcap file being written, records in the order given.
pub struct PcapOut {
    out: std::io::BufWriter<std::fs::File>,
}

impl PcapOut {
    pub fn create(path: &Path) -> std::io::Result<PcapOut> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        out.write_all(Pcap::le_us(1).as_bytes())?;
        Ok(PcapOut { out })
    }

    /// One record at `sec` + `usec`.
    pub fn record(&mut self, sec: u32, usec: u32, data: &[u8]) -> std::io::Result<()> {
        let n = data.len() as u32;
        self.out.write_all(&record_header(false, sec, usec, n, n))?;
        self.out.write_all(data)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
