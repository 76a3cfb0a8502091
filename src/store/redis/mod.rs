//! The Redis store: token state and rate-limit windows in Redis or Redis Cluster, shared by every
//! replica of the service.
//!
//! - Every step that reads and writes token state or counters is one Lua script (`lua/`), so it
//!   is atomic. Concurrent Authorize calls from any number of replicas never admit more than a
//!   limit allows, and exactly one of them is flagged as the first denial of a window.
//! - Authorize is one EVALSHA on one slot, one round trip: the token record contains everything its
//!   checks read (see `keys.rs` for the layout).
//! - Operations that span slots (creating, deleting and regenerating tokens and projects) run as
//!   ordered steps whose order keeps every token that authorizes listed and deletable through a
//!   crash between any two steps (see `tokens.rs` and `projects.rs`).
//! - Every Redis call is bounded by the command timeout. A timeout becomes
//!   [`StoreError::Timeout`](super::StoreError::Timeout), any other failure to get a reply
//!   [`StoreError::Unavailable`](super::StoreError::Unavailable), and a reply of an unexpected
//!   shape [`StoreError::Corrupt`](super::StoreError::Corrupt). The store does not retry a failed
//!   call, because a write that timed out may still have happened; the Redis Cluster client
//!   does resend a command that a node redirected elsewhere (MOVED, ASK).
//!
//! Requires Redis 6.2 or newer (`ZRANGE … BYLEX`). On Redis Cluster every script touches one
//! slot, so no command ever fails with CROSSSLOT.

mod authorize;
mod keys;
mod observed;
mod pool;

/// The key builders, for `token-authority-bench`, which measures what the keys cost in Redis.
#[doc(hidden)]
pub use keys::{ProjectKeys, TokenKeys};
pub use pool::redact_url;
mod projects;
mod record;
mod reply;
mod scripts;
mod shared;
mod tokens;

#[cfg(test)]
mod tests;

use std::{fmt, sync::Arc, time::Duration};

use self::{
    authorize::{ScriptMode, authorize_mode},
    pool::{Conn, Pool},
    shared::{SHARED_CONNECTIONS, SharedConnections},
};
use super::{
    AuthorizeOutcome, AuthorizeQuery, ListQuery, NewKey, NewToken, RateReport, Store, StoreError,
    StoreResult, TokenLocator, TokenPage,
};
use crate::domain::{
    KeyHash, Plan, ProjectRecord, RateMode, Scope, SystemLimit, TokenPatch, TokenRecord,
};
use crate::telemetry::{self, PoolState};

/// Redis connection settings.
#[derive(Clone)]
pub struct RedisConfig {
    /// A Redis URL such as `redis://:PASSWORD@HOST:6379/0`. With `cluster`, a comma-separated
    /// list of seed node URLs.
    pub url: String,
    /// Whether `url` names Redis Cluster seed nodes.
    pub cluster: bool,
    /// The maximum number of pooled connections. On a cluster each one connects to every node.
    pub pool_size: usize,
    /// How long any one Redis call, including taking a connection from the pool, may take.
    pub command_timeout: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self
            .url
            .split(',')
            .map(|url| pool::redact_url(url.trim()))
            .collect();
        f.debug_struct("RedisConfig")
            .field("url", &urls.join(","))
            .field("cluster", &self.cluster)
            .field("pool_size", &self.pool_size)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

/// The Redis implementation of [`Store`]. Clones share one connection pool, and the connections
/// that Authorize calls share.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The connections Authorize calls share, apart from the pool.
    shared: SharedConnections,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("RedisStore")
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .field("command_timeout", &self.inner.timeout)
            .finish()
    }
}

impl RedisStore {
    /// Builds the pool (Redis Cluster when `cluster`: `url` is then a comma-separated list of
    /// seed node URLs). Fails only on an invalid URL or config, naming the bad value. It does
    /// not require Redis to be up.
    pub fn new(config: &RedisConfig) -> StoreResult<RedisStore> {
        Ok(RedisStore {
            inner: Arc::new(Inner {
                pool: pool::build(config)?,
                shared: SharedConnections::new(SHARED_CONNECTIONS),
                timeout: config.command_timeout,
            }),
        })
    }

    /// Loads every script into Redis with SCRIPT LOAD, which a cluster client sends to every
    /// node, so the first calls need not load them. Used at start-up and by [`Store::check_ready`].
    pub async fn load_scripts(&self) -> StoreResult<()> {
        let conn = self.conn().await?;
        for script in scripts::ALL {
            conn.load(script).await?;
        }
        Ok(())
    }

    /// Reports the connection pool's state in the `token_authority.redis.pool.*` metrics, as
    /// zeros once the store is dropped.
    pub fn observe_pool_metrics(&self) {
        let inner = Arc::downgrade(&self.inner);
        telemetry::metrics().observe_redis_pool(move || {
            let Some(inner) = inner.upgrade() else {
                return PoolState::default();
            };
            let status = inner.pool.status();
            PoolState {
                in_use: status.size.saturating_sub(status.available) as u64,
                idle: status.available as u64,
                waiting: status.waiting as u64,
                max: status.max_size as u64,
            }
        });
    }

    /// Closes the connection pool of this store and its clones: idle connections close now, and
    /// later operations fail as unavailable. Used at shutdown, after the drain.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    async fn conn(&self) -> StoreResult<Conn> {
        Conn::take(&self.inner.pool, self.inner.timeout).await
    }

    async fn shared_conn(&self) -> StoreResult<Conn> {
        Conn::share(&self.inner.shared, &self.inner.pool, self.inner.timeout).await
    }
}

/// Builds the `EVALSHA` invocation of `authorize.lua` exactly as [`Store::authorize`] sends it,
/// so that `token-authority-bench` can time the script alone against the same keys.
#[doc(hidden)]
pub fn authorize_invocation(
    key_hash: KeyHash,
    project_id: Option<&str>,
    required_scope: Scope,
    cost: u64,
    system: SystemLimit,
) -> redis::ScriptInvocation<'static> {
    let mode = ScriptMode::Authorize {
        project_id,
        required_scope,
    };
    authorize::invocation(key_hash, mode, cost, system)
}

/// Reads a reply of `authorize.lua` as [`Store::authorize`] does, for the benchmarks of the
/// Authorize path.
#[doc(hidden)]
pub fn parse_authorize_reply(
    value: redis::Value,
    required_scope: Scope,
) -> StoreResult<AuthorizeOutcome> {
    authorize::parse(value, Some(required_scope)).map(authorize::Evaluation::into_outcome)
}

impl Store for RedisStore {
    async fn authorize(&self, query: AuthorizeQuery<'_>) -> StoreResult<AuthorizeOutcome> {
        // Authorize sends one command, so its calls share connections (see `shared.rs`).
        let conn = self.shared_conn().await?;
        let evaluation = authorize::evaluate(
            &conn,
            query.key_hash,
            authorize_mode(&query),
            query.cost,
            query.system,
        )
        .await?;
        Ok(evaluation.into_outcome())
    }

    async fn rate_limit(
        &self,
        token: TokenLocator<'_>,
        cost: u64,
        mode: RateMode,
        system: SystemLimit,
    ) -> StoreResult<RateReport> {
        let conn = self.conn().await?;
        let (hash, missing_id) = match token {
            TokenLocator::Key(hash) => (hash, "for this key"),
            TokenLocator::Id {
                project_id,
                token_id,
            } => (
                tokens::locate(&conn, project_id, token_id).await?.hash,
                token_id,
            ),
        };

        let evaluation =
            authorize::evaluate(&conn, hash, ScriptMode::Rate(mode), cost, system).await?;
        match evaluation {
            authorize::Evaluation {
                token: Some(token),
                status: Some(status),
                rate: Some(outcome),
                ..
            } => Ok(RateReport {
                token,
                status,
                outcome,
            }),
            // Deleted or regenerated since it was located.
            _ => Err(tokens::not_found("token", missing_id)),
        }
    }

    async fn create_project(
        &self,
        project: &ProjectRecord,
        tokens: &[NewToken],
    ) -> StoreResult<()> {
        projects::create(&self.conn().await?, project, tokens).await
    }

    async fn get_project(&self, project_id: &str) -> StoreResult<ProjectRecord> {
        projects::get(&self.conn().await?, project_id).await
    }

    async fn delete_project(&self, project_id: &str) -> StoreResult<u32> {
        projects::delete(&self.conn().await?, project_id).await
    }

    async fn set_account_plan(&self, account_id: &str, plan: Plan) -> StoreResult<()> {
        projects::set_plan(&self.conn().await?, account_id, plan).await
    }

    async fn account_plan(&self, account_id: &str) -> StoreResult<Plan> {
        projects::read_plan(&self.conn().await?, account_id).await
    }

    async fn account_projects(&self, account_id: &str) -> StoreResult<Vec<ProjectRecord>> {
        projects::account_projects(&self.conn().await?, account_id).await
    }

    async fn create_token(&self, token: &NewToken) -> StoreResult<()> {
        tokens::create(&self.conn().await?, token).await
    }

    async fn get_token(&self, project_id: &str, token_id: &str) -> StoreResult<TokenRecord> {
        tokens::get(&self.conn().await?, project_id, token_id).await
    }

    async fn list_tokens(&self, query: ListQuery<'_>) -> StoreResult<TokenPage> {
        tokens::list(&self.conn().await?, query).await
    }

    async fn update_token(
        &self,
        project_id: &str,
        token_id: &str,
        patch: &TokenPatch,
        now_ms: i64,
    ) -> StoreResult<TokenRecord> {
        tokens::update(&self.conn().await?, project_id, token_id, patch, now_ms).await
    }

    async fn expire_token(
        &self,
        project_id: &str,
        token_id: &str,
        now_ms: i64,
    ) -> StoreResult<TokenRecord> {
        tokens::expire(&self.conn().await?, project_id, token_id, now_ms).await
    }

    async fn delete_token(&self, project_id: &str, token_id: &str) -> StoreResult<()> {
        tokens::delete(&self.conn().await?, project_id, token_id).await
    }

    async fn regenerate_token(
        &self,
        project_id: &str,
        token_id: &str,
        key: &NewKey,
        now_ms: i64,
        only_if_expired: bool,
    ) -> StoreResult<Option<TokenRecord>> {
        tokens::regenerate(
            &self.conn().await?,
            project_id,
            token_id,
            key,
            now_ms,
            only_if_expired,
        )
        .await
    }

    /// Asks Redis with one SCRIPT EXISTS whether it has every script, on a cluster every
    /// primary, and loads only the missing ones, as after a restart or a SCRIPT FLUSH.
    async fn check_ready(&self) -> StoreResult<()> {
        let conn = self.conn().await?;
        let mut exists = redis::cmd("SCRIPT");
        exists.arg("EXISTS");
        for script in scripts::ALL {
            exists.arg(script.get_hash());
        }
        let found = reply::array(conn.query(&exists).await?, "SCRIPT EXISTS")?;
        if found.len() != scripts::ALL.len() {
            return Err(StoreError::Corrupt(format!(
                "SCRIPT EXISTS returned {} flags for {} scripts",
                found.len(),
                scripts::ALL.len()
            )));
        }
        for (script, found) in scripts::ALL.iter().zip(&found) {
            if !reply::flag(found, "SCRIPT EXISTS")? {
                conn.load(script).await?;
            }
        }
        Ok(())
    }
}
