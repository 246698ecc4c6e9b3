//! The names of ICMP and ICMPv6 errors, for the sentences and the reports.

/// Human name of an ICMP/ICMPv6 error.
pub fn icmp_error_name(v6: bool, t: u8, code: u8) -> String {
    match icmp_error_text(v6, t, code) {
        Some(s) => s.to_string(),
        None => format!("ICMP type {t} code {code}"),
    }
}

/// The name of the ICMP errors that have one (see [`icmp_error_name`]).
pub fn icmp_error_text(v6: bool, t: u8, code: u8) -> Option<&'static str> {
    let s = match (v6, t, code) {
        (false, 3, 0) | (true, 1, 3) => "host unreachable (net)",
        (false, 3, 1) => "host unreachable",
        (false, 3, 2) => "protocol unreachable",
        (false, 3, 3) | (true, 1, 4) => "port unreachable",
        (false, 3, 4) => "fragmentation needed",
        (false, 3, 9 | 10 | 13) | (true, 1, 1) => "administratively prohibited",
        (false, 3, _) | (true, 1, _) => "destination unreachable",
        (false, 11, 0) | (true, 3, 0) => "TTL exceeded in transit",
        (false, 11, _) | (true, 3, _) => "time exceeded",
        (false, 12, _) | (true, 4, _) => "parameter problem",
        (false, 4, _) => "source quench",
        (true, 2, _) => "packet too big",
        _ => return None,
    };
    Some(s)
}
