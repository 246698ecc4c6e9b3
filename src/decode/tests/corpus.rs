//! Decodes some corpus captures with a minimal classic-pcap reader (the capture module
//! is not used here) and compares the flow keys, packet counts and IP bytes with the
//! tshark oracle in `../shared/corpus/expected` (see `../shared/corpus/ORACLE.md`).

use crate::decode::{decode, Packet, Transport};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    assert!(
        dir.join("files").is_dir() && dir.join("expected").is_dir(),
        "the corpus cross-check needs ../shared (shared/corpus/files and shared/corpus/expected \
         beside the crate); {} is missing",
        dir.display()
    );
    dir.to_path_buf()
}

/// (link type, frames as (bytes, wire length)) of a classic pcap file (µs or ns, either
/// byte order).
fn read_pcap(path: &Path) -> (u32, Vec<(Vec<u8>, u32)>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => panic!("{}: not a classic pcap file", path.display()),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let link_type = u32_at(20) & 0x0fff_ffff;
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let (caplen, wire) = (u32_at(at + 8) as usize, u32_at(at + 12));
        let data = &bytes[at + 16..(at + 16 + caplen).min(bytes.len())];
        frames.push((data.to_vec(), wire));
        at += 16 + caplen;
    }
    (link_type, frames)
}

fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    match (addr, port) {
        (IpAddr::V4(a), Some(p)) => format!("{a}:{p}"),
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, None) => a.to_string(),
    }
}

/// The oracle's flow key of a packet: proto, the two endpoints (sorted as text) and the
/// echo identifier, ICMP type/code or IP protocol.
fn key(p: &Packet) -> String {
    let icmp = |v6: bool| if v6 { "icmpv6" } else { "icmp" };
    let (proto, ports, extra) = match p.transport {
        Transport::Tcp { sport, dport, .. } => ("tcp", Some((sport, dport)), String::new()),
        Transport::Udp { sport, dport } => ("udp", Some((sport, dport)), String::new()),
        Transport::Echo { v6, id, .. } => (icmp(v6), None, format!("ident={id}")),
        Transport::IcmpError {
            v6,
            icmp_type,
            code,
            ..
        }
        | Transport::IcmpOther {
            v6,
            icmp_type,
            code,
        } => (icmp(v6), None, format!("type={icmp_type}/{code}")),
        Transport::None => match p.ip_proto {
            6 => ("tcp", None, String::new()),
            17 => ("udp", None, String::new()),
            1 => ("icmp", None, "type=null/null".to_string()),
            58 => ("icmpv6", None, "type=null/null".to_string()),
            n => ("other", None, format!("ip_proto={n}")),
        },
    };
    let mut ends = [
        endpoint(p.src, ports.map(|(s, _)| s)),
        endpoint(p.dst, ports.map(|(_, d)| d)),
    ];
    ends.sort();
    format!("{proto} {} {} {extra}", ends[0], ends[1])
}

fn oracle_key(row: &serde_json::Value) -> String {
    let proto = row["proto"].as_str().unwrap();
    let mut ends = [
        row["a"].as_str().unwrap().to_string(),
        row["b"].as_str().unwrap().to_string(),
    ];
    ends.sort();
    let num = |k: &str| row.get(k).map_or("null".to_string(), |v| v.to_string());
    let extra = match proto {
        "tcp" | "udp" => String::new(),
        "other" => format!("ip_proto={}", num("ip_proto")),
        _ if row.get("ident").is_some() => format!("ident={}", num("ident")),
        _ => format!("type={}/{}", num("icmp_type"), num("icmp_code")),
    };
    format!("{proto} {} {} {extra}", ends[0], ends[1])
}

/// key -> (packets, IP bytes)
type Table = BTreeMap<String, (u64, u64)>;

fn ours(file: &str) -> Table {
    let (link_type, frames) = read_pcap(&corpus_dir().join("files").join(file));
    let mut table = Table::new();
    for (data, wire) in frames {
        if let Ok(p) = decode(link_type, &data, wire) {
            let entry = table.entry(key(&p)).or_default();
            entry.0 += 1;
            entry.1 += u64::from(p.ip_len);
        }
    }
    table
}

fn oracle(file: &str) -> Table {
    let path = corpus_dir()
        .join("expected")
        .join(format!("{file}.flows.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut table = Table::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let n = |k: &str| row[k].as_u64().unwrap_or(0);
        table.insert(
            oracle_key(&row),
            (
                n("packets_ab") + n("packets_ba"),
                n("ip_bytes_ab") + n("ip_bytes_ba"),
            ),
        );
    }
    table
}

/// Classic pcap files of the corpus left out of the comparison, and why.
const NOT_COMPARED: [(&str, &str); 6] = [
    (
        "fragmented-1.pcap",
        "tshark reassembles IPv4 fragments (the flow stage's job)",
    ),
    (
        "fragmented-syn.pcap",
        "tshark reassembles IPv4 fragments (the flow stage's job)",
    ),
    (
        "ipv6-fragmented-dns.pcap",
        "tshark reassembles IPv6 fragments (the flow stage's job)",
    ),
    (
        "modified-format.pcap",
        "Kuznetzov pcap magic: not read by this test's reader",
    ),
    ("pcap-invalid-version-1.pcap", "tshark refuses the file"),
    (
        "suricata_bug-6875-01_fuzz.pcap",
        "broken record lengths: tshark reads it differently",
    ),
];

#[test]
fn flows_match_the_tshark_oracle() {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir().join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".pcap") && !NOT_COMPARED.iter().any(|(n, _)| n == f))
        .collect();
    files.sort();
    // The tunnels, link types and ICMP errors this module must agree with tshark on.
    for needed in [
        "vxlan.pcap",
        "geneve.pcap",
        "gre-sample.pcap",
        "erspanII.pcap",
        "4in4.pcap",
        "4in6.pcap",
        "6in4.pcap",
        "linux_dlt_sll2.pcap",
        "test_loopback.pcap",
        "vlan-qinqinq.pcap",
        "pppoe.pcap",
        "ipv6_ext_headers.pcap",
        "icmp-destunreach-udp.pcap",
    ] {
        assert!(
            files.iter().any(|f| f == needed),
            "corpus file {needed} is missing"
        );
    }
    let mut failures = Vec::new();
    for file in &files {
        let (ours, oracle) = (ours(file), oracle(file));
        if ours != oracle {
            failures.push(format!("{file}:\n  ours:   {ours:?}\n  oracle: {oracle:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vxlan_inner_echo_and_arp_fallback() {
    let (link_type, frames) = read_pcap(&corpus_dir().join("files/vxlan.pcap"));
    let packets: Vec<Packet> = frames
        .iter()
        .filter_map(|(d, w)| decode(link_type, d, *w).ok())
        .collect();
    assert_eq!(packets.len(), 10);
    let echo: Vec<&Packet> = packets
        .iter()
        .filter(|p| matches!(p.transport, Transport::Echo { .. }))
        .collect();
    assert_eq!(echo.len(), 8);
    let first = echo[0];
    assert_eq!(first.src.to_string(), "10.0.0.1");
    assert_eq!(first.dst.to_string(), "10.0.0.2");
    assert!(matches!(
        first.transport,
        Transport::Echo {
            request: true,
            id: 3389,
            ..
        }
    ));
    assert_eq!(first.encap, super::encap::VXLAN);
    // The two ARP-carrying frames are the outer UDP/4789 datagrams.
    let outer: Vec<&Packet> = packets.iter().filter(|p| p.encap == 0).collect();
    assert_eq!(outer.len(), 2);
    assert!(outer.iter().all(|p| matches!(
        p.transport,
        Transport::Udp { sport: 4789, .. } | Transport::Udp { dport: 4789, .. }
    )));
}

#[test]
fn icmp_error_quote_matches_the_oracle() {
    let (link_type, frames) = read_pcap(&corpus_dir().join("files/icmp-destunreach-udp.pcap"));
    let p = decode(link_type, &frames[0].0, frames[0].1).unwrap();
    let Transport::IcmpError {
        quoted: Some(q), ..
    } = p.transport
    else {
        panic!("not an ICMP error with a quote: {p:?}");
    };
    // Oracle: "udp 192.168.1.1:53>192.168.1.102:59207"
    assert_eq!(
        (
            q.ip_proto,
            q.src.to_string(),
            q.sport,
            q.dst.to_string(),
            q.dport
        ),
        (
            17,
            "192.168.1.1".to_string(),
            53,
            "192.168.1.102".to_string(),
            59207
        )
    );
}
