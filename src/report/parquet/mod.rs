//! `--parquet DIR`: `points.parquet`, `flows.parquet` and `conversations.parquet`, one row
//! per element of the JSON's `points`, `flows` and `conversations` arrays, for DuckDB,
//! pandas, Polars and Spark.
//!
//! Columns have the JSON's names and meanings. Times are `TIMESTAMP(NANOS, UTC)` (the JSON's
//! strings of seconds become timestamps, to the nanosecond); lists (paths, TTLs, encapsulations,
//! `--expect-via` points missed) are Parquet lists, and the lists of objects (`points`,
//! `forward_hops`, `reverse_hops`, `nat`, `icmp_errors` of a conversation) lists of structs.
//! A JSON `null` is a Parquet null; `lost_between`, which is null or two names in the JSON,
//! is a list (empty for none). The JSON's per-point maps (`not_decoded`,
//! `unsupported_link_types`) are left out of `points.parquet`.
//!
//! Written with the `parquet` crate's low-level column writer (`columns.rs`), without Arrow
//! and with Snappy only: see the README for what it adds to the build and the binary.

mod columns;

use std::path::{Path, PathBuf};

use columns::{s, Kind, Table, Value};

use super::json::{self, conversation_row, flow_row};
use super::Analysis;

/// Writes the three files into `dir` (created if needed); returns their paths.
pub fn write_dir(a: &Analysis, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    super::export::create_dir("--parquet", dir)?;
    let tables = [
        ("points", points(a)),
        ("flows", flows(a)),
        ("conversations", conversations(a)),
    ];
    let mut files = Vec::new();
    for (name, table) in tables {
        let path = dir.join(format!("{name}.parquet"));
        let context = |e: String| std::io::Error::other(format!("--parquet {}: {e}", path.display()));
        let file = std::fs::File::create(&path).map_err(|e| context(e.to_string()))?;
        table
            .write(name, file)
            .map_err(|e| context(e.to_string()))?;
        files.push(path);
    }
    Ok(files)
}

fn u64v(v: u64) -> Value {
    Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
}

fn u8v(v: u8) -> Value {
    Value::I32(v.into())
}

fn u16v(v: u16) -> Value {
    Value::I32(v.into())
}

fn points(a: &Analysis) -> Table {
    let head = json::head(a);
    let mut t = Table::new();
    for (p, r) in head.points.iter().zip(&a.points) {
        let sum = &r.summary;
        t.value("name", Kind::Str, s(&p.name));
        t.value("path", Kind::Str, s(&p.path));
        t.value("format", Kind::Str, s(&p.format));
        t.list("link_types", Kind::I64, p.link_types.iter().map(|&l| Value::I64(l.into())));
        t.list("link_type_names", Kind::Str, p.link_type_names.iter().map(|n| s(n)));
        t.value("packets", Kind::I64, u64v(p.packets));
        t.value("bytes", Kind::I64, u64v(p.bytes));
        t.value("decoded", Kind::I64, u64v(p.decoded));
        t.optional("first_ts", Kind::Timestamp, sum.first_ts.map(Value::I64));
        t.optional("last_ts", Kind::Timestamp, sum.last_ts.map(Value::I64));
        t.value("clock_steps_back", Kind::I64, u64v(p.clock_steps_back));
        t.value("timestamp_fixups", Kind::I64, u64v(p.timestamp_fixups));
        t.value("forwarded_packets", Kind::I64, u64v(p.forwarded_packets));
        t.value("packets_over_flow_cap", Kind::I64, u64v(p.packets_over_flow_cap));
        t.value("flows", Kind::I64, u64v(p.flows as u64));
        t.optional("damage_offset", Kind::I64, p.damage.as_ref().map(|d| u64v(d.offset)));
        t.optional("damage_reason", Kind::Str, p.damage.as_ref().map(|d| s(&d.reason)));
        t.optional("clock_offset_s", Kind::F64, p.clock_offset_s.map(Value::F64));
        t.optional("clock_uncertainty_s", Kind::F64, p.clock_uncertainty_s.map(Value::F64));
        t.optional("clock_via", Kind::Str, p.clock_via.as_deref().map(s));
        t.value("matched_packets", Kind::I64, u64v(p.matched_packets));
        t.end_row();
    }
    t
}

fn flows(a: &Analysis) -> Table {
    let mut t = Table::new();
    for p in &a.points {
        for f in &p.flows {
            let r = flow_row(&p.summary.name, f);
            t.value("point", Kind::Str, s(&r.point));
            t.value("proto", Kind::Str, s(r.proto));
            t.value("a", Kind::Str, s(&r.a));
            t.value("b", Kind::Str, s(&r.b));
            t.value("a_rule", Kind::Str, s(r.a_rule));
            t.optional("icmp_id", Kind::I32, r.icmp_id.map(u16v));
            t.optional("icmp_type", Kind::I32, r.icmp_type.map(u8v));
            t.optional("icmp_code", Kind::I32, r.icmp_code.map(u8v));
            t.optional("ip_proto", Kind::I32, r.ip_proto.map(u8v));
            t.value("ports_unknown", Kind::Bool, Value::Bool(r.ports_unknown));
            t.value("packets_ab", Kind::I64, u64v(r.packets_ab));
            t.value("packets_ba", Kind::I64, u64v(r.packets_ba));
            t.value("bytes_ab", Kind::I64, u64v(r.bytes_ab));
            t.value("bytes_ba", Kind::I64, u64v(r.bytes_ba));
            t.value("ip_bytes_ab", Kind::I64, u64v(r.ip_bytes_ab));
            t.value("ip_bytes_ba", Kind::I64, u64v(r.ip_bytes_ba));
            t.value("first_ts", Kind::Timestamp, Value::I64(f.first_ts));
            t.value("last_ts", Kind::Timestamp, Value::I64(f.last_ts));
            t.list("ttls_ab", Kind::I32, r.ttls_ab.iter().map(|&v| u8v(v)));
            t.list("ttls_ba", Kind::I32, r.ttls_ba.iter().map(|&v| u8v(v)));
            let history = (!r.history.is_empty()).then(|| s(&r.history));
            t.optional("history", Kind::Str, history);
            t.value("forwarded_ab", Kind::I64, u64v(r.forwarded_ab));
            t.value("forwarded_ba", Kind::I64, u64v(r.forwarded_ba));
            t.list("encaps", Kind::Str, r.encaps.iter().map(|e| s(e)));
            t.optional("community_id", Kind::Str, r.community_id.as_deref().map(s));
            t.end_row();
        }
    }
    t
}

fn conversations(a: &Analysis) -> Table {
    let names = a.point_names();
    let mut t = Table::new();
    for (i, (c, j)) in a.conversations.iter().enumerate() {
        let r = conversation_row(i + 1, c, j, a.reason(c, &names), &names);
        t.value("id", Kind::I64, u64v(r.id as u64));
        t.value("proto", Kind::Str, s(r.proto));
        t.value("client", Kind::Str, s(&r.client));
        t.value("server", Kind::Str, s(&r.server));
        t.optional("client_port", Kind::I32, r.client_port.map(u16v));
        t.optional("server_port", Kind::I32, r.server_port.map(u16v));
        t.optional("icmp_id", Kind::I32, r.icmp_id.map(u16v));
        t.optional("icmp_type", Kind::I32, r.icmp_type.map(u8v));
        t.optional("icmp_code", Kind::I32, r.icmp_code.map(u8v));
        t.optional("ip_proto", Kind::I32, r.ip_proto.map(u8v));
        t.value("verdict", Kind::Str, s(r.verdict));
        t.value("reason", Kind::Str, s(&r.reason));
        t.value("path_verdict", Kind::Str, s(r.path_verdict));
        t.list("bypassed", Kind::Str, r.bypassed.iter().map(|b| s(b)));
        t.value("client_rule", Kind::Str, s(r.client_rule));
        t.value("first_ts", Kind::Timestamp, Value::I64(c.first_ts));
        t.value("last_ts", Kind::Timestamp, Value::I64(c.last_ts));
        t.value("packets", Kind::I64, u64v(r.packets));
        t.list("forward_path", Kind::Str, r.forward_path.iter().map(|p| s(p)));
        t.list("reverse_path", Kind::Str, r.reverse_path.iter().map(|p| s(p)));
        conversation_points(&mut t, &r, c);
        for (group, hops, route) in [
            ("forward_hops", &r.forward_hops, &c.route[0]),
            ("reverse_hops", &r.reverse_hops, &c.route[1]),
        ] {
            hop_fields(&mut t, group, hops, route);
        }
        nat_fields(&mut t, &r.nat);
        t.optional("lost_after", Kind::Str, r.lost_after.as_deref().map(s));
        let between = r.lost_between.iter().flatten().map(|p| s(p));
        t.list("lost_between", Kind::Str, between);
        t.optional("lost_direction", Kind::Str, r.lost_direction.map(s));
        t.value("sampled_packets", Kind::I64, u64v(r.sampled_packets));
        t.value("matched_packets", Kind::I64, u64v(r.matched_packets));
        t.value("seq_rewritten", Kind::Bool, Value::Bool(r.seq_rewritten));
        let e = &r.icmp_errors;
        let g = "icmp_errors";
        t.field(g, "point", Kind::Str, false, e.iter().map(|x| Some(s(&x.point))));
        t.field(g, "from", Kind::Str, false, e.iter().map(|x| Some(s(&x.from))));
        t.field(g, "icmp_type", Kind::I32, false, e.iter().map(|x| Some(u8v(x.icmp_type))));
        t.field(g, "code", Kind::I32, false, e.iter().map(|x| Some(u8v(x.code))));
        t.field(g, "text", Kind::Str, false, e.iter().map(|x| Some(s(&x.text))));
        t.field(g, "packets", Kind::I64, false, e.iter().map(|x| Some(u64v(x.packets))));
        t.list("encaps", Kind::Str, r.encaps.iter().map(|e| s(e)));
        t.optional("community_id", Kind::Str, r.community_id.as_deref().map(s));
        t.end_row();
    }
    t
}

/// The `points` list of a conversation (its per-point NAT left to the conversation's `nat`).
fn conversation_points(t: &mut Table, r: &json::ConversationRow, c: &crate::correlate::Conversation) {
    let p = &r.points;
    let g = "points";
    t.field(g, "point", Kind::Str, false, p.iter().map(|x| Some(s(&x.point))));
    let counts: [(&'static str, fn(&json::ConvPointRow) -> u64); 4] = [
        ("forward_packets", |x| x.forward_packets),
        ("reverse_packets", |x| x.reverse_packets),
        ("forward_bytes", |x| x.forward_bytes),
        ("reverse_bytes", |x| x.reverse_bytes),
    ];
    for (name, get) in counts {
        t.field(g, name, Kind::I64, false, p.iter().map(|x| Some(u64v(get(x)))));
    }
    t.field(g, "forwarded", Kind::Bool, false, p.iter().map(|x| Some(Value::Bool(x.forwarded))));
    let history = p.iter().map(|x| (!x.history.is_empty()).then(|| s(&x.history)));
    t.field(g, "history", Kind::Str, true, history);
    let first = c.points.iter().map(|x| Some(Value::I64(x.first_ts)));
    t.field(g, "first_ts", Kind::Timestamp, false, first);
    let last = c.points.iter().map(|x| Some(Value::I64(x.last_ts)));
    t.field(g, "last_ts", Kind::Timestamp, false, last);
}

fn hop_fields(t: &mut Table, g: &'static str, hops: &[json::HopRow], route: &[crate::correlate::Hop]) {
    t.field(g, "point", Kind::Str, false, hops.iter().map(|h| Some(s(&h.point))));
    t.field(g, "ttl", Kind::I32, true, hops.iter().map(|h| h.ttl.map(u8v)));
    t.field(g, "ttl_out", Kind::I32, true, hops.iter().map(|h| h.ttl_out.map(u8v)));
    t.field(g, "forwarded", Kind::Bool, false, hops.iter().map(|h| Some(Value::Bool(h.forwarded))));
    t.field(g, "routers", Kind::I32, true, hops.iter().map(|h| h.routers.map(u8v)));
    t.field(g, "delay_ms", Kind::F64, true, hops.iter().map(|h| h.delay_ms.map(Value::F64)));
    let first = route.iter().map(|h| Some(Value::I64(h.first_ts)));
    t.field(g, "first_ts", Kind::Timestamp, false, first);
}

fn nat_fields(t: &mut Table, nat: &[json::ConvNat]) {
    let g = "nat";
    t.field(g, "direction", Kind::Str, false, nat.iter().map(|n| Some(s(n.direction))));
    t.field(g, "point", Kind::Str, true, nat.iter().map(|n| n.point.as_deref().map(s)));
    let between = |k: usize| nat.iter().map(move |n| n.between.as_ref().map(|b| s(&b[k])));
    t.field(g, "between_from", Kind::Str, true, between(0));
    t.field(g, "between_to", Kind::Str, true, between(1));
    t.field(g, "side", Kind::Str, false, nat.iter().map(|n| Some(s(n.side))));
    t.field(g, "from", Kind::Str, false, nat.iter().map(|n| Some(s(&n.from))));
    t.field(g, "to", Kind::Str, false, nat.iter().map(|n| Some(s(&n.to))));
    t.field(g, "from_port", Kind::I32, true, nat.iter().map(|n| n.from_port.map(u16v)));
    t.field(g, "to_port", Kind::I32, true, nat.iter().map(|n| n.to_port.map(u16v)));
    t.field(g, "from_icmp_id", Kind::I32, true, nat.iter().map(|n| n.from_icmp_id.map(u16v)));
    t.field(g, "to_icmp_id", Kind::I32, true, nat.iter().map(|n| n.to_icmp_id.map(u16v)));
}
