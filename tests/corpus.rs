//! The public corpus (../shared/corpus): flowcheck reads every file without a panic, accounts
//! for every packet, and agrees with tshark's flow table (../shared/corpus/expected, see
//! ORACLE.md) for TCP, UDP and ICMP echo flows, in endpoints and per-direction packets and
//! bytes. Where it deliberately differs, `KNOWN_DIFFERENCES` names the file and the reason.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Files where flowcheck's flow table deliberately differs from tshark's, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "suricata_bug-6875-01_fuzz.pcap",
    "after the second record header claims 1.4 GB, tshark re-reads the file with the 24-byte \
     'modified' record layout and returns two misread frames; flowcheck, like libpcap, keeps \
     the layout the magic number gives: one clean TCP frame, then the damage at byte 228",
)];

/// Broken files: flowcheck must say where the damage is, exit 2, and keep what came before.
/// (file, packets tshark read before the damage)
const BROKEN: &[(&str, u64)] = &[
    ("err-eof.bin", 0),
    ("gopacket_le_test901.pcapng", 1),
    ("pcap-invalid-version-1.pcap", 0),
    ("shb-option-too-long.pcapng", 0),
    ("suricata_bug-6875-01_fuzz.pcap", 1), // tshark: 2, see KNOWN_DIFFERENCES
    ("suricata_http-mime-truncated.pcap", 2696),
];

/// Comparable key of a flow row: (proto, unordered endpoints, echo id).
type Key = (String, String, String, Option<u64>);

fn key_of(row: &Value) -> (Key, bool) {
    let s = |k: &str| row[k].as_str().unwrap_or_default().to_string();
    let (a, b) = (s("a"), s("b"));
    let id = row
        .get("icmp_id")
        .or_else(|| row.get("ident"))
        .and_then(Value::as_u64);
    if a <= b {
        ((s("proto"), a, b, id), false)
    } else {
        ((s("proto"), b, a, id), true)
    }
}

/// Flows worth comparing: TCP, UDP and ICMP/ICMPv6 echo.
fn comparable(row: &Value) -> bool {
    match row["proto"].as_str() {
        Some("tcp") | Some("udp") => true,
        Some("icmp") | Some("icmpv6") => row.get("icmp_id").or_else(|| row.get("ident")).is_some(),
        _ => false,
    }
}

/// (packets, bytes) per direction in the key's endpoint order.
fn counts(row: &Value, swapped: bool) -> [u64; 4] {
    let n = |k: &str| row[k].as_u64().unwrap_or(0);
    let (pab, pba, bab, bba) = (
        n("packets_ab"),
        n("packets_ba"),
        n("bytes_ab"),
        n("bytes_ba"),
    );
    if swapped {
        [pba, pab, bba, bab]
    } else {
        [pab, pba, bab, bba]
    }
}

fn table(rows: impl Iterator<Item = Value>) -> BTreeMap<Key, [u64; 4]> {
    let mut t = BTreeMap::new();
    for r in rows.filter(comparable) {
        let (k, sw) = key_of(&r);
        let c = counts(&r, sw);
        let e = t.entry(k).or_insert([0; 4]);
        for i in 0..4 {
            e[i] += c[i];
        }
    }
    t
}

fn expected_rows(file: &str) -> Vec<Value> {
    let p = common::shared()
        .join("corpus/expected")
        .join(format!("{file}.flows.jsonl"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("expected row is JSON"))
        .collect()
}

fn expected_totals(file: &str) -> Value {
    let p = common::shared()
        .join("corpus/expected")
        .join(format!("{file}.totals.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("totals are JSON")
}

fn corpus_files() -> Vec<String> {
    let dir = common::shared().join("corpus/files");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus/files is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Compares one file; returns the list of disagreements (empty when it agrees).
fn compare(file: &str) -> Vec<String> {
    let path = common::shared().join("corpus/files").join(file);
    let (run, doc) = common::analyse(&[&path]);
    let mut problems = Vec::new();
    assert!(
        run.code == 0 || run.code == 2,
        "{file}: exit code {} (stderr: {})",
        run.code,
        run.stderr
    );
    let point = &doc["points"][0];
    // every packet accounted for
    let packets = point["packets"].as_u64().unwrap_or(u64::MAX);
    let decoded = point["decoded"].as_u64().unwrap_or(0);
    let not_decoded: u64 = point["not_decoded"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert_eq!(
        decoded + not_decoded,
        packets,
        "{file}: decoded {decoded} + not decoded {not_decoded} != read {packets}"
    );
    let totals = expected_totals(file);
    if totals["tshark_reads_cleanly"].as_bool() == Some(true) {
        let want = totals["packets"].as_u64().unwrap_or(0);
        if packets != want {
            problems.push(format!("{file}: read {packets} packets, tshark {want}"));
        }
    }
    let ours = table(
        doc["flows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter(),
    );
    let theirs = table(expected_rows(file).into_iter());
    for (k, want) in &theirs {
        match ours.get(k) {
            None => problems.push(format!("{file}: tshark flow {k:?} {want:?} missing")),
            Some(got) if got != want => problems.push(format!(
                "{file}: flow {k:?}: packets/bytes (ab, ba, ab, ba) {got:?}, tshark {want:?}"
            )),
            _ => {}
        }
    }
    for (k, got) in &ours {
        if !theirs.contains_key(k) {
            problems.push(format!("{file}: extra flow {k:?} {got:?}"));
        }
    }
    problems
}

#[test]
fn every_corpus_file_is_read_and_agrees_with_tshark() {
    let mut failures = Vec::new();
    let mut agreed = 0;
    let mut files = 0;
    for file in corpus_files() {
        files += 1;
        let problems = compare(&file);
        let known = KNOWN_DIFFERENCES.iter().find(|(f, _)| *f == file);
        match (problems.is_empty(), known) {
            (true, None) => agreed += 1,
            (true, Some((_, why))) => failures.push(format!(
                "{file}: listed as a known difference ({why}) but now agrees: remove it"
            )),
            (false, Some(_)) => {}
            (false, None) => failures.extend(problems),
        }
    }
    assert!(files >= 60, "only {files} corpus files found");
    assert!(
        failures.is_empty(),
        "{} problems ({agreed} of {files} files agree):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        KNOWN_DIFFERENCES.len() <= 6,
        "aim for at most a handful of known differences"
    );
}

#[test]
fn broken_files_give_an_error_with_offset_and_keep_what_came_before() {
    for (file, before) in BROKEN {
        let path = common::shared().join("corpus/files").join(file);
        let (run, doc) = common::analyse(&[&path]);
        assert_eq!(
            run.code, 2,
            "{file}: exit code {} for damaged input",
            run.code
        );
        let point = &doc["points"][0];
        let damage = &point["damage"];
        assert!(damage.is_object(), "{file}: no damage reported: {point}");
        assert!(damage["offset"].is_u64(), "{file}: damage without offset");
        assert!(
            run.stderr
                .contains(Path::new(file).to_str().unwrap_or_default())
                && run.stderr.contains("byte"),
            "{file}: stderr does not name the file and offset: {}",
            run.stderr
        );
        assert_eq!(
            point["packets"].as_u64(),
            Some(*before),
            "{file}: packets read before the damage"
        );
    }
}

#[test]
fn partial_results_are_analysed_before_the_damage() {
    let path = common::shared().join("corpus/files/suricata_http-mime-truncated.pcap");
    let (_, doc) = common::analyse(&[&path]);
    let flows = doc["flows"].as_array().cloned().unwrap_or_default();
    assert!(
        !flows.is_empty(),
        "no flow from the 2,696 packets before the cut"
    );
    let convs = doc["conversations"].as_array().cloned().unwrap_or_default();
    assert!(!convs.is_empty());
}
