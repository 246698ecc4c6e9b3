//! One-way by nature at the link layer: the corpus capture wireshark_samples-test.pcapng holds
//! UDP directed broadcasts to 192.168.152.255 (NetBIOS, ...), which only their Ethernet
//! destination ff:ff:ff:ff:ff:ff tells from unicast. They are `incomplete`, never
//! `unanswered` or `asymmetric`, and folded into the terminal's one-way-by-nature summary.

mod common;

const FILE: &str = "corpus/files/wireshark_samples-test.pcapng";
const DIRECTED_BROADCAST: &str = "192.168.152.255";

#[test]
fn directed_broadcasts_are_incomplete_and_folded() {
    let path = common::shared().join(FILE);
    let (_, doc) = common::analyse(&[&path]);
    let convs = doc["conversations"]
        .as_array()
        .expect("conversations is an array");
    let broadcasts: Vec<_> = convs
        .iter()
        .filter(|c| c["proto"] == "udp" && c["server"] == DIRECTED_BROADCAST)
        .collect();
    assert!(
        !broadcasts.is_empty(),
        "the capture holds UDP conversations to {DIRECTED_BROADCAST}"
    );
    for c in &broadcasts {
        assert_eq!(c["verdict"], "incomplete", "{c}");
    }

    let run = common::flowcheck(&[&path]);
    let out = &run.stdout;
    let line = out
        .lines()
        .find(|l| l.contains("link-layer broadcast/multicast:"))
        .unwrap_or_else(|| panic!("no link-layer broadcast summary line in:\n{out}"));
    assert!(line.contains("one-way by nature"), "{line}");
    assert!(
        !out.lines()
            .any(|l| l.contains(&format!("-> {DIRECTED_BROADCAST}:"))),
        "directed broadcasts are folded, not listed:\n{out}"
    );
}
