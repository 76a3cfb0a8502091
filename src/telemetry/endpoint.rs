//! The Prometheus endpoint: `GET /metrics` over plain HTTP/1.1 on its own port, apart from the
//! gRPC port, so scrapes never compete with Authorize calls for a connection.

use std::{io, net::SocketAddr, time::Duration};

use axum::{Router, http::StatusCode, http::header, response::IntoResponse, routing::get};
use prometheus::{Encoder, TextEncoder};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// How long in-flight scrapes may take to finish when the endpoint stops.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running `/metrics` endpoint. Stop it with [`MetricsEndpoint::stop`].
#[derive(Debug)]
pub struct MetricsEndpoint {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl MetricsEndpoint {
    /// Listens on `address` and serves the metrics of `registry` at `/metrics`.
    pub async fn bind(
        address: SocketAddr,
        registry: prometheus::Registry,
    ) -> io::Result<MetricsEndpoint> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let router = Router::new().route("/metrics", get(move || render(registry.clone())));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(MetricsEndpoint {
            address,
            stop,
            task,
        })
    }

    /// Returns the bound address, with the port the system picked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting scrapes and waits a few seconds for the ones in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        match tokio::time::timeout(STOP_TIMEOUT, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "metrics endpoint failed"),
            Ok(Err(error)) => tracing::warn!(%error, "metrics endpoint task failed"),
            Err(_) => {
                tracing::warn!(timeout = ?STOP_TIMEOUT, "metrics endpoint did not stop in time; closing it");
                task.abort();
            }
        }
    }
}

/// Renders the registry in the Prometheus text format.
async fn render(registry: prometheus::Registry) -> impl IntoResponse {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&registry.gather(), &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "failed to render the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to render the metrics: {error}\n"),
            )
                .into_response()
        }
    }
}
