//! The binary on a private `redis-server`: two processes sharing one budget, and what clients and
//! probes see while Redis is down or hangs.

use std::time::Duration;

use futures::future::join_all;
use tokio::time::Instant;
use tonic::{Code, Request, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

use token_authority::{
    proto::v1::{DenialReason, Scope, token_authority_client::TokenAuthorityClient},
    testing::RedisServer,
};

use super::{
    allowed, create_project, key_with_scope, post_server_item,
    process::{READINESS, READINESS_CHANGE, ServerProcess, health_status, start, wait_for_health},
};

/// The deadline a frontend would set on Authorize.
const CALL_DEADLINE: Duration = Duration::from_millis(800);

#[tokio::test]
async fn two_processes_share_limit() {
    const LIMIT: usize = 30;
    const CALLS: usize = 120;

    let redis = RedisServer::start().await;
    let limit = LIMIT.to_string();
    let args = ["--redis-url", &redis.url(), "--system-limit", &limit];
    let first = start(&args).await;
    let second = start(&args).await;
    for server in [&first, &second] {
        server.assert_ready(READINESS_CHANGE).await;
    }

    let first_client = first.authority();
    let second_client = second.authority();
    let tokens = create_project(&mut first_client.clone(), "acct-1", "proj-1").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    let calls = (0..CALLS).map(|index| {
        let mut client = if index % 2 == 0 {
            first_client.clone()
        } else {
            second_client.clone()
        };
        let request = post_server_item(&key);
        async move { client.authorize(request).await }
    });
    let responses: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|result| result.expect("Authorize failed").into_inner())
        .collect();

    let allowed_count = responses
        .iter()
        .filter(|response| allowed(response))
        .count();
    let limited_count = responses
        .iter()
        .filter(|response| response.denial_reason == DenialReason::RateLimited as i32)
        .count();
    let first_denials = responses
        .iter()
        .filter(|response| response.first_denial_in_window)
        .count();
    assert_eq!(allowed_count, LIMIT);
    assert_eq!(limited_count, CALLS - LIMIT);
    assert_eq!(first_denials, 1);
}

#[tokio::test]
async fn paused_redis_unavailable_then_recovers() {
    let redis = RedisServer::start().await;
    let mut server = start(&["--redis-url", &redis.url(), "--redis-timeout-ms", "200"]).await;
    let mut health = server.health();
    let mut client = server.authority();
    server.assert_ready(READINESS_CHANGE).await;
    let tokens = create_project(&mut client, "acct-1", "proj-1").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    // A paused Redis keeps its connections open and never replies, so only timeouts end calls.
    redis.pause();
    assert_unavailable_within_deadline(&mut client, &key).await;
    let down = wait_for_health(
        &mut health,
        READINESS,
        ServingStatus::NotServing,
        READINESS_CHANGE,
    )
    .await;
    assert!(
        down,
        "readiness stayed SERVING with Redis paused; logs:\n{}",
        server.stderr_text()
    );
    keep_calling_through_one_readiness_interval(&server, &mut client, &key).await;
    assert_eq!(
        health_status(&mut health, "").await.unwrap(),
        ServingStatus::Serving
    );
    assert_logged_once(&server, "token store not ready");

    redis.resume();
    let back = wait_for_health(
        &mut health,
        READINESS,
        ServingStatus::Serving,
        READINESS_CHANGE,
    )
    .await;
    assert!(
        back,
        "readiness did not return to SERVING; logs:\n{}",
        server.stderr_text()
    );
    let response = client
        .authorize(post_server_item(&key))
        .await
        .unwrap()
        .into_inner();
    assert!(allowed(&response), "{response:?}");

    server.stop().await;
    assert_eq!(server.logs_starting_with("token store ready").len(), 2);
    assert_logged_once(&server, "token store not ready");
}

// NOTE: `RedisServer` cannot start a server on a given port. This test therefore does not restart
// Redis where the killed one listened. The paused-Redis test covers readiness returning to SERVING.
#[tokio::test]
async fn killed_redis_reports_unavailable() {
    let redis = RedisServer::start().await;
    let mut server = start(&["--redis-url", &redis.url(), "--redis-timeout-ms", "200"]).await;
    let mut health = server.health();
    let mut client = server.authority();
    server.assert_ready(READINESS_CHANGE).await;
    let tokens = create_project(&mut client, "acct-1", "proj-1").await;
    let key = key_with_scope(&tokens, Scope::PostServerItem);

    // Dropping the fixture kills redis-server, so connections are refused from now on.
    drop(redis);
    assert_unavailable_within_deadline(&mut client, &key).await;
    let down = wait_for_health(
        &mut health,
        READINESS,
        ServingStatus::NotServing,
        READINESS_CHANGE,
    )
    .await;
    assert!(
        down,
        "readiness stayed SERVING with Redis gone; logs:\n{}",
        server.stderr_text()
    );
    keep_calling_through_one_readiness_interval(&server, &mut client, &key).await;
    assert_eq!(
        health_status(&mut health, "").await.unwrap(),
        ServingStatus::Serving
    );
    server.stop().await;
    assert_logged_once(&server, "token store not ready");
}

/// Sends a few Authorize calls with [`CALL_DEADLINE`] and checks that each fails with
/// UNAVAILABLE before the deadline, rather than UNKNOWN or the client's own timeout.
async fn assert_unavailable_within_deadline(client: &mut TokenAuthorityClient<Channel>, key: &str) {
    for _ in 0..3 {
        let mut request = Request::new(post_server_item(key));
        request.set_timeout(CALL_DEADLINE);
        let started = Instant::now();
        let status = client
            .authorize(request)
            .await
            .expect_err("Authorize succeeded without Redis");
        let elapsed = started.elapsed();

        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            elapsed < CALL_DEADLINE,
            "UNAVAILABLE came after {elapsed:?}"
        );
    }
}

/// Keeps sending Authorize calls and readiness checks for longer than one readiness interval, so
/// that the server checks the store at least once more while it is still down.
async fn keep_calling_through_one_readiness_interval(
    server: &ServerProcess,
    client: &mut TokenAuthorityClient<Channel>,
    key: &str,
) {
    let mut health = server.health();
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        let mut request = Request::new(post_server_item(key));
        request.set_timeout(CALL_DEADLINE);
        let status = client
            .authorize(request)
            .await
            .expect_err("Authorize succeeded without Redis");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let readiness = health_status(&mut health, READINESS).await.unwrap();
        assert_eq!(readiness, ServingStatus::NotServing);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that exactly one log event's message starts with `prefix`.
fn assert_logged_once(server: &ServerProcess, prefix: &str) {
    let events = server.logs_starting_with(prefix);
    assert_eq!(
        events.len(),
        1,
        "{prefix:?} logged {} times; logs:\n{}",
        events.len(),
        server.stderr_text()
    );
}
