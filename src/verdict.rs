//! verdict: judges each conversation from what every capture point saw of it, and says why
//! in one sentence.
//!
//! | verdict | meaning |
//! |---|---|
//! | `asymmetric` | the two directions were not seen at the same capture points: at one point, only the replies (echo replies without requests, a SYN-ACK and server data without the SYN); across points, the requests and the replies crossed different points (the reason names both paths) |
//! | `bypassed` | with `--expect-via POINT`: captured elsewhere, never at POINT (unicast traffic only) |
//! | `unanswered` | the originator's packets were seen, no reply anywhere (lost, or routed back past every capture point: one point cannot tell) |
//! | `incomplete` | too little to judge: only pure ACKs of a connection that started before the capture, a one-way message by nature (multicast, broadcast, link-layer broadcast/multicast, ICMP that is not a request/response), or replies alone that ended at the client's own point (the point that hosts the client, not forwarding them on): the client sent nothing while the captures ran, so no request can have taken another path |
//! | `symmetric` | both directions seen, at exactly the same capture points |
//!
//! Verdicts are listed in that order, the suspicious first.
//!
//! Across points the reason also says where a direction vanished (`lost after hub-nva`: seen
//! arriving there, never leaving; `lost between X and Y`), and which NAT each forwarding
//! point, or an uncaptured hop between two points, applied.

use std::fmt::Write;

use crate::clock::clock_text;
use crate::correlate::{routable, Conversation, Hop, Loss, RewriteAt, Uncovered};
use crate::flow::KeyKind;
use crate::list::RareVec;

/// Where a verdict's sentence goes: a `String`, or [`Discard`] when only the verdict is
/// wanted (judging writes no text; reports write the sentence when they print it).
trait Sentence: Write {
    fn push_str(&mut self, s: &str);
    fn push(&mut self, c: char);
    /// Puts what `head` makes in front of what was written.
    fn prepend(&mut self, head: impl FnOnce() -> String);
}

impl Sentence for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
    fn prepend(&mut self, head: impl FnOnce() -> String) {
        self.insert_str(0, &head());
    }
}

/// A sentence nobody reads: every write is dropped before any formatting.
struct Discard;

impl Write for Discard {
    fn write_str(&mut self, _: &str) -> std::fmt::Result {
        Ok(())
    }
    fn write_fmt(&mut self, _: std::fmt::Arguments<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl Sentence for Discard {
    fn push_str(&mut self, _: &str) {}
    fn push(&mut self, _: char) {}
    fn prepend(&mut self, _: impl FnOnce() -> String) {}
}

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

/// A verdict. The sentence that justifies it is written on demand by [`reason`] (kept for
/// every conversation, the sentences would take more memory than the conversations' counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The verdict from the paths alone, before `--expect-via` (differs from `verdict` only
    /// when that is `Bypassed`).
    pub path_verdict: Verdict,
    /// The `--expect-via` points the conversation never reached.
    pub bypassed: RareVec<usize>,
}

/// What the two directions of a conversation are called in sentences.
fn words(c: &Conversation) -> (&'static str, &'static str) {
    match c.kind {
        KeyKind::Echo { .. } => ("echo requests", "echo replies"),
        _ if c.ip_proto == 6 => ("client packets", "server packets"),
        _ => ("requests", "replies"),
    }
}

/// True for traffic that expects no reply: multicast, broadcast (an IP group address, or a
/// link-layer broadcast/multicast destination such as a directed broadcast), ICMP that is neither echo
/// nor an error, protocols that are neither TCP, UDP nor ICMP.
fn one_way_by_nature(c: &Conversation) -> bool {
    c.to_group()
        || c.link_group
        || matches!(c.kind, KeyKind::Icmp { .. } | KeyKind::Other)
        || !matches!(c.ip_proto, 1 | 6 | 17 | 58)
}

/// Forwarding and NAT evidence, e.g. "; hub-nva forwarded it with NAT 10.100.201.4 ->
/// 10.100.200.68", each forwarding point's after "; ".
fn put_forwarding_note(out: &mut impl Sentence, c: &Conversation, names: &[String]) {
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

/// `1 echo reply`, `2 echo replies`.
fn put_plural(out: &mut impl Sentence, n: u64, what: &str) {
    if n == 1 {
        out.push_str("1 ");
        match what.strip_suffix("ies") {
            Some(stem) => {
                out.push_str(stem);
                out.push('y');
            }
            None => out.push_str(what.strip_suffix('s').unwrap_or(what)),
        }
    } else {
        put_u64(out, n);
        out.push(' ');
        out.push_str(what);
    }
}

/// `n` in decimal (what `{n}` prints, without the formatting machinery: every reason has
/// one or two counts).
fn put_u64(out: &mut impl Sentence, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[k..] {
        out.push(char::from(d));
    }
}

/// The points of one direction's path, by name, in path order.
#[derive(Clone, Copy)]
struct Path<'a> {
    hops: &'a [Hop],
    names: &'a [String],
}

impl<'a> Path<'a> {
    fn len(&self) -> usize {
        self.hops.len()
    }
    fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }
    fn name(&self, k: usize) -> &'a str {
        self.hops
            .get(k)
            .and_then(|h| self.names.get(h.point))
            .map_or("?", String::as_str)
    }
    fn iter(&self) -> impl DoubleEndedIterator<Item = &'a str> + '_ {
        (0..self.len()).map(|k| self.name(k))
    }
    fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
    /// The same names, as many times each, in any order.
    fn same_points(&self, other: &Path) -> bool {
        let count = |p: &Path, name: &str| p.iter().filter(|&n| n == name).count();
        self.len() == other.len() && self.iter().all(|n| count(self, n) == count(other, n))
    }
    /// True when every point that saw one direction only (`self` the requests, `other` the
    /// replies) was not capturing when the other direction ran.
    fn differs_only_where_uncovered(&self, other: &Path, c: &Conversation) -> bool {
        let has = |p: &Path, pt: usize| p.hops.iter().any(|h| h.point == pt);
        let missed = |pt: usize, dir: usize| c.uncovered_at(pt).is_some_and(|u| u.covers_not(dir));
        self.hops
            .iter()
            .all(|h| has(other, h.point) || missed(h.point, 1))
            && other
                .hops
                .iter()
                .all(|h| has(self, h.point) || missed(h.point, 0))
    }
    /// The same names in the opposite order.
    fn reverse_of(&self, other: &Path) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().rev())
    }
    /// The names joined by `sep`, those for which `keep` holds.
    fn put(&self, out: &mut impl Sentence, sep: &str, keep: impl Fn(&str) -> bool) {
        for (k, n) in self.iter().filter(|&n| keep(n)).enumerate() {
            if k > 0 {
                out.push_str(sep);
            }
            out.push_str(n);
        }
    }
    fn put_all(&self, out: &mut impl Sentence, sep: &str) {
        self.put(out, sep, |_| true);
    }
}

fn list(names: &[&str]) -> String {
    names.join(", ")
}

/// What one direction did, e.g. "went spoke1-vm -> hub-nva -> vpn-client", "... directly",
/// "... and were lost after ...".
fn put_went(out: &mut impl Sentence, path: &Path, lost: Option<&Loss>, names: &[String]) {
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
    if let Some(l) = lost {
        match *l {
            Loss::After { point, .. } => {
                let _ = write!(
                    out,
                    " and were lost after {p} (seen arriving at {p}, never leaving it: a \
                     stateful NVA dropping asymmetric traffic looks exactly like this)",
                    p = name(point)
                );
            }
            Loss::Between { from, to, .. } => {
                let _ = write!(
                    out,
                    " and were lost between {} and {}",
                    name(from),
                    name(to)
                );
            }
        }
    }
}

/// What vanished where, e.g. "echo replies lost after hub-nva (...)".
fn put_loss_note(out: &mut impl Sentence, c: &Conversation, names: &[String], loss: &Loss) {
    let (fwd_word, rev_word) = words(c);
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    let what = if loss.dir() == 0 { fwd_word } else { rev_word };
    let _ = match *loss {
        Loss::After { point, .. } => write!(
            out,
            "{what} lost after {p} (seen arriving at {p}, never leaving it: a stateful NVA \
             dropping asymmetric traffic looks exactly like this)",
            p = name(point)
        ),
        Loss::Between { from, to, .. } => {
            write!(out, "{what} lost between {} and {}", name(from), name(to))
        }
    };
}

thread_local! {
    /// Where the reasons are written, reused.
    static REASON: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Judges one conversation; `expect_via` are points every unicast conversation should
/// cross (`--expect-via`): one never seen there is `Bypassed`.
pub fn judge_with(c: &Conversation, names: &[String], expect_via: &[usize]) -> Judgement {
    judge_into(c, names, expect_via, &mut Discard)
}

/// The sentence that justifies the verdict [`judge_with`] gives (same arguments).
pub fn reason(c: &Conversation, names: &[String], expect_via: &[usize]) -> String {
    with_reason(c, names, expect_via, str::to_owned)
}

/// Calls `f` with the sentence [`reason`] returns, written in a reused buffer (no
/// allocation per conversation).
pub fn with_reason<R>(
    c: &Conversation,
    names: &[String],
    expect_via: &[usize],
    f: impl FnOnce(&str) -> R,
) -> R {
    REASON.with_borrow_mut(|out| {
        out.clear();
        judge_into(c, names, expect_via, out);
        f(out)
    })
}

/// [`judge_with`], writing the reason to `out` (empty) too.
fn judge_into<S: Sentence>(
    c: &Conversation,
    names: &[String],
    expect_via: &[usize],
    out: &mut S,
) -> Judgement {
    let (fwd_word, rev_word) = words(c);
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    // the points of each direction, in path order
    let fwd = Path {
        hops: &c.route[0],
        names,
    };
    let rev = Path {
        hops: &c.route[1],
        names,
    };
    // packets as sent, each counted once however many points saw it
    let [nf, nr] = c.packets();
    let single = c.points.len() == 1;
    // " at a, b" (nothing at a single point)
    let put_at = |out: &mut S, p: &Path| {
        if !single {
            out.push_str(" at ");
            p.put_all(out, ", ");
        }
    };
    // "only 3 packets from the client at a, b (pure ACKs ...)"
    let pure_acks = |out: &mut S, n: u64, side: &str, p: &Path| {
        out.push_str("only ");
        put_plural(out, n, "packets");
        out.push_str(" from the ");
        out.push_str(side);
        put_at(out, p);
        out.push_str(" (pure ACKs of a connection that started before the capture)");
    };
    let tcp = c.ip_proto == 6;
    let syn = c.points.iter().any(|p| p.syn);
    let synack = c.points.iter().any(|p| p.synack);
    let data = |i: usize| c.points.iter().any(|p| p.data[i]);
    let lost = |dir: u8| c.losses.iter().find(|l| l.dir() == dir);
    let uncovered = |p: usize, dir: usize| c.uncovered_at(p).is_some_and(|u| u.covers_not(dir));

    let verdict = if !fwd.is_empty() && !rev.is_empty() {
        if fwd.same_points(&rev) {
            if single {
                put_plural(out, nf, fwd_word);
                out.push_str(" and ");
                put_plural(out, nr, rev_word);
                out.push_str(" both seen here");
            } else if rev.reverse_of(&fwd) {
                out.push_str("both directions crossed ");
                fwd.put_all(out, " -> ");
                out.push_str(" and back");
            } else {
                out.push_str("both directions seen at ");
                fwd.put_all(out, ", ");
                let _ = write!(out, ": {fwd_word} ");
                put_went(out, &fwd, lost(0), names);
                let _ = write!(out, ", {rev_word} ");
                put_went(out, &rev, lost(1), names);
            }
            Verdict::Symmetric
        } else if fwd.differs_only_where_uncovered(&rev, c) {
            out.push_str(fwd_word);
            out.push(' ');
            put_went(out, &fwd, None, names);
            let _ = write!(out, "; {rev_word} ");
            put_went(out, &rev, None, names);
            out.push_str(
                ": the points that saw one direction only were not capturing when the other ran",
            );
            Verdict::Incomplete
        } else {
            out.push_str(fwd_word);
            out.push(' ');
            put_went(out, &fwd, lost(0), names);
            let _ = write!(out, "; {rev_word} ");
            put_went(out, &rev, lost(1), names);
            out.push_str(": ");
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
            Verdict::Asymmetric
        }
    } else if !rev.is_empty() {
        // only the reverse direction was seen anywhere
        if tcp && !synack && !data(1) {
            pure_acks(out, nr, "server", &rev);
            Verdict::Incomplete
        } else if let Some(own) = c.route[1]
            .last()
            .filter(|h| !h.forwarded && c.at(h.point).is_some_and(|p| p.hosts_client))
        {
            // the replies ended at the client's own point, which saw nothing the client
            // sent: its requests cannot have taken another path (they would have left
            // through that point), so it sent none while the captures ran
            put_plural(out, nr, rev_word);
            out.push_str(if tcp {
                " and no client packet"
            } else {
                " and no request"
            });
            put_at(out, &rev);
            let _ = write!(
                out,
                "; {}, the client's own point, saw nothing from the client: one-way traffic, \
                 or requests sent before the captures began",
                name(own.point)
            );
            Verdict::Incomplete
        } else if rev.hops.iter().all(|h| uncovered(h.point, 0)) {
            // the replies came within the first round trip of every capture that saw them
            put_plural(out, nr, rev_word);
            out.push_str(" and no request");
            put_at(out, &rev);
            out.push_str(": the requests would have been sent before the capture began");
            Verdict::Incomplete
        } else {
            put_plural(out, nr, rev_word);
            if tcp && synack && !syn {
                let which = if data(1) {
                    "a SYN-ACK and data"
                } else {
                    "SYN-ACKs"
                };
                let _ = write!(out, " ({which}) without the client's SYN");
            } else {
                out.push_str(" and no request");
            }
            put_at(out, &rev);
            out.push_str(": the requests took another path");
            if let Some(l) = lost(1) {
                out.push_str("; ");
                put_loss_note(out, c, names, l);
            }
            Verdict::Asymmetric
        }
    } else if one_way_by_nature(c) {
        let why = if c.to_group() {
            "sent to a group address"
        } else if c.link_group {
            "sent to a link-layer broadcast or multicast address"
        } else {
            "not a request/response protocol"
        };
        put_plural(out, nf, fwd_word);
        put_at(out, &fwd);
        let _ = write!(out, ", one-way by nature ({why})");
        Verdict::Incomplete
    } else if tcp && !syn && !data(0) {
        pure_acks(out, nf, "client", &fwd);
        Verdict::Incomplete
    } else if tcp && !syn {
        put_plural(out, nf, fwd_word);
        put_at(out, &fwd);
        out.push_str(
            " carry data and ACKs but no server packet was seen: the replies took another path",
        );
        Verdict::Asymmetric
    } else {
        put_plural(out, nf, fwd_word);
        if single {
            out.push_str(", no reply seen");
        } else {
            out.push_str(" seen at ");
            fwd.put_all(out, " -> ");
            out.push_str(", no reply anywhere");
        }
        if let Some(l) = lost(0) {
            out.push_str("; ");
            put_loss_note(out, c, names, l);
        }
        Verdict::Unanswered
    };
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
    if bypassed.is_empty() {
        return Judgement {
            verdict,
            path_verdict: verdict,
            bypassed: RareVec::new(),
        };
    }
    // the names are gathered only when the sentence is written
    out.prepend(|| {
        let seen: Vec<&str> = c.points.iter().map(|p| name(p.point)).collect();
        let missed: Vec<&str> = bypassed.iter().map(|&p| name(p)).collect();
        format!(
            "never reached {} (seen only at {}); {} otherwise: ",
            missed.join(" nor "),
            list(&seen),
            verdict.name()
        )
    });
    Judgement {
        verdict: Verdict::Bypassed,
        path_verdict: verdict,
        bypassed: bypassed.into(),
    }
}

/// "hub-nva was not capturing then: its capture ended 03:40:42.891" (on the point's own
/// clock).
fn put_uncovered(out: &mut impl Sentence, u: &Uncovered, names: &[String]) {
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
                // to the address of a point that was not capturing: NAT by that point
                let by = c
                    .uncovered
                    .iter()
                    .find(|u| r.nat.source && u.crossed_as == Some(r.nat.to.ip))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::{ConvPoint, Nat};
    use crate::flow::Endpoint;

    fn ep(s: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: s.parse().unwrap(),
            port,
        }
    }

    /// A point's share of a conversation: packets each way, forwarded each way.
    fn at(point: usize, packets: [u64; 2], forwarded: [u64; 2]) -> ConvPoint {
        ConvPoint::for_test(point, packets, forwarded)
    }

    fn hop(point: usize) -> Hop {
        Hop::for_test(point)
    }

    /// A UDP conversation 10.0.1.4:4000 -> 10.0.2.4:53 with these points and paths.
    fn udp(points: Vec<ConvPoint>, fwd: &[usize], rev: &[usize]) -> Conversation {
        Conversation::udp_for_test(points, fwd, rev)
    }

    fn names() -> Vec<String> {
        ["client", "nva", "server"].map(String::from).to_vec()
    }

    #[test]
    fn counts_are_written_as_display_writes_them() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX] {
            let mut s = String::new();
            put_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        let plural = |n, what| {
            let mut s = String::new();
            put_plural(&mut s, n, what);
            s
        };
        assert_eq!(plural(1, "echo replies"), "1 echo reply");
        assert_eq!(plural(1, "requests"), "1 request");
        assert_eq!(plural(0, "replies"), "0 replies");
        assert_eq!(plural(3, "client packets"), "3 client packets");
    }

    #[test]
    fn paths_compare_by_point_names() {
        let names = names();
        let hops = |v: &[usize]| v.iter().map(|&p| hop(p)).collect::<Vec<_>>();
        let (a, b, c, d) = (
            hops(&[0, 1, 2]),
            hops(&[2, 1, 0]),
            hops(&[0, 0, 2]),
            hops(&[0, 2, 2]),
        );
        let path = |h: &'static [Hop]| Path {
            hops: h,
            names: &names,
        };
        let (a, b, c, d) = (a.leak(), b.leak(), c.leak(), d.leak());
        assert!(path(a).same_points(&path(b)) && path(b).reverse_of(&path(a)));
        assert!(!path(a).reverse_of(&path(a)));
        // as many times each: a set is not enough
        assert!(!path(c).same_points(&path(d)));
        let mut s = String::new();
        path(a).put(&mut s, ", ", |n| n != "nva");
        assert_eq!(s, "client, server");
        let unknown = [hop(7)];
        assert_eq!(
            Path {
                hops: &unknown,
                names: &names
            }
            .name(0),
            "?"
        );
    }

    #[test]
    fn reasons_say_what_each_point_saw() {
        let names = names();
        let reason = |c: &Conversation| super::reason(c, &names, &[]);
        let one = udp(vec![at(0, [1, 1], [0, 0])], &[0], &[0]);
        assert_eq!(reason(&one), "1 request and 1 reply both seen here");
        let three = |p: [u64; 2]| vec![at(0, p, [0, 0]), at(1, p, p), at(2, p, [0, 0])];
        let back = udp(three([2, 2]), &[0, 1, 2], &[2, 1, 0]);
        assert_eq!(
            reason(&back),
            "both directions crossed client -> nva -> server and back; nva forwarded it"
        );
        let mut asym = udp(
            vec![
                at(0, [2, 2], [0, 0]),
                at(1, [2, 0], [2, 0]),
                at(2, [2, 2], [0, 0]),
            ],
            &[0, 1, 2],
            &[2, 0],
        );
        asym.points[1].nat = vec![Nat {
            source: true,
            from: ep("10.0.1.4", 4000),
            to: ep("10.0.0.68", 4000),
        }]
        .into();
        let j = judge_with(&asym, &names, &[]);
        assert_eq!(j.verdict, Verdict::Asymmetric);
        assert_eq!(
            super::reason(&asym, &names, &[]),
            "requests went client -> nva -> server; replies went server -> client directly: nva \
             saw only the requests; nva forwarded the requests with NAT 10.0.1.4 -> 10.0.0.68"
        );
        let mut lost = udp(
            vec![at(0, [3, 0], [0, 0]), at(1, [3, 0], [0, 0])],
            &[0, 1],
            &[],
        );
        lost.losses = vec![Loss::After { dir: 0, point: 1 }].into();
        assert_eq!(
            reason(&lost),
            "3 requests seen at client -> nva, no reply anywhere; requests lost after nva (seen \
             arriving at nva, never leaving it: a stateful NVA dropping asymmetric traffic looks \
             exactly like this)"
        );
        let mut synack = udp(vec![at(2, [0, 2], [0, 0])], &[], &[2]);
        synack.ip_proto = 6;
        synack.points[0].synack = true;
        let j = judge_with(&synack, &names, &[1]);
        assert_eq!(j.verdict, Verdict::Bypassed);
        assert_eq!(j.path_verdict, Verdict::Asymmetric);
        assert_eq!(&j.bypassed[..], &[1]);
        assert_eq!(
            super::reason(&synack, &names, &[1]),
            "never reached nva (seen only at server); asymmetric otherwise: 2 server packets \
             (SYN-ACKs) without the client's SYN: the requests took another path"
        );
        // judging without the sentence judges the same
        for (c, via) in [
            (&one, &[][..]),
            (&back, &[]),
            (&asym, &[]),
            (&lost, &[]),
            (&synack, &[1]),
        ] {
            let mut sentence = String::new();
            let written = judge_into(c, &names, via, &mut sentence);
            assert_eq!(judge_with(c, &names, via), written, "{sentence}");
        }
    }

    #[test]
    fn replies_alone_at_the_clients_own_point_are_one_way() {
        let names = names();
        // replies server -> nva -> client, nothing from the client anywhere
        let replies = |forwarded_at_client: u64, hosts_client: bool| {
            let mut c = udp(
                vec![
                    at(0, [0, 2], [0, forwarded_at_client]),
                    at(1, [0, 4], [0, 2]),
                    at(2, [0, 2], [0, 0]),
                ],
                &[],
                &[2, 1, 0],
            );
            c.points[0].hosts_client = hosts_client;
            c.route[1][1].forwarded = true;
            c.route[1][2].forwarded = forwarded_at_client > 0;
            c
        };
        let own = replies(0, true);
        assert_eq!(judge_with(&own, &names, &[]).verdict, Verdict::Incomplete);
        assert_eq!(
            super::reason(&own, &names, &[]),
            "2 replies and no request at server, nva, client; client, the client's own point, \
             saw nothing from the client: one-way traffic, or requests sent before the captures \
             began; nva forwarded the replies"
        );
        // a point not known to host the client, or one that forwarded the replies on (an NVA
        // whose own traffic made it look like the client's host), proves nothing: the
        // requests may have taken another path
        for c in [replies(0, false), replies(2, true)] {
            let j = judge_with(&c, &names, &[]);
            assert_eq!(j.verdict, Verdict::Asymmetric);
            assert!(super::reason(&c, &names, &[]).contains("took another path"));
        }
        // TCP says which packets were missing
        let mut tcp = replies(0, true);
        tcp.ip_proto = 6;
        tcp.points[1].synack = true;
        assert_eq!(judge_with(&tcp, &names, &[]).verdict, Verdict::Incomplete);
        assert!(super::reason(&tcp, &names, &[])
            .starts_with("2 server packets and no client packet at server, nva, client; client,"));
        // at one point too: a capture on the client that holds only replies
        let mut alone = udp(vec![at(0, [0, 3], [0, 0])], &[], &[0]);
        alone.points[0].hosts_client = true;
        assert_eq!(judge_with(&alone, &names, &[]).verdict, Verdict::Incomplete);
        let mut sentence = String::new();
        assert_eq!(
            judge_into(&alone, &names, &[], &mut sentence).verdict,
            Verdict::Incomplete
        );
        assert_eq!(
            sentence,
            "3 replies and no request; client, the client's own point, saw nothing from the \
             client: one-way traffic, or requests sent before the captures began"
        );
    }
}
