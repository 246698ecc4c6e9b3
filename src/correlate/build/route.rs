//! Step 4 of building a conversation: the path of each direction. The points that saw a
//! direction, in path order (the host of the sender, transit points by TTL, the host of the
//! receiver, then time), each a [`Hop`] with its TTLs, whether it forwarded, the routers
//! since the previous hop and the one-way delay from it (the lower median over the packets
//! seen at both).

use super::packets::Packets;
use super::Role;
use crate::correlate::lower_middle;
use crate::correlate::model::{ConvPoint, Hop};
use crate::flow::{NO_FIRST_TS, NO_LAST_TS};
use crate::list::OneOrVec;

/// Buffers of this step.
#[derive(Default)]
pub(super) struct Scratch {
    /// The hops of one direction (indices into the conversation's points), in path order.
    pts: Vec<usize>,
    /// (hop, delay) of the matched packets of one direction.
    delays: Vec<(usize, i64)>,
    /// Per hop, the first and last sighting time of one packet.
    seen: Vec<(i64, i64)>,
}

impl Hop {
    /// Direction `d` of a conversation at one point, after hop `prev` (none: the first).
    pub(super) fn at(p: &ConvPoint, d: usize, prev: Option<&Hop>, delay_ns: Option<i64>) -> Hop {
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

/// The path of direction `d` (0 forward) through the conversation's `points` (in point
/// order, `roles` beside them), with the delays of its `packets`.
pub(super) fn route(
    s: &mut Scratch,
    d: usize,
    points: &[ConvPoint],
    roles: &[[Role; 2]],
    packets: &Packets,
) -> OneOrVec<Hop> {
    let Scratch { pts, delays, seen } = s;
    pts.clear();
    pts.extend((0..points.len()).filter(|&k| points[k].packets[d] > 0));
    pts.sort_by_key(|&k| {
        let p = &points[k];
        (
            roles[k][d],
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
    delays.clear();
    if pts.len() > 1 {
        hop_delays(pts, delays, seen, d, points, packets);
    }
    for (k, &at) in pts.iter().enumerate() {
        let p = &points[at];
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
}

/// The delays of every hop after the first (`pts`, in path order), in one pass over the
/// packets: for each packet of direction `d` seen at hops k-1 and k, from the last sighting
/// at k-1 to the first at k, as (k, delay), sorted.
fn hop_delays(
    pts: &[usize],
    delays: &mut Vec<(usize, i64)>,
    seen: &mut Vec<(i64, i64)>,
    d: usize,
    points: &[ConvPoint],
    packets: &Packets,
) {
    for c in (0..packets.len()).filter(|&c| packets.dir(c) as usize == d) {
        // per hop: (first, last) sighting time of this packet there
        seen.clear();
        seen.resize(pts.len(), (NO_FIRST_TS, NO_LAST_TS));
        for o in packets.sightings(c) {
            let hop = pts
                .iter()
                .position(|&k| points[k].point == o.sighting.point);
            if let Some(t) = hop.and_then(|h| seen.get_mut(h)) {
                *t = (t.0.min(o.ts), t.1.max(o.ts));
            }
        }
        for k in 1..pts.len() {
            let (left, came) = (seen[k - 1].1, seen[k].0);
            if left != NO_LAST_TS && came != NO_FIRST_TS {
                delays.push((k, came - left));
            }
        }
    }
    delays.sort_unstable();
}
