//! `--zeek DIR`: one Zeek `conn.log` per capture point (`POINT.conn.log`), in Zeek's TSV
//! format, so that Zui, RITA, SIEM loaders and `zeek-cut` read flowcheck's flows.
//!
//! The header is Zeek's (`#separator \x09`, `#set_separator`, `#empty_field`,
//! `#unset_field`, `#path conn`, `#open`, `#fields`, `#types`), `#close` ends the file, and
//! every row is one flow of the point's flow table with Zeek's `conn.log` columns and
//! meanings, then flowcheck's own columns, underscored as Zeek's extensions are:
//! `_verdict` (the verdict of the conversation the flow is part of) and `_conversation`
//! (its `id` in the JSON).
//!
//! What flowcheck cannot know is left unset (`-`), as Zeek leaves what it did not see:
//! `service` (no protocol detection), `orig_bytes`/`resp_bytes` (payload bytes are not
//! counted; `orig_ip_bytes`/`resp_ip_bytes` are), `local_orig`/`local_resp` (no local
//! networks configured: Zeek leaves them unset too), `missed_bytes` (gaps are not tracked),
//! `tunnel_parents` (tunnels are decoded, not logged as connections of their own). As Zeek,
//! `duration` is unset for a flow of one instant. The originator is flowcheck's (SYN,
//! SYN-ACK, echo, well-known port, first packet); `^` leads the history when it did not send
//! the first packet, as Zeek marks a flip. ICMP "ports" are the message type and its
//! counterpart's type or code, ICMPv6 is `icmp`, other protocols `unknown_transport`.
//! `uid` is derived from the point, the flow and its first packet's time: the same input
//! gives the same uids.

pub mod conn_state;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::community_id;
use super::export::{self, Sides};
use super::Analysis;
use crate::flow::{Flow, KeyKind};
use conn_state::{tcp_conn_state, udp_conn_state};

/// The columns: Zeek's `conn.log` (with the community-id policy's column), then flowcheck's.
pub const FIELDS: [(&str, &str); 24] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("community_id", "string"),
    ("_verdict", "string"),
    ("_conversation", "count"),
];

const UNSET: &str = "-";

/// Writes `DIR/POINT.conn.log` for every point; returns the files written.
pub fn write_dir(a: &Analysis, dir: &Path) -> io::Result<Vec<PathBuf>> {
    export::create_dir("--zeek", dir)?;
    let names = a.point_names();
    let files = export::point_files(dir, &names, ".conn.log");
    let conv_of = export::flow_conversations(a);
    let open = zeek_time(now_ns());
    for (i, (point, path)) in a.points.iter().zip(&files).enumerate() {
        let context = |e: io::Error| io::Error::new(e.kind(), format!("--zeek {}: {e}", path.display()));
        let file = std::fs::File::create(path).map_err(context)?;
        let mut out = io::BufWriter::new(file);
        let convs = conv_of.get(i).map_or(&[][..], Vec::as_slice);
        write_log(a, &point.summary.name, &point.flows, convs, &open, &mut out)
            .and_then(|()| out.flush())
            .map_err(context)?;
    }
    Ok(files)
}

/// One point's log: header, a row per flow, `#close`.
fn write_log(
    a: &Analysis,
    point: &str,
    flows: &[Flow],
    convs: &[u32],
    open: &str,
    out: &mut impl Write,
) -> io::Result<()> {
    out.write_all(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n")?;
    out.write_all(b"#unset_field\t-\n#path\tconn\n")?;
    writeln!(out, "#open\t{open}")?;
    let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let types: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
    writeln!(out, "#fields\t{}", names.join("\t"))?;
    writeln!(out, "#types\t{}", types.join("\t"))?;
    let mut line = String::with_capacity(256);
    for (k, f) in flows.iter().enumerate() {
        let conv = convs.get(k).copied().unwrap_or(0);
        line.clear();
        row(a, point, f, conv, &mut line);
        out.write_all(line.as_bytes())?;
    }
    writeln!(out, "#close\t{}", zeek_time(now_ns()))
}

/// The tab-separated row of one flow, with its newline.
fn row(a: &Analysis, point: &str, f: &Flow, conv: u32, line: &mut String) {
    use std::fmt::Write as _;
    let s = Sides::of(f);
    let (orig_p, resp_p) = export::ports(f, s);
    let (o, r) = (s.orig, s.resp());
    let duration = f.last_ts.saturating_sub(f.first_ts);
    let _ = write!(
        line,
        "{}\t{}\t{}\t{orig_p}\t{}\t{resp_p}\t{}\t{UNSET}\t",
        seconds(f.first_ts),
        uid(point, f),
        f.key.sender(o).ip,
        f.key.sender(r).ip,
        proto(f.key.ip_proto),
    );
    if duration > 0 {
        line.push_str(&seconds(duration));
    } else {
        line.push_str(UNSET);
    }
    let _ = write!(
        line,
        "\t{UNSET}\t{UNSET}\t{}\t{UNSET}\t{UNSET}\t{UNSET}\t{}\t{}\t{}\t{}\t{}\t{UNSET}\t{}\t",
        conn_state(f, s),
        history(f, s),
        f.packets[o],
        f.ip_bytes[o],
        f.packets[r],
        f.ip_bytes[r],
        community_id::of_flow(f).as_ref().map_or(UNSET, |c| c.as_str()),
    );
    let verdict = usize::try_from(conv)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| a.conversations.get(i));
    match verdict {
        Some((_, j)) => {
            let _ = writeln!(line, "{}\t{conv}", j.verdict.name());
        }
        None => {
            let _ = writeln!(line, "{UNSET}\t{UNSET}");
        }
    }
}

/// Zeek's `proto` enum.
fn proto(ip_proto: u8) -> &'static str {
    match ip_proto {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "unknown_transport",
    }
}

/// The history Zeek writes: TCP's letters (upper case: the originator), UDP's `D`/`d` per
/// side that sent, in order; `^` first when the roles were flipped. Unset for ICMP and
/// other protocols.
fn history(f: &Flow, s: Sides) -> String {
    let mut h = String::new();
    if s.flipped && matches!(f.key.ip_proto, 6 | 17) {
        h.push('^');
    }
    match f.key.ip_proto {
        6 => h.extend(f.history.letters(s.orig).map(char::from)),
        17 => {
            let mut sides = [(f.dir_first_ts[s.orig], 'D'), (f.dir_first_ts[s.resp()], 'd')];
            sides.sort_by_key(|x| x.0);
            for (ts, letter) in sides {
                if ts != i64::MAX {
                    h.push(letter);
                }
            }
        }
        _ => {}
    }
    if h.is_empty() {
        h.push_str(UNSET);
    }
    h
}

fn conn_state(f: &Flow, s: Sides) -> &'static str {
    match f.key.ip_proto {
        6 => tcp_conn_state(&history(f, s)).name(),
        17 => udp_conn_state(f.packets[s.orig] > 0, f.packets[s.resp()] > 0).name(),
        _ => conn_state::ConnState::Oth.name(),
    }
}

/// A connection uid as Zeek writes them (`C` and base62), derived from the point, the flow's
/// key and its first packet's time.
fn uid(point: &str, f: &Flow) -> String {
    let mut h = Sha1::new();
    h.update(point.as_bytes());
    h.update([0, f.key.ip_proto]);
    for e in [f.key.lo, f.key.hi] {
        h.update(e.ip.to_string().as_bytes());
        h.update(e.port.to_be_bytes());
    }
    if let KeyKind::Echo { id } = f.key.kind {
        h.update(id.to_be_bytes());
    }
    if let KeyKind::Icmp { icmp_type, code } = f.key.kind {
        h.update([icmp_type, code]);
    }
    h.update(f.first_ts.to_be_bytes());
    let digest = h.finalize();
    let mut n = digest
        .iter()
        .take(12)
        .fold(0u128, |acc, &b| acc << 8 | u128::from(b));
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("C");
    for _ in 0..17 {
        s.push(char::from(DIGITS[(n % 62) as usize]));
        n /= 62;
    }
    s
}

/// Seconds with six decimals, as Zeek writes `time` and `interval` values.
fn seconds(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let us = ns.rem_euclid(1_000_000_000) / 1_000;
    format!("{secs}.{us:06}")
}

/// `2026-11-25-03-40-32`, as Zeek writes `#open` and `#close`.
fn zeek_time(ns: i64) -> String {
    let text = super::text::clock_text(ns, true);
    text.get(..19)
        .unwrap_or(&text)
        .replace([' ', ':'], "-")
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_zeek_does() {
        assert_eq!(seconds(1_795_578_032_326_609_123), "1795578032.326609");
        assert_eq!(seconds(5_000), "0.000005");
        assert_eq!(zeek_time(0), "1970-01-01-00-00-00");
        assert_eq!(zeek_time(1_700_000_000_000_000_000), "2023-11-14-22-13-20");
    }

    #[test]
    fn every_column_has_a_type() {
        assert_eq!(FIELDS.len(), 24);
        assert_eq!(FIELDS[21].0, "community_id");
        assert!(FIELDS.iter().skip(22).all(|f| f.0.starts_with('_')));
    }
}
