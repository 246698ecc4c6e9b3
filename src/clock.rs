//! clock: how far each capture point's clock is from the others, estimated from the packets
//! seen at two points, so that every time in the report sits on one timeline.
//!
//! The clocks of VMs disagree by seconds. A packet that travels from point A to point B is
//! stamped `t_A` and `t_B`; with `θ = offset_B - offset_A` (how far B's clock is ahead of A's)
//! and the one-way delay `d > 0`, `t_B - t_A = θ + d`. A packet travelling back is stamped
//! `t_B - t_A = θ - d'`. So the differences of one pair of flows fall in two groups, one per
//! direction of travel, and `θ` lies between them:
//!
//! ```text
//! max(δ of the B -> A packets)  <=  θ  <=  min(δ of the A -> B packets)
//! ```
//!
//! Which group is which needs no knowledge of the path: the higher one is the A -> B one. The
//! minima filter out queueing delays (NTP's reasoning). Every pair of flows that crosses the
//! two points both ways narrows the interval; the estimate is its middle, the uncertainty
//! half its width (`(d_fwd - d_rev) / 2` at worst, when the two minimal delays differ). When
//! the intervals contradict each other (jitter, paths that change), the estimate is the
//! median of their middles and the uncertainty covers the contradiction.
//!
//! A pair of points crossed one way only gives `θ + d` and cannot separate them: its estimate
//! (the median difference) has no uncertainty bound and is used only when nothing better
//! connects the points.
//!
//! Points are then placed relative to a reference (the point with the most matched packets):
//! along the chain of pair estimates with the least summed uncertainty (Dijkstra), so that a
//! point never matched with the reference directly is reached through another one. A point
//! with no matched packet is not estimated (offset 0).

/// The differences `t_b - t_a` of one direction of travel of matched packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub min: i64,
    pub max: i64,
    pub n: u32,
}

impl Span {
    pub fn new(d: i64) -> Span {
        Span {
            min: d,
            max: d,
            n: 1,
        }
    }
    pub fn add(&mut self, d: i64) {
        self.min = self.min.min(d);
        self.max = self.max.max(d);
        self.n += 1;
    }
}

/// What one pair of flows (one at point `a`, one at point `b`, `a != b`) says about the two
/// clocks: the differences `t_b - t_a` of the same packets, per direction of travel (in the
/// order of the flow at `a`; which way each travels is not known).
#[derive(Debug, Clone, Copy)]
pub struct PairDelays {
    pub a: usize,
    pub b: usize,
    pub dirs: [Option<Span>; 2],
}

/// The estimated clock of one capture point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockEstimate {
    /// This point's clock minus the reference point's, in ns: a time read at this point is
    /// `raw - offset_ns` on the aligned timeline.
    pub offset_ns: i64,
    /// Half the width of the interval the offset lies in; None when the estimate rests on
    /// packets that crossed one way only (the offset then includes a one-way delay).
    pub uncertainty_ns: Option<i64>,
    /// False when no matched packet connects this point to the reference (offset 0 assumed).
    pub estimated: bool,
    /// The point this one's offset was derived from (None for the reference).
    pub via: Option<usize>,
    /// Sampled packets of this point matched at another point.
    pub matched: u64,
}

/// The clocks of all points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clocks {
    /// The point whose clock is the timeline (None when no point could be estimated).
    pub reference: Option<usize>,
    /// By point index.
    pub points: Vec<ClockEstimate>,
    /// True when estimation was skipped (`--assume-synced`): every offset is 0.
    pub assumed_synced: bool,
}

impl Clocks {
    /// Every clock taken as right (offset 0), as `--assume-synced` asks.
    pub fn synced(n: usize) -> Clocks {
        Clocks {
            reference: (n > 0).then_some(0),
            points: (0..n)
                .map(|_| ClockEstimate {
                    offset_ns: 0,
                    uncertainty_ns: None,
                    estimated: false,
                    via: None,
                    matched: 0,
                })
                .collect(),
            assumed_synced: true,
        }
    }

    /// The offset of a point in ns (0 when unknown).
    pub fn offset(&self, point: usize) -> i64 {
        self.points.get(point).map_or(0, |c| c.offset_ns)
    }

    /// A time read at `point`, on the aligned timeline.
    pub fn align(&self, point: usize, ts: i64) -> i64 {
        ts.saturating_sub(self.offset(point))
    }

    /// The largest uncertainty among the estimated points (0 when none).
    pub fn max_uncertainty(&self) -> i64 {
        self.points
            .iter()
            .filter(|c| c.estimated)
            .filter_map(|c| c.uncertainty_ns)
            .max()
            .unwrap_or(0)
    }
}

/// The estimate for one pair of points: `θ = offset_b - offset_a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edge {
    a: usize,
    b: usize,
    theta: i64,
    /// None: one-way evidence only.
    uncertainty: Option<i64>,
    matched: u64,
}

fn median(v: &mut [i64]) -> i64 {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        // the mean of the two middle values, without overflow
        v[n / 2 - 1] / 2 + v[n / 2] / 2 + (v[n / 2 - 1] % 2 + v[n / 2] % 2) / 2
    }
}

/// The estimate for one pair of points from the flow pairs that join them.
fn pair_estimate(a: usize, b: usize, ev: &[&PairDelays]) -> Option<Edge> {
    let mut intervals: Vec<(i64, i64)> = Vec::new();
    let mut one_way: Vec<i64> = Vec::new();
    let mut matched = 0u64;
    for e in ev {
        // orient to (a, b)
        let flip = e.a != a;
        let spans: Vec<Span> = e
            .dirs
            .iter()
            .flatten()
            .map(|s| {
                if flip {
                    Span {
                        min: -s.max,
                        max: -s.min,
                        n: s.n,
                    }
                } else {
                    *s
                }
            })
            .collect();
        matched += spans.iter().map(|s| u64::from(s.n)).sum::<u64>();
        match spans.as_slice() {
            [x, y] => {
                if x.min > y.max {
                    intervals.push((y.max, x.min));
                } else if y.min > x.max {
                    intervals.push((x.max, y.min));
                }
                // overlapping groups: the flows' paths changed, no bound from them
            }
            [x] => {
                one_way.push(x.min);
                one_way.push(x.max);
            }
            _ => {}
        }
    }
    if !intervals.is_empty() {
        let lo = intervals.iter().map(|i| i.0).max().unwrap_or(0);
        let hi = intervals.iter().map(|i| i.1).min().unwrap_or(0);
        let (theta, unc) = if lo <= hi {
            (lo + (hi - lo) / 2, (hi - lo) / 2)
        } else {
            let mut mids: Vec<i64> = intervals.iter().map(|i| i.0 + (i.1 - i.0) / 2).collect();
            let m = median(&mut mids);
            (m, (lo - m).max(m - hi))
        };
        return Some(Edge {
            a,
            b,
            theta,
            uncertainty: Some(unc),
            matched,
        });
    }
    if !one_way.is_empty() {
        return Some(Edge {
            a,
            b,
            theta: median(&mut one_way),
            uncertainty: None,
            matched,
        });
    }
    None
}

/// Estimates the clocks of `n` points from what pairs of flows say.
pub fn estimate(n: usize, evidence: &[PairDelays]) -> Clocks {
    let mut by_pair: std::collections::BTreeMap<(usize, usize), Vec<&PairDelays>> =
        std::collections::BTreeMap::new();
    for e in evidence {
        if e.a == e.b || e.a >= n || e.b >= n {
            continue;
        }
        by_pair
            .entry((e.a.min(e.b), e.a.max(e.b)))
            .or_default()
            .push(e);
    }
    let edges: Vec<Edge> = by_pair
        .iter()
        .filter_map(|(&(a, b), ev)| pair_estimate(a, b, ev))
        .collect();
    let mut matched = vec![0u64; n];
    for e in &edges {
        matched[e.a] += e.matched;
        matched[e.b] += e.matched;
    }
    let mut points: Vec<ClockEstimate> = (0..n)
        .map(|i| ClockEstimate {
            offset_ns: 0,
            uncertainty_ns: None,
            estimated: false,
            via: None,
            matched: matched[i],
        })
        .collect();
    // the reference: most matched packets, then the first point
    let reference = (0..n).max_by_key(|&i| (matched[i], std::cmp::Reverse(i)));
    let Some(reference) = reference else {
        return Clocks::default();
    };
    if n == 1 || matched[reference] == 0 {
        // nothing to align: only the reference has a known clock (its own)
        points[reference].estimated = n == 1;
        points[reference].uncertainty_ns = Some(0);
        return Clocks {
            reference: Some(reference),
            points,
            assumed_synced: false,
        };
    }
    // Dijkstra on summed uncertainty; one-way edges cost more than any two-way chain
    const ONE_WAY_COST: i128 = 1 << 80;
    let cost_of = |e: &Edge| -> i128 { e.uncertainty.map_or(ONE_WAY_COST, |u| i128::from(u) + 1) };
    let mut best: Vec<Option<i128>> = vec![None; n];
    let mut done = vec![false; n];
    best[reference] = Some(0);
    points[reference] = ClockEstimate {
        offset_ns: 0,
        uncertainty_ns: Some(0),
        estimated: true,
        via: None,
        matched: matched[reference],
    };
    loop {
        let next = (0..n)
            .filter(|&i| !done[i])
            .filter_map(|i| best[i].map(|c| (c, i)))
            .min();
        let Some((cost, u)) = next else { break };
        done[u] = true;
        for e in &edges {
            let (v, theta) = if e.a == u {
                (e.b, e.theta)
            } else if e.b == u {
                (e.a, -e.theta)
            } else {
                continue;
            };
            if done[v] {
                continue;
            }
            let c = cost + cost_of(e);
            if best[v].is_none_or(|b| c < b) {
                best[v] = Some(c);
                let from = points[u];
                points[v] = ClockEstimate {
                    offset_ns: from.offset_ns.saturating_add(theta),
                    uncertainty_ns: match (from.uncertainty_ns, e.uncertainty) {
                        (Some(x), Some(y)) => Some(x.saturating_add(y)),
                        _ => None,
                    },
                    estimated: true,
                    via: Some(u),
                    matched: matched[v],
                };
            }
        }
    }
    Clocks {
        reference: Some(reference),
        points,
        assumed_synced: false,
    }
}

/// `2023-11-14 22:13:20.123` (UTC) from nanoseconds since the epoch (`with_date` false:
/// `22:13:20.123`): how every output and evidence sentence writes a time of day.
pub fn clock_text(ns: i64, with_date: bool) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if !with_date {
        return format!("{h:02}:{m:02}:{s:02}.{ms:03}");
    }
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm, proleptic Gregorian)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}.{ms:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// Delays of packets between two points whose clocks differ by `theta`: `fwd` one-way
    /// delays A -> B, `rev` B -> A.
    fn pair(a: usize, b: usize, theta: i64, fwd: &[i64], rev: &[i64]) -> PairDelays {
        let span = |v: Vec<i64>| {
            let mut it = v.into_iter();
            let mut s = Span::new(it.next()?);
            for d in it {
                s.add(d);
            }
            Some(s)
        };
        PairDelays {
            a,
            b,
            dirs: [
                span(fwd.iter().map(|d| theta + d).collect()),
                span(rev.iter().map(|d| theta - d).collect()),
            ],
        }
    }

    #[test]
    fn offset_lies_between_the_two_directions() {
        // B is 10 s ahead of A; delays 0.2 ms one way, 0.3 ms the other
        let c = estimate(
            2,
            &[pair(
                0,
                1,
                10_000 * MS,
                &[MS / 5, MS],
                &[3 * MS / 10, 2 * MS],
            )],
        );
        let b = c.points[1];
        let a = c.points[0];
        let theta = b.offset_ns - a.offset_ns;
        assert!((theta - 10_000 * MS).abs() <= MS / 10, "{theta}");
        let unc = b.uncertainty_ns.unwrap() + a.uncertainty_ns.unwrap();
        assert_eq!(unc, MS / 4, "half of 0.2 + 0.3 ms");
        assert!(a.estimated && b.estimated);
    }

    #[test]
    fn more_flow_pairs_narrow_the_interval() {
        let ev = [
            pair(0, 1, -7_000 * MS, &[5 * MS], &[MS]),
            pair(0, 1, -7_000 * MS, &[MS], &[5 * MS]),
        ];
        let c = estimate(2, &ev);
        let theta = c.points[1].offset_ns - c.points[0].offset_ns;
        assert_eq!(theta, -7_000 * MS);
        assert_eq!(
            c.points[c.reference.map_or(0, |r| 1 - r)].uncertainty_ns,
            Some(MS)
        );
    }

    #[test]
    fn offsets_propagate_through_a_middle_point() {
        // 0 and 2 never matched directly; 1 sees both
        let ev = [
            pair(0, 1, 3_000 * MS, &[MS], &[MS]),
            pair(1, 2, -5_000 * MS, &[MS], &[MS]),
            pair(1, 2, -5_000 * MS, &[2 * MS], &[2 * MS]),
        ];
        let c = estimate(3, &ev);
        assert_eq!(c.reference, Some(1), "the point matched with most");
        assert_eq!(c.points[0].offset_ns, -3_000 * MS);
        assert_eq!(c.points[2].offset_ns, -5_000 * MS);
        assert_eq!(c.points[2].via, Some(1));
        let aligned = c.align(0, 100 * MS);
        assert_eq!(aligned, 3_100 * MS);
    }

    #[test]
    fn one_way_evidence_has_no_uncertainty_bound() {
        let ev = [pair(0, 1, 2_000 * MS, &[MS], &[])];
        let c = estimate(2, &ev);
        let other = 1 - c.reference.unwrap();
        assert!(c.points[other].estimated);
        assert_eq!(c.points[other].uncertainty_ns, None);
        let theta = c.points[1].offset_ns - c.points[0].offset_ns;
        assert!((theta - 2_000 * MS).abs() <= MS);
    }

    #[test]
    fn unmatched_points_are_not_estimated() {
        let c = estimate(3, &[pair(0, 1, 0, &[MS], &[MS])]);
        assert!(!c.points[2].estimated);
        assert_eq!(c.points[2].offset_ns, 0);
        let s = Clocks::synced(2);
        assert!(s.assumed_synced);
        assert_eq!(s.align(1, 5), 5);
    }

    #[test]
    fn contradicting_intervals_take_the_median() {
        let ev = [
            PairDelays {
                a: 0,
                b: 1,
                dirs: [Some(Span::new(10)), Some(Span::new(0))],
            },
            PairDelays {
                a: 0,
                b: 1,
                dirs: [Some(Span::new(30)), Some(Span::new(20))],
            },
            PairDelays {
                a: 0,
                b: 1,
                dirs: [Some(Span::new(31)), Some(Span::new(21))],
            },
        ];
        let c = estimate(2, &ev);
        let theta = c.points[1].offset_ns - c.points[0].offset_ns;
        assert_eq!(theta, 25);
        let unc = c.points[c.reference.map_or(0, |r| 1 - r)]
            .uncertainty_ns
            .unwrap();
        assert!(unc >= 10, "{unc}");
    }
}
