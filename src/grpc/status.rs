//! The one conversion from [`Error`] to a gRPC [`Status`], and where failures are logged.
//!
//! No error leaves as UNKNOWN: frontends treat UNAVAILABLE as "retry or fail open by policy",
//! while UNKNOWN would tell them nothing.
//!
//! Server faults are logged once per run of identical errors (see
//! [`telemetry::first_of_run`]): while Redis is down every request fails the same way.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::{debug, error};

use crate::{logging::error_chain, service::Error, telemetry::first_of_run};

/// The message of every UNAUTHENTICATED status. It is the same whatever was wrong, so that a
/// caller without the token learns nothing about it.
pub const UNAUTHENTICATED_MESSAGE: &str = "missing or invalid admin credential; pass it as the \
     metadata authorization: Bearer TOKEN (tokenctl: --admin-token-file or \
     TOKENCTL_ADMIN_TOKEN_FILE)";

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            // A management call without the admin token. The reason names the part of the
            // metadata that was wrong and never contains the token.
            Error::Unauthenticated { reason } => {
                debug!(reason, "admin credential rejected");
                Status::unauthenticated(UNAUTHENTICATED_MESSAGE)
            }
            // The caller sent a bad request: fix the named field; retrying as is will fail again.
            Error::InvalidArgument { field, rule } => {
                debug!(%field, %rule, "request rejected");
                let details = ErrorDetails::with_bad_request_violation(field.clone(), rule.clone());
                Status::with_error_details(
                    Code::InvalidArgument,
                    format!("invalid {field}: {rule}"),
                    details,
                )
            }
            // The caller named something that does not exist: check the id.
            Error::NotFound(message) => {
                debug!(%message, "not found");
                Status::not_found(message)
            }
            // The project id is taken: pick another id or use the existing project.
            Error::AlreadyExists(message) => {
                debug!(%message, "already exists");
                Status::already_exists(message)
            }
            // The state forbids the change: the message names the state and what to do instead.
            Error::FailedPrecondition(message) => {
                debug!(%message, "failed precondition");
                Status::failed_precondition(message)
            }
            // Concurrent requests on the same token won the race: retrying the request is safe.
            Error::Aborted(message) => {
                debug!(%message, "aborted by concurrent requests");
                Status::aborted(message)
            }
            // Redis failed or timed out: the caller may retry with backoff.
            Error::Unavailable(source) => {
                let error = error_chain(&source);
                if first_of_run(&format!("token store unavailable: {error}")) {
                    error!(%error, "token store unavailable");
                }
                Status::unavailable(format!(
                    "token store unavailable: {source}; retry with backoff"
                ))
            }
            // Stored data is damaged or the random source failed: an operator must look.
            Error::Internal(source) => {
                if first_of_run(&format!("token store returned invalid data: {source}")) {
                    error!(error = %source, "token store returned invalid data");
                }
                Status::internal(format!("internal error: {source}"))
            }
            Error::Random(source) => {
                error!(error = %source, "random source failed");
                Status::internal("internal error: failed to generate a key")
            }
        }
    }
}
