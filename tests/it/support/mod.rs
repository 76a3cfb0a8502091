//! Test harness: the gRPC server in-process over either store, a client, and request helpers.
//!
//! Each [`Harness`] serves the authority on its own loopback port, over its own store. The Redis
//! variant starts a private `redis-server` and keeps it alive until the harness is dropped.
//! Dropping the harness completes the server's shutdown future.
//!
//! [`conformance_test!`] writes a behaviour test once and runs it against both stores.

mod snapshot;

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, sync::oneshot};
use tokio_stream::StreamExt;
use tonic::{
    Code, Status,
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use token_authority::{
    deny_cache::DenyCacheConfig,
    domain::SystemLimit,
    grpc::{AUTHORIZATION_HEADER, AdminToken},
    proto::v1::{
        self as pb, manage_request::Operation, manage_response::Result as Outcome,
        token_authority_client::TokenAuthorityClient,
    },
    server::{self, READINESS_SERVICE, ServeOptions},
    service::Authority,
    store::{
        Store,
        memory::MemoryStore,
        redis::{RedisConfig, RedisStore},
    },
    testing::RedisServer,
};

pub use snapshot::StoreSnapshot;

/// How long a whole behaviour test may run before it fails instead of hanging.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the server may take to report its store ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes a behaviour test once and runs it against both stores, as a module holding the tests
/// `memory` and `redis`. The optional second argument is the system limit (the default is the
/// service's).
///
/// ```ignore
/// conformance_test!(disabled_token_denied, system_limit(5, 60), |h| {
///     let project = h.create_project("acct", "proj", "Project").await;
///     // ...
/// });
/// ```
macro_rules! conformance_test {
    ($name:ident, |$harness:ident| $body:block) => {
        $crate::support::conformance_test!(
            $name,
            ::token_authority::domain::SystemLimit::DEFAULT,
            |$harness| $body
        );
    };
    ($name:ident, $system:expr, |$harness:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($harness: $crate::support::Harness) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                $crate::support::run_test($crate::support::Backend::Memory, $system, run).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                $crate::support::run_test($crate::support::Backend::Redis, $system, run).await;
            }
        }
    };
}
pub(crate) use conformance_test;

/// Which store a harness serves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory store.
    Memory,
    /// A `RedisStore` over a private `redis-server`.
    Redis,
}

/// Starts a harness on `backend` and runs `body` with it, failing after [`TEST_TIMEOUT`].
pub async fn run_test<F, Fut>(backend: Backend, system: SystemLimit, body: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let run = async {
        let harness = Harness::start(backend, system).await;
        body(harness).await;
    };
    tokio::time::timeout(TEST_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {TEST_TIMEOUT:?}"));
}

/// Returns a system limit of `count` requests per `window_seconds`.
pub fn system_limit(count: u64, window_seconds: u64) -> SystemLimit {
    SystemLimit {
        count,
        window_seconds,
    }
}

/// The store behind a harness, kept so the test can look at what was written.
enum StoreAccess {
    /// A clone of the served store; clones share one state.
    Memory(MemoryStore),
    /// The private Redis, kept alive for the test, and a connection to it.
    Redis {
        server: RedisServer,
        connection: redis::aio::MultiplexedConnection,
    },
}

/// A running server with a connected client.
pub struct Harness {
    client: TokenAuthorityClient<Channel>,
    store: StoreAccess,
    stop: Option<oneshot::Sender<()>>,
    /// The `authorization` metadata the request helpers send to the management RPCs, when the
    /// server requires an admin token.
    authorization: Option<MetadataValue<Ascii>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone; there is nothing to stop then.
            let _ = stop.send(());
        }
    }
}

impl Harness {
    /// Starts a server over a new, empty store of `backend` with the system limit `system`.
    pub async fn start(backend: Backend, system: SystemLimit) -> Harness {
        Self::start_with(backend, system, DenyCacheConfig::default()).await
    }

    /// Starts a server like [`Harness::start`], with the deny cache settings `deny_cache`.
    pub async fn start_with(
        backend: Backend,
        system: SystemLimit,
        deny_cache: DenyCacheConfig,
    ) -> Harness {
        Self::start_serving(backend, system, deny_cache, None).await
    }

    /// Starts a server like [`Harness::start`] whose management RPCs require `admin_token`. The
    /// request helpers send it as `authorization: Bearer TOKEN`; the raw [`Harness::client`]
    /// sends no metadata.
    pub async fn start_with_admin_token(backend: Backend, admin_token: &str) -> Harness {
        Self::start_serving(
            backend,
            SystemLimit::DEFAULT,
            DenyCacheConfig::default(),
            Some(admin_token),
        )
        .await
    }

    async fn start_serving(
        backend: Backend,
        system: SystemLimit,
        deny_cache: DenyCacheConfig,
        admin_token: Option<&str>,
    ) -> Harness {
        let authorization = admin_token.map(|token| {
            format!("Bearer {token}")
                .parse()
                .expect("the admin token is valid metadata")
        });
        let admin_token = admin_token.map(|token| {
            AdminToken::from_bytes(token.as_bytes()).expect("the test's admin token is valid")
        });
        match backend {
            Backend::Memory => {
                let store = MemoryStore::new();
                let (client, stop) = serve(store.clone(), system, deny_cache, admin_token).await;
                Harness {
                    client,
                    store: StoreAccess::Memory(store),
                    stop: Some(stop),
                    authorization,
                }
            }
            Backend::Redis => {
                let redis_server = RedisServer::start().await;
                let url = redis_server.url();
                let store = RedisStore::new(&RedisConfig {
                    url: url.clone(),
                    cluster: false,
                    pool_size: 8,
                    command_timeout: Duration::from_secs(5),
                })
                .expect("failed to create the Redis store");
                store
                    .load_scripts()
                    .await
                    .expect("failed to load the Lua scripts");
                let connection = redis::Client::open(url.as_str())
                    .expect("invalid Redis URL")
                    .get_multiplexed_async_connection()
                    .await
                    .expect("failed to connect to the private Redis");
                let (client, stop) = serve(store, system, deny_cache, admin_token).await;
                Harness {
                    client,
                    store: StoreAccess::Redis {
                        server: redis_server,
                        connection,
                    },
                    stop: Some(stop),
                    authorization,
                }
            }
        }
    }

    /// Returns a client connected to the server; clones share one connection.
    pub fn client(&self) -> TokenAuthorityClient<Channel> {
        self.client.clone()
    }

    /// Wraps a management request's message, adding the admin token's `authorization`
    /// metadata when the server requires one.
    fn management_request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert(AUTHORIZATION_HEADER, authorization.clone());
        }
        request
    }

    /// Returns the private `redis-server`, or `None` on the in-memory store.
    pub fn redis_server(&self) -> Option<&RedisServer> {
        match &self.store {
            StoreAccess::Memory(_) => None,
            StoreAccess::Redis { server, .. } => Some(server),
        }
    }

    /// Captures everything the store holds, to compare before and after a request.
    pub async fn snapshot(&self) -> StoreSnapshot {
        match &self.store {
            StoreAccess::Memory(store) => StoreSnapshot::of_memory(store),
            StoreAccess::Redis { connection, .. } => {
                StoreSnapshot::of_redis(&mut connection.clone()).await
            }
        }
    }

    /// Asserts that the store contains exactly what `before` captured.
    pub async fn assert_unchanged(&self, before: &StoreSnapshot, context: &str) {
        let after = self.snapshot().await;
        before.assert_same(&after, context);
    }

    // ----- Authorize -----

    /// Sends an Authorize request, expecting a reply rather than an error.
    pub async fn authorize_request(&self, request: pb::AuthorizeRequest) -> pb::AuthorizeResponse {
        self.try_authorize(request)
            .await
            .unwrap_or_else(|status| panic!("Authorize failed: {status:?}"))
    }

    /// Sends an Authorize request.
    pub async fn try_authorize(
        &self,
        request: pb::AuthorizeRequest,
    ) -> Result<pb::AuthorizeResponse, Status> {
        self.client()
            .authorize(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Asks whether `key` may perform `action` on an item of `platform`.
    pub async fn authorize(
        &self,
        key: &str,
        action: pb::Action,
        platform: &str,
    ) -> pb::AuthorizeResponse {
        self.authorize_request(pb::AuthorizeRequest {
            access_token: key.to_owned(),
            action: action as i32,
            platform: platform.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// Asks whether `key` may read, the action every default `read` token allows.
    pub async fn read(&self, key: &str) -> pb::AuthorizeResponse {
        self.authorize(key, pb::Action::Read, "").await
    }

    // ----- CheckRateLimit -----

    /// Sends a CheckRateLimit request.
    pub async fn check_rate_limit(
        &self,
        request: pb::CheckRateLimitRequest,
    ) -> Result<pb::CheckRateLimitResponse, Status> {
        self.client()
            .check_rate_limit(self.management_request(request))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Reports a token's windows without consuming anything.
    pub async fn windows(&self, token: &pb::Token) -> Vec<pb::RateLimitWindow> {
        self.check_rate_limit(pb::CheckRateLimitRequest {
            token: Some(pb::check_rate_limit_request::Token::TokenRef(reference(
                token,
            ))),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("CheckRateLimit failed: {status:?}"))
        .windows
    }

    // ----- Manage -----

    /// Sends one Manage operation.
    pub async fn manage(&self, operation: Operation) -> Result<Outcome, Status> {
        let response = self
            .client()
            .manage(self.management_request(pb::ManageRequest {
                operation: Some(operation),
            }))
            .await?
            .into_inner();
        Ok(response.result.expect("Manage replied without a result"))
    }

    /// Creates a project and returns it with its default tokens.
    pub async fn create_project(
        &self,
        account_id: &str,
        project_id: &str,
        name: &str,
    ) -> CreatedProject {
        self.try_create_project(account_id, project_id, name)
            .await
            .unwrap_or_else(|status| panic!("creating project {project_id} failed: {status:?}"))
    }

    /// Sends a create_project operation.
    pub async fn try_create_project(
        &self,
        account_id: &str,
        project_id: &str,
        name: &str,
    ) -> Result<CreatedProject, Status> {
        let operation = Operation::CreateProject(pb::CreateProjectOperation {
            account_id: account_id.to_owned(),
            project_id: project_id.to_owned(),
            name: name.to_owned(),
        });
        match self.manage(operation).await? {
            Outcome::CreateProject(result) => Ok(CreatedProject {
                project: result.project.expect("create_project returned no project"),
                tokens: result.tokens,
            }),
            other => panic!("create_project returned {other:?}"),
        }
    }

    /// Deletes a project.
    pub async fn delete_project(&self, project_id: &str) -> Result<i32, Status> {
        let operation = Operation::DeleteProject(pb::DeleteProjectOperation {
            project_id: project_id.to_owned(),
        });
        match self.manage(operation).await? {
            Outcome::DeleteProject(result) => Ok(result.deleted_token_count),
            other => panic!("delete_project returned {other:?}"),
        }
    }

    /// Sets an account's plan.
    pub async fn set_plan(&self, account_id: &str, plan: pb::AccountPlan) {
        let operation = Operation::SetAccountPlan(pb::SetAccountPlanOperation {
            account_id: account_id.to_owned(),
            plan: plan as i32,
        });
        self.manage(operation)
            .await
            .unwrap_or_else(|status| panic!("set_account_plan failed: {status:?}"));
    }

    /// Creates project `proj` on a paid account `acct` and a read token named `limited` with a
    /// user-defined limit of `count` requests per `window_seconds`.
    pub async fn limited_token(&self, count: i64, window_seconds: i64) -> pb::IssuedToken {
        self.create_project("acct", "proj", "Project").await;
        self.set_plan("acct", pb::AccountPlan::Paid).await;
        self.create_token(pb::CreateTokenOperation {
            project_id: "proj".to_owned(),
            name: "limited".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            rate_limit: Some(pb::UserRateLimit {
                count,
                window_seconds,
            }),
            ..Default::default()
        })
        .await
    }

    /// Creates a token, expecting success.
    pub async fn create_token(&self, operation: pb::CreateTokenOperation) -> pb::IssuedToken {
        self.try_create_token(operation)
            .await
            .unwrap_or_else(|status| panic!("create_token failed: {status:?}"))
    }

    /// Sends a create_token operation.
    pub async fn try_create_token(
        &self,
        operation: pb::CreateTokenOperation,
    ) -> Result<pb::IssuedToken, Status> {
        match self.manage(Operation::CreateToken(operation)).await? {
            Outcome::CreateToken(result) => {
                Ok(result.token.expect("create_token returned no token"))
            }
            other => panic!("create_token returned {other:?}"),
        }
    }

    /// Creates a token with `scopes` and no limit or expiry.
    pub async fn create_scoped_token(
        &self,
        project_id: &str,
        name: &str,
        scopes: &[pb::Scope],
    ) -> pb::IssuedToken {
        self.create_token(pb::CreateTokenOperation {
            project_id: project_id.to_owned(),
            name: name.to_owned(),
            scopes: scopes.iter().map(|scope| *scope as i32).collect(),
            ..Default::default()
        })
        .await
    }

    /// Reads a token.
    pub async fn get_token(&self, token: &pb::Token) -> Result<pb::Token, Status> {
        let operation = Operation::GetToken(pb::GetTokenOperation {
            token: Some(reference(token)),
        });
        match self.manage(operation).await? {
            Outcome::GetToken(result) => Ok(result.token.expect("get_token returned no token")),
            other => panic!("get_token returned {other:?}"),
        }
    }

    /// Sends a list_tokens operation.
    pub async fn list_tokens(
        &self,
        operation: pb::ListTokensOperation,
    ) -> Result<pb::ListTokensResult, Status> {
        match self.manage(Operation::ListTokens(operation)).await? {
            Outcome::ListTokens(result) => Ok(result),
            other => panic!("list_tokens returned {other:?}"),
        }
    }

    /// Lists every token of a project with `status`, following pages of `page_size`. Fails
    /// after 5,000 pages, more than any test's project fills, so a broken page token cannot
    /// loop forever.
    pub async fn list_all_tokens(
        &self,
        project_id: &str,
        status: pb::TokenStatus,
        page_size: i32,
    ) -> Vec<pb::Token> {
        const MAX_PAGES: usize = 5_000;
        let mut tokens = Vec::new();
        let mut page_token = String::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .list_tokens(pb::ListTokensOperation {
                    project_id: project_id.to_owned(),
                    status: status as i32,
                    page_size,
                    page_token: page_token.clone(),
                })
                .await
                .unwrap_or_else(|status| panic!("list_tokens failed: {status:?}"));
            assert!(
                page.tokens.len() <= page_size as usize,
                "a page of size {page_size} held {} tokens",
                page.tokens.len()
            );
            tokens.extend(page.tokens);
            if page.next_page_token.is_empty() {
                return tokens;
            }
            page_token = page.next_page_token;
        }
        panic!("listing did not end within {MAX_PAGES} pages");
    }

    /// Sends an update_token operation that changes the fields named by `paths`.
    pub async fn update_token(
        &self,
        token: &pb::Token,
        update: pb::TokenUpdate,
        paths: &[&str],
    ) -> Result<pb::Token, Status> {
        let operation = Operation::UpdateToken(pb::UpdateTokenOperation {
            token: Some(reference(token)),
            update: Some(update),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|path| (*path).to_owned()).collect(),
            }),
        });
        match self.manage(operation).await? {
            Outcome::UpdateToken(result) => {
                Ok(result.token.expect("update_token returned no token"))
            }
            other => panic!("update_token returned {other:?}"),
        }
    }

    /// Sets a token's status to enabled or disabled.
    pub async fn set_status(
        &self,
        token: &pb::Token,
        status: pb::TokenStatus,
    ) -> Result<pb::Token, Status> {
        let update = pb::TokenUpdate {
            status: status as i32,
            ..Default::default()
        };
        self.update_token(token, update, &["status"]).await
    }

    /// Sets a token's user-defined limit; a zero count clears it.
    pub async fn set_user_limit(
        &self,
        token: &pb::Token,
        count: i64,
        window_seconds: i64,
    ) -> Result<pb::Token, Status> {
        let update = pb::TokenUpdate {
            rate_limit: Some(pb::UserRateLimit {
                count,
                window_seconds,
            }),
            ..Default::default()
        };
        self.update_token(token, update, &["rate_limit"]).await
    }

    /// Expires a token, expecting success.
    pub async fn expire_token(&self, token: &pb::Token) -> pb::Token {
        let operation = Operation::ExpireToken(pb::ExpireTokenOperation {
            token: Some(reference(token)),
        });
        match self.manage(operation).await {
            Ok(Outcome::ExpireToken(result)) => {
                result.token.expect("expire_token returned no token")
            }
            other => panic!("expire_token returned {other:?}"),
        }
    }

    /// Deletes a token.
    pub async fn delete_token(&self, token: &pb::Token) -> Result<(), Status> {
        let operation = Operation::DeleteToken(pb::DeleteTokenOperation {
            token: Some(reference(token)),
        });
        match self.manage(operation).await? {
            Outcome::DeleteToken(_) => Ok(()),
            other => panic!("delete_token returned {other:?}"),
        }
    }

    // ----- Regenerate -----

    /// Sends a Regenerate request for `target`.
    pub async fn regenerate(
        &self,
        target: pb::regenerate_request::Target,
    ) -> Result<pb::RegenerateResponse, Status> {
        self.client()
            .regenerate(self.management_request(pb::RegenerateRequest {
                target: Some(target),
            }))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// A project created through Manage, with its default tokens and their keys.
#[derive(Clone, Debug)]
pub struct CreatedProject {
    /// The project.
    pub project: pb::Project,
    /// The default tokens, with their keys.
    pub tokens: Vec<pb::IssuedToken>,
}

impl CreatedProject {
    /// Returns the default token named `scope_name`, the wire name of its scope, such as `read`.
    pub fn token(&self, scope_name: &str) -> &pb::IssuedToken {
        self.tokens
            .iter()
            .find(|issued| token_of(issued).name == scope_name)
            .unwrap_or_else(|| panic!("project has no default token named {scope_name}"))
    }

    /// Returns the key of the default token named `scope_name`.
    pub fn key(&self, scope_name: &str) -> &str {
        &self.token(scope_name).access_token
    }
}

/// Returns the token of an issued token.
pub fn token_of(issued: &pb::IssuedToken) -> &pb::Token {
    issued
        .token
        .as_ref()
        .expect("issued token carries no token")
}

/// Returns a reference to `token` by project and token id.
pub fn reference(token: &pb::Token) -> pb::TokenRef {
    pb::TokenRef {
        project_id: token.project_id.clone(),
        token_id: token.token_id.clone(),
    }
}

/// Returns the current time in Unix milliseconds, by this process's clock.
pub fn now_unix_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock is before 1970");
    i64::try_from(elapsed.as_millis()).expect("time fits in i64")
}

/// Asserts that Authorize allowed the request.
#[track_caller]
pub fn assert_allowed(response: &pb::AuthorizeResponse) {
    assert_eq!(
        response.decision(),
        pb::Decision::Allow,
        "expected allow, got {response:?}"
    );
    assert_eq!(response.http_status, 200, "allowed reply: {response:?}");
    assert_eq!(
        response.denial_reason(),
        pb::DenialReason::Unspecified,
        "allowed reply: {response:?}"
    );
}

/// Asserts that Authorize denied the request for `reason` with `http_status`.
#[track_caller]
pub fn assert_denied(response: &pb::AuthorizeResponse, reason: pb::DenialReason, http_status: i32) {
    assert_eq!(
        response.decision(),
        pb::Decision::Deny,
        "expected a denial, got {response:?}"
    );
    assert_eq!(
        response.denial_reason(),
        reason,
        "denial reason of {response:?}"
    );
    assert_eq!(
        response.http_status, http_status,
        "HTTP status of {response:?}"
    );
}

/// Asserts that `result` failed with `code` and returns the status.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got success: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// Asserts that `result` is INVALID_ARGUMENT with a message naming `field`.
#[track_caller]
pub fn assert_invalid_field<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) {
    let status = assert_code(result, Code::InvalidArgument);
    assert!(
        status.message().contains(field),
        "message {:?} does not name {field:?}",
        status.message()
    );
}

/// Serves the authority over `store` on a loopback port in a spawned task, and returns a client
/// once the server reports the store ready, with the sender that stops the server.
async fn serve<S: Store>(
    store: S,
    system: SystemLimit,
    deny_cache: DenyCacheConfig,
    admin_token: Option<AdminToken>,
) -> (TokenAuthorityClient<Channel>, oneshot::Sender<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("failed to bind a loopback port");
    let address = listener.local_addr().expect("listener has no address");
    let (stop, stopped) = oneshot::channel::<()>();
    let options = ServeOptions {
        shutdown_timeout: Duration::from_secs(1),
        readiness_interval: Duration::from_millis(100),
        readiness_timeout: Duration::from_secs(1),
        admin_token,
    };
    let shutdown = async move {
        // A dropped sender means the harness is gone, which also stops the server.
        let _ = stopped.await;
    };
    tokio::spawn(server::serve(
        listener,
        Authority::new(store, system).with_deny_cache(deny_cache),
        options,
        shutdown,
    ));

    let channel = connect(address).await;
    wait_until_ready(channel.clone()).await;
    (TokenAuthorityClient::new(channel), stop)
}

/// Connects to the server. The listener is bound before the server task starts, so the first
/// attempt connects; the timeout only bounds a broken setup.
async fn connect(address: SocketAddr) -> Channel {
    let endpoint = Channel::from_shared(format!("http://{address}"))
        .expect("loopback address is a valid URI")
        .connect_timeout(Duration::from_secs(2));
    tokio::time::timeout(READY_TIMEOUT, endpoint.connect())
        .await
        .expect("connecting to the server timed out")
        .expect("failed to connect to the server")
}

/// Waits until the health service reports the store ready, by watching its status rather than
/// polling.
async fn wait_until_ready(channel: Channel) {
    let wait = async {
        let mut updates = HealthClient::new(channel)
            .watch(HealthCheckRequest {
                service: READINESS_SERVICE.to_owned(),
            })
            .await
            .expect("health watch failed")
            .into_inner();
        while let Some(update) = updates.next().await {
            let update = update.expect("health watch stream failed");
            if update.status() == ServingStatus::Serving {
                return;
            }
        }
        panic!("health watch ended before the store was ready");
    };
    tokio::time::timeout(READY_TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("store was not ready within {READY_TIMEOUT:?}"));
}
