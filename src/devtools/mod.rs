//! Tools for accuracy work and tests: `synth` (labelled synthetic clips), `labels` (the
//! ground-truth format), `eval` (scores logs against labels), `sensitivity` (recall per
//! twitch strength).

pub mod eval;
pub mod labels;
pub mod sensitivity;
pub mod synth;
