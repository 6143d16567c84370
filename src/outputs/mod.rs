//! What comes out: `events` (the event log, JSON Lines / CSV, and the sinks that write it),
//! `observed` (observed time, for every log reader), `saved_clips` (video of each twitch,
//! only when asked) and `encode`, `stats` and `course` (the numbers reports show) and
//! `report` (therapist pages).

pub mod course;
pub(crate) mod encode;
pub mod events;
pub mod observed;
pub mod report;
pub(crate) mod saved_clips;
pub mod stats;

pub use saved_clips::SaveFramesParams;
