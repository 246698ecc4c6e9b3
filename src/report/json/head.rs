//! The head of the document: everything but the two long arrays (`summary`, `filter`,
//! `points`), written through serde from these types (it is small). What the fields mean is
//! docs/json-schema.md; a field added here must be added there.

use std::collections::BTreeMap;

use serde::Serialize;

use super::SCHEMA;
use crate::report::format::{link_type_name, ts_text};
use crate::report::Analysis;
use crate::verdict::Verdict;

/// The document without its two long arrays (`flows`, `conversations`), which [`super::write`]
/// streams row by row so that memory does not grow with them.
#[derive(Serialize)]
pub struct Head {
    pub schema: &'static str,
    pub version: &'static str,
    pub summary: Summary,
    pub filter: Option<Filter>,
    pub points: Vec<Point>,
    /// `clocks` and `warnings` (see [`super::coverage`]).
    #[serde(flatten)]
    pub coverage: super::coverage::HeadCoverage,
}

/// What the reported conversations were narrowed to (`summary` counts the kept ones).
#[derive(Serialize)]
pub struct Filter {
    pub expression: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub left_out: usize,
}

#[derive(Serialize)]
pub struct Summary {
    pub points: usize,
    pub packets: u64,
    pub conversations: usize,
    pub verdicts: BTreeMap<&'static str, usize>,
    pub damaged: bool,
    pub matches: Matches,
    pub clock_reference: Option<String>,
    pub clocks_assumed_synced: bool,
    pub packets_over_flow_cap: u64,
}

/// How many sampled packets were recognised at several capture points.
#[derive(Serialize)]
pub struct Matches {
    pub sampled_packets: u64,
    pub matched_packets: u64,
    pub single_packets: u64,
    pub flow_pairs: u64,
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
    pub gzip_trailing_zeros: u64,
    pub forwarded_packets: u64,
    pub packets_over_flow_cap: u64,
    pub flow_table_out_of_memory: bool,
    pub flows: usize,
    pub damage: Option<Damage>,
    pub clock_offset_s: Option<f64>,
    pub clock_uncertainty_s: Option<f64>,
    pub clock_via: Option<String>,
    pub matched_packets: u64,
    /// What this point's capture missed that other points saw (see [`super::coverage`]).
    pub capture_loss: super::coverage::CaptureLossRow,
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
                capture_loss: super::coverage::loss_row(&s.capture_loss),
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
                .filter(|&r| a.clocks.points.get(r).is_some_and(|c| c.estimated))
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
        coverage: super::coverage::head(a),
    }
}

/// The head of the document, left open for the two arrays: `{"schema":..,"points":[..]`.
pub(super) fn write_head(a: &Analysis, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let head = serde_json::to_string(&head(a)).map_err(std::io::Error::other)?;
    // reopen the head object to append the two arrays
    let head = head.strip_suffix('}').unwrap_or(&head);
    out.write_all(head.as_bytes())
}
