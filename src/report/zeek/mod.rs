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

use super::derived::Derived;
use super::export::{self, Sides, CHUNK_ROWS};
use super::json::{chunks, emit};
use super::Analysis;
use crate::decode::proto;
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

/// Writes `DIR/POINT.conn.log` for every point; returns the files written. `d` gives the
/// flows' Community IDs and conversations (computed here if it was not asked for them).
pub fn write_dir(a: &Analysis, d: &Derived, dir: &Path) -> io::Result<Vec<PathBuf>> {
    export::create_dir("--zeek", dir)?;
    let names = a.point_names();
    let files = export::point_files(dir, &names, ".conn.log");
    let own;
    let conv_of = match d.flow_conversations() {
        Some(c) => c,
        None => {
            own = export::flow_conversations(a);
            &own[..]
        }
    };
    let open = zeek_time(now_ns());
    for (i, (point, path)) in a.points.iter().zip(&files).enumerate() {
        let context =
            |e: io::Error| io::Error::new(e.kind(), format!("--zeek {}: {e}", path.display()));
        // written over the old log in place (`pages::write_over`)
        let file = super::open_over(path).map_err(context)?;
        let log = Log {
            a,
            d,
            point: i,
            name: &point.summary.name,
            convs: conv_of.get(i).map_or(&[][..], Vec::as_slice),
        };
        super::write_over(&file, |pages| {
            let mut out = io::BufWriter::new(pages);
            write_log(&log, &point.flows, &open, &mut out)?;
            out.flush()
        })
        .map_err(context)?;
    }
    Ok(files)
}

/// What the rows of one point's log read besides the flow.
struct Log<'a> {
    a: &'a Analysis,
    d: &'a Derived,
    /// The point's place in [`Analysis::points`], and its name.
    point: usize,
    name: &'a str,
    /// For each flow, its conversation's 1-based place (0: none).
    convs: &'a [u32],
}

/// One point's log: header, a row per flow (rendered in chunks on several threads, written
/// in order), `#close`.
fn write_log(log: &Log<'_>, flows: &[Flow], open: &str, out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n")?;
    out.write_all(b"#unset_field\t-\n#path\tconn\n")?;
    writeln!(out, "#open\t{open}")?;
    let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let types: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
    writeln!(out, "#fields\t{}", names.join("\t"))?;
    writeln!(out, "#types\t{}", types.join("\t"))?;
    let count = flows.len().div_ceil(CHUNK_ROWS);
    chunks::write_in_order(out, count, export::threads(), |chunk, buf| {
        let start = chunk * CHUNK_ROWS;
        let end = (start + CHUNK_ROWS).min(flows.len());
        for (k, f) in flows[start..end].iter().enumerate() {
            row(log, start + k, f, buf);
        }
    })?;
    writeln!(out, "#close\t{}", zeek_time(now_ns()))
}

/// The tab-separated row of flow `index` of the log's point, with its newline.
fn row(log: &Log<'_>, index: usize, f: &Flow, out: &mut Vec<u8>) {
    let a = log.a;
    let conv = log.convs.get(index).copied().unwrap_or(0);
    let s = Sides::of(f);
    let (orig_p, resp_p) = export::ports(f, s);
    let (o, r) = (s.orig, s.resp());
    let tab = |out: &mut Vec<u8>| out.push(b'\t');
    let unset = |out: &mut Vec<u8>| out.extend_from_slice(b"\t-");
    export::seconds(out, f.first_ts, 6);
    tab(out);
    uid(out, log.name, f);
    tab(out);
    emit::ip_bare(out, f.key.sender(o).ip);
    tab(out);
    emit::uint(out, orig_p.into());
    tab(out);
    emit::ip_bare(out, f.key.sender(r).ip);
    tab(out);
    emit::uint(out, resp_p.into());
    tab(out);
    out.extend_from_slice(proto(f.key.ip_proto).as_bytes());
    unset(out); // service
    let duration = f.last_ts.saturating_sub(f.first_ts);
    if duration > 0 {
        tab(out);
        export::seconds(out, duration, 6);
    } else {
        unset(out);
    }
    unset(out); // orig_bytes
    unset(out); // resp_bytes
    let history = history(f, s);
    tab(out);
    out.extend_from_slice(conn_state(f, s, &history).as_bytes());
    unset(out); // local_orig
    unset(out); // local_resp
    unset(out); // missed_bytes
    tab(out);
    out.extend_from_slice(
        if history.is_empty() {
            "-"
        } else {
            history.as_str()
        }
        .as_bytes(),
    );
    for v in [f.packets[o], f.ip_bytes[o], f.packets[r], f.ip_bytes[r]] {
        tab(out);
        emit::uint(out, v);
    }
    unset(out); // tunnel_parents
    tab(out);
    match log.d.flow_id(a, log.point, index) {
        Some(id) => out.extend_from_slice(id.as_bytes()),
        None => out.push(b'-'),
    }
    let judged = usize::try_from(conv)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| Some((i, a.conversations.get(i)?)));
    match judged {
        Some((i, (_, j))) => {
            tab(out);
            out.extend_from_slice(j.verdict.name().as_bytes());
            tab(out);
            emit::uint(out, a.id(i) as u64);
        }
        None => out.extend_from_slice(b"\t-\t-"),
    }
    out.push(b'\n');
}

/// Zeek's `proto` enum.
fn proto(ip_proto: u8) -> &'static str {
    match ip_proto {
        proto::TCP => "tcp",
        proto::UDP => "udp",
        proto::ICMP | proto::ICMPV6 => "icmp",
        _ => "unknown_transport",
    }
}

/// The history Zeek writes: TCP's letters (upper case: the originator), UDP's `D`/`d` per
/// side that sent, in order; `^` first when the roles were flipped. Empty (unset) for ICMP
/// and other protocols.
fn history(f: &Flow, s: Sides) -> History {
    let mut h = History::default();
    if s.flipped && matches!(f.key.ip_proto, proto::TCP | proto::UDP) {
        h.push(b'^');
    }
    match f.key.ip_proto {
        proto::TCP => f.history.letters(s.orig).for_each(|b| h.push(b)),
        proto::UDP => {
            let mut sides = [
                (f.dir_first_ts[s.orig], b'D'),
                (f.dir_first_ts[s.resp()], b'd'),
            ];
            sides.sort_by_key(|x| x.0);
            for (ts, letter) in sides {
                if ts != crate::flow::NO_FIRST_TS {
                    h.push(letter);
                }
            }
        }
        _ => {}
    }
    h
}

/// A history, held inline: `^` and at most 16 letters.
#[derive(Default)]
struct History {
    bytes: [u8; 17],
    len: usize,
}

impl History {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
    fn as_str(&self) -> &str {
        // ASCII letters and '^' only
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn conn_state(f: &Flow, s: Sides, history: &History) -> &'static str {
    match f.key.ip_proto {
        proto::TCP => tcp_conn_state(history.as_str()).name(),
        proto::UDP => udp_conn_state(f.packets[s.orig] > 0, f.packets[s.resp()] > 0).name(),
        _ => conn_state::ConnState::Oth.name(),
    }
}

/// A connection uid as Zeek writes them (`C` and 17 base62 digits), derived from the point,
/// the flow's key and its first packet's time.
fn uid(out: &mut Vec<u8>, point: &str, f: &Flow) {
    let mut h = Sha1::new();
    h.update(point.as_bytes());
    h.update([0, f.key.ip_proto]);
    for e in [f.key.lo, f.key.hi] {
        match e.ip {
            std::net::IpAddr::V4(a) => h.update(a.octets()),
            std::net::IpAddr::V6(a) => h.update(a.octets()),
        }
        h.update(e.port.to_be_bytes());
    }
    match f.key.kind {
        KeyKind::Echo { id } => h.update(id.to_be_bytes()),
        KeyKind::Icmp { icmp_type, code } => h.update([icmp_type, code]),
        _ => {}
    }
    h.update(f.first_ts.to_be_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 12];
    first.copy_from_slice(digest.get(..12).unwrap_or(&[0; 12]));
    out.push(b'C');
    base62(out, first);
}

/// The 96-bit big-endian number `n` as 17 base-62 digits, least significant first. Divided
/// as three 32-bit limbs (a 64-bit division by a constant is a multiplication, a 128-bit one
/// a library call) by 62^5 at a time, each remainder giving five digits in 32-bit
/// arithmetic: 12 divisions of the limbs instead of 51 (the Zeek export's uids were 2 % of
/// the three exports' time in `perf`, most of it these divisions).
fn base62(out: &mut Vec<u8>, n: [u8; 12]) {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut limbs = [0u32; 3];
    for (limb, bytes) in limbs.iter_mut().zip(n.chunks_exact(4)) {
        *limb = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let mut text = [0u8; 17];
    // 5 + 5 + 5 digits, then the last 2 (2^96 / 62^15 < 62^2)
    for (round, digits) in text.chunks_mut(5).enumerate() {
        let mut r = if round < 3 {
            divide_limbs::<916_132_832>(&mut limbs) // 62^5
        } else {
            divide_limbs::<3_844>(&mut limbs) // 62^2
        };
        for d in digits {
            *d = DIGITS[(r % 62) as usize];
            r /= 62;
        }
    }
    out.extend_from_slice(&text);
}

/// Divides the 96-bit number of `limbs` (most significant first) by `D` (below 2^32) in
/// place; returns the remainder.
#[inline(always)]
fn divide_limbs<const D: u64>(limbs: &mut [u32; 3]) -> u32 {
    let mut rem = 0u64;
    for limb in limbs.iter_mut() {
        let cur = (rem << 32) | u64::from(*limb);
        *limb = (cur / D) as u32;
        rem = cur % D;
    }
    rem as u32
}

/// `2026-11-25-03-40-32`, as Zeek writes `#open` and `#close`.
fn zeek_time(ns: i64) -> String {
    let text = super::text::clock_text(ns, true);
    text.get(..19).unwrap_or(&text).replace([' ', ':'], "-")
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
        let mut out = Vec::new();
        export::seconds(&mut out, 5_000, 6);
        assert_eq!(out, b"0.000005");
        assert_eq!(zeek_time(0), "1970-01-01-00-00-00");
        assert_eq!(zeek_time(1_700_000_000_000_000_000), "2023-11-14-22-13-20");
    }

    #[test]
    fn base62_digits_are_those_of_the_96_bit_number() {
        const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rng = crate::test_rng::Rng(7);
        for k in 0..2000 {
            let mut n = [0u8; 12];
            match k {
                0 => {}
                1 => n = [0xff; 12],
                _ => n.iter_mut().for_each(|b| *b = rng.next() as u8),
            }
            let mut want = Vec::new();
            let mut x = n.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b));
            for _ in 0..17 {
                want.push(DIGITS[(x % 62) as usize]);
                x /= 62;
            }
            let mut got = Vec::new();
            base62(&mut got, n);
            assert_eq!(got, want, "{n:?}");
        }
    }

    #[test]
    fn every_column_has_a_type() {
        assert_eq!(FIELDS.len(), 24);
        assert_eq!(FIELDS[21].0, "community_id");
        assert!(FIELDS.iter().skip(22).all(|f| f.0.starts_with('_')));
    }
}
