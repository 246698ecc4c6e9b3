//! The flow record: what the table keeps per flow ([`Flow`]: counters per direction, times,
//! TTLs ([`TtlSet`]), TCP history, ICMP echo pairing ([`EchoState`]), samples), and how its
//! originator is told ([`Orientation`]: tshark's rule, then well-known ports, then the first
//! packet).

use super::history::{History, SegmentSeen};
use super::key::FlowKey;
use super::sample::DirSamples;
use crate::decode::{tcp_flags, Packet, Transport};

/// The first-packet time of a direction (or point) that has seen no packet yet: later than
/// any packet, so `min` with the first real time keeps that time. Reports read it as "none".
pub const NO_FIRST_TS: i64 = i64::MAX;

/// The last-packet time of a point that has seen no packet yet: earlier than any packet, so
/// `max` with the first real time keeps that time.
pub const NO_LAST_TS: i64 = i64::MIN;

/// Up to four distinct TTLs (or hop limits) seen in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TtlSet {
    vals: [u8; 4],
    len: u8,
    /// True when more than four distinct values were seen.
    pub overflow: bool,
}

impl TtlSet {
    #[inline]
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
    /// Direction of the first pure SYN, SYN-ACK, echo request, echo reply (None: not seen).
    pub(super) syn_dir: Option<KeyDir>,
    pub(super) synack_dir: Option<KeyDir>,
    pub(super) request_dir: Option<KeyDir>,
    pub(super) reply_dir: Option<KeyDir>,
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
    /// Time of the first packet in each direction ([`NO_FIRST_TS`] when none).
    pub dir_first_ts: [i64; 2],
    pub last_frame: u64,
    pub(super) seq_end: [Option<u32>; 2],
    pub ttls: [TtlSet; 2],
    pub history: History,
    /// Packet samples per direction, when the table samples (see the module docs).
    pub samples: Option<Box<[DirSamples; 2]>>,
    /// 1-based frame number of the first packet.
    pub first_frame: u64,
    /// Destination port of the first packet's direction is well known and the source's not.
    pub(super) first_ports: (u16, u16),
    /// Counters most flows never need (see the accessors), allocated with the first.
    pub(super) rare: Option<Box<RareCounts>>,
    pub echo: EchoState,
    /// For an ICMP error flow: the conversation its first message quoted.
    pub quoted: Option<Box<FlowKey>>,
}

/// The counters of a flow that stay 0 for most flows: forwarding, retransmissions, fragments,
/// truncated packets (each is per direction where it is an array).
#[derive(Debug, Clone, Default)]
pub(super) struct RareCounts {
    pub(super) forwarded: [u64; 2],
    pub(super) forwarded_in: [u64; 2],
    pub(super) retransmissions: [u64; 2],
    /// TCP segments that started beyond the highest sequence number seen (see
    /// [`SegmentSeen::AfterGap`]).
    pub(super) seq_gaps: [u64; 2],
    pub(super) fragments: u64,
    pub(super) truncated: u64,
    /// Position in `FlowTable::links` of the link this flow's last leaving leg counted
    /// in: the next leg of the same forward (most of them) finds it without a map lookup.
    pub(super) last_link: Option<u32>,
    /// Per direction: a packet was sent to a link-layer group address (`Packet::link_group`).
    pub(super) link_group: [bool; 2],
}

/// A direction of the flow key, as the per-direction arrays index it: `lo -> hi` is 0.
/// One byte, and `Option<KeyDir>` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyDir {
    LoHi,
    HiLo,
}

impl KeyDir {
    #[inline]
    fn of(dir: usize) -> KeyDir {
        if dir == 0 {
            KeyDir::LoHi
        } else {
            KeyDir::HiLo
        }
    }
    #[inline]
    fn index(self) -> usize {
        self as usize
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
    pub(super) fn new(key: FlowKey, dir: usize, ts: i64, frame: u64, ports: (u16, u16)) -> Flow {
        Flow {
            key,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            dir_first_ts: [NO_FIRST_TS; 2],
            first_dir: dir as u8,
            first_ports: ports,
            ..Flow::default()
        }
    }

    #[inline]
    pub(super) fn rare_mut(&mut self) -> &mut RareCounts {
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

    /// Holes in the TCP sequence of each direction: segments that started beyond the highest
    /// sequence number seen before them (the bytes in between never captured here).
    pub fn seq_gaps(&self) -> [u64; 2] {
        self.rare.as_ref().map_or([0; 2], |r| r.seq_gaps)
    }

    /// IP fragments.
    pub fn fragments(&self) -> u64 {
        self.rare.as_ref().map_or(0, |r| r.fragments)
    }

    /// Packets whose capture was cut short of their IP length.
    pub fn truncated(&self) -> u64 {
        self.rare.as_ref().map_or(0, |r| r.truncated)
    }

    /// True when a packet of direction `dir` was sent to a link-layer group address.
    pub fn link_group(&self, dir: usize) -> bool {
        self.rare
            .as_ref()
            .is_some_and(|r| r.link_group.get(dir).copied().unwrap_or(false))
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
        if let Some(d) = self.syn_dir {
            (d.index(), Orientation::Syn)
        } else if let Some(d) = self.synack_dir {
            (1 - d.index(), Orientation::SynAck)
        } else if let Some(d) = self.request_dir {
            (d.index(), Orientation::EchoRequest)
        } else if let Some(d) = self.reply_dir {
            (1 - d.index(), Orientation::EchoReply)
        } else {
            (0, Orientation::Lower)
        }
    }

    /// The flow as tshark's conversation table shows it: which direction's sender is `a`,
    /// which is `b`, and the rule that chose `a` (what reports print; [`Flow::tshark_a`] is
    /// the stage's own).
    pub fn tshark_sides(&self) -> TsharkSides {
        let (a, rule) = self.tshark_a();
        TsharkSides { a, b: 1 - a, rule }
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

    /// Reads what a packet's transport header says about the originator, the TCP history,
    /// the echo pairing and the quoted conversation (`second_leg`: the leaving leg of a
    /// forward inside this flow, which adds no history and no echo).
    #[inline]
    pub(super) fn note_transport(&mut self, p: &Packet, dir: usize, second_leg: bool) {
        match p.transport {
            Transport::Tcp {
                flags, seq, ack: _, ..
            } => {
                self.tcp_flags[dir] |= flags;
                let syn = flags & tcp_flags::SYN != 0;
                let ackf = flags & tcp_flags::ACK != 0;
                if syn && !ackf && self.syn_dir.is_none() {
                    self.syn_dir = Some(KeyDir::of(dir));
                }
                if syn && ackf && self.synack_dir.is_none() {
                    self.synack_dir = Some(KeyDir::of(dir));
                }
                if !second_leg {
                    let seq_end = &mut self.seq_end[dir];
                    match self
                        .history
                        .segment(seq_end, dir, flags, seq, p.payload_len)
                    {
                        SegmentSeen::InOrder => {}
                        SegmentSeen::Retransmitted => self.rare_mut().retransmissions[dir] += 1,
                        SegmentSeen::AfterGap => self.rare_mut().seq_gaps[dir] += 1,
                    }
                }
            }
            Transport::Echo { request, seq, .. } => {
                if request {
                    if self.request_dir.is_none() {
                        self.request_dir = Some(KeyDir::of(dir));
                    }
                    if !second_leg {
                        self.echo.request(seq);
                    }
                } else {
                    if self.reply_dir.is_none() {
                        self.reply_dir = Some(KeyDir::of(dir));
                    }
                    if !second_leg {
                        self.echo.reply(seq);
                    }
                }
            }
            Transport::IcmpError {
                quoted: Some(q), ..
            } if self.quoted.is_none() => {
                self.quoted = Some(Box::new(FlowKey::of_quoted(&q)));
            }
            _ => {}
        }
    }

    /// True when a SYN (without ACK) was seen in direction `dir`.
    pub fn syn_seen(&self, dir: usize) -> bool {
        self.syn_dir.map(KeyDir::index) == Some(dir)
    }
    /// True when any SYN-ACK was seen.
    pub fn synack_seen(&self) -> bool {
        self.synack_dir.is_some()
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

/// A flow's two directions in tshark's terms ([`Flow::tshark_sides`]): index the flow's
/// per-direction arrays with `a` and `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsharkSides {
    pub a: usize,
    pub b: usize,
    /// How `a` was chosen.
    pub rule: Orientation,
}
