//! Conversions from domain values to proto messages.

use prost_types::Timestamp;

use crate::{
    domain::{
        Denial, LimitKind, Plan, ProjectRecord, Scope, ScopeSet, TokenRecord, TokenStatus,
        limits::{RateHeaders, RateOutcome, WindowView, ceil_seconds},
        now_ms,
    },
    proto::v1 as pb,
    service::IssuedToken,
};

/// Converts Unix milliseconds to a timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Converts a scope.
pub fn scope(scope: Scope) -> pb::Scope {
    match scope {
        Scope::PostServerItem => pb::Scope::PostServerItem,
        Scope::PostClientItem => pb::Scope::PostClientItem,
        Scope::Read => pb::Scope::Read,
        Scope::Write => pb::Scope::Write,
    }
}

/// Converts a scope set, in enum order.
pub fn scopes(set: ScopeSet) -> Vec<i32> {
    set.iter().map(|s| scope(s) as i32).collect()
}

/// Converts a token status.
pub fn status(status: TokenStatus) -> pb::TokenStatus {
    match status {
        TokenStatus::Enabled => pb::TokenStatus::Enabled,
        TokenStatus::Disabled => pb::TokenStatus::Disabled,
        TokenStatus::Expired => pb::TokenStatus::Expired,
    }
}

/// Converts an account plan.
pub fn plan(plan: Plan) -> pb::AccountPlan {
    match plan {
        Plan::Free => pb::AccountPlan::Free,
        Plan::Paid => pb::AccountPlan::Paid,
    }
}

/// Converts a limit kind.
pub fn limit_kind(kind: LimitKind) -> pb::LimitKind {
    match kind {
        LimitKind::System => pb::LimitKind::System,
        LimitKind::User => pb::LimitKind::User,
    }
}

/// Converts a denial reason.
pub fn denial_reason(denial: Denial) -> pb::DenialReason {
    match denial {
        Denial::MissingToken => pb::DenialReason::MissingToken,
        Denial::UnknownToken => pb::DenialReason::UnknownToken,
        Denial::Disabled => pb::DenialReason::Disabled,
        Denial::Expired => pb::DenialReason::Expired,
        Denial::WrongProject => pb::DenialReason::WrongProject,
        Denial::InsufficientScope { .. } => pb::DenialReason::InsufficientScope,
        Denial::RateLimited => pb::DenialReason::RateLimited,
    }
}

/// Converts a token record, reporting its effective status now.
pub fn token(record: &TokenRecord) -> pb::Token {
    pb::Token {
        token_id: record.token_id.clone(),
        project_id: record.project_id.clone(),
        name: record.name.clone(),
        scopes: scopes(record.scopes),
        status: status(record.effective_status(now_ms())) as i32,
        rate_limit: record.user_limit.map(|limit| pb::UserRateLimit {
            count: limit.count as i64,
            window_seconds: limit.window_seconds as i64,
        }),
        expires_at: record.expires_at_ms.map(timestamp),
        created_at: Some(timestamp(record.created_at_ms)),
        modified_at: Some(timestamp(record.modified_at_ms)),
        key_hint: record.key_hint.clone(),
    }
}

/// Converts a token with its new key.
pub fn issued(issued: &IssuedToken) -> pb::IssuedToken {
    pb::IssuedToken {
        token: Some(token(&issued.record)),
        access_token: issued.key.expose().to_owned(),
    }
}

/// Converts a project.
pub fn project(record: &ProjectRecord) -> pb::Project {
    pb::Project {
        project_id: record.project_id.clone(),
        account_id: record.account_id.clone(),
        name: record.name.clone(),
        created_at: Some(timestamp(record.created_at_ms)),
    }
}

/// Converts header figures.
pub fn headers(headers: RateHeaders) -> pb::RateLimitHeaders {
    pb::RateLimitHeaders {
        kind: limit_kind(headers.kind) as i32,
        limit: headers.limit as i64,
        remaining: headers.remaining as i64,
        reset: headers.reset,
        remaining_seconds: headers.remaining_seconds,
        retry_after_seconds: headers.retry_after_seconds,
        window_seconds: headers.window_seconds as i64,
    }
}

/// Converts the windows of an evaluation.
pub fn windows(outcome: &RateOutcome) -> Vec<pb::RateLimitWindow> {
    outcome.windows.iter().map(window).collect()
}

fn window(view: &WindowView) -> pb::RateLimitWindow {
    let (start, reset) = match view.window {
        Some(window) => (
            window.start_ms,
            ceil_seconds(window.start_ms + view.limit.window_seconds as i64 * 1000),
        ),
        None => (0, 0),
    };
    pb::RateLimitWindow {
        kind: limit_kind(view.limit.kind) as i32,
        limit: view.limit.count as i64,
        window_seconds: view.limit.window_seconds as i64,
        window_start_unix_ms: start,
        count: view.count() as i64,
        remaining: view.remaining() as i64,
        reset,
        enforced: view.limit.enforced,
    }
}
