//! Per-frame measurement, read straight through in `MotionAnalyzer::measure`: the face-aligned
//! crop where the tracker (`face::tracker`) puts the face → optical flow → the head's own
//! motion (affine fit) → per-region motion on each of the person's sides → eye closure →
//! the eyes' look (`eyes`).
//!
//! Input: `Frame`s in order, and whether a burst is open (for the tracker). Output: one
//! `FrameSignals` per frame. Thread: analysis.

use crate::analysis::anatomy::{RegionKind, Side};
use crate::analysis::face::detector::DetectorParams;
use crate::analysis::face::regions::{CROP_EXPAND, Rect, RegionLayout};
use crate::analysis::face::track::{CropSampler, FacePose};
use crate::analysis::face::tracker::{Confirmed, FaceTracker, TrackerParams};
use crate::analysis::flow::{
    AffineScratch, FlowParams, FlowVec, LucasKanade, Plane, Pyramid, fit_affine,
};
use crate::analysis::measure::eyes::{EyeLook, LookParams, LookSignals};
use crate::source::Frame;

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
    /// Where the eye region's upper half (brow and upper lid) ends and its lower half (lower
    /// lid and the skin below) begins, as a share of the region's height from its top. The
    /// squeeze is the upper half moving down against the lower half, so the split belongs
    /// at the eye's line: above it, a descending upper lid falls in the lower half and a
    /// closing eye reads as opening. The eye's line lies at about 0.6-0.7 of the region;
    /// at 0.6 the lower half keeps the grid's three lowest rows (`docs/sensitivity.md`).
    pub eye_split: f32,
    /// Squeeze rates below this (percent of face width per second) count as none.
    pub closure_deadband: f32,
    /// Squeeze rates faster than this (either way, % fw per second) are taken as a lost
    /// track, not as lid motion: the frame adds nothing to the squeeze. Twitches measured
    /// up to 141 (samples and their lossy copies; the strongest synthetic ones 103); in a
    /// lossy copy of a sample one blink frame read 211, and the missed reopening after it
    /// held a burst open for seconds (`docs/recordings.md`).
    pub max_lid_speed: f32,
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

impl From<&MotionParams> for TrackerParams {
    fn from(p: &MotionParams) -> Self {
        Self {
            detector: p.detector.clone(),
            face_check_interval_s: p.face_check_interval_s,
            search_interval_s: p.search_interval_s,
            lost_after_s: p.lost_after_s,
            reset_interval_s: p.reset_interval_s,
            track_offset: p.track_offset,
        }
    }
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
            eye_split: 0.6,
            closure_deadband: 3.0,
            max_lid_speed: 180.0,
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
    /// Where the face is: acquired, confirmed, nudged or jumped, lost.
    tracker: FaceTracker,
    layout: RegionLayout,
    lk: LucasKanade,
    points: Vec<(f32, f32)>,
    /// For each grid point, the (side, region) it lies in.
    point_region: Vec<Option<(Side, RegionKind)>>,
    flows: Vec<FlowVec>,
    /// Indices (into `points`) of the points inside either eye region, and their flow
    /// measured backwards in time (current frame to previous).
    eye_points: Vec<usize>,
    /// Scratch: (vertical residual, weight) samples per [side * 2 + half] of the eyes.
    half_samples: [Vec<(f32, f32)>; 4],
    /// Grid points in the smaller half of one eye (for normalising `eye_trackable`).
    eye_half_points: f32,
    /// Per entry of `eye_points`: 0 in the upper half of its eye region, 1 in the lower.
    eye_point_half: Vec<usize>,
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
        // Which half of its eye region each eye point is in: 0 upper, 1 lower. Both eyes'
        // regions span the same rows.
        let split_y = eye_rects[0].y0 + params.eye_split * (eye_rects[0].y1 - eye_rects[0].y0);
        let eye_point_half: Vec<usize> = eye_point_coords
            .iter()
            .map(|&(_, y)| usize::from(y >= split_y))
            .collect();
        let lower = eye_point_half.iter().sum::<usize>();
        let eye_half_points = lower.min(eye_points.len() - lower) as f32 / 2.0;
        let back_flows = vec![FlowVec::default(); eye_points.len()];
        let flows = vec![FlowVec::default(); points.len()];
        Self {
            tracker: FaceTracker::new(TrackerParams::from(&params)),
            lk: LucasKanade::new(params.flow.clone()),
            layout,
            points,
            point_region,
            flows,
            eye_half_points,
            eye_point_half,
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
        self.tracker.reset();
        self.prev_t = None;
    }

    /// The face tracker (to search ahead, or to ask how that went).
    pub fn tracker(&mut self) -> &mut FaceTracker {
        &mut self.tracker
    }

    /// Measures one frame. `burst_open`: the burst detector has a twitch open before this
    /// frame, so the track does not jump onto a detection (`MotionParams::reset_interval_s`).
    pub fn process(&mut self, frame: &Frame, burst_open: bool) -> FrameSignals {
        let mut out = self.measure(frame, burst_open);
        out.faces_in_view = self.tracker.take_faces_in_view();
        out
    }

    /// Crop → flow → head motion → region signals → eye closure → eye look, with the
    /// tracker placing the crop.
    fn measure(&mut self, frame: &Frame, burst_open: bool) -> FrameSignals {
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

        let Some(mut pose) = self.tracker.pose() else {
            if let Some(pose) = self.tracker.acquire(frame) {
                self.start_track(frame, pose, t);
                out.face = Some(pose);
                out.discontinuity = true;
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
            self.tracker.lose();
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
            let Some((side, _)) = self.point_region[i] else {
                continue;
            };
            let (f, b) = (self.flows[i], self.back_flows[j]);
            let (px, py) = self.points[i];
            let (_, pred_dy) = motion.predict(px, py);
            let half = self.eye_point_half[j];
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
            // Faster than a lid moves: the track slipped (a blink's lid edge taken for the
            // skin's), and the frame says nothing about the squeeze.
            let measured = (wu > 0.0 && wl > 0.0 && out.reliable)
                .then(|| up / wu - lo / wl)
                .filter(|rate| (rate * to_pct_per_s).abs() <= self.params.max_lid_speed);
            if let Some(mut rate) = measured {
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
        let pose = match self.tracker.confirm(frame, pose, burst_open) {
            Confirmed::Kept(pose) => pose,
            Confirmed::Jumped(pose) => {
                // No twitch is held open by them: the remains of earlier squeezes, slowly
                // leaking away, are history too.
                self.closure = [0.0; 2];
                self.closure_held = [0.0; 2];
                pose
            }
            Confirmed::NewFace(pose) => {
                self.start_track(frame, pose, t);
                out.discontinuity = true;
                out.face = Some(pose);
                out.speed = [[0.0; 3]; 2];
                return out;
            }
            Confirmed::Lost => {
                return FrameSignals {
                    index: frame.index,
                    t_s: t,
                    ..FrameSignals::default()
                };
            }
        };

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
        self.tracker.start(pose, t);
    }
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
