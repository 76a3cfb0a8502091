//! Shutdown signals. Kubernetes stops a pod with SIGTERM and a terminal with SIGINT (Ctrl-C);
//! both start the same graceful shutdown.

use std::future::Future;

/// Installs the SIGTERM and SIGINT handlers and returns a future that completes when the process
/// receives either. The handlers are installed by this call, not when the future is first polled:
/// until then SIGTERM kills the process outright, so call it before the server starts.
#[cfg(unix)]
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};

    let terminate = signal(SignalKind::terminate())
        .inspect_err(|error| {
            tracing::error!(%error, "failed to listen for SIGTERM; only SIGINT will stop the server");
        })
        .ok();
    let interrupt = signal(SignalKind::interrupt())
        .inspect_err(|error| {
            tracing::error!(%error, "failed to listen for SIGINT; only SIGTERM will stop the server");
        })
        .ok();

    async move {
        // A handler that failed to install never completes, so the other one decides.
        let terminated = async {
            match terminate {
                Some(mut stream) => stream.recv().await,
                None => std::future::pending().await,
            }
        };
        let interrupted = async {
            match interrupt {
                Some(mut stream) => stream.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = terminated => tracing::info!(signal = "SIGTERM", "shutdown requested"),
            _ = interrupted => tracing::info!(signal = "SIGINT", "shutdown requested"),
        }
    }
}

/// Returns a future that completes when the process receives Ctrl-C.
#[cfg(not(unix))]
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(signal = "ctrl-c", "shutdown requested");
    }
}
