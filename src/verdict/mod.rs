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
//!
//! What lives where:
//! - here: [`Verdict`], [`Judgement`], the functions the pipeline and the reports call, and
//!   the words that name a conversation's two directions ([`direction_words`]);
//! - `judge.rs`: deciding, which case of [`Evidence`] a conversation is (no text, no
//!   allocation: every conversation is judged as it is built);
//! - `evidence.rs`: [`Evidence`], and the one place the sentence is written from it;
//! - `path.rs`: a direction's points by name (compared by the judge, listed by the sentence);
//! - `icmp.rs`: the names of ICMP errors.

mod evidence;
mod icmp;
mod judge;
mod path;

pub use evidence::{Evidence, OneWay, ReplyKind, Side};
pub use icmp::{icmp_error_name, icmp_error_text};

use crate::correlate::Conversation;
use crate::decode::proto;
use crate::flow::KeyKind;
use crate::list::RareVec;

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

/// A verdict and the evidence for it. The sentence that justifies it is written on demand
/// from the evidence by [`sentence`] or [`with_sentence`] (kept for every conversation, the
/// sentences would take more memory than the conversations' counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The verdict from the paths alone, before `--expect-via` (differs from `verdict` only
    /// when that is `Bypassed`); the one `evidence` gives.
    pub path_verdict: Verdict,
    /// Why: the case that gave `path_verdict`.
    pub evidence: Evidence,
    /// The `--expect-via` points the conversation never reached.
    pub bypassed: RareVec<usize>,
}

/// What the two directions of a conversation's packets are called, requests first ("echo
/// requests", "client packets", "requests"), in sentences and reports.
pub fn direction_words(c: &Conversation) -> [&'static str; 2] {
    match c.kind {
        KeyKind::Echo { .. } => ["echo requests", "echo replies"],
        _ if c.ip_proto == proto::TCP => ["client packets", "server packets"],
        _ => ["requests", "replies"],
    }
}

/// Writes a count of packets: `1 echo reply`, `2 echo replies` (`what` is the plural, as
/// [`direction_words`] gives it).
pub fn put_count(out: &mut String, n: u64, what: &str) {
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

/// `n` in decimal (what `{n}` prints, without the formatting machinery: every sentence has
/// one or two counts).
fn put_u64(out: &mut String, mut n: u64) {
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

/// Judges one conversation; `names` are the capture points' names, by index.
pub fn judge(c: &Conversation, names: &[String]) -> Judgement {
    judge_with(c, names, &[])
}

/// Judges one conversation; `expect_via` are points every unicast conversation should
/// cross (`--expect-via`): one never seen there is `Bypassed`. Builds no text.
pub fn judge_with(c: &Conversation, names: &[String], expect_via: &[usize]) -> Judgement {
    judge::judge(c, names, expect_via)
}

/// The sentence that justifies `j`, the judgement of `c` (`names` as they were judged with).
pub fn sentence(c: &Conversation, names: &[String], j: &Judgement) -> String {
    with_sentence(c, names, j, str::to_owned)
}

thread_local! {
    /// Where the sentences are written, reused.
    static SENTENCE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Calls `f` with the sentence [`sentence`] returns, written in a reused buffer (no
/// allocation per conversation).
pub fn with_sentence<R>(
    c: &Conversation,
    names: &[String],
    j: &Judgement,
    f: impl FnOnce(&str) -> R,
) -> R {
    SENTENCE.with_borrow_mut(|out| {
        out.clear();
        evidence::write_sentence(out, c, names, j);
        f(out)
    })
}

/// The sentence that justifies the verdict [`judge_with`] gives (same arguments). Judges
/// again: with the [`Judgement`] at hand, [`sentence`] does not.
pub fn reason(c: &Conversation, names: &[String], expect_via: &[usize]) -> String {
    with_reason(c, names, expect_via, str::to_owned)
}

/// Calls `f` with the sentence [`reason`] returns, written in a reused buffer (judges again:
/// with the [`Judgement`] at hand, [`with_sentence`] does not).
pub fn with_reason<R>(
    c: &Conversation,
    names: &[String],
    expect_via: &[usize],
    f: impl FnOnce(&str) -> R,
) -> R {
    with_sentence(c, names, &judge_with(c, names, expect_via), f)
}

#[cfg(test)]
mod tests;
