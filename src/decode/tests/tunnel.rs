//! Tunnels: IP-in-IP, GRE, ERSPAN, PPTP, VXLAN, GENEVE, Teredo, GTP-U, and the fallback to the outer packet.

use super::*;

#[test]
fn ip_in_ip() {
    // 4in4
    let p = eth(&ethernet_frame(0x0800, &in_ipv4(4, &udp_v4(b"x"))));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::IP_IN_IP);
    // 4in6
    let p = eth(&ethernet_frame(0x86dd, &in_ipv6(4, &udp_v4(b"x"))));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::IP_IN_IP);
    // 6in4
    let p = eth(&ethernet_frame(0x0800, &in_ipv4(41, &udp_v6(b"x"))));
    assert_inner_udp_v6(&p);
    // 6in6 behind a routing header (SRv6 style)
    let p = eth(&ethernet_frame(
        0x86dd,
        &in_ipv6(43, &cat(&[&ext_header(41, 0), &udp_v6(b"x")])),
    ));
    assert_inner_udp_v6(&p);
    assert_eq!(p.encap, encap::IP_IN_IP);
}

#[test]
fn ip_in_ip_with_broken_inner_falls_back_to_outer() {
    let p = eth(&ethernet_frame(0x0800, &in_ipv4(4, &[0x45, 0, 0])));
    assert_eq!(
        (p.src, p.dst, p.ip_proto, p.ttl),
        (ip4(VTEP_A), ip4(VTEP_B), 4, OUTER_TTL)
    );
    assert_eq!((p.transport, p.encap), (Transport::None, 0));
}

#[test]
fn gre_variants() {
    let ip = udp_v4(b"x");
    // Plain GRE carrying IPv4.
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0, 0x0800, &[], &ip)),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GRE);
    // Checksum, key and sequence number present.
    let fields = [0u8; 12];
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0xb000, 0x0800, &fields, &ip)),
    ));
    assert_inner_udp_v4(&p);
    // IPv6 payload over an IPv6 outer header.
    let p = eth(&ethernet_frame(
        0x86dd,
        &in_ipv6(47, &gre(0x2000, 0x86dd, &[0; 4], &udp_v6(b"x"))),
    ));
    assert_inner_udp_v6(&p);
    // Transparent Ethernet bridging, with a VLAN tag inside.
    let inner = tagged_frame(&[0x8100], 0x0800, &ip);
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x2000, 0x6558, &[0; 4], &inner)),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!((p.encap, p.vlan_count), (encap::GRE | encap::VLAN, 1));
    // Cisco metadata (the ether type first, as in corpus various_gre.pcap).
    let cmd = cat(&[&[0x08, 0x00, 1, 1, 0, 1, 0, 0], &ip]);
    assert_inner_udp_v4(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x2000, 0x8909, &[0; 4], &cmd)),
    )));
    // RFC 1701 routing: one source route entry then the terminator.
    let sre = [0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0];
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x4000, 0x0800, &cat(&[&[0; 4], &sre]), &ip)),
    ));
    assert_inner_udp_v4(&p);
}

#[test]
fn erspan() {
    let mirrored = ethernet_frame(0x0800, &echo_v4());
    let expect = |p: &Packet| {
        assert_eq!((p.src, p.dst), (ip4(CLIENT), ip4(SERVER)));
        assert_eq!(
            p.transport,
            Transport::Echo {
                v6: false,
                request: true,
                id: 0x1234,
                seq: 7
            }
        );
        assert_eq!(p.encap, encap::GRE | encap::ERSPAN);
    };
    // Type II: GRE sequence number, 8-byte ERSPAN header.
    let erspan2 = cat(&[&[0x10, 0x17, 0x08, 0x64, 0, 0, 0, 0], &mirrored]);
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x1000, 0x88be, &[0, 0, 7, 4], &erspan2)),
    )));
    // Type I: no sequence number, no ERSPAN header.
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0, 0x88be, &[], &mirrored)),
    )));
    // Type III with the optional platform subheader (O bit).
    let erspan3 = cat(&[
        &[0x20, 0x17, 0x00, 0x64, 1, 2, 3, 4, 0, 0, 0, 0x01],
        &[0; 8],
        &mirrored,
    ]);
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x1000, 0x22eb, &[0; 4], &erspan3)),
    )));
    let erspan3 = cat(&[&[0x20, 0x17, 0x00, 0x64, 1, 2, 3, 4, 0, 0, 0, 0], &mirrored]);
    expect(&eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x1000, 0x22eb, &[0; 4], &erspan3)),
    )));
}

#[test]
fn pptp_enhanced_gre() {
    // Version 1, key (payload length + call id) and sequence number present.
    let fields = |len: usize| cat(&[&(len as u16).to_be_bytes(), &[0, 1], &[0, 0, 0, 9]]);
    let ppp_ip = cat(&[&[0xff, 0x03, 0x00, 0x21], &udp_v4(b"x")]);
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x3001, 0x880b, &fields(ppp_ip.len()), &ppp_ip)),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GRE);
    // PPP LCP: no inner IP, the outer GRE packet is the packet (corpus pptp.pcap).
    let lcp = [0xff, 0x03, 0xc0, 0x21, 1, 0, 0, 4];
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0x3001, 0x880b, &fields(lcp.len()), &lcp)),
    ));
    assert_eq!(
        (p.src, p.dst, p.ip_proto, p.transport),
        (ip4(VTEP_A), ip4(VTEP_B), 47, Transport::None)
    );
    assert_eq!(p.encap, 0);
}

#[test]
fn gre_keepalive_is_the_inner_gre_packet() {
    // A keepalive: GRE carrying an IPv4 header back to the sender, itself carrying an empty
    // GRE header (protocol 0). tshark shows the inner IP with protocol 47.
    let back = build_ip!(
        PacketBuilder::ipv4(VTEP_B, VTEP_A, 255),
        47,
        &gre(0, 0, &[], &[])
    );
    let p = eth(&ethernet_frame(
        0x0800,
        &in_ipv4(47, &gre(0, 0x0800, &[], &back)),
    ));
    assert_eq!(
        (p.src, p.dst, p.ip_proto, p.transport),
        (ip4(VTEP_B), ip4(VTEP_A), 47, Transport::None)
    );
    assert_eq!(p.encap, encap::GRE);
}

#[test]
fn vxlan_on_both_ports() {
    let inner = ethernet_frame(0x0800, &echo_v4());
    for port in [4789, 8472] {
        let p = eth(&in_udp(39924, port, &vxlan(&inner)));
        assert_eq!((p.src, p.dst), (ip4(CLIENT), ip4(SERVER)));
        assert_eq!(
            p.transport,
            Transport::Echo {
                v6: false,
                request: true,
                id: 0x1234,
                seq: 7
            }
        );
        assert_eq!(p.encap, encap::VXLAN);
        assert_eq!(p.ttl, TTL);
    }
    // The lower port is tried first: a reply from 4789 to an ephemeral port is VXLAN too.
    assert_eq!(
        eth(&in_udp(4789, 50000, &vxlan(&inner))).encap,
        encap::VXLAN
    );
}

#[test]
fn vxlan_carrying_arp_falls_back_to_outer_udp() {
    let p = eth(&in_udp(39924, 4789, &vxlan(&arp_frame())));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 39924, 4789);
    assert_eq!((p.encap, p.ttl), (0, OUTER_TTL));
    // VXLAN header cut short: same.
    let p = eth(&in_udp(39924, 4789, &[0x08, 0, 0]));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 39924, 4789);
}

#[test]
fn geneve() {
    let ip = udp_v4(b"x");
    // 8 bytes of options, transparent Ethernet.
    let header = [0x02, 0x00, 0x65, 0x58, 0, 0, 42, 0];
    let p = eth(&in_udp(
        50000,
        6081,
        &cat(&[&header, &[0; 8], &ethernet_frame(0x0800, &ip)]),
    ));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GENEVE);
    // No options, IPv4 directly.
    let header = [0x00, 0x00, 0x08, 0x00, 0, 0, 42, 0];
    assert_inner_udp_v4(&eth(&in_udp(50000, 6081, &cat(&[&header, &ip]))));
}

#[test]
fn teredo() {
    let ip6 = udp_v6(b"x");
    let p = eth(&in_udp(3544, 50000, &ip6));
    assert_inner_udp_v6(&p);
    assert_eq!(p.encap, encap::TEREDO);
    // Origin indication.
    let origin = [0, 0, 0x12, 0x34, 1, 2, 3, 4];
    assert_inner_udp_v6(&eth(&in_udp(3544, 50000, &cat(&[&origin, &ip6]))));
    // Authentication (client id 2 bytes, no auth value) then origin indication.
    let auth = [0, 1, 2, 0, 0xaa, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    assert_inner_udp_v6(&eth(&in_udp(50000, 3544, &cat(&[&auth, &origin, &ip6]))));
    // A well-known lower port wins (DNS from port 3544 is DNS), even if it looks like IPv6.
    let p = eth(&in_udp(3544, 53, &ip6));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 3544, 53);
    // Not IPv6 inside: the outer UDP datagram.
    let p = eth(&in_udp(50000, 3544, b"not ipv6 at all"));
    assert_udp(&p, ip4(VTEP_A), ip4(VTEP_B), 50000, 3544);
}

#[test]
fn gtp_u() {
    let ip = udp_v4(b"x");
    let header = cat(&[
        &[0x30, 0xff],
        &(ip.len() as u16).to_be_bytes(),
        &[0, 0, 0, 1],
    ]);
    let p = eth(&in_udp(2152, 2152, &cat(&[&header, &ip])));
    assert_inner_udp_v4(&p);
    assert_eq!(p.encap, encap::GTP);
    // Extension header flag, one PDU session container (4 bytes), then none.
    let header = cat(&[
        &[0x34, 0xff, 0, 0, 0, 0, 0, 1],
        &[0, 0, 0, 0x85],
        &[1, 0x10, 0x09, 0x00],
    ]);
    assert_inner_udp_v4(&eth(&in_udp(2152, 2152, &cat(&[&header, &ip]))));
    // Echo request (type 1): no user packet.
    let header = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_eq!(eth(&in_udp(2152, 2152, &header)).encap, 0);
}
