//! Face stage: find the face in a frame (`detector`), follow it between detections
//! (`track`) and place the watched regions on it (`regions`).
//!
//! Input: luma frames. Output: a face pose and region rectangles. Thread: analysis.

pub mod detector;
pub mod regions;
pub mod track;
