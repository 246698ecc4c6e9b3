//! report: one analysis, several renderings.
//!
//! [`Analysis`] is the single model every output is made from: the points as read, their flow
//! tables, and the judged conversations. `text` renders the terminal summary, `json` the
//! `flowcheck/1` document. Every string that comes from a capture or a file name goes through
//! the escaping of its medium there.

pub mod community_id;
pub mod csv;
pub mod export;
pub mod html;
pub mod json;
mod pages;
pub mod parquet;
pub mod svg;
pub mod text;
pub mod zeek;

pub use pages::PageWriter;

use crate::correlate::Conversation;
use crate::flow::Endpoint;
use crate::point::PointResult;
use crate::verdict::{Judgement, Verdict};

/// Everything flowcheck found, ready to render.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub points: Vec<PointResult>,
    /// Conversations in order of first packet, each with its judgement.
    pub conversations: Vec<(Conversation, Judgement)>,
    /// Every point's clock offset: the times of the conversations are on the aligned
    /// timeline (the reference point's clock).
    pub clocks: crate::clock::Clocks,
    /// How many sampled packets were followed across points.
    pub matches: crate::correlate::MatchSummary,
    /// The `--expect-via` points, by index (what the judgements were made against).
    pub expect_via: Vec<usize>,
}

impl Analysis {
    /// The sentence that justifies a conversation's verdict (written on demand: see
    /// [`Judgement`]). `names` are [`point_names`](Self::point_names).
    pub fn reason(&self, c: &Conversation, names: &[String]) -> String {
        crate::verdict::reason(c, names, &self.expect_via)
    }

    /// Capture point names by index.
    pub fn point_names(&self) -> Vec<String> {
        self.points.iter().map(|p| p.summary.name.clone()).collect()
    }
    /// How many conversations got each verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.conversations
            .iter()
            .filter(|(_, j)| j.verdict == v)
            .count()
    }
    /// True when any point's capture was damaged or unreadable.
    pub fn damaged(&self) -> bool {
        self.points.iter().any(|p| p.summary.damage.is_some())
    }
}

/// `1.2.3.4:80`, `[2001:db8::1]:80`, or the bare address when `with_port` is false.
pub fn endpoint_text(e: &Endpoint, with_port: bool) -> String {
    match (e.ip, with_port) {
        (ip, false) => ip.to_string(),
        (std::net::IpAddr::V4(a), true) => format!("{a}:{}", e.port),
        (std::net::IpAddr::V6(a), true) => format!("[{a}]:{}", e.port),
    }
}

/// Nanoseconds since the epoch as tshark prints `frame.time_epoch`: `1607454603.986596000`.
pub fn ts_text(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    format!("{secs}.{frac:09}")
}

/// Common name of a LINKTYPE_* value.
pub fn link_type_name(lt: u32) -> String {
    match lt {
        0 => "null".into(),
        1 => "ethernet".into(),
        12 | 14 | 101 => "raw".into(),
        108 => "loop".into(),
        113 => "sll".into(),
        228 => "ipv4".into(),
        229 => "ipv6".into(),
        276 => "sll2".into(),
        n => format!("linktype-{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_tshark() {
        assert_eq!(ts_text(1_607_454_603_986_596_000), "1607454603.986596000");
        assert_eq!(ts_text(-1), "-1.999999999");
        assert_eq!(ts_text(0), "0.000000000");
    }

    #[test]
    fn endpoints_bracket_ipv6() {
        let e = Endpoint {
            ip: "2001:db8::1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(endpoint_text(&e, true), "[2001:db8::1]:80");
        assert_eq!(endpoint_text(&e, false), "2001:db8::1");
    }
}
