//! Ground-truth labels for a clip (the format of `NAME.labels.json` beside each clip).
//!
//! Input: JSON text. Output: `Labels`. Thread: any (used by `synth` and `eval`).

use crate::analysis::anatomy::{RegionKind, Side};
use serde::{Deserialize, Serialize};

/// `{"clip": "winks.mp4", "mirrored": false, "fps": 30.0, "frames": 354, "note": "...",
///   "events": [{"start_s": 0.2, "end_s": 0.9, "side": "left", "regions": ["eye"]}]}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    pub clip: String,
    #[serde(default)]
    pub mirrored: bool,
    pub fps: f64,
    pub frames: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Empty means: no twitch may be reported anywhere in the clip.
    pub events: Vec<LabelEvent>,
    /// Distractors rendered into synthetic clips (not scored; for reading failures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distractors: Vec<LabelDistractor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelEvent {
    pub start_s: f64,
    pub end_s: f64,
    /// The person's side.
    pub side: Side,
    #[serde(default)]
    pub regions: Vec<RegionKind>,
    /// Free text: "clonic", "tonic", "single", "flutter", "voluntary wink", ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Strength of synthetic twitches: the fraction (0..1) by which the affected eye's
    /// aperture narrows at the peak (`synth --closure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<f64>,
    /// Strength of a lower-lid flutter: the lid's peak rise, percent of the face width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lid_travel_pct: Option<f64>,
    /// Strength of the warped real clips (`graded/`): the warp's amplitude, a scale of its
    /// own (0.12 / 0.2 / 0.3 / 0.45 narrow the eye by roughly 20 / 30 / 40 / 50 %); never
    /// the same thing as `closure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelDistractor {
    pub start_s: f64,
    pub end_s: f64,
    /// "blink", "talking", "smile", "head_turn", "nod", "shake", "flicker", "walker", ...
    pub kind: String,
}

impl Labels {
    pub fn duration_s(&self) -> f64 {
        if self.fps > 0.0 {
            self.frames as f64 / self.fps
        } else {
            0.0
        }
    }
}
