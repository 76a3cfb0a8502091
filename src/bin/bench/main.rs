//! token-authority-bench: a load generator for Authorize.
//!
//! It sets up its own projects and tokens, then times Authorize calls in a closed loop (N
//! callers over M connections, for maximum throughput) or an open loop (a fixed rate, latency
//! from each call's scheduled time). With `--target redis-direct` it sends the same Lua script
//! the Redis store sends, with EVALSHA on the same key shapes, as the baseline the service is
//! compared with. It connects only to loopback addresses, and every run is bounded in calls
//! and seconds.

mod cli;
mod drive;
mod loopback;
mod memory;
mod procfs;
mod report;
mod setup;
mod target;
mod workload;

use std::{collections::BTreeMap, process::ExitCode, sync::Arc, time::Duration};

use clap::Parser;

use token_authority::{
    domain::SystemLimit, proto::v1::token_authority_client::TokenAuthorityClient,
};

use crate::{
    cli::{Cli, Command, Mode, Output, RunOptions, Target},
    drive::Phase,
    report::{Report, RunInfo},
    setup::Admin,
    target::Caller,
    workload::Keys,
};

// The generator shares the machine's cores with the service and Redis, so every microsecond it
// spends per call is taken from them. mimalloc costs less per call than glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(options) => run(options).await,
        Command::Memory(options) => memory::run(options).await,
        Command::Compare(options) => report::compare(&options.reports),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: &RunOptions) -> Result<(), String> {
    let rate = match (options.mode, options.rate) {
        (Mode::Open, None) => return Err("--mode open needs --rate".to_owned()),
        (Mode::Closed, Some(_)) => return Err("--rate applies only to --mode open".to_owned()),
        (_, rate) => rate,
    };
    let system = SystemLimit {
        count: options.system_limit,
        window_seconds: options.system_limit_window_seconds,
    };

    let admin = match options.target {
        Target::Grpc => {
            loopback::check_server(&options.server)?;
            let channel = target::connect_grpc(&options.server).await?;
            Admin::Grpc(TokenAuthorityClient::new(channel))
        }
        Target::RedisDirect => setup::direct_admin(redis_url(options)?, system).await?,
    };
    let keys = workload::set_up(
        &admin,
        options.workload,
        &run_id(),
        options.tokens,
        options.unknown_percent,
    )
    .await?;
    let caller = match options.target {
        Target::Grpc => {
            Caller::grpc(
                &options.server,
                options.connections,
                &keys.all,
                options.deadline(),
            )
            .await?
        }
        Target::RedisDirect => {
            Caller::direct(
                redis_url(options)?,
                options.connections,
                &keys.all,
                options.deadline(),
                system,
            )
            .await?
        }
    };
    let (caller, keys) = (Arc::new(caller), Arc::new(keys));

    if options.warmup > 0 {
        drive_phase(options, &caller, &keys, options.warmup(), options.requests).await;
    }
    let cpu_before = cpu_seconds(options);
    let load_average = procfs::load_average();
    let phase = drive_phase(
        options,
        &caller,
        &keys,
        options.duration(),
        options.requests,
    )
    .await;
    let cpu_after = cpu_seconds(options);

    let cpu_seconds = cpu_after
        .iter()
        .filter_map(|(name, after)| {
            let before = cpu_before.get(name)?;
            Some((name.clone(), ((after - before) * 100.0).round() / 100.0))
        })
        .collect();
    let info = RunInfo {
        target: options.target.name(),
        workload: options.workload.name(),
        mode: options.mode.name(),
        concurrency: options.concurrency,
        connections: options.connections,
        rate,
        cpu_seconds,
        load_average,
    };
    let report = Report::new(info, &phase);
    match options.output {
        Output::Table => report.print_table(),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serializes")
        ),
    }
    Ok(())
}

async fn drive_phase(
    options: &RunOptions,
    caller: &Arc<Caller>,
    keys: &Arc<Keys>,
    duration: Duration,
    max_requests: u64,
) -> Phase {
    let (caller, keys) = (caller.clone(), keys.clone());
    match (options.mode, options.rate) {
        (Mode::Open, Some(rate)) => {
            drive::open(
                caller,
                keys,
                options.concurrency,
                rate,
                duration,
                max_requests,
            )
            .await
        }
        _ => drive::closed(caller, keys, options.concurrency, duration, max_requests).await,
    }
}

fn redis_url(options: &RunOptions) -> Result<&str, String> {
    let url = options
        .redis_url
        .as_deref()
        .ok_or_else(|| "--target redis-direct needs --redis-url".to_owned())?;
    loopback::check_redis_url(url)?;
    Ok(url)
}

/// Reads the CPU time of this process and of every watched one.
fn cpu_seconds(options: &RunOptions) -> BTreeMap<String, f64> {
    let own = ("generator".to_owned(), std::process::id());
    std::iter::once(own)
        .chain(options.watch_pids.iter().cloned())
        .filter_map(|(name, pid)| Some((name, procfs::cpu_seconds(pid)?)))
        .collect()
}

/// Returns an id for this run's projects and account, unique across runs on one Redis.
pub fn run_id() -> String {
    let now_ms = token_authority::domain::now_ms();
    let random = getrandom::u32().unwrap_or_default() & 0xffff;
    format!("{now_ms:x}{random:04x}")
}
