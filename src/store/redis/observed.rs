//! Traces and metrics of each Redis command: a `redis` span with the script's name, the
//! command's latency and failure, and the reloads that a NOSCRIPT reply forces.
//!
//! `redis::ScriptInvocation::invoke_async` sends EVALSHA and, when Redis replies NOSCRIPT, loads
//! the script and sends EVALSHA again, all inside one call. [`Observed`] sits between it and the
//! connection and reads each command it sends: EVALSHA names the script by its hash, and SCRIPT
//! LOAD means the script was missing. Reading a command's first arguments allocates nothing.

use std::time::Instant;

use redis::{Arg, Cmd, Pipeline, RedisError, RedisFuture, Value, aio::ConnectionLike};
use tracing::{Span, field::Empty};

use super::{pool::Connection, scripts};
use crate::{
    store::{StoreError, StoreResult},
    telemetry::{REDIS_SPAN_TARGET, RedisFailure, first_of_run, metrics},
};

/// A connection that observes the commands sent through it for one store call.
pub struct Observed {
    connection: Connection,
    /// The script's name, or the plain command's name in lower case.
    name: &'static str,
    /// Whether a SCRIPT LOAD was sent, which `invoke_async` does only after NOSCRIPT.
    reloaded: bool,
    span: Span,
    started: Instant,
}

impl Observed {
    /// Starts observing one call through `connection`. `name` is the plain command's name, or
    /// `None` for a script, whose name is read from its EVALSHA.
    pub fn start(connection: Connection, name: Option<&'static str>) -> Observed {
        // Disabled, and nearly free, unless spans are exported (see `telemetry`).
        let span = tracing::info_span!(
            target: REDIS_SPAN_TARGET,
            "redis",
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = "redis",
            script = name,
            error = Empty,
        );
        Observed {
            connection,
            name: name.unwrap_or("unknown"),
            reloaded: false,
            span,
            started: Instant::now(),
        }
    }

    /// Returns the call's span, to run the call in.
    pub fn span(&self) -> Span {
        self.span.clone()
    }

    /// Records the call's latency and failure, and logs and counts a script reload.
    pub fn finish<T>(&self, result: &StoreResult<T>) {
        let failure = result.as_ref().err().map(failure_of);
        if let Some(failure) = failure {
            self.span.record("otel.status_code", "error");
            self.span.record("error", failure.label());
        }
        metrics().record_redis(self.name, self.started.elapsed().as_secs_f64(), failure);

        if self.reloaded {
            metrics().record_script_reload(self.name);
            // A restarted Redis makes every concurrent call reload, so repeats are summarized.
            if first_of_run(&format!("script reloaded: {}", self.name)) {
                tracing::warn!(script = self.name, "script reloaded");
            }
        }
    }

    /// Notes what a command reveals: the script an EVALSHA runs, or a reload.
    fn note(&mut self, cmd: &Cmd) {
        let mut args = cmd.args_iter();
        match args.next() {
            Some(Arg::Simple(b"EVALSHA")) => {
                if let Some(Arg::Simple(hash)) = args.next()
                    && let Some(name) = scripts::name_of_hash(hash)
                    && name != self.name
                {
                    self.name = name;
                    self.span.record("script", name);
                }
            }
            // The redis crate sends SCRIPT LOAD after Redis rejects an EVALSHA with NOSCRIPT.
            // Other SCRIPT subcommands, such as the readiness check's EXISTS, load nothing.
            Some(Arg::Simple(b"SCRIPT")) => {
                self.reloaded |= matches!(
                    args.next(),
                    Some(Arg::Simple(subcommand)) if subcommand.eq_ignore_ascii_case(b"LOAD")
                );
            }
            _ => {}
        }
    }
}

impl ConnectionLike for Observed {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.note(cmd);
        self.connection.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.connection.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}

/// Returns the name of a plain command for spans and metrics, from a fixed set so that the
/// label stays bounded: `hgetall`, `hget`, `hvals`, `smembers`, `srem`, `script`, or `other`.
pub fn command_name(cmd: &Cmd) -> &'static str {
    const KNOWN: [&str; 6] = ["hgetall", "hget", "hvals", "smembers", "srem", "script"];
    let Some(Arg::Simple(name)) = cmd.args_iter().next() else {
        return "other";
    };
    KNOWN
        .into_iter()
        .find(|known| name.eq_ignore_ascii_case(known.as_bytes()))
        .unwrap_or("other")
}

/// Classifies a failed call for the `error` label.
fn failure_of(error: &StoreError) -> RedisFailure {
    match error {
        StoreError::Timeout(_) => RedisFailure::Timeout,
        StoreError::Unavailable(source) => match source.downcast_ref::<RedisError>() {
            Some(error) if error.is_timeout() => RedisFailure::Timeout,
            Some(error)
                if error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal() =>
            {
                RedisFailure::Connection
            }
            Some(_) => RedisFailure::Server,
            None => RedisFailure::Connection,
        },
        _ => RedisFailure::Server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_commands_named() {
        assert_eq!(command_name(&redis::cmd("HGETALL")), "hgetall");
        assert_eq!(command_name(&redis::cmd("smembers")), "smembers");
        assert_eq!(command_name(&redis::cmd("SCRIPT")), "script");
        assert_eq!(command_name(&redis::cmd("FLUSHALL")), "other");
    }

    #[test]
    fn failures_classified() {
        let timeout = StoreError::Timeout(std::time::Duration::from_millis(5));
        assert_eq!(failure_of(&timeout), RedisFailure::Timeout);
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            failure_of(&StoreError::Unavailable(Box::new(refused))),
            RedisFailure::Connection
        );
    }
}
