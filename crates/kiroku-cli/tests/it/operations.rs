//! Operations against the real binary: emergency read-only mode (entered by an administrator and by
//! kiroku itself on a real low-disk condition), response times per purpose, the location register.

use std::time::{Duration, Instant};

use kiroku_server::openapi::{OPEN_IN_EMERGENCY, OPERATIONS};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// The events of `action` as the auditor sees them, newest first.
async fn events(auditor: &Client, action: &str) -> Vec<Value> {
    let body = auditor.get(&format!("/api/v1/audit?action={action}&limit=100")).await.expect(200, "audit query");
    body["events"].as_array().cloned().unwrap_or_default()
}

/// Polls /healthz until its emergency mode is `active`, or fails after 30 s.
async fn wait_for_mode(c: &Client, active: bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = c.get("/healthz").await.body;
        if health["emergency"]["active"] == json!(active) {
            return health;
        }
        assert!(Instant::now() < deadline, "emergency mode did not become active={active}: {health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_read_only(r: &Resp, what: &str) {
    assert_eq!(r.status.as_u16(), 503, "{what}: {}", r.body);
    assert_eq!(r.headers["content-type"], "application/problem+json", "{what}");
    assert_eq!(r.problem_type(), "/problems/emergency-read-only", "{what}");
    assert!(r.body["title_ja"].as_str().is_some_and(|t| t.contains("縮退運用")), "{what}: {}", r.body);
    assert!(r.body["detail"].as_str().is_some_and(|d| d.contains("system administrator")), "{what}: {}", r.body);
}

/// Every changing operation of the OpenAPI table (so also those added later) answers 503 with a
/// problem in emergency mode, reads keep working and are audited, and leaving restores changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_mode_refuses_every_write_endpoint_and_keeps_reads_audited() {
    let dir = temp_dir();
    let mut server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_EMERGENCY_CHECK_INTERVAL_SECONDS", "0")]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    create_patient(&doctor, "P100").await;
    let doc = doctor.post("/api/v1/patients/P100/documents", note("発熱あり")).await.expect(201, "create");
    let id = doc["id"].as_str().expect("id").to_string();

    let r = doctor.post("/api/v1/emergency/enter", json!({ "reason": "x" })).await;
    assert_eq!(r.status, 403, "only administrators switch: {}", r.body);
    let r = admin.post("/api/v1/emergency/enter", json!({ "reason": "停電のため / power failure" })).await.expect(200, "enter");
    assert_eq!(r["active"], json!(true));
    let health = admin.get("/healthz").await.body;
    assert_eq!(
        (health["status"].as_str(), health["emergency"]["reason"].as_str()),
        (Some("read_only"), Some("停電のため / power failure"))
    );
    let text = reqwest::get(format!("{}/metrics", server.base)).await.expect("metrics").text().await.expect("text");
    assert!(text.contains("kiroku_emergency_mode 1"), "{text}");

    let mut checked = 0;
    for op in OPERATIONS.iter().filter(|op| op.method != "get" && !OPEN_IN_EMERGENCY.contains(&(op.method, op.path))) {
        let path = op.path.replace("{username}", "dr.sato").replace("{role}", "nurse").replace("{patient_id}", "P100");
        let path = path.replace("{id}", &id).replace("{n}", "1").replace("{attachment_id}", "a1");
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).expect("method");
        let r = doctor.send(method, &path, Some(json!({})), &[]).await;
        assert_read_only(&r, &format!("{} {}", op.method, op.path));
        checked += 1;
    }
    assert!(checked >= 15, "the table's changing operations were all tried ({checked})");

    // Reads, searches and the record's history still work, and each is still audited.
    doctor.get("/api/v1/patients?q=P100").await.expect(200, "search");
    doctor.get("/api/v1/patients/P100/documents").await.expect(200, "chart");
    doctor.get(&format!("/api/v1/documents/{id}")).await.expect(200, "read");
    doctor.get(&format!("/api/v1/documents/{id}/versions")).await.expect(200, "history");
    let reads = events(&auditor, "document_read").await;
    assert!(reads.iter().any(|e| e["document_id"] == json!(id) && e["user"] == "dr.sato"), "the read was audited: {reads:?}");
    // A backup still runs and is recorded: a copy is what an outage needs most.
    let target = dir.path().join("backup-target");
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "kiroku operations test passphrase").expect("pass");
    let (target_s, pass_s) = (target.to_str().expect("utf-8"), pass.to_str().expect("utf-8"));
    let out = kiroku(&server.data_dir, &["backup", "init", "--target", target_s, "--passphrase-file", pass_s], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kiroku(&server.data_dir, &["backup", "create", "--target", target_s], &[]);
    assert!(out.status.success(), "a backup in emergency mode: {}", String::from_utf8_lossy(&out.stderr));
    // Logging in and out still works: staff must reach the records.
    let mut again = server.client();
    assert_eq!(again.login("dr.sato", "wrong password").await.status, 401, "a login is answered, not refused");

    // The mode survives a restart: it is stored, not only held in memory.
    server.restart();
    let admin = Client { base: server.base.clone(), ..admin };
    let doctor = Client { base: server.base.clone(), ..doctor };
    let auditor = Client { base: server.base.clone(), ..auditor };
    assert_read_only(&doctor.post("/api/v1/patients", json!({})).await, "after a restart");

    let r = admin.post("/api/v1/emergency/leave", json!({ "reason": "復電を確認 / power is back" })).await.expect(200, "leave");
    assert_eq!(r["active"], json!(false));
    create_patient(&doctor, "P101").await;
    let entered = events(&auditor, "emergency_mode_enter").await;
    let left = events(&auditor, "emergency_mode_leave").await;
    let success = |events: &[Value]| events.iter().filter(|e| e["outcome"] == "success").cloned().collect::<Vec<_>>();
    let (entered, left) = (success(&entered), success(&left));
    assert_eq!((entered.len(), left.len()), (1, 1), "{entered:?} {left:?}");
    assert_eq!(entered[0]["user"], "admin");
    assert_eq!(left[0]["user"], "admin");
    assert!(left[0]["detail"].as_str().is_some_and(|d| d.contains("復電を確認")), "{left:?}");
    let text = reqwest::get(format!("{}/metrics", server.base)).await.expect("metrics").text().await.expect("text");
    assert!(text.contains("kiroku_emergency_mode 0"));
}

/// A real condition, not a flag: a free-space threshold above what the disk has makes the monitor
/// enter the mode by itself, as kiroku-system, with the reason; it stays until an administrator
/// leaves it, and comes back while the condition lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiroku_enters_read_only_by_itself_when_free_space_runs_low() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::init_and_start(&data, &[("KIROKU_EMERGENCY_CHECK_INTERVAL_SECONDS", "0")]);
    let admin = admin(&server).await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    server.kill();
    // One exbibyte free is more than any test machine has.
    let low = [("KIROKU_EMERGENCY_CHECK_INTERVAL_SECONDS", "1"), ("KIROKU_EMERGENCY_MIN_FREE_MIB", "1099511627776")];
    let server = Server::start(&data, &low);
    let (admin, auditor, doctor) = (
        Client { base: server.base.clone(), ..admin },
        Client { base: server.base.clone(), ..auditor },
        Client { base: server.base.clone(), ..doctor },
    );
    let health = wait_for_mode(&admin, true).await;
    assert_eq!(health["emergency"]["entered_by"], "kiroku-system");
    assert!(health["emergency"]["reason"].as_str().is_some_and(|r| r.contains("free space")), "{health}");
    assert_read_only(&doctor.post("/api/v1/patients", json!({})).await, "automatic mode");
    doctor.get("/api/v1/patients?q=x").await.expect(200, "reads stay");
    let entered = events(&auditor, "emergency_mode_enter").await;
    assert!(
        entered.iter().any(|e| e["user"] == "kiroku-system" && e["detail"].as_str().is_some_and(|d| d.contains("automatic=true"))),
        "{entered:?}"
    );

    admin.post("/api/v1/emergency/leave", json!({ "reason": "空き容量を確認した" })).await.expect(200, "leave");
    let left = events(&auditor, "emergency_mode_leave").await;
    assert!(left.iter().any(|e| e["user"] == "admin" && e["outcome"] == "success"), "leaving is logged with who: {left:?}");
    // The disk is still short of space: the monitor enters again at its next check.
    let health = wait_for_mode(&admin, true).await;
    assert_eq!(health["emergency"]["entered_by"], "kiroku-system");
}

/// Requests are counted under the purpose their route serves; the status API and /metrics show
/// them with the configured targets. Never a speed: only counts and presence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_times_are_counted_per_purpose() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_RESPONSE_TIME_CHART_MS", "750")]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    create_patient(&doctor, "P200").await;
    let doc = doctor.post("/api/v1/patients/P200/documents", note("所見")).await.expect(201, "create");
    let id = doc["id"].as_str().expect("id");
    for _ in 0..3 {
        doctor.get("/api/v1/patients/P200").await.expect(200, "chart");
    }
    doctor.get("/api/v1/patients/P200/documents").await.expect(200, "chart list");
    doctor.get(&format!("/api/v1/documents/{id}")).await.expect(200, "document");
    doctor.get("/api/v1/patients?q=P2").await.expect(200, "search");

    let r = doctor.get("/api/v1/status/response-times").await;
    assert_eq!(r.status, 403, "clinicians do not see the status: {}", r.body);
    let body = auditor.get("/api/v1/status/response-times").await.expect(200, "auditors do");
    let of = |p: &str| body["purposes"].as_array().and_then(|a| a.iter().find(|x| x["purpose"] == p)).cloned().expect(p);
    assert_eq!((of("chart")["requests_total"].as_u64(), of("chart")["target_ms"].as_u64()), (Some(4), Some(750)));
    assert_eq!(of("document")["requests_total"].as_u64(), Some(1));
    assert_eq!(of("search")["requests_total"].as_u64(), Some(1));
    assert_eq!(of("write")["requests_total"].as_u64(), Some(2), "patient and document created");
    assert_eq!(of("login")["requests_total"].as_u64(), Some(3), "three accounts logged in");
    assert_eq!(of("print")["requests_total"].as_u64(), Some(0));
    let chart = of("chart");
    assert!(chart["p95_ms"].as_f64().is_some() && chart["within_target_percent"].as_f64().is_some(), "{chart}");
    assert_eq!(of("print")["p50_ms"], Value::Null);

    let text = reqwest::get(format!("{}/metrics", server.base)).await.expect("metrics").text().await.expect("text");
    assert!(text.contains("kiroku_response_seconds_count{purpose=\"chart\"} 4"), "{text}");
    assert!(text.contains("kiroku_response_seconds_bucket{purpose=\"document\",le=\"+Inf\"} 1"));
    assert!(text.contains("kiroku_response_target_seconds{purpose=\"chart\"} 0.75"));
}

/// The register shows what the running system can see (database without credentials, file store,
/// disk) and the administrators' entries, whose changes are revisions with their history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_register_lists_the_system_and_keeps_history() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    create_patient(&doctor, "P300").await;
    let doc = doctor.post("/api/v1/patients/P300/documents", note("添付あり")).await.expect(201, "create");
    let id = doc["id"].as_str().expect("id");
    let upload = doctor
        .http
        .post(format!("{}/api/v1/documents/{id}/attachments?name=a.txt", server.base))
        .bearer_auth(doctor.token.as_deref().unwrap_or(""));
    let r = upload.header("content-type", "text/plain").body("hello").send().await.expect("upload");
    assert_eq!(r.status(), 201);

    assert_eq!(doctor.get("/api/v1/locations").await.status, 403, "clinicians do not read the register");
    let body = auditor.get("/api/v1/locations").await.expect(200, "auditors read it");
    let all = body["locations"].as_array().expect("locations").clone();
    let kind = |k: &str| all.iter().find(|l| l["kind"] == k).cloned().unwrap_or_else(|| panic!("no {k} in {all:?}"));
    let db = kind("database");
    assert!(db["place"].as_str().is_some_and(|p| p.ends_with("kiroku.db")), "{db}");
    assert!(db["used_bytes"].as_u64().is_some_and(|n| n > 0));
    let files = kind("blob_store");
    assert_eq!(files["files"].as_u64(), Some(1), "{files}");
    assert_eq!(files["used_bytes"].as_u64(), Some(5));
    let disk = kind("filesystem");
    assert!(disk["free_bytes"].as_u64().is_some() && disk["capacity_bytes"].as_u64().is_some(), "{disk}");

    let entry = json!({ "kind": "paper_archive", "name": "紙カルテ書庫", "place": "本館地下1階", "retention": "5年", "risks": "浸水" });
    assert_eq!(auditor.post("/api/v1/locations", entry.clone()).await.status, 403, "auditors do not edit");
    let added = admin.post("/api/v1/locations", entry.clone()).await.expect(201, "add");
    let entry_id = added["id"].as_str().expect("id").to_string();
    let mut moved = entry.clone();
    moved["place"] = json!("別館2階");
    let changed = admin.send(Method::PUT, &format!("/api/v1/locations/{entry_id}"), Some(moved), &[]).await.expect(200, "change");
    assert_eq!(changed["revision"], 2);
    let listed = auditor.get("/api/v1/locations").await.expect(200, "list");
    let paper: Vec<_> = listed["locations"].as_array().expect("list").iter().filter(|l| l["kind"] == "paper_archive").cloned().collect();
    assert_eq!(paper.len(), 1);
    assert_eq!((paper[0]["place"].as_str(), paper[0]["source"].as_str()), (Some("別館2階"), Some("administrator")));
    admin.send(Method::DELETE, &format!("/api/v1/locations/{entry_id}"), None, &[]).await.expect(200, "retire");
    let listed = auditor.get("/api/v1/locations").await.expect(200, "list");
    assert!(!listed["locations"].as_array().expect("list").iter().any(|l| l["kind"] == "paper_archive"));
    let history = auditor.get(&format!("/api/v1/locations/{entry_id}/history")).await.expect(200, "history");
    let revisions: Vec<_> = history["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| (r["revision"].clone(), r["place"].clone(), r["retired"].clone()))
        .collect();
    assert_eq!(
        revisions,
        vec![
            (json!(1), json!("本館地下1階"), json!(false)),
            (json!(2), json!("別館2階"), json!(false)),
            (json!(3), json!("別館2階"), json!(true))
        ]
    );
    // A successful backup shows as the last backup of its target, read from its audit event.
    let target = dir.path().join("usb-disk");
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "kiroku operations test passphrase").expect("pass");
    let (target_s, pass_s) = (target.to_str().expect("utf-8"), pass.to_str().expect("utf-8"));
    assert!(kiroku(&server.data_dir, &["backup", "init", "--target", target_s, "--passphrase-file", pass_s], &[]).status.success());
    let out = kiroku(&server.data_dir, &["backup", "create", "--target", target_s], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = auditor.get("/api/v1/locations").await.expect(200, "list");
    let all = listed["locations"].as_array().expect("list");
    let backup = all.iter().find(|l| l["kind"] == "backup_target").unwrap_or_else(|| panic!("a backup target in {all:?}"));
    assert!(backup["place"].as_str().is_some_and(|p| p.contains("usb-disk")), "{backup}");
    assert!(backup["last_backup"]["generation"].as_str().is_some_and(|g| !g.is_empty()), "{backup}");
    let db = all.iter().find(|l| l["kind"] == "database").expect("database");
    assert_eq!(db["last_backup"]["target"], backup["last_backup"]["target"]);

    let changes = events(&auditor, "location_register_change").await;
    assert_eq!(changes.iter().filter(|e| e["outcome"] == "success").count(), 3);
    assert!(!events(&auditor, "location_register_read").await.is_empty(), "reading the register is audited");
}
