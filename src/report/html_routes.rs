//! The report's routes: a section listing each route table (the deciding routes
//! highlighted, with the conversations they decided), and each conversation's routing
//! sentences in its detail block. Every string from a route file (file names, route names,
//! subnet names) is escaped like a capture's.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::svg::escape;
use super::Analysis;
use crate::routes::{ConvRouting, TableOwner};

/// Most conversation numbers listed beside one deciding route.
const MAX_IDS: usize = 8;

/// `<h2 id="routes">` and one table per route file (nothing without route tables).
pub fn section(o: &mut String, a: &Analysis) {
    let Some(r) = &a.routing else {
        return;
    };
    let names = a.point_names();
    // (table, route) -> conversation ids and directions that took it
    let mut used: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for (i, c) in r.conversations.iter().enumerate() {
        let Some(c) = c else { continue };
        for (d, dir) in c.dirs.iter().enumerate() {
            for x in &dir.decisions {
                let ids = used.entry((x.table, x.route)).or_default();
                let tag = format!("#{}{}", a.id(i), if d == 0 { "" } else { " replies" });
                if !ids.contains(&tag) {
                    ids.push(tag);
                }
            }
        }
    }
    o.push_str("<h2 id=\"routes\">Routes</h2>\n<p class=\"note\">The route tables given with the captures, as Azure applies them: the longest prefix among the Active routes wins, User over VirtualNetworkGateway over Default on a tie. Highlighted: the routes that decided a conversation's path (requests unless marked replies).</p>\n");
    for (t, table) in r.tables.iter().enumerate() {
        let owner = match &table.owner {
            TableOwner::Point(p) if names.contains(p) => format!("{p}'s NIC (effective routes)"),
            TableOwner::Point(p) => format!("{p} (no capture point of that name: not used)"),
            TableOwner::Gateway if table.file.is_some() => {
                "the gateway: GatewaySubnet's route table over its system routes".into()
            }
            TableOwner::Gateway => {
                "the gateway: system routes (no route table on GatewaySubnet)".into()
            }
            TableOwner::Subnets(s) => format!("subnets {} (not used)", s.join(", ")),
        };
        let _ = writeln!(
            o,
            "<h3>{}</h3>\n<table class=\"routes\">\n<tr><th>source</th><th>state</th><th>address prefix</th><th>next hop type</th><th>next hop IP</th><th>name</th><th>decided</th></tr>",
            escape(&match &table.file {
                Some(f) => format!("{f}: {owner}"),
                None => owner,
            })
        );
        for (k, route) in table.routes.iter().enumerate() {
            let ids = used.get(&(t, k));
            let decided = ids.map_or(String::new(), |ids| {
                let mut s = ids
                    .iter()
                    .take(MAX_IDS)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if ids.len() > MAX_IDS {
                    let _ = write!(s, " and {} more", ids.len() - MAX_IDS);
                }
                s
            });
            let ips: Vec<String> = route.next_hop_ips.iter().map(|ip| ip.to_string()).collect();
            let _ = writeln!(
                o,
                "<tr{}><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
                if ids.is_some() { " class=\"decided\"" } else { "" },
                escape(route.source.name()),
                if route.active { "Active" } else { "Invalid" },
                escape(&route.prefix.to_string()),
                escape(route.next_hop.name()),
                escape(&ips.join(", ")),
                escape(&match (&route.name, route.system) {
                    (_, true) => "(system route)".to_string(),
                    (Some(n), false) => n.clone(),
                    (None, false) => String::new(),
                }),
                escape(&decided)
            );
        }
        o.push_str("</table>\n");
    }
    let mut hosts: Vec<String> = Vec::new();
    for (p, n) in names.iter().enumerate() {
        let ips = r.hosts.of(p);
        if !ips.is_empty() {
            let ips: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
            hosts.push(format!("{n}: {}", ips.join(", ")));
        }
    }
    if !hosts.is_empty() {
        let _ = writeln!(
            o,
            "<p class=\"note\">Addresses hosted by each capture point (from the captures and --host): {}.</p>",
            escape(&hosts.join("; "))
        );
    }
}

/// A conversation's routing sentences, for its detail block.
pub fn conversation(o: &mut String, r: Option<&ConvRouting>, names: &[String]) {
    let Some(r) = r else { return };
    let path = |p: &[usize]| {
        p.iter()
            .map(|&i| names.get(i).map_or("?", String::as_str))
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    let _ = writeln!(
        o,
        "<p class=\"routing\"><b>Routes</b> (requests predicted {}, replies {}): {}</p>",
        escape(&path(&r.dirs[0].path)),
        escape(&path(&r.dirs[1].path)),
        escape(&r.explanation)
    );
    if let Some(fix) = &r.fix {
        let _ = writeln!(o, "<p class=\"routing\"><b>Fix</b>: {}</p>", escape(fix));
    }
}
