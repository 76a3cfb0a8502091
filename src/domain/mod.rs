//! The domain: scopes, actions, keys, token status, rate limits and the decision order. Pure
//! code with no I/O, shared by both stores and the transport.

pub mod action;
pub mod decision;
pub mod key;
pub mod limits;
pub mod scope;
pub mod token;

pub use action::Action;
pub use decision::Denial;
pub use key::{AccessKey, KeyHash, PresentedKey};
pub use limits::{LimitKind, RateMode, RateOutcome, SystemLimit, UserLimit};
pub use scope::{Scope, ScopeSet};
pub use token::{Plan, ProjectRecord, TokenPatch, TokenRecord, TokenStatus};

/// Returns the current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}
