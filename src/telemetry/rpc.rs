//! The span and latency measurement of each TokenAuthority RPC, as a tower layer around the
//! gRPC server.
//!
//! The layer builds the RPC span before the handler runs. That way it can make the caller's
//! trace context (the `traceparent` request header) the span's parent before the span is
//! entered, because the OpenTelemetry layer fixes a span's parent when it is first entered. The handlers then
//! record what they learn (project, token, action, decision) into the current span, and the
//! layer records the gRPC code from the response, once for every outcome.
//!
//! Health checks and reflection pass through untouched: Kubernetes probes them every few
//! seconds, and a span for each would bury the RPCs that matter.

use std::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{HeaderMap, Request, Response};
use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
};
use tonic::Code;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{metrics, propagator};

/// The gRPC service whose RPCs get spans.
pub const SERVICE: &str = "tokenauthority.v1.TokenAuthority";

/// Whether spans are exported, so that the caller's trace context becomes the RPC span's
/// parent. Set once, before the server starts.
static TRACE_CONTEXT: AtomicBool = AtomicBool::new(false);

/// Makes the layer continue callers' traces. Called when the OpenTelemetry layer is installed.
pub(super) fn enable_trace_context() {
    TRACE_CONTEXT.store(true, Ordering::Relaxed);
}

/// A TokenAuthority RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rpc {
    Authorize,
    CheckRateLimit,
    Manage,
    Regenerate,
}

impl Rpc {
    /// Reads the RPC from a request path such as `/tokenauthority.v1.TokenAuthority/Authorize`.
    fn from_path(path: &str) -> Option<Rpc> {
        let method = path
            .strip_prefix('/')?
            .strip_prefix(SERVICE)?
            .strip_prefix('/')?;
        match method {
            "Authorize" => Some(Rpc::Authorize),
            "CheckRateLimit" => Some(Rpc::CheckRateLimit),
            "Manage" => Some(Rpc::Manage),
            "Regenerate" => Some(Rpc::Regenerate),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Rpc::Authorize => "Authorize",
            Rpc::CheckRateLimit => "CheckRateLimit",
            Rpc::Manage => "Manage",
            Rpc::Regenerate => "Regenerate",
        }
    }

    /// Creates the RPC's span, named after the RPC, with every field a handler may record.
    fn span(self) -> Span {
        // A span's name must be a literal, hence one call per RPC.
        macro_rules! rpc_span {
            ($name:literal) => {
                tracing::info_span!(
                    $name,
                    otel.kind = "server",
                    otel.status_code = Empty,
                    rpc.method = $name,
                    rpc.grpc.status_code = Empty,
                    trace_id = Empty,
                    action = Empty,
                    project_id = Empty,
                    token_id = Empty,
                    decision = Empty,
                    reason = Empty,
                    operation = Empty,
                    target = Empty,
                    regenerated = Empty,
                )
            };
        }
        match self {
            Rpc::Authorize => rpc_span!("Authorize"),
            Rpc::CheckRateLimit => rpc_span!("CheckRateLimit"),
            Rpc::Manage => rpc_span!("Manage"),
            Rpc::Regenerate => rpc_span!("Regenerate"),
        }
    }
}

/// The tower layer that wraps the gRPC server in [`RpcTraceService`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcTraceLayer;

impl RpcTraceLayer {
    /// Creates the layer.
    pub fn new() -> Self {
        RpcTraceLayer
    }
}

impl<S> tower_layer::Layer<S> for RpcTraceLayer {
    type Service = RpcTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTraceService { inner }
    }
}

/// Gives each TokenAuthority RPC a span and records its latency and gRPC code.
#[derive(Clone, Debug)]
pub struct RpcTraceService<S> {
    inner: S,
}

impl<S, B, R> tower_service::Service<Request<B>> for RpcTraceService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(rpc) = Rpc::from_path(request.uri().path()) else {
            return RpcFuture {
                inner: self.inner.call(request),
                traced: None,
            };
        };

        let span = rpc.span();
        continue_trace(&span, request.headers());
        let inner = span.in_scope(|| self.inner.call(request));
        RpcFuture {
            inner,
            traced: Some(Traced {
                rpc,
                span,
                started: Instant::now(),
            }),
        }
    }
}

/// Makes the caller's trace the span's parent when spans are exported, and records the trace id
/// in the span's `trace_id` field, so that log lines written within the RPC carry it.
///
/// When spans are not exported, the trace id of a `traceparent` header is still recorded, which
/// lets logs be matched with the caller's trace. Without the header nothing is parsed.
fn continue_trace(span: &Span, headers: &HeaderMap) {
    let exported = TRACE_CONTEXT.load(Ordering::Relaxed);
    if !exported && !headers.contains_key("traceparent") {
        return;
    }

    let parent = propagator().extract(&Headers(headers));
    let trace_id = if exported {
        // Fails only when the span is disabled, and then there is nothing to continue.
        let _ = span.set_parent(parent);
        span.context().span().span_context().trace_id()
    } else {
        parent.span().span_context().trace_id()
    };
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// Reads trace context from request headers.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The state a traced RPC's future keeps besides the inner future.
#[derive(Debug)]
struct Traced {
    rpc: Rpc,
    span: Span,
    started: Instant,
}

pin_project_lite::pin_project! {
    /// The response future of [`RpcTraceService`].
    #[derive(Debug)]
    pub struct RpcFuture<F> {
        #[pin]
        inner: F,
        traced: Option<Traced>,
    }
}

impl<F, R, E> Future for RpcFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(traced) = this.traced.as_ref() else {
            return this.inner.poll(cx);
        };
        let result = {
            let _entered = traced.span.enter();
            ready!(this.inner.poll(cx))
        };

        // tonic sends an error's status in the response headers (a trailers-only response) and
        // a success's in the trailers, so a response without `grpc-status` is OK.
        let code = match &result {
            Ok(response) => response_code(response.headers()),
            Err(_) => Code::Unknown,
        };
        traced.span.record("rpc.grpc.status_code", code as i32);
        if is_server_fault(code) {
            traced.span.record("otel.status_code", "error");
        }
        metrics().record_rpc(
            traced.rpc.name(),
            code,
            traced.started.elapsed().as_secs_f64(),
        );
        Poll::Ready(result)
    }
}

/// Reads the `grpc-status` header; OK when there is none.
fn response_code(headers: &HeaderMap) -> Code {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(Code::Ok, Code::from_i32)
}

/// Returns whether a code reports a fault of the server rather than of the request. These are
/// the codes that mark a gRPC server span as failed in OpenTelemetry's semantic conventions.
fn is_server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_names_rpc() {
        assert_eq!(
            Rpc::from_path("/tokenauthority.v1.TokenAuthority/Authorize"),
            Some(Rpc::Authorize)
        );
        assert_eq!(
            Rpc::from_path("/tokenauthority.v1.TokenAuthority/Regenerate"),
            Some(Rpc::Regenerate)
        );
        assert_eq!(Rpc::from_path("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            Rpc::from_path("/tokenauthority.v1.TokenAuthority/Other"),
            None
        );
        assert_eq!(
            Rpc::from_path("/tokenauthority.v1.TokenAuthorityX/Authorize"),
            None
        );
    }

    #[test]
    fn service_matches_generated_name() {
        use crate::proto::v1::token_authority_server::TokenAuthorityServer;
        use tonic::server::NamedService;

        type Server = TokenAuthorityServer<
            crate::grpc::TokenAuthorityService<crate::store::memory::MemoryStore>,
        >;
        assert_eq!(<Server as NamedService>::NAME, SERVICE);
    }

    #[test]
    fn missing_status_is_ok() {
        let mut headers = HeaderMap::new();
        assert_eq!(response_code(&headers), Code::Ok);
        headers.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(response_code(&headers), Code::Unavailable);
    }

    #[test]
    fn client_mistakes_are_not_faults() {
        assert!(is_server_fault(Code::Unavailable));
        assert!(!is_server_fault(Code::InvalidArgument));
        assert!(!is_server_fault(Code::NotFound));
    }

    #[test]
    fn traceparent_recorded_without_export() {
        // A subscriber that keeps spans, so that recording a field has an effect to observe.
        let (subscriber, spans) = recording_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            let span = Rpc::Authorize.span();
            let mut headers = HeaderMap::new();
            headers.insert(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    .parse()
                    .unwrap(),
            );
            continue_trace(&span, &headers);
        });
        let recorded = spans.lock().unwrap().clone();
        assert!(
            recorded
                .iter()
                .any(|line| line.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736")),
            "{recorded:?}"
        );
    }

    /// Returns a subscriber that writes each span's recorded fields into the returned list.
    fn recording_subscriber() -> (
        impl tracing::Subscriber + Send + Sync,
        std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        use tracing_subscriber::{Layer, layer::SubscriberExt};

        struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
        impl<S: tracing::Subscriber> Layer<S> for Recorder {
            fn on_record(
                &self,
                _id: &tracing::span::Id,
                values: &tracing::span::Record<'_>,
                _ctx: tracing_subscriber::layer::Context<'_, S>,
            ) {
                struct Fields<'a>(&'a mut Vec<String>);
                impl tracing::field::Visit for Fields<'_> {
                    fn record_debug(
                        &mut self,
                        field: &tracing::field::Field,
                        value: &dyn std::fmt::Debug,
                    ) {
                        self.0.push(format!("{}={value:?}", field.name()));
                    }
                }
                values.record(&mut Fields(&mut self.0.lock().unwrap()));
            }
        }

        let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber =
            tracing_subscriber::registry().with(Recorder(std::sync::Arc::clone(&spans)));
        (subscriber, spans)
    }
}
