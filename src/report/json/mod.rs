//! json: the `flowcheck/1` document.
//!
//! The schema is written once, in docs/json-schema.md (the README links to it): what each
//! field means and when it is left out (the tests check that every key printed is named
//! there). The code that prints the document is the one source
//! of truth for its bytes; additions are backwards compatible, renames and removals need
//! `flowcheck/2`.
//!
//! - `head`: the head of the document (schema, summary, filter, points), written through
//!   serde from its types.
//! - `flows`, `conversations`: the two long arrays, written by hand ([`write`]) straight into
//!   byte buffers, on several threads, a chunk of rows at a time (`chunks`), from the scalar
//!   printers of `emit`. `routing`: a conversation's `routing` object (serde).
//! - `reference` (tests and the `analyse` fuzz target only: feature `reference-json`): the same document through serde
//!   and one row type per kind of row (`write_reference`). The tests check, on random rows
//!   and on the captures, that both writers print the same bytes: the row types are the
//!   hand-written writers' reference, key for key, and cannot drift from them.

pub(crate) mod chunks;
mod conversations;
pub mod coverage;
pub(crate) mod emit;
mod flows;
mod head;
#[cfg(any(test, feature = "reference-json"))]
mod reference;
pub mod routing;
#[cfg(test)]
mod tests;

pub use head::{head, Damage, Filter, Head, Matches, Point, Summary};
#[cfg(any(test, feature = "reference-json"))]
pub use reference::{
    flow_row, write_reference, ConvNat, ConvPointRow, ConversationRow, FlowRow, HopRow,
    IcmpErrorRow, Nat,
};

use super::Analysis;
use conversations::write_conversation;
use flows::write_flow;
use head::write_head;

pub const SCHEMA: &str = "flowcheck/1";

/// Rows per chunk: what one worker renders into one buffer at a time.
const CHUNK_ROWS: usize = 512;

/// Writes the document (compact JSON, one line) followed by a newline. The flow and
/// conversation rows are rendered in chunks on up to one thread per core and written in
/// order; a few chunks are in memory at a time, never the whole document.
pub fn write(a: &Analysis, mut out: impl std::io::Write) -> std::io::Result<()> {
    write_head(a, &mut out)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // the point names, quoted and escaped once: every row repeats them
    let plain_names = a.point_names();
    let names: Vec<Vec<u8>> = a
        .points
        .iter()
        .map(|p| {
            let mut name = Vec::new();
            emit::string(&mut name, &p.summary.name);
            name
        })
        .collect();

    out.write_all(b",\"flows\":[")?;
    // (point, first flow, end) of each chunk; chunks do not straddle points
    let chunks: Vec<(usize, usize, usize)> = a
        .points
        .iter()
        .enumerate()
        .flat_map(|(p, pr)| {
            let n = pr.flows.len();
            (0..n)
                .step_by(CHUNK_ROWS)
                .map(move |start| (p, start, (start + CHUNK_ROWS).min(n)))
        })
        .collect();
    chunks::write_in_order(&mut out, chunks.len(), threads, |chunk, buf| {
        let (p, start, end) = chunks[chunk];
        for (i, f) in a.points[p].flows[start..end].iter().enumerate() {
            if chunk > 0 || i > 0 {
                buf.push(b',');
            }
            write_flow(buf, &names[p], f);
        }
    })?;

    out.write_all(b"],\"conversations\":[")?;
    let count = a.conversations.len().div_ceil(CHUNK_ROWS);
    chunks::write_in_order(&mut out, count, threads, |chunk, buf| {
        let start = chunk * CHUNK_ROWS;
        let end = (start + CHUNK_ROWS).min(a.conversations.len());
        for (i, (c, j)) in a.conversations[start..end].iter().enumerate() {
            if start + i > 0 {
                buf.push(b',');
            }
            crate::verdict::with_sentence(c, &plain_names, j, |reason| {
                let route = routing::row(a, start + i, &plain_names);
                write_conversation(buf, a.id(start + i), c, j, reason, &names, route.as_ref())
            });
        }
    })?;
    out.write_all(b"]}\n")?;
    out.flush()
}
