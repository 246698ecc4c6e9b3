//! Builders of test captures, shared by the unit tests, the integration tests (`tests/`), the
//! examples and fuzzing: classic pcap files ([`Pcap`]), pcapng blocks ([`Ng`]) and Ethernet
//! frames of a UDP datagram ([`udp_frame`]), byte for byte as the tests need them, including the damaged ones (a record header may claim more
//! than follows it, a block's lengths may be anything the caller writes).
//!
//! **Not part of flowcheck's supported API**: hidden from the documentation, changed whenever
//! a test needs it. It only builds bytes; it reads no file and no user input, so it has
//! nothing to fail on.

/// The accessors both file builders share (their bytes are in `out`).
macro_rules! built_bytes {
    ($builder:ty) => {
        impl $builder {
            /// Bytes written so far (where the next record or block starts).
            pub fn len(&self) -> u64 {
                self.out.len() as u64
            }

            /// Whether nothing was written yet.
            pub fn is_empty(&self) -> bool {
                self.out.is_empty()
            }

            /// The file so far.
            pub fn as_bytes(&self) -> &[u8] {
                &self.out
            }

            /// The file.
            pub fn bytes(self) -> Vec<u8> {
                self.out
            }
        }
    };
}

mod packet;
mod pcap;
mod pcapng;

pub use packet::{ethernet, udp_bytes, udp_frame, MACS};

pub use pcap::{record_header, Pcap, MAGIC_MODIFIED, MAGIC_NS, MAGIC_US};
pub use pcapng::{options, Ng};

/// Appends `v` in the chosen byte order.
pub fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// Appends `v` in the chosen byte order.
pub fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// Appends a 64-bit time stamp as pcapng writes it: two 32-bit words, high first.
pub fn put_ts64(out: &mut Vec<u8>, ts: u64, be: bool) {
    put32(out, (ts >> 32) as u32, be);
    put32(out, ts as u32, be);
}
