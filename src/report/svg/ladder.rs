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
//! Drawing is [`super::ladder_draw`]'s. Time is compressed: every packet gets its own row, rows are at least a line apart and long
//! gaps are shortened (a dotted band says how long); the left column gives each packet's time
//! since the first on the aligned timeline, so order and delays stay readable without a
//! linear scale.

use std::collections::BTreeMap;

use super::{conversation_label, Limits};
use crate::clock::clock_text;
use crate::correlate::{ConvPoint, Conversation, Dir, Loss, PacketTrace, RewriteAt, Sighting};
use crate::decode::proto;
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
    /// When the point was not capturing, on the aligned timeline (`i64::MIN`/`i64::MAX`
    /// for open ends): a point in `Conversation::uncovered`, whose capture began after or
    /// ended before the conversation, drawn as not capturing for that time, not as silent.
    pub off: Option<(i64, i64)>,
    /// The point was capturing but its capture missed the packets that crossed it
    /// (`Uncovered::missed`, capture loss): its band says so instead of "not capturing".
    pub missed: bool,
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
    /// More for the tooltip: the TCP sequence and acknowledgement numbers, what the flow
    /// tables counted.
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
        let side = nat.side.short();
        parts.push(format!(
            "NAT {side} {}",
            nat.describe().replace(" -> ", " → ")
        ));
    }
    for l in &c.losses {
        if let Loss::After { dir, point } = *l {
            if point == p.point {
                let what = match dir {
                    Dir::Forward => "requests",
                    Dir::Reverse => "replies",
                };
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
        _ if c.ip_proto == proto::TCP => format!("{} {} B", tcp_flags(t.info), t.ip_len),
        _ => format!(
            "{} {} B",
            match t.dir {
                Dir::Forward => "request",
                Dir::Reverse => "reply",
            },
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
        Loss::After { dir: d, point: p } => d.index() == dir && p == point,
        Loss::Between { dir: d, from, .. } => d.index() == dir && from == point,
    })
}

/// What building one ladder needs at hand: the conversation, the point names, the lanes.
struct Builder<'a> {
    a: &'a Analysis,
    c: &'a Conversation,
    names: Vec<String>,
    words: [&'static str; 2],
    /// The lane of each point drawn.
    lane_of: BTreeMap<usize, usize>,
    /// For a conversation seen at one point: the lanes of the client and server endpoints
    /// it does not host.
    ends: [Option<usize>; 2],
}

impl<'a> Builder<'a> {
    fn name(&self, pt: usize) -> String {
        self.names.get(pt).cloned().unwrap_or_else(|| "?".into())
    }

    /// The lanes: the points; for a conversation seen at one point, also the endpoints it
    /// does not host.
    fn lanes(&mut self, limits: &Limits) -> Vec<Lane> {
        let c = self.c;
        let ports = c.kind == KeyKind::Ports;
        let mut lanes: Vec<Lane> = Vec::new();
        if let [p] = c.points.as_slice() {
            if !p.hosts_client {
                self.ends[0] = Some(0);
                lanes.push(Lane {
                    name: endpoint_text(&c.client, ports),
                    note: "client (not captured)".into(),
                    endpoint: true,
                    off: None,
                    missed: false,
                });
            }
            self.lane_of.insert(p.point, lanes.len());
            lanes.push(Lane {
                name: self.name(p.point),
                note: lane_note(c, p),
                endpoint: false,
                off: None,
                missed: false,
            });
            if !p.hosts_server {
                self.ends[1] = Some(lanes.len());
                lanes.push(Lane {
                    name: endpoint_text(&c.server, ports),
                    note: "server (not captured)".into(),
                    endpoint: true,
                    off: None,
                    missed: false,
                });
            }
        } else {
            for pt in lanes_drawn(c, limits.points) {
                self.lane_of.insert(pt, lanes.len());
                lanes.push(Lane {
                    name: self.name(pt),
                    note: c.at(pt).map(|p| lane_note(c, p)).unwrap_or_default(),
                    endpoint: false,
                    off: None,
                    missed: false,
                });
            }
            self.add_uncovered(&mut lanes);
        }
        lanes
    }

    /// A lane for each point that was not capturing while the conversation ran
    /// (`Conversation::uncovered`), before the lane of the server's host (else last): it
    /// carries the time the point was not capturing, on the aligned timeline (its note
    /// gives the time on the point's own clock, as the evidence does).
    fn add_uncovered(&mut self, lanes: &mut Vec<Lane>) {
        let c = self.c;
        for u in c.uncovered.iter() {
            if self.lane_of.contains_key(&u.point) {
                continue;
            }
            let align = |ts: i64| self.a.clocks.align(u.point, ts);
            let (off, note) = match u.window {
                _ if u.missed => (
                    (i64::MIN, i64::MAX),
                    "capturing, yet its capture missed them".to_string(),
                ),
                None => (
                    (i64::MIN, i64::MAX),
                    "not capturing: captured nothing".to_string(),
                ),
                Some((first, _)) if u.before => (
                    (i64::MIN, align(first)),
                    format!("not capturing: began {}", clock_text(first, false)),
                ),
                Some((_, last)) => (
                    (align(last), i64::MAX),
                    format!("not capturing: ended {}", clock_text(last, false)),
                ),
            };
            let at = c
                .points
                .iter()
                .filter(|p| p.hosts_server)
                .filter_map(|p| self.lane_of.get(&p.point).copied())
                .min()
                .unwrap_or(lanes.len());
            for lane in self.lane_of.values_mut() {
                if *lane >= at {
                    *lane += 1;
                }
            }
            self.lane_of.insert(u.point, at);
            lanes.insert(
                at,
                Lane {
                    name: self.name(u.point),
                    note,
                    endpoint: false,
                    off: Some(off),
                    missed: u.missed,
                },
            );
        }
    }

    /// A conversation seen at one point: the endpoints its packet came from and went to,
    /// inferred.
    fn infer(&self, obs: &mut Vec<Obs>, dir: usize, went_on: bool) {
        let ends = self.ends;
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
    }

    /// The flow tables' word: the points (lane, point) that counted packets of a direction
    /// saw them all, matched one by one or not.
    fn counted(&self, dir: usize) -> Vec<(usize, usize)> {
        self.c
            .points
            .iter()
            .filter(|p| p.packets[dir] > 0)
            .filter_map(|p| Some((*self.lane_of.get(&p.point)?, p.point)))
            .collect()
    }

    fn counted_lanes(&self, dir: usize) -> Vec<usize> {
        self.counted(dir).into_iter().map(|(l, _)| l).collect()
    }

    /// Tooltip lines for the counting points a trace crosses without a sighting.
    fn counted_hover(&self, dir: usize, obs: &[Obs], seen_at: &[usize]) -> Vec<String> {
        let lo = obs.iter().map(|o| o.lane).min().unwrap_or(0);
        let hi = obs.iter().map(|o| o.lane).max().unwrap_or(0);
        self.counted(dir)
            .into_iter()
            .filter(|&(lane, pt)| lane > lo && lane < hi && !seen_at.contains(&pt))
            .filter_map(|(_, pt)| {
                let p = self.c.at(pt)?;
                Some(format!(
                    "{}: its flow counted {} {} (this one not matched there one by one)",
                    self.name(pt),
                    p.packets[dir],
                    self.words[dir]
                ))
            })
            .collect()
    }

    /// One arrow per packet the correlation followed across the points.
    fn trace_packet(&self, t: &PacketTrace) -> Option<Packet> {
        let c = self.c;
        let dir = t.dir.index();
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
                self.lane_of.get(&s.point).map(|&lane| Obs {
                    lane,
                    t: s.ts,
                    seen: true,
                    nat: s.leaving && rewrote == Some(s.point),
                    detail: sighting_detail(
                        c,
                        &self.name(s.point),
                        s,
                        forwarded_at.contains(&s.point),
                    ),
                })
            })
            .collect();
        let last = t.sightings.last()?;
        let lost = lost_after(c, dir, last.point);
        self.infer(&mut obs, dir, !forwarded_at.is_empty());
        let seen_at: Vec<usize> = t.sightings.iter().map(|s| s.point).collect();
        let mut hover = Vec::new();
        if c.ip_proto == proto::TCP {
            let first = t.sightings.first().map_or(last.point, |s| s.point);
            // the acknowledgement number means something only with the ACK flag
            let ack = if t.info & 0x10 != 0 {
                format!(" ack {}", t.ack)
            } else {
                String::new()
            };
            hover.push(format!(
                "TCP seq {}{ack} (as seen at {})",
                t.seq,
                self.name(first)
            ));
        }
        hover.extend(self.counted_hover(dir, &obs, &seen_at));
        Some(Packet {
            dir,
            label: trace_label(c, t),
            obs,
            lost,
            counted_lanes: self.counted_lanes(dir),
            hover: hover.join("\n"),
        })
    }

    /// A direction no packet of was followed: its first packet, along the route, labelled
    /// with how many it stands for.
    fn summary_packet(&self, dir: usize) -> Option<Packet> {
        let c = self.c;
        if c.traces.iter().any(|t| t.dir.index() == dir) || c.route[dir].is_empty() {
            return None;
        }
        let mut obs: Vec<Obs> = c.route[dir]
            .iter()
            .filter_map(|h| {
                let p = c.at(h.point)?;
                Some(Obs {
                    lane: *self.lane_of.get(&h.point)?,
                    t: h.first_ts,
                    seen: true,
                    nat: dir == 0 && !p.nat.is_empty(),
                    detail: summary_detail(&self.name(h.point), p, dir, self.words),
                })
            })
            .collect();
        let last = c.route[dir].last()?;
        let lost = lost_after(c, dir, last.point);
        self.infer(&mut obs, dir, last.forwarded);
        Some(Packet {
            dir,
            label: format!("{} ×{}", self.words[dir], c.packets()[dir]),
            obs,
            lost,
            counted_lanes: self.counted_lanes(dir),
            hover: String::new(),
        })
    }

    /// What the picture stands for (`traced` arrows of packets followed, at most `max` drawn,
    /// `per_dir` of them each way): how many packets are drawn and which are not, what a ×N
    /// arrow means, NAT between points, lanes left out, the clocks, the deciding routes.
    fn notes(
        &self,
        i: usize,
        [traced, max]: [usize; 2],
        per_dir: [u64; 2],
        packets: &[Packet],
        lanes: usize,
    ) -> Vec<String> {
        let (a, c) = (self.a, self.c);
        let mut notes = Vec::new();
        let total: u64 = c.packets().iter().sum();
        if traced > 0 {
            let mut s = format!(
                "Each arrow is one packet, drawn through every capture point that saw it: {} of the {} packets sent",
                traced.min(max),
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
            if let Some(n) = left_out_note(c, self.words, per_dir) {
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
                    self.name(x),
                    self.name(y),
                    rw.nat.describe().replace(" -> ", " → ")
                ));
            }
        }
        if c.points.len() > lanes && c.points.len() > 1 {
            notes.push(super::points_left_out(
                c.points.len() - lanes,
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
        notes
    }
}

/// Builds the ladder of conversation index `i` of `a`: one arrow per packet the correlation
/// followed across the points (at most `max_packets`); a direction it followed no packet of
/// (seen at one point only) gets one arrow for its first packet.
pub fn from_conversation(a: &Analysis, i: usize, limits: &Limits) -> Ladder {
    let max_packets = limits.ladder_packets;
    let (c, j) = &a.conversations[i];
    let mut b = Builder {
        a,
        c,
        names: a.point_names(),
        words: crate::verdict::direction_words(c),
        lane_of: BTreeMap::new(),
        ends: [None, None],
    };
    let lanes = b.lanes(limits);
    let mut packets: Vec<Packet> = c.traces.iter().filter_map(|t| b.trace_packet(&t)).collect();
    let traced = packets.len();
    let per_dir = [0, 1].map(|d| packets.iter().filter(|p| p.dir == d).count() as u64);
    packets.extend((0..2).filter_map(|dir| b.summary_packet(dir)));
    packets.sort_by_key(|p| {
        p.obs
            .iter()
            .filter(|o| o.seen)
            .map(|o| o.t)
            .min()
            .unwrap_or(0)
    });
    let mut notes = b.notes(i, [traced, max_packets], per_dir, &packets, lanes.len());
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
        evidence: a.reason(c, j, &a.point_names()).replace(" -> ", " → "),
        lanes,
        packets,
        notes,
    }
}

/// Which packets a ladder of traces leaves out, per direction ("Not drawn: 1 client packet
/// and 1 server packet ..."), from the most any point counted that way; None when every
/// packet is drawn.
fn left_out_note(c: &Conversation, words: [&str; 2], drawn: [u64; 2]) -> Option<String> {
    let most = c.packets();
    let missing: Vec<String> = (0..2)
        .filter_map(|dir| {
            let n = most[dir].saturating_sub(drawn[dir]);
            (n > 0).then(|| {
                // "1 client packet", "2 replies"
                let mut t = String::new();
                crate::verdict::put_count(&mut t, n, words[dir]);
                t
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
