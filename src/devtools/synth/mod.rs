//! Synthetic test clips with ground truth: a rendered face with one-sided (hemifacial)
//! twitches and distractors that must not be flagged.
//!
//! Input: `SynthParams` (or `SynthArgs` from the command line). Output: luma frames
//! (`render_frames`), or an H.264 MP4 / Y4M clip plus `<stem>.labels.json` (`write_clip`).
//! Thread: any; everything is deterministic from the seed.
//!
//! Units: times in seconds, sizes in pixels, angles in degrees in the parameters and radians
//! inside the renderer. Sides are always the person's (`anatomy::Side`).

mod render;

pub use crate::outputs::encode::{ClipWriter, write_frames};
pub use render::Renderer;

use crate::analysis::anatomy::{RegionKind, Side};
use crate::devtools::labels::{LabelDistractor, LabelEvent, Labels};
use crate::source::Frame;
use anyhow::{Context, bail};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Things in a clip that move the face or the image but are not hemifacial spasm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DistractorKind {
    /// Both eyes close together, 100-400 ms.
    Blink,
    /// Jaw and lips move symmetrically (syllables ~4 Hz).
    Talk,
    /// Both mouth corners and cheeks rise.
    Smile,
    /// Head yaw out to up to ~30° and back.
    HeadTurn,
    /// Head pitch down/up.
    Nod,
    /// Whole image jitters (handheld camera).
    Shake,
    /// Global brightness flicker (mains lighting, auto exposure).
    Flicker,
    /// A person-shaped blob walks across the background.
    Walker,
    /// A hand moves in over the lower face and cheek on one side, rests 1-2 s and leaves
    /// (occludes the face). Not in `ALL` (opt-in, see `ALL_EXTENDED`).
    Hand,
    /// Both eyes close partly (to 30-60 %) and open again, 150-400 ms. Opt-in (`WEAK`).
    HalfBlink,
    /// Looking down: both lids move down slowly (the upper lid most) with the gaze, for
    /// 1.5-5 s. Opt-in (`WEAK`).
    LookDown,
    /// A head turn of 15-35° in which the far eye narrows in perspective (by 15-35 % at the
    /// turn's peak): one eye narrows, but with the head turned. Opt-in (`WEAK`).
    TurnSquint,
}

impl DistractorKind {
    pub const ALL: [DistractorKind; 8] = [
        DistractorKind::Blink,
        DistractorKind::Talk,
        DistractorKind::Smile,
        DistractorKind::HeadTurn,
        DistractorKind::Nod,
        DistractorKind::Shake,
        DistractorKind::Flicker,
        DistractorKind::Walker,
    ];

    /// `ALL` plus the opt-in kinds (`Hand`), which the default clips do not contain.
    pub const ALL_EXTENDED: [DistractorKind; 9] = [
        DistractorKind::Blink,
        DistractorKind::Talk,
        DistractorKind::Smile,
        DistractorKind::HeadTurn,
        DistractorKind::Nod,
        DistractorKind::Shake,
        DistractorKind::Flicker,
        DistractorKind::Walker,
        DistractorKind::Hand,
    ];

    /// The distractors a detector of weak twitches must survive (opt-in: not in `ALL` or
    /// `ALL_EXTENDED`; `weak` in a `--distractors` list).
    pub const WEAK: [DistractorKind; 3] = [
        DistractorKind::HalfBlink,
        DistractorKind::LookDown,
        DistractorKind::TurnSquint,
    ];

    /// Name used in `labels.json` (`distractors[].kind`).
    pub fn label(self) -> &'static str {
        match self {
            DistractorKind::Blink => "blink",
            DistractorKind::Talk => "talking",
            DistractorKind::Smile => "smile",
            DistractorKind::HeadTurn => "head_turn",
            DistractorKind::Nod => "nod",
            DistractorKind::Shake => "shake",
            DistractorKind::Flicker => "flicker",
            DistractorKind::Walker => "walker",
            DistractorKind::Hand => "hand",
            DistractorKind::HalfBlink => "half_blink",
            DistractorKind::LookDown => "look_down",
            DistractorKind::TurnSquint => "turn_squint",
        }
    }

    /// Parses a label name or a short alias (`talk`, `turn`, `walk`).
    pub fn parse(s: &str) -> Option<DistractorKind> {
        let s = s.trim().to_ascii_lowercase();
        DistractorKind::ALL_EXTENDED
            .into_iter()
            .chain(DistractorKind::WEAK)
            .find(|k| k.label() == s)
            .or(match s.as_str() {
                "talk" => Some(DistractorKind::Talk),
                "turn" | "headturn" | "head-turn" | "yaw" => Some(DistractorKind::HeadTurn),
                "walk" => Some(DistractorKind::Walker),
                "pitch" => Some(DistractorKind::Nod),
                "hands" | "occlusion" => Some(DistractorKind::Hand),
                "half-blink" | "halfblink" => Some(DistractorKind::HalfBlink),
                "look-down" | "lookdown" => Some(DistractorKind::LookDown),
                "squint" | "turn-squint" => Some(DistractorKind::TurnSquint),
                _ => None,
            })
    }

    /// Whether this distractor must stay >= 0.5 s away from twitch windows (it changes the
    /// face itself, so overlapping a twitch would make the labels ambiguous).
    fn keeps_off_twitches(self) -> bool {
        matches!(
            self,
            DistractorKind::Blink
                | DistractorKind::Talk
                | DistractorKind::Smile
                | DistractorKind::Hand
                | DistractorKind::HalfBlink
                | DistractorKind::LookDown
                | DistractorKind::TurnSquint
        )
    }
}

/// Parses `blink,talk,...`, `all` or `none`; `all` in a list (`all,hand`) stands for the
/// default kinds (`DistractorKind::ALL`, without the opt-in `hand`), `weak` for
/// `DistractorKind::WEAK` (half blinks, looking down, squints from a head turn).
pub fn parse_distractors(s: &str) -> anyhow::Result<Vec<DistractorKind>> {
    match s.trim() {
        "all" => return Ok(DistractorKind::ALL.to_vec()),
        "none" | "" => return Ok(Vec::new()),
        _ => {}
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let kinds = if part.trim() == "all" {
            DistractorKind::ALL.to_vec()
        } else if part.trim() == "weak" {
            DistractorKind::WEAK.to_vec()
        } else {
            vec![DistractorKind::parse(part).with_context(|| {
                format!("unknown distractor {part:?} (blink, talk, smile, head_turn, nod, shake, flicker, walker, hand, half_blink, look_down, turn_squint, all, weak, none)")
            })?]
        };
        for k in kinds {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    Ok(out)
}

/// Twitch pattern of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    /// 3-8 brief jerks (60-200 ms) over 0.3-2 s.
    Clonic,
    /// Squeeze to near closure held 1-4 s.
    Tonic,
    /// One brief jerk, 60-150 ms in all (render at >= 30 fps to see it).
    Single,
    /// Lower-lid flutter: small 5-10 Hz twitches of the lower lid alone for 0.5-3 s, one
    /// labelled event per run.
    Flutter,
}

impl PatternKind {
    /// Name used in `labels.json` (`events[].pattern`) and by `--pattern`.
    pub fn label(self) -> &'static str {
        match self {
            PatternKind::Clonic => "clonic",
            PatternKind::Tonic => "tonic",
            PatternKind::Single => "single",
            PatternKind::Flutter => "flutter",
        }
    }
}

/// What to render. All fields have defaults (`SynthParams::default()`).
#[derive(Debug, Clone, PartialEq)]
pub struct SynthParams {
    /// Seed of every random choice (timeline, texture, noise).
    pub seed: u64,
    /// Frame size, pixels.
    pub width: u32,
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Clip length, seconds.
    pub duration_s: f64,
    /// Face width (cheek to cheek, frontal), pixels.
    pub face_width_px: f32,
    /// Render a selfie view (horizontally flipped); labels keep the person's sides.
    pub mirrored: bool,
    /// Number of twitch events wanted (fewer if they do not fit with >= 1 s gaps).
    pub twitches: usize,
    /// Affected side; `None`: chosen from the seed (one side per clip, as in HFS).
    pub side: Option<Side>,
    /// Pattern of every twitch; `None`: mixed, chosen per event.
    pub pattern: Option<PatternKind>,
    /// Regions of every twitch; `None`: chosen per event (eye; eye+cheek; eye+cheek+mouth).
    pub regions: Option<Vec<RegionKind>>,
    /// Distractors to include (default: `DistractorKind::ALL`; add `Hand` for hand occlusion).
    pub distractors: Vec<DistractorKind>,
    /// Sensor noise standard deviation, luma levels (0-255 scale).
    pub noise_sigma: f32,
    /// Slow natural head sway, amplitude as a fraction of the face width (0 = still head).
    pub sway: f32,
    /// H.264 bit rate, bits per second; `None`: about 0.15 bits per pixel per frame.
    pub bitrate_bps: Option<u32>,
    /// The person wears glasses: dark rims around both eyes and a bridge, fixed to the face,
    /// semi-transparent lenses with a faint highlight. Default off.
    pub glasses: bool,
    /// A second, smaller person (0.5-0.6 of the face width) stands behind, off-centre, mostly
    /// still, blinking now and then; never twitches. Default off.
    pub second_face: bool,
    /// Scene brightness factor (1 = normal, 0.3 = dim). The sensor noise stays
    /// `noise_sigma` luma levels, so a dim scene has a worse signal-to-noise ratio.
    pub light: f32,
    /// Twitch strength: the fraction (0..1] by which the affected eye's aperture narrows at
    /// the peak of every twitch (clonic, tonic, single). Each twitch's time course is scaled
    /// so that its peak narrows the eye by exactly this much; times, sides, patterns and
    /// regions stay those of the seed, so renders of one seed at two strengths are paired.
    /// `None`: the seed's own strengths (most twitches shut the eye).
    pub closure: Option<f32>,
    /// Flutter strength: the lower lid's peak rise, percent of the face width; `None`: drawn
    /// per event from 0.5-2 %.
    pub lid_travel_pct: Option<f32>,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            seed: 1,
            width: 640,
            height: 480,
            fps: 30.0,
            duration_s: 20.0,
            face_width_px: 200.0,
            mirrored: false,
            twitches: 3,
            side: None,
            pattern: None,
            regions: None,
            distractors: DistractorKind::ALL.to_vec(),
            noise_sigma: 2.0,
            sway: 0.015,
            bitrate_bps: None,
            glasses: false,
            second_face: false,
            light: 1.0,
            closure: None,
            lid_travel_pct: None,
        }
    }
}

impl SynthParams {
    pub fn frame_count(&self) -> u64 {
        (self.duration_s * self.fps).round().max(0.0) as u64
    }

    fn bitrate(&self) -> u32 {
        self.bitrate_bps.unwrap_or_else(|| {
            (0.15 * self.width as f64 * self.height as f64 * self.fps).clamp(100e3, 20e6) as u32
        })
    }
}

/// One brief contraction of a clonic twitch: contracts over `rise_s` (30-80 ms), relaxes
/// over the rest of `dur_s` (60-150 ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jerk {
    pub start_s: f64,
    /// Contraction time, seconds.
    pub rise_s: f64,
    /// Contraction plus relaxation, seconds.
    pub dur_s: f64,
    /// Peak contraction 0..1.
    pub amplitude: f32,
}

impl Jerk {
    /// Contraction at time `t`: raised-cosine rise to `amplitude`, raised-cosine fall.
    pub fn activation(&self, t: f64) -> f32 {
        let x = t - self.start_s;
        if x <= 0.0 || x >= self.dur_s {
            return 0.0;
        }
        let a = if x < self.rise_s {
            ease(x / self.rise_s)
        } else {
            1.0 - ease((x - self.rise_s) / (self.dur_s - self.rise_s))
        };
        self.amplitude * a
    }

    /// A random jerk starting at `start_s`: rise 30-80 ms, relax 60-150 ms (total <= 200 ms),
    /// amplitude in `amp`.
    fn random(rng: &mut ChaCha8Rng, start_s: f64, amp: std::ops::Range<f32>) -> Jerk {
        let rise_s = rng.random_range(0.03..0.08f64);
        let fall_s = rng.random_range(0.06..0.15f64).min(0.2 - rise_s);
        Jerk {
            start_s,
            rise_s,
            dur_s: rise_s + fall_s,
            amplitude: rng.random_range(amp),
        }
    }
}

/// Time course of a twitch.
#[derive(Debug, Clone, PartialEq)]
pub enum TwitchShape {
    Clonic {
        jerks: Vec<Jerk>,
    },
    /// A few building clonic `lead` jerks, then from `ramp_s` (absolute seconds) a contraction
    /// to `amplitude` over `onset_s` (<= 0.2 s), held `hold_s` with a slight tremor, released
    /// over `offset_s` (0.15-0.3 s).
    Tonic {
        lead: Vec<Jerk>,
        ramp_s: f64,
        onset_s: f64,
        hold_s: f64,
        offset_s: f64,
        amplitude: f32,
    },
    /// One brief jerk.
    Single {
        jerk: Jerk,
    },
    /// Lower-lid flutter from `start_s` for `dur_s` (absolute seconds): raised-cosine pulses
    /// at `rate_hz` under a smooth 0.1 s envelope; activation 0..1 scales `travel` (the lower
    /// lid's rise, face units = half face widths).
    Flutter {
        start_s: f64,
        dur_s: f64,
        rate_hz: f64,
        travel: f32,
    },
}

impl TwitchShape {
    /// Multiplies every contraction amplitude by `k` (times stay).
    pub fn scale(&mut self, k: f32) {
        match self {
            TwitchShape::Clonic { jerks } => jerks.iter_mut().for_each(|j| j.amplitude *= k),
            TwitchShape::Tonic {
                lead, amplitude, ..
            } => {
                lead.iter_mut().for_each(|j| j.amplitude *= k);
                *amplitude *= k;
            }
            TwitchShape::Single { jerk } => jerk.amplitude *= k,
            TwitchShape::Flutter { travel, .. } => *travel *= k,
        }
    }

    /// Moves the shape `dt` seconds later.
    fn shift(&mut self, dt: f64) {
        match self {
            TwitchShape::Clonic { jerks } => jerks.iter_mut().for_each(|j| j.start_s += dt),
            TwitchShape::Tonic { lead, ramp_s, .. } => {
                lead.iter_mut().for_each(|j| j.start_s += dt);
                *ramp_s += dt;
            }
            TwitchShape::Single { jerk } => jerk.start_s += dt,
            TwitchShape::Flutter { start_s, .. } => *start_s += dt,
        }
    }
}

/// One hemifacial twitch event (ground truth).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedTwitch {
    /// First movement, seconds.
    pub start_s: f64,
    /// Back at rest, seconds.
    pub end_s: f64,
    /// The person's side.
    pub side: Side,
    pub regions: Vec<RegionKind>,
    pub shape: TwitchShape,
    /// Peak narrowing of the affected eye (0..1), when the clip's strength was set
    /// (`SynthParams::closure`); written to the labels as `"closure"`.
    pub closure: Option<f32>,
    /// Flutter: the lower lid's peak rise, percent of the face width (`"lid_travel_pct"`).
    pub lid_travel_pct: Option<f32>,
}

impl ScriptedTwitch {
    pub fn pattern(&self) -> PatternKind {
        match self.shape {
            TwitchShape::Clonic { .. } => PatternKind::Clonic,
            TwitchShape::Tonic { .. } => PatternKind::Tonic,
            TwitchShape::Single { .. } => PatternKind::Single,
            TwitchShape::Flutter { .. } => PatternKind::Flutter,
        }
    }

    /// Time (seconds) and value of the peak contraction: every jerk's peak, and the rest of
    /// the event sampled every 0.5 ms.
    pub fn peak(&self) -> (f64, f32) {
        let mut best = (self.start_s, 0.0f32);
        let mut consider = |t: f64| {
            let a = self.activation(t);
            if a > best.1 {
                best = (t, a);
            }
        };
        match &self.shape {
            TwitchShape::Clonic { jerks } => {
                jerks.iter().for_each(|j| consider(j.start_s + j.rise_s))
            }
            TwitchShape::Tonic { lead, .. } => {
                lead.iter().for_each(|j| consider(j.start_s + j.rise_s))
            }
            TwitchShape::Single { jerk } => consider(jerk.start_s + jerk.rise_s),
            TwitchShape::Flutter { .. } => {}
        }
        let n = ((self.end_s - self.start_s) / 5e-4).ceil().max(0.0) as usize;
        for i in 0..=n {
            consider(self.start_s + i as f64 * 5e-4);
        }
        best
    }

    /// Contraction 0..1 at time `t` (seconds).
    pub fn activation(&self, t: f64) -> f32 {
        if t < self.start_s || t > self.end_s {
            return 0.0;
        }
        match &self.shape {
            TwitchShape::Clonic { jerks } => {
                jerks.iter().map(|j| j.activation(t)).fold(0.0, f32::max)
            }
            TwitchShape::Tonic {
                lead,
                ramp_s,
                onset_s,
                hold_s,
                offset_s,
                amplitude,
            } => {
                let x = t - ramp_s;
                let a = if x <= 0.0 {
                    0.0
                } else if x < *onset_s {
                    ease(x / onset_s)
                } else if x < onset_s + hold_s {
                    // Slight irregular tremor while held, as in real tonic spasms.
                    let y = x - onset_s;
                    let tau = std::f64::consts::TAU;
                    1.0 - (0.03 + 0.015 * ((tau * 6.3 * y).sin() + (tau * 9.1 * y + 1.0).sin()))
                        as f32
                } else {
                    1.0 - ease((x - onset_s - hold_s) / offset_s)
                };
                lead.iter()
                    .map(|j| j.activation(t))
                    .fold(amplitude * a, f32::max)
            }
            TwitchShape::Single { jerk } => jerk.activation(t),
            TwitchShape::Flutter {
                start_s,
                dur_s,
                rate_hz,
                ..
            } => {
                let x = t - start_s;
                if x <= 0.0 || x >= *dur_s {
                    return 0.0;
                }
                let env = smoothstep((x / 0.1).min((dur_s - x) / 0.1));
                env * (0.5 - 0.5 * (std::f64::consts::TAU * rate_hz * x).cos()) as f32
            }
        }
    }
}

/// One distractor occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Distractor {
    pub kind: DistractorKind,
    pub start_s: f64,
    pub end_s: f64,
    /// Kind-specific strength: blink and half blink 0..1 closure, talk/smile 0..1, head turn,
    /// turn squint and nod signed peak angle (degrees), shake peak offset (fraction of face
    /// width), flicker relative gain amplitude, walker luma (0-255), hand size relative to a
    /// typical hand, look down 0..1 gaze.
    pub amplitude: f32,
    /// Kind-specific: oscillation frequency (Hz) for talk/nod/flicker/shake, walking direction
    /// (+1 right, -1 left) for the walker, the person's side the hand covers (+1 left, -1
    /// right), the far eye's peak closure 0..1 for the turn squint.
    pub rate: f32,
    /// Kind-specific phase (radians); for the hand, a tilt offset (radians).
    pub phase: f32,
}

impl Distractor {
    /// 0..1 envelope with `ramp_s` smooth edges.
    fn envelope(&self, t: f64, ramp_s: f64) -> f32 {
        if t <= self.start_s || t >= self.end_s {
            return 0.0;
        }
        let r = ramp_s.min(0.5 * (self.end_s - self.start_s));
        smoothstep(((t - self.start_s) / r).min((self.end_s - t) / r))
    }

    fn progress(&self, t: f64) -> f64 {
        ((t - self.start_s) / (self.end_s - self.start_s)).clamp(0.0, 1.0)
    }
}

/// A planned clip: parameters plus the full timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub params: SynthParams,
    pub twitches: Vec<ScriptedTwitch>,
    pub distractors: Vec<Distractor>,
    /// Phases of the slow head sway (radians).
    pub sway_phase: [f32; 4],
    /// The second person, if `params.second_face`.
    pub second_face: Option<SecondFace>,
}

/// A second person standing behind the main one (`SynthParams::second_face`).
#[derive(Debug, Clone, PartialEq)]
pub struct SecondFace {
    /// Head centre, pixels (unmirrored frame).
    pub cx: f32,
    pub cy: f32,
    /// Face width, pixels.
    pub width_px: f32,
    /// Seed of its texture.
    pub seed: u32,
    /// Blinks (start, end), seconds.
    pub blinks: Vec<(f64, f64)>,
    /// Phase of its slight sway (radians).
    pub phase: f32,
}

impl Scenario {
    pub fn frame_count(&self) -> u64 {
        self.params.frame_count()
    }

    /// Ground truth for this scenario (clip name filled in by the caller).
    pub fn labels(&self, clip: &str) -> Labels {
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let mut events: Vec<LabelEvent> = self
            .twitches
            .iter()
            .map(|t| LabelEvent {
                start_s: r3(t.start_s),
                end_s: r3(t.end_s),
                side: t.side,
                regions: t.regions.clone(),
                pattern: Some(t.pattern().label().to_string()),
                closure: t.closure.map(|c| r3(c as f64)),
                lid_travel_pct: t.lid_travel_pct.map(|c| r3(c as f64)),
                amplitude: None,
            })
            .collect();
        events.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let mut distractors: Vec<LabelDistractor> = self
            .distractors
            .iter()
            .map(|d| LabelDistractor {
                start_s: r3(d.start_s),
                end_s: r3(d.end_s),
                kind: d.kind.label().to_string(),
            })
            .collect();
        let p = &self.params;
        if self.second_face.is_some() {
            // Present over the whole clip.
            distractors.push(LabelDistractor {
                start_s: 0.0,
                end_s: r3(p.duration_s.max(0.0)),
                kind: "second_face".to_string(),
            });
        }
        distractors.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let mut note = format!(
            "synthetic (twitchwatch synth): seed {}, {}x{}, face {} px wide, noise sigma {}",
            p.seed, p.width, p.height, p.face_width_px, p.noise_sigma
        );
        if p.glasses {
            note += ", glasses";
        }
        if p.second_face {
            note += ", second face";
        }
        if p.light != 1.0 {
            note += &format!(", light {}", p.light);
        }
        Labels {
            clip: clip.to_string(),
            mirrored: p.mirrored,
            fps: p.fps,
            frames: self.frame_count(),
            note: Some(note),
            events,
            distractors,
        }
    }
}

/// Plans the timeline, deterministically from `params.seed`.
///
/// Twitches do not overlap and are >= 1 s apart (and >= 1 s from the clip's start and end);
/// blinks, talking and smiles stay >= 0.5 s away from twitch windows. Head turns, nods,
/// shake, flicker and the walker may overlap anything.
pub fn plan(params: &SynthParams) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7477_6974_6368_0001);
    let dur = params.duration_s.max(0.0);
    let side = params.side.unwrap_or(if rng.random_bool(0.5) {
        Side::Left
    } else {
        Side::Right
    });

    // Twitch shapes first (their lengths), then spread them over the clip. Patterns added
    // later draw from their own stream, so that the clips of existing seeds stay as they were.
    let mut rng3 = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7477_6974_6368_0003);
    let mut shapes = Vec::new();
    for _ in 0..params.twitches {
        let pattern = params.pattern.unwrap_or(if rng.random_bool(0.55) {
            PatternKind::Clonic
        } else {
            PatternKind::Tonic
        });
        if matches!(pattern, PatternKind::Single | PatternKind::Flutter) {
            shapes.push(plan_brief(&mut rng3, pattern, params));
            continue;
        }
        let regions = params.regions.clone().unwrap_or_else(|| {
            let r: f64 = rng.random();
            match pattern {
                PatternKind::Clonic if r < 0.4 => vec![RegionKind::Eye],
                PatternKind::Clonic if r < 0.75 => vec![RegionKind::Eye, RegionKind::Cheek],
                PatternKind::Tonic if r < 0.15 => vec![RegionKind::Eye],
                PatternKind::Tonic if r < 0.35 => vec![RegionKind::Eye, RegionKind::Cheek],
                _ => vec![RegionKind::Eye, RegionKind::Cheek, RegionKind::Mouth],
            }
        });
        let (shape, len) = match pattern {
            PatternKind::Clonic => {
                let n = rng.random_range(3..=8usize);
                let span = rng.random_range(0.3..2.0f64).max(n as f64 * 0.11);
                let mut jerks = Vec::with_capacity(n);
                // Jerk starts spread over the span; amplitude >= 0.4 so every jerk is visible.
                let slot = span / n as f64;
                for i in 0..n {
                    let s = i as f64 * slot + rng.random_range(0.0..(slot * 0.4).max(1e-6));
                    jerks.push(Jerk::random(&mut rng, s, 0.4..1.0));
                }
                let len = jerks
                    .iter()
                    .map(|j| j.start_s + j.dur_s)
                    .fold(0.0, f64::max);
                (TwitchShape::Clonic { jerks }, len)
            }
            PatternKind::Tonic => {
                // 1-3 building jerks 150-350 ms apart, then the sustained squeeze.
                let n = rng.random_range(1..=3usize);
                let mut lead = Vec::with_capacity(n);
                let mut s = 0.0;
                for i in 0..n {
                    let lo = 0.4 + 0.15 * i as f32;
                    lead.push(Jerk::random(&mut rng, s, lo..lo + 0.3));
                    s += rng.random_range(0.15..0.35f64);
                }
                let last = lead[n - 1];
                let ramp = last.start_s + last.rise_s + 0.5 * (last.dur_s - last.rise_s);
                let onset = rng.random_range(0.08..0.2f64);
                let hold = rng.random_range(1.0..4.0f64);
                let offset = rng.random_range(0.15..0.3f64);
                let amp = rng.random_range(0.85..1.0f32);
                let len = ramp + onset + hold + offset;
                (
                    TwitchShape::Tonic {
                        lead,
                        ramp_s: ramp,
                        onset_s: onset,
                        hold_s: hold,
                        offset_s: offset,
                        amplitude: amp,
                    },
                    len,
                )
            }
            PatternKind::Single | PatternKind::Flutter => unreachable!(),
        };
        shapes.push((regions, shape, len, None));
    }
    // Drop events until they fit with 1 s gaps and 1 s margins.
    while !shapes.is_empty()
        && shapes.iter().map(|s| s.2).sum::<f64>() + (shapes.len() + 1) as f64 * 1.0 > dur
    {
        shapes.pop();
    }
    let mut twitches = Vec::new();
    if !shapes.is_empty() {
        let slack = dur - shapes.iter().map(|s| s.2).sum::<f64>() - (shapes.len() + 1) as f64;
        let mut cuts: Vec<f64> = (0..shapes.len())
            .map(|_| rng.random_range(0.0..1.0f64))
            .collect();
        cuts.sort_by(f64::total_cmp);
        let mut t = 1.0;
        let mut prev_cut = 0.0;
        for ((regions, mut shape, len, travel), cut) in shapes.into_iter().zip(cuts) {
            t += (cut - prev_cut) * slack;
            prev_cut = cut;
            shape.shift(t);
            twitches.push(ScriptedTwitch {
                start_s: t,
                end_s: t + len,
                side,
                regions,
                shape,
                closure: None,
                lid_travel_pct: travel,
            });
            t += len + 1.0;
        }
    }

    if let Some(c) = params.closure {
        // Scale each twitch so that its peak narrows the eye by exactly `c` (times stay).
        for tw in &mut twitches {
            if tw.pattern() == PatternKind::Flutter {
                continue;
            }
            if let Some(a) = render::contraction_for_closure(c, &tw.regions) {
                let (_, peak) = tw.peak();
                if peak > 0.0 {
                    tw.shape.scale(a / peak);
                    tw.closure = Some(c);
                }
            }
        }
    }

    let near_twitch = |a: f64, b: f64| {
        twitches
            .iter()
            .any(|tw| a < tw.end_s + 0.5 && b > tw.start_s - 0.5)
    };
    let mut distractors = Vec::new();
    for &kind in &params.distractors {
        let place = |rng: &mut ChaCha8Rng, len: f64| -> Option<(f64, f64)> {
            for _ in 0..40 {
                if dur <= len + 0.2 {
                    return None;
                }
                let s = rng.random_range(0.1..(dur - len - 0.1));
                if !(kind.keeps_off_twitches() && near_twitch(s, s + len)) {
                    return Some((s, s + len));
                }
            }
            None
        };
        match kind {
            DistractorKind::Blink => {
                // Natural blinking: every 2.5-6 s (10-24 per minute), skipped near twitches.
                let mut t = rng.random_range(0.4..2.5f64);
                while t + 0.5 < dur {
                    let len = rng.random_range(0.1..0.4f64);
                    let amp = rng.random_range(0.9..1.0f32);
                    if !near_twitch(t, t + len) {
                        distractors.push(Distractor {
                            kind,
                            start_s: t,
                            end_s: t + len,
                            amplitude: amp,
                            rate: 0.0,
                            phase: 0.0,
                        });
                    }
                    t += len + rng.random_range(2.5..6.0f64);
                }
            }
            _ => {
                let (period, len_range): (f64, std::ops::Range<f64>) = match kind {
                    DistractorKind::Talk => (12.0, 1.5..4.0),
                    DistractorKind::Smile => (18.0, 1.0..3.0),
                    DistractorKind::HeadTurn => (15.0, 1.5..3.0),
                    DistractorKind::Nod => (18.0, 1.0..2.0),
                    DistractorKind::Shake => (20.0, 1.0..3.0),
                    DistractorKind::Flicker => (20.0, 0.5..2.0),
                    DistractorKind::Walker => (20.0, 2.0..4.0),
                    // Planned below from their own random streams.
                    DistractorKind::Hand
                    | DistractorKind::HalfBlink
                    | DistractorKind::LookDown
                    | DistractorKind::TurnSquint => continue,
                    DistractorKind::Blink => unreachable!(),
                };
                let count = ((dur / period).round() as usize).max(1);
                for _ in 0..count {
                    let len = rng.random_range(len_range.clone());
                    let Some((s, e)) = place(&mut rng, len) else {
                        continue;
                    };
                    let sign = if rng.random_bool(0.5) { 1.0f32 } else { -1.0 };
                    let (amplitude, rate) = match kind {
                        DistractorKind::Talk => {
                            (rng.random_range(0.5..1.0f32), rng.random_range(3.5..5.0f32))
                        }
                        DistractorKind::Smile => (rng.random_range(0.6..1.0f32), 0.0),
                        DistractorKind::HeadTurn => (sign * rng.random_range(15.0..30.0f32), 0.0),
                        DistractorKind::Nod => (
                            rng.random_range(8.0..15.0f32),
                            rng.random_range(1.0..2.0f32),
                        ),
                        DistractorKind::Shake => (
                            rng.random_range(0.02..0.05f32),
                            rng.random_range(3.0..7.0f32),
                        ),
                        DistractorKind::Flicker => (
                            rng.random_range(0.05..0.12f32),
                            rng.random_range(4.0..12.0f32),
                        ),
                        DistractorKind::Walker => (
                            if sign > 0.0 {
                                rng.random_range(40.0..80.0f32)
                            } else {
                                rng.random_range(170.0..220.0f32)
                            },
                            sign,
                        ),
                        _ => unreachable!(),
                    };
                    let phase = rng.random_range(0.0..std::f32::consts::TAU);
                    distractors.push(Distractor {
                        kind,
                        start_s: s,
                        end_s: e,
                        amplitude,
                        rate,
                        phase,
                    });
                }
            }
        }
    }
    distractors.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let sway_phase = [0, 1, 2, 3].map(|_| rng.random_range(0.0..std::f32::consts::TAU));

    // Options added later draw from their own stream, so that the draws above (and the
    // clips of existing seeds) stay as they were.
    let mut rng2 = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7477_6974_6368_0002);
    if params.distractors.contains(&DistractorKind::Hand) {
        // A hand to the face every ~15 s: 0.4 s in, 1-2 s resting, 0.4 s out.
        let count = ((dur / 15.0).round() as usize).max(1);
        for _ in 0..count {
            let len = 0.8 + rng2.random_range(1.0..2.0f64);
            // Off the twitch windows (>= 0.5 s) if there is room; else anywhere, over the
            // unaffected side (so the twitches stay visible).
            let mut at = None;
            for i in 0..80 {
                if dur <= len + 0.2 {
                    break;
                }
                let s = rng2.random_range(0.1..(dur - len - 0.1));
                let clash = (i < 40 && near_twitch(s, s + len))
                    || distractors.iter().any(|d| {
                        d.kind == DistractorKind::Hand
                            && s < d.end_s + 0.5
                            && s + len + 0.5 > d.start_s
                    });
                if !clash {
                    at = Some(s);
                    break;
                }
            }
            let Some(s) = at else { continue };
            let mut side = if rng2.random_bool(0.5) { 1.0f32 } else { -1.0 };
            if near_twitch(s, s + len) {
                side = -sign_of(side_twitch(&twitches));
            }
            distractors.push(Distractor {
                kind: DistractorKind::Hand,
                start_s: s,
                end_s: s + len,
                amplitude: rng2.random_range(0.8..0.95f32),
                rate: side,
                phase: rng2.random_range(-0.15..0.15f32),
            });
        }
        distractors.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    }
    plan_weak(params, &twitches, &mut distractors);
    let second_face = params.second_face.then(|| {
        let (w, h) = (params.width as f32, params.height as f32);
        let fw = params.face_width_px;
        let width_px = fw * rng2.random_range(0.5..0.6f32);
        let dir = if rng2.random_bool(0.5) { 1.0 } else { -1.0 };
        // Beside the main head (hair included), inside the frame if it can be.
        let dx = 0.6 * fw + 0.65 * width_px + 0.04 * w;
        let lo = 0.6 * width_px;
        let cx = (0.5 * w + dir * dx).clamp(lo, (w - lo).max(lo));
        let cy = 0.47 * h - rng2.random_range(0.05..0.2f32) * fw;
        let seed = rng2.random::<u32>();
        let mut blinks = Vec::new();
        let mut t = rng2.random_range(0.5..3.0f64);
        while t + 0.5 < dur {
            let len = rng2.random_range(0.12..0.3f64);
            blinks.push((t, t + len));
            t += len + rng2.random_range(2.5..7.0f64);
        }
        SecondFace {
            cx,
            cy,
            width_px,
            seed,
            blinks,
            phase: rng2.random_range(0.0..std::f32::consts::TAU),
        }
    });
    Scenario {
        params: params.clone(),
        twitches,
        distractors,
        sway_phase,
        second_face,
    }
}

/// Adds the `DistractorKind::WEAK` kinds asked for, drawn from their own random stream, at
/// least 0.5 s off the twitch windows: half blinks every ~8 s, looking down every ~20 s,
/// squints from a head turn every ~15 s.
fn plan_weak(params: &SynthParams, twitches: &[ScriptedTwitch], distractors: &mut Vec<Distractor>) {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7477_6974_6368_0004);
    let dur = params.duration_s.max(0.0);
    let near_twitch = |a: f64, b: f64| {
        twitches
            .iter()
            .any(|tw| a < tw.end_s + 0.5 && b > tw.start_s - 0.5)
    };
    let mut added = false;
    for kind in DistractorKind::WEAK {
        if !params.distractors.contains(&kind) {
            continue;
        }
        let (period, len_range) = match kind {
            DistractorKind::HalfBlink => (8.0, 0.15..0.4f64),
            DistractorKind::LookDown => (20.0, 1.5..5.0),
            _ => (15.0, 1.5..3.0),
        };
        let count = ((dur / period).round() as usize).max(1);
        for _ in 0..count {
            let len = rng.random_range(len_range.clone());
            let sign = if rng.random_bool(0.5) { 1.0f32 } else { -1.0 };
            let (amplitude, rate) = match kind {
                DistractorKind::HalfBlink => (rng.random_range(0.3..0.6f32), 0.0),
                DistractorKind::LookDown => (rng.random_range(0.5..1.0f32), 0.0),
                _ => (
                    sign * rng.random_range(15.0..35.0f32),
                    rng.random_range(0.15..0.35f32),
                ),
            };
            let mut at = None;
            for _ in 0..40 {
                if dur <= len + 0.2 {
                    break;
                }
                let s = rng.random_range(0.1..(dur - len - 0.1));
                let clash = near_twitch(s, s + len)
                    || distractors
                        .iter()
                        .any(|d| d.kind == kind && s < d.end_s + 0.5 && s + len + 0.5 > d.start_s);
                if !clash {
                    at = Some(s);
                    break;
                }
            }
            if let Some(s) = at {
                distractors.push(Distractor {
                    kind,
                    start_s: s,
                    end_s: s + len,
                    amplitude,
                    rate,
                    phase: 0.0,
                });
                added = true;
            }
        }
    }
    if added {
        distractors.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    }
}

/// A single jerk or a lower-lid flutter run (shape at time 0, its length), drawn from `rng`:
/// (regions, shape, length in seconds, flutter's lid travel in % of the face width).
fn plan_brief(
    rng: &mut ChaCha8Rng,
    pattern: PatternKind,
    params: &SynthParams,
) -> (Vec<RegionKind>, TwitchShape, f64, Option<f32>) {
    if pattern == PatternKind::Flutter {
        let dur_s = rng.random_range(0.5..3.0f64);
        let rate_hz = rng.random_range(5.0..10.0f64);
        let pct = params
            .lid_travel_pct
            .unwrap_or_else(|| rng.random_range(0.5..2.0f32));
        let shape = TwitchShape::Flutter {
            start_s: 0.0,
            dur_s,
            rate_hz,
            // Percent of the face width (2 face units) → face units.
            travel: pct * 0.02,
        };
        let regions = params.regions.clone().unwrap_or(vec![RegionKind::Eye]);
        return (regions, shape, dur_s, Some(pct));
    }
    let dur_s = rng.random_range(0.06..0.15f64);
    let jerk = Jerk {
        start_s: 0.0,
        rise_s: dur_s * rng.random_range(0.3..0.5f64),
        dur_s,
        amplitude: rng.random_range(0.5..1.0f32),
    };
    let r: f64 = rng.random();
    let regions = params.regions.clone().unwrap_or_else(|| match r {
        r if r < 0.5 => vec![RegionKind::Eye],
        r if r < 0.85 => vec![RegionKind::Eye, RegionKind::Cheek],
        _ => vec![RegionKind::Eye, RegionKind::Cheek, RegionKind::Mouth],
    });
    (regions, TwitchShape::Single { jerk }, dur_s, None)
}

/// Renders every frame in memory (no encoding), in order.
pub fn render_frames(scenario: &Scenario) -> impl Iterator<Item = Frame> + '_ {
    let renderer = Renderer::new(scenario);
    (0..scenario.frame_count()).map(move |i| renderer.render(i))
}

/// Renders and writes a clip (`.mp4`: H.264; `.y4m`: raw) and `<stem>.labels.json` beside it.
pub fn write_clip(scenario: &Scenario, out: &Path) -> anyhow::Result<Labels> {
    let name = out
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy()
        .into_owned();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let p = &scenario.params;
    write_frames(
        out,
        p.width,
        p.height,
        p.fps,
        p.bitrate(),
        render_frames(scenario),
    )?;
    let labels = scenario.labels(&name);
    let json = serde_json::to_string_pretty(&labels)?;
    let lp = labels_path(out);
    std::fs::write(&lp, json + "\n").with_context(|| format!("writing {}", lp.display()))?;
    Ok(labels)
}

/// `dir/clip.mp4` → `dir/clip.labels.json`.
pub fn labels_path(clip: &Path) -> PathBuf {
    let stem = clip
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    clip.with_file_name(format!("{stem}.labels.json"))
}

/// Writes one clip per seed, named `synth_<seed>.mp4`, into `dir` (created if missing).
/// Everything but the seed comes from `base`.
pub fn write_suite(
    dir: &Path,
    seeds: impl IntoIterator<Item = u64>,
    base: &SynthParams,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Vec::new();
    for seed in seeds {
        let params = SynthParams {
            seed,
            ..base.clone()
        };
        let path = dir.join(format!("synth_{seed}.mp4"));
        write_clip(&plan(&params), &path)?;
        out.push(path);
    }
    Ok(out)
}

/// `twitchwatch synth` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Output clip (.mp4 or .y4m), or a folder with --suite.
    #[arg(long, short = 'o', default_value = "synth.mp4")]
    pub out: PathBuf,
    /// Random seed (the first seed of a suite).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Clip length in seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Frame size WIDTHxHEIGHT in pixels.
    #[arg(long, default_value = "640x480", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Frames per second.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// Face width in pixels.
    #[arg(long, default_value_t = 200.0)]
    pub face_width: f32,
    /// Number of twitch events.
    #[arg(long, default_value_t = 3)]
    pub twitches: usize,
    /// Affected side (the person's): left or right; random if omitted.
    #[arg(long, value_parser = parse_side)]
    pub side: Option<Side>,
    /// Twitch pattern: clonic, tonic, mixed (clonic and tonic), single (one 60-150 ms jerk;
    /// needs --fps >= 30) or flutter (5-10 Hz lower-lid flutter).
    #[arg(long, default_value = "mixed")]
    pub pattern: String,
    /// Distractors: comma list of blink,talk,smile,head_turn,nod,shake,flicker,walker,hand, or
    /// all (every kind but hand), none.
    #[arg(long, default_value = "all")]
    pub distractors: String,
    /// Add hand occlusion (a hand over the lower face on one side, 1-2 s, every ~15 s).
    #[arg(long)]
    pub hand: bool,
    /// The person wears glasses.
    #[arg(long)]
    pub glasses: bool,
    /// A second, smaller, still person stands behind, off-centre.
    #[arg(long)]
    pub second_face: bool,
    /// Scene brightness factor: 1 normal, 0.3 dim (the noise stays --noise luma levels).
    #[arg(long, default_value_t = 1.0)]
    pub light: f32,
    /// Sensor noise standard deviation in luma levels.
    #[arg(long, default_value_t = 2.0)]
    pub noise: f32,
    /// Render a selfie (horizontally flipped) view.
    #[arg(long)]
    pub mirrored: bool,
    /// Write N clips named synth_SEED.mp4 (seeds SEED..SEED+N) into the --out folder.
    #[arg(long)]
    pub suite: Option<u64>,
    /// H.264 bit rate in kbit/s (default: about 0.15 bits per pixel per frame).
    #[arg(long)]
    pub kbps: Option<u32>,
    /// Twitch strength: the fraction by which the affected eye's aperture narrows at the
    /// peak of every twitch, 0 < C <= 1 (e.g. 0.2). Times, sides and patterns stay the seed's,
    /// so one seed at two strengths gives paired clips. Written per event as "closure".
    #[arg(long, value_name = "C")]
    pub closure: Option<f32>,
    /// Flutter strength: the lower lid's peak rise in percent of the face width (e.g. 1.0);
    /// default drawn per event from 0.5-2. Written per event as "lid_travel_pct".
    #[arg(long, value_name = "PCT")]
    pub lid_travel: Option<f32>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("{s:?}: bad width"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("{s:?}: bad height"))?;
    if w < 32 || h < 32 || !w.is_multiple_of(2) || !h.is_multiple_of(2) {
        return Err(format!(
            "{s:?}: width and height must be even and at least 32"
        ));
    }
    Ok((w, h))
}

fn parse_side(s: &str) -> Result<Side, String> {
    match s.to_ascii_lowercase().as_str() {
        "left" | "l" => Ok(Side::Left),
        "right" | "r" => Ok(Side::Right),
        _ => Err(format!("{s:?}: expected left or right")),
    }
}

impl SynthArgs {
    pub fn params(&self) -> anyhow::Result<SynthParams> {
        let pattern = match self.pattern.to_ascii_lowercase().as_str() {
            "clonic" => Some(PatternKind::Clonic),
            "tonic" => Some(PatternKind::Tonic),
            "single" | "jerk" => Some(PatternKind::Single),
            "flutter" => Some(PatternKind::Flutter),
            "mixed" | "" => None,
            other => bail!("--pattern {other:?}: expected clonic, tonic, single, flutter or mixed"),
        };
        if pattern == Some(PatternKind::Single) && self.fps < 30.0 {
            bail!(
                "--pattern single needs --fps 30 or more (a 60-150 ms jerk spans too few frames)"
            );
        }
        if let Some(c) = self.closure
            && !(c > 0.0 && c <= 1.0)
        {
            bail!("--closure must be in (0, 1] (the fraction the eye's aperture narrows)");
        }
        if let Some(t) = self.lid_travel
            && !(t > 0.0 && t <= 5.0)
        {
            bail!("--lid-travel must be in (0, 5] percent of the face width");
        }
        if !(self.fps > 0.0 && self.fps <= 240.0) {
            bail!("--fps must be in (0, 240]");
        }
        if self.duration.is_nan() || self.duration <= 0.0 {
            bail!("--duration must be positive");
        }
        if !(self.light > 0.0 && self.light <= 4.0) {
            bail!("--light must be in (0, 4]");
        }
        let mut distractors = parse_distractors(&self.distractors)?;
        if self.hand && !distractors.contains(&DistractorKind::Hand) {
            distractors.push(DistractorKind::Hand);
        }
        Ok(SynthParams {
            seed: self.seed,
            width: self.size.0,
            height: self.size.1,
            fps: self.fps,
            duration_s: self.duration,
            face_width_px: self.face_width,
            mirrored: self.mirrored,
            twitches: self.twitches,
            side: self.side,
            pattern,
            regions: None,
            distractors,
            noise_sigma: self.noise.max(0.0),
            bitrate_bps: self.kbps.map(|k| k.saturating_mul(1000)),
            glasses: self.glasses,
            second_face: self.second_face,
            light: self.light,
            closure: self.closure,
            lid_travel_pct: self.lid_travel,
            ..SynthParams::default()
        })
    }
}

/// Runs `twitchwatch synth`.
pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let params = args.params()?;
    if let Some(n) = args.suite {
        let paths = write_suite(&args.out, args.seed..args.seed + n, &params)?;
        for p in paths {
            println!("{}", p.display());
        }
    } else {
        let labels = write_clip(&plan(&params), &args.out)?;
        println!(
            "{}: {} frames, {} twitch(es), {} distractor(s); labels in {}",
            args.out.display(),
            labels.frames,
            labels.events.len(),
            labels.distractors.len(),
            labels_path(&args.out).display()
        );
    }
    Ok(())
}

/// Face-coordinate sign of a person's side (left +1).
fn sign_of(side: Side) -> f32 {
    match side {
        Side::Left => 1.0,
        Side::Right => -1.0,
    }
}

/// The affected side (every twitch of a clip is on the same side).
fn side_twitch(twitches: &[ScriptedTwitch]) -> Side {
    twitches.first().map_or(Side::Left, |t| t.side)
}

/// Raised cosine on 0..1 (0 outside), peak 1 at 0.5.
fn bump(x: f64) -> f32 {
    if (0.0..=1.0).contains(&x) {
        (0.5 - 0.5 * (2.0 * std::f64::consts::PI * x).cos()) as f32
    } else {
        0.0
    }
}

/// Raised-cosine ease 0 → 1 on 0..1 (clamped).
fn ease(x: f64) -> f32 {
    (0.5 - 0.5 * (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos()) as f32
}

fn smoothstep(x: f64) -> f32 {
    let x = x.clamp(0.0, 1.0);
    (x * x * (3.0 - 2.0 * x)) as f32
}
