//! Live sessions: a camera (or a clip played as one) feeds the same analysis as clips; events
//! gain wall-clock times, camera faults become `camera_gap` events, and the session ends
//! cleanly on Ctrl-C, SIGTERM or the preview window closing.
//!
//! Input: a `CameraOpener`. Output: events (session line, twitches, gaps, summary with the
//! frames dropped) to an `EventSink`, frames to a `LiveView`. Frames go through
//! `pipeline::drive`, the loop clips use, with the session's hooks (`LiveHooks`: stop flag,
//! camera notices, session line, preview, dropped frames). Thread: runs on the caller's
//! thread (analysis, preview) and owns the capture thread (camera, drop-oldest channel).

pub mod camera;
pub mod preview;
pub mod reconnect;
pub mod simulate;

use crate::analysis::bursts::Activity;
use crate::analysis::capture::{Backpressure, Capture};
use crate::analysis::face::regions::RegionLayout;
use crate::analysis::measure::motion::{FrameSignals, MotionAnalyzer};
use crate::analysis::pipeline::{
    AnalyzeOptions, DriveEnd, DriveHooks, FrameObserver, FromCapture, RunError, RunState,
    RunSummary, TraceWriter, drive,
};
use crate::outputs::events::{Event, EventSink, Pattern};
use crate::source::{Frame, SourceError};
use crossbeam_channel::Receiver;
use preview::{RecentEvent, View};
use reconnect::{Backoff, CameraOpener, Notice, Reconnecting, SessionClock};
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a live session runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub analyze: AnalyzeOptions,
    /// Frames in flight between the camera and the analysis. When the analysis falls
    /// behind, the oldest are dropped (and counted): the camera is never stalled and memory
    /// stays bounded.
    pub capacity: usize,
    pub backoff: Backoff,
    /// Recorded in the session line (camera, resolution, rate, ...).
    pub settings: serde_json::Value,
    /// Every analysed frame's signals as CSV (`--debug-trace`), as `analyze` writes them.
    pub debug_trace: Option<PathBuf>,
    /// Extra time the analysis takes per frame: for testing drop-oldest through the real
    /// camera path (a hidden flag). Zero: none.
    pub slow_analysis: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            analyze: AnalyzeOptions::default(),
            capacity: 4,
            backoff: Backoff::default(),
            settings: serde_json::Value::Null,
            debug_trace: None,
            slow_analysis: Duration::ZERO,
        }
    }
}

/// Where frames are shown. `false` from either method ends the session (window closed).
pub trait LiveView {
    fn show(&mut self, view: &View) -> bool;
    /// Called about ten times a second while no frame comes.
    fn idle(&mut self) -> bool;
    /// Frames drawn in a window; `None`: no window was shown.
    fn drawn(&self) -> Option<u64> {
        None
    }
}

/// No window: nothing is shown.
pub struct Headless;

impl LiveView for Headless {
    fn show(&mut self, _: &View) -> bool {
        true
    }
    fn idle(&mut self) -> bool {
        true
    }
}

/// What a finished session saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSummary {
    pub run: RunSummary,
    pub frames_dropped: u64,
    pub camera_gaps: u64,
    /// No frame ever came (stopped while the camera was starting): nothing was logged.
    pub empty: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The camera could not start: nothing was logged.
    #[error(transparent)]
    Start(SourceError),
    /// The source failed for good mid-session (e.g. a simulated clip is corrupt); the events
    /// so far and a summary line carrying the error are on disk.
    #[error(transparent)]
    Source(SourceError),
    #[error("writing events: {0} (the events written before it are kept)")]
    Sink(io::Error),
    #[error("starting the capture thread: {0}")]
    Thread(io::Error),
    #[error("saving frames: {0}")]
    SaveFrames(io::Error),
    #[error("writing the debug trace: {0}")]
    Trace(io::Error),
    /// A bug in the analysis stopped the session; the events so far and a summary line
    /// carrying the error are on disk.
    #[error("{0}")]
    Analysis(String),
}

/// Wall-clock time of an instant (the session's start, then its first frame), to stamp
/// events that carry monotonic seconds since it.
#[derive(Debug, Clone)]
pub struct WallClock {
    start: jiff::ZonedDateTime,
}

impl WallClock {
    pub fn now() -> Self {
        Self {
            start: jiff::ZonedDateTime::now(),
        }
    }

    /// The same clock `t_s` seconds later.
    fn later(&self, t_s: f64) -> Self {
        let start = jiff::SignedDuration::try_from_secs_f64(t_s)
            .ok()
            .and_then(|d| self.start.checked_add(d).ok())
            .unwrap_or_else(|| self.start.clone());
        Self { start }
    }

    /// RFC 3339 with milliseconds and the local UTC offset, `t_s` seconds after the start.
    pub fn at(&self, t_s: f64) -> String {
        self.later(t_s)
            .start
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    }

    /// The start as `YYYYMMDD-HHMMSS` local time, for file names.
    pub fn file_stamp(&self) -> String {
        self.start.strftime("%Y%m%d-%H%M%S").to_string()
    }

    /// Local clock time of day, for the preview.
    fn time_of_day(&self, t_s: f64) -> String {
        let s = self.at(t_s);
        s.get(11..19).unwrap_or(&s).to_string()
    }
}

/// Most recent events kept for the preview.
const RECENT: usize = 12;

/// Adds live-only fields to events on their way out and remembers recent ones.
struct LiveSink<'a> {
    out: &'a mut dyn EventSink,
    wall: WallClock,
    recent: VecDeque<RecentEvent>,
    frames_dropped: Option<u64>,
}

impl EventSink for LiveSink<'_> {
    fn write(&mut self, e: &Event) -> io::Result<()> {
        let line = match e {
            Event::Twitch(tw) => {
                let mut tw = tw.clone();
                tw.wall_start = Some(self.wall.at(tw.start_s));
                tw.wall_end = Some(self.wall.at(tw.end_s));
                let pattern = match tw.pattern {
                    Pattern::Clonic => "clonic",
                    Pattern::Tonic => "tonic",
                };
                self.remember(RecentEvent {
                    side: Some(tw.side),
                    text: format!(
                        "{} {} {} {:.1} s",
                        self.wall.time_of_day(tw.start_s),
                        tw.side.as_str(),
                        pattern,
                        tw.duration_s()
                    ),
                });
                Event::Twitch(tw)
            }
            Event::CameraGap { start_s, end_s } => {
                self.remember(RecentEvent {
                    side: None,
                    text: format!(
                        "{} camera gap {:.1} s",
                        self.wall.time_of_day(*start_s),
                        end_s - start_s
                    ),
                });
                e.clone()
            }
            Event::Summary { .. } => {
                let mut e = e.clone();
                if let Event::Summary { frames_dropped, .. } = &mut e {
                    *frames_dropped = self.frames_dropped;
                }
                e
            }
            _ => e.clone(),
        };
        self.out.write(&line)
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LiveSink<'_> {
    fn remember(&mut self, r: RecentEvent) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(r);
    }
}

/// Writes the debug trace if asked (`--debug-trace`), as `analyze` does.
struct DebugTrace(Option<TraceWriter<io::BufWriter<std::fs::File>>>);

impl FrameObserver for DebugTrace {
    fn frame(&mut self, s: &FrameSignals, a: &Activity) {
        if let Some(t) = self.0.as_mut() {
            t.frame(s, a);
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs a live session until `stop` is set, the view is closed, or the source ends (a
/// simulated clip without looping). The session line is written when the first frame
/// arrives, so a camera that cannot start leaves no trace in the log.
pub fn run_session(
    opener: Box<dyn CameraOpener>,
    opts: &LiveOptions,
    stop: Arc<AtomicBool>,
    out: &mut dyn EventSink,
    view: &mut dyn LiveView,
) -> Result<LiveSummary, LiveError> {
    let clock = SessionClock::start();
    let wall = WallClock::now();
    let (source, rx_notices) = Reconnecting::new(opener, clock.clone(), stop.clone(), opts.backoff);
    let capture = Capture::spawn(
        Box::new(source),
        opts.capacity.max(1),
        Backpressure::DropOldest,
        None,
    )
    .map_err(LiveError::Thread)?;
    let mut settings = opts.settings.clone();
    if let Some(map) = settings.as_object_mut() {
        map.insert("started".into(), wall.at(0.0).into());
        map.extend(crate::analysis::pipeline::analysis_settings(&opts.analyze));
    }
    let mut sink = LiveSink {
        out,
        wall,
        recent: VecDeque::new(),
        frames_dropped: None,
    };
    let mut state = RunState::new(&opts.analyze);
    let mut s = Session {
        opts,
        settings,
        description: String::from("camera"),
        header: false,
        gap_since: None,
        camera_gaps: 0,
        drops: DropNotes {
            warned: false,
            last_note: None,
            clock: clock.clone(),
        },
        clock,
    };
    if let Some(p) = &opts.analyze.save_frames {
        // Named after the session's start, so sessions can share a folder.
        let mut p = p.clone();
        p.prefix = format!("{}live-{}-", p.prefix, sink.wall.file_stamp());
        let saver =
            crate::outputs::saved_clips::FrameSaver::start(p).map_err(LiveError::SaveFrames)?;
        state.save_frames(saver);
    }
    let mut observer = DebugTrace(match &opts.debug_trace {
        Some(p) => Some(TraceWriter::new(io::BufWriter::new(
            crate::outputs::events::create_private(p).map_err(LiveError::Trace)?,
        ))),
        None => None,
    });
    let mut hooks = LiveHooks {
        layout: state.motion.layout().clone(),
        session: &mut s,
        stop: &stop,
        rx_notices: &rx_notices,
        capture: &capture,
        view,
    };
    // Live sessions do not read ahead (no added delay). A bug in the analysis (or the
    // preview) ends the session like a failed source: one line, the log flushed and
    // summarised, never a hang or a lost log.
    let result = match drive(
        &mut state,
        FromCapture(capture.rx_frames()),
        0,
        &mut sink,
        &mut observer,
        &mut hooks,
    ) {
        Ok(end) => Ok(end),
        Err(RunError::Sink(e)) => Err(LiveError::Sink(e)),
        Err(e) => Err(LiveError::Analysis(e.to_string())),
    };
    // Wake the capture thread from any wait (pacing, retry backoff), then join it.
    stop.store(true, Ordering::Relaxed);
    let frames_dropped = capture.dropped();
    capture.shutdown();
    s.notices(&rx_notices, &mut state, &mut sink)
        .map_err(LiveError::Sink)?;
    let (failure, bug) = match result? {
        DriveEnd::Done => (None, None),
        DriveEnd::Failed(e) => (Some(e), None),
        DriveEnd::Bug(e) => (None, Some(e.to_string())),
    };
    if !s.header {
        return match failure {
            Some(e) => Err(LiveError::Start(e)),
            None => Ok(LiveSummary {
                empty: true,
                ..LiveSummary::default()
            }),
        };
    }
    if let Some(start_s) = s.gap_since.take() {
        let end_s = s.clock.now();
        s.gap(&mut state, &mut sink, start_s, end_s)
            .map_err(LiveError::Sink)?;
    }
    sink.frames_dropped = Some(frames_dropped);
    let error = bug
        .clone()
        .or_else(|| failure.as_ref().map(|e| e.to_string()));
    let finish_bug = state.finish(&mut sink, error).map_err(LiveError::Sink)?;
    let bug = bug.or(finish_bug);
    if let Some(t) = observer.0.take() {
        t.finish().map_err(LiveError::Trace)?;
    }
    if let Some(message) = bug {
        return Err(LiveError::Analysis(message));
    }
    if let Some(e) = failure {
        return Err(LiveError::Source(e));
    }
    Ok(LiveSummary {
        run: state.summary().clone(),
        frames_dropped,
        camera_gaps: s.camera_gaps,
        empty: false,
    })
}

/// The session's side of the frame loop (`pipeline::drive`): the stop flag, camera
/// notices, the session line at the first frame, the preview and the notes on dropped
/// frames.
struct LiveHooks<'s, 'a, 'v> {
    session: &'s mut Session<'a>,
    stop: &'s AtomicBool,
    rx_notices: &'s Receiver<Notice>,
    capture: &'s Capture,
    view: &'v mut dyn LiveView,
    layout: RegionLayout,
}

impl<'a> DriveHooks<LiveSink<'a>> for LiveHooks<'_, '_, '_> {
    fn stop(&mut self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// About ten times a second the view and the camera's notices are seen to.
    fn idle_after(&self) -> Option<Duration> {
        Some(Duration::from_millis(100))
    }

    fn idle(&mut self, state: &mut RunState, sink: &mut LiveSink<'a>) -> io::Result<bool> {
        self.session.notices(self.rx_notices, state, sink)?;
        Ok(self.view.idle())
    }

    fn frame_came(&mut self, state: &mut RunState, sink: &mut LiveSink<'a>) -> io::Result<()> {
        self.session.notices(self.rx_notices, state, sink)?;
        self.session.header(sink)
    }

    /// Cameras and live clips are not decoded with gaps (a clip's damage shows in
    /// `analyze`).
    fn reads_decode_gaps(&self) -> bool {
        false
    }

    fn after_frame(
        &mut self,
        frame: &Frame,
        signals: &FrameSignals,
        activity: &Activity,
        sink: &mut LiveSink<'a>,
    ) -> io::Result<bool> {
        let slow = self.session.opts.slow_analysis;
        if !slow.is_zero() {
            std::thread::sleep(slow);
        }
        let dropped = self.capture.dropped();
        self.session.drops.note(dropped, sink)?;
        let status = format!("{:.0} s, {} frames dropped", frame.pts_s, dropped);
        Ok(self.view.show(&View {
            frame,
            signals,
            activity,
            layout: &self.layout,
            recent: sink.recent.make_contiguous(),
            status: &status,
        }))
    }
}

/// The session between frames: what its log says about the camera.
struct Session<'a> {
    opts: &'a LiveOptions,
    settings: serde_json::Value,
    description: String,
    header: bool,
    /// While the camera is away: the time of the last frame before it went.
    gap_since: Option<f64>,
    camera_gaps: u64,
    drops: DropNotes,
    clock: SessionClock,
}

/// Notes on frames dropped because the analysis fell behind the camera.
struct DropNotes {
    warned: bool,
    last_note: Option<(Instant, u64)>,
    clock: SessionClock,
}

impl Session<'_> {
    /// The session line, at the first frame. Event times count from that frame (the
    /// camera's own clock from there, see `SessionClock`); `recorded` is its wall-clock time,
    /// so wall time = `recorded` + `start_s`. `first_frame_s` records how long after
    /// `started` (the command's start) it came.
    fn header(&mut self, sink: &mut LiveSink) -> io::Result<()> {
        if self.header {
            return Ok(());
        }
        self.header = true;
        let first_frame_s = self.clock.first_frame_s().unwrap_or(0.0);
        sink.wall = sink.wall.later(first_frame_s);
        if let Some(map) = self.settings.as_object_mut() {
            map.insert("first_frame_s".into(), round3(first_frame_s).into());
        }
        sink.write(
            &Event::session(
                self.description.clone(),
                self.opts.analyze.motion.mirrored,
                self.settings.clone(),
                None,
            )
            .with_recorded(Some(sink.wall.at(0.0))),
        )
    }

    fn notices(
        &mut self,
        rx: &Receiver<Notice>,
        state: &mut RunState,
        sink: &mut LiveSink,
    ) -> io::Result<()> {
        for n in rx.try_iter() {
            match n {
                Notice::Opened { description } => {
                    if self.header && description != self.description {
                        tracing::info!("camera reopened as {description}");
                    }
                    self.description = description;
                }
                Notice::Lost { t_s, message } => {
                    eprintln!("twitchwatch: camera lost ({message}); retrying, the log is kept");
                    if self.header {
                        sink.write(&Event::Warning {
                            t_s: round3(t_s),
                            message: format!("camera lost: {message}; retrying"),
                        })?;
                    }
                    self.gap_since.get_or_insert(t_s);
                }
                Notice::Resumed { start_s, end_s } => {
                    eprintln!("twitchwatch: camera back after {:.1} s", end_s - start_s);
                    self.gap_since = None;
                    self.gap(state, sink, start_s, end_s)?;
                }
            }
        }
        Ok(())
    }

    /// Records a camera gap; the face is searched afresh afterwards (it may have moved, and
    /// no event may straddle the gap).
    fn gap(
        &mut self,
        state: &mut RunState,
        sink: &mut LiveSink,
        start_s: f64,
        end_s: f64,
    ) -> io::Result<()> {
        self.camera_gaps += 1;
        state.motion = MotionAnalyzer::new(self.opts.analyze.motion.clone());
        sink.write(&Event::CameraGap {
            start_s: round3(start_s),
            end_s: round3(end_s),
        })
    }
}

impl DropNotes {
    /// Says when the analysis starts falling behind (once in the log, at most once a minute
    /// on stderr); the total goes into the summary line.
    fn note(&mut self, total: u64, sink: &mut LiveSink) -> io::Result<()> {
        if total == 0 {
            return Ok(());
        }
        let t = self.clock.now();
        if !self.warned {
            self.warned = true;
            sink.write(&Event::Warning {
                t_s: round3(t),
                message: "the analysis fell behind the camera: the oldest frames are dropped \
                          (the total is in the summary line)"
                    .into(),
            })?;
        }
        let due = self
            .last_note
            .is_none_or(|(at, n)| at.elapsed() >= Duration::from_secs(60) && total > n);
        if due {
            self.last_note = Some((Instant::now(), total));
            tracing::warn!("live: {total} frames dropped so far (analysis behind the camera)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_times_are_rfc3339_with_milliseconds_and_offset() {
        let w = WallClock::now();
        let a = w.at(0.0);
        let b = w.at(1.5);
        // 2026-01-02T03:04:05.678+01:00
        assert_eq!(a.len(), 29, "{a}");
        assert!(matches!(a.as_bytes()[23], b'+' | b'-'), "{a}");
        let seconds = |s: &str| s[17..23].parse::<f64>().unwrap_or(f64::NAN);
        let d = (seconds(&b) - seconds(&a)).rem_euclid(60.0);
        assert!((d - 1.5).abs() < 1e-6, "{a} {b}");
        assert_eq!(w.time_of_day(0.0).len(), 8);
    }
}
