//! pcapng files, block by block.

use super::{put16, put32, put_ts64};

/// A pcapng file being built; the byte order is the one of the last section header (little
/// endian before any).
#[derive(Debug, Clone, Default)]
pub struct Ng {
    out: Vec<u8>,
    be: bool,
}

built_bytes!(Ng);

/// Encodes options `(code, value)`, each padded to 4 bytes, with opt_endofopt when there are
/// any.
pub fn options(opts: &[(u16, &[u8])], be: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (code, value) in opts {
        put16(&mut out, *code, be);
        put16(&mut out, value.len() as u16, be);
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    if !opts.is_empty() {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out
}

impl Ng {
    /// Nothing yet (not even a section header).
    pub fn new() -> Ng {
        Ng::default()
    }

    /// Whether blocks are written big endian.
    pub fn big_endian(&self) -> bool {
        self.be
    }

    /// A block of `block_type` around `body` padded to 4 bytes, both lengths right.
    pub fn block(mut self, block_type: u32, body: &[u8]) -> Ng {
        let be = self.be;
        let total = 12 + body.len().next_multiple_of(4) as u32;
        put32(&mut self.out, block_type, be);
        put32(&mut self.out, total, be);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len().next_multiple_of(4), 0);
        put32(&mut self.out, total, be);
        self
    }

    /// A Section Header Block (section length unknown); later blocks take its byte order.
    pub fn shb(mut self, be: bool, major: u16, opts: &[(u16, &[u8])]) -> Ng {
        self.be = be;
        let mut body = Vec::new();
        put32(&mut body, 0x1a2b_3c4d, be);
        put16(&mut body, major, be);
        put16(&mut body, 0, be);
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length: unknown
        body.extend_from_slice(&options(opts, be));
        self.block(0x0a0d_0d0a, &body)
    }

    /// An Interface Description Block.
    pub fn idb(self, link_type: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Ng {
        let be = self.be;
        let mut body = Vec::new();
        put16(&mut body, link_type, be);
        put16(&mut body, 0, be);
        put32(&mut body, snaplen, be);
        body.extend_from_slice(&options(opts, be));
        self.block(1, &body)
    }

    /// An Enhanced Packet Block without options.
    pub fn epb(self, interface: u32, ts: u64, data: &[u8], wire_len: u32) -> Ng {
        self.epb_with(interface, ts, data, wire_len, &[])
    }

    /// An Enhanced Packet Block of `data`, whole (as long on the wire as captured), no options.
    pub fn packet(self, interface: u32, ts: u64, data: &[u8]) -> Ng {
        self.epb(interface, ts, data, data.len() as u32)
    }

    /// An Enhanced Packet Block with options.
    pub fn epb_with(
        self,
        interface: u32,
        ts: u64,
        data: &[u8],
        wire_len: u32,
        opts: &[(u16, &[u8])],
    ) -> Ng {
        let be = self.be;
        let mut body = Vec::new();
        put32(&mut body, interface, be);
        put_ts64(&mut body, ts, be);
        put32(&mut body, data.len() as u32, be);
        put32(&mut body, wire_len, be);
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend_from_slice(&options(opts, be));
        self.block(6, &body)
    }

    /// A Simple Packet Block.
    pub fn spb(self, data: &[u8], wire_len: u32) -> Ng {
        let be = self.be;
        let mut body = Vec::new();
        put32(&mut body, wire_len, be);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// An Interface Statistics Block of `interface` at `ts` with these options.
    pub fn isb(self, interface: u32, ts: u64, opts: &[(u16, &[u8])]) -> Ng {
        let be = self.be;
        let mut body = Vec::new();
        put32(&mut body, interface, be);
        put_ts64(&mut body, ts, be);
        body.extend_from_slice(&options(opts, be));
        self.block(5, &body)
    }
}
