//! `--csv FILE`: the conversations, one row each, for spreadsheets and `pandas.read_csv`.
//!
//! RFC 4180: a header row, comma-separated fields, CRLF line ends, and a field that holds a
//! comma, a double quote, CR or LF is enclosed in double quotes with its quotes doubled.
//! The columns are the conversation's scalar fields of the JSON (`conversations[]`), in the
//! same units (times as the JSON's seconds with nine decimals); lists of point names are
//! joined with a space (point names are file stems: a name with a space still reads back,
//! quoted, but is ambiguous in the list); an absent value is an empty field.
//!
//! Rows are written straight from the conversations into byte buffers, in chunks on several
//! threads and in order, as the JSON's are (`json::chunks`).

use std::io::{self, Write};

use super::derived::Derived;
use super::export::{self, CHUNK_ROWS};
use super::format::direction_name;
use super::json::{chunks, emit};
use super::Analysis;
use crate::correlate::Conversation;
use crate::flow::KeyKind;
use crate::verdict::Judgement;

/// The header row, in column order.
pub const COLUMNS: [&str; 27] = [
    "id",
    "proto",
    "client",
    "client_port",
    "server",
    "server_port",
    "icmp_id",
    "icmp_type",
    "icmp_code",
    "ip_proto",
    "verdict",
    "path_verdict",
    "bypassed",
    "client_rule",
    "first_ts",
    "last_ts",
    "packets",
    "forward_path",
    "reverse_path",
    "points",
    "lost_after",
    "lost_between",
    "lost_direction",
    "sampled_packets",
    "matched_packets",
    "community_id",
    "reason",
];

/// Writes the CSV document; `d` gives the conversations' reasons and Community IDs (computed
/// here if it was not asked for them).
pub fn write(a: &Analysis, d: &Derived, mut out: impl Write) -> io::Result<()> {
    let mut head = Vec::new();
    for (i, c) in COLUMNS.iter().enumerate() {
        field(&mut head, i, |b| b.extend_from_slice(c.as_bytes()));
    }
    head.extend_from_slice(b"\r\n");
    out.write_all(&head)?;
    let names = a.point_names();
    let count = a.conversations.len().div_ceil(CHUNK_ROWS);
    chunks::write_in_order(&mut out, count, export::threads(), |chunk, buf| {
        let start = chunk * CHUNK_ROWS;
        let end = (start + CHUNK_ROWS).min(a.conversations.len());
        for (i, (c, j)) in a.conversations[start..end].iter().enumerate() {
            let k = start + i;
            let id = d.conversation_id(a, k);
            d.with_reason(a, k, |reason| {
                let r = Row {
                    id: a.id(k),
                    community_id: id.as_ref().map(|x| x.as_bytes()),
                    reason,
                };
                row(buf, &r, c, j, &names)
            });
        }
    })?;
    out.flush()
}

/// Appends field `index` of a row (a comma before all but the first), written by `write`
/// and then quoted if RFC 4180 asks it.
fn field(out: &mut Vec<u8>, index: usize, write: impl FnOnce(&mut Vec<u8>)) {
    separate(out, index);
    let start = out.len();
    write(out);
    quote(out, start);
}

/// Quotes the field that starts at `start` (the end of `out`) if RFC 4180 asks it: in
/// place, without a copy of the field or an allocation.
fn quote(out: &mut Vec<u8>, start: usize) {
    let text = out.get(start..).unwrap_or(&[]);
    let Some(first) = first_special(text) else {
        return;
    };
    let quotes = text[first..].iter().filter(|&&b| b == b'"').count();
    if quotes == 0 {
        out.insert(start, b'"');
        out.push(b'"');
        return;
    }
    let n = text.len();
    out.resize(out.len() + quotes + 2, b'"');
    let Some(field) = out.get_mut(start..) else {
        return;
    };
    // from the end: the closing quote stays, each byte moves right past the quotes
    // doubled after it, a quote is written twice
    let mut w = n + quotes + 1;
    for r in (0..n).rev() {
        let b = field[r];
        w -= 1;
        field[w] = b;
        if b == b'"' {
            w -= 1;
            field[w] = b'"';
        }
    }
    field[0] = b'"';
}

/// Where the first byte RFC 4180 quotes for (`,` `"` CR LF) is in `text`: eight bytes at a
/// time (a field of free text, the reason, is a sentence that rarely holds one).
fn first_special(text: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // a byte of `x` is zero: the classic test, exact for the lowest such byte
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut words = text.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_le_bytes(b);
        let hit = zero(v ^ (ONES * u64::from(b',')))
            | zero(v ^ (ONES * u64::from(b'"')))
            | zero(v ^ (ONES * u64::from(b'\r')))
            | zero(v ^ (ONES * u64::from(b'\n')));
        if hit != 0 {
            // the lowest flagged byte is exact; later ones may be false, and are not used
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = words.remainder();
    rest.iter()
        .position(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        .map(|i| at + i)
}

/// [`field`] for a value that cannot hold a comma, a quote or a line break (numbers,
/// addresses, times, flowcheck's own names, Community IDs): nothing to look for.
fn plain(out: &mut Vec<u8>, index: usize, write: impl FnOnce(&mut Vec<u8>)) {
    separate(out, index);
    let start = out.len();
    write(out);
    debug_assert!(!out[start..]
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')));
}

/// The comma before every field but the first.
fn separate(out: &mut Vec<u8>, index: usize) {
    if index > 0 {
        out.push(b',');
    }
}

/// Point names joined by a space.
fn names_field(out: &mut Vec<u8>, names: &[String], points: impl Iterator<Item = usize>) {
    for (k, p) in points.enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(names.get(p).map_or("", String::as_str).as_bytes());
    }
}

fn opt(out: &mut Vec<u8>, v: Option<u64>) {
    if let Some(v) = v {
        emit::uint(out, v);
    }
}

/// What a conversation's row holds besides the conversation and its judgement.
struct Row<'a> {
    id: usize,
    community_id: Option<&'a [u8]>,
    reason: &'a str,
}

/// One conversation's row, with its CRLF.
fn row(out: &mut Vec<u8>, r: &Row<'_>, c: &Conversation, j: &Judgement, names: &[String]) {
    let ports = c.kind == KeyKind::Ports;
    let port = |p: u16| ports.then_some(u64::from(p));
    let (icmp_id, icmp_type, icmp_code) = match c.kind {
        KeyKind::Echo { id } => (Some(u64::from(id)), None, None),
        KeyKind::Icmp { icmp_type, code } => (None, Some(icmp_type.into()), Some(code.into())),
        _ => (None, None, None),
    };
    let mut k = 0..;
    let mut next = || k.next().unwrap_or(0);
    plain(out, next(), |b| emit::uint(b, r.id as u64));
    plain(out, next(), |b| {
        b.extend_from_slice(c.proto_name().as_bytes())
    });
    plain(out, next(), |b| emit::ip_bare(b, c.client.ip));
    plain(out, next(), |b| opt(b, port(c.client.port)));
    plain(out, next(), |b| emit::ip_bare(b, c.server.ip));
    plain(out, next(), |b| opt(b, port(c.server.port)));
    plain(out, next(), |b| opt(b, icmp_id));
    plain(out, next(), |b| opt(b, icmp_type));
    plain(out, next(), |b| opt(b, icmp_code));
    plain(out, next(), |b| {
        opt(b, (c.kind == KeyKind::Other).then_some(c.ip_proto.into()))
    });
    plain(out, next(), |b| {
        b.extend_from_slice(j.verdict.name().as_bytes())
    });
    plain(out, next(), |b| {
        b.extend_from_slice(j.path_verdict.name().as_bytes())
    });
    field(out, next(), |b| {
        names_field(b, names, j.bypassed.iter().copied())
    });
    plain(out, next(), |b| {
        b.extend_from_slice(c.orientation.name().as_bytes())
    });
    plain(out, next(), |b| export::seconds(b, c.first_ts, 9));
    plain(out, next(), |b| export::seconds(b, c.last_ts, 9));
    plain(out, next(), |b| emit::uint(b, c.packets().iter().sum()));
    field(out, next(), |b| names_field(b, names, c.path_points(0)));
    field(out, next(), |b| names_field(b, names, c.path_points(1)));
    field(out, next(), |b| {
        names_field(b, names, c.points.iter().map(|p| p.point))
    });
    field(out, next(), |b| {
        names_field(b, names, c.lost_after().into_iter())
    });
    field(out, next(), |b| {
        names_field(b, names, c.lost_between().into_iter().flatten())
    });
    plain(out, next(), |b| {
        if let Some(l) = c.losses.first() {
            b.extend_from_slice(direction_name(l.dir()).as_bytes());
        }
    });
    plain(out, next(), |b| emit::uint(b, c.sampled_packets));
    plain(out, next(), |b| emit::uint(b, c.matched_packets));
    plain(out, next(), |b| {
        b.extend_from_slice(r.community_id.unwrap_or(b""))
    });
    field(out, next(), |b| b.extend_from_slice(r.reason.as_bytes()));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_to_quote_for_is_found_wherever_it_is() {
        for len in 0..40 {
            let plain = vec![b'a'; len];
            assert_eq!(first_special(&plain), None);
            for at in 0..len {
                for special in [b',', b'"', b'\r', b'\n'] {
                    let mut t = plain.clone();
                    t[at] = special;
                    // a later special byte, and bytes next to the special ones in value
                    if at + 3 < len {
                        t[at + 3] = b',';
                    }
                    if at > 0 {
                        t[at - 1] = special + 1;
                    }
                    assert_eq!(first_special(&t), Some(at), "{len} {at} {special}");
                }
            }
        }
        assert_eq!(first_special("é,ü".as_bytes()), Some(2));
        assert_eq!(
            first_special(&[0x80, 0xff, 0x2b, 0x2d, 0, 1, 2, 3, 9]),
            None
        );
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        let mut line = Vec::new();
        for (i, f) in ["plain", "a,b", "say \"hi\"", "two\nlines", ""]
            .iter()
            .enumerate()
        {
            field(&mut line, i, |b| b.extend_from_slice(f.as_bytes()));
        }
        assert_eq!(line, b"plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",");
        // quoted in place, after what the line already holds
        for (text, quoted) in [
            ("\"", "\"\"\"\""),
            ("\"\"x", "\"\"\"\"\"x\""),
            ("a\r", "\"a\r\""),
            ("end\"", "\"end\"\"\""),
        ] {
            let mut line = b"x".to_vec();
            field(&mut line, 1, |b| b.extend_from_slice(text.as_bytes()));
            assert_eq!(line, format!("x,{quoted}").as_bytes(), "{text:?}");
        }
    }
}
