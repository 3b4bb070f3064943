//! The compliance checklist with live evidence (issue 8), seen from outside: statuses follow the
//! evidence as it appears (a restore drill flips T2-3.4, an audit review sign-off meets T1-10.1's
//! review), attestations of what kiroku cannot see, the audit officer's sign-off bound to the report's
//! hash, the CSV for Excel, the OSCAL documents validated by compliance-trestle, the self-disclosure
//! and the split document, and the checklist page in a real browser.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::*;

fn run(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = kiroku(data, args, &[]);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn row<'a>(checklist: &'a Value, id: &str) -> &'a Value {
    checklist["rows"].as_array().and_then(|r| r.iter().find(|x| x["id"] == id)).unwrap_or_else(|| panic!("no row {id}"))
}

fn finding<'a>(row: &'a Value, evidence: &str) -> &'a Value {
    row["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["evidence"] == evidence))
        .unwrap_or_else(|| panic!("no finding {evidence} in {row}"))
}

/// A CSV parser for RFC 4180 (quoted fields with doubled quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty() && row.is_empty(), "the CSV ends with a complete line");
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_follows_the_evidence_and_exports() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let auditor = user(&server, &admin, "kansa", "auditor").await;
    let nurse = user(&server, &admin, "ns.ito", "nurse").await;

    let before = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(before["rows"].as_array().map(Vec::len), Some(80), "every catalogue item has a row");
    assert_eq!(before["mhlw"].as_array().map(Vec::len), Some(18));
    assert_eq!(row(&before, "T2-3.4")["status"], "not", "no restore drill yet: {}", row(&before, "T2-3.4"));
    assert_eq!(row(&before, "T1-2.4")["status"], "not", "no evidence is not satisfied");
    assert_eq!(finding(row(&before, "T1-10.1"), "audit_review_signoff")["met"], "no");
    assert_eq!(row(&before, "T1-4.2")["status"], "partly", "matrix and checkpoint, but no access review yet: {}", row(&before, "T1-4.2"));
    let forbidden = nurse.get("/api/v1/governance/checklist").await;
    assert_eq!(forbidden.status, 403, "governance.read is needed");
    assert_eq!(forbidden.problem_type(), "/problems/forbidden", "{}", forbidden.body);
    assert_eq!(auditor.get("/api/v1/governance/checklist?status=maybe").await.status, 422);

    // A backup and a restore drill recorded by the console flip T2-3.4.
    let target = dir.path().join("target");
    let target_s = target.to_str().expect("utf-8").to_string();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "a long passphrase for the backup target").expect("pass");
    let keys = dir.path().join("keys-pass");
    std::fs::write(&keys, "another passphrase for the keys").expect("keys");
    let (pass, keys) = (pass.to_str().expect("utf-8").to_string(), keys.to_str().expect("utf-8").to_string());
    for args in [
        vec!["backup", "init", "--target", &target_s, "--passphrase-file", &pass],
        vec!["backup", "create", "--target", &target_s, "--keys-passphrase-file", &keys],
        vec!["restore", "--drill", "--target", &target_s, "--passphrase-file", &pass],
    ] {
        let (code, out, err) = run(&data, &args);
        assert_eq!(code, 0, "{args:?}: {out} {err}");
    }
    let after = auditor.get("/api/v1/governance/checklist?table=2").await.expect(200, "checklist");
    let t234 = row(&after, "T2-3.4");
    assert_eq!(t234["status"], "satisfied", "{t234}");
    let drill = finding(t234, "restore_drill");
    assert_eq!(drill["age_days"], 0);
    assert_eq!(drill["link"], "/audit?action=restore_drill");
    assert!(after["rows"].as_array().is_some_and(|r| r.iter().all(|x| x["table"] == 2)), "filtered by table");

    // The audit officer's review sign-off is evidence for T1-10.1.
    let from = kiroku_core::Timestamp::now().plus_seconds(-3600).to_rfc3339();
    let to = kiroku_core::Timestamp::now().to_rfc3339();
    let report = auditor.get(&format!("/api/v1/audit/review?from={from}&to={to}")).await.expect(200, "review");
    let body = json!({ "from": from, "to": to, "report_hash": report["report_hash"], "comment": "問題なし" });
    auditor.post("/api/v1/audit/review/signoff", body).await.expect(201, "review sign-off");
    let reviewed = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(finding(row(&reviewed, "T1-10.1"), "audit_review_signoff")["met"], "yes", "{}", row(&reviewed, "T1-10.1"));

    // What kiroku cannot see is attested by someone with governance.manage, with the reason.
    let attest = json!({ "item": "T1-2.4", "status": "satisfied", "reason": "患者相談窓口を1階に設置し、受付簿で管理している" });
    assert_eq!(auditor.post("/api/v1/governance/checklist/attestations", attest.clone()).await.status, 403, "the auditor only reads");
    let recorded = admin.post("/api/v1/governance/checklist/attestations", attest).await.expect(201, "attest");
    assert_eq!(recorded["attested"]["action"], "checklist_attest");
    let live = json!({ "item": "T2-3.4", "status": "satisfied", "reason": "訓練した" });
    assert_eq!(admin.post("/api/v1/governance/checklist/attestations", live).await.status, 422, "evidence kiroku sees is not attested");
    let empty = json!({ "item": "T1-2.5", "status": "satisfied", "reason": " " });
    assert_eq!(admin.post("/api/v1/governance/checklist/attestations", empty).await.status, 422, "a reason is required");
    let attested = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    let t124 = row(&attested, "T1-2.4");
    assert_eq!(t124["status"], "satisfied", "{t124}");
    assert!(t124["reason_ja"].as_str().is_some_and(|r| r.contains("admin") && r.contains("患者相談窓口")), "{t124}");

    // The sign-off names the report read; a changed report is refused.
    let hash = attested["report_hash"].as_str().expect("hash").to_string();
    let stale = auditor.post("/api/v1/governance/checklist/signoff", json!({ "report_hash": "0".repeat(64), "comment": "" })).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(
        admin.post("/api/v1/governance/checklist/signoff", json!({ "report_hash": hash })).await.status,
        403,
        "only the audit officer signs"
    );
    let signed = auditor
        .post("/api/v1/governance/checklist/signoff", json!({ "report_hash": hash, "comment": "確認済み" }))
        .await
        .expect(201, "sign off");
    assert_eq!(signed["signed_off"]["content_hash"], json!(hash));
    assert_eq!(signed["signed_off"]["user"], "kansa");
    let now = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(now["last_signoff"]["by"], "kansa");
    let trail = auditor.get("/api/v1/audit?action=checklist_signoff").await.expect(200, "audit");
    assert!(trail["events"][0]["detail"].as_str().is_some_and(|d| d.contains("確認済み") && d.contains("satisfied=")), "{trail}");

    // CSV for Excel: UTF-8 with a byte-order mark, one line per item.
    let csv = auditor
        .http
        .get(format!("{}/api/v1/governance/checklist.csv", server.base))
        .bearer_auth(auditor.token.clone().unwrap_or_default())
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/csv")));
    let bytes = csv.bytes().await.expect("bytes");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "BOM first");
    let lines = parse_csv(std::str::from_utf8(&bytes[3..]).expect("UTF-8"));
    assert_eq!(lines[0][0], "ID");
    assert_eq!(lines.len(), 1 + 80 + 18);
    assert!(lines.iter().all(|l| l.len() == lines[0].len()), "every line has every column");
    let csv_t234 = lines.iter().find(|l| l[0] == "T2-3.4").expect("T2-3.4 line");
    assert_eq!(csv_t234[5], "satisfied");
    assert_eq!(csv_t234[4], "充足");

    // OSCAL 1.1: the catalog, the class's profile and the assessment results, validated by trestle.
    let catalog = auditor.get("/api/v1/governance/oscal/catalog.json").await.expect(200, "catalog");
    let profile = auditor.get("/api/v1/governance/oscal/profile.json").await.expect(200, "profile");
    let results = auditor.get("/api/v1/governance/oscal/assessment-results.json").await.expect(200, "results");
    let findings = results["assessment-results"]["results"][0]["findings"].as_array().expect("findings");
    let f = findings.iter().find(|f| f["target"]["target-id"] == "t2-3.4_smt").expect("T2-3.4 finding");
    assert_eq!(f["target"]["status"]["state"], "satisfied");
    trestle_check(&catalog, &profile, &results);

    // The self-disclosure and the split document come from the same data.
    let disclosure = auditor.get("/api/v1/governance/disclosure").await.expect(200, "disclosure");
    let answers = disclosure["answers"].as_array().expect("answers");
    assert_eq!(answers.len(), 18);
    assert!(answers.iter().any(|a| a["id"] == "DS-11" && a["answer"] == "yes"), "the restore drill passed: {disclosure}");
    assert!(answers.iter().any(|a| a["id"] == "DS-07" && a["answer"] == "partly"), "no syslog forwarding configured");
    let split = auditor.get("/api/v1/governance/split").await.expect(200, "split");
    let items = split["items"].as_array().expect("items");
    assert_eq!(items.len(), 80);
    assert!(items.iter().any(|i| i["id"] == "T2-3.4" && i["kiroku_enforces"].as_array().is_some_and(|k| !k.is_empty())));
    let openapi = server.client().get("/api/openapi.json").await.expect(200, "openapi");
    assert!(openapi["paths"]["/api/v1/governance/checklist/signoff"]["post"].is_object());
}

/// Runs compliance-trestle over the documents (the script the governance crate's tests use too).
fn trestle_check(catalog: &Value, profile: &Value, results: &Value) {
    let dir = temp_dir();
    let mut paths = Vec::new();
    for (name, doc) in [("catalog.json", catalog), ("profile.json", profile), ("assessment-results.json", results)] {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(doc).expect("json")).expect("write");
        paths.push(p);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../kiroku-governance/tests/it/trestle_check.py");
    let Ok(out) = std::process::Command::new("python3").arg(script).args(&paths).output() else {
        kiroku_testkit::missing_peer("python3", "install python3 and `pip install compliance-trestle==3.12.4`");
        return;
    };
    if out.status.code() == Some(2) {
        kiroku_testkit::missing_peer("compliance-trestle", "pip install compliance-trestle==3.12.4");
        return;
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.trim_end().ends_with("ok"), "trestle refused the served documents:\n{text}");
}

/// The checklist reads the facility profile kept by the governance API (class C until one is
/// saved, then the profile's class decides which items apply) and counts the newest entry of a
/// ledger as the evidence of the operational items that name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_follows_the_facility_profile_and_the_ledgers() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let auditor = user(&server, &admin, "kansa", "auditor").await;
    let not_applicable = |c: &Value| -> Vec<String> {
        c["rows"].as_array().map_or_else(Vec::new, |r| {
            r.iter().filter(|x| x["status"] == "not_applicable").filter_map(|x| x["id"].as_str().map(str::to_string)).collect()
        })
    };

    let before = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(before["class"], "C", "no profile yet: a clinic is assumed");
    assert_eq!(finding(row(&before, "T1-2.1"), "facility_profile")["met"], "no");
    let profile = |class: &str| {
        json!({
            "facility_class": class,
            "facility_name": "記録総合病院",
            "people": {
                "operations_manager": "院長 山田太郎", "privacy_officer": "院長 山田太郎", "system_administrator": "佐藤花子",
                "audit_officer": "鈴木一郎", "information_manager": "高橋次郎",
            },
            "external_storage": false,
            "effective_date": "2026-04-01",
            "parameters": {},
        })
    };
    admin.send(reqwest::Method::PUT, "/api/v1/governance/profile", Some(profile("B")), &[]).await.expect(200, "profile B");
    let b = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(b["class"], "B", "the saved profile's class");
    assert_eq!(b["facility"], "記録総合病院");
    assert_eq!(finding(row(&b, "T1-2.1"), "facility_profile")["met"], "yes", "{}", row(&b, "T1-2.1"));
    assert_ne!(not_applicable(&before), not_applicable(&b), "class B and class C differ in which items apply");
    admin.send(reqwest::Method::PUT, "/api/v1/governance/profile", Some(profile("C")), &[]).await.expect(200, "profile C");
    let c = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(c["class"], "C");
    assert_eq!(not_applicable(&before), not_applicable(&c), "back to class C");

    // A complaint recorded in its ledger is the evidence of T1-2.4 (named by the ledger's real kind).
    assert_eq!(row(&c, "T1-2.4")["status"], "not");
    let today = kiroku_core::ledgers::jst_date(kiroku_core::Timestamp::now());
    let complaint = json!({ "fields": {
        "received_at": format!("{today}T09:00"), "kind": "complaint", "channel": "counter",
        "summary": "待ち時間の説明がなかった", "handler": "admin",
    }});
    admin.post("/api/v1/governance/ledgers/complaint", complaint).await.expect(201, "complaint");
    let after = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    let t124 = row(&after, "T1-2.4");
    assert_eq!(t124["status"], "satisfied", "{t124}");
    assert!(finding(t124, "ledger:complaint")["link"].as_str().is_some_and(|l| l.starts_with("/admin/governance/ledgers/complaint/")));
    // A take-out waiting for its approval is not evidence yet.
    let take_out = json!({ "fields": {
        "item": "USB", "purpose": "会議", "destination": "医師会", "out_on": today.to_string(), "due_on": today.to_string(), "safeguards": "暗号化",
    }});
    admin.post("/api/v1/governance/ledgers/take_out", take_out).await.expect(201, "take-out");
    let pending = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    assert_eq!(row(&pending, "T1-6.1")["status"], "not", "{}", row(&pending, "T1-6.1"));
}

/// The checklist page in a real browser: Japanese first, a row per item with its evidence, the filter,
/// the audit officer's sign-off, the English toggle, and the screenshot for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_page_in_a_real_browser() {
    use fantoccini::Locator;
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_EMERGENCY_CHECK_INTERVAL_SECONDS", "0")]);
    let admin = admin(&server).await;
    let (_auditor, auditor_pw) = account(&server, &admin, "kansa", "加藤 監査責任者", "auditor").await;
    let attest = json!({ "item": "T1-2.4", "status": "partly", "reason": "窓口はあるが受付簿が未整備" });
    admin.post("/api/v1/governance/checklist/attestations", attest).await.expect(201, "attest");
    let Some(b) = crate::web::browser(&server.base).await else { return };
    b.login("kansa", &auditor_pw).await;

    b.goto("/admin/governance/checklist").await;
    assert_eq!(b.text("h1").await, "安全管理ガイドライン チェックリスト");
    let t234 = b.d().find(Locator::Css("#row-T2-3\\.4")).await.expect("T2-3.4 row");
    assert_eq!(t234.attr("data-status").await.expect("attr").as_deref(), Some("not"));
    let t124 = b.text("#row-T1-2\\.4").await;
    assert!(t124.contains("一部充足") && t124.contains("受付簿が未整備"), "{t124}");
    assert!(b.text("#row-T1-4\\.2").await.contains("permission_matrix"), "evidence is linked from the row");
    assert!(b.text("#mhlw").await.contains("M-16"));
    b.shot("checklist").await;

    b.select("#status", "satisfied").await;
    b.click("#checklist-show").await;
    let rows = b.d().find_all(Locator::Css("#checklist tbody tr")).await.expect("rows");
    assert!(!rows.is_empty(), "some items are satisfied by kiroku itself");
    for r in rows {
        assert_eq!(r.attr("data-status").await.expect("attr").as_deref(), Some("satisfied"));
    }

    b.goto("/admin/governance/checklist").await;
    b.fill("#comment", "定期点検。未充足項目は次回までに対応").await;
    b.click("#sign-checklist").await;
    assert!(b.text("#checklist-notice").await.contains("記録しました"));
    let last = b.text("#last-signoff").await;
    assert!(last.contains("kansa") && last.contains("一致"), "{last}");

    b.goto("/admin/governance/disclosure").await;
    assert!(b.text("#disclosure").await.contains("DS-11"));
    b.goto("/lang/en?back=/admin/governance/checklist").await;
    assert_eq!(b.text("h1").await, "Safety-management guideline checklist");
    b.close().await;
}
