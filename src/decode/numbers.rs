//! Registry numbers the layers hand each other by: IP protocol numbers and ether types (ether
//! types also name GRE, GENEVE and SLL payloads).

/// IP protocol numbers (IPv4 protocol, IPv6 next header) used by the decoder.
pub mod proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const DEST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const SHIM6: u8 = 140;
}

/// Ether types (also used as GRE protocol types and SLL protocols).
pub(super) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag.
    pub const QINQ_OLD: u16 = 0x9100;
    pub const CISCO_METADATA: u16 = 0x8909;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    pub const TRANSPARENT_ETHERNET: u16 = 0x6558;
    pub const ERSPAN_II: u16 = 0x88be;
    pub const ERSPAN_III: u16 = 0x22eb;
    pub const PPP: u16 = 0x880b;
    /// Values up to this one are 802.3 lengths, not ether types.
    pub const MAX_8023_LEN: u16 = 0x05ff;
}
