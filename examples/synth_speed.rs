//! Render speed of the synthetic clip renderer (one core, no encoding).
//!
//! `cargo run --release --example synth_speed -- [WIDTHxHEIGHT] [FACE_WIDTH] [SEED] [FRAMES]`

use std::time::Instant;
use twitchwatch::devtools::synth::{Renderer, SynthParams, plan};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (w, h) = args
        .get(1)
        .and_then(|s| s.split_once('x'))
        .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
        .unwrap_or((640, 480));
    let face: f32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200.0);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let frames: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(600);
    let sc = plan(&SynthParams {
        seed,
        width: w,
        height: h,
        face_width_px: face,
        ..SynthParams::default()
    });
    let t = Instant::now();
    let r = Renderer::new(&sc);
    let setup = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut sum = 0u64;
    let n = frames.min(sc.frame_count());
    for i in 0..n {
        sum += r.render(i).luma[0] as u64;
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "{w}x{h} face {face}: setup {:.1} ms, render {:.2} ms/frame over {n} frames ({sum})",
        setup * 1e3,
        per * 1e3
    );
}
