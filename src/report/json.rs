//! json: the `flowcheck/1` document.
//!
//! The wire types live here, apart from the internal ones, so that the schema is explicit:
//! changing a field here is changing the schema (documented in the README). Additions are
//! backwards compatible; renames and removals need `flowcheck/2`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{endpoint_text, link_type_name, ts_text, Analysis};
use crate::correlate::{Conversation, Hop, Loss, RewriteAt};
use crate::flow::{Flow, KeyKind};
use crate::verdict::{icmp_error_name, Judgement, Verdict};

pub const SCHEMA: &str = "flowcheck/1";

/// The document without its two long arrays (`flows`, `conversations`), which [`write`]
/// streams row by row so that memory does not grow with them.
#[derive(Serialize)]
pub struct Head {
    pub schema: &'static str,
    pub version: &'static str,
    pub summary: Summary,
    pub points: Vec<Point>,
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
    pub forwarded_packets: u64,
    pub packets_over_flow_cap: u64,
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
}

fn encap_names(bits: u16) -> Vec<&'static str> {
    crate::decode::encap::NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
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
        forwarded_ab: f.forwarded[a],
        forwarded_ba: f.forwarded[b],
        encaps: encap_names(f.encap),
    }
}

fn conversation_row(
    id: usize,
    c: &Conversation,
    j: &Judgement,
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
        reason: j.reason.clone(),
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
                history: p.history.clone(),
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
                forwarded_packets: s.forwarded_packets,
                packets_over_flow_cap: s.packets_over_flow_cap,
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
        },
        points,
    }
}

/// Writes the document (compact JSON, one line) followed by a newline, streaming the flow
/// and conversation rows one at a time.
pub fn write(a: &Analysis, mut out: impl std::io::Write) -> std::io::Result<()> {
    let head = serde_json::to_string(&head(a)).map_err(std::io::Error::other)?;
    // reopen the head object to append the two arrays
    let head = head.strip_suffix('}').unwrap_or(&head);
    out.write_all(head.as_bytes())?;
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
        serde_json::to_writer(&mut out, &conversation_row(i + 1, c, j, &names))
            .map_err(std::io::Error::other)?;
    }
    out.write_all(b"]}\n")?;
    out.flush()
}
