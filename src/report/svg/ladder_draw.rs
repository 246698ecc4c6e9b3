//! ladder_draw: draws a [`Ladder`] (built by [`super::ladder`]) as SVG: the lanes, one arrow
//! per packet with its marks (seen, NAT, counted by the flow, passed by behind a gap, lost),
//! the compressed time column, the legend and the notes.

use super::ladder::{Ladder, Packet};
use super::{
    verdict_colour, wrap, Anchor, Svg, TextStyle, FORWARD, INK, LOST, MUTED, REVERSE, RULE,
};

const MARGIN: f64 = 20.0;
const ROW_MIN: f64 = 24.0;
const ROW_MAX: f64 = 64.0;
const BREAK_NS: i64 = 100_000_000;
const HEADER_H: f64 = 42.0;
const DOT: f64 = 4.5;
const SLANT: f64 = 12.0;

/// Vertical extra space for a gap of `dt` nanoseconds (0 for the same instant of one packet).
fn step(dt: i64) -> f64 {
    let ms = dt.max(0) as f64 / 1e6;
    (ROW_MIN + 8.0 * (1.0 + ms).log2()).min(ROW_MAX)
}

fn time_text(ns: i64, long: bool) -> String {
    if long {
        format!("+{:.6} s", ns as f64 / 1e9)
    } else {
        format!("+{:.3} ms", ns as f64 / 1e6)
    }
}

fn gap_text(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 1.0 {
        format!("{:.0} ms later", s * 1000.0)
    } else {
        format!("{s:.2} s later")
    }
}

/// Where an arrow crosses the lane of a point that never saw its direction: the arrow is
/// cut by a white gap the lane runs through unbroken (the arrow passes behind it), with a
/// hollow ring on the lane, so the crossing cannot read as a hop.
fn skipped_mark(svg: &mut Svg, x: f64, y: f64, colour: &str) {
    svg.rect(x - 11.0, y - 6.0, 22.0, 12.0, "#ffffff", None);
    svg.line(x, y - 8.0, x, y + 8.0, RULE, 1.5, None);
    svg.circle(x, y, DOT - 1.0, "#ffffff", Some((colour, 1.5)));
}

/// A legend item drawn at (x, y): its sample and label; returns its width.
fn legend_item(svg: &mut Svg, x: f64, y: f64, kind: usize, label: &str, draw: bool) -> f64 {
    let w = 34.0 + super::text_width(label, 11.0) + 18.0;
    if !draw {
        return w;
    }
    match kind {
        0 | 1 => {
            let c = if kind == 0 { FORWARD } else { REVERSE };
            svg.line(x, y, x + 24.0, y, c, 2.0, None);
            svg.arrowhead(x + 28.0, y, 1.0, 0.0, 8.0, c);
        }
        2 => svg.circle(x + 14.0, y, DOT, INK, None),
        3 => svg.rect(x + 14.0 - DOT, y - DOT, DOT * 2.0, DOT * 2.0, INK, None),
        4 => {
            svg.line(x, y, x + 28.0, y, INK, 2.0, None);
            skipped_mark(svg, x + 14.0, y, INK);
        }
        5 => svg.cross(x + 14.0, y, 5.0, LOST),
        7 => {
            svg.line(x, y, x + 28.0, y, INK, 2.0, None);
            svg.circle(x + 14.0, y, DOT, INK, Some(("#ffffff", 1.5)));
        }
        _ => svg.line(x, y, x + 28.0, y, INK, 1.5, Some("5 4")),
    }
    svg.text(x + 34.0, y + 4.0, label, TextStyle::new(11.0, INK));
    w
}

/// Draws the ladder.
pub fn render(l: &Ladder) -> String {
    // columns
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
    let notes: Vec<Vec<&str>> = l
        .lanes
        .iter()
        .map(|ln| ln.note.split("; ").filter(|s| !s.is_empty()).collect())
        .collect();
    let note_lines = notes.iter().map(Vec::len).max().unwrap_or(0);
    let header_h = HEADER_H + 14.0 * note_lines.saturating_sub(1) as f64;
    let lane_w = l
        .lanes
        .iter()
        .zip(&notes)
        .map(|(ln, note)| {
            note.iter()
                .map(|s| super::text_width(s, 11.0))
                .fold(super::text_width(&ln.name, 13.0), f64::max)
                + 28.0
        })
        .fold(170.0, f64::max)
        .min(340.0);
    let lanes_left = MARGIN + col_w;
    let lane_x = |i: usize| lanes_left + lane_w * (i as f64 + 0.5);
    let width = (lanes_left + lane_w * l.lanes.len() as f64 + MARGIN).max(560.0);
    let text_w = width - 2.0 * MARGIN;

    // rows: one per (packet, instant); distinct packets never share a row
    let mut events: Vec<(i64, usize, usize)> = Vec::new();
    for (pi, p) in l.packets.iter().enumerate() {
        for (oi, o) in p.obs.iter().enumerate() {
            events.push((o.t, pi, oi));
        }
    }
    events.sort();
    let title_lines = wrap(&l.title, 16.0, text_w);
    let header_y = MARGIN + 20.0 * title_lines.len() as f64 + 30.0;
    let events_top = header_y + header_h + 22.0;
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

    // bottom text
    let mut legend_kinds: Vec<(usize, &str)> = Vec::new();
    if l.packets.iter().any(|p| p.dir == 0) {
        legend_kinds.push((0, "client → server"));
    }
    if l.packets.iter().any(|p| p.dir == 1) {
        legend_kinds.push((1, "server → client"));
    }
    legend_kinds.push((2, "seen at the point"));
    if l.packets.iter().any(|p| p.obs.iter().any(|o| o.nat)) {
        legend_kinds.push((3, "NAT rewrite here"));
    }
    // lanes crossed without a sighting: off the direction's path (bypassed), or on it
    let mut crossed = [false, false];
    for p in &l.packets {
        for w in p.obs.windows(2) {
            let (lo, hi) = (w[0].lane.min(w[1].lane), w[0].lane.max(w[1].lane));
            for m in lo + 1..hi {
                crossed[usize::from(p.counted_lanes.contains(&m))] = true;
            }
        }
    }
    if crossed[0] {
        legend_kinds.push((
            4,
            "lane crossed, not seen there: the arrow passes behind a gap",
        ));
    }
    if crossed[1] {
        legend_kinds.push((
            7,
            "counted by that point's flow, not matched there one by one",
        ));
    }
    if l.packets.iter().any(|p| p.lost) {
        legend_kinds.push((5, "lost: not seen after this point"));
    }
    if l.lanes.iter().any(|ln| ln.endpoint) {
        legend_kinds.push((6, "inferred, not captured"));
    }
    let mut legend_rows = 1;
    let mut lx = 0.0;
    for (k, label) in &legend_kinds {
        let mut scratch = Svg::new(1.0, 1.0, "", "");
        let w = legend_item(&mut scratch, 0.0, 0.0, *k, label, false);
        if lx > 0.0 && lx + w > text_w {
            legend_rows += 1;
            lx = 0.0;
        }
        lx += w;
    }
    let mut bottom_lines: Vec<(String, bool)> = Vec::new();
    for line in wrap(&format!("Evidence: {}", l.evidence), 11.0, text_w) {
        bottom_lines.push((line, false));
    }
    for note in &l.notes {
        for line in wrap(note, 11.0, text_w) {
            bottom_lines.push((line, true));
        }
    }
    let legend_top = events_bottom + 16.0;
    let text_top = legend_top + 20.0 * legend_rows as f64 + 10.0;
    let height = text_top + 15.0 * bottom_lines.len() as f64 + MARGIN;

    let mut svg = Svg::new(
        width,
        height,
        &format!(
            "Ladder of conversation {}: {} ({})",
            l.id, l.title, l.verdict
        ),
        "ladder",
    );
    // title and verdict
    let mut ty = MARGIN + 14.0;
    for line in &title_lines {
        svg.text(MARGIN, ty, line, TextStyle::new(16.0, INK).bold());
        ty += 20.0;
    }
    let vw = super::text_width(&l.verdict, 12.0) + 16.0;
    svg.round_rect(
        MARGIN,
        ty - 6.0,
        vw,
        19.0,
        9.5,
        verdict_colour(&l.verdict),
        "none",
    );
    svg.text(
        MARGIN + vw / 2.0,
        ty + 8.0,
        &l.verdict,
        TextStyle::new(12.0, "#ffffff")
            .bold()
            .anchor(Anchor::Middle),
    );
    svg.text(
        MARGIN + vw + 8.0,
        ty + 8.0,
        &format!("conversation {}", l.id),
        TextStyle::new(12.0, MUTED),
    );
    // lanes
    for (i, ln) in l.lanes.iter().enumerate() {
        let x = lane_x(i);
        let bw = lane_w - 16.0;
        svg.open(&[
            ("class", "lane"),
            ("data-lane", &ln.name),
            ("data-endpoint", if ln.endpoint { "true" } else { "false" }),
        ]);
        let (fill, stroke) = if ln.endpoint {
            ("#ffffff", "#999999")
        } else {
            ("#f3f6fa", "#7a8ca3")
        };
        svg.round_rect(x - bw / 2.0, header_y, bw, header_h, 6.0, fill, stroke);
        let lines = &notes[i];
        let block = 16.0 + 14.0 * lines.len() as f64;
        let mut ty = header_y + (header_h - block) / 2.0 + 13.0;
        svg.text(
            x,
            ty,
            &super::fit(&ln.name, 13.0, bw - 10.0),
            TextStyle::new(13.0, INK).bold().anchor(Anchor::Middle),
        );
        for line in lines {
            ty += 14.0;
            svg.text(
                x,
                ty,
                &super::fit(line, 11.0, bw - 10.0),
                TextStyle::new(11.0, MUTED).anchor(Anchor::Middle),
            );
        }
        let dash = if ln.endpoint { Some("6 5") } else { None };
        svg.line(x, header_y + header_h, x, events_bottom, RULE, 1.5, dash);
        svg.close();
    }
    // time breaks
    for &(gy, dt) in &gaps {
        svg.line(
            lanes_left,
            gy,
            lanes_left + lane_w * l.lanes.len() as f64,
            gy,
            "#d0d0d0",
            1.0,
            Some("2 4"),
        );
        svg.text(
            lanes_left - 8.0,
            gy + 4.0,
            &gap_text(dt),
            TextStyle::new(10.0, "#999999").anchor(Anchor::End),
        );
    }
    svg.text(
        MARGIN,
        events_top - 14.0,
        "time (first packet = 0)",
        TextStyle::new(10.0, MUTED),
    );
    // packets
    for (pi, p) in l.packets.iter().enumerate() {
        let colour = if p.dir == 0 { FORWARD } else { REVERSE };
        let dir_name = if p.dir == 0 { "forward" } else { "reverse" };
        svg.open(&[
            ("class", "packet"),
            ("data-dir", dir_name),
            ("data-lanes", &lane_names(l, p)),
        ]);
        let mut tip = vec![p.label.clone()];
        tip.extend(
            p.obs
                .iter()
                .filter(|o| !o.detail.is_empty())
                .map(|o| o.detail.clone()),
        );
        if !p.hover.is_empty() {
            tip.push(p.hover.clone());
        }
        svg.tooltip(&tip.join("\n"));
        let ys = &row_y[pi];
        // the label in the left column
        let label_at = p.obs.iter().position(|o| o.seen).unwrap_or(0);
        if let Some(o) = p.obs.get(label_at) {
            let y0 = ys[label_at];
            svg.text(
                MARGIN + time_w,
                y0 + 4.0,
                &time_text(o.t - start, long_times),
                TextStyle::new(11.0, MUTED).anchor(Anchor::End),
            );
            svg.text(
                MARGIN + time_w + 10.0,
                y0 + 4.0,
                &p.label,
                TextStyle::new(11.0, colour).bold(),
            );
        }
        for k in 1..p.obs.len() {
            let (a, b) = (&p.obs[k - 1], &p.obs[k]);
            let (xa, ya, xb, yb) = (lane_x(a.lane), ys[k - 1], lane_x(b.lane), ys[k]);
            if a.lane == b.lane {
                svg.line(xa, ya, xb, yb, colour, 3.0, None);
                continue;
            }
            let dash = if a.seen && b.seen { None } else { Some("6 4") };
            let (dx, dy) = (xb - xa, yb - ya);
            let len = (dx * dx + dy * dy).sqrt().max(1e-9);
            let back = if b.seen { DOT + 1.0 } else { 1.0 };
            let (tx, ty) = (xb - dx / len * back, yb - dy / len * back);
            svg.line(
                xa,
                ya,
                tx - dx / len * 6.0,
                ty - dy / len * 6.0,
                colour,
                2.0,
                dash,
            );
            svg.arrowhead(tx, ty, dx, dy, 10.0, colour);
            // lanes crossed without a sighting: counted there by the flow, or passed by
            let (lo, hi) = (a.lane.min(b.lane), a.lane.max(b.lane));
            for m in lo + 1..hi {
                let xm = lane_x(m);
                let ym = ya + (yb - ya) * (xm - xa) / dx;
                let lane = l.lanes.get(m).map_or("", |x| x.name.as_str());
                if p.counted_lanes.contains(&m) {
                    svg.open(&[("class", "counted"), ("data-lane", lane)]);
                    svg.circle(xm, ym, DOT, colour, Some(("#ffffff", 1.5)));
                } else {
                    svg.open(&[("class", "skipped"), ("data-lane", lane)]);
                    skipped_mark(&mut svg, xm, ym, colour);
                }
                svg.close();
            }
        }
        for (k, o) in p.obs.iter().enumerate() {
            if !o.seen {
                continue;
            }
            let (x, y) = (lane_x(o.lane), ys[k]);
            if o.nat {
                svg.rect(
                    x - DOT - 0.5,
                    y - DOT - 0.5,
                    2.0 * DOT + 1.0,
                    2.0 * DOT + 1.0,
                    colour,
                    Some(INK),
                );
            } else {
                svg.circle(x, y, DOT, colour, None);
            }
        }
        if p.lost {
            if let Some(o) = p.obs.last() {
                let x = lane_x(o.lane);
                let y = ys[p.obs.len() - 1];
                let sign = if p.dir == 0 { 1.0 } else { -1.0 };
                let reach = (lane_w * 0.45).min(70.0);
                svg.line(x, y, x + sign * reach, y + 14.0, colour, 2.0, Some("4 4"));
                svg.cross(x + sign * (reach + 6.0), y + 16.0, 5.0, LOST);
            }
        }
        svg.close();
    }
    // legend
    let mut lx = MARGIN;
    let mut ly = legend_top + 6.0;
    for (k, label) in &legend_kinds {
        let mut scratch = Svg::new(1.0, 1.0, "", "");
        let w = legend_item(&mut scratch, 0.0, 0.0, *k, label, false);
        if lx > MARGIN && lx + w > MARGIN + text_w {
            lx = MARGIN;
            ly += 20.0;
        }
        legend_item(&mut svg, lx, ly, *k, label, true);
        lx += w;
    }
    let mut by = text_top + 8.0;
    for (line, muted) in &bottom_lines {
        svg.text(
            MARGIN,
            by,
            line,
            TextStyle::new(11.0, if *muted { MUTED } else { INK }),
        );
        by += 15.0;
    }
    svg.finish()
}

fn lane_names(l: &Ladder, p: &Packet) -> String {
    let mut v: Vec<&str> = p
        .obs
        .iter()
        .filter(|o| o.seen)
        .filter_map(|o| l.lanes.get(o.lane).map(|x| x.name.as_str()))
        .collect();
    v.dedup();
    v.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::ladder::{Lane, Obs};

    fn obs(lane: usize, t: i64) -> Obs {
        Obs {
            lane,
            t,
            seen: true,
            nat: false,
            detail: String::new(),
        }
    }

    #[test]
    fn rows_grow_with_the_gap_but_stay_bounded() {
        assert!(step(1_000) >= ROW_MIN);
        assert!(step(1_000_000) > step(1_000));
        assert!(step(10_000_000_000) <= ROW_MAX);
    }

    #[test]
    fn a_ladder_names_its_lanes_and_draws_one_group_per_packet() {
        let l = Ladder {
            id: 7,
            title: "icmp a → b id 1".into(),
            verdict: "asymmetric".into(),
            evidence: "something <odd> & \"quoted\"".into(),
            lanes: ["vpn-client", "hub-nva", "spoke1-vm"]
                .iter()
                .map(|n| Lane {
                    name: n.to_string(),
                    note: String::new(),
                    endpoint: false,
                })
                .collect(),
            packets: vec![
                Packet {
                    dir: 0,
                    label: "echo request".into(),
                    obs: vec![obs(0, 0), obs(2, 50_000)],
                    lost: false,
                    counted_lanes: vec![0, 2],
                    hover: String::new(),
                },
                Packet {
                    dir: 1,
                    label: "echo reply".into(),
                    obs: vec![obs(2, 100_000), obs(1, 120_000), obs(0, 150_000)],
                    lost: false,
                    counted_lanes: vec![2, 1, 0],
                    hover: String::new(),
                },
            ],
            notes: vec![],
        };
        let svg = render(&l);
        assert_eq!(svg.matches("class=\"packet\"").count(), 2);
        assert!(svg.contains("data-lane=\"hub-nva\""));
        assert!(svg.contains("&lt;odd&gt; &amp; &quot;quoted&quot;"));
        // the request bypassed hub-nva: a gap, a hollow ring, named
        assert!(svg.contains("fill=\"#ffffff\" stroke=\"#1f77b4\""));
        assert!(svg.contains("class=\"skipped\" data-lane=\"hub-nva\""));
        assert!(!svg.contains("class=\"counted\""));
    }
}
