//! Scanned paper (T2-5.1 … T2-5.4) end to end with the real binary, a local TSA and a test PKI:
//! the scanning officer sets a type's rule, a clerk's files that do not meet it are refused with
//! the reason, a late scan needs a reason and shows on the overdue list, each file is signed by its
//! operator and stamped on its own, disposal of the original follows its rules, `kiroku verify`
//! checks everything, and the offline export carries each file's .p7s and .tsr, which openssl
//! verifies against the file alone.

use std::time::Duration;

use kiroku_core::scan::sample_png;
use kiroku_testkit::pki::{self, TestPki, TestTsa};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// Uploads a scanned file; answers the response.
async fn upload(c: &Client, patient: &str, query: &str, bytes: Vec<u8>) -> Resp {
    let resp = c
        .http
        .post(format!("{}/api/v1/patients/{patient}/scans?{query}", c.base))
        .bearer_auth(c.token.clone().unwrap_or_default())
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null);
    Resp { status, headers, body }
}

pub(crate) fn day(offset: i64) -> String {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(9) + time::Duration::days(offset)).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanned_files_are_checked_signed_stamped_and_verifiable_alone() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let tsa = TestTsa::start(&pki);
    let data = dir.path().join("data");
    let ca = pki.ca_cert.display().to_string();
    let env = [
        ("KIROKU_TIMESTAMP_URLS", tsa.url.as_str()),
        ("KIROKU_TIMESTAMP_TRUST_ANCHORS", ca.as_str()),
        ("KIROKU_TIMESTAMP_INTERVAL_SECONDS", "1"),
        ("KIROKU_SIGNING_TRUST_ANCHORS", ca.as_str()),
    ];
    let mut server = Server::init_and_start(&data, &env);
    let admin = admin(&server).await;
    let officer = user(&server, &admin, "scan.mori", "scan_officer").await;
    let clerk = user(&server, &admin, "clerk.ito", "clerk").await;
    create_patient(&clerk, "P1").await;

    // The rule of a type is the scanning officer's, not the clerk's.
    let ecg = json!({ "name": "心電図", "colour": "colour", "original": "dispose" });
    let r = clerk.send(Method::PUT, "/api/v1/scan/types/ecg", Some(ecg.clone()), &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let t = officer.send(Method::PUT, "/api/v1/scan/types/ecg", Some(ecg), &[]).await.expect(200, "type");
    assert_eq!((t["type"]["min_dpi"].as_u64(), t["type"]["deadline_days"].as_u64()), (Some(300), Some(2)), "defaults: {t}");

    // Files that do not meet the rule are refused with the reason, never stored as a scan.
    let today = day(0);
    let q = |date: &str, extra: &str| format!("type=ecg&paper_date={date}&name=ecg.png{extra}");
    let r = upload(&clerk, "P1", &q(&today, ""), sample_png(true, 1240, 1754, 150)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("解像度 150 dpi は規程の 300 dpi 未満です") && detail.contains("below the rule's 300 dpi"), "{detail}");
    let r = upload(&clerk, "P1", &q(&today, ""), b"GIF89a\x01\x00".to_vec()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap_or_default().contains("not a PDF, PNG, JPEG or TIFF"), "{}", r.body);
    let register = clerk.get("/api/v1/scan/register").await.expect(200, "register");
    assert_eq!(register["items"].as_array().map(Vec::len), Some(0), "nothing refused was stored: {register}");

    // A scan in time, and one of paper from ten days ago: refused without a reason, then taken.
    let page = sample_png(true, 2480, 3508, 300);
    let scanned = upload(&clerk, "P1", &q(&today, ""), page.clone()).await.expect(201, "scan");
    assert_eq!((scanned["state"].as_str(), scanned["overdue"].as_bool()), (Some("scanned"), Some(false)), "{scanned}");
    let old = day(-10);
    let r = upload(&clerk, "P1", &q(&old, ""), sample_png(true, 2480, 3508, 301)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["field"], "late_reason", "{}", r.body);
    let late = upload(&clerk, "P1", &q(&old, "&late_reason=%E5%A4%96%E6%9D%A5%E6%B7%B7%E9%9B%91"), sample_png(true, 2480, 3508, 301))
        .await
        .expect(201, "late scan");
    assert_eq!(late["late_reason"], "外来混雑");
    let overdue = clerk.get("/api/v1/scan/overdue").await.expect(200, "overdue");
    let ids: Vec<&str> = overdue["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, vec![late["id"].as_str().expect("id")], "{overdue}");

    // The operator signs the file with their key; the file is stamped on its own.
    let file = &scanned["file"];
    let (doc, att) = (file["document_id"].as_str().expect("doc"), file["attachment_id"].as_str().expect("att"));
    let key = std::fs::read_to_string(&pki.signer_key).expect("key");
    let cert = std::fs::read_to_string(&pki.signer_cert).expect("cert");
    let signed = clerk
        .post(&format!("/api/v1/documents/{doc}/attachments/{att}/signatures"), json!({ "private_key_pem": key, "certificate_pem": cert }))
        .await
        .expect(201, "sign the file");
    assert_eq!(signed["attachment_id"], att);
    // Disposal: never by the clerk, never by the scanner, only once signed and stamped.
    let item = scanned["id"].as_str().expect("item");
    let dispose = json!({ "action": "dispose", "note": "照合済み" });
    let r = clerk.post(&format!("/api/v1/scan/items/{item}/original"), dispose.clone()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let mut stamped = Value::Null;
    for _ in 0..100 {
        stamped = clerk.get("/api/v1/scan/register?patient=P1").await.expect(200, "register");
        let all = stamped["items"].as_array().expect("items");
        if all.iter().all(|i| i["file"]["timestamped"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = stamped["items"].as_array().expect("items").iter().find(|i| i["id"] == item).expect("line").clone();
    assert_eq!((line["file"]["signed"].as_bool(), line["file"]["timestamped"].as_bool()), (Some(true), Some(true)), "{line}");
    let path = format!("/api/v1/scan/items/{}/original", late["id"].as_str().expect("id"));
    officer.post(&path, json!({ "action": "keep", "location": "書庫B" })).await.expect(200, "kept");
    let done = officer.post(&format!("/api/v1/scan/items/{item}/original"), dispose).await.expect(200, "disposal approved");
    assert_eq!(done["state"], "disposed");

    server.stop();
    let out = kiroku(&data, &["verify"], &env);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");

    // The offline export carries each file's signature and token; openssl checks each file alone.
    let folder = dir.path().join("export");
    let out = kiroku(&data, &["export", "patient", "P1", "--out", folder.to_str().expect("utf-8")], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sha = file["sha256"].as_str().expect("sha");
    let name = format!("{sha}.png");
    let files = folder.join("files");
    let p7s = format!("{name}.{}.p7s", signed["id"].as_str().expect("id"));
    for f in [&name, &p7s, &format!("{name}.tsr")] {
        assert!(files.join(f).exists(), "{f} exported");
    }
    let manifest = std::fs::read_to_string(folder.join("manifest.json")).expect("manifest");
    assert!(manifest.contains(&format!("files/{p7s}")) && manifest.contains(&format!("files/{name}.tsr")), "listed in the manifest");
    let html =
        std::fs::read_to_string(std::fs::read_dir(folder.join("patients")).expect("pages").next().expect("page").expect("entry").path())
            .expect("page");
    assert!(html.contains(&format!("../files/{p7s}")) && html.contains(&format!("../files/{name}.tsr")), "linked from the page");
    let (ok, why) = pki::openssl_status(
        &files,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &p7s,
            "-content",
            &name,
            "-CAfile",
            &ca,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "openssl cms -verify: {why}");
    let tsr = format!("{name}.tsr");
    let (ok, why) = pki::openssl_status(&files, &["ts", "-verify", "-data", &name, "-token_in", "-in", &tsr, "-CAfile", &ca]);
    assert!(ok, "openssl ts -verify: {why}");
    // The other file's token does not verify this file.
    let other = late["file"]["sha256"].as_str().expect("sha");
    let (ok, _) =
        pki::openssl_status(&files, &["ts", "-verify", "-data", &name, "-token_in", "-in", &format!("{other}.png.tsr"), "-CAfile", &ca]);
    assert!(!ok, "a token covers its own file only");
}
