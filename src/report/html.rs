//! html: the report folder, a self-contained `index.html` and the SVG pictures beside it.
//!
//! `index.html` works offline and alone: every picture is inlined (the `.svg` files beside it
//! are the same pictures, to paste elsewhere), the style is inline, there is no script, and a
//! Content-Security-Policy forbids every fetch and every script, so that even a string that
//! escaped escaping could not run or load anything. Every string that comes from a capture
//! or a file name goes through [`escape`]. The page is well-formed XML as well as HTML, so
//! tests can parse it with an XML parser.
//!
//! Sections: summary (points, verdict counts), the asymmetry matrix, the verdict table with
//! the evidence sentences, the timeline and latency charts, then one detail block per
//! conversation that has a ladder. Output is deterministic: the same captures give the same
//! bytes (no generation time, no absolute paths), which keeps the committed example report
//! checkable.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::folder::{FolderError, ReportFolder};

use super::svg::{self, escape, verdict_colour, Limits, Picture};
use super::text::{clock_text, conversation_title};
use super::{link_type_name, Analysis};
use crate::correlate::Conversation;
use crate::verdict::Verdict;

/// How the report is made.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Shown in the page title: the capture folder's or file's name.
    pub title: String,
    pub limits: Limits,
    /// Most rows of the verdict table.
    pub table_rows: usize,
}

impl ReportOptions {
    pub fn new(title: &str) -> Self {
        ReportOptions {
            title: title.to_string(),
            limits: Limits::default(),
            table_rows: 500,
        }
    }
}

/// Longest name [`safe_name`] returns: a file name may have 255 bytes, and a folder name
/// of thousands of characters is of no use to anyone.
pub const MAX_NAME: usize = 64;

/// A name that is safe as one path component: letters, digits, `.`, `_`, `-`; anything else
/// becomes `_`; never empty, never `.` or `..`; at most [`MAX_NAME`] characters (a longer one
/// keeps its start and a hash of the whole, so that two long names stay apart).
pub fn safe_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    if out.is_empty() {
        out = "report".into();
    }
    if out.len() > MAX_NAME {
        // FNV-1a of the whole name: stable across runs and builds
        let hash = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        out.truncate(MAX_NAME - 17);
        out = format!("{out}-{hash:016x}");
    }
    out
}

/// The default report name for the command-line captures: the folder's name, the single
/// capture's point name (or the NAME of NAME=PATH), or `combined` for several.
pub fn default_name<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let [arg] = args else {
        return "combined".into();
    };
    let arg = arg.as_ref();
    if arg == "-" || arg == "/dev/stdin" {
        return "stdin".into();
    }
    let os = crate::point::os_text;
    if let Some((name, _)) = os(arg).split_once('=') {
        if !Path::new(arg).exists() && !name.is_empty() {
            return safe_name(name);
        }
    }
    let path = Path::new(arg);
    let name = if path.is_dir() {
        path.file_name()
            .map(os)
            .or_else(|| {
                std::fs::canonicalize(path)
                    .ok()
                    .and_then(|p| p.file_name().map(os))
            })
            .unwrap_or_default()
    } else {
        crate::point::point_name(path)
    };
    safe_name(&name)
}

/// Writes the report into its folder (see [`ReportFolder`]): `index.html` and the pictures;
/// files of an earlier run that this run did not write are removed. Returns the page's path.
pub fn write_report(
    a: &Analysis,
    folder: &ReportFolder,
    opts: &ReportOptions,
) -> Result<PathBuf, FolderError> {
    let pictures = svg::pictures(a, &opts.limits);
    let index = page(a, &pictures, opts);
    let mut files: Vec<(&str, &[u8])> = Vec::with_capacity(pictures.len() + 1);
    files.extend(pictures.iter().map(|p| (p.file.as_str(), p.svg.as_bytes())));
    files.push(("index.html", index.as_bytes()));
    folder.write(&files)?;
    Ok(folder.path().join("index.html"))
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: Helvetica, Arial, sans-serif; color: #222; background: #fafafa; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e3e3e3; }
h3 { font-size: 16px; margin: 28px 0 6px; }
p.lead { color: #555; margin: 0 0 14px; }
.badge { display: inline-block; padding: 2px 9px; border-radius: 10px; color: #fff; font-weight: bold; font-size: 12px; white-space: nowrap; }
.counts .badge { font-size: 13px; margin-right: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid #eee; }
th { background: #f3f5f8; font-weight: bold; }
tr:nth-child(even) td { background: #fbfbfb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name { white-space: nowrap; font-weight: bold; }
td.mono { font-family: Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
figure { margin: 14px 0 22px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; display: block; }
div.wide { overflow-x: auto; max-width: 100%; }
h1, h2, h3, p, li, summary, footer { overflow-wrap: anywhere; }
@media (max-width: 760px) {
  main { padding: 14px 10px 32px; }
  h1 { font-size: 21px; }
  div.wide table { min-width: 980px; }
  div.wide td:last-child, table.verdicts td:nth-child(4) { min-width: 16em; }
  figcaption::before { content: "Pictures keep their size: scroll sideways for the rest. "; }
  div.wide table.verdicts { min-width: 0; }
  table.verdicts tr:first-child { display: none; }
  table.verdicts tr { display: block; padding: 6px 0; border-bottom: 1px solid #ddd; }
  div.wide table.verdicts td { display: block; min-width: 0; border: 0; padding: 2px 4px; }
  div.wide table.verdicts td:nth-child(-n+2) { display: inline-block; }
  table.verdicts td.mono { white-space: normal; overflow-wrap: anywhere; }
  table.verdicts td:nth-child(5)::before { content: "requests crossed: "; color: #666; }
  table.verdicts td:nth-child(6)::before { content: "replies crossed: "; color: #666; }
}
figcaption { font-size: 12px; color: #666; margin-top: 4px; }
.note { color: #666; font-size: 13px; }
ul.noise { color: #555; font-size: 13px; margin: 6px 0; }
.damage { color: #c62828; font-weight: bold; }
a { color: #1f5fa0; }
footer { margin-top: 40px; color: #777; font-size: 12px; }
tr.decided td { background: #fff4d6; font-weight: bold; }
p.routing { font-size: 13px; }
"#;

/// A coloured verdict label; `text` defaults to the verdict's name.
fn badge(v: &str, text: Option<&str>) -> String {
    format!(
        "<span class=\"badge\" style=\"background:{}\">{}</span>",
        verdict_colour(v),
        escape(text.unwrap_or(v))
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    super::text::plural(n as u64, one, many)
}

fn figure(out: &mut String, p: &Picture) {
    let svg = strip_prolog(&p.svg);
    let svg_html = match svg_min_width(svg) {
        Some(w) => format!("<svg style=\"min-width:{:.0}px\"{}", w.ceil(), &svg[4..]),
        None => svg.to_string(),
    };
    let _ = writeln!(
        out,
        "<figure id=\"fig-{}\">\n{}<figcaption>{} · <a href=\"{}\">{}</a></figcaption>\n</figure>",
        escape(p.file.trim_end_matches(".svg")),
        svg_html,
        escape(&p.title),
        escape(&p.file),
        escape(&p.file)
    );
}

/// Smallest text a page may draw a picture's text at, in CSS pixels.
const MIN_TEXT_PX: f64 = 8.0;

/// The narrowest a picture may be shown so that its smallest text stays at least
/// [`MIN_TEXT_PX`] (its figure scrolls sideways below that): its width times the smallest
/// scale, from the `width` of the `<svg>` element and the smallest `font-size` it uses. None
/// when its smallest text is that large already at any width it is shrunk to, or it has no
/// width.
fn svg_min_width(svg: &str) -> Option<f64> {
    let attr = |s: &str, name: &str| -> Option<f64> {
        let at = s.find(name)? + name.len();
        let rest = &s[at..];
        rest[..rest.find('"')?].parse().ok()
    };
    let head = &svg[..svg.find('>')?];
    let width = attr(head, " width=\"")?;
    let smallest = svg
        .match_indices("font-size=\"")
        .filter_map(|(i, _)| attr(&svg[i..], "font-size=\""))
        .fold(f64::INFINITY, f64::min);
    (smallest.is_finite() && smallest > 0.0 && svg.starts_with("<svg "))
        .then(|| width * MIN_TEXT_PX / smallest)
}

/// The HTML of a finished page made to read on any width: every table in a box of its own
/// that scrolls sideways (the page never does), and each `->` one arrow glyph that cannot
/// break in two.
fn narrow_ready(page: String) -> String {
    page.replace("<table", "<div class=\"wide\"><table")
        .replace("</table>", "</table></div>")
        .replace(" -&gt; ", " → ")
        .replace("-&gt;", "→")
}

/// The SVG element alone (plotters writes no XML declaration; this keeps it so).
fn strip_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn paths(c: &Conversation, names: &[String], dir: usize) -> String {
    let v: Vec<String> = c
        .path(dir)
        .iter()
        .map(|p| names.get(p.point).cloned().unwrap_or_default())
        .collect();
    if v.is_empty() {
        "—".into()
    } else {
        v.join(" → ")
    }
}

/// The whole page.
pub fn page(a: &Analysis, pictures: &[Picture], opts: &ReportOptions) -> String {
    let names = a.point_names();
    let mut o = String::new();
    let title = format!("flowcheck report: {}", opts.title);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"/>\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
<link rel=\"icon\" href=\"data:,\"/>\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    lead(&mut o, a, &title);
    points_table(&mut o, a);
    let pic = |file: &str| pictures.iter().find(|p| p.file == file);
    pictured(
        &mut o,
        "<h2 id=\"summary\">Summary</h2>\n",
        pic("summary.svg"),
    );
    pictured(&mut o, "<h2 id=\"matrix\">Who saw what</h2>\n<p class=\"note\">One row per conversation, one column per capture point: which directions of the conversation the point saw. A point that saw only one direction is where the path was asymmetric.</p>\n", pic("matrix.svg"));
    let laddered: Vec<usize> = svg::ladder::chosen(a, opts.limits.ladders);
    let order = svg::by_severity(a);
    verdicts(&mut o, a, &names, &laddered, &order, opts.table_rows);
    pictured(
        &mut o,
        "<h2 id=\"timeline\">Timeline</h2>\n",
        pic("timeline.svg"),
    );
    pictured(
        &mut o,
        "<h2 id=\"latency\">Latency</h2>\n",
        pic("latency.svg"),
    );
    super::html_routes::section(&mut o, a);
    // details
    conversations(&mut o, a, &names, &laddered, &order, &pic);
    let _ = writeln!(
        o,
        "<footer>Made by flowcheck {} from the captures above. Every picture is also a file beside this page. For every conversation and flow, run flowcheck with <code>--json FILE</code>.</footer>",
        env!("CARGO_PKG_VERSION")
    );
    o.push_str("</main>\n</body>\n</html>\n");
    narrow_ready(o)
}

/// A section of the page: its heading (HTML) and its picture, when drawn.
fn pictured(o: &mut String, heading: &str, picture: Option<&Picture>) {
    o.push_str(heading);
    if let Some(p) = picture {
        figure(o, p);
    }
}

/// The page's heading: the title, what was read, the verdict counts, the asymmetric
/// sentence, the damage warning.
fn lead(o: &mut String, a: &Analysis, title: &str) {
    // header
    let packets: u64 = a.points.iter().map(|p| p.summary.packets).sum();
    let _ = writeln!(o, "<h1>{}</h1>", escape(title));
    let _ = writeln!(
        o,
        "<p class=\"lead\">{}, {}, {}.</p>",
        plural(a.points.len(), "capture point", "capture points"),
        super::text::plural(packets, "packet", "packets"),
        plural(a.conversations.len(), "conversation", "conversations")
    );
    if a.selection.is_set() {
        let _ = writeln!(
            o,
            "<p class=\"note\">Narrowed to {}: {} left out (everything was read and correlated).</p>",
            escape(&selection_text(a)),
            plural(a.selection.left_out, "conversation", "conversations")
        );
    }
    o.push_str("<p class=\"counts\">");
    for v in Verdict::ALL {
        let k = a.count(v);
        if k > 0 {
            let _ = write!(
                o,
                "{} ",
                badge(v.name(), Some(&format!("{k} {}", v.name())))
            );
        }
    }
    o.push_str("</p>\n");
    let asym = a.count(Verdict::Asymmetric);
    if asym > 0 {
        let _ = writeln!(
            o,
            "<p>{} took an asymmetric path: the requests and the replies crossed different \
capture points. The matrix shows which point saw which direction; each ladder below draws \
the route.</p>",
            plural(asym, "conversation", "conversations")
        );
    }
    if a.damaged() {
        o.push_str("<p class=\"damage\">Some captures are damaged: what could be read before the damage is reported.</p>\n");
    }
}

/// The capture points' table: file, format, link, counts, time span, clock, notes.
fn points_table(o: &mut String, a: &Analysis) {
    // points
    o.push_str("<h2 id=\"points\">Capture points</h2>\n<table>\n<tr><th>point</th><th>file</th><th>format</th><th>link</th><th class=\"num\">packets</th><th class=\"num\">decoded</th><th>time (UTC)</th><th>clock</th><th>notes</th></tr>\n");
    for (k, p) in a.points.iter().enumerate() {
        let s = &p.summary;
        let clock = clock_text_of(a, k);
        let file = s
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let links: Vec<String> = s.link_types.iter().map(|&l| link_type_name(l)).collect();
        let time = match (s.first_ts, s.last_ts) {
            (Some(f), Some(l)) => format!("{} – {}", clock_text(f, true), clock_text(l, false)),
            _ => "—".into(),
        };
        let mut notes: Vec<String> = s
            .not_decoded
            .iter()
            .map(|(k, v)| format!("{v} {}", k.replace('_', " ")))
            .collect();
        if s.forwarded_packets > 0 {
            notes.push(format!(
                "{} packets forwarded (seen arriving and leaving)",
                s.forwarded_packets
            ));
        }
        if s.packets_over_flow_cap > 0 {
            notes.push(format!(
                "{} packets over the flow cap",
                s.packets_over_flow_cap
            ));
        }
        let mut note_html = escape(&notes.join(", "));
        if let Some(d) = &s.damage {
            let _ = write!(
                note_html,
                " <span class=\"damage\">damaged at byte {}: {}</span>",
                d.offset,
                escape(&d.reason)
            );
        }
        let _ = writeln!(
            o,
            "<tr><td class=\"name\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            escape(&s.name),
            escape(&file),
            escape(if s.format.is_empty() { "—" } else { &s.format }),
            escape(&links.join(", ")),
            s.packets,
            s.decoded,
            escape(&time),
            escape(&clock),
            note_html
        );
    }
    o.push_str("</table>\n");
    let m = &a.matches;
    if a.points.len() > 1 {
        let _ = writeln!(
            o,
            "<p class=\"note\">{} sampled packets, {} of them followed across two capture points or more. \
Clock: each point's offset from the reference clock, estimated from those packets; every time in \
this report is on the reference's timeline.</p>",
            m.sampled_packets, m.matched_packets
        );
    }
}

/// The verdict table: the conversations with a request and a response first (alike ones
/// as one row), the one-way ones folded away, at most `table_rows` rows.
fn verdicts(
    o: &mut String,
    a: &Analysis,
    names: &[String],
    laddered: &[usize],
    order: &[usize],
    table_rows: usize,
) {
    // the conversations with a request and a response first; one-way ones folded away
    let (worth, one_way): (Vec<usize>, Vec<usize>) = order
        .iter()
        .copied()
        .partition(|&i| svg::worth_showing(&a.conversations[i].1));
    o.push_str("<h2 id=\"verdicts\">Verdicts</h2>\n");
    // many alike conversations (a busy LAN's announcements) as one row each
    let (worth, one_way) = (super::rows::rows(a, &worth), super::rows::rows(a, &one_way));
    let mut listed = 0usize;
    verdict_table(o, a, names, laddered, &worth, table_rows, &mut listed);
    noise_list(o, a);
    if !one_way.is_empty() && listed < table_rows {
        let _ = writeln!(
            o,
            "<details>\n<summary>{} (one-way or too little to judge: neighbour discovery, multicast, \
             ...)</summary>",
            escape(&plural(
                one_way.iter().map(Vec::len).sum(),
                "incomplete conversation",
                "incomplete conversations"
            ))
        );
        verdict_table(o, a, names, laddered, &one_way, table_rows, &mut listed);
        o.push_str("</details>\n");
    }
    if listed < worth.len() + one_way.len() {
        let rest: Vec<usize> = worth
            .iter()
            .chain(&one_way)
            .skip(listed)
            .flatten()
            .copied()
            .collect();
        let _ = writeln!(
            o,
            "<p class=\"note\">{} more not listed ({}): <code>flowcheck … --json FILE</code> has every one.</p>",
            rest.len(),
            escape(&svg::verdict_counts(a, &rest))
        );
    }
}

/// The details of each conversation with a ladder (`pic` finds a picture by file name).
fn conversations<'p>(
    o: &mut String,
    a: &Analysis,
    names: &[String],
    laddered: &[usize],
    order: &[usize],
    pic: &dyn Fn(&str) -> Option<&'p Picture>,
) {
    o.push_str("<h2 id=\"details\">Conversations</h2>\n");
    if laddered.is_empty() {
        o.push_str("<p class=\"note\">No conversation with a request and a response.</p>\n");
    }
    let worth = order
        .iter()
        .filter(|&&i| svg::worth_showing(&a.conversations[i].1))
        .count();
    if worth > laddered.len() {
        let _ = writeln!(
            o,
            "<p class=\"note\">The {} most suspicious of {} conversations with a request and a response are drawn.</p>",
            laddered.len(),
            worth
        );
    }
    for &i in laddered {
        let (c, j) = &a.conversations[i];
        let reason = a.reason(c, j, names);
        details(
            o,
            a,
            i,
            &reason,
            names,
            pic(&svg::ladder::file_name(a.id(i))),
        );
    }
}

/// ` data-uncovered="a b"`: the points that were not capturing while conversation `c` ran
/// (the JSON's `uncovered`); empty when every point was.
fn uncovered_attr(c: &Conversation, names: &[String]) -> String {
    if c.uncovered.is_empty() {
        return String::new();
    }
    let v: Vec<&str> = c
        .uncovered
        .iter()
        .map(|u| names.get(u.point).map(String::as_str).unwrap_or("?"))
        .collect();
    format!(" data-uncovered=\"{}\"", escape(&v.join(" ")))
}

/// The rows of a conversation's point table for the points that were not capturing while
/// it ran (the JSON's `uncovered`): when their capture began or ended, on their own clock.
fn uncovered_rows(o: &mut String, c: &Conversation, names: &[String]) {
    for u in c.uncovered.iter() {
        let name = names.get(u.point).map(String::as_str).unwrap_or("?");
        if u.missed {
            let _ = writeln!(
                o,
                "<tr class=\"uncovered\" data-point=\"{}\"><td class=\"name\">{}</td><td colspan=\"7\">capturing, yet its capture missed these packets (they crossed it: capture loss, not the network's)</td></tr>",
                escape(name),
                escape(name)
            );
            continue;
        }
        let when = match u.window {
            None => "it captured nothing".to_string(),
            Some((first, _)) if u.before => {
                format!("its capture began {}", clock_text(first, true))
            }
            Some((_, last)) => format!("its capture ended {}", clock_text(last, true)),
        };
        let _ = writeln!(
            o,
            "<tr class=\"uncovered\" data-point=\"{}\"><td class=\"name\">{}</td><td colspan=\"7\">not capturing then: {} (its own clock); the ladder draws its lane as not capturing, not as silent</td></tr>",
            escape(name),
            escape(name),
            escape(&when)
        );
    }
}

/// One line per kind of traffic that is one-way by nature ("IPv6 neighbour discovery: 7
/// conversations, one-way by nature"), above the folded table that lists them.
fn noise_list(o: &mut String, a: &Analysis) {
    let kinds = super::noise::counts(&a.conversations);
    if kinds.is_empty() {
        return;
    }
    o.push_str("<ul class=\"noise\">\n");
    for (k, n) in kinds {
        let _ = writeln!(o, "<li>{}</li>", escape(&k.line(n)));
    }
    o.push_str("</ul>\n");
}

/// `--filter 'host 10.0.0.1', from 2026-11-25 03:40:33.000` for the note on narrowing.
fn selection_text(a: &Analysis) -> String {
    let s = &a.selection;
    let mut parts = Vec::new();
    if let Some(e) = &s.expression {
        parts.push(format!("--filter '{e}'"));
    }
    if let Some(f) = s.window.from {
        parts.push(format!("from {} UTC", clock_text(f, true)));
    }
    if let Some(t) = s.window.to {
        parts.push(format!("to {} UTC", clock_text(t, true)));
    }
    parts.join(", ")
}

/// A point's clock against the reference: `reference`, `+1.234 ms ±9 µs`, `not estimated`.
fn clock_text_of(a: &Analysis, point: usize) -> String {
    let c = &a.clocks;
    if a.points.len() < 2 {
        return "—".into();
    }
    if c.assumed_synced {
        return "assumed right".into();
    }
    if c.reference == Some(point) {
        return "reference".into();
    }
    match c.points.get(point) {
        Some(e) if e.estimated => {
            let off = e.offset_ns as f64;
            let mut s = if off.abs() >= 1e9 {
                format!("{:+.6} s", off / 1e9)
            } else if off.abs() >= 1e6 {
                format!("{:+.3} ms", off / 1e6)
            } else {
                format!("{:+.0} µs", off / 1e3)
            };
            match e.uncertainty_ns {
                Some(u) => s.push_str(&format!(" ±{:.0} µs", u as f64 / 1e3)),
                None => s.push_str(" (one-way only)"),
            }
            s
        }
        _ => "not estimated".into(),
    }
}

/// Rows of `which` (each one conversation, or a group of alike ones: [`super::rows`]) while
/// fewer than `cap` rows are `listed`.
fn verdict_table(
    o: &mut String,
    a: &Analysis,
    names: &[String],
    laddered: &[usize],
    which: &[Vec<usize>],
    cap: usize,
    listed: &mut usize,
) {
    o.push_str("<table class=\"verdicts\">\n<tr><th class=\"num\">#</th><th>verdict</th><th>conversation</th><th>evidence</th><th>requests crossed</th><th>replies crossed</th></tr>\n");
    for row in which {
        if *listed >= cap {
            break;
        }
        *listed += 1;
        let (&i, many) = match row.as_slice() {
            [i] => (i, false),
            [i, ..] => (i, true),
            [] => continue,
        };
        let (c, j) = &a.conversations[i];
        let id = a.id(i);
        if many {
            let n = row.len();
            let _ = writeln!(
                o,
                "<tr class=\"group\" data-verdict=\"{}\" data-count=\"{n}\"><td class=\"num\">{n}×</td><td>{}</td><td class=\"mono\">{}, first #{id}</td><td>{} (each)</td><td>{}</td><td>{}</td></tr>",
                escape(j.verdict.name()),
                badge(j.verdict.name(), None),
                escape(&super::rows::group_title(a, row)),
                escape(&a.reason(c, j, names)),
                escape(&paths(c, names, 0)),
                escape(&paths(c, names, 1))
            );
            continue;
        }
        let conv = if laddered.contains(&i) {
            format!("<a href=\"#c{id}\">{}</a>", escape(&conversation_title(c)))
        } else {
            escape(&conversation_title(c))
        };
        let _ = writeln!(
            o,
            "<tr id=\"v{id}\" data-verdict=\"{}\"{}><td class=\"num\">{id}</td><td>{}</td><td class=\"mono\">{conv}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(j.verdict.name()),
            uncovered_attr(c, names),
            badge(j.verdict.name(), None),
            escape(&a.reason(c, j, names)),
            escape(&paths(c, names, 0)),
            escape(&paths(c, names, 1))
        );
    }
    o.push_str("</table>\n");
}

fn details(
    o: &mut String,
    a: &Analysis,
    i: usize,
    reason: &str,
    names: &[String],
    ladder: Option<&Picture>,
) {
    let (c, j) = &a.conversations[i];
    let id = a.id(i);
    let _ = writeln!(
        o,
        "<section id=\"c{id}\" class=\"conversation\">\n<h3>{} {}</h3>\n<p>{}</p>",
        badge(j.verdict.name(), None),
        escape(&format!("#{id} {}", conversation_title(c))),
        escape(reason)
    );
    super::html_routes::conversation(o, a.routing_of(i), names);
    if let Some(p) = ladder {
        figure(o, p);
    }
    let words = crate::verdict::direction_words(c);
    let _ = writeln!(
        o,
        "<table>\n<tr><th>point</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th>TTLs (requests / replies)</th><th>forwarded</th><th>NAT</th><th>TCP history</th><th>first seen (UTC)</th></tr>",
        escape(words[0]),
        escape(words[1])
    );
    for p in &c.points {
        let ttl = |d: usize| {
            let v: Vec<String> = p.ttls[d].values().iter().map(|t| t.to_string()).collect();
            if v.is_empty() {
                "—".to_string()
            } else {
                v.join("/")
            }
        };
        let forwarded = match (p.forwarded[0], p.forwarded[1]) {
            (0, 0) if p.nat.is_empty() => "—".to_string(),
            (f, r) => format!("{f} requests, {r} replies"),
        };
        let nat: Vec<String> = p
            .nat
            .iter()
            .map(|n| format!("{} {}", n.side.short(), n.describe()))
            .collect();
        let _ = writeln!(
            o,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            escape(names.get(p.point).map(String::as_str).unwrap_or("?")),
            p.packets[0],
            p.packets[1],
            escape(&ttl(0)),
            escape(&ttl(1)),
            escape(&forwarded),
            escape(&if nat.is_empty() { "—".to_string() } else { nat.join(", ") }),
            escape(if p.history.is_empty() { "—" } else { &p.history }),
            escape(&clock_text(p.first_ts, true))
        );
    }
    uncovered_rows(o, c, names);
    o.push_str("</table>\n");
    if !c.icmp_errors.is_empty() {
        o.push_str("<p class=\"note\">ICMP errors about it: ");
        let v: Vec<String> = c
            .icmp_errors
            .iter()
            .map(|n| {
                format!(
                    "{} from {} seen at {} ({} packets)",
                    crate::verdict::icmp_error_name(n.v6, n.icmp_type, n.code),
                    n.from,
                    names.get(n.point).map(String::as_str).unwrap_or("?"),
                    n.packets
                )
            })
            .collect();
        o.push_str(&escape(&v.join("; ")));
        o.push_str("</p>\n");
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_path_components() {
        assert_eq!(safe_name("stage3"), "stage3");
        assert_eq!(safe_name("../etc"), "_etc");
        assert_eq!(safe_name(".."), "report");
        assert_eq!(safe_name("a b/c"), "a_b_c");
        let long = safe_name(&"a".repeat(10_000));
        assert_eq!(long.len(), MAX_NAME);
        assert!(long.starts_with("aaaa"), "{long}");
        assert_ne!(long, safe_name(&format!("{}b", "a".repeat(10_000))));
    }

    #[test]
    fn default_names() {
        assert_eq!(default_name(&["x.pcap", "y.pcap"]), "combined");
        assert_eq!(default_name(&["-"]), "stdin");
        assert_eq!(default_name(&["nva=/nonexistent/x.pcap"]), "nva");
        assert_eq!(default_name(&["/nonexistent/hub-nva.pcap.gz"]), "hub-nva");
        let here = env!("CARGO_MANIFEST_DIR");
        assert_eq!(default_name(&[format!("{here}/src")]), "src");
        assert_eq!(default_name(&[format!("{here}/src/")]), "src");
    }
}
