//! Test fixtures: private `redis-server` processes, each on a free loopback port with its own
//! temporary directory, stopped when the fixture is dropped.
//!
//! Tests never use a Redis someone else started. A server starts in milliseconds, so each test
//! can have its own.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

/// How long a server may take to reply to PING, or a cluster to report `cluster_state:ok`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times a start is retried when another process took the chosen port first.
const START_ATTEMPTS: u32 = 5;

/// How often readiness is polled while a server starts.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The number of Redis Cluster hash slots.
const CLUSTER_SLOTS: u16 = 16_384;

/// A `redis-server` process on 127.0.0.1 with no persistence, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it replies to PING.
    ///
    /// # Panics
    /// When `redis-server` is not installed or does not start within 20 seconds.
    pub async fn start() -> RedisServer {
        Self::start_with(|_, _| Vec::new()).await
    }

    /// Starts a server with extra arguments, built from its port and directory.
    async fn start_with(extra: impl Fn(u16, &Path) -> Vec<String>) -> RedisServer {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let dir = new_temp_dir();
            let child = spawn(port, &dir, &extra(port, &dir));
            let mut server = RedisServer { child, port, dir };
            match server.wait_ready().await {
                Ok(()) => return server,
                // Most likely another process took the port between the check and the start.
                Err(failure) => failures.push(failure),
            }
        }
        panic!("redis-server did not start in {START_ATTEMPTS} attempts: {failures:#?}");
    }

    /// Returns the URL to connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Returns the port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Suspends the process (SIGSTOP), so connections stay open and requests get no reply.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Resumes a process suspended by [`RedisServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("failed to run kill");
        assert!(
            status.success(),
            "kill {signal} {} failed: {status}",
            self.child.id()
        );
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let url = self.url();
        loop {
            if let Some(status) = self.child.try_wait().map_err(|error| error.to_string())? {
                return Err(format!("redis-server exited with {status}: {}", self.log()));
            }
            if ping(&url).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "redis-server did not reply to PING on {url}: {}",
                    self.log()
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL also ends a paused process. Errors mean the process is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of private servers on loopback, every node a primary, killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `nodes` servers in cluster mode, splits the hash slots evenly between them, joins
    /// them, and waits until every node reports `cluster_state:ok`.
    ///
    /// # Panics
    /// When `redis-server` (7.0 or newer) is not installed or the cluster does not form within
    /// 20 seconds.
    pub async fn start(nodes: usize) -> RedisCluster {
        assert!(
            (1..=16).contains(&nodes),
            "a test cluster has 1 to 16 nodes, not {nodes}"
        );
        let mut servers = Vec::with_capacity(nodes);
        let mut bus_ports = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let bus_port = free_port();
            let server = RedisServer::start_with(|_, dir| {
                vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    dir.join("nodes.conf").display().to_string(),
                    "--cluster-port".into(),
                    bus_port.to_string(),
                ]
            })
            .await;
            servers.push(server);
            bus_ports.push(bus_port);
        }

        let slots_per_node = CLUSTER_SLOTS / nodes as u16;
        for (index, server) in servers.iter().enumerate() {
            let first = index as u16 * slots_per_node;
            let last = if index + 1 == nodes {
                CLUSTER_SLOTS - 1
            } else {
                first + slots_per_node - 1
            };
            let mut connection = connect(&server.url()).await;
            let _: () = redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(first)
                .arg(last)
                .query_async(&mut connection)
                .await
                .expect("CLUSTER ADDSLOTSRANGE failed");
        }
        let mut first = connect(&servers[0].url()).await;
        for (server, bus_port) in servers.iter().zip(&bus_ports).skip(1) {
            let _: () = redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(server.port())
                .arg(*bus_port)
                .query_async(&mut first)
                .await
                .expect("CLUSTER MEET failed");
        }

        let cluster = RedisCluster { nodes: servers };
        cluster.wait_ready().await;
        cluster
    }

    /// Returns the node URLs, comma-separated, as the store's cluster configuration takes them.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Returns the nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let expected_nodes = format!("cluster_known_nodes:{}", self.nodes.len());
        for server in &self.nodes {
            let mut connection = connect(&server.url()).await;
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut connection)
                    .await
                    .expect("CLUSTER INFO failed");
                if info.contains("cluster_state:ok") && info.contains(&expected_nodes) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster did not form within {START_TIMEOUT:?}; node {} reports:\n{info}",
                    server.port()
                );
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// Returns a port that was free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind a loopback port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// Creates a new, empty directory under the system's temporary directory.
fn new_temp_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let random = getrandom::u32().expect("the random source failed");
    let name = format!(
        "token-authority-redis-{}-{}-{random:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    fs::create_dir(&dir)
        .unwrap_or_else(|error| panic!("failed to create {}: {error}", dir.display()));
    dir
}

fn spawn(port: u16, dir: &Path, extra: &[String]) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "failed to start redis-server ({error}); the tests need it on PATH: install it \
                 with `apt-get install redis-server`"
            )
        })
}

async fn ping(url: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING").query_async(&mut connection).await
}

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("invalid Redis URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|error| panic!("failed to connect to {url}: {error}"))
}
