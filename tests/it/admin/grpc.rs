//! The admin token against the in-process server, over the in-memory store and a private Redis.

use std::time::Duration;

use tonic::{Code, Request, Status};

use token_authority::{
    grpc::{AUTHORIZATION_HEADER, UNAUTHENTICATED_MESSAGE},
    proto::v1::{
        self as pb, check_rate_limit_request::Token as CheckTarget, manage_request::Operation,
        regenerate_request::Target,
    },
};

use super::ADMIN_TOKEN;
use crate::support::{Backend, Harness, assert_allowed, reference, token_of};

/// How long one test may run before it fails instead of hanging.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `authorization` metadata values that must be rejected, with a label for failure messages.
/// `None` sends no metadata at all.
const BAD_CREDENTIALS: &[(&str, Option<&str>)] = &[
    ("no metadata", None),
    ("wrong token", Some("Bearer wrong-admin-token-0123456789")),
    ("token prefix", Some("Bearer test-admin-token")),
    ("empty Bearer", Some("Bearer ")),
    ("Basic scheme", Some("Basic test-admin-token-4b1d0c9e7f3a")),
    ("no scheme", Some("test-admin-token-4b1d0c9e7f3a")),
];

/// Writes a test once and runs it against both stores, each served with [`ADMIN_TOKEN`].
macro_rules! admin_test {
    ($name:ident, |$harness:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($harness: Harness) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                run_with_admin_token(Backend::Memory, run).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                run_with_admin_token(Backend::Redis, run).await;
            }
        }
    };
}

async fn run_with_admin_token<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let run = async {
        let harness = Harness::start_with_admin_token(backend, ADMIN_TOKEN).await;
        body(harness).await;
    };
    tokio::time::timeout(TEST_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {TEST_TIMEOUT:?}"));
}

/// Wraps `message` in a request with `authorization` set to `credential`, if any.
fn request_with<T>(message: T, credential: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = credential {
        let value = value.parse().expect("the credential is valid metadata");
        request.metadata_mut().insert(AUTHORIZATION_HEADER, value);
    }
    request
}

/// Asserts that `result` is UNAUTHENTICATED with the one message every such status carries.
#[track_caller]
fn assert_unauthenticated<T: std::fmt::Debug>(result: Result<T, Status>, context: &str) {
    match result {
        Ok(value) => panic!("{context}: expected UNAUTHENTICATED, got {value:?}"),
        Err(status) => {
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{context}: {status:?}"
            );
            assert_eq!(status.message(), UNAUTHENTICATED_MESSAGE, "{context}");
        }
    }
}

/// Returns one Manage operation of each kind, aimed at `token` of project `proj`.
fn every_manage_operation(token: &pb::Token) -> Vec<(&'static str, Operation)> {
    vec![
        (
            "create_project",
            Operation::CreateProject(pb::CreateProjectOperation {
                account_id: "acct".to_owned(),
                project_id: "other".to_owned(),
                name: "Other".to_owned(),
            }),
        ),
        (
            "delete_project",
            Operation::DeleteProject(pb::DeleteProjectOperation {
                project_id: "proj".to_owned(),
            }),
        ),
        (
            "set_account_plan",
            Operation::SetAccountPlan(pb::SetAccountPlanOperation {
                account_id: "acct".to_owned(),
                plan: pb::AccountPlan::Paid as i32,
            }),
        ),
        (
            "create_token",
            Operation::CreateToken(pb::CreateTokenOperation {
                project_id: "proj".to_owned(),
                name: "extra".to_owned(),
                scopes: vec![pb::Scope::Read as i32],
                ..Default::default()
            }),
        ),
        (
            "get_token",
            Operation::GetToken(pb::GetTokenOperation {
                token: Some(reference(token)),
            }),
        ),
        (
            "list_tokens",
            Operation::ListTokens(pb::ListTokensOperation {
                project_id: "proj".to_owned(),
                ..Default::default()
            }),
        ),
        (
            "update_token",
            Operation::UpdateToken(pb::UpdateTokenOperation {
                token: Some(reference(token)),
                update: Some(pb::TokenUpdate {
                    name: "renamed".to_owned(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".to_owned()],
                }),
            }),
        ),
        (
            "expire_token",
            Operation::ExpireToken(pb::ExpireTokenOperation {
                token: Some(reference(token)),
            }),
        ),
        (
            "delete_token",
            Operation::DeleteToken(pb::DeleteTokenOperation {
                token: Some(reference(token)),
            }),
        ),
    ]
}

admin_test!(manage_needs_admin_token, |h| {
    let project = h.create_project("acct", "proj", "Project").await;
    let token = token_of(project.token("read")).clone();
    let before = h.snapshot().await;

    for (label, credential) in BAD_CREDENTIALS {
        for (operation_name, operation) in every_manage_operation(&token) {
            let request = request_with(
                pb::ManageRequest {
                    operation: Some(operation),
                },
                *credential,
            );
            let result = h.client().manage(request).await;
            assert_unauthenticated(result, &format!("{operation_name} with {label}"));
        }
    }
    h.assert_unchanged(&before, "after rejected Manage calls")
        .await;
});

admin_test!(regenerate_needs_admin_token, |h| {
    let project = h.create_project("acct", "proj", "Project").await;
    let token = token_of(project.token("read")).clone();
    h.expire_token(&token).await;
    let before = h.snapshot().await;

    let targets = [
        ("token", Target::Token(reference(&token))),
        ("project", Target::ProjectId("proj".to_owned())),
        ("account", Target::AccountId("acct".to_owned())),
    ];
    for (label, credential) in BAD_CREDENTIALS {
        for (target_name, target) in &targets {
            let request = request_with(
                pb::RegenerateRequest {
                    target: Some(target.clone()),
                },
                *credential,
            );
            let result = h.client().regenerate(request).await;
            assert_unauthenticated(result, &format!("{target_name} with {label}"));
        }
    }
    h.assert_unchanged(&before, "after rejected Regenerate calls")
        .await;
});

admin_test!(check_rate_limit_needs_admin_token, |h| {
    let project = h.create_project("acct", "proj", "Project").await;
    let token = token_of(project.token("read")).clone();
    let before = h.snapshot().await;

    // A cost without dry_run would consume it, so an unchanged store shows nothing was counted.
    let targets = [
        (
            "key",
            CheckTarget::AccessToken(project.key("read").to_owned()),
        ),
        ("token_ref", CheckTarget::TokenRef(reference(&token))),
    ];
    for (label, credential) in BAD_CREDENTIALS {
        for (target_name, target) in &targets {
            let request = request_with(
                pb::CheckRateLimitRequest {
                    token: Some(target.clone()),
                    cost: 1,
                    dry_run: false,
                },
                *credential,
            );
            let result = h.client().check_rate_limit(request).await;
            assert_unauthenticated(result, &format!("{target_name} with {label}"));
        }
    }
    h.assert_unchanged(&before, "after rejected CheckRateLimit calls")
        .await;
});

admin_test!(credential_checked_before_request, |h| {
    // An empty request and an unknown project would be INVALID_ARGUMENT and NOT_FOUND, so
    // UNAUTHENTICATED shows the credential is checked before the request is read.
    let empty = h.client().manage(pb::ManageRequest::default()).await;
    assert_unauthenticated(empty, "Manage without an operation");
    let empty = h
        .client()
        .regenerate(pb::RegenerateRequest::default())
        .await;
    assert_unauthenticated(empty, "Regenerate without a target");
    let empty = h
        .client()
        .check_rate_limit(pb::CheckRateLimitRequest::default())
        .await;
    assert_unauthenticated(empty, "CheckRateLimit without a token");

    let unknown = pb::ManageRequest {
        operation: Some(Operation::DeleteProject(pb::DeleteProjectOperation {
            project_id: "missing".to_owned(),
        })),
    };
    let result = h.client().manage(unknown).await;
    assert_unauthenticated(result, "deleting an unknown project");
});

admin_test!(right_token_manages_tokens, |h| {
    // The harness's helpers send the right token.
    let project = h.create_project("acct", "proj", "Project").await;
    let token = token_of(project.token("read")).clone();
    h.set_plan("acct", pb::AccountPlan::Paid).await;
    assert_eq!(h.get_token(&token).await.unwrap().token_id, token.token_id);
    assert!(!h.windows(&token).await.is_empty(), "no rate-limit windows");

    let regenerated = h
        .regenerate(Target::Token(reference(&token)))
        .await
        .expect("Regenerate with the admin token failed");
    assert_eq!(regenerated.tokens.len(), 1);
    assert_ne!(regenerated.tokens[0].access_token, project.key("read"));

    let deleted = h.delete_project("proj").await.unwrap();
    assert_eq!(deleted, 4);
});

admin_test!(authorize_needs_no_admin_token, |h| {
    let project = h.create_project("acct", "proj", "Project").await;
    let key = project.key("read");

    // The raw client sends no metadata.
    assert_allowed(&h.read(key).await);

    // Authorize ignores any credential, right or wrong.
    for (label, credential) in BAD_CREDENTIALS {
        let request = request_with(
            pb::AuthorizeRequest {
                access_token: key.to_owned(),
                action: pb::Action::Read as i32,
                ..Default::default()
            },
            *credential,
        );
        let response = h
            .client()
            .authorize(request)
            .await
            .unwrap_or_else(|status| panic!("Authorize with {label} failed: {status:?}"))
            .into_inner();
        assert_allowed(&response);
    }
});
