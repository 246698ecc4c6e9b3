//! plot: what the plotters charts (charts.rs, latency.rs) share: the drawing area and result
//! types, fonts at exact pixel sizes, rendering into an SVG string with an error picture
//! instead of a panic, the title and the legend.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plain, rgb, text_width, FONT};

pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub(super) type Res = Result<(), String>;
/// A chart's plotting area with numeric axes both ways.
pub(super) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

pub(super) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// A plotters font size for `v` pixels of text: plotters' SVG backend writes `size / 1.24`,
/// so this finds the size that divides back to exactly `v` (a short `font-size` attribute).
pub(super) fn px(v: f64) -> f64 {
    let s = v * 1.24;
    (0..16u64)
        .flat_map(|k| [s.to_bits() + k, s.to_bits().saturating_sub(k)])
        .map(f64::from_bits)
        .find(|c| c / 1.24 == v)
        .unwrap_or(s)
}

pub(super) fn font(size: f64) -> TextStyle<'static> {
    (FONT, px(size)).into_font().color(&rgb(super::INK))
}

pub(super) fn muted(size: f64) -> TextStyle<'static> {
    (FONT, px(size)).into_font().color(&rgb(super::MUTED))
}

pub(super) fn bold(size: f64) -> TextStyle<'static> {
    (FONT, px(size), FontStyle::Bold)
        .into_font()
        .color(&rgb(super::INK))
}

pub(super) fn at(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// Renders `draw` into an SVG string of `w` x `h`; an error gives a picture that says so.
pub(super) fn render(w: u32, h: u32, draw: impl FnOnce(&Area) -> Res) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(err)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(err))
    };
    match result {
        Ok(()) => buf,
        Err(e) => {
            let mut svg = super::Svg::new(w as f64, 60.0, "chart error", "error");
            svg.text(
                20.0,
                35.0,
                &format!("this chart could not be drawn: {e}"),
                super::TextStyle::new(12.0, super::LOST),
            );
            svg.finish()
        }
    }
}

/// Draws a title (and a subtitle) at the top of `area`.
pub(super) fn title(area: &Area, title: &str, sub: &str) -> Res {
    area.draw_text(&plain(title), &bold(16.0), (20, 12))
        .map_err(err)?;
    if !sub.is_empty() {
        area.draw_text(&plain(sub), &muted(12.0), (20, 36))
            .map_err(err)?;
    }
    Ok(())
}

/// A horizontal legend of coloured squares, wrapped at the area's width, starting at `y`.
pub(super) fn legend(area: &Area, items: &[(String, String)], y: i32) -> Res {
    let width = area.dim_in_pixel().0 as f64 - 20.0;
    let (mut x, mut y) = (20.0, y as f64);
    for (label, colour) in items {
        let w = 22.0 + text_width(label, 12.0) + 20.0;
        if x > 20.0 && x + w > width {
            x = 20.0;
            y += 22.0;
        }
        area.draw(&Rectangle::new(
            [(x as i32, y as i32 - 6), (x as i32 + 14, y as i32 + 8)],
            rgb(colour).filled(),
        ))
        .map_err(err)?;
        area.draw_text(
            &plain(label),
            &at(font(12.0), HPos::Left, VPos::Center),
            (x as i32 + 20, y as i32 + 1),
        )
        .map_err(err)?;
        x += w;
    }
    Ok(())
}

/// Height the legend needs.
pub(super) fn legend_height(items: &[(String, String)], width: f64) -> i32 {
    let mut rows = 1;
    let mut x = 20.0;
    for (label, _) in items {
        let w = 22.0 + text_width(label, 12.0) + 20.0;
        if x > 20.0 && x + w > width - 20.0 {
            rows += 1;
            x = 20.0;
        }
        x += w;
    }
    22 * rows
}
