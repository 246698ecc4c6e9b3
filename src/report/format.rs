//! format: how every report writes endpoints, times and the few names they share, in one
//! place.
//!
//! The terminal summary, the HTML and SVG pages, the CSV and the JSON all print an endpoint,
//! a time or a direction the same way; each is written here once. The byte-level printers of
//! the JSON and the exports ([`super::json::emit`]) print exactly these, without allocating,
//! and their tests check them against these functions. The stages that name endpoints in
//! their own text (a NAT's `describe`) use [`Endpoint::display`], which this module wraps.

use crate::correlate::Dir;
use crate::flow::Endpoint;

pub use crate::clock::clock_text;

/// `1.2.3.4:80`, `[2001:db8::1]:80`, or the bare address when `with_port` is false.
pub fn endpoint_text(e: &Endpoint, with_port: bool) -> String {
    e.display(with_port).to_string()
}

/// Nanoseconds since the epoch as tshark prints `frame.time_epoch`: `1607454603.986596000`.
pub fn ts_text(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    format!("{secs}.{frac:09}")
}

/// A length of time for a reader: `350 ms`, `12.5 s`, `3.2 min`, `3.0 h`.
pub fn duration_text(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// `1 packet`, `2 packets`: `n` and the word that fits it.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Common name of a LINKTYPE_* value.
pub fn link_type_name(lt: u32) -> String {
    match lt {
        0 => "null".into(),
        1 => "ethernet".into(),
        12 | 14 | 101 => "raw".into(),
        108 => "loop".into(),
        113 => "sll".into(),
        228 => "ipv4".into(),
        229 => "ipv6".into(),
        276 => "sll2".into(),
        n => format!("linktype-{n}"),
    }
}

/// A conversation's direction as the reports name it (`forward`, `reverse`).
pub fn direction_name(dir: Dir) -> &'static str {
    dir.name()
}

/// Escapes control characters (and DEL) as `\xNN`, and the characters that change how text
/// is shown without being seen ([`is_invisible`]) as `\u{NNNN}`: safe to print on a
/// terminal, and what is printed is what the name is.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            for b in c.to_string().bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else if is_invisible(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that change how the text around them is shown without being seen themselves:
/// bidirectional embeddings, overrides, marks and isolates (a name that reads backwards),
/// zero-width spaces and joiners, the word joiner, the byte order mark, the soft hyphen.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
    )
}

/// `s` cut to about `max` characters for an error message: its start and end, and how many
/// characters were left out between them (a 10,000-character name stays one short line).
pub fn clip(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max * 2 / 3).collect();
    let tail: String = s.chars().skip(n - max / 3).collect();
    format!(
        "{head}…({} characters left out)…{tail}",
        n - max * 2 / 3 - max / 3
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_tshark() {
        assert_eq!(ts_text(1_607_454_603_986_596_000), "1607454603.986596000");
        assert_eq!(ts_text(-1), "-1.999999999");
        assert_eq!(ts_text(0), "0.000000000");
    }

    #[test]
    fn endpoints_bracket_ipv6() {
        let e = Endpoint {
            ip: "2001:db8::1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(endpoint_text(&e, true), "[2001:db8::1]:80");
        assert_eq!(endpoint_text(&e, false), "2001:db8::1");
        let v4 = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 443,
        };
        assert_eq!(endpoint_text(&v4, true), "10.0.0.1:443");
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration_text(350_000_000), "350 ms");
        assert_eq!(duration_text(12_500_000_000), "12.5 s");
        assert_eq!(duration_text(192_000_000_000), "3.2 min");
        assert_eq!(duration_text(5_400_000_000_000), "90.0 min");
        assert_eq!(duration_text(10_800_000_000_000), "3.0 h");
    }
}
