//! Ledgers (台帳) against the real binary: every ledger's create / approve (where it needs one) /
//! list / audit path, the refusals (approval by the requester, a missing required field, a role
//! without the permission), and the periodic duties' reminders.

use kiroku_core::Timestamp;
use kiroku_core::ledgers::{FieldType, KindDef, LEDGERS, jst_date};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::harness::*;

/// A valid value for every field of a ledger, as a client would send it.
fn sample(def: &KindDef, day: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    for f in def.fields {
        let value = match f.ty {
            FieldType::Text => json!(format!("{} の記録", f.label_ja)),
            FieldType::LongText => json!(format!("{}\n二行目", f.label_ja)),
            FieldType::Date => json!(day),
            FieldType::DateTime => json!(format!("{day}T10:30")),
            FieldType::User => json!("admin"),
            FieldType::Users => json!(["admin", "audit.kato"]),
            FieldType::Number => json!(1),
            FieldType::Choice(choices) => json!(choices[0].0),
            FieldType::Bool => json!(true),
        };
        fields.insert(f.name.to_string(), value);
    }
    fields
}

fn days_ago(days: i64) -> String {
    jst_date(Timestamp::now().plus_seconds(-days * 86_400)).to_string()
}

async fn events(auditor: &Client, action: &str) -> Vec<Value> {
    let body = auditor.get(&format!("/api/v1/audit?action={action}&limit=1000")).await.expect(200, "audit query");
    body["events"].as_array().cloned().unwrap_or_default()
}

/// Every ledger: recorded by an administrator, approved by the audit officer where it needs an
/// approval (never by the requester; a disposal only with its certificate attached), listed,
/// read with its history, and each step in the audit trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ledger_records_approves_lists_and_audits() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let approver = user(&server, &admin, "admin2", "admin").await;
    let nurse = user(&server, &admin, "ns.ito", "nurse").await;

    let kinds = admin.get("/api/v1/governance/ledgers").await.expect(200, "ledgers");
    assert_eq!(kinds["ledgers"].as_array().map(Vec::len), Some(LEDGERS.len()));
    assert_eq!(nurse.get("/api/v1/governance/ledgers").await.status, 403);

    let today = days_ago(0);
    for def in LEDGERS {
        let kind = def.kind.as_str();
        let base = format!("/api/v1/governance/ledgers/{kind}");
        let fields = sample(def, &today);
        let created = admin.post(&base, json!({ "fields": fields })).await.expect(201, kind);
        let id = created["id"].as_str().expect("id").to_string();
        assert_eq!(created["current"]["revision"], json!(1), "{kind}");
        let status = if def.approval { "pending_approval" } else { "open" };
        assert_eq!(created["status"], json!(status), "{kind}");

        if def.approval {
            let own = admin.post(&format!("{base}/{id}/approve"), json!({ "note": "自分で承認" })).await;
            assert_eq!((own.status.as_u16(), own.problem_type()), (403, "/problems/forbidden"), "{kind}: {}", own.body);
            if def.approval_needs_attachment {
                let early = approver.post(&format!("{base}/{id}/approve"), json!({})).await;
                assert_eq!(early.status, 409, "{kind}: the certificate comes first: {}", early.body);
                let url = format!("{}{base}/{id}/attachments?name=%E8%A8%BC%E6%98%8E%E6%9B%B8.pdf", server.base);
                let r = admin
                    .http
                    .post(url)
                    .bearer_auth(admin.token.as_deref().unwrap_or_default())
                    .header("content-type", "application/pdf")
                    .body("%PDF-1.4 certificate")
                    .send()
                    .await
                    .expect("upload");
                assert_eq!(r.status(), 201, "{kind}: upload");
            }
            let approved = approver.post(&format!("{base}/{id}/approve"), json!({ "note": "確認しました" })).await.expect(200, kind);
            assert_eq!(approved["status"], json!("approved"), "{kind}");
        }
        if def.close_ja.is_some() {
            let closed = admin.post(&format!("{base}/{id}/events"), json!({ "event": "close", "note": "完了" })).await.expect(200, kind);
            assert_eq!(closed["status"], json!("closed"), "{kind}");
        }

        let list = auditor.get(&base).await.expect(200, kind);
        let listed: Vec<&str> = list["entries"].as_array().expect("entries").iter().filter_map(|e| e["id"].as_str()).collect();
        assert_eq!(listed, [id.as_str()], "{kind}");
        let entry = auditor.get(&format!("{base}/{id}")).await.expect(200, kind);
        assert_eq!(entry["revisions"].as_array().map(Vec::len), Some(1), "{kind}");
        assert_eq!(entry["current"]["fields"][def.title_field], fields[def.title_field], "{kind}");
        let other = if kind == "device" { "media" } else { "device" };
        assert_eq!(auditor.get(&format!("/api/v1/governance/ledgers/{other}/{id}")).await.status, 404, "{kind} under another ledger");
    }

    // The audit trail has each step of each ledger, with the revision's hash.
    let created = events(&auditor, "ledger_create").await;
    for def in LEDGERS {
        let needle = format!("ledger={} ", def.kind.as_str());
        let event = created.iter().find(|e| e["detail"].as_str().is_some_and(|d| d.starts_with(&needle)));
        let event = event.unwrap_or_else(|| panic!("no ledger_create event for {}", def.kind.as_str()));
        assert!(event["content_hash"].as_str().is_some_and(|h| h.len() == 64), "{event}");
        assert_eq!(event["user"], json!("admin"));
    }
    let approvals = events(&auditor, "ledger_approve").await;
    let approved = LEDGERS.iter().filter(|d| d.approval).count();
    assert_eq!(approvals.iter().filter(|e| e["outcome"] == json!("success")).count(), approved);
    assert_eq!(
        approvals.iter().filter(|e| e["outcome"] == json!("denied")).count(),
        approved,
        "each approval by the requester is recorded"
    );
    assert!(!events(&auditor, "ledger_read").await.is_empty(), "reading a ledger is audited");
    assert_eq!(events(&auditor, "ledger_attachment_add").await.len(), 1);

    // The store still verifies: every ledger row is a leaf of the log.
    let out = kiroku(&server.data_dir, &["verify"], &[]);
    assert!(out.status.success(), "verify: {}", String::from_utf8_lossy(&out.stdout));
}

/// A missing required field is a 422 naming it, a stale revision a 409, an unknown field a 422,
/// a role without governance.manage a 403; an edit is a new revision and needs approving again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_input_and_roles_are_checked() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let approver = user(&server, &admin, "admin2", "admin").await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let base = "/api/v1/governance/ledgers/take_out";
    let def = kiroku_core::ledgers::LedgerKind::TakeOut.def();
    let mut fields = sample(def, &days_ago(0));

    let r = doctor.post(base, json!({ "fields": fields })).await;
    assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/forbidden"), "{}", r.body);
    assert_eq!(doctor.get(base).await.status, 403);
    fields.remove("purpose");
    let r = admin.post(base, json!({ "fields": fields })).await;
    assert_eq!((r.status.as_u16(), r.body["field"].as_str()), (422, Some("purpose")), "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    fields.insert("purpose".into(), json!("訪問診療"));
    fields.insert("due_on".into(), json!("来週"));
    let r = admin.post(base, json!({ "fields": fields })).await;
    assert_eq!((r.status.as_u16(), r.body["field"].as_str()), (422, Some("due_on")), "{}", r.body);
    fields.insert("due_on".into(), json!(days_ago(-3)));
    let mut unknown = fields.clone();
    unknown.insert("colour".into(), json!("赤"));
    assert_eq!(admin.post(base, json!({ "fields": unknown })).await.status, 422);
    let mut nobody = fields.clone();
    nobody.insert("destination".into(), json!("x"));
    let device = sample(kiroku_core::ledgers::LedgerKind::Device.def(), "2026-01-01");
    let mut ghost = device.clone();
    ghost.insert("owner".into(), json!("no.such.user"));
    let r = admin.post("/api/v1/governance/ledgers/device", json!({ "fields": ghost })).await;
    assert_eq!((r.status.as_u16(), r.body["field"].as_str()), (422, Some("owner")), "{}", r.body);
    assert_eq!(admin.post("/api/v1/governance/ledgers/spaceships", json!({ "fields": device })).await.status, 404);

    let created = admin.post(base, json!({ "fields": fields })).await.expect(201, "take-out request");
    let id = created["id"].as_str().expect("id");
    approver.post(&format!("{base}/{id}/approve"), json!({})).await.expect(200, "approve");
    let again = approver.post(&format!("{base}/{id}/approve"), json!({})).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let stale = admin.send(Method::PUT, &format!("{base}/{id}"), Some(json!({ "fields": nobody, "revision": 5 })), &[]).await;
    assert_eq!((stale.status.as_u16(), stale.problem_type()), (409, "/problems/stale-version"), "{}", stale.body);
    let revised = admin.send(Method::PUT, &format!("{base}/{id}"), Some(json!({ "fields": nobody, "revision": 1 })), &[]).await;
    let revised = revised.expect(200, "revise");
    assert_eq!((revised["current"]["revision"].as_i64(), revised["status"].as_str()), (Some(2), Some("pending_approval")));
    approver.post(&format!("{base}/{id}/approve"), json!({})).await.expect(200, "approve revision 2");
    let lost = admin.post(&format!("{base}/{id}/events"), json!({ "event": "loss_reported", "note": "電車内で紛失" })).await;
    assert_eq!(lost.expect(200, "loss report")["status"], json!("loss_reported"));
    let closed = admin.post(&format!("{base}/{id}/events"), json!({ "event": "close", "note": "発見・返却" })).await.expect(200, "close");
    assert_eq!(closed["status"], json!("closed"));
    let late = admin.send(Method::PUT, &format!("{base}/{id}"), Some(json!({ "fields": nobody })), &[]).await;
    assert_eq!(late.status, 409, "a closed entry is not revised: {}", late.body);
    let history = auditor.get(&format!("{base}/{id}")).await.expect(200, "history");
    let kinds: Vec<&str> = history["events"].as_array().expect("events").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["approve", "approve", "loss_reported", "close"]);
    assert_eq!(history["revisions"].as_array().map(Vec::len), Some(2));

    // Paging by cursor, filtering by state and period.
    let visitor = "/api/v1/governance/ledgers/visitor";
    for day in [10, 20, 30] {
        let fields = sample(kiroku_core::ledgers::LedgerKind::Visitor.def(), &days_ago(day));
        admin.post(visitor, json!({ "fields": fields })).await.expect(201, "visitor");
    }
    let page = auditor.get(&format!("{visitor}?limit=2")).await.expect(200, "page 1");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let rest = auditor.get(&format!("{visitor}?limit=2&cursor={cursor}")).await.expect(200, "page 2");
    assert_eq!((rest["entries"].as_array().map(Vec::len), &rest["next_cursor"]), (Some(1), &Value::Null));
    let within = auditor.get(&format!("{visitor}?from={}&to={}", days_ago(25), days_ago(15))).await.expect(200, "period");
    assert_eq!(within["entries"].as_array().map(Vec::len), Some(1));
    let closed = auditor.get(&format!("{base}?status=closed")).await.expect(200, "closed");
    assert_eq!(closed["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(auditor.get(&format!("{base}?from=yesterday")).await.status, 422);
}

/// The duty list: a training held 360 days ago is due soon (yearly, reminded 14 days ahead), the
/// restore drill never done is overdue, a contract expiring within 60 days is due soon; staff
/// trained this year are listed as current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_duties_remind_and_list_overdue() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_GOVERNANCE_BCP_DRILL_DAYS", "0")]);
    let admin = admin(&server).await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;

    let training =
        json!({ "title": "個人情報保護研修", "held_on": days_ago(360), "topics": "持ち出しルール", "attendees": "admin audit.kato" });
    admin.post("/api/v1/governance/ledgers/training", json!({ "fields": training })).await.expect(201, "training");
    let mut contract = sample(kiroku_core::ledgers::LedgerKind::Contract.def(), &days_ago(300));
    contract.insert("contractor".into(), json!("株式会社保守"));
    contract.insert("expires_on".into(), json!(days_ago(-30)));
    admin.post("/api/v1/governance/ledgers/contract", json!({ "fields": contract })).await.expect(201, "contract");

    assert_eq!(doctor.get("/api/v1/governance/duties").await.status, 403);
    let report = auditor.get("/api/v1/governance/duties").await.expect(200, "duties");
    let duty = |id: &str| {
        report["duties"].as_array().and_then(|d| d.iter().find(|x| x["id"].as_str().is_some_and(|i| i.starts_with(id))).cloned())
    };
    let training = duty("training").expect("training duty");
    assert_eq!(
        (training["state"].as_str(), training["last_done"].as_str()),
        (Some("due_soon"), Some(days_ago(360).as_str())),
        "{training}"
    );
    assert_eq!(training["due_on"].as_str(), Some(days_ago(-5).as_str()));
    assert_eq!(duty("restore_drill").expect("restore drill")["state"], json!("overdue"));
    assert_eq!(duty("contract_review").expect("contract review")["state"], json!("due_soon"));
    assert!(duty("bcp_drill").is_none(), "an interval of 0 turns a duty off");
    let due: Vec<&str> = report["due"].as_array().expect("due").iter().filter_map(|d| d["id"].as_str()).collect();
    assert!(due.contains(&"restore_drill") && due.contains(&"training"), "{due:?}");
    let trained = |name: &str| report["training"].as_array().and_then(|t| t.iter().find(|x| x["username"] == json!(name)).cloned());
    assert_eq!(trained("admin").expect("admin")["current"], json!(true));
    assert_eq!(trained("dr.sato").expect("doctor")["current"], json!(false));
}
