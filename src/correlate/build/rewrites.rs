//! Step 5 of building a conversation: the NAT rewrites, found on the packets followed
//! across points (two consecutive sightings of a packet with other addresses or ports: at a
//! point that forwarded it, or between two points), then those of the forwarding links not
//! seen on a packet; and the packet traces kept for the ladder diagram (the earliest
//! [`MAX_TRACES`]).

use super::packets::Packets;
use crate::correlate::model::{ConvPoint, Dir, Nat, NatSide, Rewrite, RewriteAt, Traces};
use crate::correlate::MAX_TRACES;

/// Most distinct NAT rewrites kept per point (and per conversation): a real NAT applies one or
/// two; past this a hostile or pathological capture would only make the lists (and the time to
/// keep them unique) grow.
const MAX_REWRITES: usize = 32;

pub(super) fn push_unique(list: &mut Vec<Nat>, n: Nat) {
    if list.len() < MAX_REWRITES && !list.contains(&n) {
        list.push(n);
    }
}

fn push_unique_rw(list: &mut Vec<Rewrite>, r: Rewrite) {
    if list.len() < MAX_REWRITES && !list.contains(&r) {
        list.push(r);
    }
}

/// The rewrites of a conversation: on its `packets`, by direction, then the NAT of the
/// forwarding links at its `points` that no packet showed.
pub(super) fn rewrites(packets: &Packets, points: &[ConvPoint]) -> Vec<Rewrite> {
    let mut rewrites: Vec<Rewrite> = Vec::new();
    for c in 0..packets.len() {
        let dir = Dir::from_index(usize::from(packets.dir(c)));
        let mut sightings = packets.sightings(c).map(|o| &o.sighting);
        let Some(mut a) = sightings.next() else {
            continue;
        };
        for b in sightings {
            if (a.src, a.dst) != (b.src, b.dst) {
                let at = if a.point == b.point {
                    RewriteAt::Point(a.point)
                } else {
                    RewriteAt::Between(a.point, b.point)
                };
                let sides = [
                    (NatSide::Source, a.src, b.src),
                    (NatSide::Destination, a.dst, b.dst),
                ];
                for (side, from, to) in sides {
                    if from != to {
                        let nat = Nat { side, from, to };
                        push_unique_rw(&mut rewrites, Rewrite { dir, at, nat });
                    }
                }
            }
            a = b;
        }
    }
    rewrites.sort_by_key(|r| r.dir);
    for cp in points {
        for n in &cp.nat {
            let known = rewrites.iter().any(|r| {
                r.dir == Dir::Forward
                    && r.at == RewriteAt::Point(cp.point)
                    && r.nat.side == n.side
                    && r.nat.from.ip == n.from.ip
                    && r.nat.to.ip == n.to.ip
            });
            if !known {
                rewrites.push(Rewrite {
                    dir: Dir::Forward,
                    at: RewriteAt::Point(cp.point),
                    nat: *n,
                });
            }
        }
    }
    rewrites
}

/// The packets kept for the ladder: the earliest [`MAX_TRACES`] (ties in packet order).
pub(super) fn traces(packets: &Packets, kept: &mut Vec<((i64, u8, u32), usize)>) -> Traces {
    let seen_first = |c: usize| packets.sightings(c).map(|o| o.ts).min().unwrap_or(0);
    kept.clear();
    kept.extend((0..packets.len()).map(|c| {
        (
            (seen_first(c), packets.dir(c), packets.head(c).sample.seq),
            c,
        )
    }));
    kept.sort_unstable();
    kept.truncate(MAX_TRACES);
    let mut traces = Traces::default();
    if !kept.is_empty() {
        let sightings = kept.iter().map(|&(_, c)| packets.sighting_count(c)).sum();
        traces.reserve_exact(kept.len(), sightings);
    }
    for &(_, c) in kept.iter() {
        let head = packets.head(c);
        traces.push(
            Dir::from_index(usize::from(head.cdir)),
            head.sample.ip_len,
            head.sample.info,
            [head.sample.seq, head.sample.ack],
            packets.sightings(c).map(|o| o.sighting),
        );
    }
    traces
}
