//! Packet samples, for following the same packet at other capture points (see the folder's
//! docs): [`match_key`] hashes what forwarding and NAT leave unchanged; each direction of a
//! flow keeps a bounded [`DirSamples`] (the first packets, then the lowest keys), so every
//! point that saw a flow whole keeps the same packets of it.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{Packet, Transport};
use crate::hash::FastState;

/// What forwarding and NAT leave unchanged in a packet, hashed: the key that recognises the
/// same packet at another capture point or as the other leg of a forward, and whether it is
/// distinctive enough to be trusted (`false`: e.g. an IPv4 datagram with IP ID 0 and no
/// payload).
///
/// Hashed: IP protocol, IPv4 ID (or IPv6 fragment id), IP total length, fragment offset, the
/// payload digest and its length, the TCP flags, the ICMP echo kind and sequence (not the
/// identifier: a NAT may rewrite it) or the ICMP type and code. TCP sequence and
/// acknowledgement numbers are hashed only when the IP ID is 0 (IPv6, some stacks' DF
/// packets): otherwise they are compared separately, so that a firewall that randomises
/// sequence numbers does not hide the packet. TTL, checksums, addresses and ports are left
/// out: forwarding and NAT change them.
#[inline]
pub fn match_key(p: &Packet) -> (u64, bool) {
    let mut h = FastState::default().build_hasher();
    p.ip_proto.hash(&mut h);
    p.ip_id.hash(&mut h);
    p.ip_len.hash(&mut h);
    p.digest.hash(&mut h);
    p.digest_len.hash(&mut h);
    p.fragment.map(|f| f.offset).hash(&mut h);
    let weak_id = p.ip_id == 0 && p.digest_len == 0;
    let strong = match p.transport {
        Transport::Tcp {
            flags, seq, ack, ..
        } => {
            flags.hash(&mut h);
            if p.ip_id == 0 {
                (seq, ack).hash(&mut h);
            }
            true
        }
        Transport::Echo { request, seq, .. } => {
            (request, seq).hash(&mut h);
            !weak_id
        }
        Transport::IcmpError {
            icmp_type, code, ..
        }
        | Transport::IcmpOther {
            icmp_type, code, ..
        } => {
            (icmp_type, code).hash(&mut h);
            !weak_id
        }
        Transport::Udp { .. } | Transport::None => !weak_id,
    };
    (h.finish(), strong)
}

/// Mixes a word into a hash (one multiply-xorshift round).
#[inline]
pub fn mix(h: u64, w: u64) -> u64 {
    let x = (h ^ w.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 31)
}

/// Packets kept per direction in order of arrival (the first ones of the flow).
pub const FIRST_SAMPLES: usize = 2;

/// Packets kept per direction by lowest match key, among those after the first ones.
pub const LOW_SAMPLES: usize = 4;

const SAMPLES: usize = FIRST_SAMPLES + LOW_SAMPLES;

/// One sampled packet as seen at this point: what recognises it elsewhere and what it looked
/// like here. Addresses and ports are those of its flow and direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// [`match_key`].
    pub key: u64,
    /// Capture time at this point (this point's clock), ns since the epoch.
    pub ts: i64,
    /// TCP sequence number; ICMP echo sequence number; 0 otherwise.
    pub seq: u32,
    /// TCP acknowledgement number (shown beside the sequence number on a ladder's hover);
    /// 0 otherwise. It takes the sample from 32 to 40 bytes: 96 bytes more per flow that
    /// keeps samples (12 samples, boxed apart from the 264-byte `Flow`).
    pub ack: u32,
    /// 1-based frame number in this point's capture (saturated).
    pub frame: u32,
    /// IP total length (saturated).
    pub ip_len: u16,
    pub ttl: u8,
    /// TCP flags; for ICMP echo 1 for a request, 0 for a reply; 0 otherwise.
    pub info: u8,
    /// True when this is the leaving leg of a packet this point forwarded.
    pub leaving: bool,
}

/// The sampled packets of one direction of a flow (see the module docs). The fields a
/// packet that is not kept reads come first, so that it reads one cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct DirSamples {
    /// The key of slot `max_low` (valid when the slots are full).
    max_key: u64,
    len: u8,
    /// Index of the highest key among the low-key slots (valid when they are full).
    max_low: u8,
    slots: [Sample; SAMPLES],
}

impl DirSamples {
    /// The samples kept, the first packets first, then the low-key ones (unordered).
    pub fn samples(&self) -> &[Sample] {
        &self.slots[..self.len as usize]
    }

    /// Offers a packet: kept while there is room (the first packets land in the first slots),
    /// then only when its key is below the highest key of the low-key slots.
    #[inline]
    pub(super) fn offer(&mut self, s: Sample) {
        let n = self.len as usize;
        if n < SAMPLES {
            self.slots[n] = s;
            self.len += 1;
            if n + 1 == SAMPLES {
                self.refresh_max();
            }
            return;
        }
        if s.key < self.max_key {
            self.slots[self.max_low as usize] = s;
            self.refresh_max();
        }
    }

    fn refresh_max(&mut self) {
        let mut m = FIRST_SAMPLES;
        for i in FIRST_SAMPLES..SAMPLES {
            if self.slots[i].key > self.slots[m].key {
                m = i;
            }
        }
        self.max_low = m as u8;
        self.max_key = self.slots[m].key;
    }
}

/// True for a destination no reply comes back from as one conversation (multicast,
/// broadcast): such packets are not sampled.
#[inline]
pub(super) fn group_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}
