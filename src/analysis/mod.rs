//! Analysis: frames in, signals and one-sided bursts out.
//!
//! `capture` (the thread that reads a source) → `pipeline` (the one per-frame loop, for
//! clips, live and bench) → `face` (find, track, regions) → `flow` (optical flow in the
//! face-aligned crop) → `measure` (head-motion removal, per-region signals, eyes) → `bursts`
//! (where one-sided twitches are decided) → `confidence`. `severity` sums eye closure per
//! minute beside the detector. `anatomy` is the shared vocabulary (sides, regions).

pub mod anatomy;
pub(crate) mod bursts;
pub(crate) mod capture;
pub(crate) mod confidence;
pub(crate) mod face;
pub(crate) mod flow;
pub(crate) mod measure;
pub mod pipeline;
pub(crate) mod severity;

// The types an embedder meets in `pipeline`'s options and observer, nameable from here.
pub use bursts::{Activity, BurstParams};
pub use face::detector::DetectorParams;
pub use face::track::FacePose;
pub use flow::FlowParams;
pub use measure::eyes::{LookParams, LookSignals};
pub use measure::motion::{FrameSignals, MotionParams};
pub use severity::SeverityParams;
