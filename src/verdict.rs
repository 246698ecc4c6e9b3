//! verdict: judges each conversation from what every capture point saw of it, and says why
//! in one sentence.
//!
//! | verdict | meaning |
//! |---|---|
//! | `asymmetric` | the two directions were not seen at the same capture points: at one point, only the replies (echo replies without requests, a SYN-ACK and server data without the SYN); across points, the requests and the replies crossed different points |
//! | `unanswered` | the originator's packets were seen, no reply anywhere (lost, or routed back past every capture point: one point cannot tell) |
//! | `incomplete` | too little to judge: only pure ACKs of a connection that started before the capture, a one-way message by nature (multicast, broadcast, ICMP that is not a request/response) |
//! | `symmetric` | both directions seen, at exactly the same capture points |
//!
//! Verdicts are listed in that order, the suspicious first.

use crate::correlate::{ConvPoint, Conversation};
use crate::flow::KeyKind;

/// The judgement of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Asymmetric,
    Unanswered,
    Incomplete,
    Symmetric,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Asymmetric,
        Verdict::Unanswered,
        Verdict::Incomplete,
        Verdict::Symmetric,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Asymmetric => "asymmetric",
            Verdict::Unanswered => "unanswered",
            Verdict::Incomplete => "incomplete",
            Verdict::Symmetric => "symmetric",
        }
    }
    pub fn from_name(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// A verdict and the sentence that justifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reason: String,
}

/// What the two directions of a conversation are called in sentences.
fn words(c: &Conversation) -> (&'static str, &'static str) {
    match c.kind {
        KeyKind::Echo { .. } => ("echo requests", "echo replies"),
        _ if c.ip_proto == 6 => ("client packets", "server packets"),
        _ => ("requests", "replies"),
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        let one = match what.strip_suffix("ies") {
            Some(stem) => format!("{stem}y"),
            None => what.strip_suffix('s').unwrap_or(what).to_string(),
        };
        format!("1 {one}")
    } else {
        format!("{n} {what}")
    }
}

fn list(names: &[&str]) -> String {
    names.join(", ")
}

/// True for traffic that expects no reply: multicast, broadcast, ICMP that is neither echo
/// nor an error, protocols that are neither TCP, UDP nor ICMP.
fn one_way_by_nature(c: &Conversation) -> bool {
    c.to_group()
        || matches!(c.kind, KeyKind::Icmp { .. } | KeyKind::Other)
        || !matches!(c.ip_proto, 1 | 6 | 17 | 58)
}

/// Forwarding and NAT evidence, e.g. "hub-nva forwarded it (NAT 10.100.201.4 -> 10.100.200.68)".
fn forwarding_note(c: &Conversation, names: &[String]) -> Option<String> {
    let parts: Vec<String> = c
        .forwarders()
        .map(|p: &ConvPoint| {
            let name = names.get(p.point).map(String::as_str).unwrap_or("?");
            let what = match (p.forwarded[0] > 0, p.forwarded[1] > 0) {
                (true, false) => "the requests",
                (false, true) => "the replies",
                _ => "it",
            };
            if p.nat.is_empty() {
                format!("{name} forwarded {what}")
            } else {
                let nat: Vec<String> = p.nat.iter().map(|n| n.describe()).collect();
                format!("{name} forwarded {what} with NAT {}", nat.join(", "))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
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

/// Human name of an ICMP/ICMPv6 error.
pub fn icmp_error_name(v6: bool, t: u8, code: u8) -> String {
    let s = match (v6, t, code) {
        (false, 3, 0) | (true, 1, 3) => "host unreachable (net)",
        (false, 3, 1) => "host unreachable",
        (false, 3, 2) => "protocol unreachable",
        (false, 3, 3) | (true, 1, 4) => "port unreachable",
        (false, 3, 4) => "fragmentation needed",
        (false, 3, 9 | 10 | 13) | (true, 1, 1) => "administratively prohibited",
        (false, 3, _) | (true, 1, _) => "destination unreachable",
        (false, 11, 0) | (true, 3, 0) => "TTL exceeded in transit",
        (false, 11, _) | (true, 3, _) => "time exceeded",
        (false, 12, _) | (true, 4, _) => "parameter problem",
        (false, 4, _) => "source quench",
        (true, 2, _) => "packet too big",
        _ => return format!("ICMP type {t} code {code}"),
    };
    s.to_string()
}

/// Judges one conversation; `names` are the capture points' names, by index.
pub fn judge(c: &Conversation, names: &[String]) -> Judgement {
    let (fwd_word, rev_word) = words(c);
    let name = |p: &ConvPoint| names.get(p.point).map(String::as_str).unwrap_or("?");
    let fwd: Vec<&str> = c.points.iter().filter(|p| p.packets[0] > 0).map(name).collect();
    let rev: Vec<&str> = c.points.iter().filter(|p| p.packets[1] > 0).map(name).collect();
    // packets as sent: a forwarding point's leaving legs are the same packets again
    let [nf, nr] = c.points.iter().fold([0u64; 2], |t, p| {
        [
            t[0] + p.packets[0] - p.forwarded[0].min(p.packets[0]),
            t[1] + p.packets[1] - p.forwarded[1].min(p.packets[1]),
        ]
    });
    let single = c.points.len() == 1;
    let at = |v: &[&str]| {
        if single {
            String::new()
        } else {
            format!(" at {}", list(v))
        }
    };
    let tcp = c.ip_proto == 6;
    let syn = c.points.iter().any(|p| p.syn);
    let synack = c.points.iter().any(|p| p.synack);
    let data = |i: usize| c.points.iter().any(|p| p.data[i]);

    let (verdict, mut reason) = if !fwd.is_empty() && !rev.is_empty() {
        if fwd == rev {
            let r = if single {
                format!("{} and {} both seen here", plural(nf, fwd_word), plural(nr, rev_word))
            } else {
                format!("both directions seen at {}", list(&fwd))
            };
            (Verdict::Symmetric, r)
        } else {
            let only_fwd: Vec<&str> = fwd.iter().filter(|p| !rev.contains(p)).copied().collect();
            let only_rev: Vec<&str> = rev.iter().filter(|p| !fwd.contains(p)).copied().collect();
            let mut parts = Vec::new();
            if !only_rev.is_empty() {
                parts.push(format!("{} saw only the {rev_word}", list(&only_rev)));
            }
            if !only_fwd.is_empty() {
                parts.push(format!("{} saw only the {fwd_word}", list(&only_fwd)));
            }
            (
                Verdict::Asymmetric,
                format!(
                    "{fwd_word} crossed {}, {rev_word} crossed {}: {}",
                    list(&fwd),
                    list(&rev),
                    parts.join(", ")
                ),
            )
        }
    } else if !rev.is_empty() {
        // only the reverse direction was seen anywhere
        if tcp && !synack && !data(1) {
            (
                Verdict::Incomplete,
                format!(
                    "only {} from the server{} (pure ACKs of a connection that started before the capture)",
                    plural(nr, "packets"),
                    at(&rev)
                ),
            )
        } else {
            let what = if tcp && synack && !syn {
                format!("{} (a SYN-ACK and data) without the client's SYN", plural(nr, rev_word))
            } else {
                format!("{} and no request", plural(nr, rev_word))
            };
            (
                Verdict::Asymmetric,
                format!("{what}{}: the requests took another path", at(&rev)),
            )
        }
    } else if one_way_by_nature(c) {
        let why = if c.to_group() {
            "sent to a group address"
        } else {
            "not a request/response protocol"
        };
        (
            Verdict::Incomplete,
            format!("{}{}, one-way by nature ({why})", plural(nf, fwd_word), at(&fwd)),
        )
    } else if tcp && !syn && !data(0) {
        (
            Verdict::Incomplete,
            format!(
                "only {} from the client{} (pure ACKs of a connection that started before the capture)",
                plural(nf, "packets"),
                at(&fwd)
            ),
        )
    } else if tcp && !syn {
        (
            Verdict::Asymmetric,
            format!(
                "{}{} carry data and ACKs but no server packet was seen: the replies took another path",
                plural(nf, fwd_word),
                at(&fwd)
            ),
        )
    } else {
        let r = if single {
            format!("{}, no reply seen", plural(nf, fwd_word))
        } else {
            format!("{} seen at {}, no reply anywhere", plural(nf, fwd_word), list(&fwd))
        };
        (Verdict::Unanswered, r)
    };
    if let Some(n) = forwarding_note(c, names) {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    if let Some(n) = icmp_note(c) {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    Judgement { verdict, reason }
}
