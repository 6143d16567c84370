//! Optical flow on face-aligned crops: pyramidal Lucas–Kanade on a grid, and a robust affine
//! fit of the whole face's motion so that head motion can be subtracted.
//!
//! Input: two same-size `Plane`s (previous and current crop). Output: per-grid-point
//! displacement and residual after removing the fitted affine motion. Thread: analysis.
//!
//! `pyramid` builds the levels, `lucas_kanade` tracks the points through them on the eight
//! lanes of `simd`, `affine` fits the head's motion; `median` is shared by the callers.

use ndarray::Array2;
use wide::f32x8;

mod affine;
mod lucas_kanade;
mod pyramid;
mod simd;

pub use affine::{Affine, AffineScratch, fit_affine};
pub use lucas_kanade::LucasKanade;
pub use pyramid::Pyramid;
use {pyramid::*, simd::*};

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
    use crate::test_support::texture;

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
