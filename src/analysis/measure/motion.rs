//! Per-frame measurement: finds and tracks the face, measures optical flow in a face-aligned
//! crop, removes the head's own motion, and reports per-region motion on each of the
//! person's sides.
//!
//! Input: `Frame`s in order. Output: one `FrameSignals` per frame. Thread: analysis.

use crate::analysis::anatomy::{RegionKind, Side};
use crate::analysis::capture::Chore;
use crate::analysis::face::ahead::{AheadCounts, ConfirmAhead};
use crate::analysis::face::detector::{DetectorParams, FaceBox, FaceDetector, NearSquare};
use crate::analysis::face::regions::{CROP_EXPAND, Rect, RegionLayout};
use crate::analysis::face::track::{CropSampler, FacePose};
use crate::analysis::flow::{
    AffineScratch, FlowParams, FlowVec, LucasKanade, Plane, Pyramid, fit_affine,
};
use crate::analysis::measure::eyes::{EyeLook, LookParams, LookSignals};
use crate::source::Frame;
use crossbeam_channel::Receiver;

/// Measurement parameters. Times in seconds of media time, sizes in crop pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionParams {
    /// Side of the face-aligned crop. Motion is measured at this resolution whatever the
    /// face's size in the frame, which makes cost and units independent of it.
    pub crop_px: usize,
    /// Spacing of the flow grid.
    pub grid_step: usize,
    /// How often to re-run the face detector while tracking (s): at every multiple of it in
    /// media time.
    pub face_check_interval_s: f64,
    /// How often to try the detector while no face is tracked.
    pub search_interval_s: f64,
    /// With no detection confirming the tracked face for this long, the face counts as lost.
    pub lost_after_s: f64,
    /// At the first confirmation after each multiple of this (s of media time) outside a
    /// twitch, the track jumps to the detection instead of being nudged towards it. The
    /// nudged track never quite forgets where it was (its crop position feeds the flow that
    /// moves it), so two runs of the same input started at different frames would keep
    /// tracks a pixel or so apart for ever; after a jump they are the same. Rare, because a
    /// jump moves the regions by the detector's jitter: jumping at every confirmation costs
    /// onset accuracy and duplicates (`docs/design.md`).
    pub reset_interval_s: f64,
    /// Leak time constant of the accumulated eye squeeze: a squeeze held longer than this
    /// fades (so measurement drift cannot build up).
    pub squeeze_tau_s: f64,
    /// The same squeeze accumulated with this slower leak (seconds) holds a burst open: a
    /// tonic spasm can keep one eye shut for many seconds, and with the fast leak alone it
    /// would seem to fade after one or two. Its end is seen as the eye reopening.
    pub hold_tau_s: f64,
    /// Squeeze rates below this (percent of face width per second) count as none.
    pub closure_deadband: f32,
    /// Flow is unreliable (motion blur, occlusion, a face turning away) when the robust
    /// scale of residuals over the whole face exceeds this, in percent of face width per
    /// frame; then nothing is accumulated from the frame.
    pub max_residual_pct: f32,
    /// Likewise when the head itself moves faster than this (percent of face width per s).
    pub max_head_speed: f32,
    /// The view is a selfie mirror: the person's left is on the image's left.
    pub mirrored: bool,
    /// Moves the face track off where the detector puts the face, by this share of the
    /// face box (x to the image's right, y down). 0 in use: it exists for `eval --offsets`,
    /// which scores clips at offsets of half a pixel or so, to show how much the results
    /// depend on the track's exact position.
    pub track_offset: [f32; 2],
    pub flow: FlowParams,
    pub detector: DetectorParams,
    pub look: LookParams,
}

impl Default for MotionParams {
    fn default() -> Self {
        Self {
            crop_px: 96,
            grid_step: 3,
            face_check_interval_s: 0.5,
            search_interval_s: 0.2,
            lost_after_s: 1.0,
            reset_interval_s: 10.0,
            squeeze_tau_s: 2.0,
            hold_tau_s: 5.0,
            closure_deadband: 3.0,
            max_residual_pct: 2.5,
            max_head_speed: 120.0,
            mirrored: false,
            track_offset: [0.0; 2],
            flow: FlowParams::default(),
            detector: DetectorParams::default(),
            look: LookParams::default(),
        }
    }
}

/// What one frame shows, region by region. Arrays are `[side.index()][region.index()]`
/// with sides the person's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameSignals {
    pub index: u64,
    pub t_s: f64,
    /// Where the face is, or `None` while no face is tracked.
    pub face: Option<FacePose>,
    /// The face was (re)acquired or jumped: this frame's signals are not comparable with
    /// the previous frame's.
    pub discontinuity: bool,
    /// Local motion left after removing head motion: RMS residual flow speed in percent of
    /// the face's width per second.
    pub speed: [[f32; 3]; 2],
    /// Per side: how much the eye region is squeezed vertically (lid closing), accumulated
    /// with a leak, in percent of face width (0 = at rest or opened wider).
    pub closure: [f32; 2],
    /// Per side: the same squeeze with the slower leak `MotionParams::hold_tau_s` (percent of
    /// face width), for how long a spasm holds.
    pub closure_held: [f32; 2],
    /// Per side: the rate of that squeeze, percent of face width per second.
    pub closure_speed: [f32; 2],
    /// The eyes' look (`look`). With glasses it, not the flow, gives `closure`,
    /// `closure_held` and `closure_speed` (in the same units; see `LookSignals::squeeze`).
    pub look: LookSignals,
    /// Per side: how well the eye region could be tracked this frame, 0..1 (the weaker of
    /// its two halves' summed flow reliability, per point). Near 0 means "no data", which
    /// must not be mistaken for "no motion".
    pub eye_trackable: [f32; 2],
    /// Faces the detector saw in the whole frame, when it searched the whole frame this
    /// frame (0 otherwise). With several, the largest and most central one is followed.
    pub faces_in_view: u32,
    /// Speed of the head's own motion at the face centre, percent of face width per second.
    pub head_speed: f32,
    /// Robust scale of flow residuals over the whole face, percent of face width per frame.
    pub residual_scale: f32,
    /// The flow could be trusted in this frame (see `MotionParams::max_residual_pct`).
    pub reliable: bool,
    /// Per side: how open the eye looks (`eye_aperture`), for the closure severity
    /// (`severity`); meaningful only against the same eye's open value.
    pub aperture: [f32; 2],
    /// `aperture` was measured this frame (a tracked face, steady enough not to blur).
    pub aperture_valid: bool,
}

/// The measurement stage's state, kept across frames.
pub struct MotionAnalyzer {
    params: MotionParams,
    detector: FaceDetector,
    /// Confirmations searched ahead elsewhere (`confirm_ahead`, `confirm_ahead_on_capture`,
    /// `look_ahead`).
    ahead: Option<ConfirmAhead>,
    /// Media time of the last frame `look_ahead` saw.
    ahead_t: f64,
    layout: RegionLayout,
    lk: LucasKanade,
    points: Vec<(f32, f32)>,
    /// For each grid point, the (side, region) it lies in.
    point_region: Vec<Option<(Side, RegionKind)>>,
    flows: Vec<FlowVec>,
    /// Indices (into `points`) of the points inside either eye region, and their flow
    /// measured backwards in time (current frame to previous).
    eye_points: Vec<usize>,
    /// Faces seen by the last whole-frame detection (reported once per frame).
    faces_in_view: u32,
    /// Scratch: (vertical residual, weight) samples per [side * 2 + half] of the eyes.
    half_samples: [Vec<(f32, f32)>; 4],
    /// Grid points per eye half (for normalising `eye_trackable`).
    eye_half_points: f32,
    eye_point_coords: Vec<(f32, f32)>,
    back_flows: Vec<FlowVec>,
    /// Each grid point's residual after the head's fitted motion (pixels).
    residuals: Vec<f32>,
    affine: AffineScratch,
    crop: Plane,
    sampler: CropSampler,
    look: EyeLook,
    /// Scratch: on frames where the track was nudged towards a detection, this frame's crop
    /// where flow alone puts the face (see `EyeLook::update`).
    look_crop: Plane,
    prev_pyr: Pyramid,
    cur_pyr: Pyramid,
    /// Accumulated vertical squeeze of each eye region (crop px), with the fast and the
    /// slow leak.
    closure: [f32; 2],
    closure_held: [f32; 2],
    pose: Option<FacePose>,
    last_confirmed_t: f64,
    last_detect_t: f64,
    /// A grid line of `reset_interval_s` has passed: jump at the next confirmation outside
    /// a twitch.
    jump_due: bool,
    /// The detector has a twitch open (`set_burst_open`).
    burst_open: bool,
    prev_t: Option<f64>,
}

impl MotionAnalyzer {
    pub fn new(params: MotionParams) -> Self {
        let n = params.crop_px;
        let layout = RegionLayout::new(n, params.mirrored);
        let eye_rects = Side::BOTH.map(|s| layout.rect(s, RegionKind::Eye));
        let mut points = vec![];
        let step = params.grid_step.max(1);
        let margin = (n as f32 * 0.04) as usize;
        for y in (margin..n - margin).step_by(step) {
            for x in (margin..n - margin).step_by(step) {
                points.push((x as f32, y as f32));
            }
        }
        let point_region: Vec<Option<(Side, RegionKind)>> =
            points.iter().map(|&(x, y)| layout.locate(x, y)).collect();
        let eye_points: Vec<usize> = (0..points.len())
            .filter(|&i| matches!(point_region[i], Some((_, RegionKind::Eye))))
            .collect();
        let eye_point_coords: Vec<(f32, f32)> = eye_points.iter().map(|&i| points[i]).collect();
        let back_flows = vec![FlowVec::default(); eye_points.len()];
        let flows = vec![FlowVec::default(); points.len()];
        Self {
            detector: FaceDetector::new(params.detector.clone()),
            ahead: None,
            ahead_t: f64::NEG_INFINITY,
            lk: LucasKanade::new(params.flow.clone()),
            layout,
            points,
            point_region,
            flows,
            eye_half_points: eye_points.len() as f32 / 4.0,
            faces_in_view: 0,
            half_samples: Default::default(),
            eye_points,
            eye_point_coords,
            back_flows,
            residuals: vec![],
            affine: AffineScratch::default(),
            crop: Plane::zeros((n, n)),
            look_crop: Plane::zeros((n, n)),
            sampler: CropSampler::default(),
            look: EyeLook::new(params.look.clone(), eye_rects),
            prev_pyr: Pyramid::default(),
            cur_pyr: Pyramid::default(),
            closure: [0.0; 2],
            closure_held: [0.0; 2],
            pose: None,
            last_confirmed_t: f64::NEG_INFINITY,
            last_detect_t: f64::NEG_INFINITY,
            jump_due: false,
            burst_open: false,
            prev_t: None,
            params,
        }
    }

    pub fn params(&self) -> &MotionParams {
        &self.params
    }

    pub fn layout(&self) -> &RegionLayout {
        &self.layout
    }

    /// The most recent face-aligned crop (for previews and debugging).
    pub fn crop(&self) -> &Plane {
        &self.crop
    }

    /// Forgets the tracked face: the next frames search for it afresh (after a change of
    /// frame size, say, when the old pose means nothing).
    pub fn reset(&mut self) {
        self.pose = None;
        self.last_detect_t = f64::NEG_INFINITY;
        self.prev_t = None;
    }

    /// Searches for the face ahead of time from now on, on a thread of its own, for the
    /// frames shown to `look_ahead` (the same results; sooner with a core to spare).
    pub fn confirm_ahead(&mut self) -> std::io::Result<()> {
        if self.ahead.is_none() {
            self.ahead = Some(ConfirmAhead::spawn(self.params.detector.clone())?);
        }
        Ok(())
    }

    /// Searches for the face ahead of time from now on, for the frames shown to
    /// `look_ahead`, as chores on the returned queue: for the capture thread to do while
    /// it waits (`Capture::spawn`). The same results; sooner where it has time to spare.
    pub fn confirm_ahead_on_capture(&mut self) -> Receiver<Chore> {
        let (ahead, rx_chores) = ConfirmAhead::with_chores(self.params.detector.clone());
        self.ahead = Some(ahead);
        rx_chores
    }

    /// How often confirmations came from searches ahead (none without `confirm_ahead*`).
    pub fn ahead_counts(&self) -> AheadCounts {
        self.ahead
            .as_ref()
            .map(ConfirmAhead::counts)
            .unwrap_or_default()
    }

    /// A frame that `process` will get a few frames from now, in order. If it is the first
    /// of a confirmation interval (`face_check_interval_s`), the face is searched for in it
    /// now, around where the face is tracked now, so that the answer is ready when it
    /// comes to be confirmed (used only if its search square is still the same then).
    pub fn look_ahead(&mut self, frame: &Frame) {
        let Some(ahead) = self.ahead.as_mut() else {
            return;
        };
        let interval = self.params.face_check_interval_s.max(1e-3);
        let t = frame.pts_s;
        let first_of_interval = crosses_grid(self.ahead_t, t, interval);
        self.ahead_t = t;
        let Some(pose) = self.pose.filter(|_| first_of_interval) else {
            return;
        };
        let (w, h) = (frame.width, frame.height);
        let face_px = pose.size / CROP_EXPAND;
        if let Some(square) =
            NearSquare::new(w, h, pose.cx, pose.cy, face_px, &self.params.detector)
            && let Some(roi) = square.cut(&frame.luma, w, h)
        {
            ahead.start(frame.index, square, roi);
        }
    }

    /// Tells whether the detector has a twitch open, before each frame: the track does not
    /// jump onto a detection then (`MotionParams::reset_interval_s`).
    pub fn set_burst_open(&mut self, open: bool) {
        self.burst_open = open;
    }

    /// Measures one frame.
    pub fn process(&mut self, frame: &Frame) -> FrameSignals {
        self.faces_in_view = 0;
        let mut out = self.measure(frame);
        out.faces_in_view = self.faces_in_view;
        out
    }

    fn measure(&mut self, frame: &Frame) -> FrameSignals {
        let t = frame.pts_s;
        let dt = match self.prev_t {
            Some(p) if t > p => (t - p).min(0.5),
            _ => 1.0 / 30.0,
        };
        self.prev_t = Some(t);
        let mut out = FrameSignals {
            index: frame.index,
            t_s: t,
            ..FrameSignals::default()
        };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let n = self.params.crop_px;

        let Some(mut pose) = self.pose else {
            if t - self.last_detect_t >= self.params.search_interval_s {
                self.last_detect_t = t;
                if let Some(b) = self.best_face(frame, None) {
                    let pose = self.track_pose(&b);
                    self.start_track(frame, pose, t);
                    out.face = Some(pose);
                    out.discontinuity = true;
                }
            }
            return out;
        };

        // Flow from the previous aligned crop to this frame sampled with the previous pose.
        self.sampler.prepare(&frame.luma, w, h, &pose, n);
        self.sampler.sample(&pose, &mut self.crop);
        normalize_contrast(&mut self.crop);
        self.cur_pyr
            .build_with_gradients(&self.crop, self.params.flow.levels);
        self.lk
            .track(&self.prev_pyr, &self.cur_pyr, &self.points, &mut self.flows);
        // The eyes also backwards in time: a closing lid is best seen from the open eye
        // before it, a reopening one from the open eye after it (a closed lid has little
        // texture to track). Both directions together measure closing and reopening alike.
        self.lk.track(
            &self.cur_pyr,
            &self.prev_pyr,
            &self.eye_point_coords,
            &mut self.back_flows,
        );
        let Some(motion) = fit_affine(
            &self.points,
            &self.flows,
            &mut self.residuals,
            &mut self.affine,
        ) else {
            // Nothing trackable (a black frame, a hand over the whole face): drop the track.
            self.pose = None;
            return out;
        };
        let residuals = std::mem::take(&mut self.residuals);
        let face_px = n as f32 / CROP_EXPAND;
        let to_pct_per_s = 100.0 / face_px / dt as f32;
        let (hx, hy) = motion.predict(n as f32 * 0.5, n as f32 * 0.5);
        out.head_speed = (hx * hx + hy * hy).sqrt() * to_pct_per_s;
        out.residual_scale = motion.residual_scale * 100.0 / face_px;
        out.reliable = out.residual_scale <= self.params.max_residual_pct
            && out.head_speed <= self.params.max_head_speed;

        let leak = (-dt / self.params.squeeze_tau_s).exp() as f32;
        let hold_leak = (-dt / self.params.hold_tau_s.max(1e-3)).exp() as f32;
        let mut halves = [[(0.0f32, 0.0f32); 2]; 2]; // [side][upper/lower] (sum dy, weight)
        let mut sq = [[0.0f32; 3]; 2];
        let mut count = [[0.0f32; 3]; 2];
        for (i, pr) in self.point_region.iter().enumerate() {
            let f = self.flows[i];
            if let Some((s, r)) = pr
                && f.weight > 0.0
            {
                let (s, r) = (s.index(), r.index());
                sq[s][r] += f.weight * residuals[i] * residuals[i];
                count[s][r] += f.weight;
            }
        }
        // Per eye half: the weighted median of vertical residual motion. A few points that
        // latch onto the wrong lid edge during a fast blink must not decide the answer.
        for b in self.half_samples.iter_mut() {
            b.clear();
        }
        for (j, &i) in self.eye_points.iter().enumerate() {
            let Some((side, region)) = self.point_region[i] else {
                continue;
            };
            let (f, b) = (self.flows[i], self.back_flows[j]);
            let (px, py) = self.points[i];
            let (_, pred_dy) = motion.predict(px, py);
            let rect = self.layout.rect(side, region);
            let half = usize::from(py >= 0.5 * (rect.y0 + rect.y1));
            let samples = &mut self.half_samples[side.index() * 2 + half];
            // Backward flow b maps this frame to the previous one: forward motion is -b.
            if f.weight > 0.0 {
                samples.push((f.dy - pred_dy, f.weight));
            }
            if b.weight > 0.0 {
                samples.push((-b.dy - pred_dy, b.weight));
            }
        }
        for (side_halves, samples) in halves.iter_mut().zip(self.half_samples.chunks_mut(2)) {
            for (half, samples) in side_halves.iter_mut().zip(samples.iter_mut()) {
                let total: f32 = samples.iter().map(|s| s.1).sum();
                *half = (weighted_median(samples) * total, total);
            }
        }
        let to_pct = 100.0 / face_px;
        for s in 0..2 {
            for r in 0..3 {
                if count[s][r] > 0.0 {
                    out.speed[s][r] = (sq[s][r] / count[s][r]).sqrt() * to_pct_per_s;
                }
            }
            // Lid closure squeezes the eye region vertically: the upper half moves down
            // relative to the lower half. Differences of neighbours cancel common drift.
            let [(up, wu), (lo, wl)] = halves[s];
            out.eye_trackable[s] = (wu.min(wl) / self.eye_half_points.max(1.0) * 0.5).min(1.0);
            if wu > 0.0 && wl > 0.0 && out.reliable {
                let mut rate = up / wu - lo / wl;
                // Steady sub-pixel biases would otherwise integrate into a standing squeeze.
                if (rate * to_pct_per_s).abs() < self.params.closure_deadband {
                    rate = 0.0;
                }
                // Never below rest: an eye opened wider says nothing about spasm, and a
                // deficit would swallow the next contraction.
                self.closure[s] = (leak * self.closure[s] + rate).max(0.0);
                self.closure_held[s] = (hold_leak * self.closure_held[s] + rate).max(0.0);
                out.closure_speed[s] = rate.max(0.0) * to_pct_per_s;
            } else {
                self.closure[s] *= leak;
                self.closure_held[s] *= hold_leak;
            }
            out.closure[s] = self.closure[s].max(0.0) * to_pct;
            out.closure_held[s] = self.closure_held[s].max(0.0) * to_pct;
        }

        self.residuals = residuals;
        pose.follow(&motion, n);
        let followed = pose;
        let mut discontinuity = false;
        // Confirmations fall on a fixed grid of media time, not an interval after the last
        // one, so that a run started anywhere confirms on the same frames as a longer one.
        let interval = self.params.face_check_interval_s.max(1e-3);
        if crosses_grid(self.last_detect_t, t, interval) {
            let reset = self.params.reset_interval_s.max(interval);
            if crosses_grid(self.last_detect_t, t, reset) {
                self.jump_due = true;
            }
            self.last_detect_t = t;
            if let Some(b) = self.best_face(frame, Some(&pose)) {
                let found = self.track_pose(&b);
                self.last_confirmed_t = t;
                let same_face = found.iou(&pose) > 0.3;
                if !same_face {
                    pose = found;
                    discontinuity = true;
                } else if self.jump_due && !self.burst_open {
                    // Not during a twitch: a jump moves the regions under it. (Told by the
                    // detector, whose open bursts two runs agree on; a threshold on a
                    // signal here would split two runs whose signals differ by a hair.)
                    pose = found;
                    self.jump_due = false;
                    // No twitch is held open by them: the remains of earlier squeezes,
                    // slowly leaking away, are history too.
                    self.closure = [0.0; 2];
                    self.closure_held = [0.0; 2];
                } else {
                    // Nudge towards the detection: small steps keep crops comparable.
                    pose.cx += 0.2 * (found.cx - pose.cx);
                    pose.cy += 0.2 * (found.cy - pose.cy);
                    pose.size += 0.2 * (found.size - pose.size);
                    pose.angle *= 0.9;
                }
            }
        }
        let off_frame = pose.cx < 0.0 || pose.cy < 0.0 || pose.cx > w as f32 || pose.cy > h as f32;
        if t - self.last_confirmed_t > self.params.lost_after_s || off_frame || pose.size < 16.0 {
            self.pose = None;
            return FrameSignals {
                index: frame.index,
                t_s: t,
                ..FrameSignals::default()
            };
        }
        if discontinuity {
            self.start_track(frame, pose, t);
            out.discontinuity = true;
            out.face = Some(pose);
            out.speed = [[0.0; 3]; 2];
            return out;
        }

        // The aligned crop for this frame: next frame's flow template and this frame's look.
        self.sampler.sample(&pose, &mut self.crop);
        normalize_contrast(&mut self.crop);
        if let Some(prev) = self.prev_pyr.levels.first() {
            // The look is compared where flow alone puts the face; a nudge towards the
            // detection is a fraction of a pixel that changes every edge's look.
            let registered = if followed != pose {
                self.sampler.sample(&followed, &mut self.look_crop);
                normalize_contrast(&mut self.look_crop);
                &self.look_crop
            } else {
                &self.crop
            };
            out.look = self.look.update(prev, registered, &self.crop, dt);
            if out.look.glasses {
                // The rims hide the lids from the flow: the look measures the squeezes.
                let sq = out.look.squeeze(&self.params.look, out.reliable, dt);
                out.closure_speed = sq.rate;
                out.closure = sq.closure;
                out.closure_held = sq.held;
            }
        }
        self.prev_pyr
            .build_with_gradients(&self.crop, self.params.flow.levels);
        for side in Side::BOTH {
            out.aperture[side.index()] =
                eye_aperture(&self.crop, &self.layout.rect(side, RegionKind::Eye));
        }
        out.aperture_valid = out.reliable;
        self.pose = Some(pose);
        out.face = Some(pose);
        out
    }

    fn start_track(&mut self, frame: &Frame, pose: FacePose, t: f64) {
        let n = self.params.crop_px;
        self.sampler.prepare(
            &frame.luma,
            frame.width as usize,
            frame.height as usize,
            &pose,
            n,
        );
        self.sampler.sample(&pose, &mut self.crop);
        normalize_contrast(&mut self.crop);
        self.prev_pyr
            .build_with_gradients(&self.crop, self.params.flow.levels);
        self.closure = [0.0; 2];
        self.closure_held = [0.0; 2];
        self.look.reset();
        self.pose = Some(pose);
        self.last_confirmed_t = t;
        // A fresh track is at the detection already.
        self.jump_due = false;
    }

    /// Where the track goes for a detected face (`MotionParams::track_offset` applied).
    fn track_pose(&self, b: &FaceBox) -> FacePose {
        let mut pose = pose_from_box(b);
        pose.cx += self.params.track_offset[0] * b.width;
        pose.cy += self.params.track_offset[1] * b.height;
        pose
    }

    /// The face to follow: the one overlapping the tracked pose, else the largest and most
    /// central one (the detector's ordering).
    fn best_face(&mut self, frame: &Frame, near: Option<&FacePose>) -> Option<FaceBox> {
        if let Some(p) = near {
            let faces = self.faces_near(frame, p);
            if let Some(b) = faces.iter().find(|b| pose_from_box(b).iou(p) > 0.3) {
                return Some(*b);
            }
        }
        let faces = self.detector.detect(&frame.luma, frame.width, frame.height);
        self.faces_in_view = faces.len() as u32;
        if let Some(p) = near {
            let best = faces
                .iter()
                .map(|b| (pose_from_box(b).iou(p), b))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((iou, b)) = best
                && iou > 0.3
            {
                return Some(*b);
            }
        }
        faces.into_iter().next()
    }

    /// `FaceDetector::detect_near` around `p`, answered by the search ahead if there was
    /// one in the same square of this frame.
    fn faces_near(&mut self, frame: &Frame, p: &FacePose) -> Vec<FaceBox> {
        let (w, h) = (frame.width, frame.height);
        let face_px = p.size / CROP_EXPAND;
        let Some(square) = NearSquare::new(w, h, p.cx, p.cy, face_px, &self.params.detector) else {
            return Vec::new();
        };
        if let Some(faces) = self
            .ahead
            .as_mut()
            .and_then(|ahead| ahead.take(frame.index, &square))
        {
            return faces;
        }
        self.detector.detect_in_frame(&square, &frame.luma, w, h)
    }
}

/// Whether a grid line of `step` seconds of media time lies in (`since`, `t`] (the grids of
/// confirmations and of the track's jumps).
fn crosses_grid(since: f64, t: f64, step: f64) -> bool {
    (t / step).floor() > (since / step).floor()
}

/// Weighted median of (value, weight) samples (reorders them); 0 when empty.
pub fn weighted_median(samples: &mut [(f32, f32)]) -> f32 {
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f32 = samples.iter().map(|s| s.1).sum();
    let mut acc = 0.0;
    for &(v, w) in samples.iter() {
        acc += w;
        if acc >= 0.5 * total {
            return v;
        }
    }
    0.0
}

/// How open an eye looks, from the face-aligned, contrast-normalised crop: the mean
/// absolute horizontal grey-level step (`|I(x+1) - I(x-1)|`) over the band of the eye
/// region where the eye lies (`APERTURE_BAND`: below the brow, above the cheek), grey levels
/// per 2 pixels. An open eye's iris and sclera make vertical edges as tall as the opening; a
/// closing lid covers them with skin, whose lid margin, crease and the brow are nearly
/// horizontal and hardly count. So the value falls as the aperture narrows, both eyes alike
/// in a blink or a look down. What else has vertical edges in the band (eye corners, brow
/// ends, glasses' rims) stays and dilutes it (docs/severity.md has its calibration).
/// Meaningful only against the same eye's usual value (`severity`).
pub fn eye_aperture(crop: &Plane, eye: &Rect) -> f32 {
    let (n, _) = crop.dim();
    let (h, w) = (eye.y1 - eye.y0, eye.x1 - eye.x0);
    let clampi = |v: f32, lo: usize, hi: usize| (v.max(0.0) as usize).clamp(lo, hi);
    let y0 = clampi(eye.y0 + APERTURE_BAND[0] * h, 0, n);
    let y1 = clampi(eye.y0 + APERTURE_BAND[1] * h, y0, n);
    let x0 = clampi(eye.x0 + 0.03 * w, 1, n.saturating_sub(1));
    let x1 = clampi(eye.x1 - 0.03 * w, x0, n.saturating_sub(1));
    let mut sum = 0.0f32;
    for y in y0..y1 {
        let row = crop.row(y);
        for x in x0..x1 {
            sum += (row[x + 1] - row[x - 1]).abs();
        }
    }
    sum / ((y1 - y0) * (x1 - x0)).max(1) as f32
}

/// The rows of the eye region `eye_aperture` looks at, as fractions of its height from the
/// top (the region reaches up over the brow and down onto the cheek).
pub const APERTURE_BAND: [f32; 2] = [0.4, 0.92];

/// Maps a crop to mean 128 and standard deviation 40: flow assumes brightness constancy,
/// and lighting flicker, auto-exposure and gain changes would otherwise read as motion.
pub fn normalize_contrast(crop: &mut Plane) {
    let n = crop.len().max(1) as f32;
    let mean = crop.sum() / n;
    let var = crop.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    // A floor keeps a black or flat frame from blowing noise up.
    let gain = 40.0 / var.sqrt().max(2.0);
    crop.mapv_inplace(|v| 128.0 + (v - mean) * gain);
}

/// The crop square around a detector box (square, centred, enlarged by `CROP_EXPAND`).
pub fn pose_from_box(b: &FaceBox) -> FacePose {
    FacePose {
        cx: b.x + b.width * 0.5,
        cy: b.y + b.height * 0.5,
        size: b.width.max(b.height) * CROP_EXPAND,
        angle: 0.0,
    }
}
