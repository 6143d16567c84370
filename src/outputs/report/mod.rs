//! Therapist reports: `report` (one or more sessions, each and pooled) and `compare` (before
//! and after a treatment), as a self-contained HTML page and optional CSV.
//!
//! Input: event logs (`events::read_log`). Output: files created owner-readable only, and
//! each reader warning once on stderr. Every number comes from `stats`; this module only
//! gathers, formats and draws. Thread: main.

pub mod course;
mod csv;
mod html;
mod plots;

use crate::outputs::events::{Event, check_writable, read_log};
use crate::outputs::stats::{
    Interval, MannWhitney, RateRatio, SessionStats, StrongRate, bootstrap_median_diff, enough_time,
    mann_whitney, rate_ratio, ratio_diff_interval, strong_rate_ratio,
};
use anyhow::{Context, Result};
use clap::Args;
use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use csv::{comparison_csv, sessions_csv};
pub use html::{compare_html, report_html};

/// Seed of every bootstrap in a report: the same logs always give the same intervals.
pub const SEED: u64 = 20_240_611;
/// Bootstrap resamples for every interval in a report.
pub const RESAMPLES: usize = 2000;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Event logs (from `analyze`), one per session.
    #[arg(required = true, value_name = "LOG.jsonl")]
    pub logs: Vec<PathBuf>,
    /// The HTML report to write.
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub out: PathBuf,
    /// Also write the tables (sessions.csv) and every figure (SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Count only twitches whose confidence is at least X (0..1); the page says so.
    #[arg(long, value_name = "X", value_parser = parse_confidence)]
    pub min_confidence: Option<f64>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Event logs from before the treatment.
    #[arg(long, required = true, num_args = 1.., value_name = "LOG.jsonl")]
    pub before: Vec<PathBuf>,
    /// Event logs from after the treatment.
    #[arg(long, required = true, num_args = 1.., value_name = "LOG.jsonl")]
    pub after: Vec<PathBuf>,
    /// The HTML comparison to write.
    #[arg(long, value_name = "FILE", default_value = "compare.html")]
    pub out: PathBuf,
    /// Also write the tables (sessions.csv, comparison.csv) and every figure (SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Count only twitches whose confidence is at least X (0..1); the page says so.
    #[arg(long, value_name = "X", value_parser = parse_confidence)]
    pub min_confidence: Option<f64>,
}

/// `--min-confidence`: a number from 0 to 1.
fn parse_confidence(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a number from 0 to 1, got {s:?}")),
    }
}

/// Twitches below a confidence were left out of a session (`--min-confidence`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceFilter {
    pub min: f64,
    /// Twitches left out.
    pub dropped: usize,
}

/// One session (one log), or several pooled into one.
#[derive(Debug, Clone)]
pub struct Session {
    /// File name of the log, or "pooled".
    pub name: String,
    /// What the log says produced it (the `source` of its `session` line).
    pub source: Option<String>,
    /// twitchwatch version that wrote the log.
    pub version: Option<String>,
    pub events: Vec<Event>,
    pub stats: SessionStats,
    /// 95 % interval of the share of observed time in spasm (needs ≥ 2 observed blocks).
    pub share: Option<Interval>,
    /// 95 % interval of the mean closure asymmetry (needs ≥ 2 minute lines).
    pub asymmetry: Option<Interval>,
    /// Set when twitches below a confidence were left out.
    pub filter: Option<ConfidenceFilter>,
    /// Things the reader of the report should know (empty log, no face, ...).
    pub notes: Vec<String>,
}

impl Session {
    pub fn from_events(name: &str, events: Vec<Event>) -> Session {
        let (mut source, mut version) = (None, None);
        for e in &events {
            if let Event::Session {
                version: v,
                source: s,
                ..
            } = e
            {
                source.get_or_insert_with(|| s.clone());
                version.get_or_insert_with(|| v.clone());
            }
        }
        let stats = SessionStats::from_events(&events);
        let share = stats.share_interval(SEED, RESAMPLES);
        let asymmetry = stats
            .severity
            .as_ref()
            .and_then(|v| v.asymmetry_interval(SEED, RESAMPLES));
        let mut notes = Vec::new();
        if events.is_empty() {
            notes.push("the log holds no events".to_string());
        } else if stats.duration_s > 0.0 && stats.observed_s <= 0.0 {
            notes.push("the face was never in view: nothing could be observed".to_string());
        } else if stats.duration_s <= 0.0 {
            notes.push("the log covers no time".to_string());
        }
        if events.iter().any(|e| matches!(e, Event::Session { .. }))
            && !events.iter().any(|e| matches!(e, Event::Summary { .. }))
        {
            notes.push(
                "the log has no summary line (analysis interrupted?); its length is taken from the last event"
                    .to_string(),
            );
        }
        if stats.outside_span > 0 {
            notes.push(format!(
                "{} twitch(es) lie outside the session's time span and are not counted",
                stats.outside_span
            ));
        }
        Session {
            name: name.to_string(),
            source,
            version,
            events,
            stats,
            share,
            asymmetry,
            filter: None,
            notes,
        }
    }

    /// Leaves out twitches with a confidence below `min` (a missing or non-finite confidence
    /// counts as below) and recomputes everything.
    pub fn with_min_confidence(self, min: f64) -> Session {
        let before = self.events.len();
        let events: Vec<Event> = self
            .events
            .into_iter()
            .filter(|e| e.as_twitch().is_none_or(|t| t.confidence >= min))
            .collect();
        let dropped = before - events.len();
        let mut s = Session::from_events(&self.name, events);
        s.notes = self.notes;
        s.filter = Some(ConfidenceFilter { min, dropped });
        s
    }

    /// Twitch rate per observed minute in a region (either side).
    fn region_per_minute(&self, count: usize) -> Option<f64> {
        (self.stats.observed_s > 0.0).then(|| count as f64 * 60.0 / self.stats.observed_s)
    }
}

/// Several sessions as one: events laid end to end (each shifted by the length of those
/// before it), one summary with the total length. Twitches outside a session's span stay
/// out, as they do in each session.
pub fn pool(sessions: &[Session], name: &str) -> Session {
    let mut events = Vec::new();
    let mut offset = 0.0;
    let mut outside = 0;
    for s in sessions {
        let d = s.stats.duration_s;
        for e in &s.events {
            match e {
                Event::Twitch(t) => {
                    let inside = t.start_s.is_finite()
                        && t.end_s.is_finite()
                        && t.end_s >= t.start_s
                        && t.end_s >= 0.0
                        && t.start_s <= d;
                    if inside {
                        let mut t = t.clone();
                        t.start_s += offset;
                        t.end_s = (t.end_s + offset).min(offset + d);
                        events.push(Event::Twitch(t));
                    } else {
                        outside += 1;
                    }
                }
                e if e.gap().is_some() => {
                    let mut gap = e.clone();
                    if let Some((start_s, end_s)) = gap.gap_mut() {
                        *start_s = start_s.max(0.0) + offset;
                        *end_s = end_s.min(d) + offset;
                    }
                    events.push(gap);
                }
                Event::Minute(m) => {
                    let mut m = m.clone();
                    m.start_s += offset;
                    m.end_s += offset;
                    events.push(Event::Minute(m));
                }
                _ => {}
            }
        }
        offset += d;
    }
    let left = events
        .iter()
        .filter_map(Event::as_twitch)
        .filter(|t| t.side == crate::analysis::anatomy::Side::Left)
        .count() as u64;
    let total = events.iter().filter_map(Event::as_twitch).count() as u64;
    events.push(Event::Summary {
        duration_s: offset,
        observed_s: sessions.iter().map(|s| s.stats.observed_s).sum(),
        frames: 0,
        twitches_left: left,
        twitches_right: total - left,
        per_minute_left: 0.0,
        per_minute_right: 0.0,
        frames_dropped: None,
        error: None,
        decode_gaps: Vec::new(),
    });
    let mut p = Session::from_events(name, events);
    p.stats.outside_span += outside;
    p.notes.clear();
    p.filter = sessions
        .first()
        .and_then(|s| s.filter)
        .map(|f| ConfidenceFilter {
            dropped: sessions
                .iter()
                .filter_map(|s| s.filter)
                .map(|f| f.dropped)
                .sum(),
            ..f
        });
    p
}

/// A named number of a session, as it goes into CSV (and the comparison).
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Column name in CSV.
    pub key: &'static str,
    /// Plain-language name.
    pub label: &'static str,
    pub decimals: usize,
    pub value: Option<f64>,
}

/// Every measure of a session, in report order.
pub fn measures(s: &Session) -> Vec<Measure> {
    let st = &s.stats;
    let a = &st.all;
    let sev = st.severity.as_ref();
    let m = |key, label, decimals, value| Measure {
        key,
        label,
        decimals,
        value,
    };
    let pct = |x: Option<f64>| x.map(|v| v * 100.0);
    let count = |n: usize| Some(n as f64);
    vec![
        m(
            "recorded_min",
            "Recorded (min)",
            2,
            Some(st.duration_s / 60.0),
        ),
        m(
            "observed_min",
            "Observed, face in view (min)",
            2,
            Some(st.observed_s / 60.0),
        ),
        m(
            "face_lost_min",
            "Face lost, excluded (min)",
            2,
            Some(st.lost_s / 60.0),
        ),
        m("twitches", "Twitches", 0, count(a.count)),
        m(
            "twitches_left",
            "Twitches, left side",
            0,
            count(st.left.count),
        ),
        m(
            "twitches_right",
            "Twitches, right side",
            0,
            count(st.right.count),
        ),
        m("per_min", "Twitches per minute", 2, a.per_minute),
        m(
            "per_min_left",
            "Per minute, left side",
            2,
            st.left.per_minute,
        ),
        m(
            "per_min_right",
            "Per minute, right side",
            2,
            st.right.per_minute,
        ),
        m(
            "per_min_eye",
            "Per minute, involving the eye",
            2,
            s.region_per_minute(a.by_region.eye),
        ),
        m(
            "per_min_cheek",
            "Per minute, involving the cheek",
            2,
            s.region_per_minute(a.by_region.cheek),
        ),
        m(
            "per_min_mouth",
            "Per minute, involving the mouth",
            2,
            s.region_per_minute(a.by_region.mouth),
        ),
        m(
            "duration_median_s",
            "Duration, median (s)",
            2,
            a.duration.map(|d| d.median),
        ),
        m(
            "duration_q1_s",
            "Duration, lower quartile (s)",
            2,
            a.duration.map(|d| d.q1),
        ),
        m(
            "duration_q3_s",
            "Duration, upper quartile (s)",
            2,
            a.duration.map(|d| d.q3),
        ),
        m(
            "spasm_share_pct",
            "Time in spasm (% of observed)",
            2,
            pct(a.spasm_share),
        ),
        m(
            "spasm_share_low_pct",
            "Time in spasm, 95% interval low (%)",
            2,
            pct(s.share.map(|i| i.low)),
        ),
        m(
            "spasm_share_high_pct",
            "Time in spasm, 95% interval high (%)",
            2,
            pct(s.share.map(|i| i.high)),
        ),
        m(
            "intensity_median",
            "Intensity (peak), median",
            2,
            a.peak.map(|d| d.median),
        ),
        m(
            "intensity_q1",
            "Intensity, lower quartile",
            2,
            a.peak.map(|d| d.q1),
        ),
        m(
            "intensity_q3",
            "Intensity, upper quartile",
            2,
            a.peak.map(|d| d.q3),
        ),
        m(
            "intensity_max",
            "Intensity, highest",
            2,
            a.peak.map(|d| d.max),
        ),
        m("clonic", "Clonic (repeated jerks)", 0, count(a.clonic)),
        m("tonic", "Tonic (sustained squeeze)", 0, count(a.tonic)),
        m("eye_only", "Eye only", 0, count(a.spread.eye_only)),
        m(
            "eye_and_lower",
            "Eye and lower face",
            0,
            count(a.spread.eye_and_lower),
        ),
        m(
            "lower_only",
            "Lower face only",
            0,
            count(a.spread.lower_only),
        ),
        m(
            "closure_measured_min",
            "Eye closure measured (min)",
            2,
            Some(sev.map_or(0.0, |v| v.measured_s) / 60.0),
        ),
        m(
            "closure_asymmetry_pct",
            "Closure asymmetry, left − right (% of aperture)",
            2,
            pct(sev.map(|v| v.asymmetry)),
        ),
        m(
            "closure_asymmetry_low_pct",
            "Closure asymmetry, 95% interval low",
            2,
            pct(s.asymmetry.map(|i| i.low)),
        ),
        m(
            "closure_asymmetry_high_pct",
            "Closure asymmetry, 95% interval high",
            2,
            pct(s.asymmetry.map(|i| i.high)),
        ),
        m(
            "closure_left_pct",
            "Eye closure, left (% of aperture)",
            2,
            pct(sev.map(|v| v.closure[0])),
        ),
        m(
            "closure_right_pct",
            "Eye closure, right (% of aperture)",
            2,
            pct(sev.map(|v| v.closure[1])),
        ),
        m(
            "asymmetric_10_pct",
            "Time with one eye over 10% more closed (%)",
            2,
            pct(sev.map(|v| v.beyond(0))),
        ),
        m(
            "asymmetric_25_pct",
            "Time with one eye over 25% more closed (%)",
            2,
            pct(sev.map(|v| v.beyond(1))),
        ),
        m(
            "asymmetric_50_pct",
            "Time with one eye over 50% more closed (%)",
            2,
            pct(sev.map(|v| v.beyond(2))),
        ),
    ]
}

/// Fixed decimals; empty when there is no value (or it is not finite).
pub fn fixed(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.decimals$}");
            // No "-0.00".
            if s.trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                s.trim_start_matches('-').to_string()
            } else {
                s
            }
        }
        _ => String::new(),
    }
}

/// Drops the sign of numbers that print as zero ("-0.0" → "0.0", "+0.00" → "0.00"), which
/// rounding of tiny float errors would otherwise show.
pub fn unsign_zeros(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c == '-' || c == '+') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            if chars[i + 1..j].iter().all(|&d| d == '0' || d == '.') {
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Before / after, pooled over the sessions of each.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub before: Vec<Session>,
    pub after: Vec<Session>,
    pub pooled_before: Session,
    pub pooled_after: Session,
    /// After / before, all twitches, then left and right.
    pub rate: Option<RateRatio>,
    pub rate_left: Option<RateRatio>,
    pub rate_right: Option<RateRatio>,
    /// Median after − median before, bootstrap interval.
    pub duration_diff: Option<Interval>,
    pub duration_test: Option<MannWhitney>,
    pub intensity_diff: Option<Interval>,
    pub intensity_test: Option<MannWhitney>,
    /// Twitches at or above the before period's median peak, in both periods.
    pub strong: StrongRate,
    /// Mean closure asymmetry after − before, block bootstrap over minutes.
    pub asymmetry_diff: Option<Interval>,
    /// From `stats::enough_time`: the data are too short to conclude.
    pub warning: Option<String>,
    /// One plain-language sentence about the twitch rate.
    pub summary: String,
}

pub fn compare(before: Vec<Session>, after: Vec<Session>) -> Comparison {
    let pb = pool(&before, "before (pooled)");
    let pa = pool(&after, "after (pooled)");
    let (b, a) = (&pb.stats, &pa.stats);
    let rr = |nb: usize, na: usize| rate_ratio(nb as u64, b.observed_s, na as u64, a.observed_s);
    let rate = rr(b.all.count, a.all.count);
    let warning = enough_time(
        b.observed_s,
        a.observed_s,
        (b.all.count + a.all.count) as u64,
    );
    let summary = summary_sentence(b.all.per_minute, a.all.per_minute, rate.as_ref());
    let twitches = |s: &Session| -> Vec<crate::outputs::events::Twitch> {
        s.events
            .iter()
            .filter_map(Event::as_twitch)
            .cloned()
            .collect()
    };
    let (tb, ta) = (twitches(&pb), twitches(&pa));
    let strong = strong_rate_ratio(
        &tb.iter().collect::<Vec<_>>(),
        &ta.iter().collect::<Vec<_>>(),
        b.observed_s,
        a.observed_s,
    );
    let asymmetry_diff = match (&b.severity, &a.severity) {
        (Some(vb), Some(va)) => ratio_diff_interval(
            &vb.asymmetry_blocks(),
            &va.asymmetry_blocks(),
            SEED,
            RESAMPLES,
        ),
        _ => None,
    };
    Comparison {
        strong,
        asymmetry_diff,
        rate,
        rate_left: rr(b.left.count, a.left.count),
        rate_right: rr(b.right.count, a.right.count),
        duration_diff: bootstrap_median_diff(
            &b.all.durations_s,
            &a.all.durations_s,
            SEED,
            RESAMPLES,
        ),
        duration_test: mann_whitney(&b.all.durations_s, &a.all.durations_s),
        intensity_diff: bootstrap_median_diff(&b.all.peaks, &a.all.peaks, SEED, RESAMPLES),
        intensity_test: mann_whitney(&b.all.peaks, &a.all.peaks),
        warning,
        summary,
        before,
        after,
        pooled_before: pb,
        pooled_after: pa,
    }
}

/// A ratio as text: two decimals, or "no upper bound" for infinity.
pub fn ratio_text(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "no upper bound".to_string()
    }
}

/// "95% CI 0.29–0.50", or "95% CI from 3.10, no upper bound".
pub fn rate_ci_text(r: &RateRatio) -> String {
    if r.ci_high.is_finite() {
        format!("95% CI {:.2}–{:.2}", r.ci_low, r.ci_high)
    } else {
        format!("95% CI from {:.2}, no upper bound", r.ci_low)
    }
}

fn summary_sentence(before: Option<f64>, after: Option<f64>, rr: Option<&RateRatio>) -> String {
    let (Some(b), Some(a)) = (before, after) else {
        let which = match (before, after) {
            (None, None) => "before or after",
            (None, _) => "before",
            _ => "after",
        };
        return format!(
            "The twitch rate cannot be compared: no time with the face in view {which}."
        );
    };
    let Some(r) = rr else {
        return "No spasms were logged before or after.".to_string();
    };
    let verb = if a < b {
        "fell"
    } else if a > b {
        "rose"
    } else {
        "stayed"
    };
    let rates = if verb == "stayed" {
        format!("Spasms stayed at {b:.1} per minute")
    } else {
        format!("Spasms {verb} from {b:.1} to {a:.1} per minute")
    };
    let ratio = if r.ratio.is_finite() {
        format!("rate ratio {:.2}", r.ratio)
    } else {
        "rate ratio without bound: none before".to_string()
    };
    let mut s = format!("{rates} ({ratio}, {}).", rate_ci_text(r));
    if r.ci_low <= 1.0 && r.ci_high >= 1.0 {
        s.push_str(" The interval includes 1 (no change), so this may be chance.");
    }
    s
}

/// Reads every log (all of them before anything is written), printing each reader warning
/// once on stderr, prefixed with the file name. A missing or unreadable file is an error.
/// With `min_confidence`, twitches below it are left out (`Session::with_min_confidence`).
pub fn load_sessions(paths: &[PathBuf], min_confidence: Option<f64>) -> Result<Vec<Session>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in paths {
        // The reader's message names the file and the cause; its source chain would repeat
        // the cause.
        let log = read_log(p).map_err(|e| anyhow::anyhow!("{e}"))?;
        for w in &log.warnings {
            if seen.insert((p.clone(), w.clone())) {
                eprintln!("warning: {}: {w}", p.display());
            }
        }
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut s = Session::from_events(&name, log.events);
        for w in log.warnings {
            s.notes.push(w);
        }
        if let Some(min) = min_confidence {
            s = s.with_min_confidence(min);
        }
        out.push(s);
    }
    let here = env!("CARGO_PKG_VERSION");
    for s in &mut out {
        if let Some(v) = &s.version
            && v != here
        {
            s.notes.push(format!(
                "written by twitchwatch {v} (this report: {here}); measures may not be comparable"
            ));
        }
    }
    Ok(out)
}

/// Writes a file readable by its owner only (created with mode 0o600 on Unix; an existing
/// file keeps its permissions), replacing its contents.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = crate::outputs::events::create_private(path)?;
    file.write_all(bytes)?;
    file.flush()
}

fn write_out(path: &Path, text: &str) -> Result<()> {
    write_private(path, text.as_bytes())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn print_notes(sessions: &[Session]) {
    for s in sessions {
        for n in &s.notes {
            // Reader warnings were printed already, as they were read.
            if !n.starts_with("line ") {
                eprintln!("note: {}: {n}", s.name);
            }
        }
    }
}

pub fn run_report(a: &ReportArgs) -> Result<()> {
    check_writable(&a.out).with_context(|| format!("{}: cannot write", a.out.display()))?;
    let sessions = load_sessions(&a.logs, a.min_confidence)?;
    print_notes(&sessions);
    let pooled = pool(&sessions, "pooled");
    write_out(&a.out, &report_html(&sessions, &pooled))?;
    if let Some(dir) = &a.csv {
        crate::outputs::events::create_dir_private(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let mut rows: Vec<(&str, &Session)> = sessions.iter().map(|s| ("session", s)).collect();
        rows.push(("pooled", &pooled));
        write_out(&dir.join("sessions.csv"), &sessions_csv(&rows))?;
        write_figures(dir, &html::report_figures(&sessions, &pooled))?;
    }
    Ok(())
}

/// The page's figures as SVG files beside the tables.
fn write_figures(dir: &Path, figures: &[(String, String)]) -> Result<()> {
    for (name, svg) in figures {
        write_out(&dir.join(format!("{name}.svg")), svg)?;
    }
    Ok(())
}

pub fn run_compare(a: &CompareArgs) -> Result<()> {
    check_writable(&a.out).with_context(|| format!("{}: cannot write", a.out.display()))?;
    let before = load_sessions(&a.before, a.min_confidence)?;
    let after = load_sessions(&a.after, a.min_confidence)?;
    print_notes(&before);
    print_notes(&after);
    let c = compare(before, after);
    if let Some(w) = &c.warning {
        eprintln!("warning: {w}");
    }
    eprintln!("{}", c.summary);
    write_out(&a.out, &compare_html(&c))?;
    if let Some(dir) = &a.csv {
        crate::outputs::events::create_dir_private(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let rows: Vec<(&str, &Session)> = (c.before.iter().map(|s| ("before", s)))
            .chain(c.after.iter().map(|s| ("after", s)))
            .chain([("before", &c.pooled_before), ("after", &c.pooled_after)])
            .collect();
        write_out(&dir.join("sessions.csv"), &sessions_csv(&rows))?;
        write_out(&dir.join("comparison.csv"), &comparison_csv(&c))?;
        write_figures(dir, &html::compare_figures(&c))?;
    }
    Ok(())
}
