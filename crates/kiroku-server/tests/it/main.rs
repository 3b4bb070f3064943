//! Server tests in-process: the server library on 127.0.0.1:0 over a fresh SQLite store.

use std::sync::Arc;

use kiroku_blob::BlobStore;
use kiroku_server::{AppState, Settings, openapi};
use kiroku_store::Store;
use kiroku_store_sqlite::SqliteBackend;
use tokio::net::TcpListener;

/// A server on a fresh store: its base URL, its temp dir, and the newest schema version.
async fn start() -> (String, tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = Arc::new(SqliteBackend::open(&dir.path().join("kiroku.db")).await.expect("sqlite"));
    let latest = kiroku_store::Backend::latest_schema(backend.as_ref());
    let blobs = BlobStore::open(dir.path().join("blobs")).expect("blobs");
    let state = AppState::new(Store::start(backend), blobs, Settings::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(kiroku_server::serve(listener, state, std::future::pending()));
    (base, dir, latest)
}

/// Every operation the OpenAPI document lists reaches a handler: without a login it answers 401 (or
/// succeeds for public ones), never "no such endpoint" or "method not allowed".
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let (base, _dir, _) = start().await;
    let http = reqwest::Client::new();
    for op in openapi::OPERATIONS {
        let path = op.path.replace("{username}", "u1").replace("{role}", "doctor").replace("{patient_id}", "P1").replace("{n}", "1");
        let path = path.replace("{attachment_id}", "a1").replace("{id}", "0193c0de-0000-7000-8000-000000000000");
        let method = reqwest::Method::from_bytes(op.method.to_uppercase().as_bytes()).expect("method");
        let resp = http
            .request(method, format!("{base}{path}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let kind = body["type"].as_str().unwrap_or("");
        assert!(kind != "/problems/no-route" && kind != "/problems/method-not-allowed", "{} {} is not routed", op.method, op.path);
        if op.needs_login {
            assert_eq!(status, 401, "{} {} needs a login", op.method, op.path);
        }
    }
}

#[tokio::test]
async fn openapi_document_is_valid_3_1_and_lists_every_path() {
    let (base, _dir, _) = start().await;
    let doc: serde_json::Value = reqwest::get(format!("{base}/api/openapi.json")).await.expect("get").json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for op in openapi::OPERATIONS {
        assert!(paths[op.path][op.method]["responses"].is_object(), "{} {}", op.method, op.path);
    }
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(doc["components"]["schemas"][&name].is_object(), "missing schema {name}");
    }
}

#[tokio::test]
async fn health_and_metrics_answer_without_login() {
    let (base, _dir, latest) = start().await;
    let health: serde_json::Value = reqwest::get(format!("{base}/healthz")).await.expect("get").json().await.expect("json");
    assert_eq!(
        (health["status"].as_str(), health["backend"].as_str(), health["schema_version"].as_i64()),
        (Some("ok"), Some("sqlite"), Some(latest))
    );
    let metrics = reqwest::get(format!("{base}/metrics")).await.expect("get").text().await.expect("text");
    assert!(metrics.contains("kiroku_http_responses_total{class=\"2xx\"}"));
    assert!(metrics.contains("kiroku_audited_reads_total"));
}
