//! Treatment courses: the coverage study of `course`'s intervals on generated courses with
//! known truth, and thin or gappy courses that must give warnings, not effects.
//!
//! The coverage figures in docs/course.md come from
//! `cargo test --test course coverage -- --nocapture`.

mod common;

use std::path::Path;
use twitchwatch::outputs::course::simulate::{CycleTruth, SimCourse, SimParams, generate};
use twitchwatch::outputs::course::{
    Course, CourseParams, DatedSession, WearOff, analyze, day_table,
};
use twitchwatch::outputs::events::{Event, EventSink, JsonlSink};
use twitchwatch::outputs::stats::SessionStats;

/// Day number of the generated courses' first day (2026-01-05).
const FIRST_DAY: i64 = 20_458;
const COURSES: u64 = 200;

/// Courses per scenario and the offset added to every seed: `COURSE_STUDY=N,OFFSET` runs a
/// larger or different draw (the assertions then test the larger draw the same way).
fn study_size() -> (u64, u64) {
    std::env::var("COURSE_STUDY")
        .ok()
        .and_then(|v| {
            let (n, off) = v.split_once(',').unwrap_or((&v, "0"));
            Some((n.trim().parse().ok()?, off.trim().parse().ok()?))
        })
        .unwrap_or((COURSES, 0))
}

fn run(sim: &SimCourse, p: &SimParams, params: &CourseParams) -> Course {
    let stats: Vec<SessionStats> = sim
        .sessions
        .iter()
        .map(|s| SessionStats::from_events(&s.events))
        .collect();
    let dated: Vec<DatedSession> = sim
        .sessions
        .iter()
        .zip(&stats)
        .map(|(s, st)| DatedSession {
            start_local_s: s.start_local_s,
            stats: st,
            severity: &[],
        })
        .collect();
    let treatments: Vec<(i64, String)> = p
        .cycles
        .iter()
        .enumerate()
        .map(|(i, c)| (sim.first_day + c.inject_day, format!("injection {}", i + 1)))
        .collect();
    analyze(day_table(&dated, params), &treatments, params)
}

#[derive(Debug, Default)]
struct Tally {
    ratio_n: u32,
    ratio_hit: u32,
    wear_n: u32,
    wear_hit: u32,
    /// "Not yet" correctly said: the truth came back after the last day judged.
    wear_later: u32,
}

impl Tally {
    fn share(hit: u32, n: u32) -> f64 {
        hit as f64 / n.max(1) as f64
    }
}

/// Runs `COURSES` courses and tallies, per cycle, how often the intervals hold the truth.
fn study(p: &SimParams, seed0: u64) -> Vec<Tally> {
    let params = CourseParams::default();
    let mut tallies: Vec<Tally> = p.cycles.iter().map(|_| Tally::default()).collect();
    let (courses, offset) = study_size();
    for i in 0..courses {
        let sim = generate(p, FIRST_DAY, offset + seed0 + i);
        let course = run(&sim, p, &params);
        for (k, (c, truth)) in course.cycles.iter().zip(&p.cycles).enumerate() {
            let t = &mut tallies[k];
            if let Some(r) = c.ratio {
                t.ratio_n += 1;
                if r.low <= truth.depth && truth.depth <= r.high {
                    t.ratio_hit += 1;
                }
            }
            let true_day = truth.wear_off_day(params.effect_to_day, params.back_share);
            match &c.wear_off {
                WearOff::Back { low, high, .. } => {
                    t.wear_n += 1;
                    if *low <= true_day && high.is_none_or(|h| true_day <= h) {
                        t.wear_hit += 1;
                    } else if std::env::var_os("COURSE_DEBUG").is_some() {
                        eprintln!("miss cycle {k}: truth {true_day}, got {:?}", c.wear_off);
                    }
                }
                // "Not back by day `until`": a miss when the truth came back by then; no
                // interval (and no claim) when it came back later than the days judged.
                // "Not back by day `until`" with an interval `[low, ∞)` when the bootstrap
                // puts `low` within the days judged: a miss unless the interval holds the
                // truth; no claim to check when the truth came back after the days judged.
                WearOff::NotYet { until, low, .. } => {
                    if true_day > until - c.injection {
                        t.wear_later += 1;
                    } else {
                        t.wear_n += 1;
                        if low.is_some_and(|l| l <= true_day) {
                            t.wear_hit += 1;
                        }
                    }
                }
                WearOff::NotEstimated(_) => t.wear_n += 1,
            }
        }
    }
    tallies
}

/// 200 draws at a true 95 %: 0.90..=0.99 holds with probability above 0.998.
fn assert_coverage(what: &str, hit: u32, n: u32) {
    let share = Tally::share(hit, n);
    println!("{what}: {hit}/{n} = {:.3}", share);
    assert!(
        n >= study_size().0 as u32 * 9 / 10,
        "{what}: only {n} estimates"
    );
    assert!(
        (0.90..=0.99).contains(&share),
        "{what}: coverage {share:.3} outside 0.90..=0.99"
    );
}

#[test]
fn coverage_overdispersed_and_poisson() {
    for (name, cv, seed0) in [
        ("overdispersed (day CV 0.3)", 0.3, 31_000),
        ("Poisson", 0.0, 35_000),
    ] {
        let p = SimParams {
            day_cv: cv,
            ..SimParams::default()
        };
        let tallies = study(&p, seed0);
        for (k, t) in tallies.iter().enumerate() {
            assert_coverage(
                &format!("{name}, cycle {}, ratio", k + 1),
                t.ratio_hit,
                t.ratio_n,
            );
            assert_coverage(
                &format!("{name}, cycle {}, wearing-off day", k + 1),
                t.wear_hit,
                t.wear_n,
            );
            println!(
                "{name}, cycle {}: {} courses rightly said \"not yet\" (back after the last day judged)",
                k + 1,
                t.wear_later
            );
        }
    }
}

#[test]
fn coverage_no_effect_includes_one() {
    let base = SimParams::default();
    let p = SimParams {
        cycles: base
            .cycles
            .iter()
            .map(|c| CycleTruth { depth: 1.0, ..*c })
            .collect(),
        ..base
    };
    let tallies = study(&p, 39_000);
    for (k, t) in tallies.iter().enumerate() {
        assert_coverage(
            &format!("no effect, cycle {}, ratio includes 1", k + 1),
            t.ratio_hit,
            t.ratio_n,
        );
    }
}

#[test]
fn sparse_course_gives_warnings_not_effects() {
    // A few short sessions a week: windows too thin for a ratio.
    let p = SimParams {
        skip_prob: 0.9,
        session_min: (5.0, 14.0),
        sessions_per_day: (1, 1),
        ..SimParams::default()
    };
    let params = CourseParams::default();
    for seed in 0..10 {
        let course = run(&generate(&p, FIRST_DAY, seed), &p, &params);
        for c in &course.cycles {
            assert!(c.ratio.is_none(), "seed {seed}: a ratio from thin data");
            assert!(
                c.warnings
                    .iter()
                    .any(|w| w.contains("too little observation")),
                "seed {seed}: no warning: {:?}",
                c.warnings
            );
        }
    }
}

#[test]
fn gappy_course_warns_where_a_window_is_empty() {
    // Nothing recorded from 10 days before the first injection to 45 days after it.
    let p = SimParams::default();
    let params = CourseParams::default();
    let mut sim = generate(&p, FIRST_DAY, 42);
    let inj = FIRST_DAY + p.cycles[0].inject_day;
    sim.sessions.retain(|s| {
        let day = (s.start_local_s / 86_400.0).floor() as i64;
        !(inj - 10..=inj + 45).contains(&day)
    });
    let course = run(&sim, &p, &params);
    let c = &course.cycles[0];
    assert!(c.ratio.is_none());
    assert!(c.warnings.iter().any(|w| w.contains("effect window")));
    // Days with under 10 minutes are shown but not used.
    assert!(course.days.iter().any(|d| !d.used));
    assert!(
        course
            .days
            .iter()
            .all(|d| d.used == (d.observed_s >= 600.0))
    );
}

/// Writes a generated course as one log per session; `dated`: whether session lines carry
/// their date (else the names and dates go into a sheet).
fn write_logs(sim: &SimCourse, dir: &Path, prefix: &str, dated: bool) -> String {
    let mut sheet = String::from("log,date\n");
    for (i, s) in sim.sessions.iter().enumerate() {
        let secs = s.start_local_s as i64;
        let dt = jiff::Timestamp::from_second(secs)
            .expect("a 2026 time")
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .datetime();
        let when = dt.strftime("%Y-%m-%dT%H:%M:%S+01:00").to_string();
        let name = format!("{prefix}{i:04}.events.jsonl");
        let mut sink = JsonlSink::create(&dir.join(&name)).expect("log created");
        for e in &s.events {
            let mut e = e.clone();
            if let Event::Session { recorded, .. } = &mut e
                && dated
            {
                *recorded = Some(when.clone());
            }
            sink.write(&e).expect("written");
        }
        sink.finish().expect("closed");
        sheet.push_str(&format!("{name},{}\n", dt.strftime("%Y-%m-%d %H:%M")));
    }
    sheet
}

#[test]
fn course_command_writes_page_and_tables() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let logs = tmp.path().join("logs");
    let old = tmp.path().join("old");
    std::fs::create_dir(&logs).expect("dir");
    std::fs::create_dir(&old).expect("dir");
    let p = SimParams::default();
    let sim = generate(&p, FIRST_DAY, 3);
    // The first 40 sessions as logs from before dates were recorded, dated by a sheet;
    // one more undated log that the sheet does not name.
    let (early, late) = sim.sessions.split_at(40);
    let sheet = write_logs(
        &SimCourse {
            first_day: sim.first_day,
            sessions: early.to_vec(),
        },
        &old,
        "old",
        false,
    );
    write_logs(
        &SimCourse {
            first_day: sim.first_day,
            sessions: late.to_vec(),
        },
        &logs,
        "new",
        true,
    );
    let sheet_path = tmp.path().join("dates.csv");
    std::fs::write(&sheet_path, sheet).expect("sheet");
    std::fs::copy(
        old.join("old0000.events.jsonl"),
        logs.join("stray.events.jsonl"),
    )
    .expect("copy");
    let out = tmp.path().join("course.html");
    let csv = tmp.path().join("tables");
    let o = common::bin()
        .arg("course")
        .arg(&logs)
        .arg(&old)
        .args([
            "--treatment",
            "2026-02-02=first",
            "--treatment",
            "2026-05-05",
        ])
        .arg("--sheet")
        .arg(&sheet_path)
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(&csv)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("After the injection on 2 February 2026 the rate in weeks 2-6 was"),
        "{err}"
    );
    assert!(err.contains("1 session(s) have no recording date"), "{err}");
    let html = std::fs::read_to_string(&out).expect("page");
    assert!(html.contains("<svg") && !html.contains("<script"));
    assert!(html.contains("stray.events.jsonl"));
    let cycles = std::fs::read_to_string(csv.join("cycles.csv")).expect("cycles.csv");
    assert_eq!(cycles.lines().count(), 3, "{cycles}");
    assert!(
        cycles
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("2026-02-02,first,"))
    );
    let days = std::fs::read_to_string(csv.join("days.csv")).expect("days.csv");
    assert!(days.lines().count() > 150);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [out, csv.join("cycles.csv"), csv.join("days.csv")] {
            let mode = std::fs::metadata(&f).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", f.display());
        }
    }
}

#[test]
fn course_command_rejects_bad_input_in_one_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let log = tmp.path().join("a.events.jsonl");
    std::fs::write(&log, "").expect("log");
    for (args, want) in [
        (
            vec!["--treatment", "2026-13-01"],
            "--treatment: \"2026-13-01\" is not a date",
        ),
        (vec!["--effect", "42-14"], "--effect 42-14"),
        (vec![], "no dated session"),
    ] {
        let o = common::bin()
            .arg("course")
            .arg(&log)
            .args(&args)
            .arg("--out")
            .arg(tmp.path().join("c.html"))
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().filter(|l| l.contains("error")).count(),
            1,
            "{err}"
        );
    }
}

#[test]
fn analyze_writes_the_recording_date() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let log = tmp.path().join("c.events.jsonl");
    let o = common::bin()
        .arg("analyze")
        .arg(common::sample("clonic_left.mp4"))
        .arg("--events")
        .arg(&log)
        .args(["-q", "--recorded", "2026-03-03 14:05"])
        .output()
        .expect("runs");
    assert!(o.status.success());
    let text = std::fs::read_to_string(&log).expect("log");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap_or("")).expect("json");
    let recorded = first["recorded"].as_str().unwrap_or("");
    assert!(recorded.starts_with("2026-03-03T14:05:00"), "{recorded}");
    assert!(twitchwatch::outputs::course::local_start_s(recorded).is_some());
}

#[test]
fn container_dates_are_judged() {
    use twitchwatch::outputs::course::judge_container_date;
    let now = 1_800_000_000;
    assert!(judge_container_date(None, now).is_err());
    assert!(judge_container_date(Some(0), now).is_err());
    assert!(judge_container_date(Some(900_000_000), now).is_err()); // 1998
    assert!(judge_container_date(Some(now + 10 * 86_400), now).is_err());
    assert_eq!(
        judge_container_date(Some(now - 86_400), now),
        Ok(now - 86_400)
    );
    // The sample clips state no date: analyze notes it.
    assert_eq!(
        twitchwatch::source::container_created(&common::sample("clonic_left.mp4")).ok(),
        Some(None)
    );
}

#[test]
fn real_phone_clip_states_its_date() {
    // One of the real clips carries a creation time in its movie header.
    let clip = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/clips/negatives/lp_d10.mp4");
    if !clip.is_file() {
        eprintln!("skipped: ../shared/clips is not beside the project");
        return;
    }
    let created = twitchwatch::source::container_created(&clip).expect("readable");
    // 2024-07-11T07:56:57Z
    assert_eq!(created, Some(1_720_684_617));
    assert!(twitchwatch::test_support::recording_date(&clip).is_ok());
}

#[test]
fn minute_severity_lines_are_drawn_when_present_and_skipped_when_odd() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let session = |day: u32| {
        format!(
            "{{\"kind\":\"session\",\"version\":\"0.1.0\",\"source\":\"x.mp4\",\"mirrored\":false,\"recorded\":\"2026-03-{day:02}T10:00:00+01:00\"}}\n"
        )
    };
    let summary = "{\"kind\":\"summary\",\"duration_s\":1200.0,\"observed_s\":1200.0,\"frames\":36000,\"twitches_left\":0,\"twitches_right\":0,\"per_minute_left\":0.0,\"per_minute_right\":0.0}\n";
    let mut a = session(2);
    a.push_str("{\"kind\":\"minute\",\"start_s\":0.0,\"closure_asymmetry_left\":0.3,\"closure_asymmetry_right\":0.1}\n");
    a.push_str("{\"kind\":\"minute\",\"start_s\":60.0,\"left\":{\"closure_asymmetry\":0.5},\"right\":{\"closure_asymmetry\":0.1}}\n");
    a.push_str(summary);
    let mut b = session(3);
    b.push_str("{\"kind\":\"minute\",\"what\":[1,2]}\n{\"kind\":\"decode_gap\",\"start_s\":5.0,\"end_s\":6.0}\n");
    b.push_str(summary);
    std::fs::write(tmp.path().join("a.events.jsonl"), a).expect("a");
    std::fs::write(tmp.path().join("b.events.jsonl"), b).expect("b");
    let out = tmp.path().join("c.html");
    let csv = tmp.path().join("t");
    let o = common::bin()
        .arg("course")
        .arg(tmp.path())
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(&csv)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).expect("page");
    assert!(html.contains("<h2>Severity</h2>"));
    let days = std::fs::read_to_string(csv.join("days.csv")).expect("days");
    assert!(
        days.contains("2026-03-02,20.00,yes,0,0,0,0.000,0.000,"),
        "{days}"
    );
    assert!(
        days.lines()
            .any(|l| l.starts_with("2026-03-02") && l.ends_with(",0.4000,0.1000")),
        "{days}"
    );
    assert!(
        days.lines()
            .any(|l| l.starts_with("2026-03-03") && l.ends_with(",,")),
        "{days}"
    );
}
