//! The token authority server: parses configuration, connects the store, and serves gRPC until
//! SIGTERM or SIGINT.

use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use token_authority::{
    config::Config,
    logging,
    server::{self, ServeOptions},
    service::Authority,
    shutdown,
    store::{
        Store,
        memory::MemoryStore,
        redis::{RedisConfig, RedisStore, redact_url},
    },
    telemetry::{MetricsEndpoint, Telemetry},
};

// In a profile under load, glibc's allocator took about 17% of the service's CPU. mimalloc's
// thread-local free lists cost less for the many short-lived buffers of each call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    // Before the log subscriber, which needs the trace exporter's layer.
    let telemetry = match Telemetry::from_env(config.metrics_listen.address().is_some()) {
        Ok(telemetry) => telemetry,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if let Err(message) = logging::init(
        config.log_format,
        &config.log_level,
        telemetry.tracing_layer(),
    ) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }

    let result = run(config, &telemetry).await;
    if let Err(message) = &result {
        error!(error = %message, "server failed");
    }
    // Last, after the drain and the Redis pool, so the final calls' spans are exported too.
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

async fn run(config: Config, telemetry: &Telemetry) -> Result<(), String> {
    // Installed first, so that a SIGTERM during start-up drains rather than kills the process.
    let shutdown = shutdown::signal();

    info!(
        listen = %config.listen,
        redis_url = config.redis_url.as_ref().map(|url| url.to_string()),
        redis_cluster = config.redis_cluster,
        redis_pool_size = config.redis_pool_size,
        redis_timeout_ms = config.redis_timeout_ms,
        system_limit = config.system_limit,
        system_limit_window_seconds = config.system_limit_window_seconds,
        deny_cache_max_staleness_ms = config.deny_cache_max_staleness_ms,
        shutdown_timeout_seconds = config.shutdown_timeout_seconds,
        metrics_listen = %config.metrics_listen,
        otlp_traces_endpoint = telemetry.traces_endpoint.as_deref().map(redact_url),
        otlp_metrics_endpoint = telemetry.metrics_endpoint.as_deref().map(redact_url),
        version = env!("CARGO_PKG_VERSION"),
        "starting token authority"
    );
    if config.admin_token.is_some() {
        info!(
            "Manage, Regenerate and CheckRateLimit require the admin token from --admin-token-file"
        );
    } else {
        warn!(
            "no --admin-token-file set: Manage, Regenerate and CheckRateLimit are unauthenticated, \
             so any caller that reaches the gRPC port can create, delete and regenerate tokens; \
             set --admin-token-file, or let only trusted callers reach the port"
        );
    }

    let Some(url) = &config.redis_url else {
        warn!(
            "no --redis-url set: serving from the in-memory store; state is lost on exit and not \
             shared between replicas, so use it only for development and single-process use"
        );
        return serve(&config, telemetry, MemoryStore::new(), shutdown).await;
    };

    let store = RedisStore::new(&RedisConfig {
        url: url.expose().to_owned(),
        cluster: config.redis_cluster,
        pool_size: config.redis_pool_size as usize,
        command_timeout: config.redis_timeout(),
    })
    .map_err(|error| format!("invalid --redis-url {url}: {error}"))?;
    if let Err(error) = store.load_scripts().await {
        // Not fatal: readiness stays NOT_SERVING and the scripts load on first use once Redis
        // is reachable.
        warn!(error = %logging::error_chain(&error), redis_url = %url, "failed to load the Lua scripts into Redis; will retry");
    }
    store.observe_pool_metrics();
    let pool = store.clone();
    let served = serve(&config, telemetry, store, shutdown).await;
    // After the drain, so no call in flight loses its connection.
    pool.close();
    served
}

async fn serve<S: Store>(
    config: &Config,
    telemetry: &Telemetry,
    store: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| format!("failed to listen on --listen {}: {error}", config.listen))?;
    // With port 0 the system picks the port, so log the bound address rather than the option.
    let address = listener.local_addr().map_err(|error| {
        format!(
            "failed to read the bound address of --listen {}: {error}",
            config.listen
        )
    })?;
    let metrics = match (
        config.metrics_listen.address(),
        telemetry.prometheus_registry(),
    ) {
        (Some(listen), Some(registry)) => {
            let endpoint = MetricsEndpoint::bind(listen, registry)
                .await
                .map_err(|error| {
                    format!("failed to listen on --metrics-listen {listen}: {error}")
                })?;
            info!(address = %endpoint.local_addr(), "serving metrics");
            Some(endpoint)
        }
        _ => None,
    };
    info!(%address, "serving gRPC");

    let options = ServeOptions {
        shutdown_timeout: config.shutdown_timeout(),
        admin_token: config.admin_token,
        ..ServeOptions::default()
    };
    let authority =
        Authority::new(store, config.system_limit()).with_deny_cache(config.deny_cache());
    let served = server::serve(listener, authority, options, shutdown)
        .await
        .map_err(|error| logging::error_chain(&error));
    // Scrapes keep working through the drain.
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    served?;
    info!("token authority stopped");
    Ok(())
}
