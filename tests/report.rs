//! The report (`flowcheck CAPTURES --report DIR`): every file parses as XML, the pictures say
//! what a network engineer reads in stage 3 (the NVA saw only the replies of the VPN
//! traffic), strings from captures are escaped, the default folder and the flags behave, the
//! committed example report is what flowcheck makes today, and a real browser renders the
//! page without a console error.

mod common;

use common::TempDir;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn stage3() -> PathBuf {
    common::captures().join("stage3")
}

/// Runs flowcheck on `captures` with `--report` into a fresh folder.
fn report(captures: &[OsString], tag: &str) -> (TempDir, common::Run) {
    let dir = TempDir::new(tag);
    let mut args = captures.to_vec();
    args.extend([
        "--report".into(),
        dir.path().join("out").into(),
        "--quiet".into(),
    ]);
    let run = common::flowcheck(&args);
    assert!(
        run.code == 0 || run.code == 1,
        "flowcheck failed: {}",
        run.stderr
    );
    (dir, run)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The files of a folder, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn parse(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .unwrap_or_else(|e| panic!("not well-formed: {e}\n{}", &text[..text.len().min(600)]))
}

/// All the text of a document, joined by spaces.
fn all_text(doc: &roxmltree::Document) -> String {
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `<g>` elements of `class`.
fn groups<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some(class))
        .collect()
}

/// The id (1-based, as in the JSON document and the file names) of a stage 3 conversation.
fn conversation_id(
    doc: &Value,
    proto: &str,
    client: &str,
    server: &str,
    icmp_id: Option<u64>,
) -> u64 {
    doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["proto"] == proto
                && c["client"] == client
                && c["server"] == server
                && (icmp_id.is_none() || c["icmp_id"].as_u64() == icmp_id)
        })
        .unwrap_or_else(|| panic!("no {proto} {client} -> {server} conversation"))["id"]
        .as_u64()
        .unwrap()
}

fn stage3_doc() -> Value {
    let (run, doc) = common::analyse(&[stage3()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    doc
}

#[test]
fn every_file_of_the_report_parses_and_the_page_is_self_contained() {
    let (dir, _) = report(&[stage3().into()], "all");
    let out = dir.path().join("out");
    let names = files(&out);
    for want in [
        "index.html",
        "summary.svg",
        "matrix.svg",
        "timeline.svg",
        "latency.svg",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing: {names:?}"
        );
    }
    let ladders = names.iter().filter(|n| n.starts_with("ladder-")).count();
    assert_eq!(
        ladders, 7,
        "a ladder per conversation with a request and a response: {names:?}"
    );
    let svgs: Vec<&String> = names.iter().filter(|n| n.ends_with(".svg")).collect();
    for name in &svgs {
        let text = read(&out.join(name));
        let doc = parse(&text);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{name}");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg"),
            "{name}"
        );
        assert!(root.attribute("viewBox").is_some(), "{name} scales");
        // a browser logs an error for a negative size (regression: sub-pixel bars inset by 1 px)
        for n in doc.descendants().filter(|n| n.is_element()) {
            for attr in ["width", "height", "r"] {
                if let Some(v) = n.attribute(attr).and_then(|v| v.parse::<f64>().ok()) {
                    assert!(v >= 0.0, "{name}: <{} {attr}=\"{v}\">", n.tag_name().name());
                }
            }
        }
    }
    let html = read(&out.join("index.html"));
    let doc = parse(&html);
    let title = doc
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert_eq!(title, "flowcheck report: stage3");
    // every picture inline: self-contained
    let inline = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "svg")
        .count();
    assert_eq!(inline, svgs.len(), "each picture inlined once");
    // no script, no fetch: only in-page anchors, the pictures beside it, and data: URLs
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("script"))
            .count(),
        0
    );
    for n in doc.descendants().filter(|n| n.is_element()) {
        for attr in ["src", "href"] {
            if let Some(v) = n.attribute(attr) {
                let local = v.starts_with('#')
                    || v.starts_with("data:")
                    || (!v.contains(':') && !v.starts_with("//") && v.ends_with(".svg"));
                assert!(local, "<{} {attr}=\"{v}\"> fetches", n.tag_name().name());
            }
        }
    }
    let csp = doc
        .descendants()
        .find(|n| n.attribute("http-equiv") == Some("Content-Security-Policy"))
        .and_then(|n| n.attribute("content"))
        .unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // the content: points, the verdict table with the evidence sentences
    let text = all_text(&doc);
    for point in ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"] {
        assert!(text.contains(point), "{point} in the page");
    }
    let json = stage3_doc();
    for c in json["conversations"].as_array().unwrap() {
        if c["verdict"] != "incomplete" {
            // the page writes each `->` as one arrow glyph that cannot break apart
            let reason = c["reason"].as_str().unwrap().replace("->", "→");
            assert!(text.contains(&reason), "the evidence of {c} in the page");
        }
    }
    let rows: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .filter_map(|n| n.attribute("data-verdict"))
        .collect();
    // a row of several alike conversations says how many (data-count)
    let covered: usize = doc
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.attribute("data-verdict").is_some())
        .map(|n| n.attribute("data-count").map_or(1, |c| c.parse().unwrap()))
        .sum();
    assert_eq!(covered, 31, "every conversation in the verdict table");
    assert_eq!(&rows[..4], ["asymmetric"; 4], "the suspicious first");
    // the charts name what they show
    let timeline = read(&out.join("timeline.svg"));
    for point in ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"] {
        assert!(timeline.contains(point), "timeline has a row for {point}");
    }
    let latency = read(&out.join("latency.svg"));
    assert!(latency.contains("vpn-client → spoke1-vm"), "latency pair");
    assert!(latency.contains("spoke1-vm → hub-nva"), "latency pair");
    let summary = all_text(&parse(&read(&out.join("summary.svg"))));
    assert!(
        summary.contains("4 asymmetric, 24 incomplete, 3 symmetric"),
        "{summary}"
    );
}

#[test]
fn ladder_of_the_vpn_ping_draws_the_asymmetric_route() {
    let json = stage3_doc();
    let id = conversation_id(&json, "icmp", "10.100.204.2", "10.100.201.4", Some(13));
    let (dir, _) = report(&[stage3().into()], "ladder");
    let text = read(&dir.path().join("out").join(format!("ladder-{id}.svg")));
    let doc = parse(&text);
    let lanes: Vec<&str> = groups(&doc, "lane")
        .iter()
        .filter_map(|g| g.attribute("data-lane"))
        .collect();
    assert_eq!(
        lanes,
        ["vpn-client", "hub-nva", "spoke1-vm"],
        "client side first"
    );
    // lane headers are named after the points
    let label = all_text(&doc);
    for lane in &lanes {
        assert!(label.contains(lane));
    }
    // one arrow per packet followed across the points
    let matched = json["conversations"][id as usize - 1]["matched_packets"]
        .as_u64()
        .unwrap();
    assert_eq!(
        matched, 6,
        "3 echo requests and 3 replies followed across the points"
    );
    let packets = groups(&doc, "packet");
    assert_eq!(
        packets.len() as u64,
        matched,
        "one arrow per matched packet"
    );
    let route = |d: &str| -> Vec<&str> {
        packets
            .iter()
            .filter(|g| g.attribute("data-dir") == Some(d))
            .filter_map(|g| g.attribute("data-lanes"))
            .collect()
    };
    assert_eq!(
        route("forward"),
        ["vpn-client spoke1-vm"; 3],
        "the requests bypass the NVA"
    );
    assert_eq!(
        route("reverse"),
        ["spoke1-vm hub-nva vpn-client"; 3],
        "the replies cross it"
    );
    for seq in 1..=3 {
        assert!(
            label.contains(&format!("echo request seq {seq}")),
            "{label}"
        );
        assert!(label.contains(&format!("echo reply seq {seq}")), "{label}");
    }
    assert!(
        label.contains("lane crossed, not seen there"),
        "the bypass is in the legend"
    );
}

/// Hovering a TCP arrow gives its sequence number and, when it carries the ACK flag, its
/// acknowledgement number, as Wireshark's flow graph does: the server's SYN+ACK acknowledges
/// the client's SYN sequence number plus one.
#[test]
fn tcp_arrows_give_seq_and_ack_on_hover() {
    let json = stage3_doc();
    let id = conversation_id(&json, "tcp", "10.100.204.2", "10.100.201.4", None);
    let (dir, _) = report(&[stage3().into()], "ack");
    let text = read(&dir.path().join("out").join(format!("ladder-{id}.svg")));
    let doc = parse(&text);
    let tips: Vec<String> = groups(&doc, "packet")
        .iter()
        .filter_map(|g| g.children().find(|n| n.has_tag_name("title")))
        .filter_map(|t| t.text().map(str::to_string))
        .collect();
    let number = |tip: &str, word: &str| -> Option<u64> {
        let rest = tip.split(&format!("TCP {word} ")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let syn = tips
        .iter()
        .find(|t| t.starts_with("SYN "))
        .expect("a SYN arrow");
    let syn_ack = tips
        .iter()
        .find(|t| t.starts_with("SYN+ACK "))
        .expect("a SYN+ACK arrow");
    assert!(
        number(syn, "seq").is_some() && !syn.contains(" ack "),
        "a SYN has a seq and no ack: {syn}"
    );
    let isn = number(syn, "seq").unwrap_or(0);
    let acked = syn_ack
        .split(" ack ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(acked, Some((isn + 1) % (1 << 32)), "{syn_ack}");
    let with_ack = tips.iter().filter(|t| t.contains(" ack ")).count();
    assert!(
        with_ack + 1 >= tips.len(),
        "every arrow after the SYN: {tips:?}"
    );
}

#[test]
fn matrix_shows_that_the_nva_saw_only_the_replies_of_the_vpn_ping() {
    let json = stage3_doc();
    let vpn = conversation_id(&json, "icmp", "10.100.204.2", "10.100.201.4", Some(13));
    let spokes = conversation_id(&json, "icmp", "10.100.201.4", "10.100.202.4", Some(12));
    let (dir, _) = report(&[stage3().into()], "matrix");
    let text = read(&dir.path().join("out").join("matrix.svg"));
    let doc = parse(&text);
    let cells = groups(&doc, "cell");
    let cell = |conv: u64, point: &str| {
        cells
            .iter()
            .find(|g| {
                g.attribute("data-conversation") == Some(&conv.to_string())
                    && g.attribute("data-point") == Some(point)
            })
            .copied()
            .unwrap_or_else(|| panic!("no cell for conversation {conv} at {point}"))
    };
    let nva = cell(vpn, "hub-nva");
    assert_eq!(nva.attribute("data-state"), Some("reverse-only"));
    let tip = nva
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(
        tip.contains("reverse only") && tip.contains("0 echo requests, 6 echo replies"),
        "{tip}"
    );
    assert_eq!(
        cell(vpn, "vpn-client").attribute("data-state"),
        Some("both")
    );
    assert_eq!(cell(vpn, "spoke1-vm").attribute("data-state"), Some("both"));
    assert_eq!(cell(vpn, "spoke2-vm").attribute("data-state"), Some("none"));
    assert_eq!(
        cell(spokes, "hub-nva").attribute("data-state"),
        Some("both")
    );
    let columns: Vec<&str> = groups(&doc, "column")
        .iter()
        .filter_map(|g| g.attribute("data-point"))
        .collect();
    assert_eq!(columns, ["hub-nva", "spoke1-vm", "spoke2-vm", "vpn-client"]);
    let rows: Vec<&str> = groups(&doc, "row")
        .iter()
        .filter_map(|g| g.attribute("data-verdict"))
        .collect();
    assert_eq!(
        rows,
        [
            "asymmetric",
            "asymmetric",
            "asymmetric",
            "asymmetric",
            "symmetric",
            "symmetric",
            "symmetric"
        ]
    );
    assert!(
        all_text(&doc).contains("24 incomplete conversations"),
        "says what it left out"
    );
}

#[test]
fn pictures_cap_their_rows_and_say_what_was_left_out() {
    use flowcheck::report::svg;
    let inputs = flowcheck::point::resolve_inputs(&[stage3().display().to_string()]).unwrap();
    let a = flowcheck::analyse(&inputs, &flowcheck::point::ReadOptions::default());
    let m = svg::matrix::render(&a, 2, svg::Limits::default().points);
    let doc = parse(&m);
    assert_eq!(groups(&doc, "row").len(), 2);
    assert!(
        all_text(&doc).contains("5 more conversations not shown (2 asymmetric, 3 symmetric)"),
        "{}",
        all_text(&doc)
    );
    let limits = svg::Limits {
        ladders: 3,
        ..svg::Limits::default()
    };
    let pics = svg::pictures(&a, &limits);
    assert_eq!(
        pics.iter()
            .filter(|p| p.file.starts_with("ladder-"))
            .count(),
        3
    );
    let all = svg::latency::latency(&a, 100);
    assert!(!all.contains("more pairs not shown"));
    let two = svg::latency::latency(&a, 2);
    assert!(two.contains("more pairs not shown"), "{two}");
}

#[test]
fn strings_from_captures_cannot_inject_markup() {
    // (no '=' in it: NAME=PATH splits at the first one)
    let evil = "<script>alert(\"x\")</script><img src onerror>&amp;\u{1}";
    let nva = common::captures().join("hub-nva.pcap");
    let arg = format!("{evil}={}", nva.display());
    let (dir, _) = report(&[arg.into()], "evil");
    let out = dir.path().join("out");
    for name in files(&out).into_iter().filter(|n| n != ".flowcheck-report") {
        let text = read(&out.join(&name));
        let doc = parse(&text);
        for n in doc.descendants() {
            assert!(
                !n.has_tag_name("script") && !n.has_tag_name("img"),
                "{name}: markup from the capture name got through"
            );
        }
        assert!(!text.contains("<script"), "{name}");
        assert!(
            !text.contains('\u{1}'),
            "{name}: a control character XML cannot carry"
        );
        if name == "index.html" || name == "matrix.svg" {
            // the name is shown as text, visibly
            let shown = all_text(&doc);
            assert!(
                shown.contains("<script>alert(\"x\")</script><img src onerror>&amp;\\x01"),
                "{name}: the point name is shown as text: {shown}"
            );
        }
    }
}

#[test]
fn the_default_report_goes_to_reports_name_and_its_path_is_printed() {
    let cwd = TempDir::new("default");
    let run = common::flowcheck_in(cwd.path(), &[stage3()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(cwd.path().join("reports/stage3/index.html").is_file());
    assert!(cwd.path().join("reports/stage3/matrix.svg").is_file());
    assert_eq!(
        run.stdout.lines().last(),
        Some("report: reports/stage3/index.html"),
        "{}",
        run.stdout
    );

    // one capture: its point name; several: combined; NAME=PATH: the name, made a safe path
    let nva = common::captures().join("hub-nva.pcap");
    let run = common::flowcheck_in(cwd.path(), &[nva.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(cwd.path().join("reports/hub-nva/index.html").is_file());
    assert_eq!(run.stdout, "", "--quiet prints nothing");
    let s3 = stage3();
    let two = [s3.join("hub-nva.pcap"), s3.join("vpn-client.pcap")];
    let run = common::flowcheck_in(
        cwd.path(),
        &[two[0].as_os_str(), two[1].as_os_str(), "--quiet".as_ref()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(cwd.path().join("reports/combined/index.html").is_file());
    let sneaky = format!("../../x y={}", nva.display());
    let run = common::flowcheck_in(cwd.path(), &[sneaky.as_str(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let made = files(&cwd.path().join("reports"));
    assert_eq!(
        made,
        ["_.._x_y", "combined", "hub-nva", "stage3"],
        "stays inside reports/"
    );
    assert_eq!(files(cwd.path()), ["reports"], "nothing written elsewhere");

    // --json -: stdout is the document alone, the path goes to stderr
    let run = common::flowcheck_in(
        cwd.path(),
        &[s3.as_os_str(), "--json".as_ref(), "-".as_ref()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json()["conversations"].is_array());
    assert!(
        run.stderr.contains("report: reports/stage3/index.html"),
        "{}",
        run.stderr
    );

    // --no-report writes nothing; --report and --no-report conflict
    let empty = TempDir::new("none");
    let run = common::flowcheck_in(empty.path(), &[s3.as_os_str(), "--no-report".as_ref()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("report:"));
    assert!(
        files(empty.path()).is_empty(),
        "--no-report wrote something"
    );
    let run = common::flowcheck_in(
        empty.path(),
        &[
            s3.as_os_str(),
            "--no-report".as_ref(),
            "--report".as_ref(),
            "x".as_ref(),
        ],
    );
    assert_eq!(run.code, 2);
}

/// `--json FILE` replaces what the file held (a shorter document leaves no tail of the old
/// one), and a path that cannot be written fails before anything is read or written.
#[test]
fn the_json_file_is_replaced_whole_and_an_unwritable_one_fails_first() {
    let dir = TempDir::new("json-file");
    let out = dir.path().join("out.json");
    std::fs::write(&out, "x".repeat(5_000_000)).unwrap();
    let nva = common::captures().join("hub-nva.pcap");
    let json_to = |path: &Path| {
        common::flowcheck(&[
            nva.as_os_str(),
            "--json".as_ref(),
            path.as_os_str(),
            "--quiet".as_ref(),
        ])
    };
    let run = json_to(&out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = read(&out);
    assert!(text.len() < 5_000_000, "the old content is gone");
    let doc: Value = serde_json::from_str(&text).expect("the file is one JSON document");
    assert_eq!(doc["points"][0]["name"], "hub-nva");
    // the document is written over the old one in place: byte for byte what a new file gets,
    // whether the old content was longer (above) or shorter
    let fresh = dir.path().join("fresh.json");
    let run = json_to(&fresh);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(&fresh),
        text,
        "a new file and an old one get the same bytes"
    );
    std::fs::write(&out, "{}").unwrap();
    let run = json_to(&out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(&out), text, "over a shorter old file");

    // a device that takes no byte: the error names --json and the run fails
    let full = Path::new("/dev/full");
    if full.exists() {
        let run = json_to(full);
        assert_ne!(run.code, 0, "a full device: {}", run.stderr);
        assert!(
            run.stderr.contains("--json /dev/full"),
            "the error names the file: {}",
            run.stderr
        );
    }

    // one of the captures: refused, the capture left as it was
    let copy = dir.path().join("copy.pcap");
    std::fs::copy(&nva, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let run = common::flowcheck(&[copy.as_os_str(), "--json".as_ref(), copy.as_os_str()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("one of the captures"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the capture is intact"
    );
    let run = common::flowcheck(&[dir.path().as_os_str(), "--json".as_ref(), copy.as_os_str()]);
    assert_eq!(run.code, 2, "a folder holding it: {}", run.stderr);
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the capture is intact"
    );

    // a folder that does not exist: the error names the path and no report is made
    let missing = dir.path().join("no-such-folder/out.json");
    let report = dir.path().join("report");
    let run = common::flowcheck(&[
        nva.as_os_str(),
        "--json".as_ref(),
        missing.as_os_str(),
        "--report".as_ref(),
        report.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--json") && run.stderr.contains("no-such-folder"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing analysed: {}", run.stdout);
    assert!(!report.exists(), "failed before the report was written");

    // before reading: a capture that would block (a FIFO nobody writes) is never opened
    let fifo = dir.path().join("never-written.pcap");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowcheck"))
            .arg(&fifo)
            .args([
                "--json".as_ref(),
                missing.as_os_str(),
                "--no-report".as_ref(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the flowcheck binary runs");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("waiting for flowcheck") {
                break Some(s);
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "flowcheck waited for its input before checking --json"
        );
    }
}

#[test]
fn a_second_run_removes_the_ladders_it_no_longer_draws() {
    let dir = TempDir::new("stale");
    let out = dir.path().join("out");
    let run_once = || {
        common::flowcheck(&[
            stage3().as_os_str(),
            "--report".as_ref(),
            out.as_os_str(),
            "--quiet".as_ref(),
        ])
    };
    let first = run_once();
    assert_eq!(first.code, 0, "{}", first.stderr);
    // a ladder an earlier run drew (its marker lists it) and a file of the user's
    let marker = out.join(".flowcheck-report");
    let mut listed = std::fs::read_to_string(&marker).unwrap();
    listed.push_str("ladder-999.svg\n");
    std::fs::write(&marker, listed).unwrap();
    std::fs::write(out.join("ladder-999.svg"), "<svg/>").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let run = run_once();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = files(&out);
    assert!(!names.contains(&"ladder-999.svg".to_string()));
    assert!(
        names.contains(&"notes.txt".to_string()),
        "other files are left alone"
    );
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
}

/// reports/stage3 is committed; it must be exactly what flowcheck makes now.
#[test]
fn example_report_is_in_sync() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/stage3");
    assert!(
        committed.join("index.html").is_file(),
        "reports/stage3 is missing: run scripts/regen-example-report.sh and commit it"
    );
    let dir = TempDir::new("sync");
    let fresh = dir.path().join("stage3");
    // the same invocation as scripts/regen-example-report.sh, from the project folder
    let run = common::flowcheck(&[
        "captures/stage3".as_ref(),
        "--report".as_ref(),
        fresh.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (want, have) = (files(&fresh), files(&committed));
    let mut stale: Vec<String> = Vec::new();
    for name in want.iter().chain(&have) {
        let a = std::fs::read(fresh.join(name)).ok();
        let b = std::fs::read(committed.join(name)).ok();
        if a != b && !stale.contains(name) {
            stale.push(name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "reports/stage3 differs from what flowcheck makes now ({}): run \
         scripts/regen-example-report.sh and commit reports/stage3",
        stale.join(", ")
    );
}

// ---- the browser ----

use common::browser::{chromium, Browser};

/// Share of the pixels that are not (nearly) white, and the number of pixels of `rgb`.
fn png_stats(path: &Path, rgb: [u8; 3]) -> (f64, usize) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0u8; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let (mut ink, mut hits, mut total) = (0usize, 0usize, 0usize);
    for p in px.chunks(channels) {
        let (r, g, b) = if channels >= 3 {
            (p[0], p[1], p[2])
        } else {
            (p[0], p[0], p[0])
        };
        total += 1;
        if r < 235 || g < 235 || b < 235 {
            ink += 1;
        }
        if r.abs_diff(rgb[0]) < 12 && g.abs_diff(rgb[1]) < 12 && b.abs_diff(rgb[2]) < 12 {
            hits += 1;
        }
    }
    (ink as f64 / total.max(1) as f64, hits)
}

#[test]
fn a_browser_renders_the_report_without_console_errors() {
    let Some(bin) = chromium() else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "CI must install a browser for this test (Debian's chromium package, see .ci/run)"
        );
        eprintln!(
            "SKIPPED a_browser_renders_the_report_without_console_errors: no Chromium found \
             (install Debian's `chromium` package, or set FLOWCHECK_CHROMIUM)"
        );
        return;
    };
    let browser = Browser { bin };
    let scratch = TempDir::new("browser");

    // the console detector works: a page that logs an error and throws is caught
    let control = scratch.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><title>control</title><p>x</p>\
         <script>console.error('flowcheck-control'); notDefined();</script>",
    )
    .unwrap();
    let (_, console) = browser.run(&control, &["--dump-dom".into()], scratch.path());
    assert!(
        console.iter().any(|l| l.contains("flowcheck-control")),
        "the browser's console is not visible in its log, so this test could not see errors: {console:?}"
    );

    // the report: loads without a console message, renders, and is not blank
    let (dir, _) = report(&[stage3().into()], "page");
    let page = dir.path().join("out").join("index.html");
    let shot = scratch.path().join("shot.png");
    let (_, console) = browser.run(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,3200".into(),
        ],
        scratch.path(),
    );
    assert!(console.is_empty(), "console messages: {console:#?}");
    let (ink, red) = png_stats(&shot, [0xc6, 0x28, 0x28]);
    assert!(
        ink > 0.03,
        "the screenshot is blank ({:.2}% ink)",
        ink * 100.0
    );
    assert!(
        red > 200,
        "the asymmetric red of badges, matrix and charts is visible ({red} px)"
    );
    let (dom, console) = browser.run(&page, &["--dump-dom".into()], scratch.path());
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(
        dom.contains("flowcheck report: stage3"),
        "the page loaded: {}",
        &dom[..dom.len().min(400)]
    );
    assert!(dom.contains("<svg"), "pictures inline");

    // a crafted capture name runs nothing
    let evil = format!(
        "<script>console.error('injected')</script><marquee>moving</marquee>={}",
        common::captures().join("hub-nva.pcap").display()
    );
    let (edir, _) = report(&[evil.into()], "evil-page");
    let (dom, console) = browser.run(
        &edir.path().join("out").join("index.html"),
        &["--dump-dom".into()],
        scratch.path(),
    );
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(
        !dom.contains("<script") && !dom.contains("<marquee"),
        "markup from a capture name in the DOM"
    );
}
