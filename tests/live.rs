//! Live mode with a fake camera (the same `FrameSource` trait a webcam implements) and the
//! real binary: drop-oldest under a slow consumer, reconnect after an unplug, a camera that
//! cannot start, clean shutdown on SIGINT/SIGTERM, headless operation.

mod common;
use common::sample;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use twitchwatch::live::preview::View;
use twitchwatch::live::reconnect::{Backoff, CameraError, CameraOpener};
use twitchwatch::live::{Headless, LiveError, LiveOptions, LiveView, run_session};
use twitchwatch::outputs::events::{Event, read_log_str};
use twitchwatch::source::{Frame, FrameSource, SourceError, SourceInfo};

/// A fake webcam: `frames` small frames every `interval`, then an unplug error (or the end).
struct FakeCamera {
    info: SourceInfo,
    left: u64,
    interval: Duration,
    unplug_at_end: bool,
    produced: Arc<Mutex<u64>>,
}

impl FrameSource for FakeCamera {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.left == 0 {
            if self.unplug_at_end {
                return Err(SourceError::Io {
                    path: "camera".into(),
                    message: "No such device (os error 19)".into(),
                });
            }
            return Ok(None);
        }
        self.left -= 1;
        std::thread::sleep(self.interval);
        *self.produced.lock().unwrap() += 1;
        Ok(Some(Frame {
            index: 0,
            pts_s: 0.0,
            width: 64,
            height: 48,
            luma: vec![120; 64 * 48],
        }))
    }
}

fn fake(frames: u64, interval_ms: u64, unplug: bool, produced: &Arc<Mutex<u64>>) -> FakeCamera {
    FakeCamera {
        info: SourceInfo {
            description: "fake camera".into(),
            width: 64,
            height: 48,
            fps: Some(30.0),
            ..SourceInfo::default()
        },
        left: frames,
        interval: Duration::from_millis(interval_ms),
        unplug_at_end: unplug,
        produced: produced.clone(),
    }
}

fn options() -> LiveOptions {
    LiveOptions {
        backoff: Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(20),
        },
        settings: serde_json::json!({}),
        ..LiveOptions::default()
    }
}

/// A consumer slower than the camera.
struct SlowView(Duration);

impl LiveView for SlowView {
    fn show(&mut self, _: &View) -> bool {
        std::thread::sleep(self.0);
        true
    }
    fn idle(&mut self) -> bool {
        true
    }
}

/// A camera that opens once; asked again, it is not found.
fn opens_once(cam: FakeCamera) -> Box<dyn CameraOpener> {
    let mut first = Some(cam);
    Box::new(move || {
        first
            .take()
            .map(|c| Box::new(c) as Box<dyn FrameSource>)
            .ok_or_else(|| CameraError::NotFound(String::new()))
    })
}

fn summary(events: &[Event]) -> Option<&Event> {
    events.last().filter(|e| matches!(e, Event::Summary { .. }))
}

#[test]
fn slow_analysis_drops_the_oldest_frames_and_counts_them() {
    let produced = Arc::new(Mutex::new(0));
    let opener = opens_once(fake(200, 1, false, &produced));
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = run_session(
        opener,
        &options(),
        stop,
        &mut emit,
        &mut SlowView(Duration::from_millis(10)),
    )
    .expect("session");
    let produced = *produced.lock().unwrap();
    assert_eq!(produced, 200);
    assert!(s.frames_dropped > 0, "nothing dropped");
    // Each frame was analysed, dropped, or still queued at the end (at most the capacity).
    let queued = produced - s.run.frames - s.frames_dropped;
    assert!(queued <= options().capacity as u64, "{s:?}");
    match summary(&events) {
        Some(Event::Summary {
            frames_dropped,
            frames,
            ..
        }) => {
            assert_eq!(*frames_dropped, Some(s.frames_dropped));
            assert_eq!(*frames, s.run.frames);
        }
        other => panic!("no summary last: {other:?}"),
    }
    assert!(events.iter().any(|e| matches!(e,
        Event::Warning { message, .. } if message.contains("fell behind"))));
}

#[test]
fn an_unplugged_camera_is_retried_and_the_gap_logged() {
    let produced = Arc::new(Mutex::new(0));
    let opens = Arc::new(Mutex::new(0u32));
    let (p, o) = (produced.clone(), opens.clone());
    let opener: Box<dyn CameraOpener> = Box::new(move || {
        let mut n = o.lock().unwrap();
        *n += 1;
        match *n {
            // Plugged in: 20 frames, then unplugged.
            1 => Ok(Box::new(fake(20, 2, true, &p)) as Box<dyn FrameSource>),
            // Still away for two retries.
            2 | 3 => Err(CameraError::NotFound("no /dev/video0".into())),
            // Back: 20 more frames, then the session ends.
            _ => Ok(Box::new(fake(20, 2, false, &p)) as Box<dyn FrameSource>),
        }
    });
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let s = run_session(
        opener,
        &options(),
        Arc::new(AtomicBool::new(false)),
        &mut emit,
        &mut Headless,
    )
    .expect("session");
    assert_eq!(*opens.lock().unwrap(), 4);
    // Every frame analysed or, on a busy machine, dropped; none lost otherwise.
    assert_eq!(s.run.frames + s.frames_dropped, 40);
    assert_eq!(s.camera_gaps, 1);
    assert!(
        matches!(events.first(), Some(Event::Session { source, .. }) if source == "fake camera")
    );
    let gaps: Vec<(f64, f64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::CameraGap { start_s, end_s } => Some((*start_s, *end_s)),
            _ => None,
        })
        .collect();
    assert_eq!(gaps.len(), 1);
    assert!(gaps[0].1 > gaps[0].0, "{gaps:?}");
    assert!(events.iter().any(|e| matches!(e,
        Event::Warning { message, .. } if message.contains("camera lost"))));
    // The closure severity's minute line goes out through the same sink, just before the
    // summary, and counts observed time as the summary does (the gap left out).
    let n = events.len();
    match (&events[n - 2], summary(&events)) {
        (Event::Minute(m), Some(Event::Summary { observed_s, .. })) => {
            assert_eq!(m.observed_s, *observed_s, "{m:?}");
            assert_eq!((m.start_s, m.end_s), (0.0, 60.0));
        }
        other => panic!("no minute line before the summary: {other:?}"),
    }
}

#[test]
fn a_camera_that_cannot_start_logs_nothing() {
    let opener: Box<dyn CameraOpener> =
        Box::new(|| Err(CameraError::Busy("Device or resource busy".into())));
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let r = run_session(
        opener,
        &options(),
        Arc::new(AtomicBool::new(false)),
        &mut emit,
        &mut Headless,
    );
    match r {
        Err(LiveError::Start(e)) => {
            let msg = e.to_string();
            assert!(
                msg.contains("busy") && msg.contains("another application"),
                "{msg}"
            );
        }
        other => panic!("expected a start error, got {other:?}"),
    }
    assert!(events.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------------

/// Waits until the log holds a line satisfying `pred` (or panics after `limit`, or as soon as
/// the child exits).
fn wait_for(
    child: &mut std::process::Child,
    path: &Path,
    limit: Duration,
    pred: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let t0 = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("twitchwatch live exited early ({status}): {err}");
        }
        if let Ok(text) = std::fs::read_to_string(path) {
            let log = read_log_str(&text);
            if log.events.iter().any(&pred) {
                return log.events;
            }
        }
        assert!(
            t0.elapsed() < limit,
            "timed out waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: plain kill(2) on our own child process.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

fn finish(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("twitchwatch live did not stop after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status, err)
}

#[test]
fn sigint_flushes_the_log_and_writes_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.events.jsonl");
    // An earlier session's line: appended to, never truncated.
    std::fs::write(
        &log,
        "{\"kind\":\"warning\",\"t_s\":0.0,\"message\":\"earlier\"}\n",
    )
    .expect("seed log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args(["live", "--no-preview", "--simulate"])
        .arg(sample("clonic_left.mp4"))
        .arg("--events")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The clip's first twitch closes about 6 s in: stop once it is on disk.
    wait_for(&mut child, &log, Duration::from_secs(60), |e| {
        matches!(e, Event::Twitch(_))
    });
    signal(&child, libc::SIGINT);
    let (status, stderr) = finish(child);
    assert!(status.success(), "exit {status:?}: {stderr}");
    let text = std::fs::read_to_string(&log).expect("log");
    let events = read_log_str(&text).events;
    assert!(matches!(&events[0], Event::Warning { message, .. } if message == "earlier"));
    assert!(matches!(&events[1], Event::Session { source, .. } if source.contains("simulated")));
    let tw = events
        .iter()
        .find_map(Event::as_twitch)
        .expect("a twitch event");
    let wall = tw.wall_end.as_deref().unwrap_or_default();
    // RFC 3339 with milliseconds and a UTC offset: 2026-01-02T03:04:05.678+01:00
    assert_eq!(wall.len(), 29, "{wall}");
    assert!(wall.as_bytes()[10] == b'T' && matches!(wall.as_bytes()[23], b'+' | b'-'));
    match events.last() {
        Some(Event::Summary {
            frames,
            frames_dropped,
            twitches_left,
            ..
        }) => {
            assert!(*frames > 30);
            assert!(frames_dropped.is_some());
            assert!(*twitches_left >= 1);
        }
        other => panic!("no summary line last: {other:?}"),
    }
    assert!(stderr.contains("twitchwatch live:"), "{stderr}");
    #[cfg(unix)]
    {
        // Only the owner may read health data; a fresh log is created that way.
        use std::os::unix::fs::PermissionsExt;
        let fresh = dir.path().join("fresh.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
            .args(["live", "--no-preview", "--simulate"])
            .arg(sample("tonic_right.mp4"))
            .arg("--events")
            .arg(&fresh)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        wait_for(&mut child, &fresh, Duration::from_secs(30), |e| {
            matches!(e, Event::Session { .. })
        });
        signal(&child, libc::SIGINT);
        let (status, stderr) = finish(child);
        assert!(status.success(), "{stderr}");
        let mode = std::fs::metadata(&fresh)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let events = read_log_str(&std::fs::read_to_string(&fresh).expect("log")).events;
        assert!(summary(&events).is_some());
    }
}

#[test]
fn without_a_display_it_runs_headless_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("headless.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args(["live", "--loop", "--simulate"])
        .arg(sample("distractors_only.mp4"))
        .arg("--events")
        .arg(&log)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for(&mut child, &log, Duration::from_secs(30), |e| {
        matches!(e, Event::Session { .. })
    });
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGTERM);
    let (status, stderr) = finish(child);
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("running headless"), "{stderr}");
    let events = read_log_str(&std::fs::read_to_string(&log).expect("log")).events;
    assert!(summary(&events).is_some());
}

#[test]
fn a_missing_clip_is_a_plain_error_and_creates_no_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("none.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args([
            "live",
            "--no-preview",
            "--simulate",
            "no-such-clip.mp4",
            "--events",
        ])
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-clip.mp4: file not found"), "{err}");
    assert!(!log.exists());
}

#[test]
fn list_cameras_answers_without_camera_support_missing() {
    // Whatever this machine has: a list, or one line saying there is none. Never an error
    // about the build.
    let out = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args(["live", "--list-cameras"])
        .env("LD_PRELOAD", "")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("feature"), "{err}");
    assert!(
        !listed.is_empty() || err.contains("no camera found"),
        "{err}"
    );
}

/// Panics at its `n`th frame: a bug on the analysis side of a live session.
struct PanickingView(u32);

impl LiveView for PanickingView {
    fn show(&mut self, _: &View) -> bool {
        self.0 = self.0.saturating_sub(1);
        assert!(self.0 > 0, "preview bug");
        true
    }
    fn idle(&mut self) -> bool {
        true
    }
}

#[test]
fn a_panic_in_the_analysis_ends_the_session_with_the_error_in_the_summary() {
    let produced = Arc::new(Mutex::new(0));
    let opener = opens_once(fake(1000, 2, false, &produced));
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let r = run_session(
        opener,
        &options(),
        Arc::new(AtomicBool::new(false)),
        &mut emit,
        &mut PanickingView(5),
    );
    // Ended at the bug, not after the camera's 1000 frames (nor never).
    assert!(*produced.lock().unwrap() < 1000);
    let message = match r {
        Err(LiveError::Analysis(m)) => m,
        other => panic!("expected an analysis error, got {other:?}"),
    };
    // The fifth frame analysed: index 4, or later when older frames were dropped on the way
    // (the camera streams every 2 ms into a drop-oldest queue).
    let frame: u64 = message
        .split("internal error at frame ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame number: {message}"));
    assert!(frame >= 4, "{message}");
    assert!(message.contains("preview bug"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    match summary(&events) {
        Some(Event::Summary { error: Some(e), .. }) => assert_eq!(e, &message),
        other => panic!("no summary with the error: {other:?}"),
    }
}
