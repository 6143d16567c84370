//! Face stage: find the face in a frame (`detector`), then follow it and place the watched
//! regions on it.
//!
//! Input: luma frames. Output: face boxes in full-frame pixels.

pub mod detector;
// `track` (follow the face between detections) and `regions` (eye/cheek/mouth boxes per side)
// are added here later.
