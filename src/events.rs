//! Event log: the typed events the detector emits and the sinks that write them.
//!
//! Input: `Event`s from the analysis thread. Output: JSON Lines (flushed per event) and
//! optional CSV, created owner-readable only. Thread: the analysis thread.

use crate::anatomy::{RegionKind, Side};
use serde::{Deserialize, Serialize};

/// Clonic = short repeated jerks; tonic = a sustained squeeze.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    Clonic,
    Tonic,
}

/// Per-region evidence behind a twitch: peak normalised activity on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionEvidence {
    pub region: RegionKind,
    pub left: f64,
    pub right: f64,
}

/// One detected one-sided twitch (a burst), in media seconds from the clip's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Twitch {
    pub start_s: f64,
    pub end_s: f64,
    /// The person's side.
    pub side: Side,
    /// Regions that took part, eye first.
    pub regions: Vec<RegionKind>,
    /// Peak normalised activity on the twitching side (robust z-score units).
    pub peak: f64,
    /// (active - other) / (active + other) at the peak, 0..1.
    pub asymmetry: f64,
    pub pattern: Pattern,
    /// 0..1, how clearly this stood out from noise and from the other side.
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<RegionEvidence>,
    /// Wall-clock times (RFC 3339), only for live sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_end: Option<String>,
}

/// Every line of the log is one of these, tagged by `"kind"`. Readers skip unknown kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// First line of a session: what produced the log.
    Session {
        version: String,
        source: String,
        mirrored: bool,
        #[serde(default)]
        settings: serde_json::Value,
    },
    Twitch(Twitch),
    /// An interval with no face: no twitch can be seen, and it is not observed time.
    FaceLost { start_s: f64, end_s: f64 },
    /// Something odd in the input that the user should know about.
    Warning {
        t_s: f64,
        message: String,
    },
    /// Last line of a session.
    Summary {
        duration_s: f64,
        observed_s: f64,
        frames: u64,
        twitches_left: u64,
        twitches_right: u64,
        per_minute_left: f64,
        per_minute_right: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}
