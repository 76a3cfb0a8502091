//! Rate limits through Authorize: the system limit, user-defined limits, their figures, plan
//! changes, limit changes, costs and concurrent callers.

use std::time::Duration;

use futures::future::join_all;
use token_authority::proto::v1::{
    self as pb, Action, DenialReason, LimitKind, RateLimitHeaders, RateLimitWindow,
};
use tonic::Code;

use crate::support::{
    Harness, assert_allowed, assert_code, assert_denied, conformance_test, now_unix_ms,
    system_limit, token_of,
};

/// Returns the figures of an allowed or rate-limited reply.
#[track_caller]
fn figures(response: &pb::AuthorizeResponse) -> RateLimitHeaders {
    response
        .rate_limit
        .unwrap_or_else(|| panic!("reply has no rate-limit figures: {response:?}"))
}

/// Returns the window of limit `kind`.
#[track_caller]
fn window(windows: &[RateLimitWindow], kind: LimitKind) -> RateLimitWindow {
    *windows
        .iter()
        .find(|window| window.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind:?} window in {windows:?}"))
}

/// Returns `ms` in whole seconds, rounded up.
fn ceil_seconds(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

conformance_test!(system_limit_exact, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");

    for expected_remaining in (0..5).rev() {
        let response = h.read(key).await;
        assert_allowed(&response);
        let figures = figures(&response);
        assert_eq!(figures.kind(), LimitKind::System);
        assert_eq!(figures.limit, 5);
        assert_eq!(figures.remaining, expected_remaining);
        assert_eq!(figures.window_seconds, 60);
        assert_eq!(figures.retry_after_seconds, 0, "allowed replies");
        assert!(!response.first_denial_in_window);
    }

    let denied = h.read(key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);
    assert_eq!(denied.message, "rate limit reached");
    assert_eq!(denied.token_name, "read", "the notice names the token");
    let figures = figures(&denied);
    assert_eq!(figures.kind(), LimitKind::System);
    assert_eq!(figures.remaining, 0);
    assert!(figures.retry_after_seconds > 0, "retry after {figures:?}");
    assert!(figures.retry_after_seconds <= 60, "retry after {figures:?}");
    assert!(denied.first_denial_in_window, "first denial");

    let again = h.read(key).await;
    assert_denied(&again, DenialReason::RateLimited, 429);
    assert!(!again.first_denial_in_window, "second denial");

    let windows = h.windows(token_of(created.token("read"))).await;
    assert_eq!(window(&windows, LimitKind::System).count, 5);
});

conformance_test!(figures_arithmetic, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");
    let token = token_of(created.token("read"));

    let before = h.windows(token).await;
    let unopened = window(&before, LimitKind::System);
    assert_eq!(
        unopened.window_start_unix_ms, 0,
        "no window before a request"
    );
    assert_eq!(unopened.count, 0);
    assert_eq!(unopened.remaining, 5);
    assert_eq!(unopened.reset, 0);

    let sent_ms = now_unix_ms();
    let first = figures(&h.read(key).await);
    let received_ms = now_unix_ms();

    let opened = window(&h.windows(token).await, LimitKind::System);
    let start = opened.window_start_unix_ms;
    assert!(
        (sent_ms..=received_ms).contains(&start),
        "window start {start} outside the request's span {sent_ms}..={received_ms}"
    );
    assert_eq!(opened.count, 1);
    assert_eq!(opened.remaining, 4);
    assert_eq!(opened.reset, ceil_seconds(start + 60_000));
    assert_eq!(first.remaining, opened.limit - opened.count);
    assert_eq!(first.reset, ceil_seconds(start + 60_000));
    assert!(
        (59..=60).contains(&first.remaining_seconds),
        "remaining seconds on the first request: {}",
        first.remaining_seconds
    );

    let second = figures(&h.read(key).await);
    assert_eq!(second.remaining, 3);
    assert_eq!(second.reset, first.reset, "the window keeps its end");
    let after = window(&h.windows(token).await, LimitKind::System);
    assert_eq!(
        after.window_start_unix_ms, start,
        "the window keeps its start"
    );
    assert_eq!(after.count, 2);
});

conformance_test!(window_ends, system_limit(2, 2), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");
    let token = token_of(created.token("read"));

    assert_allowed(&h.read(key).await);
    assert_allowed(&h.read(key).await);
    let denied = h.read(key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);
    let retry_after = figures(&denied).retry_after_seconds;
    assert!(
        (1..=2).contains(&retry_after),
        "retry after {retry_after} s"
    );
    let first_start = window(&h.windows(token).await, LimitKind::System).window_start_unix_ms;

    // The window is two seconds of wall-clock time, so the test waits for it to end.
    let wait_ms = (first_start + 2_100 - now_unix_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;

    let reopened = h.read(key).await;
    assert_allowed(&reopened);
    assert_eq!(figures(&reopened).remaining, 1, "a new window");
    let second = window(&h.windows(token).await, LimitKind::System);
    assert!(second.window_start_unix_ms >= first_start + 2_000);
    assert_eq!(second.count, 1);
});

conformance_test!(user_limit_exact, system_limit(10, 60), |h| {
    let issued = h.limited_token(3, 60).await;
    let key = &issued.access_token;

    for expected_remaining in (0..3).rev() {
        let response = h.read(key).await;
        assert_allowed(&response);
        let figures = figures(&response);
        assert_eq!(
            figures.kind(),
            LimitKind::User,
            "the user limit has fewer left"
        );
        assert_eq!(figures.limit, 3);
        assert_eq!(figures.remaining, expected_remaining);
        assert_eq!(figures.window_seconds, 60);
    }

    let denied = h.read(key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);
    let figures = figures(&denied);
    assert_eq!(figures.kind(), LimitKind::User);
    assert!(figures.retry_after_seconds > 0, "retry after {figures:?}");
    assert!(denied.first_denial_in_window);

    let windows = h.windows(token_of(&issued)).await;
    assert_eq!(window(&windows, LimitKind::System).count, 3);
    assert_eq!(window(&windows, LimitKind::User).count, 3);
    assert!(window(&windows, LimitKind::User).enforced);
});

conformance_test!(user_denial_not_counted, system_limit(5, 60), |h| {
    let issued = h.limited_token(3, 60).await;
    let key = &issued.access_token;
    let token = token_of(&issued);

    for _ in 0..3 {
        let write = h.authorize(key, Action::Write, "").await;
        assert_denied(&write, DenialReason::InsufficientScope, 403);
    }
    let windows = h.windows(token).await;
    assert_eq!(
        window(&windows, LimitKind::System).count,
        0,
        "scope denials"
    );
    assert_eq!(window(&windows, LimitKind::User).count, 0, "scope denials");

    for _ in 0..3 {
        assert_allowed(&h.read(key).await);
    }
    for _ in 0..3 {
        assert_denied(&h.read(key).await, DenialReason::RateLimited, 429);
    }
    let windows = h.windows(token).await;
    assert_eq!(window(&windows, LimitKind::System).count, 3, "user denials");
    assert_eq!(window(&windows, LimitKind::User).count, 3, "user denials");
});

conformance_test!(system_denial_not_counted, system_limit(3, 60), |h| {
    let issued = h.limited_token(10, 300).await;
    let key = &issued.access_token;

    for _ in 0..3 {
        assert_allowed(&h.read(key).await);
    }
    for _ in 0..3 {
        let denied = h.read(key).await;
        assert_denied(&denied, DenialReason::RateLimited, 429);
        assert_eq!(figures(&denied).kind(), LimitKind::System);
    }

    let windows = h.windows(token_of(&issued)).await;
    assert_eq!(window(&windows, LimitKind::System).count, 3);
    assert_eq!(window(&windows, LimitKind::User).count, 3, "system denials");
});

conformance_test!(fewest_remaining_reported, system_limit(5, 60), |h| {
    let loose = h.limited_token(10, 300).await;
    let tight = h
        .create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "tight".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            rate_limit: Some(pb::UserRateLimit {
                count: 2,
                window_seconds: 60,
            }),
            ..Default::default()
        })
        .await;

    let system_closer = figures(&h.read(&loose.access_token).await);
    assert_eq!(system_closer.kind(), LimitKind::System);
    assert_eq!(system_closer.limit, 5);
    assert_eq!(system_closer.remaining, 4);
    assert_eq!(system_closer.window_seconds, 60);

    let user_closer = figures(&h.read(&tight.access_token).await);
    assert_eq!(user_closer.kind(), LimitKind::User);
    assert_eq!(user_closer.limit, 2);
    assert_eq!(user_closer.remaining, 1);
    assert_eq!(user_closer.window_seconds, 60);
});

conformance_test!(user_limit_needs_paid, |h| {
    h.create_project("acct", "proj", "Project").await;
    let plain = h
        .create_scoped_token("proj", "plain", &[pb::Scope::Read])
        .await;
    let before = h.snapshot().await;

    let created = h
        .try_create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "limited".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            rate_limit: Some(pb::UserRateLimit {
                count: 10,
                window_seconds: 60,
            }),
            ..Default::default()
        })
        .await;
    assert_code(created, Code::FailedPrecondition);

    let updated = h.set_user_limit(token_of(&plain), 10, 60).await;
    assert_code(updated, Code::FailedPrecondition);
    h.assert_unchanged(&before, "after limits rejected on a free account")
        .await;

    let cleared = h.set_user_limit(token_of(&plain), 0, 0).await.unwrap();
    assert_eq!(cleared.rate_limit, None, "clearing needs no paid plan");
});

conformance_test!(plan_change_suspends_limit, system_limit(10, 60), |h| {
    let issued = h.limited_token(2, 60).await;
    let key = &issued.access_token;
    let token = token_of(&issued);

    assert_allowed(&h.read(key).await);
    assert_allowed(&h.read(key).await);
    assert_denied(&h.read(key).await, DenialReason::RateLimited, 429);

    h.set_plan("acct", pb::AccountPlan::Free).await;
    let windows = h.windows(token).await;
    assert!(!window(&windows, LimitKind::User).enforced, "free plan");
    for _ in 0..3 {
        let response = h.read(key).await;
        assert_allowed(&response);
        assert_eq!(figures(&response).kind(), LimitKind::System);
    }
    assert_eq!(
        h.get_token(token).await.unwrap().rate_limit,
        Some(pb::UserRateLimit {
            count: 2,
            window_seconds: 60
        }),
        "the stored limit is kept"
    );

    h.set_plan("acct", pb::AccountPlan::Paid).await;
    let windows = h.windows(token).await;
    assert!(window(&windows, LimitKind::User).enforced, "paid again");
    let denied = h.read(key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);
    assert_eq!(figures(&denied).kind(), LimitKind::User);
    assert_eq!(window(&windows, LimitKind::System).count, 5);
});

conformance_test!(limit_change_mid_window, system_limit(10, 60), |h| {
    let issued = h.limited_token(5, 60).await;
    let key = &issued.access_token;
    let token = token_of(&issued);

    assert_allowed(&h.read(key).await);
    assert_allowed(&h.read(key).await);
    let opened = window(&h.windows(token).await, LimitKind::User);
    assert_eq!(opened.count, 2);

    h.set_user_limit(token, 3, 60).await.unwrap();
    let lowered = h.read(key).await;
    assert_allowed(&lowered);
    assert_eq!(figures(&lowered).limit, 3, "the new count applies at once");
    assert_eq!(figures(&lowered).remaining, 0);
    assert_denied(&h.read(key).await, DenialReason::RateLimited, 429);
    let after_lowering = window(&h.windows(token).await, LimitKind::User);
    assert_eq!(
        after_lowering.window_start_unix_ms,
        opened.window_start_unix_ms
    );
    assert_eq!(after_lowering.count, 3);
    assert_eq!(after_lowering.limit, 3);

    h.set_user_limit(token, 4, 300).await.unwrap();
    let widened = h.read(key).await;
    assert_allowed(&widened);
    assert_eq!(figures(&widened).window_seconds, 300);
    let after_widening = window(&h.windows(token).await, LimitKind::User);
    assert_eq!(
        after_widening.window_start_unix_ms, opened.window_start_unix_ms,
        "the window keeps its start"
    );
    assert_eq!(after_widening.count, 4, "the window keeps its count");
    assert_eq!(
        after_widening.reset,
        ceil_seconds(opened.window_start_unix_ms + 300_000),
        "the window ends by the new length"
    );
    assert_denied(&h.read(key).await, DenialReason::RateLimited, 429);
});

conformance_test!(concurrent_calls_admit_limit, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read").to_owned();

    let responses = read_concurrently(&h, &key, 40).await;
    let allowed = responses
        .iter()
        .filter(|response| response.decision() == pb::Decision::Allow)
        .count();
    let flagged = responses
        .iter()
        .filter(|response| response.first_denial_in_window)
        .count();
    assert_eq!(allowed, 5, "allowed out of 40 concurrent calls");
    assert_eq!(flagged, 1, "first denials out of 35 concurrent denials");

    let windows = h.windows(token_of(created.token("read"))).await;
    assert_eq!(window(&windows, LimitKind::System).count, 5);
});

conformance_test!(first_denial_flagged_once, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read").to_owned();
    for _ in 0..5 {
        assert_allowed(&h.read(&key).await);
    }

    let responses = read_concurrently(&h, &key, 40).await;
    let denied = responses
        .iter()
        .filter(|response| response.denial_reason() == DenialReason::RateLimited)
        .count();
    let flagged = responses
        .iter()
        .filter(|response| response.first_denial_in_window)
        .count();
    assert_eq!(denied, 40, "every call over the spent limit");
    assert_eq!(flagged, 1, "first denials out of 40 concurrent denials");

    let later = read_concurrently(&h, &key, 10).await;
    assert!(
        later
            .iter()
            .all(|response| !response.first_denial_in_window),
        "a later denial in the same window is flagged"
    );
});

conformance_test!(cost_counts_as_requests, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");
    let token = token_of(created.token("read"));
    let read_costing = |cost: i64| pb::AuthorizeRequest {
        access_token: key.to_owned(),
        action: Action::Read as i32,
        cost,
        ..Default::default()
    };

    let three = h.authorize_request(read_costing(3)).await;
    assert_allowed(&three);
    assert_eq!(figures(&three).remaining, 2);

    let too_much = h.authorize_request(read_costing(3)).await;
    assert_denied(&too_much, DenialReason::RateLimited, 429);
    assert!(figures(&too_much).retry_after_seconds > 0);
    assert_eq!(
        window(&h.windows(token).await, LimitKind::System).count,
        3,
        "a cost that does not fit consumes nothing"
    );

    let two = h.authorize_request(read_costing(2)).await;
    assert_allowed(&two);
    assert_eq!(figures(&two).remaining, 0);
    assert_eq!(window(&h.windows(token).await, LimitKind::System).count, 5);

    let default_cost = h.authorize_request(read_costing(0)).await;
    assert_denied(&default_cost, DenialReason::RateLimited, 429);
});

conformance_test!(zero_cost_counts_one, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let response = h
        .authorize_request(pb::AuthorizeRequest {
            access_token: created.key("read").to_owned(),
            action: Action::Read as i32,
            cost: 0,
            ..Default::default()
        })
        .await;
    assert_allowed(&response);
    assert_eq!(figures(&response).remaining, 4);
});

/// Sends `count` read requests with `key` at once, each from its own task.
async fn read_concurrently(h: &Harness, key: &str, count: usize) -> Vec<pb::AuthorizeResponse> {
    let calls = (0..count).map(|_| {
        let mut client = h.client();
        let request = pb::AuthorizeRequest {
            access_token: key.to_owned(),
            action: Action::Read as i32,
            ..Default::default()
        };
        tokio::spawn(async move { client.authorize(request).await })
    });
    join_all(calls)
        .await
        .into_iter()
        .map(|joined| {
            joined
                .expect("authorize task panicked")
                .expect("Authorize failed")
                .into_inner()
        })
        .collect()
}

conformance_test!(concurrent_user_limit, system_limit(50, 60), |h| {
    let issued = h.limited_token(7, 86_400).await;

    let responses = read_concurrently(&h, &issued.access_token, 40).await;
    let allowed = responses
        .iter()
        .filter(|response| response.decision() == pb::Decision::Allow)
        .count();
    let flagged = responses
        .iter()
        .filter(|response| response.first_denial_in_window)
        .count();
    assert_eq!(allowed, 7, "allowed out of 40 concurrent calls");
    assert_eq!(flagged, 1, "first denials out of 33 concurrent denials");

    let windows = h.windows(token_of(&issued)).await;
    assert_eq!(window(&windows, LimitKind::System).count, 7);
    assert_eq!(window(&windows, LimitKind::User).count, 7);
});

conformance_test!(cost_above_user_limit, system_limit(10, 60), |h| {
    let issued = h.limited_token(2, 60).await;
    let response = h
        .authorize_request(pb::AuthorizeRequest {
            access_token: issued.access_token.clone(),
            action: Action::Read as i32,
            cost: 3,
            ..Default::default()
        })
        .await;
    assert_denied(&response, DenialReason::RateLimited, 429);
    assert_eq!(figures(&response).kind(), LimitKind::User);

    let windows = h.windows(token_of(&issued)).await;
    assert_eq!(window(&windows, LimitKind::System).count, 0);
    assert_eq!(window(&windows, LimitKind::User).count, 0);
    assert_allowed(&h.read(&issued.access_token).await);
});

conformance_test!(longest_window_figures, system_limit(5, 60), |h| {
    let issued = h.limited_token(3, 2_592_000).await;

    let first = figures(&h.read(&issued.access_token).await);
    assert_eq!(first.kind(), LimitKind::User);
    assert_eq!(first.window_seconds, 2_592_000);
    assert_eq!(first.remaining, 2);
    assert!(
        (2_591_999..=2_592_000).contains(&first.remaining_seconds),
        "remaining seconds on the first request: {}",
        first.remaining_seconds
    );

    let user = window(&h.windows(token_of(&issued)).await, LimitKind::User);
    assert_eq!(user.count, 1);
    assert_eq!(
        user.reset,
        ceil_seconds(user.window_start_unix_ms + 2_592_000_000)
    );
    assert_eq!(first.reset, user.reset);
});
