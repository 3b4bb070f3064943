//! Backups taken while kiroku serves writes, restored into a new folder and verified; damaged
//! copies refused by `kiroku backup verify` with the object and the reason; the restore drill
//! recorded in the audit trail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::harness::*;

const PASSPHRASE: &str = "kiroku backup test passphrase 2026";
const KEYS_PASSPHRASE: &str = "a different passphrase for the keys";

fn secret(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write secret");
    path.to_str().expect("utf-8 path").to_string()
}

fn run(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = kiroku(data, args, &[]);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(status.success());
    // Stored objects are read-only; the tests damage copies on purpose.
    let status = std::process::Command::new("chmod").args(["-R", "u+w"]).arg(to).status().expect("chmod");
    assert!(status.success());
}

fn only_generation(target: &Path) -> PathBuf {
    let mut gens: Vec<PathBuf> =
        std::fs::read_dir(target.join("generations")).expect("generations").map(|e| e.expect("entry").path()).collect();
    gens.sort();
    gens.pop().expect("a generation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_during_writes_restores_everything_acknowledged() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let target = dir.path().join("target");
    let target_s = target.to_str().expect("utf-8").to_string();
    let pass = secret(dir.path(), "pass", PASSPHRASE);
    let keys_pass = secret(dir.path(), "keys-pass", KEYS_PASSPHRASE);
    let server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let (doctor, doctor_pw) = account(&server, &admin, "dr.sato", "佐藤 医師", "doctor").await;
    let auditor = user(&server, &admin, "kansa", "auditor").await;
    create_patient(&doctor, "P1").await;

    // A confirmed document with an attachment.
    let doc = doctor.post("/api/v1/patients/P1/documents", note("バックアップ前の記録")).await.expect(201, "doc");
    let first = doc["id"].as_str().expect("id").to_string();
    let pdf = b"%PDF-1.7 backup test attachment".to_vec();
    let att = doctor
        .http
        .post(format!("{}/api/v1/documents/{first}/attachments?name=scan.pdf", server.base))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .header("content-type", "application/pdf")
        .body(pdf.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(att.status(), 201);
    let att: Value = att.json().await.expect("json");
    doctor.post(&format!("/api/v1/documents/{first}/confirm"), json!({})).await.expect(200, "confirm");

    let (code, out, err) = run(&data, &["backup", "init", "--target", &target_s, "--passphrase-file", &pass]);
    assert_eq!(code, 0, "init: {out} {err}");

    // Writes keep coming while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writer = {
        let (stop, acked, doctor) = (stop.clone(), acked.clone(), doctor.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let d = doctor.post("/api/v1/patients/P1/documents", note(&format!("記録 {n}"))).await.expect(201, "doc");
                acked.lock().expect("lock").push(d["id"].as_str().expect("id").to_string());
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before: Vec<String> = acked.lock().expect("lock").clone();
    let backup = {
        let (data, target_s, keys_pass) = (data.clone(), target_s.clone(), keys_pass.clone());
        tokio::task::spawn_blocking(move || run(&data, &["backup", "create", "--target", &target_s, "--keys-passphrase-file", &keys_pass]))
    };
    let (code, out, err) = backup.await.expect("backup task");
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    assert_eq!(code, 0, "backup create: {out} {err}");
    assert!(out.contains("generation"), "{out}");
    assert!(before.len() >= 2, "writes were running during the backup");

    // The generation on the target: a manifest, a signature, encrypted objects only.
    let generation = only_generation(&target);
    for name in ["manifest.json", "manifest.sig", "database.age", "config.age", "keys.age"] {
        assert!(generation.join(name).is_file(), "{name} in {}", generation.display());
    }
    let db_bytes = std::fs::read(generation.join("database.age")).expect("read");
    assert!(db_bytes.starts_with(b"age-encryption.org/v1"), "the database copy is encrypted (age)");
    assert!(!String::from_utf8_lossy(&db_bytes).contains("バックアップ前の記録"));

    // Checked without restoring: with the key, and with the live log.
    let (code, out, err) = run(&data, &["backup", "verify", "--target", &target_s, "--passphrase-file", &pass]);
    assert_eq!(code, 0, "verify: {out} {err}");
    assert!(out.contains("Valid") && out.contains("Consistent"), "{out}");

    // Restored into a new folder: `kiroku verify` passes and every acknowledged document is there.
    let restored = dir.path().join("restored");
    let restored_s = restored.to_str().expect("utf-8");
    let (code, out, err) = run(
        &data,
        &["restore", "--target", &target_s, "--passphrase-file", &pass, "--keys-passphrase-file", &keys_pass, "--into", restored_s],
    );
    assert_eq!(code, 0, "restore: {out} {err}");
    assert!(out.contains("keys restored"), "{out}");
    let (code, out, _) = run(&restored, &["verify"]);
    assert_eq!(code, 0, "kiroku verify on the restored copy: {out}");
    assert!(!out.contains("no log key"), "the restored keys check the checkpoints: {out}");

    let mut server = server;
    let copy = Server::start(&restored, &[]);
    let mut doctor2 = copy.client();
    doctor2.login("dr.sato", &doctor_pw).await.expect(200, "login on the restored copy");
    for id in before.iter().chain([&first]) {
        doctor2.get(&format!("/api/v1/documents/{id}")).await.expect(200, "an acknowledged document");
    }
    let back = doctor2
        .http
        .get(format!("{}/api/v1/documents/{first}/attachments/{}", copy.base, att["id"].as_str().unwrap_or("")))
        .bearer_auth(doctor2.token.clone().unwrap_or_default())
        .send()
        .await
        .expect("download");
    assert_eq!(back.bytes().await.expect("bytes").as_ref(), pdf.as_slice(), "the attachment is restored byte for byte");
    drop(copy);

    // The offline-readable export straight from the backup, as during an outage without the server.
    let out = dir.path().join("offline");
    let work = dir.path().join("export-work");
    let (code, stdout, err) = run(
        &data,
        &[
            "export",
            "all",
            "--out",
            out.to_str().expect("utf-8"),
            "--from-backup",
            &target_s,
            "--passphrase-file",
            &pass,
            "--keys-passphrase-file",
            &keys_pass,
            "--work-dir",
            work.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 0, "export from the backup: {stdout} {err}");
    let pages: Vec<String> = walk(&out.join("patients")).iter().map(|p| std::fs::read_to_string(p).expect("a page")).collect();
    assert!(pages.iter().any(|p| p.contains("バックアップ前の記録")), "the confirmed document is on its patient's page");
    let (code, stdout, _) = run(&data, &["export", "verify", out.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{stdout}");

    // A restore drill leaves its evidence in the live audit trail.
    let (code, out, err) = run(&data, &["restore", "--drill", "--target", &target_s, "--passphrase-file", &pass]);
    assert_eq!(code, 0, "drill: {out} {err}");
    let events = auditor.get("/api/v1/audit?action=restore_drill").await.expect(200, "audit");
    let drill = &events["events"][0];
    assert_eq!(drill["outcome"], "success", "{events}");
    let detail: Value = serde_json::from_str(drill["detail"].as_str().expect("detail")).expect("json detail");
    assert_eq!(detail["ok"], true);
    assert!(detail["duration_ms"].as_u64().is_some(), "{detail}");
    let events = auditor.get("/api/v1/audit?action=backup").await.expect(200, "audit");
    let made: Value = serde_json::from_str(events["events"][0]["detail"].as_str().expect("detail")).expect("json detail");
    assert_eq!(made["target"], target_s.as_str());
    assert!(made["generation"].as_str().is_some_and(|g| g.ends_with('Z')), "{made}");
    server.stop();
}

fn run_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = kiroku(data, args, env);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A new database on the test server, and its URL.
async fn new_database(pool: &sqlx::PgPool, server_url: &str, name: &str) -> String {
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(pool).await.expect("create database");
    match server_url.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => panic!("unexpected KIROKU_TEST_PG_URL {server_url}"),
    }
}

async fn drill_databases(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'kiroku_drill_%'").fetch_one(pool).await.expect("count")
}

/// A store on PostgreSQL is backed up with `pg_dump` (taken while the server runs), drilled in a
/// temporary database that is dropped afterwards, and restored into an empty database that a server
/// then serves; a restore into a database that already holds a store is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_backup_restores_into_an_empty_database() {
    let Some(server_url) = kiroku_testkit::pg_url() else { return };
    let pool = sqlx::PgPool::connect(&server_url).await.expect("connect postgres");
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let live_url = new_database(&pool, &server_url, &format!("kiroku_e2e_{suffix}")).await;
    let copy_url = new_database(&pool, &server_url, &format!("kiroku_copy_{suffix}")).await;
    let env = [("KIROKU_DATABASE_URL", live_url.as_str())];
    let dir = temp_dir();
    let data = dir.path().join("data");
    let target = dir.path().join("target");
    let target_s = target.to_str().expect("utf-8").to_string();
    let pass = secret(dir.path(), "pass", PASSPHRASE);
    let keys_pass = secret(dir.path(), "keys-pass", KEYS_PASSPHRASE);
    let server = Server::init_and_start(&data, &env);
    let admin = admin(&server).await;
    let (doctor, doctor_pw) = account(&server, &admin, "dr.kato", "加藤 医師", "doctor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("PostgreSQL の記録")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    doctor.post(&format!("/api/v1/documents/{id}/confirm"), json!({})).await.expect(200, "confirm");

    let (code, out, err) = run_env(&data, &["backup", "init", "--target", &target_s, "--passphrase-file", &pass], &env);
    assert_eq!(code, 0, "init: {out} {err}");
    let (code, out, err) = run_env(&data, &["backup", "create", "--target", &target_s, "--keys-passphrase-file", &keys_pass], &env);
    assert_eq!(code, 0, "backup create on postgres: {out} {err}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(only_generation(&target).join("manifest.json")).expect("manifest")).expect("json");
    assert_eq!(manifest["backend"], "postgres");
    let db_bytes = std::fs::read(only_generation(&target).join("database.age")).expect("read");
    assert!(db_bytes.starts_with(b"age-encryption.org/v1"), "the dump is encrypted");

    // The drill restores into a temporary database on the live server and drops it.
    let (code, out, err) = run_env(&data, &["restore", "--target", &target_s, "--passphrase-file", &pass, "--drill"], &env);
    assert_eq!(code, 0, "drill on postgres: {out} {err}");
    assert!(out.contains("OK"), "{out}");
    assert_eq!(drill_databases(&pool).await, 0, "the drill's database is dropped");
    let auditor = user(&server, &admin, "kansa", "auditor").await;
    let events = auditor.get("/api/v1/audit?action=restore_drill").await.expect(200, "drill events");
    assert_eq!(events["events"][0]["outcome"], "success", "{events}");

    // Restored into the empty database: verify passes and a server on the copy serves the record.
    let restored = dir.path().join("restored");
    let restored_s = restored.to_str().expect("utf-8");
    let args = [
        "restore",
        "--target",
        &target_s,
        "--passphrase-file",
        &pass,
        "--keys-passphrase-file",
        &keys_pass,
        "--into",
        restored_s,
        "--restore-database-url",
        &copy_url,
    ];
    let (code, out, err) = run_env(&data, &args, &env);
    assert_eq!(code, 0, "restore on postgres: {out} {err}");
    assert!(out.contains("keys restored"), "{out}");
    assert!(!restored.join("database.pgdump").exists(), "the plaintext dump is removed once loaded");
    let config = std::fs::read_to_string(restored.join("kiroku.toml")).expect("restored config");
    assert!(config.contains(&copy_url) && !config.contains(&live_url), "the copy's config names the copy's database: {config}");
    let (code, out, err) = run_env(&restored, &["verify"], &[]);
    assert_eq!(code, 0, "kiroku verify on the restored copy: {out} {err}");
    let mut server = server;
    server.stop();
    let copy = Server::start(&restored, &[]);
    let mut doctor2 = copy.client();
    doctor2.login("dr.kato", &doctor_pw).await.expect(200, "login on the restored copy");
    let read = doctor2.get(&format!("/api/v1/documents/{id}")).await.expect(200, "the record on the copy");
    assert!(read.to_string().contains("PostgreSQL の記録"), "{read}");
    drop(copy);

    // A second restore into the same database would mix two stores: refused, the copy unharmed.
    let again = dir.path().join("again");
    let again_s = again.to_str().expect("utf-8");
    let args = ["restore", "--target", &target_s, "--passphrase-file", &pass, "--into", again_s, "--restore-database-url", &copy_url];
    let (code, out, err) = run_env(&data, &args, &env);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds a kiroku store"), "{err}");
    let (code, out, _) = run_env(&restored, &["verify"], &[]);
    assert_eq!(code, 0, "the copy still verifies: {out}");
    drop(server);
    for url in [&live_url, &copy_url] {
        let name = url.rsplit('/').next().unwrap_or_default();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&pool).await;
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_are_refused_with_the_reason() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let target = dir.path().join("target");
    let target_s = target.to_str().expect("utf-8").to_string();
    let pass = secret(dir.path(), "pass", PASSPHRASE);
    let wrong = secret(dir.path(), "wrong", "not the passphrase of this target");
    let mut server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.ito", "doctor").await;
    create_patient(&doctor, "P2").await;
    let doc = doctor.post("/api/v1/patients/P2/documents", note("検査結果")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id");
    let up = doctor
        .http
        .post(format!("{}/api/v1/documents/{id}/attachments?name=a.png", server.base))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .header("content-type", "image/png")
        .body(vec![0x89, b'P', b'N', b'G', 1, 2, 3])
        .send()
        .await
        .expect("upload");
    assert_eq!(up.status(), 201);
    server.stop();
    assert_eq!(run(&data, &["backup", "init", "--target", &target_s, "--passphrase-file", &pass]).0, 0);
    let (code, out, err) = run(&data, &["backup", "create", "--target", &target_s]);
    assert_eq!(code, 0, "{out} {err}");

    let case = |name: &str| {
        let t = dir.path().join(name);
        copy_dir(&target, &t);
        t
    };
    let verify =
        |t: &Path, pass: &str| run(&data, &["backup", "verify", "--target", t.to_str().expect("utf-8"), "--passphrase-file", pass]);

    // A changed byte in the database copy.
    let t = case("changed-byte");
    let db = only_generation(&t).join("database.age");
    let mut bytes = std::fs::read(&db).expect("read");
    let i = bytes.len() / 2;
    bytes[i] ^= 0x40;
    std::fs::write(&db, bytes).expect("write");
    let (code, out, _) = verify(&t, &pass);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("database.age") && out.contains("changed since the backup"), "{out}");

    // A missing file of the blob store.
    let t = case("missing-file");
    let blob = walk(&t.join("blobs")).pop().expect("a stored file");
    std::fs::remove_file(&blob).expect("remove");
    let (code, out, _) = verify(&t, &pass);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing"), "{out}");
    let restored = dir.path().join("from-damaged");
    let (code, _, err) = run(
        &data,
        &["restore", "--target", t.to_str().expect("utf-8"), "--passphrase-file", &pass, "--into", restored.to_str().expect("utf-8")],
    );
    assert_eq!(code, 2, "a damaged backup does not restore: {err}");
    assert!(err.contains("missing") && err.lines().count() == 1, "one line with the reason: {err}");

    // The wrong passphrase.
    let (code, _, err) = verify(&target, &wrong);
    assert_eq!(code, 2);
    assert!(err.contains("passphrase does not open"), "{err}");

    // The manifest edited to match a swapped object: the log key's signature no longer matches.
    let t = case("edited-manifest");
    let manifest = only_generation(&t).join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("read");
    std::fs::write(&manifest, text.replacen("\"kiroku_version\": \"", "\"kiroku_version\": \"9", 1)).expect("write");
    let (code, out, _) = verify(&t, &pass);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match its signature"), "{out}");
    let into = dir.path().join("from-edited");
    let (code, _, err) = run(
        &data,
        &["restore", "--target", t.to_str().expect("utf-8"), "--passphrase-file", &pass, "--into", into.to_str().expect("utf-8")],
    );
    assert_eq!(code, 2, "a manifest the log key did not sign is not restored: {err}");
    assert!(err.contains("does not match its signature") && !into.exists(), "{err}");

    // Without any log key at hand (another machine, keys not restored) a restore needs an explicit choice.
    let elsewhere = dir.path().join("elsewhere");
    let into = dir.path().join("unsigned");
    let args = ["restore", "--target", &target_s, "--passphrase-file", &pass, "--into", into.to_str().expect("utf-8")];
    let (code, _, err) = run(&elsewhere, &args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-unsigned") && !into.exists(), "{err}");
    let (code, out, err) = run(&elsewhere, &[&args[..], &["--allow-unsigned"]].concat());
    assert_eq!(code, 0, "{out} {err}");

    // A manifest this kiroku cannot read stops pruning rather than orphaning its files.
    let t = case("unreadable-manifest");
    std::fs::write(only_generation(&t).join("manifest.json"), b"{ not json").expect("write");
    let (code, _, err) = run(&data, &["backup", "prune", "--target", t.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read") && err.contains("nothing was pruned"), "{err}");
    assert!(!walk(&t.join("blobs")).is_empty(), "the files are still there");

    // Not a target at all; restore into a folder that is not empty.
    let (code, _, err) = run(&data, &["backup", "list", "--target", dir.path().to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(err.contains("not a kiroku backup target"), "{err}");
    let (code, _, err) =
        run(&data, &["restore", "--target", &target_s, "--passphrase-file", &pass, "--into", data.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");

    // The untouched target still verifies.
    let (code, out, _) = verify(&target, &pass);
    assert_eq!(code, 0, "{out}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// moto's S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let child = match std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            kiroku_testkit::missing_peer("moto (S3 server)", "pip install 'moto[server]'");
            return None;
        }
    };
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if reqwest::get(format!("{}/", moto.endpoint)).await.is_ok() {
            return Some(moto);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start on {}", moto.endpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lock_copy_cannot_be_deleted_or_overwritten() {
    let Some(moto) = start_moto().await else { return };
    let dir = temp_dir();
    let data = dir.path().join("data");
    let pass = secret(dir.path(), "pass", PASSPHRASE);
    let env: Vec<(&str, &str)> = vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "kiroku-test"),
        ("AWS_SECRET_ACCESS_KEY", "kiroku-test-secret"),
        ("AWS_REGION", "ap-northeast-1"),
        ("KIROKU_BACKUP_RETENTION_DAYS", "30"),
        ("KIROKU_BACKUP_DAILY", "0"),
        ("KIROKU_BACKUP_WEEKLY", "0"),
        ("KIROKU_BACKUP_MONTHLY", "0"),
    ];
    let s3 = |args: &[&str]| {
        let out = kiroku(&data, args, &env);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.kato", "doctor").await;
    create_patient(&doctor, "P3").await;
    let doc = doctor.post("/api/v1/patients/P3/documents", note("外部保存の記録")).await.expect(201, "doc");
    let up = doctor
        .http
        .post(format!("{}/api/v1/documents/{}/attachments?name=scan.pdf", server.base, doc["id"].as_str().expect("id")))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.7 locked".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(up.status(), 201);
    server.stop();

    let target = "s3://kiroku-backups/hospital-a";
    let (code, out, err) = s3(&["backup", "init", "--target", target, "--passphrase-file", &pass, "--create-bucket"]);
    assert_eq!(code, 0, "init: {out} {err}");
    let (code, out, err) = s3(&["backup", "create", "--target", target, "--no-prune"]);
    assert_eq!(code, 0, "first backup: {out} {err}");
    // The second generation's retention ends at least a second later than the first's.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, out, err) = s3(&["backup", "create", "--target", target]);
    assert_eq!(code, 0, "second backup: {out} {err}");
    // A policy that keeps only the newest tries to remove the first generation: refused, it is locked.
    assert!(out.contains("LOCKED generations/"), "the write-once copy is not removed: {out}");
    let (code, out, _) = s3(&["backup", "list", "--target", target]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("complete").count(), 2, "both generations remain: {out}");
    let (code, out, err) = s3(&["backup", "verify", "--target", target, "--passphrase-file", &pass]);
    assert_eq!(code, 0, "verify: {out} {err}");
    let (code, out, err) = s3(&["restore", "--drill", "--target", target, "--passphrase-file", &pass]);
    assert_eq!(code, 0, "drill from S3: {out} {err}");

    // Straight at the object store: deleting a locked version is refused; a PUT under the same name
    // only adds a version, and the original stays readable.
    let config = kiroku_backup::s3::S3Config {
        endpoint: moto.endpoint.clone(),
        region: "ap-northeast-1".into(),
        bucket: "kiroku-backups".into(),
        prefix: "hospital-a".into(),
        access_key: "kiroku-test".into(),
        secret_key: "kiroku-test-secret".into(),
    };
    let store = kiroku_backup::s3::S3Target::new(config).expect("client");
    use kiroku_backup::Target;
    // The file both generations share stays locked as long as the newer one.
    let manifests: Vec<_> =
        kiroku_backup::generations::list(&store).await.expect("generations").into_iter().filter_map(|g| g.manifest).collect();
    assert_eq!(manifests.len(), 2);
    let until = |t: &str| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).expect("a time");
    let first = until(manifests[0].blobs[0].retain_until.as_deref().expect("retention"));
    let newest = manifests.last().expect("newest");
    assert_eq!(newest.blobs[0].key, manifests[0].blobs[0].key, "the second generation reuses the file");
    let locked = until(&store.retention_of(&newest.blobs[0].key).await.expect("head").expect("a retention"));
    // Retention is stored to the second: without the extension it would read the first's second.
    let first_second = first.replace_nanosecond(0).expect("a valid time");
    assert!(locked > first_second, "the retention was extended from {first_second} to the newer generation's, not left at {locked}");
    assert!(locked + time::Duration::seconds(1) > until(newest.retain_until.as_deref().expect("retention")));
    let keys = store.list("generations/").await.expect("list");
    let manifest = keys.iter().find(|k| k.ends_with("manifest.json")).expect("a manifest").clone();
    let original = store.get_bytes(&manifest).await.expect("get").expect("present");
    let version = store.version_of(&manifest).await.expect("head").expect("a versioned bucket");
    assert!(matches!(store.delete(&manifest).await.expect("delete answer"), kiroku_backup::target::Deleted::Locked(_)));
    let forged = dir.path().join("forged");
    std::fs::write(&forged, b"{\"format\":\"kiroku-backup/1\"}").expect("write");
    store.put(&manifest, &forged, None).await.expect("a new version is accepted");
    assert_eq!(store.get_version(&manifest, &version).await.expect("get version"), Some(original), "the locked version is unchanged");
    let generation = manifest.trim_start_matches("generations/").trim_end_matches("/manifest.json");
    let (code, out, _) = s3(&["backup", "verify", "--target", target, "--generation", generation]);
    assert_ne!(code, 0, "the replaced manifest is noticed: {out}");
}
