//! Fixtures shared by the crate's own tests, its integration tests and the criterion benches.
//! Not part of the API: hidden from the documentation, may change with any release.
//!
//! Input: none. Output: test images, frames and events. Thread: any.

/// A smooth skin-like texture with a known analytic form (wavelengths from ~15 to ~60 px,
/// like skin texture plus facial features), so shifted copies are exact: for flow tests and
/// flow benches with known answers.
pub fn texture(x: f32, y: f32) -> f32 {
    128.0
        + 40.0 * (0.11 * x + 0.07 * y).sin()
        + 30.0 * (0.09 * x - 0.13 * y).cos()
        + 20.0 * (0.31 * x + 0.17 * y).sin()
        + 15.0 * (0.23 * x - 0.29 * y).cos()
}

/// A twitch fixture: `side`'s eye alone, clonic, confident, from `start_s` to `end_s`.
pub fn twitch(
    side: crate::analysis::anatomy::Side,
    start_s: f64,
    end_s: f64,
) -> crate::outputs::events::Twitch {
    crate::outputs::events::Twitch {
        start_s,
        end_s,
        side,
        regions: vec![crate::analysis::anatomy::RegionKind::Eye],
        peak: 5.0,
        asymmetry: 0.8,
        pattern: crate::outputs::events::Pattern::Clonic,
        confidence: 0.9,
        evidence: vec![],
        wall_start: None,
        wall_end: None,
        glasses: false,
        candidate: None,
    }
}

// Internals that integration tests, benches and examples reach into. Not part of the API.
pub use crate::analysis::bursts::Activity;
pub use crate::analysis::capture::Backpressure;
pub use crate::analysis::face::ahead::AheadCounts;
pub use crate::analysis::face::detector::{DetectorParams, FaceDetector};
pub use crate::analysis::flow::{FlowParams, FlowVec, LucasKanade, Plane, Pyramid};
pub use crate::analysis::measure::motion::{FrameSignals, MotionAnalyzer, MotionParams};
pub use crate::commands::batch::recording_date;
pub use crate::commands::bench::{decode_only, soak_in_pieces, synth_frames, time_frames};
pub use crate::commands::cli::{analyze_options, analyze_to_memory};
pub use crate::outputs::encode::write_frames;
