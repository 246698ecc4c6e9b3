//! emit: the scalar pieces of the JSON document, appended straight to a byte buffer.
//!
//! Each prints exactly what the slow path printed (serde_json for numbers and strings, std's
//! `Display` for addresses, [`crate::report::format::ts_text`] for times), without allocating: the
//! buffer is the only memory written to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::Endpoint;

/// `"00" "01" .. "99"`: two decimal digits at a time.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `v` in decimal into the end of `buf`, returning where the digits start.
fn digits(buf: &mut [u8; 20], v: u64) -> usize {
    let mut i = buf.len();
    let mut v = v;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

/// An unsigned integer in decimal.
pub fn uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let start = digits(&mut buf, v);
    out.extend_from_slice(&buf[start..]);
}

/// A byte in decimal (an address octet, a TTL).
fn octet(out: &mut Vec<u8>, v: u8) {
    if v >= 100 {
        out.push(b'0' + v / 100);
        let pair = (v % 100) as usize * 2;
        out.extend_from_slice(&PAIRS[pair..pair + 2]);
    } else if v >= 10 {
        let pair = v as usize * 2;
        out.extend_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        out.push(b'0' + v);
    }
}

/// `u8` values as a JSON array: `[62,64]`.
pub fn u8_array(out: &mut Vec<u8>, vals: &[u8]) {
    out.push(b'[');
    for (i, &v) in vals.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        octet(out, v);
    }
    out.push(b']');
}

/// An optional integer: the number, or `null`.
pub fn opt_uint(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => uint(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// `true` or `false`.
pub fn boolean(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

/// A float as serde_json prints it (`null` when not finite).
pub fn float(out: &mut Vec<u8>, v: f64) {
    // serde_json owns the shortest round-trip formatting; writing one number into a Vec
    // allocates nothing beyond the Vec's own growth and cannot fail.
    if serde_json::to_writer(&mut *out, &v).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// A time as [`crate::report::format::ts_text`] prints it, quoted: `"1607454603.986596000"`.
pub fn ts(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u64;
    // the whole string is put together here and appended at once
    let mut text = [0u8; 33]; // '"' '-' 19 digits '.' 9 digits '"'
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        if let Some(dst) = text.get_mut(n..n + bytes.len()) {
            dst.copy_from_slice(bytes);
            n += bytes.len();
        }
    };
    put(b"\"");
    if secs < 0 {
        put(b"-");
    }
    let mut buf = [0u8; 20];
    let start = digits(&mut buf, secs.unsigned_abs());
    put(&buf[start..]);
    // nine digits: four pairs and the last one
    let mut nine = [b'.', 0, 0, 0, 0, 0, 0, 0, 0, 0, b'"'];
    let (mut high, last) = (frac / 10, (frac % 10) as u8);
    for at in [7, 5, 3, 1] {
        let pair = (high % 100) as usize * 2;
        high /= 100;
        nine[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    nine[9] = b'0' + last;
    put(&nine);
    out.extend_from_slice(&text[..n]);
}

fn ipv4(out: &mut Vec<u8>, a: Ipv4Addr) {
    // each octet's digits and a dot from a table, into a buffer on the stack; the buffer
    // is appended whole (a fixed-size copy) and the end cut off
    let mut buf = [0u8; 16];
    let mut n = 0;
    for o in a.octets() {
        let (text, len) = OCTETS[usize::from(o)];
        if let Some(slot) = buf.get_mut(n..n + 4) {
            slot.copy_from_slice(&text);
        }
        n += usize::from(len);
    }
    let start = out.len();
    out.extend_from_slice(&buf);
    // the last octet's dot is cut with the rest
    out.truncate(start + n - 1);
}

/// Each byte's decimal digits followed by a dot, and how many bytes of that are text.
const OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u8;
        let (d, len) = if v >= 100 {
            ([b'0' + v / 100, b'0' + v / 10 % 10, b'0' + v % 10, b'.'], 4)
        } else if v >= 10 {
            ([b'0' + v / 10, b'0' + v % 10, b'.', 0], 3)
        } else {
            ([b'0' + v, b'.', 0, 0], 2)
        };
        t[i] = (d, len);
        i += 1;
    }
    t
};

/// A 16-bit group in lower-case hex without leading zeros.
fn hex_group(out: &mut Vec<u8>, g: u16) {
    let mut shift = 12;
    while shift > 0 && (g >> shift) == 0 {
        shift -= 4;
    }
    loop {
        out.push(HEX[((g >> shift) & 0xf) as usize]);
        if shift == 0 {
            break;
        }
        shift -= 4;
    }
}

fn hex_groups(out: &mut Vec<u8>, groups: &[u16]) {
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        hex_group(out, g);
    }
}

/// As std prints an IPv6 address: IPv4-mapped ones as `::ffff:a.b.c.d`, otherwise hex groups
/// with the first longest run of two or more zero groups written `::`.
fn ipv6(out: &mut Vec<u8>, a: Ipv6Addr) {
    if let Some(v4) = a.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        ipv4(out, v4);
        return;
    }
    let g = a.segments();
    // the first longest run of zero groups: (start, len)
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, &s) in g.iter().enumerate() {
        if s != 0 {
            run = (i + 1, 0);
            continue;
        }
        run.1 += 1;
        if run.1 > best.1 {
            best = run;
        }
    }
    let (start, len) = best;
    if len > 1 {
        hex_groups(out, &g[..start]);
        out.extend_from_slice(b"::");
        hex_groups(out, &g[start + len..]);
    } else {
        hex_groups(out, &g);
    }
}

/// An address, unquoted, as its `Display` prints it.
pub fn ip_bare(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => ipv4(out, a),
        IpAddr::V6(a) => ipv6(out, a),
    }
}

/// An address as a JSON string: `"10.0.0.1"`.
pub fn ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.push(b'"');
    ip_bare(out, ip);
    out.push(b'"');
}

/// [`crate::report::format::endpoint_text`] as a JSON string: `"1.2.3.4:80"`, `"[2001:db8::1]:80"`,
/// or the bare address when `with_port` is false.
pub fn endpoint(out: &mut Vec<u8>, e: &Endpoint, with_port: bool) {
    out.push(b'"');
    match (e.ip, with_port) {
        (ip, false) => ip_bare(out, ip),
        (IpAddr::V4(a), true) => {
            ipv4(out, a);
            out.push(b':');
            uint(out, e.port.into());
        }
        (IpAddr::V6(a), true) => {
            out.push(b'[');
            ipv6(out, a);
            out.extend_from_slice(b"]:");
            uint(out, e.port.into());
        }
    }
    out.push(b'"');
}

/// True for the bytes serde_json escapes in strings: control characters, `"` and `\`.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// True when one of the eight bytes of `w` may need escaping (see [`needs_escape`]): the
/// classic tests for a byte below a value and for a zero byte (after an exclusive-or with the
/// byte looked for), which have no false negatives.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let control = below(w, 0x20);
    let quote = below(w ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(w ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

/// A string, quoted and escaped as serde_json does: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
/// `\t`, other control characters as `\u00xx`; everything else (UTF-8 included) as is.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // eight bytes at a time up to the first word that may need escaping (most strings have
    // none: names, sentences), then byte by byte from there
    let mut clean = 0;
    for word in bytes.chunks_exact(8) {
        match <[u8; 8]>::try_from(word) {
            Ok(w) if !word_needs_escape(u64::from_le_bytes(w)) => clean += 8,
            _ => break,
        }
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A list of strings as a JSON array.
pub fn str_array<'a>(out: &mut Vec<u8>, items: impl IntoIterator<Item = &'a str>) {
    out.push(b'[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    use crate::test_rng::Rng;

    #[test]
    fn integers_print_like_display() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut cases: Vec<u64> = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, u64::MAX];
        for p in 0..20 {
            let x = 10u64.pow(p);
            cases.extend([x - 1, x, x + 1]);
        }
        cases.extend((0..10_000).map(|_| rng.next() >> (rng.next() % 64)));
        for v in cases {
            assert_eq!(with(|o| uint(o, v)), v.to_string());
        }
        for v in 0..=255u8 {
            assert_eq!(with(|o| octet(o, v)), v.to_string());
        }
        assert_eq!(with(|o| u8_array(o, &[])), "[]");
        assert_eq!(with(|o| u8_array(o, &[1, 64, 255])), "[1,64,255]");
        assert_eq!(with(|o| opt_uint(o, None)), "null");
        assert_eq!(with(|o| opt_uint(o, Some(7))), "7");
    }

    #[test]
    fn times_print_like_ts_text() {
        let mut rng = Rng(42);
        let mut cases = vec![
            0,
            -1,
            1,
            999_999_999,
            1_000_000_000,
            -1_000_000_000,
            -1_000_000_001,
            1_607_454_603_986_596_000,
            i64::MAX,
            i64::MIN,
        ];
        cases.extend((0..10_000).map(|_| (rng.next() >> (rng.next() % 64)) as i64));
        for ns in cases {
            let want = format!("\"{}\"", crate::report::format::ts_text(ns));
            assert_eq!(with(|o| ts(o, ns)), want, "{ns}");
        }
    }

    #[test]
    fn addresses_print_like_display() {
        let mut cases: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.100.201.4",
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:0:1:0:0:1",
            "2001:0:0:1:0:0:0:1",
            "1:0:1:0:1:0:1:0",
            "0:1:0:1:0:1:0:1",
            "::ffff:10.0.0.1",
            "::ffff:0.0.0.0",
            "::10.0.0.1",
            "::ffff:0:10.0.0.1",
            "64:ff9b::10.0.0.1",
            "fe80::1:2:3:4",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "abcd:ef01:2345:6789:0:a:bc:def",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        // every pattern of zero groups, with varied non-zero groups
        let mut rng = Rng(7);
        for mask in 0u32..256 {
            for _ in 0..8 {
                let mut g = [0u16; 8];
                for (i, s) in g.iter_mut().enumerate() {
                    if mask & (1 << i) != 0 {
                        *s = (rng.next() >> (rng.next() % 64)) as u16;
                    }
                }
                cases.push(IpAddr::V6(Ipv6Addr::from(g)));
            }
        }
        cases.extend((0..5_000).map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32))));
        // every octet value in every place (one, two and three digits), and mapped into v6
        for v in 0..=255u8 {
            let a = Ipv4Addr::new(v, 255 - v, v / 3, v.wrapping_mul(7));
            cases.push(IpAddr::V4(a));
            cases.push(IpAddr::V6(a.to_ipv6_mapped()));
        }
        for ip in cases {
            assert_eq!(with(|o| ip_bare(o, ip)), ip.to_string());
            assert_eq!(with(|o| super::ip(o, ip)), format!("\"{ip}\""));
            for port in [0, 7, 80, 65535] {
                let e = Endpoint { ip, port };
                for with_port in [false, true] {
                    let want = format!(
                        "\"{}\"",
                        crate::report::format::endpoint_text(&e, with_port)
                    );
                    assert_eq!(with(|o| endpoint(o, &e, with_port)), want);
                }
            }
        }
    }

    #[test]
    fn words_that_need_escaping_are_all_found() {
        let mut rng = Rng(7);
        for _ in 0..200_000 {
            let w = rng.next();
            let want = w.to_le_bytes().iter().any(|&b| needs_escape(b));
            assert_eq!(word_needs_escape(w), want, "{w:#018x}");
        }
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut bytes = [b'a'; 8];
                bytes[at] = b;
                let w = u64::from_le_bytes(bytes);
                assert_eq!(word_needs_escape(w), needs_escape(b), "{b} at {at}");
            }
        }
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let mut cases: Vec<String> = [
            "",
            "hub-nva",
            "a\"b\\c\n\u{1}",
            "\u{8}\u{c}\t\r\n\u{0}\u{1f}\u{7f} é ✓ 😀",
            "\"",
            "\\\\",
            "ends with \u{1b}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.push((0u8..128).map(char::from).collect());
        // every byte that needs escaping, at every place of a word, behind clean words
        for b in (0u8..0x20).chain([b'"', b'\\']) {
            for at in 0..24 {
                let mut t: Vec<char> = "ab\u{e9}cdefghijklmnopqrstuvwxyz".chars().collect();
                t.insert(at, char::from(b));
                cases.push(t.into_iter().collect());
            }
        }
        for s in cases {
            let want = serde_json::to_string(&s).unwrap();
            assert_eq!(with(|o| string(o, &s)), want);
        }
        assert_eq!(
            with(|o| str_array(o, ["a", "b\"", ""])),
            serde_json::to_string(&["a", "b\"", ""]).unwrap()
        );
        assert_eq!(with(|o| str_array(o, [])), "[]");
    }

    #[test]
    fn floats_print_like_serde_json() {
        for v in [0.0, -0.0, 1.0, 0.1, 1.5e-7, 123_456.789, 1e21, f64::MAX] {
            assert_eq!(with(|o| float(o, v)), serde_json::to_string(&v).unwrap());
        }
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(with(|o| float(o, v)), "null");
        }
        assert_eq!(with(|o| boolean(o, true)), "true");
        assert_eq!(with(|o| boolean(o, false)), "false");
    }
}
