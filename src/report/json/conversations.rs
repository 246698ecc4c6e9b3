//! The rows of `conversations[]`, written by hand straight into a byte buffer (see
//! [`super`] for why, and docs/json-schema.md for what each field means).

use super::flows::{write_community_id, write_encaps, write_type_fields};
use super::{emit, routing};
use crate::correlate::{Conversation, Hop, RewriteAt};
use crate::flow::KeyKind;
use crate::report::community_id;
use crate::report::format::direction_name;
use crate::verdict::{icmp_error_text, Judgement};

/// The quoted name of point `i` (`""` for an unknown index, as the reference row does).
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
/// (the ports `null` unless the conversation has `ports`), as the reference
/// `Nat` row prints them.
fn write_nat(out: &mut Vec<u8>, n: &crate::correlate::Nat, ports: bool) {
    let port = |p: u16| ports.then_some(u64::from(p));
    out.extend_from_slice(b"\"side\":");
    emit::string(out, n.side.name());
    out.extend_from_slice(b",\"from\":");
    emit::ip(out, n.from.ip);
    out.extend_from_slice(b",\"to\":");
    emit::ip(out, n.to.ip);
    out.extend_from_slice(b",\"from_port\":");
    emit::opt_uint(out, port(n.from.port));
    out.extend_from_slice(b",\"to_port\":");
    emit::opt_uint(out, port(n.to.port));
}

/// One conversation row (`conversations[]` in docs/json-schema.md); `names` are the points'
/// names, quoted. The keys come in the order of the reference row
/// (`reference::ConversationRow`), which the tests check byte for byte.
pub(super) fn write_conversation(
    out: &mut Vec<u8>,
    id: usize,
    c: &Conversation,
    j: &Judgement,
    reason: &str,
    names: &[Vec<u8>],
    route: Option<&routing::RoutingRow>,
) {
    write_identity(out, id, c, j, reason);
    out.extend_from_slice(b",\"forward_path\":");
    write_names(out, names, c.path_points(0));
    out.extend_from_slice(b",\"reverse_path\":");
    write_names(out, names, c.path_points(1));
    write_points(out, c, names);
    write_icmp_errors(out, c, names);
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
    write_rewrites(out, c, names);
    write_losses(out, c, names);
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

/// Opens the row and writes what tells the conversation and its verdict: `{"id":..` up to
/// `"packets":..`.
fn write_identity(out: &mut Vec<u8>, id: usize, c: &Conversation, j: &Judgement, reason: &str) {
    let port = |p: u16| (c.kind == KeyKind::Ports).then_some(u64::from(p));
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
    write_type_fields(out, c.kind, c.ip_proto);
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
}

/// `,"points":[..]`: what each capture point saw of the conversation.
fn write_points(out: &mut Vec<u8>, c: &Conversation, names: &[Vec<u8>]) {
    let ports = c.kind == KeyKind::Ports;
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
}

/// `,"icmp_errors":[..]`: the ICMP errors about the conversation, by point and sender.
fn write_icmp_errors(out: &mut Vec<u8>, c: &Conversation, names: &[Vec<u8>]) {
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
}

/// `,"nat":[..]`: every rewrite on the way, and where it happened.
fn write_rewrites(out: &mut Vec<u8>, c: &Conversation, names: &[Vec<u8>]) {
    let ports = c.kind == KeyKind::Ports;
    let echo = matches!(c.kind, KeyKind::Echo { .. });
    out.extend_from_slice(b",\"nat\":[");
    for (i, r) in c.rewrites.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"direction\":");
        emit::string(out, direction_name(r.dir));
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
}

/// `,"lost_after":..,"lost_between":..,"lost_direction":..`: where a direction vanished.
fn write_losses(out: &mut Vec<u8>, c: &Conversation, names: &[Vec<u8>]) {
    out.extend_from_slice(b",\"lost_after\":");
    match c.lost_after() {
        Some(p) => out.extend_from_slice(name(names, p)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"lost_between\":");
    match c.lost_between() {
        Some(pair) => write_names(out, names, pair.into_iter()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"lost_direction\":");
    match c.losses.first() {
        Some(l) => emit::string(out, direction_name(l.dir())),
        None => out.extend_from_slice(b"null"),
    }
}

/// A direction's hops (`forward_hops`, `reverse_hops`) as a JSON array.
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
