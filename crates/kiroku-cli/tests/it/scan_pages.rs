//! The scanning pages (T2-5.1 … T2-5.4) walked in headless Chromium, in Japanese: the scanning
//! officer sets a type's rule, a clerk registers a paper received from the patient's chart and
//! uploads its scan (a file below the rule's resolution refused in Japanese, the typed values kept;
//! a late scan refused until a reason is given), the officer signs the file with a PKCS#12 file
//! (a wrong password refused in Japanese), the file is stamped by the local test TSA and shows as
//! verified, the late item is on the overdue list, and an original is disposed of only with a
//! second officer's approval. `kiroku verify` then checks the store. Screenshots go to
//! docs/screenshots/.

use std::time::Duration;

use fantoccini::Locator;
use kiroku_core::scan::sample_png;
use kiroku_testkit::pki::{self, TestPki, TestTsa};

use crate::harness::*;
use crate::scan::day;
use crate::web::{Browser, browser};

/// Chooses a file in a file input (WebDriver takes the path as typed keys).
async fn choose_file(b: &Browser, css: &str, path: &std::path::Path) {
    let input = b.d().find(Locator::Css(css)).await.expect(css);
    input.send_keys(&path.display().to_string()).await.expect("choose file");
}

async fn value(b: &Browser, css: &str) -> String {
    b.d().find(Locator::Css(css)).await.expect(css).prop("value").await.expect("value").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_pages_in_a_real_browser() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let tsa = TestTsa::start(&pki);
    let ca = pki.ca_cert.display().to_string();
    let env = [
        ("KIROKU_TIMESTAMP_URLS", tsa.url.as_str()),
        ("KIROKU_TIMESTAMP_TRUST_ANCHORS", ca.as_str()),
        ("KIROKU_TIMESTAMP_INTERVAL_SECONDS", "1"),
        ("KIROKU_SIGNING_TRUST_ANCHORS", ca.as_str()),
    ];
    let data = dir.path().join("data");
    let mut server = Server::init_and_start(&data, &env);
    let admin_api = admin(&server).await;
    let (_o, officer_pw) = account(&server, &admin_api, "scan.mori", "森 情報作成管理者", "scan_officer").await;
    let (_o2, second_pw) = account(&server, &admin_api, "scan.abe", "阿部 情報作成管理者", "scan_officer").await;
    let (clerk, clerk_pw) = account(&server, &admin_api, "clerk.ito", "伊藤 事務", "clerk").await;
    create_patient(&clerk, "P1").await;

    // The files: one below the rule's 300 dpi, one in time, one of paper ten days old.
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let low = files.join("ecg-low.png");
    let good = files.join("ecg.png");
    let late = files.join("ecg-late.png");
    std::fs::write(&low, sample_png(true, 1240, 1754, 150)).expect("write");
    std::fs::write(&good, sample_png(true, 2480, 3508, 300)).expect("write");
    std::fs::write(&late, sample_png(true, 2480, 3508, 301)).expect("write");
    // The officer's key and certificate as a PKCS#12 file (PBES2/AES).
    let (key, cert) = (pki.signer_key.display().to_string(), pki.signer_cert.display().to_string());
    pki::openssl(&files, &["pkcs12", "-export", "-inkey", &key, "-in", &cert, "-passout", "pass:card-pin-1234", "-out", "officer.p12"]);
    let p12 = files.join("officer.p12");

    let Some(b) = browser(&server.base).await else { return };

    // The scanning officer sets the type's rule, then changes it (a new revision).
    b.login("scan.mori", &officer_pw).await;
    b.click("#nav-scan-types").await;
    assert!(b.main_text().await.contains("スキャン文書種別"));
    b.fill("#code", "ecg").await;
    b.fill("#name", "心電図").await;
    b.fill("#min_dpi", "300").await;
    b.select("#colour", "colour").await;
    b.fill("#deadline_days", "2").await;
    b.select("#original", "dispose").await;
    b.click("#save-type").await;
    assert!(b.text("#scan-notice").await.contains("保存しました"));
    b.click("#edit-ecg").await;
    b.fill("#deadline_days", "3").await;
    b.click("#save-type").await;
    let row = b.text("#type-ecg").await;
    assert!(row.contains("心電図") && row.contains("カラー") && row.contains("確認後に廃棄する"), "{row}");
    assert!(row.contains("scan.mori"), "who changed it: {row}");
    b.shot("scan_types").await;
    b.logout().await;

    // The clerk registers the paper received, from the patient's chart.
    b.login("clerk.ito", &clerk_pw).await;
    b.goto("/patients/P1").await;
    b.click("#scan-papers").await;
    b.select("#receive_type", "ecg").await;
    b.click("#receive-submit").await;
    assert!(b.text("#scan-notice").await.contains("受付を記録しました"));
    assert!(b.text("#scan-lines").await.contains("受付済み（未読取）"));
    let item = b.d().find(Locator::Css("#item option:nth-child(2)")).await.expect("received paper").attr("value").await.expect("attr");
    let item = item.expect("item id");

    // Its scan below the rule's resolution: refused in Japanese, the choices kept.
    b.select("#item", &item).await;
    choose_file(&b, "#file", &low).await;
    b.click("#upload-submit").await;
    let error = b.text("#scan-error").await;
    assert!(error.contains("解像度 150 dpi は規程の 300 dpi 未満です") && !error.contains("below"), "{error}");
    assert_eq!(value(&b, "#item").await, item, "the paper chosen is kept");
    b.shot("scan_refused").await;
    // The right file.
    choose_file(&b, "#file", &good).await;
    b.click("#upload-submit").await;
    assert!(b.text("#scan-notice").await.contains("取り込みました"));
    let good_item = b.path().await;
    assert!(good_item.ends_with(&item), "{good_item}");

    // Paper from ten days ago: refused without a reason (in Japanese, the date kept), then taken.
    b.click("#back-patient").await;
    b.select("#upload_type", "ecg").await;
    b.fill("#upload_date", &day(-10)).await;
    choose_file(&b, "#file", &late).await;
    b.click("#upload-submit").await;
    let error = b.text("#scan-error").await;
    assert!(error.contains("遅延理由") && error.contains("を過ぎています") && !error.contains("deadline"), "{error}");
    assert_eq!(value(&b, "#upload_date").await, day(-10), "the date typed is kept");
    b.fill("#late_reason", "外来混雑のため").await;
    choose_file(&b, "#file", &late).await;
    b.click("#upload-submit").await;
    assert!(b.text("#scan-notice").await.contains("取り込みました"));
    let late_item = b.path().await;
    b.shot("scan_patient").await;
    b.logout().await;

    // The officer signs the file: a wrong PKCS#12 password is refused in Japanese, then signed.
    b.login("scan.mori", &officer_pw).await;
    b.goto(&good_item).await;
    assert!(b.text("#no-signatures").await.contains("まだ電子署名がありません"));
    choose_file(&b, "#pkcs12", &p12).await;
    b.fill("#pkcs12_password", "wrong-pin").await;
    b.click("#sign-submit").await;
    let error = b.text("#scan-error").await;
    assert!(error.contains("PKCS#12 ファイルのパスワードが正しくありません"), "{error}");
    assert!(!b.d().source().await.expect("source").contains("wrong-pin"), "the password is not echoed back");
    choose_file(&b, "#pkcs12", &p12).await;
    b.fill("#pkcs12_password", "card-pin-1234").await;
    b.click("#sign-submit").await;
    assert!(b.text("#scan-notice").await.contains("電子署名を記録しました"));
    let table = b.text("#signatures").await;
    assert!(table.contains("有効") && table.contains("Test Doctor") && table.contains("scan.mori"), "{table}");
    // The file is stamped on its own; then the file, its signature and its stamp verify.
    let mut verified = false;
    for _ in 0..150 {
        b.goto(&good_item).await;
        let attr = b.d().find(Locator::Css("#file-verdict")).await.expect("verdict").attr("data-verified").await.expect("attr");
        if attr.as_deref() == Some("1") {
            verified = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(verified, "the file verifies: {}", b.main_text().await);
    let stamp = b.text("#stamp").await;
    assert!(stamp.contains("kiroku test TSA") && stamp.contains("有効"), "{stamp}");
    assert!(b.text("#file-intact").await.contains("ハッシュと一致"));
    b.shot("scan_verified").await;

    // The overdue list shows the late item, highlighted, with its reason; not the one in time.
    b.click("#nav-scan-overdue").await;
    let late_id = late_item.rsplit('/').next().expect("id").to_string();
    let row = b.d().find(Locator::Css(&format!("#item-{late_id}"))).await.expect("late row");
    assert_eq!(row.attr("class").await.expect("class").as_deref(), Some("late"));
    assert!(row.text().await.expect("text").contains("外来混雑のため"));
    assert!(b.d().find(Locator::Css(&format!("#item-{item}"))).await.is_err(), "the scan in time is not overdue");
    b.shot("scan_overdue").await;
    // The register, filtered to scanned ECGs of the patient.
    b.click("#nav-scan").await;
    b.fill("#patient", "P1").await;
    b.select("#type", "ecg").await;
    b.select("#state", "scanned").await;
    b.click("#scan-show").await;
    let lines = b.text("#scan-lines").await;
    assert!(lines.contains("署名済み") && lines.contains("タイムスタンプ済み") && lines.contains("期限超過"), "{lines}");
    b.shot("scan_register").await;

    // Originals: the officer asks for the disposal and cannot approve it too.
    b.click("#nav-scan-originals").await;
    b.click(&format!("#item-{item} button.request")).await;
    assert!(b.text("#scan-notice").await.contains("原本の記録を保存しました"));
    b.click(&format!("#item-{item} button.approve")).await;
    let error = b.text("#scan-error").await;
    assert!(error.contains("申請した本人以外の情報作成管理者が承認します") && !error.contains("disposal must"), "{error}");
    b.fill(&format!("#item-{late_id} input[name=location]"), "書庫B 棚3").await;
    b.click(&format!("#item-{late_id} button.keep")).await;
    b.logout().await;
    // A second officer approves.
    b.login("scan.abe", &second_pw).await;
    b.click("#nav-scan-originals").await;
    b.click(&format!("#item-{item} button.approve")).await;
    let row = b.text(&format!("#item-{item}")).await;
    assert!(row.contains("原本廃棄済み") && row.contains("申請者: scan.mori") && row.contains("承認者: scan.abe"), "{row}");
    assert!(b.text(&format!("#item-{late_id}")).await.contains("書庫B 棚3"));
    b.shot("scan_originals").await;
    b.close().await;

    server.stop();
    let out = kiroku(&data, &["verify"], &env);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
}
