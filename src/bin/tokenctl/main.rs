//! tokenctl: the operator's command line for a token-authority server. It manages projects,
//! plans and tokens, regenerates keys, and calls Authorize and CheckRateLimit to debug a key.
//!
//! Each run makes one connection to the server named by --server and one call (one per page
//! for `token list --all`). It validates only the syntax of its options: the server checks the
//! rules and names the field when one fails, and tokenctl shows that message.

mod cli;
mod client;
mod debug;
mod error;
mod manage;
mod output;
mod regenerate;
mod values;

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::{
    cli::{Cli, Command, OutputFormat},
    client::Session,
    error::{CliError, EXIT_DENIED},
    output::Report,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.output;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };

    match runtime.block_on(run(cli)) {
        Ok(report) => print_report(&report, format),
        Err(error) => print_error(&error, format),
    }
}

async fn run(cli: Cli) -> Result<Report, CliError> {
    let session = Session::connect(&cli.server, cli.timeout, cli.admin_token).await?;
    match cli.command {
        Command::Project(command) => manage::project(&session, command).await,
        Command::Account(command) => manage::account(&session, command).await,
        Command::Token(command) => manage::token(&session, command).await,
        Command::Regenerate(command) => regenerate::regenerate(&session, command).await,
        Command::Authorize(args) => debug::authorize(&session, args).await,
        Command::Check(args) => debug::check(&session, args).await,
    }
}

/// Prints a result and returns its exit code: 0, or 3 for a denial.
fn print_report(report: &Report, format: OutputFormat) -> ExitCode {
    match format {
        OutputFormat::Table => print!("{}", report.table),
        OutputFormat::Json => println!("{}", pretty(&report.json)),
    }
    for note in &report.notes {
        eprintln!("{note}");
    }
    if report.denied {
        ExitCode::from(EXIT_DENIED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints an error on standard error, and for JSON output also as the one document on standard
/// output, then returns its exit code.
fn print_error(error: &CliError, format: OutputFormat) -> ExitCode {
    if format == OutputFormat::Json {
        let document = json!({
            "error": { "code": error.code_name(), "message": error.to_string() }
        });
        println!("{}", pretty(&document));
    }
    eprintln!("error: {error}");
    error.exit_code()
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always serialize")
}
