//! The VPN / ExpressRoute gateway's table: GatewaySubnet's route table (if given) over
//! Azure's system routes, which flowcheck infers from the NICs' tables.

use super::{NextHop, Prefix, Route, RouteSet, RouteSource, RouteTable, TableOwner};

/// The prefixes behind the gateway: those of every active `VirtualNetworkGateway` route.
pub fn behind_gateway(tables: &[RouteTable]) -> Vec<Prefix> {
    let mut v: Vec<Prefix> = Vec::new();
    for t in tables.iter().filter(|t| t.owner != TableOwner::Gateway) {
        for r in &t.routes {
            if r.active && r.next_hop == NextHop::VirtualNetworkGateway && !v.contains(&r.prefix) {
                v.push(r.prefix);
            }
        }
    }
    v
}

/// The tables with the gateway's effective one: GatewaySubnet's user routes (if given) over
/// the system routes, inferred from the hub NIC's table (the table whose own and peered
/// prefixes hold the most other tables' own prefixes) and the prefixes behind the gateway.
pub(super) fn with_gateway(set: RouteSet) -> (Vec<RouteTable>, Option<usize>, bool) {
    let mut tables = set.tables;
    let udr = tables.iter().position(|t| t.owner == TableOwner::Gateway);
    let nics: Vec<&RouteTable> = tables
        .iter()
        .filter(|t| matches!(t.owner, TableOwner::Point(_)))
        .collect();
    let local = |t: &RouteTable, peer: bool| -> Vec<Prefix> {
        t.routes
            .iter()
            .filter(|r| {
                r.active
                    && (r.next_hop == NextHop::VnetLocal
                        || (peer && r.next_hop == NextHop::VNetPeering))
            })
            .map(|r| r.prefix)
            .collect()
    };
    let hub = nics
        .iter()
        .map(|t| {
            let reach = local(t, true);
            let covered = nics
                .iter()
                .filter(|o| {
                    let own = local(o, false);
                    !own.is_empty() && own.iter().all(|p| reach.contains(p))
                })
                .count();
            (covered, reach.len(), *t)
        })
        .filter(|&(covered, _, _)| covered > 0)
        // the first of equals (max_by_key keeps the last)
        .rev()
        .max_by_key(|&(covered, reach, _)| (covered, reach))
        .map(|(_, _, t)| t);
    let mut system: Vec<Route> = hub
        .map(|t| {
            t.routes
                .iter()
                .filter(|r| {
                    r.active && matches!(r.next_hop, NextHop::VnetLocal | NextHop::VNetPeering)
                })
                .map(|r| Route {
                    source: RouteSource::Default,
                    name: None,
                    system: true,
                    ..r.clone()
                })
                .collect()
        })
        .unwrap_or_default();
    for p in behind_gateway(&tables) {
        system.push(Route {
            source: RouteSource::VirtualNetworkGateway,
            active: true,
            prefix: p,
            next_hop: NextHop::VirtualNetworkGateway,
            next_hop_ips: Vec::new(),
            name: None,
            system: true,
        });
    }
    if hub.is_none() && udr.is_none() {
        return (tables, None, false);
    }
    match udr {
        Some(i) => {
            tables[i].routes.extend(system);
            (tables, Some(i), true)
        }
        None => {
            tables.push(RouteTable {
                file: None,
                owner: TableOwner::Gateway,
                routes: system,
            });
            let i = tables.len() - 1;
            (tables, Some(i), false)
        }
    }
}
