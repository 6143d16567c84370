//! twitchwatch: logs one-sided facial twitches (hemifacial spasm) from a clip or a webcam.
//!
//! Stages, each in its own module: `source` (decode) → `capture` (thread, bounded channel)
//! → `face` (detect, track, regions) → `flow` (optical flow, head-motion removal)
//! → `detect` (one-sided bursts) → `events` (JSON Lines / CSV). `synth` renders labelled
//! test clips and `eval` scores event logs against labels.

pub mod anatomy;
pub mod eval;
pub mod events;
pub mod labels;
pub mod source;
