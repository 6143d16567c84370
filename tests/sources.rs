//! Frame sources: real clips (skipped when `../shared/clips/` is absent), synthetic Y4M, and
//! bad input of every kind. The ffmpeg path is tested only for its "no ffmpeg" error, via
//! `open_clip_with(path, None)`, so these tests pass on machines without ffmpeg.

use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use twitchwatch::source::{Frame, FrameSource, SourceError, open_clip, open_clip_with};

/// The shared clip directory: `../shared/clips/` next to the crate (also looked for one level
/// further up, for git worktrees kept one directory deeper).
fn clips_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("../shared/clips"),
        root.join("../../shared/clips"),
    ];
    candidates.into_iter().find(|p| p.is_dir())
}

fn clip(name: &str) -> Option<PathBuf> {
    let p = clips_dir().map(|d| d.join(name)).filter(|p| p.is_file());
    if p.is_none() {
        eprintln!("SKIP: real clip {name} not found in ../shared/clips/ (relative to the crate)");
    }
    p
}

fn decode_all(src: &mut dyn FrameSource) -> (Vec<Frame>, Option<SourceError>) {
    let mut frames = Vec::new();
    loop {
        match src.next_frame() {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

fn check_real_clip(name: &str, w: u32, h: u32, fps: f64, frames_expected: u64) {
    let Some(path) = clip(name) else { return };
    let mut src = open_clip(&path).expect("open");
    let info = src.info().clone();
    assert_eq!((info.width, info.height), (w, h), "{info:?}");
    assert_eq!(info.frame_count, Some(frames_expected));
    let got_fps = info.fps.expect("fps");
    assert!((got_fps - fps).abs() < 0.01, "fps {got_fps}");
    assert!(
        info.description.starts_with("H.264 in MP4"),
        "{}",
        info.description
    );
    assert!(
        info.description.contains(&format!("{w}x{h}")),
        "{}",
        info.description
    );
    let (frames, err) = decode_all(src.as_mut());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len() as u64, frames_expected);
    assert_eq!(frames[0].pts_s, 0.0);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert_eq!((f.width, f.height), (w, h));
        assert_eq!(f.luma.len(), (w * h) as usize);
    }
    for pair in frames.windows(2) {
        assert!(
            pair[1].pts_s > pair[0].pts_s,
            "pts not increasing: {} then {}",
            pair[0].pts_s,
            pair[1].pts_s
        );
    }
    let last = frames.last().unwrap().pts_s;
    let expect_last = (frames_expected - 1) as f64 / fps;
    assert!(
        (last - expect_last).abs() < 0.02,
        "last pts {last} vs {expect_last}"
    );
    // Real pictures, not blank buffers.
    let mean =
        frames[10].luma.iter().map(|&v| v as f64).sum::<f64>() / frames[10].luma.len() as f64;
    assert!(mean > 10.0 && mean < 245.0, "mean luma {mean}");
    let distinct = frames[10]
        .luma
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert!(distinct > 50, "only {distinct} luma values");
}

#[test]
fn winks_mp4() {
    check_real_clip("winks.mp4", 512, 512, 30.0, 354);
}

#[test]
fn carphone_mp4_mdat_before_moov() {
    check_real_clip("carphone.mp4", 176, 144, 29.97, 120);
}

#[test]
fn news_anchor_mp4() {
    check_real_clip("news_anchor.mp4", 352, 288, 29.97, 300);
}

#[test]
fn source_decodes_on_another_thread() {
    let Some(path) = clip("carphone.mp4") else {
        return;
    };
    let mut src = open_clip(&path).expect("open");
    let n = std::thread::Builder::new()
        .name("test-decode".into())
        .spawn(move || decode_all(src.as_mut()).0.len())
        .expect("thread starts")
        .join()
        .unwrap();
    assert_eq!(n, 120);
}

// ---- Y4M -------------------------------------------------------------------------------------

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write");
    p
}

/// Synthetic luma for frame `k`, `w`x`h`.
fn pattern(k: usize, w: usize, h: usize) -> Vec<u8> {
    (0..w * h).map(|i| ((i * 7 + k * 31) % 256) as u8).collect()
}

fn y4m_bytes(w: usize, h: usize, frames: usize, tenbit: bool) -> Vec<u8> {
    let cs = if tenbit { "C420p10" } else { "C420jpeg" };
    let mut out = format!("YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 {cs}\n").into_bytes();
    let chroma = w.div_ceil(2) * h.div_ceil(2);
    for k in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        for v in pattern(k, w, h) {
            if tenbit {
                let s = ((v as u16) << 2) | 3; // low bits must be dropped
                out.extend_from_slice(&s.to_le_bytes());
            } else {
                out.push(v);
            }
        }
        let c = if tenbit { 4 * chroma } else { 2 * chroma };
        out.extend(std::iter::repeat_n(128u8, c));
    }
    out
}

#[test]
fn y4m_8bit_exact_luma() {
    let dir = tempfile::tempdir().unwrap();
    // Odd sizes exercise the chroma rounding; the name says nothing about the format.
    let path = write_file(dir.path(), "synthetic.bin", &y4m_bytes(9, 7, 3, false));
    let mut src = open_clip(&path).expect("open");
    assert_eq!(src.info().fps, Some(25.0));
    assert_eq!((src.info().width, src.info().height), (9, 7));
    let (frames, err) = decode_all(src.as_mut());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 3);
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f.luma, pattern(k, 9, 7));
        assert!((f.pts_s - k as f64 / 25.0).abs() < 1e-9);
    }
}

#[test]
fn y4m_10bit_shifted_to_8() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "ten.y4m", &y4m_bytes(6, 4, 2, true));
    let mut src = open_clip(&path).expect("open");
    assert!(
        src.info().description.contains("10-bit"),
        "{}",
        src.info().description
    );
    let (frames, err) = decode_all(src.as_mut());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].luma, pattern(1, 6, 4));
}

#[test]
fn y4m_truncated_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = y4m_bytes(8, 8, 3, false);
    bytes.truncate(bytes.len() - 20);
    let path = write_file(dir.path(), "cut.y4m", &bytes);
    let mut src = open_clip(&path).expect("open");
    let (frames, err) = decode_all(src.as_mut());
    assert_eq!(frames.len(), 2);
    let err = err.expect("error after the cut");
    assert!(matches!(err, SourceError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("cut.y4m") && err.to_string().contains("truncated at frame 2"),
        "{err}"
    );
}

#[test]
fn y4m_lying_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "huge.y4m",
        b"YUV4MPEG2 W99999999999 H99999999999 F25:1\nFRAME\n\x01\x02",
    );
    let err = open_clip(&path).err().expect("error");
    assert!(err.to_string().contains("huge.y4m"), "{err}");
    let path = write_file(
        dir.path(),
        "big.y4m",
        b"YUV4MPEG2 W4000 H4000 F25:1\nFRAME\n\x01\x02",
    );
    let err = open_clip(&path).err().expect("error");
    assert!(matches!(err, SourceError::Corrupt { .. }), "{err}");
}

// ---- Bad input --------------------------------------------------------------------------------

fn open_err(path: &Path) -> SourceError {
    match open_clip_with(path, None) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => {
            let msg = e.to_string();
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(msg.contains(&*name), "message lacks file name: {msg}");
            assert!(!msg.contains('\n'), "multi-line message: {msg}");
            e
        }
    }
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&dir.path().join("nope.mp4"));
    assert!(matches!(e, SourceError::NotFound { .. }));
    assert!(e.to_string().contains("file not found"));
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&write_file(dir.path(), "empty.mp4", b""));
    assert!(e.to_string().contains("empty file"), "{e}");
}

#[test]
fn text_named_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&write_file(
        dir.path(),
        "notes.mp4",
        b"<html><body>404 Not Found</body></html>\n",
    ));
    assert!(matches!(e, SourceError::Unsupported { .. }));
    assert!(e.to_string().contains("not a video file"), "{e}");
}

#[test]
fn unknown_binary() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 0x80)
        .collect();
    let e = open_err(&write_file(dir.path(), "blob.mov", &bytes));
    assert!(matches!(e, SourceError::Unsupported { .. }));
    assert!(e.to_string().contains("unknown file format"), "{e}");
}

#[test]
fn webm_without_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![
        0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84,
    ];
    bytes.extend_from_slice(b"webm");
    bytes.extend_from_slice(&[0u8; 64]);
    let e = open_err(&write_file(dir.path(), "clip.mp4", &bytes));
    assert!(matches!(e, SourceError::Unsupported { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("WebM (Matroska) video") && msg.contains("install ffmpeg"),
        "{msg}"
    );
}

#[test]
fn hevc_in_mp4_without_ffmpeg() {
    let Some(path) = clip("carphone.mp4") else {
        return;
    };
    let mut bytes = std::fs::read(path).unwrap();
    // Relabel the sample entry: the decoder must route by codec, not by container.
    let stsd = bytes.windows(4).position(|w| w == b"stsd").expect("stsd");
    let avc1 = stsd
        + bytes[stsd..]
            .windows(4)
            .position(|w| w == b"avc1")
            .expect("avc1");
    bytes[avc1..avc1 + 4].copy_from_slice(b"hvc1");
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&write_file(dir.path(), "phone.mp4", &bytes));
    let msg = e.to_string();
    assert!(
        msg.contains("H.265/HEVC in MP4") && msg.contains("install ffmpeg"),
        "{msg}"
    );
}

#[test]
fn truncated_mp4_without_moov() {
    // carphone.mp4 keeps its moov at the end: cutting it loses the movie header.
    let Some(path) = clip("carphone.mp4") else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&write_file(
        dir.path(),
        "cut.mp4",
        &bytes[..bytes.len() / 2],
    ));
    assert!(matches!(e, SourceError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("moov"), "{e}");
}

#[test]
fn truncated_mp4_mid_mdat() {
    // winks.mp4 has its moov first: frames before the cut decode, then an error.
    let Some(path) = clip("winks.mp4") else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = write_file(dir.path(), "winks_cut.mp4", &bytes[..bytes.len() * 2 / 5]);
    let mut src = open_clip_with(&cut, None).expect("open");
    assert_eq!(src.info().frame_count, Some(354));
    let (frames, err) = decode_all(src.as_mut());
    assert!(
        frames.len() > 50 && frames.len() < 354,
        "{} frames",
        frames.len()
    );
    let err = err.expect("truncation error");
    assert!(matches!(err, SourceError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("winks_cut.mp4")
            && msg.contains(&format!("truncated at frame {}", frames.len())),
        "{msg}"
    );
    // The source stays finished.
    assert!(matches!(src.next_frame(), Ok(None)));
}

#[test]
fn mp4_with_only_ftyp() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&write_file(
        dir.path(),
        "stub.mp4",
        b"\0\0\0\x18ftypisom\0\0\x02\0isomavc1",
    ));
    assert!(matches!(e, SourceError::Corrupt { .. }));
    assert!(e.to_string().contains("no moov"), "{e}");
}

#[test]
fn lying_sample_size() {
    let Some(path) = clip("carphone.mp4") else {
        return;
    };
    let mut bytes = std::fs::read(path).unwrap();
    // First per-sample size in stsz: header(8) + version/flags(4) + sample_size(4) + count(4).
    let stsz = bytes.windows(4).position(|w| w == b"stsz").expect("stsz") - 4;
    let first = stsz + 20;
    bytes[first..first + 4].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&write_file(dir.path(), "liar.mp4", &bytes));
    assert!(matches!(e, SourceError::Corrupt { .. }), "{e}");
}

// ---- Fuzz: no panic, no hang on mutated MP4s ---------------------------------------------------

fn small_mp4() -> Option<Vec<u8>> {
    clip("carphone.mp4").map(|p| std::fs::read(p).unwrap())
}

/// Opens and decodes a few frames; the only requirement is to return (no panic, no hang).
fn exercise(path: &Path, max_frames: usize) {
    if let Ok(mut src) = open_clip_with(path, None) {
        let _ = src.info();
        for _ in 0..max_frames {
            match src.next_frame() {
                Ok(Some(f)) => assert_eq!(f.luma.len(), (f.width * f.height) as usize),
                Ok(None) | Err(_) => break,
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_mp4_never_panics(
        muts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in prop::bool::weighted(0.2),
    ) {
        let Some(orig) = small_mp4() else { return Ok(()) };
        let mut bytes = orig.clone();
        // carphone.mp4: mdat first, moov (the interesting part) at the end. Half the
        // mutations land in the header boxes, half anywhere.
        let moov = orig.windows(4).position(|w| w == b"moov").unwrap_or(0).saturating_sub(4);
        for (idx, val, in_header) in muts {
            let pos = if in_header {
                // ftyp + mdat header, or the moov box.
                let span = 48 + (orig.len() - moov);
                let k = idx.index(span);
                if k < 48 { k } else { moov + (k - 48) }
            } else {
                idx.index(orig.len())
            };
            bytes[pos] = val;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "fuzz.mp4", &bytes);
        exercise(&path, 12);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes behind each magic we recognise (and none): an error or frames, never a
    /// panic, a hang or a huge allocation.
    #[test]
    fn random_bytes_never_panic(
        prefix in 0usize..5,
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes: Vec<u8> = match prefix {
            0 => b"\0\0\0\x18ftypisom\0\0\x02\0isomavc1".to_vec(),
            1 => b"YUV4MPEG2 W8 H8 F30:1 C420jpeg\n".to_vec(),
            2 => b"YUV4MPEG2 ".to_vec(),
            3 => b"\0\0\x02\0moov\0\0\0\x6cmvhd".to_vec(),
            _ => Vec::new(),
        };
        bytes.extend_from_slice(&body);
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "random.bin", &bytes);
        exercise(&path, 5);
    }
}

// ---- With an ffmpeg on PATH (skipped without one) ---------------------------------------------

/// Re-encodes a real clip with ffmpeg into `dir`; `None` (and a message) without ffmpeg or clip.
fn reencode(dir: &Path, out: &str, args: &[&str]) -> Option<PathBuf> {
    let src = clip("carphone.mp4")?;
    let Some(ffmpeg) = twitchwatch::source::find_ffmpeg() else {
        eprintln!("SKIP: no ffmpeg on PATH, cannot make {out}");
        return None;
    };
    let dst = dir.join(out);
    let ok = std::process::Command::new(ffmpeg)
        .args(["-v", "error", "-nostdin", "-y", "-i"])
        .arg(&src)
        .args(args)
        .arg(&dst)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: ffmpeg could not make {out}");
    }
    ok.then_some(dst)
}

#[test]
fn h264_high_profile_with_b_frames_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["-c:v", "libx264", "-profile:v", "high", "-bf", "3"];
    let Some(path) = reencode(dir.path(), "high.mp4", &args) else {
        return;
    };
    // No ffmpeg given: this must be openh264 itself.
    let mut src = open_clip_with(&path, None).expect("openh264 decodes High profile");
    assert!(src.info().description.starts_with("H.264 in MP4"));
    let (frames, err) = decode_all(src.as_mut());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 120);
    assert!(
        frames.windows(2).all(|p| p[1].pts_s > p[0].pts_s),
        "pts out of order"
    );
}

#[test]
fn webm_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-c:v",
        "libvpx-vp9",
        "-b:v",
        "200k",
        "-deadline",
        "realtime",
        "-frames:v",
        "30",
    ];
    let Some(path) = reencode(dir.path(), "clip.webm", &args) else {
        return;
    };
    let mut src = open_clip(&path).expect("open via ffmpeg");
    assert!(
        src.info().description.contains("WebM"),
        "{}",
        src.info().description
    );
    assert_eq!((src.info().width, src.info().height), (176, 144));
    let (frames, err) = decode_all(src.as_mut());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 30);
    assert!(frames.iter().all(|f| f.luma.len() == 176 * 144));
}
