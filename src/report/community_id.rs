//! Community ID (version 1, seed 0): the flow hash other tools (Zeek, Suricata, Arkime,
//! Wireshark, many SIEMs) print, so that a flow found in flowcheck's output can be looked up
//! in theirs.
//!
//! As corelight's community-id-spec defines it: the SHA-1 of
//! `seed (2 bytes) | source address | destination address | IP protocol (1) | 0 (1) |
//! source port (2) | destination port (2)` (all in network byte order; the ports only for
//! protocols that have them), rendered `1:` + standard base64 of the 20-byte digest. The
//! tuple is first put in order so that both directions of a flow hash the same: the
//! endpoint with the smaller address (compared as bytes), or with equal addresses the
//! smaller port, goes first.
//!
//! ICMP and ICMPv6 have no ports: the message type stands for the source port and, for the
//! request/reply types Zeek pairs (echo, timestamp, information, address mask, router
//! solicitation/advertisement; ICMPv6 echo, MLD query/report, neighbour and router
//! discovery, who-are-you, home agent discovery), the type of its counterpart for the
//! destination port, so a request and its reply share one ID. Every other type is *one-way*:
//! its code is the destination port and the tuple is not reordered (the ID of a message
//! depends on who sent it).
//!
//! SHA-1 comes from the RustCrypto `sha1` crate (the standard Rust implementation); the
//! base64 of a 20-byte digest is 28 characters and written here. Computing an ID does not
//! allocate.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

use crate::correlate::Conversation;
use crate::decode::proto;
use crate::flow::{Endpoint, Flow, FlowKey, KeyKind};

/// The seed every tool uses unless told otherwise.
pub const SEED: u16 = 0;

/// `1:` and 28 base64 characters.
const LEN: usize = 30;

/// A rendered Community ID, held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommunityId([u8; LEN]);

impl CommunityId {
    /// The ID as text (`1:...=`).
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The ID's ASCII bytes (what the exports write: no UTF-8 check per row).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommunityId({})", self.as_str())
    }
}

/// What stands for the ports of a tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Source and destination port (or their ICMP equivalents); `one_way` keeps the order.
    Some { src: u16, dst: u16, one_way: bool },
    /// A protocol without ports: only the addresses and the protocol are hashed.
    None,
}

/// The ICMP (or ICMPv6 when `v6`) counterpart of a request/reply type, as Zeek pairs them.
fn counterpart(v6: bool, icmp_type: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if v6 {
        &[
            (128, 129),
            (130, 131),
            (133, 134),
            (135, 136),
            (139, 140),
            (144, 145),
        ]
    } else {
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if a == icmp_type {
            Some(b)
        } else if b == icmp_type {
            Some(a)
        } else {
            None
        }
    })
}

/// The port equivalents of an ICMP message of this type and code.
pub fn icmp_ports(v6: bool, icmp_type: u8, code: u8) -> Ports {
    match counterpart(v6, icmp_type) {
        Some(other) => Ports::Some {
            src: icmp_type.into(),
            dst: other.into(),
            one_way: false,
        },
        None => Ports::Some {
            src: icmp_type.into(),
            dst: code.into(),
            one_way: true,
        },
    }
}

/// The Community ID of a packet (or flow) from `src` to `dst`. `None` when the two addresses
/// are not of one family.
pub fn of_tuple(ip_proto: u8, src: IpAddr, dst: IpAddr, ports: Ports) -> Option<CommunityId> {
    let mut buf = [0u8; 40];
    let (mut s, mut d) = (src, dst);
    let (mut sp, mut dp, one_way) = match ports {
        Ports::Some { src, dst, one_way } => (Some(src), Some(dst), one_way),
        Ports::None => (None, None, false),
    };
    let ordered = one_way || octets(&s) < octets(&d) || (s == d && sp <= dp);
    if !ordered {
        std::mem::swap(&mut s, &mut d);
        std::mem::swap(&mut sp, &mut dp);
    }
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        if let Some(slot) = buf.get_mut(n..n + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        n += bytes.len();
    };
    put(&SEED.to_be_bytes());
    match (s, d) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            put(&a.octets());
            put(&b.octets());
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            put(&a.octets());
            put(&b.octets());
        }
        _ => return None,
    }
    put(&[ip_proto, 0]);
    if let (Some(sp), Some(dp)) = (sp, dp) {
        put(&sp.to_be_bytes());
        put(&dp.to_be_bytes());
    }
    let digest = Sha1::digest(buf.get(..n)?);
    let mut out = [0u8; LEN];
    out[0] = b'1';
    out[1] = b':';
    base64(&digest, &mut out[2..]);
    Some(CommunityId(out))
}

/// Addresses compared as the bytes the hash sees (network byte order).
fn octets(ip: &IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => {
            let mut o = [0u8; 16];
            o[..4].copy_from_slice(&a.octets());
            o
        }
        IpAddr::V6(a) => a.octets(),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4) of `input` into `out`, which must hold
/// `4 * ceil(len / 3)` bytes.
fn base64(input: &[u8], out: &mut [u8]) {
    let sym = |v: u32| ALPHABET[(v & 63) as usize];
    for (chunk, dst) in input.chunks(3).zip(out.chunks_mut(4)) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let v = b(0) << 16 | b(1) << 8 | b(2);
        let quad = [
            sym(v >> 18),
            sym(v >> 12),
            if chunk.len() > 1 { sym(v >> 6) } else { b'=' },
            if chunk.len() > 2 { sym(v) } else { b'=' },
        ];
        for (d, q) in dst.iter_mut().zip(quad) {
            *d = q;
        }
    }
}

/// Protocols whose ID needs ports (or ICMP type and code): TCP, UDP, SCTP, ICMP, ICMPv6.
const PORT_PROTOCOLS: [u8; 5] = [proto::TCP, proto::UDP, SCTP, proto::ICMP, proto::ICMPV6];

/// SCTP's protocol number (flowcheck does not decode SCTP; its IDs still need ports).
const SCTP: u8 = 132;

/// The ports (or their ICMP equivalents) of a flow key's kind; `None` when the key's ports
/// were not captured (a TCP/UDP fragment without its header): no ID then.
fn key_ports(ip_proto: u8, kind: KeyKind, src: Endpoint, dst: Endpoint) -> Option<Ports> {
    let v6 = ip_proto == proto::ICMPV6;
    Some(match kind {
        KeyKind::Ports => Ports::Some {
            src: src.port,
            dst: dst.port,
            one_way: false,
        },
        KeyKind::PortsUnknown => return None,
        KeyKind::Echo { .. } => {
            let request = if v6 { 128 } else { 8 };
            icmp_ports(v6, request, 0)
        }
        KeyKind::Icmp { icmp_type, code } => icmp_ports(v6, icmp_type, code),
        // The spec hashes ports for these; without them (an ICMP message too short for its
        // type, SCTP, whose ports flowcheck does not read) there is no ID, as the reference
        // implementation refuses such a tuple.
        KeyKind::Other if PORT_PROTOCOLS.contains(&ip_proto) => return None,
        KeyKind::Other => Ports::None,
    })
}

/// The ID of the tuple `src -> dst` of a flow or conversation key. Echo keys hash as the
/// request (the reply hashes the same).
pub fn of_endpoints(
    ip_proto: u8,
    kind: KeyKind,
    src: Endpoint,
    dst: Endpoint,
) -> Option<CommunityId> {
    let ports = key_ports(ip_proto, kind, src, dst)?;
    of_tuple(ip_proto, src.ip, dst.ip, ports)
}

/// What a Community ID is hashed from: the protocol, the two addresses and the ports (or
/// their stand-ins), source first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    ip_proto: u8,
    src: IpAddr,
    dst: IpAddr,
    ports: Ports,
}

impl Tuple {
    /// The ID of the tuple.
    pub fn id(&self) -> Option<CommunityId> {
        of_tuple(self.ip_proto, self.src, self.dst, self.ports)
    }

    /// Whether `other` has the same ID without hashing it: the same tuple, or the same
    /// with source and destination swapped where the order is not kept (the ID orders them).
    pub fn same_id(&self, other: &Tuple) -> bool {
        if self == other {
            return true;
        }
        let swapped = match self.ports {
            Ports::Some {
                src,
                dst,
                one_way: false,
            } => Ports::Some {
                src: dst,
                dst: src,
                one_way: false,
            },
            Ports::Some { one_way: true, .. } => return false,
            Ports::None => Ports::None,
        };
        let reversed = Tuple {
            ip_proto: self.ip_proto,
            src: self.dst,
            dst: self.src,
            ports: swapped,
        };
        reversed == *other
    }
}

/// The tuple of `src -> dst` of a key of this protocol and kind (`None`: no ID).
fn tuple(ip_proto: u8, kind: KeyKind, src: Endpoint, dst: Endpoint) -> Option<Tuple> {
    Some(Tuple {
        ip_proto,
        src: src.ip,
        dst: dst.ip,
        ports: key_ports(ip_proto, kind, src, dst)?,
    })
}

/// The tuple [`of_flow`] hashes.
pub fn flow_tuple(f: &Flow) -> Option<Tuple> {
    let key: &FlowKey = &f.key;
    let src = match key.kind {
        KeyKind::Echo { .. } => f.tshark_sides().a,
        _ => usize::from(f.first_dir.min(1)),
    };
    tuple(key.ip_proto, key.kind, key.sender(src), key.sender(1 - src))
}

/// The tuple [`of_conversation`] hashes.
pub fn conversation_tuple(c: &Conversation) -> Option<Tuple> {
    tuple(c.ip_proto, c.kind, c.client, c.server)
}

/// The ID of a flow at one point, from its own tuple there. An echo flow is hashed from its
/// requester (the echo request's type is the source "port"; the sender of a flow's first
/// packet may be the replier); one-way ICMP messages from the sender of its first packet.
pub fn of_flow(f: &Flow) -> Option<CommunityId> {
    flow_tuple(f)?.id()
}

/// The ID of a conversation: the client's tuple before any NAT (for echo, the client is the
/// requester).
pub fn of_conversation(c: &Conversation) -> Option<CommunityId> {
    conversation_tuple(c)?.id()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    fn id(ip_proto: u8, kind: KeyKind, src: Endpoint, dst: Endpoint) -> String {
        of_endpoints(ip_proto, kind, src, dst)
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    /// Known values, computed with the reference implementation (the `communityid` Python
    /// package 1.5.0, `CommunityID(seed=0)`), for the lab's and the corpus's tuples and the
    /// spec's ICMP rules.
    #[test]
    fn ids_equal_the_reference_implementation() {
        let p = KeyKind::Ports;
        let table: &[(u8, KeyKind, Endpoint, Endpoint, &str)] = &[
            // lab stage 3: tcp 10.100.201.4:35100 -> 10.100.202.4:8080
            (
                6,
                p,
                ep("10.100.201.4", 35100),
                ep("10.100.202.4", 8080),
                "1:3mAGPtS6TwiXxMA/pO5TpCU9vhs=",
            ),
            // udp 10.100.201.4:40002 -> 10.100.202.4:5353
            (
                17,
                p,
                ep("10.100.201.4", 40002),
                ep("10.100.202.4", 5353),
                "1:FGygbqVbFdkGguOBEUflEzDn+6M=",
            ),
            // icmp echo 10.100.201.4 -> 10.100.202.4
            (
                1,
                KeyKind::Echo { id: 12 },
                ep("10.100.201.4", 0),
                ep("10.100.202.4", 0),
                "1:kNpu6nktKST+zfHHfbHAVIFqXfM=",
            ),
            // icmpv6 echo 2001:db8::1 -> 2001:db8::2
            (
                58,
                KeyKind::Echo { id: 1 },
                ep("2001:db8::1", 0),
                ep("2001:db8::2", 0),
                "1:u2vMS3HiWth2lIMKHB1fjELshpQ=",
            ),
            // ICMPv4 port unreachable (one-way: type 3, code 3)
            (
                1,
                KeyKind::Icmp {
                    icmp_type: 3,
                    code: 3,
                },
                ep("192.168.1.1", 0),
                ep("192.168.1.102", 0),
                "1:4m6LJZ/kCbzQhgCyFhfox/EaKmo=",
            ),
            // the same message the other way (one-way: not reordered, so another ID)
            (
                1,
                KeyKind::Icmp {
                    icmp_type: 3,
                    code: 3,
                },
                ep("192.168.1.102", 0),
                ep("192.168.1.1", 0),
                "1:GGvyj18dEx42K7edkkcDklsnKqs=",
            ),
            // ICMPv6 neighbour solicitation (two-way with advertisement)
            (
                58,
                KeyKind::Icmp {
                    icmp_type: 135,
                    code: 0,
                },
                ep("fe80::1", 0),
                ep("ff02::1:ff00:2", 0),
                "1:6GkV4Q23CW9hmt4IlBap+Dis6uk=",
            ),
            // ICMPv6 MLDv2 report (one-way)
            (
                58,
                KeyKind::Icmp {
                    icmp_type: 143,
                    code: 0,
                },
                ep("::", 0),
                ep("ff02::16", 0),
                "1:ikDqa5zwxtfbMnBkctuAzacX7zg=",
            ),
            // TCP over IPv6
            (
                6,
                p,
                ep("2001:db8::2", 80),
                ep("2001:db8::1", 51000),
                "1:sQdqFsD149XESOu89eFPGaWNfLs=",
            ),
            // equal addresses: ordered by port
            (
                17,
                p,
                ep("127.0.0.1", 5353),
                ep("127.0.0.1", 53),
                "1:m1cdRPNZ+QctwbvESDipFZRVoUc=",
            ),
            // another protocol (GRE 47): no ports
            (
                47,
                KeyKind::Other,
                ep("10.0.0.2", 0),
                ep("10.0.0.1", 0),
                "1:+KlEHDT0vJgzs/eNmzHq0aSpRYw=",
            ),
        ];
        for (proto, kind, src, dst, want) in table {
            assert_eq!(
                &id(*proto, *kind, *src, *dst),
                want,
                "{proto} {src:?} -> {dst:?}"
            );
        }
    }

    #[test]
    fn both_directions_of_a_two_way_flow_share_the_id() {
        let (a, b) = (ep("10.0.0.1", 1234), ep("10.0.0.2", 80));
        assert_eq!(id(6, KeyKind::Ports, a, b), id(6, KeyKind::Ports, b, a));
        let ns = KeyKind::Icmp {
            icmp_type: 135,
            code: 0,
        };
        let na = KeyKind::Icmp {
            icmp_type: 136,
            code: 0,
        };
        let (x, y) = (ep("fe80::1", 0), ep("fe80::2", 0));
        assert_eq!(id(58, ns, x, y), id(58, na, y, x));
    }

    #[test]
    fn a_tuple_said_to_have_the_same_id_has_it() {
        let (a, b) = (ep("10.0.0.1", 40000), ep("10.0.0.2", 443));
        let kinds = [
            (proto::TCP, KeyKind::Ports),
            (proto::ICMP, KeyKind::Echo { id: 7 }),
            (
                proto::ICMP,
                KeyKind::Icmp {
                    icmp_type: 3,
                    code: 1,
                },
            ),
            (47, KeyKind::Other),
        ];
        for (ip_proto, kind) in kinds {
            let there = tuple(ip_proto, kind, a, b).unwrap();
            let back = tuple(ip_proto, kind, b, a).unwrap();
            assert!(there.same_id(&there));
            // never claimed wrongly; claimed for swapped ports and for protocols without
            // ports (an echo key's stand-ins are the request's either way round, a one-way
            // ICMP message keeps its order: their IDs differ when swapped)
            if there.same_id(&back) {
                assert_eq!(there.id(), back.id(), "{ip_proto} {kind:?}");
            }
            let claimed = matches!(kind, KeyKind::Ports | KeyKind::Other);
            assert_eq!(there.same_id(&back), claimed, "{ip_proto} {kind:?}");
            assert_eq!(there.id() == back.id(), claimed, "{ip_proto} {kind:?}");
            let other = tuple(ip_proto, kind, a, ep("10.0.0.3", 443)).unwrap();
            assert!(!there.same_id(&other));
        }
    }

    #[test]
    fn tuples_without_their_ports_have_no_id() {
        let (a, b) = (ep("10.0.0.1", 0), ep("10.0.0.2", 0));
        assert!(of_endpoints(6, KeyKind::PortsUnknown, a, b).is_none());
        // an ICMP message too short for its type; SCTP
        assert!(of_endpoints(1, KeyKind::Other, a, b).is_none());
        assert!(of_endpoints(132, KeyKind::Other, a, b).is_none());
        assert!(of_tuple(6, a.ip, "::1".parse().unwrap(), Ports::None).is_none());
    }

    #[test]
    fn base64_pads_like_rfc_4648() {
        let mut out = [0u8; 8];
        base64(b"foob", &mut out);
        assert_eq!(&out, b"Zm9vYg==");
        let mut out = [0u8; 8];
        base64(b"fooba", &mut out);
        assert_eq!(&out, b"Zm9vYmE=");
        let mut out = [0u8; 4];
        base64(b"foo", &mut out);
        assert_eq!(&out, b"Zm9v");
    }
}
