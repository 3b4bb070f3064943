//! Killing the server with SIGKILL while it writes loses no acknowledged write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_nothing_acknowledged() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let mut doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let password = {
        // Log the doctor in again after each restart with a known password.
        admin.post("/api/v1/users/dr.sato/password", serde_json::json!({ "password": "Crash-Loop-Passw0rd!" })).await.expect(200, "reset");
        let mut c = server.client();
        c.login_and_change("dr.sato", "Crash-Loop-Passw0rd!").await
    };
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    for round in 0..3 {
        doctor = server.client();
        assert_eq!(doctor.login("dr.sato", &password).await.status, 200);
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..16 {
            let (c, stop, acked) = (doctor.clone(), stop.clone(), acknowledged.clone());
            writers.push(tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) && n < 10_000 {
                    n += 1;
                    let req = c
                        .http
                        .post(format!("{}/api/v1/patients/P1/documents", c.base))
                        .bearer_auth(c.token.clone().unwrap_or_default())
                        .json(&note(&format!("round {round} writer {w} n {n}")));
                    match req.send().await {
                        Ok(resp) if resp.status() == 201 => {
                            if let Ok(v) = resp.json::<serde_json::Value>().await
                                && let Some(id) = v["id"].as_str()
                            {
                                acked.lock().await.push(id.to_string());
                            }
                        }
                        // The connection dies with the server: the write was never acknowledged.
                        _ => break,
                    }
                }
            }));
        }
        // Let the writers get going, then kill the server mid-stream.
        while acknowledged.lock().await.len() < (round + 1) * 150 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.await;
        }
        server.restart();
    }
    doctor = server.client();
    doctor.login("dr.sato", &password).await;
    let acked = acknowledged.lock().await.clone();
    assert!(acked.len() >= 450);
    let listed = doctor.get("/api/v1/patients/P1/documents").await.expect(200, "list");
    let stored: std::collections::HashSet<String> =
        listed["documents"].as_array().expect("docs").iter().filter_map(|d| d["id"].as_str().map(str::to_string)).collect();
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost, e.g. {:?}", lost.len(), lost.first());
    drop(server);
    let out = kiroku(&data, &["verify"], &[]);
    assert!(out.status.success(), "the store verifies after the crashes: {}", String::from_utf8_lossy(&out.stdout));
}
