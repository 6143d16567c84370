//! Accuracy on the synthetic suite: one-sided clonic and tonic twitches on both sides, with
//! every distractor (blinks, talking, smiles, head turns, nods, shake, flicker, a walker,
//! noise). Clips are rendered in memory and analysed by the same pipeline as real clips.
//!
//! The same suite on disk: `twitchwatch synth --suite 8 --size 480x360 --face-width 150
//! --duration 15 --out suite/ && twitchwatch eval --dir suite/`.

use twitchwatch::analysis::anatomy::Side;
use twitchwatch::analysis::pipeline::{self, AnalyzeOptions};
use twitchwatch::devtools::eval::{EvalParams, Scores, pool, score};
use twitchwatch::devtools::synth::{SynthParams, plan, render_frames};
use twitchwatch::outputs::events::Event;
use twitchwatch::source::{Frame, FrameSource, SourceError, SourceInfo};

/// Frames rendered on demand, as a source (a test double for a decoder).
struct Rendered<I: Iterator<Item = Frame> + Send> {
    frames: I,
    info: SourceInfo,
}

impl<I: Iterator<Item = Frame> + Send> FrameSource for Rendered<I> {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        Ok(self.frames.next())
    }
}

fn suite_params(seed: u64) -> SynthParams {
    SynthParams {
        seed,
        width: 480,
        height: 360,
        face_width_px: 150.0,
        duration_s: 15.0,
        twitches: 3,
        ..SynthParams::default()
    }
}

fn run_clip(params: &SynthParams) -> Scores {
    let scenario = plan(params);
    let labels = scenario.labels(&format!("synth_{}", params.seed));
    let frames: Vec<Frame> = render_frames(&scenario).collect();
    let source = Rendered {
        frames: frames.into_iter(),
        info: SourceInfo::default(),
    };
    let mut opts = AnalyzeOptions {
        channel_capacity: 8,
        ..AnalyzeOptions::default()
    };
    opts.motion.mirrored = params.mirrored;
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    pipeline::run(Box::new(source), "synthetic", &opts, &mut emit, &mut ())
        .expect("in-memory source");
    score(&labels, &events, &EvalParams::default())
}

#[test]
fn synthetic_suite_f1_at_least_0_95_and_sides_always_right() {
    let seeds = std::env::var("TWITCHWATCH_SUITE_SEEDS")
        .ok()
        .and_then(|s| {
            s.split_once("..")
                .and_then(|(a, b)| Some(a.parse::<u64>().ok()?..=b.parse::<u64>().ok()?))
        })
        .unwrap_or(1..=8u64);
    let mut rows = vec![];
    let mut sides = std::collections::BTreeSet::new();
    let mut patterns = std::collections::BTreeSet::new();
    for seed in seeds {
        let p = suite_params(seed);
        for e in plan(&p).labels("x").events {
            sides.insert(e.side);
            patterns.insert(e.pattern.clone().unwrap_or_default());
        }
        rows.push(run_clip(&p));
    }
    let total = pool(&rows);
    println!(
        "{}",
        twitchwatch::devtools::eval::format_table(&rows, Some(&total))
    );
    assert!(
        total.labelled >= 20,
        "the suite has {} twitches",
        total.labelled
    );
    assert!(
        sides.contains(&Side::Left) && sides.contains(&Side::Right),
        "{sides:?}"
    );
    assert!(
        patterns.contains("clonic") && patterns.contains("tonic"),
        "{patterns:?}"
    );
    assert!(total.f1 >= 0.95, "F1 {:.3}", total.f1);
    assert_eq!(
        total.side_accuracy,
        Some(1.0),
        "every matched twitch on the right side"
    );
}
