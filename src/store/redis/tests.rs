//! Tests of the Redis store and its scripts against private `redis-server` processes.

use std::{future::Future, time::Duration};

use redis::aio::MultiplexedConnection;

use super::{
    RedisConfig, RedisStore,
    keys::{ProjectKeys, TokenKeys},
    scripts, tokens,
};
use crate::{
    domain::{
        AccessKey, Denial, KeyHash, Plan, ProjectRecord, RateMode, Scope, ScopeSet, SystemLimit,
        TokenPatch, TokenRecord, TokenStatus, UserLimit, limits::LimitKind, now_ms,
        token::generate_token_id,
    },
    store::{
        AuthorizeOutcome, AuthorizeQuery, ListQuery, NewKey, NewToken, Store, StoreError,
        TokenLocator, memory::MemoryStore,
    },
    testing::{RedisCluster, RedisServer},
};

/// How long any one test may run before it fails instead of hanging.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The command timeout of the stores under test.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

const ACCOUNT: &str = "acme";
const PROJECT: &str = "shop";

/// Runs a test body, failing it when it takes longer than [`TEST_TIMEOUT`].
async fn bounded<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test timed out")
}

fn store_for(url: String, cluster: bool) -> RedisStore {
    RedisStore::new(&RedisConfig {
        url,
        cluster,
        pool_size: 8,
        command_timeout: COMMAND_TIMEOUT,
    })
    .expect("valid config")
}

async fn raw_connection(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn system(count: u64) -> SystemLimit {
    SystemLimit {
        count,
        window_seconds: 60,
    }
}

/// A token to create, with its key.
struct Issued {
    key: AccessKey,
    token: NewToken,
}

impl Issued {
    fn hash(&self) -> KeyHash {
        self.key.hash()
    }

    fn id(&self) -> &str {
        &self.token.record.token_id
    }
}

fn issue(
    project_id: &str,
    created_at_ms: i64,
    scopes: &[Scope],
    user_limit: Option<UserLimit>,
) -> Issued {
    let key = AccessKey::generate().unwrap();
    let record = TokenRecord {
        token_id: generate_token_id(created_at_ms).unwrap(),
        project_id: project_id.to_owned(),
        name: format!("token {created_at_ms}"),
        scopes: scopes.iter().copied().collect(),
        status: TokenStatus::Enabled,
        user_limit,
        expires_at_ms: None,
        created_at_ms,
        modified_at_ms: created_at_ms,
        key_hint: key.hint(),
    };
    let token = NewToken {
        record,
        key_hash: key.hash(),
    };
    Issued { key, token }
}

fn project(project_id: &str) -> ProjectRecord {
    ProjectRecord {
        project_id: project_id.to_owned(),
        account_id: ACCOUNT.to_owned(),
        name: "Shop".to_owned(),
        created_at_ms: now_ms(),
    }
}

/// Creates the project with one token per scope, returned in scope order.
async fn create_project_with_defaults(store: &RedisStore, project_id: &str) -> Vec<Issued> {
    let now = now_ms();
    let issued: Vec<Issued> = Scope::ALL
        .iter()
        .enumerate()
        .map(|(index, scope)| issue(project_id, now + index as i64, &[*scope], None))
        .collect();
    let tokens: Vec<NewToken> = issued.iter().map(|issued| issued.token.clone()).collect();
    store
        .create_project(&project(project_id), &tokens)
        .await
        .unwrap();
    issued
}

/// Creates a token in an existing project.
async fn create_token(
    store: &RedisStore,
    scopes: &[Scope],
    user_limit: Option<UserLimit>,
) -> Issued {
    let issued = issue(PROJECT, now_ms(), scopes, user_limit);
    store.create_token(&issued.token).await.unwrap();
    issued
}

async fn authorize(
    store: &RedisStore,
    key: &AccessKey,
    scope: Scope,
    limit: SystemLimit,
) -> AuthorizeOutcome {
    store
        .authorize(AuthorizeQuery {
            key_hash: key.hash(),
            required_scope: scope,
            project_id: Some(PROJECT),
            cost: 1,
            system: limit,
        })
        .await
        .unwrap()
}

/// Returns the counts of the token's open windows: system, then user (0 when none is open).
async fn counts(store: &RedisStore, key: &AccessKey, limit: SystemLimit) -> Vec<u64> {
    let report = store
        .rate_limit(TokenLocator::Key(key.hash()), 1, RateMode::Report, limit)
        .await
        .unwrap();
    report
        .outcome
        .windows
        .iter()
        .map(|view| view.count())
        .collect()
}

async fn keys_in(connection: &mut MultiplexedConnection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(connection)
        .await
        .unwrap();
    keys.sort();
    keys
}

/// Lists the ids of every token of the project.
async fn all_ids(store: &RedisStore) -> Vec<String> {
    let page = store
        .list_tokens(ListQuery {
            project_id: PROJECT,
            status: None,
            after: None,
            limit: 100,
            now_ms: now_ms(),
        })
        .await
        .unwrap();
    page.tokens
        .into_iter()
        .map(|token| token.token_id)
        .collect()
}

#[tokio::test]
async fn authorize_allows_enabled_token() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        store.load_scripts().await.unwrap();
        let issued = create_project_with_defaults(&store, PROJECT).await;

        let outcome = authorize(&store, &issued[0].key, Scope::PostServerItem, system(10)).await;

        assert_eq!(outcome.denial, None);
        let token = outcome.token.unwrap();
        assert_eq!(token.token_id, issued[0].id());
        assert_eq!(token.project_id, PROJECT);
        assert_eq!(token.name, issued[0].token.record.name);
        assert_eq!(token.scopes, ScopeSet::from_iter([Scope::PostServerItem]));
        let rate = outcome.rate.unwrap();
        assert!(rate.allowed);
        assert!(rate.consumed);
        assert!(!rate.first_denial);
        assert_eq!(rate.windows.len(), 1);
        assert_eq!(rate.windows[0].count(), 1);
        assert_eq!(rate.windows[0].window.unwrap().start_ms, rate.now_ms);
        let headers = rate.headers(1).unwrap();
        assert_eq!(headers.limit, 10);
        assert_eq!(headers.remaining, 9);
        assert_eq!(headers.remaining_seconds, 60);
    })
    .await;
}

#[tokio::test]
async fn authorize_denials_in_check_order() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let limit = system(10);

        let unknown = AccessKey::generate().unwrap();
        let outcome = authorize(&store, &unknown, Scope::Read, limit).await;
        assert_eq!(outcome.denial, Some(Denial::UnknownToken));
        assert_eq!(outcome.token, None);
        assert_eq!(outcome.rate, None);

        let outcome = authorize(&store, &issued[0].key, Scope::PostClientItem, limit).await;
        assert_eq!(
            outcome.denial,
            Some(Denial::InsufficientScope {
                required: Scope::PostClientItem,
                held: ScopeSet::from_iter([Scope::PostServerItem]),
            })
        );
        assert_eq!(outcome.rate, None);

        let outcome = store
            .authorize(AuthorizeQuery {
                key_hash: issued[0].hash(),
                required_scope: Scope::PostServerItem,
                project_id: Some("other"),
                cost: 1,
                system: limit,
            })
            .await
            .unwrap();
        assert_eq!(outcome.denial, Some(Denial::WrongProject));
        let any_project = store
            .authorize(AuthorizeQuery {
                key_hash: issued[0].hash(),
                required_scope: Scope::PostServerItem,
                project_id: None,
                cost: 1,
                system: limit,
            })
            .await
            .unwrap();
        assert_eq!(any_project.denial, None);

        let disable = TokenPatch {
            status: Some(TokenStatus::Disabled),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, issued[1].id(), &disable, now_ms())
            .await
            .unwrap();
        let outcome = authorize(&store, &issued[1].key, Scope::Write, limit).await;
        assert_eq!(
            outcome.denial,
            Some(Denial::Disabled),
            "status comes before scope"
        );

        store
            .expire_token(PROJECT, issued[2].id(), now_ms())
            .await
            .unwrap();
        let outcome = authorize(&store, &issued[2].key, Scope::Read, limit).await;
        assert_eq!(outcome.denial, Some(Denial::Expired));

        let past = TokenPatch {
            expires_at_ms: Some(Some(now_ms() - 1)),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, issued[3].id(), &past, now_ms())
            .await
            .unwrap();
        let outcome = authorize(&store, &issued[3].key, Scope::Write, limit).await;
        assert_eq!(
            outcome.denial,
            Some(Denial::Expired),
            "expires_at_ms has passed"
        );

        // Only the allowed request was counted.
        assert_eq!(counts(&store, &issued[0].key, limit).await, [1]);
        for denied in &issued[1..] {
            assert_eq!(counts(&store, &denied.key, limit).await, [0]);
        }
    })
    .await;
}

#[tokio::test]
async fn system_limit_admits_exactly_n() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let limit = system(5);

        for request in 1..=5 {
            let outcome = authorize(&store, &issued[2].key, Scope::Read, limit).await;
            assert_eq!(outcome.denial, None, "request {request}");
        }
        let sixth = authorize(&store, &issued[2].key, Scope::Read, limit).await;
        assert_eq!(sixth.denial, Some(Denial::RateLimited));
        let rate = sixth.rate.unwrap();
        assert!(!rate.allowed);
        assert!(!rate.consumed);
        assert!(rate.first_denial);
        assert_eq!(rate.headers(1).unwrap().remaining, 0);
        assert!(rate.headers(1).unwrap().retry_after_seconds >= 1);

        let seventh = authorize(&store, &issued[2].key, Scope::Read, limit).await;
        assert_eq!(seventh.denial, Some(Denial::RateLimited));
        assert!(
            !seventh.rate.unwrap().first_denial,
            "only the first denial is flagged"
        );
        assert_eq!(counts(&store, &issued[2].key, limit).await, [5]);

        // A cost that does not fit is denied whole, even when part of it would.
        let other = &issued[3].key;
        let outcome = store
            .authorize(AuthorizeQuery {
                key_hash: other.hash(),
                required_scope: Scope::Write,
                project_id: None,
                cost: 6,
                system: limit,
            })
            .await
            .unwrap();
        assert_eq!(outcome.denial, Some(Denial::RateLimited));
        assert_eq!(counts(&store, other, limit).await, [0]);
    })
    .await;
}

#[tokio::test]
async fn user_limit_enforced_only_when_paid() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        create_project_with_defaults(&store, PROJECT).await;
        let user = UserLimit {
            count: 2,
            window_seconds: 300,
        };
        let issued = create_token(&store, &[Scope::Read], Some(user)).await;
        let limit = system(100);

        // Free plan: the user limit is reported but neither denies nor counts.
        for _ in 0..3 {
            let outcome = authorize(&store, &issued.key, Scope::Read, limit).await;
            assert_eq!(outcome.denial, None);
            let rate = outcome.rate.unwrap();
            assert_eq!(rate.windows.len(), 2);
            assert_eq!(rate.windows[1].limit.kind, LimitKind::User);
            assert!(!rate.windows[1].limit.enforced);
            assert_eq!(rate.windows[1].window, None);
        }

        store.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        assert_eq!(store.account_plan(ACCOUNT).await.unwrap(), Plan::Paid);
        for _ in 0..2 {
            assert_eq!(
                authorize(&store, &issued.key, Scope::Read, limit)
                    .await
                    .denial,
                None
            );
        }
        let denied = authorize(&store, &issued.key, Scope::Read, limit).await;
        assert_eq!(denied.denial, Some(Denial::RateLimited));
        let headers = denied.rate.unwrap().headers(1).unwrap();
        assert_eq!(headers.kind, LimitKind::User);
        assert_eq!(headers.limit, 2);

        // Denied by the user limit: the system window did not count it.
        assert_eq!(counts(&store, &issued.key, limit).await, [5, 2]);

        // Back on the free plan, the user limit stops applying at once.
        store.set_account_plan(ACCOUNT, Plan::Free).await.unwrap();
        assert_eq!(
            authorize(&store, &issued.key, Scope::Read, limit)
                .await
                .denial,
            None
        );
    })
    .await;
}

#[tokio::test]
async fn system_denial_counts_against_neither() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        create_project_with_defaults(&store, PROJECT).await;
        store.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        let user = UserLimit {
            count: 10,
            window_seconds: 60,
        };
        let issued = create_token(&store, &[Scope::Read], Some(user)).await;
        let limit = system(3);

        for _ in 0..3 {
            assert_eq!(
                authorize(&store, &issued.key, Scope::Read, limit)
                    .await
                    .denial,
                None
            );
        }
        let denied = authorize(&store, &issued.key, Scope::Read, limit).await;
        assert_eq!(denied.denial, Some(Denial::RateLimited));
        let rate = denied.rate.unwrap();
        assert!(rate.first_denial);
        assert_eq!(rate.headers(1).unwrap().kind, LimitKind::System);
        assert_eq!(counts(&store, &issued.key, limit).await, [3, 3]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_denial_flagged_once_under_concurrency() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let limit = system(10);
        let hash = issued[2].hash();

        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .authorize(AuthorizeQuery {
                            key_hash: hash,
                            required_scope: Scope::Read,
                            project_id: None,
                            cost: 1,
                            system: limit,
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut allowed = 0;
        let mut first_denials = 0;
        for task in tasks {
            let outcome = task.await.unwrap();
            allowed += usize::from(outcome.denial.is_none());
            first_denials += usize::from(outcome.rate.unwrap().first_denial);
        }

        assert_eq!(allowed, 10);
        assert_eq!(first_denials, 1);
        assert_eq!(counts(&store, &issued[2].key, limit).await, [10]);
    })
    .await;
}

#[tokio::test]
async fn limit_change_keeps_window() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        create_project_with_defaults(&store, PROJECT).await;
        store.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        let user = UserLimit {
            count: 5,
            window_seconds: 60,
        };
        let issued = create_token(&store, &[Scope::Read], Some(user)).await;
        let limit = system(1_000);
        let window_key = TokenKeys::new(issued.hash()).user_window;

        for _ in 0..3 {
            assert_eq!(
                authorize(&store, &issued.key, Scope::Read, limit)
                    .await
                    .denial,
                None
            );
        }
        let started = authorize(&store, &issued.key, Scope::Read, limit)
            .await
            .rate
            .unwrap()
            .windows[1]
            .window
            .unwrap()
            .start_ms;

        // Lowered below the count: denied at once, and the window keeps its start.
        let lower = TokenPatch {
            user_limit: Some(Some(UserLimit {
                count: 2,
                window_seconds: 60,
            })),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, issued.id(), &lower, now_ms())
            .await
            .unwrap();
        let denied = authorize(&store, &issued.key, Scope::Read, limit).await;
        assert_eq!(denied.denial, Some(Denial::RateLimited));
        let window = denied.rate.unwrap().windows[1].window.unwrap();
        assert_eq!(window.start_ms, started);
        assert_eq!(window.count, 4);

        // Raised with a longer window: allowed, same start, and the key now lives as long as
        // the new window even before the next write.
        let raise = TokenPatch {
            user_limit: Some(Some(UserLimit {
                count: 10,
                window_seconds: 3_600,
            })),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, issued.id(), &raise, now_ms())
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&window_key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 60_000, "PTTL {ttl}");
        assert!(ttl <= 3_600_000, "PTTL {ttl}");
        let allowed = authorize(&store, &issued.key, Scope::Read, limit).await;
        assert_eq!(allowed.denial, None);
        let window = allowed.rate.unwrap().windows[1].window.unwrap();
        assert_eq!(window.start_ms, started);
        assert_eq!(window.count, 5);
    })
    .await;
}

#[tokio::test]
async fn windows_expire_on_their_own() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;

        authorize(&store, &issued[2].key, Scope::Read, system(10)).await;

        let keys = TokenKeys::new(issued[2].hash());
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&keys.system_window)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 0, "PTTL {ttl}");
        assert!(ttl <= 60_000, "PTTL {ttl}");
        let record_ttl: i64 = redis::cmd("PTTL")
            .arg(&keys.record)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(record_ttl, -1, "the record itself never expires");
    })
    .await;
}

#[tokio::test]
async fn scripts_reload_after_flush() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;
        assert_eq!(
            authorize(&store, &issued[2].key, Scope::Read, system(10))
                .await
                .denial,
            None
        );

        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut connection)
            .await
            .unwrap();
        let loaded: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(scripts::AUTHORIZE.get_hash())
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(loaded, [false]);

        let outcome = authorize(&store, &issued[2].key, Scope::Read, system(10)).await;
        assert_eq!(outcome.denial, None);
        assert_eq!(outcome.rate.unwrap().windows[0].count(), 2);

        store.check_ready().await.unwrap();
        let hashes: Vec<&str> = scripts::ALL
            .iter()
            .map(|script| script.get_hash())
            .collect();
        let loaded: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&hashes)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(loaded.iter().all(|loaded| *loaded), "{loaded:?}");
    })
    .await;
}

#[tokio::test]
async fn scripts_reject_wrong_argument_counts() {
    bounded(async {
        let server = RedisServer::start().await;
        let mut connection = raw_connection(&server).await;
        for script in scripts::ALL {
            let error = script
                .prepare_invoke()
                .invoke_async::<redis::Value>(&mut connection)
                .await
                .unwrap_err();
            assert!(error.to_string().contains("expects"), "{error}");
        }
    })
    .await;
}

#[tokio::test]
async fn rate_limit_modes() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let limit = system(3);
        let by_id = TokenLocator::Id {
            project_id: PROJECT,
            token_id: issued[2].id(),
        };

        let report = store
            .rate_limit(by_id, 1, RateMode::Report, limit)
            .await
            .unwrap();
        assert_eq!(report.token.token_id, issued[2].id());
        assert_eq!(report.status, TokenStatus::Enabled);
        assert!(report.outcome.allowed);
        assert_eq!(report.outcome.windows[0].window, None);

        let dry = store
            .rate_limit(by_id, 4, RateMode::DryRun, limit)
            .await
            .unwrap();
        assert!(!dry.outcome.allowed);
        assert!(!dry.outcome.consumed);
        assert!(!dry.outcome.first_denial);

        let consumed = store
            .rate_limit(by_id, 2, RateMode::Consume, limit)
            .await
            .unwrap();
        assert!(consumed.outcome.consumed);
        assert_eq!(counts(&store, &issued[2].key, limit).await, [2]);

        // A disabled token is reported, but nothing is counted against it.
        let disable = TokenPatch {
            status: Some(TokenStatus::Disabled),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, issued[2].id(), &disable, now_ms())
            .await
            .unwrap();
        let report = store
            .rate_limit(by_id, 1, RateMode::Consume, limit)
            .await
            .unwrap();
        assert_eq!(report.status, TokenStatus::Disabled);
        assert!(!report.outcome.consumed);
        assert_eq!(counts(&store, &issued[2].key, limit).await, [2]);

        let missing = TokenLocator::Id {
            project_id: PROJECT,
            token_id: "tok_missing",
        };
        let error = store
            .rate_limit(missing, 1, RateMode::Report, limit)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::NotFound { kind: "token", .. }),
            "{error:?}"
        );
        let unknown = TokenLocator::Key(AccessKey::generate().unwrap().hash());
        let error = store
            .rate_limit(unknown, 1, RateMode::Report, limit)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::NotFound { kind: "token", .. }),
            "{error:?}"
        );
    })
    .await;
}

/// Runs the same deterministic sequence of requests through the in-memory store, which calls
/// `domain::limits::evaluate`, and the Redis store, and compares every outcome.
#[tokio::test]
async fn lua_matches_domain_evaluate() {
    bounded(async {
        let server = RedisServer::start().await;
        let redis_store = store_for(server.url(), false);
        let memory_store = MemoryStore::new();
        let user = UserLimit {
            count: 7,
            window_seconds: 300,
        };
        let issued = issue(PROJECT, now_ms(), &[Scope::Read], Some(user));
        for store in [&redis_store as &dyn StoreProbe, &memory_store] {
            store.setup(&issued.token).await;
        }
        let limit = system(12);

        // A small linear congruential generator keeps the sequence the same on every run.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let (mut denials, mut first_denials) = (0, 0);
        for step in 0..120 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let choice = (seed >> 33) % 10;
            let cost = 1 + (seed >> 40) % 3;
            let mut results = Vec::new();
            for store in [&redis_store as &dyn StoreProbe, &memory_store] {
                results.push(store.step(choice, cost, issued.hash(), limit).await);
            }
            assert_eq!(
                results[0], results[1],
                "step {step}: choice {choice}, cost {cost}"
            );
            denials += usize::from(results[0].contains("allowed false"));
            first_denials += usize::from(results[0].contains("first_denial true"));
        }
        // The sequence must reach the interesting cases to prove anything.
        assert!(denials > 10, "{denials} denials");
        assert!(first_denials >= 1, "{first_denials} first denials");
    })
    .await;
}

/// The part of a store that [`lua_matches_domain_evaluate`] drives, with boxed futures so both
/// stores fit one list.
trait StoreProbe {
    fn setup<'a>(&'a self, token: &'a NewToken)
    -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;
    fn step(
        &self,
        choice: u64,
        cost: u64,
        hash: KeyHash,
        limit: SystemLimit,
    ) -> std::pin::Pin<Box<dyn Future<Output = String> + '_>>;
}

impl<S: Store> StoreProbe for S {
    fn setup<'a>(
        &'a self,
        token: &'a NewToken,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>> {
        Box::pin(async move {
            self.create_project(&project(PROJECT), std::slice::from_ref(token))
                .await
                .unwrap();
            self.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        })
    }

    fn step(
        &self,
        choice: u64,
        cost: u64,
        hash: KeyHash,
        limit: SystemLimit,
    ) -> std::pin::Pin<Box<dyn Future<Output = String> + '_>> {
        Box::pin(async move {
            let outcome = match choice {
                // Switching plans turns the user limit's enforcement off and on.
                0 => {
                    let plan = if cost == 1 { Plan::Free } else { Plan::Paid };
                    self.set_account_plan(ACCOUNT, plan).await.unwrap();
                    return format!("plan {plan:?}");
                }
                1 => {
                    let mode = if cost == 1 {
                        RateMode::Report
                    } else {
                        RateMode::DryRun
                    };
                    self.rate_limit(TokenLocator::Key(hash), cost, mode, limit)
                        .await
                        .unwrap()
                        .outcome
                }
                _ => {
                    let query = AuthorizeQuery {
                        key_hash: hash,
                        required_scope: Scope::Read,
                        project_id: Some(PROJECT),
                        cost,
                        system: limit,
                    };
                    let outcome = self.authorize(query).await.unwrap();
                    outcome.rate.unwrap()
                }
            };
            let windows: Vec<_> = outcome
                .windows
                .iter()
                .map(|view| {
                    (
                        view.limit,
                        view.window.map(|window| (window.count, window.denied)),
                    )
                })
                .collect();
            format!(
                "allowed {} consumed {} first_denial {} windows {windows:?}",
                outcome.allowed, outcome.consumed, outcome.first_denial
            )
        })
    }
}

#[tokio::test]
async fn token_lifecycle() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let write = &issued[3];

        let record = store.get_token(PROJECT, write.id()).await.unwrap();
        assert_eq!(record, write.token.record);

        let patch = TokenPatch {
            name: Some("CI, \"deploys\"".to_owned()),
            scopes: Some([Scope::Read, Scope::Write].into_iter().collect()),
            expires_at_ms: Some(Some(now_ms() + 3_600_000)),
            ..TokenPatch::default()
        };
        let now = now_ms();
        let updated = store
            .update_token(PROJECT, write.id(), &patch, now)
            .await
            .unwrap();
        let mut expected = write.token.record.clone();
        patch.apply(&mut expected, now);
        assert_eq!(updated, expected);
        assert_eq!(
            store.get_token(PROJECT, write.id()).await.unwrap(),
            expected
        );

        let clear = TokenPatch {
            expires_at_ms: Some(None),
            ..TokenPatch::default()
        };
        let cleared = store
            .update_token(PROJECT, write.id(), &clear, now_ms())
            .await
            .unwrap();
        assert_eq!(cleared.expires_at_ms, None);

        let expired = store
            .expire_token(PROJECT, write.id(), now_ms())
            .await
            .unwrap();
        assert_eq!(expired.status, TokenStatus::Expired);
        let again = store
            .expire_token(PROJECT, write.id(), now_ms() + 5)
            .await
            .unwrap();
        assert_eq!(
            again.modified_at_ms, expired.modified_at_ms,
            "expiring twice changes nothing"
        );
        let error = store
            .update_token(PROJECT, write.id(), &clear, now_ms())
            .await
            .unwrap_err();
        match error {
            StoreError::FailedPrecondition(message) => assert_eq!(
                message,
                format!(
                    "token {} is expired; an expired token can only be regenerated or deleted",
                    write.id()
                )
            ),
            other => panic!("expected FailedPrecondition, got {other:?}"),
        }

        store.delete_token(PROJECT, write.id()).await.unwrap();
        let error = store.get_token(PROJECT, write.id()).await.unwrap_err();
        assert!(
            matches!(error, StoreError::NotFound { kind: "token", .. }),
            "{error:?}"
        );
        let error = store.delete_token(PROJECT, write.id()).await.unwrap_err();
        assert!(
            matches!(error, StoreError::NotFound { kind: "token", .. }),
            "{error:?}"
        );
        assert_eq!(
            authorize(&store, &write.key, Scope::Write, system(10))
                .await
                .denial,
            Some(Denial::UnknownToken)
        );

        let error = store.get_token("other", issued[0].id()).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotFound {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
        let orphan = issue("other", now_ms(), &[Scope::Read], None);
        let error = store.create_token(&orphan.token).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotFound {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn regenerate_replaces_key() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let read = &issued[2];
        let limit = system(10);
        authorize(&store, &read.key, Scope::Read, limit).await;

        // Not expired: left alone when only expired tokens are regenerated.
        let key = AccessKey::generate().unwrap();
        let new_key = NewKey {
            hash: key.hash(),
            hint: key.hint(),
        };
        let now = now_ms();
        assert_eq!(
            store
                .regenerate_token(PROJECT, read.id(), &new_key, now, true)
                .await
                .unwrap(),
            None
        );

        store.expire_token(PROJECT, read.id(), now).await.unwrap();
        let regenerated = store
            .regenerate_token(PROJECT, read.id(), &new_key, now + 1, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(regenerated.status, TokenStatus::Enabled);
        assert_eq!(regenerated.created_at_ms, now + 1);
        assert_eq!(regenerated.key_hint, key.hint());
        assert_eq!(regenerated.name, read.token.record.name);
        assert_eq!(regenerated.scopes, read.token.record.scopes);
        assert_eq!(
            store.get_token(PROJECT, read.id()).await.unwrap(),
            regenerated
        );

        // Twice: the second run finds nothing expired.
        let other = AccessKey::generate().unwrap();
        let other_key = NewKey {
            hash: other.hash(),
            hint: other.hint(),
        };
        assert_eq!(
            store
                .regenerate_token(PROJECT, read.id(), &other_key, now + 2, true)
                .await
                .unwrap(),
            None
        );

        assert_eq!(
            authorize(&store, &read.key, Scope::Read, limit)
                .await
                .denial,
            Some(Denial::UnknownToken)
        );
        let outcome = authorize(&store, &key, Scope::Read, limit).await;
        assert_eq!(outcome.denial, None);
        assert_eq!(
            outcome.rate.unwrap().windows[0].count(),
            1,
            "the new key starts with fresh windows"
        );
        assert_eq!(all_ids(&store).await.len(), 4);
    })
    .await;
}

#[tokio::test]
async fn list_pages_and_filters() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut issued = create_project_with_defaults(&store, PROJECT).await;
        let start = now_ms() + 10;
        for index in 0..5 {
            let token = issue(PROJECT, start + index, &[Scope::Read], None);
            store.create_token(&token.token).await.unwrap();
            issued.push(token);
        }
        let ids: Vec<String> = issued.iter().map(|issued| issued.id().to_owned()).collect();
        for expired in [1, 4, 8] {
            store
                .expire_token(PROJECT, &ids[expired], now_ms())
                .await
                .unwrap();
        }
        fn query(status: Option<TokenStatus>, after: Option<&str>, limit: usize) -> ListQuery<'_> {
            ListQuery {
                project_id: PROJECT,
                status,
                after,
                limit,
                now_ms: now_ms(),
            }
        }

        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        for page_number in 0..10 {
            let page = store
                .list_tokens(query(None, after.as_deref(), 4))
                .await
                .unwrap();
            seen.extend(page.tokens.iter().map(|token| token.token_id.clone()));
            assert!(page.tokens.len() <= 4, "page {page_number}");
            after = page.next_after;
            if after.is_none() {
                break;
            }
        }
        assert_eq!(seen, ids);

        let expired = store
            .list_tokens(query(Some(TokenStatus::Expired), None, 2))
            .await
            .unwrap();
        let expired_ids: Vec<&str> = expired
            .tokens
            .iter()
            .map(|token| token.token_id.as_str())
            .collect();
        assert_eq!(expired_ids, [ids[1].as_str(), ids[4].as_str()]);
        assert_eq!(expired.next_after.as_deref(), Some(ids[4].as_str()));
        let rest = store
            .list_tokens(query(
                Some(TokenStatus::Expired),
                expired.next_after.as_deref(),
                2,
            ))
            .await
            .unwrap();
        assert_eq!(rest.tokens.len(), 1);
        assert_eq!(rest.tokens[0].token_id, ids[8]);
        assert_eq!(rest.next_after, None);

        // The last token exactly fills the page: no more ids, so no next page.
        let last = store
            .list_tokens(query(None, Some(&ids[6]), 2))
            .await
            .unwrap();
        assert_eq!(last.tokens.len(), 2);
        assert_eq!(last.next_after, None);

        let enabled = store
            .list_tokens(query(Some(TokenStatus::Enabled), None, 100))
            .await
            .unwrap();
        assert_eq!(enabled.tokens.len(), 6);
        let error = store.list_tokens(query(None, None, 10)).await;
        assert!(error.is_ok());
        let error = store
            .list_tokens(ListQuery {
                project_id: "other",
                ..query(None, None, 10)
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotFound {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn projects_and_accounts() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        assert_eq!(store.account_plan(ACCOUNT).await.unwrap(), Plan::Free);

        let issued = create_project_with_defaults(&store, PROJECT).await;
        create_project_with_defaults(&store, "blog").await;
        assert_eq!(store.get_project(PROJECT).await.unwrap(), {
            let mut expected = project(PROJECT);
            expected.created_at_ms = store.get_project(PROJECT).await.unwrap().created_at_ms;
            expected
        });
        let error = store
            .create_project(&project(PROJECT), &[])
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::AlreadyExists {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
        let listed: Vec<String> = store
            .account_projects(ACCOUNT)
            .await
            .unwrap()
            .into_iter()
            .map(|project| project.project_id)
            .collect();
        assert_eq!(listed, ["blog", "shop"]);

        // New tokens take the account's current plan.
        store.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        let user = UserLimit {
            count: 1,
            window_seconds: 60,
        };
        let limited = create_token(&store, &[Scope::Read], Some(user)).await;
        assert_eq!(
            authorize(&store, &limited.key, Scope::Read, system(10))
                .await
                .denial,
            None
        );
        assert_eq!(
            authorize(&store, &limited.key, Scope::Read, system(10))
                .await
                .denial,
            Some(Denial::RateLimited)
        );

        assert_eq!(store.delete_project(PROJECT).await.unwrap(), 5);
        let error = store.get_project(PROJECT).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotFound {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
        let error = store.delete_project(PROJECT).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotFound {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
        for token in &issued {
            assert_eq!(
                authorize(&store, &token.key, Scope::Read, system(10))
                    .await
                    .denial,
                Some(Denial::UnknownToken)
            );
        }
        let keys = keys_in(&mut connection).await;
        assert!(!keys.iter().any(|key| key.contains("{p:shop}")), "{keys:?}");
        assert_eq!(store.account_projects(ACCOUNT).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn keyspace_holds_only_tagged_keys() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;
        store.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        for token in &issued {
            authorize(&store, &token.key, Scope::Read, system(10)).await;
        }

        let keys = keys_in(&mut connection).await;
        assert!(!keys.is_empty());
        for key in &keys {
            assert!(key.starts_with("ta:v1:{"), "{key}");
            let tag = &key["ta:v1:{".len()..key.find('}').unwrap()];
            assert!(
                tag.starts_with("k:") || tag.starts_with("p:") || tag.starts_with("a:"),
                "{key}"
            );
            for token in &issued {
                assert!(
                    !key.contains(token.key.expose()),
                    "a key reached Redis: {key}"
                );
            }
        }
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(TokenKeys::new(issued[0].hash()).record)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(
            !values
                .iter()
                .any(|value| value.contains(issued[0].key.expose()))
        );
    })
    .await;
}

fn new_key_of(key: &AccessKey) -> NewKey {
    NewKey {
        hash: key.hash(),
        hint: key.hint(),
    }
}

/// Returns a token's index entry, or `None` when the index does not list the token.
async fn entry_of(connection: &mut MultiplexedConnection, token_id: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(ProjectKeys::new(PROJECT).tokens)
        .arg(token_id)
        .query_async(connection)
        .await
        .unwrap()
}

/// Stores the claim of a regeneration with new key `successor` in the record of `hash`, as
/// `token_claim.lua` does, with a lease that ends at `until_ms`.
async fn store_claim(
    connection: &mut MultiplexedConnection,
    hash: KeyHash,
    successor: KeyHash,
    until_ms: i64,
) {
    let () = redis::cmd("HSET")
        .arg(TokenKeys::new(hash).record)
        .arg("successor")
        .arg(successor.to_hex())
        .arg("successor_until_ms")
        .arg(until_ms)
        .query_async(connection)
        .await
        .unwrap();
}

/// Stores a token's index entry.
async fn store_entry(connection: &mut MultiplexedConnection, token_id: &str, hashes: &[KeyHash]) {
    let entry: Vec<String> = hashes.iter().map(|hash| hash.to_hex()).collect();
    let () = redis::cmd("HSET")
        .arg(ProjectKeys::new(PROJECT).tokens)
        .arg(token_id)
        .arg(entry.join(" "))
        .query_async(connection)
        .await
        .unwrap();
}

#[tokio::test]
async fn interrupted_regeneration_stays_listed() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let read = &issued[2];
        let conn = store.conn().await.unwrap();

        // Steps 1 and 2 of a regeneration that stopped: the old record is claimed, with a
        // lease that has not run out, and the new hash is listed with no record yet.
        let first = AccessKey::generate().unwrap();
        store_claim(
            &mut connection,
            read.hash(),
            first.hash(),
            now_ms() + 60_000,
        )
        .await;
        store_entry(&mut connection, read.id(), &[read.hash(), first.hash()]).await;
        assert_eq!(all_ids(&store).await.len(), 4);
        assert_eq!(
            store.get_token(PROJECT, read.id()).await.unwrap(),
            read.token.record
        );
        assert_eq!(
            authorize(&store, &read.key, Scope::Read, system(10))
                .await
                .denial,
            None
        );

        // Step 3 as well: both records exist, and reads still show the claimed one.
        let mut record = read.token.record.clone();
        record.created_at_ms += 1_000;
        record.key_hint = first.hint();
        let first_token = NewToken {
            record,
            key_hash: first.hash(),
        };
        tokens::write_record(&conn, &first_token, ACCOUNT, Plan::Free)
            .await
            .unwrap();
        let listed = all_ids(&store).await;
        assert_eq!(listed.iter().filter(|id| *id == read.id()).count(), 1);
        assert_eq!(
            store.get_token(PROJECT, read.id()).await.unwrap(),
            read.token.record
        );

        // While the lease runs, another regeneration waits for it, then gives up unchanged.
        let second = AccessKey::generate().unwrap();
        let waited = store
            .regenerate_token(PROJECT, read.id(), &new_key_of(&second), now_ms(), false)
            .await;
        assert!(matches!(waited, Err(StoreError::Conflict(_))), "{waited:?}");
        assert_eq!(
            entry_of(&mut connection, read.id()).await,
            Some(format!(
                "{} {}",
                read.hash().to_hex(),
                first.hash().to_hex()
            ))
        );
        assert_eq!(records_of(&mut connection, read.id()).await.len(), 2);

        // Once the lease has run out, the next regeneration takes the claim over and removes
        // every earlier record and hash.
        store_claim(&mut connection, read.hash(), first.hash(), 0).await;
        let third = AccessKey::generate().unwrap();
        let regenerated = store
            .regenerate_token(PROJECT, read.id(), &new_key_of(&third), now_ms(), false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(regenerated.key_hint, third.hint());
        assert_eq!(
            entry_of(&mut connection, read.id()).await,
            Some(third.hash().to_hex())
        );
        assert_eq!(
            records_of(&mut connection, read.id()).await,
            vec![third.hash().to_hex()]
        );
        for old in [&read.key, &first, &second] {
            assert_eq!(
                authorize(&store, old, Scope::Read, system(10)).await.denial,
                Some(Denial::UnknownToken)
            );
        }

        // A regeneration that stopped after step 4: the old record is gone, and its hash is
        // still listed. Reads show the new record, and deleting the token removes both.
        let fourth = AccessKey::generate().unwrap();
        store_claim(
            &mut connection,
            third.hash(),
            fourth.hash(),
            now_ms() + 60_000,
        )
        .await;
        store_entry(&mut connection, read.id(), &[third.hash(), fourth.hash()]).await;
        let mut record = regenerated.clone();
        record.created_at_ms += 1_000;
        record.key_hint = fourth.hint();
        tokens::write_record(
            &conn,
            &NewToken {
                record: record.clone(),
                key_hash: fourth.hash(),
            },
            ACCOUNT,
            Plan::Free,
        )
        .await
        .unwrap();
        tokens::delete_record(&conn, third.hash(), read.id(), None)
            .await
            .unwrap();
        assert_eq!(store.get_token(PROJECT, read.id()).await.unwrap(), record);
        drop(conn);
        store.delete_token(PROJECT, read.id()).await.unwrap();
        assert_eq!(all_ids(&store).await.len(), 3);
        assert_eq!(entry_of(&mut connection, read.id()).await, None);
        assert!(records_of(&mut connection, read.id()).await.is_empty());
        for gone in [&third, &fourth] {
            assert_eq!(
                authorize(&store, gone, Scope::Read, system(10))
                    .await
                    .denial,
                Some(Denial::UnknownToken)
            );
        }
    })
    .await;
}

#[tokio::test]
async fn regeneration_never_loses_a_concurrent_change() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let read = &issued[2];
        let conn = store.conn().await.unwrap();

        // A regeneration copies the record, then an update lands before it deletes the old one.
        let located = tokens::locate(&conn, PROJECT, read.id()).await.unwrap();
        let rename = TokenPatch {
            name: Some("renamed".to_owned()),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, read.id(), &rename, now_ms() + 1)
            .await
            .unwrap();
        let deleted = tokens::delete_record(
            &conn,
            located.hash,
            read.id(),
            Some(located.record.modified_at_ms),
        )
        .await
        .unwrap();
        assert_eq!(deleted, tokens::Deleted::Changed);
        assert_eq!(
            store.get_token(PROJECT, read.id()).await.unwrap().name,
            "renamed"
        );
        assert_eq!(
            authorize(&store, &read.key, Scope::Read, system(10))
                .await
                .denial,
            None
        );
    })
    .await;
}

/// How many regenerations of one token race in each round of
/// `racing_regenerations_keep_one_record`.
const RACING_REGENERATIONS: usize = 16;

/// How many rounds `racing_regenerations_keep_one_record` runs.
const RACE_ROUNDS: usize = 20;

/// Returns the key hashes, in hex, of every token record in the keyspace that names `token_id`.
async fn records_of(connection: &mut MultiplexedConnection, token_id: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor = 0_u64;
    // SCAN returns cursor 0 once it has visited every key; the bound only guards against a bug.
    for _ in 0..10_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("ta:v1:{k:*}:token")
            .arg("COUNT")
            .arg(1_000)
            .query_async(connection)
            .await
            .unwrap();
        for key in keys {
            let owner: Option<String> = redis::cmd("HGET")
                .arg(&key)
                .arg("token_id")
                .query_async(connection)
                .await
                .unwrap();
            if owner.as_deref() == Some(token_id) {
                let hash = key
                    .strip_prefix("ta:v1:{k:")
                    .and_then(|rest| rest.strip_suffix("}:token"))
                    .expect("a token record key");
                found.push(hash.to_owned());
            }
        }
        if next == 0 {
            return found;
        }
        cursor = next;
    }
    panic!("SCAN did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_regenerations_keep_one_record() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let token_id = issued[2].id().to_owned();
        let project_keys = ProjectKeys::new(PROJECT);
        let mut every_key = vec![issued[2].key.clone()];

        for round in 0..RACE_ROUNDS {
            let regenerations =
                spawn_regenerations(&store, PROJECT, &token_id, RACING_REGENERATIONS);
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let store = store.clone();
                    let token_id = token_id.clone();
                    tokio::spawn(async move { store.get_token(PROJECT, &token_id).await })
                })
                .collect();

            // A racing call either wins, one after another, or gives up with a retryable error.
            let mut keys = Vec::new();
            let mut returned = Vec::new();
            for (key, task) in regenerations {
                match task.await.expect("regeneration task panicked") {
                    Ok(Some(record)) => {
                        assert_eq!(record.key_hint, key.hint(), "round {round}");
                        returned.push(key.hash());
                    }
                    Err(StoreError::Conflict(_)) => {}
                    other => panic!("round {round}: a racing regeneration returned {other:?}"),
                }
                keys.push(key);
            }
            for reader in readers {
                match reader.await.expect("reader task panicked") {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    other => panic!("round {round}: get_token during the race returned {other:?}"),
                }
            }
            assert!(
                !returned.is_empty(),
                "round {round}: every regeneration gave up"
            );

            let read = store
                .get_token(PROJECT, &token_id)
                .await
                .unwrap_or_else(|error| panic!("round {round}: get_token failed: {error}"));
            let listed = all_ids(&store).await;
            assert_eq!(
                listed.iter().filter(|id| **id == token_id).count(),
                1,
                "round {round}: the token is listed once in {listed:?}"
            );

            // One record in the whole keyspace, and the index lists exactly its hash.
            let records = records_of(&mut connection, &token_id).await;
            assert_eq!(records.len(), 1, "round {round}: records {records:?}");
            let entry: Option<String> = redis::cmd("HGET")
                .arg(&project_keys.tokens)
                .arg(&token_id)
                .query_async(&mut connection)
                .await
                .unwrap();
            assert_eq!(
                entry.as_deref(),
                Some(records[0].as_str()),
                "round {round}: the index entry"
            );
            let indexed = KeyHash::from_hex(&records[0]).unwrap();
            assert!(
                returned.contains(&indexed),
                "round {round}: the indexed key was not returned by a successful call"
            );

            // Only the indexed key authorizes.
            for key in &keys {
                let denial = authorize(&store, key, Scope::Read, system(1_000_000))
                    .await
                    .denial;
                if key.hash() == indexed {
                    assert_eq!(denial, None, "round {round}: the indexed key");
                    assert_eq!(read.key_hint, key.hint(), "round {round}");
                } else {
                    assert_eq!(
                        denial,
                        Some(Denial::UnknownToken),
                        "round {round}: a replaced key"
                    );
                }
            }
            every_key.extend(keys);
        }

        // Deleting the token leaves no record, entry or key that authorizes.
        store.delete_token(PROJECT, &token_id).await.unwrap();
        assert_eq!(
            records_of(&mut connection, &token_id).await,
            Vec::<String>::new()
        );
        assert!(!all_ids(&store).await.contains(&token_id));
        let listed: bool = redis::cmd("HEXISTS")
            .arg(&project_keys.tokens)
            .arg(&token_id)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(!listed, "the index entry is gone");
        let rank: Option<u64> = redis::cmd("ZRANK")
            .arg(&project_keys.order)
            .arg(&token_id)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(rank, None, "the token id left the order set");
        for key in &every_key {
            assert_eq!(
                authorize(&store, key, Scope::Read, system(1_000_000))
                    .await
                    .denial,
                Some(Denial::UnknownToken)
            );
        }
    })
    .await;
}

/// A spawned regeneration with its new key.
type Regeneration = (
    AccessKey,
    tokio::task::JoinHandle<Result<Option<TokenRecord>, StoreError>>,
);

/// Spawns `count` regenerations of one token, each with a new key.
fn spawn_regenerations(
    store: &RedisStore,
    project_id: &str,
    token_id: &str,
    count: usize,
) -> Vec<Regeneration> {
    (0..count)
        .map(|_| {
            let key = AccessKey::generate().unwrap();
            let new_key = new_key_of(&key);
            let store = store.clone();
            let project_id = project_id.to_owned();
            let token_id = token_id.to_owned();
            let task = tokio::spawn(async move {
                store
                    .regenerate_token(&project_id, &token_id, &new_key, now_ms(), false)
                    .await
            });
            (key, task)
        })
        .collect()
}

/// Waits for regenerations that raced a deletion, which may each succeed, give up, or find the
/// token gone, and returns their keys.
async fn finish_racing_deletion(regenerations: Vec<Regeneration>) -> Vec<AccessKey> {
    let mut keys = Vec::new();
    for (key, task) in regenerations {
        match task.await.expect("regeneration task panicked") {
            Ok(Some(_)) | Err(StoreError::Conflict(_) | StoreError::NotFound { .. }) => {}
            other => panic!("a regeneration that raced a deletion returned {other:?}"),
        }
        keys.push(key);
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_deletion_racing_regenerations() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        create_project_with_defaults(&store, PROJECT).await;

        for round in 0..10 {
            let issued = create_token(&store, &[Scope::Read], None).await;
            let token_id = issued.id().to_owned();
            let mut regenerations = spawn_regenerations(&store, PROJECT, &token_id, 4);
            let deletion = {
                let store = store.clone();
                let token_id = token_id.clone();
                tokio::spawn(async move { store.delete_token(PROJECT, &token_id).await })
            };
            regenerations.extend(spawn_regenerations(&store, PROJECT, &token_id, 4));

            let mut keys = finish_racing_deletion(regenerations).await;
            match deletion.await.expect("deletion task panicked") {
                Ok(()) => {}
                // Regenerations kept adding hashes: deleting again finishes.
                Err(StoreError::Conflict(_)) => {
                    store.delete_token(PROJECT, &token_id).await.unwrap();
                }
                Err(error) => panic!("round {round}: delete_token failed: {error}"),
            }
            keys.push(issued.key);

            assert_eq!(
                records_of(&mut connection, &token_id).await,
                Vec::<String>::new(),
                "round {round}"
            );
            assert_eq!(entry_of(&mut connection, &token_id).await, None);
            assert!(!all_ids(&store).await.contains(&token_id));
            for key in &keys {
                assert_eq!(
                    authorize(&store, key, Scope::Read, system(1_000_000))
                        .await
                        .denial,
                    Some(Denial::UnknownToken),
                    "round {round}"
                );
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_racing_regenerations() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let token_id = issued[2].id().to_owned();
        let mut name = issued[2].token.record.name.clone();

        for round in 0..10 {
            let regenerations = spawn_regenerations(&store, PROJECT, &token_id, 6);
            let updates: Vec<_> = (0..4)
                .map(|index| {
                    let store = store.clone();
                    let token_id = token_id.clone();
                    let patch = TokenPatch {
                        name: Some(format!("renamed {round}.{index}")),
                        ..TokenPatch::default()
                    };
                    tokio::spawn(async move {
                        store
                            .update_token(PROJECT, &token_id, &patch, now_ms())
                            .await
                    })
                })
                .collect();

            for (_, task) in regenerations {
                match task.await.expect("regeneration task panicked") {
                    Ok(Some(_)) | Err(StoreError::Conflict(_)) => {}
                    other => panic!("round {round}: a regeneration returned {other:?}"),
                }
            }
            let mut renamed = Vec::new();
            for task in updates {
                match task.await.expect("update task panicked") {
                    Ok(record) => renamed.push(record.name),
                    Err(StoreError::Conflict(_)) => {}
                    Err(error) => panic!("round {round}: an update failed: {error}"),
                }
            }

            // The token keeps the name of one successful update: no regeneration copied the
            // record before an update and then replaced it.
            let read = store.get_token(PROJECT, &token_id).await.unwrap();
            if renamed.is_empty() {
                assert_eq!(read.name, name, "round {round}");
            } else {
                assert!(
                    renamed.contains(&read.name),
                    "round {round}: {:?} is not among the updates {renamed:?}",
                    read.name
                );
            }
            name = read.name;
            let records = records_of(&mut connection, &token_id).await;
            assert_eq!(records.len(), 1, "round {round}: records {records:?}");
            assert_eq!(
                entry_of(&mut connection, &token_id).await.as_deref(),
                Some(records[0].as_str()),
                "round {round}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_deletion_racing_regenerations() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;

        for round in 0..5 {
            let project_id = format!("shop-{round}");
            let issued = create_project_with_defaults(&store, &project_id).await;
            let mut regenerations = spawn_regenerations(&store, &project_id, issued[2].id(), 4);
            let deletion = {
                let store = store.clone();
                let project_id = project_id.clone();
                tokio::spawn(async move { store.delete_project(&project_id).await })
            };
            regenerations.extend(spawn_regenerations(&store, &project_id, issued[2].id(), 4));

            let mut keys = finish_racing_deletion(regenerations).await;
            let deleted = deletion.await.expect("deletion task panicked");
            assert_eq!(deleted.unwrap(), 4, "round {round}");
            keys.extend(issued.iter().map(|issued| issued.key.clone()));

            for token in &issued {
                assert_eq!(
                    records_of(&mut connection, token.id()).await,
                    Vec::<String>::new(),
                    "round {round}"
                );
            }
            for key in &keys {
                assert_eq!(
                    authorize(&store, key, Scope::Read, system(1_000_000))
                        .await
                        .denial,
                    Some(Denial::UnknownToken),
                    "round {round}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn interrupted_project_creation_is_finished() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let keys = ProjectKeys::new(PROJECT);
        let conn = store.conn().await.unwrap();

        // Steps 1 to 3 of a creation, for one token, without step 4.
        let claim = "0123456789abcdef";
        let mut begin = scripts::PROJECT_BEGIN_CREATE.prepare_invoke();
        begin
            .key(&keys.record)
            .key(&keys.tokens)
            .arg(ACCOUNT)
            .arg("Shop")
            .arg(now_ms())
            .arg(claim);
        conn.invoke(&begin).await.unwrap();
        let leftover = issue(PROJECT, now_ms(), &[Scope::Read], None);
        tokens::index_add(&conn, &keys, leftover.id(), leftover.hash(), claim)
            .await
            .unwrap();
        tokens::write_record(&conn, &leftover.token, ACCOUNT, Plan::Free)
            .await
            .unwrap();
        drop(conn);

        // The incomplete project is invisible, and new tokens cannot join it.
        let error = store.get_project(PROJECT).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotFound {
                    kind: "project",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(store.account_projects(ACCOUNT).await.unwrap().is_empty());
        let late = issue(PROJECT, now_ms(), &[Scope::Read], None);
        assert!(matches!(
            store.create_token(&late.token).await,
            Err(StoreError::NotFound { .. })
        ));

        // Another account cannot take the id over, but the same account finishes the creation.
        let mut foreign = project(PROJECT);
        foreign.account_id = "other".to_owned();
        let error = store.create_project(&foreign, &[]).await.unwrap_err();
        assert!(
            matches!(error, StoreError::AlreadyExists { .. }),
            "{error:?}"
        );
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let ids = all_ids(&store).await;
        let expected: Vec<&str> = issued.iter().map(Issued::id).collect();
        assert_eq!(ids, expected);
        assert_eq!(
            authorize(&store, &leftover.key, Scope::Read, system(10))
                .await
                .denial,
            Some(Denial::UnknownToken)
        );
        let keys = keys_in(&mut connection).await;
        assert!(
            !keys
                .iter()
                .any(|key| key.contains(&leftover.hash().to_hex())),
            "{keys:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn interrupted_project_deletion_is_finished() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let keys = ProjectKeys::new(PROJECT);

        // Step 1 and one token of step 2, without the rest.
        let conn = store.conn().await.unwrap();
        let mut begin = scripts::PROJECT_BEGIN_DELETE.prepare_invoke();
        begin
            .key(&keys.record)
            .key(&keys.tokens)
            .arg("fedcba9876543210");
        conn.invoke(&begin).await.unwrap();
        tokens::delete_record(&conn, issued[0].hash(), issued[0].id(), None)
            .await
            .unwrap();
        drop(conn);

        let error = store.get_project(PROJECT).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
        // Tokens not yet deleted still authorize, and the deletion can be run again.
        assert_eq!(
            authorize(&store, &issued[1].key, Scope::PostClientItem, system(10))
                .await
                .denial,
            None
        );
        assert_eq!(store.delete_project(PROJECT).await.unwrap(), 4);
        for token in &issued {
            assert_eq!(
                authorize(&store, &token.key, Scope::Read, system(10))
                    .await
                    .denial,
                Some(Denial::UnknownToken)
            );
        }
        let keys = keys_in(&mut connection).await;
        assert_eq!(keys, ["ta:v1:{a:acme}:account"]);
    })
    .await;
}

#[tokio::test]
async fn listing_check_fails_after_project_deletion() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let mut connection = raw_connection(&server).await;
        create_project_with_defaults(&store, PROJECT).await;
        let keys = ProjectKeys::new(PROJECT);
        let conn = store.conn().await.unwrap();

        // A token creation lists its hash, then a deletion of the project runs to its end
        // before the creation writes the record.
        let late = issue(PROJECT, now_ms(), &[Scope::Read], None);
        tokens::index_add(&conn, &keys, late.id(), late.hash(), "")
            .await
            .unwrap();
        store.delete_project(PROJECT).await.unwrap();
        tokens::write_record(&conn, &late.token, ACCOUNT, Plan::Free)
            .await
            .unwrap();

        // The creation's last step finds the hash no longer listed, so it deletes the record it
        // wrote and reports the project missing.
        let mut check = scripts::INDEX_CHECK.prepare_invoke();
        check
            .key(&keys.record)
            .key(&keys.tokens)
            .arg(late.id())
            .arg(late.hash().to_hex())
            .arg("");
        assert!(!super::reply::flag(&conn.invoke(&check).await.unwrap(), "index_check").unwrap());
        tokens::delete_record(&conn, late.hash(), late.id(), None)
            .await
            .unwrap();
        let keys = keys_in(&mut connection).await;
        assert_eq!(keys, ["ta:v1:{a:acme}:account"]);
    })
    .await;
}

#[tokio::test]
async fn stopped_redis_fails_fast() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        let issued = create_project_with_defaults(&store, PROJECT).await;

        // Paused: connections stay open but nothing replies.
        server.pause();
        let started = std::time::Instant::now();
        let error = store
            .authorize(AuthorizeQuery {
                key_hash: issued[0].hash(),
                required_scope: Scope::PostServerItem,
                project_id: None,
                cost: 1,
                system: system(10),
            })
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Timeout(_)), "{error:?}");
        assert!(
            started.elapsed() < COMMAND_TIMEOUT * 3,
            "took {:?}",
            started.elapsed()
        );
        server.resume();
        assert_eq!(
            authorize(&store, &issued[0].key, Scope::PostServerItem, system(10))
                .await
                .denial,
            None
        );

        // Stopped: connections are refused.
        drop(server);
        let started = std::time::Instant::now();
        let error = store.get_project(PROJECT).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Unavailable(_) | StoreError::Timeout(_)),
            "{error:?}"
        );
        assert!(
            started.elapsed() < COMMAND_TIMEOUT * 3,
            "took {:?}",
            started.elapsed()
        );
        let error = store.check_ready().await.unwrap_err();
        assert!(
            matches!(error, StoreError::Unavailable(_) | StoreError::Timeout(_)),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_config_names_the_value() {
    let config = |url: &str, cluster| RedisConfig {
        url: url.to_owned(),
        cluster,
        pool_size: 4,
        command_timeout: COMMAND_TIMEOUT,
    };
    let error = RedisStore::new(&config("http://user:s3cret@cache:6379", false)).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("invalid Redis URL http://***@cache:6379"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    let error = RedisStore::new(&config("redis://127.0.0.1:1,", true)).unwrap_err();
    assert!(error.to_string().contains("position 2"), "{error}");
    let error = RedisStore::new(&RedisConfig {
        pool_size: 0,
        ..config("redis://127.0.0.1:1", false)
    })
    .unwrap_err();
    assert!(error.to_string().contains("pool size"), "{error}");
    assert!(!format!("{:?}", config("redis://:s3cret@cache", false)).contains("s3cret"));

    // A valid URL needs no server.
    assert!(RedisStore::new(&config("redis://127.0.0.1:1", false)).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_runs_every_operation() {
    bounded(async {
        let cluster = RedisCluster::start(3).await;
        let store = store_for(cluster.urls(), true);
        store.load_scripts().await.unwrap();

        let issued = create_project_with_defaults(&store, PROJECT).await;
        create_project_with_defaults(&store, "blog").await;
        store.set_account_plan(ACCOUNT, Plan::Paid).await.unwrap();
        assert_eq!(store.account_plan(ACCOUNT).await.unwrap(), Plan::Paid);
        assert_eq!(store.account_projects(ACCOUNT).await.unwrap().len(), 2);
        assert_eq!(
            store.get_project(PROJECT).await.unwrap().account_id,
            ACCOUNT
        );

        let user = UserLimit {
            count: 2,
            window_seconds: 60,
        };
        let limited = create_token(&store, &[Scope::Read], Some(user)).await;
        for _ in 0..2 {
            assert_eq!(
                authorize(&store, &limited.key, Scope::Read, system(10))
                    .await
                    .denial,
                None
            );
        }
        assert_eq!(
            authorize(&store, &limited.key, Scope::Read, system(10))
                .await
                .denial,
            Some(Denial::RateLimited)
        );
        let report = store
            .rate_limit(
                TokenLocator::Id {
                    project_id: PROJECT,
                    token_id: limited.id(),
                },
                1,
                RateMode::Report,
                system(10),
            )
            .await
            .unwrap();
        assert_eq!(report.outcome.windows[1].count(), 2);

        assert_eq!(all_ids(&store).await.len(), 5);
        let patch = TokenPatch {
            name: Some("renamed".to_owned()),
            ..TokenPatch::default()
        };
        store
            .update_token(PROJECT, issued[0].id(), &patch, now_ms())
            .await
            .unwrap();
        store
            .expire_token(PROJECT, issued[1].id(), now_ms())
            .await
            .unwrap();
        let key = AccessKey::generate().unwrap();
        let new_key = NewKey {
            hash: key.hash(),
            hint: key.hint(),
        };
        store
            .regenerate_token(PROJECT, issued[1].id(), &new_key, now_ms(), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            authorize(&store, &key, Scope::PostClientItem, system(10))
                .await
                .denial,
            None
        );
        store.delete_token(PROJECT, issued[2].id()).await.unwrap();
        assert_eq!(all_ids(&store).await.len(), 4);

        // After a SCRIPT FLUSH on every node, the NOSCRIPT reply makes the store load the script again.
        for node in cluster.nodes() {
            let mut connection = raw_connection(node).await;
            let _: () = redis::cmd("SCRIPT")
                .arg("FLUSH")
                .query_async(&mut connection)
                .await
                .unwrap();
        }
        assert_eq!(
            authorize(&store, &issued[3].key, Scope::Write, system(10))
                .await
                .denial,
            None
        );

        assert_eq!(store.delete_project(PROJECT).await.unwrap(), 4);
        assert_eq!(store.delete_project("blog").await.unwrap(), 4);
        assert!(store.account_projects(ACCOUNT).await.unwrap().is_empty());
        store.check_ready().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn authorize_reconnects_after_connections_killed() {
    bounded(async {
        let server = RedisServer::start().await;
        let store = store_for(server.url(), false);
        store.load_scripts().await.unwrap();
        let issued = create_project_with_defaults(&store, PROJECT).await;
        let key = &issued[0].key;
        for _ in 0..4 {
            authorize(&store, key, Scope::PostServerItem, system(100)).await;
        }

        // Closes every client connection but this one, including the shared ones.
        let mut raw = raw_connection(&server).await;
        let _: i64 = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
            .query_async(&mut raw)
            .await
            .unwrap();

        let query = AuthorizeQuery {
            key_hash: key.hash(),
            required_scope: Scope::PostServerItem,
            project_id: Some(PROJECT),
            cost: 1,
            system: system(100),
        };
        let mut failures = 0;
        for _ in 0..4 {
            if store.authorize(query).await.is_err() {
                failures += 1;
            }
        }
        assert!(
            (1..=2).contains(&failures),
            "the killed connections fail a call each, at most two, got {failures} failures"
        );
        for _ in 0..4 {
            let outcome = store.authorize(query).await.expect("reconnected");
            assert_eq!(outcome.denial, None);
        }
    })
    .await;
}
