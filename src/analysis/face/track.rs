//! Face tracking between detections: a similarity pose (centre, size, angle) that follows the
//! head with the fitted flow motion, and sampling of a face-aligned square crop.
//!
//! Input: a luma frame and the pose. Output: a `Plane` crop of `crop_px`² pixels.
//! Thread: analysis.

use crate::analysis::flow::{Affine, Plane};
use wide::f32x8;

/// Where the face is: the centre and side of a square around it, rotated by `angle`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FacePose {
    /// Centre in frame pixels.
    pub cx: f32,
    pub cy: f32,
    /// Side of the square crop in frame pixels.
    pub size: f32,
    /// In-plane rotation in radians (positive = clockwise on screen, since y points down).
    pub angle: f32,
}

impl FacePose {
    /// Frame pixels per crop pixel.
    pub fn pixel_scale(&self, crop_px: usize) -> f32 {
        self.size / crop_px as f32
    }

    /// Frame coordinates of crop pixel (x, y).
    pub fn to_frame(&self, crop_px: usize, x: f32, y: f32) -> (f32, f32) {
        let k = self.pixel_scale(crop_px);
        let half = crop_px as f32 * 0.5;
        let (u, v) = ((x + 0.5 - half) * k, (y + 0.5 - half) * k);
        let (c, s) = (self.angle.cos(), self.angle.sin());
        (self.cx + c * u - s * v, self.cy + s * u + c * v)
    }

    /// Moves the pose by a motion measured in crop pixels (from the previous crop to the
    /// current frame sampled with the same pose).
    pub fn follow(&mut self, motion: &Affine, crop_px: usize) {
        let k = self.pixel_scale(crop_px);
        // The crop centre sits at the pose centre; predicted displacement there.
        let half = crop_px as f32 * 0.5 - 0.5;
        let (dx, dy) = motion.predict(half, half);
        let (c, s) = (self.angle.cos(), self.angle.sin());
        self.cx += k * (c * dx - s * dy);
        self.cy += k * (s * dx + c * dy);
        self.size *= motion.scale().clamp(0.8, 1.25);
        self.angle += motion.rotation().clamp(-0.2, 0.2);
    }

    /// Intersection over union of the axis-aligned squares (angle ignored).
    pub fn iou(&self, other: &FacePose) -> f32 {
        let r = |p: &FacePose| {
            let h = p.size * 0.5;
            (p.cx - h, p.cy - h, p.cx + h, p.cy + h)
        };
        let (a, b) = (r(self), r(other));
        let iw = (a.2.min(b.2) - a.0.max(b.0)).max(0.0);
        let ih = (a.3.min(b.3) - a.1.max(b.1)).max(0.0);
        let inter = iw * ih;
        let union = self.size * self.size + other.size * other.size - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// Samples the face-aligned crop of `luma` (`width` x `height`) into `out` (square).
/// When the face is larger than the crop, each output pixel averages a small grid of taps
/// so that downscaling does not alias skin texture into flow noise. The reference
/// `CropSampler` is tested against.
#[cfg(test)]
pub fn sample_crop(luma: &[u8], width: usize, height: usize, pose: &FacePose, out: &mut Plane) {
    let (n, _) = out.dim();
    if width == 0 || height == 0 || luma.len() < width * height {
        out.fill(0.0);
        return;
    }
    let k = pose.pixel_scale(n);
    let taps = (k.ceil() as usize).clamp(1, 4);
    let (c, s) = (pose.angle.cos(), pose.angle.sin());
    let half = n as f32 * 0.5;
    let sub = k / taps as f32;
    let inv_taps2 = 1.0 / (taps * taps) as f32;
    let (wmax, hmax) = ((width - 1) as f32, (height - 1) as f32);
    let o = out.as_slice_mut().expect("crop planes are contiguous");
    for y in 0..n {
        for x in 0..n {
            let mut acc = 0.0f32;
            for ty in 0..taps {
                let v = (y as f32 - half) * k + (ty as f32 + 0.5) * sub;
                for tx in 0..taps {
                    let u = (x as f32 - half) * k + (tx as f32 + 0.5) * sub;
                    let fx = (pose.cx + c * u - s * v).clamp(0.0, wmax);
                    let fy = (pose.cy + s * u + c * v).clamp(0.0, hmax);
                    let x0 = fx as usize;
                    let y0 = fy as usize;
                    let x1 = (x0 + 1).min(width - 1);
                    let y1 = (y0 + 1).min(height - 1);
                    let ax = fx - x0 as f32;
                    let ay = fy - y0 as f32;
                    let p00 = luma[y0 * width + x0] as f32;
                    let p01 = luma[y0 * width + x1] as f32;
                    let p10 = luma[y1 * width + x0] as f32;
                    let p11 = luma[y1 * width + x1] as f32;
                    let top = p00 + ax * (p01 - p00);
                    let bot = p10 + ax * (p11 - p10);
                    acc += top + ay * (bot - top);
                }
            }
            o[y * n + x] = acc * inv_taps2;
        }
    }
}

/// Samples face crops from a frame that was first box-reduced around the face by a whole
/// factor, so large faces cost the same as small ones. Prepare once per frame, then sample
/// any poses near the prepared one.
#[derive(Debug, Default)]
pub struct CropSampler {
    reduced: Vec<f32>,
    /// Scratch: per-column sums of one band of `factor` rows.
    col_sums: Vec<u16>,
    rw: usize,
    rh: usize,
    /// Reduction factor and the frame position of the reduced image's origin.
    factor: usize,
    x0: usize,
    y0: usize,
}

impl CropSampler {
    /// Reduces the part of the frame around `pose` (with margin for motion and rotation).
    pub fn prepare(
        &mut self,
        luma: &[u8],
        width: usize,
        height: usize,
        pose: &FacePose,
        crop_px: usize,
    ) {
        let k = pose.pixel_scale(crop_px);
        let f = (k.floor() as usize).clamp(1, 16);
        // Half diagonal of the crop plus a margin for the next pose's motion.
        let reach = pose.size * 0.75 + 8.0;
        let clampx = |v: f32| v.clamp(0.0, width as f32) as usize;
        let clampy = |v: f32| v.clamp(0.0, height as f32) as usize;
        let (x0, x1) = (clampx(pose.cx - reach), clampx(pose.cx + reach));
        let (y0, y1) = (clampy(pose.cy - reach), clampy(pose.cy + reach));
        let (rw, rh) = ((x1.saturating_sub(x0)) / f, (y1.saturating_sub(y0)) / f);
        self.factor = f;
        self.x0 = x0;
        self.y0 = y0;
        self.rw = rw;
        self.rh = rh;
        self.reduced.clear();
        self.reduced.resize(rw * rh, 0.0);
        if rw == 0 || rh == 0 || luma.len() < width * height {
            return;
        }
        let inv = 1.0 / (f * f) as f32;
        // Column sums over the f rows of each output row first (a plain vectorisable add
        // per input pixel), then f columns at a time. Integer sums are exact, so this is
        // the same arithmetic as summing f x f boxes pixel by pixel.
        let cols = rw * f;
        self.col_sums.clear();
        self.col_sums.resize(cols, 0);
        for ry in 0..rh {
            self.col_sums.fill(0);
            for dy in 0..f {
                let start = (y0 + ry * f + dy) * width + x0;
                let row = &luma[start..start + cols];
                // u16 lanes, twice as many per vector as u32: at most 16 rows of 255.
                for (acc, &v) in self.col_sums.iter_mut().zip(row) {
                    *acc += u16::from(v);
                }
            }
            let out = &mut self.reduced[ry * rw..(ry + 1) * rw];
            // A block width known at compile time lets each sum unroll; the usual factors
            // (up to 5 frame pixels per crop pixel: faces up to ~440 px) get their own copy.
            match f {
                1 => sum_blocks::<1>(&self.col_sums, out, inv),
                2 => sum_blocks::<2>(&self.col_sums, out, inv),
                3 => sum_blocks::<3>(&self.col_sums, out, inv),
                4 => sum_blocks::<4>(&self.col_sums, out, inv),
                5 => sum_blocks::<5>(&self.col_sums, out, inv),
                _ => {
                    for (o, block) in out.iter_mut().zip(self.col_sums.chunks_exact(f)) {
                        *o = block.iter().map(|&v| u32::from(v)).sum::<u32>() as f32 * inv;
                    }
                }
            }
        }
    }

    /// Samples the crop for `pose` from the prepared image (bilinear, edges clamped).
    pub fn sample(&self, pose: &FacePose, out: &mut Plane) {
        self.sample_with(pose, out, has_avx2());
    }

    /// `sample`, with AVX2 gathers for the inside of the crop when `avx2` (which the CPU
    /// must have): the same values to the bit.
    fn sample_with(&self, pose: &FacePose, out: &mut Plane, avx2: bool) {
        let (n, _) = out.dim();
        let o = out.as_slice_mut().expect("crop planes are contiguous");
        if self.rw == 0 || self.rh == 0 {
            o.fill(0.0);
            return;
        }
        let f = self.factor as f32;
        let k = pose.pixel_scale(n) / f;
        let (c, s) = (pose.angle.cos(), pose.angle.sin());
        let half = n as f32 * 0.5;
        // Frame position → reduced position: (x - x0 - (f - 1) / 2) / f.
        let ox = (pose.cx - self.x0 as f32 - 0.5 * (f - 1.0)) / f;
        let oy = (pose.cy - self.y0 as f32 - 0.5 * (f - 1.0)) / f;
        let (wmax, hmax) = ((self.rw - 1) as f32, (self.rh - 1) as f32);
        let (rw, r) = (self.rw, &self.reduced);
        let at = |x: usize, y: usize| {
            let v = (y as f32 + 0.5 - half) * k;
            let u = (x as f32 + 0.5 - half) * k;
            (ox + c * u - s * v, oy + s * u + c * v)
        };
        // The map is affine, so its extremes are at the corners: when all four lie inside
        // (with a right and lower neighbour), no pixel needs clamping.
        let corners = [at(0, 0), at(n - 1, 0), at(0, n - 1), at(n - 1, n - 1)];
        let inside = corners
            .iter()
            .all(|&(fx, fy)| fx >= 0.0 && fy >= 0.0 && fx < wmax && fy < hmax);
        let lanes = f32x8::from([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        for y in 0..n {
            let v = (y as f32 + 0.5 - half) * k;
            let out = &mut o[y * n..(y + 1) * n];
            // Inside (the usual case), eight pixels' positions at once: the same operations
            // in the same order as the scalar loop below, so the same values.
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if inside && avx2 {
                let map = RowMap {
                    k,
                    c,
                    s,
                    half,
                    ox,
                    oy,
                    sv: s * v,
                    cv: c * v,
                };
                // SAFETY: the caller says the CPU has AVX2.
                unsafe { gather_row_avx2(r, rw, &map, out) };
                done = n / 8 * 8;
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = avx2;
            if inside && done == 0 {
                let (sv, cv) = (f32x8::splat(s * v), f32x8::splat(c * v));
                for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
                    let xs = lanes + f32x8::splat((i * 8) as f32);
                    let u = (xs + 0.5 - half) * k;
                    let fx = f32x8::splat(ox) + c * u - sv;
                    let fy = f32x8::splat(oy) + s * u + cv;
                    let (xi, yi) = (fx.fast_trunc_int(), fy.fast_trunc_int());
                    let ax = (fx - f32x8::from_i32x8(xi)).to_array();
                    let ay = (fy - f32x8::from_i32x8(yi)).to_array();
                    let (xi, yi) = (xi.to_array(), yi.to_array());
                    let i0: [usize; 8] =
                        std::array::from_fn(|j| yi[j] as usize * rw + xi[j] as usize);
                    let blend = |j: usize, p00: f32, p01: f32, p10: f32, p11: f32| {
                        let top = p00 + ax[j] * (p01 - p00);
                        let bot = p10 + ax[j] * (p11 - p10);
                        top + ay[j] * (bot - top)
                    };
                    // One range check for the eight pixels' 2x2 neighbourhoods, not four per
                    // pixel. The corners test above already implies it; this keeps it checked.
                    let top_index = i0.iter().max().map_or(usize::MAX, |&m| m + rw + 1);
                    if top_index < r.len() {
                        for (j, px) in chunk.iter_mut().enumerate() {
                            let k = i0[j];
                            // SAFETY: the largest index read is k + rw + 1 <= top_index,
                            // which is below r.len().
                            let p = |i: usize| unsafe { *r.get_unchecked(i) };
                            *px = blend(j, p(k), p(k + 1), p(k + rw), p(k + rw + 1));
                        }
                    } else {
                        for (j, px) in chunk.iter_mut().enumerate() {
                            let k = i0[j];
                            *px = blend(j, r[k], r[k + 1], r[k + rw], r[k + rw + 1]);
                        }
                    }
                }
                done = n / 8 * 8;
            }
            for (x, px) in out.iter_mut().enumerate().skip(done) {
                let u = (x as f32 + 0.5 - half) * k;
                let (fx, fy) = (ox + c * u - s * v, oy + s * u + c * v);
                // Inside, the clamps and the neighbour limits change nothing.
                let (fx, fy) = if inside {
                    (fx, fy)
                } else {
                    (fx.clamp(0.0, wmax), fy.clamp(0.0, hmax))
                };
                // Non-negative, so truncation is floor (through i32: one instruction, where
                // f32 to usize is a branchy sequence).
                let (x0, y0) = (fx as i32 as usize, fy as i32 as usize);
                let (x1, y1) = if inside {
                    (x0 + 1, y0 + 1)
                } else {
                    ((x0 + 1).min(rw - 1), (y0 + 1).min(self.rh - 1))
                };
                let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
                let top = r[y0 * rw + x0] + ax * (r[y0 * rw + x1] - r[y0 * rw + x0]);
                let bot = r[y1 * rw + x0] + ax * (r[y1 * rw + x1] - r[y1 * rw + x0]);
                *px = top + ay * (bot - top);
            }
        }
    }
}

/// Whether this CPU runs AVX2 instructions (std caches the answer).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The affine map of one crop row to the reduced image, as `CropSampler::sample` computes
/// it: crop x → (ox + c u - sv, oy + s u + cv) with u = (x + 0.5 - half) k.
#[cfg(target_arch = "x86_64")]
struct RowMap {
    k: f32,
    c: f32,
    s: f32,
    half: f32,
    ox: f32,
    oy: f32,
    sv: f32,
    cv: f32,
}

/// The eight-at-a-time inside loop of `CropSampler::sample` for one row (all its whole
/// chunks of 8), with the 2x2 neighbourhoods fetched by AVX2 gathers instead of 32 scalar
/// loads, and the blend in vector registers: lane for lane the same operations in the same
/// order as the scalar blend (no fused multiply-adds), so the same bits. A chunk whose
/// neighbourhoods are not all inside `r` (the corner test says they are; this keeps it
/// checked) takes the checked scalar blend.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gather_row_avx2(r: &[f32], rw: usize, m: &RowMap, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let lanes = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let (k, c, s) = (
        _mm256_set1_ps(m.k),
        _mm256_set1_ps(m.c),
        _mm256_set1_ps(m.s),
    );
    let (half, point5) = (_mm256_set1_ps(m.half), _mm256_set1_ps(0.5));
    let (ox, oy) = (_mm256_set1_ps(m.ox), _mm256_set1_ps(m.oy));
    let (sv, cv) = (_mm256_set1_ps(m.sv), _mm256_set1_ps(m.cv));
    let stride = _mm256_set1_epi32(rw as i32);
    let one = _mm256_set1_epi32(1);
    // The largest first index whose neighbourhood (up to + rw + 1) lies in `r`; -1 (every
    // chunk checked) where there is none, or where indices could leave i32's range (reduced
    // images are far smaller).
    let last = match r.len().checked_sub(rw + 2) {
        Some(l) if r.len() < i32::MAX as usize / 2 => l as i32,
        _ => -1,
    };
    let last = _mm256_set1_epi32(last);
    let zero = _mm256_setzero_si256();
    let base = r.as_ptr();
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        let xs = _mm256_add_ps(lanes, _mm256_set1_ps((i * 8) as f32));
        let u = _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(xs, point5), half), k);
        let fx = _mm256_sub_ps(_mm256_add_ps(ox, _mm256_mul_ps(c, u)), sv);
        let fy = _mm256_add_ps(_mm256_add_ps(oy, _mm256_mul_ps(s, u)), cv);
        let (xi, yi) = (_mm256_cvttps_epi32(fx), _mm256_cvttps_epi32(fy));
        let ax = _mm256_sub_ps(fx, _mm256_cvtepi32_ps(xi));
        let ay = _mm256_sub_ps(fy, _mm256_cvtepi32_ps(yi));
        let i0 = _mm256_add_epi32(_mm256_mullo_epi32(yi, stride), xi);
        let outside = _mm256_or_si256(_mm256_cmpgt_epi32(zero, i0), _mm256_cmpgt_epi32(i0, last));
        if _mm256_movemask_epi8(outside) != 0 {
            let (mut idx, mut fa, mut fb) = ([0i32; 8], [0.0f32; 8], [0.0f32; 8]);
            // SAFETY: each array holds 8 values.
            unsafe {
                _mm256_storeu_si256(idx.as_mut_ptr().cast(), i0);
                _mm256_storeu_ps(fa.as_mut_ptr(), ax);
                _mm256_storeu_ps(fb.as_mut_ptr(), ay);
            }
            for (j, px) in chunk.iter_mut().enumerate() {
                let q = idx[j] as usize;
                let top = r[q] + fa[j] * (r[q + 1] - r[q]);
                let bot = r[q + rw] + fa[j] * (r[q + rw + 1] - r[q + rw]);
                *px = top + fb[j] * (bot - top);
            }
            continue;
        }
        // SAFETY: every index gathered lies in 0..=last + rw + 1 < r.len() (checked above;
        // with `last` clamped to -1 every chunk takes the checked path).
        let (p00, p01, p10, p11) = unsafe {
            let i1 = _mm256_add_epi32(i0, one);
            let i2 = _mm256_add_epi32(i0, stride);
            let i3 = _mm256_add_epi32(i2, one);
            (
                _mm256_i32gather_ps::<4>(base, i0),
                _mm256_i32gather_ps::<4>(base, i1),
                _mm256_i32gather_ps::<4>(base, i2),
                _mm256_i32gather_ps::<4>(base, i3),
            )
        };
        let top = _mm256_add_ps(p00, _mm256_mul_ps(ax, _mm256_sub_ps(p01, p00)));
        let bot = _mm256_add_ps(p10, _mm256_mul_ps(ax, _mm256_sub_ps(p11, p10)));
        let px = _mm256_add_ps(top, _mm256_mul_ps(ay, _mm256_sub_ps(bot, top)));
        // SAFETY: `chunk` holds 8 values.
        unsafe { _mm256_storeu_ps(chunk.as_mut_ptr(), px) };
    }
}

/// `out[i]` = the sum of `sums[i * F..(i + 1) * F]`, times `inv`.
fn sum_blocks<const F: usize>(sums: &[u16], out: &mut [f32], inv: f32) {
    for (o, block) in out.iter_mut().zip(sums.chunks_exact(F)) {
        let mut acc = 0u32;
        for &v in block {
            acc += u32::from(v);
        }
        *o = acc as f32 * inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CropSampler` the slow way: each f x f box summed pixel by pixel, each crop pixel
    /// placed and clamped one at a time.
    fn reference_crop(
        luma: &[u8],
        width: usize,
        height: usize,
        pose: &FacePose,
        n: usize,
    ) -> Vec<f32> {
        let f = ((pose.pixel_scale(n)).floor() as usize).clamp(1, 16);
        let reach = pose.size * 0.75 + 8.0;
        let cl = |v: f32, m: usize| v.clamp(0.0, m as f32) as usize;
        let (x0, x1) = (cl(pose.cx - reach, width), cl(pose.cx + reach, width));
        let (y0, y1) = (cl(pose.cy - reach, height), cl(pose.cy + reach, height));
        let (rw, rh) = ((x1 - x0) / f, (y1 - y0) / f);
        let mut red = vec![0.0f32; rw * rh];
        for ry in 0..rh {
            for rx in 0..rw {
                let mut sum = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        sum += luma[(y0 + ry * f + dy) * width + x0 + rx * f + dx] as u32;
                    }
                }
                red[ry * rw + rx] = sum as f32 * (1.0 / (f * f) as f32);
            }
        }
        let ff = f as f32;
        let k = pose.pixel_scale(n) / ff;
        let (c, s) = (pose.angle.cos(), pose.angle.sin());
        let half = n as f32 * 0.5;
        let ox = (pose.cx - x0 as f32 - 0.5 * (ff - 1.0)) / ff;
        let oy = (pose.cy - y0 as f32 - 0.5 * (ff - 1.0)) / ff;
        let mut out = vec![0.0; n * n];
        for y in 0..n {
            for x in 0..n {
                let v = (y as f32 + 0.5 - half) * k;
                let u = (x as f32 + 0.5 - half) * k;
                let fx = (ox + c * u - s * v).clamp(0.0, (rw - 1) as f32);
                let fy = (oy + s * u + c * v).clamp(0.0, (rh - 1) as f32);
                let (xa, ya) = (fx as usize, fy as usize);
                let (xb, yb) = ((xa + 1).min(rw - 1), (ya + 1).min(rh - 1));
                let (ax, ay) = (fx - xa as f32, fy - ya as f32);
                let top = red[ya * rw + xa] + ax * (red[ya * rw + xb] - red[ya * rw + xa]);
                let bot = red[yb * rw + xa] + ax * (red[yb * rw + xb] - red[yb * rw + xa]);
                out[y * n + x] = top + ay * (bot - top);
            }
        }
        out
    }

    /// A `w` x `h` frame of hashed pixels (every value from its neighbours' unrelated).
    fn noise_luma(w: usize, h: usize, seed: u32) -> Vec<u8> {
        (0..w * h)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24) as u8)
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The fast sampler (integer column sums, unrolled box widths, eight positions at a
        /// time) gives exactly the slow way's values, inside the frame and at its edges.
        #[test]
        fn crop_sampler_matches_the_slow_way(
            cx in 20.0f32..300.0,
            cy in 20.0f32..220.0,
            size in 40.0f32..700.0,
            angle in -0.4f32..0.4,
            seed in 0u32..1000,
        ) {
            let (w, h, n) = (320usize, 240usize, 40usize);
            let luma = noise_luma(w, h, seed);
            let pose = FacePose { cx, cy, size, angle };
            let mut sampler = CropSampler::default();
            sampler.prepare(&luma, w, h, &pose, n);
            let mut out = Plane::zeros((n, n));
            sampler.sample(&pose, &mut out);
            let expect = reference_crop(&luma, w, h, &pose, n);
            proptest::prop_assert_eq!(out.as_slice().unwrap(), &expect[..]);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Where the CPU has AVX2, the gathering sampler gives the plain one's bits, for
        /// crops inside the frame (where it runs) and reaching past its edges (where the
        /// clamped path runs for both).
        #[test]
        fn avx2_sampler_matches_the_plain_one_to_the_bit(
            cx in 0.0f32..640.0,
            cy in 0.0f32..480.0,
            size in 40.0f32..500.0,
            angle in -0.5f32..0.5,
            n in 8usize..=96,
            seed in 0u32..1000,
        ) {
            if !has_avx2() {
                return Ok(());
            }
            let (w, h) = (640usize, 480usize);
            let luma = noise_luma(w, h, seed);
            let pose = FacePose { cx, cy, size, angle };
            let mut sampler = CropSampler::default();
            sampler.prepare(&luma, w, h, &pose, n);
            let (mut plain, mut gathered) = (Plane::zeros((n, n)), Plane::zeros((n, n)));
            sampler.sample_with(&pose, &mut plain, false);
            sampler.sample_with(&pose, &mut gathered, true);
            let bits = |p: &Plane| p.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&gathered), bits(&plain));
        }
    }

    #[test]
    fn crop_of_identity_pose_copies_pixels() {
        let (w, h) = (40usize, 30usize);
        let luma: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
        // A 10x10 crop centred on (20, 15) with one frame pixel per crop pixel.
        let pose = FacePose {
            cx: 20.0,
            cy: 15.0,
            size: 10.0,
            angle: 0.0,
        };
        let mut out = Plane::zeros((10, 10));
        sample_crop(&luma, w, h, &pose, &mut out);
        // Crop pixel (0,0) samples frame (15.5, 10.5): the mean of four neighbours.
        let expect = (luma[10 * w + 15] as f32
            + luma[10 * w + 16] as f32
            + luma[11 * w + 15] as f32
            + luma[11 * w + 16] as f32)
            / 4.0;
        assert!((out[[0, 0]] - expect).abs() < 1e-3);
    }

    #[test]
    fn follow_moves_the_pose_in_frame_pixels() {
        let mut pose = FacePose {
            cx: 100.0,
            cy: 100.0,
            size: 192.0,
            angle: 0.0,
        };
        // 2 crop px right at 96-px crop = 4 frame px.
        let m = Affine {
            t: [2.0, -1.0],
            centre: [47.5, 47.5],
            ..Affine::default()
        };
        pose.follow(&m, 96);
        assert!((pose.cx - 104.0).abs() < 1e-4 && (pose.cy - 98.0).abs() < 1e-4);
    }

    #[test]
    fn iou_of_same_and_disjoint() {
        let a = FacePose {
            cx: 0.0,
            cy: 0.0,
            size: 10.0,
            angle: 0.0,
        };
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        let b = FacePose { cx: 100.0, ..a };
        assert_eq!(a.iou(&b), 0.0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// The reduced-image sampler agrees with direct supersampling.
        #[test]
        fn sampler_matches_direct_sampling(
            size in 40.0f32..400.0, angle in -0.3f32..0.3, cx in 180.0f32..220.0, cy in 180.0f32..220.0,
        ) {
            let (w, h) = (400usize, 400usize);
            // Smooth content, so both methods' different filters see the same signal.
            let luma: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    (128.0 + 60.0 * (x * 0.03).sin() * (y * 0.025).cos()) as u8
                })
                .collect();
            let pose = FacePose { cx, cy, size, angle };
            let mut direct = Plane::zeros((48, 48));
            sample_crop(&luma, w, h, &pose, &mut direct);
            let mut sampler = CropSampler::default();
            sampler.prepare(&luma, w, h, &pose, 48);
            let mut fast = Plane::zeros((48, 48));
            sampler.sample(&pose, &mut fast);
            let mad = direct.iter().zip(fast.iter()).map(|(a, b)| (a - b).abs()).sum::<f32>() / direct.len() as f32;
            proptest::prop_assert!(mad < 2.0, "mean abs difference {mad}");
        }
    }
}
