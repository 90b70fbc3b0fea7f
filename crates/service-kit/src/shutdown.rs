//! The shutdown signal of a service binary: ctrl-c, or SIGTERM (what `docker stop` and
//! Kubernetes send).

/// Resolves on ctrl-c or SIGTERM. If SIGTERM cannot be watched (no signal handling in
/// this environment), it still resolves on ctrl-c.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!(event = "shutdown", "shutting down");
}
