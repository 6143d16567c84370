//! Renders a synthetic clip in memory, saves some frames as PNG and reports how often the
//! face detector finds the face.
//!
//! `cargo run --release --example synth_preview -- OUT_DIR [WIDTHxHEIGHT] [FACE_WIDTH] [SEED]`

use std::time::Instant;
use twitchwatch::devtools::synth::{SynthParams, plan, render_frames};
use twitchwatch::test_support::{DetectorParams, FaceDetector};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("."));
    let (w, h) = args
        .get(2)
        .and_then(|s| s.split_once('x'))
        .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
        .unwrap_or((640, 480));
    let face: f32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200.0);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let params = SynthParams {
        seed,
        width: w,
        height: h,
        face_width_px: face,
        duration_s: 20.0,
        ..SynthParams::default()
    };
    let sc = plan(&params);
    println!("{:#?}", sc.labels("preview"));
    std::fs::create_dir_all(&out)?;
    let mut dp = DetectorParams::default();
    if let Some(v) = std::env::var("MIN_FACE_PX")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        dp.min_face_px = v;
    }
    let mut det = FaceDetector::new(dp);
    let (mut found, mut n, mut render_s, mut detect_s) = (0, 0, 0.0, 0.0);
    let mut it = render_frames(&sc);
    loop {
        let t = Instant::now();
        let Some(f) = it.next() else { break };
        render_s += t.elapsed().as_secs_f64();
        if f.index % 10 == 0 {
            let t = Instant::now();
            let faces = det.detect(&f.luma, f.width, f.height);
            detect_s += t.elapsed().as_secs_f64();
            n += 1;
            if let Some(b) = faces.first() {
                found += 1;
                if f.index % 100 == 0 {
                    println!("frame {}: box {b:?}", f.index);
                }
                if (b.width - face).abs() > 0.5 * face {
                    println!("frame {}: odd box {b:?}", f.index);
                }
            } else {
                println!("frame {} ({:.2} s): no face", f.index, f.pts_s);
            }
        }
        if f.index % 60 == 0 {
            let img = image::GrayImage::from_raw(f.width, f.height, f.luma.clone()).unwrap();
            img.save(out.join(format!("synth_{seed}_{w}x{h}_f{face}_{:04}.png", f.index)))?;
        }
    }
    let frames = sc.frame_count() as f64;
    println!(
        "face found in {found}/{n} sampled frames; render {:.1} ms/frame, detect {:.1} ms/frame",
        render_s / frames * 1e3,
        detect_s / n.max(1) as f64 * 1e3
    );
    Ok(())
}
