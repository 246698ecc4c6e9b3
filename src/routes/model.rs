//! The routing stage's data: one direction's decisions and how its walk ended, a
//! conversation's prediction, what the walk takes of a conversation, and the stage's result.
//! Written by the walk (`predict`), read by the sentences (`explain`) and the reports.

use std::net::IpAddr;

use super::gateway::with_gateway;
use super::hosts::Hosts;
use super::{Route, RouteSet, RouteTable, TableOwner};
use crate::correlate::{routable, Conversation, Rewrite};

/// Where a routing decision was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The NIC of a capture point (by index).
    Point(usize),
    /// The VPN / ExpressRoute gateway.
    Gateway,
}

/// One route taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub at: At,
    /// Index into [`Routing::tables`], and of the route in it.
    pub table: usize,
    pub route: usize,
    /// The destination looked up.
    pub dst: IpAddr,
    /// The next hop address taken (an appliance, the gateway's address).
    pub next_hop_ip: Option<IpAddr>,
    /// ECMP: every next hop the route offered (the walk took `next_hop_ip`).
    pub possible: Vec<IpAddr>,
}

/// How a direction's walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Delivered to the destination: at this capture point, or at an address no capture
    /// point hosts.
    Delivered(Option<usize>),
    /// Left for the internet.
    Internet,
    /// A `None` route: dropped.
    Dropped,
    /// No active route matched: dropped.
    NoRoute,
    /// The walk could not go on: why.
    Unknown(String),
    /// More than [`MAX_HOPS`] decisions, or the same decision twice.
    Loop,
    /// Replies: the requests do not reach the server, so none are sent.
    NotSent,
    /// Replies of an internet server: they come in from the internet to the client's NIC,
    /// where no route table applies.
    FromInternet,
}

impl End {
    pub fn name(&self) -> &'static str {
        match self {
            End::Delivered(_) => "delivered",
            End::Internet => "internet",
            End::Dropped => "dropped",
            End::NoRoute => "no_route",
            End::Unknown(_) => "unknown",
            End::Loop => "loop",
            End::NotSent => "not_sent",
            End::FromInternet => "from_internet",
        }
    }
}

/// One direction's prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRouting {
    /// Capture points, in order.
    pub path: Vec<usize>,
    /// The capture points predicted are those that saw the direction.
    pub agrees: bool,
    pub decisions: Vec<Decision>,
    pub end: End,
}

/// A conversation's prediction: forward (requests) and reverse (replies), and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvRouting {
    pub dirs: [DirRouting; 2],
    pub explanation: String,
    pub fix: Option<String>,
}

/// What the walk needs of a conversation: its ends as the client knows them, the NAT
/// rewrites correlation saw, and the capture points that saw each direction.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    pub client: IpAddr,
    pub server: IpAddr,
    pub rewrites: &'a [Rewrite],
    /// Per direction (0 requests, 1 replies), in path order.
    pub paths: [Vec<usize>; 2],
    /// Per direction, the points that could not have seen it: not capturing then, or
    /// capturing yet missing the packets (`Conversation::uncovered`). A predicted path through
    /// them agrees with packets that were not seen there.
    pub unseen: [Vec<usize>; 2],
}

impl<'a> Observed<'a> {
    /// None where routes do not apply: group, link-local, unspecified or loopback addresses.
    pub fn of(c: &'a Conversation) -> Option<Observed<'a>> {
        if c.to_group() || !routable(&c.client.ip) || !routable(&c.server.ip) {
            return None;
        }
        Some(Observed {
            client: c.client.ip,
            server: c.server.ip,
            rewrites: c.rewrites.as_slice(),
            paths: [0, 1].map(|d| c.path(d).iter().map(|p| p.point).collect()),
            unseen: [0, 1].map(|d| {
                c.uncovered
                    .iter()
                    .filter(|u| u.covers_not(d) || u.missed)
                    .map(|u| u.point)
                    .collect()
            }),
        })
    }
}

/// The routing stage's result, beside the analysis.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Every table: the files' (GatewaySubnet's replaced by the gateway's effective table),
    /// then the gateway's inferred table when no file gave it.
    pub tables: Vec<RouteTable>,
    /// Per capture point, its table (index into `tables`).
    pub point_tables: Vec<Option<usize>>,
    /// The gateway's effective table, when known.
    pub gateway: Option<usize>,
    /// GatewaySubnet's route table was given.
    pub gateway_file: bool,
    pub hosts: Hosts,
    /// Per conversation (parallel to `Analysis::conversations`); None where routes do not
    /// apply (see [`Observed::of`]).
    pub conversations: Vec<Option<ConvRouting>>,
    /// What the user should know: route files named for no capture point, `--host` points
    /// that do not exist.
    pub notes: Vec<String>,
}

impl Routing {
    /// The tables ready to walk: the gateway's effective table built, each capture point's
    /// table found; no conversation yet.
    pub fn new(set: RouteSet, names: &[String], hosts: Hosts) -> Routing {
        let (tables, gateway, gateway_file) = with_gateway(set);
        let point_tables = names
            .iter()
            .map(|n| {
                tables
                    .iter()
                    .position(|t| matches!(&t.owner, TableOwner::Point(p) if p == n))
            })
            .collect();
        Routing {
            tables,
            point_tables,
            gateway,
            gateway_file,
            hosts,
            conversations: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn route(&self, d: &Decision) -> &Route {
        &self.tables[d.table].routes[d.route]
    }
    /// The file a decision's route came from (None: a system route flowcheck inferred).
    pub fn file(&self, d: &Decision) -> Option<&str> {
        if self.route(d).system {
            None
        } else {
            self.tables[d.table].file.as_deref()
        }
    }
}
