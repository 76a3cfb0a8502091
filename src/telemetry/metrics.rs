//! The service's metric instruments, created once. Every label value comes from a fixed set
//! (RPC names, gRPC codes, decisions, denial reasons, limit kinds, script names), so the number of
//! series stays bounded: no token id, key or project id is ever a label.

use std::sync::OnceLock;

use opentelemetry::{
    KeyValue,
    metrics::{Counter, Histogram, Meter, MeterProvider as _},
};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tonic::Code;

use super::SCOPE;
use crate::{
    domain::{Denial, limits::LimitKind},
    service::AuthorizeDecision,
};

/// Bucket bounds of the RPC latency histogram, in seconds: 250 µs to 5 s.
const RPC_BUCKETS: [f64; 14] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Bucket bounds of the Redis command latency histogram, in seconds: 100 µs to 1 s. A command
/// slower than 1 s, which only a `--redis-timeout-ms` above its 500 ms default allows, counts in
/// the +Inf bucket.
const REDIS_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Returns the instruments. Before [`install`] they record nothing, and they keep recording
/// nothing if this is first called before it, so the server installs the provider before it
/// serves anything.
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| Metrics::new(opentelemetry::global::meter(SCOPE)))
}

/// Creates the instruments on `provider`, unless [`metrics`] already created them.
pub(super) fn install(provider: &SdkMeterProvider) {
    if METRICS.set(Metrics::new(provider.meter(SCOPE))).is_err() {
        tracing::warn!(
            "metric instruments were created before the meter provider; no metrics will be recorded"
        );
    }
}

/// The instruments. `docs/observability.md` documents each one with its labels.
#[derive(Debug)]
pub struct Metrics {
    meter: Meter,
    rpc_duration: Histogram<f64>,
    decisions: Counter<u64>,
    rate_limit_denials: Counter<u64>,
    first_denials: Counter<u64>,
    redis_duration: Histogram<f64>,
    redis_errors: Counter<u64>,
    script_reloads: Counter<u64>,
}

/// A snapshot of the Redis connection pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Connections checked out by a store operation.
    pub in_use: u64,
    /// Connections open and waiting in the pool.
    pub idle: u64,
    /// Operations waiting for a connection.
    pub waiting: u64,
    /// The maximum number of connections.
    pub max: u64,
}

/// The cause of a failed Redis command, as the `error` label of
/// `token_authority.redis.command.errors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisFailure {
    /// No reply came within the command timeout.
    Timeout,
    /// The connection failed: refused, dropped or broken.
    Connection,
    /// Redis replied with an error, such as OOM or BUSY.
    Server,
}

impl RedisFailure {
    /// Returns the label value: `timeout`, `connection` or `server`.
    pub fn label(self) -> &'static str {
        match self {
            RedisFailure::Timeout => "timeout",
            RedisFailure::Connection => "connection",
            RedisFailure::Server => "server",
        }
    }
}

impl Metrics {
    fn new(meter: Meter) -> Metrics {
        let metrics = Metrics {
            rpc_duration: meter
                .f64_histogram("token_authority.rpc.duration")
                .with_unit("s")
                .with_description("Time to answer a TokenAuthority RPC, by RPC and gRPC code.")
                .with_boundaries(RPC_BUCKETS.to_vec())
                .build(),
            decisions: meter
                .u64_counter("token_authority.authorize.decisions")
                .with_unit("{request}")
                .with_description(
                    "Authorize replies, by decision (allow, deny) and denial reason (none when allowed).",
                )
                .build(),
            rate_limit_denials: meter
                .u64_counter("token_authority.rate_limit.denials")
                .with_unit("{request}")
                .with_description(
                    "Authorize requests denied by a rate limit, by the limit that denied them (system, user).",
                )
                .build(),
            first_denials: meter
                .u64_counter("token_authority.rate_limit.first_denials")
                .with_unit("{notice}")
                .with_description(
                    "First denials of a rate-limit window, each of which raises one rate limit notice, by limit.",
                )
                .build(),
            redis_duration: meter
                .f64_histogram("token_authority.redis.command.duration")
                .with_unit("s")
                .with_description(
                    "Time of one Redis command, failed ones included, by script (or plain command).",
                )
                .with_boundaries(REDIS_BUCKETS.to_vec())
                .build(),
            redis_errors: meter
                .u64_counter("token_authority.redis.command.errors")
                .with_unit("{error}")
                .with_description(
                    "Failed Redis commands, by script (or plain command) and error (timeout, connection, server).",
                )
                .build(),
            script_reloads: meter
                .u64_counter("token_authority.redis.script.reloads")
                .with_unit("{reload}")
                .with_description(
                    "Lua scripts loaded again because Redis replied NOSCRIPT, for example after a restart, by script.",
                )
                .build(),
            meter,
        };
        metrics.start_series_at_zero();
        metrics
    }

    /// Creates every decision and denial series with a count of 0, so that a rate over them is
    /// defined before the first request of each kind.
    fn start_series_at_zero(&self) {
        self.decisions.add(
            0,
            &[
                KeyValue::new("decision", "allow"),
                KeyValue::new("reason", "none"),
            ],
        );
        for denial in Denial::ALL {
            self.decisions.add(
                0,
                &[
                    KeyValue::new("decision", "deny"),
                    KeyValue::new("reason", denial.name()),
                ],
            );
        }
        for limit in ["system", "user"] {
            self.rate_limit_denials
                .add(0, &[KeyValue::new("limit", limit)]);
            self.first_denials.add(0, &[KeyValue::new("limit", limit)]);
        }
    }

    /// Records the latency and gRPC code of one RPC.
    pub fn record_rpc(&self, rpc: &'static str, code: Code, seconds: f64) {
        self.rpc_duration.record(
            seconds,
            &[
                KeyValue::new("rpc", rpc),
                KeyValue::new("code", code_name(code)),
            ],
        );
    }

    /// Counts one Authorize decision and, for a rate-limit denial, the limit that denied it.
    pub fn record_authorize(&self, decision: &AuthorizeDecision) {
        let Some(denial) = decision.denial else {
            self.decisions.add(
                1,
                &[
                    KeyValue::new("decision", "allow"),
                    KeyValue::new("reason", "none"),
                ],
            );
            return;
        };
        self.decisions.add(
            1,
            &[
                KeyValue::new("decision", "deny"),
                KeyValue::new("reason", denial.name()),
            ],
        );
        if denial != Denial::RateLimited {
            return;
        }

        let Some(rate) = &decision.rate else {
            return;
        };
        let labels = [KeyValue::new("limit", denying_limit(decision))];
        self.rate_limit_denials.add(1, &labels);
        if rate.first_denial {
            self.first_denials.add(1, &labels);
        }
    }

    /// Records one Redis command: its latency, and its failure if it failed.
    pub fn record_redis(&self, script: &'static str, seconds: f64, failure: Option<RedisFailure>) {
        let script = KeyValue::new("script", script);
        self.redis_duration
            .record(seconds, std::slice::from_ref(&script));
        if let Some(failure) = failure {
            self.redis_errors
                .add(1, &[script, KeyValue::new("error", failure.label())]);
        }
    }

    /// Counts one script loaded again after a NOSCRIPT reply.
    pub fn record_script_reload(&self, script: &'static str) {
        self.script_reloads
            .add(1, &[KeyValue::new("script", script)]);
    }

    /// Reports the Redis connection pool's state, read through `state` whenever metrics are
    /// collected. Call it once per pool.
    pub fn observe_redis_pool(&self, state: impl Fn() -> PoolState + Send + Sync + 'static) {
        let state = std::sync::Arc::new(state);
        let connections = std::sync::Arc::clone(&state);
        self.meter
            .u64_observable_gauge("token_authority.redis.pool.connections")
            .with_unit("{connection}")
            .with_description("Open Redis connections, by state: in_use (checked out) or idle.")
            .with_callback(move |observer| {
                let now = connections();
                observer.observe(now.in_use, &[KeyValue::new("state", "in_use")]);
                observer.observe(now.idle, &[KeyValue::new("state", "idle")]);
            })
            .build();
        let waiting = std::sync::Arc::clone(&state);
        self.meter
            .u64_observable_gauge("token_authority.redis.pool.waiting")
            .with_unit("{operation}")
            .with_description("Store operations waiting for a Redis connection from the pool.")
            .with_callback(move |observer| observer.observe(waiting().waiting, &[]))
            .build();
        self.meter
            .u64_observable_gauge("token_authority.redis.pool.max")
            .with_unit("{connection}")
            .with_description("The maximum number of Redis connections (--redis-pool-size).")
            .with_callback(move |observer| observer.observe(state().max, &[]))
            .build();
    }
}

/// Returns the limit that denied a rate-limited request, `system` or `user`: the one the reply's
/// X-Rate-Limit-* headers describe. `unknown` when the decision has no rate figures.
pub fn denying_limit(decision: &AuthorizeDecision) -> &'static str {
    let kind = decision
        .rate
        .as_ref()
        .and_then(|rate| rate.headers(decision.cost))
        .map(|headers| headers.kind);
    match kind {
        Some(LimitKind::System) => "system",
        Some(LimitKind::User) => "user",
        None => "unknown",
    }
}

/// Returns the name of a gRPC code as the gRPC specification spells it, such as `UNAVAILABLE`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_names_distinct() {
        let names: std::collections::BTreeSet<&str> =
            Denial::ALL.iter().map(|denial| denial.name()).collect();
        assert_eq!(names.len(), Denial::ALL.len());
        assert!(names.contains("rate_limited"));
    }

    #[test]
    fn code_names_match_grpc() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Unavailable), "UNAVAILABLE");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
