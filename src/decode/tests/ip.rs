//! IPv4 and IPv6 headers: options, malformed headers, TSO lengths, padding, extension headers, fragments.

use super::*;

#[test]
fn ipv4_options() {
    let mut header = Ipv4Header::new(0, TTL, IpNumber::UDP, CLIENT, SERVER).unwrap();
    header.options = [0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00].into(); // router alert, NOPs
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(IpHeaders::Ipv4(header, Default::default()))
            .udp(1000, 53),
        b"abc"
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!((p.ip_len, p.payload_len), (28 + 8 + 3, 3));
}

#[test]
fn malformed_ipv4() {
    let mut ip = udp_v4(b"x");
    ip[0] = 0x44; // IHL 4
    assert_eq!(
        eth_err(&ethernet_frame(0x0800, &ip)),
        SkipReason::MalformedIp
    );
    ip[0] = 0x55; // version 5
    assert_eq!(
        eth_err(&ethernet_frame(0x0800, &ip)),
        SkipReason::MalformedIp
    );
    // IPv6 ether type with a version-4 header.
    assert_eq!(
        eth_err(&ethernet_frame(0x86dd, &udp_v4(b"x"))),
        SkipReason::MalformedIp
    );
    // IHL 15 but a total length of 20 (corpus: ipv4-truncated-broken-header.pcap).
    let mut ip = udp_v4(b"x");
    ip[0] = 0x4f;
    ip[2..4].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(
        eth_err(&ethernet_frame(0x0800, &ip)),
        SkipReason::MalformedIp
    );
}

#[test]
fn ipv4_version_6_behind_ipv4_ethertype() {
    // tshark's IPv4 dissector hands a version-6 header to IPv6.
    assert_inner_udp_v6(&eth(&ethernet_frame(0x0800, &udp_v6(b"x"))));
}

#[test]
fn tso_total_length_zero() {
    let mut frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(1000, 80, 1, 100)
            .ack(5),
        &[7u8; 3000]
    );
    frame[16..18].copy_from_slice(&[0, 0]);
    // Captured 200 bytes of a 3054-byte frame.
    let p = decode(1, &frame[..200], frame.len() as u32).unwrap();
    assert_eq!(p.ip_len, 3040);
    assert_eq!(p.payload_len, 3000);
    assert!(p.truncated);
    assert!(matches!(
        p.transport,
        Transport::Tcp {
            sport: 1000,
            dport: 80,
            ..
        }
    ));
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(1000, 80, 1, 100)
            .ack(5),
        &[]
    );
    let bare = eth(&frame);
    frame.extend_from_slice(&[0xee; 6]); // padding to 60 bytes
    let p = eth(&frame);
    assert_eq!((p.payload_len, p.digest_len, p.digest), (0, 0, 0));
    assert_eq!(p, bare);
}

#[test]
fn ipv6_extension_header_chain() {
    let payload = cat(&[
        &ext_header(43, 0), // hop-by-hop -> routing
        &ext_header(60, 2), // routing (24 bytes) -> destination options
        &ext_header(51, 0), // destination options -> AH
        &[
            17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ], // AH (24 bytes) -> UDP
        &udp_bytes(1000, 53, b"abcd"),
    ]);
    let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 0, &payload));
    let p = eth(&frame);
    assert_inner_udp_v6(&p);
    assert_eq!(p.ip_len, 40 + payload.len() as u32);
    assert_eq!(p.payload_len, 4);
    assert_eq!(p.fragment, None);

    // ESP and No Next Header end the chain.
    for last in [50u8, 59] {
        let payload = cat(&[&ext_header(last, 0), &[0xab; 16]]);
        let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 0, &payload));
        let p = eth(&frame);
        assert_eq!(
            (p.ip_proto, p.transport, p.payload_len),
            (last, Transport::None, 16)
        );
    }
}

#[test]
fn ipv4_fragments() {
    let header = |offset_units: u16, more: bool| {
        let mut h = Ipv4Header::new(0, TTL, IpNumber::UDP, CLIENT, SERVER).unwrap();
        h.identification = 4242;
        h.more_fragments = more;
        h.fragment_offset = IpFragOffset::try_new(offset_units).unwrap();
        h
    };
    let first = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(IpHeaders::Ipv4(header(0, true), Default::default()))
            .udp(1000, 53),
        &[1; 16]
    );
    let p = eth(&first);
    assert_inner_udp_v4(&p);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 0,
            more: true,
            id: 4242
        })
    );
    assert_eq!(p.ip_id, 4242);

    let rest = build_ip!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(IpHeaders::Ipv4(header(3, false), Default::default())),
        17,
        &[2; 40]
    );
    let p = eth(&rest);
    assert_eq!((p.src, p.dst, p.ip_proto), (ip4(CLIENT), ip4(SERVER), 17));
    assert_eq!(p.transport, Transport::None);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 24,
            more: false,
            id: 4242
        })
    );
    assert_eq!((p.payload_len, p.digest_len), (40, 16));
}

#[test]
fn ipv6_fragments() {
    let first = cat(&[
        &fragment_header(17, 0, true, 0xdead_beef),
        &udp_bytes(1000, 53, &[1; 16]),
    ]);
    let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 44, &first));
    let p = eth(&frame);
    assert_inner_udp_v6(&p);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 0,
            more: true,
            id: 0xdead_beef
        })
    );
    assert_eq!(p.ip_id, 0xdead_beef);

    let rest = cat(&[&fragment_header(17, 24, false, 0xdead_beef), &[2; 40]]);
    let frame = ethernet_frame(
        0x86dd,
        &ipv6_carrying(CLIENT6, SERVER6, TTL, 0, &cat(&[&ext_header(44, 0), &rest])),
    );
    let p = eth(&frame);
    assert_eq!((p.ip_proto, p.transport), (17, Transport::None));
    assert_eq!(
        p.fragment,
        Some(Fragment {
            offset: 24,
            more: false,
            id: 0xdead_beef
        })
    );
    assert_eq!(p.payload_len, 40);
}
