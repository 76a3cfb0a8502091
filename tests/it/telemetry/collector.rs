//! A small in-process OTLP collector: a gRPC server on a free loopback port that accepts trace and
//! metric exports and keeps every request, so tests can wait for what the server exported.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use opentelemetry_proto::tonic::{
    collector::{
        metrics::v1::{
            ExportMetricsServiceRequest, ExportMetricsServiceResponse,
            metrics_service_server::{MetricsService, MetricsServiceServer},
        },
        trace::v1::{
            ExportTraceServiceRequest, ExportTraceServiceResponse,
            trace_service_server::{TraceService, TraceServiceServer},
        },
    },
    common::v1::{KeyValue, any_value::Value},
    metrics::v1::{Metric, metric::Data},
    trace::v1::Span,
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

/// Every export request received so far.
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// Trace exports, in arrival order.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Metric exports, in arrival order.
    pub metrics: Vec<ExportMetricsServiceRequest>,
}

impl Received {
    /// Returns every exported span.
    pub fn spans(&self) -> Vec<Span> {
        self.traces
            .iter()
            .flat_map(|request| &request.resource_spans)
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| scope.spans.iter().cloned())
            .collect()
    }

    /// Returns every exported metric, one entry per export.
    pub fn metrics(&self) -> Vec<Metric> {
        self.metrics
            .iter()
            .flat_map(|request| &request.resource_metrics)
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| scope.metrics.iter().cloned())
            .collect()
    }

    /// Returns the attribute sets of every data point of the metric `name`, over all exports.
    pub fn label_sets(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        self.metrics()
            .iter()
            .filter(|metric| metric.name == name)
            .flat_map(|metric| match &metric.data {
                Some(Data::Sum(sum)) => sum
                    .data_points
                    .iter()
                    .map(|point| attributes(&point.attributes))
                    .collect(),
                Some(Data::Gauge(gauge)) => gauge
                    .data_points
                    .iter()
                    .map(|point| attributes(&point.attributes))
                    .collect(),
                Some(Data::Histogram(histogram)) => histogram
                    .data_points
                    .iter()
                    .map(|point| attributes(&point.attributes))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}

/// Converts OTLP attributes into a map of their values as text.
pub fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            let value = match pair.value.as_ref().and_then(|value| value.value.as_ref()) {
                Some(Value::StringValue(text)) => text.clone(),
                Some(Value::IntValue(number)) => number.to_string(),
                Some(Value::BoolValue(flag)) => flag.to_string(),
                Some(Value::DoubleValue(number)) => number.to_string(),
                other => format!("{other:?}"),
            };
            (pair.key.clone(), value)
        })
        .collect()
}

/// The running collector. Dropping it stops the server.
pub struct Collector {
    address: SocketAddr,
    received: watch::Receiver<Received>,
    task: JoinHandle<()>,
}

impl Collector {
    /// Starts the collector on a free port of 127.0.0.1.
    pub async fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("failed to bind the collector's port");
        let address = listener
            .local_addr()
            .expect("a bound socket has an address");
        let (sender, received) = watch::channel(Received::default());
        let sink = Sink(Arc::new(sender));
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(sink.clone()))
                .add_service(MetricsServiceServer::new(sink))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await;
            if let Err(error) = served {
                panic!("the OTLP collector failed: {error}");
            }
        });
        Collector {
            address,
            received,
            task,
        }
    }

    /// Returns the endpoint URL for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns everything received so far.
    pub fn received(&self) -> Received {
        self.received.borrow().clone()
    }

    /// Waits until `ready` holds for what was received, and returns it. Panics after `limit`,
    /// naming the `expected` exports and listing what did arrive.
    pub async fn wait_until(
        &mut self,
        expected: &str,
        limit: Duration,
        ready: impl Fn(&Received) -> bool,
    ) -> Received {
        let waited =
            tokio::time::timeout(limit, self.received.wait_for(|received| ready(received))).await;
        // The guard borrows the receiver, so the result is cloned out before anything else.
        let waited = waited.map(|result| result.map(|received| received.clone()));
        match waited {
            Ok(Ok(received)) => received,
            _ => {
                let received = self.received();
                let span_names: Vec<String> =
                    received.spans().into_iter().map(|span| span.name).collect();
                let metric_names: Vec<String> = received
                    .metrics()
                    .into_iter()
                    .map(|metric| metric.name)
                    .collect();
                panic!(
                    "the collector did not receive {expected} within {limit:?}; spans: {span_names:?}; \
                     metrics: {metric_names:?}"
                )
            }
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The services' implementation: appends each request to the shared record.
#[derive(Clone)]
struct Sink(Arc<watch::Sender<Received>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        self.0.send_modify(|received| received.traces.push(request));
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let request = request.into_inner();
        self.0
            .send_modify(|received| received.metrics.push(request));
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}
