//! The full story through the API, on SQLite and on PostgreSQL.

use reqwest::Method;
use serde_json::json;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_story_walk() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    walk(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_story_walk_on_postgres() {
    // A database of its own, so that the binary runs on PostgreSQL exactly as a facility would.
    let Some(db_url) = postgres_database().await else { return };
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_DATABASE_URL", &db_url)]);
    let health = server.client().get("/healthz").await.expect(200, "health");
    assert_eq!(health["backend"], "postgres");
    walk(&server).await;
    drop(server);
    let out = kiroku(&dir.path().join("data"), &["verify"], &[("KIROKU_DATABASE_URL", &db_url)]);
    assert!(out.status.success(), "verify on postgres: {}", String::from_utf8_lossy(&out.stdout));
}

async fn walk(server: &Server) {
    // The administrator must change the initial password before doing anything else.
    let mut admin = server.client();
    let r = admin.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.body["must_change_password"], json!(true));
    let r = admin.get("/api/v1/users").await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/password-change-required"));
    let weak = admin.post("/api/v1/auth/password", json!({ "current_password": ADMIN_PASSWORD, "new_password": "password" })).await;
    assert_eq!(weak.status, 422, "weak passwords are refused: {}", weak.body);
    assert!(weak.body["detail_ja"].as_str().is_some_and(|d| d.contains("文字以上")));
    let reuse = admin.post("/api/v1/auth/password", json!({ "current_password": ADMIN_PASSWORD, "new_password": ADMIN_PASSWORD })).await;
    assert_eq!(reuse.status, 422, "the initial password cannot be kept: {}", reuse.body);
    let admin = crate::harness::admin_after_login(admin).await;

    let doctor = user(server, &admin, "dr.sato", "doctor").await;
    let other_doctor = user(server, &admin, "dr.suzuki", "doctor").await;
    let clerk = user(server, &admin, "clerk.ito", "clerk").await;
    let auditor = user(server, &admin, "audit.kato", "auditor").await;

    // The clerk registers a patient and enters a proxy document for the doctor.
    create_patient(&clerk, "P0001").await;
    let found = clerk.get("/api/v1/patients?q=%E3%83%A4%E3%83%9E%E3%83%80").await.expect(200, "search by kana");
    assert_eq!(found["patients"][0]["patient_id"], "P0001");
    let mut proxy = note("処方内容を代行入力");
    proxy["on_behalf_of"] = json!("dr.sato");
    let entry = clerk.post("/api/v1/patients/P0001/documents", proxy).await.expect(201, "proxy entry");
    assert_eq!(entry["status"], "pending_approval");
    assert_eq!(entry["author"], "clerk.ito");
    let entry_id = entry["id"].as_str().expect("id").to_string();

    // Only the named clinician sees it in the queue and may approve it.
    let queue = doctor.get("/api/v1/approvals").await.expect(200, "queue");
    assert_eq!(queue["documents"][0]["id"], json!(entry_id));
    let refused = other_doctor.post(&format!("/api/v1/documents/{entry_id}/approve"), json!({})).await;
    assert_eq!(refused.status, 403, "another doctor may not approve: {}", refused.body);
    let amend_pending =
        doctor.send(Method::PUT, &format!("/api/v1/documents/{entry_id}"), Some(json!({ "body": "x", "reason": "r" })), &[]).await;
    assert_eq!(amend_pending.status, 409, "pending entries cannot be amended");
    let approved = doctor.post(&format!("/api/v1/documents/{entry_id}/approve"), json!({})).await.expect(200, "approve");
    assert_eq!(
        (approved["status"].as_str(), approved["approved_by"].as_str(), approved["author"].as_str()),
        (Some("confirmed"), Some("dr.sato"), Some("clerk.ito"))
    );

    // The doctor writes, confirms and amends a note.
    let draft = doctor.post("/api/v1/patients/P0001/documents", note("初診。咳嗽あり。")).await;
    assert_eq!(draft.headers.get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    let draft = draft.expect(201, "draft");
    assert_eq!((draft["status"].as_str(), draft["version"].as_i64()), (Some("draft"), Some(1)));
    let id = draft["id"].as_str().expect("id").to_string();
    let confirmed =
        doctor.send(Method::POST, &format!("/api/v1/documents/{id}/confirm"), None, &[("if-match", "\"1\"")]).await.expect(200, "confirm");
    assert_eq!((confirmed["status"].as_str(), confirmed["confirmer"].as_str()), (Some("confirmed"), Some("dr.sato")));
    assert!(confirmed["confirmed_at"].is_string());
    let no_reason = doctor
        .send(Method::PUT, &format!("/api/v1/documents/{id}"), Some(json!({ "body": { "text": "x" } })), &[("if-match", "\"1\"")])
        .await;
    assert_eq!(no_reason.status, 422, "an amendment needs a reason");
    let amended = doctor
        .send(
            Method::PUT,
            &format!("/api/v1/documents/{id}"),
            Some(json!({ "body": { "text": "初診。咳嗽あり。発熱なし。" }, "reason": "追記" })),
            &[("if-match", "\"1\"")],
        )
        .await
        .expect(200, "amend");
    assert_eq!((amended["version"].as_i64(), amended["status"].as_str()), (Some(2), Some("confirmed")));
    let stale = doctor
        .send(Method::PUT, &format!("/api/v1/documents/{id}"), Some(json!({ "body": "lost", "reason": "r" })), &[("if-match", "\"1\"")])
        .await;
    assert_eq!((stale.status.as_u16(), stale.problem_type()), (409, "/problems/stale-version"));

    let v1 = doctor.get(&format!("/api/v1/documents/{id}/versions/1")).await.expect(200, "version 1");
    assert_eq!(v1["body"], json!({ "text": "初診。咳嗽あり。" }));
    assert_eq!(v1["content_hash"], draft["content_hash"], "version 1 unchanged");
    let history = doctor.get(&format!("/api/v1/documents/{id}/versions")).await.expect(200, "history");
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(history["versions"][1]["reason"], "追記");

    // Logical deletion keeps everything readable.
    let deleted = doctor
        .send(Method::DELETE, &format!("/api/v1/documents/{entry_id}"), Some(json!({ "reason": "重複入力" })), &[])
        .await
        .expect(200, "delete");
    assert_eq!(deleted["status"], "deleted");
    let still = doctor.get(&format!("/api/v1/documents/{entry_id}/versions/1")).await.expect(200, "deleted document's history");
    assert_eq!(still["status"], "deleted");

    // The auditor sees who read what, and can download it.
    let reads = auditor.get("/api/v1/audit?patient_id=P0001&action=version_read").await.expect(200, "audit");
    let ev = &reads["events"];
    assert!(ev.as_array().is_some_and(|e| e.len() == 2), "two version reads: {ev}");
    assert_eq!(ev[1]["user"], "dr.sato");
    assert_eq!(ev[1]["version"], 1);
    let denied = auditor.get("/api/v1/audit?user=dr.suzuki&outcome=denied").await.expect(200, "denied");
    assert_eq!(denied["events"][0]["action"], "document_approve");
    let csv = auditor
        .http
        .get(format!("{}/api/v1/audit?patient_id=P0001&format=csv", server.base))
        .bearer_auth(auditor.token.clone().unwrap_or_default())
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv; charset=utf-8"));
    let text = csv.text().await.expect("csv text");
    assert!(text.contains("version_read") && text.contains("版の参照") && text.contains("dr.sato"));
    let page = auditor.get("/api/v1/audit?limit=2").await.expect(200, "page");
    let cursor = page["next_cursor"].as_i64().expect("more pages");
    let next = auditor.get(&format!("/api/v1/audit?limit=2&cursor={cursor}")).await.expect(200, "next page");
    assert!(next["events"][0]["id"].as_i64().is_some_and(|i| i < cursor));

    // Logout ends the session on the server.
    let mut doctor = doctor;
    doctor.post("/api/v1/auth/logout", json!({})).await.expect(200, "logout");
    assert_eq!(doctor.get("/api/v1/approvals").await.status, 401);
    doctor.token = None;
}
