//! Command output: one JSON document for scripts, or tables for people.
//!
//! Every command builds a [`Report`] holding both forms, and `main` prints the one requested.
//! The JSON views below fix the shape scripts rely on: field names follow the proto, enum values
//! are lower-case names without their prefix (`post_server_item`, `enabled`, `rate_limited`),
//! and timestamps are RFC 3339 strings in UTC.

use comfy_table::{Table, presets};
use jiff::Timestamp;
use serde::Serialize;
use token_authority::proto::v1 as pb;

/// The result of a command in both output formats.
#[derive(Debug)]
pub struct Report {
    /// The document printed by `--output json`.
    pub json: serde_json::Value,
    /// The text printed on standard output by `--output table`.
    pub table: String,
    /// Notes printed on standard error in both formats, such as "keys are shown only once".
    pub notes: Vec<String>,
    /// Whether the reply is a denial, which exits with code 3.
    pub denied: bool,
}

impl Report {
    /// Builds a report from a serializable view and its table.
    pub fn new(view: &impl Serialize, table: String) -> Self {
        Report {
            json: serde_json::to_value(view).expect("views serialize to JSON"),
            table,
            notes: Vec::new(),
            denied: false,
        }
    }

    /// Adds a note for standard error.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// Returns the note printed wherever a reply carries `count` keys.
pub fn keys_shown_once(count: usize) -> &'static str {
    if count == 1 {
        "This key is shown only once: store it now. The server keeps only its hash."
    } else {
        "These keys are shown only once: store them now. The server keeps only their hashes."
    }
}

/// A token, without its key.
#[derive(Debug, Serialize)]
pub struct TokenView {
    pub token_id: String,
    pub project_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub status: String,
    pub rate_limit: Option<UserRateLimitView>,
    pub expires_at: Option<String>,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
    pub key_hint: String,
}

impl TokenView {
    /// Converts a token from a reply.
    pub fn from_proto(token: &pb::Token) -> Self {
        TokenView {
            token_id: token.token_id.clone(),
            project_id: token.project_id.clone(),
            name: token.name.clone(),
            scopes: scope_names(&token.scopes),
            status: status_name(token.status),
            rate_limit: token.rate_limit.map(|limit| UserRateLimitView {
                count: limit.count,
                window_seconds: limit.window_seconds,
            }),
            expires_at: token.expires_at.map(|time| rfc3339(&time)),
            created_at: token.created_at.map(|time| rfc3339(&time)),
            modified_at: token.modified_at.map(|time| rfc3339(&time)),
            key_hint: token.key_hint.clone(),
        }
    }
}

/// A token with its newly issued key.
#[derive(Debug, Serialize)]
pub struct IssuedTokenView {
    #[serde(flatten)]
    pub token: TokenView,
    pub access_token: String,
}

impl IssuedTokenView {
    /// Converts an issued token from a reply; a missing token becomes an empty view.
    pub fn from_proto(issued: &pb::IssuedToken) -> Self {
        IssuedTokenView {
            token: TokenView::from_proto(&issued.token.clone().unwrap_or_default()),
            access_token: issued.access_token.clone(),
        }
    }
}

/// A user-defined rate limit.
#[derive(Debug, Serialize)]
pub struct UserRateLimitView {
    pub count: i64,
    pub window_seconds: i64,
}

/// The rate-limit figures of an Authorize or CheckRateLimit reply.
#[derive(Debug, Serialize)]
pub struct RateLimitHeadersView {
    pub kind: String,
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
    pub remaining_seconds: i64,
    pub retry_after_seconds: i64,
    pub window_seconds: i64,
}

impl RateLimitHeadersView {
    /// Converts the figures from a reply.
    pub fn from_proto(headers: &pb::RateLimitHeaders) -> Self {
        RateLimitHeadersView {
            kind: limit_kind_name(headers.kind),
            limit: headers.limit,
            remaining: headers.remaining,
            reset: headers.reset,
            remaining_seconds: headers.remaining_seconds,
            retry_after_seconds: headers.retry_after_seconds,
            window_seconds: headers.window_seconds,
        }
    }
}

/// Renders rows of cells as columns under upper-case headers, separated by two spaces, with
/// no borders, so the output reads like `ls -l` and splits well with `awk`.
pub fn columns(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(headers.to_vec());
    for row in rows {
        table.add_row(row);
    }
    render(table)
}

/// Renders label and value pairs as two aligned columns.
pub fn details(rows: Vec<(&str, String)>) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    for (label, value) in rows {
        table.add_row(vec![label.to_owned(), value]);
    }
    render(table)
}

/// Turns a table into text, with no padding before the first column and no trailing spaces.
fn render(mut table: Table) -> String {
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut text = table.trim_fmt();
    text.push('\n');
    text
}

/// Returns the table of tokens without keys.
pub fn tokens_table(tokens: &[pb::Token]) -> String {
    let rows = tokens
        .iter()
        .map(|token| {
            vec![
                token.token_id.clone(),
                token.name.clone(),
                scope_names(&token.scopes).join(" "),
                status_name(token.status),
                token.rate_limit.map_or("-".to_owned(), |limit| {
                    format!("{} per {} s", limit.count, limit.window_seconds)
                }),
                token
                    .expires_at
                    .map_or("-".to_owned(), |time| rfc3339_seconds(&time)),
                format!("...{}", token.key_hint),
            ]
        })
        .collect();
    columns(
        &[
            "TOKEN ID",
            "NAME",
            "SCOPES",
            "STATUS",
            "RATE LIMIT",
            "EXPIRES AT",
            "KEY",
        ],
        rows,
    )
}

/// Returns the table of issued tokens with their keys.
pub fn issued_table(tokens: &[pb::IssuedToken]) -> String {
    let rows = tokens
        .iter()
        .map(|issued| {
            let token = issued.token.clone().unwrap_or_default();
            vec![
                token.project_id,
                token.token_id,
                token.name,
                scope_names(&token.scopes).join(" "),
                issued.access_token.clone(),
            ]
        })
        .collect();
    columns(
        &["PROJECT", "TOKEN ID", "NAME", "SCOPES", "ACCESS TOKEN"],
        rows,
    )
}

/// Returns the rows that describe one token.
pub fn token_details(token: &pb::Token) -> String {
    let optional_time = |time: Option<prost_types::Timestamp>, absent: &str| {
        time.map_or(absent.to_owned(), |time| rfc3339_seconds(&time))
    };
    details(vec![
        ("token id", token.token_id.clone()),
        ("project", token.project_id.clone()),
        ("name", token.name.clone()),
        ("scopes", scope_names(&token.scopes).join(" ")),
        ("status", status_name(token.status)),
        (
            "rate limit",
            token.rate_limit.map_or("none".to_owned(), |limit| {
                format!("{} per {} s", limit.count, limit.window_seconds)
            }),
        ),
        ("expires at", optional_time(token.expires_at, "never")),
        ("created at", optional_time(token.created_at, "-")),
        ("modified at", optional_time(token.modified_at, "-")),
        ("key", format!("...{}", token.key_hint)),
    ])
}

/// Returns the lower-case names of scopes, such as `post_server_item`.
pub fn scope_names(scopes: &[i32]) -> Vec<String> {
    scopes
        .iter()
        .map(|&value| match pb::Scope::try_from(value) {
            Ok(scope) => enum_name(scope.as_str_name(), "SCOPE_"),
            Err(_) => format!("unknown({value})"),
        })
        .collect()
}

/// Returns the lower-case name of a token status, such as `enabled`.
pub fn status_name(value: i32) -> String {
    match pb::TokenStatus::try_from(value) {
        Ok(status) => enum_name(status.as_str_name(), "TOKEN_STATUS_"),
        Err(_) => format!("unknown({value})"),
    }
}

/// Returns the lower-case name of a decision: `allow` or `deny`.
pub fn decision_name(value: i32) -> String {
    match pb::Decision::try_from(value) {
        Ok(decision) => enum_name(decision.as_str_name(), "DECISION_"),
        Err(_) => format!("unknown({value})"),
    }
}

/// Returns the lower-case name of a denial reason, or `None` when there is none.
pub fn denial_reason_name(value: i32) -> Option<String> {
    match pb::DenialReason::try_from(value) {
        Ok(pb::DenialReason::Unspecified) => None,
        Ok(reason) => Some(enum_name(reason.as_str_name(), "DENIAL_REASON_")),
        Err(_) => Some(format!("unknown({value})")),
    }
}

/// Returns the lower-case name of a limit kind: `system` or `user`.
pub fn limit_kind_name(value: i32) -> String {
    match pb::LimitKind::try_from(value) {
        Ok(kind) => enum_name(kind.as_str_name(), "LIMIT_KIND_"),
        Err(_) => format!("unknown({value})"),
    }
}

/// Returns the lower-case name of an account plan: `free` or `paid`.
pub fn plan_name(value: i32) -> String {
    match pb::AccountPlan::try_from(value) {
        Ok(plan) => enum_name(plan.as_str_name(), "ACCOUNT_PLAN_"),
        Err(_) => format!("unknown({value})"),
    }
}

/// Strips the proto prefix from an enum value name and lower-cases it.
fn enum_name(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or(proto_name)
        .to_ascii_lowercase()
}

/// Formats a timestamp in RFC 3339, in UTC, with as many fractional digits as it has.
pub fn rfc3339(time: &prost_types::Timestamp) -> String {
    match Timestamp::new(time.seconds, time.nanos) {
        Ok(instant) => instant.to_string(),
        Err(_) => format!("invalid timestamp ({}s, {}ns)", time.seconds, time.nanos),
    }
}

/// Formats a timestamp in RFC 3339, in UTC, to the second, for tables.
pub fn rfc3339_seconds(time: &prost_types::Timestamp) -> String {
    rfc3339(&prost_types::Timestamp {
        seconds: time.seconds,
        nanos: 0,
    })
}

/// Formats a count with the singular or plural noun, such as "1 token" or "2 tokens".
pub fn count(number: impl Into<i64>, singular: &str, plural: &str) -> String {
    let number = number.into();
    if number == 1 {
        format!("1 {singular}")
    } else {
        format!("{number} {plural}")
    }
}

/// Formats a yes or no for tables.
pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_drop_prefix() {
        assert_eq!(
            scope_names(&[pb::Scope::PostServerItem as i32, 99]),
            ["post_server_item", "unknown(99)"]
        );
        assert_eq!(status_name(pb::TokenStatus::Enabled as i32), "enabled");
        assert_eq!(
            denial_reason_name(pb::DenialReason::RateLimited as i32).as_deref(),
            Some("rate_limited")
        );
        assert_eq!(denial_reason_name(0), None);
    }

    #[test]
    fn timestamps_are_utc() {
        let time = prost_types::Timestamp {
            seconds: 1_896_091_200,
            nanos: 250_000_000,
        };
        assert_eq!(rfc3339(&time), "2030-01-31T12:00:00.25Z");
        assert_eq!(rfc3339_seconds(&time), "2030-01-31T12:00:00Z");
    }

    #[test]
    fn tables_have_no_trailing_spaces() {
        let text = columns(
            &["A", "LONGER"],
            vec![vec!["x".into(), "".into()], vec!["yyyy".into(), "z".into()]],
        );
        assert_eq!(text, "A     LONGER\nx\nyyyy  z\n");
    }
}
