//! Link layers: Ethernet, SLL, SLL2, raw IP, null/loop, tags, PPPoE, MPLS.

use super::*;

#[test]
fn ethernet_udp() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(CLIENT, SERVER, TTL)
            .udp(1000, 53),
        b"hello dns"
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!(p.ip_len, 20 + 8 + 9);
    assert_eq!(p.payload_len, 9);
    assert_eq!(p.digest_len, 9);
    assert_eq!((p.encap, p.vlan_count, p.truncated), (0, 0, false));
    assert_eq!(p.fragment, None);
}

#[test]
fn linux_sll() {
    let frame = build!(
        PacketBuilder::linux_sll(LinuxSllPacketType::OTHERHOST, 6, [2, 0, 0, 0, 0, 1, 0, 0])
            .ipv4(CLIENT, SERVER, TTL)
            .udp(1000, 53),
        b"x"
    );
    let p = decode(113, &frame, frame.len() as u32).unwrap();
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::SLL);
}

#[test]
fn linux_sll2() {
    let mut header = vec![0u8; 20];
    header[0..2].copy_from_slice(&0x86ddu16.to_be_bytes()); // protocol
    header[8..10].copy_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    header[11] = 6;
    let frame = cat(&[&header, &udp_v6(b"x")]);
    let p = decode(276, &frame, frame.len() as u32).unwrap();
    assert_inner_udp_v6(&p);
    assert_eq!(p.encap, encap::SLL);
    // An SLL2 netlink frame is not IP, whatever its protocol field says.
    header[8..10].copy_from_slice(&824u16.to_be_bytes());
    let frame = cat(&[&header, &udp_v6(b"x")]);
    assert_eq!(
        decode(276, &frame, frame.len() as u32),
        Err(SkipReason::NotIp)
    );
}

#[test]
fn raw_ip_link_types() {
    let v4 = udp_v4(b"x");
    let v6 = udp_v6(b"x");
    for link in [101, 12, 14, 228] {
        assert_inner_udp_v4(&decode(link, &v4, v4.len() as u32).unwrap());
        // The version nibble decides, even for LINKTYPE_IPV4 (as tshark does).
        assert_inner_udp_v6(&decode(link, &v6, v6.len() as u32).unwrap());
    }
    assert_inner_udp_v6(&decode(229, &v6, v6.len() as u32).unwrap());
    assert_eq!(
        decode(229, &v4, v4.len() as u32),
        Err(SkipReason::MalformedIp)
    );
    let garbage = [0x50u8; 40];
    assert_eq!(decode(101, &garbage, 40), Err(SkipReason::MalformedIp));
    assert_eq!(decode(101, &[], 0), Err(SkipReason::Truncated));
}

#[test]
fn bsd_null_and_loop() {
    let v4 = udp_v4(b"x");
    let v6 = udp_v6(b"x");
    let frame = |af: [u8; 4], ip: &[u8]| cat(&[&af, ip]);
    // Null: host byte order, either one accepted.
    for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let f = frame(af, &v4);
        assert_inner_udp_v4(&decode(0, &f, f.len() as u32).unwrap());
    }
    for af in [24u32, 28, 30] {
        for bytes in [af.to_le_bytes(), af.to_be_bytes()] {
            let f = frame(bytes, &v6);
            assert_inner_udp_v6(&decode(0, &f, f.len() as u32).unwrap());
        }
    }
    // Loop: network byte order only.
    let f = frame(30u32.to_be_bytes(), &v6);
    assert_inner_udp_v6(&decode(108, &f, f.len() as u32).unwrap());
    let f = frame(2u32.to_le_bytes(), &v4);
    assert_eq!(decode(108, &f, f.len() as u32), Err(SkipReason::NotIp));
    // AF 7 (OSI) is not IP; a 3-byte frame is truncated.
    let f = frame(7u32.to_le_bytes(), &v4);
    assert_eq!(decode(0, &f, f.len() as u32), Err(SkipReason::NotIp));
    assert_eq!(decode(0, &[2, 0, 0], 3), Err(SkipReason::Truncated));
}

#[test]
fn unknown_link_type() {
    let v4 = udp_v4(b"x");
    assert_eq!(
        decode(281, &v4, v4.len() as u32),
        Err(SkipReason::UnsupportedLinkType)
    );
    assert_eq!(
        decode(u32::MAX, &[], 0),
        Err(SkipReason::UnsupportedLinkType)
    );
}

#[test]
fn non_ip_frames() {
    assert_eq!(eth_err(&arp_frame()), SkipReason::NotIp);
    // LLDP
    assert_eq!(
        eth_err(&ethernet_frame(0x88cc, &[0; 46])),
        SkipReason::NotIp
    );
    // 802.3 length + LLC (STP)
    assert_eq!(
        eth_err(&ethernet_frame(38, &[0x42, 0x42, 0x03, 0, 0, 0])),
        SkipReason::NotIp
    );
    // 802.3 length + SNAP carrying IPv4 is IP.
    let snap = cat(&[&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00], &udp_v4(b"x")]);
    assert_inner_udp_v4(&eth(&ethernet_frame(snap.len() as u16, &snap)));
    // A frame shorter than an Ethernet header.
    assert_eq!(eth_err(&[0; 13]), SkipReason::Truncated);
}

#[test]
fn vlan_single_tag() {
    let frame = build!(
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(VlanId::try_new(100).unwrap())
            .ipv4(CLIENT, SERVER, TTL)
            .udp(1000, 53),
        b"x"
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::VLAN, 1));
}

#[test]
fn qinq_and_three_tags() {
    let ip = udp_v4(b"x");
    let p = eth(&tagged_frame(&[0x88a8, 0x8100], 0x0800, &ip));
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::VLAN | encap::QINQ, 2));

    let p = eth(&tagged_frame(&[0x8100, 0x8100, 0x8100], 0x0800, &ip));
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::VLAN | encap::QINQ, 3));

    let p = eth(&tagged_frame(&[0x9100, 0x8100], 0x86dd, &udp_v6(b"x")));
    assert_inner_udp_v6(&p);
    assert_eq!(p.vlan_count, 2);

    // A tag cut short.
    let frame = tagged_frame(&[0x8100], 0x0800, &ip);
    assert_eq!(eth_err(&frame[..16]), SkipReason::Truncated);
}

#[test]
fn pppoe_session() {
    let pppoe = |ppp_proto: u16, payload: &[u8]| {
        let len = (payload.len() + 2) as u16;
        let header = cat(&[
            &[0x11, 0x00, 0x00, 0x01],
            &len.to_be_bytes(),
            &ppp_proto.to_be_bytes(),
        ]);
        ethernet_frame(0x8864, &cat(&[&header, payload]))
    };
    let p = eth(&pppoe(0x0021, &udp_v4(b"x")));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::PPPOE);
    assert_inner_udp_v6(&eth(&pppoe(0x0057, &udp_v6(b"x"))));
    // LCP
    assert_eq!(eth_err(&pppoe(0xc021, &[1, 0, 0, 4])), SkipReason::NotIp);
}

#[test]
fn mpls_labels_and_pseudowire() {
    let label =
        |value: u32, bottom: bool| (value << 12 | u32::from(bottom) << 8 | 64).to_be_bytes();
    let frame = ethernet_frame(
        0x8847,
        &cat(&[&label(100, false), &label(200, true), &udp_v4(b"x")]),
    );
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::MPLS);

    // Pseudowire: control word of zeros, then Ethernet with a VLAN tag.
    let inner = tagged_frame(&[0x8100], 0x0800, &udp_v4(b"x"));
    let frame = ethernet_frame(0x8847, &cat(&[&label(300, true), &[0, 0, 0, 0], &inner]));
    let p = eth(&frame);
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::MPLS | encap::VLAN, 1));

    // Neither IP nor a control word.
    let frame = ethernet_frame(0x8847, &cat(&[&label(300, true), &[0x12; 30]]));
    assert_eq!(eth_err(&frame), SkipReason::NotIp);
}

#[test]
fn ethernet_group_destinations_mark_link_group() {
    let frame_to = |dst: [u8; 6]| {
        build!(
            PacketBuilder::ethernet2(MAC_A, dst)
                .ipv4(CLIENT, SERVER, TTL)
                .udp(1000, 137),
            b"x"
        )
    };
    let broadcast = eth(&frame_to([0xff; 6]));
    assert!(broadcast.link_group, "ff:ff:ff:ff:ff:ff is a group address");
    let multicast = eth(&frame_to([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]));
    assert!(multicast.link_group, "01:00:5e:... has the group bit");
    let unicast = eth(&frame_to([0x00, 0x0c, 0x29, 0x12, 0x34, 0x56]));
    assert!(!unicast.link_group, "a unicast MAC is not a group address");
    // the flag never changes the addresses the flow key is made of
    assert_eq!((broadcast.src, broadcast.dst), (unicast.src, unicast.dst));
}

#[test]
fn sll_packet_types_mark_link_group() {
    let sll = |t: LinuxSllPacketType| {
        let frame = build!(
            PacketBuilder::linux_sll(t, 6, [2, 0, 0, 0, 0, 1, 0, 0])
                .ipv4(CLIENT, SERVER, TTL)
                .udp(1000, 137),
            b"x"
        );
        decode(113, &frame, frame.len() as u32).unwrap().link_group
    };
    assert!(sll(LinuxSllPacketType::BROADCAST));
    assert!(sll(LinuxSllPacketType::MULTICAST));
    assert!(!sll(LinuxSllPacketType::HOST));
    assert!(!sll(LinuxSllPacketType::OTHERHOST));
    assert!(!sll(LinuxSllPacketType::OUTGOING));

    let sll2 = |pkttype: u8| {
        let mut frame = vec![0u8; 20];
        frame[0..2].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol
        frame[8..10].copy_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
        frame[10] = pkttype;
        frame[11] = 6;
        let ip = build!(
            PacketBuilder::ipv4(CLIENT, SERVER, TTL).udp(1000, 137),
            b"x"
        );
        frame.extend_from_slice(&ip);
        decode(276, &frame, frame.len() as u32).unwrap().link_group
    };
    assert!(sll2(1), "SLL2 packet type 1 is broadcast");
    assert!(sll2(2), "SLL2 packet type 2 is multicast");
    assert!(!sll2(0), "SLL2 packet type 0 is to this host");
}
