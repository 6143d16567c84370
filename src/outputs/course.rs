//! A treatment course: spasm rate per day over weeks and months, and per botulinum-toxin
//! cycle the baseline rate, the rate in the effect window, their ratio and the day the effect
//! wore off.
//!
//! Input: dated sessions (a start time and the `SessionStats` of one log, whose one-minute
//! blocks carry observed time and twitch counts), treatment days, `CourseParams`. Output:
//! plain numbers (`Course`). Pure functions, no I/O; the page and tables are drawn by
//! `report::course`. Thread: the caller's.
//!
//! Days are whole calendar days in the local time of the recording, numbered from
//! 1970-01-01 (`day_number`). Rates are spasms per *observed* hour: time with the face in
//! view, as `SessionStats` counts it (face-lost and camera gaps are not observed time).
//!
//! Statistics (see docs/course.md for the coverage study):
//! - A window's rate is Σ twitches / Σ observed hours over its usable days (a day is usable
//!   with at least `min_day_observed_s` in view), so days weigh by their observed time.
//! - The effect/baseline ratio's interval is on the log scale, with the variance of each
//!   window's rate estimated from its days (a ratio estimator's robust variance with each
//!   day's residual corrected for its leverage, HC3) and a t quantile with
//!   Welch–Satterthwaite degrees of freedom: this carries the day-to-day variation beyond
//!   Poisson, whatever its form.
//! - Wearing off is the first day after the effect window on which the rate averaged over a
//!   centred window of `smooth_days` (usable days only, by observed time; undefined where
//!   the window holds fewer than `min_smooth_days` usable days, so gaps are never bridged)
//!   is at least `back_share` of the baseline. Its interval is a bootstrap: baseline days are
//!   resampled with replacement, and the days after the injection get a wild bootstrap
//!   (each day's deviation from the smoothed rate, with a random sign) that keeps the time
//!   order; the interval spans the percentile and the basic bootstrap intervals, cut at
//!   calibrated quantiles (`wear_off_interval` and `WEAR_TAIL` say why). A "not yet" carries
//!   the interval's low end when the bootstrap puts it within the days searched.

use crate::outputs::stats::{SessionStats, quantile_sorted, t_quantile};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub mod simulate;

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;

/// Every tunable of the course analysis, in the units its name says.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseParams {
    /// A day with less observed time is shown but not used (seconds).
    pub min_day_observed_s: f64,
    /// Baseline: this many days before the injection day.
    pub baseline_days: i64,
    /// Effect window, in days after the injection (inclusive).
    pub effect_from_day: i64,
    pub effect_to_day: i64,
    /// Wearing off: the smoothed rate is back at this share of baseline.
    pub back_share: f64,
    /// Width of the centred smoothing window (days; odd).
    pub smooth_days: i64,
    /// The smoothed rate of a day is defined only with this many usable days in its window.
    pub min_smooth_days: usize,
    /// A window with less observed time, or fewer usable days, gets no rate (hours, days).
    pub min_window_hours: f64,
    pub min_window_days: usize,
    /// Bootstrap resamples and seed (the same data always give the same interval).
    pub resamples: usize,
    pub seed: u64,
}

impl Default for CourseParams {
    fn default() -> Self {
        Self {
            min_day_observed_s: 600.0,
            baseline_days: 28,
            effect_from_day: 14,
            effect_to_day: 42,
            back_share: 0.8,
            smooth_days: 7,
            min_smooth_days: 3,
            min_window_hours: 4.0,
            min_window_days: 5,
            resamples: 1000,
            seed: 20_240_611,
        }
    }
}

/// One calendar day of the course.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// Day number (days since 1970-01-01, local calendar).
    pub day: i64,
    pub observed_s: f64,
    /// Twitches starting this day, left and right (`Side::index`).
    pub twitches: [u64; 2],
    /// Enough observed time to be used (`CourseParams::min_day_observed_s`).
    pub used: bool,
    /// Mean per-minute severity index per side, when the logs carry one.
    pub severity: [Option<f64>; 2],
}

impl Day {
    pub fn total(&self) -> u64 {
        self.twitches[0] + self.twitches[1]
    }

    /// Spasms per observed hour (both sides), `None` without observed time.
    pub fn rate_per_h(&self) -> Option<f64> {
        (self.observed_s > 0.0).then(|| self.total() as f64 * 3600.0 / self.observed_s)
    }
}

/// One session placed in time: its local start (seconds since 1970-01-01 in the local
/// calendar, i.e. the civil date-time read as if it were UTC) and its statistics.
#[derive(Debug, Clone)]
pub struct DatedSession<'a> {
    pub start_local_s: f64,
    pub stats: &'a SessionStats,
    /// Per-minute severity samples `(seconds from the session start, [left, right])`.
    pub severity: &'a [(f64, [Option<f64>; 2])],
}

/// Days `first..=last` with every session's one-minute blocks put on the day they started.
pub fn day_table(sessions: &[DatedSession], params: &CourseParams) -> Vec<Day> {
    let day_of = |start: f64, offset: f64| ((start + offset) / DAY_S).floor() as i64;
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for s in sessions {
        first = first.min(day_of(s.start_local_s, 0.0));
        last = last.max(day_of(s.start_local_s, s.stats.duration_s.max(0.0)));
    }
    if first > last {
        return Vec::new();
    }
    let n = (last - first + 1) as usize;
    let mut days: Vec<Day> = (0..n as i64)
        .map(|i| Day {
            day: first + i,
            observed_s: 0.0,
            twitches: [0, 0],
            used: false,
            severity: [None, None],
        })
        .collect();
    let mut sev_sum = vec![[(0.0f64, 0usize); 2]; n];
    for s in sessions {
        for b in &s.stats.blocks {
            let i = (day_of(s.start_local_s, b.start_s) - first) as usize;
            let d = &mut days[i];
            d.observed_s += b.observed_s;
            d.twitches[0] += b.twitches[0] as u64;
            d.twitches[1] += b.twitches[1] as u64;
        }
        for (t, v) in s.severity {
            let i = day_of(s.start_local_s, *t) - first;
            if !(0..n as i64).contains(&i) {
                continue;
            }
            for side in 0..2 {
                if let Some(x) = v[side].filter(|x| x.is_finite()) {
                    let acc = &mut sev_sum[i as usize][side];
                    acc.0 += x;
                    acc.1 += 1;
                }
            }
        }
    }
    for (d, sev) in days.iter_mut().zip(&sev_sum) {
        d.used = d.observed_s >= params.min_day_observed_s;
        for (out, (sum, n)) in d.severity.iter_mut().zip(sev) {
            if *n > 0 {
                *out = Some(sum / *n as f64);
            }
        }
    }
    days
}

/// A window of days (inclusive) and what was observed in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
    pub used_days: usize,
    pub observed_h: f64,
    pub twitches: u64,
    /// Spasms per observed hour; `None` when the window is too thin.
    pub rate_per_h: Option<f64>,
    /// Variance of `rate_per_h` estimated from the days, and its degrees of freedom.
    var: f64,
    df: f64,
}

/// Effect / baseline with a 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioCi {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

/// When the effect wore off.
#[derive(Debug, Clone, PartialEq)]
pub enum WearOff {
    /// No baseline rate, or no usable day after the effect window.
    NotEstimated(String),
    /// Not back by the end of the search (`until`: the last day searched whose smoothed rate
    /// is defined; `next_injection`: the search stopped at the next injection rather than at
    /// the end of the data). `low`: the low end of the 95 % bootstrap interval in days after
    /// the injection, `None` when even that lies beyond `until` (the high end is open).
    NotYet {
        until: i64,
        next_injection: bool,
        low: Option<i64>,
    },
    /// Back on `day` days after the injection. `low`/`high`: 95 % bootstrap interval in days
    /// after the injection; `high` is `None` when the interval reaches past the data.
    Back {
        day: i64,
        low: i64,
        high: Option<i64>,
    },
}

/// One treatment cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    /// Injection day (day number) and its label.
    pub injection: i64,
    pub label: String,
    pub baseline: Window,
    pub effect: Window,
    pub ratio: Option<RatioCi>,
    pub wear_off: WearOff,
    /// Last day searched for wearing off.
    pub search_to: i64,
    /// Smoothed rate (per observed hour) by day from the end of the effect window through
    /// the search, `None` where undefined (too few usable days in the window).
    pub smoothed: Vec<(i64, Option<f64>)>,
    /// Why a number is missing or should be read with care.
    pub warnings: Vec<String>,
}

/// The whole course.
#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    pub days: Vec<Day>,
    pub cycles: Vec<Cycle>,
    pub params: CourseParams,
}

/// Analyses the day table for each injection day (sorted; labels beside).
pub fn analyze(days: Vec<Day>, treatments: &[(i64, String)], params: &CourseParams) -> Course {
    let mut order: Vec<&(i64, String)> = treatments.iter().collect();
    order.sort_by_key(|t| t.0);
    let mut cycles = Vec::new();
    for (k, (inj, label)) in order.iter().enumerate() {
        let next = order.get(k + 1).map(|t| t.0);
        let prev = k.checked_sub(1).map(|j| order[j].0);
        cycles.push(cycle(&days, *inj, label, prev, next, params, k as u64));
    }
    Course {
        days,
        cycles,
        params: params.clone(),
    }
}

/// Usable days of `days` within `from..=to`, as (observed hours, twitches).
fn used_in(days: &[Day], from: i64, to: i64) -> Vec<(f64, f64)> {
    days.iter()
        .filter(|d| d.used && d.day >= from && d.day <= to)
        .map(|d| (d.observed_s / 3600.0, d.total() as f64))
        .collect()
}

fn window(days: &[Day], from: i64, to: i64, params: &CourseParams) -> Window {
    let used = used_in(days, from, to);
    let t: f64 = used.iter().map(|u| u.0).sum();
    let n: f64 = used.iter().map(|u| u.1).sum();
    let k = used.len();
    let enough = k >= params.min_window_days && t >= params.min_window_hours;
    let (rate, var, df) = if enough && t > 0.0 {
        let r = n / t;
        // Robust (ratio-estimator) variance over days with each day's residual inflated by
        // its leverage h = t_i / T (HC3, a jackknife's variance): a long day pulls the rate
        // towards itself and hides part of its own deviation, and the plain k/(k-1) factor
        // (right only for equal days) left the interval short. No Poisson floor: the larger
        // of a noisy estimate and the Poisson variance is biased upwards (over-long
        // intervals without overdispersion); half a count keeps it positive.
        let var: f64 = used
            .iter()
            .map(|(ti, ni)| ((ni - r * ti) / (1.0 - ti / t).max(0.1)).powi(2))
            .sum::<f64>()
            / (t * t);
        (Some(r), var.max(0.5 / (t * t)), k as f64 - 1.0)
    } else {
        (None, 0.0, 0.0)
    };
    Window {
        from,
        to,
        used_days: k,
        observed_h: t,
        twitches: n as u64,
        rate_per_h: rate,
        var,
        df,
    }
}

/// Effect / baseline on the log scale with a Welch t interval.
fn ratio(b: &Window, e: &Window) -> Option<RatioCi> {
    let (rb, re) = (b.rate_per_h?, e.rate_per_h?);
    if rb <= 0.0 {
        return None;
    }
    // A window without a twitch: half a count keeps the log finite.
    let re_log = re.max(0.5 / e.observed_h);
    let vb = b.var / (rb * rb);
    let ve = e.var / (re_log * re_log);
    let df = (vb + ve).powi(2) / (vb * vb / b.df + ve * ve / e.df);
    let t = t_quantile(0.975, df);
    let centre = (re_log / rb).ln();
    let half = t * (vb + ve).sqrt();
    Some(RatioCi {
        ratio: re / rb,
        low: if re == 0.0 {
            0.0
        } else {
            (centre - half).exp()
        },
        high: (centre + half).exp(),
    })
}

/// Smoothed rate per observed hour for each day `from..=to`, from the usable days within
/// `lo..=hi` (`None` where the centred window has too few usable days). `hours` and
/// `counts` are indexed by `day - lo`, zero hours meaning not usable.
fn smooth(
    hours: &[f64],
    counts: &[f64],
    lo: i64,
    from: i64,
    to: i64,
    p: &CourseParams,
) -> Vec<Option<f64>> {
    let h = p.smooth_days / 2;
    let hi = lo + hours.len() as i64 - 1;
    // Prefix sums of hours, counts and usable days.
    let mut pre = Vec::with_capacity(hours.len() + 1);
    pre.push((0.0, 0.0, 0usize));
    for (t, n) in hours.iter().zip(counts) {
        let last = pre[pre.len() - 1];
        let used = *t > 0.0;
        pre.push((
            last.0 + t,
            last.1 + if used { *n } else { 0.0 },
            last.2 + used as usize,
        ));
    }
    (from..=to)
        .map(|d| {
            let a = ((d - h).max(lo) - lo) as usize;
            let b = ((d + h).min(hi) - lo) as usize + 1;
            let (t, n, k) = (
                pre[b].0 - pre[a].0,
                pre[b].1 - pre[a].1,
                pre[b].2 - pre[a].2,
            );
            (k >= p.min_smooth_days && t > 0.0).then(|| n / t)
        })
        .collect()
}

/// First index whose smoothed value is at least `threshold`.
fn first_back(smoothed: &[Option<f64>], threshold: f64) -> Option<usize> {
    smoothed
        .iter()
        .position(|s| s.is_some_and(|v| v >= threshold))
}

fn cycle(
    days: &[Day],
    inj: i64,
    label: &str,
    prev: Option<i64>,
    next: Option<i64>,
    p: &CourseParams,
    salt: u64,
) -> Cycle {
    let mut warnings = Vec::new();
    let baseline = window(days, inj - p.baseline_days, inj - 1, p);
    let effect = window(days, inj + p.effect_from_day, inj + p.effect_to_day, p);
    for (name, w) in [("baseline", &baseline), ("effect window", &effect)] {
        if w.rate_per_h.is_none() {
            warnings.push(format!(
                "too little observation in the {name} ({} usable days, {:.1} hours; at least {} days and {:.0} hours are needed): no ratio",
                w.used_days, w.observed_h, p.min_window_days, p.min_window_hours
            ));
        }
    }
    if let Some(pr) = prev
        && inj - p.baseline_days <= pr + p.effect_to_day
    {
        warnings.push(
            "the baseline overlaps the previous cycle's effect window: the ratio compares with a treated baseline"
                .to_string(),
        );
    }
    let ratio = ratio(&baseline, &effect);
    let last_day = days.last().map_or(inj, |d| d.day);
    let search_from = inj + p.effect_to_day + 1;
    let search_to = match next {
        Some(nx) => (nx - 1).min(last_day),
        None => last_day,
    };
    // Days the smoothing may read: from the start of the effect window up to the day
    // before the next injection (its effect must not leak back).
    let lo = inj + p.effect_from_day;
    let hi = next.map_or(last_day, |nx| nx - 1).min(last_day).max(lo);
    let mut hours = vec![0.0; (hi - lo + 1) as usize];
    let mut counts = vec![0.0; hours.len()];
    for d in days.iter().filter(|d| d.used && d.day >= lo && d.day <= hi) {
        let i = (d.day - lo) as usize;
        hours[i] = d.observed_s / 3600.0;
        counts[i] = d.total() as f64;
    }
    let smoothed_v = if search_to >= search_from {
        smooth(&hours, &counts, lo, search_from, search_to, p)
    } else {
        Vec::new()
    };
    let smoothed: Vec<(i64, Option<f64>)> =
        (search_from..).zip(smoothed_v.iter().copied()).collect();
    let wear_off = match baseline.rate_per_h {
        None => WearOff::NotEstimated("no baseline rate".to_string()),
        Some(_) if smoothed_v.iter().all(Option::is_none) => {
            WearOff::NotEstimated("too little observation after the effect window".to_string())
        }
        Some(rb) => {
            let est = first_back(&smoothed_v, p.back_share * rb);
            let boot = wear_off_bootstrap(
                days,
                inj,
                &hours,
                &counts,
                lo,
                search_from,
                search_to,
                p,
                salt,
            );
            match est {
                // "Not yet" claims only the days judged: a gap or thin days at the end of the
                // search (smoothed rate undefined) tell nothing either way.
                None => {
                    let until = smoothed
                        .iter()
                        .rev()
                        .find(|(_, v)| v.is_some())
                        .map_or(search_to, |(d, _)| *d);
                    WearOff::NotYet {
                        until,
                        next_injection: next.is_some_and(|nx| nx - 1 <= last_day),
                        low: not_yet_low(&boot, p.effect_to_day + 1).filter(|l| *l <= until - inj),
                    }
                }
                Some(i) => {
                    let day = p.effect_to_day + 1 + i as i64;
                    let (low, high) = wear_off_interval(day, &boot, p.effect_to_day + 1);
                    WearOff::Back { day, low, high }
                }
            }
        }
    };
    if matches!(wear_off, WearOff::Back { high: None, .. }) {
        warnings
            .push("the interval of the wearing-off day reaches past the days searched (the end of the data or the next injection)".to_string());
    }
    Cycle {
        injection: inj,
        label: label.to_string(),
        baseline,
        effect,
        ratio,
        wear_off,
        search_to,
        smoothed,
        warnings,
    }
}

/// Bootstrap replicates of the wearing-off day (days after the injection; `None`: not
/// back within the search).
#[allow(clippy::too_many_arguments)]
fn wear_off_bootstrap(
    days: &[Day],
    inj: i64,
    hours: &[f64],
    counts: &[f64],
    lo: i64,
    search_from: i64,
    search_to: i64,
    p: &CourseParams,
    salt: u64,
) -> Vec<Option<i64>> {
    let base = used_in(days, inj - p.baseline_days, inj - 1);
    let hi = lo + hours.len() as i64 - 1;
    // The fit the wild bootstrap perturbs: each day's smoothed rate over all readable days.
    let fit = smooth(hours, counts, lo, lo, hi, p);
    // Each day's deviation from the fit, inflated for the day's own weight in its fit.
    let h = p.smooth_days / 2;
    let resid: Vec<f64> = (0..hours.len())
        .map(|i| {
            let Some(mu) = fit[i].filter(|_| hours[i] > 0.0) else {
                return 0.0;
            };
            let d = lo + i as i64;
            let (a, b) = ((d - h).max(lo), (d + h).min(hi));
            let wsum: f64 = (a..=b).map(|j| hours[(j - lo) as usize]).sum();
            let lev = (hours[i] / wsum).min(0.9);
            (counts[i] - mu * hours[i]) / (1.0 - lev).sqrt()
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed ^ (salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let mut out = Vec::with_capacity(p.resamples);
    let mut c_star = vec![0.0; counts.len()];
    for _ in 0..p.resamples {
        let (mut t, mut n) = (0.0, 0.0);
        for _ in 0..base.len() {
            let (ti, ni) = base[rng.random_range(0..base.len())];
            t += ti;
            n += ni;
        }
        let rb = if t > 0.0 { n / t } else { 0.0 };
        for i in 0..counts.len() {
            c_star[i] = match fit[i] {
                Some(mu) if hours[i] > 0.0 => {
                    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    (mu * hours[i] + sign * resid[i]).max(0.0)
                }
                _ => 0.0,
            };
        }
        let s = smooth(hours, &c_star, lo, search_from, search_to, p);
        out.push(first_back(&s, p.back_share * rb).map(|i| p.effect_to_day + 1 + i as i64));
    }
    out
}

/// Tail share cut from each end of the wearing-off day's bootstrap distribution for its
/// 95 % interval. The replicates' spread of a first crossing is about a fifth narrower than
/// the estimate's true spread (the coverage study, docs/course.md), so the 1 % and 99 %
/// quantiles stand in for the 2.5 % and 97.5 % ones: a calibrated bootstrap.
const WEAR_TAIL: f64 = 0.01;

/// 95 % interval of the wearing-off day from its bootstrap replicates: the span of the
/// percentile interval `[q_lo, q_hi]` (the `WEAR_TAIL` and `1 − WEAR_TAIL` quantiles) and the
/// basic (reflected) interval `[2θ − q_hi, 2θ − q_lo]`, rounded outwards and kept at or after
/// `min_day`. A first crossing is not a
/// smooth statistic and its bias can go either way (noise crosses early, a noisy baseline
/// moves the threshold); neither interval alone held 95 % in the coverage study, their
/// span does (docs/course.md). Replicates that never came back count as later than every
/// day: when the upper quantile is among them, the high end is open (`None`) and the low
/// end is `min_day`.
fn wear_off_interval(est: i64, boot: &[Option<i64>], min_day: i64) -> (i64, Option<i64>) {
    // "Never back" as a day far beyond any course; a quantile that touches it is open.
    const NEVER: f64 = 1e9;
    let mut v: Vec<f64> = boot.iter().map(|b| b.map_or(NEVER, |d| d as f64)).collect();
    if v.is_empty() {
        return (est, Some(est));
    }
    v.sort_by(f64::total_cmp);
    let open = |q: f64| if q > NEVER / 2.0 { f64::INFINITY } else { q };
    let q_lo = open(quantile_sorted(&v, WEAR_TAIL));
    let q_hi = open(quantile_sorted(&v, 1.0 - WEAR_TAIL));
    let e = est as f64;
    let low = if q_hi.is_finite() {
        q_lo.min(2.0 * e - q_hi).floor() as i64
    } else {
        min_day
    };
    let high = q_hi
        .is_finite()
        .then(|| q_hi.max(2.0 * e - q_lo).ceil() as i64);
    (low.max(min_day).min(est), high.map(|h| h.max(est)))
}

/// Low end of the 95 % interval when the estimate is "not yet": the `WEAR_TAIL` quantile of
/// the replicates (never-back ones count as later than every day), `None` when it is never.
fn not_yet_low(boot: &[Option<i64>], min_day: i64) -> Option<i64> {
    let mut v: Vec<f64> = boot
        .iter()
        .map(|b| b.map_or(f64::INFINITY, |d| d as f64))
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * WEAR_TAIL).floor() as usize;
    v[i].is_finite().then(|| (v[i] as i64).max(min_day))
}

/// Day-to-day dispersion of the counts beyond Poisson: the mean Pearson residual² of the
/// usable days around their centred smoothed rate (at least 1). Widens the per-day
/// intervals of the page.
pub fn dispersion(days: &[Day], p: &CourseParams) -> f64 {
    let Some(lo) = days.first().map(|d| d.day) else {
        return 1.0;
    };
    let hours: Vec<f64> = days
        .iter()
        .map(|d| if d.used { d.observed_s / 3600.0 } else { 0.0 })
        .collect();
    let counts: Vec<f64> = days.iter().map(|d| d.total() as f64).collect();
    let hi = lo + days.len() as i64 - 1;
    let fit = smooth(&hours, &counts, lo, lo, hi, p);
    let (mut sum, mut k) = (0.0, 0usize);
    for i in 0..days.len() {
        if let Some(mu) = fit[i].filter(|m| hours[i] > 0.0 && *m > 0.0) {
            let e = mu * hours[i];
            sum += (counts[i] - e).powi(2) / e;
            k += 1;
        }
    }
    if k < 5 {
        1.0
    } else {
        (sum / k as f64).max(1.0)
    }
}

/// Approximate 95 % interval of a Poisson mean from a count `n` (Byar's approximation),
/// widened by a dispersion factor `phi` (≥ 1).
pub fn count_interval(n: u64, phi: f64) -> (f64, f64) {
    let z = 1.959_964 * phi.max(1.0).sqrt();
    let n = n as f64;
    let low = if n == 0.0 {
        0.0
    } else {
        n * (1.0 - 1.0 / (9.0 * n) - z / (3.0 * n.sqrt()))
            .max(0.0)
            .powi(3)
    };
    let m = n + 1.0;
    let high = m * (1.0 - 1.0 / (9.0 * m) + z / (3.0 * m.sqrt())).powi(3);
    (low, high)
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// Container dates before this (2000-01-01 UTC, Unix seconds) are implausible.
pub const EARLIEST_PLAUSIBLE_UNIX_S: i64 = 946_684_800;

/// RFC 3339 with the local UTC offset (seconds), as written on `session` lines.
pub fn rfc3339_local(unix_s: i64) -> Option<String> {
    let ts = jiff::Timestamp::from_second(unix_s).ok()?;
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    Some(z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

/// Judges a container's creation time (Unix seconds, `None`: absent or zero) against `now`:
/// the time, or why it cannot be used.
pub fn judge_container_date(created: Option<i64>, now_unix_s: i64) -> Result<i64, String> {
    match created {
        None => Err("the container states no creation date".to_string()),
        Some(t) if t < EARLIEST_PLAUSIBLE_UNIX_S => Err(format!(
            "the container's creation date ({}) is before 2000, which is implausible",
            rfc3339_local(t).unwrap_or_else(|| format!("{t} s"))
        )),
        Some(t) if t > now_unix_s + 86_400 => Err(format!(
            "the container's creation date ({}) is in the future",
            rfc3339_local(t).unwrap_or_else(|| format!("{t} s"))
        )),
        Some(t) => Ok(t),
    }
}

/// A date given by the user (`--recorded`, a sheet): `2026-03-03`, `2026-03-03 14:05`,
/// `2026-03-03T14:05:00`, or RFC 3339 with an offset. Without an offset it is local time.
/// Returns RFC 3339 with the local offset.
pub fn parse_when(s: &str) -> Result<String, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "\"{s}\" is not a date (use YYYY-MM-DD, YYYY-MM-DD HH:MM, or RFC 3339 such as 2026-03-03T14:05:00+01:00)"
        )
    };
    let tz = jiff::tz::TimeZone::system();
    let zoned = if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        ts.to_zoned_datetime(tz)
    } else if let Ok(dt) = s.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>() {
        dt.to_zoned_datetime(tz).map_err(|_| bad())?
    } else if let Ok(d) = s.parse::<jiff::civil::Date>() {
        d.to_zoned_datetime(tz).map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    Ok(zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

/// A civil date (`YYYY-MM-DD`), e.g. an injection day.
pub fn parse_day(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<jiff::civil::Date>()
        .map(day_number)
        .map_err(|_| format!("\"{}\" is not a date (use YYYY-MM-DD)", s.trim()))
}

/// The local start of a recording from its RFC 3339 `recorded` value, as seconds since
/// 1970-01-01 of the local calendar (the wall-clock reading, whatever the offset).
pub fn local_start_s(recorded: &str) -> Option<f64> {
    let r = recorded.trim();
    // A civil date-time reads the wall clock and ignores the offset; "Z" (UTC) is not
    // accepted that way, so a UTC instant is read as UTC.
    let dt = r.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        let ts = r.parse::<jiff::Timestamp>().ok()?;
        Some(ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime())
    })?;
    let days = day_number(dt.date()) as f64;
    let t = dt.time();
    Some(
        days * DAY_S
            + t.hour() as f64 * 3600.0
            + t.minute() as f64 * 60.0
            + t.second() as f64
            + t.subsec_nanosecond() as f64 * 1e-9,
    )
}

/// Day number of a civil date.
pub fn day_number(d: jiff::civil::Date) -> i64 {
    let epoch = jiff::civil::date(1970, 1, 1);
    d.duration_since(epoch).as_secs().div_euclid(86_400)
}

/// The civil date of a day number.
pub fn date_of(day: i64) -> jiff::civil::Date {
    let epoch = jiff::civil::date(1970, 1, 1);
    epoch
        .checked_add(jiff::SignedDuration::from_hours(24 * day))
        .unwrap_or(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        let d = jiff::civil::date(2026, 3, 3);
        assert_eq!(date_of(day_number(d)), d);
        assert_eq!(day_number(jiff::civil::date(1970, 1, 2)), 1);
    }

    #[test]
    fn wear_off_interval_spans_and_opens() {
        let boot: Vec<Option<i64>> = (0..100).map(|i| Some(60 + i / 10)).collect();
        // Percentile 60..69; basic around 64: 2·64−69 = 59 .. 2·64−60 = 68.
        assert_eq!(wear_off_interval(64, &boot, 43), (59, Some(69)));
        let never: Vec<Option<i64>> = vec![None; 100];
        assert_eq!(wear_off_interval(70, &never, 43), (43, None));
    }

    #[test]
    fn not_yet_low_end_from_the_replicates() {
        // 5 of 100 replicates came back (days 50..54): the 1 % quantile is day 50.
        let mut boot: Vec<Option<i64>> = (50..55).map(Some).collect();
        boot.extend(std::iter::repeat_n(None, 95));
        assert_eq!(not_yet_low(&boot, 43), Some(50));
        // None came back: no low end within the days searched.
        assert_eq!(not_yet_low(&[None; 100], 43), None);
    }
}
