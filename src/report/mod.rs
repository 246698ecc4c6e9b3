//! report: one analysis, several renderings.
//!
//! [`Analysis`] is the single model every output is made from: the points as read, their flow
//! tables, and the judged conversations. `text` renders the terminal summary, `json` the
//! `flowcheck/1` document (schema: docs/json-schema.md), `csv`, `zeek` and `parquet` the
//! exports, `html` and `svg` the report pages; `format` writes endpoints, times and the names
//! they share once for all of them. Every string that comes from a capture or a file name goes
//! through the escaping of its medium there.

pub mod bulk;
pub mod community_id;
mod coverage_text;
pub mod csv;
pub mod derived;
pub mod export;
pub mod folder;
pub mod format;
pub mod html;
mod html_routes;
pub mod json;
pub mod noise;
mod pages;
pub mod parquet;
mod rows;
pub mod svg;
pub mod text;
pub mod zeek;

pub use pages::{open_over, write_over, PageWriter};
// the renderers not yet on `format` (svg, html, export tests) still find them here
pub use format::{endpoint_text, link_type_name, ts_text};

use crate::correlate::Conversation;
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
    /// The routing stage's predictions (None: no route tables were given).
    pub routing: Option<crate::routes::Routing>,
    /// What `--filter`, `--from` and `--to` asked for and what they left out (see
    /// [`Analysis::retain`]).
    pub selection: Selection,
}

/// What the user narrowed the report to, and how many conversations that left out.
///
/// Narrowing is done once, on the [`Analysis`], by [`Analysis::retain`]: every renderer
/// (terminal, JSON, HTML, `--fail-on`) then sees only what was kept and needs nothing else,
/// except [`Analysis::id`] for a conversation's id.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--filter` as given.
    pub expression: Option<String>,
    /// `--from` / `--to` (aligned nanoseconds).
    pub window: crate::window::Window,
    /// Conversations left out of the reports.
    pub left_out: usize,
    /// The id of each kept conversation, by index; empty while nothing was left out (ids are
    /// then index + 1).
    ids: Vec<usize>,
}

impl Selection {
    /// True when a filter or a time window was given.
    pub fn is_set(&self) -> bool {
        self.expression.is_some() || !self.window.is_open()
    }
}

impl Analysis {
    /// The sentence that justifies a conversation's verdict (written on demand: see
    /// [`Judgement`]). `names` are [`point_names`](Self::point_names).
    pub fn reason(&self, c: &Conversation, j: &Judgement, names: &[String]) -> String {
        crate::verdict::sentence(c, names, j)
    }

    /// The routing of conversation `i` (index into `conversations`), when routes were given
    /// and apply to it.
    pub fn routing_of(&self, i: usize) -> Option<&crate::routes::ConvRouting> {
        self.routing.as_ref()?.conversations.get(i)?.as_ref()
    }

    /// Keeps the conversations `keep` accepts and leaves the others out of every report,
    /// counting them in [`Selection::left_out`]. Ids stay those of the whole analysis: the
    /// kept conversation 26 is still `#26`, `ladder-26.svg`, `"id": 26`.
    ///
    /// Anything kept beside `conversations` and indexed like it must be narrowed here with the
    /// same mask (see [`narrow`]).
    pub fn retain(&mut self, mut keep: impl FnMut(&Conversation, &Judgement) -> bool) {
        let kept: Vec<bool> = self.conversations.iter().map(|(c, j)| keep(c, j)).collect();
        let ids: Vec<usize> = (0..kept.len())
            .filter(|&i| kept[i])
            .map(|i| self.id(i))
            .collect();
        narrow(&mut self.conversations, &kept);
        if let Some(r) = &mut self.routing {
            narrow(&mut r.conversations, &kept);
        }
        self.selection.left_out += kept.iter().filter(|&&k| !k).count();
        if self.selection.left_out > 0 {
            self.selection.ids = ids;
        }
    }

    /// The id of the conversation at index `i` of [`conversations`](Self::conversations):
    /// 1-based, its place among all the conversations found (also when some are left out).
    pub fn id(&self, i: usize) -> usize {
        self.selection.ids.get(i).copied().unwrap_or(i + 1)
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

/// Keeps the items of `v` whose `kept` is true (a vector indexed like the conversations).
pub fn narrow<T>(v: &mut Vec<T>, kept: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        kept.get(i - 1).copied().unwrap_or(true)
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn retain_keeps_ids_and_counts_what_it_left_out() {
        let a = crate::analyse(
            &[crate::point::PointInput {
                name: "hub-nva".into(),
                path: concat!(env!("CARGO_MANIFEST_DIR"), "/captures/hub-nva.pcap").into(),
            }],
            &crate::point::ReadOptions::default(),
        );
        let n = a.conversations.len();
        assert!(n > 4, "{n}");
        let mut b = a.clone();
        b.retain(|c, _| c.ip_proto == 6);
        let tcp: Vec<usize> = (0..n)
            .filter(|&i| a.conversations[i].0.ip_proto == 6)
            .collect();
        assert_eq!(b.conversations.len(), tcp.len());
        assert_eq!(b.selection.left_out, n - tcp.len());
        for (k, &i) in tcp.iter().enumerate() {
            assert_eq!(b.id(k), i + 1);
        }
        // narrowing again composes
        let first = b.id(1);
        b.retain(|_, _| true);
        b.retain({
            let mut k = 0;
            move |_, _| {
                k += 1;
                k == 2
            }
        });
        assert_eq!(b.conversations.len(), 1);
        assert_eq!(b.id(0), first);
        assert_eq!(b.selection.left_out, n - 1);
        assert_eq!(a.id(3), 4);
    }
}
