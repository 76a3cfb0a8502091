//! The `memory` subcommand: what one token and one open rate-limit window cost in Redis.
//!
//! It creates tokens through the crate's own store, reads `MEMORY USAGE` of each kind of key,
//! and divides the growth of `used_memory` by the number of tokens, which also counts each
//! token's entries in its project's index and Redis's per-key overhead.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use redis::aio::MultiplexedConnection;
use serde::Serialize;

use token_authority::{
    domain::{PresentedKey, SystemLimit, UserLimit, key::parse_presented},
    store::redis::{ProjectKeys, TokenKeys},
};

use crate::{
    cli::{MemoryOptions, Output},
    setup::{self, Admin},
};

/// How many calls run at once while filling Redis.
const PARALLELISM: usize = 32;

/// The measured figures, in bytes.
#[derive(Debug, Serialize)]
struct MemoryReport {
    /// Tokens created for the averages.
    tokens: u32,
    /// `MEMORY USAGE` of each kind of key, by its name in the key layout.
    key_bytes: BTreeMap<&'static str, u64>,
    /// Growth of `used_memory` per token created, with its index entries.
    used_memory_per_token: f64,
    /// Growth of `used_memory` per system window opened by an allowed call.
    used_memory_per_window: f64,
    /// Milliseconds until an open window's key expires, as Redis reports it (`PTTL`).
    window_expires_in_ms: i64,
}

/// Runs the measurement and prints it.
pub async fn run(options: &MemoryOptions) -> Result<(), String> {
    crate::loopback::check_redis_url(&options.redis_url)?;
    let admin = setup::direct_admin(&options.redis_url, SystemLimit::DEFAULT).await?;
    let mut connection = redis::Client::open(options.redis_url.as_str())
        .map_err(|error| format!("invalid --redis-url: {error}"))?
        .get_multiplexed_async_connection()
        .await
        .map_err(|error| format!("failed to connect to Redis: {error}"))?;

    let run_id = crate::run_id();
    let account_id = format!("bench-{run_id}");
    let project_id = format!("bench-{run_id}-memory");
    admin.create_project(&account_id, &project_id).await?;
    admin.set_paid(&account_id).await?;
    let limited = admin
        .create_token(
            &project_id,
            "bench-user-limit",
            Some(UserLimit {
                count: 1000,
                window_seconds: 3600,
            }),
        )
        .await?;
    admin.post_item(&limited).await?;

    let before_tokens = used_memory(&mut connection).await?;
    let keys = admin.create_tokens(&project_id, options.tokens).await?;
    let after_tokens = used_memory(&mut connection).await?;
    post_items(&admin, &keys).await?;
    let after_windows = used_memory(&mut connection).await?;

    let token_keys = token_keys(&limited)?;
    let project_keys = ProjectKeys::new(&project_id);
    let mut key_bytes = BTreeMap::new();
    for (name, key) in [
        ("token record (:token)", &token_keys.record),
        ("system window (:w:sys)", &token_keys.system_window),
        ("user window (:w:user)", &token_keys.user_window),
        (
            "project index (:tokens), whole project",
            &project_keys.tokens,
        ),
        ("project order (:order), whole project", &project_keys.order),
    ] {
        key_bytes.insert(name, memory_usage(&mut connection, key).await?);
    }
    let window_expires_in_ms: i64 = redis::cmd("PTTL")
        .arg(&token_keys.system_window)
        .query_async(&mut connection)
        .await
        .map_err(|error| format!("PTTL failed: {error}"))?;

    let tokens = f64::from(options.tokens);
    let report = MemoryReport {
        tokens: options.tokens,
        key_bytes,
        used_memory_per_token: ((after_tokens as f64 - before_tokens as f64) / tokens).round(),
        used_memory_per_window: ((after_windows as f64 - after_tokens as f64) / tokens).round(),
        window_expires_in_ms,
    };
    match options.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serializes")
        ),
        Output::Table => print_table(&report),
    }
    Ok(())
}

fn print_table(report: &MemoryReport) {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    for (name, bytes) in &report.key_bytes {
        table.add_row(vec![format!("MEMORY USAGE {name}"), format!("{bytes} B")]);
    }
    table.add_row(vec![
        format!("used_memory per token ({} tokens)", report.tokens),
        format!("{} B", report.used_memory_per_token),
    ]);
    table.add_row(vec![
        "used_memory per open system window".to_owned(),
        format!("{} B", report.used_memory_per_window),
    ]);
    table.add_row(vec![
        "system window expires in".to_owned(),
        format!("{} ms", report.window_expires_in_ms),
    ]);
    println!("{table}");
}

async fn post_items(admin: &Admin, keys: &[String]) -> Result<(), String> {
    stream::iter(keys)
        .map(|key| admin.post_item(key))
        .buffer_unordered(PARALLELISM)
        .try_for_each(|allowed| async move {
            if allowed {
                Ok(())
            } else {
                Err("a fresh token was denied".to_owned())
            }
        })
        .await
}

fn token_keys(key: &str) -> Result<TokenKeys, String> {
    match parse_presented(key) {
        PresentedKey::WellFormed(hash) => Ok(TokenKeys::new(hash)),
        PresentedKey::Missing | PresentedKey::Malformed => {
            Err("the server issued a malformed key".to_owned())
        }
    }
}

async fn used_memory(connection: &mut MultiplexedConnection) -> Result<u64, String> {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(connection)
        .await
        .map_err(|error| format!("INFO memory failed: {error}"))?;
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| "INFO memory has no used_memory line".to_owned())
}

async fn memory_usage(connection: &mut MultiplexedConnection, key: &str) -> Result<u64, String> {
    // SAMPLES 0 measures every element of a collection rather than a sample.
    let bytes: Option<u64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(connection)
        .await
        .map_err(|error| format!("MEMORY USAGE {key} failed: {error}"))?;
    bytes.ok_or_else(|| format!("key {key} does not exist"))
}
