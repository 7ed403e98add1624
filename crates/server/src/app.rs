//! Wiring: open storage from the settings, build the router, serve until told to stop.

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::{AppState, Clock};
use anyhow::Context;
use nightpermit_store::{LocalBlobStore, SqlStore, Store};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Opens the database named by the settings (Postgres if `DATABASE_URL` is set, else the SQLite
/// file under the data dir), applying migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    let store = match &settings.database_url {
        Some(url) => SqlStore::connect(&url.0).await.with_context(|| {
            format!(
                "cannot connect to {} (fix: check DATABASE_URL and that Postgres is running)",
                nightpermit_store::redact(&url.0)
            )
        })?,
        None => {
            let dir = &settings.storage.data_dir;
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create data dir {} (fix: choose a writable --data-dir)", dir.display())
            })?;
            SqlStore::open_sqlite(&settings.sqlite_path()).await.with_context(|| {
                format!("cannot open {} (fix: check permissions of --data-dir)", settings.sqlite_path().display())
            })?
        }
    };
    store.migrate().await.context("applying database migrations")?;
    Ok(store)
}

/// The sealing keys: created on first start of the embedded default; otherwise they must exist
/// (created once with `nightpermit keys init`), and start-up stops with the command to fix it.
pub fn prepare_keys(settings: &Settings) -> anyhow::Result<nightpermit_seal::KeyDir> {
    let keys = nightpermit_seal::KeyDir::new(settings.keys_dir());
    if settings.database_url.is_none() {
        let created = keys
            .init(&settings.authorities())
            .with_context(|| format!("cannot create sealing keys in {}", keys.dir.display()))?;
        if created > 0 {
            tracing::info!(dir = %keys.dir.display(), created, "created sealing keys (root and one per district authority)");
            eprintln!("created {created} sealing keys in {}", keys.dir.display());
        }
    } else if !keys.has_root_certificate() {
        anyhow::bail!(
            "sealing keys missing in {} (fix: run `nightpermit keys init` with the same DATABASE_URL and NIGHTPERMIT__SEAL__KEYS_DIR, then copy the directory to the signing hosts)",
            keys.dir.display()
        );
    }
    Ok(keys)
}

pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let policy = crate::policy::Policy::load(&settings)?;
    let keys = prepare_keys(&settings)?;
    let store = open_store(&settings).await?;
    let blob_dir = settings.blob_dir();
    std::fs::create_dir_all(&blob_dir).with_context(|| format!("cannot create blob dir {}", blob_dir.display()))?;
    let protection = Arc::new(crate::protection::Protection::new(&settings.abuse));
    Ok(AppState {
        protection,
        settings: Arc::new(settings),
        store: Arc::new(store),
        blobs: Arc::new(LocalBlobStore::new(blob_dir)),
        metrics: Arc::new(Metrics::new()?),
        clock: Clock::default(),
        policy: Arc::new(policy),
        keys: Arc::new(keys),
    })
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
        true => Some(Arc::new(prereviewer(&state.settings)?)),
        false => None,
    };
    let worker = prereviewer.map(|prereviewer| {
        let id = format!("serve-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        tokio::spawn(crate::worker::run(state.clone(), prereviewer, id, stop_rx))
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

/// The pre-review readers as configured. PP-OCR's models are loaded once here so that a missing
/// or corrupt model stops start-up with the fix, instead of failing the first case.
pub fn prereviewer(settings: &Settings) -> anyhow::Result<nightpermit_prereview::Prereviewer> {
    use nightpermit_prereview::{ppocr::PpOcr, Prereviewer, ReaderChoice};
    let mut p = Prereviewer::new(settings.worker.ocr_threads);
    p.limits = settings.limits.prereview();
    p.reader = match settings.worker.ocr_reader.as_str() {
        "ppocr" => {
            let dir = if settings.worker.models_dir.as_os_str().is_empty() {
                PpOcr::default_dir()
            } else {
                settings.worker.models_dir.clone()
            };
            Prereviewer::check_models(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            ReaderChoice::PpOcrFirst(dir)
        }
        "tesseract" => ReaderChoice::TesseractOnly,
        other => anyhow::bail!("worker.ocr_reader = {other:?} is not a reader (fix: \"ppocr\" or \"tesseract\")"),
    };
    Ok(p)
}

/// Runs a stand-alone pre-review worker (`nightpermit worker`) until `shutdown` resolves.
pub async fn run_worker(state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let prereviewer = Arc::new(prereviewer(&state.settings)?);
    let id = format!("worker-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let handle = tokio::spawn(crate::worker::run(state, prereviewer, id, stop_rx));
    shutdown.await;
    let _ = stop_tx.send(true);
    handle.await.context("worker task")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Structured logs: JSON when `NIGHTPERMIT_LOG_FORMAT=json`, else human-readable; level from `RUST_LOG`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("NIGHTPERMIT_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
