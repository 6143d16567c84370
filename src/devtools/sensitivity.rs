//! Sensitivity curve: recall per twitch-strength bin and per pattern, and false alarms per
//! observed minute on distractor-only clips (`eval --by closure`).
//!
//! Input: the `Labels` and the events of each clip, a strength field of the labels
//! (`closure`, `amplitude` or `lid_travel_pct`) and optional bin edges. Output:
//! `Sensitivity` (pooled over the clips), as a text table or CSV. Thread: any.
//!
//! Matching is `eval`'s (the label widened by `EvalParams::tolerance_s` on each side,
//! one-to-one by largest overlap) done per side: a detection on the wrong side matches
//! nothing, so the label is a miss and the detection a false alarm. A left-over detection
//! overlapping an already-matched label on its side is a duplicate, not a false alarm.
//! Observed time is the clip's duration less its `face_lost` and `camera_gap` intervals.
//!
//! `closure` (synthetic clips: the fraction the eye's aperture narrows at the peak) and
//! `amplitude` (the warp of `graded/` clips) are different scales: each is binned alone.

use crate::analysis::anatomy::Side;
use crate::devtools::eval::{EvalParams, match_events};
use crate::devtools::labels::{LabelEvent, Labels};
use crate::outputs::events::{Event, Twitch};
use anyhow::{Result, bail};

/// The labels' strength field to bin by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrengthField {
    /// Synthetic twitches: fraction of the eye's aperture closed at the peak (0..1).
    Closure,
    /// `graded/` clips: the warp's amplitude (its own scale).
    Amplitude,
    /// Lower-lid flutter: the lid's peak rise, percent of the face width.
    LidTravel,
}

impl StrengthField {
    pub fn parse(s: &str) -> Result<StrengthField> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "closure" => StrengthField::Closure,
            "amplitude" => StrengthField::Amplitude,
            "lid_travel_pct" | "lid_travel" | "lid-travel" => StrengthField::LidTravel,
            other => bail!("--by {other:?}: expected closure, amplitude or lid_travel_pct"),
        })
    }

    /// The labels' field name.
    pub fn name(self) -> &'static str {
        match self {
            StrengthField::Closure => "closure",
            StrengthField::Amplitude => "amplitude",
            StrengthField::LidTravel => "lid_travel_pct",
        }
    }

    pub fn get(self, e: &LabelEvent) -> Option<f64> {
        match self {
            StrengthField::Closure => e.closure,
            StrengthField::Amplitude => e.amplitude,
            StrengthField::LidTravel => e.lid_travel_pct,
        }
        .filter(|v| v.is_finite())
    }
}

/// Recall over a group of labelled events (a strength bin, a pattern).
#[derive(Debug, Clone, PartialEq)]
pub struct RecallRow {
    /// "0.300" for a one-level bin, "0.200-0.400" for a range, or the pattern's name.
    pub name: String,
    /// Bin edges: `lo <= strength < hi` (the last bin includes `hi`); `None` for patterns.
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub labelled: u64,
    pub hits: u64,
    /// hits / labelled; `None` when nothing is labelled.
    pub recall: Option<f64>,
    /// Wilson score 95 % interval of the recall.
    pub ci95: Option<(f64, f64)>,
}

impl RecallRow {
    fn new(name: String, lo: Option<f64>, hi: Option<f64>, labelled: u64, hits: u64) -> Self {
        RecallRow {
            name,
            lo,
            hi,
            labelled,
            hits,
            recall: (labelled > 0).then(|| hits as f64 / labelled as f64),
            ci95: wilson95(hits, labelled),
        }
    }
}

/// False alarms over a set of clips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FalseAlarms {
    pub clips: u64,
    /// Seconds with the face in view (duration less face-lost and camera-gap intervals).
    pub observed_s: f64,
    pub false_alarms: u64,
    /// false_alarms per observed minute; `None` without observed time.
    pub per_min: Option<f64>,
}

impl FalseAlarms {
    fn add(&mut self, observed_s: f64, false_alarms: u64) {
        self.clips += 1;
        self.observed_s += observed_s;
        self.false_alarms += false_alarms;
        self.per_min =
            (self.observed_s > 0.0).then(|| self.false_alarms as f64 / (self.observed_s / 60.0));
    }
}

/// The pooled sensitivity curve of a set of clips.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    pub field: StrengthField,
    pub tolerance_s: f64,
    /// Bin edges, ascending (`bins[i]` covers `edges[i]..edges[i+1]`).
    pub edges: Vec<f64>,
    pub bins: Vec<RecallRow>,
    /// Labelled events without the field, or outside the edges (not in any bin).
    pub unbinned: u64,
    pub patterns: Vec<RecallRow>,
    /// Per pattern (outer) and bin (inner), the same bins as `bins`.
    pub pattern_bins: Vec<(String, Vec<RecallRow>)>,
    /// Clips without labelled events.
    pub distractor_only: FalseAlarms,
    /// Clips with labelled events (wrong-side detections count here).
    pub with_twitches: FalseAlarms,
}

/// Wilson score interval at 95 % for `k` successes in `n` trials.
pub fn wilson95(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_964);
    let p = k / n;
    let den = 1.0 + z * z / n;
    let mid = (p + z * z / (2.0 * n)) / den;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / den;
    Some(((mid - half).max(0.0), (mid + half).min(1.0)))
}

/// Which labels a clip's detections found (same side, `eval`'s overlap rule), and how many
/// detections are false alarms.
pub fn match_sided(
    labels: &[LabelEvent],
    detections: &[&Twitch],
    params: &EvalParams,
) -> (Vec<bool>, u64) {
    let mut hit = vec![false; labels.len()];
    let mut false_alarms = 0;
    for side in Side::BOTH {
        let li: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i].side == side)
            .collect();
        let ls: Vec<LabelEvent> = li.iter().map(|&i| labels[i].clone()).collect();
        let ds: Vec<&Twitch> = detections
            .iter()
            .copied()
            .filter(|d| d.side == side)
            .collect();
        let m = match_events(&ls, &ds, params);
        for p in &m.pairs {
            hit[li[p.label]] = true;
        }
        false_alarms += m.false_positives.len() as u64;
    }
    (hit, false_alarms)
}

/// Seconds of a clip with the face in view: the labels' duration (or the log's summary
/// duration) less the union of face-lost and camera-gap intervals inside it.
pub fn observed_s(labels: &Labels, events: &[Event]) -> f64 {
    let duration = crate::devtools::eval::clip_duration_s(labels, events);
    let gaps = crate::outputs::stats::union(
        events
            .iter()
            .filter_map(Event::gap)
            .map(|(a, b)| (a.max(0.0), b.min(duration)))
            .collect(),
    );
    (duration - gaps.iter().map(|(a, b)| b - a).sum::<f64>()).max(0.0)
}

/// Default bin edges: with at most 12 distinct strengths (the levels of a graded set), one
/// bin per level (inner edges half-way between levels); otherwise 10 equal bins from the
/// smallest to the largest. Empty when no event has the field.
pub fn default_edges(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    match v.len() {
        0 => vec![],
        1 => vec![v[0], v[0]],
        n if n <= 12 => {
            let mut e = vec![v[0]];
            e.extend(v.windows(2).map(|w| 0.5 * (w[0] + w[1])));
            e.push(v[n - 1]);
            e
        }
        n => {
            let (lo, hi) = (v[0], v[n - 1]);
            (0..=10).map(|i| lo + (hi - lo) * i as f64 / 10.0).collect()
        }
    }
}

/// Parses comma-separated ascending bin edges ("0,0.25,0.5,1").
pub fn parse_edges(s: &str) -> Result<Vec<f64>> {
    let mut e = Vec::new();
    for part in s.split(',') {
        let x: f64 = match part.trim().parse() {
            Ok(x) if f64::is_finite(x) => x,
            _ => bail!("--bins {s:?}: {part:?} is not a number"),
        };
        if e.last().is_some_and(|&l| x <= l) {
            bail!("--bins {s:?}: edges must be ascending");
        }
        e.push(x);
    }
    if e.len() < 2 {
        bail!("--bins {s:?}: need at least two edges");
    }
    Ok(e)
}

/// (labelled, hits) of one pattern: (name, overall, per bin).
type PatternCounts = (String, (u64, u64), Vec<(u64, u64)>);

/// Index of the bin holding `x` (`lo <= x < hi`, the last bin closed), if any.
fn bin_of(edges: &[f64], x: f64) -> Option<usize> {
    let n = edges.len().checked_sub(1)?;
    (0..n).find(|&i| x >= edges[i] && (x < edges[i + 1] || (i + 1 == n && x <= edges[n])))
}

fn bin_name(edges: &[f64], i: usize, levels: &[f64]) -> String {
    // A bin holding one level is named by it; otherwise by its range.
    let inside: Vec<f64> = levels
        .iter()
        .copied()
        .filter(|&x| bin_of(edges, x) == Some(i))
        .collect();
    match inside.as_slice() {
        [one] => format!("{one:.3}"),
        _ => format!("{:.3}-{:.3}", edges[i], edges[i + 1]),
    }
}

/// Pools the sensitivity curve over clips. `edges`: bin edges, or `None` for
/// `default_edges` of the strengths found.
pub fn sensitivity(
    clips: &[(Labels, Vec<Event>)],
    field: StrengthField,
    edges: Option<&[f64]>,
    params: &EvalParams,
) -> Sensitivity {
    let values: Vec<f64> = clips
        .iter()
        .flat_map(|(l, _)| l.events.iter().filter_map(|e| field.get(e)))
        .collect();
    let edges = edges.map_or_else(|| default_edges(&values), <[f64]>::to_vec);
    let nbins = edges.len().saturating_sub(1);
    let mut levels = values.clone();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    // (labelled, hits) per bin, per pattern, per pattern and bin.
    let mut bins = vec![(0u64, 0u64); nbins];
    let mut patterns: Vec<PatternCounts> = Vec::new();
    let mut unbinned = 0;
    let mut out = Sensitivity {
        field,
        tolerance_s: params.tolerance_s,
        edges: edges.clone(),
        bins: vec![],
        unbinned: 0,
        patterns: vec![],
        pattern_bins: vec![],
        distractor_only: FalseAlarms::default(),
        with_twitches: FalseAlarms::default(),
    };
    for (labels, events) in clips {
        let detections: Vec<&Twitch> = events.iter().filter_map(Event::as_twitch).collect();
        let (hit, fa) = match_sided(&labels.events, &detections, params);
        let observed = observed_s(labels, events);
        if labels.events.is_empty() {
            out.distractor_only.add(observed, fa);
        } else {
            out.with_twitches.add(observed, fa);
        }
        for (e, &h) in labels.events.iter().zip(&hit) {
            let pattern = e.pattern.clone().unwrap_or_else(|| "-".to_string());
            let pi = match patterns.iter().position(|p| p.0 == pattern) {
                Some(i) => i,
                None => {
                    patterns.push((pattern, (0, 0), vec![(0, 0); nbins]));
                    patterns.len() - 1
                }
            };
            let p = &mut patterns[pi];
            p.1.0 += 1;
            p.1.1 += h as u64;
            match field.get(e).and_then(|x| bin_of(&edges, x)) {
                Some(b) => {
                    bins[b].0 += 1;
                    bins[b].1 += h as u64;
                    p.2[b].0 += 1;
                    p.2[b].1 += h as u64;
                }
                None => unbinned += 1,
            }
        }
    }
    let bin_row = |i: usize, (n, k): (u64, u64)| {
        RecallRow::new(
            bin_name(&edges, i, &levels),
            Some(edges[i]),
            Some(edges[i + 1]),
            n,
            k,
        )
    };
    out.bins = bins
        .iter()
        .enumerate()
        .map(|(i, &c)| bin_row(i, c))
        .collect();
    out.unbinned = unbinned;
    patterns.sort_by(|a, b| a.0.cmp(&b.0));
    out.patterns = patterns
        .iter()
        .map(|(name, (n, k), _)| RecallRow::new(name.clone(), None, None, *n, *k))
        .collect();
    out.pattern_bins = patterns
        .iter()
        .map(|(name, _, per)| {
            (
                name.clone(),
                per.iter()
                    .enumerate()
                    .map(|(i, &c)| bin_row(i, c))
                    .collect(),
            )
        })
        .collect();
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

fn f3(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn ci(r: &RecallRow) -> String {
    r.ci95
        .map_or_else(|| "-".to_string(), |(a, b)| format!("{a:.2}-{b:.2}"))
}

impl Sensitivity {
    /// The text tables: recall per bin (with its edges), per pattern, per pattern and bin,
    /// and false alarms per observed minute.
    pub fn format(&self) -> String {
        let f = self.field.name();
        let mut out = format!(
            "recall by {f} (same side; label widened by {:.2} s; a wrong side is a miss and a false alarm)\n",
            self.tolerance_s
        );
        let head = |first: &str| -> Vec<String> {
            [first, "lo", "hi", "labelled", "hits", "recall", "ci95"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        let mut t = vec![head(f)];
        for r in &self.bins {
            t.push(vec![
                r.name.clone(),
                f3(r.lo),
                f3(r.hi),
                r.labelled.to_string(),
                r.hits.to_string(),
                f3(r.recall),
                ci(r),
            ]);
        }
        out += &crate::devtools::eval::align(&t);
        out += &format!(
            "bin edges: {}{}\n",
            self.edges
                .iter()
                .map(|e| format!("{e:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            if self.edges.len() > 1 {
                " (lo <= x < hi; the last bin includes hi)"
            } else {
                ""
            }
        );
        if self.unbinned > 0 {
            out += &format!(
                "{} labelled event(s) without {f} or outside the edges: in the pattern rows only\n",
                self.unbinned
            );
        }
        out += "\nrecall by pattern\n";
        let mut t = vec![vec![
            "pattern".to_string(),
            "labelled".into(),
            "hits".into(),
            "recall".into(),
            "ci95".into(),
        ]];
        for r in &self.patterns {
            t.push(vec![
                r.name.clone(),
                r.labelled.to_string(),
                r.hits.to_string(),
                f3(r.recall),
                ci(r),
            ]);
        }
        out += &crate::devtools::eval::align(&t);
        if !self.bins.is_empty() && !self.pattern_bins.is_empty() {
            out += &format!("\nhits/labelled by pattern and {f}\n");
            let mut head = vec!["pattern".to_string()];
            head.extend(self.bins.iter().map(|b| b.name.clone()));
            let mut t = vec![head];
            for (name, rows) in &self.pattern_bins {
                if rows.iter().all(|r| r.labelled == 0) {
                    continue; // e.g. flutter under --by closure
                }
                let mut row = vec![name.clone()];
                row.extend(rows.iter().map(|r| {
                    if r.labelled == 0 {
                        "-".to_string()
                    } else {
                        format!("{}/{}", r.hits, r.labelled)
                    }
                }));
                t.push(row);
            }
            out += &crate::devtools::eval::align(&t);
        }
        out += "\nfalse alarms per observed minute (face in view)\n";
        let mut t = vec![vec![
            "clips".to_string(),
            "n".into(),
            "observed_min".into(),
            "false_alarms".into(),
            "per_min".into(),
        ]];
        for (name, fa) in [
            ("distractor-only", &self.distractor_only),
            ("with twitches", &self.with_twitches),
        ] {
            t.push(vec![
                name.to_string(),
                fa.clips.to_string(),
                format!("{:.1}", fa.observed_s / 60.0),
                fa.false_alarms.to_string(),
                f3(fa.per_min),
            ]);
        }
        out += &crate::devtools::eval::align(&t);
        out
    }

    /// CSV of the per-bin table (`group` = "bin"), then the per-pattern rows ("pattern")
    /// and the pattern-by-bin rows ("pattern_bin"); undefined values are empty cells.
    pub fn to_csv(&self) -> String {
        let mut out = format!(
            "group,pattern,{},lo,hi,labelled,hits,recall,ci95_lo,ci95_hi\n",
            self.field.name()
        );
        let opt = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v:.4}"));
        let mut row = |group: &str, pattern: &str, r: &RecallRow| {
            let name = if group == "pattern" { "" } else { &r.name };
            out += &format!(
                "{group},{},{name},{},{},{},{},{},{},{}\n",
                csv_cell(pattern),
                opt(r.lo),
                opt(r.hi),
                r.labelled,
                r.hits,
                opt(r.recall),
                opt(r.ci95.map(|c| c.0)),
                opt(r.ci95.map(|c| c.1)),
            );
        };
        for r in &self.bins {
            row("bin", "", r);
        }
        for r in &self.patterns {
            row("pattern", &r.name, r);
        }
        for (p, rows) in &self.pattern_bins {
            for r in rows {
                row("pattern_bin", p, r);
            }
        }
        out
    }
}
