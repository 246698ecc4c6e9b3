//! The flow table of one capture point: every packet lands in its flow (opened on its first
//! packet, found by key through `index`), updating the counters, the forwarding detector,
//! the samples and the TCP history; [`FlowTable::finish`] hands over the flows and links.

use super::forward::{ForwardDetector, LegSeen, Link};
use super::fragment::{FragKey, PendingFragments};
use super::index::{FlowIndex, Slot};
use super::key::{FlowOf, KeyKind, Keyed};
use super::record::Flow;
use super::sample::{group_address, Sample};
use crate::decode::{Packet, Transport};
use crate::hash::{FastIndexMap, FastMap};

/// The flow table of one capture point.
pub struct FlowTable {
    /// In order of first packet (orphan fragments aside, see `finish`).
    pub(super) flows: Vec<Flow>,
    pub(super) index: FlowIndex,
    pub(super) links: FastIndexMap<(u32, u32, u8), Link>,
    pub(super) fragments: FastMap<FragKey, u32>,
    pub(super) pending: FastIndexMap<FragKey, PendingFragments>,
    pub(super) forward: ForwardDetector,
    pub(super) max_flows: usize,
    /// Packets that would have opened a flow past `max_flows`.
    pub dropped_packets: u64,
    /// Packets that are the leaving leg of a forward at this point.
    pub forwarded_packets: u64,
    /// True when flows keep packet samples.
    pub(super) sampling: bool,
}

impl FlowTable {
    /// A table that holds at most `max_flows` flows; packets of further flows are counted in
    /// `dropped_packets`. It keeps no packet samples.
    pub fn new(max_flows: usize) -> FlowTable {
        FlowTable::with_samples(max_flows, false)
    }

    /// A table that, when `sampling`, keeps packet samples in every flow (see the module docs):
    /// what `correlate` needs to follow packets across capture points.
    pub fn with_samples(max_flows: usize, sampling: bool) -> FlowTable {
        FlowTable {
            sampling,
            flows: Vec::new(),
            index: FlowIndex::new(),
            links: FastIndexMap::default(),
            fragments: FastMap::default(),
            pending: FastIndexMap::default(),
            forward: ForwardDetector::default(),
            max_flows,
            dropped_packets: 0,
            forwarded_packets: 0,
        }
    }

    /// Adds one decoded packet. `frame` is its 1-based number in the capture.
    pub fn add(&mut self, p: &Packet, ts: i64, wire_len: u32, frame: u64) {
        self.add_keyed(p, &Keyed::of(p), ts, wire_len, frame);
    }

    /// Adds a batch of packets: (packet, time, wire length, frame number), in order, as
    /// [`add`](Self::add) would one by one. The keys of the whole batch are computed first,
    /// then while each packet updates its flow, the index slots and flows of the packets a
    /// few places ahead are prefetched, so that the cache misses of a table far larger than
    /// the caches overlap instead of following one another. `keys` is scratch space, kept by
    /// the caller so that batches do not allocate.
    pub fn add_batch(&mut self, batch: &[(Packet, i64, u32, u64)], keys: &mut Vec<Keyed>) {
        const AHEAD: usize = 8;
        keys.clear();
        keys.extend(batch.iter().map(|(p, ..)| Keyed::of(p)));
        for (i, ((p, ts, wire_len, frame), k)) in batch.iter().zip(keys.iter()).enumerate() {
            if let Some(near) = keys.get(i + AHEAD / 2).and_then(|k| k.flow) {
                self.index.prefetch_flow(near.hash, &self.flows);
            }
            if let Some(ahead) = keys.get(i + AHEAD) {
                if let Some(f) = ahead.flow {
                    self.index.prefetch(f.hash);
                }
                if let Some(fp) = ahead.forward_fp {
                    self.forward.prefetch(fp);
                }
            }
            self.add_keyed(p, k, *ts, *wire_len, *frame);
        }
    }

    /// Adds one packet whose key was computed (by [`Keyed::of`]).
    fn add_keyed(&mut self, p: &Packet, k: &Keyed, ts: i64, wire_len: u32, frame: u64) {
        let of = match k.flow {
            Some(of) => of,
            None => match self.fragment_key(p, ts, wire_len, frame) {
                Some((key, dir, ports)) => FlowOf::new(key, dir, ports),
                None => return, // parked as a pending fragment
            },
        };
        let FlowOf { key, dir, .. } = of;
        let sampling = self.sampling;
        let Some(idx) = self.find_or_open(of, || {
            let mut flow = Flow::new(key, dir, ts, frame, of.ports);
            if sampling {
                flow.samples = Some(Box::default());
            }
            flow
        }) else {
            self.dropped_packets += 1;
            return;
        };
        // a first fragment: remember the datagram, and collect fragments that came before it
        if let Some(f) = p.fragment {
            if f.offset == 0 && key.kind == KeyKind::Ports {
                self.first_fragment((p.src, p.dst, p.ip_proto, f.id), idx, dir);
            }
        }
        let arrived = k.forward_fp.and_then(|fp| {
            self.forward.observe(LegSeen {
                fp,
                ts,
                flow: idx as u32,
                dir: dir as u8,
                ttl: p.ttl,
                used: true,
            })
        });
        // the leaving leg of a packet that arrived in the same flow
        let second_leg = arrived.is_some_and(|a| self.forwarded(a, idx, key, dir));
        let Some(flow) = self.flows.get_mut(idx) else {
            return;
        };
        flow.packets[dir] += 1;
        flow.bytes[dir] += wire_len as u64;
        flow.ip_bytes[dir] += p.ip_len as u64;
        flow.first_ts = flow.first_ts.min(ts);
        flow.last_ts = flow.last_ts.max(ts);
        flow.dir_first_ts[dir] = flow.dir_first_ts[dir].min(ts);
        flow.last_frame = frame;
        flow.ttls[dir].insert(p.ttl);
        flow.encap |= p.encap;
        if p.fragment.is_some() {
            flow.rare_mut().fragments += 1;
        }
        if p.truncated {
            flow.rare_mut().truncated += 1;
        }
        if arrived.is_some() {
            flow.rare_mut().forwarded[dir] += 1;
        }
        if let Some(samples) = flow.samples.as_deref_mut() {
            if k.strong
                && !group_address(&p.dst)
                && !matches!(p.transport, Transport::IcmpError { .. })
            {
                let (seq, info) = match p.transport {
                    Transport::Tcp { seq, flags, .. } => (seq, flags),
                    Transport::Echo { seq, request, .. } => (u32::from(seq), u8::from(request)),
                    _ => (0, 0),
                };
                samples[dir].offer(Sample {
                    key: k.match_key,
                    ts,
                    seq,
                    frame: u32::try_from(frame).unwrap_or(u32::MAX),
                    ip_len: u16::try_from(p.ip_len).unwrap_or(u16::MAX),
                    ttl: p.ttl,
                    info,
                    leaving: arrived.is_some(),
                });
            }
        }
        flow.note_transport(p, dir, second_leg);
    }

    /// The position of the flow `of` names, opened with `make` when it is new; None when it
    /// is new and the table already holds `max_flows` flows.
    pub(super) fn find_or_open(
        &mut self,
        of: FlowOf,
        make: impl FnOnce() -> Flow,
    ) -> Option<usize> {
        match self.index.find(of.hash, &of.key, &self.flows) {
            Slot::Found(i) => Some(i),
            Slot::Vacant(_) if self.flows.len() >= self.max_flows => None,
            Slot::Vacant(at) => {
                self.flows.push(make());
                let i = self.flows.len() - 1;
                self.index.insert(at, of.hash, i, &self.flows);
                Some(i)
            }
        }
    }

    /// Ends the capture: fragments whose first fragment never came become ports-unknown
    /// flows. Returns the flows (in order of first packet) and the forwarding links.
    pub fn finish(mut self) -> (Vec<Flow>, Vec<Link>) {
        let pending: Vec<PendingFragments> = self.pending.drain(..).map(|(_, v)| v).collect();
        for p in &pending {
            self.flush_pending(p);
        }
        // flows were created in packet order, except those created for orphan fragments:
        // sort (in place, no second copy of the table) only when one of those broke it
        let in_order = self
            .flows
            .iter()
            .zip(self.flows.iter().skip(1))
            .all(|(a, b)| a.first_frame <= b.first_frame);
        let mut remap: Vec<usize> = Vec::new();
        if !in_order {
            let mut order: Vec<(u64, usize)> = self
                .flows
                .iter()
                .enumerate()
                .map(|(i, f)| (f.first_frame, i))
                .collect();
            order.sort_unstable();
            remap = vec![0usize; order.len()];
            for (new, &(_, old)) in order.iter().enumerate() {
                remap[old] = new;
            }
            self.flows.sort_by_key(|f| f.first_frame);
        }
        let flows = self.flows;
        let links = self
            .links
            .into_values()
            .map(|mut l| {
                if !remap.is_empty() {
                    l.from = remap[l.from];
                    l.to = remap[l.to];
                }
                l
            })
            .collect();
        (flows, links)
    }

    /// Number of flows so far.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow was opened.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}
