//! The `routing` object of a conversation (null without route tables): what
//! [`crate::routes`] predicted for each direction, and its sentences. Written through serde
//! from these types (in the hand-written rows too: [`write`]); what the fields mean is
//! docs/json-schema.md.

use serde::Serialize;

use crate::report::Analysis;
use crate::routes::{At, ConvRouting, DirRouting, End, Routing};

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RoutingRow {
    pub forward: DirectionRow,
    pub reverse: DirectionRow,
    pub explanation: String,
    pub fix: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DirectionRow {
    pub predicted_path: Vec<String>,
    pub agrees: bool,
    pub decisions: Vec<DecisionRow>,
    pub end: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DecisionRow {
    pub at: String,
    pub table: Option<String>,
    pub prefix: String,
    pub next_hop_type: &'static str,
    pub next_hop_ip: Option<String>,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub possible_next_hops: Vec<String>,
}

/// The row of conversation `i` (index into `a.conversations`).
pub fn row(a: &Analysis, i: usize, names: &[String]) -> Option<RoutingRow> {
    let r = a.routing.as_ref()?;
    let c = r.conversations.get(i)?.as_ref()?;
    Some(of(r, c, names))
}

fn of(r: &Routing, c: &ConvRouting, names: &[String]) -> RoutingRow {
    let name = |p: usize| names.get(p).cloned().unwrap_or_default();
    let dir = |d: &DirRouting| DirectionRow {
        predicted_path: d.path.iter().map(|&p| name(p)).collect(),
        agrees: d.agrees,
        decisions: d
            .decisions
            .iter()
            .map(|x| {
                let route = r.route(x);
                DecisionRow {
                    at: match x.at {
                        At::Point(p) => name(p),
                        At::Gateway => "gateway".into(),
                    },
                    table: r.file(x).map(str::to_string),
                    prefix: route.prefix.to_string(),
                    next_hop_type: route.next_hop.name(),
                    next_hop_ip: x.next_hop_ip.map(|ip| ip.to_string()),
                    source: route.source.name(),
                    possible_next_hops: x.possible.iter().map(|ip| ip.to_string()).collect(),
                }
            })
            .collect(),
        end: d.end.name(),
        unknown: match &d.end {
            End::Unknown(why) => Some(why.clone()),
            _ => None,
        },
    };
    RoutingRow {
        forward: dir(&c.dirs[0]),
        reverse: dir(&c.dirs[1]),
        explanation: c.explanation.clone(),
        fix: c.fix.clone(),
    }
}

/// `,"routing":{..}` or `,"routing":null`, as serde prints the field.
pub fn write(out: &mut Vec<u8>, row: Option<&RoutingRow>) {
    out.extend_from_slice(b",\"routing\":");
    // a RoutingRow holds only strings, numbers and booleans: serialising cannot fail
    if serde_json::to_writer(&mut *out, &row).is_err() {
        out.extend_from_slice(b"null");
    }
}
