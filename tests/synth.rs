//! Synthetic clips: determinism, the detector finds the face, sides are the person's, and
//! the MP4 writer's output parses and decodes.

use std::io::Cursor;
use twitchwatch::analysis::anatomy::{RegionKind, Side};
use twitchwatch::devtools::labels::Labels;
use twitchwatch::devtools::synth::{
    DistractorKind, PatternKind, Renderer, SynthParams, TwitchShape, labels_path, plan,
    render_frames, write_clip,
};
use twitchwatch::test_support::FaceDetector;

fn small(seed: u64) -> SynthParams {
    SynthParams {
        seed,
        width: 160,
        height: 120,
        face_width_px: 70.0,
        duration_s: 1.0,
        ..SynthParams::default()
    }
}

#[test]
fn same_seed_same_frames_and_plan() {
    let a = plan(&small(7));
    let b = plan(&small(7));
    assert_eq!(a, b);
    let fa: Vec<_> = render_frames(&a).take(3).map(|f| f.luma).collect();
    let fb: Vec<_> = render_frames(&b).take(3).map(|f| f.luma).collect();
    assert_eq!(fa, fb);
    let c = plan(&small(8));
    let fc: Vec<_> = render_frames(&c).take(1).map(|f| f.luma).collect();
    assert_ne!(fa[0], fc[0]);
}

#[test]
fn plan_respects_gaps_and_windows() {
    for seed in 0..20 {
        let p = SynthParams {
            seed,
            duration_s: 40.0,
            twitches: 5,
            ..SynthParams::default()
        };
        let sc = plan(&p);
        assert!(!sc.twitches.is_empty());
        let side = sc.twitches[0].side;
        for w in sc.twitches.windows(2) {
            assert!(
                w[1].start_s >= w[0].end_s + 1.0 - 1e-9,
                "seed {seed}: twitches closer than 1 s"
            );
        }
        for t in &sc.twitches {
            assert_eq!(t.side, side, "one affected side per clip");
            assert!(t.start_s >= 1.0 - 1e-9 && t.end_s <= p.duration_s - 1.0 + 1e-9);
            assert_eq!(t.regions[0], RegionKind::Eye);
            match &t.shape {
                TwitchShape::Clonic { jerks } => {
                    assert!((3..=8).contains(&jerks.len()));
                    assert!(jerks.iter().all(|j| (0.06..=0.2 + 1e-9).contains(&j.dur_s)));
                }
                TwitchShape::Tonic { hold_s, .. } => assert!((1.0..=4.0).contains(hold_s)),
                other => panic!("mixed clips hold clonic and tonic twitches only: {other:?}"),
            }
            for d in &sc.distractors {
                if matches!(
                    d.kind,
                    DistractorKind::Blink | DistractorKind::Talk | DistractorKind::Smile
                ) {
                    assert!(
                        d.end_s + 0.5 <= t.start_s || d.start_s >= t.end_s + 0.5,
                        "seed {seed}: {:?} near a twitch",
                        d.kind
                    );
                }
            }
        }
        let labels = sc.labels("x.mp4");
        for k in DistractorKind::ALL {
            assert!(
                labels.distractors.iter().any(|d| d.kind == k.label()),
                "seed {seed}: no {k:?}"
            );
        }
    }
}

/// Fraction of sampled frames in which the detector finds a face of about the right size
/// near the rendered head.
fn detection_rate(p: &SynthParams, frames: &[u64]) -> f64 {
    let sc = plan(p);
    let r = Renderer::new(&sc);
    let mut det = FaceDetector::default();
    let mut hits = 0;
    for &i in frames {
        let f = r.render(i);
        let faces = det.detect(&f.luma, f.width, f.height);
        let ok = faces.first().is_some_and(|b| {
            let (cx, _) = b.center();
            (b.width / p.face_width_px - 1.0).abs() < 0.5
                && (cx - p.width as f32 / 2.0).abs() < 0.5 * p.face_width_px
        });
        if ok {
            hits += 1;
        } else {
            eprintln!(
                "{}x{} face {}: frame {i} missed: {faces:?}",
                p.width, p.height, p.face_width_px
            );
        }
    }
    hits as f64 / frames.len() as f64
}

#[test]
fn face_is_detected_at_several_sizes() {
    // Frames spread over a clip with every distractor and twitches.
    let frames: Vec<u64> = (0..12).map(|i| i * 47).collect();
    // At 80 px (40 px after the detector's shrink to 320) SeetaFace is at its limit: the
    // rendered face is found in ~80% of frames (rest ~100%, expressions and nods less).
    for (w, h, face, min_rate) in [
        (640, 480, 80.0, 0.65),
        (640, 480, 100.0, 0.9),
        (640, 480, 200.0, 0.9),
        (720, 1280, 400.0, 0.9),
        (720, 1280, 500.0, 0.9),
        (320, 240, 120.0, 0.9),
    ] {
        let p = SynthParams {
            seed: 3,
            width: w,
            height: h,
            face_width_px: face,
            ..SynthParams::default()
        };
        let rate = detection_rate(&p, &frames);
        assert!(
            rate >= min_rate,
            "{w}x{h} face {face}: detected in {:.0}% of frames",
            rate * 100.0
        );
    }
}

/// Mean image x of the pixels that change between rest and the peak of a twitch.
fn changed_x(mirrored: bool, side: Side) -> f64 {
    let p = SynthParams {
        seed: 5,
        width: 240,
        height: 180,
        face_width_px: 110.0,
        duration_s: 6.0,
        twitches: 1,
        side: Some(side),
        pattern: Some(PatternKind::Tonic),
        regions: Some(vec![RegionKind::Eye, RegionKind::Cheek, RegionKind::Mouth]),
        distractors: vec![],
        noise_sigma: 0.0,
        sway: 0.0,
        mirrored,
        ..SynthParams::default()
    };
    let sc = plan(&p);
    let tw = &sc.twitches[0];
    let r = Renderer::new(&sc);
    let rest = r.render(0);
    let peak = r.render(((tw.start_s + tw.end_s) / 2.0 * p.fps) as u64);
    let (mut sx, mut n) = (0.0, 0.0);
    for (i, (a, b)) in rest.luma.iter().zip(&peak.luma).enumerate() {
        if (*a as i32 - *b as i32).abs() > 12 {
            sx += (i % p.width as usize) as f64;
            n += 1.0;
        }
    }
    assert!(n > 50.0, "the twitch changes too few pixels ({n})");
    sx / n / p.width as f64
}

#[test]
fn twitch_sides_are_the_persons() {
    // Person's left eye is on the image's right in an unmirrored view.
    assert!(changed_x(false, Side::Left) > 0.55);
    assert!(changed_x(false, Side::Right) < 0.45);
    // Selfie view: flipped.
    assert!(changed_x(true, Side::Left) < 0.45);
    assert!(changed_x(true, Side::Right) > 0.55);
}

#[test]
fn labels_written_beside_clip_and_y4m() {
    let dir = tempfile::tempdir().unwrap();
    let p = SynthParams {
        duration_s: 0.5,
        fps: 10.0,
        mirrored: true,
        ..small(2)
    };
    let path = dir.path().join("clip.y4m");
    let labels = write_clip(&plan(&p), &path).unwrap();
    let text = std::fs::read_to_string(labels_path(&path)).unwrap();
    let back: Labels = serde_json::from_str(&text).unwrap();
    assert_eq!(back, labels);
    assert_eq!(back.clip, "clip.y4m");
    assert!(back.mirrored);
    assert_eq!(back.frames, 5);
    let y4m = std::fs::read(&path).unwrap();
    let frame = 160 * 120 * 3 / 2 + 6;
    let header = y4m.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert_eq!(y4m.len(), header + 5 * frame);
    assert!(y4m.starts_with(b"YUV4MPEG2 W160 H120 F10:1"));
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn mp4_parses_and_decodes() {
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;
    let dir = tempfile::tempdir().unwrap();
    let p = SynthParams {
        width: 320,
        height: 240,
        face_width_px: 120.0,
        duration_s: 1.0,
        fps: 25.0,
        ..SynthParams::default()
    };
    let sc = plan(&p);
    let path = dir.path().join("clip.mp4");
    write_clip(&sc, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut mp4 = mp4::Mp4Reader::read_header(Cursor::new(&bytes), bytes.len() as u64).unwrap();
    let (track_id, sps, pps, count, timescale) = {
        let t = mp4.tracks().values().next().expect("one track");
        assert_eq!(t.media_type().unwrap(), mp4::MediaType::H264);
        assert_eq!((t.width(), t.height()), (320, 240));
        assert!(
            (t.frame_rate() - 25.0).abs() < 0.01,
            "frame rate {}",
            t.frame_rate()
        );
        (
            t.track_id(),
            t.sequence_parameter_set().unwrap().to_vec(),
            t.picture_parameter_set().unwrap().to_vec(),
            t.sample_count(),
            t.timescale(),
        )
    };
    assert_eq!(count, 25);
    let mut dec = Decoder::new().unwrap();
    let originals: Vec<_> = render_frames(&sc).collect();
    let mut decoded = Vec::new();
    for i in 1..=count {
        let s = mp4.read_sample(track_id, i).unwrap().unwrap();
        assert_eq!(s.start_time, (i as u64 - 1) * timescale as u64 / 25);
        if i == 1 {
            assert!(s.is_sync);
        }
        // AVCC (4-byte lengths) → Annex B, parameter sets before the first picture.
        let mut annexb = Vec::new();
        if i == 1 {
            for ps in [&sps, &pps] {
                annexb.extend_from_slice(&[0, 0, 0, 1]);
                annexb.extend_from_slice(ps);
            }
        }
        let mut rest = &s.bytes[..];
        while rest.len() >= 4 {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            annexb.extend_from_slice(&[0, 0, 0, 1]);
            annexb.extend_from_slice(&rest[4..4 + n]);
            rest = &rest[4 + n..];
        }
        if let Some(yuv) = dec.decode(&annexb).unwrap() {
            let (w, h) = yuv.dimensions();
            let stride = yuv.strides().0;
            let y: Vec<u8> = (0..h)
                .flat_map(|r| yuv.y()[r * stride..r * stride + w].to_vec())
                .collect();
            decoded.push(y);
        }
    }
    assert!(decoded.len() >= 20, "decoded {} frames", decoded.len());
    for (i, y) in decoded.iter().enumerate().step_by(6) {
        let q = psnr(y, &originals[i].luma);
        assert!(q > 30.0, "frame {i}: PSNR {q:.1} dB");
    }
}

/// Vertical shift (pixels, + = down) of the patch of `a` centred at (x0, y0) (half sizes
/// hw, hh) that best matches `b` (sum of squared differences, parabolic sub-pixel fit).
fn vshift(
    a: &[u8],
    b: &[u8],
    w: usize,
    (x0, y0): (usize, usize),
    (hw, hh): (usize, usize),
    max: i32,
) -> f32 {
    let ssd = |dy: i32| -> f64 {
        let mut s = 0.0;
        for y in y0 - hh..=y0 + hh {
            let yb = (y as i32 + dy) as usize;
            for x in x0 - hw..=x0 + hw {
                let d = a[y * w + x] as f64 - b[yb * w + x] as f64;
                s += d * d;
            }
        }
        s
    };
    let costs: Vec<f64> = (-max..=max).map(ssd).collect();
    let i = (0..costs.len())
        .min_by(|&i, &j| costs[i].total_cmp(&costs[j]))
        .unwrap();
    let mut d = i as f32 - max as f32;
    if i > 0 && i + 1 < costs.len() {
        let (l, c, r) = (costs[i - 1], costs[i], costs[i + 1]);
        let den = l - 2.0 * c + r;
        if den > 0.0 {
            d += (0.5 * (l - r) / den) as f32;
        }
    }
    d
}

/// Still head, no noise, no distractors unless given.
fn still(
    side: Side,
    pattern: PatternKind,
    distractors: Vec<DistractorKind>,
    twitches: usize,
) -> SynthParams {
    SynthParams {
        seed: 4,
        width: 240,
        height: 200,
        face_width_px: 120.0,
        duration_s: 8.0,
        twitches,
        side: Some(side),
        pattern: Some(pattern),
        regions: Some(vec![RegionKind::Eye]),
        distractors,
        noise_sigma: 0.0,
        sway: 0.0,
        ..SynthParams::default()
    }
}

/// Brow and below-the-lower-lid patch centres of each side (index = `Side::index()`): the
/// darkest row of the brow band above each eye, found in the frame `rest`.
fn periocular_points(p: &SynthParams, rest: &[u8]) -> [((usize, usize), (usize, usize)); 2] {
    let w = p.width as usize;
    let s = 0.5 * p.face_width_px;
    let (cx, cy) = (0.5 * p.width as f32, 0.47 * p.height as f32);
    Side::BOTH.map(|side| {
        let ex = (cx + if side == Side::Left { 0.38 } else { -0.38 } * s) as usize;
        let ey = cy - 0.18 * s;
        let band = (ey - 0.5 * s) as usize..(ey - 0.15 * s) as usize;
        let row_sum = |y: usize| {
            (ex - 6..=ex + 6)
                .map(|x| rest[y * w + x] as u32)
                .sum::<u32>()
        };
        let brow_y = band.min_by_key(|&y| row_sum(y)).unwrap();
        ((ex, brow_y), (ex, (ey + 0.16 * s) as usize))
    })
}

#[test]
fn tonic_squeeze_moves_brow_and_lower_lid_on_one_side() {
    for side in Side::BOTH {
        let p = still(side, PatternKind::Tonic, vec![], 1);
        let sc = plan(&p);
        let tw = &sc.twitches[0];
        let TwitchShape::Tonic {
            ramp_s,
            onset_s,
            hold_s,
            lead,
            ..
        } = &tw.shape
        else {
            panic!("tonic wanted")
        };
        assert!(!lead.is_empty() && *onset_s <= 0.2 + 1e-9);
        assert!((tw.start_s - lead[0].start_s).abs() < 1e-9);
        let r = Renderer::new(&sc);
        let rest = r.render(0);
        let peak = r.render(((ramp_s + onset_s + 0.5 * hold_s) * p.fps).round() as u64);
        let pts = periocular_points(&p, &rest.luma);
        let fw = p.face_width_px;
        let w = p.width as usize;
        let m = |pt, f: &[u8]| vshift(&rest.luma, f, w, pt, (6, 3), 12) / fw * 100.0;
        let k = side.index();
        let o = side.other().index();
        let (brow, lower) = (m(pts[k].0, &peak.luma), m(pts[k].1, &peak.luma));
        let (brow_o, lower_o) = (m(pts[o].0, &peak.luma), m(pts[o].1, &peak.luma));
        eprintln!(
            "{side:?}: brow {brow:+.2}% lower {lower:+.2}% of face width; other side {brow_o:+.2}% {lower_o:+.2}%"
        );
        assert!(
            brow >= 3.0,
            "{side:?}: brow moved down only {brow:.2}% of the face width"
        );
        assert!(
            lower <= -1.5,
            "{side:?}: skin below the lower lid moved up only {:.2}%",
            -lower
        );
        assert!(
            brow_o.abs() < 0.5 && lower_o.abs() < 0.5,
            "{side:?}: other side moved {brow_o:.2}% / {lower_o:.2}%"
        );
    }
}

#[test]
fn clonic_jerks_are_fast_and_visible() {
    for seed in 0..30 {
        let sc = plan(&SynthParams {
            seed,
            pattern: Some(PatternKind::Clonic),
            ..SynthParams::default()
        });
        for tw in &sc.twitches {
            let TwitchShape::Clonic { jerks } = &tw.shape else {
                panic!()
            };
            for j in jerks {
                assert!(
                    (0.03..=0.08).contains(&j.rise_s),
                    "contraction {} s",
                    j.rise_s
                );
                assert!(
                    (0.06 - 1e-9..=0.15).contains(&(j.dur_s - j.rise_s)),
                    "relaxation {} s",
                    j.dur_s - j.rise_s
                );
                assert!((0.4..=1.0).contains(&j.amplitude));
            }
            assert!(
                (tw.activation(tw.start_s + 1e-3) - 0.0).abs() < 0.05
                    && tw.activation(tw.end_s) == 0.0
            );
        }
    }
}

#[test]
fn nod_and_blink_move_both_sides_alike() {
    for kind in [DistractorKind::Nod, DistractorKind::Blink] {
        let mut p = still(Side::Right, PatternKind::Tonic, vec![kind], 0);
        p.duration_s = 20.0;
        let sc = plan(&p);
        let d = sc
            .distractors
            .iter()
            .find(|d| d.kind == kind)
            .expect("distractor planned");
        let r = Renderer::new(&sc);
        let rest = r.render(0);
        // Mirror-image points (same rows) on both sides.
        let mut pts = periocular_points(&p, &rest.luma);
        pts[1].0.1 = pts[0].0.1;
        pts[1].1.1 = pts[0].1.1;
        let w = p.width as usize;
        let fw = p.face_width_px;
        let (a, b) = (
            (d.start_s * p.fps).ceil() as u64,
            (d.end_s * p.fps).floor() as u64,
        );
        for i in (a..=b).step_by(2) {
            let f = r.render(i);
            // The brows (strong, mirror-symmetric features; the skin texture differs between
            // the sides and biases sub-pixel matching under foreshortening).
            let l = vshift(&rest.luma, &f.luma, w, pts[0].0, (6, 3), 16) / fw * 100.0;
            let rr = vshift(&rest.luma, &f.luma, w, pts[1].0, (6, 3), 16) / fw * 100.0;
            assert!(
                (l - rr).abs() < 0.2,
                "{kind:?} frame {i}: brow moved {l:.2}% (left) vs {rr:.2}% (right) of face width"
            );
            // Blink: both eyes' openings change alike (the lids close together). (Under a nod
            // the luma changes depend on each side's own texture; displacements are checked.)
            if kind != DistractorKind::Blink {
                continue;
            }
            let s = 0.5 * fw;
            let (cx, cy) = (0.5 * p.width as f32, 0.47 * p.height as f32);
            let change = |sgn: f32| {
                let (ex, ey) = (cx + sgn * 0.38 * s, cy - 0.18 * s);
                let mut sum = 0.0f64;
                for y in (ey - 0.12 * s) as usize..(ey + 0.12 * s) as usize {
                    for x in (ex - 0.2 * s) as usize..(ex + 0.2 * s) as usize {
                        // Iris pixels covered by the lid (the skin's shading differs between
                        // the sides, the iris does not).
                        let (a, b) = (rest.luma[y * w + x], f.luma[y * w + x]);
                        if a < 90 && b > a + 30 {
                            sum += 1.0;
                        }
                    }
                }
                sum
            };
            let (cl, cr) = (change(1.0), change(-1.0));
            // Small counts (a 120 px face), and the pixel grid falls differently on each eye.
            assert!(
                (cl - cr).abs() <= 0.35 * cl.max(cr) + 6.0,
                "{kind:?} frame {i}: eye change left {cl:.0} vs right {cr:.0}"
            );
        }
    }
}

/// FNV-1a over the luma of some frames.
fn frames_checksum(p: &SynthParams, frames: &[u64]) -> u64 {
    let sc = plan(p);
    let r = Renderer::new(&sc);
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &i in frames {
        for &b in &r.render(i).luma {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// With the newer options off, existing seeds render exactly as before they were added (the
/// detector's tests are tuned on these frames).
#[test]
fn default_frames_unchanged() {
    let frames = [0, 77, 150, 301, 455, 599];
    let sums = [
        frames_checksum(&SynthParams::default(), &frames),
        frames_checksum(
            &SynthParams {
                mirrored: true,
                width: 360,
                height: 640,
                face_width_px: 150.0,
                ..SynthParams::default()
            },
            &frames,
        ),
    ];
    assert_eq!(sums, [0x9875_2a20_9fd2_dd44, 0xe9ad_f6f6_a877_e167]);
}

fn options_base(seed: u64) -> SynthParams {
    SynthParams {
        seed,
        width: 320,
        height: 240,
        face_width_px: 100.0,
        ..SynthParams::default()
    }
}

/// Pixels (x, y) that differ by more than `thr` luma levels.
fn changed(a: &[u8], b: &[u8], w: usize, thr: i32) -> Vec<(usize, usize)> {
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|(_, (p, q))| (**p as i32 - **q as i32).abs() > thr)
        .map(|(i, _)| (i % w, i / w))
        .collect()
}

fn frame(p: &SynthParams, i: u64) -> Vec<u8> {
    Renderer::new(&plan(p)).render(i).luma
}

#[test]
fn hand_covers_the_lower_face_on_its_side_and_is_labelled() {
    for seed in [1, 2, 3, 4] {
        let base = options_base(seed);
        let mut p = base.clone();
        p.distractors.push(DistractorKind::Hand);
        let sc = plan(&p);
        let sc0 = plan(&base);
        // Everything else is planned exactly as without the hand.
        assert_eq!(sc0.twitches, sc.twitches);
        let others: Vec<_> = sc
            .distractors
            .iter()
            .filter(|d| d.kind != DistractorKind::Hand)
            .cloned()
            .collect();
        assert_eq!(sc0.distractors, others);
        let hands: Vec<_> = sc
            .distractors
            .iter()
            .filter(|d| d.kind == DistractorKind::Hand)
            .collect();
        assert!(!hands.is_empty(), "seed {seed}: no hand");
        let labels = sc.labels("x.mp4");
        assert_eq!(labels.events.len(), sc0.labels("x.mp4").events.len());
        for d in &hands {
            let stay = d.end_s - d.start_s - 0.8;
            assert!((1.0..=2.0).contains(&stay), "seed {seed}: rests {stay} s");
            assert!(labels.distractors.iter().any(|l| l.kind == "hand"
                && (l.start_s - d.start_s).abs() < 1e-3
                && (l.end_s - d.end_s).abs() < 1e-3));
        }
        // Mid-occlusion: the hand hides the lower face on its side (person's left = image
        // right, unmirrored), below the eyes.
        let d = hands[0];
        let i = (0.5 * (d.start_s + d.end_s) * p.fps).round() as u64;
        let diff = changed(&frame(&base, i), &frame(&p, i), 320, 12);
        let (cx, cy, fw) = (160.0, 0.47 * 240.0, 100.0f64);
        let on_face: Vec<_> = diff
            .iter()
            .filter(|&&(x, y)| {
                let (u, v) = ((x as f64 - cx) / (0.5 * fw), (y as f64 - cy) / (0.5 * fw));
                u * u + (v / 1.3).powi(2) < 0.8
            })
            .collect();
        assert!(
            on_face.len() > 800,
            "seed {seed}: {} face pixels covered",
            on_face.len()
        );
        let mean_u = on_face.iter().map(|p| p.0 as f64 - cx).sum::<f64>() / on_face.len() as f64;
        let mean_v = on_face.iter().map(|p| p.1 as f64 - cy).sum::<f64>() / on_face.len() as f64;
        assert!(
            mean_u * d.rate as f64 > 0.1 * fw,
            "seed {seed}: hand side {} but mean dx {mean_u}",
            d.rate
        );
        assert!(mean_v > 0.1 * fw, "seed {seed}: hand too high ({mean_v})");
    }
}

#[test]
fn glasses_rims_around_both_eyes() {
    let base = options_base(2);
    let p = SynthParams {
        glasses: true,
        ..base.clone()
    };
    assert_eq!(plan(&base).twitches, plan(&p).twitches);
    let diff = changed(&frame(&base, 0), &frame(&p, 0), 320, 25);
    // Eyes at (±0.38, -0.18) half face widths from the head centre (sway < 2 px).
    let (cx, cy, s) = (160.0, 0.47 * 240.0, 50.0f64);
    let mut near = [0usize; 2];
    for &(x, y) in &diff {
        for (k, side) in [-1.0, 1.0].into_iter().enumerate() {
            let (du, dv) = (
                x as f64 - (cx + side * 0.38 * s),
                y as f64 - (cy - 0.18 * s),
            );
            if du.abs() < 0.35 * s && dv.abs() < 0.3 * s {
                near[k] += 1;
            }
        }
    }
    assert!(
        near.iter().all(|&n| n > 80),
        "rim pixels near the eyes {near:?}"
    );
    let ratio = near[0] as f64 / near[1] as f64;
    assert!((0.7..1.4).contains(&ratio), "eyes unlike {near:?}");
    // Nothing changes away from the face.
    assert!(
        diff.iter()
            .all(|&(x, y)| ((x as f64 - cx).abs() < s * 1.1) && ((y as f64 - cy).abs() < s * 1.0))
    );
    assert!(p.glasses && plan(&p).labels("x").note.unwrap().contains("glasses"));
}

#[test]
fn second_face_is_off_centre_smaller_and_labelled() {
    for seed in [1, 2, 3] {
        let base = options_base(seed);
        let p = SynthParams {
            second_face: true,
            ..base.clone()
        };
        let sc = plan(&p);
        assert_eq!(plan(&base).twitches, sc.twitches);
        assert_eq!(plan(&base).distractors, sc.distractors);
        let sf = sc.second_face.clone().unwrap();
        assert!((50.0..=60.0).contains(&sf.width_px));
        assert!(
            (sf.cx - 160.0).abs() > 0.7 * 100.0,
            "second face at {}",
            sf.cx
        );
        let diff = changed(&frame(&base, 0), &frame(&p, 0), 320, 12);
        assert!(diff.len() > 1500, "seed {seed}: {} pixels", diff.len());
        let mean_x = diff.iter().map(|p| p.0 as f64).sum::<f64>() / diff.len() as f64;
        assert!(
            (mean_x - 160.0).abs() > 50.0,
            "seed {seed}: mean x {mean_x}"
        );
        assert!(
            sc.labels("x")
                .distractors
                .iter()
                .any(|d| d.kind == "second_face" && d.start_s == 0.0 && d.end_s == 20.0)
        );
    }
}

#[test]
fn low_light_darkens_and_keeps_the_noise() {
    let base = options_base(1);
    let p = SynthParams {
        light: 0.3,
        ..base.clone()
    };
    let mean = |f: &[u8]| f.iter().map(|&v| v as f64).sum::<f64>() / f.len() as f64;
    let (a, b) = (frame(&base, 0), frame(&p, 0));
    let (ma, mb) = (mean(&a), mean(&b));
    assert!((mb / ma - 0.3).abs() < 0.05, "means {ma} {mb}");
    // Noise in absolute levels: a flat room patch has about the same spread.
    let sd = |f: &[u8]| {
        let patch: Vec<f64> = (10..30)
            .flat_map(|y| (280..310).map(move |x| (x, y)))
            .map(|(x, y)| f[y * 320 + x] as f64)
            .collect();
        let m = patch.iter().sum::<f64>() / patch.len() as f64;
        (patch.iter().map(|v| (v - m).powi(2)).sum::<f64>() / patch.len() as f64).sqrt()
    };
    assert!(sd(&b) > 0.6 * sd(&a), "noise {} {}", sd(&a), sd(&b));
}

#[test]
fn detector_finds_the_main_face_with_the_options() {
    let frames: Vec<u64> = (0..12).map(|i| i * 47).collect();
    for (name, p) in [
        (
            "glasses",
            SynthParams {
                glasses: true,
                ..SynthParams::default()
            },
        ),
        (
            "light 0.3",
            SynthParams {
                light: 0.3,
                ..SynthParams::default()
            },
        ),
        (
            "second face",
            SynthParams {
                second_face: true,
                ..SynthParams::default()
            },
        ),
    ] {
        for seed in [1, 3] {
            let p = SynthParams { seed, ..p.clone() };
            let rate = detection_rate(&p, &frames);
            assert!(rate >= 0.9, "{name} seed {seed}: {:.0}%", rate * 100.0);
        }
    }
}

#[test]
fn portrait_and_frame_rates_with_every_option() {
    for (fps, face) in [(25.0, 80.0), (30.0, 300.0), (60.0, 500.0)] {
        let mut p = SynthParams {
            seed: 9,
            width: 720,
            height: 1280,
            fps,
            face_width_px: face,
            duration_s: 4.0,
            glasses: true,
            second_face: true,
            light: 0.5,
            ..SynthParams::default()
        };
        p.distractors.push(DistractorKind::Hand);
        let sc = plan(&p);
        assert_eq!(sc.frame_count(), (4.0 * fps) as u64);
        let hand = sc
            .distractors
            .iter()
            .find(|d| d.kind == DistractorKind::Hand)
            .expect("a hand");
        let i = (0.5 * (hand.start_s + hand.end_s) * fps) as u64;
        let f = Renderer::new(&sc).render(i);
        assert_eq!(f.luma.len(), 720 * 1280);
        assert!((f.pts_s - i as f64 / fps).abs() < 1e-9);
    }
}

fn strength(seed: u64, closure: Option<f32>) -> SynthParams {
    SynthParams {
        seed,
        width: 320,
        height: 240,
        face_width_px: 100.0,
        duration_s: 30.0,
        twitches: 5,
        closure,
        ..SynthParams::default()
    }
}

/// `closure` scales each twitch's strength only: renders of one seed at two strengths have
/// the same times, sides, patterns, regions and distractors, and the labels carry the
/// strength per event.
#[test]
fn closure_is_labelled_and_pairs_across_strengths() {
    for seed in [3, 11, 42, 1000, 5000] {
        let base = plan(&strength(seed, None));
        let base_labels = base.labels("x.mp4");
        assert!(base_labels.events.iter().all(|e| e.closure.is_none()));
        assert!(
            !serde_json::to_string(&base_labels)
                .unwrap()
                .contains("closure")
        );
        for c in [0.2f32, 0.315, 0.6, 0.9] {
            let sc = plan(&strength(seed, Some(c)));
            assert_eq!(sc.twitches.len(), base.twitches.len());
            assert_eq!(sc.distractors, base.distractors);
            for (a, b) in sc.twitches.iter().zip(&base.twitches) {
                assert_eq!(
                    (a.start_s, a.end_s, a.side, &a.regions, a.pattern()),
                    (b.start_s, b.end_s, b.side, &b.regions, b.pattern())
                );
                assert_eq!(a.closure, Some(c));
            }
            let labels = sc.labels("x.mp4");
            for (e, b) in labels.events.iter().zip(&base_labels.events) {
                assert_eq!(e.closure, Some((c as f64 * 1000.0).round() / 1000.0));
                assert_eq!(
                    (e.start_s, e.end_s, e.side, &e.pattern),
                    (b.start_s, b.end_s, b.side, &b.pattern)
                );
            }
            let json = serde_json::to_string(&labels).unwrap();
            assert!(
                json.contains(&format!(
                    "\"closure\":{}",
                    (c as f64 * 1000.0).round() / 1000.0
                )),
                "{json}"
            );
        }
    }
}

/// The affected eye's aperture (the visible eyeball on the line through the eye's centre, in
/// the renderer's geometry: lids, skin pulled by the squeeze, lid push of the cheek) narrows
/// by the closure at each twitch's peak, never by more, and the other eye stays open.
#[test]
fn closure_narrows_the_rendered_eye_by_that_fraction() {
    for c in [0.2f32, 0.3, 0.45, 0.6, 0.9] {
        for seed in [5u64, 6, 7] {
            let sc = plan(&strength(seed, Some(c)));
            let r = Renderer::new(&sc);
            assert!(!sc.twitches.is_empty());
            for tw in &sc.twitches {
                let (t, _) = tw.peak();
                let n = r.eye_narrowing(t, tw.side);
                assert!(
                    (n - c).abs() < 0.01,
                    "seed {seed} closure {c}: narrowed {n}"
                );
                let other = if tw.side == Side::Left {
                    Side::Right
                } else {
                    Side::Left
                };
                assert!(r.eye_narrowing(t, other) < 0.02);
                // Never more than the peak, frame by frame.
                let (f0, f1) = ((tw.start_s * 30.0) as u64, (tw.end_s * 30.0) as u64 + 1);
                for i in f0..=f1 {
                    let n = r.eye_narrowing(i as f64 / 30.0, tw.side);
                    assert!(n < c + 0.01, "frame {i}: {n} > {c}");
                }
            }
        }
    }
}

/// Sclera pixels (bright) in columns x0..x1 and rows y0..y1 (around one eye) of a
/// noise-free, still render.
fn sclera_pixels(frame: &[u8], w: usize, (y0, y1): (usize, usize), x0: usize, x1: usize) -> usize {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| frame[y * w + x] > 150)
        .count()
}

/// The narrowing seen in the pixels: at a large face, the bright sclera of the affected eye
/// shrinks with the closure (the lids' shadow and lash lines make it a rough measure), the
/// other eye's not.
#[test]
fn closure_narrows_the_eye_in_the_pixels() {
    let (w, h) = (640usize, 480usize);
    let mut seen = vec![];
    for c in [0.3f32, 0.6] {
        let p = SynthParams {
            seed: 9,
            width: w as u32,
            height: h as u32,
            face_width_px: 400.0,
            duration_s: 12.0,
            twitches: 2,
            side: Some(Side::Left),
            pattern: Some(PatternKind::Tonic),
            regions: Some(vec![RegionKind::Eye]),
            distractors: vec![],
            noise_sigma: 0.0,
            sway: 0.0,
            closure: Some(c),
            ..SynthParams::default()
        };
        let sc = plan(&p);
        let r = Renderer::new(&sc);
        let tw = &sc.twitches[0];
        let (t, _) = tw.peak();
        let rest = r.render(0).luma;
        let peak = r.render((t * 30.0).round() as u64).luma;
        // Person's left eye: image right (unmirrored); the sclera beside the iris.
        let (cx, half) = (w as f32 / 2.0, 200.0f32);
        // Rows within 0.12 face units (half face widths) of the eyes' centre line.
        let ey = 0.47 * h as f32 - 0.18 * half;
        let rows = ((ey - 0.12 * half) as usize, (ey + 0.12 * half) as usize);
        let band = |u0: f32, u1: f32| ((cx + u0 * half) as usize, (cx + u1 * half) as usize);
        let (l0, l1) = band(0.23, 0.29);
        let (r0, r1) = band(-0.29, -0.23);
        let (al, bl) = (
            sclera_pixels(&rest, w, rows, l0, l1),
            sclera_pixels(&peak, w, rows, l0, l1),
        );
        let (ar, br) = (
            sclera_pixels(&rest, w, rows, r0, r1),
            sclera_pixels(&peak, w, rows, r0, r1),
        );
        assert!(al > 100 && ar > 100, "{al} {ar}");
        eprintln!("closure {c}: sclera pixels {al} at rest, {bl} at the peak");
        assert_eq!(ar, br, "the other eye changed");
        let seen_n = 1.0 - bl as f32 / al as f32;
        assert!(
            (seen_n - c).abs() < 0.15,
            "closure {c}: sclera shrank by {seen_n}"
        );
        seen.push(seen_n);
    }
    assert!(seen[1] > seen[0] + 0.15, "{seen:?}");
}

fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h = (*h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
}

/// Existing seeds render and label exactly as before strength, the new patterns and the weak
/// distractors were added (those draw from their own random streams): frames through the
/// twitches and the labels' JSON, plain and with every older option.
#[test]
fn old_seeds_unchanged_by_strength_options() {
    let expected: [(u64, [(u64, u64); 2]); 6] = [
        (
            1,
            [
                (0xace0b02f1ef03da9, 0x78edaa610ae9935f),
                (0x37768fc7ec6e1a7c, 0x8ccb39767a7be9fd),
            ],
        ),
        (
            2,
            [
                (0x3ee03a6141b7e18f, 0xa803748fce9f678b),
                (0xbef20db76137dcab, 0x9df41a1d4174e914),
            ],
        ),
        (
            3,
            [
                (0xc9f3ce2dbc88731b, 0x98526007bad0fa42),
                (0x42c5f5c8776c76fc, 0xbff781f041fd30db),
            ],
        ),
        (
            17,
            [
                (0xa1658bfeaec20e92, 0x0f88cc4eab19751a),
                (0x5d38b9aac25f8448, 0x46113a35292a8ae6),
            ],
        ),
        (
            1000,
            [
                (0x26475d59ab00f351, 0x677233e00495c449),
                (0xca79178624ba0600, 0x883a784acc503997),
            ],
        ),
        (
            5000,
            [
                (0xbe39464fedb45424, 0xcbbc3d112bee5c56),
                (0x35feec05ad00dda0, 0x0f25cd3cd16426d0),
            ],
        ),
    ];
    for (seed, sums) in expected {
        for (opts, want) in sums.into_iter().enumerate() {
            let p = SynthParams {
                seed,
                width: 320,
                height: 240,
                face_width_px: 100.0,
                duration_s: 20.0,
                twitches: 4,
                glasses: opts == 1,
                second_face: opts == 1,
                mirrored: opts == 1,
                distractors: if opts == 1 {
                    DistractorKind::ALL_EXTENDED.to_vec()
                } else {
                    DistractorKind::ALL.to_vec()
                },
                ..SynthParams::default()
            };
            let sc = plan(&p);
            let r = Renderer::new(&sc);
            let mut frames: Vec<u64> = (0..600).step_by(37).collect();
            for t in &sc.twitches {
                frames.push(((t.start_s + t.end_s) * 0.5 * 30.0) as u64);
                frames.push(((t.start_s + 0.1) * 30.0) as u64);
            }
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for i in frames {
                fnv(&mut h, &r.render(i).luma);
            }
            let json = serde_json::to_string(&sc.labels("x.mp4")).unwrap();
            let mut hl = 0xcbf2_9ce4_8422_2325u64;
            fnv(&mut hl, json.as_bytes());
            assert_eq!((h, hl), want, "seed {seed}, options {opts}");
        }
    }
}

/// `single`: one jerk of 60-150 ms per event, labelled "single", its strength set by the
/// closure like the others.
#[test]
fn single_jerks_are_brief_and_take_the_closure() {
    for seed in [1u64, 2, 3] {
        let p = SynthParams {
            pattern: Some(PatternKind::Single),
            ..strength(seed, Some(0.45))
        };
        let sc = plan(&p);
        assert_eq!(sc.twitches.len(), 5);
        let r = Renderer::new(&sc);
        for tw in &sc.twitches {
            let TwitchShape::Single { jerk } = &tw.shape else {
                panic!("{:?}", tw.shape)
            };
            assert!((0.06..=0.15).contains(&jerk.dur_s), "{}", jerk.dur_s);
            assert!((tw.end_s - tw.start_s - jerk.dur_s).abs() < 1e-9);
            let (t, _) = tw.peak();
            assert!((r.eye_narrowing(t, tw.side) - 0.45).abs() < 0.01);
        }
        let labels = sc.labels("x.mp4");
        assert!(
            labels
                .events
                .iter()
                .all(|e| e.pattern.as_deref() == Some("single") && e.closure == Some(0.45))
        );
    }
}

/// `flutter`: the lower lid alone rises by the labelled travel (percent of the face width)
/// at 5-10 Hz, one labelled event per run.
#[test]
fn flutter_raises_the_lower_lid_by_its_travel_at_5_to_10_hz() {
    for (seed, pct) in [(1u64, Some(1.0f32)), (2, Some(2.0)), (3, None)] {
        let p = SynthParams {
            pattern: Some(PatternKind::Flutter),
            lid_travel_pct: pct,
            distractors: vec![],
            ..strength(seed, None)
        };
        let sc = plan(&p);
        let r = Renderer::new(&sc);
        let labels = sc.labels("x.mp4");
        assert_eq!(labels.events.len(), sc.twitches.len());
        for (tw, e) in sc.twitches.iter().zip(&labels.events) {
            assert_eq!(e.pattern.as_deref(), Some("flutter"));
            assert_eq!(e.regions, vec![RegionKind::Eye]);
            let travel = e.lid_travel_pct.unwrap();
            if let Some(pct) = pct {
                assert_eq!(travel, pct as f64);
            } else {
                assert!((0.5..=2.0).contains(&travel));
            }
            // Travel in face units over the rest opening (0.14875 face units at the centre).
            let want = (travel / 100.0 * 2.0 / 0.14875) as f32;
            let (t, _) = tw.peak();
            let n = r.eye_narrowing(t, tw.side);
            assert!(
                (n - want).abs() < 0.01,
                "seed {seed}: narrowed {n}, want {want}"
            );
            // Pulses: upward crossings of half the peak, per second of the run.
            let TwitchShape::Flutter { dur_s, .. } = tw.shape else {
                panic!()
            };
            let (mut pulses, mut above) = (0, false);
            for i in 0..((tw.end_s - tw.start_s) * 1000.0) as usize {
                let a = tw.activation(tw.start_s + i as f64 * 1e-3);
                if a > 0.5 && !above {
                    pulses += 1;
                }
                above = a > 0.5;
            }
            let hz = pulses as f64 / dur_s;
            assert!((4.0..=11.0).contains(&hz), "{pulses} pulses in {dur_s} s");
        }
    }
}

/// The weak-twitch distractors: half blinks and looking down narrow both eyes alike, a squint
/// from a head turn narrows the far eye with the head turned; all are labelled, kept off the
/// twitches, and leave the clip's other distractors and twitches as they were.
#[test]
fn weak_distractors_narrow_eyes_as_described() {
    let mut seen = [0usize; 3];
    for (seed, weak) in [4u64, 8, 15]
        .into_iter()
        .flat_map(|s| DistractorKind::WEAK.map(|k| (s, k)))
    {
        let base = plan(&strength(seed, Some(0.3)));
        let p = SynthParams {
            distractors: [DistractorKind::ALL.as_slice(), &[weak]].concat(),
            ..strength(seed, Some(0.3))
        };
        let sc = plan(&p);
        assert_eq!(sc.twitches, base.twitches);
        let older: Vec<_> = sc
            .distractors
            .iter()
            .filter(|d| d.kind != weak)
            .cloned()
            .collect();
        assert_eq!(older, base.distractors);
        // Measured alone (blinks and smiles move the lids too).
        let sc = plan(&SynthParams {
            distractors: vec![weak],
            ..strength(seed, Some(0.3))
        });
        let r = Renderer::new(&sc);
        let kinds: Vec<String> = sc
            .labels("x.mp4")
            .distractors
            .iter()
            .map(|d| d.kind.clone())
            .collect();
        for d in &sc.distractors {
            assert!(kinds.contains(&d.kind.label().to_string()));
            for tw in &sc.twitches {
                assert!(d.end_s + 0.5 <= tw.start_s || d.start_s >= tw.end_s + 0.5);
            }
            let t = 0.5 * (d.start_s + d.end_s);
            let (l, rt) = (
                r.eye_narrowing(t, Side::Left),
                r.eye_narrowing(t, Side::Right),
            );
            match d.kind {
                DistractorKind::HalfBlink => {
                    assert!(
                        (l - rt).abs() < 0.01 && (0.2..0.75).contains(&l),
                        "{l} {rt}"
                    );
                    seen[0] += 1;
                }
                DistractorKind::LookDown => {
                    assert!((l - rt).abs() < 0.01 && l > 0.15, "{l} {rt}");
                    seen[1] += 1;
                }
                DistractorKind::TurnSquint => {
                    let (far, near) = if d.amplitude > 0.0 { (l, rt) } else { (rt, l) };
                    assert!(far > near + 0.1 && near < 0.05, "far {far} near {near}");
                    seen[2] += 1;
                }
                _ => unreachable!(),
            }
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}
