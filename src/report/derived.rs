//! What more than one bulk export writes and is worth computing once: the Community ID of
//! every flow (`--zeek`, `--parquet`) and of every conversation (`--csv`, `--parquet`), the
//! reason of every conversation (`--csv`, `--parquet`), and which conversation each flow is
//! part of (`--zeek`). Each is computed only when an export asks for it, on several threads,
//! before the exports run side by side ([`super::bulk::write_all`]).

use super::community_id::{self, CommunityId};
use super::export::{self, CHUNK_ROWS};
use super::Analysis;
use crate::correlate::Conversation;

/// Which of the shared values to compute.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub flow_ids: bool,
    pub conversation_ids: bool,
    pub reasons: bool,
    pub flow_conversations: bool,
}

/// Reasons, one after the other in one buffer.
#[derive(Debug, Default)]
struct Texts {
    bytes: String,
    /// `ends[i]`: where text `i` ends in `bytes`.
    ends: Vec<usize>,
}

/// The values computed once for the exports (empty where not asked for: the export that
/// reads them computes them itself then, see the accessors).
#[derive(Debug, Default)]
pub struct Derived {
    flow_ids: Vec<Vec<Option<CommunityId>>>,
    conversation_ids: Vec<Option<CommunityId>>,
    reasons: Texts,
    flow_conversations: Vec<Vec<u32>>,
    computed_flow_conversations: bool,
}

impl Derived {
    /// Computes what `needs` asks for.
    pub fn new(a: &Analysis, needs: Needs) -> Derived {
        let mut d = Derived::default();
        std::thread::scope(|scope| {
            let reasons = needs.reasons.then(|| scope.spawn(|| reasons(a)));
            if needs.flow_ids {
                d.flow_ids = flow_ids(a);
            }
            if needs.conversation_ids {
                // a conversation seen without NAT has the ID of its flow at the first point
                // it was seen at: copied when their tuples say so, hashed otherwise
                let ids = &d.flow_ids;
                d.conversation_ids =
                    in_chunks(&a.conversations, |(c, _)| conversation_id(a, ids, c));
            }
            if needs.flow_conversations {
                d.flow_conversations = export::flow_conversations(a);
                d.computed_flow_conversations = true;
            }
            // a thread that panicked leaves its values to be computed where they are read
            if let Some(r) = reasons.and_then(|h| h.join().ok()) {
                d.reasons = r;
            }
        });
        d
    }

    /// The Community ID of flow `flow` of point `point`.
    pub fn flow_id(&self, a: &Analysis, point: usize, flow: usize) -> Option<CommunityId> {
        match self.flow_ids.get(point).and_then(|p| p.get(flow)) {
            Some(id) => *id,
            None => community_id::of_flow(a.points.get(point)?.flows.get(flow)?),
        }
    }

    /// The Community ID of the `i`th conversation of [`Analysis::conversations`].
    pub fn conversation_id(&self, a: &Analysis, i: usize) -> Option<CommunityId> {
        match self.conversation_ids.get(i) {
            Some(id) => *id,
            None => community_id::of_conversation(&a.conversations.get(i)?.0),
        }
    }

    /// Calls `f` with the reason of the `i`th conversation.
    pub fn with_reason<R>(&self, a: &Analysis, i: usize, f: impl FnOnce(&str) -> R) -> R {
        let end = self.reasons.ends.get(i).copied();
        let start = match i {
            0 => Some(0),
            _ => self.reasons.ends.get(i - 1).copied(),
        };
        if let Some(text) = start
            .zip(end)
            .and_then(|(s, e)| self.reasons.bytes.get(s..e))
        {
            return f(text);
        }
        match a.conversations.get(i) {
            Some((c, j)) => crate::verdict::with_sentence(c, &a.point_names(), j, f),
            None => f(""),
        }
    }

    /// [`export::flow_conversations`], if it was asked for.
    pub fn flow_conversations(&self) -> Option<&[Vec<u32>]> {
        self.computed_flow_conversations
            .then_some(&self.flow_conversations[..])
    }
}

/// `f` of every item, in order, computed in chunks on the exports' threads.
fn in_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = export::threads().max(1);
    let per = items.len().div_ceil(threads).max(CHUNK_ROWS);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for p in parts {
            // join fails only if `f` panicked: the panic goes on here
            match p.join() {
                Ok(v) => out.extend(v),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

/// The ID of conversation `c`: its first flow's from `flow_ids` when their tuples have
/// the same ID (no NAT between the client and that point), else hashed.
fn conversation_id(
    a: &Analysis,
    flow_ids: &[Vec<Option<CommunityId>>],
    c: &Conversation,
) -> Option<CommunityId> {
    let tuple = community_id::conversation_tuple(c)?;
    let first = c
        .points
        .first()
        .and_then(|p| Some((p.point, *p.flows.iter().next()?)));
    if let Some((point, flow)) = first {
        let known = flow_ids.get(point).and_then(|ids| ids.get(flow)).copied();
        let f = a.points.get(point).and_then(|p| p.flows.get(flow));
        if let (Some(Some(id)), Some(f)) = (known, f) {
            if community_id::flow_tuple(f).is_some_and(|t| tuple.same_id(&t)) {
                return Some(id);
            }
        }
    }
    tuple.id()
}

fn flow_ids(a: &Analysis) -> Vec<Vec<Option<CommunityId>>> {
    a.points
        .iter()
        .map(|p| in_chunks(&p.flows, community_id::of_flow))
        .collect()
}

fn reasons(a: &Analysis) -> Texts {
    let names = a.point_names();
    let mut t = Texts {
        bytes: String::with_capacity(a.conversations.len() * 64),
        ends: Vec::with_capacity(a.conversations.len()),
    };
    for (c, j) in &a.conversations {
        crate::verdict::with_sentence(c, &names, j, |r| t.bytes.push_str(r));
        t.ends.push(t.bytes.len());
    }
    t
}
