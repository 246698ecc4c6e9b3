//! verdict: judges each conversation from what every capture point saw of it, and says why
//! in one sentence.
//!
//! | verdict | meaning |
//! |---|---|
//! | `asymmetric` | the two directions were not seen at the same capture points: at one point, only the replies (echo replies without requests, a SYN-ACK and server data without the SYN); across points, the requests and the replies crossed different points (the reason names both paths) |
//! | `bypassed` | with `--expect-via POINT`: captured elsewhere, never at POINT (unicast traffic only) |
//! | `unanswered` | the originator's packets were seen, no reply anywhere (lost, or routed back past every capture point: one point cannot tell) |
//! | `incomplete` | too little to judge: only pure ACKs of a connection that started before the capture, a one-way message by nature (multicast, broadcast, ICMP that is not a request/response) |
//! | `symmetric` | both directions seen, at exactly the same capture points |
//!
//! Verdicts are listed in that order, the suspicious first.
//!
//! Across points the reason also says where a direction vanished (`lost after hub-nva`: seen
//! arriving there, never leaving; `lost between X and Y`), and which NAT each forwarding
//! point, or an uncaptured hop between two points, applied.

use crate::correlate::{routable, ConvPoint, Conversation, Loss, RewriteAt};
use crate::flow::KeyKind;

/// The judgement of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Asymmetric,
    Bypassed,
    Unanswered,
    Incomplete,
    Symmetric,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Asymmetric,
        Verdict::Bypassed,
        Verdict::Unanswered,
        Verdict::Incomplete,
        Verdict::Symmetric,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Asymmetric => "asymmetric",
            Verdict::Bypassed => "bypassed",
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
    /// The verdict from the paths alone, before `--expect-via` (differs from `verdict` only
    /// when that is `Bypassed`).
    pub path_verdict: Verdict,
    /// The `--expect-via` points the conversation never reached.
    pub bypassed: Vec<usize>,
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
    match icmp_error_text(v6, t, code) {
        Some(s) => s.to_string(),
        None => format!("ICMP type {t} code {code}"),
    }
}

/// The name of the ICMP errors that have one (see [`icmp_error_name`]).
pub fn icmp_error_text(v6: bool, t: u8, code: u8) -> Option<&'static str> {
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
        _ => return None,
    };
    Some(s)
}

/// Judges one conversation; `names` are the capture points' names, by index.
pub fn judge(c: &Conversation, names: &[String]) -> Judgement {
    judge_with(c, names, &[])
}

/// `a -> b -> c`.
fn arrow(names: &[&str]) -> String {
    names.join(" -> ")
}

/// What vanished where, e.g. "echo replies lost after hub-nva (...)".
fn loss_note(c: &Conversation, names: &[String], loss: &Loss) -> String {
    let (fwd_word, rev_word) = words(c);
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    let what = if loss.dir() == 0 { fwd_word } else { rev_word };
    match *loss {
        Loss::After { point, .. } => format!(
            "{what} lost after {p} (seen arriving at {p}, never leaving it: a stateful NVA \
             dropping asymmetric traffic looks exactly like this)",
            p = name(point)
        ),
        Loss::Between { from, to, .. } => {
            format!("{what} lost between {} and {}", name(from), name(to))
        }
    }
}

/// Judges one conversation; `expect_via` are points every unicast conversation should
/// cross (`--expect-via`): one never seen there is `Bypassed`.
pub fn judge_with(c: &Conversation, names: &[String], expect_via: &[usize]) -> Judgement {
    let (fwd_word, rev_word) = words(c);
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    // the points of each direction, in path order
    let fwd: Vec<&str> = c.route[0].iter().map(|h| name(h.point)).collect();
    let rev: Vec<&str> = c.route[1].iter().map(|h| name(h.point)).collect();
    fn sorted<'a>(v: &[&'a str]) -> Vec<&'a str> {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    }
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
    let lost = |dir: u8| c.losses.iter().find(|l| l.dir() == dir);
    // "spoke1-vm -> hub-nva -> vpn-client", "... directly", "... and were lost after ..."
    let went = |dir: u8, path: &[&str]| -> String {
        let mut s = match path.len() {
            0 => "were not seen".to_string(),
            1 => format!("were seen only at {}", path[0]),
            2 => format!("went {} directly", arrow(path)),
            _ => format!("went {}", arrow(path)),
        };
        if let Some(l) = lost(dir) {
            match *l {
                Loss::After { point, .. } => s.push_str(&format!(
                    " and were lost after {p} (seen arriving at {p}, never leaving it: a \
                     stateful NVA dropping asymmetric traffic looks exactly like this)",
                    p = name(point)
                )),
                Loss::Between { from, to, .. } => s.push_str(&format!(
                    " and were lost between {} and {}",
                    name(from),
                    name(to)
                )),
            }
        }
        s
    };

    let (verdict, mut reason) = if !fwd.is_empty() && !rev.is_empty() {
        if sorted(&fwd) == sorted(&rev) {
            let r = if single {
                format!(
                    "{} and {} both seen here",
                    plural(nf, fwd_word),
                    plural(nr, rev_word)
                )
            } else {
                let mut back = rev.clone();
                back.reverse();
                if back == fwd {
                    format!("both directions crossed {} and back", arrow(&fwd))
                } else {
                    format!(
                        "both directions seen at {}: {fwd_word} {}, {rev_word} {}",
                        list(&fwd),
                        went(0, &fwd),
                        went(1, &rev)
                    )
                }
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
                    "{fwd_word} {}; {rev_word} {}: {}",
                    went(0, &fwd),
                    went(1, &rev),
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
                let which = if data(1) {
                    "a SYN-ACK and data"
                } else {
                    "SYN-ACKs"
                };
                format!(
                    "{} ({which}) without the client's SYN",
                    plural(nr, rev_word)
                )
            } else {
                format!("{} and no request", plural(nr, rev_word))
            };
            let mut r = format!("{what}{}: the requests took another path", at(&rev));
            if let Some(l) = lost(1) {
                r.push_str("; ");
                r.push_str(&loss_note(c, names, l));
            }
            (Verdict::Asymmetric, r)
        }
    } else if one_way_by_nature(c) {
        let why = if c.to_group() {
            "sent to a group address"
        } else {
            "not a request/response protocol"
        };
        (
            Verdict::Incomplete,
            format!(
                "{}{}, one-way by nature ({why})",
                plural(nf, fwd_word),
                at(&fwd)
            ),
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
        let mut r = if single {
            format!("{}, no reply seen", plural(nf, fwd_word))
        } else {
            format!(
                "{} seen at {}, no reply anywhere",
                plural(nf, fwd_word),
                arrow(&fwd)
            )
        };
        if let Some(l) = lost(0) {
            r.push_str("; ");
            r.push_str(&loss_note(c, names, l));
        }
        (Verdict::Unanswered, r)
    };
    if let Some(n) = forwarding_note(c, names) {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    if let Some(n) = between_note(c, names) {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    if c.seq_rewritten {
        reason.push_str("; TCP sequence numbers differ between points (rewritten on the way)");
    }
    if let Some(n) = icmp_note(c) {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    // --expect-via: unicast traffic seen somewhere, never at the expected point
    let eligible = routable(&c.client.ip) && routable(&c.server.ip);
    let bypassed: Vec<usize> = if eligible && !c.points.is_empty() {
        expect_via
            .iter()
            .copied()
            .filter(|&p| c.at(p).is_none())
            .collect()
    } else {
        Vec::new()
    };
    if bypassed.is_empty() {
        return Judgement {
            verdict,
            reason,
            path_verdict: verdict,
            bypassed,
        };
    }
    let seen: Vec<&str> = c.points.iter().map(|p| name(p.point)).collect();
    let missed: Vec<&str> = bypassed.iter().map(|&p| name(p)).collect();
    Judgement {
        verdict: Verdict::Bypassed,
        reason: format!(
            "never reached {} (seen only at {}); {} otherwise: {reason}",
            missed.join(" nor "),
            list(&seen),
            verdict.name()
        ),
        path_verdict: verdict,
        bypassed,
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
            r.dir == 0
                || !c
                    .rewrites
                    .iter()
                    .any(|f| f.dir == 0 && same_place(f.at, r.at))
        })
        .filter_map(|r| match r.at {
            RewriteAt::Between(a, b) => {
                let n = if ports {
                    r.nat.describe()
                } else {
                    format!("{} -> {}", r.nat.from.ip, r.nat.to.ip)
                };
                let side = if r.nat.source {
                    "source"
                } else {
                    "destination"
                };
                let dir = if r.dir == 0 { "" } else { " of the replies" };
                Some(format!(
                    "{side}{dir} rewritten {n} between {} and {} (NAT by a hop not captured)",
                    name(a),
                    name(b)
                ))
            }
            RewriteAt::Point(_) => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
