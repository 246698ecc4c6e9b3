//! What the bulk exports (`zeek`, `csv`, `parquet`; written by [`super::bulk`]) share: which conversation each flow is
//! part of, a flow seen from its originator, and output file names made from point names.

use std::path::{Path, PathBuf};

use super::json::emit;
use super::Analysis;
use crate::flow::{Endpoint, Flow, KeyKind};

/// For each point, for each of its flows: the 1-based place in [`Analysis::conversations`] of
/// the conversation the flow is part of (0: none, e.g. a flow over the `--max-flows` cap, or
/// of a conversation `--filter` left out). [`Analysis::id`] of the place less one is its id.
pub fn flow_conversations(a: &Analysis) -> Vec<Vec<u32>> {
    let mut map: Vec<Vec<u32>> = a.points.iter().map(|p| vec![0; p.flows.len()]).collect();
    for (i, (c, _)) in a.conversations.iter().enumerate() {
        let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
        for cp in c.points.iter() {
            let Some(row) = map.get_mut(cp.point) else {
                continue;
            };
            for &f in cp.flows.iter() {
                if let Some(slot) = row.get_mut(f) {
                    *slot = id;
                }
            }
        }
    }
    map
}

/// A flow seen from its originator (flowcheck's choice: the SYN's sender, the SYN-ACK's
/// receiver, the echo requester, the client of a well-known port, else the first sender).
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    /// Direction index (in the flow's key) of the originator's packets.
    pub orig: usize,
    /// The originator did not send the flow's first packet (Zeek marks this `^`).
    pub flipped: bool,
}

impl Sides {
    pub fn of(f: &Flow) -> Sides {
        let (orig, _) = f.originator();
        Sides {
            orig,
            flipped: orig != usize::from(f.first_dir),
        }
    }

    /// The responder's direction index.
    pub fn resp(&self) -> usize {
        1 - self.orig
    }
}

/// The port-like numbers Zeek and the Community ID give a flow, originator first: TCP/UDP
/// ports; ICMP message type, and its counterpart's type (echo: request, reply) or its code;
/// 0 and 0 otherwise.
pub fn ports(f: &Flow, s: Sides) -> (u16, u16) {
    let v6 = f.key.ip_proto == crate::decode::proto::ICMPV6;
    match f.key.kind {
        KeyKind::Ports => (f.key.sender(s.orig).port, f.key.sender(s.resp()).port),
        KeyKind::Echo { .. } => {
            if v6 {
                (128, 129)
            } else {
                (8, 0)
            }
        }
        KeyKind::Icmp { icmp_type, code } => {
            match super::community_id::icmp_ports(v6, icmp_type, code) {
                super::community_id::Ports::Some { src, dst, .. } => (src, dst),
                super::community_id::Ports::None => (icmp_type.into(), code.into()),
            }
        }
        KeyKind::PortsUnknown | KeyKind::Other => (0, 0),
    }
}

/// Rows per chunk of the exports written on several threads (see `json::chunks`).
pub const CHUNK_ROWS: usize = 512;

/// Threads the exports render their rows on.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `ns` as seconds since the epoch with `decimals` (at most 9) decimals, unquoted:
/// `1795578035.657181` (Zeek, 6), `1795578035.657181000` (the JSON's text, 9).
pub fn seconds(out: &mut Vec<u8>, ns: i64, decimals: u32) {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u64;
    if secs < 0 {
        out.push(b'-');
    }
    emit::uint(out, secs.unsigned_abs());
    // the two widths the exports print, with constant divisors (a division by a divisor
    // read from a table is a slow instruction, once per time of every row)
    let mut text = [b'.'; 10];
    let n = match decimals {
        6 => fraction::<6>(&mut text, nanos / 1_000),
        9 => fraction::<9>(&mut text, nanos),
        d => {
            let d = d.min(9);
            let scaled = nanos / 10u64.pow(9 - d);
            let mut v = scaled;
            for slot in text.get_mut(1..1 + d as usize).into_iter().flatten().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            1 + d as usize
        }
    };
    out.extend_from_slice(text.get(..n).unwrap_or(&[]));
}

/// Writes the `D` decimal digits of `v` (below 10^D) after the dot in `text`; returns the
/// length of the dot and the digits.
#[inline(always)]
fn fraction<const D: usize>(text: &mut [u8; 10], mut v: u64) -> usize {
    let mut i = D;
    while i >= 2 {
        let pair = (v % 100) as usize;
        v /= 100;
        text[i - 1] = b'0' + (pair / 10) as u8;
        text[i] = b'0' + (pair % 10) as u8;
        i -= 2;
    }
    if i == 1 {
        text[1] = b'0' + (v % 10) as u8;
    }
    D + 1
}

/// `1.2.3.4:80`, `[2001:db8::1]:80`, or the bare address when `with_port` is false, as
/// [`super::format::endpoint_text`] prints it.
pub fn endpoint(out: &mut Vec<u8>, e: &Endpoint, with_port: bool) {
    match (e.ip, with_port) {
        (ip, false) => emit::ip_bare(out, ip),
        (std::net::IpAddr::V4(_), true) => {
            emit::ip_bare(out, e.ip);
            out.push(b':');
            emit::uint(out, e.port.into());
        }
        (std::net::IpAddr::V6(_), true) => {
            out.push(b'[');
            emit::ip_bare(out, e.ip);
            out.extend_from_slice(b"]:");
            emit::uint(out, e.port.into());
        }
    }
}

/// A file name made from a point name: characters other than ASCII letters, digits, `-`,
/// `_` and `.` become `_`, and a leading `.` is prefixed with `_` (no hidden files, no `..`).
pub fn file_stem(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// One file per point in `dir`, named `STEM` + `suffix`; two points whose names make the
/// same stem get `-2`, `-3`... so that no file is written twice.
pub fn point_files(dir: &Path, names: &[String], suffix: &str) -> Vec<PathBuf> {
    let mut taken = std::collections::HashSet::new();
    names
        .iter()
        .map(|n| {
            let stem = file_stem(n);
            let mut candidate = format!("{stem}{suffix}");
            let mut k = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{stem}-{k}{suffix}");
                k += 1;
            }
            dir.join(candidate)
        })
        .collect()
}

/// Creates `dir` (and its parents) for an export, naming the flag in the error.
pub fn create_dir(flag: &str, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{flag} {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_endpoints_print_as_the_json_does() {
        let mut out = Vec::new();
        seconds(&mut out, 1_795_578_035_657_181_123, 6);
        out.push(b' ');
        seconds(&mut out, 1_795_578_035_657_181_123, 9);
        out.push(b' ');
        seconds(&mut out, -1, 9);
        assert_eq!(out, b"1795578035.657181 1795578035.657181123 -1.999999999");
        // every width as the JSON's text cut to it, around zero and far from it
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            -1_000_000_001,
            1_795_578_035_000_000_007,
        ] {
            let full = super::super::format::ts_text(ns);
            for d in 0..=9u32 {
                let mut out = Vec::new();
                seconds(&mut out, ns, d);
                let dot = full.find('.').unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    full[..dot + 1 + d as usize],
                    "{ns} {d}"
                );
            }
        }
        assert_eq!(super::super::format::ts_text(-1), "-1.999999999");
        let e = Endpoint {
            ip: "2001:db8::1".parse().unwrap(),
            port: 80,
        };
        let mut out = Vec::new();
        endpoint(&mut out, &e, true);
        assert_eq!(
            out,
            super::super::format::endpoint_text(&e, true).as_bytes()
        );
    }

    #[test]
    fn point_names_make_safe_distinct_file_names() {
        assert_eq!(file_stem("hub-nva"), "hub-nva");
        assert_eq!(file_stem("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem("a b\tc"), "a_b_c");
        assert_eq!(file_stem(""), "_");
        let names = ["x/y".to_string(), "x?y".to_string(), "z".to_string()];
        let files = point_files(Path::new("out"), &names, ".conn.log");
        assert_eq!(
            files,
            [
                PathBuf::from("out/x_y.conn.log"),
                PathBuf::from("out/x_y-2.conn.log"),
                PathBuf::from("out/z.conn.log"),
            ]
        );
    }
}
