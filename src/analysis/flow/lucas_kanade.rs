//! Pyramidal Lucas–Kanade on a fixed grid of points: the per-level iteration, its window
//! and the Gauss–Newton update. Thread: analysis.

use super::*;

/// Pyramidal Lucas–Kanade on a fixed set of points, with scratch buffers kept across calls.
#[derive(Debug, Default)]
pub struct LucasKanade {
    pub params: FlowParams,
    template: Vec<f32>,
    grad_x: Vec<f32>,
    grad_y: Vec<f32>,
    /// Answers on the coarsest level per pixel, within one `track` call.
    coarse: Vec<Option<((f32, f32), f32)>>,
    /// Run the kernel on AVX registers: the CPU has them (`new`; tests compare the two).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(super) avx: bool,
}

impl LucasKanade {
    pub fn new(params: FlowParams) -> Self {
        Self {
            params,
            avx: has_avx(),
            ..Self::default()
        }
    }

    /// Flow from `prev` to `cur` at each of `points` (level-0 pixel coordinates, (x, y)).
    /// `out` must have the same length as `points`. `prev` must have been built with
    /// `build_with_gradients`; points are snapped to whole pixels at each level.
    pub fn track(
        &mut self,
        prev: &Pyramid,
        cur: &Pyramid,
        points: &[(f32, f32)],
        out: &mut [FlowVec],
    ) {
        let r = self.params.window_radius;
        let n = (2 * r + 1) * (2 * r + 1);
        self.template.resize(n, 0.0);
        self.grad_x.resize(n, 0.0);
        self.grad_y.resize(n, 0.0);
        let levels = prev
            .levels
            .len()
            .min(cur.levels.len())
            .min(prev.grad_x.len());
        if levels == 0 {
            return self.track_reference(prev, cur, points, out);
        }
        // On the coarsest level every point starts from no motion, and several grid points
        // snap to the same pixel: their answers are identical, so each is computed once.
        let top = levels - 1;
        let (th, tw) = prev.levels[top].dim();
        self.coarse.clear();
        self.coarse.resize(th * tw, None);
        for (p, o) in points.iter().zip(out.iter_mut()) {
            let (mut gx, mut gy, mut weight) = (0.0f32, 0.0f32, 1.0f32);
            for l in (0..levels).rev() {
                let scale = 1.0 / (1u32 << l) as f32;
                // Grid points are non-negative: rounding is floor(x + 0.5), without libm.
                let (px, py) = (floor_i(p.0 * scale + 0.5), floor_i(p.1 * scale + 0.5));
                let inside = px >= 0 && py >= 0 && (px as usize) < tw && (py as usize) < th;
                let memo = (l == top && inside).then(|| py as usize * tw + px as usize);
                let (d, w) = match memo.and_then(|k| self.coarse[k]) {
                    Some(done) => done,
                    None => {
                        let done = match self.params.window_radius {
                            1 => self.track_level_fast::<3>(prev, cur, l, px, py, gx, gy),
                            2 => self.track_level_fast::<5>(prev, cur, l, px, py, gx, gy),
                            3 => self.track_level_fast::<7>(prev, cur, l, px, py, gx, gy),
                            _ => self.track_level(
                                &prev.levels[l],
                                &cur.levels[l],
                                px as f32,
                                py as f32,
                                gx,
                                gy,
                            ),
                        };
                        if let Some(k) = memo {
                            self.coarse[k] = Some(done);
                        }
                        done
                    }
                };
                (gx, gy) = d;
                if l == 0 {
                    weight = w;
                } else {
                    gx *= 2.0;
                    gy *= 2.0;
                }
            }
            *o = FlowVec {
                dx: gx,
                dy: gy,
                weight,
            };
        }
    }

    /// The straightforward version of `track` (bilinear sampling everywhere, no
    /// precomputed gradients): the reference the fast path is tested against.
    pub fn track_reference(
        &mut self,
        prev: &Pyramid,
        cur: &Pyramid,
        points: &[(f32, f32)],
        out: &mut [FlowVec],
    ) {
        let r = self.params.window_radius as isize;
        let n = ((2 * r + 1) * (2 * r + 1)) as usize;
        self.template.resize(n, 0.0);
        self.grad_x.resize(n, 0.0);
        self.grad_y.resize(n, 0.0);
        let levels = prev.levels.len().min(cur.levels.len());
        for (p, o) in points.iter().zip(out.iter_mut()) {
            let mut gx = 0.0f32;
            let mut gy = 0.0f32;
            let mut weight = 1.0f32;
            for l in (0..levels).rev() {
                let scale = 1.0 / (1u32 << l) as f32;
                let (px, py) = (p.0 * scale, p.1 * scale);
                let (d, w) = self.track_level(&prev.levels[l], &cur.levels[l], px, py, gx, gy);
                gx = d.0;
                gy = d.1;
                if l == 0 {
                    weight = w;
                } else {
                    gx *= 2.0;
                    gy *= 2.0;
                }
            }
            *o = FlowVec {
                dx: gx,
                dy: gy,
                weight,
            };
        }
    }

    /// `track_level` for a whole-pixel point with precomputed template gradients, on padded
    /// levels: the window shares one sub-pixel offset per iteration, so the bilinear weights
    /// are computed once per iteration, and each window row is read as 8 lanes (the 8th has
    /// zero gradient and adds nothing), which the compiler turns into vector code.
    ///
    /// With AVX (checked at run time; the build targets plain x86-64), the same kernel runs
    /// on 256-bit registers instead of pairs of SSE ones: lane for lane the same operations,
    /// so the same bits (`avx_kernel_matches_sse_to_the_bit`).
    #[allow(clippy::too_many_arguments)]
    fn track_level_fast<const ROWS: usize>(
        &mut self,
        prev: &Pyramid,
        cur: &Pyramid,
        l: usize,
        px: isize,
        py: isize,
        gx: f32,
        gy: f32,
    ) -> ((f32, f32), f32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx {
            // SAFETY: `avx` is only set where the CPU has AVX (`new`).
            return unsafe { self.track_level_avx::<ROWS>(prev, cur, l, px, py, gx, gy) };
        }
        self.track_level_lanes::<ROWS, f32x8>(prev, cur, l, px, py, gx, gy)
    }

    /// `track_level_lanes` compiled with AVX enabled, on AVX registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    #[allow(clippy::too_many_arguments)]
    fn track_level_avx<const ROWS: usize>(
        &mut self,
        prev: &Pyramid,
        cur: &Pyramid,
        l: usize,
        px: isize,
        py: isize,
        gx: f32,
        gy: f32,
    ) -> ((f32, f32), f32) {
        self.track_level_lanes::<ROWS, avx::Avx8>(prev, cur, l, px, py, gx, gy)
    }

    /// The kernel of `track_level_fast`, for either kind of 8 lanes. Always inlined, so that
    /// it is compiled with the features of its caller.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn track_level_lanes<const ROWS: usize, V: Lanes8>(
        &mut self,
        prev: &Pyramid,
        cur: &Pyramid,
        l: usize,
        px: isize,
        py: isize,
        gx: f32,
        gy: f32,
    ) -> ((f32, f32), f32) {
        const LANES: usize = 8;
        // The window's size is a constant here, so every loop over its rows unrolls.
        let (rows, r) = (ROWS, (ROWS / 2) as isize);
        let (h, w) = prev.levels[l].dim();
        let pad = PAD as isize;
        // The template window and 8 lanes (+1 for bilinear) must lie inside the padding.
        let fits = |x0: isize, y0: isize| {
            x0 - r >= -pad
                && y0 - r >= -pad
                && x0 - r + (LANES as isize) < w as isize + pad
                && y0 + r + 1 < h as isize + pad
        };
        if ROWS > LANES || !fits(px, py) || cur.levels[l].dim() != (h, w) {
            let cur_plane = &cur.levels[l];
            return self.track_level(&prev.levels[l], cur_plane, px as f32, py as f32, gx, gy);
        }
        let (pimg, pgx, pgy) = (&prev.padded[l], &prev.grad_x[l], &prev.grad_y[l]);
        // Lanes past the window's width (= its height, `rows`) get zero gradient: they add
        // nothing anywhere.
        let mut m = [0.0f32; LANES];
        m[..rows].fill(1.0);
        let mask = V::from_array(m);
        let mut tpl = [V::zero(); ROWS];
        let mut tgx = [V::zero(); ROWS];
        let mut tgy = [V::zero(); ROWS];
        let (mut axx, mut axy, mut ayy) = (V::zero(), V::zero(), V::zero());
        let k = pimg.at(px - r, py - r);
        let (Some(wi), Some(wx), Some(wy)) = (
            Window::<ROWS>::new(&pimg.data, k, pimg.stride),
            Window::<ROWS>::new(&pgx.data, k, pgx.stride),
            Window::<ROWS>::new(&pgy.data, k, pgy.stride),
        ) else {
            let cur_plane = &cur.levels[l];
            return self.track_level(&prev.levels[l], cur_plane, px as f32, py as f32, gx, gy);
        };
        for (row, ((t, ix), iy)) in tpl.iter_mut().zip(&mut tgx).zip(&mut tgy).enumerate() {
            *t = wi.row8::<V>(row, 0);
            *ix = wx.row8::<V>(row, 0) * mask;
            *iy = wy.row8::<V>(row, 0) * mask;
            axx += *ix * *ix;
            axy += *ix * *iy;
            ayy += *iy * *iy;
        }
        let ((sxx, sxy), syy) = (V::sums2(axx, axy), ayy.sum());
        let n = (rows * rows) as f32;
        let det = sxx * syy - sxy * sxy;
        let tr = 0.5 * (sxx + syy);
        let min_eig = (tr - (tr * tr - det).max(0.0).sqrt()) / n;
        if det.abs() < 1e-6 || min_eig < self.params.min_eigen * 0.1 {
            return ((gx, gy), 0.0);
        }
        let weight = (min_eig / self.params.min_eigen).min(1.0);
        let cimg = &cur.padded[l];
        let cs = cur.levels[l].as_slice().expect("contiguous");
        let (mut ux, mut uy) = (gx, gy);
        for _ in 0..self.params.max_iterations {
            let Some((bx0, by0, fx, fy)) = split_position(px as f32 + ux, py as f32 + uy) else {
                break;
            };
            let (mut ex, mut ey) = (V::zero(), V::zero());
            let window = fits(bx0, by0)
                .then(|| Window::<ROWS>::new(&cimg.data, cimg.at(bx0 - r, by0 - r), cimg.stride))
                .flatten();
            if let Some(win) = window {
                let (vfx, vfy) = (V::splat(fx), V::splat(fy));
                // Each image row is interpolated horizontally once and serves as the lower
                // row of one window row and the upper row of the next. The right
                // neighbours are loaded as rows of their own.
                let across = |row: usize| {
                    let (p0, p1) = (win.row8::<V>(row, 0), win.row8::<V>(row, 1));
                    p0 + vfx * (p1 - p0)
                };
                let mut a = across(0);
                for (row, ((t, ix), iy)) in tpl.iter().zip(&tgx).zip(&tgy).enumerate() {
                    let b = across(row + 1);
                    let e = *t - (a + vfy * (b - a));
                    ex += e * *ix;
                    ey += e * *iy;
                    a = b;
                }
            } else {
                // Far past the edge: clamp each pixel (rare; runaway or edge points).
                for row in 0..rows {
                    let mut c = [0.0f32; LANES];
                    for (i, ci) in c.iter_mut().enumerate().take(rows) {
                        let (x0, y0) = (bx0 + i as isize - r, by0 + row as isize - r);
                        *ci = sample_at(cs, w, h, x0, y0, fx, fy);
                    }
                    let e = tpl[row] - V::from_array(c);
                    ex += e * tgx[row];
                    ey += e * tgy[row];
                }
            }
            let (bx, by) = V::sums2(ex, ey);
            if gauss_newton_step(
                &mut ux,
                &mut uy,
                [sxx, sxy, syy, det],
                bx,
                by,
                self.params.epsilon,
            ) {
                break;
            }
        }
        settle((ux, uy), (gx, gy), weight, w.max(h))
    }

    /// One level of iterative LK starting from guess (gx, gy). Returns the displacement at
    /// this level and a reliability weight.
    fn track_level(
        &mut self,
        prev: &Plane,
        cur: &Plane,
        px: f32,
        py: f32,
        gx: f32,
        gy: f32,
    ) -> ((f32, f32), f32) {
        let (h, w) = prev.dim();
        let ps = prev.as_slice().expect("contiguous");
        let cs = cur.as_slice().expect("contiguous");
        let r = self.params.window_radius as isize;
        // Sums are kept per window column (column c in lane c % 8) and the lanes added in a
        // fixed order: the same order of float additions as the vector fast path, which
        // makes the two agree even where many iterations amplify rounding.
        let lane = |dx: isize| ((dx + r) % 8) as usize;
        let (mut axx, mut axy, mut ayy) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
        let mut i = 0;
        for dy in -r..=r {
            for dx in -r..=r {
                let x = px + dx as f32;
                let y = py + dy as f32;
                let v = bilinear(ps, w, h, x, y);
                let ix = 0.5 * (bilinear(ps, w, h, x + 1.0, y) - bilinear(ps, w, h, x - 1.0, y));
                let iy = 0.5 * (bilinear(ps, w, h, x, y + 1.0) - bilinear(ps, w, h, x, y - 1.0));
                self.template[i] = v;
                self.grad_x[i] = ix;
                self.grad_y[i] = iy;
                axx[lane(dx)] += ix * ix;
                axy[lane(dx)] += ix * iy;
                ayy[lane(dx)] += iy * iy;
                i += 1;
            }
        }
        let (sxx, sxy, syy) = (lane_sum(&axx), lane_sum(&axy), lane_sum(&ayy));
        let n = i as f32;
        let det = sxx * syy - sxy * sxy;
        // Smaller eigenvalue of the structure tensor, per pixel: how trackable the patch is.
        let tr = 0.5 * (sxx + syy);
        let min_eig = (tr - (tr * tr - det).max(0.0).sqrt()) / n;
        if det.abs() < 1e-6 || min_eig < self.params.min_eigen * 0.1 {
            return ((gx, gy), 0.0);
        }
        let weight = (min_eig / self.params.min_eigen).min(1.0);
        let (mut ux, mut uy) = (gx, gy);
        for _ in 0..self.params.max_iterations {
            let (mut bx, mut by) = ([0.0f32; 8], [0.0f32; 8]);
            let Some((x0, y0, fx, fy)) = split_position(px + ux, py + uy) else {
                break;
            };
            let mut i = 0;
            for dy in -r..=r {
                for dx in -r..=r {
                    let c = sample_at(cs, w, h, x0 + dx, y0 + dy, fx, fy);
                    let e = self.template[i] - c;
                    bx[lane(dx)] += e * self.grad_x[i];
                    by[lane(dx)] += e * self.grad_y[i];
                    i += 1;
                }
            }
            if gauss_newton_step(
                &mut ux,
                &mut uy,
                [sxx, sxy, syy, det],
                lane_sum(&bx),
                lane_sum(&by),
                self.params.epsilon,
            ) {
                break;
            }
        }
        settle((ux, uy), (gx, gy), weight, w.max(h))
    }
}

/// `ROWS + 1` rows of 9 values each, `stride` apart, in a padded level: a Lucas–Kanade
/// window (plus the row and column bilinear sampling reads past it), bounds-checked once
/// when it is made instead of at every load of the inner loops.
pub(super) struct Window<'a, const ROWS: usize> {
    data: &'a [f32],
    stride: usize,
}

impl<'a, const ROWS: usize> Window<'a, ROWS> {
    /// The window whose first value is `data[k]`; `None` unless all of it lies in `data`.
    #[inline]
    fn new(data: &'a [f32], k: usize, stride: usize) -> Option<Self> {
        let end = stride.checked_mul(ROWS)?.checked_add(9)?.checked_add(k)?;
        let data = data.get(k..end)?;
        Some(Self { data, stride })
    }

    /// Values `off..off + 8` of window row `row`.
    #[inline]
    fn row8<V: Lanes8>(&self, row: usize, off: usize) -> V {
        // Callers pass loop constants, so after unrolling this check costs nothing.
        assert!(row <= ROWS && off <= 1, "outside the window");
        let k = row * self.stride + off;
        // SAFETY: `new` checked `ROWS * stride + 9 <= data.len()`, and with `row <= ROWS`,
        // `off <= 1` the last value read, `k + 7`, is at most `ROWS * stride + 8`.
        unsafe { V::load(self.data.as_ptr().add(k)) }
    }
}

/// Whole-pixel base and fraction of a window position, shared by every pixel of the window
/// (re-rounding `x + dx` per pixel would differ in the last bit). `None` once the position
/// has run away (not finite or absurdly far): the caller stops iterating.
#[inline]
pub(super) fn split_position(x: f32, y: f32) -> Option<(isize, isize, f32, f32)> {
    if !(x.abs() < 1e6 && y.abs() < 1e6) {
        return None;
    }
    let (x0, y0) = (floor_small(x), floor_small(y));
    Some((x0, y0, x - x0 as f32, y - y0 as f32))
}

/// Bilinear sample at (x0 + fx, y0 + fy) with the 2x2 neighbourhood clamped to the image:
/// what the padded levels give, pixel by pixel.
#[inline]
pub(super) fn sample_at(
    s: &[f32],
    w: usize,
    h: usize,
    x0: isize,
    y0: isize,
    fx: f32,
    fy: f32,
) -> f32 {
    let cx = |x: isize| x.clamp(0, w as isize - 1) as usize;
    let cy = |y: isize| y.clamp(0, h as isize - 1) as usize;
    let (xa, xb) = (cx(x0), cx(x0 + 1));
    let (ya, yb) = (cy(y0) * w, cy(y0 + 1) * w);
    let a = s[ya + xa] + fx * (s[ya + xb] - s[ya + xa]);
    let b = s[yb + xa] + fx * (s[yb + xb] - s[yb + xa]);
    a + fy * (b - a)
}

/// `x.floor()` as an integer without a call into libm (x86-64 without SSE4.1 has no
/// rounding instruction); exact for |x| < 2^31.
#[inline]
pub(super) fn floor_i(x: f32) -> isize {
    let i = x as isize;
    if (i as f32) > x { i - 1 } else { i }
}

/// `floor_i` for |x| < 1e6 (checked by the caller), without the saturating conversion's
/// range handling: this runs twice per Lucas–Kanade iteration.
#[inline]
pub(super) fn floor_small(x: f32) -> isize {
    debug_assert!(x.abs() < 1e6);
    // SAFETY: |x| < 1e6 is finite and well inside i32's range.
    let i = unsafe { x.to_int_unchecked::<i32>() } as isize;
    if (i as f32) > x { i - 1 } else { i }
}

/// Applies one Lucas–Kanade update from the structure tensor `[sxx, sxy, syy, det]` and the
/// mismatch vector (bx, by). Returns true once the update is below `epsilon` (converged).
#[inline]
pub(super) fn gauss_newton_step(
    ux: &mut f32,
    uy: &mut f32,
    t: [f32; 4],
    bx: f32,
    by: f32,
    epsilon: f32,
) -> bool {
    let [sxx, sxy, syy, det] = t;
    let ddx = (syy * bx - sxy * by) / det;
    let ddy = (sxx * by - sxy * bx) / det;
    *ux += ddx;
    *uy += ddy;
    ddx * ddx + ddy * ddy < epsilon * epsilon
}

/// The level's answer: runaway solutions (occlusion, no texture) fall back to the guess and
/// are distrusted.
pub(super) fn settle(
    u: (f32, f32),
    guess: (f32, f32),
    weight: f32,
    size: usize,
) -> ((f32, f32), f32) {
    let lim = size as f32 * 0.5;
    if !u.0.is_finite() || !u.1.is_finite() || u.0.abs() > lim || u.1.abs() > lim {
        return (guess, 0.0);
    }
    (u, weight)
}
