//! The lab captures (captures/stage0..stage4, copied from ../shared/captures): the verdicts a
//! network engineer reads by eye, from the NVA's capture alone and from every point together,
//! checked against each stage's truth.json.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn stage(n: u32) -> PathBuf {
    common::captures().join(format!("stage{n}"))
}

fn truth(n: u32) -> Value {
    common::truth(&stage(n))
}

fn at_point<'a>(conv: &'a Value, point: &str) -> &'a Value {
    conv["points"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["point"] == point))
        .unwrap_or(&Value::Null)
}

#[test]
fn stage3_vpn_conversations_are_asymmetric_at_the_nva_alone() {
    let (run, doc) = common::analyse(&[stage(3).join("hub-nva.pcap")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = truth(3);
    let mut checked = 0;
    for want in t["conversations"].as_array().unwrap() {
        if want["client"] != "10.100.204.2" {
            continue;
        }
        let c = common::find(&doc, want).unwrap_or_else(|| panic!("no conversation for {want}"));
        assert_eq!(c["verdict"], "asymmetric", "{c}");
        let p = at_point(c, "hub-nva");
        assert_eq!(p["forward_packets"], 0, "the NVA saw no request: {c}");
        assert!(p["reverse_packets"].as_u64() > Some(0));
        assert!(
            c["reason"].as_str().unwrap().contains("took another path"),
            "{c}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "stage 3 has four VPN conversations");
}

#[test]
fn stage2_spoke_to_spoke_ping_is_one_conversation_forwarded_with_nat() {
    let (run, doc) = common::analyse(&[stage(2).join("hub-nva.pcap")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let want = serde_json::json!({
        "proto": "icmp", "client": "10.100.201.4", "server": "10.100.202.4",
        "icmp_id": 12, "server_port": null, "client_port": null
    });
    let convs: Vec<&Value> = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["proto"] == "icmp" && c["server"] == "10.100.202.4")
        .collect();
    assert_eq!(convs.len(), 1, "one conversation, not two legs: {convs:?}");
    let c = common::find(&doc, &want).expect("the ping is reported as the client knows it");
    assert_eq!(c["verdict"], "symmetric");
    let p = at_point(c, "hub-nva");
    assert_eq!(p["forwarded"], true);
    assert_eq!(p["nat"][0]["from"], "10.100.201.4");
    assert_eq!(p["nat"][0]["to"], "10.100.200.68");
    assert_eq!(
        p["forward_packets"], 6,
        "each request seen arriving and leaving"
    );
    assert!(c["reason"]
        .as_str()
        .unwrap()
        .contains("NAT 10.100.201.4 -> 10.100.200.68"));
    // the flow table keeps tshark's view: two flows, pre- and post-NAT
    let legs = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["proto"] == "icmp" && f["b"] == "10.100.202.4")
        .count();
    assert_eq!(legs, 2);
}

#[test]
fn stage0_ping_is_unanswered() {
    let (run, doc) = common::analyse(&[stage(0).join("hub-nva.pcap")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let want = &truth(0)["conversations"][0];
    let c = common::find(&doc, want).expect("the stage 0 ping");
    assert_eq!(c["verdict"], "unanswered");
    assert!(c["reason"].as_str().unwrap().contains("no reply"), "{c}");
}

/// Every conversation of truth.json gets its verdict and its forward/reverse points when the
/// whole stage folder is analysed.
fn check_stage(n: u32, args: &[PathBuf]) {
    let (run, doc) = common::analyse(args);
    assert_eq!(run.code, 0, "stage {n}: {}", run.stderr);
    let t = truth(n);
    for (want, c) in common::assert_matches_truth(&doc, &t, &format!("stage {n}")) {
        if let Some(nat) = want["nat"].as_object() {
            let p = at_point(c, nat["point"].as_str().unwrap());
            assert_eq!(p["nat"][0]["to"], nat["client_as"], "stage {n}: {c}");
        }
        for transit in want["transits"].as_array().unwrap() {
            let p = at_point(c, transit.as_str().unwrap());
            assert_eq!(p["forwarded"], true, "stage {n}: {transit} forwards {c}");
        }
    }
}

#[test]
fn every_stage_folder_matches_truth() {
    for n in 0..=4 {
        check_stage(n, &[stage(n)]);
    }
}

#[test]
fn named_points_work_like_a_folder() {
    let s = stage(3);
    let args: Vec<PathBuf> = ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"]
        .iter()
        .map(|p| PathBuf::from(format!("{p}={}", s.join(format!("{p}.pcap")).display())))
        .collect();
    check_stage(3, &args);
}

#[test]
fn terminal_summary_lists_suspicious_first() {
    let run = common::flowcheck(&[Path::new("captures/hub-nva.pcap")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    let asym = out.find("ASYMMETRIC").expect("an ASYMMETRIC group");
    let sym = out.find("SYMMETRIC (").expect("a SYMMETRIC group");
    assert!(asym < sym);
    assert!(out.contains("hub-nva"));
    assert!(!out.contains('\x1b'), "no colour when not on a terminal");
    for line in out.lines() {
        assert!(
            line.chars().count() <= 100,
            "line over 100 columns: {line:?}"
        );
    }
}

#[test]
fn fail_on_sets_the_exit_code() {
    let nva = common::captures().join("hub-nva.pcap");
    let run = common::flowcheck(&[nva.as_os_str(), "--fail-on".as_ref(), "asymmetric".as_ref()]);
    assert_eq!(run.code, 1);
    let run = common::flowcheck(&[nva.as_os_str(), "--fail-on".as_ref(), "unanswered".as_ref()]);
    assert_eq!(run.code, 0);
    let run = common::flowcheck(&[nva.as_os_str(), "--fail-on".as_ref(), "sideways".as_ref()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown verdict"));
}

#[test]
fn missing_file_is_a_clear_error() {
    let run = common::flowcheck(&["/nonexistent/capture.pcap"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/capture.pcap"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_schema_is_versioned_and_complete() {
    let (_, doc) = common::analyse(&[common::captures().join("hub-nva.pcap")]);
    assert_eq!(doc["schema"], "flowcheck/1");
    let p = &doc["points"][0];
    for k in [
        "name",
        "path",
        "format",
        "link_types",
        "packets",
        "bytes",
        "not_decoded",
        "first_ts",
        "last_ts",
        "damage",
    ] {
        assert!(p.get(k).is_some(), "points[].{k} missing");
    }
    let f = &doc["flows"][0];
    for k in [
        "point",
        "proto",
        "a",
        "b",
        "packets_ab",
        "packets_ba",
        "bytes_ab",
        "bytes_ba",
        "first_ts",
        "last_ts",
    ] {
        assert!(f.get(k).is_some(), "flows[].{k} missing");
    }
    let c = &doc["conversations"][0];
    for k in [
        "proto",
        "client",
        "server",
        "client_port",
        "server_port",
        "icmp_id",
        "verdict",
        "reason",
        "points",
    ] {
        assert!(c.get(k).is_some(), "conversations[].{k} missing");
    }
}
