//! ladder: the sequence diagram of one conversation, the picture of the asymmetric route.
//!
//! One vertical lane per capture point that saw the conversation, ordered from the client's
//! side to the server's (the path of the requests merged with the reverse of the path of the
//! replies); time goes down. Each packet the correlation followed across the points
//! (`Conversation::traces`) is one arrow through the lanes where it was seen: a dot where a
//! point captured it, a short thick segment where a point held it (arriving, then leaving),
//! a square where a point rewrote it (NAT), a hollow ring where the arrow crosses a lane whose
//! point never saw that direction (bypassed), a small dot where that point's flow counted the
//! direction but this packet was not matched there one by one (the flow tables know it was
//! there: sampled or not, it was seen), a red cross after the point where its direction was
//! lost (`Conversation::losses`). A direction no packet was followed for (seen at one point
//! only) gets one arrow for its first packet, labelled with how many it stands for.
//!
//! A conversation seen at one point only is drawn on that point and the endpoints it does not
//! host (the "two endpoints and the point"); the endpoints' lanes are dashed (not
//! captured) and so are the hops inferred to them.
//!
//! Time is compressed: every packet gets its own row, rows are at least a line apart and long
//! gaps are shortened (a dotted band says how long); the left column gives each packet's time
//! since the first on the aligned timeline, so order and delays stay readable without a
//! linear scale.

use std::collections::BTreeMap;

use super::{
    conversation_label, verdict_colour, wrap, Anchor, Limits, Svg, TextStyle, FORWARD, INK, LOST,
    MUTED, REVERSE, RULE,
};
use crate::correlate::{ConvPoint, Conversation, Loss, PacketTrace, RewriteAt, Sighting};
use crate::flow::KeyKind;
use crate::report::{endpoint_text, Analysis};

/// A vertical lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub name: String,
    /// A second, smaller line: "client (not captured)", "forwarded the replies", "NAT ...".
    pub note: String,
    /// An endpoint inferred from the addresses, not a capture point.
    pub endpoint: bool,
}

/// Where and when a packet was (or is inferred to have been).
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub lane: usize,
    /// Nanoseconds, on the aligned timeline.
    pub t: i64,
    /// False for an endpoint the packet must have come from or gone to, not captured.
    pub seen: bool,
    /// The point rewrote the packet here.
    pub nat: bool,
    /// Tooltip text: TTL, NAT, counts.
    pub detail: String,
}

/// One packet's journey.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// 0 forward (client to server), 1 reverse.
    pub dir: usize,
    pub label: String,
    /// In the order the packet crossed them.
    pub obs: Vec<Obs>,
    /// Not seen at the far end of the lanes in its direction: dropped or routed away.
    pub lost: bool,
    /// Lanes of the points whose flow counted packets of its direction: a lane it crosses
    /// without a sighting is then "counted there, not matched one by one" rather than
    /// "bypassed" (the flow tables saw that direction there).
    pub counted_lanes: Vec<usize>,
    /// More for the tooltip: the TCP sequence number, what the flow tables counted.
    pub hover: String,
}

/// Everything one ladder shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// The conversation's id (1-based, as in the JSON document).
    pub id: usize,
    pub title: String,
    pub verdict: String,
    pub evidence: String,
    pub lanes: Vec<Lane>,
    pub packets: Vec<Packet>,
    /// Said under the picture: what an arrow stands for, what was left out.
    pub notes: Vec<String>,
}

/// File name of the ladder of the conversation whose id is `id` ([`Analysis::id`]).
pub fn file_name(id: usize) -> String {
    format!("ladder-{id}.svg")
}

/// The conversations that get a ladder: the suspicious first, at most `limit`.
pub fn chosen(a: &Analysis, limit: usize) -> Vec<usize> {
    super::by_severity(a)
        .into_iter()
        .filter(|&i| super::worth_showing(&a.conversations[i].1))
        .take(limit)
        .collect()
}

/// What the two directions' packets are called.
fn dir_words(c: &Conversation) -> [&'static str; 2] {
    match c.kind {
        KeyKind::Echo { .. } => ["echo requests", "echo replies"],
        _ if c.ip_proto == 6 => ["client packets", "server packets"],
        _ => ["requests", "replies"],
    }
}

/// 0 for the point that hosts the client, 2 for the server's, 1 for the others.
fn side(c: &Conversation, pt: usize) -> u8 {
    match c.at(pt) {
        Some(p) if p.hosts_client => 0,
        Some(p) if p.hosts_server => 2,
        _ => 1,
    }
}

/// Orders the points that saw a conversation from the client's side to the server's: the
/// path of the requests merged with the reverse of the path of the replies (a topological
/// merge; ties and contradictions go to the client's host, then to the earlier point).
pub fn lane_order(c: &Conversation) -> Vec<usize> {
    use std::collections::BTreeSet;
    let n = c.points.len();
    // points by their index in c.points (sorted by point)
    let idx = |pt: usize| c.points.binary_search_by_key(&pt, |p| p.point).ok();
    let key = |i: usize| {
        let p = &c.points[i];
        (side(c, p.point), p.first_ts, p.point)
    };
    let fwd: Vec<usize> = c.path(0).iter().filter_map(|p| idx(p.point)).collect();
    let mut rev: Vec<usize> = c.path(1).iter().filter_map(|p| idx(p.point)).collect();
    rev.reverse();
    let mut edges: Vec<(usize, usize)> = [&fwd, &rev]
        .iter()
        .flat_map(|seq| seq.windows(2).map(|w| (w[0], w[1])))
        .filter(|(a, b)| a != b)
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let mut incoming = vec![0usize; n];
    for &(_, b) in &edges {
        incoming[b] += 1;
    }
    // Kahn's order, the smallest key first among the points no remaining point leads to; on
    // a cycle, the smallest key of all remaining: O((points + edges) log points)
    let mut left: BTreeSet<_> = (0..n).map(|i| (key(i), i)).collect();
    let mut ready: BTreeSet<_> = (0..n)
        .filter(|&i| incoming[i] == 0)
        .map(|i| (key(i), i))
        .collect();
    let mut out: Vec<usize> = Vec::with_capacity(n);
    while let Some(first) = ready.pop_first().or_else(|| left.first().cloned()) {
        let i = first.1;
        left.remove(&first);
        ready.remove(&first);
        out.push(c.points[i].point);
        let lo = edges.partition_point(|e| e.0 < i);
        for &(_, b) in edges.iter().skip(lo).take_while(|e| e.0 == i) {
            incoming[b] = incoming[b].saturating_sub(1);
            if incoming[b] == 0 && left.contains(&(key(b), b)) {
                ready.insert((key(b), b));
            }
        }
    }
    out
}

/// The points a ladder draws as lanes, in [`lane_order`]: at most `limit`, the points on
/// either direction's path first.
fn lanes_drawn(c: &Conversation, limit: usize) -> Vec<usize> {
    let order = lane_order(c);
    if order.len() <= limit {
        return order;
    }
    let on_path = |pt: usize| c.route.iter().any(|r| r.iter().any(|h| h.point == pt));
    let mut pick: Vec<(bool, usize)> = order
        .iter()
        .enumerate()
        .map(|(k, &pt)| (!on_path(pt), k))
        .collect();
    pick.sort_unstable();
    let mut keep: Vec<usize> = pick.iter().take(limit).map(|&(_, k)| k).collect();
    keep.sort_unstable();
    keep.into_iter().map(|k| order[k]).collect()
}

/// The second line(s) of a point's lane header: its role and what it did.
fn lane_note(c: &Conversation, p: &ConvPoint) -> String {
    let mut parts = Vec::new();
    if p.hosts_client {
        parts.push("the client".to_string());
    } else if p.hosts_server {
        parts.push("the server".to_string());
    }
    if p.forwarded[0] > 0 && p.forwarded[1] > 0 {
        parts.push("forwarded both ways".to_string());
    } else if p.forwarded[0] > 0 {
        parts.push("forwarded the requests".to_string());
    } else if p.forwarded[1] > 0 {
        parts.push("forwarded the replies".to_string());
    }
    for nat in &p.nat {
        let side = if nat.source { "src" } else { "dst" };
        parts.push(format!(
            "NAT {side} {}",
            nat.describe().replace(" -> ", " → ")
        ));
    }
    for l in &c.losses {
        if let Loss::After { dir, point } = *l {
            if point == p.point {
                let what = if dir == 0 { "requests" } else { "replies" };
                parts.push(format!("dropped the {what}"));
            }
        }
    }
    parts.join("; ")
}

fn summary_detail(name: &str, p: &ConvPoint, dir: usize, words: [&str; 2]) -> String {
    let ttls: Vec<String> = p.ttls[dir].values().iter().map(|t| t.to_string()).collect();
    let mut s = format!("{name}: {} {}", p.packets[dir], words[dir]);
    if !ttls.is_empty() {
        s.push_str(&format!(", ttl {}", ttls.join("/")));
    }
    if p.forwarded[dir] > 0 {
        s.push_str(&format!(", {} forwarded", p.forwarded[dir]));
    }
    s
}

/// `SYN`, `SYN+ACK`, `PSH+ACK`, ...
fn tcp_flags(f: u8) -> String {
    let names = [
        (0x02, "SYN"),
        (0x01, "FIN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
        (0x20, "URG"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "no flags".into()
    } else {
        v.join("+")
    }
}

/// What an arrow is called: `echo request seq 1`, `SYN+ACK 60 B`, `reply 48 B`.
fn trace_label(c: &Conversation, t: &PacketTrace) -> String {
    match c.kind {
        KeyKind::Echo { .. } => {
            let what = if t.info == 1 { "request" } else { "reply" };
            format!("echo {what} seq {}", t.seq)
        }
        _ if c.ip_proto == 6 => format!("{} {} B", tcp_flags(t.info), t.ip_len),
        _ => format!(
            "{} {} B",
            if t.dir == 0 { "request" } else { "reply" },
            t.ip_len
        ),
    }
}

fn sighting_detail(c: &Conversation, name: &str, s: &Sighting, forwarded: bool) -> String {
    let ports = c.kind == KeyKind::Ports;
    let how = match (forwarded, s.leaving) {
        (_, true) => "leaving",
        (true, false) => "arriving",
        _ => "seen",
    };
    format!(
        "{name}: {how}, ttl {}, {} → {}, frame {}",
        s.ttl,
        endpoint_text(&s.src, ports),
        endpoint_text(&s.dst, ports),
        s.frame
    )
}

/// True when the model says direction `dir` vanished after `point`.
fn lost_after(c: &Conversation, dir: usize, point: usize) -> bool {
    c.losses.iter().any(|l| match *l {
        Loss::After { dir: d, point: p } => d as usize == dir && p == point,
        Loss::Between { dir: d, from, .. } => d as usize == dir && from == point,
    })
}

/// Builds the ladder of conversation index `i` of `a`: one arrow per packet the correlation
/// followed across the points (at most `max_packets`); a direction it followed no packet of
/// (seen at one point only) gets one arrow for its first packet.
pub fn from_conversation(a: &Analysis, i: usize, limits: &Limits) -> Ladder {
    let max_packets = limits.ladder_packets;
    let (c, j) = &a.conversations[i];
    let names = a.point_names();
    let name = |pt: usize| names.get(pt).cloned().unwrap_or_else(|| "?".into());
    let words = dir_words(c);
    let ports = c.kind == KeyKind::Ports;
    // lanes: the points; for a conversation seen at one point, also the endpoints it
    // does not host
    let mut lanes: Vec<Lane> = Vec::new();
    let mut lane_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut ends: [Option<usize>; 2] = [None, None];
    if let [p] = c.points.as_slice() {
        if !p.hosts_client {
            ends[0] = Some(0);
            lanes.push(Lane {
                name: endpoint_text(&c.client, ports),
                note: "client (not captured)".into(),
                endpoint: true,
            });
        }
        lane_of.insert(p.point, lanes.len());
        lanes.push(Lane {
            name: name(p.point),
            note: lane_note(c, p),
            endpoint: false,
        });
        if !p.hosts_server {
            ends[1] = Some(lanes.len());
            lanes.push(Lane {
                name: endpoint_text(&c.server, ports),
                note: "server (not captured)".into(),
                endpoint: true,
            });
        }
    } else {
        for pt in lanes_drawn(c, limits.points) {
            lane_of.insert(pt, lanes.len());
            lanes.push(Lane {
                name: name(pt),
                note: c.at(pt).map(|p| lane_note(c, p)).unwrap_or_default(),
                endpoint: false,
            });
        }
    }
    // a conversation seen at one point: the endpoints it came from and went to, inferred
    let infer = |obs: &mut Vec<Obs>, dir: usize, went_on: bool| {
        let (from, to) = if dir == 0 {
            (ends[0], ends[1])
        } else {
            (ends[1], ends[0])
        };
        let (Some(first), Some(last)) = (obs.first().cloned(), obs.last().cloned()) else {
            return;
        };
        let unseen = |lane: usize, t: i64| Obs {
            lane,
            t,
            seen: false,
            nat: false,
            detail: String::new(),
        };
        if let Some(f) = from {
            obs.insert(0, unseen(f, first.t));
        }
        if let Some(t) = to {
            if went_on || from.is_none() {
                obs.push(unseen(t, last.t));
            }
        }
    };
    // the flow tables' word: the points that counted packets of a direction saw them all,
    // matched one by one or not
    let counted = |dir: usize| -> Vec<(usize, usize)> {
        c.points
            .iter()
            .filter(|p| p.packets[dir] > 0)
            .filter_map(|p| Some((*lane_of.get(&p.point)?, p.point)))
            .collect()
    };
    let counted_lanes =
        |dir: usize| -> Vec<usize> { counted(dir).into_iter().map(|(l, _)| l).collect() };
    // tooltip lines for the counting points a trace crosses without a sighting
    let counted_hover = |dir: usize, obs: &[Obs], seen_at: &[usize]| -> Vec<String> {
        let lo = obs.iter().map(|o| o.lane).min().unwrap_or(0);
        let hi = obs.iter().map(|o| o.lane).max().unwrap_or(0);
        counted(dir)
            .into_iter()
            .filter(|&(lane, pt)| lane > lo && lane < hi && !seen_at.contains(&pt))
            .filter_map(|(_, pt)| {
                let p = c.at(pt)?;
                Some(format!(
                    "{}: its flow counted {} {} (this one not matched there one by one)",
                    name(pt),
                    p.packets[dir],
                    words[dir]
                ))
            })
            .collect()
    };
    let mut packets: Vec<Packet> = Vec::new();
    for t in &c.traces {
        let dir = t.dir as usize;
        let rewrote = t.rewritten_at();
        let forwarded_at: Vec<usize> = t
            .sightings
            .iter()
            .filter(|s| s.leaving)
            .map(|s| s.point)
            .collect();
        let mut obs: Vec<Obs> = t
            .sightings
            .iter()
            .filter_map(|s| {
                lane_of.get(&s.point).map(|&lane| Obs {
                    lane,
                    t: s.ts,
                    seen: true,
                    nat: s.leaving && rewrote == Some(s.point),
                    detail: sighting_detail(c, &name(s.point), s, forwarded_at.contains(&s.point)),
                })
            })
            .collect();
        let Some(last) = t.sightings.last() else {
            continue;
        };
        let lost = lost_after(c, dir, last.point);
        infer(&mut obs, dir, !forwarded_at.is_empty());
        let seen_at: Vec<usize> = t.sightings.iter().map(|s| s.point).collect();
        let mut hover = Vec::new();
        if c.ip_proto == 6 {
            let first = t.sightings.first().map_or(last.point, |s| s.point);
            hover.push(format!("TCP seq {} (as seen at {})", t.seq, name(first)));
        }
        hover.extend(counted_hover(dir, &obs, &seen_at));
        packets.push(Packet {
            dir,
            label: trace_label(c, &t),
            obs,
            lost,
            counted_lanes: counted_lanes(dir),
            hover: hover.join("\n"),
        });
    }
    let traced = packets.len();
    let per_dir = [0, 1].map(|d| packets.iter().filter(|p| p.dir == d).count() as u64);
    // directions no packet of was followed: their first packet, along the route
    let sent = |dir: usize| sent_packets(c, dir);
    for dir in 0..2 {
        if c.traces.iter().any(|t| t.dir as usize == dir) || c.route[dir].is_empty() {
            continue;
        }
        let mut obs: Vec<Obs> = c.route[dir]
            .iter()
            .filter_map(|h| {
                let p = c.at(h.point)?;
                Some(Obs {
                    lane: *lane_of.get(&h.point)?,
                    t: h.first_ts,
                    seen: true,
                    nat: dir == 0 && !p.nat.is_empty(),
                    detail: summary_detail(&name(h.point), p, dir, words),
                })
            })
            .collect();
        let Some(last) = c.route[dir].last() else {
            continue;
        };
        let lost = lost_after(c, dir, last.point);
        infer(&mut obs, dir, last.forwarded);
        packets.push(Packet {
            dir,
            label: format!("{} ×{}", words[dir], sent(dir)),
            obs,
            lost,
            counted_lanes: counted_lanes(dir),
            hover: String::new(),
        });
    }
    packets.sort_by_key(|p| {
        p.obs
            .iter()
            .filter(|o| o.seen)
            .map(|o| o.t)
            .min()
            .unwrap_or(0)
    });
    // what the picture stands for
    let mut notes = Vec::new();
    let total: u64 = sent(0) + sent(1);
    if traced > 0 {
        let mut s = format!(
            "Each arrow is one packet, drawn through every capture point that saw it: {} of the {} packets sent",
            traced.min(max_packets),
            total
        );
        if (c.matched_packets as usize) > traced {
            s.push_str(&format!(
                " ({} were matched; the earliest are drawn)",
                c.matched_packets
            ));
        }
        s.push('.');
        notes.push(s);
        if let Some(n) = left_out_note(c, words, per_dir) {
            notes.push(n);
        }
    }
    if packets.len() > traced {
        notes.push(if c.points.len() == 1 {
            "Each arrow stands for the first packet of its direction (×N: packets sent that way): \
             packets are followed one by one across two capture points or more."
                .to_string()
        } else {
            "An arrow labelled ×N stands for the first of the N packets sent that way, none of \
             which could be followed across points."
                .to_string()
        });
    }
    for rw in &c.rewrites {
        if let RewriteAt::Between(x, y) = rw.at {
            notes.push(format!(
                "NAT between {} and {} (a hop not captured): {}.",
                name(x),
                name(y),
                rw.nat.describe().replace(" -> ", " → ")
            ));
        }
    }
    if c.points.len() > lanes.len() && c.points.len() > 1 {
        notes.push(super::points_left_out(
            c.points.len() - lanes.len(),
            "the lanes are the points of its path first",
        ));
    }
    notes.push(time_note(a, c));
    // the why: the routes that decided each direction, when route tables were given
    if let Some(r) = a.routing_of(i) {
        notes.push(format!("Routes: {}.", r.explanation.replace(" -> ", " → ")));
        if let Some(fix) = &r.fix {
            notes.push(format!("Fix: {}.", fix.replace(" -> ", " → ")));
        }
    }
    if packets.len() > max_packets {
        notes.push(format!(
            "{} more packets not drawn.",
            packets.len() - max_packets
        ));
        packets.truncate(max_packets);
    }
    Ladder {
        id: a.id(i),
        title: conversation_label(c),
        verdict: j.verdict.name().to_string(),
        evidence: a.reason(c, &a.point_names()).replace(" -> ", " → "),
        lanes,
        packets,
        notes,
    }
}

/// Packets sent in direction `dir`: the most any point counted that way (a forwarder counts
/// each packet twice, arriving and leaving).
fn sent_packets(c: &Conversation, dir: usize) -> u64 {
    c.points
        .iter()
        .map(|p| p.packets[dir] - p.forwarded[dir].min(p.packets[dir]))
        .max()
        .unwrap_or(0)
}

/// Which packets a ladder of traces leaves out, per direction ("Not drawn: 1 client packet
/// and 1 server packet ..."), from the most any point counted that way; None when every
/// packet is drawn.
fn left_out_note(c: &Conversation, words: [&str; 2], drawn: [u64; 2]) -> Option<String> {
    let most = |dir: usize| sent_packets(c, dir);
    let missing: Vec<String> = (0..2)
        .filter_map(|dir| {
            let n = most(dir).saturating_sub(drawn[dir]);
            (n > 0).then(|| {
                let what = words[dir];
                // "client packets" -> "1 client packet", "replies" -> "1 reply"
                let one = what
                    .strip_suffix("ies")
                    .map(|w| format!("{w}y"))
                    .unwrap_or_else(|| what.trim_end_matches('s').to_string());
                format!("{n} {}", if n == 1 { one.as_str() } else { what })
            })
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let beyond = (c.matched_packets as usize) > crate::correlate::MAX_TRACES;
    Some(format!(
        "Not drawn: {}: {}; the flow tables count every packet, and a lane's small dots mark \
         where a point's flow counted a packet that was not matched there one by one.",
        missing.join(" and "),
        if beyond {
            "matched after the earliest ones kept for the picture, or not followed across the points"
        } else {
            "not followed one by one across the points (not sampled, or seen at one point only)"
        }
    ))
}

/// What the times mean: as captured, or aligned to a reference clock (and how well).
fn time_note(a: &Analysis, c: &Conversation) -> String {
    let names = a.point_names();
    let clocks = &a.clocks;
    let shifted = c.points.iter().any(|p| {
        clocks
            .points
            .get(p.point)
            .is_some_and(|e| e.estimated && e.offset_ns != 0)
    });
    match clocks.reference {
        Some(r) if shifted && !clocks.assumed_synced => {
            let u = clocks.max_uncertainty();
            let mut s = format!(
                "Times are on the aligned timeline (every clock set to {}'s",
                names.get(r).map(String::as_str).unwrap_or("?")
            );
            if u > 0 {
                s.push_str(&format!(", within ±{:.0} µs", u as f64 / 1e3));
            }
            s.push_str(").");
            s
        }
        _ => "Times are as captured.".to_string(),
    }
}

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
