//! Burst detector: turns per-region motion signals into one-sided twitch events.
//!
//! Input: `FrameSignals` in time order. Output: closed `Twitch` events (and per-frame
//! normalised activity for traces and previews). Thread: analysis.

use crate::anatomy::{RegionKind, Side};
use crate::events::{Pattern, RegionEvidence, Twitch};
use crate::motion::FrameSignals;

/// Detector parameters. "z" values are robust z-scores: (signal - running median) /
/// running mean absolute deviation, pooled over both sides of a region.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectParams {
    /// A side turns active when a region's one-sided activity exceeds this (z units)...
    pub on_z: f32,
    /// ...and stays active while it exceeds this (hysteresis).
    pub off_z: f32,
    /// Minimum (active - other) / (active + other) for a frame to count as one-sided.
    pub min_asymmetry: f32,
    /// Bursts separated by less than this (s) are one episode.
    pub merge_gap_s: f64,
    /// Shorter bursts (s, first to last active frame) are dropped as noise.
    pub min_duration_s: f64,
    /// A burst whose appearance stays changed this long (s) without release is tonic.
    pub tonic_min_s: f64,
    /// Time constant of the running statistics (s).
    pub stats_tau_s: f64,
    /// Floors for the running deviation, in the signals' units: residual speed (percent
    /// of face width per second) and appearance change (normalised difference).
    pub speed_floor: f32,
    pub change_floor: f32,
    /// After (re)acquiring a face, signals settle for this long (s) before detection.
    pub warmup_s: f64,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self {
            on_z: 6.0,
            off_z: 3.0,
            min_asymmetry: 0.45,
            merge_gap_s: 0.5,
            min_duration_s: 0.1,
            tonic_min_s: 0.8,
            stats_tau_s: 8.0,
            speed_floor: 4.0,
            change_floor: 0.02,
            warmup_s: 1.0,
        }
    }
}

/// Running median and mean absolute deviation of a signal (a cheap quantile tracker).
#[derive(Debug, Clone, Copy, Default)]
struct RunningStats {
    median: f32,
    dev: f32,
    seen: u32,
}

impl RunningStats {
    fn update(&mut self, x: f32, rate: f32, floor: f32) {
        if self.seen == 0 {
            self.median = x;
            self.dev = floor;
        } else {
            // Learn fast at first, then at the configured rate.
            let r = rate.max(1.0 / (self.seen as f32 + 1.0));
            let step = self.dev.max(floor) * r;
            self.median += if x > self.median { step } else { -step };
            self.dev += r * ((x - self.median).abs() - self.dev);
        }
        self.seen = self.seen.saturating_add(1);
    }

    fn z(&self, x: f32, floor: f32) -> f32 {
        (x - self.median) / self.dev.max(floor)
    }
}

/// Normalised activity of one frame: `[side][region]`, robust z-scores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Activity {
    pub t_s: f64,
    pub z: [[f32; 3]; 2],
    /// Per side: the one-sided score that drives the state machine.
    pub one_sided: [f32; 2],
    /// Per side: active in this frame.
    pub flagged: [bool; 2],
}

#[derive(Debug, Clone)]
struct Burst {
    start_s: f64,
    last_s: f64,
    peak: f32,
    asym_at_peak: f32,
    region_peak: [f32; 3],
    evidence: [[f32; 3]; 2],
    changed_since: Option<f64>,
    longest_changed_s: f64,
    frames: u32,
}

/// The detector's state across frames.
pub struct BurstDetector {
    params: DetectParams,
    speed_stats: [RunningStats; 3],
    change_stats: [RunningStats; 3],
    open: [Option<Burst>; 2],
    prev_t: Option<f64>,
    tracking_since: Option<f64>,
    last_frame_dt: f64,
}

impl BurstDetector {
    pub fn new(params: DetectParams) -> Self {
        Self {
            params,
            speed_stats: [RunningStats::default(); 3],
            change_stats: [RunningStats::default(); 3],
            open: [None, None],
            prev_t: None,
            tracking_since: None,
            last_frame_dt: 1.0 / 30.0,
        }
    }

    pub fn params(&self) -> &DetectParams {
        &self.params
    }

    /// Feeds one frame; returns the activity and pushes any twitch that closed into `out`.
    pub fn push(&mut self, s: &FrameSignals, out: &mut Vec<Twitch>) -> Activity {
        let p = self.params.clone();
        let t = s.t_s;
        let dt = match self.prev_t {
            Some(prev) if t > prev => (t - prev).min(0.5),
            _ => self.last_frame_dt,
        };
        self.last_frame_dt = dt;
        self.prev_t = Some(t);
        let mut act = Activity { t_s: t, ..Activity::default() };

        if s.face.is_none() || s.discontinuity {
            // No event may straddle a loss or a jump of the face.
            self.close_all(out);
            self.tracking_since = s.face.map(|_| t);
            return act;
        }
        let since = *self.tracking_since.get_or_insert(t);

        // Normalise each region, pooling both sides (a twitch is rare and one-sided, so the
        // pooled median is the resting level).
        let any_open = self.open.iter().any(Option::is_some);
        let rate = (dt / p.stats_tau_s) as f32 * if any_open { 0.1 } else { 1.0 };
        for r in 0..3 {
            let mut zs = [0.0f32; 2];
            for side in 0..2 {
                let zv = self.speed_stats[r].z(s.speed[side][r], p.speed_floor);
                let zc = self.change_stats[r].z(s.change[side][r], p.change_floor);
                zs[side] = zv.max(zc);
            }
            act.z[0][r] = zs[0];
            act.z[1][r] = zs[1];
            for side in 0..2 {
                self.speed_stats[r].update(s.speed[side][r], rate, p.speed_floor);
                self.change_stats[r].update(s.change[side][r], rate, p.change_floor);
            }
        }
        if t - since < p.warmup_s {
            return act;
        }

        for side in Side::BOTH {
            let (i, o) = (side.index(), side.other().index());
            let mut best = 0.0f32;
            let mut best_asym = 0.0f32;
            for r in 0..3 {
                let (a, b) = (act.z[i][r], act.z[o][r].max(0.0));
                let asym = if a > 0.0 { (a - b) / (a + b) } else { 0.0 };
                if asym >= p.min_asymmetry && a > best {
                    best = a;
                    best_asym = asym;
                }
            }
            act.one_sided[i] = best;
            let threshold = if self.open[i].is_some() { p.off_z } else { p.on_z };
            act.flagged[i] = best > threshold;
            let changed = (0..3).any(|r| {
                self.change_stats[r].z(s.change[i][r], p.change_floor) > p.off_z
                    && act.z[o][r] < p.off_z
            });
            if act.flagged[i] {
                let b = self.open[i].get_or_insert(Burst {
                    start_s: t,
                    last_s: t,
                    peak: 0.0,
                    asym_at_peak: 0.0,
                    region_peak: [0.0; 3],
                    evidence: [[0.0; 3]; 2],
                    changed_since: None,
                    longest_changed_s: 0.0,
                    frames: 0,
                });
                b.last_s = t;
                b.frames += 1;
                if best > b.peak {
                    b.peak = best;
                    b.asym_at_peak = best_asym;
                }
                for r in 0..3 {
                    let one_sided = act.z[i][r] - act.z[o][r].max(0.0);
                    b.region_peak[r] = b.region_peak[r].max(one_sided);
                    b.evidence[i][r] = b.evidence[i][r].max(act.z[i][r]);
                    b.evidence[o][r] = b.evidence[o][r].max(act.z[o][r]);
                }
            }
            if let Some(b) = self.open[i].as_mut() {
                if changed {
                    let start = *b.changed_since.get_or_insert(t);
                    b.longest_changed_s = b.longest_changed_s.max(t - start);
                } else {
                    b.changed_since = None;
                }
                if t - b.last_s > p.merge_gap_s {
                    let b = self.open[i].take().expect("checked above");
                    self.finish(side, b, out);
                }
            }
        }
        act
    }

    /// Closes any open burst (end of input, face lost).
    pub fn close_all(&mut self, out: &mut Vec<Twitch>) {
        for side in Side::BOTH {
            if let Some(b) = self.open[side.index()].take() {
                self.finish(side, b, out);
            }
        }
    }

    fn finish(&self, side: Side, b: Burst, out: &mut Vec<Twitch>) {
        let p = &self.params;
        let end = b.last_s + self.last_frame_dt;
        if end - b.start_s < p.min_duration_s || b.frames < 2 {
            return;
        }
        let mut regions: Vec<RegionKind> = RegionKind::ALL
            .into_iter()
            .filter(|r| b.region_peak[r.index()] >= p.off_z)
            .collect();
        if regions.is_empty() {
            let best = (0..3)
                .max_by(|&x, &y| b.region_peak[x].total_cmp(&b.region_peak[y]))
                .unwrap_or(0);
            regions.push(RegionKind::ALL[best]);
        }
        let pattern = if b.longest_changed_s >= p.tonic_min_s { Pattern::Tonic } else { Pattern::Clonic };
        let strength = ((b.peak / p.on_z - 1.0) / 2.0).clamp(0.0, 1.0);
        let confidence = (0.5 * strength + 0.5 * b.asym_at_peak).clamp(0.0, 1.0);
        let (l, r) = (Side::Left.index(), Side::Right.index());
        out.push(Twitch {
            start_s: round3(b.start_s),
            end_s: round3(end),
            side,
            regions,
            peak: round3(b.peak as f64),
            asymmetry: round3(b.asym_at_peak as f64),
            pattern,
            confidence: round3(confidence as f64),
            evidence: RegionKind::ALL
                .into_iter()
                .map(|k| RegionEvidence {
                    region: k,
                    left: round3(b.evidence[l][k.index()] as f64),
                    right: round3(b.evidence[r][k.index()] as f64),
                })
                .collect(),
            wall_start: None,
            wall_end: None,
        });
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::track::FacePose;

    const FPS: f64 = 30.0;
    const POSE: FacePose = FacePose { cx: 100.0, cy: 100.0, size: 100.0, angle: 0.0 };

    /// A quiet face with small noise on every region, plus `bump(t, side, region)` speed.
    fn run(seconds: f64, bump: impl Fn(f64, usize, usize) -> f32) -> Vec<Twitch> {
        let mut det = BurstDetector::new(DetectParams::default());
        let mut out = vec![];
        let frames = (seconds * FPS) as u64;
        for i in 0..frames {
            let t = i as f64 / FPS;
            let mut s = FrameSignals { index: i, t_s: t, face: Some(POSE), ..FrameSignals::default() };
            for side in 0..2 {
                for r in 0..3 {
                    // Deterministic pseudo-noise around 5 %fw/s and 0.05 change.
                    let n = ((i * 7 + side as u64 * 13 + r as u64 * 29) % 11) as f32 / 11.0;
                    s.speed[side][r] = 4.0 + 2.0 * n + bump(t, side, r);
                    s.change[side][r] = 0.05 + 0.01 * n;
                }
            }
            det.push(&s, &mut out);
        }
        det.close_all(&mut out);
        out
    }

    #[test]
    fn one_sided_burst_is_one_twitch_on_that_side() {
        let l = Side::Left.index();
        let out = run(10.0, |t, side, r| {
            if side == l && r == 0 && (4.0..4.5).contains(&t) { 80.0 } else { 0.0 }
        });
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Left);
        assert!((out[0].start_s - 4.0).abs() < 0.05 && (out[0].end_s - 4.5).abs() < 0.1);
        assert_eq!(out[0].regions, vec![RegionKind::Eye]);
        assert_eq!(out[0].pattern, Pattern::Clonic);
    }

    #[test]
    fn both_sides_together_is_not_a_twitch() {
        let out = run(10.0, |t, _, r| if r == 0 && (4.0..4.3).contains(&t) { 80.0 } else { 0.0 });
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn clonic_jerks_within_the_merge_gap_are_one_episode() {
        let r_ = Side::Right.index();
        let out = run(12.0, |t, side, r| {
            let jerk = [3.0, 3.3, 3.6, 3.9, 4.3].iter().any(|&s| (s..s + 0.1).contains(&t));
            if side == r_ && r == 1 && jerk { 60.0 } else { 0.0 }
        });
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Right);
        assert_eq!(out[0].regions, vec![RegionKind::Cheek]);
    }

    #[test]
    fn nothing_fires_during_warmup_or_on_noise() {
        let out = run(20.0, |_, _, _| 0.0);
        assert!(out.is_empty());
    }

    #[test]
    fn face_loss_closes_an_open_burst() {
        let mut det = BurstDetector::new(DetectParams::default());
        let mut out = vec![];
        for i in 0..300u64 {
            let t = i as f64 / FPS;
            let face = if i < 150 { Some(POSE) } else { None };
            let mut s = FrameSignals { index: i, t_s: t, face, ..FrameSignals::default() };
            for side in 0..2 {
                for r in 0..3 {
                    s.speed[side][r] = 5.0 + ((i + r as u64) % 3) as f32;
                }
            }
            if (120..150).contains(&i) {
                s.speed[0][0] = 90.0;
            }
            det.push(&s, &mut out);
            if i == 151 {
                assert_eq!(out.len(), 1);
                assert!(out[0].end_s <= 150.0 / FPS + 1e-9);
            }
        }
        assert_eq!(out.len(), 1);
    }
}
