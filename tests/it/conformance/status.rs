//! Token status (disabled, expired, deleted), the project check, and the order of the checks.

use std::time::Duration;

use token_authority::proto::v1::{self as pb, Action, DenialReason, TokenStatus};
use tonic::Code;

use crate::support::{
    assert_allowed, assert_code, assert_denied, conformance_test, now_unix_ms, token_of,
};

conformance_test!(disabled_token, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let token = token_of(created.token("read"));
    let key = created.key("read");

    let disabled = h.set_status(token, TokenStatus::Disabled).await.unwrap();
    assert_eq!(disabled.status(), TokenStatus::Disabled);

    let response = h.read(key).await;
    assert_denied(&response, DenialReason::Disabled, 403);
    assert_eq!(
        response.message,
        "insufficient privileges: the access token is disabled"
    );
    assert_eq!(response.token_id, token.token_id, "a found token is named");
    assert_eq!(response.rate_limit, None, "a disabled token is not counted");
    assert_eq!(
        h.get_token(token).await.unwrap().status(),
        TokenStatus::Disabled
    );

    let enabled = h.set_status(token, TokenStatus::Enabled).await.unwrap();
    assert_eq!(enabled.status(), TokenStatus::Enabled);
    assert_allowed(&h.read(key).await);
});

conformance_test!(expire_operation, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let token = token_of(created.token("read"));
    let key = created.key("read");
    assert_allowed(&h.read(key).await);

    let expired = h.expire_token(token).await;
    assert_eq!(expired.status(), TokenStatus::Expired);

    let response = h.read(key).await;
    assert_denied(&response, DenialReason::Expired, 403);
    assert_eq!(
        response.message,
        "insufficient privileges: the access token is expired"
    );
    assert_eq!(
        h.get_token(token).await.unwrap().status(),
        TokenStatus::Expired
    );

    let again = h.expire_token(token).await;
    assert_eq!(again.status(), TokenStatus::Expired, "expiring twice");
    assert_eq!(
        again.modified_at, expired.modified_at,
        "expiring an expired token changes nothing"
    );
});

conformance_test!(expired_rejects_changes, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let token = token_of(created.token("read"));
    h.expire_token(token).await;

    let enable = h.set_status(token, TokenStatus::Enabled).await;
    assert_code(enable, Code::FailedPrecondition);

    let rename = pb::TokenUpdate {
        name: "renamed".to_owned(),
        ..Default::default()
    };
    assert_code(
        h.update_token(token, rename, &["name"]).await,
        Code::FailedPrecondition,
    );
    assert_eq!(h.get_token(token).await.unwrap().name, "read", "name kept");
    assert_denied(
        &h.read(created.key("read")).await,
        DenialReason::Expired,
        403,
    );
});

conformance_test!(expires_at_passes, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let expires_at_ms = now_unix_ms() + 2_000;
    let expires_at = prost_types::Timestamp {
        seconds: expires_at_ms / 1000,
        nanos: (expires_at_ms % 1000) as i32 * 1_000_000,
    };
    let issued = h
        .create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "short-lived".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            expires_at: Some(expires_at),
            ..Default::default()
        })
        .await;
    let token = token_of(&issued);
    let key = &issued.access_token;
    assert_eq!(token.status(), TokenStatus::Enabled);
    assert_allowed(&h.read(key).await);

    // One token gets its expiry by update, and a disabled one reports expired once it passes.
    let updated = token_of(created.token("read"));
    let with_expiry = pb::TokenUpdate {
        expires_at: Some(expires_at),
        ..Default::default()
    };
    h.update_token(updated, with_expiry.clone(), &["expires_at"])
        .await
        .unwrap();
    assert_allowed(&h.read(created.key("read")).await);
    let disabled = token_of(created.token("write"));
    h.update_token(disabled, with_expiry, &["expires_at"])
        .await
        .unwrap();
    h.set_status(disabled, TokenStatus::Disabled).await.unwrap();

    // Expiry is judged by the wall clock, so the test waits for it to pass.
    let wait_ms = (expires_at_ms + 100 - now_unix_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;

    assert_denied(&h.read(key).await, DenialReason::Expired, 403);
    assert_denied(
        &h.read(created.key("read")).await,
        DenialReason::Expired,
        403,
    );
    assert_denied(
        &h.authorize(created.key("write"), Action::Write, "").await,
        DenialReason::Expired,
        403,
    );
    assert_eq!(
        h.get_token(token).await.unwrap().status(),
        TokenStatus::Expired
    );
    assert_eq!(
        h.get_token(disabled).await.unwrap().status(),
        TokenStatus::Expired,
        "a disabled token past its expiry"
    );
    assert_code(
        h.set_status(token, TokenStatus::Enabled).await,
        Code::FailedPrecondition,
    );
    assert_code(
        h.set_status(token, TokenStatus::Disabled).await,
        Code::FailedPrecondition,
    );
});

conformance_test!(deleted_token, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let token = token_of(created.token("read"));
    let key = created.key("read");

    h.delete_token(token).await.unwrap();

    let response = h.read(key).await;
    assert_denied(&response, DenialReason::UnknownToken, 403);
    assert_eq!(response.message, "access token not found");
    assert_eq!(response.token_id, "", "an unknown token is not named");
    assert_code(h.get_token(token).await, Code::NotFound);
    assert_code(h.delete_token(token).await, Code::NotFound);
    let listed = h
        .list_all_tokens("proj", TokenStatus::Unspecified, 100)
        .await;
    assert_eq!(listed.len(), 3, "the deleted token is not listed");
    assert!(
        listed.iter().all(|other| other.token_id != token.token_id),
        "the deleted token is listed"
    );
    assert_allowed(&h.authorize(created.key("write"), Action::Write, "").await);
});

conformance_test!(wrong_project, |h| {
    let created = h.create_project("acct", "proj-a", "A").await;
    h.create_project("acct", "proj-b", "B").await;
    let key = created.key("read");
    let request = |project_id: &str| pb::AuthorizeRequest {
        access_token: key.to_owned(),
        action: Action::Read as i32,
        project_id: project_id.to_owned(),
        ..Default::default()
    };

    let other = h.authorize_request(request("proj-b")).await;
    assert_denied(&other, DenialReason::WrongProject, 403);
    assert_eq!(other.project_id, "proj-a", "the reply names the owner");
    assert_eq!(other.rate_limit, None);

    assert_allowed(&h.authorize_request(request("proj-a")).await);
    assert_allowed(&h.authorize_request(request("")).await);
});

conformance_test!(check_order, |h| {
    let created = h.create_project("acct", "proj-a", "A").await;
    h.create_project("acct", "proj-b", "B").await;
    let read = created.key("read");
    let write = created.key("write");
    let request = |key: &str, action: Action, project_id: &str| pb::AuthorizeRequest {
        access_token: key.to_owned(),
        action: action as i32,
        project_id: project_id.to_owned(),
        ..Default::default()
    };

    // A wrong project is reported before a missing scope.
    let response = h
        .authorize_request(request(read, Action::Write, "proj-b"))
        .await;
    assert_denied(&response, DenialReason::WrongProject, 403);

    // A disabled token is reported before a wrong project or a missing scope.
    h.set_status(token_of(created.token("read")), TokenStatus::Disabled)
        .await
        .unwrap();
    let response = h
        .authorize_request(request(read, Action::Write, "proj-b"))
        .await;
    assert_denied(&response, DenialReason::Disabled, 403);

    // An expired token is reported before a wrong project or a missing scope.
    h.expire_token(token_of(created.token("write"))).await;
    let response = h
        .authorize_request(request(write, Action::Read, "proj-b"))
        .await;
    assert_denied(&response, DenialReason::Expired, 403);
});
