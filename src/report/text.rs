//! text: the terminal summary, meant to be read in 20 seconds at 100 columns.
//!
//! First what was read at each capture point, then the conversations grouped by verdict,
//! the suspicious first, each with its evidence. Colour only when asked for (the binary
//! decides: a terminal, and NO_COLOR unset). Control characters in anything that comes from
//! a file name are escaped, so nothing from the input is replayed onto the terminal.

use std::io::{self, Write};

pub use super::format::{clip, clock_text, is_invisible, plural, sanitize};
use super::format::{duration_text, endpoint_text, link_type_name};
use super::noise::{self, Noise};
use super::Analysis;
use crate::correlate::Conversation;
use crate::flow::KeyKind;
use crate::verdict::Verdict;

/// How the summary is rendered.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    pub color: bool,
    /// Most conversations listed per verdict (0: all).
    pub limit: usize,
    /// Line width to wrap the evidence at.
    pub width: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            color: false,
            limit: 20,
            width: 100,
        }
    }
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn verdict(&self, v: Verdict, s: &str) -> String {
        let code = match v {
            Verdict::Asymmetric => "1;31",
            Verdict::Bypassed => "1;35",
            Verdict::Unanswered => "1;33",
            Verdict::Incomplete => "2",
            Verdict::Symmetric => "32",
        };
        self.wrap(code, s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// `icmp 10.100.204.2 -> 10.100.201.4 id 13` / `tcp 10.0.0.1:40000 -> 10.0.0.2:80`.
pub fn conversation_title(c: &Conversation) -> String {
    let ports = c.kind == KeyKind::Ports;
    let mut s = format!(
        "{} {} -> {}",
        c.proto_name(),
        endpoint_text(&c.client, ports),
        endpoint_text(&c.server, ports)
    );
    match c.kind {
        KeyKind::Echo { id } => s.push_str(&format!(" id {id}")),
        KeyKind::Icmp { icmp_type, code } => s.push_str(&format!(" type {icmp_type}/{code}")),
        KeyKind::Other => s.push_str(&format!(" proto {}", c.ip_proto)),
        KeyKind::PortsUnknown => s.push_str(" (ports unknown)"),
        KeyKind::Ports => {}
    }
    s
}

/// Wraps `text` at `width` columns, every line after the first indented by `indent`.
fn wrap(text: &str, first_col: usize, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut col = first_col;
    let mut line_empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.chars().count();
        if !line_empty && col + 1 + w > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
            line_empty = true;
        }
        if !line_empty {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        line_empty = false;
    }
    out
}

/// "clock 3.500 s ahead of hub-nva (±0.002 ms)" for a point whose clock is off by 1 ms or
/// more, or whose offset could not be bounded.
fn clock_note(a: &Analysis, point: usize, names: &[String]) -> Option<String> {
    let c = a.clocks.points.get(point)?;
    let r = a.clocks.reference?;
    if a.clocks.assumed_synced || !c.estimated || point == r {
        return None;
    }
    if c.offset_ns.abs() < 1_000_000 && c.uncertainty_ns.is_some() {
        return None;
    }
    let secs = c.offset_ns.abs() as f64 / 1e9;
    let way = if c.offset_ns >= 0 {
        "ahead of"
    } else {
        "behind"
    };
    let unc = match c.uncertainty_ns {
        Some(u) => format!("±{:.3} ms", u as f64 / 1e6),
        None => "one-way packets only: includes a delay".to_string(),
    };
    Some(format!(
        "clock {secs:.3} s {way} {} ({unc}; times aligned)",
        sanitize(names.get(r).map(String::as_str).unwrap_or("?"))
    ))
}

/// `, 27 left out by --filter` when the report was narrowed.
fn left_out_note(a: &Analysis) -> String {
    let s = &a.selection;
    if !s.is_set() {
        return String::new();
    }
    let by = match (s.expression.is_some(), !s.window.is_open()) {
        (true, true) => "--filter and the time window",
        (true, false) => "--filter",
        _ => "the time window",
    };
    format!(" ({} left out by {by})", s.left_out)
}

/// What every part of the summary is written from.
struct Render<'a> {
    a: &'a Analysis,
    opts: &'a TextOptions,
    paint: Paint,
    /// The points' names, by index.
    names: Vec<String>,
}

/// Writes the terminal summary.
pub fn write(a: &Analysis, opts: &TextOptions, out: &mut dyn Write) -> io::Result<()> {
    let r = Render {
        a,
        opts,
        paint: Paint { on: opts.color },
        names: a.point_names(),
    };
    write_head(&r, out)?;
    write_points(&r, out)?;
    write_verdicts(&r, out)?;
    if a.conversations.is_empty() {
        writeln!(out)?;
        if a.selection.left_out > 0 {
            writeln!(out, "no conversation left after the filter")?;
        } else {
            writeln!(out, "no IP conversation found")?;
        }
    }
    Ok(())
}

/// `flowcheck: 4 capture points, 224 packets, 31 conversations`, then how many sampled
/// packets were followed across the points and which clock the times are on.
fn write_head(r: &Render, out: &mut dyn Write) -> io::Result<()> {
    let Render {
        a,
        opts,
        paint,
        names,
    } = r;
    let packets: u64 = a.points.iter().map(|p| p.summary.packets).sum();
    let head = format!(
        "{}, {}, {}{}",
        plural(a.points.len() as u64, "capture point", "capture points"),
        plural(packets, "packet", "packets"),
        plural(
            a.conversations.len() as u64,
            "conversation",
            "conversations"
        ),
        left_out_note(a)
    );
    writeln!(
        out,
        "{} {}",
        paint.bold("flowcheck:"),
        wrap(&head, 11, 4, opts.width)
    )?;
    if a.points.len() > 1 && a.matches.sampled_packets > 0 {
        let m = &a.matches;
        let clocks = super::coverage_text::clock_line(a, names);
        let line = format!(
            "{} of {} sampled packets followed across points; {clocks}",
            m.matched_packets, m.sampled_packets
        );
        writeln!(out, "{}", paint.dim(&wrap(&line, 0, 0, opts.width)))?;
    }
    for w in crate::coverage::warnings(&a.points, &a.clocks) {
        let w = sanitize(&format!("warning: {w}"));
        writeln!(out, "{}", paint.wrap("1;33", &wrap(&w, 0, 0, opts.width)))?;
    }
    writeln!(out)
}

/// The table of capture points: one row each (format, link types, packets, time span),
/// with what was not decoded or is worth a note, and the damage, under it.
fn write_points(r: &Render, out: &mut dyn Write) -> io::Result<()> {
    let Render {
        a,
        opts,
        paint,
        names,
    } = r;
    let name_w = names
        .iter()
        .map(|n| sanitize(n).chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{}",
        paint.dim(&format!(
            "{:<name_w$}  {:<8}  {:<9}  {:>8}  {:>8}  {}",
            "POINT", "FORMAT", "LINK", "PACKETS", "DECODED", "TIME (UTC)"
        ))
    )?;
    for (pi, p) in a.points.iter().enumerate() {
        let s = &p.summary;
        let links: Vec<String> = s.link_types.iter().map(|&l| link_type_name(l)).collect();
        let links = if links.is_empty() {
            "-".to_string()
        } else {
            links.join(",")
        };
        // on the aligned timeline
        let (first, last) = (
            s.first_ts.map(|t| a.clocks.align(pi, t)),
            s.last_ts.map(|t| a.clocks.align(pi, t)),
        );
        let time = match (first, last) {
            (Some(f), Some(l)) => format!(
                "{} .. {} ({})",
                clock_text(f, true),
                clock_text(l, false),
                duration_text(l - f)
            ),
            _ => "-".into(),
        };
        writeln!(
            out,
            "{:<name_w$}  {:<8}  {:<9}  {:>8}  {:>8}  {}",
            sanitize(&s.name),
            if s.format.is_empty() { "-" } else { &s.format },
            links,
            s.packets,
            s.decoded,
            time
        )?;
        let indent = name_w + 2;
        let notes = point_notes(a, pi, names);
        if !notes.is_empty() {
            let line = format!("not decoded or noted: {}", notes.join(", "));
            writeln!(
                out,
                "{}{}",
                " ".repeat(indent),
                paint.dim(&wrap(&line, indent, indent, opts.width))
            )?;
        }
        if let Some(line) = super::coverage_text::capture_loss_line(&s.capture_loss) {
            let line = wrap(&line, indent, indent, opts.width);
            writeln!(out, "{}{}", " ".repeat(indent), paint.wrap("33", &line))?;
        }
        if let Some(d) = &s.damage {
            let line = format!(
                "DAMAGED at byte {}: {} ({})",
                d.offset,
                sanitize(&d.reason),
                sanitize(&s.path.display().to_string())
            );
            writeln!(
                out,
                "{}{}",
                " ".repeat(indent),
                paint.wrap("1;31", &wrap(&line, indent, indent, opts.width))
            )?;
        }
    }
    Ok(())
}

/// What point `pi` did not decode, and what else about its capture is worth a note (frames
/// forwarded, clock steps, time stamp fixes, flow cap, clock offset).
fn point_notes(a: &Analysis, pi: usize, names: &[String]) -> Vec<String> {
    let Some(s) = a.points.get(pi).map(|p| &p.summary) else {
        return Vec::new();
    };
    let mut notes: Vec<String> = s
        .not_decoded
        .iter()
        .map(|(k, v)| format!("{v} {}", k.replace('_', " ")))
        .collect();
    for (lt, n) in &s.unsupported_link_types {
        notes.push(format!("{n} of {} not decoded", link_type_name(*lt)));
    }
    if s.forwarded_packets > 0 {
        notes.push(format!(
            "{} forwarded by this point (seen arriving and leaving)",
            plural(s.forwarded_packets, "packet", "packets")
        ));
    }
    if s.clock_steps_back > 0 {
        notes.push(format!(
            "clock went backwards {}",
            if s.clock_steps_back == 1 {
                "once".to_string()
            } else {
                format!("{} times", s.clock_steps_back)
            }
        ));
    }
    if s.timestamp_fixups > 0 {
        notes.push(format!(
            "{} normalised",
            plural(
                s.timestamp_fixups,
                "invalid time stamp",
                "invalid time stamps"
            )
        ));
    }
    if s.gzip_trailing_zeros > 0 {
        notes.push(format!(
            "gzip: decompression OK, {} trailing zero bytes ignored",
            s.gzip_trailing_zeros
        ));
    }
    if s.flow_table_out_of_memory {
        notes.push(format!(
            "memory ran out: {} of new flows not tracked (lower --max-flows)",
            plural(s.packets_over_flow_cap, "packet", "packets")
        ));
    } else if s.packets_over_flow_cap > 0 {
        notes.push(format!(
            "flow cap reached: {} of further flows not tracked (--max-flows is the whole \
             run's, shared by the points: raise it)",
            plural(s.packets_over_flow_cap, "packet", "packets")
        ));
    }
    if let Some(n) = clock_note(a, pi, names) {
        notes.push(n);
    }
    notes
}

/// The conversations grouped by verdict, the suspicious first, then (unless `--limit 0`
/// lists everything) one line per kind of traffic that is one-way by nature.
fn write_verdicts(r: &Render, out: &mut dyn Write) -> io::Result<()> {
    let Render {
        a,
        opts,
        paint,
        names,
    } = r;
    let fold = opts.limit != 0;
    for v in Verdict::ALL {
        let group: Vec<(usize, &(Conversation, crate::verdict::Judgement))> = a
            .conversations
            .iter()
            .enumerate()
            .filter(|(_, (c, j))| j.verdict == v && !(fold && Noise::of(c, j).is_some()))
            .collect();
        if group.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint.verdict(v, &format!("{} ({})", v.name().to_uppercase(), group.len()))
        )?;
        let shown = if opts.limit == 0 {
            group.len()
        } else {
            opts.limit.min(group.len())
        };
        for &(i, (c, j)) in &group[..shown] {
            let title = sanitize(&conversation_title(c));
            let head = format!("  {title}  ");
            let col = head.chars().count();
            let text = wrap(&sanitize(&a.reason(c, j, names)), col, 6, opts.width);
            writeln!(out, "  {}  {}", paint.bold(&title), text)?;
            if let Some(r) = a.routing_of(i) {
                write_routing(out, paint, r, opts.width)?;
            }
        }
        if shown < group.len() {
            writeln!(
                out,
                "  {}",
                paint.dim(&format!(
                    "... and {} more (--limit 0 lists all, --json has every one)",
                    group.len() - shown
                ))
            )?;
        }
    }
    let kinds = noise::counts(&a.conversations);
    if fold && !kinds.is_empty() {
        let total: usize = kinds.iter().map(|(_, n)| n).sum();
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint.dim(&format!("ONE-WAY BY NATURE ({total}, judged incomplete)"))
        )?;
        for (k, n) in kinds {
            writeln!(out, "  {}", wrap(&k.line(n), 2, 6, opts.width))?;
        }
        writeln!(
            out,
            "  {}",
            paint.dim("(--limit 0 lists them, --json has every one)")
        )?;
    }
    Ok(())
}

/// A conversation's routing under its evidence: `routes: ...` and `fix: ...`, indented.
fn write_routing(
    out: &mut dyn Write,
    paint: &Paint,
    r: &crate::routes::ConvRouting,
    width: usize,
) -> io::Result<()> {
    let line = format!("routes: {}", sanitize(&r.explanation));
    writeln!(out, "      {}", paint.dim(&wrap(&line, 6, 8, width)))?;
    if let Some(fix) = &r.fix {
        let line = format!("fix: {}", sanitize(fix));
        writeln!(out, "      {}", paint.bold(&wrap(&line, 6, 8, width)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(sanitize("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(sanitize("ok-name"), "ok-name");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_escaped() {
        assert_eq!(sanitize("nva\u{202e}txt.exe"), "nva\\u{202e}txt.exe");
        assert_eq!(sanitize("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        assert_eq!(sanitize("\u{2067}x\u{2069}"), "\\u{2067}x\\u{2069}");
        assert_eq!(
            sanitize("café ü 東京"),
            "café ü 東京",
            "visible text is kept"
        );
    }

    #[test]
    fn long_text_is_clipped_in_the_middle() {
        let long = format!("{}{}", "a".repeat(5000), "z".repeat(5000));
        let c = clip(&long, 120);
        assert!(c.chars().count() < 160, "{c}");
        assert!(c.starts_with("aaaa") && c.ends_with("zzzz"), "{c}");
        assert!(c.contains("9880 characters left out"), "{c}");
        assert_eq!(clip("short", 120), "short");
    }

    #[test]
    fn clock_text_is_utc() {
        // 2023-11-14 22:13:20 UTC
        assert_eq!(
            clock_text(1_700_000_000_000_000_000, true),
            "2023-11-14 22:13:20.000"
        );
        assert_eq!(clock_text(0, true), "1970-01-01 00:00:00.000");
        assert_eq!(clock_text(1_500, false), "00:00:00.000");
    }

    #[test]
    fn wrap_keeps_lines_within_width() {
        let t = "one two three four five six seven eight nine ten eleven twelve";
        let w = wrap(t, 10, 4, 30);
        for line in w.lines() {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
        assert_eq!(w.replace('\n', " ").split_whitespace().count(), 12);
    }
}
