//! The Azure CLI's JSON: a NIC's effective routes (`{"value": [..]}` or a bare array) and a
//! route table (`{"routes": [..], "subnets": [..]}`). Errors name the file and the JSON path
//! (`value[3].nextHopType`), or the line and column of a syntax error.

use serde_json::Value;

use super::{Entry as Parsed, NextHop, Prefix, Route, RouteError, RouteSource};

/// The routes of `text`, and for a route table the names of the subnets it is associated
/// with (`.../subnets/GatewaySubnet` gives `GatewaySubnet`).
pub(super) fn parse(
    text: &str,
    path: &str,
) -> Result<(Vec<Route>, Option<Vec<String>>), RouteError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| RouteError::Json {
        path: path.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let field = |json_path: &str, message: &str| RouteError::Field {
        path: path.to_string(),
        json_path: json_path.to_string(),
        message: message.to_string(),
    };
    match &doc {
        Value::Array(entries) => Ok((effective(entries, "", path)?, None)),
        Value::Object(o) => {
            if let Some(v) = o.get("value") {
                let entries = v
                    .as_array()
                    .ok_or_else(|| field("value", "expected an array of routes"))?;
                Ok((effective(entries, "value", path)?, None))
            } else if let Some(r) = o.get("routes") {
                let entries = r
                    .as_array()
                    .ok_or_else(|| field("routes", "expected an array of routes"))?;
                let routes = user_routes(entries, path)?;
                Ok((routes, Some(subnets(o.get("subnets"), path)?)))
            } else {
                Err(field(
                    "$",
                    "neither effective routes (\"value\") nor a route table (\"routes\")",
                ))
            }
        }
        _ => Err(field("$", "expected an object or an array")),
    }
}

/// A field of one entry, as text.
struct Entry<'a> {
    value: &'a Value,
    at: String,
    path: &'a str,
}

impl<'a> Entry<'a> {
    fn err(&self, key: &str, message: &str) -> RouteError {
        RouteError::Field {
            path: self.path.to_string(),
            json_path: format!("{}.{key}", self.at),
            message: message.to_string(),
        }
    }
    fn text(&self, key: &str) -> Result<&'a str, RouteError> {
        self.value
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(key, "missing or not a string"))
    }
    /// A string or an array of strings (null or absent: none).
    fn texts(&self, key: &str) -> Result<Vec<(String, &'a str)>, RouteError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![(format!("{}.{key}", self.at), s.as_str())]),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(|s| (format!("{}.{key}[{i}]", self.at), s))
                        .ok_or_else(|| self.err(&format!("{key}[{i}]"), "not a string"))
                })
                .collect(),
            Some(_) => Err(self.err(key, "expected a string or an array of strings")),
        }
    }
    fn next_hop(&self) -> Result<(NextHop, Vec<std::net::IpAddr>), RouteError> {
        let t = self.text("nextHopType")?;
        let hop = NextHop::parse(t).ok_or_else(|| {
            self.err(
                "nextHopType",
                &format!("unknown next hop type '{t}' (VnetLocal, VNetPeering, VirtualNetworkGateway, VirtualAppliance, VirtualApplianceEcmp, Internet, None)"),
            )
        })?;
        let ips = self
            .texts("nextHopIpAddress")?
            .into_iter()
            .filter(|(_, s)| !s.trim().is_empty())
            .map(|(at, s)| {
                s.trim().parse().map_err(|_| RouteError::Field {
                    path: self.path.to_string(),
                    json_path: at,
                    message: format!("'{s}' is not an IP address"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if hop.is_appliance() && ips.is_empty() {
            return Err(self.err("nextHopIpAddress", "an appliance route needs its address"));
        }
        Ok((hop, ips))
    }
    fn prefixes(&self) -> Result<Vec<Prefix>, RouteError> {
        let all = self.texts("addressPrefix")?;
        if all.is_empty() {
            return Err(self.err("addressPrefix", "missing"));
        }
        all.into_iter()
            .map(|(at, s)| {
                Prefix::parse(s).ok_or_else(|| RouteError::Field {
                    path: self.path.to_string(),
                    json_path: at,
                    message: format!("'{s}' is not an address prefix"),
                })
            })
            .collect()
    }
    fn name(&self) -> Option<String> {
        self.value
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn effective(entries: &[Value], base: &str, path: &str) -> Result<Vec<Route>, RouteError> {
    let mut out = Vec::new();
    for (i, value) in entries.iter().enumerate() {
        let e = Entry {
            value,
            at: format!("{base}[{i}]"),
            path,
        };
        let source = e.text("source")?;
        let source = RouteSource::parse(source).ok_or_else(|| {
            e.err(
                "source",
                &format!("unknown source '{source}' (Default, User, VirtualNetworkGateway)"),
            )
        })?;
        let active = match e.text("state")?.to_ascii_lowercase().as_str() {
            "active" => true,
            "invalid" => false,
            _ => return Err(e.err("state", "expected Active or Invalid")),
        };
        let (next_hop, next_hop_ips) = e.next_hop()?;
        let parsed = Parsed {
            source,
            active,
            next_hop,
            next_hop_ips,
            name: e.name(),
        };
        parsed.routes(e.prefixes()?, &mut out);
    }
    Ok(out)
}

fn user_routes(entries: &[Value], path: &str) -> Result<Vec<Route>, RouteError> {
    let mut out = Vec::new();
    for (i, value) in entries.iter().enumerate() {
        let e = Entry {
            value,
            at: format!("routes[{i}]"),
            path,
        };
        let (next_hop, next_hop_ips) = e.next_hop()?;
        let parsed = Parsed {
            source: RouteSource::User,
            active: true,
            next_hop,
            next_hop_ips,
            name: e.name(),
        };
        parsed.routes(e.prefixes()?, &mut out);
    }
    Ok(out)
}

/// The subnet names of a route table's `subnets[].id`.
fn subnets(v: Option<&Value>, path: &str) -> Result<Vec<String>, RouteError> {
    let Some(Value::Array(list)) = v else {
        return Ok(Vec::new());
    };
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            s.get("id")
                .and_then(Value::as_str)
                .and_then(|id| id.rsplit('/').next())
                .map(str::to_string)
                .ok_or_else(|| RouteError::Field {
                    path: path.to_string(),
                    json_path: format!("subnets[{i}].id"),
                    message: "missing or not a string".into(),
                })
        })
        .collect()
}
