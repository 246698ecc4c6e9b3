//! `--parquet DIR`: `points.parquet`, `flows.parquet` and `conversations.parquet`, one row
//! per element of the JSON's `points`, `flows` and `conversations` arrays, for DuckDB,
//! pandas, Polars and Spark.
//!
//! Columns have the JSON's names and meanings. Each time is two columns: `first_ts` a
//! `TIMESTAMP(MICROS, UTC)` (rounded down to the microsecond) and `first_ts_ns` the exact
//! nanoseconds since the epoch as an `int64`. Spark (4.3, as 3.x) refuses
//! `TIMESTAMP(NANOS)` columns unless `spark.sql.legacy.parquet.nanosAsLong` is set, and then
//! reads them as plain integers; microsecond timestamps are what every reader (DuckDB, Spark,
//! pandas, Polars) takes without settings, and the integer keeps the capture's nanoseconds
//! (`make_timestamp_ns(first_ts_ns)` in DuckDB, `timestamp_micros`/arithmetics in Spark).
//! Lists (paths, TTLs, encapsulations, `--expect-via` points missed) are Parquet lists, and
//! the lists of objects (`points`, `forward_hops`, `reverse_hops`, `nat`, `icmp_errors` of a
//! conversation) lists of structs. A JSON `null` is a Parquet null; `lost_between`, which is
//! null or two names in the JSON, is a list (empty for none). The JSON's per-point maps
//! (`not_decoded`, `unsupported_link_types`) are left out of `points.parquet`.
//!
//! How it is written: each table's row groups (16,384 rows) are filled on the exports'
//! threads (`table.rs`), a row at a time into the columns declared in `schema.rs`
//! (`columns.rs`); each value is encoded into its column's page as it comes (`page.rs`:
//! PLAIN values, RLE levels; `dict.rs`: the columns of names as bit-packed indices into a
//! dictionary); the worker that filled a group writes it into the file in its turn, each page
//! after its header (`thrift.rs`), straight from the group's buffers; the `parquet` crate
//! parses the schema, holds the metadata and writes the footer. No Arrow, no codec: pages are
//! not compressed.
//!
//! Chosen for cost, measured with callgrind on the benchmark generator's 200 MB capture
//! (20,000 flows and conversations; instructions the Parquet export adds to the analysis;
//! SHA-1 runs without the SHA instructions under callgrind, so the Community IDs weigh more
//! here than natively). Through the crate's column writer: its defaults (dictionary on every
//! column, per-chunk statistics, Snappy) 704 M; a dictionary only for the columns of names
//! and min/max statistics only on the timestamps (what a time filter prunes on), 594 M; no
//! compression, 478 M, for files 2.4 times as large (Snappy was the writer's largest single
//! cost); columns declared once and filled by position, 392 M; row groups written as the
//! table fills, into columns emptied and reused, 398 M (peak RSS 250 MiB instead of 324 MiB
//! on the 2 GB capture). Then, encoding the pages here instead of through the crate's column
//! writer (which took every string as a reference-counted slice, and checked and re-encoded
//! the levels in mini batches): every string PLAIN, 331 M; the fills inlined, a column's
//! kind and shape checked as one byte, and the columns of names dictionary-encoded again
//! (the last value compared before a lookup), 291 M, for files as large as before (97 MB on
//! the 2 GB capture: 22 MB of names PLAIN-encoded had made them 118 MB); row groups filled
//! on the exports' threads side by side, 277 M. In time, on the 2 GB capture (best of 8,
//! alternated): the export's phase took 0.25 s with row groups of 65,536 rows, 0.18 to 0.19
//! s with 8,192 or 16,384 (more groups to share between the threads, and each placed in the
//! file while the next are filled), 0.22 s with 32,768. Pages of 2,048 rows within the
//! groups (so that a page's 80 columns stay in the cache), and prefetching the rows ahead,
//! were measured too and changed nothing: not kept. Round 4 (the same files, byte for byte):
//! names that are `&'static str` found by their address and points' names by the point,
//! before any lookup; min/max kept only for timestamps; conversations' Community IDs copied
//! from their flows' when the tuples give the same ID (`derived.rs`), 217 M; page headers
//! written here and no page assembled before its copy, 207 M; empty lists of structs (no
//! NAT, no ICMP error) counted and written in one run per column, and each group placed by
//! its worker, 193 M; the file written here instead of through the crate's file writer
//! (`append_column` copied each chunk twice more), 179 M.

mod columns;
mod dict;
mod page;
mod rle;
mod schema;
mod table;
mod thrift;

use std::ops::Range;
use std::path::{Path, PathBuf};

use columns::{s, st, Group, Value};
use schema::{Col, Kind};

use super::derived::Derived;
use super::json::{self, emit};
use super::{export, Analysis};
use crate::correlate::{ConvPoint, Conversation, Hop, Loss, RewriteAt};
use crate::flow::KeyKind;
use crate::verdict::icmp_error_name;

/// Writes the three files into `dir` (created if needed); returns their paths. The
/// conversations and the flows are written side by side, each table's row groups filled on
/// the exports' threads (`table.rs`). `d` gives the Community IDs and the reasons (computed
/// here if it was not asked for them).
pub fn write_dir(a: &Analysis, d: &Derived, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    super::export::create_dir("--parquet", dir)?;
    let workers = export::threads();
    let write = |name: &str, schema: &[Col], rows: usize, fill: &table::Fill<'_>| {
        let path = dir.join(format!("{name}.parquet"));
        let context =
            |e: String| std::io::Error::other(format!("--parquet {}: {e}", path.display()));
        // written over the old file in place (`pages::write_over`)
        let file = super::open_over(&path).map_err(|e| context(e.to_string()))?;
        table::write(&file, schema, name, rows, workers, fill).map_err(|e| {
            context(match e {
                // an error of the file itself (a full disk) reads as the OS says it
                parquet::errors::ParquetError::External(os) => os.to_string(),
                e => e.to_string(),
            })
        })?;
        Ok::<PathBuf, std::io::Error>(path)
    };
    let flow_rows = a.points.iter().map(|p| p.flows.len()).sum();
    std::thread::scope(|scope| {
        let conversations = scope.spawn(|| {
            let schema = schema::conversations();
            let rows = a.conversations.len();
            write("conversations", &schema, rows, &|t, r| {
                conversations(a, d, t, r)
            })
        });
        let points = write("points", schema::POINTS, a.points.len(), &|t, r| {
            points(a, t, r)
        })?;
        let flows = write("flows", schema::FLOWS, flow_rows, &|t, r| flows(a, d, t, r))?;
        let conversations = conversations
            .join()
            .map_err(|_| std::io::Error::other("--parquet: the conversations' thread failed"))??;
        Ok(vec![points, flows, conversations])
    })
}

fn u64v(v: u64) -> Value<'static> {
    Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
}

fn u8v(v: u8) -> Value<'static> {
    Value::I32(v.into())
}

fn u16v(v: u16) -> Value<'static> {
    Value::I32(v.into())
}

fn points(a: &Analysis, t: &mut Group, rows: Range<usize>) {
    let head = json::head(a);
    let all = head.points.iter().zip(&a.points);
    for (p, r) in all.skip(rows.start).take(rows.len()) {
        let sum = &r.summary;
        t.value("name", Kind::Name, s(&p.name));
        t.value("path", Kind::Str, s(&p.path));
        t.value("format", Kind::Name, s(&p.format));
        t.list(
            "link_types",
            Kind::I64,
            p.link_types.iter().map(|&l| Value::I64(l.into())),
        );
        t.list(
            "link_type_names",
            Kind::Name,
            p.link_type_names.iter().map(|n| s(n)),
        );
        t.value("packets", Kind::I64, u64v(p.packets));
        t.value("bytes", Kind::I64, u64v(p.bytes));
        t.value("decoded", Kind::I64, u64v(p.decoded));
        t.time_optional(["first_ts", "first_ts_ns"], sum.first_ts);
        t.time_optional(["last_ts", "last_ts_ns"], sum.last_ts);
        t.value("clock_steps_back", Kind::I64, u64v(p.clock_steps_back));
        t.value("timestamp_fixups", Kind::I64, u64v(p.timestamp_fixups));
        t.value("forwarded_packets", Kind::I64, u64v(p.forwarded_packets));
        t.value(
            "packets_over_flow_cap",
            Kind::I64,
            u64v(p.packets_over_flow_cap),
        );
        t.value("flows", Kind::I64, u64v(p.flows as u64));
        t.optional(
            "damage_offset",
            Kind::I64,
            p.damage.as_ref().map(|d| u64v(d.offset)),
        );
        t.optional(
            "damage_reason",
            Kind::Str,
            p.damage.as_ref().map(|d| s(&d.reason)),
        );
        t.optional(
            "clock_offset_s",
            Kind::F64,
            p.clock_offset_s.map(Value::F64),
        );
        t.optional(
            "clock_uncertainty_s",
            Kind::F64,
            p.clock_uncertainty_s.map(Value::F64),
        );
        t.optional("clock_via", Kind::Str, p.clock_via.as_deref().map(s));
        t.value("matched_packets", Kind::I64, u64v(p.matched_packets));
        t.end_row();
    }
}

/// The encapsulation names of a flow's or conversation's bits.
fn encaps(bits: u16) -> impl Iterator<Item = Value<'static>> {
    crate::decode::encap::names(bits).map(st)
}

/// ICMP id, type and code of a key kind (`flows[]` and `conversations[]` both have them).
fn icmp_fields(t: &mut Group, kind: KeyKind, ip_proto: u8) {
    let (id, icmp_type, code) = match kind {
        KeyKind::Echo { id } => (Some(id), None, None),
        KeyKind::Icmp { icmp_type, code } => (None, Some(icmp_type), Some(code)),
        _ => (None, None, None),
    };
    t.optional("icmp_id", Kind::I32, id.map(u16v));
    t.optional("icmp_type", Kind::I32, icmp_type.map(u8v));
    t.optional("icmp_code", Kind::I32, code.map(u8v));
    t.optional(
        "ip_proto",
        Kind::I32,
        (kind == KeyKind::Other).then_some(u8v(ip_proto)),
    );
}

/// The flows of `rows`, numbered across the points in order.
fn flows(a: &Analysis, d: &Derived, t: &mut Group, rows: Range<usize>) {
    let mut first = 0;
    for (pi, p) in a.points.iter().enumerate() {
        let n = p.flows.len();
        let (lo, hi) = (rows.start.max(first), rows.end.min(first + n));
        first += n;
        if lo >= hi {
            continue;
        }
        let skip = lo - (first - n);
        for (fi, f) in p.flows.iter().enumerate().skip(skip).take(hi - lo) {
            let sides = f.tshark_sides();
            let (x, y, rule) = (sides.a, sides.b, sides.rule);
            let ports = f.key.has_ports();
            t.value(
                "point",
                Kind::Name,
                Value::Point(pi, p.summary.name.as_bytes()),
            );
            t.value("proto", Kind::Name, st(f.key.proto_name()));
            t.text("a", |b| export::endpoint(b, &f.key.sender(x), ports));
            t.text("b", |b| export::endpoint(b, &f.key.sender(y), ports));
            t.value("a_rule", Kind::Name, st(rule.name()));
            icmp_fields(t, f.key.kind, f.key.ip_proto);
            let unknown = f.key.kind == KeyKind::PortsUnknown;
            t.value("ports_unknown", Kind::Bool, Value::Bool(unknown));
            let pairs = [
                ("packets_ab", f.packets[x]),
                ("packets_ba", f.packets[y]),
                ("bytes_ab", f.bytes[x]),
                ("bytes_ba", f.bytes[y]),
                ("ip_bytes_ab", f.ip_bytes[x]),
                ("ip_bytes_ba", f.ip_bytes[y]),
            ];
            for (name, v) in pairs {
                t.value(name, Kind::I64, u64v(v));
            }
            t.time(["first_ts", "first_ts_ns"], f.first_ts);
            t.time(["last_ts", "last_ts_ns"], f.last_ts);
            t.list(
                "ttls_ab",
                Kind::I32,
                f.ttls[x].values().iter().map(|&v| u8v(v)),
            );
            t.list(
                "ttls_ba",
                Kind::I32,
                f.ttls[y].values().iter().map(|&v| u8v(v)),
            );
            let history = f.history.text(x);
            let tcp = f.key.ip_proto == crate::decode::proto::TCP && !history.is_empty();
            t.optional("history", Kind::Name, tcp.then(|| s(history.as_str())));
            t.value("forwarded_ab", Kind::I64, u64v(f.forwarded()[x]));
            t.value("forwarded_ba", Kind::I64, u64v(f.forwarded()[y]));
            t.list("encaps", Kind::Name, encaps(f.encap));
            let id = d.flow_id(a, pi, fi);
            t.optional(
                "community_id",
                Kind::Str,
                id.as_ref().map(|c| Value::Str(c.as_bytes())),
            );
            t.end_row();
        }
    }
}

fn conversations(a: &Analysis, d: &Derived, t: &mut Group, rows: Range<usize>) {
    let names = a.point_names();
    let name = |i: usize| Value::Point(i, names.get(i).map_or(&b""[..], |n| n.as_bytes()));
    let all = a.conversations.iter().enumerate();
    for (i, (c, j)) in all.skip(rows.start).take(rows.len()) {
        let ports = c.kind == KeyKind::Ports;
        t.value("id", Kind::I64, u64v(a.id(i) as u64));
        t.value("proto", Kind::Name, st(c.proto_name()));
        t.text("client", |b| emit::ip_bare(b, c.client.ip));
        t.text("server", |b| emit::ip_bare(b, c.server.ip));
        t.optional(
            "client_port",
            Kind::I32,
            ports.then_some(u16v(c.client.port)),
        );
        t.optional(
            "server_port",
            Kind::I32,
            ports.then_some(u16v(c.server.port)),
        );
        icmp_fields(t, c.kind, c.ip_proto);
        t.value("verdict", Kind::Name, st(j.verdict.name()));
        d.with_reason(a, i, |reason| t.value("reason", Kind::Str, s(reason)));
        t.value("path_verdict", Kind::Name, st(j.path_verdict.name()));
        t.list("bypassed", Kind::Name, j.bypassed.iter().map(|&p| name(p)));
        t.value("client_rule", Kind::Name, st(c.orientation.name()));
        t.time(["first_ts", "first_ts_ns"], c.first_ts);
        t.time(["last_ts", "last_ts_ns"], c.last_ts);
        t.value("packets", Kind::I64, u64v(c.packets().iter().sum()));
        for (col, dir) in [("forward_path", 0), ("reverse_path", 1)] {
            let path = c.route[dir]
                .iter()
                .filter(|h| c.points.iter().any(|p| p.point == h.point))
                .map(|h| name(h.point));
            t.list(col, Kind::Name, path);
        }
        conversation_points(t, c, &name);
        hop_fields(t, "forward_hops", &c.route[0], &name);
        hop_fields(t, "reverse_hops", &c.route[1], &name);
        nat_fields(t, c, &name);
        let lost_after = c.losses.iter().find_map(|l| match *l {
            Loss::After { point, .. } => Some(name(point)),
            Loss::Between { .. } => None,
        });
        t.optional("lost_after", Kind::Name, lost_after);
        let between = c.losses.iter().find_map(|l| match *l {
            Loss::Between { from, to, .. } => Some([from, to]),
            Loss::After { .. } => None,
        });
        t.list(
            "lost_between",
            Kind::Name,
            between.into_iter().flatten().map(name),
        );
        let lost_dir = c.losses.first().map(|l| l.dir().name());
        t.optional("lost_direction", Kind::Name, lost_dir.map(st));
        t.value("sampled_packets", Kind::I64, u64v(c.sampled_packets));
        t.value("matched_packets", Kind::I64, u64v(c.matched_packets));
        t.value("seq_rewritten", Kind::Bool, Value::Bool(c.seq_rewritten));
        icmp_error_fields(t, c, &name);
        t.list("encaps", Kind::Name, encaps(c.encap));
        let id = d.conversation_id(a, i);
        t.optional(
            "community_id",
            Kind::Str,
            id.as_ref().map(|x| Value::Str(x.as_bytes())),
        );
        t.end_row();
    }
}

/// A count of a conversation at one point.
type CountOf = fn(&ConvPoint) -> u64;

/// The `points` list of a conversation (its per-point NAT is in the conversation's `nat`).
fn conversation_points<'n>(t: &mut Group, c: &Conversation, name: &impl Fn(usize) -> Value<'n>) {
    let p = &c.points;
    let g = "points";
    t.field(
        g,
        "point",
        Kind::Name,
        false,
        p.iter().map(|x| Some(name(x.point))),
    );
    let counts: [(&str, CountOf); 4] = [
        ("forward_packets", |x| x.packets[0]),
        ("reverse_packets", |x| x.packets[1]),
        ("forward_bytes", |x| x.bytes[0]),
        ("reverse_bytes", |x| x.bytes[1]),
    ];
    for (col, get) in counts {
        t.field(
            g,
            col,
            Kind::I64,
            false,
            p.iter().map(|x| Some(u64v(get(x)))),
        );
    }
    let forwarded = p.iter().map(|x| Some(Value::Bool(x.is_forwarder())));
    t.field(g, "forwarded", Kind::Bool, false, forwarded);
    let history = p
        .iter()
        .map(|x| (!x.history.is_empty()).then(|| s(x.history.as_str())));
    t.field(g, "history", Kind::Name, true, history);
    t.time_field(g, ["first_ts", "first_ts_ns"], p.iter().map(|x| x.first_ts));
    t.time_field(g, ["last_ts", "last_ts_ns"], p.iter().map(|x| x.last_ts));
}

fn hop_fields<'n>(
    t: &mut Group,
    g: &'static str,
    route: &[Hop],
    name: &impl Fn(usize) -> Value<'n>,
) {
    if route.is_empty() {
        t.empty_list(g);
        return;
    }
    t.field(
        g,
        "point",
        Kind::Name,
        false,
        route.iter().map(|h| Some(name(h.point))),
    );
    t.field(
        g,
        "ttl",
        Kind::I32,
        true,
        route.iter().map(|h| h.ttl.map(u8v)),
    );
    t.field(
        g,
        "ttl_out",
        Kind::I32,
        true,
        route.iter().map(|h| h.ttl_out.map(u8v)),
    );
    let forwarded = route.iter().map(|h| Some(Value::Bool(h.forwarded)));
    t.field(g, "forwarded", Kind::Bool, false, forwarded);
    t.field(
        g,
        "routers",
        Kind::I32,
        true,
        route.iter().map(|h| h.routers.map(u8v)),
    );
    let delay = route
        .iter()
        .map(|h| h.delay_ns.map(|d| Value::F64(d as f64 / 1e6)));
    t.field(g, "delay_ms", Kind::F64, true, delay);
    t.time_field(
        g,
        ["first_ts", "first_ts_ns"],
        route.iter().map(|h| h.first_ts),
    );
}

fn nat_fields<'n>(t: &mut Group, c: &Conversation, name: &impl Fn(usize) -> Value<'n>) {
    let nat = &c.rewrites;
    let g = "nat";
    if nat.is_empty() {
        t.empty_list(g);
        return;
    }
    let ports = c.kind == KeyKind::Ports;
    let echo = matches!(c.kind, KeyKind::Echo { .. });
    let dir = nat.iter().map(|r| Some(st(r.dir.name())));
    t.field(g, "direction", Kind::Name, false, dir);
    let at = |k: usize| {
        nat.iter().map(move |r| match (r.at, k) {
            (RewriteAt::Point(p), 0) => Some(name(p)),
            (RewriteAt::Between(x, _), 1) => Some(name(x)),
            (RewriteAt::Between(_, y), 2) => Some(name(y)),
            _ => None,
        })
    };
    t.field(g, "point", Kind::Name, true, at(0));
    t.field(g, "between_from", Kind::Name, true, at(1));
    t.field(g, "between_to", Kind::Name, true, at(2));
    let side = nat.iter().map(|r| Some(st(r.nat.side.name())));
    t.field(g, "side", Kind::Name, false, side);
    let mut addr = Vec::new();
    for (col, to) in [("from", false), ("to", true)] {
        // addresses as text: rendered into one buffer, then borrowed
        addr.clear();
        let mut ends = Vec::new();
        for r in nat.iter() {
            emit::ip_bare(&mut addr, if to { r.nat.to.ip } else { r.nat.from.ip });
            ends.push(addr.len());
        }
        let texts = ends.iter().scan(0, |start, &end| {
            let v = std::str::from_utf8(addr.get(*start..end).unwrap_or(&[])).unwrap_or("");
            *start = end;
            Some(Some(s(v)))
        });
        t.field(g, col, Kind::Str, false, texts);
    }
    let port = |to: bool| {
        nat.iter()
            .map(move |r| ports.then(|| u16v(if to { r.nat.to.port } else { r.nat.from.port })))
    };
    t.field(g, "from_port", Kind::I32, true, port(false));
    t.field(g, "to_port", Kind::I32, true, port(true));
    let icmp_id = |to: bool| {
        nat.iter().map(move |r| {
            let changed = echo && r.nat.from.port != r.nat.to.port;
            changed.then(|| u16v(if to { r.nat.to.port } else { r.nat.from.port }))
        })
    };
    t.field(g, "from_icmp_id", Kind::I32, true, icmp_id(false));
    t.field(g, "to_icmp_id", Kind::I32, true, icmp_id(true));
}

fn icmp_error_fields<'n>(t: &mut Group, c: &Conversation, name: &impl Fn(usize) -> Value<'n>) {
    let e = &c.icmp_errors;
    let g = "icmp_errors";
    if e.is_empty() {
        t.empty_list(g);
        return;
    }
    t.field(
        g,
        "point",
        Kind::Name,
        false,
        e.iter().map(|x| Some(name(x.point))),
    );
    let from: Vec<String> = e.iter().map(|x| x.from.to_string()).collect();
    t.field(g, "from", Kind::Str, false, from.iter().map(|x| Some(s(x))));
    t.field(
        g,
        "icmp_type",
        Kind::I32,
        false,
        e.iter().map(|x| Some(u8v(x.icmp_type))),
    );
    t.field(
        g,
        "code",
        Kind::I32,
        false,
        e.iter().map(|x| Some(u8v(x.code))),
    );
    let text: Vec<String> = e
        .iter()
        .map(|x| icmp_error_name(x.v6, x.icmp_type, x.code))
        .collect();
    t.field(
        g,
        "text",
        Kind::Name,
        false,
        text.iter().map(|x| Some(s(x))),
    );
    t.field(
        g,
        "packets",
        Kind::I64,
        false,
        e.iter().map(|x| Some(u64v(x.packets))),
    );
}
