//! The JSON of what the captures did not see (see [`crate::coverage`]): each point's
//! `capture_loss`, and the document's `clocks` and `warnings`.

use serde::Serialize;

use crate::coverage::{self, CaptureLoss};
use crate::report::Analysis;

/// `points[].capture_loss`.
#[derive(Serialize)]
pub struct CaptureLossRow {
    /// Packets the interface dropped (pcapng `isb_ifdrop`; null: the capture does not say).
    pub dropped_by_interface: Option<u64>,
    /// Packets the operating system dropped (pcapng `isb_osdrop`; null: not said).
    pub dropped_by_os: Option<u64>,
    /// Holes in TCP sequences another point saw whole.
    pub tcp_gaps: u64,
    /// Packets points after this one on a path saw and this one did not record.
    pub packets_missing: u64,
    /// Conversations with such a gap or missing packet here.
    pub conversations: u64,
}

pub fn loss_row(l: &CaptureLoss) -> CaptureLossRow {
    CaptureLossRow {
        dropped_by_interface: l.dropped_by_interface,
        dropped_by_os: l.dropped_by_os,
        tcp_gaps: l.tcp_gaps,
        packets_missing: l.packets_missing,
        conversations: l.conversations,
    }
}

/// One entry of `clocks`.
#[derive(Serialize)]
pub struct ClockRow {
    pub point: String,
    /// reference, estimated, assumed_synced, captured_nothing, windows_never_overlap,
    /// no_shared_packet.
    pub status: &'static str,
    /// True when the point's times are aligned on the reference's clock by an estimate (the
    /// reference itself included).
    pub estimated: bool,
    /// This point's clock minus the reference's, in seconds (null: not estimated).
    pub offset_s: Option<f64>,
    pub uncertainty_s: Option<f64>,
    /// Why the offset could not be estimated, in words (null when it was).
    pub why_not: Option<&'static str>,
}

/// The document's `clocks` and `warnings`, after `points`.
#[derive(Serialize)]
pub struct HeadCoverage {
    pub clocks: Vec<ClockRow>,
    /// Warnings about the captures' coverage (windows that overlap no other point's).
    pub warnings: Vec<String>,
}

pub fn head(a: &Analysis) -> HeadCoverage {
    let clocks = coverage::clock_claims(&a.points, &a.clocks)
        .into_iter()
        .map(|c| ClockRow {
            point: a.points[c.point].summary.name.clone(),
            status: c.status.name(),
            estimated: c.offset_ns.is_some(),
            offset_s: c.offset_ns.map(|o| o as f64 / 1e9),
            uncertainty_s: c.uncertainty_ns.map(|u| u as f64 / 1e9),
            why_not: c.status.why_not(),
        })
        .collect();
    HeadCoverage {
        clocks,
        warnings: coverage::warnings(&a.points, &a.clocks),
    }
}
