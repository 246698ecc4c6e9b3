//! Which capture point hosts each address: the points correlation found sending the
//! address's own packets (see [`crate::correlate`]), the address a point source-NATed to (its
//! own), and `--host POINT=IP`, which wins.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::correlate::{routable, Conversation, NatSide, RewriteAt};
use crate::verdict::Judgement;

/// Which capture point hosts each address.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    map: HashMap<IpAddr, usize>,
}

impl Hosts {
    /// Exactly these (address, point index) pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (IpAddr, usize)>) -> Hosts {
        Hosts {
            map: pairs.into_iter().collect(),
        }
    }
    pub fn get(&self, ip: IpAddr) -> Option<usize> {
        self.map.get(&ip).copied()
    }
    /// Addresses hosted by `point`, sorted.
    pub fn of(&self, point: usize) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .map
            .iter()
            .filter(|(_, &p)| p == point)
            .map(|(&ip, _)| ip)
            .collect();
        v.sort();
        v
    }

    /// Learns from the conversations (the points correlation found hosting their ends, the
    /// address a point source-NATed to), then applies `given` (`--host`, by point index).
    pub fn learn(convs: &[(Conversation, Judgement)], given: &[(usize, IpAddr)]) -> Hosts {
        let mut votes: HashMap<IpAddr, HashMap<usize, u64>> = HashMap::new();
        let mut vote = |ip: IpAddr, point: usize, n: u64| {
            if routable(&ip) {
                *votes.entry(ip).or_default().entry(point).or_default() += n.max(1);
            }
        };
        for (c, _) in convs {
            for p in &c.points {
                let n = p.total_packets();
                if p.hosts_client {
                    vote(c.client.ip, p.point, n);
                }
                if p.hosts_server {
                    vote(c.server.ip, p.point, n);
                }
            }
            for r in &c.rewrites {
                if let (RewriteAt::Point(p), NatSide::Source) = (r.at, r.nat.side) {
                    vote(r.nat.to.ip, p, 1);
                }
            }
        }
        let mut map: HashMap<IpAddr, usize> = votes
            .into_iter()
            .filter_map(|(ip, v)| {
                v.into_iter()
                    .max_by_key(|&(p, n)| (n, std::cmp::Reverse(p)))
                    .map(|(p, _)| (ip, p))
            })
            .collect();
        for &(p, ip) in given {
            map.insert(ip, p);
        }
        Hosts { map }
    }
}
