//! Structured logging with `tracing`: JSON or text on standard error, filtered by level.

use std::io::IsTerminal;

use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{FilterExt, filter_fn},
    fmt,
    layer::SubscriberExt,
    util::SubscriberInitExt,
};

use crate::{
    config::LogFormat,
    telemetry::{BoxedLayer, REDIS_SPAN_TARGET},
};

/// Installs the global subscriber: the log output, filtered by `filter`, and `traces`, the
/// OpenTelemetry layer when spans are exported, which has its own filter. Fails, naming the
/// option, when the filter is invalid.
pub fn init(format: LogFormat, filter: &str, traces: Option<BoxedLayer>) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|error| {
        format!(
            "invalid --log-level {filter:?}: {error}; use for example info or token_authority=debug"
        )
    })?;
    // The log output leaves out the `redis` spans, so that a line written during a Redis call
    // shows the RPC span and its trace id as the current span.
    let filter = filter.and(filter_fn(|metadata| {
        !(metadata.is_span() && metadata.target() == REDIS_SPAN_TARGET)
    }));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };

    let output: BoxedLayer = if json {
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    } else {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    };
    let layers: Vec<BoxedLayer> = std::iter::once(output).chain(traces).collect();
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|error| format!("failed to install the log subscriber: {error}"))
}

/// Formats an error with its chain of sources, as `outer: inner: root`, for a log field.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_joins_sources() {
        let inner = std::io::Error::other("connection refused");
        let outer = crate::store::StoreError::Unavailable(Box::new(inner));
        assert_eq!(
            error_chain(&outer),
            "redis command failed: connection refused"
        );
    }
}
