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
use crate::flow::{
    Endpoint, Flow, FlowKey, HistoryText, KeyKind, Link, Orientation, Sample, TtlSet,
};
use crate::hash::FastMap;
use crate::list::{OneOrVec, RareVec};
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
/// Flows from which finding the hosts, and touching the memory of the conversations, are
/// worth cores of their own while the flows are joined.
const SPREAD: usize = 4096;

/// How to correlate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Take every clock as right: no offset estimation (`--assume-synced`).
    pub assume_synced: bool,
    /// Leave [`Conversation::traces`] empty: the packet traces are drawn only by the SVG
    /// pictures (ladders and charts), and keeping them costs about 2 KB per conversation
    /// across several points. Everything else (matches, paths, rewrites, clocks) is the same.
    pub without_traces: bool,
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

/// Everything correlation found: the conversations (with what [`correlate_judged`] made of
/// each), in order of their first packet.
#[derive(Debug, Clone, Default)]
pub struct Correlation<C = Conversation> {
    pub conversations: Vec<C>,
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
    /// `10.100.201.4 -> 10.100.200.68` (with ports when they changed): what it displays as.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

/// `10.100.201.4 -> 10.100.200.68`, or with ports when they changed (as
/// [`endpoint_text`](crate::report::endpoint_text) writes them:
/// `10.0.0.1:80 -> [2001:db8::1]:8080`).
impl std::fmt::Display for Nat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports = self.from.port != self.to.port;
        let end = |f: &mut std::fmt::Formatter<'_>, e: &Endpoint| match e.ip {
            IpAddr::V4(a) if ports => {
                write_ipv4(f, a)?;
                write!(f, ":{}", e.port)
            }
            IpAddr::V6(a) if ports => write!(f, "[{a}]:{}", e.port),
            IpAddr::V4(a) => write_ipv4(f, a),
            IpAddr::V6(a) => write!(f, "{a}"),
        };
        end(f, &self.from)?;
        f.write_str(" -> ")?;
        end(f, &self.to)
    }
}

/// An IPv4 address as its `Display` writes it unpadded (`10.0.0.1`), without the formatting
/// machinery (a conversation through a NAT names four).
fn write_ipv4(f: &mut impl std::fmt::Write, a: std::net::Ipv4Addr) -> std::fmt::Result {
    let mut buf = [0u8; 15];
    let mut len = 0;
    for (k, octet) in a.octets().into_iter().enumerate() {
        if k > 0 {
            buf[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            buf[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            buf[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        buf[len] = b'0' + octet % 10;
        len += 1;
    }
    match std::str::from_utf8(&buf[..len]) {
        Ok(text) => f.write_str(text),
        Err(_) => write!(f, "{a}"),
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

impl Hop {
    /// Direction `d` of a conversation at one point, after hop `prev` (none: the first).
    fn at(p: &ConvPoint, d: usize, prev: Option<&Hop>, delay_ns: Option<i64>) -> Hop {
        let forwarded = p.forwarded[d] > 0;
        let ttl = p.ttls[d].values().last().copied();
        let routers = match (prev, ttl) {
            (Some(prev), Some(t)) => prev.ttl_out.or(prev.ttl).map(|o| o.saturating_sub(t)),
            _ => None,
        };
        Hop {
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
        }
    }
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

/// One packet followed across the capture points: a ladder diagram's arrow (a view into
/// [`Traces`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTrace<'a> {
    /// 0: client to server, 1: server to client.
    pub dir: u8,
    /// IP total length.
    pub ip_len: u16,
    /// TCP flags; ICMP echo: 1 request, 0 reply.
    pub info: u8,
    /// TCP sequence number (as seen at the first sighting), ICMP echo sequence number.
    pub seq: u32,
    /// In path order (see the module docs).
    pub sightings: &'a [Sighting],
}

/// What a [`PacketTrace`] holds besides its sightings, and where they are in
/// [`Traces::sightings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TraceHead {
    dir: u8,
    info: u8,
    ip_len: u16,
    seq: u32,
    start: u32,
    len: u32,
}

/// The packet traces of a conversation, earliest first: their sightings one after the other
/// in one list (at most three allocations per conversation, not one per packet; none, and
/// one word in the conversation, when there are no traces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traces(Option<Box<TraceLists>>);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TraceLists {
    heads: Vec<TraceHead>,
    sightings: Vec<Sighting>,
}

impl Traces {
    /// Appends a packet seen at `sightings` (in path order).
    pub fn push(
        &mut self,
        dir: u8,
        ip_len: u16,
        info: u8,
        seq: u32,
        sightings: impl IntoIterator<Item = Sighting>,
    ) {
        let lists = self.0.get_or_insert_with(Box::default);
        let start = lists.sightings.len();
        lists.sightings.extend(sightings);
        let len = lists.sightings.len() - start;
        lists.heads.push(TraceHead {
            dir,
            info,
            ip_len,
            seq,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        });
    }

    /// Room for `packets` traces of `sightings` sightings in all.
    fn reserve_exact(&mut self, packets: usize, sightings: usize) {
        let lists = self.0.get_or_insert_with(Box::default);
        lists.heads.reserve_exact(packets);
        lists.sightings.reserve_exact(sightings);
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.heads.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> TraceIter<'_> {
        let (heads, sightings) = match self.0.as_deref() {
            Some(l) => (&l.heads[..], &l.sightings[..]),
            None => (&[][..], &[][..]),
        };
        TraceIter {
            heads: heads.iter(),
            sightings,
        }
    }
}

/// The packet traces of a [`Traces`], in order.
pub struct TraceIter<'a> {
    heads: std::slice::Iter<'a, TraceHead>,
    sightings: &'a [Sighting],
}

impl<'a> Iterator for TraceIter<'a> {
    type Item = PacketTrace<'a>;
    fn next(&mut self) -> Option<PacketTrace<'a>> {
        let h = self.heads.next()?;
        let start = h.start as usize;
        Some(PacketTrace {
            dir: h.dir,
            ip_len: h.ip_len,
            info: h.info,
            seq: h.seq,
            sightings: self
                .sightings
                .get(start..start.saturating_add(h.len as usize))
                .unwrap_or(&[]),
        })
    }
}

impl<'a> IntoIterator for &'a Traces {
    type Item = PacketTrace<'a>;
    type IntoIter = TraceIter<'a>;
    fn into_iter(self) -> TraceIter<'a> {
        self.iter()
    }
}

impl PacketTrace<'_> {
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
    pub flows: OneOrVec<usize>,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub ttls: [TtlSet; 2],
    /// Packets this point forwarded (the leaving legs), per direction.
    pub forwarded: [u64; 2],
    /// NAT applied here to the forward direction.
    pub nat: RareVec<Nat>,
    /// Zeek-style TCP history at this point (empty for other protocols).
    pub history: HistoryText,
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
    /// Nothing seen yet at `point`.
    fn empty(point: usize) -> ConvPoint {
        ConvPoint {
            point,
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            dir_first_ts: [i64::MAX; 2],
            ..ConvPoint::default()
        }
    }
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
    pub points: OneOrVec<ConvPoint>,
    pub icmp_errors: RareVec<IcmpNote>,
    /// `decode::encap` bits of every packet.
    pub encap: u16,
    /// The path of each direction (0 forward, 1 reverse), in path order.
    pub route: [OneOrVec<Hop>; 2],
    /// NAT rewrites seen on matched packets (and on the forwarding links), per direction.
    pub rewrites: RareVec<Rewrite>,
    /// Directions that vanished on the way.
    pub losses: RareVec<Loss>,
    /// Matched packets, earliest first, at most [`MAX_TRACES`].
    pub traces: Traces,
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
    /// The root of every element, in place. A parent is never above its child (the smaller
    /// root wins, halving only moves up), so in id order each parent's root is known.
    fn into_roots(mut self) -> Vec<usize> {
        for x in 0..self.0.len() {
            let p = self.0[x];
            self.0[x] = self.0[p];
        }
        self.0
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
#[derive(Debug, Clone, Copy, Default)]
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

/// A vector with room for `n` results of [`parallel_fill`], its memory touched on every core.
///
/// The results can fill hundreds of megabytes of fresh memory, whose pages cost whoever
/// touches them first a fault and a clearing: better all cores at once than one, and
/// while other work goes on.
fn touched<R: Send>(n: usize) -> Vec<Option<R>> {
    let mut out: Vec<Option<R>> = Vec::with_capacity(n);
    let w = workers(n / SPREAD + 1);
    let chunk = n.div_ceil(w).max(1);
    std::thread::scope(|scope| {
        for part in out.spare_capacity_mut().chunks_mut(chunk) {
            scope.spawn(move || {
                for slot in part {
                    slot.write(None);
                }
            });
        }
    });
    out
}

/// `f(&mut state, item)` for every item, in order, in parallel over contiguous chunks, each
/// chunk with a state of its own made by `init`: the results (each `Some`), written in place
/// in `out` (emptied first: best [`touched`]), and the states.
fn parallel_fill<T: Sync, R: Send, S: Send>(
    items: &[T],
    mut out: Vec<Option<R>>,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> (Vec<Option<R>>, Vec<S>) {
    let w = workers(items.len() / 256 + 1);
    let chunk = items.len().div_ceil(w).max(1);
    out.clear();
    out.resize_with(items.len(), || None);
    let states = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .zip(out.chunks_mut(chunk))
            .map(|(part, slots)| {
                let (f, init) = (&f, &init);
                scope.spawn(move || {
                    let mut state = init();
                    for (item, slot) in part.iter().zip(slots) {
                        *slot = Some(f(&mut state, item));
                    }
                    state
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(s) => s,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    (out, states)
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
                            tcp: f.key.ip_proto == 6,
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
fn sort_flat(flat: &mut Vec<Flat>, spare: &mut Vec<Flat>) {
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
    // each (a, b) is one vote map key: no two pairs compare equal, so the unstable sort
    // (no buffer) gives the one order
    out.sort_unstable_by_key(|(p, _)| (p.a, p.b));
    rewritten.sort_unstable_by_key(|(p, _)| (p.a, p.b));
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

/// No capture point hosts the address (see [`hosts`]).
const NO_HOST: u32 = u32::MAX;

/// Packets of each direction of a flow that its point neither forwarded nor saw leave (none
/// for an ICMP error: it says nothing about who hosts its addresses).
fn own_packets(f: &Flow) -> [u64; 2] {
    if f.quoted.is_some() {
        [0, 0]
    } else {
        [0, 1].map(|d| f.packets[d].saturating_sub(f.forwarded()[d] + f.forwarded_in()[d]))
    }
}

/// Which capture point hosts each address (see the module docs), for both addresses of
/// every flow: `[lo, hi]` of its key by node, [`NO_HOST`] for none.
///
/// One sort key per flow address: the address, then `slot << 2 | sent << 1 | received`
/// (`slot` is `node * 2 + side`, side 0 the key's `lo`, 1 its `hi`; the bits say whether the
/// flow has packets from the address with an initial TTL, and to it, that its point did not
/// forward). Sorted, the keys of an address are adjacent and in point order (nodes are
/// numbered point by point). Packets are counted, from the flows, only when two points
/// could host an address (the most wins).
fn hosts(nodes: &Nodes) -> Vec<[u32; 2]> {
    let n = nodes.n;
    // IPv4 in one word while the slots fit in 30 bits; IPv6 (and IPv4 past that) wider
    let narrow = (n as u64) < 1 << 29;
    let mut v4: Vec<u64> = Vec::with_capacity(if narrow { 2 * n } else { 0 });
    let mut wide: Vec<(bool, u128, u64)> = Vec::new();
    for (pi, p) in nodes.points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            let node = nodes.id(pi, fi);
            let own = own_packets(f);
            for side in 0..2 {
                let sent = own[side] > 0 && initial_ttl(&f.ttls[side]);
                let received = own[1 - side] > 0;
                let low =
                    ((node * 2 + side) as u64) << 2 | u64::from(sent) << 1 | u64::from(received);
                match f.key.sender(side).ip {
                    IpAddr::V4(a) if narrow => v4.push(u64::from(u32::from(a)) << 32 | low),
                    IpAddr::V4(a) => wide.push((false, u128::from(u32::from(a)), low)),
                    IpAddr::V6(a) => wide.push((true, u128::from(a), low)),
                }
            }
        }
    }
    let mut out = vec![[NO_HOST; 2]; n];
    v4.sort_unstable();
    host_runs(
        nodes,
        &v4,
        |a, b| a >> 32 == b >> 32,
        |k| IpAddr::V4(((k >> 32) as u32).into()),
        |k| k & 0xffff_ffff,
        &mut out,
    );
    drop(v4);
    wide.sort_unstable();
    host_runs(
        nodes,
        &wide,
        |a, b| (a.0, a.1) == (b.0, b.1),
        |k| {
            if k.0 {
                IpAddr::V6(k.1.into())
            } else {
                IpAddr::V4((k.1 as u32).into())
            }
        },
        |k| k.2,
        &mut out,
    );
    out
}

/// Decides the host of every address of the sorted `keys` (see [`hosts`]) and writes it to
/// the slots of its keys. A point hosts an address when its flows have packets from it and
/// (or the point forwards nothing) to it; of several, the one with the most such packets,
/// then the first.
fn host_runs<K>(
    nodes: &Nodes,
    keys: &[K],
    same_addr: impl Fn(&K, &K) -> bool,
    ip: impl Fn(&K) -> IpAddr,
    low: impl Fn(&K) -> u64,
    out: &mut [[u32; 2]],
) {
    let slot = |k: &K| (low(k) >> 2) as usize;
    let point = |k: &K| nodes.point_of[slot(k) / 2] as usize;
    // whether the point of these keys (of one address) could host the address
    let could = |at: &[K]| {
        let sent = at.iter().any(|k| low(k) & 2 != 0);
        let received = at.iter().any(|k| low(k) & 1 != 0);
        let forwards = nodes.points[point(&at[0])].summary.forwarded_packets > 0;
        sent && (received || !forwards)
    };
    for run in keys.chunk_by(|a, b| same_addr(a, b)) {
        let host = if special_address(&ip(&run[0])) {
            None
        } else {
            let mut hosting = run
                .chunk_by(|a, b| point(a) == point(b))
                .filter(|at| could(at));
            match (hosting.next(), hosting.next()) {
                (Some(at), None) => Some(point(&at[0])),
                (None, _) => None,
                (Some(_), Some(_)) => {
                    // the most packets from and to it, then the first point (points come
                    // in order: the first of equals stays)
                    let mut best: Option<(u64, usize)> = None;
                    for at in run
                        .chunk_by(|a, b| point(a) == point(b))
                        .filter(|at| could(at))
                    {
                        let packets: u64 = at
                            .iter()
                            .map(|k| {
                                let (pi, fi) = nodes.locate(slot(k) / 2);
                                let f = &nodes.points[pi].flows[fi];
                                let (side, own) = (slot(k) % 2, own_packets(f));
                                let sent = if initial_ttl(&f.ttls[side]) {
                                    own[side]
                                } else {
                                    0
                                };
                                sent + own[1 - side]
                            })
                            .sum();
                        if best.is_none_or(|(most, _)| packets > most) {
                            best = Some((packets, point(&at[0])));
                        }
                    }
                    best.map(|(_, p)| p)
                }
            }
        };
        let host = host.map_or(NO_HOST, |p| p as u32);
        for k in run {
            out[slot(k) / 2][slot(k) % 2] = host;
        }
    }
}

/// Values by key (keys below a bound), flat: what a map from each key to a `Vec` of its
/// values holds, in two allocations (the keys' ranges, the values) rather than one per key.
struct Index<V> {
    /// `values[start[k]..start[k + 1]]` are the values of key `k`; empty when there are none
    /// at all.
    start: Vec<usize>,
    values: Vec<V>,
}

impl<V: Copy + Default> Index<V> {
    /// Indexes the `(key, value)` pairs `entries()` yields, keys below `keys`; the values of
    /// a key keep the order they came in. `entries` is called twice (count, then place).
    fn new<I: Iterator<Item = (usize, V)>>(keys: usize, entries: impl Fn() -> I) -> Index<V> {
        let mut start = vec![0usize; keys + 1];
        let mut total = 0;
        for (k, _) in entries() {
            start[k + 1] += 1;
            total += 1;
        }
        if total == 0 {
            return Index {
                start: Vec::new(),
                values: Vec::new(),
            };
        }
        for k in 0..keys {
            start[k + 1] += start[k];
        }
        // place each value at its key's cursor; the cursors end where the next key starts
        let mut values = vec![V::default(); total];
        for (k, v) in entries() {
            values[start[k]] = v;
            start[k] += 1;
        }
        start.copy_within(0..keys, 1);
        start[0] = 0;
        Index { start, values }
    }

    /// The values of key `k`, in the order they came in.
    fn get(&self, k: usize) -> &[V] {
        match (self.start.get(k), self.start.get(k + 1)) {
            (Some(&a), Some(&b)) => &self.values[a..b],
            _ => &[],
        }
    }
}

/// Builds the conversations from the points' flows. Conversations come in order of their
/// first packet.
pub fn correlate(points: &[PointResult]) -> Vec<Conversation> {
    correlate_with(points, &Options::default()).conversations
}

/// Follows packets across points, estimates the clocks, builds the conversations.
pub fn correlate_with(points: &[PointResult], opts: &Options) -> Correlation {
    let c = correlate_judged(points, opts, |_| ());
    Correlation {
        // (Conversation, ()) has the layout of Conversation: collected in place
        conversations: c.conversations.into_iter().map(|(c, ())| c).collect(),
        clocks: c.clocks,
        matches: c.matches,
    }
}

/// [`correlate_with`], judging each conversation with `judge` as soon as it is built, on
/// the core that built it: each conversation comes with its judgement.
pub fn correlate_judged<J: Send>(
    points: &[PointResult],
    opts: &Options,
    judge: impl Fn(&Conversation) -> J + Sync,
) -> Correlation<(Conversation, J)> {
    correlate_inner(points, opts, judge, true)
}

/// [`correlate_judged`]; `lone`: build lone flows the short way.
fn correlate_inner<J: Send>(
    points: &[PointResult],
    opts: &Options,
    judge: impl Fn(&Conversation) -> J + Sync,
    lone: bool,
) -> Correlation<(Conversation, J)> {
    let mut lap = crate::timings::Lap::new("correlate/");
    let nodes = Nodes::new(points);
    let n = nodes.n;
    // packets are followed from one point to another: nothing to vote on at one point
    let votes = if points.len() > 1 {
        vote(&nodes)
    } else {
        FastMap::default()
    };
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
    // the same flow key at different points (the flows of one point have distinct keys:
    // its flow table is keyed by them)
    let mut by_key: FastMap<FlowKey, usize> = FastMap::default();
    if points.len() > 1 {
        by_key.reserve(n);
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
        }
    }
    for (pi, p) in points.iter().enumerate() {
        for l in &p.links {
            uf.union(nodes.id(pi, l.from), nodes.id(pi, l.to));
        }
    }
    for (p, _) in &pairs {
        uf.union(p.a, p.b);
    }
    // ICMP errors whose quoted conversation is known join it as notes
    let errors = quoted_targets(&nodes, (points.len() > 1).then_some(&by_key));
    drop(by_key);
    let mut notes: FastMap<usize, Vec<IcmpNote>> = FastMap::default();
    for &(err, target) in &errors {
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
    for list in notes.values_mut() {
        list.sort_by_key(|n| (n.point, n.from));
    }
    // the groups, flat: each flow under its root (the group's first flow), errors that
    // became notes under none
    let mut root_of = uf.into_roots();
    for &(err, _) in &errors {
        root_of[err] = usize::MAX;
    }
    let groups: Index<(usize, usize)> = Index::new(n, || {
        root_of
            .iter()
            .enumerate()
            .filter(|(_, &r)| r != usize::MAX)
            .map(|(id, &r)| (r, nodes.locate(id)))
    });
    drop(root_of);
    // the joins each flow starts: forwarding links (from it), matched pairs (it is `a` of)
    let links_from: Index<usize> = Index::new(n, || {
        points.iter().enumerate().flat_map(|(pi, p)| {
            let nodes = &nodes;
            p.links
                .iter()
                .enumerate()
                .map(move |(li, l)| (nodes.id(pi, l.from), li))
        })
    });
    let pairs_from: Index<usize> =
        Index::new(n, || pairs.iter().enumerate().map(|(i, (p, _))| (p.a, i)));
    // built straight in the final order, of first packet (groups with the same first packet
    // in the order of their roots); meanwhile, on other cores, which point hosts each
    // address, and the memory the conversations will fill is touched
    let groups_n = (0..n).filter(|&root| !groups.get(root).is_empty()).count();
    let (hosts, room, order) = std::thread::scope(|scope| {
        let spread = n >= SPREAD;
        let hosts_job = spread.then(|| scope.spawn(|| hosts(&nodes)));
        let room_job = spread.then(|| scope.spawn(|| touched::<(Conversation, J)>(groups_n)));
        let align = |pt: usize, ts: i64| aligned(&clocks, pt, ts);
        let mut order: Vec<(i64, usize)> = (0..n)
            .filter_map(|root| {
                let members = groups.get(root);
                let first = members
                    .iter()
                    .map(|&(pi, fi)| align(pi, points[pi].flows[fi].first_ts))
                    .min()?;
                Some((first, root))
            })
            .collect();
        order.sort_by_key(|&(first, _)| first);
        let hosts = match hosts_job.map(|job| job.join()) {
            Some(Ok(h)) => h,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => hosts(&nodes),
        };
        let room = match room_job.map(|job| job.join()) {
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Vec::with_capacity(groups_n),
        };
        (hosts, room, order)
    });
    lap.mark("join");
    let ctx = Context {
        points,
        nodes: &nodes,
        links_from: &links_from,
        pairs: &pairs,
        pairs_from: &pairs_from,
        clocks: &clocks,
        hosts: &hosts,
        notes: &notes,
        lone,
        traces: !opts.without_traces,
    };
    let (built, scratch) = parallel_fill(&order, room, Scratch::default, |s, &(_, root)| {
        let c = ctx.build(s, groups.get(root), root);
        s.sampled_packets += c.sampled_packets;
        s.matched_packets += c.matched_packets;
        let j = judge(&c);
        (c, j)
    });
    // Option<T> has the layout of T when T has a niche (a conversation does): filter_map
    // (unlike flatten) collects in place, without a second buffer
    #[allow(clippy::filter_map_identity)]
    let conversations: Vec<(Conversation, J)> = built.into_iter().filter_map(|c| c).collect();
    lap.mark("build");
    for s in &scratch {
        matches.sampled_packets += s.sampled_packets;
        matches.matched_packets += s.matched_packets;
    }
    matches.single_packets = matches.sampled_packets - matches.matched_packets;
    Correlation {
        conversations,
        clocks,
        matches,
    }
}

/// The ICMP error flows whose quoted conversation is one of the flows, each with the first
/// flow (by node) of that key: `(error, target)` by error. `by_key` maps every key to its
/// first flow; without it (one point), the quoted keys are looked for among the flows.
fn quoted_targets(nodes: &Nodes, by_key: Option<&FastMap<FlowKey, usize>>) -> Vec<(usize, usize)> {
    let mut quoted: Vec<(usize, FlowKey)> = Vec::new();
    for (pi, p) in nodes.points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            if let Some(q) = f.quoted.as_deref() {
                quoted.push((nodes.id(pi, fi), *q));
            }
        }
    }
    if quoted.is_empty() {
        return Vec::new();
    }
    let found: FastMap<FlowKey, usize>;
    let first = match by_key {
        Some(m) => m,
        None => {
            let mut wanted: FastMap<FlowKey, usize> =
                quoted.iter().map(|&(_, q)| (q, usize::MAX)).collect();
            for (pi, p) in nodes.points.iter().enumerate() {
                for (fi, f) in p.flows.iter().enumerate() {
                    if let Some(t) = wanted.get_mut(&f.key) {
                        if *t == usize::MAX {
                            *t = nodes.id(pi, fi);
                        }
                    }
                }
            }
            wanted.retain(|_, t| *t != usize::MAX);
            found = wanted;
            &found
        }
    };
    quoted
        .into_iter()
        .filter_map(|(id, q)| first.get(&q).map(|&t| (id, t)))
        .collect()
}

/// What building a conversation needs.
struct Context<'a> {
    points: &'a [PointResult],
    nodes: &'a Nodes<'a>,
    /// Per node, the forwarding links (indices into its point's links) it is `from` of.
    links_from: &'a Index<usize>,
    pairs: &'a [Joined],
    /// Per node, the matched pairs (indices into `pairs`) it is `a` of.
    pairs_from: &'a Index<usize>,
    clocks: &'a Clocks,
    /// Per node, the points hosting the two addresses of its flow key (see [`hosts`]).
    hosts: &'a [[u32; 2]],
    /// ICMP errors by group root.
    notes: &'a FastMap<usize, Vec<IcmpNote>>,
    /// Build lone flows the short way (see [`Context::build_lone`]); off only to test that
    /// it changes nothing.
    lone: bool,
    /// Keep each conversation's packet traces ([`Options::without_traces`] unset).
    traces: bool,
}

/// Buffers a worker reuses from one conversation to the next, and its share of the
/// [`MatchSummary`].
#[derive(Default)]
struct Scratch {
    edges: Vec<(usize, usize, bool)>,
    client_dir: Vec<Option<usize>>,
    stack: Vec<usize>,
    class: Vec<[u8; 2]>,
    obs: Vec<Obs>,
    cluster_of: Vec<u32>,
    heads: Vec<usize>,
    ord: Vec<u32>,
    ranges: Vec<(usize, usize)>,
    pts: Vec<usize>,
    /// (hop, delay) of the matched packets of one direction.
    delays: Vec<(usize, i64)>,
    /// Per hop, the first and last sighting time of one packet.
    seen: Vec<(i64, i64)>,
    kept: Vec<((i64, u8, u32), usize)>,
    sampled_packets: u64,
    matched_packets: u64,
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

/// A time of point `pt` on the aligned timeline (the "none" markers stay as they are).
fn aligned(clocks: &Clocks, pt: usize, ts: i64) -> i64 {
    if ts == i64::MAX || ts == i64::MIN {
        ts
    } else {
        clocks.align(pt, ts)
    }
}

/// True when the flow kept packet samples (to follow across points).
fn sampled(f: &Flow) -> bool {
    f.samples
        .as_deref()
        .is_some_and(|s| s.iter().any(|d| !d.samples().is_empty()))
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
    v.sort_unstable();
    lower_middle(v)
}

/// The median of sorted values (the lower one of the two middle values of an even count).
fn lower_middle<T: Copy>(sorted: &[T]) -> Option<T> {
    sorted.get(sorted.len().checked_sub(1)? / 2).copied()
}

impl Context<'_> {
    fn flow(&self, m: &(usize, usize)) -> &Flow {
        &self.points[m.0].flows[m.1]
    }

    /// A time of point `pt` on the aligned timeline (see [`aligned`]).
    fn align(&self, pt: usize, ts: i64) -> i64 {
        aligned(self.clocks, pt, ts)
    }

    /// The point hosting the sender of direction `dir` of a member's flow (`1 - dir`: the
    /// receiver), if any.
    fn host(&self, m: &(usize, usize), dir: usize) -> Option<usize> {
        let h = self.hosts[self.nodes.id(m.0, m.1)][dir];
        (h != NO_HOST).then_some(h as usize)
    }

    fn links_from(&self, m: &(usize, usize)) -> &[usize] {
        self.links_from.get(self.nodes.id(m.0, m.1))
    }

    /// Builds one conversation from its member flows (sorted by point, then flow), the group
    /// of flows under `root_node`.
    fn build(&self, s: &mut Scratch, members: &[(usize, usize)], root_node: usize) -> Conversation {
        match members {
            [m] if self.lone && self.links_from(m).is_empty() && !sampled(self.flow(m)) => {
                self.build_lone(m, root_node)
            }
            _ => self.build_general(s, members, root_node),
        }
    }

    /// [`build`](Self::build) for a conversation of one flow that starts no forwarding link
    /// and kept no packet samples (every flow of a single capture point is one): the same
    /// steps, with nothing to join, orient, follow across points or find rewritten.
    fn build_lone(&self, m: &(usize, usize), root_node: usize) -> Conversation {
        let f = self.flow(m);
        let (d, orientation) = f.originator();
        let mut cp = ConvPoint::empty(m.0);
        let mut class = [2u8; 2];
        self.add_member(&mut cp, &mut class, m, d);
        let route = [0, 1].map(|dir| {
            if cp.packets[dir] > 0 {
                OneOrVec::one(Hop::at(&cp, dir, None, None))
            } else {
                OneOrVec::new()
            }
        });
        let class_of = |pt: usize, dir: usize| if pt == m.0 { class[dir] } else { 1 };
        let losses = self.losses(&route, std::slice::from_ref(m), |_| d, class_of, f);
        Conversation {
            ip_proto: f.key.ip_proto,
            kind: f.key.kind,
            client: f.key.sender(d),
            server: f.key.sender(1 - d),
            orientation,
            first_ts: self.align(m.0, f.first_ts),
            last_ts: self.align(m.0, f.last_ts),
            points: OneOrVec::one(cp),
            icmp_errors: self.notes_of(root_node),
            encap: f.encap,
            route,
            rewrites: RareVec::new(),
            losses: losses.into(),
            traces: Traces::default(),
            sampled_packets: 0,
            matched_packets: 0,
            seq_rewritten: false,
        }
    }

    /// The ICMP errors about the group under `root_node`.
    fn notes_of(&self, root_node: usize) -> RareVec<IcmpNote> {
        match self.notes.get(&root_node) {
            Some(list) => list.clone().into(),
            None => RareVec::new(),
        }
    }

    /// Adds a member flow, oriented so that its direction `d` is the client's, to the
    /// conversation at its point; `cl` is the class of that point per direction, lowered to
    /// what this flow says (0 hosts the sender, 2 hosts the receiver, 1 transit).
    fn add_member(&self, cp: &mut ConvPoint, cl: &mut [u8; 2], m: &(usize, usize), d: usize) {
        let f = self.flow(m);
        cp.flows.push(m.1);
        for (k, dir) in [d, 1 - d].into_iter().enumerate() {
            cp.packets[k] += f.packets[dir];
            cp.bytes[k] += f.bytes[dir];
            cp.ttls[k].merge(&f.ttls[dir]);
            cp.forwarded[k] += f.forwarded()[dir];
            cp.dir_first_ts[k] = cp.dir_first_ts[k].min(self.align(m.0, f.dir_first_ts[dir]));
            cp.data[k] |= f.history.has(b'D', dir) || f.history.has(b'T', dir);
            // the sender and the receiver of this direction
            let c = if self.host(m, dir) == Some(m.0) {
                0
            } else if self.host(m, 1 - dir) == Some(m.0) {
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
        cp.retransmissions += f.retransmissions()[0] + f.retransmissions()[1];
        if f.key.ip_proto == 6 && cp.history.is_empty() {
            cp.history = f.history.text(d);
        }
        cp.first_ts = cp.first_ts.min(self.align(m.0, f.first_ts));
        cp.last_ts = cp.last_ts.max(self.align(m.0, f.last_ts));
    }

    /// Directions that vanished on the way, of traffic that routers forward (unicast, not
    /// link-local; `vf`, the client's view, tells): see the module docs. `cdir` orients the
    /// members, `class_of` is the class of a point per direction.
    fn losses(
        &self,
        route: &[OneOrVec<Hop>; 2],
        members: &[(usize, usize)],
        cdir: impl Fn(usize) -> usize,
        class_of: impl Fn(usize, usize) -> u8,
        vf: &Flow,
    ) -> Vec<Loss> {
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
            // the point hosting the receiver as seen at the last point (the first such
            // receiver that has one)
            let dest = members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.0 == x)
                .find_map(|(i, m)| {
                    let fd = if d == 0 { cdir(i) } else { 1 - cdir(i) };
                    self.host(m, 1 - fd)
                });
            match dest {
                Some(y) if hops.iter().any(|h| h.point == y) => {}
                Some(y) => {
                    // only when y was capturing at the time
                    let s = &self.points[y].summary;
                    let covered = match (s.first_ts, s.last_ts) {
                        (Some(a), Some(b)) => {
                            let (a, b) = (self.align(y, a), self.align(y, b));
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
        losses
    }

    /// [`build`](Self::build), every step.
    fn build_general(
        &self,
        s: &mut Scratch,
        members: &[(usize, usize)],
        root_node: usize,
    ) -> Conversation {
        let Scratch {
            edges,
            client_dir,
            stack,
            class,
            obs,
            cluster_of,
            heads,
            ord,
            ranges,
            pts,
            delays,
            seen,
            kept,
            ..
        } = s;
        let align = |pt: usize, ts: i64| self.align(pt, ts);
        let mut seq_rewritten = false;
        let mut nats: BTreeMap<usize, Vec<Nat>> = BTreeMap::new();
        client_dir.clear();
        let (root, view) = match members {
            // one flow that starts no forwarding link (by far the most common): nothing to
            // join, it is the root and the client's view
            [m] if self.links_from(m).is_empty() => {
                client_dir.push(Some(self.flow(m).originator().0));
                (0, 0)
            }
            _ => {
                // members come sorted by (point, flow)
                let index = |m: &(usize, usize)| members.binary_search(m).ok();
                // 1. the joins between members, as (member, other member, directions
                //    flipped), both ways, then grouped by member
                edges.clear();
                let mut by_key: BTreeMap<FlowKey, usize> = BTreeMap::new();
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
                    for &li in self.links_from(m) {
                        let l: &Link = &self.points[m.0].links[li];
                        if let Some(j) = index(&(m.0, l.to)) {
                            join(i, j, l.from_dir != l.to_dir);
                        }
                    }
                    let node = self.nodes.id(m.0, m.1);
                    for &pi in self.pairs_from.get(node) {
                        let (p, _) = &self.pairs[pi];
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
                client_dir.resize(members.len(), None);
                stack.clear();
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
                // 3. flows that are the NAT-rewritten (leaving) side of a forward-direction
                //    link are not how the client knows the conversation
                let mut post_nat: std::collections::HashSet<
                    (usize, usize),
                    crate::hash::FastState,
                > = Default::default();
                for (i, m) in members.iter().enumerate() {
                    for &li in self.links_from(m) {
                        let l = &self.points[m.0].links[li];
                        if cdir(i) != l.from_dir as usize {
                            continue;
                        }
                        post_nat.insert((m.0, l.to));
                        let list = nats.entry(m.0).or_default();
                        let sides = [
                            (true, l.before.0, l.after.0),
                            (false, l.before.1, l.after.1),
                        ];
                        for (source, from, to) in sides {
                            if from != to {
                                push_unique(list, Nat { source, from, to });
                            }
                        }
                    }
                }
                // the client's view: not post-NAT, at the point hosting the client if any,
                // earliest
                let view = (0..members.len())
                    .filter(|&i| !post_nat.contains(&members[i]))
                    .min_by_key(|&i| {
                        let m = &members[i];
                        let f = self.flow(m);
                        let at_client = self.host(m, cdir(i)) == Some(m.0);
                        (!at_client, align(m.0, f.first_ts), m.0, m.1)
                    })
                    .unwrap_or(root);
                (root, view)
            }
        };
        let cdir = |i: usize| client_dir[i].unwrap_or(0);
        let vf = self.flow(&members[view]);
        let vd = cdir(view);
        // 4. per point totals
        // in point order (members are); with the class of each point per direction: 0 hosts
        // the sender, 2 hosts the receiver, 1 transit
        let n_points = 1 + members.windows(2).filter(|w| w[0].0 != w[1].0).count();
        let mut per_point: OneOrVec<ConvPoint> = if n_points > 1 {
            OneOrVec::Many(Vec::with_capacity(n_points))
        } else {
            OneOrVec::new()
        };
        class.clear();
        let mut encap = 0u16;
        let (mut first_ts, mut last_ts) = (i64::MAX, i64::MIN);
        for (i, m) in members.iter().enumerate() {
            let f = self.flow(m);
            if per_point.last().map(|c| c.point) != Some(m.0) {
                per_point.push(ConvPoint::empty(m.0));
                class.push([2, 2]);
            }
            let (Some(cp), Some(cl)) = (per_point.last_mut(), class.last_mut()) else {
                continue;
            };
            self.add_member(cp, cl, m, cdir(i));
            first_ts = first_ts.min(align(m.0, f.first_ts));
            last_ts = last_ts.max(align(m.0, f.last_ts));
            encap |= f.encap;
        }
        for (pt, list) in nats {
            if let Ok(i) = per_point.binary_search_by_key(&pt, |c| c.point) {
                per_point[i].nat = list.into();
            }
        }
        let class_of = |pt: usize, d: usize| {
            per_point
                .binary_search_by_key(&pt, |c| c.point)
                .ok()
                .map_or(1, |i| class[i][d])
        };
        // 5. the sampled packets, grouped into packets seen at several points
        obs.clear();
        for (i, m) in members.iter().enumerate() {
            let f = self.flow(m);
            let Some(smp) = f.samples.as_deref() else {
                continue;
            };
            for (fd, ds) in smp.iter().enumerate() {
                if ds.samples().is_empty() {
                    continue;
                }
                let cd = if fd == cdir(i) { 0u8 } else { 1 };
                let (src, dst) = ends(f, fd);
                let rank = if self.host(m, fd) == Some(m.0) {
                    0
                } else if self.host(m, 1 - fd) == Some(m.0) {
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
        cluster_of.clear();
        heads.clear();
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
        ord.clear();
        ord.extend(0..obs.len() as u32);
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
        ranges.clear();
        ranges.resize(heads.len(), (0, 0));
        let mut k = 0;
        while k < ord.len() {
            let c = cluster_of[ord[k] as usize] as usize;
            let start = k;
            while k < ord.len() && cluster_of[ord[k] as usize] as usize == c {
                k += 1;
            }
            ranges[c] = (start, k);
        }
        let (obs, heads, ord, ranges) = (&*obs, &*heads, &*ord, &*ranges);
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
        let route: [OneOrVec<Hop>; 2] = [0, 1].map(|d| {
            pts.clear();
            pts.extend((0..per_point.len()).filter(|&k| per_point[k].packets[d] > 0));
            pts.sort_by_key(|&k| {
                let p = &per_point[k];
                (
                    class[k][d],
                    std::cmp::Reverse(p.ttls[d].values().last().copied().unwrap_or(0)),
                    p.dir_first_ts[d],
                    p.point,
                )
            });
            let mut hops: OneOrVec<Hop> = if pts.len() > 1 {
                OneOrVec::Many(Vec::with_capacity(pts.len()))
            } else {
                OneOrVec::new()
            };
            // the delays of every hop after the first, in one pass over the packets: for
            // each packet of the direction seen at hops k-1 and k, from the last sighting
            // at k-1 to the first at k, as (k, delay)
            delays.clear();
            if pts.len() > 1 {
                for c in (0..heads.len()).filter(|&c| cluster_dir(c) as usize == d) {
                    // per hop: (first, last) sighting time of this packet there
                    seen.clear();
                    seen.resize(pts.len(), (i64::MAX, i64::MIN));
                    for o in sightings(c) {
                        let hop = pts
                            .iter()
                            .position(|&k| per_point[k].point == o.sighting.point);
                        if let Some(t) = hop.and_then(|h| seen.get_mut(h)) {
                            *t = (t.0.min(o.ts), t.1.max(o.ts));
                        }
                    }
                    for k in 1..pts.len() {
                        let (left, came) = (seen[k - 1].1, seen[k].0);
                        if left != i64::MIN && came != i64::MAX {
                            delays.push((k, came - left));
                        }
                    }
                }
                delays.sort_unstable();
            }
            for (k, &at) in pts.iter().enumerate() {
                let p = &per_point[at];
                let delay_ns = if k == 0 {
                    None
                } else {
                    // sorted by hop then delay: the lower median of hop k's
                    let lo = delays.partition_point(|&(h, _)| h < k);
                    let hi = delays.partition_point(|&(h, _)| h <= k);
                    lower_middle(&delays[lo..hi]).map(|(_, delay)| delay)
                };
                let hop = Hop::at(p, d, hops.last(), delay_ns);
                hops.push(hop);
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
        // the packets kept for the ladder: the earliest (ties in packet order)
        let seen_first = |c: usize| sightings(c).map(|o| o.ts).min().unwrap_or(0);
        kept.clear();
        if self.traces {
            kept.extend(
                (0..heads.len())
                    .map(|c| ((seen_first(c), cluster_dir(c), obs[heads[c]].sample.seq), c)),
            );
            kept.sort_unstable();
            kept.truncate(MAX_TRACES);
        }
        let mut traces = Traces::default();
        if !kept.is_empty() {
            let sightings = kept.iter().map(|&(_, c)| ranges[c].1 - ranges[c].0).sum();
            traces.reserve_exact(kept.len(), sightings);
        }
        for &(_, c) in kept.iter() {
            let head = &obs[heads[c]];
            traces.push(
                head.cdir,
                head.sample.ip_len,
                head.sample.info,
                head.sample.seq,
                sightings(c).map(|o| o.sighting),
            );
        }
        rewrites.sort_by_key(|r| r.dir);
        for cp in per_point.iter() {
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
        // 8. losses
        let losses = self.losses(&route, members, cdir, class_of, vf);
        let icmp_errors = self.notes_of(root_node);
        Conversation {
            ip_proto: vf.key.ip_proto,
            kind: vf.key.kind,
            client: vf.key.sender(vd),
            server: vf.key.sender(1 - vd),
            orientation: self.flow(&members[root]).originator().1,
            first_ts,
            last_ts,
            points: per_point,
            icmp_errors,
            encap,
            route,
            rewrites: rewrites.into(),
            losses: losses.into(),
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
                    ..Options::default()
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
                ..Options::default()
            },
        );
        let c = &r.conversations[0];
        assert_eq!(c.traces.len(), 3, "{:#?}", c.traces);
        for t in &c.traces {
            assert_eq!(t.sightings.len(), 2);
            let d = t.sightings[1].ts - t.sightings[0].ts;
            assert_eq!(d, MS, "each copy with its own: {t:?}");
        }
        // without traces: the same conversations, matches and clocks, the traces left out
        let bare = correlate_with(
            &points,
            &Options {
                assume_synced: true,
                without_traces: true,
            },
        );
        assert_eq!(bare.conversations.len(), r.conversations.len());
        assert_eq!(bare.matches, r.matches);
        assert_eq!(format!("{:?}", bare.clocks), format!("{:?}", r.clocks));
        for (b, full) in bare.conversations.iter().zip(&r.conversations) {
            assert!(b.traces.is_empty());
            let mut full = full.clone();
            full.traces = Traces::default();
            assert_eq!(format!("{b:?}"), format!("{full:?}"));
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
                ..Options::default()
            },
        );
        let c = r
            .conversations
            .iter()
            .find(|c| c.kind == KeyKind::Echo { id: 7 })
            .unwrap();
        assert_eq!(&c.losses[..], &[Loss::After { dir: 1, point: 1 }], "{c:#?}");
        let rev: Vec<usize> = c.route[1].iter().map(|h| h.point).collect();
        assert_eq!(rev, vec![2, 1]);
    }

    /// The capture sets of the repository: every file of every stage as a point of its own
    /// (no packet samples, as flowcheck reads one point), and every stage as a whole.
    fn capture_sets() -> Vec<Vec<PointResult>> {
        use crate::point::{analyse_points, resolve_inputs, ReadOptions};
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut sets = Vec::new();
        for stage in ["stage0", "stage1", "stage2", "stage3", "stage4"] {
            let dir = format!("{root}/{stage}");
            let inputs = resolve_inputs(&[dir]).unwrap();
            for input in &inputs {
                sets.push(analyse_points(
                    std::slice::from_ref(input),
                    &ReadOptions::default(),
                ));
            }
            let all = ReadOptions {
                samples: true,
                ..ReadOptions::default()
            };
            sets.push(analyse_points(&inputs, &all));
        }
        sets
    }

    #[test]
    fn an_index_holds_what_a_map_of_vectors_holds() {
        // keys out of order, repeated, some never used; values in the order they came
        let entries: Vec<(usize, u32)> = (0..500u32)
            .map(|v| (((v as usize) * 7919 + 13) % 97 % 61, v))
            .collect();
        let index = Index::new(100, || entries.iter().copied());
        let mut map: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for &(k, v) in &entries {
            map.entry(k).or_default().push(v);
        }
        for k in 0..110 {
            let want = map.get(&k).map_or(&[][..], Vec::as_slice);
            assert_eq!(index.get(k), want, "key {k}");
        }
        let empty: Index<u32> = Index::new(100, std::iter::empty);
        assert!(empty.start.is_empty() && empty.get(5).is_empty());
    }

    #[test]
    fn union_find_roots_are_the_first_element_of_each_group() {
        let n = 1000;
        let mut uf = UnionFind((0..n).collect());
        for k in 0..400usize {
            uf.union((k * 37) % n, (k * 101 + 7) % n);
        }
        let found: Vec<usize> = (0..n).map(|x| uf.find(x)).collect();
        let roots = uf.into_roots();
        assert_eq!(roots, found);
        for (x, &r) in roots.iter().enumerate() {
            assert!(r <= x && roots[r] == r, "{x} -> {r}");
            let first = (0..n).find(|&y| roots[y] == r);
            assert_eq!(first, Some(r), "the root is the group's first element");
        }
    }

    /// Who hosts each address, counted the plain way: packets from it (initial TTL) and to
    /// it, per point, neither forwarded there; the most wins, then the first point.
    fn hosts_by_address(points: &[PointResult]) -> BTreeMap<IpAddr, usize> {
        let mut seen: BTreeMap<(IpAddr, usize), (u64, u64)> = BTreeMap::new();
        for (pi, p) in points.iter().enumerate() {
            for f in &p.flows {
                if f.quoted.is_some() {
                    continue;
                }
                for d in 0..2 {
                    let own = f.packets[d].saturating_sub(f.forwarded()[d] + f.forwarded_in()[d]);
                    if own == 0 {
                        continue;
                    }
                    if initial_ttl(&f.ttls[d]) {
                        seen.entry((f.key.sender(d).ip, pi)).or_default().0 += own;
                    }
                    seen.entry((f.key.sender(1 - d).ip, pi)).or_default().1 += own;
                }
            }
        }
        let mut best: BTreeMap<IpAddr, (u64, usize)> = BTreeMap::new();
        for (&(ip, pi), &(sent, recv)) in &seen {
            let forwards = points[pi].summary.forwarded_packets > 0;
            if sent > 0 && (recv > 0 || !forwards) && !special_address(&ip) {
                let n = sent + recv;
                let e = best.entry(ip).or_insert((n, pi));
                if n > e.0 {
                    *e = (n, pi);
                }
            }
        }
        best.into_iter().map(|(ip, (_, pi))| (ip, pi)).collect()
    }

    fn check_hosts(points: &[PointResult]) {
        let nodes = Nodes::new(points);
        let found = hosts(&nodes);
        let want = hosts_by_address(points);
        for (pi, p) in points.iter().enumerate() {
            for (fi, f) in p.flows.iter().enumerate() {
                for (side, &h) in found[nodes.id(pi, fi)].iter().enumerate() {
                    let ip = f.key.sender(side).ip;
                    let got = (h != NO_HOST).then_some(h as usize);
                    assert_eq!(got, want.get(&ip).copied(), "{ip} (point {pi}, flow {fi})");
                }
            }
        }
    }

    #[test]
    fn the_point_with_the_most_packets_from_and_to_an_address_hosts_it() {
        // 10.0.1.4 pings from both points, three times at b, twice at a: b hosts it; 10.0.2.4
        // answers as often at both: the first point, a; 10.0.3.4 only sends (a forwards
        // nothing, so it still hosts it); the broadcast address is nobody's
        let ping =
            |src: &str, dst: &str, id: u32, ttl: u8| pkt(src, dst, ttl, id, echo(true, 1, 1));
        let pong = |src: &str, dst: &str, id: u32| pkt(src, dst, 64, id, echo(false, 1, 1));
        let at_a = vec![
            (ping("10.0.1.4", "10.0.2.4", 1, 64), 0),
            (pong("10.0.2.4", "10.0.1.4", 2), MS),
            (ping("10.0.1.4", "10.0.2.4", 3, 64), 2 * MS),
            (pong("10.0.2.4", "10.0.1.4", 4), 3 * MS),
            (ping("10.0.3.4", "10.0.9.9", 5, 128), 4 * MS),
            (ping("10.0.3.4", "255.255.255.255", 6, 64), 5 * MS),
        ];
        let mut at_b = Vec::new();
        for k in 0..3u32 {
            at_b.push((ping("10.0.1.4", "10.0.7.7", 10 + k, 64), i64::from(k) * MS));
        }
        at_b.push((pong("10.0.2.4", "10.0.1.4", 20), 4 * MS));
        at_b.push((ping("10.0.1.4", "10.0.2.4", 21, 64), 5 * MS));
        let points = vec![point("a", &at_a), point("b", &at_b)];
        check_hosts(&points);
        let h = hosts_by_address(&points);
        assert_eq!(h.get(&ip("10.0.1.4")), Some(&1));
        assert_eq!(h.get(&ip("10.0.2.4")), Some(&0));
        assert_eq!(h.get(&ip("10.0.3.4")), Some(&0));
        assert_eq!(h.get(&ip("255.255.255.255")), None);
    }

    #[test]
    fn hosts_found_by_sorting_are_those_counted_by_address() {
        for points in capture_sets() {
            check_hosts(&points);
        }
        check_hosts(&ping_pair(4, "10.0.0.68", 9, 0, 0));
    }

    /// An ICMP port unreachable from `from` about the UDP datagram src:sport -> dst:dport.
    fn unreachable(from: &str, src: &str, dst: &str, sport: u16, dport: u16) -> Packet {
        let mut p = pkt(
            from,
            src,
            64,
            77,
            Transport::IcmpError {
                v6: false,
                icmp_type: 3,
                code: 3,
                quoted: Some(crate::decode::Quoted {
                    src: ip(src),
                    dst: ip(dst),
                    ip_proto: 17,
                    sport,
                    dport,
                }),
            },
        );
        p.ip_proto = 1;
        p
    }

    #[test]
    fn an_icmp_error_is_a_note_on_the_conversation_it_quotes_at_one_point_and_more() {
        let udp = |sport| Transport::Udp { sport, dport: 53 };
        let mut q = pkt("10.0.1.4", "10.0.2.4", 64, 5, udp(4000));
        q.ip_proto = 17;
        let mut other = pkt("10.0.1.4", "10.0.2.4", 64, 6, udp(4001));
        other.ip_proto = 17;
        let err = unreachable("10.0.2.4", "10.0.1.4", "10.0.2.4", 4000, 53);
        // from another router, so a flow of its own
        let lost = unreachable("10.0.2.5", "10.0.1.4", "10.0.2.4", 4999, 53);
        let packets = [(other, 0), (q, MS), (err, 2 * MS), (lost, 3 * MS)];
        let one = vec![point("a", &packets)];
        let two = vec![point("a", &packets), point("b", &packets[..1])];
        for points in [one, two] {
            let r = correlate_with(&points, &Options::default());
            let c = r
                .conversations
                .iter()
                .find(|c| c.client.port == 4000)
                .unwrap();
            assert_eq!(c.icmp_errors.len(), 1, "{c:#?}");
            assert_eq!(c.icmp_errors[0].from, ip("10.0.2.4"));
            assert_eq!((c.icmp_errors[0].icmp_type, c.icmp_errors[0].code), (3, 3));
            // the error quoting a conversation nobody saw is one of its own
            let icmp: Vec<&Conversation> =
                r.conversations.iter().filter(|c| c.ip_proto == 1).collect();
            assert_eq!(icmp.len(), 1, "{icmp:#?}");
            let nodes = Nodes::new(&points);
            let targets = quoted_targets(&nodes, None);
            assert_eq!(targets, vec![(2, 1)], "the error quotes the second flow");
        }
    }

    #[test]
    fn lone_flows_built_the_short_way_are_built_the_same() {
        let mut sets = capture_sets();
        sets.push(ping_pair(3, "10.0.0.68", 4242, 0, 0));
        for points in sets {
            let short = correlate_inner(&points, &Options::default(), |_| (), true);
            let long = correlate_inner(&points, &Options::default(), |_| (), false);
            assert_eq!(
                format!("{:?}", short.conversations),
                format!("{:?}", long.conversations),
            );
        }
    }

    #[test]
    fn parallel_fill_keeps_the_order_and_gives_each_chunk_its_state() {
        let items: Vec<u64> = (0..10_000).collect();
        let (out, states) = parallel_fill(
            &items,
            touched(items.len()),
            || 0u64,
            |n, &x| {
                *n += 1;
                x * 3
            },
        );
        assert_eq!(out.len(), items.len());
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, r)| *r == Some(i as u64 * 3)));
        assert_eq!(states.iter().sum::<u64>(), items.len() as u64);
        let (none, _) = parallel_fill(&[] as &[u64], Vec::new(), || (), |_, &x| x);
        assert!(none.is_empty());
    }

    #[test]
    fn nats_display_as_their_endpoints_are_written() {
        let e = |s: &str, port| Endpoint { ip: ip(s), port };
        let cases = [
            (e("10.100.201.4", 5), e("10.100.200.68", 5)),
            (e("10.100.201.4", 40000), e("10.100.200.68", 1024)),
            (e("0.0.0.0", 1), e("255.255.255.255", 2)),
            (e("2001:db8::1", 80), e("2001:db8::2", 80)),
            (e("2001:db8::1", 80), e("192.0.2.1", 8080)),
        ];
        for (from, to) in cases {
            let nat = Nat {
                source: true,
                from,
                to,
            };
            let want = if from.port != to.port {
                format!(
                    "{} -> {}",
                    crate::report::endpoint_text(&from, true),
                    crate::report::endpoint_text(&to, true)
                )
            } else {
                format!("{} -> {}", from.ip, to.ip)
            };
            assert_eq!(nat.describe(), want);
        }
        for a in [
            "0.0.0.0",
            "9.99.100.255",
            "10.0.0.1",
            "100.64.10.9",
            "255.255.255.255",
        ] {
            let a: std::net::Ipv4Addr = a.parse().unwrap();
            let mut s = String::new();
            write_ipv4(&mut s, a).unwrap();
            assert_eq!(s, a.to_string());
        }
    }

    /// The 2 GB benchmark holds 200,000 judged conversations within its 150 MiB budget
    /// (README, Performance): a byte more per conversation is 200 KB more.
    #[test]
    fn a_judged_conversation_stays_within_its_memory_budget() {
        let size = std::mem::size_of::<(Conversation, crate::verdict::Judgement)>();
        assert!(
            size <= 400,
            "a judged conversation grew to {size} bytes (budget 400)"
        );
    }

    #[test]
    fn a_conversation_without_traces_spends_one_word_on_them() {
        // 200,000 conversations of one capture: every word per conversation is 1.6 MB
        assert_eq!(std::mem::size_of::<Traces>(), 8);
        let mut t = Traces::default();
        assert!(t.is_empty() && t.iter().next().is_none());
        let s = |point, ts| Sighting {
            point,
            ts,
            ttl: 64,
            leaving: false,
            src: Endpoint {
                ip: IpAddr::from([10, 0, 0, 1]),
                port: 1,
            },
            dst: Endpoint {
                ip: IpAddr::from([10, 0, 0, 2]),
                port: 2,
            },
            frame: 1,
        };
        t.push(0, 84, 1, 7, [s(0, 10), s(1, 20)]);
        t.push(1, 84, 0, 7, [s(1, 30)]);
        let all: Vec<PacketTrace> = t.iter().collect();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].dir, all[0].seq, all[0].sightings.len()), (0, 7, 2));
        assert_eq!(all[0].sightings[1].ts, 20);
        assert_eq!((all[1].dir, all[1].sightings.len()), (1, 1));
        assert_eq!(all[1].sightings[0].ts, 30);
    }

    #[test]
    fn voting_records_sort_by_key_node_and_time() {
        let mut rng = crate::test_rng::Rng(0x5eed_1234_abcd_0001);
        for n in [0usize, 1, 2, 255, 256, 257, 1000, 70_000] {
            let mut flat: Vec<Flat> = (0..n)
                .map(|_| {
                    // few distinct keys among the small sets, some repeated among the large
                    let (distinct, spread) = if n < 300 {
                        (7, 1) // all in the first buckets
                    } else {
                        (n as u64 * 2, 0x9e37_79b9_7f4a_7c15)
                    };
                    let key = ((rng.next() % distinct) << 40) | (rng.next() % 3);
                    let key = key.wrapping_mul(spread);
                    Flat {
                        key,
                        ts: (rng.next() % 5) as i64,
                        seq: rng.next() as u32,
                        node: (rng.next() % 4) as u32,
                        ..Flat::default()
                    }
                })
                .collect();
            let mut want = flat.clone();
            want.sort_unstable_by_key(|r| (r.key, r.node, r.ts));
            let mut spare = Vec::new();
            sort_flat(&mut flat, &mut spare);
            let order = |v: &[Flat]| v.iter().map(|r| (r.key, r.node, r.ts)).collect::<Vec<_>>();
            assert_eq!(order(&flat), order(&want), "n = {n}");
            let seqs = |v: &[Flat]| {
                let mut s: Vec<u32> = v.iter().map(|r| r.seq).collect();
                s.sort_unstable();
                s
            };
            assert_eq!(seqs(&flat), seqs(&want), "the same records, n = {n}");
        }
    }
}
