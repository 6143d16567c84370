//! Inline SVG plots drawn with plotters' SVG backend. Text is laid out with ab_glyph and the
//! DejaVu Sans font embedded by the `dejavu` crate, so no system font library is needed.
//! A plot that cannot be drawn becomes a short note, never a panic.

use super::Session;
use crate::analysis::anatomy::Side;
use crate::outputs::events::Event;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::sync::Once;

pub(super) const FONT: &str = "sans-serif";
pub(super) const LEFT_COLOR: RGBColor = RGBColor(0x1f, 0x5f, 0xa8);
pub(super) const RIGHT_COLOR: RGBColor = RGBColor(0xc4, 0x5a, 0x00);
pub(super) const LOST_COLOR: RGBColor = RGBColor(0xd0, 0xd0, 0xd0);
pub(super) const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
/// Text size in SVG pixels; plots are drawn at about the width they are shown at on A4.
pub(super) const LABEL_PT: u32 = 15;

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Errors only for a malformed font, which the crate does not ship.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn side_color(side: Side) -> RGBColor {
    match side {
        Side::Left => LEFT_COLOR,
        Side::Right => RIGHT_COLOR,
    }
}

/// Runs a drawing function on an SVG string; on failure, an HTML note.
pub(super) fn svg<F>(size: (u32, u32), draw: F) -> String
where
    F: FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
{
    fonts();
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let r = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root));
        r.and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => buf,
        Err(e) => format!(
            "<p class=\"note\">This plot could not be drawn ({}).</p>",
            super::html::esc(&e)
        ),
    }
}

pub(super) fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A chart with the pages' frame (margins, room for the x labels, `y_label_px` for the y
/// labels), to set more on and build.
pub(super) fn chart_frame<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    y_label_px: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.margin(8)
        .margin_right(22)
        .x_label_area_size(40)
        .y_label_area_size(y_label_px);
    b
}

/// The pages' mesh on `chart`: no light lines, grey bold lines, the labels' font; labels,
/// formatters and axis names are the caller's to add before `draw`.
pub(super) fn chart_mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    let mut m = chart.configure_mesh();
    m.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .label_style((FONT, LABEL_PT))
        .axis_desc_style((FONT, LABEL_PT));
    m
}

/// Time axis unit: seconds for short sessions, minutes for long ones.
fn time_unit(duration_s: f64) -> (f64, &'static str) {
    if duration_s > 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

/// Twitches of each side as bars on two lanes over time; face-lost time shaded grey.
pub fn timeline(s: &Session) -> String {
    let d = s.stats.duration_s;
    if d <= 0.0 {
        return "<p class=\"note\">No timeline: the log covers no time.</p>".to_string();
    }
    let (unit, unit_name) = time_unit(d);
    let xmax = d / unit;
    svg((760, 170), |root| {
        let mut chart = chart_frame(root, 56)
            .build_cartesian_2d(0.0..xmax, 0.0..2.0)
            .map_err(e2s)?;
        chart_mesh(&mut chart)
            .disable_y_mesh()
            .y_labels(5)
            .y_label_formatter(&|y: &f64| {
                if (y - 1.5).abs() < 0.01 {
                    "left".to_string()
                } else if (y - 0.5).abs() < 0.01 {
                    "right".to_string()
                } else {
                    String::new()
                }
            })
            .x_desc(format!("time ({unit_name})"))
            .draw()
            .map_err(e2s)?;
        for e in &s.events {
            if let Some((start_s, end_s)) = e.gap() {
                let (a, b) = (start_s.max(0.0) / unit, end_s.min(d) / unit);
                if b > a {
                    chart
                        .draw_series([Rectangle::new([(a, 0.0), (b, 2.0)], LOST_COLOR.filled())])
                        .map_err(e2s)?;
                }
            }
        }
        // At least 0.3 % of the width, so that short twitches stay visible.
        let min_w = xmax * 0.003;
        for side in Side::BOTH {
            let lane = match side {
                Side::Left => 1.0,
                Side::Right => 0.0,
            };
            let bars: Vec<_> = s
                .events
                .iter()
                .filter_map(Event::as_twitch)
                .filter(|t| t.side == side && t.start_s.is_finite() && t.end_s.is_finite())
                .map(|t| {
                    let a = t.start_s.max(0.0) / unit;
                    let b = (t.end_s / unit).max(a + min_w).min(xmax);
                    Rectangle::new(
                        [(a, lane + 0.15), (b, lane + 0.85)],
                        side_color(side).filled(),
                    )
                })
                .collect();
            chart.draw_series(bars).map_err(e2s)?;
        }
        Ok(())
    })
}

/// Twitches per observed minute in each one-minute block, per side.
pub fn rate_over_time(s: &Session) -> String {
    let blocks = &s.stats.blocks;
    let points = |side: Side| -> Vec<(f64, f64)> {
        blocks
            .iter()
            .filter(|b| b.observed_s >= 10.0)
            .map(|b| {
                (
                    (b.start_s + b.end_s) / 2.0 / 60.0,
                    b.twitches[side.index()] as f64 * 60.0 / b.observed_s,
                )
            })
            .collect()
    };
    let left = points(Side::Left);
    let right = points(Side::Right);
    let ymax = left.iter().chain(&right).map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let xmax = s.stats.duration_s / 60.0;
    svg((760, 250), |root| {
        let mut chart = chart_frame(root, 56)
            .build_cartesian_2d(0.0..xmax.max(1.0), 0.0..ymax)
            .map_err(e2s)?;
        chart_mesh(&mut chart)
            .x_desc("time (min)")
            .y_desc("per minute")
            .draw()
            .map_err(e2s)?;
        for (side, pts) in [(Side::Left, left), (Side::Right, right)] {
            let c = side_color(side);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(e2s)?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(e2s)?;
        }
        Ok(())
    })
}

/// Closure asymmetry per minute line (left − right, % of aperture) as a line through the
/// minutes' means, and under it the share of each minute with one eye over 25 % more
/// closed, as bars (blue: left, orange: right; on the same axis, in % of the minute).
pub fn severity_over_time(s: &Session) -> String {
    let Some(sev) = s.stats.severity.as_ref() else {
        return "<p class=\"note\">No closure measures in this log.</p>".to_string();
    };
    let minutes: Vec<_> = sev.minutes.iter().filter(|m| m.measured_s > 0.0).collect();
    let mid = |m: &crate::outputs::events::Minute| (m.start_s + m.end_s) / 2.0 / 60.0;
    let line: Vec<(f64, f64)> = minutes
        .iter()
        .map(|&m| (mid(m), m.asymmetry * 100.0))
        .collect();
    let extent = minutes
        .iter()
        .flat_map(|m| [m.asymmetry.abs(), m.beyond_left[1], m.beyond_right[1]])
        .fold(0.05, f64::max)
        * 110.0;
    let xmax = (s.stats.duration_s / 60.0)
        .max(minutes.last().map_or(1.0, |m| m.end_s / 60.0))
        .max(1.0);
    svg((760, 250), |root| {
        let mut chart = chart_frame(root, 56)
            .build_cartesian_2d(0.0..xmax, -extent..extent)
            .map_err(e2s)?;
        chart_mesh(&mut chart)
            .x_desc("time (min)")
            .y_desc("% of aperture")
            .draw()
            .map_err(e2s)?;
        // Left-more-closed shares above the axis, right-more-closed below.
        for m in &minutes {
            let (a, b) = (m.start_s / 60.0 + 0.1, m.end_s / 60.0 - 0.1);
            if b <= a {
                continue;
            }
            let up = m.beyond_left[1] * 100.0;
            let down = m.beyond_right[1] * 100.0;
            chart
                .draw_series([
                    Rectangle::new([(a, 0.0), (b, up)], LEFT_COLOR.mix(0.35).filled()),
                    Rectangle::new([(a, -down), (b, 0.0)], RIGHT_COLOR.mix(0.35).filled()),
                ])
                .map_err(e2s)?;
        }
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (xmax, 0.0)],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(e2s)?;
        chart
            .draw_series(LineSeries::new(line.clone(), BLACK.stroke_width(2)))
            .map_err(e2s)?;
        chart
            .draw_series(line.iter().map(|&p| Circle::new(p, 3, BLACK.filled())))
            .map_err(e2s)?;
        Ok(())
    })
}

/// A histogram of one or two samples (two: "before" and "after", drawn side by side in each
/// bin; the caption says which colour is which). `x_desc` names the axis.
pub fn histogram(samples: &[(&str, &[f64], RGBColor)], x_desc: &str) -> String {
    let all: Vec<f64> = samples
        .iter()
        .flat_map(|(_, v, _)| v.iter().copied())
        .filter(|x| x.is_finite())
        .collect();
    if all.is_empty() {
        return "<p class=\"note\">No twitches to show.</p>".to_string();
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let bins = ((all.len() as f64).sqrt().ceil() as usize).clamp(5, 20);
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let counts: Vec<Vec<usize>> = samples
        .iter()
        .map(|(_, v, _)| {
            let mut c = vec![0; bins];
            for &x in v.iter().filter(|x| x.is_finite()) {
                let i = (((x - lo) / width) as usize).min(bins - 1);
                c[i] += 1;
            }
            c
        })
        .collect();
    let ymax = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.15;
    let k = samples.len().max(1) as f64;
    svg((350, 250), |root| {
        let mut chart = chart_frame(root, 44)
            .build_cartesian_2d(lo..lo + width * bins as f64, 0.0..ymax)
            .map_err(e2s)?;
        chart_mesh(&mut chart)
            .x_labels(5)
            .y_labels((ymax as usize + 1).min(6))
            .y_label_formatter(&|y: &f64| {
                if (y - y.round()).abs() < 1e-9 {
                    format!("{y:.0}")
                } else {
                    String::new()
                }
            })
            .x_desc(x_desc)
            .y_desc("twitches")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(e2s)?;
        for (j, ((_, _, color), c)) in samples.iter().zip(&counts).enumerate() {
            let color = *color;
            let bars: Vec<_> = c
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, &n)| {
                    let x0 = lo + width * (i as f64 + 0.05 + 0.9 * j as f64 / k);
                    let x1 = x0 + width * 0.9 / k;
                    Rectangle::new([(x0, 0.0), (x1, n as f64)], color.filled())
                })
                .collect();
            chart.draw_series(bars).map_err(e2s)?;
        }
        Ok(())
    })
}
