//! noise: traffic that is one-way by nature, told apart so that reports can fold it.
//!
//! IPv6 neighbour discovery, router discovery, MLD, multicast and broadcast expect no reply:
//! the verdict module judges them `incomplete` ("one-way by nature"). On a quiet lab they are
//! most of the conversations and bury the few that need a look, so the terminal summary and
//! the HTML report give them one line per kind ("IPv6 neighbour discovery: 23 conversations,
//! one-way by nature") and list them in full only when asked (`--limit 0`, `--json`).

use super::format::plural;
use crate::correlate::Conversation;
use crate::decode::proto;
use crate::flow::KeyKind;
use crate::verdict::{Judgement, Verdict};

/// A kind of traffic that is one-way by nature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Noise {
    /// ICMPv6 neighbour solicitation and advertisement, redirect (types 135 to 137).
    NeighbourDiscovery,
    /// ICMPv6 router solicitation and advertisement (133, 134).
    RouterDiscovery,
    /// Multicast listener queries and reports (ICMPv6 130 to 132, 143).
    Mld,
    /// Anything else sent to a multicast group (mDNS, SSDP, IGMP, ...).
    Multicast,
    /// Sent to an IPv4 broadcast address (DHCP, NetBIOS, ...).
    Broadcast,
    /// Sent to a unicast-looking IP address but a link-layer broadcast or multicast
    /// destination (a directed broadcast such as 192.168.1.255, told by its MAC).
    LinkGroup,
}

impl Noise {
    pub const ALL: [Noise; 6] = [
        Noise::NeighbourDiscovery,
        Noise::RouterDiscovery,
        Noise::Mld,
        Noise::Multicast,
        Noise::Broadcast,
        Noise::LinkGroup,
    ];

    /// What the kind is called in reports.
    pub fn label(self) -> &'static str {
        match self {
            Noise::NeighbourDiscovery => "IPv6 neighbour discovery",
            Noise::RouterDiscovery => "IPv6 router solicitations and advertisements",
            Noise::Mld => "MLD (IPv6 multicast listener reports)",
            Noise::Multicast => "other multicast",
            Noise::Broadcast => "broadcast",
            Noise::LinkGroup => "link-layer broadcast/multicast",
        }
    }

    /// The kind of an `incomplete` conversation that is one-way by nature; None for anything
    /// else (whatever is judged otherwise is never folded away).
    pub fn of(c: &Conversation, j: &Judgement) -> Option<Noise> {
        if j.verdict != Verdict::Incomplete {
            return None;
        }
        if c.ip_proto == proto::ICMPV6 {
            if let KeyKind::Icmp { icmp_type, .. } = c.kind {
                match icmp_type {
                    135..=137 => return Some(Noise::NeighbourDiscovery),
                    133 | 134 => return Some(Noise::RouterDiscovery),
                    130..=132 | 143 => return Some(Noise::Mld),
                    _ => {}
                }
            }
        }
        match c.server.ip {
            std::net::IpAddr::V4(a) if a.is_broadcast() => Some(Noise::Broadcast),
            ip if ip.is_multicast() => Some(Noise::Multicast),
            _ if c.link_group => Some(Noise::LinkGroup),
            _ => None,
        }
    }

    /// "IPv6 neighbour discovery: 23 conversations, one-way by nature".
    pub fn line(self, count: usize) -> String {
        format!(
            "{}: {}, one-way by nature",
            self.label(),
            plural(count as u64, "conversation", "conversations")
        )
    }
}

/// How many conversations of each kind, in [`Noise::ALL`] order, kinds with none left out.
pub fn counts<'a>(
    conversations: impl IntoIterator<Item = &'a (Conversation, Judgement)>,
) -> Vec<(Noise, usize)> {
    let mut n = [0usize; Noise::ALL.len()];
    for (c, j) in conversations {
        if let Some(k) = Noise::of(c, j) {
            n[k as usize] += 1;
        }
    }
    Noise::ALL
        .into_iter()
        .zip(n)
        .filter(|&(_, k)| k > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_stage0_is_mostly_neighbour_discovery_and_mld() {
        let inputs = crate::point::resolve_inputs(&[concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/captures/stage0"
        )])
        .unwrap();
        let a = crate::analyse(&inputs, &crate::point::ReadOptions::default());
        let counts = counts(&a.conversations);
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        let incomplete = a.count(Verdict::Incomplete);
        assert!(total > 0 && total <= incomplete, "{counts:?}");
        assert!(
            counts.iter().any(|(k, _)| *k == Noise::NeighbourDiscovery),
            "{counts:?}"
        );
        assert!(counts.iter().any(|(k, _)| *k == Noise::Mld), "{counts:?}");
        // nothing that was judged otherwise is noise
        for (c, j) in &a.conversations {
            if j.verdict != Verdict::Incomplete {
                assert_eq!(Noise::of(c, j), None);
            }
        }
        assert_eq!(
            Noise::Mld.line(1),
            "MLD (IPv6 multicast listener reports): 1 conversation, one-way by nature"
        );
    }
}
