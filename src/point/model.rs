//! What reading a capture point leaves for the later stages: the point as named, its
//! summary (format, counts, window, damage, capture loss) and its flows.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::flow::{Flow, Link};

/// A capture point as named by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointInput {
    pub name: String,
    pub path: PathBuf,
}

/// Damage found while reading a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset in the (decompressed) file of the damaged record.
    pub offset: u64,
    pub reason: String,
}

/// What was read at one capture point.
#[derive(Debug, Clone, Default)]
pub struct PointSummary {
    pub name: String,
    pub path: PathBuf,
    /// `pcap`, `pcap-ns`, `pcap-modified`, `pcapng`, with `+gzip`, `+zstd` or `+lz4` when
    /// compressed; empty when the file could not be opened as a capture.
    pub format: String,
    pub link_types: Vec<u32>,
    /// Frames read.
    pub packets: u64,
    /// Wire bytes of the frames read.
    pub bytes: u64,
    /// Frames decoded into a packet.
    pub decoded: u64,
    /// Frames not decoded, by reason (`SkipReason::name`).
    pub not_decoded: BTreeMap<&'static str, u64>,
    /// Frames of link types flowcheck does not decode, by link type.
    pub unsupported_link_types: BTreeMap<u32, u64>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Frames whose time stamp is earlier than the one before them.
    pub clock_steps_back: u64,
    /// Zero bytes after the end of the gzip stream, ignored with a warning (as gzip does).
    pub gzip_trailing_zeros: u64,
    /// Time stamps that were invalid and normalised by the reader.
    pub timestamp_fixups: u64,
    /// Packets seen twice because this point forwarded them (the leaving leg).
    pub forwarded_packets: u64,
    /// Packets not tracked because the flow cap was reached (`--max-flows`, the run's total)
    /// or the flow table ran out of memory.
    pub packets_over_flow_cap: u64,
    /// The flow table could not grow (the allocator refused): from then on packets of new
    /// flows were counted in `packets_over_flow_cap`, not tracked.
    pub flow_table_out_of_memory: bool,
    pub damage: Option<Damage>,
    /// What the capture's pcapng interface statistics blocks say (its start and end, its
    /// drops); empty without them.
    pub interface_stats: crate::capture::InterfaceStats,
    /// What this point's capture missed that other points saw (filled in after correlation;
    /// see [`crate::coverage`]).
    pub capture_loss: CaptureLoss,
}

impl PointSummary {
    /// The capture window on the point's own clock: first to last packet, widened by the
    /// interface statistics' start and end when they say more; `None` when it captured
    /// nothing and no statistics say when it ran.
    pub fn window(&self) -> Option<(i64, i64)> {
        self.interface_stats.widen(self.first_ts, self.last_ts)
    }
}

/// One point analysed: its summary, its flows in order of first packet, its forwarding links.
#[derive(Debug, Clone)]
pub struct PointResult {
    pub summary: PointSummary,
    pub flows: Vec<Flow>,
    pub links: Vec<Link>,
}

/// What one point's capture missed (filled in after correlation by [`crate::coverage`], which says how).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureLoss {
    /// `isb_ifdrop` summed over the interfaces (None: no statistics said).
    pub dropped_by_interface: Option<u64>,
    /// `isb_osdrop` summed over the interfaces (None: no statistics said).
    pub dropped_by_os: Option<u64>,
    /// Holes in TCP sequences that another point saw whole.
    pub tcp_gaps: u64,
    /// Packets (records: a forwarded packet's legs count each) that points after this one
    /// on a path saw, and this one did not record.
    pub packets_missing: u64,
    /// Conversations with a gap or a missing packet here.
    pub conversations: u64,
}

impl CaptureLoss {
    /// True when any evidence says the capture missed packets.
    pub fn any(&self) -> bool {
        self.dropped_by_interface.unwrap_or(0) > 0
            || self.dropped_by_os.unwrap_or(0) > 0
            || self.tcp_gaps > 0
            || self.packets_missing > 0
    }
}
