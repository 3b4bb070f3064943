//! The offline-readable export (T2-2.4), end to end: records written through the API (confirmed,
//! amended, proxy-approved, deleted, with an attached file), exported by `kiroku export` while the
//! server runs, the folder checked file by file, the audit trail read back, `kiroku export verify`
//! refusing a changed byte, a missing file and an added one, and the pages read in headless
//! Chromium straight from disk (file://).

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::*;

const PDF: &[u8] = b"%PDF-1.4\n% kiroku offline export test\n";

/// What the records made through the API are, for the checks.
struct Records {
    amended: String,
    proxy: String,
    deleted: String,
    auditor: Client,
}

/// Two patients; for the first: a note confirmed with a file and then amended, a proxy entry
/// approved by the named doctor, a deleted note and a draft.
async fn make_records(server: &Server) -> Records {
    let admin = admin(server).await;
    let (doctor, _) = account(server, &admin, "dr.sato", "佐藤 一郎", "doctor").await;
    let (other, _) = account(server, &admin, "dr.suzuki", "鈴木 二郎", "doctor").await;
    let (clerk, _) = account(server, &admin, "clerk.ito", "伊藤 事務", "clerk").await;
    let auditor = user(server, &admin, "audit.kato", "auditor").await;
    create_patient(&clerk, "P0001").await;
    clerk
        .post(
            "/api/v1/patients",
            json!({ "patient_id": "0002", "name": "鈴木 花子", "name_kana": "スズキ ハナコ", "birth_date": "1985-01-02", "sex": "female" }),
        )
        .await
        .expect(201, "second patient");

    let draft = doctor.post("/api/v1/patients/P0001/documents", note("初診。咳嗽あり。")).await.expect(201, "draft");
    let amended = draft["id"].as_str().expect("id").to_string();
    let upload = doctor
        .http
        .post(format!("{}/api/v1/documents/{amended}/attachments?name=%E6%A4%9C%E6%9F%BB%E7%B5%90%E6%9E%9C.pdf", server.base))
        .bearer_auth(doctor.token.as_deref().expect("token"))
        .header("content-type", "application/pdf")
        .body(PDF)
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201, "attach 検査結果.pdf");
    doctor.send(Method::POST, &format!("/api/v1/documents/{amended}/confirm"), None, &[("if-match", "\"1\"")]).await.expect(200, "confirm");
    other
        .send(
            Method::PUT,
            &format!("/api/v1/documents/{amended}"),
            Some(json!({ "body": { "text": "初診。咳嗽あり。発熱なし。" }, "reason": "所見の追記" })),
            &[("if-match", "\"1\"")],
        )
        .await
        .expect(200, "amend");

    let mut entry = note("処方内容を代行入力");
    entry["on_behalf_of"] = json!("dr.sato");
    let proxy = clerk.post("/api/v1/patients/P0001/documents", entry).await.expect(201, "proxy entry");
    let proxy = proxy["id"].as_str().expect("id").to_string();
    doctor.post(&format!("/api/v1/documents/{proxy}/approve"), json!({})).await.expect(200, "approve");

    let wrong = doctor.post("/api/v1/patients/P0001/documents", note("別患者の記録を誤って入力")).await.expect(201, "note");
    let deleted = wrong["id"].as_str().expect("id").to_string();
    doctor.post(&format!("/api/v1/documents/{deleted}/confirm"), json!({})).await.expect(200, "confirm");
    doctor
        .send(Method::DELETE, &format!("/api/v1/documents/{deleted}"), Some(json!({ "reason": "別患者の記録" })), &[])
        .await
        .expect(200, "delete");
    doctor.post("/api/v1/patients/P0001/documents", note("書きかけのメモ")).await.expect(201, "draft left open");
    Records { amended, proxy, deleted, auditor }
}

fn run(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = kiroku(data, args, env);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every relative path below `dir`.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("below").to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// The page of the patient the index links to.
fn patient_page(out: &Path, patient_id: &str) -> PathBuf {
    let index = read(&out.join("index.html"));
    let marker = format!("id=\"patient-{patient_id}\"");
    let at = index.find(&marker).unwrap_or_else(|| panic!("index links {patient_id}"));
    let href = index[..at].rsplit("href=\"").next().and_then(|h| h.split('"').next()).expect("href");
    out.join(href)
}

/// The folder as a whole: self-contained (no script, no external address), every file in the
/// manifest with its hash, and the manifest saying what the export is.
fn check_folder(out: &Path, patients: u64) -> Value {
    assert!(!out.join("EXPORT-INCOMPLETE.txt").exists(), "a finished export has no incomplete marker");
    let manifest: Value = serde_json::from_str(&read(&out.join("manifest.json"))).expect("manifest json");
    assert_eq!(manifest["format"], "kiroku-export/1");
    assert_eq!(manifest["kiroku_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["patients"], patients);
    assert!(manifest["log"]["tree_size"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(manifest["log"]["root"].as_str().map(str::len), Some(64));
    let listed: Vec<String> =
        manifest["files"].as_array().expect("files").iter().map(|f| f["path"].as_str().expect("path").to_string()).collect();
    let mut present = files_below(out);
    present.retain(|p| p != "manifest.json");
    assert_eq!(listed, present, "the manifest lists every file, and only those");
    for f in manifest["files"].as_array().expect("files") {
        let bytes = std::fs::read(out.join(f["path"].as_str().expect("path"))).expect("listed file");
        assert_eq!(f["sha256"], sha256(&bytes), "{}", f["path"]);
        assert_eq!(f["size"], bytes.len() as u64);
        let path = f["path"].as_str().unwrap_or_default();
        if path.ends_with(".html") || path.ends_with(".css") {
            let text = String::from_utf8(bytes).expect("utf-8");
            for forbidden in ["<script", "http://", "https://", "src=\"//", "href=\"//", "@import", "url("] {
                assert!(!text.contains(forbidden), "{path} must be self-contained, found {forbidden}");
            }
        }
    }
    let sums = read(&out.join("SHA256SUMS"));
    assert_eq!(sums.lines().count(), listed.len() - 1, "SHA256SUMS covers every file but itself");
    manifest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_a_folder_a_browser_reads_without_a_server() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::init_and_start(&data, &[]);
    let r = make_records(&server).await;

    // One patient, while the server keeps running.
    let one = dir.path().join("one");
    let (code, stdout, stderr) = run(&data, &["export", "patient", "P0001", "--out", one.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 0, "export patient: {stdout} {stderr}");
    assert!(stdout.contains("exported 1 patients, 4 documents"), "{stdout}");
    check_folder(&one, 1);
    let page = read(&patient_page(&one, "P0001"));
    for expected in [
        "山田 太郎",
        "ヤマダ タロウ",
        "1970-04-01",
        "初診。咳嗽あり。",
        "初診。咳嗽あり。発熱なし。",
        "所見の追記",
        "佐藤 一郎（dr.sato）",
        "鈴木 二郎（dr.suzuki）",
        "伊藤 事務（clerk.ito）",
        "代行入力の承認者",
        "処方内容を代行入力",
        "この文書は論理削除されています（理由: 別患者の記録）",
        "別患者の記録を誤って入力",
        "書きかけのメモ",
        "未確定",
        "検査結果.pdf",
        "（日本時間）",
    ] {
        assert!(page.contains(expected), "the patient page shows {expected}");
    }
    for id in [&r.amended, &r.proxy, &r.deleted] {
        assert!(page.contains(&format!("id=\"doc-{id}\"")), "document {id} has its section");
    }
    assert!(
        page.contains(&format!("id=\"doc-{}-v2\"", r.amended)) && page.contains(&format!("id=\"doc-{}-v1\"", r.amended)),
        "both versions"
    );
    let file = format!("files/{}.pdf", sha256(PDF));
    assert!(page.contains(&format!("href=\"../{file}\"")), "the attachment links to its copy by a relative, content-addressed name");
    assert_eq!(std::fs::read(one.join(&file)).expect("copied file"), PDF);

    // The JSON copy: documented shape, and every version's content hashes to its content_hash.
    let json_path = files_below(&one).into_iter().find(|p| p.starts_with("data/")).expect("json copy");
    let copy: Value = serde_json::from_str(&read(&one.join(json_path))).expect("json");
    assert_eq!(copy["format"], "kiroku-patient-record/1");
    assert_eq!(copy["patient"]["patient_id"], "P0001");
    assert_eq!(copy["people"]["dr.sato"], "佐藤 一郎");
    let docs = copy["documents"].as_array().expect("documents");
    assert_eq!(docs.len(), 4);
    let amended = docs.iter().find(|d| d["id"] == json!(r.amended)).expect("amended document");
    assert_eq!(amended["versions"][1]["content"]["reason"], "所見の追記");
    assert_eq!(amended["versions"][0]["confirmed_by"], "dr.sato");
    assert_eq!(amended["attachments"][0]["file"], json!(file));
    let proxy = docs.iter().find(|d| d["id"] == json!(r.proxy)).expect("proxy document");
    assert_eq!(
        (proxy["versions"][0]["content"]["entered_by"].as_str(), proxy["versions"][0]["approved_by"].as_str()),
        (Some("clerk.ito"), Some("dr.sato"))
    );
    for d in docs {
        for v in d["versions"].as_array().expect("versions") {
            let hash = kiroku_core::hash::ContentHash::of_json(&v["content"]).to_hex();
            assert_eq!(v["content_hash"].as_str(), Some(hash.as_str()), "content_hash covers content");
        }
    }

    // Everyone, one at a time; each read is a record_export event of the console operator.
    let all = dir.path().join("all");
    let (code, stdout, stderr) = run(&data, &["export", "all", "--out", all.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 0, "export all: {stdout} {stderr}");
    assert!(stderr.is_empty(), "quiet when not on a terminal: {stderr}");
    check_folder(&all, 2);
    let index = read(&all.join("index.html"));
    for expected in ["P0001", "0002", "鈴木 花子", "スズキ ハナコ", "女", "kiroku export verify", "sha256sum -c SHA256SUMS", "出力元"]
    {
        assert!(index.contains(expected), "the index shows {expected}");
    }
    assert!(all.join("patients/0002.html").is_file(), "an ID without capitals is its own file name");
    let events = r.auditor.get("/api/v1/audit?action=record_export&limit=100").await.expect(200, "audit");
    let events = events["events"].as_array().expect("events").clone();
    let for_patient = |p: &str| events.iter().filter(|e| e["patient_id"] == json!(p)).count();
    assert_eq!((for_patient("P0001"), for_patient("0002")), (2, 1), "one event per patient exported: {events:?}");
    let e = events.iter().find(|e| e["patient_id"] == json!("P0001")).expect("event");
    assert_eq!((e["user"].as_str(), e["outcome"].as_str()), (Some("kiroku-cli"), Some("success")));
    assert!(e["session"].as_str().is_some_and(|s| s.starts_with("cli:")), "the OS user is recorded: {e}");
    assert_eq!(e["detail"], "documents=4 versions=6 attachments=1");

    // A folder that is not empty is refused; a previous export is replaced only on purpose.
    let (code, _, stderr) = run(&data, &["export", "all", "--out", all.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("is not empty") && stderr.contains("--force"), "{stderr}");
    let (code, stdout, stderr) = run(&data, &["export", "all", "--out", all.to_str().expect("utf-8"), "--force"], &[]);
    assert_eq!(code, 0, "replace on purpose: {stdout} {stderr}");
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    std::fs::write(foreign.join("大切な資料.docx"), b"x").expect("write");
    let (code, _, stderr) = run(&data, &["export", "all", "--out", foreign.to_str().expect("utf-8"), "--force"], &[]);
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(stderr.contains("is not a kiroku export"), "{stderr}");
    assert!(foreign.join("大切な資料.docx").exists(), "nothing of anyone else's is removed");

    // Bad input: exit 2 with one line.
    for (args, reason) in [
        (vec!["export", "patient", "NOPE", "--out"], "no patient with the ID NOPE"),
        (vec!["export", "patient", "../x", "--out"], "patient_id"),
    ] {
        let target = dir.path().join("bad");
        let mut args = args.clone();
        let t = target.to_string_lossy().into_owned();
        args.push(&t);
        let (code, _, stderr) = run(&data, &args, &[]);
        assert_eq!((code, stderr.lines().count()), (2, 1), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }

    // verify: clean, then a changed byte, a missing file and an added file, each named.
    let verify = |out: &Path| run(&data, &["export", "verify", out.to_str().expect("utf-8")], &[]);
    let (code, stdout, _) = verify(&all);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("OK: all"), "{stdout}");
    let page_path = patient_page(&all, "P0001");
    let rel_page = page_path.strip_prefix(&all).expect("below").to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&page_path).expect("page");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&page_path, &bytes).expect("tamper");
    let (code, stdout, _) = verify(&all);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(&format!("changed: {rel_page}")), "{stdout}");
    std::fs::remove_file(all.join(&file)).expect("remove the copied file");
    std::fs::write(all.join("patients/extra.html"), "<p>added later</p>").expect("add");
    let (code, stdout, _) = verify(&all);
    assert_eq!(code, 1);
    assert!(stdout.contains(&format!("missing: {file}")), "{stdout}");
    assert!(stdout.contains("not in the manifest: patients/extra.html"), "{stdout}");
    let (code, _, stderr) = verify(&dir.path().join("nowhere"));
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");

    // A file gone from the file store: the export still finishes, names it on the page, and says so
    // with exit 1.
    let hash = sha256(PDF);
    std::fs::remove_file(data.join("blobs").join(&hash[0..2]).join(&hash[2..4]).join(&hash)).expect("remove the stored file");
    let gap = dir.path().join("gap");
    let (code, _, stderr) = run(&data, &["export", "patient", "P0001", "--out", gap.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("attached file not exported") && stderr.contains("検査結果.pdf"), "{stderr}");
    assert!(read(&patient_page(&gap, "P0001")).contains("ファイルが保存場所に見つからないため、出力していません。"));
    assert!(read(&gap.join("index.html")).contains("出力できなかった添付ファイルがあります"));
    assert_eq!(run(&data, &["export", "verify", gap.to_str().expect("utf-8")], &[]).0, 0, "the folder itself is whole");

    // The browser, from disk: the index, the link to the patient, a confirmed text and its history.
    let Some(browser) = crate::web::browser("file://").await else { return };
    browser.goto(&one.join("index.html").to_string_lossy()).await;
    assert!(browser.main_text().await.contains("山田 太郎"));
    browser.click("#patient-P0001").await;
    let text = browser.main_text().await;
    assert!(
        text.contains("初診。咳嗽あり。発熱なし。") && text.contains("初診。咳嗽あり。"),
        "both versions of the amended note are readable"
    );
    let history = browser.text(&format!("#doc-{} table.history", r.amended)).await;
    assert!(history.contains("第2版") && history.contains("第1版") && history.contains("所見の追記"), "{history}");
    assert!(history.contains("鈴木 二郎（dr.suzuki）"), "the amendment's confirmer: {history}");
    // The stylesheet is applied from disk despite the page's CSP.
    let banner = browser.d().find(fantoccini::Locator::Css(".patient-banner")).await.expect("banner");
    let display = banner.css_value("display").await.expect("css");
    assert_eq!(display, "flex", "style.css applies from file://");
    browser.shot("offline-export").await;
    browser.close().await;
    drop(server);
}

/// The same export on PostgreSQL: the commands, paging and SQL are shared, the database is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_works_on_postgresql() {
    let Some(url) = kiroku_testkit::pg_url() else { return };
    let db = format!("kiroku_e2e_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&url).await.expect("connect postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&pool).await.expect("create database");
    let db_url = match url.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{db}"),
        None => panic!("unexpected KIROKU_TEST_PG_URL {url}"),
    };
    let env = [("KIROKU_DATABASE_URL", db_url.as_str())];
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::init_and_start(&data, &env);
    let r = make_records(&server).await;
    let out = dir.path().join("all");
    let (code, stdout, stderr) = run(&data, &["export", "all", "--out", out.to_str().expect("utf-8")], &env);
    assert_eq!(code, 0, "export all on postgres: {stdout} {stderr}");
    let manifest = check_folder(&out, 2);
    assert!(manifest["source"].as_str().is_some_and(|s| s.contains("PostgreSQL") && !s.contains("postgres://")), "{}", manifest["source"]);
    let page = read(&patient_page(&out, "P0001"));
    assert!(page.contains("初診。咳嗽あり。発熱なし。") && page.contains(&format!("id=\"doc-{}-v1\"", r.amended)));
    let (code, stdout, _) = run(&data, &["export", "verify", out.to_str().expect("utf-8")], &[]);
    assert_eq!(code, 0, "{stdout}");
    drop(server);
}
