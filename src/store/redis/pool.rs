//! The connection pool, and the handle each store operation runs its commands through.
//!
//! Connections are multiplexed: one socket carries many requests, so a connection taken from the
//! pool is used by one operation but may serve several of its commands at once. The pool checks
//! a connection with PING only when it has been idle for a while, so under load Authorize stays
//! one round trip (the pool of `deadpool-redis` sends a PING on every checkout). A connection
//! whose command fails with a connection error or times out is dropped instead of returned.
//!
use std::{
    fmt,
    future::Future,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult};
use redis::{
    AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, Value,
    aio::{ConnectionLike, MultiplexedConnection},
    cluster::{ClusterClient, ClusterClientBuilder},
    cluster_async::ClusterConnection,
};

use tracing::Instrument;

use super::{
    RedisConfig,
    observed::{self, Observed},
    shared::{Lease, SharedConnections},
};
use crate::store::{StoreError, StoreResult};

/// How long a connection may sit unused before the pool checks it with PING on its next use.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(10);

/// How many times the Cluster client retries a command after a redirection or a lost node,
/// within the command timeout.
const CLUSTER_RETRIES: u32 = 3;

/// A pool of connections to one Redis server or one Redis Cluster.
pub type Pool = managed::Pool<Manager>;

/// Builds the pool. Checks the URLs but does not connect.
pub fn build(config: &RedisConfig) -> StoreResult<Pool> {
    if config.pool_size == 0 {
        return Err(invalid_config(
            "the Redis pool size must be at least 1, got 0".to_owned(),
        ));
    }
    if config.command_timeout.is_zero() {
        return Err(invalid_config(
            "the Redis command timeout must be above 0".to_owned(),
        ));
    }

    let timeout = config.command_timeout;
    let client = if config.cluster {
        let urls: Vec<&str> = config.url.split(',').map(str::trim).collect();
        if let Some(empty) = urls.iter().position(|url| url.is_empty()) {
            return Err(invalid_config(format!(
                "the Redis Cluster seed URL list has an empty entry at position {}",
                empty + 1
            )));
        }
        for url in &urls {
            redis::Client::open(*url).map_err(|error| {
                invalid_config(format!("invalid Redis URL {}: {error}", redact_url(url)))
            })?;
        }
        let client = ClusterClientBuilder::new(urls)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(CLUSTER_RETRIES)
            .build()
            .map_err(|error| invalid_config(format!("invalid Redis Cluster config: {error}")))?;
        Client::Cluster(client)
    } else {
        if config.url.contains(',') {
            return Err(invalid_config(format!(
                "{} is a list of URLs; pass one Redis URL, or add --redis-cluster to use the \
                 list as Redis Cluster seed nodes",
                redact_url(&config.url)
            )));
        }
        let client = redis::Client::open(config.url.as_str()).map_err(|error| {
            invalid_config(format!(
                "invalid Redis URL {}: {error}",
                redact_url(&config.url)
            ))
        })?;
        let settings = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        Client::Single { client, settings }
    };

    managed::Pool::builder(Manager { client })
        .max_size(config.pool_size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|error| invalid_config(format!("invalid Redis pool config: {error}")))
}

/// Masks the passwords of a Redis URL, or of each URL of a comma-separated list, with `***`:
/// the user information (`user:password@`) and the `pass` and `password` query parameters that
/// `redis+unix` URLs use.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|part| redact_one_url(part.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };

    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***{}", &rest[at..]),
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    let Some(query) = query else {
        return base;
    };

    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _))
                if name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password") =>
            {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn invalid_config(message: String) -> StoreError {
    StoreError::InvalidConfig(message)
}

/// The client the pool creates connections with.
enum Client {
    Single {
        client: redis::Client,
        settings: AsyncConnectionConfig,
    },
    Cluster(ClusterClient),
}

/// Creates connections for the pool.
pub struct Manager {
    client: Client,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The clients hold the URL, which may contain a password.
        let kind = match self.client {
            Client::Single { .. } => "single",
            Client::Cluster(_) => "cluster",
        };
        f.debug_struct("Manager")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        match &self.client {
            Client::Single { client, settings } => Ok(Connection::Single(
                client
                    .get_multiplexed_async_connection_with_config(settings)
                    .await?,
            )),
            Client::Cluster(client) => {
                Ok(Connection::Cluster(client.get_async_connection().await?))
            }
        }
    }

    async fn recycle(
        &self,
        connection: &mut Connection,
        metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        // Connections that failed never come back to the pool (see `Conn`), so only one that
        // Redis may have closed while it sat idle, for example across a restart, is worth a
        // round trip. NOTE: a connection that breaks while in use still fails that request.
        if metrics.last_used() < IDLE_CHECK_AFTER {
            return Ok(());
        }
        redis::cmd("PING")
            .query_async::<()>(connection)
            .await
            .map_err(RecycleError::Backend)
    }
}

/// A multiplexed connection to one server or to a cluster. Clones share the connection.
#[derive(Clone)]
pub enum Connection {
    /// A connection to one server.
    Single(MultiplexedConnection),
    /// Connections to every node of a cluster, routing each command by its key's slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// A connection taken from the pool for one store operation. Every command through it is bounded
/// by the command timeout.
pub struct Conn {
    object: Option<Object<Manager>>,
    lease: Option<Lease>,
    connection: Connection,
    timeout: Duration,
    broken: AtomicBool,
}

impl Conn {
    /// Takes a connection from the pool, creating one if none is idle, within `timeout`.
    pub async fn take(pool: &Pool, timeout: Duration) -> StoreResult<Conn> {
        let object = match tokio::time::timeout(timeout, pool.get()).await {
            Err(_) | Ok(Err(PoolError::Timeout(_))) => return Err(StoreError::Timeout(timeout)),
            Ok(Err(PoolError::Backend(error))) => return Err(map_error(error, timeout)),
            Ok(Err(error)) => return Err(StoreError::Unavailable(Box::new(error))),
            Ok(Ok(object)) => object,
        };
        Ok(Conn {
            connection: (*object).clone(),
            object: Some(object),
            lease: None,
            timeout,
            broken: AtomicBool::new(false),
        })
    }

    /// Takes one of the connections that calls share, connecting it first if needed, within
    /// `timeout`. Other calls may send commands on it at the same time.
    pub async fn share(
        shared: &SharedConnections,
        pool: &Pool,
        timeout: Duration,
    ) -> StoreResult<Conn> {
        let (connection, lease) = shared.get(pool, timeout).await?;
        Ok(Conn {
            object: None,
            lease: Some(lease),
            connection,
            timeout,
            broken: AtomicBool::new(false),
        })
    }

    /// Sends one command and returns its reply.
    pub async fn query(&self, cmd: &Cmd) -> StoreResult<Value> {
        let name = observed::command_name(cmd);
        let mut connection = Observed::start(self.connection.clone(), Some(name));
        let span = connection.span();
        let result = self
            .bounded(cmd.query_async::<Value>(&mut connection))
            .instrument(span)
            .await;
        connection.finish(&result);
        result
    }

    /// Runs a script with EVALSHA, loading it first when Redis does not have it (NOSCRIPT).
    pub async fn invoke(&self, invocation: &redis::ScriptInvocation<'_>) -> StoreResult<Value> {
        let mut connection = Observed::start(self.connection.clone(), None);
        let span = connection.span();
        let result = self
            .bounded(invocation.invoke_async::<Value>(&mut connection))
            .instrument(span)
            .await;
        connection.finish(&result);
        result
    }

    /// Loads a script with SCRIPT LOAD. On a cluster the command goes to every node.
    pub async fn load(&self, script: &redis::Script) -> StoreResult<()> {
        let mut connection = self.connection.clone();
        self.bounded(script.load_async(&mut connection))
            .await
            .map(drop)
    }

    async fn bounded<T>(
        &self,
        request: impl Future<Output = redis::RedisResult<T>>,
    ) -> StoreResult<T> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.is_unrecoverable_error()
                    || error.is_timeout()
                {
                    self.broken.store(true, Ordering::Relaxed);
                }
                Err(map_error(error, self.timeout))
            }
            Err(_) => {
                // The connection may be stuck behind a slow reply, so a fresh one is safer.
                self.broken.store(true, Ordering::Relaxed);
                Err(StoreError::Timeout(self.timeout))
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.broken.load(Ordering::Relaxed)
            && let Some(object) = self.object.take()
        {
            // Taking the object out of the pool drops the connection, and the pool creates a new one
            // when it needs one.
            drop(Object::take(object));
        }
        if self.broken.load(Ordering::Relaxed)
            && let Some(lease) = self.lease.take()
        {
            lease.discard();
        }
    }
}

/// Converts a Redis error into a store error: a timeout, or else an unavailable store.
pub fn map_error(error: RedisError, timeout: Duration) -> StoreError {
    if error.is_timeout() {
        StoreError::Timeout(timeout)
    } else {
        StoreError::Unavailable(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_user_information() {
        assert_eq!(
            redact_url("redis://user:s3cret@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(redact_url("redis://:p@ss@cache"), "redis://***@cache");
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redact_url("cache:6379"), "cache:6379");
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?db=1&pass=s3cret"),
            "redis+unix:///run/redis.sock?db=1&pass=***"
        );
        assert_eq!(
            redact_url("redis://cache:6379/0?Password=s3cret"),
            "redis://cache:6379/0?Password=***"
        );
        assert_eq!(
            redact_url("redis://:a@one:1, redis://:b@two:2"),
            "redis://***@one:1,redis://***@two:2"
        );
    }
}
