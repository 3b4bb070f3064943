//! Security keys (WebAuthn/FIDO2) through the real binary's HTTP API, with webauthn-authenticator-rs's
//! software authenticator in the place of a key: registration of several named keys, the second
//! step of the login by a key, replayed assertions and challenges refused, removal recorded, a role
//! that requires 2FA satisfied by a key and unreachable with a password only; on SQLite and
//! PostgreSQL, and `kiroku verify` finds the credentials' rows in the log.

use reqwest::Method;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::harness::*;

/// The origin the browser would report: the host name the relying party is configured for
/// (`localhost` by default) on the server's port.
fn origin(server: &Server) -> Url {
    let port = server.base.rsplit(':').next().expect("port");
    Url::parse(&format!("http://localhost:{port}")).expect("origin")
}

/// Registers the software key under `label` for the logged-in client; answers the new key's id.
async fn register(server: &Server, c: &Client, key: &mut SoftPasskey, label: &str) -> String {
    let options = c.post("/api/v1/auth/webauthn/register", json!({ "label": label })).await.expect(201, "registration options");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    let answer =
        key.do_registration(origin(server), serde_json::from_value(options).expect("creation options")).expect("soft key registers");
    let done = c.post("/api/v1/auth/webauthn/register/finish", serde_json::to_value(&answer).expect("json")).await.expect(201, "register");
    assert_eq!(done["label"], label);
    done["id"].as_str().expect("id").to_string()
}

/// The key's assertion for the pending login of `c`.
async fn assertion(server: &Server, c: &Client, key: &mut SoftPasskey) -> Value {
    let options = c.post("/api/v1/auth/webauthn/login", json!({})).await.expect(200, "login options");
    let answer = key.do_authentication(origin(server), serde_json::from_value(options).expect("request options")).expect("soft key signs");
    serde_json::to_value(&answer).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_keys_register_log_in_and_refuse_replays() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    keys_story(&server).await;
    drop(server);
    let out = kiroku(&dir.path().join("data"), &["verify"], &[]);
    assert!(out.status.success(), "verify: {}", String::from_utf8_lossy(&out.stdout));
    // The credentials and their events are history: the schema refuses changing or deleting them.
    use sqlx::Connection;
    let db = dir.path().join("data").join("kiroku.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.expect("open sqlite");
    for statement in [
        "UPDATE webauthn_events SET counter = 0",
        "DELETE FROM webauthn_events",
        "UPDATE webauthn_credentials SET label = 'x'",
        "DELETE FROM webauthn_credentials",
    ] {
        let r = sqlx::query(statement).execute(&mut conn).await;
        assert!(r.is_err_and(|e| e.to_string().contains("append-only")), "{statement} must be refused");
    }
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webauthn_events").fetch_one(&mut conn).await.expect("count");
    assert!(events >= 5, "uses and the removal are rows: {events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_keys_on_postgres() {
    let Some(db_url) = postgres_database().await else { return };
    let dir = temp_dir();
    let env = [("KIROKU_DATABASE_URL", db_url.as_str())];
    let server = Server::init_and_start(&dir.path().join("data"), &env);
    keys_story(&server).await;
    drop(server);
    let out = kiroku(&dir.path().join("data"), &["verify"], &env);
    assert!(out.status.success(), "verify on postgres: {}", String::from_utf8_lossy(&out.stdout));
}

async fn keys_story(server: &Server) {
    let admin = admin(server).await;
    let (doctor, password) = account(server, &admin, "dr.kimura", "木村", "doctor").await;
    let mut desk_key = SoftPasskey::new(true);
    let mut spare_key = SoftPasskey::new(true);
    let desk = register(server, &doctor, &mut desk_key, "診察室のキー").await;
    let spare = register(server, &doctor, &mut spare_key, "予備のキー").await;
    // The same key twice is refused by the authenticator's exclude list or by the store.
    let factors = doctor.get("/api/v1/auth/second-factors").await.expect(200, "factors");
    let labels: Vec<&str> = factors["second_factors"].as_array().expect("list").iter().filter_map(|f| f["label"].as_str()).collect();
    assert_eq!(labels, ["診察室のキー", "予備のキー"]);
    assert!(!factors.to_string().contains("public"), "no key material in the list: {factors}");
    doctor.post("/api/v1/auth/logout", json!({})).await.expect(200, "logout");

    // Password first: nothing but the second step.
    let mut c = server.client();
    let first = c.login("dr.kimura", &password).await.expect(200, "password step");
    assert_eq!(first["stage"], "second_factor");
    assert_eq!(c.get("/api/v1/patients?q=x").await.status, 401);
    // Finishing without a challenge of this session is refused (and counted).
    let mut other = server.client();
    other.login("dr.kimura", &password).await.expect(200, "password step");
    let stray = assertion(server, &other, &mut desk_key).await;
    let r = c.post("/api/v1/auth/webauthn/login/finish", stray).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (401, "/problems/second-factor-failed"), "an answer to another session's challenge");
    // The right key answers this session's challenge: full.
    let answer = assertion(server, &c, &mut desk_key).await;
    c.post("/api/v1/auth/webauthn/login/finish", answer.clone()).await.expect(200, "second step by key");
    c.get("/api/v1/patients?q=x").await.expect(200, "full session reaches data");
    let me = c.get("/api/v1/auth/sessions").await.expect(200, "sessions");
    assert!(me.to_string().contains("webauthn"), "the session records the kind of factor: {me}");

    // The same assertion again, on a new login with a fresh challenge, is a replay.
    let mut again = server.client();
    again.login("dr.kimura", &password).await.expect(200, "password step");
    let _ = again.post("/api/v1/auth/webauthn/login", json!({})).await.expect(200, "a fresh challenge");
    let replay = again.post("/api/v1/auth/webauthn/login/finish", answer.clone()).await;
    assert_eq!((replay.status.as_u16(), replay.problem_type()), (401, "/problems/second-factor-failed"), "replayed assertion");
    assert_eq!(again.get("/api/v1/patients?q=x").await.status, 401);
    // A challenge is answered once: after a wrong answer even the right one for it is refused.
    let fresh = assertion(server, &again, &mut spare_key).await;
    assert_eq!(again.post("/api/v1/auth/webauthn/login/finish", answer.clone()).await.status, 401, "wrong answer");
    assert_eq!(again.post("/api/v1/auth/webauthn/login/finish", fresh).await.status, 401, "the challenge was used");
    let fresh = assertion(server, &again, &mut spare_key).await;
    again.post("/api/v1/auth/webauthn/login/finish", fresh.clone()).await.expect(200, "the spare key works too");
    let twice = again.post("/api/v1/auth/webauthn/login/finish", fresh).await;
    assert_eq!(twice.status, 409, "the session is full: no second factor is waiting: {}", twice.body);

    // A key is removed by an event, and cannot log in afterwards.
    again.send(Method::DELETE, &format!("/api/v1/auth/second-factors/{spare}"), None, &[]).await.expect(200, "remove spare key");
    let mut third = server.client();
    third.login("dr.kimura", &password).await.expect(200, "password step");
    let options = third.post("/api/v1/auth/webauthn/login", json!({})).await.expect(200, "login options");
    let allowed = options["publicKey"]["allowCredentials"].as_array().expect("allowed").len();
    assert_eq!(allowed, 1, "only the remaining key is offered");
    let removed = spare_key.do_authentication(origin(server), serde_json::from_value(options).expect("options"));
    assert!(removed.is_err(), "the soft key has no credential the server allows");
    let answer = assertion(server, &third, &mut desk_key).await;
    third.post("/api/v1/auth/webauthn/login/finish", answer).await.expect(200, "the desk key still works");

    // A role that requires 2FA: a key satisfies it; a password alone reaches nothing.
    let (_, nurse_password) = account(server, &admin, "ns.hara", "原", "nurse").await;
    admin.send(Method::PUT, "/api/v1/mfa-policies/nurse", Some(json!({ "mode": "required" })), &[]).await.expect(200, "policy");
    let mut nurse = server.client();
    let login = nurse.login("ns.hara", &nurse_password).await.expect(200, "password step");
    assert_eq!(login["stage"], "enrol");
    for path in ["/api/v1/patients?q=x", "/api/v1/approvals", "/api/v1/auth/sessions"] {
        assert_eq!(nurse.get(path).await.status, 403, "{path} with a password only");
    }
    let mut nurse_key = SoftPasskey::new(true);
    let nurse_key_id = register(server, &nurse, &mut nurse_key, "ナースステーション").await;
    nurse.get("/api/v1/patients?q=x").await.expect(200, "a registered key completes the enrolment");
    let r = nurse.send(Method::DELETE, &format!("/api/v1/auth/second-factors/{nurse_key_id}"), None, &[]).await;
    assert_eq!(r.status, 409, "the last factor of a role that requires one stays: {}", r.body);
    nurse.post("/api/v1/auth/logout", json!({})).await.expect(200, "logout");
    let mut nurse = server.client();
    assert_eq!(nurse.login("ns.hara", &nurse_password).await.expect(200, "password step")["stage"], "second_factor");
    assert_eq!(nurse.get("/api/v1/patients?q=x").await.status, 401);
    let answer = assertion(server, &nurse, &mut nurse_key).await;
    nurse.post("/api/v1/auth/webauthn/login/finish", answer).await.expect(200, "key");
    nurse.get("/api/v1/patients?q=x").await.expect(200, "data after the key");

    // Everything is in the audit trail.
    let auditor = user(server, &admin, "audit.ueda", "auditor").await;
    let details = |q: &'static str| {
        let auditor = auditor.clone();
        async move {
            let page = auditor.get(&format!("/api/v1/audit?{q}")).await.expect(200, "audit");
            page["events"].as_array().expect("events").iter().map(|e| e["detail"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>()
        }
    };
    let enrolled = details("user=dr.kimura&action=second_factor_enrol").await;
    assert!(enrolled.iter().any(|d| d.contains(&format!("kind=webauthn id={desk} label=診察室のキー"))), "{enrolled:?}");
    let removed = details("user=dr.kimura&action=second_factor_remove").await;
    assert!(removed.iter().any(|d| d.contains(&format!("kind=webauthn id={spare}"))), "{removed:?}");
    let logins = details("user=dr.kimura&action=login").await;
    assert!(logins.iter().any(|d| d.starts_with(&format!("second_factor=webauthn credential={desk}"))), "{logins:?}");
    let failed = details("user=dr.kimura&action=login_failed").await;
    assert!(failed.iter().filter(|d| d.starts_with("second_factor:")).count() >= 4, "wrong challenges and replays counted: {failed:?}");
}
