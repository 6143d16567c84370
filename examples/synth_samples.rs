//! Renders the sample clips in `sample_videos/` (H.264 MP4 + labels).
//!
//! `cargo run --release --example synth_samples -- [OUT_DIR]` (default `sample_videos`).

use twitchwatch::analysis::anatomy::Side;
use twitchwatch::devtools::synth::{PatternKind, SynthParams, plan, write_clip};

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "sample_videos".into()),
    );
    let base = SynthParams {
        width: 480,
        height: 360,
        fps: 30.0,
        duration_s: 20.0,
        face_width_px: 150.0,
        bitrate_bps: Some(300_000),
        ..SynthParams::default()
    };
    let clips = [
        (
            "clonic_left.mp4",
            SynthParams {
                seed: 11,
                twitches: 4,
                side: Some(Side::Left),
                pattern: Some(PatternKind::Clonic),
                ..base.clone()
            },
        ),
        (
            "tonic_right.mp4",
            SynthParams {
                seed: 12,
                twitches: 3,
                side: Some(Side::Right),
                pattern: Some(PatternKind::Tonic),
                ..base.clone()
            },
        ),
        (
            "distractors_only.mp4",
            SynthParams {
                seed: 13,
                twitches: 0,
                ..base.clone()
            },
        ),
        (
            "mixed.mp4",
            SynthParams {
                seed: 14,
                twitches: 4,
                mirrored: true,
                face_width_px: 120.0,
                duration_s: 25.0,
                ..base.clone()
            },
        ),
    ];
    for (name, p) in clips {
        let path = dir.join(name);
        let labels = write_clip(&plan(&p), &path)?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "{}: {} events, {} distractors, {} KB",
            path.display(),
            labels.events.len(),
            labels.distractors.len(),
            size / 1024
        );
    }
    Ok(())
}
