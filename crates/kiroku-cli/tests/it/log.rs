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
