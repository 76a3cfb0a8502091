//! The real `tokenctl` binary against a token authority served in-process: every subcommand,
//! JSON output, exit codes and bad input. `quickstart` replays the README's quickstart.

mod quickstart;

use std::{
    collections::BTreeMap,
    fs,
    future::Future,
    io::{Read, Write},
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

use token_authority::{
    domain::SystemLimit,
    server::{self, ServeOptions},
    service::Authority,
    store::{
        Store,
        memory::MemoryStore,
        redis::{RedisConfig, RedisStore},
    },
    testing::RedisServer,
};

/// The path of the tokenctl binary Cargo built for these tests.
const TOKENCTL: &str = env!("CARGO_BIN_EXE_tokenctl");

/// How long one tokenctl run may take before the test fails instead of hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// Exit codes tokenctl documents.
const EXIT_ERROR: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_DENIED: i32 = 3;
const EXIT_UNREACHABLE: i32 = 4;

/// A token authority served in-process on a loopback port, on its own thread and runtime, so
/// the test thread can wait for tokenctl processes with blocking calls.
struct TestServer {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server over a new in-memory store.
    fn memory(system: SystemLimit) -> TestServer {
        TestServer::start(|| async { MemoryStore::new() }, system)
    }

    /// Starts a server over the Redis at `redis_url`, which other servers may share.
    fn redis(redis_url: &str, system: SystemLimit) -> TestServer {
        let redis_url = redis_url.to_owned();
        let connect = || async move {
            let store = RedisStore::new(&RedisConfig {
                url: redis_url,
                cluster: false,
                pool_size: 4,
                command_timeout: Duration::from_secs(5),
            })
            .expect("failed to create the Redis store");
            store
                .load_scripts()
                .await
                .expect("failed to load the Lua scripts");
            store
        };
        TestServer::start(connect, system)
    }

    /// Binds a free loopback port, then serves the store made by `make_store` on it from a
    /// new thread. Connections wait in the listener's backlog until the server accepts them,
    /// so the server is usable as soon as this returns.
    fn start<S, F, Fut>(make_store: F, system: SystemLimit) -> TestServer
    where
        S: Store,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = S>,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback listener");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let options = ServeOptions {
            shutdown_timeout: Duration::from_secs(2),
            ..ServeOptions::default()
        };

        // The server future is not Send, so it runs on a current-thread runtime of its own.
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("failed to build a runtime");
            runtime.block_on(async move {
                let store = make_store().await;
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                let stopped = async move {
                    let _ = stopped.await;
                };
                server::serve(listener, Authority::new(store, system), options, stopped)
                    .await
                    .expect("the in-process server failed");
            });
        });
        TestServer {
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Runs tokenctl against this server with `command`, split at whitespace.
    fn run(&self, command: &str) -> Run {
        self.run_args(&command.split_whitespace().collect::<Vec<_>>())
    }

    /// Runs tokenctl against this server with `args`.
    fn run_args(&self, args: &[&str]) -> Run {
        let mut full = vec!["--server", self.url.as_str()];
        full.extend_from_slice(args);
        run_tokenctl(&full, None, None)
    }

    /// Runs `command` with `--output json`, checks the exit code, and returns the document.
    fn json(&self, command: &str, expected_code: i32) -> Value {
        self.json_args(
            &command.split_whitespace().collect::<Vec<_>>(),
            expected_code,
        )
    }

    /// Runs `args` with `--output json`, checks the exit code, and returns the document.
    fn json_args(&self, args: &[&str], expected_code: i32) -> Value {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        let run = self.run_args(&full);
        run.assert_code(expected_code);
        run.json()
    }

    /// Creates a project and returns its default tokens by name, which is their scope's name.
    fn create_project(&self, account: &str, project: &str) -> BTreeMap<String, IssuedToken> {
        let command = format!("project create --account {account} --project {project} --name P");
        let reply = self.json(&command, 0);
        reply["tokens"]
            .as_array()
            .expect("tokens is an array")
            .iter()
            .map(|token| {
                let issued = IssuedToken::from_json(token);
                (issued.name.clone(), issued)
            })
            .collect()
    }

    /// Runs authorize with `key` for `action` and returns the reply after checking the exit
    /// code.
    fn authorize(&self, key: &str, action: &str, expected_code: i32) -> Value {
        self.json_args(
            &["authorize", "--key", key, "--action", action],
            expected_code,
        )
    }

    /// Sets the account's plan to paid, which user-defined rate limits need.
    fn set_paid(&self, account: &str) {
        self.json(
            &format!("account set-plan --account {account} --plan paid"),
            0,
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The drain deadline of two seconds bounds this wait.
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            if joined.is_err() && !thread::panicking() {
                panic!("the in-process server thread panicked");
            }
        }
    }
}

/// A token with its key, from the JSON output.
#[derive(Clone, Debug)]
struct IssuedToken {
    token_id: String,
    name: String,
    key: String,
}

impl IssuedToken {
    fn from_json(value: &Value) -> IssuedToken {
        IssuedToken {
            token_id: text(&value["token_id"]),
            name: text(&value["name"]),
            key: text(&value["access_token"]),
        }
    }
}

/// The outcome of one tokenctl run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, expected: i32) {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }

    /// Parses standard output as exactly one JSON document.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "standard output is not one JSON document ({error}):\n{}",
                self.stdout
            )
        })
    }
}

/// Runs the tokenctl binary with `args`, optional standard input and an optional working
/// directory, with no TOKENCTL_* variables inherited. Fails the test after [`RUN_TIMEOUT`].
fn run_tokenctl(args: &[&str], stdin: Option<&str>, dir: Option<&Path>) -> Run {
    let mut command = Command::new(TOKENCTL);
    command
        .args(args)
        .env_remove("TOKENCTL_SERVER")
        .env_remove("TOKENCTL_OUTPUT")
        .env_remove("TOKENCTL_TIMEOUT")
        .env_remove("TOKENCTL_ADMIN_TOKEN_FILE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let child = command.spawn().expect("failed to start tokenctl");
    wait_with_timeout(child, stdin, &format!("tokenctl {}", args.join(" ")))
}

/// Feeds `stdin` to a child, collects its output, and kills it if it outlives [`RUN_TIMEOUT`].
fn wait_with_timeout(
    mut child: std::process::Child,
    stdin: Option<&str>,
    description: &str,
) -> Run {
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes())
            .expect("failed to write standard input");
    }
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("stdout is piped")));
    let stderr = read_all(Box::new(child.stderr.take().expect("stderr is piped")));

    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {RUN_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code().expect("tokenctl exited without a code"),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

fn small_limit() -> SystemLimit {
    SystemLimit {
        count: 3,
        window_seconds: 60,
    }
}

/// Returns the length of a JSON array, or `None` when the value is not one.
fn count(value: &Value) -> Option<usize> {
    value.as_array().map(Vec::len)
}

#[test]
fn project_create_prints_keys_once() {
    let server = TestServer::memory(SystemLimit::DEFAULT);

    let run = server.run_args(&[
        "project",
        "create",
        "--account",
        "acme",
        "--project",
        "web",
        "--name",
        "Web shop",
    ]);
    run.assert_code(0);
    let first_line = "Created project web (Web shop) in account acme with 4 tokens:";
    assert!(run.stdout.starts_with(first_line), "{}", run.stdout);
    assert!(run.stdout.contains("ACCESS TOKEN"), "{}", run.stdout);
    assert!(run.stderr.contains("shown only once"), "{}", run.stderr);

    let tokens = server.create_project("acme", "api");
    let names: Vec<&str> = tokens.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["post_client_item", "post_server_item", "read", "write"]
    );
    for token in tokens.values() {
        assert_eq!(token.key.len(), 32, "{token:?}");
        assert!(
            token.key.bytes().all(|b| b.is_ascii_hexdigit()),
            "{token:?}"
        );
        assert!(token.token_id.starts_with("tok_"), "{token:?}");
    }
}

#[test]
fn project_create_json_shape() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let reply = server.json("project create --account acme --project web --name Web", 0);

    assert_eq!(reply["project"]["project_id"], "web");
    assert_eq!(reply["project"]["account_id"], "acme");
    assert_eq!(reply["project"]["name"], "Web");
    assert!(reply["project"]["created_at"].is_string(), "{reply}");
    let first = &reply["tokens"][0];
    assert_eq!(first["scopes"], json!(["post_server_item"]));
    assert_eq!(first["status"], "enabled");
    assert_eq!(first["rate_limit"], Value::Null);
    assert_eq!(first["expires_at"], Value::Null);
    let key = text(&first["access_token"]);
    assert_eq!(text(&first["key_hint"]), key[28..]);
}

#[test]
fn project_create_duplicate_fails() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    server.create_project("acme", "web");

    let reply = server.json(
        "project create --account acme --project web --name Web",
        EXIT_ERROR,
    );
    assert_eq!(reply["error"]["code"], "already_exists");
    let message = text(&reply["error"]["message"]);
    assert!(message.contains("choose another id"), "{message}");
}

#[test]
fn project_delete_removes_tokens() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");

    let reply = server.json("project delete --project web", 0);
    assert_eq!(reply["deleted_token_count"], 4);
    let denied = server.authorize(&tokens["read"].key, "read", EXIT_DENIED);
    assert_eq!(denied["denial_reason"], "unknown_token");

    let run = server.run("token list --project web");
    run.assert_code(EXIT_DENIED);
    assert!(
        run.stderr.contains("project web not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn account_set_plan_reports_plan() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let reply = server.json("account set-plan --account acme --plan paid", 0);
    assert_eq!(reply, json!({"account_id": "acme", "plan": "paid"}));

    let run = server.run("account set-plan --account acme --plan free");
    run.assert_code(0);
    assert_eq!(run.stdout, "Account acme is on the free plan.\n");
}

#[test]
fn token_create_with_settings() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    server.create_project("acme", "web");
    server.set_paid("acme");

    let reply = server.json(
        "token create --project web --name ci --scope write --scope read --scope write \
         --rate-limit 100/60 --expires-at 2031-01-01T01:00:00+01:00",
        0,
    );
    let token = &reply["token"];
    assert_eq!(token["name"], "ci");
    assert_eq!(token["scopes"], json!(["read", "write"]));
    assert_eq!(
        token["rate_limit"],
        json!({"count": 100, "window_seconds": 60})
    );
    assert_eq!(token["expires_at"], "2031-01-01T00:00:00Z");
    let key = text(&token["access_token"]);
    assert_eq!(server.authorize(&key, "write", 0)["decision"], "allow");
}

#[test]
fn token_create_rate_limit_needs_paid() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    server.create_project("acme", "web");

    let run = server.run("token create --project web --name ci --scope read --rate-limit 100/60");
    run.assert_code(EXIT_ERROR);
    let prefix = "error: token create: not allowed now:";
    assert!(run.stderr.starts_with(prefix), "{}", run.stderr);
    assert!(run.stderr.contains("paid"), "{}", run.stderr);
}

#[test]
fn token_create_unknown_scope_lists_scopes() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let run = server.run("token create --project web --name ci --scope admin");
    run.assert_code(EXIT_USAGE);
    assert!(
        run.stderr.contains("invalid value 'admin' for '--scope"),
        "{}",
        run.stderr
    );
    let listing = "[possible values: post_server_item, post_client_item, read, write]";
    assert!(run.stderr.contains(listing), "{}", run.stderr);
}

#[test]
fn token_create_empty_name_shows_rule() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    server.create_project("acme", "web");

    let reply = server.json_args(
        &[
            "token",
            "create",
            "--project",
            "web",
            "--name",
            "",
            "--scope",
            "read",
        ],
        EXIT_ERROR,
    );
    assert_eq!(reply["error"]["code"], "invalid_argument");
    let message = text(&reply["error"]["message"]);
    assert!(message.contains("create_token.name"), "{message}");
}

#[test]
fn token_get_and_list() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    let read = &tokens["read"];
    let get = format!("token get --project web --token {}", read.token_id);

    let reply = server.json(&get, 0);
    assert_eq!(reply["token"]["token_id"], read.token_id.as_str());
    assert!(reply["token"].get("access_token").is_none(), "{reply}");

    let run = server.run(&get);
    run.assert_code(0);
    assert!(
        run.stdout.contains("status       enabled"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&read.key), "{}", run.stdout);

    let listed = server.json("token list --project web", 0);
    assert_eq!(count(&listed["tokens"]), Some(4));
    assert_eq!(listed["next_page_token"], "");

    let run = server.run("token list --project web");
    run.assert_code(0);
    assert!(run.stdout.starts_with("TOKEN ID"), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 5, "{}", run.stdout);
}

#[test]
fn token_list_pages_and_filters() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");

    let page = server.json("token list --project web --page-size 3", 0);
    assert_eq!(count(&page["tokens"]), Some(3));
    let next = text(&page["next_page_token"]);
    assert!(!next.is_empty(), "{page}");
    let rest = server.json(
        &format!("token list --project web --page-size 3 --page-token {next}"),
        0,
    );
    assert_eq!(count(&rest["tokens"]), Some(1));

    let run = server.run("token list --project web --page-size 3");
    assert!(run.stderr.contains("--page-token"), "{}", run.stderr);

    let all = server.json("token list --project web --page-size 3 --all", 0);
    assert_eq!(count(&all["tokens"]), Some(4));
    assert_eq!(all["next_page_token"], "");

    let read = &tokens["read"].token_id;
    server.json(&format!("token expire --project web --token {read}"), 0);
    let expired = server.json("token list --project web --status expired", 0);
    assert_eq!(count(&expired["tokens"]), Some(1));
    assert_eq!(expired["tokens"][0]["token_id"], read.as_str());
    let active = server.json("token list --project web --status active", 0);
    assert_eq!(count(&active["tokens"]), Some(3));
}

#[test]
fn token_update_changes_named_fields() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    server.set_paid("acme");
    let read = &tokens["read"];
    let update = |options: &str, code: i32| {
        let command = format!(
            "token update --project web --token {} {options}",
            read.token_id
        );
        server.json(&command, code)
    };

    let renamed = update("--name dashboard", 0);
    assert_eq!(renamed["token"]["name"], "dashboard");
    assert_eq!(renamed["token"]["scopes"], json!(["read"]));

    let changed = update(
        "--scope read --scope write --rate-limit 10/300 --expires-at 2031-06-01T00:00:00Z",
        0,
    );
    assert_eq!(changed["token"]["name"], "dashboard");
    assert_eq!(changed["token"]["scopes"], json!(["read", "write"]));
    assert_eq!(
        changed["token"]["rate_limit"],
        json!({"count": 10, "window_seconds": 300})
    );
    assert_eq!(changed["token"]["expires_at"], "2031-06-01T00:00:00Z");

    let cleared = update("--clear-rate-limit --clear-expires-at", 0);
    assert_eq!(cleared["token"]["rate_limit"], Value::Null);
    assert_eq!(cleared["token"]["expires_at"], Value::Null);
    assert_eq!(cleared["token"]["scopes"], json!(["read", "write"]));

    let disabled = update("--disable", 0);
    assert_eq!(disabled["token"]["status"], "disabled");
    let denied = server.authorize(&read.key, "read", EXIT_DENIED);
    assert_eq!(denied["denial_reason"], "disabled");

    let enabled = update("--enable", 0);
    assert_eq!(enabled["token"]["status"], "enabled");
    assert_eq!(server.authorize(&read.key, "read", 0)["decision"], "allow");
}

#[test]
fn token_update_bad_window_names_field() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    server.set_paid("acme");

    let run = server.run(&format!(
        "token update --project web --token {} --rate-limit 10/61",
        tokens["read"].token_id
    ));
    run.assert_code(EXIT_ERROR);
    let field = "invalid update_token.update.rate_limit";
    assert!(run.stderr.contains(field), "{}", run.stderr);
    assert!(run.stderr.contains("61"), "{}", run.stderr);
}

#[test]
fn token_update_needs_one_option() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let run = server.run("token update --project web --token tok_1");
    run.assert_code(EXIT_USAGE);
    assert!(run.stderr.contains("required"), "{}", run.stderr);

    let conflicting = server.run("token update --project web --token tok_1 --enable --disable");
    conflicting.assert_code(EXIT_USAGE);
}

#[test]
fn token_expire_is_final() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    let write = &tokens["write"];

    let expired = server.json(
        &format!("token expire --project web --token {}", write.token_id),
        0,
    );
    assert_eq!(expired["token"]["status"], "expired");
    let denied = server.authorize(&write.key, "write", EXIT_DENIED);
    assert_eq!(denied["denial_reason"], "expired");
    assert_eq!(denied["http_status"], 403);

    let reply = server.json(
        &format!(
            "token update --project web --token {} --enable",
            write.token_id
        ),
        EXIT_ERROR,
    );
    assert_eq!(reply["error"]["code"], "failed_precondition");
}

#[test]
fn token_delete_then_not_found() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    let read = &tokens["read"];

    let run = server.run(&format!(
        "token delete --project web --token {}",
        read.token_id
    ));
    run.assert_code(0);
    assert!(
        run.stdout.contains("Its key no longer works"),
        "{}",
        run.stdout
    );

    let reply = server.json(
        &format!("token get --project web --token {}", read.token_id),
        EXIT_DENIED,
    );
    assert_eq!(reply["error"]["code"], "not_found");
    let denied = server.authorize(&read.key, "read", EXIT_DENIED);
    assert_eq!(denied["denial_reason"], "unknown_token");
}

#[test]
fn unknown_project_exits_not_found() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let run = server.run("token create --project nowhere --name ci --scope read");
    run.assert_code(EXIT_DENIED);
    assert_eq!(
        run.stderr,
        "error: token create: project nowhere not found; check the id\n"
    );
}

#[test]
fn regenerate_token_replaces_key() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    let read = &tokens["read"];
    let command = format!("regenerate token --project web --token {}", read.token_id);

    let run = server.run(&command);
    run.assert_code(0);
    assert!(run.stderr.contains("shown only once"), "{}", run.stderr);

    let reply = server.json(&command, 0);
    let issued = IssuedToken::from_json(&reply["token"]);
    assert_eq!(issued.token_id, read.token_id);
    assert_ne!(issued.key, read.key);
    let old = server.authorize(&read.key, "read", EXIT_DENIED);
    assert_eq!(old["denial_reason"], "unknown_token");
    assert_eq!(
        server.authorize(&issued.key, "read", 0)["decision"],
        "allow"
    );
}

#[test]
fn regenerate_project_only_expired() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    let write = &tokens["write"];
    server.json(
        &format!("token expire --project web --token {}", write.token_id),
        0,
    );

    let reply = server.json("regenerate project --project web", 0);
    assert_eq!(count(&reply["tokens"]), Some(1));
    let issued = IssuedToken::from_json(&reply["tokens"][0]);
    assert_eq!(issued.token_id, write.token_id);
    assert_eq!(
        server.authorize(&issued.key, "write", 0)["decision"],
        "allow"
    );

    let run = server.run("regenerate project --project web");
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "No expired tokens in project web: nothing was regenerated.\n"
    );
}

#[test]
fn regenerate_account_writes_private_csv() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let web = server.create_project("acme", "web");
    let api = server.create_project("acme", "api");
    for (project, token) in [("web", &web["read"]), ("api", &api["write"])] {
        let command = format!(
            "token expire --project {project} --token {}",
            token.token_id
        );
        server.json(&command, 0);
    }
    let dir = tempfile::tempdir().expect("temporary directory");

    let args = [
        "--server",
        &server.url,
        "regenerate",
        "account",
        "--account",
        "acme",
        "--csv",
        "keys.csv",
    ];
    let run = run_tokenctl(&args, None, Some(dir.path()));
    run.assert_code(0);
    let summary = "Regenerated 2 expired tokens in 2 projects of account acme.\nWrote their new \
                   keys to keys.csv (mode 0600).\n";
    assert!(run.stdout.starts_with(summary), "{}", run.stdout);
    assert!(run.stderr.contains("shown only once"), "{}", run.stderr);

    let path = dir.path().join("keys.csv");
    let mode = fs::metadata(&path).expect("CSV file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let csv = fs::read_to_string(&path).expect("CSV contents");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "project_id,project_name,token_id,token_name,scopes,access_token"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let web_row = lines
        .iter()
        .find(|line| line.contains(&web["read"].token_id))
        .expect("row of web's read token");
    let key = web_row.rsplit(',').next().expect("key column");
    assert_eq!(server.authorize(key, "read", 0)["decision"], "allow");
    assert!(!run.stdout.contains(key), "keys belong in the file only");
}

#[test]
fn regenerate_account_keeps_existing_csv() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let web = server.create_project("acme", "web");
    let read = &web["read"].token_id;
    server.json(&format!("token expire --project web --token {read}"), 0);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys.csv");
    fs::write(&path, "earlier keys\n").expect("existing file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("mode 0644");
    let csv = path.to_str().expect("UTF-8 path");
    let command = format!("regenerate account --account acme --csv {csv}");

    let reply = server.json(&command, EXIT_ERROR);
    assert_eq!(reply["error"]["code"], "file_exists");
    let message = text(&reply["error"]["message"]);
    assert!(message.contains("--force"), "{message}");
    assert_eq!(fs::read_to_string(&path).expect("file"), "earlier keys\n");
    let expired = server.json("token list --project web --status expired", 0);
    assert_eq!(
        count(&expired["tokens"]),
        Some(1),
        "nothing may be regenerated when the file exists"
    );

    let forced = server.json(&format!("{command} --force"), 0);
    assert_eq!(forced["token_count"], 1);
    assert_eq!(forced["csv_file"], csv);
    let mode = fs::metadata(&path).expect("CSV file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let contents = fs::read_to_string(&path).expect("file");
    assert!(contents.contains(read.as_str()), "{contents}");
}

#[test]
fn regenerate_account_requires_csv() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let run = server.run("regenerate account --account acme");
    run.assert_code(EXIT_USAGE);
    assert!(run.stderr.contains("--csv <FILE>"), "{}", run.stderr);
}

#[test]
fn regenerate_account_nothing_expired() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    server.create_project("acme", "web");
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys.csv");
    let csv = path.to_str().expect("UTF-8 path");

    let reply = server.json(&format!("regenerate account --account acme --csv {csv}"), 0);
    assert_eq!(reply["token_count"], 0);
    assert_eq!(reply["csv_file"], Value::Null);
    assert!(
        !path.exists(),
        "no file is written when nothing was regenerated"
    );
}

#[test]
fn authorize_allows_and_denies() {
    let server = TestServer::memory(small_limit());
    let tokens = server.create_project("acme", "web");
    let key = &tokens["post_server_item"].key;

    let allowed = server.json(
        &format!("authorize --key {key} --action post-item --platform python"),
        0,
    );
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["http_status"], 200);
    assert_eq!(allowed["denial_reason"], Value::Null);
    assert_eq!(allowed["rate_limit"]["limit"], 3);
    assert_eq!(allowed["rate_limit"]["remaining"], 2);

    let browser = server.json(
        &format!("authorize --key {key} --action post-item --platform browser"),
        EXIT_DENIED,
    );
    assert_eq!(browser["denial_reason"], "insufficient_scope");
    assert_eq!(browser["http_status"], 403);

    let wrong_project = server.json(
        &format!("authorize --key {key} --action post-deploy --project api"),
        EXIT_DENIED,
    );
    assert_eq!(wrong_project["denial_reason"], "wrong_project");

    let missing = server.authorize("", "read", EXIT_DENIED);
    assert_eq!(missing["denial_reason"], "missing_token");
    assert_eq!(missing["http_status"], 401);
}

#[test]
fn authorize_rate_limited_figures() {
    let server = TestServer::memory(small_limit());
    let tokens = server.create_project("acme", "web");
    let key = &tokens["read"].key;

    let spent = server.json(&format!("authorize --key {key} --action read --cost 3"), 0);
    assert_eq!(spent["rate_limit"]["remaining"], 0);

    let run = server.run(&format!("authorize --key {key} --action read"));
    run.assert_code(EXIT_DENIED);
    for row in [
        "http status                     429",
        "reason                          rate_limited",
        "X-Rate-Limit-Limit              3",
        "X-Rate-Limit-Remaining          0",
        "first denial in window          yes",
    ] {
        assert!(
            run.stdout.contains(row),
            "missing {row:?} in\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("Retry-After"), "{}", run.stdout);

    let again = server.authorize(key, "read", EXIT_DENIED);
    assert_eq!(again["denial_reason"], "rate_limited");
    assert_eq!(again["first_denial_in_window"], false);
    let figures = &again["rate_limit"];
    assert_eq!(figures["kind"], "system");
    assert_eq!(figures["window_seconds"], 60);
    let retry_after = figures["retry_after_seconds"]
        .as_i64()
        .expect("retry after");
    assert!((1..=60).contains(&retry_after), "{figures}");
}

#[test]
fn authorize_reads_key_from_stdin() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let tokens = server.create_project("acme", "web");
    let input = format!("{}\n", tokens["read"].key);

    let args = [
        "--server",
        &server.url,
        "--output",
        "json",
        "authorize",
        "--key",
        "-",
        "--action",
        "read",
    ];
    let run = run_tokenctl(&args, Some(&input), None);
    run.assert_code(0);
    assert_eq!(run.json()["decision"], "allow");
}

#[test]
fn authorize_unknown_action_lists_actions() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let run = server.run("authorize --key k --action post_item");
    run.assert_code(EXIT_USAGE);
    let listing = "possible values: post-item, post-deploy";
    assert!(run.stderr.contains(listing), "{}", run.stderr);
}

#[test]
fn check_reports_and_consumes() {
    let server = TestServer::memory(small_limit());
    let tokens = server.create_project("acme", "web");
    let read = &tokens["read"];
    let by_id = format!("check --project web --token {}", read.token_id);

    let report = server.json(&format!("check --key {}", read.key), 0);
    assert_eq!(report["token_id"], read.token_id.as_str());
    assert_eq!(report["status"], "enabled");
    assert_eq!(report["allowed"], true);
    assert_eq!(report["consumed"], false);
    assert_eq!(report["windows"][0]["kind"], "system");
    assert_eq!(report["windows"][0]["count"], 0);

    let dry = server.json(&format!("{by_id} --cost 2 --dry-run"), 0);
    assert_eq!(dry["allowed"], true);
    assert_eq!(dry["consumed"], false);

    let consumed = server.json(&format!("{by_id} --cost 2"), 0);
    assert_eq!(consumed["consumed"], true);
    assert_eq!(consumed["windows"][0]["count"], 2);
    assert_eq!(consumed["windows"][0]["remaining"], 1);
    assert!(
        consumed["windows"][0]["window_start"].is_string(),
        "{consumed}"
    );

    let too_much = server.json(&format!("{by_id} --cost 2"), EXIT_DENIED);
    assert_eq!(too_much["allowed"], false);
    assert_eq!(too_much["consumed"], false);

    let run = server.run(&format!("check --key {}", read.key));
    run.assert_code(0);
    assert!(
        run.stdout.contains("LIMIT   COUNT  WINDOW"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_unknown_key_advice() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let run = server.run("check --key zzz");
    run.assert_code(EXIT_DENIED);
    assert!(run.stderr.contains("copied whole"), "{}", run.stderr);
    assert!(!run.stderr.contains("check the id"), "{}", run.stderr);

    let run = server.run("check --project web --token tok_missing");
    run.assert_code(EXIT_DENIED);
    assert!(run.stderr.ends_with("; check the id\n"), "{}", run.stderr);
}

#[test]
fn negative_numbers_name_option() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let cases = [
        ("token list --project web --page-size -1", "--page-size"),
        ("authorize --key k --action read --cost -1", "--cost"),
        ("check --key k --cost -1", "--cost"),
        (
            "token create --project web --name ci --scope read --rate-limit -5/60",
            "--rate-limit",
        ),
        ("--timeout 0 token list --project web", "--timeout"),
    ];
    for (command, option) in cases {
        let run = server.run(command);
        run.assert_code(EXIT_USAGE);
        assert!(
            run.stderr.contains("invalid value '"),
            "{command}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(option), "{command}: {}", run.stderr);
        assert!(
            !run.stderr.contains("unexpected argument"),
            "{command}: {}",
            run.stderr
        );
    }
}

#[test]
fn check_needs_key_or_token() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    server.run("check").assert_code(EXIT_USAGE);
    server.run("check --project web").assert_code(EXIT_USAGE);
    server
        .run("check --key k --project web --token t")
        .assert_code(EXIT_USAGE);
    server
        .run("check --key k --dry-run")
        .assert_code(EXIT_USAGE);
}

#[test]
fn missing_argument_is_usage_error() {
    let run = run_tokenctl(&["project", "create", "--account", "acme"], None, None);
    run.assert_code(EXIT_USAGE);
    assert!(run.stderr.contains("--project <PROJECT>"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn help_documents_exit_codes() {
    let run = run_tokenctl(&["--help"], None, None);
    run.assert_code(0);
    for line in [
        "0  success",
        "1  any other error",
        "2  usage error",
        "3  denied",
        "4  server unreachable",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn unreachable_server_exits_four() {
    // Binding and dropping a listener finds a loopback port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let address = format!("127.0.0.1:{port}");

    let run = run_tokenctl(
        &["--server", &address, "token", "list", "--project", "web"],
        None,
        None,
    );
    run.assert_code(EXIT_UNREACHABLE);
    let expected = format!(
        "error: cannot connect to the token authority at http://{address}: connection refused; \
         check that the server is running and that --server (or TOKENCTL_SERVER) names it\n"
    );
    assert_eq!(run.stderr, expected);

    let args = [
        "--server", &address, "--output", "json", "check", "--key", "k",
    ];
    let json = run_tokenctl(&args, None, None);
    json.assert_code(EXIT_UNREACHABLE);
    assert_eq!(json.json()["error"]["code"], "unreachable");
}

#[test]
fn silent_server_times_out() {
    // The kernel completes the TCP handshake for a listener that never accepts, but no HTTP/2
    // reply ever comes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback listener");
    let address = listener.local_addr().expect("address").to_string();

    let started = Instant::now();
    let args = [
        "--server",
        &address,
        "--timeout",
        "300ms",
        "authorize",
        "--key",
        "k",
        "--action",
        "read",
    ];
    let run = run_tokenctl(&args, None, None);
    run.assert_code(EXIT_UNREACHABLE);
    assert!(run.stderr.contains(&address), "{}", run.stderr);
    assert!(run.stderr.contains("300ms"), "{}", run.stderr);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    drop(listener);
}

#[test]
fn server_from_environment() {
    let server = TestServer::memory(SystemLimit::DEFAULT);
    let child = Command::new(TOKENCTL)
        .args(["account", "set-plan", "--account", "acme", "--plan", "paid"])
        .env("TOKENCTL_SERVER", &server.url)
        .env("TOKENCTL_OUTPUT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start tokenctl");
    let run = wait_with_timeout(child, None, "tokenctl with TOKENCTL_SERVER");
    run.assert_code(0);
    assert_eq!(run.json()["plan"], "paid");
}

#[test]
fn shared_redis_between_servers() {
    let redis = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to build a runtime")
        .block_on(RedisServer::start());
    let first = TestServer::redis(&redis.url(), small_limit());
    let second = TestServer::redis(&redis.url(), small_limit());

    // A project created through one server authorizes through the other, and both count
    // against one shared window.
    let tokens = first.create_project("acme", "web");
    let read = &tokens["read"];
    let through_second = second.authorize(&read.key, "read", 0);
    assert_eq!(through_second["rate_limit"]["remaining"], 2);
    let through_first = first.authorize(&read.key, "read", 0);
    assert_eq!(through_first["rate_limit"]["remaining"], 1);

    // A regeneration through one server stops the old key on the other at once.
    let reply = second.json(
        &format!("regenerate token --project web --token {}", read.token_id),
        0,
    );
    let old = first.authorize(&read.key, "read", EXIT_DENIED);
    assert_eq!(old["denial_reason"], "unknown_token");
    let new_key = text(&reply["token"]["access_token"]);
    assert_eq!(first.authorize(&new_key, "read", 0)["decision"], "allow");

    // The servers stop before their Redis does.
    drop(first);
    drop(second);
    drop(redis);
}
