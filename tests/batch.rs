//! `twitchwatch analyze` with several clips or a folder, as a user runs it: one log per clip,
//! each identical to the clip's log analysed alone; failures, name clashes and flags that name
//! one file.
//!
//! Each analysis of a sample clip takes a second or more in a debug build, so every test runs
//! at most three.

mod common;
use common::{bin, sample};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the twitchwatch binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies sample clips into `dir` (created), as a user's folder of recordings.
fn folder_of(dir: &Path, clips: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for c in clips {
        std::fs::copy(sample(c), dir.join(c)).unwrap();
    }
    dir.to_path_buf()
}

/// The clip's log when analysed on its own (the reference a batch must match).
fn single_run(clip: &Path, out: &Path) -> Vec<u8> {
    let o = run(bin()
        .arg("analyze")
        .arg(clip)
        .arg("--events")
        .arg(out)
        .arg("-q"));
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(out).unwrap()
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn assert_no_panic(o: &Output) {
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

#[test]
fn folder_mode_writes_one_log_per_clip_identical_to_analysing_each_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let clips = folder_of(
        &tmp.path().join("clips"),
        &["tonic_right.mp4", "clonic_left.mp4"],
    );
    // Not clips: skipped without a word.
    std::fs::write(clips.join("notes.txt"), "not a clip").unwrap();
    std::fs::write(clips.join("clonic_left.labels.json"), "{}").unwrap();
    let out = tmp.path().join("logs/new"); // created by --out-dir
    let o = run(bin().arg("analyze").arg(&clips).arg("--out-dir").arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_panic(&o);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["clonic_left.events.jsonl", "tonic_right.events.jsonl"]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o700,
            "the folder made for the logs is the owner's alone"
        );
    }

    // Summaries in name order (not in the order the clips finished), then the count.
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].starts_with("clonic_left.mp4: "), "{err}");
    assert!(lines[1].starts_with("tonic_right.mp4: "), "{err}");
    assert_eq!(lines[2], "2 clips analysed, 0 failed");

    let alone = single_run(
        &clips.join("clonic_left.mp4"),
        &tmp.path().join("alone.jsonl"),
    );
    assert_eq!(
        std::fs::read(out.join("clonic_left.events.jsonl")).unwrap(),
        alone,
        "the batch's log differs from the clip analysed alone"
    );
    let tonic = read_lines(&out.join("tonic_right.events.jsonl"));
    assert_eq!(tonic.first().unwrap()["kind"], "session");
    assert_eq!(tonic.last().unwrap()["kind"], "summary");
}

#[test]
fn explicit_clips_on_one_worker_with_a_csv_each() {
    let tmp = tempfile::tempdir().unwrap();
    // Different folders, different stems: no clash.
    let a = folder_of(&tmp.path().join("a"), &["tonic_right.mp4"]).join("tonic_right.mp4");
    let b = folder_of(&tmp.path().join("b"), &["clonic_left.mp4"]).join("clonic_left.mp4");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    // Default output: the current folder.
    let o = run(bin()
        .current_dir(&work)
        .arg("analyze")
        .arg(&a)
        .arg(&b)
        .args(["--jobs", "1", "--csv-each", "-q"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "-q prints nothing on success");
    for stem in ["tonic_right", "clonic_left"] {
        let log = work.join(format!("{stem}.events.jsonl"));
        let csv = std::fs::read_to_string(work.join(format!("{stem}.events.csv"))).unwrap();
        assert!(
            csv.starts_with("start_s,end_s,duration_s,side,regions"),
            "{csv}"
        );
        let twitches = read_lines(&log)
            .iter()
            .filter(|e| e["kind"] == "twitch")
            .count();
        assert!(twitches > 0, "{stem}: the sample clip has twitches");
        assert_eq!(csv.lines().count() - 1, twitches, "{stem}");
    }
    let alone = single_run(&a, &tmp.path().join("alone.jsonl"));
    assert_eq!(
        std::fs::read(work.join("tonic_right.events.jsonl")).unwrap(),
        alone,
        "the batch's log differs from the clip analysed alone"
    );
}

#[test]
fn a_bad_clip_does_not_stop_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let clips = folder_of(&tmp.path().join("clips"), &["clonic_left.mp4"]);
    std::fs::write(
        clips.join("notes.mp4"),
        "These are my notes, not a video.\n",
    )
    .unwrap();
    let full = std::fs::read(sample("tonic_right.mp4")).unwrap();
    std::fs::write(clips.join("cut.mp4"), &full[..full.len() * 2 / 3]).unwrap();
    let out = tmp.path().join("out");
    let o = run(bin()
        .arg("analyze")
        .arg(&clips)
        .arg(tmp.path().join("missing.mov"))
        .arg("--out-dir")
        .arg(&out));
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert_no_panic(&o);
    // Each failure once, on one line naming its clip.
    for bad in ["notes.mp4", "cut.mp4", "missing.mov"] {
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(bad)).collect();
        assert_eq!(lines.len(), 1, "{bad}: {err}");
        assert!(lines[0].starts_with("twitchwatch: error: "), "{err}");
    }
    assert!(err.contains("not a video"), "{err}");
    assert!(err.contains("not found"), "{err}");
    assert!(err.contains("4 clips analysed, 3 failed"), "{err}");
    assert_eq!(
        err.lines().last().unwrap(),
        "twitchwatch: error: 3 of 4 clips failed"
    );
    let good = read_lines(&out.join("clonic_left.events.jsonl"));
    assert_eq!(good.last().unwrap()["kind"], "summary");
    assert!(good.iter().any(|e| e["kind"] == "twitch"));
    // A clip that cannot be opened leaves no log behind.
    assert!(!out.join("notes.events.jsonl").exists());
    assert!(!out.join("missing.events.jsonl").exists());
}

#[test]
fn same_stem_in_two_folders_is_rejected_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = folder_of(&tmp.path().join("monday"), &["clonic_left.mp4"]);
    let b = folder_of(&tmp.path().join("tuesday"), &["clonic_left.mp4"]);
    let out = tmp.path().join("out");
    let o = run(bin()
        .arg("analyze")
        .arg(&a)
        .arg(&b)
        .arg("--out-dir")
        .arg(&out));
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in ["monday", "tuesday", "clonic_left.events.jsonl"] {
        assert!(err.contains(part), "should name {part}: {err}");
    }
    assert!(!out.exists(), "nothing may be written before the check");
}

#[test]
fn flags_naming_one_file_are_rejected_with_several_clips() {
    let tmp = tempfile::tempdir().unwrap();
    let clips = [sample("clonic_left.mp4"), sample("tonic_right.mp4")];
    for (flag, value) in [
        ("--events", Some("e.jsonl")),
        ("--csv", Some("e.csv")),
        ("--debug-trace", Some("t.csv")),
    ] {
        let mut cmd = bin();
        cmd.current_dir(tmp.path())
            .arg("analyze")
            .args(&clips)
            .arg(flag);
        cmd.args(value);
        let o = run(&mut cmd);
        let err = stderr(&o);
        assert!(!o.status.success(), "{flag}: {err}");
        assert_eq!(err.lines().count(), 1, "{flag}: {err}");
        assert!(err.contains(flag) && err.contains("2 clips"), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_folder_without_clips_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "no clips here").unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::copy(sample("clonic_left.mp4"), tmp.path().join("sub/x.mp4")).unwrap();
    let o = run(bin().arg("analyze").arg(tmp.path()));
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no video files"), "{err}");
}

#[test]
fn folders_take_video_extensions_in_any_case_sorted_by_name() {
    // Files that are not really videos fail at once, so their order shows without analysing
    // anything; one worker keeps that order.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("clips");
    std::fs::create_dir(&dir).unwrap();
    for name in ["c.WEBM", "a.Mov", "b.y4m", "d.txt", ".hidden.mp4"] {
        std::fs::write(dir.join(name), "not a video").unwrap();
    }
    let o = run(bin()
        .current_dir(tmp.path())
        .arg("analyze")
        .arg(&dir)
        .args(["--jobs", "1"]));
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    let failed: Vec<String> = err
        .lines()
        .filter_map(|l| l.strip_prefix("twitchwatch: error: "))
        .filter_map(|l| l.split(':').next())
        .map(|p| {
            Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        failed,
        ["a.Mov", "b.y4m", "c.WEBM", "3 of 3 clips failed"],
        "{err}"
    );
}
