//! Manage: projects, plans and token changes, and their errors.

use token_authority::proto::v1::{
    self as pb, Action, DenialReason, TokenStatus, manage_request::Operation,
    manage_response::Result as Outcome,
};
use tonic::Code;

use crate::support::{
    assert_allowed, assert_code, assert_denied, assert_invalid_field, conformance_test,
    now_unix_ms, system_limit, token_of,
};

conformance_test!(create_project_twice, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    assert_eq!(created.project.project_id, "proj");
    assert_eq!(created.project.account_id, "acct");
    assert_eq!(created.project.name, "Project");
    let before = h.snapshot().await;

    let again = h.try_create_project("acct", "proj", "Again").await;
    assert_code(again, Code::AlreadyExists);
    let elsewhere = h
        .try_create_project("other-acct", "proj", "Elsewhere")
        .await;
    assert_code(elsewhere, Code::AlreadyExists);

    h.assert_unchanged(&before, "after creating a taken project id")
        .await;
    assert_allowed(&h.read(created.key("read")).await);
});

conformance_test!(delete_project, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let other_project = h.create_project("acct", "other_project", "Kept").await;
    let extra = h
        .create_scoped_token("proj", "extra", &[pb::Scope::Read])
        .await;

    assert_eq!(h.delete_project("proj").await.unwrap(), 5, "deleted tokens");

    for issued in created.tokens.iter().chain([&extra]) {
        let response = h.read(&issued.access_token).await;
        assert_denied(&response, DenialReason::UnknownToken, 403);
        assert_code(h.get_token(token_of(issued)).await, Code::NotFound);
    }
    assert_code(h.delete_project("proj").await, Code::NotFound);
    let list = h
        .list_tokens(pb::ListTokensOperation {
            project_id: "proj".to_owned(),
            ..Default::default()
        })
        .await;
    assert_code(list, Code::NotFound);
    let create = h
        .try_create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "late".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            ..Default::default()
        })
        .await;
    assert_code(create, Code::NotFound);
    assert_allowed(&h.read(other_project.key("read")).await);

    let recreated = h.create_project("acct", "proj", "Project again").await;
    assert_allowed(&h.read(recreated.key("read")).await);
    let listed = h
        .list_all_tokens("proj", TokenStatus::Unspecified, 100)
        .await;
    assert_eq!(listed.len(), 4, "only the new project's default tokens");
});

conformance_test!(unknown_ids_not_found, |h| {
    let a = h.create_project("acct", "proj-a", "A").await;
    h.create_project("acct", "proj-b", "B").await;
    let before = h.snapshot().await;

    let real = token_of(a.token("read"));
    let refs = [
        ("unknown token", "proj-a", "tok_missing"),
        ("unknown project", "missing", real.token_id.as_str()),
        ("token of another project", "proj-b", real.token_id.as_str()),
    ];
    for (case, project_id, token_id) in refs {
        let token = pb::Token {
            project_id: project_id.to_owned(),
            token_id: token_id.to_owned(),
            ..Default::default()
        };
        let rename = pb::TokenUpdate {
            name: "renamed".to_owned(),
            ..Default::default()
        };
        let get = h.get_token(&token).await;
        assert_eq!(
            get.map_err(|status| status.code()),
            Err(Code::NotFound),
            "get, {case}"
        );
        let update = h.update_token(&token, rename, &["name"]).await;
        assert_eq!(
            update.map_err(|status| status.code()),
            Err(Code::NotFound),
            "update, {case}"
        );
        let delete = h.delete_token(&token).await;
        assert_eq!(
            delete.map_err(|status| status.code()),
            Err(Code::NotFound),
            "delete, {case}"
        );
        let expire = h
            .manage(Operation::ExpireToken(pb::ExpireTokenOperation {
                token: Some(crate::support::reference(&token)),
            }))
            .await;
        assert_eq!(
            expire.map_err(|status| status.code()),
            Err(Code::NotFound),
            "expire, {case}"
        );
    }
    assert_code(h.delete_project("missing").await, Code::NotFound);
    let create = h
        .try_create_token(pb::CreateTokenOperation {
            project_id: "missing".to_owned(),
            name: "orphan".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            ..Default::default()
        })
        .await;
    assert_code(create, Code::NotFound);

    h.assert_unchanged(&before, "after operations on unknown ids")
        .await;
});

conformance_test!(update_mask_strict, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let token = token_of(created.token("read"));
    let before = h.snapshot().await;

    let rename = || pb::TokenUpdate {
        name: "renamed".to_owned(),
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(token, rename(), &["scopes"]).await,
        "update_token.update.name",
    );
    let disable = pb::TokenUpdate {
        status: TokenStatus::Disabled as i32,
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(token, disable, &["name"]).await,
        "update_token.update.status",
    );
    assert_invalid_field(
        h.update_token(token, rename(), &[]).await,
        "update_token.update_mask",
    );
    assert_invalid_field(
        h.update_token(token, rename(), &["name", "color"]).await,
        "update_token.update_mask",
    );
    let expire = pb::TokenUpdate {
        status: TokenStatus::Expired as i32,
        ..Default::default()
    };
    assert_invalid_field(
        h.update_token(token, expire, &["status"]).await,
        "update_token.update.status",
    );
    assert_invalid_field(
        h.update_token(token, pb::TokenUpdate::default(), &["scopes"])
            .await,
        "update_token.update.scopes",
    );

    h.assert_unchanged(&before, "after rejected updates").await;
});

conformance_test!(update_name_only, |h| {
    h.create_project("acct", "proj", "Project").await;
    h.set_plan("acct", pb::AccountPlan::Paid).await;
    let expires_at = prost_types::Timestamp {
        seconds: now_unix_ms() / 1000 + 3600,
        nanos: 0,
    };
    let issued = h
        .create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "before".to_owned(),
            scopes: vec![pb::Scope::Read as i32, pb::Scope::Write as i32],
            rate_limit: Some(pb::UserRateLimit {
                count: 7,
                window_seconds: 300,
            }),
            expires_at: Some(expires_at),
        })
        .await;
    let before = token_of(&issued);

    let rename = pb::TokenUpdate {
        name: "after".to_owned(),
        ..Default::default()
    };
    let after = h.update_token(before, rename, &["name"]).await.unwrap();
    assert_eq!(after.name, "after");
    assert_eq!(after.scopes, before.scopes, "scopes untouched");
    assert_eq!(after.rate_limit, before.rate_limit, "user limit untouched");
    assert_eq!(after.expires_at, before.expires_at, "expiry untouched");
    assert_eq!(after.status(), TokenStatus::Enabled, "status untouched");
    assert_eq!(after.created_at, before.created_at, "created_at untouched");
    assert_eq!(after.key_hint, before.key_hint, "key untouched");
    assert_eq!(h.get_token(before).await.unwrap(), after, "stored token");

    let response = h.read(&issued.access_token).await;
    assert_allowed(&response);
    assert_eq!(
        response.token_name, "after",
        "the next Authorize sees the name"
    );
});

conformance_test!(update_applies_at_once, |h| {
    h.create_project("acct", "proj", "Project").await;
    let issued = h
        .create_scoped_token("proj", "changing", &[pb::Scope::Read])
        .await;
    let token = token_of(&issued);
    let key = &issued.access_token;

    let to_write = pb::TokenUpdate {
        scopes: vec![pb::Scope::Write as i32],
        ..Default::default()
    };
    let updated = h.update_token(token, to_write, &["scopes"]).await.unwrap();
    assert_eq!(updated.scopes, [pb::Scope::Write as i32]);
    assert_denied(&h.read(key).await, DenialReason::InsufficientScope, 403);
    assert_allowed(&h.authorize(key, Action::Write, "").await);

    let later = prost_types::Timestamp {
        seconds: now_unix_ms() / 1000 + 3600,
        nanos: 0,
    };
    let with_expiry = pb::TokenUpdate {
        expires_at: Some(later),
        ..Default::default()
    };
    let updated = h
        .update_token(token, with_expiry, &["expires_at"])
        .await
        .unwrap();
    assert_eq!(updated.expires_at, Some(later));
    let cleared = h
        .update_token(token, pb::TokenUpdate::default(), &["expires_at"])
        .await
        .unwrap();
    assert_eq!(
        cleared.expires_at, None,
        "an unset expiry in the mask clears it"
    );
    assert_eq!(
        cleared.scopes,
        [pb::Scope::Write as i32],
        "scopes other_project"
    );
});

conformance_test!(set_account_plan, |h| {
    let result = h
        .manage(Operation::SetAccountPlan(pb::SetAccountPlanOperation {
            account_id: "new-acct".to_owned(),
            plan: pb::AccountPlan::Paid as i32,
        }))
        .await
        .unwrap();
    let Outcome::SetAccountPlan(result) = result else {
        panic!("set_account_plan returned {result:?}");
    };
    let account = result.account.expect("account");
    assert_eq!(account.account_id, "new-acct");
    assert_eq!(account.plan(), pb::AccountPlan::Paid);

    // The account exists before any project, and its plan applies to its first project.
    h.create_project("new-acct", "proj", "Project").await;
    let limited = h
        .create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "limited".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            rate_limit: Some(pb::UserRateLimit {
                count: 3,
                window_seconds: 60,
            }),
            ..Default::default()
        })
        .await;
    for _ in 0..3 {
        assert_allowed(&h.read(&limited.access_token).await);
    }
    assert_denied(
        &h.read(&limited.access_token).await,
        DenialReason::RateLimited,
        429,
    );
});

conformance_test!(plan_reaches_every_token, system_limit(10, 60), |h| {
    // One project exists before the account is paid, the other is created after.
    h.create_project("acct", "before", "Before").await;
    h.set_plan("acct", pb::AccountPlan::Paid).await;
    h.create_project("acct", "after", "After").await;
    let mut keys = Vec::new();
    for project_id in ["before", "after"] {
        let issued = h
            .create_token(pb::CreateTokenOperation {
                project_id: project_id.to_owned(),
                name: "limited".to_owned(),
                scopes: vec![pb::Scope::Read as i32],
                rate_limit: Some(pb::UserRateLimit {
                    count: 1,
                    window_seconds: 60,
                }),
                ..Default::default()
            })
            .await;
        keys.push((project_id, issued.access_token));
    }

    for (project_id, key) in &keys {
        assert_allowed(&h.read(key).await);
        let denied = h.read(key).await;
        assert_eq!(
            denied.denial_reason(),
            DenialReason::RateLimited,
            "paid, project {project_id}"
        );
    }

    h.set_plan("acct", pb::AccountPlan::Free).await;
    for (project_id, key) in &keys {
        let response = h.read(key).await;
        assert_eq!(
            response.decision(),
            pb::Decision::Allow,
            "free, project {project_id}"
        );
    }

    h.set_plan("acct", pb::AccountPlan::Paid).await;
    for (project_id, key) in &keys {
        let denied = h.read(key).await;
        assert_eq!(
            denied.denial_reason(),
            DenialReason::RateLimited,
            "paid again, project {project_id}"
        );
    }
});

conformance_test!(concurrent_create_project, |h| {
    let attempts = (0..10).map(|index| {
        let mut client = h.client();
        let request = pb::ManageRequest {
            operation: Some(Operation::CreateProject(pb::CreateProjectOperation {
                account_id: format!("acct-{index}"),
                project_id: "proj".to_owned(),
                name: format!("Project {index}"),
            })),
        };
        tokio::spawn(async move { client.manage(request).await })
    });
    let results = futures::future::join_all(attempts).await;

    let mut created = 0;
    for result in results {
        match result.expect("create task panicked") {
            Ok(_) => created += 1,
            Err(status) => assert_eq!(status.code(), Code::AlreadyExists, "{status:?}"),
        }
    }
    assert_eq!(created, 1, "projects created by 10 concurrent calls");
    let tokens = h
        .list_all_tokens("proj", TokenStatus::Unspecified, 100)
        .await;
    assert_eq!(tokens.len(), 4, "one set of default tokens");
});

conformance_test!(clear_user_limit, system_limit(10, 60), |h| {
    let issued = h.limited_token(1, 60).await;
    let token = token_of(&issued);
    assert_allowed(&h.read(&issued.access_token).await);
    assert_denied(
        &h.read(&issued.access_token).await,
        DenialReason::RateLimited,
        429,
    );

    let cleared = h
        .update_token(token, pb::TokenUpdate::default(), &["rate_limit"])
        .await
        .unwrap();
    assert_eq!(
        cleared.rate_limit, None,
        "an unset limit in the mask clears it"
    );
    let windows = h.windows(token).await;
    assert_eq!(windows.len(), 1, "only the system window remains");
    let response = h.read(&issued.access_token).await;
    assert_allowed(&response);
    assert_eq!(
        response.rate_limit.unwrap().remaining,
        8,
        "system limit only"
    );
});

conformance_test!(far_future_expiry, |h| {
    h.create_project("acct", "proj", "Project").await;
    // 9999-12-31T23:59:59.999Z, the last instant a protobuf Timestamp can hold.
    let last = prost_types::Timestamp {
        seconds: 253_402_300_799,
        nanos: 999_000_000,
    };
    let issued = h
        .create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "long-lived".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            expires_at: Some(last),
            ..Default::default()
        })
        .await;
    let token = token_of(&issued);
    assert_eq!(token.expires_at, Some(last));
    assert_eq!(h.get_token(token).await.unwrap().expires_at, Some(last));
    assert_allowed(&h.read(&issued.access_token).await);

    let beyond = pb::CreateTokenOperation {
        project_id: "proj".to_owned(),
        name: "too-long-lived".to_owned(),
        scopes: vec![pb::Scope::Read as i32],
        expires_at: Some(prost_types::Timestamp {
            seconds: 253_402_300_800,
            nanos: 0,
        }),
        ..Default::default()
    };
    assert_invalid_field(h.try_create_token(beyond).await, "create_token.expires_at");
});

conformance_test!(names_round_trip, |h| {
    let project_name = "Café ☕, \"EU\" — 日本";
    let token_name = "é".repeat(255);
    let created = h.create_project("acct", "proj", project_name).await;
    assert_eq!(created.project.name, project_name);

    let issued = h
        .create_scoped_token("proj", &token_name, &[pb::Scope::Read])
        .await;
    assert_eq!(token_of(&issued).name, token_name);
    let stored = h.get_token(token_of(&issued)).await.unwrap();
    assert_eq!(stored.name, token_name, "stored name");
    let response = h.read(&issued.access_token).await;
    assert_eq!(response.token_name, token_name, "name in Authorize");

    h.expire_token(token_of(&issued)).await;
    let regenerated = h
        .regenerate(pb::regenerate_request::Target::AccountId("acct".to_owned()))
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(regenerated.csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("the CSV parses");
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], project_name, "project name in the CSV");
    assert_eq!(&rows[0][3], token_name, "token name in the CSV");
});

conformance_test!(longest_ids_work, |h| {
    let account_id = format!("A.{}", "a_-".repeat(20)) + "zz";
    let project_id = format!("P.{}", "p-_".repeat(20)) + "zz";
    assert_eq!(account_id.len(), 64);
    assert_eq!(project_id.len(), 64);

    let created = h.create_project(&account_id, &project_id, "Long").await;
    let response = h
        .authorize_request(pb::AuthorizeRequest {
            access_token: created.key("read").to_owned(),
            action: Action::Read as i32,
            project_id: project_id.clone(),
            ..Default::default()
        })
        .await;
    assert_allowed(&response);
    assert_eq!(response.project_id, project_id);

    let listed = h
        .list_all_tokens(&project_id, TokenStatus::Unspecified, 2)
        .await;
    assert_eq!(listed.len(), 4);
    h.expire_token(token_of(created.token("write"))).await;
    let regenerated = h
        .regenerate(pb::regenerate_request::Target::AccountId(account_id))
        .await
        .unwrap();
    assert_eq!(regenerated.tokens.len(), 1);
    assert_eq!(h.delete_project(&project_id).await.unwrap(), 4);
});

conformance_test!(deleted_project_not_regenerated, |h| {
    let gone = h.create_project("acct", "gone", "Gone").await;
    let stays = h.create_project("acct", "stays", "Stays").await;
    h.expire_token(token_of(gone.token("read"))).await;
    h.expire_token(token_of(stays.token("read"))).await;
    h.delete_project("gone").await.unwrap();

    let regenerated = h
        .regenerate(pb::regenerate_request::Target::AccountId("acct".to_owned()))
        .await
        .unwrap();
    assert_eq!(regenerated.tokens.len(), 1);
    assert_eq!(token_of(&regenerated.tokens[0]).project_id, "stays");
    assert_eq!(regenerated.project_count, 1);
});
