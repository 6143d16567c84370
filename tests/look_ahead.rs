//! Face confirmations searched ahead on their own thread or on the capture thread
//! (`AnalyzeOptions::look_ahead`, `search_on_capture`, `docs/design.md`): the same signals and
//! events as searching in line, whether the search ahead is used, wasted or never started,
//! and a failing source still has every frame read ahead measured.

mod common;
use common::sample;

use twitchwatch::analysis::pipeline::{self, RunError};
use twitchwatch::outputs::events::Event;
use twitchwatch::source::{Frame, FrameSource, SourceError, SourceInfo, open_clip};
use twitchwatch::test_support::AheadCounts;
use twitchwatch::test_support::analyze_options;
use twitchwatch::test_support::synth_frames;
use twitchwatch::test_support::{MotionAnalyzer, MotionParams};

/// Debug text of each frame's signals (NaN-safe and exact for floats: shortest round-trip
/// form), each frame first handed to `show` `k` frames before it is measured.
fn measure(
    m: &mut MotionAnalyzer,
    frames: &[Frame],
    k: usize,
    mut show: impl FnMut(&mut MotionAnalyzer, &Frame),
) -> Vec<String> {
    for f in frames.iter().take(k) {
        show(m, f);
    }
    let mut out = vec![];
    for (i, f) in frames.iter().enumerate() {
        if let Some(ahead) = frames.get(i + k) {
            show(m, ahead);
        }
        out.push(format!("{:?}", m.process(f, false)));
    }
    out
}

/// Per-frame signals of `frames`, each frame shown to `search_ahead` `k` frames before it is
/// measured (`None`: no search ahead at all). Also the searches used and wasted.
fn signals(frames: &[Frame], k: Option<usize>) -> (Vec<String>, u64, u64) {
    let mut m = MotionAnalyzer::new(MotionParams::default());
    let out = match k {
        Some(k) => {
            m.tracker().confirm_ahead().expect("thread starts");
            measure(&mut m, frames, k, |m, f| m.tracker().search_ahead(f))
        }
        None => measure(&mut m, frames, 0, |_, _| {}),
    };
    let c = m.tracker().ahead_counts();
    (out, c.used, c.wasted)
}

/// `signals` with the searches handed out as chores, done by a helper thread (as the
/// capture thread would when it has time) that looks for one at every `every`-th frame:
/// with `every` > 1 some are still queued when their frame comes up. Also the counts.
fn signals_with_chores(frames: &[Frame], k: usize, every: usize) -> (Vec<String>, AheadCounts) {
    let mut m = MotionAnalyzer::new(MotionParams::default());
    let rx_chores = m.tracker().confirm_ahead_on_capture();
    // One signal may wait: the measuring side then waits for the helper to take it.
    let (tx_go, rx_go) = crossbeam_channel::bounded::<()>(1);
    let helper = std::thread::Builder::new()
        .name("test-chores".into())
        .spawn(move || {
            for () in rx_go {
                if let Ok(chore) = rx_chores.try_recv() {
                    chore();
                }
            }
        })
        .expect("thread starts");
    let mut shown = 0;
    let out = measure(&mut m, frames, k, |m, f| {
        m.tracker().search_ahead(f);
        // At every `every`-th frame shown, the helper takes the search queued, if any.
        shown += 1;
        if shown % every == 0 {
            let _ = tx_go.send(());
        }
    });
    drop(tx_go);
    helper.join().expect("helper ends");
    (out, m.tracker().ahead_counts())
}

#[test]
fn searches_on_the_capture_thread_change_no_signal_started_or_not() {
    let frames = synth_frames(480, 360, 150.0, 450, 3);
    let (inline, _, _) = signals(&frames, None);
    // Every frame lets the helper look: most searches are done ahead.
    let (all, c) = signals_with_chores(&frames, 8, 1);
    assert_eq!(all, inline, "searched on the helper");
    assert!(c.used >= 20, "{c:?}");
    // The helper looks rarely: many searches are taken back and done in line.
    let (some, c) = signals_with_chores(&frames, 8, 20);
    assert_eq!(some, inline, "searched on the helper or in line");
    assert!(c.not_started > 0, "{c:?}");
}

#[test]
fn searching_ahead_changes_no_signal_used_or_not() {
    // 15 s with the synthetic person's head moving now and then.
    let frames = synth_frames(480, 360, 150.0, 450, 3);
    let (inline, used0, _) = signals(&frames, None);
    assert_eq!(used0, 0);
    let (near, used, _) = signals(&frames, Some(8));
    assert_eq!(near, inline, "8 frames ahead");
    assert!(
        used >= 20,
        "most of the 30 confirmations come from the search ahead: {used}"
    );
    // Far ahead the square has often moved by then: those searches are wasted, the
    // confirmation searches in line, and still nothing differs.
    let (far, _, wasted) = signals(&frames, Some(45));
    assert_eq!(far, inline, "45 frames ahead");
    assert!(wasted > 0, "some searches 45 frames ahead are wasted");
}

fn run(
    source: Box<dyn FrameSource>,
    look_ahead: usize,
    search_on_capture: bool,
) -> (Vec<Event>, Result<(), RunError>) {
    let opts = pipeline::AnalyzeOptions {
        look_ahead,
        search_on_capture,
        ..analyze_options(false)
    };
    let mut events = vec![];
    let mut emit = |e: &Event| {
        events.push(e.clone());
        Ok(())
    };
    let r = pipeline::run(source, "test", &opts, &mut emit, &mut ()).map(|_| ());
    (events, r)
}

#[test]
fn sample_clips_give_the_same_events_with_and_without_reading_ahead() {
    for name in ["clonic_left.mp4", "mixed.mp4"] {
        let clip = sample(name);
        let (plain, r0) = run(open_clip(&clip).expect("opens"), 0, false);
        let (ahead, r8) = run(open_clip(&clip).expect("opens"), 8, false);
        let (chores, r6) = run(open_clip(&clip).expect("opens"), 6, true);
        assert!(r0.is_ok() && r8.is_ok() && r6.is_ok(), "{name}");
        assert_eq!(ahead, plain, "{name}: on a thread of their own");
        assert_eq!(chores, plain, "{name}: on the capture thread");
    }
}

/// Plays prepared frames, then fails like a truncated file.
struct Truncated(std::vec::IntoIter<Frame>, SourceInfo);

impl FrameSource for Truncated {
    fn info(&self) -> &SourceInfo {
        &self.1
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        match self.0.next() {
            Some(f) => Ok(Some(f)),
            None => Err(SourceError::Corrupt {
                path: "clip.mp4".into(),
                message: "the file ends mid-frame".into(),
            }),
        }
    }
}

#[test]
fn frames_read_ahead_of_a_failing_source_are_all_measured() {
    let frames = synth_frames(320, 240, 100.0, 100, 5);
    let n = frames.len() as u64;
    for on_capture in [false, true] {
        let source = Box::new(Truncated(frames.clone().into_iter(), SourceInfo::default()));
        let (events, r) = run(source, 8, on_capture);
        assert!(matches!(r, Err(RunError::Source(_))), "{r:?}");
        let frames_seen = events.iter().find_map(|e| match e {
            Event::Summary { frames, error, .. } => {
                assert!(error.is_some(), "the summary says why the run ended");
                Some(*frames)
            }
            _ => None,
        });
        assert_eq!(
            frames_seen,
            Some(n),
            "every frame before the failure is measured (on the capture thread: {on_capture})"
        );
    }
}
