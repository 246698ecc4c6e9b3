//! coverage: what the captures did not see, so that it is never blamed on the network.
//!
//! **Capture loss** ([`CaptureLoss`], per point). A capture that misses packets is not a
//! network that loses them. Evidence that a point's capture missed something:
//! - its pcapng interface statistics: packets dropped by the interface (`isb_ifdrop`) and by
//!   the operating system (`isb_osdrop`);
//! - `packets_missing`: packets of a direction that a point *after* it on the direction's path
//!   saw, so they crossed it, and it did not record (a UDP, ICMP or other direction it saw
//!   the rest of). A point that forwards the direction records each packet twice, arriving and
//!   leaving, so it misses a record when it holds fewer than two per packet seen after it, or
//!   a leg without its twin. TCP is counted by its legs only: points may see the same bytes in
//!   segments of other sizes (segmentation offload), so their packet counts differ anyway;
//! - packets that crossed a point, capturing, and are not in its capture at all: a source
//!   rewritten between two other points to the point's own address (`correlate`'s
//!   `Uncovered::missed`), each packet's two legs;
//! - `tcp_gaps`: holes in a TCP direction's sequence at this point (a segment starting beyond
//!   the highest sequence number seen) in a conversation another point saw without a hole.
//!
//! Only unicast conversations between routable addresses that ran wholly inside the point's capture window count (outside it the
//! point was not capturing: see `correlate`'s `uncovered`). A direction's last point (the
//! receiver's) is never charged: packets missing there may have been lost by the network.
//!
//! **Clock claims** ([`ClockClaim`]): for each point, whether its clock offset was estimated
//! and, when not, why: it captured nothing, its capture overlaps no other point's in time, or
//! no packet was seen at it and at another point. Points whose windows overlap no other
//! point's are worth a warning ([`warnings`]): nothing they saw can be followed elsewhere.

use crate::clock::{clock_text, Clocks};
use crate::correlate::{routable, Conversation};
use crate::decode::proto;
use crate::point::PointResult;

pub use crate::point::CaptureLoss;

/// Records of direction `d` that the point at position `i` of its path missed (see the
/// module docs).
fn missing_at(c: &Conversation, d: usize, i: usize) -> u64 {
    let hops = &c.route[d];
    let Some(p) = hops.get(i).and_then(|h| c.at(h.point)) else {
        return 0;
    };
    let after = hops.get(i + 1..).unwrap_or(&[]);
    let down = after
        .iter()
        .filter_map(|h| c.at(h.point))
        .map(|q| q.packets_once(d))
        .max()
        .unwrap_or(0);
    if down == 0 {
        return 0;
    }
    let (n, fwd) = (p.packets[d], p.forwarded[d]);
    let lone_legs = n.saturating_sub(2 * fwd);
    match (c.ip_proto == proto::TCP, fwd > 0) {
        (true, true) => lone_legs,
        (true, false) => 0,
        (false, true) => (2 * down).saturating_sub(n).max(lone_legs),
        (false, false) => down.saturating_sub(n),
    }
}

/// Holes in the TCP sequence of a conversation's flows at one point, both directions.
fn gaps_at(points: &[PointResult], p: &crate::correlate::ConvPoint) -> u64 {
    let flows = &points[p.point].flows;
    p.flows
        .iter()
        .filter_map(|&f| flows.get(f))
        .map(|f| f.seq_gaps().iter().sum::<u64>())
        .sum()
}

/// Every point's capture window on the aligned timeline (None: it captured nothing).
fn aligned_windows(points: &[PointResult], clocks: &Clocks) -> Vec<Option<(i64, i64)>> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (a, b) = p.summary.window()?;
            Some((clocks.align(i, a), clocks.align(i, b)))
        })
        .collect()
}

/// The capture loss of every point, by point index, from the conversations and the
/// points' interface statistics.
pub fn capture_loss<J>(
    points: &[PointResult],
    clocks: &Clocks,
    convs: &[(Conversation, J)],
) -> Vec<CaptureLoss> {
    let mut loss: Vec<CaptureLoss> = points
        .iter()
        .map(|p| CaptureLoss {
            dropped_by_interface: p.summary.interface_stats.dropped_by_interface,
            dropped_by_os: p.summary.interface_stats.dropped_by_os,
            ..CaptureLoss::default()
        })
        .collect();
    let windows = aligned_windows(points, clocks);
    // the conversation a point was last charged for, to count conversations once
    let mut charged: Vec<usize> = vec![usize::MAX; points.len()];
    for (k, (c, _)) in convs.iter().enumerate() {
        // the same packet crosses points only when routed: group and link-local traffic
        // seen at several points is each point's own copy
        if c.link_group || !(routable(&c.client.ip) && routable(&c.server.ip)) {
            continue;
        }
        let inside = |pt: usize| {
            c.uncovered_at(pt).is_none()
                && windows
                    .get(pt)
                    .copied()
                    .flatten()
                    .is_some_and(|(a, b)| a <= c.first_ts && c.last_ts <= b)
        };
        let mut charge = |pt: usize, gaps: u64, missing: u64| {
            if let Some(l) = loss.get_mut(pt) {
                l.tcp_gaps += gaps;
                l.packets_missing += missing;
                if charged[pt] != k {
                    charged[pt] = k;
                    l.conversations += 1;
                }
            }
        };
        for d in 0..2 {
            for (i, h) in c.route[d].iter().enumerate() {
                let missing = missing_at(c, d, i);
                if missing > 0 && inside(h.point) {
                    charge(h.point, 0, missing);
                }
            }
        }
        // packets that crossed a capturing point (a source NAT-ed to its own address) and
        // are not in its capture: both legs of each
        let once = c.packets();
        for u in c.uncovered.iter().filter(|u| u.missed) {
            let lost: u64 = (0..2)
                .filter(|&d| u.covers_not(d))
                .map(|d| 2 * once[d])
                .sum();
            charge(u.point, 0, lost);
        }
        if c.ip_proto == proto::TCP && c.points.len() > 1 {
            let gaps: Vec<u64> = c.points.iter().map(|p| gaps_at(points, p)).collect();
            if gaps.contains(&0) {
                for (p, &g) in c.points.iter().zip(&gaps) {
                    if g > 0 && inside(p.point) {
                        charge(p.point, g, 0);
                    }
                }
            }
        }
    }
    loss
}

/// Why a point's clock offset was or was not estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStatus {
    /// The point whose clock is the timeline.
    Reference,
    /// Estimated from packets seen at it and at another point.
    Estimated,
    /// `--assume-synced`: taken as right.
    AssumedSynced,
    /// It captured nothing.
    CapturedNothing,
    /// Its capture window overlaps no other point's.
    WindowsNeverOverlap,
    /// No packet was seen at it and at another point.
    NoSharedPacket,
}

impl ClockStatus {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ClockStatus::Reference => "reference",
            ClockStatus::Estimated => "estimated",
            ClockStatus::AssumedSynced => "assumed_synced",
            ClockStatus::CapturedNothing => "captured_nothing",
            ClockStatus::WindowsNeverOverlap => "windows_never_overlap",
            ClockStatus::NoSharedPacket => "no_shared_packet",
        }
    }

    /// Why the offsets of several points could not be estimated (see [`why_not`]).
    ///
    /// [`why_not`]: ClockStatus::why_not
    pub fn why_not_plural(self) -> Option<&'static str> {
        match self {
            ClockStatus::CapturedNothing => Some("they captured nothing"),
            ClockStatus::WindowsNeverOverlap => {
                Some("their captures overlap no other point's in time")
            }
            ClockStatus::NoSharedPacket => Some("no packet seen at them and at another point"),
            _ => None,
        }
    }

    /// Why the offset could not be estimated, in words (None when it was, or needs not be).
    pub fn why_not(self) -> Option<&'static str> {
        match self {
            ClockStatus::Reference | ClockStatus::Estimated | ClockStatus::AssumedSynced => None,
            ClockStatus::CapturedNothing => Some("it captured nothing"),
            ClockStatus::WindowsNeverOverlap => {
                Some("its capture overlaps no other point's in time")
            }
            ClockStatus::NoSharedPacket => Some("no packet seen at it and at another point"),
        }
    }
}

/// One point's clock, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockClaim {
    pub point: usize,
    pub status: ClockStatus,
    /// This point's clock minus the reference's (None: not estimated).
    pub offset_ns: Option<i64>,
    /// Half the width of the interval the offset lies in (None: one-way evidence only, or
    /// not estimated).
    pub uncertainty_ns: Option<i64>,
}

/// The points whose capture window overlaps no other point's (on the aligned timeline),
/// when there are two points or more.
pub fn disjoint(points: &[PointResult], clocks: &Clocks) -> Vec<usize> {
    let windows = aligned_windows(points, clocks);
    if windows.iter().flatten().count() < 2 {
        return Vec::new();
    }
    (0..points.len())
        .filter(|&i| {
            windows[i].is_some_and(|(a, b)| {
                !windows
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .filter_map(|(_, w)| *w)
                    .any(|(a2, b2)| a <= b2 && a2 <= b)
            })
        })
        .collect()
}

/// Every point's clock claim, by point index.
pub fn clock_claims(points: &[PointResult], clocks: &Clocks) -> Vec<ClockClaim> {
    let apart = disjoint(points, clocks);
    (0..points.len())
        .map(|i| {
            let c = clocks.points.get(i);
            let estimated = c.is_some_and(|c| c.estimated);
            let status = if clocks.assumed_synced {
                ClockStatus::AssumedSynced
            } else if clocks.reference == Some(i) && (estimated || points.len() == 1) {
                ClockStatus::Reference
            } else if estimated {
                ClockStatus::Estimated
            } else if points[i].summary.window().is_none() {
                ClockStatus::CapturedNothing
            } else if apart.contains(&i) {
                ClockStatus::WindowsNeverOverlap
            } else {
                ClockStatus::NoSharedPacket
            };
            let known = matches!(status, ClockStatus::Reference | ClockStatus::Estimated);
            ClockClaim {
                point: i,
                status,
                offset_ns: c.filter(|_| known).map(|c| c.offset_ns),
                uncertainty_ns: c.filter(|_| known).and_then(|c| c.uncertainty_ns),
            }
        })
        .collect()
}

/// What is worth a warning about the captures' coverage: "the capture of X (from .. to ..,
/// its own clock) overlaps no other point's in time: nothing it saw can be followed across
/// points, nor its clock aligned" (one warning for all such points).
pub fn warnings(points: &[PointResult], clocks: &Clocks) -> Vec<String> {
    let apart: Vec<String> = disjoint(points, clocks)
        .into_iter()
        .filter_map(|i| {
            let s = &points[i].summary;
            let (a, b) = s.window()?;
            let (a, b) = (clock_text(a, true), clock_text(b, false));
            Some(format!("{} ({a} .. {b})", s.name))
        })
        .collect();
    match apart.len() {
        0 => Vec::new(),
        1 => vec![format!(
            "the capture of {} overlaps no other point's in time (on its own clock): nothing it \
             saw can be followed across points, nor its clock aligned",
            apart[0]
        )],
        _ => vec![format!(
            "the captures of {} overlap no other point's in time (each on its own clock): \
             nothing they saw can be followed across points, nor their clocks aligned",
            apart.join(", ")
        )],
    }
}

#[cfg(test)]
mod tests;
