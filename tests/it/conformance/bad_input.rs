//! Caller mistakes: every bad field is INVALID_ARGUMENT naming the field, and nothing is written.

use token_authority::proto::v1::{
    self as pb, Action, check_rate_limit_request::Token as Target, manage_request::Operation,
    regenerate_request::Target as RegenerateTarget,
};

use crate::support::{
    Harness, assert_invalid_field, conformance_test, now_unix_ms, reference, system_limit, token_of,
};

/// Creates project `proj` on the paid account `acct` and spends one request, so that windows
/// exist and the limit rules, not the plan, decide.
async fn paid_project(h: &Harness) -> crate::support::CreatedProject {
    let created = h.create_project("acct", "proj", "Project").await;
    h.set_plan("acct", pb::AccountPlan::Paid).await;
    h.read(created.key("read")).await;
    created
}

conformance_test!(authorize_fields, system_limit(100, 60), |h| {
    let created = paid_project(&h).await;
    let key = created.key("read").to_owned();
    let before = h.snapshot().await;
    let read = || pb::AuthorizeRequest {
        access_token: key.clone(),
        action: Action::Read as i32,
        ..Default::default()
    };

    let cases = [
        (
            pb::AuthorizeRequest {
                action: Action::Unspecified as i32,
                ..read()
            },
            "action",
        ),
        (
            pb::AuthorizeRequest {
                action: 99,
                ..read()
            },
            "action",
        ),
        (
            pb::AuthorizeRequest {
                project_id: "proj{a}".to_owned(),
                ..read()
            },
            "project_id",
        ),
        (pb::AuthorizeRequest { cost: -1, ..read() }, "cost"),
        (
            pb::AuthorizeRequest {
                cost: 101,
                ..read()
            },
            "cost",
        ),
        (
            pb::AuthorizeRequest {
                cost: i64::MAX,
                ..read()
            },
            "cost",
        ),
    ];
    for (request, field) in cases {
        assert_invalid_field(h.try_authorize(request).await, field);
    }

    h.assert_unchanged(&before, "after rejected Authorize requests")
        .await;
});

conformance_test!(check_rate_limit_fields, system_limit(100, 60), |h| {
    let created = paid_project(&h).await;
    let key = created.key("read").to_owned();
    let before = h.snapshot().await;
    let consume = |cost: i64| pb::CheckRateLimitRequest {
        token: Some(Target::AccessToken(key.clone())),
        cost,
        dry_run: false,
    };

    assert_invalid_field(h.check_rate_limit(consume(-1)).await, "cost");
    assert_invalid_field(h.check_rate_limit(consume(101)).await, "cost");
    assert_invalid_field(
        h.check_rate_limit(pb::CheckRateLimitRequest::default())
            .await,
        "token",
    );
    let bad_ref = pb::CheckRateLimitRequest {
        token: Some(Target::TokenRef(pb::TokenRef {
            project_id: "{proj}".to_owned(),
            token_id: "tok".to_owned(),
        })),
        ..Default::default()
    };
    assert_invalid_field(h.check_rate_limit(bad_ref).await, "token_ref.project_id");

    h.assert_unchanged(&before, "after rejected CheckRateLimit requests")
        .await;
});

conformance_test!(create_project_fields, |h| {
    paid_project(&h).await;
    let before = h.snapshot().await;

    let cases = [
        ("acct", "", "Name", "create_project.project_id"),
        ("acct", "new{1}", "Name", "create_project.project_id"),
        ("acct", &"p".repeat(65), "Name", "create_project.project_id"),
        ("", "new", "Name", "create_project.account_id"),
        ("acct:1", "new", "Name", "create_project.account_id"),
        ("acct", "new", "", "create_project.name"),
        ("acct", "new", "two\nlines", "create_project.name"),
    ];
    for (account_id, project_id, name, field) in cases {
        let result = h.try_create_project(account_id, project_id, name).await;
        assert_invalid_field(result, field);
    }

    h.assert_unchanged(&before, "after rejected project creations")
        .await;
});

conformance_test!(create_token_fields, system_limit(100, 60), |h| {
    paid_project(&h).await;
    let before = h.snapshot().await;
    let valid = || pb::CreateTokenOperation {
        project_id: "proj".to_owned(),
        name: "new".to_owned(),
        scopes: vec![pb::Scope::Read as i32],
        ..Default::default()
    };
    let limit = |count: i64, window_seconds: i64| {
        Some(pb::UserRateLimit {
            count,
            window_seconds,
        })
    };

    let cases = [
        (
            pb::CreateTokenOperation {
                rate_limit: limit(10, 61),
                ..valid()
            },
            "create_token.rate_limit",
        ),
        (
            // A user limit may not exceed the system limit of 100 per 60 s.
            pb::CreateTokenOperation {
                rate_limit: limit(101, 60),
                ..valid()
            },
            "create_token.rate_limit",
        ),
        (
            pb::CreateTokenOperation {
                rate_limit: limit(-1, 60),
                ..valid()
            },
            "create_token.rate_limit",
        ),
        (
            pb::CreateTokenOperation {
                name: String::new(),
                ..valid()
            },
            "create_token.name",
        ),
        (
            pb::CreateTokenOperation {
                name: "   ".to_owned(),
                ..valid()
            },
            "create_token.name",
        ),
        (
            pb::CreateTokenOperation {
                name: "x".repeat(256),
                ..valid()
            },
            "create_token.name",
        ),
        (
            pb::CreateTokenOperation {
                scopes: vec![99],
                ..valid()
            },
            "create_token.scopes[0]",
        ),
        (
            pb::CreateTokenOperation {
                scopes: vec![pb::Scope::Unspecified as i32],
                ..valid()
            },
            "create_token.scopes[0]",
        ),
        (
            pb::CreateTokenOperation {
                scopes: vec![pb::Scope::Read as i32, 99],
                ..valid()
            },
            "create_token.scopes[1]",
        ),
        (
            pb::CreateTokenOperation {
                scopes: Vec::new(),
                ..valid()
            },
            "create_token.scopes",
        ),
        (
            pb::CreateTokenOperation {
                project_id: String::new(),
                ..valid()
            },
            "create_token.project_id",
        ),
        (
            pb::CreateTokenOperation {
                project_id: "proj}".to_owned(),
                ..valid()
            },
            "create_token.project_id",
        ),
        (
            pb::CreateTokenOperation {
                expires_at: Some(prost_types::Timestamp {
                    seconds: now_unix_ms() / 1000 - 60,
                    nanos: 0,
                }),
                ..valid()
            },
            "create_token.expires_at",
        ),
    ];
    for (operation, field) in cases {
        assert_invalid_field(h.try_create_token(operation).await, field);
    }

    h.assert_unchanged(&before, "after rejected token creations")
        .await;
});

conformance_test!(update_token_fields, system_limit(100, 60), |h| {
    let created = paid_project(&h).await;
    let token = token_of(created.token("read"));
    let before = h.snapshot().await;

    let limit = pb::TokenUpdate {
        rate_limit: Some(pb::UserRateLimit {
            count: 10,
            window_seconds: 61,
        }),
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(token, limit, &["rate_limit"]).await,
        "update_token.update.rate_limit",
    );
    let scopes = pb::TokenUpdate {
        scopes: vec![99],
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(token, scopes, &["scopes"]).await,
        "update_token.update.scopes[0]",
    );
    let status = pb::TokenUpdate {
        status: 99,
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(token, status, &["status"]).await,
        "update_token.update.status",
    );
    let bad_ref = pb::Token {
        project_id: "proj".to_owned(),
        token_id: "tok{1}".to_owned(),
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(&bad_ref, pb::TokenUpdate::default(), &["name"])
            .await,
        "update_token.token.token_id",
    );
    let plan = h
        .manage(Operation::SetAccountPlan(pb::SetAccountPlanOperation {
            account_id: "acct".to_owned(),
            plan: pb::AccountPlan::Unspecified as i32,
        }))
        .await;
    assert_invalid_field(plan, "set_account_plan.plan");

    h.assert_unchanged(&before, "after rejected updates").await;
});

conformance_test!(missing_oneofs, |h| {
    let created = paid_project(&h).await;
    let before = h.snapshot().await;

    let manage = h
        .client()
        .manage(pb::ManageRequest { operation: None })
        .await;
    assert_invalid_field(manage, "operation");
    let regenerate = h
        .client()
        .regenerate(pb::RegenerateRequest { target: None })
        .await;
    assert_invalid_field(regenerate, "target");
    let check = h
        .check_rate_limit(pb::CheckRateLimitRequest {
            token: None,
            cost: 1,
            dry_run: false,
        })
        .await;
    assert_invalid_field(check, "token");
    let get = h
        .manage(Operation::GetToken(pb::GetTokenOperation { token: None }))
        .await;
    assert_invalid_field(get, "get_token.token");

    h.assert_unchanged(&before, "after requests without their oneof")
        .await;
    assert_eq!(
        h.get_token(token_of(created.token("read")))
            .await
            .unwrap()
            .status(),
        pb::TokenStatus::Enabled
    );
});

conformance_test!(regenerate_fields, |h| {
    let created = paid_project(&h).await;
    h.expire_token(token_of(created.token("write"))).await;
    let before = h.snapshot().await;

    let mut bad_ref = reference(token_of(created.token("write")));
    bad_ref.token_id = "tok{x}".to_owned();
    assert_invalid_field(
        h.regenerate(RegenerateTarget::Token(bad_ref)).await,
        "token.token_id",
    );
    assert_invalid_field(
        h.regenerate(RegenerateTarget::ProjectId("proj{x}".to_owned()))
            .await,
        "project_id",
    );
    assert_invalid_field(
        h.regenerate(RegenerateTarget::ProjectId(String::new()))
            .await,
        "project_id",
    );
    assert_invalid_field(
        h.regenerate(RegenerateTarget::AccountId("acct{x}".to_owned()))
            .await,
        "account_id",
    );

    h.assert_unchanged(&before, "after rejected regenerations")
        .await;
});

conformance_test!(snapshot_detects_writes, |h| {
    // The tests above rely on the snapshot, so check that it detects writes.
    let empty = h.snapshot().await;
    let created = paid_project(&h).await;
    let with_project = h.snapshot().await;
    assert_ne!(empty, with_project, "creating a project");

    h.read(created.key("read")).await;
    let after_read = h.snapshot().await;
    assert_ne!(with_project, after_read, "counting a request");

    h.set_status(token_of(created.token("write")), pb::TokenStatus::Disabled)
        .await
        .unwrap();
    assert_ne!(after_read, h.snapshot().await, "disabling a token");
});
