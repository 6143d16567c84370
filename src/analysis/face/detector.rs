//! Frontal face detection with SeetaFace (the `rustface` crate).
//!
//! Input: one luma frame (row-major, stride = width). Output: face boxes in full-frame pixels,
//! best first. Thread: whichever thread owns the `FaceDetector` (it is `Send`, not `Sync`).
//!
//! The frame is first shrunk with an area (box) filter so it is at most `max_width` pixels
//! wide; detection cost grows with the pixel count, and faces we care about are large.
//! The model (`seeta_fd_frontal_v1.0.bin`, BSD-2, shipped with rustface) is embedded in the
//! binary from the vendored crate (`vendor/rustface`, sped up with the same results: see its
//! VENDORED.md).

use rustface::{Detector, ImageData};

/// SeetaFace frontal model, embedded at build time.
static SEETA_MODEL: &[u8] =
    include_bytes!("../../../vendor/rustface/model/seeta_fd_frontal_v1.0.bin");

/// A detected face, in full-frame pixels (top-left origin, x to the image's right).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge, pixels.
    pub x: f32,
    /// Top edge, pixels.
    pub y: f32,
    /// Width, pixels.
    pub width: f32,
    /// Height, pixels.
    pub height: f32,
    /// SeetaFace classifier score (unitless; higher is more face-like, typically 2..30).
    pub score: f32,
}

impl FaceBox {
    /// Centre of the box, pixels.
    pub fn center(&self) -> (f32, f32) {
        (self.x + 0.5 * self.width, self.y + 0.5 * self.height)
    }

    /// Intersection over union with another box (0..1).
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.width * self.height + other.width * other.height - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// Detection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorParams {
    /// Frames wider than this (pixels) are shrunk to this width (aspect kept) before detecting.
    /// Default 320.
    pub max_width: u32,
    /// Smallest face searched for, in pixels of the shrunk image (SeetaFace needs >= 20).
    /// Default 28: at 320 px wide that is a face ~9% of the frame width. Passed on, but
    /// rustface 0.1.7 does not apply it (the line is commented out in its source): its
    /// smallest face is its 40 px window.
    pub min_face_px: u32,
    /// SeetaFace score threshold (unitless; rustface suggests 0.95, 2.8 or 4.5). Default 2.0.
    pub score_thresh: f64,
    /// Ratio between adjacent image-pyramid levels, in (0.1, 0.99). Default 0.8.
    pub pyramid_scale: f32,
    /// Sliding-window step (x, y) in pixels of each pyramid level. Default (4, 4).
    pub slide_window_step: (u32, u32),
    /// `detect_near` places its search square on a grid of this share of the face
    /// (default 1/8) and sizes it in steps of `near_size_step` (default 1.09, i.e. 9 %), so
    /// that tracks a pixel or two apart hand the detector the same pixels and get the same
    /// box back. The track then forgets where it was: a long run and the same input cut
    /// into pieces give the same twitches (`docs/design.md`).
    pub near_grid: f32,
    pub near_size_step: f32,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorParams {
            max_width: 320,
            min_face_px: 28,
            score_thresh: 2.0,
            pyramid_scale: 0.8,
            slide_window_step: (4, 4),
            near_grid: 1.0 / 8.0,
            near_size_step: 1.09,
        }
    }
}

/// `rustface::create_detector_with_model` returns `Box<dyn Detector>` without a `Send` bound,
/// although the concrete `FuStDetector` only owns plain data (`Vec`s of numbers, the parsed
/// model, sizes); its raw pointers are locals inside methods (and with its rayon feature on,
/// it runs parts of its work on other threads). Moving it to another thread is therefore
/// sound.
struct SendDetector(Box<dyn Detector>);

// SAFETY: see the comment on `SendDetector`: the boxed value holds no thread-affine state
// (no `Rc`, `Cell`, thread-locals or stored raw pointers), checked against rustface 0.1.7.
unsafe impl Send for SendDetector {}

/// SeetaFace frontal detector with a shrink step in front. `Send`; use one per thread.
pub struct FaceDetector {
    params: DetectorParams,
    inner: SendDetector,
    /// Reused buffer for the shrunk image.
    small: Vec<u8>,
    /// Reused buffer for the horizontal pass of the area filter.
    tmp: Vec<f32>,
}

impl FaceDetector {
    /// Builds a detector from the embedded model. Panics only if the embedded model is
    /// corrupt (a build problem) or the parameters are outside rustface's ranges.
    pub fn new(params: DetectorParams) -> Self {
        let model = rustface::read_model(SEETA_MODEL).expect("embedded SeetaFace model is valid");
        let mut det = rustface::create_detector_with_model(model);
        det.set_min_face_size(params.min_face_px.max(20));
        det.set_score_thresh(params.score_thresh);
        det.set_pyramid_scale_factor(params.pyramid_scale.clamp(0.1, 0.99));
        det.set_slide_window_step(
            params.slide_window_step.0.max(1),
            params.slide_window_step.1.max(1),
        );
        FaceDetector {
            params,
            inner: SendDetector(det),
            small: Vec::new(),
            tmp: Vec::new(),
        }
    }

    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// Faces in a luma frame (`width * height` bytes, stride = width), in full-frame pixels,
    /// best first: ranked by width, discounted up to half for distance from the frame centre.
    pub fn detect(&mut self, luma: &[u8], width: u32, height: u32) -> Vec<FaceBox> {
        if width < 20 || height < 20 || luma.len() < width as usize * height as usize {
            return Vec::new();
        }
        let (sw, sh) = shrunk_size(width, height, self.params.max_width.max(20));
        let raw = if (sw, sh) == (width, height) {
            self.inner.0.detect(&ImageData::new(luma, width, height))
        } else {
            area_resize(luma, width, height, sw, sh, &mut self.tmp, &mut self.small);
            self.inner.0.detect(&ImageData::new(&self.small, sw, sh))
        };
        let fx = width as f32 / sw as f32;
        let fy = height as f32 / sh as f32;
        let (w, h) = (width as f32, height as f32);
        let mut faces: Vec<FaceBox> = raw
            .iter()
            .filter_map(|f| {
                let b = f.bbox();
                let x0 = (b.x() as f32 * fx).clamp(0.0, w);
                let y0 = (b.y() as f32 * fy).clamp(0.0, h);
                let x1 = ((b.x() as f32 + b.width() as f32) * fx).clamp(0.0, w);
                let y1 = ((b.y() as f32 + b.height() as f32) * fy).clamp(0.0, h);
                (x1 - x0 >= 1.0 && y1 - y0 >= 1.0).then(|| FaceBox {
                    x: x0,
                    y: y0,
                    width: x1 - x0,
                    height: y1 - y0,
                    score: f.score() as f32,
                })
            })
            .collect();
        let rank = |f: &FaceBox| {
            let (cx, cy) = f.center();
            let d = ((cx - 0.5 * w).powi(2) + (cy - 0.5 * h).powi(2)).sqrt()
                / (0.5 * (w * w + h * h).sqrt());
            f.width * (1.0 - 0.5 * d.min(1.0))
        };
        faces.sort_by(|a, b| rank(b).total_cmp(&rank(a)));
        faces
    }

    /// Faces near a known one: searches only a square of twice `face_px` around
    /// (`cx`, `cy`), scaled so the face is about 90 pixels wide: faces from rustface's
    /// 40 px window up to the whole square. A fraction of the cost of `detect`, for
    /// confirming a tracked face. The square is snapped to a grid (`near_grid`,
    /// `near_size_step`). (Limiting the sizes further costs recall.)
    pub fn detect_near(
        &mut self,
        luma: &[u8],
        width: u32,
        height: u32,
        cx: f32,
        cy: f32,
        face_px: f32,
    ) -> Vec<FaceBox> {
        match NearSquare::new(width, height, cx, cy, face_px, &self.params) {
            Some(square) => self.detect_in_frame(&square, luma, width, height),
            None => Vec::new(),
        }
    }

    /// `detect_near`'s search in `square` of a `width` x `height` frame (none if the frame
    /// is shorter than that).
    pub fn detect_in_frame(
        &mut self,
        square: &NearSquare,
        luma: &[u8],
        width: u32,
        height: u32,
    ) -> Vec<FaceBox> {
        match square.cut(luma, width, height) {
            Some(roi) => self.detect_in(square, &roi),
            None => Vec::new(),
        }
    }

    /// `detect_near`'s search in `square`, given its pixels (`NearSquare::cut`): the part
    /// that can run on another thread once the square is cut out.
    pub fn detect_in(&mut self, square: &NearSquare, roi: &[u8]) -> Vec<FaceBox> {
        let NearSquare {
            x0,
            y0,
            rw,
            rh,
            dw,
            dh,
        } = *square;
        if roi.len() != (rw * rh) as usize {
            return Vec::new();
        }
        let (src, sw, sh) = if (dw, dh) == (rw, rh) || dw > rw || dh > rh {
            (roi, rw, rh)
        } else {
            area_resize(roi, rw, rh, dw, dh, &mut self.tmp, &mut self.small);
            (&self.small[..], dw, dh)
        };
        let raw = self.inner.0.detect(&ImageData::new(src, sw, sh));
        let (fx, fy) = (rw as f32 / sw as f32, rh as f32 / sh as f32);
        let mut faces: Vec<FaceBox> = raw
            .iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox {
                    x: x0 as f32 + b.x() as f32 * fx,
                    y: y0 as f32 + b.y() as f32 * fy,
                    width: b.width() as f32 * fx,
                    height: b.height() as f32 * fy,
                    score: f.score() as f32,
                }
            })
            .collect();
        faces.sort_by(|a, b| b.width.total_cmp(&a.width));
        faces
    }
}

/// Where `FaceDetector::detect_near` searches: a square of twice the face's size around
/// its centre (snapped to the grid of `DetectorParams::near_grid` and `near_size_step`),
/// in frame pixels, and the size it is shrunk to. Two searches in equal squares of the
/// same frame find the same faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearSquare {
    x0: u32,
    y0: u32,
    rw: u32,
    rh: u32,
    dw: u32,
    dh: u32,
}

impl NearSquare {
    /// `None` for frames too small to search or faces too small to find.
    pub fn new(
        width: u32,
        height: u32,
        cx: f32,
        cy: f32,
        face_px: f32,
        params: &DetectorParams,
    ) -> Option<Self> {
        if width < 20 || height < 20 || face_px.is_nan() || face_px < 8.0 {
            return None;
        }
        let (cx, cy, face_px) = snap_square(cx, cy, face_px, params);
        let half = face_px;
        let x0 = (cx - half).floor().clamp(0.0, width as f32 - 1.0) as u32;
        let y0 = (cy - half).floor().clamp(0.0, height as f32 - 1.0) as u32;
        let x1 = (cx + half).ceil().clamp(x0 as f32 + 1.0, width as f32) as u32;
        let y1 = (cy + half).ceil().clamp(y0 as f32 + 1.0, height as f32) as u32;
        let (rw, rh) = (x1 - x0, y1 - y0);
        let scale = (90.0 / face_px).min(1.0);
        let (dw, dh) = (
            ((rw as f32 * scale) as u32).max(24),
            ((rh as f32 * scale) as u32).max(24),
        );
        Some(Self {
            x0,
            y0,
            rw,
            rh,
            dw,
            dh,
        })
    }

    /// The square's pixels out of a `width` x `height` frame; `None` if the frame is shorter
    /// than its size says.
    pub fn cut(&self, luma: &[u8], width: u32, height: u32) -> Option<Vec<u8>> {
        if luma.len() < width as usize * height as usize {
            return None;
        }
        let (x0, w) = (self.x0 as usize, self.rw as usize);
        let mut roi = Vec::with_capacity(w * self.rh as usize);
        for y in self.y0..self.y0 + self.rh {
            let row = y as usize * width as usize + x0;
            roi.extend_from_slice(luma.get(row..row + w)?);
        }
        Some(roi)
    }
}

impl Default for FaceDetector {
    fn default() -> Self {
        FaceDetector::new(DetectorParams::default())
    }
}

/// The search square's centre and face size on the grid of `DetectorParams::near_grid`
/// and `near_size_step` (the nearest grid point and size step).
fn snap_square(cx: f32, cy: f32, face_px: f32, p: &DetectorParams) -> (f32, f32, f32) {
    let step = p.near_size_step.max(1.001);
    let size = step.powf((face_px.ln() / step.ln()).round());
    let g = size * p.near_grid.clamp(0.001, 1.0);
    ((cx / g).round() * g, (cy / g).round() * g, size)
}

/// Size after shrinking to at most `max_width` wide (never enlarges), aspect kept.
fn shrunk_size(width: u32, height: u32, max_width: u32) -> (u32, u32) {
    if width <= max_width {
        return (width, height);
    }
    let h = (height as u64 * max_width as u64 + width as u64 / 2) / width as u64;
    (max_width, (h as u32).max(1))
}

/// Area-average resampling (each output pixel is the mean of the source area it covers,
/// with fractional edge weights). Separable: rows first into `tmp`, then columns into `out`.
/// Intended for shrinking; also correct (nearest-like) when enlarging.
pub fn area_resize(
    src: &[u8],
    sw: u32,
    sh: u32,
    dw: u32,
    dh: u32,
    tmp: &mut Vec<f32>,
    out: &mut Vec<u8>,
) {
    let (sw, sh, dw, dh) = (sw as usize, sh as usize, dw as usize, dh as usize);
    let xw = area_weights(sw, dw);
    let yw = area_weights(sh, dh);
    tmp.clear();
    tmp.resize(dw * sh, 0.0);
    for y in 0..sh {
        let row = &src[y * sw..(y + 1) * sw];
        let trow = &mut tmp[y * dw..(y + 1) * dw];
        for (t, (start, ws)) in trow.iter_mut().zip(&xw) {
            let mut acc = 0.0f32;
            for (k, &wt) in ws.iter().enumerate() {
                acc += wt * row[start + k] as f32;
            }
            *t = acc;
        }
    }
    out.clear();
    out.resize(dw * dh, 0);
    let mut acc = vec![0.0f32; dw];
    for (oy, (start, ws)) in yw.iter().enumerate() {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for (k, &wt) in ws.iter().enumerate() {
            let trow = &tmp[(start + k) * dw..(start + k + 1) * dw];
            for (a, &t) in acc.iter_mut().zip(trow) {
                *a += wt * t;
            }
        }
        for (o, &a) in out[oy * dw..(oy + 1) * dw].iter_mut().zip(&acc) {
            *o = (a + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
}

/// For each destination index: first source index and normalised weights of the covered span.
fn area_weights(src_len: usize, dst_len: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = src_len as f64 / dst_len as f64;
    (0..dst_len)
        .map(|i| {
            let a = i as f64 * scale;
            let b = ((i + 1) as f64 * scale).min(src_len as f64);
            let first = (a.floor() as usize).min(src_len - 1);
            let last = ((b.ceil() as usize).max(first + 1)).min(src_len);
            let mut ws: Vec<f32> = (first..last)
                .map(|s| {
                    let lo = a.max(s as f64);
                    let hi = b.min((s + 1) as f64);
                    (hi - lo).max(0.0) as f32
                })
                .collect();
            let sum: f32 = ws.iter().sum();
            if sum > 0.0 {
                ws.iter_mut().for_each(|w| *w /= sum);
            } else {
                ws.iter_mut().for_each(|w| *w = 1.0 / (last - first) as f32);
            }
            (first, ws)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn detector_is_send() {
        assert_send::<FaceDetector>();
    }

    #[test]
    fn shrunk_size_keeps_aspect() {
        assert_eq!(shrunk_size(640, 480, 320), (320, 240));
        assert_eq!(shrunk_size(720, 1280, 320), (320, 569));
        assert_eq!(shrunk_size(300, 200, 320), (300, 200));
    }

    #[test]
    fn area_resize_averages() {
        // 4x2 → 2x1: each output is the mean of a 2x2 block.
        let src = [0u8, 100, 200, 200, 100, 200, 200, 200];
        let (mut tmp, mut out) = (Vec::new(), Vec::new());
        area_resize(&src, 4, 2, 2, 1, &mut tmp, &mut out);
        assert_eq!(out, vec![100, 200]);
        // Non-integer ratio keeps a flat image flat.
        let flat = vec![77u8; 7 * 5];
        area_resize(&flat, 7, 5, 3, 2, &mut tmp, &mut out);
        assert!(out.iter().all(|&v| v == 77));
    }

    #[test]
    fn no_face_in_flat_or_noise_image() {
        let mut det = FaceDetector::default();
        assert!(det.detect(&vec![128u8; 320 * 240], 320, 240).is_empty());
        assert!(det.detect(&[0u8; 10 * 10], 10, 10).is_empty());
    }
}
