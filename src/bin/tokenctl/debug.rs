//! The commands for debugging a key: `authorize` calls Authorize as a frontend does, and `check` reports
//! the token's rate-limit windows.

use std::io::BufRead;

use serde::Serialize;
use token_authority::proto::v1::{self as pb, check_rate_limit_request::Token};

use crate::{
    cli::{AuthorizeArgs, CheckArgs},
    client::Session,
    error::CliError,
    output::{
        self, RateLimitHeadersView, Report, columns, decision_name, denial_reason_name, details,
        limit_kind_name, scope_names, status_name, yes_no,
    },
};

/// Runs `authorize`.
pub async fn authorize(session: &Session, args: AuthorizeArgs) -> Result<Report, CliError> {
    let request = pb::AuthorizeRequest {
        access_token: read_key(args.key)?,
        action: args.action.to_proto() as i32,
        platform: args.platform,
        project_id: args.project.unwrap_or_default(),
        cost: args.cost.unwrap_or(0),
    };
    let reply = session.authorize(request).await?;

    #[derive(Serialize)]
    struct AuthorizeView {
        decision: String,
        denial_reason: Option<String>,
        http_status: i32,
        message: String,
        project_id: String,
        token_id: String,
        token_name: String,
        scopes: Vec<String>,
        rate_limit: Option<RateLimitHeadersView>,
        first_denial_in_window: bool,
    }
    let view = AuthorizeView {
        decision: decision_name(reply.decision),
        denial_reason: denial_reason_name(reply.denial_reason),
        http_status: reply.http_status,
        message: reply.message.clone(),
        project_id: reply.project_id.clone(),
        token_id: reply.token_id.clone(),
        token_name: reply.token_name.clone(),
        scopes: scope_names(&reply.scopes),
        rate_limit: reply
            .rate_limit
            .as_ref()
            .map(RateLimitHeadersView::from_proto),
        first_denial_in_window: reply.first_denial_in_window,
    };

    let mut rows = vec![
        ("decision", view.decision.clone()),
        ("http status", reply.http_status.to_string()),
    ];
    if let Some(reason) = &view.denial_reason {
        rows.push(("reason", reason.clone()));
    }
    if !reply.message.is_empty() {
        rows.push(("message", reply.message.clone()));
    }
    // The token fields are set whenever the key matched a token.
    if !reply.token_id.is_empty() {
        rows.push(("project", reply.project_id.clone()));
        rows.push(("token id", reply.token_id.clone()));
        rows.push(("token name", reply.token_name.clone()));
        rows.push(("scopes", view.scopes.join(" ")));
    }
    if let Some(headers) = &reply.rate_limit {
        rows.extend(header_rows(headers));
    }
    if view.denial_reason.as_deref() == Some("rate_limited") {
        rows.push((
            "first denial in window",
            yes_no(reply.first_denial_in_window),
        ));
    }

    let mut report = Report::new(&view, details(rows));
    report.denied = reply.decision != pb::Decision::Allow as i32;
    Ok(report)
}

/// Returns the rows of the figures a frontend puts in its X-Rate-Limit-* and Retry-After
/// headers, under those header names.
fn header_rows(headers: &pb::RateLimitHeaders) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        (
            "rate limit",
            format!(
                "{}, {} per {} s",
                limit_kind_name(headers.kind),
                headers.limit,
                headers.window_seconds
            ),
        ),
        ("X-Rate-Limit-Limit", headers.limit.to_string()),
        ("X-Rate-Limit-Remaining", headers.remaining.to_string()),
        ("X-Rate-Limit-Reset", headers.reset.to_string()),
        (
            "X-Rate-Limit-Remaining-Seconds",
            headers.remaining_seconds.to_string(),
        ),
    ];
    if headers.retry_after_seconds > 0 {
        rows.push(("Retry-After", headers.retry_after_seconds.to_string()));
    }
    rows
}

/// Runs `check`.
pub async fn check(session: &Session, args: CheckArgs) -> Result<Report, CliError> {
    let token = match (args.key, args.project, args.token) {
        (Some(key), _, _) => Token::AccessToken(read_key(key)?),
        (None, Some(project_id), Some(token_id)) => Token::TokenRef(pb::TokenRef {
            project_id,
            token_id,
        }),
        // The argument groups require --key or both --project and --token.
        _ => unreachable!("clap requires --key, or --project with --token"),
    };
    let cost = args.cost.unwrap_or(0);
    let request = pb::CheckRateLimitRequest {
        token: Some(token),
        cost,
        dry_run: args.dry_run,
    };
    let reply = session.check_rate_limit(request).await?;

    #[derive(Serialize)]
    struct WindowView {
        kind: String,
        limit: i64,
        window_seconds: i64,
        window_start: Option<String>,
        count: i64,
        remaining: i64,
        reset: i64,
        enforced: bool,
    }
    #[derive(Serialize)]
    struct CheckView {
        project_id: String,
        token_id: String,
        status: String,
        cost: i64,
        dry_run: bool,
        allowed: bool,
        consumed: bool,
        first_denial_in_window: bool,
        windows: Vec<WindowView>,
        rate_limit: Option<RateLimitHeadersView>,
    }
    let windows: Vec<WindowView> = reply
        .windows
        .iter()
        .map(|window| WindowView {
            kind: limit_kind_name(window.kind),
            limit: window.limit,
            window_seconds: window.window_seconds,
            window_start: (window.window_start_unix_ms != 0).then(|| {
                output::rfc3339(&prost_types::Timestamp {
                    seconds: window.window_start_unix_ms.div_euclid(1000),
                    nanos: (window.window_start_unix_ms.rem_euclid(1000) * 1_000_000) as i32,
                })
            }),
            count: window.count,
            remaining: window.remaining,
            reset: window.reset,
            enforced: window.enforced,
        })
        .collect();

    let mut table = details(vec![
        ("project", reply.project_id.clone()),
        ("token id", reply.token_id.clone()),
        ("status", status_name(reply.status)),
        ("cost", cost.to_string()),
        ("allowed", yes_no(reply.allowed)),
        ("consumed", yes_no(reply.consumed)),
    ]);
    let rows = windows
        .iter()
        .map(|window| {
            vec![
                window.kind.clone(),
                window.limit.to_string(),
                format!("{} s", window.window_seconds),
                window.count.to_string(),
                window.remaining.to_string(),
                window
                    .window_start
                    .as_deref()
                    .map_or("-".to_owned(), |start| start.to_owned()),
                if window.reset == 0 {
                    "-".to_owned()
                } else {
                    window.reset.to_string()
                },
                yes_no(window.enforced),
            ]
        })
        .collect();
    table.push('\n');
    table.push_str(&columns(
        &[
            "LIMIT",
            "COUNT",
            "WINDOW",
            "USED",
            "REMAINING",
            "WINDOW START",
            "RESET",
            "ENFORCED",
        ],
        rows,
    ));

    let view = CheckView {
        project_id: reply.project_id,
        token_id: reply.token_id,
        status: status_name(reply.status),
        cost,
        dry_run: args.dry_run,
        allowed: reply.allowed,
        consumed: reply.consumed,
        first_denial_in_window: reply.first_denial_in_window,
        windows,
        rate_limit: reply
            .rate_limit
            .as_ref()
            .map(RateLimitHeadersView::from_proto),
    };
    let mut report = Report::new(&view, table);
    report.denied = !reply.allowed;
    Ok(report)
}

/// Returns the key as given, or the first line of standard input for `-`.
fn read_key(key: String) -> Result<String, CliError> {
    if key != "-" {
        return Ok(key);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CliError::ReadKey)?;
    // The server ignores surrounding whitespace, but a trailing newline is trimmed here too so
    // the request carries the key exactly.
    Ok(line.trim().to_owned())
}
