//! IP fragments: later fragments belong to their datagram's flow through (source,
//! destination, protocol, IP ID) and the first fragment, which carries the ports; fragments
//! that come before their first fragment wait, bounded, and become a ports-unknown flow if it
//! never comes.

use std::net::IpAddr;

use super::key::{Endpoint, FlowKey, FlowOf, KeyKind, Keyed};
use super::record::{Flow, TtlSet};
use super::table::FlowTable;
use crate::decode::Packet;

/// Fragments whose first fragment has not been seen yet.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingFragments {
    src: IpAddr,
    dst: IpAddr,
    ip_proto: u8,
    packets: u64,
    bytes: u64,
    ip_bytes: u64,
    first_ts: i64,
    last_ts: i64,
    first_frame: u64,
    last_frame: u64,
    ttls: TtlSet,
}

pub(super) type FragKey = (IpAddr, IpAddr, u8, u32);

/// Bound on datagrams tracked for fragment attribution (oldest forgotten first).
pub(super) const MAX_FRAGMENT_DATAGRAMS: usize = 65_536;

impl FlowTable {
    /// A first fragment of datagram `fk` opened or found flow `idx` (direction `dir`):
    /// remembered for the later fragments, and the fragments that came before it join it.
    pub(super) fn first_fragment(&mut self, fk: FragKey, idx: usize, dir: usize) {
        if self.fragments.len() >= MAX_FRAGMENT_DATAGRAMS {
            self.fragments.clear();
        }
        self.fragments.insert(fk, idx as u32);
        if let Some(pend) = self.pending.swap_remove(&fk) {
            if let Some(flow) = self.flows.get_mut(idx) {
                flow.merge_pending(&pend, dir);
            }
        }
    }

    /// The key, direction and (sport, dport) of a fragment after the first, through the
    /// datagram's first fragment; None when that has not been seen yet and the fragment is
    /// parked until it comes.
    pub(super) fn fragment_key(
        &mut self,
        p: &Packet,
        ts: i64,
        wire_len: u32,
        frame: u64,
    ) -> Option<(FlowKey, usize, (u16, u16))> {
        let Some(f) = p.fragment else {
            return Some(Keyed::key_of(p));
        };
        let fk = (p.src, p.dst, p.ip_proto, f.id);
        if let Some(&i) = self.fragments.get(&fk) {
            if let Some(k) = self.flows.get(i as usize).map(|f| f.key) {
                let dir = if k.lo.ip == p.src && k.hi.ip == p.dst {
                    0
                } else {
                    1
                };
                return Some((k, dir, (k.sender(dir).port, k.sender(1 - dir).port)));
            }
        }
        self.park_fragment(fk, p, ts, wire_len, frame);
        None
    }

    fn park_fragment(&mut self, fk: FragKey, p: &Packet, ts: i64, wire_len: u32, frame: u64) {
        if !self.pending.contains_key(&fk) && self.pending.len() >= MAX_FRAGMENT_DATAGRAMS {
            // give up on the oldest datagram: it becomes a ports-unknown flow
            if let Some((_, old)) = self.pending.shift_remove_index(0) {
                self.flush_pending(&old);
            }
        }
        let e = self.pending.entry(fk).or_insert(PendingFragments {
            src: p.src,
            dst: p.dst,
            ip_proto: p.ip_proto,
            packets: 0,
            bytes: 0,
            ip_bytes: 0,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            ttls: TtlSet::default(),
        });
        e.packets += 1;
        e.bytes += wire_len as u64;
        e.ip_bytes += p.ip_len as u64;
        e.first_ts = e.first_ts.min(ts);
        e.last_ts = e.last_ts.max(ts);
        e.last_frame = frame;
        e.ttls.insert(p.ttl);
    }

    pub(super) fn flush_pending(&mut self, pend: &PendingFragments) {
        let kind = match pend.ip_proto {
            6 | 17 => KeyKind::PortsUnknown,
            _ => KeyKind::Other,
        };
        let ep = |ip| Endpoint { ip, port: 0 };
        let (key, dir) = FlowKey::new(pend.ip_proto, kind, ep(pend.src), ep(pend.dst));
        let of = FlowOf::new(key, dir, (0, 0));
        let Some(idx) = self.find_or_open(of, || {
            Flow::new(key, dir, pend.first_ts, pend.first_frame, (0, 0))
        }) else {
            self.dropped_packets += pend.packets;
            return;
        };
        if let Some(flow) = self.flows.get_mut(idx) {
            flow.merge_pending(pend, dir);
        }
    }
}

impl Flow {
    /// Adds the fragments that waited for their first fragment, in direction `dir`.
    pub(super) fn merge_pending(&mut self, p: &PendingFragments, dir: usize) {
        self.packets[dir] += p.packets;
        self.bytes[dir] += p.bytes;
        self.ip_bytes[dir] += p.ip_bytes;
        self.rare_mut().fragments += p.packets;
        self.first_ts = self.first_ts.min(p.first_ts);
        self.last_ts = self.last_ts.max(p.last_ts);
        self.dir_first_ts[dir] = self.dir_first_ts[dir].min(p.first_ts);
        self.first_frame = self.first_frame.min(p.first_frame);
        self.last_frame = self.last_frame.max(p.last_frame);
        self.ttls[dir].merge(&p.ttls);
    }
}
