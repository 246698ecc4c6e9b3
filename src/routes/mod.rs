//! routes: Azure's route tables joined to the packets.
//!
//! Engineers save the route tables beside their captures, as the Azure CLI prints them: a
//! NIC's effective routes (`az network nic show-effective-route-table`, `-o json` or
//! `-o table`, named after the capture point) and route tables (`az network route-table show
//! -o json`, applied where their `subnets[]` say: on `GatewaySubnet`, by the VPN gateway).
//! This stage reads them ([`load`]), then, after correlation and judging, walks each
//! conversation's two directions hop by hop as Azure would ([`predict`]), says whether the
//! capture points predicted are the ones that saw the packets, names the deciding routes and,
//! for an asymmetry through an appliance, the route that is missing ([`explain`]).
//!
//! - `parse_json`, `parse_table`: the two file formats, errors naming the file and the JSON
//!   path or the line;
//! - `table`: longest-prefix match over the `Active` routes with Azure's tie rule (User over
//!   BGP / VirtualNetworkGateway over Default), IPv4 and IPv6;
//! - `hosts`: which capture point hosts an address;
//! - `gateway`: the gateway's table (GatewaySubnet's over the system routes it infers);
//! - `predict`: the walk;
//! - `explain`: the explanation and fix sentences.

mod explain;
mod gateway;
mod hosts;
mod model;
mod parse_json;
mod parse_table;
mod predict;
mod table;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use gateway::behind_gateway;
pub use hosts::Hosts;
pub use model::{At, ConvRouting, Decision, DirRouting, End, Observed, Routing};
pub use predict::{predict, route_all};
pub use table::lookup;

/// Where a route came from (`source`), in the order Azure prefers them on a prefix tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSource {
    /// A user-defined route (route table).
    User,
    /// Learned from the virtual network gateway (propagated BGP routes).
    VirtualNetworkGateway,
    /// Learned over BGP (route server).
    Bgp,
    /// Azure's system routes.
    Default,
}

impl RouteSource {
    /// Lower wins a tie between routes of the same prefix length.
    pub fn rank(self) -> u8 {
        match self {
            RouteSource::User => 0,
            RouteSource::VirtualNetworkGateway | RouteSource::Bgp => 1,
            RouteSource::Default => 2,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            RouteSource::User => "User",
            RouteSource::VirtualNetworkGateway => "VirtualNetworkGateway",
            RouteSource::Bgp => "BGP",
            RouteSource::Default => "Default",
        }
    }
    fn parse(s: &str) -> Option<RouteSource> {
        Some(match s.to_ascii_lowercase().as_str() {
            "user" => RouteSource::User,
            "virtualnetworkgateway" => RouteSource::VirtualNetworkGateway,
            "bgp" => RouteSource::Bgp,
            "default" => RouteSource::Default,
            _ => return None,
        })
    }
}

/// What Azure does with a packet a route matches (`nextHopType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    /// Delivered within the VNet.
    VnetLocal,
    /// Delivered to the peered VNet.
    VNetPeering,
    /// Sent to the VPN / ExpressRoute gateway.
    VirtualNetworkGateway,
    /// Sent to an appliance (`nextHopIpAddress`).
    VirtualAppliance,
    /// Spread over several appliances (`nextHopIpAddress` lists them).
    VirtualApplianceEcmp,
    /// Leaves Azure for the internet.
    Internet,
    /// Dropped.
    None,
}

impl NextHop {
    pub fn name(self) -> &'static str {
        match self {
            NextHop::VnetLocal => "VnetLocal",
            NextHop::VNetPeering => "VNetPeering",
            NextHop::VirtualNetworkGateway => "VirtualNetworkGateway",
            NextHop::VirtualAppliance => "VirtualAppliance",
            NextHop::VirtualApplianceEcmp => "VirtualApplianceEcmp",
            NextHop::Internet => "Internet",
            NextHop::None => "None",
        }
    }
    /// The next hop is an appliance's address.
    pub fn is_appliance(self) -> bool {
        matches!(
            self,
            NextHop::VirtualAppliance | NextHop::VirtualApplianceEcmp
        )
    }
    fn parse(s: &str) -> Option<NextHop> {
        Some(match s.to_ascii_lowercase().as_str() {
            "vnetlocal" => NextHop::VnetLocal,
            "vnetpeering" | "vnetglobalpeering" => NextHop::VNetPeering,
            "virtualnetworkgateway" => NextHop::VirtualNetworkGateway,
            "virtualappliance" => NextHop::VirtualAppliance,
            "virtualapplianceecmp" => NextHop::VirtualApplianceEcmp,
            "internet" => NextHop::Internet,
            "none" => NextHop::None,
            _ => return None,
        })
    }
}

/// An address prefix, `10.100.201.0/24` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub net: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// `ADDR/LEN`, or a bare address (a host route).
    pub fn parse(s: &str) -> Option<Prefix> {
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l.parse::<u8>().ok().filter(|&l| l <= max)?,
            None => max,
        };
        Some(Prefix { net, len })
    }
    /// True when `ip` (of the same family) lies in the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// One route (a JSON entry with several prefixes is one route per prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub source: RouteSource,
    /// `Active`; false for `Invalid` (never used).
    pub active: bool,
    pub prefix: Prefix,
    pub next_hop: NextHop,
    /// `nextHopIpAddress`: the appliance(s), or the gateway's address.
    pub next_hop_ips: Vec<IpAddr>,
    pub name: Option<String>,
    /// An Azure system route flowcheck inferred (the gateway's, when GatewaySubnet has no
    /// route table): it comes from no file.
    pub system: bool,
}

/// What one entry of a route file says, for each of its prefixes.
struct Entry {
    source: RouteSource,
    active: bool,
    next_hop: NextHop,
    next_hop_ips: Vec<IpAddr>,
    name: Option<String>,
}

impl Entry {
    /// One route per prefix, appended to `out`.
    fn routes(self, prefixes: Vec<Prefix>, out: &mut Vec<Route>) {
        for prefix in prefixes {
            out.push(Route {
                source: self.source,
                active: self.active,
                prefix,
                next_hop: self.next_hop,
                next_hop_ips: self.next_hop_ips.clone(),
                name: self.name.clone(),
                system: false,
            });
        }
    }
}

/// Whose table it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableOwner {
    /// A capture point's NIC (effective routes).
    Point(String),
    /// The VPN / ExpressRoute gateway (GatewaySubnet's route table, or its system routes).
    Gateway,
    /// A route table associated with subnets that are neither GatewaySubnet nor named for a
    /// capture point: kept for the report, used by no hop.
    Subnets(Vec<String>),
}

/// One route file, parsed.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// The file's name as given (`spoke1-vm.txt`); None for the gateway's inferred table.
    pub file: Option<String>,
    pub owner: TableOwner,
    pub routes: Vec<Route>,
}

/// Everything read from the route files.
#[derive(Debug, Clone, Default)]
pub struct RouteSet {
    pub tables: Vec<RouteTable>,
}

/// A bad route file or argument.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: line {line}, column {column}: not JSON: {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {json_path}: {message}")]
    Field {
        path: String,
        json_path: String,
        message: String,
    },
    #[error("{path}: line {line}: {message}")]
    Table {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: two route files for {owner}")]
    Twice { path: String, owner: String },
    #[error("--host {0}: expected POINT=IP")]
    Host(String),
}

/// One `--routes` argument (or a capture folder's `routes/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteArg {
    /// A folder of route files, or one file named after its capture point.
    Path(PathBuf),
    /// `POINT=FILE`: the file is POINT's table whatever its name.
    Named { point: String, path: PathBuf },
}

impl RouteArg {
    /// `POINT=FILE` when the text has `=` and is not itself an existing path.
    pub fn parse(s: &str) -> RouteArg {
        match s.split_once('=') {
            Some((point, path)) if !point.is_empty() && !Path::new(s).exists() => RouteArg::Named {
                point: point.to_string(),
                path: PathBuf::from(path),
            },
            _ => RouteArg::Path(PathBuf::from(s)),
        }
    }
}

/// `--host POINT=IP`.
pub fn parse_host(s: &str) -> Result<(String, IpAddr), RouteError> {
    let (point, ip) = s
        .split_once('=')
        .ok_or_else(|| RouteError::Host(s.to_string()))?;
    let ip = ip
        .trim()
        .parse()
        .map_err(|_| RouteError::Host(s.to_string()))?;
    if point.is_empty() {
        return Err(RouteError::Host(s.to_string()));
    }
    Ok((point.to_string(), ip))
}

/// Reads every route file the arguments name. A folder's files are read in name order; files
/// whose names end in neither `.json` nor `.txt` are skipped.
pub fn load(args: &[RouteArg]) -> Result<RouteSet, RouteError> {
    let mut set = RouteSet::default();
    for arg in args {
        match arg {
            RouteArg::Named { point, path } => set.add(read_file(path, Some(point))?)?,
            RouteArg::Path(path) if path.is_dir() => {
                let io = |source| RouteError::Io {
                    path: path.display().to_string(),
                    source,
                };
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(io)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_file() && p.extension().is_some_and(|e| e == "json" || e == "txt")
                    })
                    .collect();
                files.sort();
                for f in files {
                    set.add(read_file(&f, None)?)?;
                }
            }
            RouteArg::Path(path) => set.add(read_file(path, None)?)?,
        }
    }
    Ok(set)
}

/// Reads one file: JSON when its first non-blank character is `{` or `[`, else the CLI's
/// table text. The owner is `point` if given, else what the file says (a route table's
/// `subnets[]`), else the file's stem.
fn read_file(path: &Path, point: Option<&str>) -> Result<RouteTable, RouteError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RouteError::Io {
        path: shown.clone(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let (routes, subnets) = if text.trim_start().starts_with(['{', '[']) {
        parse_json::parse(&text, &shown)?
    } else {
        (parse_table::parse(&text, &shown)?, None)
    };
    let owner = match (point, subnets) {
        (Some(p), _) if p == "gateway" || p == "GatewaySubnet" => TableOwner::Gateway,
        (Some(p), _) => TableOwner::Point(p.to_string()),
        (None, Some(s)) if s.iter().any(|s| s == "GatewaySubnet") => TableOwner::Gateway,
        (None, Some(s)) if !s.is_empty() && !s.contains(&stem) => TableOwner::Subnets(s),
        (None, _) if stem == "GatewaySubnet" => TableOwner::Gateway,
        (None, _) => TableOwner::Point(stem),
    };
    Ok(RouteTable {
        file: Some(file),
        owner,
        routes,
    })
}

impl RouteSet {
    fn add(&mut self, t: RouteTable) -> Result<(), RouteError> {
        let same =
            |o: &RouteTable| o.owner == t.owner && !matches!(t.owner, TableOwner::Subnets(_));
        if self.tables.iter().any(same) {
            return Err(RouteError::Twice {
                path: t.file.clone().unwrap_or_default(),
                owner: match &t.owner {
                    TableOwner::Point(p) => p.clone(),
                    _ => "the gateway".into(),
                },
            });
        }
        self.tables.push(t);
        Ok(())
    }
    /// The table of capture point `name`.
    pub fn point(&self, name: &str) -> Option<&RouteTable> {
        self.tables
            .iter()
            .find(|t| matches!(&t.owner, TableOwner::Point(p) if p == name))
    }
    /// GatewaySubnet's route table, if one was given.
    pub fn gateway(&self) -> Option<&RouteTable> {
        self.tables.iter().find(|t| t.owner == TableOwner::Gateway)
    }
    /// Route files named for no capture point of `names` (they are not used).
    pub fn unused<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = &'a RouteTable> {
        self.tables.iter().filter(move |t| match &t.owner {
            TableOwner::Point(p) => !names.contains(p),
            TableOwner::Gateway => false,
            TableOwner::Subnets(_) => true,
        })
    }
}

#[cfg(test)]
mod tests;
