//! Authorize denials and the order in which token checks run.

use super::{
    scope::{Scope, ScopeSet},
    token::{TokenRecord, TokenStatus},
};

/// The reason Authorize denied a request. The variants are in check order, and the first
/// failing check decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// No key was presented.
    MissingToken,
    /// The key matches no token, or cannot be a key.
    UnknownToken,
    /// The token is disabled.
    Disabled,
    /// The token is expired, explicitly or by its expiry time.
    Expired,
    /// The token belongs to another project than the one the caller named.
    WrongProject,
    /// The token lacks the scope the action requires.
    InsufficientScope {
        /// The scope the action requires.
        required: Scope,
        /// The scopes the token holds.
        held: ScopeSet,
    },
    /// A rate limit is spent for the current window.
    RateLimited,
}

impl Denial {
    /// One denial of each reason, in check order. The scopes of `InsufficientScope` are
    /// placeholders.
    pub const ALL: [Denial; 7] = [
        Denial::MissingToken,
        Denial::UnknownToken,
        Denial::Disabled,
        Denial::Expired,
        Denial::WrongProject,
        Denial::InsufficientScope {
            required: Scope::PostServerItem,
            held: ScopeSet::empty(),
        },
        Denial::RateLimited,
    ];

    /// Returns the HTTP status the frontend returns to its caller.
    pub fn http_status(self) -> u16 {
        match self {
            Denial::MissingToken => 401,
            Denial::RateLimited => 429,
            _ => 403,
        }
    }

    /// Returns the reason's name in snake case, as spans, metric labels and tokenctl spell it.
    pub fn name(self) -> &'static str {
        match self {
            Denial::MissingToken => "missing_token",
            Denial::UnknownToken => "unknown_token",
            Denial::Disabled => "disabled",
            Denial::Expired => "expired",
            Denial::WrongProject => "wrong_project",
            Denial::InsufficientScope { .. } => "insufficient_scope",
            Denial::RateLimited => "rate_limited",
        }
    }

    /// Returns the message the frontend returns to its caller, in Rollbar's wording.
    pub fn message(self) -> String {
        match self {
            Denial::MissingToken => "access token is missing".to_owned(),
            Denial::UnknownToken => "access token not found".to_owned(),
            Denial::Disabled => "insufficient privileges: the access token is disabled".to_owned(),
            Denial::Expired => "insufficient privileges: the access token is expired".to_owned(),
            Denial::WrongProject => {
                "insufficient privileges: the access token belongs to another project".to_owned()
            }
            Denial::InsufficientScope { required, held } => format!(
                "insufficient privileges: {required} scope is required but the access token \
                 only has {}",
                held.join(", ")
            ),
            Denial::RateLimited => "rate limit reached".to_owned(),
        }
    }
}

/// Runs the token checks that precede the rate limits, in order: status, project, scope.
pub fn check_token(
    token: &TokenRecord,
    now_ms: i64,
    expected_project: Option<&str>,
    required: Scope,
) -> Result<(), Denial> {
    match token.effective_status(now_ms) {
        TokenStatus::Enabled => {}
        TokenStatus::Disabled => return Err(Denial::Disabled),
        TokenStatus::Expired => return Err(Denial::Expired),
    }
    if expected_project.is_some_and(|project| project != token.project_id) {
        return Err(Denial::WrongProject);
    }
    if !token.scopes.contains(required) {
        return Err(Denial::InsufficientScope {
            required,
            held: token.scopes,
        });
    }
    Ok(())
}
