//! Configuration errors: the process exits non-zero before serving, with a message that names
//! the option.

use super::process::{bare_command, run_to_exit};

/// One rejected configuration.
struct Case {
    /// Command-line arguments, in addition to a free loopback `--listen` unless they set one.
    args: &'static [&'static str],
    /// Environment variables.
    env: &'static [(&'static str, &'static str)],
    /// The option the error message must name.
    option: &'static str,
}

const CASES: &[Case] = &[
    Case {
        args: &["--system-limit", "0"],
        env: &[],
        option: "--system-limit",
    },
    Case {
        args: &["--system-limit-window-seconds", "0"],
        env: &[],
        option: "--system-limit-window-seconds",
    },
    Case {
        args: &["--redis-timeout-ms", "abc"],
        env: &[],
        option: "--redis-timeout-ms",
    },
    Case {
        args: &["--redis-pool-size", "0"],
        env: &[],
        option: "--redis-pool-size",
    },
    Case {
        args: &["--shutdown-timeout-seconds", "3601"],
        env: &[],
        option: "--shutdown-timeout-seconds",
    },
    Case {
        args: &["--listen", "nonsense"],
        env: &[],
        option: "--listen",
    },
    Case {
        args: &["--redis-url", "http://x"],
        env: &[],
        option: "--redis-url",
    },
    Case {
        args: &["--redis-url", "redis://127.0.0.1:notaport"],
        env: &[],
        option: "--redis-url",
    },
    Case {
        args: &["--log-level", "[bad"],
        env: &[],
        option: "--log-level",
    },
    Case {
        args: &[],
        env: &[("TOKEN_AUTHORITY_LOG_FORMAT", "yaml")],
        option: "--log-format",
    },
    Case {
        args: &[],
        env: &[("TOKEN_AUTHORITY_SYSTEM_LIMIT", "0")],
        option: "--system-limit",
    },
    Case {
        args: &[],
        env: &[("TOKEN_AUTHORITY_REDIS_URL", "http://x")],
        option: "--redis-url",
    },
];

#[tokio::test]
async fn bad_values_name_option() {
    for case in CASES {
        let mut args = case.args.to_vec();
        if !args.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        let mut command = bare_command(&args);
        command.envs(case.env.iter().copied());

        let label = format!("args {:?}, env {:?}", case.args, case.env);
        let (status, stderr) = run_to_exit(command, &label).await;
        assert!(!status.success(), "{label}: exited with {status}");
        assert!(
            status.code().is_some(),
            "{label}: killed by a signal ({status})"
        );
        assert!(
            stderr.contains(case.option),
            "{label}: stderr does not name {}:\n{stderr}",
            case.option
        );
        assert!(
            !stderr.contains("serving gRPC"),
            "{label}: served before failing:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn port_in_use_names_listen() {
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupied.local_addr().unwrap().to_string();

    let command = bare_command(&["--listen", &address, "--log-format", "json"]);
    let (status, stderr) = run_to_exit(command, "port in use").await;

    assert!(!status.success(), "exited with {status}");
    assert!(stderr.contains("failed to listen on --listen"), "{stderr}");
    assert!(stderr.contains(&address), "{stderr}");
}

#[tokio::test]
async fn rejected_redis_url_hides_password() {
    let url = "http://user:hunter2-pass@cache:6379";
    let (status, stderr) = run_to_exit(bare_command(&["--redis-url", url]), "http URL").await;

    assert!(!status.success(), "exited with {status}");
    assert!(stderr.contains("--redis-url"), "{stderr}");
    assert!(
        !stderr.contains("hunter2-pass"),
        "the password is in the error:\n{stderr}"
    );
}
