//! Health, metrics and the OpenAPI document; none of these need a login or show patient data.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;

pub async fn healthz(State(state): State<AppState>) -> Response {
    let backend = state.store.backend();
    match backend.schema_version().await {
        Ok(schema) => {
            // Altered or missing content is an alert, not an outage: kiroku keeps serving, loudly.
            let fixity = state.fixity.get();
            let stamping = state.stamping.get();
            let emergency = state.store.emergency().current();
            let mut alerts = Vec::new();
            if state.fixity.alert() {
                alerts.push(
                    "fixity: stored content no longer matches its hash; run `kiroku verify` and see the audit trail (fixity_check)"
                        .to_string(),
                );
            }
            // A TSA outage degrades stamping only: confirmations go on and the backlog waits.
            if state.stamping.alert() {
                alerts.push(format!(
                    "timestamps: {} items wait for a timestamp; the TSA failed: {}",
                    stamping.backlog,
                    stamping.last_error.as_deref().unwrap_or_default()
                ));
            }
            // Read-only mode is stronger than an alert: changes are refused until an administrator ends it.
            let status = match (&emergency, alerts.is_empty()) {
                (Some(_), _) => "read_only",
                (None, false) => "degraded",
                (None, true) => "ok",
            };
            if let Some(mode) = &emergency {
                alerts.push(format!("emergency read-only mode since {}: {}", mode.since.to_rfc3339(), mode.reason));
            }
            let mut body = json!({ "status": status, "version": env!("CARGO_PKG_VERSION"), "backend": backend.kind(), "schema_version": schema,
                                   "fixity": fixity, "timestamps": stamping, "emergency": super::operations::emergency_json(&state) });
            if !alerts.is_empty() {
                body["alerts"] = json!(alerts);
            }
            Json(body).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            let body =
                json!({ "status": "unavailable", "backend": backend.kind(), "emergency": super::operations::emergency_json(&state) });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let fixity = state.fixity.get();
    let mut text = state.metrics.render(state.store.backend().kind());
    text.push_str(&format!(
        "# HELP kiroku_fixity_mismatches Versions and files found altered or missing by the last fixity run.\n# TYPE kiroku_fixity_mismatches gauge\nkiroku_fixity_mismatches {}\n\
         # HELP kiroku_fixity_last_run_timestamp_seconds When the last fixity run finished.\n# TYPE kiroku_fixity_last_run_timestamp_seconds gauge\nkiroku_fixity_last_run_timestamp_seconds {}\n",
        fixity.mismatches,
        fixity.last_run.map_or(0, |t| t.as_micros() / 1_000_000)
    ));
    let stamping = state.stamping.get();
    text.push_str(&format!(
        "# HELP kiroku_timestamp_backlog Confirmed versions and signatures waiting for an RFC 3161 timestamp.\n# TYPE kiroku_timestamp_backlog gauge\nkiroku_timestamp_backlog {}\n\
         # HELP kiroku_timestamp_oldest_pending_seconds Age of the oldest item waiting for a timestamp.\n# TYPE kiroku_timestamp_oldest_pending_seconds gauge\nkiroku_timestamp_oldest_pending_seconds {}\n\
         # HELP kiroku_timestamp_failures_total Stamping rounds that failed (TSA down or token refused).\n# TYPE kiroku_timestamp_failures_total counter\nkiroku_timestamp_failures_total {}\n\
         # HELP kiroku_timestamped_items_total Items stamped since start.\n# TYPE kiroku_timestamped_items_total counter\nkiroku_timestamped_items_total {}\n\
         # HELP kiroku_timestamp_renewals_total Archive timestamps made since start.\n# TYPE kiroku_timestamp_renewals_total counter\nkiroku_timestamp_renewals_total {}\n",
        stamping.backlog.max(0),
        stamping.oldest_pending.map_or(0, |t| (kiroku_core::Timestamp::now().as_micros() - t.as_micros()).max(0) / 1_000_000),
        stamping.failures_total,
        stamping.stamped_total,
        stamping.renewed_total
    ));
    let emergency = state.store.emergency().current();
    text.push_str(&format!(
        "# HELP kiroku_emergency_mode 1 while kiroku is in emergency read-only mode (changes refused), else 0.
# TYPE kiroku_emergency_mode gauge
kiroku_emergency_mode {}
\
         # HELP kiroku_emergency_since_timestamp_seconds When the current emergency mode began; 0 when not active.
# TYPE kiroku_emergency_since_timestamp_seconds gauge
kiroku_emergency_since_timestamp_seconds {}
",
        u8::from(emergency.is_some()),
        emergency.map_or(0, |m| m.since.as_micros() / 1_000_000)
    ));
    state.response_times.render(&state.settings.response_targets, &mut text);
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}
