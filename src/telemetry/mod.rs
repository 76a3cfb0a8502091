//! Traces and metrics: the OpenTelemetry providers, their exporters, and the instruments the
//! service records.
//!
//! - **Traces.** Each TokenAuthority RPC gets a span (see [`RpcTraceLayer`]) that continues the
//!   caller's W3C trace context, and each Redis command inside it a `redis` span. Spans are
//!   exported over OTLP/gRPC only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set. Without one, no OpenTelemetry layer is
//!   installed and the `redis` spans are disabled at their call sites.
//! - **Metrics.** One set of OpenTelemetry instruments ([`Metrics`]), read by a Prometheus
//!   exporter that `/metrics` serves (see [`MetricsEndpoint`]) and, when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set, by a periodic
//!   OTLP exporter. No token id, key or project id is ever a metric label.
//! - **Repeated errors.** [`first_of_run`] lets the first of a run of identical log lines
//!   through, and [`log_repeat_summaries`] logs one summary per period with the count of
//!   repeats.
//!
//! `docs/observability.md` lists every span, field and metric.

mod decisions;
mod endpoint;
mod metrics;
mod repeats;
mod rpc;

use std::time::Duration;

use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator,
    trace::SdkTracerProvider,
};
use tracing::Level;
use tracing_subscriber::{Layer, Registry, filter::Targets};

pub use decisions::record_authorize;
pub use endpoint::MetricsEndpoint;
pub use metrics::{Metrics, PoolState, RedisFailure, code_name, metrics};
pub use repeats::{
    Occurrence, REPEAT_PERIOD, RepeatedErrors, Summary, first_of_run, log_repeat_summaries,
};
pub use rpc::{RpcTraceLayer, RpcTraceService};

/// The instrumentation scope of every span and instrument.
const SCOPE: &str = "token-authority";

/// The service name reported when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES`
/// names one.
const DEFAULT_SERVICE_NAME: &str = "token-authority";

/// The target of the `redis` spans. The log output leaves these spans out, so that a log line
/// written during a Redis call still shows the RPC span and its trace id.
pub const REDIS_SPAN_TARGET: &str = "token_authority::redis";

/// How long flushing the exporters may take at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A boxed layer for the global subscriber.
pub type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The installed providers. [`Telemetry::shutdown`] flushes them.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    prometheus: Option<prometheus::Registry>,
    /// The OTLP endpoint traces go to, for the start-up log.
    pub traces_endpoint: Option<String>,
    /// The OTLP endpoint metrics go to, for the start-up log.
    pub metrics_endpoint: Option<String>,
}

impl Telemetry {
    /// Builds the providers that the environment configures: the OTLP exporters from the
    /// standard `OTEL_*` variables, and the Prometheus exporter when `prometheus` is true. Then
    /// creates the instruments (see [`metrics`]) on the meter provider. Must run inside the Tokio
    /// runtime, because the OTLP exporters start their gRPC channels on it.
    ///
    /// Fails with a message naming the variable when an exporter cannot be built.
    pub fn from_env(prometheus: bool) -> Result<Telemetry, String> {
        Self::from_lookup(prometheus, |name| std::env::var(name).ok())
    }

    fn from_lookup(
        prometheus: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Telemetry, String> {
        let disabled =
            env("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let traces_endpoint = (!disabled)
            .then(|| otlp_endpoint(&env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            .flatten();
        let metrics_endpoint = (!disabled)
            .then(|| otlp_endpoint(&env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"))
            .flatten();
        let resource =
            (traces_endpoint.is_some() || metrics_endpoint.is_some() || prometheus).then(resource);

        let mut telemetry = Telemetry {
            traces_endpoint,
            metrics_endpoint,
            ..Telemetry::default()
        };
        if let (Some(_), Some(resource)) = (&telemetry.traces_endpoint, &resource) {
            // The exporter reads the endpoint, headers, timeout and compression from the same
            // variables, and the provider reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .map_err(|error| {
                    format!("invalid OTLP trace exporter settings in OTEL_EXPORTER_OTLP_*: {error}")
                })?;
            telemetry.tracer_provider = Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.clone())
                    .build(),
            );
        }

        let mut meter_provider = None;
        if let Some(resource) = &resource {
            let mut builder = SdkMeterProvider::builder().with_resource(resource.clone());
            if prometheus {
                let registry = prometheus::Registry::new();
                let exporter = opentelemetry_prometheus::exporter()
                    .with_registry(registry.clone())
                    .scope_info_enabled(false)
                    .build()
                    .map_err(|error| format!("failed to build the Prometheus exporter: {error}"))?;
                builder = builder.with_reader(exporter);
                telemetry.prometheus = Some(registry);
            }
            if telemetry.metrics_endpoint.is_some() {
                // OTEL_METRIC_EXPORT_INTERVAL sets how often the periodic reader exports.
                let exporter = opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .build()
                    .map_err(|error| {
                        format!(
                            "invalid OTLP metric exporter settings in OTEL_EXPORTER_OTLP_*: {error}"
                        )
                    })?;
                builder = builder.with_periodic_exporter(exporter);
            }
            if prometheus || telemetry.metrics_endpoint.is_some() {
                meter_provider = Some(builder.build());
            }
        }
        if let Some(provider) = &meter_provider {
            metrics::install(provider);
        }
        telemetry.meter_provider = meter_provider;
        Ok(telemetry)
    }

    /// Returns the layer that hands spans to the OpenTelemetry tracer, or `None` when traces are
    /// not exported. It receives spans and events of this crate at INFO and above, whatever
    /// `--log-level` is, so the log filter does not change what is traced.
    pub fn tracing_layer(&self) -> Option<BoxedLayer> {
        let provider = self.tracer_provider.as_ref()?;
        rpc::enable_trace_context();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(SCOPE))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(
                Targets::new()
                    .with_target("token_authority", Level::INFO)
                    .with_target(REDIS_SPAN_TARGET, Level::INFO),
            );
        Some(Box::new(layer))
    }

    /// Returns the registry that `/metrics` renders, or `None` when the endpoint is off.
    pub fn prometheus_registry(&self) -> Option<prometheus::Registry> {
        self.prometheus.clone()
    }

    /// Exports what the providers still hold and stops them, within a few seconds. Runs on a
    /// blocking thread, because the providers wait for their exporters, which need the runtime.
    pub async fn shutdown(self) {
        let Telemetry {
            tracer_provider,
            meter_provider,
            ..
        } = self;
        if tracer_provider.is_none() && meter_provider.is_none() {
            return;
        }
        let flushed = tokio::task::spawn_blocking(move || {
            if let Some(provider) = tracer_provider
                && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
            {
                tracing::warn!(%error, "failed to flush traces at shutdown");
            }
            if let Some(provider) = meter_provider
                && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
            {
                tracing::warn!(%error, "failed to flush metrics at shutdown");
            }
        });
        if let Err(error) = tokio::time::timeout(FLUSH_TIMEOUT * 3, flushed).await {
            tracing::warn!(%error, "flushing telemetry at shutdown timed out");
        }
    }
}

/// Returns the OTLP endpoint of one signal: its own variable, else the shared
/// `OTEL_EXPORTER_OTLP_ENDPOINT`. An empty value counts as unset.
fn otlp_endpoint(env: &impl Fn(&str) -> Option<String>, signal_variable: &str) -> Option<String> {
    [signal_variable, "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .into_iter()
        .filter_map(env)
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())
}

/// Builds the resource: the standard detectors (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`)
/// with this service's name and version when they name none.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let service_name = opentelemetry::Key::from_static_str("service.name");
    let unnamed = detected
        .get(&service_name)
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if unnamed {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    } else {
        builder.build()
    }
}

/// Returns the W3C trace context propagator, which reads `traceparent` and `tracestate`.
fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn endpoint_prefers_signal_variable() {
        let env = lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://shared:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ]);
        assert_eq!(
            otlp_endpoint(&env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").as_deref(),
            Some("http://traces:4317")
        );
        assert_eq!(
            otlp_endpoint(&env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").as_deref(),
            Some("http://shared:4317")
        );
    }

    #[test]
    fn empty_endpoint_counts_as_unset() {
        let env = lookup(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]);
        assert_eq!(
            otlp_endpoint(&env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            None
        );
    }

    #[test]
    fn no_endpoint_installs_nothing() {
        let telemetry = Telemetry::from_lookup(false, lookup(&[])).unwrap();
        assert!(telemetry.tracing_layer().is_none());
        assert!(telemetry.prometheus_registry().is_none());
        assert!(telemetry.meter_provider.is_none());
    }

    #[test]
    fn sdk_disabled_turns_off_export() {
        let env = lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        let telemetry = Telemetry::from_lookup(false, env).unwrap();
        assert_eq!(telemetry.traces_endpoint, None);
        assert_eq!(telemetry.metrics_endpoint, None);
    }
}
