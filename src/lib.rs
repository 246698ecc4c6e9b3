//! flowcheck: rebuild the ICMP, TCP and UDP conversations seen at one or several capture
//! points of a network and judge whether each took a symmetric path.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! ```text
//! capture   files -> Frame            (pcap / pcapng / gzip, streaming)
//! decode    Frame -> Packet           (link layers, tunnels, IP, TCP/UDP/ICMP)
//! flow      Packet -> per-point flows (bidirectional, TCP history, echo pairing, forwarding)
//! correlate flows of all points -> Conversations (NAT legs joined, same packet across points,
//!           clock offsets (clock), paths and losses)
//! coverage  what each point's capture missed (capture loss), clock claims
//! verdict   Conversation -> Judgement (verdict + evidence; the sentence written from it on demand)
//! routes    route tables + Conversations -> predicted path per direction, explanation, fix
//! report    Analysis -> terminal text | JSON
//! ```
//!
//! No unsafe code but two lines, each allowed where it stands with a SAFETY comment: the
//! cache prefetch hint (`hash::prefetch`) and the global allocator (`oom`).
#![deny(unsafe_code)]

pub mod capture;
pub mod clock;
pub mod correlate;
pub mod coverage;
pub mod decode;
pub mod filter;
pub mod flow;
pub mod hash;
pub mod list;
pub mod oom;
pub mod point;
pub mod report;
pub mod routes;
#[doc(hidden)]
pub mod testkit;
pub mod threads;
pub mod timings;
pub mod verdict;
pub mod window;

#[cfg(test)]
mod test_rng;

use point::{PointInput, ReadOptions};
use report::Analysis;

/// What to judge against, besides the captures.
#[derive(Debug, Clone, Default)]
pub struct AnalyseOptions {
    /// Take every capture point's clock as right (no offset estimation).
    pub assume_synced: bool,
    /// Names of the points every unicast conversation should cross (`--expect-via`);
    /// conversations never seen there are `bypassed`.
    pub expect_via: Vec<String>,
    /// Do not keep the packet traces that only the SVG pictures draw (see
    /// [`correlate::Options::without_traces`]): for runs that write no report.
    pub without_traces: bool,
    /// Route tables (`--routes`, a capture folder's `routes/`): each conversation's path is
    /// then predicted and explained (see [`routes`]).
    pub routes: Option<routes::RouteSet>,
    /// `--host POINT=IP`: the point that hosts an address, when the captures do not say.
    pub hosts: Vec<(String, std::net::IpAddr)>,
}

/// Runs the whole pipeline on the given capture points.
pub fn analyse(inputs: &[PointInput], opts: &ReadOptions) -> Analysis {
    analyse_with(inputs, opts, &AnalyseOptions::default())
}

/// Runs the whole pipeline with judging options. Packet samples for correlation are kept
/// when there is more than one point (or when `opts.samples` asks for them anyway).
pub fn analyse_with(inputs: &[PointInput], opts: &ReadOptions, aopts: &AnalyseOptions) -> Analysis {
    let mut ropts = opts.clone();
    ropts.samples |= inputs.len() > 1;
    let t0 = std::time::Instant::now();
    let mut points = point::analyse_points(inputs, &ropts);
    let t1 = std::time::Instant::now();
    let names: Vec<String> = points.iter().map(|p| p.summary.name.clone()).collect();
    let expect: Vec<usize> = aopts
        .expect_via
        .iter()
        .filter_map(|e| names.iter().position(|n| n == e))
        .collect();
    // each conversation is judged as soon as it is built, on the core that built it
    let corr = correlate::correlate_judged(
        &points,
        &correlate::Options {
            assume_synced: aopts.assume_synced,
            without_traces: aopts.without_traces,
        },
        |c| verdict::judge_with(c, &names, &expect),
    );
    let loss = coverage::capture_loss(&points, &corr.clocks, &corr.conversations);
    for (p, l) in points.iter_mut().zip(loss) {
        p.summary.capture_loss = l;
    }
    timings::print(format_args!(
        "read {}, correlate and judge {}",
        timings::secs(t1 - t0),
        timings::secs(t1.elapsed())
    ));
    // routing runs after judging, as its own stage
    let routing = aopts
        .routes
        .clone()
        .map(|set| routes::route_all(&corr.conversations, &names, &expect, set, &aopts.hosts));
    Analysis {
        points,
        conversations: corr.conversations,
        clocks: corr.clocks,
        matches: corr.matches,
        expect_via: expect,
        routing,
        selection: report::Selection::default(),
    }
}
