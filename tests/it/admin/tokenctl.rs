//! The real `tokenctl` against a real server that requires the admin token: with the token from
//! `--admin-token-file` or `TOKENCTL_ADMIN_TOKEN_FILE`, without it, and with a wrong one.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::process::Command;

use super::{ADMIN_TOKEN, token_file};
use crate::binary::process::{ServerProcess, start};

/// The path of the tokenctl binary Cargo built for these tests.
const TOKENCTL: &str = env!("CARGO_BIN_EXE_tokenctl");

/// How long one tokenctl run may take before the test fails instead of hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// The exit status tokenctl documents for a missing or wrong admin token.
const EXIT_ERROR: i32 = 1;

/// The outcome of one tokenctl run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn assert_code(&self, expected: i32) {
        assert_eq!(self.code, expected, "unexpected exit code: {self:#?}");
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("standard output is not JSON ({error}): {self:#?}"))
    }
}

/// Runs tokenctl against `server` with `args` and the environment `env`, inheriting no
/// TOKENCTL_* variable.
async fn tokenctl(server: &ServerProcess, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let url = format!("http://{}", server.address());
    let mut command = Command::new(TOKENCTL);
    command
        .args(["--server", &url, "--output", "json"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TOKENCTL_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());

    let label = format!("tokenctl {}", args.join(" "));
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{label} did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("failed to run {label}: {error}"));
    Run {
        code: output
            .status
            .code()
            .expect("tokenctl exited without a code"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Starts a server that requires [`ADMIN_TOKEN`], read from a file that it keeps.
async fn start_guarded() -> (ServerProcess, tempfile::TempDir) {
    let (dir, path) = token_file(&format!("{ADMIN_TOKEN}\n"));
    let path = path.to_str().expect("the temporary path is UTF-8");
    (start(&["--admin-token-file", path]).await, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenctl_sends_admin_token() {
    let (server, _server_dir) = start_guarded().await;
    let (_dir, path) = token_file(&format!("{ADMIN_TOKEN}\n"));
    let file = path.to_str().expect("the temporary path is UTF-8");

    let created = tokenctl(
        &server,
        &[
            "--admin-token-file",
            file,
            "project",
            "create",
            "--account",
            "acme",
            "--project",
            "web",
            "--name",
            "Web",
        ],
        &[],
    )
    .await;
    created.assert_code(0);
    let tokens = created.json()["tokens"].clone();
    let read = tokens
        .as_array()
        .expect("tokens is an array")
        .iter()
        .find(|token| token["name"] == "read")
        .expect("a token named read")
        .clone();
    let key = read["access_token"].as_str().expect("a key").to_owned();
    let token_id = read["token_id"].as_str().expect("a token id").to_owned();

    // The environment variable works like the option.
    let env = [("TOKENCTL_ADMIN_TOKEN_FILE", path.as_path())];
    let listed = tokenctl(&server, &["token", "list", "--project", "web"], &env).await;
    listed.assert_code(0);
    assert_eq!(listed.json()["tokens"].as_array().map(Vec::len), Some(4));

    let checked = tokenctl(&server, &["check", "--key", &key], &env).await;
    checked.assert_code(0);
    assert_eq!(checked.json()["token_id"], token_id.as_str());

    let regenerated = tokenctl(
        &server,
        &[
            "regenerate",
            "token",
            "--project",
            "web",
            "--token",
            &token_id,
        ],
        &env,
    )
    .await;
    regenerated.assert_code(0);
    let new_key = regenerated.json()["token"]["access_token"]
        .as_str()
        .expect("a new key")
        .to_owned();

    // authorize needs no admin token.
    let authorized = tokenctl(
        &server,
        &["authorize", "--key", &new_key, "--action", "read"],
        &[],
    )
    .await;
    authorized.assert_code(0);
    assert_eq!(authorized.json()["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenctl_without_admin_token_fails() {
    let (server, _server_dir) = start_guarded().await;
    let commands: [&[&str]; 4] = [
        &[
            "project",
            "create",
            "--account",
            "acme",
            "--project",
            "web",
            "--name",
            "Web",
        ],
        &["token", "list", "--project", "web"],
        &["regenerate", "project", "--project", "web"],
        &["check", "--key", "0123456789abcdef0123456789abcdef"],
    ];

    for args in commands {
        let run = tokenctl(&server, args, &[]).await;
        run.assert_code(EXIT_ERROR);
        assert_eq!(run.json()["error"]["code"], "unauthenticated", "{run:#?}");
        assert!(run.stderr.contains("requires an admin token"), "{run:#?}");
        assert!(run.stderr.contains("--admin-token-file"), "{run:#?}");
        assert!(run.stderr.contains("TOKENCTL_ADMIN_TOKEN_FILE"), "{run:#?}");
    }

    // Nothing was created by the rejected project create.
    let (_dir, path) = token_file(ADMIN_TOKEN);
    let env = [("TOKENCTL_ADMIN_TOKEN_FILE", path.as_path())];
    let listed = tokenctl(&server, &["token", "list", "--project", "web"], &env).await;
    listed.assert_code(3);
    assert_eq!(listed.json()["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenctl_wrong_admin_token_fails() {
    let (server, _server_dir) = start_guarded().await;
    let (_dir, path) = token_file("wrong-admin-token-0123456789\n");
    let file = path.to_str().expect("the temporary path is UTF-8");

    let run = tokenctl(
        &server,
        &[
            "--admin-token-file",
            file,
            "token",
            "list",
            "--project",
            "web",
        ],
        &[],
    )
    .await;
    run.assert_code(EXIT_ERROR);
    assert_eq!(run.json()["error"]["code"], "unauthenticated");
    assert!(run.stderr.contains("rejected the admin token"), "{run:#?}");
    assert!(!run.stderr.contains("wrong-admin-token"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenctl_bad_admin_token_file_is_usage_error() {
    let (server, _server_dir) = start_guarded().await;
    let (_dir, empty) = token_file("");
    let missing = empty.with_file_name("missing");

    for path in [&empty, &missing] {
        let file = path.to_str().expect("the temporary path is UTF-8");
        let run = tokenctl(
            &server,
            &[
                "--admin-token-file",
                file,
                "token",
                "list",
                "--project",
                "web",
            ],
            &[],
        )
        .await;
        run.assert_code(2);
        assert!(run.stderr.contains("--admin-token-file"), "{run:#?}");
        assert!(run.stdout.is_empty(), "{run:#?}");
    }
}
