//! IP fragments: later fragments belong to their datagram's flow through (source,
//! destination, protocol, IP ID) and the first fragment, which carries the ports; fragments
//! that come before their first fragment wait, bounded, and become a ports-unknown flow if it
//! never comes. [`Fragments`] keeps that bookkeeping; the table asks it and opens the flows.

use std::net::IpAddr;

use super::key::{Endpoint, FlowKey, KeyKind};
use super::record::{Flow, TtlSet};
use crate::decode::{proto, Packet};
use crate::hash::{FastIndexMap, FastMap};

/// Fragments whose first fragment has not been seen yet.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingFragments {
    src: IpAddr,
    dst: IpAddr,
    ip_proto: u8,
    pub(super) packets: u64,
    bytes: u64,
    ip_bytes: u64,
    pub(super) first_ts: i64,
    last_ts: i64,
    pub(super) first_frame: u64,
    last_frame: u64,
    ttls: TtlSet,
}

/// A datagram: source, destination, protocol, IP ID.
pub(super) type FragKey = (IpAddr, IpAddr, u8, u32);

/// Bound on datagrams tracked for fragment attribution (oldest forgotten first).
const MAX_FRAGMENT_DATAGRAMS: usize = 65_536;

/// The datagrams whose first fragment was seen (and its flow), and the fragments waiting for
/// theirs.
#[derive(Default)]
pub(super) struct Fragments {
    /// The flow of each datagram whose first fragment was seen.
    datagrams: FastMap<FragKey, u32>,
    /// Fragments waiting for their first fragment, oldest datagram first.
    pending: FastIndexMap<FragKey, PendingFragments>,
}

impl Fragments {
    /// The first fragment of datagram `fk` is in flow `idx`: remembered for the later
    /// fragments. Returns the fragments that came before it.
    pub(super) fn first(&mut self, fk: FragKey, idx: usize) -> Option<PendingFragments> {
        if self.datagrams.len() >= MAX_FRAGMENT_DATAGRAMS {
            self.datagrams.clear();
        }
        self.datagrams.insert(fk, idx as u32);
        self.pending.swap_remove(&fk)
    }

    /// The flow of datagram `fk`, when its first fragment was seen.
    pub(super) fn flow_of(&self, fk: &FragKey) -> Option<usize> {
        self.datagrams.get(fk).map(|&i| i as usize)
    }

    /// Keeps a fragment of datagram `fk` until its first fragment comes. Returns the oldest
    /// datagram's fragments when the bound gave up on them (they become a flow of their own).
    pub(super) fn park(
        &mut self,
        fk: FragKey,
        p: &Packet,
        ts: i64,
        wire_len: u32,
        frame: u64,
    ) -> Option<PendingFragments> {
        let mut given_up = None;
        if !self.pending.contains_key(&fk) && self.pending.len() >= MAX_FRAGMENT_DATAGRAMS {
            given_up = self.pending.shift_remove_index(0).map(|(_, old)| old);
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
        given_up
    }

    /// The fragments still waiting, oldest datagram first (the capture ended).
    pub(super) fn drain_pending(&mut self) -> Vec<PendingFragments> {
        self.pending.drain(..).map(|(_, v)| v).collect()
    }
}

impl PendingFragments {
    /// The key of the ports-unknown flow these fragments become, and their direction in it.
    pub(super) fn key(&self) -> (FlowKey, usize) {
        let kind = match self.ip_proto {
            proto::TCP | proto::UDP => KeyKind::PortsUnknown,
            _ => KeyKind::Other,
        };
        let ep = |ip| Endpoint { ip, port: 0 };
        FlowKey::new(self.ip_proto, kind, ep(self.src), ep(self.dst))
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
