//! Burst detector: turns per-region motion signals into one-sided twitch events.
//!
//! Input: `FrameSignals` in time order. Output: closed `Twitch` events (and per-frame
//! normalised activity for traces and previews). Thread: analysis.

use crate::analysis::anatomy::{RegionKind, Side};
use crate::analysis::confidence::{AFTER_S, BASE_S, FeatureFrame, Features, Forest, Model};
use crate::analysis::measure::motion::FrameSignals;
use crate::outputs::events::{Candidate, Pattern, RegionEvidence, Twitch};

/// Revision of what the analysis detects (measurement and burst rules together), written on
/// every log's `session` line: logs of different revisions may disagree on the same video.
/// Raise it with every change that changes what any clip gives (the golden logs, or a
/// suite's or a recording's events).
pub const VERSION: u32 = 11;

/// Detector parameters, in physical units: "% fw" is percent of the face's width, so the
/// same values hold for small and large faces and any frame rate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BurstParams {
    /// A burst starts when one eye squeezes faster than the other by at least this
    /// (% fw per second): spasms are quick involuntary contractions, while voluntary
    /// expressions (frowns, squints) build slowly.
    pub onset_rate: f32,
    /// No burst starts while the head moves faster than this (% fw per second): a turning
    /// or nodding face squeezes the eye regions unevenly in ways a flat motion model
    /// cannot remove.
    pub onset_max_head_speed: f32,
    /// ...from an eye near rest: its squeeze `rest_lookback_s` before the onset was below
    /// this (% fw). A high squeeze before any movement is a stale
    /// measurement (e.g. after camera shake), not a spasm starting.
    pub onset_rest: f32,
    /// How far back (s) an onset looks for the eye at rest.
    pub rest_lookback_s: f64,
    /// ...and its squeeze already exceeds the other eye's by this much (% fw).
    pub onset_closure: f32,
    /// The burst stays open while one eye stays squeezed more than the other by this
    /// (% fw), or squeezes again at half the onset rate (clonic jerks).
    pub hold_closure: f32,
    /// ...and by at least this share of the burst's own peak, so that a slowly fading
    /// measurement after the eye reopened does not hold it open.
    pub hold_share: f32,
    /// Minimum (this side - other) / (this side + other) for a frame to count as one-sided.
    pub min_asymmetry: f32,
    /// The other eye squeezing at least this fast (% fw per second), and at least
    /// `blink_share` of the onset's own rate, within `blink_window_s` before or after an
    /// onset makes it a blink (both eyes; a blink lasts up to 0.4 s), not a twitch.
    pub blink_rate: f32,
    pub blink_share: f32,
    pub blink_window_s: f64,
    /// After the onset, the other eye joining (its squeeze or its look, as above) drops a
    /// burst only within this long (s): a blink's lids close within it, while a twitch
    /// followed by a blink (HFS twitches often are) stays a twitch. Before the onset the
    /// whole `blink_window_s` counts.
    pub blink_join_s: f64,
    /// The other eye's look changing (`LookSignals::change`, largest in the blink window
    /// before or after the onset) by at least this share of this eye's (largest there) also
    /// makes it a blink. When the head moved faster than `blink_look_head_speed` (% fw per
    /// second) in some frames of the window, the other eye's change counts only in the
    /// others within half the window of the onset: head motion changes both eyes' look by
    /// itself, while a blink just before or after a nod, shake or turn still shows in the
    /// still frames next to it (one eye's flow may read such a blink as a squeeze, the other
    /// eye's not).
    /// The look sees the other lid close where its flow reading is lost (a compressed or
    /// blurred blink, a pixel's shift of the crop). Measured: blinks 0.44-2, twitches with
    /// the head still below 0.4 but one.
    pub blink_look_share: f32,
    pub blink_look_head_speed: f32,
    /// Bursts separated by less than this (s) are one episode.
    pub merge_gap_s: f64,
    /// A twitch starts at the first jerk of its train: a burst's start is moved back to
    /// the earliest one-sided jerk on its side that leads up to the onset with gaps under
    /// `merge_gap_s`, at most this long (s) before the onset (and after the last burst on
    /// that side). A jerk is a frame, with the flow reliable, the head slower than
    /// `onset_max_head_speed` and detection settled, where this eye squeezed at half the
    /// onset rate one-sidedly (as a burst is held) or where its look alone changed (one
    /// frame's change at least `look_onset`, `look_onset_z` times its resting level and
    /// `look_onset_ratio` times the other eye's). Jerks that fell short of an onset (a
    /// one-frame lid squeeze the flow reads as still in a compressed copy) thus no longer
    /// delay it by a beat of the train. Only the start moves: whether a burst is reported,
    /// its duration rule and the confidence features are judged from the onset itself.
    /// 0 turns it off.
    pub train_lookback_s: f64,
    /// Shorter bursts (s, from the onset to the end of the last active frame) are dropped
    /// as noise: one frame at 30 fps, so that a single jerk of 60-150 ms, which the flow
    /// often sees in one frame, counts.
    pub min_duration_s: f64,
    /// A burst shorter than this (s), or of one frame, is a twitch only when its eye is
    /// seen to reopen: within `brief_reopen_s` after its end the eye's closure falls back
    /// to its level before the onset plus at most `brief_reopen_share` of what it rose. A
    /// jerk reopens; a flow that lost the lid in a blink's reopening reads a step that
    /// stays (measured on blinks during head turns).
    pub brief_s: f64,
    pub brief_reopen_s: f64,
    pub brief_reopen_share: f32,
    /// A burst held squeezed this long (s) is tonic, otherwise clonic.
    pub tonic_min_s: f64,
    /// Cheek and mouth count as involved when their one-sided motion reaches this robust
    /// z-score (residual speed against its running median and deviation).
    pub spread_z: f32,
    /// Length of the window (s of resting frames) the median and deviation of residual
    /// speed are taken over. A finite window, rather than a tracker with endless memory,
    /// makes the scores the same whichever frame a run started at, once it has filled.
    pub stats_window_s: f64,
    /// Floor for the running deviation of residual speed (% fw per second).
    pub speed_floor: f32,
    /// After (re)acquiring a face or a stretch of untrustworthy flow, signals settle for
    /// this long (s) before a burst may start.
    pub warmup_s: f64,
    /// Untrustworthy flow for this long (s) without a break makes the accumulated squeeze
    /// stale: detection settles again for `warmup_s` afterwards.
    pub stale_after_s: f64,
    /// A second way for a burst to start, for squeezes too weak for `onset_rate`: over the
    /// last `look_onset_window_s`, one eye's look changed (`LookSignals::change`, summed, grey
    /// levels) by at least `look_onset`, at least `look_onset_z` times its resting level
    /// (the median change a frame over the last `stats_window_s` of resting frames, both
    /// eyes pooled, times the frames in the window) and at least `look_onset_ratio` times the
    /// other eye's (plus that resting level): a blink, a gaze shift, a head turn or a change
    /// of light changes both eyes' look; a one-sided squeeze one. Only with the head slower
    /// than `look_onset_max_head_speed` (% fw per s) over the window, the other eye not
    /// squeezing (`blink_rate`), this eye's squeeze at least the other's, and from
    /// `look_settle_s` after the face was acquired (the resting level needs frames).
    /// `f32::INFINITY` turns it off.
    pub look_onset: f32,
    pub look_onset_window_s: f64,
    pub look_onset_z: f32,
    pub look_onset_ratio: f32,
    pub look_onset_max_head_speed: f32,
    pub look_settle_s: f64,
    /// ...and not within this long (s) after a burst on the same side ended: the tail of a
    /// twitch the rate found is not a new one.
    pub look_refractory_s: f64,
    /// Candidate mode, for fitting the confidence model (`eval --fit-confidence`): bursts
    /// start at `candidate_rate` (% fw per second) and no blink test drops them; each
    /// twitch carries its features and whether the rules above would have kept it
    /// (`Twitch::candidate`).
    #[serde(skip)]
    pub candidates: bool,
    pub candidate_rate: f32,
    /// Beside the rules, a second detector runs in candidate mode; a candidate the rules
    /// did not report (no reported twitch on its side within `RESCUE_GAP_S` of it, none on
    /// the other side overlapping it) is reported when the confidence model gives it at
    /// least this probability. The model judges each eye against its own recent state over the whole
    /// window around the candidate, so weak squeezes and twitches next to a blink that the
    /// onset rules miss or veto are still found. Above 1 turns it off.
    pub rescue_confidence: f64,
    /// ...or when the rescue forest (`confidence::Forest`) gives it at least this: the
    /// forest finds weak squeezes and squeezes in head motion that the logistic model
    /// puts below `rescue_confidence` (`docs/sensitivity.md`). Above 1 turns it off.
    pub rescue_forest: f64,
    /// A burst the rules kept is reported only when the confidence model gives it at least
    /// this probability: below it, on the data the model was fitted on, fewer than half of
    /// such events were real (`docs/confidence.md`).
    pub min_confidence: f64,
}

impl Default for BurstParams {
    fn default() -> Self {
        Self {
            onset_rate: 15.0,
            onset_max_head_speed: 60.0,
            onset_rest: 3.0,
            rest_lookback_s: 0.15,
            onset_closure: 0.0,
            hold_closure: 1.0,
            hold_share: 0.5,
            min_asymmetry: 0.4,
            blink_rate: 10.0,
            blink_share: 0.25,
            blink_window_s: 0.4,
            blink_join_s: 0.2,
            blink_look_share: 0.45,
            blink_look_head_speed: 40.0,
            merge_gap_s: 0.4,
            train_lookback_s: 1.0,
            min_duration_s: 0.03,
            brief_s: 0.1,
            brief_reopen_s: 0.3,
            brief_reopen_share: 0.5,
            tonic_min_s: 0.8,
            spread_z: 4.0,
            stats_window_s: 8.0,
            speed_floor: 4.0,
            warmup_s: 0.2,
            stale_after_s: 0.25,
            look_onset: 1.5,
            look_onset_window_s: 0.3,
            look_onset_z: 4.0,
            look_onset_ratio: 4.0,
            look_onset_max_head_speed: 30.0,
            look_settle_s: 1.0,
            look_refractory_s: 1.0,
            candidates: false,
            candidate_rate: 5.0,
            rescue_confidence: 0.96,
            rescue_forest: 0.85,
            min_confidence: 0.6,
        }
    }
}

/// Median and mean absolute deviation of a signal over its last `window_s` seconds of
/// samples. Samples are only added while no burst is open, so a spasm never becomes the
/// norm, and old ones only leave when new ones come (a long tonic spasm keeps the resting
/// level from before it).
#[derive(Debug, Clone, Default)]
struct WindowStats {
    samples: std::collections::VecDeque<(f64, f32)>,
    /// Reused for the median's selection.
    scratch: Vec<f32>,
    median: f32,
    dev: f32,
}

impl WindowStats {
    fn add(&mut self, t: f64, x: f32, window_s: f64) {
        self.samples.push_back((t, x));
        while self
            .samples
            .front()
            .is_some_and(|&(t0, _)| t - t0 > window_s)
        {
            self.samples.pop_front();
        }
    }

    /// Recomputes the median and deviation; an empty window has median 0 and the floor
    /// as its deviation.
    fn refresh(&mut self, floor: f32) {
        if self.samples.is_empty() {
            self.median = 0.0;
            self.dev = floor;
            return;
        }
        self.scratch.clear();
        self.scratch.extend(self.samples.iter().map(|&(_, x)| x));
        let mid = self.scratch.len() / 2;
        let (_, &mut median, _) = self.scratch.select_nth_unstable_by(mid, f32::total_cmp);
        // Summed in arrival order, so equal windows give bit-equal deviations.
        let sum: f32 = self.samples.iter().map(|&(_, x)| (x - median).abs()).sum();
        self.median = median;
        self.dev = sum / self.samples.len() as f32;
    }

    fn z(&self, x: f32, floor: f32) -> f32 {
        (x - self.median) / self.dev.max(floor)
    }
}

/// What the detector saw in one frame (for traces and previews).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Activity {
    pub t_s: f64,
    /// Robust z-scores of residual speed, `[side][region]`.
    pub z: [[f32; 3]; 2],
    /// Per side: held closure beyond the other eye's (% fw), the quantity bursts are held
    /// on (`FrameSignals::closure_held`).
    pub one_sided: [f32; 2],
    /// Per side: active in this frame.
    pub flagged: [bool; 2],
}

#[derive(Debug, Clone)]
struct Burst {
    /// The first jerk of its train (`BurstParams::train_lookback_s`).
    start_s: f64,
    /// The frame the onset rules opened it at: the blink tests, the features and the
    /// duration rule are judged from here.
    onset_s: f64,
    last_s: f64,
    /// Largest one-sided closure (% fw) and the asymmetry then.
    peak: f32,
    /// Largest one-sided held closure (% fw): holding is judged against it.
    held_peak: f32,
    asym_at_peak: f32,
    /// Per region: largest one-sided speed z.
    region_peak: [f32; 3],
    evidence: [[f32; 3]; 2],
    held_since: Option<f64>,
    longest_held_s: f64,
    frames: u32,
    /// The one-sided squeeze rate that opened the burst (% fw per second).
    onset_rate: f32,
    /// The squeezes were measured by the eyes' look (glasses).
    glasses: bool,
    /// The onset rules and blink tests kept it (always, outside candidate mode).
    rules_ok: bool,
    /// Measured once `confidence::AFTER_S` after the onset has passed (or at the end).
    features: Option<Features>,
    /// Its end (s), fixed when it closed before its features were measured (`pending`).
    end_s: Option<f64>,
}

/// The detector's state across frames.
pub struct BurstDetector {
    params: BurstParams,
    speed_stats: [WindowStats; 3],
    /// Resting look change a frame, both eyes pooled (`BurstParams::look_onset`).
    look_stats: WindowStats,
    /// Per side: when the last burst there ended (`BurstParams::look_refractory_s`).
    last_closed: [f64; 2],
    open: [Option<Burst>; 2],
    prev_t: Option<f64>,
    tracking_since: Option<f64>,
    last_frame_dt: f64,
    /// When detection may resume after a long stretch of untrustworthy flow.
    reliable_since: Option<f64>,
    /// Start of the current stretch of untrustworthy flow.
    unreliable_since: Option<f64>,
    /// Recent squeeze rates per side, for telling blinks (both eyes) from twitches.
    recent_rates: [std::collections::VecDeque<(f64, f32)>; 2],
    /// Recent (time, look change per side, head speed), two blink windows long, for the
    /// look's blink test.
    recent_look: std::collections::VecDeque<(f64, [f32; 2], f32)>,
    /// Per side: times of recent one-sided jerks (`BurstParams::train_lookback_s`).
    recent_jerks: [std::collections::VecDeque<f64>; 2],
    /// Recent squeeze per side (% fw), to check an onset starts from rest.
    recent_closure: [std::collections::VecDeque<(f64, f32)>; 2],
    /// The last `HISTORY_S` of frames, for the bursts' features.
    history: std::collections::VecDeque<FeatureFrame>,
    /// Bursts that ended before their features could be measured (`AFTER_S`).
    pending: Vec<(Side, Burst)>,
    /// The candidate-mode detector of `BurstParams::rescue_confidence` (rules mode only).
    rescue: Option<Box<BurstDetector>>,
    /// Its closed candidates, waiting until no rules twitch can overlap them any more.
    rescued: Vec<Twitch>,
    /// Recently reported twitches (side, start, end), that candidates must not repeat.
    reported: std::collections::VecDeque<(Side, f64, f64)>,
}

/// How much of the past the features need: the window before an onset, and after it
/// until they are measured.
const HISTORY_S: f64 = BASE_S + AFTER_S + 0.1;

/// A candidate within this long (s) of a reported twitch on its side is part of it (its
/// tail, or a second jerk of the same episode: as `BurstParams::look_refractory_s`).
const RESCUE_GAP_S: f64 = 1.0;

/// Whether an event on `side` from `start_s` to `end_s` covers the candidate `tw`, so that
/// it is not rescued: within `RESCUE_GAP_S` on its side, overlapping on the other (spasms
/// are one-sided). The detector's rule, and `eval`'s replay of it (`devtools::forest_cv`).
pub fn rescue_covered(tw: &Twitch, side: Side, start_s: f64, end_s: f64) -> bool {
    let gap = if side == tw.side { RESCUE_GAP_S } else { 0.0 };
    end_s.min(tw.end_s) + gap > start_s.max(tw.start_s)
}

impl BurstDetector {
    pub fn new(params: BurstParams) -> Self {
        let rescue = (!params.candidates
            && (params.rescue_confidence <= 1.0 || params.rescue_forest <= 1.0))
            .then(|| {
                Box::new(BurstDetector::new(BurstParams {
                    candidates: true,
                    ..params.clone()
                }))
            });
        Self {
            pending: Vec::new(),
            rescue,
            rescued: Vec::new(),
            reported: Default::default(),
            params,
            speed_stats: Default::default(),
            look_stats: Default::default(),
            last_closed: [f64::NEG_INFINITY; 2],
            open: [None, None],
            prev_t: None,
            tracking_since: None,
            last_frame_dt: 1.0 / 30.0,
            recent_rates: Default::default(),
            recent_look: Default::default(),
            recent_closure: Default::default(),
            recent_jerks: Default::default(),
            history: Default::default(),
            reliable_since: None,
            unreliable_since: None,
        }
    }

    /// A twitch is open on either side (by the rules; candidates do not count).
    pub fn burst_open(&self) -> bool {
        self.open.iter().any(Option::is_some)
    }

    /// Feeds one frame; returns the activity and pushes any twitch that closed into `out`.
    pub fn push(&mut self, s: &FrameSignals, out: &mut Vec<Twitch>) -> Activity {
        let first_new = out.len();
        let act = self.push_rules(s, out);
        self.note_reported(&out[first_new..]);
        if let Some(rescue) = self.rescue.as_mut() {
            rescue.push(s, &mut self.rescued);
            self.decide_rescued(Some(s.t_s), out);
        }
        act
    }

    /// Remembers reported twitches, for `decide_rescued`.
    fn note_reported(&mut self, new: &[Twitch]) {
        for tw in new {
            self.reported.push_back((tw.side, tw.start_s, tw.end_s));
        }
        if let Some(&(_, _, last_end)) = self.reported.back() {
            while self
                .reported
                .front()
                .is_some_and(|&(_, _, end)| end < last_end - 30.0)
            {
                self.reported.pop_front();
            }
        }
    }

    /// Reports the rescue detector's candidates that no reported twitch covers and that the
    /// model trusts, once a rules twitch overlapping them can no longer start (`now` past
    /// their end by `RESCUE_GAP_S`; `None`: at the end, decide all).
    fn decide_rescued(&mut self, now: Option<f64>, out: &mut Vec<Twitch>) {
        if self.rescued.is_empty() {
            return;
        }
        let rules_open: Vec<(Side, f64)> = Side::BOTH
            .into_iter()
            .filter_map(|side| self.open[side.index()].as_ref().map(|b| (side, b.start_s)))
            .chain(self.pending.iter().map(|(side, b)| (*side, b.start_s)))
            .collect();
        let mut keep = Vec::new();
        for mut tw in std::mem::take(&mut self.rescued) {
            if now.is_some_and(|t| t <= tw.end_s + RESCUE_GAP_S) {
                keep.push(tw);
                continue;
            }
            let covered = self
                .reported
                .iter()
                .any(|&(side, a, b)| rescue_covered(&tw, side, a, b))
                || rules_open
                    .iter()
                    .any(|&(side, a)| rescue_covered(&tw, side, a, f64::INFINITY));
            let forest = tw.candidate.as_ref().and_then(|c| c.forest).unwrap_or(0.0);
            if !covered
                && (tw.confidence >= self.params.rescue_confidence
                    || forest >= self.params.rescue_forest)
            {
                // The probability of whichever model trusted it most.
                tw.confidence = tw.confidence.max(round3(forest));
                tw.candidate = None;
                self.reported.push_back((tw.side, tw.start_s, tw.end_s));
                out.push(tw);
            }
        }
        self.rescued = keep;
    }

    fn push_rules(&mut self, s: &FrameSignals, out: &mut Vec<Twitch>) -> Activity {
        let p = self.params.clone();
        let t = s.t_s;
        let dt = match self.prev_t {
            Some(prev) if t > prev => (t - prev).min(0.5),
            _ => self.last_frame_dt,
        };
        self.last_frame_dt = dt;
        self.prev_t = Some(t);
        let mut act = Activity {
            t_s: t,
            ..Activity::default()
        };

        if s.face.is_none() || s.discontinuity {
            // No event may straddle a loss or a jump of the face.
            self.close_rules(out);
            self.history.clear();
            self.recent_jerks.iter_mut().for_each(|j| j.clear());
            self.tracking_since = s.face.map(|_| t);
            self.reliable_since = self.tracking_since;
            self.unreliable_since = None;
            return act;
        }
        let since = *self.tracking_since.get_or_insert(t);

        // Residual speed per region, normalised pooling both sides (a twitch is rare and
        // one-sided, so the pooled median is the resting level). The window only learns
        // while no burst is open, so that spasms do not become the norm.
        let any_open = self.burst_open();
        for (r, stats) in self.speed_stats.iter_mut().enumerate() {
            for side in 0..2 {
                act.z[side][r] = stats.z(s.speed[side][r], p.speed_floor);
            }
            if !any_open {
                for side in 0..2 {
                    stats.add(t, s.speed[side][r], p.stats_window_s);
                }
                stats.refresh(p.speed_floor);
            }
        }
        if !any_open && s.reliable && p.look_onset.is_finite() {
            for side in 0..2 {
                self.look_stats
                    .add(t, s.look.change[side], p.stats_window_s);
            }
            self.look_stats.refresh(0.0);
        }
        for side in 0..2 {
            act.one_sided[side] = s.closure_held[side] - s.closure_held[1 - side];
        }
        for (side, recent) in self.recent_closure.iter_mut().enumerate() {
            recent.push_back((t, s.closure[side]));
            while recent.len() > 1
                && recent
                    .get(1)
                    .is_some_and(|&(t1, _)| t - t1 >= p.rest_lookback_s)
            {
                recent.pop_front();
            }
        }
        for (side, recent) in self.recent_rates.iter_mut().enumerate() {
            recent.push_back((t, s.closure_speed[side]));
            while recent
                .front()
                .is_some_and(|&(t0, _)| t - t0 > p.blink_window_s)
            {
                recent.pop_front();
            }
        }
        self.history.push_back(FeatureFrame {
            t_s: t,
            closure: s.closure,
            closure_speed: s.closure_speed,
            look_change: s.look.change,
            head_speed: s.head_speed,
            speed: s.speed,
            reliable: s.reliable,
        });
        while self.history.front().is_some_and(|f| t - f.t_s > HISTORY_S) {
            self.history.pop_front();
        }
        self.recent_look.push_back((t, s.look.change, s.head_speed));
        while self
            .recent_look
            .front()
            .is_some_and(|&(t0, _, _)| t - t0 > 2.0 * p.blink_window_s)
        {
            self.recent_look.pop_front();
        }
        // A sustained stretch of untrustworthy flow (the view lost to blur) leaves the
        // accumulated squeeze stale: settle again afterwards. Single blurred frames do not.
        if s.reliable {
            if let Some(since_bad) = self.unreliable_since.take()
                && t - since_bad >= p.stale_after_s
            {
                self.reliable_since = Some(t);
            }
        } else {
            self.unreliable_since.get_or_insert(t);
        }
        let reliable_since = self.reliable_since.unwrap_or(since);
        let settled = t - since >= p.warmup_s && t - reliable_since >= p.warmup_s;

        for side in Side::BOTH {
            let (i, o) = (side.index(), side.other().index());
            let closure = s.closure[i] - s.closure[o];
            let asym = one_sided_ratio(s.closure[i], s.closure[o]);
            // Holding is judged on the slowly leaking squeeze, so that a long tonic spasm
            // stays one event until the eye reopens.
            let held_closure = act.one_sided[i];
            let held_asym = one_sided_ratio(s.closure_held[i], s.closure_held[o]);
            let rate = s.closure_speed[i] - s.closure_speed[o];
            let open = self.open[i].is_some();
            // Onsets and jerks are judged on squeeze rates, holds on the squeeze itself, each
            // against the same quantity on the other side.
            let rate_asym = one_sided_ratio(s.closure_speed[i], s.closure_speed[o]);
            let other_recent = self.recent_rates[o]
                .iter()
                .map(|&(_, r)| r)
                .fold(0.0, f32::max);
            let before = self.recent_closure[i].front().map_or(0.0, |&(_, c)| c);
            let can_start = settled
                && before < p.onset_rest
                && s.reliable
                && s.head_speed <= p.onset_max_head_speed
                && rate_asym >= p.min_asymmetry
                && closure >= p.onset_closure;
            let rules_onset = can_start
                && rate >= p.onset_rate
                && other_recent < p.blink_rate.max(p.blink_share * rate)
                && !self.look_blink(side, t - p.blink_window_s);
            let look_onset = settled
                && s.reliable
                && t - since > p.look_settle_s
                && t - self.last_closed[i] >= p.look_refractory_s
                && s.head_speed <= p.look_onset_max_head_speed
                && other_recent < p.blink_rate
                && s.closure[i] >= s.closure[o]
                && self.look_onset(side, t);
            let rules_onset = rules_onset || look_onset;
            let onset = if p.candidates {
                look_onset || (can_start && rate >= p.candidate_rate)
            } else {
                rules_onset
            };
            let held = held_asym >= p.min_asymmetry
                && self.open[i].as_ref().is_some_and(|b| {
                    held_closure >= p.hold_closure.max(p.hold_share * b.held_peak)
                });
            let jerk = s.reliable && rate >= 0.5 * p.onset_rate && rate_asym >= p.min_asymmetry;
            let hold = open && (held || jerk);
            act.flagged[i] = onset || hold;
            let start_s = if act.flagged[i] && !open {
                self.train_start(side, t)
            } else {
                t
            };
            // This frame's jerk, for the trains of later onsets.
            let jerk_like = settled
                && s.reliable
                && s.head_speed <= p.onset_max_head_speed
                && (jerk || self.look_jerk(s, side));
            let jerks = &mut self.recent_jerks[i];
            while jerks.front().is_some_and(|&tj| t - tj > p.train_lookback_s) {
                jerks.pop_front();
            }
            if jerk_like && p.train_lookback_s > 0.0 {
                jerks.push_back(t);
            }
            if act.flagged[i] {
                let b = self.open[i].get_or_insert(Burst {
                    start_s,
                    onset_s: t,
                    last_s: t,
                    peak: 0.0,
                    held_peak: 0.0,
                    asym_at_peak: 0.0,
                    region_peak: [0.0; 3],
                    evidence: [[0.0; 3]; 2],
                    held_since: None,
                    longest_held_s: 0.0,
                    frames: 0,
                    onset_rate: rate,
                    glasses: false,
                    rules_ok: rules_onset,
                    features: None,
                    end_s: None,
                });
                b.glasses |= s.look.glasses;
                b.last_s = t;
                b.frames += 1;
                b.held_peak = b.held_peak.max(held_closure);
                if closure > b.peak {
                    b.peak = closure;
                    b.asym_at_peak = asym;
                }
                for r in 0..3 {
                    let one_sided = act.z[i][r] - act.z[o][r].max(0.0);
                    b.region_peak[r] = b.region_peak[r].max(one_sided);
                    b.evidence[i][r] = b.evidence[i][r].max(act.z[i][r]);
                    b.evidence[o][r] = b.evidence[o][r].max(act.z[o][r]);
                }
            }
            // The other eye joining in just after the onset: it was a blink after all.
            if self.open[i].as_ref().is_some_and(|b| {
                t - b.onset_s <= p.blink_join_s
                    && (s.closure_speed[o] >= p.blink_rate.max(p.blink_share * b.onset_rate)
                        || self.look_blink(side, b.onset_s - p.blink_window_s))
            }) {
                if p.candidates {
                    if let Some(b) = self.open[i].as_mut() {
                        b.rules_ok = false;
                    }
                } else {
                    self.open[i] = None;
                    act.flagged[i] = false;
                }
            }
            if let Some(b) = self.open[i].as_mut()
                && b.features.is_none()
                && t - b.onset_s >= AFTER_S
            {
                b.features = Features::measure(
                    self.history.iter(),
                    i,
                    b.onset_s,
                    b.last_s,
                    b.onset_rate,
                    b.rules_ok,
                );
            }
            if let Some(b) = self.open[i].as_mut() {
                if act.flagged[i] && held_closure >= p.hold_closure.max(p.hold_share * b.held_peak)
                {
                    let start = *b.held_since.get_or_insert(t);
                    b.longest_held_s = b.longest_held_s.max(t - start);
                } else {
                    b.held_since = None;
                }
                if t - b.last_s > p.merge_gap_s {
                    let b = self.open[i].take().expect("checked above");
                    self.last_closed[i] = b.last_s;
                    if b.features.is_some() {
                        self.finish(side, b, out);
                    } else {
                        let end_s = Some(b.last_s + self.last_frame_dt);
                        self.pending.push((side, Burst { end_s, ..b }));
                    }
                }
            }
        }
        // Bursts that ended early are finished once their features can be measured.
        let mut k = 0;
        while k < self.pending.len() {
            if t - self.pending[k].1.onset_s >= AFTER_S {
                let (side, b) = self.pending.remove(k);
                self.finish(side, b, out);
            } else {
                k += 1;
            }
        }
        act
    }

    /// Where a burst of `side` opening at `t` starts: the first jerk of the train leading up
    /// to it (`BurstParams::train_lookback_s`), or `t`.
    fn train_start(&self, side: Side, t: f64) -> f64 {
        let p = &self.params;
        let i = side.index();
        let mut start = t;
        for &tj in self.recent_jerks[i].iter().rev() {
            if tj >= start {
                continue;
            }
            if start - tj > p.merge_gap_s
                || t - tj > p.train_lookback_s
                || tj <= self.last_closed[i]
            {
                break;
            }
            start = tj;
        }
        start
    }

    /// Whether `side`'s look alone changed in this frame (`BurstParams::train_lookback_s`).
    fn look_jerk(&self, s: &FrameSignals, side: Side) -> bool {
        let (this, other) = (
            s.look.change[side.index()],
            s.look.change[side.other().index()],
        );
        self.look_alone(this, other, self.look_stats.median.max(0.02))
    }

    /// Whether a look change `this` of one eye is that eye's alone: at least `look_onset`,
    /// `look_onset_z` times the `resting` level and `look_onset_ratio` times the other
    /// eye's `other` (plus that level).
    fn look_alone(&self, this: f32, other: f32, resting: f32) -> bool {
        let p = &self.params;
        this >= p.look_onset
            && this >= p.look_onset_z * resting
            && this >= p.look_onset_ratio * (other + resting)
    }

    /// Whether `side`'s look alone changed over the last `look_onset_window_s`, with the
    /// head slow (`BurstParams::look_onset`).
    fn look_onset(&self, side: Side, t: f64) -> bool {
        let p = &self.params;
        if !p.look_onset.is_finite() {
            return false;
        }
        let (i, o) = (side.index(), side.other().index());
        let (mut this, mut other, mut head, mut n) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for (_, change, head_speed) in self
            .recent_look
            .iter()
            .filter(|e| t - e.0 <= p.look_onset_window_s)
        {
            this += change[i];
            other += change[o];
            head = head.max(*head_speed);
            n += 1.0;
        }
        let resting = n * self.look_stats.median.max(0.02);
        head <= p.look_onset_max_head_speed && self.look_alone(this, other, resting)
    }

    /// Whether the other eye's look changed like `side`'s since `since` (the onset less
    /// `blink_window_s`): a blink (`BurstParams::blink_look_share`). With the head moving
    /// faster than `blink_look_head_speed` in some of those frames, the other eye's change
    /// counts only in the others, and only within half the blink window of the onset: a
    /// blink's lids close within that of the squeeze one eye's flow reads.
    fn look_blink(&self, side: Side, since: f64) -> bool {
        let p = &self.params;
        let (i, o) = (side.index(), side.other().index());
        let onset = since + p.blink_window_s;
        let (mut this, mut other, mut other_still, mut head) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for &(t, change, head_speed) in self.recent_look.iter().filter(|e| e.0 >= since) {
            this = this.max(change[i]);
            other = other.max(change[o]);
            head = head.max(head_speed);
            if head_speed < p.blink_look_head_speed && (t - onset).abs() <= 0.5 * p.blink_window_s {
                other_still = other_still.max(change[o]);
            }
        }
        if head >= p.blink_look_head_speed {
            other = other_still;
        }
        this > 0.0 && other >= p.blink_look_share * this
    }

    /// Closes any open burst and decides every candidate (end of input).
    pub fn close_all(&mut self, out: &mut Vec<Twitch>) {
        let first_new = out.len();
        self.close_rules(out);
        self.note_reported(&out[first_new..]);
        if let Some(rescue) = self.rescue.as_mut() {
            rescue.close_all(&mut self.rescued);
            self.decide_rescued(None, out);
        }
    }

    /// Closes the rules' open and pending bursts, measuring features on the frames there
    /// are (face lost, end of input).
    fn close_rules(&mut self, out: &mut Vec<Twitch>) {
        let mut ending: Vec<(Side, Burst)> = std::mem::take(&mut self.pending);
        for side in Side::BOTH {
            if let Some(b) = self.open[side.index()].take() {
                ending.push((side, b));
            }
        }
        ending.sort_by(|a, b| a.1.start_s.total_cmp(&b.1.start_s));
        for (side, b) in ending {
            self.finish(side, b, out);
        }
    }

    /// Whether `side`'s eye reopened after burst `b` ending at `end` (`BurstParams::brief_s`),
    /// judged on the frames of the history; false without frames after the end.
    fn reopened(&self, side: Side, b: &Burst, end: f64) -> bool {
        let p = &self.params;
        let i = side.index();
        let closure = |lo: f64, hi: f64| {
            self.history
                .iter()
                .filter(move |f| f.t_s >= lo && f.t_s < hi)
                .map(move |f| f.closure[i])
        };
        let before = closure(b.onset_s - p.brief_reopen_s, b.onset_s).fold(f32::NAN, f32::min);
        let peak = closure(b.onset_s, end).fold(f32::NAN, f32::max);
        let after = closure(end, end + p.brief_reopen_s).fold(f32::NAN, f32::min);
        let before = if before.is_nan() { 0.0 } else { before };
        after <= before + p.brief_reopen_share * (peak - before)
    }

    fn finish(&self, side: Side, b: Burst, out: &mut Vec<Twitch>) {
        let p = &self.params;
        let end = b.end_s.unwrap_or(b.last_s + self.last_frame_dt);
        if end - b.onset_s < p.min_duration_s
            || ((end - b.onset_s < p.brief_s || b.frames < 2) && !self.reopened(side, &b, end))
        {
            return;
        }
        // The eye always takes part (that is what starts a burst); cheek and mouth when
        // they moved clearly more than on the other side.
        let mut regions = vec![RegionKind::Eye];
        for r in [RegionKind::Cheek, RegionKind::Mouth] {
            if b.region_peak[r.index()] >= p.spread_z {
                regions.push(r);
            }
        }
        let pattern = if b.longest_held_s >= p.tonic_min_s {
            Pattern::Tonic
        } else {
            Pattern::Clonic
        };
        let features = b.features.or_else(|| {
            Features::measure(
                self.history.iter(),
                side.index(),
                b.onset_s,
                b.last_s,
                b.onset_rate,
                b.rules_ok,
            )
        });
        let confidence = features.map_or(0.5, |f| Model::builtin().probability(&f));
        if !p.candidates && features.is_some() && confidence < p.min_confidence {
            return;
        }
        let (l, r) = (Side::Left.index(), Side::Right.index());
        out.push(Twitch {
            start_s: round3(b.start_s),
            end_s: round3(end),
            side,
            regions,
            peak: round3(b.peak as f64),
            asymmetry: round3(b.asym_at_peak as f64),
            pattern,
            confidence: round3(confidence),
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
            glasses: b.glasses,
            candidate: p.candidates.then(|| Candidate {
                rules_ok: b.rules_ok,
                features: features.unwrap_or_default(),
                forest: features.map(|f| Forest::builtin().probability(&f)),
            }),
        });
    }
}

/// (a - b) / (a + b) for non-negative magnitudes; 0 when both are 0.
fn one_sided_ratio(a: f32, b: f32) -> f32 {
    let (a, b) = (a.max(0.0), b.max(0.0));
    if a + b > 0.0 { (a - b) / (a + b) } else { 0.0 }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::face::track::FacePose;

    #[test]
    fn window_stats_are_the_median_and_mean_deviation_of_the_last_window() {
        let mut w = WindowStats::default();
        w.refresh(0.5);
        assert_eq!((w.median, w.dev), (0.0, 0.5), "empty: median 0, the floor");
        // 10 s at 1 Hz; a 3 s window keeps t = 6..=9 (values 6, 7, 8, 90).
        for i in 0..10 {
            let x = if i == 9 { 90.0 } else { i as f32 };
            w.add(i as f64, x, 3.0);
        }
        w.refresh(0.5);
        assert_eq!(w.samples.len(), 4);
        assert_eq!(w.median, 8.0, "upper median of 6, 7, 8, 90");
        assert_eq!(w.dev, (2.0 + 1.0 + 0.0 + 82.0) / 4.0);
        assert_eq!(w.z(8.0 + 2.0 * w.dev, 0.5), 2.0);
    }

    #[test]
    fn window_stats_forget_what_came_before_the_window() {
        // Two histories that agree on their last window give bit-equal scores.
        let (mut a, mut b) = (WindowStats::default(), WindowStats::default());
        for i in 0..300 {
            a.add(i as f64 / 30.0, (i % 7) as f32 * 3.1, 2.0);
        }
        for i in 200..300 {
            b.add(i as f64 / 30.0, (i % 7) as f32 * 3.1, 2.0);
        }
        a.refresh(1.0);
        b.refresh(1.0);
        assert_eq!((a.median, a.dev), (b.median, b.dev));
    }

    const FPS: f64 = 30.0;
    const POSE: FacePose = FacePose {
        cx: 100.0,
        cy: 100.0,
        size: 100.0,
        angle: 0.0,
    };

    /// A squeeze profile (% fw): ramps up over `rise` s from `t0`, holds, ramps down over
    /// `fall` s, ending at `t1`.
    fn squeeze(t: f64, t0: f64, t1: f64, rise: f64, fall: f64, amp: f32) -> f32 {
        if t < t0 || t > t1 {
            0.0
        } else if t < t0 + rise {
            amp * ((t - t0) / rise) as f32
        } else if t > t1 - fall {
            amp * ((t1 - t) / fall) as f32
        } else {
            amp
        }
    }

    struct Sim {
        face: Box<dyn Fn(f64) -> bool>,
        reliable: Box<dyn Fn(f64) -> bool>,
        /// Closure per side (% fw) as a function of time.
        closure: Box<dyn Fn(f64, usize) -> f32>,
        /// Extra residual speed per side and region.
        speed: Box<dyn Fn(f64, usize, usize) -> f32>,
        /// Look change per side (grey levels a frame) and head speed (% fw per second).
        look: Box<dyn Fn(f64, usize) -> f32>,
        head_speed: Box<dyn Fn(f64) -> f32>,
    }

    impl Default for Sim {
        fn default() -> Self {
            Self {
                face: Box::new(|_| true),
                reliable: Box::new(|_| true),
                closure: Box::new(|_, _| 0.0),
                speed: Box::new(|_, _, _| 0.0),
                look: Box::new(|_, _| 0.0),
                head_speed: Box::new(|_| 0.0),
            }
        }
    }

    fn run(seconds: f64, sim: Sim) -> Vec<Twitch> {
        run_with(BurstParams::default(), seconds, sim)
    }

    fn run_with(params: BurstParams, seconds: f64, sim: Sim) -> Vec<Twitch> {
        let mut det = BurstDetector::new(params);
        let mut out = vec![];
        let mut prev = [0.0f32; 2];
        for i in 0..(seconds * FPS) as u64 {
            let t = i as f64 / FPS;
            let face = (sim.face)(t).then_some(POSE);
            let mut s = FrameSignals {
                index: i,
                t_s: t,
                face,
                reliable: (sim.reliable)(t),
                head_speed: (sim.head_speed)(t),
                ..FrameSignals::default()
            };
            for (side, prev) in prev.iter_mut().enumerate() {
                // Small deterministic noise on every signal.
                let n = ((i * 7 + side as u64 * 13) % 11) as f32 / 11.0;
                s.closure[side] = (sim.closure)(t, side) + 0.1 * n;
                s.closure_held[side] = s.closure[side];
                s.closure_speed[side] = ((s.closure[side] - *prev) * FPS as f32).max(0.0);
                *prev = s.closure[side];
                for r in 0..3 {
                    s.speed[side][r] = 5.0 + 2.0 * n + (sim.speed)(t, side, r);
                }
                s.look.change[side] = (sim.look)(t, side);
            }
            det.push(&s, &mut out);
        }
        det.close_all(&mut out);
        out
    }

    const L: usize = 0;
    const R: usize = 1;

    /// A closure profile on one side only.
    fn on_side(only: usize, f: impl Fn(f64) -> f32 + 'static) -> Box<dyn Fn(f64, usize) -> f32> {
        Box::new(move |t, side| if side == only { f(t) } else { 0.0 })
    }

    #[test]
    fn fast_one_sided_squeeze_is_one_twitch_on_that_side() {
        let out = run(
            10.0,
            Sim {
                closure: on_side(L, |t| squeeze(t, 4.0, 4.6, 0.1, 0.1, 3.0)),
                ..Sim::default()
            },
        );
        assert_eq!(out.len(), 1, "{out:?}");
        let tw = &out[0];
        assert_eq!(tw.side, Side::Left);
        assert!(
            (tw.start_s - 4.0).abs() < 0.1 && (tw.end_s - 4.55).abs() < 0.1,
            "{tw:?}"
        );
        assert_eq!(tw.regions, vec![RegionKind::Eye]);
        assert_eq!(tw.pattern, Pattern::Clonic);
        assert!(
            tw.peak > 2.8 && tw.asymmetry > 0.9 && tw.confidence > 0.5,
            "{tw:?}"
        );
    }

    /// A squeeze the flow sees in one frame counts when the eye reopens after it (a single
    /// jerk); one that stays (the flow losing the lid) does not. Holding and the confidence
    /// floor are off: the rule alone.
    #[test]
    fn a_one_frame_jerk_counts_only_when_the_eye_reopens() {
        let brief_only = || BurstParams {
            hold_closure: 100.0,
            rescue_confidence: 1.1,
            rescue_forest: 1.1,
            min_confidence: 0.0,
            ..BurstParams::default()
        };
        let frame = |t: f64| (t * FPS).round() as i64;
        let jerk = Sim {
            closure: on_side(L, move |t| if frame(t) == 120 { 3.0 } else { 0.0 }),
            ..Sim::default()
        };
        let out = run_with(brief_only(), 10.0, jerk);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Left);
        assert!(out[0].end_s - out[0].start_s < 0.1, "{out:?}");
        let step = Sim {
            closure: on_side(L, move |t| if frame(t) >= 120 { 3.0 } else { 0.0 }),
            ..Sim::default()
        };
        let out = run_with(brief_only(), 10.0, step);
        assert!(out.is_empty(), "{out:?}");
    }

    /// The rules' twitch is reported only when the model gives it `min_confidence`.
    #[test]
    fn a_twitch_the_model_doubts_is_not_reported() {
        let fast = || Sim {
            closure: on_side(L, |t| squeeze(t, 4.0, 4.6, 0.1, 0.1, 3.0)),
            ..Sim::default()
        };
        let rules_only = BurstParams {
            rescue_confidence: 1.1,
            rescue_forest: 1.1,
            ..BurstParams::default()
        };
        let out = run_with(rules_only.clone(), 10.0, fast());
        assert_eq!(out.len(), 1, "{out:?}");
        let above = BurstParams {
            min_confidence: out[0].confidence + 0.01,
            ..rules_only
        };
        assert!(run_with(above, 10.0, fast()).is_empty());
    }

    /// A squeeze too slow for the onset rules (10 % fw per second) is a candidate: reported
    /// when the model trusts it enough (here: any confidence), never twice.
    #[test]
    fn a_candidate_the_rules_miss_is_reported_only_when_trusted() {
        let slow = || Sim {
            closure: on_side(L, |t| squeeze(t, 4.0, 4.8, 0.2, 0.2, 2.0)),
            ..Sim::default()
        };
        let trusted = BurstParams::default().rescue_forest;
        assert!(run(10.0, slow()).iter().all(|t| t.confidence >= trusted));
        let off = BurstParams {
            rescue_confidence: 1.1,
            rescue_forest: 1.1,
            ..BurstParams::default()
        };
        assert!(run_with(off, 10.0, slow()).is_empty());
        let any = BurstParams {
            rescue_confidence: 0.0,
            ..BurstParams::default()
        };
        let out = run_with(any.clone(), 10.0, slow());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Left);
        assert!(out[0].candidate.is_none());
        // A fast squeeze the rules find is one twitch, not also a candidate.
        let fast = Sim {
            closure: on_side(L, |t| squeeze(t, 4.0, 4.6, 0.1, 0.1, 3.0)),
            ..Sim::default()
        };
        assert_eq!(run_with(any, 10.0, fast).len(), 1);
    }

    #[test]
    fn a_blink_closes_both_eyes_and_is_not_a_twitch() {
        let out = run(
            10.0,
            Sim {
                closure: Box::new(|t, _| squeeze(t, 4.0, 4.25, 0.08, 0.1, 4.0)),
                ..Sim::default()
            },
        );
        assert!(out.is_empty(), "{out:?}");
    }

    /// The other eye closing a tenth of a second after the first: a blink. Closing 0.3 s
    /// after a twitch's onset: a twitch followed by a blink (`blink_join_s`), which HFS
    /// twitches often are.
    #[test]
    fn a_blink_after_a_twitch_leaves_the_twitch() {
        let both = |lag: f64| Sim {
            closure: Box::new(move |t, side| match side {
                L => squeeze(t, 4.0, 4.7, 0.08, 0.1, 4.0),
                _ => squeeze(t, 4.0 + lag, 4.25 + lag, 0.08, 0.1, 4.0),
            }),
            ..Sim::default()
        };
        let out = run(10.0, both(0.1));
        assert!(out.is_empty(), "{out:?}");
        let out = run(10.0, both(0.3));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Left);
    }

    /// A blink whose other eye the flow lost (it reads still) but whose look changed: a
    /// blink, with the head still. With the head turning, the look cannot tell, and the
    /// flow's one-sided squeeze stands.
    #[test]
    fn a_blink_seen_only_in_the_other_eyes_look_is_not_a_twitch() {
        let sim = |head: f32| Sim {
            closure: on_side(R, |t| squeeze(t, 4.0, 4.25, 0.08, 0.1, 4.0)),
            look: Box::new(|t, side| {
                let closing = (4.0..4.1).contains(&t);
                if closing { [5.0, 4.0][side] } else { 0.05 }
            }),
            head_speed: Box::new(move |t| if (3.5..4.5).contains(&t) { head } else { 0.0 }),
            ..Sim::default()
        };
        // The rules alone: the confidence floor is another test's.
        let rules = || BurstParams {
            min_confidence: 0.0,
            ..BurstParams::default()
        };
        let out = run_with(rules(), 10.0, sim(0.0));
        assert!(out.is_empty(), "{out:?}");
        let out = run_with(rules(), 10.0, sim(50.0));
        assert_eq!(out.len(), 1, "{out:?}");
    }

    /// A blink seen in both eyes' look with the head still, whose flow squeeze shows in one
    /// eye only as a nod or turn begins (side light makes one lid's edge the stronger): a
    /// blink. A twitch followed by head motion that changes both eyes' look stays a twitch:
    /// the other eye's look counts in the frames with the head still only.
    #[test]
    fn a_blink_as_the_head_starts_moving_is_not_a_twitch() {
        let blink = Sim {
            closure: on_side(L, |t| squeeze(t, 4.1, 4.4, 0.08, 0.1, 4.0)),
            look: Box::new(|t, side| {
                if (4.0..4.1).contains(&t) {
                    [3.0, 2.5][side]
                } else {
                    0.05
                }
            }),
            head_speed: Box::new(|t| if (4.09..4.6).contains(&t) { 50.0 } else { 0.0 }),
            ..Sim::default()
        };
        let out = run(10.0, blink);
        assert!(out.is_empty(), "{out:?}");
        let twitch = Sim {
            closure: on_side(L, |t| squeeze(t, 4.0, 4.6, 0.1, 0.1, 3.0)),
            look: Box::new(|t, side| match (side, t) {
                (L, t) if (4.0..4.1).contains(&t) => 2.5,
                (_, t) if (4.3..4.4).contains(&t) => 1.5,
                _ => 0.05,
            }),
            head_speed: Box::new(|t| if (4.29..4.5).contains(&t) { 60.0 } else { 0.0 }),
            ..Sim::default()
        };
        let out = run(10.0, twitch);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Left);
    }

    #[test]
    fn a_slow_one_sided_frown_is_not_a_twitch() {
        // Builds over a second: voluntary, not a spasm.
        let out = run(
            10.0,
            Sim {
                closure: on_side(R, |t| squeeze(t, 3.0, 6.0, 1.0, 1.0, 3.0)),
                ..Sim::default()
            },
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn clonic_jerks_within_the_merge_gap_are_one_episode() {
        let out = run(
            12.0,
            Sim {
                closure: Box::new(|t, side| {
                    let jerks = [3.0, 3.35, 3.7, 4.05, 4.4];
                    let c = jerks
                        .iter()
                        .map(|&j| squeeze(t, j, j + 0.15, 0.04, 0.08, 2.0))
                        .fold(0.0, f32::max);
                    if side == R { c } else { 0.0 }
                }),
                ..Sim::default()
            },
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Right);
        assert_eq!(out[0].pattern, Pattern::Clonic);
        assert!(out[0].start_s < 3.1 && out[0].end_s > 4.4, "{out:?}");
    }

    /// A train whose first jerk the flow read as still (a compressed copy) but whose look
    /// changed on that side alone: the twitch starts at that first jerk, not a beat later.
    #[test]
    fn a_twitch_starts_at_the_first_jerk_of_its_train() {
        let train = || Sim {
            closure: Box::new(|t, side| {
                let jerks = [3.35, 3.7, 4.05];
                let c = jerks
                    .iter()
                    .map(|&j| squeeze(t, j, j + 0.15, 0.04, 0.08, 2.0))
                    .fold(0.0, f32::max);
                if side == R { c } else { 0.0 }
            }),
            look: Box::new(|t, side| {
                let first = (3.0..3.03).contains(&t);
                if first && side == R { 6.0 } else { 0.05 }
            }),
            // Too fast for the look alone to open a burst, slow enough for a jerk.
            head_speed: Box::new(|t| if (2.9..3.1).contains(&t) { 35.0 } else { 0.0 }),
            ..Sim::default()
        };
        let out = run(12.0, train());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].side, Side::Right);
        assert!((out[0].start_s - 3.0).abs() < 0.05, "{out:?}");
        let off = BurstParams {
            train_lookback_s: 0.0,
            ..BurstParams::default()
        };
        let out = run_with(off, 12.0, train());
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].start_s > 3.3, "{out:?}");
        // A look change on both sides (a blink the flow did not see) is no jerk (and here
        // also vetoes the onset after it as a blink).
        let blink = Sim {
            look: Box::new(|t, _| if (3.0..3.03).contains(&t) { 6.0 } else { 0.05 }),
            ..train()
        };
        let out = run(12.0, blink);
        assert!(out.iter().all(|tw| tw.start_s > 3.3), "{out:?}");
    }

    #[test]
    fn a_held_squeeze_is_tonic() {
        let out = run(
            10.0,
            Sim {
                closure: on_side(L, |t| squeeze(t, 2.0, 5.0, 0.15, 0.2, 4.0)),
                ..Sim::default()
            },
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].pattern, Pattern::Tonic);
        assert!(out[0].end_s > 4.7, "{out:?}");
    }

    #[test]
    fn cheek_and_mouth_join_when_they_move_on_the_same_side() {
        let out = run(
            10.0,
            Sim {
                closure: on_side(L, |t| squeeze(t, 4.0, 4.6, 0.1, 0.1, 3.0)),
                speed: Box::new(|t, side, r| {
                    if side == L && r == 1 && (4.0..4.5).contains(&t) {
                        80.0
                    } else {
                        0.0
                    }
                }),
                ..Sim::default()
            },
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].regions, vec![RegionKind::Eye, RegionKind::Cheek]);
        let cheek = &out[0].evidence[1];
        assert!(cheek.left > cheek.right, "{cheek:?}");
    }

    #[test]
    fn no_onset_while_the_flow_is_unreliable() {
        let out = run(
            10.0,
            Sim {
                closure: on_side(L, |t| squeeze(t, 4.0, 4.6, 0.1, 0.1, 3.0)),
                reliable: Box::new(|t| !(3.9..4.7).contains(&t)),
                ..Sim::default()
            },
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn face_loss_ends_an_open_burst_and_no_event_straddles_it() {
        let out = run(
            10.0,
            Sim {
                closure: on_side(L, |t| squeeze(t, 4.0, 6.0, 0.1, 0.1, 3.0)),
                face: Box::new(|t| !(5.0..5.5).contains(&t)),
                ..Sim::default()
            },
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].start_s >= 3.9 && out[0].end_s <= 5.0 + 1e-9,
            "{out:?}"
        );
    }

    #[test]
    fn quiet_face_gives_nothing() {
        assert!(run(30.0, Sim::default()).is_empty());
    }

    #[test]
    fn a_squeeze_that_was_already_high_does_not_start_a_burst() {
        // A 6 % squeeze built up while the flow was untrustworthy (camera shake), which
        // then ticks up quickly once the view is clear again.
        let out = run(
            10.0,
            Sim {
                closure: Box::new(|t, side| {
                    let stale = if t < 2.5 {
                        0.0
                    } else {
                        (6.0 * (t - 2.5) / 0.5).min(6.0) as f32
                    };
                    if side == L {
                        stale + squeeze(t, 4.0, 4.6, 0.1, 0.1, 2.0)
                    } else {
                        0.0
                    }
                }),
                reliable: Box::new(|t| !(2.4..3.6).contains(&t)),
                ..Sim::default()
            },
        );
        assert!(out.is_empty(), "{out:?}");
    }
}
