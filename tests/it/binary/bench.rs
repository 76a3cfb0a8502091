//! The load generator, `token-authority-bench`, run against the real server: every scheduled
//! open-loop call is sent and gets a reply, and a closed loop stops at its call limit.

use serde_json::Value;
use tokio::process::Command;

use super::process;

/// Runs the generator against `server` with `args` and returns its JSON report.
async fn run_bench(server: &process::ServerProcess, args: &[&str]) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_token-authority-bench"));
    command
        .args([
            "run", "--target", "grpc", "--output", "json", "--warmup", "0",
        ])
        .arg("--server")
        .arg(format!("http://{}", server.address()))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("the generator did not finish within 60 s")
        .expect("failed to run token-authority-bench");
    assert!(
        output.status.success(),
        "token-authority-bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the generator printed one JSON report")
}

#[tokio::test]
async fn open_loop_sends_every_call() {
    let server = process::start(&[]).await;
    let report = run_bench(
        &server,
        &[
            "--mode",
            "open",
            "--rate",
            "300",
            "--duration",
            "1",
            "--tokens",
            "20",
            "--concurrency",
            "8",
        ],
    )
    .await;

    assert_eq!(report["requests"], 300, "{report}");
    assert_eq!(report["replies"]["allow"], 300, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(report["unsent"], 0, "{report}");
}

#[tokio::test]
async fn closed_loop_stops_at_request_limit() {
    let server = process::start(&[]).await;
    let report = run_bench(
        &server,
        &[
            "--requests",
            "50",
            "--duration",
            "10",
            "--tokens",
            "5",
            "--concurrency",
            "4",
        ],
    )
    .await;

    assert_eq!(report["requests"], 50, "{report}");
    assert_eq!(report["replies"]["allow"], 50, "{report}");
}
