//! The ledger pages (台帳) in a real browser: entries recorded in three ledgers through forms
//! generated from their field definitions, a refused input shown in Japanese with the typed values
//! kept, a take-out that needs an approval refused for the person who requested it and approved by
//! a second administrator, a file attached and read back, the list's filter, the periodic duties
//! with an overdue one highlighted and the staff's training, the English toggle, and screenshots.

use fantoccini::Locator;
use serde_json::json;

use crate::harness::*;
use crate::web::{Browser, browser};

/// Sets an input's value directly: date and time inputs take typed keys by the locale's format.
async fn set(b: &Browser, css: &str, value: &str) {
    b.d().execute("document.querySelector(arguments[0]).value = arguments[1];", vec![json!(css), json!(value)]).await.expect(css);
}

/// Ticks a checkbox (a click that does not navigate).
async fn tick(b: &Browser, css: &str) {
    b.d().find(Locator::Css(css)).await.expect(css).click().await.expect("tick");
}

async fn attr(b: &Browser, css: &str, name: &str) -> String {
    b.d().find(Locator::Css(css)).await.expect(css).attr(name).await.expect("attr").unwrap_or_default()
}

async fn value(b: &Browser, css: &str) -> String {
    b.d().find(Locator::Css(css)).await.expect(css).prop("value").await.expect("value").unwrap_or_default()
}

fn today() -> String {
    kiroku_core::ledgers::jst_date(kiroku_core::Timestamp::now()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_pages_in_a_real_browser() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[("KIROKU_EMERGENCY_CHECK_INTERVAL_SECONDS", "0")]);
    let admin_api = admin(&server).await;
    let (_sato, sato_pw) = account(&server, &admin_api, "sys.sato", "佐藤 管理者", "admin").await;
    let (_ito, ito_pw) = account(&server, &admin_api, "sys.ito", "伊藤 管理者", "admin").await;
    let Some(b) = browser(&server.base).await else { return };
    b.login("sys.sato", &sato_pw).await;

    // The index from the menu: every ledger, none recorded yet.
    b.click("#nav-ledgers").await;
    assert_eq!(b.text("h1").await, "台帳");
    assert!(b.text("#ledger-take_out").await.contains("持ち出し申請・返却記録"));
    assert!(b.text("#ledger-take_out").await.contains("承認が必要"));
    assert_eq!(b.text("#count-visitor").await, "0");
    assert!(b.text("#pending-none").await.contains("承認待ちの記録はありません"));

    // 1. A visitor: a host who has no account is refused by name, in Japanese, the typed values kept.
    b.click("#new-visitor").await;
    assert_eq!(attr(&b, "#f_entered_at", "type").await, "datetime-local", "typed inputs from the field definitions");
    b.fill("#f_visitor", "山本 保守員").await;
    b.fill("#f_organisation", "株式会社きろく保守").await;
    b.fill("#f_purpose", "サーバ室の空調点検").await;
    b.fill("#f_area", "サーバ室").await;
    b.fill("#f_host", "nobody.here").await;
    set(&b, "#f_entered_at", &format!("{}T10:30", today())).await;
    b.shot("ledger_form").await;
    b.click("#save-entry").await;
    let error = b.text("#ledger-error").await;
    assert!(error.contains("対応者") && error.contains("nobody.here") && error.contains("登録されている利用者ID"), "{error}");
    assert_eq!(value(&b, "#f_purpose").await, "サーバ室の空調点検", "the typed values are kept");
    assert_eq!(value(&b, "#f_organisation").await, "株式会社きろく保守");
    b.fill("#f_host", "sys.sato").await;
    b.click("#save-entry").await;
    assert!(b.text("#ledger-notice").await.contains("記録しました"));
    assert_eq!(attr(&b, "#entry-status", "data-status").await, "open");
    assert!(b.text("#entry-fields").await.contains("山本 保守員"));
    b.click("#close-entry").await;
    assert_eq!(attr(&b, "#entry-status", "data-status").await, "closed", "the visitor left");
    assert!(b.text("#events").await.contains("退室"));

    // 2. A take-out, which needs an approval by someone else.
    b.goto("/admin/governance/ledgers/take_out/new").await;
    b.fill("#f_item", "紹介状の控え（USBメモリ 暗号化済）").await;
    tick(&b, "#f_personal_data").await;
    b.fill("#f_purpose", "地域連携会議での説明").await;
    b.fill("#f_destination", "市医師会館").await;
    set(&b, "#f_out_on", &today()).await;
    set(&b, "#f_due_on", &today()).await;
    b.fill("#f_safeguards", "暗号化USB、パスワードは別送").await;
    b.click("#save-entry").await;
    let entry = b.path().await;
    assert!(entry.starts_with("/admin/governance/ledgers/take_out/"), "{entry}");
    assert_eq!(attr(&b, "#entry-status", "data-status").await, "pending_approval");
    assert!(b.text("#entry-fields").await.contains("はい"), "the checkbox is recorded");
    // The requester cannot approve it: refused, and said so in Japanese.
    b.fill("#approve-note", "自分で承認").await;
    b.click("#approve-entry").await;
    let refused = b.text("#ledger-error").await;
    assert!(refused.contains("本人は承認できません"), "{refused}");
    assert_eq!(attr(&b, "#entry-status", "data-status").await, "pending_approval");
    b.shot("ledger_refused").await;
    // A file attached to it, read back through the page's link.
    let file = dir.path().join("mochidashi-shinsei.txt");
    std::fs::write(&file, "持ち出し申請書（署名済）").expect("file");
    b.d().find(Locator::Css("#file")).await.expect("file input").send_keys(file.to_str().expect("utf-8")).await.expect("choose file");
    b.click("#attach-file").await;
    assert!(b.text("#ledger-notice").await.contains("添付しました"));
    assert!(b.text("#attachments").await.contains("mochidashi-shinsei.txt"));
    let href = attr(&b, "#attachments a", "href").await;
    let body = b
        .d()
        .execute_async("const [href, done] = arguments; fetch(href).then(r => r.text()).then(done);", vec![json!(href)])
        .await
        .expect("download");
    assert_eq!(body, json!("持ち出し申請書（署名済）"), "the attached file reads back");
    b.goto("/admin/governance/ledgers").await;
    assert_eq!(b.text("#pending-take_out").await, "1");
    assert!(b.text("#pending").await.contains("紹介状の控え"));
    b.shot("ledgers").await;

    // 3. Training, which the duties page counts per person.
    b.goto("/admin/governance/ledgers/training/new").await;
    b.fill("#f_title", "情報セキュリティ研修（標的型メール）").await;
    set(&b, "#f_held_on", &today()).await;
    b.fill("#f_topics", "標的型メールの見分け方、パスワード管理、持ち出しの手続き").await;
    b.fill("#f_attendees", "sys.ito, sys.sato").await;
    b.click("#save-entry").await;
    assert!(b.text("#entry-fields").await.contains("sys.ito, sys.sato"));
    b.logout().await;

    // A second administrator approves the take-out; it can then be returned.
    b.login("sys.ito", &ito_pw).await;
    b.goto(&entry).await;
    b.fill("#approve-note", "情報管理委員会で確認").await;
    b.click("#approve-entry").await;
    assert!(b.text("#ledger-notice").await.contains("承認しました"));
    assert_eq!(attr(&b, "#entry-status", "data-status").await, "approved");
    let events = b.text("#events").await;
    assert!(events.contains("承認") && events.contains("sys.ito") && events.contains("情報管理委員会で確認"), "{events}");
    b.shot("ledger_entry").await;
    b.click("#close-entry").await;
    assert_eq!(attr(&b, "#entry-status", "data-status").await, "closed");

    // The list, newest first, filtered by state and period.
    b.goto("/admin/governance/ledgers/take_out").await;
    b.select("#status", "pending_approval").await;
    b.click("#ledger-show").await;
    assert!(b.text("#ledger-empty").await.contains("該当する記録はありません"));
    b.select("#status", "closed").await;
    set(&b, "#from", &today()).await;
    b.click("#ledger-show").await;
    assert!(b.text("#entries").await.contains("紹介状の控え"));
    b.goto("/admin/governance/ledgers/take_out?from=2026-13-01").await;
    assert!(b.text("#ledger-error").await.contains("日付"), "a bad period is explained");

    // The periodic duties: never-done ones are overdue and highlighted; the training is current.
    b.goto("/admin/governance/duties").await;
    assert_eq!(attr(&b, "#duty-internal_audit", "data-state").await, "overdue");
    assert_eq!(attr(&b, "#duty-internal_audit", "class").await, "missed");
    assert!(b.text("#duty-internal_audit").await.contains("期限超過"));
    assert_eq!(attr(&b, "#duty-training", "data-state").await, "ok");
    assert_eq!(attr(&b, "#training-sys\\.ito", "data-current").await, "true");
    assert_eq!(attr(&b, "#training-admin", "data-current").await, "false", "admin attended no training");
    b.shot("ledger_duties").await;

    // English on request.
    b.goto("/lang/en?back=/admin/governance/ledgers").await;
    assert_eq!(b.text("h1").await, "Ledgers");
    assert!(b.text("#ledger-take_out").await.contains("Take-out requests and returns"));
    b.close().await;
}
