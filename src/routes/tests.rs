use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn route(source: RouteSource, active: bool, prefix: &str, hop: NextHop, ips: &[&str]) -> Route {
    Route {
        source,
        active,
        prefix: Prefix::parse(prefix).unwrap(),
        next_hop: hop,
        next_hop_ips: ips.iter().map(|s| ip(s)).collect(),
        name: Option::None,
        system: false,
    }
}

fn nic(point: &str, routes: Vec<Route>) -> RouteTable {
    RouteTable {
        file: Some(format!("{point}.json")),
        owner: TableOwner::Point(point.into()),
        routes,
    }
}

use NextHop::*;
use RouteSource::{Default as Sys, User, VirtualNetworkGateway as Gw};

#[test]
fn longest_prefix_wins_and_ties_go_to_user_then_gateway_then_default() {
    let routes = vec![
        route(Sys, true, "10.0.0.0/8", VNetPeering, &[]),
        route(Sys, true, "10.1.0.0/16", VnetLocal, &[]),
        route(
            Gw,
            true,
            "10.1.0.0/16",
            VirtualNetworkGateway,
            &["20.0.0.1"],
        ),
        route(User, true, "10.1.0.0/16", VirtualAppliance, &["10.9.0.4"]),
        route(Sys, true, "0.0.0.0/0", Internet, &[]),
        route(Sys, true, "10.2.0.0/16", VnetLocal, &[]),
        route(
            Gw,
            true,
            "10.2.0.0/16",
            VirtualNetworkGateway,
            &["20.0.0.1"],
        ),
        route(Sys, true, "10.3.0.0/16", None, &[]),
        route(Sys, true, "10.3.0.0/16", Internet, &[]),
    ];
    // longer prefix first, whatever its source
    assert_eq!(lookup(&routes, ip("10.5.0.1")), Some(0));
    // /16 tie: User over VirtualNetworkGateway over Default, wherever it stands in the file
    assert_eq!(lookup(&routes, ip("10.1.2.3")), Some(3));
    // VirtualNetworkGateway over Default
    assert_eq!(lookup(&routes, ip("10.2.2.3")), Some(6));
    // same prefix, same source: the first in the file
    assert_eq!(lookup(&routes, ip("10.3.0.9")), Some(7));
    assert_eq!(lookup(&routes, ip("192.0.2.1")), Some(4));
    assert_eq!(lookup(&routes[..0], ip("192.0.2.1")), Option::None);
}

#[test]
fn invalid_routes_are_never_taken() {
    // stage 3's spoke: the system default route is Invalid, the user's 0/0 wins
    let routes = vec![
        route(
            User,
            true,
            "0.0.0.0/0",
            VirtualAppliance,
            &["10.100.200.68"],
        ),
        route(Sys, false, "0.0.0.0/0", Internet, &[]),
        route(Sys, false, "10.100.204.0/24", VirtualNetworkGateway, &[]),
    ];
    assert_eq!(lookup(&routes, ip("10.100.204.2")), Some(0));
    // nothing but Invalid routes: no route at all
    assert_eq!(lookup(&routes[1..], ip("10.100.204.2")), Option::None);
}

#[test]
fn ipv6_prefixes_match_their_family_only() {
    let routes = vec![
        route(Sys, true, "::/0", Internet, &[]),
        route(Sys, true, "fd00:100::/48", VNetPeering, &[]),
        route(
            User,
            true,
            "fd00:100:0:201::/64",
            VirtualAppliance,
            &["fd00:100::68"],
        ),
    ];
    assert_eq!(lookup(&routes, ip("fd00:100:0:201::4")), Some(2));
    assert_eq!(lookup(&routes, ip("fd00:100:0:202::4")), Some(1));
    assert_eq!(lookup(&routes, ip("2001:db8::1")), Some(0));
    // an IPv4 destination never matches an IPv6 prefix
    assert_eq!(lookup(&routes, ip("10.0.0.1")), Option::None);
    let p = Prefix::parse("fd00::/8").unwrap();
    assert!(p.contains(ip("fdff::1")) && !p.contains(ip("fe80::1")));
    assert_eq!(Prefix::parse("fd00::/129"), Option::None);
    assert_eq!(Prefix::parse("10.0.0.0/33"), Option::None);
    assert_eq!(Prefix::parse("10.0.0.4").map(|p| p.len), Some(32));
    assert_eq!(
        Prefix::parse("fd00::4").map(|p| p.to_string()),
        Some("fd00::4/128".into())
    );
}

const TABLE: &str = "Source   State    Address Prefix   Next Hop Type     Next Hop IP
-------  -------  ---------------  ----------------  -------------
Default  Active   10.100.201.0/24  VnetLocal
Default \tActive 10.100.200.0/24     VNetPeering

Default  Invalid  0.0.0.0/0        Internet
User     Active   0.0.0.0/0        VirtualAppliance  10.100.200.68
";

const JSON: &str = r#"{"nextLink": null, "value": [
 {"addressPrefix": ["10.100.201.0/24"], "nextHopIpAddress": [], "nextHopType": "VnetLocal", "source": "Default", "state": "Active", "name": null},
 {"addressPrefix": ["10.100.200.0/24"], "nextHopIpAddress": [], "nextHopType": "VNetPeering", "source": "Default", "state": "Active", "name": null},
 {"addressPrefix": ["0.0.0.0/0"], "nextHopIpAddress": [], "nextHopType": "Internet", "source": "Default", "state": "Invalid", "name": null},
 {"addressPrefix": ["0.0.0.0/0"], "nextHopIpAddress": ["10.100.200.68"], "nextHopType": "VirtualAppliance", "source": "User", "state": "Active", "name": null}
]}"#;

#[test]
fn table_text_with_stray_spacing_and_json_give_the_same_routes() {
    let text = parse_table::parse(TABLE, "spoke1-vm.txt").unwrap();
    let (json, subnets) = parse_json::parse(JSON, "spoke1-vm.json").unwrap();
    assert_eq!(subnets, Option::None);
    assert_eq!(text.len(), 4);
    assert_eq!(text, json);
    // a bare array is effective routes too
    let start = JSON.find('[').unwrap();
    let bare = &JSON[start..JSON.rfind(']').unwrap() + 1];
    assert_eq!(parse_json::parse(bare, "x.json").unwrap().0, json);
}

#[test]
fn a_route_table_on_gateway_subnet_is_the_gateways() {
    let doc = r#"{"name": "gateway-rt", "routes": [
      {"addressPrefix": "10.100.201.0/24", "name": "to-spoke1", "nextHopIpAddress": "10.100.200.68", "nextHopType": "VirtualAppliance"}],
      "subnets": [{"id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub-vnet/subnets/GatewaySubnet"}]}"#;
    let (routes, subnets) = parse_json::parse(doc, "gw.json").unwrap();
    assert_eq!(subnets, Some(vec!["GatewaySubnet".to_string()]));
    assert_eq!(routes[0].source, User);
    assert_eq!(routes[0].name.as_deref(), Some("to-spoke1"));
    assert_eq!(routes[0].next_hop_ips, vec![ip("10.100.200.68")]);
}

fn table_err(text: &str) -> String {
    parse_table::parse(text, "s.txt").unwrap_err().to_string()
}

fn json_err(text: &str) -> String {
    parse_json::parse(text, "s.json").unwrap_err().to_string()
}

#[test]
fn malformed_files_name_the_file_and_the_line_or_json_path() {
    let cut = TABLE.replace("VirtualAppliance  10.100.200.68", "");
    let e = parse_table::parse(
        &cut.replace("User     Active   0.0.0.0/0", "User Active"),
        "s.txt",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("s.txt: line 7: expected Source, State"),
        "{e}"
    );
    let e = table_err(&TABLE.replace("Invalid", "Sleeping"));
    assert!(e.contains("s.txt: line 6: unknown state"), "{e}");
    let e = table_err(&TABLE.replace("10.100.200.68", ""));
    assert!(
        e.contains("line 7: an appliance route needs its Next Hop IP"),
        "{e}"
    );
    let e = table_err("Name  Prefix\n----  ----\n");
    assert!(e.contains("line 1: expected the header"), "{e}");
    let e = json_err(&JSON.replace("\"VNetPeering\"", "\"Teleport\""));
    assert!(
        e.starts_with("s.json: value[1].nextHopType: unknown next hop type 'Teleport'"),
        "{e}"
    );
    let e = json_err(&JSON.replace("\"0.0.0.0/0\"", "\"0.0.0.0/99\""));
    assert!(
        e.contains("value[2].addressPrefix[0]: '0.0.0.0/99' is not an address prefix"),
        "{e}"
    );
    let e = json_err("{\"value\": [\n {\"source\": \"User\",\n}]}");
    assert!(e.starts_with("s.json: line 3, column 1: not JSON"), "{e}");
    let e = json_err("{\"other\": 1}");
    assert!(e.contains("s.json: $: neither effective routes"), "{e}");
}

/// Points: 0 spoke1 (10.2.0.4), 1 nva1 (10.0.0.4), 2 nva2 (10.0.0.5), 3 spoke2 (10.1.0.4).
fn two_appliances(spoke1_default: Route) -> Routing {
    let names = names();
    let set = RouteSet {
        tables: vec![
            nic("spoke1", vec![spoke1_default]),
            nic(
                "nva1",
                vec![
                    route(Sys, true, "10.1.0.0/16", VNetPeering, &[]),
                    route(Sys, true, "10.2.0.0/16", VNetPeering, &[]),
                ],
            ),
            nic(
                "nva2",
                vec![
                    route(Sys, true, "10.1.0.0/16", VNetPeering, &[]),
                    route(Sys, true, "10.2.0.0/16", VNetPeering, &[]),
                ],
            ),
            nic(
                "spoke2",
                vec![route(
                    User,
                    true,
                    "0.0.0.0/0",
                    VirtualAppliance,
                    &["10.0.0.4"],
                )],
            ),
        ],
    };
    let hosts = Hosts::from_pairs([
        (ip("10.2.0.4"), 0),
        (ip("10.0.0.4"), 1),
        (ip("10.0.0.5"), 2),
        (ip("10.1.0.4"), 3),
    ]);
    Routing::new(set, &names, hosts)
}

fn names() -> Vec<String> {
    ["spoke1", "nva1", "nva2", "spoke2"]
        .map(String::from)
        .to_vec()
}

fn observed(forward: Vec<usize>, reverse: Vec<usize>) -> Observed<'static> {
    Observed {
        client: ip("10.2.0.4"),
        server: ip("10.1.0.4"),
        rewrites: &[],
        paths: [forward, reverse],
        unseen: [Vec::new(), Vec::new()],
    }
}

#[test]
fn ecmp_names_every_possible_next_hop_and_follows_the_one_the_packets_took() {
    let ecmp = route(
        User,
        true,
        "0.0.0.0/0",
        VirtualApplianceEcmp,
        &["10.0.0.4", "10.0.0.5"],
    );
    let r = two_appliances(ecmp);
    let behind = behind_gateway(&r.tables);
    // the requests went through nva2, the replies through nva1 (spoke2's plain route)
    let o = observed(vec![0, 2, 3], vec![3, 1, 0]);
    let p = predict(&r, &behind, &names(), &[], &o);
    assert_eq!(p.dirs[0].path, vec![0, 2, 3]);
    assert!(p.dirs[0].agrees && p.dirs[1].agrees);
    let first = &p.dirs[0].decisions[0];
    assert_eq!(first.possible, vec![ip("10.0.0.4"), ip("10.0.0.5")]);
    assert_eq!(first.next_hop_ip, Some(ip("10.0.0.5")));
    assert!(
        p.explanation.contains(
            "spoke1's route 0.0.0.0/0 -> VirtualApplianceEcmp 10.0.0.5 (User) [ECMP: possible \
             next hops 10.0.0.4 (nva1), 10.0.0.5 (nva2)]"
        ),
        "{}",
        p.explanation
    );
    // packets through nva1 both ways: the same route now takes 10.0.0.4
    let o = observed(vec![0, 1, 3], vec![3, 1, 0]);
    let p = predict(&r, &behind, &names(), &[], &o);
    assert_eq!(p.dirs[0].decisions[0].next_hop_ip, Some(ip("10.0.0.4")));
    assert!(p.dirs[0].agrees);
    // packets that took neither: the first possibility, and a disagreement
    let o = observed(vec![0, 3], vec![3, 1, 0]);
    let p = predict(&r, &behind, &names(), &[], &o);
    assert_eq!(p.dirs[0].path, vec![0, 1, 3]);
    assert!(!p.dirs[0].agrees);
    assert!(p
        .explanation
        .starts_with("the route tables and the packets disagree"));
    assert_eq!(p.fix, Option::None);
}

#[test]
fn an_asymmetry_through_an_appliance_gets_the_missing_route() {
    // spoke1 goes straight to spoke2's prefix, spoke2 comes back through nva1
    let direct = route(Sys, true, "10.1.0.0/16", VNetPeering, &[]);
    let r = two_appliances(direct);
    let o = observed(vec![0, 3], vec![3, 1, 0]);
    let p = predict(&r, &behind_gateway(&r.tables), &names(), &[], &o);
    assert!(p.dirs[0].agrees && p.dirs[1].agrees);
    assert!(p
        .explanation
        .starts_with("the route tables make the paths asymmetric"));
    assert_eq!(
        p.fix.as_deref(),
        Some("add 10.1.0.0/16 -> VirtualAppliance 10.0.0.4 to the route table of spoke1's subnet")
    );
}

#[test]
fn what_no_table_says_is_unknown_and_loops_are_caught() {
    // an appliance no capture point is known to host
    let r = two_appliances(route(
        User,
        true,
        "0.0.0.0/0",
        VirtualAppliance,
        &["10.0.0.9"],
    ));
    let o = observed(vec![0, 3], vec![]);
    let p = predict(&r, &behind_gateway(&r.tables), &names(), &[], &o);
    assert_eq!(p.dirs[0].path, vec![0]);
    assert!(matches!(&p.dirs[0].end, End::Unknown(w) if w.contains("--host POINT=10.0.0.9")));
    // a point without a table
    let mut r = two_appliances(route(
        User,
        true,
        "0.0.0.0/0",
        VirtualAppliance,
        &["10.0.0.4"],
    ));
    r.point_tables[1] = Option::None;
    let p = predict(&r, &behind_gateway(&r.tables), &names(), &[], &o);
    assert_eq!(p.dirs[0].path, vec![0, 1]);
    assert_eq!(
        p.dirs[0].end,
        End::Unknown("nva1 has no route table".into())
    );
    assert!(p
        .explanation
        .contains("then unknown: nva1 has no route table"));
    // nva1 and nva2 send everything to each other
    let mut r = two_appliances(route(
        User,
        true,
        "0.0.0.0/0",
        VirtualAppliance,
        &["10.0.0.4"],
    ));
    r.tables[1].routes = vec![route(
        User,
        true,
        "0.0.0.0/0",
        VirtualAppliance,
        &["10.0.0.5"],
    )];
    r.tables[2].routes = vec![route(
        User,
        true,
        "0.0.0.0/0",
        VirtualAppliance,
        &["10.0.0.4"],
    )];
    let p = predict(&r, &behind_gateway(&r.tables), &names(), &[], &o);
    assert_eq!(p.dirs[0].end, End::Loop);
    assert!(p.dirs[0].decisions.len() <= predict::MAX_HOPS);
    // ECMP between the two at every hop: the alternatives are capped, the walk ends
    let both = ["10.0.0.4", "10.0.0.5"];
    for t in 0..3 {
        r.tables[t].routes = vec![route(User, true, "0.0.0.0/0", VirtualApplianceEcmp, &both)];
    }
    let p = predict(&r, &behind_gateway(&r.tables), &names(), &[], &o);
    assert_eq!(p.dirs[0].end, End::Loop);
    assert_eq!(p.dirs[0].decisions[0].possible.len(), 2);
}

#[test]
fn the_gateway_prefers_gateway_subnets_user_route_to_its_system_route() {
    let names: Vec<String> = ["hub", "spoke"].map(String::from).to_vec();
    let hub = nic(
        "hub",
        vec![
            route(Sys, true, "10.0.0.0/16", VnetLocal, &[]),
            route(Sys, true, "10.1.0.0/16", VNetPeering, &[]),
            route(
                Gw,
                true,
                "172.16.0.0/24",
                VirtualNetworkGateway,
                &["20.0.0.1"],
            ),
        ],
    );
    let spoke = nic(
        "spoke",
        vec![
            route(Sys, true, "10.1.0.0/16", VnetLocal, &[]),
            route(Sys, true, "10.0.0.0/16", VNetPeering, &[]),
        ],
    );
    let hosts = || Hosts::from_pairs([(ip("10.0.0.4"), 0), (ip("10.1.0.4"), 1)]);
    let o = Observed {
        client: ip("172.16.0.2"),
        server: ip("10.1.0.4"),
        rewrites: &[],
        paths: [vec![1], vec![1]],
        unseen: [Vec::new(), Vec::new()],
    };
    // no GatewaySubnet table: the hub's peering, straight to the spoke
    let set = RouteSet {
        tables: vec![hub.clone(), spoke.clone()],
    };
    let r = Routing::new(set, &names, hosts());
    let p = predict(&r, &behind_gateway(&r.tables), &names, &[], &o);
    assert_eq!(p.dirs[0].decisions[0].at, At::Gateway);
    assert!(r.route(&p.dirs[0].decisions[0]).system);
    assert_eq!(p.dirs[0].path, vec![1]);
    // with GatewaySubnet's route to the hub appliance: through the hub
    let mut gw = nic(
        "x",
        vec![route(
            User,
            true,
            "10.1.0.0/16",
            VirtualAppliance,
            &["10.0.0.4"],
        )],
    );
    gw.owner = TableOwner::Gateway;
    let set = RouteSet {
        tables: vec![hub, spoke, gw],
    };
    let r = Routing::new(set, &names, hosts());
    let p = predict(&r, &behind_gateway(&r.tables), &names, &[], &o);
    assert_eq!(p.dirs[0].path, vec![0, 1]);
    assert_eq!(r.route(&p.dirs[0].decisions[0]).source, User);
    assert!(!p.dirs[0].agrees);
}

#[test]
fn an_internet_server_answers_from_outside_a_private_address_there_never_does() {
    let r = two_appliances(route(Sys, true, "0.0.0.0/0", Internet, &[]));
    let behind = behind_gateway(&r.tables);
    let mut o = observed(vec![0], vec![0]);
    o.server = ip("93.184.216.34");
    let p = predict(&r, &behind, &names(), &[], &o);
    assert_eq!(
        (p.dirs[0].end.name(), p.dirs[1].end.name()),
        ("internet", "from_internet")
    );
    assert_eq!(p.dirs[1].path, vec![0]);
    assert!(p.dirs[0].agrees && p.dirs[1].agrees);
    assert!(
        p.explanation.contains("replies: in from the internet"),
        "{}",
        p.explanation
    );
    // 10.1.0.4 is private: sent to the internet, it never arrives (stage 1's spoke to spoke)
    let o = observed(vec![0], vec![]);
    let p = predict(&r, &behind, &names(), &[], &o);
    assert_eq!(p.dirs[1].end, End::NotSent);
    assert!(p.dirs[1].path.is_empty() && p.dirs[1].agrees);
}
