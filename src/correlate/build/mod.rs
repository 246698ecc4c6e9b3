//! Building one conversation from its group of flows, step by step (one file per step):
//!
//! 1. [`orient`]: the joins between the members, the flow that tells the client best, every
//!    member oriented from it, the NAT of the forwarding links, and the client's view (the
//!    flow whose key names the client and the server as the client knows them);
//! 2. [`points`]: the totals at each capture point, and the [`Role`] of each point per
//!    direction (hosts the sender, transit, hosts the receiver);
//! 3. [`packets`]: the sampled sightings grouped into packets seen at several points, each
//!    packet's sightings in path order;
//! 4. [`route`]: the path of each direction, with TTLs and one-way delays;
//! 5. [`rewrites`]: the NAT rewrites seen on the packets and on the forwarding links, and the
//!    packet traces kept for the ladder;
//! 6. [`losses`]: the directions that vanished on the way;
//! 7. [`windows`]: the points that were not capturing while it ran, and the losses that
//!    explains away.
//!
//! [`Context::build_lone`] builds the most common conversation, one flow without samples or
//! forwarding links, the short way: step 1 is the flow's own originator, steps 3 and 5 have
//! nothing to do (no joins, no sightings, no links), and steps 2, 4 and 6 are their cores
//! (`add_member`, `Hop::at`, `losses`) for one point. It is the general path with the empty
//! work left out, and worth it: the 20,000 conversations of a one-point capture of the
//! benchmark generator (200,000 packets) took 20.2 M instructions to build this way and
//! 38.7 M through every step (callgrind, 2026-12-03). The test
//! `lone_flows_built_the_short_way_are_built_the_same` builds every capture set both ways.

mod losses;
mod orient;
mod packets;
mod points;
mod rewrites;
mod route;
mod windows;

use std::collections::BTreeMap;

use super::group::Groups;
use super::hosts::NO_HOST;
use super::model::{ConvPoint, Conversation, Hop, IcmpNote, Nat, Traces};
use super::nodes::{FlowRef, Nodes};
use super::pairs::Joined;
use crate::clock::Clocks;
use crate::decode::proto;
use crate::flow::{Endpoint, Flow, KeyKind, NO_FIRST_TS, NO_LAST_TS};
use crate::list::{OneOrVec, RareVec};
use crate::point::PointResult;

use orient::Oriented;
use points::Totals;

/// What building a conversation needs.
pub(super) struct Context<'a> {
    pub(super) points: &'a [PointResult],
    /// The addresses each point source-NATs to, its own (see
    /// [`nat_sources`](super::hosts::nat_sources)).
    pub(super) nat_sources: &'a [(std::net::IpAddr, usize)],
    pub(super) nodes: &'a Nodes<'a>,
    /// The groups' joins by node (forwarding links, matched pairs) and ICMP notes by root.
    pub(super) groups: &'a Groups,
    pub(super) pairs: &'a [Joined],
    pub(super) clocks: &'a Clocks,
    /// Per node, the points hosting the two addresses of its flow key (see
    /// [`hosts`](super::hosts::hosts)).
    pub(super) hosts: &'a [[u32; 2]],
    /// Build lone flows the short way (see [`Context::build_lone`]); off only to test that
    /// it changes nothing.
    pub(super) lone: bool,
    /// Keep each conversation's packet traces ([`Options::without_traces`] unset).
    ///
    /// [`Options::without_traces`]: super::Options::without_traces
    pub(super) traces: bool,
}

/// Buffers a worker reuses from one conversation to the next (one set per step), and its
/// share of the [`MatchSummary`](super::MatchSummary).
#[derive(Default)]
pub(super) struct Scratch {
    orient: orient::Scratch,
    /// The role of each point per direction (see [`points`]).
    roles: Vec<[Role; 2]>,
    packets: packets::Scratch,
    route: route::Scratch,
    /// The packets kept as traces: (first sighting, direction, sequence number), packet.
    kept: Vec<((i64, u8, u32), usize)>,
    pub(super) sampled_packets: u64,
    pub(super) matched_packets: u64,
}

/// What a capture point is to one direction of a conversation, in path order: the sender's
/// host comes first, transit points next, the receiver's host last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// The point hosts the sender of the direction.
    HostsSender,
    /// The point hosts neither end: the direction passes through.
    Transit,
    /// The point hosts the receiver of the direction.
    HostsReceiver,
}

/// A time of point `pt` on the aligned timeline (the "none" markers stay as they are).
#[inline]
pub(super) fn aligned(clocks: &Clocks, pt: usize, ts: i64) -> i64 {
    if ts == NO_FIRST_TS || ts == NO_LAST_TS {
        ts
    } else {
        clocks.align(pt, ts)
    }
}

/// True when every reply of the flow's conversation answers a packet of its own from the
/// client (ICMP echo, TCP's acknowledgements).
fn reply_per_request(key: &crate::flow::FlowKey) -> bool {
    matches!(key.kind, KeyKind::Echo { .. }) || key.ip_proto == proto::TCP
}

/// True when the flow kept packet samples (to follow across points).
fn sampled(f: &Flow) -> bool {
    f.samples
        .as_deref()
        .is_some_and(|s| s.iter().any(|d| !d.samples().is_empty()))
}

/// The endpoints of direction `dir` of a flow, with the echo identifier as port for ICMP
/// echo.
fn ends(f: &Flow, dir: usize) -> (Endpoint, Endpoint) {
    let (mut s, mut d) = (f.key.sender(dir), f.key.sender(1 - dir));
    if let KeyKind::Echo { id } = f.key.kind {
        s.port = id;
        d.port = id;
    }
    (s, d)
}

impl Context<'_> {
    fn flow(&self, m: &FlowRef) -> &Flow {
        &self.points[m.point].flows[m.flow]
    }

    /// A time of point `pt` on the aligned timeline (see [`aligned`]).
    fn align(&self, pt: usize, ts: i64) -> i64 {
        aligned(self.clocks, pt, ts)
    }

    /// The point hosting the sender of direction `dir` of a member's flow (`1 - dir`: the
    /// receiver), if any.
    fn host(&self, m: &FlowRef, dir: usize) -> Option<usize> {
        let h = self.hosts[self.nodes.id(m.point, m.flow)][dir];
        (h != NO_HOST).then_some(h as usize)
    }

    /// The role of a member's point for direction `dir` of its flow.
    fn role(&self, m: &FlowRef, dir: usize) -> Role {
        if self.host(m, dir) == Some(m.point) {
            Role::HostsSender
        } else if self.host(m, 1 - dir) == Some(m.point) {
            Role::HostsReceiver
        } else {
            Role::Transit
        }
    }

    fn links_from(&self, m: &FlowRef) -> &[usize] {
        self.groups.links_from.get(self.nodes.id(m.point, m.flow))
    }

    /// Builds one conversation from its member flows (sorted by point, then flow), the group
    /// of flows under `root_node`.
    pub(super) fn build(
        &self,
        s: &mut Scratch,
        members: &[FlowRef],
        root_node: usize,
    ) -> Conversation {
        match members {
            [m] if self.lone && self.links_from(m).is_empty() && !sampled(self.flow(m)) => {
                self.build_lone(m, root_node)
            }
            _ => self.build_general(s, members, root_node),
        }
    }

    /// [`build`](Self::build) for a conversation of one flow that starts no forwarding link
    /// and kept no packet samples (every flow of a single capture point is one): the same
    /// steps, with nothing to join, orient, follow across points or find rewritten.
    fn build_lone(&self, m: &FlowRef, root_node: usize) -> Conversation {
        let f = self.flow(m);
        let (d, orientation) = f.originator();
        let mut cp = ConvPoint::empty(m.point);
        let mut roles = [Role::HostsReceiver; 2];
        self.add_member(&mut cp, &mut roles, m, d);
        let route = [0, 1].map(|dir| {
            if cp.packets[dir] > 0 {
                OneOrVec::one(Hop::at(&cp, dir, None, None))
            } else {
                OneOrVec::new()
            }
        });
        let role_of = |pt: usize, dir: usize| {
            if pt == m.point {
                roles[dir]
            } else {
                Role::Transit
            }
        };
        let mut losses = self.losses(&route, std::slice::from_ref(m), |_| d, role_of, f);
        let last_ts = self.align(m.point, f.last_ts);
        let ends = [f.key.sender(d), f.key.sender(1 - d)];
        let uncovered = self.uncovered(
            ends,
            std::slice::from_ref(&cp),
            &route,
            windows::Seen {
                last_ts,
                rewrites: &[],
                reply_per_request: reply_per_request(&f.key),
            },
            &mut losses,
        );
        Conversation {
            ip_proto: f.key.ip_proto,
            kind: f.key.kind,
            client: f.key.sender(d),
            server: f.key.sender(1 - d),
            orientation,
            first_ts: self.align(m.point, f.first_ts),
            last_ts,
            points: OneOrVec::one(cp),
            icmp_errors: self.notes_of(root_node),
            encap: f.encap,
            route,
            rewrites: RareVec::new(),
            losses: losses.into(),
            uncovered: uncovered.into(),
            traces: Traces::default(),
            sampled_packets: 0,
            matched_packets: 0,
            seq_rewritten: false,
            link_group: f.link_group(d),
        }
    }

    /// The ICMP errors about the group under `root_node`.
    fn notes_of(&self, root_node: usize) -> RareVec<IcmpNote> {
        match self.groups.notes.get(&root_node) {
            Some(list) => list.clone().into(),
            None => RareVec::new(),
        }
    }

    /// [`build`](Self::build), every step (see the module docs).
    fn build_general(
        &self,
        s: &mut Scratch,
        members: &[FlowRef],
        root_node: usize,
    ) -> Conversation {
        // NAT of the forwarding links, by point
        let mut nats: BTreeMap<usize, Vec<Nat>> = BTreeMap::new();
        let Oriented {
            root,
            view,
            seq_rewritten,
        } = self.orient(&mut s.orient, members, &mut nats);
        let client_dir = &s.orient.client_dir;
        let cdir = |i: usize| client_dir[i].unwrap_or(0);
        let vf = self.flow(&members[view]);
        let vd = cdir(view);
        let Totals {
            points,
            first_ts,
            last_ts,
            encap,
            link_group,
        } = self.totals(members, cdir, &mut s.roles, nats);
        let roles = &s.roles;
        let role_of = |pt: usize, d: usize| {
            points
                .binary_search_by_key(&pt, |c| c.point)
                .ok()
                .map_or(Role::Transit, |i| roles[i][d])
        };
        let packets = self.packets(&mut s.packets, members, cdir);
        let route = [0, 1].map(|d| route::route(&mut s.route, d, &points, roles, &packets));
        let rewrites = rewrites::rewrites(&packets, &points);
        let traces = if self.traces {
            rewrites::traces(&packets, &mut s.kept)
        } else {
            Traces::default()
        };
        let mut losses = self.losses(&route, members, cdir, role_of, vf);
        let ends = [vf.key.sender(vd), vf.key.sender(1 - vd)];
        let seen = windows::Seen {
            last_ts,
            rewrites: &rewrites,
            reply_per_request: reply_per_request(&vf.key),
        };
        let uncovered = self.uncovered(ends, &points, &route, seen, &mut losses);
        Conversation {
            ip_proto: vf.key.ip_proto,
            kind: vf.key.kind,
            client: vf.key.sender(vd),
            server: vf.key.sender(1 - vd),
            orientation: self.flow(&members[root]).originator().1,
            first_ts,
            last_ts,
            points,
            icmp_errors: self.notes_of(root_node),
            encap,
            route,
            rewrites: rewrites.into(),
            losses: losses.into(),
            uncovered: uncovered.into(),
            traces,
            sampled_packets: packets.len() as u64,
            matched_packets: packets.matched(),
            seq_rewritten,
            link_group,
        }
    }
}
