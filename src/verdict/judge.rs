//! Deciding: which case of [`Evidence`] a conversation is, from its paths, its TCP flags and
//! what it was sent to, then whether `--expect-via` makes it `Bypassed`. Writes no text and
//! allocates nothing (unless a conversation bypassed an `--expect-via` point): every
//! conversation is judged as it is built, the sentence is written only when a report prints it
//! ([`super::evidence`]).

use super::evidence::{Evidence, OneWay, ReplyKind, Side};
use super::path::Path;
use super::{Judgement, Verdict};
use crate::correlate::{routable, Conversation};
use crate::decode::proto;
use crate::flow::KeyKind;
use crate::list::RareVec;

/// Judges one conversation (see [`super::judge_with`]).
pub(super) fn judge(c: &Conversation, names: &[String], expect_via: &[usize]) -> Judgement {
    let evidence = evidence(c, names);
    let verdict = evidence.verdict();
    // --expect-via: unicast traffic seen somewhere, never at the expected point while it
    // was capturing
    let eligible = routable(&c.client.ip) && routable(&c.server.ip);
    let bypassed: Vec<usize> = if eligible && !c.points.is_empty() {
        expect_via
            .iter()
            .copied()
            .filter(|&p| c.at(p).is_none() && c.uncovered_at(p).is_none())
            .collect()
    } else {
        Vec::new()
    };
    Judgement {
        verdict: if bypassed.is_empty() {
            verdict
        } else {
            Verdict::Bypassed
        },
        path_verdict: verdict,
        evidence,
        bypassed: if bypassed.is_empty() {
            RareVec::new()
        } else {
            bypassed.into()
        },
    }
}

/// The case a conversation is, from the points each direction crossed.
fn evidence(c: &Conversation, names: &[String]) -> Evidence {
    let fwd = Path::of(c, 0, names);
    let rev = Path::of(c, 1, names);
    match (fwd.is_empty(), rev.is_empty()) {
        (false, false) => both_ways(c, &fwd, &rev),
        (true, false) => replies_only(c, &rev),
        _ => requests_only(c),
    }
}

/// Both directions were seen somewhere.
fn both_ways(c: &Conversation, fwd: &Path, rev: &Path) -> Evidence {
    if fwd.same_points(rev) {
        if c.points.len() == 1 {
            Evidence::BothHere
        } else if rev.reverse_of(fwd) {
            Evidence::BothAndBack
        } else {
            Evidence::BothAtSamePoints
        }
    } else if fwd.differs_only_where_uncovered(rev, c) {
        Evidence::DifferOnlyWhereUncovered
    } else {
        Evidence::DifferentPaths
    }
}

/// Only the reverse direction was seen anywhere.
fn replies_only(c: &Conversation, rev: &Path) -> Evidence {
    let tcp = c.ip_proto == proto::TCP;
    let syn = c.points.iter().any(|p| p.syn);
    let synack = c.points.iter().any(|p| p.synack);
    let data = c.points.iter().any(|p| p.data[1]);
    let uncovered = |p: usize| c.uncovered_at(p).is_some_and(|u| u.covers_not(0));
    if tcp && !synack && !data {
        Evidence::PureAcks(Side::Server)
    } else if c.route[1]
        .last()
        .is_some_and(|h| !h.forwarded && c.at(h.point).is_some_and(|p| p.hosts_client))
    {
        // the replies ended at the client's own point, which saw nothing the client sent:
        // its requests cannot have taken another path (they would have left through that
        // point), so it sent none while the captures ran
        Evidence::RepliesAtClientsPoint
    } else if rev.hops.iter().all(|h| uncovered(h.point)) {
        // the replies came within the first round trip of every capture that saw them
        Evidence::RepliesBeforeCapture
    } else if tcp && synack && !syn {
        Evidence::RepliesOnly(if data {
            ReplyKind::SynAckAndData
        } else {
            ReplyKind::SynAcks
        })
    } else {
        Evidence::RepliesOnly(ReplyKind::Replies)
    }
}

/// Only the forward direction was seen, or nothing.
fn requests_only(c: &Conversation) -> Evidence {
    let tcp = c.ip_proto == proto::TCP;
    let syn = c.points.iter().any(|p| p.syn);
    if let Some(why) = one_way_by_nature(c) {
        Evidence::OneWay(why)
    } else if tcp && !syn && !c.points.iter().any(|p| p.data[0]) {
        Evidence::PureAcks(Side::Client)
    } else if tcp && !syn {
        Evidence::ClientDataOnly
    } else {
        Evidence::NoReply
    }
}

/// Why traffic expects no reply, when it does not: multicast, broadcast (an IP group address,
/// or a link-layer broadcast/multicast destination such as a directed broadcast), ICMP that is
/// neither echo nor an error, protocols that are neither TCP, UDP nor ICMP.
fn one_way_by_nature(c: &Conversation) -> Option<OneWay> {
    if c.to_group() {
        Some(OneWay::GroupAddress)
    } else if c.link_group {
        Some(OneWay::LinkGroup)
    } else if matches!(c.kind, KeyKind::Icmp { .. } | KeyKind::Other)
        || !matches!(
            c.ip_proto,
            proto::ICMP | proto::TCP | proto::UDP | proto::ICMPV6
        )
    {
        Some(OneWay::NotRequestResponse)
    } else {
        None
    }
}
