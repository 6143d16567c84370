//! Per-frame measurement: finds and tracks the face, measures optical flow in a face-aligned
//! crop, removes the head's own motion, and reports per-region motion on each of the
//! person's sides.
//!
//! Input: `Frame`s in order. Output: one `FrameSignals` per frame. Thread: analysis.

use crate::anatomy::{RegionKind, Side};
use crate::face::detector::{DetectorParams, FaceBox, FaceDetector};
use crate::face::regions::{CROP_EXPAND, RegionLayout};
use crate::face::track::{FacePose, sample_crop};
use crate::flow::{FlowParams, FlowVec, LucasKanade, Plane, Pyramid, fit_affine};
use crate::source::Frame;

/// Measurement parameters. Times in seconds of media time, sizes in crop pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionParams {
    /// Side of the face-aligned crop. Motion is measured at this resolution whatever the
    /// face's size in the frame, which makes cost and units independent of it.
    pub crop_px: usize,
    /// Spacing of the flow grid.
    pub grid_step: usize,
    /// How often to re-run the face detector while tracking.
    pub detect_interval_s: f64,
    /// How often to try the detector while no face is tracked.
    pub search_interval_s: f64,
    /// With no detection confirming the tracked face for this long, the face counts as lost.
    pub lost_after_s: f64,
    /// Time constant of the neutral appearance reference each region is compared with.
    pub reference_tau_s: f64,
    /// The view is a selfie mirror: the person's left is on the image's left.
    pub mirrored: bool,
    pub flow: FlowParams,
    pub detector: DetectorParams,
}

impl Default for MotionParams {
    fn default() -> Self {
        Self {
            crop_px: 96,
            grid_step: 3,
            detect_interval_s: 0.5,
            search_interval_s: 0.2,
            lost_after_s: 1.0,
            reference_tau_s: 1.5,
            mirrored: false,
            flow: FlowParams::default(),
            detector: DetectorParams::default(),
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
    /// Change of appearance from the region's recent neutral look: mean absolute
    /// difference of contrast-normalised pixels (0 = same, ~1.1 = unrelated).
    pub change: [[f32; 3]; 2],
    /// Speed of the head's own motion at the face centre, percent of face width per second.
    pub head_speed: f32,
    /// Robust scale of flow residuals over the whole face (crop px per frame).
    pub residual_scale: f32,
}

/// The measurement stage's state, kept across frames.
pub struct MotionAnalyzer {
    params: MotionParams,
    detector: FaceDetector,
    layout: RegionLayout,
    lk: LucasKanade,
    points: Vec<(f32, f32)>,
    /// For each grid point, the (side, region) it lies in.
    point_region: Vec<Option<(Side, RegionKind)>>,
    flows: Vec<FlowVec>,
    scratch: Vec<f32>,
    crop: Plane,
    prev_pyr: Pyramid,
    cur_pyr: Pyramid,
    reference: Plane,
    pose: Option<FacePose>,
    last_confirmed_t: f64,
    last_detect_t: f64,
    prev_t: Option<f64>,
}

impl MotionAnalyzer {
    pub fn new(params: MotionParams) -> Self {
        let n = params.crop_px;
        let layout = RegionLayout::new(n, params.mirrored);
        let mut points = vec![];
        let step = params.grid_step.max(1);
        let margin = (n as f32 * 0.04) as usize;
        for y in (margin..n - margin).step_by(step) {
            for x in (margin..n - margin).step_by(step) {
                points.push((x as f32, y as f32));
            }
        }
        let point_region = points.iter().map(|&(x, y)| layout.locate(x, y)).collect();
        let flows = vec![FlowVec::default(); points.len()];
        Self {
            detector: FaceDetector::new(params.detector.clone()),
            lk: LucasKanade::new(params.flow.clone()),
            layout,
            points,
            point_region,
            flows,
            scratch: vec![],
            crop: Plane::zeros((n, n)),
            prev_pyr: Pyramid::default(),
            cur_pyr: Pyramid::default(),
            reference: Plane::zeros((n, n)),
            pose: None,
            last_confirmed_t: f64::NEG_INFINITY,
            last_detect_t: f64::NEG_INFINITY,
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

    /// Measures one frame.
    pub fn process(&mut self, frame: &Frame) -> FrameSignals {
        let t = frame.pts_s;
        let dt = match self.prev_t {
            Some(p) if t > p => (t - p).min(0.5),
            _ => 1.0 / 30.0,
        };
        self.prev_t = Some(t);
        let mut out = FrameSignals { index: frame.index, t_s: t, ..FrameSignals::default() };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let n = self.params.crop_px;

        let Some(mut pose) = self.pose else {
            if t - self.last_detect_t >= self.params.search_interval_s {
                self.last_detect_t = t;
                if let Some(b) = self.best_face(frame, None) {
                    let pose = pose_from_box(&b);
                    self.start_track(frame, pose, t);
                    out.face = Some(pose);
                    out.discontinuity = true;
                }
            }
            return out;
        };

        // Flow from the previous aligned crop to this frame sampled with the previous pose.
        sample_crop(&frame.luma, w, h, &pose, &mut self.crop);
        self.cur_pyr.build(&self.crop, self.params.flow.levels);
        self.lk.track(&self.prev_pyr, &self.cur_pyr, &self.points, &mut self.flows);
        let Some(motion) = fit_affine(&self.points, &self.flows, &mut self.scratch) else {
            // Nothing trackable (a black frame, a hand over the whole face): drop the track.
            self.pose = None;
            return out;
        };
        let residuals = &self.scratch;
        let face_px = n as f32 / CROP_EXPAND;
        let to_pct_per_s = 100.0 / face_px / dt as f32;
        let (hx, hy) = motion.predict(n as f32 * 0.5, n as f32 * 0.5);
        out.head_speed = (hx * hx + hy * hy).sqrt() * to_pct_per_s;
        out.residual_scale = motion.residual_scale;

        let mut sum = [[0.0f32; 3]; 2];
        let mut count = [[0.0f32; 3]; 2];
        for (i, pr) in self.point_region.iter().enumerate() {
            if let Some((s, r)) = pr {
                let wgt = self.flows[i].weight;
                if wgt > 0.0 {
                    sum[s.index()][r.index()] += wgt * residuals[i] * residuals[i];
                    count[s.index()][r.index()] += wgt;
                }
            }
        }
        for s in 0..2 {
            for r in 0..3 {
                if count[s][r] > 0.0 {
                    out.speed[s][r] = (sum[s][r] / count[s][r]).sqrt() * to_pct_per_s;
                }
            }
        }

        pose.follow(&motion, n);
        let mut discontinuity = false;
        if t - self.last_detect_t >= self.params.detect_interval_s {
            self.last_detect_t = t;
            if let Some(b) = self.best_face(frame, Some(&pose)) {
                let found = pose_from_box(&b);
                if found.iou(&pose) > 0.3 {
                    // Nudge towards the detection: small steps keep crops comparable.
                    pose.cx += 0.2 * (found.cx - pose.cx);
                    pose.cy += 0.2 * (found.cy - pose.cy);
                    pose.size += 0.2 * (found.size - pose.size);
                    pose.angle *= 0.9;
                    self.last_confirmed_t = t;
                } else {
                    pose = found;
                    discontinuity = true;
                    self.last_confirmed_t = t;
                }
            }
        }
        let off_frame = pose.cx < 0.0 || pose.cy < 0.0 || pose.cx > w as f32 || pose.cy > h as f32;
        if t - self.last_confirmed_t > self.params.lost_after_s || off_frame || pose.size < 16.0 {
            self.pose = None;
            return FrameSignals { index: frame.index, t_s: t, ..FrameSignals::default() };
        }
        if discontinuity {
            self.start_track(frame, pose, t);
            out.discontinuity = true;
            out.face = Some(pose);
            out.speed = [[0.0; 3]; 2];
            return out;
        }

        // The aligned crop for this frame: next frame's flow template and this frame's look.
        sample_crop(&frame.luma, w, h, &pose, &mut self.crop);
        self.prev_pyr.build(&self.crop, self.params.flow.levels);
        out.change = self.appearance_change();
        let alpha = (dt / self.params.reference_tau_s).min(1.0) as f32;
        self.update_reference(alpha, &out.change);
        self.pose = Some(pose);
        out.face = Some(pose);
        out
    }

    fn start_track(&mut self, frame: &Frame, pose: FacePose, t: f64) {
        sample_crop(&frame.luma, frame.width as usize, frame.height as usize, &pose, &mut self.crop);
        self.prev_pyr.build(&self.crop, self.params.flow.levels);
        self.reference.assign(&self.crop);
        self.pose = Some(pose);
        self.last_confirmed_t = t;
    }

    /// The face to follow: the one overlapping the tracked pose, else the largest and most
    /// central one (the detector's ordering).
    fn best_face(&mut self, frame: &Frame, near: Option<&FacePose>) -> Option<FaceBox> {
        let faces = self.detector.detect(&frame.luma, frame.width, frame.height);
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

    /// Per region: mean |a - r| of the current crop and the reference after normalising each
    /// to zero mean and unit contrast (so lighting changes cancel).
    fn appearance_change(&self) -> [[f32; 3]; 2] {
        let mut out = [[0.0f32; 3]; 2];
        let n = self.params.crop_px;
        let a = self.crop.as_slice().expect("contiguous");
        let r = self.reference.as_slice().expect("contiguous");
        for side in Side::BOTH {
            for region in RegionKind::ALL {
                let rect = self.layout.rect(side, region);
                let (x0, x1) = (rect.x0.max(0.0) as usize, (rect.x1 as usize).min(n));
                let (y0, y1) = (rect.y0.max(0.0) as usize, (rect.y1 as usize).min(n));
                if x1 <= x0 || y1 <= y0 {
                    continue;
                }
                let cnt = ((x1 - x0) * (y1 - y0)) as f32;
                let (mut sa, mut sr, mut saa, mut srr) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
                for y in y0..y1 {
                    for x in x0..x1 {
                        let (va, vr) = (a[y * n + x], r[y * n + x]);
                        sa += va;
                        sr += vr;
                        saa += va * va;
                        srr += vr * vr;
                    }
                }
                let (ma, mr) = (sa / cnt, sr / cnt);
                // A contrast floor stops flat dark regions (low light) amplifying noise.
                let da = (saa / cnt - ma * ma).max(0.0).sqrt().max(4.0);
                let dr = (srr / cnt - mr * mr).max(0.0).sqrt().max(4.0);
                let mut diff = 0.0f32;
                for y in y0..y1 {
                    for x in x0..x1 {
                        diff += ((a[y * n + x] - ma) / da - (r[y * n + x] - mr) / dr).abs();
                    }
                }
                out[side.index()][region.index()] = diff / cnt;
            }
        }
        out
    }

    /// Moves the neutral reference towards the current crop, region by region: quickly
    /// while a region looks neutral, slowly while it is changed (a held squeeze must not
    /// become the new neutral within seconds, but a lasting pose change eventually does).
    fn update_reference(&mut self, alpha: f32, change: &[[f32; 3]; 2]) {
        let n = self.params.crop_px;
        let mut rate = vec![alpha; n * n];
        for side in Side::BOTH {
            for region in RegionKind::ALL {
                let c = change[side.index()][region.index()];
                if c > 0.25 {
                    let rect = self.layout.rect(side, region);
                    let slow = alpha * 0.1;
                    for y in (rect.y0.max(0.0) as usize)..(rect.y1 as usize).min(n) {
                        for x in (rect.x0.max(0.0) as usize)..(rect.x1 as usize).min(n) {
                            rate[y * n + x] = slow;
                        }
                    }
                }
            }
        }
        let a = self.crop.as_slice().expect("contiguous");
        let r = self.reference.as_slice_mut().expect("contiguous");
        for i in 0..n * n {
            r[i] += rate[i] * (a[i] - r[i]);
        }
    }
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
