//! Clips as phones and call apps record them: display rotation (built-in MP4 path and the
//! ffmpeg path), presentation timestamps (variable frame rate, edit lists), HEVC (10-bit),
//! WebM, several or no video streams, damaged files.
//!
//! Clips are made at run time from the bundled samples: rotated ones without ffmpeg (decoded,
//! turned, re-encoded with openh264, display matrix written into the track header), the
//! rest with an `ffmpeg` on PATH (those tests skip with a note without one).

use std::path::{Path, PathBuf};
use std::process::Command;

use twitchwatch::outputs::events::Event;
use twitchwatch::source::{
    Frame, FrameSource, Orientation, find_ffmpeg, open_clip_oriented_with, open_clip_with,
    orient_into,
};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> PathBuf {
    manifest().join("sample_videos").join(name)
}

fn decode_all(src: &mut dyn FrameSource) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Ok(Some(f)) = src.next_frame() {
        frames.push(f);
    }
    frames
}

/// The golden twitches of a bundled sample: (side, start_s).
fn golden(name: &str) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(manifest().join("tests/golden").join(name)).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .filter_map(|e| {
            e.as_twitch()
                .map(|t| (t.side.as_str().to_string(), t.start_s))
        })
        .collect()
}

fn twitches(events: &[Event]) -> Vec<(String, f64)> {
    events
        .iter()
        .filter_map(Event::as_twitch)
        .map(|t| (t.side.as_str().to_string(), t.start_s))
        .collect()
}

/// Same sides, onsets within 0.1 s.
fn assert_same_twitches(got: &[(String, f64)], want: &[(String, f64)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            g.0 == w.0 && (g.1 - w.1).abs() <= 0.1,
            "{what}: {got:?} vs {want:?}"
        );
    }
}

fn summary(events: &[Event]) -> (f64, u64, Vec<[f64; 2]>) {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Summary {
                duration_s,
                frames,
                decode_gaps,
                ..
            } => Some((*duration_s, *frames, decode_gaps.clone())),
            _ => None,
        })
        .expect("summary")
}

fn media(events: &[Event]) -> twitchwatch::outputs::events::Media {
    match events.first() {
        Some(Event::Session { media: Some(m), .. }) => m.clone(),
        other => panic!("no media in {other:?}"),
    }
}

/// Writes the 2x2 part of the first video track's display matrix (16.16 fixed point).
fn set_matrix(bytes: &mut [u8], m: [i32; 4]) {
    fn walk(b: &[u8], start: usize, end: usize, out: &mut Vec<(usize, usize, [u8; 4])>) {
        let mut p = start;
        while p + 8 <= end {
            let size = u32::from_be_bytes(b[p..p + 4].try_into().unwrap()) as usize;
            let size = if size == 0 { end - p } else { size };
            let t: [u8; 4] = b[p + 4..p + 8].try_into().unwrap();
            if size < 8 || p + size > end {
                return;
            }
            out.push((p + 8, p + size, t));
            p += size;
        }
    }
    let mut top = Vec::new();
    walk(bytes, 0, bytes.len(), &mut top);
    let &(ms, me, _) = top.iter().find(|b| &b.2 == b"moov").expect("moov");
    let mut inner = Vec::new();
    walk(bytes, ms, me, &mut inner);
    let &(ts, te, _) = inner.iter().find(|b| &b.2 == b"trak").expect("trak");
    let mut trak = Vec::new();
    walk(bytes, ts, te, &mut trak);
    let &(ks, _, _) = trak.iter().find(|b| &b.2 == b"tkhd").expect("tkhd");
    let at = ks + 4 + if bytes[ks] == 1 { 32 } else { 20 } + 16;
    for (k, v) in [(0, m[0]), (1, m[1]), (3, m[2]), (4, m[3])] {
        bytes[at + 4 * k..at + 4 * k + 4].copy_from_slice(&(v << 16).to_be_bytes());
    }
}

/// The display matrix (a, b, c, d) that shows pictures turned clockwise by `rotation`.
fn matrix_for(rotation: u16) -> [i32; 4] {
    match rotation {
        90 => [0, 1, -1, 0],
        180 => [-1, 0, 0, -1],
        270 => [0, -1, 1, 0],
        _ => [1, 0, 0, 1],
    }
}

/// A bundled sample stored turned the other way by `rotation` (as a phone stores it), with
/// the matrix that shows it upright: H.264 from openh264, for the built-in path.
fn stored_sideways(dir: &Path, name: &str, rotation: u16) -> PathBuf {
    let mut src = open_clip_with(&sample(name), None).unwrap();
    let frames = decode_all(src.as_mut());
    let undo = Orientation {
        rotation: (360 - rotation) % 360,
        flip: false,
    };
    let turned: Vec<Frame> = frames
        .into_iter()
        .map(|f| {
            let mut luma = Vec::new();
            let (width, height) = orient_into(&f.luma, f.width, f.height, undo, &mut luma);
            Frame {
                luma,
                width,
                height,
                ..f
            }
        })
        .collect();
    let (w, h) = (turned[0].width, turned[0].height);
    let out = dir.join(format!("{rotation}-{name}"));
    twitchwatch::test_support::write_frames(&out, w, h, 30.0, 6_000_000, turned).unwrap();
    let mut bytes = std::fs::read(&out).unwrap();
    set_matrix(&mut bytes, matrix_for(rotation));
    std::fs::write(&out, bytes).unwrap();
    out
}

fn analyse(path: &Path) -> Vec<Event> {
    twitchwatch::test_support::analyze_to_memory(path, false, None).unwrap()
}

/// Mean absolute luma difference of two frames of one size.
fn mean_diff(a: &Frame, b: &Frame) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let sum: u64 = a
        .luma
        .iter()
        .zip(&b.luma)
        .map(|(p, q)| p.abs_diff(*q) as u64)
        .sum();
    sum as f64 / a.luma.len() as f64
}

#[test]
fn rotated_clips_on_the_built_in_path_read_upright() {
    let dir = tempfile::tempdir().unwrap();
    let mut orig = open_clip_with(&sample("mixed.mp4"), None).unwrap();
    let orig: Vec<Frame> = (0..10)
        .map(|_| orig.next_frame().unwrap().unwrap())
        .collect();
    for rotation in [90, 180, 270] {
        let clip = stored_sideways(dir.path(), "mixed.mp4", rotation);
        let mut src = open_clip_oriented_with(&clip, None, None).unwrap();
        assert!(src.info().description.starts_with("H.264 in MP4"));
        assert_eq!((src.info().width, src.info().height), (480, 360));
        assert_eq!(src.info().media.rotation, rotation);
        for o in &orig {
            let f = src.next_frame().unwrap().unwrap();
            assert!((f.pts_s - o.pts_s).abs() < 1e-6);
            let d = mean_diff(&f, o);
            assert!(d < 4.0, "{rotation}°: frame {} differs by {d}", o.index);
        }
    }
}

/// `--rotate 0` on a clip whose matrix says 90°: analysed as stored, the same log as the
/// sample's golden one (twitch lines byte for byte); the session line says so.
#[test]
fn rotate_flag_0_ignores_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample("clonic_left.mp4")).unwrap();
    set_matrix(&mut bytes, matrix_for(90));
    let clip = dir.path().join("clonic_left.mp4");
    std::fs::write(&clip, bytes).unwrap();
    let log = dir.path().join("e.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args([
            "analyze",
            "-q",
            "--rotate",
            "0",
            s(&clip),
            "--events",
            s(&log),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    let session: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(session["media"]["rotation"], 0);
    assert_eq!(session["media"]["rotation_from"], "--rotate");
    let parse = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap();
    let rest: Vec<_> = lines.map(parse).collect();
    let golden =
        std::fs::read_to_string(manifest().join("tests/golden/clonic_left.events.jsonl")).unwrap();
    let want: Vec<_> = golden.lines().map(parse).collect();
    assert_eq!(rest, want);
}

#[test]
fn rotate_flag_overrides_the_matrix_and_a_mirrored_matrix_flips() {
    let dir = tempfile::tempdir().unwrap();
    let clip = stored_sideways(dir.path(), "clonic_left.mp4", 270);
    let stored = open_clip_with(&clip, None).unwrap();
    assert_eq!((stored.info().width, stored.info().height), (360, 480));
    let upright = open_clip_oriented_with(&clip, None, None).unwrap();
    assert_eq!((upright.info().width, upright.info().height), (480, 360));
    assert_eq!(upright.info().media.rotation, 270);
    let kept = open_clip_oriented_with(&clip, None, Some(0)).unwrap();
    assert_eq!((kept.info().width, kept.info().height), (360, 480));
    assert_eq!(kept.info().media.rotation_from, "--rotate");

    // A mirrored matrix on the upright sample: each frame is the original flipped.
    let mut bytes = std::fs::read(sample("clonic_left.mp4")).unwrap();
    set_matrix(&mut bytes, [-1, 0, 0, 1]);
    let flipped = dir.path().join("flipped.mp4");
    std::fs::write(&flipped, bytes).unwrap();
    let mut a = open_clip_with(&sample("clonic_left.mp4"), None).unwrap();
    let mut b = open_clip_oriented_with(&flipped, None, None).unwrap();
    assert!(b.info().media.flipped);
    for _ in 0..5 {
        let (fa, fb) = (
            a.next_frame().unwrap().unwrap(),
            b.next_frame().unwrap().unwrap(),
        );
        let w = fa.width as usize;
        for (ra, rb) in fa.luma.chunks(w).zip(fb.luma.chunks(w)) {
            assert!(ra.iter().rev().eq(rb.iter()));
        }
    }
}

// ---- With an ffmpeg on PATH -------------------------------------------------------------------

fn ffmpeg() -> Option<PathBuf> {
    let f = find_ffmpeg();
    if f.is_none() {
        eprintln!("SKIP: no ffmpeg on PATH (install it to test HEVC, VFR, WebM clips)");
    }
    f
}

/// Runs ffmpeg with `args` (input and output included); false (and a note) if it fails,
/// e.g. for lack of an encoder.
fn ffmpeg_make(ffmpeg: &Path, args: &[&str], what: &str) -> bool {
    let ok = Command::new(ffmpeg)
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: this ffmpeg could not make {what}");
    }
    ok
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn hevc_mov_rotated_270_through_ffmpeg_gives_the_same_twitches() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hevc.mov");
    let src = sample("clonic_left.mp4");
    // Stored turned a quarter clockwise, shown turned 270° clockwise. Lossless: the same
    // pictures as the sample's, so the same twitches. (Lossy copies are checked below.)
    let args = [
        "-i",
        s(&src),
        "-vf",
        "transpose=1",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "lossless=1:log-level=error",
        s(&out),
    ];
    if !ffmpeg_make(&ff, &args, "HEVC (libx265)") {
        return;
    }
    let mut bytes = std::fs::read(&out).unwrap();
    set_matrix(&mut bytes, matrix_for(270));
    std::fs::write(&out, bytes).unwrap();
    let events = analyse(&out);
    let opened = open_clip_oriented_with(&out, Some(&ff), None).unwrap();
    let description = &opened.info().description;
    assert!(
        description.contains("via ffmpeg")
            && description.contains("HEVC")
            && description.contains("480x360, 30.00 fps, rotated 270°"),
        "{description}"
    );
    assert_eq!(media(&events).rotation, 270);
    let (duration, frames, _) = summary(&events);
    assert_eq!(frames, 600);
    assert!((duration - 20.0).abs() < 0.05, "{duration}");
    assert_same_twitches(
        &twitches(&events),
        &golden("clonic_left.events.jsonl"),
        "HEVC 270°",
    );
}

/// Phone-style lossy copies at a phone's quality (libx265 at crf 14-16, libx264 at crf 16,
/// about 50 dB PSNR against the sample) give the original's twitches: same sides, onsets
/// within 0.1 s. For every sample, variable-rate H.264 (1 frame in 29 dropped) stored
/// turned with a 90° matrix (built-in path); for `tonic_right` and `mixed`, HEVC stored
/// turned with a 270° matrix (through ffmpeg); for `clonic_left`, HEVC at crf 14 and H.264
/// at crf 16 stored upright (its turned HEVC copies lose the lid's reopening after a blink
/// or a twitch, which adds or merges a twitch: docs/recordings.md). `clonic_left`'s
/// twitches are trains of one-frame lid squeezes, the first of which a copy's flow may read
/// as still: the twitch still starts there (`BurstParams::train_lookback_s`).
#[test]
fn high_quality_lossy_copies_give_the_same_twitches() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let drop = "select='not(eq(mod(n\\,29)\\,14))'";
    let turned_cw = "transpose=1".to_string();
    let turned_ccw = format!("{drop},transpose=2");
    let hevc_turned: &[&str] = &[
        "-vf",
        &turned_cw,
        "-c:v",
        "libx265",
        "-crf",
        "16",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "log-level=error",
    ];
    let hevc_upright: &[&str] = &[
        "-c:v",
        "libx265",
        "-crf",
        "14",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "log-level=error",
    ];
    let vfr_turned: &[&str] = &[
        "-vf",
        &turned_ccw,
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-crf",
        "16",
    ];
    let h264_upright: &[&str] = &["-c:v", "libx264", "-crf", "16"];
    // A blink in this copy reads as a one-frame lid jump no lid makes (`max_lid_speed`).
    let h264_crf18: &[&str] = &["-c:v", "libx264", "-crf", "18"];
    // Sample, then per copy: file name, encoder options, display rotation.
    type Copy<'a> = (&'a str, &'a [&'a str], u16);
    let samples: [(&str, &[Copy]); 3] = [
        (
            "tonic_right",
            &[("hevc.mov", hevc_turned, 270), ("vfr.mp4", vfr_turned, 90)],
        ),
        (
            "mixed",
            &[("hevc.mov", hevc_turned, 270), ("vfr.mp4", vfr_turned, 90)],
        ),
        (
            "clonic_left",
            &[
                ("hevc.mp4", hevc_upright, 0),
                ("hevc.mov", hevc_turned, 270),
                ("h264.mp4", h264_upright, 0),
                ("h264-18.mp4", h264_crf18, 0),
                ("vfr.mp4", vfr_turned, 90),
            ],
        ),
    ];
    for (name, copies) in samples {
        let src = sample(&format!("{name}.mp4"));
        // The original analysed the same way (the golden logs of `mixed` are mirrored).
        let original = analyse(&src);
        let want = twitches(&original);
        let want_duration = summary(&original).0;
        for &(file, codec, rotation) in copies {
            let out = dir.path().join(format!("{name}-{file}"));
            let mut args = vec!["-i", s(&src)];
            args.extend_from_slice(codec);
            args.push(s(&out));
            if !ffmpeg_make(&ff, &args, "a lossy phone-style copy") {
                return;
            }
            if rotation != 0 {
                let mut bytes = std::fs::read(&out).unwrap();
                set_matrix(&mut bytes, matrix_for(rotation));
                std::fs::write(&out, bytes).unwrap();
            }
            let events = analyse(&out);
            assert_eq!(media(&events).rotation, rotation);
            let (duration, _, _) = summary(&events);
            assert!((duration - want_duration).abs() < 0.05, "{duration}");
            assert_same_twitches(&twitches(&events), &want, &format!("{}", out.display()));
        }
    }
}

/// Presentation times of a variable-frame-rate clip: frames dropped from the 30 fps sample
/// keep their original times (n / 30), on both paths; nothing is duplicated.
#[test]
fn variable_frame_rate_times_on_both_paths() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = sample("tonic_right.mp4");
    // Keep frame n unless n % 7 == 3 or n % 11 == 5.
    let keep = |n: u64| n % 7 != 3 && n % 11 != 5;
    let select = "select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,11)\\,5))'";
    let want: Vec<f64> = (0..600)
        .filter(|&n| keep(n))
        .map(|n| n as f64 / 30.0)
        .collect();
    for (name, codec) in [("vfr.mp4", "libx264"), ("vfr.mkv", "libx265")] {
        let out = dir.path().join(name);
        let args = [
            "-i",
            s(&src),
            "-vf",
            select,
            "-fps_mode",
            "vfr",
            "-c:v",
            codec,
            "-x265-params",
            "log-level=error",
            s(&out),
        ];
        let args: Vec<&str> = if codec == "libx264" {
            args.iter()
                .copied()
                .filter(|a| !a.contains("x265") && !a.contains("log-level"))
                .collect()
        } else {
            args.to_vec()
        };
        if !ffmpeg_make(&ff, &args, name) {
            continue;
        }
        let mut src = open_clip_oriented_with(&out, Some(&ff), None).unwrap();
        let frames = decode_all(src.as_mut());
        assert_eq!(frames.len(), want.len(), "{name}");
        for (f, w) in frames.iter().zip(&want) {
            assert!(
                (f.pts_s - w).abs() < 0.002,
                "{name}: frame {} at {} not {w}",
                f.index,
                f.pts_s
            );
        }
    }
}

/// A clip cut with an edit list that starts late (stream copy from 2.5 s): the built-in
/// path shows what ffmpeg shows, from time 0.
#[test]
fn late_starting_edit_list() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cut.mp4");
    let src = sample("mixed.mp4");
    let args = ["-ss", "2.5", "-i", s(&src), "-c", "copy", s(&out)];
    if !ffmpeg_make(&ff, &args, "an edit list") {
        return;
    }
    let mut builtin = open_clip_with(&out, None).unwrap();
    assert!(builtin.info().description.starts_with("H.264 in MP4"));
    let a = decode_all(builtin.as_mut());
    // The same file through ffmpeg (an unknown-format route is not needed: force it).
    let mut via = twitchwatch::source::open_ffmpeg(&out, &ff).unwrap();
    let b = decode_all(via.as_mut());
    assert_eq!(a.len(), b.len());
    assert_eq!(a[0].pts_s, 0.0);
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.pts_s - y.pts_s).abs() < 0.002,
            "{} vs {}",
            x.pts_s,
            y.pts_s
        );
        let diff: u64 = x
            .luma
            .iter()
            .zip(&y.luma)
            .map(|(p, q)| p.abs_diff(*q) as u64)
            .sum();
        assert!(
            diff / (x.luma.len() as u64) < 2,
            "frame {} differs",
            x.index
        );
    }
}

/// Slow motion: a capture rate in the container's metadata (written here by ffmpeg, as text
/// under `-movflags use_metadata_tags`) above the playback rate is said on the session line,
/// with a warning, on both paths; a phone's ordinary "30" at 30 fps is not slow motion.
#[test]
fn capture_rate_in_the_metadata_means_slow_motion() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = sample("clonic_left.mp4");
    let copy: &[&str] = &["-c", "copy"];
    let hevc: &[&str] = &[
        "-frames:v",
        "30",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
    ];
    // Key, value, how the copy is made, the capture rate to be said, frames.
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], Option<f64>, u64);
    let cases: [Case; 4] = [
        (
            "com.android.capture.fps",
            "240.000000",
            copy,
            Some(240.0),
            600,
        ),
        (
            "com.apple.quicktime.capture-fps",
            "120",
            copy,
            Some(120.0),
            600,
        ),
        ("com.android.capture.fps", "30.000000", copy, None, 600),
        ("com.android.capture.fps", "240", hevc, Some(240.0), 30),
    ];
    for (i, (key, value, codec, want, want_frames)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("{i}.mov"));
        let tag = format!("{key}={value}");
        let mut args = vec!["-i", s(&src)];
        args.extend_from_slice(codec);
        args.extend_from_slice(&["-metadata", &tag, "-movflags", "use_metadata_tags", s(&out)]);
        if !ffmpeg_make(&ff, &args, "a clip with a capture rate") {
            return;
        }
        let events = analyse(&out);
        assert_eq!(media(&events).capture_fps, want, "{tag}");
        let warned = events.iter().any(
            |e| matches!(e, Event::Warning { message, .. } if message.contains("slow motion")),
        );
        assert_eq!(warned, want.is_some(), "{tag}");
        // Times stay presentation times (what a viewer sees).
        let (duration, frames, _) = summary(&events);
        assert_eq!(frames, want_frames, "{tag}");
        assert!(
            (duration - want_frames as f64 / 30.0).abs() < 0.05,
            "{tag}: {duration}"
        );
    }
}

/// 10-bit HEVC: luma reduced to 8 bits (not clipped, not the low byte).
#[test]
fn ten_bit_hevc_luma_in_8_bits() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("10bit.mp4");
    let src = sample("mixed.mp4");
    let args = [
        "-i",
        s(&src),
        "-frames:v",
        "30",
        "-pix_fmt",
        "yuv420p10le",
        "-c:v",
        "libx265",
        "-crf",
        "10",
        "-x265-params",
        "log-level=error",
        s(&out),
    ];
    if !ffmpeg_make(&ff, &args, "10-bit HEVC") {
        return;
    }
    let mut ten = open_clip_oriented_with(&out, Some(&ff), None).unwrap();
    let a = decode_all(ten.as_mut());
    let mut eight = open_clip_with(&sample("mixed.mp4"), None).unwrap();
    let b = decode_all(eight.as_mut());
    assert_eq!(a.len(), 30);
    for (x, y) in a.iter().zip(&b) {
        let diff: u64 = x
            .luma
            .iter()
            .zip(&y.luma)
            .map(|(p, q)| p.abs_diff(*q) as u64)
            .sum();
        assert!(
            diff / (x.luma.len() as u64) < 3,
            "frame {} differs",
            x.index
        );
    }
}

#[test]
fn webm_vp8_and_av1_high_rates_and_streams() {
    let Some(ff) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = sample("mixed.mp4");
    let cases: [(&str, &[&str], usize); 4] = [
        (
            "vp8.webm",
            &["-frames:v", "30", "-c:v", "libvpx", "-b:v", "1M"],
            30,
        ),
        (
            "av1.webm",
            &[
                "-frames:v",
                "20",
                "-c:v",
                "libaom-av1",
                "-cpu-used",
                "8",
                "-crf",
                "40",
            ],
            20,
        ),
        // 60 and 120 fps (each frame shown at its own time).
        (
            "60.mp4",
            &[
                "-frames:v",
                "60",
                "-vf",
                "setpts=N/60/TB",
                "-r",
                "60",
                "-c:v",
                "libx264",
            ],
            60,
        ),
        (
            "120.mp4",
            &[
                "-frames:v",
                "60",
                "-vf",
                "setpts=N/120/TB",
                "-r",
                "120",
                "-c:v",
                "libx264",
            ],
            60,
        ),
    ];
    for (name, extra, n) in cases {
        let out = dir.path().join(name);
        let mut args = vec!["-i", s(&src)];
        args.extend_from_slice(extra);
        args.push(s(&out));
        if !ffmpeg_make(&ff, &args, name) {
            continue;
        }
        let mut clip = open_clip_oriented_with(&out, Some(&ff), None).unwrap();
        let frames = decode_all(clip.as_mut());
        assert_eq!(frames.len(), n, "{name}");
        let rate = if name.starts_with("120") {
            120.0
        } else if name.starts_with("60") {
            60.0
        } else {
            30.0
        };
        let last = frames.last().unwrap().pts_s;
        assert!(
            (last - (n - 1) as f64 / rate).abs() < 0.002,
            "{name}: last at {last}"
        );
    }
    // Two video streams: the first, said so.
    let two = dir.path().join("two.mp4");
    let args = [
        "-i",
        s(&src),
        "-frames:v",
        "10",
        "-map",
        "0:v",
        "-map",
        "0:v",
        "-c",
        "copy",
        s(&two),
    ];
    if ffmpeg_make(&ff, &args, "two video streams") {
        let clip = open_clip_oriented_with(&two, Some(&ff), None).unwrap();
        assert_eq!(clip.info().media.video_streams, Some(2));
    }
    // No video: one line saying so.
    for name in ["audio.m4a", "audio.mka"] {
        let out = dir.path().join(name);
        let args = ["-f", "lavfi", "-i", "sine=duration=1", s(&out)];
        if !ffmpeg_make(&ff, &args, name) {
            continue;
        }
        let e = open_clip_oriented_with(&out, Some(&ff), None)
            .err()
            .expect("an error");
        let msg = e.to_string();
        assert!(!msg.contains('\n') && msg.contains("video"), "{msg}");
    }
}

// ---- Damaged recordings -----------------------------------------------------------------------

/// Offset and length of the top-level mdat box.
fn mdat(bytes: &[u8]) -> (usize, usize) {
    let mut p = 0;
    while p + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        if &bytes[p + 4..p + 8] == b"mdat" {
            return (p + 8, size.saturating_sub(8).min(bytes.len() - p - 8));
        }
        p += size.max(8);
    }
    panic!("no mdat")
}

/// Garbage over a stretch of the samples: the run goes on to the end with a decode gap,
/// no twitch straddles it, the gap is not observed time, and the CLI exits 0 with a warning.
#[test]
fn damaged_samples_give_a_gap_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample("clonic_left.mp4")).unwrap();
    let (start, len) = mdat(&bytes);
    // Around 7 s of 20: well inside, between the twitches at 4.4 and 8.5 s.
    let at = start + len * 7 / 20;
    for (k, b) in bytes[at..at + 4000].iter_mut().enumerate() {
        *b = (k * 151 % 256) as u8;
    }
    let clip = dir.path().join("damaged.mp4");
    std::fs::write(&clip, &bytes).unwrap();
    let log = dir.path().join("damaged.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args(["analyze", s(&clip), "--events", s(&log)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("decode"),
        "{stderr}"
    );
    let events: Vec<Event> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let (duration, frames, gaps) = summary(&events);
    assert!(!gaps.is_empty());
    assert!((duration - 20.0).abs() < 0.1, "{duration}");
    assert!(frames > 500 && frames < 600, "{frames}");
    let observed = events.iter().rev().find_map(|e| match e {
        Event::Summary { observed_s, .. } => Some(*observed_s),
        _ => None,
    });
    let gap_s: f64 = gaps.iter().map(|g| g[1] - g[0]).sum();
    assert!(observed.unwrap() <= 20.0 - gap_s + 0.05);
    for t in events.iter().filter_map(Event::as_twitch) {
        for g in &gaps {
            assert!(
                t.end_s <= g[0] || t.start_s >= g[1],
                "{t:?} straddles {g:?}"
            );
        }
    }
    // The twitches outside the damage are still found.
    let got = twitches(&events);
    assert!(
        got.iter()
            .any(|t| t.0 == "left" && (t.1 - 4.433).abs() < 0.1),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|t| t.0 == "left" && (t.1 - 15.133).abs() < 0.1),
        "{got:?}"
    );
}

/// A cut movie header or nothing decodable is a failed input, in one line.
#[test]
fn nothing_decodable_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample("mixed.mp4")).unwrap();
    let (start, len) = mdat(&bytes);
    for (k, b) in bytes[start..start + len].iter_mut().enumerate() {
        *b = (k * 97 % 251) as u8;
    }
    let clip = dir.path().join("garbage.mp4");
    std::fs::write(&clip, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .env("PATH", "")
        .args([
            "analyze",
            "-q",
            s(&clip),
            "--events",
            s(&dir.path().join("g.jsonl")),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// Random damage (byte flips, cut and repeated chunks, fixed seeds): no panic, no hang, and
/// every copy ffmpeg decodes at least half of is analysed to within 10 % of ffmpeg's frame
/// count (the counts are printed; docs/recordings.md).
#[test]
fn fuzzed_copies_keep_going() {
    use rand::{RngExt, SeedableRng};
    let orig = std::fs::read(sample("clonic_left.mp4")).unwrap();
    let ff = ffmpeg();
    let dir = tempfile::tempdir().unwrap();
    let (start, len) = mdat(&orig);
    let mut compared = 0;
    for seed in 0..24u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut bytes = orig.clone();
        match seed % 3 {
            0 => {
                for _ in 0..rng.random_range(1..20) {
                    let i = rng.random_range(start..start + len);
                    bytes[i] ^= 1 << rng.random_range(0..8);
                }
            }
            1 => {
                let a = rng.random_range(start..start + len - 5000);
                let n = rng.random_range(100..5000);
                bytes.drain(a..a + n);
            }
            _ => {
                let a = rng.random_range(start..start + len - 5000);
                let n = rng.random_range(100..5000);
                let chunk = bytes[a..a + n].to_vec();
                bytes.splice(a..a, chunk);
            }
        }
        let clip = dir.path().join(format!("fuzz{seed}.mp4"));
        std::fs::write(&clip, &bytes).unwrap();
        // Our count: the built-in path (no ffmpeg fallback), on a thread that must finish.
        let c = clip.clone();
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("fuzz-decode".into())
            .spawn(move || {
                let n = match open_clip_with(&c, None) {
                    Ok(mut s) => decode_all(s.as_mut()).len(),
                    Err(e) => {
                        eprintln!("{e}");
                        0
                    }
                };
                let _ = tx.send(n);
            })
            .unwrap();
        let ours = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("seed {seed}: hung or panicked"));
        let Some(ff) = &ff else { continue };
        let theirs = ffmpeg_frames(ff, &clip);
        if theirs * 2 >= 600 {
            compared += 1;
            // Within 10 % of ffmpeg's count.
            assert!(
                ours * 10 >= theirs * 9 && ours <= theirs + theirs / 10,
                "seed {seed}: {ours} frames, ffmpeg {theirs}"
            );
        }
        eprintln!("seed {seed}: ours {ours}, ffmpeg {theirs}");
    }
    if ff.is_some() {
        assert!(compared > 0);
    }
}

/// Frames ffmpeg decodes from `clip` (0 if it fails).
fn ffmpeg_frames(ff: &Path, clip: &Path) -> usize {
    let out = Command::new(ff)
        .args([
            "-v",
            "quiet",
            "-nostdin",
            "-i",
            s(clip),
            "-map",
            "0:v:0",
            "-vsync",
            "passthrough",
        ])
        .args(["-f", "framemd5", "-"])
        .output();
    out.map_or(0, |o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count()
    })
}
