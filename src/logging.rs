//! Structured logging with `tracing`: JSON or text on standard error, filtered by level.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Installs the global subscriber. Fails, naming the option, when the filter is invalid.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|error| format!("invalid --log-level {filter:?}: {error}; use for example info or token_authority=debug"))?;
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };

    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false).with_writer(std::io::stderr))
            .try_init()
    } else {
        registry.with(fmt::layer().with_writer(std::io::stderr)).try_init()
    }
    .map_err(|error| format!("failed to install the log subscriber: {error}"))
}
