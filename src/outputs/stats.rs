//! Session statistics for the therapist report: what one event log says, and how two logs
//! (before / after a treatment) compare.
//!
//! Input: parsed `Event`s (see `events::read_log`). Output: plain numbers. Pure functions, no
//! I/O, no panics on odd input. Units: times in seconds of media time unless a name says
//! otherwise (`per_minute` = per *observed* minute); shares are fractions 0..1, not percent.
//! A value that cannot be computed (no observed time, no twitches) is `None`, never NaN or
//! infinity — with one documented exception, the upper end of a rate ratio whose "before"
//! count is zero.

use crate::analysis::anatomy::{RegionKind, Side};
use crate::outputs::events::{Event, Pattern, Twitch};
use crate::outputs::observed::Observation;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{Beta, ContinuousCDF, Normal, StudentsT};

/// Length of the blocks `SessionStats::blocks` cuts a session into (for the share interval
/// and for timelines), in seconds.
pub const BLOCK_S: f64 = 60.0;

/// Two-sided confidence level used throughout: 95 %.
const ALPHA: f64 = 0.05;

// ---------------------------------------------------------------------------------------------
// Descriptive statistics of one session
// ---------------------------------------------------------------------------------------------

/// Five-number summary of a sample (quartiles by linear interpolation between order
/// statistics, the common "type 7" definition used by numpy and R by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distribution {
    pub n: usize,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
    pub mean: f64,
}

impl Distribution {
    /// `None` for an empty sample. Non-finite values are ignored.
    pub fn of(values: &[f64]) -> Option<Distribution> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Distribution {
            n: v.len(),
            min: v[0],
            q1: quantile_sorted(&v, 0.25),
            median: quantile_sorted(&v, 0.5),
            q3: quantile_sorted(&v, 0.75),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        })
    }

    /// Interquartile range, q3 - q1.
    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// How far a twitch spread down the face.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    /// Only the eye region took part.
    pub eye_only: usize,
    /// The eye and at least one lower-face region (cheek, mouth).
    pub eye_and_lower: usize,
    /// Lower face without the eye (unusual in HFS; kept so the three add up to the count).
    pub lower_only: usize,
}

/// Twitch counts by region: a twitch counts once for every region that took part, so these
/// can add up to more than the number of twitches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionCounts {
    pub eye: usize,
    pub cheek: usize,
    pub mouth: usize,
}

impl RegionCounts {
    pub fn get(&self, region: RegionKind) -> usize {
        match region {
            RegionKind::Eye => self.eye,
            RegionKind::Cheek => self.cheek,
            RegionKind::Mouth => self.mouth,
        }
    }
}

/// Statistics of a set of twitches (all of them, or one side's) over a session's observed time.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub count: usize,
    /// Twitches per observed minute; `None` when nothing was observed.
    pub per_minute: Option<f64>,
    pub by_region: RegionCounts,
    /// Durations (end - start) in seconds, in log order.
    pub durations_s: Vec<f64>,
    /// Summary of `durations_s` (median, IQR = q3 - q1); `None` without twitches.
    pub duration: Option<Distribution>,
    /// Peak activity (robust z-score units), in log order.
    pub peaks: Vec<f64>,
    pub peak: Option<Distribution>,
    pub clonic: usize,
    pub tonic: usize,
    pub spread: Spread,
    /// Seconds in spasm: the union of the twitch intervals (overlaps counted once), clipped
    /// to the session and with not-observed time removed.
    pub spasm_s: f64,
    /// `spasm_s / observed_s`; `None` when nothing was observed.
    pub spasm_share: Option<f64>,
}

/// One block of `BLOCK_S` seconds of session time (the last one may be shorter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block {
    pub start_s: f64,
    pub end_s: f64,
    /// Seconds of the block with a face in view.
    pub observed_s: f64,
    /// Seconds of the block in spasm (either side; union), within observed time.
    pub spasm_s: f64,
    /// Twitches starting in the block, left and right (index `Side::index`).
    pub twitches: [usize; 2],
}

/// What one event log says.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStats {
    /// Session span `[0, duration_s]` (`Observation::span_s`).
    pub duration_s: f64,
    /// Not-observed seconds inside the span (`Observation::gap_s`: face lost, camera or
    /// stream gaps; overlaps counted once).
    pub lost_s: f64,
    /// `duration_s - lost_s` (`Observation::observed_s`).
    pub observed_s: f64,
    /// Twitches lying wholly outside the session span (or with non-finite times): left out
    /// of every other number here.
    pub outside_span: usize,
    pub all: Breakdown,
    pub left: Breakdown,
    pub right: Breakdown,
    /// The session cut into `BLOCK_S` blocks, for `share_interval` and timelines.
    pub blocks: Vec<Block>,
    /// From the `minute` lines, when the log has them.
    pub severity: Option<SeverityStats>,
}

impl SessionStats {
    /// Computes the statistics of one session's events. Observed time is
    /// `observed::Observation`'s (`face_lost`, `camera_gap` and `decode_gap` are gaps).
    pub fn from_events(events: &[Event]) -> SessionStats {
        let obs = Observation::of(events);
        let (duration_s, lost_s, observed_s) = (obs.span_s, obs.gap_s, obs.observed_s);
        let lost = &obs.gaps;

        let mut inside: Vec<&Twitch> = Vec::new();
        let mut outside_span = 0;
        for t in events.iter().filter_map(Event::as_twitch) {
            // Inside when it starts before the end and ends after the start of the span
            // (a zero-length twitch may sit on either edge).
            let ok = t.start_s.is_finite()
                && t.end_s.is_finite()
                && t.end_s >= t.start_s
                && t.end_s >= 0.0
                && (t.start_s < duration_s || (t.start_s == duration_s && t.end_s == t.start_s));
            if ok {
                inside.push(t);
            } else {
                outside_span += 1;
            }
        }

        let breakdown = |side: Option<Side>| {
            let ts: Vec<&Twitch> = inside
                .iter()
                .copied()
                .filter(|t| side.is_none_or(|s| t.side == s))
                .collect();
            breakdown(&ts, lost, duration_s, observed_s)
        };
        let all = breakdown(None);
        let left = breakdown(Some(Side::Left));
        let right = breakdown(Some(Side::Right));

        let spasm = spasm_union(&inside, lost, duration_s);
        let mut blocks = Vec::new();
        let mut start = 0.0;
        while start < duration_s {
            let end = (start + BLOCK_S).min(duration_s);
            let mut twitches = [0usize; 2];
            for t in &inside {
                let s = t.start_s.max(0.0);
                if s >= start && (s < end || (end == duration_s && s <= end)) {
                    twitches[t.side.index()] += 1;
                }
            }
            blocks.push(Block {
                start_s: start,
                end_s: end,
                observed_s: obs.observed_within(start, end),
                spasm_s: measure(&clip(&spasm, start, end)),
                twitches,
            });
            start = end;
        }

        SessionStats {
            duration_s,
            lost_s,
            observed_s,
            outside_span,
            all,
            left,
            right,
            blocks,
            severity: SeverityStats::from_events(events),
        }
    }

    pub fn side(&self, side: Side) -> &Breakdown {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// The 95 % interval for the share of observed time in spasm (either side), by
    /// `share_interval` over this session's blocks.
    pub fn share_interval(&self, seed: u64, n_resamples: usize) -> Option<Interval> {
        let observed: Vec<f64> = self.blocks.iter().map(|b| b.observed_s).collect();
        let spasm: Vec<f64> = self.blocks.iter().map(|b| b.spasm_s).collect();
        share_interval(&spasm, &observed, seed, n_resamples)
    }
}

fn spasm_union(twitches: &[&Twitch], lost: &[(f64, f64)], duration_s: f64) -> Vec<(f64, f64)> {
    let u = union(twitches.iter().map(|t| (t.start_s, t.end_s)).collect());
    subtract(&clip(&u, 0.0, duration_s), lost)
}

fn breakdown(
    twitches: &[&Twitch],
    lost: &[(f64, f64)],
    duration_s: f64,
    observed_s: f64,
) -> Breakdown {
    let per_observed = |x: f64| (observed_s > 0.0).then(|| x / observed_s);
    let mut by_region = RegionCounts::default();
    let mut spread = Spread::default();
    let (mut clonic, mut tonic) = (0, 0);
    for t in twitches {
        let has = |r| t.regions.contains(&r);
        if has(RegionKind::Eye) {
            by_region.eye += 1;
        }
        if has(RegionKind::Cheek) {
            by_region.cheek += 1;
        }
        if has(RegionKind::Mouth) {
            by_region.mouth += 1;
        }
        let lower = has(RegionKind::Cheek) || has(RegionKind::Mouth);
        match (has(RegionKind::Eye), lower) {
            (true, true) => spread.eye_and_lower += 1,
            (false, true) => spread.lower_only += 1,
            // A twitch with no region listed is counted as eye-only: the eye is where the
            // detector starts every burst.
            _ => spread.eye_only += 1,
        }
        match t.pattern {
            Pattern::Clonic => clonic += 1,
            Pattern::Tonic => tonic += 1,
        }
    }
    let durations_s: Vec<f64> = twitches.iter().map(|t| t.duration_s()).collect();
    let peaks: Vec<f64> = twitches.iter().map(|t| t.peak).collect();
    let spasm_s = measure(&spasm_union(twitches, lost, duration_s));
    Breakdown {
        count: twitches.len(),
        per_minute: per_observed(twitches.len() as f64 * 60.0),
        by_region,
        duration: Distribution::of(&durations_s),
        durations_s,
        peak: Distribution::of(&peaks),
        peaks,
        clonic,
        tonic,
        spread,
        spasm_s,
        spasm_share: per_observed(spasm_s),
    }
}

// ---------------------------------------------------------------------------------------------
// Interval arithmetic on sets of [start, end) intervals
// ---------------------------------------------------------------------------------------------

/// Sorted, disjoint union of intervals. Empty, reversed and non-finite intervals are dropped.
pub fn union(mut intervals: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    intervals.retain(|(a, b)| a.is_finite() && b.is_finite() && b > a);
    intervals.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(intervals.len());
    for (a, b) in intervals {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// A union clipped to `[lo, hi]`.
pub(crate) fn clip(set: &[(f64, f64)], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    set.iter()
        .map(|&(a, b)| (a.max(lo), b.min(hi)))
        .filter(|(a, b)| b > a)
        .collect()
}

/// `set` minus `remove`, both sorted disjoint unions.
fn subtract(set: &[(f64, f64)], remove: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for &(a, b) in set {
        let mut cur = a;
        for &(ra, rb) in remove {
            if rb <= cur || ra >= b {
                continue;
            }
            if ra > cur {
                out.push((cur, ra));
            }
            cur = cur.max(rb);
            if cur >= b {
                break;
            }
        }
        if cur < b {
            out.push((cur, b));
        }
    }
    out
}

/// Total length of a sorted disjoint union.
pub(crate) fn measure(set: &[(f64, f64)]) -> f64 {
    set.iter().map(|(a, b)| b - a).sum()
}

// ---------------------------------------------------------------------------------------------
// Comparing two sessions
// ---------------------------------------------------------------------------------------------

/// A point estimate with a 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Ratio of twitch rates, after / before, with an exact 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRatio {
    /// `(count_b / time_b) / (count_a / time_a)`: below 1 means fewer twitches after.
    pub ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Poisson rate ratio of session b ("after") to session a ("before"), `(b/time_b) /
/// (a/time_a)`, with an exact (conditional binomial) 95 % interval.
///
/// Method: given the total `n = a + b`, the after-count is Binomial(n, π) with
/// `π = RR·time_b / (time_a + RR·time_b)`, i.e. `RR = π/(1-π) · time_a/time_b`. A
/// Clopper–Pearson interval for π from `b` successes in `n` trials, put through that
/// monotone map, gives the interval for RR. (With `p = a/n` instead, the same map with the
/// times swapped gives before/after; this function reports after/before.)
///
/// Times in any unit, the same for both. Returns `None` when both counts are zero or a time
/// is not positive and finite. When the after-count is zero the ratio and lower bound are 0
/// and the upper bound finite. When the before-count is zero (and the after-count is not)
/// the ratio and upper bound are `f64::INFINITY` — the only infinities this module returns —
/// and the lower bound is finite: callers must print them as "no upper bound".
pub fn rate_ratio(count_a: u64, time_a: f64, count_b: u64, time_b: f64) -> Option<RateRatio> {
    let ok = |t: f64| t.is_finite() && t > 0.0;
    if !ok(time_a) || !ok(time_b) || count_a + count_b == 0 {
        return None;
    }
    let n = count_a + count_b;
    let (p_low, p_high) = clopper_pearson(count_b, n, ALPHA);
    let to_rr = |p: f64| {
        if p >= 1.0 {
            f64::INFINITY
        } else {
            p / (1.0 - p) * time_a / time_b
        }
    };
    let ratio = if count_a == 0 {
        f64::INFINITY
    } else {
        (count_b as f64 / time_b) / (count_a as f64 / time_a)
    };
    Some(RateRatio {
        ratio,
        ci_low: to_rr(p_low),
        ci_high: to_rr(p_high),
    })
}

/// Exact (Clopper–Pearson) two-sided `1 - alpha` interval for a binomial proportion with `x`
/// successes out of `n` (`n > 0`, `x <= n`).
pub fn clopper_pearson(x: u64, n: u64, alpha: f64) -> (f64, f64) {
    let (xf, nf) = (x as f64, n as f64);
    let low = if x == 0 {
        0.0
    } else {
        beta_quantile(alpha / 2.0, xf, nf - xf + 1.0)
    };
    let high = if x >= n {
        1.0
    } else {
        beta_quantile(1.0 - alpha / 2.0, xf + 1.0, nf - xf)
    };
    (low, high)
}

/// Percentile-bootstrap 95 % interval for `median(b) - median(a)` (after minus before).
///
/// Each resample draws `a` and `b` with replacement, each at its own size; the interval is
/// the 2.5th and 97.5th percentiles (type 7) of the resampled differences. The estimate is
/// the difference of the sample medians. Deterministic for a given `seed` (ChaCha8).
/// `None` when either sample (after dropping non-finite values) is empty or
/// `n_resamples == 0`.
pub fn bootstrap_median_diff(
    a: &[f64],
    b: &[f64],
    seed: u64,
    n_resamples: usize,
) -> Option<Interval> {
    let a = finite_sorted(a);
    let b = finite_sorted(b);
    if a.is_empty() || b.is_empty() || n_resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut diffs = Vec::with_capacity(n_resamples);
    let mut ra = vec![0.0; a.len()];
    let mut rb = vec![0.0; b.len()];
    for _ in 0..n_resamples {
        resample(&a, &mut ra, &mut rng);
        resample(&b, &mut rb, &mut rng);
        diffs.push(median_unsorted(&mut rb) - median_unsorted(&mut ra));
    }
    diffs.sort_by(f64::total_cmp);
    Some(Interval {
        estimate: quantile_sorted(&b, 0.5) - quantile_sorted(&a, 0.5),
        low: quantile_sorted(&diffs, ALPHA / 2.0),
        high: quantile_sorted(&diffs, 1.0 - ALPHA / 2.0),
    })
}

/// Result of a Mann–Whitney U test of sample b against sample a.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of b: pairs (a_i, b_j) with b_j > a_i, ties counting one half. Ranges 0..=n_a·n_b;
    /// `n_a·n_b/2` means no shift.
    pub u: f64,
    /// Two-sided p-value, normal approximation with tie correction and continuity correction
    /// (as scipy's `mannwhitneyu(b, a, method="asymptotic")`). 1 when every value is tied.
    /// Rough for small samples (below about 8 per group).
    pub p_two_sided: f64,
    /// Hodges–Lehmann shift: median of all differences `b_j - a_i` (after minus before).
    pub hodges_lehmann_shift: f64,
}

/// Mann–Whitney U test (see `MannWhitney` for the conventions). `None` when either sample
/// is empty after dropping non-finite values.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let a = finite_sorted(a);
    let b = finite_sorted(b);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    // Pooled midranks.
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, false))
        .chain(b.iter().map(|&x| (x, true)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len();
    let mut rank_sum_b = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let midrank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &pooled[i..=j] {
            if item.1 {
                rank_sum_b += midrank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_b - n2 * (n2 + 1.0) / 2.0;
    let nf = n as f64;
    let mu = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0).max(1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        let z = ((u - mu).abs() - 0.5).max(0.0) / var.sqrt();
        (2.0 * normal_sf(z)).min(1.0)
    };
    let mut diffs: Vec<f64> = Vec::with_capacity(a.len() * b.len());
    for &y in &b {
        for &x in &a {
            diffs.push(y - x);
        }
    }
    Some(MannWhitney {
        u,
        p_two_sided: p,
        hodges_lehmann_shift: median_unsorted(&mut diffs),
    })
}

/// 95 % interval for the share of observed time spent in spasm, from a session cut into
/// blocks (`SessionStats::blocks`: `spasm_s[i]` and `observed_s[i]` of block i, seconds).
///
/// Method: block bootstrap of the ratio estimator. Twitches cluster, so seconds (or
/// events) are not independent and a binomial interval on 1-second bins would be far too
/// narrow; one-minute blocks are closer to independent. Blocks with observed time are
/// resampled with replacement, `share* = Σ spasm / Σ observed`, and the interval is the
/// 2.5th–97.5th percentiles. The estimate is `Σ spasm / Σ observed` of the session.
/// Deterministic for a given `seed`. `None` when fewer than 2 blocks have observed time (no
/// spread to resample), the slices differ in length, or `n_resamples == 0`. With few blocks
/// the interval is too narrow; `enough_time` warns about short sessions.
pub fn share_interval(
    spasm_s: &[f64],
    observed_s: &[f64],
    seed: u64,
    n_resamples: usize,
) -> Option<Interval> {
    if spasm_s.len() != observed_s.len() {
        return None;
    }
    let blocks: Vec<(f64, f64)> = spasm_s
        .iter()
        .zip(observed_s)
        .map(|(&s, &o)| (s.clamp(0.0, o.max(0.0)), o))
        .collect();
    ratio_interval(&blocks, seed, n_resamples)
}

/// Block-bootstrap 95 % interval of a ratio estimator `Σ value / Σ weight` over blocks of
/// (value, weight), e.g. (seconds in spasm, seconds observed) per minute, or (asymmetry ×
/// measured seconds, measured seconds) per minute line. Blocks with a positive, finite
/// weight and a finite value are resampled with replacement; the interval is the
/// 2.5th–97.5th percentiles of the resampled ratios, the estimate the ratio of all blocks.
/// Deterministic for a given `seed`. `None` with fewer than 2 such blocks or
/// `n_resamples == 0`.
pub fn ratio_interval(blocks: &[(f64, f64)], seed: u64, n_resamples: usize) -> Option<Interval> {
    let blocks = usable_blocks(blocks);
    if blocks.len() < 2 || n_resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ratios: Vec<f64> = (0..n_resamples)
        .map(|_| resampled_ratio(&blocks, &mut rng))
        .collect();
    ratios.sort_by(f64::total_cmp);
    Some(Interval {
        estimate: block_ratio(&mut blocks.iter().copied()),
        low: quantile_sorted(&ratios, ALPHA / 2.0),
        high: quantile_sorted(&ratios, 1.0 - ALPHA / 2.0),
    })
}

/// Block-bootstrap 95 % interval of the difference of two ratio estimators (see
/// `ratio_interval`), `b − a` (after minus before): each resample draws the blocks of `a`
/// and of `b` with replacement, each at its own count. `None` unless both have at least 2
/// usable blocks (and `n_resamples > 0`).
pub fn ratio_diff_interval(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    seed: u64,
    n_resamples: usize,
) -> Option<Interval> {
    let (a, b) = (usable_blocks(a), usable_blocks(b));
    if a.len() < 2 || b.len() < 2 || n_resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut diffs: Vec<f64> = (0..n_resamples)
        .map(|_| {
            let ra = resampled_ratio(&a, &mut rng);
            resampled_ratio(&b, &mut rng) - ra
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    Some(Interval {
        estimate: block_ratio(&mut b.iter().copied()) - block_ratio(&mut a.iter().copied()),
        low: quantile_sorted(&diffs, ALPHA / 2.0),
        high: quantile_sorted(&diffs, 1.0 - ALPHA / 2.0),
    })
}

fn usable_blocks(blocks: &[(f64, f64)]) -> Vec<(f64, f64)> {
    blocks
        .iter()
        .copied()
        .filter(|(v, w)| v.is_finite() && w.is_finite() && *w > 0.0)
        .collect()
}

fn block_ratio(it: &mut dyn Iterator<Item = (f64, f64)>) -> f64 {
    let (v, w) = it.fold((0.0, 0.0), |acc, (v, w)| (acc.0 + v, acc.1 + w));
    v / w
}

fn resampled_ratio(blocks: &[(f64, f64)], rng: &mut ChaCha8Rng) -> f64 {
    let k = blocks.len();
    block_ratio(&mut (0..k).map(|_| blocks[rng.random_range(0..k)]))
}

// ---------------------------------------------------------------------------------------------
// Closure severity (the `minute` lines) and strength-matched rates
// ---------------------------------------------------------------------------------------------

/// A session's closure severity, from its `minute` lines (`severity`; docs/severity.md).
/// Fractions of aperture; means and shares are over measured time.
#[derive(Debug, Clone, PartialEq)]
pub struct SeverityStats {
    /// Seconds with both eyes' closure measured.
    pub measured_s: f64,
    /// Mean signed asymmetry, left minus right.
    pub asymmetry: f64,
    /// Mean closure of each eye, `[side.index()]`.
    pub closure: [f64; 2],
    /// Share of measured time the left (right) eye was more closed than the other by more
    /// than `severity::THRESHOLDS`.
    pub beyond_left: [f64; 3],
    pub beyond_right: [f64; 3],
    /// The minute lines inside the session, in order.
    pub minutes: Vec<crate::outputs::events::Minute>,
}

impl SeverityStats {
    /// `None` when the log has no minute line with measured time (older logs, no face).
    pub fn from_events(events: &[Event]) -> Option<SeverityStats> {
        let minutes: Vec<crate::outputs::events::Minute> = events
            .iter()
            .filter_map(|e| match e {
                Event::Minute(m) if m.measured_s.is_finite() && m.measured_s >= 0.0 => {
                    Some(m.clone())
                }
                _ => None,
            })
            .collect();
        let measured_s: f64 = minutes.iter().map(|m| m.measured_s).sum();
        if measured_s <= 0.0 {
            return None;
        }
        let mean = |f: &dyn Fn(&crate::outputs::events::Minute) -> f64| {
            minutes.iter().map(|m| f(m) * m.measured_s).sum::<f64>() / measured_s
        };
        Some(SeverityStats {
            measured_s,
            asymmetry: mean(&|m| m.asymmetry),
            closure: [mean(&|m| m.closure_left), mean(&|m| m.closure_right)],
            beyond_left: [0, 1, 2].map(|k| mean(&|m| m.beyond_left[k])),
            beyond_right: [0, 1, 2].map(|k| mean(&|m| m.beyond_right[k])),
            minutes,
        })
    }

    /// Share of measured time with either eye more closed than the other by more than
    /// threshold `k` of `severity::THRESHOLDS`.
    pub fn beyond(&self, k: usize) -> f64 {
        self.beyond_left[k] + self.beyond_right[k]
    }

    /// (asymmetry × measured s, measured s) per minute: the blocks of `ratio_interval`.
    pub fn asymmetry_blocks(&self) -> Vec<(f64, f64)> {
        self.minutes
            .iter()
            .map(|m| (m.asymmetry * m.measured_s, m.measured_s))
            .collect()
    }

    /// 95 % interval of the mean asymmetry, by `ratio_interval` over the minutes.
    pub fn asymmetry_interval(&self, seed: u64, n_resamples: usize) -> Option<Interval> {
        ratio_interval(&self.asymmetry_blocks(), seed, n_resamples)
    }
}

/// The rate ratio of strong twitches: those at or above a strength threshold taken from
/// the before period and applied to both. A twitch's `peak` is in percent of the face's
/// width, or in grey levels of look change when it was measured by the eyes' look
/// (`glasses`): the two units are counted apart, each against its own threshold (the
/// median peak of the before period's twitches in that unit), and the counts added.
#[derive(Debug, Clone, PartialEq)]
pub struct StrongRate {
    /// The before period's median peak of flow-measured twitches (percent of face width).
    pub threshold: Option<f64>,
    /// The same for twitches measured by the look (grey levels), when there were any.
    pub threshold_glasses: Option<f64>,
    /// Twitches at or above their unit's threshold, before and after.
    pub before: u64,
    pub after: u64,
    /// After twitches in a unit that had no before twitch (no threshold): not counted.
    pub uncounted_after: usize,
    /// After / before, exact interval (`rate_ratio`).
    pub ratio: Option<RateRatio>,
}

/// `StrongRate` of twitches `after` against `before`, over the observed seconds of each.
pub fn strong_rate_ratio(
    before: &[&Twitch],
    after: &[&Twitch],
    observed_before_s: f64,
    observed_after_s: f64,
) -> StrongRate {
    let peaks = |ts: &[&Twitch], glasses: bool| -> Vec<f64> {
        ts.iter()
            .filter(|t| t.glasses == glasses)
            .map(|t| t.peak)
            .collect()
    };
    let threshold = |glasses| Distribution::of(&peaks(before, glasses)).map(|d| d.median);
    let (flow_th, look_th) = (threshold(false), threshold(true));
    let count = |ts: &[&Twitch]| {
        ts.iter()
            .filter(|t| {
                let th = if t.glasses { look_th } else { flow_th };
                th.is_some_and(|th| t.peak.is_finite() && t.peak >= th)
            })
            .count() as u64
    };
    let uncounted_after = after
        .iter()
        .filter(|t| (if t.glasses { look_th } else { flow_th }).is_none())
        .count();
    let (b, a) = (count(before), count(after));
    StrongRate {
        threshold: flow_th,
        threshold_glasses: look_th,
        before: b,
        after: a,
        uncounted_after,
        ratio: rate_ratio(b, observed_before_s, a, observed_after_s),
    }
}

/// Minimum observed time per session, in seconds, below which a comparison is flagged.
pub const MIN_OBSERVED_S: f64 = 300.0;
/// Minimum number of twitches in both sessions together below which a comparison is flagged.
pub const MIN_EVENTS: u64 = 10;

/// A plain-language warning when two sessions are too short to conclude anything from: less
/// than `MIN_OBSERVED_S` observed in either, or fewer than `MIN_EVENTS` twitches in total.
/// `None` when there is enough.
pub fn enough_time(
    observed_s_before: f64,
    observed_s_after: f64,
    events_total: u64,
) -> Option<String> {
    let minutes = |s: f64| {
        if s.is_finite() {
            (s / 60.0).max(0.0)
        } else {
            0.0
        }
    };
    let mut reasons = Vec::new();
    for (name, s) in [("before", observed_s_before), ("after", observed_s_after)] {
        if !(s.is_finite() && s >= MIN_OBSERVED_S) {
            reasons.push(format!(
                "the {name} session has only {:.1} minutes with the face in view (at least {:.0} are needed)",
                minutes(s),
                MIN_OBSERVED_S / 60.0
            ));
        }
    }
    if events_total < MIN_EVENTS {
        reasons.push(format!(
            "only {events_total} twitches were logged in both sessions together (at least {MIN_EVENTS} are needed)"
        ));
    }
    if reasons.is_empty() {
        None
    } else {
        Some(format!(
            "Too little to conclude: {}. Differences shown may be chance; record longer sessions.",
            reasons.join("; ")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Numerics
// ---------------------------------------------------------------------------------------------

fn finite_sorted(v: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn resample(src: &[f64], dst: &mut [f64], rng: &mut ChaCha8Rng) {
    for d in dst.iter_mut() {
        *d = src[rng.random_range(0..src.len())];
    }
}

/// Median of a non-empty slice (sorts it).
fn median_unsorted(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile_sorted(v, 0.5)
}

/// Type-7 quantile of a sorted, non-empty slice.
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Quantile of Student's t distribution with `df` (> 0, need not be whole) degrees of
/// freedom, for `p` in (0, 1); NaN outside that.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let valid = p > 0.0 && p < 1.0 && df > 0.0;
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) if valid => t.inverse_cdf(p),
        _ => f64::NAN,
    }
}

/// Upper tail of the standard normal, `P(Z > z)`.
pub fn normal_sf(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// Quantile of the Beta(a, b) distribution (a, b > 0, p in [0, 1]); NaN otherwise.
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    match Beta::new(a, b) {
        Ok(beta) if (0.0..=1.0).contains(&p) => beta.inverse_cdf(p),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_ops() {
        let u = union(vec![
            (3.0, 5.0),
            (0.0, 1.0),
            (0.5, 2.0),
            (f64::NAN, 1.0),
            (4.0, 4.5),
        ]);
        assert_eq!(u, vec![(0.0, 2.0), (3.0, 5.0)]);
        assert_eq!(
            subtract(&u, &[(1.0, 3.5), (4.0, 4.2)]),
            vec![(0.0, 1.0), (3.5, 4.0), (4.2, 5.0)]
        );
        assert_eq!(measure(&clip(&u, 1.0, 4.0)), 2.0);
    }

    #[test]
    fn beta_quantile_known_values() {
        // Beta(1, 1) is uniform; Beta(1, n) has closed-form quantile 1 - (1-p)^(1/n).
        assert!((beta_quantile(0.3, 1.0, 1.0) - 0.3).abs() < 1e-12);
        let q = beta_quantile(0.975, 1.0, 10.0);
        assert!((q - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-12);
    }

    #[test]
    fn t_quantiles_known_values() {
        // Tables: t(0.975; 1) = 12.706, t(0.975; 10) = 2.228, t(0.975; 1000) ≈ 1.962.
        assert!((t_quantile(0.975, 1.0) - 12.706).abs() < 1e-3);
        assert!((t_quantile(0.975, 10.0) - 2.228).abs() < 1e-3);
        assert!((t_quantile(0.975, 1000.0) - 1.962).abs() < 1e-3);
        assert!((t_quantile(0.025, 10.0) + 2.228).abs() < 1e-3);
    }

    #[test]
    fn quartiles_type7() {
        let d = Distribution::of(&[1.0, 2.0, 3.0, 4.0]).unwrap_or_else(|| unreachable!());
        assert_eq!((d.q1, d.median, d.q3), (1.75, 2.5, 3.25));
    }
}
