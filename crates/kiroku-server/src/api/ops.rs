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
            let alert = state.fixity.alert();
            let status = if alert { "degraded" } else { "ok" };
            let mut body = json!({ "status": status, "version": env!("CARGO_PKG_VERSION"), "backend": backend.kind(), "schema_version": schema, "fixity": fixity });
            if alert {
                body["alerts"] = json!([
                    "fixity: stored content no longer matches its hash; run `kiroku verify` and see the audit trail (fixity_check)"
                ]);
            }
            Json(body).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "backend": backend.kind() }))).into_response()
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
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}
