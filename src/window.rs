//! window: `--from TIME` / `--to TIME`, a time window on the aligned timeline.
//!
//! TIME is RFC 3339 (`2026-11-25T03:40:33Z`, `2026-11-25 03:40:33.5+01:00`: a `T` or a space
//! between date and time, fractional seconds to the nanosecond, `Z` or an offset) or seconds
//! since the epoch (`1795578033`, `1795578033.25`), as `--json` prints times. A conversation is
//! in the window when any part of it is: it ends at or after `from` and starts at or before
//! `to`. Parsed here: two formats do not call for a date crate.

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a time: RFC 3339 (2026-11-25T03:40:33Z, with an offset or Z) or seconds since the epoch (1795578033.25)")]
pub struct TimeError(pub String);

/// Nanoseconds since the epoch from RFC 3339 or epoch seconds.
pub fn parse_time(s: &str) -> Result<i64, TimeError> {
    let t = s.trim();
    let err = || TimeError(s.to_string());
    if t.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-')
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !t[1..].contains('-')
    {
        return epoch_seconds(t).ok_or_else(err);
    }
    rfc3339(t).ok_or_else(err)
}

/// `1795578033.25` -> nanoseconds.
fn epoch_seconds(t: &str) -> Option<i64> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || (t.contains('.') && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let ns = frac_ns(frac)?;
    let v = secs.checked_mul(1_000_000_000)?.checked_add(ns)?;
    Some(if neg { -v } else { v })
}

/// Nanoseconds of a fraction's digits (`25` -> 250,000,000); at most 9 digits.
fn frac_ns(frac: &str) -> Option<i64> {
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ns: i64 = 0;
    for (k, b) in frac.bytes().enumerate() {
        ns += i64::from(b - b'0') * 10i64.pow(8 - k as u32);
    }
    Some(ns)
}

fn num(s: &str, digits: usize) -> Option<i64> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff](Z|±HH:MM)` -> nanoseconds since the epoch.
fn rfc3339(t: &str) -> Option<i64> {
    if t.len() < 20 || !t.is_char_boundary(10) || !t.is_char_boundary(11) {
        return None;
    }
    let (date, sep, rest) = (&t[..10], &t[10..11], &t[11..]);
    if !matches!(sep, "T" | "t" | " ") {
        return None;
    }
    let mut d = date.split('-');
    let (y, mo, da) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    if !(1..=12).contains(&mo) || da < 1 || da > days_in_month(y, mo) {
        return None;
    }
    // the zone: Z, or +HH:MM / -HH:MM at the end
    let (clock, offset_s) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let cut = rest.len().checked_sub(6)?;
        if !rest.is_char_boundary(cut) {
            return None;
        }
        let (c, z) = rest.split_at(cut);
        let sign = match &z[..1] {
            "+" => 1,
            "-" => -1,
            _ => return None,
        };
        let (h, m) = z[1..].split_once(':')?;
        let (h, m) = (num(h, 2)?, num(m, 2)?);
        if h > 23 || m > 59 {
            return None;
        }
        (c, sign * (h * 3600 + m * 60))
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    if clock.contains('.') && frac.is_empty() {
        return None;
    }
    let mut p = hms.split(':');
    let (h, mi, s) = (num(p.next()?, 2)?, num(p.next()?, 2)?, num(p.next()?, 2)?);
    if p.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, da);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns(frac)?)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm, the
/// inverse of the one in `report::text::clock_text`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time window; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Window {
    /// True when a conversation from `first` to `last` (aligned nanoseconds) overlaps it.
    pub fn overlaps(&self, first: i64, last: i64) -> bool {
        self.from.is_none_or(|f| last >= f) && self.to.is_none_or(|t| first <= t)
    }
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_578_033; // 2026-11-25T03:40:33Z

    #[test]
    fn rfc3339_with_zone_offset_and_fraction() {
        let ns = T * 1_000_000_000;
        assert_eq!(parse_time("2026-11-25T03:40:33Z"), Ok(ns));
        assert_eq!(parse_time("2026-11-25 03:40:33z"), Ok(ns));
        assert_eq!(parse_time("2026-11-25T04:40:33+01:00"), Ok(ns));
        assert_eq!(parse_time("2026-11-24T22:10:33-05:30"), Ok(ns));
        assert_eq!(parse_time("2026-11-25T03:40:33.5Z"), Ok(ns + 500_000_000));
        assert_eq!(parse_time("2026-11-25T03:40:33.000000001Z"), Ok(ns + 1));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_time("2024-02-29T00:00:00Z"),
            Ok(1_709_164_800_000_000_000)
        );
    }

    #[test]
    fn epoch_seconds_as_json_prints_them() {
        assert_eq!(parse_time("1795578033"), Ok(T * 1_000_000_000));
        assert_eq!(
            parse_time("1795578032.326609000"),
            Ok(1_795_578_032_326_609_000)
        );
        assert_eq!(parse_time("0.25"), Ok(250_000_000));
    }

    #[test]
    fn what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2026-11-25",
            "2026-11-25T03:40:33",
            "2026-13-25T03:40:33Z",
            "2026-02-30T03:40:33Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T03:40:33.Z",
            "2026-11-25T03:40:33.1234567890Z",
            "2026-11-25T03:40:33+1:00",
            "1.2.3",
            "99999999999999999999",
            "1795578033.",
            "2026-11-25T03:40:33é",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
        let e = parse_time("soon").unwrap_err().to_string();
        assert!(e.starts_with("'soon' is not a time"), "{e}");
    }

    #[test]
    fn overlap_keeps_conversations_that_cross_an_end() {
        let w = Window {
            from: Some(10),
            to: Some(20),
        };
        assert!(w.overlaps(5, 10));
        assert!(w.overlaps(20, 30));
        assert!(w.overlaps(0, 100));
        assert!(!w.overlaps(0, 9));
        assert!(!w.overlaps(21, 30));
        assert!(Window::default().overlaps(i64::MIN, i64::MIN));
    }
}
