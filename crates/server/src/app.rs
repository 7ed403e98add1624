//! Wiring: open storage from the settings, build the router, serve until told to stop.

use crate::metrics::Metrics;
use crate::routes;
use crate::state::AppState;
use nightpermit_cases::{Cases, Settings};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let protection = Arc::new(crate::protection::Protection::new(&settings.abuse));
    Ok(AppState { protection, cases: Arc::new(Cases::open(settings).await?), metrics: Arc::new(Metrics::new()?) })
}

/// Serves the API on `listener` until `shutdown` resolves, then lets requests in flight finish.
/// With `worker.in_process`, a pre-review worker runs alongside and finishes its job first.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let prereviewer = match state.settings.worker.in_process {
        true => Some(Arc::new(nightpermit_worker::prereviewer(&state.settings)?)),
        false => None,
    };
    let worker = prereviewer.map(|prereviewer| {
        let id = format!("serve-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        tokio::spawn(nightpermit_worker::run(Cases::clone(&state.cases), prereviewer, id, stop_rx))
    });
    let header_timeout = std::time::Duration::from_secs(state.settings.server.header_read_timeout_secs.max(1));
    let app = routes::router(state);
    let served = serve_http(listener, app, header_timeout, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(w) = worker {
        let _ = w.await;
    }
    served
}

/// The accept loop. `axum::serve` gives hyper no timer, so a client trickling its headers one
/// byte a second held a connection for ever; here hyper closes it after `header_timeout`.
/// Each connection knows its peer address (`ConnectInfo`), which the rate limits key on.
async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::Service;
    let mut make_service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).max_buf_size(64 * 1024);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(64 * 1024);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let tower_service = match make_service.call(peer).await {
            Ok(svc) => svc,
            Err(never) => match never {},
        };
        let hyper_service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            tower_service.clone().call(req.map(axum::body::Body::new))
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Requests in flight finish; idle keep-alive connections are closed.
    graceful.shutdown().await;
    Ok(())
}

/// Structured logs: JSON when `NIGHTPERMIT_LOG_FORMAT=json`, else human-readable; level from `RUST_LOG`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("NIGHTPERMIT_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
