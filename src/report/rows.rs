//! rows: the verdict table of a busy capture, many alike conversations as one row.
//!
//! A LAN capture can hold hundreds of conversations that differ only in the client's port:
//! the same broadcast or service announcement, each judged alike with the same evidence. One
//! row per conversation would bury the few that need a look under them, so conversations of
//! the same verdict, protocol, server and evidence sentence become one row when there are at
//! least [`GROUP_MIN`] of them, at the place of the first; the JSON document still lists
//! every one.

use std::collections::BTreeMap;

use super::format::endpoint_text;
use super::Analysis;
use crate::flow::KeyKind;

/// Fewest alike conversations shown as one row.
pub const GROUP_MIN: usize = 5;

/// The rows of a table of `which` (indices into the conversations, in the order to show):
/// one conversation each, or every member of a group of alike ones (in `which`'s order), a
/// row where its first member was.
pub fn rows(a: &Analysis, which: &[usize]) -> Vec<Vec<usize>> {
    let names = a.point_names();
    let key = |i: usize| {
        let (c, j) = &a.conversations[i];
        (
            j.verdict.name(),
            c.proto_name(),
            endpoint_text(&c.server, c.kind == KeyKind::Ports),
            a.reason(c, j, &names),
        )
    };
    let mut groups: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for &i in which {
        groups.entry(key(i)).or_default().push(i);
    }
    let mut out = Vec::new();
    for &i in which {
        let k = key(i);
        match groups.get(&k) {
            Some(g) if g.len() >= GROUP_MIN => {
                if g.first() == Some(&i) {
                    out.push(g.clone());
                }
            }
            _ => out.push(vec![i]),
        }
    }
    out
}

/// How a row of several conversations is titled: "udp 2 clients → 192.168.1.255:15600
/// (530 conversations)".
pub fn group_title(a: &Analysis, group: &[usize]) -> String {
    let Some(&first) = group.first() else {
        return String::new();
    };
    let c = &a.conversations[first].0;
    let ports = c.kind == KeyKind::Ports;
    let mut clients: Vec<std::net::IpAddr> = group
        .iter()
        .map(|&i| a.conversations[i].0.client.ip)
        .collect();
    clients.sort_unstable();
    clients.dedup();
    let from = match clients.as_slice() {
        [one] => one.to_string(),
        many => format!("{} clients", many.len()),
    };
    format!(
        "{} {from} → {} ({} conversations)",
        c.proto_name(),
        endpoint_text(&c.server, ports),
        group.len()
    )
}
