//! Issue 7's account governance pages in headless Chromium, in Japanese: a work order made on the
//! form (a refused one explained and kept), the vendor's actions on the supervisor's check-off list
//! and its sign-off after the window; an API token whose secret is shown once, used, then revoked;
//! a second-factor reset the issuing administrator cannot approve, approved by a second one and
//! redeemed at the doctor's login; the access review with an unused and a left account, one-click
//! disable and the sign-off. Screenshots go to docs/screenshots/.

use std::time::Duration;

use fantoccini::Locator;
use kiroku_core::Timestamp;
use serde_json::json;

use crate::harness::*;
use crate::web::browser;

/// A time `offset` seconds from now as the work order form takes it (JST, with seconds).
fn jst_at(offset: i64) -> String {
    Timestamp::now().plus_seconds(offset + 9 * 3600).to_rfc3339().chars().take(19).collect::<String>().replacen('T', " ", 1)
}

async fn value(b: &crate::web::Browser, css: &str) -> String {
    b.d().find(Locator::Css(css)).await.expect(css).prop("value").await.expect("value").unwrap_or_default()
}

/// Ticks a check box (which does not navigate, so not through `Browser::click`).
async fn tick(b: &crate::web::Browser, css: &str) {
    b.d().find(Locator::Css(css)).await.expect(css).click().await.expect("tick");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_governance_pages_in_a_real_browser() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin_api = admin(&server).await;
    let mut logged_out = Vec::new();
    for (name, display) in [("sys.ueno", "上野 管理者"), ("sys.mori", "森 管理者")] {
        let (mut c, pw) = account(&server, &admin_api, name, display, "admin").await;
        c.post("/api/v1/auth/logout", json!({})).await.expect(200, "logout");
        c.token = None;
        logged_out.push(pw);
    }
    let (ueno_pw, mori_pw) = (logged_out[0].clone(), logged_out[1].clone());
    let (doctor, doctor_pw) = account(&server, &admin_api, "dr.kudo", "工藤 医師", "doctor").await;
    let _ = crate::identity::enrol_totp(&doctor).await;
    let (leaver, _) = account(&server, &admin_api, "ns.left", "退職 予定", "nurse").await;
    admin_api
        .post("/api/v1/users", json!({ "username": "ns.idle", "display_name": "未使用 看護師", "role": "nurse" }))
        .await
        .expect(201, "user");
    let auditor = user(&server, &admin_api, "audit.ono", "auditor").await;
    let Some(b) = browser(&server.base).await else { return };

    // ---- 保守作業: a work order on the form; a refused one keeps what was typed.
    b.login("sys.ueno", &ueno_pw).await;
    b.click("#nav-work-orders").await;
    assert!(b.main_text().await.contains("保守作業"));
    b.fill("#wo-account", "vendor.kaneko").await;
    b.fill("#wo-vendor", "カルテ保守株式会社").await;
    b.fill("#wo-purpose", "サーバーの定期保守").await;
    b.fill("#wo-starts", &jst_at(60)).await;
    b.fill("#wo-ends", &jst_at(-60)).await;
    b.fill("#wo-networks", "127.0.0.1, 10.8.0.0/16").await;
    b.fill("#wo-supervisor", "sys.ueno").await;
    b.click("#wo-submit").await;
    assert!(b.text("#wo-error").await.contains("終了は開始より後にしてください"), "{}", b.main_text().await);
    assert_eq!(value(&b, "#wo-vendor").await, "カルテ保守株式会社", "what was typed stays");
    assert_eq!(value(&b, "#wo-networks").await, "127.0.0.1, 10.8.0.0/16");
    b.shot("work-order-refused").await;
    let window_secs = 45;
    b.fill("#wo-starts", &jst_at(-30)).await;
    b.fill("#wo-ends", &jst_at(window_secs)).await;
    let window_ends = std::time::Instant::now() + Duration::from_secs(window_secs as u64);
    b.click("#wo-submit").await;
    let initial = b.text("#wo-password").await;
    assert!(b.text("#work-orders").await.contains("作業中"), "{}", b.main_text().await);
    b.shot("work-orders").await;

    // The vendor works (from 127.0.0.1, inside the window): one read in scope, one refused.
    let mut vendor = server.client();
    vendor.login_and_change("vendor.kaneko", &initial).await;
    vendor.get("/api/v1/locations").await.expect(200, "ops.read is in the order's scope");
    assert_eq!(vendor.get("/api/v1/users").await.status, 403, "user.manage is not");

    // The supervisor's check-off list shows the session and the actions; signing off waits.
    b.click("#wo-open-vendor\\.kaneko").await;
    let check_off = b.path().await;
    let actions = b.text("#wo-actions").await;
    for expected in ["ログイン", "パスワード変更", "情報の所在一覧の参照", "拒否"] {
        assert!(actions.contains(expected), "{expected} in {actions}");
    }
    assert!(b.text("#wo-sessions").await.contains("127.0.0.1"));
    b.fill("#wo-comment", "作業内容を確認した").await;
    b.click("#wo-sign").await;
    assert!(b.text("#wo-error").await.contains("作業時間帯が終わっていません"), "{}", b.main_text().await);
    assert_eq!(value(&b, "#wo-comment").await, "作業内容を確認した", "the comment stays");
    b.shot("work-order-check-off").await;

    // ---- API tokens: a refused form, then the secret shown once, used, revoked.
    b.click("#nav-api-tokens").await;
    b.fill("#tok-name", "lab-link").await;
    b.fill("#tok-days", "0").await;
    tick(&b, "#perm-ops\\.read").await;
    b.click("#tok-submit").await;
    assert!(b.text("#tok-error").await.contains("1〜366の日数"), "{}", b.main_text().await);
    assert_eq!(value(&b, "#tok-name").await, "lab-link");
    assert!(b.d().find(Locator::Css("#perm-ops\\.read")).await.expect("box").prop("checked").await.expect("prop") == Some("true".into()));
    b.fill("#tok-days", "30").await;
    b.click("#tok-submit").await;
    let secret = b.text("#token-secret").await;
    assert!(secret.starts_with("kiroku_at_"), "{secret}");
    b.shot("api-tokens").await;
    let mut link = server.client();
    link.token = Some(secret.clone());
    link.get("/api/v1/locations").await.expect(200, "the token works within its scope");
    b.click("#nav-api-tokens").await;
    assert!(!b.d().source().await.expect("source").contains(&secret), "the secret is shown once only");
    assert_eq!(b.text("#api-tokens .tok-state").await, "有効");
    assert_ne!(b.text("#api-tokens .tok-last-used").await, "未使用", "the last use is shown");
    b.click("#api-tokens button.danger").await;
    assert!(b.text("#tok-notice").await.contains("失効させました"));
    assert_eq!(b.text("#api-tokens .tok-state").await, "失効");
    assert_eq!(link.get("/api/v1/locations").await.status, 401, "revoked");

    // ---- 2要素認証の再設定: the issuer cannot approve; a second administrator does.
    b.click("#nav-factor-resets").await;
    b.fill("#fr-user", "dr.kudo").await;
    b.click("#fr-submit").await;
    let code = b.text("#reset-code").await;
    b.click("#approve-dr\\.kudo").await;
    assert!(b.text("#fr-error").await.contains("別の管理者が承認してください"), "{}", b.main_text().await);
    assert_eq!(b.text("#factor-resets .fr-state").await, "承認待ち");
    b.shot("factor-reset-self-approval").await;
    b.logout().await;
    b.login("sys.mori", &mori_pw).await;
    b.click("#nav-factor-resets").await;
    b.click("#approve-dr\\.kudo").await;
    assert!(b.text("#fr-notice").await.contains("承認しました"));
    assert!(b.text("#factor-resets .fr-state").await.contains("承認済み"));
    b.shot("factor-resets").await;
    b.logout().await;

    // The doctor, whose phone is lost, redeems the code at the second step and must enrol again.
    b.login("dr.kudo", &doctor_pw).await;
    assert_eq!(b.path().await, "/login/second-factor");
    b.click("#use-reset").await;
    b.fill("#reset-code-input", "wrong-code").await;
    b.click("#reset-use-submit").await;
    assert!(b.text("#reset-use-error").await.contains("再設定コードが正しくありません"), "{}", b.main_text().await);
    b.fill("#reset-code-input", &code).await;
    b.shot("factor-reset-use").await;
    b.click("#reset-use-submit").await;
    assert_eq!(b.path().await, "/account/totp", "a new factor must be enrolled: {}", b.main_text().await);
    assert_eq!(doctor.get("/api/v1/patients?q=x").await.status, 401, "the doctor's other sessions ended");
    b.logout().await;

    // ---- 定期アクセス権見直し: unused and left accounts, one-click disable, the sign-off.
    b.login("sys.ueno", &ueno_pw).await;
    b.click("#nav-access-review").await;
    assert!(b.main_text().await.contains("定期アクセス権見直し"));
    b.fill("#ar-days", "0").await;
    b.click("#ar-show").await;
    assert!(b.text("#ar-ns\\.idle .ar-flags").await.contains("日以上未使用"));
    b.fill("#left-on-ns\\.idle", "31/10/2026").await;
    b.click("#left-ns\\.idle").await;
    assert!(b.text("#ar-error").await.contains("YYYY-MM-DD の形式"), "{}", b.main_text().await);
    b.fill("#left-on-ns\\.left", "2026-10-31").await;
    b.click("#left-ns\\.left").await;
    assert!(b.text("#ar-notice").await.contains("退職者として登録しました"));
    assert!(b.text("#ar-ns\\.left .ar-flags").await.contains("退職済み 2026-10-31"));
    b.shot("access-review").await;
    b.click("#disable-ns\\.left").await;
    assert!(b.text("#ar-notice").await.contains("無効化しました"));
    assert_eq!(b.text("#ar-ns\\.left .ar-state").await, "無効");
    assert_eq!(leaver.get("/api/v1/patients?q=x").await.status, 401, "the disabled account's session ended");
    b.fill("#ar-comment", "四半期の棚卸し").await;
    b.click("#ar-sign").await;
    assert!(b.text("#ar-notice").await.contains("確認を記録しました"), "{}", b.main_text().await);
    // The English toggle.
    b.goto("/admin/access-review").await;
    b.click("header a.lang").await;
    assert!(b.main_text().await.contains("Periodic access review"));
    b.click("header a.lang").await;

    // ---- The work order's sign-off, once its window has ended.
    let now = std::time::Instant::now();
    if window_ends > now {
        tokio::time::sleep(window_ends - now + Duration::from_secs(1)).await;
    }
    b.goto(&check_off).await;
    assert_eq!(b.text("#wo-state").await, "確認待ち");
    b.fill("#wo-comment", "作業内容を確認した").await;
    b.click("#wo-sign").await;
    assert!(b.text("#wo-notice").await.contains("作業報告の確認を記録しました"), "{}", b.main_text().await);
    assert!(b.text("#wo-signoff").await.contains("sys.ueno"));
    assert_eq!(b.text("#wo-state").await, "確認済み");
    b.shot("work-order-signed-off").await;
    b.close().await;

    // Everything went through the store's commands: the audit trail has it.
    let events = |q: &'static str| {
        let a = auditor.clone();
        async move { a.get(&format!("/api/v1/audit?{q}")).await.expect(200, "audit")["events"].as_array().cloned().unwrap_or_default() }
    };
    for (q, who) in [
        ("action=work_order_signoff&outcome=success", "sys.ueno"),
        ("action=factor_reset_approve&outcome=failed", "sys.ueno"),
        ("action=factor_reset_approve&outcome=success", "sys.mori"),
        ("action=factor_reset_use&outcome=success", "dr.kudo"),
        ("action=api_token_revoke&outcome=success", "sys.ueno"),
        ("action=access_review_signoff&outcome=success", "sys.ueno"),
        ("action=user_left&outcome=success", "sys.ueno"),
    ] {
        let found = events(q).await;
        assert!(found.iter().any(|e| e["user"] == who), "{q}: {found:?}");
    }
}
