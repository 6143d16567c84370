//! Renders one luma frame of a `Scenario` by inverse warping: each output pixel is mapped
//! back through camera shake, the head's similarity pose (translation, roll, scale), yaw and
//! pitch foreshortening (the face is treated as a cylinder) and the local deformation fields
//! of the muscles, into rest face coordinates, where shading, features and a fine skin
//! texture fixed to the face are evaluated. Motion is therefore smooth and sub-pixel.
//!
//! Face coordinates: `u` to the image's right in an unmirrored frontal view, `v` down, unit =
//! half the face width; the face is the ellipse u² + (v/1.3)² < 1. The person's left side is
//! at u > 0 (image right). Mirroring flips the finished frame.

use super::{DistractorKind, Scenario, TwitchShape};
use crate::analysis::anatomy::{RegionKind, Side};
use crate::source::Frame;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
    /// (skin pulled toward the eye) 0..1,, cheek raise 0..1, mouth corner pull 0..1.
    closure: [f32; 2],
    /// Per side: extra rise of the lower lid margin alone (flutter), face units at the eye's
    /// centre line.
    lower: [f32; 2],
    /// Gaze down 0..1 (both eyes): both lid margins and the iris move down.
    down: f32,
    squeeze: [f32; 2],
    cheek: [f32; 2],
    mouth: [f32; 2],
    /// Jaw opening 0..1 (talking), smile 0..1 (both sides).
    jaw: f32,
    smile: f32,
    /// Walker centre x (pixels) and luma.
    walker: Option<(f32, f32)>,
    /// Hand: palm centre (pixels, before camera shake), tilt (radians, 0 = fingers up) and
    /// pixels per hand unit.
    hand: Option<(f32, f32, f32, f32)>,
    /// Second person: head centre (pixels) and lid closure 0..1.
    second: Option<(f32, f32, f32)>,
}

/// A sampled image over a rectangle of some coordinate plane (N channels), read with
/// bilinear interpolation, clamped at the edges.
struct Grid<const N: usize> {
    nx: usize,
    ny: usize,
    x0: f32,
    y0: f32,
    /// Texels per coordinate unit.
    inv: f32,
    data: Vec<[f32; N]>,
}

impl<const N: usize> Grid<N> {
    /// Samples `f` on [x0, x1] × [y0, y1] every `step` units.
    fn build(
        x0: f32,
        x1: f32,
        y0: f32,
        y1: f32,
        step: f32,
        f: impl Fn(f32, f32) -> [f32; N],
    ) -> Self {
        let nx = (((x1 - x0) / step).ceil() as usize + 1).max(2);
        let ny = (((y1 - y0) / step).ceil() as usize + 1).max(2);
        let mut data = Vec::with_capacity(nx * ny);
        for j in 0..ny {
            let y = y0 + j as f32 * step;
            for i in 0..nx {
                data.push(f(x0 + i as f32 * step, y));
            }
        }
        Grid {
            nx,
            ny,
            x0,
            y0,
            inv: 1.0 / step,
            data,
        }
    }

    #[inline]
    fn sample(&self, x: f32, y: f32) -> [f32; N] {
        let fx = ((x - self.x0) * self.inv).clamp(0.0, (self.nx - 1) as f32 - 1e-3);
        let fy = ((y - self.y0) * self.inv).clamp(0.0, (self.ny - 1) as f32 - 1e-3);
        let (i, j) = (floor_small(fx), floor_small(fy));
        let (tx, ty) = (fx - i as f32, fy - j as f32);
        let k = j * self.nx + i;
        let (a, b, c, d) = (
            &self.data[k],
            &self.data[k + 1],
            &self.data[k + self.nx],
            &self.data[k + self.nx + 1],
        );
        let mut out = [0.0; N];
        for n in 0..N {
            let top = a[n] + (b[n] - a[n]) * tx;
            let bot = c[n] + (d[n] - c[n]) * tx;
            out[n] = top + (bot - top) * ty;
        }
        out
    }
}

/// floor(x) for 0 <= x < 2^22 (round-to-nearest of x - 0.5 by the float-add trick; much
/// cheaper than a saturating float → integer conversion).
#[inline]
fn floor_small(x: f32) -> usize {
    ((x - 0.5 + 12_582_912.0).to_bits() - 0x4b40_0000) as usize
}

/// Piecewise-linear lookup table of a function on [-1, 1].
struct Lut {
    v: Vec<f32>,
}

impl Lut {
    const N: usize = 1024;

    fn new(f: impl Fn(f32) -> f32) -> Self {
        Lut {
            v: (0..=Self::N)
                .map(|i| f(-1.0 + 2.0 * i as f32 / Self::N as f32))
                .collect(),
        }
    }

    #[inline]
    fn get(&self, x: f32) -> f32 {
        let f = ((x.clamp(-1.0, 1.0) + 1.0) * 0.5 * Self::N as f32).min(Self::N as f32 - 1e-3);
        let i = floor_small(f);
        self.v[i] + (self.v[i + 1] - self.v[i]) * (f - i as f32)
    }
}

/// Per-frame values derived from the state (lookup tables for yaw and pitch).
struct FrameCtx {
    /// Frontal u from projected u (NaN: back of the head), when the head is turned.
    yaw: Option<Lut>,
    /// Frontal v / HEAD_B from projected v / HEAD_B, when the head is pitched.
    pitch: Option<Lut>,
    deform: bool,
}

/// Renders frames of one scenario. Creating one precomputes the clip's static images (room,
/// body, face texture); `render` is pure (same index → same frame).
pub struct Renderer<'a> {
    sc: &'a Scenario,
    /// Room behind the person, pixel coordinates (texel centres at +0.5).
    bg: Grid<1>,
    /// Walker silhouette [alpha, texture] relative to its centre x (pixels) and y.
    walker: Grid<2>,
    /// The person (with glasses if asked for).
    main: Person,
    /// The second person behind (`SynthParams::second_face`).
    second: Option<Person>,
    /// Hand [alpha, luma] in hand units (palm centre at 0, fingers toward -y), when the clip
    /// has hand distractors.
    hand: Option<Grid<2>>,
    /// Texture seed of the hand.
    hand_seed: u32,
    /// Sensor noise samples (sums of four random bytes minus their mean: nearly Gaussian,
    /// sigma 147.8), read from a random offset per row and frame.
    noise: Vec<i16>,
}

const NOISE_LEN: usize = 1 << 20;

impl<'a> Renderer<'a> {
    pub fn new(sc: &'a Scenario) -> Self {
        let p = &sc.params;
        let seed = (p.seed ^ (p.seed >> 32)) as u32;
        let (w, h) = (p.width as f32, p.height as f32);
        let scale0 = 0.5 * p.face_width_px.max(1.0);
        let edge = 1.5 / scale0;
        // Room.
        let bg = Grid::build(0.5, w - 0.5, 0.5, h - 0.5, 1.0, |x, y| {
            let mut l = 125.0
                + 30.0 * (y / h - 0.5)
                + 12.0 * vnoise(x / (0.08 * w), y / (0.08 * w), seed ^ 11);
            l -= 35.0 * soft_box((x - 0.14 * w).abs(), 0.025 * w, 1.5); // a door frame
            [l]
        });
        let walker = Grid::build(-0.1 * w, 0.1 * w, 0.5, h - 0.5, 1.0, |dx, y| {
            let body = soft_box(dx.abs(), 0.085 * w, 2.0) * smooth((y - 0.36 * h) / 3.0);
            let head = smooth((0.06 * w - (dx * dx + (y - 0.26 * h).powi(2)).sqrt()) / 2.0);
            [body.max(head), 6.0 * vnoise(dx / 6.0, y / 6.0, seed ^ 12)]
        });
        // Body layer down to the farthest image corner for any pose, shake included.
        let reach = (0.5 * w + 0.2 * p.face_width_px).hypot(0.55 * h + 0.2 * p.face_width_px);
        let pv_max = (reach / (scale0 * (1.0 - 0.6 * p.sway.abs()))).max(2.0);
        let main = Person {
            glasses: p.glasses.then(|| glasses(scale0, edge)),
            ..Person::new(seed, scale0, pv_max)
        };
        let second = sc.second_face.as_ref().map(|sf| {
            let s2 = 0.5 * sf.width_px.max(1.0);
            let pv_max = ((h - sf.cy) / s2 + 1.0).max(2.0);
            Person::new(sf.seed, s2, pv_max)
        });
        let hand = sc
            .distractors
            .iter()
            .any(|d| d.kind == DistractorKind::Hand)
            .then(|| {
                let he = 1.5 / scale0;
                Grid::build(-1.3, 1.3, -1.7, HAND_GRID_Y1, 1.0 / scale0, |x, y| {
                    hand(x, y, he, seed ^ 0x68)
                })
            });
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed ^ 0x6e6f_6973_6500);
        let noise = (0..NOISE_LEN + p.width as usize)
            .map(|_| {
                let r = rng.next_u32();
                ((r & 0xff) + ((r >> 8) & 0xff) + ((r >> 16) & 0xff) + (r >> 24)) as i16 - 510
            })
            .collect();
        Renderer {
            sc,
            bg,
            walker,
            main,
            second,
            hand,
            hand_seed: seed ^ 0x68,
            noise,
        }
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
            if let TwitchShape::Flutter { travel, .. } = tw.shape {
                st.lower[k] = st.lower[k].max(travel * a);
                continue;
            }
            contract(&mut st, k, &tw.regions, a);
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
                    st.gain *=
                        1.0 + d.amplitude * d.envelope(t, 0.1) * (TAU * d.rate * x + d.phase).sin();
                }
                DistractorKind::Walker => {
                    let pr = d.progress(t) as f32;
                    let pr = if d.rate >= 0.0 { pr } else { 1.0 - pr };
                    st.walker = Some(((-0.15 + 1.3 * pr) * w, d.amplitude));
                }
                DistractorKind::HalfBlink => {
                    let c = d.amplitude * super::bump(d.progress(t));
                    for k in 0..2 {
                        st.closure[k] = st.closure[k].max(c);
                    }
                }
                DistractorKind::LookDown => {
                    // Slow: 0.6 s to look down and 0.6 s back up.
                    st.down = st.down.max(d.amplitude * d.envelope(t, 0.6));
                }
                DistractorKind::TurnSquint => {
                    // Yaw > 0 turns the person's left side away from the camera.
                    let env = d.envelope(t, (d.end_s - d.start_s) * 0.35);
                    st.yaw += (d.amplitude * env).to_radians();
                    let far = if d.amplitude > 0.0 {
                        Side::Left
                    } else {
                        Side::Right
                    };
                    let k = far.index();
                    st.closure[k] = st.closure[k].max(d.rate * env);
                }
                DistractorKind::Hand => {
                    // Palm centre from below and outside the frame to over the cheek (face
                    // units, head pose applied), fingers tilted toward the nose.
                    let e = d.envelope(t, 0.4);
                    let s = d.rate.signum();
                    let out = 1.0 - e;
                    let tremor = 0.015 * (TAU * 1.3 * x + d.phase * 10.0).sin();
                    let u = s * (0.8 + 1.4 * out) + tremor;
                    let v = 0.9 + 2.8 * out + tremor;
                    st.hand = Some((u, v, -s * 1.0 + d.phase + 0.5 * s * out, d.amplitude));
                }
            }
        }
        if let Some((u, v, tilt, size)) = st.hand {
            // Face units → pixels, with the head's roll and scale (as the body layer).
            let (cr, sr) = (st.roll.cos(), st.roll.sin());
            st.hand = Some((
                st.cx + (u * cr - v * sr) * st.scale,
                st.cy + (u * sr + v * cr) * st.scale,
                tilt + st.roll,
                size * st.scale,
            ));
        }
        if let Some(sf) = &self.sc.second_face {
            let closure = sf
                .blinks
                .iter()
                .find(|b| t > b.0 && t < b.1)
                .map_or(0.0, |b| 0.95 * super::bump((t - b.0) / (b.1 - b.0)));
            let a = sf.width_px;
            st.second = Some((
                sf.cx + 0.004 * a * (TAU * 0.11 * tf + sf.phase).sin(),
                sf.cy + 0.003 * a * (TAU * 0.08 * tf + 1.3 * sf.phase).sin(),
                closure,
            ));
        }
        push_lower_lids(&mut st);
        st
    }

    /// How much the eye on `side` is narrowed at time `t`: 1 - opening / opening at rest,
    /// where the opening is the visible height of the eyeball on the vertical line through
    /// the eye's centre, in the geometry `render` draws (lids, skin deformation, lid push).
    /// 0 = open as at rest, 1 = shut.
    pub fn eye_narrowing(&self, t: f64, side: Side) -> f32 {
        narrowing(&self.state(t), side)
    }

    /// Renders frame `index` (time `index / fps`).
    pub fn render(&self, index: u64) -> Frame {
        let p = &self.sc.params;
        let t = index as f64 / p.fps;
        let st = self.state(t);
        let (w, h) = (p.width as usize, p.height as usize);
        let mut luma = vec![0u8; w * h];
        let mut rng = ChaCha8Rng::seed_from_u64(
            p.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_add(1),
        );
        let (cr, sr) = (st.roll.cos(), st.roll.sin());
        let inv_s = 1.0 / st.scale;
        let noise = p.noise_sigma / 147.8;
        let ctx = FrameCtx {
            yaw: (st.yaw != 0.0).then(|| {
                Lut::new(|pu| {
                    let a = pu.asin() - st.yaw;
                    if a.abs() > FRAC_PI_2 {
                        f32::NAN
                    } else {
                        a.sin()
                    }
                })
            }),
            pitch: (st.pitch != 0.0)
                .then(|| Lut::new(|nv| (nv.asin() - st.pitch).clamp(-FRAC_PI_2, FRAC_PI_2).sin())),
            deform: st
                .squeeze
                .iter()
                .chain(&st.cheek)
                .chain(&st.mouth)
                .any(|&a| a > 0.0)
                || st.smile > 0.0
                || st.jaw > 0.0,
        };
        let still = st.shake == (0.0, 0.0);
        let walker = st.walker.map(|(wx, wl)| (wx, wl, 0.1 * p.width as f32));
        let gain = st.gain * p.light;
        // Second person: no pose changes but a slight sway, blinks only.
        let second = match (&self.second, st.second, &self.sc.second_face) {
            (Some(person), Some((c2x, c2y, closure)), Some(sf)) => Some((
                person,
                c2x,
                c2y,
                2.0 / sf.width_px.max(1.0),
                State {
                    closure: [closure; 2],
                    ..State::default()
                },
            )),
            _ => None,
        };
        let still_ctx = FrameCtx {
            yaw: None,
            pitch: None,
            deform: false,
        };
        // Hand: palm centre, cos and sin of the tilt, hand units per pixel, and which way the
        // thumb points (hands on the two sides are mirror images).
        let hand_pose = match (&self.hand, st.hand) {
            (Some(g), Some((hx, hy, a, hs))) => {
                let s = self
                    .sc
                    .distractors
                    .iter()
                    .find(|d| d.kind == DistractorKind::Hand && t > d.start_s && t < d.end_s)
                    .map_or(1.0, |d| d.rate.signum());
                Some((g, hx, hy, a.cos(), a.sin(), 1.0 / hs, s))
            }
            _ => None,
        };
        for y in 0..h {
            let row = &mut luma[y * w..(y + 1) * w];
            let ys = y as f32 + 0.5 - st.shake.1;
            let dy = ys - st.cy;
            // Pixels x0..x1 may show the person; the others show the room only.
            let (x0, x1) = self
                .main
                .person_span(dy, cr, sr, inv_s, st.shake.0 + st.cx, w);
            let (x0b, x1b, dy2) = match &second {
                Some((person, c2x, c2y, inv2, _)) => {
                    let dy2 = ys - c2y;
                    let (a, b) = person.person_span(dy2, 1.0, 0.0, *inv2, st.shake.0 + c2x, w);
                    (a, b, dy2)
                }
                None => (0, 0, 0.0),
            };
            let off = rng.next_u32() as usize & (NOISE_LEN - 1);
            let row_noise = &self.noise[off..off + w];
            for (x, (out, &n)) in row.iter_mut().zip(row_noise).enumerate() {
                let xs = x as f32 + 0.5 - st.shake.0;
                let mut l = if still {
                    self.bg.data[y * w + x][0]
                } else {
                    self.bg.sample(xs, ys)[0]
                };
                if let Some((wx, wl, half)) = walker
                    && (xs - wx).abs() < half
                {
                    let [a, tex] = self.walker.sample(xs - wx, ys);
                    l += a * (wl + tex - l);
                }
                if x >= x0b
                    && x < x1b
                    && let Some((person, c2x, _, inv2, st2)) = &second
                {
                    let pu = (xs - c2x) * inv2;
                    let pv = dy2 * inv2;
                    if pu.abs() < 3.0 && pv > -1.9 {
                        let [bt, bc, head_a, shade] = person.body.sample(pu, pv);
                        l = l * bt + bc;
                        if head_a > 0.0 {
                            l += head_a * (person.head(pu, pv, shade, st2, &still_ctx) - l);
                        }
                    }
                }
                let dx = xs - st.cx;
                let pu = (dx * cr + dy * sr) * inv_s;
                let pv = (-dx * sr + dy * cr) * inv_s;
                if x >= x0 && x < x1 && pu.abs() < 3.0 && pv > -1.9 {
                    let [bt, bc, head_a, shade] = self.main.body.sample(pu, pv);
                    l = l * bt + bc;
                    if head_a > 0.0 {
                        l += head_a * (self.main.head(pu, pv, shade, &st, &ctx) - l);
                    }
                }
                if let Some((g, hx, hy, ca, sa, inv_h, flip)) = hand_pose {
                    let (rx, ry) = (xs - hx, ys - hy);
                    let hy_ = (-rx * sa + ry * ca) * inv_h;
                    if hy_ > -1.7 {
                        let hx_ = flip * (rx * ca + ry * sa) * inv_h;
                        if hx_.abs() < 1.3 {
                            let [a, hl] = if hy_ < HAND_GRID_Y1 {
                                g.sample(hx_, hy_)
                            } else {
                                hand(hx_, hy_, 1.5 / g.inv, self.hand_seed)
                            };
                            l += a * (hl - l);
                        }
                    }
                }
                let v = l * gain + n as f32 * noise;
                *out = (v.clamp(0.0, 255.0) + 0.5) as i32 as u8;
            }
            if p.mirrored {
                row.reverse();
            }
        }
        Frame {
            index,
            pts_s: t,
            width: p.width,
            height: p.height,
            luma,
        }
    }
}

/// A person's static images: body layer (shirt, neck, hair volume, head coverage and shading)
/// in projected face coordinates and the face (features, texture, hair) in rest face
/// coordinates.
struct Person {
    /// Projected face coordinates: [transmittance and colour of shirt, neck and hair volume
    /// over the room (l = bg * t + c), head coverage, head shading].
    body: Grid<4>,
    /// Rest face coordinates: [skin features and texture (added to the shading), hairline
    /// coverage, hair luma].
    face: Grid<3>,
    /// Per `body` row: the projected u range (with a margin) outside which the body layer
    /// leaves the room untouched.
    body_rows: Vec<(f32, f32)>,
    /// ~1.5 pixels in face units (edge softness).
    edge: f32,
    /// Glasses [transmittance, added luma] in rest face coordinates over `GLASSES_RECT`.
    glasses: Option<Grid<2>>,
}

impl Person {
    /// `seed`: texture seed; `scale0`: pixels per face unit (half the face width); `pv_max`:
    /// how far down (face units) the body layer reaches.
    fn new(seed: u32, scale0: f32, pv_max: f32) -> Person {
        let edge = 1.5 / scale0;
        let px = edge;
        let hair = move |u: f32, v: f32| {
            38.0 + 10.0 * vnoise(u / 0.012, v / 0.12, seed ^ 31)
                + 6.0 * vnoise(u / 0.1, v / 0.1, seed ^ 32)
        };
        let body = Grid::build(-3.0, 3.0, -1.9, pv_max, 1.0 / scale0, |pu, pv| {
            let (mut t, mut c) = (1.0f32, 0.0f32);
            let mut over = |a: f32, l: f32| {
                t *= 1.0 - a;
                c = c * (1.0 - a) + a * l;
            };
            // Shirt and neck (they do not turn with the head).
            let shirt_half = 1.05 + (pv - 1.55) * 1.3;
            if pv > 1.45 {
                let a = smooth((pv - 1.55) / px) * smooth((shirt_half - pu.abs()) / px);
                over(a, 85.0 + 5.0 * vnoise(pu / 0.03, pv / 0.03, seed ^ 21));
            }
            if pv > 0.7 {
                let a = smooth((0.45 - pu.abs()) / px) * (1.0 - smooth((pv - 1.55) / px));
                over(
                    a,
                    120.0 - 25.0 * (pu / 0.45).powi(2)
                        + 4.0 * vnoise(pu / 0.02, pv / 0.02, seed ^ 22),
                );
            }
            // Hair volume behind and above the head.
            let hr = (pu / 1.1).powi(2) + ((pv + 0.12) / 1.45).powi(2);
            if hr < 1.2 && pv < 0.35 {
                over(
                    smooth((1.0 - hr.sqrt()) / px) * smooth((0.3 - pv) / 0.08),
                    hair(pu, pv),
                );
            }
            // Head coverage and Lambert shading of an ellipsoid lit from the upper left.
            let r = (pu * pu + (pv / HEAD_B).powi(2)).sqrt();
            let nv = pv / HEAD_B;
            let nz = (1.0 - pu * pu - nv * nv).max(0.0).sqrt();
            let lam = (-0.35 * pu - 0.3 * nv + 0.88 * nz).max(0.0);
            [t, c, smooth((1.0 - r) / px), 45.0 + 140.0 * lam]
        });
        let fine = smooth((0.018 * scale0 - 1.2) / 1.0);
        let face = Grid::build(-1.1, 1.1, -1.45, 1.45, 1.0 / (1.25 * scale0), |u, v| {
            let hairline = -0.74 + 0.25 * u * u - 0.05 * (u / 0.3).sin() * 0.3;
            let side_hair = smooth((u.abs() - 0.9) / 0.03) * smooth((0.05 - v) / 0.1);
            let hair_a = smooth((hairline - v) / 0.02).max(side_hair);
            let tex = 7.0 * fine * vnoise(u / 0.018, v / 0.018, seed ^ 41)
                + 6.0 * vnoise(u / 0.05, v / 0.05, seed ^ 42)
                + 5.0 * vnoise(u / 0.15, v / 0.15, seed ^ 43);
            [features(u, v, edge) + tex, hair_a, hair(u, v)]
        });
        let body_rows = body
            .data
            .chunks(body.nx)
            .map(|row| {
                let busy = |t: &[f32; 4]| t[0] < 1.0 || t[1] != 0.0 || t[2] > 0.0;
                match (row.iter().position(busy), row.iter().rposition(busy)) {
                    (Some(a), Some(b)) => (
                        -3.0 + (a as f32 - 2.0) / body.inv,
                        -3.0 + (b as f32 + 2.0) / body.inv,
                    ),
                    _ => (f32::INFINITY, f32::NEG_INFINITY),
                }
            })
            .collect();
        Person {
            body,
            face,
            body_rows,
            edge,
            glasses: None,
        }
    }

    /// Range of pixel columns of a row (offset `dy` from the head centre) where the body layer
    /// is not empty (a conservative bound). `ox`: head centre x plus the camera shake, so that
    /// a column x is at dx = x + 0.5 - ox from the head centre.
    fn person_span(
        &self,
        dy: f32,
        cr: f32,
        sr: f32,
        inv_s: f32,
        ox: f32,
        w: usize,
    ) -> (usize, usize) {
        let dx_a = 0.5 - ox;
        let dx_b = w as f32 - 0.5 - ox;
        let pv_a = (-dx_a * sr + dy * cr) * inv_s;
        let pv_b = (-dx_b * sr + dy * cr) * inv_s;
        let (lo, hi) = (pv_a.min(pv_b), pv_a.max(pv_b));
        let b = &self.body;
        let j0 = ((lo - b.y0) * b.inv).floor().max(0.0) as usize;
        let j1 = (((hi - b.y0) * b.inv).ceil().max(0.0) as usize + 1).min(b.ny - 1);
        let (mut umin, mut umax) = (f32::INFINITY, f32::NEG_INFINITY);
        for &(a, c) in &self.body_rows[j0.min(b.ny - 1)..=j1] {
            umin = umin.min(a);
            umax = umax.max(c);
        }
        if umin > umax {
            return (0, 0);
        }
        // pu = (dx cr + dy sr) inv_s  →  dx = (pu / inv_s - dy sr) / cr.
        let to_x = |pu: f32| (pu / inv_s - dy * sr) / cr + ox - 0.5;
        let (xa, xb) = (to_x(umin), to_x(umax));
        let x0 = (xa.min(xb) - 2.0).floor().max(0.0) as usize;
        let x1 = ((xa.max(xb) + 2.0).ceil().max(0.0) as usize).min(w);
        (x0.min(w), x1)
    }

    /// Luma of the head at projected face coordinates (inside the head ellipse), with the
    /// shading `shade` of that point.
    fn head(&self, pu: f32, pv: f32, shade: f32, st: &State, ctx: &FrameCtx) -> f32 {
        // Yaw and pitch: the face is a cylinder about the vertical (radius 1) and the
        // horizontal (radius 1.3) axis.
        let uf = match &ctx.yaw {
            Some(lut) => lut.get(pu),
            None => pu,
        };
        if uf.is_nan() {
            return self.face.sample(pu, pv)[2]; // back of the head
        }
        let vf = match &ctx.pitch {
            Some(lut) => HEAD_B * lut.get(pv / HEAD_B),
            None => pv,
        };
        let [alb0, hair_a, hair_l] = self.face.sample(uf, vf);
        if hair_a > 0.995 {
            return hair_l;
        }
        // Muscles (inverse displacement): lid-space position = deformed - g(deformed).
        let (u1, v1) = if ctx.deform {
            let (gu, gv) = deformation(uf, vf, st);
            (uf - gu, vf - gv)
        } else {
            (uf, vf)
        };
        // Lids: the lid skin slides over the eyeball; the eyeball is fixed in the skull.
        let mut v = v1;
        let mut eyeball = None;
        let mut crow = 0.0;
        for side in Side::BOTH {
            let s = sign(side);
            let k = side.index();
            let eu = u1 - s * EYE_U;
            if eu.abs() > 0.45 {
                continue;
            }
            let ev = v1 - EYE_V;
            if eu.abs() < EYE_HW && ev > -0.21 && ev < 0.15 {
                let (rest_ev, ball) = eye(
                    eu,
                    ev,
                    uf - s * EYE_U,
                    vf - EYE_V,
                    Lids::of(st, k),
                    self.edge,
                );
                v = EYE_V + rest_ev;
                eyeball = ball;
            }
            let q = st.squeeze[k];
            if q > 0.0 {
                crow = q * crows_feet(s * eu, v - EYE_V);
            }
        }
        let alb = if u1 == uf && v == vf {
            alb0
        } else {
            self.face.sample(u1, v)[0]
        };
        let mut l = shade + alb - 26.0 * crow;
        if let Some((eye_l, a)) = eyeball {
            l += a * (eye_l - l);
        }
        // Mouth opening (talking), in deformed coordinates.
        if st.jaw > 0.01 {
            let open = 0.1 * st.jaw;
            let m =
                (uf / 0.2).powi(2) + ((vf - MOUTH_V - 0.5 * open) / (0.5 * open + 0.004)).powi(2);
            if m < 1.3 {
                l += smooth((1.0 - m) * 6.0) * (30.0 - l);
            }
        }
        let l = l + hair_a * (hair_l - l);
        match &self.glasses {
            Some(g)
                if uf > GLASSES_RECT[0]
                    && uf < GLASSES_RECT[1]
                    && vf > GLASSES_RECT[2]
                    && vf < GLASSES_RECT[3] =>
            {
                let [m, a] = g.sample(uf, vf);
                l * m + a
            }
            _ => l,
        }
    }
}

/// Face-coordinate rectangle [u0, u1, v0, v1] of the glasses image.
const GLASSES_RECT: [f32; 4] = [-1.05, 1.05, -0.62, 0.16];

/// Glasses over rest face coordinates: [transmittance, added luma] (l' = l * t + a). Rounded
/// rectangular lenses around both eyes (tinted a little, a faint diagonal highlight in the
/// upper outer part), dark rims ~2.6% of the face width thick, a bridge over the nose and the
/// temple arms toward the ears. `scale0`: pixels per face unit; `edge`: ~1.5 pixels in face
/// units.
fn glasses(scale0: f32, edge: f32) -> Grid<2> {
    let [u0, u1, v0, v1] = GLASSES_RECT;
    // Lens centre offset from the eye, half sizes, rim half thickness (face units).
    let (lu, lv, ha, hb) = (EYE_U + 0.02, EYE_V + 0.01, 0.25, 0.17);
    let rim = 0.026f32.max(0.8 * edge);
    Grid::build(u0, u1, v0, v1, 1.0 / (1.25 * scale0), |u, v| {
        let (mut t, mut add) = (1.0f32, 0.0f32);
        let mut rim_a = 0.0f32;
        for s in [-1.0f32, 1.0] {
            let (du, dv) = (u - s * lu, v - lv);
            // Superellipse "radius" (1 on the lens outline), distance to the outline.
            let r = ((du / ha).powi(4) + (dv / hb).powi(4)).powf(0.25);
            let d = (r - 1.0) * hb;
            if r < 1.0 {
                // Lens: slight tint and a faint highlight streak.
                let streak = s * du * 0.6 + dv * 0.8 + 0.07;
                let hl = (-(streak / 0.025).powi(2)).exp() * smooth((s * du + 0.05) / 0.1);
                t = 0.86;
                add = 6.0 + 22.0 * hl;
            }
            rim_a = rim_a.max(smooth((rim - d.abs()) / edge + 0.5));
            // Temple arm from the outer rim toward the ear.
            let au = s * u - (lu + ha);
            if au > 0.0 && au < 0.95 - lu - ha + 0.3 {
                let av = v - (lv - 0.6 * hb) - 0.05 * au;
                rim_a = rim_a.max(
                    smooth((0.8 * rim - av.abs()) / edge + 0.5) * smooth((0.97 - u.abs()) / edge),
                );
            }
        }
        // Bridge over the nose: a shallow arch between the lenses' inner rims.
        let inner = lu - ha;
        if u.abs() < inner + 0.02 {
            let bv = lv - 0.35 * hb - 0.05 * (1.0 - (u / inner).powi(2)).max(0.0);
            rim_a = rim_a.max(smooth((0.9 * rim - (v - bv).abs()) / edge + 0.5));
        }
        // Rims: dark, with a slight sheen along the top.
        [t * (1.0 - rim_a), add * (1.0 - rim_a) + rim_a * 28.0]
    })
}

/// Hand grid rows end here (hand units); below it only the forearm, drawn directly.
const HAND_GRID_Y1: f32 = 0.9;

/// A hand (back towards the camera) in hand units (about half a face width): palm centred at
/// 0, four fingers toward -y, the thumb toward +x, the forearm down +y. Returns [coverage,
/// luma]. `edge`: ~1.5 pixels in hand units.
fn hand(x: f32, y: f32, edge: f32, seed: u32) -> [f32; 2] {
    // Signed distances (negative inside) of a capsule a-b with radius r, and the union.
    let capsule = |ax: f32, ay: f32, bx: f32, by: f32, r: f32| {
        let (px, py, vx, vy) = (x - ax, y - ay, bx - ax, by - ay);
        let h = ((px * vx + py * vy) / (vx * vx + vy * vy)).clamp(0.0, 1.0);
        (px - h * vx).hypot(py - h * vy) - r
    };
    // Forearm: widening a little away from the wrist.
    let arm = if y > 0.3 {
        x.abs() - (0.34 + 0.04 * (y - 0.3)).min(0.5)
    } else {
        f32::INFINITY
    };
    let mut d = arm;
    // Palm: rounded rectangle.
    if y < 1.0 {
        let (qx, qy) = (x.abs() - 0.3, (y + 0.05).abs() - 0.3);
        d = d.min(qx.max(qy).min(0.0) + qx.max(0.0).hypot(qy.max(0.0)) - 0.17);
    }
    let mut crease = 0.0f32;
    let mut nails = 0.0f32;
    if y < 0.0 {
        // Fingers (slightly fanned, the middle one longest) and the thumb.
        for (fx, len, tilt) in [
            (-0.34f32, 0.62f32, -0.14f32),
            (-0.115, 0.8, -0.04),
            (0.115, 0.85, 0.04),
            (0.34, 0.75, 0.12),
        ] {
            let (bx, by) = (fx, -0.3);
            let (tx, ty) = (bx + tilt * len, by - len);
            let fd = capsule(bx, by, tx, ty, 0.105);
            d = d.min(fd);
            // Nail near the tip.
            let nd = ((x - (tx - 0.02 * tilt)).powi(2) / 0.0036 + (y - ty - 0.06).powi(2) / 0.008)
                .min(4.0);
            nails = nails.max((1.0 - nd).max(0.0) * smooth(-fd / 0.03));
            // Knuckle creases across each finger.
            for k in [0.38f32, 0.66] {
                let cy = by - k * len;
                crease += (-((y - cy) / 0.012).powi(2)).exp() * smooth(-fd / 0.04);
            }
        }
    }
    if y < 0.45 {
        d = d.min(capsule(0.32, 0.2, 0.72, -0.35, 0.12));
    }
    let a = smooth(-d / edge + 0.5);
    if a <= 0.0 {
        return [0.0, 0.0];
    }
    // Rounded shading (darker toward the outline), skin texture, tendons and creases.
    let depth = smooth(-d / 0.12);
    let l = 138.0 + 28.0 * depth - 8.0 * (y / 1.5).clamp(-1.0, 1.0)
        + 5.0 * vnoise(x / 0.03, y / 0.03, seed)
        + 4.0 * vnoise(x / 0.12, y / 0.12, seed ^ 1)
        - 14.0 * crease.min(1.0)
        + 16.0 * nails;
    [a, l]
}

/// Skin features at rest face coordinates (u, v), added to the shading: eye sockets, brows,
/// lid creases and lash lines, nose, lips. `edge`: ~1.5 pixels in face units.
fn features(u: f32, v: f32, edge: f32) -> f32 {
    let mut l = 0.0;
    for s in [-1.0f32, 1.0] {
        let (eu, ev) = (u - s * EYE_U, v - EYE_V);
        if eu.abs() > 0.35 || ev.abs() > 0.4 {
            continue;
        }
        // Socket shadow.
        l -= 55.0 * (-(eu * eu / 0.06 + ev * ev / 0.03)).exp();
        // Eyebrow.
        let vb = -0.27 + 1.1 * eu * eu - 0.02 * s * eu;
        let along = smooth((0.21 - eu.abs()) / 0.05);
        l -= 95.0 * along * (-((ev - vb) / 0.04).powi(2)).exp();
        // Lid crease, lash line on the upper lid margin, thinner line on the lower (skin side
        // of the rest margins, so they move with the lids).
        let x = eu / EYE_HW;
        if x.abs() < 1.1 {
            let sh = (1.0 - x * x).max(0.0).powf(0.7);
            let (top, bot) = (-EYE_HH * sh, 0.75 * EYE_HH * sh);
            let ends = smooth((1.05 - x.abs()) / 0.1);
            l -= 22.0 * sh * (-((ev - (top - 0.045)) / 0.012).powi(2)).exp();
            l -= 110.0
                * ends
                * (-((ev - top + 0.008).min(0.0) / 0.014).powi(2)).exp()
                * smooth((top + 0.004 - ev) / edge + 0.5);
            l -= 60.0
                * ends
                * (-((ev - bot - 0.005).max(0.0) / 0.009).powi(2)).exp()
                * smooth((ev - bot + 0.002) / edge + 0.5);
        }
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
        let e = edge;
        let upper = smooth((v - (MOUTH_V - 0.045 * sm)) / e) * smooth((MOUTH_V - v) / e + 0.5);
        let lower = smooth((MOUTH_V + 0.06 * sm - v) / e) * smooth((v - MOUTH_V) / e + 0.5);
        l -= 60.0 * upper.max(lower) * smooth(sm / 0.15);
        l -= 70.0 * (-((v - MOUTH_V) / 0.014).powi(2)).exp() * smooth(sm / 0.08 + 0.2);
        // Shadow under the lower lip.
        l -= 14.0 * (-(((v - MOUTH_V - 0.11) / 0.03).powi(2) + (u / 0.2).powi(2))).exp();
    }
    l
}

/// What moves one eye's lids (see `State`).
#[derive(Debug, Clone, Copy)]
struct Lids {
    /// 0 open, 1 shut (both margins toward their meeting line).
    closure: f32,
    /// Extra rise of the lower lid margin alone, face units at the centre line.
    lower: f32,
    /// Gaze down 0..1: the upper margin moves down by half the rest opening, the lower by a
    /// tenth, the iris down with them.
    down: f32,
}

impl Lids {
    fn of(st: &State, k: usize) -> Lids {
        Lids {
            closure: st.closure[k],
            lower: st.lower[k],
            down: st.down,
        }
    }
}

/// Lids of one eye moved by `lids`. (eu, ev): lid-space position relative
/// to the eye centre (after the squeeze field); (ku, kv): skull-fixed position relative to
/// the eye centre (where the eyeball is drawn).
///
/// The upper lid margin moves down and the lower one up until they meet; the lid skin between
/// the margin and 0.12 (upper) / 0.08 (lower) above/below it stretches along, so its texture
/// moves with the lid. Returns the rest v (relative to the eye centre) of the skin seen here
/// and the eyeball's luma and coverage, if any.
fn eye(eu: f32, ev: f32, ku: f32, kv: f32, lids: Lids, edge: f32) -> (f32, Option<(f32, f32)>) {
    let c = lids.closure;
    let x = eu / EYE_HW;
    let sh = (1.0 - x * x).max(0.0).powf(0.7);
    let top_rest = -EYE_HH * sh;
    let bot_rest = 0.75 * EYE_HH * sh;
    let meet = top_rest + 0.7 * (bot_rest - top_rest);
    let mut top = top_rest + c * (meet - top_rest);
    let mut bot = bot_rest + c * (meet - bot_rest);
    if lids.lower > 0.0 {
        bot = (bot - lids.lower * sh).max(top);
    }
    let mut kv = kv;
    if lids.down > 0.0 {
        let open = bot_rest - top_rest;
        top = (top + 0.5 * lids.down * open).min(bot);
        bot += 0.1 * lids.down * open;
        kv -= 0.03 * lids.down;
    }
    let (hi, lo) = (top_rest - 0.12, bot_rest + 0.08);
    let rest = if ev <= hi || ev >= lo {
        ev
    } else if ev < top {
        hi + (ev - hi) * (top_rest - hi) / (top - hi)
    } else if ev > bot {
        lo - (lo - ev) * (lo - bot_rest) / (lo - bot)
    } else if bot - top > 1e-4 {
        top_rest + (ev - top) * (bot_rest - top_rest) / (bot - top)
    } else {
        top_rest
    };
    let inside = smooth((ev - top) / edge + 0.5)
        * smooth((bot - ev) / edge + 0.5)
        * smooth((1.0 - x.abs()) / 0.05);
    if inside <= 0.0 {
        return (rest, None);
    }
    // Eyeball: sclera darker at the corners, iris, pupil, highlight; shadow under the lid.
    let kx = ku / EYE_HW;
    let mut l = 205.0 - 60.0 * kx.powi(4);
    let ir = (ku * ku + (kv - 0.004).powi(2)).sqrt();
    l += smooth((0.07 - ir) / edge) * (75.0 + 25.0 * (ir / 0.07) - l);
    l += smooth((0.027 - ir) / edge) * (18.0 - l);
    let hl = ((ku - 0.016).powi(2) + (kv + 0.016).powi(2)).sqrt();
    l += smooth((0.010 - hl) / edge) * (235.0 - l);
    l -= 70.0 * (-(ev - top).max(0.0) / 0.02).exp();
    l -= 25.0 * (-(bot - ev).max(0.0) / 0.01).exp();
    (rest, Some((l, inside)))
}

/// Crow's-feet wrinkles at the outer eye corner, 0..~1. (x, ev): position relative to the eye
/// centre, x toward the temple.
fn crows_feet(x: f32, ev: f32) -> f32 {
    let x = x - 0.19;
    if !(-0.02..0.25).contains(&x) || ev.abs() > 0.15 {
        return 0.0;
    }
    let mut w = 0.0f32;
    for (c, s) in [(0.94f32, -0.34f32), (1.0, 0.0), (0.94, 0.34), (0.8, 0.6)] {
        let along = x * c + ev * s;
        let across = -x * s + ev * c;
        w = w.max(
            (-(across / 0.009).powi(2)).exp()
                * smooth(along / 0.03)
                * smooth((0.17 - along) / 0.06),
        );
    }
    w
}

/// Inverse displacement g of the skin at deformed face coordinates (u, v), face units: the
/// skin seen at (u, v) rests at (u, v) - g (before the lids move).
///
/// The orbicularis squeeze pulls the periocular skin toward the eye: brow and upper lid skin
/// down (by ~0.095 = 4.7% of the face width at the brow), lower lid and the skin below it up
/// (~0.055), the lateral canthus skin toward the nose, with a smooth falloff ~0.2 beyond the
/// eye; the other eye and the rest of the face do not move.
fn deformation(u: f32, v: f32, st: &State) -> (f32, f32) {
    let (mut du, mut dv) = (0.0, 0.0);
    for side in Side::BOTH {
        let s = sign(side);
        let k = side.index();
        let q = st.squeeze[k];
        if q > 0.0 {
            let (eu, ev) = (u - s * EYE_U, v - EYE_V);
            if eu.abs() < 0.8 && ev > -0.7 && ev < 0.6 {
                let ax = (eu.abs() - 0.1).max(0.0) / 0.2;
                let hx = (-ax * ax).exp();
                dv += q
                    * hx
                    * (0.1 * (-((ev + 0.19) / 0.13).powi(2)).exp()
                        - 0.055 * (-((ev - 0.13) / 0.12).powi(2)).exp());
                let lx = (s * eu - 0.22) / 0.12;
                du -= s * q * 0.035 * (-(lx * lx + (ev / 0.14).powi(2))).exp();
            }
        }
        // Cheek raised (zygomaticus), also a little with a smile.
        let ch = st.cheek[k] + 0.5 * st.smile;
        if ch > 0.0 {
            let g = (-(((u - s * 0.36) / 0.26).powi(2) + ((v - 0.22) / 0.24).powi(2))).exp();
            dv -= 0.08 * ch * g;
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
    if st.jaw > 0.0 && v > MOUTH_V - 0.05 {
        dv += 0.1 * st.jaw * smooth((v - MOUTH_V) / 0.03 + 0.5) * (-(u * u) / 0.35).exp();
    }
    (du, dv)
}

/// Applies a twitch's contraction `a` (0..1) in `regions` to side `k` of the state.
fn contract(st: &mut State, k: usize, regions: &[RegionKind], a: f32) {
    for r in regions {
        match r {
            RegionKind::Eye => {
                // A squeeze at >= 0.8 of full shuts the lids.
                st.closure[k] = st.closure[k].max((1.25 * a).min(1.0));
                st.squeeze[k] = st.squeeze[k].max(a);
            }
            RegionKind::Cheek => st.cheek[k] = st.cheek[k].max(a),
            RegionKind::Mouth => st.mouth[k] = st.mouth[k].max(a),
        }
    }
}

/// Smiling and a raised cheek push the lower lid up a little (last step of `state`).
fn push_lower_lids(st: &mut State) {
    for k in 0..2 {
        st.closure[k] = (st.closure[k] + 0.18 * st.smile + 0.15 * st.cheek[k]).min(1.0);
    }
}

/// Visible eyeball height (face units) on the vertical line through the centre of the eye on
/// `side`, integrated over fine steps of the same lid and skin geometry `Person::head` draws.
fn eye_opening(st: &State, side: Side) -> f32 {
    const STEP: f32 = 2e-4;
    let s = sign(side);
    let k = side.index();
    let uf = s * EYE_U;
    let mut open = 0.0;
    for i in 0..(0.5 / STEP) as usize {
        let vf = EYE_V - 0.3 + (i as f32 + 0.5) * STEP;
        let (gu, gv) = deformation(uf, vf, st);
        let (eu, ev) = (uf - gu - s * EYE_U, vf - gv - EYE_V);
        if eu.abs() < EYE_HW && ev > -0.21 && ev < 0.15 {
            let (_, ball) = eye(eu, ev, 0.0, vf - EYE_V, Lids::of(st, k), 1e-3);
            open += ball.map_or(0.0, |b| b.1) * STEP;
        }
    }
    open
}

/// 1 - opening / opening at rest of the eye on `side` (see `Renderer::eye_narrowing`).
fn narrowing(st: &State, side: Side) -> f32 {
    let rest = eye_opening(&State::default(), side);
    (1.0 - eye_opening(st, side) / rest).clamp(0.0, 1.0)
}

/// The peak contraction (0..1) at which a twitch in `regions` narrows its eye by `closure`
/// (0..1] (bisection on `narrowing`); `None` when even a full contraction does not (no eye
/// among the regions).
pub(super) fn contraction_for_closure(closure: f32, regions: &[RegionKind]) -> Option<f32> {
    let at = |a: f32| {
        let mut st = State::default();
        contract(&mut st, Side::Left.index(), regions, a);
        push_lower_lids(&mut st);
        narrowing(&st, Side::Left)
    };
    if at(1.0) < closure - 1e-3 {
        return None;
    }
    let (mut lo, mut hi) = (0.0f32, 1.0f32);
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if at(mid) < closure {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
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
    let mut h = (i as u32).wrapping_mul(0x8da6_b343)
        ^ (j as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
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
