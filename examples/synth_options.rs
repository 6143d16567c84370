//! Saves PNG frames of a synthetic clip with the optional scene features (hand occlusion,
//! glasses, a second face, low light), for looking at them.
//!
//! `cargo run --release --example synth_options -- OUT_DIR [WIDTHxHEIGHT] [FACE_WIDTH] [SEED]
//! [hand,glasses,second,light=0.3] [FRAME...]`

use twitchwatch::devtools::synth::{DistractorKind, Renderer, SynthParams, plan};

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
    let opts = args.get(5).cloned().unwrap_or_default();
    let mut p = SynthParams {
        seed,
        width: w,
        height: h,
        face_width_px: face,
        ..SynthParams::default()
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("light", v)) => p.light = v.parse()?,
            _ if o == "hand" => p.distractors.push(DistractorKind::Hand),
            _ if o == "glasses" => p.glasses = true,
            _ if o == "second" => p.second_face = true,
            _ => anyhow::bail!("unknown option {o:?}"),
        }
    }
    let sc = plan(&p);
    let labels = sc.labels("options");
    println!("{}", serde_json::to_string_pretty(&labels)?);
    let mut frames: Vec<u64> = args[6.min(args.len())..]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    if frames.is_empty() {
        // Middle of each hand occlusion, else frame 0.
        frames = sc
            .distractors
            .iter()
            .filter(|d| d.kind == DistractorKind::Hand)
            .map(|d| (0.5 * (d.start_s + d.end_s) * p.fps) as u64)
            .collect();
        frames.push(0);
    }
    std::fs::create_dir_all(&out)?;
    let r = Renderer::new(&sc);
    for i in frames {
        let f = r.render(i);
        let img = image::GrayImage::from_raw(f.width, f.height, f.luma).unwrap();
        let name = format!(
            "options_{seed}_{w}x{h}_{}_{i:04}.png",
            opts.replace(['=', ','], "_")
        );
        img.save(out.join(&name))?;
        println!("{name}");
    }
    Ok(())
}
