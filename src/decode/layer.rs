//! What one layer hands the next: the context of the layers already read ([`Ctx`]), the layer
//! still to read ([`Layer`], which ends at an IP header, [`Ip`]), an IP header once read
//! ([`IpPayload`]) and the key fields of an IP header quoted by an ICMP error ([`QuotedIp`]).
//! The layer modules only return these; the loop in `decode/mod.rs` moves between them.

use std::net::IpAddr;

use super::bytes::len_u32;

/// At most this many tunnels (IP-in-IP, GRE, UDP tunnels, MPLS pseudowires) one inside the
/// other.
pub(super) const MAX_TUNNEL_DEPTH: u8 = 8;

/// What the layers in front of the IP header being decoded contribute.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ctx {
    /// `encap::*` bits of the layers read so far.
    pub encap: u16,
    pub vlan_count: u8,
    /// The link layer's destination is a group address (see `Packet::link_group`).
    pub link_group: bool,
    /// Tunnels entered so far.
    pub depth: u8,
    /// Bytes of the frame that were on the wire but not captured, when the slice being decoded
    /// runs to the end of the captured frame (0 otherwise).
    pub uncaptured: u32,
}

impl Ctx {
    /// The context at the start of a frame.
    pub fn frame(uncaptured: u32) -> Ctx {
        Ctx {
            encap: 0,
            vlan_count: 0,
            link_group: false,
            depth: 0,
            uncaptured,
        }
    }

    pub fn with(self, bit: u16) -> Ctx {
        Ctx {
            encap: self.encap | bit,
            ..self
        }
    }

    /// One tunnel deeper; `None` past [`MAX_TUNNEL_DEPTH`].
    pub fn deeper(self) -> Option<Ctx> {
        (self.depth < MAX_TUNNEL_DEPTH).then_some(Ctx {
            depth: self.depth + 1,
            ..self
        })
    }
}

/// An IP header still to be read.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ip<'a> {
    /// IPv4 or IPv6 as the version nibble says (tshark's "ip" dissector does the same, also
    /// for LINKTYPE_IPV4 and IP protocol 4).
    Any(&'a [u8]),
    /// IPv6 only (ether type 0x86dd, LINKTYPE_IPV6, ...): another version is malformed.
    V6(&'a [u8]),
}

/// A layer still to be read, from the link layer down to an IP header: what a link header
/// or a tunnel header says its payload is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Layer<'a> {
    /// An Ethernet II or 802.3 header.
    Ethernet(&'a [u8]),
    /// The payload of an ether type (VLAN tags not yet popped).
    EtherType(u16, &'a [u8]),
    /// A PPP frame (HDLC address/control optional).
    Ppp(&'a [u8]),
    /// An MPLS label stack.
    Mpls(&'a [u8]),
    /// The IP header the link layers lead to.
    Ip(Ip<'a>),
}

/// What an IP header, once read into a `Packet`, leaves to the layers inside it: the captured
/// IP payload after the extension headers, its length by the headers, and the context a
/// tunnel inside it starts from. (The packet itself is written in place, not moved around:
/// it is the largest value of the decoder.)
#[derive(Debug, Clone, Copy)]
pub(super) struct IpPayload<'a> {
    pub l4: &'a [u8],
    pub l4_len: u32,
    pub inner_ctx: Ctx,
}

/// The captured bytes of the IP packet `d` from `start` up to the IP length `ip_len` (padding
/// dropped), and the context for what they hold.
pub(super) fn ip_payload(d: &[u8], start: usize, ip_len: u32, ctx: Ctx) -> (&[u8], Ctx) {
    let end = d.len().min(usize::try_from(ip_len).unwrap_or(usize::MAX));
    let payload = d.get(start..end).unwrap_or(&[]);
    // Only a slice that still runs to the end of the captured frame can have bytes that were
    // on the wire but not captured.
    let uncaptured = if end == d.len() { ctx.uncaptured } else { 0 };
    (payload, Ctx { uncaptured, ..ctx })
}

/// IP total length 0 (TCP segmentation offload, IPv6 jumbogram): the packet runs to the end
/// of the frame as it was on the wire.
pub(super) fn to_end_of_frame(d: &[u8], ctx: Ctx) -> u32 {
    len_u32(d).saturating_add(ctx.uncaptured)
}

/// The parts of an IP header quoted in an ICMP error that become a `Quoted`.
pub(super) struct QuotedIp<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip_proto: u8,
    /// The quoted bytes after the IP header (and its extension headers).
    pub l4: &'a [u8],
    pub non_first: bool,
}
