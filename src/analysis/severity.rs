//! Closure severity: how closed each eye is, frame by frame, against that eye's own open
//! look, and the signed left-minus-right asymmetry of it, summarised per minute of media
//! time. It does not use the twitch detector or its threshold: a weaker spasm reads as a
//! smaller number, not as a missing event (docs/severity.md).
//!
//! Input: `FrameSignals::aperture` (per eye, measured in `motion`) and the observed seconds
//! each frame stands for (the summary's count). Output: one `events::Minute` per minute
//! (`Event::Minute`), and one for the part-minute at the end. Thread: analysis (a few
//! hundred additions per frame; the reference quantile is refreshed once a second).

use crate::analysis::measure::motion::FrameSignals;
use crate::outputs::events::Minute;

/// Asymmetry levels whose exceedance shares a minute line gives, fraction of aperture.
pub const THRESHOLDS: [f64; 3] = [0.10, 0.25, 0.50];

/// Parameters. Times in seconds of media time; apertures in `FrameSignals::aperture` units.
#[derive(Debug, Clone, PartialEq)]
pub struct SeverityParams {
    /// Length of the summary periods (the grid starts at media time 0).
    pub minute_s: f64,
    /// Each eye's usual open aperture is this quantile (the median) of its apertures so
    /// far in the run, outside squeezes (`squeeze_gate`). The median, not a high quantile:
    /// the measure's own noise then averages out of the closure rather than adding up as
    /// closure, by more in the noisier eye. A narrowing held so long that it is most of the
    /// run's reference frames becomes the new usual look (docs/severity.md).
    pub open_quantile: f64,
    /// A frame adds to an eye's reference only while that eye's lid squeeze, as the flow
    /// (or, under glasses, the look) accumulates it (`FrameSignals::closure_held`), is
    /// below this (percent of face width): the usual look is the look outside squeezes,
    /// however often and however strongly they come. A fixed small gate, not the twitch
    /// detector's threshold.
    pub squeeze_gate: f32,
    /// Closure is not measured until each eye has this many seconds of apertures (the
    /// open reference needs them).
    pub warmup_s: f64,
    /// Histogram of apertures per eye: bin width and top (apertures above it land in the
    /// last bin).
    pub bin: f32,
    pub max_aperture: f32,
    /// How often the open references are recomputed from the histograms, seconds.
    pub refresh_s: f64,
}

impl Default for SeverityParams {
    fn default() -> Self {
        Self {
            minute_s: 60.0,
            open_quantile: 0.5,
            squeeze_gate: 0.5,
            warmup_s: 5.0,
            bin: 0.05,
            max_aperture: 60.0,
            refresh_s: 1.0,
        }
    }
}

/// Per-frame closure of both eyes, fraction of each eye's open aperture.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Closure {
    /// `[side.index()]`, 0 open (or wider) .. 1 shut.
    pub eyes: [f64; 2],
}

impl Closure {
    /// Left minus right: positive when the left eye is the more closed.
    pub fn asymmetry(&self) -> f64 {
        self.eyes[0] - self.eyes[1]
    }
}

/// The open reference of both eyes and the minute being summed.
#[derive(Debug, Clone)]
pub struct Severity {
    params: SeverityParams,
    /// `[side][bin]`: frames seen at each aperture, and seconds in all.
    hist: [Vec<u32>; 2],
    seen_s: f64,
    /// Open aperture per eye (`None` during the warm-up), and when it was last computed.
    open: Option<[f32; 2]>,
    refreshed_t: f64,
    minute: Option<Acc>,
}

/// Sums over the current minute.
#[derive(Debug, Clone, Default)]
struct Acc {
    index: i64,
    observed_s: f64,
    measured_s: f64,
    closure: [f64; 2],
    asymmetry: f64,
    beyond: [[f64; 3]; 2],
}

impl Severity {
    pub fn new(params: SeverityParams) -> Self {
        let bins = (params.max_aperture / params.bin.max(1e-3)).ceil() as usize + 1;
        Self {
            hist: [vec![0; bins], vec![0; bins]],
            seen_s: 0.0,
            open: None,
            refreshed_t: f64::NEG_INFINITY,
            minute: None,
            params,
        }
    }

    /// The open aperture of each eye, once known.
    #[cfg(test)]
    fn open(&self) -> Option<[f32; 2]> {
        self.open
    }

    /// One frame. `observed_dt` is the seconds it adds to observed time (0 without a face).
    /// A minute that ended before this frame is pushed to `out` first.
    pub fn push(&mut self, s: &FrameSignals, observed_dt: f64, out: &mut Vec<Minute>) {
        let minute = self.params.minute_s.max(1e-3);
        let index = (s.t_s / minute).floor() as i64;
        if self.minute.as_ref().is_some_and(|m| m.index != index) {
            self.close(out);
        }
        let acc = self.minute.get_or_insert_with(|| Acc {
            index,
            ..Acc::default()
        });
        acc.observed_s += observed_dt;
        if observed_dt <= 0.0 || !s.aperture_valid {
            return;
        }
        let mut both = true;
        for (side, &a) in s.aperture.iter().enumerate() {
            if s.closure_held[side] >= self.params.squeeze_gate {
                both = false;
                continue;
            }
            let bin = ((a.max(0.0) / self.params.bin) as usize).min(self.hist[side].len() - 1);
            self.hist[side][bin] += 1;
        }
        if both {
            self.seen_s += observed_dt;
        }
        if self.seen_s >= self.params.warmup_s && s.t_s - self.refreshed_t >= self.params.refresh_s
        {
            self.refreshed_t = s.t_s;
            let q = self.params.open_quantile;
            self.open = Some([0, 1].map(|side| quantile(&self.hist[side], q) * self.params.bin));
        }
        let Some(open) = self.open else { return };
        let c = closure(&s.aperture, &open);
        let acc = self.minute.get_or_insert_with(Acc::default);
        acc.measured_s += observed_dt;
        for side in 0..2 {
            acc.closure[side] += c.eyes[side] * observed_dt;
        }
        let asym = c.asymmetry();
        acc.asymmetry += asym * observed_dt;
        for (k, &th) in THRESHOLDS.iter().enumerate() {
            if asym > th {
                acc.beyond[0][k] += observed_dt;
            } else if -asym > th {
                acc.beyond[1][k] += observed_dt;
            }
        }
    }

    /// Ends the run: the part-minute so far, if it saw any frame.
    pub fn finish(&mut self, out: &mut Vec<Minute>) {
        self.close(out);
    }

    fn close(&mut self, out: &mut Vec<Minute>) {
        let Some(m) = self.minute.take() else { return };
        let minute = self.params.minute_s;
        let per = |x: f64| {
            if m.measured_s > 0.0 {
                round4(x / m.measured_s)
            } else {
                0.0
            }
        };
        out.push(Minute {
            start_s: round3(m.index as f64 * minute),
            end_s: round3((m.index + 1) as f64 * minute),
            observed_s: round3(m.observed_s),
            measured_s: round3(m.measured_s),
            closure_left: per(m.closure[0]),
            closure_right: per(m.closure[1]),
            asymmetry: per(m.asymmetry),
            beyond_left: m.beyond[0].map(per),
            beyond_right: m.beyond[1].map(per),
        });
    }
}

/// Closure of each eye against its usual open aperture: `1 - aperture / open`, within
/// -1..1 (negative: more open than usual; kept, so that the noise of the measure averages
/// out instead of adding up as closure).
pub fn closure(aperture: &[f32; 2], open: &[f32; 2]) -> Closure {
    let eyes = [0, 1].map(|s| {
        if open[s] > 0.0 {
            (1.0 - f64::from(aperture[s]) / f64::from(open[s])).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    });
    Closure { eyes }
}

/// The bin (as a fractional index, its middle) below which `q` of the counts lie.
fn quantile(hist: &[u32], q: f64) -> f32 {
    let total: u64 = hist.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0.0;
    }
    let want = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0) as u64;
    let mut acc = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        acc += u64::from(c);
        if acc >= want {
            return i as f32 + 0.5;
        }
    }
    hist.len() as f32 - 0.5
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round4(x: f64) -> f64 {
    (x * 10000.0).round() / 10000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(t: f64, aperture: [f32; 2]) -> FrameSignals {
        FrameSignals {
            t_s: t,
            aperture,
            aperture_valid: true,
            ..FrameSignals::default()
        }
    }

    /// 150 s at 10 fps: both eyes open at 10, the left half shut for 6 s of every 30 from
    /// 20 s on. Minute lines on the grid, the last a part-minute; the asymmetry is the
    /// left's mean closure, and its shares count only the left.
    #[test]
    fn minutes_sum_closure_against_the_open_reference() {
        let mut sev = Severity::new(SeverityParams::default());
        let mut out = vec![];
        let dt = 0.1;
        for i in 0..1500 {
            let t = i as f64 * dt;
            let shut = t >= 20.0 && (t % 30.0) < 6.0;
            let left = if shut { 5.0 } else { 10.0 };
            sev.push(&frame(t, [left, 10.0]), dt, &mut out);
        }
        sev.finish(&mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!((out[2].start_s, out[2].end_s), (120.0, 180.0));
        assert!((out[2].observed_s - 30.0).abs() < 1e-6);
        let open = sev.open().unwrap();
        assert!((open[0] - 10.0).abs() < 0.1 && (open[1] - 10.0).abs() < 0.1);
        // Minute 2 (60-120 s): shut 60-66 and 90-96, 12 s of 60 at 0.5.
        let m = &out[1];
        assert!((m.closure_left - 0.1).abs() < 0.01, "{m:?}");
        assert!(m.closure_right < 0.01, "{m:?}");
        assert!((m.asymmetry - 0.1).abs() < 0.01, "{m:?}");
        assert!((m.beyond_left[0] - 0.2).abs() < 0.01, "{m:?}");
        assert!((m.beyond_left[1] - 0.2).abs() < 0.01, "{m:?}");
        assert!(m.beyond_left[2] < 0.01, "{m:?}");
        assert_eq!(m.beyond_right, [0.0; 3]);
    }

    /// 20 minutes open, then the left eye held at half its aperture for 3 minutes: still
    /// read as half closed at the end of those minutes (they are under 10 % of the run).
    #[test]
    fn a_narrowing_held_for_minutes_still_shows() {
        let mut sev = Severity::new(SeverityParams::default());
        let mut out = vec![];
        let dt = 0.2;
        for i in 0..(23 * 300) {
            let t = i as f64 * dt;
            let left = if t >= 1200.0 { 5.0 } else { 10.0 };
            sev.push(&frame(t, [left, 10.0]), dt, &mut out);
        }
        sev.finish(&mut out);
        assert_eq!(out.len(), 23);
        for m in &out[20..] {
            assert!((m.asymmetry - 0.5).abs() < 0.02, "{m:?}");
            assert!((m.beyond_left[1] - 1.0).abs() < 1e-6, "{m:?}");
        }
        assert!(out[19].asymmetry.abs() < 1e-6, "{:?}", out[19]);
    }

    #[test]
    fn frames_without_a_face_are_not_observed() {
        let mut sev = Severity::new(SeverityParams::default());
        let mut out = vec![];
        for i in 0..100 {
            let mut f = frame(i as f64 * 0.1, [10.0, 10.0]);
            f.aperture_valid = i % 2 == 0;
            sev.push(&f, if i < 50 { 0.1 } else { 0.0 }, &mut out);
        }
        sev.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert!((out[0].observed_s - 5.0).abs() < 1e-6, "{:?}", out[0]);
        assert!(out[0].measured_s <= 2.5 + 1e-6, "{:?}", out[0]);
    }
}
