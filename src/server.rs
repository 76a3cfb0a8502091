//! The server's lifecycle: serving the authority with health and reflection, tracking store
//! readiness, and draining on shutdown.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{net::TcpListener, sync::watch};
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::{error, info, warn};

use crate::{
    grpc::{AdminToken, TokenAuthorityService},
    logging::error_chain,
    proto::{self, v1::token_authority_server::TokenAuthorityServer},
    service::Authority,
    store::Store,
    telemetry::{self, RpcTraceLayer},
};

/// The health service name that is SERVING only while the store is ready. Probes for readiness
/// use it; the empty name reports whether the process is up.
pub const READINESS_SERVICE: &str = "tokenauthority.v1.TokenAuthority";

/// How many streams a connection may open and reset before the server accepts them. A caller
/// that gives up on slow calls resets them, and under overload many do so together. With the
/// HTTP/2 library's default of 20, the server then closes the whole connection with
/// ENHANCE_YOUR_CALM, which fails every other call on it. This limit still bounds what one
/// client can make the server hold.
const MAX_PENDING_ACCEPT_RESETS: usize = 1000;

/// Options for serving.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// How long in-flight calls may run after shutdown starts.
    pub shutdown_timeout: Duration,
    /// How often store readiness is checked.
    pub readiness_interval: Duration,
    /// The timeout of one readiness check.
    pub readiness_timeout: Duration,
    /// The token that Manage, Regenerate and CheckRateLimit require; `None` leaves them open to
    /// every caller.
    pub admin_token: Option<AdminToken>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            shutdown_timeout: Duration::from_secs(20),
            readiness_interval: Duration::from_secs(2),
            readiness_timeout: Duration::from_secs(1),
            admin_token: None,
        }
    }
}

/// A failure of the gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The transport failed, for example while accepting connections.
    #[error("gRPC transport failed")]
    Transport(#[from] tonic::transport::Error),
    /// The server task panicked.
    #[error("gRPC server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Serves the authority on `listener` until `shutdown` completes, then reports NOT_SERVING,
/// stops accepting, and waits up to the shutdown timeout for in-flight calls.
pub async fn serve<S: Store>(
    listener: TcpListener,
    authority: Authority<S>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let authority = Arc::new(authority);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    health
        .set_service_status(READINESS_SERVICE, ServingStatus::NotServing)
        .await;

    // Both reflection versions: grpcurl and most tools speak v1, older clients only v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("the embedded descriptors are valid");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("the embedded descriptors are valid");

    let (stop_sender, stop) = watch::channel(false);
    let readiness = tokio::spawn(track_readiness(
        Arc::clone(&authority),
        health.clone(),
        options,
        stop.clone(),
    ));
    let summaries = tokio::spawn(summarize_repeats(stop.clone()));

    let draining = {
        let health = health.clone();
        async move {
            shutdown.await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            health
                .set_service_status(READINESS_SERVICE, ServingStatus::NotServing)
                .await;
            let _ = stop_sender.send(true);
            info!("draining in-flight calls");
        }
    };
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = tokio::spawn(
        Server::builder()
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_ACCEPT_RESETS))
            .layer(RpcTraceLayer::new())
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(TokenAuthorityServer::new(
                TokenAuthorityService::new(authority).with_admin_token(options.admin_token),
            ))
            .serve_with_incoming_shutdown(incoming, draining),
    );

    // Wait for the server to end by itself, or for shutdown to start and then for the drain.
    // The wait is its own future so that no watch guard, which is not Send, lives across an
    // await point of this function.
    let mut stopped = stop;
    let stop_requested = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = &mut server => result,
        () = stop_requested => {
            match tokio::time::timeout(options.shutdown_timeout, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    warn!(timeout = ?options.shutdown_timeout, "drain deadline passed; closing the remaining calls");
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    readiness.abort();
    summaries.abort();
    telemetry::log_repeat_summaries(true);
    Ok(result??)
}

/// Checks the store every interval and reports its readiness through the health service. Each
/// change is logged once, not each failed check. The lines are "token store ready" at start-up,
/// "token store not ready: connection lost" when a ready store stops responding, and "token
/// store ready: connection back", with the outage's length, when it responds again.
async fn track_readiness<S: Store>(
    authority: Arc<Authority<S>>,
    health: HealthReporter,
    options: ServeOptions,
    mut stop: watch::Receiver<bool>,
) {
    let mut ready: Option<bool> = None;
    let mut lost_at: Option<Instant> = None;
    loop {
        let check =
            tokio::time::timeout(options.readiness_timeout, authority.store().check_ready()).await;
        let failure = match check {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error_chain(&error)),
            Err(_) => Some(format!(
                "readiness check timed out after {:?}",
                options.readiness_timeout
            )),
        };
        let now_ready = failure.is_none();
        if ready != Some(now_ready) && !*stop.borrow() {
            match (ready, failure) {
                (_, None) => {
                    match lost_at.take() {
                        Some(lost_at) => info!(
                            down_seconds = lost_at.elapsed().as_secs_f64(),
                            "token store ready: connection back"
                        ),
                        None => info!("token store ready"),
                    }
                    health
                        .set_service_status(READINESS_SERVICE, ServingStatus::Serving)
                        .await;
                }
                (Some(true), Some(error)) => {
                    lost_at = Some(Instant::now());
                    error!(%error, "token store not ready: connection lost");
                    health
                        .set_service_status(READINESS_SERVICE, ServingStatus::NotServing)
                        .await;
                }
                (_, Some(error)) => {
                    // Never ready yet, for example Redis is still starting: not an outage.
                    warn!(%error, "token store not ready");
                    health
                        .set_service_status(READINESS_SERVICE, ServingStatus::NotServing)
                        .await;
                }
            }
            ready = Some(now_ready);
        }

        tokio::select! {
            _ = tokio::time::sleep(options.readiness_interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Logs a summary of repeated log lines every [`telemetry::REPEAT_PERIOD`] until shutdown
/// starts.
async fn summarize_repeats(mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(telemetry::REPEAT_PERIOD) => telemetry::log_repeat_summaries(false),
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}
