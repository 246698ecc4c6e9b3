//! latency: the one-way delay chart, drawn with plotters like the other charts
//! ([`super::charts`]), with a hover target over each dot naming its conversation and packet
//! (plotters draws no tooltips).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::plot::{at, err, font, legend, legend_height, muted, render, title, Area, Chart, Res};
use super::{plain, rgb, text_width, worth_showing, FORWARD, REVERSE};
use crate::decode::proto;
use crate::report::Analysis;

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
    /// The conversation (index into [`Analysis::conversations`]).
    pub conv: usize,
    /// The packet's TCP or echo sequence number; None for a route's median delay.
    pub seq: Option<u32>,
}

/// The one-way delays of the conversations worth showing: between consecutive sightings of
/// every packet followed across points (aligned clocks), and, for a direction no packet of
/// was followed, the route's median delay per hop.
pub fn delays(a: &Analysis) -> Vec<Delay> {
    let mut out = Vec::new();
    for (conv, (c, j)) in a.conversations.iter().enumerate() {
        if !worth_showing(j) {
            continue;
        }
        for dir in 0..2 {
            let mut traced = false;
            let route: Vec<usize> = c.route[dir].iter().map(|h| h.point).collect();
            let at = |pt: usize| route.iter().position(|&x| x == pt);
            for t in c.traces.iter().filter(|t| t.dir.index() == dir) {
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
                        conv,
                        seq: Some(t.seq),
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
                            conv,
                            seq: None,
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

/// What the latency chart shows, worked out before drawing.
struct Plan {
    /// One row per ordered pair of points (the busiest first), with its samples.
    rows: Vec<((usize, usize), Vec<Delay>)>,
    /// Each row's name ("a → b", "through x (in → out)") and count and median.
    labels: Vec<String>,
    stats: Vec<String>,
    medians: Vec<f64>,
    /// The axis's span in ns (samples outside it are not drawn).
    lo: f64,
    hi: f64,
    /// Samples outside the axis; pairs left out by the limit.
    beyond: usize,
    left_out: usize,
    /// The axis is in µs (else ms).
    unit_us: bool,
    label_w: i32,
}

impl Plan {
    /// Nanoseconds per axis unit.
    fn scale(&self) -> f64 {
        if self.unit_us {
            1e3
        } else {
            1e6
        }
    }

    /// The axis's ends, in its unit, before padding.
    fn x_range(&self) -> (f64, f64) {
        let scale = self.scale();
        (
            self.lo / scale,
            (self.hi / scale).max(if self.unit_us { 10.0 } else { 0.1 }),
        )
    }
}

/// The pairs of points to draw (at most `limit`, the busiest first), their names, the axis.
fn plan(a: &Analysis, limit: usize) -> Plan {
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
    let beyond = rows
        .iter()
        .flat_map(|(_, v)| v.iter().map(|d| d.ns))
        .filter(|&ns| (ns as f64) < lo || (ns as f64) > hi)
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
    Plan {
        rows,
        labels,
        stats,
        medians,
        lo,
        hi,
        beyond,
        left_out,
        unit_us,
        label_w,
    }
}

/// The line under the title: what a dot is, the clocks' uncertainty, what was left out.
fn subtitle(a: &Analysis, p: &Plan) -> String {
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
    if p.beyond > 0 {
        sub = format!("{sub}; {} beyond the axis not drawn", p.beyond);
    }
    if p.left_out > 0 {
        sub = format!("{sub}; {} more pairs not shown", p.left_out);
    }
    sub
}

/// A dot's tooltip: its conversation, direction, packet and delay.
fn tip(a: &Analysis, d: &Delay, unit_us: bool) -> String {
    let conv = a.conversations.get(d.conv).map(|(c, _)| c);
    let what = match (conv, d.seq) {
        (Some(c), Some(seq)) if c.ip_proto == proto::TCP => format!("packet TCP seq {seq}"),
        (Some(_), Some(seq)) => format!("packet seq {seq}"),
        _ => "the route's median".to_string(),
    };
    format!(
        "conversation {} ({}), {} {}: {}",
        a.id(d.conv),
        conv.map(super::conversation_label).unwrap_or_default(),
        if d.dir == 0 { "request" } else { "reply" },
        what,
        delay_text(d.ns as f64, unit_us)
    )
}

/// Distribution of the one-way delay between consecutive points, per ordered pair.
pub fn latency(a: &Analysis, limit: usize) -> String {
    let p = plan(a, limit);
    let items = vec![
        (
            "client → server (requests)".to_string(),
            FORWARD.to_string(),
        ),
        ("server → client (replies)".to_string(), REVERSE.to_string()),
        ("median".to_string(), super::INK.to_string()),
    ];
    let width = (p.label_w + 640).max(760) as u32;
    let leg_h = legend_height(&items, width as f64);
    let nrows = p.rows.len().max(1) as i32;
    let plot_h = 40 * nrows + 50;
    let sub = subtitle(a, &p);
    let height = (72 + plot_h + leg_h + 16) as u32;
    // (x, y, tooltip) of every dot drawn, for the hover targets added after plotters
    let mut hover: Vec<(i32, i32, String)> = Vec::new();
    let svg = render(width, height, |root| {
        title(
            root,
            "One-way delay between consecutive capture points",
            &sub,
        )?;
        let (_, rest) = root.split_vertically(64);
        let (plot, bottom) = rest.split_vertically(plot_h);
        if p.rows.is_empty() {
            plot.draw_text(
                "no delay to measure: it needs a conversation seen at two or more capture points",
                &muted(12.0),
                (20, 20),
            )
            .map_err(err)?;
            return Ok(());
        }
        let mut chart = axes(&plot, &p)?;
        for r in 0..p.rows.len() {
            draw_row(root, &mut chart, &p, r, &mut |d, x, y| {
                hover.push((x, y, tip(a, d, p.unit_us)))
            })?;
        }
        legend(&bottom, &items, 10)?;
        Ok(())
    });
    with_hover_targets(svg, &hover)
}

/// The chart's axes and mesh, the delay across in the plan's unit.
fn axes<'a, 'b>(plot: &'a Area<'b>, p: &Plan) -> Result<Chart<'a, 'b>, String> {
    let (xlo, xhi) = p.x_range();
    let pad = (xhi - xlo) * 0.08;
    let mut chart = ChartBuilder::on(plot)
        .margin_left(20)
        .margin_right(30)
        .margin_top(6)
        .x_label_area_size(44)
        .y_label_area_size(p.label_w)
        .build_cartesian_2d((xlo - pad)..(xhi + pad), 0f64..p.rows.len() as f64)
        .map_err(err)?;
    let unit_us = p.unit_us;
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
    Ok(chart)
}

/// Row `r`: its name and statistics on the left, its samples (dots, each reported to
/// `dot` with where it was drawn, or a histogram) and its median mark.
fn draw_row(
    root: &Area,
    chart: &mut Chart,
    p: &Plan,
    r: usize,
    dot: &mut dyn FnMut(&Delay, i32, i32),
) -> Res {
    let (xlo, xhi) = p.x_range();
    let pad = (xhi - xlo) * 0.08;
    let scale = p.scale();
    let v = &p.rows[r].1;
    let yc = (p.rows.len() - r - 1) as f64 + 0.5;
    let (lx, py) = chart.backend_coord(&(xlo - pad, yc));
    root.draw_text(
        &plain(&p.labels[r]),
        &at(font(12.0), HPos::Right, VPos::Center),
        (lx - 8, py - 7),
    )
    .map_err(err)?;
    root.draw_text(
        &p.stats[r],
        &at(muted(10.0), HPos::Right, VPos::Center),
        (lx - 8, py + 8),
    )
    .map_err(err)?;
    let inside: Vec<&Delay> = v
        .iter()
        .filter(|d| (d.ns as f64) >= p.lo && (d.ns as f64) <= p.hi)
        .collect();
    if inside.len() <= MAX_DOTS {
        // one dot per sample, spread over the row's height by a deterministic jitter
        let mut sorted = inside;
        sorted.sort_by_key(|d| (d.ns, d.dir));
        for (k, d) in sorted.iter().enumerate() {
            let jitter = ((k * 7) % 11) as i32 - 5;
            let colour = rgb(if d.dir == 0 { FORWARD } else { REVERSE });
            let el = EmptyElement::at((d.ns as f64 / scale, yc))
                + Circle::new((0, jitter * 2), 4, colour.mix(0.85).filled());
            chart.draw_series(std::iter::once(el)).map_err(err)?;
            let (x, y) = chart.backend_coord(&(d.ns as f64 / scale, yc));
            dot(d, x, y + jitter * 2);
        }
    } else {
        draw_histogram(chart, p, &inside, yc)?;
    }
    let mark = EmptyElement::at((p.medians[r] / scale, yc))
        + PathElement::new(vec![(0, -15), (0, 15)], rgb(super::INK).stroke_width(2));
    chart.draw_series(std::iter::once(mark)).map_err(err)?;
    Ok(())
}

/// Too many samples for dots: a mirrored histogram centred on row y `yc`, requests above,
/// replies below.
fn draw_histogram(chart: &mut Chart, p: &Plan, inside: &[&Delay], yc: f64) -> Res {
    let (lo, hi, scale) = (p.lo, p.hi, p.scale());
    let bins = 100usize;
    let width = ((hi - lo) / bins as f64).max(1.0);
    let mut counts = vec![[0usize; 2]; bins];
    for d in inside {
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
    Ok(())
}

/// Adds an invisible circle with a `<title>` over each dot (plotters draws no tooltips), so
/// that hovering a dot names its conversation and packet.
fn with_hover_targets(svg: String, dots: &[(i32, i32, String)]) -> String {
    let Some(end) = svg.rfind("</svg>") else {
        return svg;
    };
    let mut out = String::with_capacity(svg.len() + dots.len() * 120);
    out.push_str(&svg[..end]);
    for (x, y, t) in dots {
        let _ = writeln!(
            out,
            "<circle class=\"dot\" cx=\"{x}\" cy=\"{y}\" r=\"5\" fill=\"#ffffff\" fill-opacity=\"0\"><title>{}</title></circle>",
            super::escape(t)
        );
    }
    out.push_str(&svg[end..]);
    out
}
