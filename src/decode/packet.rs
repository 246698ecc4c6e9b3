//! The decoder's output: the few fields of one packet the later stages need ([`Packet`],
//! [`Transport`], [`Quoted`], [`Fragment`]), their flag bits, and why a frame was skipped.

use std::net::IpAddr;

/// TCP flag bits as in the header's flags byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// The transport-layer summary of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP (v6 = false) or ICMPv6 echo request/reply.
    Echo {
        v6: bool,
        request: bool,
        id: u16,
        seq: u16,
    },
    /// ICMP/ICMPv6 error (destination unreachable, time exceeded, packet too big, parameter
    /// problem) with the conversation key of the packet it quotes, when readable.
    IcmpError {
        v6: bool,
        icmp_type: u8,
        code: u8,
        quoted: Option<Quoted>,
    },
    /// Any other ICMP/ICMPv6 message (neighbour discovery, router solicitation, ...).
    IcmpOther {
        v6: bool,
        icmp_type: u8,
        code: u8,
    },
    /// Transport header not available: a non-first IP fragment, or cut by snaplen, or a
    /// protocol that is not TCP/UDP/ICMP (see `Packet::ip_proto`).
    None,
}

/// The key fields of the packet quoted inside an ICMP error (as sent by its originator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip_proto: u8,
    /// Ports for TCP/UDP, (id, 0) for a quoted echo request/reply, (0, 0) otherwise.
    pub sport: u16,
    pub dport: u16,
}

/// IP fragment information (IPv4 flags/offset or IPv6 fragment header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Fragment offset in bytes.
    pub offset: u32,
    pub more: bool,
    /// IPv4 identification or IPv6 fragment header identification.
    pub id: u32,
}

/// Tunnel and tag context bits (outer layers in front of the inner-most IP header).
pub mod encap {
    pub const VLAN: u16 = 1 << 0;
    pub const QINQ: u16 = 1 << 1;
    pub const VXLAN: u16 = 1 << 2;
    pub const GENEVE: u16 = 1 << 3;
    pub const GRE: u16 = 1 << 4;
    pub const ERSPAN: u16 = 1 << 5;
    pub const IP_IN_IP: u16 = 1 << 6;
    pub const MPLS: u16 = 1 << 7;
    pub const PPPOE: u16 = 1 << 8;
    pub const TEREDO: u16 = 1 << 9;
    pub const SLL: u16 = 1 << 10;
    pub const GTP: u16 = 1 << 11;
    /// Names, in bit order, for reports.
    pub const NAMES: [&str; 12] = [
        "vlan", "qinq", "vxlan", "geneve", "gre", "erspan", "ip-in-ip", "mpls", "pppoe", "teredo",
        "sll", "gtp",
    ];

    /// The names of the layers set in `bits`, in bit order (what reports print).
    pub fn names(bits: u16) -> impl Iterator<Item = &'static str> + Clone {
        NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n)
    }
}

/// What the later stages need to know of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Protocol of the inner-most transport (after IPv6 extension headers).
    pub ip_proto: u8,
    /// IPv4 TTL or IPv6 hop limit of the inner-most IP header.
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6 unless fragmented, then the fragment id).
    pub ip_id: u32,
    /// IP total length as written in the header (IPv6: payload length + 40).
    pub ip_len: u32,
    pub fragment: Option<Fragment>,
    pub transport: Transport,
    /// Length of the L4 payload according to the headers (not the captured bytes).
    pub payload_len: u32,
    /// Hash of the first `digest_len` captured L4 payload bytes (at most 16): identifies
    /// the same packet at another capture point. 0 when `digest_len` is 0.
    pub digest: u64,
    pub digest_len: u8,
    /// `encap::*` bits of the layers in front of the inner-most IP header.
    pub encap: u16,
    /// 802.1Q/802.1ad tags seen (outer first, at most the first 4 kept; `vlan_count` counts all).
    pub vlan_count: u8,
    /// True when the capture cut the packet short of what its IP header says.
    pub truncated: bool,
    /// True when the frame's link layer sent it to a group address: an Ethernet destination
    /// with the group bit (broadcast ff:ff:ff:ff:ff:ff or multicast), or a Linux cooked
    /// capture's packet type broadcast or multicast. Tunnelled packets take their own inner
    /// Ethernet's (false without one). One-way by nature, like an IP group address.
    pub link_group: bool,
}

/// Why a frame did not yield a packet (every frame is either decoded or counted here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// ARP, STP, LLDP, PPP control, ...: a valid frame with no IP in it.
    NotIp,
    /// The link type is not one flowcheck decodes.
    UnsupportedLinkType,
    /// Cut by snaplen before the IP addresses.
    Truncated,
    /// An IP header that is not valid (bad version, header length, ...).
    MalformedIp,
}

impl SkipReason {
    /// Stable name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NotIp => "not_ip",
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::Truncated => "truncated",
            SkipReason::MalformedIp => "malformed_ip",
        }
    }
}
