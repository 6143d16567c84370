//! The face tracker's policy: acquire a face, confirm it on a fixed grid of media time,
//! nudge the track towards each confirmation or jump onto it, lose the face, and search
//! ahead for the confirmations due in frames read early (`ahead`). The flow that moves the
//! track between confirmations is measured by the caller (`measure::motion`), which hands
//! the followed pose to `confirm`.
//!
//! Input: frames, the pose the flow followed, and whether a burst is open (the track does
//! not jump during a twitch). Output: the pose to measure this frame with, and what became
//! of the track (`Confirmed`). Thread: analysis (searches ahead on `ahead`'s thread).

use crate::analysis::capture::Chore;
use crate::analysis::face::ahead::{AheadCounts, ConfirmAhead};
use crate::analysis::face::detector::{DetectorParams, FaceBox, FaceDetector, NearSquare};
use crate::analysis::face::regions::CROP_EXPAND;
use crate::analysis::face::track::FacePose;
use crate::source::Frame;
use crossbeam_channel::Receiver;

/// How the face is followed. Times in seconds of media time; the same meanings as the
/// fields of `MotionParams` they come from (`TrackerParams::from`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerParams {
    pub detector: DetectorParams,
    /// Confirmations at every multiple of this while tracking.
    pub face_check_interval_s: f64,
    /// Searches this often while no face is tracked.
    pub search_interval_s: f64,
    /// Unconfirmed this long, the face counts as lost.
    pub lost_after_s: f64,
    /// Jumps onto the detection at the first confirmation after each multiple of this,
    /// outside a twitch.
    pub reset_interval_s: f64,
    /// Track offset from the detection, shares of the face box (x right, y down).
    pub track_offset: [f32; 2],
}

/// What `FaceTracker::confirm` made of the followed pose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Confirmed {
    /// The same face, where the flow put it or nudged towards a detection.
    Kept(FacePose),
    /// The same face, the track moved onto the detection: what was accumulated under the old
    /// position (the eyes' squeeze) is history.
    Jumped(FacePose),
    /// Another face (or the same one far away): a fresh track starts here.
    NewFace(FacePose),
    /// No face any more (unconfirmed too long, off the frame, too small).
    Lost,
}

/// The tracked face between frames and the detector that confirms it.
pub struct FaceTracker {
    params: TrackerParams,
    detector: FaceDetector,
    /// Confirmations searched ahead elsewhere (`confirm_ahead`, `confirm_ahead_on_capture`,
    /// `search_ahead`).
    ahead: Option<ConfirmAhead>,
    /// Media time of the last frame `search_ahead` saw.
    ahead_t: f64,
    pose: Option<FacePose>,
    last_confirmed_t: f64,
    last_detect_t: f64,
    /// A grid line of `reset_interval_s` has passed: jump at the next confirmation outside
    /// a twitch.
    jump_due: bool,
    /// Faces seen by the last whole-frame detection, until taken.
    faces_in_view: u32,
}

impl FaceTracker {
    pub fn new(params: TrackerParams) -> Self {
        Self {
            detector: FaceDetector::new(params.detector.clone()),
            ahead: None,
            ahead_t: f64::NEG_INFINITY,
            pose: None,
            last_confirmed_t: f64::NEG_INFINITY,
            last_detect_t: f64::NEG_INFINITY,
            jump_due: false,
            faces_in_view: 0,
            params,
        }
    }

    /// The tracked face, if any.
    pub fn pose(&self) -> Option<FacePose> {
        self.pose
    }

    /// Forgets the tracked face: the next frames search for it afresh.
    pub fn reset(&mut self) {
        self.pose = None;
        self.last_detect_t = f64::NEG_INFINITY;
    }

    /// Drops the track (nothing in the crop could be followed).
    pub fn lose(&mut self) {
        self.pose = None;
    }

    /// Faces the last whole-frame search saw since the previous call (0 if none ran).
    pub fn take_faces_in_view(&mut self) -> u32 {
        std::mem::take(&mut self.faces_in_view)
    }

    /// Searches for the face ahead of time from now on, on a thread of its own, for the
    /// frames shown to `search_ahead` (the same results; sooner with a core to spare).
    pub fn confirm_ahead(&mut self) -> std::io::Result<()> {
        if self.ahead.is_none() {
            self.ahead = Some(ConfirmAhead::spawn(self.params.detector.clone())?);
        }
        Ok(())
    }

    /// Searches for the face ahead of time from now on, for the frames shown to
    /// `search_ahead`, as chores on the returned queue: for the capture thread to do while
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

    /// A frame that will be measured a few frames from now, in order. If it is the first of
    /// a confirmation interval (`face_check_interval_s`), the face is searched for in it
    /// now, around where the face is tracked now, so that the answer is ready when it
    /// comes to be confirmed (used only if its search square is still the same then).
    pub fn search_ahead(&mut self, frame: &Frame) {
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

    /// With no face tracked: searches the whole frame when a search is due. The face found
    /// is where a new track should start (`start`).
    pub fn acquire(&mut self, frame: &Frame) -> Option<FacePose> {
        let t = frame.pts_s;
        if t - self.last_detect_t >= self.params.search_interval_s {
            self.last_detect_t = t;
            let b = self.best_face(frame, None)?;
            return Some(self.track_pose(&b));
        }
        None
    }

    /// A track starts at `pose` (a detection) at media time `t`.
    pub fn start(&mut self, pose: FacePose, t: f64) {
        self.pose = Some(pose);
        self.last_confirmed_t = t;
        // A fresh track is at the detection already.
        self.jump_due = false;
    }

    /// The pose the flow `followed` this frame, checked against the detector when a
    /// confirmation is due (on a fixed grid of media time, so that a run started anywhere
    /// confirms on the same frames as a longer one). `burst_open`: the burst detector has a
    /// twitch open, so the track must not jump (a jump moves the regions under it; told by
    /// the detector, whose open bursts two runs agree on, since a threshold on a signal here
    /// would split two runs whose signals differ by a hair). A new face starts its track
    /// here; the kept or jumped pose is the tracked one from now on.
    pub fn confirm(&mut self, frame: &Frame, followed: FacePose, burst_open: bool) -> Confirmed {
        let t = frame.pts_s;
        let mut pose = followed;
        let mut new_face = false;
        let mut jumped = false;
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
                    new_face = true;
                } else if self.jump_due && !burst_open {
                    pose = found;
                    self.jump_due = false;
                    jumped = true;
                } else {
                    // Nudge towards the detection: small steps keep crops comparable.
                    pose.cx += 0.2 * (found.cx - pose.cx);
                    pose.cy += 0.2 * (found.cy - pose.cy);
                    pose.size += 0.2 * (found.size - pose.size);
                    pose.angle *= 0.9;
                }
            }
        }
        let (w, h) = (frame.width as f32, frame.height as f32);
        let off_frame = pose.cx < 0.0 || pose.cy < 0.0 || pose.cx > w || pose.cy > h;
        if t - self.last_confirmed_t > self.params.lost_after_s || off_frame || pose.size < 16.0 {
            self.pose = None;
            return Confirmed::Lost;
        }
        if new_face {
            self.start(pose, t);
            return Confirmed::NewFace(pose);
        }
        self.pose = Some(pose);
        if jumped {
            Confirmed::Jumped(pose)
        } else {
            Confirmed::Kept(pose)
        }
    }

    /// Where the track goes for a detected face (`track_offset` applied).
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

/// The crop square around a detector box (square, centred, enlarged by `CROP_EXPAND`).
pub fn pose_from_box(b: &FaceBox) -> FacePose {
    FacePose {
        cx: b.x + b.width * 0.5,
        cy: b.y + b.height * 0.5,
        size: b.width.max(b.height) * CROP_EXPAND,
        angle: 0.0,
    }
}
