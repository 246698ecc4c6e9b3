//! Step 1 of building a conversation: who the client is. The joins between the members
//! (same flow key, forwarding link, matched pair) say which direction of one flow is which
//! of another; the flow that tells the client best (a SYN, an echo request, ...) orients the
//! others through them. Flows that are the NAT-rewritten (leaving) side of a forward are not
//! how the client knows the conversation: the client's view is another member, preferably
//! at the point hosting the client.

use std::collections::BTreeMap;

use super::rewrites::push_unique;
use super::Context;
use crate::correlate::model::{Nat, NatSide};
use crate::correlate::nodes::FlowRef;
use crate::flow::{FlowKey, Link, Orientation};

/// Buffers of this step; `client_dir` is its result: per member, the direction of its flow
/// the client sends in.
#[derive(Default)]
pub(super) struct Scratch {
    /// (member, other member, directions flipped), both ways, sorted by member.
    edges: Vec<(usize, usize, bool)>,
    pub(super) client_dir: Vec<Option<usize>>,
    stack: Vec<usize>,
}

/// What orienting found, besides each member's direction.
pub(super) struct Oriented {
    /// The member that tells the client best.
    pub(super) root: usize,
    /// The member whose key names the client and server as the client knows them.
    pub(super) view: usize,
    /// True when a matched pair joined the flows with TCP sequence numbers rewritten.
    pub(super) seq_rewritten: bool,
}

/// How well an orientation tells the client.
fn strength(o: Orientation) -> u8 {
    match o {
        Orientation::Syn | Orientation::EchoRequest => 3,
        Orientation::SynAck | Orientation::EchoReply => 2,
        Orientation::Port => 1,
        Orientation::First | Orientation::Lower => 0,
    }
}

impl Context<'_> {
    /// Orients every member (in `s.client_dir`); the NAT of the forwarding links in the
    /// client's direction goes to `nats`, by point.
    pub(super) fn orient(
        &self,
        s: &mut Scratch,
        members: &[FlowRef],
        nats: &mut BTreeMap<usize, Vec<Nat>>,
    ) -> Oriented {
        s.client_dir.clear();
        match members {
            // one flow that starts no forwarding link (by far the most common): nothing to
            // join, it is the root and the client's view
            [m] if self.links_from(m).is_empty() => {
                s.client_dir.push(Some(self.flow(m).originator().0));
                Oriented {
                    root: 0,
                    view: 0,
                    seq_rewritten: false,
                }
            }
            _ => {
                let seq_rewritten = self.joins(&mut s.edges, members);
                let root = self.orient_from_root(s, members);
                let view = self.client_view(&s.client_dir, members, nats, root);
                Oriented {
                    root,
                    view,
                    seq_rewritten,
                }
            }
        }
    }

    /// The joins between members (sorted by (point, flow)), as (member, other member,
    /// directions flipped), both ways, grouped by member, in `edges`. Returns true when a
    /// join is a pair matched with TCP sequence numbers rewritten.
    fn joins(&self, edges: &mut Vec<(usize, usize, bool)>, members: &[FlowRef]) -> bool {
        let mut seq_rewritten = false;
        let index = |m: &FlowRef| members.binary_search(m).ok();
        edges.clear();
        let mut by_key: BTreeMap<FlowKey, usize> = BTreeMap::new();
        let mut join = |i: usize, j: usize, flip: bool| {
            edges.push((i, j, flip));
            edges.push((j, i, flip));
        };
        for (i, m) in members.iter().enumerate() {
            let key = self.flow(m).key;
            let same = if members.len() <= 16 {
                members[..i].iter().position(|o| self.flow(o).key == key)
            } else {
                by_key.get(&key).copied()
            };
            match same {
                Some(j) => join(i, j, false),
                None => {
                    if members.len() > 16 {
                        by_key.insert(key, i);
                    }
                }
            }
            for &li in self.links_from(m) {
                let l: &Link = &self.points[m.point].links[li];
                if let Some(j) = index(&FlowRef {
                    point: m.point,
                    flow: l.to,
                }) {
                    join(i, j, l.from_dir != l.to_dir);
                }
            }
            let node = self.nodes.id(m.point, m.flow);
            for &pi in self.groups.pairs_from.get(node) {
                let (p, _) = &self.pairs[pi];
                if let Some(j) = index(&self.nodes.flow_ref(p.b)) {
                    join(i, j, p.flip);
                    seq_rewritten |= p.seq_rewritten;
                }
            }
        }
        edges.sort_unstable();
        seq_rewritten
    }

    /// The member that tells the client best (strongest orientation, then earliest, then
    /// first), and every member oriented from it through the joins (members no join reaches
    /// by their own originator). Returns the root.
    fn orient_from_root(&self, s: &mut Scratch, members: &[FlowRef]) -> usize {
        let Scratch {
            edges,
            client_dir,
            stack,
        } = s;
        let adjacent = |i: usize| {
            let lo = edges.partition_point(|e| e.0 < i);
            let hi = edges.partition_point(|e| e.0 <= i);
            &edges[lo..hi]
        };
        let root = (0..members.len())
            .max_by_key(|&i| {
                let f = self.flow(&members[i]);
                (
                    strength(f.originator().1),
                    std::cmp::Reverse(self.align(members[i].point, f.first_ts)),
                    std::cmp::Reverse(i),
                )
            })
            .unwrap_or(0);
        client_dir.resize(members.len(), None);
        stack.clear();
        for start in std::iter::once(root).chain(0..members.len()) {
            if client_dir[start].is_some() {
                continue;
            }
            client_dir[start] = Some(self.flow(&members[start]).originator().0);
            stack.push(start);
            while let Some(i) = stack.pop() {
                let d = client_dir[i].unwrap_or(0);
                for &(_, j, flip) in adjacent(i) {
                    if client_dir[j].is_none() {
                        client_dir[j] = Some(if flip { 1 - d } else { d });
                        stack.push(j);
                    }
                }
            }
        }
        root
    }

    /// The client's view: the member that is not the NAT-rewritten (leaving) side of a
    /// forward-direction link, at the point hosting the client if any, earliest (`root` when
    /// none is). The NAT of those links goes to `nats`.
    fn client_view(
        &self,
        client_dir: &[Option<usize>],
        members: &[FlowRef],
        nats: &mut BTreeMap<usize, Vec<Nat>>,
        root: usize,
    ) -> usize {
        let cdir = |i: usize| client_dir[i].unwrap_or(0);
        let mut post_nat: std::collections::HashSet<FlowRef, crate::hash::FastState> =
            Default::default();
        for (i, m) in members.iter().enumerate() {
            for &li in self.links_from(m) {
                let l = &self.points[m.point].links[li];
                if cdir(i) != l.from_dir as usize {
                    continue;
                }
                post_nat.insert(FlowRef {
                    point: m.point,
                    flow: l.to,
                });
                let list = nats.entry(m.point).or_default();
                let sides = [
                    (NatSide::Source, l.before.0, l.after.0),
                    (NatSide::Destination, l.before.1, l.after.1),
                ];
                for (side, from, to) in sides {
                    if from != to {
                        push_unique(list, Nat { side, from, to });
                    }
                }
            }
        }
        (0..members.len())
            .filter(|&i| !post_nat.contains(&members[i]))
            .min_by_key(|&i| {
                let m = &members[i];
                let f = self.flow(m);
                let at_client = self.host(m, cdir(i)) == Some(m.point);
                (!at_client, self.align(m.point, f.first_ts), m.point, m.flow)
            })
            .unwrap_or(root)
    }
}
