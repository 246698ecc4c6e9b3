//! Which flows are one conversation: every flow of every point is a node ([`Nodes`]); the
//! joins (the same flow key at two points, a forwarding link at one point, a pair of flows
//! matched by their packets) merge nodes in a union-find; ICMP errors quoting a conversation
//! become notes on it instead of members. The result, [`Groups`], holds each group's member
//! flows and the per-node indexes building a conversation looks joins up in, flat
//! ([`Index`]: two allocations, not one per node).

use super::model::IcmpNote;
use super::nodes::{FlowRef, Nodes};
use super::pairs::Joined;
use crate::decode::proto;
use crate::flow::{FlowKey, KeyKind};
use crate::hash::FastMap;

/// The conversations-to-be, and what building each needs to find its joins.
pub(super) struct Groups {
    /// Per root node (the group's first flow), the members, sorted.
    pub(super) members: Index<FlowRef>,
    /// ICMP errors by group root.
    pub(super) notes: FastMap<usize, Vec<IcmpNote>>,
    /// Per node, the forwarding links (indices into its point's links) it is `from` of.
    pub(super) links_from: Index<usize>,
    /// Per node, the matched pairs (indices into the pairs) it is `a` of.
    pub(super) pairs_from: Index<usize>,
}

/// Joins the flows into groups: the same flow key at different points, forwarding links,
/// matched `pairs`; ICMP errors whose quoted conversation is known become its notes.
pub(super) fn join(nodes: &Nodes, pairs: &[Joined]) -> Groups {
    let points = nodes.points;
    let mut uf = UnionFind((0..nodes.n).collect());
    let by_key = union_same_keys(nodes, &mut uf);
    for (pi, p) in points.iter().enumerate() {
        for l in &p.links {
            uf.union(nodes.id(pi, l.from), nodes.id(pi, l.to));
        }
    }
    for (p, _) in pairs {
        uf.union(p.a, p.b);
    }
    // ICMP errors whose quoted conversation is known join it as notes
    let errors = quoted_targets(nodes, (points.len() > 1).then_some(&by_key));
    drop(by_key);
    let notes = notes(nodes, &errors, &mut uf);
    // the groups, flat: each flow under its root (the group's first flow), errors that
    // became notes under none
    let mut root_of = uf.into_roots();
    for &(err, _) in &errors {
        root_of[err] = usize::MAX;
    }
    let members: Index<FlowRef> = Index::new(nodes.n, || {
        root_of
            .iter()
            .enumerate()
            .filter(|(_, &r)| r != usize::MAX)
            .map(|(id, &r)| (r, nodes.flow_ref(id)))
    });
    drop(root_of);
    // the joins each flow starts: forwarding links (from it), matched pairs (it is `a` of)
    let links_from: Index<usize> = Index::new(nodes.n, || {
        points.iter().enumerate().flat_map(|(pi, p)| {
            p.links
                .iter()
                .enumerate()
                .map(move |(li, l)| (nodes.id(pi, l.from), li))
        })
    });
    let pairs_from: Index<usize> = Index::new(nodes.n, || {
        pairs.iter().enumerate().map(|(i, (p, _))| (p.a, i))
    });
    Groups {
        members,
        notes,
        links_from,
        pairs_from,
    }
}

/// Joins the flows with the same flow key at different points (the flows of one point have
/// distinct keys: its flow table is keyed by them). Returns each key's first flow (empty
/// with one point: nothing to join).
fn union_same_keys(nodes: &Nodes, uf: &mut UnionFind) -> FastMap<FlowKey, usize> {
    let mut by_key: FastMap<FlowKey, usize> = FastMap::default();
    if nodes.points.len() > 1 {
        by_key.reserve(nodes.n);
        for (pi, p) in nodes.points.iter().enumerate() {
            for (fi, f) in p.flows.iter().enumerate() {
                let id = nodes.id(pi, fi);
                match by_key.get(&f.key) {
                    Some(&other) => uf.union(other, id),
                    None => {
                        by_key.insert(f.key, id);
                    }
                }
            }
        }
    }
    by_key
}

/// The notes the ICMP `errors` (`(error, target)`) make on the groups of their targets, by
/// group root, each list by point and sender.
fn notes(
    nodes: &Nodes,
    errors: &[(usize, usize)],
    uf: &mut UnionFind,
) -> FastMap<usize, Vec<IcmpNote>> {
    let mut notes: FastMap<usize, Vec<IcmpNote>> = FastMap::default();
    for &(err, target) in errors {
        let root = uf.find(target);
        let (pi, fi) = nodes.locate(err);
        let f = &nodes.points[pi].flows[fi];
        if let KeyKind::Icmp { icmp_type, code } = f.key.kind {
            for dir in 0..2 {
                if f.packets[dir] > 0 {
                    notes.entry(root).or_default().push(IcmpNote {
                        point: pi,
                        from: f.key.sender(dir).ip,
                        v6: f.key.ip_proto == proto::ICMPV6,
                        icmp_type,
                        code,
                        packets: f.packets[dir],
                    });
                }
            }
        }
    }
    for list in notes.values_mut() {
        list.sort_by_key(|n| (n.point, n.from));
    }
    notes
}

/// Union-find over flow nodes: `find` with path halving, the smaller root wins a union.
pub(super) struct UnionFind(pub(super) Vec<usize>);

impl UnionFind {
    #[inline]
    pub(super) fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    #[inline]
    pub(super) fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // the smaller id stays the root: groups are numbered by their first flow
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
    /// The root of every element, in place. A parent is never above its child (the smaller
    /// root wins, halving only moves up), so in id order each parent's root is known.
    pub(super) fn into_roots(mut self) -> Vec<usize> {
        for x in 0..self.0.len() {
            let p = self.0[x];
            self.0[x] = self.0[p];
        }
        self.0
    }
}

/// The ICMP error flows whose quoted conversation is one of the flows, each with the first
/// flow (by node) of that key: `(error, target)` by error. `by_key` maps every key to its
/// first flow; without it (one point), the quoted keys are looked for among the flows.
pub(super) fn quoted_targets(
    nodes: &Nodes,
    by_key: Option<&FastMap<FlowKey, usize>>,
) -> Vec<(usize, usize)> {
    let mut quoted: Vec<(usize, FlowKey)> = Vec::new();
    for (pi, p) in nodes.points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            if let Some(q) = f.quoted.as_deref() {
                quoted.push((nodes.id(pi, fi), *q));
            }
        }
    }
    if quoted.is_empty() {
        return Vec::new();
    }
    let found: FastMap<FlowKey, usize>;
    let first = match by_key {
        Some(m) => m,
        None => {
            let mut wanted: FastMap<FlowKey, usize> =
                quoted.iter().map(|&(_, q)| (q, usize::MAX)).collect();
            for (pi, p) in nodes.points.iter().enumerate() {
                for (fi, f) in p.flows.iter().enumerate() {
                    if let Some(t) = wanted.get_mut(&f.key) {
                        if *t == usize::MAX {
                            *t = nodes.id(pi, fi);
                        }
                    }
                }
            }
            wanted.retain(|_, t| *t != usize::MAX);
            found = wanted;
            &found
        }
    };
    quoted
        .into_iter()
        .filter_map(|(id, q)| first.get(&q).map(|&t| (id, t)))
        .collect()
}

/// Values by key (keys below a bound), flat: what a map from each key to a `Vec` of its
/// values holds, in two allocations (the keys' ranges, the values) rather than one per key.
pub(super) struct Index<V> {
    /// `values[start[k]..start[k + 1]]` are the values of key `k`; empty when there are none
    /// at all.
    pub(super) start: Vec<usize>,
    values: Vec<V>,
}

impl<V: Copy + Default> Index<V> {
    /// Indexes the `(key, value)` pairs `entries()` yields, keys below `keys`; the values of
    /// a key keep the order they came in. `entries` is called twice (count, then place).
    pub(super) fn new<I: Iterator<Item = (usize, V)>>(
        keys: usize,
        entries: impl Fn() -> I,
    ) -> Index<V> {
        let mut start = vec![0usize; keys + 1];
        let mut total = 0;
        for (k, _) in entries() {
            start[k + 1] += 1;
            total += 1;
        }
        if total == 0 {
            return Index {
                start: Vec::new(),
                values: Vec::new(),
            };
        }
        for k in 0..keys {
            start[k + 1] += start[k];
        }
        // place each value at its key's cursor; the cursors end where the next key starts
        let mut values = vec![V::default(); total];
        for (k, v) in entries() {
            values[start[k]] = v;
            start[k] += 1;
        }
        start.copy_within(0..keys, 1);
        start[0] = 0;
        Index { start, values }
    }

    /// The values of key `k`, in the order they came in.
    #[inline]
    pub(super) fn get(&self, k: usize) -> &[V] {
        match (self.start.get(k), self.start.get(k + 1)) {
            (Some(&a), Some(&b)) => &self.values[a..b],
            _ => &[],
        }
    }
}
