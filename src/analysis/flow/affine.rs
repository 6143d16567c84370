//! Robust affine fit of the whole face's motion, so that head motion can be subtracted.
//! Thread: analysis.

use super::*;

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
pub(super) fn solve_affine(
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
pub(super) fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
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
