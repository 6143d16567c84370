//! `report` and `compare` as a user runs them, on event logs written here line by line:
//! golden CSV, well-formed self-contained HTML, the direction of a before/after change, and
//! bad or mixed input.
//!
//! Golden CSV lives in `tests/golden/report_*.csv`; regenerate with `TWITCHWATCH_BLESS=1`.

mod common;
use common::bin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use twitchwatch::outputs::report;

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the twitchwatch binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn session(source: &str, version: &str) -> String {
    serde_json::json!({"kind": "session", "version": version, "source": source, "mirrored": false})
        .to_string()
}

fn twitch(start: f64, end: f64, side: &str, regions: &[&str], peak: f64, pattern: &str) -> String {
    serde_json::json!({
        "kind": "twitch", "start_s": start, "end_s": end, "side": side, "regions": regions,
        "peak": peak, "asymmetry": 0.8, "pattern": pattern, "confidence": 0.9
    })
    .to_string()
}

fn face_lost(start: f64, end: f64) -> String {
    serde_json::json!({"kind": "face_lost", "start_s": start, "end_s": end}).to_string()
}

fn summary(duration: f64) -> String {
    serde_json::json!({
        "kind": "summary", "duration_s": duration, "observed_s": duration, "frames": 0,
        "twitches_left": 0, "twitches_right": 0, "per_minute_left": 0.0, "per_minute_right": 0.0
    })
    .to_string()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&p, text).expect("write log");
    p
}

/// Version written into the logs (fixed, so that the golden CSV does not move with releases).
const V: &str = "0.1.0";

/// Six minutes, a twitch every 10 s, face lost 100–130 s: 33 twitches in 5.5 observed
/// minutes = 6.0 per minute. Mostly left and eye-only; some spread to the lower face.
fn before_log(dir: &Path) -> PathBuf {
    let mut lines = vec![session("before.mp4 (synthetic)", V)];
    lines.push(face_lost(100.0, 130.0));
    for k in 0..36 {
        let t = 5.0 + 10.0 * k as f64;
        if (100.0..130.0).contains(&t) {
            continue;
        }
        let side = if k % 4 == 3 { "right" } else { "left" };
        let regions: &[&str] = if k % 3 == 0 {
            &["eye", "cheek", "mouth"]
        } else {
            &["eye"]
        };
        let pattern = if k % 5 == 0 { "tonic" } else { "clonic" };
        let dur = 0.6 + 0.1 * (k % 7) as f64;
        lines.push(twitch(
            t,
            t + dur,
            side,
            regions,
            3.0 + 0.2 * (k % 6) as f64,
            pattern,
        ));
    }
    lines.push(summary(360.0));
    write(dir, "before.events.jsonl", &lines)
}

/// Six minutes, a twitch every 30 s: 12 twitches = 2.0 per minute, shorter and weaker.
fn after_log(dir: &Path) -> PathBuf {
    let mut lines = vec![session("after.mp4 (synthetic)", V)];
    for k in 0..12 {
        let t = 5.0 + 30.0 * k as f64;
        let dur = 0.3 + 0.05 * (k % 4) as f64;
        lines.push(twitch(
            t,
            t + dur,
            "left",
            &["eye"],
            2.0 + 0.1 * (k % 3) as f64,
            "clonic",
        ));
    }
    lines.push(summary(360.0));
    write(dir, "after.events.jsonl", &lines)
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("TWITCHWATCH_BLESS").is_some() {
        std::fs::write(&path, actual).expect("bless golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{name} missing: run with TWITCHWATCH_BLESS=1"));
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

/// Counts of each opening and closing tag of the elements the pages use must match, every
/// `<svg` is closed, and nothing is scripted or fetched.
fn assert_well_formed(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.to_lowercase().contains("<script"));
    assert!(!html.contains(" src=") && !html.contains("<link"));
    assert!(!html.contains("@import") && !html.contains("url("));
    for tag in [
        "svg", "table", "tr", "td", "th", "figure", "ul", "li", "div", "h1", "h2", "h3", "body",
        "html", "style", "p",
    ] {
        let open = html.matches(&format!("<{tag}>")).count()
            + html.matches(&format!("<{tag} ")).count()
            + html.matches(&format!("<{tag}\n")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
}

#[test]
fn report_writes_golden_csv_and_complete_html() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = before_log(dir.path());
    let a = after_log(dir.path());
    let out = dir.path().join("report.html");
    let csv = dir.path().join("csv");
    let o = run(bin()
        .arg("report")
        .args([&b, &a])
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(&csv));
    assert!(o.status.success(), "{}", stderr(&o));
    let sessions = std::fs::read_to_string(csv.join("sessions.csv")).expect("sessions.csv");
    golden("report_sessions.csv", &sessions);
    // One header and one row per session plus the pooled one, every row the same width.
    let widths: Vec<usize> = sessions.lines().map(|l| l.split(',').count()).collect();
    assert_eq!(widths.len(), 4);
    assert!(widths.iter().all(|&w| w == widths[0]));

    let html = std::fs::read_to_string(&out).expect("report.html");
    assert_well_formed(&html);
    for h in [
        "<h1>Facial twitch report</h1>",
        "<h2>Summary</h2>",
        "<h2>Timeline</h2>",
        "<h2>Rate over time</h2>",
        "<h2>Duration and intensity</h2>",
        "<h2>Method</h2>",
    ] {
        assert!(html.contains(h), "missing {h}");
    }
    // Two timelines, two rate plots (6 minutes each), two histograms.
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(!html.contains("could not be drawn"), "every plot drawn");
    assert!(html.contains("<text"), "plots carry their axis labels");
    assert!(html.contains("@page { size: A4"));
    assert!(html.contains("6.00"), "the before rate is shown");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [out, csv.join("sessions.csv")] {
            let mode = std::fs::metadata(&p).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
    }
}

#[test]
fn compare_gives_direction_summary_and_golden_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = before_log(dir.path());
    let a = after_log(dir.path());
    let out = dir.path().join("compare.html");
    let csv = dir.path().join("csv");
    let o = run(bin()
        .arg("compare")
        .arg("--before")
        .arg(&b)
        .arg("--after")
        .arg(&a)
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(&csv));
    assert!(o.status.success(), "{}", stderr(&o));
    let comparison = std::fs::read_to_string(csv.join("comparison.csv")).expect("csv");
    golden("report_comparison.csv", &comparison);
    assert!(comparison.starts_with("measure,before,after,change,ci_low,ci_high\n"));

    let html = std::fs::read_to_string(&out).expect("compare.html");
    assert_well_formed(&html);
    for h in [
        "<h2>Change</h2>",
        "<h2>Tests</h2>",
        "<h2>Sessions</h2>",
        "<h2>Timeline</h2>",
        "<h2>Duration and intensity</h2>",
        "<h2>Method</h2>",
    ] {
        assert!(html.contains(h), "missing {h}");
    }
    assert!(html.contains("Spasms fell from 6.0 to 2.0 per minute (rate ratio 0.33, 95% CI"));
    assert!(html.contains("2000 resamples, seed"));
    // 11 minutes observed on each side and 45 twitches: no warning box.
    assert!(!html.contains("class=\"warning\""));

    // The library gives the same, with numbers.
    let c = report::compare(
        report::load_sessions(&[b], None).expect("before"),
        report::load_sessions(&[a], None).expect("after"),
    );
    let r = c.rate.expect("rate ratio");
    assert!((r.ratio - 1.0 / 3.0).abs() < 1e-9);
    assert!(r.ci_high < 1.0 && r.ci_low > 0.0);
    let d = c.duration_diff.expect("duration change");
    assert!(d.estimate < 0.0 && d.high < 0.0, "shorter after: {d:?}");
    let i = c.intensity_diff.expect("intensity change");
    assert!(i.estimate < 0.0, "weaker after");
    assert!(c.intensity_test.expect("test").p_two_sided < 0.001);
}

#[test]
fn compare_short_sessions_warns_and_zero_before_has_no_upper_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = write(dir.path(), "b.jsonl", &[session("b", V), summary(30.0)]);
    let a = write(
        dir.path(),
        "a.jsonl",
        &[
            session("a", V),
            twitch(3.0, 3.5, "right", &["eye"], 2.0, "clonic"),
            twitch(9.0, 9.5, "right", &["eye", "mouth"], 2.5, "tonic"),
            summary(30.0),
        ],
    );
    let out = dir.path().join("c.html");
    let csv = dir.path().join("csv");
    let o = run(bin()
        .args(["compare", "--before"])
        .arg(&b)
        .arg("--after")
        .arg(&a)
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(&csv));
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&out).expect("html");
    assert_well_formed(&html);
    assert!(
        html.contains("<div class=\"warning\"><strong>Warning:</strong> Too little to conclude")
    );
    assert!(html.contains("no upper bound"));
    assert!(html.contains("Spasms rose from 0.0 to 4.0 per minute"));
    let comparison = std::fs::read_to_string(csv.join("comparison.csv")).expect("csv");
    let rr = comparison
        .lines()
        .find(|l| l.starts_with("rate_ratio,"))
        .expect("rate ratio row");
    let cells: Vec<&str> = rr.split(',').collect();
    assert_eq!(cells[3], "", "infinite ratio is an empty cell");
    assert!(!cells[4].is_empty() && cells[5].is_empty(), "{rr}");
}

#[test]
fn bad_and_mixed_input_is_reported_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let lost = write(
        dir.path(),
        "lost.jsonl",
        &[
            session("<b>cam & co</b>", V),
            face_lost(0.0, 40.0),
            summary(40.0),
        ],
    );
    // Truncated last line, an unknown kind, an invalid event and an older version.
    let mut text = [
        session("old", "0.0.1"),
        r#"{"kind":"camera_gap","start_s":1.0,"end_s":2.0}"#.to_string(),
        r#"{"kind":"twitch","start_s":"soon"}"#.to_string(),
        twitch(2.0, 2.4, "left", &["eye"], 2.0, "clonic"),
        twitch(5.0, 5.4, "left", &["eye"], 2.0, "clonic"),
    ]
    .join("\n");
    text.push_str("\n{\"kind\":\"twitch\",\"start_s\":7.0,\"en");
    let odd = dir.path().join("odd.jsonl");
    std::fs::write(&odd, text).expect("write");

    let out = dir.path().join("r.html");
    let csv = dir.path().join("csv");
    let o = run(bin()
        .arg("report")
        .args([&empty, &lost, &odd])
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(&csv));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches("warning: ").count(),
        2,
        "each reader warning once: {err}"
    );
    assert_eq!(
        err.matches("odd.jsonl: line 6 is incomplete").count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("odd.jsonl: line 3: invalid").count(),
        1,
        "{err}"
    );
    assert!(
        !err.contains("camera_gap"),
        "unknown kinds are skipped silently"
    );
    assert!(
        err.contains("twitchwatch 0.0.1"),
        "version difference noted: {err}"
    );

    let html = std::fs::read_to_string(&out).expect("html");
    assert_well_formed(&html);
    assert!(html.contains("&lt;b&gt;cam &amp; co&lt;/b&gt;"));
    assert!(!html.contains("<b>cam"));
    assert!(html.contains("the log holds no events"));
    assert!(html.contains("the face was never in view"));
    let sessions = std::fs::read_to_string(csv.join("sessions.csv")).expect("csv");
    assert_eq!(sessions.lines().count(), 5);
    assert!(sessions.contains("\"<b>cam & co</b>\"") || sessions.contains("<b>cam & co</b>"));
    // The readable twitches of the odd log are counted: 2 in 5.4 s.
    let odd_row = sessions
        .lines()
        .find(|l| l.contains("odd.jsonl"))
        .expect("row");
    assert!(odd_row.contains(",2,2,0,"), "{odd_row}");
}

#[test]
fn missing_file_is_one_line_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = before_log(dir.path());
    let out = dir.path().join("r.html");
    let o = run(bin()
        .arg("report")
        .arg(&b)
        .arg(dir.path().join("nope.jsonl"))
        .arg("--out")
        .arg(&out));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nope.jsonl") && err.contains("cannot read event log"));
    assert_eq!(err.matches("os error").count(), 1, "the cause once: {err}");
    assert!(!out.exists());

    let o = run(bin()
        .args(["compare", "--before"])
        .arg(&b)
        .arg("--after")
        .arg(dir.path().join("gone.jsonl"))
        .arg("--out")
        .arg(&out));
    assert!(!o.status.success());
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(!out.exists());

    // An output folder that does not exist: one line, before any work.
    let o = run(bin()
        .arg("report")
        .arg(&b)
        .arg("--out")
        .arg(dir.path().join("no/such/dir/r.html")));
    assert!(!o.status.success());
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn pooled_sessions_add_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions = report::load_sessions(&[before_log(dir.path()), after_log(dir.path())], None)
        .expect("load");
    let p = report::pool(&sessions, "pooled");
    assert_eq!(p.stats.all.count, 33 + 12);
    assert!((p.stats.duration_s - 720.0).abs() < 1e-9);
    assert!((p.stats.lost_s - 30.0).abs() < 1e-9);
    assert!((p.stats.observed_s - 690.0).abs() < 1e-9);
    assert!(p.share.is_some());
    assert_eq!(p.stats.blocks.len(), 12);
}

#[test]
fn numbers_never_print_as_negative_zero() {
    assert_eq!(report::unsign_zeros("-0.0 min"), "0.0 min");
    assert_eq!(report::unsign_zeros("-0.00 to +1.23 s"), "0.00 to +1.23 s");
    assert_eq!(
        report::unsign_zeros("-0.05, +0.0, 0.03–1.21"),
        "-0.05, 0.0, 0.03–1.21"
    );
    assert_eq!(report::fixed(Some(-1e-12), 2), "0.00");
    assert_eq!(report::fixed(Some(f64::INFINITY), 2), "");
    assert_eq!(report::fixed(None, 2), "");
}

#[test]
fn compare_with_nothing_observed_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let lost = write(dir.path(), "lost.jsonl", &[face_lost(0.0, 30.0)]);
    let out = dir.path().join("c.html");
    let o = run(bin()
        .args(["compare", "--before"])
        .arg(&empty)
        .arg("--after")
        .arg(&lost)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&out).expect("html");
    assert_well_formed(&html);
    assert!(html.contains("The twitch rate cannot be compared"));
    assert!(html.contains("class=\"warning\""));
}

fn minute(k: usize, asymmetry: f64, beyond25: f64) -> String {
    let start = 60.0 * k as f64;
    serde_json::json!({
        "kind": "minute", "start_s": start, "end_s": start + 60.0, "observed_s": 60.0,
        "measured_s": 55.0, "closure_left": 0.05 + asymmetry.max(0.0),
        "closure_right": 0.05 + (-asymmetry).max(0.0), "asymmetry": asymmetry,
        "beyond_left": [2.0 * beyond25, beyond25, 0.0], "beyond_right": [0.0, 0.0, 0.0]
    })
    .to_string()
}

/// A log of six minutes with `minute` lines (the closure severity) and a twitch every 20 s
/// whose peaks are `peak(k)`.
fn severity_log(dir: &Path, name: &str, asym: f64, peak: impl Fn(usize) -> f64) -> PathBuf {
    let mut lines = vec![session("clip.mp4 (synthetic)", V)];
    for k in 0..18 {
        let t = 5.0 + 20.0 * k as f64;
        lines.push(twitch(t, t + 0.5, "left", &["eye"], peak(k), "clonic"));
        if k % 3 == 2 {
            let m = k / 3;
            lines.push(minute(m, asym + 0.01 * (m % 3) as f64, asym));
        }
    }
    lines.push(summary(360.0));
    write(dir, name, &lines)
}

#[test]
fn minute_lines_are_read_back_by_report_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    // After: as many twitches, but weaker, and less closure asymmetry.
    let b = severity_log(dir.path(), "b.events.jsonl", 0.12, |k| 3.0 + 0.1 * k as f64);
    let a = severity_log(dir.path(), "a.events.jsonl", 0.04, |k| 2.0 + 0.1 * k as f64);
    let sessions = report::load_sessions(std::slice::from_ref(&b), None).expect("load");
    let v = sessions[0]
        .stats
        .severity
        .as_ref()
        .expect("minute lines read");
    assert_eq!(v.minutes.len(), 6);
    assert!((v.asymmetry - 0.13).abs() < 1e-9, "{v:?}");
    assert!((v.beyond(1) - 0.12).abs() < 1e-9, "{v:?}");
    let i = sessions[0].asymmetry.expect("interval over six minutes");
    assert!(i.low <= 0.13 && 0.13 <= i.high, "{i:?}");

    let page = dir.path().join("report.html");
    let o = run(bin().arg("report").arg(&b).arg("--out").arg(&page));
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_well_formed(&html);
    assert!(html.contains("Eye closure over time"), "{html}");
    assert!(html.contains("Closure asymmetry, left − right"));
    assert!(html.contains("+13.0%"), "mean asymmetry shown");
    assert!(!html.contains("Filtered:"));

    let page = dir.path().join("compare.html");
    let csv = dir.path().join("csv");
    let o = run(bin()
        .arg("compare")
        .arg("--before")
        .arg(&b)
        .arg("--after")
        .arg(&a)
        .arg("--out")
        .arg(&page)
        .arg("--csv")
        .arg(&csv));
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_well_formed(&html);
    // The same number of twitches, but fewer above the before median (3.85).
    assert!(
        html.contains("Strong twitches per minute (peak ≥ 3.85"),
        "{html}"
    );
    assert!(
        html.contains("Closure asymmetry: change -8.0% of aperture"),
        "{html}"
    );
    let table = std::fs::read_to_string(csv.join("comparison.csv")).unwrap();
    let row = |key: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{key},")))
            .unwrap_or_else(|| panic!("{key} in {table}"))
            .split(',')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let strong = row("strong_rate_ratio");
    // 9 of 18 at or above 3.85 before; after only 2.9..3.7 → none.
    assert_eq!(strong[3], "0.000", "{strong:?}");
    let asym = row("closure_asymmetry_pct");
    assert_eq!(asym[3], "-8.00", "{asym:?}");
    let (lo, hi): (f64, f64) = (asym[4].parse().unwrap(), asym[5].parse().unwrap());
    assert!(lo < -8.0 && hi > -8.0 && hi < 0.0, "{asym:?}");
    assert!(csv.join("before_closure_1.svg").is_file());
}

#[test]
fn min_confidence_filters_twitches_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = {
        let mut lines = vec![session("c.mp4", V)];
        for (k, conf) in [0.2, 0.5, 0.95].iter().enumerate() {
            let mut t: serde_json::Value = serde_json::from_str(&twitch(
                k as f64,
                k as f64 + 0.3,
                "left",
                &["eye"],
                3.0,
                "clonic",
            ))
            .unwrap();
            t["confidence"] = serde_json::json!(conf);
            lines.push(t.to_string());
        }
        lines.push(summary(60.0));
        write(dir.path(), "c.events.jsonl", &lines)
    };
    let page = dir.path().join("r.html");
    let o = run(bin()
        .arg("report")
        .arg(&log)
        .arg("--min-confidence")
        .arg("0.5")
        .arg("--out")
        .arg(&page));
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(
            "only twitches with confidence 0.50 or more are counted here; 1 below it were left out"
        ),
        "{html}"
    );
    assert!(
        html.contains("<td>Twitches (left / right)</td><td>2 (2"),
        "{html}"
    );
    let o = run(bin()
        .arg("report")
        .arg(&log)
        .arg("--min-confidence")
        .arg("2"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("expected a number from 0 to 1"),
        "{}",
        stderr(&o)
    );
}
