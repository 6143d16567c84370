//! twitchwatch: logs one-sided facial twitches (hemifacial spasm) from a clip or a webcam.
//!
//! Stages, each in its own module: `source` (decode) → `capture` (thread, bounded channel)
//! → `face` (detect, track, regions) → `flow` (optical flow) → `motion` (head-motion
//! removal, per-region signals; `look` measures the lids when glasses hide them from the
//! flow) → `detect` (one-sided bursts) → `events` (JSON Lines / CSV), joined by
//! `pipeline`, which also sums `severity` (per-minute eye closure, independent of the
//! detector). `live` runs the same analysis on a webcam. `synth` renders labelled test
//! clips and `eval` scores event logs against labels. `stats` and `course` compute what
//! `report` draws (sessions, before/after, and a treatment course over months).

pub mod anatomy;
pub mod batch;
pub mod bench;
pub mod capture;
pub mod cli;
pub mod confidence;
pub mod course;
pub mod detect;
pub mod encode;
pub mod eval;
pub mod events;
pub mod face;
pub mod flow;
pub mod labels;
pub mod live;
pub mod look;
pub mod motion;
pub mod observed;
pub mod pipeline;
pub mod report;
pub mod save_frames;
pub mod sensitivity;
pub mod severity;
pub mod source;
pub mod stats;
pub mod synth;
