//! Cross-validation of the rescue forest (`eval --fit-forest FILE --folds K`): at which
//! probability the forest should report a candidate the rules did not keep, judged only on
//! candidates of clips whose forest never saw them.
//!
//! Input: per clip, its labels, its candidates (with features) and the twitches the
//! detector reports without the forest. Output: per threshold, the labelled twitches found
//! and the false events when every clip's candidates are judged by a forest fitted on the
//! other folds. Clips are grouped before folding (all renders of one synthetic seed, all
//! strengths of one real clip), so no fold is judged by a forest that saw its twin.
//! Thread: the caller's.

use crate::analysis::anatomy::Side;
use crate::analysis::bursts::rescue_covered;
use crate::analysis::confidence::{Features, Forest};
use crate::devtools::eval::{is_real, overlaps_same_side};
use crate::devtools::labels::Labels;
use crate::outputs::events::Twitch;

/// One clip's material.
pub struct ClipRun {
    /// Clips of one group are in the same fold (`group_of`).
    pub group: String,
    pub labels: Labels,
    /// Candidates with their features (candidate mode).
    pub candidates: Vec<(Twitch, Features)>,
    /// What the detector reports with the forest off.
    pub reported: Vec<Twitch>,
}

/// The group of a clip: its synthetic seed (from the labels' note), or its name without a
/// graded strength suffix (`lp_d10_a2` -> `lp_d10`).
pub fn group_of(clip_stem: &str, labels: &Labels) -> String {
    if let Some(seed) = labels.note.as_deref().and_then(|n| {
        let rest = n.split("seed ").nth(1)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    }) {
        return format!("seed {seed}");
    }
    match clip_stem.rsplit_once("_a") {
        Some((base, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => {
            base.to_string()
        }
        _ => clip_stem.to_string(),
    }
}

/// Per threshold: what the reported twitches plus the forest's rescues found.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub threshold: f64,
    pub found: usize,
    pub labelled: usize,
    /// Events matching no label (a wrong side included).
    pub false_events: usize,
    /// ...of them on clips without labelled twitches.
    pub false_on_negatives: usize,
    /// (closure, found, labelled) per closure level of the labels that have one.
    pub by_closure: Vec<(f64, usize, usize)>,
}

/// Minutes of clips without labelled twitches.
pub fn negative_minutes(clips: &[ClipRun]) -> f64 {
    clips
        .iter()
        .filter(|c| c.labels.events.is_empty() && c.labels.fps > 0.0)
        .map(|c| c.labels.frames as f64 / c.labels.fps / 60.0)
        .sum()
}

/// Out-of-fold forest probabilities of every clip's candidates, `[clip][candidate]`: the
/// groups, sorted, go round-robin into `folds` folds; each fold is judged by a forest
/// fitted on the others with `Forest`'s settings and seed 0. A candidate is real when it
/// overlaps a label on its side widened by `tol` (s), as `eval` matches.
pub fn out_of_fold(clips: &[ClipRun], folds: usize, tol: f64) -> anyhow::Result<Vec<Vec<f64>>> {
    anyhow::ensure!(folds >= 2, "cross-validation needs at least 2 folds");
    let mut groups: Vec<&str> = clips.iter().map(|c| c.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    anyhow::ensure!(
        groups.len() >= folds,
        "{} groups of clips cannot fill {folds} folds",
        groups.len()
    );
    let fold_of = |c: &ClipRun| {
        groups
            .binary_search(&c.group.as_str())
            .expect("every group listed")
            % folds
    };
    let mut p: Vec<Vec<f64>> = clips
        .iter()
        .map(|c| vec![0.0; c.candidates.len()])
        .collect();
    for fold in 0..folds {
        let train: Vec<(Features, bool, f64)> = clips
            .iter()
            .filter(|c| fold_of(c) != fold)
            .flat_map(|c| {
                c.candidates
                    .iter()
                    .map(|(t, f)| (*f, is_real(t, &c.labels.events, tol), 1.0))
            })
            .collect();
        let forest = Forest::fit(&train, Forest::TREES, Forest::SAMPLES, 0)?;
        for (k, c) in clips.iter().enumerate() {
            if fold_of(c) == fold {
                for (j, (_, f)) in c.candidates.iter().enumerate() {
                    p[k][j] = forest.probability(f);
                }
            }
        }
    }
    Ok(p)
}

/// Indices of the labels on `t`'s side whose interval widened by `tol` `t` overlaps.
fn matches(t: &Twitch, labels: &Labels, tol: f64) -> Vec<usize> {
    labels
        .events
        .iter()
        .enumerate()
        .filter(|(_, l)| overlaps_same_side(t, l, tol))
        .map(|(i, _)| i)
        .collect()
}

/// The detector's rescue rule (`BurstDetector::decide_rescued`) replayed on whole clips:
/// each candidate at or above `threshold`, in time order, is added unless an event already
/// there covers it (`bursts::rescue_covered`). Matching as `out_of_fold`.
pub fn score(clips: &[ClipRun], p: &[Vec<f64>], threshold: f64, tol: f64) -> Row {
    let mut row = Row {
        threshold,
        found: 0,
        labelled: 0,
        false_events: 0,
        false_on_negatives: 0,
        by_closure: Vec::new(),
    };
    for (c, pc) in clips.iter().zip(p) {
        let mut events: Vec<(Side, f64, f64)> = c
            .reported
            .iter()
            .map(|t| (t.side, t.start_s, t.end_s))
            .collect();
        let mut kept: Vec<&Twitch> = c.reported.iter().collect();
        let mut order: Vec<usize> = (0..c.candidates.len()).collect();
        order.sort_by(|&a, &b| c.candidates[a].0.end_s.total_cmp(&c.candidates[b].0.end_s));
        for j in order {
            let t = &c.candidates[j].0;
            if pc[j] < threshold {
                continue;
            }
            let covered = events
                .iter()
                .any(|&(side, a, b)| rescue_covered(t, side, a, b));
            if !covered {
                events.push((t.side, t.start_s, t.end_s));
                kept.push(t);
            }
        }
        let mut hit = vec![false; c.labels.events.len()];
        for t in kept {
            let m = matches(t, &c.labels, tol);
            if m.is_empty() {
                row.false_events += 1;
                if c.labels.events.is_empty() {
                    row.false_on_negatives += 1;
                }
            }
            for i in m {
                hit[i] = true;
            }
        }
        row.labelled += hit.len();
        row.found += hit.iter().filter(|h| **h).count();
        for (l, h) in c.labels.events.iter().zip(&hit) {
            if let Some(level) = l.closure {
                match row.by_closure.iter_mut().find(|r| r.0 == level) {
                    Some(r) => {
                        r.1 += usize::from(*h);
                        r.2 += 1;
                    }
                    None => row.by_closure.push((level, usize::from(*h), 1)),
                }
            }
        }
    }
    row.by_closure.sort_by(|a, b| a.0.total_cmp(&b.0));
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtools::labels::LabelEvent;
    use crate::test_support::twitch;

    fn labels(note: Option<&str>, events: Vec<(Side, f64, f64)>) -> Labels {
        Labels {
            clip: "x.mp4".into(),
            mirrored: false,
            fps: 30.0,
            frames: 1800,
            note: note.map(str::to_string),
            events: events
                .into_iter()
                .map(|(side, start_s, end_s)| LabelEvent {
                    start_s,
                    end_s,
                    side,
                    regions: vec![],
                    pattern: None,
                    closure: Some(0.2),
                    lid_travel_pct: None,
                    amplitude: None,
                })
                .collect(),
            distractors: vec![],
        }
    }

    #[test]
    fn renders_of_one_seed_and_strengths_of_one_clip_share_a_group() {
        let synth = labels(
            Some("synthetic (twitchwatch synth): seed 1012, 480x360"),
            vec![],
        );
        assert_eq!(group_of("c0.2_s1012", &synth), "seed 1012");
        assert_eq!(group_of("c0.9_s1012", &synth), "seed 1012");
        let real = labels(None, vec![]);
        assert_eq!(group_of("lp_d10_a45", &real), "lp_d10");
        assert_eq!(group_of("lp_d10", &real), "lp_d10");
        assert_eq!(group_of("winks", &real), "winks");
    }

    #[test]
    fn a_rescue_adds_only_what_no_event_covers() {
        let (l, r) = (Side::Left, Side::Right);
        let clip = ClipRun {
            group: "g".into(),
            labels: labels(None, vec![(l, 2.0, 2.5), (l, 10.0, 10.5)]),
            candidates: vec![
                (twitch(l, 2.6, 2.8), Features::default()),
                (twitch(l, 10.0, 10.4), Features::default()),
                (twitch(r, 10.1, 10.45), Features::default()),
                (twitch(r, 20.0, 20.2), Features::default()),
            ],
            reported: vec![twitch(l, 2.0, 2.4)],
        };
        let p = vec![vec![0.9, 0.9, 0.95, 0.5]];
        let row = score(std::slice::from_ref(&clip), &p, 0.8, 0.3);
        // 2.6: the reported twitch's tail; 10.0 found; 10.1 (right) overlaps it; 20.0 below.
        assert_eq!((row.found, row.labelled, row.false_events), (2, 2, 0));
        assert_eq!(row.by_closure, vec![(0.2, 2, 2)]);
        let row = score(std::slice::from_ref(&clip), &p, 0.4, 0.3);
        assert_eq!((row.found, row.false_events), (2, 1), "20.0 is false");
    }
}
