//! Tools for accuracy work and tests: `synth` (labelled synthetic clips), `labels` (the
//! ground-truth format), `eval` (scores logs against labels), `sensitivity` (recall per
//! twitch strength), `forest_cv` (the rescue forest's threshold, cross-validated).

pub mod eval;
pub mod forest_cv;
pub mod labels;
pub mod sensitivity;
pub mod synth;
