//! CSV tables: `sessions.csv` (one row per session, measures as columns) and
//! `comparison.csv` (one row per measure: before, after, change, interval). Fixed decimals,
//! a dot as decimal mark, empty cells for values that cannot be computed.

use super::{Comparison, Session, fixed, measures};
use crate::outputs::stats::{Interval, MannWhitney, RateRatio};

/// A CSV field, quoted when it needs to be.
pub(super) fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per (group, session): group is "session", "pooled", "before" or "after".
pub fn sessions_csv(rows: &[(&str, &Session)]) -> String {
    let mut out = String::from("group,session,source,version");
    let Some((_, first)) = rows.first() else {
        out.push('\n');
        return out;
    };
    for m in measures(first) {
        out.push(',');
        out.push_str(m.key);
    }
    out.push('\n');
    for (group, s) in rows {
        let cells = [
            field(group),
            field(&s.name),
            field(s.source.as_deref().unwrap_or("")),
            field(s.version.as_deref().unwrap_or("")),
        ];
        out.push_str(&cells.join(","));
        for m in measures(s) {
            out.push(',');
            out.push_str(&fixed(m.value, m.decimals));
        }
        out.push('\n');
    }
    out
}

struct Row {
    measure: String,
    before: Option<f64>,
    after: Option<f64>,
    change: Option<f64>,
    ci: Option<(f64, f64)>,
    decimals: usize,
}

/// measure,before,after,change,ci_low,ci_high — pooled before vs pooled after. Changes are
/// after − before, except the rate ratios (after / before) and the Mann–Whitney p-values
/// (in the change column). An infinite bound ("no upper bound") is an empty cell.
pub fn comparison_csv(c: &Comparison) -> String {
    let mb = measures(&c.pooled_before);
    let ma = measures(&c.pooled_after);
    let mut rows = Vec::new();
    for (b, a) in mb.iter().zip(&ma) {
        let change = match (b.value, a.value) {
            (Some(x), Some(y)) => Some(y - x),
            _ => None,
        };
        let ci = match b.key {
            "duration_median_s" => c.duration_diff.map(bounds),
            "intensity_median" => c.intensity_diff.map(bounds),
            "closure_asymmetry_pct" => c.asymmetry_diff.map(|i| (i.low * 100.0, i.high * 100.0)),
            _ => None,
        };
        rows.push(Row {
            measure: b.key.to_string(),
            before: b.value,
            after: a.value,
            change,
            ci,
            decimals: b.decimals,
        });
        if b.key == "per_min_right" {
            let (pb, pa) = (&c.pooled_before.stats, &c.pooled_after.stats);
            for (key, r, before, after) in [
                ("rate_ratio", c.rate, pb.all.per_minute, pa.all.per_minute),
                (
                    "rate_ratio_left",
                    c.rate_left,
                    pb.left.per_minute,
                    pa.left.per_minute,
                ),
                (
                    "rate_ratio_right",
                    c.rate_right,
                    pb.right.per_minute,
                    pa.right.per_minute,
                ),
            ] {
                rows.push(ratio_row(key, r, before, after));
            }
            let per_min =
                |n: u64, observed_s: f64| (observed_s > 0.0).then(|| n as f64 * 60.0 / observed_s);
            rows.push(ratio_row(
                "strong_rate_ratio",
                c.strong.ratio,
                per_min(c.strong.before, pb.observed_s),
                per_min(c.strong.after, pa.observed_s),
            ));
        }
        if b.key == "duration_q3_s" {
            rows.push(test_row("duration_mann_whitney_p", c.duration_test));
        }
        if b.key == "intensity_max" {
            rows.push(test_row("intensity_mann_whitney_p", c.intensity_test));
        }
    }
    let mut out = String::from("measure,before,after,change,ci_low,ci_high\n");
    for r in rows {
        let (lo, hi) = match r.ci {
            Some((l, h)) => (Some(l), Some(h)),
            None => (None, None),
        };
        let d = r.decimals;
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            field(&r.measure),
            fixed(r.before, d),
            fixed(r.after, d),
            fixed(r.change, d),
            fixed(lo, d),
            fixed(hi, d)
        ));
    }
    out
}

fn bounds(i: Interval) -> (f64, f64) {
    (i.low, i.high)
}

fn ratio_row(key: &str, r: Option<RateRatio>, before: Option<f64>, after: Option<f64>) -> Row {
    Row {
        measure: key.to_string(),
        before,
        after,
        change: r.map(|r| r.ratio),
        ci: r.map(|r| (r.ci_low, r.ci_high)),
        decimals: 3,
    }
}

fn test_row(key: &str, t: Option<MannWhitney>) -> Row {
    Row {
        measure: key.to_string(),
        before: None,
        after: None,
        change: t.map(|t| t.p_two_sided),
        ci: None,
        decimals: 6,
    }
}
