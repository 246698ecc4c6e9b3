//! The flow table's index: from a flow key to the flow's position in the table.
//!
//! Open addressing with linear probing over one array of 8-byte slots, each holding the
//! position of a flow (plus one; 0 is an empty slot) and 32 bits of its key's hash as a tag.
//! A lookup reads one slot (rarely two), compares the tag, and only then the key itself, in
//! the flow record the packet is about to update anyway: for a table far larger than the
//! caches that is one cache miss for the index and one for the flow, where a general map
//! costs a control byte, an index slot and an entry before the flow is reached. The array is
//! kept at most half full and doubles when it would not be.

use super::{Flow, FlowKey};
use crate::hash::FastState;
use std::hash::BuildHasher;

/// Slots of a new index (a power of two).
const INITIAL_SLOTS: usize = 1 << 10;

/// Index from flow keys to positions in a `Vec<Flow>` (the flows themselves live there).
pub(super) struct FlowIndex {
    /// `tag << 32 | (position + 1)`, or 0 for an empty slot. Length a power of two.
    slots: Vec<u64>,
    len: usize,
}

/// Where a key is, or where it would go.
pub(super) enum Slot {
    Found(usize),
    Vacant(usize),
}

/// The hash of a flow key as the index uses it: low bits pick the slot, high bits the tag.
#[inline]
pub(super) fn key_hash(key: &FlowKey) -> u64 {
    FastState::default().hash_one(key)
}

#[inline]
fn tag(hash: u64) -> u64 {
    hash >> 32
}

/// What a slot holds for the flow at `pos` whose key hashes to `hash`.
#[inline]
fn slot_value(hash: u64, pos: usize) -> u64 {
    tag(hash) << 32 | (pos as u64 + 1)
}

/// The position a taken slot holds, when its tag is that of `hash`.
#[inline]
fn candidate(slot: u64, hash: u64) -> Option<usize> {
    (slot != 0 && slot >> 32 == tag(hash)).then(|| (slot as u32 as usize).wrapping_sub(1))
}

impl FlowIndex {
    pub(super) fn new() -> FlowIndex {
        FlowIndex {
            slots: vec![0; INITIAL_SLOTS],
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Looks `key` (whose [`key_hash`] is `hash`) up among `flows`.
    #[inline]
    pub(super) fn find(&self, hash: u64, key: &FlowKey, flows: &[Flow]) -> Slot {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots.get(i).copied().unwrap_or(0);
            if s == 0 {
                return Slot::Vacant(i);
            }
            if let Some(pos) = candidate(s, hash) {
                if flows.get(pos).is_some_and(|f| f.key == *key) {
                    return Slot::Found(pos);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that the flow at `pos` has a key hashing to `hash`, in the vacant slot `at`
    /// that [`find`](Self::find) returned (and nothing was inserted since). `flows` holds
    /// every flow indexed so far, to rehash them when the index grows. False (nothing
    /// inserted) when the index had to grow and the allocator refused the memory.
    #[must_use]
    pub(super) fn insert(&mut self, at: usize, hash: u64, pos: usize, flows: &[Flow]) -> bool {
        if (self.len + 1) * 2 > self.slots.len() {
            if !self.grow(flows) {
                return false;
            }
            self.put(hash, pos);
        } else if let Some(s) = self.slots.get_mut(at) {
            *s = slot_value(hash, pos);
        }
        self.len += 1;
        true
    }

    /// Writes a position into the first empty slot of its probe sequence.
    fn put(&mut self, hash: u64, pos: usize) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.slots.get(i).is_some_and(|&s| s != 0) {
            i = (i + 1) & mask;
        }
        if let Some(s) = self.slots.get_mut(i) {
            *s = slot_value(hash, pos);
        }
    }

    /// Doubles the slots and reinserts every flow indexed so far (positions below `len`).
    /// False, the index unchanged, when the allocator refuses the new slots.
    fn grow(&mut self, flows: &[Flow]) -> bool {
        let n = self.slots.len().saturating_mul(2);
        let mut slots: Vec<u64> = Vec::new();
        if crate::oom::fallible(|| slots.try_reserve_exact(n)).is_err() {
            return false;
        }
        slots.resize(n, 0);
        self.slots = slots;
        for (pos, f) in flows.iter().enumerate().take(self.len) {
            self.put(key_hash(&f.key), pos);
        }
        true
    }

    /// Asks the processor to fetch the flow the first slot of `hash` points to, if that slot
    /// is taken (the slot itself should have been prefetched a while before).
    #[inline]
    pub(super) fn prefetch_flow(&self, hash: u64, flows: &[Flow]) {
        let s = self.slots.get(hash as usize & self.mask()).copied();
        if let Some(f) = s
            .and_then(|s| candidate(s, hash))
            .and_then(|p| flows.get(p))
        {
            crate::hash::prefetch(f);
            crate::hash::prefetch(&f.packets);
        }
    }

    /// Asks the processor to fetch the slot `hash` starts at (a hint: the lookup that follows
    /// finds it in the cache).
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if let Some(s) = self.slots.get(hash as usize & self.mask()) {
            crate::hash::prefetch(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Endpoint, KeyKind};

    fn flow(port: u16) -> Flow {
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
            port,
        };
        Flow {
            key: FlowKey::new(6, KeyKind::Ports, ep("10.0.0.1", port), ep("10.0.0.2", 80)).0,
            ..Flow::default()
        }
    }

    fn add(index: &mut FlowIndex, flows: &mut Vec<Flow>, f: Flow) -> usize {
        let h = key_hash(&f.key);
        match index.find(h, &f.key, flows) {
            Slot::Found(p) => p,
            Slot::Vacant(at) => {
                flows.push(f);
                assert!(index.insert(at, h, flows.len() - 1, flows));
                flows.len() - 1
            }
        }
    }

    #[test]
    fn finds_every_flow_across_growth() {
        let mut index = FlowIndex::new();
        let mut flows = Vec::new();
        for port in 0..5000u16 {
            assert_eq!(add(&mut index, &mut flows, flow(port)), port as usize);
        }
        assert!(index.slots.len() >= 2 * flows.len());
        for port in 0..5000u16 {
            let f = flow(port);
            match index.find(key_hash(&f.key), &f.key, &flows) {
                Slot::Found(p) => assert_eq!(p, port as usize),
                Slot::Vacant(_) => panic!("flow {port} lost"),
            }
        }
        let absent = flow(6000);
        assert!(matches!(
            index.find(key_hash(&absent.key), &absent.key, &flows),
            Slot::Vacant(_)
        ));
    }

    #[test]
    fn same_tag_different_keys_are_told_apart() {
        // a hash that collides completely (slot and tag) must still compare the keys
        let mut index = FlowIndex::new();
        let mut flows = vec![flow(1), flow(2)];
        let h = 0xdead_beef_0000_0007;
        let Slot::Vacant(at) = index.find(h, &flows[0].key, &flows) else {
            panic!("empty index found a key");
        };
        assert!(index.insert(at, h, 0, &flows));
        let Slot::Vacant(at) = index.find(h, &flows[1].key, &flows) else {
            panic!("a different key with the same hash was found");
        };
        assert!(index.insert(at, h, 1, &flows));
        assert!(matches!(
            index.find(h, &flows[1].key, &flows),
            Slot::Found(1)
        ));
        assert!(matches!(
            index.find(h, &flows[0].key, &flows),
            Slot::Found(0)
        ));
        flows.clear();
    }
}
