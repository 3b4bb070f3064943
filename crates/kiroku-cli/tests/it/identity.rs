//! Identity hardening (issue 7) seen from outside: TOTP enrolment and the two-step login, replayed
//! codes and used recovery codes refused, a role that requires 2FA reaching no data with a
//! password, session lists and revocation, one session per person, and source-network rules with a
//! second loopback address and trusted-proxy headers.

use std::net::IpAddr;

use kiroku_auth::totp::Totp;
use serde_json::{Value, json};

use crate::harness::*;

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Enrols an authenticator app for the logged-in client; answers the generator and the recovery codes.
pub(crate) async fn enrol_totp(c: &Client) -> (Totp, Vec<String>) {
    let started = c.post("/api/v1/auth/totp", json!({})).await.expect(201, "begin totp");
    assert!(started["otpauth_uri"].as_str().is_some_and(|u| u.starts_with("otpauth://totp/kiroku:")));
    assert!(started["qr_svg"].as_str().is_some_and(|s| s.starts_with("<svg")), "QR drawn as SVG by the server");
    let totp = Totp::from_base32(started["secret"].as_str().expect("secret")).expect("base32 secret");
    let done = c.post("/api/v1/auth/totp/confirm", json!({ "code": totp.code_at(now_secs()) })).await.expect(200, "confirm totp");
    let codes: Vec<String> =
        done["recovery_codes"].as_array().expect("codes").iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    assert_eq!(codes.len(), 10);
    (totp, codes)
}

async fn audit_details(auditor: &Client, query: &str) -> Vec<String> {
    let page = auditor.get(&format!("/api/v1/audit?{query}")).await.expect(200, "audit");
    page["events"].as_array().expect("events").iter().map(|e| e["detail"].as_str().unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_login_in_two_steps_refuses_replayed_codes_and_used_recovery_codes() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let (doctor, password) = account(&server, &admin, "dr.sato", "佐藤", "doctor").await;

    // Without a second factor an 8-character password is too short; with one it is allowed.
    let short = json!({ "current_password": password, "new_password": "kQ7#vmZ2" });
    assert_eq!(doctor.post("/api/v1/auth/password", short.clone()).await.status, 422);
    let (totp, recovery) = enrol_totp(&doctor).await;
    doctor.post("/api/v1/auth/password", short).await.expect(200, "8 characters with a second factor");
    let password = "kQ7#vmZ2";
    doctor.post("/api/v1/auth/logout", json!({})).await.expect(200, "logout");

    // Password first: the session may do nothing but the second step.
    let mut c = server.client();
    let first = c.login("dr.sato", password).await.expect(200, "password step");
    assert_eq!((first["stage"].as_str(), first["second_factor_required"].as_bool()), (Some("second_factor"), Some(true)));
    let r = c.get("/api/v1/patients?q=x").await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (401, "/problems/second-factor-required"));
    let wrong = c.post("/api/v1/auth/second-factor", json!({ "code": "000000" })).await;
    assert_eq!((wrong.status.as_u16(), wrong.problem_type()), (401, "/problems/second-factor-failed"));
    // The enrolment used the current step: its code would count as used, so take the next step's.
    let enrolled_step = totp.step_of(now_secs());
    while totp.step_of(now_secs()) <= enrolled_step {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let code = totp.code_at(now_secs());
    c.post("/api/v1/auth/second-factor", json!({ "code": code })).await.expect(200, "second step");
    c.get("/api/v1/patients?q=x").await.expect(200, "full session reaches data");

    // The same code again, on a new login, is a replay.
    let mut again = server.client();
    again.login("dr.sato", password).await.expect(200, "password step");
    let replay = again.post("/api/v1/auth/second-factor", json!({ "code": code })).await;
    assert_eq!((replay.status.as_u16(), replay.problem_type()), (401, "/problems/second-factor-failed"), "replayed code");
    assert_eq!(again.get("/api/v1/patients?q=x").await.status, 401);

    // A recovery code works once.
    again.post("/api/v1/auth/second-factor", json!({ "code": recovery[0].to_uppercase() })).await.expect(200, "recovery code");
    let mut third = server.client();
    third.login("dr.sato", password).await.expect(200, "password step");
    assert_eq!(third.post("/api/v1/auth/second-factor", json!({ "code": recovery[0] })).await.status, 401, "used recovery code");

    let mut auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let failures = audit_details(&auditor, "user=dr.sato&action=login_failed").await;
    for expected in ["second_factor:wrong_code", "second_factor:replayed", "second_factor:recovery_code"] {
        assert!(failures.iter().any(|d| d.starts_with(expected)), "{expected} in {failures:?}");
    }
    let logins = audit_details(&auditor, "user=dr.sato&action=login").await;
    assert!(logins.iter().any(|d| d.starts_with("second_factor=recovery recovery_codes_left=9")), "{logins:?}");
    assert_eq!(audit_details(&auditor, "user=dr.sato&action=second_factor_enrol").await.len(), 2, "begin and confirm");
    auditor.token = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_requires_2fa_reaches_no_data_with_a_password_only() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let (nurse, password) = account(&server, &admin, "ns.ito", "伊藤", "nurse").await;
    nurse.get("/api/v1/patients?q=x").await.expect(200, "optional by default");

    // A date in the future changes nothing yet; the date passing (here: a date in the past) does.
    let set = |mode: &str, from: Value| json!({ "mode": mode, "required_from": from });
    admin
        .send(reqwest::Method::PUT, "/api/v1/mfa-policies/nurse", Some(set("required_from", json!("2099-04-01T00:00:00+09:00"))), &[])
        .await
        .expect(200, "policy");
    nurse.get("/api/v1/patients?q=x").await.expect(200, "not yet required");
    admin
        .send(reqwest::Method::PUT, "/api/v1/mfa-policies/nurse", Some(set("required_from", json!("2027-04-01T00:00:00+09:00"))), &[])
        .await
        .expect(200, "policy");
    let policies = admin.get("/api/v1/mfa-policies").await.expect(200, "policies");
    assert!(policies["policies"].as_array().expect("list").iter().any(|p| p["role"] == "nurse" && p["mode"] == "required_from"));
    admin.send(reqwest::Method::PUT, "/api/v1/mfa-policies/nurse", Some(set("required", Value::Null)), &[]).await.expect(200, "policy");

    // The session opened with a password before the change no longer reaches data ...
    let r = nurse.get("/api/v1/patients?q=x").await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/second-factor-enrolment-required"));
    // ... nor does a new login with the password, whatever endpoint it tries.
    let mut c = server.client();
    let login = c.login("ns.ito", &password).await.expect(200, "password step");
    assert_eq!(login["stage"], "enrol");
    for path in ["/api/v1/patients?q=x", "/api/v1/approvals", "/api/v1/auth/sessions", "/api/v1/users"] {
        assert_eq!(c.get(path).await.status, 403, "{path} with a password only");
    }
    assert_eq!(c.post("/api/v1/patients", json!({})).await.status, 403);
    // Enrolling is the one thing it can do; after that the session is full.
    let (_totp, _codes) = enrol_totp(&c).await;
    c.get("/api/v1/patients?q=x").await.expect(200, "after enrolment");
    // The last factor of a role that requires one cannot be removed.
    let factors = c.get("/api/v1/auth/second-factors").await.expect(200, "factors");
    let id = factors["second_factors"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(c.send(reqwest::Method::DELETE, &format!("/api/v1/auth/second-factors/{id}"), None, &[]).await.status, 409);

    let mut auditor = user(&server, &admin, "audit.mori", "auditor").await;
    let changes = audit_details(&auditor, "action=mfa_policy_change").await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes.iter().any(|d| d == "role=nurse mode=required"));
    auditor.token = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_ended_by_their_owner_and_the_administrator() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let (first, password) = account(&server, &admin, "ns.ueda", "上田", "nurse").await;
    let mut second = server.client();
    second.login("ns.ueda", &password).await.expect(200, "second terminal");
    let mut third = server.client();
    third.login("ns.ueda", &password).await.expect(200, "third terminal");

    let mine = first.get("/api/v1/auth/sessions").await.expect(200, "own sessions");
    let sessions = mine["sessions"].as_array().expect("list");
    assert_eq!(sessions.len(), 3);
    assert!(sessions.iter().all(|s| s.get("token_hash").is_none()), "never the token");
    let current = mine["current"].as_str().expect("current").to_string();
    let other: Vec<String> = sessions.iter().filter_map(|s| s["id"].as_str()).filter(|id| *id != current).map(str::to_string).collect();

    // The user ends one of their other sessions; it is refused at once.
    let before = second.get("/api/v1/auth/sessions").await.expect(200, "second's view")["current"].as_str().expect("id").to_string();
    first.post(&format!("/api/v1/sessions/{before}/revoke"), json!({})).await.expect(200, "revoke own");
    assert_eq!(second.get("/api/v1/patients?q=x").await.status, 401);

    // Another user cannot see or end them; the administrator can.
    let nurse2 = user(&server, &admin, "ns.kubo", "nurse").await;
    assert_eq!(nurse2.get("/api/v1/users/ns.ueda/sessions").await.status, 403);
    let third_id = other.iter().find(|id| **id != before).expect("third").clone();
    assert_eq!(nurse2.post(&format!("/api/v1/sessions/{third_id}/revoke"), json!({})).await.status, 404);
    let listed = admin.get("/api/v1/users/ns.ueda/sessions").await.expect(200, "admin lists");
    assert_eq!(listed["sessions"].as_array().map(Vec::len), Some(2));
    admin.post(&format!("/api/v1/sessions/{third_id}/revoke"), json!({})).await.expect(200, "admin revokes");
    assert_eq!(third.get("/api/v1/patients?q=x").await.status, 401);
    first.get("/api/v1/patients?q=x").await.expect(200, "the current one lives on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_single_session_a_new_login_ends_the_others() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_AUTH_SINGLE_SESSION", "true")]);
    let admin = admin(&server).await;
    let (first, password) = account(&server, &admin, "dr.abe", "阿部", "doctor").await;
    first.get("/api/v1/patients?q=x").await.expect(200, "first terminal");
    let mut second = server.client();
    second.login("dr.abe", &password).await.expect(200, "second terminal");
    assert_eq!(first.get("/api/v1/patients?q=x").await.status, 401, "the first terminal's session ended");
    second.get("/api/v1/patients?q=x").await.expect(200, "the new one works");
}

fn client_from(server: &Server, local: &str) -> Client {
    let ip: IpAddr = local.parse().expect("ip");
    let http = reqwest::Client::builder().local_address(ip).build().expect("client");
    Client { base: server.base.clone(), http, token: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_networks_refuse_other_addresses_and_believe_only_trusted_proxies() {
    let dir = temp_dir();
    let env = [("KIROKU_NETWORK_NURSE", "127.0.0.1, 10.1.0.0/16"), ("KIROKU_NETWORK_TRUSTED_PROXIES", "127.0.0.1")];
    let server = Server::init_and_start(&dir.path().join("data"), &env);
    let admin = admin(&server).await;
    let (nurse, password) = account(&server, &admin, "ns.oda", "小田", "nurse").await;

    // A second loopback address is outside the nurse's networks: login and session both refused.
    let mut outside = client_from(&server, "127.0.0.2");
    let r = outside.login("ns.oda", &password).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/network-refused"));
    let mut stolen = client_from(&server, "127.0.0.2");
    stolen.token = nurse.token.clone();
    assert_eq!(stolen.get("/api/v1/patients?q=x").await.status, 403, "a session used from elsewhere");
    nurse.get("/api/v1/patients?q=x").await.expect(200, "from 127.0.0.1");
    // Other roles have no list: the administrator works from anywhere.
    let mut admin2 = client_from(&server, "127.0.0.2");
    admin2.token = admin.token.clone();
    admin2.get("/api/v1/users").await.expect(200, "no list for admin");

    // Through the trusted proxy (127.0.0.1) the forwarded client counts.
    let xff = |c: &Client, addr: &'static str| {
        let c = c.clone();
        async move { c.send(reqwest::Method::GET, "/api/v1/patients?q=x", None, &[("x-forwarded-for", addr)]).await.status.as_u16() }
    };
    assert_eq!(xff(&nurse, "10.1.2.3").await, 200, "forwarded from the ward network");
    assert_eq!(xff(&nurse, "192.168.0.9").await, 403, "forwarded from elsewhere");
    assert_eq!(xff(&nurse, "10.1.2.3, 192.168.0.9").await, 403, "the right-most untrusted address counts");
    // From an address that is not a proxy the header is ignored.
    let mut direct = client_from(&server, "127.0.0.2");
    direct.token = nurse.token.clone();
    assert_eq!(xff(&direct, "10.1.2.3").await, 403, "X-Forwarded-For from a non-proxy is not believed");

    let mut auditor = user(&server, &admin, "audit.ono", "auditor").await;
    let refused = auditor.get("/api/v1/audit?action=access_refused").await.expect(200, "audit");
    let events = refused["events"].as_array().expect("events");
    assert_eq!(events.len(), 5, "{refused}");
    assert!(events.iter().all(|e| e["detail"] == "network:role=nurse" && e["outcome"] == "denied"));
    let addrs: Vec<&str> = events.iter().filter_map(|e| e["client_addr"].as_str()).collect();
    assert!(addrs.contains(&"127.0.0.2") && addrs.contains(&"192.168.0.9"), "{addrs:?}");
    let reads = auditor.get("/api/v1/audit?user=ns.oda&action=patient_search").await.expect(200, "audit");
    assert!(
        reads["events"].as_array().expect("events").iter().any(|e| e["client_addr"] == "10.1.2.3"),
        "the forwarded address is recorded"
    );
    auditor.token = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_outside_the_facility_networks_a_password_alone_reaches_nothing() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_NETWORK_INTERNAL", "127.0.0.1")]);
    let admin = admin(&server).await;
    let (_nurse, password) = account(&server, &admin, "ns.kudo", "工藤", "nurse").await;

    // Inside (127.0.0.1) the role's policy (optional) applies: a password is enough.
    let mut inside = server.client();
    inside.login("ns.kudo", &password).await.expect(200, "inside");
    inside.get("/api/v1/patients?q=x").await.expect(200, "password only, inside");

    // From 127.0.0.2 the same password opens only the enrolment, and a session opened inside
    // reaches nothing when it is used from outside.
    let mut remote = client_from(&server, "127.0.0.2");
    let login = remote.login("ns.kudo", &password).await.expect(200, "password step");
    assert_eq!((login["stage"].as_str(), login["enrolment_required"].as_bool()), (Some("enrol"), Some(true)), "{login}");
    let r = remote.get("/api/v1/patients?q=x").await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/second-factor-enrolment-required"));
    let mut carried = client_from(&server, "127.0.0.2");
    carried.token = inside.token.clone();
    assert_eq!(carried.get("/api/v1/patients?q=x").await.status, 403, "an inside session used from outside");

    // With a second factor the remote login works in two steps.
    let (totp, _codes) = enrol_totp(&remote).await;
    remote.get("/api/v1/patients?q=x").await.expect(200, "after enrolment");
    let mut again = client_from(&server, "127.0.0.2");
    let login = again.login("ns.kudo", &password).await.expect(200, "password step");
    assert_eq!(login["stage"], "second_factor");
    let r = again.get("/api/v1/patients?q=x").await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (401, "/problems/second-factor-required"), "before the code");
    // The enrolment used the current step's code; the login takes the next step's.
    let enrolled_step = totp.step_of(now_secs());
    while totp.step_of(now_secs()) <= enrolled_step {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let code = totp.code_at(now_secs());
    again.post("/api/v1/auth/second-factor", json!({ "code": code })).await.expect(200, "second step");
    again.get("/api/v1/patients?q=x").await.expect(200, "two factors from outside");
}

/// A page's HTML with a session cookie made from an API token (the web accepts the same tokens).
async fn page_html(server: &Server, token: &str, path: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = http.get(format!("{}{path}", server.base)).header("cookie", format!("kiroku_session={token}")).send().await.expect("get");
    r.text().await.expect("html")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_needs_a_reason_alerts_everyone_expires_and_must_be_resealed() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_AUTH_BREAK_GLASS_SECONDS", "4")]);
    let admin = admin(&server).await;
    let (nurse, _) = account(&server, &admin, "ns.hara", "原", "nurse").await;
    let started = kiroku_core::Timestamp::now();

    let created =
        admin.post("/api/v1/break-glass", json!({ "username": "er.doctor1", "display_name": "緊急用 医師1", "role": "doctor" })).await;
    let created = created.expect(201, "create break-glass");
    let sealed = created["sealed_password"].as_str().expect("password").to_string();
    assert_eq!(created["user"]["kind"], "break_glass");
    let listed = admin.get("/api/v1/break-glass").await.expect(200, "list");
    assert_eq!(listed["accounts"][0]["state"], "sealed");

    // Without a declared reason the sealed account is refused, and the attempt recorded.
    let mut er = server.client();
    let r = er.login("er.doctor1", &sealed).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/break-glass-refused"));
    assert!(!page_html(&server, nurse.token.as_deref().expect("token"), "/patients").await.contains("break-glass-alert"));

    // With a reason it opens, reaches data, and every page shows the alert to everyone.
    let body = json!({ "username": "er.doctor1", "password": sealed, "break_glass_reason": "電子カルテ障害時の救急対応" });
    let r = er.post("/api/v1/auth/login", body.clone()).await.expect(200, "break-glass login");
    er.token = r["token"].as_str().map(str::to_string);
    er.get("/api/v1/patients?q=x").await.expect(200, "break-glass reaches data");
    let html = page_html(&server, nurse.token.as_deref().expect("token"), "/patients").await;
    assert!(html.contains("id=\"break-glass-alert\"") && html.contains("er.doctor1"), "banner on the nurse's page");
    assert_eq!(admin.get("/api/v1/break-glass").await.expect(200, "list")["accounts"][0]["state"], "open");

    // It expires by itself: the session ends and the sealed password no longer opens it.
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    assert_eq!(er.get("/api/v1/patients?q=x").await.status, 401, "expired with the account");
    let r = server.client().post("/api/v1/auth/login", body.clone()).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/break-glass-refused"), "must be re-sealed first");
    assert!(!page_html(&server, nurse.token.as_deref().expect("token"), "/patients").await.contains("break-glass-alert"));
    assert_eq!(admin.get("/api/v1/break-glass").await.expect(200, "list")["accounts"][0]["state"], "expired");

    // Closed out: re-sealed with a new password; the old one is dead.
    let resealed = admin.post("/api/v1/break-glass/er.doctor1/reseal", json!({})).await.expect(200, "reseal");
    let new_password = resealed["sealed_password"].as_str().expect("password").to_string();
    assert_ne!(new_password, sealed);
    assert_eq!(server.client().post("/api/v1/auth/login", body).await.status, 401, "the old sealed password");
    assert_eq!(admin.get("/api/v1/break-glass").await.expect(200, "list")["accounts"][0]["state"], "sealed");

    // The audit review report of the period lists the use, the refusals and the re-seal.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut auditor = user(&server, &admin, "audit.sano", "auditor").await;
    let uses = audit_details(&auditor, "action=break_glass_use").await;
    assert!(uses.len() == 1 && uses[0].contains("reason=電子カルテ障害時の救急対応"), "{uses:?}");
    let from = started.plus_seconds(-60).to_rfc3339();
    let to = kiroku_core::Timestamp::now().plus_seconds(-1).to_rfc3339();
    let report = auditor.get(&format!("/api/v1/audit/review?from={from}&to={to}")).await.expect(200, "review");
    let section = &report["break_glass"];
    let notes: Vec<&str> = section["events"].as_array().expect("events").iter().filter_map(|e| e["note"].as_str()).collect();
    assert!(section["count"].as_u64().is_some_and(|n| n >= 5), "{section}");
    for expected in ["break_glass:reason_required", "until=", "break_glass:reseal_required", "user=er.doctor1 was=expired"] {
        assert!(notes.iter().any(|n| n.contains(expected)), "{expected} in {notes:?}");
    }
    auditor.token = None;
}
