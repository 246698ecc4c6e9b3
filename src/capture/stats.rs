//! What a capture says about itself besides its packets: pcapng Interface Statistics Blocks
//! (`isb_starttime`, `isb_endtime`, `isb_ifdrop`, `isb_osdrop`), kept as [`InterfaceStats`].
//!
//! dumpcap writes one such block per interface when it stops (some writers one now and then):
//! when the capture started and ended, however long before the first packet or after the last
//! one, and how many packets the interface and the operating system dropped. The counters of
//! an interface are totals since the capture began, so the last block of each interface
//! counts; the capture's drops are the sum over its interfaces. Statistics are never worth
//! losing the packets over: a block that is too short, names an interface its section did not
//! declare, or holds an option of the wrong length is skipped and counted in
//! [`InterfaceStats::damaged_blocks`], and reading goes on.

use super::{MAX_TS_NS, MIN_TS_NS};

/// The statistics of a capture's interfaces, over every section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    /// The earliest `isb_starttime` (ns since the epoch), if any block gave one.
    pub start_ns: Option<i64>,
    /// The latest `isb_endtime`.
    pub end_ns: Option<i64>,
    /// Packets dropped by the interface (`isb_ifdrop`), summed over the interfaces that say.
    pub dropped_by_interface: Option<u64>,
    /// Packets dropped by the operating system / capture software (`isb_osdrop`).
    pub dropped_by_os: Option<u64>,
    /// Interface statistics blocks read.
    pub blocks: u64,
    /// Blocks skipped as damaged (see the module docs).
    pub damaged_blocks: u64,
}

/// The latest drop counters of one interface of the current section.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Drops {
    pub(super) interface: Option<u64>,
    pub(super) os: Option<u64>,
}

/// What one statistics block said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct BlockStats {
    pub(super) start_ns: Option<i64>,
    pub(super) end_ns: Option<i64>,
    pub(super) dropped_by_interface: Option<u64>,
    pub(super) dropped_by_os: Option<u64>,
}

/// A counter replaced by its newer value: the total moves by the difference.
fn replace(total: &mut Option<u64>, old: Option<u64>, new: Option<u64>) {
    let Some(new) = new else {
        return;
    };
    let base = total.unwrap_or(0).saturating_sub(old.unwrap_or(0));
    *total = Some(base.saturating_add(new));
}

impl InterfaceStats {
    /// Takes in one block of interface `id`, whose latest counters are `drops[id]` (the
    /// caller's per-interface table of the current section).
    pub(super) fn add(&mut self, drops: &mut Drops, b: BlockStats) {
        self.blocks += 1;
        let plausible = |t: i64| t != 0 && (MIN_TS_NS..=MAX_TS_NS).contains(&t);
        if let Some(t) = b.start_ns.filter(|&t| plausible(t)) {
            self.start_ns = Some(self.start_ns.map_or(t, |s| s.min(t)));
        }
        if let Some(t) = b.end_ns.filter(|&t| plausible(t)) {
            self.end_ns = Some(self.end_ns.map_or(t, |e| e.max(t)));
        }
        replace(
            &mut self.dropped_by_interface,
            drops.interface,
            b.dropped_by_interface,
        );
        replace(&mut self.dropped_by_os, drops.os, b.dropped_by_os);
        drops.interface = b.dropped_by_interface.or(drops.interface);
        drops.os = b.dropped_by_os.or(drops.os);
    }

    /// The capture window `first..=last` (first and last packet) widened, never narrowed, by
    /// the statistics' start and end; the statistics alone when no packet was captured.
    pub fn widen(&self, first: Option<i64>, last: Option<i64>) -> Option<(i64, i64)> {
        let lo = match (first, self.start_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let hi = match (last, self.end_ns) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_blocks_of_an_interface_replace_its_counters_and_interfaces_add_up() {
        let mut s = InterfaceStats::default();
        let mut if0 = Drops::default();
        let mut if1 = Drops::default();
        let block = |i, o| BlockStats {
            dropped_by_interface: i,
            dropped_by_os: o,
            ..BlockStats::default()
        };
        s.add(&mut if0, block(Some(3), None));
        s.add(&mut if0, block(Some(5), Some(1)));
        s.add(&mut if1, block(Some(2), None));
        assert_eq!(s.dropped_by_interface, Some(7));
        assert_eq!(s.dropped_by_os, Some(1));
        // a block without the counter keeps the one before
        s.add(&mut if0, block(None, None));
        assert_eq!(s.dropped_by_interface, Some(7));
        assert_eq!(s.blocks, 4);
    }

    #[test]
    fn the_window_is_widened_never_narrowed() {
        let s = InterfaceStats {
            start_ns: Some(100),
            end_ns: Some(150),
            ..InterfaceStats::default()
        };
        assert_eq!(s.widen(Some(120), Some(200)), Some((100, 200)));
        assert_eq!(s.widen(Some(90), Some(140)), Some((90, 150)));
        assert_eq!(s.widen(None, None), Some((100, 150)));
        assert_eq!(
            InterfaceStats::default().widen(Some(1), Some(2)),
            Some((1, 2))
        );
        assert_eq!(InterfaceStats::default().widen(None, None), None);
    }

    #[test]
    fn an_unset_or_absurd_time_is_not_taken() {
        let mut s = InterfaceStats::default();
        s.add(
            &mut Drops::default(),
            BlockStats {
                start_ns: Some(0),
                end_ns: Some(i64::MAX),
                ..BlockStats::default()
            },
        );
        assert_eq!((s.start_ns, s.end_ns), (None, None));
    }
}
