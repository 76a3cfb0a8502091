use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_700_000_000_000;

fn system(count: u64) -> Limit {
    SystemLimit {
        count,
        window_seconds: 60,
    }
    .as_limit()
}

fn user(count: u64, window_seconds: u64, enforced: bool) -> Limit {
    UserLimit {
        count,
        window_seconds,
    }
    .as_limit(enforced)
}

/// Runs `requests` consuming calls of `cost` each, storing the windows as a store would.
fn run(limits: &[Limit], cost: u64, requests: usize, now_ms: i64) -> (usize, Vec<Option<Window>>) {
    let mut stored: Vec<Option<Window>> = vec![None; limits.len()];
    let mut allowed = 0;
    for _ in 0..requests {
        let input: Vec<_> = limits.iter().copied().zip(stored.iter().copied()).collect();
        let (outcome, writes) = evaluate(&input, cost, RateMode::Consume, now_ms);
        allowed += usize::from(outcome.allowed);
        for (slot, write) in stored.iter_mut().zip(writes) {
            if write.is_some() {
                *slot = write;
            }
        }
    }
    (allowed, stored)
}

#[test]
fn allows_exactly_limit_then_denies() {
    let (allowed, stored) = run(&[system(5)], 1, 8, NOW);
    assert_eq!(allowed, 5);
    assert_eq!(stored[0].unwrap().count, 5);
    assert!(stored[0].unwrap().denied);
}

#[test]
fn denied_request_counts_against_neither_limit() {
    let limits = [
        (system(10), None),
        (
            user(2, 60, true),
            Some(Window {
                start_ms: NOW,
                count: 2,
                denied: false,
            }),
        ),
    ];
    let (outcome, writes) = evaluate(&limits, 1, RateMode::Consume, NOW + 10);
    assert!(!outcome.allowed);
    assert_eq!(writes[0], None);
    assert_eq!(writes[1].unwrap().count, 2);
}

#[test]
fn first_denial_flagged_once_per_window() {
    let window = Some(Window {
        start_ms: NOW,
        count: 1,
        denied: false,
    });
    let (first, writes) = evaluate(&[(system(1), window)], 1, RateMode::Consume, NOW + 1);
    assert!(first.first_denial);
    let (second, _) = evaluate(&[(system(1), writes[0])], 1, RateMode::Consume, NOW + 2);
    assert!(!second.first_denial);
}

#[test]
fn cost_above_count_opens_no_window() {
    let (outcome, writes) = evaluate(&[(system(2), None)], 5, RateMode::Consume, NOW);
    assert!(!outcome.allowed);
    assert!(!outcome.first_denial);
    assert_eq!(writes, vec![None]);
}

#[test]
fn elapsed_window_starts_afresh() {
    let window = Some(Window {
        start_ms: NOW - 60_000,
        count: 5,
        denied: true,
    });
    let (outcome, writes) = evaluate(&[(system(5), window)], 1, RateMode::Consume, NOW);
    assert!(outcome.allowed);
    assert_eq!(
        writes[0],
        Some(Window {
            start_ms: NOW,
            count: 1,
            denied: false
        })
    );
}

#[test]
fn unenforced_user_limit_neither_denies_nor_counts() {
    let limits = [(system(10), None), (user(1, 60, false), None)];
    let (outcome, writes) = evaluate(&limits, 3, RateMode::Consume, NOW);
    assert!(outcome.allowed);
    assert_eq!(writes[1], None);
}

#[test]
fn dry_run_and_report_write_nothing() {
    let limits = [(system(2), None)];
    let (dry, writes) = evaluate(&limits, 3, RateMode::DryRun, NOW);
    assert!(!dry.allowed);
    assert_eq!(writes, vec![None]);
    let (report, writes) = evaluate(&limits, 3, RateMode::Report, NOW);
    assert!(report.allowed);
    assert_eq!(writes, vec![None]);
}

#[test]
fn headers_follow_window_arithmetic() {
    let start = NOW - 1_500;
    let window = Some(Window {
        start_ms: start,
        count: 3,
        denied: false,
    });
    let (outcome, _) = evaluate(&[(system(10), window)], 2, RateMode::Consume, NOW);
    let headers = outcome.headers(2).unwrap();
    assert_eq!(headers.limit, 10);
    assert_eq!(headers.remaining, 5);
    assert_eq!(headers.reset, ceil_seconds(start + 60_000));
    assert_eq!(headers.remaining_seconds, 59);
    assert_eq!(headers.retry_after_seconds, 0);
}

#[test]
fn headers_report_fewest_remaining() {
    let limits = [(system(100), None), (user(3, 3600, true), None)];
    let (outcome, _) = evaluate(&limits, 1, RateMode::Consume, NOW);
    let headers = outcome.headers(1).unwrap();
    assert_eq!(headers.kind, LimitKind::User);
    assert_eq!(headers.remaining, 2);
    assert_eq!(headers.remaining_seconds, 3600);
}

#[test]
fn denial_reports_retry_after() {
    let window = Some(Window {
        start_ms: NOW - 59_000,
        count: 1,
        denied: false,
    });
    let (outcome, _) = evaluate(&[(system(1), window)], 1, RateMode::Consume, NOW);
    let headers = outcome.headers(1).unwrap();
    assert_eq!(headers.remaining, 0);
    assert_eq!(headers.retry_after_seconds, 1);
}

#[test]
fn user_limit_validation() {
    let system = SystemLimit::DEFAULT;
    assert_eq!(validate_user_limit(0, 60, system), Ok(None));
    assert_eq!(validate_user_limit(10, 0, system), Ok(None));
    assert!(
        validate_user_limit(10, 61, system)
            .unwrap_err()
            .contains("61")
    );
    assert!(validate_user_limit(-1, 60, system).is_err());
    assert!(validate_user_limit(50_001, 60, system).is_err());
    assert_eq!(
        validate_user_limit(300_000, 3600, system).unwrap(),
        Some(UserLimit {
            count: 300_000,
            window_seconds: 3600
        })
    );
    assert!(validate_user_limit(3_000_001, 3600, system).is_err());
}

#[test]
fn ceil_seconds_rounds_up() {
    assert_eq!(ceil_seconds(0), 0);
    assert_eq!(ceil_seconds(1), 1);
    assert_eq!(ceil_seconds(1000), 1);
    assert_eq!(ceil_seconds(1001), 2);
}

proptest! {
    #[test]
    fn never_admits_more_than_limit(limit in 1u64..50, cost in 1u64..5, requests in 0usize..80) {
        let (allowed, stored) = run(&[system(limit)], cost, requests, NOW);
        prop_assert!(allowed as u64 * cost <= limit);
        prop_assert_eq!(stored[0].map_or(0, |w| w.count), allowed as u64 * cost);
    }

    #[test]
    fn both_limits_admit_the_smaller(system_count in 1u64..40, user_count in 1u64..40, requests in 0usize..60) {
        let (allowed, _) = run(&[system(system_count), user(user_count, 60, true)], 1, requests, NOW);
        prop_assert_eq!(allowed as u64, (requests as u64).min(system_count).min(user_count));
    }
}
