//! Image pyramid of a crop, its levels padded and reused across frames, and the bilinear
//! sampling Lucas–Kanade reads it with. Thread: analysis.

use super::*;

/// An image pyramid whose levels are reused across frames (no allocation once warm).
#[derive(Debug, Default)]
pub struct Pyramid {
    pub levels: Vec<Plane>,
    /// Each level with a replicated border of `PAD` pixels, so that Lucas–Kanade windows
    /// near (or a little past) the edge read what edge-clamped sampling would, without a
    /// branch per pixel.
    pub(super) padded: Vec<Padded>,
    /// Central-difference gradients of each padded level (only after
    /// `build_with_gradients`); outside the image they are those of the clamped image.
    pub(super) grad_x: Vec<Padded>,
    pub(super) grad_y: Vec<Padded>,
}

/// Border width of padded levels, pixels. Covers a window of radius 3 read 8 lanes wide
/// plus a few pixels of displacement past the edge; beyond that the per-pixel clamped
/// path is used.
pub(super) const PAD: usize = 8;

/// A plane stored with a `PAD`-pixel replicated border; (0, 0) is the first image pixel.
#[derive(Debug, Default, Clone)]
pub(super) struct Padded {
    pub(super) data: Vec<f32>,
    pub(super) stride: usize,
    pub(super) rows: usize,
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
    pub(super) fn at(&self, x: isize, y: isize) -> usize {
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
pub(super) fn downsample_2x(src: &Plane, dst: &mut Plane) {
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
pub(super) fn downsample_2x_reference(src: &Plane, dst: &mut Plane) {
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
pub(super) fn bilinear(s: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
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
