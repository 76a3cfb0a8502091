//! Command-line and environment configuration. Every option is a flag with a matching
//! `TOKEN_AUTHORITY_*` environment variable, and every value is checked before a port is bound.

use std::{fmt, net::SocketAddr, path::Path, time::Duration};

use clap::{Parser, ValueEnum};

use crate::{
    deny_cache::DenyCacheConfig, domain::SystemLimit, grpc::AdminToken, store::redis::redact_url,
};

/// The token authority gRPC server.
#[derive(Clone, Debug, Parser)]
#[command(name = "token-authority", version, about, long_about = None)]
pub struct Config {
    /// Address and port the gRPC server listens on.
    #[arg(long, env = "TOKEN_AUTHORITY_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,

    /// Redis URL, such as redis://:PASSWORD@HOST:6379/0. When unset, the server uses an
    /// in-memory store whose state is lost on exit and not shared between replicas.
    #[arg(long, env = "TOKEN_AUTHORITY_REDIS_URL", value_parser = RedisUrlParser, hide_env_values = true)]
    pub redis_url: Option<RedisUrl>,

    /// Treat --redis-url as a comma-separated list of Redis Cluster seed node URLs.
    #[arg(
        long,
        env = "TOKEN_AUTHORITY_REDIS_CLUSTER",
        default_value_t = false,
        requires = "redis_url"
    )]
    pub redis_cluster: bool,

    /// Maximum number of pooled Redis connections.
    #[arg(long, env = "TOKEN_AUTHORITY_REDIS_POOL_SIZE", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub redis_pool_size: u32,

    /// Timeout for each Redis command, in milliseconds. A command that takes longer fails the
    /// call with UNAVAILABLE.
    #[arg(long, env = "TOKEN_AUTHORITY_REDIS_TIMEOUT_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub redis_timeout_ms: u64,

    /// Requests every token may make per system window.
    #[arg(long, env = "TOKEN_AUTHORITY_SYSTEM_LIMIT", default_value_t = 50_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub system_limit: u64,

    /// Length of the system limit's window, in seconds.
    #[arg(long, env = "TOKEN_AUTHORITY_SYSTEM_LIMIT_WINDOW_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub system_limit_window_seconds: u64,

    /// Maximum staleness of the deny cache, in milliseconds: the time a replica may deny a token
    /// that is over a rate limit from memory, without asking Redis. A limit or plan changed
    /// through another replica reaches such a token within this time. 0 turns the cache off.
    #[arg(long, env = "TOKEN_AUTHORITY_DENY_CACHE_MAX_STALENESS_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub deny_cache_max_staleness_ms: u64,

    /// Log format: text, json, or auto (json unless standard error is a terminal).
    #[arg(long, env = "TOKEN_AUTHORITY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// Log filter in tracing's syntax, such as info or token_authority=debug,info.
    #[arg(long, env = "TOKEN_AUTHORITY_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Seconds to let in-flight calls finish after SIGTERM or SIGINT before exiting.
    #[arg(long, env = "TOKEN_AUTHORITY_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_seconds: u64,

    /// Address and port of the Prometheus endpoint, which serves GET /metrics over HTTP apart
    /// from the gRPC port. "off" or an empty value turns the endpoint off.
    #[arg(long, env = "TOKEN_AUTHORITY_METRICS_LISTEN", default_value = "0.0.0.0:9090",
          value_parser = parse_metrics_listen)]
    pub metrics_listen: MetricsListen,

    /// File holding the admin token that Manage, Regenerate and CheckRateLimit require as the
    /// gRPC metadata "authorization: Bearer TOKEN". One trailing newline is ignored, and the
    /// token must be at least 16 bytes of visible ASCII. Authorize, health and reflection never
    /// require it. When unset, every caller that reaches the port may manage tokens.
    #[arg(long = "admin-token-file", env = "TOKEN_AUTHORITY_ADMIN_TOKEN_FILE", value_name = "PATH",
          value_parser = parse_admin_token_file)]
    pub admin_token: Option<AdminToken>,
}

/// The listen address of the Prometheus endpoint, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsListen {
    /// No endpoint.
    Off,
    /// An address and port.
    Address(SocketAddr),
}

impl MetricsListen {
    /// Returns the address, or `None` when the endpoint is off.
    pub fn address(self) -> Option<SocketAddr> {
        match self {
            MetricsListen::Off => None,
            MetricsListen::Address(address) => Some(address),
        }
    }
}

impl fmt::Display for MetricsListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsListen::Off => f.write_str("off"),
            MetricsListen::Address(address) => address.fmt(f),
        }
    }
}

/// Reads the admin token from the file at `path` when the options are parsed, so that a
/// missing or bad file stops start-up with a message naming the option.
fn parse_admin_token_file(path: &str) -> Result<AdminToken, String> {
    AdminToken::from_file(Path::new(path))
}

fn parse_metrics_listen(value: &str) -> Result<MetricsListen, String> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(MetricsListen::Off);
    }
    value.parse().map(MetricsListen::Address).map_err(|_| {
        format!("{value:?} is not an address and port; use for example 0.0.0.0:9090, or off")
    })
}

/// The log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
    /// JSON unless standard error is a terminal.
    Auto,
}

impl Config {
    /// Returns the system limit.
    pub fn system_limit(&self) -> SystemLimit {
        SystemLimit {
            count: self.system_limit,
            window_seconds: self.system_limit_window_seconds,
        }
    }

    /// Returns the deny cache's settings.
    pub fn deny_cache(&self) -> DenyCacheConfig {
        DenyCacheConfig {
            max_staleness: Duration::from_millis(self.deny_cache_max_staleness_ms),
            ..DenyCacheConfig::default()
        }
    }

    /// Returns the Redis command timeout.
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    /// Returns the drain deadline.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds)
    }
}

/// A Redis URL, or a comma-separated list of them. It may contain a password, so its `Debug`
/// and `Display` output replaces any password with `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Returns the URL with its password, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// The parser of `--redis-url`. clap quotes the raw value in the errors of a plain parser
/// function, password included, so this parser writes its own message with the password replaced.
#[derive(Clone, Copy, Debug)]
struct RedisUrlParser;

impl clap::builder::TypedValueParser for RedisUrlParser {
    type Value = RedisUrl;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<RedisUrl, clap::Error> {
        let option = arg.map_or_else(|| "--redis-url".to_owned(), |arg| arg.to_string());
        let invalid = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for '{option}': {message}\n"),
            )
            .with_cmd(command)
        };
        let value = value
            .to_str()
            .ok_or_else(|| invalid("the value is not valid UTF-8".to_owned()))?;
        parse_redis_url(value).map_err(invalid)
    }
}

fn parse_redis_url(value: &str) -> Result<RedisUrl, String> {
    for url in value.split(',') {
        let url = url.trim();
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("redis" | "rediss" | "redis+unix" | "unix")) {
            return Err(format!(
                "{} is not a Redis URL; use redis://HOST:PORT, redis://:PASSWORD@HOST:PORT/DB or \
                 rediss:// for TLS",
                redact_url(url.trim())
            ));
        }
    }
    Ok(RedisUrl(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_url_hides_password() {
        let url = parse_redis_url("redis://user:s3cret@cache:6379/0").unwrap();
        assert_eq!(url.to_string(), "redis://***@cache:6379/0");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.expose(), "redis://user:s3cret@cache:6379/0");
    }

    #[test]
    fn redis_url_rejects_other_schemes() {
        let error = parse_redis_url("http://cache:6379").unwrap_err();
        assert!(error.contains("not a Redis URL"), "{error}");
    }

    #[test]
    fn rejected_redis_url_hides_password() {
        let url = "http://user:s3cret@cache:6379";
        let error = Config::try_parse_from(["token-authority", "--redis-url", url]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("--redis-url"), "{message}");
        assert!(message.contains("http://***@cache:6379"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn metrics_listen_defaults_to_9090() {
        let config = Config::try_parse_from(["token-authority"]).unwrap();
        assert_eq!(
            config.metrics_listen.address(),
            Some("0.0.0.0:9090".parse().unwrap())
        );
    }

    #[test]
    fn metrics_listen_turns_off() {
        for value in ["off", "OFF", ""] {
            let config =
                Config::try_parse_from(["token-authority", "--metrics-listen", value]).unwrap();
            assert_eq!(config.metrics_listen, MetricsListen::Off, "{value:?}");
        }
    }

    #[test]
    fn bad_metrics_listen_names_option() {
        let error = Config::try_parse_from(["token-authority", "--metrics-listen", "9090"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--metrics-listen"), "{error}");
        assert!(error.contains("address and port"), "{error}");
    }

    #[test]
    fn cluster_requires_redis_url() {
        let error = Config::try_parse_from(["token-authority", "--redis-cluster"]).unwrap_err();
        assert!(error.to_string().contains("--redis-url"), "{error}");
    }

    #[test]
    fn admin_token_file_read_at_parse() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"0123456789abcdef-secret\n").unwrap();
        let path = file.path().to_str().unwrap();

        let config =
            Config::try_parse_from(["token-authority", "--admin-token-file", path]).unwrap();
        let expected = AdminToken::from_bytes(b"0123456789abcdef-secret").unwrap();
        assert_eq!(config.admin_token, Some(expected));
        assert!(!format!("{config:?}").contains("0123456789abcdef-secret"));
    }

    #[test]
    fn admin_token_defaults_to_unset() {
        let config = Config::try_parse_from(["token-authority"]).unwrap();
        assert_eq!(config.admin_token, None);
    }

    #[test]
    fn bad_admin_token_file_names_option() {
        let short = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(short.path(), "short-secret\n").unwrap();
        let empty = tempfile::NamedTempFile::new().unwrap();
        let cases = [
            (short.path().to_str().unwrap().to_owned(), "at least 16"),
            (empty.path().to_str().unwrap().to_owned(), "empty"),
            ("/nonexistent/admin-token".to_owned(), "does not exist"),
        ];
        for (path, reason) in cases {
            let error =
                Config::try_parse_from(["token-authority", "--admin-token-file", path.as_str()])
                    .unwrap_err()
                    .to_string();
            assert!(error.contains("--admin-token-file"), "{error}");
            assert!(error.contains(reason), "{error}");
            assert!(!error.contains("short-secret"), "{error}");
        }
    }

    #[test]
    fn bad_value_names_option() {
        let error = Config::try_parse_from(["token-authority", "--system-limit", "0"]).unwrap_err();
        assert!(error.to_string().contains("--system-limit"), "{error}");
    }
}
