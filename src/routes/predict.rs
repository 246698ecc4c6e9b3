//! The walk: each direction of a conversation routed hop by hop as Azure would.
//!
//! A direction starts at the NIC of the point hosting its sender (or at the gateway, for a
//! sender behind it: an address in a `VirtualNetworkGateway` route's prefix) and takes the
//! route [`lookup`](super::lookup) picks there:
//! - `VnetLocal` / `VNetPeering`: delivered to the point hosting the destination (if that
//!   point undoes a NAT flowcheck saw it apply, the packet goes on from there: a source-NATed
//!   reply is addressed to the appliance itself);
//! - `VirtualAppliance IP`: to the point hosting IP, which routes it by its own table after
//!   the NAT it applied; `VirtualApplianceEcmp`: every next hop is tried, the path the packets
//!   took is kept if one matches, and the decision lists the possible ones;
//! - `VirtualNetworkGateway`: to the gateway, a hop named `gateway` that is no capture point:
//!   GatewaySubnet's route table over Azure's system routes (the hub's own space and its
//!   peerings, and the prefixes behind the gateway, delivered over the tunnel);
//! - `Internet`: leaves; `None`, or no route: dropped.
//!
//! A hop without a table, or an appliance no point is known to host, ends the walk as
//! unknown (never guessed); a walk longer than [`MAX_HOPS`] decisions is a loop. Which point
//! hosts an address comes from correlation (a point's own packets: see
//! [`crate::correlate`]'s hosts), from the source NAT a point applied (it rewrote to its own
//! address), and from `--host POINT=IP`, which wins.

use std::net::IpAddr;

use super::gateway::behind_gateway;
use super::hosts::Hosts;
use super::model::{At, ConvRouting, Decision, DirRouting, End, Observed, Routing};
use super::{lookup, NextHop, Prefix, RouteSet, TableOwner};
use crate::correlate::{Conversation, Dir, NatSide, RewriteAt};
use crate::verdict::Judgement;

/// True for an address the internet routes: not private, shared, link-local, loopback,
/// documentation, unique-local or multicast.
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [x, y, ..] = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.is_documentation()
                || (x == 100 && (64..128).contains(&y)))
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && a.segments()[1] == 0x0db8)
        }
    }
}

/// Most routing decisions on one direction's way: past this it is a loop.
pub const MAX_HOPS: usize = 16;

/// Most ECMP alternatives followed for one direction (ECMP routes in series multiply them).
pub const MAX_BRANCHES: usize = 32;

/// Predicts one conversation (see the module docs) and writes its sentences.
pub fn predict(
    r: &Routing,
    behind: &[Prefix],
    names: &[String],
    expect_via: &[usize],
    o: &Observed,
) -> ConvRouting {
    let net = Net {
        r,
        names,
        behind,
        c: o,
        branches: std::cell::Cell::new(MAX_BRANCHES),
    };
    let dirs = net.conversation();
    let (explanation, fix) = super::explain::sentences(r, o, &dirs, names, expect_via);
    ConvRouting {
        dirs,
        explanation,
        fix,
    }
}

/// Runs the routing stage: hosts, the gateway's table, then every conversation's two walks.
pub fn route_all(
    convs: &[(Conversation, Judgement)],
    names: &[String],
    expect_via: &[usize],
    set: RouteSet,
    given_hosts: &[(String, IpAddr)],
) -> Routing {
    let mut notes = Vec::new();
    let mut given = Vec::new();
    for (p, ip) in given_hosts {
        match names.iter().position(|n| n == p) {
            Some(i) => given.push((i, *ip)),
            None => notes.push(format!("--host {p}={ip}: no capture point named {p}")),
        }
    }
    for t in set.unused(names) {
        let file = t.file.as_deref().unwrap_or_default();
        notes.push(match &t.owner {
            TableOwner::Subnets(s) => format!(
                "{file}: a route table of subnet {}, which no capture point is named after: not used (name its point with --routes POINT={file})",
                s.join(", ")
            ),
            _ => format!("{file}: names no capture point: not used"),
        });
    }
    let hosts = Hosts::learn(convs, &given);
    let mut routing = Routing::new(set, names, hosts);
    routing.notes = notes;
    let behind = behind_gateway(&routing.tables);
    let conversations = convs
        .iter()
        .map(|(c, _)| Observed::of(c).map(|o| predict(&routing, &behind, names, expect_via, &o)))
        .collect();
    routing.conversations = conversations;
    routing
}

/// One conversation's walks.
struct Net<'a> {
    r: &'a Routing,
    names: &'a [String],
    behind: &'a [Prefix],
    c: &'a Observed<'a>,
    /// ECMP alternatives still allowed for the direction being walked.
    branches: std::cell::Cell<usize>,
}

/// A walk in progress.
#[derive(Clone)]
struct Leg {
    path: Vec<usize>,
    decisions: Vec<Decision>,
    end: End,
}

impl Leg {
    fn visit(&mut self, p: usize) {
        if self.path.last() != Some(&p) {
            self.path.push(p);
        }
    }
}

impl Net<'_> {
    fn conversation(&self) -> [DirRouting; 2] {
        let c = self.c;
        let fwd = self.direction(0, c.client, c.server);
        // the replies: from the server as the requests reached it, to the client as the
        // server saw it (after the NAT of the requests)
        let (mut src, mut dst) = (c.server, c.client);
        for r in c.rewrites.iter().filter(|r| r.dir == Dir::Forward) {
            if r.nat.side == NatSide::Source && r.nat.from.ip == dst {
                dst = r.nat.to.ip;
            } else if r.nat.side == NatSide::Destination && r.nat.from.ip == src {
                src = r.nat.to.ip;
            }
        }
        let rev = match fwd.end {
            // an internet server answers from outside: no route table applies to traffic
            // coming in from the internet, it reaches the client's NIC straight
            End::Internet if public(c.server) => {
                let path: Vec<usize> = self.r.hosts.get(dst).into_iter().collect();
                self.fixed(1, path, End::FromInternet)
            }
            // a private address out on the internet, or dropped: nobody answers
            End::Internet | End::Dropped | End::NoRoute => self.fixed(1, Vec::new(), End::NotSent),
            _ => self.direction(1, src, dst),
        };
        [fwd, rev]
    }

    /// A direction whose path needs no walk.
    fn fixed(&self, dir: u8, path: Vec<usize>, end: End) -> DirRouting {
        DirRouting {
            agrees: self.seen_as(dir, &path) == self.observed(dir),
            path,
            decisions: Vec::new(),
            end,
        }
    }

    /// A predicted path as the captures could have seen it: sorted, once each, without the
    /// points that could not see this direction ([`Observed::unseen`]).
    fn seen_as(&self, dir: u8, path: &[usize]) -> Vec<usize> {
        let unseen = &self.c.unseen[usize::from(dir)];
        let mut p: Vec<usize> = path
            .iter()
            .copied()
            .filter(|h| !unseen.contains(h))
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    fn observed(&self, dir: u8) -> Vec<usize> {
        let mut v = self.c.paths[usize::from(dir)].clone();
        v.sort_unstable();
        v
    }

    fn direction(&self, dir: u8, src: IpAddr, dst: IpAddr) -> DirRouting {
        self.branches.set(MAX_BRANCHES);
        let observed = self.observed(dir);
        let mut leg = Leg {
            path: Vec::new(),
            decisions: Vec::new(),
            end: End::Loop,
        };
        let host = self.r.hosts.get(src);
        if let Some(h) = host {
            leg.visit(h);
        }
        let behind = self.behind.iter().any(|p| p.contains(src));
        let has_table = |h: usize| self.r.point_tables.get(h).copied().flatten().is_some();
        let start = match (host, behind) {
            (Some(h), _) if has_table(h) => Ok(At::Point(h)),
            // the VPN client: its traffic enters through the gateway
            (_, true) => Ok(At::Gateway),
            (Some(h), false) => Err(format!("{} has no route table", self.name(h))),
            (None, false) => Err(format!(
                "no capture point is known to host {src} (--host POINT={src})"
            )),
        };
        let mut legs = match start {
            Ok(at) => self.step(dir, at, dst, leg),
            Err(why) => {
                leg.end = End::Unknown(why);
                vec![leg]
            }
        };
        let same = |l: &Leg| self.seen_as(dir, &l.path) == observed;
        // ECMP: the possibility the packets took, else the first
        let chosen = legs.iter().position(same).unwrap_or(0);
        let leg = legs.swap_remove(chosen);
        DirRouting {
            agrees: same(&leg),
            path: leg.path,
            decisions: leg.decisions,
            end: leg.end,
        }
    }

    fn name(&self, p: usize) -> &str {
        self.names.get(p).map_or("?", String::as_str)
    }

    /// Walks from `at` towards `dst`; several legs when an ECMP route offered several next
    /// hops.
    fn step(&self, dir: u8, mut at: At, mut dst: IpAddr, mut leg: Leg) -> Vec<Leg> {
        loop {
            if leg.decisions.len() >= MAX_HOPS {
                leg.end = End::Loop;
                return vec![leg];
            }
            let table = match at {
                At::Point(p) => self.r.point_tables.get(p).copied().flatten(),
                At::Gateway => self.r.gateway,
            };
            let Some(t) = table else {
                leg.end = End::Unknown(match at {
                    At::Point(p) => format!("{} has no route table", self.name(p)),
                    At::Gateway => "the gateway's routes are unknown (no GatewaySubnet route \
                                    table, and no hub NIC's table to infer its system routes from)"
                        .into(),
                });
                return vec![leg];
            };
            let Some(ri) = lookup(&self.r.tables[t].routes, dst) else {
                leg.end = End::NoRoute;
                return vec![leg];
            };
            let route = &self.r.tables[t].routes[ri];
            let mut d = Decision {
                at,
                table: t,
                route: ri,
                dst,
                next_hop_ip: route.next_hop_ips.first().copied(),
                possible: Vec::new(),
            };
            if leg
                .decisions
                .iter()
                .any(|o| (o.at, o.table, o.route, o.dst) == (at, t, ri, dst))
            {
                leg.end = End::Loop;
                return vec![leg];
            }
            match route.next_hop {
                NextHop::VnetLocal | NextHop::VNetPeering => {
                    d.next_hop_ip = None;
                    leg.decisions.push(d);
                    match self.deliver(dir, dst, &mut leg) {
                        Some((p, to)) => (at, dst) = (At::Point(p), to),
                        None => return vec![leg],
                    }
                }
                NextHop::VirtualNetworkGateway => {
                    leg.decisions.push(d);
                    if at == At::Gateway {
                        // over the tunnel, to the address behind the gateway
                        match self.deliver(dir, dst, &mut leg) {
                            Some((p, to)) => (at, dst) = (At::Point(p), to),
                            None => return vec![leg],
                        }
                    } else {
                        at = At::Gateway;
                    }
                }
                NextHop::VirtualAppliance | NextHop::VirtualApplianceEcmp => {
                    return self.via_appliances(dir, d, &route.next_hop_ips, dst, leg);
                }
                NextHop::Internet | NextHop::None => {
                    d.next_hop_ip = None;
                    leg.decisions.push(d);
                    leg.end = if route.next_hop == NextHop::Internet {
                        End::Internet
                    } else {
                        End::Dropped
                    };
                    return vec![leg];
                }
            }
        }
    }

    /// Sends the packet to each appliance `ips` offers (one leg each, at most
    /// [`MAX_BRANCHES`] alternatives per direction; the decision lists them all when there are
    /// several), to be routed there by the appliance's own table.
    fn via_appliances(
        &self,
        dir: u8,
        mut d: Decision,
        ips: &[IpAddr],
        dst: IpAddr,
        leg: Leg,
    ) -> Vec<Leg> {
        if ips.len() > 1 {
            d.possible = ips.to_vec();
        }
        let mut out = Vec::new();
        for (k, &ip) in ips.iter().enumerate() {
            if k > 0 {
                match self.branches.get() {
                    0 => break,
                    n => self.branches.set(n - 1),
                }
            }
            let mut l = leg.clone();
            let mut d = d.clone();
            d.next_hop_ip = Some(ip);
            l.decisions.push(d);
            match self.r.hosts.get(ip) {
                None => {
                    l.end = End::Unknown(format!(
                        "no capture point is known to host the appliance {ip} (--host POINT={ip})"
                    ));
                    out.push(l);
                }
                Some(h) => {
                    l.visit(h);
                    let to = self.nat(dir, h, dst);
                    out.extend(self.step(dir, At::Point(h), to, l));
                }
            }
        }
        if out.is_empty() {
            let mut l = leg;
            l.decisions.push(d);
            l.end = End::Unknown("the appliance route names no next hop address".into());
            out.push(l);
        }
        out
    }

    /// Delivers `dst` to its host; Some((host, new destination)) when the host undoes a NAT
    /// and the packet goes on from there.
    fn deliver(&self, dir: u8, dst: IpAddr, leg: &mut Leg) -> Option<(usize, IpAddr)> {
        let Some(h) = self.r.hosts.get(dst) else {
            leg.end = End::Delivered(None);
            return None;
        };
        leg.visit(h);
        let to = self.nat(dir, h, dst);
        if to != dst {
            Some((h, to))
        } else {
            leg.end = End::Delivered(Some(h));
            None
        }
    }

    /// The destination after point `p`'s NAT of direction `dir`: a destination rewrite seen
    /// there, or the inverse of the other direction's source rewrite there. A source rewritten
    /// between two other points to an address `p` hosts was `p`'s too: the packets crossed it
    /// while its capture did not see them (see `Uncovered::crossed_as`).
    fn nat(&self, dir: u8, p: usize, dst: IpAddr) -> IpAddr {
        for r in self.c.rewrites.iter() {
            let by_p = match r.at {
                RewriteAt::Point(q) => q == p,
                RewriteAt::Between(..) => {
                    r.nat.side == NatSide::Source && self.r.hosts.get(r.nat.to.ip) == Some(p)
                }
            };
            if !by_p {
                continue;
            }
            if r.dir.index() == usize::from(dir)
                && r.nat.side == NatSide::Destination
                && r.nat.from.ip == dst
            {
                return r.nat.to.ip;
            }
            if r.dir.index() != usize::from(dir)
                && r.nat.side == NatSide::Source
                && r.nat.to.ip == dst
            {
                return r.nat.from.ip;
            }
        }
        dst
    }
}
