//! Everyday use, run as a user would: `--filter`, `--from`/`--to`, one-way traffic folded away,
//! `--fail-on` saying why, the report as a by-product, standard input, missing files,
//! recursive folders, wrapping and plurals, file names that are not UTF-8.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{captures, flowcheck, flowcheck_in, TempDir};

fn stage(n: u8) -> PathBuf {
    captures().join(format!("stage{n}"))
}

/// `(proto, client, server)` of each conversation of a document, sorted.
fn endpoints(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = doc["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| {
            (
                c["proto"].as_str().unwrap_or("").replace("icmpv6", "icmp6"),
                c["client"].as_str().unwrap_or("").to_string(),
                c["server"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The point names of a document, in order.
fn point_names(doc: &serde_json::Value) -> Vec<String> {
    doc["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect()
}

/// Asserts that `out` holds `needle`, showing `out` when it does not.
fn has(out: &str, needle: &str) {
    assert!(out.contains(needle), "{needle:?} not in:\n{out}");
}

fn json_with(args: &[&str]) -> (common::Run, serde_json::Value) {
    let (run, doc) = common::analyse(args);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    (run, doc)
}

#[test]
fn the_fixed_lab_passes_once_neighbour_discovery_is_filtered_out() {
    let s4 = stage(4);
    let s4 = s4.to_str().unwrap();
    let fail = "asymmetric,unanswered,bypassed,incomplete";
    let base = [s4, "--expect-via", "hub-nva", "--fail-on", fail];
    // without the filter, the noise alone fails the run, and the last line says so
    let run = flowcheck(&base);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("flowcheck: failing on incomplete: ")
            && last.contains(" conversations, first icmpv6 "),
        "{last}"
    );
    let mut args = base.to_vec();
    args.extend(["--filter", "not icmp6"]);
    let run = flowcheck(&args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let head = run.stdout.lines().next().unwrap_or("");
    assert!(
        head.contains(" conversations (") && head.ends_with(" left out by --filter)"),
        "{head}"
    );
}

#[test]
fn host_keeps_the_vpn_clients_conversations_as_it_knows_them() {
    let s3 = stage(3);
    let (_, all) = json_with(&[s3.to_str().unwrap()]);
    let (_, doc) = json_with(&[s3.to_str().unwrap(), "--filter", "host 10.100.204.2"]);
    // exactly the truth's conversations of the VPN client
    let truth = common::truth(&s3);
    let vpn: Vec<serde_json::Value> = truth["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["client"] == "10.100.204.2" || c["server"] == "10.100.204.2")
        .cloned()
        .collect();
    assert_eq!(vpn.len(), 4);
    assert_eq!(doc["conversations"].as_array().unwrap().len(), 4, "{doc}");
    for want in &vpn {
        assert!(common::find(&doc, want).is_some(), "{want}");
    }
    // the NVA's legs of them stay in (what hub-nva saw of each is reported)
    for c in doc["conversations"].as_array().unwrap() {
        assert!(
            c["points"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["point"] == "hub-nva"),
            "{c}"
        );
    }
    let total = all["conversations"].as_array().unwrap().len();
    assert_eq!(doc["filter"]["expression"], "host 10.100.204.2");
    assert_eq!(doc["filter"]["left_out"], total - 4);
    assert_eq!(doc["summary"]["conversations"], 4);
    assert_eq!(doc["summary"]["verdicts"]["asymmetric"], 4);
    assert!(all["filter"].is_null());
    // ids are those of the whole analysis
    for c in doc["conversations"].as_array().unwrap() {
        let id = c["id"].as_u64().unwrap() as usize;
        assert_eq!(all["conversations"][id - 1]["client"], c["client"]);
        assert_eq!(all["conversations"][id - 1]["server"], c["server"]);
    }
    // everything is still read and correlated
    assert_eq!(doc["summary"]["packets"], all["summary"]["packets"]);
    assert_eq!(doc["flows"], all["flows"]);
}

#[test]
fn verdict_and_protocol_select_one_conversation() {
    let s3 = stage(3);
    let (_, doc) = json_with(&[
        s3.to_str().unwrap(),
        "--filter",
        "verdict asymmetric and tcp",
    ]);
    let convs = doc["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1, "{doc}");
    assert_eq!(convs[0]["proto"], "tcp");
    assert_eq!(convs[0]["verdict"], "asymmetric");
    // the same in the terminal: one ASYMMETRIC line
    let run = flowcheck(&[s3.to_str().unwrap(), "-f", "verdict asymmetric && tcp"]);
    assert_eq!(run.code, 0);
    has(&run.stdout, "ASYMMETRIC (1)");
    has(&run.stdout, "(30 left out by --filter)");
}

#[test]
fn a_malformed_filter_is_a_usage_error_pointing_at_the_word() {
    let s3 = stage(3);
    for (expr, word) in [
        ("host 10.100.204.2 and prot 80", "'prot' at character 23"),
        ("net 10.0.0.0/40", "'10.0.0.0/40' at character 5"),
        ("(tcp or udp", "the expression ends after 'udp'"),
        ("verdict sideways", "'sideways' at character 9"),
    ] {
        let run = flowcheck(&[s3.to_str().unwrap(), "--filter", expr]);
        assert_eq!(run.code, 2, "{expr}");
        assert!(run.stdout.is_empty(), "no table: {}", run.stdout);
        let first = run.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("flowcheck: --filter: "), "{first}");
        assert!(first.contains(word), "{expr}: {first}");
    }
    let run = flowcheck(&[s3.to_str().unwrap(), "--filter", "tcp and prot 80"]);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines[1..],
        ["  tcp and prot 80", "          ^^^^"],
        "{}",
        run.stderr
    );
}

#[test]
fn from_and_to_narrow_to_a_time_window() {
    let s3 = stage(3);
    let s3 = s3.to_str().unwrap();
    let (_, all) = json_with(&[s3]);
    let convs = all["conversations"].as_array().unwrap();
    let secs = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    // a time in the middle of the run, in both forms: 03:40:35Z is 1795578035
    let mid = 1_795_578_035.0;
    let want_from = convs.iter().filter(|c| secs(&c["last_ts"]) >= mid).count();
    let want_to = convs.iter().filter(|c| secs(&c["first_ts"]) <= mid).count();
    assert!(want_from > 0 && want_from < convs.len(), "{want_from}");
    for t in [
        "1795578035",
        "2026-11-25T03:40:35Z",
        "2026-11-25T04:40:35+01:00",
    ] {
        let (_, doc) = json_with(&[s3, "--from", t]);
        assert_eq!(
            doc["conversations"].as_array().unwrap().len(),
            want_from,
            "{t}"
        );
        assert_eq!(doc["filter"]["from"], "1795578035.000000000");
        assert_eq!(doc["filter"]["left_out"], convs.len() - want_from);
        let (_, doc) = json_with(&[s3, "--to", t]);
        assert_eq!(
            doc["conversations"].as_array().unwrap().len(),
            want_to,
            "{t}"
        );
    }
    // a window before the captures leaves nothing, and says so
    let run = flowcheck(&[s3, "--to", "2020-01-01T00:00:00Z"]);
    assert_eq!(run.code, 0);
    has(
        &run.stdout,
        "0 conversations (31 left out by the time window)",
    );
    has(&run.stdout, "no conversation left after the filter");
    // the window and the filter together
    let (_, doc) = json_with(&[s3, "--from", "1795578035", "-f", "icmp"]);
    for c in doc["conversations"].as_array().unwrap() {
        assert_eq!(c["proto"], "icmp");
        assert!(secs(&c["last_ts"]) >= mid);
    }
    for bad in [["--from", "yesterday"], ["--to", "2026-11-25T03:40:35"]] {
        let run = flowcheck(&[s3, bad[0], bad[1]]);
        assert_eq!(run.code, 2, "{bad:?}");
        assert!(
            run.stderr.starts_with(&format!("flowcheck: {}: '", bad[0])),
            "{}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
    let run = flowcheck(&[s3, "--from", "1795578036", "--to", "1795578035"]);
    assert_eq!(run.code, 2);
}

#[test]
fn one_way_traffic_is_one_line_per_kind_unless_everything_is_asked_for() {
    let s0 = stage(0);
    let run = flowcheck(&[s0.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    let out = &run.stdout;
    assert!(out.contains("\nONE-WAY BY NATURE ("), "{out}");
    let nd = out
        .lines()
        .find(|l| l.starts_with("  IPv6 neighbour discovery: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(nd.ends_with(" conversations, one-way by nature"), "{nd}");
    assert!(
        out.contains("  MLD (IPv6 multicast listener reports): "),
        "{out}"
    );
    // none of them is listed one by one
    assert!(!out.contains("icmpv6 "), "{out}");
    // what needs a look comes before the folded noise
    let noise_at = out.find("ONE-WAY BY NATURE").unwrap();
    for v in ["ASYMMETRIC", "UNANSWERED", "SYMMETRIC ("] {
        if let Some(at) = out.find(v) {
            assert!(at < noise_at, "{v} after the noise: {out}");
        }
    }
    // --limit 0 lists every one, and the JSON has them all
    let run = flowcheck(&[s0.to_str().unwrap(), "--limit", "0"]);
    assert!(!run.stdout.contains("ONE-WAY BY NATURE"), "{}", run.stdout);
    let listed = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  icmpv6 "))
        .count();
    let (_, doc) = json_with(&[s0.to_str().unwrap()]);
    let icmp6 = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["proto"] == "icmpv6")
        .count();
    assert!(icmp6 > 0 && listed == icmp6, "{listed} of {icmp6}");
}

#[test]
fn the_html_report_summarises_one_way_traffic_per_kind() {
    let dir = TempDir::new("noise-html");
    let report = dir.path().join("r");
    let run = flowcheck(&[
        stage(0).as_os_str(),
        "--report".as_ref(),
        report.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&page, opts).expect("well-formed");
    let items: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("ul") && n.attribute("class") == Some("noise"))
        .flat_map(|ul| ul.children().filter(|n| n.has_tag_name("li")))
        .map(|li| li.text().unwrap_or("").to_string())
        .collect();
    assert!(
        items
            .iter()
            .any(|i| i.starts_with("IPv6 neighbour discovery: ")
                && i.ends_with("conversations, one-way by nature")),
        "{items:?}"
    );
}

#[test]
fn fail_on_says_why_on_the_last_line_even_when_quiet() {
    let run = flowcheck(&[
        "-q".as_ref(),
        "--no-report".as_ref(),
        "--fail-on".as_ref(),
        "asymmetric".as_ref(),
        stage(3).as_os_str(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(
        run.stderr.lines().last(),
        Some("flowcheck: failing on asymmetric: 4 conversations, first icmp 10.100.204.2 -> 10.100.201.4 id 13"),
        "{}",
        run.stderr
    );
    // several verdicts: each one found, in one line; a single one is singular
    let run = flowcheck(&[
        stage(3).as_os_str(),
        "--fail-on".as_ref(),
        "symmetric,asymmetric".as_ref(),
        "-f".as_ref(),
        "tcp".as_ref(),
    ]);
    assert_eq!(run.code, 1);
    let last = run.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with(
            "flowcheck: failing on asymmetric: 1 conversation, first tcp 10.100.204.2:"
        ) && last.contains("; symmetric: 1 conversation, first tcp 10.100.201.4:35100"),
        "{last}"
    );
    // nothing found: nothing said
    let run = flowcheck(&[
        stage(3).as_os_str(),
        "-q".as_ref(),
        "--fail-on".as_ref(),
        "unanswered".as_ref(),
    ]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

/// Makes a folder unwritable even for root while alive: `chattr +i` (root ignores permission
/// bits, not the immutable attribute). None when the file system or the user cannot.
struct Immutable(PathBuf);

impl Immutable {
    fn new(dir: &Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Runs stage 3 by its absolute path from `cwd`, where `reports/` cannot be made, and checks
/// the run goes on: the summary, a warning, exit 0.
fn report_by_product_in(cwd: &Path) {
    let run = flowcheck_in(cwd, &[stage(3)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("flowcheck: 4 capture points"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("report: "), "{}", run.stdout);
    assert!(
        run.stderr
            .starts_with("flowcheck: warning: no report written: reports")
            && run.stderr.contains("--report DIR writes it elsewhere"),
        "{}",
        run.stderr
    );
    // the warning does not hide --fail-on's reason, which stays last
    let run = flowcheck_in(
        cwd,
        &[
            stage(3).as_os_str(),
            "--fail-on".as_ref(),
            "asymmetric".as_ref(),
        ],
    );
    assert_eq!(run.code, 1);
    assert!(run
        .stderr
        .lines()
        .last()
        .unwrap_or("")
        .starts_with("flowcheck: failing on"));
}

#[test]
fn the_default_report_is_a_by_product_an_explicit_one_is_not() {
    // `reports` is a regular file: no user, root included, can make the folder
    let dir = TempDir::new("report-blocked");
    dir.file("reports", b"not a folder");
    report_by_product_in(dir.path());
    let explicit = dir.path().join("reports/stage3");
    let run = flowcheck(&[
        stage(3).as_os_str(),
        "--report".as_ref(),
        explicit.as_os_str(),
    ]);
    assert_eq!(run.code, 2);
    // refused before anything is read (`--report: `), or when writing (`report: `)
    assert!(
        run.stderr.starts_with("flowcheck: --report: ")
            || run.stderr.starts_with("flowcheck: report: "),
        "{}",
        run.stderr
    );

    // a read-only working directory: permission bits for other users, the immutable
    // attribute for root (skipped where chattr is not allowed)
    let ro = TempDir::new("report-readonly");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(ro.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let writable = std::fs::create_dir(ro.path().join("probe")).is_ok();
    let _ = std::fs::remove_dir(ro.path().join("probe"));
    let guard = if writable {
        Immutable::new(ro.path())
    } else {
        None
    };
    if !writable || guard.is_some() {
        report_by_product_in(ro.path());
    } else {
        eprintln!("read-only case skipped: root here cannot make a folder immutable");
    }
    drop(guard);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(ro.path(), std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn standard_input_gives_the_verdicts_of_the_file() {
    let nva = captures().join("hub-nva.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_flowcheck"))
        .args(["-", "--json", "-", "-q", "--no-report"])
        .stdin(std::fs::File::open(&nva).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let from_file_redirect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // through a pipe, as `cat captures/hub-nva.pcap | flowcheck -`
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowcheck"))
        .args(["-", "--json", "-", "-q", "--no-report"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(&nva).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&bytes).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let piped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, file) = common::analyse(&[&nva]);
    let verdicts = |d: &serde_json::Value| -> Vec<(String, String)> {
        d["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["client"].to_string() + &c["server"].to_string(),
                    c["verdict"].to_string(),
                )
            })
            .collect()
    };
    assert!(!verdicts(&file).is_empty());
    assert_eq!(verdicts(&piped), verdicts(&file));
    assert_eq!(verdicts(&from_file_redirect), verdicts(&file));
    assert_eq!(piped["points"][0]["name"], "stdin");
    assert_eq!(endpoints(&piped), endpoints(&file));
}

#[test]
fn a_missing_file_is_one_line_and_no_table() {
    let dir = TempDir::new("missing");
    let run = flowcheck_in(dir.path(), &["nope.pcap", "--no-report"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(run.stderr, "flowcheck: nope.pcap: no such file\n");
    // among other captures too, and under NAME=PATH
    let run = flowcheck(&[
        stage(3).join("hub-nva.pcap").as_os_str(),
        "x=nope.pcap".as_ref(),
    ]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert_eq!(run.stderr, "flowcheck: nope.pcap: no such file\n");
}

#[test]
fn folders_of_capture_folders_need_recursive() {
    let shifted = captures().join("shifted");
    let run = flowcheck(&[&shifted]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("the folder holds no capture file, but its subfolders do (stage0,")
            && run.stderr.trim_end().ends_with("-r reads them"),
        "{}",
        run.stderr
    );
    let (run, doc) = common::analyse(&[shifted.as_os_str(), "-r".as_ref()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = point_names(&doc);
    assert_eq!(names.len(), 20, "{names:?}");
    assert_eq!(names[0], "stage0/hub-nva");
    assert!(names.iter().any(|n| n == "stage4/vpn-client"), "{names:?}");
}

#[test]
fn the_summary_wraps_at_columns_and_at_100_off_a_terminal() {
    let run_with = |columns: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowcheck"));
        cmd.args([
            stage(3).as_os_str(),
            "--no-report".as_ref(),
            "--limit".as_ref(),
            "0".as_ref(),
        ])
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS");
        if let Some(c) = columns {
            cmd.env("COLUMNS", c);
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let widest = |out: &str| {
        // the points table is a table: only the verdict sections wrap
        let from = out.find("\nASYMMETRIC").unwrap();
        out[from..]
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    };
    let default = run_with(None);
    assert!(
        widest(&default) <= 100 && widest(&default) > 90,
        "{default}"
    );
    let narrow = run_with(Some("60"));
    assert!(widest(&narrow) <= 60, "{narrow}");
    assert!(narrow.lines().count() > default.lines().count());
}

#[test]
fn singular_and_plural_are_right() {
    let one = common::shared().join("corpus/files/4in4.pcap");
    let run = flowcheck(&[&one]);
    assert!(
        run.stdout
            .starts_with("flowcheck: 1 capture point, 1 packet, 1 conversation\n"),
        "{}",
        run.stdout
    );
    has(&run.stdout, "1 request, no reply seen");
    let ntp = common::shared().join("corpus/files/gre-sample.pcap");
    let run = flowcheck(&[&ntp]);
    has(&run.stdout, "1 request and 1 reply both seen here");
    for wrong in [
        "1 packets",
        "1 conversations",
        "1 requests",
        "1 replies",
        "1 times",
    ] {
        assert!(!run.stdout.contains(wrong), "{wrong}: {}", run.stdout);
    }
}

#[test]
fn every_error_has_the_one_prefix() {
    for args in [
        vec!["--bogus"],
        vec!["--limit", "many", "x.pcap"],
        vec![],
        vec!["--fail-on", "sideways", "x.pcap"],
    ] {
        let run = flowcheck(&args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.starts_with("flowcheck: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("error: "), "{args:?}: {}", run.stderr);
    }
}

#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_stay_apart_and_can_be_named() {
    use std::os::unix::ffi::OsStringExt;
    let dir = TempDir::new("non-utf8");
    let nva = std::fs::read(captures().join("hub-nva.pcap")).unwrap();
    let mut paths = Vec::new();
    for b in [0xe9u8, 0xff] {
        let p = dir.path().join(OsString::from_vec(
            [b"nva-".as_slice(), &[b], b".pcap"].concat(),
        ));
        std::fs::write(&p, &nva).unwrap();
        paths.push(p);
    }
    // both are read, under names that keep the bytes apart
    let (run, doc) = common::analyse(&[dir.path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = point_names(&doc);
    assert_eq!(names, ["nva-\\xe9", "nva-\\xff"]);
    // NAME=PATH with such a PATH
    let mut named = OsString::from("hub=");
    named.push(&paths[1]);
    let (run, doc) = common::analyse(&[named.as_os_str(), paths[0].as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(doc["points"][0]["name"], "hub");
    assert_eq!(doc["points"][1]["name"], "nva-\\xe9");
}

#[test]
fn a_narrowed_report_keeps_the_ids_of_the_whole_analysis() {
    let dir = TempDir::new("narrowed-report");
    let report = dir.path().join("r");
    let run = flowcheck(&[
        stage(3).as_os_str(),
        "-f".as_ref(),
        "verdict asymmetric and tcp".as_ref(),
        "--report".as_ref(),
        report.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_, doc) = json_with(&[
        stage(3).to_str().unwrap(),
        "-f",
        "verdict asymmetric and tcp",
    ]);
    let id = doc["conversations"][0]["id"].as_u64().unwrap();
    assert!(id > 1, "{id}");
    let ladders: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ladder-"))
        .collect();
    assert_eq!(ladders, [format!("ladder-{id}.svg")]);
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    has(&page, &format!("id=\"v{id}\""));
    has(
        &page,
        "Narrowed to --filter &#39;verdict asymmetric and tcp&#39;: 30 conversations left out",
    );
}
