//! Errors of tokenctl, their exit codes, and how they read.

use std::{error::Error as _, io, path::PathBuf, process::ExitCode, time::Duration};

use tonic::{Code, Status};

/// Exit code of any error without a more specific code.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of a denial or of a missing project, account or token.
pub const EXIT_DENIED: u8 = 3;
/// Exit code when the server cannot be reached or does not reply in time.
pub const EXIT_UNREACHABLE: u8 = 4;

/// A failed tokenctl command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The connection to the server failed.
    #[error(
        "cannot connect to the token authority at {server}: {detail}; check that the server is \
         running and that --server (or TOKENCTL_SERVER) names it"
    )]
    Unreachable {
        /// The server address.
        server: String,
        /// The cause, such as "connection refused".
        detail: String,
    },

    /// The server did not reply within the timeout.
    #[error(
        "{operation}: no reply from the token authority at {server} within {}; check that \
         --server names it, or retry with a longer --timeout",
        humantime::format_duration(*timeout)
    )]
    TimedOut {
        /// The command that was running.
        operation: &'static str,
        /// The server address.
        server: String,
        /// The timeout that passed.
        timeout: Duration,
    },

    /// The server returned a gRPC error for the call.
    #[error("{operation}: {}", describe_status(.code, .message, .server))]
    Rejected {
        /// The command that failed.
        operation: &'static str,
        /// The server address.
        server: String,
        /// The gRPC status code.
        code: Code,
        /// The server's message, which names the field and rule for INVALID_ARGUMENT.
        message: String,
    },

    /// The server requires the admin token, and the call carried none or another one.
    #[error("{operation}: {}", describe_unauthenticated(.server, *.token_sent))]
    Unauthenticated {
        /// The command that failed.
        operation: &'static str,
        /// The server address.
        server: String,
        /// Whether an admin token was sent, so the advice fits the mistake.
        token_sent: bool,
    },

    /// The reply lacked a result the call must return.
    #[error(
        "{operation}: the server's reply has no {missing}; check that --server names a token \
         authority of the same version as tokenctl"
    )]
    IncompleteReply {
        /// The command that ran.
        operation: &'static str,
        /// The missing part.
        missing: &'static str,
    },

    /// The CSV file exists and --force was not given.
    #[error(
        "{} already exists; nothing was regenerated. Choose another --csv file, or pass --force \
         to replace it",
        .path.display()
    )]
    FileExists {
        /// The file.
        path: PathBuf,
    },

    /// A local file could not be created or written before any change was made.
    #[error("failed to {action} {}: {source}", .path.display())]
    File {
        /// The file operation that failed, such as "create".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// The keys were regenerated, but writing them to the CSV file failed.
    #[error(
        "regenerated {} tokens but failed to write their keys to {}: {source}. The new keys are \
         lost; issue new ones with tokenctl regenerate token --project PROJECT --token TOKEN for \
         each of: {}",
        .tokens.len(), .path.display(), tokens_list(.tokens)
    )]
    KeysNotSaved {
        /// The file.
        path: PathBuf,
        /// The regenerated tokens as `(project id, token id)`.
        tokens: Vec<(String, String)>,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// The key could not be read from standard input.
    #[error("failed to read the key from standard input: {0}")]
    ReadKey(#[source] io::Error),
}

impl CliError {
    /// Builds the error for a failed connection attempt, naming its deepest cause.
    pub fn unreachable(server: &str, error: &tonic::transport::Error) -> Self {
        CliError::Unreachable {
            server: server.to_owned(),
            detail: describe_transport_error(error),
        }
    }

    /// Builds the error for a gRPC status returned by a call.
    pub fn from_status(operation: &'static str, server: &str, status: &Status) -> Self {
        CliError::Rejected {
            operation,
            server: server.to_owned(),
            code: status.code(),
            message: status.message().to_owned(),
        }
    }

    /// Returns the process exit code for the error.
    pub fn exit_code(&self) -> ExitCode {
        let code = match self {
            CliError::Unreachable { .. } | CliError::TimedOut { .. } => EXIT_UNREACHABLE,
            CliError::Rejected { code, .. } => match code {
                Code::NotFound => EXIT_DENIED,
                Code::Unavailable | Code::DeadlineExceeded => EXIT_UNREACHABLE,
                _ => EXIT_ERROR,
            },
            _ => EXIT_ERROR,
        };
        ExitCode::from(code)
    }

    /// Returns a stable snake_case code for the `error.code` field of JSON output: the gRPC code
    /// for server errors, and a tokenctl code for the others.
    pub fn code_name(&self) -> &'static str {
        match self {
            CliError::Unreachable { .. } => "unreachable",
            CliError::TimedOut { .. } => "timed_out",
            CliError::Rejected { code, .. } => token_authority::grpc::code_name(*code),
            CliError::Unauthenticated { .. } => {
                token_authority::grpc::code_name(Code::Unauthenticated)
            }
            CliError::IncompleteReply { .. } => "incomplete_reply",
            CliError::FileExists { .. } => "file_exists",
            CliError::File { .. } => "file_error",
            CliError::KeysNotSaved { .. } => "keys_not_saved",
            CliError::ReadKey(_) => "read_key_failed",
        }
    }
}

/// Says what to do about a missing or rejected admin token.
fn describe_unauthenticated(server: &str, token_sent: bool) -> String {
    if token_sent {
        format!(
            "the token authority at {server} rejected the admin token; check that \
             --admin-token-file (or TOKENCTL_ADMIN_TOKEN_FILE) names a file holding the same \
             token as the server's --admin-token-file"
        )
    } else {
        format!(
            "the token authority at {server} requires an admin token for this command; pass a \
             file holding it with --admin-token-file or TOKENCTL_ADMIN_TOKEN_FILE"
        )
    }
}

/// Says what a gRPC error means and what to do about it. Advice is added only when the
/// server's message does not already end with advice of the same kind after "; ", such as
/// "; check that it was copied whole" or "; retry with backoff".
fn describe_status(code: &Code, message: &str, server: &str) -> String {
    match code {
        Code::InvalidArgument => format!("the server rejected the request: {message}"),
        Code::NotFound => with_advice(message, "check the id"),
        Code::AlreadyExists => format!("{message}; choose another id"),
        Code::FailedPrecondition => format!("not allowed now: {message}"),
        // Concurrent requests on the same token won a race, so the request may be sent again.
        Code::Aborted => with_advice(message, "retry the request"),
        Code::Unavailable => format!(
            "the token authority at {server} is unavailable: {}",
            with_advice(message, "retry later")
        ),
        Code::DeadlineExceeded => format!(
            "the token authority at {server} did not finish in time: {message}; retry, or raise \
             --timeout"
        ),
        Code::Unimplemented => format!(
            "the server at {server} does not implement this call ({message}); check that \
             --server names a token authority"
        ),
        other => format!(
            "the server failed with {}: {message}",
            token_authority::grpc::code_name(*other).to_uppercase()
        ),
    }
}

/// Appends `advice` to `message` after "; ", unless the message already gives advice that
/// starts with the same verb.
fn with_advice(message: &str, advice: &str) -> String {
    let verb = advice.split(' ').next().unwrap_or(advice);
    if message.contains(&format!("; {verb}")) {
        message.to_owned()
    } else {
        format!("{message}; {advice}")
    }
}

/// Describes a connection failure by its innermost I/O error, such as "connection refused",
/// since the outer layers only report "transport error".
fn describe_transport_error(error: &tonic::transport::Error) -> String {
    let mut source = error.source();
    let mut innermost = error.to_string();
    while let Some(cause) = source {
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            return describe_io_error(io_error);
        }
        innermost = cause.to_string();
        source = cause.source();
    }
    innermost
}

fn describe_io_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::TimedOut => "connection timed out".to_owned(),
        io::ErrorKind::AddrNotAvailable => "address not available".to_owned(),
        _ => error.to_string(),
    }
}

fn tokens_list(tokens: &[(String, String)]) -> String {
    tokens
        .iter()
        .map(|(project, token)| format!("{project}/{token}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_exits_with_denied() {
        let error = CliError::from_status(
            "token get",
            "http://127.0.0.1:1",
            &Status::not_found("token tok_1 not found"),
        );
        assert_eq!(error.exit_code(), ExitCode::from(EXIT_DENIED));
        assert_eq!(error.code_name(), "not_found");
        assert_eq!(
            error.to_string(),
            "token get: token tok_1 not found; check the id"
        );
    }

    #[test]
    fn key_not_found_keeps_server_advice() {
        let error = CliError::from_status(
            "check",
            "http://127.0.0.1:1",
            &Status::not_found("no token matches the access token; check that it was copied whole"),
        );
        assert_eq!(
            error.to_string(),
            "check: no token matches the access token; check that it was copied whole"
        );
    }

    #[test]
    fn unavailable_advises_retry_once() {
        let error = CliError::from_status(
            "token list",
            "http://127.0.0.1:1",
            &Status::unavailable("token store unavailable: timed out; retry with backoff"),
        );
        assert_eq!(
            error.to_string(),
            "token list: the token authority at http://127.0.0.1:1 is unavailable: token store \
             unavailable: timed out; retry with backoff"
        );
        let error = CliError::from_status(
            "token list",
            "http://127.0.0.1:1",
            &Status::unavailable("draining"),
        );
        assert!(
            error.to_string().ends_with("draining; retry later"),
            "{error}"
        );
    }

    #[test]
    fn unauthenticated_advice_fits_mistake() {
        let missing = CliError::Unauthenticated {
            operation: "token list",
            server: "http://127.0.0.1:1".to_owned(),
            token_sent: false,
        };
        assert_eq!(missing.exit_code(), ExitCode::from(EXIT_ERROR));
        assert_eq!(missing.code_name(), "unauthenticated");
        let text = missing.to_string();
        assert!(text.contains("requires an admin token"), "{text}");
        assert!(
            text.contains("--admin-token-file or TOKENCTL_ADMIN_TOKEN_FILE"),
            "{text}"
        );

        let wrong = CliError::Unauthenticated {
            operation: "token list",
            server: "http://127.0.0.1:1".to_owned(),
            token_sent: true,
        };
        assert_eq!(wrong.exit_code(), ExitCode::from(EXIT_ERROR));
        let text = wrong.to_string();
        assert!(text.contains("rejected the admin token"), "{text}");
    }

    #[test]
    fn unavailable_exits_with_unreachable() {
        let error = CliError::from_status(
            "authorize",
            "http://127.0.0.1:1",
            &Status::unavailable("token store unavailable"),
        );
        assert_eq!(error.exit_code(), ExitCode::from(EXIT_UNREACHABLE));
    }

    #[test]
    fn aborted_advises_retry() {
        let error = CliError::from_status(
            "regenerate token",
            "http://127.0.0.1:1",
            &Status::aborted("token tok_1 is being regenerated by another request"),
        );
        assert_eq!(error.exit_code(), ExitCode::from(EXIT_ERROR));
        assert_eq!(error.code_name(), "aborted");
        assert_eq!(
            error.to_string(),
            "regenerate token: token tok_1 is being regenerated by another request; retry the \
             request"
        );
    }

    #[test]
    fn invalid_argument_shows_server_message() {
        let error = CliError::from_status(
            "project create",
            "http://127.0.0.1:1",
            &Status::invalid_argument("invalid create_project.project_id: must not be empty"),
        );
        assert_eq!(error.exit_code(), ExitCode::from(EXIT_ERROR));
        assert!(
            error
                .to_string()
                .ends_with("invalid create_project.project_id: must not be empty")
        );
    }
}
