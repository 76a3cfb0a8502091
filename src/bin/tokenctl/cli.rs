//! The command line of tokenctl: global options, subcommands and their arguments.

use std::{path::PathBuf, time::Duration};

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use token_authority::domain::{Scope, action::CLIENT_PLATFORMS};

use crate::values::{
    ActionArg, AdminCredential, PlanArg, RateLimitArg, StatusFilter, parse_admin_token_file,
    parse_cost, parse_page_size, parse_rate_limit, parse_server, parse_timeout, parse_timestamp,
    scope_parser,
};

/// Text shown after the options in `tokenctl --help`.
const AFTER_HELP: &str = "\
Admin token:
  A server started with --admin-token-file requires its token for every command except
  authorize. Pass a file holding the same token with --admin-token-file (or
  TOKENCTL_ADMIN_TOKEN_FILE), and tokenctl sends it as the gRPC metadata
  \"authorization: Bearer TOKEN\". Without it, or with another token, the command fails with
  exit status 1.

Output:
  --output table (the default) prints tables on standard output and notes on standard error.
  --output json prints exactly one JSON document on standard output per call; a failed call
  prints {\"error\": {\"code\": CODE, \"message\": MESSAGE}}. Keys appear only in the replies
  that issue them (project create, token create, regenerate token, regenerate project).

Exit status:
  0  success
  1  any other error: a rejected request, a missing or wrong admin token, a server fault, a
     file error
  2  usage error: unknown option, missing or invalid argument
  3  denied (authorize denied the request, check does not allow the cost) or not found
  4  server unreachable: connection failed, UNAVAILABLE, or no reply within --timeout";

/// Manages project access tokens on a token-authority server and debugs keys against it.
#[derive(Debug, Parser)]
#[command(name = "tokenctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Address of the token authority: http://HOST:PORT or HOST:PORT (plaintext HTTP/2).
    #[arg(
        long,
        env = "TOKENCTL_SERVER",
        default_value = "http://127.0.0.1:50051",
        value_parser = parse_server,
        global = true
    )]
    pub server: String,

    /// How long connecting and each call may take, such as 500ms, 5s or 1m; above 0.
    #[arg(
        long,
        env = "TOKENCTL_TIMEOUT",
        default_value = "5s",
        value_parser = parse_timeout,
        global = true
    )]
    pub timeout: Duration,

    /// File holding the admin token of a server started with --admin-token-file. It is sent
    /// with every call except authorize. One trailing newline is ignored.
    #[arg(
        long = "admin-token-file",
        env = "TOKENCTL_ADMIN_TOKEN_FILE",
        value_name = "PATH",
        value_parser = parse_admin_token_file,
        global = true
    )]
    pub admin_token: Option<AdminCredential>,

    /// Output format: tables for people, or one JSON document for scripts.
    #[arg(
        long,
        short = 'o',
        env = "TOKENCTL_OUTPUT",
        value_enum,
        default_value_t = OutputFormat::Table,
        global = true
    )]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables on standard output, notes on standard error.
    Table,
    /// One JSON document on standard output.
    Json,
}

/// The operations tokenctl performs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and delete projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Set an account's plan.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Create, read, list, change, expire and delete tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Issue new keys for one token, a project's expired tokens or an account's expired tokens.
    #[command(subcommand)]
    Regenerate(RegenerateCommand),
    /// Ask whether a key may perform an action, exactly as an ingestion frontend does. An
    /// allowed request counts against the token's rate limits.
    Authorize(AuthorizeArgs),
    /// Show a token's rate-limit windows; with --cost, test or consume that many requests.
    Check(CheckArgs),
}

/// Project operations.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project with four default tokens, one per scope, and print their keys.
    Create {
        /// The account that owns the project; created on the free plan if it is new.
        #[arg(long)]
        account: String,
        /// The new project's id.
        #[arg(long)]
        project: String,
        /// The project's display name.
        #[arg(long)]
        name: String,
    },
    /// Delete a project and all its tokens. Their keys stop working at once.
    Delete {
        /// The project to delete.
        #[arg(long)]
        project: String,
    },
}

/// Account operations.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Set an account's plan, creating the account if needed. User-defined rate limits are
    /// enforced only on the paid plan.
    SetPlan {
        /// The account.
        #[arg(long)]
        account: String,
        /// The new plan.
        #[arg(long, value_enum)]
        plan: PlanArg,
    },
}

/// Token operations.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an enabled token and print its key.
    Create(TokenCreateArgs),
    /// Show one token.
    Get(TokenRefArgs),
    /// List a project's tokens in creation order.
    List(TokenListArgs),
    /// Change the settings named by the options given, and no others.
    Update(TokenUpdateArgs),
    /// Expire a token for good: it can then only be regenerated or deleted.
    Expire(TokenRefArgs),
    /// Delete a token. Its key stops working at once.
    Delete(TokenRefArgs),
}

/// A token named by its project and id.
#[derive(Debug, Args)]
pub struct TokenRefArgs {
    /// The project that owns the token.
    #[arg(long)]
    pub project: String,
    /// The token's id, such as tok_0194c1f2a3b4c5d6e7f8.
    #[arg(long)]
    pub token: String,
}

/// Arguments of `token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The project that will own the token.
    #[arg(long)]
    pub project: String,
    /// The token's name.
    #[arg(long)]
    pub name: String,
    /// A scope of the token; repeat the option for several.
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        required = true,
        value_parser = scope_parser()
    )]
    pub scopes: Vec<Scope>,
    /// A user-defined rate limit as COUNT/WINDOW_SECONDS, such as 1000/60. Needs a paid
    /// account. The window is one of 60, 300, 1800, 3600, 86400, 604800 or 2592000.
    #[arg(
        long,
        value_name = "COUNT/WINDOW_SECONDS",
        value_parser = parse_rate_limit,
        allow_hyphen_values = true
    )]
    pub rate_limit: Option<RateLimitArg>,
    /// When the token expires by itself, in RFC 3339, such as 2030-01-31T12:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    pub expires_at: Option<prost_types::Timestamp>,
}

/// Arguments of `token list`.
#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// The project whose tokens to list.
    #[arg(long)]
    pub project: String,
    /// List only tokens with this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// The maximum number of tokens per page, 1 to 1000; the server's default is 100.
    #[arg(long, allow_negative_numbers = true, value_parser = parse_page_size)]
    pub page_size: Option<i32>,
    /// The page to start from, as printed by the previous page.
    #[arg(long, conflicts_with = "all")]
    pub page_token: Option<String>,
    /// Fetch every page, not only the first.
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `token update`. Each option given becomes a path of the update mask.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args([
            "name", "scopes", "enable", "disable", "rate_limit", "clear_rate_limit",
            "expires_at", "clear_expires_at",
        ])
))]
pub struct TokenUpdateArgs {
    #[command(flatten)]
    pub token: TokenRefArgs,
    /// The new name.
    #[arg(long)]
    pub name: Option<String>,
    /// The new scopes, replacing the old ones; repeat the option for several.
    #[arg(long = "scope", value_name = "SCOPE", value_parser = scope_parser())]
    pub scopes: Vec<Scope>,
    /// Enable the token.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the token: its key is denied with HTTP 403 until it is enabled again.
    #[arg(long)]
    pub disable: bool,
    /// The new user-defined rate limit as COUNT/WINDOW_SECONDS. Needs a paid account.
    #[arg(
        long,
        value_name = "COUNT/WINDOW_SECONDS",
        value_parser = parse_rate_limit,
        allow_hyphen_values = true,
        conflicts_with = "clear_rate_limit"
    )]
    pub rate_limit: Option<RateLimitArg>,
    /// Remove the user-defined rate limit.
    #[arg(long)]
    pub clear_rate_limit: bool,
    /// The new expiry, in RFC 3339, such as 2030-01-31T12:00:00Z.
    #[arg(
        long,
        value_name = "RFC3339",
        value_parser = parse_timestamp,
        conflicts_with = "clear_expires_at"
    )]
    pub expires_at: Option<prost_types::Timestamp>,
    /// Remove the expiry: the token never expires by itself.
    #[arg(long)]
    pub clear_expires_at: bool,
}

/// Regeneration targets.
#[derive(Debug, Subcommand)]
pub enum RegenerateCommand {
    /// Give one token a new key, whatever its status. The old key stops working at once.
    Token(TokenRefArgs),
    /// Give every expired token of a project a new key and print the keys.
    Project {
        /// The project.
        #[arg(long)]
        project: String,
    },
    /// Give every expired token of every project of an account a new key, and write the keys to
    /// a CSV file. The file is required because the keys are shown only once. It is created
    /// before the call, so a file that cannot be created stops the command before any key
    /// changes. When no token is expired, no file is written.
    Account {
        /// The account.
        #[arg(long)]
        account: String,
        /// The CSV file to create for the new keys, with mode 0600 (owner only). It must not
        /// exist yet. Columns: project_id, project_name, token_id, token_name, scopes,
        /// access_token.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Replace the CSV file if it exists. The replacement still has mode 0600.
        #[arg(long)]
        force: bool,
    },
}

/// Arguments of `authorize`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The key to test, or - to read it from standard input (keeps it out of shell history).
    #[arg(long)]
    pub key: String,
    /// The action the request performs.
    #[arg(long, value_enum)]
    pub action: ActionArg,
    /// The item's platform for post-item. Client-side platforms need post_client_item, any
    /// other platform (or none) needs post_server_item.
    #[arg(long, default_value = "", hide_default_value = true, long_help = platform_help())]
    pub platform: String,
    /// Deny the key unless its token belongs to this project.
    #[arg(long)]
    pub project: Option<String>,
    /// How many requests the call counts as, such as the items in a batch; the default is 1.
    #[arg(long, allow_negative_numbers = true, value_parser = parse_cost)]
    pub cost: Option<i64>,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["key", "project"])))]
pub struct CheckArgs {
    /// The key whose token to check, or - to read it from standard input.
    #[arg(long, conflicts_with_all = ["project", "token"])]
    pub key: Option<String>,
    /// The project of the token to check; use with --token.
    #[arg(long, requires = "token")]
    pub project: Option<String>,
    /// The id of the token to check; use with --project.
    #[arg(long, requires = "project")]
    pub token: Option<String>,
    /// How many requests to test and consume; 0 or absent only reports.
    #[arg(long, allow_negative_numbers = true, value_parser = parse_cost)]
    pub cost: Option<i64>,
    /// Test --cost without consuming it.
    #[arg(long, requires = "cost")]
    pub dry_run: bool,
}

fn platform_help() -> String {
    format!(
        "The item's platform for post-item, compared exactly. The client-side platforms are {}; \
         they need post_client_item. Any other platform, or none, needs post_server_item. \
         Ignored for other actions.",
        CLIENT_PLATFORMS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unknown_scope_lists_valid_ones() {
        let error = Cli::try_parse_from([
            "tokenctl",
            "token",
            "create",
            "--project",
            "web",
            "--name",
            "ci",
            "--scope",
            "admin",
        ])
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("'admin'"), "{message}");
        assert!(message.contains("post_server_item"), "{message}");
    }

    /// Parses `args` after `tokenctl` and returns the error message, which must name `option`.
    fn invalid_value_message(args: &[&str], option: &str) -> String {
        let error = Cli::try_parse_from(std::iter::once("tokenctl").chain(args.iter().copied()))
            .unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::ValueValidation,
            "{args:?}: {error}"
        );
        let message = error.to_string();
        assert!(message.contains(option), "{args:?}: {message}");
        message
    }

    #[test]
    fn negative_numbers_name_option() {
        let cases: [(&[&str], &str, &str); 5] = [
            (
                &["token", "list", "--project", "web", "--page-size", "-1"],
                "--page-size",
                "must be at least 1, got -1",
            ),
            (
                &[
                    "authorize",
                    "--key",
                    "k",
                    "--action",
                    "read",
                    "--cost",
                    "-1",
                ],
                "--cost",
                "must not be negative, got -1",
            ),
            (
                &["check", "--key", "k", "--cost", "-1"],
                "--cost",
                "must not be negative, got -1",
            ),
            (
                &[
                    "token",
                    "create",
                    "--project",
                    "web",
                    "--name",
                    "ci",
                    "--scope",
                    "read",
                    "--rate-limit",
                    "-5/60",
                ],
                "--rate-limit",
                "count must not be negative, got -5",
            ),
            (
                &[
                    "token",
                    "update",
                    "--project",
                    "web",
                    "--token",
                    "t",
                    "--rate-limit",
                    "-5/60",
                ],
                "--rate-limit",
                "count must not be negative, got -5",
            ),
        ];
        for (args, option, rule) in cases {
            let message = invalid_value_message(args, option);
            assert!(message.contains(rule), "{args:?}: {message}");
        }
    }

    #[test]
    fn zero_timeout_rejected() {
        let message = invalid_value_message(
            &["--timeout", "0", "token", "list", "--project", "web"],
            "--timeout",
        );
        assert!(message.contains("must be above 0"), "{message}");
    }

    #[test]
    fn update_needs_a_change() {
        let error = Cli::try_parse_from([
            "tokenctl",
            "token",
            "update",
            "--project",
            "web",
            "--token",
            "t",
        ])
        .unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }
}
