//! The output of correlation: a [`Conversation`] per group of joined flows, with what it
//! looked like at each capture point ([`ConvPoint`]), the path of each direction ([`Hop`]),
//! the NAT rewrites ([`Nat`], [`Rewrite`]), the directions that vanished ([`Loss`]), the
//! packets followed across points ([`Traces`]) and the run's [`MatchSummary`]. Plain data:
//! how they are found is in the sibling modules; reports and verdicts read only these.

use std::net::IpAddr;

use crate::flow::{Endpoint, HistoryText, KeyKind, Orientation, TtlSet, NO_FIRST_TS, NO_LAST_TS};
use crate::list::{OneOrVec, RareVec};

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

/// The address of a packet a NAT rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatSide {
    Source,
    Destination,
}

impl NatSide {
    /// `source` / `destination`: how the JSON and the reports name it.
    pub fn name(self) -> &'static str {
        match self {
            NatSide::Source => "source",
            NatSide::Destination => "destination",
        }
    }

    /// `src` / `dst`: the short form the pictures use.
    pub fn short(self) -> &'static str {
        match self {
            NatSide::Source => "src",
            NatSide::Destination => "dst",
        }
    }
}

/// A NAT rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nat {
    /// The rewritten side. In [`ConvPoint::nat`] (the requests) the source is the client
    /// side.
    pub side: NatSide,
    pub from: Endpoint,
    pub to: Endpoint,
}

impl Nat {
    /// `10.100.201.4 -> 10.100.200.68` (with ports when they changed): what it displays as.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

/// `10.100.201.4 -> 10.100.200.68`, or with ports when they changed
/// (`10.0.0.1:80 -> [2001:db8::1]:8080`; endpoints as [`Endpoint::display`] writes them).
impl std::fmt::Display for Nat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports = self.from.port != self.to.port;
        write!(
            f,
            "{} -> {}",
            self.from.display(ports),
            self.to.display(ports)
        )
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

/// A direction of a conversation: the requests or the replies. Per-direction arrays
/// (`[T; 2]`) are indexed by [`Dir::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// The requests: client to server (index 0).
    Forward,
    /// The replies: server to client (index 1).
    Reverse,
}

impl Dir {
    /// Both, in index order.
    pub const BOTH: [Dir; 2] = [Dir::Forward, Dir::Reverse];

    /// 0 for the requests, 1 for the replies.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The direction of index `i` (0 the requests, anything else the replies).
    pub fn from_index(i: usize) -> Dir {
        if i == 0 {
            Dir::Forward
        } else {
            Dir::Reverse
        }
    }

    /// The opposite direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::Forward => Dir::Reverse,
            Dir::Reverse => Dir::Forward,
        }
    }

    /// `forward` / `reverse`: how the JSON and the exports name it.
    pub fn name(self) -> &'static str {
        match self {
            Dir::Forward => "forward",
            Dir::Reverse => "reverse",
        }
    }
}

/// A NAT rewrite of one direction of a conversation and where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    pub dir: Dir,
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

/// One packet followed across the capture points: a ladder diagram's arrow (a view into
/// [`Traces`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTrace<'a> {
    pub dir: Dir,
    /// IP total length.
    pub ip_len: u16,
    /// TCP flags; ICMP echo: 1 request, 0 reply.
    pub info: u8,
    /// TCP sequence number (as seen at the first sighting), ICMP echo sequence number.
    pub seq: u32,
    /// TCP acknowledgement number (as seen at the first sighting); 0 otherwise.
    pub ack: u32,
    /// In path order (see the module docs).
    pub sightings: &'a [Sighting],
}

/// What a [`PacketTrace`] holds besides its sightings, and where they are in
/// the sightings list of its [`Traces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TraceHead {
    dir: Dir,
    info: u8,
    ip_len: u16,
    seq: u32,
    ack: u32,
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
        dir: Dir,
        ip_len: u16,
        info: u8,
        [seq, ack]: [u32; 2],
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
            ack,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        });
    }

    /// Room for `packets` traces of `sightings` sightings in all.
    pub(super) fn reserve_exact(&mut self, packets: usize, sightings: usize) {
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
            ack: h.ack,
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
    After { dir: Dir, point: usize },
    /// Left (or was sent from) `from`, never reached `to` (the receiver's point).
    Between { dir: Dir, from: usize, to: usize },
}

impl Loss {
    pub fn dir(&self) -> Dir {
        match *self {
            Loss::After { dir, .. } | Loss::Between { dir, .. } => dir,
        }
    }
}

/// A capture point that was not capturing while (part of) a conversation ran there, or whose
/// capture missed packets that crossed it ([`missed`](Self::missed)): its silence says
/// nothing about the conversation (no bypass, no loss, no path drawn from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uncovered {
    pub point: usize,
    /// The directions that ran, at least partly, outside the point's window and were not seen
    /// there: bit 0 the requests, bit 1 the replies.
    pub dirs: u8,
    /// True when they ran (partly) before the point began capturing, false when after it
    /// stopped.
    pub before: bool,
    /// The point's capture window on its own clock (first and last packet; pcapng interface
    /// statistics when they say more), `None` when the point captured nothing.
    pub window: Option<(i64, i64)>,
    /// The point's own address (one it source-NATs to) that the packets' source was
    /// rewritten to between two other points: they crossed it while it was not capturing.
    pub crossed_as: Option<IpAddr>,
    /// The point was capturing, but its capture missed these packets: they crossed it
    /// (`crossed_as` says so) and are not in it. Capture loss, never blamed on the network.
    pub missed: bool,
}

impl Uncovered {
    /// True when direction `dir` (0 requests, 1 replies) was not covered.
    pub fn covers_not(&self, dir: usize) -> bool {
        self.dirs & (1 << dir) != 0
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
    /// Time of the first packet in each direction (aligned; [`NO_FIRST_TS`] when none).
    pub dir_first_ts: [i64; 2],
    /// This point hosts the client (as seen here, before or after NAT).
    pub hosts_client: bool,
    /// This point hosts the server (as seen here).
    pub hosts_server: bool,
}

#[cfg(test)]
impl ConvPoint {
    /// A point's share of a conversation for tests: packets each way, forwarded each way.
    pub(crate) fn for_test(point: usize, packets: [u64; 2], forwarded: [u64; 2]) -> ConvPoint {
        ConvPoint {
            point,
            packets,
            forwarded,
            ..ConvPoint::default()
        }
    }
}

#[cfg(test)]
impl Conversation {
    /// A UDP conversation 10.0.1.4:4000 -> 10.0.2.4:53 with these points and paths (point
    /// indices in path order), for tests.
    pub(crate) fn udp_for_test(points: Vec<ConvPoint>, fwd: &[usize], rev: &[usize]) -> Self {
        let ep = |ip: [u8; 4], port| Endpoint {
            ip: IpAddr::from(ip),
            port,
        };
        let path =
            |p: &[usize]| OneOrVec::from(p.iter().map(|&p| Hop::for_test(p)).collect::<Vec<_>>());
        Conversation {
            ip_proto: 17,
            kind: KeyKind::Ports,
            client: ep([10, 0, 1, 4], 4000),
            server: ep([10, 0, 2, 4], 53),
            orientation: Orientation::Port,
            first_ts: 0,
            last_ts: 0,
            points: points.into(),
            icmp_errors: Default::default(),
            encap: 0,
            route: [path(fwd), path(rev)],
            rewrites: Default::default(),
            losses: Default::default(),
            uncovered: Default::default(),
            traces: Default::default(),
            sampled_packets: 0,
            matched_packets: 0,
            seq_rewritten: false,
            link_group: false,
        }
    }
}

#[cfg(test)]
impl Hop {
    /// A hop at `point` with nothing else known, for tests.
    pub(crate) fn for_test(point: usize) -> Hop {
        Hop {
            point,
            ttl: None,
            ttl_out: None,
            forwarded: false,
            routers: None,
            delay_ns: None,
            first_ts: 0,
        }
    }
}

impl ConvPoint {
    /// Nothing seen yet at `point`.
    pub(super) fn empty(point: usize) -> ConvPoint {
        ConvPoint {
            point,
            first_ts: NO_FIRST_TS,
            last_ts: NO_LAST_TS,
            dir_first_ts: [NO_FIRST_TS; 2],
            ..ConvPoint::default()
        }
    }
    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }
    /// Packets of direction `d` here, each counted once: a forwarded packet's leaving leg is
    /// the packet it received, not another one.
    pub fn packets_once(&self, d: usize) -> u64 {
        self.packets[d] - self.forwarded[d].min(self.packets[d])
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
    /// Capture points that were not capturing while the conversation ran (see [`Uncovered`]).
    pub uncovered: RareVec<Uncovered>,
    /// Matched packets, earliest first, at most [`MAX_TRACES`](super::MAX_TRACES).
    pub traces: Traces,
    /// Sampled packets of this conversation, and how many of them were seen at two points
    /// or more.
    pub sampled_packets: u64,
    pub matched_packets: u64,
    /// True when TCP sequence numbers differed between points (randomised by a firewall).
    pub seq_rewritten: bool,
    /// True when the client's packets were sent to a link-layer group address (Ethernet
    /// broadcast or multicast) at some point: one-way by nature, like an IP group address.
    pub link_group: bool,
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
    /// Packets in each direction, each packet counted once however many points saw it: the
    /// most any one point saw of the direction, a forwarding point's leaving legs not counted
    /// again (they are the packets it received).
    pub fn packets(&self) -> [u64; 2] {
        let mut t = [0, 0];
        for p in &self.points {
            for (d, total) in t.iter_mut().enumerate() {
                *total = (*total).max(p.packets_once(d));
            }
        }
        t
    }
    /// The point `point`, if it was not capturing while the conversation ran.
    pub fn uncovered_at(&self, point: usize) -> Option<&Uncovered> {
        self.uncovered.iter().find(|u| u.point == point)
    }
    /// The points that saw direction `dir` (0 forward, 1 reverse), in path order (see the
    /// module docs).
    pub fn path(&self, dir: usize) -> Vec<&ConvPoint> {
        self.route[dir]
            .iter()
            .filter_map(|h| self.points.iter().find(|p| p.point == h.point))
            .collect()
    }
    /// The points of [`path`](Self::path), by index, without allocating.
    pub fn path_points(&self, dir: usize) -> impl Iterator<Item = usize> + '_ {
        self.route[dir]
            .iter()
            .filter(|h| self.points.iter().any(|p| p.point == h.point))
            .map(|h| h.point)
    }
    /// The first point a direction was seen arriving at and never leaving, if any.
    pub fn lost_after(&self) -> Option<usize> {
        self.losses.iter().find_map(|l| match *l {
            Loss::After { point, .. } => Some(point),
            Loss::Between { .. } => None,
        })
    }
    /// The first two points a direction vanished between (seen at the first, never at the
    /// next on its path), if any.
    pub fn lost_between(&self) -> Option<[usize; 2]> {
        self.losses.iter().find_map(|l| match *l {
            Loss::Between { from, to, .. } => Some([from, to]),
            Loss::After { .. } => None,
        })
    }
    pub fn forwarders(&self) -> impl Iterator<Item = &ConvPoint> {
        self.points.iter().filter(|p| p.is_forwarder())
    }
    /// The conversation at one point, if it was seen there.
    pub fn at(&self, point: usize) -> Option<&ConvPoint> {
        self.points.iter().find(|p| p.point == point)
    }
}
