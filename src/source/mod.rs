//! Frame sources: recorded clips (MP4/MOV H.264, Y4M, anything via an `ffmpeg` on PATH).
//!
//! Input: a path. Output: luma frames with index and media timestamp. Thread: whichever
//! thread owns the source (the capture thread in `capture`).

use std::path::{Path, PathBuf};

/// One decoded frame: 8-bit luma only (the analysis never needs colour).
#[derive(Debug, Clone)]
pub struct Frame {
    /// 0-based decode-order index of the frame within the source.
    pub index: u64,
    /// Media time of the frame in seconds from the start of the clip.
    pub pts_s: f64,
    pub width: u32,
    pub height: u32,
    /// Row-major luma, `width * height` bytes, stride = width.
    pub luma: Vec<u8>,
}

/// What a source knows about itself before decoding.
#[derive(Debug, Clone, Default)]
pub struct SourceInfo {
    /// Human-readable description, e.g. "H.264 in MP4, 512x512, 30 fps".
    pub description: String,
    pub width: u32,
    pub height: u32,
    /// Nominal frame rate, if the container says.
    pub fps: Option<f64>,
    /// Number of frames, if known up front (for the progress bar).
    pub frame_count: Option<u64>,
    pub duration_s: Option<f64>,
}

/// Errors from opening or decoding a source. Each renders as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// A stream of frames. Implemented by clip decoders, the live camera and test doubles.
pub trait FrameSource: Send {
    fn info(&self) -> &SourceInfo;
    /// The next frame, `Ok(None)` at the end, or an error (after which the source is done).
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
}

/// Opens a recorded clip, choosing the decoder from the file's content (not its name).
pub fn open_clip(path: &Path) -> Result<Box<dyn FrameSource>, SourceError> {
    let _ = path;
    todo!("source helper")
}
