//! Step 2 of building a conversation: what it looked like at each capture point (packets,
//! bytes, TTLs, forwards, TCP history, ... per direction of the client, [`ConvPoint`]), and
//! the [`Role`] of each point per direction: hosts the sender, transit, hosts the receiver
//! (the first in path order that any member there says).

use std::collections::BTreeMap;

use super::{Context, Role};
use crate::correlate::model::{ConvPoint, Nat};
use crate::correlate::nodes::FlowRef;
use crate::decode::proto;
use crate::flow::{NO_FIRST_TS, NO_LAST_TS};
use crate::list::OneOrVec;

/// The per-point totals of a conversation and its span.
pub(super) struct Totals {
    /// In point order.
    pub(super) points: OneOrVec<ConvPoint>,
    /// Aligned times.
    pub(super) first_ts: i64,
    pub(super) last_ts: i64,
    /// `decode::encap` bits of every packet.
    pub(super) encap: u16,
    /// A client packet was sent to a link-layer group address.
    pub(super) link_group: bool,
}

impl Context<'_> {
    /// The totals of the members (in point order) oriented by `cdir`, with the NAT of each
    /// point (`nats`); `roles` gets the role of each point per direction, in point order.
    pub(super) fn totals(
        &self,
        members: &[FlowRef],
        cdir: impl Fn(usize) -> usize,
        roles: &mut Vec<[Role; 2]>,
        nats: BTreeMap<usize, Vec<Nat>>,
    ) -> Totals {
        let n_points = 1 + members
            .windows(2)
            .filter(|w| w[0].point != w[1].point)
            .count();
        let mut per_point: OneOrVec<ConvPoint> = if n_points > 1 {
            OneOrVec::Many(Vec::with_capacity(n_points))
        } else {
            OneOrVec::new()
        };
        roles.clear();
        let mut encap = 0u16;
        let mut link_group = false;
        let (mut first_ts, mut last_ts) = (NO_FIRST_TS, NO_LAST_TS);
        for (i, m) in members.iter().enumerate() {
            let f = self.flow(m);
            if per_point.last().map(|c| c.point) != Some(m.point) {
                per_point.push(ConvPoint::empty(m.point));
                roles.push([Role::HostsReceiver; 2]);
            }
            let (Some(cp), Some(role)) = (per_point.last_mut(), roles.last_mut()) else {
                continue;
            };
            self.add_member(cp, role, m, cdir(i));
            first_ts = first_ts.min(self.align(m.point, f.first_ts));
            last_ts = last_ts.max(self.align(m.point, f.last_ts));
            encap |= f.encap;
            link_group |= f.link_group(cdir(i));
        }
        for (pt, list) in nats {
            if let Ok(i) = per_point.binary_search_by_key(&pt, |c| c.point) {
                per_point[i].nat = list.into();
            }
        }
        Totals {
            points: per_point,
            first_ts,
            last_ts,
            encap,
            link_group,
        }
    }

    /// Adds a member flow, oriented so that its direction `d` is the client's, to the
    /// conversation at its point; `role` is the role of that point per direction, moved up
    /// the path to what this flow says.
    pub(super) fn add_member(
        &self,
        cp: &mut ConvPoint,
        role: &mut [Role; 2],
        m: &FlowRef,
        d: usize,
    ) {
        let f = self.flow(m);
        cp.flows.push(m.flow);
        for (k, dir) in [d, 1 - d].into_iter().enumerate() {
            cp.packets[k] += f.packets[dir];
            cp.bytes[k] += f.bytes[dir];
            cp.ttls[k].merge(&f.ttls[dir]);
            cp.forwarded[k] += f.forwarded()[dir];
            cp.dir_first_ts[k] = cp.dir_first_ts[k].min(self.align(m.point, f.dir_first_ts[dir]));
            cp.data[k] |= f.history.has(b'D', dir) || f.history.has(b'T', dir);
            // the sender and the receiver of this direction
            let here = self.role(m, dir);
            role[k] = role[k].min(here);
            if k == 0 {
                cp.hosts_client |= here == Role::HostsSender;
                cp.hosts_server |= here == Role::HostsReceiver;
            }
        }
        if f.key.ip_proto == proto::UDP {
            // UDP: every datagram carries data
            cp.data = [cp.packets[0] > 0, cp.packets[1] > 0];
        }
        cp.syn |= f.syn_seen(d);
        cp.synack |= f.synack_seen();
        cp.echo_requests += f.echo.requests;
        cp.echo_replies += f.echo.replies;
        cp.retransmissions += f.retransmissions()[0] + f.retransmissions()[1];
        if f.key.ip_proto == proto::TCP && cp.history.is_empty() {
            cp.history = f.history.text(d);
        }
        cp.first_ts = cp.first_ts.min(self.align(m.point, f.first_ts));
        cp.last_ts = cp.last_ts.max(self.align(m.point, f.last_ts));
    }
}
