//! Step 7 of building a conversation: the capture points that were not capturing while it
//! ran ([`Uncovered`]). A point's window is its first to last packet, widened by its pcapng
//! interface statistics' start and end ([`PointSummary::window`]). A direction a point did
//! not see is uncovered there when it ran outside that window: its first packet (at any
//! point) came after the point stopped capturing, or the conversation's last packet before it
//! began. A direction that ran partly inside the window and was not seen there is evidence
//! (the point was capturing when it should have passed). A direction seen nowhere, when the
//! other was seen, is uncovered at the points whose capture began less than
//! [`FIRST_ROUND_TRIP_NS`] before the other direction's first packet: requests sent before
//! those points began capturing (their replies alone were seen). For ICMP echo and TCP, where
//! every reply answers a request (or an acknowledgement) of its own, before the *last*
//! packet: a reply later than that answers a request sent while the point was capturing. The losses of an uncovered
//! direction are dropped: silence outside a window is no evidence. A direction whose source
//! was rewritten, between two other points, to an address an uncovered point source-NATs to
//! crossed that point ([`Uncovered::crossed_as`]); such a point that was capturing is
//! uncovered too, its capture having missed them ([`Uncovered::missed`]): never blamed.
//!
//! [`PointSummary::window`]: crate::point::PointSummary::window

use super::Context;
use crate::correlate::hosts::routable;
use crate::correlate::model::{ConvPoint, Hop, Loss, NatSide, Rewrite, RewriteAt, Uncovered};
use crate::flow::{Endpoint, NO_FIRST_TS};
use crate::list::OneOrVec;

/// What was seen of a conversation, for [`Context::uncovered`].
pub(super) struct Seen<'a> {
    /// Its last packet (aligned).
    pub(super) last_ts: i64,
    pub(super) rewrites: &'a [Rewrite],
    /// Every reply answers a request of its own (ICMP echo, TCP): replies alone late in a
    /// capture mean requests sent while it ran.
    pub(super) reply_per_request: bool,
}

/// How long after a point began capturing a reply may still answer a request sent before:
/// the longest round trip expected between two capture points of one network (Azure regions
/// far apart are ~250 ms apart).
pub const FIRST_ROUND_TRIP_NS: i64 = 300_000_000;

impl Context<'_> {
    /// The window of point `pt` on the aligned timeline, and on its own clock (`None` when
    /// it captured nothing).
    pub(super) fn window(&self, pt: usize) -> Option<[(i64, i64); 2]> {
        let (a, b) = self.points.get(pt)?.summary.window()?;
        Some([(self.align(pt, a), self.align(pt, b)), (a, b)])
    }

    /// The address of point `u.point` that a direction it did not see had its source
    /// rewritten to between two other points: evidence the packets crossed it, captured or
    /// not (the point source-NATs to that address elsewhere in the captures).
    fn crossed_as(&self, u: &Uncovered, rewrites: &[Rewrite]) -> Option<std::net::IpAddr> {
        rewrites
            .iter()
            .filter(|r| r.nat.side == NatSide::Source && matches!(r.at, RewriteAt::Between(..)))
            .filter(|r| u.covers_not(r.dir.index()))
            .map(|r| r.nat.to.ip)
            .find(|ip| self.nat_sources.binary_search(&(*ip, u.point)).is_ok())
    }

    /// Point `pt`, capturing, when the directions it did not see had their source rewritten
    /// to its own address between two other points: its capture missed them.
    fn missed(
        &self,
        pt: usize,
        route: &[OneOrVec<Hop>; 2],
        rewrites: &[Rewrite],
    ) -> Option<Uncovered> {
        let unseen = |d: usize| !route[d].is_empty() && !route[d].iter().any(|h| h.point == pt);
        let mut u = Uncovered {
            point: pt,
            dirs: u8::from(unseen(0)) | u8::from(unseen(1)) << 1,
            before: false,
            window: None,
            crossed_as: None,
            missed: true,
        };
        if u.dirs == 0 {
            return None;
        }
        let ip = self.crossed_as(&u, rewrites)?;
        // only the directions that carry the evidence
        u.dirs = rewrites
            .iter()
            .filter(|r| {
                r.nat.side == NatSide::Source && r.nat.to.ip == ip && u.covers_not(r.dir.index())
            })
            .fold(0, |m, r| m | 1 << r.dir.index());
        u.crossed_as = Some(ip);
        Some(u)
    }

    /// The points that were not capturing while the conversation ran (see the module docs),
    /// for unicast traffic between routable addresses; drops the losses they explain.
    pub(super) fn uncovered(
        &self,
        ends: [Endpoint; 2],
        points: &[ConvPoint],
        route: &[OneOrVec<Hop>; 2],
        seen: Seen<'_>,
        losses: &mut Vec<Loss>,
    ) -> Vec<Uncovered> {
        let Seen {
            last_ts,
            rewrites,
            reply_per_request,
        } = seen;
        let mut out = Vec::new();
        if !(routable(&ends[0].ip) && routable(&ends[1].ip)) {
            return out;
        }
        let dir_first = |d: usize| points.iter().map(|p| p.dir_first_ts[d]).min();
        for pt in 0..self.points.len() {
            let window = self.window(pt);
            let mut u = Uncovered {
                point: pt,
                dirs: 0,
                before: false,
                window: window.map(|w| w[1]),
                crossed_as: None,
                missed: false,
            };
            for d in 0..2 {
                if route[d].iter().any(|h| h.point == pt) {
                    continue;
                }
                let span = if !route[d].is_empty() {
                    dir_first(d).map(|first| (first, last_ts))
                } else if d == 0 && !route[1].is_empty() {
                    // requests seen nowhere: they were sent up to a round trip before the
                    // replies' first packet (before their last one when every reply answers
                    // a request of its own: echo, TCP)
                    let answered = if reply_per_request {
                        Some(last_ts)
                    } else {
                        dir_first(1)
                    };
                    answered.filter(|&t| t != NO_FIRST_TS).map(|t| {
                        let sent = t.saturating_sub(FIRST_ROUND_TRIP_NS);
                        (sent, sent)
                    })
                } else {
                    None
                };
                let Some((first, last)) = span.filter(|&(f, _)| f != NO_FIRST_TS) else {
                    continue;
                };
                match window {
                    None => u.dirs |= 1 << d,
                    Some([(a, _), _]) if last < a => {
                        u.dirs |= 1 << d;
                        u.before = true;
                    }
                    Some([(_, b), _]) if first > b => u.dirs |= 1 << d,
                    Some(_) => {}
                }
            }
            if u.dirs != 0 {
                u.crossed_as = self.crossed_as(&u, rewrites);
                out.push(u);
            } else if let Some(m) = self.missed(pt, route, rewrites) {
                // capturing, yet the packets that crossed it are not in its capture
                out.push(Uncovered {
                    window: u.window,
                    ..m
                });
            }
        }
        losses.retain(|l| {
            let dir = l.dir().index();
            !out.iter().any(|u| u.covers_not(dir))
        });
        out
    }
}
