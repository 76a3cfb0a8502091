//! A `token-authority` child process: its address, its captured standard error, signals, and
//! gRPC clients connected to it.

use std::{
    net::SocketAddr,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use nix::{
    sys::signal::{self, Signal},
    unistd::Pid,
};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::watch,
    time::{Instant, timeout},
};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use token_authority::proto::v1::token_authority_client::TokenAuthorityClient;

/// How long the server may take from spawn to its "serving gRPC" log line.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a process may take to exit, or a rejected configuration to be reported.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long readiness may take to change: one readiness interval (2 s) plus one check timeout
/// (1 s) in the server, with slack for a loaded machine.
pub const READINESS_CHANGE: Duration = Duration::from_secs(6);

/// The health service name that reports whether the token store is ready.
pub const READINESS: &str = "tokenauthority.v1.TokenAuthority";

/// Returns a command that runs the server binary with exactly `args`, with no
/// `TOKEN_AUTHORITY_*` or `OTEL_*` variable inherited from the environment that runs the tests.
/// The Prometheus endpoint listens on a free loopback port unless `args` set another address, because
/// its default, 0.0.0.0:9090, is one port for every test.
pub fn bare_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_token-authority"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("TOKEN_AUTHORITY_") || name_text.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.env("TOKEN_AUTHORITY_METRICS_LISTEN", "127.0.0.1:0");
    command
}

/// Returns a command that runs the server on a free loopback port with JSON logs, plus `args`.
pub fn server_command(args: &[&str]) -> Command {
    let mut command = bare_command(&["--listen", "127.0.0.1:0", "--log-format", "json"]);
    command.args(args);
    command
}

/// Starts the server with [`server_command`] and waits until it serves.
pub async fn start(args: &[&str]) -> ServerProcess {
    ServerProcess::spawn(server_command(args)).await
}

/// A running server. Dropping it kills the process.
pub struct ServerProcess {
    child: Child,
    address: SocketAddr,
    /// Every line written to standard error so far. The sender is dropped at end of file.
    stderr: watch::Receiver<Vec<String>>,
}

impl ServerProcess {
    /// Spawns `command` and waits until the server logs the address it listens on.
    pub async fn spawn(mut command: Command) -> ServerProcess {
        let mut child = command
            .spawn()
            .expect("failed to spawn the token-authority binary");
        let stderr = capture_stderr(&mut child);
        let mut process = ServerProcess {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };

        let line = process.wait_for_log("serving gRPC", START_TIMEOUT).await;
        let address = line["address"]
            .as_str()
            .unwrap_or_else(|| panic!("\"serving gRPC\" line without an address: {line}"));
        process.address = address
            .parse()
            .unwrap_or_else(|error| panic!("invalid address {address:?} in the log: {error}"));
        process
    }

    /// Returns the address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Returns a channel to the server that connects on first use.
    pub fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.address))
            .expect("a socket address is a valid URI authority")
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy()
    }

    /// Returns a client of the token authority service.
    pub fn authority(&self) -> TokenAuthorityClient<Channel> {
        TokenAuthorityClient::new(self.channel())
    }

    /// Returns a client of the gRPC health service.
    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel())
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let id = self
            .child
            .id()
            .expect("the process has not been reaped yet");
        let pid = Pid::from_raw(i32::try_from(id).expect("a process id fits in i32"));
        signal::kill(pid, signal).expect("failed to signal the server process");
    }

    /// Waits for the process to exit and for its standard error to reach end of file.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let status = match timeout(limit, self.child.wait()).await {
            Ok(status) => status.expect("failed to wait for the server process"),
            Err(_) => panic!(
                "the server did not exit within {limit:?}; standard error:\n{}",
                self.stderr_text()
            ),
        };
        // The predicate never holds, so this returns when the reader drops the sender at EOF.
        let _ = timeout(limit, self.stderr.wait_for(|_| false)).await;
        status
    }

    /// Stops the server with SIGTERM, waits until its standard error is complete, and checks that
    /// it exited with status 0.
    pub async fn stop(&mut self) {
        self.signal(Signal::SIGTERM);
        let status = self.wait_for_exit(EXIT_TIMEOUT).await;
        assert!(
            status.success(),
            "exit status {status}; logs:\n{}",
            self.stderr_text()
        );
    }

    /// Waits until the readiness health service reports SERVING, and fails the test with the
    /// server's logs when it does not within `limit`.
    pub async fn assert_ready(&self, limit: Duration) {
        let ready =
            wait_for_health(&mut self.health(), READINESS, ServingStatus::Serving, limit).await;
        assert!(
            ready,
            "readiness never turned SERVING; logs:\n{}",
            self.stderr_text()
        );
    }

    /// Returns everything the process has written to standard error so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.borrow().join("\n")
    }

    /// Parses the standard error lines that are JSON log events.
    pub fn log_events(&self) -> Vec<Value> {
        self.stderr
            .borrow()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Returns the log events whose message starts with `prefix`.
    pub fn logs_starting_with(&self, prefix: &str) -> Vec<Value> {
        self.log_events()
            .into_iter()
            .filter(|event| message(event).starts_with(prefix))
            .collect()
    }

    /// Waits for a log event whose message is `expected`, and returns it.
    pub async fn wait_for_log(&mut self, expected: &str, limit: Duration) -> Value {
        let find = |lines: &[String]| {
            lines
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|event| message(event) == expected)
        };
        // Take the event out of the channel's read guard before `stderr_text` reads it again.
        let waited = timeout(limit, self.stderr.wait_for(|lines| find(lines).is_some()))
            .await
            .map(|result| result.map(|lines| find(&lines)));
        match waited {
            Ok(Ok(event)) => event.expect("the predicate held"),
            Ok(Err(_)) => panic!(
                "the server closed standard error before logging {expected:?}; it wrote:\n{}",
                self.stderr_text()
            ),
            Err(_) => panic!(
                "the server did not log {expected:?} within {limit:?}; it wrote:\n{}",
                self.stderr_text()
            ),
        }
    }
}

/// Reads the child's standard error line by line into a watch channel, so that tests can both
/// wait for a line and inspect every line afterwards.
fn capture_stderr(child: &mut Child) -> watch::Receiver<Vec<String>> {
    let stderr = child.stderr.take().expect("standard error is piped");
    let (sender, receiver) = watch::channel(Vec::new());
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            sender.send_modify(|all| all.push(line));
        }
    });
    receiver
}

/// Returns the `message` field of a JSON log event, or "" when it has none.
pub fn message(event: &Value) -> &str {
    event["message"].as_str().unwrap_or_default()
}

/// Runs `command` to completion and returns its exit status and standard error. `label` names
/// the run in a failure message.
pub async fn run_to_exit(mut command: Command, label: &str) -> (ExitStatus, String) {
    let child = command
        .spawn()
        .expect("failed to spawn the token-authority binary");
    match timeout(EXIT_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => {
            let output = output.expect("failed to wait for the server process");
            (
                output.status,
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
        // Dropping the future drops the child, which kills it.
        Err(_) => panic!("{label}: the server did not exit within {EXIT_TIMEOUT:?}"),
    }
}

/// Asks the health service for `service`'s status.
pub async fn health_status(
    client: &mut HealthClient<Channel>,
    service: &str,
) -> Result<ServingStatus, tonic::Status> {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let status = client.check(request).await?.into_inner().status;
    Ok(ServingStatus::try_from(status).unwrap_or(ServingStatus::Unknown))
}

/// Polls the health status of `service` every 100 ms until it is `expected`, for at most
/// `limit`. Returns whether it got there.
pub async fn wait_for_health(
    client: &mut HealthClient<Channel>,
    service: &str,
    expected: ServingStatus,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(status) = health_status(client, service).await
            && status == expected
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
