//! The columns of the three tables, declared once, in the order their rows fill them
//! (`super::points`, `super::flows`, `super::conversations`). A table is made from its
//! declaration, not from its first row: a table with no rows is still a file with every
//! column (DuckDB and Spark refuse a Parquet file without columns), and a row fills its
//! columns by position (the name and a field's group at each fill site are checked against
//! the declaration in debug builds; the kind and shape always, see `columns::Group::column`).

/// One leaf column: its name, type and place in the schema.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub kind: Kind,
    pub shape: Shape,
}

pub(super) const fn top(name: &'static str, kind: Kind) -> Col {
    Col {
        name,
        kind,
        shape: Shape::Top { optional: false },
    }
}

pub(super) const fn opt(name: &'static str, kind: Kind) -> Col {
    Col {
        name,
        kind,
        shape: Shape::Top { optional: true },
    }
}

pub(super) const fn list(name: &'static str, kind: Kind) -> Col {
    Col {
        name,
        kind,
        shape: Shape::List,
    }
}

/// A field of the list of structs `group` (`optional`: may be absent in an element).
pub(super) const fn field(
    group: &'static str,
    name: &'static str,
    kind: Kind,
    optional: bool,
) -> Col {
    Col {
        name,
        kind,
        shape: Shape::Field { group, optional },
    }
}

use Kind::{Bool, Name, Str, Timestamp as Ts, F64, I32, I64};

/// A Parquet physical type with its annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (addresses, reasons, IDs): plain-encoded.
    Str,
    /// A string from a small set (point, protocol, verdict, rule names): dictionary-encoded.
    Name,
    I32,
    I64,
    F64,
    Bool,
    /// int64 microseconds since the epoch, UTC (see `columns::Group::time`).
    Timestamp,
}

impl Kind {
    pub(super) fn schema(self) -> &'static str {
        match self {
            Kind::Str | Kind::Name => "binary",
            Kind::I32 => "int32",
            Kind::I64 => "int64",
            Kind::F64 => "double",
            Kind::Bool => "boolean",
            Kind::Timestamp => "int64",
        }
    }

    pub(super) fn annotation(self) -> &'static str {
        match self {
            Kind::Str | Kind::Name => " (STRING)",
            Kind::Timestamp => " (TIMESTAMP(MICROS,true))",
            _ => "",
        }
    }
}

/// Where a column sits in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Top {
        optional: bool,
    },
    List,
    /// A field of the list of structs named by the group.
    Field {
        group: &'static str,
        optional: bool,
    },
}

/// What a misfit value is put in (see `columns::Group::column`): never written.
pub const SPARE: Col = top("(spare)", Str);

/// `points.parquet`.
pub const POINTS: &[Col] = &[
    top("name", Name),
    top("path", Str),
    top("format", Name),
    list("link_types", I64),
    list("link_type_names", Name),
    top("packets", I64),
    top("bytes", I64),
    top("decoded", I64),
    opt("first_ts", Ts),
    opt("first_ts_ns", I64),
    opt("last_ts", Ts),
    opt("last_ts_ns", I64),
    top("clock_steps_back", I64),
    top("timestamp_fixups", I64),
    top("forwarded_packets", I64),
    top("packets_over_flow_cap", I64),
    top("flows", I64),
    opt("damage_offset", I64),
    opt("damage_reason", Str),
    opt("clock_offset_s", F64),
    opt("clock_uncertainty_s", F64),
    opt("clock_via", Str),
    top("matched_packets", I64),
];

/// `flows.parquet`.
pub const FLOWS: &[Col] = &[
    top("point", Name),
    top("proto", Name),
    top("a", Str),
    top("b", Str),
    top("a_rule", Name),
    opt("icmp_id", I32),
    opt("icmp_type", I32),
    opt("icmp_code", I32),
    opt("ip_proto", I32),
    top("ports_unknown", Bool),
    top("packets_ab", I64),
    top("packets_ba", I64),
    top("bytes_ab", I64),
    top("bytes_ba", I64),
    top("ip_bytes_ab", I64),
    top("ip_bytes_ba", I64),
    top("first_ts", Ts),
    top("first_ts_ns", I64),
    top("last_ts", Ts),
    top("last_ts_ns", I64),
    list("ttls_ab", I32),
    list("ttls_ba", I32),
    opt("history", Name),
    top("forwarded_ab", I64),
    top("forwarded_ba", I64),
    list("encaps", Name),
    opt("community_id", Str),
];

/// The fields of a hop (`forward_hops`, `reverse_hops`).
macro_rules! hops {
    ($g:literal) => {
        [
            field($g, "point", Name, false),
            field($g, "ttl", I32, true),
            field($g, "ttl_out", I32, true),
            field($g, "forwarded", Bool, false),
            field($g, "routers", I32, true),
            field($g, "delay_ms", F64, true),
            field($g, "first_ts", Ts, false),
            field($g, "first_ts_ns", I64, false),
        ]
    };
}

const FORWARD_HOPS: [Col; 8] = hops!("forward_hops");
const REVERSE_HOPS: [Col; 8] = hops!("reverse_hops");

/// `conversations.parquet`, in three parts (joined in [`conversations`]).
const CONVERSATIONS_HEAD: [Col; 33] = [
    top("id", I64),
    top("proto", Name),
    top("client", Str),
    top("server", Str),
    opt("client_port", I32),
    opt("server_port", I32),
    opt("icmp_id", I32),
    opt("icmp_type", I32),
    opt("icmp_code", I32),
    opt("ip_proto", I32),
    top("verdict", Name),
    top("reason", Str),
    top("path_verdict", Name),
    list("bypassed", Name),
    top("client_rule", Name),
    top("first_ts", Ts),
    top("first_ts_ns", I64),
    top("last_ts", Ts),
    top("last_ts_ns", I64),
    top("packets", I64),
    list("forward_path", Name),
    list("reverse_path", Name),
    field("points", "point", Name, false),
    field("points", "forward_packets", I64, false),
    field("points", "reverse_packets", I64, false),
    field("points", "forward_bytes", I64, false),
    field("points", "reverse_bytes", I64, false),
    field("points", "forwarded", Bool, false),
    field("points", "history", Name, true),
    field("points", "first_ts", Ts, false),
    field("points", "first_ts_ns", I64, false),
    field("points", "last_ts", Ts, false),
    field("points", "last_ts_ns", I64, false),
];

const CONVERSATIONS_TAIL: [Col; 25] = [
    field("nat", "direction", Name, false),
    field("nat", "point", Name, true),
    field("nat", "between_from", Name, true),
    field("nat", "between_to", Name, true),
    field("nat", "side", Name, false),
    field("nat", "from", Str, false),
    field("nat", "to", Str, false),
    field("nat", "from_port", I32, true),
    field("nat", "to_port", I32, true),
    field("nat", "from_icmp_id", I32, true),
    field("nat", "to_icmp_id", I32, true),
    opt("lost_after", Name),
    list("lost_between", Name),
    opt("lost_direction", Name),
    top("sampled_packets", I64),
    top("matched_packets", I64),
    top("seq_rewritten", Bool),
    field("icmp_errors", "point", Name, false),
    field("icmp_errors", "from", Str, false),
    field("icmp_errors", "icmp_type", I32, false),
    field("icmp_errors", "code", I32, false),
    field("icmp_errors", "text", Name, false),
    field("icmp_errors", "packets", I64, false),
    list("encaps", Name),
    opt("community_id", Str),
];

/// `conversations.parquet`.
pub fn conversations() -> Vec<Col> {
    [
        &CONVERSATIONS_HEAD[..],
        &FORWARD_HOPS,
        &REVERSE_HOPS,
        &CONVERSATIONS_TAIL,
    ]
    .concat()
}
