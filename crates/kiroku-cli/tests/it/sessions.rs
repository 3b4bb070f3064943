//! Lockout, idle timeout, disabling: the session rules of T2-1.1 / T1-4.2 seen from outside.

use serde_json::json;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_after_failed_logins() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let mut nurse = user(&server, &admin, "ns.tanaka", "nurse").await;
    nurse.post("/api/v1/auth/logout", json!({})).await.expect(200, "logout");
    // The nurse's current password is unknown here; log in with wrong ones five times.
    let mut c = server.client();
    for i in 1..=5 {
        let r = c.login("ns.tanaka", &format!("wrong-password-{i}")).await;
        assert_eq!((r.status.as_u16(), r.problem_type()), (401, "/problems/login-failed"), "attempt {i}");
    }
    // Locked: even the right password is refused. Reset it as administrator to know it, then
    // check that the lock still holds until the administrator unlocks the account.
    let reset = admin.post("/api/v1/users/ns.tanaka/password", json!({ "password": "Sakura-Tsubomi-88!x" })).await.expect(200, "reset");
    assert_eq!(reset["must_change_password"], true);
    let user_state = admin.get("/api/v1/users/ns.tanaka").await.expect(200, "user");
    assert_eq!(user_state["failed_logins"], 0, "a reset clears the lock");
    for i in 1..=5 {
        c.login("ns.tanaka", &format!("wrong-again-{i}")).await;
    }
    assert_eq!(c.login("ns.tanaka", "Sakura-Tsubomi-88!x").await.status, 401, "locked after 5 failures");
    admin.post("/api/v1/users/ns.tanaka/unlock", json!({})).await.expect(200, "unlock");
    assert_eq!(c.login("ns.tanaka", "Sakura-Tsubomi-88!x").await.status, 200, "unlocked");
    nurse.token = None;

    let mut auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let lockouts = auditor.get("/api/v1/audit?user=ns.tanaka&action=lockout").await.expect(200, "audit");
    assert_eq!(lockouts["events"].as_array().map(Vec::len), Some(2));
    let failures = auditor.get("/api/v1/audit?user=ns.tanaka&action=login_failed").await.expect(200, "audit");
    assert_eq!(failures["events"].as_array().map(Vec::len), Some(11), "ten wrong passwords and one right one while locked");
    assert!(failures["events"][0]["client_addr"].as_str().is_some_and(|a| a == "127.0.0.1"));
    auditor.token = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_ends_the_session() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_AUTH_IDLE_TIMEOUT_SECONDS", "2")]);
    let admin = admin(&server).await;
    admin.get("/api/v1/users").await.expect(200, "active session");
    // The timeout is the behaviour under test, so this test must wait it out.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let r = admin.get("/api/v1/users").await;
    assert_eq!(r.status, 401, "idle session ended: {}", r.body);
    let again = admin.get("/api/v1/users").await;
    assert_eq!(again.status, 401, "and stays ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_account_is_logged_out_at_once() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    doctor.get("/api/v1/approvals").await.expect(200, "working");
    let changed =
        admin.send(reqwest::Method::PATCH, "/api/v1/users/dr.sato", Some(json!({ "disabled": true })), &[]).await.expect(200, "disable");
    assert_eq!(changed["disabled"], true);
    assert_eq!(doctor.get("/api/v1/approvals").await.status, 401, "the open session ended");
    let self_disable = admin.send(reqwest::Method::PATCH, "/api/v1/users/admin", Some(json!({ "disabled": true })), &[]).await;
    assert_eq!(self_disable.status, 409);
    // The command line sees the same state.
    let out = kiroku(&server.data_dir, &["user", "list"], &[]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.lines().any(|l| l.starts_with("dr.sato") && l.contains("disabled")), "{listing}");
}
