//! The tamper-evident log from outside: checkpoints, proofs over HTTP checked offline.

use serde_json::json;

use crate::harness::*;

/// Waits until a signed checkpoint covers `size` leaves (the checkpointer signs every second).
async fn checkpoint_covering(c: &Client, size: i64) -> serde_json::Value {
    for _ in 0..100 {
        let r = c.get("/api/v1/log/checkpoint").await;
        if r.status == 200 && r.body["size"].as_i64().is_some_and(|s| s >= size) {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covering {size} leaves within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_proven_offline_against_signed_checkpoints() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("入院時記録")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    doctor.post(&format!("/api/v1/documents/{id}/confirm"), json!({})).await.expect(200, "confirm");

    let first = checkpoint_covering(&doctor, 1).await;
    let public = server.client().get("/api/v1/log/key").await.expect(200, "public key");
    let out = kiroku(&data, &["log", "key"], &[]);
    let cli_key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(public["public_key"], json!(cli_key), "the CLI and the server show the same key");
    assert_eq!(first["public_key"], json!(cli_key));
    assert!(first["note"].as_str().is_some_and(|n| n.contains("\n\n\u{2014} kiroku.local/")), "{first}");
    assert!(first["note"].as_str().is_some_and(|n| n.contains("\ntime 20")), "the signing time is signed: {first}");

    // A version with its proof, checked offline with nothing but the public key.
    let mut bundle = serde_json::Value::Null;
    for _ in 0..100 {
        let r = doctor.get(&format!("/api/v1/documents/{id}/versions/1/proof")).await;
        if r.status == 200 {
            bundle = r.body;
            break;
        }
        assert_eq!(r.status, 409, "waiting for a checkpoint: {}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, bundle.to_string()).expect("write bundle");
    let out = kiroku(&data, &["log", "check", path.to_str().expect("utf-8"), "--key", &cli_key], &[]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && said.starts_with("OK: document"), "{said}");

    let mut forged = bundle.clone();
    forged["document"]["body"] = json!({ "text": "改ざん" });
    std::fs::write(&path, forged.to_string()).expect("write");
    let out = kiroku(&data, &["log", "check", path.to_str().expect("utf-8"), "--key", &cli_key], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not hash to its recorded hash"));

    let wrong_key = "kiroku.local/x+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    std::fs::write(&path, bundle.to_string()).expect("write");
    let out = kiroku(&data, &["log", "check", path.to_str().expect("utf-8"), "--key", wrong_key], &[]);
    assert_ne!(out.status.code(), Some(0), "another key is refused");

    // Consistency between two checkpoints, over HTTP.
    let size1 = first["size"].as_i64().expect("size");
    doctor.post("/api/v1/patients/P1/documents", note("追加")).await.expect(201, "doc");
    let second = checkpoint_covering(&doctor, size1 + 1).await;
    let size2 = second["size"].as_i64().expect("size");
    let proof = doctor.get(&format!("/api/v1/log/proof/consistency?from={size1}&to={size2}")).await.expect(200, "consistency");
    let hashes: Vec<[u8; 32]> = proof["hashes"].as_array().expect("hashes").iter().map(|h| hash(h.as_str().unwrap_or(""))).collect();
    let (r1, r2) = (hash(first["root"].as_str().unwrap_or("")), hash(second["root"].as_str().unwrap_or("")));
    assert_eq!(kiroku_log::verify_consistency(size1 as u64, size2 as u64, &r1, &r2, &hashes), Ok(()));
    let bad = doctor.get(&format!("/api/v1/log/proof/inclusion?leaf=0&size={}", size2 + 1000)).await;
    assert_eq!(bad.status, 422);

    server.stop();
    let out = kiroku(&data, &["verify"], &[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("checkpoints") && !said.contains("not checked"), "{said}");
}

fn hash(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).expect("hex hash");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixity_runs_on_schedule_and_alerts_on_altered_files() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::init_and_start(&data, &[("KIROKU_FIXITY_INTERVAL_SECONDS", "1")]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("紹介状")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    let att = doctor
        .http
        .post(format!("{}/api/v1/documents/{id}/attachments?name=scan.pdf", server.base))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.7 scan".to_vec())
        .send()
        .await
        .expect("upload");
    let att: serde_json::Value = att.json().await.expect("json");
    let blob_hash = att["blob_hash"].as_str().expect("hash").to_string();

    // The schedule runs every second from start-up, so wait for a run that saw the file.
    let runs = |outcome: &'static str, needle: &'static str| {
        let auditor = auditor.clone();
        async move {
            for _ in 0..150 {
                let r = auditor.get(&format!("/api/v1/audit?action=fixity_check&outcome={outcome}")).await.expect(200, "audit");
                if r["events"][0]["detail"].as_str().is_some_and(|d| d.contains(needle)) {
                    return r["events"][0].clone();
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("no {outcome} fixity run with {needle} within 15 s");
        }
    };
    let clean = runs("success", "files=1").await;
    assert_eq!(clean["user"], "kiroku-system");
    assert!(clean["detail"].as_str().is_some_and(|d| d.contains("changed=0")), "{clean}");
    let health = server.client().get("/healthz").await.expect(200, "health");
    assert_eq!(health["status"], "ok");

    let blob = data.join("blobs").join(&blob_hash[0..2]).join(&blob_hash[2..4]).join(&blob_hash);
    std::fs::write(&blob, b"%PDF-1.7 forged").expect("tamper");
    let failed = runs("failed", "changed=1").await;
    assert!(failed["detail"].as_str().is_some_and(|d| d.contains("changed=1") && d.contains(&blob_hash)), "{failed}");
    let health = server.client().get("/healthz").await.expect(200, "health");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["alerts"][0].as_str().is_some_and(|a| a.contains("fixity")));
    let metrics = server.client().http.get(format!("{}/metrics", server.base)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.lines().any(|l| l.starts_with("kiroku_fixity_mismatches ") && !l.ends_with(" 0")), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_review_report_and_sign_off() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let from = kiroku_core::Timestamp::now().plus_seconds(-60).to_rfc3339();
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let nurse = user(&server, &admin, "ns.tanaka", "nurse").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    create_patient(&doctor, "P1").await;
    let mut psych = note("精神科記録");
    psych["info_class"] = json!("psychiatry");
    let doc = doctor.post("/api/v1/patients/P1/documents", psych).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    doctor.get(&format!("/api/v1/documents/{id}")).await.expect(200, "read");
    assert_eq!(nurse.get(&format!("/api/v1/documents/{id}")).await.status, 404, "hidden class");
    let _ = server.client().login("dr.sato", "wrong password").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let to = kiroku_core::Timestamp::now().to_rfc3339();

    let report = auditor.get(&format!("/api/v1/audit/review?from={from}&to={to}")).await.expect(200, "report");
    assert!(report["total_events"].as_u64().is_some_and(|n| n > 10));
    assert!(report["by_user"].as_array().is_some_and(|u| u.iter().any(|x| x["user"] == "dr.sato" && x["reads"].as_u64() >= Some(1))));
    assert_eq!(report["restricted_access"]["count"], 3, "create, read, and the nurse's refused read: {}", report["restricted_access"]);
    assert_eq!(report["failed_logins"]["count"], 1);
    assert!(report["denied"]["count"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(report["treatment_relationship_known"], false);
    let hash = report["report_hash"].as_str().expect("hash").to_string();

    let again = auditor.get(&format!("/api/v1/audit/review?from={from}&to={to}")).await.expect(200, "report");
    assert_eq!(again["report_hash"], json!(hash), "a past period's report does not change");
    let future = auditor.get(&format!("/api/v1/audit/review?from={from}&to=2999-01-01T00:00:00Z")).await;
    assert_eq!(future.status, 422, "only ended periods are reviewed");
    assert_eq!(nurse.get(&format!("/api/v1/audit/review?from={from}&to={to}")).await.status, 403);

    let wrong = auditor.post("/api/v1/audit/review/signoff", json!({ "from": from, "to": to, "report_hash": "00", "comment": "x" })).await;
    assert_eq!(wrong.status, 409, "a sign-off names the report reviewed: {}", wrong.body);
    let signed = auditor
        .post("/api/v1/audit/review/signoff", json!({ "from": from, "to": to, "report_hash": hash, "comment": "問題なし" }))
        .await
        .expect(201, "sign off");
    assert_eq!(signed["signed_off"]["user"], "audit.kato");
    assert_eq!(signed["signed_off"]["content_hash"], json!(hash));
    let trail = auditor.get("/api/v1/audit?action=audit_review_signoff").await.expect(200, "audit");
    assert!(trail["events"][0]["detail"].as_str().is_some_and(|d| d.contains("問題なし")));
}

/// A server never starts a new log key beside checkpoints signed by another one (a restored copy
/// served without its keys would otherwise make its whole history unverifiable); the operator can
/// start one deliberately when the key is lost, and verify then says which checkpoints it cannot check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_log_key_is_not_silently_replaced() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    checkpoint_covering(&admin, 1).await;
    server.stop();
    let key = data.join("keys").join("log.key");
    let saved = std::fs::read(&key).expect("read key");
    std::fs::remove_file(&key).expect("remove key");

    let out = kiroku(&data, &["serve", "--listen", "127.0.0.1:0"], &[]);
    assert!(!out.status.success(), "serve must refuse");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("log.key is missing") && err.contains("kiroku log new-key"), "{err}");
    assert!(!key.exists(), "no key was made");

    let out = kiroku(&data, &["log", "new-key"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kiroku(&data, &["log", "new-key"], &[]);
    assert!(!out.status.success(), "a key is never replaced");
    let out = kiroku(&data, &["verify"], &[]);
    assert_eq!(out.status.code(), Some(1), "the old checkpoints are reported");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no signature by the key"));
    std::fs::remove_file(&key).expect("remove new key");
    write_private(&key, &saved);
    let out = kiroku(&data, &["verify"], &[]);
    assert_eq!(out.status.code(), Some(0), "with the original key back: {}", String::from_utf8_lossy(&out.stdout));
}

fn write_private(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).expect("create key");
    f.write_all(bytes).expect("write key");
}
