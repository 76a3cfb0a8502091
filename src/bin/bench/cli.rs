//! Command-line options. Every run is bounded: the caps below apply whatever the options ask.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The maximum number of requests in one run's measured phase.
pub const MAX_REQUESTS: u64 = 20_000_000;

/// The maximum length of the measured phase, in seconds.
pub const MAX_DURATION_SECONDS: u64 = 300;

/// The maximum warm-up, in seconds.
pub const MAX_WARMUP_SECONDS: u64 = 30;

/// Load generator for the token authority: drives Authorize over gRPC, or runs the same Lua
/// script directly against Redis as a baseline. Connects to loopback addresses only.
#[derive(Debug, Parser)]
#[command(name = "token-authority-bench", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sets up tokens, then times Authorize calls against the target.
    Run(RunOptions),
    /// Measures the Redis memory one token and one rate-limit window take, with MEMORY USAGE.
    Memory(MemoryOptions),
    /// Reads reports written with `run --output json` and prints them as one table, with each
    /// gRPC throughput as a ratio of the redis-direct throughput of the same workload and mode.
    Compare(CompareOptions),
}

/// The target of the timed calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Authorize on a running token authority, over gRPC.
    Grpc,
    /// `authorize.lua` with EVALSHA on Redis, as the store sends it, with no service between.
    RedisDirect,
}

impl Target {
    /// Returns the name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::Grpc => "grpc",
            Target::RedisDirect => "redis-direct",
        }
    }
}

/// The set of keys the timed calls present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Many tokens, each well under its limits.
    ManyTokens,
    /// One token, under its limits (needs a high system limit on the server).
    HotToken,
    /// One token over its user-defined limit, so that every call is denied with 429.
    Flood,
    /// Many tokens, with `--unknown-percent` of the calls carrying keys that match no token.
    Mixed,
}

impl Workload {
    /// Returns the name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ManyTokens => "many-tokens",
            Workload::HotToken => "hot-token",
            Workload::Flood => "flood",
            Workload::Mixed => "mixed",
        }
    }
}

/// The pacing of calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Each caller sends its next call as soon as the previous one returns: maximum throughput.
    Closed,
    /// Calls are sent on a fixed schedule of `--rate` per second, whatever the replies do, and
    /// latency counts from each call's scheduled time.
    Open,
}

impl Mode {
    /// Returns the name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Closed => "closed",
            Mode::Open => "open",
        }
    }
}

/// The report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// One JSON document.
    Json,
}

/// Options of `run`.
#[derive(Clone, Debug, Args)]
pub struct RunOptions {
    /// The target of the timed calls.
    #[arg(long, value_enum, default_value_t = Target::Grpc)]
    pub target: Target,

    /// The token authority's gRPC address, for `--target grpc`. Loopback addresses only.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,

    /// The Redis URL, for `--target redis-direct`. Loopback addresses only.
    #[arg(long)]
    pub redis_url: Option<String>,

    /// The keys the calls present.
    #[arg(long, value_enum, default_value_t = Workload::ManyTokens)]
    pub workload: Workload,

    /// How many tokens the many-tokens and mixed workloads create.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tokens: u32,

    /// The percentage of calls with unknown keys in the mixed workload.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub unknown_percent: u32,

    /// The pacing of calls.
    #[arg(long, value_enum, default_value_t = Mode::Closed)]
    pub mode: Mode,

    /// Concurrent callers in closed mode, or the most calls in flight in open mode.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// HTTP/2 connections to the server, or multiplexed connections to Redis. Callers share
    /// them round-robin.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub connections: u32,

    /// Calls per second in open mode, 1 to 1,000,000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub rate: Option<u64>,

    /// The maximum number of calls in the measured phase (at most 20,000,000).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=MAX_REQUESTS))]
    pub requests: u64,

    /// The longest measured phase, in seconds (at most 300). In open mode, calls still waiting
    /// at the end get up to 5 s more, and those not sent by then count as unsent.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_DURATION_SECONDS))]
    pub duration: u64,

    /// The warm-up before the measured phase, in seconds (at most 30). Its calls are not
    /// reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=MAX_WARMUP_SECONDS))]
    pub warmup: u64,

    /// The deadline each call carries, in milliseconds. A call without a reply by then counts
    /// as a `deadline_exceeded` error.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub deadline_ms: u64,

    /// The server's system limit, which `--target redis-direct` passes to the script as the
    /// service would. Match the server's `--system-limit` when comparing the two.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub system_limit: u64,

    /// The server's system window in seconds, passed to the script like `--system-limit`.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub system_limit_window_seconds: u64,

    /// Processes whose CPU time during the measured phase is reported, as NAME=PID. Repeat
    /// for several.
    #[arg(long = "watch-pid", value_parser = parse_watched)]
    pub watch_pids: Vec<(String, u32)>,

    /// The report format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

impl RunOptions {
    /// Returns the measured phase's maximum length.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }

    /// Returns the warm-up's length.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup)
    }

    /// Returns each call's deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Options of `memory`.
#[derive(Clone, Debug, Args)]
pub struct MemoryOptions {
    /// The Redis URL. Loopback addresses only. Use an empty Redis: the figures include
    /// whatever else it holds.
    #[arg(long)]
    pub redis_url: String,

    /// How many tokens to create for the average per token.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tokens: u32,

    /// The report format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Options of `compare`.
#[derive(Clone, Debug, Args)]
pub struct CompareOptions {
    /// JSON reports written by `run --output json`.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
}

fn parse_watched(value: &str) -> Result<(String, u32), String> {
    let (name, pid) = value
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID, got {value:?}"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("the PID in {value:?} is not a number"))?;
    Ok((name.to_owned(), pid))
}
