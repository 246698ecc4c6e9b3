//! Evidence: the case that decided a verdict, and the one place its sentence is written.
//!
//! [`Evidence`] names the case ("the replies alone, ending at the client's own point", "the
//! directions crossed different points"...) and the few facts the case itself decided (which
//! side sent pure ACKs, why traffic is one-way, what TCP showed without its SYN). Everything
//! else the sentence says (counts, paths by name, where a direction was lost, NAT, ICMP errors,
//! points not capturing) is read from the conversation when the sentence is written: kept in the
//! [`Judgement`] of every conversation, the evidence stays two bytes (the judgement's padding),
//! and judging builds no text.

use std::fmt::Write;

use super::icmp::icmp_error_name;
use super::path::Path;
use super::{direction_words, put_count, Judgement, Verdict};
use crate::clock::clock_text;
use crate::correlate::{Conversation, Dir, Loss, NatSide, RewriteAt, Uncovered};
use crate::decode::proto;
use crate::flow::KeyKind;

/// Why a conversation got its verdict from its paths (before `--expect-via`): each case gives
/// exactly one verdict ([`Evidence::verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Evidence {
    /// Both directions, at the one capture point (`symmetric`).
    BothHere,
    /// Both directions crossed the same points, the replies in reverse order (`symmetric`).
    BothAndBack,
    /// Both directions at the same points, in another order (`symmetric`).
    BothAtSamePoints,
    /// The directions' points differ only where a point was not capturing when the other
    /// direction ran (`incomplete`).
    DifferOnlyWhereUncovered,
    /// The directions crossed different points (`asymmetric`).
    DifferentPaths,
    /// Only pure ACKs from one side, of a connection that started before the capture
    /// (`incomplete`).
    PureAcks(Side),
    /// Replies alone, ending at the client's own point (which forwarded nothing): the client
    /// sent nothing while the captures ran (`incomplete`).
    RepliesAtClientsPoint,
    /// Replies alone, within the first round trip of every capture that saw them: the
    /// requests were sent before the captures began (`incomplete`).
    RepliesBeforeCapture,
    /// Replies alone: the requests took another path (`asymmetric`).
    RepliesOnly(ReplyKind),
    /// Traffic that expects no reply (`incomplete`).
    OneWay(OneWay),
    /// TCP data and ACKs from the client, no server packet: the replies took another path
    /// (`asymmetric`).
    ClientDataOnly,
    /// The originator's packets, no reply anywhere (`unanswered`).
    NoReply,
}

/// The side of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Server,
}

/// What the replies of [`Evidence::RepliesOnly`] were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// Replies (any protocol), no request.
    Replies,
    /// TCP SYN-ACKs without the client's SYN.
    SynAcks,
    /// A TCP SYN-ACK and data without the client's SYN.
    SynAckAndData,
}

/// Why traffic of [`Evidence::OneWay`] expects no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OneWay {
    /// Sent to an IP multicast or broadcast address.
    GroupAddress,
    /// Sent to a link-layer broadcast or multicast address.
    LinkGroup,
    /// ICMP that is neither echo nor an error, or a protocol other than TCP, UDP and ICMP.
    NotRequestResponse,
}

impl Evidence {
    /// The verdict this case gives.
    pub fn verdict(self) -> Verdict {
        match self {
            Evidence::BothHere | Evidence::BothAndBack | Evidence::BothAtSamePoints => {
                Verdict::Symmetric
            }
            Evidence::DifferentPaths | Evidence::RepliesOnly(_) | Evidence::ClientDataOnly => {
                Verdict::Asymmetric
            }
            Evidence::DifferOnlyWhereUncovered
            | Evidence::PureAcks(_)
            | Evidence::RepliesAtClientsPoint
            | Evidence::RepliesBeforeCapture
            | Evidence::OneWay(_) => Verdict::Incomplete,
            Evidence::NoReply => Verdict::Unanswered,
        }
    }
}

/// Writes the sentence that justifies `j`, the judgement of `c` (`names`: the capture points'
/// names, by index), to `out`.
pub(super) fn write_sentence(out: &mut String, c: &Conversation, names: &[String], j: &Judgement) {
    if !j.bypassed.is_empty() {
        put_bypassed(out, c, names, j);
    }
    put_case(out, c, names, j.evidence);
    put_forwarding_note(out, c, names);
    if let Some(n) = between_note(c, names) {
        out.push_str("; ");
        out.push_str(&n);
    }
    if c.seq_rewritten {
        out.push_str("; TCP sequence numbers differ between points (rewritten on the way)");
    }
    if let Some(n) = icmp_note(c) {
        out.push_str("; ");
        out.push_str(&n);
    }
    for u in &c.uncovered {
        out.push_str("; ");
        put_uncovered(out, u, names);
    }
}

/// "never reached hub-nva (seen only at a, b); symmetric otherwise: ".
fn put_bypassed(out: &mut String, c: &Conversation, names: &[String], j: &Judgement) {
    let name = |i: usize| names.get(i).map_or("?", String::as_str);
    let seen: Vec<&str> = c.points.iter().map(|p| name(p.point)).collect();
    let missed: Vec<&str> = j.bypassed.iter().map(|&p| name(p)).collect();
    let _ = write!(
        out,
        "never reached {} (seen only at {}); {} otherwise: ",
        missed.join(" nor "),
        seen.join(", "),
        j.path_verdict.name()
    );
}

/// The sentence's main clause, what the case says.
fn put_case(out: &mut String, c: &Conversation, names: &[String], evidence: Evidence) {
    let [fwd_word, rev_word] = direction_words(c);
    let fwd = Path::of(c, 0, names);
    let rev = Path::of(c, 1, names);
    // packets as sent, each counted once however many points saw it
    let [nf, nr] = c.packets();
    let single = c.points.len() == 1;
    // " at a, b" (nothing at a single point)
    let put_at = |out: &mut String, p: &Path| {
        if !single {
            out.push_str(" at ");
            p.put_all(out, ", ");
        }
    };
    let lost = |dir: Dir| c.losses.iter().find(|l| l.dir() == dir);
    match evidence {
        Evidence::BothHere => {
            put_count(out, nf, fwd_word);
            out.push_str(" and ");
            put_count(out, nr, rev_word);
            out.push_str(" both seen here");
        }
        Evidence::BothAndBack => {
            out.push_str("both directions crossed ");
            fwd.put_all(out, " -> ");
            out.push_str(" and back");
        }
        Evidence::BothAtSamePoints => {
            out.push_str("both directions seen at ");
            fwd.put_all(out, ", ");
            let _ = write!(out, ": {fwd_word} ");
            put_went(out, &fwd, lost(Dir::Forward), names);
            let _ = write!(out, ", {rev_word} ");
            put_went(out, &rev, lost(Dir::Reverse), names);
        }
        Evidence::DifferOnlyWhereUncovered => {
            put_both_went(out, c, names, false);
            out.push_str(
                ": the points that saw one direction only were not capturing when the other ran",
            );
        }
        Evidence::DifferentPaths => {
            put_both_went(out, c, names, true);
            out.push_str(": ");
            put_seen_one_way(out, &fwd, &rev, [fwd_word, rev_word]);
        }
        Evidence::PureAcks(side) => {
            let (n, side, p) = match side {
                Side::Client => (nf, "client", &fwd),
                Side::Server => (nr, "server", &rev),
            };
            out.push_str("only ");
            put_count(out, n, "packets");
            out.push_str(" from the ");
            out.push_str(side);
            put_at(out, p);
            out.push_str(" (pure ACKs of a connection that started before the capture)");
        }
        Evidence::RepliesAtClientsPoint
        | Evidence::RepliesBeforeCapture
        | Evidence::RepliesOnly(_) => put_replies_only(out, c, names, evidence),
        Evidence::OneWay(why) => {
            put_count(out, nf, fwd_word);
            put_at(out, &fwd);
            out.push_str(match why {
                OneWay::GroupAddress => ", one-way by nature (sent to a group address)",
                OneWay::LinkGroup => {
                    ", one-way by nature (sent to a link-layer broadcast or multicast address)"
                }
                OneWay::NotRequestResponse => {
                    ", one-way by nature (not a request/response protocol)"
                }
            });
        }
        Evidence::ClientDataOnly => {
            put_count(out, nf, fwd_word);
            put_at(out, &fwd);
            out.push_str(
                " carry data and ACKs but no server packet was seen: the replies took another path",
            );
        }
        Evidence::NoReply => {
            put_count(out, nf, fwd_word);
            if single {
                out.push_str(", no reply seen");
            } else {
                out.push_str(" seen at ");
                fwd.put_all(out, " -> ");
                out.push_str(", no reply anywhere");
            }
            put_loss_note(out, c, names, lost(Dir::Forward));
        }
    }
}

/// The main clause when only the replies were seen: how many, what was missing, where, and
/// what that means.
fn put_replies_only(out: &mut String, c: &Conversation, names: &[String], evidence: Evidence) {
    let rev = Path::of(c, 1, names);
    put_count(out, c.packets()[1], direction_words(c)[1]);
    out.push_str(match evidence {
        Evidence::RepliesAtClientsPoint if c.ip_proto == proto::TCP => " and no client packet",
        Evidence::RepliesOnly(ReplyKind::SynAcks) => " (SYN-ACKs) without the client's SYN",
        Evidence::RepliesOnly(ReplyKind::SynAckAndData) => {
            " (a SYN-ACK and data) without the client's SYN"
        }
        _ => " and no request",
    });
    // " at a, b" (nothing at a single point)
    if c.points.len() != 1 {
        out.push_str(" at ");
        rev.put_all(out, ", ");
    }
    match evidence {
        Evidence::RepliesAtClientsPoint => {
            let own = c.route[1].last().map_or(usize::MAX, |h| h.point);
            let _ = write!(
                out,
                "; {}, the client's own point, saw nothing from the client: one-way traffic, \
                 or requests sent before the captures began",
                names.get(own).map_or("?", String::as_str)
            );
        }
        Evidence::RepliesBeforeCapture => {
            out.push_str(": the requests would have been sent before the capture began");
        }
        _ => {
            out.push_str(": the requests took another path");
            put_loss_note(
                out,
                c,
                names,
                c.losses.iter().find(|l| l.dir() == Dir::Reverse),
            );
        }
    }
}

/// "requests went a -> b; replies went b -> a directly", with where each was lost when
/// `losses`.
fn put_both_went(out: &mut String, c: &Conversation, names: &[String], losses: bool) {
    let [fwd_word, rev_word] = direction_words(c);
    let lost = |dir: Dir| {
        losses
            .then(|| c.losses.iter().find(|l| l.dir() == dir))
            .flatten()
    };
    out.push_str(fwd_word);
    out.push(' ');
    put_went(out, &Path::of(c, 0, names), lost(Dir::Forward), names);
    let _ = write!(out, "; {rev_word} ");
    put_went(out, &Path::of(c, 1, names), lost(Dir::Reverse), names);
}

/// "hub-nva saw only the replies, spoke1-vm saw only the requests".
fn put_seen_one_way(out: &mut String, fwd: &Path, rev: &Path, [fwd_word, rev_word]: [&str; 2]) {
    let only_rev = rev.iter().any(|p| !fwd.contains(p));
    let only_fwd = fwd.iter().any(|p| !rev.contains(p));
    if only_rev {
        rev.put(out, ", ", |p| !fwd.contains(p));
        let _ = write!(out, " saw only the {rev_word}");
    }
    if only_fwd {
        if only_rev {
            out.push_str(", ");
        }
        fwd.put(out, ", ", |p| !rev.contains(p));
        let _ = write!(out, " saw only the {fwd_word}");
    }
}

/// What one direction did, e.g. "went spoke1-vm -> hub-nva -> vpn-client", "... directly",
/// "... and were lost after ...".
fn put_went(out: &mut String, path: &Path, lost: Option<&Loss>, names: &[String]) {
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    match path.len() {
        0 => out.push_str("were not seen"),
        1 => {
            out.push_str("were seen only at ");
            out.push_str(path.name(0));
        }
        2 => {
            out.push_str("went ");
            path.put_all(out, " -> ");
            out.push_str(" directly");
        }
        _ => {
            out.push_str("went ");
            path.put_all(out, " -> ");
        }
    }
    match lost {
        Some(Loss::After { point, .. }) => {
            let _ = write!(
                out,
                " and were lost after {p} (seen arriving at {p}, never leaving it: a \
                 stateful NVA dropping asymmetric traffic looks exactly like this)",
                p = name(*point)
            );
        }
        Some(Loss::Between { from, to, .. }) => {
            let _ = write!(
                out,
                " and were lost between {} and {}",
                name(*from),
                name(*to)
            );
        }
        None => {}
    }
}

/// What vanished where, e.g. "; echo replies lost after hub-nva (...)".
fn put_loss_note(out: &mut String, c: &Conversation, names: &[String], loss: Option<&Loss>) {
    let Some(loss) = loss else { return };
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    let what = direction_words(c)[loss.dir().index()];
    let _ = match *loss {
        Loss::After { point, .. } => write!(
            out,
            "; {what} lost after {p} (seen arriving at {p}, never leaving it: a stateful NVA \
             dropping asymmetric traffic looks exactly like this)",
            p = name(point)
        ),
        Loss::Between { from, to, .. } => {
            write!(out, "; {what} lost between {} and {}", name(from), name(to))
        }
    };
}

/// Forwarding and NAT evidence, e.g. "; hub-nva forwarded it with NAT 10.100.201.4 ->
/// 10.100.200.68", each forwarding point's after "; ".
fn put_forwarding_note(out: &mut String, c: &Conversation, names: &[String]) {
    for p in c.forwarders() {
        let name = names.get(p.point).map(String::as_str).unwrap_or("?");
        let what = match (p.forwarded[0] > 0, p.forwarded[1] > 0) {
            (true, false) => "the requests",
            (false, true) => "the replies",
            _ => "it",
        };
        let _ = write!(out, "; {name} forwarded {what}");
        for (k, n) in p.nat.iter().enumerate() {
            out.push_str(if k == 0 { " with NAT " } else { ", " });
            let _ = write!(out, "{n}");
        }
    }
}

/// Names ICMP errors, e.g. "10.0.0.2 said port unreachable".
fn icmp_note(c: &Conversation) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for n in &c.icmp_errors {
        let s = format!(
            "{} said {}",
            n.from,
            icmp_error_name(n.v6, n.icmp_type, n.code)
        );
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    (!seen.is_empty()).then(|| seen.join("; "))
}

/// "hub-nva was not capturing then: its capture ended 03:40:42.891" (on the point's own
/// clock).
fn put_uncovered(out: &mut String, u: &Uncovered, names: &[String]) {
    let name = names.get(u.point).map_or("?", String::as_str);
    if u.missed {
        let _ = write!(out, "{name} was capturing, yet its capture missed them");
        return;
    }
    let _ = write!(out, "{name} was not capturing then: ");
    match u.window {
        None => out.push_str("it captured nothing"),
        Some((first, last)) => {
            let (what, at) = if u.before {
                ("began", first)
            } else {
                ("ended", last)
            };
            let _ = write!(out, "its capture {what} {}", clock_text(at, false));
        }
    }
}

fn same_place(a: RewriteAt, b: RewriteAt) -> bool {
    match (a, b) {
        (RewriteAt::Point(x), RewriteAt::Point(y)) => x == y,
        (RewriteAt::Between(a1, a2), RewriteAt::Between(b1, b2)) => {
            (a1, a2) == (b1, b2) || (a1, a2) == (b2, b1)
        }
        _ => false,
    }
}

/// NAT applied between two capture points by a hop that was not captured, e.g. "source
/// 10.100.201.4 -> 10.100.200.68 rewritten between spoke1-vm and spoke2-vm".
fn between_note(c: &Conversation, names: &[String]) -> Option<String> {
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    let ports = c.kind == KeyKind::Ports;
    let parts: Vec<String> = c
        .rewrites
        .iter()
        .filter(|r| {
            r.dir == Dir::Forward
                || !c
                    .rewrites
                    .iter()
                    .any(|f| f.dir == Dir::Forward && same_place(f.at, r.at))
        })
        .filter_map(|r| match r.at {
            RewriteAt::Between(a, b) => {
                let n = if ports {
                    r.nat.describe()
                } else {
                    format!("{} -> {}", r.nat.from.ip, r.nat.to.ip)
                };
                let side = r.nat.side.name();
                let dir = match r.dir {
                    Dir::Forward => "",
                    Dir::Reverse => " of the replies",
                };
                // to the address of a point that was not capturing: NAT by that point
                let by = c
                    .uncovered
                    .iter()
                    .find(|u| r.nat.side == NatSide::Source && u.crossed_as == Some(r.nat.to.ip))
                    .map_or("a hop not captured".to_string(), |u| {
                        let p = name(u.point);
                        format!("{p}, its own address: the packets crossed {p}")
                    });
                Some(format!(
                    "{side}{dir} rewritten {n} between {} and {} (NAT by {by})",
                    name(a),
                    name(b)
                ))
            }
            RewriteAt::Point(_) => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
