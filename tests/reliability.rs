//! Reliability: odd video content (no face, black frames, a frozen picture, a frame size that
//! changes, timestamps that step backwards, a decoder that panics) gives sensible output and a
//! warning, never a panic; kill -9 during `analyze` and `live` leaves a valid log with every
//! event closed before the kill; a full disk stops the run without corrupting the log.

mod common;
use common::{bin, sample};

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use twitchwatch::analysis::pipeline::{self, RunError};
use twitchwatch::outputs::events::{Event, read_log, read_log_str};
use twitchwatch::source::{Frame, FrameSource, SourceError, SourceInfo};
use twitchwatch::test_support::analyze_options;
use twitchwatch::test_support::synth_frames;

/// Plays prepared frames, optionally panicking once they run out (a decoder bug).
struct Frames {
    info: SourceInfo,
    frames: std::vec::IntoIter<Frame>,
    panic_at_end: bool,
}

impl FrameSource for Frames {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        match self.frames.next() {
            Some(f) => Ok(Some(f)),
            None if self.panic_at_end => panic!("index out of bounds in a decoder"),
            None => Ok(None),
        }
    }
}

fn run_frames(frames: Vec<Frame>, panic_at_end: bool) -> (Vec<Event>, Result<(), RunError>) {
    let src = Box::new(Frames {
        info: SourceInfo::default(),
        frames: frames.into_iter(),
        panic_at_end,
    });
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let r = pipeline::run(src, "test", &analyze_options(false), &mut emit, &mut ()).map(|_| ());
    (events, r)
}

fn warnings(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn twitch_count(events: &[Event]) -> usize {
    events.iter().filter(|e| e.as_twitch().is_some()).count()
}

/// Frames at 30 fps with consecutive indices and times.
fn renumber(mut frames: Vec<Frame>) -> Vec<Frame> {
    for (i, f) in frames.iter_mut().enumerate() {
        f.index = i as u64;
        f.pts_s = i as f64 / 30.0;
    }
    frames
}

#[test]
fn black_frames_say_no_face_was_found() {
    let frames = renumber(
        (0..90)
            .map(|_| Frame {
                index: 0,
                pts_s: 0.0,
                width: 320,
                height: 240,
                luma: vec![0; 320 * 240],
            })
            .collect(),
    );
    let (events, r) = run_frames(frames, false);
    assert!(r.is_ok());
    assert_eq!(twitch_count(&events), 0);
    let w = warnings(&events);
    assert!(w.iter().any(|m| m.contains("no face was found")), "{w:?}");
    // Black frames are also one frozen picture.
    assert!(w.iter().any(|m| m.contains("did not change")), "{w:?}");
    assert!(matches!(events.last(), Some(Event::Summary { .. })));
}

#[test]
fn a_frozen_picture_is_reported_with_its_interval() {
    let mut frames = synth_frames(320, 240, 110.0, 30, 3);
    let still = frames[29].clone();
    frames.extend(std::iter::repeat_n(still, 90));
    frames.extend(synth_frames(320, 240, 110.0, 60, 3).into_iter().skip(30));
    let (events, r) = run_frames(renumber(frames), false);
    assert!(r.is_ok());
    let w = warnings(&events);
    let frozen: Vec<_> = w.iter().filter(|m| m.contains("did not change")).collect();
    assert_eq!(frozen.len(), 1, "{w:?}");
    // Frozen from frame 29 (0.97 s) to frame 120 (4.0 s).
    assert!(frozen[0].contains("from 1.0 s to 4.0 s"), "{}", frozen[0]);
    assert_eq!(twitch_count(&events), 0);
}

#[test]
fn a_change_of_frame_size_is_reported_and_tracking_starts_afresh() {
    let mut frames = synth_frames(320, 240, 110.0, 45, 4);
    frames.extend(synth_frames(480, 360, 160.0, 45, 4));
    let (events, r) = run_frames(renumber(frames), false);
    assert!(r.is_ok());
    let w = warnings(&events);
    assert!(
        w.iter()
            .any(|m| m.contains("frame size changed from 320x240 to 480x360")),
        "{w:?}"
    );
    assert!(matches!(
        events.last(),
        Some(Event::Summary { frames: 90, .. })
    ));
}

#[test]
fn timestamps_that_step_backwards_are_repaired_and_reported() {
    let mut frames = renumber(synth_frames(320, 240, 110.0, 150, 5));
    // The clock jumps back 2 s at frame 60 (a concatenated or badly muxed file).
    for f in frames.iter_mut().skip(60) {
        f.pts_s -= 2.0;
    }
    let (events, r) = run_frames(frames, false);
    assert!(r.is_ok());
    let w = warnings(&events);
    assert!(
        w.iter()
            .any(|m| m.contains("timestamps do not increase at frame 60")),
        "{w:?}"
    );
    // Event times never go backwards.
    let mut last = f64::NEG_INFINITY;
    for e in &events {
        if let Some((a, b)) = e
            .gap()
            .or_else(|| e.as_twitch().map(|t| (t.start_s, t.end_s)))
        {
            assert!(a <= b && a >= last - 1e-9, "{e:?} after {last}");
            last = a;
        }
    }
    match events.last() {
        Some(Event::Summary { duration_s, .. }) => assert!(*duration_s >= 4.9, "{duration_s}"),
        other => panic!("no summary: {other:?}"),
    }
}

#[test]
fn a_panicking_decoder_stops_the_run_with_an_error_and_a_summary() {
    let frames = renumber(synth_frames(320, 240, 110.0, 30, 6));
    let (events, r) = run_frames(frames, true);
    let err = r.expect_err("a decoder panic is an error");
    assert!(
        err.to_string().contains("decoder stopped unexpectedly"),
        "{err}"
    );
    match events.last() {
        Some(Event::Summary { error, frames, .. }) => {
            assert_eq!(*frames, 30);
            assert!(
                error
                    .as_deref()
                    .unwrap_or("")
                    .contains("index out of bounds")
            );
        }
        other => panic!("no summary: {other:?}"),
    }
}

/// A bug on the analysis thread (here an observer that panics at frame 20) stops the run
/// with an error naming the frame, and the summary line is still written.
#[test]
fn a_panic_in_the_analysis_stops_the_run_with_its_frame_and_a_summary() {
    struct Bomb;
    impl pipeline::FrameObserver for Bomb {
        fn frame(
            &mut self,
            s: &twitchwatch::test_support::FrameSignals,
            _: &twitchwatch::test_support::Activity,
        ) {
            assert!(s.index != 20, "a bug at frame 20");
        }
    }
    let src = Box::new(Frames {
        info: SourceInfo::default(),
        frames: renumber(synth_frames(320, 240, 110.0, 30, 6)).into_iter(),
        panic_at_end: false,
    });
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let err = pipeline::run(src, "test", &analyze_options(false), &mut emit, &mut Bomb)
        .expect_err("a panic is an error");
    let text = err.to_string();
    assert!(
        text.contains("internal error at frame 20") && text.contains("a bug at frame 20"),
        "{text}"
    );
    match events.last() {
        Some(Event::Summary { error, frames, .. }) => {
            assert_eq!(*frames, 21);
            assert!(error.as_deref().unwrap_or("").contains("a bug at frame 20"));
        }
        other => panic!("no summary: {other:?}"),
    }
}

// ---- the real binary ----

/// Waits (at most `limit`) until the file holds a twitch line.
fn wait_for_twitch(log: &Path, child: &mut std::process::Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains("\"kind\":\"twitch\"")) {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before its first twitch was on disk");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// SIGKILL: no chance to clean up, as in a crash or a killed terminal.
fn kill9(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// What every reader of the log must accept after a crash: every complete line parses.
fn check_log_after_crash(log: &Path) -> Vec<Event> {
    let contents = read_log(log).expect("the log is readable");
    // A half-written last line is the only thing a kill may leave.
    assert!(
        contents.warnings.iter().all(|w| w.contains("incomplete")),
        "{:?}",
        contents.warnings
    );
    assert!(matches!(
        contents.events.first(),
        Some(Event::Session { .. })
    ));
    contents.events
}

#[test]
fn kill_9_during_analyze_keeps_every_closed_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("clonic.events.jsonl");
    let mut child = bin()
        .args(["analyze", "-q", "--events"])
        .arg(&log)
        .arg(sample("clonic_left.mp4"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_twitch(&log, &mut child, Duration::from_secs(60)));
    kill9(&mut child);
    let events = check_log_after_crash(&log);
    assert!(twitch_count(&events) >= 1);
    // A line cut in half by the kill is skipped, with a warning, by every reader.
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(b"{\"kind\":\"twitch\",\"start_s\":9.1,\"end");
    std::fs::write(&log, &bytes).unwrap();
    let labels = sample("clonic_left.labels.json");
    let eval = bin()
        .args(["eval", "--labels"])
        .arg(&labels)
        .arg("--events")
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(String::from_utf8_lossy(&eval.stderr).contains("incomplete"));
    let out = dir.path().join("report.html");
    let report = bin()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let compare = bin()
        .args(["compare", "--before"])
        .arg(&log)
        .arg("--after")
        .arg(&log)
        .arg("--out")
        .arg(dir.path().join("compare.html"))
        .output()
        .unwrap();
    assert!(
        compare.status.success(),
        "{}",
        String::from_utf8_lossy(&compare.stderr)
    );
}

#[test]
fn kill_9_during_live_keeps_every_closed_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("live.events.jsonl");
    let mut child = bin()
        .args(["live", "--no-preview", "--simulate"])
        .arg(sample("clonic_left.mp4"))
        .arg("--events")
        .arg(&log)
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first twitch ends at about 2.2 s of the clip, played in real time.
    assert!(wait_for_twitch(&log, &mut child, Duration::from_secs(30)));
    kill9(&mut child);
    let events = check_log_after_crash(&log);
    assert!(twitch_count(&events) >= 1);
    assert!(!matches!(events.last(), Some(Event::Summary { .. })));
}

/// Runs `analyze` with the largest file it may write capped at `limit` bytes (as on a full
/// disk: writes past it fail with "File too large" instead of killing the process).
#[cfg(target_os = "linux")]
fn analyze_with_file_limit(log: &Path, limit: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = bin();
    cmd.args(["analyze", "-q", "--events"])
        .arg(log)
        .arg(sample("clonic_left.mp4"));
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_stops_the_run_with_a_clear_error_and_a_readable_log() {
    let dir = tempfile::tempdir().unwrap();
    // How long the session line and the first twitch are, from an unlimited run.
    let full = dir.path().join("full.events.jsonl");
    let o = analyze_with_file_limit(&full, u64::MAX);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&full).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first_two = lines[0].len() + lines[1].len() + 2;
    // Room for the session line, the first twitch and half of the second line.
    let limit = (first_two + lines[2].len() / 2) as u64;
    let log = dir.path().join("cut.events.jsonl");
    let o = analyze_with_file_limit(&log, limit);
    assert!(!o.status.success(), "a run that cannot write must fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cut.events.jsonl"), "{err}");
    assert!(
        err.to_lowercase().contains("too large") || err.contains("space"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
    // What was written before the disk filled is intact: the same first two lines.
    let written = std::fs::read(&log).unwrap();
    let contents = read_log_str(&String::from_utf8_lossy(&written));
    assert!(
        contents.warnings.iter().all(|w| w.contains("incomplete")),
        "{:?}",
        contents.warnings
    );
    assert!(written.starts_with(&text.as_bytes()[..first_two]));
    assert_eq!(twitch_count(&contents.events), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, failure_persistence: None, ..Default::default() })]
    /// The labels parser (and scoring what it accepts) never panics: arbitrary bytes, and a
    /// real labels file with bytes overwritten at random places.
    #[test]
    fn labels_files_never_panic(
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        edits in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::read(sample("clonic_left.labels.json")).unwrap();
        let mut mutated = real.clone();
        for (at, b) in edits {
            let i = at % mutated.len();
            mutated[i] = b;
        }
        let log = read_log(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/clonic_left.events.jsonl")).unwrap();
        for (name, bytes) in [("noise.labels.json", noise), ("mutated.labels.json", mutated)] {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            if let Ok(labels) = twitchwatch::devtools::eval::load_labels(&p) {
                let s = twitchwatch::devtools::eval::score(&labels, &log.events, &twitchwatch::devtools::eval::EvalParams::default());
                proptest::prop_assert!(s.tp <= labels.events.len() as u64);
            }
        }
    }
}

/// A long run does not drift and does not depend on where a recording is cut: three minutes
/// of looped input give the same twitches in one run as in three one-minute runs (outside
/// each piece's first 10 s, where a fresh analysis is still finding the face and its track
/// has not yet jumped onto a detection, `MotionParams::reset_interval_s`): identical in
/// side, start, end, pattern and regions; and the same number in every loop.
/// `twitchwatch bench --soak 60` does this for an hour.
#[test]
fn a_long_run_matches_the_same_input_in_pieces() {
    let frames = synth_frames(320, 240, 110.0, 600, 3);
    let opts = analyze_options(false);
    let started = Instant::now();
    let c = twitchwatch::test_support::soak_in_pieces(
        frames,
        3 * 60 * 30,
        30.0,
        3,
        10.0,
        0.4,
        &opts,
        &mut (),
    )
    .expect("runs");
    eprintln!(
        "{} twitches long, {} in pieces, {} compared, {} identical, ends up to {:.3} s apart, per loop {:?}, {:.1} s",
        c.long.len(),
        c.pieces.len(),
        c.compared,
        c.identical,
        c.max_end_diff_s,
        c.per_loop,
        started.elapsed().as_secs_f64()
    );
    assert!(c.compared >= 10, "{c:?}");
    assert!(c.mismatches.is_empty(), "{:#?}", c.mismatches);
    assert_eq!(
        c.identical, c.compared,
        "ends {}, patterns {}, regions {} differ",
        c.differ_end, c.differ_pattern, c.differ_regions
    );
    assert!(
        c.per_loop.windows(2).all(|w| w[0] == w[1]),
        "{:?}",
        c.per_loop
    );
}
