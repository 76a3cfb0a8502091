//! Secrets kept out of the logs: no issued key and no Redis password appears on standard error,
//! even at debug level.

use tonic::{Code, transport::Channel};

use token_authority::{
    proto::v1::{
        Action, AuthorizeRequest, CheckRateLimitRequest, CreateTokenOperation,
        ExpireTokenOperation, IssuedToken, ManageRequest, RegenerateRequest, RegenerateResponse,
        Scope, TokenRef, check_rate_limit_request, manage_request::Operation,
        manage_response::Result as ManageResult, regenerate_request::Target,
        token_authority_client::TokenAuthorityClient,
    },
    testing::RedisServer,
};

use super::{
    create_project, post_server_item,
    process::{READINESS_CHANGE, ServerProcess, start},
};

/// The password set on the private Redis.
const PASSWORD: &str = "s3cret-pass";

#[tokio::test]
async fn keys_and_password_stay_out_of_logs() {
    let redis = RedisServer::start().await;
    require_password(&redis).await;
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port());
    let mut server = start(&["--redis-url", &url, "--log-level", "debug"]).await;
    server.assert_ready(READINESS_CHANGE).await;

    let mut client = server.authority();
    let keys = issue_keys_every_way(&mut client).await;
    for key in &keys {
        let presented = [
            key.clone(),
            format!("{key}\n"),
            format!(" {key}\t"),
            key.to_uppercase(),
        ];
        for access_token in presented {
            client
                .authorize(post_server_item(&access_token))
                .await
                .expect("Authorize failed");
        }
        let request = CheckRateLimitRequest {
            token: Some(check_rate_limit_request::Token::AccessToken(key.clone())),
            ..CheckRateLimitRequest::default()
        };
        // A regenerated key no longer matches a token, and CheckRateLimit reports that as NOT_FOUND.
        if let Err(status) = client.check_rate_limit(request).await {
            assert_eq!(status.code(), Code::NotFound, "{status:?}");
        }
        // A rejected request is logged at debug level with its field and rule.
        let rejected = AuthorizeRequest {
            access_token: key.clone(),
            action: Action::Unspecified as i32,
            ..AuthorizeRequest::default()
        };
        let status = client
            .authorize(rejected)
            .await
            .expect_err("an unspecified action was accepted");
        assert_eq!(status.code(), Code::InvalidArgument);
    }

    // Stopping the server first makes sure that every line it wrote has been read.
    server.stop().await;
    let logs = server.stderr_text();
    let debug_lines = server
        .log_events()
        .into_iter()
        .filter(|event| event["level"] == "DEBUG")
        .count();
    assert!(
        debug_lines > 0,
        "no debug lines, so the check below proves little:\n{logs}"
    );
    // Lower case catches the upper-case copies too, since keys are lower-case hexadecimal.
    let lowered = logs.to_lowercase();
    for key in &keys {
        assert!(
            !lowered.contains(key.as_str()),
            "key {key} is in the logs:\n{logs}"
        );
    }
    assert!(
        !logs.contains(PASSWORD),
        "the Redis password is in the logs:\n{logs}"
    );

    let starting = server.logs_starting_with("starting token authority");
    let expected_url = format!("redis://***@127.0.0.1:{}", redis.port());
    assert_eq!(starting[0]["redis_url"], expected_url.as_str());
}

#[tokio::test]
async fn wrong_password_stays_out_of_logs() {
    let redis = RedisServer::start().await;
    require_password(&redis).await;
    let urls = [
        format!("redis://:wrong-pass-1@127.0.0.1:{}", redis.port()),
        format!("redis://default:wrong-pass-2@127.0.0.1:{}/0", redis.port()),
    ];

    for url in urls {
        let mut server = start(&["--redis-url", &url, "--log-level", "debug"]).await;
        server
            .wait_for_log("token store not ready", READINESS_CHANGE)
            .await;
        let status = server
            .authority()
            .authorize(post_server_item("0123456789abcdef0123456789abcdef"))
            .await
            .expect_err("Authorize succeeded with a wrong Redis password");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");

        server.stop().await;
        let logs = server.stderr_text();
        assert!(
            !logs.contains("wrong-pass"),
            "the Redis password is in the logs:\n{logs}"
        );
        assert!(!status.message().contains("wrong-pass"), "{status:?}");
        assert_not_ready_reason_logged(&server);
    }
}

/// Checks that the readiness failure carries its error, so that hiding the password did not
/// hide the cause.
fn assert_not_ready_reason_logged(server: &ServerProcess) {
    let not_ready = server.logs_starting_with("token store not ready");
    assert_eq!(not_ready.len(), 1, "logs:\n{}", server.stderr_text());
    let error = not_ready[0]["error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "no error field: {}", not_ready[0]);
}

/// Sets a password on the private Redis, so that connecting requires one.
async fn require_password(redis: &RedisServer) {
    let client = redis::Client::open(redis.url()).expect("invalid Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("failed to connect to the private Redis");
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(PASSWORD)
        .query_async(&mut connection)
        .await
        .expect("CONFIG SET requirepass failed");
}

/// Issues keys through every operation that returns one (creating a project, creating a token,
/// and regenerating a token, a project and an account) and returns them all, old and new.
async fn issue_keys_every_way(client: &mut TokenAuthorityClient<Channel>) -> Vec<String> {
    let mut issued = create_project(client, "acct-1", "proj-1").await;

    let operation = Operation::CreateToken(CreateTokenOperation {
        project_id: "proj-1".to_owned(),
        name: "deploys".to_owned(),
        scopes: vec![Scope::PostServerItem as i32, Scope::Read as i32],
        ..CreateTokenOperation::default()
    });
    let created = match manage(client, operation).await {
        ManageResult::CreateToken(result) => result.token.expect("create_token returned no token"),
        other => panic!("create_token returned {other:?}"),
    };
    issued.push(created);

    let first = token_ref(&issued[0]);
    let response = regenerate(client, Target::Token(first.clone())).await;
    issued.extend(response.tokens);

    manage(
        client,
        Operation::ExpireToken(ExpireTokenOperation { token: Some(first) }),
    )
    .await;
    let response = regenerate(client, Target::ProjectId("proj-1".to_owned())).await;
    assert_eq!(response.tokens.len(), 1, "{response:?}");
    issued.extend(response.tokens);

    let second = token_ref(&issued[1]);
    manage(
        client,
        Operation::ExpireToken(ExpireTokenOperation {
            token: Some(second),
        }),
    )
    .await;
    let response = regenerate(client, Target::AccountId("acct-1".to_owned())).await;
    assert_eq!(response.tokens.len(), 1, "{response:?}");
    let new_key = &response.tokens[0].access_token;
    assert!(
        response.csv.contains(new_key.as_str()),
        "the CSV lacks the new key: {}",
        response.csv
    );
    issued.extend(response.tokens);

    let keys: Vec<String> = issued.into_iter().map(|token| token.access_token).collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    for key in &keys {
        let hexadecimal = key
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        assert!(
            key.len() == 32 && hexadecimal,
            "not a 32-character lower-case hex key: {key:?}"
        );
    }
    keys
}

/// Returns the project and token id of an issued token.
fn token_ref(issued: &IssuedToken) -> TokenRef {
    let token = issued
        .token
        .as_ref()
        .expect("issued token without its settings");
    TokenRef {
        project_id: token.project_id.clone(),
        token_id: token.token_id.clone(),
    }
}

/// Runs one management operation and returns its result.
async fn manage(client: &mut TokenAuthorityClient<Channel>, operation: Operation) -> ManageResult {
    let request = ManageRequest {
        operation: Some(operation),
    };
    let response = client
        .manage(request)
        .await
        .expect("Manage failed")
        .into_inner();
    response.result.expect("Manage returned no result")
}

/// Regenerates `target` and returns the reply.
async fn regenerate(
    client: &mut TokenAuthorityClient<Channel>,
    target: Target,
) -> RegenerateResponse {
    let request = RegenerateRequest {
        target: Some(target),
    };
    client
        .regenerate(request)
        .await
        .expect("Regenerate failed")
        .into_inner()
}
