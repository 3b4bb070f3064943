//! Account governance seen from outside (issue 7): a vendor's maintenance account refused outside
//! its work order's window and networks and outside its scope, its work on the supervisor's
//! check-off list and the sign-off rules; API tokens with scope, expiry and revocation; factor
//! resets that need a second administrator and work once; the access review with an unused and a
//! left account, one-click disable and the audited sign-off. Each runs on SQLite and PostgreSQL.

use std::net::IpAddr;
use std::time::Duration;

use kiroku_core::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

fn client_from(server: &Server, local: &str) -> Client {
    let ip: IpAddr = local.parse().expect("ip");
    let http = reqwest::Client::builder().local_address(ip).build().expect("client");
    Client { base: server.base.clone(), http, token: None }
}

/// A server on a fresh database of its own on PostgreSQL, or `None` (a loud skip) without one.
async fn pg_server(dir: &std::path::Path, env: &[(&str, &str)]) -> Option<Server> {
    let url = kiroku_testkit::pg_url()?;
    let db = format!("kiroku_acc_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url).await.expect("connect postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&admin).await.expect("create database");
    let db_url = match url.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{db}"),
        None => panic!("unexpected KIROKU_TEST_PG_URL {url}"),
    };
    let mut env: Vec<(&str, &str)> = env.to_vec();
    env.push(("KIROKU_DATABASE_URL", &db_url));
    let server = Server::init_and_start(&dir.join("data"), &env);
    assert_eq!(server.client().get("/healthz").await.expect(200, "health")["backend"], "postgres");
    Some(server)
}

async fn details(auditor: &Client, query: &str) -> Vec<Value> {
    let page = auditor.get(&format!("/api/v1/audit?{query}")).await.expect(200, "audit");
    page["events"].as_array().expect("events").clone()
}

fn at(offset_secs: i64) -> String {
    Timestamp::now().plus_seconds(offset_secs).to_rfc3339()
}

const MAINT_ENV: &[(&str, &str)] = &[("KIROKU_NETWORK_TRUSTED_PROXIES", "127.0.0.1")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_account_is_bound_to_its_work_order() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), MAINT_ENV);
    maintenance_story(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_account_is_bound_to_its_work_order_on_postgres() {
    let dir = temp_dir();
    let Some(server) = pg_server(dir.path(), MAINT_ENV).await else { return };
    maintenance_story(&server).await;
}

async fn maintenance_story(server: &Server) {
    let admin = admin(server).await;
    let supervisor = user(server, &admin, "sys.tanaka", "admin").await;
    let order = |account: &str, from: i64, to: i64, extra: Value| {
        let mut o = json!({
            "account": account, "vendor": "カルテ保守株式会社", "purpose": "サーバーの定期保守",
            "starts_at": at(from), "ends_at": at(to), "permissions": ["ops.read"],
            "networks": ["127.0.0.1", "10.8.0.0/16"], "supervisor": "sys.tanaka"
        });
        if let (Some(o), Value::Object(extra)) = (o.as_object_mut(), extra) {
            o.extend(extra);
        }
        o
    };

    // Clinical content needs the order's explicit permission.
    let r = admin.post("/api/v1/work-orders", order("vendor.b", -5, 600, json!({ "permissions": ["patient.read"] }))).await;
    assert_eq!((r.status.as_u16(), r.body["field"].as_str()), (422, Some("permissions")), "{}", r.body);

    // An order in the future: its account exists but cannot log in yet.
    let later = admin.post("/api/v1/work-orders", order("vendor.a", 3600, 7200, json!({}))).await.expect(201, "future order");
    let initial = later["account_initial_password"].as_str().expect("password shown once").to_string();
    assert_eq!(later["work_order"]["account"], "vendor.a");
    let mut vendor = server.client();
    let r = vendor.login("vendor.a", &initial).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/maintenance-refused"), "outside the window: {}", r.body);

    // An order open now, for 20 seconds.
    let now_order = admin.post("/api/v1/work-orders", order("vendor.a", -2, 20, json!({}))).await.expect(201, "open order");
    let id = now_order["work_order"]["id"].as_str().expect("id").to_string();
    let ends_at = Timestamp::parse_rfc3339(now_order["work_order"]["ends_at"].as_str().expect("end")).expect("time");
    assert!(now_order.get("account_initial_password").is_none(), "the account existed");
    let overlapping = admin.post("/api/v1/work-orders", order("vendor.a", 0, 30, json!({}))).await;
    assert_eq!(overlapping.status, 409, "one order at a time per account");

    // Outside its networks (a second loopback address) the login is refused.
    let mut outside = client_from(server, "127.0.0.2");
    let r = outside.login("vendor.a", &initial).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/maintenance-refused"), "outside the networks: {}", r.body);
    let password = vendor.login_and_change("vendor.a", &initial).await;
    let _ = password;
    let session = vendor.get("/api/v1/auth/me").await.expect(200, "me")["session"].as_str().expect("session").to_string();
    assert!(session.starts_with(&format!("wo-{id}-")), "the session names its order: {session}");

    // Within the scope: the location register (ops.read). Outside it: patients, accounts.
    vendor.get("/api/v1/locations").await.expect(200, "ops.read is in the scope");
    let r = vendor.get("/api/v1/patients?q=x").await;
    assert_eq!(r.status, 403, "clinical content is not in the order: {}", r.body);
    assert_eq!(vendor.get("/api/v1/users").await.status, 403, "user.manage is not in the order");
    // The session used from elsewhere: refused; through the trusted proxy, the forwarded client counts.
    let mut stolen = client_from(server, "127.0.0.2");
    stolen.token = vendor.token.clone();
    assert_eq!(stolen.get("/api/v1/locations").await.status, 403);
    let via = |addr: &'static str| {
        let c = vendor.clone();
        async move { c.send(Method::GET, "/api/v1/locations", None, &[("x-forwarded-for", addr)]).await.status.as_u16() }
    };
    assert_eq!(via("10.8.1.2").await, 200, "from the vendor's VPN through the proxy");
    assert_eq!(via("192.168.0.9").await, 403, "from elsewhere through the proxy");

    // The supervisor's check-off list shows the session and every action, refusals included.
    let report = supervisor.get(&format!("/api/v1/work-orders/{id}")).await.expect(200, "check-off list");
    assert_eq!(report["sessions"].as_array().map(Vec::len), Some(1), "{report}");
    let actions: Vec<&str> = report["events"].as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in ["login", "password_change", "location_register_read", "patient_search", "user_list", "access_refused"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(report["events"].as_array().expect("events").iter().all(|e| {
        e["session"].as_str().is_some_and(|s| s.starts_with(&format!("wo-{id}-"))) || e["detail"].as_str().is_some_and(|d| d.contains(&id))
    }));
    let hash = report["report_hash"].as_str().expect("hash").to_string();
    // Not before the window ends (a session is open, too), and only by the supervisor.
    let early = supervisor.post(&format!("/api/v1/work-orders/{id}/signoff"), json!({ "report_hash": hash })).await;
    assert_eq!(early.status, 409, "before the end: {}", early.body);
    let other = admin.get("/api/v1/work-orders").await.expect(200, "list");
    assert!(other["work_orders"].as_array().is_some_and(|l| l.len() == 2));

    // After the window the account and its session are out.
    let wait = (ends_at.as_micros() - Timestamp::now().as_micros()).max(0) as u64 + 300_000;
    tokio::time::sleep(Duration::from_micros(wait)).await;
    assert_eq!(vendor.get("/api/v1/locations").await.status, 401, "the session ended with the window");
    let r = server.client().login("vendor.a", &password).await;
    assert_eq!(r.status, 403, "no login after the window: {}", r.body);

    let report = supervisor.get(&format!("/api/v1/work-orders/{id}")).await.expect(200, "check-off list");
    let hash = report["report_hash"].as_str().expect("hash").to_string();
    let by_admin = admin.post(&format!("/api/v1/work-orders/{id}/signoff"), json!({ "report_hash": hash })).await;
    assert_eq!(by_admin.status, 409, "only the supervisor: {}", by_admin.body);
    let stale = supervisor.post(&format!("/api/v1/work-orders/{id}/signoff"), json!({ "report_hash": "0".repeat(64) })).await;
    assert_eq!(stale.status, 409, "bound to the list's hash");
    supervisor
        .post(&format!("/api/v1/work-orders/{id}/signoff"), json!({ "report_hash": hash, "comment": "作業内容を確認した" }))
        .await
        .expect(200, "sign-off");
    assert_eq!(supervisor.post(&format!("/api/v1/work-orders/{id}/signoff"), json!({ "report_hash": hash })).await.status, 409);

    // A second vendor whose order allows clinical content of the normal class reads patients.
    let clinical = json!({ "permissions": ["patient.read", "ops.read"], "classes": ["normal"], "allow_clinical": true, "networks": [] });
    let b = admin.post("/api/v1/work-orders", order("vendor.b", -2, 600, clinical)).await.expect(201, "clinical order");
    let mut vendor_b = server.client();
    vendor_b.login_and_change("vendor.b", b["account_initial_password"].as_str().expect("password")).await;
    vendor_b.get("/api/v1/patients?q=x").await.expect(200, "allowed by the order");
    let patient =
        json!({ "patient_id": "P9", "name": "山田 太郎", "name_kana": "ヤマダ タロウ", "birth_date": "1970-04-01", "sex": "male" });
    assert_eq!(vendor_b.post("/api/v1/patients", patient).await.status, 403, "patient.write is not");

    let auditor = user(server, &admin, "audit.ono", "auditor").await;
    let signoffs = details(&auditor, "action=work_order_signoff&outcome=success").await;
    assert_eq!(details(&auditor, "action=work_order_signoff&outcome=failed").await.len(), 4, "refused sign-offs are recorded too");
    assert!(signoffs.len() == 1 && signoffs[0]["user"] == "sys.tanaka" && signoffs[0]["content_hash"] == hash.as_str(), "{signoffs:?}");
    let refused: Vec<String> = details(&auditor, "action=access_refused&user=vendor.a")
        .await
        .iter()
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect();
    for expected in ["maintenance:outside_window", &format!("maintenance:network work_order={id}")] {
        assert!(refused.iter().any(|d| d == expected), "{expected} in {refused:?}");
    }
    assert_eq!(details(&auditor, "action=work_order_create&outcome=success").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_act_within_scope_until_expiry_or_revocation() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    tokens_story(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_act_within_scope_until_expiry_or_revocation_on_postgres() {
    let dir = temp_dir();
    let Some(server) = pg_server(dir.path(), &[]).await else { return };
    tokens_story(&server).await;
}

async fn tokens_story(server: &Server) {
    let admin = admin(server).await;
    let r = admin.post("/api/v1/api-tokens", json!({ "name": "lab-link", "permissions": ["patient.read"], "expires_at": at(600) })).await;
    assert_eq!(r.status, 422, "clinical content needs allow_clinical: {}", r.body);
    let created = admin
        .post("/api/v1/api-tokens", json!({ "name": "lab-link", "permissions": ["ops.read"], "expires_at": at(6) }))
        .await
        .expect(201, "token");
    let expires_at = Timestamp::parse_rfc3339(created["api_token"]["expires_at"].as_str().expect("expiry")).expect("time");
    let id = created["api_token"]["id"].as_str().expect("id").to_string();
    let mut link = server.client();
    link.token = Some(created["token"].as_str().expect("shown once").to_string());
    link.get("/api/v1/locations").await.expect(200, "within the scope");
    assert_eq!(link.get("/api/v1/users").await.status, 403, "outside the scope");
    assert_eq!(link.get("/api/v1/patients?q=x").await.status, 403, "no clinical content");
    // The service account never logs in with a password.
    assert_eq!(server.client().login("lab-link", "anything").await.status, 401);
    let listed = admin.get("/api/v1/api-tokens").await.expect(200, "list");
    assert!(listed.to_string().contains(&id) && !listed.to_string().contains("token_hash"), "{listed}");

    // A second token of the same service account, revoked: refused at once.
    let second = admin
        .post("/api/v1/api-tokens", json!({ "name": "lab-link", "permissions": ["ops.read"], "expires_at": at(600) }))
        .await
        .expect(201, "second token");
    let second_id = second["api_token"]["id"].as_str().expect("id").to_string();
    let mut revoked = server.client();
    revoked.token = Some(second["token"].as_str().expect("token").to_string());
    revoked.get("/api/v1/locations").await.expect(200, "before revocation");
    admin.post(&format!("/api/v1/api-tokens/{second_id}/revoke"), json!({})).await.expect(200, "revoke");
    assert_eq!(revoked.get("/api/v1/locations").await.status, 401, "revoked");
    assert_eq!(admin.post(&format!("/api/v1/api-tokens/{second_id}/revoke"), json!({})).await.status, 404, "once");

    // After its expiry the first token is refused too.
    let wait = (expires_at.as_micros() - Timestamp::now().as_micros()).max(0) as u64 + 300_000;
    tokio::time::sleep(Duration::from_micros(wait)).await;
    assert_eq!(link.get("/api/v1/locations").await.status, 401, "expired");

    let auditor = user(server, &admin, "audit.ono", "auditor").await;
    let uses = details(&auditor, "user=lab-link&action=location_register_read").await;
    assert_eq!(uses.len(), 2, "each use is audited as the service account");
    assert!(uses.iter().all(|e| e["session"].as_str().is_some_and(|s| s.starts_with("token-"))), "{uses:?}");
    let refused: Vec<String> = details(&auditor, "user=lab-link&action=access_refused")
        .await
        .iter()
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect();
    assert!(refused.contains(&format!("api_token:revoked token={second_id}")), "{refused:?}");
    assert!(refused.contains(&format!("api_token:expired token={id}")), "{refused:?}");
    assert_eq!(details(&auditor, "action=api_token_create&outcome=success").await.len(), 2);
    assert_eq!(details(&auditor, "action=api_token_revoke&outcome=success").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factor_reset_needs_a_second_administrator_and_works_once() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    reset_story(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factor_reset_needs_a_second_administrator_and_works_once_on_postgres() {
    let dir = temp_dir();
    let Some(server) = pg_server(dir.path(), &[]).await else { return };
    reset_story(&server).await;
}

async fn reset_story(server: &Server) {
    let admin = admin(server).await;
    let second_admin = user(server, &admin, "sys.mori", "admin").await;
    let (doctor, password) = account(server, &admin, "dr.kudo", "工藤", "doctor").await;
    let _ = crate::identity::enrol_totp(&doctor).await;

    let issued = admin.post("/api/v1/users/dr.kudo/factor-reset", json!({})).await.expect(201, "issue");
    let code = issued["code"].as_str().expect("code shown once").to_string();
    let reset_id = issued["factor_reset"]["id"].as_str().expect("id").to_string();
    assert!(!issued.to_string().contains("code_hash"));

    // The phone is lost: password, then the reset instead of a code; not before approval.
    let mut c = server.client();
    assert_eq!(c.login("dr.kudo", &password).await.expect(200, "password")["stage"], "second_factor");
    assert_eq!(c.post("/api/v1/auth/factor-reset", json!({ "code": code })).await.status, 409, "not approved yet");
    assert_eq!(admin.post(&format!("/api/v1/factor-resets/{reset_id}/approve"), json!({})).await.status, 409, "not by the issuer");
    second_admin.post(&format!("/api/v1/factor-resets/{reset_id}/approve"), json!({})).await.expect(200, "second administrator");
    assert_eq!(c.post("/api/v1/auth/factor-reset", json!({ "code": "wrong" })).await.status, 404);
    let used = c.post("/api/v1/auth/factor-reset", json!({ "code": code })).await.expect(200, "use");
    assert_eq!(used["stage"], "enrol");
    let r = c.get("/api/v1/patients?q=x").await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/second-factor-enrolment-required"), "re-enrolment first");
    let _ = crate::identity::enrol_totp(&c).await;
    c.get("/api/v1/patients?q=x").await.expect(200, "after re-enrolment");
    assert_eq!(doctor.get("/api/v1/patients?q=x").await.status, 401, "other sessions ended");

    // Once only.
    let mut again = server.client();
    again.login("dr.kudo", &password).await.expect(200, "password");
    assert_eq!(again.post("/api/v1/auth/factor-reset", json!({ "code": code })).await.status, 409, "used already");

    let auditor = user(server, &admin, "audit.sato", "auditor").await;
    for (action, who) in [("factor_reset_issue", "admin"), ("factor_reset_approve", "sys.mori"), ("factor_reset_use", "dr.kudo")] {
        let events = details(&auditor, &format!("action={action}&outcome=success")).await;
        assert!(
            events.iter().any(|e| e["user"] == who && e["detail"].as_str().is_some_and(|d| d.contains(&reset_id))),
            "{action}: {events:?}"
        );
    }
    assert!(!details(&auditor, "action=factor_reset_approve&outcome=failed").await.is_empty(), "the issuer's attempt is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_review_flags_unused_and_left_accounts_and_its_sign_off_is_audited() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    review_story(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_review_flags_unused_and_left_accounts_and_its_sign_off_is_audited_on_postgres() {
    let dir = temp_dir();
    let Some(server) = pg_server(dir.path(), &[]).await else { return };
    review_story(&server).await;
}

fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["accounts"].as_array().expect("accounts").iter().find(|a| a["username"] == name).expect("account listed")
}

async fn review_story(server: &Server) {
    let admin = admin(server).await;
    admin.post("/api/v1/users", json!({ "username": "ns.idle", "display_name": "未使用", "role": "nurse" })).await.expect(201, "user");
    let leaver = user(server, &admin, "ns.left", "nurse").await;
    admin.post("/api/v1/users/ns.left/left", json!({ "left_on": "2026-10-31" })).await.expect(200, "left marker");
    assert_eq!(admin.post("/api/v1/users/ns.left/left", json!({ "left_on": "31/10/2026" })).await.status, 422);

    let auditor = user(server, &admin, "audit.kato", "auditor").await;
    let report = auditor.get("/api/v1/access-review").await.expect(200, "review");
    assert_eq!(report["unused_days"], 90, "90 days by default");
    assert_eq!((row(&report, "ns.idle")["unused"].as_bool(), row(&report, "ns.left")["left"].as_bool()), (Some(false), Some(true)));
    assert_eq!(row(&report, "ns.left")["left_on"], "2026-10-31");
    assert_eq!(row(&report, "admin")["role"], "admin");
    // With 0 days every account without a login since now counts as unused: the idle one is.
    let strict = auditor.get("/api/v1/access-review?unused_days=0").await.expect(200, "review");
    assert_eq!(row(&strict, "ns.idle")["unused"], true);
    assert!(row(&strict, "ns.idle")["last_login_at"].is_null());
    assert_eq!(leaver.get("/api/v1/access-review").await.status, 403, "nurses do not review accounts");

    // Disabling the leaver clears the flag and ends its session.
    admin.send(Method::PATCH, "/api/v1/users/ns.left", Some(json!({ "disabled": true })), &[]).await.expect(200, "disable");
    assert_eq!(leaver.get("/api/v1/patients?q=x").await.status, 401);
    let report = auditor.get("/api/v1/access-review").await.expect(200, "review");
    assert_eq!((row(&report, "ns.left")["left"].as_bool(), row(&report, "ns.left")["disabled"].as_bool()), (Some(false), Some(true)));
    let hash = report["report_hash"].as_str().expect("hash").to_string();
    let stale = auditor.post("/api/v1/access-review/signoff", json!({ "report_hash": "0".repeat(64) })).await;
    assert_eq!(stale.status, 409);
    let signed = auditor.post("/api/v1/access-review/signoff", json!({ "report_hash": hash, "comment": "四半期の棚卸し" })).await;
    signed.expect(200, "sign-off");
    let events = details(&auditor, "action=access_review_signoff&outcome=success").await;
    assert!(events.len() == 1 && events[0]["content_hash"] == hash.as_str() && events[0]["user"] == "audit.kato", "{events:?}");
    assert!(details(&auditor, "action=user_left").await.iter().any(|e| e["detail"] == "user=ns.left left_on=2026-10-31"));
}
