//! Hostile inputs, second round (issue 20): memory across points, and the smaller cases of
//! item 6. Each runs the real binary on captures it writes.

mod common;
#[path = "common/manyflows.rs"]
mod manyflows;

use common::TempDir;
use manyflows::pcap_writer::PcapOut;

/// One ping (request and reply) as every one of `points` capture points saw it, one file each.
fn one_ping_at_many_points(dir: &std::path::Path, points: usize) {
    use etherparse::PacketBuilder;
    let frame = |src: [u8; 4], dst: [u8; 4], request: bool| {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64);
        let b = if request {
            b.icmpv4_echo_request(7, 1)
        } else {
            b.icmpv4_echo_reply(7, 1)
        };
        let mut out = Vec::new();
        b.write(&mut out, b"the same ping everywhere")
            .expect("a frame");
        out
    };
    let request = frame([10, 0, 0, 1], [10, 0, 0, 2], true);
    let reply = frame([10, 0, 0, 2], [10, 0, 0, 1], false);
    for i in 0..points {
        let mut out = PcapOut::create(&dir.join(format!("p{i:04}.pcap"))).expect("a capture");
        let us = i as u32 * 10;
        out.record(1_796_256_000, us, &request).expect("a record");
        out.record(1_796_256_000, 500_000 + us, &reply)
            .expect("a record");
        out.finish().expect("a capture");
    }
}

/// Hundreds of points in one conversation: the pictures draw at most 24 of them, say how
/// many they left out, and stay small (they grew with points x conversations x lanes).
#[test]
fn pictures_of_many_points_draw_a_bounded_number_and_say_so() {
    let dir = TempDir::new("many-points");
    let caps = dir.path().join("caps");
    std::fs::create_dir_all(&caps).expect("a folder");
    one_ping_at_many_points(&caps, 300);
    let rep = dir.path().join("rep");
    let start = std::time::Instant::now();
    let run = common::flowcheck(&[
        caps.as_os_str(),
        "--report".as_ref(),
        rep.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
    for (file, lanes) in [
        ("ladder-1.svg", true),
        ("matrix.svg", false),
        ("timeline.svg", false),
    ] {
        let svg = std::fs::read_to_string(rep.join(file)).expect("the picture");
        assert!(
            svg.contains("276 more capture points not drawn"),
            "{file} says what it left out"
        );
        assert!(svg.len() < 1_000_000, "{file}: {} bytes", svg.len());
        if lanes {
            assert_eq!(svg.matches("class=\"lane\"").count(), 24, "{file}");
        }
    }
}

/// `--max-flows` bounds the whole run: three points of one-packet flows, each alone over the
/// cap, share it; what was left out is in the JSON (per point and in all) and on the terminal.
#[test]
fn max_flows_is_the_runs_total_and_what_was_left_out_is_reported() {
    let dir = TempDir::new("budget");
    manyflows::write_all(dir.path(), 20_000, 3).expect("captures");
    let (run, doc) = common::analyse(&[
        dir.path().as_os_str(),
        "--max-flows".as_ref(),
        "25000".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let points = doc["points"].as_array().expect("points");
    let flows: u64 = points
        .iter()
        .map(|p| p["flows"].as_u64().unwrap_or(0))
        .sum();
    let left_out: u64 = points
        .iter()
        .map(|p| p["packets_over_flow_cap"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(flows, 25_000, "the run's total, shared by the points");
    assert_eq!(
        left_out,
        60_000 - 25_000,
        "every packet is tracked or counted"
    );
    assert_eq!(doc["summary"]["packets_over_flow_cap"], left_out);
    assert!(points
        .iter()
        .all(|p| p["flow_table_out_of_memory"] == false));
    let text = common::flowcheck(&[
        dir.path().as_os_str(),
        "--max-flows".as_ref(),
        "25000".as_ref(),
    ]);
    assert!(
        text.stdout.contains("flow cap reached") && text.stdout.contains("whole run"),
        "{}",
        text.stdout
    );
}

/// Under an address-space limit too small for what `--max-flows` allows, the run ends with
/// status 2 and a message, never a signal (SIGABRT, as Rust aborts by default).
#[cfg(target_os = "linux")]
#[test]
fn running_out_of_memory_is_exit_status_2_with_a_message() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("oom");
    manyflows::write_all(dir.path(), 300_000, 2).expect("captures");
    let Ok(prlimit) = which("prlimit") else {
        eprintln!("prlimit not found: skipped");
        return;
    };
    let out = std::process::Command::new(prlimit)
        .arg("--as=300000000")
        .arg(env!("CARGO_BIN_EXE_flowcheck"))
        .arg(dir.path())
        .args(["--no-report", "--quiet", "--max-flows", "10000000"])
        .output()
        .expect("prlimit runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "ended by a signal: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("out of memory"), "{stderr}");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A point name of 10,000 characters: the default report folder gets a short name (its start
/// and a hash), and an error that quotes the name stays one short line.
#[test]
fn a_very_long_point_name_gives_a_short_folder_name_and_short_errors() {
    let dir = TempDir::new("long-name");
    let nva = common::captures().join("hub-nva.pcap");
    let arg = format!("{}={}", "n".repeat(10_000), nva.display());
    let run = common::flowcheck_in(dir.path(), &[arg.as_str(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let made: Vec<String> = std::fs::read_dir(dir.path().join("reports"))
        .expect("the reports folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        made[0].len() <= 64 && made[0].starts_with("nnnn"),
        "{made:?}"
    );
    let run = common::flowcheck_in(
        dir.path(),
        &[arg.as_str(), "--expect-via", "elsewhere", "--no-report"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.len() < 600 && run.stderr.contains("characters left out"),
        "{} bytes: {}",
        run.stderr.len(),
        &run.stderr[..run.stderr.len().min(300)]
    );
}

/// Bidirectional overrides and zero-width characters in a point name reach neither the
/// terminal nor the report raw: they are written as `\u{NNNN}`, like control characters.
#[test]
fn bidi_overrides_and_zero_width_characters_are_escaped_on_the_terminal_and_in_html() {
    let dir = TempDir::new("bidi");
    let nva = common::captures().join("hub-nva.pcap");
    let name = "nva\u{202e}gpj.exe\u{200b}\u{2066}x";
    let arg = format!("{name}={}", nva.display());
    let rep = dir.path().join("rep");
    let run = common::flowcheck(&[arg.as_str().as_ref(), "--report".as_ref(), rep.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (what, text) in [
        ("terminal", run.stdout.clone()),
        (
            "index.html",
            std::fs::read_to_string(rep.join("index.html")).expect("the page"),
        ),
        (
            "timeline.svg",
            std::fs::read_to_string(rep.join("timeline.svg")).expect("a picture"),
        ),
    ] {
        for c in ['\u{202e}', '\u{200b}', '\u{2066}'] {
            assert!(!text.contains(c), "{what} holds U+{:04X} raw", u32::from(c));
        }
        assert!(
            text.contains("nva\\u{202e}gpj.exe"),
            "{what} shows it escaped"
        );
    }
}

/// A gzip capture followed by zero padding (a tape block, `dd`) is read whole and not called
/// damaged: gzip itself only warns ("decompression OK, trailing zero bytes ignored").
#[test]
fn gzip_followed_by_zero_padding_is_read_with_a_warning_not_damage() {
    use std::io::Write;
    let dir = TempDir::new("gzip-padding");
    let nva = common::captures().join("hub-nva.pcap");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&std::fs::read(&nva).expect("the capture"))
        .expect("compressed");
    let mut packed = enc.finish().expect("compressed");
    packed.resize(packed.len() + 10_240, 0);
    let gz = dir.file("nva.pcap.gz", &packed);
    let (run, doc) = common::analyse(&[gz.as_os_str()]);
    let (_, plain) = common::analyse(&[nva.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("decompression OK, 10240 trailing zero bytes ignored"),
        "{}",
        run.stderr
    );
    assert_eq!(doc["points"][0]["damage"], serde_json::Value::Null);
    assert_eq!(doc["points"][0]["gzip_trailing_zeros"], 10_240);
    assert_eq!(doc["summary"]["packets"], plain["summary"]["packets"]);
}
