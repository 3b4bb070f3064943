//! The kiroku HTTP server as a library: the JSON API under `/api/v1`, its OpenAPI document, health
//! and metrics, and the web UI for staff (`web`). The binary builds an [`AppState`] and calls
//! [`serve`]; tests bind 127.0.0.1:0 the same way. The server knows no SQL: every state change and
//! every read of patient data is a store command.

pub mod api;
pub mod checkpoints;
pub mod error;
pub mod fixity;
pub mod metrics;
pub mod monitor;
pub mod network;
pub mod openapi;
pub mod revocation;
pub mod session;
pub mod settings;
pub mod stamping;
pub mod syslog;
pub mod timing;
pub mod tls;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use kiroku_blob::BlobStore;
use kiroku_store::Store;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use settings::Settings;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub blobs: BlobStore,
    pub settings: Arc<Settings>,
    pub metrics: Arc<metrics::Metrics>,
    /// The log's signing key; without it no checkpoints are made.
    pub log_key: Option<Arc<kiroku_log::LogKey>>,
    /// The last fixity run's result, for /healthz, /metrics and the pages' alert banner.
    pub fixity: Arc<fixity::FixityState>,
    /// The stamping job's backlog and last result.
    pub stamping: Arc<stamping::StampingState>,
    /// Response times per purpose, measured from real requests.
    pub response_times: Arc<timing::ResponseTimes>,
    /// WebAuthn ceremonies in progress, by session.
    pub webauthn: Arc<api::webauthn::Challenges>,
}

impl AppState {
    pub fn new(store: Store, blobs: BlobStore, settings: Settings) -> Self {
        AppState {
            store,
            blobs,
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::default()),
            log_key: None,
            fixity: Arc::default(),
            stamping: Arc::default(),
            response_times: Arc::default(),
            webauthn: Arc::default(),
        }
    }

    /// Signs checkpoints of the log with `key` while serving.
    pub fn with_log_key(mut self, key: kiroku_log::LogKey) -> Self {
        self.log_key = Some(Arc::new(key));
        self
    }
}

/// The whole application: API, health, metrics, and the middleware every response passes.
pub fn router(state: AppState) -> Router {
    api::router(state)
}

/// Serves on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The binary checks these settings at start-up too; a bad one here still stops before serving.
    let forwarder = state
        .settings
        .syslog
        .clone()
        .map(syslog::Forwarder::new)
        .transpose()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    // A mode stored before a restart (or by another process) holds from the first request on.
    if let Err(e) = state.store.refresh_emergency().await {
        tracing::error!(error = %e, "cannot read the emergency mode at start");
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let checkpointer = state.log_key.clone().map(|key| {
        let origin = key.origin().to_string();
        tokio::spawn(checkpoints::run(state.clone(), key, origin, stopped))
    });
    let fixity = (state.settings.fixity_interval_secs > 0).then(|| {
        let interval = std::time::Duration::from_secs(state.settings.fixity_interval_secs);
        tokio::spawn(fixity::run(state.clone(), interval, stop.subscribe()))
    });
    let forwarder = forwarder.map(|f| tokio::spawn(syslog::run(state.clone(), Arc::new(f), stop.subscribe())));
    let stamper = state.settings.timestamp.clone().map(|t| tokio::spawn(stamping::run(state.clone(), t, stop.subscribe())));
    let monitor = (state.settings.health_check_interval_secs > 0).then(|| {
        let interval = std::time::Duration::from_secs(state.settings.health_check_interval_secs);
        tokio::spawn(monitor::run(state.clone(), interval, stop.subscribe()))
    });
    let served = match state.settings.tls.clone() {
        Some(config) => tls::serve(listener, config, router(state), shutdown).await,
        None => {
            let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
    };
    // Requests are done: sign the final tree head before the process ends.
    let _ = stop.send(true);
    if let Some(task) = forwarder {
        let _ = task.await;
    }
    if let Some(task) = fixity {
        let _ = task.await;
    }
    if let Some(task) = stamper {
        let _ = task.await;
    }
    if let Some(task) = monitor {
        let _ = task.await;
    }
    if let Some(task) = checkpointer {
        let _ = task.await;
    }
    served
}
