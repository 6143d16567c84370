//! Face stage: find the face in a frame (`detector`), decide where the tracked face is
//! (`tracker`: acquire, confirm, nudge or jump, lose), move its pose with the flow and sample
//! its crop (`track`) and place the watched regions on it (`regions`); `ahead` confirms the
//! tracked face a few frames early on a thread of its own.
//!
//! Input: luma frames. Output: a face pose and region rectangles. Thread: analysis.

pub mod ahead;
pub mod detector;
pub mod regions;
pub mod track;
pub mod tracker;
