//! Observed time: the part of a session in which a twitch could have been seen. Time is not
//! observed inside any gap event (`Event::gap`: no face in view, no frames from the camera,
//! a stretch of stream that could not be decoded). Every reader of event logs (`report`,
//! `compare` and those that come later) takes observed time from here, so that they agree.
//!
//! Input: one session's parsed events. Output: its span, the not-observed intervals and the
//! observed seconds. Pure, no I/O, no panics on odd input (non-finite or reversed intervals
//! are ignored).

use crate::outputs::events::Event;
use crate::outputs::stats::{clip, measure, union};

/// What part of one session was observed. Times in seconds from the session's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The session covers `[0, span_s]`: the last `summary` line's `duration_s`; without
    /// one (the writer was interrupted), the latest end of any twitch, gap or warning.
    pub span_s: f64,
    /// Not-observed intervals: the union of every gap event, clipped to the span (sorted,
    /// disjoint).
    pub gaps: Vec<(f64, f64)>,
    /// Total length of `gaps`.
    pub gap_s: f64,
    /// `span_s - gap_s` (never negative).
    pub observed_s: f64,
}

impl Observation {
    /// Observed time of the session whose events these are.
    pub fn of(events: &[Event]) -> Observation {
        let span_s = span(events);
        let gaps = clip(
            &union(events.iter().filter_map(Event::gap).collect()),
            0.0,
            span_s,
        );
        let gap_s = measure(&gaps);
        Observation {
            span_s,
            observed_s: (span_s - gap_s).max(0.0),
            gaps,
            gap_s,
        }
    }

    /// Observed seconds within `[start_s, end_s]` (a part of the span).
    pub fn observed_within(&self, start_s: f64, end_s: f64) -> f64 {
        (end_s - start_s) - measure(&clip(&self.gaps, start_s, end_s))
    }
}

fn span(events: &[Event]) -> f64 {
    let from_summary = events.iter().rev().find_map(|e| match e {
        Event::Summary { duration_s, .. } if duration_s.is_finite() && *duration_s >= 0.0 => {
            Some(*duration_s)
        }
        _ => None,
    });
    if let Some(d) = from_summary {
        return d;
    }
    events
        .iter()
        .filter_map(|e| match e {
            Event::Twitch(t) => Some(t.end_s),
            Event::Warning { t_s, .. } => Some(*t_s),
            e => e.gap().map(|(_, end_s)| end_s),
        })
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(start_s: f64, end_s: f64) -> Event {
        Event::FaceLost { start_s, end_s }
    }

    #[test]
    fn gaps_of_every_kind_are_joined_and_clipped_to_the_span() {
        let events = [
            lost(-1.0, 2.0),
            Event::CameraGap {
                start_s: 1.0,
                end_s: 3.0,
            },
            lost(8.0, 12.0),
            lost(5.0, f64::NAN),
            Event::Warning {
                t_s: 9.5,
                message: "m".into(),
            },
        ];
        let o = Observation::of(&events);
        // No summary: the span ends at the latest end (12), gaps [0,3] and [8,12].
        assert_eq!(o.span_s, 12.0);
        assert_eq!(o.gaps, vec![(0.0, 3.0), (8.0, 12.0)]);
        assert_eq!(o.gap_s, 7.0);
        assert_eq!(o.observed_s, 5.0);
        assert_eq!(o.observed_within(2.0, 10.0), 5.0);
    }

    // The summary is read from JSON, as a reader meets it (fields added later default).
    #[test]
    fn the_summary_sets_the_span_and_nothing_observed_is_zero_not_negative() {
        let log = crate::outputs::events::read_log_str(
            "{\"kind\":\"face_lost\",\"start_s\":0.0,\"end_s\":30.0}\n\
             {\"kind\":\"summary\",\"duration_s\":20.0,\"observed_s\":0.0,\"frames\":600,\
             \"twitches_left\":0,\"twitches_right\":0,\"per_minute_left\":0.0,\"per_minute_right\":0.0}\n",
        );
        assert!(log.warnings.is_empty(), "{:?}", log.warnings);
        let o = Observation::of(&log.events);
        assert_eq!((o.span_s, o.gap_s, o.observed_s), (20.0, 20.0, 0.0));
        assert_eq!(Observation::of(&[]).observed_s, 0.0);
    }
}
