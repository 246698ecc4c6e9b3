//! ladder_layout: where everything of a [`Ladder`] goes, before anything is drawn: the
//! columns (time, label, one lane per point), one row per packet instant with long gaps
//! shortened, the legend's items and rows, the wrapped text under the picture, the size.
//! [`super::ladder_draw`] only paints what this decides.

use super::ladder::{Ladder, Obs};
use super::wrap;

pub(super) const MARGIN: f64 = 20.0;
pub(super) const ROW_MIN: f64 = 24.0;
pub(super) const ROW_MAX: f64 = 64.0;
/// A gap between rows at least this long (ns) gets a dotted band saying how long.
const BREAK_NS: i64 = 100_000_000;
const HEADER_H: f64 = 42.0;
pub(super) const DOT: f64 = 4.5;
/// How far an inferred (not captured) first or last hop slants above or below its row.
const SLANT: f64 = 12.0;

/// What a legend item shows (its sample is drawn by [`super::ladder_draw`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegendKind {
    Forward,
    Reverse,
    Seen,
    Nat,
    Skipped,
    Lost,
    Inferred,
    Counted,
    NotCapturing,
}

/// True when the arrow from `a` to `b` crosses lane `m` while that lane's point was not
/// capturing (the time at the crossing interpolated between the two observations).
pub(super) fn crosses_off(l: &Ladder, m: usize, a: &Obs, b: &Obs) -> bool {
    let Some((from, to)) = l.lanes.get(m).and_then(|ln| ln.off) else {
        return false;
    };
    let span = b.lane as f64 - a.lane as f64;
    let f = if span == 0.0 {
        0.0
    } else {
        (m as f64 - a.lane as f64) / span
    };
    let t = a.t as f64 + (b.t - a.t) as f64 * f;
    t >= from as f64 && t <= to as f64
}

/// Vertical extra space for a gap of `dt` nanoseconds (0 for the same instant of one packet).
pub(super) fn step(dt: i64) -> f64 {
    let ms = dt.max(0) as f64 / 1e6;
    (ROW_MIN + 8.0 * (1.0 + ms).log2()).min(ROW_MAX)
}

/// A packet's time in the left column: since the first packet, in ms or (long captures) s.
pub(super) fn time_text(ns: i64, long: bool) -> String {
    if long {
        format!("+{:.6} s", ns as f64 / 1e9)
    } else {
        format!("+{:.3} ms", ns as f64 / 1e6)
    }
}

/// Width of a legend item with this label (sample, gap, text).
pub(super) fn legend_item_width(label: &str) -> f64 {
    34.0 + super::text_width(label, 11.0) + 18.0
}

/// The horizontal plan: the time and label columns, then the lanes.
struct Columns {
    start: i64,
    long_times: bool,
    time_w: f64,
    lane_w: f64,
    lanes_left: f64,
    width: f64,
}

/// The vertical plan of the packets: each packet instant's row, the shortened gaps, the
/// bottom of the lanes.
struct Rows {
    row_y: Vec<Vec<f64>>,
    gaps: Vec<(f64, i64)>,
    events_bottom: f64,
}

/// Everything [`super::ladder_draw`] needs to know about where things go.
pub(super) struct Layout<'a> {
    /// The first packet's time: the left column counts from it.
    pub start: i64,
    /// The packets span 10 s or more: times in seconds.
    pub long_times: bool,
    pub time_w: f64,
    pub lane_w: f64,
    pub lanes_left: f64,
    pub width: f64,
    pub height: f64,
    /// Width of the text under the picture and of the title.
    pub text_w: f64,
    pub title_lines: Vec<String>,
    /// Each lane's note, one line per `; `-separated part.
    pub notes: Vec<Vec<&'a str>>,
    pub header_y: f64,
    pub header_h: f64,
    pub events_top: f64,
    pub events_bottom: f64,
    /// `row_y[packet][obs]`: the y of each of a packet's observations.
    pub row_y: Vec<Vec<f64>>,
    /// Shortened gaps: (y of the dotted band, how long in ns).
    pub gaps: Vec<(f64, i64)>,
    /// Each lane's not-capturing band (top and bottom y), for a point that was not capturing
    /// during part of the conversation.
    pub bands: Vec<Option<(f64, f64)>>,
    pub legend: Vec<(LegendKind, &'static str)>,
    pub legend_top: f64,
    pub text_top: f64,
    /// The evidence and the notes, wrapped; true for the muted (note) lines.
    pub bottom_lines: Vec<(String, bool)>,
}

impl Layout<'_> {
    /// The x of lane `i`'s line.
    pub fn lane_x(&self, i: usize) -> f64 {
        self.lanes_left + self.lane_w * (i as f64 + 0.5)
    }
}

/// Lays out ladder `l`.
pub(super) fn layout(l: &Ladder) -> Layout<'_> {
    let notes: Vec<Vec<&str>> = l
        .lanes
        .iter()
        .map(|ln| ln.note.split("; ").filter(|s| !s.is_empty()).collect())
        .collect();
    let note_lines = notes.iter().map(Vec::len).max().unwrap_or(0);
    let header_h = HEADER_H + 14.0 * note_lines.saturating_sub(1) as f64;
    let cols = columns(l, &notes);
    let text_w = cols.width - 2.0 * MARGIN;
    let title_lines = wrap(&l.title, 16.0, text_w);
    let header_y = MARGIN + 20.0 * title_lines.len() as f64 + 30.0;
    let events_top = header_y + header_h + 22.0;
    let rows = rows(l, events_top);
    let bands = bands(l, &rows.row_y, events_top, rows.events_bottom);
    let mut legend = legend(l);
    if bands.iter().any(Option::is_some) {
        legend.push((
            LegendKind::NotCapturing,
            "not capturing then: the point's capture had not begun or had ended",
        ));
    }
    let legend_rows = legend_rows(&legend, text_w);
    let mut bottom_lines: Vec<(String, bool)> = Vec::new();
    for line in wrap(&format!("Evidence: {}", l.evidence), 11.0, text_w) {
        bottom_lines.push((line, false));
    }
    for note in &l.notes {
        for line in wrap(note, 11.0, text_w) {
            bottom_lines.push((line, true));
        }
    }
    let legend_top = rows.events_bottom + 16.0;
    let text_top = legend_top + 20.0 * legend_rows as f64 + 10.0;
    let height = text_top + 15.0 * bottom_lines.len() as f64 + MARGIN;
    Layout {
        start: cols.start,
        long_times: cols.long_times,
        time_w: cols.time_w,
        lane_w: cols.lane_w,
        lanes_left: cols.lanes_left,
        width: cols.width,
        height,
        text_w,
        title_lines,
        notes,
        header_y,
        header_h,
        events_top,
        events_bottom: rows.events_bottom,
        row_y: rows.row_y,
        gaps: rows.gaps,
        bands,
        legend,
        legend_top,
        text_top,
        bottom_lines,
    }
}

/// The time and label columns (as wide as their widest text) and the lanes (as wide as the
/// widest header, within bounds).
fn columns(l: &Ladder, notes: &[Vec<&str>]) -> Columns {
    let long = l
        .packets
        .iter()
        .flat_map(|p| p.obs.iter().map(|o| o.t))
        .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let start = if long.0 == i64::MAX { 0 } else { long.0 };
    let long_times = long.0 != i64::MAX && long.1 - long.0 >= 10_000_000_000;
    let time_w = l
        .packets
        .iter()
        .filter_map(|p| p.obs.iter().find(|o| o.seen).or(p.obs.first()))
        .map(|o| super::text_width(&time_text(o.t - start, long_times), 11.0))
        .fold(60.0, f64::max);
    let label_w = l
        .packets
        .iter()
        .map(|p| super::text_width(&p.label, 11.0))
        .fold(60.0, f64::max);
    let col_w = time_w + 10.0 + label_w + 24.0;
    let lane_w = l
        .lanes
        .iter()
        .zip(notes)
        .map(|(ln, note)| {
            note.iter()
                .map(|s| super::text_width(s, 11.0))
                .fold(super::text_width(&ln.name, 13.0), f64::max)
                + 28.0
        })
        .fold(170.0, f64::max)
        .min(340.0);
    let lanes_left = MARGIN + col_w;
    let width = (lanes_left + lane_w * l.lanes.len() as f64 + MARGIN).max(560.0);
    Columns {
        start,
        long_times,
        time_w,
        lane_w,
        lanes_left,
        width,
    }
}

/// One row per (packet, instant), distinct packets never sharing a row; rows are at least
/// [`ROW_MIN`] apart and long gaps are shortened; an inferred first or last hop slants.
fn rows(l: &Ladder, events_top: f64) -> Rows {
    let mut events: Vec<(i64, usize, usize)> = Vec::new();
    for (pi, p) in l.packets.iter().enumerate() {
        for (oi, o) in p.obs.iter().enumerate() {
            events.push((o.t, pi, oi));
        }
    }
    events.sort();
    let mut row_y: Vec<Vec<f64>> = l.packets.iter().map(|p| vec![0.0; p.obs.len()]).collect();
    let mut gaps: Vec<(f64, i64)> = Vec::new();
    // an inferred (not captured) first or last hop is drawn slanted: SLANT above or below
    let inferred_start = |pi: usize, oi: usize| oi == 0 && !l.packets[pi].obs[0].seen;
    let inferred_end = |pi: usize, oi: usize| {
        let obs = &l.packets[pi].obs;
        oi + 1 == obs.len() && oi > 0 && !obs[oi].seen
    };
    let mut y = events_top;
    let mut prev: Option<(i64, usize, bool)> = None;
    for &(t, pi, oi) in &events {
        let pad_before = if inferred_start(pi, oi) { SLANT } else { 0.0 };
        match prev {
            None => y += pad_before,
            Some((pt, pp, _)) if pt == t && pp == pi => {}
            Some((pt, _, pad_after)) => {
                let s = step(t - pt) + pad_before + if pad_after { SLANT } else { 0.0 };
                if t - pt >= BREAK_NS {
                    gaps.push((y + s / 2.0, t - pt));
                }
                y += s;
            }
        }
        row_y[pi][oi] = y;
        let pad_after =
            inferred_end(pi, oi) || prev.is_some_and(|(pt, pp, pa)| pt == t && pp == pi && pa);
        prev = Some((t, pi, pad_after));
    }
    for (pi, ys) in row_y.iter_mut().enumerate() {
        if inferred_start(pi, 0) {
            ys[0] -= SLANT;
        }
        let last = ys.len().saturating_sub(1);
        if last > 0 && inferred_end(pi, last) {
            ys[last] += SLANT;
        }
    }
    let tail = if events
        .last()
        .is_some_and(|&(_, pi, oi)| inferred_end(pi, oi))
    {
        SLANT
    } else {
        0.0
    };
    let events_bottom = y
        + tail
        + if l.packets.iter().any(|p| p.lost) {
            30.0
        } else {
            18.0
        };
    Rows {
        row_y,
        gaps,
        events_bottom,
    }
}

/// Each lane's not-capturing band: from the row of the first observation at or after the
/// time its point stopped capturing (or the top) to the row of the last one before it
/// began again (or the bottom); None where the lane was capturing throughout.
fn bands(l: &Ladder, row_y: &[Vec<f64>], top: f64, bottom: f64) -> Vec<Option<(f64, f64)>> {
    let rows: Vec<(i64, f64)> = l
        .packets
        .iter()
        .zip(row_y)
        .flat_map(|(p, ys)| p.obs.iter().map(|o| o.t).zip(ys.iter().copied()))
        .collect();
    let (t_lo, t_hi) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &(t, _)| {
        (lo.min(t), hi.max(t))
    });
    l.lanes
        .iter()
        .map(|ln| {
            let (from, to) = ln.off?;
            let inside = || rows.iter().filter(move |&&(t, _)| t >= from && t <= to);
            let y0 = if from <= t_lo {
                top - ROW_MIN / 2.0
            } else {
                inside().map(|&(_, y)| y).fold(f64::MAX, f64::min) - ROW_MIN / 2.0
            };
            let y1 = if to >= t_hi {
                bottom
            } else {
                inside().map(|&(_, y)| y).fold(f64::MIN, f64::max) + ROW_MIN / 2.0
            };
            (y0 < y1 && inside().next().is_some()).then_some((y0, y1))
        })
        .collect()
}

/// The legend items the ladder needs, in order.
fn legend(l: &Ladder) -> Vec<(LegendKind, &'static str)> {
    let mut kinds: Vec<(LegendKind, &'static str)> = Vec::new();
    if l.packets.iter().any(|p| p.dir == 0) {
        kinds.push((LegendKind::Forward, "client → server"));
    }
    if l.packets.iter().any(|p| p.dir == 1) {
        kinds.push((LegendKind::Reverse, "server → client"));
    }
    kinds.push((LegendKind::Seen, "seen at the point"));
    if l.packets.iter().any(|p| p.obs.iter().any(|o| o.nat)) {
        kinds.push((LegendKind::Nat, "NAT rewrite here"));
    }
    // lanes crossed without a sighting: off the direction's path (bypassed), or on it
    let mut crossed = [false, false];
    for p in &l.packets {
        for w in p.obs.windows(2) {
            let (lo, hi) = (w[0].lane.min(w[1].lane), w[0].lane.max(w[1].lane));
            for m in (lo + 1..hi).filter(|&m| !crosses_off(l, m, &w[0], &w[1])) {
                crossed[usize::from(p.counted_lanes.contains(&m))] = true;
            }
        }
    }
    if crossed[0] {
        kinds.push((
            LegendKind::Skipped,
            "lane crossed, not seen there: the arrow passes behind a gap",
        ));
    }
    if crossed[1] {
        kinds.push((
            LegendKind::Counted,
            "counted by that point's flow, not matched there one by one",
        ));
    }
    if l.packets.iter().any(|p| p.lost) {
        kinds.push((LegendKind::Lost, "lost: not seen after this point"));
    }
    if l.lanes.iter().any(|ln| ln.endpoint) {
        kinds.push((LegendKind::Inferred, "inferred, not captured"));
    }
    kinds
}

/// How many rows the legend takes at width `text_w`.
fn legend_rows(kinds: &[(LegendKind, &str)], text_w: f64) -> usize {
    let mut rows = 1;
    let mut lx = 0.0;
    for (_, label) in kinds {
        let w = legend_item_width(label);
        if lx > 0.0 && lx + w > text_w {
            rows += 1;
            lx = 0.0;
        }
        lx += w;
    }
    rows
}
