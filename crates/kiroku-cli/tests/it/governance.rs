//! Governance against the real binary: the facility profile (validated, revisioned, audited) and
//! the generated 運用管理規程 for class B and C — no placeholder left, as HTML, as a DOCX that
//! unzips to a Word document with the article, as a PDF whose text pdftotext reads back — with its
//! approval by a second person and the diff after a parameter change.

use std::process::Command as Process;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

fn profile(class: &str, name: &str, audits: &str) -> Value {
    json!({
        "facility_class": class,
        "facility_name": name,
        "people": {
            "operations_manager": "院長 山田太郎", "privacy_officer": "院長 山田太郎", "system_administrator": "佐藤花子",
            "audit_officer": "鈴木一郎", "information_manager": "高橋次郎",
        },
        "external_storage": true,
        "effective_date": "2026-04-01",
        "parameters": { "audit_times_per_year": audits, "custodian_name": "株式会社きろく保管" },
    })
}

async fn approve(c: &Client, rev: i64, hash: &str) -> Resp {
    c.post(&format!("/api/v1/governance/regulation/{rev}/approve"), json!({ "content_hash": hash, "note": "情報システム管理委員会" })).await
}

/// The raw bytes of a download, with its content type.
async fn download(c: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let mut req = c.http.get(format!("{}{}", c.base, path));
    if let Some(t) = &c.token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, ctype, resp.bytes().await.expect("body").to_vec())
}

fn assert_no_placeholder(text: &str, what: &str) {
    for raw in ["○○", "XX", "ＸＸ", "・・・", "△△", "{", "}"] {
        // The standalone HTML has a stylesheet with braces; only its body text counts.
        let body = text.split("</style>").last().unwrap_or(text);
        assert!(!body.contains(raw), "{what}: placeholder {raw:?} left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regulation_is_generated_approved_and_downloaded_for_class_b_and_c() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::init_and_start(&data, &[]);
    let admin = admin(&server).await;
    let admin2 = user(&server, &admin, "admin.two", "admin").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;

    // Bad input is a problem naming the field; nothing is stored.
    let r = admin.send(Method::PUT, "/api/v1/governance/profile", Some(json!({ "facility_class": "B" })), &[]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let mut bad = profile("B", "記録総合病院", "2");
    bad["people"]["audit_officer"] = json!("  ");
    let r = admin.send(Method::PUT, "/api/v1/governance/profile", Some(bad), &[]).await;
    assert_eq!((r.status.as_u16(), r.body["field"].as_str()), (422, Some("people.audit_officer")), "{}", r.body);
    let mut bad = profile("B", "記録総合病院", "2");
    bad["parameters"]["confirmer"] = json!("XX");
    let r = admin.send(Method::PUT, "/api/v1/governance/profile", Some(bad), &[]).await;
    assert_eq!(r.status, 422, "a placeholder is not a value: {}", r.body);
    let r = admin.post("/api/v1/governance/regulation", json!(null)).await;
    assert_eq!(r.status, 409, "no profile yet: {}", r.body);
    let r = doctor.get("/api/v1/governance/profile").await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = auditor.send(Method::PUT, "/api/v1/governance/profile", Some(profile("B", "x", "1")), &[]).await;
    assert_eq!(r.status, 403, "auditors read only: {}", r.body);

    // Class B.
    let saved = admin.send(Method::PUT, "/api/v1/governance/profile", Some(profile("B", "記録総合病院", "2")), &[]).await;
    let saved = saved.expect(200, "save profile");
    assert_eq!(saved["revision"], json!(1));
    let got = auditor.get("/api/v1/governance/profile").await.expect(200, "read profile");
    assert_eq!(got["profile"]["facility_name"], json!("記録総合病院"));
    assert!(got["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "audit_times_per_year")));
    let first = admin.post("/api/v1/governance/regulation", json!(null)).await.expect(201, "generate");
    assert_eq!((first["revision"].as_i64(), first["profile_revision"].as_i64()), (Some(1), Some(1)));
    let hash1 = first["content_hash"].as_str().expect("hash").to_string();

    let (status, ctype, html) = download(&auditor, "/api/v1/governance/regulation/1/html").await;
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    let html = String::from_utf8(html).expect("utf-8");
    assert_no_placeholder(&html, "class B html");
    assert!(html.contains("この規程は、記録総合病院（以下「当院」という。）"), "facility name filled in");
    assert!(html.contains("毎年2回"), "parameter filled in");
    assert!(html.contains("<section id=\"T1-4.2\">") && html.contains("第一条"), "articles carry their catalogue IDs");

    let json_doc = auditor.get("/api/v1/governance/regulation/1/json").await.expect(200, "json");
    let chapters = json_doc["regulation"]["chapters"].as_array().expect("chapters");
    let articles: Vec<Value> = chapters.iter().flat_map(|c| c["articles"].as_array().cloned().unwrap_or_default()).collect();
    assert!(articles.iter().any(|a| a["item_id"] == "T2-1.3"), "a hospital's regulation has T2-1.3");

    let (status, ctype, docx) = download(&auditor, "/api/v1/governance/regulation/1/docx").await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    let docx_path = dir.path().join("r1.docx");
    std::fs::write(&docx_path, &docx).expect("write docx");
    let out = Process::new("unzip").arg("-p").arg(&docx_path).arg("word/document.xml").output();
    match out {
        Ok(out) if out.status.success() => {
            let xml = String::from_utf8(out.stdout).expect("xml utf-8");
            assert!(xml.starts_with("<?xml") && xml.contains("<w:document"), "a Word document");
            assert!(xml.contains("第一条（理念（基本方針と管理目的の表明））"), "the first article's heading is in the Word text");
            assert!(xml.contains("この規程は、記録総合病院（以下「当院」という。）"));
            assert!(!xml.contains("○○") && !xml.contains("XX") && !xml.contains("・・・") && !xml.contains('{'));
        }
        _ => kiroku_testkit::missing_peer("unzip", "apt-get install -y unzip"),
    }

    let (status, ctype, pdf) = download(&auditor, "/api/v1/governance/regulation/1/pdf").await;
    if cfg!(feature = "pdf") {
        assert_eq!((status, ctype.as_str()), (200, "application/pdf"), "{}", String::from_utf8_lossy(&pdf));
        check_pdf(dir.path(), &pdf);
    } else {
        // Built without typst: the download is refused with the reason, never a fake PDF.
        assert_eq!((status, ctype.as_str()), (501, "application/problem+json"), "{}", String::from_utf8_lossy(&pdf));
        eprintln!("\n*** PDF check skipped: built without the `pdf` feature (cargo test --features pdf) ***\n");
    }

    // Approval: not by the generator, not for another text, once, by a second administrator.
    assert_eq!(approve(&admin, 1, &hash1).await.status, 409, "the generator does not approve");
    assert_eq!(approve(&admin2, 1, &"0".repeat(64)).await.status, 409, "another text");
    assert_eq!(approve(&auditor, 1, &hash1).await.status, 403);
    let approved = approve(&admin2, 1, &hash1).await.expect(200, "approve");
    assert_eq!(approved["approval"]["approved_by"], json!("admin.two"));
    assert_eq!(approve(&admin2, 1, &hash1).await.status, 409, "once");

    // A parameter change, a new revision, and the diff names the changed article.
    admin.send(Method::PUT, "/api/v1/governance/profile", Some(profile("B", "記録総合病院", "4")), &[]).await.expect(200, "change");
    let second = admin.post("/api/v1/governance/regulation", json!(null)).await.expect(201, "regenerate");
    let changes = second["changes"].as_array().expect("changes");
    assert!(changes.iter().any(|c| c["before"].as_str().is_some_and(|t| t.contains("毎年2回"))), "{changes:?}");
    assert!(changes.iter().any(|c| c["after"].as_str().is_some_and(|t| t.contains("毎年4回"))), "{changes:?}");
    assert!(changes.iter().all(|c| !c["after"].as_str().unwrap_or("").contains("施行")), "only what changed");
    let list = auditor.get("/api/v1/governance/regulation").await.expect(200, "list");
    let revs = list["revisions"].as_array().expect("revisions");
    assert_eq!(
        revs.iter().map(|r| (r["revision"].as_i64(), r["approval"].is_null())).collect::<Vec<_>>(),
        vec![(Some(2), true), (Some(1), false)]
    );

    // Class C: the clinic's texts.
    admin.send(Method::PUT, "/api/v1/governance/profile", Some(profile("C", "きろくクリニック", "1")), &[]).await.expect(200, "class C");
    let third = admin.post("/api/v1/governance/regulation", json!(null)).await.expect(201, "generate C");
    let (_, _, html) = download(&admin, &format!("/api/v1/governance/regulation/{}/html", third["revision"])).await;
    let html = String::from_utf8(html).expect("utf-8");
    assert_no_placeholder(&html, "class C html");
    assert!(html.contains("当クリニックに運用責任者、個人情報保護責任者及びシステム管理者を置き"));
    assert!(!html.contains("id=\"T2-1.3\""), "T2-1.3 is for large and medium hospitals");

    // Every profile change is audited with its hash, for the auditor to see.
    let events = auditor.get("/api/v1/audit?action=governance_profile_change&outcome=success&limit=100").await.expect(200, "audit");
    let events = events["events"].as_array().expect("events");
    assert_eq!(events.len(), 3, "three saved revisions (the refused ones are not changes)");
    assert!(events.iter().all(|e| e["user"] == "admin" && e["content_hash"].as_str().is_some_and(|h| h.len() == 64)));
    let approvals = auditor.get("/api/v1/audit?action=regulation_approve&limit=10").await.expect(200, "audit");
    assert_eq!(approvals["events"][0]["user"], json!("admin.two"));

    // The records are leaves of the log: the whole store verifies.
    server.stop();
    let out = kiroku(&data, &["verify"], &[]);
    assert!(out.status.success(), "verify: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// The PDF opens and pdftotext reads the title, the article numbers and an article's text back.
fn check_pdf(dir: &std::path::Path, pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"));
    let pdf_path = dir.join("r1.pdf");
    std::fs::write(&pdf_path, pdf).expect("write pdf");
    match Process::new("pdftotext").arg("-enc").arg("UTF-8").arg(&pdf_path).arg("-").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8(out.stdout).expect("text utf-8");
            let flat: String = text.split_whitespace().collect();
            assert!(flat.contains("記録総合病院医療情報システム運用管理規程"), "the title: {}", text.chars().take(200).collect::<String>());
            assert!(flat.contains("第一条"), "article numbers");
            assert!(flat.contains("個人情報を記した媒体の廃棄に当たっては"), "an article's Japanese text is readable");
            assert!(!flat.contains("○○") && !flat.contains("XX"));
        }
        _ => kiroku_testkit::missing_peer("pdftotext (poppler-utils)", "apt-get install -y poppler-utils"),
    }
}

/// The profile and regulation pages in a real browser: save the profile, generate, see the
/// articles, approve as a second administrator; screenshots for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_pages_in_a_real_browser() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let Some(b) = crate::web::browser(&server.base).await else { return };
    b.first_login("admin", ADMIN_PASSWORD).await;
    let initial = b.create_user("admin.two", "副管理者", "admin").await;

    b.goto("/admin/governance/regulation").await;
    assert!(b.text("#no-profile").await.contains("施設情報がまだ登録されていません"));
    b.click("#to-profile").await;
    b.select("#facility_class", "C").await;
    b.fill("#facility_name", "きろくクリニック").await;
    for (field, name) in [
        ("#operations_manager", "院長 山田太郎"),
        ("#privacy_officer", "院長 山田太郎"),
        ("#system_administrator", "佐藤花子"),
        ("#audit_officer", "鈴木一郎"),
        ("#information_manager", "高橋次郎"),
    ] {
        b.fill(field, name).await;
    }
    b.fill("#effective_date", "2026-04-01").await;
    b.fill("#p_audit_times_per_year", "2").await;
    b.click("#save-profile").await;
    assert!(b.text("#governance-notice").await.contains("保存しました"));
    assert!(b.text("#profile-revision").await.contains("版 1"));
    b.shot("governance-profile").await;

    b.click("#to-regulation").await;
    b.click("#generate").await;
    assert!(b.text("#governance-notice").await.contains("生成しました"));
    let text = b.text("#regulation").await;
    assert!(text.contains("きろくクリニック 医療情報システム運用管理規程") && text.contains("第一条"), "{text}");
    assert!(text.contains("毎年2回") && !text.contains("○○") && !text.contains("XX"), "{text}");
    assert!(b.text("#revisions").await.contains("未承認"));
    b.shot("governance-regulation").await;
    b.logout().await;

    b.first_login("admin.two", &initial).await;
    b.goto("/admin/governance/regulation").await;
    b.fill("#note", "院内会議で確認").await;
    b.click("#approve").await;
    assert!(b.text("#governance-notice").await.contains("承認しました"));
    assert!(b.text("#revisions").await.contains("admin.two"));
    b.close().await;
}

/// The text pdftotext reads from a PDF, with whitespace removed (Japanese lines wrap anywhere), or
/// `None` after a loud skip when poppler-utils is absent (a failure under CI=true).
fn pdf_text(dir: &std::path::Path, name: &str, pdf: &[u8]) -> Option<String> {
    let path = dir.join(name);
    std::fs::write(&path, pdf).expect("write pdf");
    match Process::new("pdftotext").arg("-enc").arg("UTF-8").arg(&path).arg("-").output() {
        Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).expect("text utf-8").split_whitespace().collect()),
        _ => {
            kiroku_testkit::missing_peer("pdftotext (poppler-utils)", "apt-get install -y poppler-utils");
            None
        }
    }
}

/// The PDF/A downloads through the API: the class B regulation (its articles, the facility, the
/// revision history and the approval record; no placeholder) and the checklist (its items and the
/// audit officer's sign-off). Built without the `pdf` feature both answer 501 not-built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regulation_and_checklist_download_as_pdf_a() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let admin2 = user(&server, &admin, "admin.two", "admin").await;
    let auditor = user(&server, &admin, "audit.kato", "auditor").await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    admin.send(Method::PUT, "/api/v1/governance/profile", Some(profile("B", "記録総合病院", "2")), &[]).await.expect(200, "profile");
    let first = admin.post("/api/v1/governance/regulation", json!(null)).await.expect(201, "generate");
    let hash = first["content_hash"].as_str().expect("hash").to_string();
    approve(&admin2, 1, &hash).await.expect(200, "approve");

    let (status, ctype, pdf) = download(&auditor, "/api/v1/governance/regulation/1/pdf").await;
    let (c_status, c_ctype, c_pdf) = download(&auditor, "/api/v1/governance/checklist.pdf").await;
    if !cfg!(feature = "pdf") {
        for (status, ctype, body) in [(status, ctype, pdf), (c_status, c_ctype, c_pdf)] {
            assert_eq!((status, ctype.as_str()), (501, "application/problem+json"));
            let problem: Value = serde_json::from_slice(&body).expect("problem");
            assert!(problem["type"].as_str().is_some_and(|t| t.ends_with("/not-built")), "{problem}");
        }
        eprintln!("\n*** PDF check skipped: built without the `pdf` feature ***\n");
        return;
    }
    assert_eq!((status, ctype.as_str()), (200, "application/pdf"), "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-") && String::from_utf8_lossy(&pdf).contains("pdfaid:part"), "a PDF/A file");
    if let Some(text) = pdf_text(dir.path(), "regulation.pdf", &pdf) {
        let head: String = text.chars().take(300).collect();
        assert!(text.contains("記録総合病院医療情報システム運用管理規程"), "the facility's title: {head}");
        assert!(text.contains("この規程は、記録総合病院（以下「当院」という。）"), "the facility name in an article: {head}");
        assert!(text.contains("第一条（理念（基本方針と管理目的の表明））"), "the first article's heading: {head}");
        assert!(text.contains("個人情報を記した媒体の廃棄に当たっては"), "an article's Japanese text");
        assert!(text.contains("T1-4.2") && text.contains("T2-1.3"), "articles carry their catalogue IDs");
        assert!(text.contains("毎年2回"), "a parameter filled in");
        assert!(text.contains("改訂履歴") && text.contains("承認記録"), "revision history and approval record");
        assert!(text.contains("admin.two") && text.contains("情報システム管理委員会"), "the approver and the note");
        assert!(text.contains(&hash), "the approved hash");
        for placeholder in ["○○", "XX", "ＸＸ", "△△"] {
            assert!(!text.contains(placeholder), "placeholder {placeholder} left in the PDF");
        }
    }

    // The checklist: refused without governance.read; with the sign-off once it exists.
    let (status, ctype, _) = download(&doctor, "/api/v1/governance/checklist.pdf").await;
    assert_eq!((status, ctype.as_str()), (403, "application/problem+json"));
    let (status, _, _) = download(&auditor, "/api/v1/governance/checklist.pdf?status=bogus").await;
    assert_eq!(status, 422);
    assert_eq!((c_status, c_ctype.as_str()), (200, "application/pdf"), "{}", String::from_utf8_lossy(&c_pdf));
    if let Some(text) = pdf_text(dir.path(), "checklist.pdf", &c_pdf) {
        assert!(text.contains("安全管理ガイドラインチェックリスト"), "the title");
        assert!(text.contains("T1-4.2") && text.contains("T2-3.4"), "items by their IDs");
        assert!(text.contains("未充足"), "a status");
        assert!(text.contains("まだ確認されていません"), "no sign-off yet");
    }
    let report = auditor.get("/api/v1/governance/checklist").await.expect(200, "checklist");
    let body = json!({ "report_hash": report["report_hash"], "comment": "確認済み" });
    auditor.post("/api/v1/governance/checklist/signoff", body).await.expect(201, "sign-off");
    let (status, _, c_pdf) = download(&auditor, "/api/v1/governance/checklist.pdf?table=2").await;
    assert_eq!(status, 200);
    if let Some(text) = pdf_text(dir.path(), "checklist-t2.pdf", &c_pdf) {
        assert!(text.contains("T2-3.4") && !text.contains("T1-4.2"), "only table 2");
        assert!(text.contains("audit.kato"), "the sign-off's officer");
    }
    let openapi = server.client().get("/api/openapi.json").await.expect(200, "openapi");
    assert!(openapi["paths"]["/api/v1/governance/checklist.pdf"]["get"].is_object());
}
