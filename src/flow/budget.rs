//! budget: the flows the whole run may track, shared by its capture points.
//!
//! `--max-flows` bounds the run, not each point: three captures of two million flows each
//! would otherwise hold six million flows (about 6 GB with their samples and conversations).
//! The points read in parallel and draw on one [`FlowBudget`]; a table takes its flows from
//! it [`GRANT`] at a time (one atomic operation per [`GRANT`] new flows, none per packet) and
//! gives back what it did not use when its capture ends. A table that cannot take a flow
//! counts the packets of further flows in `dropped_packets`, as it does at its own cap.
//!
//! The table's own memory is grown with `try_reserve`: when the allocator refuses, the table
//! stops opening flows (the packets are counted, `out_of_memory` is set) instead of aborting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Flows a table takes from the budget at a time.
pub const GRANT: usize = 1024;

/// Flows the whole run may still open.
#[derive(Debug)]
pub struct FlowBudget {
    left: AtomicUsize,
    total: usize,
}

impl FlowBudget {
    pub fn new(total: usize) -> Arc<FlowBudget> {
        Arc::new(FlowBudget {
            left: AtomicUsize::new(total),
            total,
        })
    }

    /// The run's total (`--max-flows`).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Flows not yet taken by any table.
    pub fn left(&self) -> usize {
        self.left.load(Ordering::Relaxed)
    }

    /// Takes up to `want` flows; returns how many were granted (0 when spent).
    fn take(&self, want: usize) -> usize {
        let mut got = 0;
        let _ = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                got = left.min(want);
                Some(left - got)
            });
        got
    }

    fn give_back(&self, n: usize) {
        if n > 0 {
            self.left.fetch_add(n, Ordering::AcqRel);
        }
    }
}

impl super::FlowTable {
    /// Draws this table's flows from `budget` (shared with the other points' tables), on top
    /// of its own `max_flows`.
    pub fn with_budget(mut self, budget: Arc<FlowBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// True when the flow table could not grow (the allocator refused): packets of new flows
    /// were counted, not tracked, from then on.
    pub fn out_of_memory(&self) -> bool {
        self.out_of_memory
    }

    /// Whether one more flow may be opened: within `max_flows`, granted by the budget, and
    /// with room in the table (reserved here, so that the push that follows cannot fail).
    pub(super) fn may_open(&mut self) -> bool {
        if self.flows.len() >= self.max_flows || self.out_of_memory {
            return false;
        }
        if let Some(b) = &self.budget {
            if self.granted == 0 {
                self.granted = b.take(GRANT);
                if self.granted == 0 {
                    return false;
                }
            }
        }
        if crate::oom::fallible(|| self.flows.try_reserve(1)).is_err() {
            self.out_of_memory = true;
            return false;
        }
        if let Some(g) = self.granted.checked_sub(1) {
            self.granted = g;
        }
        true
    }

    /// Returns the flows granted and not used to the budget (the capture ended).
    pub(super) fn return_grant(&mut self) {
        if let Some(b) = &self.budget {
            b.give_back(std::mem::take(&mut self.granted));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Packet, Transport};
    use crate::flow::FlowTable;

    fn datagram(i: u32) -> Packet {
        Packet {
            src: std::net::IpAddr::from((0x0a00_0000 + i).to_be_bytes()),
            dst: std::net::IpAddr::from([10, 200, 0, 1]),
            ip_proto: 17,
            ttl: 64,
            ip_id: i,
            ip_len: 32,
            fragment: None,
            transport: Transport::Udp {
                sport: 1000,
                dport: 53,
            },
            payload_len: 4,
            digest: 0,
            digest_len: 0,
            encap: 0,
            vlan_count: 0,
            truncated: false,
            link_group: false,
        }
    }

    #[test]
    fn tables_share_the_run_total_exactly() {
        let budget = FlowBudget::new(2500);
        let mut tables: Vec<FlowTable> = (0..3)
            .map(|_| FlowTable::new(usize::MAX).with_budget(budget.clone()))
            .collect();
        for i in 0..2000u32 {
            for (t, table) in tables.iter_mut().enumerate() {
                table.add(
                    &datagram(i * 3 + t as u32),
                    i64::from(i),
                    60,
                    u64::from(i) + 1,
                );
            }
        }
        let flows: usize = tables.iter().map(|t| t.len()).sum();
        let dropped: u64 = tables.iter().map(|t| t.dropped_packets).sum();
        assert_eq!(flows, 2500, "the run's total, not more");
        assert_eq!(
            dropped,
            6000 - 2500,
            "every packet of a flow left out is counted"
        );
        for mut t in tables {
            t.return_grant();
        }
        assert_eq!(budget.left(), 0);
    }

    #[test]
    fn a_table_that_ends_gives_back_what_it_did_not_use() {
        let budget = FlowBudget::new(10_000);
        let mut a = FlowTable::new(usize::MAX).with_budget(budget.clone());
        a.add(&datagram(1), 0, 60, 1);
        assert_eq!(budget.left(), 10_000 - GRANT);
        a.return_grant();
        assert_eq!(budget.left(), 10_000 - 1);
    }
}
