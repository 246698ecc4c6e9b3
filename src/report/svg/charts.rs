//! charts: the pictures on numeric axes, drawn with plotters' SVG backend.
//!
//! - summary: conversations by protocol, stacked by verdict, with an "all" row.
//! - timeline: packets per capture point over time (small multiples, one per point), stacked
//!   by the verdict of the conversation they belong to.
//! - latency: the one-way delay between consecutive sightings of the packets followed across
//!   points, one row per ordered pair of points (and one per forwarding point: the time it
//!   held the packets), one dot per packet, the median marked.
//!
//! Each is one function: backend, chart, series, present, into a `String`. A plotters error
//! becomes a small picture that says so instead of a panic. Row labels and legends are placed
//! in pixels (plotters' category axes put labels where its tick algorithm likes).

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::plot::{
    at, bold, err, font, legend, legend_height, muted, px, render, title, Area, Chart, Res,
};
use super::{plain, rgb, text_width, verdict_colour, FONT};
use crate::report::text::clock_text;
use crate::report::Analysis;
use crate::verdict::Verdict;

/// Narrowest bar of the summary chart, in pixels.
const MIN_BAR_PX: f64 = 4.0;

fn verdict_items(present: &[Verdict]) -> Vec<(String, String)> {
    present
        .iter()
        .map(|v| (v.name().to_string(), verdict_colour(v.name()).to_string()))
        .collect()
}

/// Conversations per verdict rank, by protocol.
type ByVerdict = BTreeMap<usize, usize>;

/// The summary chart's rows: "all", then each protocol by count (conversations per verdict
/// rank); and the verdicts present.
fn summary_rows(a: &Analysis) -> (Vec<(String, ByVerdict)>, Vec<Verdict>) {
    let mut by_proto: BTreeMap<&str, ByVerdict> = BTreeMap::new();
    let rank = |v: Verdict| Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0);
    for (c, j) in &a.conversations {
        *by_proto
            .entry(c.proto_name())
            .or_default()
            .entry(rank(j.verdict))
            .or_default() += 1;
    }
    let mut rows: Vec<(String, ByVerdict)> = by_proto
        .into_iter()
        .map(|(p, m)| (p.to_string(), m))
        .collect();
    rows.sort_by_key(|(p, m)| (std::cmp::Reverse(m.values().sum::<usize>()), p.clone()));
    let mut all: ByVerdict = BTreeMap::new();
    for (_, m) in &rows {
        for (k, v) in m {
            *all.entry(*k).or_default() += v;
        }
    }
    rows.insert(0, ("all".to_string(), all.clone()));
    let present: Vec<Verdict> = Verdict::ALL
        .into_iter()
        .filter(|v| all.contains_key(&rank(*v)))
        .collect();
    (rows, present)
}

/// Conversations by protocol, stacked by verdict.
pub fn summary(a: &Analysis) -> String {
    let (rows, present) = summary_rows(a);
    let items = verdict_items(&present);
    let width = 760u32;
    let leg_h = legend_height(&items, width as f64);
    let row_h = 34;
    let plot_h = row_h * rows.len() as i32;
    let height = (70 + plot_h + 46 + leg_h + 16) as u32;
    let max = rows
        .iter()
        .map(|(_, m)| m.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let sub = format!(
        "{} conversation{}: {}",
        a.conversations.len(),
        if a.conversations.len() == 1 { "" } else { "s" },
        present
            .iter()
            .map(|v| format!("{} {}", a.count(*v), v.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    render(width, height, |root| {
        title(root, "Conversations by verdict and protocol", &sub)?;
        let (top, rest) = root.split_vertically(60);
        let _ = top;
        let (plot, bottom) = rest.split_vertically(plot_h + 46);
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(20)
            .margin_right(40)
            .margin_top(6)
            .x_label_area_size(34)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..(max as f64 * 1.08), 0f64..rows.len() as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(max.min(10) + 1)
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 {
                    format!("{}", v.round() as i64)
                } else {
                    String::new()
                }
            })
            .x_desc("conversations")
            .label_style(font(11.0))
            .axis_desc_style(muted(12.0))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(err)?;
        // a bar is at least MIN_BAR_PX wide: a few conversations beside hundreds stay visible
        let full = max as f64 * 1.08;
        let plot_px =
            (chart.backend_coord(&(full, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0).max(1);
        let least = MIN_BAR_PX * full / plot_px as f64;
        for (r, (name, m)) in rows.iter().enumerate() {
            let y0 = (rows.len() - r - 1) as f64;
            summary_row(root, &mut chart, (name, r == 0), m, y0, least)?;
        }
        legend(&bottom, &items, 10)?;
        Ok(())
    })
}

/// One bar of the summary chart at row y `y0` (`name`, bold for the "all" row): a segment
/// per verdict at least `least` wide, each with its count inside or (too narrow) just above,
/// the total after it.
fn summary_row(
    root: &Area,
    chart: &mut Chart,
    (name, first): (&str, bool),
    m: &ByVerdict,
    y0: f64,
    least: f64,
) -> Res {
    let mut x = 0.0;
    let total: usize = m.values().sum();
    let mut label_end = i32::MIN;
    for (k, count) in m {
        let v = Verdict::ALL[*k];
        let colour = rgb(verdict_colour(v.name()));
        let w = (*count as f64).max(least);
        let mut rect = Rectangle::new([(x, y0 + 0.18), (x + w, y0 + 0.82)], colour.filled());
        let wide = chart.backend_coord(&(x + w, 0.0)).0 - chart.backend_coord(&(x, 0.0)).0 > 3;
        if wide {
            rect.set_margin(0, 0, 0, 1);
        }
        chart.draw_series(std::iter::once(rect)).map_err(err)?;
        let (l, _) = chart.backend_coord(&(x, y0 + 0.5));
        let (rpx, yc) = chart.backend_coord(&(x + w, y0 + 0.5));
        let label = count.to_string();
        if (rpx - l) as f64 <= text_width(&label, 11.0) + 6.0 && *count < total {
            // too narrow for its count inside: the count just above, in its colour
            let (_, top) = chart.backend_coord(&(x, y0 + 0.82));
            let lx = l.max(label_end + 4);
            label_end = lx + text_width(&label, 10.0).ceil() as i32;
            root.draw_text(
                &label,
                &at(
                    (FONT, px(10.0), FontStyle::Bold).into_font().color(&colour),
                    HPos::Left,
                    VPos::Bottom,
                ),
                (lx, top - 1),
            )
            .map_err(err)?;
        } else if (rpx - l) as f64 > text_width(&label, 11.0) + 6.0 {
            root.draw_text(
                &label,
                &at(
                    (FONT, px(11.0), FontStyle::Bold).into_font().color(&WHITE),
                    HPos::Center,
                    VPos::Center,
                ),
                ((l + rpx) / 2, yc),
            )
            .map_err(err)?;
        }
        x += w;
    }
    let (rx, yc) = chart.backend_coord(&(x, y0 + 0.5));
    root.draw_text(
        &total.to_string(),
        &at(bold(11.0), HPos::Left, VPos::Center),
        (rx + 6, yc),
    )
    .map_err(err)?;
    let (lx, _) = chart.backend_coord(&(0.0, y0 + 0.5));
    let style = if first { bold(12.0) } else { font(12.0) };
    root.draw_text(
        &plain(name),
        &at(style, HPos::Right, VPos::Center),
        (lx - 8, yc),
    )
    .map_err(err)?;
    Ok(())
}

/// Runs of neighbouring bins where the first suspicious verdict (rank below `suspicious`)
/// is the same: (verdict rank, first bin, end bin, packets of suspicious verdicts in the run).
fn suspicious_runs(bins: &[Vec<f64>], suspicious: usize) -> Vec<(usize, usize, usize, f64)> {
    let mut runs: Vec<(usize, usize, usize, f64)> = Vec::new();
    for (b, stack) in bins.iter().enumerate() {
        let Some(vk) = (0..suspicious).find(|&vk| stack[vk] > 0.0) else {
            continue;
        };
        let n: f64 = stack[..suspicious].iter().sum();
        match runs.last_mut() {
            Some(run) if run.0 == vk && run.2 == b => {
                run.2 = b + 1;
                run.3 += n;
            }
            _ => runs.push((vk, b, b + 1, n)),
        }
    }
    runs
}

/// Places a conversation's `count` packets at one point between `first` and `last`: one at
/// each end, the rest evenly between (the model keeps no per-packet times).
fn spread(first: i64, last: i64, count: u64) -> Vec<(i64, f64)> {
    match count {
        0 => vec![],
        1 => vec![(first, 1.0)],
        _ if last <= first => vec![(first, count as f64)],
        2 => vec![(first, 1.0), (last, 1.0)],
        _ => {
            let inner = count - 2;
            let mut v = vec![(first, 1.0), (last, 1.0)];
            for k in 0..inner {
                let t = first
                    + ((last - first) as f64 * (k as f64 + 1.0) / (inner as f64 + 1.0)) as i64;
                v.push((t, 1.0));
            }
            v
        }
    }
}

/// The smallest of 1, 2, 5 x 10^k nanoseconds (at least 1 ms) not below `ns`.
fn nice_bin(ns: f64) -> f64 {
    let mut unit = 1e6;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * unit >= ns {
                return m * unit;
            }
        }
        unit *= 10.0;
    }
}

/// The timeline's counts: packets per panel, time bin and verdict rank.
struct Bins {
    /// The first packet's time (ns) and the width of a bin.
    t0: i64,
    bin_ns: f64,
    bins: usize,
    /// `counts[panel][bin][verdict rank]`.
    counts: Vec<Vec<Vec<f64>>>,
    present: Vec<Verdict>,
    /// Some packets' times were spread over their conversation's time (not followed).
    approximated: bool,
    /// No conversation: nothing to count.
    empty: bool,
}

/// Counts the packets of every conversation into panels (`panel_of` each point, `npoints`
/// panels) and about 80 time bins: the sightings' own times where every packet at that
/// point was followed, else spread evenly.
fn count_bins(a: &Analysis, panel_of: &[Option<usize>], npoints: usize) -> Bins {
    let (mut t0, mut t1) = (i64::MAX, i64::MIN);
    for (c, _) in &a.conversations {
        for p in &c.points {
            t0 = t0.min(p.first_ts);
            t1 = t1.max(p.last_ts);
        }
    }
    let empty = t0 > t1;
    if empty {
        t0 = 0;
        t1 = 1;
    }
    let span = (t1 - t0).max(1);
    let bin_ns = nice_bin(span as f64 / 80.0);
    let bins = ((span as f64 / bin_ns).floor() as usize + 1).max(1);
    let rank = |v: Verdict| Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0);
    let mut counts = vec![vec![vec![0f64; Verdict::ALL.len()]; bins]; npoints];
    let mut present = vec![false; Verdict::ALL.len()];
    let mut approximated = false;
    // the sightings of a conversation by point, sorted once (not searched once per point)
    let mut sighted: Vec<(usize, i64)> = Vec::new();
    for (c, j) in &a.conversations {
        let k = rank(j.verdict);
        sighted.clear();
        sighted.extend(
            c.traces
                .iter()
                .flat_map(|t| t.sightings.iter())
                .filter(|s| panel_of.get(s.point).is_some_and(Option::is_some))
                .map(|s| (s.point, s.ts)),
        );
        sighted.sort_unstable();
        for p in &c.points {
            let Some(panel) = panel_of.get(p.point).copied().flatten() else {
                continue;
            };
            let lo = sighted.partition_point(|s| s.0 < p.point);
            let hi = sighted.partition_point(|s| s.0 <= p.point);
            let seen = sighted.get(lo..hi).unwrap_or(&[]);
            let times = if seen.len() as u64 == p.total_packets() {
                seen.iter().map(|&(_, t)| (t, 1.0)).collect()
            } else {
                approximated = true;
                spread(p.first_ts, p.last_ts, p.total_packets())
            };
            for (t, w) in times {
                let b = (((t - t0) as f64 / bin_ns) as usize).min(bins - 1);
                counts[panel][b][k] += w;
                present[k] = true;
            }
        }
    }
    let present: Vec<Verdict> = Verdict::ALL
        .into_iter()
        .filter(|v| present[rank(*v)])
        .collect();
    Bins {
        t0,
        bin_ns,
        bins,
        counts,
        present,
        approximated,
        empty,
    }
}

/// Height of one point's panel, and of the time axis under the last one.
const PANEL_H: i32 = 96;
const AXIS_H: i32 = 44;

/// Packets per capture point over time, stacked by verdict.
pub fn timeline(a: &Analysis, max_points: usize) -> String {
    let names = a.point_names();
    // one panel per point drawn: those with the most packets when there are too many
    let (shown, left_out) = super::drawn_points(names.len(), max_points, |p| {
        a.points.get(p).map_or(0, |pt| pt.summary.decoded)
    });
    let mut panel_of: Vec<Option<usize>> = vec![None; names.len()];
    for (k, &p) in shown.iter().enumerate() {
        panel_of[p] = Some(k);
    }
    let npoints = shown.len().max(1);
    let bins = count_bins(a, &panel_of, npoints);
    let items = verdict_items(&bins.present);
    let width = 900u32;
    let leg_h = legend_height(&items, width as f64);
    let notes_h = if bins.approximated { 20 } else { 0 } + if left_out > 0 { 20 } else { 0 };
    let height = (78 + PANEL_H * npoints as i32 + AXIS_H + leg_h + 16 + notes_h) as u32;
    let bin_ns = bins.bin_ns;
    let bin_text = if bin_ns >= 1e9 {
        format!("{} s", bin_ns / 1e9)
    } else {
        format!("{} ms", bin_ns / 1e6)
    };
    let sub = if bins.empty {
        "no conversation".to_string()
    } else {
        format!(
            "packets per {bin_text}, t = 0 at {} UTC; a mark along the top: packets of a suspicious verdict",
            clock_text(bins.t0, true)
        )
    };
    render(width, height, |root| {
        title(
            root,
            "Packets per capture point over time, by verdict",
            &sub,
        )?;
        let (_, rest) = root.split_vertically(64);
        let (panels, bottom) = rest.split_vertically(PANEL_H * npoints as i32 + AXIS_H);
        let mut remaining = panels;
        for k in 0..npoints {
            let last = k + 1 == npoints;
            let (area, next) = remaining.split_vertically(PANEL_H + if last { AXIS_H } else { 0 });
            remaining = next;
            let pt = shown.get(k).copied().unwrap_or(usize::MAX);
            let name = names.get(pt).map(String::as_str).unwrap_or("?");
            let packets = a.points.get(pt).map(|p| p.summary.packets).unwrap_or(0);
            let head = format!("{name}  ({packets} packets captured)");
            draw_panel(root, &area, &bins, k, &head, last)?;
        }
        legend(&bottom, &items, 12)?;
        let mut note_y = leg_h + 8;
        if bins.approximated {
            bottom
                .draw_text(
                    "Packets not followed one by one across points are spread evenly over their conversation's time at the point.",
                    &muted(11.0),
                    (20, note_y),
                )
                .map_err(err)?;
            note_y += 20;
        }
        if left_out > 0 {
            let note =
                super::points_left_out(left_out, "the panels are the points with the most packets");
            bottom
                .draw_text(&plain(&note), &muted(11.0), (20, note_y))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Panel `k` of the timeline in `area` (headed `head`; the `last` one carries the time
/// axis): its stacked bars per bin and its marks of suspicious packets.
fn draw_panel(root: &Area, area: &Area, b: &Bins, k: usize, head: &str, last: bool) -> Res {
    let ymax = b
        .counts
        .iter()
        .flat_map(|pt| pt.iter().map(|b| b.iter().sum::<f64>()))
        .fold(1.0, f64::max);
    let span_s = b.bins as f64 * b.bin_ns / 1e9;
    let mut chart = ChartBuilder::on(area)
        .margin_left(20)
        .margin_right(24)
        .margin_top(22)
        .x_label_area_size(if last { AXIS_H } else { 4 })
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..span_s, 0f64..ymax * 1.1)
        .map_err(err)?;
    let mut mesh = chart.configure_mesh();
    mesh.y_labels(3)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(font(11.0))
        .axis_desc_style(muted(12.0))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_labels(10)
        .x_label_formatter(&|v| format!("{v:.1}"));
    mesh.y_desc("packets");
    if last {
        mesh.x_desc("seconds since the first packet");
    } else {
        mesh.x_label_formatter(&|_| String::new());
    }
    mesh.draw().map_err(err)?;
    area.draw_text(&plain(head), &bold(12.0), (68, 4))
        .map_err(err)?;
    for (bin, stack) in b.counts[k].iter().enumerate() {
        let x0 = bin as f64 * b.bin_ns / 1e9;
        let x1 = (bin as f64 + 1.0) * b.bin_ns / 1e9;
        // a 1 px gap between bars only where bars are wide enough to keep a width
        let wide = chart.backend_coord(&(x1, 0.0)).0 - chart.backend_coord(&(x0, 0.0)).0 > 3;
        let mut y = 0.0;
        for (vk, &v) in stack.iter().enumerate() {
            if v <= 0.0 {
                continue;
            }
            let colour = rgb(verdict_colour(Verdict::ALL[vk].name()));
            let mut rect = Rectangle::new([(x0, y), (x1, y + v)], colour.filled());
            if wide {
                rect.set_margin(0, 0, 0, 1);
            }
            chart.draw_series(std::iter::once(rect)).map_err(err)?;
            y += v;
        }
    }
    suspicious_marks(root, &mut chart, &b.counts[k], b.bin_ns, ymax * 1.1)
}

/// A mark along the top (at `top`) where a suspicious verdict has packets, visible however
/// many symmetric packets share the bin: one mark per run of neighbouring bins of the same
/// verdict, with its packet count, so a long capture's marks add up instead of merging into
/// one unlabelled stripe.
fn suspicious_marks(
    root: &Area,
    chart: &mut Chart,
    counts: &[Vec<f64>],
    bin_ns: f64,
    top: f64,
) -> Res {
    // the verdicts before `incomplete` in Verdict::ALL are the suspicious ones
    let suspicious = Verdict::ALL
        .iter()
        .position(|x| *x == Verdict::Incomplete)
        .unwrap_or(0);
    for (vk, b0, b1, n) in suspicious_runs(counts, suspicious) {
        let colour = rgb(verdict_colour(Verdict::ALL[vk].name()));
        let (x0, x1) = (b0 as f64 * bin_ns / 1e9, b1 as f64 * bin_ns / 1e9);
        let mut rect = Rectangle::new([(x0, top * 0.94), (x1, top)], colour.filled());
        rect.set_margin(0, 0, 1, 1);
        chart.draw_series(std::iter::once(rect)).map_err(err)?;
        let (l, y) = chart.backend_coord(&(x0, top * 0.94));
        let (r, _) = chart.backend_coord(&(x1, top));
        let long = format!("{n:.0} {} packets", Verdict::ALL[vk].name());
        let label = if (r - l) as f64 >= text_width(&long, 10.0) + 4.0 {
            long
        } else {
            format!("{n:.0}")
        };
        if (r - l) as f64 >= text_width(&label, 10.0) + 4.0 && b1 - b0 > 1 {
            // on a white patch: readable over the bars below
            let half = (text_width(&label, 10.0) / 2.0).ceil() as i32 + 3;
            let c = (l + r) / 2;
            root.draw(&Rectangle::new(
                [(c - half, y + 1), (c + half, y + 14)],
                WHITE.filled(),
            ))
            .map_err(err)?;
            root.draw_text(
                &label,
                &at(
                    (FONT, px(10.0), FontStyle::Bold).into_font().color(&colour),
                    HPos::Center,
                    VPos::Top,
                ),
                ((l + r) / 2, y + 2),
            )
            .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_marks_merge_neighbouring_bins_and_add_up() {
        let bin = |v: [f64; 3]| v.to_vec();
        let bins = vec![
            bin([1.0, 0.0, 5.0]),
            bin([2.0, 0.0, 0.0]),
            bin([0.0, 0.0, 9.0]),
            bin([0.0, 3.0, 0.0]),
            bin([1.0, 1.0, 0.0]),
        ];
        assert_eq!(
            suspicious_runs(&bins, 2),
            vec![(0, 0, 2, 3.0), (1, 3, 4, 3.0), (0, 4, 5, 2.0)]
        );
    }

    #[test]
    fn spread_keeps_the_ends_and_the_count() {
        assert_eq!(spread(10, 10, 3), vec![(10, 3.0)]);
        let v = spread(0, 100, 4);
        assert_eq!(v.len(), 4);
        assert!(v.contains(&(0, 1.0)) && v.contains(&(100, 1.0)));
        assert!(spread(0, 100, 0).is_empty());
    }
}
