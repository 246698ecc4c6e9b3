//! Voting: which flows at different points carry the same packets. Every sample of every
//! flow becomes a flat record ([`Flat`]); sorted by key, the records of one packet are
//! adjacent (a run), and each run votes for every pair of flows in it at different points
//! ([`Votes`]: agreement, directions, time differences, TCP sequence deltas). See the
//! module docs of `correlate` for the rules; `pairs` decides what the votes join.

use super::nodes::Nodes;
use super::parallel::workers;
use super::MAX_RUN;
use crate::clock::Span;
use crate::decode::proto;
use crate::hash::FastMap;

/// Sightings of one key at one point further apart than this are different copies of a packet
/// (retransmissions), not the two legs of a forward; such keys are not used for clocks.
const COPY_SPREAD_NS: i64 = 100_000_000;
/// Slices of the key space voted one after the other (bounds the transient copy).
const VOTE_PASSES: u64 = 2;

/// A sample with where it was taken: what voting needs, in one flat record.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Flat {
    pub(super) key: u64,
    pub(super) ts: i64,
    pub(super) seq: u32,
    pub(super) node: u32,
    pub(super) point: u32,
    pub(super) dir: u8,
    pub(super) tcp: bool,
}

/// What the samples of two flows (at different points) say about them being one.
#[derive(Debug, Clone, Default)]
pub(super) struct Votes {
    /// Samples with the same key (and, for TCP, the same sequence number).
    pub(super) agree: u32,
    /// Of those, how many were in the same direction of both flows' keys / in opposite ones.
    pub(super) same_dir: u32,
    pub(super) flip_dir: u32,
    /// Time differences (second flow minus first) per direction of the first flow.
    pub(super) delays: [Option<Span>; 2],
    /// TCP samples with the same key but another sequence number: the difference per
    /// direction of the first flow, and whether later ones repeated it.
    pub(super) seq_delta: [Option<u32>; 2],
    pub(super) seq_same: [u32; 2],
    pub(super) seq_other: u32,
}

impl Votes {
    /// Adds what another slice of the key space said about the same two flows.
    fn merge(&mut self, o: &Votes) {
        self.agree += o.agree;
        self.same_dir += o.same_dir;
        self.flip_dir += o.flip_dir;
        for d in 0..2 {
            self.delays[d] = match (self.delays[d], o.delays[d]) {
                (Some(a), Some(b)) => Some(Span {
                    min: a.min.min(b.min),
                    max: a.max.max(b.max),
                    n: a.n + b.n,
                }),
                (a, b) => a.or(b),
            };
            match (self.seq_delta[d], o.seq_delta[d]) {
                (Some(a), Some(b)) if a != b => self.seq_other += o.seq_same[d],
                (None, b) => {
                    self.seq_delta[d] = b;
                    self.seq_same[d] += o.seq_same[d];
                }
                _ => self.seq_same[d] += o.seq_same[d],
            }
        }
        self.seq_other += o.seq_other;
    }
}

/// Votes of every pair of flows at different points that share sampled packets. The key
/// space is cut in slices voted one after the other (so that the flat copy sorted for voting
/// holds a fraction of the samples at a time), the slices shared among the cores.
pub(super) fn vote(nodes: &Nodes) -> FastMap<(u32, u32), Votes> {
    let w = workers(VOTE_PASSES as usize);
    let next = std::sync::atomic::AtomicU64::new(0);
    let maps: Vec<FastMap<(u32, u32), Votes>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..w)
            .map(|_| {
                let next = &next;
                scope.spawn(move || {
                    let mut votes: FastMap<(u32, u32), Votes> = FastMap::default();
                    votes.reserve(nodes.n * 2 / w);
                    let (mut flat, mut spare) = (Vec::new(), Vec::new());
                    loop {
                        let pass = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if pass >= VOTE_PASSES {
                            break;
                        }
                        vote_pass(nodes, pass, &mut flat, &mut spare, &mut votes);
                    }
                    votes
                })
            })
            .collect();
        crate::threads::join_all(handles).collect()
    });
    let mut maps = maps.into_iter();
    let mut votes = maps.next().unwrap_or_default();
    for m in maps {
        for (k, v) in m {
            match votes.get_mut(&k) {
                Some(e) => e.merge(&v),
                None => {
                    votes.insert(k, v);
                }
            }
        }
    }
    votes
}

/// Votes of the samples whose key falls in slice `pass`.
fn vote_pass(
    nodes: &Nodes,
    pass: u64,
    flat: &mut Vec<Flat>,
    spare: &mut Vec<Flat>,
    votes: &mut FastMap<(u32, u32), Votes>,
) {
    {
        flat.clear();
        for (pi, p) in nodes.points.iter().enumerate() {
            for (fi, f) in p.flows.iter().enumerate() {
                if f.quoted.is_some() {
                    continue;
                }
                let Some(s) = f.samples.as_deref() else {
                    continue;
                };
                let node = nodes.id(pi, fi) as u32;
                for (d, ds) in s.iter().enumerate() {
                    for smp in ds.samples() {
                        if smp.key % VOTE_PASSES != pass {
                            continue;
                        }
                        flat.push(Flat {
                            key: smp.key,
                            ts: smp.ts,
                            seq: smp.seq,
                            node,
                            point: pi as u32,
                            dir: d as u8,
                            tcp: f.key.ip_proto == proto::TCP,
                        });
                    }
                }
            }
        }
        sort_flat(flat, spare);
        vote_runs(flat, votes);
    }
}

/// Sorts voting records by (key, node, time). The keys are hashes, spread evenly: a counting
/// sort on their top bits puts the records in buckets of a few each (in `spare`, which then
/// becomes `flat`), and each bucket is sorted on its own. Three passes over the records
/// instead of the log2(n) of a comparison sort.
pub(super) fn sort_flat(flat: &mut Vec<Flat>, spare: &mut Vec<Flat>) {
    let by = |r: &Flat| (r.key, r.node, r.ts);
    let n = flat.len();
    if n < 256 {
        flat.sort_unstable_by_key(by);
        return;
    }
    // about two records per bucket
    let bits = (usize::BITS - (n / 2).leading_zeros()).min(24);
    let shift = u64::BITS - bits;
    let bucket = |r: &Flat| (r.key >> shift) as usize;
    let mut end = vec![0usize; (1 << bits) + 1];
    for r in flat.iter() {
        end[bucket(r) + 1] += 1;
    }
    for b in 1..end.len() {
        end[b] += end[b - 1];
    }
    // end[b] is now where bucket b starts; filling moves it to where bucket b ends
    spare.clear();
    spare.resize(n, Flat::default());
    for r in flat.iter() {
        if let Some(at) = end.get_mut(bucket(r)) {
            if let Some(dst) = spare.get_mut(*at) {
                *dst = *r;
            }
            *at += 1;
        }
    }
    let mut start = 0;
    for &stop in end.iter().take(1 << bits) {
        if let Some(run) = spare.get_mut(start..stop) {
            if run.len() > 1 {
                run.sort_unstable_by_key(by);
            }
        }
        start = stop;
    }
    std::mem::swap(flat, spare);
}

/// Votes of the runs of samples with the same key in `flat` (sorted by key, node, time).
fn vote_runs(flat: &[Flat], votes: &mut FastMap<(u32, u32), Votes>) {
    let mut i = 0;
    while i < flat.len() {
        let mut j = i + 1;
        while j < flat.len() && flat[j].key == flat[i].key {
            j += 1;
        }
        let run = &flat[i..j];
        i = j;
        if run.len() < 2 || run.len() > MAX_RUN || run.iter().all(|r| r.point == run[0].point) {
            continue;
        }
        // one copy per flow (the legs of a forward are close): its times are usable.
        // The run is sorted by node, then time: a node's copies are adjacent.
        let mut clean: u64 = 0;
        let mut k = 0;
        while k < run.len() {
            let mut e = k + 1;
            while e < run.len() && run[e].node == run[k].node {
                e += 1;
            }
            if run[e - 1].ts - run[k].ts <= COPY_SPREAD_NS {
                for b in k..e {
                    clean |= 1 << b;
                }
            }
            k = e;
        }
        // one flow per point votes: the first (at a point that forwards the packet, the flow
        // it arrived in; the flow it left in is joined to that one by a forwarding link).
        // Entries of a point are adjacent, its first flow first.
        let mut voter: u64 = 0;
        for (x, r) in run.iter().enumerate() {
            let first_of_point = x == 0 || run[x - 1].point != r.point;
            let copy_of_voter = x > 0 && voter & (1 << (x - 1)) != 0 && run[x - 1].node == r.node;
            if first_of_point || copy_of_voter {
                voter |= 1 << x;
            }
        }
        for x in 0..run.len() {
            if voter & (1 << x) == 0 {
                continue;
            }
            for y in x + 1..run.len() {
                let (rx, ry) = (&run[x], &run[y]);
                if rx.point == ry.point || voter & (1 << y) == 0 {
                    continue;
                }
                let v = votes.entry((rx.node, ry.node)).or_default();
                let dx = rx.dir as usize;
                if !rx.tcp || rx.seq == ry.seq {
                    v.agree += 1;
                    if rx.dir == ry.dir {
                        v.same_dir += 1;
                    } else {
                        v.flip_dir += 1;
                    }
                } else {
                    let delta = ry.seq.wrapping_sub(rx.seq);
                    match v.seq_delta[dx] {
                        None => {
                            v.seq_delta[dx] = Some(delta);
                            v.seq_same[dx] += 1;
                        }
                        Some(d) if d == delta => v.seq_same[dx] += 1,
                        Some(_) => v.seq_other += 1,
                    }
                }
                if clean & (1 << x) != 0 && clean & (1 << y) != 0 {
                    let d = ry.ts - rx.ts;
                    match &mut v.delays[dx] {
                        Some(s) => s.add(d),
                        None => v.delays[dx] = Some(Span::new(d)),
                    }
                }
            }
        }
    }
}
