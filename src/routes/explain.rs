//! The sentences: which route decided each direction's path, whether the packets agree, and
//! for an asymmetry through an appliance (or a path that bypasses an `--expect-via` point)
//! the route that would send the other direction through it.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::model::{At, Decision, DirRouting, End, Observed, Routing};
use super::{NextHop, RouteSource};

/// `(explanation, fix)` of one conversation.
pub(super) fn sentences(
    r: &Routing,
    c: &Observed,
    dirs: &[DirRouting; 2],
    names: &[String],
    expect_via: &[usize],
) -> (String, Option<String>) {
    let words = ["requests", "replies"];
    let mut s = String::new();
    let unknown = |d: &DirRouting| matches!(d.end, End::Unknown(_));
    let disagree: Vec<usize> = (0..2)
        .filter(|&i| !dirs[i].agrees && !unknown(&dirs[i]))
        .collect();
    if !disagree.is_empty() {
        s.push_str("the route tables and the packets disagree: ");
        for (k, &i) in disagree.iter().enumerate() {
            if k > 0 {
                s.push_str("; ");
            }
            disagreement(&mut s, words[i], &dirs[i].path, &observed(c, i), names);
        }
        s.push_str(". ");
    } else if dirs.iter().any(unknown) {
        s.push_str("the route tables do not tell the whole way: ");
    } else if same_points(&dirs[0].path, &dirs[1].path) {
        s.push_str("the route tables predict the paths the packets took: ");
    } else {
        s.push_str("the route tables make the paths asymmetric, as the packets show: ");
    }
    for (i, d) in dirs.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let nominal = if i == 0 { c.server } else { c.client };
        let _ = write!(s, "{}: {}", words[i], chain(r, d, nominal, names));
    }
    let bypass = bypassing(dirs, expect_via);
    for &(i, e) in &bypass {
        if let Some(d) = dirs[i].decisions.first() {
            let _ = write!(
                s,
                "; the {} bypass {} because of {}",
                words[i],
                nm(names, e),
                describe(r, d, names)
            );
        }
    }
    // the routes stand when the packets only stopped early on the predicted way
    let routes_stand = dirs
        .iter()
        .enumerate()
        .all(|(i, d)| d.agrees || stopped_early(&observed(c, i), &d.path));
    let fix = if routes_stand {
        fix(r, dirs, &bypass, names)
    } else {
        None
    };
    (s, fix)
}

/// `the routes send the replies a -> b -> c but the packets went a -> b, ...`.
fn disagreement(s: &mut String, word: &str, predicted: &[usize], seen: &[usize], names: &[String]) {
    let _ = write!(
        s,
        "the routes send the {word} {} but the packets went {}",
        path_text(predicted, names),
        path_text(seen, names)
    );
    if stopped_early(seen, predicted) {
        let _ = write!(
            s,
            ", stopping at {} where the routes send them on to {} (an appliance dropping them: \
             a stateful firewall that saw only one direction?)",
            nm(names, seen[seen.len() - 1]),
            nm(names, predicted[seen.len()])
        );
    } else {
        s.push_str(" (route tables stale or not applied, or an appliance not forwarding)");
    }
}

/// The capture points that saw direction `i`, in path order.
fn observed(c: &Observed, i: usize) -> Vec<usize> {
    c.paths[i].clone()
}

/// The packets went the predicted way but stopped before its end.
fn stopped_early(seen: &[usize], predicted: &[usize]) -> bool {
    !seen.is_empty() && seen.len() < predicted.len() && predicted.starts_with(seen)
}

/// A point's name.
fn nm(names: &[String], p: usize) -> &str {
    names.get(p).map_or("?", String::as_str)
}

/// `a -> b -> c`, or `nowhere`.
fn path_text(path: &[usize], names: &[String]) -> String {
    if path.is_empty() {
        return "nowhere".into();
    }
    path.iter()
        .map(|&p| nm(names, p))
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn same_points(a: &[usize], b: &[usize]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The decisions of one direction, and how it ended.
fn chain(r: &Routing, d: &DirRouting, nominal: IpAddr, names: &[String]) -> String {
    let mut s = d
        .decisions
        .iter()
        .map(|x| {
            let mut s = describe(r, x, names);
            if x.dst != nominal {
                let _ = write!(s, " for {} (the address NAT gave it)", x.dst);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", then ");
    let sep = if s.is_empty() { "" } else { "; " };
    match &d.end {
        End::Delivered(_) => {}
        End::Internet => s.push_str(", out to the internet"),
        End::Dropped => s.push_str(", dropped"),
        End::NoRoute => {
            let at = d
                .decisions
                .last()
                .map_or(String::new(), |x| at_text(x.at, names));
            let _ = write!(s, "{sep}no route{at}: dropped");
        }
        End::Unknown(why) if s.is_empty() => {
            let _ = write!(s, "unknown: {why}");
        }
        End::Unknown(why) => {
            let _ = write!(s, "; then unknown: {why}");
        }
        End::Loop => {
            let _ = write!(s, "{sep}a routing loop");
        }
        End::NotSent => s.push_str("none: the requests do not reach the server"),
        End::FromInternet => s.push_str(
            "in from the internet, straight to the client's NIC (no route table applies to \
             traffic from the internet)",
        ),
    }
    s
}

fn at_text(at: At, names: &[String]) -> String {
    match at {
        At::Point(p) => format!(" at {}", nm(names, p)),
        At::Gateway => " at the gateway".into(),
    }
}

/// `spoke1-vm's route 0.0.0.0/0 -> VirtualAppliance 10.100.200.68 (User)`.
pub(super) fn describe(r: &Routing, d: &Decision, names: &[String]) -> String {
    let route = r.route(d);
    let mut hop = route.next_hop.name().to_string();
    if route.next_hop.is_appliance() {
        if let Some(ip) = d.next_hop_ip {
            let _ = write!(hop, " {ip}");
        }
    }
    let source = match route.source {
        RouteSource::VirtualNetworkGateway => {
            "VirtualNetworkGateway: propagated from the gateway".to_string()
        }
        s => s.name().to_string(),
    };
    let mut s = match d.at {
        At::Point(p) => format!(
            "{}'s route {} -> {hop} ({source})",
            nm(names, p),
            route.prefix
        ),
        At::Gateway if route.system => {
            let kind = match route.next_hop {
                NextHop::VNetPeering => "VNet peering",
                NextHop::VnetLocal => "the hub's own address space",
                _ => "behind the gateway",
            };
            let why = if r.gateway_file {
                "a system route: GatewaySubnet's route table has none for it"
            } else {
                "no route table on GatewaySubnet"
            };
            format!("the gateway's route to {} ({kind}, {why})", route.prefix)
        }
        At::Gateway => format!(
            "the gateway's route {} -> {hop} ({source}, GatewaySubnet's route table)",
            route.prefix
        ),
    };
    if d.possible.len() > 1 {
        let all: Vec<String> = d
            .possible
            .iter()
            .map(|ip| match r.hosts.get(*ip) {
                Some(p) => format!("{ip} ({})", nm(names, p)),
                None => format!("{ip} (no capture point known)"),
            })
            .collect();
        let _ = write!(s, " [ECMP: possible next hops {}]", all.join(", "));
    }
    s
}

/// `(direction, expect_via point)` for each direction whose predicted path misses an
/// `--expect-via` point (directions that reach no capture point are left out).
fn bypassing(dirs: &[DirRouting; 2], expect_via: &[usize]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for &e in expect_via {
        for (i, d) in dirs.iter().enumerate() {
            if !d.path.is_empty() && !d.path.contains(&e) && matches!(d.end, End::Delivered(_)) {
                v.push((i, e));
            }
        }
    }
    v
}

/// The appliance one direction goes through and the other does not (or the `--expect-via`
/// point bypassed), and the route that would send the other through it: added where that
/// direction's first decision was taken, for the prefix it matched.
fn fix(
    r: &Routing,
    dirs: &[DirRouting; 2],
    bypass: &[(usize, usize)],
    names: &[String],
) -> Option<String> {
    let appliance = |d: &DirRouting| {
        d.decisions
            .iter()
            .find(|x| r.route(x).next_hop.is_appliance())
            .and_then(|x| x.next_hop_ip)
    };
    let mut wanted: Vec<(usize, IpAddr)> = Vec::new();
    // an appliance one direction crosses and the other does not: a source-NATed reply
    // addressed to the appliance itself reaches it without an appliance route
    let misses = |i: usize, ip: IpAddr| {
        delivered(&dirs[i])
            && match r.hosts.get(ip) {
                Some(h) => !dirs[i].path.contains(&h),
                None => !same_points(&dirs[0].path, &dirs[1].path),
            }
    };
    match (appliance(&dirs[0]), appliance(&dirs[1])) {
        (Some(ip), None) if misses(1, ip) => wanted.push((1, ip)),
        (None, Some(ip)) if misses(0, ip) => wanted.push((0, ip)),
        _ => {}
    }
    for &(i, e) in bypass {
        let ip = appliance(&dirs[1 - i]).or_else(|| address_of(r, e));
        if let Some(ip) = ip {
            if !wanted.iter().any(|w| w.0 == i) {
                wanted.push((i, ip));
            }
        }
    }
    wanted.sort_unstable();
    let fixes: Vec<String> = wanted
        .iter()
        .filter_map(|&(i, ip)| {
            let d = dirs[i].decisions.first()?;
            let route = r.route(d);
            let table = match d.at {
                At::Gateway => "GatewaySubnet's route table".to_string(),
                At::Point(p) => format!("the route table of {}'s subnet", nm(names, p)),
            };
            Some(format!(
                "add {} -> VirtualAppliance {ip} to {table}",
                route.prefix
            ))
        })
        .collect();
    (!fixes.is_empty()).then(|| fixes.join(", and "))
}

fn delivered(d: &DirRouting) -> bool {
    matches!(d.end, End::Delivered(_))
}

/// An address of point `p` that some route uses as an appliance, else any it hosts.
fn address_of(r: &Routing, p: usize) -> Option<IpAddr> {
    let own = r.hosts.of(p);
    let used = own.iter().copied().find(|ip| {
        r.tables
            .iter()
            .flat_map(|t| &t.routes)
            .any(|x| x.next_hop.is_appliance() && x.next_hop_ips.contains(ip))
    });
    used.or_else(|| own.first().copied())
}
