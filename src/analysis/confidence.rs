//! Confidence of a twitch: the probability that a burst is a real one-sided twitch, from a
//! logistic model over what both eyes, the head, cheek and mouth did around its onset.
//!
//! Input: `Features` of one burst (from the burst detector). Output: a probability in
//! [0, 1], never NaN. Thread: analysis (probability); any (fitting, for `eval`).
//!
//! The model is fitted on *candidates*: bursts found with the detector's onset rules relaxed
//! and its blink vetoes only recorded (`BurstParams::candidates`), so that the fit sees the
//! false starts that today's rules throw away as well as the real twitches. Its weights live
//! in `confidence_model.json` beside this file; `eval --fit-confidence` writes a new one.
//!
//! Beside it, a random forest over the same features (`Forest`, `confidence_forest.bin`,
//! written by `eval --fit-forest`) judges the candidates the rules did not keep: a
//! one-sided squeeze that is weak, or seen during head motion, is told from a blink by
//! how the features combine, which one weighted sum cannot follow.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Number of features.
pub const N_FEATURES: usize = 22;

/// Feature names, in order (also the keys of the model file).
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "log_onset_rate",
    "look_other_vs_this",
    "rate_other_vs_this",
    "head_speed",
    "gain_this",
    "gain_other",
    "one_sided_peak",
    "rules_ok",
    "log_look_this",
    "log_rate_this",
    "base_gain_other_vs_this",
    "base_gain_this",
    "base_gain_other",
    "wide_look_other_vs_this",
    "wide_look_this_vs_rest",
    "wide_look_other_vs_rest",
    "wide_rate_other_vs_this",
    "wide_head_speed",
    "log_duration",
    "cheek_one_sided",
    "mouth_one_sided",
    "reliable_share",
];

/// What a burst looked like around its onset: the first ten features over `WINDOW_S` either
/// side of it; the others judge each eye against its own recent state (`BASE_S` before the
/// onset, up to `WINDOW_S` before it) over the wider window from `WIDE_BEFORE_S` before to
/// `AFTER_S` after the onset, so that a blink or gaze shift just before or after a weak
/// squeeze shows, and a squeeze is measured as what it added to that eye, not from rest.
/// Units: closures in % of face width, rates in % of face width per second, look changes in
/// grey levels; a feature that cannot be measured (no frames before the onset) is NaN.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Features(pub [f32; N_FEATURES]);

/// Seconds before and after a burst's onset that its features describe: long enough for
/// the other eye of a blink to have closed too, short enough to end before a blink that
/// follows a twitch.
pub const WINDOW_S: f64 = 0.2;

/// How far before the onset each eye's own resting state is taken from (s).
pub const BASE_S: f64 = 1.2;
/// The wide window: from this long before the onset (s)...
pub const WIDE_BEFORE_S: f64 = 0.5;
/// ...to this long after it (s). Features are measured once this much has passed.
pub const AFTER_S: f64 = 0.7;
/// Squeeze gains (and cheek and mouth motion) are taken over this long after the onset (s).
const GAIN_S: f64 = 0.4;

/// One frame as the features see it, `[side.index()]` arrays with sides the person's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureFrame {
    pub t_s: f64,
    pub closure: [f32; 2],
    pub closure_speed: [f32; 2],
    pub look_change: [f32; 2],
    pub head_speed: f32,
    /// Residual speed per side and region (eye, cheek, mouth), % fw per second.
    pub speed: [[f32; 3]; 2],
    pub reliable: bool,
}

impl Features {
    /// Features of a burst on side index `i` with onset at `start_s`, last active at
    /// `last_s` (so far), from `frames` (in time order, reaching back `BASE_S` before the
    /// onset where the face was in view). `None` when no frame falls within `WINDOW_S` of
    /// the onset.
    pub fn measure<'a>(
        frames: impl Iterator<Item = &'a FeatureFrame> + Clone,
        i: usize,
        start_s: f64,
        last_s: f64,
        onset_rate: f32,
        rules_ok: bool,
    ) -> Option<Features> {
        let o = 1 - i;
        let eps = 1e-6;
        let within = |lo: f64, hi: f64| {
            frames
                .clone()
                .filter(move |f| f.t_s >= lo - eps && f.t_s <= hi + eps)
        };
        let mut first: Option<[f32; 2]> = None;
        let (mut look, mut rate) = ([0.0f32; 2], [0.0f32; 2]);
        let (mut max_closure, mut head) = ([f32::MIN; 2], 0.0f32);
        let mut one_sided = f32::MIN;
        for f in within(start_s - WINDOW_S, start_s + WINDOW_S) {
            first.get_or_insert(f.closure);
            for s in 0..2 {
                look[s] += f.look_change[s].max(0.0);
                rate[s] += f.closure_speed[s].max(0.0);
                max_closure[s] = max_closure[s].max(f.closure[s]);
            }
            head = head.max(f.head_speed);
            if f.t_s >= start_s - eps {
                one_sided = one_sided.max(f.closure[i] - f.closure[o]);
            }
        }
        let first = first?;

        // Each eye's own recent state: median closure and look change a frame.
        let mut scratch: Vec<f32> = Vec::new();
        let mut median = |get: &dyn Fn(&FeatureFrame) -> f32| -> f32 {
            scratch.clear();
            scratch.extend(within(start_s - BASE_S, start_s - WINDOW_S).map(get));
            if scratch.is_empty() {
                return f32::NAN;
            }
            let mid = scratch.len() / 2;
            *scratch.select_nth_unstable_by(mid, f32::total_cmp).1
        };
        let base = [median(&|f| f.closure[0]), median(&|f| f.closure[1])];
        let rest_look = [median(&|f| f.look_change[0]), median(&|f| f.look_change[1])];
        let mut gain = [f32::MIN; 2];
        let (mut rate_this, mut cheek, mut mouth) = (0.0f32, f32::MIN, f32::MIN);
        for f in within(start_s, start_s + GAIN_S) {
            for s in 0..2 {
                gain[s] = gain[s].max(f.closure[s] - base[s]);
            }
            rate_this = rate_this.max(f.closure_speed[i]);
            cheek = cheek.max(f.speed[i][1] - f.speed[o][1]);
            mouth = mouth.max(f.speed[i][2] - f.speed[o][2]);
        }
        let (mut wide_look, mut rate_other, mut wide_head) = ([0.0f32; 2], 0.0f32, 0.0f32);
        let (mut n, mut reliable) = (0.0f32, 0.0f32);
        for f in within(start_s - WIDE_BEFORE_S, start_s + AFTER_S) {
            for (sum, change) in wide_look.iter_mut().zip(f.look_change) {
                *sum += change.max(0.0);
            }
            rate_other = rate_other.max(f.closure_speed[o]);
            wide_head = wide_head.max(f.head_speed);
            reliable += if f.reliable { 1.0 } else { 0.0 };
            n += 1.0;
        }
        let gain_ratio = if gain.contains(&f32::MIN) {
            f32::NAN
        } else if gain[0] > -0.3 && gain[1] > -0.3 {
            ((gain[o] + 0.3) / (gain[i] + 0.3)).ln()
        } else {
            0.0
        };
        let nan_if_min = |x: f32| if x == f32::MIN { f32::NAN } else { x };
        Some(Features([
            onset_rate.max(0.0).ln_1p(),
            ((look[o] + 0.3) / (look[i] + 0.3)).ln(),
            ((rate[o] + 3.0) / (rate[i] + 3.0)).ln(),
            head / 30.0,
            max_closure[i] - first[i],
            max_closure[o] - first[o],
            if one_sided == f32::MIN {
                0.0
            } else {
                one_sided
            },
            if rules_ok { 1.0 } else { 0.0 },
            look[i].ln_1p(),
            rate[i].ln_1p(),
            gain_ratio,
            nan_if_min(gain[i]),
            nan_if_min(gain[o]),
            ((wide_look[o] + 1.0) / (wide_look[i] + 1.0)).ln(),
            ((wide_look[i] + 1.0) / (rest_look[i] * n + 1.0)).ln(),
            ((wide_look[o] + 1.0) / (rest_look[o] * n + 1.0)).ln(),
            ((rate_other + 3.0) / (rate_this + 3.0)).ln(),
            wide_head / 30.0,
            ((last_s.min(start_s + AFTER_S) - start_s).max(0.03) as f32).ln(),
            nan_if_min(cheek) / 10.0,
            nan_if_min(mouth) / 10.0,
            if n > 0.0 { reliable / n } else { f32::NAN },
        ]))
    }
}

/// A logistic model over standardised features: p = 1 / (1 + exp(-(bias + Σ w (x - mean) /
/// scale))).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
    /// How the model was made (command, data, date): for people, not read by the code.
    #[serde(default)]
    pub fitted_on: String,
}

impl Model {
    /// The model this build ships (`confidence_model.json`).
    pub fn builtin() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| {
            let m: Model = serde_json::from_str(include_str!("confidence_model.json"))
                .expect("the shipped confidence model parses");
            assert!(
                m.is_valid(),
                "the shipped confidence model has the right shape"
            );
            m
        })
    }

    /// The right number of finite weights and positive scales.
    pub fn is_valid(&self) -> bool {
        let n = N_FEATURES;
        self.features.len() == n
            && self.mean.len() == n
            && self.scale.len() == n
            && self.weights.len() == n
            && self.bias.is_finite()
            && self.mean.iter().chain(&self.weights).all(|x| x.is_finite())
            && self.scale.iter().all(|s| s.is_finite() && *s > 0.0)
    }

    /// The probability that a burst with these features is a real one-sided twitch. A
    /// feature that is not finite counts as its mean (no evidence either way); the result
    /// is always in [0, 1].
    pub fn probability(&self, f: &Features) -> f64 {
        let mut z = self.bias;
        for k in 0..N_FEATURES {
            let x = f.0[k] as f64;
            if x.is_finite() {
                z += self.weights[k] * (x - self.mean[k]) / self.scale[k];
            }
        }
        let p = 1.0 / (1.0 + (-z.clamp(-40.0, 40.0)).exp());
        if p.is_finite() { p } else { 0.5 }
    }

    /// Fits a model to labelled samples (features, is a real twitch) by Newton's method on
    /// the L2-penalised log-likelihood (`l2` on the standardised weights, not the bias).
    /// Samples may be weighted (`weight` > 0). Fails with fewer than two of either class.
    pub fn fit(samples: &[(Features, bool, f64)], l2: f64) -> anyhow::Result<Model> {
        let pos = samples.iter().filter(|s| s.1).count();
        let neg = samples.len() - pos;
        anyhow::ensure!(
            pos >= 2 && neg >= 2,
            "too few candidates to fit ({pos} real, {neg} false; at least 2 of each)"
        );
        let n = N_FEATURES;
        let rows: Vec<[f64; N_FEATURES]> = samples
            .iter()
            .map(|(f, _, _)| f.0.map(|x| if x.is_finite() { x as f64 } else { 0.0 }))
            .collect();
        let total_w: f64 = samples.iter().map(|s| s.2).sum();
        let mut mean = vec![0.0; n];
        let mut scale = vec![0.0; n];
        for (r, s) in rows.iter().zip(samples) {
            for k in 0..n {
                mean[k] += s.2 * r[k] / total_w;
            }
        }
        for (r, s) in rows.iter().zip(samples) {
            for k in 0..n {
                scale[k] += s.2 * (r[k] - mean[k]).powi(2) / total_w;
            }
        }
        for s in &mut scale {
            *s = s.sqrt().max(1e-6);
        }
        // Standardised design with a constant column last.
        let d = n + 1;
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                let mut v: Vec<f64> = (0..n).map(|k| (r[k] - mean[k]) / scale[k]).collect();
                v.push(1.0);
                v
            })
            .collect();
        let mut beta = vec![0.0; d];
        for _ in 0..100 {
            let mut grad = vec![0.0; d];
            let mut hess = vec![vec![0.0; d]; d];
            for (xi, s) in x.iter().zip(samples) {
                let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                let p = 1.0 / (1.0 + (-z.clamp(-40.0, 40.0)).exp());
                let y = if s.1 { 1.0 } else { 0.0 };
                for a in 0..d {
                    grad[a] += s.2 * (p - y) * xi[a];
                    for b in 0..d {
                        hess[a][b] += s.2 * p * (1.0 - p) * xi[a] * xi[b];
                    }
                }
            }
            for a in 0..n {
                grad[a] += l2 * beta[a];
                hess[a][a] += l2;
            }
            let step = solve(hess, grad).ok_or_else(|| anyhow::anyhow!("the fit is singular"))?;
            let mut change = 0.0f64;
            for a in 0..d {
                beta[a] -= step[a];
                change = change.max(step[a].abs());
            }
            if change < 1e-9 {
                break;
            }
        }
        let bias = beta.pop().expect("d = n + 1");
        Ok(Model {
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            mean,
            scale,
            weights: beta,
            bias,
            fitted_on: String::new(),
        })
    }
}

/// A random forest of regression trees over `Features` with real twitches as 1 and false
/// candidates as 0: its mean over the trees is the share of real ones among training
/// candidates like this one. Fitted with the `randomforest` crate (fully grown trees, each
/// on a bootstrap sample of `SAMPLES` candidates, the square root of the features tried at
/// each split) and a fixed seed, so a fit is reproducible. Smaller samples keep the shipped
/// forest near a megabyte and, cross-validated on the tuning candidates, judged as well as
/// full ones (`docs/confidence.md`).
pub struct Forest(randomforest::RandomForestRegressor);

/// What a feature that cannot be measured (NaN) reads as in the forest: below every real
/// value, so that trees can split unknown from known.
const FOREST_MISSING: f64 = -1000.0;

impl Forest {
    /// Trees in a fitted forest.
    pub const TREES: usize = 150;
    /// Candidates drawn (with replacement) for each tree.
    pub const SAMPLES: usize = 800;

    /// The forest this build ships (`confidence_forest.bin`).
    pub fn builtin() -> &'static Forest {
        static FOREST: OnceLock<Forest> = OnceLock::new();
        FOREST.get_or_init(|| {
            Forest::from_bytes(include_bytes!("confidence_forest.bin"))
                .expect("the shipped confidence forest reads")
        })
    }

    /// Reads a forest written by `to_bytes`.
    pub fn from_bytes(bytes: &[u8]) -> std::io::Result<Forest> {
        randomforest::RandomForestRegressor::deserialize(bytes).map(Forest)
    }

    /// The forest as bytes (the crate's own format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0
            .serialize(&mut out)
            .expect("writing to memory does not fail");
        out
    }

    fn row(f: &Features) -> [f64; N_FEATURES] {
        f.0.map(|x| {
            if x.is_finite() {
                x as f64
            } else {
                FOREST_MISSING
            }
        })
    }

    /// The share of real twitches among candidates like this one, in [0, 1], never NaN.
    pub fn probability(&self, f: &Features) -> f64 {
        let p = self.0.predict(&Self::row(f));
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    /// Fits `trees` trees, each to `per_tree` labelled samples (features, is a real
    /// twitch; the weight is ignored) drawn with replacement, with the given seed. Fails
    /// with fewer than two of either class.
    pub fn fit(
        samples: &[(Features, bool, f64)],
        trees: usize,
        per_tree: usize,
        seed: u64,
    ) -> anyhow::Result<Forest> {
        let pos = samples.iter().filter(|s| s.1).count();
        let neg = samples.len() - pos;
        anyhow::ensure!(
            pos >= 2 && neg >= 2,
            "too few candidates to fit ({pos} real, {neg} false; at least 2 of each)"
        );
        let mut table = randomforest::table::TableBuilder::new();
        for (f, real, _) in samples {
            table.add_row(&Self::row(f), if *real { 1.0 } else { 0.0 })?;
        }
        let at_least_one = |n: usize| std::num::NonZeroUsize::new(n.max(1)).expect("not 0");
        Ok(Forest(
            randomforest::RandomForestRegressorOptions::new()
                .seed(seed)
                .trees(at_least_one(trees))
                .max_samples(at_least_one(per_tree))
                .fit(randomforest::criterion::Mse, table.build()?),
        ))
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        let (upper, lower) = a.split_at_mut(c + 1);
        let pivot = &upper[c];
        for (r, row) in lower.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[c + 1 + r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// One row of a reliability table: candidates whose confidence fell in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    /// Mean confidence in the bin.
    pub mean_confidence: f64,
    /// Share of them that were real twitches.
    pub share_real: f64,
}

/// Reliability table of (confidence, was real) pairs in `bins` equal bins over [0, 1].
pub fn reliability(pairs: &[(f64, bool)], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    (0..bins)
        .map(|b| {
            let (lo, hi) = (b as f64 / bins as f64, (b + 1) as f64 / bins as f64);
            let inside: Vec<&(f64, bool)> = pairs
                .iter()
                .filter(|(c, _)| *c >= lo && (*c < hi || (b + 1 == bins && *c <= hi)))
                .collect();
            let count = inside.len();
            let mean = |f: &dyn Fn(&(f64, bool)) -> f64| {
                if count == 0 {
                    f64::NAN
                } else {
                    inside.iter().map(|p| f(p)).sum::<f64>() / count as f64
                }
            };
            ReliabilityBin {
                lo,
                hi,
                count,
                mean_confidence: mean(&|p| p.0),
                share_real: mean(&|p| if p.1 { 1.0 } else { 0.0 }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f32) -> Features {
        let mut v = [0.0; N_FEATURES];
        v[6] = x;
        Features(v)
    }

    #[test]
    fn the_shipped_model_loads_and_never_gives_nan() {
        let m = Model::builtin();
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, 1e30, -1e30] {
            let p = m.probability(&Features([x; N_FEATURES]));
            assert!((0.0..=1.0).contains(&p), "{x}: {p}");
        }
    }

    #[test]
    fn fit_learns_a_monotone_separation_and_stays_finite() {
        // Real ones have the larger one-sided peak; some overlap.
        let mut s = vec![];
        for k in 0..40 {
            let x = k as f32 / 10.0;
            s.push((f(x), x > 1.5 && k % 7 != 0, 1.0));
        }
        let m = Model::fit(&s, 1.0).unwrap();
        assert!(m.is_valid());
        let ps: Vec<f64> = (0..40)
            .map(|k| m.probability(&f(k as f32 / 10.0)))
            .collect();
        assert!(ps.windows(2).all(|w| w[1] >= w[0]), "monotone: {ps:?}");
        assert!(ps[0] < 0.2 && ps[39] > 0.8, "{} {}", ps[0], ps[39]);
    }

    #[test]
    fn the_shipped_forest_loads_and_never_gives_nan() {
        let forest = Forest::builtin();
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, 1e30, -1e30] {
            let p = forest.probability(&Features([x; N_FEATURES]));
            assert!((0.0..=1.0).contains(&p), "{x}: {p}");
        }
    }

    #[test]
    fn forest_fit_separates_reads_back_the_same_and_is_reproducible() {
        // Every feature carries the signal: each split tries only some of them.
        let f = |x: f32| Features([x; N_FEATURES]);
        let mut s = vec![];
        for k in 0..60 {
            let x = k as f32 / 10.0;
            s.push((f(x), x > 3.0, 1.0));
        }
        let forest = Forest::fit(&s, 20, 60, 7).unwrap();
        assert!(forest.probability(&f(0.5)) < 0.2);
        assert!(forest.probability(&f(5.5)) > 0.8);
        let bytes = forest.to_bytes();
        assert_eq!(
            bytes,
            Forest::fit(&s, 20, 60, 7).unwrap().to_bytes(),
            "same seed, same forest"
        );
        let back = Forest::from_bytes(&bytes).unwrap();
        for k in 0..60 {
            let x = f(k as f32 / 10.0);
            assert_eq!(back.probability(&x), forest.probability(&x));
        }
        assert!(Forest::fit(&s[..20], 5, 20, 0).is_err(), "one class only");
    }

    #[test]
    fn fit_needs_both_classes() {
        let s: Vec<_> = (0..10).map(|k| (f(k as f32), true, 1.0)).collect();
        assert!(Model::fit(&s, 1.0).is_err());
    }

    #[test]
    fn features_compare_the_two_eyes_around_the_onset() {
        let frames: Vec<FeatureFrame> = (0..60)
            .map(|k| {
                let t = k as f64 / 30.0;
                let c = if t >= 0.5 { 2.0 } else { 0.0 };
                FeatureFrame {
                    t_s: t,
                    closure: [c, 0.0],
                    closure_speed: [if (t - 0.5).abs() < 0.02 { 60.0 } else { 0.0 }, 0.0],
                    look_change: [if t >= 0.5 { 1.0 } else { 0.0 }, 0.1],
                    head_speed: 3.0,
                    speed: [[0.0; 3]; 2],
                    reliable: true,
                }
            })
            .collect();
        let x = Features::measure(frames.iter(), 0, 0.5, 1.0, 60.0, true)
            .unwrap()
            .0;
        assert!(x[1] < 0.0, "the other eye's look changed less");
        assert!(x[2] < 0.0, "the other eye squeezed slower");
        assert_eq!(x[4], 2.0, "this eye gained 2 % fw");
        assert_eq!(x[5], 0.0);
        assert_eq!(x[6], 2.0);
        assert_eq!(x[7], 1.0);
        assert_eq!(x[11], 2.0, "against its own state before the onset");
        assert_eq!(x[12], 0.0);
        assert!(
            x[13] < 0.0 && x[14] > 0.0,
            "this eye's look changed, from rest"
        );
        assert_eq!(x[18], 0.5f32.ln(), "active 0.5 s");
        assert_eq!(x[21], 1.0);
        assert!(Features::measure(frames.iter(), 0, 5.0, 5.5, 60.0, true).is_none());
        let early = Features::measure(frames.iter(), 0, 0.1, 0.3, 60.0, true).unwrap();
        assert!(early.0[11].is_nan(), "no frames before the onset: unknown");
    }

    #[test]
    fn reliability_bins_cover_zero_to_one() {
        let t = reliability(&[(0.05, false), (0.95, true), (1.0, true), (0.5, true)], 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t[0].count, 1);
        assert_eq!(t[9].count, 2, "1.0 falls in the last bin");
        assert_eq!(t[9].share_real, 1.0);
        assert_eq!(t.iter().map(|b| b.count).sum::<usize>(), 4);
    }
}
