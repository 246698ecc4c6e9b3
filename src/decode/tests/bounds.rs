//! Bounds and robustness: long tag stacks, deep tunnels, long extension chains, every prefix and random bytes of sample frames.

use super::*;
use crate::decode::link::MAX_TAGS;

#[test]
fn two_thousand_vlan_tags() {
    let tpids = vec![0x8100u16; 2000];
    let frame = tagged_frame(&tpids, 0x0800, &udp_v4(b"x"));
    assert_eq!(eth_err(&frame), SkipReason::NotIp);
    // Within the cap it decodes.
    let frame = tagged_frame(&[0x8100; MAX_TAGS], 0x0800, &udp_v4(b"x"));
    assert_eq!(eth(&frame).vlan_count, MAX_TAGS as u8);
}

#[test]
fn deeply_nested_tunnels_are_bounded() {
    // 200 IPv4-in-IPv4 headers around a UDP packet.
    let mut packet = udp_v4(b"x");
    for _ in 0..200 {
        packet = in_ipv4(4, &packet);
    }
    let p = eth(&ethernet_frame(0x0800, &packet));
    assert_eq!(
        (p.ip_proto, p.transport, p.encap),
        (4, Transport::None, encap::IP_IN_IP)
    );

    // GRE in GRE in GRE ...
    let mut packet = udp_v4(b"x");
    for _ in 0..200 {
        packet = in_ipv4(47, &gre(0, 0x0800, &[], &packet));
    }
    let p = eth(&ethernet_frame(0x0800, &packet));
    assert_eq!((p.ip_proto, p.encap), (47, encap::GRE));

    // VXLAN in VXLAN: the frame grows, the decoder stops at the depth cap.
    let mut frame = ethernet_frame(0x0800, &udp_v4(b"x"));
    for _ in 0..30 {
        frame = in_udp(40000, 4789, &vxlan(&frame));
    }
    let p = eth(&frame);
    assert_eq!((p.ip_proto, p.encap), (17, encap::VXLAN));

    // MPLS pseudowire in MPLS pseudowire ...
    let mut frame = ethernet_frame(0x0800, &udp_v4(b"x"));
    for _ in 0..100 {
        frame = ethernet_frame(0x8847, &cat(&[&[0, 1, 0x01, 64], &[0; 4], &frame]));
    }
    assert_eq!(eth_err(&frame), SkipReason::NotIp);

    // A label stack that never ends.
    let frame = ethernet_frame(0x8847, &[0, 1, 0, 64].repeat(1000));
    assert_eq!(eth_err(&frame), SkipReason::NotIp);
}

#[test]
fn long_ipv6_extension_chain_is_bounded() {
    let mut chain = Vec::new();
    for _ in 0..1000 {
        chain.extend_from_slice(&ext_header(60, 0));
    }
    chain.extend_from_slice(&udp_bytes(1, 2, b"x"));
    let frame = ethernet_frame(0x86dd, &ipv6_carrying(CLIENT6, SERVER6, TTL, 60, &chain));
    let p = eth(&frame);
    assert_eq!((p.ip_proto, p.transport), (60, Transport::None));
}

/// Frames exercising most decoding paths, for the robustness loops.
fn sample_frames() -> Vec<Vec<u8>> {
    let ip = udp_v4(b"some udp payload");
    let label = [0, 1, 0x01, 64];
    let lcp = [0xff, 0x03, 0xc0, 0x21, 1, 0, 0, 4];
    let erspan3 = cat(&[
        &[0x20, 0x17, 0x00, 0x64, 1, 2, 3, 4, 0, 0, 0, 0x01],
        &[0; 8],
    ]);
    vec![
        build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(CLIENT, SERVER, TTL)
                .tcp(1, 2, 3, 4)
                .syn(),
            b"tcp data"
        ),
        build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv6(CLIENT6, SERVER6, TTL)
                .icmpv6_echo_request(1, 2),
            b"ping"
        ),
        build!(
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(ROUTER, CLIENT, TTL)
                .icmpv4_raw(3, 3, [0; 4]),
            &ip
        ),
        tagged_frame(&[0x88a8, 0x8100, 0x8100], 0x0800, &ip),
        ethernet_frame(
            0x8847,
            &cat(&[&label, &[0; 4], &ethernet_frame(0x0800, &ip)]),
        ),
        ethernet_frame(0x8864, &cat(&[&[0x11, 0, 0, 1, 0, 40, 0, 0x21], &ip])),
        ethernet_frame(
            0x0800,
            &in_ipv4(
                47,
                &gre(0xb000, 0x6558, &[0; 12], &ethernet_frame(0x0800, &ip)),
            ),
        ),
        ethernet_frame(
            0x0800,
            &in_ipv4(
                47,
                &gre(
                    0x1000,
                    0x22eb,
                    &[0; 4],
                    &cat(&[&erspan3, &ethernet_frame(0x0800, &ip)]),
                ),
            ),
        ),
        ethernet_frame(0x0800, &in_ipv4(47, &gre(0x3081, 0x880b, &[0; 12], &lcp))),
        ethernet_frame(
            0x86dd,
            &in_ipv6(
                0,
                &cat(&[&ext_header(44, 0), &fragment_header(4, 0, false, 1), &ip]),
            ),
        ),
        in_udp(1, 4789, &vxlan(&ethernet_frame(0x0800, &ip))),
        in_udp(
            1,
            6081,
            &cat(&[
                &[0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0],
                &ethernet_frame(0x0800, &ip),
            ]),
        ),
        in_udp(
            3544,
            1,
            &cat(&[&[0, 1, 1, 1, 9, 9], &[0; 9], &[0; 8], &udp_v6(b"x")]),
        ),
        in_udp(
            2152,
            1,
            &cat(&[
                &[0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0],
                &ip,
            ]),
        ),
    ]
}

use crate::test_rng::Rng;

const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 999];

fn check_invariants(result: Result<Packet, SkipReason>) {
    if let Ok(p) = result {
        assert!(p.digest_len <= 16);
        if p.digest_len == 0 {
            assert_eq!(p.digest, 0);
        }
    }
}

#[test]
fn every_prefix_of_every_sample_decodes_without_panic() {
    for frame in sample_frames() {
        // Whole, it is a packet.
        assert!(
            decode(1, &frame, frame.len() as u32).is_ok(),
            "{frame:02x?}"
        );
        for len in 0..=frame.len() {
            for link in LINK_TYPES {
                check_invariants(decode(link, &frame[..len], frame.len() as u32));
                check_invariants(decode(link, &frame[len..], 0));
            }
        }
    }
}

#[test]
fn random_and_mutated_bytes_decode_without_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = [0u8; 256];
    for _ in 0..20_000 {
        let len = (rng.next() % 256) as usize;
        for b in buf.iter_mut().take(len) {
            *b = rng.next() as u8;
        }
        // Bias towards plausible starts so that deeper layers are reached too.
        if rng.next().is_multiple_of(2) && len > 20 {
            buf[12..14].copy_from_slice(&[0x08, 0x00]);
            buf[14] = 0x45;
        }
        for link in LINK_TYPES {
            check_invariants(decode(link, &buf[..len], rng.next() as u32));
        }
    }
    let samples = sample_frames();
    for round in 0..20_000 {
        let mut frame = samples[round % samples.len()].clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % frame.len();
            frame[at] = rng.next() as u8;
        }
        check_invariants(decode(1, &frame, frame.len() as u32));
    }
}
