//! svg: the report's pictures, each one SVG document in a `String`.
//!
//! | file | picture | drawn by |
//! |---|---|---|
//! | `summary.svg` | conversations by verdict and by protocol | plotters |
//! | `matrix.svg` | asymmetry matrix: conversations x capture points, which directions each point saw | [`Svg`] |
//! | `timeline.svg` | packets per capture point over time, coloured by verdict | plotters |
//! | `latency.svg` | one-way delay between consecutive capture points, per pair | plotters |
//! | `ladder-N.svg` | ladder (sequence) diagram of conversation N | [`Svg`] |
//!
//! Charts with numeric axes go through plotters' SVG backend, built without a font backend:
//! plotters then only estimates text widths and writes `<text>` elements that the viewer lays
//! out, so nothing here reads a system font. The ladder and the matrix are a sequence diagram
//! and a grid, not charts on axes: they are written directly with [`Svg`], which escapes every
//! string and uses presentation attributes only (no `<style>`, no ids), so several pictures can
//! be inlined into one HTML page without leaking into each other.
//!
//! Every picture stays legible with thousands of conversations: it sorts (the suspicious
//! verdicts first), caps, and says in its own text what was left out.

pub mod charts;
pub mod ladder;
mod ladder_draw;
mod ladder_layout;
pub mod latency;
pub mod matrix;
mod plot;

use crate::report::text::is_invisible;
use std::fmt::Write as _;

use super::Analysis;
use crate::correlate::Conversation;
use crate::verdict::{Judgement, Verdict};

/// One picture of the report.
#[derive(Debug, Clone)]
pub struct Picture {
    /// File name inside the report folder, e.g. `matrix.svg`.
    pub file: String,
    /// Short title, e.g. "Asymmetry matrix".
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// Limits that keep the pictures legible.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most ladder diagrams drawn.
    pub ladders: usize,
    /// Most packets drawn in one ladder.
    pub ladder_packets: usize,
    /// Most conversations (rows) in the matrix.
    pub matrix_rows: usize,
    /// Most point pairs (rows) in the latency chart.
    pub latency_pairs: usize,
    /// Most capture points one picture draws (ladder lanes, matrix columns, timeline
    /// panels): a run of thousands of points would otherwise draw pictures of hundreds of
    /// megabytes, in time that grows with points x conversations x lanes.
    pub points: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ladders: 12,
            ladder_packets: 60,
            matrix_rows: 40,
            latency_pairs: 12,
            points: 24,
        }
    }
}

/// The capture points (of `n`) a picture draws when it may draw at most `limit`: those
/// `weight` ranks highest (ties: argument order), listed in argument order; and how many
/// were left out.
pub fn drawn_points(n: usize, limit: usize, weight: impl Fn(usize) -> u64) -> (Vec<usize>, usize) {
    if n <= limit {
        return ((0..n).collect(), 0);
    }
    let mut by_weight: Vec<usize> = (0..n).collect();
    by_weight.sort_by_key(|&p| (std::cmp::Reverse(weight(p)), p));
    by_weight.truncate(limit);
    by_weight.sort_unstable();
    (by_weight, n - limit)
}

/// The note under a picture that left capture points out.
pub fn points_left_out(n: usize, what: &str) -> String {
    format!(
        "{n} more capture point{} not drawn ({what}); the verdict table and --json list every one.",
        if n == 1 { "" } else { "s" }
    )
}

/// The font every picture names; the viewer picks what it has.
pub const FONT: &str = "Helvetica, Arial, sans-serif";
/// Colour of the forward direction (client to server).
pub const FORWARD: &str = "#1f77b4";
/// Colour of the reverse direction (server to client).
pub const REVERSE: &str = "#e6550d";
pub const INK: &str = "#222222";
pub const MUTED: &str = "#666666";
pub const RULE: &str = "#bbbbbb";
pub const LOST: &str = "#c62828";

/// Colour of a verdict, by name so that verdicts added later get a colour too.
pub fn verdict_colour(name: &str) -> &'static str {
    match name {
        "asymmetric" => "#c62828",
        "unanswered" => "#f9a825",
        "lost" => "#6a1b9a",
        "bypassed" => "#ad1457",
        "incomplete" => "#9e9e9e",
        "symmetric" => "#2e7d32",
        _ => "#455a64",
    }
}

/// `#rrggbb` as plotters' colour.
pub fn rgb(hex: &str) -> plotters::style::RGBColor {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    plotters::style::RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Escapes text for XML and HTML (element content and double-quoted attributes). Control
/// characters other than newline and tab are shown as `\xNN` (XML 1.0 cannot carry them at
/// all) and the two non-characters U+FFFE/U+FFFF become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A string that plotters may write as is: plotters escapes markup itself, but not control
/// characters, which XML cannot carry.
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if c.is_control() => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Estimated width in pixels of `s` at `size` px in a proportional sans-serif font: generous,
/// so that what is laid out from it does not overlap in the wider fonts (DejaVu Sans).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            '.' | ',' | ':' | ';' | 'i' | 'l' | 'j' | '\'' | '|' | '!' | ' ' => 0.34,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' => 0.45,
            'm' | 'w' | 'M' | 'W' => 0.92,
            'A'..='Z' => 0.72,
            _ => 0.64,
        })
        .sum::<f64>()
        * size
}

/// Cuts `s` to at most `width` pixels at `size`, ending with an ellipsis when cut.
pub fn fit(s: &str, size: f64, width: f64) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("…", size) > width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

/// Wraps `s` into lines of at most `width` pixels at `size`.
pub fn wrap(s: &str, size: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && text_width(&candidate, size) > width {
            lines.push(std::mem::take(&mut line));
            line = fit(word, size, width);
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Rounds a coordinate to 0.1 px: small, byte-stable output.
pub fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Text anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// How a piece of text looks.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle<'a> {
    pub size: f64,
    pub fill: &'a str,
    pub bold: bool,
    pub anchor: Anchor,
}

impl<'a> TextStyle<'a> {
    pub fn new(size: f64, fill: &'a str) -> Self {
        TextStyle {
            size,
            fill,
            bold: false,
            anchor: Anchor::Start,
        }
    }
    pub fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    pub fn anchor(mut self, a: Anchor) -> Self {
        self.anchor = a;
        self
    }
}

/// A hand-written SVG document. Every string argument is escaped here.
pub struct Svg {
    out: String,
    depth: usize,
}

impl Svg {
    /// Starts a document of `w` x `h` pixels whose accessible name is `title`.
    pub fn new(w: f64, h: f64, title: &str, class: &str) -> Svg {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" font-family=\"{FONT}\">",
            escape(class),
            n(w),
            n(h),
            n(w),
            n(h)
        );
        let _ = writeln!(out, "<title>{}</title>", escape(title));
        let _ = writeln!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
            n(w),
            n(h)
        );
        Svg { out, depth: 0 }
    }

    /// Opens a group; `attrs` are (name, value) pairs, values escaped.
    pub fn open(&mut self, attrs: &[(&str, &str)]) {
        self.out.push_str("<g");
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
        self.out.push_str(">\n");
        self.depth += 1;
    }

    pub fn close(&mut self) {
        if self.depth > 0 {
            self.out.push_str("</g>\n");
            self.depth -= 1;
        }
    }

    /// A tooltip for the enclosing group.
    pub fn tooltip(&mut self, s: &str) {
        let _ = writeln!(self.out, "<title>{}</title>", escape(s));
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: Option<&str>) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
        if let Some(s) = stroke {
            let _ = write!(self.out, " stroke=\"{s}\"");
        }
        self.out.push_str("/>\n");
    }

    // drawing primitives take the SVG element's own attributes, one argument each
    #[allow(clippy::too_many_arguments)]
    pub fn round_rect(&mut self, x: f64, y: f64, w: f64, h: f64, r: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\"/>",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            n(r)
        );
    }

    /// A straight line; `dash` like `"4 3"`.
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        width: f64,
        dash: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"",
            n(x1),
            n(y1),
            n(x2),
            n(y2),
            n(width)
        );
        if let Some(d) = dash {
            let _ = write!(self.out, " stroke-dasharray=\"{d}\"");
        }
        self.out.push_str("/>\n");
    }

    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, fill: &str, stroke: Option<(&str, f64)>) {
        let _ = write!(
            self.out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\"",
            n(cx),
            n(cy),
            n(r)
        );
        if let Some((s, w)) = stroke {
            let _ = write!(self.out, " stroke=\"{s}\" stroke-width=\"{}\"", n(w));
        }
        self.out.push_str("/>\n");
    }

    /// A filled polygon through `pts`.
    pub fn polygon(&mut self, pts: &[(f64, f64)], fill: &str) {
        let p: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
            .collect();
        let _ = writeln!(
            self.out,
            "<polygon points=\"{}\" fill=\"{fill}\"/>",
            p.join(" ")
        );
    }

    /// An arrowhead whose tip is at (x, y), pointing along (dx, dy).
    pub fn arrowhead(&mut self, x: f64, y: f64, dx: f64, dy: f64, size: f64, fill: &str) {
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let (px, py) = (-uy, ux);
        let bx = x - ux * size;
        let by = y - uy * size;
        let half = size * 0.45;
        self.polygon(
            &[
                (x, y),
                (bx + px * half, by + py * half),
                (bx - px * half, by - py * half),
            ],
            fill,
        );
    }

    /// A cross (drop mark) centred at (x, y).
    pub fn cross(&mut self, x: f64, y: f64, r: f64, stroke: &str) {
        self.line(x - r, y - r, x + r, y + r, stroke, 2.5, None);
        self.line(x - r, y + r, x + r, y - r, stroke, 2.5, None);
    }

    pub fn text(&mut self, x: f64, y: f64, s: &str, st: TextStyle) {
        let anchor = match st.anchor {
            Anchor::Start => "",
            Anchor::Middle => " text-anchor=\"middle\"",
            Anchor::End => " text-anchor=\"end\"",
        };
        let weight = if st.bold { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"{anchor}{weight}>{}</text>",
            n(x),
            n(y),
            n(st.size),
            st.fill,
            escape(s)
        );
    }

    pub fn finish(mut self) -> String {
        while self.depth > 0 {
            self.close();
        }
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// `icmp 10.100.204.2 → 10.100.201.4 id 13`: the conversation's title for pictures.
pub fn conversation_label(c: &Conversation) -> String {
    super::text::conversation_title(c).replacen(" -> ", " → ", 1)
}

/// Indices into `a.conversations`, the suspicious verdicts first (in the order of
/// [`Verdict::ALL`]), within a verdict those where a direction was lost first, then by first
/// packet.
pub fn by_severity(a: &Analysis) -> Vec<usize> {
    let rank = |j: &Judgement| {
        Verdict::ALL
            .iter()
            .position(|v| *v == j.verdict)
            .unwrap_or(Verdict::ALL.len())
    };
    let mut idx: Vec<usize> = (0..a.conversations.len()).collect();
    idx.sort_by_key(|&i| {
        let (c, j) = &a.conversations[i];
        (rank(j), c.losses.is_empty(), c.first_ts, i)
    });
    idx
}

/// True for conversations a picture should show by default: those with a request and a
/// response to judge (`incomplete` ones are one-way or too little to judge: neighbour
/// discovery, multicast, a stream its client sent nothing on, ...).
pub fn worth_showing(j: &Judgement) -> bool {
    j.verdict != Verdict::Incomplete
}

/// "3 asymmetric, 20 symmetric": counts of the verdicts of `left`, for "left out" notes.
pub fn verdict_counts(a: &Analysis, left: &[usize]) -> String {
    let mut parts = Vec::new();
    for v in Verdict::ALL {
        let k = left
            .iter()
            .filter(|&&i| a.conversations[i].1.verdict == v)
            .count();
        if k > 0 {
            parts.push(format!("{k} {}", v.name()));
        }
    }
    parts.join(", ")
}

/// Every picture of the report, in the order the report shows them (ladders last).
pub fn pictures(a: &Analysis, limits: &Limits) -> Vec<Picture> {
    let mut out = vec![
        Picture {
            file: "summary.svg".into(),
            title: "Conversations by verdict and protocol".into(),
            svg: charts::summary(a),
        },
        Picture {
            file: "matrix.svg".into(),
            title: "Asymmetry matrix: who saw what".into(),
            svg: matrix::render(a, limits.matrix_rows, limits.points),
        },
        Picture {
            file: "timeline.svg".into(),
            title: "Packets per capture point over time".into(),
            svg: charts::timeline(a, limits.points),
        },
        Picture {
            file: "latency.svg".into(),
            title: "One-way delay between capture points".into(),
            svg: latency::latency(a, limits.latency_pairs),
        },
    ];
    for i in ladder::chosen(a, limits.ladders) {
        out.push(Picture {
            file: ladder::file_name(a.id(i)),
            title: format!("Ladder of conversation {}", a.id(i)),
            svg: ladder_draw::render(&ladder::from_conversation(a, i, limits)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_markup_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("a\u{1}b\u{fffe}"), "a\\x01b\u{fffd}");
        assert_eq!(plain("x\u{7}<y>"), "x\\x07<y>");
        // a name that would read backwards, or hide a character
        assert_eq!(escape("a\u{202e}gpj.exe"), "a\\u{202e}gpj.exe");
        assert_eq!(plain("a\u{200b}b\u{2066}"), "a\\u{200b}b\\u{2066}");
    }

    #[test]
    fn wrap_respects_width() {
        let lines = wrap(
            "echo requests crossed spoke1-vm, vpn-client, echo replies crossed hub-nva",
            11.0,
            200.0,
        );
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(text_width(l, 11.0) <= 200.0, "{l}");
        }
        assert_eq!(
            fit("abcdefghijklmnopqrstuvwxyz", 10.0, 60.0).chars().last(),
            Some('…')
        );
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(n(3.0), "3");
        assert_eq!(n(3.04), "3");
        assert_eq!(n(3.06), "3.1");
        assert_eq!(n(-0.5), "-0.5");
    }
}
