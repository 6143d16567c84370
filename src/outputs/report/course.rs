//! `course`: a treatment course across weeks and months — spasms per observed hour by day
//! and side, treatment days, and per botulinum-toxin cycle the baseline, effect and
//! wearing-off (`crate::outputs::course` computes; this module loads, dates, draws and writes).
//!
//! Input: event logs or folders of them, each session dated by its `session` line's
//! `recorded` time or by a dates sheet; treatment days. Output: a self-contained HTML page
//! (inline SVG, no scripts) and optional CSV, created owner-only. Thread: main.

use super::html::{esc, page};
use super::plots::{FONT, LEFT_COLOR, LOST_COLOR, RIGHT_COLOR, chart_frame, chart_mesh, e2s, svg};
use super::{write_out, write_private};
use crate::outputs::course::{
    self, Course, CourseParams, DatedSession, Day, WearOff, count_interval, date_of, dispersion,
};
use crate::outputs::events::{Event, check_writable, read_log};
use crate::outputs::stats::SessionStats;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct CourseArgs {
    /// Event logs, or folders of them (their .jsonl files, not recursing).
    #[arg(required = true, value_name = "LOG.jsonl|FOLDER")]
    pub logs: Vec<PathBuf>,
    /// An injection day, YYYY-MM-DD, optionally labelled (2026-03-03=Botox 25 U). Repeat for
    /// each injection.
    #[arg(long = "treatment", value_name = "DATE[=LABEL]")]
    pub treatments: Vec<String>,
    /// Dates for logs that carry none (or a wrong one): CSV rows `log or clip,date`, e.g.
    /// `call-0303.events.jsonl,2026-03-03 14:00`. A header row is allowed.
    #[arg(long, value_name = "DATES.csv")]
    pub sheet: Option<PathBuf>,
    /// The HTML page to write.
    #[arg(long, value_name = "FILE", default_value = "course.html")]
    pub out: PathBuf,
    /// Also write the tables (days.csv, cycles.csv) and the figures (SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Baseline: days before each injection.
    #[arg(long, value_name = "DAYS", default_value_t = 28)]
    pub baseline_days: i64,
    /// Effect window: days after each injection, FROM-TO.
    #[arg(long, value_name = "FROM-TO", default_value = "14-42")]
    pub effect: String,
    /// Worn off: the smoothed rate is back at this percentage of baseline.
    #[arg(long, value_name = "PERCENT", default_value_t = 80.0)]
    pub back_percent: f64,
    /// Smoothing window for wearing off, in days (odd).
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub smooth_days: i64,
}

/// One session of one log, dated or not.
struct LoadedSession {
    log: String,
    start_local_s: Option<f64>,
    /// twitchwatch version and settings (JSON) of its session line.
    version: Option<String>,
    settings: String,
    stats: SessionStats,
    severity: Vec<(f64, [Option<f64>; 2])>,
}

pub fn run_course(a: &CourseArgs) -> Result<()> {
    let params = params_of(a)?;
    let treatments = a
        .treatments
        .iter()
        .map(|t| parse_treatment(t))
        .collect::<Result<Vec<_>>>()?;
    check_writable(&a.out).with_context(|| format!("{}: cannot write", a.out.display()))?;
    let sheet = match &a.sheet {
        Some(p) => read_sheet(p)?,
        None => HashMap::new(),
    };
    let logs = expand(&a.logs)?;
    let mut notes = Vec::new();
    let mut sessions = Vec::new();
    for p in &logs {
        sessions.extend(load_log(p, &sheet, &mut notes)?);
    }
    let undated: Vec<&str> = sessions
        .iter()
        .filter(|s| s.start_local_s.is_none())
        .map(|s| s.log.as_str())
        .collect();
    if !undated.is_empty() {
        let mut names = undated.clone();
        names.dedup();
        let shown: Vec<&str> = names.iter().take(5).copied().collect();
        let more = names.len().saturating_sub(5);
        let msg = format!(
            "{} session(s) have no recording date and are left out: {}{}; date them with --sheet DATES.csv (rows: log or clip, date) or re-analyse with --recorded DATE",
            undated.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        eprintln!("warning: {msg}");
        notes.push(msg);
    }
    sessions.retain(|s| s.start_local_s.is_some());
    if sessions.is_empty() {
        bail!(
            "no dated session in the logs given: date them with --sheet DATES.csv (rows: log or clip, date)"
        );
    }
    sessions.sort_by(|x, y| {
        let key = |s: &LoadedSession| s.start_local_s.unwrap_or_default();
        key(x).total_cmp(&key(y))
    });
    let dated: Vec<DatedSession> = sessions
        .iter()
        .map(|s| DatedSession {
            start_local_s: s.start_local_s.unwrap_or_default(),
            stats: &s.stats,
            severity: &s.severity,
        })
        .collect();
    let days = course::day_table(&dated, &params);
    let c = course::analyze(days, &treatments, &params);
    let changes = setting_changes(&sessions);
    for cy in &c.cycles {
        eprintln!("{}", sentence(cy, &c.params));
        for w in &cy.warnings {
            eprintln!("warning: {}: {w}", date_text(cy.injection));
        }
    }
    let figure = rate_figure(&c, &changes);
    let severity = severity_figure(&c);
    let html = course_html(
        &c,
        &figure,
        severity.as_deref(),
        &changes,
        &notes,
        &sessions,
    );
    write_out(&a.out, &html)?;
    if let Some(dir) = &a.csv {
        crate::outputs::events::create_dir_private(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        write_out(&dir.join("days.csv"), &days_csv(&c))?;
        write_out(&dir.join("cycles.csv"), &cycles_csv(&c))?;
        write_out(&dir.join("course_rate.svg"), &figure)?;
        if let Some(s) = &severity {
            write_private(&dir.join("course_severity.svg"), s.as_bytes())
                .with_context(|| format!("{}: cannot write", dir.display()))?;
        }
    }
    Ok(())
}

fn params_of(a: &CourseArgs) -> Result<CourseParams> {
    let (from, to) = a
        .effect
        .split_once('-')
        .and_then(|(f, t)| Some((f.trim().parse::<i64>().ok()?, t.trim().parse::<i64>().ok()?)))
        .filter(|(f, t)| *f >= 0 && t > f)
        .ok_or_else(|| anyhow!("--effect {}: use FROM-TO in days, e.g. 14-42", a.effect))?;
    if a.baseline_days < 1 {
        bail!("--baseline-days must be at least 1");
    }
    if !(a.back_percent > 0.0 && a.back_percent <= 100.0) {
        bail!("--back-percent must be above 0 and at most 100");
    }
    if a.smooth_days < 1 || a.smooth_days % 2 == 0 {
        bail!("--smooth-days must be odd (1, 3, 5, 7, ...)");
    }
    Ok(CourseParams {
        baseline_days: a.baseline_days,
        effect_from_day: from,
        effect_to_day: to,
        back_share: a.back_percent / 100.0,
        smooth_days: a.smooth_days,
        min_smooth_days: (a.smooth_days as usize).div_ceil(2).min(3),
        ..CourseParams::default()
    })
}

fn parse_treatment(s: &str) -> Result<(i64, String)> {
    let (date, label) = match s.split_once('=') {
        Some((d, l)) => (d, l.trim().to_string()),
        None => (s, String::new()),
    };
    let day = course::parse_day(date).map_err(|e| anyhow!("--treatment: {e}"))?;
    Ok((day, label))
}

/// Logs named on the command line, folders expanded to their `.jsonl` files (sorted).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot read the folder", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension()
                            .is_some_and(|x| x.eq_ignore_ascii_case("jsonl"))
                        && !f
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            if found.is_empty() {
                bail!("{}: no .jsonl event logs in this folder", p.display());
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The dates sheet: file name (of a log or of its clip) → local start (seconds, civil).
fn read_sheet(path: &Path) -> Result<HashMap<String, f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the dates sheet", path.display()))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, date)) = line.rsplit_once(',') else {
            bail!(
                "{} line {}: expected `log or clip,date`",
                path.display(),
                i + 1
            );
        };
        let name = name.trim().trim_matches('"');
        let date = date.trim().trim_matches('"');
        let when = match course::parse_when(date) {
            Ok(w) => w,
            Err(_) if i == 0 => continue, // a header row
            Err(e) => bail!("{} line {}: {e}", path.display(), i + 1),
        };
        let start = course::local_start_s(&when)
            .ok_or_else(|| anyhow!("{} line {}: cannot read {when}", path.display(), i + 1))?;
        let key = Path::new(name)
            .file_name()
            .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned());
        out.insert(key, start);
    }
    Ok(out)
}

/// The sheet's date for a log: by the log's file name, its clip's file name (from the
/// session line), or the clip's stem with `.events.jsonl`.
fn sheet_date(sheet: &HashMap<String, f64>, log: &str, source: Option<&str>) -> Option<f64> {
    if let Some(d) = sheet.get(log) {
        return Some(*d);
    }
    let clip = source.map(|s| s.split(" (").next().unwrap_or(s).trim());
    if let Some(d) = clip.and_then(|c| sheet.get(c)) {
        return Some(*d);
    }
    let stem = log.strip_suffix(".events.jsonl")?;
    sheet
        .iter()
        .find(|(k, _)| Path::new(k).file_stem().is_some_and(|s| s == stem))
        .map(|(_, d)| *d)
}

/// A log's sessions (a live log holds one per run, each from its `session` line on).
fn load_log(
    path: &Path,
    sheet: &HashMap<String, f64>,
    notes: &mut Vec<String>,
) -> Result<Vec<LoadedSession>> {
    let log = read_log(path).map_err(|e| anyhow!("{e}"))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    for w in &log.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    let severity = minute_severity(path);
    // Split at session lines.
    let mut parts: Vec<Vec<Event>> = Vec::new();
    for e in log.events {
        if matches!(e, Event::Session { .. }) || parts.is_empty() {
            parts.push(Vec::new());
        }
        if let Some(p) = parts.last_mut() {
            p.push(e);
        }
    }
    let single = parts.len() == 1;
    let mut out = Vec::new();
    for (i, events) in parts.into_iter().enumerate() {
        let (mut version, mut settings, mut recorded, mut source) =
            (None, String::new(), None, None);
        if let Some(Event::Session {
            version: v,
            detector_version: dv,
            settings: s,
            recorded: r,
            source: src,
            ..
        }) = events.first()
        {
            version = Some(match dv {
                Some(d) => format!("{v}, detector {d}"),
                None => v.clone(),
            });
            settings = s.to_string();
            recorded = r.clone();
            source = Some(src.clone());
        }
        let from_log = recorded.as_deref().and_then(course::local_start_s);
        let from_sheet = sheet_date(sheet, &name, source.as_deref());
        // The sheet is the user's word: it wins for a log of one session (a re-encode's
        // date, say); in a log of several sessions it dates only those without a date.
        let start = match (from_log, from_sheet) {
            (Some(l), Some(s)) if single => {
                if (l - s).abs() > 60.0 {
                    notes.push(format!("{name}: dated by the sheet, not by its log"));
                }
                Some(s)
            }
            (Some(l), _) => Some(l),
            (None, s) => s,
        };
        let stats = SessionStats::from_events(&events);
        out.push(LoadedSession {
            log: name.clone(),
            start_local_s: start,
            version,
            settings,
            severity: severity
                .iter()
                .filter(|m| m.0 == i)
                .map(|m| (m.1, m.2))
                .collect(),
            stats,
        });
    }
    Ok(out)
}

/// Per-minute severity lines (`"kind":"minute"`) of a log, if it has any: (session index,
/// seconds from the session start, [left, right]): each eye's mean closure
/// (`closure_left`, `closure_right`, fraction of its open aperture; `events::Minute`).
/// Other names per side are read too, and lines of any other shape are skipped.
fn minute_severity(path: &Path) -> Vec<(usize, f64, [Option<f64>; 2])> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    if !text.contains("\"minute\"") {
        return Vec::new();
    }
    const NAMES: [&str; 5] = [
        "closure",
        "severity",
        "closure_asymmetry",
        "mean_closure_asymmetry",
        "asymmetry",
    ];
    let side_value = |v: &serde_json::Value, side: &str| -> Option<f64> {
        for n in NAMES {
            if let Some(x) = v.get(format!("{n}_{side}")).and_then(|x| x.as_f64()) {
                return Some(x);
            }
            if let Some(x) = v.get(side).and_then(|o| o.get(n)).and_then(|x| x.as_f64()) {
                return Some(x);
            }
        }
        None
    };
    let mut out = Vec::new();
    let mut session = None::<usize>;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match v.get("kind").and_then(|k| k.as_str()) {
            Some("session") => session = Some(session.map_or(0, |s| s + 1)),
            Some("minute") => {
                let t = ["start_s", "t_s", "minute_s"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|x| x.as_f64()));
                let vals = [side_value(&v, "left"), side_value(&v, "right")];
                if let Some(t) = t
                    && (vals[0].is_some() || vals[1].is_some())
                {
                    out.push((session.unwrap_or(0), t, vals));
                }
            }
            _ => {}
        }
    }
    out
}

/// Days where the detector's version or settings differ from the session before.
fn setting_changes(sessions: &[LoadedSession]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut prev: Option<(&Option<String>, &str)> = None;
    for s in sessions {
        let cur = (&s.version, s.settings.as_str());
        if let Some(p) = prev
            && p != cur
        {
            let day = (s.start_local_s.unwrap_or_default() / 86_400.0).floor() as i64;
            let what = if p.0 != cur.0 {
                format!(
                    "twitchwatch {} → {}",
                    p.0.as_deref().unwrap_or("?"),
                    cur.0.as_deref().unwrap_or("?")
                )
            } else {
                "detector settings changed".to_string()
            };
            out.push((day, what));
        }
        prev = Some(cur);
    }
    out
}

fn date_text(day: i64) -> String {
    date_of(day).strftime("%-d %b %Y").to_string()
}

fn short_date(day: i64) -> String {
    date_of(day).strftime("%-d %b").to_string()
}

fn span_text(from: i64, to: i64) -> String {
    if from % 7 == 0 && (to + 1) % 7 == 0 {
        format!("weeks {}-{}", from / 7, (to + 1) / 7 - 1)
    } else if from % 7 == 0 && to % 7 == 0 {
        format!("weeks {}-{}", from / 7, to / 7)
    } else {
        format!("days {from}-{to}")
    }
}

/// The plain sentence of a cycle.
pub fn sentence(c: &course::Cycle, p: &CourseParams) -> String {
    let when = date_of(c.injection).strftime("%-d %B %Y").to_string();
    let pct = format!("{:.0} %", p.back_share * 100.0);
    let first = match c.ratio {
        Some(r) => format!(
            "After the injection on {when} the rate in {} was {:.2} of baseline (95 % CI {:.2}–{:.2})",
            span_text(p.effect_from_day, p.effect_to_day),
            r.ratio,
            r.low,
            r.high
        ),
        None => format!(
            "After the injection on {when} no ratio can be given (too little observation in the baseline or the effect window)"
        ),
    };
    let second = match &c.wear_off {
        WearOff::Back { day, low, high } => format!(
            "it was back at {pct} of baseline on day {day}, {} (95 % CI day {low}–{})",
            short_date(c.injection + day),
            high.map_or("beyond the days searched".to_string(), |h| h.to_string())
        ),
        WearOff::NotYet {
            until,
            next_injection: true,
            low,
        } => format!(
            "it was not back at {pct} of baseline before the next injection (searched to day {}{})",
            until - c.injection,
            not_yet_ci(*low)
        ),
        WearOff::NotYet { until, low, .. } => format!(
            "it was not yet back at {pct} of baseline by day {} ({}{})",
            until - c.injection,
            short_date(*until),
            not_yet_ci(*low)
        ),
        WearOff::NotEstimated(why) => format!("wearing off cannot be told ({why})"),
    };
    format!("{first}; {second}.")
}

/// The interval of a "not yet": its low end when the bootstrap puts it within the days
/// searched (the high end is open).
fn not_yet_ci(low: Option<i64>) -> String {
    low.map_or(String::new(), |l| format!("; 95 % CI day {l} or later"))
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

const TREAT_COLOR: RGBColor = RGBColor(0xa0, 0x10, 0x30);
const CHANGE_COLOR: RGBColor = RGBColor(0x70, 0x70, 0x70);
const BASE_BAND: RGBColor = RGBColor(0xe8, 0xee, 0xf8);
const EFFECT_BAND: RGBColor = RGBColor(0xe6, 0xf4, 0xe6);
const SMOOTH_COLOR: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// A plotted point: x (day number, centre), rate, interval, per side.
struct Point {
    x: f64,
    rate: f64,
    low: f64,
    high: f64,
}

/// Days are shown one by one, or in weeks when fewer than a third of the days were used.
fn weekly(c: &Course) -> bool {
    let used = c.days.iter().filter(|d| d.used).count();
    used * 3 < c.days.len()
}

fn points(c: &Course, side: usize, phi: f64) -> Vec<Point> {
    let bin = if weekly(c) { 7 } else { 1 };
    let mut out = Vec::new();
    for chunk in c.days.chunks(bin) {
        let used: Vec<&Day> = chunk.iter().filter(|d| d.used).collect();
        let t: f64 = used.iter().map(|d| d.observed_s / 3600.0).sum();
        if used.is_empty() || t <= 0.0 {
            continue;
        }
        let n: u64 = used.iter().map(|d| d.twitches[side]).sum();
        let (lo, hi) = count_interval(n, phi);
        let x = chunk[0].day as f64 + (chunk.len() as f64 - 1.0) / 2.0;
        out.push(Point {
            x,
            rate: n as f64 / t,
            low: lo / t,
            high: hi / t,
        });
    }
    out
}

/// The course's rate per observed hour by day (or week) and side, with treatment days,
/// windows, smoothed rate after each effect window, wearing-off days, detector changes and
/// days without observation.
fn rate_figure(c: &Course, changes: &[(i64, String)]) -> String {
    let (Some(first), Some(last)) = (c.days.first(), c.days.last()) else {
        return "<p class=\"note\">No days to draw.</p>".to_string();
    };
    let phi = dispersion(&c.days, &c.params);
    let sides = [points(c, 0, phi), points(c, 1, phi)];
    let mut x0 = first.day as f64 - 0.5;
    let mut x1 = last.day as f64 + 0.5;
    for cy in &c.cycles {
        x0 = x0.min(cy.injection as f64 - 1.0);
        x1 = x1.max(cy.injection as f64 + 1.0);
    }
    // The points set the scale; long whiskers of short days are cut at the top.
    let ymax = sides.iter().flatten().map(|p| p.rate).fold(1.0, f64::max) * 1.3;
    svg((760, 340), |root| {
        let mut chart = chart_frame(root, 60)
            .margin_top(28)
            .build_cartesian_2d(x0..x1, 0.0..ymax)
            .map_err(e2s)?;
        chart_mesh(&mut chart)
            .x_labels(10)
            .x_label_formatter(&|x: &f64| short_date(x.round() as i64))
            .y_desc("spasms per observed hour")
            .draw()
            .map_err(e2s)?;
        // Windows fixed in advance.
        for cy in &c.cycles {
            let band = |from: i64, to: i64, color: RGBColor| {
                Rectangle::new(
                    [(from as f64 - 0.5, 0.0), (to as f64 + 0.5, ymax)],
                    color.filled(),
                )
            };
            chart
                .draw_series([
                    band(cy.baseline.from, cy.baseline.to, BASE_BAND),
                    band(cy.effect.from, cy.effect.to, EFFECT_BAND),
                ])
                .map_err(e2s)?;
        }
        // Days without usable observation: a grey tick at the foot (never bridged).
        let foot = ymax * 0.025;
        chart
            .draw_series(c.days.iter().filter(|d| !d.used).map(|d| {
                Rectangle::new(
                    [(d.day as f64 - 0.5, 0.0), (d.day as f64 + 0.5, foot)],
                    LOST_COLOR.filled(),
                )
            }))
            .map_err(e2s)?;
        // Detector changes.
        for (day, _) in changes {
            let x = *day as f64;
            chart
                .draw_series(DashedLineSeries::new(
                    [(x, 0.0), (x, ymax)],
                    4,
                    4,
                    CHANGE_COLOR.stroke_width(1),
                ))
                .map_err(e2s)?;
            chart
                .draw_series([Text::new(
                    "detector changed",
                    (x, ymax * 0.8),
                    (FONT, 12).into_font().color(&CHANGE_COLOR),
                )])
                .map_err(e2s)?;
        }
        // Points with intervals, per side.
        for (side, pts) in sides.iter().enumerate() {
            let color = if side == 0 { LEFT_COLOR } else { RIGHT_COLOR };
            chart
                .draw_series(pts.iter().map(|p| {
                    PathElement::new(
                        [(p.x, p.low), (p.x, p.high.min(ymax))],
                        color.mix(0.45).stroke_width(1),
                    )
                }))
                .map_err(e2s)?;
            chart
                .draw_series(
                    pts.iter()
                        .map(|p| Circle::new((p.x, p.rate), 3, color.filled())),
                )
                .map_err(e2s)?;
        }
        for cy in &c.cycles {
            // Baseline and effect-window rates as levels over their windows.
            for (w, style) in [(&cy.baseline, SMOOTH_COLOR), (&cy.effect, SMOOTH_COLOR)] {
                if let Some(r) = w.rate_per_h {
                    chart
                        .draw_series([PathElement::new(
                            [(w.from as f64 - 0.5, r), (w.to as f64 + 0.5, r)],
                            style.stroke_width(2),
                        )])
                        .map_err(e2s)?;
                }
            }
            // The smoothed rate after the effect window, broken where it is undefined.
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut runs = Vec::new();
            for (d, v) in &cy.smoothed {
                match v {
                    Some(r) => run.push((*d as f64, *r)),
                    None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                    None => {}
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for r in runs {
                chart
                    .draw_series(LineSeries::new(r, SMOOTH_COLOR.stroke_width(2)))
                    .map_err(e2s)?;
            }
            if let (Some(rb), Some((a, _)), Some((b, _))) = (
                cy.baseline.rate_per_h,
                cy.smoothed.first(),
                cy.smoothed.last(),
            ) {
                let y = rb * c.params.back_share;
                chart
                    .draw_series(DashedLineSeries::new(
                        [(*a as f64, y), (*b as f64, y)],
                        6,
                        4,
                        SMOOTH_COLOR.stroke_width(1),
                    ))
                    .map_err(e2s)?;
            }
            if let WearOff::Back { day, low, high } = &cy.wear_off {
                let x = (cy.injection + day) as f64;
                let y = ymax * 0.9;
                let hi = high.map_or(x1, |h| (cy.injection + h) as f64);
                chart
                    .draw_series([PathElement::new(
                        [((cy.injection + low) as f64, y), (hi, y)],
                        TREAT_COLOR.stroke_width(2),
                    )])
                    .map_err(e2s)?;
                chart
                    .draw_series([TriangleMarker::new((x, y), 7, TREAT_COLOR.filled())])
                    .map_err(e2s)?;
            }
        }
        // Treatment days.
        injection_lines(&mut chart, c, ymax)?;
        for cy in &c.cycles {
            let x = cy.injection as f64;
            let label = if cy.label.is_empty() {
                format!("injection {}", short_date(cy.injection))
            } else {
                cy.label.clone()
            };
            chart
                .draw_series([Text::new(
                    label,
                    (x + 0.8, ymax * 0.985),
                    (FONT, 13).into_font().color(&TREAT_COLOR),
                )])
                .map_err(e2s)?;
        }
        Ok(())
    })
}

/// A vertical line at each injection day, from 0 to `ymax`.
fn injection_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    c: &Course,
    ymax: f64,
) -> Result<(), String> {
    for cy in &c.cycles {
        let x = cy.injection as f64;
        chart
            .draw_series([PathElement::new(
                [(x, 0.0), (x, ymax)],
                TREAT_COLOR.stroke_width(2),
            )])
            .map_err(e2s)?;
    }
    Ok(())
}

/// Mean per-minute severity by day and side, when the logs carry it.
fn severity_figure(c: &Course) -> Option<String> {
    let pts: [Vec<(f64, f64)>; 2] = [0, 1].map(|side| {
        c.days
            .iter()
            .filter_map(|d| d.severity[side].map(|v| (d.day as f64, v)))
            .collect()
    });
    if pts.iter().all(Vec::is_empty) {
        return None;
    }
    let (first, last) = (c.days.first()?.day as f64, c.days.last()?.day as f64);
    let ymax = pts
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-6)
        * 1.15;
    Some(svg((760, 220), |root| {
        let mut chart = chart_frame(root, 60)
            .build_cartesian_2d(first - 0.5..last + 0.5, 0.0..ymax)
            .map_err(e2s)?;
        chart_mesh(&mut chart)
            .x_labels(10)
            .x_label_formatter(&|x: &f64| short_date(x.round() as i64))
            .y_desc("severity index")
            .draw()
            .map_err(e2s)?;
        injection_lines(&mut chart, c, ymax)?;
        for (side, p) in pts.iter().enumerate() {
            let color = if side == 0 { LEFT_COLOR } else { RIGHT_COLOR };
            chart
                .draw_series(p.iter().map(|&q| Circle::new(q, 3, color.filled())))
                .map_err(e2s)?;
        }
        Ok(())
    }))
}

// ---------------------------------------------------------------------------------------------
// Page and tables
// ---------------------------------------------------------------------------------------------

fn rate_text(r: Option<f64>) -> String {
    r.map_or("—".to_string(), |v| format!("{v:.1}"))
}

fn course_html(
    c: &Course,
    figure: &str,
    severity: Option<&str>,
    changes: &[(i64, String)],
    notes: &[String],
    sessions: &[LoadedSession],
) -> String {
    let p = &c.params;
    let mut b = String::from("<h1>Treatment course</h1>\n");
    let used = c.days.iter().filter(|d| d.used).count();
    let hours: f64 = c.days.iter().map(|d| d.observed_s).sum::<f64>() / 3600.0;
    let logs: std::collections::BTreeSet<&str> = sessions.iter().map(|s| s.log.as_str()).collect();
    let _ = writeln!(
        b,
        "<p class=\"meta\">{} session(s) in {} log(s), {} to {}: {:.1} hours with the face in view on {} of {} days.</p>",
        sessions.len(),
        logs.len(),
        c.days.first().map_or(String::new(), |d| date_text(d.day)),
        c.days.last().map_or(String::new(), |d| date_text(d.day)),
        hours,
        used,
        c.days.len()
    );
    let mut all_notes: Vec<String> = notes.to_vec();
    for (day, what) in changes {
        all_notes.push(format!(
            "{}: {what} (marked on the chart; rates on either side may not be comparable)",
            date_text(*day)
        ));
    }
    if !all_notes.is_empty() {
        b.push_str("<div class=\"notes\"><strong>Notes on the input</strong><ul>\n");
        for n in &all_notes {
            let _ = writeln!(b, "<li>{}</li>", esc(n));
        }
        b.push_str("</ul></div>\n");
    }
    if c.cycles.is_empty() {
        b.push_str("<p class=\"note\">No treatment day given (--treatment DATE): the course is drawn without cycles.</p>\n");
    }
    for cy in &c.cycles {
        let _ = writeln!(b, "<p class=\"summary\">{}</p>", esc(&sentence(cy, p)));
        for w in &cy.warnings {
            let _ = writeln!(
                b,
                "<div class=\"warning\">{}: {}</div>",
                esc(&date_text(cy.injection)),
                esc(w)
            );
        }
    }
    let unit = if weekly(c) {
        "week (days are sparse)"
    } else {
        "day"
    };
    let c2 = |col: RGBColor| format!("#{:02x}{:02x}{:02x}", col.0, col.1, col.2);
    let _ = write!(
        b,
        "<h2>Spasms per observed hour</h2>\n<p class=\"key meta\">Key:<span style=\"background:{}\"></span>left side\
         <span style=\"background:{}\"></span>right side<span style=\"background:{}\"></span>baseline window\
         <span style=\"background:{}\"></span>effect window<span style=\"background:#d0d0d0\"></span>day not observed or under {:.0} min\
         <span style=\"background:{}\"></span>injection, wearing-off day ▲ with its interval</p>\n\
         <figure>{figure}<figcaption>One point per {unit} and side with its 95 % interval (Poisson, widened by the course's \
         day-to-day dispersion). Black: the baseline and effect-window rates, the smoothed rate after the effect window \
         ({}-day centred window, broken where it has fewer than {} observed days) and, dashed, {:.0} % of baseline.</figcaption></figure>\n",
        c2(LEFT_COLOR),
        c2(RIGHT_COLOR),
        c2(BASE_BAND),
        c2(EFFECT_BAND),
        p.min_day_observed_s / 60.0,
        c2(TREAT_COLOR),
        p.smooth_days,
        p.min_smooth_days,
        p.back_share * 100.0
    );
    if let Some(s) = severity {
        let _ = writeln!(
            b,
            "<h2>Severity</h2>\n<figure>{s}<figcaption>Mean per-minute severity index by day (blue: left, orange: right), from the logs' minute lines.</figcaption></figure>"
        );
    }
    b.push_str("<h2>Cycles</h2>\n");
    b.push_str(&cycles_table(c));
    let _ = write!(
        b,
        "<h2>Method</h2>\n<p class=\"meta\">Windows are fixed in advance: baseline = the {} days before the injection; \
         effect window = days {}–{} after it (day 0 = the injection day). A day counts when the face was in view for at \
         least {:.0} minutes (days with less are shown but not used); a window gives a rate with at least {} such days and \
         {:.0} observed hours, otherwise no ratio. Rates are twitches / observed hours over a window's days, so days weigh by \
         their observed time. The ratio's 95 % interval is on the log scale with each window's variance estimated from its \
         days (robust to day-to-day variation beyond Poisson) and a t quantile (Welch). Wearing off: the first day after the \
         effect window whose {}-day centred smoothed rate is at least {:.0} % of baseline, searched until the next injection \
         or the end of the data (\"not yet\" when it never is); its 95 % interval is a bootstrap ({} resamples, seed {}) \
         that resamples baseline days and perturbs each later day by its own deviation with a random sign, keeping time order; \
         it spans the percentile and the basic bootstrap intervals. \
         Gaps are never interpolated. Generated by twitchwatch {}.</p>\n",
        p.baseline_days,
        p.effect_from_day,
        p.effect_to_day,
        p.min_day_observed_s / 60.0,
        p.min_window_days,
        p.min_window_hours,
        p.smooth_days,
        p.back_share * 100.0,
        p.resamples,
        p.seed,
        env!("CARGO_PKG_VERSION")
    );
    page("Treatment course", &b)
}

fn cycles_table(c: &Course) -> String {
    let mut t = String::from(
        "<table><thead><tr><th>Injection</th><th>Baseline (days used, hours)</th><th>Baseline per hour</th>\
         <th>Effect window (days used, hours)</th><th>Effect per hour</th><th>Ratio (95 % CI)</th>\
         <th>Back at baseline share (95 % CI)</th></tr></thead><tbody>\n",
    );
    for cy in &c.cycles {
        let w = |w: &course::Window| {
            format!(
                "{}–{} ({}, {:.1})",
                short_date(w.from),
                short_date(w.to),
                w.used_days,
                w.observed_h
            )
        };
        let ratio = cy.ratio.map_or("—".to_string(), |r| {
            format!("{:.2} ({:.2}–{:.2})", r.ratio, r.low, r.high)
        });
        let wear = match &cy.wear_off {
            WearOff::Back { day, low, high } => format!(
                "day {day}, {} ({low}–{})",
                short_date(cy.injection + day),
                high.map_or("beyond".to_string(), |h| h.to_string())
            ),
            WearOff::NotYet { low, .. } => match low {
                Some(l) => format!("not yet ({l}–)"),
                None => "not yet".to_string(),
            },
            WearOff::NotEstimated(_) => "—".to_string(),
        };
        let name = if cy.label.is_empty() {
            date_text(cy.injection)
        } else {
            format!("{} ({})", date_text(cy.injection), cy.label)
        };
        let _ = writeln!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            w(&cy.baseline),
            rate_text(cy.baseline.rate_per_h),
            w(&cy.effect),
            rate_text(cy.effect.rate_per_h),
            ratio,
            wear
        );
    }
    t.push_str("</tbody></table>\n");
    t
}

fn opt(x: Option<f64>, d: usize) -> String {
    x.filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v:.d$}"))
}

/// One row per calendar day of the course.
pub fn days_csv(c: &Course) -> String {
    let phi = dispersion(&c.days, &c.params);
    let mut out = String::from(
        "date,observed_min,used,twitches,twitches_left,twitches_right,per_hour,per_hour_low,per_hour_high,severity_left,severity_right\n",
    );
    for d in &c.days {
        let t = d.observed_s / 3600.0;
        let (lo, hi) = count_interval(d.total(), phi);
        let per = |x: f64| (t > 0.0).then(|| x / t);
        let _ = writeln!(
            out,
            "{},{:.2},{},{},{},{},{},{},{},{},{}",
            date_of(d.day),
            d.observed_s / 60.0,
            if d.used { "yes" } else { "no" },
            d.total(),
            d.twitches[0],
            d.twitches[1],
            opt(per(d.total() as f64), 3),
            opt(per(lo), 3),
            opt(per(hi), 3),
            opt(d.severity[0], 4),
            opt(d.severity[1], 4),
        );
    }
    out
}

/// One row per treatment cycle.
pub fn cycles_csv(c: &Course) -> String {
    let p = &c.params;
    let mut out = String::from(
        "injection,label,baseline_from,baseline_to,baseline_days_used,baseline_hours,baseline_twitches,baseline_per_hour,\
effect_from,effect_to,effect_days_used,effect_hours,effect_twitches,effect_per_hour,ratio,ratio_low,ratio_high,\
back_share,smooth_days,wear_off,wear_off_day,wear_off_date,wear_off_low,wear_off_high,warnings\n",
    );
    for cy in &c.cycles {
        let (status, day, date, lo, hi) = match &cy.wear_off {
            WearOff::Back { day, low, high } => (
                "back",
                day.to_string(),
                date_of(cy.injection + day).to_string(),
                low.to_string(),
                high.map_or(String::new(), |h| h.to_string()),
            ),
            WearOff::NotYet { low, .. } => (
                "not yet",
                String::new(),
                String::new(),
                low.map_or(String::new(), |l| l.to_string()),
                String::new(),
            ),
            WearOff::NotEstimated(_) => (
                "not estimated",
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        let cells = [
            date_of(cy.injection).to_string(),
            super::csv::field(&cy.label),
            date_of(cy.baseline.from).to_string(),
            date_of(cy.baseline.to).to_string(),
            cy.baseline.used_days.to_string(),
            format!("{:.2}", cy.baseline.observed_h),
            cy.baseline.twitches.to_string(),
            opt(cy.baseline.rate_per_h, 3),
            date_of(cy.effect.from).to_string(),
            date_of(cy.effect.to).to_string(),
            cy.effect.used_days.to_string(),
            format!("{:.2}", cy.effect.observed_h),
            cy.effect.twitches.to_string(),
            opt(cy.effect.rate_per_h, 3),
            opt(cy.ratio.map(|r| r.ratio), 3),
            opt(cy.ratio.map(|r| r.low), 3),
            opt(cy.ratio.map(|r| r.high), 3),
            format!("{:.2}", p.back_share),
            p.smooth_days.to_string(),
            status.to_string(),
            day,
            date,
            lo,
            hi,
            super::csv::field(&cy.warnings.join("; ")),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
