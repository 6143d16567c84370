//! Generated treatment courses with known truth: months of event logs (sessions on most
//! days, face-lost stretches, missed days and a holiday gap), a Poisson or overdispersed
//! day-to-day spasm rate, and botulinum-toxin cycles of known depth and wearing-off day.
//! For the coverage study (tests/course.rs) and the demonstration page (examples/course_demo.rs).
//!
//! Input: `SimParams` and a seed. Output: sessions as events (the same structs `analyze`
//! writes) with their local start times, and the true ratio and wearing-off day of every
//! cycle. Deterministic for a seed. Thread: the caller's.

use crate::analysis::anatomy::{RegionKind, Side};
use crate::outputs::events::{Event, Pattern, Twitch};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};

/// One cycle's true effect: the rate falls linearly to `depth` × baseline over the first
/// 14 days, holds until `hold_until` days after the injection, then climbs linearly back to
/// baseline over `rise_days`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CycleTruth {
    /// Injection, in days from the course's first day.
    pub inject_day: i64,
    pub depth: f64,
    pub hold_until: i64,
    pub rise_days: i64,
}

impl CycleTruth {
    /// Rate multiplier `tau` days after the injection (1 before it).
    pub fn multiplier(&self, tau: i64) -> f64 {
        let t = tau as f64;
        if tau < 0 {
            1.0
        } else if tau <= 14 {
            1.0 - (1.0 - self.depth) * t / 14.0
        } else if tau <= self.hold_until {
            self.depth
        } else {
            (self.depth + (1.0 - self.depth) * (t - self.hold_until as f64) / self.rise_days as f64)
                .min(1.0)
        }
    }

    /// The true wearing-off day: the first day after `effect_to_day` with the rate at least
    /// `share` of baseline.
    pub fn wear_off_day(&self, effect_to_day: i64, share: f64) -> i64 {
        (effect_to_day + 1..)
            .find(|&tau| self.multiplier(tau) >= share - 1e-12)
            .unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    pub days: i64,
    /// Untreated spasms per observed hour (both sides).
    pub base_per_h: f64,
    /// Day-to-day coefficient of variation of the rate (gamma); 0 = Poisson only.
    pub day_cv: f64,
    /// Chance that a day has no session at all.
    pub skip_prob: f64,
    /// One holiday of this many days without sessions, at a random place.
    pub gap_days: i64,
    /// Sessions per recorded day (uniform in this range) and their length in minutes.
    pub sessions_per_day: (u32, u32),
    pub session_min: (f64, f64),
    /// Share of the spasms on the right side (the rest: left).
    pub right_share: f64,
    pub cycles: Vec<CycleTruth>,
}

impl Default for SimParams {
    /// Six months with two cycles, as a patient logging video calls might record them.
    fn default() -> Self {
        Self {
            days: 182,
            base_per_h: 30.0,
            day_cv: 0.3,
            skip_prob: 0.3,
            gap_days: 8,
            sessions_per_day: (1, 3),
            session_min: (15.0, 60.0),
            right_share: 0.05,
            cycles: vec![
                CycleTruth {
                    inject_day: 28,
                    depth: 0.35,
                    hold_until: 48,
                    rise_days: 16,
                },
                CycleTruth {
                    inject_day: 120,
                    depth: 0.5,
                    hold_until: 44,
                    rise_days: 12,
                },
            ],
        }
    }
}

impl SimParams {
    /// The true rate multiplier on course day `day` (the latest injection's).
    pub fn multiplier(&self, day: i64) -> f64 {
        self.cycles
            .iter()
            .filter(|c| c.inject_day <= day)
            .max_by_key(|c| c.inject_day)
            .map_or(1.0, |c| c.multiplier(day - c.inject_day))
    }
}

/// One generated session.
#[derive(Debug, Clone)]
pub struct SimSession {
    /// Local start, seconds since 1970-01-01 (civil time read as UTC).
    pub start_local_s: f64,
    pub events: Vec<Event>,
}

/// A generated course. `first_day` is the day number of course day 0.
#[derive(Debug, Clone)]
pub struct SimCourse {
    pub first_day: i64,
    pub sessions: Vec<SimSession>,
}

/// Generates one course starting on day number `first_day`.
pub fn generate(p: &SimParams, first_day: i64, seed: u64) -> SimCourse {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gamma = (p.day_cv > 0.0)
        .then(|| Gamma::new(1.0 / (p.day_cv * p.day_cv), p.day_cv * p.day_cv).ok())
        .flatten();
    let gap_start = rng.random_range(0..p.days.max(1));
    let mut sessions = Vec::new();
    for day in 0..p.days {
        if (gap_start..gap_start + p.gap_days).contains(&day) || rng.random_bool(p.skip_prob) {
            continue;
        }
        let factor = gamma.as_ref().map_or(1.0, |g| g.sample(&mut rng));
        let per_s = p.base_per_h * p.multiplier(day) * factor / 3600.0;
        let n = rng.random_range(p.sessions_per_day.0..=p.sessions_per_day.1);
        // Sessions in separate hours of the day (8:00 to 20:00), so they never overlap.
        let mut hours: Vec<u32> = (8..20).collect();
        for k in 0..n as usize {
            let j = rng.random_range(k..hours.len());
            hours.swap(k, j);
        }
        for &hour in &hours[..n as usize] {
            let len_s = rng.random_range(p.session_min.0..=p.session_min.1) * 60.0;
            let start = (first_day + day) as f64 * 86_400.0
                + hour as f64 * 3600.0
                + rng.random_range(0.0..(3600.0 - len_s).max(1.0));
            sessions.push(SimSession {
                start_local_s: start,
                events: session_events(&mut rng, len_s, per_s, p.right_share),
            });
        }
    }
    SimCourse {
        first_day,
        sessions,
    }
}

/// A session of `len_s` seconds: a session line, a face-lost stretch or two, twitches as a
/// Poisson process at `per_s` over the time the face is in view, a summary line.
fn session_events(rng: &mut ChaCha8Rng, len_s: f64, per_s: f64, right_share: f64) -> Vec<Event> {
    let mut events = vec![Event::session(
        "generated".to_string(),
        false,
        serde_json::Value::Null,
        None,
    )];
    let mut lost = Vec::new();
    for _ in 0..rng.random_range(0..=2) {
        let a = rng.random_range(0.0..len_s * 0.9);
        let b = (a + rng.random_range(20.0..180.0)).min(len_s);
        lost.push((a, b));
    }
    let lost_s: f64 = crate::outputs::stats::union(lost.clone())
        .iter()
        .map(|(a, b)| b - a)
        .sum();
    let observed_s = len_s - lost_s;
    let count = Poisson::new(per_s * observed_s)
        .map(|d| d.sample(rng) as u64)
        .unwrap_or(0);
    let mut twitches = Vec::with_capacity(count as usize);
    let mut left = 0;
    while twitches.len() < count as usize {
        let t: f64 = rng.random_range(0.0..len_s - 0.5);
        if lost.iter().any(|&(a, b)| t + 0.5 > a && t < b) {
            continue; // not in view: placed again, so the count stays the observed one
        }
        let side = if rng.random_bool(right_share) {
            Side::Right
        } else {
            left += 1;
            Side::Left
        };
        twitches.push(Twitch {
            start_s: (t * 1000.0).round() / 1000.0,
            end_s: ((t + 0.5) * 1000.0).round() / 1000.0,
            side,
            regions: vec![RegionKind::Eye],
            peak: 3.0,
            asymmetry: 0.9,
            pattern: Pattern::Clonic,
            confidence: 0.95,
            evidence: Vec::new(),
            wall_start: None,
            wall_end: None,
            glasses: false,
            candidate: None,
        });
    }
    twitches.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    events.extend(twitches.into_iter().map(Event::Twitch));
    events.extend(lost.iter().map(|&(a, b)| Event::FaceLost {
        start_s: a,
        end_s: b,
    }));
    let minutes = observed_s / 60.0;
    events.push(Event::Summary {
        duration_s: len_s,
        observed_s,
        frames: (len_s * 30.0) as u64,
        twitches_left: left,
        twitches_right: count - left,
        per_minute_left: left as f64 / minutes,
        per_minute_right: (count - left) as f64 / minutes,
        frames_dropped: None,
        decode_gaps: vec![],
        error: None,
    });
    events
}
