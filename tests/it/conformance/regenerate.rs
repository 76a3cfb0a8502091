//! Regenerate: one token, a project's expired tokens, and an account's expired tokens with the
//! CSV of new keys.

use std::collections::HashMap;

use token_authority::proto::v1::{
    self as pb, DenialReason, LimitKind, TokenStatus, regenerate_request::Target,
};
use tonic::Code;

use crate::support::{
    Harness, assert_allowed, assert_code, assert_denied, conformance_test, now_unix_ms, reference,
    token_of,
};

/// The CSV header row of an account regeneration.
const CSV_HEADER: [&str; 6] = [
    "project_id",
    "project_name",
    "token_id",
    "token_name",
    "scopes",
    "access_token",
];

/// Returns the scope names of `token`, space-separated in enum order.
fn scope_names(token: &pb::Token) -> String {
    token
        .scopes
        .iter()
        .map(|value| match pb::Scope::try_from(*value) {
            Ok(pb::Scope::PostServerItem) => "post_server_item",
            Ok(pb::Scope::PostClientItem) => "post_client_item",
            Ok(pb::Scope::Read) => "read",
            Ok(pb::Scope::Write) => "write",
            other => panic!("token has an invalid scope {other:?}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts that `old_key` no longer names a token and that `new_key` names `token_id`.
async fn assert_key_replaced(h: &Harness, old_key: &str, new_key: &str, token_id: &str) {
    let old = h
        .check_rate_limit(pb::CheckRateLimitRequest {
            token: Some(pb::check_rate_limit_request::Token::AccessToken(
                old_key.to_owned(),
            )),
            ..Default::default()
        })
        .await;
    assert_code(old, Code::NotFound);

    let new = h
        .check_rate_limit(pb::CheckRateLimitRequest {
            token: Some(pb::check_rate_limit_request::Token::AccessToken(
                new_key.to_owned(),
            )),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("the new key of {token_id} is unknown: {status:?}"));
    assert_eq!(new.token_id, token_id, "the new key names the token");
    assert_eq!(new.status(), TokenStatus::Enabled, "token {token_id}");
}

conformance_test!(one_token, |h| {
    h.create_project("acct", "proj", "Project").await;
    h.set_plan("acct", pb::AccountPlan::Paid).await;
    let expires_at_ms = now_unix_ms() + 3_600_000;
    let issued = h
        .create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "ci, \"nightly\"".to_owned(),
            scopes: vec![pb::Scope::Write as i32, pb::Scope::Read as i32],
            rate_limit: Some(pb::UserRateLimit {
                count: 5,
                window_seconds: 60,
            }),
            expires_at: Some(prost_types::Timestamp {
                seconds: expires_at_ms / 1000,
                nanos: 0,
            }),
        })
        .await;
    let before = token_of(&issued).clone();
    let old_key = issued.access_token.clone();
    assert_allowed(&h.read(&old_key).await);
    h.set_status(&before, TokenStatus::Disabled).await.unwrap();
    let regenerated_after_ms = now_unix_ms();

    let response = h
        .regenerate(Target::Token(reference(&before)))
        .await
        .unwrap();
    assert_eq!(response.tokens.len(), 1);
    assert_eq!(response.project_count, 1);
    assert_eq!(response.csv, "", "only an account regeneration has a CSV");

    let new_key = &response.tokens[0].access_token;
    let after = token_of(&response.tokens[0]);
    assert_ne!(new_key, &old_key);
    assert_eq!(new_key.len(), 32);
    assert_eq!(after.token_id, before.token_id, "token id kept");
    assert_eq!(after.project_id, "proj");
    assert_eq!(after.name, before.name, "name kept");
    assert_eq!(after.scopes, before.scopes, "scopes kept");
    assert_eq!(after.rate_limit, before.rate_limit, "user limit kept");
    assert_eq!(after.status(), TokenStatus::Enabled, "enabled again");
    assert_eq!(after.expires_at, None, "no expiry");
    assert_eq!(after.key_hint, new_key[28..], "hint of the new key");
    let created_at = after.created_at.expect("created_at");
    assert!(
        created_at.seconds >= regenerated_after_ms / 1000,
        "created_at {created_at:?} is not the regeneration time"
    );
    assert_eq!(h.get_token(&before).await.unwrap(), *after, "stored token");

    assert_denied(&h.read(&old_key).await, DenialReason::UnknownToken, 403);
    let allowed = h.read(new_key).await;
    assert_allowed(&allowed);
    assert_eq!(allowed.token_id, before.token_id);
    let figures = allowed.rate_limit.expect("figures");
    assert_eq!(
        figures.kind(),
        LimitKind::User,
        "the user limit still applies"
    );
    assert_eq!(figures.remaining, 4, "the new key starts a fresh window");
    assert_key_replaced(&h, &old_key, new_key, &before.token_id).await;
});

conformance_test!(project_expired_only, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let sibling = h.create_project("acct", "sibling", "Sibling").await;
    let expired_read = token_of(created.token("read")).clone();
    let expired_write = token_of(created.token("write")).clone();
    h.expire_token(&expired_read).await;
    h.expire_token(&expired_write).await;
    h.set_status(
        token_of(created.token("post_client_item")),
        TokenStatus::Disabled,
    )
    .await
    .unwrap();
    h.expire_token(token_of(sibling.token("read"))).await;

    let response = h
        .regenerate(Target::ProjectId("proj".to_owned()))
        .await
        .unwrap();
    let mut regenerated: Vec<&str> = response
        .tokens
        .iter()
        .map(|issued| token_of(issued).token_id.as_str())
        .collect();
    regenerated.sort_unstable();
    let mut expected = vec![
        expired_read.token_id.as_str(),
        expired_write.token_id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(regenerated, expected, "exactly the expired tokens");
    assert_eq!(response.project_count, 1);
    assert_eq!(response.csv, "");

    for issued in &response.tokens {
        let token = token_of(issued);
        assert_eq!(token.status(), TokenStatus::Enabled, "{}", token.name);
        assert_key_replaced(
            &h,
            created.key(&token.name),
            &issued.access_token,
            &token.token_id,
        )
        .await;
    }
    assert_allowed(
        &h.authorize(created.key("post_server_item"), pb::Action::PostDeploy, "")
            .await,
    );
    assert_denied(
        &h.authorize(created.key("post_client_item"), pb::Action::PostItem, "ios")
            .await,
        DenialReason::Disabled,
        403,
    );
    assert_denied(
        &h.read(sibling.key("read")).await,
        DenialReason::Expired,
        403,
    );

    let second = h
        .regenerate(Target::ProjectId("proj".to_owned()))
        .await
        .unwrap();
    assert!(second.tokens.is_empty(), "a second run regenerates nothing");
    assert_eq!(second.project_count, 0);
});

conformance_test!(account_with_csv, |h| {
    let shop_name = "Web shop, \"EU\"";
    let shop = h.create_project("acct", "shop", shop_name).await;
    let api = h.create_project("acct", "api", "API").await;
    let other = h.create_project("other-acct", "other", "Other").await;
    let multi = h
        .create_scoped_token(
            "api",
            "deploy, \"nightly\"",
            &[pb::Scope::Write, pb::Scope::Read],
        )
        .await;

    let mut expected_old_keys: HashMap<String, String> = HashMap::new();
    for issued in [
        shop.token("read"),
        shop.token("post_server_item"),
        api.token("write"),
        &multi,
    ] {
        let token = token_of(issued);
        h.expire_token(token).await;
        expected_old_keys.insert(token.token_id.clone(), issued.access_token.clone());
    }
    h.expire_token(token_of(other.token("read"))).await;
    let project_names: HashMap<&str, &str> = [("shop", shop_name), ("api", "API")].into();

    let response = h
        .regenerate(Target::AccountId("acct".to_owned()))
        .await
        .unwrap();
    assert_eq!(response.tokens.len(), 4, "the account's expired tokens");
    assert_eq!(response.project_count, 2);

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(response.csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("the CSV parses");
    assert_eq!(
        rows.len(),
        1 + response.tokens.len(),
        "one header row and one row per token"
    );
    assert_eq!(
        rows[0],
        csv::StringRecord::from(CSV_HEADER.to_vec()),
        "header row"
    );

    for (row, issued) in rows[1..].iter().zip(&response.tokens) {
        let token = token_of(issued);
        let expected = csv::StringRecord::from(vec![
            token.project_id.clone(),
            project_names[token.project_id.as_str()].to_owned(),
            token.token_id.clone(),
            token.name.clone(),
            scope_names(token),
            issued.access_token.clone(),
        ]);
        assert_eq!(row, &expected, "row of token {}", token.token_id);
    }

    for issued in &response.tokens {
        let token = token_of(issued);
        let old_key = expected_old_keys
            .remove(&token.token_id)
            .unwrap_or_else(|| panic!("token {} was not expired", token.token_id));
        assert_key_replaced(&h, &old_key, &issued.access_token, &token.token_id).await;
    }
    assert!(
        expected_old_keys.is_empty(),
        "expired tokens left out: {:?}",
        expected_old_keys.keys()
    );
    assert_denied(&h.read(other.key("read")).await, DenialReason::Expired, 403);

    let second = h
        .regenerate(Target::AccountId("acct".to_owned()))
        .await
        .unwrap();
    assert!(second.tokens.is_empty(), "a second run regenerates nothing");
    assert_eq!(second.project_count, 0);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(second.csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("the CSV parses");
    assert_eq!(
        rows,
        [csv::StringRecord::from(CSV_HEADER.to_vec())],
        "header only"
    );
});

conformance_test!(unknown_target_not_found, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let before = h.snapshot().await;

    let missing_token = pb::TokenRef {
        project_id: "proj".to_owned(),
        token_id: "tok_missing".to_owned(),
    };
    assert_code(
        h.regenerate(Target::Token(missing_token)).await,
        Code::NotFound,
    );
    let foreign_project = pb::TokenRef {
        project_id: "missing".to_owned(),
        token_id: token_of(created.token("read")).token_id.clone(),
    };
    assert_code(
        h.regenerate(Target::Token(foreign_project)).await,
        Code::NotFound,
    );
    assert_code(
        h.regenerate(Target::ProjectId("missing".to_owned())).await,
        Code::NotFound,
    );

    h.assert_unchanged(&before, "after regenerating unknown targets")
        .await;
});

conformance_test!(concurrent_runs_regenerate_once, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let mut expired_ids = Vec::new();
    for issued in &created.tokens {
        let token = token_of(issued);
        h.expire_token(token).await;
        expired_ids.push(token.token_id.clone());
    }

    let runs = (0..5).map(|index| {
        let mut client = h.client();
        let target = if index % 2 == 0 {
            Target::ProjectId("proj".to_owned())
        } else {
            Target::AccountId("acct".to_owned())
        };
        tokio::spawn(async move {
            client
                .regenerate(pb::RegenerateRequest {
                    target: Some(target),
                })
                .await
        })
    });
    let mut issued_keys: HashMap<String, String> = HashMap::new();
    for run in futures::future::join_all(runs).await {
        let response = run
            .expect("regenerate task panicked")
            .expect("Regenerate failed")
            .into_inner();
        for issued in response.tokens {
            let token_id = token_of(&issued).token_id.clone();
            let earlier = issued_keys.insert(token_id.clone(), issued.access_token);
            assert!(earlier.is_none(), "token {token_id} was regenerated twice");
        }
    }

    let mut regenerated: Vec<&String> = issued_keys.keys().collect();
    regenerated.sort();
    expired_ids.sort();
    assert_eq!(
        regenerated,
        expired_ids.iter().collect::<Vec<_>>(),
        "every expired token once"
    );
    for (token_id, key) in &issued_keys {
        let old_key = created
            .tokens
            .iter()
            .find(|issued| &token_of(issued).token_id == token_id)
            .map(|issued| issued.access_token.as_str())
            .expect("a default token");
        assert_key_replaced(&h, old_key, key, token_id).await;
    }
});

conformance_test!(racing_calls_on_one_token, |h| {
    const ROUNDS: usize = 5;
    const CALLS: usize = 12;

    let created = h.create_project("acct", "proj", "Project").await;
    let token = token_of(created.token("read")).clone();
    let mut every_key = vec![created.key("read").to_owned()];

    for round in 0..ROUNDS {
        let calls = (0..CALLS).map(|_| h.regenerate(Target::Token(reference(&token))));
        // A racing call either wins, one after another, or is aborted and may be retried.
        let mut returned = Vec::new();
        for result in futures::future::join_all(calls).await {
            match result {
                Ok(response) => {
                    assert_eq!(response.tokens.len(), 1, "round {round}");
                    returned.push(response.tokens[0].access_token.clone());
                }
                Err(status) => {
                    assert_eq!(status.code(), Code::Aborted, "round {round}: {status:?}");
                }
            }
        }
        assert!(
            !returned.is_empty(),
            "round {round}: every call was aborted"
        );

        let read = h
            .get_token(&token)
            .await
            .unwrap_or_else(|status| panic!("round {round}: GetToken failed: {status:?}"));
        let listed = h
            .list_all_tokens("proj", TokenStatus::Unspecified, 100)
            .await;
        assert_eq!(
            listed
                .iter()
                .filter(|listed| listed.token_id == token.token_id)
                .count(),
            1,
            "round {round}: the token is listed once"
        );

        // Exactly one returned key still names the token: the one GetToken describes.
        let mut working = Vec::new();
        for key in &returned {
            let report = h
                .check_rate_limit(pb::CheckRateLimitRequest {
                    token: Some(pb::check_rate_limit_request::Token::AccessToken(
                        key.clone(),
                    )),
                    ..Default::default()
                })
                .await;
            match report {
                Ok(report) => {
                    assert_eq!(report.token_id, token.token_id, "round {round}");
                    working.push(key.clone());
                }
                Err(status) => assert_eq!(status.code(), Code::NotFound, "round {round}"),
            }
        }
        assert_eq!(working.len(), 1, "round {round}: keys that still work");
        assert!(
            working[0].ends_with(&read.key_hint),
            "round {round}: GetToken shows the hint of another key"
        );
        every_key.extend(returned);
    }

    h.delete_token(&token).await.unwrap();
    assert_code(h.get_token(&token).await, Code::NotFound);
    for key in &every_key {
        let report = h
            .check_rate_limit(pb::CheckRateLimitRequest {
                token: Some(pb::check_rate_limit_request::Token::AccessToken(
                    key.clone(),
                )),
                ..Default::default()
            })
            .await;
        assert_code(report, Code::NotFound);
    }
});
