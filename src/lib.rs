//! flowcheck: rebuild the ICMP, TCP and UDP conversations seen at one or several capture
//! points of a network and judge whether each took a symmetric path.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! ```text
//! capture   files -> Frame            (pcap / pcapng / gzip, streaming)
//! decode    Frame -> Packet           (link layers, tunnels, IP, TCP/UDP/ICMP)
//! flow      Packet -> per-point flows (bidirectional, TCP history, echo pairing, forwarding)
//! correlate flows of all points -> Conversations (NAT legs joined, same packet across points)
//! verdict   Conversation -> Verdict + evidence sentence
//! report    Analysis -> terminal text | JSON
//! ```
pub mod capture;
pub mod decode;
pub mod flow;
pub mod hash;
pub mod correlate;
pub mod point;
pub mod report;
pub mod verdict;

use point::{PointInput, ReadOptions};
use report::Analysis;

/// Runs the whole pipeline on the given capture points.
pub fn analyse(inputs: &[PointInput], opts: &ReadOptions) -> Analysis {
    let points = point::analyse_points(inputs, opts);
    let conversations = correlate::correlate(&points);
    let names: Vec<String> = points.iter().map(|p| p.summary.name.clone()).collect();
    let conversations = conversations
        .into_iter()
        .map(|c| {
            let j = verdict::judge(&c, &names);
            (c, j)
        })
        .collect();
    Analysis {
        points,
        conversations,
    }
}
