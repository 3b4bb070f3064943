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
            Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "backend": backend.kind(), "schema_version": schema }))
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "backend": backend.kind() }))).into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render(state.store.backend().kind()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}
