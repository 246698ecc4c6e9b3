//! What the captures did not see (issue 15): capture windows that do not line up, and counts
//! that count each packet once however many points saw it.

mod common;

use std::path::PathBuf;

use serde_json::Value;

/// Stage 4 (everything symmetric through hub-nva) with hub-nva's capture stopped early and
/// vpn-client's started late (captures/variants/README.md).
fn windows_case() -> PathBuf {
    common::captures().join("variants/stage4-windows")
}

fn seconds(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

fn unicast(c: &Value) -> bool {
    let routable = |a: &Value| {
        a.as_str()
            .and_then(|s| s.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| match ip {
                std::net::IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
                std::net::IpAddr::V6(v6) => {
                    !v6.is_multicast() && (v6.segments()[0] & 0xffc0) != 0xfe80
                }
            })
    };
    routable(&c["client"]) && routable(&c["server"])
}

#[test]
fn a_point_that_was_not_capturing_is_never_blamed() {
    let (run, doc) = common::analyse(&[
        windows_case().as_os_str(),
        "--expect-via".as_ref(),
        "hub-nva".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hub = doc["points"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "hub-nva"))
        .expect("hub-nva is a point");
    let (start, end) = (seconds(&hub["first_ts"]), seconds(&hub["last_ts"]));
    assert!(start < end, "{hub}");
    let mut outside = 0;
    for c in doc["conversations"].as_array().expect("conversations") {
        assert_ne!(c["verdict"], "bypassed", "{c}");
        assert!(
            c["lost_after"].is_null() && c["lost_between"].is_null(),
            "{c}"
        );
        let ran_outside = seconds(&c["first_ts"]) < start || seconds(&c["last_ts"]) > end;
        let seen_at_hub = c["points"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["point"] == "hub-nva"));
        if unicast(c) && ran_outside && !seen_at_hub {
            outside += 1;
            assert_eq!(c["uncovered"], serde_json::json!(["hub-nva"]), "{c}");
            assert_eq!(c["verdict"], "symmetric", "{c}");
        }
    }
    // the TCP connection and the two UDP exchanges after hub-nva stopped
    assert_eq!(outside, 3);
    // and the terminal says it plainly
    let text = common::flowcheck(&[
        windows_case().as_os_str(),
        "--expect-via".as_ref(),
        "hub-nva".as_ref(),
        "--no-report".as_ref(),
    ]);
    assert!(
        text.stdout
            .contains("hub-nva was not capturing then: its capture ended 03:40:42.891"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("BYPASSED"), "{}", text.stdout);
    // hub-nva's own address says the spoke-to-spoke packets crossed it, uncaptured
    let crossed = doc["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .filter(|c| c["client"] == "10.100.201.4" && c["server"] == "10.100.202.4")
        .filter(|c| c["proto"] != "icmp")
        .map(|c| c["reason"].as_str().unwrap_or(""))
        .filter(|r| {
            r.contains(
                "rewritten 10.100.201.4 -> 10.100.200.68 between spoke1-vm and spoke2-vm (NAT by \
                 hub-nva, its own address: the packets crossed hub-nva); hub-nva was not \
                 capturing then",
            )
        })
        .count();
    assert_eq!(
        crossed, 2,
        "the TCP connection and the UDP exchange after hub-nva stopped"
    );
    assert!(
        !text.stdout.contains("NAT by a hop not captured"),
        "{}",
        text.stdout
    );
}

#[test]
fn every_conversation_of_the_whole_stage_is_covered() {
    let (run, doc) = common::analyse(&[common::captures().join("stage4")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for c in doc["conversations"].as_array().expect("conversations") {
        if unicast(c) {
            assert!(c["uncovered"].is_null(), "{c}");
        }
    }
}

#[test]
fn every_lab_ping_counts_three_requests_and_three_replies() {
    let mut pings = 0;
    for n in 0..=4 {
        let (run, doc) = common::analyse(&[common::captures().join(format!("stage{n}"))]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for c in doc["conversations"].as_array().expect("conversations") {
            if c["proto"] != "icmp" || c["icmp_id"].is_null() || !unicast(c) {
                continue;
            }
            pings += 1;
            let answered = c["reverse_path"].as_array().is_some_and(|p| !p.is_empty());
            let want = if answered { 6 } else { 3 };
            assert_eq!(c["packets"], want, "stage{n}: {c}");
        }
    }
    assert!(pings >= 10, "{pings} pings");
}

#[test]
fn a_point_whose_clock_could_not_be_aligned_is_named_with_why() {
    let stage3 = common::captures().join("stage3");
    let mut args: Vec<std::ffi::OsString> = ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"]
        .iter()
        .map(|p| stage3.join(format!("{p}.pcap")).into_os_string())
        .collect();
    let other = common::shared().join("corpus/files/tcp_rst_data.pcap");
    args.push(format!("other={}", other.display()).into());
    args.push("--no-report".into());
    let run = common::flowcheck(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let head: String = run.stdout.lines().take(3).collect::<Vec<_>>().join(" ");
    assert!(head.contains("times aligned on hub-nva's clock"), "{head}");
    assert!(
        head.contains("other not aligned (its capture overlaps no other point's in time)"),
        "{head}"
    );
}

/// An Interface Statistics Block (little endian, interface 0, microseconds) saying the capture
/// ran from `start` to `end` (seconds since the epoch) and dropped nothing.
fn statistics_block(start: f64, end: f64) -> Vec<u8> {
    let micros = |t: f64| (t * 1e6).round() as u64;
    let time = |t: f64| {
        let mut v = Vec::new();
        flowcheck::testkit::put_ts64(&mut v, micros(t), false);
        v
    };
    let zero = 0u64.to_le_bytes();
    flowcheck::testkit::Ng::new()
        .isb(
            0,
            micros(end),
            &[(2, &time(start)), (3, &time(end)), (5, &zero), (7, &zero)],
        )
        .bytes()
}

#[test]
fn interface_statistics_widen_a_window_and_then_silence_counts() {
    // hub-nva's cut capture, with statistics saying it ran on until 03:40:45.5 (after every
    // conversation): the conversations after its last packet are no longer excused by time
    let dir = common::TempDir::new("isb-window");
    let mut bytes = std::fs::read(windows_case().join("hub-nva.pcap")).expect("hub-nva");
    bytes.extend(statistics_block(1_795_578_039.0, 1_795_578_045.5));
    let hub = dir.file("hub-nva.pcapng", &bytes);
    let mut args: Vec<std::ffi::OsString> = vec![format!("hub-nva={}", hub.display()).into()];
    for p in ["spoke1-vm", "spoke2-vm", "vpn-client"] {
        let path = windows_case().join(format!("{p}.pcap"));
        args.push(format!("{p}={}", path.display()).into());
    }
    args.extend(["--expect-via".into(), "hub-nva".into()]);
    let (run, doc) = common::analyse(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hub = &doc["points"][0];
    assert_eq!(hub["capture_loss"]["dropped_by_os"], 0, "{hub}");
    let convs = doc["conversations"].as_array().expect("conversations");
    let bypassed: Vec<&Value> = convs
        .iter()
        .filter(|c| c["verdict"] == "bypassed")
        .collect();
    // the VPN client's UDP exchange, which hub-nva, capturing, never saw
    assert_eq!(bypassed.len(), 1, "{bypassed:?}");
    assert!(bypassed[0]["uncovered"].is_null(), "{}", bypassed[0]);
    assert_eq!(bypassed[0]["client"], "10.100.204.2", "{}", bypassed[0]);
    // the spoke-to-spoke ones were source-NAT-ed to hub-nva's own address: they crossed it,
    // and its capture (capturing, by its statistics) missed them
    let missed = convs
        .iter()
        .filter(|c| {
            c["reason"]
                .as_str()
                .is_some_and(|r| r.contains("hub-nva was capturing, yet its capture missed them"))
        })
        .inspect(|c| assert_eq!(c["verdict"], "symmetric", "{c}"))
        .count();
    assert_eq!(missed, 2);
}

/// Issue 19: a point that was not capturing while a conversation ran is drawn as not
/// capturing, not as silent: each conversation whose JSON says `uncovered` has a lane for
/// that point in its ladder with a not-capturing band, every arrow crossing that lane gets the
/// neutral mark (never the bypassed gap), and the HTML tables say it.
#[test]
fn the_report_draws_a_point_that_was_not_capturing() {
    let dir = common::TempDir::new("windows-report");
    let out = dir.path().join("out");
    let run = common::flowcheck(&[
        windows_case().as_os_str(),
        "--report".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
        "-".as_ref(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    let mut checked = 0;
    for c in doc["conversations"].as_array().expect("conversations") {
        let Some(uncovered) = c["uncovered"].as_array() else {
            continue;
        };
        let id = c["id"].as_u64().expect("id");
        let names: Vec<&str> = uncovered.iter().filter_map(Value::as_str).collect();
        assert!(
            html.contains(&format!(
                "<tr id=\"v{id}\" data-verdict=\"{}\" data-uncovered=\"{}\">",
                c["verdict"].as_str().unwrap_or("?"),
                names.join(" ")
            )),
            "conversation {id}: the verdict table names its uncovered points"
        );
        let Ok(svg) = std::fs::read_to_string(out.join(format!("ladder-{id}.svg"))) else {
            continue;
        };
        let seen_at = c["points"].as_array().map_or(0, Vec::len);
        for name in names {
            let lane = format!("class=\"lane\" data-lane=\"{name}\"");
            assert!(svg.contains(&lane), "ladder {id} has a lane for {name}");
            if seen_at > 1 {
                assert!(
                    svg.contains(&format!("class=\"not-capturing\" data-lane=\"{name}\"")),
                    "ladder {id} draws {name} as not capturing"
                );
                assert!(
                    !svg.contains(&format!("class=\"skipped\" data-lane=\"{name}\"")),
                    "ladder {id}: no arrow is drawn as bypassing {name}"
                );
                assert!(
                    svg.contains(&format!(
                        "class=\"not-capturing-crossed\" data-lane=\"{name}\""
                    )),
                    "ladder {id}: the arrows crossing {name} get the neutral mark"
                );
                assert!(svg.contains("not capturing then"), "ladder {id}: legend");
                assert!(
                    html.contains(&format!("<tr class=\"uncovered\" data-point=\"{name}\">")),
                    "the conversation table of {id} says {name} was not capturing"
                );
                checked += 1;
            }
        }
    }
    // conversations 27-29: hub-nva's capture had ended
    assert!(checked >= 3, "{checked} uncovered lanes checked");
}

/// Issue 15 with the routes: a point not capturing is no disagreement with the route tables.
/// The conversations after hub-nva stopped capturing were routed through it (their source
/// rewritten to its own address says so): the prediction through hub-nva agrees with the
/// packets the other points saw, and no sentence says the tables and the packets disagree.
#[test]
fn routes_through_a_point_not_capturing_agree_with_the_packets() {
    let (run, doc) = common::analyse(&[windows_case().as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let convs = doc["conversations"].as_array().expect("conversations");
    let mut checked = 0;
    for c in convs.iter().filter(|c| !c["uncovered"].is_null()) {
        let routing = &c["routing"];
        assert!(routing.is_object(), "conversation {} has routes", c["id"]);
        for dir in ["forward", "reverse"] {
            assert_eq!(routing[dir]["agrees"], true, "{dir} of {}", c);
        }
        let text = routing["explanation"].as_str().unwrap_or_default();
        assert!(!text.contains("disagree"), "{text}");
        checked += 1;
    }
    assert_eq!(checked, 3, "conversations 27-29");
}
