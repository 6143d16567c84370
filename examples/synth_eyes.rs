//! Eye-region check of the synthetic squeeze: saves PNG crops of the upper face at rest and
//! during a tonic twitch (both sides visible), and prints the vertical displacement of the
//! brow and of the skin below the lower lid on each side, measured by block matching on the
//! rendered frames.
//!
//! `cargo run --release --example synth_eyes -- OUT_DIR [SEED] [FACE_WIDTH]`

use twitchwatch::analysis::anatomy::{RegionKind, Side};
use twitchwatch::devtools::synth::{PatternKind, Renderer, SynthParams, TwitchShape, plan};

/// Vertical shift (pixels, + = down) of the patch of `a` centred at (x0, y0) found in `b`.
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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("."));
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let fw: f32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200.0);
    std::fs::create_dir_all(&out)?;
    let p = SynthParams {
        seed,
        face_width_px: fw,
        duration_s: 8.0,
        twitches: 1,
        side: Some(Side::Right),
        pattern: Some(PatternKind::Tonic),
        regions: Some(vec![RegionKind::Eye]),
        distractors: vec![],
        noise_sigma: 0.0,
        sway: 0.0,
        ..SynthParams::default()
    };
    let sc = plan(&p);
    let tw = &sc.twitches[0];
    println!("{tw:?}");
    let r = Renderer::new(&sc);
    let (w, h) = (p.width as usize, p.height as usize);
    let rest = r.render(0);
    let peak_t = match &tw.shape {
        TwitchShape::Tonic { hold_s, .. } => tw.end_s - 0.5 * hold_s,
        _ => 0.5 * (tw.start_s + tw.end_s),
    };
    let peak = r.render((peak_t * p.fps).round() as u64);
    let s = 0.5 * fw;
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.47);
    // Crop: upper face, both eyes; rest above, peak below, 2x.
    let (x0, x1) = ((cx - 0.8 * s) as usize, (cx + 0.8 * s) as usize);
    let (y0, y1) = ((cy - 0.75 * s) as usize, (cy + 0.25 * s) as usize);
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut img = image::GrayImage::new(2 * cw as u32, 4 * ch as u32);
    for (k, f) in [&rest, &peak].iter().enumerate() {
        for y in 0..2 * ch {
            for x in 0..2 * cw {
                let v = f.luma[(y0 + y / 2) * w + x0 + x / 2];
                img.put_pixel(x as u32, (k * 2 * ch + y) as u32, image::Luma([v]));
            }
        }
    }
    let path = out.join(format!("eyes_seed{seed}_f{fw}.png"));
    img.save(&path)?;
    println!("saved {}", path.display());
    // Brow and below-lower-lid displacement per side (person's right = image left).
    let max = (0.08 * fw).ceil() as i32;
    let (hw, hh) = ((0.05 * fw) as usize, (0.025 * fw) as usize);
    for side in Side::BOTH {
        let sx = if side == Side::Left { 1.0 } else { -1.0 };
        let ex = (cx + sx * 0.38 * s) as usize;
        let brow = (ex, (cy + (-0.18 - 0.27) * s) as usize);
        let below = (ex, (cy + (-0.18 + 0.16) * s) as usize);
        let mut line = format!("{:>5}: ", side.as_str());
        for t in [
            tw.start_s,
            tw.start_s + 0.1,
            tw.start_s + 0.3,
            peak_t,
            tw.end_s - 0.1,
        ] {
            let f = r.render((t * p.fps).round() as u64);
            let db = vshift(&rest.luma, &f.luma, w, brow, (hw, hh), max) / fw * 100.0;
            let dl = vshift(&rest.luma, &f.luma, w, below, (hw, hh), max) / fw * 100.0;
            line += &format!("t={t:.2}: brow {db:+.1}% lower {dl:+.1}%  ");
        }
        println!("{line}");
    }
    Ok(())
}
