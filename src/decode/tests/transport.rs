//! TCP, UDP, ICMP and ICMPv6: fields, cut headers, quoted packets of errors, the digest.

use super::*;

#[test]
fn tcp_fields() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(40000, 443, 0x0102_0304, 1000)
            .syn()
            .ack(0x0a0b_0c0d),
        b"data!"
    );
    let p = eth(&frame);
    assert_eq!(
        p.transport,
        Transport::Tcp {
            sport: 40000,
            dport: 443,
            flags: tcp_flags::SYN | tcp_flags::ACK,
            seq: 0x0102_0304,
            ack: 0x0a0b_0c0d
        }
    );
    assert_eq!((p.ip_proto, p.payload_len, p.digest_len), (6, 5, 5));
}

#[test]
fn tcp_cut_by_snaplen() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(40000, 443, 9, 1000)
            .fin()
            .ack(1),
        &[0u8; 100]
    );
    let wire = frame.len() as u32;
    // Cut after 12 TCP bytes: ports, sequence and acknowledgement, no flags.
    let p = decode(1, &frame[..14 + 20 + 12], wire).unwrap();
    assert_eq!(
        p.transport,
        Transport::Tcp {
            sport: 40000,
            dport: 443,
            flags: 0,
            seq: 9,
            ack: 1
        }
    );
    assert!(p.truncated);
    assert_eq!((p.payload_len, p.digest_len), (100, 0));
    // Cut after 14 TCP bytes: flags are there.
    let p = decode(1, &frame[..14 + 20 + 14], wire).unwrap();
    assert!(
        matches!(p.transport, Transport::Tcp { flags, .. } if flags == tcp_flags::FIN | tcp_flags::ACK)
    );
    assert!(p.truncated);
    // Cut after 3 TCP bytes: no ports.
    let p = decode(1, &frame[..14 + 20 + 3], wire).unwrap();
    assert_eq!(
        (p.ip_proto, p.transport, p.truncated),
        (6, Transport::None, true)
    );
    // Cut before the addresses.
    assert_eq!(
        decode(1, &frame[..14 + 19], wire),
        Err(SkipReason::Truncated)
    );
    assert_eq!(
        decode(1, &frame[..14 + 2], wire),
        Err(SkipReason::Truncated)
    );
}

#[test]
fn tcp_options_cut_keep_ports_and_flags() {
    let mut frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .tcp(40000, 443, 9, 1000)
            .syn(),
        &[]
    );
    frame[14 + 20 + 12] = 0xa0; // 40-byte header: options not captured
    let p = decode(1, &frame, frame.len() as u32 + 20).unwrap();
    assert!(matches!(
        p.transport,
        Transport::Tcp {
            flags: tcp_flags::SYN,
            ..
        }
    ));
    assert!(p.truncated);
}

#[test]
fn echo_v4_and_v6() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .icmpv4_echo_request(0x1234, 7),
        b"ping payload"
    );
    let p = eth(&frame);
    assert_eq!(
        p.transport,
        Transport::Echo {
            v6: false,
            request: true,
            id: 0x1234,
            seq: 7
        }
    );
    assert_eq!((p.ip_proto, p.payload_len, p.digest_len), (1, 12, 12));

    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(SERVER, CLIENT, TTL)
            .icmpv4_echo_reply(0x1234, 7),
        b"ping payload"
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::Echo {
            v6: false,
            request: false,
            id: 0x1234,
            seq: 7
        }
    );

    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(CLIENT6, SERVER6, TTL)
            .icmpv6_echo_request(0xbeef, 1),
        b"ping6"
    );
    let p = eth(&frame);
    assert_eq!(
        p.transport,
        Transport::Echo {
            v6: true,
            request: true,
            id: 0xbeef,
            seq: 1
        }
    );
    assert_eq!(p.ip_proto, 58);
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(SERVER6, CLIENT6, TTL)
            .icmpv6_echo_reply(0xbeef, 1),
        b"ping6"
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::Echo {
            v6: true,
            request: false,
            id: 0xbeef,
            seq: 1
        }
    );
}

#[test]
fn icmp_cut_short() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .icmpv4_echo_request(0x1234, 7),
        b"ping"
    );
    // Identifier cut: no echo conversation can be named.
    let p = decode(1, &frame[..14 + 20 + 5], frame.len() as u32).unwrap();
    assert_eq!(
        p.transport,
        Transport::IcmpOther {
            v6: false,
            icmp_type: 8,
            code: 0
        }
    );
    assert!(p.truncated);
    // Checksum cut: tshark shows no type either.
    let p = decode(1, &frame[..14 + 20 + 3], frame.len() as u32).unwrap();
    assert_eq!(
        (p.ip_proto, p.transport, p.truncated),
        (1, Transport::None, true)
    );
}

#[test]
fn icmp_other() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(CLIENT6, SERVER6, 255)
            .icmpv6_raw(135, 0, [0; 4]),
        &SERVER6
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpOther {
            v6: true,
            icmp_type: 135,
            code: 0
        }
    );
    // Redirect is not an error here.
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(5, 1, SERVER),
        &udp_v4(b"x")[..28]
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpOther {
            v6: false,
            icmp_type: 5,
            code: 1
        }
    );
}

#[test]
fn icmp_error_quoting_udp() {
    let quoted = udp_v4(b"a dns query");
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(3, 3, [0; 4]),
        &quoted[..28]
    );
    let p = eth(&frame);
    assert_eq!((p.src, p.dst, p.ip_proto), (ip4(ROUTER), ip4(CLIENT), 1));
    let expected = Quoted {
        src: ip4(CLIENT),
        dst: ip4(SERVER),
        ip_proto: 17,
        sport: 1000,
        dport: 53,
    };
    assert_eq!(
        p.transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 3,
            code: 3,
            quoted: Some(expected)
        }
    );
    assert_eq!(p.encap, 0, "an ICMP error is not a tunnel");

    // Quote cut inside the UDP header: addresses only.
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(11, 0, [0; 4]),
        &quoted[..22]
    );
    let quoted_ports = Quoted {
        sport: 0,
        dport: 0,
        ..expected
    };
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 11,
            code: 0,
            quoted: Some(quoted_ports)
        }
    );
    // Quote cut before the addresses.
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(3, 1, [0; 4]),
        &quoted[..15]
    );
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 3,
            code: 1,
            quoted: None
        }
    );
}

#[test]
fn icmp_error_quoting_echo() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ROUTER, CLIENT, TTL)
            .icmpv4_raw(11, 0, [0; 4]),
        &echo_v4()[..28]
    );
    let expected = Quoted {
        src: ip4(CLIENT),
        dst: ip4(SERVER),
        ip_proto: 1,
        sport: 0x1234,
        dport: 0,
    };
    assert_eq!(
        eth(&frame).transport,
        Transport::IcmpError {
            v6: false,
            icmp_type: 11,
            code: 0,
            quoted: Some(expected)
        }
    );
}

#[test]
fn icmpv6_error_quoting_ipv6_with_hop_by_hop() {
    let quoted = ipv6_carrying(
        CLIENT6,
        SERVER6,
        TTL,
        0,
        &cat(&[&ext_header(17, 0), &udp_bytes(30000, 13000, b"payload")]),
    );
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(ROUTER6, CLIENT6, TTL)
            .icmpv6_raw(1, 4, [0; 4]),
        &quoted
    );
    let p = eth(&frame);
    let expected = Quoted {
        src: ip6(CLIENT6),
        dst: ip6(SERVER6),
        ip_proto: 17,
        sport: 30000,
        dport: 13000,
    };
    assert_eq!(
        p.transport,
        Transport::IcmpError {
            v6: true,
            icmp_type: 1,
            code: 4,
            quoted: Some(expected)
        }
    );
    assert_eq!((p.src, p.dst), (ip6(ROUTER6), ip6(CLIENT6)));
}

#[test]
fn other_protocols() {
    // IGMP
    let frame = cat(&[&ethernet_frame(
        0x0800,
        &build_ip!(
            PacketBuilder::ipv4(CLIENT, [224, 0, 0, 1], 1),
            2,
            &[0x11, 0, 0, 0, 0, 0, 0, 0]
        ),
    )]);
    let p = eth(&frame);
    assert_eq!(
        (p.ip_proto, p.transport, p.payload_len, p.digest_len),
        (2, Transport::None, 8, 8)
    );
}

#[test]
fn digest_covers_first_16_payload_bytes() {
    let packet = |payload: &[u8]| {
        eth(&build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(CLIENT, SERVER, TTL)
                .udp(1000, 53),
            payload
        ))
    };
    let a = packet(b"0123456789abcdef-tail-one");
    let b = packet(b"0123456789abcdef-other-tail");
    let c = packet(b"0123456789abcdeX");
    assert_eq!((a.digest, a.digest_len), (b.digest, 16));
    assert_ne!(a.digest, c.digest);
    let short = packet(b"abc");
    assert_eq!(short.digest_len, 3);
    assert_ne!(short.digest, 0);
    assert_ne!(
        packet(b"ab").digest,
        packet(b"ab\0").digest,
        "the length counts"
    );
    let empty = packet(b"");
    assert_eq!((empty.digest, empty.digest_len), (0, 0));
}
