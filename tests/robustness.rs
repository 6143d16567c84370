//! Robustness cases, each rendered with one-sided twitches and analysed by the same pipeline
//! as real clips: a hand over the face, glasses, a head turning, small and large faces,
//! portrait video, other frame rates, low light and noise, lighting flicker, compression,
//! the face lost and found, a second face, and a mirrored selfie view.
//!
//! Each case prints its scores; run `cargo test --release --test robustness -- --nocapture`
//! to see them all.

use twitchwatch::analysis::anatomy::Side;
use twitchwatch::analysis::pipeline::{self, AnalyzeOptions};
use twitchwatch::devtools::eval::{EvalParams, Scores, score};
use twitchwatch::devtools::labels::Labels;
use twitchwatch::devtools::synth::{DistractorKind, SynthParams, plan, render_frames, write_clip};
use twitchwatch::outputs::events::Event;
use twitchwatch::source::{Frame, FrameSource, SourceError, SourceInfo, open_clip};

struct Frames {
    frames: std::vec::IntoIter<Frame>,
    info: SourceInfo,
}

impl FrameSource for Frames {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        Ok(self.frames.next())
    }
}

fn analyse(source: Box<dyn FrameSource>, mirrored: bool) -> Vec<Event> {
    let mut opts = AnalyzeOptions {
        channel_capacity: 8,
        ..AnalyzeOptions::default()
    };
    opts.motion.mirrored = mirrored;
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    pipeline::run(source, "case", &opts, &mut emit, &mut ()).expect("analysis runs");
    events
}

/// Renders `p` in memory (optionally editing the frames), analyses, scores.
fn case(name: &str, p: SynthParams, edit: impl Fn(&mut Frame)) -> (Labels, Vec<Event>, Scores) {
    let scenario = plan(&p);
    let labels = scenario.labels(name);
    let mut frames: Vec<Frame> = render_frames(&scenario).collect();
    frames.iter_mut().for_each(edit);
    let source = Frames {
        frames: frames.into_iter(),
        info: SourceInfo::default(),
    };
    let events = analyse(Box::new(source), p.mirrored);
    let s = score(&labels, &events, &EvalParams::default());
    report(name, &s);
    (labels, events, s)
}

fn report(name: &str, s: &Scores) {
    println!(
        "{name:28} labelled {} detected {} tp {} fp {} fn {} side {:?} f1 {:.3}",
        s.labelled, s.detected, s.tp, s.fp, s.fn_, s.side_accuracy, s.f1
    );
}

fn base(seed: u64) -> SynthParams {
    SynthParams {
        seed,
        width: 480,
        height: 360,
        face_width_px: 150.0,
        duration_s: 12.0,
        twitches: 3,
        ..SynthParams::default()
    }
}

/// Twitches found on the right side, at most `max_missed` missed and no false alarm.
fn assert_good(s: &Scores, max_missed: u64) {
    assert!(s.labelled > 0, "the case has twitches");
    assert!(s.fn_ <= max_missed, "missed {} of {}", s.fn_, s.labelled);
    assert_eq!(s.fp, 0, "false alarms");
    assert_eq!(s.side_accuracy, Some(1.0), "sides");
}

/// A hand over one cheek while the person blinks: no false alarm (a blink during the hand
/// once read as one-sided; 40 seeds, 12 with a blink under a hand, now give none).
#[test]
fn hand_over_the_face() {
    let p = SynthParams {
        distractors: DistractorKind::ALL_EXTENDED.to_vec(),
        ..base(21)
    };
    let (labels, _, s) = case("hand", p, |_| {});
    let hands: Vec<_> = labels
        .distractors
        .iter()
        .filter(|d| d.kind == "hand")
        .collect();
    assert!(!hands.is_empty(), "the clip has a hand");
    assert!(
        labels.distractors.iter().any(|d| d.kind == "blink"
            && hands
                .iter()
                .any(|h| d.start_s < h.end_s && d.end_s > h.start_s)),
        "the clip has a blink while the hand is there"
    );
    assert_good(&s, 1);
}

/// Glasses: the rims hide the lids from the flow, so the eyes' look measures the squeezes
/// (`twitchwatch::analysis::measure::eyes`); every twitch says so.
#[test]
fn glasses() {
    let (_, events, s) = case(
        "glasses",
        SynthParams {
            glasses: true,
            ..base(22)
        },
        |_| {},
    );
    assert_good(&s, 1);
    assert!(
        events
            .iter()
            .filter_map(Event::as_twitch)
            .all(|t| t.glasses)
    );
}

/// Glasses and no twitches: blinks, talking, head motion, flicker, a walker behind and a
/// hand over the face give no event.
#[test]
fn glasses_without_twitches_are_silent() {
    let p = SynthParams {
        glasses: true,
        twitches: 0,
        duration_s: 20.0,
        distractors: DistractorKind::ALL_EXTENDED.to_vec(),
        ..base(25)
    };
    let (labels, events, _) = case("glasses, no twitches", p, |_| {});
    assert!(labels.distractors.iter().any(|d| d.kind == "blink"));
    assert!(labels.distractors.iter().any(|d| d.kind == "hand"));
    let twitches: Vec<_> = events.iter().filter_map(Event::as_twitch).collect();
    assert!(twitches.is_empty(), "{twitches:?}");
}

#[test]
fn small_face_80_px() {
    let p = SynthParams {
        width: 640,
        height: 480,
        face_width_px: 80.0,
        ..base(23)
    };
    let (_, _, s) = case("small face 80 px", p, |_| {});
    assert_good(&s, 1);
}

#[test]
fn large_face_500_px_portrait_720x1280() {
    let p = SynthParams {
        width: 720,
        height: 1280,
        face_width_px: 500.0,
        duration_s: 8.0,
        twitches: 2,
        ..base(24)
    };
    let (_, _, s) = case("large face 500 px portrait", p, |_| {});
    assert_good(&s, 1);
}

#[test]
fn frame_rates_25_and_60() {
    for (fps, seed) in [(25.0, 25), (60.0, 26)] {
        let p = SynthParams {
            fps,
            duration_s: 10.0,
            ..base(seed)
        };
        let (_, _, s) = case(&format!("{fps} fps"), p, |_| {});
        assert_good(&s, 1);
    }
}

/// The thresholds are per second: the same detector at the rates phones and webcams record
/// (30 fps is every other case here).
#[test]
fn frame_rates_15_24_and_120() {
    for (fps, seed) in [(15.0, 15), (24.0, 24), (120.0, 120)] {
        let p = SynthParams {
            fps,
            duration_s: 10.0,
            ..base(seed)
        };
        let (_, _, s) = case(&format!("{fps} fps"), p, |_| {});
        assert_good(&s, 1);
    }
}

#[test]
fn low_light_and_sensor_noise() {
    let p = SynthParams {
        light: 0.3,
        noise_sigma: 3.0,
        ..base(27)
    };
    let (_, _, s) = case("low light 0.3, noise 3", p, |_| {});
    assert_good(&s, 1);
}

#[test]
fn lighting_flicker_alone_is_silent() {
    let p = SynthParams {
        twitches: 0,
        distractors: vec![DistractorKind::Flicker],
        ..base(28)
    };
    let (labels, events, _) = case("flicker only", p, |_| {});
    assert!(labels.distractors.iter().any(|d| d.kind == "flicker"));
    assert!(
        !events.iter().any(|e| matches!(e, Event::Twitch(_))),
        "{events:?}"
    );
}

#[test]
fn compression_artefacts() {
    // A low bit rate through the real encoder and decoder.
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("lowrate.mp4");
    let p = SynthParams {
        bitrate_bps: Some(120_000),
        ..base(29)
    };
    let labels = write_clip(&plan(&p), &clip).unwrap();
    let events = analyse(open_clip(&clip).unwrap(), false);
    let s = score(&labels, &events, &EvalParams::default());
    report("H.264 at 120 kbit/s", &s);
    assert_good(&s, 1);
}

#[test]
fn face_lost_and_found_splits_nothing_across_the_gap() {
    // Two seconds of the clip show only an empty grey frame: the face is gone.
    let (gap0, gap1) = (5.0, 7.0);
    let p = base(30);
    let (_, events, _) = case("face lost 5-7 s", p, |f| {
        if (gap0..gap1).contains(&f.pts_s) {
            f.luma.fill(90);
        }
    });
    let lost: Vec<(f64, f64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::FaceLost { start_s, end_s } => Some((*start_s, *end_s)),
            _ => None,
        })
        .collect();
    assert!(
        lost.iter()
            .any(|&(a, b)| a <= gap0 + 0.1 && b >= gap1 - 0.1),
        "{lost:?}"
    );
    for e in &events {
        if let Event::Twitch(t) = e {
            for &(a, b) in &lost {
                assert!(
                    t.end_s <= a + 1e-6 || t.start_s >= b - 1e-6,
                    "{t:?} straddles {a}-{b}"
                );
            }
        }
    }
    // The face is found again after the gap.
    let summary = events.iter().find_map(|e| match e {
        Event::Summary { observed_s, .. } => Some(*observed_s),
        _ => None,
    });
    assert!(summary.unwrap() > 12.0 - (gap1 - gap0) - 1.0, "{summary:?}");
}

#[test]
fn second_face_in_the_background() {
    let p = SynthParams {
        second_face: true,
        ..base(31)
    };
    let (_, events, s) = case("second face", p, |_| {});
    assert_good(&s, 1);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Warning { message, .. } if message.contains("faces"))),
        "the log says that several faces were seen: {events:?}"
    );
}

#[test]
fn mirrored_selfie_view() {
    let p = SynthParams {
        mirrored: true,
        side: Some(Side::Left),
        ..base(32)
    };
    let (labels, events, s) = case("mirrored selfie", p, |_| {});
    assert!(labels.mirrored);
    assert_good(&s, 1);
    // Every twitch on the person's left, although it shows on the image's left.
    for e in &events {
        if let Event::Twitch(t) = e {
            assert_eq!(t.side, Side::Left);
        }
    }
}

#[test]
fn head_turned_up_to_30_degrees() {
    let p = SynthParams {
        distractors: vec![DistractorKind::HeadTurn],
        duration_s: 15.0,
        ..base(33)
    };
    let (labels, _, s) = case("head turns 15-30 degrees", p, |_| {});
    assert!(
        labels.distractors.iter().any(|d| d.kind == "head_turn"),
        "the clip turns the head"
    );
    assert_good(&s, 1);
}
