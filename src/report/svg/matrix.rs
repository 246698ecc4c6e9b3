//! matrix: the asymmetry matrix, conversations x capture points.
//!
//! Each cell says which directions of the conversation that point saw: the requests only
//! (forward only), the replies only (reverse only), both, or none. A symmetric conversation
//! is a row of "both" (and "none"); an asymmetric one has a "forward only" or "reverse only"
//! cell: the point that one direction bypassed. A corner mark says the point forwarded the
//! conversation, a red cross that a direction was lost after it (seen arriving, never
//! leaving, never at the receiver). Rows are the conversations with a request and a response
//! (incomplete ones are one-way or too little to judge, and left out), the suspicious first,
//! capped.

use super::{
    by_severity, conversation_label, fit, text_width, verdict_colour, verdict_counts,
    worth_showing, wrap, Anchor, Svg, TextStyle, FORWARD, INK, LOST, MUTED, REVERSE,
};
use crate::correlate::{ConvPoint, Loss};
use crate::report::Analysis;
use crate::verdict::Verdict;

/// What one point saw of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    ForwardOnly,
    ReverseOnly,
    Both,
    None,
}

impl Seen {
    pub fn of(p: Option<&ConvPoint>) -> Seen {
        match p.map(|p| (p.packets[0] > 0, p.packets[1] > 0)) {
            Some((true, true)) => Seen::Both,
            Some((true, false)) => Seen::ForwardOnly,
            Some((false, true)) => Seen::ReverseOnly,
            _ => Seen::None,
        }
    }
    /// `forward-only`, `reverse-only`, `both`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Seen::ForwardOnly => "forward-only",
            Seen::ReverseOnly => "reverse-only",
            Seen::Both => "both",
            Seen::None => "none",
        }
    }
    fn words(self) -> &'static str {
        match self {
            Seen::ForwardOnly => "forward only",
            Seen::ReverseOnly => "reverse only",
            Seen::Both => "both directions",
            Seen::None => "nothing",
        }
    }
}

const MARGIN: f64 = 20.0;
const ROW_H: f64 = 30.0;
const CELL_PAD: f64 = 3.0;

/// What the matrix shows and where, worked out before drawing.
struct Grid {
    names: Vec<String>,
    /// How many conversations have a request and a response (the pool the rows come from).
    pool: usize,
    /// The conversation of each row (the first of a group of alike ones) and its label.
    rows: Vec<usize>,
    labels: Vec<String>,
    /// The points drawn as columns.
    cols: Vec<usize>,
    verdict_w: f64,
    label_w: f64,
    col_w: f64,
    grid_x: f64,
    width: f64,
    text_w: f64,
    /// The notes under the matrix, wrapped.
    note_lines: Vec<String>,
}

/// The rows (at most `limit`, alike conversations as one), the columns (at most
/// `max_points`), the widths and the notes of what was left out.
fn grid(a: &Analysis, limit: usize, max_points: usize) -> Grid {
    let names: Vec<String> = a.point_names();
    let order = by_severity(a);
    let (shown_pool, one_way): (Vec<usize>, Vec<usize>) = order
        .into_iter()
        .partition(|&i| worth_showing(&a.conversations[i].1));
    // many alike conversations (a busy LAN's announcements) as one row
    let groups = crate::report::rows::rows(a, &shown_pool);
    let rows: Vec<usize> = groups
        .iter()
        .take(limit)
        .filter_map(|g| g.first())
        .copied()
        .collect();
    let left_out: Vec<usize> = groups.iter().skip(limit).flatten().copied().collect();
    let mut seen_in_rows = vec![0u64; names.len()];
    for &i in &rows {
        for p in &a.conversations[i].0.points {
            if let Some(n) = seen_in_rows.get_mut(p.point) {
                *n += 1;
            }
        }
    }
    let (cols, cols_left_out) = super::drawn_points(names.len(), max_points, |p| {
        seen_in_rows[p] << 32 | a.points[p].summary.decoded.min(u32::MAX.into())
    });
    let labels: Vec<String> = groups
        .iter()
        .take(limit)
        .map(|g| match g.as_slice() {
            [i] => format!(
                "#{}  {}",
                a.id(*i),
                conversation_label(&a.conversations[*i].0)
            ),
            _ => format!("{}×  {}", g.len(), crate::report::rows::group_title(a, g)),
        })
        .collect();
    let verdict_w = Verdict::ALL
        .iter()
        .map(|v| text_width(v.name(), 11.0) + 16.0)
        .fold(70.0, f64::max);
    let label_w = labels
        .iter()
        .map(|l| text_width(l, 12.0))
        .fold(160.0, f64::max)
        .min(440.0);
    let col_w = cols
        .iter()
        .map(|&p| text_width(&names[p], 12.0) + 18.0)
        .fold(84.0, f64::max)
        .min(170.0);
    let grid_x = MARGIN + verdict_w + 10.0 + label_w + 14.0;
    let width = (grid_x + col_w * cols.len() as f64 + MARGIN).max(620.0);
    let text_w = width - 2.0 * MARGIN;
    let notes = notes(a, &left_out, cols_left_out, one_way.len());
    let note_lines: Vec<String> = notes.iter().flat_map(|n| wrap(n, 11.0, text_w)).collect();
    Grid {
        names,
        pool: shown_pool.len(),
        rows,
        labels,
        cols,
        verdict_w,
        label_w,
        col_w,
        grid_x,
        width,
        text_w,
        note_lines,
    }
}

/// What the matrix leaves out: rows, columns, the incomplete conversations.
fn notes(a: &Analysis, left_out: &[usize], cols_left_out: usize, one_way: usize) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    if !left_out.is_empty() {
        notes.push(format!(
            "{} more conversations not shown ({}); the verdict table and --json list every one.",
            left_out.len(),
            verdict_counts(a, left_out)
        ));
    }
    if cols_left_out > 0 {
        notes.push(super::points_left_out(
            cols_left_out,
            "the columns are the points that saw the most of these rows",
        ));
    }
    if one_way > 0 {
        notes.push(format!(
            "{} incomplete conversations (one-way or too little to judge: neighbour discovery, \
             multicast, ...) not shown.",
            one_way
        ));
    }
    notes
}

/// Draws the matrix of the conversations worth showing, at most `limit` rows and
/// `max_points` columns (the points that saw the most of the rows shown).
pub fn render(a: &Analysis, limit: usize, max_points: usize) -> String {
    let g = grid(a, limit, max_points);
    let title_y = MARGIN + 15.0;
    let head_y = title_y + 44.0;
    let grid_y = head_y + 12.0;
    let body_h = if g.rows.is_empty() {
        ROW_H
    } else {
        ROW_H * g.rows.len() as f64
    };
    let any_loss = g
        .rows
        .iter()
        .any(|&i| !a.conversations[i].0.losses.is_empty());
    let legend_y = grid_y + body_h + 26.0;
    let mut scratch = Svg::new(1.0, 1.0, "", "");
    let legend_h = legend(&mut scratch, 0.0, g.text_w, any_loss, false);
    let notes_y = legend_y + legend_h + 8.0;
    let height = notes_y + 15.0 * g.note_lines.len() as f64 + MARGIN;

    let mut svg = Svg::new(
        g.width,
        height,
        "Asymmetry matrix: which directions each capture point saw",
        "matrix",
    );
    svg.text(
        MARGIN,
        title_y,
        "Who saw what: the directions each capture point saw",
        TextStyle::new(16.0, INK).bold(),
    );
    svg.text(
        MARGIN,
        title_y + 20.0,
        &format!(
            "{} conversation{} with a request and a response, the suspicious first",
            g.pool,
            if g.pool == 1 { "" } else { "s" }
        ),
        TextStyle::new(12.0, MUTED),
    );
    // column heads
    for (k, name) in g.cols.iter().map(|&p| &g.names[p]).enumerate() {
        let x = g.grid_x + g.col_w * (k as f64 + 0.5);
        svg.open(&[("class", "column"), ("data-point", name)]);
        svg.tooltip(name);
        svg.text(
            x,
            head_y,
            &fit(name, 12.0, g.col_w - 6.0),
            TextStyle::new(12.0, INK).bold().anchor(Anchor::Middle),
        );
        svg.close();
    }
    if g.rows.is_empty() {
        svg.text(
            g.grid_x,
            grid_y + 20.0,
            "no conversation with a request and a response",
            TextStyle::new(12.0, MUTED),
        );
    }
    for (r, &i) in g.rows.iter().enumerate() {
        draw_row(&mut svg, a, &g, r, i, grid_y + ROW_H * r as f64);
    }
    legend(&mut svg, legend_y, g.text_w, any_loss, true);
    let mut ny = notes_y + 8.0;
    for line in &g.note_lines {
        svg.text(MARGIN, ny, line, TextStyle::new(11.0, MUTED));
        ny += 15.0;
    }
    svg.finish()
}

/// Row `r` (conversation index `i`) at `y`: its verdict badge and label, then its cells.
fn draw_row(svg: &mut Svg, a: &Analysis, g: &Grid, r: usize, i: usize, y: f64) {
    let (c, j) = &a.conversations[i];
    let verdict_w = g.verdict_w;
    if r % 2 == 1 {
        svg.rect(MARGIN, y, g.grid_x - MARGIN - 6.0, ROW_H, "#f7f7f7", None);
    }
    let vname = j.verdict.name();
    svg.open(&[
        ("class", "row"),
        ("data-conversation", &a.id(i).to_string()),
        ("data-verdict", vname),
    ]);
    svg.tooltip(&format!("{}: {}", vname, a.reason(c, j, &g.names)));
    svg.round_rect(
        MARGIN + 2.0,
        y + 6.0,
        verdict_w - 4.0,
        ROW_H - 12.0,
        (ROW_H - 12.0) / 2.0,
        verdict_colour(vname),
        "none",
    );
    svg.text(
        MARGIN + verdict_w / 2.0,
        y + ROW_H / 2.0 + 4.0,
        vname,
        TextStyle::new(11.0, "#ffffff")
            .bold()
            .anchor(Anchor::Middle),
    );
    svg.text(
        MARGIN + verdict_w + 10.0,
        y + ROW_H / 2.0 + 4.0,
        &fit(&g.labels[r], 12.0, g.label_w),
        TextStyle::new(12.0, INK),
    );
    svg.close();
    for (col, &k) in g.cols.iter().enumerate() {
        let x = g.grid_x + g.col_w * col as f64;
        draw_cell(svg, a, i, (k, &g.names[k]), (x, y), g.col_w);
    }
}

/// The cell of conversation index `i` at point `k` (named `name`), its top-left at (x, y):
/// what the point saw, with its tooltip, the forwarding corner and the lost mark.
fn draw_cell(
    svg: &mut Svg,
    a: &Analysis,
    i: usize,
    (k, name): (usize, &str),
    (x, y): (f64, f64),
    col_w: f64,
) {
    let c = &a.conversations[i].0;
    let words = crate::verdict::direction_words(c);
    let p = c.at(k);
    let seen = Seen::of(p);
    svg.open(&[
        ("class", "cell"),
        ("data-conversation", &a.id(i).to_string()),
        ("data-point", name),
        ("data-state", seen.name()),
    ]);
    let mut tip = format!("{name}: {}", seen.words());
    if let Some(p) = p {
        tip.push_str(&format!(
            " ({} {}, {} {})",
            p.packets[0], words[0], p.packets[1], words[1]
        ));
        if p.is_forwarder() {
            tip.push_str("; forwarded here");
            for nat in &p.nat {
                tip.push_str(&format!(", NAT {}", nat.describe()));
            }
        }
    }
    let lost: Vec<usize> = c
        .losses
        .iter()
        .filter(|l| match **l {
            Loss::After { point, .. } => point == k,
            Loss::Between { from, .. } => from == k,
        })
        .map(|l| l.dir().index())
        .collect();
    for &d in &lost {
        tip.push_str(&format!("; {} lost after {name}", words[d]));
    }
    svg.tooltip(&tip);
    cell(
        svg,
        x + CELL_PAD,
        y + CELL_PAD,
        col_w - 2.0 * CELL_PAD,
        ROW_H - 2.0 * CELL_PAD,
        seen,
    );
    if p.is_some_and(|p| p.is_forwarder()) {
        let (cx, cy) = (x + col_w - CELL_PAD, y + CELL_PAD);
        svg.polygon(&[(cx - 11.0, cy), (cx, cy), (cx, cy + 11.0)], INK);
    }
    if !lost.is_empty() {
        let (cx, cy) = (x + col_w - CELL_PAD - 9.0, y + ROW_H - CELL_PAD - 8.0);
        svg.circle(cx, cy, 7.0, "#ffffff", None);
        svg.cross(cx, cy, 3.5, LOST);
    }
    svg.close();
}

/// Draws the legend from `y` (when `draw`), wrapped at `width`; returns its height.
fn legend(svg: &mut Svg, y: f64, width: f64, loss: bool, draw: bool) -> f64 {
    let mut items: Vec<(usize, &str)> = vec![
        (0, "forward only: requests, no replies"),
        (1, "reverse only: replies, no requests"),
        (2, "both directions"),
        (3, "neither"),
        (4, "forwarded by the point"),
    ];
    if loss {
        items.push((5, "a direction was lost after this point"));
    }
    let (mut lx, mut ly) = (MARGIN, y);
    for (kind, label) in items {
        let sample = if kind < 4 { 44.0 } else { 22.0 };
        let w = sample + text_width(label, 11.0) + 20.0;
        if lx > MARGIN && lx + w > MARGIN + width {
            lx = MARGIN;
            ly += 22.0;
        }
        if draw {
            match kind {
                0..=3 => {
                    let seen = [Seen::ForwardOnly, Seen::ReverseOnly, Seen::Both, Seen::None][kind];
                    cell(svg, lx, ly - 9.0, 36.0, 18.0, seen);
                }
                4 => svg.polygon(
                    &[(lx, ly - 8.0), (lx + 12.0, ly - 8.0), (lx + 12.0, ly + 4.0)],
                    INK,
                ),
                _ => svg.cross(lx + 6.0, ly - 2.0, 4.5, LOST),
            }
            svg.text(lx + sample, ly + 4.0, label, TextStyle::new(11.0, INK));
        }
        lx += w;
    }
    ly - y + 22.0
}

/// Draws one cell's box and arrows.
fn cell(svg: &mut Svg, x: f64, y: f64, w: f64, h: f64, seen: Seen) {
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let arrow = |svg: &mut Svg, y: f64, right: bool| {
        let half = (w * 0.22).min(14.0);
        let (from, to) = if right {
            (cx - half, cx + half)
        } else {
            (cx + half, cx - half)
        };
        let dx = if right { 1.0 } else { -1.0 };
        svg.line(from, y, to - dx * 6.0, y, "#ffffff", 2.0, None);
        svg.arrowhead(to, y, dx, 0.0, 7.0, "#ffffff");
    };
    match seen {
        Seen::ForwardOnly => {
            svg.round_rect(x, y, w, h, 4.0, FORWARD, "none");
            arrow(svg, cy, true);
        }
        Seen::ReverseOnly => {
            svg.round_rect(x, y, w, h, 4.0, REVERSE, "none");
            arrow(svg, cy, false);
        }
        Seen::Both => {
            svg.round_rect(x, y, w, h, 4.0, FORWARD, "none");
            svg.rect(x + w / 2.0, y, w / 2.0 - 4.0, h, REVERSE, None);
            svg.round_rect(x + w / 2.0, y, w / 2.0, h, 4.0, REVERSE, "none");
            arrow(svg, cy - h * 0.18, true);
            arrow(svg, cy + h * 0.18, false);
        }
        Seen::None => {
            svg.round_rect(x, y, w, h, 4.0, "#f0f0f0", "#dddddd");
            svg.circle(cx, cy, 2.0, "#bbbbbb", None);
        }
    }
}
