//! json: the `flowcheck/1` document.
//!
//! The wire types live here, apart from the internal ones, so that the schema is explicit:
//! changing a field here is changing the schema (documented in the README). Additions are
//! backwards compatible; renames and removals need `flowcheck/2`.
//!
//! The head of the document (summary, points) is written through serde from these types. The
//! two long arrays, `flows` and `conversations`, are written by hand ([`write`]): straight
//! into byte buffers, on several threads, a chunk of rows at a time. [`FlowRow`] and
//! [`ConversationRow`] stay the reference for those rows: [`write_reference`] writes the same
//! document through them and serde, and the tests (and the `analyse` fuzz target) check that
//! both print the same bytes. A field added to a row type must be added to its writer.

pub(crate) mod chunks;
pub(crate) mod emit;
pub mod routing;

use std::collections::BTreeMap;

use serde::Serialize;

use super::{community_id, endpoint_text, link_type_name, ts_text, Analysis};
use crate::correlate::{Conversation, Hop, Loss, RewriteAt};
use crate::flow::{Flow, KeyKind};
use crate::verdict::{icmp_error_name, icmp_error_text, Judgement, Verdict};

pub const SCHEMA: &str = "flowcheck/1";

/// The document without its two long arrays (`flows`, `conversations`), which [`write`]
/// streams row by row so that memory does not grow with them.
#[derive(Serialize)]
pub struct Head {
    pub schema: &'static str,
    pub version: &'static str,
    pub summary: Summary,
    /// `--filter`, `--from`, `--to` and how many conversations they left out; null when none
    /// was given.
    pub filter: Option<Filter>,
    pub points: Vec<Point>,
}

/// What the reported conversations were narrowed to (`summary` counts the kept ones).
#[derive(Serialize)]
pub struct Filter {
    /// `--filter` as given, or null.
    pub expression: Option<String>,
    /// `--from` / `--to` (aligned timeline), or null.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Conversations found but left out of `conversations`.
    pub left_out: usize,
}

#[derive(Serialize)]
pub struct Summary {
    pub points: usize,
    pub packets: u64,
    pub conversations: usize,
    pub verdicts: BTreeMap<&'static str, usize>,
    pub damaged: bool,
    /// Sampled packets followed across the capture points.
    pub matches: Matches,
    /// The point whose clock the conversation times are on (null: none estimated).
    pub clock_reference: Option<String>,
    /// True with `--assume-synced`: no clock offset was estimated.
    pub clocks_assumed_synced: bool,
    /// Packets of flows left out, over all points (`--max-flows` is the run's total).
    pub packets_over_flow_cap: u64,
}

/// How many sampled packets were recognised at several capture points.
#[derive(Serialize)]
pub struct Matches {
    /// Distinct sampled packets (each flow keeps up to 8 per direction).
    pub sampled_packets: u64,
    /// Sampled packets seen at two points or more.
    pub matched_packets: u64,
    /// Sampled packets seen at one point only.
    pub single_packets: u64,
    /// Pairs of flows at different points joined by matched packets.
    pub flow_pairs: u64,
    /// Pairs whose TCP sequence numbers were rewritten between the points.
    pub seq_rewritten_pairs: u64,
}

#[derive(Serialize)]
pub struct Damage {
    pub offset: u64,
    pub reason: String,
}

#[derive(Serialize)]
pub struct Point {
    pub name: String,
    pub path: String,
    pub format: String,
    pub link_types: Vec<u32>,
    pub link_type_names: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    pub decoded: u64,
    pub not_decoded: BTreeMap<&'static str, u64>,
    pub unsupported_link_types: BTreeMap<String, u64>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub clock_steps_back: u64,
    pub timestamp_fixups: u64,
    /// Zero bytes after the end of the gzip stream, ignored (gzip itself only warns).
    pub gzip_trailing_zeros: u64,
    pub forwarded_packets: u64,
    pub packets_over_flow_cap: u64,
    /// The flow table could not grow: packets of new flows were counted, not tracked.
    pub flow_table_out_of_memory: bool,
    pub flows: usize,
    pub damage: Option<Damage>,
    /// This point's clock minus the reference point's, in seconds (null: not estimated).
    /// `first_ts`/`last_ts` above are this point's own clock; conversation times are
    /// aligned: `aligned = raw - clock_offset_s`.
    pub clock_offset_s: Option<f64>,
    /// Half the width of the interval the offset lies in (null: one-way evidence only, or
    /// not estimated).
    pub clock_uncertainty_s: Option<f64>,
    /// The point the offset was derived from (null for the reference).
    pub clock_via: Option<String>,
    /// Sampled packets of this point matched at another point.
    pub matched_packets: u64,
}

#[derive(Serialize)]
pub struct FlowRow {
    pub point: String,
    pub proto: &'static str,
    pub a: String,
    pub b: String,
    /// How `a` was chosen: syn, synack, echo_request, echo_reply, lower (tshark's rules).
    pub a_rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_proto: Option<u8>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ports_unknown: bool,
    pub packets_ab: u64,
    pub packets_ba: u64,
    pub bytes_ab: u64,
    pub bytes_ba: u64,
    pub ip_bytes_ab: u64,
    pub ip_bytes_ba: u64,
    pub first_ts: String,
    pub last_ts: String,
    pub ttls_ab: Vec<u8>,
    pub ttls_ba: Vec<u8>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub history: String,
    pub forwarded_ab: u64,
    pub forwarded_ba: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encaps: Vec<&'static str>,
    /// Community ID v1 of the flow's own tuple at this point (null: TCP/UDP without ports,
    /// ICMP too short for its type, SCTP).
    pub community_id: Option<String>,
}

#[derive(Serialize)]
pub struct Nat {
    /// `source` (the client side was rewritten) or `destination`.
    pub side: &'static str,
    /// Address before and after the rewrite.
    pub from: String,
    pub to: String,
    /// Ports before and after (TCP/UDP only).
    pub from_port: Option<u16>,
    pub to_port: Option<u16>,
}

#[derive(Serialize)]
pub struct ConvPointRow {
    pub point: String,
    pub forward_packets: u64,
    pub reverse_packets: u64,
    pub forward_bytes: u64,
    pub reverse_bytes: u64,
    pub forward_ttls: Vec<u8>,
    pub reverse_ttls: Vec<u8>,
    /// True when this point forwarded packets of the conversation (seen arriving and leaving).
    pub forwarded: bool,
    pub nat: Vec<Nat>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub history: String,
    pub first_ts: String,
    pub last_ts: String,
}

/// One capture point on the path of one direction.
#[derive(Serialize)]
pub struct HopRow {
    pub point: String,
    /// TTL as the direction arrived here (the highest seen).
    pub ttl: Option<u8>,
    /// TTL as it left, when this point forwarded it.
    pub ttl_out: Option<u8>,
    pub forwarded: bool,
    /// Routers between the previous point and this one (the TTL they took off; null for
    /// the first point).
    pub routers: Option<u8>,
    /// One-way delay from the previous hop on the aligned timeline, in milliseconds (median
    /// of the matched packets; null for the first hop or when none was matched at both).
    pub delay_ms: Option<f64>,
    /// First packet of the direction here (aligned).
    pub first_ts: String,
}

/// A NAT rewrite of a conversation and where it happened.
#[derive(Serialize)]
pub struct ConvNat {
    /// `forward` (the requests) or `reverse` (the replies).
    pub direction: &'static str,
    /// The capture point that rewrote the packets (seen arriving and leaving)...
    pub point: Option<String>,
    /// ... or the two points between which they were rewritten (by a hop not captured).
    pub between: Option<[String; 2]>,
    /// `source` or `destination` of the packets in that direction.
    pub side: &'static str,
    pub from: String,
    pub to: String,
    /// TCP/UDP ports before and after.
    pub from_port: Option<u16>,
    pub to_port: Option<u16>,
    /// ICMP echo identifiers before and after, when the NAT changed them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_icmp_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_icmp_id: Option<u16>,
}

#[derive(Serialize)]
pub struct IcmpErrorRow {
    pub point: String,
    pub from: String,
    pub icmp_type: u8,
    pub code: u8,
    pub text: String,
    pub packets: u64,
}

#[derive(Serialize)]
pub struct ConversationRow {
    pub id: usize,
    pub proto: &'static str,
    pub client: String,
    pub server: String,
    pub client_port: Option<u16>,
    pub server_port: Option<u16>,
    pub icmp_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_proto: Option<u8>,
    pub verdict: &'static str,
    pub reason: String,
    /// How the client was told: syn, synack, echo_request, echo_reply, port, first.
    pub client_rule: &'static str,
    pub first_ts: String,
    pub last_ts: String,
    pub packets: u64,
    /// Capture points that saw the client-to-server direction, in path order.
    pub forward_path: Vec<String>,
    /// Capture points that saw the server-to-client direction, in path order.
    pub reverse_path: Vec<String>,
    pub points: Vec<ConvPointRow>,
    pub icmp_errors: Vec<IcmpErrorRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encaps: Vec<&'static str>,
    /// The verdict from the paths alone (differs from `verdict` only when that is
    /// `bypassed`).
    pub path_verdict: &'static str,
    /// `--expect-via` points this conversation never reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bypassed: Vec<String>,
    /// Capture points that were not capturing while this conversation ran (its silence
    /// there is no evidence).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncovered: Vec<String>,
    /// Each capture point of the forward / reverse path, in path order, with TTL, delay.
    pub forward_hops: Vec<HopRow>,
    pub reverse_hops: Vec<HopRow>,
    /// NAT rewrites, where they happened.
    pub nat: Vec<ConvNat>,
    /// The point a direction was seen arriving at and never leaving (null: none).
    pub lost_after: Option<String>,
    /// The two points between which a direction vanished (null: none).
    pub lost_between: Option<[String; 2]>,
    /// Which direction vanished: `forward` or `reverse` (null: none).
    pub lost_direction: Option<&'static str>,
    /// Sampled packets of this conversation, and those seen at two points or more.
    pub sampled_packets: u64,
    pub matched_packets: u64,
    /// True when TCP sequence numbers differed between points.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub seq_rewritten: bool,
    /// The path the route tables predict for each direction, and why (null without route
    /// tables, or for group, link-local and unspecified addresses).
    pub routing: Option<routing::RoutingRow>,
    /// Community ID v1 of the client's tuple before any NAT (null as for flows).
    pub community_id: Option<String>,
}

fn encap_names(bits: u16) -> Vec<&'static str> {
    encaps(bits).collect()
}

/// The tshark-style flow row of one flow at one point.
pub fn flow_row(point: &str, f: &Flow) -> FlowRow {
    let (a, rule) = f.tshark_a();
    let b = 1 - a;
    let ports = f.key.has_ports();
    let (icmp_id, icmp_type, icmp_code) = match f.key.kind {
        KeyKind::Echo { id } => (Some(id), None, None),
        KeyKind::Icmp { icmp_type, code } => (None, Some(icmp_type), Some(code)),
        _ => (None, None, None),
    };
    let history = if f.key.ip_proto == 6 {
        f.history.render(a)
    } else {
        String::new()
    };
    FlowRow {
        point: point.to_string(),
        proto: f.key.proto_name(),
        a: endpoint_text(&f.key.sender(a), ports),
        b: endpoint_text(&f.key.sender(b), ports),
        a_rule: rule.name(),
        icmp_id,
        icmp_type,
        icmp_code,
        ip_proto: (f.key.kind == KeyKind::Other).then_some(f.key.ip_proto),
        ports_unknown: f.key.kind == KeyKind::PortsUnknown,
        packets_ab: f.packets[a],
        packets_ba: f.packets[b],
        bytes_ab: f.bytes[a],
        bytes_ba: f.bytes[b],
        ip_bytes_ab: f.ip_bytes[a],
        ip_bytes_ba: f.ip_bytes[b],
        first_ts: ts_text(f.first_ts),
        last_ts: ts_text(f.last_ts),
        ttls_ab: f.ttls[a].values().to_vec(),
        ttls_ba: f.ttls[b].values().to_vec(),
        history,
        forwarded_ab: f.forwarded()[a],
        forwarded_ba: f.forwarded()[b],
        encaps: encap_names(f.encap),
        community_id: community_id::of_flow(f).map(|c| c.to_string()),
    }
}

fn conversation_row(
    id: usize,
    c: &Conversation,
    j: &Judgement,
    reason: String,
    names: &[String],
) -> ConversationRow {
    let ports = c.kind == KeyKind::Ports;
    let name = |i: usize| names.get(i).cloned().unwrap_or_default();
    let (icmp_id, icmp_type, icmp_code) = match c.kind {
        KeyKind::Echo { id } => (Some(id), None, None),
        KeyKind::Icmp { icmp_type, code } => (None, Some(icmp_type), Some(code)),
        _ => (None, None, None),
    };
    ConversationRow {
        id,
        proto: c.proto_name(),
        client: c.client.ip.to_string(),
        server: c.server.ip.to_string(),
        client_port: ports.then_some(c.client.port),
        server_port: ports.then_some(c.server.port),
        icmp_id,
        icmp_type,
        icmp_code,
        ip_proto: (c.kind == KeyKind::Other).then_some(c.ip_proto),
        verdict: j.verdict.name(),
        reason,
        client_rule: c.orientation.name(),
        first_ts: ts_text(c.first_ts),
        last_ts: ts_text(c.last_ts),
        packets: c.packets().iter().sum(),
        forward_path: c.path(0).iter().map(|p| name(p.point)).collect(),
        reverse_path: c.path(1).iter().map(|p| name(p.point)).collect(),
        points: c
            .points
            .iter()
            .map(|p| ConvPointRow {
                point: name(p.point),
                forward_packets: p.packets[0],
                reverse_packets: p.packets[1],
                forward_bytes: p.bytes[0],
                reverse_bytes: p.bytes[1],
                forward_ttls: p.ttls[0].values().to_vec(),
                reverse_ttls: p.ttls[1].values().to_vec(),
                forwarded: p.is_forwarder(),
                nat: p
                    .nat
                    .iter()
                    .map(|n| Nat {
                        side: if n.source { "source" } else { "destination" },
                        from: n.from.ip.to_string(),
                        to: n.to.ip.to_string(),
                        from_port: ports.then_some(n.from.port),
                        to_port: ports.then_some(n.to.port),
                    })
                    .collect(),
                history: p.history.to_string(),
                first_ts: ts_text(p.first_ts),
                last_ts: ts_text(p.last_ts),
            })
            .collect(),
        icmp_errors: c
            .icmp_errors
            .iter()
            .map(|n| IcmpErrorRow {
                point: name(n.point),
                from: n.from.to_string(),
                icmp_type: n.icmp_type,
                code: n.code,
                text: icmp_error_name(n.v6, n.icmp_type, n.code),
                packets: n.packets,
            })
            .collect(),
        encaps: encap_names(c.encap),
        path_verdict: j.path_verdict.name(),
        bypassed: j.bypassed.iter().map(|&p| name(p)).collect(),
        uncovered: c.uncovered.iter().map(|u| name(u.point)).collect(),
        forward_hops: hop_rows(&c.route[0], names),
        reverse_hops: hop_rows(&c.route[1], names),
        nat: c
            .rewrites
            .iter()
            .map(|r| {
                let echo = matches!(c.kind, KeyKind::Echo { .. });
                let (point, between) = match r.at {
                    RewriteAt::Point(p) => (Some(name(p)), None),
                    RewriteAt::Between(a, b) => (None, Some([name(a), name(b)])),
                };
                ConvNat {
                    direction: if r.dir == 0 { "forward" } else { "reverse" },
                    point,
                    between,
                    side: if r.nat.source {
                        "source"
                    } else {
                        "destination"
                    },
                    from: r.nat.from.ip.to_string(),
                    to: r.nat.to.ip.to_string(),
                    from_port: ports.then_some(r.nat.from.port),
                    to_port: ports.then_some(r.nat.to.port),
                    from_icmp_id: (echo && r.nat.from.port != r.nat.to.port)
                        .then_some(r.nat.from.port),
                    to_icmp_id: (echo && r.nat.from.port != r.nat.to.port).then_some(r.nat.to.port),
                }
            })
            .collect(),
        lost_after: c.losses.iter().find_map(|l| match *l {
            Loss::After { point, .. } => Some(name(point)),
            Loss::Between { .. } => None,
        }),
        lost_between: c.losses.iter().find_map(|l| match *l {
            Loss::Between { from, to, .. } => Some([name(from), name(to)]),
            Loss::After { .. } => None,
        }),
        lost_direction: c
            .losses
            .first()
            .map(|l| if l.dir() == 0 { "forward" } else { "reverse" }),
        sampled_packets: c.sampled_packets,
        matched_packets: c.matched_packets,
        seq_rewritten: c.seq_rewritten,
        routing: None,
        community_id: community_id::of_conversation(c).map(|c| c.to_string()),
    }
}

fn hop_rows(route: &[Hop], names: &[String]) -> Vec<HopRow> {
    route
        .iter()
        .map(|h| HopRow {
            point: names.get(h.point).cloned().unwrap_or_default(),
            ttl: h.ttl,
            ttl_out: h.ttl_out,
            forwarded: h.forwarded,
            routers: h.routers,
            delay_ms: h.delay_ns.map(|d| d as f64 / 1e6),
            first_ts: ts_text(h.first_ts),
        })
        .collect()
}

/// The head of the document: everything but the flow and conversation rows.
pub fn head(a: &Analysis) -> Head {
    let points = a
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let s = &p.summary;
            let clock = a.clocks.points.get(i);
            Point {
                name: s.name.clone(),
                path: s.path.display().to_string(),
                format: s.format.clone(),
                link_types: s.link_types.clone(),
                link_type_names: s.link_types.iter().map(|&l| link_type_name(l)).collect(),
                packets: s.packets,
                bytes: s.bytes,
                decoded: s.decoded,
                not_decoded: s.not_decoded.clone(),
                unsupported_link_types: s
                    .unsupported_link_types
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                first_ts: s.first_ts.map(ts_text),
                last_ts: s.last_ts.map(ts_text),
                clock_steps_back: s.clock_steps_back,
                timestamp_fixups: s.timestamp_fixups,
                gzip_trailing_zeros: s.gzip_trailing_zeros,
                forwarded_packets: s.forwarded_packets,
                packets_over_flow_cap: s.packets_over_flow_cap,
                flow_table_out_of_memory: s.flow_table_out_of_memory,
                flows: p.flows.len(),
                damage: s.damage.as_ref().map(|d| Damage {
                    offset: d.offset,
                    reason: d.reason.clone(),
                }),
                clock_offset_s: clock
                    .filter(|c| c.estimated)
                    .map(|c| c.offset_ns as f64 / 1e9),
                clock_uncertainty_s: clock
                    .filter(|c| c.estimated)
                    .and_then(|c| c.uncertainty_ns)
                    .map(|u| u as f64 / 1e9),
                clock_via: clock
                    .and_then(|c| c.via)
                    .map(|v| a.points[v].summary.name.clone()),
                matched_packets: clock.map_or(0, |c| c.matched),
            }
        })
        .collect();
    Head {
        schema: SCHEMA,
        version: env!("CARGO_PKG_VERSION"),
        summary: Summary {
            points: a.points.len(),
            packets: a.points.iter().map(|p| p.summary.packets).sum(),
            conversations: a.conversations.len(),
            verdicts: Verdict::ALL
                .into_iter()
                .map(|v| (v.name(), a.count(v)))
                .collect(),
            damaged: a.damaged(),
            matches: Matches {
                sampled_packets: a.matches.sampled_packets,
                matched_packets: a.matches.matched_packets,
                single_packets: a.matches.single_packets,
                flow_pairs: a.matches.flow_pairs,
                seq_rewritten_pairs: a.matches.seq_rewritten_pairs,
            },
            clock_reference: a
                .clocks
                .reference
                .filter(|_| !a.clocks.assumed_synced)
                .map(|r| a.points[r].summary.name.clone()),
            clocks_assumed_synced: a.clocks.assumed_synced,
            packets_over_flow_cap: a
                .points
                .iter()
                .map(|p| p.summary.packets_over_flow_cap)
                .sum(),
        },
        filter: a.selection.is_set().then(|| Filter {
            expression: a.selection.expression.clone(),
            from: a.selection.window.from.map(ts_text),
            to: a.selection.window.to.map(ts_text),
            left_out: a.selection.left_out,
        }),
        points,
    }
}

/// The head of the document, left open for the two arrays: `{"schema":..,"points":[..]`.
fn write_head(a: &Analysis, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let head = serde_json::to_string(&head(a)).map_err(std::io::Error::other)?;
    // reopen the head object to append the two arrays
    let head = head.strip_suffix('}').unwrap_or(&head);
    out.write_all(head.as_bytes())
}

/// Writes the document as [`write`] does, through serde and the row types ([`flow_row`],
/// [`FlowRow`], [`ConversationRow`]), one row at a time: the reference [`write`] is checked
/// against (several times slower).
pub fn write_reference(a: &Analysis, mut out: impl std::io::Write) -> std::io::Result<()> {
    write_head(a, &mut out)?;
    out.write_all(b",\"flows\":[")?;
    let mut first = true;
    for p in &a.points {
        for f in &p.flows {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            serde_json::to_writer(&mut out, &flow_row(&p.summary.name, f))
                .map_err(std::io::Error::other)?;
        }
    }
    out.write_all(b"],\"conversations\":[")?;
    let names = a.point_names();
    for (i, (c, j)) in a.conversations.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let reason = a.reason(c, &names);
        let mut row = conversation_row(a.id(i), c, j, reason, &names);
        row.routing = routing::row(a, i, &names);
        serde_json::to_writer(&mut out, &row).map_err(std::io::Error::other)?;
    }
    out.write_all(b"]}\n")?;
    out.flush()
}

/// Rows per chunk: what one worker renders into one buffer at a time.
const CHUNK_ROWS: usize = 512;

/// Writes the document (compact JSON, one line) followed by a newline. The flow and
/// conversation rows are rendered in chunks on up to one thread per core and written in
/// order; a few chunks are in memory at a time, never the whole document. Prints the same
/// bytes as [`write_reference`].
pub fn write(a: &Analysis, mut out: impl std::io::Write) -> std::io::Result<()> {
    write_head(a, &mut out)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // the point names, quoted and escaped once: every row repeats them
    let plain_names = a.point_names();
    let names: Vec<Vec<u8>> = a
        .points
        .iter()
        .map(|p| {
            let mut name = Vec::new();
            emit::string(&mut name, &p.summary.name);
            name
        })
        .collect();

    out.write_all(b",\"flows\":[")?;
    // (point, first flow, end) of each chunk; chunks do not straddle points
    let chunks: Vec<(usize, usize, usize)> = a
        .points
        .iter()
        .enumerate()
        .flat_map(|(p, pr)| {
            let n = pr.flows.len();
            (0..n)
                .step_by(CHUNK_ROWS)
                .map(move |start| (p, start, (start + CHUNK_ROWS).min(n)))
        })
        .collect();
    chunks::write_in_order(&mut out, chunks.len(), threads, |chunk, buf| {
        let (p, start, end) = chunks[chunk];
        for (i, f) in a.points[p].flows[start..end].iter().enumerate() {
            if chunk > 0 || i > 0 {
                buf.push(b',');
            }
            write_flow(buf, &names[p], f);
        }
    })?;

    out.write_all(b"],\"conversations\":[")?;
    let count = a.conversations.len().div_ceil(CHUNK_ROWS);
    chunks::write_in_order(&mut out, count, threads, |chunk, buf| {
        let start = chunk * CHUNK_ROWS;
        let end = (start + CHUNK_ROWS).min(a.conversations.len());
        for (i, (c, j)) in a.conversations[start..end].iter().enumerate() {
            if start + i > 0 {
                buf.push(b',');
            }
            crate::verdict::with_reason(c, &plain_names, &a.expect_via, |reason| {
                let route = routing::row(a, start + i, &plain_names);
                write_conversation(buf, a.id(start + i), c, j, reason, &names, route.as_ref())
            });
        }
    })?;
    out.write_all(b"]}\n")?;
    out.flush()
}

/// The encapsulation names of `bits`.
fn encaps(bits: u16) -> impl Iterator<Item = &'static str> + Clone {
    crate::decode::encap::NAMES
        .iter()
        .enumerate()
        .filter(move |(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
}

/// `,"encaps":[...]` unless there are none (as [`FlowRow::encaps`] skips it).
fn write_encaps(out: &mut Vec<u8>, bits: u16) {
    let names = encaps(bits);
    if names.clone().next().is_some() {
        out.extend_from_slice(b",\"encaps\":");
        emit::str_array(out, names);
    }
}

/// One [`FlowRow`], as serde prints it; `point` is the point's name already quoted.
fn write_flow(out: &mut Vec<u8>, point: &[u8], f: &Flow) {
    let (a, rule) = f.tshark_a();
    let b = 1 - a;
    let ports = f.key.has_ports();
    out.extend_from_slice(b"{\"point\":");
    out.extend_from_slice(point);
    out.extend_from_slice(b",\"proto\":");
    emit::string(out, f.key.proto_name());
    out.extend_from_slice(b",\"a\":");
    emit::endpoint(out, &f.key.sender(a), ports);
    out.extend_from_slice(b",\"b\":");
    emit::endpoint(out, &f.key.sender(b), ports);
    out.extend_from_slice(b",\"a_rule\":");
    emit::string(out, rule.name());
    match f.key.kind {
        KeyKind::Echo { id } => {
            out.extend_from_slice(b",\"icmp_id\":");
            emit::uint(out, id.into());
        }
        KeyKind::Icmp { icmp_type, code } => {
            out.extend_from_slice(b",\"icmp_type\":");
            emit::uint(out, icmp_type.into());
            out.extend_from_slice(b",\"icmp_code\":");
            emit::uint(out, code.into());
        }
        KeyKind::Other => {
            out.extend_from_slice(b",\"ip_proto\":");
            emit::uint(out, f.key.ip_proto.into());
        }
        KeyKind::PortsUnknown => out.extend_from_slice(b",\"ports_unknown\":true"),
        KeyKind::Ports => {}
    }
    out.extend_from_slice(b",\"packets_ab\":");
    emit::uint(out, f.packets[a]);
    out.extend_from_slice(b",\"packets_ba\":");
    emit::uint(out, f.packets[b]);
    out.extend_from_slice(b",\"bytes_ab\":");
    emit::uint(out, f.bytes[a]);
    out.extend_from_slice(b",\"bytes_ba\":");
    emit::uint(out, f.bytes[b]);
    out.extend_from_slice(b",\"ip_bytes_ab\":");
    emit::uint(out, f.ip_bytes[a]);
    out.extend_from_slice(b",\"ip_bytes_ba\":");
    emit::uint(out, f.ip_bytes[b]);
    out.extend_from_slice(b",\"first_ts\":");
    emit::ts(out, f.first_ts);
    out.extend_from_slice(b",\"last_ts\":");
    emit::ts(out, f.last_ts);
    out.extend_from_slice(b",\"ttls_ab\":");
    emit::u8_array(out, f.ttls[a].values());
    out.extend_from_slice(b",\"ttls_ba\":");
    emit::u8_array(out, f.ttls[b].values());
    if f.key.ip_proto == 6 && !f.history.is_empty() {
        // letters of "SHADFRT", either case: nothing to escape
        out.extend_from_slice(b",\"history\":\"");
        out.extend(f.history.letters(a));
        out.push(b'"');
    }
    out.extend_from_slice(b",\"forwarded_ab\":");
    emit::uint(out, f.forwarded()[a]);
    out.extend_from_slice(b",\"forwarded_ba\":");
    emit::uint(out, f.forwarded()[b]);
    write_encaps(out, f.encap);
    write_community_id(out, community_id::of_flow(f));
    out.push(b'}');
}

/// `,"community_id":"1:..."` (or `null`), as the rows print it.
fn write_community_id(out: &mut Vec<u8>, id: Option<community_id::CommunityId>) {
    out.extend_from_slice(b",\"community_id\":");
    match id {
        // "1:" and base64: nothing to escape
        Some(id) => {
            out.push(b'"');
            out.extend_from_slice(id.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// The quoted name of point `i` (`""` for an unknown index, as [`conversation_row`] does).
fn name(names: &[Vec<u8>], i: usize) -> &[u8] {
    names.get(i).map_or(b"\"\"", Vec::as_slice)
}

/// Quoted point names as a JSON array.
fn write_names(out: &mut Vec<u8>, names: &[Vec<u8>], points: impl Iterator<Item = usize>) {
    out.push(b'[');
    for (i, p) in points.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name(names, p));
    }
    out.push(b']');
}

/// The fields of a rewrite, `"side":..,"from":..,"to":..,"from_port":..,"to_port":..`
/// (the ports `null` unless the conversation has `ports`), as the reference [`Nat`] row
/// prints them.
fn write_nat(out: &mut Vec<u8>, n: &crate::correlate::Nat, ports: bool) {
    let port = |p: u16| ports.then_some(u64::from(p));
    out.extend_from_slice(b"\"side\":");
    emit::string(out, nat_side(n.source));
    out.extend_from_slice(b",\"from\":");
    emit::ip(out, n.from.ip);
    out.extend_from_slice(b",\"to\":");
    emit::ip(out, n.to.ip);
    out.extend_from_slice(b",\"from_port\":");
    emit::opt_uint(out, port(n.from.port));
    out.extend_from_slice(b",\"to_port\":");
    emit::opt_uint(out, port(n.to.port));
}

/// `side` of a NAT rewrite.
fn nat_side(source: bool) -> &'static str {
    if source {
        "source"
    } else {
        "destination"
    }
}

/// A direction index as its name.
fn direction(dir: u8) -> &'static str {
    if dir == 0 {
        "forward"
    } else {
        "reverse"
    }
}

/// One [`ConversationRow`], as serde prints it; `names` are the points' names, quoted.
fn write_conversation(
    out: &mut Vec<u8>,
    id: usize,
    c: &Conversation,
    j: &Judgement,
    reason: &str,
    names: &[Vec<u8>],
    route: Option<&routing::RoutingRow>,
) {
    let ports = c.kind == KeyKind::Ports;
    let port = |p: u16| ports.then_some(u64::from(p));
    out.extend_from_slice(b"{\"id\":");
    emit::uint(out, id as u64);
    out.extend_from_slice(b",\"proto\":");
    emit::string(out, c.proto_name());
    out.extend_from_slice(b",\"client\":");
    emit::ip(out, c.client.ip);
    out.extend_from_slice(b",\"server\":");
    emit::ip(out, c.server.ip);
    out.extend_from_slice(b",\"client_port\":");
    emit::opt_uint(out, port(c.client.port));
    out.extend_from_slice(b",\"server_port\":");
    emit::opt_uint(out, port(c.server.port));
    out.extend_from_slice(b",\"icmp_id\":");
    match c.kind {
        KeyKind::Echo { id } => emit::uint(out, id.into()),
        _ => out.extend_from_slice(b"null"),
    }
    match c.kind {
        KeyKind::Icmp { icmp_type, code } => {
            out.extend_from_slice(b",\"icmp_type\":");
            emit::uint(out, icmp_type.into());
            out.extend_from_slice(b",\"icmp_code\":");
            emit::uint(out, code.into());
        }
        KeyKind::Other => {
            out.extend_from_slice(b",\"ip_proto\":");
            emit::uint(out, c.ip_proto.into());
        }
        _ => {}
    }
    out.extend_from_slice(b",\"verdict\":");
    emit::string(out, j.verdict.name());
    out.extend_from_slice(b",\"reason\":");
    emit::string(out, reason);
    out.extend_from_slice(b",\"client_rule\":");
    emit::string(out, c.orientation.name());
    out.extend_from_slice(b",\"first_ts\":");
    emit::ts(out, c.first_ts);
    out.extend_from_slice(b",\"last_ts\":");
    emit::ts(out, c.last_ts);
    out.extend_from_slice(b",\"packets\":");
    emit::uint(out, c.packets().iter().sum());
    // the points of each direction's route that saw the conversation (Conversation::path)
    let path = |dir: usize| {
        c.route[dir]
            .iter()
            .filter(|h| c.points.iter().any(|p| p.point == h.point))
            .map(|h| h.point)
    };
    out.extend_from_slice(b",\"forward_path\":");
    write_names(out, names, path(0));
    out.extend_from_slice(b",\"reverse_path\":");
    write_names(out, names, path(1));

    out.extend_from_slice(b",\"points\":[");
    for (i, p) in c.points.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"point\":");
        out.extend_from_slice(name(names, p.point));
        out.extend_from_slice(b",\"forward_packets\":");
        emit::uint(out, p.packets[0]);
        out.extend_from_slice(b",\"reverse_packets\":");
        emit::uint(out, p.packets[1]);
        out.extend_from_slice(b",\"forward_bytes\":");
        emit::uint(out, p.bytes[0]);
        out.extend_from_slice(b",\"reverse_bytes\":");
        emit::uint(out, p.bytes[1]);
        out.extend_from_slice(b",\"forward_ttls\":");
        emit::u8_array(out, p.ttls[0].values());
        out.extend_from_slice(b",\"reverse_ttls\":");
        emit::u8_array(out, p.ttls[1].values());
        out.extend_from_slice(b",\"forwarded\":");
        emit::boolean(out, p.is_forwarder());
        out.extend_from_slice(b",\"nat\":[");
        for (k, n) in p.nat.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.push(b'{');
            write_nat(out, n, ports);
            out.push(b'}');
        }
        out.push(b']');
        if !p.history.is_empty() {
            out.extend_from_slice(b",\"history\":");
            emit::string(out, &p.history);
        }
        out.extend_from_slice(b",\"first_ts\":");
        emit::ts(out, p.first_ts);
        out.extend_from_slice(b",\"last_ts\":");
        emit::ts(out, p.last_ts);
        out.push(b'}');
    }
    out.push(b']');

    out.extend_from_slice(b",\"icmp_errors\":[");
    for (i, n) in c.icmp_errors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"point\":");
        out.extend_from_slice(name(names, n.point));
        out.extend_from_slice(b",\"from\":");
        emit::ip(out, n.from);
        out.extend_from_slice(b",\"icmp_type\":");
        emit::uint(out, n.icmp_type.into());
        out.extend_from_slice(b",\"code\":");
        emit::uint(out, n.code.into());
        out.extend_from_slice(b",\"text\":");
        match icmp_error_text(n.v6, n.icmp_type, n.code) {
            Some(text) => emit::string(out, text),
            None => {
                // icmp_error_name's "ICMP type {t} code {code}"
                out.extend_from_slice(b"\"ICMP type ");
                emit::uint(out, n.icmp_type.into());
                out.extend_from_slice(b" code ");
                emit::uint(out, n.code.into());
                out.push(b'"');
            }
        }
        out.extend_from_slice(b",\"packets\":");
        emit::uint(out, n.packets);
        out.push(b'}');
    }
    out.push(b']');
    write_encaps(out, c.encap);
    out.extend_from_slice(b",\"path_verdict\":");
    emit::string(out, j.path_verdict.name());
    if !j.bypassed.is_empty() {
        out.extend_from_slice(b",\"bypassed\":");
        write_names(out, names, j.bypassed.iter().copied());
    }
    if !c.uncovered.is_empty() {
        out.extend_from_slice(b",\"uncovered\":");
        write_names(out, names, c.uncovered.iter().map(|u| u.point));
    }
    out.extend_from_slice(b",\"forward_hops\":");
    write_hops(out, &c.route[0], names);
    out.extend_from_slice(b",\"reverse_hops\":");
    write_hops(out, &c.route[1], names);

    out.extend_from_slice(b",\"nat\":[");
    let echo = matches!(c.kind, KeyKind::Echo { .. });
    for (i, r) in c.rewrites.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"direction\":");
        emit::string(out, direction(r.dir));
        match r.at {
            RewriteAt::Point(p) => {
                out.extend_from_slice(b",\"point\":");
                out.extend_from_slice(name(names, p));
                out.extend_from_slice(b",\"between\":null");
            }
            RewriteAt::Between(a, b) => {
                out.extend_from_slice(b",\"point\":null,\"between\":");
                write_names(out, names, [a, b].into_iter());
            }
        }
        out.push(b',');
        write_nat(out, &r.nat, ports);
        if echo && r.nat.from.port != r.nat.to.port {
            out.extend_from_slice(b",\"from_icmp_id\":");
            emit::uint(out, r.nat.from.port.into());
            out.extend_from_slice(b",\"to_icmp_id\":");
            emit::uint(out, r.nat.to.port.into());
        }
        out.push(b'}');
    }
    out.push(b']');

    out.extend_from_slice(b",\"lost_after\":");
    match c.losses.iter().find_map(|l| match *l {
        Loss::After { point, .. } => Some(point),
        Loss::Between { .. } => None,
    }) {
        Some(p) => out.extend_from_slice(name(names, p)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"lost_between\":");
    match c.losses.iter().find_map(|l| match *l {
        Loss::Between { from, to, .. } => Some([from, to]),
        Loss::After { .. } => None,
    }) {
        Some(pair) => write_names(out, names, pair.into_iter()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"lost_direction\":");
    match c.losses.first() {
        Some(l) => emit::string(out, direction(l.dir())),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"sampled_packets\":");
    emit::uint(out, c.sampled_packets);
    out.extend_from_slice(b",\"matched_packets\":");
    emit::uint(out, c.matched_packets);
    if c.seq_rewritten {
        out.extend_from_slice(b",\"seq_rewritten\":true");
    }
    routing::write(out, route);
    write_community_id(out, community_id::of_conversation(c));
    out.push(b'}');
}

/// [`HopRow`]s as a JSON array.
fn write_hops(out: &mut Vec<u8>, route: &[Hop], names: &[Vec<u8>]) {
    out.push(b'[');
    for (i, h) in route.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"point\":");
        out.extend_from_slice(name(names, h.point));
        out.extend_from_slice(b",\"ttl\":");
        emit::opt_uint(out, h.ttl.map(u64::from));
        out.extend_from_slice(b",\"ttl_out\":");
        emit::opt_uint(out, h.ttl_out.map(u64::from));
        out.extend_from_slice(b",\"forwarded\":");
        emit::boolean(out, h.forwarded);
        out.extend_from_slice(b",\"routers\":");
        emit::opt_uint(out, h.routers.map(u64::from));
        out.extend_from_slice(b",\"delay_ms\":");
        match h.delay_ns {
            Some(d) => emit::float(out, d as f64 / 1e6),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"first_ts\":");
        emit::ts(out, h.first_ts);
        out.push(b'}');
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::correlate::{ConvPoint, IcmpNote, MatchSummary, Nat as NatRw, Rewrite};
    use crate::flow::{Endpoint, FlowKey, Orientation, TtlSet};
    use crate::list::OneOrVec;
    use crate::point::{PointResult, PointSummary};

    use crate::test_rng::Rng;

    /// Values for the sweep (the generator itself is `test_rng`).
    impl Rng {
        fn chance(&mut self, one_in: u64) -> bool {
            self.below(one_in) == 0
        }
        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.below(from.len() as u64) as usize]
        }
        /// Mostly small numbers, now and then up to the type's range.
        fn count(&mut self) -> u64 {
            self.next() >> self.below(64)
        }
        fn ts(&mut self) -> i64 {
            match self.below(4) {
                0 => -(self.count() as i64 >> 1),
                1 => self.next() as i64,
                _ => 1_700_000_000_000_000_000 + self.below(1 << 40) as i64,
            }
        }
        fn ip(&mut self) -> IpAddr {
            const V6: [&str; 6] = [
                "2001:db8::1",
                "::",
                "::ffff:10.0.0.1",
                "fe80::1:0:0:2",
                "2001:db8:0:1:0:0:0:ff",
                "1:2:3:4:5:6:7:8",
            ];
            match self.below(3) {
                0 => self.pick(&V6).parse().unwrap(),
                1 => IpAddr::V6(std::net::Ipv6Addr::from(
                    (u128::from(self.next()) << 64) | u128::from(self.count()),
                )),
                _ => IpAddr::V4(std::net::Ipv4Addr::from(self.next() as u32)),
            }
        }
        fn endpoint(&mut self) -> Endpoint {
            let any = self.next() as u16;
            Endpoint {
                ip: self.ip(),
                port: self.pick(&[0, 53, 443, 65535, any]),
            }
        }
        fn ttls(&mut self) -> TtlSet {
            let mut t = TtlSet::default();
            for _ in 0..self.below(6) {
                t.insert(self.next() as u8);
            }
            t
        }
        fn kind(&mut self) -> (u8, KeyKind) {
            match self.below(6) {
                0 => (self.pick(&[6, 17]), KeyKind::Ports),
                1 => (self.pick(&[6, 17]), KeyKind::PortsUnknown),
                2 => (
                    self.pick(&[1, 58]),
                    KeyKind::Echo {
                        id: self.next() as u16,
                    },
                ),
                3 => (
                    self.pick(&[1, 58]),
                    KeyKind::Icmp {
                        icmp_type: self.next() as u8,
                        code: self.next() as u8,
                    },
                ),
                4 => (self.pick(&[0, 47, 50, 132, 255]), KeyKind::Other),
                _ => (6, KeyKind::Ports),
            }
        }
        fn encap(&mut self) -> u16 {
            if self.chance(2) {
                0
            } else {
                self.next() as u16
            }
        }
    }

    const NAMES: [&str; 4] = ["hub-nva", "a\"b\\c\n\u{1}", "spoke\u{8}\u{c}\t\r ü ✓", ""];

    fn flow(rng: &mut Rng) -> Flow {
        let (ip_proto, kind) = rng.kind();
        // (orientation and history are private to the flow table: the captures test covers
        // them)
        let mut f = Flow::default();
        f.key = FlowKey::new(ip_proto, kind, rng.endpoint(), rng.endpoint()).0;
        f.packets = [rng.count(), rng.count()];
        f.bytes = [rng.count(), rng.count()];
        f.ip_bytes = [rng.count(), rng.count()];
        f.set_forwarded([rng.count(), rng.count()]);
        f.first_ts = rng.ts();
        f.last_ts = rng.ts();
        f.ttls = [rng.ttls(), rng.ttls()];
        f.encap = rng.encap();
        f
    }

    fn point(rng: &mut Rng) -> usize {
        // now and then an index with no name
        rng.below(NAMES.len() as u64 + 1) as usize
    }

    fn conversation(rng: &mut Rng) -> (Conversation, Judgement) {
        let (ip_proto, kind) = rng.kind();
        let orientations = [
            Orientation::Syn,
            Orientation::SynAck,
            Orientation::EchoRequest,
            Orientation::EchoReply,
            Orientation::Port,
            Orientation::First,
            Orientation::Lower,
        ];
        let nat = |rng: &mut Rng| NatRw {
            source: rng.chance(2),
            from: rng.endpoint(),
            to: rng.endpoint(),
        };
        let points = (0..rng.below(4))
            .map(|_| ConvPoint {
                point: point(rng),
                // summed over points and directions: no overflow
                packets: [rng.count() >> 4, rng.count() >> 4],
                bytes: [rng.count(), rng.count()],
                ttls: [rng.ttls(), rng.ttls()],
                forwarded: [rng.below(2), rng.below(2)],
                nat: (0..rng.below(3)).map(|_| nat(rng)).collect(),
                history: rng.pick(&["", "ShADadFf", "a\"\\\u{0}"]).into(),
                first_ts: rng.ts(),
                last_ts: rng.ts(),
                ..ConvPoint::default()
            })
            .collect();
        let mut route = [OneOrVec::new(), OneOrVec::new()];
        for r in &mut route {
            for _ in 0..rng.below(4) {
                r.push(Hop {
                    point: point(rng),
                    ttl: rng.chance(3).then(|| rng.next() as u8),
                    ttl_out: rng.chance(2).then(|| rng.next() as u8),
                    forwarded: rng.chance(2),
                    routers: rng.chance(2).then(|| rng.next() as u8),
                    delay_ns: rng.chance(3).then(|| match rng.below(3) {
                        0 => rng.below(10_000_000_000) as i64,
                        1 => -(rng.below(1_000_000) as i64),
                        _ => rng.next() as i64,
                    }),
                    first_ts: rng.ts(),
                });
            }
        }
        let rewrites = (0..rng.below(3))
            .map(|_| {
                let mut nat = nat(rng);
                if rng.chance(2) {
                    nat.to.port = nat.from.port;
                }
                Rewrite {
                    dir: rng.below(2) as u8,
                    at: if rng.chance(2) {
                        RewriteAt::Point(point(rng))
                    } else {
                        RewriteAt::Between(point(rng), point(rng))
                    },
                    nat,
                }
            })
            .collect();
        let losses = (0..rng.below(3))
            .map(|_| {
                let dir = rng.below(2) as u8;
                if rng.chance(2) {
                    Loss::After {
                        dir,
                        point: point(rng),
                    }
                } else {
                    Loss::Between {
                        dir,
                        from: point(rng),
                        to: point(rng),
                    }
                }
            })
            .collect();
        let icmp_errors = (0..rng.below(3))
            .map(|_| IcmpNote {
                point: point(rng),
                from: rng.ip(),
                v6: rng.chance(2),
                icmp_type: rng.pick(&[1, 2, 3, 4, 11, 12, 200]),
                code: rng.pick(&[0, 1, 3, 4, 9, 13, 77]),
                packets: rng.count(),
            })
            .collect();
        let c = Conversation {
            ip_proto,
            kind,
            client: rng.endpoint(),
            server: rng.endpoint(),
            orientation: rng.pick(&orientations),
            first_ts: rng.ts(),
            last_ts: rng.ts(),
            points,
            icmp_errors,
            encap: rng.encap(),
            route,
            rewrites,
            losses,
            uncovered: (0..rng.below(3))
                .map(|_| crate::correlate::Uncovered {
                    point: point(rng),
                    dirs: 1 + rng.below(3) as u8,
                    before: rng.chance(2),
                    window: rng.chance(2).then(|| (rng.ts(), rng.ts())),
                })
                .collect(),
            traces: crate::correlate::Traces::default(),
            sampled_packets: rng.count(),
            matched_packets: rng.count(),
            seq_rewritten: rng.chance(3),
            link_group: false,
        };
        let j = Judgement {
            verdict: rng.pick(&Verdict::ALL),
            path_verdict: rng.pick(&Verdict::ALL),
            evidence: crate::verdict::Evidence::NoReply,
            bypassed: (0..rng.below(3)).map(|_| point(rng)).collect(),
        };
        (c, j)
    }

    fn quoted_names() -> Vec<Vec<u8>> {
        NAMES
            .iter()
            .map(|n| serde_json::to_vec(n).unwrap())
            .collect()
    }

    #[test]
    fn flow_rows_print_as_serde_does() {
        let mut rng = Rng(1);
        let quoted = quoted_names();
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let f = flow(&mut rng);
            let p = rng.below(NAMES.len() as u64) as usize;
            out.clear();
            write_flow(&mut out, &quoted[p], &f);
            let want = serde_json::to_string(&flow_row(NAMES[p], &f)).unwrap();
            assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
        }
    }

    #[test]
    fn conversation_rows_print_as_serde_does() {
        let mut rng = Rng(2);
        let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        let quoted = quoted_names();
        let mut out = Vec::new();
        for id in 1..20_000 {
            let (c, j) = conversation(&mut rng);
            let reason = rng.pick(&[
                "",
                "answered on the same path",
                "via \"hub\\nva\"\n\u{7f}\u{1f}é",
            ]);
            out.clear();
            write_conversation(&mut out, id, &c, &j, reason, &quoted, None);
            let row = conversation_row(id, &c, &j, reason.to_string(), &names);
            let want = serde_json::to_string(&row).unwrap();
            assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
        }
    }

    fn both(a: &Analysis) -> (Vec<u8>, Vec<u8>) {
        let (mut fast, mut reference) = (Vec::new(), Vec::new());
        write(a, &mut fast).unwrap();
        write_reference(a, &mut reference).unwrap();
        (fast, reference)
    }

    #[test]
    fn documents_print_as_the_reference_across_chunks() {
        let mut rng = Rng(3);
        // point sizes around the chunk size, an empty point among them
        let sizes = [CHUNK_ROWS + 1, 0, 3, 2 * CHUNK_ROWS, CHUNK_ROWS - 1];
        let points = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| PointResult {
                summary: PointSummary {
                    name: NAMES[i % NAMES.len()].to_string(),
                    ..PointSummary::default()
                },
                flows: (0..n).map(|_| flow(&mut rng)).collect(),
                links: Vec::new(),
            })
            .collect();
        let mut a = Analysis {
            points,
            conversations: (0..3 * CHUNK_ROWS + 5)
                .map(|_| conversation(&mut rng))
                .collect(),
            clocks: crate::clock::Clocks::default(),
            matches: MatchSummary::default(),
            expect_via: Vec::new(),
            routing: None,
            selection: Default::default(),
        };
        let (fast, reference) = both(&a);
        assert!(fast == reference, "documents differ");
        // narrowed: the ids of the kept rows stay those of the whole list
        let mut narrowed = a.clone();
        let mut k = 0;
        narrowed.retain(|_, _| {
            k += 1;
            k % 3 == 0
        });
        narrowed.selection.expression = Some("every third".into());
        let (fast, reference) = both(&narrowed);
        assert!(fast == reference, "narrowed documents differ");
        let doc: serde_json::Value = serde_json::from_slice(&fast).unwrap();
        assert_eq!(doc["conversations"][1]["id"], 6);
        assert_eq!(
            doc["filter"]["left_out"],
            a.conversations.len() - narrowed.conversations.len()
        );
        serde_json::from_slice::<serde_json::Value>(&fast).unwrap();
        // nothing at all, then one row of each
        a.conversations.truncate(1);
        for p in &mut a.points {
            p.flows.truncate(1);
        }
        let (fast, reference) = both(&a);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(reference).unwrap()
        );
        a.conversations.clear();
        a.points.clear();
        let (fast, reference) = both(&a);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    #[test]
    fn captures_print_as_the_reference() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        for set in [
            vec!["stage3".to_string()],
            vec!["variants/stage3-stateful-shifted".to_string()],
            vec!["variants/stage4-any".to_string()],
            vec!["hub-nva.pcap".to_string()],
        ] {
            let args: Vec<String> = set
                .iter()
                .map(|s| here.join(s).display().to_string())
                .collect();
            let inputs = crate::point::resolve_inputs(&args).unwrap();
            // with the folder's route tables, when it has some: the routing rows too
            let routes = here.join(&set[0]).join("routes");
            let aopts = crate::AnalyseOptions {
                routes: routes.is_dir().then(|| {
                    crate::routes::load(&[crate::routes::RouteArg::Path(routes)]).unwrap()
                }),
                ..crate::AnalyseOptions::default()
            };
            let a = crate::analyse_with(&inputs, &crate::point::ReadOptions::default(), &aopts);
            assert!(!a.conversations.is_empty(), "{set:?}");
            assert_eq!(a.routing.is_some(), set[0] != "hub-nva.pcap");
            let (fast, reference) = both(&a);
            assert!(fast == reference, "{set:?}: documents differ");
        }
    }
}
