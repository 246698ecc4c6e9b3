//! The flow table of one capture point: every packet lands in its flow (opened on its first
//! packet, found by key through `index`), updating the counters, the forwarding detector,
//! the samples and the TCP history; [`FlowTable::finish`] hands over the flows and links.

use super::budget::FlowBudget;
use super::forward::{ForwardDetector, LegSeen, Link};
use super::fragment::{Fragments, PendingFragments};
use super::index::{FlowIndex, Slot};
use super::key::{FlowKey, KeyKind};
use super::keyed::{FlowOf, Keyed};
use super::record::Flow;
use super::sample::{group_address, Sample};
use crate::decode::{Packet, Transport};
use crate::hash::FastIndexMap;

/// The flow table of one capture point.
pub struct FlowTable {
    /// In order of first packet (orphan fragments aside, see `finish`).
    pub(super) flows: Vec<Flow>,
    index: FlowIndex,
    links: FastIndexMap<(u32, u32, u8), Link>,
    fragments: Fragments,
    forward: ForwardDetector,
    pub(super) max_flows: usize,
    /// Packets that would have opened a flow past `max_flows`.
    pub dropped_packets: u64,
    /// Packets that are the leaving leg of a forward at this point.
    pub forwarded_packets: u64,
    /// True when flows keep packet samples.
    sampling: bool,
    /// The run's flows, shared with the other points (see `budget`), and those granted.
    pub(super) budget: Option<std::sync::Arc<FlowBudget>>,
    pub(super) granted: usize,
    pub(super) out_of_memory: bool,
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
            fragments: Fragments::default(),
            forward: ForwardDetector::default(),
            max_flows,
            dropped_packets: 0,
            forwarded_packets: 0,
            budget: None,
            granted: 0,
            out_of_memory: false,
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
                let fk = (p.src, p.dst, p.ip_proto, f.id);
                if let Some(pend) = self.fragments.first(fk, idx) {
                    if let Some(flow) = self.flows.get_mut(idx) {
                        flow.merge_pending(&pend, dir);
                    }
                }
            }
        }
        let flows = &self.flows;
        let shares_address = |held: &LegSeen| {
            flows.get(held.flow as usize).is_some_and(|f| {
                let d = usize::from(held.dir);
                f.key.sender(d).ip == p.src || f.key.sender(1 - d).ip == p.dst
            })
        };
        let arrived = k.forward_fp.and_then(|fp| {
            self.forward
                .observe(LegSeen::of(p, fp, ts, idx, dir), shares_address)
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
        if p.link_group {
            flow.rare_mut().link_group[dir] = true;
        }
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
                let (seq, ack, info) = match p.transport {
                    Transport::Tcp {
                        seq, ack, flags, ..
                    } => (seq, ack, flags),
                    Transport::Echo { seq, request, .. } => (u32::from(seq), 0, u8::from(request)),
                    _ => (0, 0, 0),
                };
                samples[dir].offer(Sample {
                    key: k.match_key,
                    ts,
                    seq,
                    ack,
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

    /// Records that packet `a` (the arriving leg) left again as a packet of flow `idx`
    /// (`key`, direction `dir`): counted on both flows, and as a [`Link`] when they differ.
    /// Returns true when both legs are of the same flow.
    fn forwarded(&mut self, a: LegSeen, idx: usize, key: FlowKey, dir: usize) -> bool {
        self.forwarded_packets += 1;
        let a_dir = usize::from(a.dir);
        let mut before = None;
        if let Some(from) = self.flows.get_mut(a.flow as usize) {
            from.rare_mut().forwarded_in[a_dir] += 1;
            before = Some((from.key.sender(a_dir), from.key.sender(1 - a_dir)));
        }
        let second_leg = a.flow as usize == idx;
        if let (false, Some(before)) = (second_leg, before) {
            let link_key = (a.flow, idx as u32, a.dir);
            let cached = self
                .flows
                .get(idx)
                .and_then(|f| f.rare.as_ref())
                .and_then(|r| r.last_link)
                .filter(|&at| {
                    self.links
                        .get_index(at as usize)
                        .is_some_and(|(k, _)| *k == link_key)
                });
            let at = match cached {
                Some(at) => at as usize,
                None => {
                    let entry = self.links.entry(link_key);
                    let at = entry.index();
                    entry.or_insert(Link {
                        from: a.flow as usize,
                        to: idx,
                        from_dir: a.dir,
                        to_dir: dir as u8,
                        packets: 0,
                        before,
                        after: (key.sender(dir), key.sender(1 - dir)),
                    });
                    if let Some(f) = self.flows.get_mut(idx) {
                        f.rare_mut().last_link = u32::try_from(at).ok();
                    }
                    at
                }
            };
            if let Some((_, link)) = self.links.get_index_mut(at) {
                link.packets += 1;
            }
        }
        second_leg
    }

    /// The key, direction and (sport, dport) of a fragment after the first, through the
    /// datagram's first fragment; None when that has not been seen yet and the fragment is
    /// parked until it comes.
    fn fragment_key(
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
        if let Some(i) = self.fragments.flow_of(&fk) {
            if let Some(k) = self.flows.get(i).map(|f| f.key) {
                let dir = if k.lo.ip == p.src && k.hi.ip == p.dst {
                    0
                } else {
                    1
                };
                return Some((k, dir, (k.sender(dir).port, k.sender(1 - dir).port)));
            }
        }
        // giving up on the oldest datagram makes it a ports-unknown flow
        if let Some(old) = self.fragments.park(fk, p, ts, wire_len, frame) {
            self.flush_pending(&old);
        }
        None
    }

    /// Fragments whose first fragment never came: a ports-unknown flow.
    fn flush_pending(&mut self, pend: &PendingFragments) {
        let (key, dir) = pend.key();
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

    /// The position of the flow `of` names, opened with `make` when it is new; None when it
    /// is new and the table already holds `max_flows` flows.
    fn find_or_open(&mut self, of: FlowOf, make: impl FnOnce() -> Flow) -> Option<usize> {
        match self.index.find(of.hash, &of.key, &self.flows) {
            Slot::Found(i) => Some(i),
            Slot::Vacant(_) if !self.may_open() => None,
            Slot::Vacant(at) => {
                self.flows.push(make());
                let i = self.flows.len() - 1;
                if self.index.insert(at, of.hash, i, &self.flows) {
                    Some(i)
                } else {
                    self.flows.pop();
                    self.out_of_memory = true;
                    None
                }
            }
        }
    }

    /// Ends the capture: fragments whose first fragment never came become ports-unknown
    /// flows. Returns the flows (in order of first packet) and the forwarding links.
    pub fn finish(mut self) -> (Vec<Flow>, Vec<Link>) {
        self.return_grant();
        let pending = self.fragments.drain_pending();
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
