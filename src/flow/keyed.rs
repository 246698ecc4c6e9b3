//! What the flow table needs of a packet, computed ahead of the table (and of other
//! packets' updates, so that their memory can be fetched meanwhile): [`Keyed`], the flow key
//! and direction, the key's hash, the [`match_key`] and the forwarding fingerprint.

use super::forward::forward_fingerprint;
use super::index::key_hash;
use super::key::{Endpoint, FlowKey, KeyKind};
use super::sample::match_key;
use crate::decode::{proto, Packet, Transport};

/// What the flow table needs of a packet besides the packet itself, computed without the
/// table: its flow key and direction, the key's hash, its [`match_key`] and forwarding
/// fingerprint. [`FlowTable::add_batch`](super::FlowTable::add_batch) computes a batch of
/// them ahead of the updates.
#[derive(Debug, Clone, Copy)]
pub struct Keyed {
    /// None for a fragment after the first: its flow is the first fragment's, which only
    /// the table knows.
    pub(super) flow: Option<FlowOf>,
    pub(super) match_key: u64,
    pub(super) strong: bool,
    /// [`forward_fingerprint`].
    pub(super) forward_fp: Option<u64>,
}

/// The flow a packet belongs to: key, the key's hash, direction, (sport, dport).
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowOf {
    pub(super) key: FlowKey,
    pub(super) hash: u64,
    pub(super) dir: usize,
    pub(super) ports: (u16, u16),
}

impl FlowOf {
    #[inline]
    pub(super) fn new(key: FlowKey, dir: usize, ports: (u16, u16)) -> FlowOf {
        FlowOf {
            key,
            hash: key_hash(&key),
            dir,
            ports,
        }
    }
}

impl Keyed {
    #[inline]
    pub fn of(p: &Packet) -> Keyed {
        let (match_key, strong) = match_key(p);
        let later_fragment =
            matches!(p.transport, Transport::None) && p.fragment.is_some_and(|f| f.offset > 0);
        Keyed {
            flow: (!later_fragment).then(|| {
                let (key, dir, ports) = Keyed::key_of(p);
                FlowOf::new(key, dir, ports)
            }),
            match_key,
            strong,
            forward_fp: forward_fingerprint(p, match_key, strong),
        }
    }

    /// The key, direction and (sport, dport) of a packet that is not a later fragment.
    #[inline]
    pub(super) fn key_of(p: &Packet) -> (FlowKey, usize, (u16, u16)) {
        let (kind, sport, dport) = match p.transport {
            Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport } => {
                (KeyKind::Ports, sport, dport)
            }
            Transport::Echo { id, .. } => (KeyKind::Echo { id }, 0, 0),
            Transport::IcmpError {
                icmp_type, code, ..
            }
            | Transport::IcmpOther {
                icmp_type, code, ..
            } => (KeyKind::Icmp { icmp_type, code }, 0, 0),
            Transport::None => match p.ip_proto {
                proto::TCP | proto::UDP => (KeyKind::PortsUnknown, 0, 0),
                _ => (KeyKind::Other, 0, 0),
            },
        };
        let ep = |ip, port| Endpoint { ip, port };
        let (key, dir) = FlowKey::new(p.ip_proto, kind, ep(p.src, sport), ep(p.dst, dport));
        (key, dir, (sport, dport))
    }
}
