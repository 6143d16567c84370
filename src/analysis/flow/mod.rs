//! Optical flow on face-aligned crops: pyramidal Lucas–Kanade on a grid, and a robust affine
//! fit of the whole face's motion so that head motion can be subtracted.
//!
//! Input: two same-size `Plane`s (previous and current crop). Output: per-grid-point
//! displacement and residual after removing the fitted affine motion. Thread: analysis.

use ndarray::Array2;
use wide::f32x8;

/// A grey image as `f32`, row-major (`[row, col]`), values 0..255.
pub type Plane = Array2<f32>;

/// Lucas–Kanade parameters. Units are crop pixels at full resolution (level 0).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowParams {
    /// Pyramid levels including full resolution. 3 covers ~±16 px motion per frame.
    pub levels: usize,
    /// Half width of the square matching window (radius 3 → 7x7 pixels).
    pub window_radius: usize,
    /// Gauss–Newton iterations per level, at most.
    pub max_iterations: usize,
    /// Stop iterating once an update is smaller than this (pixels at that level).
    pub epsilon: f32,
    /// Points whose structure tensor's smaller eigenvalue (per window pixel, grey levels²)
    /// is below this lie on flat skin: their flow is unreliable and gets weight 0.
    pub min_eigen: f32,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self {
            levels: 3,
            window_radius: 3,
            max_iterations: 6,
            epsilon: 0.02,
            min_eigen: 4.0,
        }
    }
}

/// Displacement of one grid point from the previous crop to the current crop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FlowVec {
    pub dx: f32,
    pub dy: f32,
    /// Reliability 0..1 from the structure tensor (0 = flat, do not trust).
    pub weight: f32,
}

/// An image pyramid whose levels are reused across frames (no allocation once warm).
#[derive(Debug, Default)]
pub struct Pyramid {
    pub levels: Vec<Plane>,
    /// Each level with a replicated border of `PAD` pixels, so that Lucas–Kanade windows
    /// near (or a little past) the edge read what edge-clamped sampling would, without a
    /// branch per pixel.
    padded: Vec<Padded>,
    /// Central-difference gradients of each padded level (only after
    /// `build_with_gradients`); outside the image they are those of the clamped image.
    grad_x: Vec<Padded>,
    grad_y: Vec<Padded>,
}

/// Border width of padded levels, pixels. Covers a window of radius 3 read 8 lanes wide
/// plus a few pixels of displacement past the edge; beyond that the per-pixel clamped
/// path is used.
const PAD: usize = 8;

/// A plane stored with a `PAD`-pixel replicated border; (0, 0) is the first image pixel.
#[derive(Debug, Default, Clone)]
struct Padded {
    data: Vec<f32>,
    stride: usize,
    rows: usize,
}

impl Padded {
    fn resize(&mut self, h: usize, w: usize) {
        self.stride = w + 2 * PAD;
        self.rows = h + 2 * PAD;
        self.data.resize(self.stride * self.rows, 0.0);
    }

    /// Copies `src` inside and replicates its edge pixels into the border.
    fn fill_from(&mut self, src: &Plane) {
        let (h, w) = src.dim();
        self.resize(h, w);
        let s = src.as_slice().expect("pyramid planes are contiguous");
        let stride = self.stride;
        for y in 0..self.rows {
            let sy = y.saturating_sub(PAD).min(h - 1);
            let row = &s[sy * w..(sy + 1) * w];
            let out = &mut self.data[y * stride..(y + 1) * stride];
            out[..PAD].fill(row[0]);
            out[PAD..PAD + w].copy_from_slice(row);
            out[PAD + w..].fill(row[w - 1]);
        }
    }

    /// Central differences of `img` (clamped at the outer border), into `gx` and `gy`.
    fn gradients(img: &Padded, gx: &mut Padded, gy: &mut Padded) {
        let (stride, rows) = (img.stride, img.rows);
        for g in [&mut *gx, &mut *gy] {
            g.stride = stride;
            g.rows = rows;
            g.data.resize(stride * rows, 0.0);
        }
        let s = &img.data;
        for y in 0..rows {
            let row = &s[y * stride..(y + 1) * stride];
            let out = &mut gx.data[y * stride..(y + 1) * stride];
            out[0] = 0.5 * (row[1] - row[0]);
            for x in 1..stride - 1 {
                out[x] = 0.5 * (row[x + 1] - row[x - 1]);
            }
            out[stride - 1] = 0.5 * (row[stride - 1] - row[stride - 2]);
            let (up, down) = (y.saturating_sub(1) * stride, (y + 1).min(rows - 1) * stride);
            let out = &mut gy.data[y * stride..(y + 1) * stride];
            for (x, o) in out.iter_mut().enumerate() {
                *o = 0.5 * (s[down + x] - s[up + x]);
            }
        }
    }

    /// Index of image pixel (x, y); callers keep it within the border.
    #[inline]
    fn at(&self, x: isize, y: isize) -> usize {
        (y + PAD as isize) as usize * self.stride + (x + PAD as isize) as usize
    }
}

impl Pyramid {
    /// Rebuilds the pyramid from `base`, reusing buffers when the sizes match.
    pub fn build(&mut self, base: &Plane, levels: usize) {
        let levels = levels.max(1);
        self.levels.truncate(levels);
        if self.levels.is_empty() {
            self.levels.push(base.clone());
        } else if self.levels[0].dim() != base.dim() {
            self.levels[0] = base.clone();
        } else {
            self.levels[0].assign(base);
        }
        for l in 1..levels {
            let (h, w) = self.levels[l - 1].dim();
            let (nh, nw) = (h.div_ceil(2).max(1), w.div_ceil(2).max(1));
            if self.levels.len() <= l {
                self.levels.push(Plane::zeros((nh, nw)));
            } else if self.levels[l].dim() != (nh, nw) {
                self.levels[l] = Plane::zeros((nh, nw));
            }
            let (prev, rest) = self.levels.split_at_mut(l);
            downsample_2x(&prev[l - 1], &mut rest[0]);
        }
        self.padded.resize_with(levels, Padded::default);
        for (p, level) in self.padded.iter_mut().zip(&self.levels) {
            p.fill_from(level);
        }
        // Gradients of the previous content would no longer match.
        self.grad_x.clear();
        self.grad_y.clear();
    }

    /// Builds the pyramid and the gradients of every level: the template side of
    /// Lucas–Kanade needs them, computed once per frame rather than once per point.
    pub fn build_with_gradients(&mut self, base: &Plane, levels: usize) {
        let (mut gx, mut gy) = (
            std::mem::take(&mut self.grad_x),
            std::mem::take(&mut self.grad_y),
        );
        self.build(base, levels);
        let n = self.padded.len();
        gx.resize_with(n, Padded::default);
        gy.resize_with(n, Padded::default);
        for l in 0..n {
            Padded::gradients(&self.padded[l], &mut gx[l], &mut gy[l]);
        }
        self.grad_x = gx;
        self.grad_y = gy;
    }
}

/// Binomial [1 2 1]² blur and decimation (edges replicate): anti-aliasing for the pyramid,
/// so coarse levels still see large motions of fine skin texture.
fn downsample_2x(src: &Plane, dst: &mut Plane) {
    let (h, w) = src.dim();
    let (nh, nw) = dst.dim();
    let s = src.as_slice().expect("pyramid planes are contiguous");
    let d = dst.as_slice_mut().expect("pyramid planes are contiguous");
    let clamp_x = |x: isize| x.clamp(0, w as isize - 1) as usize;
    let clamp_y = |y: isize| y.clamp(0, h as isize - 1) as usize;
    // The same sum, in the same order, for the clamped edge pixels and the interior.
    let blur = |a: [f32; 3], b: [f32; 3], c: [f32; 3]| {
        let mut acc = 0.0;
        for (t, wy) in [a, b, c].into_iter().zip([1.0f32, 2.0, 1.0]) {
            acc += wy * (t[0] + 2.0 * t[1] + t[2]);
        }
        acc / 16.0
    };
    for y in 0..nh {
        let cy = 2 * y as isize;
        let rows = [clamp_y(cy - 1) * w, clamp_y(cy) * w, clamp_y(cy + 1) * w];
        let out = &mut d[y * nw..(y + 1) * nw];
        let edge = |x: usize| {
            let cx = 2 * x as isize;
            let cols = [clamp_x(cx - 1), clamp_x(cx), clamp_x(cx + 1)];
            let t = |r: usize| [s[r + cols[0]], s[r + cols[1]], s[r + cols[2]]];
            blur(t(rows[0]), t(rows[1]), t(rows[2]))
        };
        // Interior columns (1 <= x, 2x + 1 < w) need no clamping: their three source
        // columns start at 2x - 1, every other window of three.
        let tri = |r: usize| s[r + 1..r + w].windows(3).step_by(2);
        let interior = tri(rows[0]).zip(tri(rows[1])).zip(tri(rows[2]));
        out[0] = edge(0);
        let mut x_end = 1;
        for (o, ((a, b), c)) in out.iter_mut().skip(1).zip(interior) {
            *o = blur([a[0], a[1], a[2]], [b[0], b[1], b[2]], [c[0], c[1], c[2]]);
            x_end += 1;
        }
        for (x, o) in out.iter_mut().enumerate().skip(x_end) {
            *o = edge(x);
        }
    }
}

/// The original `downsample_2x`, clamping every pixel: the reference the fast one is
/// tested against.
#[cfg(test)]
fn downsample_2x_reference(src: &Plane, dst: &mut Plane) {
    let (h, w) = src.dim();
    let (nh, nw) = dst.dim();
    let s = src.as_slice().expect("pyramid planes are contiguous");
    let d = dst.as_slice_mut().expect("pyramid planes are contiguous");
    let clamp_x = |x: isize| x.clamp(0, w as isize - 1) as usize;
    let clamp_y = |y: isize| y.clamp(0, h as isize - 1) as usize;
    for y in 0..nh {
        let cy = 2 * y as isize;
        let rows = [clamp_y(cy - 1) * w, clamp_y(cy) * w, clamp_y(cy + 1) * w];
        for x in 0..nw {
            let cx = 2 * x as isize;
            let cols = [clamp_x(cx - 1), clamp_x(cx), clamp_x(cx + 1)];
            let mut acc = 0.0;
            for (ry, wy) in rows.iter().zip([1.0f32, 2.0, 1.0]) {
                acc += wy * (s[ry + cols[0]] + 2.0 * s[ry + cols[1]] + s[ry + cols[2]]);
            }
            d[y * nw + x] = acc / 16.0;
        }
    }
}

/// Bilinear sample with edge clamping.
#[inline]
fn bilinear(s: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let x0 = x.floor() as usize;
    let y0 = y.floor() as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let a = s[y0 * w + x0] + fx * (s[y0 * w + x1] - s[y0 * w + x0]);
    let b = s[y1 * w + x0] + fx * (s[y1 * w + x1] - s[y1 * w + x0]);
    a + fy * (b - a)
}

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
    avx: bool,
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
struct Window<'a, const ROWS: usize> {
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

/// Sum of 8 lanes in a fixed order (pairwise, as vector code reduces).
#[inline]
fn lane_sum(v: &[f32; 8]) -> f32 {
    ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
}

/// `lane_sum` of a vector: the library's own reduction may add in another order.
#[inline]
fn lane_sum8(v: f32x8) -> f32 {
    lane_sum(&v.to_array())
}

/// `lane_sum8` of two vectors at once, in vector registers: the same additions in the same
/// order, so the same bits as two `lane_sum8`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn lane_sums2(u: f32x8, v: f32x8) -> (f32, f32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of the x86-64 baseline, and nothing here touches memory.
    unsafe {
        let (u, v) = (u.to_array(), v.to_array());
        let half = |a: &[f32; 8], i: usize| _mm_setr_ps(a[i], a[i + 1], a[i + 2], a[i + 3]);
        // a = [u0+u4, u1+u5, u2+u6, u3+u7], b likewise for v.
        let a = _mm_add_ps(half(&u, 0), half(&u, 4));
        let b = _mm_add_ps(half(&v, 0), half(&v, 4));
        reduce_halves(a, b)
    }
}

/// The rest of `lane_sums2` from `a = [u0+u4, u1+u5, u2+u6, u3+u7]` and `b` likewise.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn reduce_halves(a: std::arch::x86_64::__m128, b: std::arch::x86_64::__m128) -> (f32, f32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of the x86-64 baseline, and nothing here touches memory.
    unsafe {
        // s = [a0+a1, a2+a3, b0+b1, b2+b3]
        let s = _mm_add_ps(
            _mm_shuffle_ps::<0b10_00_10_00>(a, b),
            _mm_shuffle_ps::<0b11_01_11_01>(a, b),
        );
        // t = [s0+s1, _, s2+s3, _]
        let t = _mm_add_ps(s, _mm_shuffle_ps::<0b10_11_00_01>(s, s));
        (_mm_cvtss_f32(t), _mm_cvtss_f32(_mm_movehl_ps(t, t)))
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn lane_sums2(u: f32x8, v: f32x8) -> (f32, f32) {
    (lane_sum8(u), lane_sum8(v))
}

/// Whether this CPU runs AVX instructions.
fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Eight `f32` lanes as the Lucas–Kanade kernel uses them: `wide::f32x8` (two SSE registers
/// on plain x86-64) or `avx::Avx8` (one AVX register). The same IEEE operation in every
/// lane and the same order of the lane sums, so both give the same bits.
trait Lanes8:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    fn zero() -> Self;
    fn splat(v: f32) -> Self;
    fn from_array(a: [f32; 8]) -> Self;
    /// # Safety
    /// `p..p + 8` must be readable.
    unsafe fn load(p: *const f32) -> Self;
    /// `lane_sum` of each of two vectors.
    fn sums2(u: Self, v: Self) -> (f32, f32);
    /// `lane_sum` of the lanes.
    fn sum(self) -> f32;
}

impl Lanes8 for f32x8 {
    #[inline(always)]
    fn zero() -> Self {
        f32x8::ZERO
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        f32x8::splat(v)
    }
    #[inline(always)]
    fn from_array(a: [f32; 8]) -> Self {
        f32x8::new(a)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable values.
        f32x8::new(unsafe { std::ptr::read_unaligned(p.cast()) })
    }
    #[inline(always)]
    fn sums2(u: Self, v: Self) -> (f32, f32) {
        lane_sums2(u, v)
    }
    #[inline(always)]
    fn sum(self) -> f32 {
        lane_sum8(self)
    }
}

/// One AVX register as `Lanes8`. Its operations are AVX instructions: it is only ever made
/// inside `LucasKanade::track_level_avx`, which runs once the CPU is known to have AVX, and
/// everything that touches it is inlined into that function.
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Lanes8, lane_sum, reduce_halves};
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(super) struct Avx8(__m256);

    // SAFETY (every block below): AVX is available wherever an `Avx8` exists (above), and
    // no block reads memory except `load`, whose caller vouches for it.
    impl std::ops::Add for Avx8 {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            Self(unsafe { _mm256_add_ps(self.0, o.0) })
        }
    }
    impl std::ops::Sub for Avx8 {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            Self(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
    }
    impl std::ops::Mul for Avx8 {
        type Output = Self;
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            Self(unsafe { _mm256_mul_ps(self.0, o.0) })
        }
    }
    impl std::ops::AddAssign for Avx8 {
        #[inline(always)]
        fn add_assign(&mut self, o: Self) {
            *self = *self + o;
        }
    }
    impl Lanes8 for Avx8 {
        #[inline(always)]
        fn zero() -> Self {
            Self(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Self(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        fn from_array(a: [f32; 8]) -> Self {
            Self(unsafe { _mm256_loadu_ps(a.as_ptr()) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Self(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        fn sums2(u: Self, v: Self) -> (f32, f32) {
            // The same additions as `lane_sums2`: lanes i and i + 4 first.
            let (a, b) = unsafe {
                (
                    _mm_add_ps(_mm256_castps256_ps128(u.0), _mm256_extractf128_ps::<1>(u.0)),
                    _mm_add_ps(_mm256_castps256_ps128(v.0), _mm256_extractf128_ps::<1>(v.0)),
                )
            };
            reduce_halves(a, b)
        }
        #[inline(always)]
        fn sum(self) -> f32 {
            let mut a = [0.0f32; 8];
            unsafe { _mm256_storeu_ps(a.as_mut_ptr(), self.0) };
            lane_sum(&a)
        }
    }
}

/// Whole-pixel base and fraction of a window position, shared by every pixel of the window
/// (re-rounding `x + dx` per pixel would differ in the last bit). `None` once the position
/// has run away (not finite or absurdly far): the caller stops iterating.
#[inline]
fn split_position(x: f32, y: f32) -> Option<(isize, isize, f32, f32)> {
    if !(x.abs() < 1e6 && y.abs() < 1e6) {
        return None;
    }
    let (x0, y0) = (floor_small(x), floor_small(y));
    Some((x0, y0, x - x0 as f32, y - y0 as f32))
}

/// Bilinear sample at (x0 + fx, y0 + fy) with the 2x2 neighbourhood clamped to the image:
/// what the padded levels give, pixel by pixel.
#[inline]
fn sample_at(s: &[f32], w: usize, h: usize, x0: isize, y0: isize, fx: f32, fy: f32) -> f32 {
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
fn floor_i(x: f32) -> isize {
    let i = x as isize;
    if (i as f32) > x { i - 1 } else { i }
}

/// `floor_i` for |x| < 1e6 (checked by the caller), without the saturating conversion's
/// range handling: this runs twice per Lucas–Kanade iteration.
#[inline]
fn floor_small(x: f32) -> isize {
    debug_assert!(x.abs() < 1e6);
    // SAFETY: |x| < 1e6 is finite and well inside i32's range.
    let i = unsafe { x.to_int_unchecked::<i32>() } as isize;
    if (i as f32) > x { i - 1 } else { i }
}

/// Applies one Lucas–Kanade update from the structure tensor `[sxx, sxy, syy, det]` and the
/// mismatch vector (bx, by). Returns true once the update is below `epsilon` (converged).
#[inline]
fn gauss_newton_step(
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
fn settle(u: (f32, f32), guess: (f32, f32), weight: f32, size: usize) -> ((f32, f32), f32) {
    let lim = size as f32 * 0.5;
    if !u.0.is_finite() || !u.1.is_finite() || u.0.abs() > lim || u.1.abs() > lim {
        return (guess, 0.0);
    }
    (u, weight)
}

/// Affine motion `d(p) = A (p - c) + t` of a set of points about centre `c`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Affine {
    /// Row-major 2x2 part: [a11 a12; a21 a22] (a displacement gradient, 0 = no deformation).
    pub a: [f32; 4],
    /// Displacement at the centre.
    pub t: [f32; 2],
    pub centre: [f32; 2],
    /// Share of reliable points that agree with the fit (0..1).
    pub inlier_share: f32,
    /// Robust scale of the residuals (pixels).
    pub residual_scale: f32,
}

impl Affine {
    /// Displacement the fitted motion predicts at point (x, y).
    pub fn predict(&self, x: f32, y: f32) -> (f32, f32) {
        let (u, v) = (x - self.centre[0], y - self.centre[1]);
        (
            self.a[0] * u + self.a[1] * v + self.t[0],
            self.a[2] * u + self.a[3] * v + self.t[1],
        )
    }

    /// Uniform scale change (1 = none) of the similarity closest to this affine.
    pub fn scale(&self) -> f32 {
        1.0 + 0.5 * (self.a[0] + self.a[3])
    }

    /// Rotation in radians of the closest similarity (small-angle).
    pub fn rotation(&self) -> f32 {
        0.5 * (self.a[2] - self.a[1])
    }
}

/// Scratch for `fit_affine`, kept across frames so that a fit allocates nothing.
#[derive(Debug, Default)]
pub struct AffineScratch {
    /// Per point: its position about the centre, as the least-squares rows use it.
    rows: Vec<[f64; 2]>,
    /// Per point: the weight of this round of the reweighting.
    robust_w: Vec<f64>,
    /// The residuals of the reliable points (for their median).
    reliable: Vec<f32>,
}

/// Robust (iteratively reweighted, Tukey) affine fit of `flows` at `points`. `residuals`
/// gets each point's distance from the fitted motion (pixels). Returns `None` when too few
/// points are reliable.
pub fn fit_affine(
    points: &[(f32, f32)],
    flows: &[FlowVec],
    residuals: &mut Vec<f32>,
    scratch: &mut AffineScratch,
) -> Option<Affine> {
    let n = points.len().min(flows.len());
    let (points, flows) = (&points[..n], &flows[..n]);
    residuals.clear();
    let reliable = flows.iter().filter(|f| f.weight > 0.0).count();
    if reliable < 6 {
        return None;
    }
    let (mut cx, mut cy, mut sw) = (0.0f64, 0.0f64, 0.0f64);
    for (p, f) in points.iter().zip(flows) {
        cx += (f.weight * p.0) as f64;
        cy += (f.weight * p.1) as f64;
        sw += f.weight as f64;
    }
    let centre = [(cx / sw) as f32, (cy / sw) as f32];
    let mut model = Affine {
        centre,
        ..Affine::default()
    };
    let AffineScratch {
        rows,
        robust_w,
        reliable: rel,
    } = scratch;
    rows.clear();
    rows.extend(
        points
            .iter()
            .map(|p| [(p.0 - centre[0]) as f64, (p.1 - centre[1]) as f64]),
    );
    residuals.resize(n, 0.0);
    let mut scale = 0.0f32;
    for iter in 0..4 {
        robust_w.clear();
        robust_w.extend(flows.iter().zip(residuals.iter()).map(|(f, &r)| {
            let base = f.weight as f64;
            if iter == 0 || base == 0.0 {
                base
            } else {
                // Tukey biweight with c = 4.685 sigma.
                let u = r / (4.685 * scale);
                if u.abs() >= 1.0 {
                    0.0
                } else {
                    base * ((1.0 - u * u) * (1.0 - u * u)) as f64
                }
            }
        }));
        let next = solve_affine(rows, flows, robust_w, centre)?;
        model = Affine { centre, ..next };
        for ((p, f), r) in points.iter().zip(flows).zip(residuals.iter_mut()) {
            let (px, py) = model.predict(p.0, p.1);
            *r = ((f.dx - px).powi(2) + (f.dy - py).powi(2)).sqrt();
        }
        rel.clear();
        rel.extend(
            flows
                .iter()
                .zip(residuals.iter())
                .filter(|(f, _)| f.weight > 0.0)
                .map(|(_, &r)| r),
        );
        scale = (1.4826 * median(rel)).max(0.05);
    }
    let inliers = flows
        .iter()
        .zip(residuals.iter())
        .filter(|&(f, &r)| f.weight > 0.0 && r < 2.5 * scale)
        .count();
    model.inlier_share = inliers as f32 / reliable as f32;
    model.residual_scale = scale;
    Some(model)
}

/// Weighted least squares for dx and dy separately, each `a*u + b*v + t`, with `rows` the
/// points' (u, v) about `centre`.
fn solve_affine(
    rows: &[[f64; 2]],
    flows: &[FlowVec],
    w: &[f64],
    centre: [f32; 2],
) -> Option<Affine> {
    let mut m = [[0.0f64; 3]; 3];
    let mut bx = [0.0f64; 3];
    let mut by = [0.0f64; 3];
    for ((&[u, v], f), &wi) in rows.iter().zip(flows).zip(w) {
        if wi <= 0.0 {
            continue;
        }
        let row = [u, v, 1.0];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] += wi * row[r] * row[c];
            }
            bx[r] += wi * row[r] * f.dx as f64;
            by[r] += wi * row[r] * f.dy as f64;
        }
    }
    let sx = solve3(m, bx)?;
    let sy = solve3(m, by)?;
    Some(Affine {
        a: [sx[0] as f32, sx[1] as f32, sy[0] as f32, sy[1] as f32],
        t: [sx[2] as f32, sy[2] as f32],
        centre,
        inlier_share: 1.0,
        residual_scale: 0.0,
    })
}

/// Solves a 3x3 system by Cramer's rule; `None` if (nearly) singular.
fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-9 {
        return None;
    }
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let mut mc = m;
        for r in 0..3 {
            mc[r][c] = b[r];
        }
        *o = det(&mc) / d;
    }
    Some(out)
}

/// Median of a slice (reorders it); 0 for an empty slice.
pub fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    *m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::bench::texture;

    fn render(size: usize, f: impl Fn(f32, f32) -> f32) -> Plane {
        Plane::from_shape_fn((size, size), |(y, x)| f(x as f32, y as f32))
    }

    fn grid(size: usize, step: usize, margin: usize) -> Vec<(f32, f32)> {
        let mut p = vec![];
        for y in (margin..size - margin).step_by(step) {
            for x in (margin..size - margin).step_by(step) {
                p.push((x as f32, y as f32));
            }
        }
        p
    }

    fn flow_between(a: &Plane, b: &Plane, pts: &[(f32, f32)]) -> Vec<FlowVec> {
        let (mut pa, mut pb) = (Pyramid::default(), Pyramid::default());
        let params = FlowParams::default();
        pa.build_with_gradients(a, params.levels);
        pb.build(b, params.levels);
        let mut lk = LucasKanade::new(params);
        let mut out = vec![FlowVec::default(); pts.len()];
        lk.track(&pa, &pb, pts, &mut out);
        out
    }

    #[test]
    fn recovers_subpixel_translation() {
        for &(sx, sy) in &[(0.3f32, -0.2f32), (1.7, 0.9), (-4.2, 3.1), (9.0, -6.5)] {
            let a = render(96, texture);
            let b = render(96, |x, y| texture(x - sx, y - sy));
            let pts = grid(96, 8, 20);
            let f = flow_between(&a, &b, &pts);
            let mut ex: Vec<f32> = f.iter().map(|v| (v.dx - sx).abs()).collect();
            let mut ey: Vec<f32> = f.iter().map(|v| (v.dy - sy).abs()).collect();
            assert!(
                median(&mut ex) < 0.05,
                "shift {sx},{sy}: dx error {}",
                median(&mut ex)
            );
            assert!(
                median(&mut ey) < 0.05,
                "shift {sx},{sy}: dy error {}",
                median(&mut ey)
            );
        }
    }

    #[test]
    fn affine_fit_recovers_rotation_scale_and_ignores_a_local_twitch() {
        // Rotate 3 degrees and scale 1.03 about the centre; a local patch moves down 3 px.
        let (c, ang, s) = (48.0f32, 3.0f32.to_radians(), 1.03f32);
        let warp = |x: f32, y: f32| {
            // Inverse map of the similarity for rendering the moved image.
            let (u, v) = ((x - c) / s, (y - c) / s);
            let (ca, sa) = (ang.cos(), ang.sin());
            (c + ca * u + sa * v, c - sa * u + ca * v)
        };
        let a = render(96, texture);
        let b = render(96, |x, y| {
            let (u, v) = warp(x, y);
            let twitch = if (60.0..80.0).contains(&x) && (20.0..36.0).contains(&y) {
                3.0
            } else {
                0.0
            };
            texture(u, v - twitch)
        });
        let pts = grid(96, 4, 12);
        let f = flow_between(&a, &b, &pts);
        let mut w = vec![];
        let m = fit_affine(&pts, &f, &mut w, &mut AffineScratch::default()).expect("fit");
        assert!(
            (m.rotation() - ang).abs() < 0.004,
            "rotation {}",
            m.rotation()
        );
        assert!((m.scale() - s).abs() < 0.006, "scale {}", m.scale());
        // Residuals: large in the twitch patch, small elsewhere.
        let (mut inside, mut outside) = (vec![], vec![]);
        for (i, p) in pts.iter().enumerate() {
            if (64.0..76.0).contains(&p.0) && (24.0..32.0).contains(&p.1) {
                inside.push(w[i]);
            } else if !((56.0..84.0).contains(&p.0) && (16.0..40.0).contains(&p.1)) {
                outside.push(w[i]);
            }
        }
        assert!(
            median(&mut inside) > 2.0,
            "twitch residual {}",
            median(&mut inside)
        );
        assert!(
            median(&mut outside) < 0.25,
            "background residual {}",
            median(&mut outside)
        );
    }

    #[test]
    fn flat_patches_are_distrusted() {
        let a = render(64, |_, _| 100.0);
        let b = render(64, |_, _| 100.0);
        let f = flow_between(&a, &b, &[(32.0, 32.0)]);
        assert_eq!(f[0].weight, 0.0);
    }

    proptest::proptest! {
        /// The interior of the fast downsampling adds what the clamping reference adds, in
        /// the same order: the same bits, at every size (odd, even, one pixel wide).
        #[test]
        fn downsample_matches_reference(
            h in 1usize..24, w in 1usize..24, seed in 0u64..1000,
        ) {
            let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let src = Plane::from_shape_fn((h, w), |_| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (rng >> 40) as f32 / 65536.0
            });
            let (nh, nw) = (h.div_ceil(2), w.div_ceil(2));
            let (mut fast, mut slow) = (Plane::zeros((nh, nw)), Plane::zeros((nh, nw)));
            downsample_2x(&src, &mut fast);
            downsample_2x_reference(&src, &mut slow);
            for (f, r) in fast.iter().zip(slow.iter()) {
                proptest::prop_assert_eq!(f.to_bits(), r.to_bits());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// The fast path computes exactly what the simple reference computes.
        #[test]
        fn fast_track_matches_reference(
            sx in -6.0f32..6.0, sy in -6.0f32..6.0, phase in 0.0f32..6.0, seed in 0u32..1000,
        ) {
            let tex = |x: f32, y: f32| texture(x + phase * 7.0 + seed as f32 * 0.37, y - phase * 3.0);
            let a = render(64, tex);
            let b = render(64, |x, y| tex(x - sx, y - sy));
            let pts = grid(64, 4, 0);
            let params = FlowParams::default();
            let (mut pa, mut pb) = (Pyramid::default(), Pyramid::default());
            pa.build_with_gradients(&a, params.levels);
            pb.build(&b, params.levels);
            let mut lk = LucasKanade::new(params);
            let mut fast = vec![FlowVec::default(); pts.len()];
            let mut slow = fast.clone();
            lk.track(&pa, &pb, &pts, &mut fast);
            // The reference samples at the same whole-pixel points per level.
            let snapped: Vec<(f32, f32)> = pts.clone();
            lk.track_reference(&pa, &pb, &snapped, &mut slow);
            for (f, r) in fast.iter().zip(&slow) {
                proptest::prop_assert!((f.dx - r.dx).abs() < 1e-3 && (f.dy - r.dy).abs() < 1e-3, "{f:?} vs {r:?}");
                proptest::prop_assert!((f.weight - r.weight).abs() < 1e-4);
            }
        }

        /// Where the CPU has AVX, its kernel gives the SSE kernel's bits: for every window
        /// size, points near and past the edges (the clamped path) and large motions.
        #[test]
        fn avx_kernel_matches_sse_to_the_bit(
            sx in -12.0f32..12.0, sy in -12.0f32..12.0, phase in 0.0f32..6.0,
            seed in 0u32..1000, radius in 1usize..=4,
        ) {
            let tex = |x: f32, y: f32| texture(x + phase * 7.0 + seed as f32 * 0.37, y - phase * 3.0);
            let a = render(48, tex);
            let b = render(48, |x, y| tex(x * 1.02 - sx, y - sy));
            let mut pts = grid(48, 3, 0);
            pts.extend([(-3.0, 5.0), (47.5, 47.5), (60.0, -8.0), (23.5, 0.0)]);
            let params = FlowParams { window_radius: radius, ..FlowParams::default() };
            let (mut pa, mut pb) = (Pyramid::default(), Pyramid::default());
            pa.build_with_gradients(&a, params.levels);
            pb.build(&b, params.levels);
            let mut sse = LucasKanade::new(params.clone());
            sse.avx = false;
            let mut auto = LucasKanade::new(params);
            let mut want = vec![FlowVec::default(); pts.len()];
            let mut got = want.clone();
            sse.track(&pa, &pb, &pts, &mut want);
            auto.track(&pa, &pb, &pts, &mut got);
            for (g, w) in got.iter().zip(&want) {
                let bits = |f: &FlowVec| (f.dx.to_bits(), f.dy.to_bits(), f.weight.to_bits());
                proptest::prop_assert_eq!(bits(g), bits(w), "{:?} vs {:?}", g, w);
            }
        }
    }
}
