//! The report read as a new user reads it: ladders never contradict the flow tables (no
//! packet drawn as missed at a point whose flow counted its direction, and every packet left
//! out named), and the page reads on a wide screen and on Chromium's narrowest window (no
//! sideways page overflow, no picture text under 8 CSS pixels).

mod common;

use common::browser::{chromium, Browser};
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

/// Measures the page in the browser: a copy of `page` without its Content-Security-Policy
/// (which forbids every script, rightly) and with a script that writes what it measured into
/// the DOM: the page's scroll width, the window's width, and the smallest size any visible
/// SVG text is drawn at, in CSS pixels (its font size times the picture's scale).
fn measure(browser: &Browser, page: &Path, width: u32, scratch: &Path) -> (f64, f64, f64, String) {
    let html = read(page);
    let start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .expect("the page has a policy");
    let end = start + html[start..].find("/>").expect("the meta tag ends") + 2;
    let script = r#"<script>
addEventListener('load', () => {
  let least = Infinity, what = '';
  for (const t of document.querySelectorAll('svg text')) {
    const m = t.getScreenCTM();
    const r = t.getBoundingClientRect();
    if (!m || r.width === 0 || !t.textContent.trim()) continue;
    const px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    if (px < least) { least = px; what = t.textContent.slice(0, 60); }
  }
  const out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = [document.documentElement.scrollWidth, innerWidth, least, what].join('|');
  document.body.appendChild(out);
});
</script>"#;
    let probe =
        html[..start].to_string() + &html[end..].replace("</body>", &format!("{script}</body>"));
    let copy = scratch.join(format!("measure-{width}.html"));
    std::fs::write(&copy, probe).expect("the probe page is written");
    let (dom, console) = browser.run(
        &copy,
        &["--dump-dom".into(), format!("--window-size={width},1200")],
        scratch,
    );
    assert!(console.is_empty(), "console messages: {console:#?}");
    let at = dom.find("<pre id=\"measured\">").expect("the probe ran") + 19;
    let line = &dom[at..at + dom[at..].find("</pre>").expect("the probe's output ends")];
    let f: Vec<&str> = line.splitn(4, '|').collect();
    let num = |s: &str| {
        s.parse::<f64>()
            .unwrap_or_else(|_| panic!("a number: {line}"))
    };
    (num(f[0]), num(f[1]), num(f[2]), f[3].to_string())
}

#[test]
fn the_page_reads_on_a_wide_screen_and_on_the_narrowest_window() {
    let Some(bin) = chromium() else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(!ci, "CI must install a browser for this test (see .ci/run)");
        eprintln!("SKIPPED the_page_reads_on...: no Chromium found (set FLOWCHECK_CHROMIUM)");
        return;
    };
    let browser = Browser { bin };
    let scratch = TempDir::new("screens");
    let stage3 = common::captures().join("stage3");
    let busy = common::shared().join("corpus/files/wireshark_samples-test.pcapng");
    for (captures, tag) in [(stage3, "stage3"), (busy, "busy")] {
        let (dir, _) = report_and_json(&captures, tag);
        let page = dir.path().join("out").join("index.html");
        assert!(
            !read(&page).contains("-&gt;"),
            "{tag}: an arrow written as two characters that can break apart"
        );
        for width in [1400, 500] {
            let (scroll, inner, least, what) = measure(&browser, &page, width, scratch.path());
            assert!(
                inner > 0.0 && inner <= width as f64,
                "{tag} at {width}: window {inner}"
            );
            assert!(
                scroll <= inner,
                "{tag} at {width} px: the page is {scroll} px wide in a {inner} px window"
            );
            assert!(
                least >= 8.0 - 0.01,
                "{tag} at {width} px: picture text drawn at {least:.2} px: {what:?}"
            );
        }
    }
}

#[test]
fn charts_name_their_dots_and_keep_small_bars_visible() {
    // stage 3: every latency dot names its conversation and packet on hover
    let (dir, doc) = report_and_json(&common::captures().join("stage3"), "charts3");
    let text = read(&dir.path().join("out").join("latency.svg"));
    let svg = parse(&text);
    let dots: Vec<_> = svg
        .descendants()
        .filter(|n| n.attribute("class") == Some("dot"))
        .collect();
    assert!(!dots.is_empty(), "no latency dot has a hover target");
    for dot in &dots {
        let title = dot
            .children()
            .find(|n| n.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap_or_default();
        let id: usize = title
            .strip_prefix("conversation ")
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a dot's title names no conversation: {title:?}"));
        assert!(id >= 1 && id <= doc["conversations"].as_array().unwrap().len());
        assert!(
            title.contains("seq ") || title.contains("median"),
            "{title}"
        );
    }
    // every axis says its unit
    for chart in ["latency.svg", "timeline.svg", "summary.svg"] {
        let words = read(&dir.path().join("out").join(chart));
        assert!(
            ["(µs)", "(ms)", "packets", "conversations"]
                .iter()
                .any(|u| words.contains(u)),
            "{chart} has no unit on its axis"
        );
    }
    // a busy capture: the 16 symmetric conversations beside 1,137 others are a visible,
    // labelled bar
    let busy = common::shared().join("corpus/files/wireshark_samples-test.pcapng");
    let (dir, _) = report_and_json(&busy, "charts-busy");
    let text = read(&dir.path().join("out").join("summary.svg"));
    let svg = parse(&text);
    let green: Vec<f64> = svg
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#2E7D32"))
        .filter(|n| n.attribute("height") != Some("14"))
        .filter_map(|n| n.attribute("width")?.parse().ok())
        .collect();
    assert!(!green.is_empty(), "no symmetric bar");
    assert!(
        green.iter().all(|&w| w >= 3.0),
        "a bar too thin to see: {green:?}"
    );
    let labels: Vec<&str> = svg
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(
        labels.contains(&"16"),
        "the small bar is labelled: {labels:?}"
    );
}

#[test]
fn a_busy_capture_shows_alike_conversations_as_one_row() {
    let busy = common::shared().join("corpus/files/wireshark_samples-test.pcapng");
    let (dir, doc) = report_and_json(&busy, "busy-rows");
    let html = read(&dir.path().join("out").join("index.html"));
    let page = parse(&html);
    let rows: Vec<_> = page
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.attribute("data-verdict").is_some())
        .collect();
    let covered: usize = rows
        .iter()
        .map(|r| {
            r.attribute("data-count")
                .map_or(1, |n| n.parse().expect("a count"))
        })
        .sum();
    let total = doc["conversations"].as_array().unwrap().len();
    assert_eq!(covered, total, "every conversation is in one row");
    assert!(
        rows.len() < 100,
        "{} rows for {total} conversations",
        rows.len()
    );
    // the 500-odd directed broadcasts (Ethernet ff:ff:ff:ff:ff:ff) are one-way by nature,
    // never a big unanswered or asymmetric group, and the symmetric ones stay visible
    let biggest_blamed = rows
        .iter()
        .filter(|r| {
            matches!(
                r.attribute("data-verdict"),
                Some("unanswered" | "asymmetric")
            )
        })
        .filter_map(|r| r.attribute("data-count")?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    assert!(
        biggest_blamed < 500,
        "largest blamed group {biggest_blamed}"
    );
    let first_symmetric = rows
        .iter()
        .position(|r| r.attribute("data-verdict") == Some("symmetric"))
        .expect("a symmetric row");
    assert!(
        first_symmetric < 20,
        "the symmetric conversations come after {first_symmetric} rows"
    );
    let matrix = read(&dir.path().join("out").join("matrix.svg"));
    // the matrix shows the real conversations, not the folded directed broadcasts
    assert!(
        matrix.contains("192.168.152.1") && !matrix.contains("192.168.152.255"),
        "the matrix shows the real conversations"
    );
}
