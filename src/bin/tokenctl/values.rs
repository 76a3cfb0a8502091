//! Parsers for option values: scopes, actions, statuses, plans, rate limits, timestamps and the
//! server address. They check only the syntax; the server checks the rules (id characters,
//! windows, counts) and names the field when one fails.

use clap::{ValueEnum, builder::PossibleValuesParser, builder::TypedValueParser};
use token_authority::{domain::Scope, proto::v1 as pb};
use tonic::transport::Endpoint;

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

/// Parses `COUNT/WINDOW_SECONDS`.
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
    Ok(RateLimitArg {
        count,
        window_seconds,
    })
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
