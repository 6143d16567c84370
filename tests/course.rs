//! Treatment courses: the coverage study of `course`'s intervals on generated courses with
//! known truth, and thin or gappy courses that must give warnings, not effects.
//!
//! The coverage figures in docs/course.md come from
//! `cargo test --test course coverage -- --nocapture`.

use twitchwatch::course::simulate::{CycleTruth, SimCourse, SimParams, generate};
use twitchwatch::course::{Course, CourseParams, DatedSession, WearOff, analyze, day_table};
use twitchwatch::stats::SessionStats;

/// Day number of the generated courses' first day (2026-01-05).
const FIRST_DAY: i64 = 20_458;
const COURSES: u64 = 200;

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
    for i in 0..COURSES {
        let sim = generate(p, FIRST_DAY, seed0 + i);
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
                // A miss: the truth came back inside the data.
                WearOff::NotYet { .. } | WearOff::NotEstimated(_) => t.wear_n += 1,
            }
        }
    }
    tallies
}

/// 200 draws at a true 95 %: 0.90..=0.99 holds with probability above 0.998.
fn assert_coverage(what: &str, hit: u32, n: u32) {
    let share = Tally::share(hit, n);
    println!("{what}: {hit}/{n} = {:.3}", share);
    assert!(n >= COURSES as u32 * 9 / 10, "{what}: only {n} estimates");
    assert!(
        (0.90..=0.99).contains(&share),
        "{what}: coverage {share:.3} outside 0.90..=0.99"
    );
}

#[test]
fn coverage_overdispersed_and_poisson() {
    for (name, cv, seed0) in [
        ("overdispersed (day CV 0.3)", 0.3, 1_000),
        ("Poisson", 0.0, 5_000),
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
    let tallies = study(&p, 9_000);
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
