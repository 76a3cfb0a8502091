//! The record of an Authorize decision: fields on the RPC span, metrics, and for the first
//! denial of a rate-limit window, one log line.

use tracing::Span;

use super::metrics::{denying_limit, metrics};
use crate::service::AuthorizeDecision;

/// Records an Authorize decision in the current RPC span and the metrics, and logs "rate limit
/// reached" for the first denial of a window. That denial is flagged once across all replicas,
/// so the line appears once per token and window, which is the way to find the tokens that
/// are being rate limited without putting token ids in metric labels.
pub fn record_authorize(decision: &AuthorizeDecision) {
    let span = Span::current();
    if let Some(token) = &decision.token {
        span.record("project_id", token.project_id.as_str());
        span.record("token_id", token.token_id.as_str());
    }
    match decision.denial {
        None => span.record("decision", "allow"),
        Some(denial) => {
            span.record("decision", "deny");
            span.record("reason", denial.name())
        }
    };
    metrics().record_authorize(decision);

    let first_denial = decision.rate.as_ref().is_some_and(|rate| rate.first_denial);
    if let (true, Some(token)) = (first_denial, &decision.token) {
        tracing::info!(
            project_id = %token.project_id,
            token_id = %token.token_id,
            token_name = %token.name,
            limit = denying_limit(decision),
            "rate limit reached"
        );
    }
}
