//! The transport summary (TCP, UDP, ICMP, ICMPv6), the quoted header of ICMP errors, and the
//! payload digest.

use std::net::IpAddr;

use super::ip::{self, proto};
use super::{be16, be32, byte, Packet, Quoted, Transport};

/// Fills `pkt.transport`, `payload_len`, `digest`/`digest_len` (and `truncated` when the
/// transport header is cut) from the IP payload `l4` (captured bytes within the IP length)
/// whose length by the headers is `l4_len`.
pub(super) fn fill(pkt: &mut Packet, l4: &[u8], l4_len: u32, non_first_fragment: bool) {
    if non_first_fragment {
        set_payload(pkt, l4, l4_len);
        return;
    }
    match pkt.ip_proto {
        proto::TCP => tcp(pkt, l4, l4_len),
        proto::UDP => udp(pkt, l4, l4_len),
        proto::ICMP => icmp(pkt, l4, l4_len, false),
        proto::ICMPV6 => icmp(pkt, l4, l4_len, true),
        _ => set_payload(pkt, l4, l4_len),
    }
}

fn set_payload(pkt: &mut Packet, captured: &[u8], len: u32) {
    pkt.payload_len = len;
    let (digest, digest_len) = digest(captured);
    pkt.digest = digest;
    pkt.digest_len = digest_len;
}

const TCP_MIN_HEADER: usize = 20;

fn tcp(pkt: &mut Packet, l4: &[u8], l4_len: u32) {
    let (Some(sport), Some(dport)) = (be16(l4, 0), be16(l4, 2)) else {
        pkt.truncated = true;
        pkt.payload_len = l4_len.saturating_sub(TCP_MIN_HEADER as u32);
        return;
    };
    let flags = byte(l4, 13);
    // A data offset below 5 is bogus; read the payload as if it were 5.
    let hlen = byte(l4, 12)
        .map_or(TCP_MIN_HEADER, |b| usize::from(b >> 4) * 4)
        .max(TCP_MIN_HEADER);
    if flags.is_none() || l4.len() < hlen {
        pkt.truncated = true;
    }
    pkt.transport = Transport::Tcp {
        sport,
        dport,
        flags: flags.unwrap_or(0),
        seq: be32(l4, 4).unwrap_or(0),
        ack: be32(l4, 8).unwrap_or(0),
    };
    set_payload(
        pkt,
        l4.get(hlen..).unwrap_or(&[]),
        l4_len.saturating_sub(hlen as u32),
    );
}

const UDP_HEADER: usize = 8;

fn udp(pkt: &mut Packet, l4: &[u8], l4_len: u32) {
    let payload_len = l4_len.saturating_sub(UDP_HEADER as u32);
    let (Some(sport), Some(dport)) = (be16(l4, 0), be16(l4, 2)) else {
        pkt.truncated = true;
        pkt.payload_len = payload_len;
        return;
    };
    if l4.len() < UDP_HEADER {
        pkt.truncated = true;
    }
    pkt.transport = Transport::Udp { sport, dport };
    set_payload(pkt, l4.get(UDP_HEADER..).unwrap_or(&[]), payload_len);
}

/// ICMP and ICMPv6 messages all start with type, code, checksum and 4 type-specific bytes.
const ICMP_HEADER: usize = 8;

fn echo_types(v6: bool) -> (u8, u8) {
    if v6 {
        (128, 129)
    } else {
        (8, 0)
    }
}

fn is_error(v6: bool, icmp_type: u8) -> bool {
    if v6 {
        // destination unreachable, packet too big, time exceeded, parameter problem
        matches!(icmp_type, 1..=4)
    } else {
        // destination unreachable, source quench, time exceeded, parameter problem
        matches!(icmp_type, 3 | 4 | 11 | 12)
    }
}

fn icmp(pkt: &mut Packet, l4: &[u8], l4_len: u32, v6: bool) {
    let payload_len = l4_len.saturating_sub(ICMP_HEADER as u32);
    // tshark gives no type/code when the checksum is cut.
    let (Some(icmp_type), Some(code), Some(_checksum)) = (byte(l4, 0), byte(l4, 1), be16(l4, 2))
    else {
        pkt.truncated = true;
        pkt.payload_len = payload_len;
        return;
    };
    if l4.len() < ICMP_HEADER {
        pkt.truncated = true;
    }
    let body = l4.get(ICMP_HEADER..).unwrap_or(&[]);
    let (request, reply) = echo_types(v6);
    pkt.transport = if icmp_type == request || icmp_type == reply {
        match be16(l4, 4) {
            Some(id) => Transport::Echo {
                v6,
                request: icmp_type == request,
                id,
                seq: be16(l4, 6).unwrap_or(0),
            },
            // The identifier is cut: no echo conversation can be named.
            None => Transport::IcmpOther {
                v6,
                icmp_type,
                code,
            },
        }
    } else if is_error(v6, icmp_type) {
        Transport::IcmpError {
            v6,
            icmp_type,
            code,
            quoted: quoted(body),
        }
    } else {
        Transport::IcmpOther {
            v6,
            icmp_type,
            code,
        }
    };
    set_payload(pkt, body, payload_len);
}

/// The parts of a quoted IP header that [`quoted`] turns into a [`Quoted`].
pub(super) struct QuotedIp<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip_proto: u8,
    /// The quoted bytes after the IP header (and its extension headers).
    pub l4: &'a [u8],
    pub non_first: bool,
}

/// The packet quoted in an ICMP error: `None` when its addresses are not all there.
fn quoted(body: &[u8]) -> Option<Quoted> {
    let q = ip::quoted(body)?;
    let (sport, dport) = if q.non_first {
        (0, 0)
    } else {
        quoted_ports(q.ip_proto, q.l4)
    };
    Some(Quoted {
        src: q.src,
        dst: q.dst,
        ip_proto: q.ip_proto,
        sport,
        dport,
    })
}

fn quoted_ports(ip_proto: u8, l4: &[u8]) -> (u16, u16) {
    let echo_id = |v6: bool| {
        let (request, reply) = echo_types(v6);
        match byte(l4, 0) {
            Some(t) if t == request || t == reply => (be16(l4, 4).unwrap_or(0), 0),
            _ => (0, 0),
        }
    };
    match ip_proto {
        proto::TCP | proto::UDP => match (be16(l4, 0), be16(l4, 2)) {
            (Some(sport), Some(dport)) => (sport, dport),
            _ => (0, 0),
        },
        proto::ICMP => echo_id(false),
        proto::ICMPV6 => echo_id(true),
        _ => (0, 0),
    }
}

/// How many payload bytes the digest covers at most.
const DIGEST_BYTES: usize = 16;

/// Hash of the first `min(16, captured)` payload bytes and that count; (0, 0) for none.
///
/// The bytes are loaded as two little-endian words (zero-padded) and mixed with the count by
/// two folded 64x64->128-bit multiplications: not cryptographic, but every input bit reaches
/// every output bit, and it costs a few nanoseconds.
pub(super) fn digest(payload: &[u8]) -> (u64, u8) {
    const K0: u64 = 0x243f_6a88_85a3_08d3;
    const K1: u64 = 0x1319_8a2e_0370_7344;
    const K2: u64 = 0xa409_3822_299f_31d0;
    const K3: u64 = 0x082e_fa98_ec4e_6c89;
    let mut buf = [0u8; DIGEST_BYTES];
    let mut n = 0u8;
    for (slot, &b) in buf.iter_mut().zip(payload) {
        *slot = b;
        n += 1;
    }
    if n == 0 {
        return (0, 0);
    }
    let words = u128::from_le_bytes(buf);
    let (lo, hi) = (words as u64, (words >> 64) as u64);
    let h = fold(lo ^ K0, hi ^ K1 ^ u64::from(n));
    (fold(h ^ K2, u64::from(n) ^ K3), n)
}

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}
