//! Which capture point hosts each address: a point hosts an address when it captured
//! packets *from* it that it did not forward, with an initial TTL, and packets *to* it that
//! it did not forward (or it forwards nothing at all); of several, the one with the most such
//! packets. Found for every flow address at once by sorting one key per address (see
//! [`hosts`]), not with a map of counters.

use std::net::IpAddr;

use super::nodes::Nodes;
use crate::flow::{Flow, TtlSet};

/// TTLs a host starts packets with.
pub(super) fn initial_ttl(t: &TtlSet) -> bool {
    t.values()
        .last()
        .is_some_and(|&m| matches!(m, 32 | 64 | 128 | 255))
}

pub(super) fn special_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast() || a.is_unspecified(),
        IpAddr::V6(a) => a.is_multicast() || a.is_unspecified(),
    }
}

/// True for addresses routers forward: unicast, not link-local, unspecified or loopback.
pub fn routable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.is_loopback())
        }
        IpAddr::V6(a) => {
            !((a.segments()[0] & 0xffc0) == 0xfe80
                || a.is_multicast()
                || a.is_unspecified()
                || a.is_loopback())
        }
    }
}

/// The addresses each point source-NATs to, its own (a point's forwarding links that
/// rewrite the source say them): sorted (address, point) pairs, each once.
pub(super) fn nat_sources(points: &[crate::point::PointResult]) -> Vec<(IpAddr, usize)> {
    let mut v: Vec<(IpAddr, usize)> = points
        .iter()
        .enumerate()
        .flat_map(|(pt, p)| {
            p.links
                .iter()
                .filter(|l| l.before.0.ip != l.after.0.ip)
                .map(move |l| (l.after.0.ip, pt))
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// No capture point hosts the address (see [`hosts`]).
pub(super) const NO_HOST: u32 = u32::MAX;

/// Packets of each direction of a flow that its point neither forwarded nor saw leave (none
/// for an ICMP error: it says nothing about who hosts its addresses).
fn own_packets(f: &Flow) -> [u64; 2] {
    if f.quoted.is_some() {
        [0, 0]
    } else {
        [0, 1].map(|d| f.packets[d].saturating_sub(f.forwarded()[d] + f.forwarded_in()[d]))
    }
}

/// Which capture point hosts each address (see the module docs), for both addresses of
/// every flow: `[lo, hi]` of its key by node, [`NO_HOST`] for none.
///
/// One sort key per flow address: the address, then `slot << 2 | sent << 1 | received`
/// (`slot` is `node * 2 + side`, side 0 the key's `lo`, 1 its `hi`; the bits say whether the
/// flow has packets from the address with an initial TTL, and to it, that its point did not
/// forward). Sorted, the keys of an address are adjacent and in point order (nodes are
/// numbered point by point). Packets are counted, from the flows, only when two points
/// could host an address (the most wins).
pub(super) fn hosts(nodes: &Nodes) -> Vec<[u32; 2]> {
    let n = nodes.n;
    // IPv4 in one word while the slots fit in 30 bits; IPv6 (and IPv4 past that) wider
    let narrow = (n as u64) < 1 << 29;
    let mut v4: Vec<u64> = Vec::with_capacity(if narrow { 2 * n } else { 0 });
    let mut wide: Vec<(bool, u128, u64)> = Vec::new();
    for (pi, p) in nodes.points.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            let node = nodes.id(pi, fi);
            let own = own_packets(f);
            for side in 0..2 {
                let sent = own[side] > 0 && initial_ttl(&f.ttls[side]);
                let received = own[1 - side] > 0;
                let low =
                    ((node * 2 + side) as u64) << 2 | u64::from(sent) << 1 | u64::from(received);
                match f.key.sender(side).ip {
                    IpAddr::V4(a) if narrow => v4.push(u64::from(u32::from(a)) << 32 | low),
                    IpAddr::V4(a) => wide.push((false, u128::from(u32::from(a)), low)),
                    IpAddr::V6(a) => wide.push((true, u128::from(a), low)),
                }
            }
        }
    }
    let mut out = vec![[NO_HOST; 2]; n];
    v4.sort_unstable();
    host_runs(
        nodes,
        &v4,
        |a, b| a >> 32 == b >> 32,
        |k| IpAddr::V4(((k >> 32) as u32).into()),
        |k| k & 0xffff_ffff,
        &mut out,
    );
    drop(v4);
    wide.sort_unstable();
    host_runs(
        nodes,
        &wide,
        |a, b| (a.0, a.1) == (b.0, b.1),
        |k| {
            if k.0 {
                IpAddr::V6(k.1.into())
            } else {
                IpAddr::V4((k.1 as u32).into())
            }
        },
        |k| k.2,
        &mut out,
    );
    out
}

/// Decides the host of every address of the sorted `keys` (see [`hosts`]) and writes it to
/// the slots of its keys. A point hosts an address when its flows have packets from it and
/// (or the point forwards nothing) to it; of several, the one with the most such packets,
/// then the first.
fn host_runs<K>(
    nodes: &Nodes,
    keys: &[K],
    same_addr: impl Fn(&K, &K) -> bool,
    ip: impl Fn(&K) -> IpAddr,
    low: impl Fn(&K) -> u64,
    out: &mut [[u32; 2]],
) {
    let slot = |k: &K| (low(k) >> 2) as usize;
    let point = |k: &K| nodes.point_of[slot(k) / 2] as usize;
    // whether the point of these keys (of one address) could host the address
    let could = |at: &[K]| {
        let sent = at.iter().any(|k| low(k) & 2 != 0);
        let received = at.iter().any(|k| low(k) & 1 != 0);
        let forwards = nodes.points[point(&at[0])].summary.forwarded_packets > 0;
        sent && (received || !forwards)
    };
    for run in keys.chunk_by(|a, b| same_addr(a, b)) {
        let host = if special_address(&ip(&run[0])) {
            None
        } else {
            let mut hosting = run
                .chunk_by(|a, b| point(a) == point(b))
                .filter(|at| could(at));
            match (hosting.next(), hosting.next()) {
                (Some(at), None) => Some(point(&at[0])),
                (None, _) => None,
                (Some(_), Some(_)) => {
                    // the most packets from and to it, then the first point (points come
                    // in order: the first of equals stays)
                    let mut best: Option<(u64, usize)> = None;
                    for at in run
                        .chunk_by(|a, b| point(a) == point(b))
                        .filter(|at| could(at))
                    {
                        let packets: u64 = at
                            .iter()
                            .map(|k| {
                                let (pi, fi) = nodes.locate(slot(k) / 2);
                                let f = &nodes.points[pi].flows[fi];
                                let (side, own) = (slot(k) % 2, own_packets(f));
                                let sent = if initial_ttl(&f.ttls[side]) {
                                    own[side]
                                } else {
                                    0
                                };
                                sent + own[1 - side]
                            })
                            .sum();
                        if best.is_none_or(|(most, _)| packets > most) {
                            best = Some((packets, point(&at[0])));
                        }
                    }
                    best.map(|(_, p)| p)
                }
            }
        };
        let host = host.map_or(NO_HOST, |p| p as u32);
        for k in run {
            out[slot(k) / 2][slot(k) % 2] = host;
        }
    }
}
