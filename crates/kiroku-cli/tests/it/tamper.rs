//! Changes made behind kiroku's back are reported by `kiroku verify`, naming the object.

use serde_json::json;
use sqlx::Connection;

use crate::harness::*;

async fn sql(db: &std::path::Path, statements: &[&str]) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.expect("open sqlite");
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(s.to_string())).execute(&mut conn).await.expect(s);
    }
    conn.close().await.expect("close");
}

fn verify(data: &std::path::Path) -> (Option<i32>, String) {
    let out = kiroku(data, &["verify"], &[]);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_tampering() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("血圧 120/80")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    let att = doctor
        .http
        .post(format!("{}/api/v1/documents/{id}/attachments?name=%E6%A4%9C%E6%9F%BB.pdf", server.base))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.7 test".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(att.status(), 201);
    let att: serde_json::Value = att.json().await.expect("json");
    assert_eq!(att["name"], "検査.pdf");
    let download = doctor
        .http
        .get(format!("{}/api/v1/documents/{id}/attachments/{}", server.base, att["id"].as_str().unwrap_or("")))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .send()
        .await
        .expect("download");
    assert_eq!(download.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), b"%PDF-1.7 test");
    doctor.post(&format!("/api/v1/documents/{id}/confirm"), json!({})).await.expect(200, "confirm");
    let mut server = server;
    server.stop();

    let (code, out) = verify(&data);
    assert_eq!(code, Some(0), "a clean store verifies: {out}");
    assert!(out.contains("OK"));

    // 0. Rows of the audit trail changed, inserted, and a signed checkpoint replaced: each named.
    let db = data.join("kiroku.db");
    sql(&db, &["DROP TRIGGER audit_events_no_update", "UPDATE audit_events SET username = 'someone.else' WHERE id = 5"]).await;
    let (code, out) = verify(&data);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(audit event 5): altered"), "{out}");
    sql(&db, &["INSERT INTO audit_events (id, seq, time, username, action, outcome) VALUES (9999, 9999, 0, 'ghost', 'login', 'success')"])
        .await;
    let (_, out) = verify(&data);
    assert!(out.contains("audit event 9999: not in the log (inserted)"), "{out}");
    sql(
        &db,
        &[
            "DROP TRIGGER checkpoints_no_update",
            "UPDATE checkpoints SET root = '00', note = 'forged' WHERE size = (SELECT MAX(size) FROM checkpoints)",
        ],
    )
    .await;
    let (_, out) = verify(&data);
    assert!(out.contains("checkpoint at size") && out.contains("history rewritten"), "{out}");

    // 1. A changed document body (the append-only trigger has to be dropped first).
    sql(
        &db,
        &[
            "DROP TRIGGER versions_no_update",
            &format!("UPDATE document_versions SET body = '{{\"text\":\"血圧 180/80\"}}' WHERE document_id = '{id}'"),
        ],
    )
    .await;
    let (code, out) = verify(&data);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("document {id} version 1: content altered")), "{out}");

    // 2. A changed attachment file.
    let blob_hash = att["blob_hash"].as_str().expect("hash").to_string();
    let blob = data.join("blobs").join(&blob_hash[0..2]).join(&blob_hash[2..4]).join(&blob_hash);
    std::fs::write(&blob, b"%PDF-1.7 forged").expect("tamper blob");
    let (_, out) = verify(&data);
    assert!(out.contains(&format!("file {blob_hash} altered")), "{out}");
    std::fs::remove_file(&blob).expect("remove blob");
    let (_, out) = verify(&data);
    assert!(out.contains(&format!("file {blob_hash} missing")), "{out}");

    // 3. A confirmer rewritten in place.
    sql(
        &db,
        &["DROP TRIGGER attestations_no_update", &format!("UPDATE attestations SET username = 'dr.other' WHERE document_id = '{id}'")],
    )
    .await;
    let (_, out) = verify(&data);
    assert!(out.contains(&format!("document {id} version 1: confirm by dr.other has no audit event")), "{out}");

    // 4. A deleted audit row, and a body and hash changed together (the audit event still holds
    //    the original hash).
    sql(&db, &["DROP TRIGGER audit_events_no_delete", "DELETE FROM audit_events WHERE id = 3"]).await;
    let (_, out) = verify(&data);
    assert!(out.contains("audit trail: events 3 to 3 are missing"), "{out}");
    sql(&db, &[&format!("UPDATE document_versions SET body = '{{\"text\":\"x\"}}', content_hash = 'aa' WHERE document_id = '{id}'")]).await;
    let (_, out) = verify(&data);
    assert!(out.contains(&format!("document {id} version 1")) && out.contains("FAILED"), "{out}");
}
