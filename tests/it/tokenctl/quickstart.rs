//! Replays the README's quickstart: runs every command of the `console` blocks in its
//! "## Quickstart" section and compares each output with the output the README shows, so the
//! README cannot drift from the product.
//!
//! A `console` block holds commands, each on a line starting with `$ `, each followed by the
//! output it printed. Before comparing, both sides have their variable parts normalized:
//! timestamps, socket addresses, the version, and the seconds in rate-limit figures. Keys and
//! token ids are matched instead: the first time a README output shows one, it is paired with
//! the real value at the same place, and later README commands and outputs use the real value.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use regex::Regex;

use super::{TOKENCTL, wait_with_timeout};

/// The real server binary, which the README starts with `cargo run --release`.
const SERVER: &str = env!("CARGO_BIN_EXE_token-authority");

/// How long the server may take to print the start-up lines the README shows.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The README commands that only build or set up the shell; the test has built the binaries
/// and puts them on the PATH itself.
const SETUP_COMMANDS: [&str; 2] = [
    "cargo build --release --bin tokenctl",
    "export PATH=\"$PWD/target/release:$PATH\"",
];

#[test]
fn readme_quickstart_matches_output() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("failed to read README.md");
    let steps = quickstart_steps(&readme);
    assert!(
        steps.len() >= 8,
        "expected the quickstart's commands in README.md, found {steps:?}"
    );

    let mut replay = Replay::default();
    for step in &steps {
        let command = replay.substitute(&step.command);
        let actual = if let Some(args) = command.strip_prefix("cargo run --release -- ") {
            replay.start_server(args, step.expected.lines().count())
        } else if SETUP_COMMANDS.contains(&command.as_str()) {
            String::new()
        } else if command.starts_with("tokenctl ") {
            replay.run_tokenctl(&command)
        } else {
            panic!(
                "the quickstart command {command:?} is neither the server, tokenctl nor a setup \
                 command; teach tests/it/tokenctl/quickstart.rs to run it"
            );
        };

        replay.learn_values(&step.expected, &actual);
        let expected = normalize(&replay.substitute(&step.expected));
        let actual = normalize(&actual);
        assert_eq!(
            actual, expected,
            "README.md's quickstart shows other output for `{}`; update the README or fix the \
             regression (left: real output, right: README, both normalized)",
            step.command
        );
    }
}

/// One command of the quickstart and the output the README shows for it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: String,
}

/// Returns the commands and outputs of the `console` blocks in the "## Quickstart" section.
fn quickstart_steps(readme: &str) -> Vec<Step> {
    let section = readme
        .split_once("\n## Quickstart\n")
        .map(|(_, rest)| rest)
        .expect("README.md has no \"## Quickstart\" section");
    let section = section.split("\n## ").next().unwrap_or(section);

    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for line in section.lines() {
        if !in_console {
            in_console = line.trim_end() == "```console";
            continue;
        }
        if line.trim_end() == "```" {
            in_console = false;
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                expected: String::new(),
            });
        } else {
            let step = steps
                .last_mut()
                .expect("a console block starts with a command line (`$ ...`)");
            step.expected.push_str(line);
            step.expected.push('\n');
        }
    }
    steps
}

/// The state of the replay: the server, and the README's keys and token ids paired with the
/// real ones.
#[derive(Default)]
struct Replay {
    server: Option<ServerProcess>,
    values: HashMap<String, String>,
}

impl Replay {
    /// Starts the server binary with the README's arguments on a free loopback port and
    /// returns its first `lines` log lines.
    fn start_server(&mut self, args: &str, lines: usize) -> String {
        assert!(
            self.server.is_none(),
            "the quickstart starts the server twice"
        );
        let mut child = Command::new(SERVER)
            .args(args.split_whitespace())
            // Text, as on a terminal, and free loopback ports rather than the README's
            // 0.0.0.0:50051 and 0.0.0.0:9090.
            .args(["--log-format", "text", "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .env_remove("TOKEN_AUTHORITY_LOG_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start the token-authority binary");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut server = ServerProcess {
            child,
            url: String::new(),
        };

        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(strip_ansi(&line)).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut output = String::new();
        for _ in 0..lines {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = receiver.recv_timeout(remaining).unwrap_or_else(|_| {
                panic!("the server printed only this within {START_TIMEOUT:?}:\n{output}")
            });
            output.push_str(&line);
            output.push('\n');
        }

        let address = Regex::new(r"serving gRPC address=(\S+)")
            .expect("valid regex")
            .captures(&output)
            .unwrap_or_else(|| panic!("no \"serving gRPC\" line among:\n{output}"))[1]
            .to_owned();
        server.url = format!("http://{address}");
        self.server = Some(server);
        output
    }

    /// Runs a tokenctl command line through `sh`, as a user would, with the tokenctl under
    /// test first on the PATH, and returns standard output followed by standard error.
    fn run_tokenctl(&self, command: &str) -> String {
        let server = self
            .server
            .as_ref()
            .expect("the quickstart runs tokenctl before starting the server");
        let bin_dir = Path::new(TOKENCTL)
            .parent()
            .expect("tokenctl has a directory");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new("sh")
            .args(["-c", &format!("{command} 2>&1")])
            .env("PATH", path)
            .env("TOKENCTL_SERVER", &server.url)
            .env_remove("TOKENCTL_OUTPUT")
            .env_remove("TOKENCTL_TIMEOUT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start sh");
        let run = wait_with_timeout(child, None, command);
        assert!(run.stderr.is_empty(), "sh printed: {}", run.stderr);
        run.stdout
    }

    /// Pairs the keys and token ids of a README output with the real ones at the same places.
    fn learn_values(&mut self, expected: &str, actual: &str) {
        let pattern = variable_pattern();
        let expected_values: Vec<&str> = pattern.find_iter(expected).map(|m| m.as_str()).collect();
        let actual_values: Vec<&str> = pattern.find_iter(actual).map(|m| m.as_str()).collect();
        if expected_values.len() != actual_values.len() {
            // The comparison that follows fails and shows both outputs.
            return;
        }
        for (readme_value, real_value) in expected_values.into_iter().zip(actual_values) {
            self.values
                .entry(readme_value.to_owned())
                .or_insert_with(|| real_value.to_owned());
        }
    }

    /// Replaces the README's keys and token ids with the real ones paired so far.
    fn substitute(&self, text: &str) -> String {
        variable_pattern()
            .replace_all(text, |captures: &regex::Captures| {
                let value = &captures[0];
                self.values
                    .get(value)
                    .cloned()
                    .unwrap_or_else(|| value.to_owned())
            })
            .into_owned()
    }
}

/// The server binary started by the quickstart, killed when the replay ends.
struct ServerProcess {
    child: Child,
    url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Matches keys (32 lowercase hexadecimal characters) and token ids.
fn variable_pattern() -> Regex {
    Regex::new(r"\b(?:[0-9a-f]{32}|tok_[0-9a-f]{20})\b").expect("valid regex")
}

/// Removes the colour codes of the server's text logs.
fn strip_ansi(line: &str) -> String {
    Regex::new(r"\x1b\[[0-9;]*m")
        .expect("valid regex")
        .replace_all(line, "")
        .into_owned()
}

/// Replaces what differs between runs with placeholders and collapses the spaces that align
/// table columns, so columns that widen by a digit still compare equal.
fn normalize(text: &str) -> String {
    let replacements = [
        (r"[ \t]+", " "),
        (r"(?m) $", ""),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", "<TIME>"),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}:\d+\b", "<ADDRESS>"),
        (r#"version="[^"]*""#, "version=<VERSION>"),
        (
            r"(?m)^(X-Rate-Limit-Reset|X-Rate-Limit-Remaining-Seconds|Retry-After) \d+$",
            "$1 <SECONDS>",
        ),
    ];
    let mut text = text.to_owned();
    for (pattern, replacement) in replacements {
        text = Regex::new(pattern)
            .expect("valid regex")
            .replace_all(&text, replacement)
            .into_owned();
    }
    text.trim_end().to_owned()
}

#[test]
fn quickstart_parser_reads_console_blocks() {
    let readme = "# x\n\n## Quickstart\n\nText.\n\n```console\n$ tokenctl a\nout 1\n\nout 2\n$ \
                  tokenctl b\n```\n\n```sh\n$ not a step\n```\n\n## Next\n\n```console\n$ \
                  tokenctl c\n```\n";
    let steps = quickstart_steps(readme);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].command, "tokenctl a");
    assert_eq!(steps[0].expected, "out 1\n\nout 2\n");
    assert_eq!(steps[1].command, "tokenctl b");
    assert_eq!(steps[1].expected, "");
}

#[test]
fn normalize_hides_variable_parts() {
    let text = "2026-01-02T03:04:05.123Z  INFO serving gRPC address=127.0.0.1:4242\n\
                X-Rate-Limit-Reset              1767225660\nRetry-After  42   \n";
    assert_eq!(
        normalize(text),
        "<TIME> INFO serving gRPC address=<ADDRESS>\nX-Rate-Limit-Reset <SECONDS>\nRetry-After \
         <SECONDS>"
    );
}
