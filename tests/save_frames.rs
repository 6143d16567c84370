//! `--save-frames DIR`: off by default (a run leaves nothing but its log), and when asked one
//! owner-only video per twitch, from `analyze` (each clip named) and from a live session.

mod common;
use common::{bin, sample};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use twitchwatch::live::reconnect::{CameraError, CameraOpener};
use twitchwatch::live::simulate::SimulatedCamera;
use twitchwatch::live::{Headless, LiveOptions, run_session};
use twitchwatch::outputs::events::{Event, read_log};
use twitchwatch::source::{FrameSource, open_clip};
use twitchwatch::test_support::analyze_options;

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn frames_in(path: &Path) -> u64 {
    let mut src = open_clip(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut n = 0;
    while src.next_frame().expect("decodes").is_some() {
        n += 1;
    }
    n
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Each twitch in the log has its video, named by its number, start and side, covering it
/// and a second either side (at 30 fps).
fn check_videos(dir: &Path, prefix: &str, twitches: &[(f64, f64, String)]) {
    let names = files_in(dir);
    assert_eq!(names.len(), twitches.len(), "{names:?}");
    for (i, (start, end, side)) in twitches.iter().enumerate() {
        let name = format!("{prefix}twitch-{:04}-{start:.2}s-{side}.mp4", i + 1);
        assert!(names.contains(&name), "{name} not in {names:?}");
        let path = dir.join(&name);
        let n = frames_in(&path) as f64;
        let want = ((end - start) + 2.0) * 30.0;
        assert!(
            (n - want).abs() <= 3.0,
            "{name}: {n} frames, want about {want}"
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    #[cfg(unix)]
    assert_eq!(mode(dir), 0o700);
}

fn twitches(events: &[Event]) -> Vec<(f64, f64, String)> {
    events
        .iter()
        .filter_map(Event::as_twitch)
        .map(|t| (t.start_s, t.end_s, t.side.to_string()))
        .collect()
}

#[test]
fn analyze_stores_no_frame_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["analyze", "-q"])
        .arg(sample("clonic_left.mp4"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files_in(dir.path()), ["clonic_left.events.jsonl"]);
    let log = read_log(&dir.path().join("clonic_left.events.jsonl")).unwrap();
    match &log.events[0] {
        Event::Session { settings, .. } => assert!(settings.get("save_frames").is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn analyze_saves_one_video_per_twitch() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("videos");
    let out = bin()
        .current_dir(dir.path())
        .args(["analyze", "-q", "--save-frames"])
        .arg(&frames)
        .arg(sample("clonic_left.mp4"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = read_log(&dir.path().join("clonic_left.events.jsonl")).unwrap();
    assert!(
        !log.events
            .iter()
            .any(|e| matches!(e, Event::Warning { .. })),
        "{:?}",
        log.events
    );
    match &log.events[0] {
        Event::Session { settings, .. } => assert_eq!(settings["save_frames"], true),
        other => panic!("{other:?}"),
    }
    let tw = twitches(&log.events);
    assert!(tw.len() >= 3, "{tw:?}");
    check_videos(&frames, "clonic_left-", &tw);
}

#[test]
fn an_unusable_folder_fails_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), b"x").unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["analyze", "-q", "--save-frames", "a-file/videos"])
        .arg(sample("clonic_left.mp4"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a-file/videos: cannot save frames there"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(files_in(dir.path()), ["a-file"]);
}

/// A live session (a short synthetic clip as the camera, at its own pace) saves the same
/// kind of videos, named after the session's start.
#[test]
fn live_saves_one_video_per_twitch() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("videos");
    let mut analyze = analyze_options(false);
    analyze.save_frames = Some(twitchwatch::outputs::SaveFramesParams::new(
        frames.clone(),
        String::new(),
        twitchwatch::test_support::Backpressure::DropOldest,
    ));
    let opts = LiveOptions {
        analyze,
        capacity: 1000,
        settings: serde_json::json!({}),
        ..LiveOptions::default()
    };
    let clip_path = dir.path().join("short.y4m");
    let out = bin()
        .args([
            "synth",
            "--duration",
            "7",
            "--twitches",
            "2",
            "--side",
            "left",
        ])
        .args([
            "--distractors",
            "none",
            "--size",
            "320x240",
            "--face-width",
            "140",
            "--out",
        ])
        .arg(&clip_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut clip = Some(SimulatedCamera::open(&clip_path, false, stop.clone()).unwrap());
    let opener: Box<dyn CameraOpener> = Box::new(move || {
        clip.take()
            .map(|c| Box::new(c) as Box<dyn FrameSource>)
            .ok_or_else(|| CameraError::NotFound(String::new()))
    });
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let s = run_session(opener, &opts, stop, &mut emit, &mut Headless).expect("session");
    assert_eq!(s.frames_dropped, 0);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Warning { .. })),
        "{events:?}"
    );
    let tw = twitches(&events);
    assert!(!tw.is_empty(), "{tw:?}");
    let first = files_in(&frames).into_iter().next().unwrap();
    assert!(first.starts_with("live-"), "{first}");
    let prefix = &first[..first.find("twitch-").unwrap()];
    check_videos(&frames, prefix, &tw);
}
