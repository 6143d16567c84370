//! Per-frame measurement: `motion` reads each frame's face-aligned crop into per-region
//! signals (flow with the head's own motion removed, eye closure); `eyes` measures the eyes'
//! look (for glasses that hide the lids, and the blink test). Thread: analysis.

pub mod eyes;
pub mod motion;
