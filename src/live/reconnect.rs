//! A camera that survives faults: opens the camera on the capture thread, stamps every frame
//! with the session's clock (seconds since the first frame, by the camera's own timestamps),
//! and when the camera fails (unplugged, taken by another app) retries with backoff and
//! reports the gap.
//!
//! Input: a `CameraOpener` (real camera, simulated clip, test double). Output: a
//! `FrameSource` for the capture thread, plus `Notice`s on `rx_notices`. Thread: the capture
//! thread (cameras must be opened on the thread that reads them).

use crate::source::{Frame, FrameSource, SourceError, SourceInfo};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Why a camera could not be opened or read. Each renders as one line with what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CameraError {
    #[error("no camera found{}: plug one in, or try live mode without one with --simulate CLIP", detail(.0))]
    NotFound(String),
    #[error("the camera is busy: another application is using it{}. {}", detail(.0), SHARE_ADVICE)]
    Busy(String),
    #[error("{0}")]
    Failed(String),
}

fn detail(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" ({s})")
    }
}

/// How to share one webcam between a video call and twitchwatch, per OS.
#[cfg(target_os = "linux")]
pub const SHARE_ADVICE: &str = "Close the other application, or share the webcam through a \
loopback device: sudo modprobe v4l2loopback devices=1 exclusive_caps=1, copy the camera into it \
with ffmpeg -f v4l2 -i /dev/video0 -f v4l2 /dev/videoN (N: the loopback device --list-cameras \
shows), then point both the call and twitchwatch at the loopback device";
#[cfg(target_os = "macos")]
pub const SHARE_ADVICE: &str = "macOS lets several applications read one camera; if it is \
still refused, allow camera access for the terminal in System Settings > Privacy & Security > \
Camera";
#[cfg(target_os = "windows")]
pub const SHARE_ADVICE: &str = "On Windows only one application can usually hold a webcam: \
close the other one, or share it through a virtual camera (e.g. OBS's virtual camera)";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
pub const SHARE_ADVICE: &str = "Close the other application and try again";

impl CameraError {
    /// Sorts a backend's error message: busy and missing devices get their own advice.
    pub fn classify(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("busy") || m.contains("os error 16") {
            CameraError::Busy(message.to_string())
        } else if m.contains("no such device")
            || m.contains("no such file")
            || m.contains("not found")
            || m.contains("os error 19")
            || m.contains("os error 2)")
        {
            CameraError::NotFound(message.to_string())
        } else {
            CameraError::Failed(message.to_string())
        }
    }
}

/// Opens the camera, again after every fault. Called on the capture thread.
pub trait CameraOpener: Send {
    fn open(&mut self) -> Result<Box<dyn FrameSource>, CameraError>;
}

impl<F> CameraOpener for F
where
    F: FnMut() -> Result<Box<dyn FrameSource>, CameraError> + Send,
{
    fn open(&mut self) -> Result<Box<dyn FrameSource>, CameraError> {
        self()
    }
}

/// What the capture thread tells the analysis besides frames. Sent before the frame they
/// precede, so the analysis sees them in order when it drains notices per frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The camera opened (first time or again): what it is.
    Opened { description: String },
    /// The camera failed at `t_s`; retrying.
    Lost { t_s: f64, message: String },
    /// Frames flow again after a gap from `start_s` (the last frame before the fault) to
    /// `end_s` (the first frame after it).
    Resumed { start_s: f64, end_s: f64 },
}

/// Retry delays after a camera fault: doubling from `first` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            max: Duration::from_secs(5),
        }
    }
}

/// A live session's time base, shared by the capture thread and the analysis: time 0 is
/// the arrival of the camera's first frame, so that a session's times are the camera's own
/// (its first frame at 0, like a clip's in `analyze`) whatever the camera took to start,
/// and the analysis' fixed grids of media time fall on the same frames as in `analyze`.
#[derive(Debug, Clone)]
pub struct SessionClock {
    start: Instant,
    origin: Arc<OnceLock<Instant>>,
}

impl SessionClock {
    /// A session starting now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
            origin: Arc::new(OnceLock::new()),
        }
    }

    /// Marks now as time 0 (the first frame's arrival); later calls keep the first mark.
    fn mark_origin(&self) {
        self.origin.get_or_init(Instant::now);
    }

    /// Seconds since the first frame (before it: since the session started).
    pub fn now(&self) -> f64 {
        let origin = self.origin.get().copied().unwrap_or(self.start);
        let now = Instant::now();
        if now >= origin {
            now.duration_since(origin).as_secs_f64()
        } else {
            -origin.duration_since(now).as_secs_f64()
        }
    }

    /// Seconds from the session's start to its first frame; `None` before it.
    pub fn first_frame_s(&self) -> Option<f64> {
        self.origin
            .get()
            .map(|o| o.duration_since(self.start).as_secs_f64())
    }
}

/// The live source: see the module comment. Frame indices count every frame delivered this
/// session; `pts_s` is seconds on the `SessionClock`.
pub struct Reconnecting {
    info: SourceInfo,
    opener: Box<dyn CameraOpener>,
    inner: Option<Box<dyn FrameSource>>,
    clock: SessionClock,
    stop: Arc<AtomicBool>,
    backoff: Backoff,
    tx_notices: Sender<Notice>,
    next_index: u64,
    last_t: Option<f64>,
    /// The camera has delivered frames before: faults from now on are retried.
    started: bool,
    /// Set while the camera is away: the time of the last frame before the fault.
    lost_at: Option<f64>,
    /// (session time, source time) of a frame of the current source: later frames are
    /// timed by the source's own clock from there, which is steadier than arrival times.
    anchor: Option<(f64, f64)>,
}

impl Reconnecting {
    /// Returns the source and the receiver of its notices. Nothing is opened until the
    /// capture thread asks for the first frame.
    pub fn new(
        opener: Box<dyn CameraOpener>,
        clock: SessionClock,
        stop: Arc<AtomicBool>,
        backoff: Backoff,
    ) -> (Self, Receiver<Notice>) {
        // Notices are rare (open, lose, resume); a full channel only drops a notice, never
        // stalls the camera.
        let (tx_notices, rx_notices) = bounded(64);
        let src = Self {
            info: SourceInfo {
                description: "camera".into(),
                ..SourceInfo::default()
            },
            opener,
            inner: None,
            clock,
            stop,
            backoff,
            tx_notices,
            next_index: 0,
            last_t: None,
            started: false,
            lost_at: None,
            anchor: None,
        };
        (src, rx_notices)
    }

    fn now(&self) -> f64 {
        self.clock.now()
    }

    fn notify(&self, n: Notice) {
        if self.tx_notices.try_send(n).is_err() {
            tracing::warn!("live: notice channel full, a camera notice was dropped");
        }
    }

    /// Sleeps up to `d`, waking early when the session stops. Returns false if stopping.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while !self.stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        false
    }

    /// Opens the camera; before the first frame a failure is final (the user is told at
    /// once), afterwards it is retried with backoff until it works or the session stops.
    fn reopen(&mut self) -> Result<bool, SourceError> {
        let mut delay = self.backoff.first;
        let mut said: Option<CameraError> = None;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            match self.opener.open() {
                Ok(src) => {
                    self.info = src.info().clone();
                    self.notify(Notice::Opened {
                        description: self.info.description.clone(),
                    });
                    self.inner = Some(src);
                    self.anchor = None;
                    return Ok(true);
                }
                Err(e) if !self.started => return Err(camera_source_error(&e)),
                Err(e) => {
                    // Say each distinct fault once, not at every retry.
                    if said.as_ref() != Some(&e) {
                        tracing::warn!("camera: {e}; retrying");
                        said = Some(e);
                    }
                    if !self.sleep(delay) {
                        return Ok(false);
                    }
                    delay = (delay * 2).min(self.backoff.max);
                }
            }
        }
    }
}

impl Reconnecting {
    /// Session time of a frame with source time `src_t`: the source's clock (driver
    /// timestamps, a clip's media time) anchored to the arrival of an earlier frame, so that
    /// scheduling jitter on a busy machine does not distort measured speeds. Falls back to
    /// the arrival time when the source has no usable clock (not advancing, or drifting more
    /// than `MAX_SKEW_S` from arrival). The session's first frame is at 0 exactly, and the
    /// frames after it at 0 plus their source time since it: a source whose times count
    /// from its first frame (cameras here, clips) gives the same times as in `analyze`.
    fn stamp(&mut self, src_t: f64) -> f64 {
        const MAX_SKEW_S: f64 = 0.25;
        self.clock.mark_origin();
        let arrival = if self.last_t.is_none() {
            0.0
        } else {
            self.now()
        };
        let last = self.last_t.unwrap_or(f64::NEG_INFINITY);
        let t = match self.anchor {
            Some((a0, s0)) if src_t.is_finite() => a0 + (src_t - s0),
            _ => f64::NAN,
        };
        if t.is_finite() && t > last && (t - arrival).abs() <= MAX_SKEW_S {
            return t;
        }
        self.anchor = src_t.is_finite().then_some((arrival, src_t));
        if arrival > last { arrival } else { last + 1e-3 }
    }
}

/// A camera error as a source error (the capture thread's failure type).
pub fn camera_source_error(e: &CameraError) -> SourceError {
    SourceError::Io {
        path: PathBuf::from("camera"),
        message: e.to_string(),
    }
}

impl FrameSource for Reconnecting {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if self.inner.is_none() && !self.reopen()? {
                return Ok(None);
            }
            let Some(inner) = self.inner.as_mut() else {
                continue;
            };
            match inner.next_frame() {
                Ok(Some(mut f)) => {
                    let t = self.stamp(f.pts_s);
                    if let Some(start_s) = self.lost_at.take() {
                        self.notify(Notice::Resumed { start_s, end_s: t });
                    }
                    self.started = true;
                    f.index = self.next_index;
                    f.pts_s = t;
                    self.next_index += 1;
                    self.last_t = Some(t);
                    return Ok(Some(f));
                }
                // A camera does not end by itself; a simulated one does (end of clip).
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.inner = None;
                    if !self.started {
                        return Err(e);
                    }
                    let t = self.now();
                    if self.lost_at.is_none() {
                        self.lost_at = Some(self.last_t.unwrap_or(t));
                        self.notify(Notice::Lost {
                            t_s: t,
                            message: crate::source::one_line(&e.to_string()),
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconnecting() -> Reconnecting {
        let opener: Box<dyn CameraOpener> = Box::new(|| Err(CameraError::NotFound(String::new())));
        let stop = Arc::new(AtomicBool::new(false));
        Reconnecting::new(opener, SessionClock::start(), stop, Backoff::default()).0
    }

    #[test]
    fn frames_are_timed_by_the_source_clock_from_an_anchor() {
        let mut r = reconnecting();
        let t0 = r.stamp(100.0);
        // Later frames follow the source's clock exactly, whatever their arrival jitter.
        let t1 = r.stamp(100.02);
        assert!((t1 - t0 - 0.02).abs() < 1e-9, "{t0} {t1}");
        r.last_t = Some(t1);
        // A source clock that jumps far from arrival time is re-anchored.
        let t2 = r.stamp(5000.0);
        assert!(t2 > t1 && t2 < t1 + 1.0, "{t1} {t2}");
    }

    #[test]
    fn a_source_without_a_clock_gets_increasing_arrival_times() {
        let mut r = reconnecting();
        let mut last = f64::NEG_INFINITY;
        for _ in 0..5 {
            let t = r.stamp(0.0);
            assert!(t > last);
            r.last_t = Some(t);
            last = t;
        }
    }

    #[test]
    fn busy_and_missing_cameras_are_told_apart() {
        assert!(matches!(
            CameraError::classify("Could not open device: Device or resource busy (os error 16)"),
            CameraError::Busy(_)
        ));
        assert!(matches!(
            CameraError::classify("/dev/video3: No such file or directory (os error 2)"),
            CameraError::NotFound(_)
        ));
        assert!(matches!(
            CameraError::classify("format negotiation failed"),
            CameraError::Failed(_)
        ));
        let busy = CameraError::Busy(String::new()).to_string();
        assert!(busy.contains("another application"), "{busy}");
    }
}
