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
//! - a point forwarded one into the other (a [`Link`](crate::flow::Link) from the flow stage: the same packet
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
//!
//! **Where things are.** This file: the API ([`correlate_with`], [`correlate_judged`]) and
//! the order of the stages. `model` holds the output types (re-exported here); `vote`
//! counts the samples two flows share; `pairs` decides which pairs of flows the votes join,
//! with the clocks and the time filter; `hosts` finds which point hosts each address;
//! `nodes` numbers the flows of all points; `group` joins them into groups (union-find)
//! and indexes their joins; `build` makes
//! one conversation of a group, one file per step; `parallel` spreads the work over the
//! cores.

mod build;
mod group;
mod hosts;
mod model;
mod nodes;
mod pairs;
mod parallel;
mod vote;

pub use hosts::routable;
pub use model::{
    ConvPoint, Conversation, Dir, Hop, IcmpNote, Loss, MatchSummary, Nat, NatSide, PacketTrace,
    Rewrite, RewriteAt, Sighting, TraceIter, Traces, Uncovered,
};

use crate::clock::Clocks;
use crate::point::PointResult;
use build::{Context, Scratch};
use group::Groups;
use nodes::Nodes;
use parallel::{parallel_fill, touched, SPREAD};

/// Sightings of one packet at different points lie at most this far apart on the aligned
/// timeline.
pub const MATCH_WINDOW_NS: i64 = 500_000_000;
/// Keys shared by more samples than this are not used to join flows.
pub const MAX_RUN: usize = 32;
const _: () = assert!(MAX_RUN <= 64, "a run is tracked in a 64-bit mask");
/// Most packet traces kept per conversation (the earliest).
pub const MAX_TRACES: usize = 24;

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

/// Everything correlation found: the conversations (with what [`correlate_judged`] made of
/// each), in order of their first packet.
#[derive(Debug, Clone, Default)]
pub struct Correlation<C = Conversation> {
    pub conversations: Vec<C>,
    pub clocks: Clocks,
    pub matches: MatchSummary,
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
    let (pairs, clocks) = pairs::matched_pairs(&nodes, opts, &mut lap);
    let mut matches = MatchSummary {
        flow_pairs: pairs.len() as u64,
        seq_rewritten_pairs: pairs.iter().filter(|(p, _)| p.seq_rewritten).count() as u64,
        ..MatchSummary::default()
    };
    let groups = group::join(&nodes, &pairs);
    let Prepared { hosts, room, order } = prepare::<(Conversation, J)>(&nodes, &groups, &clocks);
    lap.mark("join");
    let nat_sources = hosts::nat_sources(points);
    let ctx = Context {
        points,
        nat_sources: &nat_sources,
        nodes: &nodes,
        groups: &groups,
        pairs: &pairs,
        clocks: &clocks,
        hosts: &hosts,
        lone,
        traces: !opts.without_traces,
    };
    let (built, scratch) = parallel_fill(&order, room, Scratch::default, |s, &(_, root)| {
        let c = ctx.build(s, groups.members.get(root), root);
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

/// What building the conversations needs besides the groups.
struct Prepared<R> {
    /// Per node, the points hosting the two addresses of its flow key (see [`hosts::hosts`]).
    hosts: Vec<[u32; 2]>,
    /// The memory the conversations will fill (see [`touched`]).
    room: Vec<Option<R>>,
    /// The groups in the final order, of first packet (groups with the same first packet in
    /// the order of their roots), as (first packet, root).
    order: Vec<(i64, usize)>,
}

/// [`Prepared`]: with many flows, the hosts and the room are found on other cores while the
/// order is.
fn prepare<R: Send>(nodes: &Nodes, groups: &Groups, clocks: &Clocks) -> Prepared<R> {
    let n = nodes.n;
    let groups_n = (0..n)
        .filter(|&root| !groups.members.get(root).is_empty())
        .count();
    std::thread::scope(|scope| {
        let spread = n >= SPREAD;
        let hosts_job = spread.then(|| scope.spawn(|| hosts::hosts(nodes)));
        let room_job = spread.then(|| scope.spawn(|| touched::<R>(groups_n)));
        let align = |pt: usize, ts: i64| build::aligned(clocks, pt, ts);
        let mut order: Vec<(i64, usize)> = (0..n)
            .filter_map(|root| {
                let members = groups.members.get(root);
                let first = members
                    .iter()
                    .map(|m| align(m.point, nodes.points[m.point].flows[m.flow].first_ts))
                    .min()?;
                Some((first, root))
            })
            .collect();
        order.sort_by_key(|&(first, _)| first);
        let hosts = match hosts_job {
            Some(job) => crate::threads::join(job),
            None => hosts::hosts(nodes),
        };
        let room = match room_job {
            Some(job) => crate::threads::join(job),
            None => Vec::with_capacity(groups_n),
        };
        Prepared { hosts, room, order }
    })
}

/// The median of the values (the lower one of the two middle values of an even count).
fn median(v: &mut [i64]) -> Option<i64> {
    v.sort_unstable();
    lower_middle(v)
}

/// The median of sorted values (the lower one of the two middle values of an even count).
fn lower_middle<T: Copy>(sorted: &[T]) -> Option<T> {
    sorted.get(sorted.len().checked_sub(1)? / 2).copied()
}

#[cfg(test)]
mod tests;
