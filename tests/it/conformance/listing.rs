//! Listing a project's tokens: status filters and paging.

use std::{collections::HashSet, time::Duration};

use futures::{StreamExt, stream};
use token_authority::proto::v1::{self as pb, TokenStatus};
use tonic::Code;

use crate::support::{
    Harness, assert_code, assert_invalid_field, conformance_test, now_unix_ms, token_of,
};

/// How many tokens the paging test creates, on top of the four default ones.
const MANY: usize = 1_000;

/// How many create_token calls run at once while filling a project.
const CREATE_CONCURRENCY: usize = 32;

fn ids(tokens: &[pb::Token]) -> Vec<String> {
    tokens.iter().map(|token| token.token_id.clone()).collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Creates `count` read tokens in `project_id`, a bounded batch at a time, and returns them.
async fn create_many(h: &Harness, project_id: &str, count: usize) -> Vec<pb::Token> {
    stream::iter(0..count)
        .map(|index| async move {
            let issued = h
                .create_scoped_token(project_id, &format!("token {index}"), &[pb::Scope::Read])
                .await;
            token_of(&issued).clone()
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .collect()
        .await
}

conformance_test!(status_filter, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let default_ids: Vec<String> = created
        .tokens
        .iter()
        .map(|issued| token_of(issued).token_id.clone())
        .collect();

    let disabled = token_of(created.token("read")).clone();
    h.set_status(&disabled, TokenStatus::Disabled)
        .await
        .unwrap();
    let expired = token_of(created.token("write")).clone();
    h.expire_token(&expired).await;

    let expires_at_ms = now_unix_ms() + 2_000;
    let timestamp = prost_types::Timestamp {
        seconds: expires_at_ms / 1000,
        nanos: (expires_at_ms % 1000) as i32 * 1_000_000,
    };
    let lapsing = |name: &str| pb::CreateTokenOperation {
        project_id: "proj".to_owned(),
        name: name.to_owned(),
        scopes: vec![pb::Scope::Read as i32],
        expires_at: Some(timestamp),
        ..Default::default()
    };
    let lapsed = token_of(&h.create_token(lapsing("lapsed")).await).clone();
    let lapsed_disabled = token_of(&h.create_token(lapsing("lapsed disabled")).await).clone();
    h.set_status(&lapsed_disabled, TokenStatus::Disabled)
        .await
        .unwrap();

    // Expiry is judged by the wall clock, so the test waits for it to pass.
    let wait_ms = (expires_at_ms + 100 - now_unix_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;

    let active = h.list_all_tokens("proj", TokenStatus::Enabled, 100).await;
    assert_eq!(
        sorted(ids(&active)),
        sorted(vec![default_ids[0].clone(), default_ids[1].clone()]),
        "active tokens"
    );
    assert!(
        active
            .iter()
            .all(|token| token.status() == TokenStatus::Enabled)
    );

    let listed_disabled = h.list_all_tokens("proj", TokenStatus::Disabled, 100).await;
    assert_eq!(
        ids(&listed_disabled),
        std::slice::from_ref(&disabled.token_id),
        "disabled"
    );

    let listed_expired = h.list_all_tokens("proj", TokenStatus::Expired, 100).await;
    assert_eq!(
        sorted(ids(&listed_expired)),
        sorted(vec![
            expired.token_id.clone(),
            lapsed.token_id.clone(),
            lapsed_disabled.token_id.clone()
        ]),
        "expired, by the operation or by expires_at"
    );
    assert!(
        listed_expired
            .iter()
            .all(|token| token.status() == TokenStatus::Expired),
        "listed expired tokens report status expired"
    );

    let every = h
        .list_all_tokens("proj", TokenStatus::Unspecified, 100)
        .await;
    assert_eq!(every.len(), 6, "every token");
});

conformance_test!(paging_many_tokens, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let new_tokens = create_many(&h, "proj", MANY).await;
    let mut expected: Vec<String> = created
        .tokens
        .iter()
        .map(|issued| token_of(issued).token_id.clone())
        .collect();
    expected.extend(ids(&new_tokens));
    let expected = sorted(expected);
    assert_eq!(expected.len(), MANY + 4);

    let mut first_order: Option<Vec<String>> = None;
    for page_size in [1, 7, 100, 1000] {
        let listed = ids(&h
            .list_all_tokens("proj", TokenStatus::Unspecified, page_size)
            .await);
        let unique: HashSet<&String> = listed.iter().collect();
        assert_eq!(
            unique.len(),
            listed.len(),
            "page size {page_size}: a token was listed twice"
        );
        assert_eq!(
            sorted(listed.clone()),
            expected,
            "page size {page_size}: listed tokens"
        );
        match &first_order {
            None => first_order = Some(listed),
            Some(order) => assert_eq!(
                &listed, order,
                "page size {page_size}: the order differs from page size 1"
            ),
        }
    }

    let default_page = h
        .list_tokens(pb::ListTokensOperation {
            project_id: "proj".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(default_page.tokens.len(), 100, "page size 0 means 100");
    assert!(!default_page.next_page_token.is_empty());
});

conformance_test!(paging_filtered, |h| {
    h.create_project("acct", "proj", "Project").await;
    let new_tokens = create_many(&h, "proj", 200).await;
    let mut disabled = Vec::new();
    for token in new_tokens.iter().step_by(3) {
        h.set_status(token, TokenStatus::Disabled).await.unwrap();
        disabled.push(token.token_id.clone());
    }

    for page_size in [1, 7, 100] {
        let listed = ids(&h
            .list_all_tokens("proj", TokenStatus::Disabled, page_size)
            .await);
        let unique: HashSet<&String> = listed.iter().collect();
        assert_eq!(unique.len(), listed.len(), "page size {page_size}: repeats");
        assert_eq!(
            sorted(listed),
            sorted(disabled.clone()),
            "page size {page_size}: disabled tokens"
        );
    }
});

conformance_test!(bad_paging_rejected, |h| {
    h.create_project("acct", "proj", "Project").await;
    let before = h.snapshot().await;
    let list = |page_size: i32, page_token: &str, status: i32| pb::ListTokensOperation {
        project_id: "proj".to_owned(),
        status,
        page_size,
        page_token: page_token.to_owned(),
    };

    for page_size in [-1, 1001, i32::MIN, i32::MAX] {
        assert_invalid_field(
            h.list_tokens(list(page_size, "", 0)).await,
            "list_tokens.page_size",
        );
    }
    for page_token in [
        "{tok}",
        "tok:1",
        "токен",
        &"t".repeat(65),
        "garbage",
        "tok_",
        "zzzz",
    ] {
        assert_invalid_field(
            h.list_tokens(list(10, page_token, 0)).await,
            "list_tokens.page_token",
        );
    }
    assert_invalid_field(h.list_tokens(list(10, "", 9)).await, "list_tokens.status");
    assert_invalid_field(
        h.list_tokens(pb::ListTokensOperation::default()).await,
        "list_tokens.project_id",
    );
    assert_code(
        h.list_tokens(pb::ListTokensOperation {
            project_id: "missing".to_owned(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );

    h.assert_unchanged(&before, "after rejected list requests")
        .await;
});

conformance_test!(paging_survives_deletion, |h| {
    h.create_project("acct", "proj", "Project").await;
    create_many(&h, "proj", 20).await;
    let everything = ids(&h
        .list_all_tokens("proj", TokenStatus::Unspecified, 100)
        .await);

    let first = h
        .list_tokens(pb::ListTokensOperation {
            project_id: "proj".to_owned(),
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    let last_listed = first.tokens.last().expect("a full first page");
    assert_eq!(first.tokens.len(), 5);

    // Deleting the token the page ended at must not lose the rest of the listing.
    h.delete_token(last_listed).await.unwrap();
    let mut rest = Vec::new();
    let mut page_token = first.next_page_token.clone();
    for _ in 0..everything.len() {
        let page = h
            .list_tokens(pb::ListTokensOperation {
                project_id: "proj".to_owned(),
                page_size: 5,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        rest.extend(ids(&page.tokens));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(rest, everything[5..], "tokens after the deleted one");
});
