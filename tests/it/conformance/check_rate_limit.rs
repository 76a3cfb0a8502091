//! CheckRateLimit: reporting windows, dry runs, consuming like Authorize, and its errors.

use token_authority::proto::v1::{
    self as pb, Action, DenialReason, LimitKind, RateLimitWindow, TokenStatus,
    check_rate_limit_request::Token as Target,
};
use tonic::Code;

use crate::support::{
    Harness, assert_allowed, assert_code, assert_denied, conformance_test, reference, system_limit,
    token_of,
};

/// Sends a CheckRateLimit request for `target`, expecting success.
async fn check(
    h: &Harness,
    target: Target,
    cost: i64,
    dry_run: bool,
) -> pb::CheckRateLimitResponse {
    h.check_rate_limit(pb::CheckRateLimitRequest {
        token: Some(target),
        cost,
        dry_run,
    })
    .await
    .unwrap_or_else(|status| panic!("CheckRateLimit failed: {status:?}"))
}

fn by_key(key: &str) -> Target {
    Target::AccessToken(key.to_owned())
}

fn by_ref(token: &pb::Token) -> Target {
    Target::TokenRef(reference(token))
}

fn system_window(response: &pb::CheckRateLimitResponse) -> RateLimitWindow {
    response.windows[0]
}

fn ceil_seconds(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

conformance_test!(report_consumes_nothing, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");
    let token = token_of(created.token("read"));
    assert_allowed(&h.read(key).await);
    assert_allowed(&h.read(key).await);

    let by_key_report = check(&h, by_key(key), 0, false).await;
    assert_eq!(by_key_report.project_id, "proj");
    assert_eq!(by_key_report.token_id, token.token_id);
    assert_eq!(by_key_report.status(), TokenStatus::Enabled);
    assert!(by_key_report.allowed, "a report is allowed");
    assert!(!by_key_report.consumed, "a report consumes nothing");
    assert_eq!(by_key_report.windows.len(), 1, "only the system limit");

    let window = system_window(&by_key_report);
    assert_eq!(window.kind(), LimitKind::System);
    assert_eq!(window.limit, 5);
    assert_eq!(window.window_seconds, 60);
    assert_eq!(window.count, 2);
    assert_eq!(window.remaining, 3);
    assert!(window.window_start_unix_ms > 0, "the window is open");
    assert_eq!(
        window.reset,
        ceil_seconds(window.window_start_unix_ms + 60_000)
    );
    assert!(window.enforced);

    for _ in 0..3 {
        let by_ref_report = check(&h, by_ref(token), 0, false).await;
        assert_eq!(by_ref_report.token_id, token.token_id);
        assert_eq!(
            system_window(&by_ref_report),
            window,
            "reports by key and by reference agree and consume nothing"
        );
    }
    let padded = check(&h, by_key(&format!("{key}\n")), 0, false).await;
    assert_eq!(
        padded.token_id, token.token_id,
        "a key with a trailing newline"
    );
    let third = h.read(key).await;
    assert_eq!(third.rate_limit.unwrap().remaining, 2, "reports consumed");
});

conformance_test!(report_lists_user_window, system_limit(10, 60), |h| {
    let issued = h.limited_token(4, 3600).await;
    assert_allowed(&h.read(&issued.access_token).await);

    let report = check(&h, by_key(&issued.access_token), 0, false).await;
    let kinds: Vec<LimitKind> = report.windows.iter().map(|window| window.kind()).collect();
    assert_eq!(kinds, [LimitKind::System, LimitKind::User], "system first");

    let user = report.windows[1];
    assert_eq!(user.limit, 4);
    assert_eq!(user.window_seconds, 3600);
    assert_eq!(user.count, 1);
    assert_eq!(user.remaining, 3);
    assert_eq!(
        user.reset,
        ceil_seconds(user.window_start_unix_ms + 3_600_000)
    );
    assert!(user.enforced);
    let figures = report
        .rate_limit
        .expect("a report carries the header figures");
    assert_eq!(figures.kind(), LimitKind::User, "fewest remaining");
    assert_eq!(figures.remaining, 3);
});

conformance_test!(dry_run_consumes_nothing, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");
    assert_allowed(&h.read(key).await);
    assert_allowed(&h.read(key).await);

    let fits = check(&h, by_key(key), 3, true).await;
    assert!(fits.allowed, "3 of the 3 remaining fit");
    assert!(!fits.consumed, "a dry run consumes nothing");
    assert_eq!(system_window(&fits).count, 2);

    let too_much = check(&h, by_key(key), 4, true).await;
    assert!(!too_much.allowed, "4 do not fit in 3");
    assert!(!too_much.consumed);
    assert!(!too_much.first_denial_in_window, "a dry run flags nothing");
    assert_eq!(system_window(&too_much).count, 2);

    for _ in 0..3 {
        assert_allowed(&h.read(key).await);
    }
    let denied = h.read(key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);
    assert!(
        denied.first_denial_in_window,
        "the first real denial is still flagged after dry runs"
    );
});

conformance_test!(consume_matches_authorize, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let checked = created.token("read");
    let authorized = h
        .create_scoped_token("proj", "twin", &[pb::Scope::Read])
        .await;
    let authorize_costing = |cost: i64| pb::AuthorizeRequest {
        access_token: authorized.access_token.clone(),
        action: Action::Read as i32,
        cost,
        ..Default::default()
    };

    let consumed = check(&h, by_key(&checked.access_token), 2, false).await;
    let allowed = h.authorize_request(authorize_costing(2)).await;
    assert!(consumed.allowed);
    assert!(consumed.consumed, "a cost without dry run is consumed");
    assert_allowed(&allowed);
    let consumed_figures = consumed.rate_limit.expect("figures of a consuming check");
    let allowed_figures = allowed.rate_limit.expect("figures of an allowed call");
    assert_eq!(consumed_figures.kind, allowed_figures.kind);
    assert_eq!(consumed_figures.limit, allowed_figures.limit);
    assert_eq!(consumed_figures.remaining, allowed_figures.remaining);
    assert_eq!(consumed_figures.remaining, 3);

    let over_budget = check(&h, by_key(&checked.access_token), 4, false).await;
    let denied = h.authorize_request(authorize_costing(4)).await;
    assert!(!over_budget.allowed);
    assert!(!over_budget.consumed);
    assert!(
        over_budget.first_denial_in_window,
        "consuming flags the first denial"
    );
    assert_denied(&denied, DenialReason::RateLimited, 429);
    assert!(denied.first_denial_in_window);

    let checked_window = h.windows(token_of(checked)).await[0];
    let authorized_window = h.windows(token_of(&authorized)).await[0];
    assert_eq!(checked_window.count, 2);
    assert_eq!(authorized_window.count, 2);
    assert_eq!(checked_window.remaining, authorized_window.remaining);
});

conformance_test!(consume_needs_enabled, system_limit(5, 60), |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let disabled = token_of(created.token("read"));
    let expired = token_of(created.token("write"));
    h.set_status(disabled, TokenStatus::Disabled).await.unwrap();
    h.expire_token(expired).await;
    let before = h.snapshot().await;

    for (token, key) in [
        (disabled, created.key("read")),
        (expired, created.key("write")),
    ] {
        let consume = h
            .check_rate_limit(pb::CheckRateLimitRequest {
                token: Some(by_key(key)),
                cost: 1,
                dry_run: false,
            })
            .await;
        let status = assert_code(consume, Code::FailedPrecondition);
        assert!(
            status.message().contains(&token.token_id),
            "message {:?} does not name the token",
            status.message()
        );

        let report = check(&h, by_ref(token), 0, false).await;
        assert_eq!(report.token_id, token.token_id);
        assert_eq!(system_window(&report).count, 0);
        let dry_run = check(&h, by_ref(token), 1, true).await;
        assert!(!dry_run.consumed);
    }
    let report = check(&h, by_ref(disabled), 0, false).await;
    assert_eq!(report.status(), TokenStatus::Disabled);
    let report = check(&h, by_ref(expired), 0, false).await;
    assert_eq!(report.status(), TokenStatus::Expired);

    h.assert_unchanged(&before, "after checks on tokens that cannot consume")
        .await;
});

conformance_test!(unknown_token_not_found, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let before = h.snapshot().await;

    let targets = [
        by_key("0123456789abcdef0123456789abcdef"),
        by_key("malformed"),
        by_key(""),
        Target::TokenRef(pb::TokenRef {
            project_id: "proj".to_owned(),
            token_id: "tok_missing".to_owned(),
        }),
        Target::TokenRef(pb::TokenRef {
            project_id: "missing".to_owned(),
            token_id: token_of(created.token("read")).token_id.clone(),
        }),
    ];
    for target in targets {
        for (cost, dry_run) in [(0, false), (1, true), (1, false)] {
            let result = h
                .check_rate_limit(pb::CheckRateLimitRequest {
                    token: Some(target.clone()),
                    cost,
                    dry_run,
                })
                .await;
            assert_code(result, Code::NotFound);
        }
    }

    h.assert_unchanged(&before, "after checks of unknown tokens")
        .await;
});

conformance_test!(free_plan_user_window, system_limit(10, 60), |h| {
    let issued = h.limited_token(2, 60).await;
    h.set_plan("acct", pb::AccountPlan::Free).await;

    let consumed = check(&h, by_key(&issued.access_token), 3, false).await;
    assert!(consumed.consumed, "the suspended user limit does not deny");
    assert_eq!(
        consumed.windows.len(),
        2,
        "the stored user limit is reported"
    );
    let user = consumed.windows[1];
    assert_eq!(user.kind(), LimitKind::User);
    assert!(!user.enforced, "free plan");
    assert_eq!(user.count, 0, "a suspended limit counts nothing");
    assert_eq!(system_window(&consumed).count, 3);
    let figures = consumed.rate_limit.expect("figures");
    assert_eq!(figures.kind(), LimitKind::System, "only enforced limits");
});
