//! The terminal's words for what the captures did not see (see [`crate::coverage`]): the
//! clock line's claims, each point's capture loss, and the coverage warnings.

use super::format::{plural, sanitize};
use super::Analysis;
use crate::coverage::{self, CaptureLoss, ClockStatus};

/// "times aligned on hub-nva's clock; spoke2-vm not aligned (no packet seen at it and at
/// another point)": the reference's clock only when some other point was aligned on it, and
/// every point that could not be, with why.
pub fn clock_line(a: &Analysis, names: &[String]) -> String {
    if a.clocks.assumed_synced {
        return "clocks assumed synchronised".to_string();
    }
    let name = |i: usize| sanitize(names.get(i).map(String::as_str).unwrap_or("?"));
    let claims = coverage::clock_claims(&a.points, &a.clocks);
    // the points not aligned, grouped by why
    let mut not: Vec<(String, &str)> = Vec::new();
    for status in [
        ClockStatus::CapturedNothing,
        ClockStatus::WindowsNeverOverlap,
        ClockStatus::NoSharedPacket,
    ] {
        let group: Vec<String> = claims
            .iter()
            .filter(|c| c.status == status)
            .map(|c| name(c.point))
            .collect();
        let why = match group.len() {
            0 => continue,
            1 => status.why_not(),
            _ => status.why_not_plural(),
        };
        if let Some(why) = why {
            not.push((group.join(", "), why));
        }
    }
    let reference = claims.iter().find(|c| c.status == ClockStatus::Reference);
    let aligned = claims.iter().any(|c| c.status == ClockStatus::Estimated);
    let mut line = match reference {
        Some(r) if aligned => format!("times aligned on {}'s clock", name(r.point)),
        _ if !not.is_empty() => {
            let groups: Vec<String> = not.iter().map(|(n, why)| format!("{n} ({why})")).collect();
            return format!("no clock aligned: {}", groups.join("; "));
        }
        _ => "clocks not estimated".to_string(),
    };
    for (names, why) in &not {
        line.push_str(&format!("; {names} not aligned ({why})"));
    }
    line
}

/// "capture loss: 4 packets that points after it on their path saw were not captured here, 1
/// hole in a TCP sequence another point saw whole (4 conversations); the interface dropped 3
/// packets" (None when nothing says the capture missed anything).
pub fn capture_loss_line(l: &CaptureLoss) -> Option<String> {
    if !l.any() {
        return None;
    }
    let mut parts = Vec::new();
    if l.packets_missing > 0 {
        parts.push(format!(
            "{} that points after it on their path saw not captured here",
            plural(l.packets_missing, "packet", "packets")
        ));
    }
    if l.tcp_gaps > 0 {
        parts.push(format!(
            "{} in a TCP sequence another point saw whole",
            plural(l.tcp_gaps, "hole", "holes")
        ));
    }
    let mut line = format!("capture loss: {}", parts.join(", "));
    if l.conversations > 0 {
        line.push_str(&format!(
            " ({})",
            plural(l.conversations, "conversation", "conversations")
        ));
    }
    let drops: Vec<String> = [
        ("the interface", l.dropped_by_interface),
        ("the operating system", l.dropped_by_os),
    ]
    .into_iter()
    .filter_map(|(who, n)| n.filter(|&n| n > 0).map(|n| format!("{who} dropped {n}")))
    .collect();
    if !drops.is_empty() {
        if !parts.is_empty() {
            line.push_str("; ");
        }
        line.push_str(&drops.join(", "));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_loss_is_said_only_when_there_is_some() {
        assert_eq!(capture_loss_line(&CaptureLoss::default()), None);
        let l = CaptureLoss {
            dropped_by_interface: Some(0),
            dropped_by_os: Some(3),
            tcp_gaps: 1,
            packets_missing: 4,
            conversations: 4,
        };
        assert_eq!(
            capture_loss_line(&l).as_deref(),
            Some(
                "capture loss: 4 packets that points after it on their path saw not captured \
                 here, 1 hole in a TCP sequence another point saw whole (4 conversations); the \
                 operating system dropped 3"
            )
        );
        let drops_only = CaptureLoss {
            dropped_by_interface: Some(2),
            ..CaptureLoss::default()
        };
        assert_eq!(
            capture_loss_line(&drops_only).as_deref(),
            Some("capture loss: the interface dropped 2")
        );
    }
}
