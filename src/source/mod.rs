//! Frame sources: recorded clips (MP4/MOV H.264, Y4M, anything via an `ffmpeg` on PATH).
//!
//! Input: a path. Output: upright luma frames (the container's display rotation applied, see
//! [`Oriented`]) with index and presentation timestamp, and the decode gaps of damaged
//! recordings. Thread: whichever thread owns the source (the capture thread in `capture`).

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
    /// How the frames are read: the container's display orientation (and, once opened
    /// through [`open_clip_oriented`], what was applied), capture rate, video streams.
    pub media: Media,
    /// The container's display matrix, as found (before any `--rotate`).
    pub display: Orientation,
}

/// An interval a damaged recording could not be decoded in: the source skipped to the next
/// picture it could decode (or to the end). Reported just before the frame that follows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeGap {
    /// What went wrong, one line.
    pub reason: String,
    /// When no frame follows (the damage runs to the end): the clip's declared end, seconds.
    pub until_s: Option<f64>,
}

/// How decoded pictures must be turned to look as a viewer sees them: flipped left-right
/// first (a mirrored display matrix), then rotated clockwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Orientation {
    /// Clockwise rotation, degrees: 0, 90, 180 or 270.
    pub rotation: u16,
    pub flip: bool,
}

impl Orientation {
    /// From the 2x2 part of an ISO BMFF / QuickTime display matrix (`a b / c d`, any fixed
    /// point scale; a point `(x, y)` is shown at `(a x + c y, b x + d y)`, y down). Angles
    /// are snapped to the nearest quarter turn.
    pub fn from_matrix(a: f64, b: f64, c: f64, d: f64) -> Self {
        let flip = a * d - b * c < 0.0;
        // A flip first: the rest is M * A with M = diag(-1, 1).
        let (a, b) = if flip { (-a, -b) } else { (a, b) };
        if a == 0.0 && b == 0.0 {
            return Self::default();
        }
        let deg = b.atan2(a).to_degrees();
        let quarter = ((deg / 90.0).round() as i64).rem_euclid(4) as u16;
        Self {
            rotation: quarter * 90,
            flip,
        }
    }

    pub fn is_identity(&self) -> bool {
        self.rotation == 0 && !self.flip
    }
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
    /// The decoder panicked (a bug, or input it could not handle); reported, not propagated.
    #[error("the decoder stopped unexpectedly: {message}")]
    Panicked { message: String },
}

/// A stream of frames. Implemented by clip decoders, the live camera and test doubles.
pub trait FrameSource: Send {
    fn info(&self) -> &SourceInfo;
    /// The next frame, `Ok(None)` at the end, or an error (after which the source is done).
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
    /// A decode gap that lies just before the frame `next_frame` last returned (or before the
    /// end, when it returned `Ok(None)`). Asked after every `next_frame`.
    fn take_gap(&mut self) -> Option<DecodeGap> {
        None
    }
}

mod ffmpeg;
mod mp4;
mod orient;
mod probe;
mod y4m;

pub use crate::outputs::events::Media;
pub use ffmpeg::find_ffmpeg;
pub use orient::{Oriented, orient_into};

/// Opens a clip like [`open_clip`] and turns its frames upright: by `rotate` (clockwise
/// degrees, `--rotate`) if given, else by the container's display matrix (rotation and
/// mirroring). Every decoder hands over pictures as stored; this is the only place they
/// are turned, so nothing is rotated twice.
pub fn open_clip_oriented(
    path: &Path,
    rotate: Option<u16>,
) -> Result<Box<dyn FrameSource>, SourceError> {
    let ffmpeg = find_ffmpeg();
    open_clip_oriented_with(path, ffmpeg.as_deref(), rotate)
}

/// [`open_clip_oriented`] with the `ffmpeg` executable given explicitly.
pub fn open_clip_oriented_with(
    path: &Path,
    ffmpeg: Option<&Path>,
    rotate: Option<u16>,
) -> Result<Box<dyn FrameSource>, SourceError> {
    let inner = open_clip_with(path, ffmpeg)?;
    Ok(Box::new(Oriented::new(inner, rotate)))
}

/// Opens a recorded clip, choosing the decoder from the file's content (not its name).
///
/// H.264 in MP4/MOV and Y4M are decoded in-process; anything else goes through an
/// `ffmpeg` executable found on `PATH` (see [`find_ffmpeg`]). Frames come as stored (not
/// turned by the display matrix: see [`open_clip_oriented`]).
pub fn open_clip(path: &Path) -> Result<Box<dyn FrameSource>, SourceError> {
    let ffmpeg = find_ffmpeg();
    open_clip_with(path, ffmpeg.as_deref())
}

/// Like [`open_clip`], with the `ffmpeg` executable given explicitly (`None`: no ffmpeg, so
/// formats that need it fail with an error saying what to install).
pub fn open_clip_with(
    path: &Path,
    ffmpeg: Option<&Path>,
) -> Result<Box<dyn FrameSource>, SourceError> {
    let head = probe::read_head(path)?;
    match probe::sniff(&head) {
        probe::Kind::Empty => Err(SourceError::Corrupt {
            path: path.to_path_buf(),
            message: "empty file (0 bytes)".into(),
        }),
        probe::Kind::IsoBmff => mp4::open(path, ffmpeg),
        probe::Kind::Y4m => Ok(Box::new(y4m::Y4mSource::open(path)?)),
        probe::Kind::Text => Err(SourceError::Unsupported {
            path: path.to_path_buf(),
            message: "not a video file (it contains text)".into(),
        }),
        probe::Kind::Other(what) => ffmpeg::open_or_explain(path, ffmpeg, what),
        probe::Kind::Unknown => ffmpeg::open_or_explain_unknown(path, ffmpeg, &head),
    }
}

/// Opens any clip through the given `ffmpeg` (not the built-in decoders), frames as stored.
pub fn open_ffmpeg(path: &Path, ffmpeg: &Path) -> Result<Box<dyn FrameSource>, SourceError> {
    Ok(Box::new(ffmpeg::FfmpegSource::open(
        path,
        ffmpeg,
        "video (read by ffmpeg)",
    )?))
}

/// The recording date a clip's container states, as Unix seconds (UTC): the MP4/MOV movie
/// header's creation time. `None` for other formats and when the field is missing or zero.
pub fn container_created(path: &Path) -> Result<Option<i64>, SourceError> {
    let head = probe::read_head(path)?;
    match probe::sniff(&head) {
        probe::Kind::IsoBmff => mp4::creation_time(path),
        _ => Ok(None),
    }
}

impl SourceError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            SourceError::NotFound { path }
            | SourceError::Io { path, .. }
            | SourceError::Unsupported { path, .. }
            | SourceError::Corrupt { path, .. } => path,
            // Raised on the capture thread, which knows the source, not its file.
            SourceError::Panicked { .. } => Path::new(""),
        }
    }

    pub(crate) fn io(path: &Path, err: &std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::NotFound {
            SourceError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            SourceError::Io {
                path: path.to_path_buf(),
                message: one_line(&err.to_string()),
            }
        }
    }

    pub(crate) fn corrupt(path: &Path, message: impl Into<String>) -> Self {
        SourceError::Corrupt {
            path: path.to_path_buf(),
            message: one_line(&message.into()),
        }
    }

    pub(crate) fn unsupported(path: &Path, message: impl Into<String>) -> Self {
        SourceError::Unsupported {
            path: path.to_path_buf(),
            message: one_line(&message.into()),
        }
    }
}

/// Collapses whitespace runs (including newlines) so every error renders on one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The capture rate a container records, when it means slow motion: clearly above the rate
/// the clip plays at. Phones also write the capture rate of ordinary clips (30 at 30 fps),
/// and a high-rate clip stored in real time plays at its capture rate: neither is stretched.
/// With the playback rate unknown, a recorded capture rate is passed on.
pub(crate) fn slow_motion(capture_fps: Option<f64>, playback_fps: Option<f64>) -> Option<f64> {
    let capture = capture_fps?;
    match playback_fps {
        Some(f) if capture <= f * 1.2 => None,
        _ => Some(capture),
    }
}

/// Human-readable frame rate for descriptions: "30.00 fps".
pub(crate) fn describe(container: &str, width: u32, height: u32, fps: Option<f64>) -> String {
    match fps {
        Some(f) => format!("{container}, {width}x{height}, {f:.2} fps"),
        None => format!("{container}, {width}x{height}"),
    }
}
