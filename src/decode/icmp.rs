//! ICMP (RFC 792) and ICMPv6 (RFC 4443): echo request/reply, errors with the key fields of the
//! packet they quote, and the other messages.

use super::bytes::{be16, byte};
use super::digest::set_payload;
use super::layer::QuotedIp;
use super::numbers::proto;
use super::packet::{Packet, Quoted, Transport};
use super::{ipv4, ipv6, tcp};

/// Header fields: byte offsets. Every message starts with type, code, checksum and 4
/// type-specific bytes (an echo's identifier and sequence number).
const TYPE: usize = 0;
const CODE: usize = 1;
const CHECKSUM: usize = 2;
const ECHO_ID: usize = 4;
const ECHO_SEQ: usize = 6;
const HEADER: usize = 8;

/// The echo request and reply types.
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

/// Fills the ICMP (`v6` false) or ICMPv6 transport of `pkt` from the IP payload `l4`
/// (captured) of length `l4_len`.
pub(super) fn fill(pkt: &mut Packet, l4: &[u8], l4_len: u32, v6: bool) {
    let payload_len = l4_len.saturating_sub(HEADER as u32);
    // tshark gives no type/code when the checksum is cut.
    let (Some(icmp_type), Some(code), Some(_checksum)) =
        (byte(l4, TYPE), byte(l4, CODE), be16(l4, CHECKSUM))
    else {
        pkt.truncated = true;
        pkt.payload_len = payload_len;
        return;
    };
    if l4.len() < HEADER {
        pkt.truncated = true;
    }
    let body = l4.get(HEADER..).unwrap_or(&[]);
    let (request, reply) = echo_types(v6);
    pkt.transport = if icmp_type == request || icmp_type == reply {
        match be16(l4, ECHO_ID) {
            Some(id) => Transport::Echo {
                v6,
                request: icmp_type == request,
                id,
                seq: be16(l4, ECHO_SEQ).unwrap_or(0),
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

/// The packet quoted in an ICMP error: `None` when its addresses are not all there.
fn quoted(body: &[u8]) -> Option<Quoted> {
    let q: QuotedIp<'_> = match byte(body, 0)? >> 4 {
        4 => ipv4::quoted(body)?,
        6 => ipv6::quoted(body)?,
        _ => return None,
    };
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

/// Ports of a quoted TCP/UDP header, (id, 0) for a quoted echo, (0, 0) otherwise or when cut.
fn quoted_ports(ip_proto: u8, l4: &[u8]) -> (u16, u16) {
    let echo_id = |v6: bool| {
        let (request, reply) = echo_types(v6);
        match byte(l4, TYPE) {
            Some(t) if t == request || t == reply => (be16(l4, ECHO_ID).unwrap_or(0), 0),
            _ => (0, 0),
        }
    };
    match ip_proto {
        // UDP has its ports where TCP has them.
        proto::TCP | proto::UDP => match (be16(l4, tcp::SRC_PORT), be16(l4, tcp::DST_PORT)) {
            (Some(sport), Some(dport)) => (sport, dport),
            _ => (0, 0),
        },
        proto::ICMP => echo_id(false),
        proto::ICMPV6 => echo_id(true),
        _ => (0, 0),
    }
}
