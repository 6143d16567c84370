//! The analysis pipeline shared by clips, the live camera and bench: capture thread →
//! measurement → burst detector → events. `drive` is the one frame loop (messages in, frames
//! read ahead, decode gaps) and `RunState::analyze_frame` the one per-frame step inside it
//! (with panic containment); `run` is a whole clip's run around `drive`. Live sessions and
//! bench call `drive` too, with hooks of their own (`DriveHooks`: stop flag, idle ticks,
//! preview) or frames from memory (`FromMemory`). Only the source, the sink, the observer
//! and the hooks differ between uses.
//!
//! Input: a `FrameSource` (`run`), or a `Feed` (`drive`: the capture thread's channel or
//! frames in memory). Output: `Event`s written to an `EventSink` as soon as each closes.
//! Thread: runs on the caller's thread (analysis); `run` owns the capture thread.

use crate::analysis::anatomy::Side;
use crate::analysis::bursts::{Activity, BurstDetector, BurstParams};
use crate::analysis::capture::{Backpressure, Capture, CaptureMsg, panic_message};
use crate::analysis::measure::motion::{FrameSignals, MotionAnalyzer, MotionParams};
use crate::analysis::severity::{Severity, SeverityParams};
use crate::outputs::events::{Event, EventSink, Twitch};
use crate::outputs::saved_clips::{FrameSaver, SaveFramesParams};
use crate::source::{DecodeGap, Frame, FrameSource, SourceError};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::borrow::{Borrow, BorrowMut};
use std::io::Write;
use std::time::Duration;

/// Everything that shapes an analysis run.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    pub motion: MotionParams,
    pub bursts: BurstParams,
    /// The per-minute closure severity lines (`severity`).
    pub severity: SeverityParams,
    /// Frames in flight between the capture thread and the analysis.
    pub channel_capacity: usize,
    /// Keep video of each twitch (`--save-frames`); `None`: no frame is ever written.
    pub save_frames: Option<SaveFramesParams>,
    /// Frames read ahead of the one being measured, so that the face confirmations due in
    /// them are searched elsewhere meanwhile (`FaceTracker::search_ahead`; the same
    /// results). 0: none. For clips (`batch::LOOK_AHEAD`); live sessions keep their
    /// delay and CPU share small.
    pub look_ahead: usize,
    /// Those searches run on the capture thread while it waits for room in its channel
    /// (`capture::Chore`), not on a thread of their own: for machines with no core to
    /// spare for them (`batch::search_on_capture`).
    pub search_on_capture: bool,
    /// Clips: clockwise degrees to turn the pictures by (`--rotate`), instead of the
    /// container's display matrix. `None`: the matrix.
    pub rotate: Option<u16>,
    /// When the clip was recorded (RFC 3339), written on the `session` line; not an
    /// analysis setting.
    pub recorded: Option<String>,
}

/// What a finished (or interrupted) run saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    pub frames: u64,
    /// Media time from the first to just past the last frame.
    pub duration_s: f64,
    /// Time with a tracked face.
    pub observed_s: f64,
    pub twitches: [u64; 2],
    /// Damaged stretches of the recording that could not be decoded, `[start_s, end_s]`.
    pub decode_gaps: Vec<[f64; 2]>,
}

impl RunSummary {
    pub fn per_minute(&self, side: Side) -> f64 {
        if self.observed_s > 0.0 {
            self.twitches[side.index()] as f64 * 60.0 / self.observed_s
        } else {
            0.0
        }
    }

    pub fn to_event(&self, error: Option<String>) -> Event {
        Event::Summary {
            duration_s: round3(self.duration_s),
            observed_s: round3(self.observed_s),
            frames: self.frames,
            twitches_left: self.twitches[0],
            twitches_right: self.twitches[1],
            per_minute_left: round3(self.per_minute(Side::Left)),
            per_minute_right: round3(self.per_minute(Side::Right)),
            frames_dropped: None,
            error,
            decode_gaps: self.decode_gaps.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The source failed part-way; everything detected before is already emitted.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Writing the log failed; the run stopped.
    #[error("writing events: {0} (the events written before it are kept)")]
    Sink(std::io::Error),
    #[error("starting the capture thread: {0}")]
    Thread(std::io::Error),
    /// `--save-frames`: its folder could not be made ready (before the run).
    #[error("saving frames: {0}")]
    SaveFrames(std::io::Error),
    /// A bug in the analysis; the run stopped at that frame with everything before it kept.
    #[error(
        "internal error at frame {index} ({t_s:.3} s): {message} (a bug in twitchwatch; please report it)"
    )]
    Panicked {
        index: u64,
        t_s: f64,
        message: String,
    },
}

/// Per-frame observer (progress bars, debug traces, previews).
pub trait FrameObserver {
    fn frame(&mut self, signals: &FrameSignals, activity: &Activity);
}

impl FrameObserver for () {
    fn frame(&mut self, _: &FrameSignals, _: &Activity) {}
}

/// The settings a `session` line records, the same for clips and live sessions.
pub fn analysis_settings(opts: &AnalyzeOptions) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("detect".into(), serde_json::json!(opts.bursts));
    m.insert("crop_px".into(), opts.motion.crop_px.into());
    m.insert("grid_step".into(), opts.motion.grid_step.into());
    if opts.save_frames.is_some() {
        m.insert("save_frames".into(), true.into());
    }
    m
}

/// The most frames `AnalyzeOptions::look_ahead` reads ahead.
pub const MAX_LOOK_AHEAD: usize = 32;

/// Runs the whole analysis over `source`. Every event is written to `sink` as it closes;
/// a `session` line first and a `summary` line last (also when the source fails).
pub fn run(
    source: Box<dyn FrameSource>,
    source_name: &str,
    opts: &AnalyzeOptions,
    sink: &mut dyn EventSink,
    observer: &mut dyn FrameObserver,
) -> Result<RunSummary, RunError> {
    let settings = serde_json::Value::Object(analysis_settings(opts));
    // Sources opened for display (`open_clip_oriented`) say how; test doubles do not.
    let media = source.info().media.clone();
    let media = (!media.rotation_from.is_empty()).then_some(media);
    sink.write(
        &Event::session(
            source_name.to_string(),
            opts.motion.mirrored,
            settings,
            media.clone(),
        )
        .with_recorded(opts.recorded.clone()),
    )
    .map_err(RunError::Sink)?;
    if let Some(m) = &media {
        media_warnings(m, source.info().fps, sink).map_err(RunError::Sink)?;
    }

    let mut state = RunState::new(opts);
    let rx_chores = (opts.look_ahead > 0 && opts.search_on_capture)
        .then(|| state.motion.tracker().confirm_ahead_on_capture());
    let capacity = opts.channel_capacity.max(2);
    let capture = Capture::spawn(source, capacity, Backpressure::Block, rx_chores)
        .map_err(RunError::Thread)?;
    if let Some(p) = &opts.save_frames {
        state.save_frames(FrameSaver::start(p.clone()).map_err(RunError::SaveFrames)?);
    }
    let end = drive(
        &mut state,
        FromCapture(capture.rx_frames()),
        opts.look_ahead,
        sink,
        observer,
        &mut (),
    )?;
    capture.shutdown();
    if opts.look_ahead > 0 {
        let c = state.motion.tracker().ahead_counts();
        tracing::debug!(
            "face confirmations searched ahead: {} used, {} not, {} not started",
            c.used,
            c.wasted,
            c.not_started
        );
    }
    let failure = end.failure();
    let bug = state
        .finish(sink, failure.as_ref().map(|e| e.to_string()))
        .map_err(RunError::Sink)?;
    match (failure, bug) {
        (Some(e), _) => Err(e),
        (None, Some(message)) => Err(RunError::Panicked {
            index: state.summary.frames,
            t_s: state.last_t,
            message,
        }),
        (None, None) => Ok(state.summary),
    }
}

/// How a frame's step ended.
#[derive(Debug)]
pub enum FrameOutcome {
    /// On to the next frame.
    Next,
    /// The caller's `after` asked to end the run (e.g. the preview window was closed).
    Stop,
    /// A bug in the analysis (`RunError::Panicked`): the run ends at this frame.
    Bug(RunError),
}

/// What the analysis has read ahead: frames, and the decode gaps between them.
enum Ahead<F> {
    Frame(F),
    Gap(DecodeGap),
}

/// Where a driven run's messages come from (`drive`).
pub(crate) trait Feed {
    /// A frame as the feed hands it over: owned (from the capture thread) or borrowed
    /// (frames already in memory).
    type Frame: BorrowMut<Frame>;
    /// The next message, waiting at most `wait` (`None`: until one comes or the feed ends).
    fn next(&mut self, wait: Option<Duration>) -> Next<Self::Frame>;
}

/// What a `Feed` gave.
pub(crate) enum Next<F> {
    Msg(CaptureMsg<F>),
    /// Nothing came within the wait.
    Idle,
    /// No more messages.
    End,
}

/// The capture thread's channel (clips, live sessions).
pub(crate) struct FromCapture<'a>(pub &'a Receiver<CaptureMsg>);

impl Feed for FromCapture<'_> {
    type Frame = Frame;

    fn next(&mut self, wait: Option<Duration>) -> Next<Frame> {
        match wait {
            None => self.0.recv().map_or(Next::End, Next::Msg),
            Some(wait) => match self.0.recv_timeout(wait) {
                Ok(msg) => Next::Msg(msg),
                Err(RecvTimeoutError::Timeout) => Next::Idle,
                Err(RecvTimeoutError::Disconnected) => Next::End,
            },
        }
    }
}

/// Messages already in memory, in turn, never waiting (bench: frames without decoding, no
/// channel, no other thread).
pub(crate) struct FromMemory<I>(pub I);

impl<F: BorrowMut<Frame>, I: Iterator<Item = CaptureMsg<F>>> Feed for FromMemory<I> {
    type Frame = F;

    fn next(&mut self, _: Option<Duration>) -> Next<F> {
        self.0.next().map_or(Next::End, Next::Msg)
    }
}

/// What a driven run's caller adds around the per-frame step. Clips and bench add nothing
/// (`()`); live sessions check their stop flag, read camera notices while waiting and
/// before each frame, write the session line at the first frame, and show each analysed
/// frame in the preview with a note on dropped frames.
pub(crate) trait DriveHooks<S: ?Sized> {
    /// Whether to end the run now; asked before each wait for a message.
    fn stop(&mut self) -> bool {
        false
    }

    /// How long to wait for a message before `idle` is called. `None`: until one comes.
    fn idle_after(&self) -> Option<Duration> {
        None
    }

    /// No message came within `idle_after`. `Ok(false)`: end the run.
    fn idle(&mut self, _state: &mut RunState, _sink: &mut S) -> std::io::Result<bool> {
        Ok(true)
    }

    /// A frame came, before it is read ahead or analysed.
    fn frame_came(&mut self, _state: &mut RunState, _sink: &mut S) -> std::io::Result<()> {
        Ok(())
    }

    /// Whether decode gaps are analysed (they close open twitches and are logged); `false`:
    /// they are ignored.
    fn reads_decode_gaps(&self) -> bool {
        true
    }

    /// Each frame once it is measured and its bursts decided: `RunState::analyze_frame`'s
    /// `after`. `Ok(false)` ends the run before the frame is kept.
    fn after_frame(
        &mut self,
        _frame: &Frame,
        _signals: &FrameSignals,
        _activity: &Activity,
        _sink: &mut S,
    ) -> std::io::Result<bool> {
        Ok(true)
    }
}

/// No hooks: clips and bench.
impl<S: ?Sized> DriveHooks<S> for () {}

/// Why a driven run ended (a failed sink is `Err` instead).
#[derive(Debug)]
pub(crate) enum DriveEnd {
    /// The feed ended, or the hooks ended the run.
    Done,
    /// The source failed; the frames before the failure were analysed.
    Failed(SourceError),
    /// A bug in the analysis (`RunError::Panicked`); the run ended at that frame.
    Bug(RunError),
}

impl DriveEnd {
    /// The error the run ends with, if any: for the summary line and the caller.
    pub(crate) fn failure(self) -> Option<RunError> {
        match self {
            DriveEnd::Done => None,
            DriveEnd::Failed(e) => Some(RunError::Source(e)),
            DriveEnd::Bug(e) => Some(e),
        }
    }
}

/// The receive loop of every run (clips, live sessions, bench): takes `feed`'s messages
/// until it ends, the source fails, the analysis hits a bug or `hooks` end the run, and puts
/// each frame and decode gap through `state` in order. Clips read `look_ahead` frames ahead
/// (`AnalyzeOptions::look_ahead`, at most `MAX_LOOK_AHEAD`); those are analysed before the
/// run ends, unless a bug or `hooks` ended it. The caller writes the session line and
/// finishes the run (`RunState::finish`). `Err`: writing to `sink` failed (in the analysis
/// or a hook), as `RunError::Sink`; the run stops there.
pub(crate) fn drive<D: Feed, S: EventSink + ?Sized>(
    state: &mut RunState,
    mut feed: D,
    look_ahead: usize,
    sink: &mut S,
    observer: &mut dyn FrameObserver,
    hooks: &mut dyn DriveHooks<S>,
) -> Result<DriveEnd, RunError> {
    let ahead = look_ahead.min(MAX_LOOK_AHEAD);
    // Bounded: each holds a whole frame.
    let mut queue = std::collections::VecDeque::with_capacity(ahead + 2);
    let wait = hooks.idle_after();
    let mut end = DriveEnd::Done;
    let mut stopped = false;
    'feed: loop {
        if hooks.stop() {
            break;
        }
        let msg = match feed.next(wait) {
            Next::Msg(msg) => msg,
            Next::Idle => {
                if !hooks.idle(state, sink).map_err(RunError::Sink)? {
                    break;
                }
                continue;
            }
            Next::End => break,
        };
        match msg {
            CaptureMsg::Frame(frame) => {
                hooks.frame_came(state, sink).map_err(RunError::Sink)?;
                if ahead > 0 {
                    state.motion.tracker().search_ahead(frame.borrow());
                }
                queue.push_back(Ahead::Frame(frame));
                while queue
                    .iter()
                    .filter(|a| matches!(a, Ahead::Frame(_)))
                    .count()
                    > ahead
                    && let Some(item) = queue.pop_front()
                {
                    match state.analyze_item(item, sink, observer, hooks)? {
                        FrameOutcome::Next => {}
                        FrameOutcome::Stop => {
                            stopped = true;
                            break 'feed;
                        }
                        FrameOutcome::Bug(bug) => {
                            end = DriveEnd::Bug(bug);
                            break 'feed;
                        }
                    }
                }
            }
            CaptureMsg::Gap(gap) => {
                if hooks.reads_decode_gaps() {
                    queue.push_back(Ahead::Gap(gap));
                }
            }
            CaptureMsg::Failed(e) => {
                end = DriveEnd::Failed(e);
                break;
            }
        }
    }
    // The frames read ahead came before the end (or the source's failure).
    if !stopped && !matches!(end, DriveEnd::Bug(_)) {
        while let Some(item) = queue.pop_front() {
            match state.analyze_item(item, sink, observer, hooks)? {
                FrameOutcome::Next => {}
                FrameOutcome::Stop => break,
                FrameOutcome::Bug(bug) => {
                    end = DriveEnd::Bug(bug);
                    break;
                }
            }
        }
    }
    Ok(end)
}

/// Says in the log what the user should know about how the clip is read: slow motion
/// (stretched times), several video streams.
fn media_warnings(
    m: &crate::outputs::events::Media,
    fps: Option<f64>,
    sink: &mut dyn EventSink,
) -> std::io::Result<()> {
    if let Some(capture) = m.capture_fps {
        let played = fps.map_or(String::new(), |f| format!(" and plays at {f:.0} fps"));
        sink.write(&Event::Warning {
            t_s: 0.0,
            message: format!(
                "slow motion: recorded at {capture:.0} fps{played}; times, durations and \
                 per-minute rates are in playback time, so stretched"
            ),
        })?;
    }
    if let Some(n) = m.video_streams {
        sink.write(&Event::Warning {
            t_s: 0.0,
            message: format!("{n} video streams in the file: the first is analysed"),
        })?;
    }
    Ok(())
}

/// Analysis state between frames: measurement, detector, face-lost bookkeeping.
pub struct RunState {
    pub motion: MotionAnalyzer,
    detector: BurstDetector,
    summary: RunSummary,
    first_t: Option<f64>,
    last_t: f64,
    frame_dt: f64,
    lost_since: Option<f64>,
    closed: Vec<Twitch>,
    /// Most faces seen at once so far (said once in the log when more than one).
    most_faces: u32,
    checks: ContentChecks,
    saver: Option<FrameSaver>,
    severity: Severity,
    /// Scratch: minute lines due.
    minutes: Vec<crate::outputs::events::Minute>,
    /// A decode gap begun (its start and reason), closed by the next frame or the end.
    gap_open: Option<(f64, DecodeGap)>,
}

/// Odd input noticed frame by frame, each said in the log as a `warning` when it happens.
#[derive(Debug, Default)]
struct ContentChecks {
    size: Option<(u32, u32)>,
    backwards_said: bool,
    /// Fingerprint of the last frame's pixels and since when it has been the same.
    last_print: Option<u64>,
    same_since: Option<f64>,
}

/// How long the picture must stay exactly the same to be called frozen, seconds.
const FROZEN_AFTER_S: f64 = 2.0;

/// A cheap fingerprint of a frame's pixels (every 4th 8-byte word, FNV-style mixing): an
/// exact repeat of a frame gives the same value; sensor noise never does.
fn fingerprint(luma: &[u8]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        u64::from_le_bytes(w)
    };
    let seed = 0xcbf2_9ce4_8422_2325u64 ^ luma.len() as u64;
    // Four chains, each word in turn to the next, so that their multiplies overlap instead
    // of each waiting for the one before.
    let mut lanes = [seed, seed ^ 1, seed ^ 2, seed ^ 3];
    let blocks = luma.chunks_exact(128);
    let rest = blocks.remainder();
    for block in blocks {
        for (k, h) in lanes.iter_mut().enumerate() {
            *h = (*h ^ word(&block[k * 32..])).wrapping_mul(PRIME);
        }
    }
    for chunk in rest.chunks_exact(8).step_by(4) {
        lanes[0] = (lanes[0] ^ word(chunk)).wrapping_mul(PRIME);
    }
    lanes
        .iter()
        .fold(seed, |acc, &h| (acc ^ h).wrapping_mul(PRIME))
}

impl RunState {
    pub fn new(opts: &AnalyzeOptions) -> Self {
        let mut motion = MotionAnalyzer::new(opts.motion.clone());
        if opts.look_ahead > 0
            && !opts.search_on_capture
            && let Err(e) = motion.tracker().confirm_ahead()
        {
            // Only slower without it.
            tracing::warn!("no thread for confirming faces ahead ({e}); searching in line");
        }
        Self {
            motion,
            detector: BurstDetector::new(opts.bursts.clone()),
            summary: RunSummary::default(),
            first_t: None,
            last_t: 0.0,
            frame_dt: 1.0 / 30.0,
            lost_since: None,
            closed: vec![],
            most_faces: 1,
            checks: ContentChecks::default(),
            saver: None,
            severity: Severity::new(opts.severity.clone()),
            minutes: Vec::with_capacity(1),
            gap_open: None,
        }
    }

    fn analyze_item<F: BorrowMut<Frame>, S: EventSink + ?Sized>(
        &mut self,
        item: Ahead<F>,
        sink: &mut S,
        observer: &mut dyn FrameObserver,
        hooks: &mut dyn DriveHooks<S>,
    ) -> Result<FrameOutcome, RunError> {
        match item {
            Ahead::Frame(mut frame) => self.analyze_frame(
                frame.borrow_mut(),
                sink,
                observer,
                |frame, signals, activity, sink| hooks.after_frame(frame, signals, activity, sink),
            ),
            Ahead::Gap(gap) => self
                .decode_gap(gap, sink)
                .map(|()| FrameOutcome::Next)
                .map_err(RunError::Sink),
        }
    }

    /// The recording could not be decoded from the end of the last frame on: open twitches
    /// close there (none straddles the gap), as does a face-lost interval; the face is
    /// searched afresh after it. The gap is logged when the next frame (or the end) comes.
    fn decode_gap<S: EventSink + ?Sized>(
        &mut self,
        gap: DecodeGap,
        sink: &mut S,
    ) -> std::io::Result<()> {
        let start = if self.first_t.is_some() {
            self.last_t + self.frame_dt
        } else {
            0.0
        };
        self.detector.close_all(&mut self.closed);
        self.emit_closed(sink)?;
        if let Some(since) = self.lost_since.take() {
            sink.write(&Event::FaceLost {
                start_s: round3(since),
                end_s: round3(start),
            })?;
        }
        if self.summary.decode_gaps.is_empty() && self.gap_open.is_none() {
            sink.write(&Event::Warning {
                t_s: round3(start),
                message: format!(
                    "damaged recording: frames from {start:.3} s could not be decoded ({}); \
                     skipped to the next decodable picture, the gaps are not observed time",
                    gap.reason
                ),
            })?;
        }
        self.motion.reset();
        // A gap right after a gap: one interval.
        if self.gap_open.is_none() {
            self.gap_open = Some((start, gap));
        }
        Ok(())
    }

    /// Logs the open decode gap as ending at `end`.
    fn close_gap<S: EventSink + ?Sized>(&mut self, end: f64, sink: &mut S) -> std::io::Result<()> {
        if let Some((start, _)) = self.gap_open.take() {
            let (start_s, end_s) = (round3(start), round3(end.max(start)));
            self.summary.decode_gaps.push([start_s, end_s]);
            sink.write(&Event::DecodeGap { start_s, end_s })?;
        }
        Ok(())
    }

    /// One frame through measurement, detector, `after` and frame saver: the per-frame step
    /// of every run (clips, live sessions, bench). `after` sees the measured frame and may
    /// write events (previews, notes on dropped frames); `Ok(false)` from it ends the run
    /// before the frame is kept. A bug in the analysis (or in `after`) must not end the run
    /// without its summary line: it comes back as `Ok(FrameOutcome::Bug(Panicked))`, with
    /// the frame it happened at, and the run stops there. `Err`: the sink failed. The frame
    /// is taken out of `frame` only when a frame saver keeps it.
    pub fn analyze_frame<S: EventSink + ?Sized>(
        &mut self,
        frame: &mut Frame,
        sink: &mut S,
        observer: &mut dyn FrameObserver,
        after: impl FnOnce(&Frame, &FrameSignals, &Activity, &mut S) -> std::io::Result<bool>,
    ) -> Result<FrameOutcome, RunError> {
        let (index, t) = (frame.index, frame.pts_s);
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let signals = self.measure(frame, sink)?;
            let activity = self.step(&signals, sink, observer)?;
            if !after(frame, &signals, &activity, sink)? {
                return Ok(FrameOutcome::Stop);
            }
            self.keep(frame, sink)?;
            Ok(FrameOutcome::Next)
        }));
        match done {
            Ok(r) => r.map_err(RunError::Sink),
            Err(panic) => Ok(FrameOutcome::Bug(RunError::Panicked {
                index,
                t_s: t,
                message: panic_message(panic.as_ref()),
            })),
        }
    }

    /// Video of each twitch goes to `saver` from now on.
    pub fn save_frames(&mut self, saver: FrameSaver) {
        self.saver = Some(saver);
    }

    /// Hands a frame the analysis is done with to the frame saver, if any (else drops it).
    fn keep<S: EventSink + ?Sized>(
        &mut self,
        frame: &mut Frame,
        sink: &mut S,
    ) -> std::io::Result<()> {
        let Some(saver) = self.saver.as_mut() else {
            return Ok(());
        };
        let t = frame.pts_s;
        let frame = std::mem::replace(
            frame,
            Frame {
                index: frame.index,
                pts_s: t,
                width: 0,
                height: 0,
                luma: Vec::new(),
            },
        );
        for message in saver.push(frame) {
            sink.write(&Event::Warning {
                t_s: round3(t),
                message,
            })?;
        }
        Ok(())
    }

    /// Checks one frame for odd input (warnings go to `sink`), repairs what can be
    /// repaired (a timestamp that steps backwards is moved just past the previous one, so
    /// events stay in order), and measures it.
    fn measure<S: EventSink + ?Sized>(
        &mut self,
        frame: &mut Frame,
        sink: &mut S,
    ) -> std::io::Result<FrameSignals> {
        let c = &mut self.checks;
        // The previous frame's time and interval are the ones `step` keeps.
        if self.first_t.is_some() {
            let last = self.last_t;
            // Not later than the previous frame, or not a number at all.
            if frame.pts_s.partial_cmp(&last) != Some(std::cmp::Ordering::Greater) {
                let fixed = last + self.frame_dt;
                if !c.backwards_said {
                    c.backwards_said = true;
                    sink.write(&Event::Warning {
                        t_s: round3(fixed),
                        message: format!(
                            "timestamps do not increase at frame {} ({:.3} s after {:.3} s): \
                             such frames are placed one frame interval after the previous one",
                            frame.index, frame.pts_s, last
                        ),
                    })?;
                }
                frame.pts_s = fixed;
            }
        }
        let t = frame.pts_s;
        let size = (frame.width, frame.height);
        if let Some(old) = c.size.filter(|&old| old != size) {
            sink.write(&Event::Warning {
                t_s: round3(t),
                message: format!(
                    "the frame size changed from {}x{} to {}x{}: the face is searched afresh",
                    old.0, old.1, size.0, size.1
                ),
            })?;
            self.motion.reset();
        }
        c.size = Some(size);
        let print = fingerprint(&frame.luma);
        if c.last_print == Some(print) {
            c.same_since.get_or_insert(t);
        } else {
            self.frozen_end(t, sink)?;
        }
        self.checks.last_print = Some(print);
        Ok(self.motion.process(frame, self.detector.burst_open()))
    }

    /// Says so if the picture had been frozen until `t`.
    fn frozen_end<S: EventSink + ?Sized>(&mut self, t: f64, sink: &mut S) -> std::io::Result<()> {
        // `same_since` is the first repeat; the picture froze one frame before it.
        if let Some(since) = self.checks.same_since.take() {
            let from = since - self.frame_dt;
            if t - from >= FROZEN_AFTER_S {
                sink.write(&Event::Warning {
                    t_s: round3(from),
                    message: format!(
                        "the picture did not change from {from:.1} s to {t:.1} s (a frozen \
                         camera or a still image?): nothing can be seen moving there"
                    ),
                })?;
            }
        }
        Ok(())
    }

    /// Handles one measured frame.
    fn step<S: EventSink + ?Sized>(
        &mut self,
        s: &FrameSignals,
        sink: &mut S,
        observer: &mut dyn FrameObserver,
    ) -> std::io::Result<Activity> {
        let t = s.t_s;
        let after_gap = self.gap_open.is_some();
        if after_gap {
            // The interval up to this frame was not seen: logged, not counted, and not
            // taken as the frame interval.
            self.close_gap(t, sink)?;
            if self.first_t.is_none() {
                self.first_t = Some(0.0);
            }
        } else if let Some(_first) = self.first_t {
            if t > self.last_t {
                self.frame_dt = (t - self.last_t).min(0.5);
            }
        } else {
            self.first_t = Some(t);
        }
        self.summary.frames += 1;
        if s.faces_in_view > self.most_faces {
            self.most_faces = s.faces_in_view;
            sink.write(&Event::Warning {
                t_s: round3(t),
                message: format!(
                    "{} faces in view: following the largest, most central one",
                    s.faces_in_view
                ),
            })?;
        }
        match (s.face.is_some(), self.lost_since) {
            (true, Some(since)) => {
                sink.write(&Event::FaceLost {
                    start_s: round3(since),
                    end_s: round3(t),
                })?;
                self.lost_since = None;
            }
            (false, None) => self.lost_since = Some(t),
            _ => {}
        }
        let observed_dt = if s.face.is_some() && !after_gap {
            self.frame_dt
        } else {
            0.0
        };
        self.summary.observed_s += observed_dt;
        self.severity.push(s, observed_dt, &mut self.minutes);
        self.last_t = t;
        let activity = self.detector.push(s, &mut self.closed);
        observer.frame(s, &activity);
        self.emit_closed(sink)?;
        self.emit_minutes(sink)?;
        Ok(activity)
    }

    /// Closes open bursts and intervals and writes the summary line, whatever happens: a
    /// bug while closing (a panic) must not cost the log its summary, so the line then goes
    /// out with the counts so far and the bug as its error, and the bug's message comes
    /// back as `Ok(Some(message))`. `Err`: the sink failed.
    pub fn finish<S: EventSink + ?Sized>(
        &mut self,
        sink: &mut S,
        error: Option<String>,
    ) -> std::io::Result<Option<String>> {
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.close_and_summarise(sink, error.clone())
        }));
        match done {
            Ok(r) => r.map(|()| None),
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                let shown = error.unwrap_or_else(|| message.clone());
                sink.write(&self.summary.to_event(Some(shown)))?;
                Ok(Some(message))
            }
        }
    }

    fn close_and_summarise<S: EventSink + ?Sized>(
        &mut self,
        sink: &mut S,
        error: Option<String>,
    ) -> std::io::Result<()> {
        self.detector.close_all(&mut self.closed);
        self.emit_closed(sink)?;
        let mut end = self.last_t + self.frame_dt;
        if let Some((start, gap)) = &self.gap_open {
            // Damage to the end: the gap runs to the clip's declared end, if later.
            end = gap.until_s.map_or(end, |u| u.max(*start).max(end));
            self.close_gap(end, sink)?;
        }
        if let Some(saver) = self.saver.take() {
            for message in saver.finish().notes {
                sink.write(&Event::Warning {
                    t_s: round3(end),
                    message,
                })?;
            }
        }
        self.frozen_end(end, sink)?;
        if self.summary.frames > 0 && self.summary.observed_s == 0.0 {
            sink.write(&Event::Warning {
                t_s: round3(self.first_t.unwrap_or(0.0)),
                message: "no face was found in any frame (too dark, too small, turned away, \
                          or no one in view?)"
                    .into(),
            })?;
        }
        if let Some(since) = self.lost_since.take() {
            sink.write(&Event::FaceLost {
                start_s: round3(since),
                end_s: round3(end),
            })?;
        }
        self.severity.finish(&mut self.minutes);
        self.emit_minutes(sink)?;
        self.summary.duration_s = self.first_t.map_or(0.0, |f| end - f);
        sink.write(&self.summary.to_event(error))
    }

    fn emit_minutes<S: EventSink + ?Sized>(&mut self, sink: &mut S) -> std::io::Result<()> {
        for m in self.minutes.drain(..) {
            sink.write(&Event::Minute(m))?;
        }
        Ok(())
    }

    pub fn summary(&self) -> &RunSummary {
        &self.summary
    }

    fn emit_closed<S: EventSink + ?Sized>(&mut self, sink: &mut S) -> std::io::Result<()> {
        for tw in self.closed.drain(..) {
            self.summary.twitches[tw.side.index()] += 1;
            if let Some(saver) = self.saver.as_mut() {
                saver.twitch(&tw);
            }
            sink.write(&Event::Twitch(tw))?;
        }
        Ok(())
    }
}

/// Writes every frame's signals as CSV, for plotting why the detector did what it did.
pub struct TraceWriter<W: Write> {
    out: W,
    header_done: bool,
    pub error: Option<std::io::Error>,
}

impl<W: Write> TraceWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            header_done: false,
            error: None,
        }
    }

    fn write_row(&mut self, s: &FrameSignals, a: &Activity) -> std::io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            let mut h = String::from(
                "frame,t_s,face,face_cx,face_cy,face_size,discontinuity,head_speed,residual_scale",
            );
            for kind in ["speed", "z"] {
                for side in ["left", "right"] {
                    for region in ["eye", "cheek", "mouth"] {
                        h.push_str(&format!(",{kind}_{side}_{region}"));
                    }
                }
            }
            h.push_str(",closure_left,closure_right,closure_speed_left,closure_speed_right");
            h.push_str(",closure_held_left,closure_held_right");
            h.push_str(",eye_trackable_left,eye_trackable_right");
            h.push_str(",reliable,one_sided_left,one_sided_right,flag_left,flag_right");
            h.push_str(",glasses,bridge,rim,look_change_left,look_change_right");
            h.push_str(",look_away_left,look_away_right");
            h.push_str(",aperture_valid,aperture_left,aperture_right\n");
            self.out.write_all(h.as_bytes())?;
        }
        let (cx, cy, size) = s.face.map_or((0.0, 0.0, 0.0), |p| (p.cx, p.cy, p.size));
        let mut row = format!(
            "{},{:.4},{},{:.1},{:.1},{:.1},{},{:.2},{:.4}",
            s.index,
            s.t_s,
            s.face.is_some() as u8,
            cx,
            cy,
            size,
            s.discontinuity as u8,
            s.head_speed,
            s.residual_scale
        );
        for arr in [&s.speed, &a.z] {
            for side in arr.iter() {
                for v in side {
                    row.push_str(&format!(",{v:.4}"));
                }
            }
        }
        row.push_str(&format!(
            ",{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.3},{:.3}",
            s.closure[0],
            s.closure[1],
            s.closure_speed[0],
            s.closure_speed[1],
            s.closure_held[0],
            s.closure_held[1],
            s.eye_trackable[0],
            s.eye_trackable[1]
        ));
        row.push_str(&format!(
            ",{},{:.3},{:.3},{},{},{},{:.1},{:.1},{:.3},{:.3},{:.3},{:.3}",
            s.reliable as u8,
            a.one_sided[0],
            a.one_sided[1],
            a.flagged[0] as u8,
            a.flagged[1] as u8,
            s.look.glasses as u8,
            s.look.bridge,
            s.look.rim,
            s.look.change[0],
            s.look.change[1],
            s.look.away[0],
            s.look.away[1]
        ));
        row.push_str(&format!(
            ",{},{:.3},{:.3}\n",
            s.aperture_valid as u8, s.aperture[0], s.aperture[1]
        ));
        self.out.write_all(row.as_bytes())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

impl<W: Write> FrameObserver for TraceWriter<W> {
    fn frame(&mut self, s: &FrameSignals, a: &Activity) {
        if self.error.is_none()
            && let Err(e) = self.write_row(s, a)
        {
            self.error = Some(e);
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: u64) -> Vec<Frame> {
        (0..n)
            .map(|index| Frame {
                index,
                pts_s: index as f64 / 30.0,
                width: 64,
                height: 48,
                luma: (0..64 * 48)
                    .map(|i| ((i as u64 * 7 + index) % 251) as u8)
                    .collect(),
            })
            .collect()
    }

    /// Counts the frames the hooks see after analysis; ends the run after `stop_after`.
    struct Counting {
        seen: u64,
        stop_after: u64,
        gaps: bool,
    }

    impl<S: ?Sized> DriveHooks<S> for Counting {
        fn reads_decode_gaps(&self) -> bool {
            self.gaps
        }

        fn after_frame(
            &mut self,
            _: &Frame,
            _: &FrameSignals,
            _: &Activity,
            _: &mut S,
        ) -> std::io::Result<bool> {
            self.seen += 1;
            Ok(self.seen < self.stop_after)
        }
    }

    fn gap() -> DecodeGap {
        DecodeGap {
            reason: "test".into(),
            until_s: None,
        }
    }

    /// The frames read ahead before a source fails are analysed, decode gaps in order
    /// between them; nothing after the failure is.
    #[test]
    fn drive_analyses_what_was_read_ahead_before_a_failure() {
        let mut f = frames(4);
        let (head, tail) = f.split_at_mut(2);
        let (f2, f3) = tail.split_at_mut(1);
        let msgs = head
            .iter_mut()
            .map(CaptureMsg::Frame)
            .chain([CaptureMsg::Gap(gap()), CaptureMsg::Frame(&mut f2[0])])
            .chain([
                CaptureMsg::Failed(SourceError::Panicked {
                    message: "test".into(),
                }),
                CaptureMsg::Frame(&mut f3[0]),
            ]);
        let mut state = RunState::new(&AnalyzeOptions::default());
        let mut events = vec![];
        let mut sink = |e: &Event| {
            events.push(e.clone());
            Ok(())
        };
        let mut hooks = Counting {
            seen: 0,
            stop_after: u64::MAX,
            gaps: true,
        };
        let end = drive(
            &mut state,
            FromMemory(msgs),
            2,
            &mut sink,
            &mut (),
            &mut hooks,
        );
        assert!(matches!(end, Ok(DriveEnd::Failed(_))), "{end:?}");
        assert_eq!(hooks.seen, 3);
        assert_eq!(state.summary().frames, 3);
        let gaps: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::DecodeGap { .. }))
            .collect();
        assert_eq!(gaps.len(), 1, "{events:?}");
    }

    /// Hooks that end the run stop it at that frame; decode gaps they do not read are not
    /// logged.
    #[test]
    fn drive_stops_when_the_hooks_say_so() {
        let mut f = frames(5);
        let (head, tail) = f.split_at_mut(1);
        let msgs = head
            .iter_mut()
            .map(CaptureMsg::Frame)
            .chain([CaptureMsg::Gap(gap())])
            .chain(tail.iter_mut().map(CaptureMsg::Frame));
        let mut state = RunState::new(&AnalyzeOptions::default());
        let mut events = vec![];
        let mut sink = |e: &Event| {
            events.push(e.clone());
            Ok(())
        };
        let mut hooks = Counting {
            seen: 0,
            stop_after: 3,
            gaps: false,
        };
        let end = drive(
            &mut state,
            FromMemory(msgs),
            0,
            &mut sink,
            &mut (),
            &mut hooks,
        );
        assert!(matches!(end, Ok(DriveEnd::Done)), "{end:?}");
        assert_eq!(hooks.seen, 3);
        assert!(
            !events.iter().any(|e| matches!(e, Event::DecodeGap { .. })),
            "{events:?}"
        );
    }

    /// A bug while finishing does not cost the log its summary line: one goes out, with
    /// the frames counted so far and the bug as its error.
    #[test]
    fn a_bug_while_finishing_still_writes_one_summary() {
        let mut f = frames(3);
        let mut state = RunState::new(&AnalyzeOptions::default());
        let mut events = vec![];
        let mut panicked = false;
        let mut sink = |e: &Event| {
            if matches!(e, Event::Summary { .. }) && !panicked {
                panicked = true;
                panic!("summary bug");
            }
            events.push(e.clone());
            Ok(())
        };
        let msgs = f.iter_mut().map(CaptureMsg::Frame);
        let end = drive(&mut state, FromMemory(msgs), 0, &mut sink, &mut (), &mut ());
        assert!(matches!(end, Ok(DriveEnd::Done)), "{end:?}");
        let bug = state.finish(&mut sink, None).expect("the sink works");
        assert!(bug.is_some_and(|m| m.contains("summary bug")));
        let summaries: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Summary { frames, error, .. } => Some((*frames, error.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(summaries.len(), 1, "{events:?}");
        assert_eq!(summaries[0].0, 3);
        assert!(
            summaries[0]
                .1
                .as_deref()
                .is_some_and(|m| m.contains("summary bug"))
        );
    }

    /// Every sampled word counts, in the blocks of four chains and in the tail after them;
    /// a copy gives the same value.
    #[test]
    fn fingerprint_sees_every_sampled_word() {
        let frame: Vec<u8> = (0..480 * 360 + 40).map(|i| (i * 7 % 251) as u8).collect();
        let base = fingerprint(&frame);
        assert_eq!(base, fingerprint(&frame.clone()));
        let words = frame.len() / 8;
        for w in (0..words).step_by(4) {
            let mut changed = frame.clone();
            changed[w * 8 + 3] ^= 1;
            assert_ne!(fingerprint(&changed), base, "word {w}");
        }
        // A frame one byte shorter is another frame.
        assert_ne!(fingerprint(&frame[..frame.len() - 1]), base);
    }
}
