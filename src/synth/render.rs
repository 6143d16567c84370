//! Renders one luma frame of a `Scenario` by inverse warping: each output pixel is mapped
//! back through camera shake, the head's similarity pose (translation, roll, scale), yaw and
//! pitch foreshortening (the face is treated as a cylinder) and the local deformation fields
//! of the muscles, into rest face coordinates, where shading, features and a fine skin
//! texture fixed to the face are evaluated. Motion is therefore smooth and sub-pixel.
//!
//! Face coordinates: `u` to the image's right in an unmirrored frontal view, `v` down, unit =
//! half the face width; the face is the ellipse u² + (v/1.3)² < 1. The person's left side is
//! at u > 0 (image right). Mirroring flips the finished frame.

use super::{DistractorKind, Scenario};
use crate::anatomy::{RegionKind, Side};
use crate::source::Frame;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand::Rng;
use std::f32::consts::{FRAC_PI_2, PI, TAU};

/// Face-coordinate sign of a person's side: left → +1 (image right, unmirrored).
fn sign(side: Side) -> f32 {
    match side {
        Side::Left => 1.0,
        Side::Right => -1.0,
    }
}

const EYE_U: f32 = 0.38;
const EYE_V: f32 = -0.18;
const EYE_HW: f32 = 0.17;
const EYE_HH: f32 = 0.085;
const MOUTH_V: f32 = 0.66;
const MOUTH_HW: f32 = 0.29;
const HEAD_B: f32 = 1.3;

/// Everything that changes with time, evaluated once per frame.
#[derive(Debug, Clone, Default)]
struct State {
    /// Head centre, pixels (before camera shake).
    cx: f32,
    cy: f32,
    /// Pixels per face unit.
    scale: f32,
    roll: f32,
    yaw: f32,
    pitch: f32,
    /// Camera shake offset, pixels.
    shake: (f32, f32),
    gain: f32,
    /// Per person's side (index = `Side::index()`): lid closure 0..1, orbicularis squeeze
    /// (skin pulled toward the eye) 0..1, cheek raise 0..1, mouth corner pull 0..1.
    closure: [f32; 2],
    squeeze: [f32; 2],
    cheek: [f32; 2],
    mouth: [f32; 2],
    /// Jaw opening 0..1 (talking), smile 0..1 (both sides).
    jaw: f32,
    smile: f32,
    /// Walker centre x (pixels) and luma.
    walker: Option<(f32, f32)>,
}

/// Renders frames of one scenario. Cheap to create; `render` is pure (same index → same frame).
pub struct Renderer<'a> {
    sc: &'a Scenario,
    seed: u32,
}

impl<'a> Renderer<'a> {
    pub fn new(sc: &'a Scenario) -> Self {
        let seed = (sc.params.seed ^ (sc.params.seed >> 32)) as u32;
        Renderer { sc, seed }
    }

    fn state(&self, t: f64) -> State {
        let p = &self.sc.params;
        let (w, h) = (p.width as f32, p.height as f32);
        let fw = p.face_width_px;
        let ph = self.sc.sway_phase;
        let tf = t as f32;
        let sway = p.sway;
        let mut st = State {
            cx: w * 0.5 + sway * fw * (TAU * 0.13 * tf + ph[0]).sin(),
            cy: h * 0.47 + 0.7 * sway * fw * (TAU * 0.09 * tf + ph[1]).sin(),
            scale: 0.5 * fw * (1.0 + 0.5 * sway * (TAU * 0.05 * tf + ph[2]).sin()),
            roll: 3.0 * sway * (TAU * 0.07 * tf + ph[3]).sin(),
            gain: 1.0,
            ..State::default()
        };
        for tw in &self.sc.twitches {
            let a = tw.activation(t);
            if a <= 0.0 {
                continue;
            }
            let k = tw.side.index();
            for r in &tw.regions {
                match r {
                    RegionKind::Eye => {
                        st.closure[k] = st.closure[k].max(a);
                        st.squeeze[k] = st.squeeze[k].max(a);
                    }
                    RegionKind::Cheek => st.cheek[k] = st.cheek[k].max(a),
                    RegionKind::Mouth => st.mouth[k] = st.mouth[k].max(a),
                }
            }
        }
        for d in &self.sc.distractors {
            if t <= d.start_s || t >= d.end_s {
                continue;
            }
            let x = (t - d.start_s) as f32;
            match d.kind {
                DistractorKind::Blink => {
                    let c = d.amplitude * super::bump(d.progress(t));
                    for k in 0..2 {
                        st.closure[k] = st.closure[k].max(c);
                    }
                }
                DistractorKind::Talk => {
                    let env = d.envelope(t, 0.15);
                    let syll = (PI * d.rate * x + d.phase).sin().abs().powf(1.5);
                    let mod_ = 0.6 + 0.4 * (TAU * 0.7 * x + 2.0 * d.phase).sin();
                    st.jaw = st.jaw.max(d.amplitude * env * syll * mod_);
                }
                DistractorKind::Smile => st.smile = st.smile.max(d.amplitude * d.envelope(t, 0.35)),
                DistractorKind::HeadTurn => {
                    let len = (d.end_s - d.start_s) * 0.35;
                    st.yaw += (d.amplitude * d.envelope(t, len)).to_radians();
                }
                DistractorKind::Nod => {
                    let env = d.envelope(t, 0.2);
                    st.pitch += (d.amplitude * env * (TAU * d.rate * x).sin()).to_radians();
                }
                DistractorKind::Shake => {
                    let env = d.envelope(t, 0.2) * d.amplitude * fw;
                    let a = TAU * d.rate * x + d.phase;
                    st.shake.0 += env * (a.sin() + 0.5 * (2.3 * a).sin()) / 1.5;
                    st.shake.1 += env * ((1.37 * a + 1.0).sin() + 0.5 * (2.9 * a).sin()) / 1.5;
                    st.roll += 0.3 * d.amplitude * d.envelope(t, 0.2) * (1.7 * a).sin();
                }
                DistractorKind::Flicker => {
                    st.gain *= 1.0 + d.amplitude * d.envelope(t, 0.1) * (TAU * d.rate * x + d.phase).sin();
                }
                DistractorKind::Walker => {
                    let pr = d.progress(t) as f32;
                    let pr = if d.rate >= 0.0 { pr } else { 1.0 - pr };
                    st.walker = Some(((-0.15 + 1.3 * pr) * w, d.amplitude));
                }
            }
        }
        // Smiling and a raised cheek push the lower lid up a little.
        for k in 0..2 {
            st.closure[k] = (st.closure[k] + 0.18 * st.smile + 0.15 * st.cheek[k]).min(1.0);
        }
        st
    }

    /// Renders frame `index` (time `index / fps`).
    pub fn render(&self, index: u64) -> Frame {
        let p = &self.sc.params;
        let t = index as f64 / p.fps;
        let st = self.state(t);
        let (w, h) = (p.width as usize, p.height as usize);
        let mut luma = vec![0u8; w * h];
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_add(1));
        let (cr, sr) = (st.roll.cos(), st.roll.sin());
        let inv_s = 1.0 / st.scale;
        let noise = p.noise_sigma / 147.8;
        for y in 0..h {
            let row = &mut luma[y * w..(y + 1) * w];
            for (x, out) in row.iter_mut().enumerate() {
                let xs = x as f32 + 0.5 - st.shake.0;
                let ys = y as f32 + 0.5 - st.shake.1;
                let mut l = self.background(xs, ys, &st);
                let (dx, dy) = (xs - st.cx, ys - st.cy);
                let pu = (dx * cr + dy * sr) * inv_s;
                let pv = (-dx * sr + dy * cr) * inv_s;
                if pu.abs() < 3.0 && pv > -1.9 {
                    l = self.person(pu, pv, l, &st);
                }
                let mut v = l * st.gain;
                if noise > 0.0 {
                    let r = rng.next_u32();
                    let s = (r & 0xff) + ((r >> 8) & 0xff) + ((r >> 16) & 0xff) + (r >> 24);
                    v += (s as f32 - 510.0) * noise;
                }
                *out = v.round().clamp(0.0, 255.0) as u8;
            }
            if p.mirrored {
                row.reverse();
            }
        }
        Frame { index, pts_s: t, width: p.width, height: p.height, luma }
    }

    /// Room behind the person (image coordinates, pixels), with the walker.
    fn background(&self, x: f32, y: f32, st: &State) -> f32 {
        let p = &self.sc.params;
        let (w, h) = (p.width as f32, p.height as f32);
        let mut l = 125.0 + 30.0 * (y / h - 0.5) + 12.0 * vnoise(x / (0.08 * w), y / (0.08 * w), self.seed ^ 11);
        // A door frame.
        let fx = 0.14 * w;
        l -= 35.0 * soft_box((x - fx).abs(), 0.025 * w, 1.5);
        if let Some((wx, wl)) = st.walker {
            let body = soft_box((x - wx).abs(), 0.085 * w, 2.0) * smooth((y - 0.36 * h) / 3.0);
            let hd = ((x - wx).powi(2) + (y - 0.26 * h).powi(2)).sqrt();
            let head = smooth((0.06 * w - hd) / 2.0);
            let a = body.max(head);
            l += a * (wl + 6.0 * vnoise(x / 6.0, y / 6.0, self.seed ^ 12) - l);
        }
        l
    }

    /// Body, hair and face over the background `bg`; (pu, pv): projected face coordinates.
    fn person(&self, pu: f32, pv: f32, bg: f32, st: &State) -> f32 {
        let px = 1.5 * st.scale.recip(); // ~1.5 pixels in face units: edge softness
        let mut l = bg;
        // Shirt and neck (they do not turn with the head).
        let shirt_half = 1.05 + (pv - 1.55) * 1.3;
        if pv > 1.45 {
            let a = smooth((pv - 1.55) / px) * smooth((shirt_half - pu.abs()) / px);
            l += a * (85.0 + 5.0 * vnoise(pu / 0.03, pv / 0.03, self.seed ^ 21) - l);
        }
        if pv > 0.7 {
            let a = smooth((0.45 - pu.abs()) / px) * (1.0 - smooth((pv - 1.55) / px));
            let neck = 120.0 - 25.0 * (pu / 0.45).powi(2) + 4.0 * vnoise(pu / 0.02, pv / 0.02, self.seed ^ 22);
            l += a * (neck - l);
        }
        // Hair volume behind and above the head.
        let hr = (pu / 1.1).powi(2) + ((pv + 0.12) / 1.45).powi(2);
        if hr < 1.2 && pv < 0.35 {
            let a = smooth((1.0 - hr.sqrt()) / px) * smooth((0.3 - pv) / 0.08);
            l += a * (self.hair(pu, pv) - l);
        }
        // The head.
        let r = (pu * pu + (pv / HEAD_B).powi(2)).sqrt();
        if r < 1.0 + px {
            let a = smooth((1.0 - r) / px);
            let head = self.head(pu, pv, st);
            l += a * (head - l);
        }
        l
    }

    fn hair(&self, u: f32, v: f32) -> f32 {
        38.0 + 10.0 * vnoise(u / 0.012, v / 0.12, self.seed ^ 31) + 6.0 * vnoise(u / 0.1, v / 0.1, self.seed ^ 32)
    }

    /// Luma of the head at projected face coordinates (inside the head ellipse).
    fn head(&self, pu: f32, pv: f32, st: &State) -> f32 {
        // Yaw and pitch: the face is a cylinder about the vertical (radius 1) and the
        // horizontal (radius 1.3) axis.
        let a = pu.clamp(-1.0, 1.0).asin() - st.yaw;
        if a.abs() > FRAC_PI_2 {
            return self.hair(pu, pv); // back of the head
        }
        let uf = a.sin();
        let b = (pv / HEAD_B).clamp(-1.0, 1.0).asin() - st.pitch;
        let vf = HEAD_B * b.clamp(-FRAC_PI_2, FRAC_PI_2).sin();
        // Hairline and hair at the sides.
        let hairline = -0.74 + 0.25 * uf * uf - 0.05 * (uf / 0.3).sin() * 0.3;
        let side_hair = smooth((uf.abs() - 0.9) / 0.03) * smooth((0.05 - vf) / 0.1);
        let hair_a = smooth((hairline - vf) / 0.02).max(side_hair);
        // Muscle deformation (inverse, approximate): rest = deformed - d(deformed).
        let (du, dv) = deformation(uf, vf, st);
        let (u, v) = (uf - du, vf - dv);
        let mut l = self.skin(u, v, pu, pv, st);
        // Mouth opening (talking), in deformed coordinates.
        if st.jaw > 0.01 {
            let open = 0.1 * st.jaw;
            let m = (uf / 0.2).powi(2) + ((vf - MOUTH_V - 0.5 * open) / (0.5 * open + 0.004)).powi(2);
            if m < 1.3 {
                l += smooth((1.0 - m) * 6.0) * (30.0 - l);
            }
        }
        if hair_a > 0.0 {
            l += hair_a * (self.hair(uf, vf) - l);
        }
        l
    }

    /// Skin, features and texture at rest face coordinates (u, v); (pu, pv) for lighting.
    fn skin(&self, u: f32, v: f32, pu: f32, pv: f32, st: &State) -> f32 {
        // Lambert shading of an ellipsoid lit from the upper left of the image.
        let nv = pv / HEAD_B;
        let nz = (1.0 - pu * pu - nv * nv).max(0.0).sqrt();
        let lam = (-0.35 * pu - 0.3 * nv + 0.88 * nz).max(0.0);
        let mut l = 45.0 + 140.0 * lam;
        // Texture coordinates; the lids move their own skin.
        let (tu, mut tv) = (u, v);
        for side in Side::BOTH {
            let s = sign(side);
            let k = side.index();
            let (eu, ev) = (u - s * EYE_U, v - EYE_V);
            if eu.abs() > 0.35 || ev.abs() > 0.4 {
                continue;
            }
            // Socket shadow.
            l -= 55.0 * (-(eu * eu / 0.06 + ev * ev / 0.03)).exp();
            // Eyebrow (lowered slightly by a squeeze through the deformation field).
            let vb = -0.27 + 1.1 * eu * eu - 0.02 * s * eu;
            let along = smooth((0.21 - eu.abs()) / 0.05);
            l -= 95.0 * along * (-((ev - vb) / 0.04).powi(2)).exp();
            // Eye.
            let (eye, lid_shift) = eye(eu, ev, st.closure[k], 1.5 / st.scale);
            if let Some((eye_l, alpha)) = eye {
                l += alpha * (eye_l - l);
            }
            tv -= lid_shift;
        }
        // Nose: shadow on the far side of the bridge, tip highlight, shadow below, nostrils.
        let win = smooth((v + 0.1) / 0.08) * smooth((0.33 - v) / 0.05);
        l -= 18.0 * win * (-((u - 0.085) / 0.035).powi(2)).exp();
        l += 10.0 * (-((u / 0.07).powi(2) + ((v - 0.25) / 0.06).powi(2))).exp();
        l -= 40.0 * (-(((v - 0.37) / 0.035).powi(2) + (u / 0.15).powi(2))).exp();
        for s in [-1.0f32, 1.0] {
            l -= 45.0 * (-(((u - s * 0.07) / 0.03).powi(2) + ((v - 0.345) / 0.018).powi(2))).exp();
        }
        // Lips and the line between them.
        let mu = u / MOUTH_HW;
        if mu.abs() < 1.2 && (v - MOUTH_V).abs() < 0.15 {
            let sm = (1.0 - mu * mu).max(0.0).sqrt();
            let e = 1.5 / st.scale;
            let upper = smooth((v - (MOUTH_V - 0.045 * sm)) / e) * smooth((MOUTH_V - v) / e + 0.5);
            let lower = smooth((MOUTH_V + 0.06 * sm - v) / e) * smooth((v - MOUTH_V) / e + 0.5);
            l -= 60.0 * upper.max(lower) * smooth(sm / 0.15);
            l -= 70.0 * (-((v - MOUTH_V) / 0.014).powi(2)).exp() * smooth(sm / 0.08 + 0.2);
            // Shadow under the lower lip.
            l -= 14.0 * (-(((v - MOUTH_V - 0.11) / 0.03).powi(2) + (u / 0.2).powi(2))).exp();
        }
        // Fine texture fixed to the face, band-limited: finer octaves fade out when they
        // would fall below ~1.5 pixels.
        let px = 1.0 / st.scale;
        let fine = smooth((0.018 / px - 1.2) / 1.0);
        l += 7.0 * fine * vnoise(tu / 0.018, tv / 0.018, self.seed ^ 41)
            + 6.0 * vnoise(tu / 0.05, tv / 0.05, self.seed ^ 42)
            + 5.0 * vnoise(tu / 0.15, tv / 0.15, self.seed ^ 43);
        l
    }
}

/// Eye relative to its centre (eu, ev) with lid closure `c` (0 open, 1 shut).
/// Returns the eyeball colour and its coverage (if any), and how far the lid skin at this
/// point has moved down (positive) or up, for the texture.
fn eye(eu: f32, ev: f32, c: f32, edge: f32) -> (Option<(f32, f32)>, f32) {
    let x = eu / EYE_HW;
    let s = (1.0 - x * x).max(0.0).powf(0.7);
    let top_rest = -EYE_HH * s;
    let bot_rest = 0.75 * EYE_HH * s;
    let meet = top_rest + 0.7 * (bot_rest - top_rest);
    let top = top_rest + c * (meet - top_rest);
    let bot = bot_rest + c * (meet - bot_rest);
    // Lid skin moves: full shift at the lid margin, fading over 0.12 above / 0.08 below.
    let mut shift = 0.0;
    if ev < top && ev > top_rest - 0.12 {
        let w = ((ev - (top_rest - 0.12)) / (top - (top_rest - 0.12)).max(1e-4)).clamp(0.0, 1.0);
        shift = (top - top_rest) * w;
    } else if ev > bot && ev < bot_rest + 0.08 {
        let w = (((bot_rest + 0.08) - ev) / ((bot_rest + 0.08) - bot).max(1e-4)).clamp(0.0, 1.0);
        shift = (bot - bot_rest) * w;
    }
    if x.abs() >= 1.05 {
        return (None, shift);
    }
    let inside = smooth((ev - top) / edge) * smooth((bot - ev) / edge) * smooth((1.0 - x.abs()) / 0.05);
    // Eyeball: sclera darker at the corners, iris, pupil, highlight, lid shadow.
    let mut l = 205.0 - 60.0 * x.powi(4);
    let ir = (eu * eu + (ev - 0.004).powi(2)).sqrt();
    l += smooth((0.07 - ir) / edge) * (75.0 + 25.0 * (ir / 0.07) - l);
    l += smooth((0.027 - ir) / edge) * (18.0 - l);
    let hl = ((eu - 0.016).powi(2) + (ev + 0.016).powi(2)).sqrt();
    l += smooth((0.010 - hl) / edge) * (235.0 - l);
    l -= 45.0 * (-(ev - top).max(0.0) / 0.02).exp() * inside;
    // Lash line on the upper lid margin, thinner line on the lower.
    let lash = (-((ev - top) / 0.014).powi(2)).exp() * smooth((1.02 - x.abs()) / 0.08);
    let lower = (-((ev - bot) / 0.008).powi(2)).exp() * smooth((1.0 - x.abs()) / 0.1);
    // Combine: inside → eyeball; the lines darken whatever is there.
    let alpha = inside.max(0.0);
    let dark = 110.0 * lash.max(0.7 * lower);
    // Upper lid crease.
    let crease = 22.0 * (-((ev - (top_rest - 0.045 + 0.6 * (top - top_rest))) / 0.012).powi(2)).exp() * s;
    if alpha <= 0.0 && dark < 0.5 && crease < 0.5 {
        return (None, shift);
    }
    // Express darkening as a blend toward black over the skin: use alpha-over with a dark
    // colour; caller blends `eye_l` with coverage.
    let line_a = (dark.max(crease) / 140.0).min(0.85);
    let eye_l = l * alpha / (alpha + line_a).max(1e-4) + 20.0 * line_a / (alpha + line_a).max(1e-4);
    (Some((eye_l, (alpha + line_a).min(1.0))), shift)
}

/// Displacement (du, dv) of skin at deformed face coordinates (u, v), face units.
fn deformation(u: f32, v: f32, st: &State) -> (f32, f32) {
    let (mut du, mut dv) = (0.0, 0.0);
    for side in Side::BOTH {
        let s = sign(side);
        let k = side.index();
        // Orbicularis oculi squeeze: skin around the eye pulled toward it (incl. the brow).
        let q = st.squeeze[k];
        if q > 0.0 {
            let (eu, ev) = (u - s * EYE_U, v - EYE_V);
            let g = (-(eu * eu + ev * ev) / 0.07).exp();
            du -= 0.3 * q * eu * g;
            dv -= 0.3 * q * ev * g;
        }
        // Cheek raised (zygomaticus), also a little with a smile.
        let ch = st.cheek[k] + 0.5 * st.smile;
        if ch > 0.0 {
            let g = (-(((u - s * 0.36) / 0.26).powi(2) + ((v - 0.22) / 0.24).powi(2))).exp();
            dv -= 0.07 * ch * g;
            du += 0.01 * s * ch * g;
        }
        // Mouth corner pulled up and out (one side for a twitch, both for a smile).
        let m = st.mouth[k] + 0.9 * st.smile;
        if m > 0.0 {
            let g = (-(((u - s * MOUTH_HW) / 0.16).powi(2) + ((v - MOUTH_V) / 0.14).powi(2))).exp();
            du += 0.045 * s * m * g;
            dv -= 0.055 * m * g;
        }
    }
    // Jaw drop while talking: lower lip and chin move down.
    if st.jaw > 0.0 {
        dv += 0.1 * st.jaw * smooth((v - MOUTH_V) / 0.03 + 0.5) * (-(u * u) / 0.35).exp();
    }
    (du, dv)
}

/// Smoothstep of x clamped to 0..1.
fn smooth(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// 1 inside |d| < half, soft edge `edge` pixels wide.
fn soft_box(d: f32, half: f32, edge: f32) -> f32 {
    smooth((half - d) / edge + 0.5)
}

fn hash(i: i32, j: i32, seed: u32) -> f32 {
    let mut h = (i as u32).wrapping_mul(0x8da6_b343) ^ (j as u32).wrapping_mul(0xd816_3841) ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    (h as f32 / u32::MAX as f32) * 2.0 - 1.0
}

/// Smooth value noise in -1..1 with unit cell size.
fn vnoise(x: f32, y: f32, seed: u32) -> f32 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i32, fy as i32);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = hash(ix, iy, seed);
    let b = hash(ix + 1, iy, seed);
    let c = hash(ix, iy + 1, seed);
    let d = hash(ix + 1, iy + 1, seed);
    let top = a + (b - a) * sx;
    let bot = c + (d - c) * sx;
    top + (bot - top) * sy
}
