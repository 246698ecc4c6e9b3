//! correlate: follows packets across the capture points and joins the flows of all points
//! into conversations, each with the path every direction took.
//!
//! **Recognising the same packet at several points.** Each flow carries a bounded sample of
//! its packets (see `flow`): the first ones and those with the lowest
//! [`match_key`](crate::flow::match_key), a hash of what forwarding and NAT leave unchanged
//! (IP ID, IP length, protocol, fragment offset, the payload digest, TCP flags, ICMP echo
//! sequence; not addresses, ports, TTL, checksums or the ICMP identifier). Because the key
//! decides which packets are kept, every point keeps the same packets of a flow it saw
//! whole. Samples with the same key at two points vote for their two flows being one (one
//! flow per point votes: at a point that forwards, the flow the packet arrived in); TCP
//! sequence numbers must agree too. Two flows join when at least two samples agree (one for
//! TCP, whose sequence numbers make a chance match negligible, or when both flows are that
//! small), and most agree on which direction is which. Keys shared by more than [`MAX_RUN`]
//! samples are ignored: they cannot tell packets apart. Flows whose TCP samples agree on
//! everything but sequence numbers, shifted by the same amount every time, join too (a
//! firewall that randomises them), when nothing else joined them and their times agree.
//!
//! Why samples rather than every packet: the points are read in parallel, each at its own
//! pace and with its own clock (seconds apart), so a streaming matcher would have to hold
//! every packet of a window wider than the worst clock offset. Samples chosen by key are the
//! same at every point whatever the offset, cost no allocation per packet, and bound the
//! memory of correlation by flows x 12 samples (32 bytes each), not by packets. The samples
//! are voted in key-space slices on every core.
//!
//! **Time.** Look-alike packets exist (pings with the same payload, IP IDs of unrelated
//! connections that collide): once the clocks are estimated (`clock`), a pair of flows whose
//! samples lie further apart than ten times the usual delay between those two points (at
//! least 1 ms, at most [`MATCH_WINDOW_NS`]) is dropped, and the clocks are estimated again
//! without it. Every time below is on the aligned timeline.
//!
//! **Conversations.** Flows join one conversation when
//! - samples match across points (previous paragraphs), or
//! - they have the same flow key at different points (no NAT in between), or
//! - a point forwarded one into the other (a [`Link`] from the flow stage: the same packet
//!   arrived as one flow and left, NAT-rewritten, as another), or
//! - the flow is an ICMP error quoting the conversation (it becomes a note on it).
//!
//! Every flow's direction is then oriented relative to the conversation's client: the
//! originator of the flow that tells it best (a SYN, an echo request, ...), carried to the
//! other flows through the joins. The client and server are written as the client knows them,
//! before any NAT.
//!
//! **Packet traces.** Inside a conversation, sampled sightings with the same key, in the same
//! direction, within [`MATCH_WINDOW_NS`] of each other on the aligned timeline, are one
//! packet; a point holds at most one arriving and one leaving sighting of it, so
//! retransmitted copies become separate packets. The sightings of a packet are put in path
//! order: the point that hosts its sender first, the point that hosts its receiver last, the
//! others by TTL (forwarding lowers it), arriving before leaving, then time. Time comes last
//! on purpose: one-way delays inside a region are tens of microseconds, within the
//! uncertainty of the clock estimate.
//!
//! **Hosts.** A point hosts an address when it captured packets *from* it that it did not
//! forward, with an initial TTL (32, 64, 128, 255), and packets *to* it that it did not
//! forward (or it forwards nothing at all). An NVA that drops replies sees them arrive with
//! the sender's TTL, but never receives anything for that sender: it does not host it.
//!
//! **Paths and losses.** Each direction's path is the points that saw it, in the same order
//! (host of the sender, transit points by TTL, host of the receiver). A direction that never
//! reached the point hosting its receiver was lost: `after X` when X saw it arrive and never
//! leave (a stateful NVA dropping asymmetric replies), `between X and Y` when it left X (or
//! was sent there) and never reached Y.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::clock::{self, Clocks, PairDelays, Span};
use crate::flow::{Endpoint, Flow, FlowKey, KeyKind, Link, Orientation, Sample, TtlSet};
use crate::hash::FastMap;
use crate::point::PointResult;

/// Sightings of one packet at different points lie at most this far apart on the aligned
/// timeline.
pub const MATCH_WINDOW_NS: i64 = 500_000_000;
/// Sightings of one key at one point further apart than this are different copies of a packet
/// (retransmissions), not the two legs of a forward; such keys are not used for clocks.
const COPY_SPREAD_NS: i64 = 100_000_000;
/// Keys shared by more samples than this are not used to join flows.
pub const MAX_RUN: usize = 32;
const _: () = assert!(MAX_RUN <= 64, "a run is tracked in a 64-bit mask");
/// Most packet traces kept per conversation (the earliest).
pub const MAX_TRACES: usize = 24;
/// Slices of the key space voted one after the other (bounds the transient copy).
const VOTE_PASSES: u64 = 2;

/// How to correlate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Take every clock as right: no offset estimation (`--assume-synced`).
    pub assume_synced: bool,
}

/// How many sampled packets were followed across points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchSummary {
    /// Distinct sampled packets (a packet seen at three points counts once).
    pub sampled_packets: u64,
    /// Sampled packets seen at two points or more.
    pub matched_packets: u64,
    /// Sampled packets seen at one point only.
    pub single_packets: u64,
    /// Pairs of flows at different points joined by matched packets.
    pub flow_pairs: u64,
    /// Of those, pairs whose TCP sequence numbers differ by a constant (rewritten between
    /// the points).
    pub seq_rewritten_pairs: u64,
}

/// Everything correlation found.
#[derive(Debug, Clone, Default)]
pub struct Correlation {
    pub conversations: Vec<Conversation>,
    pub clocks: Clocks,
    pub matches: MatchSummary,
}

/// A NAT rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nat {
    /// True when the source was rewritten, false for the destination. In
    /// [`ConvPoint::nat`] (the requests) the source is the client side.
    pub source: bool,
    pub from: Endpoint,
    pub to: Endpoint,
}

impl Nat {
    /// `10.100.201.4 -> 10.100.200.68` (with ports when they changed).
    pub fn describe(&self) -> String {
        if self.from.port != self.to.port {
            format!(
                "{} -> {}",
                crate::report::endpoint_text(&self.from, true),
                crate::report::endpoint_text(&self.to, true)
            )
        } else {
            format!("{} -> {}", self.from.ip, self.to.ip)
        }
    }
}

/// Where a rewrite happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteAt {
    /// At a capture point that forwarded the packet (seen arriving and leaving).
    Point(usize),
    /// Somewhere between two capture points (a hop that was not captured).
    Between(usize, usize),
}

/// A NAT rewrite of one direction of a conversation and where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    /// 0: the requests (client to server), 1: the replies.
    pub dir: u8,
    pub at: RewriteAt,
    /// For ICMP echo, the endpoints' `port` is the echo identifier.
    pub nat: Nat,
}

/// One capture point on the path of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub point: usize,
    /// Highest TTL (hop limit) the direction had here: as it arrived.
    pub ttl: Option<u8>,
    /// Lowest TTL, when this point forwarded the direction: as it left.
    pub ttl_out: Option<u8>,
    /// True when this point forwarded the direction (seen arriving and leaving).
    pub forwarded: bool,
    /// Routers between the previous hop and this one: how much the TTL dropped on the way
    /// (None for the first hop).
    pub routers: Option<u8>,
    /// One-way delay from the previous hop (aligned clocks; median over the matched
    /// packets; None for the first hop or when no packet was matched at both).
    pub delay_ns: Option<i64>,
    /// First packet of the direction here (aligned).
    pub first_ts: i64,
}

/// One sighting of a packet at a capture point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub point: usize,
    /// Aligned time.
    pub ts: i64,
    pub ttl: u8,
    /// True for the leaving leg at a point that forwarded it.
    pub leaving: bool,
    /// Addresses and ports as seen here (for ICMP echo, `port` is the echo identifier).
    pub src: Endpoint,
    pub dst: Endpoint,
    /// 1-based frame number in that point's capture.
    pub frame: u32,
}

/// One packet followed across the capture points: a ladder diagram's arrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketTrace {
    /// 0: client to server, 1: server to client.
    pub dir: u8,
    /// IP total length.
    pub ip_len: u16,
    /// TCP flags; ICMP echo: 1 request, 0 reply.
    pub info: u8,
    /// TCP sequence number (as seen at the first sighting), ICMP echo sequence number.
    pub seq: u32,
    /// In path order (see the module docs).
    pub sightings: Vec<Sighting>,
}

impl PacketTrace {
    /// The capture point that rewrote the packet's addresses or ports, if one did (seen
    /// arriving and leaving with other addresses).
    pub fn rewritten_at(&self) -> Option<usize> {
        self.sightings.windows(2).find_map(|w| {
            (w[0].point == w[1].point && (w[0].src, w[0].dst) != (w[1].src, w[1].dst))
                .then_some(w[0].point)
        })
    }
    /// First sighting time (aligned).
    pub fn first_ts(&self) -> i64 {
        self.sightings.iter().map(|s| s.ts).min().unwrap_or(0)
    }
}

/// Where a direction vanished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Seen arriving at `point`, never leaving it, never at the receiver's point.
    After { dir: u8, point: usize },
    /// Left (or was sent from) `from`, never reached `to` (the receiver's point).
    Between { dir: u8, from: usize, to: usize },
}

impl Loss {
    pub fn dir(&self) -> u8 {
        match *self {
            Loss::After { dir, .. } | Loss::Between { dir, .. } => dir,
        }
    }
}

/// An ICMP error seen about a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpNote {
    pub point: usize,
    /// Who sent the error.
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub packets: u64,
}

/// A conversation as seen at one capture point. Index 0 of the pairs is the forward
/// direction (client to server), 1 the reverse.
#[derive(Debug, Clone, Default)]
pub struct ConvPoint {
    pub point: usize,
    /// Indices into that point's flows.
    pub flows: Vec<usize>,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub ttls: [TtlSet; 2],
    /// Packets this point forwarded (the leaving legs), per direction.
    pub forwarded: [u64; 2],
    /// NAT applied here to the forward direction.
    pub nat: Vec<Nat>,
    /// Zeek-style TCP history at this point (empty for other protocols).
    pub history: String,
    pub syn: bool,
    pub synack: bool,
    /// Data-carrying TCP segments or UDP payloads seen per direction.
    pub data: [bool; 2],
    pub echo_requests: u64,
    pub echo_replies: u64,
    pub retransmissions: u64,
    /// Aligned times.
    pub first_ts: i64,
    pub last_ts: i64,
    /// Time of the first packet in each direction (aligned; `i64::MAX` when none).
    pub dir_first_ts: [i64; 2],
    /// This point hosts the client (as seen here, before or after NAT).
    pub hosts_client: bool,
    /// This point hosts the server (as seen here).
    pub hosts_server: bool,
}

impl ConvPoint {
    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }
    /// True when this point forwarded packets of the conversation.
    pub fn is_forwarder(&self) -> bool {
        self.forwarded[0] + self.forwarded[1] > 0 || !self.nat.is_empty()
    }
}

/// One conversation across all points.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub ip_proto: u8,
    pub kind: KeyKind,
    pub client: Endpoint,
    pub server: Endpoint,
    /// How the client was told from the server.
    pub orientation: Orientation,
    /// Aligned times.
    pub first_ts: i64,
    pub last_ts: i64,
    /// Per point that saw it, in point order.
    pub points: Vec<ConvPoint>,
    pub icmp_errors: Vec<IcmpNote>,
    /// `decode::encap` bits of every packet.
    pub encap: u16,
    /// The path of each direction (0 forward, 1 reverse), in path order.
    pub route: [Vec<Hop>; 2],
    /// NAT rewrites seen on matched packets (and on the forwarding links), per direction.
    pub rewrites: Vec<Rewrite>,
    /// Directions that vanished on the way.
    pub losses: Vec<Loss>,
    /// Matched packets, earliest first, at most [`MAX_TRACES`].
    pub traces: Vec<PacketTrace>,
    /// Sampled packets of this conversation, and how many of them were seen at two points
    /// or more.
    pub sampled_packets: u64,
    pub matched_packets: u64,
    /// True when TCP sequence numbers differed between points (randomised by a firewall).
    pub seq_rewritten: bool,
}

impl Conversation {
    pub fn proto_name(&self) -> &'static str {
        crate::flow::proto_name(self.ip_proto)
    }
    /// True when the server address is multicast or broadcast: no reply is expected.
    pub fn to_group(&self) -> bool {
        match self.server.ip {
            IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
            IpAddr::V6(a) => a.is_multicast(),
        }
    }
    /// Packets in each direction over all points.
    pub fn packets(&self) -> [u64; 2] {
        let mut t = [0, 0];
        for p in &self.points {
            t[0] += p.packets[0];
            t[1] += p.packets[1];
        }
        t
    }
    /// The points that saw direction `dir` (0 forward, 1 reverse), in path order (see the
    /// module docs).
    pub fn path(&self, dir: usize) -> Vec<&ConvPoint> {
        self.route[dir]
            .iter()
            .filter_map(|h| self.points.iter().find(|p| p.point == h.point))
            .collect()
    }
    pub fn forwarders(&self) -> impl Iterator<Item = &ConvPoint> {
        self.points.iter().filter(|p| p.is_forwarder())
    }
    /// The conversation at one point, if it was seen there.
    pub fn at(&self, point: usize) -> Option<&ConvPoint> {
        self.points.iter().find(|p| p.point == point)
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // the smaller id stays the root: groups are numbered by their first flow
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

fn strength(o: Orientation) -> u8 {
    match o {
        Orientation::Syn | Orientation::EchoRequest => 3,
        Orientation::SynAck | Orientation::EchoReply => 2,
        Orientation::Port => 1,
        Orientation::First | Orientation::Lower => 0,
    }
}

/// A sample with where it was taken: what voting needs, in one flat record.
#[derive(Debug, Clone, Copy)]
struct Flat {
    key: u64,
    ts: i64,
    seq: u32,
    node: u32,
    point: u32,
    dir: u8,
    tcp: bool,
}

/// What the samples of two flows (at different points) say about them being one.
#[derive(Debug, Clone, Default)]
struct Votes {
    /// Samples with the same key (and, for TCP, the same sequence number).
    agree: u32,
    /// Of those, how many were in the same direction of both flows' keys / in opposite ones.
    same_dir: u32,
    flip_dir: u32,
    /// Time differences (second flow minus first) per direction of the first flow.
    delays: [Option<Span>; 2],
    /// TCP samples with the same key but another sequence number: the difference per
    /// direction of the first flow, and whether later ones repeated it.
    seq_delta: [Option<u32>; 2],
    seq_same: [u32; 2],
    seq_other: u32,
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

/// Global flow node ids: `base[point] + flow`.
struct Nodes<'a> {
    points: &'a [PointResult],
    base: Vec<usize>,
    /// The point of every node.
    point_of: Vec<u32>,
    n: usize,
}

impl<'a> Nodes<'a> {
    fn new(points: &'a [PointResult]) -> Nodes<'a> {
        let mut base = Vec::with_capacity(points.len());
        let mut point_of = Vec::new();
        for (pi, p) in points.iter().enumerate() {
            base.push(point_of.len());
            point_of.extend(std::iter::repeat_n(pi as u32, p.flows.len()));
        }
        let n = point_of.len();
        Nodes {
            points,
            base,
            point_of,
            n,
        }
    }
    fn id(&self, point: usize, flow: usize) -> usize {
        self.base[point] + flow
    }
    fn locate(&self, node: usize) -> (usize, usize) {
        let pi = self.point_of[node] as usize;
        (pi, node - self.base[pi])
    }
    fn flow(&self, node: usize) -> &'a Flow {
        let (p, f) = self.locate(node);
        &self.points[p].flows[f]
    }
    fn total_samples(&self, node: usize) -> usize {
        self.flow(node)
            .samples
            .as_deref()
            .map_or(0, |s| s[0].samples().len() + s[1].samples().len())
    }
}

/// A pair of flows joined by matched packets.
#[derive(Debug, Clone, Copy)]
struct FlowPair {
    a: usize,
    b: usize,
    /// True when direction 0 of `a` is direction 1 of `b`.
    flip: bool,
    seq_rewritten: bool,
}

/// How many threads correlation uses: the cores, at most `work` (one per item).
fn workers(work: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work)
        .max(1)
}

/// `out[i] = Some(f(&items[i]))` for every item, in parallel over contiguous chunks, each
/// result written in place (no copy of the results).
fn parallel_fill<T: Sync, R: Send>(items: &[T], out: &mut [Option<R>], f: impl Fn(&T) -> R + Sync) {
    let w = workers(items.len() / 256 + 1);
    let chunk = items.len().div_ceil(w).max(1);
    std::thread::scope(|scope| {
        for (part, slots) in items.chunks(chunk).zip(out.chunks_mut(chunk)) {
            let f = &f;
            scope.spawn(move || {
                for (item, slot) in part.iter().zip(slots) {
                    *slot = Some(f(item));
                }
            });
        }
    });
}

/// Votes of every pair of flows at different points that share sampled packets. The key
/// space is cut in slices voted one after the other (so that the flat copy sorted for voting
/// holds a fraction of the samples at a time), the slices shared among the cores.
fn vote(nodes: &Nodes) -> FastMap<(u32, u32), Votes> {
    let w = workers(VOTE_PASSES as usize);
    let next = std::sync::atomic::AtomicU64::new(0);
    let maps: Vec<FastMap<(u32, u32), Votes>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..w)
            .map(|_| {
                let next = &next;
                scope.spawn(move || {
                    let mut votes: FastMap<(u32, u32), Votes> = FastMap::default();
                    votes.reserve(nodes.n * 2 / w);
                    let mut flat: Vec<Flat> = Vec::new();
                    loop {
                        let pass = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if pass >= VOTE_PASSES {
                            break;
                        }
                        vote_pass(nodes, pass, &mut flat, &mut votes);
                    }
                    votes
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
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
    votes: &mut FastMap<(u32, u32), Votes>,
) {
    {
        flat.clear();
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
                            tcp: f.key.ip_proto == 6,
                        });
                    }
                }
            }
        }
        flat.sort_unstable_by_key(|r| (r.key, r.node, r.ts));
        vote_runs(flat, votes);
    }
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

/// A pair of flows the votes join, with the time differences of its matched samples.
type Joined = (FlowPair, [Option<Span>; 2]);

/// The pairs of flows the votes join, and the candidates whose TCP sequence numbers differ
/// by a constant (a firewall that randomises them), which [`confirm_rewritten`] checks once
/// the clocks are known.
fn accept(nodes: &Nodes, votes: &FastMap<(u32, u32), Votes>) -> (Vec<Joined>, Vec<Joined>) {
    let mut out: Vec<Joined> = Vec::new();
    let mut rewritten: Vec<Joined> = Vec::new();
    for (&(a, b), v) in votes {
        let (a, b) = (a as usize, b as usize);
        let tcp = nodes.flow(a).key.ip_proto == 6;
        let small = || nodes.total_samples(a) <= 2 && nodes.total_samples(b) <= 2;
        if tcp && v.agree == 0 && v.seq_same[0] + v.seq_same[1] >= 3 && v.seq_other == 0 {
            // the directions of the seq deltas tell nothing; take the flow keys' own: a
            // rewritten TCP connection keeps its ports on both sides of the firewall
            let flip = nodes.flow(a).key.lo.port != nodes.flow(b).key.lo.port;
            rewritten.push((
                FlowPair {
                    a,
                    b,
                    flip,
                    seq_rewritten: true,
                },
                v.delays,
            ));
            continue;
        }
        let joined = v.agree >= 2 || (v.agree == 1 && (tcp || small()));
        if !joined {
            continue;
        }
        // a clear majority of the samples must agree on the directions
        let (same, flipd) = (v.same_dir, v.flip_dir);
        if same.max(flipd) * 3 < (same + flipd) * 2 {
            continue;
        }
        out.push((
            FlowPair {
                a,
                b,
                flip: flipd > same,
                seq_rewritten: false,
            },
            v.delays,
        ));
    }
    out.sort_by_key(|(p, _)| (p.a, p.b));
    rewritten.sort_by_key(|(p, _)| (p.a, p.b));
    (out, rewritten)
}

fn evidence_of(nodes: &Nodes, pairs: &[Joined]) -> Vec<PairDelays> {
    pairs
        .iter()
        .map(|(p, d)| PairDelays {
            a: nodes.locate(p.a).0,
            b: nodes.locate(p.b).0,
            dirs: *d,
        })
        .collect()
}

/// Keeps the pairs of flows whose matched samples are as far apart in time as the clocks
/// say: each time difference, once aligned, within a tolerance of ten times the median for
/// that pair of points (at least 1 ms, at most [`MATCH_WINDOW_NS`]) plus the clocks'
/// uncertainty. Pairs without usable times are kept. Returns the pairs kept and how many
/// were dropped.
fn time_filter(nodes: &Nodes, pairs: Vec<Joined>, clocks: &Clocks) -> (Vec<Joined>, usize) {
    let excess = |(p, spans): &Joined| -> Option<(usize, usize, i64)> {
        let (pa, pb) = (nodes.locate(p.a).0, nodes.locate(p.b).0);
        let theta = clocks.offset(pb) - clocks.offset(pa);
        let e = spans
            .iter()
            .flatten()
            .map(|s| (s.min - theta).abs().max((s.max - theta).abs()))
            .max()?;
        Some((pa, pb, e))
    };
    let mut by_points: BTreeMap<(usize, usize), Vec<i64>> = BTreeMap::new();
    for j in &pairs {
        if let Some((pa, pb, e)) = excess(j) {
            by_points.entry((pa, pb)).or_default().push(e);
        }
    }
    let unc = |p: usize| {
        clocks
            .points
            .get(p)
            .and_then(|c| c.uncertainty_ns)
            .unwrap_or(0)
    };
    let tolerance: BTreeMap<(usize, usize), i64> = by_points
        .into_iter()
        .map(|(k, mut v)| {
            let m = median(&mut v).unwrap_or(0);
            let t = m.saturating_mul(10).clamp(1_000_000, MATCH_WINDOW_NS);
            (k, t + unc(k.0) + unc(k.1))
        })
        .collect();
    let before = pairs.len();
    let kept: Vec<Joined> = pairs
        .into_iter()
        .filter(|j| match excess(j) {
            Some((pa, pb, e)) => tolerance.get(&(pa, pb)).is_none_or(|&t| e <= t),
            None => true,
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// Keeps the sequence-rewritten candidates that are believable: TCP flows with the same
/// ports, that matched nothing at the other point otherwise, and whose samples are as far
/// apart in time as the clocks say (IP IDs of unrelated connections collide; their times do
/// not agree).
fn confirm_rewritten(
    nodes: &Nodes,
    joined: &[Joined],
    candidates: Vec<Joined>,
    clocks: &Clocks,
) -> Vec<Joined> {
    let mut matched: std::collections::HashSet<(usize, usize), crate::hash::FastState> =
        Default::default();
    for (p, _) in joined {
        matched.insert((p.a, nodes.locate(p.b).0));
        matched.insert((p.b, nodes.locate(p.a).0));
    }
    candidates
        .into_iter()
        .filter(|(p, spans)| {
            let (pa, pb) = (nodes.locate(p.a).0, nodes.locate(p.b).0);
            if matched.contains(&(p.a, pb)) || matched.contains(&(p.b, pa)) {
                return false;
            }
            let (ka, kb) = (nodes.flow(p.a).key, nodes.flow(p.b).key);
            let ports = |k: FlowKey| [k.lo.port, k.hi.port];
            if !ports(ka).iter().any(|x| ports(kb).contains(x)) {
                return false;
            }
            let theta = clocks.offset(pb) - clocks.offset(pa);
            let slack = MATCH_WINDOW_NS + clocks.max_uncertainty();
            spans.iter().flatten().count() > 0
                && spans
                    .iter()
                    .flatten()
                    .all(|s| (s.min - theta).abs() <= slack && (s.max - theta).abs() <= slack)
        })
        .collect()
}

/// TTLs a host starts packets with.
fn initial_ttl(t: &TtlSet) -> bool {
    t.values()
        .last()
        .is_some_and(|&m| matches!(m, 32 | 64 | 128 | 255))
}

fn special_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast() || a.is_unspecified(),
        IpAddr::V6(a) => a.is_multicast() || a.is_unspecified(),
    }
}

/// True for addresses routers forward: unicast, not link-local, unspecified or loopback.
pub fn routable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.is_loopback())
        }
        IpAddr::V6(a) => {
            !((a.segments()[0] & 0xffc0) == 0xfe80
                || a.is_multicast()
                || a.is_unspecified()
                || a.is_loopback())
        }
    }
}

/// A well-mixed 64-bit key for an address: the crate's fast hasher keeps the low bits of its
/// last input word in the low bits of the hash, and the addresses of one subnet share theirs.
fn addr_key(ip: &IpAddr) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    match ip {
        IpAddr::V4(a) => splitmix(u64::from(u32::from(*a))),
        IpAddr::V6(a) => {
            let x = u128::from(*a);
            splitmix((x as u64) ^ splitmix((x >> 64) as u64 ^ 0x6))
        }
    }
}

/// Which capture point hosts each address (see the module docs).
#[derive(Debug, Default)]
struct Hosts {
    /// By [`addr_key`]: the address and its point.
    map: FastMap<u64, (IpAddr, usize)>,
}

impl Hosts {
    fn get(&self, ip: &IpAddr) -> Option<usize> {
        self.map
            .get(&addr_key(ip))
            .filter(|(a, _)| a == ip)
            .map(|&(_, p)| p)
    }
}

/// Finds the point hosting each address (see the module docs).
fn hosts(points: &[PointResult]) -> Hosts {
    // per (address, point): packets sent from it with an initial TTL, packets sent to it,
    // neither forwarded by the point
    #[derive(Default)]
    struct Seen {
        ip: Option<IpAddr>,
        point: usize,
        sent: u64,
        recv: u64,
    }
    let mut seen: FastMap<u64, Seen> = FastMap::default();
    let slot =
        |ip: IpAddr, pi: usize| addr_key(&ip) ^ (pi as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for (pi, p) in points.iter().enumerate() {
        for f in &p.flows {
            if f.quoted.is_some() {
                continue;
            }
            for d in 0..2 {
                let own = f.packets[d].saturating_sub(f.forwarded[d] + f.forwarded_in[d]);
                if own == 0 {
                    continue;
                }
                let (from, to) = (f.key.sender(d).ip, f.key.sender(1 - d).ip);
                if initial_ttl(&f.ttls[d]) {
                    let e = seen.entry(slot(from, pi)).or_default();
                    e.ip = Some(from);
                    e.point = pi;
                    e.sent += own;
                }
                let e = seen.entry(slot(to, pi)).or_default();
                e.ip = Some(to);
                e.point = pi;
                e.recv += own;
            }
        }
    }
    let mut candidates: Vec<(IpAddr, usize, u64)> = seen
        .into_values()
        .filter_map(|s| {
            let ip = s.ip?;
            let forwards = points[s.point].summary.forwarded_packets > 0;
            let hosted = s.sent > 0 && (s.recv > 0 || !forwards) && !special_address(&ip);
            hosted.then_some((ip, s.point, s.sent + s.recv))
        })
        .collect();
    // the most packets wins, then the first point
    candidates.sort_unstable_by_key(|&(ip, p, n)| (ip, std::cmp::Reverse(n), p));
    candidates.dedup_by_key(|c| c.0);
    Hosts {
        map: candidates
            .into_iter()
            .map(|(ip, p, _)| (addr_key(&ip), (ip, p)))
            .collect(),
    }
}

/// Builds the conversations from the points' flows. Conversations come in order of their
/// first packet.
pub fn correlate(points: &[PointResult]) -> Vec<Conversation> {
    correlate_with(points, &Options::default()).conversations
}

/// Follows packets across points, estimates the clocks, builds the conversations.
pub fn correlate_with(points: &[PointResult], opts: &Options) -> Correlation {
    let timings = std::env::var_os("FLOWCHECK_TIMINGS").is_some();
    let mut lap = Lap::new(timings);
    let nodes = Nodes::new(points);
    let n = nodes.n;
    let votes = vote(&nodes);
    lap.mark("vote");
    let (pairs, candidates) = accept(&nodes, &votes);
    drop(votes);
    lap.mark("accept");
    let clocks = if opts.assume_synced {
        Clocks::synced(points.len())
    } else {
        clock::estimate(points.len(), &evidence_of(&nodes, &pairs))
    };
    // packets that look alike but are far apart in time are not the same (pings with the
    // same payload, IP IDs of unrelated connections that collide): drop those pairs, and
    // estimate again without them
    let (kept, dropped) = time_filter(&nodes, pairs, &clocks);
    let mut pairs = kept;
    let clocks = if opts.assume_synced || dropped == 0 {
        clocks
    } else {
        clock::estimate(points.len(), &evidence_of(&nodes, &pairs))
    };
    let rewritten = confirm_rewritten(&nodes, &pairs, candidates, &clocks);
    pairs.extend(rewritten);
    lap.mark("clocks");
    let mut matches = MatchSummary {
        flow_pairs: pairs.len() as u64,
        seq_rewritten_pairs: pairs.iter().filter(|(p, _)| p.seq_rewritten).count() as u64,
        ..MatchSummary::default()
    };

    let mut uf = UnionFind((0..n).collect());
    let mut by_key: FastMap<FlowKey, usize> = FastMap::default();
    for (pi, p) in points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            let id = nodes.id(pi, fi);
            match by_key.get(&f.key) {
                Some(&other) => uf.union(other, id),
                None => {
                    by_key.insert(f.key, id);
                }
            }
        }
        for l in &p.links {
            uf.union(nodes.id(pi, l.from), nodes.id(pi, l.to));
        }
    }
    for (p, _) in &pairs {
        uf.union(p.a, p.b);
    }
    // ICMP errors whose quoted conversation is known join it as notes
    let mut error_of: FastMap<usize, usize> = FastMap::default();
    for (pi, p) in points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            if let Some(q) = f.quoted {
                if let Some(&target) = by_key.get(&q) {
                    error_of.insert(nodes.id(pi, fi), target);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (pi, p) in points.iter().enumerate() {
        for fi in 0..p.flows.len() {
            let id = nodes.id(pi, fi);
            if error_of.contains_key(&id) {
                continue;
            }
            groups.entry(uf.find(id)).or_default().push((pi, fi));
        }
    }
    let mut notes: FastMap<usize, Vec<IcmpNote>> = FastMap::default();
    let mut errors: Vec<(&usize, &usize)> = error_of.iter().collect();
    errors.sort_unstable();
    for (&err, &target) in errors {
        let root = uf.find(target);
        let (pi, fi) = nodes.locate(err);
        let f = &points[pi].flows[fi];
        if let KeyKind::Icmp { icmp_type, code } = f.key.kind {
            for dir in 0..2 {
                if f.packets[dir] > 0 {
                    notes.entry(root).or_default().push(IcmpNote {
                        point: pi,
                        from: f.key.sender(dir).ip,
                        v6: f.key.ip_proto == 58,
                        icmp_type,
                        code,
                        packets: f.packets[dir],
                    });
                }
            }
        }
    }
    // the joins each flow takes part in: links (per point) and matched pairs
    let mut links_of: FastMap<(usize, usize), Vec<usize>> = FastMap::default();
    for (pi, p) in points.iter().enumerate() {
        for (li, l) in p.links.iter().enumerate() {
            links_of.entry((pi, l.from)).or_default().push(li);
            if l.to != l.from {
                links_of.entry((pi, l.to)).or_default().push(li);
            }
        }
    }
    let mut pairs_of: FastMap<usize, Vec<usize>> = FastMap::default();
    for (i, (p, _)) in pairs.iter().enumerate() {
        pairs_of.entry(p.a).or_default().push(i);
        pairs_of.entry(p.b).or_default().push(i);
    }
    let hosts = hosts(points);
    lap.mark("join");
    let ctx = Context {
        points,
        nodes: &nodes,
        links_of: &links_of,
        pairs: &pairs,
        pairs_of: &pairs_of,
        clocks: &clocks,
        hosts: &hosts,
    };
    let groups: Vec<(usize, Vec<(usize, usize)>)> = groups.into_iter().collect();
    let mut built: Vec<Option<Conversation>> = Vec::new();
    built.resize_with(groups.len(), || None);
    parallel_fill(&groups, &mut built, |(_, members)| ctx.build(members));
    // Option<Conversation> has the layout of Conversation: filter_map (unlike flatten)
    // collects in place, without a second buffer
    #[allow(clippy::filter_map_identity)]
    let mut convs: Vec<Conversation> = built.into_iter().filter_map(|c| c).collect();
    for ((root, _), c) in groups.iter().zip(convs.iter_mut()) {
        c.icmp_errors = notes.remove(root).unwrap_or_default();
        c.icmp_errors.sort_by_key(|n| (n.point, n.from));
    }
    drop(groups);
    convs.sort_by_key(|c| c.first_ts);
    lap.mark("build");
    for c in &convs {
        matches.sampled_packets += c.sampled_packets;
        matches.matched_packets += c.matched_packets;
    }
    matches.single_packets = matches.sampled_packets - matches.matched_packets;
    Correlation {
        conversations: convs,
        clocks,
        matches,
    }
}

/// Wall time of the correlation steps, printed when `FLOWCHECK_TIMINGS` is set.
struct Lap {
    on: bool,
    last: std::time::Instant,
}

impl Lap {
    fn new(on: bool) -> Lap {
        Lap {
            on,
            last: std::time::Instant::now(),
        }
    }
    fn mark(&mut self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "flowcheck: timings: correlate/{what} {:.3} s",
                (now - self.last).as_secs_f64()
            );
            self.last = now;
        }
    }
}

/// What building a conversation needs.
struct Context<'a> {
    points: &'a [PointResult],
    nodes: &'a Nodes<'a>,
    links_of: &'a FastMap<(usize, usize), Vec<usize>>,
    pairs: &'a [Joined],
    pairs_of: &'a FastMap<usize, Vec<usize>>,
    clocks: &'a Clocks,
    hosts: &'a Hosts,
}

/// A sampled sighting inside one conversation, before it is grouped into packets.
#[derive(Debug, Clone, Copy)]
struct Obs {
    key: u64,
    ts: i64,
    cdir: u8,
    /// 0 at the host of the sender, 2 at the host of the receiver, 1 in between.
    rank: u8,
    sample: Sample,
    sighting: Sighting,
}

/// The endpoints of direction `dir` of a flow, with the echo identifier as port for ICMP
/// echo.
fn ends(f: &Flow, dir: usize) -> (Endpoint, Endpoint) {
    let (mut s, mut d) = (f.key.sender(dir), f.key.sender(1 - dir));
    if let KeyKind::Echo { id } = f.key.kind {
        s.port = id;
        d.port = id;
    }
    (s, d)
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[(v.len() - 1) / 2])
}

impl Context<'_> {
    fn flow(&self, m: &(usize, usize)) -> &Flow {
        &self.points[m.0].flows[m.1]
    }

    fn host_of(&self, ip: &IpAddr) -> Option<usize> {
        self.hosts.get(ip)
    }

    /// Builds one conversation from its member flows.
    fn build(&self, members: &[(usize, usize)]) -> Conversation {
        let align = |pt: usize, ts: i64| {
            if ts == i64::MAX || ts == i64::MIN {
                ts
            } else {
                self.clocks.align(pt, ts)
            }
        };
        // members come sorted by (point, flow)
        let index = |m: &(usize, usize)| members.binary_search(m).ok();
        // 1. the joins between members, as (member, other member, directions flipped), both
        //    ways, then grouped by member
        let mut edges: Vec<(usize, usize, bool)> = Vec::with_capacity(members.len() * 4);
        let mut by_key: BTreeMap<FlowKey, usize> = BTreeMap::new();
        let mut seq_rewritten = false;
        let mut join = |i: usize, j: usize, flip: bool| {
            edges.push((i, j, flip));
            edges.push((j, i, flip));
        };
        for (i, m) in members.iter().enumerate() {
            let key = self.flow(m).key;
            let same = if members.len() <= 16 {
                members[..i].iter().position(|o| self.flow(o).key == key)
            } else {
                by_key.get(&key).copied()
            };
            match same {
                Some(j) => join(i, j, false),
                None => {
                    if members.len() > 16 {
                        by_key.insert(key, i);
                    }
                }
            }
            for &li in self.links_of.get(m).map(Vec::as_slice).unwrap_or(&[]) {
                let l: &Link = &self.points[m.0].links[li];
                if l.from != m.1 {
                    continue;
                }
                if let Some(j) = index(&(m.0, l.to)) {
                    join(i, j, l.from_dir != l.to_dir);
                }
            }
            let node = self.nodes.id(m.0, m.1);
            for &pi in self.pairs_of.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
                let (p, _) = &self.pairs[pi];
                if p.a != node {
                    continue;
                }
                if let Some(j) = index(&self.nodes.locate(p.b)) {
                    join(i, j, p.flip);
                    seq_rewritten |= p.seq_rewritten;
                }
            }
        }
        edges.sort_unstable();
        let adjacent = |i: usize| {
            let lo = edges.partition_point(|e| e.0 < i);
            let hi = edges.partition_point(|e| e.0 <= i);
            &edges[lo..hi]
        };
        // 2. the flow that tells the client best, and every member oriented from it
        let root = (0..members.len())
            .max_by_key(|&i| {
                let f = self.flow(&members[i]);
                (
                    strength(f.originator().1),
                    std::cmp::Reverse(align(members[i].0, f.first_ts)),
                    std::cmp::Reverse(i),
                )
            })
            .unwrap_or(0);
        let mut client_dir: Vec<Option<usize>> = vec![None; members.len()];
        let mut stack: Vec<usize> = Vec::new();
        for start in std::iter::once(root).chain(0..members.len()) {
            if client_dir[start].is_some() {
                continue;
            }
            client_dir[start] = Some(self.flow(&members[start]).originator().0);
            stack.push(start);
            while let Some(i) = stack.pop() {
                let d = client_dir[i].unwrap_or(0);
                for &(_, j, flip) in adjacent(i) {
                    if client_dir[j].is_none() {
                        client_dir[j] = Some(if flip { 1 - d } else { d });
                        stack.push(j);
                    }
                }
            }
        }
        let cdir = |i: usize| client_dir[i].unwrap_or(0);
        // 3. flows that are the NAT-rewritten (leaving) side of a forward-direction link are
        //    not how the client knows the conversation
        let mut post_nat: std::collections::HashSet<(usize, usize), crate::hash::FastState> =
            Default::default();
        let mut nats: BTreeMap<usize, Vec<Nat>> = BTreeMap::new();
        for (i, m) in members.iter().enumerate() {
            for &li in self.links_of.get(m).map(Vec::as_slice).unwrap_or(&[]) {
                let l = &self.points[m.0].links[li];
                if l.from != m.1 || cdir(i) != l.from_dir as usize {
                    continue;
                }
                post_nat.insert((m.0, l.to));
                let list = nats.entry(m.0).or_default();
                if l.before.0 != l.after.0 {
                    push_unique(
                        list,
                        Nat {
                            source: true,
                            from: l.before.0,
                            to: l.after.0,
                        },
                    );
                }
                if l.before.1 != l.after.1 {
                    push_unique(
                        list,
                        Nat {
                            source: false,
                            from: l.before.1,
                            to: l.after.1,
                        },
                    );
                }
            }
        }
        // the client's view: not post-NAT, at the point hosting the client if any, earliest
        let view = (0..members.len())
            .filter(|&i| !post_nat.contains(&members[i]))
            .min_by_key(|&i| {
                let m = &members[i];
                let f = self.flow(m);
                let at_client = self.host_of(&f.key.sender(cdir(i)).ip) == Some(m.0);
                (!at_client, align(m.0, f.first_ts), m.0, m.1)
            })
            .unwrap_or(root);
        let vf = self.flow(&members[view]);
        let vd = cdir(view);
        // 4. per point totals
        // in point order (members are); with the class of each point per direction: 0 hosts
        // the sender, 2 hosts the receiver, 1 transit
        let n_points = 1 + members.windows(2).filter(|w| w[0].0 != w[1].0).count();
        let mut per_point: Vec<ConvPoint> = Vec::with_capacity(n_points);
        let mut class: Vec<[u8; 2]> = Vec::with_capacity(n_points);
        let mut encap = 0u16;
        let (mut first_ts, mut last_ts) = (i64::MAX, i64::MIN);
        for (i, m) in members.iter().enumerate() {
            let f = self.flow(m);
            let d = cdir(i);
            if per_point.last().map(|c| c.point) != Some(m.0) {
                per_point.push(ConvPoint {
                    point: m.0,
                    first_ts: i64::MAX,
                    last_ts: i64::MIN,
                    dir_first_ts: [i64::MAX; 2],
                    ..ConvPoint::default()
                });
                class.push([2, 2]);
            }
            let (Some(cp), Some(cl)) = (per_point.last_mut(), class.last_mut()) else {
                continue;
            };
            cp.flows.push(m.1);
            for (k, dir) in [d, 1 - d].into_iter().enumerate() {
                cp.packets[k] += f.packets[dir];
                cp.bytes[k] += f.bytes[dir];
                cp.ttls[k].merge(&f.ttls[dir]);
                cp.forwarded[k] += f.forwarded[dir];
                cp.dir_first_ts[k] = cp.dir_first_ts[k].min(align(m.0, f.dir_first_ts[dir]));
                cp.data[k] |= f.history.has(b'D', dir) || f.history.has(b'T', dir);
                let (s, r) = (f.key.sender(dir).ip, f.key.sender(1 - dir).ip);
                let c = if self.host_of(&s) == Some(m.0) {
                    0
                } else if self.host_of(&r) == Some(m.0) {
                    2
                } else {
                    1
                };
                cl[k] = cl[k].min(c);
                if k == 0 {
                    cp.hosts_client |= c == 0;
                    cp.hosts_server |= c == 2;
                }
            }
            if f.key.ip_proto == 17 {
                // UDP: every datagram carries data
                cp.data = [cp.packets[0] > 0, cp.packets[1] > 0];
            }
            cp.syn |= f.syn_seen(d);
            cp.synack |= f.synack_seen();
            cp.echo_requests += f.echo.requests;
            cp.echo_replies += f.echo.replies;
            cp.retransmissions += f.retransmissions[0] + f.retransmissions[1];
            if f.key.ip_proto == 6 && cp.history.is_empty() {
                cp.history = f.history.render(d);
            }
            cp.first_ts = cp.first_ts.min(align(m.0, f.first_ts));
            cp.last_ts = cp.last_ts.max(align(m.0, f.last_ts));
            first_ts = first_ts.min(align(m.0, f.first_ts));
            last_ts = last_ts.max(align(m.0, f.last_ts));
            encap |= f.encap;
        }
        for (pt, list) in nats {
            if let Ok(i) = per_point.binary_search_by_key(&pt, |c| c.point) {
                per_point[i].nat = list;
            }
        }
        let pos = |pt: usize| per_point.binary_search_by_key(&pt, |c| c.point).ok();
        let class_of = |pt: usize, d: usize| pos(pt).map_or(1, |i| class[i][d]);
        // 5. the sampled packets, grouped into packets seen at several points
        let mut obs: Vec<Obs> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let f = self.flow(m);
            let Some(s) = f.samples.as_deref() else {
                continue;
            };
            for (fd, ds) in s.iter().enumerate() {
                if ds.samples().is_empty() {
                    continue;
                }
                let cd = if fd == cdir(i) { 0u8 } else { 1 };
                let (src, dst) = ends(f, fd);
                let rank = if self.host_of(&src.ip) == Some(m.0) {
                    0
                } else if self.host_of(&dst.ip) == Some(m.0) {
                    2
                } else {
                    1
                };
                for smp in ds.samples() {
                    let ts = align(m.0, smp.ts);
                    obs.push(Obs {
                        key: smp.key,
                        ts,
                        cdir: cd,
                        rank,
                        sample: *smp,
                        sighting: Sighting {
                            point: m.0,
                            ts,
                            ttl: smp.ttl,
                            leaving: smp.leaving,
                            src,
                            dst,
                            frame: smp.frame,
                        },
                    });
                }
            }
        }
        obs.sort_unstable_by_key(|o| (o.key, o.ts, o.sighting.point, o.sighting.leaving));
        // each obs's packet (cluster): same key, same direction, within the window, one
        // arriving and one leaving sighting per point
        let mut cluster_of: Vec<u32> = Vec::with_capacity(obs.len());
        let mut heads: Vec<usize> = Vec::new();
        let mut i = 0;
        while i < obs.len() {
            let start = heads.len();
            let run_start = i;
            let key = obs[i].key;
            while i < obs.len() && obs[i].key == key {
                let o = &obs[i];
                let slot = (start..heads.len()).rev().find(|&c| {
                    let head = &obs[heads[c]];
                    head.cdir == o.cdir
                        && o.ts - head.ts <= MATCH_WINDOW_NS
                        && !(run_start..i).any(|k| {
                            cluster_of[k] as usize == c
                                && obs[k].sighting.point == o.sighting.point
                                && obs[k].sighting.leaving == o.sighting.leaving
                        })
                });
                match slot {
                    Some(c) => cluster_of.push(c as u32),
                    None => {
                        cluster_of.push(heads.len() as u32);
                        heads.push(i);
                    }
                }
                i += 1;
            }
        }
        // the sightings of every packet, in path order, one after the other
        let mut ord: Vec<u32> = (0..obs.len() as u32).collect();
        ord.sort_unstable_by_key(|&k| {
            let o = &obs[k as usize];
            (
                cluster_of[k as usize],
                o.rank,
                std::cmp::Reverse(o.sighting.ttl),
                o.sighting.leaving,
                o.ts,
                o.sighting.point,
            )
        });
        let mut ranges: Vec<(usize, usize)> = vec![(0, 0); heads.len()];
        let mut k = 0;
        while k < ord.len() {
            let c = cluster_of[ord[k] as usize] as usize;
            let start = k;
            while k < ord.len() && cluster_of[ord[k] as usize] as usize == c {
                k += 1;
            }
            ranges[c] = (start, k);
        }
        let sightings = |c: usize| {
            ord[ranges[c].0..ranges[c].1]
                .iter()
                .map(|&k| &obs[k as usize])
        };
        let cluster_dir = |c: usize| obs[heads[c]].cdir;
        let sampled_packets = heads.len() as u64;
        let matched_packets = (0..heads.len())
            .filter(|&c| {
                let first = obs[heads[c]].sighting.point;
                sightings(c).any(|o| o.sighting.point != first)
            })
            .count() as u64;
        // 6. the path of each direction
        let route: [Vec<Hop>; 2] = [0, 1].map(|d| {
            let mut pts: Vec<&ConvPoint> = per_point.iter().filter(|p| p.packets[d] > 0).collect();
            pts.sort_by_key(|p| {
                (
                    class_of(p.point, d),
                    std::cmp::Reverse(p.ttls[d].values().last().copied().unwrap_or(0)),
                    p.dir_first_ts[d],
                    p.point,
                )
            });
            let mut hops: Vec<Hop> = Vec::with_capacity(pts.len());
            for (k, p) in pts.iter().enumerate() {
                let delay_ns = if k == 0 {
                    None
                } else {
                    let prev = pts[k - 1].point;
                    let mut v: Vec<i64> = (0..heads.len())
                        .filter(|&c| cluster_dir(c) as usize == d)
                        .filter_map(|c| {
                            let left = sightings(c)
                                .filter(|o| o.sighting.point == prev)
                                .map(|o| o.ts)
                                .max()?;
                            let came = sightings(c)
                                .filter(|o| o.sighting.point == p.point)
                                .map(|o| o.ts)
                                .min()?;
                            Some(came - left)
                        })
                        .collect();
                    median(&mut v)
                };
                let forwarded = p.forwarded[d] > 0;
                let ttl = p.ttls[d].values().last().copied();
                let routers = match (hops.last(), ttl) {
                    (Some(prev), Some(t)) => prev.ttl_out.or(prev.ttl).map(|o| o.saturating_sub(t)),
                    _ => None,
                };
                hops.push(Hop {
                    point: p.point,
                    ttl,
                    ttl_out: if forwarded {
                        p.ttls[d].values().first().copied()
                    } else {
                        None
                    },
                    forwarded,
                    routers,
                    delay_ns,
                    first_ts: p.dir_first_ts[d],
                });
            }
            hops
        });
        // 7. rewrites: on the matched packets, then the forwarding links
        let mut rewrites: Vec<Rewrite> = Vec::new();
        for (c, &(lo, hi)) in ranges.iter().enumerate() {
            for w in ord[lo..hi].windows(2) {
                let (a, b) = (&obs[w[0] as usize].sighting, &obs[w[1] as usize].sighting);
                if (a.src, a.dst) == (b.src, b.dst) {
                    continue;
                }
                let at = if a.point == b.point {
                    RewriteAt::Point(a.point)
                } else {
                    RewriteAt::Between(a.point, b.point)
                };
                let dir = cluster_dir(c);
                if a.src != b.src {
                    push_unique_rw(
                        &mut rewrites,
                        Rewrite {
                            dir,
                            at,
                            nat: Nat {
                                source: true,
                                from: a.src,
                                to: b.src,
                            },
                        },
                    );
                }
                if a.dst != b.dst {
                    push_unique_rw(
                        &mut rewrites,
                        Rewrite {
                            dir,
                            at,
                            nat: Nat {
                                source: false,
                                from: a.dst,
                                to: b.dst,
                            },
                        },
                    );
                }
            }
        }
        // the packets kept for the ladder: the earliest
        let mut kept: Vec<usize> = (0..heads.len()).collect();
        let seen_first = |c: usize| sightings(c).map(|o| o.ts).min().unwrap_or(0);
        kept.sort_by_cached_key(|&c| (seen_first(c), cluster_dir(c), obs[heads[c]].sample.seq));
        kept.truncate(MAX_TRACES);
        let traces: Vec<PacketTrace> = kept
            .into_iter()
            .map(|c| {
                let head = &obs[heads[c]];
                PacketTrace {
                    dir: head.cdir,
                    ip_len: head.sample.ip_len,
                    info: head.sample.info,
                    seq: head.sample.seq,
                    sightings: sightings(c).map(|o| o.sighting).collect(),
                }
            })
            .collect();
        rewrites.sort_by_key(|r| r.dir);
        for cp in &per_point {
            for n in &cp.nat {
                let known = rewrites.iter().any(|r| {
                    r.dir == 0
                        && r.at == RewriteAt::Point(cp.point)
                        && r.nat.source == n.source
                        && r.nat.from.ip == n.from.ip
                        && r.nat.to.ip == n.to.ip
                });
                if !known {
                    rewrites.push(Rewrite {
                        dir: 0,
                        at: RewriteAt::Point(cp.point),
                        nat: *n,
                    });
                }
            }
        }
        // 8. losses (of traffic that routers forward: unicast, not link-local)
        let mut losses = Vec::new();
        let routed = routable(&vf.key.lo.ip) && routable(&vf.key.hi.ip);
        for (d, hops) in route.iter().enumerate() {
            if !routed {
                break;
            }
            let Some(last) = hops.last() else {
                continue;
            };
            let x = last.point;
            let cls = class_of(x, d);
            // the receiver as seen at the last point, and the point hosting it
            let receivers: Vec<IpAddr> = members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.0 == x)
                .map(|(i, m)| {
                    let f = self.flow(m);
                    let fd = if d == 0 { cdir(i) } else { 1 - cdir(i) };
                    f.key.sender(1 - fd).ip
                })
                .collect();
            let dest = receivers.iter().find_map(|ip| self.host_of(ip));
            match dest {
                Some(y) if hops.iter().any(|h| h.point == y) => {}
                Some(y) => {
                    // only when y was capturing at the time
                    let s = &self.points[y].summary;
                    let covered = match (s.first_ts, s.last_ts) {
                        (Some(a), Some(b)) => {
                            let (a, b) = (align(y, a), align(y, b));
                            a <= last.first_ts && last.first_ts <= b
                        }
                        _ => false,
                    };
                    if !covered {
                        continue;
                    }
                    if last.forwarded || cls == 0 {
                        losses.push(Loss::Between {
                            dir: d as u8,
                            from: x,
                            to: y,
                        });
                    } else {
                        losses.push(Loss::After {
                            dir: d as u8,
                            point: x,
                        });
                    }
                }
                None => {
                    let forwarder = self.points[x].summary.forwarded_packets > 0;
                    if forwarder && cls == 1 && !last.forwarded {
                        losses.push(Loss::After {
                            dir: d as u8,
                            point: x,
                        });
                    }
                }
            }
        }
        Conversation {
            ip_proto: vf.key.ip_proto,
            kind: vf.key.kind,
            client: vf.key.sender(vd),
            server: vf.key.sender(1 - vd),
            orientation: self.flow(&members[root]).originator().1,
            first_ts,
            last_ts,
            points: per_point,
            icmp_errors: Vec::new(),
            encap,
            route,
            rewrites,
            losses,
            traces,
            sampled_packets,
            matched_packets,
            seq_rewritten,
        }
    }
}

/// Most distinct NAT rewrites kept per point (and per conversation): a real NAT applies one or
/// two; past this a hostile or pathological capture would only make the lists (and the time to
/// keep them unique) grow.
const MAX_REWRITES: usize = 32;

fn push_unique(list: &mut Vec<Nat>, n: Nat) {
    if list.len() < MAX_REWRITES && !list.contains(&n) {
        list.push(n);
    }
}

fn push_unique_rw(list: &mut Vec<Rewrite>, r: Rewrite) {
    if list.len() < MAX_REWRITES && !list.contains(&r) {
        list.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{tcp_flags, Packet, Transport};
    use crate::flow::FlowTable;
    use crate::point::PointSummary;

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000 * MS;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A packet as the decoder would give it.
    fn pkt(src: &str, dst: &str, ttl: u8, ip_id: u32, transport: Transport) -> Packet {
        let ip_proto = match transport {
            Transport::Tcp { .. } => 6,
            Transport::Udp { .. } => 17,
            _ => 1,
        };
        Packet {
            src: ip(src),
            dst: ip(dst),
            ip_proto,
            ttl,
            ip_id,
            ip_len: 84,
            fragment: None,
            transport,
            payload_len: 56,
            // the same payload in every packet, like `ping -p` or the benchmark's pings
            digest: 0x5eed,
            digest_len: 16,
            encap: 0,
            vlan_count: 0,
            truncated: false,
        }
    }

    fn echo(request: bool, id: u16, seq: u16) -> Transport {
        Transport::Echo {
            v6: false,
            request,
            id,
            seq,
        }
    }

    fn tcp(sport: u16, dport: u16, flags: u8, seq: u32, ack: u32) -> Transport {
        Transport::Tcp {
            sport,
            dport,
            flags,
            seq,
            ack,
        }
    }

    /// One capture point from (packet, time) pairs, with packet samples.
    fn point(name: &str, packets: &[(Packet, i64)]) -> PointResult {
        let mut t = FlowTable::with_samples(1000, true);
        for (i, (p, ts)) in packets.iter().enumerate() {
            t.add(p, *ts, p.ip_len + 14, i as u64 + 1);
        }
        let forwarded_packets = t.forwarded_packets;
        let (flows, links) = t.finish();
        PointResult {
            summary: PointSummary {
                name: name.into(),
                first_ts: packets.iter().map(|p| p.1).min(),
                last_ts: packets.iter().map(|p| p.1).max(),
                forwarded_packets,
                ..PointSummary::default()
            },
            flows,
            links,
        }
    }

    /// A ping of `n` requests client -> server, seen at the client (clock `c_off`) and, with
    /// the source rewritten to `nat_ip` and the identifier to `nat_id`, at the server (clock
    /// `s_off`), 300 us one way.
    fn ping_pair(n: u16, nat_ip: &str, nat_id: u16, c_off: i64, s_off: i64) -> Vec<PointResult> {
        let (mut at_c, mut at_s) = (Vec::new(), Vec::new());
        for seq in 1..=n {
            let t = i64::from(seq) * 200 * MS;
            let id = 1000 + u32::from(seq);
            let rid = 5000 + u32::from(seq);
            at_c.push((
                pkt("10.0.1.4", "10.0.2.4", 64, id, echo(true, 7, seq)),
                t + c_off,
            ));
            at_s.push((
                pkt(nat_ip, "10.0.2.4", 63, id, echo(true, nat_id, seq)),
                t + 300_000 + s_off,
            ));
            at_s.push((
                pkt("10.0.2.4", nat_ip, 64, rid, echo(false, nat_id, seq)),
                t + 400_000 + s_off,
            ));
            at_c.push((
                pkt("10.0.2.4", "10.0.1.4", 63, rid, echo(false, 7, seq)),
                t + 700_000 + c_off,
            ));
        }
        vec![point("client", &at_c), point("server", &at_s)]
    }

    #[test]
    fn icmp_identifier_rewritten_between_points_is_one_conversation() {
        let points = ping_pair(3, "10.0.0.68", 4242, 0, 0);
        let r = correlate_with(&points, &Options::default());
        assert_eq!(r.conversations.len(), 1, "{:#?}", r.conversations);
        let c = &r.conversations[0];
        assert_eq!(c.client.ip, ip("10.0.1.4"));
        assert_eq!(
            c.kind,
            KeyKind::Echo { id: 7 },
            "the identifier as the client knows it"
        );
        let fwd: Vec<usize> = c.route[0].iter().map(|h| h.point).collect();
        let rev: Vec<usize> = c.route[1].iter().map(|h| h.point).collect();
        assert_eq!((fwd, rev), (vec![0, 1], vec![1, 0]));
        let rw = c
            .rewrites
            .iter()
            .find(|r| r.dir == 0 && r.nat.source)
            .expect("the source rewrite");
        assert_eq!(rw.at, RewriteAt::Between(0, 1));
        assert_eq!(
            (rw.nat.from.port, rw.nat.to.port),
            (7, 4242),
            "echo identifiers"
        );
        assert_eq!(rw.nat.to.ip, ip("10.0.0.68"));
        assert_eq!((c.sampled_packets, c.matched_packets), (6, 6));
        assert_eq!(r.matches.flow_pairs, 1);
    }

    #[test]
    fn clock_offsets_of_ten_seconds_and_more_are_found() {
        for (c_off, s_off) in [(0, 10 * S), (-13 * S, 0), (3 * S, -7 * S)] {
            let points = ping_pair(3, "10.0.0.68", 7, c_off, s_off);
            let r = correlate_with(&points, &Options::default());
            let theta = r.clocks.offset(1) - r.clocks.offset(0);
            // the two one-way delays (0.3 ms, 0.3 ms) are equal: exact
            assert!(
                (theta - (s_off - c_off)).abs() <= 1_000,
                "{theta} vs {}",
                s_off - c_off
            );
            let c = &r.conversations[0];
            assert_eq!(c.route[0].len(), 2, "{c:#?}");
            let d = c.route[0][1].delay_ns.unwrap();
            assert!((d - 300_000).abs() <= 1_000, "one-way delay {d}");
            // --assume-synced takes the clocks as they are
            let synced = correlate_with(
                &points,
                &Options {
                    assume_synced: true,
                },
            );
            assert!(synced.clocks.assumed_synced);
            assert_eq!(synced.clocks.offset(1), 0);
        }
    }

    #[test]
    fn same_looking_pings_far_apart_in_time_are_not_joined() {
        // the server also receives, 5 s later, another client's pings that look the same
        // (same payload, IP IDs and sequence numbers): another conversation
        let mut at_c = Vec::new();
        let mut at_s = Vec::new();
        for seq in 1..=3u16 {
            let t = i64::from(seq) * 200 * MS;
            let (id, rid) = (1000 + u32::from(seq), 5000 + u32::from(seq));
            at_c.push((pkt("10.0.1.4", "10.0.2.4", 64, id, echo(true, 7, seq)), t));
            at_s.push((
                pkt("10.0.1.4", "10.0.2.4", 63, id, echo(true, 7, seq)),
                t + MS / 2,
            ));
            at_s.push((
                pkt("10.0.2.4", "10.0.1.4", 64, rid, echo(false, 7, seq)),
                t + MS,
            ));
            at_c.push((
                pkt("10.0.2.4", "10.0.1.4", 63, rid, echo(false, 7, seq)),
                t + 3 * MS / 2,
            ));
            at_s.push((
                pkt("10.0.3.4", "10.0.2.4", 63, id, echo(true, 9, seq)),
                t + 5 * S,
            ));
        }
        let points = vec![point("client", &at_c), point("server", &at_s)];
        let r = correlate_with(&points, &Options::default());
        assert_eq!(r.conversations.len(), 2, "{:#?}", r.conversations);
        let real = r
            .conversations
            .iter()
            .find(|c| c.client.ip == ip("10.0.1.4"))
            .unwrap();
        assert!(real.rewrites.is_empty(), "{:?}", real.rewrites);
        assert_eq!(real.matched_packets, 6);
        let other = r
            .conversations
            .iter()
            .find(|c| c.client.ip == ip("10.0.3.4"))
            .unwrap();
        assert_eq!(other.points.len(), 1);
        assert!(
            r.clocks.offset(1).abs() < MS,
            "the look-alikes did not move the clock"
        );
    }

    #[test]
    fn randomised_tcp_sequence_numbers_still_join_the_flows() {
        // a firewall between the points adds a constant to the client's sequence numbers
        let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
        let delta = 0x1234_5678u32;
        for k in 0..6u32 {
            let t = i64::from(k) * 10 * MS;
            let (seq, ack) = (100 + k * 10, 900);
            let mut p = pkt(
                "10.0.1.4",
                "10.0.2.4",
                64,
                300 + k,
                tcp(40000, 443, tcp_flags::ACK, seq, ack),
            );
            p.ip_proto = 6;
            p.digest = u64::from(k) + 77;
            at_a.push((p, t));
            let mut q = p;
            q.transport = tcp(40000, 443, tcp_flags::ACK, seq.wrapping_add(delta), ack);
            q.ttl = 63;
            at_b.push((q, t + 2 * MS));
        }
        let points = vec![point("a", &at_a), point("b", &at_b)];
        let r = correlate_with(&points, &Options::default());
        assert_eq!(r.matches.seq_rewritten_pairs, 1);
        assert_eq!(r.conversations.len(), 1);
        assert!(r.conversations[0].seq_rewritten);
    }

    #[test]
    fn retransmitted_copies_are_matched_to_the_copy_of_their_time() {
        // the same SYN-ACK (IP ID 0, same sequence numbers) sent three times, 1 s apart, seen
        // at both points: three packets, each seen once at each point
        let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
        for k in 0..3i64 {
            let mut p = pkt(
                "10.0.2.4",
                "10.0.1.4",
                64,
                0,
                tcp(443, 40000, tcp_flags::SYN | tcp_flags::ACK, 5, 101),
            );
            p.ip_proto = 6;
            p.digest_len = 0;
            p.digest = 0;
            p.payload_len = 0;
            at_a.push((p, k * S));
            let mut q = p;
            q.ttl = 63;
            at_b.push((q, k * S + MS));
        }
        let points = vec![point("server", &at_a), point("client", &at_b)];
        let r = correlate_with(
            &points,
            &Options {
                assume_synced: true,
            },
        );
        let c = &r.conversations[0];
        assert_eq!(c.traces.len(), 3, "{:#?}", c.traces);
        for t in &c.traces {
            assert_eq!(t.sightings.len(), 2);
            let d = t.sightings[1].ts - t.sightings[0].ts;
            assert_eq!(d, MS, "each copy with its own: {t:?}");
        }
    }

    #[test]
    fn a_point_that_receives_and_never_forwards_loses_the_packets() {
        // the server's replies reach the middle point and go no further; the client's point
        // sees its requests leave
        let mut at_c = Vec::new();
        let mut at_s = Vec::new();
        let mut at_m = Vec::new();
        for seq in 1..=3u16 {
            let t = i64::from(seq) * 200 * MS;
            let (id, rid) = (1000 + u32::from(seq), 5000 + u32::from(seq));
            at_c.push((pkt("10.0.1.4", "10.0.2.4", 64, id, echo(true, 7, seq)), t));
            at_s.push((
                pkt("10.0.1.4", "10.0.2.4", 63, id, echo(true, 7, seq)),
                t + MS / 2,
            ));
            at_s.push((
                pkt("10.0.2.4", "10.0.1.4", 64, rid, echo(false, 7, seq)),
                t + MS,
            ));
            at_m.push((
                pkt("10.0.2.4", "10.0.1.4", 64, rid, echo(false, 7, seq)),
                t + MS + MS / 4,
            ));
            // the middle point forwards other traffic
            let fwd = pkt(
                "10.0.9.9",
                "10.0.8.8",
                64,
                7000 + u32::from(seq),
                echo(true, 3, seq),
            );
            let mut out = fwd;
            out.ttl = 63;
            at_m.push((fwd, t + 50 * MS));
            at_m.push((out, t + 50 * MS + 10_000));
        }
        // the client also receives something, so that its point hosts it
        at_c.push((pkt("10.0.5.5", "10.0.1.4", 64, 9999, echo(true, 11, 1)), 0));
        at_c.push((pkt("10.0.2.4", "10.0.1.4", 64, 9998, echo(true, 12, 1)), MS));
        at_s.push((pkt("10.0.1.4", "10.0.2.4", 64, 9997, echo(true, 13, 1)), MS));
        let points = vec![
            point("client", &at_c),
            point("nva", &at_m),
            point("server", &at_s),
        ];
        let r = correlate_with(
            &points,
            &Options {
                assume_synced: true,
            },
        );
        let c = r
            .conversations
            .iter()
            .find(|c| c.kind == KeyKind::Echo { id: 7 })
            .unwrap();
        assert_eq!(c.losses, vec![Loss::After { dir: 1, point: 1 }], "{c:#?}");
        let rev: Vec<usize> = c.route[1].iter().map(|h| h.point).collect();
        assert_eq!(rev, vec![2, 1]);
    }
}
