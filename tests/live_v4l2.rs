//! The real webcam path end to end: the real binary, nokhwa and v4l with mmap streaming,
//! against an emulated V4L2 camera (tools/fake-v4l2, loaded with LD_PRELOAD) that streams a
//! clip converted beforehand. Covers listing, format negotiation, events matching `analyze`
//! of the same clip, unplug -> camera_gap -> resume, a busy camera, and SIGTERM.
//!
//! The emulated camera is built here with cargo (it is a workspace member); when that is not
//! possible (no cargo at test time, not Linux) the tests skip with a note.

#![cfg(target_os = "linux")]

mod common;
use common::sample;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use twitchwatch::outputs::events::{Event, read_log_str};

struct Fake {
    preload: PathBuf,
    frames_tool: PathBuf,
    cache: PathBuf,
}

/// Builds the emulated camera once per test run (same profile and target folder as the tests).
fn fake() -> Option<&'static Fake> {
    static FAKE: OnceLock<Option<Fake>> = OnceLock::new();
    FAKE.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        // target/<profile>/deps/live_v4l2-HASH
        let profile_dir = exe.parent()?.parent()?.to_path_buf();
        let target = profile_dir.parent()?.to_path_buf();
        let release = profile_dir.file_name()? == "release";
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "fake-v4l2", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target);
        if release {
            cmd.arg("--release");
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("note: could not build the emulated camera ({other:?}); skipping");
                return None;
            }
        }
        let cache = profile_dir.join("fake-v4l2-cache");
        std::fs::create_dir_all(&cache).ok()?;
        Some(Fake {
            preload: profile_dir.join("libfake_v4l2.so"),
            frames_tool: profile_dir.join("fake-v4l2-frames"),
            cache,
        })
    })
    .as_ref()
}

/// A name no other conversion of this test run (threads, processes) uses.
fn unique() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

impl Fake {
    /// The clip converted to `format`, made once and kept beside the build.
    fn frames(&self, clip: &Path, format: &str, max_frames: u32) -> PathBuf {
        let stem = clip.file_stem().unwrap().to_string_lossy();
        let out = self.cache.join(format!("{stem}-{max_frames}.{format}"));
        if !out.exists() {
            let tmp = self
                .cache
                .join(format!("{stem}-{max_frames}.{format}.{}", unique()));
            let st = Command::new(&self.frames_tool)
                .arg(clip)
                .arg(&tmp)
                .arg(format)
                .arg(max_frames.to_string())
                .status()
                .expect("run fake-v4l2-frames");
            assert!(st.success(), "converting {} to {format}", clip.display());
            // Tests converting the same clip at once: the last rename wins, same bytes.
            std::fs::rename(&tmp, &out).expect("rename frames");
        }
        out
    }

    /// `twitchwatch ARGS` with the emulated camera streaming `frames` (offered in order).
    fn command(&self, frames: &[&Path], faults: &str, args: &[&str]) -> Command {
        let list: Vec<String> = frames.iter().map(|p| p.display().to_string()).collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_twitchwatch"));
        cmd.args(args)
            .env("LD_PRELOAD", &self.preload)
            .env("FAKE_V4L2_FRAMES", list.join(":"))
            .env("FAKE_V4L2_FAULTS", faults)
            .env("FAKE_V4L2_VERBOSE", "1")
            .env_remove("DISPLAY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// stderr read on a thread, so that a chatty child never blocks on a full pipe.
struct Running {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn spawn(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().expect("spawn twitchwatch");
    let mut pipe = child.stderr.take().expect("stderr");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = stderr.clone();
    let reader = std::thread::Builder::new()
        .name("stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
        .expect("thread");
    Running {
        child,
        stderr,
        reader: Some(reader),
    }
}

impl Running {
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the log holds an event satisfying `pred`.
    fn wait_log(&mut self, log: &Path, limit: Duration, pred: impl Fn(&Event) -> bool) {
        let t0 = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("twitchwatch exited early ({status}): {}", self.stderr());
            }
            if let Ok(text) = std::fs::read_to_string(log)
                && read_log_str(&text).events.iter().any(&pred)
            {
                return;
            }
            assert!(t0.elapsed() < limit, "timed out; stderr: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_stderr(&mut self, needle: &str, limit: Duration) {
        let t0 = Instant::now();
        while !self.stderr().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("twitchwatch exited early ({status}): {}", self.stderr());
            }
            assert!(t0.elapsed() < limit, "no {needle:?} in: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: plain kill(2) on our own child process.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Ends the session as a user's Ctrl-C or a service manager would (SIGTERM) and asserts
    /// a clean exit; returns stderr.
    fn stop(self) -> String {
        self.signal(libc::SIGTERM);
        let (status, err) = self.finish(Duration::from_secs(20));
        assert!(status.success(), "{err}");
        err
    }

    /// Waits for the exit (killing it after `limit`); returns the status and stderr.
    fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if t0.elapsed() > limit {
                let _ = self.child.kill();
                panic!("twitchwatch did not stop: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.stderr())
    }
}

fn events(log: &Path) -> Vec<Event> {
    read_log_str(&std::fs::read_to_string(log).expect("read log")).events
}

fn session_source(events: &[Event]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            Event::Session { source, .. } => Some(source.clone()),
            _ => None,
        })
        .expect("a session line")
}

fn twitches(events: &[Event]) -> Vec<(f64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Twitch(t) => Some((t.start_s, t.side.as_str().to_string())),
            _ => None,
        })
        .collect()
}

const LIVE: [&str; 2] = ["live", "--no-preview"];

#[test]
fn list_cameras_shows_the_emulated_camera() {
    let Some(f) = fake() else { return };
    let frames = f.frames(&sample("clonic_left.mp4"), "yuyv", 30);
    let out = f
        .command(&[&frames], "", &["live", "--list-cameras"])
        .output()
        .expect("run");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains("0: Fake Webcam (fake-v4l2) (Video4Linux Device @ /dev/video0)"),
        "{listed}"
    );
}

/// Streams `frames` until the session line is written, then SIGTERM: returns the source
/// the session line names.
fn negotiated(f: &Fake, frames: &[&Path], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let mut args: Vec<&str> = LIVE.to_vec();
    args.extend_from_slice(extra);
    let log_s = log.to_str().unwrap();
    args.extend_from_slice(&["--events", log_s]);
    let mut run = spawn(f.command(frames, "", &args));
    run.wait_log(&log, Duration::from_secs(60), |e| {
        matches!(e, Event::Session { .. })
    });
    run.stop();
    session_source(&events(&log))
}

#[test]
fn formats_yuyv_preferred_then_nv12_then_mjpeg_and_the_nearest_size() {
    let Some(f) = fake() else { return };
    let clip = sample("clonic_left.mp4");
    let yuyv = f.frames(&clip, "yuyv", 60);
    let nv12 = f.frames(&clip, "nv12", 60);
    let mjpeg = f.frames(&clip, "mjpeg", 60);
    // Offered MJPEG first: YUYV is still taken (luma without decoding).
    let s = negotiated(f, &[&mjpeg, &yuyv], &[]);
    assert!(s.contains("YUYV 480x360"), "{s}");
    let s = negotiated(f, &[&mjpeg, &nv12], &[]);
    assert!(s.contains("NV12 480x360"), "{s}");
    // MJPEG only: decoded to luma.
    let s = negotiated(f, &[&mjpeg], &[]);
    assert!(s.contains("MJPEG 480x360"), "{s}");
    // A resolution and rate the camera lacks: the nearest it has.
    let s = negotiated(f, &[&yuyv], &["--resolution", "1280x720", "--fps", "60"]);
    assert!(s.contains("YUYV 480x360 30 fps"), "{s}");
}

/// The lost-frame lines the emulated camera writes (a frame came with no buffer queued: the
/// capture thread was not scheduled in time).
fn camera_losses(stderr: &str) -> usize {
    stderr.matches("lost: no buffer queued").count()
}

/// One clip streamed whole through the emulated camera (unplugged after its last frame,
/// then SIGINT): the live log and the frames lost on the way (by the camera for want of a
/// queued buffer, or dropped by the analysis falling behind).
fn stream_clip(f: &Fake, frames: &Path, mirrored: bool) -> (Vec<Event>, u64, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let log_s = log.to_str().unwrap();
    let mut args = vec!["live", "--no-preview", "--events", log_s];
    if mirrored {
        args.push("--mirrored");
    }
    // After the clip the camera is unplugged: the session waits for it until stopped.
    let mut run = spawn(f.command(&[frames], "end=unplug", &args));
    run.wait_stderr("camera lost", Duration::from_secs(180));
    run.signal(libc::SIGINT);
    let (status, err) = run.finish(Duration::from_secs(20));
    assert!(status.success(), "{err}");
    let live = events(&log);
    let dropped = live.iter().find_map(|e| match e {
        Event::Summary { frames_dropped, .. } => *frames_dropped,
        _ => None,
    });
    let lost = camera_losses(&err) as u64 + dropped.unwrap_or(0);
    (live, lost, err)
}

/// The events `analyze` finds in `clip`: the golden log for the bundled samples (the golden
/// tests keep it equal to `analyze`), else `analyze` run now.
fn analyzed(clip: &Path, mirrored: bool) -> Vec<Event> {
    let stem = clip.file_stem().unwrap().to_string_lossy();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{stem}.events.jsonl"));
    if clip.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_videos"))
        && golden.exists()
    {
        return events(&golden);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("analyze.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args(["analyze", "-q", "--events"])
        .arg(&log)
        .args(mirrored.then_some("--mirrored"))
        .arg(clip)
        .output()
        .expect("run analyze");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&log)
}

/// The camera's clock: a live log's times count from the camera's first frame, by its
/// buffer timestamps (never wall-clock arrival), and `recorded` is that frame's wall time.
fn check_wall_clock(live: &[Event]) {
    let (recorded, first) = live
        .iter()
        .find_map(|e| match e {
            Event::Session {
                recorded, settings, ..
            } => Some((recorded.clone(), settings["first_frame_s"].as_f64())),
            _ => None,
        })
        .expect("a session line");
    let recorded: jiff::Timestamp = recorded
        .expect("recorded: the first frame's wall time")
        .parse()
        .expect("RFC 3339");
    assert!(first.is_some_and(|s| s >= 0.0), "first_frame_s {first:?}");
    for e in live {
        if let Event::Twitch(t) = e {
            let wall: jiff::Timestamp = t
                .wall_start
                .as_deref()
                .expect("wall_start")
                .parse()
                .unwrap();
            let d = wall.duration_since(recorded).as_secs_f64() - t.start_s;
            assert!(
                d.abs() <= 0.0015,
                "wall_start {wall} is not recorded {recorded} + {} s",
                t.start_s
            );
        }
    }
}

#[test]
fn events_through_the_camera_match_analyze_of_the_same_clip() {
    let Some(f) = fake() else { return };
    let mut clips: Vec<(PathBuf, &str)> = [
        ("clonic_left.mp4", "yuyv"),
        ("tonic_right.mp4", "nv12"),
        ("mixed.mp4", "nv12"),
        ("distractors_only.mp4", "nv12"),
    ]
    .into_iter()
    .map(|(c, fmt)| (sample(c), fmt))
    .collect();
    // A real face, twitches on both sides.
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/clips/winks.mp4");
    if real.exists() {
        clips.push((real, "nv12"));
    } else {
        eprintln!("note: ../shared/clips is not beside the project: sample clips only");
    }
    let mut compared = 0;
    for (clip, fmt) in &clips {
        let name = clip.file_name().unwrap().to_string_lossy();
        // Mirrored views (the labels say so) are analysed as such, live and in `analyze`.
        let labels = clip.with_extension("labels.json");
        let mirrored = std::fs::read_to_string(&labels)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|l| l["mirrored"] == true);
        // One at a time, each in real time: a clip whose frames were lost on a busy machine
        // is streamed again once, then reported rather than compared.
        let frames = f.frames(clip, fmt, u32::MAX);
        let mut run = stream_clip(f, &frames, mirrored);
        if run.1 > 0 {
            run = stream_clip(f, &frames, mirrored);
        }
        let (live, lost, err) = run;
        check_wall_clock(&live);
        let got = twitches(&live);
        let want = twitches(&analyzed(clip, mirrored));
        if lost > 0 {
            eprintln!(
                "note: {name}: {lost} frames were lost to scheduling on a busy machine; not \
                 compared (live {got:?}, analyze {want:?})"
            );
            continue;
        }
        compared += 1;
        let fps = live
            .iter()
            .find_map(|e| match e {
                Event::Session { source, .. } => source
                    .split_whitespace()
                    .rev()
                    .nth(1)
                    .and_then(|n| n.parse::<f64>().ok()),
                _ => None,
            })
            .unwrap_or(30.0);
        let frame = 1.0 / fps + 1e-3;
        assert_eq!(
            got.len(),
            want.len(),
            "{name}: live {got:?} analyze {want:?}; {err}"
        );
        for ((a, sa), (b, sb)) in got.iter().zip(&want) {
            assert_eq!(sa, sb, "{name}: live {got:?} analyze {want:?}");
            assert!(
                (a - b).abs() <= frame,
                "{name}: onset {a} against {b}: live {got:?} analyze {want:?}"
            );
        }
        eprintln!("{name}: {} twitches, as analyze", got.len());
    }
    eprintln!("{compared} of {} clips compared", clips.len());
}

#[test]
fn an_unplugged_camera_becomes_a_camera_gap_and_the_session_resumes() {
    let Some(f) = fake() else { return };
    let yuyv = f.frames(&sample("clonic_left.mp4"), "yuyv", 150);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let log_s = log.to_str().unwrap();
    // Unplugged when frame 45 is due, back 1.5 s later.
    let mut run = spawn(f.command(
        &[&yuyv],
        "unplug@45+1500",
        &["live", "--no-preview", "--events", log_s],
    ));
    run.wait_log(&log, Duration::from_secs(90), |e| {
        matches!(e, Event::CameraGap { .. })
    });
    run.wait_stderr("camera back after", Duration::from_secs(30));
    // Frames flow again: let some be analysed, then stop.
    std::thread::sleep(Duration::from_secs(1));
    let err = run.stop();
    assert!(err.contains("camera lost"), "{err}");
    let ev = events(&log);
    let (gs, ge) = ev
        .iter()
        .find_map(|e| match e {
            Event::CameraGap { start_s, end_s } => Some((*start_s, *end_s)),
            _ => None,
        })
        .expect("camera_gap");
    assert!(ge - gs >= 1.4, "gap {gs}..{ge}");
    match ev.last() {
        Some(Event::Summary { duration_s, .. }) => assert!(*duration_s > ge, "{ev:?}"),
        other => panic!("no summary last: {other:?}"),
    }
    assert!(err.contains("1 camera gaps"), "{err}");
}

#[test]
fn a_busy_camera_is_one_clear_line_naming_the_cause_and_how_to_share() {
    let Some(f) = fake() else { return };
    let yuyv = f.frames(&sample("clonic_left.mp4"), "yuyv", 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let out = f
        .command(
            &[&yuyv],
            "busy",
            &["live", "--no-preview", "--events", log.to_str().unwrap()],
        )
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("the camera is busy"), "{line}");
    assert!(line.contains("v4l2loopback"), "{line}");
    assert!(!log.exists(), "a camera that cannot start leaves no log");
}

#[test]
fn sigterm_ends_a_camera_session_with_the_summary_line() {
    let Some(f) = fake() else { return };
    let yuyv = f.frames(&sample("clonic_left.mp4"), "yuyv", 60);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let log_s = log.to_str().unwrap();
    let mut run = spawn(f.command(&[&yuyv], "", &["live", "--no-preview", "--events", log_s]));
    run.wait_log(&log, Duration::from_secs(60), |e| {
        matches!(e, Event::Session { .. })
    });
    let err = run.stop();
    assert!(err.contains("twitchwatch live: "), "{err}");
    assert!(matches!(events(&log).last(), Some(Event::Summary { .. })));
}

#[test]
fn a_stalled_camera_becomes_a_gap_not_a_hang() {
    let Some(f) = fake() else { return };
    let yuyv = f.frames(&sample("clonic_left.mp4"), "yuyv", 150);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let log_s = log.to_str().unwrap();
    // No frame for 4 s from frame 30: the read times out, the camera is reopened.
    let mut run = spawn(f.command(
        &[&yuyv],
        "stall@30+4000",
        &["live", "--no-preview", "--events", log_s],
    ));
    run.wait_log(&log, Duration::from_secs(90), |e| {
        matches!(e, Event::CameraGap { .. })
    });
    run.signal(libc::SIGINT);
    let (status, err) = run.finish(Duration::from_secs(20));
    assert!(status.success(), "{err}");
    assert!(matches!(events(&log).last(), Some(Event::Summary { .. })));
}

/// A virtual X display (Xvfb) for the preview, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts Xvfb on a free display number; `None` (with a note) when it is not installed.
    fn start() -> Option<Xvfb> {
        let mut child = match Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("note: no Xvfb ({e}): preview test skipped (.ci/run installs xvfb)");
                return None;
            }
        };
        // Xvfb writes its display number once it accepts clients.
        let mut out = child.stdout.take().expect("stdout");
        let mut number = String::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            number.push(byte[0] as char);
        }
        if number.trim().is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("note: Xvfb did not start: preview test skipped");
            return None;
        }
        Some(Xvfb {
            child,
            display: format!(":{}", number.trim()),
        })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_preview_shows_the_camera_under_xvfb_and_sigterm_ends_it_with_the_summary() {
    let Some(f) = fake() else { return };
    let Some(x) = Xvfb::start() else { return };
    let yuyv = f.frames(&sample("clonic_left.mp4"), "yuyv", 150);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let log_s = log.to_str().unwrap();
    let mut cmd = f.command(&[&yuyv], "", &["live", "--camera", "0", "--events", log_s]);
    cmd.env("DISPLAY", &x.display);
    let mut run = spawn(cmd);
    run.wait_log(&log, Duration::from_secs(60), |e| {
        matches!(e, Event::Session { .. })
    });
    // Let it show frames for a few seconds (nothing here depends on how many).
    std::thread::sleep(Duration::from_secs(3));
    // The window is on the display, when the X utilities are there to look.
    if let Ok(out) = Command::new("xwininfo")
        .args(["-root", "-tree", "-display", &x.display])
        .output()
    {
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            tree.contains("twitchwatch live"),
            "no preview window: {tree}"
        );
    }
    let err = run.stop();
    assert!(!err.contains("no preview window"), "{err}");
    let summary = err
        .lines()
        .find(|l| l.starts_with("twitchwatch live: "))
        .unwrap_or_else(|| panic!("no summary line: {err}"));
    let drawn: u64 = summary
        .split_once(" preview frames drawn")
        .and_then(|(before, _)| before.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| panic!("no preview frame count: {summary}"));
    assert!(drawn > 0, "{summary}");
    let ev = events(&log);
    match ev.first() {
        Some(Event::Session { settings, .. }) => assert_eq!(settings["preview"], true),
        other => panic!("no session line first: {other:?}"),
    }
    assert!(matches!(ev.last(), Some(Event::Summary { .. })), "{ev:?}");
}

#[test]
fn a_slow_analysis_drops_the_oldest_camera_frames_and_counts_them() {
    let Some(f) = fake() else { return };
    let yuyv = f.frames(&sample("clonic_left.mp4"), "yuyv", 300);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("live.jsonl");
    let trace = dir.path().join("trace.csv");
    let (log_s, trace_s) = (log.to_str().unwrap(), trace.to_str().unwrap());
    // 80 ms per frame against a frame every 33 ms: more than half the frames must go.
    let mut run = spawn(f.command(
        &[&yuyv],
        "",
        &[
            "live",
            "--no-preview",
            "--events",
            log_s,
            "--debug-trace",
            trace_s,
            "--test-slow-analysis-ms",
            "80",
        ],
    ));
    run.wait_log(
        &log,
        Duration::from_secs(60),
        |e| matches!(e, Event::Warning { message, .. } if message.contains("fell behind")),
    );
    std::thread::sleep(Duration::from_secs(2));
    let err = run.stop();
    // The log is whole: every line reads, the summary is last and counts the drops.
    let text = std::fs::read_to_string(&log).expect("log");
    let read = read_log_str(&text);
    assert_eq!(read.events.len(), text.lines().count(), "{text}");
    let (frames, dropped) = match read.events.last() {
        Some(Event::Summary {
            frames,
            frames_dropped: Some(d),
            ..
        }) => (*frames, *d),
        other => panic!("no summary with frames_dropped last: {other:?}"),
    };
    assert!(
        dropped > 0 && frames > 0,
        "{frames} analysed, {dropped} dropped"
    );
    assert!(err.contains(&format!("{dropped} frames dropped")), "{err}");
    // The frames analysed are the newest: each one's index (frames the camera delivered)
    // skips the frames dropped before it; those dropped while the last one was analysed
    // (a few, more on a loaded machine) are counted but skip nothing.
    let trace = std::fs::read_to_string(&trace).expect("trace");
    let indices: Vec<u64> = trace
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().expect("frame index"))
        .collect();
    assert_eq!(indices.len() as u64, frames);
    let skipped: u64 = indices.windows(2).map(|w| w[1] - w[0] - 1).sum();
    assert!(
        skipped > 0 && skipped <= dropped,
        "skipped {skipped}, dropped {dropped}"
    );
    assert!(
        2 * skipped >= dropped,
        "skipped {skipped}, dropped {dropped}"
    );
}
