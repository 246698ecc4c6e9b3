//! flow: the flow table of one capture point.
//!
//! Every decoded [`Packet`] lands in one bidirectional [`Flow`], keyed the way tshark keys its
//! conversations (see `../shared/corpus/ORACLE.md`):
//!
//! | protocol | key |
//! |---|---|
//! | TCP, UDP | protocol and the two `ip:port` endpoints |
//! | TCP, UDP whose ports were not captured | protocol and the two addresses (`ports unknown`) |
//! | ICMP / ICMPv6 echo | protocol, the two addresses, the echo identifier |
//! | other ICMP / ICMPv6 | protocol, the two addresses, type and code |
//! | anything else | IP protocol number and the two addresses |
//!
//! IP fragments belong to their datagram's flow: the first fragment carries the ports, later
//! ones are attributed through (source, destination, protocol, IP ID), and fragments that
//! arrive before their first fragment wait (bounded) for it.
//!
//! Per flow the table keeps packets, wire bytes and IP bytes per direction, first and last
//! time, the TTLs seen per direction, what is needed to tell the originator (first SYN,
//! SYN-ACK, echo request, echo reply), ICMP echo requests paired with replies by sequence
//! number, and for TCP a Zeek-style history:
//!
//! | letter | meaning |
//! |---|---|
//! | `S` | SYN without ACK |
//! | `H` | SYN with ACK |
//! | `A` | pure ACK |
//! | `D` | segment carrying data |
//! | `F` | FIN |
//! | `R` | RST |
//! | `T` | retransmitted data |
//!
//! Upper case for the originator, lower case for the responder; each letter is recorded once
//! per direction, in the order first seen.
//!
//! Forwarding: a capture point that routes traffic (the NVA) sees each forwarded packet twice,
//! once arriving and once leaving, with a TTL one lower and, through NAT, possibly other
//! addresses and ports. The table recognises the second leg by what forwarding does not change
//! (IP ID, IP length, protocol, transport sequence numbers, the payload digest), within a short
//! time window, and records it: on the flow when both legs share the flow key, as a [`Link`]
//! carrying the NAT mapping when they do not. The second leg's packets are counted (tshark
//! counts them too) but do not add history letters, retransmissions or echo requests.
//!
//! Packet samples (for matching the same packet at other capture points, see `correlate`):
//! when the table samples ([`FlowTable::with_samples`]), every flow keeps, per direction, a
//! bounded [`DirSamples`]: the first [`FIRST_SAMPLES`] packets (a ladder diagram starts with
//! the handshake) and, of the packets after them, the [`LOW_SAMPLES`] with the lowest
//! [`match_key`] (a bottom-k sketch). The key hashes only what forwarding and NAT leave
//! unchanged, so every capture point that saw the same packets keeps the *same* packets:
//! consistent ("trajectory") sampling, with memory bounded by flows x 12 samples rather than
//! by packets, and no allocation per packet (one per flow, when it opens).

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{tcp_flags, Packet, Quoted, Transport};
use crate::hash::{FastIndexMap, FastMap, FastState};

mod budget;
mod index;
pub use budget::FlowBudget;
use index::{key_hash, FlowIndex, Slot};

/// One side of a flow. `port` is 0 where the protocol has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    fn order_key(&self) -> (u8, u128, u16) {
        match self.ip {
            IpAddr::V4(a) => (4, u32::from(a) as u128, self.port),
            IpAddr::V6(a) => (6, u128::from(a), self.port),
        }
    }
}

/// What besides the addresses tells flows of one protocol apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// TCP/UDP with both ports.
    Ports,
    /// TCP/UDP whose ports were not captured (orphan fragment, snaplen).
    PortsUnknown,
    /// ICMP/ICMPv6 echo with this identifier.
    Echo { id: u16 },
    /// Any other ICMP/ICMPv6 message.
    Icmp { icmp_type: u8, code: u8 },
    /// Any other IP protocol.
    Other,
}

/// A bidirectional flow key: `lo` sorts before `hi` (IP as an integer, then port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    pub ip_proto: u8,
    pub kind: KeyKind,
    pub lo: Endpoint,
    pub hi: Endpoint,
}

/// Hashed as three words (the addresses as integers, the rest packed in one), not field by
/// field: the flow table hashes a key for every packet.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        fn ip_word(ip: &IpAddr) -> (u128, u64) {
            match ip {
                IpAddr::V4(a) => (u128::from(u32::from(*a)), 0),
                IpAddr::V6(a) => (u128::from(*a), 1),
            }
        }
        let (kind, x) = match self.kind {
            KeyKind::Ports => (0u64, 0u64),
            KeyKind::PortsUnknown => (1, 0),
            KeyKind::Echo { id } => (2, u64::from(id)),
            KeyKind::Icmp { icmp_type, code } => (3, u64::from(icmp_type) << 8 | u64::from(code)),
            KeyKind::Other => (4, 0),
        };
        let (lo, lo6) = ip_word(&self.lo.ip);
        let (hi, hi6) = ip_word(&self.hi.ip);
        h.write_u64(
            u64::from(self.ip_proto)
                | kind << 8
                | lo6 << 11
                | hi6 << 12
                | x << 16
                | u64::from(self.lo.port) << 32
                | u64::from(self.hi.port) << 48,
        );
        h.write_u128(lo);
        h.write_u128(hi);
    }
}

impl FlowKey {
    /// Builds the key and tells the direction of `src -> dst`: 0 when src is `lo`.
    pub fn new(ip_proto: u8, kind: KeyKind, src: Endpoint, dst: Endpoint) -> (FlowKey, usize) {
        if src.order_key() <= dst.order_key() {
            (
                FlowKey {
                    ip_proto,
                    kind,
                    lo: src,
                    hi: dst,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    ip_proto,
                    kind,
                    lo: dst,
                    hi: src,
                },
                1,
            )
        }
    }

    /// The endpoint that sends in direction `dir` (0: lo -> hi).
    pub fn sender(&self, dir: usize) -> Endpoint {
        if dir == 0 {
            self.lo
        } else {
            self.hi
        }
    }

    /// `tcp`, `udp`, `icmp`, `icmpv6` or `other`.
    pub fn proto_name(&self) -> &'static str {
        proto_name(self.ip_proto)
    }

    /// True for keys with ports (TCP/UDP with ports known).
    pub fn has_ports(&self) -> bool {
        self.kind == KeyKind::Ports
    }

    /// The key of the conversation a quoted header (inside an ICMP error) belongs to.
    pub fn of_quoted(q: &Quoted) -> FlowKey {
        let (kind, sport, dport) = match q.ip_proto {
            6 | 17 => (KeyKind::Ports, q.sport, q.dport),
            1 | 58 => (KeyKind::Echo { id: q.sport }, 0, 0),
            _ => (KeyKind::Other, 0, 0),
        };
        FlowKey::new(
            q.ip_proto,
            kind,
            Endpoint {
                ip: q.src,
                port: sport,
            },
            Endpoint {
                ip: q.dst,
                port: dport,
            },
        )
        .0
    }
}

/// The name flowcheck and tshark use for an IP protocol.
pub fn proto_name(ip_proto: u8) -> &'static str {
    match ip_proto {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        _ => "other",
    }
}

/// Up to four distinct TTLs (or hop limits) seen in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TtlSet {
    vals: [u8; 4],
    len: u8,
    /// True when more than four distinct values were seen.
    pub overflow: bool,
}

impl TtlSet {
    pub fn insert(&mut self, ttl: u8) {
        let n = self.len as usize;
        if self.vals[..n].contains(&ttl) {
            return;
        }
        if n == self.vals.len() {
            self.overflow = true;
            return;
        }
        self.vals[n] = ttl;
        self.len += 1;
        self.vals[..=n].sort_unstable();
    }
    /// The values, ascending.
    pub fn values(&self) -> &[u8] {
        &self.vals[..self.len as usize]
    }
    pub fn merge(&mut self, other: &TtlSet) {
        for &t in other.values() {
            self.insert(t);
        }
        self.overflow |= other.overflow;
    }
}

/// Zeek-style TCP history, stored by absolute direction and rendered relative to the
/// originator.
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    /// Letter (ASCII upper case) with bit 7 set for direction 1.
    letters: [u8; 16],
    len: u8,
    seen: [u8; 2],
}

const LETTERS: &[u8; 7] = b"SHADFRT";

impl History {
    fn add(&mut self, letter: u8, dir: usize) {
        let Some(bit) = LETTERS.iter().position(|&l| l == letter) else {
            return;
        };
        let mask = 1u8 << bit;
        if self.seen[dir] & mask != 0 || self.len as usize >= self.letters.len() {
            return;
        }
        self.seen[dir] |= mask;
        self.letters[self.len as usize] = letter | ((dir as u8) << 7);
        self.len += 1;
    }

    /// The history string with upper case for packets sent in direction `orig_dir`.
    pub fn render(&self, orig_dir: usize) -> String {
        self.letters(orig_dir).map(char::from).collect()
    }

    /// [`render`](Self::render), held inline (no allocation).
    pub fn text(&self, orig_dir: usize) -> HistoryText {
        let mut t = HistoryText::default();
        for (slot, b) in t.bytes.iter_mut().zip(self.letters(orig_dir)) {
            *slot = b;
            t.len += 1;
        }
        t
    }

    /// The letters of [`History::render`] (ASCII), without building the string.
    pub fn letters(&self, orig_dir: usize) -> impl Iterator<Item = u8> + '_ {
        self.letters[..self.len as usize].iter().map(move |&b| {
            let c = b & 0x7f;
            if (b >> 7) as usize == orig_dir {
                c
            } else {
                c.to_ascii_lowercase()
            }
        })
    }

    /// True when no letter was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the letter was seen in direction `dir`.
    pub fn has(&self, letter: u8, dir: usize) -> bool {
        LETTERS
            .iter()
            .position(|&l| l == letter)
            .is_some_and(|bit| self.seen[dir] & (1 << bit) != 0)
    }
}

/// A rendered history (at most 16 ASCII letters), held inline; reads as a `str`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryText {
    bytes: [u8; 16],
    len: u8,
}

impl HistoryText {
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(self.bytes.len());
        std::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }
}

/// The longest prefix of `s` that fits (16 bytes, whole characters).
impl From<&str> for HistoryText {
    fn from(s: &str) -> HistoryText {
        let mut n = s.len().min(16);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        let mut t = HistoryText::default();
        t.bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        t.len = n as u8;
        t
    }
}

impl std::ops::Deref for HistoryText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for HistoryText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ICMP echo counts of a flow, and the requests waiting for their reply.
#[derive(Debug, Clone, Default)]
pub struct EchoState {
    pub requests: u64,
    pub replies: u64,
    /// Replies whose request (same sequence number) was seen before them.
    pub paired: u64,
    /// Allocated with the flow's first request: most flows are not pings.
    pending: Option<Box<PendingEchoes>>,
}

/// Sequence numbers of the last 16 echo requests still waiting for their reply.
#[derive(Debug, Clone, Default)]
struct PendingEchoes {
    seqs: [u16; 16],
    len: u8,
    next: u8,
}

impl EchoState {
    fn request(&mut self, seq: u16) {
        self.requests += 1;
        let p = self.pending.get_or_insert_with(Box::default);
        let i = p.next as usize % p.seqs.len();
        p.seqs[i] = seq;
        p.next = p.next.wrapping_add(1);
        p.len = (p.len + 1).min(p.seqs.len() as u8);
    }
    fn reply(&mut self, seq: u16) {
        self.replies += 1;
        let Some(p) = self.pending.as_deref_mut() else {
            return;
        };
        let n = p.len as usize;
        if let Some(i) = p.seqs[..n].iter().position(|&s| s == seq) {
            self.paired += 1;
            // forget it so that a duplicated reply does not pair twice
            p.seqs[i] = p.seqs[n - 1];
            p.len -= 1;
            p.next = p.len;
        }
    }
}

/// Per-direction counters. Index 0 is `lo -> hi`, 1 is `hi -> lo`.
///
/// `repr(C)` keeps the fields in the order written: those every packet updates first, on
/// the first cache lines, the rarely touched ones after them (the table holds hundreds of
/// thousands of flows, far more than the caches, so each line a packet touches is a miss).
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct Flow {
    pub key: FlowKey,
    /// Direction of the first packet.
    pub first_dir: u8,
    /// Direction of the first pure SYN, SYN-ACK, echo request, echo reply (2 = none).
    syn_dir: u8,
    synack_dir: u8,
    request_dir: u8,
    reply_dir: u8,
    /// OR of the TCP flag bytes per direction.
    pub tcp_flags: [u8; 2],
    /// `decode::encap` bits of every packet, OR-ed.
    pub encap: u16,
    pub packets: [u64; 2],
    /// Wire bytes (frame length as captured on the wire).
    pub bytes: [u64; 2],
    /// IP bytes (total length from the inner-most IP header).
    pub ip_bytes: [u64; 2],
    pub first_ts: i64,
    pub last_ts: i64,
    /// Time of the first packet in each direction (`i64::MAX` when none).
    pub dir_first_ts: [i64; 2],
    pub last_frame: u64,
    seq_end: [Option<u32>; 2],
    pub ttls: [TtlSet; 2],
    pub history: History,
    /// Packet samples per direction, when the table samples (see the module docs).
    pub samples: Option<Box<[DirSamples; 2]>>,
    /// 1-based frame number of the first packet.
    pub first_frame: u64,
    /// Destination port of the first packet's direction is well known and the source's not.
    first_ports: (u16, u16),
    /// Counters most flows never need (see the accessors), allocated with the first.
    rare: Option<Box<RareCounts>>,
    pub echo: EchoState,
    /// For an ICMP error flow: the conversation its first message quoted.
    pub quoted: Option<Box<FlowKey>>,
}

/// The counters of a flow that stay 0 for most flows: forwarding, retransmissions, fragments,
/// truncated packets (each is per direction where it is an array).
#[derive(Debug, Clone, Default)]
struct RareCounts {
    forwarded: [u64; 2],
    forwarded_in: [u64; 2],
    retransmissions: [u64; 2],
    fragments: u64,
    truncated: u64,
    /// Position in [`FlowTable::links`] of the link this flow's last leaving leg counted
    /// in: the next leg of the same forward (most of them) finds it without a map lookup.
    last_link: Option<u32>,
}

const NONE: u8 = 2;

impl Default for FlowKey {
    fn default() -> Self {
        let unspecified = Endpoint {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
        };
        FlowKey {
            ip_proto: 0,
            kind: KeyKind::Other,
            lo: unspecified,
            hi: unspecified,
        }
    }
}

/// How the `a` side of a flow was chosen, in tshark's terms (ORACLE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Syn,
    SynAck,
    EchoRequest,
    EchoReply,
    /// By well-known port (the server owns the port below 1024 or the registered one).
    Port,
    /// The sender of the first packet.
    First,
    /// The numerically lower endpoint (tshark's rule when nothing else tells).
    Lower,
}

impl Orientation {
    pub fn name(self) -> &'static str {
        match self {
            Orientation::Syn => "syn",
            Orientation::SynAck => "synack",
            Orientation::EchoRequest => "echo_request",
            Orientation::EchoReply => "echo_reply",
            Orientation::Port => "port",
            Orientation::First => "first",
            Orientation::Lower => "lower",
        }
    }
}

impl Flow {
    fn new(key: FlowKey, dir: usize, ts: i64, frame: u64, ports: (u16, u16)) -> Flow {
        Flow {
            key,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            dir_first_ts: [i64::MAX; 2],
            first_dir: dir as u8,
            first_ports: ports,
            syn_dir: NONE,
            synack_dir: NONE,
            request_dir: NONE,
            reply_dir: NONE,
            ..Flow::default()
        }
    }

    fn rare_mut(&mut self) -> &mut RareCounts {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Packets that were the second (leaving) leg of a forward at this point, per direction.
    pub fn forwarded(&self) -> [u64; 2] {
        self.rare.as_ref().map_or([0; 2], |r| r.forwarded)
    }

    /// Packets of this flow that arrived and were then seen leaving (the first leg of a
    /// forward, whichever flow the leaving leg fell in), per direction.
    pub fn forwarded_in(&self) -> [u64; 2] {
        self.rare.as_ref().map_or([0; 2], |r| r.forwarded_in)
    }

    /// TCP segments whose data had been seen before, per direction.
    pub fn retransmissions(&self) -> [u64; 2] {
        self.rare.as_ref().map_or([0; 2], |r| r.retransmissions)
    }

    /// IP fragments.
    pub fn fragments(&self) -> u64 {
        self.rare.as_ref().map_or(0, |r| r.fragments)
    }

    /// Packets whose capture was cut short of their IP length.
    pub fn truncated(&self) -> u64 {
        self.rare.as_ref().map_or(0, |r| r.truncated)
    }

    /// Sets the forwarded counts (for tests that build flows by hand).
    #[cfg(test)]
    pub(crate) fn set_forwarded(&mut self, forwarded: [u64; 2]) {
        self.rare_mut().forwarded = forwarded;
    }

    /// Total packets both ways.
    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }

    /// tshark's choice of the `a` endpoint: the direction index whose sender is `a`.
    pub fn tshark_a(&self) -> (usize, Orientation) {
        if self.syn_dir != NONE {
            (self.syn_dir as usize, Orientation::Syn)
        } else if self.synack_dir != NONE {
            (1 - self.synack_dir as usize, Orientation::SynAck)
        } else if self.request_dir != NONE {
            (self.request_dir as usize, Orientation::EchoRequest)
        } else if self.reply_dir != NONE {
            (1 - self.reply_dir as usize, Orientation::EchoReply)
        } else {
            (0, Orientation::Lower)
        }
    }

    /// flowcheck's choice of the originator (client): as tshark for SYN / SYN-ACK / echo,
    /// otherwise by well-known server port, otherwise the sender of the first packet.
    pub fn originator(&self) -> (usize, Orientation) {
        let (a, how) = self.tshark_a();
        if how != Orientation::Lower {
            return (a, how);
        }
        let first = self.first_dir as usize;
        let (sport, dport) = self.first_ports;
        if self.key.has_ports() && is_service_port(sport) && !is_service_port(dport) {
            return (1 - first, Orientation::Port);
        }
        (first, Orientation::First)
    }

    /// True when a SYN (without ACK) was seen in direction `dir`.
    pub fn syn_seen(&self, dir: usize) -> bool {
        self.syn_dir as usize == dir
    }
    /// True when any SYN-ACK was seen.
    pub fn synack_seen(&self) -> bool {
        self.synack_dir != NONE
    }

    fn merge_pending(&mut self, p: &PendingFragments, dir: usize) {
        self.packets[dir] += p.packets;
        self.bytes[dir] += p.bytes;
        self.ip_bytes[dir] += p.ip_bytes;
        self.rare_mut().fragments += p.packets;
        self.first_ts = self.first_ts.min(p.first_ts);
        self.last_ts = self.last_ts.max(p.last_ts);
        self.dir_first_ts[dir] = self.dir_first_ts[dir].min(p.first_ts);
        self.first_frame = self.first_frame.min(p.first_frame);
        self.last_frame = self.last_frame.max(p.last_frame);
        self.ttls[dir].merge(&p.ttls);
    }
}

/// Ports below 1024 and a few registered service ports the lab and cloud networks use.
fn is_service_port(p: u16) -> bool {
    p < 1024
        || matches!(
            p,
            1433 | 3306 | 3389 | 5004 | 5005 | 5201 | 5353 | 5432 | 6379 | 8080 | 8443
        )
}

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

/// Fragments whose first fragment has not been seen yet.
#[derive(Debug, Clone, Copy)]
struct PendingFragments {
    src: IpAddr,
    dst: IpAddr,
    ip_proto: u8,
    packets: u64,
    bytes: u64,
    ip_bytes: u64,
    first_ts: i64,
    last_ts: i64,
    first_frame: u64,
    last_frame: u64,
    ttls: TtlSet,
}

type FragKey = (IpAddr, IpAddr, u8, u32);

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
/// Bound on datagrams tracked for fragment attribution (oldest forgotten first).
const MAX_FRAGMENT_DATAGRAMS: usize = 65_536;

/// One packet remembered by the forwarding detector: its fingerprint, time, TTL and flow.
#[derive(Debug, Clone, Copy, Default)]
struct LegSeen {
    fp: u64,
    ts: i64,
    flow: u32,
    dir: u8,
    ttl: u8,
    used: bool,
}

/// The first slot of the set a fingerprint belongs to (a fingerprint is a finished hash: its
/// low bits are as good as any).
fn set_of(fp: u64) -> usize {
    (fp as usize & (FORWARD_SLOTS / FORWARD_WAYS - 1)) * FORWARD_WAYS
}

/// Recognises the two legs of a packet forwarded by the capturing host.
#[derive(Default)]
struct ForwardDetector {
    /// [`FORWARD_SLOTS`] slots, allocated with the first packet that has a fingerprint.
    slots: Vec<LegSeen>,
}

impl ForwardDetector {
    /// Starts fetching the set of a fingerprint (see [`FlowTable::add_batch`]).
    fn prefetch(&self, fp: u64) {
        let first = set_of(fp);
        if let Some(set) = self.slots.get(first..first + FORWARD_WAYS) {
            if let (Some(a), Some(b)) = (set.first(), set.last()) {
                crate::hash::prefetch(a);
                crate::hash::prefetch(b);
            }
        }
    }

    /// Returns the arriving leg when `this` leaves as a forward of a packet seen before;
    /// otherwise remembers `this`.
    fn observe(&mut self, this: LegSeen) -> Option<LegSeen> {
        if self.slots.is_empty() {
            self.slots = vec![LegSeen::default(); FORWARD_SLOTS];
        }
        let first = set_of(this.fp);
        let set = self.slots.get_mut(first..first + FORWARD_WAYS)?;
        let mut free = None;
        for (i, slot) in set.iter_mut().enumerate() {
            if slot.used && slot.fp == this.fp {
                if this.ts.saturating_sub(slot.ts).abs() <= FORWARD_WINDOW_NS
                    && slot.ttl == this.ttl.wrapping_add(1)
                    && this.ttl != 255
                {
                    slot.used = false;
                    return Some(*slot);
                }
                // the same packet again (not forwarded): it replaces the older copy
                *slot = LegSeen { used: true, ..this };
                return None;
            }
            if !slot.used && free.is_none() {
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
            *slot = LegSeen { used: true, ..this };
        }
        None
    }
}

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

/// The fingerprint of the two legs of a forward at one point: the match key, with the TCP
/// sequence numbers mixed in (inside one point nothing rewrites them). None when the packet
/// has too little to be recognised reliably.
fn forward_fingerprint(p: &Packet, key: u64, strong: bool) -> Option<u64> {
    if !strong {
        return None;
    }
    Some(match p.transport {
        Transport::Tcp { seq, ack, .. } => mix(key, (u64::from(seq) << 32) | u64::from(ack)),
        _ => key,
    })
}

/// Mixes a word into a hash (one multiply-xorshift round).
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
    fn offer(&mut self, s: Sample) {
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
fn group_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

/// What the flow table needs of a packet besides the packet itself, computed without the
/// table: its flow key and direction, the key's hash, its [`match_key`] and forwarding
/// fingerprint. [`FlowTable::add_batch`] computes a batch of them ahead of the updates.
#[derive(Debug, Clone, Copy)]
pub struct Keyed {
    /// None for a fragment after the first: its flow is the first fragment's, which only
    /// the table knows.
    flow: Option<FlowOf>,
    match_key: u64,
    strong: bool,
    /// [`forward_fingerprint`].
    forward_fp: Option<u64>,
}

/// The flow a packet belongs to: key, the key's hash, direction, (sport, dport).
#[derive(Debug, Clone, Copy)]
struct FlowOf {
    key: FlowKey,
    hash: u64,
    dir: usize,
    ports: (u16, u16),
}

impl FlowOf {
    fn new(key: FlowKey, dir: usize, ports: (u16, u16)) -> FlowOf {
        FlowOf {
            key,
            hash: key_hash(&key),
            dir,
            ports,
        }
    }
}

impl Keyed {
    pub fn of(p: &Packet) -> Keyed {
        let (match_key, strong) = match_key(p);
        let later_fragment =
            matches!(p.transport, Transport::None) && p.fragment.is_some_and(|f| f.offset > 0);
        Keyed {
            flow: (!later_fragment).then(|| {
                let (key, dir, ports) = Keyed::key_of(p);
                FlowOf::new(key, dir, ports)
            }),
            match_key,
            strong,
            forward_fp: forward_fingerprint(p, match_key, strong),
        }
    }

    /// The key, direction and (sport, dport) of a packet that is not a later fragment.
    fn key_of(p: &Packet) -> (FlowKey, usize, (u16, u16)) {
        let (kind, sport, dport) = match p.transport {
            Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport } => {
                (KeyKind::Ports, sport, dport)
            }
            Transport::Echo { id, .. } => (KeyKind::Echo { id }, 0, 0),
            Transport::IcmpError {
                icmp_type, code, ..
            }
            | Transport::IcmpOther {
                icmp_type, code, ..
            } => (KeyKind::Icmp { icmp_type, code }, 0, 0),
            Transport::None => match p.ip_proto {
                6 | 17 => (KeyKind::PortsUnknown, 0, 0),
                _ => (KeyKind::Other, 0, 0),
            },
        };
        let ep = |ip, port| Endpoint { ip, port };
        let (key, dir) = FlowKey::new(p.ip_proto, kind, ep(p.src, sport), ep(p.dst, dport));
        (key, dir, (sport, dport))
    }
}

/// The flow table of one capture point.
pub struct FlowTable {
    /// In order of first packet (orphan fragments aside, see `finish`).
    flows: Vec<Flow>,
    index: FlowIndex,
    links: FastIndexMap<(u32, u32, u8), Link>,
    fragments: FastMap<FragKey, u32>,
    pending: FastIndexMap<FragKey, PendingFragments>,
    forward: ForwardDetector,
    max_flows: usize,
    /// Packets that would have opened a flow past `max_flows`.
    pub dropped_packets: u64,
    /// Packets that are the leaving leg of a forward at this point.
    pub forwarded_packets: u64,
    /// True when flows keep packet samples.
    sampling: bool,
    /// The run's flows, shared with the other points (see `budget`), and those granted.
    budget: Option<std::sync::Arc<FlowBudget>>,
    granted: usize,
    out_of_memory: bool,
}

impl FlowTable {
    /// A table that holds at most `max_flows` flows; packets of further flows are counted in
    /// `dropped_packets`. It keeps no packet samples.
    pub fn new(max_flows: usize) -> FlowTable {
        FlowTable::with_samples(max_flows, false)
    }

    /// A table that, when `sampling`, keeps packet samples in every flow (see the module docs):
    /// what `correlate` needs to follow packets across capture points.
    pub fn with_samples(max_flows: usize, sampling: bool) -> FlowTable {
        FlowTable {
            sampling,
            flows: Vec::new(),
            index: FlowIndex::new(),
            links: FastIndexMap::default(),
            fragments: FastMap::default(),
            pending: FastIndexMap::default(),
            forward: ForwardDetector::default(),
            max_flows,
            dropped_packets: 0,
            forwarded_packets: 0,
            budget: None,
            granted: 0,
            out_of_memory: false,
        }
    }

    /// Adds one decoded packet. `frame` is its 1-based number in the capture.
    pub fn add(&mut self, p: &Packet, ts: i64, wire_len: u32, frame: u64) {
        self.add_keyed(p, &Keyed::of(p), ts, wire_len, frame);
    }

    /// Adds a batch of packets: (packet, time, wire length, frame number), in order, as
    /// [`add`](Self::add) would one by one. The keys of the whole batch are computed first,
    /// then while each packet updates its flow, the index slots and flows of the packets a
    /// few places ahead are prefetched, so that the cache misses of a table far larger than
    /// the caches overlap instead of following one another. `keys` is scratch space, kept by
    /// the caller so that batches do not allocate.
    pub fn add_batch(&mut self, batch: &[(Packet, i64, u32, u64)], keys: &mut Vec<Keyed>) {
        const AHEAD: usize = 8;
        keys.clear();
        keys.extend(batch.iter().map(|(p, ..)| Keyed::of(p)));
        for (i, ((p, ts, wire_len, frame), k)) in batch.iter().zip(keys.iter()).enumerate() {
            if let Some(near) = keys.get(i + AHEAD / 2).and_then(|k| k.flow) {
                self.index.prefetch_flow(near.hash, &self.flows);
            }
            if let Some(ahead) = keys.get(i + AHEAD) {
                if let Some(f) = ahead.flow {
                    self.index.prefetch(f.hash);
                }
                if let Some(fp) = ahead.forward_fp {
                    self.forward.prefetch(fp);
                }
            }
            self.add_keyed(p, k, *ts, *wire_len, *frame);
        }
    }

    /// Adds one packet whose key was computed (by [`Keyed::of`]).
    fn add_keyed(&mut self, p: &Packet, k: &Keyed, ts: i64, wire_len: u32, frame: u64) {
        let of = match k.flow {
            Some(of) => of,
            None => match self.fragment_key(p, ts, wire_len, frame) {
                Some((key, dir, ports)) => FlowOf::new(key, dir, ports),
                None => return, // parked as a pending fragment
            },
        };
        let FlowOf { key, dir, .. } = of;
        let sampling = self.sampling;
        let Some(idx) = self.find_or_open(of, || {
            let mut flow = Flow::new(key, dir, ts, frame, of.ports);
            if sampling {
                flow.samples = Some(Box::default());
            }
            flow
        }) else {
            self.dropped_packets += 1;
            return;
        };
        // a first fragment: remember the datagram, and collect fragments that came before it
        if let Some(f) = p.fragment {
            if f.offset == 0 && key.kind == KeyKind::Ports {
                let fk = (p.src, p.dst, p.ip_proto, f.id);
                if self.fragments.len() >= MAX_FRAGMENT_DATAGRAMS {
                    self.fragments.clear();
                }
                self.fragments.insert(fk, idx as u32);
                if let Some(pend) = self.pending.swap_remove(&fk) {
                    if let Some(flow) = self.flows.get_mut(idx) {
                        flow.merge_pending(&pend, dir);
                    }
                }
            }
        }
        let (mkey, strong) = (k.match_key, k.strong);
        let arrived = k.forward_fp.and_then(|fp| {
            self.forward.observe(LegSeen {
                fp,
                ts,
                flow: idx as u32,
                dir: dir as u8,
                ttl: p.ttl,
                used: true,
            })
        });
        let mut second_leg = false;
        if let Some(a) = arrived {
            self.forwarded_packets += 1;
            let a_dir = usize::from(a.dir);
            let mut before = None;
            if let Some(from) = self.flows.get_mut(a.flow as usize) {
                from.rare_mut().forwarded_in[a_dir] += 1;
                before = Some((from.key.sender(a_dir), from.key.sender(1 - a_dir)));
            }
            second_leg = a.flow as usize == idx;
            if let (false, Some(before)) = (second_leg, before) {
                let link_key = (a.flow, idx as u32, a.dir);
                let cached = self
                    .flows
                    .get(idx)
                    .and_then(|f| f.rare.as_ref())
                    .and_then(|r| r.last_link)
                    .filter(|&at| {
                        self.links
                            .get_index(at as usize)
                            .is_some_and(|(k, _)| *k == link_key)
                    });
                let at = match cached {
                    Some(at) => at as usize,
                    None => {
                        let entry = self.links.entry(link_key);
                        let at = entry.index();
                        entry.or_insert(Link {
                            from: a.flow as usize,
                            to: idx,
                            from_dir: a.dir,
                            to_dir: dir as u8,
                            packets: 0,
                            before,
                            after: (key.sender(dir), key.sender(1 - dir)),
                        });
                        if let Some(f) = self.flows.get_mut(idx) {
                            f.rare_mut().last_link = u32::try_from(at).ok();
                        }
                        at
                    }
                };
                if let Some((_, link)) = self.links.get_index_mut(at) {
                    link.packets += 1;
                }
            }
        }
        let Some(flow) = self.flows.get_mut(idx) else {
            return;
        };
        flow.packets[dir] += 1;
        flow.bytes[dir] += wire_len as u64;
        flow.ip_bytes[dir] += p.ip_len as u64;
        flow.first_ts = flow.first_ts.min(ts);
        flow.last_ts = flow.last_ts.max(ts);
        flow.dir_first_ts[dir] = flow.dir_first_ts[dir].min(ts);
        flow.last_frame = frame;
        flow.ttls[dir].insert(p.ttl);
        flow.encap |= p.encap;
        if p.fragment.is_some() {
            flow.rare_mut().fragments += 1;
        }
        if p.truncated {
            flow.rare_mut().truncated += 1;
        }
        if arrived.is_some() {
            flow.rare_mut().forwarded[dir] += 1;
        }
        if let Some(samples) = flow.samples.as_deref_mut() {
            if strong
                && !group_address(&p.dst)
                && !matches!(p.transport, Transport::IcmpError { .. })
            {
                let (seq, info) = match p.transport {
                    Transport::Tcp { seq, flags, .. } => (seq, flags),
                    Transport::Echo { seq, request, .. } => (u32::from(seq), u8::from(request)),
                    _ => (0, 0),
                };
                samples[dir].offer(Sample {
                    key: mkey,
                    ts,
                    seq,
                    frame: u32::try_from(frame).unwrap_or(u32::MAX),
                    ip_len: u16::try_from(p.ip_len).unwrap_or(u16::MAX),
                    ttl: p.ttl,
                    info,
                    leaving: arrived.is_some(),
                });
            }
        }
        match p.transport {
            Transport::Tcp {
                flags, seq, ack: _, ..
            } => {
                flow.tcp_flags[dir] |= flags;
                let syn = flags & tcp_flags::SYN != 0;
                let ackf = flags & tcp_flags::ACK != 0;
                if syn && !ackf && flow.syn_dir == NONE {
                    flow.syn_dir = dir as u8;
                }
                if syn && ackf && flow.synack_dir == NONE {
                    flow.synack_dir = dir as u8;
                }
                if !second_leg {
                    tcp_history(flow, dir, flags, seq, p.payload_len);
                }
            }
            Transport::Echo { request, seq, .. } => {
                if request {
                    if flow.request_dir == NONE {
                        flow.request_dir = dir as u8;
                    }
                    if !second_leg {
                        flow.echo.request(seq);
                    }
                } else {
                    if flow.reply_dir == NONE {
                        flow.reply_dir = dir as u8;
                    }
                    if !second_leg {
                        flow.echo.reply(seq);
                    }
                }
            }
            Transport::IcmpError {
                quoted: Some(q), ..
            } if flow.quoted.is_none() => {
                flow.quoted = Some(Box::new(FlowKey::of_quoted(&q)));
            }
            _ => {}
        }
    }

    /// The key, direction and (sport, dport) of a fragment after the first, through the
    /// datagram's first fragment; None when that has not been seen yet and the fragment is
    /// parked until it comes.
    fn fragment_key(
        &mut self,
        p: &Packet,
        ts: i64,
        wire_len: u32,
        frame: u64,
    ) -> Option<(FlowKey, usize, (u16, u16))> {
        let Some(f) = p.fragment else {
            return Some(Keyed::key_of(p));
        };
        let fk = (p.src, p.dst, p.ip_proto, f.id);
        if let Some(&i) = self.fragments.get(&fk) {
            if let Some(k) = self.flows.get(i as usize).map(|f| f.key) {
                let dir = if k.lo.ip == p.src && k.hi.ip == p.dst {
                    0
                } else {
                    1
                };
                return Some((k, dir, (k.sender(dir).port, k.sender(1 - dir).port)));
            }
        }
        self.park_fragment(fk, p, ts, wire_len, frame);
        None
    }

    fn park_fragment(&mut self, fk: FragKey, p: &Packet, ts: i64, wire_len: u32, frame: u64) {
        if !self.pending.contains_key(&fk) && self.pending.len() >= MAX_FRAGMENT_DATAGRAMS {
            // give up on the oldest datagram: it becomes a ports-unknown flow
            if let Some((_, old)) = self.pending.shift_remove_index(0) {
                self.flush_pending(&old);
            }
        }
        let e = self.pending.entry(fk).or_insert(PendingFragments {
            src: p.src,
            dst: p.dst,
            ip_proto: p.ip_proto,
            packets: 0,
            bytes: 0,
            ip_bytes: 0,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            ttls: TtlSet::default(),
        });
        e.packets += 1;
        e.bytes += wire_len as u64;
        e.ip_bytes += p.ip_len as u64;
        e.first_ts = e.first_ts.min(ts);
        e.last_ts = e.last_ts.max(ts);
        e.last_frame = frame;
        e.ttls.insert(p.ttl);
    }

    fn flush_pending(&mut self, pend: &PendingFragments) {
        let kind = match pend.ip_proto {
            6 | 17 => KeyKind::PortsUnknown,
            _ => KeyKind::Other,
        };
        let ep = |ip| Endpoint { ip, port: 0 };
        let (key, dir) = FlowKey::new(pend.ip_proto, kind, ep(pend.src), ep(pend.dst));
        let of = FlowOf::new(key, dir, (0, 0));
        let Some(idx) = self.find_or_open(of, || {
            Flow::new(key, dir, pend.first_ts, pend.first_frame, (0, 0))
        }) else {
            self.dropped_packets += pend.packets;
            return;
        };
        if let Some(flow) = self.flows.get_mut(idx) {
            flow.merge_pending(pend, dir);
        }
    }

    /// The position of the flow `of` names, opened with `make` when it is new; None when it
    /// is new and the table already holds `max_flows` flows.
    fn find_or_open(&mut self, of: FlowOf, make: impl FnOnce() -> Flow) -> Option<usize> {
        match self.index.find(of.hash, &of.key, &self.flows) {
            Slot::Found(i) => Some(i),
            Slot::Vacant(_) if !self.may_open() => None,
            Slot::Vacant(at) => {
                self.flows.push(make());
                let i = self.flows.len() - 1;
                if self.index.insert(at, of.hash, i, &self.flows) {
                    Some(i)
                } else {
                    self.flows.pop();
                    self.out_of_memory = true;
                    None
                }
            }
        }
    }

    /// Ends the capture: fragments whose first fragment never came become ports-unknown
    /// flows. Returns the flows (in order of first packet) and the forwarding links.
    pub fn finish(mut self) -> (Vec<Flow>, Vec<Link>) {
        self.return_grant();
        let pending: Vec<PendingFragments> = self.pending.drain(..).map(|(_, v)| v).collect();
        for p in &pending {
            self.flush_pending(p);
        }
        // flows were created in packet order, except those created for orphan fragments:
        // sort (in place, no second copy of the table) only when one of those broke it
        let in_order = self
            .flows
            .iter()
            .zip(self.flows.iter().skip(1))
            .all(|(a, b)| a.first_frame <= b.first_frame);
        let mut remap: Vec<usize> = Vec::new();
        if !in_order {
            let mut order: Vec<(u64, usize)> = self
                .flows
                .iter()
                .enumerate()
                .map(|(i, f)| (f.first_frame, i))
                .collect();
            order.sort_unstable();
            remap = vec![0usize; order.len()];
            for (new, &(_, old)) in order.iter().enumerate() {
                remap[old] = new;
            }
            self.flows.sort_by_key(|f| f.first_frame);
        }
        let flows = self.flows;
        let links = self
            .links
            .into_values()
            .map(|mut l| {
                if !remap.is_empty() {
                    l.from = remap[l.from];
                    l.to = remap[l.to];
                }
                l
            })
            .collect();
        (flows, links)
    }

    /// Number of flows so far.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow was opened.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

fn tcp_history(flow: &mut Flow, dir: usize, flags: u8, seq: u32, payload_len: u32) {
    let syn = flags & tcp_flags::SYN != 0;
    let ack = flags & tcp_flags::ACK != 0;
    let fin = flags & tcp_flags::FIN != 0;
    let rst = flags & tcp_flags::RST != 0;
    if syn {
        flow.history.add(if ack { b'H' } else { b'S' }, dir);
    }
    if fin {
        flow.history.add(b'F', dir);
    }
    if rst {
        flow.history.add(b'R', dir);
    }
    if payload_len > 0 {
        let end = seq.wrapping_add(payload_len);
        match flow.seq_end[dir] {
            Some(high) if (high.wrapping_sub(end) as i32) >= 0 => {
                flow.rare_mut().retransmissions[dir] += 1;
                flow.history.add(b'T', dir);
            }
            _ => flow.history.add(b'D', dir),
        }
    } else if ack && !syn && !fin && !rst {
        flow.history.add(b'A', dir);
    }
    let end = seq
        .wrapping_add(payload_len)
        .wrapping_add(u32::from(syn))
        .wrapping_add(u32::from(fin));
    flow.seq_end[dir] = Some(match flow.seq_end[dir] {
        Some(high) if (high.wrapping_sub(end) as i32) >= 0 => high,
        _ => end,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Fragment;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn packet(src: &str, dst: &str, ttl: u8, transport: Transport) -> Packet {
        let ip_proto = match transport {
            Transport::Tcp { .. } => 6,
            Transport::Udp { .. } => 17,
            _ => 1,
        };
        Packet {
            src: ip(src),
            dst: ip(dst),
            ip_proto,
            ttl,
            ip_id: 0,
            ip_len: 60,
            fragment: None,
            transport,
            payload_len: 0,
            digest: 0,
            digest_len: 0,
            encap: 0,
            vlan_count: 0,
            truncated: false,
        }
    }

    fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8, seq: u32, len: u32) -> Packet {
        let mut p = packet(
            src,
            dst,
            64,
            Transport::Tcp {
                sport,
                dport,
                flags,
                seq,
                ack: 0,
            },
        );
        p.payload_len = len;
        p
    }

    use tcp_flags::{ACK, FIN, SYN};

    /// The 2 GB benchmark holds 200,000 flows within its 150 MiB budget (README,
    /// Performance): a field added to every flow costs 200 KB per byte. Rare counters belong in
    /// `RareCounts`, made only for the flows that need them.
    #[test]
    fn a_flow_record_stays_within_its_memory_budget() {
        assert!(
            std::mem::size_of::<Flow>() <= 264,
            "Flow grew to {} bytes (budget 264)",
            std::mem::size_of::<Flow>()
        );
    }

    #[test]
    fn tcp_connection_is_one_flow_with_zeek_history() {
        let mut t = FlowTable::new(100);
        let c = "10.0.0.1";
        let s = "10.0.0.2";
        let pk = [
            tcp(c, 40000, s, 80, SYN, 100, 0),
            tcp(s, 80, c, 40000, SYN | ACK, 500, 0),
            tcp(c, 40000, s, 80, ACK, 101, 0),
            tcp(c, 40000, s, 80, ACK, 101, 10),
            tcp(c, 40000, s, 80, ACK, 101, 10), // retransmission
            tcp(s, 80, c, 40000, ACK, 501, 100),
            tcp(c, 40000, s, 80, FIN | ACK, 111, 0),
            tcp(s, 80, c, 40000, FIN | ACK, 601, 0),
        ];
        for (i, p) in pk.iter().enumerate() {
            t.add(p, i as i64 * 1000, 60, i as u64 + 1);
        }
        let (flows, links) = t.finish();
        assert_eq!(flows.len(), 1);
        assert!(links.is_empty());
        let f = &flows[0];
        let (orig, how) = f.originator();
        assert_eq!(how, Orientation::Syn);
        assert_eq!(f.key.sender(orig).port, 40000);
        assert_eq!(f.history.render(orig), "ShADTdFf");
        assert_eq!(f.packets[orig], 5);
        assert_eq!(f.packets[1 - orig], 3);
        assert_eq!(f.retransmissions()[orig], 1);
    }

    #[test]
    fn echo_requests_pair_with_replies_by_sequence() {
        let mut t = FlowTable::new(100);
        let echo = |request, seq| Transport::Echo {
            v6: false,
            request,
            id: 7,
            seq,
        };
        t.add(&packet("10.0.0.1", "10.0.0.2", 64, echo(true, 1)), 0, 98, 1);
        t.add(
            &packet("10.0.0.2", "10.0.0.1", 64, echo(false, 1)),
            1,
            98,
            2,
        );
        t.add(&packet("10.0.0.1", "10.0.0.2", 64, echo(true, 2)), 2, 98, 3);
        t.add(
            &packet("10.0.0.2", "10.0.0.1", 64, echo(false, 9)),
            3,
            98,
            4,
        );
        let (flows, _) = t.finish();
        assert_eq!(flows.len(), 1);
        let e = &flows[0].echo;
        assert_eq!((e.requests, e.replies, e.paired), (2, 2, 1));
        assert_eq!(flows[0].tshark_a().1, Orientation::EchoRequest);
    }

    #[test]
    fn only_replies_make_the_reply_destination_the_originator() {
        let mut t = FlowTable::new(100);
        let reply = Transport::Echo {
            v6: false,
            request: false,
            id: 7,
            seq: 1,
        };
        t.add(&packet("10.0.0.9", "10.0.0.1", 64, reply), 0, 98, 1);
        let (flows, _) = t.finish();
        let (a, how) = flows[0].tshark_a();
        assert_eq!(how, Orientation::EchoReply);
        assert_eq!(flows[0].key.sender(a).ip, ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_packet_with_snat_links_two_flows() {
        let mut t = FlowTable::new(100);
        let echo = |request| Transport::Echo {
            v6: false,
            request,
            id: 12,
            seq: 1,
        };
        let mut in_leg = packet("10.100.201.4", "10.100.202.4", 64, echo(true));
        in_leg.ip_id = 4242;
        in_leg.digest = 99;
        in_leg.digest_len = 16;
        let mut out_leg = in_leg;
        out_leg.src = ip("10.100.200.68");
        out_leg.ttl = 63;
        t.add(&in_leg, 1_000, 98, 1);
        t.add(&out_leg, 21_000, 98, 2);
        let (flows, links) = t.finish();
        assert_eq!(flows.len(), 2);
        assert_eq!(links.len(), 1);
        let l = links[0];
        assert_eq!((l.from, l.to, l.packets), (0, 1, 1));
        assert_eq!(l.before.0.ip, ip("10.100.201.4"));
        assert_eq!(l.after.0.ip, ip("10.100.200.68"));
        assert_eq!(flows[1].forwarded().iter().sum::<u64>(), 1);
        // each flow of the pair counts what it carries
        assert_eq!(flows[0].echo.requests, 1);
        assert_eq!(flows[1].echo.requests, 1);
    }

    #[test]
    fn forwarding_without_nat_stays_one_flow_without_retransmissions() {
        let mut t = FlowTable::new(100);
        let mut a = tcp("10.100.204.2", 40000, "10.100.201.4", 8080, ACK, 1, 100);
        a.ip_id = 77;
        let mut b = a;
        b.ttl = 63;
        t.add(&a, 0, 154, 1);
        t.add(&b, 10_000, 154, 2);
        let (flows, links) = t.finish();
        assert_eq!(flows.len(), 1);
        assert!(links.is_empty());
        assert_eq!(flows[0].packets.iter().sum::<u64>(), 2);
        assert_eq!(flows[0].retransmissions(), [0, 0]);
        assert_eq!(
            flows[0]
                .ttls
                .iter()
                .map(|t| t.values().len())
                .sum::<usize>(),
            2
        );
    }

    #[test]
    fn same_ttl_duplicates_are_not_forwards() {
        let mut t = FlowTable::new(100);
        let mut a = tcp("10.0.0.1", 40000, "10.0.0.2", 80, ACK, 1, 100);
        a.ip_id = 5;
        t.add(&a, 0, 154, 1);
        t.add(&a, 10, 154, 2);
        assert_eq!(t.forwarded_packets, 0);
    }

    #[test]
    fn fragments_before_their_first_fragment_are_attributed() {
        let mut t = FlowTable::new(100);
        let frag = |offset, more| Fragment {
            offset,
            more,
            id: 31,
        };
        let mut later = packet("10.0.0.1", "10.0.0.2", 64, Transport::None);
        later.ip_proto = 17;
        later.fragment = Some(frag(1480, false));
        let mut first = packet(
            "10.0.0.1",
            "10.0.0.2",
            64,
            Transport::Udp {
                sport: 123,
                dport: 123,
            },
        );
        first.fragment = Some(frag(0, true));
        let mut middle = later;
        middle.fragment = Some(frag(740, true));
        t.add(&later, 0, 100, 1);
        t.add(&first, 1, 100, 2);
        t.add(&middle, 2, 100, 3);
        let (flows, _) = t.finish();
        assert_eq!(flows.len(), 1, "{flows:?}");
        assert_eq!(flows[0].total_packets(), 3);
        assert_eq!(flows[0].first_frame, 1);
        assert_eq!(flows[0].fragments(), 3);
    }

    #[test]
    fn orphan_fragments_become_a_ports_unknown_flow() {
        let mut t = FlowTable::new(100);
        let mut later = packet("10.0.0.1", "10.0.0.2", 64, Transport::None);
        later.ip_proto = 17;
        later.fragment = Some(Fragment {
            offset: 8,
            more: false,
            id: 1,
        });
        t.add(&later, 0, 100, 1);
        let (flows, _) = t.finish();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].key.kind, KeyKind::PortsUnknown);
    }

    #[test]
    fn flow_cap_counts_what_it_drops() {
        let mut t = FlowTable::new(1);
        t.add(&tcp("10.0.0.1", 1, "10.0.0.2", 80, SYN, 0, 0), 0, 60, 1);
        t.add(&tcp("10.0.0.1", 2, "10.0.0.2", 80, SYN, 0, 0), 0, 60, 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.dropped_packets, 1);
    }

    #[test]
    fn keys_are_canonical_in_both_directions() {
        let a = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            port: 1,
        };
        let b = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port: 2,
        };
        let (k1, d1) = FlowKey::new(6, KeyKind::Ports, a, b);
        let (k2, d2) = FlowKey::new(6, KeyKind::Ports, b, a);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(k1.lo, b);
    }

    #[test]
    fn samples_are_the_same_packets_wherever_the_flow_was_captured() {
        let packets: Vec<Packet> = (0..50u32)
            .map(|k| {
                let mut p = tcp("10.0.0.1", 40000, "10.0.0.2", 443, ACK, 1000 + k * 100, 100);
                p.ip_id = 7 + k;
                p.digest = u64::from(k) * 31;
                p.digest_len = 16;
                p
            })
            .collect();
        let keys = |skip: usize, ttl: u8| -> Vec<u64> {
            let mut t = FlowTable::with_samples(10, true);
            for (i, p) in packets.iter().enumerate().skip(skip) {
                let mut p = *p;
                p.ttl = ttl; // forwarding lowers the TTL: not part of the key
                t.add(&p, i as i64, 154, i as u64 + 1);
            }
            let (flows, _) = t.finish();
            let s = flows[0].samples.as_deref().expect("sampled");
            assert!(s[1].samples().is_empty());
            let mut k: Vec<u64> = s[0].samples().iter().map(|s| s.key).collect();
            assert_eq!(k.len(), FIRST_SAMPLES + LOW_SAMPLES);
            k.sort_unstable();
            k
        };
        assert_eq!(keys(0, 64), keys(0, 63), "the same packets at both points");
        // a point that started capturing late still keeps most of the same low-key packets
        let late = keys(10, 64);
        let common = keys(0, 64).iter().filter(|k| late.contains(k)).count();
        assert!(common >= LOW_SAMPLES - 1, "{common}");
        // without sampling, flows carry none
        let mut t = FlowTable::new(10);
        t.add(&packets[0], 0, 154, 1);
        assert!(t.finish().0[0].samples.is_none());
    }

    #[test]
    fn leaving_legs_are_marked_in_the_samples() {
        let mut t = FlowTable::with_samples(10, true);
        let mut a = tcp("10.100.204.2", 40000, "10.100.201.4", 8080, ACK, 1, 100);
        a.ip_id = 77;
        let mut b = a;
        b.ttl = 63;
        t.add(&a, 0, 154, 1);
        t.add(&b, 10_000, 154, 2);
        let (flows, _) = t.finish();
        let s = flows[0].samples.as_deref().unwrap();
        // 10.100.204.2 sorts after 10.100.201.4: its packets are direction 1
        let legs: Vec<(u8, bool)> = s[1].samples().iter().map(|s| (s.ttl, s.leaving)).collect();
        assert_eq!(legs, vec![(64, false), (63, true)]);
        assert_eq!(flows[0].forwarded_in()[1], 1);
        assert_eq!(flows[0].forwarded()[1], 1);
    }

    #[test]
    fn ttl_set_keeps_four_sorted_values() {
        let mut s = TtlSet::default();
        for t in [64, 63, 64, 1, 200, 7] {
            s.insert(t);
        }
        assert_eq!(s.values(), &[1, 63, 64, 200]);
        assert!(s.overflow);
    }

    #[test]
    fn history_text_reads_like_the_rendered_string() {
        let mut h = History::default();
        for (letter, dir) in [
            (b'S', 0),
            (b'H', 1),
            (b'A', 0),
            (b'D', 0),
            (b'D', 1),
            (b'F', 1),
        ] {
            h.add(letter, dir);
        }
        for orig in 0..2 {
            assert_eq!(h.text(orig).as_str(), h.render(orig));
        }
        assert_eq!(&*h.text(0), "ShADdf");
        assert_eq!(HistoryText::default().as_str(), "");
        assert_eq!(
            HistoryText::from("abcdefghijklmnopqrs").as_str(),
            "abcdefghijklmnop"
        );
        // a character cut by the 16-byte limit is left out whole
        assert_eq!(
            HistoryText::from("abcdefghijklmnoé").as_str(),
            "abcdefghijklmno"
        );
    }
}
