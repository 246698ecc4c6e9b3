//! Look-alike exchanges at two capture points: the same DNS-like query and reply repeated for
//! thousands of clients, every packet with the same payload and, over IPv4, the same IP ID
//! (0, with DF set, as Linux sends most UDP datagrams). Nothing that survives forwarding tells
//! one client's packets from another's: only the flow they belong to and their time do.
//!
//! Used by `tests/lookalike.rs` and by `examples/lookalike.rs` (which writes larger sets for
//! timing). Classic pcap, Ethernet, microsecond time stamps; valid IP and UDP checksums.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

#[path = "pcap_writer.rs"]
pub mod pcap_writer;
use pcap_writer::PcapOut;

use flowcheck::testkit::udp_frame;
use std::net::IpAddr;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Lookalike {
    /// Exchanges (one client each, one query and one reply).
    pub flows: u32,
    /// IPv6 instead of IPv4 (same payload; IPv6 has no IP ID).
    pub v6: bool,
    /// The queries start evenly spread over this many nanoseconds.
    pub span_ns: u64,
    /// The point near the clients is behind a source NAT: the server's point sees every client
    /// as one address with its own port.
    pub nat: bool,
    /// The reply repeats the query byte for byte (a UDP echo service; also what one payload
    /// for everything means): at each point a reply then looks like its request forwarded,
    /// with a TTL one lower. Otherwise the reply is a DNS answer, the same for every client.
    pub echo: bool,
}

/// The same query, byte for byte, from every client (a DNS question for `www.example.com A`).
pub const QUERY: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
/// The same answer, byte for byte, to every client.
pub const REPLY: &[u8] = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22";

/// First time stamp (2026-11-30 00:00:00 UTC).
const T0_S: u64 = 1_796_256_000;
/// One-way delay between the two points.
const HOP_NS: u64 = 200_000;
/// Time the server takes to answer.
const THINK_NS: u64 = 100_000;
const SERVER_PORT: u16 = 53;

/// The addresses of exchange `i`: (client, client port) as sent, and as the server's point
/// sees it (after the NAT, when there is one).
fn client(i: u32, v6: bool, nat: bool) -> ([u8; 16], u16, [u8; 16], u16) {
    let port = 10_000 + (i % 50_000) as u16;
    let mut a = [0u8; 16];
    let mut n = [0u8; 16];
    if v6 {
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[12..].copy_from_slice(&i.to_be_bytes());
        n[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        n[4] = 0xff;
        n[15] = 1;
    } else {
        a[..4].copy_from_slice(&[10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        n[..4].copy_from_slice(&[10, 99, 0, 1]);
    }
    if nat {
        // one public address, a port per exchange (below 65536 for up to 55,000 flows)
        (a, port, n, 10_000 + (i % 55_000) as u16)
    } else {
        (a, port, a, port)
    }
}

fn server(v6: bool) -> [u8; 16] {
    let mut s = [0u8; 16];
    if v6 {
        s[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        s[4] = 0x53;
        s[15] = 0x53;
    } else {
        s[..4].copy_from_slice(&[10, 2, 0, 53]);
    }
    s
}

fn v4(a: &[u8; 16]) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

/// One Ethernet frame: UDP from `src:sport` to `dst:dport` with `payload` and `ttl` (IPv4:
/// IP ID 0 and DF, as testkit writes it).
fn frame(
    v6: bool,
    src: &[u8; 16],
    sport: u16,
    dst: &[u8; 16],
    dport: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip = |a: &[u8; 16]| {
        if v6 {
            IpAddr::from(*a)
        } else {
            IpAddr::from(v4(a))
        }
    };
    udp_frame((ip(src), sport), (ip(dst), dport), ttl, payload).expect("a small payload")
}

/// Writes `edge.pcap` (the clients' side: queries with TTL 64, replies with TTL 63) and
/// `dns.pcap` (the server's side: queries with TTL 63, replies with TTL 64) into `dir`, and
/// returns their paths. Records are in time order in each file.
pub fn write(dir: &Path, spec: &Lookalike) -> std::io::Result<[PathBuf; 2]> {
    let paths = [dir.join("edge.pcap"), dir.join("dns.pcap")];
    let mut edge = PcapOut::create(&paths[0])?;
    let mut dns = PcapOut::create(&paths[1])?;
    let srv = server(spec.v6);
    let step = spec.span_ns / u64::from(spec.flows.max(1));
    // (time, point, frame): each point's records are sorted before writing, as the queries
    // and replies of neighbouring exchanges interleave
    let mut at = [Vec::new(), Vec::new()];
    for i in 0..spec.flows {
        let (c, cport, nc, ncport) = client(i, spec.v6, spec.nat);
        let t = u64::from(i) * step;
        at[0].push((t, frame(spec.v6, &c, cport, &srv, SERVER_PORT, 64, QUERY)));
        at[1].push((
            t + HOP_NS,
            frame(spec.v6, &nc, ncport, &srv, SERVER_PORT, 63, QUERY),
        ));
        let r = t + HOP_NS + THINK_NS;
        let reply = if spec.echo { QUERY } else { REPLY };
        at[1].push((r, frame(spec.v6, &srv, SERVER_PORT, &nc, ncport, 64, reply)));
        at[0].push((
            r + HOP_NS,
            frame(spec.v6, &srv, SERVER_PORT, &c, cport, 63, reply),
        ));
    }
    for (records, out) in at.iter_mut().zip([&mut edge, &mut dns]) {
        records.sort_by_key(|r| r.0);
        for (t, f) in records.iter() {
            let sec = (T0_S + t / 1_000_000_000) as u32;
            out.record(sec, (t % 1_000_000_000 / 1000) as u32, f)?;
        }
    }
    edge.finish()?;
    dns.finish()?;
    Ok(paths)
}
