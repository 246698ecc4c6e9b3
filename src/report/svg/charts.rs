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

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plain, rgb, text_width, verdict_colour, worth_showing, FONT, FORWARD, REVERSE};
use crate::report::text::clock_text;
use crate::report::Analysis;
use crate::verdict::Verdict;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Res = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// A plotters font size for `v` pixels of text: plotters' SVG backend writes `size / 1.24`,
/// so this finds the size that divides back to exactly `v` (a short `font-size` attribute).
fn px(v: f64) -> f64 {
    let s = v * 1.24;
    (0..16u64)
        .flat_map(|k| [s.to_bits() + k, s.to_bits().saturating_sub(k)])
        .map(f64::from_bits)
        .find(|c| c / 1.24 == v)
        .unwrap_or(s)
}

fn font(size: f64) -> TextStyle<'static> {
    (FONT, px(size)).into_font().color(&rgb(super::INK))
}

fn muted(size: f64) -> TextStyle<'static> {
    (FONT, px(size)).into_font().color(&rgb(super::MUTED))
}

fn bold(size: f64) -> TextStyle<'static> {
    (FONT, px(size), FontStyle::Bold)
        .into_font()
        .color(&rgb(super::INK))
}

fn at(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// Renders `draw` into an SVG string of `w` x `h`; an error gives a picture that says so.
fn render(w: u32, h: u32, draw: impl FnOnce(&Area) -> Res) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(err)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(err))
    };
    match result {
        Ok(()) => buf,
        Err(e) => {
            let mut svg = super::Svg::new(w as f64, 60.0, "chart error", "error");
            svg.text(
                20.0,
                35.0,
                &format!("this chart could not be drawn: {e}"),
                super::TextStyle::new(12.0, super::LOST),
            );
            svg.finish()
        }
    }
}

/// Draws a title (and a subtitle) at the top of `area`.
fn title(area: &Area, title: &str, sub: &str) -> Res {
    area.draw_text(&plain(title), &bold(16.0), (20, 12))
        .map_err(err)?;
    if !sub.is_empty() {
        area.draw_text(&plain(sub), &muted(12.0), (20, 36))
            .map_err(err)?;
    }
    Ok(())
}

/// A horizontal legend of coloured squares, wrapped at the area's width, starting at `y`.
fn legend(area: &Area, items: &[(String, String)], y: i32) -> Res {
    let width = area.dim_in_pixel().0 as f64 - 20.0;
    let (mut x, mut y) = (20.0, y as f64);
    for (label, colour) in items {
        let w = 22.0 + text_width(label, 12.0) + 20.0;
        if x > 20.0 && x + w > width {
            x = 20.0;
            y += 22.0;
        }
        area.draw(&Rectangle::new(
            [(x as i32, y as i32 - 6), (x as i32 + 14, y as i32 + 8)],
            rgb(colour).filled(),
        ))
        .map_err(err)?;
        area.draw_text(
            &plain(label),
            &at(font(12.0), HPos::Left, VPos::Center),
            (x as i32 + 20, y as i32 + 1),
        )
        .map_err(err)?;
        x += w;
    }
    Ok(())
}

/// Height the legend needs.
fn legend_height(items: &[(String, String)], width: f64) -> i32 {
    let mut rows = 1;
    let mut x = 20.0;
    for (label, _) in items {
        let w = 22.0 + text_width(label, 12.0) + 20.0;
        if x > 20.0 && x + w > width - 20.0 {
            rows += 1;
            x = 20.0;
        }
        x += w;
    }
    22 * rows
}

fn verdict_items(present: &[Verdict]) -> Vec<(String, String)> {
    present
        .iter()
        .map(|v| (v.name().to_string(), verdict_colour(v.name()).to_string()))
        .collect()
}

/// Conversations by protocol, stacked by verdict.
pub fn summary(a: &Analysis) -> String {
    // rows: "all", then protocols by count
    let mut by_proto: BTreeMap<&str, BTreeMap<usize, usize>> = BTreeMap::new();
    let rank = |v: Verdict| Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0);
    for (c, j) in &a.conversations {
        *by_proto
            .entry(c.proto_name())
            .or_default()
            .entry(rank(j.verdict))
            .or_default() += 1;
    }
    let mut rows: Vec<(String, BTreeMap<usize, usize>)> = by_proto
        .into_iter()
        .map(|(p, m)| (p.to_string(), m))
        .collect();
    rows.sort_by_key(|(p, m)| (std::cmp::Reverse(m.values().sum::<usize>()), p.clone()));
    let mut all: BTreeMap<usize, usize> = BTreeMap::new();
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
        for (r, (name, m)) in rows.iter().enumerate() {
            let y0 = (rows.len() - r - 1) as f64;
            let mut x = 0.0;
            for (k, count) in m {
                let v = Verdict::ALL[*k];
                let colour = rgb(verdict_colour(v.name()));
                let mut rect = Rectangle::new(
                    [(x, y0 + 0.18), (x + *count as f64, y0 + 0.82)],
                    colour.filled(),
                );
                let wide = chart.backend_coord(&(x + *count as f64, 0.0)).0
                    - chart.backend_coord(&(x, 0.0)).0
                    > 3;
                if wide {
                    rect.set_margin(0, 0, 0, 1);
                }
                chart.draw_series(std::iter::once(rect)).map_err(err)?;
                let (l, _) = chart.backend_coord(&(x, y0 + 0.5));
                let (rpx, yc) = chart.backend_coord(&(x + *count as f64, y0 + 0.5));
                let label = count.to_string();
                if (rpx - l) as f64 > text_width(&label, 11.0) + 6.0 {
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
                x += *count as f64;
            }
            let (rx, yc) = chart.backend_coord(&(x, y0 + 0.5));
            root.draw_text(
                &x.to_string(),
                &at(bold(11.0), HPos::Left, VPos::Center),
                (rx + 6, yc),
            )
            .map_err(err)?;
            let (lx, _) = chart.backend_coord(&(0.0, y0 + 0.5));
            let style = if r == 0 { bold(12.0) } else { font(12.0) };
            root.draw_text(
                &plain(name),
                &at(style, HPos::Right, VPos::Center),
                (lx - 8, yc),
            )
            .map_err(err)?;
        }
        legend(&bottom, &items, 10)?;
        Ok(())
    })
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
    // counts[point][bin][verdict]
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
    let items = verdict_items(&present);
    // the verdicts before `incomplete` in Verdict::ALL are the suspicious ones
    let suspicious = rank(Verdict::Incomplete);
    let width = 900u32;
    let leg_h = legend_height(&items, width as f64);
    let panel_h = 96i32;
    let axis_h = 44;
    let notes_h = if approximated { 20 } else { 0 } + if left_out > 0 { 20 } else { 0 };
    let height = (78 + panel_h * npoints as i32 + axis_h + leg_h + 16 + notes_h) as u32;
    let ymax = counts
        .iter()
        .flat_map(|pt| pt.iter().map(|b| b.iter().sum::<f64>()))
        .fold(1.0, f64::max);
    let span_s = bins as f64 * bin_ns / 1e9;
    let bin_text = if bin_ns >= 1e9 {
        format!("{} s", bin_ns / 1e9)
    } else {
        format!("{} ms", bin_ns / 1e6)
    };
    let sub = if empty {
        "no conversation".to_string()
    } else {
        format!(
            "packets per {bin_text}, t = 0 at {} UTC; a mark along the top: packets of a suspicious verdict",
            clock_text(t0, true)
        )
    };
    render(width, height, |root| {
        title(
            root,
            "Packets per capture point over time, by verdict",
            &sub,
        )?;
        let (_, rest) = root.split_vertically(64);
        let (panels, bottom) = rest.split_vertically(panel_h * npoints as i32 + axis_h);
        let mut areas = Vec::new();
        let mut remaining = panels;
        for k in 0..npoints {
            let h = if k + 1 == npoints {
                panel_h + axis_h
            } else {
                panel_h
            };
            let (this, next) = remaining.split_vertically(h);
            areas.push(this);
            remaining = next;
        }
        for (k, area) in areas.iter().enumerate() {
            let last = k + 1 == npoints;
            let mut chart = ChartBuilder::on(area)
                .margin_left(20)
                .margin_right(24)
                .margin_top(22)
                .x_label_area_size(if last { axis_h } else { 4 })
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
            if last {
                mesh.x_desc("seconds since the first packet");
            } else {
                mesh.x_label_formatter(&|_| String::new());
            }
            mesh.draw().map_err(err)?;
            let pt = shown.get(k).copied().unwrap_or(usize::MAX);
            let name = names.get(pt).map(String::as_str).unwrap_or("?");
            let packets = a.points.get(pt).map(|p| p.summary.packets).unwrap_or(0);
            area.draw_text(
                &plain(&format!("{name}  ({packets} packets captured)")),
                &bold(12.0),
                (68, 4),
            )
            .map_err(err)?;
            for (b, stack) in counts[k].iter().enumerate() {
                let x0 = b as f64 * bin_ns / 1e9;
                let x1 = (b as f64 + 1.0) * bin_ns / 1e9;
                // a 1 px gap between bars only where bars are wide enough to keep a width
                let wide =
                    chart.backend_coord(&(x1, 0.0)).0 - chart.backend_coord(&(x0, 0.0)).0 > 3;
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
                // a mark along the top where a suspicious verdict has packets: visible
                // however many symmetric packets share the bin
                if let Some(vk) = (0..suspicious).find(|&vk| stack[vk] > 0.0) {
                    let colour = rgb(verdict_colour(Verdict::ALL[vk].name()));
                    let top = ymax * 1.1;
                    let mut rect = Rectangle::new([(x0, top * 0.94), (x1, top)], colour.filled());
                    if wide {
                        rect.set_margin(0, 0, 0, 1);
                    }
                    chart.draw_series(std::iter::once(rect)).map_err(err)?;
                }
            }
        }
        legend(&bottom, &items, 12)?;
        let mut note_y = leg_h + 8;
        if approximated {
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

/// One delay sample between two consecutive sightings of a packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delay {
    /// The points, in the direction of travel; the same point for the time a forwarding point
    /// held the packet (arriving to leaving).
    pub from: usize,
    pub to: usize,
    /// 0 forward, 1 reverse.
    pub dir: usize,
    pub ns: i64,
}

/// The one-way delays of the conversations worth showing: between consecutive sightings of
/// every packet followed across points (aligned clocks), and, for a direction no packet of
/// was followed, the route's median delay per hop.
pub fn delays(a: &Analysis) -> Vec<Delay> {
    let mut out = Vec::new();
    for (c, j) in &a.conversations {
        if !worth_showing(j) {
            continue;
        }
        for dir in 0..2 {
            let mut traced = false;
            let route: Vec<usize> = c.route[dir].iter().map(|h| h.point).collect();
            let at = |pt: usize| route.iter().position(|&x| x == pt);
            for t in c.traces.iter().filter(|t| t.dir as usize == dir) {
                traced = true;
                for w in t.sightings.windows(2) {
                    // consecutive points of the route only: a sighting missing in between
                    // (not sampled there) would add two hops into one
                    let consecutive = match (at(w[0].point), at(w[1].point)) {
                        (Some(x), Some(y)) => y == x || y == x + 1,
                        _ => false,
                    };
                    if !consecutive {
                        continue;
                    }
                    out.push(Delay {
                        from: w[0].point,
                        to: w[1].point,
                        dir,
                        ns: w[1].ts - w[0].ts,
                    });
                }
            }
            if !traced {
                for w in c.route[dir].windows(2) {
                    if let Some(ns) = w[1].delay_ns {
                        out.push(Delay {
                            from: w[0].point,
                            to: w[1].point,
                            dir,
                            ns,
                        });
                    }
                }
            }
        }
    }
    out
}

fn delay_text(ns: f64, unit_us: bool) -> String {
    if unit_us {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Rows with more samples than this are drawn as a histogram instead of dots.
const MAX_DOTS: usize = 150;

/// Distribution of the one-way delay between consecutive points, per ordered pair.
pub fn latency(a: &Analysis, limit: usize) -> String {
    let names = a.point_names();
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| "?".into());
    let samples = delays(a);
    let mut pairs: BTreeMap<(usize, usize), Vec<Delay>> = BTreeMap::new();
    for d in &samples {
        pairs.entry((d.from, d.to)).or_default().push(*d);
    }
    let mut rows: Vec<((usize, usize), Vec<Delay>)> = pairs.into_iter().collect();
    rows.sort_by_key(|(k, v)| (std::cmp::Reverse(v.len()), name(k.0), name(k.1)));
    let left_out = rows.len().saturating_sub(limit);
    rows.truncate(limit);
    let labels: Vec<String> = rows
        .iter()
        .map(|((f, t), _)| {
            if f == t {
                format!("through {} (in → out)", name(*f))
            } else {
                format!("{} → {}", name(*f), name(*t))
            }
        })
        .collect();
    // the axis spans every row's 0.5th to 99.5th percentile (all of a row of few samples),
    // and 0
    let (mut lo, mut hi) = (0f64, 0f64);
    for (_, v) in &rows {
        let mut ns: Vec<i64> = v.iter().map(|d| d.ns).collect();
        ns.sort_unstable();
        let q = |f: f64| ns[((ns.len() - 1) as f64 * f).round() as usize] as f64;
        let (a, b) = if ns.len() > 200 {
            (q(0.005), q(0.995))
        } else {
            (q(0.0), q(1.0))
        };
        lo = lo.min(a);
        hi = hi.max(b);
    }
    let shown: Vec<i64> = rows
        .iter()
        .flat_map(|(_, v)| v.iter().map(|d| d.ns))
        .collect();
    let beyond = shown
        .iter()
        .filter(|&&ns| (ns as f64) < lo || (ns as f64) > hi)
        .count();
    let unit_us = hi.max(-lo) < 2e6;
    let medians: Vec<f64> = rows
        .iter()
        .map(|(_, v)| {
            let mut ns: Vec<i64> = v.iter().map(|d| d.ns).collect();
            ns.sort_unstable();
            ns[ns.len() / 2] as f64
        })
        .collect();
    let stats: Vec<String> = rows
        .iter()
        .zip(&medians)
        .map(|((_, v), m)| {
            format!(
                "{} packet{}, median {}",
                v.len(),
                if v.len() == 1 { "" } else { "s" },
                delay_text(*m, unit_us)
            )
        })
        .collect();
    let label_w = labels
        .iter()
        .map(|l| text_width(l, 12.0))
        .chain(stats.iter().map(|l| text_width(l, 10.0)))
        .fold(120.0, f64::max) as i32
        + 16;
    let scale = if unit_us { 1e3 } else { 1e6 };
    let (xlo, xhi) = (
        lo / scale,
        (hi / scale).max(if unit_us { 10.0 } else { 0.1 }),
    );
    let pad = (xhi - xlo) * 0.08;
    let items = vec![
        (
            "client → server (requests)".to_string(),
            FORWARD.to_string(),
        ),
        ("server → client (replies)".to_string(), REVERSE.to_string()),
        ("median".to_string(), super::INK.to_string()),
    ];
    let width = (label_w + 640).max(760) as u32;
    let leg_h = legend_height(&items, width as f64);
    let row_h = 40i32;
    let nrows = rows.len().max(1) as i32;
    let plot_h = row_h * nrows + 50;
    let u = a.clocks.max_uncertainty();
    let mut sub =
        "one dot per packet and hop (a histogram where there are many), on the aligned timeline"
            .to_string();
    if u > 0 {
        sub.push_str(&format!(
            " (clocks within ±{})",
            delay_text(u as f64, u < 2_000_000)
        ));
    }
    if beyond > 0 {
        sub = format!("{sub}; {beyond} beyond the axis not drawn");
    }
    if left_out > 0 {
        sub = format!("{sub}; {left_out} more pairs not shown");
    }
    let height = (72 + plot_h + leg_h + 16) as u32;
    render(width, height, |root| {
        title(
            root,
            "One-way delay between consecutive capture points",
            &sub,
        )?;
        let (_, rest) = root.split_vertically(64);
        let (plot, bottom) = rest.split_vertically(plot_h);
        if rows.is_empty() {
            plot.draw_text(
                "no delay to measure: it needs a conversation seen at two or more capture points",
                &muted(12.0),
                (20, 20),
            )
            .map_err(err)?;
            return Ok(());
        }
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(20)
            .margin_right(30)
            .margin_top(6)
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d((xlo - pad)..(xhi + pad), 0f64..rows.len() as f64)
            .map_err(err)?;
        let unit = if unit_us { "µs" } else { "ms" };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(8)
            .x_label_formatter(&|v| {
                if unit_us {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            })
            .x_desc(format!("one-way delay ({unit})"))
            .label_style(font(11.0))
            .axis_desc_style(muted(12.0))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        for (r, ((_, _), v)) in rows.iter().enumerate() {
            let yc = (rows.len() - r - 1) as f64 + 0.5;
            let (lx, py) = chart.backend_coord(&(xlo - pad, yc));
            root.draw_text(
                &plain(&labels[r]),
                &at(font(12.0), HPos::Right, VPos::Center),
                (lx - 8, py - 7),
            )
            .map_err(err)?;
            root.draw_text(
                &stats[r],
                &at(muted(10.0), HPos::Right, VPos::Center),
                (lx - 8, py + 8),
            )
            .map_err(err)?;
            let inside: Vec<&Delay> = v
                .iter()
                .filter(|d| (d.ns as f64) >= lo && (d.ns as f64) <= hi)
                .collect();
            if inside.len() <= MAX_DOTS {
                // one dot per sample, spread over the row's height by a deterministic jitter
                let mut sorted = inside;
                sorted.sort_by_key(|d| (d.ns, d.dir));
                for (k, d) in sorted.iter().enumerate() {
                    let jitter = ((k * 7) % 11) as i32 - 5;
                    let colour = rgb(if d.dir == 0 { FORWARD } else { REVERSE });
                    let dot = EmptyElement::at((d.ns as f64 / scale, yc))
                        + Circle::new((0, jitter * 2), 4, colour.mix(0.85).filled());
                    chart.draw_series(std::iter::once(dot)).map_err(err)?;
                }
            } else {
                // too many for dots: a mirrored histogram, requests above, replies below
                let bins = 100usize;
                let width = ((hi - lo) / bins as f64).max(1.0);
                let mut counts = vec![[0usize; 2]; bins];
                for d in &inside {
                    let b = (((d.ns as f64 - lo) / width) as usize).min(bins - 1);
                    counts[b][d.dir.min(1)] += 1;
                }
                let top = counts
                    .iter()
                    .flat_map(|c| c.iter())
                    .copied()
                    .max()
                    .unwrap_or(1) as f64;
                for (b, c) in counts.iter().enumerate() {
                    let x0 = (lo + b as f64 * width) / scale;
                    let x1 = (lo + (b + 1) as f64 * width) / scale;
                    for (dir, &n) in c.iter().enumerate() {
                        if n == 0 {
                            continue;
                        }
                        let h = 0.4 * n as f64 / top;
                        let (y0, y1) = if dir == 0 { (yc, yc + h) } else { (yc - h, yc) };
                        let colour = rgb(if dir == 0 { FORWARD } else { REVERSE });
                        let rect = Rectangle::new([(x0, y0), (x1, y1)], colour.mix(0.85).filled());
                        chart.draw_series(std::iter::once(rect)).map_err(err)?;
                    }
                }
            }
            let mark = EmptyElement::at((medians[r] / scale, yc))
                + PathElement::new(vec![(0, -15), (0, 15)], rgb(super::INK).stroke_width(2));
            chart.draw_series(std::iter::once(mark)).map_err(err)?;
        }
        legend(&bottom, &items, 10)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_keeps_the_ends_and_the_count() {
        assert_eq!(spread(10, 10, 3), vec![(10, 3.0)]);
        let v = spread(0, 100, 4);
        assert_eq!(v.len(), 4);
        assert!(v.contains(&(0, 1.0)) && v.contains(&(100, 1.0)));
        assert!(spread(0, 100, 0).is_empty());
    }
}
