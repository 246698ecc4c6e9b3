//! Which pairs of flows the votes join, and the time evidence behind them: [`accept`] reads
//! the votes (enough agreeing samples, a clear majority on the directions; TCP sequence
//! numbers shifted by a constant make a candidate), the clocks are estimated from the joined
//! pairs' time differences, [`time_filter`] drops the pairs that lie too far apart in time
//! for those clocks (the clocks are then estimated again), and [`confirm_rewritten`] keeps
//! the sequence-rewritten candidates whose times agree. [`matched_pairs`] runs the whole.

use std::collections::BTreeMap;

use super::nodes::Nodes;
use super::vote::{vote, Votes};
use super::{median, Options, MATCH_WINDOW_NS};
use crate::clock::{self, Clocks, PairDelays, Span};
use crate::decode::proto;
use crate::flow::FlowKey;
use crate::hash::FastMap;
use crate::timings::Lap;

/// The pairs of flows at different points that carry the same packets, and the clocks
/// their time differences give (all taken as right with [`Options::assume_synced`]).
pub(super) fn matched_pairs(nodes: &Nodes, opts: &Options, lap: &mut Lap) -> (Vec<Joined>, Clocks) {
    let points = nodes.points.len();
    // packets are followed from one point to another: nothing to vote on at one point
    let votes = if points > 1 {
        vote(nodes)
    } else {
        FastMap::default()
    };
    lap.mark("vote");
    let (pairs, candidates) = accept(nodes, &votes);
    drop(votes);
    lap.mark("accept");
    let clocks = if opts.assume_synced {
        Clocks::synced(points)
    } else {
        clock::estimate(points, &evidence_of(nodes, &pairs))
    };
    // packets that look alike but are far apart in time are not the same (pings with the
    // same payload, IP IDs of unrelated connections that collide): drop those pairs, and
    // estimate again without them
    let (kept, dropped) = time_filter(nodes, pairs, &clocks);
    let mut pairs = kept;
    let clocks = if opts.assume_synced || dropped == 0 {
        clocks
    } else {
        clock::estimate(points, &evidence_of(nodes, &pairs))
    };
    let rewritten = confirm_rewritten(nodes, &pairs, candidates, &clocks);
    pairs.extend(rewritten);
    lap.mark("clocks");
    (pairs, clocks)
}

/// A pair of flows joined by matched packets.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowPair {
    pub(super) a: usize,
    pub(super) b: usize,
    /// True when direction 0 of `a` is direction 1 of `b`.
    pub(super) flip: bool,
    pub(super) seq_rewritten: bool,
}

/// A pair of flows the votes join, with the time differences of its matched samples.
pub(super) type Joined = (FlowPair, [Option<Span>; 2]);

/// The pairs of flows the votes join, and the candidates whose TCP sequence numbers differ
/// by a constant (a firewall that randomises them), which [`confirm_rewritten`] checks once
/// the clocks are known.
fn accept(nodes: &Nodes, votes: &FastMap<(u32, u32), Votes>) -> (Vec<Joined>, Vec<Joined>) {
    let mut out: Vec<Joined> = Vec::new();
    let mut rewritten: Vec<Joined> = Vec::new();
    for (&(a, b), v) in votes {
        let (a, b) = (a as usize, b as usize);
        let tcp = nodes.flow(a).key.ip_proto == proto::TCP;
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
