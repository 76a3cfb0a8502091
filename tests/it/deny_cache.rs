//! The deny cache through the gRPC API: denials returned from memory while Redis is paused,
//! with figures that follow the clock, dropped when the token changes through the same server,
//! ended by the window's reset, and off when its maximum staleness is 0.

use std::time::Duration;

use token_authority::{
    deny_cache::DenyCacheConfig,
    domain::SystemLimit,
    proto::v1::{self as pb, DenialReason, regenerate_request::Target},
};
use tonic::{Code, Request};

use crate::support::{Backend, Harness, assert_allowed, assert_denied, system_limit, token_of};

/// A staleness long enough that no test ends an entry by it, so what ends one is the behaviour
/// under test.
const LONG_STALENESS: Duration = Duration::from_secs(60);

/// The deadline of calls made while Redis is paused: a call that reaches the store then fails
/// with UNAVAILABLE instead of waiting for the store's 5 s command timeout.
const PAUSED_DEADLINE: Duration = Duration::from_millis(300);

async fn start(backend: Backend, system: SystemLimit, max_staleness: Duration) -> Harness {
    let config = DenyCacheConfig {
        max_staleness,
        ..DenyCacheConfig::default()
    };
    Harness::start_with(backend, system, config).await
}

/// Calls Authorize to read with `key` under a short deadline, for calls made while Redis is
/// paused.
async fn read_within_deadline(
    h: &Harness,
    key: &str,
) -> Result<pb::AuthorizeResponse, tonic::Status> {
    let mut request = Request::new(pb::AuthorizeRequest {
        access_token: key.to_owned(),
        action: pb::Action::Read as i32,
        ..Default::default()
    });
    request.set_timeout(PAUSED_DEADLINE);
    h.client()
        .authorize(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Spends a read token's limit of `limit` and returns the key, after checking that the next
/// call is the window's first denial.
async fn spend_limit(h: &Harness, limit: u64) -> String {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read").to_owned();
    for _ in 0..limit {
        assert_allowed(&h.read(&key).await);
    }
    let first = h.read(&key).await;
    assert_denied(&first, DenialReason::RateLimited, 429);
    assert!(first.first_denial_in_window);
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_denial_while_redis_paused() {
    let h = start(Backend::Redis, system_limit(2, 60), LONG_STALENESS).await;
    let key = spend_limit(&h, 2).await;
    let redis = h.redis_server().expect("the Redis harness has a server");

    redis.pause();
    let first = read_within_deadline(&h, &key).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = read_within_deadline(&h, &key).await;
    redis.resume();

    let (first, second) = (
        first.expect("a cached denial needs no Redis"),
        second.expect("a cached denial needs no Redis"),
    );
    for response in [&first, &second] {
        assert_denied(response, DenialReason::RateLimited, 429);
        assert!(!response.first_denial_in_window, "{response:?}");
        assert_eq!(response.token_name, "read");
        assert_eq!(response.project_id, "proj");
        let figures = response.rate_limit.expect("a denial carries its figures");
        assert_eq!(figures.limit, 2);
        assert_eq!(figures.remaining, 0);
        assert_eq!(figures.window_seconds, 60);
    }
    let (before, after) = (first.rate_limit.unwrap(), second.rate_limit.unwrap());
    assert!(
        after.retry_after_seconds < before.retry_after_seconds,
        "retry-after falls with time: {before:?} then {after:?}"
    );
    assert_eq!(after.reset, before.reset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_staleness_asks_redis() {
    let h = start(Backend::Redis, system_limit(2, 60), Duration::ZERO).await;
    let key = spend_limit(&h, 2).await;
    let redis = h.redis_server().expect("the Redis harness has a server");

    redis.pause();
    let result = read_within_deadline(&h, &key).await;
    redis.resume();
    let status = result.expect_err("with the cache off, the call waits for the paused Redis");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    let denied = h.read(&key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);
}

/// Runs `body` against both stores.
macro_rules! both_stores {
    ($name:ident, |$harness:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run($harness: Harness) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                run(start(Backend::Memory, system_limit(1000, 60), LONG_STALENESS).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                run(start(Backend::Redis, system_limit(1000, 60), LONG_STALENESS).await).await;
            }
        }
    };
}

/// Creates a read token with a user-defined limit of one request per minute on a paid
/// account, spends it, and checks that the next call is denied.
async fn limited_and_denied(h: &Harness) -> (pb::Token, String) {
    let issued = h.limited_token(1, 60).await;
    let key = issued.access_token.clone();
    assert_allowed(&h.read(&key).await);
    for _ in 0..2 {
        assert_denied(&h.read(&key).await, DenialReason::RateLimited, 429);
    }
    (token_of(&issued).clone(), key)
}

both_stores!(update_drops_entry, |h| {
    let (token, key) = limited_and_denied(&h).await;
    h.set_user_limit(&token, 5, 60)
        .await
        .expect("raising the limit succeeds");
    assert_allowed(&h.read(&key).await);
});

both_stores!(disable_drops_entry, |h| {
    let (token, key) = limited_and_denied(&h).await;
    h.set_status(&token, pb::TokenStatus::Disabled)
        .await
        .expect("disabling succeeds");
    assert_denied(&h.read(&key).await, DenialReason::Disabled, 403);
});

both_stores!(plan_change_drops_entry, |h| {
    let (_, key) = limited_and_denied(&h).await;
    // On the free plan the user-defined limit is no longer enforced.
    h.set_plan("acct", pb::AccountPlan::Free).await;
    assert_allowed(&h.read(&key).await);
});

both_stores!(regenerate_drops_entry, |h| {
    let (token, key) = limited_and_denied(&h).await;
    let regenerated = h
        .regenerate(Target::Token(crate::support::reference(&token)))
        .await
        .expect("regenerating succeeds");
    assert_denied(&h.read(&key).await, DenialReason::UnknownToken, 403);
    let new_key = &regenerated.tokens[0].access_token;
    assert_allowed(&h.read(new_key).await);
});

both_stores!(delete_drops_entry, |h| {
    let (token, key) = limited_and_denied(&h).await;
    h.delete_token(&token).await.expect("deleting succeeds");
    assert_denied(&h.read(&key).await, DenialReason::UnknownToken, 403);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_ends_at_window_reset() {
    let h = start(Backend::Redis, system_limit(1, 1), LONG_STALENESS).await;
    let key = spend_limit(&h, 1).await;
    let denied = h.read(&key).await;
    assert_denied(&denied, DenialReason::RateLimited, 429);

    // The 1 s window started at the allowed call, so it has reset 1 s after it at the latest.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_allowed(&h.read(&key).await);
}
