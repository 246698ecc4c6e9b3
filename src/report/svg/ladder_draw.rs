//! ladder_draw: draws a [`Ladder`] (built by [`super::ladder`], laid out by
//! [`super::ladder_layout`]) as SVG: the lanes, one arrow per packet with its marks (seen,
//! NAT, counted by the flow, passed by behind a gap, lost), the compressed time column, the
//! legend and the notes.

use super::ladder::{Ladder, Obs, Packet};
use super::ladder_layout::{
    crosses_off, layout, legend_item_width, time_text, Layout, LegendKind, DOT, MARGIN,
};
use super::{verdict_colour, Anchor, Svg, TextStyle, FORWARD, INK, LOST, MUTED, REVERSE, RULE};

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

/// The fill and outline of a lane's not-capturing band.
const OFF_FILL: &str = "#eeeeee";
const OFF_STROKE: &str = "#bdbdbd";

/// Where an arrow crosses the lane of a point that was not capturing then: a neutral grey
/// ring (the point could not have seen it; nothing is said about the path).
fn off_mark(svg: &mut Svg, x: f64, y: f64) {
    svg.circle(x, y, DOT - 1.0, "#ffffff", Some(("#9e9e9e", 1.5)));
}

/// A legend item drawn at (x, y): its sample and label.
fn legend_item(svg: &mut Svg, x: f64, y: f64, kind: LegendKind, label: &str) {
    match kind {
        LegendKind::Forward | LegendKind::Reverse => {
            let c = if kind == LegendKind::Forward {
                FORWARD
            } else {
                REVERSE
            };
            svg.line(x, y, x + 24.0, y, c, 2.0, None);
            svg.arrowhead(x + 28.0, y, 1.0, 0.0, 8.0, c);
        }
        LegendKind::Seen => svg.circle(x + 14.0, y, DOT, INK, None),
        LegendKind::Nat => svg.rect(x + 14.0 - DOT, y - DOT, DOT * 2.0, DOT * 2.0, INK, None),
        LegendKind::Skipped => {
            svg.line(x, y, x + 28.0, y, INK, 2.0, None);
            skipped_mark(svg, x + 14.0, y, INK);
        }
        LegendKind::Lost => svg.cross(x + 14.0, y, 5.0, LOST),
        LegendKind::Counted => {
            svg.line(x, y, x + 28.0, y, INK, 2.0, None);
            svg.circle(x + 14.0, y, DOT, INK, Some(("#ffffff", 1.5)));
        }
        LegendKind::Inferred => svg.line(x, y, x + 28.0, y, INK, 1.5, Some("5 4")),
        LegendKind::NotCapturing => {
            svg.rect(x + 6.0, y - 8.0, 16.0, 16.0, OFF_FILL, Some(OFF_STROKE));
            svg.line(x, y, x + 28.0, y, INK, 2.0, None);
            off_mark(svg, x + 14.0, y);
        }
    }
    svg.text(x + 34.0, y + 4.0, label, TextStyle::new(11.0, INK));
}

/// Draws the ladder.
pub fn render(l: &Ladder) -> String {
    let lay = layout(l);
    let mut svg = Svg::new(
        lay.width,
        lay.height,
        &format!(
            "Ladder of conversation {}: {} ({})",
            l.id, l.title, l.verdict
        ),
        "ladder",
    );
    draw_title(&mut svg, l, &lay);
    draw_lanes(&mut svg, l, &lay);
    draw_time_breaks(&mut svg, l, &lay);
    for (pi, p) in l.packets.iter().enumerate() {
        draw_packet(&mut svg, l, &lay, p, &lay.row_y[pi]);
    }
    draw_legend(&mut svg, &lay);
    let mut by = lay.text_top + 8.0;
    for (line, muted) in &lay.bottom_lines {
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

/// The title, the verdict's badge and the conversation's number.
fn draw_title(svg: &mut Svg, l: &Ladder, lay: &Layout) {
    let mut ty = MARGIN + 14.0;
    for line in &lay.title_lines {
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
}

/// Each lane: its header box (name, notes) and its vertical line.
fn draw_lanes(svg: &mut Svg, l: &Ladder, lay: &Layout) {
    let (header_y, header_h) = (lay.header_y, lay.header_h);
    for (i, ln) in l.lanes.iter().enumerate() {
        let x = lay.lane_x(i);
        let bw = lay.lane_w - 16.0;
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
        let lines = &lay.notes[i];
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
        svg.line(
            x,
            header_y + header_h,
            x,
            lay.events_bottom,
            RULE,
            1.5,
            dash,
        );
        svg.close();
        if let Some((y0, y1)) = lay.bands.get(i).copied().flatten() {
            svg.open(&[("class", "not-capturing"), ("data-lane", &ln.name)]);
            let (tip, label) = if ln.missed {
                (
                    "capturing, yet its capture missed these packets",
                    "capture missed",
                )
            } else {
                ("not capturing then", "not capturing")
            };
            svg.tooltip(&format!("{}: {tip}", ln.name));
            svg.rect(x - 12.0, y0, 24.0, y1 - y0, OFF_FILL, Some(OFF_STROKE));
            svg.text(
                x,
                y0 + 12.0,
                label,
                TextStyle::new(10.0, MUTED).anchor(Anchor::Middle),
            );
            svg.close();
        }
    }
}

/// The dotted bands of shortened gaps, with how long each was, and the time column's head.
fn draw_time_breaks(svg: &mut Svg, l: &Ladder, lay: &Layout) {
    let lanes_left = lay.lanes_left;
    for &(gy, dt) in &lay.gaps {
        svg.line(
            lanes_left,
            gy,
            lanes_left + lay.lane_w * l.lanes.len() as f64,
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
        lay.events_top - 14.0,
        "time (first packet = 0)",
        TextStyle::new(10.0, MUTED),
    );
}

/// One packet: its group with the tooltip, its time and label in the left column, its hops,
/// its marks at each lane, and the lost mark.
fn draw_packet(svg: &mut Svg, l: &Ladder, lay: &Layout, p: &Packet, ys: &[f64]) {
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
    // the label in the left column
    let label_at = p.obs.iter().position(|o| o.seen).unwrap_or(0);
    if let Some(o) = p.obs.get(label_at) {
        let y0 = ys[label_at];
        svg.text(
            MARGIN + lay.time_w,
            y0 + 4.0,
            &time_text(o.t - lay.start, lay.long_times),
            TextStyle::new(11.0, MUTED).anchor(Anchor::End),
        );
        svg.text(
            MARGIN + lay.time_w + 10.0,
            y0 + 4.0,
            &p.label,
            TextStyle::new(11.0, colour).bold(),
        );
    }
    for k in 1..p.obs.len() {
        draw_hop(
            svg,
            l,
            lay,
            p,
            colour,
            (&p.obs[k - 1], ys[k - 1]),
            (&p.obs[k], ys[k]),
        );
    }
    draw_sightings(svg, lay, p, colour, ys);
    if p.lost {
        if let Some(o) = p.obs.last() {
            let x = lay.lane_x(o.lane);
            let y = ys[p.obs.len() - 1];
            let sign = if p.dir == 0 { 1.0 } else { -1.0 };
            let reach = (lay.lane_w * 0.45).min(70.0);
            svg.line(x, y, x + sign * reach, y + 14.0, colour, 2.0, Some("4 4"));
            svg.cross(x + sign * (reach + 6.0), y + 16.0, 5.0, LOST);
        }
    }
    svg.close();
}

/// One hop of a packet, from observation `a` (at row y `ya`) to `b`: a held segment on one
/// lane, or an arrow with a mark on each lane it crosses without a sighting.
fn draw_hop(
    svg: &mut Svg,
    l: &Ladder,
    lay: &Layout,
    p: &Packet,
    colour: &str,
    (a, ya): (&Obs, f64),
    (b, yb): (&Obs, f64),
) {
    let (xa, xb) = (lay.lane_x(a.lane), lay.lane_x(b.lane));
    if a.lane == b.lane {
        svg.line(xa, ya, xb, yb, colour, 3.0, None);
        return;
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
        let xm = lay.lane_x(m);
        let ym = ya + (yb - ya) * (xm - xa) / dx;
        let lane = l.lanes.get(m).map_or("", |x| x.name.as_str());
        if crosses_off(l, m, a, b) {
            svg.open(&[("class", "not-capturing-crossed"), ("data-lane", lane)]);
            off_mark(svg, xm, ym);
        } else if p.counted_lanes.contains(&m) {
            svg.open(&[("class", "counted"), ("data-lane", lane)]);
            svg.circle(xm, ym, DOT, colour, Some(("#ffffff", 1.5)));
        } else {
            svg.open(&[("class", "skipped"), ("data-lane", lane)]);
            skipped_mark(svg, xm, ym, colour);
        }
        svg.close();
    }
}

/// A dot where a point saw the packet, a square where it rewrote it.
fn draw_sightings(svg: &mut Svg, lay: &Layout, p: &Packet, colour: &str, ys: &[f64]) {
    for (k, o) in p.obs.iter().enumerate() {
        if !o.seen {
            continue;
        }
        let (x, y) = (lay.lane_x(o.lane), ys[k]);
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
}

/// The legend's items, wrapped at the text width.
fn draw_legend(svg: &mut Svg, lay: &Layout) {
    let mut lx = MARGIN;
    let mut ly = lay.legend_top + 6.0;
    for (k, label) in &lay.legend {
        let w = legend_item_width(label);
        if lx > MARGIN && lx + w > MARGIN + lay.text_w {
            lx = MARGIN;
            ly += 20.0;
        }
        legend_item(svg, lx, ly, *k, label);
        lx += w;
    }
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
    use crate::report::svg::ladder::Lane;
    use crate::report::svg::ladder_layout::{step, ROW_MAX, ROW_MIN};

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
                    off: None,
                    missed: false,
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
