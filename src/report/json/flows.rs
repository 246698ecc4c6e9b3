//! The rows of `flows[]` (each point's flow table in tshark's terms), written by hand
//! straight into a byte buffer, and the fields flow and conversation rows share.

use super::emit;
use crate::decode::proto;
use crate::flow::{Flow, KeyKind, TsharkSides};
use crate::report::community_id;

/// `,"encaps":[...]` unless there are none.
pub(super) fn write_encaps(out: &mut Vec<u8>, bits: u16) {
    let names = crate::decode::encap::names(bits);
    if names.clone().next().is_some() {
        out.extend_from_slice(b",\"encaps\":");
        emit::str_array(out, names);
    }
}

/// One flow row (`flows[]` in docs/json-schema.md); `point` is the point's name already
/// quoted.
pub(super) fn write_flow(out: &mut Vec<u8>, point: &[u8], f: &Flow) {
    let TsharkSides { a, b, rule } = f.tshark_sides();
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
        KeyKind::PortsUnknown => out.extend_from_slice(b",\"ports_unknown\":true"),
        _ => write_type_fields(out, f.key.kind, f.key.ip_proto),
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
    if f.key.ip_proto == proto::TCP && !f.history.is_empty() {
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

/// `,"icmp_type":..,"icmp_code":..` for ICMP other than echo, `,"ip_proto":..` for the
/// other protocols, nothing else (flow and conversation rows print them alike).
pub(super) fn write_type_fields(out: &mut Vec<u8>, kind: KeyKind, ip_proto: u8) {
    match kind {
        KeyKind::Icmp { icmp_type, code } => {
            out.extend_from_slice(b",\"icmp_type\":");
            emit::uint(out, icmp_type.into());
            out.extend_from_slice(b",\"icmp_code\":");
            emit::uint(out, code.into());
        }
        KeyKind::Other => {
            out.extend_from_slice(b",\"ip_proto\":");
            emit::uint(out, ip_proto.into());
        }
        _ => {}
    }
}

/// `,"community_id":"1:..."` (or `null`), as the rows print it.
pub(super) fn write_community_id(out: &mut Vec<u8>, id: Option<community_id::CommunityId>) {
    out.extend_from_slice(b",\"community_id\":");
    match id {
        // "1:" and base64: nothing to escape
        Some(id) => {
            out.push(b'"');
            out.extend_from_slice(id.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}
