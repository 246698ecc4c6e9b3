//! Multi-point correlation, checked on the real binary: every lab stage, the same captures
//! with the clocks of some points moved (`captures/shifted`, made by its `make.sh`), and the
//! lab recorded again in other ways (`captures/variants`, see its README): verdicts and the
//! points of each direction as in each folder's truth.json, the NAT at hub-nva, clock
//! offsets, losses, `--expect-via`.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn folder(rel: &str) -> PathBuf {
    common::captures().join(rel)
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn point<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["points"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no point {name}"))
}

/// Runs flowcheck on a folder (plus flags) and checks every truth.json conversation: its
/// verdict, the points of each direction, the NAT of the spoke-to-spoke conversations at
/// hub-nva, and where given the loss.
fn check_truth(rel: &str, flags: &[&str]) -> Value {
    let dir = folder(rel);
    let mut args: Vec<std::ffi::OsString> = vec![dir.clone().into()];
    args.extend(flags.iter().map(Into::into));
    let (run, doc) = common::analyse(&args);
    assert_eq!(run.code, 0, "{rel}: {}", run.stderr);
    let truth = common::truth(&dir);
    for (want, c) in common::assert_matches_truth(&doc, &truth, rel) {
        if let Some(nat) = want["nat"].as_object() {
            let at = nat["point"].as_str().unwrap();
            let found = c["nat"].as_array().unwrap().iter().any(|n| {
                n["direction"] == "forward"
                    && n["point"] == at
                    && n["side"] == "source"
                    && n["from"] == want["client"]
                    && n["to"] == nat["client_as"]
            });
            assert!(found, "{rel}: NAT to {} at {at} in {c}", nat["client_as"]);
        }
        if let Some(lost) = want.get("lost_after") {
            assert_eq!(&c["lost_after"], lost, "{rel}: {c}");
            if lost.is_string() {
                assert_eq!(c["lost_direction"], "reverse", "{rel}: {c}");
                let r = c["reason"].as_str().unwrap();
                assert!(r.contains("lost after hub-nva"), "{rel}: {r}");
            }
        }
    }
    doc
}

/// Offsets found against the shifts applied (seconds, per point): differences between
/// points, so that the reference point's own shift does not matter. Within 1 ms.
fn check_offsets(doc: &Value, shifts: &Value, rel: &str) {
    let shifts = shifts.as_object().unwrap();
    let reference = doc["summary"]["clock_reference"]
        .as_str()
        .expect("a reference point");
    let ref_shift = shifts[reference].as_f64().unwrap();
    let mut checked = 0;
    for (name, shift) in shifts {
        let p = point(doc, name);
        let Some(off) = p["clock_offset_s"].as_f64() else {
            // a point that saw nothing of what the others saw cannot be placed
            assert_eq!(
                p["matched_packets"], 0,
                "{rel}: {name} has matches but no offset"
            );
            continue;
        };
        let want = shift.as_f64().unwrap() - ref_shift;
        assert!(
            (off - want).abs() < 0.001,
            "{rel}: {name} offset {off} s, shifted by {want} s relative to {reference}"
        );
        let unc = p["clock_uncertainty_s"].as_f64().expect("two-way evidence");
        assert!(unc < 0.001, "{rel}: {name} uncertainty {unc}");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "{rel}: offsets of at least two points were checked"
    );
}

const STAGES: [&str; 5] = ["stage0", "stage1", "stage2", "stage3", "stage4"];

#[test]
fn every_stage_matches_truth_with_packets_followed_across_points() {
    for s in STAGES {
        let doc = check_truth(s, &[]);
        // the lab's points share one clock: whatever was estimated is tiny
        for p in doc["points"].as_array().unwrap() {
            if let Some(off) = p["clock_offset_s"].as_f64() {
                assert!(off.abs() < 0.001, "{s}: {p}");
            }
        }
    }
}

#[test]
fn stages_with_shifted_clocks_give_the_same_verdicts_and_find_the_shifts() {
    let shifts = read_json(&folder("shifted/shifts.json"));
    for s in STAGES {
        let rel = format!("shifted/{s}");
        let doc = check_truth(&rel, &[]);
        if s == "stage0" {
            // one point saw the only conversation: nothing to align
            continue;
        }
        check_offsets(&doc, &shifts, &rel);
    }
}

#[test]
fn shifted_offsets_above_ten_seconds_need_no_flag() {
    let doc = check_truth("shifted/stage3", &[]);
    let reference = doc["summary"]["clock_reference"].as_str().unwrap();
    assert_eq!(reference, "hub-nva", "the point matched with most others");
    let spoke2 = point(&doc, "spoke2-vm")["clock_offset_s"].as_f64().unwrap();
    assert!((spoke2 + 11.75).abs() < 0.001, "{spoke2}");
    assert_eq!(doc["summary"]["clocks_assumed_synced"], false);
}

#[test]
fn conversation_times_are_on_the_aligned_timeline() {
    let (_, plain) = common::analyse(&[folder("stage3")]);
    let (_, shifted) = common::analyse(&[folder("shifted/stage3")]);
    let first = |doc: &Value| -> Vec<f64> {
        doc["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["proto"] != "icmpv6")
            .map(|c| c["first_ts"].as_str().unwrap().parse::<f64>().unwrap())
            .collect()
    };
    let (a, b) = (first(&plain), first(&shifted));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() < 0.001,
            "{x} vs {y}: the shift leaked into the timeline"
        );
    }
}

#[test]
fn lab_variants_match_truth() {
    for v in [
        "variants/stage1-pcapng",
        "variants/stage2-nano",
        "variants/stage3-snap64",
        "variants/stage4-any",
        "variants/stage3-stateful",
    ] {
        check_truth(v, &[]);
    }
}

#[test]
fn stateful_nva_replies_are_lost_after_hub_nva_even_with_shifted_clocks() {
    let doc = check_truth("variants/stage3-stateful-shifted", &[]);
    let shifts = read_json(&folder("variants/stage3-stateful-shifted/shifts.json"));
    check_offsets(&doc, &shifts, "variants/stage3-stateful-shifted");
    let lost: Vec<&Value> = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["lost_after"] == "hub-nva")
        .collect();
    assert_eq!(
        lost.len(),
        3,
        "the two pings and the HTTP connection from the VPN"
    );
    for c in lost {
        let hops = c["reverse_hops"].as_array().unwrap();
        let last = hops.last().unwrap();
        assert_eq!(last["point"], "hub-nva");
        assert_eq!(
            last["forwarded"], false,
            "seen arriving, never leaving: {c}"
        );
    }
}

#[test]
fn expect_via_flags_stage2_vpn_traffic_as_bypassed_and_nothing_in_stage4() {
    let nva = ["--expect-via", "hub-nva"];
    let (run, doc) = common::analyse(&[
        folder("stage2").as_os_str(),
        nva[0].as_ref(),
        nva[1].as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let truth = common::truth(&folder("stage2"));
    let mut vpn = 0;
    for want in truth["conversations"].as_array().unwrap() {
        let c = common::find(&doc, want).unwrap();
        if want["client"] == "10.100.204.2" {
            vpn += 1;
            assert_eq!(c["verdict"], "bypassed", "{c}");
            assert_eq!(c["path_verdict"], "symmetric", "{c}");
            assert_eq!(c["bypassed"], serde_json::json!(["hub-nva"]));
            assert!(
                c["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("never reached hub-nva"),
                "{c}"
            );
        } else {
            assert_eq!(c["verdict"], want["verdict"], "{c}");
        }
    }
    assert_eq!(vpn, 4, "stage 2 has four VPN conversations");
    for s in ["stage4", "shifted/stage4", "variants/stage4-any"] {
        let (run, doc) =
            common::analyse(&[folder(s).as_os_str(), nva[0].as_ref(), nva[1].as_ref()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(doc["summary"]["verdicts"]["bypassed"], 0, "{s}: {doc}");
    }
    // --fail-on bypassed works as for the other verdicts
    let fail = |s: &str| {
        common::flowcheck(&[
            folder(s).as_os_str(),
            nva[0].as_ref(),
            nva[1].as_ref(),
            "--fail-on".as_ref(),
            "bypassed".as_ref(),
            "--quiet".as_ref(),
            "--no-report".as_ref(),
        ])
        .code
    };
    assert_eq!(fail("stage2"), 1);
    assert_eq!(fail("stage4"), 0);
}

#[test]
fn expect_via_an_unknown_point_is_a_usage_error() {
    let run = common::flowcheck(&[
        folder("stage2").as_os_str(),
        "--expect-via".as_ref(),
        "no-such-point".as_ref(),
        "--no-report".as_ref(),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no-such-point"), "{}", run.stderr);
}

#[test]
fn paths_name_every_hop_with_ttl_delay_and_nat() {
    let doc = check_truth("stage3", &[]);
    let c = common::find(
        &doc,
        &serde_json::json!({"proto": "icmp", "client": "10.100.204.2", "server": "10.100.201.4",
            "icmp_id": 13, "server_port": null, "client_port": null}),
    )
    .unwrap();
    assert_eq!(
        c["forward_path"],
        serde_json::json!(["vpn-client", "spoke1-vm"])
    );
    assert_eq!(
        c["reverse_path"],
        serde_json::json!(["spoke1-vm", "hub-nva", "vpn-client"])
    );
    let r = c["reason"].as_str().unwrap();
    assert!(
        r.contains("echo requests went vpn-client -> spoke1-vm directly; echo replies went spoke1-vm -> hub-nva -> vpn-client"),
        "{r}"
    );
    let hops = c["reverse_hops"].as_array().unwrap();
    let ttl: Vec<(&Value, &Value)> = hops.iter().map(|h| (&h["ttl"], &h["ttl_out"])).collect();
    assert_eq!(
        ttl,
        vec![
            (&serde_json::json!(64), &Value::Null),
            (&serde_json::json!(64), &serde_json::json!(63)),
            (&serde_json::json!(62), &Value::Null)
        ]
    );
    assert!(hops[0]["delay_ms"].is_null());
    for h in &hops[1..] {
        let d = h["delay_ms"]
            .as_f64()
            .expect("a delay between matched points");
        assert!(d.abs() < 5.0, "{h}");
    }
    assert_eq!(
        c["matched_packets"], c["sampled_packets"],
        "every sampled packet was matched"
    );
    // spoke to spoke: NAT at hub-nva both ways (the replies are un-NATed)
    let s2s = common::find(
        &doc,
        &serde_json::json!({"proto": "tcp", "client": "10.100.201.4", "server": "10.100.202.4",
            "icmp_id": null, "server_port": 8080, "client_port": null}),
    )
    .unwrap();
    assert_eq!(
        s2s["forward_path"],
        serde_json::json!(["spoke1-vm", "hub-nva", "spoke2-vm"])
    );
    let nat = s2s["nat"].as_array().unwrap();
    assert!(nat.iter().any(|n| n["direction"] == "reverse"
        && n["side"] == "destination"
        && n["from"] == "10.100.200.68"
        && n["to"] == "10.100.201.4"));
    assert!(doc["summary"]["matches"]["matched_packets"].as_u64() > Some(20));
}

#[test]
fn nat_between_spokes_is_found_without_the_nva_capture() {
    // only the two spokes, one of them with its clock moved: the spoke-to-spoke packets are
    // recognised although their source differs, and the rewrite is placed between them
    let s1 = folder("stage3").join("spoke1-vm.pcap");
    let s2 = folder("shifted/stage3").join("spoke2-vm.pcap");
    let args = [
        format!("spoke1-vm={}", s1.display()),
        format!("spoke2-vm={}", s2.display()),
    ];
    let (run, doc) = common::analyse(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s2s: Vec<&Value> = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["client"] == "10.100.201.4" && c["server"] == "10.100.202.4")
        .collect();
    assert_eq!(
        s2s.len(),
        3,
        "ping, HTTP, UDP: one conversation each, not two legs"
    );
    for c in s2s {
        assert_eq!(c["verdict"], "symmetric", "{c}");
        assert_eq!(
            c["forward_path"],
            serde_json::json!(["spoke1-vm", "spoke2-vm"])
        );
        let n = &c["nat"][0];
        assert_eq!(
            n["between"],
            serde_json::json!(["spoke1-vm", "spoke2-vm"]),
            "{c}"
        );
        assert_eq!(n["to"], "10.100.200.68");
        assert!(c["reason"]
            .as_str()
            .unwrap()
            .contains("between spoke1-vm and spoke2-vm"));
    }
    let off = point(&doc, "spoke2-vm")["clock_offset_s"].as_f64().unwrap();
    let ref_is_s1 = doc["summary"]["clock_reference"] == "spoke1-vm";
    let want = if ref_is_s1 { -11.75 } else { 0.0 };
    assert!((off - want).abs() < 0.001, "{off}");
}

#[test]
fn assume_synced_skips_the_estimation() {
    let (run, doc) = common::analyse(&[folder("stage3").as_os_str(), "--assume-synced".as_ref()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(doc["summary"]["clocks_assumed_synced"], true);
    assert!(doc["summary"]["clock_reference"].is_null());
    for p in doc["points"].as_array().unwrap() {
        assert!(p["clock_offset_s"].is_null(), "{p}");
    }
    // the lab's clocks are right: the verdicts do not change
    check_truth("stage3", &["--assume-synced"]);
}

#[test]
fn terminal_summary_shows_offsets_and_losses() {
    let run = common::flowcheck(&[
        folder("variants/stage3-stateful-shifted").as_os_str(),
        "--no-report".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    // vpn-client's clock was moved 10.5 s forward, spoke1-vm's 4.5 s back
    assert!(
        out.contains("clock 10.500 s ahead of hub-nva")
            || out.contains("clock 15.000 s ahead of spoke1-vm"),
        "{out}"
    );
    assert!(
        out.contains("sampled packets followed across points"),
        "{out}"
    );
    assert!(out.contains("lost after hub-nva"), "{out}");
    for line in out.lines() {
        assert!(
            line.chars().count() <= 100,
            "line over 100 columns: {line:?}"
        );
    }
}

#[test]
fn json_has_the_correlation_fields() {
    let (_, doc) = common::analyse(&[folder("variants/stage3-stateful")]);
    let m = &doc["summary"]["matches"];
    for k in [
        "sampled_packets",
        "matched_packets",
        "single_packets",
        "flow_pairs",
    ] {
        assert!(m[k].is_u64(), "summary.matches.{k} missing: {m}");
    }
    assert!(doc["summary"].get("clock_reference").is_some());
    assert!(doc["summary"]["clocks_assumed_synced"].is_boolean());
    for p in doc["points"].as_array().unwrap() {
        for k in [
            "clock_offset_s",
            "clock_uncertainty_s",
            "clock_via",
            "matched_packets",
        ] {
            assert!(p.get(k).is_some(), "points[].{k} missing");
        }
    }
    for c in doc["conversations"].as_array().unwrap() {
        for k in [
            "forward_path",
            "reverse_path",
            "forward_hops",
            "reverse_hops",
            "nat",
            "lost_after",
            "lost_between",
            "lost_direction",
            "path_verdict",
            "sampled_packets",
            "matched_packets",
        ] {
            assert!(c.get(k).is_some(), "conversations[].{k} missing: {c}");
        }
        for h in c["forward_hops"].as_array().unwrap() {
            for k in [
                "point",
                "ttl",
                "ttl_out",
                "forwarded",
                "routers",
                "delay_ms",
                "first_ts",
            ] {
                assert!(h.get(k).is_some(), "forward_hops[].{k} missing: {h}");
            }
        }
    }
    let hub = point(&doc, "hub-nva");
    assert!(hub["clock_offset_s"].is_f64());
}

/// Copies a classic little-endian pcap of Ethernet frames, leaving out the frames `drop`
/// picks; returns how many were left out.
fn filter_pcap(from: &Path, to: &Path, drop: impl Fn(&[u8]) -> bool) -> usize {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "{}", from.display());
    let mut out = bytes[..24].to_vec();
    let (mut at, mut dropped) = (24, 0);
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let record = &bytes[at..at + 16 + caplen];
        if drop(&record[16..]) {
            dropped += 1;
        } else {
            out.extend_from_slice(record);
        }
        at += 16 + caplen;
    }
    std::fs::write(to, out).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    dropped
}

/// An IPv4 ICMP echo request to `dst` in an untagged Ethernet frame.
fn echo_request_to(frame: &[u8], dst: [u8; 4]) -> bool {
    let Some(ip) = frame.get(14..).filter(|_| frame[12..14] == [0x08, 0x00]) else {
        return false;
    };
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    ip[9] == 1 && ip[16..20] == dst && ip.get(ihl) == Some(&8)
}

#[test]
fn replies_without_requests_at_the_clients_own_point_are_one_way_not_asymmetric() {
    // stage 4 with the echo requests of the VPN client's ping to spoke1-vm taken out of
    // every capture: its replies still cross spoke1-vm -> hub-nva -> vpn-client, and the
    // VPN client's own capture, which holds the rest of its traffic, shows it sent nothing
    let dir = common::TempDir::new("one-way");
    let mut dropped = 0;
    for name in ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"] {
        dropped += filter_pcap(
            &folder("stage4").join(format!("{name}.pcap")),
            &dir.path().join(format!("{name}.pcap")),
            |f| echo_request_to(f, [10, 100, 201, 4]),
        );
    }
    assert!(dropped >= 3, "{dropped} echo requests taken out");
    let want = serde_json::json!({"proto": "icmp", "client": "10.100.204.2",
        "server": "10.100.201.4", "icmp_id": 13});
    let (_, doc) = common::analyse(&[dir.path()]);
    let c = common::find(&doc, &want).expect("the ping's replies are a conversation");
    assert_eq!(c["verdict"], "incomplete", "{c}");
    assert_eq!(
        common::sorted(&c["reverse_path"]),
        ["hub-nva", "spoke1-vm", "vpn-client"]
    );
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("vpn-client, the client's own point, saw nothing from the client"),
        "{reason}"
    );
    // the other pings keep their verdicts
    let symmetric = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["proto"] == "icmp" && c["verdict"] == "symmetric")
        .count();
    assert_eq!(symmetric, 2);
    // the VPN client's capture alone says the same
    let (_, alone) = common::analyse(&[dir.path().join("vpn-client.pcap")]);
    let c = common::find(&alone, &want).expect("the replies at vpn-client");
    assert_eq!(c["verdict"], "incomplete", "{c}");
    // hub-nva alone forwards the replies on: the requests may well have gone another way,
    // and that is the asymmetric trap
    let (_, nva) = common::analyse(&[dir.path().join("hub-nva.pcap")]);
    let c = common::find(&nva, &want).expect("the replies at hub-nva");
    assert_eq!(c["verdict"], "asymmetric", "{c}");
}
