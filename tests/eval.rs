//! Evaluation metrics on hand-computed cases, folder pairing, and the real label files.

use std::path::{Path, PathBuf};
use twitchwatch::analysis::anatomy::{RegionKind, Side};
use twitchwatch::devtools::eval::*;
use twitchwatch::devtools::labels::{LabelEvent, Labels};
use twitchwatch::outputs::events::{Event, Twitch};

fn label(start_s: f64, end_s: f64, side: Side) -> LabelEvent {
    LabelEvent {
        start_s,
        end_s,
        side,
        regions: vec![RegionKind::Eye],
        pattern: None,
        closure: None,
        lid_travel_pct: None,
        amplitude: None,
    }
}

/// 60 s at 30 fps, so false alarms per minute = fp.
fn labels(events: Vec<LabelEvent>) -> Labels {
    Labels {
        clip: "clip.mp4".into(),
        mirrored: false,
        fps: 30.0,
        frames: 1800,
        note: None,
        events,
        distractors: vec![],
    }
}

fn det(start_s: f64, end_s: f64, side: Side) -> Event {
    Event::Twitch(twitchwatch::test_support::twitch(side, start_s, end_s))
}

fn strict() -> EvalParams {
    EvalParams { tolerance_s: 0.0 }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn default_tolerance_is_0_3_s() {
    assert_eq!(EvalParams::default().tolerance_s, 0.3);
}

#[test]
fn exact_overlap_is_a_perfect_score() {
    let l = labels(vec![
        label(1.0, 2.0, Side::Left),
        label(5.0, 6.0, Side::Right),
    ]);
    let e = vec![det(1.0, 2.0, Side::Left), det(5.0, 6.0, Side::Right)];
    let s = score(&l, &e, &EvalParams::default());
    assert_eq!(
        (s.labelled, s.detected, s.tp, s.fp, s.fn_, s.duplicates),
        (2, 2, 2, 0, 0, 0)
    );
    assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
    assert_eq!(s.side_accuracy, Some(1.0));
    assert_eq!(s.onset_error_s, Some(0.0));
    assert_eq!(s.onset_error_median_s, Some(0.0));
    assert_eq!(s.false_alarms_per_min, Some(0.0));
    assert!(close(s.duration_s, 60.0));
    assert_eq!(s.clip, "clip.mp4");
}

#[test]
fn partial_overlap_and_onset_errors() {
    // Label 1-2, detection 1.5-2.5: overlap. Label 5-6, detection 4.8-5.5. Onset errors 0.5, 0.2.
    let l = labels(vec![
        label(1.0, 2.0, Side::Left),
        label(5.0, 6.0, Side::Left),
    ]);
    let e = vec![det(1.5, 2.5, Side::Left), det(4.8, 5.5, Side::Left)];
    let s = score(&l, &e, &strict());
    assert_eq!(s.tp, 2);
    assert!(close(s.onset_error_s.unwrap(), 0.35));
    assert!(close(s.onset_error_median_s.unwrap(), 0.35));
    let mut errors = s.onset_errors_s.clone();
    errors.sort_by(f64::total_cmp);
    assert!(close(errors[0], 0.2) && close(errors[1], 0.5));
}

#[test]
fn tolerance_edges() {
    let l = labels(vec![label(1.0, 2.0, Side::Left)]);
    let p = EvalParams::default();
    // Just inside the widened label on both sides.
    assert_eq!(score(&l, &[det(2.25, 2.5, Side::Left)], &p).tp, 1);
    assert_eq!(score(&l, &[det(0.4, 0.75, Side::Left)], &p).tp, 1);
    // Exactly touching the widened edge counts (2.0 + 0.3 = 2.3; 1.0 - 0.3 = 0.7).
    assert_eq!(score(&l, &[det(2.3, 2.6, Side::Left)], &p).tp, 1);
    assert_eq!(score(&l, &[det(0.4, 0.7, Side::Left)], &p).tp, 1);
    // Just outside: a false alarm plus a miss.
    let s = score(&l, &[det(2.31, 2.6, Side::Left)], &p);
    assert_eq!((s.tp, s.fp, s.fn_), (0, 1, 1));
    let s = score(&l, &[det(0.2, 0.69, Side::Left)], &p);
    assert_eq!((s.tp, s.fp, s.fn_), (0, 1, 1));
    // Without tolerance, a detection right after the label misses.
    let s = score(&l, &[det(2.1, 2.5, Side::Left)], &strict());
    assert_eq!((s.tp, s.fp, s.fn_), (0, 1, 1));
    assert_eq!((s.precision, s.recall, s.f1), (0.0, 0.0, 0.0));
}

#[test]
fn wrong_side_still_matches_but_lowers_side_accuracy() {
    let l = labels(vec![
        label(1.0, 2.0, Side::Left),
        label(5.0, 6.0, Side::Left),
    ]);
    let e = vec![det(1.0, 2.0, Side::Right), det(5.0, 6.0, Side::Left)];
    let s = score(&l, &e, &EvalParams::default());
    assert_eq!((s.tp, s.fp, s.fn_), (2, 0, 0));
    assert_eq!(s.side_correct, 1);
    assert_eq!(s.side_accuracy, Some(0.5));
}

#[test]
fn split_detection_counts_a_duplicate_not_a_false_alarm() {
    let l = labels(vec![label(1.0, 3.0, Side::Left)]);
    // Same spasm reported in two pieces: the larger piece matches, the other is a duplicate.
    let e = vec![det(1.0, 1.5, Side::Left), det(1.7, 3.0, Side::Left)];
    let s = score(&l, &e, &EvalParams::default());
    assert_eq!(
        (s.detected, s.tp, s.fp, s.fn_, s.duplicates),
        (2, 1, 0, 0, 1)
    );
    assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
    // The match is the larger overlap: onset error 0.7.
    assert!(close(s.onset_error_s.unwrap(), 0.7));

    let detections: Vec<&Twitch> = e.iter().filter_map(Event::as_twitch).collect();
    let m = match_events(&l.events, &detections, &EvalParams::default());
    assert_eq!(m.pairs.len(), 1);
    assert_eq!((m.pairs[0].label, m.pairs[0].detection), (0, 1));
    assert!(close(m.pairs[0].overlap_s, 1.3));
    assert_eq!(m.duplicates, vec![(0, 0)]);
    assert!(m.false_positives.is_empty() && m.missed.is_empty());
}

#[test]
fn greedy_by_largest_overlap_is_one_to_one() {
    // One long detection spanning two labels: it matches the one it overlaps most; the other
    // label is missed. A second detection then takes the remaining label.
    let l = labels(vec![
        label(1.0, 2.0, Side::Left),
        label(2.2, 4.0, Side::Left),
    ]);
    let e = [det(1.5, 4.0, Side::Left)];
    let detections: Vec<&Twitch> = e.iter().filter_map(Event::as_twitch).collect();
    let m = match_events(&l.events, &detections, &strict());
    assert_eq!(m.pairs.len(), 1);
    assert_eq!(m.pairs[0].label, 1);
    assert_eq!(m.missed, vec![0]);

    let e = vec![det(1.5, 4.0, Side::Left), det(1.0, 1.4, Side::Left)];
    let s = score(&l, &e, &strict());
    assert_eq!((s.tp, s.fp, s.fn_, s.duplicates), (2, 0, 0, 0));
}

#[test]
fn empty_labels_no_detections_is_perfect() {
    let s = score(&labels(vec![]), &[], &EvalParams::default());
    assert_eq!((s.labelled, s.detected, s.tp, s.fp, s.fn_), (0, 0, 0, 0, 0));
    assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
    assert_eq!(s.side_accuracy, None);
    assert_eq!(s.onset_error_s, None);
    assert_eq!(s.onset_error_median_s, None);
    assert_eq!(s.false_alarms_per_min, Some(0.0));
}

#[test]
fn negative_clip_with_false_alarms_has_precision_zero() {
    let e = vec![
        det(1.0, 1.5, Side::Left),
        det(10.0, 10.5, Side::Right),
        det(20.0, 20.2, Side::Left),
    ];
    let s = score(&labels(vec![]), &e, &EvalParams::default());
    assert_eq!((s.tp, s.fp, s.fn_), (0, 3, 0));
    assert_eq!((s.precision, s.recall, s.f1), (0.0, 1.0, 0.0));
    assert!(close(s.false_alarms_per_min.unwrap(), 3.0));
}

#[test]
fn no_detections_on_a_positive_clip() {
    let l = labels(vec![
        label(1.0, 2.0, Side::Left),
        label(5.0, 6.0, Side::Right),
    ]);
    let s = score(&l, &[], &EvalParams::default());
    assert_eq!((s.tp, s.fp, s.fn_), (0, 0, 2));
    assert_eq!((s.precision, s.recall, s.f1), (1.0, 0.0, 0.0));
    assert_eq!(s.side_accuracy, None);
}

#[test]
fn only_twitch_events_count() {
    let l = labels(vec![label(1.0, 2.0, Side::Left)]);
    let e = vec![
        Event::FaceLost {
            start_s: 0.0,
            end_s: 3.0,
        },
        Event::Warning {
            t_s: 1.0,
            message: "x".into(),
        },
        det(1.2, 1.8, Side::Left),
    ];
    let s = score(&l, &e, &EvalParams::default());
    assert_eq!((s.detected, s.tp, s.fp), (1, 1, 0));
}

#[test]
fn duration_falls_back_to_the_log_summary() {
    let mut l = labels(vec![]);
    l.fps = 0.0;
    let e = vec![
        det(1.0, 1.5, Side::Left),
        Event::Summary {
            duration_s: 30.0,
            observed_s: 30.0,
            frames: 900,
            twitches_left: 1,
            twitches_right: 0,
            per_minute_left: 2.0,
            per_minute_right: 0.0,
            frames_dropped: None,
            error: None,
            decode_gaps: Vec::new(),
        },
    ];
    let s = score(&l, &e, &EvalParams::default());
    assert!(close(s.duration_s, 30.0));
    assert!(close(s.false_alarms_per_min.unwrap(), 2.0));
    // And without any duration, false alarms per minute are undefined.
    let s = score(&l, &e[..1], &EvalParams::default());
    assert_eq!(s.false_alarms_per_min, None);
}

#[test]
fn pooling_is_micro_averaged() {
    // Clip A: 2 labels, 1 tp (right side, onset 0.1), 1 fn, 1 fp. Clip B (negative): 2 fp.
    let a = score(
        &labels(vec![
            label(1.0, 2.0, Side::Left),
            label(5.0, 6.0, Side::Left),
        ]),
        &[det(1.1, 2.0, Side::Left), det(30.0, 30.5, Side::Left)],
        &EvalParams::default(),
    );
    let b = score(
        &labels(vec![]),
        &[det(1.0, 1.5, Side::Left), det(9.0, 9.5, Side::Right)],
        &EvalParams::default(),
    );
    let c = score(
        &labels(vec![label(1.0, 2.0, Side::Right)]),
        &[det(1.4, 2.0, Side::Left)],
        &EvalParams::default(),
    );
    let t = pool(&[a.clone(), b, c]);
    assert_eq!(t.clip, "TOTAL");
    assert_eq!(
        (t.labelled, t.detected, t.tp, t.fp, t.fn_, t.duplicates),
        (3, 5, 2, 3, 1, 0)
    );
    assert!(close(t.precision, 0.4));
    assert!(close(t.recall, 2.0 / 3.0));
    assert!(close(t.f1, 2.0 * 0.4 * (2.0 / 3.0) / (0.4 + 2.0 / 3.0)));
    assert_eq!(t.side_accuracy, Some(0.5));
    assert!(close(t.onset_error_s.unwrap(), 0.25));
    assert!(close(t.onset_error_median_s.unwrap(), 0.25));
    assert!(close(t.duration_s, 180.0));
    assert!(close(t.false_alarms_per_min.unwrap(), 1.0));
    // Pooling one clip gives that clip's metrics back.
    let one = pool(std::slice::from_ref(&a));
    assert_eq!(
        (one.precision, one.recall, one.f1),
        (a.precision, a.recall, a.f1)
    );
    // Pooling nothing is the empty, perfect case.
    let none = pool(&[]);
    assert_eq!((none.precision, none.recall, none.f1), (1.0, 1.0, 1.0));
}

#[test]
fn table_csv_and_json() {
    let a = score(
        &labels(vec![label(1.0, 2.0, Side::Left)]),
        &[det(1.0, 2.0, Side::Left)],
        &EvalParams::default(),
    );
    let mut b = score(&labels(vec![]), &[], &EvalParams::default());
    b.clip = "a, \"quoted\" name.mp4".into();
    let rows = vec![a, b];
    let report = Report::new(rows.clone(), EvalParams::default());

    let table = format_table(&rows, Some(&report.total));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("clip"));
    assert!(lines[3].starts_with("TOTAL"));
    // Aligned: every row's right-aligned last column ends at the same place.
    let width = lines[0].len();
    assert!(lines.iter().all(|l| l.len() == width), "{table}");
    assert!(
        lines[2].contains(" -"),
        "undefined side accuracy shows as '-': {table}"
    );

    let csv = to_csv(&rows);
    let csv_lines: Vec<&str> = csv.lines().collect();
    assert_eq!(csv_lines.len(), 3);
    assert!(
        csv_lines[0].starts_with("clip,dur_s,labelled,detected,tp,fp,fn,dup,precision,recall,f1")
    );
    assert!(
        csv_lines[1]
            .starts_with("clip.mp4,60.0,1,1,1,0,0,0,1.000,1.000,1.000,1.000,0.000,0.000,0.00")
    );
    assert!(
        csv_lines[2].starts_with("\"a, \"\"quoted\"\" name.mp4\",60.0,0,0,"),
        "{csv}"
    );
    assert!(
        csv_lines[2].contains(",,"),
        "undefined values are empty cells: {csv}"
    );

    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["clips"][0]["fn"], 0);
    assert_eq!(v["total"]["tp"], 1);
}

#[test]
fn load_labels_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.labels.json");
    let msg = load_labels(&missing).unwrap_err().to_string();
    assert!(
        msg.contains("missing.labels.json") && !msg.contains('\n'),
        "{msg}"
    );

    let bad = dir.path().join("bad.labels.json");
    std::fs::write(&bad, "{\"clip\": \"x.mp4\", \"fps\": 30}").unwrap();
    let msg = load_labels(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("bad.labels.json") && msg.contains("not a valid labels file"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));

    let backwards = dir.path().join("backwards.labels.json");
    std::fs::write(
        &backwards,
        r#"{"clip":"x.mp4","fps":30,"frames":10,"events":[{"start_s":2,"end_s":1,"side":"left"}]}"#,
    )
    .unwrap();
    let msg = load_labels(&backwards).unwrap_err().to_string();
    assert!(
        msg.contains("backwards.labels.json") && msg.contains("event 1"),
        "{msg}"
    );
}

#[test]
fn pair_folder_pairs_by_stem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let minimal = |clip: &str| format!(r#"{{"clip":"{clip}","fps":30,"frames":30,"events":[]}}"#);
    for (name, text) in [
        ("b.mp4", String::new()),
        ("b.labels.json", minimal("b.mp4")),
        ("a.Y4M", String::new()),
        ("a.labels.json", minimal("a.Y4M")),
        ("a.events.jsonl", String::new()),
        ("unlabelled.mp4", String::new()),
        ("orphan.labels.json", minimal("orphan.mp4")),
        ("twin.mov", String::new()),
        ("twin.mp4", String::new()),
        ("twin.labels.json", minimal("twin.mp4")),
        ("notes.txt", String::new()),
    ] {
        std::fs::write(d.join(name), text).unwrap();
    }
    let report = pair_folder_report(d).unwrap();
    let names: Vec<(String, String)> = report
        .pairs
        .iter()
        .map(|(c, l)| (file_name(c), file_name(l)))
        .collect();
    assert_eq!(
        names,
        vec![
            ("a.Y4M".to_string(), "a.labels.json".to_string()),
            ("b.mp4".to_string(), "b.labels.json".to_string()),
            ("twin.mp4".to_string(), "twin.labels.json".to_string()),
        ]
    );
    assert!(report.pairs.iter().all(|(c, _)| c.parent() == Some(d)));
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("orphan.labels.json"));
    assert_eq!(pair_folder(d).unwrap(), report.pairs);
    assert!(pair_folder(&d.join("nope")).is_err());
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

/// The shared real clips live in `shared/clips` beside the project checkout (`../shared/clips`
/// relative to the crate), or one level further up when the crate is a worktree in a folder.
fn shared_clips() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = manifest
        .ancestors()
        .skip(1)
        .take(2)
        .map(|a| a.join("shared").join("clips"))
        .find(|p| p.is_dir());
    if found.is_none() {
        eprintln!(
            "note: ../shared/clips not found beside the crate; skipping the real-label tests"
        );
    }
    found
}

#[test]
fn real_label_files_load() {
    let Some(dir) = shared_clips() else { return };
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !file_name(&path).ends_with(".labels.json") {
            continue;
        }
        let labels = load_labels(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(labels.fps > 0.0 && labels.frames > 0, "{}", path.display());
        assert!(file_name(&path).starts_with(labels.clip.trim_end_matches(".mp4")));
        // Labels scored against themselves are perfect.
        let as_events: Vec<Event> = labels
            .events
            .iter()
            .map(|l| det(l.start_s, l.end_s, l.side))
            .collect();
        let s = score(&labels, &as_events, &EvalParams::default());
        assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
        count += 1;
    }
    assert!(count >= 5, "expected the shared label files, found {count}");

    let winks = load_labels(&dir.join("winks.labels.json")).unwrap();
    assert_eq!(winks.events.len(), 2);
    assert_eq!(winks.events[0].side, Side::Left);
    assert_eq!(winks.events[1].side, Side::Right);
    assert!(close(winks.duration_s(), 11.8));
}

#[test]
fn real_folder_pairs() {
    let Some(dir) = shared_clips() else { return };
    let report = pair_folder_report(&dir).unwrap();
    let clips: Vec<String> = report.pairs.iter().map(|(c, _)| file_name(c)).collect();
    // grimaces.mp4 has no labels and is ignored.
    assert_eq!(
        clips,
        [
            "carphone.mp4",
            "cry_laugh.mp4",
            "handheld_talking.mp4",
            "news_anchor.mp4",
            "winks.mp4"
        ]
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn time_in_spasm_and_duration_ratios_by_hand() {
    // Labels 1-3 s and 10-11 s (3 s in all); detections 1.5-2.5 s (half the first label),
    // 10-12 s (twice the second) and a false alarm 20-20.5 s overlapping nothing.
    let l = labels(vec![
        label(1.0, 3.0, Side::Left),
        label(10.0, 11.0, Side::Left),
    ]);
    let e = vec![
        det(1.5, 2.5, Side::Left),
        det(10.0, 12.0, Side::Left),
        det(20.0, 20.5, Side::Left),
    ];
    let s = score(&l, &e, &strict());
    assert!(close(s.spasm_labelled_s, 3.0));
    assert!(close(s.spasm_detected_s, 3.5));
    assert_eq!(s.duration_ratios.len(), 2);
    assert!(close(s.duration_ratio_median.unwrap(), (0.5 + 2.0) / 2.0));
    // Pooled: times add up, ratios pool before the median.
    let s2 = score(
        &labels(vec![label(0.0, 4.0, Side::Right)]),
        &[det(0.0, 3.0, Side::Right)],
        &strict(),
    );
    let t = pool(&[s, s2]);
    assert!(close(t.spasm_labelled_s, 7.0));
    assert!(close(t.spasm_detected_s, 6.5));
    assert!(close(t.duration_ratio_median.unwrap(), 0.75));
    // Overlapping detections count once.
    let s3 = score(
        &labels(vec![]),
        &[det(0.0, 2.0, Side::Left), det(1.0, 3.0, Side::Right)],
        &strict(),
    );
    assert!(close(s3.spasm_detected_s, 3.0));
    assert_eq!(s3.duration_ratio_median, None);
}

fn strong(start_s: f64, end_s: f64, side: Side, closure: f64, pattern: &str) -> LabelEvent {
    LabelEvent {
        closure: Some(closure),
        pattern: Some(pattern.into()),
        ..label(start_s, end_s, side)
    }
}

/// Two twitch clips (closures 0.2 and 0.6, clonic and tonic) and a distractor-only clip
/// with a face-lost interval, scored by hand.
fn sensitivity_case() -> Vec<(Labels, Vec<Event>)> {
    let a = labels(vec![
        strong(1.0, 2.0, Side::Left, 0.2, "clonic"),
        strong(5.0, 6.0, Side::Left, 0.2, "tonic"),
        strong(10.0, 11.0, Side::Left, 0.6, "clonic"),
        strong(20.0, 22.0, Side::Left, 0.6, "tonic"),
    ]);
    let a_events = vec![
        // Found, 0.2 s late (inside the 0.3 s widening).
        det(2.2, 2.5, Side::Left),
        // Wrong side: a miss and a false alarm.
        det(5.0, 6.0, Side::Right),
        det(10.0, 11.0, Side::Left),
        // Two pieces of one tonic twitch: one hit and a duplicate (not a false alarm).
        det(20.0, 20.8, Side::Left),
        det(21.0, 22.0, Side::Left),
    ];
    let b = labels(vec![strong(3.0, 4.0, Side::Right, 0.6, "clonic")]);
    let b_events = vec![det(3.1, 3.4, Side::Right)];
    let mut neg = labels(vec![]);
    neg.clip = "neg.mp4".into();
    let neg_events = vec![
        det(7.0, 7.5, Side::Left),
        det(40.0, 40.2, Side::Right),
        Event::FaceLost {
            start_s: 30.0,
            end_s: 45.0,
        },
    ];
    vec![(a, a_events), (b, b_events), (neg, neg_events)]
}

#[test]
fn sensitivity_bins_patterns_and_false_alarms_per_observed_minute() {
    use twitchwatch::devtools::sensitivity::{StrengthField, sensitivity};
    let s = sensitivity(
        &sensitivity_case(),
        StrengthField::Closure,
        None,
        &EvalParams::default(),
    );
    // One bin per level, the inner edge half-way.
    assert_eq!(s.edges, vec![0.2, 0.4, 0.6]);
    let bins: Vec<_> = s
        .bins
        .iter()
        .map(|b| (b.name.as_str(), b.lo, b.hi, b.labelled, b.hits))
        .collect();
    assert_eq!(
        bins,
        vec![
            ("0.200", Some(0.2), Some(0.4), 2, 1),
            ("0.600", Some(0.4), Some(0.6), 3, 3)
        ]
    );
    assert_eq!(s.bins[0].recall, Some(0.5));
    let (lo, hi) = s.bins[1].ci95.unwrap();
    assert!(lo > 0.4 && lo < 0.5 && hi > 0.999, "{lo} {hi}");
    let pats: Vec<_> = s
        .patterns
        .iter()
        .map(|p| (p.name.as_str(), p.labelled, p.hits))
        .collect();
    assert_eq!(pats, vec![("clonic", 3, 3), ("tonic", 2, 1)]);
    assert_eq!(s.pattern_bins[1].1[0].labelled, 1); // tonic at 0.2
    assert_eq!(s.pattern_bins[1].1[0].hits, 0);
    // Distractor-only: 2 false alarms over 60 s less 15 s without a face.
    assert_eq!(s.distractor_only.clips, 1);
    assert!(close(s.distractor_only.observed_s, 45.0));
    assert_eq!(s.distractor_only.false_alarms, 2);
    assert!(close(s.distractor_only.per_min.unwrap(), 2.0 / 0.75));
    // The wrong-side detection is the one false alarm among the twitch clips.
    assert_eq!(s.with_twitches.false_alarms, 1);
    assert!(close(s.with_twitches.observed_s, 120.0));
    assert_eq!(s.unbinned, 0);

    let text = s.format();
    assert!(text.contains("bin edges: 0.200, 0.400, 0.600"), "{text}");
    assert!(text.contains("distractor-only"), "{text}");
    let csv = s.to_csv();
    assert!(
        csv.starts_with("group,pattern,closure,lo,hi,labelled,hits,recall"),
        "{csv}"
    );
    assert!(
        csv.contains("\nbin,,0.200,0.2000,0.4000,2,1,0.5000,"),
        "{csv}"
    );
    assert!(csv.contains("\npattern,tonic,,,,2,1,0.5000,"), "{csv}");
}

#[test]
fn sensitivity_by_amplitude_with_given_edges_and_unbinned() {
    use twitchwatch::devtools::sensitivity::{StrengthField, parse_edges, sensitivity};
    let mut clips = sensitivity_case();
    // amplitude on two events only: the others are unbinned.
    clips[0].0.events[0].amplitude = Some(0.12);
    clips[0].0.events[2].amplitude = Some(0.45);
    let edges = parse_edges("0,0.25,0.5").unwrap();
    let s = sensitivity(
        &clips,
        StrengthField::Amplitude,
        Some(&edges),
        &EvalParams::default(),
    );
    assert_eq!(s.bins.len(), 2);
    assert_eq!(
        (s.bins[0].name.as_str(), s.bins[0].labelled, s.bins[0].hits),
        ("0.120", 1, 1)
    );
    assert_eq!((s.bins[1].labelled, s.bins[1].hits), (1, 1));
    assert_eq!(s.unbinned, 3);
    assert!(parse_edges("0.5,0.2").is_err());
    assert!(parse_edges("0.5").is_err());
    assert!(StrengthField::parse("strength").is_err());
}

/// The command line: `eval --labels --events --by closure --csv`.
#[test]
fn eval_by_closure_command() {
    let dir = std::env::temp_dir().join(format!("tw_eval_by_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (l, events) = sensitivity_case().remove(0);
    let lp = dir.join("a.labels.json");
    std::fs::write(&lp, serde_json::to_string(&l).unwrap()).unwrap();
    let ep = dir.join("a.events.jsonl");
    let text: String = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(&ep, text).unwrap();
    let csv = dir.join("bins.csv");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
        .args(["eval", "--labels"])
        .arg(&lp)
        .arg("--events")
        .arg(&ep)
        .args(["--by", "closure", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("recall by closure"), "{stdout}");
    assert!(
        stdout.contains("bin edges: 0.200, 0.400, 0.600"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.contains("\nbin,,0.600,0.4000,0.6000,2,2,1.0000,"),
        "{csv}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
