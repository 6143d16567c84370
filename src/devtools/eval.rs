//! Scores detected twitches against ground-truth labels.
//!
//! Input: `Labels` and the `Event`s of one clip's log. Output: `Scores` per clip, pooled
//! totals, and a text table / CSV / JSON of them. Thread: any.
//!
//! Matching: a detected twitch and a labelled event match when their time intervals overlap
//! once the label is widened by `EvalParams::tolerance_s` on each side (intervals that just
//! touch count). Pairs are assigned one-to-one, greedily by largest overlap. A detection left
//! over that overlaps an already-matched label is a *duplicate* (the same spasm reported in
//! pieces): not a false alarm, but counted separately. Other left-over detections are false
//! positives; left-over labels are false negatives. Matching ignores the side; the side is
//! scored separately (`side_accuracy`).

use crate::devtools::labels::{LabelEvent, Labels};
use crate::outputs::events::{Event, Twitch};
use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Intervals closer than this (seconds) count as touching, to absorb rounding.
const EPS_S: f64 = 1e-9;

/// File extensions recognised as clips when pairing a folder (compared case-insensitively).
pub const VIDEO_EXTENSIONS: [&str; 8] = ["mp4", "mov", "m4v", "mkv", "webm", "avi", "y4m", "h264"];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalParams {
    /// Seconds added to each side of a labelled interval before testing overlap (labels of
    /// real clips are only accurate to a few frames). Default 0.3 s.
    pub tolerance_s: f64,
}

impl Default for EvalParams {
    fn default() -> Self {
        Self { tolerance_s: 0.3 }
    }
}

/// One matched pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub label: usize,
    pub detection: usize,
    /// Overlap in seconds with the widened label (0 when they just touch).
    pub overlap_s: f64,
}

/// How detections and labels were matched; indices into the label list and the list of
/// detected twitches (in log order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Matching {
    /// Sorted by label index.
    pub pairs: Vec<Pair>,
    /// Detections matching nothing (false alarms), ascending.
    pub false_positives: Vec<usize>,
    /// Labels no detection matched, ascending.
    pub missed: Vec<usize>,
    /// `(detection, label)`: a left-over detection overlapping an already-matched label.
    pub duplicates: Vec<(usize, usize)>,
}

/// Overlap in seconds of a detection with a label widened by `tol`; negative when apart.
fn overlap_s(d: &Twitch, l: &LabelEvent, tol: f64) -> f64 {
    d.end_s.min(l.end_s + tol) - d.start_s.max(l.start_s - tol)
}

/// Whether a detection is on a label's side and overlaps it widened by `tol`: how a
/// candidate is called real when the confidence model and forest are fitted and judged.
pub fn overlaps_same_side(d: &Twitch, l: &LabelEvent, tol: f64) -> bool {
    d.side == l.side && overlap_s(d, l, tol) >= 0.0
}

/// Whether a detection overlaps some label as `overlaps_same_side` does: a real candidate
/// for the confidence model, the forest and their cross-validation.
pub fn is_real(d: &Twitch, labels: &[LabelEvent], tol: f64) -> bool {
    labels.iter().any(|l| overlaps_same_side(d, l, tol))
}

/// Matches detections to labels (see the module docs). Non-finite times never match.
pub fn match_events(
    labels: &[LabelEvent],
    detections: &[&Twitch],
    params: &EvalParams,
) -> Matching {
    let tol = params.tolerance_s.max(0.0);
    let mut candidates: Vec<Pair> = Vec::new();
    for (li, l) in labels.iter().enumerate() {
        for (di, d) in detections.iter().enumerate() {
            let overlap = overlap_s(d, l, tol);
            if overlap.is_finite() && overlap >= -EPS_S {
                candidates.push(Pair {
                    label: li,
                    detection: di,
                    overlap_s: overlap.max(0.0),
                });
            }
        }
    }
    // Largest overlap first; ties: same side first, then closer onset, then order.
    candidates.sort_by(|a, b| {
        let same = |p: &Pair| detections[p.detection].side == labels[p.label].side;
        let onset = |p: &Pair| (detections[p.detection].start_s - labels[p.label].start_s).abs();
        b.overlap_s
            .total_cmp(&a.overlap_s)
            .then(same(b).cmp(&same(a)))
            .then(onset(a).total_cmp(&onset(b)))
            .then(a.label.cmp(&b.label))
            .then(a.detection.cmp(&b.detection))
    });
    let mut label_used = vec![false; labels.len()];
    let mut det_used = vec![false; detections.len()];
    let mut m = Matching::default();
    for c in &candidates {
        if !label_used[c.label] && !det_used[c.detection] {
            label_used[c.label] = true;
            det_used[c.detection] = true;
            m.pairs.push(*c);
        }
    }
    m.pairs.sort_by_key(|p| p.label);
    for (di, used) in det_used.iter().enumerate() {
        if *used {
            continue;
        }
        // Any label this detection overlaps is matched already (otherwise greedy would have
        // paired them); take the one it overlaps most.
        let best = candidates
            .iter()
            .filter(|c| c.detection == di)
            .map(|c| c.label)
            .next();
        match best {
            Some(li) => m.duplicates.push((di, li)),
            None => m.false_positives.push(di),
        }
    }
    m.missed = (0..labels.len()).filter(|&li| !label_used[li]).collect();
    m
}

/// Scores of one clip, or pooled over clips (`clip == "TOTAL"`).
///
/// Conventions when counts are zero: precision = tp / (tp + fp), and 1.0 when nothing was
/// detected (no claim was wrong); recall = tp / labelled, and 1.0 when nothing was labelled
/// (nothing was missed); F1 = harmonic mean, 1.0 when both are 1.0 and 0.0 when both are 0.
/// So a negative clip with no detections scores 1/1/1, a negative clip with false alarms
/// scores precision 0, F1 0, and a positive clip with no detections scores recall 0, F1 0.
/// Duplicates count in `detected` but in neither precision nor recall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub clip: String,
    /// Seconds of video the labels cover (frames / fps).
    pub duration_s: f64,
    pub labelled: u64,
    /// All detected twitches: tp + fp + duplicates.
    pub detected: u64,
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub duplicates: u64,
    /// Matched pairs whose detected side equals the labelled side.
    pub side_correct: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// side_correct / tp; None without matches.
    pub side_accuracy: Option<f64>,
    /// Mean |detected.start_s - label.start_s| over matches, seconds; None without matches.
    pub onset_error_s: Option<f64>,
    /// Median of the same, seconds.
    pub onset_error_median_s: Option<f64>,
    /// fp per minute of `duration_s`; None when the duration is unknown (0).
    pub false_alarms_per_min: Option<f64>,
    /// The individual onset errors (seconds), kept so that pooling can take the median.
    #[serde(default)]
    pub onset_errors_s: Vec<f64>,
    /// Time in spasm by the labels: the union of the labelled intervals, seconds.
    #[serde(default)]
    pub spasm_labelled_s: f64,
    /// Time in spasm by the log: the union of the detected twitches, seconds. With
    /// `spasm_labelled_s`, says whether a therapist's "percent of time in spasm" is right.
    #[serde(default)]
    pub spasm_detected_s: f64,
    /// Median over matches of detected duration / labelled duration; None without matches.
    pub duration_ratio_median: Option<f64>,
    /// The individual duration ratios, kept so that pooling can take the median.
    #[serde(default)]
    pub duration_ratios: Vec<f64>,
}

/// How well a log measures time: what `Scores` keeps beyond counts.
#[derive(Debug, Clone, Default, PartialEq)]
struct TimeMeasures {
    onset_errors_s: Vec<f64>,
    duration_ratios: Vec<f64>,
    spasm_labelled_s: f64,
    spasm_detected_s: f64,
}

/// Precision, recall and F1 with the zero-count conventions documented on `Scores`.
pub fn prf(tp: u64, fp: u64, fn_: u64) -> (f64, f64, f64) {
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// A sum that is +0.0 when empty (`Iterator::sum` of floats gives -0.0, printed "-0.0").
fn total(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |acc, v| acc + v)
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

impl Scores {
    /// Builds scores from counts, filling in the derived metrics.
    #[allow(clippy::too_many_arguments)]
    fn from_counts(
        clip: String,
        duration_s: f64,
        labelled: u64,
        detected: u64,
        tp: u64,
        fp: u64,
        duplicates: u64,
        side_correct: u64,
        time: TimeMeasures,
    ) -> Scores {
        let TimeMeasures {
            onset_errors_s,
            duration_ratios,
            spasm_labelled_s,
            spasm_detected_s,
        } = time;
        let fn_ = labelled.saturating_sub(tp);
        let (precision, recall, f1) = prf(tp, fp, fn_);
        let onset_error_s = if onset_errors_s.is_empty() {
            None
        } else {
            Some(onset_errors_s.iter().sum::<f64>() / onset_errors_s.len() as f64)
        };
        Scores {
            clip,
            duration_s,
            labelled,
            detected,
            tp,
            fp,
            fn_,
            duplicates,
            side_correct,
            precision,
            recall,
            f1,
            side_accuracy: (tp > 0).then(|| side_correct as f64 / tp as f64),
            onset_error_s,
            onset_error_median_s: median(&onset_errors_s),
            false_alarms_per_min: (duration_s > 0.0 && duration_s.is_finite())
                .then(|| fp as f64 / (duration_s / 60.0)),
            onset_errors_s,
            spasm_labelled_s,
            spasm_detected_s,
            duration_ratio_median: median(&duration_ratios),
            duration_ratios,
        }
    }
}

/// Scores one clip's events (only `Twitch` events count) against its labels. The duration is
/// the labels' (frames / fps), or the log's `Summary` duration when the labels give none.
pub fn score(labels: &Labels, events: &[Event], params: &EvalParams) -> Scores {
    let detections: Vec<&Twitch> = events.iter().filter_map(Event::as_twitch).collect();
    let m = match_events(&labels.events, &detections, params);
    let side_correct = m
        .pairs
        .iter()
        .filter(|p| detections[p.detection].side == labels.events[p.label].side)
        .count();
    let onset_errors: Vec<f64> = m
        .pairs
        .iter()
        .map(|p| (detections[p.detection].start_s - labels.events[p.label].start_s).abs())
        .collect();
    let duration_ratios: Vec<f64> = m
        .pairs
        .iter()
        .filter_map(|p| {
            let (d, l) = (detections[p.detection], &labels.events[p.label]);
            let labelled = l.end_s - l.start_s;
            (labelled > 0.0).then(|| (d.end_s - d.start_s) / labelled)
        })
        .filter(|r| r.is_finite())
        .collect();
    let spasm_s = |intervals: Vec<(f64, f64)>| -> f64 {
        total(
            crate::outputs::stats::union(intervals)
                .iter()
                .map(|(a, b)| b - a),
        )
    };
    let time = TimeMeasures {
        onset_errors_s: onset_errors,
        duration_ratios,
        spasm_labelled_s: spasm_s(labels.events.iter().map(|l| (l.start_s, l.end_s)).collect()),
        spasm_detected_s: spasm_s(detections.iter().map(|d| (d.start_s, d.end_s)).collect()),
    };
    Scores::from_counts(
        labels.clip.clone(),
        clip_duration_s(labels, events),
        labels.events.len() as u64,
        detections.len() as u64,
        m.pairs.len() as u64,
        m.false_positives.len() as u64,
        m.duplicates.len() as u64,
        side_correct as u64,
        time,
    )
}

/// The clip's length: the labels' duration, or else the log's summary duration (0 when
/// neither is known).
pub(crate) fn clip_duration_s(labels: &Labels, events: &[Event]) -> f64 {
    let labelled = labels.duration_s();
    if labelled > 0.0 && labelled.is_finite() {
        return labelled;
    }
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Summary { duration_s, .. } => Some(*duration_s),
            _ => None,
        })
        .filter(|d| d.is_finite() && *d > 0.0)
        .unwrap_or(0.0)
}

/// Micro-averaged totals: counts and durations summed, metrics recomputed from the sums.
/// The clip name is "TOTAL".
pub fn pool(scores: &[Scores]) -> Scores {
    let sum = |f: fn(&Scores) -> u64| scores.iter().map(f).sum::<u64>();
    let time = TimeMeasures {
        onset_errors_s: scores
            .iter()
            .flat_map(|s| s.onset_errors_s.iter().copied())
            .collect(),
        duration_ratios: scores
            .iter()
            .flat_map(|s| s.duration_ratios.iter().copied())
            .collect(),
        spasm_labelled_s: total(scores.iter().map(|s| s.spasm_labelled_s)),
        spasm_detected_s: total(scores.iter().map(|s| s.spasm_detected_s)),
    };
    Scores::from_counts(
        "TOTAL".to_string(),
        scores
            .iter()
            .map(|s| s.duration_s)
            .filter(|d| d.is_finite())
            .sum(),
        sum(|s| s.labelled),
        sum(|s| s.detected),
        sum(|s| s.tp),
        sum(|s| s.fp),
        sum(|s| s.duplicates),
        sum(|s| s.side_correct),
        time,
    )
}

/// Per-clip scores plus their pooled total, for JSON output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub params: EvalParams,
    pub clips: Vec<Scores>,
    pub total: Scores,
}

impl Report {
    pub fn new(clips: Vec<Scores>, params: EvalParams) -> Report {
        let total = pool(&clips);
        Report {
            params,
            clips,
            total,
        }
    }
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.decimals$}"),
        _ => "-".to_string(),
    }
}

const COLUMNS: [&str; 18] = [
    "clip",
    "dur_s",
    "labelled",
    "detected",
    "tp",
    "fp",
    "fn",
    "dup",
    "precision",
    "recall",
    "f1",
    "side_acc",
    "onset_s",
    "onset_med_s",
    "fa_per_min",
    "spasm_lab_s",
    "spasm_det_s",
    "dur_ratio",
];

fn cells(s: &Scores) -> Vec<String> {
    vec![
        s.clip.clone(),
        format!("{:.1}", s.duration_s),
        s.labelled.to_string(),
        s.detected.to_string(),
        s.tp.to_string(),
        s.fp.to_string(),
        s.fn_.to_string(),
        s.duplicates.to_string(),
        format!("{:.3}", s.precision),
        format!("{:.3}", s.recall),
        format!("{:.3}", s.f1),
        fmt_opt(s.side_accuracy, 3),
        fmt_opt(s.onset_error_s, 3),
        fmt_opt(s.onset_error_median_s, 3),
        fmt_opt(s.false_alarms_per_min, 2),
        format!("{:.1}", s.spasm_labelled_s),
        format!("{:.1}", s.spasm_detected_s),
        fmt_opt(s.duration_ratio_median, 2),
    ]
}

/// A plain aligned text table: header, one row per clip, then `total` if given. The clip
/// column is left-aligned, numbers right-aligned; "-" marks an undefined value.
pub fn format_table(rows: &[Scores], total: Option<&Scores>) -> String {
    let mut table: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| c.to_string()).collect()];
    table.extend(rows.iter().map(cells));
    if let Some(t) = total {
        table.push(cells(t));
    }
    align(&table)
}

/// Aligns rows of cells: the first column left, the others right.
pub(crate) fn align(table: &[Vec<String>]) -> String {
    let cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            table
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Quotes a CSV cell when it needs it (RFC 4180).
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV with the table's columns (header first); undefined values are empty cells.
pub fn to_csv(rows: &[Scores]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for s in rows {
        let row: Vec<String> = cells(s)
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i > 0 && c == "-" {
                    String::new()
                } else {
                    csv_cell(&c)
                }
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Reads and validates a labels file. Errors are one line and name the file.
pub fn load_labels(path: &Path) -> Result<Labels> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read labels file {}: {e}", path.display()))?;
    let labels: Labels = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{} is not a valid labels file: {e}", path.display()))?;
    if !(labels.fps.is_finite() && labels.fps >= 0.0) {
        return Err(anyhow!(
            "{}: fps must be a non-negative number",
            path.display()
        ));
    }
    for (i, ev) in labels.events.iter().enumerate() {
        if !(ev.start_s.is_finite()
            && ev.end_s.is_finite()
            && ev.start_s >= 0.0
            && ev.end_s >= ev.start_s)
        {
            return Err(anyhow!(
                "{}: event {} has an invalid interval ({} s to {} s)",
                path.display(),
                i + 1,
                ev.start_s,
                ev.end_s
            ));
        }
    }
    Ok(labels)
}

/// Where the events log for a clip lives by convention: `X.events.jsonl` beside `X.<ext>`.
pub fn default_events_path(clip: &Path) -> PathBuf {
    clip.with_extension("events.jsonl")
}

/// Clips and labels found in a folder, plus what looked wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FolderPairs {
    /// `(clip, labels)`, sorted by file name.
    pub pairs: Vec<(PathBuf, PathBuf)>,
    pub warnings: Vec<String>,
}

/// Pairs `X.<video ext>` with `X.labels.json` in `dir` (not recursive). A labels file without
/// its clip is a warning; clips without labels are ignored. If several clips share a stem,
/// the one the labels' `"clip"` field names wins, else the first by name (with a warning).
pub fn pair_folder_report(dir: &Path) -> Result<FolderPairs> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| anyhow!("cannot list folder {}: {e}", dir.display()))?;
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| anyhow!("cannot list folder {}: {e}", dir.display()))?;
        let is_file = entry
            .file_type()
            .map(|t| t.is_file() || t.is_symlink())
            .unwrap_or(false);
        if let (true, Some(name)) = (is_file, entry.file_name().to_str()) {
            names.push(name.to_string());
        }
    }
    names.sort();
    let mut out = FolderPairs::default();
    for labels_name in names.iter().filter(|n| n.ends_with(".labels.json")) {
        let stem = &labels_name[..labels_name.len() - ".labels.json".len()];
        let clips: Vec<&String> = names
            .iter()
            .filter(|n| {
                n.strip_prefix(stem)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|ext| VIDEO_EXTENSIONS.iter().any(|v| v.eq_ignore_ascii_case(ext)))
            })
            .collect();
        let labels_path = dir.join(labels_name);
        let clip = match clips.as_slice() {
            [] => {
                out.warnings.push(format!(
                    "{labels_name}: no clip named {stem}.<video> beside it; skipped"
                ));
                continue;
            }
            [one] => (*one).clone(),
            several => {
                let named = load_labels(&labels_path).ok().map(|l| l.clip);
                match several
                    .iter()
                    .find(|c| Some(c.as_str()) == named.as_deref())
                {
                    Some(c) => (*c).clone(),
                    None => {
                        let first = several[0].clone();
                        out.warnings.push(format!(
                            "{labels_name}: several clips share its name; using {first}"
                        ));
                        first
                    }
                }
            }
        };
        out.pairs.push((dir.join(clip), labels_path));
    }
    Ok(out)
}

/// `pair_folder_report`, with its warnings logged through `tracing`.
pub fn pair_folder(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let report = pair_folder_report(dir)?;
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    Ok(report.pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_even_odd() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn prf_conventions() {
        assert_eq!(prf(0, 0, 0), (1.0, 1.0, 1.0));
        assert_eq!(prf(0, 2, 0), (0.0, 1.0, 0.0));
        assert_eq!(prf(0, 0, 2), (1.0, 0.0, 0.0));
        assert_eq!(prf(0, 1, 1), (0.0, 0.0, 0.0));
        let (p, r, f) = prf(1, 1, 0);
        assert_eq!((p, r), (0.5, 1.0));
        assert!((f - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn events_path_convention() {
        assert_eq!(
            default_events_path(Path::new("d/winks.mp4")),
            PathBuf::from("d/winks.events.jsonl")
        );
        assert_eq!(
            default_events_path(Path::new("a.b.y4m")),
            PathBuf::from("a.b.events.jsonl")
        );
        assert_eq!(
            default_events_path(Path::new("noext")),
            PathBuf::from("noext.events.jsonl")
        );
    }
}
