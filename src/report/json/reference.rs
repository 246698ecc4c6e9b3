//! The reference writer, built for the tests and the `analyse` fuzz target only: the same
//! document as [`super::write`], through serde and one row type per kind of row, one row at
//! a time. They check that both print the same bytes, so each row type here is what its
//! hand-written writer must print, key for key; what the keys mean is docs/json-schema.md.
//! A field added to a writer must be added to its row type here (the tests fail until it is).

use super::head::write_head;
use super::{routing, Analysis};
use crate::correlate::{Conversation, Hop, Loss, RewriteAt};
use crate::decode::proto;
use crate::flow::{Flow, KeyKind, TsharkSides};
use crate::report::community_id;
use crate::report::format::{endpoint_text, ts_text};
use crate::verdict::{icmp_error_name, Judgement};
use serde::Serialize;

/// A row of `flows[]`.
#[derive(Serialize)]
pub struct FlowRow {
    pub point: String,
    pub proto: &'static str,
    pub a: String,
    pub b: String,
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
    pub community_id: Option<String>,
}

/// A rewrite in `conversations[].points[].nat`.
#[derive(Serialize)]
pub struct Nat {
    pub side: &'static str,
    pub from: String,
    pub to: String,
    pub from_port: Option<u16>,
    pub to_port: Option<u16>,
}

/// A row of `conversations[].points`.
#[derive(Serialize)]
pub struct ConvPointRow {
    pub point: String,
    pub forward_packets: u64,
    pub reverse_packets: u64,
    pub forward_bytes: u64,
    pub reverse_bytes: u64,
    pub forward_ttls: Vec<u8>,
    pub reverse_ttls: Vec<u8>,
    pub forwarded: bool,
    pub nat: Vec<Nat>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub history: String,
    pub first_ts: String,
    pub last_ts: String,
}

/// A hop of `conversations[].forward_hops` / `reverse_hops`.
#[derive(Serialize)]
pub struct HopRow {
    pub point: String,
    pub ttl: Option<u8>,
    pub ttl_out: Option<u8>,
    pub forwarded: bool,
    pub routers: Option<u8>,
    pub delay_ms: Option<f64>,
    pub first_ts: String,
}

/// A rewrite of `conversations[].nat`.
#[derive(Serialize)]
pub struct ConvNat {
    pub direction: &'static str,
    pub point: Option<String>,
    pub between: Option<[String; 2]>,
    pub side: &'static str,
    pub from: String,
    pub to: String,
    pub from_port: Option<u16>,
    pub to_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_icmp_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_icmp_id: Option<u16>,
}

/// A row of `conversations[].icmp_errors`.
#[derive(Serialize)]
pub struct IcmpErrorRow {
    pub point: String,
    pub from: String,
    pub icmp_type: u8,
    pub code: u8,
    pub text: String,
    pub packets: u64,
}

/// A row of `conversations[]`.
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
    pub client_rule: &'static str,
    pub first_ts: String,
    pub last_ts: String,
    pub packets: u64,
    pub forward_path: Vec<String>,
    pub reverse_path: Vec<String>,
    pub points: Vec<ConvPointRow>,
    pub icmp_errors: Vec<IcmpErrorRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encaps: Vec<&'static str>,
    pub path_verdict: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bypassed: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncovered: Vec<String>,
    pub forward_hops: Vec<HopRow>,
    pub reverse_hops: Vec<HopRow>,
    pub nat: Vec<ConvNat>,
    pub lost_after: Option<String>,
    pub lost_between: Option<[String; 2]>,
    pub lost_direction: Option<&'static str>,
    pub sampled_packets: u64,
    pub matched_packets: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub seq_rewritten: bool,
    pub routing: Option<routing::RoutingRow>,
    pub community_id: Option<String>,
}

fn encap_names(bits: u16) -> Vec<&'static str> {
    crate::decode::encap::names(bits).collect()
}

/// The tshark-style flow row of one flow at one point.
pub fn flow_row(point: &str, f: &Flow) -> FlowRow {
    let TsharkSides { a, b, rule } = f.tshark_sides();
    let ports = f.key.has_ports();
    let (icmp_id, icmp_type, icmp_code) = match f.key.kind {
        KeyKind::Echo { id } => (Some(id), None, None),
        KeyKind::Icmp { icmp_type, code } => (None, Some(icmp_type), Some(code)),
        _ => (None, None, None),
    };
    let history = if f.key.ip_proto == proto::TCP {
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

pub(super) fn conversation_row(
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
    let (lost_after, lost_between, lost_direction) = losses(c, names);
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
            .map(|p| point_row(p, ports, names))
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
            .map(|r| rewrite_row(c, r, names))
            .collect(),
        lost_after,
        lost_between,
        lost_direction,
        sampled_packets: c.sampled_packets,
        matched_packets: c.matched_packets,
        seq_rewritten: c.seq_rewritten,
        routing: None,
        community_id: community_id::of_conversation(c).map(|c| c.to_string()),
    }
}

fn nat_row(n: &crate::correlate::Nat, ports: bool) -> Nat {
    Nat {
        side: n.side.name(),
        from: n.from.ip.to_string(),
        to: n.to.ip.to_string(),
        from_port: ports.then_some(n.from.port),
        to_port: ports.then_some(n.to.port),
    }
}

fn point_row(p: &crate::correlate::ConvPoint, ports: bool, names: &[String]) -> ConvPointRow {
    ConvPointRow {
        point: names.get(p.point).cloned().unwrap_or_default(),
        forward_packets: p.packets[0],
        reverse_packets: p.packets[1],
        forward_bytes: p.bytes[0],
        reverse_bytes: p.bytes[1],
        forward_ttls: p.ttls[0].values().to_vec(),
        reverse_ttls: p.ttls[1].values().to_vec(),
        forwarded: p.is_forwarder(),
        nat: p.nat.iter().map(|n| nat_row(n, ports)).collect(),
        history: p.history.to_string(),
        first_ts: ts_text(p.first_ts),
        last_ts: ts_text(p.last_ts),
    }
}

fn rewrite_row(c: &Conversation, r: &crate::correlate::Rewrite, names: &[String]) -> ConvNat {
    let name = |i: usize| names.get(i).cloned().unwrap_or_default();
    let ports = c.kind == KeyKind::Ports;
    let echo = matches!(c.kind, KeyKind::Echo { .. });
    let (point, between) = match r.at {
        RewriteAt::Point(p) => (Some(name(p)), None),
        RewriteAt::Between(a, b) => (None, Some([name(a), name(b)])),
    };
    let Nat {
        side,
        from,
        to,
        from_port,
        to_port,
    } = nat_row(&r.nat, ports);
    let icmp_ids = echo && r.nat.from.port != r.nat.to.port;
    ConvNat {
        direction: r.dir.name(),
        point,
        between,
        side,
        from,
        to,
        from_port,
        to_port,
        from_icmp_id: icmp_ids.then_some(r.nat.from.port),
        to_icmp_id: icmp_ids.then_some(r.nat.to.port),
    }
}

/// `lost_after`, `lost_between`, `lost_direction`.
type LossFields = (Option<String>, Option<[String; 2]>, Option<&'static str>);

fn losses(c: &Conversation, names: &[String]) -> LossFields {
    let name = |i: usize| names.get(i).cloned().unwrap_or_default();
    (
        c.losses.iter().find_map(|l| match *l {
            Loss::After { point, .. } => Some(name(point)),
            Loss::Between { .. } => None,
        }),
        c.losses.iter().find_map(|l| match *l {
            Loss::Between { from, to, .. } => Some([name(from), name(to)]),
            Loss::After { .. } => None,
        }),
        c.losses.first().map(|l| l.dir().name()),
    )
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

/// Writes the document as [`super::write`] does, through serde and the row types, one row at
/// a time, on one thread.
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
        let reason = a.reason(c, j, &names);
        let mut row = conversation_row(a.id(i), c, j, reason, &names);
        row.routing = routing::row(a, i, &names);
        serde_json::to_writer(&mut out, &row).map_err(std::io::Error::other)?;
    }
    out.write_all(b"]}\n")?;
    out.flush()
}
