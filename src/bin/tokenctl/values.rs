//! Parsers for option values: scopes, actions, statuses, plans, rate limits, counts,
//! timestamps, the timeout, the server address and the admin token file. They check only the
//! syntax and signs; the server checks the rules (id characters, windows, maximum counts) and
//! names the field when one fails.

use std::{fmt, path::Path, time::Duration};

use clap::{ValueEnum, builder::PossibleValuesParser, builder::TypedValueParser};
use token_authority::{domain::Scope, proto::v1 as pb};
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::Endpoint,
};

/// Returns a parser that accepts a scope by its name, such as `post_server_item`, and lists the
/// valid names when it rejects one.
pub fn scope_parser() -> impl TypedValueParser<Value = Scope> {
    PossibleValuesParser::new(Scope::ALL.map(Scope::name))
        .map(|name| Scope::from_name(&name).expect("the parser accepts only scope names"))
}

/// Converts a scope to its proto value.
pub fn scope_to_proto(scope: Scope) -> pb::Scope {
    match scope {
        Scope::PostServerItem => pb::Scope::PostServerItem,
        Scope::PostClientItem => pb::Scope::PostClientItem,
        Scope::Read => pb::Scope::Read,
        Scope::Write => pb::Scope::Write,
    }
}

/// The action a request performs, named as on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    /// Post an item; its --platform decides the scope it needs.
    PostItem,
    /// Post a deploy.
    PostDeploy,
    /// Upload a JavaScript source map.
    UploadSourceMap,
    /// Upload a ProGuard mapping file.
    UploadProguardMapping,
    /// Upload a dSYM file.
    UploadDsym,
    /// Upload Flutter symbols.
    UploadFlutterSymbols,
    /// Any read (GET) call.
    Read,
    /// Any write (PATCH or DELETE) call.
    Write,
}

impl ActionArg {
    /// Converts the action to its proto value.
    pub fn to_proto(self) -> pb::Action {
        match self {
            ActionArg::PostItem => pb::Action::PostItem,
            ActionArg::PostDeploy => pb::Action::PostDeploy,
            ActionArg::UploadSourceMap => pb::Action::UploadSourceMap,
            ActionArg::UploadProguardMapping => pb::Action::UploadProguardMapping,
            ActionArg::UploadDsym => pb::Action::UploadDsym,
            ActionArg::UploadFlutterSymbols => pb::Action::UploadFlutterSymbols,
            ActionArg::Read => pb::Action::Read,
            ActionArg::Write => pb::Action::Write,
        }
    }
}

/// A token status to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    /// Enabled tokens.
    Active,
    /// Disabled tokens.
    Disabled,
    /// Expired tokens, explicitly or because their expiry passed.
    Expired,
}

impl StatusFilter {
    /// Converts the filter to its proto value.
    pub fn to_proto(self) -> pb::TokenStatus {
        match self {
            StatusFilter::Active => pb::TokenStatus::Enabled,
            StatusFilter::Disabled => pb::TokenStatus::Disabled,
            StatusFilter::Expired => pb::TokenStatus::Expired,
        }
    }
}

/// An account plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanArg {
    /// Paid plan: user-defined rate limits are enforced.
    Paid,
    /// Free plan: only the system limit applies.
    Free,
}

impl PlanArg {
    /// Converts the plan to its proto value.
    pub fn to_proto(self) -> pb::AccountPlan {
        match self {
            PlanArg::Paid => pb::AccountPlan::Paid,
            PlanArg::Free => pb::AccountPlan::Free,
        }
    }
}

/// A user-defined rate limit as typed: `COUNT/WINDOW_SECONDS`, such as `1000/60`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitArg {
    /// Requests allowed per window.
    pub count: i64,
    /// The window length, in seconds.
    pub window_seconds: i64,
}

impl RateLimitArg {
    /// Converts the limit to its proto value.
    pub fn to_proto(self) -> pb::UserRateLimit {
        pb::UserRateLimit {
            count: self.count,
            window_seconds: self.window_seconds,
        }
    }
}

/// Parses `COUNT/WINDOW_SECONDS`, with neither part negative.
pub fn parse_rate_limit(value: &str) -> Result<RateLimitArg, String> {
    let usage = "use COUNT/WINDOW_SECONDS, such as 1000/60 for 1000 requests per minute";
    let Some((count, window)) = value.split_once('/') else {
        return Err(format!("missing '/': {usage}"));
    };
    let count = count
        .trim()
        .parse::<i64>()
        .map_err(|error| format!("invalid count {count:?} ({error}): {usage}"))?;
    let window_seconds = window
        .trim()
        .parse::<i64>()
        .map_err(|error| format!("invalid window {window:?} ({error}): {usage}"))?;
    if count < 0 {
        return Err(format!(
            "the count must not be negative, got {count}: {usage}"
        ));
    }
    if window_seconds < 0 {
        return Err(format!(
            "the window must not be negative, got {window_seconds}: {usage}"
        ));
    }
    Ok(RateLimitArg {
        count,
        window_seconds,
    })
}

/// Parses a page size, at least 1. The server checks the maximum.
pub fn parse_page_size(value: &str) -> Result<i32, String> {
    let size: i32 = value
        .trim()
        .parse()
        .map_err(|error| format!("{error}; use a whole number from 1 to 1000"))?;
    if size < 1 {
        return Err(format!("must be at least 1, got {size}"));
    }
    Ok(size)
}

/// Parses a cost: the number of requests a call counts as, 0 or more.
pub fn parse_cost(value: &str) -> Result<i64, String> {
    let cost: i64 = value
        .trim()
        .parse()
        .map_err(|error| format!("{error}; use a whole number such as 1 or 10"))?;
    if cost < 0 {
        return Err(format!("must not be negative, got {cost}"));
    }
    Ok(cost)
}

/// Parses the timeout, such as `500ms`, `5s` or `1m`, which must be above 0.
pub fn parse_timeout(value: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(value.trim())
        .map_err(|error| format!("{error}; use a duration such as 500ms, 5s or 1m"))?;
    if timeout.is_zero() {
        return Err("must be above 0; use a duration such as 500ms, 5s or 1m".to_owned());
    }
    Ok(timeout)
}

/// The admin token, ready to send as `authorization: Bearer TOKEN`. Its `Debug` output shows no
/// part of it.
#[derive(Clone)]
pub struct AdminCredential(MetadataValue<Ascii>);

impl AdminCredential {
    /// Returns the `authorization` metadata value, marked sensitive so that tonic and its HTTP/2
    /// layer never print it.
    pub fn authorization(&self) -> MetadataValue<Ascii> {
        self.0.clone()
    }
}

impl fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminCredential(***)")
    }
}

/// Reads the admin token from the file at `path`, with one trailing newline removed, as the
/// server reads its own `--admin-token-file`.
pub fn parse_admin_token_file(path: &str) -> Result<AdminCredential, String> {
    let contents = std::fs::read(Path::new(path)).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => format!("{path} does not exist"),
        _ => format!("failed to read {path}: {error}"),
    })?;
    admin_credential(&contents)
}

fn admin_credential(contents: &[u8]) -> Result<AdminCredential, String> {
    let token = contents
        .strip_suffix(b"\r\n")
        .or_else(|| contents.strip_suffix(b"\n"))
        .unwrap_or(contents);
    if token.is_empty() {
        return Err(
            "the file is empty; it must hold the token the server's --admin-token-file holds"
                .to_owned(),
        );
    }
    if let Some(position) = token.iter().position(|byte| !byte.is_ascii_graphic()) {
        return Err(format!(
            "the token has a space, control or non-ASCII byte at offset {position}, so it cannot \
             be sent in a header; the server accepts only visible ASCII tokens"
        ));
    }
    let mut header = b"Bearer ".to_vec();
    header.extend_from_slice(token);
    let mut value = MetadataValue::try_from(header)
        .map_err(|_| "the token cannot be sent in a header".to_owned())?;
    value.set_sensitive(true);
    Ok(AdminCredential(value))
}

/// Parses an RFC 3339 timestamp with a UTC offset, such as `2030-01-31T12:00:00Z` or
/// `2030-01-31T14:00:00+02:00`.
pub fn parse_timestamp(value: &str) -> Result<prost_types::Timestamp, String> {
    let instant: jiff::Timestamp = value.trim().parse().map_err(|error| {
        format!("{error}; use RFC 3339 with an offset, such as 2030-01-31T12:00:00Z")
    })?;
    Ok(prost_types::Timestamp {
        seconds: instant.as_second(),
        nanos: instant.subsec_nanosecond(),
    })
}

/// Parses the server address: a URL such as `http://127.0.0.1:50051`, or `HOST:PORT`. tokenctl
/// speaks plaintext HTTP/2, as the server does, so other schemes are rejected.
pub fn parse_server(value: &str) -> Result<String, String> {
    let value = value.trim();
    let url = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    if !url.starts_with("http://") {
        return Err(
            "tokenctl connects over plaintext HTTP/2; use http://HOST:PORT or HOST:PORT".to_owned(),
        );
    }
    Endpoint::from_shared(url.clone()).map_err(|error| {
        format!("{error}; use http://HOST:PORT, such as http://127.0.0.1:50051")
    })?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_parses_count_and_window() {
        assert_eq!(
            parse_rate_limit("1000/60"),
            Ok(RateLimitArg {
                count: 1000,
                window_seconds: 60
            })
        );
        assert!(
            parse_rate_limit("1000")
                .unwrap_err()
                .contains("missing '/'")
        );
        assert!(
            parse_rate_limit("x/60")
                .unwrap_err()
                .contains("invalid count")
        );
        assert!(
            parse_rate_limit("10/1m")
                .unwrap_err()
                .contains("invalid window")
        );
    }

    #[test]
    fn rate_limit_rejects_negative_parts() {
        let error = parse_rate_limit("-5/60").unwrap_err();
        assert!(
            error.contains("count must not be negative, got -5"),
            "{error}"
        );
        let error = parse_rate_limit("5/-60").unwrap_err();
        assert!(
            error.contains("window must not be negative, got -60"),
            "{error}"
        );
        assert!(parse_rate_limit("0/0").is_ok());
    }

    #[test]
    fn page_size_at_least_one() {
        assert_eq!(parse_page_size("25"), Ok(25));
        assert_eq!(
            parse_page_size("-1"),
            Err("must be at least 1, got -1".to_owned())
        );
        assert_eq!(
            parse_page_size("0"),
            Err("must be at least 1, got 0".to_owned())
        );
        assert!(parse_page_size("ten").unwrap_err().contains("1 to 1000"));
    }

    #[test]
    fn cost_not_negative() {
        assert_eq!(parse_cost("0"), Ok(0));
        assert_eq!(parse_cost("7"), Ok(7));
        assert_eq!(
            parse_cost("-1"),
            Err("must not be negative, got -1".to_owned())
        );
    }

    #[test]
    fn timeout_above_zero() {
        assert_eq!(parse_timeout("300ms"), Ok(Duration::from_millis(300)));
        assert!(parse_timeout("0").unwrap_err().contains("must be above 0"));
        assert!(parse_timeout("0s").unwrap_err().contains("must be above 0"));
        assert!(parse_timeout("soon").unwrap_err().contains("500ms"));
    }

    #[test]
    fn admin_credential_is_bearer() {
        let credential = admin_credential(b"0123456789abcdef-admin\n").unwrap();
        assert_eq!(
            credential.authorization().to_str().unwrap(),
            "Bearer 0123456789abcdef-admin"
        );
        assert!(credential.authorization().is_sensitive());
        assert_eq!(format!("{credential:?}"), "AdminCredential(***)");
    }

    #[test]
    fn admin_credential_rejects_bad_files() {
        let error = admin_credential(b"\n").unwrap_err();
        assert!(error.contains("empty"), "{error}");
        let error = admin_credential(b"two words").unwrap_err();
        assert!(error.contains("offset 3"), "{error}");
        assert!(!error.contains("words"), "{error}");
        let error = parse_admin_token_file("/nonexistent/admin-token").unwrap_err();
        assert_eq!(error, "/nonexistent/admin-token does not exist");
    }

    #[test]
    fn timestamp_accepts_offsets() {
        let utc = parse_timestamp("2030-01-31T12:00:00Z").unwrap();
        let offset = parse_timestamp("2030-01-31T14:00:00+02:00").unwrap();
        assert_eq!(utc, offset);
        assert_eq!(utc.seconds, 1_896_091_200);
        assert!(
            parse_timestamp("tomorrow")
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn server_defaults_to_http() {
        assert_eq!(
            parse_server("127.0.0.1:50051").unwrap(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(
            parse_server("http://[::1]:50051").unwrap(),
            "http://[::1]:50051"
        );
        assert!(parse_server("https://host:443").is_err());
        assert!(parse_server("ftp://host:21").is_err());
    }
}
