//! The forwarding detector: a capture point that routes traffic (the NVA) sees each forwarded
//! packet twice, arriving and leaving with a TTL one lower (and, through NAT, maybe other
//! addresses and ports). [`ForwardDetector`] recognises the leaving leg by the packet's
//! fingerprint within [`FORWARD_WINDOW_NS`], in fixed memory; the table records it on the
//! flow, or as a [`Link`] between two flows when NAT changed the key. A leaving leg keeps its
//! direction inside one flow (the other direction is a reply that looks like its request) and
//! its source or destination address across flows (unless its fingerprint survives rewriting
//! both); a weak fingerprint (IP ID 0, no TCP) that two flows carry at once pairs nothing:
//! look-alike packets of many clients are told apart by their flows, not chained into one.

use super::key::Endpoint;
use super::sample::mix;
use crate::decode::{Packet, Transport};

/// Two flows at one point that carry the same packets: `from`'s packets leave as `to`'s,
/// rewritten by NAT.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub from: usize,
    pub to: usize,
    /// Direction of the arriving leg in `from` and of the leaving leg in `to`.
    pub from_dir: u8,
    pub to_dir: u8,
    pub packets: u64,
    /// The arriving packet's (source, destination) and the leaving one's.
    pub before: (Endpoint, Endpoint),
    pub after: (Endpoint, Endpoint),
}

/// How long after the arriving leg a leaving leg is still recognised as the same packet.
pub const FORWARD_WINDOW_NS: i64 = 500_000_000;

/// Packets remembered for recognising the leaving leg of a forward: a table of 32,768 slots
/// (768 KiB, small enough to stay in a core's second-level cache beside the flows being
/// updated) in sets of [`FORWARD_WAYS`], the set chosen by the packet's fingerprint. A packet
/// takes a free slot of its set or the one holding its oldest packet, so memory is fixed
/// whatever the capture (a million packets with one time stamp included) and each packet
/// costs one or two cache lines. The two legs of a forward are microseconds apart with a
/// handful of packets between them: for the arriving leg to be pushed out before the leaving
/// one comes, four packets between them would have to fall in its set of 8,192 (with 1,000
/// packets between the legs, that happens to about one forward in 100,000). 32,768 packets
/// are 0.8 s of traffic at 40,000 packets/s, beyond [`FORWARD_WINDOW_NS`].
const FORWARD_SLOTS: usize = 1 << 15;

/// Slots per set of the forwarding detector.
const FORWARD_WAYS: usize = 4;

/// One packet remembered by the forwarding detector: its fingerprint, time, TTL, flow and
/// [`LegSeen::flags`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LegSeen {
    pub(super) fp: u64,
    pub(super) ts: i64,
    pub(super) flow: u32,
    pub(super) dir: u8,
    pub(super) ttl: u8,
    /// [`USED`], [`REWRITABLE`], [`AMBIGUOUS`]: bits, so that a slot stays 24 bytes.
    pub(super) flags: u8,
}

const _: () = assert!(std::mem::size_of::<LegSeen>() == 24);

/// The slot holds a packet.
const USED: u8 = 1;
/// The fingerprint survives a NAT that rewrites both addresses (an IP ID other than 0, or TCP
/// sequence numbers): a leaving leg may share no address with the arriving one.
const REWRITABLE: u8 = 2;
/// A weak fingerprint (IP ID 0 and no TCP) that another flow carried while the packet was
/// held: look-alike packets, which pair with nothing (see [`ForwardDetector::observe`]).
const AMBIGUOUS: u8 = 4;

impl LegSeen {
    /// Packet `p` with forward fingerprint `fp`, at `ts`, in direction `dir` of flow `flow`.
    #[inline]
    pub(super) fn of(p: &Packet, fp: u64, ts: i64, flow: usize, dir: usize) -> LegSeen {
        let rewritable = p.ip_id != 0 || matches!(p.transport, Transport::Tcp { .. });
        LegSeen {
            fp,
            ts,
            flow: u32::try_from(flow).unwrap_or(u32::MAX),
            dir: dir as u8,
            ttl: p.ttl,
            flags: USED | if rewritable { REWRITABLE } else { 0 },
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether `next` (same fingerprint, TTL one lower) can be this packet leaving again:
    /// inside one flow it keeps its direction (the other direction is a reply that looks
    /// like its request); in another flow (NAT) it keeps its source or its destination
    /// address (`shares_address`, asked of this packet), unless the fingerprint survives
    /// rewriting both.
    fn may_leave_as(&self, next: &LegSeen, shares_address: impl Fn(&LegSeen) -> bool) -> bool {
        if self.flow == next.flow {
            return self.dir == next.dir;
        }
        next.has(REWRITABLE) || shares_address(self)
    }
}

/// The first slot of the set a fingerprint belongs to (a fingerprint is a finished hash: its
/// low bits are as good as any).
fn set_of(fp: u64) -> usize {
    (fp as usize & (FORWARD_SLOTS / FORWARD_WAYS - 1)) * FORWARD_WAYS
}

/// Recognises the two legs of a packet forwarded by the capturing host.
#[derive(Default)]
pub(super) struct ForwardDetector {
    /// [`FORWARD_SLOTS`] slots, allocated with the first packet that has a fingerprint.
    slots: Vec<LegSeen>,
}

impl ForwardDetector {
    /// Starts fetching the set of a fingerprint (see [`FlowTable::add_batch`]).
    #[inline]
    pub(super) fn prefetch(&self, fp: u64) {
        let first = set_of(fp);
        if let Some(set) = self.slots.get(first..first + FORWARD_WAYS) {
            if let (Some(a), Some(b)) = (set.first(), set.last()) {
                crate::hash::prefetch(a);
                crate::hash::prefetch(b);
            }
        }
    }

    /// Returns the arriving leg when `this` leaves as a forward of a packet seen before;
    /// otherwise remembers `this`. `shares_address` tells whether a packet seen before had
    /// `this`'s source or destination address (the table knows from the packet's flow, which
    /// it reads anyway when a forward is found: the slots stay small).
    #[inline]
    pub(super) fn observe(
        &mut self,
        this: LegSeen,
        shares_address: impl Fn(&LegSeen) -> bool,
    ) -> Option<LegSeen> {
        if self.slots.is_empty() {
            self.slots = vec![LegSeen::default(); FORWARD_SLOTS];
        }
        let first = set_of(this.fp);
        let set = self.slots.get_mut(first..first + FORWARD_WAYS)?;
        let mut free = None;
        for (i, slot) in set.iter_mut().enumerate() {
            if slot.has(USED) && slot.fp == this.fp {
                let near = this.ts.saturating_sub(slot.ts).abs() <= FORWARD_WINDOW_NS;
                if near
                    && !slot.has(AMBIGUOUS)
                    && slot.ttl == this.ttl.wrapping_add(1)
                    && this.ttl != 255
                    && slot.may_leave_as(&this, &shares_address)
                {
                    slot.flags = 0;
                    return Some(*slot);
                }
                // the same packet again, or a look-alike: it replaces the older copy; a weak
                // fingerprint carried by two flows at once stops pairing until it rests
                let ambiguous = near
                    && (slot.has(AMBIGUOUS) || (slot.flow != this.flow && !this.has(REWRITABLE)));
                *slot = this;
                if ambiguous {
                    slot.flags |= AMBIGUOUS;
                }
                return None;
            }
            if !slot.has(USED) && free.is_none() {
                free = Some(i);
            }
        }
        // no free slot: the oldest packet of the set makes room
        let victim = free.unwrap_or_else(|| {
            (0..FORWARD_WAYS)
                .min_by_key(|&i| set.get(i).map_or(i64::MIN, |s| s.ts))
                .unwrap_or(0)
        });
        if let Some(slot) = set.get_mut(victim) {
            *slot = this;
        }
        None
    }
}

/// The fingerprint of the two legs of a forward at one point: the match key, with the TCP
/// sequence numbers mixed in (inside one point nothing rewrites them). None when the packet
/// has too little to be recognised reliably.
#[inline]
pub(super) fn forward_fingerprint(p: &Packet, key: u64, strong: bool) -> Option<u64> {
    if !strong {
        return None;
    }
    Some(match p.transport {
        Transport::Tcp { seq, ack, .. } => mix(key, (u64::from(seq) << 32) | u64::from(ack)),
        _ => key,
    })
}
