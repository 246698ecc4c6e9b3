//! Ethernet frames of one UDP datagram, checksums right (etherparse writes the headers).

use std::net::IpAddr;

use etherparse::{
    EtherType, Ethernet2Header, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, UdpHeader,
};

/// The source and destination MAC addresses of every frame built here.
pub const MACS: ([u8; 6], [u8; 6]) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);

/// One Ethernet frame: UDP from `src` to `dst` (address, port) with `ttl` (the hop limit over
/// IPv6) and `payload`. Over IPv4 the IP ID is 0 and DF is set, as Linux sends most UDP
/// datagrams. `None` when the two addresses are not of one family or the payload does not
/// fit one datagram.
pub fn udp_frame(
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    ttl: u8,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let len = u16::try_from(8 + payload.len()).ok()?;
    let mut out = Vec::with_capacity(14 + 40 + 8 + payload.len());
    let eth = |ether_type| Ethernet2Header {
        source: MACS.0,
        destination: MACS.1,
        ether_type,
    };
    match (src.0, dst.0) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ip = Ipv4Header::new(len, ttl, IpNumber::UDP, s.octets(), d.octets()).ok()?;
            ip.identification = 0;
            ip.dont_fragment = true;
            ip.header_checksum = ip.calc_header_checksum();
            let udp = UdpHeader::with_ipv4_checksum(src.1, dst.1, &ip, payload).ok()?;
            eth(EtherType::IPV4).write(&mut out).ok()?;
            ip.write(&mut out).ok()?;
            udp.write(&mut out).ok()?;
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ip = Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::ZERO,
                payload_length: len,
                next_header: IpNumber::UDP,
                hop_limit: ttl,
                source: s.octets(),
                destination: d.octets(),
            };
            let udp = UdpHeader::with_ipv6_checksum(src.1, dst.1, &ip, payload).ok()?;
            eth(EtherType::IPV6).write(&mut out).ok()?;
            ip.write(&mut out).ok()?;
            udp.write(&mut out).ok()?;
        }
        _ => return None,
    }
    out.extend_from_slice(payload);
    Some(out)
}

/// An Ethernet II header (destination, source, ether type) before `payload`, as given: for
/// frames the tests build layer by layer, damaged ones included.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    [&dst[..], &src, &ether_type.to_be_bytes(), payload].concat()
}

/// A UDP header before `payload`: the length written (65535 at the most), checksum 0 (none).
pub fn udp_bytes(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).unwrap_or(u16::MAX);
    [
        &sport.to_be_bytes()[..],
        &dport.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        payload,
    ]
    .concat()
}
