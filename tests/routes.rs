//! The route tables joined to the packets (`--routes`, a capture folder's `routes/`): the real
//! binary on the lab's stages, checked against truth.json and against what the lab's tables
//! say.

mod common;

use common::{analyse, captures, find, flowcheck, shared, sorted, truth, TempDir};
use serde_json::Value;

fn stage(n: u32) -> std::path::PathBuf {
    shared().join(format!("captures/stage{n}"))
}

/// The four capture files of a folder, as NAME=PATH arguments (so that its routes/ is not
/// read by itself).
fn files(folder: &std::path::Path) -> Vec<String> {
    ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"]
        .iter()
        .map(|p| format!("{p}={}", folder.join(format!("{p}.pcap")).display()))
        .collect()
}

fn routing<'a>(doc: &'a Value, want: &Value) -> &'a Value {
    let c = find(doc, want).unwrap_or_else(|| panic!("no conversation for {want}"));
    assert!(
        c["routing"].is_object(),
        "no routing for {want}: {}",
        c["routing"]
    );
    &c["routing"]
}

fn has_decision(dir: &Value, at: &str, prefix: &str, hop: &str) -> bool {
    dir["decisions"].as_array().is_some_and(|d| {
        d.iter()
            .any(|x| x["at"] == at && x["prefix"] == prefix && x["next_hop_type"] == hop)
    })
}

#[test]
fn every_stage_predicts_the_points_truth_json_saw() {
    for n in 1..=4 {
        for folder in [stage(n), captures().join(format!("stage{n}"))] {
            let (run, doc) = analyse(&[&folder]);
            assert_eq!(run.code, 0, "stage {n}: {}", run.stderr);
            for want in truth(&folder)["conversations"].as_array().unwrap() {
                let r = routing(&doc, want);
                assert_eq!(
                    sorted(&r["forward"]["predicted_path"]),
                    sorted(&want["forward_points"]),
                    "stage {n} requests of {want}: {r}"
                );
                assert_eq!(
                    sorted(&r["reverse"]["predicted_path"]),
                    sorted(&want["reverse_points"]),
                    "stage {n} replies of {want}: {r}"
                );
                assert_eq!(r["forward"]["agrees"], true, "stage {n}: {r}");
                assert_eq!(r["reverse"]["agrees"], true, "stage {n}: {r}");
            }
            // conversations to group addresses (neighbour discovery) get no routing
            let conv = doc["conversations"].as_array().unwrap();
            assert!(conv
                .iter()
                .filter(|c| c["server"].as_str().is_some_and(|s| s.starts_with("ff02:")))
                .all(|c| c["routing"].is_null()));
        }
    }
}

#[test]
fn stage3_explains_the_asymmetry_and_proposes_stage4s_route() {
    let folder = stage(3);
    let (_, doc) = analyse(&[&folder]);
    let t = truth(&folder);
    let asym: Vec<&Value> = t["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "asymmetric")
        .collect();
    assert_eq!(asym.len(), 4);
    for want in asym {
        let r = routing(&doc, want);
        let server = want["server"].as_str().unwrap();
        let spoke = if server == "10.100.201.4" {
            "spoke1-vm"
        } else {
            "spoke2-vm"
        };
        let prefix = if server == "10.100.201.4" {
            "10.100.201.0/24"
        } else {
            "10.100.202.0/24"
        };
        // replies: the spoke's user route to the NVA
        let first = &r["reverse"]["decisions"][0];
        assert_eq!(first["at"], spoke, "{r}");
        assert_eq!(first["prefix"], "0.0.0.0/0");
        assert_eq!(first["next_hop_type"], "VirtualAppliance");
        assert_eq!(first["next_hop_ip"], "10.100.200.68");
        assert_eq!(first["source"], "User");
        assert_eq!(
            first["table"],
            if spoke == "spoke1-vm" {
                "spoke1-vm.txt"
            } else {
                "spoke2-vm.json"
            }
        );
        // requests: the gateway's system route of the peering, no table on GatewaySubnet
        let gw = &r["forward"]["decisions"][0];
        assert_eq!(gw["at"], "gateway");
        assert_eq!(gw["table"], Value::Null);
        assert_eq!(gw["prefix"], prefix);
        assert_eq!(gw["next_hop_type"], "VNetPeering");
        let e = r["explanation"].as_str().unwrap();
        assert!(
            e.starts_with("the route tables make the paths asymmetric"),
            "{e}"
        );
        assert!(
            e.contains(&format!(
                "requests: the gateway's route to {prefix} (VNet peering, no route table on \
                 GatewaySubnet); replies: {spoke}'s route 0.0.0.0/0 -> VirtualAppliance \
                 10.100.200.68 (User)"
            )),
            "{e}"
        );
        assert_eq!(
            r["fix"],
            format!(
                "add {prefix} -> VirtualAppliance 10.100.200.68 to GatewaySubnet's route table"
            )
        );
    }
    // the terminal shows the same under the evidence
    let run = flowcheck(&[folder.as_os_str(), "--limit".as_ref(), "0".as_ref()]);
    assert_eq!(run.code, 0);
    let flat = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("routes: the route tables make the paths asymmetric"),
        "{}",
        run.stdout
    );
    assert!(flat.contains(
        "fix: add 10.100.201.0/24 -> VirtualAppliance 10.100.200.68 to GatewaySubnet's route table"
    ));
}

#[test]
fn stage2s_bypass_is_explained_by_the_spokes_propagated_gateway_route() {
    let folder = stage(2);
    let (run, doc) = analyse(&[
        folder.as_os_str(),
        "--expect-via".as_ref(),
        "hub-nva".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut vpn = 0;
    for want in truth(&folder)["conversations"].as_array().unwrap() {
        if want["client"] != "10.100.204.2" {
            continue;
        }
        vpn += 1;
        let c = find(&doc, want).unwrap();
        assert_eq!(c["verdict"], "bypassed");
        let r = &c["routing"];
        let spoke = if want["server"] == "10.100.201.4" {
            "spoke1-vm"
        } else {
            "spoke2-vm"
        };
        let first = &r["reverse"]["decisions"][0];
        assert_eq!(first["at"], spoke);
        assert_eq!(first["prefix"], "10.100.204.0/24");
        assert_eq!(first["next_hop_type"], "VirtualNetworkGateway");
        assert_eq!(first["source"], "VirtualNetworkGateway");
        let e = r["explanation"].as_str().unwrap();
        assert!(
            e.contains(&format!(
                "the replies bypass hub-nva because of {spoke}'s route 10.100.204.0/24 -> \
                 VirtualNetworkGateway (VirtualNetworkGateway: propagated from the gateway)"
            )),
            "{e}"
        );
        let fix = r["fix"].as_str().unwrap();
        assert!(
            fix.contains(&format!(
                "add 10.100.204.0/24 -> VirtualAppliance 10.100.200.68 to the route table of \
                 {spoke}'s subnet"
            )),
            "{fix}"
        );
        assert!(fix.contains("to GatewaySubnet's route table"), "{fix}");
    }
    assert_eq!(vpn, 4);
}

#[test]
fn stage3s_packets_disagree_with_stage4s_tables() {
    let mut args = files(&stage(3));
    args.push("--routes".into());
    args.push(stage(4).join("routes").display().to_string());
    let (run, doc) = analyse(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for want in truth(&stage(3))["conversations"].as_array().unwrap() {
        let r = routing(&doc, want);
        let vpn = want["client"] == "10.100.204.2";
        assert_eq!(r["forward"]["agrees"], !vpn, "{want}: {r}");
        if vpn {
            // stage 4's GatewaySubnet route sends the requests through hub-nva
            assert!(has_decision(
                &r["forward"],
                "gateway",
                want["server"]
                    .as_str()
                    .map_or("", |s| if s.ends_with(".201.4") {
                        "10.100.201.0/24"
                    } else {
                        "10.100.202.0/24"
                    }),
                "VirtualAppliance"
            ));
            assert_eq!(r["forward"]["decisions"][0]["table"], "GatewaySubnet.json");
            let e = r["explanation"].as_str().unwrap();
            assert!(e.starts_with("the route tables and the packets disagree: the routes send the requests vpn-client -> hub-nva -> "), "{e}");
            assert_eq!(r["fix"], Value::Null);
        }
    }
}

#[test]
fn a_stateful_nva_stops_replies_the_routes_send_to_the_client() {
    let folder = captures().join("variants/stage3-stateful");
    let (_, doc) = analyse(&[&folder]);
    let mut stopped = 0;
    for want in truth(&folder)["conversations"].as_array().unwrap() {
        let r = routing(&doc, want);
        assert_eq!(
            sorted(&r["forward"]["predicted_path"]),
            sorted(&want["forward_points"])
        );
        let seen = sorted(&want["reverse_points"]);
        let predicted = sorted(&r["reverse"]["predicted_path"]);
        if want["client"] == "10.100.204.2" && !seen.contains(&"vpn-client".to_string()) {
            stopped += 1;
            // the replies' prediction reaches the client although the packets stopped
            assert_eq!(
                r["reverse"]["predicted_path"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap(),
                "vpn-client"
            );
            assert_eq!(r["reverse"]["agrees"], false);
            let e = r["explanation"].as_str().unwrap();
            assert!(
                e.contains("stopping at hub-nva where the routes send them on to vpn-client"),
                "{e}"
            );
        } else {
            assert_eq!(predicted, seen, "{want}");
            assert_eq!(r["reverse"]["agrees"], true);
        }
    }
    // the two pings and the TCP connection from the VPN (the UDP reply got through)
    assert_eq!(stopped, 3);
}

/// A route file's routes as the CLI's table text.
fn as_table(doc: &Value) -> String {
    let mut s = String::from(
        "Source   State    Address Prefix   Next Hop Type     Next Hop IP\n\
         -------  -------  ---------------  ----------------  -------------\n",
    );
    for r in doc["value"].as_array().unwrap() {
        let ips: Vec<&str> = r["nextHopIpAddress"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for p in r["addressPrefix"].as_array().unwrap() {
            s.push_str(&format!(
                "{}  {}   {}   {}  {}\n",
                r["source"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                p.as_str().unwrap(),
                r["nextHopType"].as_str().unwrap(),
                ips.join(",")
            ));
        }
    }
    s
}

/// The routing of every conversation, with the route file names' extensions left out.
fn routings(doc: &Value) -> Vec<String> {
    doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["routing"]
                .to_string()
                .replace(".txt\"", "\"")
                .replace(".json\"", "\"")
        })
        .collect()
}

#[test]
fn table_text_and_json_give_the_same_result() {
    for n in [2, 4] {
        let dir = TempDir::new("routes-text");
        for p in ["hub-nva", "spoke1-vm", "spoke2-vm"] {
            let path = stage(n).join(format!("routes/{p}.json"));
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            dir.file(&format!("{p}.txt"), as_table(&doc).as_bytes());
        }
        if n == 4 {
            let gw = std::fs::read(stage(4).join("routes/GatewaySubnet.json")).unwrap();
            dir.file("GatewaySubnet.json", &gw);
        }
        let mut args = files(&stage(n));
        args.push("--routes".into());
        args.push(dir.path().display().to_string());
        let (run, text) = analyse(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (_, json) = analyse(&[stage(n)]);
        assert_eq!(routings(&text), routings(&json), "stage {n}");
        assert!(routings(&text).iter().any(|r| r != "null"));
    }
}

#[test]
fn a_bad_route_file_is_reported_and_the_analysis_runs_without_routes() {
    let dir = TempDir::new("routes-bad");
    dir.file(
        "spoke1-vm.txt",
        b"Source   State    Address Prefix   Next Hop Type     Next Hop IP\n\
          -------  -------  ---------------  ----------------  -------------\n\
          Default  Active   10.100.201.0/24  VnetLocal\n\
          User     Active   0.0.0.0/0\n",
    );
    let mut args = files(&stage(3));
    args.push("--routes".into());
    args.push(dir.path().display().to_string());
    let (run, doc) = analyse(&args);
    assert_eq!(run.code, 2, "a damaged input: {}", run.stderr);
    assert!(
        run.stderr
            .contains("spoke1-vm.txt: line 4: expected Source, State"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("the analysis runs without routes"));
    let conv = doc["conversations"].as_array().unwrap();
    assert_eq!(conv.len(), 31);
    assert!(conv.iter().all(|c| c["routing"].is_null()));
    assert_eq!(doc["summary"]["verdicts"]["asymmetric"], 4);
    // a JSON file: the JSON path
    let dir = TempDir::new("routes-bad-json");
    let good = std::fs::read_to_string(stage(3).join("routes/hub-nva.json")).unwrap();
    dir.file(
        "hub-nva.json",
        good.replacen("\"Active\"", "\"Maybe\"", 1).as_bytes(),
    );
    let mut args = files(&stage(3));
    args.push(format!(
        "--routes=hub-nva={}",
        dir.path().join("hub-nva.json").display()
    ));
    let run = flowcheck(&args);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("hub-nva.json: value[0].state: expected Active or Invalid"),
        "{}",
        run.stderr
    );
}

#[test]
fn host_names_the_point_of_an_appliance_the_captures_do_not_show() {
    let dir = TempDir::new("routes-host");
    for f in ["hub-nva.json", "spoke2-vm.json"] {
        dir.file(f, &std::fs::read(stage(3).join("routes").join(f)).unwrap());
    }
    let spoke1 = std::fs::read_to_string(stage(3).join("routes/spoke1-vm.txt")).unwrap();
    dir.file(
        "spoke1-vm.txt",
        spoke1.replace("10.100.200.68", "10.100.200.99").as_bytes(),
    );
    let want =
        serde_json::json!({"proto": "icmp", "client": "10.100.204.2", "server": "10.100.201.4"});
    let mut args = files(&stage(3));
    args.push("--routes".into());
    args.push(dir.path().display().to_string());
    let (_, doc) = analyse(&args);
    let r = routing(&doc, &want);
    assert_eq!(r["reverse"]["end"], "unknown");
    assert!(r["reverse"]["unknown"]
        .as_str()
        .unwrap()
        .contains("--host POINT=10.100.200.99"));
    args.push("--host".into());
    args.push("hub-nva=10.100.200.99".into());
    let (_, doc) = analyse(&args);
    let r = routing(&doc, &want);
    assert_eq!(
        r["reverse"]["predicted_path"],
        serde_json::json!(["spoke1-vm", "hub-nva", "vpn-client"])
    );
    assert_eq!(r["reverse"]["agrees"], true);
    let run = flowcheck(&[args[0].as_str(), "--host", "hub-nva"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--host hub-nva: expected POINT=IP"));
}

#[test]
fn route_file_strings_are_escaped_in_the_report() {
    let dir = TempDir::new("routes-escape");
    let out = TempDir::new("routes-escape-report");
    let gw = std::fs::read_to_string(stage(4).join("routes/GatewaySubnet.json")).unwrap();
    dir.file(
        "GatewaySubnet.json",
        gw.replace("to-spoke1", "<script>alert(1)</script>")
            .as_bytes(),
    );
    for f in ["hub-nva.json", "spoke1-vm.json", "spoke2-vm.json"] {
        dir.file(f, &std::fs::read(stage(4).join("routes").join(f)).unwrap());
    }
    let mut args = files(&stage(4));
    args.extend(["--routes".into(), dir.path().display().to_string()]);
    args.extend([
        "--report".into(),
        out.path().display().to_string(),
        "-q".into(),
    ]);
    let run = flowcheck(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<h2 id=\"routes\">Routes</h2>"));
    assert!(html.contains(
        "GatewaySubnet.json: the gateway: GatewaySubnet&#39;s route table over its system routes"
    ));
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(&html, opts).expect("the report is well-formed XML");
}

/// `--filter` narrows the routing with the conversations: each kept conversation keeps its
/// own routing (not that of the conversation that had its place before the filter).
#[test]
fn a_filter_keeps_each_conversation_with_its_own_routing() {
    let folder = captures().join("stage3");
    let (run, doc) = analyse(&[
        folder.as_os_str(),
        "--filter".as_ref(),
        "host 10.100.202.4 and icmp".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let convs = doc["conversations"].as_array().expect("conversations");
    assert_eq!(convs.len(), 2, "{doc}");
    for c in convs {
        let r = &c["routing"];
        let server = c["server"].as_str().expect("server");
        let explained = r["explanation"].as_str().expect("an explanation");
        assert!(
            explained.contains("10.100.202.0/24"),
            "conversation {} to {server}: {explained}",
            c["id"]
        );
        if c["verdict"] == "asymmetric" {
            let fix = r["fix"].as_str().expect("a fix for the asymmetric ping");
            assert!(fix.contains("10.100.202.0/24"), "{fix}");
        }
    }
}
