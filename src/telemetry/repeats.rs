//! Summarizing repeated errors. While Redis is down every request fails the same way, and one
//! log line per request would bury everything else. [`RepeatedErrors`] lets the first
//! occurrence of an error through and counts the repeats that follow within a period, so that
//! one summary with the count is logged per period instead.
//!
//! The service shares one tracker: call [`first_of_run`] before logging a line that may repeat
//! per request, and the server calls [`log_repeat_summaries`] every [`REPEAT_PERIOD`].

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long repeats of a logged line are only counted before a summary reports them.
pub const REPEAT_PERIOD: Duration = Duration::from_secs(10);

static REPEATS: RepeatedErrors = RepeatedErrors::new(REPEAT_PERIOD);

/// Returns whether the log line `line` (its message and error) is the first of its run and so
/// is to be logged. A repeat within [`REPEAT_PERIOD`] is only counted.
pub fn first_of_run(line: &str) -> bool {
    REPEATS.record(line, Instant::now()) == Occurrence::First
}

/// Logs one summary for each line that repeated during a period that has now ended, or with
/// `all`, as at shutdown, for every line with repeats not yet reported.
pub fn log_repeat_summaries(all: bool) {
    let summaries = if all {
        REPEATS.take_all()
    } else {
        REPEATS.take_due(Instant::now())
    };
    for summary in summaries {
        tracing::warn!(
            line = %summary.error,
            repeats = summary.repeats,
            period_seconds = REPEAT_PERIOD.as_secs(),
            "suppressed repeats of a log line"
        );
    }
}

/// The maximum number of distinct errors tracked at once. Errors past this many are each
/// logged, because silently dropping an error is worse than a noisy log.
const MAX_TRACKED: usize = 64;

/// The verdict on one occurrence of an error: log it or only count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occurrence {
    /// The first in its period: log it.
    First,
    /// A repeat within the period: count it and log nothing.
    Repeat,
}

/// A summary of one error's repeats over a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The error, as passed to [`RepeatedErrors::record`].
    pub error: String,
    /// How many times it repeated after the logged occurrence.
    pub repeats: u64,
}

/// One error's current run.
#[derive(Debug)]
struct Run {
    /// When the logged occurrence happened.
    started: Instant,
    /// Repeats since then.
    repeats: u64,
}

/// Counts repeats of identical errors per period. Errors are identified by their text.
#[derive(Debug)]
pub struct RepeatedErrors {
    period: Duration,
    runs: Mutex<Option<HashMap<String, Run>>>,
}

impl RepeatedErrors {
    /// Creates a tracker that summarizes repeats once per `period`.
    pub const fn new(period: Duration) -> Self {
        RepeatedErrors {
            period,
            runs: Mutex::new(None),
        }
    }

    /// Returns the summary period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Records one occurrence of `error` at `now`, and returns whether it is the one to log.
    /// An error whose period has passed is logged again, and its earlier repeats are returned by
    /// the next [`RepeatedErrors::take_due`].
    pub fn record(&self, error: &str, now: Instant) -> Occurrence {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let runs = runs.get_or_insert_with(HashMap::new);
        if let Some(run) = runs.get_mut(error) {
            if now.saturating_duration_since(run.started) < self.period {
                run.repeats += 1;
                return Occurrence::Repeat;
            }
            if run.repeats == 0 {
                run.started = now;
                return Occurrence::First;
            }
            // The period ended with repeats that take_due has not reported yet, so they are
            // counted here and reported with the next summary.
            run.repeats += 1;
            return Occurrence::Repeat;
        }
        if runs.len() < MAX_TRACKED {
            runs.insert(
                error.to_owned(),
                Run {
                    started: now,
                    repeats: 0,
                },
            );
        }
        Occurrence::First
    }

    /// Returns a summary for each error whose period ended by `now` with repeats, and starts a
    /// new period for it. Errors whose period ended without repeats are forgotten, so their
    /// next occurrence is logged in full.
    pub fn take_due(&self, now: Instant) -> Vec<Summary> {
        let mut guard = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(runs) = guard.as_mut() else {
            return Vec::new();
        };
        let mut due = Vec::new();
        runs.retain(|error, run| {
            if now.saturating_duration_since(run.started) < self.period {
                return true;
            }
            if run.repeats == 0 {
                return false;
            }
            due.push(Summary {
                error: error.clone(),
                repeats: run.repeats,
            });
            run.started = now;
            run.repeats = 0;
            true
        });
        due
    }

    /// Returns a summary for every error with repeats not yet reported, as at shutdown, and
    /// clears the tracker.
    pub fn take_all(&self) -> Vec<Summary> {
        let mut guard = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(runs) = guard.take() else {
            return Vec::new();
        };
        runs.into_iter()
            .filter(|(_, run)| run.repeats > 0)
            .map(|(error, run)| Summary {
                error,
                repeats: run.repeats,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(10);

    #[test]
    fn first_logged_repeats_counted() {
        let tracker = RepeatedErrors::new(PERIOD);
        let start = Instant::now();
        assert_eq!(tracker.record("redis down", start), Occurrence::First);
        for offset in 1..=5 {
            let at = start + Duration::from_secs(offset);
            assert_eq!(tracker.record("redis down", at), Occurrence::Repeat);
        }
        assert!(tracker.take_due(start + Duration::from_secs(9)).is_empty());

        let due = tracker.take_due(start + PERIOD);
        assert_eq!(
            due,
            vec![Summary {
                error: "redis down".to_owned(),
                repeats: 5
            }]
        );
    }

    #[test]
    fn distinct_errors_logged_separately() {
        let tracker = RepeatedErrors::new(PERIOD);
        let now = Instant::now();
        assert_eq!(tracker.record("timeout", now), Occurrence::First);
        assert_eq!(tracker.record("refused", now), Occurrence::First);
        assert_eq!(tracker.record("timeout", now), Occurrence::Repeat);
    }

    #[test]
    fn summary_restarts_period() {
        let tracker = RepeatedErrors::new(PERIOD);
        let start = Instant::now();
        tracker.record("redis down", start);
        tracker.record("redis down", start);
        assert_eq!(tracker.take_due(start + PERIOD).len(), 1);

        // Still failing: repeats go into the next summary rather than the log.
        let later = start + PERIOD + Duration::from_secs(1);
        assert_eq!(tracker.record("redis down", later), Occurrence::Repeat);
        let due = tracker.take_due(start + PERIOD * 2);
        assert_eq!(due[0].repeats, 1);
    }

    #[test]
    fn quiet_period_forgets_error() {
        let tracker = RepeatedErrors::new(PERIOD);
        let start = Instant::now();
        tracker.record("redis down", start);
        assert!(tracker.take_due(start + PERIOD).is_empty());
        assert_eq!(
            tracker.record("redis down", start + PERIOD * 3),
            Occurrence::First
        );
    }

    #[test]
    fn late_repeat_kept_for_summary() {
        // Without a take_due call, a repeat after the period is still counted, not lost.
        let tracker = RepeatedErrors::new(PERIOD);
        let start = Instant::now();
        tracker.record("redis down", start);
        tracker.record("redis down", start + Duration::from_secs(1));
        let late = start + PERIOD * 2;
        assert_eq!(tracker.record("redis down", late), Occurrence::Repeat);
        assert_eq!(tracker.take_due(late)[0].repeats, 2);
    }

    #[test]
    fn one_error_after_quiet_logged_again() {
        let tracker = RepeatedErrors::new(PERIOD);
        let start = Instant::now();
        tracker.record("redis down", start);
        assert_eq!(
            tracker.record("redis down", start + PERIOD),
            Occurrence::First
        );
    }

    #[test]
    fn take_all_reports_pending() {
        let tracker = RepeatedErrors::new(PERIOD);
        let now = Instant::now();
        tracker.record("a", now);
        tracker.record("a", now);
        tracker.record("b", now);
        assert_eq!(
            tracker.take_all(),
            vec![Summary {
                error: "a".to_owned(),
                repeats: 1
            }]
        );
        assert_eq!(tracker.record("a", now), Occurrence::First);
    }

    #[test]
    fn too_many_errors_all_logged() {
        let tracker = RepeatedErrors::new(PERIOD);
        let now = Instant::now();
        for index in 0..MAX_TRACKED {
            tracker.record(&format!("error {index}"), now);
        }
        assert_eq!(tracker.record("one more", now), Occurrence::First);
        assert_eq!(tracker.record("one more", now), Occurrence::First);
    }
}
