//! Statistics for the therapist report, checked against hand-computed values (and, where
//! noted, values computed once with scipy 1.17 for reference).

use twitchwatch::analysis::anatomy::{RegionKind, Side};
use twitchwatch::outputs::events::{Event, Pattern, Twitch, read_log_str};
use twitchwatch::outputs::stats::{
    SessionStats, bootstrap_median_diff, clopper_pearson, enough_time, mann_whitney, rate_ratio,
    share_interval,
};

fn twitch(start_s: f64, end_s: f64, side: Side, regions: &[RegionKind], pattern: Pattern) -> Event {
    Event::Twitch(Twitch {
        start_s,
        end_s,
        side,
        regions: regions.to_vec(),
        peak: 4.0 + end_s - start_s,
        asymmetry: 0.8,
        pattern,
        confidence: 0.9,
        evidence: Vec::new(),
        wall_start: None,
        wall_end: None,
        glasses: false,
        candidate: None,
    })
}

fn summary(duration_s: f64) -> Event {
    Event::Summary {
        duration_s,
        observed_s: 0.0,
        frames: 0,
        twitches_left: 0,
        twitches_right: 0,
        per_minute_left: 0.0,
        per_minute_right: 0.0,
        frames_dropped: None,
        error: None,
        decode_gaps: Vec::new(),
    }
}

fn lost(start_s: f64, end_s: f64) -> Event {
    Event::FaceLost { start_s, end_s }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

use RegionKind::{Cheek, Eye, Mouth};
use Side::{Left, Right};

/// 100 s session; face lost 10–20 and 15–30 (union 10–30: 20 s); twitches L 5–8 and R 7–12
/// overlapping, L 40–41, L 95–105 running past the end, and one at 150 s outside the span.
fn overlap_session() -> Vec<Event> {
    vec![
        twitch(5.0, 8.0, Left, &[Eye], Pattern::Clonic),
        twitch(7.0, 12.0, Right, &[Eye, Cheek], Pattern::Tonic),
        lost(10.0, 20.0),
        lost(15.0, 30.0),
        twitch(40.0, 41.0, Left, &[Eye, Mouth], Pattern::Clonic),
        twitch(95.0, 105.0, Left, &[Eye, Cheek, Mouth], Pattern::Tonic),
        twitch(150.0, 151.0, Left, &[Eye], Pattern::Clonic),
        summary(100.0),
    ]
}

#[test]
fn share_of_time_with_overlaps_and_gaps() {
    let s = SessionStats::from_events(&overlap_session());
    assert_eq!(s.duration_s, 100.0);
    assert_eq!(s.lost_s, 20.0);
    assert_eq!(s.observed_s, 80.0);
    assert_eq!(s.outside_span, 1);
    // Union 5–12 minus the gap from 10 → 5–10 (5 s); 40–41 (1 s); 95–100 (5 s): 11 s.
    assert!(close(s.all.spasm_s, 11.0, 1e-12));
    assert!(close(
        s.all.spasm_share.unwrap_or(f64::NAN),
        11.0 / 80.0,
        1e-12
    ));
    // Left: 5–8, 40–41, 95–100 = 9 s; right: 7–10 = 3 s (the overlap is in both sides).
    assert!(close(s.left.spasm_s, 9.0, 1e-12));
    assert!(close(s.right.spasm_s, 3.0, 1e-12));
    // 4 twitches in 80/60 observed minutes = 3 per minute.
    assert_eq!((s.all.count, s.left.count, s.right.count), (4, 3, 1));
    assert!(close(s.all.per_minute.unwrap_or(f64::NAN), 3.0, 1e-12));
    assert!(close(s.left.per_minute.unwrap_or(f64::NAN), 2.25, 1e-12));
    // Durations 3, 5, 1, 10 (as logged): sorted 1 3 5 10 → q1 2.5, median 4, q3 6.25.
    let d = s.all.duration.expect("durations");
    assert_eq!((d.q1, d.median, d.q3), (2.5, 4.0, 6.25));
    assert_eq!(d.iqr(), 3.75);
    let p = s.all.peak.expect("peaks");
    assert_eq!((p.min, p.median, p.max), (5.0, 8.0, 14.0));
    // Regions, spread, pattern.
    assert_eq!(
        (
            s.all.by_region.eye,
            s.all.by_region.cheek,
            s.all.by_region.mouth
        ),
        (4, 2, 2)
    );
    assert_eq!(
        (
            s.all.spread.eye_only,
            s.all.spread.eye_and_lower,
            s.all.spread.lower_only
        ),
        (1, 3, 0)
    );
    assert_eq!((s.all.clonic, s.all.tonic), (2, 2));
    assert_eq!((s.right.tonic, s.right.spread.eye_and_lower), (1, 1));
    // Minute blocks: 0–60 (observed 40, spasm 6, L2 R1), 60–100 (observed 40, spasm 5, L1).
    assert_eq!(s.blocks.len(), 2);
    let b0 = s.blocks[0];
    let b1 = s.blocks[1];
    assert_eq!(
        (b0.start_s, b0.end_s, b0.observed_s, b0.twitches),
        (0.0, 60.0, 40.0, [2, 1])
    );
    assert!(close(b0.spasm_s, 6.0, 1e-12));
    assert_eq!(
        (b1.start_s, b1.end_s, b1.observed_s, b1.twitches),
        (60.0, 100.0, 40.0, [1, 0])
    );
    assert!(close(b1.spasm_s, 5.0, 1e-12));
}

#[test]
fn empty_log_has_no_nan() {
    for events in [Vec::new(), read_log_str("").events, vec![summary(0.0)]] {
        let s = SessionStats::from_events(&events);
        assert_eq!((s.duration_s, s.observed_s, s.all.count), (0.0, 0.0, 0));
        assert_eq!(s.all.per_minute, None);
        assert_eq!(s.all.spasm_share, None);
        assert_eq!(s.all.duration, None);
        assert!(s.blocks.is_empty());
        assert_eq!(s.share_interval(1, 100), None);
    }
}

#[test]
fn only_face_lost_gives_none_not_nan() {
    let events = vec![
        lost(0.0, 45.0),
        twitch(10.0, 11.0, Left, &[Eye], Pattern::Clonic),
        lost(40.0, 60.0),
        summary(60.0),
    ];
    let s = SessionStats::from_events(&events);
    assert_eq!((s.lost_s, s.observed_s), (60.0, 0.0));
    assert_eq!(s.all.count, 1);
    assert_eq!(s.all.spasm_s, 0.0);
    assert_eq!(s.all.per_minute, None);
    assert_eq!(s.left.spasm_share, None);
    assert!(s.all.duration.is_some());

    // No summary (interrupted writer): the span is the latest time seen.
    let s = SessionStats::from_events(&[lost(0.0, 30.0)]);
    assert_eq!((s.duration_s, s.observed_s), (30.0, 0.0));
    assert_eq!(s.all.per_minute, None);
}

#[test]
fn from_a_log_text_with_unknown_kinds() {
    let text = concat!(
        r#"{"kind":"session","version":"0","source":"clip","mirrored":false}"#,
        "\n",
        r#"{"kind":"camera_gap","start_s":10.0,"end_s":11.0}"#,
        "\n",
        r#"{"kind":"heartbeat","t_s":3.0}"#,
        "\n",
        r#"{"kind":"twitch","start_s":1.0,"end_s":1.5,"side":"left","regions":["eye"],"peak":5.0,"asymmetry":0.9,"pattern":"clonic","confidence":0.8}"#,
        "\n",
        r#"{"kind":"summary","duration_s":120.0,"observed_s":120.0,"frames":3600,"twitches_left":1,"twitches_right":0,"per_minute_left":0.5,"per_minute_right":0.0}"#,
        "\n",
    );
    let s = SessionStats::from_events(&read_log_str(text).events);
    // The camera gap is not observed time; the unknown kind is skipped.
    assert_eq!(s.observed_s, 119.0);
    assert_eq!(s.left.per_minute, Some(60.0 / 119.0));
    assert_eq!(s.all.spasm_share, Some(0.5 / 119.0));
}

#[test]
fn rate_ratio_against_exact_values() {
    // 30 twitches in 600 s before, 12 in 900 s after: RR = (12/900)/(30/600) = 4/15.
    // scipy: beta.ppf(0.025, 12, 31), beta.ppf(0.975, 13, 30) mapped by p/(1-p)·600/900.
    let r = rate_ratio(30, 600.0, 12, 900.0).expect("rate ratio");
    assert!(close(r.ratio, 4.0 / 15.0, 1e-12));
    assert!(close(r.ci_low, 0.12433940455611932, 1e-9), "{r:?}");
    assert!(close(r.ci_high, 0.5363527266907486, 1e-9), "{r:?}");
    // Direction: more after → above 1, and swapping the sessions inverts the ratio and CI.
    let s = rate_ratio(12, 900.0, 30, 600.0).expect("swapped");
    assert!(close(s.ratio, 15.0 / 4.0, 1e-12));
    assert!(close(s.ci_low, 1.0 / r.ci_high, 1e-9));
    assert!(close(s.ci_high, 1.0 / r.ci_low, 1e-9));
}

#[test]
fn rate_ratio_zero_counts() {
    // None after: ratio 0, upper bound from 0 of 10 → p_hi = 1 - 0.025^(1/10), RR = p/(1-p).
    let r = rate_ratio(10, 300.0, 0, 300.0).expect("zero after");
    let p_hi = 1.0 - 0.025f64.powf(0.1);
    assert_eq!((r.ratio, r.ci_low), (0.0, 0.0));
    assert!(close(r.ci_high, p_hi / (1.0 - p_hi), 1e-12));
    assert!(close(r.ci_high, 0.4461255495919246, 1e-9));
    // None before: infinite ratio and upper bound, finite lower bound (scipy 0.45818).
    let r = rate_ratio(0, 300.0, 5, 600.0).expect("zero before");
    assert!(r.ratio.is_infinite() && r.ci_high.is_infinite());
    assert!(close(r.ci_low, 0.4581779286577299, 1e-9));
    assert_eq!(rate_ratio(0, 300.0, 0, 300.0), None);
    assert_eq!(rate_ratio(3, 0.0, 2, 300.0), None);
    assert_eq!(rate_ratio(3, 300.0, 2, f64::NAN), None);
}

#[test]
fn clopper_pearson_closed_forms() {
    // x = n: lower bound (alpha/2)^(1/n).
    let (lo, hi) = clopper_pearson(8, 8, 0.05);
    assert!(close(lo, 0.025f64.powf(1.0 / 8.0), 1e-12));
    assert_eq!(hi, 1.0);
}

#[test]
fn bootstrap_is_deterministic_and_finds_a_clear_shift() {
    let a: Vec<f64> = (0..30)
        .map(|i| 1.0 + 0.05 * ((i * 7) % 11) as f64)
        .collect();
    let b: Vec<f64> = a.iter().map(|x| x + 5.0).collect();
    let x = bootstrap_median_diff(&a, &b, 42, 2000).expect("interval");
    let y = bootstrap_median_diff(&a, &b, 42, 2000).expect("interval");
    assert_eq!(x, y);
    assert!(close(x.estimate, 5.0, 1e-12));
    assert!(x.low <= 5.0 && 5.0 <= x.high, "{x:?}");
    assert!(x.low > 4.0 && x.high < 6.0, "{x:?}");
    // Noisy samples: the interval still covers the estimate and differs with the seed.
    let n: Vec<f64> = (0..25).map(|i| ((i * 37) % 23) as f64 * 0.1).collect();
    let m: Vec<f64> = (0..20)
        .map(|i| ((i * 13) % 17) as f64 * 0.1 + 0.3)
        .collect();
    let p = bootstrap_median_diff(&n, &m, 1, 500).expect("interval");
    let q = bootstrap_median_diff(&n, &m, 2, 500).expect("interval");
    assert!(p.low <= p.estimate && p.estimate <= p.high);
    assert_ne!((p.low, p.high), (q.low, q.high));
    assert_eq!(bootstrap_median_diff(&[], &b, 1, 100), None);
    assert_eq!(bootstrap_median_diff(&a, &b, 1, 0), None);
}

#[test]
fn mann_whitney_hand_worked() {
    // a = 1.2 2.2 2.2 3.4 5.0, b = 2.2 4.1 5.0 6.0 7.5 8.3.
    // U of b: 2.2 beats 1.2 and ties two → 2; 4.1 → 4; 5.0 → 4.5; 6.0, 7.5, 8.3 → 5 each.
    // U = 25.5 of 30. scipy mannwhitneyu(b, a, method="asymptotic"): p = 0.0647690.
    // Hodges–Lehmann: median of the 30 differences b - a = 2.8.
    let a = [1.2, 3.4, 2.2, 5.0, 2.2];
    let b = [4.1, 6.0, 2.2, 7.5, 5.0, 8.3];
    let m = mann_whitney(&a, &b).expect("test");
    assert_eq!(m.u, 25.5);
    assert!((m.p_two_sided - 0.06476896969888761).abs() < 1e-6, "{m:?}");
    assert!(close(m.hodges_lehmann_shift, 2.8, 1e-12));
    // Symmetric: swapping gives U' = 30 - U, the same p and the opposite shift.
    let r = mann_whitney(&b, &a).expect("test");
    assert_eq!(r.u, 4.5);
    assert!((r.p_two_sided - m.p_two_sided).abs() < 1e-12);
    assert!(close(r.hodges_lehmann_shift, -2.8, 1e-12));
    // All tied: no evidence, p = 1, no NaN.
    let t = mann_whitney(&[1.0, 1.0], &[1.0]).expect("test");
    assert_eq!(
        (t.u, t.p_two_sided, t.hodges_lehmann_shift),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(mann_whitney(&[], &[1.0]), None);
}

#[test]
fn share_interval_block_bootstrap() {
    let observed = [60.0, 60.0, 60.0, 60.0, 30.0, 0.0];
    let spasm = [3.0, 0.0, 9.0, 6.0, 0.0, 0.0];
    let x = share_interval(&spasm, &observed, 7, 2000).expect("interval");
    assert_eq!(Some(x), share_interval(&spasm, &observed, 7, 2000));
    assert!(close(x.estimate, 18.0 / 270.0, 1e-12));
    assert!(x.low < x.estimate && x.estimate < x.high, "{x:?}");
    assert!(x.low >= 0.0 && x.high <= 9.0 / 60.0, "{x:?}");
    // Same share in every block: no spread.
    let y = share_interval(&[6.0, 6.0, 6.0], &[60.0, 60.0, 60.0], 7, 200).expect("interval");
    assert!(close(y.low, 0.1, 1e-12) && close(y.high, 0.1, 1e-12));
    assert_eq!(share_interval(&[1.0], &[60.0], 7, 200), None);
    assert_eq!(share_interval(&[1.0, 2.0], &[60.0], 7, 200), None);
    // From a session: two minute blocks of 40 s observed with 6 s and 5 s of spasm.
    let s = SessionStats::from_events(&overlap_session());
    let z = s.share_interval(3, 1000).expect("interval");
    assert!(close(z.estimate, 11.0 / 80.0, 1e-12));
    assert!(z.low >= 5.0 / 40.0 - 1e-12 && z.high <= 6.0 / 40.0 + 1e-12);
}

#[test]
fn enough_time_warns_in_plain_words() {
    assert_eq!(enough_time(600.0, 900.0, 42), None);
    let w = enough_time(120.0, 900.0, 42).expect("warning");
    assert!(w.contains("before") && w.contains("2.0 minutes"), "{w}");
    let w = enough_time(600.0, 600.0, 4).expect("warning");
    assert!(w.contains("only 4 twitches"), "{w}");
    assert!(enough_time(f64::NAN, 600.0, 40).is_some());
}
