//! Structured logging with `tracing`: JSON or text on standard error, filtered by level.

use std::io::IsTerminal;

use tracing::span::Record;
use tracing_subscriber::{
    EnvFilter, Layer,
    field::RecordFields,
    filter::{FilterExt, filter_fn},
    fmt::{
        self, FormatFields, FormattedFields,
        format::{JsonFields, Writer},
    },
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
            .fmt_fields(AppendJsonFields)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    } else {
        // Colours only on a terminal, so that a log file or pipe gets plain text.
        fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
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

/// The JSON formatter of span fields. It adds a field recorded after the span was created by
/// appending it to the span's JSON object. `tracing-subscriber`'s own `JsonFields` parses and
/// rewrites the whole object on every record instead. Every RPC records several fields as it
/// learns them, so that took about a quarter of the server's CPU time in a profile of a load
/// test. A field recorded twice is stored twice, and the log line shows the last value.
struct AppendJsonFields;

impl<'writer> FormatFields<'writer> for AppendJsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        JsonFields::new().format_fields(writer, fields)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> std::fmt::Result {
        let mut added = String::new();
        JsonFields::new().format_fields(Writer::new(&mut added), fields)?;
        let members = added
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .ok_or(std::fmt::Error)?;
        if members.is_empty() {
            return Ok(());
        }
        if !current.fields.ends_with('}') || current.fields.len() <= 2 {
            current.fields = added;
            return Ok(());
        }
        current.fields.pop();
        current.fields.push(',');
        current.fields.push_str(members);
        current.fields.push('}');
        Ok(())
    }
}

/// Formats an error with its chain of sources, as `outer: inner: root`, for a log field. A
/// source whose message already ends the text is left out, because some errors, such as the
/// redis crate's I/O errors, repeat their source's message in their own.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn json_span_fields_recorded_later() {
        let output = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let output = Arc::clone(&output);
            move || SharedWriter(Arc::clone(&output))
        };
        let subscriber = tracing_subscriber::registry().with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .fmt_fields(AppendJsonFields)
                .with_writer(writer),
        );

        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "Authorize",
                rpc = "Authorize",
                project_id = tracing::field::Empty,
                decision = tracing::field::Empty,
            );
            span.record("project_id", "shop");
            span.record("decision", "allow");
            span.record("decision", "deny");
            span.in_scope(|| tracing::info!(cost = 2, "decided"));
        });

        let text = String::from_utf8(output.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        let span = &line["span"];
        assert_eq!(span["name"], "Authorize");
        assert_eq!(span["rpc"], "Authorize");
        assert_eq!(span["project_id"], "shop");
        assert_eq!(span["decision"], "deny", "the last recorded value wins");
        assert_eq!(line["cost"], 2);
    }

    /// A log writer into a shared buffer.
    struct SharedWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn error_chain_skips_repeated_source() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let redis = redis::RedisError::from(io);
        let outer = crate::store::StoreError::Unavailable(Box::new(redis));
        let text = error_chain(&outer);
        assert_eq!(text.matches("broken pipe").count(), 1, "{text}");
        assert!(text.starts_with("redis command failed: "), "{text}");
    }

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
