//! Self-contained HTML pages: inline CSS (prints on A4) and inline SVG plots, no scripts and
//! nothing fetched from the network. All text that comes from logs is escaped.

use super::plots::{self, LEFT_COLOR, RIGHT_COLOR};
use super::{Comparison, RESAMPLES, SEED, Session, rate_ci_text, ratio_text, unsign_zeros};
use crate::outputs::stats::{Distribution, Interval, MannWhitney, RateRatio};
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
@page { size: A4; margin: 15mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #111; background: #fff;
  max-width: 190mm; margin: 0 auto; padding: 8px; font-size: 11pt; line-height: 1.35; }
h1 { font-size: 18pt; margin: 0 0 4px 0; }
h2 { font-size: 14pt; margin: 18px 0 6px 0; border-bottom: 1px solid #999; }
h3 { font-size: 11.5pt; margin: 10px 0 4px 0; }
table { border-collapse: collapse; margin: 4px 0 8px 0; font-size: 10pt; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
table.change td + td { white-space: nowrap; }
thead th { overflow-wrap: anywhere; }
thead th { background: #eee; }
.meta { color: #444; font-size: 9.5pt; }
.summary { font-size: 13pt; font-weight: bold; margin: 10px 0; }
.warning { border: 2px solid #b00; background: #fff4f4; padding: 6px 10px; margin: 8px 0; }
.notes { border: 1px solid #c90; background: #fffbea; padding: 4px 10px; margin: 8px 0; font-size: 10pt; }
.note { color: #444; font-style: italic; }
.key span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px; vertical-align: middle; }
.plots { display: flex; flex-wrap: wrap; gap: 8px; }
.plots figure { flex: 1 1 0; min-width: 300px; }
figure { margin: 4px 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 9.5pt; color: #333; }
svg { max-width: 100%; height: auto; }
section { break-inside: auto; }
table, .warning, .summary { break-inside: avoid; page-break-inside: avoid; }
h1, h2, h3, .key { break-after: avoid; page-break-after: avoid; }
@media print { body { max-width: none; padding: 0; } }
"#;

pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

fn num(x: Option<f64>, d: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.d$}"),
        _ => "—".to_string(),
    }
}

/// Minutes, with a no-break space before the unit.
fn minutes(s: f64) -> String {
    format!("{:.1}\u{a0}min", s / 60.0)
}

fn median_iqr(d: Option<Distribution>, unit: &str) -> String {
    match d {
        // Word joiners: a cell may wrap before the bracket, not inside the range.
        Some(d) => format!(
            "{:.2}{unit} ({:.2}\u{2060}–\u{2060}{:.2})",
            d.median, d.q1, d.q3
        ),
        None => "—".to_string(),
    }
}

/// A fraction as signed percent of aperture.
fn pct_signed(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// Mean closure asymmetry with its interval, or a dash without minute lines.
fn asymmetry_text(s: &Session) -> String {
    match (s.stats.severity.as_ref(), s.asymmetry) {
        (Some(v), Some(i)) => format!(
            "{} ({}\u{2060} to \u{2060}{})",
            pct_signed(v.asymmetry),
            pct_signed(i.low),
            pct_signed(i.high)
        ),
        (Some(v), None) => format!("{} (no interval)", pct_signed(v.asymmetry)),
        _ => "—".to_string(),
    }
}

/// Shares of measured time beyond the three asymmetry levels, "a / b / c %".
fn beyond_text(s: &Session) -> String {
    match s.stats.severity.as_ref() {
        Some(v) => format!(
            "{:.1} / {:.1} / {:.1}%",
            v.beyond(0) * 100.0,
            v.beyond(1) * 100.0,
            v.beyond(2) * 100.0
        ),
        None => "—".to_string(),
    }
}

fn share_text(s: &Session) -> String {
    match (s.stats.all.spasm_share, s.share) {
        (Some(x), Some(i)) => format!(
            "{:.1}% ({:.1}\u{2060}–\u{2060}{:.1}%)",
            x * 100.0,
            i.low * 100.0,
            i.high * 100.0
        ),
        (Some(x), None) => format!("{:.1}% (no interval)", x * 100.0),
        _ => "—".to_string(),
    }
}

/// The rows of the measures table, each a label and one function of a session.
type RowFn = fn(&Session) -> String;
const ROWS: &[(&str, RowFn)] = &[
    ("Recorded", |s| minutes(s.stats.duration_s)),
    ("Observed (face in view)", |s| minutes(s.stats.observed_s)),
    ("Face lost (excluded)", |s| minutes(s.stats.lost_s)),
    ("Twitches (left / right)", |s| {
        format!(
            "{} ({}\u{a0}/\u{a0}{})",
            s.stats.all.count, s.stats.left.count, s.stats.right.count
        )
    }),
    ("Twitches per minute", |s| num(s.stats.all.per_minute, 2)),
    ("– left side", |s| num(s.stats.left.per_minute, 2)),
    ("– right side", |s| num(s.stats.right.per_minute, 2)),
    ("– involving the eye", |s| {
        num(s.region_per_minute(s.stats.all.by_region.eye), 2)
    }),
    ("– involving the cheek", |s| {
        num(s.region_per_minute(s.stats.all.by_region.cheek), 2)
    }),
    ("– involving the mouth", |s| {
        num(s.region_per_minute(s.stats.all.by_region.mouth), 2)
    }),
    ("Duration, median (IQR)", |s| {
        median_iqr(s.stats.all.duration, "\u{a0}s")
    }),
    ("Time in spasm (95% interval)", share_text),
    ("Intensity (peak), median (IQR)", |s| {
        median_iqr(s.stats.all.peak, "")
    }),
    ("Intensity, highest", |s| {
        num(s.stats.all.peak.map(|d| d.max), 2)
    }),
    ("Clonic / tonic", |s| {
        format!("{} / {}", s.stats.all.clonic, s.stats.all.tonic)
    }),
    ("Eye only / eye + lower face", |s| {
        let sp = s.stats.all.spread;
        if sp.lower_only > 0 {
            format!(
                "{} / {} (lower face only: {})",
                sp.eye_only, sp.eye_and_lower, sp.lower_only
            )
        } else {
            format!("{} / {}", sp.eye_only, sp.eye_and_lower)
        }
    }),
    (
        "Closure asymmetry, left − right (95% interval)",
        asymmetry_text,
    ),
    ("Eye closure, left / right", |s| match &s.stats.severity {
        Some(v) => format!(
            "{:.1}% / {:.1}%",
            v.closure[0] * 100.0,
            v.closure[1] * 100.0
        ),
        None => "—".to_string(),
    }),
    ("Time one eye is >10 / >25 / >50% more closed", beyond_text),
];

fn measures_table(cols: &[&Session]) -> String {
    let mut t = String::from("<table>\n<thead><tr><th>Measure</th>");
    for s in cols {
        let _ = write!(t, "<th>{}</th>", esc(&s.name));
    }
    t.push_str("</tr></thead>\n<tbody>\n");
    for (label, f) in ROWS {
        let _ = write!(t, "<tr><td>{}</td>", esc(label));
        for s in cols {
            let _ = write!(t, "<td>{}</td>", esc(&unsign_zeros(&f(s))));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody>\n</table>\n");
    t
}

fn notes_box(sessions: &[&Session]) -> String {
    let items: Vec<String> = sessions
        .iter()
        .flat_map(|s| {
            s.notes
                .iter()
                .map(move |n| format!("<li>{}: {}</li>", esc(&s.name), esc(n)))
        })
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"notes\"><strong>Notes on the input</strong><ul>\n{}\n</ul></div>\n",
            items.join("\n")
        )
    }
}

/// Says which twitches were counted when `--min-confidence` left some out.
fn filter_note(sessions: &[&Session]) -> String {
    let Some(f) = sessions.iter().find_map(|s| s.filter) else {
        return String::new();
    };
    let dropped: usize = sessions
        .iter()
        .filter_map(|s| s.filter)
        .map(|f| f.dropped)
        .sum();
    format!(
        "<div class=\"warning\"><strong>Filtered:</strong> only twitches with confidence \
         {:.2} or more are counted here; {dropped} below it were left out. The closure \
         measures do not depend on it.</div>\n",
        f.min
    )
}

/// Sessions with minute lines get a closure-asymmetry-over-time plot.
fn severities(sessions: &[&Session]) -> String {
    let with: Vec<&&Session> = sessions
        .iter()
        .filter(|s| s.stats.severity.is_some())
        .collect();
    if with.is_empty() {
        return "<p class=\"note\">The logs have no closure measures (written by an older \
                twitchwatch, or no face in view).</p>\n"
            .to_string();
    }
    let mut out = String::new();
    for s in with {
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>{} — closure asymmetry per minute, left − right, in % of \
             aperture (line: mean; bars: share of the minute with one eye over 25% more \
             closed, blue left, orange right)</figcaption></figure>",
            plots::severity_over_time(s),
            esc(&s.name)
        );
    }
    out
}

const SEVERITY_METHOD: &str = "Closure (docs/severity.md): how closed each eye looks, as a \
    fraction of that eye's own open aperture (its usual open look over the session so far), \
    measured in every frame with the face in view, whether or not a twitch was detected. \
    Asymmetry: left closure minus right, so positive means the left eye the more closed; \
    blinks, looking down and talking close both eyes alike and cancel. Its interval is a \
    block bootstrap over the minutes. ";

fn sources_list(sessions: &[&Session]) -> String {
    let mut out = String::from("<ul class=\"meta\">\n");
    for s in sessions {
        let _ = writeln!(
            out,
            "<li>{}: {}{}</li>",
            esc(&s.name),
            esc(s.source.as_deref().unwrap_or("source not recorded")),
            s.version
                .as_deref()
                .map(|v| format!(" (twitchwatch {})", esc(v)))
                .unwrap_or_default()
        );
    }
    out.push_str("</ul>\n");
    out
}

fn key() -> String {
    let c = |c: plotters::style::RGBColor| format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2);
    format!(
        "<p class=\"key meta\">Key:<span style=\"background:{}\"></span>left side\
         <span style=\"background:{}\"></span>right side\
         <span style=\"background:#d0d0d0\"></span>face lost (not observed)</p>\n",
        c(LEFT_COLOR),
        c(RIGHT_COLOR)
    )
}

fn timelines(sessions: &[&Session]) -> String {
    let mut out = key();
    for s in sessions {
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>{} — {} recorded, {} observed</figcaption></figure>",
            plots::timeline(s),
            esc(&s.name),
            minutes(s.stats.duration_s),
            minutes(s.stats.observed_s)
        );
    }
    out
}

/// Sessions of at least three one-minute blocks get a rate-over-time plot.
fn rates(sessions: &[&Session]) -> String {
    let long: Vec<&&Session> = sessions
        .iter()
        .filter(|s| s.stats.blocks.len() >= 3)
        .collect();
    if long.is_empty() {
        return "<p class=\"note\">Shown for sessions of 3 minutes or longer; none is.</p>\n"
            .to_string();
    }
    let mut out = String::new();
    for s in long {
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>{} — twitches per observed minute (blue: left side, orange: right \
             side), one-minute blocks; blocks with under 10 s observed are left out</figcaption></figure>",
            plots::rate_over_time(s),
            esc(&s.name)
        );
    }
    out
}

fn method(extra: &str) -> String {
    format!(
        "<h2>Method</h2>\n<p class=\"meta\">Rates are per observed minute: time with the face \
         out of view is left out. Duration: start to end of each twitch. Time in spasm: the \
         share of observed time covered by at least one twitch; its 95% interval is a block \
         bootstrap over one-minute blocks ({RESAMPLES} resamples, seed {SEED}), given when \
         there are at least 2 blocks with the face in view (“no interval” otherwise). Intensity: the twitch's peak one-sided eye \
         squeeze, in percent of the face's width. Clonic: short repeated jerks; tonic: a sustained \
         squeeze. {extra}Generated by twitchwatch {}.</p>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Duration and intensity histograms of a report (all sessions pooled).
fn report_hists(pooled: &Session) -> (String, String) {
    (
        plots::histogram(
            &[("all", &pooled.stats.all.durations_s, LEFT_COLOR)],
            "duration (s)",
        ),
        plots::histogram(
            &[("all", &pooled.stats.all.peaks, LEFT_COLOR)],
            INTENSITY_AXIS,
        ),
    )
}

/// Duration and intensity histograms of a comparison, before (grey) and after (blue).
fn compare_hists(c: &Comparison) -> (String, String) {
    let grey = plotters::style::RGBColor(0x88, 0x88, 0x88);
    let (b, a) = (&c.pooled_before.stats, &c.pooled_after.stats);
    (
        plots::histogram(
            &[
                ("before", &b.all.durations_s, grey),
                ("after", &a.all.durations_s, LEFT_COLOR),
            ],
            "duration (s)",
        ),
        plots::histogram(
            &[
                ("before", &b.all.peaks, grey),
                ("after", &a.all.peaks, LEFT_COLOR),
            ],
            INTENSITY_AXIS,
        ),
    )
}

const INTENSITY_AXIS: &str = "intensity (peak squeeze, % of face width)";

/// Every figure of a page as (file name without extension, SVG text), the same plots
/// the HTML shows, for use outside the report.
fn session_figures(prefix: &str, sessions: &[Session]) -> Vec<(String, String)> {
    let mut out = vec![];
    for (i, s) in sessions.iter().enumerate() {
        out.push((format!("{prefix}timeline_{}", i + 1), plots::timeline(s)));
        if s.stats.blocks.len() >= 3 {
            out.push((format!("{prefix}rate_{}", i + 1), plots::rate_over_time(s)));
        }
        if s.stats.severity.is_some() {
            out.push((
                format!("{prefix}closure_{}", i + 1),
                plots::severity_over_time(s),
            ));
        }
    }
    out
}

/// The report's figures (see `session_figures`).
pub fn report_figures(sessions: &[Session], pooled: &Session) -> Vec<(String, String)> {
    let mut out = session_figures("", sessions);
    let (d, p) = report_hists(pooled);
    out.push(("durations".to_string(), d));
    out.push(("intensity".to_string(), p));
    out
}

/// The comparison's figures (see `session_figures`).
pub fn compare_figures(c: &Comparison) -> Vec<(String, String)> {
    let mut out = session_figures("before_", &c.before);
    out.extend(session_figures("after_", &c.after));
    let (d, p) = compare_hists(c);
    out.push(("durations".to_string(), d));
    out.push(("intensity".to_string(), p));
    out
}

/// The report of one or more sessions, each and pooled.
pub fn report_html(sessions: &[Session], pooled: &Session) -> String {
    let all: Vec<&Session> = sessions.iter().collect();
    let mut cols = all.clone();
    if sessions.len() > 1 {
        cols.push(pooled);
    }
    let mut b = String::new();
    b.push_str("<h1>Facial twitch report</h1>\n");
    let _ = writeln!(
        b,
        "<p class=\"meta\">{} session(s), {} observed in all.</p>",
        sessions.len(),
        minutes(pooled.stats.observed_s)
    );
    b.push_str(&sources_list(&all));
    b.push_str(&filter_note(&all));
    b.push_str(&notes_box(&all));
    b.push_str("<h2>Summary</h2>\n");
    b.push_str(&measures_table(&cols));
    b.push_str("<h2>Timeline</h2>\n");
    b.push_str(&timelines(&all));
    b.push_str("<h2>Rate over time</h2>\n");
    b.push_str(&rates(&all));
    b.push_str("<h2>Eye closure over time</h2>\n");
    b.push_str(&severities(&all));
    b.push_str("<h2>Duration and intensity</h2>\n<div class=\"plots\">\n");
    let (durations, intensity) = report_hists(pooled);
    let all_sessions = if sessions.len() > 1 {
        ", all sessions"
    } else {
        ""
    };
    let _ = write!(
        b,
        "<figure>{durations}<figcaption>Duration of each twitch{all_sessions}</figcaption></figure>\n\
         <figure>{intensity}<figcaption>Intensity (peak) of each twitch{all_sessions}</figcaption></figure>\n</div>\n",
    );
    b.push_str(&method(SEVERITY_METHOD));
    page("Facial twitch report", &b)
}

fn rr_cells(r: Option<&RateRatio>) -> (String, String) {
    match r {
        Some(r) => (
            if r.ratio.is_finite() {
                format!("× {:.2}", r.ratio)
            } else {
                "none before".to_string()
            },
            rate_ci_text(r).replace("95% CI ", ""),
        ),
        None => ("—".to_string(), "—".to_string()),
    }
}

fn diff_cells(d: Option<Interval>, unit: &str) -> (String, String) {
    match d {
        Some(i) => (
            format!("{:+.2}{unit}", i.estimate),
            format!("{:+.2} to {:+.2}{unit}", i.low, i.high),
        ),
        None => ("—".to_string(), "—".to_string()),
    }
}

fn plus(a: Option<f64>, b: Option<f64>, d: usize, unit: &str) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() => format!("{:+.d$}{unit}", b - a),
        _ => "—".to_string(),
    }
}

fn mw_text(t: Option<MannWhitney>) -> String {
    match t {
        Some(t) => format!(
            "Mann–Whitney U = {:.1}, p = {:.3}; Hodges–Lehmann shift {:+.2}",
            t.u, t.p_two_sided, t.hodges_lehmann_shift
        ),
        None => "Mann–Whitney: not enough twitches".to_string(),
    }
}

/// The change table's label for the strong-twitch rate.
fn strong_label(s: &crate::outputs::stats::StrongRate) -> String {
    match s.threshold {
        Some(th) => format!("Strong twitches per minute (peak ≥ {th:.2}, the median before)"),
        None => "Strong twitches per minute (peak ≥ the median before)".to_string(),
    }
}

/// The strong-twitch rate ratio in words, with its units.
fn strong_text(s: &crate::outputs::stats::StrongRate) -> String {
    let mut t = match &s.ratio {
        Some(r) => format!(
            "Strong twitches (peak at least the before period's median): {} before, {} after; \
             after / before = {} ({})",
            s.before,
            s.after,
            ratio_text(r.ratio),
            rate_ci_text(r)
        ),
        None => "Strong twitches: cannot be compared (no twitches before)".to_string(),
    };
    if let Some(g) = s.threshold_glasses {
        t.push_str(&format!(
            "; twitches measured by the eyes' look (glasses) counted in their own units, \
             threshold {g:.2} grey levels"
        ));
    }
    if s.uncounted_after > 0 {
        t.push_str(&format!(
            "; {} twitch(es) after in a unit with none before are not counted",
            s.uncounted_after
        ));
    }
    t
}

/// Before / after comparison page.
pub fn compare_html(c: &Comparison) -> String {
    let (pb, pa) = (&c.pooled_before, &c.pooled_after);
    let (b, a) = (&pb.stats, &pa.stats);
    let mut h = String::new();
    h.push_str("<h1>Before / after comparison</h1>\n");
    let _ = writeln!(
        h,
        "<p class=\"meta\">Before: {} session(s), {} observed. After: {} session(s), {} observed.</p>",
        c.before.len(),
        minutes(b.observed_s),
        c.after.len(),
        minutes(a.observed_s)
    );
    let _ = writeln!(h, "<p class=\"summary\">{}</p>", esc(&c.summary));
    if let Some(w) = &c.warning {
        let _ = writeln!(
            h,
            "<div class=\"warning\"><strong>Warning:</strong> {}</div>",
            esc(w)
        );
    }
    let all: Vec<&Session> = c.before.iter().chain(&c.after).collect();
    h.push_str(&filter_note(&all));
    h.push_str(&notes_box(&all));

    h.push_str(
        "<h2>Change</h2>\n<table class=\"change\">\n<thead><tr><th>Measure</th><th>Before</th>\
                <th>After</th><th>Change</th><th>95% CI</th></tr></thead>\n<tbody>\n",
    );
    let mut row = |label: &str, before: String, after: String, change: String, ci: String| {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(label),
            esc(&unsign_zeros(&before)),
            esc(&unsign_zeros(&after)),
            esc(&unsign_zeros(&change)),
            esc(&unsign_zeros(&ci))
        );
    };
    row(
        "Observed time",
        minutes(b.observed_s),
        minutes(a.observed_s),
        format!("{:+.1} min", (a.observed_s - b.observed_s) / 60.0),
        String::new(),
    );
    row(
        "Face lost (excluded)",
        minutes(b.lost_s),
        minutes(a.lost_s),
        format!("{:+.1} min", (a.lost_s - b.lost_s) / 60.0),
        String::new(),
    );
    row(
        "Twitches",
        b.all.count.to_string(),
        a.all.count.to_string(),
        format!("{:+}", a.all.count as i64 - b.all.count as i64),
        String::new(),
    );
    for (label, rb, ra, r) in [
        (
            "Twitches per minute (rate ratio)",
            b.all.per_minute,
            a.all.per_minute,
            c.rate.as_ref(),
        ),
        (
            "– left side",
            b.left.per_minute,
            a.left.per_minute,
            c.rate_left.as_ref(),
        ),
        (
            "– right side",
            b.right.per_minute,
            a.right.per_minute,
            c.rate_right.as_ref(),
        ),
    ] {
        let (change, ci) = rr_cells(r);
        row(label, num(rb, 2), num(ra, 2), change, ci);
    }
    let per_min =
        |n: u64, observed_s: f64| (observed_s > 0.0).then(|| n as f64 * 60.0 / observed_s);
    let (change, ci) = rr_cells(c.strong.ratio.as_ref());
    row(
        &strong_label(&c.strong),
        num(per_min(c.strong.before, b.observed_s), 2),
        num(per_min(c.strong.after, a.observed_s), 2),
        change,
        ci,
    );
    let (change, ci) = match c.asymmetry_diff {
        Some(i) => (
            pct_signed(i.estimate),
            format!("{} to {}", pct_signed(i.low), pct_signed(i.high)),
        ),
        None => ("—".to_string(), "—".to_string()),
    };
    row(
        "Closure asymmetry, left − right (% of aperture)",
        asymmetry_text(pb),
        asymmetry_text(pa),
        change,
        ci,
    );
    row(
        "Time one eye is >10 / >25 / >50% more closed",
        beyond_text(pb),
        beyond_text(pa),
        String::new(),
        String::new(),
    );
    for (label, f) in ROWS.iter().skip(7).take(3) {
        row(label, f(pb), f(pa), String::new(), String::new());
    }
    let (change, ci) = diff_cells(c.duration_diff, " s");
    row(
        "Duration, median (IQR)",
        median_iqr(b.all.duration, " s"),
        median_iqr(a.all.duration, " s"),
        change,
        ci,
    );
    row(
        "Time in spasm (95% interval)",
        share_text(pb),
        share_text(pa),
        plus(
            b.all.spasm_share.map(|x| x * 100.0),
            a.all.spasm_share.map(|x| x * 100.0),
            1,
            " points",
        ),
        // Each side's interval is in its own cell.
        String::new(),
    );
    let (change, ci) = diff_cells(c.intensity_diff, "");
    row(
        "Intensity (peak), median (IQR)",
        median_iqr(b.all.peak, ""),
        median_iqr(a.all.peak, ""),
        change,
        ci,
    );
    row(
        "Clonic / tonic",
        format!("{} / {}", b.all.clonic, b.all.tonic),
        format!("{} / {}", a.all.clonic, a.all.tonic),
        String::new(),
        String::new(),
    );
    row(
        "Eye only / eye + lower face",
        format!("{} / {}", b.all.spread.eye_only, b.all.spread.eye_and_lower),
        format!("{} / {}", a.all.spread.eye_only, a.all.spread.eye_and_lower),
        String::new(),
        String::new(),
    );
    h.push_str("</tbody>\n</table>\n");

    h.push_str("<h2>Tests</h2>\n<ul>\n");
    let _ = writeln!(
        h,
        "<li>Twitch rate: {}</li>",
        esc(&match &c.rate {
            Some(r) => format!(
                "after / before = {} ({}), exact conditional (binomial) interval",
                ratio_text(r.ratio),
                rate_ci_text(r)
            ),
            None => "cannot be compared (no twitches, or no observed time)".to_string(),
        })
    );
    let _ = writeln!(
        h,
        "<li>Duration: median change {} (bootstrap, {RESAMPLES} resamples, seed {SEED}); {}</li>",
        esc(&unsign_zeros(&diff_cells(c.duration_diff, " s").0)),
        esc(&unsign_zeros(&mw_text(c.duration_test)))
    );
    let _ = writeln!(
        h,
        "<li>Intensity: median change {} (bootstrap, {RESAMPLES} resamples, seed {SEED}); {}</li>",
        esc(&unsign_zeros(&diff_cells(c.intensity_diff, "").0)),
        esc(&unsign_zeros(&mw_text(c.intensity_test)))
    );
    let _ = writeln!(h, "<li>{}</li>", esc(&strong_text(&c.strong)));
    let _ = writeln!(
        h,
        "<li>Closure asymmetry: change {} (block bootstrap over minutes, {RESAMPLES} resamples, \
         seed {SEED})</li>",
        esc(&match c.asymmetry_diff {
            Some(i) => format!(
                "{} of aperture, 95% interval {} to {}",
                pct_signed(i.estimate),
                pct_signed(i.low),
                pct_signed(i.high)
            ),
            None =>
                "cannot be computed (each period needs closure measures from 2 minutes or more)"
                    .to_string(),
        })
    );
    h.push_str("</ul>\n");

    h.push_str("<h2>Sessions</h2>\n<h3>Before</h3>\n");
    h.push_str(&sources_list(&c.before.iter().collect::<Vec<_>>()));
    let mut cols: Vec<&Session> = c.before.iter().collect();
    if c.before.len() > 1 {
        cols.push(pb);
    }
    h.push_str(&measures_table(&cols));
    h.push_str("<h3>After</h3>\n");
    h.push_str(&sources_list(&c.after.iter().collect::<Vec<_>>()));
    let mut cols: Vec<&Session> = c.after.iter().collect();
    if c.after.len() > 1 {
        cols.push(pa);
    }
    h.push_str(&measures_table(&cols));

    h.push_str("<h2>Timeline</h2>\n<h3>Before</h3>\n");
    h.push_str(&timelines(&c.before.iter().collect::<Vec<_>>()));
    h.push_str("<h3>After</h3>\n");
    h.push_str(&timelines(&c.after.iter().collect::<Vec<_>>()));
    h.push_str("<h2>Rate over time</h2>\n");
    h.push_str(&rates(&all));
    h.push_str("<h2>Eye closure over time</h2>\n");
    h.push_str(&severities(&all));

    h.push_str("<h2>Duration and intensity</h2>\n<div class=\"plots\">\n");
    let (durations, intensity) = compare_hists(c);
    let _ = write!(
        h,
        "<figure>{durations}<figcaption>Duration of each twitch, before (grey) and after (blue)</figcaption></figure>\n\
         <figure>{intensity}<figcaption>Intensity (peak) of each twitch, before (grey) and after (blue)</figcaption></figure>\n</div>\n",
    );
    h.push_str(&method(&format!(
        "Rate ratio: after / before, with an exact 95% interval; below 1 means fewer \
         twitches after. Strong twitches: those at least as strong (peak) as the median \
         twitch before, counted the same way in both periods, so that a change in how often \
         the face twitches can be told from a change in how strongly (a weaker face crosses \
         the detector's threshold less often). Twitches measured by the eyes' look under \
         glasses have their peak in other units (grey levels of look change): they are \
         counted against their own median before. Changes in median duration and \
         intensity: after minus before, percentile bootstrap. {SEVERITY_METHOD}"
    )));
    page("Before / after comparison", &h)
}
