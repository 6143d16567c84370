//! The eyes' look, for faces whose glasses hide the lids from the flow: whether glasses are
//! worn, and per eye how fast and how far its look moves away from its recent look. The
//! look's change also serves the blink test for every face (`BurstParams::blink_look_share`).
//!
//! Input: consecutive face-aligned crops and the eye rectangles. Output: `LookSignals` per
//! frame. Thread: analysis.
//!
//! Why: a glasses rim is a strong edge fixed to the head a few crop pixels from the lids.
//! Nearly every flow window that sees a lid also sees a rim, and the rim wins: the flow
//! reads a squeezing lid as still (or even as opening). What the squeeze does change is the
//! look inside the lens: lid skin covers the white of the eye and the iris. Counted as change
//! that small motion cannot explain (each pixel's difference less `slack_px` times its
//! gradient), the rims and the head's leftover motion hardly count.

use crate::analysis::anatomy::Side;
use crate::analysis::face::regions::Rect;
use crate::analysis::flow::{Plane, median};

/// Parameters. Grey levels are those of the contrast-normalised crop (mean 128, standard
/// deviation 40), pixels crop pixels, times seconds of media time.
#[derive(Debug, Clone, PartialEq)]
pub struct LookParams {
    /// Glasses are worn when, over `glasses_frames` frames in a row (median), both the
    /// bridge and the rims show: the darkest thin horizontal line in the band between the
    /// eyes at least `bridge_contrast` darker than the rows 3 px above and below, and in
    /// the lower part of both eye regions at least `rim_contrast`. Measured: bare faces
    /// reach at most 0.55 of these together (a head turn brings an eye into the band, a
    /// lower lid or an eye bag darkens below the eye, never both at once); the synthetic
    /// glasses 1-2.7.
    pub bridge_contrast: f32,
    pub rim_contrast: f32,
    pub glasses_frames: usize,
    /// Misregistration that look changes may come from, crop pixels: a pixel's change
    /// counts only beyond this times its gradient.
    pub slack_px: f32,
    /// How fast each eye's reference look follows its current look, seconds: the same
    /// leaks as the flow's squeeze (`MotionParams::squeeze_tau_s` and `hold_tau_s`).
    pub tau_s: f64,
    pub hold_tau_s: f64,
    /// Look change to squeeze rate: the detector's thresholds are in percent of the face's
    /// width per second, and this many of them stand for one grey level per second of
    /// unexplained change. With 0.3, a twitch under glasses (3-10 grey levels a frame at
    /// 30 fps) reads 27-90, as twitches do in the flow; blinks' other eye reads alike.
    pub rate_per_level: f32,
    /// Look distance to squeeze: percent of face width per grey level.
    pub squeeze_per_level: f32,
}

impl Default for LookParams {
    fn default() -> Self {
        Self {
            bridge_contrast: 30.0,
            rim_contrast: 25.0,
            glasses_frames: 15,
            slack_px: 0.5,
            tau_s: 2.0,
            hold_tau_s: 5.0,
            rate_per_level: 0.3,
            squeeze_per_level: 1.0,
        }
    }
}

/// One frame's look measures, `[side.index()]` with sides the person's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LookSignals {
    /// This frame's bridge and rim contrasts (grey levels; see `LookParams`).
    pub bridge: f32,
    pub rim: f32,
    /// Glasses are worn (from the bridge and rims so far in this track).
    pub glasses: bool,
    /// Unexplained change of each eye's look since the previous frame, grey levels. Always
    /// measured: the blink test compares the eyes by it (`BurstParams::blink_look_share`).
    pub change: [f32; 2],
    /// Only with glasses (0 otherwise): unexplained difference from the eye's reference
    /// look, with the fast and the slow reference (grey levels).
    pub away: [f32; 2],
    pub away_held: [f32; 2],
}

/// Squeeze measures in the flow's units (`FrameSignals::closure_speed`, `closure`,
/// `closure_held`), taken from the look.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LookSqueeze {
    pub rate: [f32; 2],
    pub closure: [f32; 2],
    pub held: [f32; 2],
}

impl LookSignals {
    /// The squeezes as the detector wants them. The rate is the eye's own look change (so
    /// that the blink test sees the other eye close). The squeeze is how much further one
    /// eye's look has moved from its reference than the other's: a change of light or pose
    /// moves both looks, a twitch one. `reliable` as `FrameSignals::reliable`: without it
    /// there is no rate, as with the flow.
    pub fn squeeze(&self, p: &LookParams, reliable: bool, dt: f64) -> LookSqueeze {
        let mut out = LookSqueeze::default();
        for s in 0..2 {
            if reliable {
                out.rate[s] = self.change[s] / dt.max(1e-3) as f32 * p.rate_per_level;
            }
            out.closure[s] = (self.away[s] - self.away[1 - s]).max(0.0) * p.squeeze_per_level;
            out.held[s] =
                (self.away_held[s] - self.away_held[1 - s]).max(0.0) * p.squeeze_per_level;
        }
        out
    }
}

/// State across frames: whether this track wears glasses, recent glasses evidence and
/// the reference looks of both eyes.
#[derive(Debug)]
pub struct EyeLook {
    params: LookParams,
    rects: [Rect; 2],
    glasses: bool,
    /// Recent frames' glasses evidence: the weaker of bridge and rims against their
    /// thresholds (1 = both just at them).
    evidence: std::collections::VecDeque<f32>,
    /// `[side][fast, slow]`, each the eye rectangle's pixels row by row.
    refs: [[Vec<f32>; 2]; 2],
    scratch: Vec<f32>,
}

impl EyeLook {
    pub fn new(params: LookParams, eye_rects: [Rect; 2]) -> Self {
        Self {
            params,
            rects: eye_rects,
            glasses: false,
            evidence: Default::default(),
            refs: Default::default(),
            scratch: vec![],
        }
    }

    /// Starts afresh (a new track: maybe someone else, maybe without glasses).
    pub fn reset(&mut self) {
        self.glasses = false;
        self.evidence.clear();
        self.refs = Default::default();
    }

    /// Measures this frame's look against `prev` (the previous frame's aligned crop) and the
    /// references, then lets the references follow. `registered` is this frame's crop where
    /// flow alone puts the face, `cur` the one after any nudge of the track towards a
    /// detection (the same crop when there was none): the references are carried through
    /// the nudge, which would otherwise change the look of every edge. `dt` is the frame's
    /// duration.
    pub fn update(
        &mut self,
        prev: &Plane,
        registered: &Plane,
        cur: &Plane,
        dt: f64,
    ) -> LookSignals {
        let p = &self.params;
        let mut out = LookSignals {
            bridge: bridge_contrast(cur, &self.rects),
            rim: rim_contrast(cur, &self.rects),
            ..LookSignals::default()
        };
        // Once both have shown for most of a window, the track wears glasses until it ends:
        // a head turn that hides the bridge for a moment must not switch measures.
        if !self.glasses {
            let score = (out.bridge / p.bridge_contrast).min(out.rim / p.rim_contrast);
            self.evidence.push_back(score);
            while self.evidence.len() > p.glasses_frames.max(1) {
                self.evidence.pop_front();
            }
            if self.evidence.len() >= p.glasses_frames.max(1) {
                self.scratch.clear();
                self.scratch.extend(self.evidence.iter().copied());
                if median(&mut self.scratch) >= 1.0 {
                    self.glasses = true;
                    for side in Side::BOTH {
                        let look = pixels(registered, &self.rects[side.index()]);
                        self.refs[side.index()] = [look.clone(), look];
                    }
                }
            }
        }
        out.glasses = self.glasses;
        let alphas = [p.tau_s, p.hold_tau_s].map(|tau| 1.0 - (-dt / tau.max(1e-3)).exp() as f32);
        let (n, _) = cur.dim();
        for side in Side::BOTH {
            let i = side.index();
            let r = &self.rects[i];
            let (mut change, mut away, mut held, mut count) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            let [fast, slow] = &mut self.refs[i];
            // Without glasses there are no references (empty): only the change is measured.
            let mut refs = fast.iter_mut().zip(slow.iter_mut());
            for y in rows(r, n) {
                for x in cols(r, n) {
                    let c = registered[[y, x]];
                    let slack = p.slack_px * gradient(registered, x, y);
                    let unexplained = |d: f32| (d.abs() - slack).max(0.0);
                    change += unexplained(c - prev[[y, x]]);
                    count += 1.0;
                    if let Some((f, s)) = refs.next() {
                        away += unexplained(c - *f);
                        held += unexplained(c - *s);
                        let nudge = cur[[y, x]] - c;
                        *f += alphas[0] * (c - *f) + nudge;
                        *s += alphas[1] * (c - *s) + nudge;
                    }
                }
            }
            let count = count.max(1.0);
            out.change[i] = change / count;
            out.away[i] = away / count;
            out.away_held[i] = held / count;
        }
        out
    }
}

fn rows(r: &Rect, n: usize) -> std::ops::Range<usize> {
    (r.y0.max(0.0).ceil() as usize).min(n)..(r.y1.max(0.0) as usize).min(n)
}

fn cols(r: &Rect, n: usize) -> std::ops::Range<usize> {
    (r.x0.max(0.0).ceil() as usize).min(n)..(r.x1.max(0.0) as usize).min(n)
}

fn pixels(crop: &Plane, r: &Rect) -> Vec<f32> {
    let (n, _) = crop.dim();
    rows(r, n)
        .flat_map(|y| cols(r, n).map(move |x| crop[[y, x]]))
        .collect()
}

/// Central-difference gradient magnitude at (x, y), edges clamped.
fn gradient(img: &Plane, x: usize, y: usize) -> f32 {
    let (h, w) = img.dim();
    let (xm, xp) = (x.saturating_sub(1), (x + 1).min(w - 1));
    let (ym, yp) = (y.saturating_sub(1), (y + 1).min(h - 1));
    let gx = 0.5 * (img[[y, xp]] - img[[y, xm]]);
    let gy = 0.5 * (img[[yp, x]] - img[[ym, x]]);
    (gx * gx + gy * gy).sqrt()
}

/// How much darker the darkest row of `profile` (from index 3 to 3 before its end) is than
/// the rows 3 before and after it, whichever is darker; 0 if none is darker.
fn thin_line(profile: &[f32]) -> f32 {
    (3..profile.len().saturating_sub(3))
        .map(|k| profile[k - 3].min(profile[k + 3]) - profile[k])
        .fold(0.0, f32::max)
}

/// Mean of columns `xs` of rows `ys`, row by row.
fn row_means(crop: &Plane, ys: std::ops::Range<usize>, xs: std::ops::Range<usize>) -> Vec<f32> {
    let w = xs.len().max(1) as f32;
    ys.map(|y| xs.clone().map(|x| crop[[y, x]]).sum::<f32>() / w)
        .collect()
}

/// The darkest thin horizontal line in the band between the eyes (the central 8 % of the
/// crop's width, at the eyes' height): a bridge. A head turn can bring an eye into the band,
/// so this alone does not say glasses.
fn bridge_contrast(crop: &Plane, eyes: &[Rect; 2]) -> f32 {
    let (n, _) = crop.dim();
    let xs = (n as f32 * 0.46) as usize..((n as f32 * 0.54).ceil() as usize).min(n);
    thin_line(&row_means(crop, rows(&eyes[0], n), xs))
}

/// The darkest thin horizontal line in the lower 40 % of each eye region (below the lid,
/// above the cheek), central 60 % of its width: a rim's lower bar. The weaker eye's.
fn rim_contrast(crop: &Plane, eyes: &[Rect; 2]) -> f32 {
    let (n, _) = crop.dim();
    eyes.iter()
        .map(|r| {
            let w = r.x1 - r.x0;
            let xs = cols(
                &Rect {
                    x0: r.x0 + 0.2 * w,
                    x1: r.x1 - 0.2 * w,
                    ..*r
                },
                n,
            );
            // Three rows either side of the searched band, for `thin_line`'s neighbours.
            let y0 = ((r.y0 + 0.6 * (r.y1 - r.y0)).max(3.0) as usize).min(n) - 3;
            let y1 = ((r.y1.max(0.0) as usize) + 3).min(n);
            thin_line(&row_means(crop, y0..y1, xs))
        })
        .fold(f32::INFINITY, f32::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::anatomy::RegionKind;
    use crate::analysis::face::regions::RegionLayout;

    const N: usize = 96;

    fn eyes() -> [Rect; 2] {
        let l = RegionLayout::new(N, false);
        Side::BOTH.map(|s| l.rect(s, RegionKind::Eye))
    }

    /// A plain face-like crop: skin with a dark eye line (iris) in each eye region.
    fn face() -> Plane {
        let mut p = Plane::from_elem((N, N), 170.0);
        for r in eyes() {
            let y = ((r.y0 + r.y1) * 0.5) as usize;
            for x in (r.x0 as usize + 8)..(r.x1 as usize - 8) {
                p[[y, x]] = 60.0;
                p[[y + 1, x]] = 60.0;
            }
        }
        p
    }

    /// The same with glasses: a dark frame around each eye and a bridge between them.
    fn with_glasses(mut p: Plane) -> Plane {
        let rs = eyes();
        for r in rs {
            let (x0, x1) = (r.x0 as usize + 2, r.x1 as usize - 2);
            let (y0, y1) = (r.y0 as usize + 6, r.y1 as usize - 3);
            for x in x0..=x1 {
                for y in [y0, y0 + 1, y1 - 1, y1] {
                    p[[y, x]] = 30.0;
                }
            }
            for y in y0..=y1 {
                p[[y, x0]] = 30.0;
                p[[y, x1]] = 30.0;
            }
        }
        let y = rs[0].y0 as usize + 8;
        for x in (N * 40 / 100)..(N * 60 / 100) {
            p[[y, x]] = 30.0;
            p[[y + 1, x]] = 30.0;
        }
        p
    }

    /// A 3x3 box blur: camera images have no one-pixel steps.
    fn blur(p: &Plane) -> Plane {
        let mut out = p.clone();
        for y in 1..N - 1 {
            for x in 1..N - 1 {
                let mut s = 0.0;
                for dy in 0..3 {
                    for dx in 0..3 {
                        s += p[[y + dy - 1, x + dx - 1]];
                    }
                }
                out[[y, x]] = s / 9.0;
            }
        }
        out
    }

    fn run(frames: &[Plane]) -> Vec<LookSignals> {
        let mut look = EyeLook::new(LookParams::default(), eyes());
        frames
            .windows(2)
            .map(|w| look.update(&w[0], &w[1], &w[1], 1.0 / 30.0))
            .collect()
    }

    #[test]
    fn glasses_are_recognised_and_bare_faces_are_not() {
        let bare = run(&vec![face(); 40]);
        assert!(bare.iter().all(|s| !s.glasses));
        let worn = run(&vec![with_glasses(face()); 40]);
        let first = worn
            .iter()
            .position(|s| s.glasses)
            .expect("glasses recognised");
        assert_eq!(first + 1, LookParams::default().glasses_frames);
        assert!(worn[first..].iter().all(|s| s.glasses));
    }

    #[test]
    fn a_shift_within_the_slack_is_not_a_change_but_a_closing_eye_is() {
        let g = blur(&with_glasses(face()));
        // The whole crop moved by 0.3 px (linear interpolation): edges change, nothing else.
        let mut shifted = g.clone();
        for y in 0..N {
            for x in 0..N - 1 {
                shifted[[y, x]] = 0.7 * g[[y, x]] + 0.3 * g[[y, x + 1]];
            }
        }
        // The right eye's line covered by skin (a lid closing over the iris).
        let mut closed = with_glasses(face());
        let r = eyes()[Side::Right.index()];
        let y = ((r.y0 + r.y1) * 0.5) as usize;
        for x in (r.x0 as usize + 8)..(r.x1 as usize - 8) {
            closed[[y, x]] = 170.0;
            closed[[y + 1, x]] = 170.0;
        }
        let closed = blur(&closed);
        let mut frames = vec![g.clone(); 20];
        frames.push(shifted);
        frames.push(g.clone());
        frames.push(closed);
        let s = run(&frames);
        let n = s.len();
        let (shift, close) = (s[n - 3], s[n - 1]);
        assert!(shift.glasses && close.glasses);
        assert!(shift.change.iter().all(|&c| c < 0.5), "{:?}", shift.change);
        let (l, r) = (Side::Left.index(), Side::Right.index());
        assert!(close.change[r] > 3.0, "{:?}", close.change);
        assert!(close.change[l] < 0.5, "{:?}", close.change);
        let sq = close.squeeze(&LookParams::default(), true, 1.0 / 30.0);
        assert!(sq.closure[r] > 3.0 && sq.closure[l] == 0.0, "{sq:?}");
        assert!(sq.rate[r] > 15.0 && sq.rate[l] < 5.0, "{sq:?}");
    }
}
