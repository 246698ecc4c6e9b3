//! The Azure CLI's table text (`az network nic show-effective-route-table -o table`):
//!
//! ```text
//! Source   State    Address Prefix   Next Hop Type     Next Hop IP
//! -------  -------  ---------------  ----------------  -------------
//! Default  Active   10.100.201.0/24  VnetLocal
//! User     Active   0.0.0.0/0        VirtualAppliance  10.100.200.68
//! ```
//!
//! Cells hold no spaces, so rows are split on runs of blanks: stray spacing (a pasted table
//! whose columns no longer line up, tabs) does not matter. Several prefixes or next hop
//! addresses in one cell are separated by commas. Errors name the file and the line.

use super::{Entry, NextHop, Prefix, Route, RouteError, RouteSource};

const HEADER: [&str; 5] = [
    "source",
    "state",
    "address prefix",
    "next hop type",
    "next hop ip",
];

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Route>, RouteError> {
    let err = |line: usize, message: String| RouteError::Table {
        path: path.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let (n, header) = lines
        .next()
        .ok_or_else(|| err(1, "empty: expected the route table's header".into()))?;
    let words = header
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    if !words.starts_with(&HEADER[..4].join(" ")) {
        return Err(err(
            n,
            format!(
                "expected the header 'Source State Address Prefix Next Hop Type Next Hop IP', \
                 found '{header}'"
            ),
        ));
    }
    match lines.next() {
        Some((_, l)) if l.chars().all(|c| c == '-' || c.is_whitespace()) => {}
        Some((n, l)) => {
            return Err(err(
                n,
                format!("expected the dashed line under the header, found '{l}'"),
            ))
        }
        None => return Ok(Vec::new()),
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.len() < 4 {
            return Err(err(
                n,
                format!(
                    "expected Source, State, Address Prefix, Next Hop Type [, Next Hop IP], \
                     found {} column{}",
                    cells.len(),
                    if cells.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let source = RouteSource::parse(cells[0])
            .ok_or_else(|| err(n, format!("unknown source '{}'", cells[0])))?;
        let active = match cells[1].to_ascii_lowercase().as_str() {
            "active" => true,
            "invalid" => false,
            s => return Err(err(n, format!("unknown state '{s}' (Active or Invalid)"))),
        };
        let next_hop = NextHop::parse(cells[3])
            .ok_or_else(|| err(n, format!("unknown next hop type '{}'", cells[3])))?;
        let next_hop_ips = cells[4..]
            .iter()
            .flat_map(|c| c.split(','))
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| err(n, format!("'{s}' is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if next_hop.is_appliance() && next_hop_ips.is_empty() {
            return Err(err(n, "an appliance route needs its Next Hop IP".into()));
        }
        let prefixes = cells[2]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|p| {
                Prefix::parse(p).ok_or_else(|| err(n, format!("'{p}' is not an address prefix")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let entry = Entry {
            source,
            active,
            next_hop,
            next_hop_ips,
            name: None,
        };
        entry.routes(prefixes, &mut out);
    }
    Ok(out)
}
