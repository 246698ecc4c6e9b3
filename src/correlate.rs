//! correlate: joins the flows of all capture points into conversations.
//!
//! A conversation is what the client started, whatever it looked like on the way. Flows join
//! one conversation when
//! - they have the same flow key at different points (no NAT in between), or
//! - a point forwarded one into the other (a [`Link`] from the flow stage: the same packet
//!   arrived as one flow and left, NAT-rewritten, as another), or
//! - the flow is an ICMP error quoting the conversation (it becomes a note on it).
//!
//! Every flow's direction is then oriented relative to the conversation's client: the
//! originator of the flow that tells it best (a SYN, an echo request, ...), carried to the
//! other flows through the links. The client and server are written as the client knows them,
//! before any NAT.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::flow::{Endpoint, Flow, FlowKey, KeyKind, Link, Orientation, TtlSet};
use crate::hash::FastMap;
use crate::point::PointResult;

/// A NAT rewrite applied by a forwarding point to the conversation's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nat {
    /// True when the source (client side) was rewritten, false for the destination.
    pub source: bool,
    pub from: Endpoint,
    pub to: Endpoint,
}

impl Nat {
    /// `10.100.201.4 -> 10.100.200.68` (with ports when they changed).
    pub fn describe(&self) -> String {
        if self.from.port != self.to.port {
            format!(
                "{} -> {}",
                crate::report::endpoint_text(&self.from, true),
                crate::report::endpoint_text(&self.to, true)
            )
        } else {
            format!("{} -> {}", self.from.ip, self.to.ip)
        }
    }
}

/// An ICMP error seen about a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpNote {
    pub point: usize,
    /// Who sent the error.
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub packets: u64,
}

/// A conversation as seen at one capture point. Index 0 of the pairs is the forward
/// direction (client to server), 1 the reverse.
#[derive(Debug, Clone, Default)]
pub struct ConvPoint {
    pub point: usize,
    /// Indices into that point's flows.
    pub flows: Vec<usize>,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub ttls: [TtlSet; 2],
    /// Packets this point forwarded (the leaving legs), per direction.
    pub forwarded: [u64; 2],
    /// NAT applied here to the forward direction.
    pub nat: Vec<Nat>,
    /// Zeek-style TCP history at this point (empty for other protocols).
    pub history: String,
    pub syn: bool,
    pub synack: bool,
    /// Data-carrying TCP segments or UDP payloads seen per direction.
    pub data: [bool; 2],
    pub echo_requests: u64,
    pub echo_replies: u64,
    pub retransmissions: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Time of the first packet in each direction (`i64::MAX` when none).
    pub dir_first_ts: [i64; 2],
}

impl ConvPoint {
    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }
    /// True when this point forwarded packets of the conversation.
    pub fn is_forwarder(&self) -> bool {
        self.forwarded[0] + self.forwarded[1] > 0 || !self.nat.is_empty()
    }
}

/// One conversation across all points.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub ip_proto: u8,
    pub kind: KeyKind,
    pub client: Endpoint,
    pub server: Endpoint,
    /// How the client was told from the server.
    pub orientation: Orientation,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Per point that saw it, in point order.
    pub points: Vec<ConvPoint>,
    pub icmp_errors: Vec<IcmpNote>,
    /// `decode::encap` bits of every packet.
    pub encap: u16,
}

impl Conversation {
    pub fn proto_name(&self) -> &'static str {
        crate::flow::proto_name(self.ip_proto)
    }
    /// True when the server address is multicast or broadcast: no reply is expected.
    pub fn to_group(&self) -> bool {
        match self.server.ip {
            IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
            IpAddr::V6(a) => a.is_multicast(),
        }
    }
    /// Packets in each direction over all points.
    pub fn packets(&self) -> [u64; 2] {
        let mut t = [0, 0];
        for p in &self.points {
            t[0] += p.packets[0];
            t[1] += p.packets[1];
        }
        t
    }
    /// The points that saw direction `dir` (0 forward, 1 reverse), in order of the first
    /// packet of that direction at each.
    pub fn path(&self, dir: usize) -> Vec<&ConvPoint> {
        let mut v: Vec<&ConvPoint> = self.points.iter().filter(|p| p.packets[dir] > 0).collect();
        v.sort_by_key(|p| (p.dir_first_ts[dir], p.point));
        v
    }
    pub fn forwarders(&self) -> impl Iterator<Item = &ConvPoint> {
        self.points.iter().filter(|p| p.is_forwarder())
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // the smaller id stays the root: groups are numbered by their first flow
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

fn strength(o: Orientation) -> u8 {
    match o {
        Orientation::Syn | Orientation::EchoRequest => 3,
        Orientation::SynAck | Orientation::EchoReply => 2,
        Orientation::Port => 1,
        Orientation::First | Orientation::Lower => 0,
    }
}

/// Builds the conversations from the points' flows. Conversations come in order of their
/// first packet.
pub fn correlate(points: &[PointResult]) -> Vec<Conversation> {
    // global node ids: (point, flow)
    let mut base = Vec::with_capacity(points.len());
    let mut n = 0usize;
    for p in points {
        base.push(n);
        n += p.flows.len();
    }
    let node = |pt: usize, f: usize| base[pt] + f;
    let mut uf = UnionFind((0..n).collect());
    let mut by_key: FastMap<FlowKey, usize> = FastMap::default();
    for (pi, p) in points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            let id = node(pi, fi);
            match by_key.get(&f.key) {
                Some(&other) => uf.union(other, id),
                None => {
                    by_key.insert(f.key, id);
                }
            }
        }
        for l in &p.links {
            uf.union(node(pi, l.from), node(pi, l.to));
        }
    }
    // ICMP errors whose quoted conversation is known join it as notes
    let mut error_of: FastMap<usize, usize> = FastMap::default();
    for (pi, p) in points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            if let Some(q) = f.quoted {
                if let Some(&target) = by_key.get(&q) {
                    error_of.insert(node(pi, fi), target);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (pi, p) in points.iter().enumerate() {
        for fi in 0..p.flows.len() {
            let id = node(pi, fi);
            if error_of.contains_key(&id) {
                continue;
            }
            groups.entry(uf.find(id)).or_default().push((pi, fi));
        }
    }
    let mut notes: FastMap<usize, Vec<IcmpNote>> = FastMap::default();
    for (&err, &target) in &error_of {
        let root = uf.find(target);
        let pi = base.partition_point(|&b| b <= err) - 1;
        let f = &points[pi].flows[err - base[pi]];
        if let KeyKind::Icmp { icmp_type, code } = f.key.kind {
            for dir in 0..2 {
                if f.packets[dir] > 0 {
                    notes.entry(root).or_default().push(IcmpNote {
                        point: pi,
                        from: f.key.sender(dir).ip,
                        v6: f.key.ip_proto == 58,
                        icmp_type,
                        code,
                        packets: f.packets[dir],
                    });
                }
            }
        }
    }
    // the links each flow takes part in, as (point, index into the point's links)
    let mut links_of: FastMap<(usize, usize), Vec<usize>> = FastMap::default();
    for (pi, p) in points.iter().enumerate() {
        for (li, l) in p.links.iter().enumerate() {
            links_of.entry((pi, l.from)).or_default().push(li);
            if l.to != l.from {
                links_of.entry((pi, l.to)).or_default().push(li);
            }
        }
    }
    let mut convs: Vec<Conversation> = groups
        .into_iter()
        .map(|(root, members)| {
            let mut c = build(points, &members, &links_of);
            c.icmp_errors = notes.remove(&root).unwrap_or_default();
            c.icmp_errors.sort_by_key(|n| (n.point, n.from));
            c
        })
        .collect();
    convs.sort_by_key(|c| c.first_ts);
    convs
}

/// Builds one conversation from its member flows.
fn build(
    points: &[PointResult],
    members: &[(usize, usize)],
    links_of: &FastMap<(usize, usize), Vec<usize>>,
) -> Conversation {
    let flow = |m: &(usize, usize)| -> &Flow { &points[m.0].flows[m.1] };
    let links = |m: &(usize, usize)| -> Vec<&Link> {
        links_of
            .get(m)
            .map(|v| v.iter().map(|&li| &points[m.0].links[li]).collect())
            .unwrap_or_default()
    };
    // 1. the flow that tells the client best
    let root = members
        .iter()
        .copied()
        .max_by_key(|m| {
            let f = flow(m);
            (strength(f.originator().1), std::cmp::Reverse(f.first_ts))
        })
        .unwrap_or((0, 0));
    // 2. orient every member: client_dir[m] = direction index of the forward direction
    let mut client_dir: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    client_dir.insert(root, flow(&root).originator().0);
    let root_key = flow(&root).key;
    // by key: flows with the same key share the orientation; by link: carried across
    let mut changed = true;
    let mut key_dir: FastMap<FlowKey, usize> = FastMap::default();
    key_dir.insert(root_key, client_dir[&root]);
    while changed {
        changed = false;
        for m in members {
            if client_dir.contains_key(m) {
                continue;
            }
            if let Some(&d) = key_dir.get(&flow(m).key) {
                client_dir.insert(*m, d);
                changed = true;
            }
        }
        for m in members {
            for l in links(m) {
                let (a, b) = ((m.0, l.from), (m.0, l.to));
                let (da, db) = (client_dir.get(&a).copied(), client_dir.get(&b).copied());
                match (da, db) {
                    (Some(d), None) if members.contains(&b) => {
                        // the arriving leg's direction in `from` is forward iff d == from_dir
                        let fwd = d == l.from_dir as usize;
                        let to_d = if fwd { l.to_dir as usize } else { 1 - l.to_dir as usize };
                        client_dir.insert(b, to_d);
                        key_dir.entry(flow(&b).key).or_insert(to_d);
                        changed = true;
                    }
                    (None, Some(d)) if members.contains(&a) => {
                        let fwd = d == l.to_dir as usize;
                        let from_d = if fwd {
                            l.from_dir as usize
                        } else {
                            1 - l.from_dir as usize
                        };
                        client_dir.insert(a, from_d);
                        key_dir.entry(flow(&a).key).or_insert(from_d);
                        changed = true;
                    }
                    _ => {}
                }
            }
        }
    }
    for m in members {
        client_dir.entry(*m).or_insert_with(|| flow(m).originator().0);
    }
    // 3. flows that are the NAT-rewritten (leaving) side of a forward-direction link are not
    //    how the client knows the conversation
    let mut post_nat: Vec<(usize, usize)> = Vec::new();
    let mut nats: BTreeMap<usize, Vec<Nat>> = BTreeMap::new();
    for m in members {
        for l in links(m).into_iter().filter(|l| l.from == m.1) {
            let forward = client_dir[m] == l.from_dir as usize;
            if !forward {
                continue;
            }
            post_nat.push((m.0, l.to));
            let list = nats.entry(m.0).or_default();
            if l.before.0 != l.after.0 {
                push_unique(list, Nat { source: true, from: l.before.0, to: l.after.0 });
            }
            if l.before.1 != l.after.1 {
                push_unique(list, Nat { source: false, from: l.before.1, to: l.after.1 });
            }
        }
    }
    let view = members
        .iter()
        .filter(|m| !post_nat.contains(m))
        .min_by_key(|m| (flow(m).first_ts, m.0))
        .copied()
        .unwrap_or(root);
    let vf = flow(&view);
    let vd = client_dir[&view];
    // 4. per point totals
    let mut per_point: BTreeMap<usize, ConvPoint> = BTreeMap::new();
    let mut encap = 0u16;
    let (mut first_ts, mut last_ts) = (i64::MAX, i64::MIN);
    for m in members {
        let f = flow(m);
        let d = client_dir[m];
        let cp = per_point.entry(m.0).or_insert_with(|| ConvPoint {
            point: m.0,
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            dir_first_ts: [i64::MAX; 2],
            ..ConvPoint::default()
        });
        cp.flows.push(m.1);
        for (i, dir) in [d, 1 - d].into_iter().enumerate() {
            cp.packets[i] += f.packets[dir];
            cp.bytes[i] += f.bytes[dir];
            cp.ttls[i].merge(&f.ttls[dir]);
            cp.forwarded[i] += f.forwarded[dir];
            cp.dir_first_ts[i] = cp.dir_first_ts[i].min(f.dir_first_ts[dir]);
            cp.data[i] |= f.history.has(b'D', dir) || f.history.has(b'T', dir);
        }
        if f.key.ip_proto == 17 {
            // UDP: every datagram carries data
            cp.data = [cp.packets[0] > 0, cp.packets[1] > 0];
        }
        cp.syn |= f.syn_seen(d);
        cp.synack |= f.synack_seen();
        cp.echo_requests += f.echo.requests;
        cp.echo_replies += f.echo.replies;
        cp.retransmissions += f.retransmissions[0] + f.retransmissions[1];
        if f.key.ip_proto == 6 && cp.history.is_empty() {
            cp.history = f.history.render(d);
        }
        cp.first_ts = cp.first_ts.min(f.first_ts);
        cp.last_ts = cp.last_ts.max(f.last_ts);
        first_ts = first_ts.min(f.first_ts);
        last_ts = last_ts.max(f.last_ts);
        encap |= f.encap;
    }
    for (pt, list) in nats {
        if let Some(cp) = per_point.get_mut(&pt) {
            cp.nat = list;
        }
    }
    Conversation {
        ip_proto: vf.key.ip_proto,
        kind: vf.key.kind,
        client: vf.key.sender(vd),
        server: vf.key.sender(1 - vd),
        orientation: flow(&root).originator().1,
        first_ts,
        last_ts,
        points: per_point.into_values().collect(),
        icmp_errors: Vec::new(),
        encap,
    }
}

fn push_unique(list: &mut Vec<Nat>, n: Nat) {
    if !list.contains(&n) {
        list.push(n);
    }
}

