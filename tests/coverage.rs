//! What the captures missed is said, never blamed on the network (issue 15): capture loss
//! per point, replies alone at a capture's start, clock claims and windows that never meet.

mod common;

use std::path::PathBuf;

use serde_json::Value;

/// Stage 4 with 5 % of hub-nva's records removed at random (captures/variants/README.md).
fn thinned() -> PathBuf {
    common::captures().join("variants/stage4-thinned")
}

fn point<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["points"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no point {name}"))
}

#[test]
fn capture_loss_at_the_nva_changes_no_verdict_and_is_reported_as_such() {
    let (run, doc) = common::analyse(&[thinned()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let truth = common::truth(&thinned());
    common::assert_matches_truth(&doc, &truth, "stage4-thinned");
    for c in doc["conversations"].as_array().expect("conversations") {
        assert!(
            c["lost_after"].is_null() && c["lost_between"].is_null(),
            "no loss is claimed: {c}"
        );
    }
    // the six records removed: two IPv6 multicast ones (seen nowhere else), the leaving legs
    // of two echo packets and of two TCP segments; the NAT-ed segment's shows as a hole too
    let loss = &point(&doc, "hub-nva")["capture_loss"];
    assert_eq!(loss["packets_missing"], 4, "{loss}");
    assert_eq!(loss["tcp_gaps"], 1, "{loss}");
    assert_eq!(loss["conversations"], 4, "{loss}");
    assert!(
        loss["dropped_by_interface"].is_null(),
        "classic pcap: {loss}"
    );
    for other in ["spoke1-vm", "spoke2-vm", "vpn-client"] {
        let l = &point(&doc, other)["capture_loss"];
        assert_eq!(
            (l["packets_missing"].as_u64(), l["tcp_gaps"].as_u64()),
            (Some(0), Some(0)),
            "{other}: {l}"
        );
    }
    let text = common::flowcheck(&[thinned().as_os_str(), "--no-report".as_ref()]);
    assert!(
        text.stdout.contains(
            "capture loss: 4 packets that points after it on their path saw not captured here"
        ),
        "{}",
        text.stdout
    );
}

#[test]
fn the_whole_lab_has_no_capture_loss() {
    for n in 0..=4 {
        let (run, doc) = common::analyse(&[common::captures().join(format!("stage{n}"))]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for p in doc["points"].as_array().expect("points") {
            let l = &p["capture_loss"];
            assert_eq!(l["packets_missing"], 0, "stage{n}: {p}");
            assert_eq!(l["tcp_gaps"], 0, "stage{n}: {p}");
        }
    }
}

#[test]
fn interface_statistics_drops_are_capture_loss() {
    // three sections: interface 0 of the second drops 10, of the third 1 (and the OS 42)
    let f = common::shared().join("corpus/files/gopacket_le_test201.pcapng");
    let (run, doc) = common::analyse(&[f.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let loss = &doc["points"][0]["capture_loss"];
    assert_eq!(loss["dropped_by_interface"], 11, "{loss}");
    assert_eq!(loss["dropped_by_os"], 42, "{loss}");
    let text = common::flowcheck(&[f.as_os_str(), "--no-report".as_ref()]);
    assert!(
        text.stdout
            .contains("capture loss: the interface dropped 11, the operating system dropped 42"),
        "{}",
        text.stdout
    );
}

#[test]
fn replies_alone_at_the_start_of_a_single_capture_are_incomplete() {
    // hub-nva's stage 3 capture started mid-ping: of the VPN ping id 13 it holds only the
    // last reply, within the first round trip; the next ping's replies come later, their
    // requests sent while it captured: those stay asymmetric
    let f = common::captures().join("variants/stage3-midping/hub-nva.pcap");
    let (run, doc) = common::analyse(&[f.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ping = |id: u64| {
        doc["conversations"]
            .as_array()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["proto"] == "icmp" && c["icmp_id"] == id)
            })
            .unwrap_or_else(|| panic!("no ping {id}"))
    };
    let early = ping(13);
    assert_eq!(early["verdict"], "incomplete", "{early}");
    assert!(
        early["reason"].as_str().is_some_and(
            |r| r.contains("the requests would have been sent before the capture began")
        ),
        "{early}"
    );
    assert_eq!(
        early["uncovered"],
        serde_json::json!(["hub-nva"]),
        "{early}"
    );
    let later = ping(14);
    assert_eq!(later["verdict"], "asymmetric", "{later}");
}

#[test]
fn captures_that_never_overlap_are_a_warning_and_no_clock_is_claimed() {
    // stage 0 with every clock shifted seconds apart: no two windows meet
    let shifted = common::captures().join("shifted/stage0");
    let (run, doc) = common::analyse(&[&shifted]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let clocks = doc["clocks"].as_array().expect("clocks");
    assert_eq!(clocks.len(), 4);
    for c in clocks {
        assert_eq!(c["status"], "windows_never_overlap", "{c}");
        assert_eq!(c["estimated"], false, "{c}");
        assert!(c["offset_s"].is_null(), "{c}");
    }
    assert!(
        doc["summary"]["clock_reference"].is_null(),
        "no clock aligned on it"
    );
    let warnings = doc["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0].as_str().unwrap_or("");
    for p in ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"] {
        assert!(w.contains(p), "{w}");
    }
    let text = common::flowcheck(&[shifted.as_os_str(), "--no-report".as_ref()]);
    assert!(
        text.stdout.contains("warning: the captures of hub-nva"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("no clock aligned: "),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("times aligned on"), "{}", text.stdout);

    // the whole stage 3: every clock estimated, nothing to warn about
    let (_, doc) = common::analyse(&[common::captures().join("stage3")]);
    assert_eq!(doc["warnings"], serde_json::json!([]));
    for c in doc["clocks"].as_array().expect("clocks") {
        assert_eq!(c["estimated"], true, "{c}");
        assert!(c["offset_s"].is_number(), "{c}");
    }
}

/// A classic little-endian pcap without the records numbered (1-based) in `gone`.
fn without_records(pcap: &[u8], gone: std::ops::RangeInclusive<usize>) -> Vec<u8> {
    let mut out = pcap[..24].to_vec();
    let (mut pos, mut n) = (24, 0);
    while pos + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[pos + 8..pos + 12].try_into().expect("4 bytes"));
        let end = pos + 16 + caplen as usize;
        n += 1;
        if !gone.contains(&n) {
            out.extend_from_slice(&pcap[pos..end]);
        }
        pos = end;
    }
    out
}

#[test]
fn packets_that_crossed_a_capturing_point_it_did_not_record_are_its_capture_loss() {
    // stage 4 with the 4 records of hub-nva's spoke-to-spoke UDP exchange (108-111) removed:
    // spoke2-vm still sees the request from hub-nva's own address, so it crossed hub-nva
    let stage4 = common::captures().join("stage4");
    let dir = common::TempDir::new("missed");
    let hub = std::fs::read(stage4.join("hub-nva.pcap")).expect("hub-nva");
    let hub = dir.file("hub-nva.pcap", &without_records(&hub, 108..=111));
    let mut args: Vec<std::ffi::OsString> = vec![format!("hub-nva={}", hub.display()).into()];
    for p in ["spoke1-vm", "spoke2-vm", "vpn-client"] {
        let path = stage4.join(format!("{p}.pcap"));
        args.push(format!("{p}={}", path.display()).into());
    }
    args.extend(["--expect-via".into(), "hub-nva".into()]);
    let (run, doc) = common::analyse(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let c = doc["conversations"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["client_port"] == 40002))
        .expect("the UDP exchange");
    assert_eq!(c["verdict"], "symmetric", "{c}");
    assert_eq!(c["uncovered"], serde_json::json!(["hub-nva"]), "{c}");
    let reason = c["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains(
            "the packets crossed hub-nva); hub-nva was capturing, yet its capture missed them"
        ),
        "{reason}"
    );
    let loss = &point(&doc, "hub-nva")["capture_loss"];
    assert_eq!(loss["packets_missing"], 2, "the request's two legs: {loss}");
    assert_eq!(loss["conversations"], 1, "{loss}");
}
