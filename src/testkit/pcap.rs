//! Classic pcap files: the file header, then records.

use super::{put16, put32};

/// Microsecond time stamps.
pub const MAGIC_US: u32 = 0xa1b2_c3d4;
/// Nanosecond time stamps.
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// Alexey Kuznetsov's modified pcap (8 more bytes per record header).
pub const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// A classic pcap file being built, records in the order given.
#[derive(Debug, Clone)]
pub struct Pcap {
    out: Vec<u8>,
    be: bool,
    modified: bool,
}

built_bytes!(Pcap);

impl Pcap {
    /// A version 2.4 file header.
    pub fn new(magic: u32, be: bool, snaplen: u32, network: u32) -> Pcap {
        Pcap::with_version(magic, be, 2, 4, snaplen, network)
    }

    /// Little endian, microseconds, snaplen 65535, the given link type: what most tests want.
    pub fn le_us(network: u32) -> Pcap {
        Pcap::new(MAGIC_US, false, 65535, network)
    }

    /// A file header with any version.
    pub fn with_version(
        magic: u32,
        be: bool,
        major: u16,
        minor: u16,
        snaplen: u32,
        network: u32,
    ) -> Pcap {
        let mut out = Vec::new();
        put32(&mut out, magic, be);
        put16(&mut out, major, be);
        put16(&mut out, minor, be);
        put32(&mut out, 0, be); // thiszone
        put32(&mut out, 0, be); // sigfigs
        put32(&mut out, snaplen, be);
        put32(&mut out, network, be);
        Pcap {
            out,
            be,
            modified: magic == MAGIC_MODIFIED,
        }
    }

    /// A record whose header says `caplen`, followed by `data` (which may be shorter).
    pub fn raw(mut self, sec: u32, frac: u32, caplen: u32, wire_len: u32, data: &[u8]) -> Pcap {
        self.out
            .extend_from_slice(&record_header(self.be, sec, frac, caplen, wire_len));
        if self.modified {
            let be = self.be;
            put32(&mut self.out, 7, be); // ifindex
            put16(&mut self.out, 0x0800, be); // protocol
            self.out.extend_from_slice(&[0, 0]); // pkttype, pad
        }
        self.out.extend_from_slice(data);
        self
    }

    /// A record of `data`, `wire_len` bytes on the wire.
    pub fn record(self, sec: u32, frac: u32, data: &[u8], wire_len: u32) -> Pcap {
        self.raw(sec, frac, data.len() as u32, wire_len, data)
    }

    /// A record of `data`, whole (as long on the wire as captured).
    pub fn packet(self, sec: u32, frac: u32, data: &[u8]) -> Pcap {
        let n = data.len() as u32;
        self.raw(sec, frac, n, n, data)
    }
}

/// A classic (not modified) record header: time stamp, captured and wire lengths.
pub fn record_header(be: bool, sec: u32, frac: u32, caplen: u32, wire_len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    for w in [sec, frac, caplen, wire_len] {
        put32(&mut out, w, be);
    }
    out
}
