//! The `twitchwatch` binary as a user runs it: sample clips against golden event logs, the
//! real winks clip, and every kind of bad input.
//!
//! Golden logs live in `tests/golden/`; regenerate them with `TWITCHWATCH_BLESS=1 cargo test`.

mod common;
use common::bin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared real clips beside the project, if present.
fn shared_clips() -> Option<PathBuf> {
    let dir = manifest().join("../shared/clips");
    if dir.join("winks.mp4").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: ../shared/clips is not beside the project");
        None
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the twitchwatch binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("event log exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn twitches(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events.iter().filter(|e| e["kind"] == "twitch").collect()
}

/// Asserts a clean one-line error naming `name`, a failure exit, and no panic.
fn assert_clean_error(o: &Output, name: &str, problem: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].contains(name), "error should name {name}: {err}");
    assert!(
        lines[0].to_lowercase().contains(problem),
        "error should say {problem}: {err}"
    );
}

#[test]
fn sample_clips_match_their_golden_event_logs() {
    let bless = std::env::var_os("TWITCHWATCH_BLESS").is_some();
    let dir = tempfile::tempdir().unwrap();
    let samples = manifest().join("sample_videos");
    let mut clips: Vec<PathBuf> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    clips.sort();
    assert!(!clips.is_empty(), "sample_videos/ has clips");
    for clip in clips {
        let stem = clip.file_stem().unwrap().to_string_lossy().into_owned();
        let labels: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(samples.join(format!("{stem}.labels.json"))).unwrap(),
        )
        .unwrap();
        let out = dir.path().join(format!("{stem}.events.jsonl"));
        let mut cmd = bin();
        cmd.arg("analyze")
            .arg(&clip)
            .arg("--events")
            .arg(&out)
            .arg("-q");
        if labels["mirrored"] == true {
            cmd.arg("--mirrored");
        }
        let o = run(&mut cmd);
        assert!(o.status.success(), "{stem}: {}", stderr(&o));
        // The session line names the version and settings: not part of the golden output.
        let got: Vec<serde_json::Value> = read_events(&out)
            .into_iter()
            .filter(|e| e["kind"] != "session")
            .collect();
        let golden = manifest()
            .join("tests/golden")
            .join(format!("{stem}.events.jsonl"));
        if bless {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            let text: String = got.iter().map(|e| format!("{e}\n")).collect();
            std::fs::write(&golden, text).unwrap();
            continue;
        }
        let want = read_events(&golden);
        assert_eq!(
            got,
            want,
            "{stem}: events differ from {} (TWITCHWATCH_BLESS=1 to update)",
            golden.display()
        );
    }
}

#[test]
fn winks_are_found_on_the_persons_sides() {
    let Some(clips) = shared_clips() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("winks.jsonl");
    let o = run(bin()
        .arg("analyze")
        .arg(clips.join("winks.mp4"))
        .arg("--events")
        .arg(&out)
        .arg("-q"));
    assert!(o.status.success(), "{}", stderr(&o));
    let events = read_events(&out);
    let tw = twitches(&events);
    assert_eq!(tw.len(), 2, "{tw:?}");
    // Labelled: left ~0.2-0.9 s, right ~1.1-1.7 s (timing +-0.3 s).
    assert_eq!(tw[0]["side"], "left");
    assert_eq!(tw[1]["side"], "right");
    let start = |t: &serde_json::Value| t["start_s"].as_f64().unwrap();
    assert!(
        (start(tw[0]) - 0.2).abs() <= 0.3 && (start(tw[1]) - 1.1).abs() <= 0.3,
        "{tw:?}"
    );
    assert_eq!(events.first().unwrap()["kind"], "session");
    assert_eq!(events.last().unwrap()["kind"], "summary");
}

#[cfg(unix)]
#[test]
fn event_logs_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("log.jsonl");
    let csv = dir.path().join("log.csv");
    let clip = manifest().join("sample_videos/clonic_left.mp4");
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(&out)
        .arg("--csv")
        .arg(&csv)
        .arg("-q"));
    assert!(o.status.success(), "{}", stderr(&o));
    for p in [&out, &csv] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("start_s,end_s,duration_s,side,regions"),
        "{text}"
    );
    assert_eq!(text.lines().count() - 1, twitches(&read_events(&out)).len());
}

#[test]
fn missing_file() {
    let o = run(bin()
        .args(["analyze", "no_such_clip.mp4", "--events"])
        .arg(tempfile::tempdir().unwrap().path().join("e.jsonl")));
    assert_clean_error(&o, "no_such_clip.mp4", "not found");
}

#[test]
fn text_file_named_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("notes.mp4");
    std::fs::write(&clip, "These are my notes, not a video.\n").unwrap();
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(dir.path().join("e.jsonl")));
    assert_clean_error(&o, "notes.mp4", "not a video");
}

#[test]
fn zero_byte_file() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("empty.mp4");
    std::fs::write(&clip, b"").unwrap();
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(dir.path().join("e.jsonl")));
    assert_clean_error(&o, "empty.mp4", "empty");
}

#[test]
fn unsupported_codec_without_ffmpeg_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("call.webm");
    // EBML magic of a WebM/Matroska file; nothing built in decodes it.
    let mut bytes = vec![0x1A, 0x45, 0xDF, 0xA3];
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&clip, bytes).unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let o = run(bin()
        .env("PATH", empty_path.path())
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(dir.path().join("e.jsonl")));
    assert_clean_error(&o, "call.webm", "ffmpeg");
}

#[test]
fn truncated_mp4_keeps_the_events_found_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read(manifest().join("sample_videos/clonic_left.mp4")).unwrap();
    let clip = dir.path().join("cut.mp4");
    let out = dir.path().join("cut.jsonl");
    // Keep the movie header (written first by our muxer? not necessarily): cut the media
    // data short wherever it is, at 70% of the file.
    std::fs::write(&clip, &src[..src.len() * 7 / 10]).unwrap();
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(&out)
        .arg("-q"));
    let err = stderr(&o);
    assert!(!o.status.success() && !err.contains("panicked"), "{err}");
    assert!(err.contains("cut.mp4"), "{err}");
    if out.exists() && std::fs::metadata(&out).unwrap().len() > 0 {
        // The cut fell in the media data: what was decoded was analysed and kept.
        let events = read_events(&out);
        let last = events.last().unwrap();
        assert_eq!(last["kind"], "summary", "{events:?}");
        assert!(
            last["error"].as_str().unwrap().contains("truncated"),
            "{last}"
        );
        assert!(last["frames"].as_u64().unwrap() > 0);
    } else {
        // The cut removed the movie header: nothing could be decoded at all.
        assert!(
            err.to_lowercase().contains("moov") || err.to_lowercase().contains("truncated"),
            "{err}"
        );
    }
}

#[test]
fn unwritable_event_log_fails_before_the_run() {
    let o = run(bin()
        .arg("analyze")
        .arg(manifest().join("sample_videos/clonic_left.mp4"))
        .args(["--events", "/nonexistent-dir/sub/log.jsonl"]));
    assert_clean_error(&o, "log.jsonl", "cannot write");
}

#[test]
fn eval_scores_a_log_against_labels() {
    let dir = tempfile::tempdir().unwrap();
    let clip = manifest().join("sample_videos/clonic_left.mp4");
    let out = dir.path().join("e.jsonl");
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(&out)
        .arg("-q"));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(bin()
        .arg("eval")
        .arg("--labels")
        .arg(manifest().join("sample_videos/clonic_left.labels.json"))
        .arg("--events")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    for col in ["precision", "recall", "F1"] {
        assert!(
            table.to_lowercase().contains(&col.to_lowercase()),
            "{table}"
        );
    }
}

#[test]
fn cut_media_data_is_a_decode_gap_to_the_end() {
    let Some(clips) = shared_clips() else { return };
    // winks.mp4 has its movie header first: cutting the media data leaves the first
    // seconds (both winks) decodable; the rest is a decode gap, and the run succeeds with
    // a warning (a damaged recording, not a failed input).
    let src = std::fs::read(clips.join("winks.mp4")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("winks_cut.mp4");
    std::fs::write(&clip, &src[..src.len() / 2]).unwrap();
    let out = dir.path().join("e.jsonl");
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(&out)
        .arg("-q"));
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.trim().lines().count() == 1 && err.contains("warning: winks_cut.mp4: damaged"),
        "{err}"
    );
    let events = read_events(&out);
    let tw = twitches(&events);
    assert_eq!(tw.len(), 2, "both winks were before the cut: {events:?}");
    let gap = events
        .iter()
        .find(|e| e["kind"] == "decode_gap")
        .expect("gap");
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "summary");
    assert!(last.get("error").is_none(), "{last}");
    assert_eq!(last["decode_gaps"][0][1], gap["end_s"]);
    assert_eq!(last["duration_s"], gap["end_s"]);
}

#[test]
fn truncated_y4m_is_analysed_up_to_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("short.y4m");
    let o = run(bin()
        .args([
            "synth",
            "--duration",
            "4",
            "--size",
            "320x240",
            "--face-width",
            "110",
            "--twitches",
            "1",
            "--out",
        ])
        .arg(&clip));
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&clip).unwrap();
    // Cut in the middle of a frame, past the half of the clip.
    std::fs::write(&clip, &bytes[..bytes.len() * 3 / 4 + 1000]).unwrap();
    let out = dir.path().join("e.jsonl");
    let o = run(bin()
        .arg("analyze")
        .arg(&clip)
        .arg("--events")
        .arg(&out)
        .arg("-q"));
    assert_clean_error(&o, "short.y4m", "truncated");
    let events = read_events(&out);
    assert_eq!(events.first().unwrap()["kind"], "session");
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "summary");
    assert!(last["frames"].as_u64().unwrap() >= 80, "{last}");
}
