//! Analysis: frames in, signals and one-sided bursts out.
//!
//! `capture` (the thread that reads a source) → `pipeline` (the one per-frame loop, for
//! clips, live and bench) → `face` (find, track, regions) → `flow` (optical flow in the
//! face-aligned crop) → `measure` (head-motion removal, per-region signals, eyes) → `bursts`
//! (where one-sided twitches are decided) → `confidence`. `severity` sums eye closure per
//! minute beside the detector. `anatomy` is the shared vocabulary (sides, regions).

pub mod anatomy;
pub mod bursts;
pub mod capture;
pub mod confidence;
pub mod face;
pub mod flow;
pub mod measure;
pub mod pipeline;
pub mod severity;
