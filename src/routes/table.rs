//! Longest-prefix match as Azure does it: among the `Active` routes whose prefix holds the
//! address, the longest prefix wins; on a tie, User over BGP / VirtualNetworkGateway over
//! Default ([`RouteSource::rank`](super::RouteSource::rank)); on a tie of both, the first in
//! the file.

use std::net::IpAddr;

use super::Route;

/// The route `dst` takes, by index into `routes`.
pub fn lookup(routes: &[Route], dst: IpAddr) -> Option<usize> {
    let mut best: Option<(usize, &Route)> = None;
    for (i, r) in routes.iter().enumerate() {
        if !r.active || !r.prefix.contains(dst) {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) => {
                r.prefix.len > b.prefix.len
                    || (r.prefix.len == b.prefix.len && r.source.rank() < b.source.rank())
            }
        };
        if better {
            best = Some((i, r));
        }
    }
    best.map(|(i, _)| i)
}
