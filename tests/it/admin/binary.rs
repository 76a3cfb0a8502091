//! The admin token with the real server binary: the token file is checked at start-up, a server
//! without one warns, and the token never reaches the logs, even at debug level.

use tonic::{Code, Request, Status, metadata::MetadataValue, service::Interceptor};

use token_authority::proto::v1::{
    self as pb, ManageRequest, Scope, manage_request::Operation,
    token_authority_client::TokenAuthorityClient,
};

use super::{ADMIN_TOKEN, token_file};
use crate::binary::{
    allowed, key_with_scope, post_server_item,
    process::{ServerProcess, bare_command, message, run_to_exit, server_command, start},
};

/// Adds `authorization: Bearer TOKEN` to every request.
#[derive(Clone)]
struct BearerToken(&'static str);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let value: MetadataValue<_> = format!("Bearer {}", self.0)
            .parse()
            .expect("the token is valid metadata");
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// Returns a Manage request that lists the tokens of project `proj`.
fn list_tokens() -> ManageRequest {
    ManageRequest {
        operation: Some(Operation::ListTokens(pb::ListTokensOperation {
            project_id: "proj".to_owned(),
            ..Default::default()
        })),
    }
}

/// Returns a Manage request that creates project `project_id` in account `acct`.
fn create_project(project_id: &str) -> ManageRequest {
    ManageRequest {
        operation: Some(Operation::CreateProject(pb::CreateProjectOperation {
            account_id: "acct".to_owned(),
            project_id: project_id.to_owned(),
            name: "Project".to_owned(),
        })),
    }
}

#[tokio::test]
async fn admin_token_from_file_guards_management() {
    let (_dir, path) = token_file(&format!("{ADMIN_TOKEN}\n"));
    let path = path.to_str().expect("the temporary path is UTF-8");
    let mut server = start(&["--admin-token-file", path, "--log-level", "debug"]).await;
    assert_guarded(&server).await;

    server.stop().await;
    assert_token_not_logged(&server);
    assert!(
        server
            .logs_starting_with("no --admin-token-file set")
            .is_empty(),
        "a server with an admin token warned that it has none:\n{}",
        server.stderr_text()
    );
    let required = server.logs_starting_with("Manage, Regenerate and CheckRateLimit require");
    assert_eq!(required.len(), 1, "logs:\n{}", server.stderr_text());
}

#[tokio::test]
async fn admin_token_file_from_environment() {
    let (_dir, path) = token_file(ADMIN_TOKEN);
    let mut command = server_command(&[]);
    command.env("TOKEN_AUTHORITY_ADMIN_TOKEN_FILE", &path);
    let server = ServerProcess::spawn(command).await;

    let status = server
        .authority()
        .manage(list_tokens())
        .await
        .expect_err("Manage without the admin token succeeded");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let mut admin =
        TokenAuthorityClient::with_interceptor(server.channel(), BearerToken(ADMIN_TOKEN));
    admin
        .manage(create_project("proj"))
        .await
        .expect("Manage with the admin token failed");
}

/// Checks that management calls without the right token fail and leave the store alone, that
/// the right token works, and that Authorize needs none. Each rejected call is logged once at
/// debug level.
async fn assert_guarded(server: &ServerProcess) {
    let mut anonymous = server.authority();
    let mut wrong = TokenAuthorityClient::with_interceptor(
        server.channel(),
        BearerToken("wrong-admin-token-0123456789"),
    );
    let mut admin =
        TokenAuthorityClient::with_interceptor(server.channel(), BearerToken(ADMIN_TOKEN));

    let rejected = [
        anonymous.manage(create_project("proj")).await.map(drop),
        wrong.manage(create_project("proj")).await.map(drop),
        anonymous
            .regenerate(pb::RegenerateRequest {
                target: Some(pb::regenerate_request::Target::ProjectId("proj".to_owned())),
            })
            .await
            .map(drop),
        wrong
            .check_rate_limit(pb::CheckRateLimitRequest::default())
            .await
            .map(drop),
    ];
    for (index, result) in rejected.iter().enumerate() {
        let status = result
            .as_ref()
            .expect_err("a call without the admin token succeeded");
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "call {index}: {status:?}"
        );
    }

    // Nothing was created, so the admin client finds no project yet.
    let status = admin
        .manage(list_tokens())
        .await
        .expect_err("an absent project was listed");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let response = admin
        .manage(create_project("proj"))
        .await
        .expect("Manage with the admin token failed")
        .into_inner();
    let tokens = match response.result {
        Some(pb::manage_response::Result::CreateProject(result)) => result.tokens,
        other => panic!("create_project returned {other:?}"),
    };
    let key = key_with_scope(&tokens, Scope::PostServerItem);
    let decision = anonymous
        .authorize(post_server_item(&key))
        .await
        .expect("Authorize without the admin token failed")
        .into_inner();
    assert!(allowed(&decision), "{decision:?}");
    admin
        .check_rate_limit(pb::CheckRateLimitRequest {
            token: Some(pb::check_rate_limit_request::Token::AccessToken(key)),
            ..Default::default()
        })
        .await
        .expect("CheckRateLimit with the admin token failed");

    // The reader of standard error may be behind the replies.
    let mut lines = 0;
    for _ in 0..50 {
        lines = server.logs_starting_with("admin credential rejected").len();
        if lines >= rejected.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(lines, rejected.len(), "logs:\n{}", server.stderr_text());
}

/// Checks that neither the admin token nor its random end is on the server's standard error.
fn assert_token_not_logged(server: &ServerProcess) {
    let logs = server.stderr_text();
    let debug_lines = server
        .log_events()
        .into_iter()
        .filter(|event| event["level"] == "DEBUG")
        .count();
    assert!(
        debug_lines > 0,
        "no debug lines, so the check proves little:\n{logs}"
    );
    assert!(
        !logs.contains(ADMIN_TOKEN),
        "the admin token is in the logs:\n{logs}"
    );
    assert!(
        !logs.contains("4b1d0c9e7f3a"),
        "the end of the admin token is in the logs:\n{logs}"
    );
}

#[tokio::test]
async fn no_admin_token_warns() {
    let server = start(&[]).await;

    let warnings = server.logs_starting_with("no --admin-token-file set");
    assert_eq!(warnings.len(), 1, "logs:\n{}", server.stderr_text());
    assert_eq!(warnings[0]["level"], "WARN");
    let text = message(&warnings[0]);
    assert!(text.contains("unauthenticated"), "{text}");
    assert!(
        text.contains("Manage, Regenerate and CheckRateLimit"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_admin_token_file_stops_startup() {
    let (_empty_dir, empty) = token_file("");
    let (_newline_dir, newline) = token_file("\n");
    let (_short_dir, short) = token_file("short-admin-tok\n");
    let missing = empty.with_file_name("missing-admin-token");
    let cases = [
        (empty, "empty"),
        (newline, "empty"),
        (short, "at least 16"),
        (missing, "does not exist"),
    ];

    for (path, reason) in &cases {
        for from_environment in [false, true] {
            let path_text = path.to_str().expect("the temporary path is UTF-8");
            let mut command = if from_environment {
                let mut command = bare_command(&["--listen", "127.0.0.1:0"]);
                command.env("TOKEN_AUTHORITY_ADMIN_TOKEN_FILE", path_text);
                command
            } else {
                bare_command(&["--listen", "127.0.0.1:0", "--admin-token-file", path_text])
            };
            command.env("TOKEN_AUTHORITY_LOG_FORMAT", "json");

            let label = format!("{path_text} (from the environment: {from_environment})");
            let (status, stderr) = run_to_exit(command, &label).await;
            assert!(!status.success(), "{label}: exited with {status}");
            assert!(
                status.code().is_some(),
                "{label}: killed by a signal ({status})"
            );
            assert!(stderr.contains("--admin-token-file"), "{label}: {stderr}");
            assert!(stderr.contains(reason), "{label}: {stderr}");
            assert!(!stderr.contains("short-admin-tok"), "{label}: {stderr}");
            assert!(!stderr.contains("serving gRPC"), "{label}: {stderr}");
        }
    }
}
