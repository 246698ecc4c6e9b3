//! Flow keys: the [`Endpoint`]s, [`KeyKind`] and [`FlowKey`] that name a flow the way tshark
//! names its conversations (see the table in the folder's docs).

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{proto, Quoted};

/// One side of a flow. `port` is 0 where the protocol has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// How every report writes an endpoint: `1.2.3.4:80`, `[2001:db8::1]:80`, or the bare
    /// address when `with_port` is false. Here, with the type, so that the stages that name
    /// endpoints in their own text (a NAT's `describe`) and the reports
    /// (`report::format::endpoint_text`) write them one way.
    pub fn display(&self, with_port: bool) -> EndpointDisplay {
        EndpointDisplay {
            endpoint: *self,
            with_port,
        }
    }

    fn order_key(&self) -> (u8, u128, u16) {
        match self.ip {
            IpAddr::V4(a) => (4, u32::from(a) as u128, self.port),
            IpAddr::V6(a) => (6, u128::from(a), self.port),
        }
    }
}

/// An [`Endpoint`] as text ([`Endpoint::display`]).
#[derive(Debug, Clone, Copy)]
pub struct EndpointDisplay {
    endpoint: Endpoint,
    with_port: bool,
}

impl std::fmt::Display for EndpointDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let port = self.endpoint.port;
        match (self.endpoint.ip, self.with_port) {
            (ip, false) => write!(f, "{ip}"),
            (IpAddr::V4(a), true) => write!(f, "{a}:{port}"),
            (IpAddr::V6(a), true) => write!(f, "[{a}]:{port}"),
        }
    }
}

/// What besides the addresses tells flows of one protocol apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// TCP/UDP with both ports.
    Ports,
    /// TCP/UDP whose ports were not captured (orphan fragment, snaplen).
    PortsUnknown,
    /// ICMP/ICMPv6 echo with this identifier.
    Echo { id: u16 },
    /// Any other ICMP/ICMPv6 message.
    Icmp { icmp_type: u8, code: u8 },
    /// Any other IP protocol.
    Other,
}

/// A bidirectional flow key: `lo` sorts before `hi` (IP as an integer, then port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    pub ip_proto: u8,
    pub kind: KeyKind,
    pub lo: Endpoint,
    pub hi: Endpoint,
}

/// Hashed as three words (the addresses as integers, the rest packed in one), not field by
/// field: the flow table hashes a key for every packet.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        fn ip_word(ip: &IpAddr) -> (u128, u64) {
            match ip {
                IpAddr::V4(a) => (u128::from(u32::from(*a)), 0),
                IpAddr::V6(a) => (u128::from(*a), 1),
            }
        }
        let (kind, x) = match self.kind {
            KeyKind::Ports => (0u64, 0u64),
            KeyKind::PortsUnknown => (1, 0),
            KeyKind::Echo { id } => (2, u64::from(id)),
            KeyKind::Icmp { icmp_type, code } => (3, u64::from(icmp_type) << 8 | u64::from(code)),
            KeyKind::Other => (4, 0),
        };
        let (lo, lo6) = ip_word(&self.lo.ip);
        let (hi, hi6) = ip_word(&self.hi.ip);
        h.write_u64(
            u64::from(self.ip_proto)
                | kind << 8
                | lo6 << 11
                | hi6 << 12
                | x << 16
                | u64::from(self.lo.port) << 32
                | u64::from(self.hi.port) << 48,
        );
        h.write_u128(lo);
        h.write_u128(hi);
    }
}

impl FlowKey {
    /// Builds the key and tells the direction of `src -> dst`: 0 when src is `lo`.
    pub fn new(ip_proto: u8, kind: KeyKind, src: Endpoint, dst: Endpoint) -> (FlowKey, usize) {
        if src.order_key() <= dst.order_key() {
            (
                FlowKey {
                    ip_proto,
                    kind,
                    lo: src,
                    hi: dst,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    ip_proto,
                    kind,
                    lo: dst,
                    hi: src,
                },
                1,
            )
        }
    }

    /// The endpoint that sends in direction `dir` (0: lo -> hi).
    pub fn sender(&self, dir: usize) -> Endpoint {
        if dir == 0 {
            self.lo
        } else {
            self.hi
        }
    }

    /// `tcp`, `udp`, `icmp`, `icmpv6` or `other`.
    pub fn proto_name(&self) -> &'static str {
        proto_name(self.ip_proto)
    }

    /// True for keys with ports (TCP/UDP with ports known).
    pub fn has_ports(&self) -> bool {
        self.kind == KeyKind::Ports
    }

    /// The key of the conversation a quoted header (inside an ICMP error) belongs to.
    pub fn of_quoted(q: &Quoted) -> FlowKey {
        let (kind, sport, dport) = match q.ip_proto {
            proto::TCP | proto::UDP => (KeyKind::Ports, q.sport, q.dport),
            proto::ICMP | proto::ICMPV6 => (KeyKind::Echo { id: q.sport }, 0, 0),
            _ => (KeyKind::Other, 0, 0),
        };
        FlowKey::new(
            q.ip_proto,
            kind,
            Endpoint {
                ip: q.src,
                port: sport,
            },
            Endpoint {
                ip: q.dst,
                port: dport,
            },
        )
        .0
    }
}

impl Default for FlowKey {
    fn default() -> Self {
        let unspecified = Endpoint {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
        };
        FlowKey {
            ip_proto: 0,
            kind: KeyKind::Other,
            lo: unspecified,
            hi: unspecified,
        }
    }
}

/// The name flowcheck and tshark use for an IP protocol.
pub fn proto_name(ip_proto: u8) -> &'static str {
    match ip_proto {
        proto::TCP => "tcp",
        proto::UDP => "udp",
        proto::ICMP => "icmp",
        proto::ICMPV6 => "icmpv6",
        _ => "other",
    }
}
