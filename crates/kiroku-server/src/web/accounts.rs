//! Account governance pages (issue 7; T1-5.3, T1-7.4, T1-4.2, T2-1.1): vendors' work orders (保守作業)
//! with the supervisor's check-off list (作業報告確認) and its sign-off, integrations' API tokens
//! (secret shown once), resets of lost second factors issued by one administrator and approved by
//! a second (and redeemed at the login's second step), and the periodic access review (定期アクセス
//! 権見直し) with one-click disable and its sign-off. Every change goes through the same API
//! functions and store commands as `/api/v1` (`api::accounts`), so the store's rules decide; a
//! refusal is shown on the page in the page's language with what was typed kept.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use kiroku_core::identity::AccountKind;
use kiroku_core::{InfoClass, Outcome, Permission, Scope, Timestamp, Username};
use kiroku_store::{Command, FactorResetRecord, WorkOrderReport};
use serde::Deserialize;

use super::i18n::{Lang, Texts, explain};
use super::page::*;
use crate::AppState;
use crate::api::accounts::{
    NewApiToken, NewWorkOrder, create_api_token, create_work_order, default_unused_days, issue_factor_reset, use_factor_reset,
};
use crate::error::ApiError;

/// The words of these pages, Japanese and English.
const TEXTS: &Texts = &[
    // work orders
    ("wo.title", "保守作業（作業指示）", "Maintenance work orders"),
    (
        "wo.explain",
        "保守業者のアカウントは作業指示ごとに、作業時間帯・接続元ネットワーク・作業範囲・監督者を決めて作成します。時間帯の外や指定外のネットワークからはログインできず、作業中の操作はすべて記録され、監督者が作業報告を確認します。",
        "A vendor's account works under a work order: a time window, source networks, a scope and a supervising staff member. Outside the window or the networks it cannot log in; every action is recorded and the supervisor checks the work off.",
    ),
    ("wo.list", "作業指示の一覧", "Work orders"),
    ("wo.none", "作業指示はまだありません。", "No work orders yet."),
    ("wo.create", "作業指示の登録", "New work order"),
    ("wo.account", "保守アカウント（利用者ID）", "Maintenance account (user name)"),
    (
        "wo.account_hint",
        "存在しない場合は新しく作成し、初期パスワードを一度だけ表示します。",
        "Created if it does not exist; its one-time password is shown once.",
    ),
    ("wo.display_name", "保守アカウントの表示名（任意）", "Display name of the account (optional)"),
    ("wo.vendor", "業者名", "Vendor"),
    ("wo.purpose", "作業内容", "Purpose"),
    ("wo.starts", "作業開始（日本時間）", "Window starts (JST)"),
    ("wo.ends", "作業終了（日本時間）", "Window ends (JST)"),
    ("wo.time_hint", "YYYY-MM-DD HH:MM の形式（秒まで指定も可）", "As YYYY-MM-DD HH:MM (seconds optional)"),
    ("wo.window", "作業時間帯", "Window"),
    ("wo.networks", "接続を許可するネットワーク", "Allowed networks"),
    (
        "wo.networks_hint",
        "IPアドレスまたはネットワーク（例: 10.8.0.0/16）をカンマか空白で区切って入力。空欄なら [network] の設定だけで判断します。",
        "Addresses or networks (e.g. 10.8.0.0/16) separated by commas or spaces; empty: only the [network] rules apply.",
    ),
    ("wo.supervisor", "監督者（職員の利用者ID）", "Supervisor (staff user name)"),
    ("wo.scope", "作業範囲", "Scope"),
    ("wo.submit", "作業指示を登録する", "Create the work order"),
    (
        "wo.created",
        "作業指示を登録しました。保守アカウントの初期パスワードを業者に安全な方法で伝えてください。この表示は一度だけです。",
        "The work order was created. Give the account's one-time password to the vendor safely; it is shown only once.",
    ),
    (
        "wo.created_existing",
        "作業指示を登録しました（既存の保守アカウント）。",
        "The work order was created (existing maintenance account).",
    ),
    ("wo.state", "状態", "State"),
    ("wo.state_future", "開始前", "Not started"),
    ("wo.state_open", "作業中", "In progress"),
    ("wo.state_check", "確認待ち", "To be checked off"),
    ("wo.state_signed", "確認済み", "Checked off"),
    ("wo.open_report", "作業報告確認", "Check-off list"),
    ("wo.report_title", "作業報告確認（作業指示の点検）", "Check-off list of a work order"),
    (
        "wo.report_explain",
        "この作業指示のもとで開かれたセッションと、保守アカウントの操作（拒否されたものを含む）の一覧です。作業時間帯の終了後、監督者が内容を確認して記録します。",
        "Every session opened under this order and every action of the maintenance account, refusals included. After the window the supervisor checks it and signs it off.",
    ),
    ("wo.sessions", "作業セッション", "Sessions"),
    ("wo.no_sessions", "この作業指示でのログインはありません。", "No login under this order."),
    ("wo.session_started", "開始", "Started"),
    ("wo.session_last", "最終操作", "Last activity"),
    ("wo.session_end", "終了・期限", "Ended / expires"),
    ("wo.address", "接続元", "From"),
    ("wo.events", "操作の記録", "Actions"),
    ("wo.no_events", "記録された操作はありません。", "No actions recorded."),
    ("wo.time", "日時（JST）", "Time (JST)"),
    ("wo.action", "操作", "Action"),
    ("wo.outcome", "結果", "Outcome"),
    ("wo.detail", "詳細", "Detail"),
    ("wo.hash", "報告のハッシュ", "Report hash"),
    ("wo.comment", "確認の所見", "Comment"),
    ("wo.sign", "作業報告を確認した", "Sign the check-off list off"),
    ("wo.signed", "作業報告の確認を記録しました。", "The sign-off was recorded."),
    ("wo.signed_by", "確認者", "Signed off by"),
    ("wo.signed_at", "確認日時", "Signed off at"),
    ("wo.only_supervisor", "確認の記録は作業指示の監督者が行います。", "Only the supervisor named on the order signs it off."),
    ("wo.back", "作業指示の一覧へ", "Back to the work orders"),
    // API tokens
    ("tok.title", "APIトークン（外部システム連携）", "API tokens (integrations)"),
    (
        "tok.explain",
        "連携システム用のトークンは、範囲（権限）と有効期限を決めて発行します。トークンは発行時に一度だけ表示され、kirokuにはハッシュだけが残ります。利用はすべて連携用アカウントの操作として記録されます。",
        "Tokens for integrations have a scope and an expiry. A token is shown once when issued; kiroku keeps only its hash. Every use is recorded as its service account.",
    ),
    ("tok.list", "発行済みトークン", "Issued tokens"),
    ("tok.none", "発行済みのトークンはありません。", "No tokens issued."),
    ("tok.create", "トークンの発行", "Issue a token"),
    ("tok.name", "連携名（連携用アカウントの利用者ID）", "Name (the service account's user name)"),
    ("tok.display_name", "表示名（任意）", "Display name (optional)"),
    ("tok.days", "有効期間（日数、1〜366）", "Valid for (days, 1 to 366)"),
    ("tok.submit", "発行する", "Issue"),
    (
        "tok.created",
        "トークンを発行しました。連携システムに設定してください。この表示は一度だけで、再表示はできません。",
        "The token was issued. Configure it in the integration now; it is shown only once and cannot be shown again.",
    ),
    ("tok.secret", "トークン", "Token"),
    ("tok.expires", "有効期限", "Expires"),
    ("tok.created_by", "発行者・発行日時", "Issued by / at"),
    ("tok.last_used", "最終使用", "Last used"),
    ("tok.never", "未使用", "never"),
    ("tok.state_active", "有効", "Active"),
    ("tok.state_revoked", "失効", "Revoked"),
    ("tok.state_expired", "期限切れ", "Expired"),
    ("tok.revoke", "失効させる", "Revoke"),
    ("tok.revoked", "トークンを失効させました。以後このトークンは使えません。", "The token was revoked; it no longer works."),
    // factor resets
    ("fr.title", "二要素認証の再設定", "Second-factor resets"),
    (
        "fr.explain",
        "認証アプリやセキュリティキーを紛失した職員のために、管理者が再設定コードを発行し、別の管理者が承認します。コードは一度だけ、24時間以内に、本人のログインの2段階目で使えます。使うと登録済みの第二要素はすべて解除され、新しい登録が必要になります。",
        "For staff who lost their authenticator or security key, one administrator issues a reset code and a different administrator approves it. The code works once, within 24 hours, at the user's second login step; it removes every registered second factor and requires a new enrolment.",
    ),
    ("fr.issue", "再設定コードの発行", "Issue a reset code"),
    ("fr.user", "対象の利用者ID", "User name"),
    ("fr.submit", "発行する", "Issue"),
    (
        "fr.issued",
        "再設定コードを発行しました。別の管理者の承認後に、本人に安全な方法で伝えてください。この表示は一度だけです。",
        "The reset code was issued. After a second administrator approves it, give it to the user safely; it is shown only once.",
    ),
    ("fr.code", "再設定コード", "Reset code"),
    ("fr.list", "再設定の一覧", "Resets"),
    ("fr.none", "再設定はありません。", "No resets."),
    ("fr.issued_by", "発行者・発行日時", "Issued by / at"),
    ("fr.expires", "期限", "Expires"),
    ("fr.approved_by", "承認者", "Approved by"),
    ("fr.state", "状態", "State"),
    ("fr.state_pending", "承認待ち", "Awaiting approval"),
    ("fr.state_approved", "承認済み（未使用）", "Approved (not used)"),
    ("fr.state_used", "使用済み", "Used"),
    ("fr.state_expired", "期限切れ", "Expired"),
    ("fr.approve", "承認する", "Approve"),
    ("fr.approve_hint", "発行した管理者とは別の管理者が承認します。", "An administrator other than the issuer approves."),
    ("fr.approved", "再設定を承認しました。", "The reset was approved."),
    ("fr.use_title", "再設定コードでログインする", "Log in with a reset code"),
    (
        "fr.use_explain",
        "管理者から受け取った再設定コードを入力してください。登録済みの認証アプリとセキュリティキーは解除され、続けて新しい第二要素を登録します。",
        "Type the reset code the administrators gave you. Your registered authenticator app and security keys are removed and you enrol a new second factor next.",
    ),
    ("fr.use_submit", "再設定する", "Reset"),
    ("fr.back", "確認コードの入力に戻る", "Back to the code"),
    // access review
    ("ar.title", "定期アクセス権見直し", "Periodic access review"),
    (
        "ar.explain",
        "すべてのアカウントの職種・種類・最終ログイン・二要素認証と、一定期間使われていないアカウントや退職者として登録されたアカウントを示します。不要なアカウントはその場で無効化でき、見直しの確認は監査証跡に記録されます。",
        "Every account with its role, kind, last login and second factors, flagging accounts unused for a period and those of staff marked as left. Disable what is no longer needed here; the review's sign-off is recorded in the audit trail.",
    ),
    ("ar.unused_days", "未使用と判断する日数", "Unused after (days)"),
    ("ar.show", "表示", "Show"),
    ("ar.accounts", "アカウント", "Accounts"),
    ("ar.username", "利用者ID", "User name"),
    ("ar.display_name", "氏名（表示名）", "Display name"),
    ("ar.role", "職種", "Role"),
    ("ar.kind", "種類", "Kind"),
    ("ar.state", "状態", "State"),
    ("ar.last_login", "最終ログイン", "Last login"),
    ("ar.never", "なし", "never"),
    ("ar.factors", "第二要素", "Second factors"),
    ("ar.flags", "要確認", "Findings"),
    ("ar.unused", "日以上未使用", "days or more unused"),
    ("ar.left", "退職済み", "Left"),
    ("ar.active", "有効", "Active"),
    ("ar.disabled", "無効", "Disabled"),
    ("ar.disable", "無効化", "Disable"),
    ("ar.disabled_done", "アカウントを無効化しました。", "The account was disabled."),
    ("ar.kind_staff", "職員", "Staff"),
    ("ar.kind_maintenance", "保守", "Maintenance"),
    ("ar.kind_break_glass", "緊急時", "Break-glass"),
    ("ar.kind_service", "連携", "Service"),
    ("ar.mark_left", "退職者として登録", "Mark as left"),
    ("ar.left_on", "最終勤務日（YYYY-MM-DD）", "Last working day (YYYY-MM-DD)"),
    ("ar.left_submit", "登録する", "Record"),
    ("ar.left_done", "退職者として登録しました。", "Recorded as left."),
    ("ar.signoff", "見直しの確認", "Sign-off of the review"),
    ("ar.hash", "報告のハッシュ", "Report hash"),
    ("ar.comment", "所見", "Comment"),
    ("ar.sign", "この内容で見直しを確認した", "Sign off this review"),
    ("ar.signed", "アクセス権見直しの確認を記録しました。", "The review's sign-off was recorded."),
    ("ar.summary", "件数", "Counts"),
    // shared by these pages
    ("perms", "権限", "Permissions"),
    ("classes", "情報区分（診療情報を許可する場合）", "Information classes (with clinical content)"),
    ("allow_clinical", "診療情報（患者の記録）を範囲に含める", "Include clinical content (patients' records)"),
    ("actions", "操作", "Actions"),
    ("state_none", "—", "—"),
];

/// Field names as the pages call them, for the refusals' explanations.
const FIELDS: &Texts = &[
    ("account", "保守アカウント", "Maintenance account"),
    ("vendor", "業者名", "Vendor"),
    ("purpose", "作業内容", "Purpose"),
    ("starts_at", "作業開始", "Window starts"),
    ("ends_at", "作業終了", "Window ends"),
    ("networks", "ネットワーク", "Networks"),
    ("supervisor", "監督者", "Supervisor"),
    ("permissions", "権限", "Permissions"),
    ("classes", "情報区分", "Information classes"),
    ("name", "連携名", "Name"),
    ("expires_at", "有効期間", "Valid for"),
    ("days", "有効期間", "Valid for"),
    ("username", "利用者ID", "User name"),
    ("unused_days", "未使用と判断する日数", "Unused after"),
    ("left_on", "最終勤務日", "Last working day"),
    ("comment", "所見", "Comment"),
    ("code", "再設定コード", "Reset code"),
];

/// The store's refusals of these commands in Japanese (the English is the API's detail).
const REASONS_JA: &[(&str, &str)] = &[
    (
        "a second, different administrator must approve",
        "発行した管理者とは別の管理者が承認してください。自分で発行した再設定は承認できません。",
    ),
    ("a reset of one's own factors", "自分自身の再設定は、他の管理者が承認します。"),
    ("the reset was approved or used already, or has expired", "この再設定は承認済み・使用済みか、期限が切れています。"),
    ("the reset waits for a second administrator", "この再設定コードは、まだ2人目の管理者に承認されていません。"),
    ("the reset was used already or has expired", "この再設定コードは使用済みか、期限が切れています。"),
    ("a reset is used at the second step", "再設定コードはログインの2段階目で使います。"),
    ("factor reset not found", "再設定コードが正しくありません。"),
    ("only the supervisor named", "作業指示に記載された監督者だけが確認できます。"),
    ("this work order was signed off already", "この作業指示は確認済みです。"),
    ("the work order's window has not ended yet", "作業時間帯が終わっていません。作業の終了後に確認してください。"),
    ("a session of the work is still open", "作業のセッションがまだ開いています。終了させてから確認してください。"),
    ("the report differs from the one reviewed", "表示した後に内容が変わりました。もう一度表示して確認してください。"),
    ("work order not found", "作業指示が見つからないか、参照する権限がありません。"),
    ("the account has another work order in this window", "この保守アカウントには、同じ時間帯の作業指示が既にあります。"),
    ("is not a maintenance account", "この利用者IDは保守アカウントではありません。"),
    ("is not a service account", "この利用者IDは連携用アカウントではありません。"),
    ("the window must end after it starts", "終了は開始より後にしてください"),
    ("a work order's window is at most 31 days", "作業時間帯は31日以内にしてください"),
    ("the supervisor cannot be the maintenance account", "保守アカウント自身は監督者になれません"),
    ("is not an address or network", "IPアドレスまたはネットワーク（例: 10.8.0.0/16）で入力してください"),
    ("no such account", "該当する利用者がいません"),
    ("the supervisor must be an enabled member of staff", "有効な職員のアカウントを指定してください"),
    ("name at least one permission", "権限を1つ以上選んでください"),
    ("patients' records are outside the scope", "診療情報を含めるには「診療情報（患者の記録）を範囲に含める」を選んでください"),
    ("name the information classes", "診療情報の権限には情報区分を選んでください"),
    ("must be in the future and within", "1〜366日の範囲にしてください"),
    ("a number of days", "1〜366の日数で入力してください"),
    ("second factors are reset for staff accounts only", "二要素認証の再設定は職員のアカウントだけが対象です"),
    ("must be between 0 and 3650", "0〜3650の範囲で入力してください"),
    ("a date as YYYY-MM-DD", "YYYY-MM-DD の形式で入力してください"),
    ("a time as YYYY-MM-DD", "YYYY-MM-DD HH:MM の形式（日本時間）で入力してください"),
    ("must be at most 2000 characters", "2000文字以内で、制御文字を含めないでください"),
    ("API token (or revoked already) not found", "トークンが見つからないか、既に失効しています"),
];

fn text(lang: Lang, key: &str) -> &'static str {
    lang.pick(TEXTS, key)
}

/// A refusal as these pages show it: the title and the reason in the page's language, naming the
/// field as the form does.
fn refusal(lang: Lang, e: &ApiError) -> String {
    let x = explain(lang, e);
    let field =
        e.field.as_deref().map(|f| if FIELDS.iter().any(|(k, _, _)| *k == f) { lang.pick(FIELDS, f).to_string() } else { f.to_string() });
    let known = REASONS_JA.iter().find(|(en, _)| e.detail.contains(en)).map(|(_, ja)| *ja);
    let detail = match (lang, field, known) {
        (Lang::Ja, Some(f), Some(ja)) => format!("{f}: {ja}"),
        (Lang::Ja, None, Some(ja)) => ja.to_string(),
        // The shared explanation's reason (after its own field name), under this page's field name.
        (Lang::Ja, Some(f), None) => format!("{f}: {}", x.detail.split_once(": ").map_or(x.detail.as_str(), |(_, r)| r)),
        (Lang::En, Some(f), _) => format!("{f}: {}", e.detail),
        (_, None, _) => x.detail,
    };
    format!("{} {}", x.title, detail)
}

/// A form's fields as posted, for forms with repeated fields (check boxes).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, key: &str) -> String {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    fn checked(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// A refused form answers its page again with the refusal's status.
fn with_status(r: Result<Response, WebError>, status: StatusCode) -> Result<Response, WebError> {
    let mut r = r?;
    *r.status_mut() = status;
    Ok(r)
}

/// Whether a form's refusal is shown on the form (invalid input, a state that forbids it) rather
/// than as an error page (no permission, not found, failures).
fn shown_on_form(e: &ApiError) -> bool {
    matches!(e.status(), StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT | StatusCode::BAD_REQUEST)
}

/// A time typed in JST: `YYYY-MM-DD HH:MM` or with seconds (a `T` works as the separator too).
fn jst_time(field: &'static str, typed: &str) -> Result<Timestamp, ApiError> {
    let t = typed.trim().replacen(' ', "T", 1);
    let with_seconds = if t.len() == 16 { format!("{t}:00") } else { t };
    Timestamp::parse_rfc3339(&format!("{with_seconds}+09:00"))
        .ok_or_else(|| ApiError::validation(field, "a time as YYYY-MM-DD HH:MM in JST"))
}

/// JST with seconds, as the time fields take it.
fn jst_seconds(t: Timestamp) -> String {
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let d = t.to_datetime().to_offset(offset);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute(), d.second())
}

/// The check boxes of a scope: permissions and classes with the ones chosen.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

fn permission_choices(lang: Lang, chosen: &[String]) -> Vec<Choice> {
    Permission::ALL
        .iter()
        .map(|p| Choice { value: p.as_str(), label: lang.permission(*p), checked: chosen.iter().any(|c| c == p.as_str()) })
        .collect()
}

fn class_choices(lang: Lang, chosen: &[String]) -> Vec<Choice> {
    InfoClass::ALL
        .iter()
        .map(|k| Choice { value: k.as_str(), label: lang.class(*k), checked: chosen.iter().any(|c| c == k.as_str()) })
        .collect()
}

/// The scope as it was typed: permissions and classes parsed (an unknown one is refused).
fn typed_scope(f: &Fields) -> Result<(Vec<Permission>, Vec<InfoClass>), ApiError> {
    let permissions = f
        .all("permission")
        .iter()
        .map(|p| p.parse::<Permission>().map_err(|_| ApiError::validation("permissions", "unknown value")))
        .collect::<Result<Vec<_>, _>>()?;
    let classes = f
        .all("class")
        .iter()
        .map(|k| k.parse::<InfoClass>().map_err(|_| ApiError::validation("classes", "unknown value")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((permissions, classes))
}

/// A scope in words: the permissions, and the classes when there are any.
fn scope_words(lang: Lang, scope: &Scope) -> String {
    let mut words: Vec<&str> = scope.permissions.iter().map(|p| lang.permission(*p)).collect();
    words.extend(scope.classes.iter().map(|k| lang.class(*k)));
    words.join(if lang == Lang::Ja { "、" } else { ", " })
}

async fn can_manage(state: &AppState, s: &WebSession) -> Result<bool, WebError> {
    Ok(state.store.allows(s.auth.actor.role, Permission::UserManage).await?)
}

// ----- work orders -----

/// A work order as a line of the list.
pub struct OrderRow {
    pub id: String,
    pub account: String,
    pub vendor: String,
    pub purpose: String,
    pub window: String,
    pub supervisor: String,
    pub scope: String,
    pub networks: String,
    pub state: &'static str,
}

/// What the work order form holds: as typed, so a refused form comes back filled in.
#[derive(Default)]
pub struct OrderForm {
    pub account: String,
    pub display_name: String,
    pub vendor: String,
    pub purpose: String,
    pub starts: String,
    pub ends: String,
    pub networks: String,
    pub supervisor: String,
    pub permissions: Vec<String>,
    pub classes: Vec<String>,
    pub allow_clinical: bool,
}

impl OrderForm {
    fn blank() -> OrderForm {
        let now = Timestamp::now();
        OrderForm {
            starts: jst(now),
            ends: jst(now.plus_seconds(2 * 3600)),
            permissions: vec![Permission::OpsRead.as_str().to_string()],
            ..OrderForm::default()
        }
    }

    fn of(f: &Fields) -> OrderForm {
        OrderForm {
            account: f.get("account"),
            display_name: f.get("display_name"),
            vendor: f.get("vendor"),
            purpose: f.get("purpose"),
            starts: f.get("starts"),
            ends: f.get("ends"),
            networks: f.get("networks"),
            supervisor: f.get("supervisor"),
            permissions: f.all("permission"),
            classes: f.all("class"),
            allow_clinical: f.checked("allow_clinical"),
        }
    }
}

#[derive(Template)]
#[template(path = "work_orders.html")]
struct WorkOrdersPage {
    c: Chrome,
    orders: Vec<OrderRow>,
    can_create: bool,
    form: OrderForm,
    permissions: Vec<Choice>,
    classes: Vec<Choice>,
    error: String,
    /// After creating: the account and its one-time password when it was new.
    created: Option<(String, Option<String>)>,
}

impl WorkOrdersPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn order_state(status: &kiroku_store::WorkOrderStatus, now: Timestamp) -> &'static str {
    if status.signoff.is_some() {
        "wo.state_signed"
    } else if now < status.order.starts_at {
        "wo.state_future"
    } else if status.order.is_open(now) {
        "wo.state_open"
    } else {
        "wo.state_check"
    }
}

async fn orders_page(
    state: &AppState,
    s: WebSession,
    form: OrderForm,
    error: String,
    created: Option<(String, Option<String>)>,
) -> Result<Response, WebError> {
    let orders = state.store.execute(Command::ListWorkOrders { actor: s.auth.actor.clone() }).await?.into_work_orders()?;
    let can_create = can_manage(state, &s).await?;
    let lang = s.chrome.lang;
    let now = Timestamp::now();
    let orders = orders
        .iter()
        .rev()
        .map(|o| OrderRow {
            id: o.order.id.clone(),
            account: o.order.account.to_string(),
            vendor: o.order.vendor.clone(),
            purpose: o.order.purpose.clone(),
            window: format!("{} 〜 {}", jst(o.order.starts_at), jst(o.order.ends_at)),
            supervisor: o.order.supervisor.to_string(),
            scope: scope_words(lang, &o.order.scope),
            networks: o.order.networks.join(", "),
            state: order_state(o, now),
        })
        .collect();
    render(&WorkOrdersPage {
        permissions: permission_choices(lang, &form.permissions),
        classes: class_choices(lang, &form.classes),
        c: s.chrome,
        orders,
        can_create,
        form,
        error,
        created,
    })
}

pub async fn work_orders(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    orders_page(&state, s, OrderForm::blank(), String::new(), None).await
}

fn order_request(f: &OrderForm) -> Result<NewWorkOrder, ApiError> {
    let typed = Fields(
        f.permissions
            .iter()
            .map(|p| ("permission".to_string(), p.clone()))
            .chain(f.classes.iter().map(|k| ("class".to_string(), k.clone())))
            .collect(),
    );
    let (permissions, classes) = typed_scope(&typed)?;
    Ok(NewWorkOrder {
        account: f.account.clone(),
        account_display_name: Some(f.display_name.clone()),
        vendor: f.vendor.clone(),
        purpose: f.purpose.clone(),
        starts_at: jst_time("starts_at", &f.starts)?,
        ends_at: jst_time("ends_at", &f.ends)?,
        permissions,
        classes,
        allow_clinical: f.allow_clinical,
        networks: f.networks.split(|c: char| c == ',' || c == '、' || c.is_whitespace()).map(str::to_string).collect(),
        supervisor: f.supervisor.clone(),
    })
}

pub async fn create_order(State(state): State<AppState>, post: WebPost<Vec<(String, String)>>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let form = OrderForm::of(&Fields(form));
    let result = match order_request(&form) {
        Ok(req) => create_work_order(&state, session.auth.actor.clone(), req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((status, password)) => {
            let created = Some((status.order.account.to_string(), password));
            orders_page(&state, session, OrderForm::blank(), String::new(), created).await
        }
        Err(e) if shown_on_form(&e) => {
            let error = refusal(session.chrome.lang, &e);
            with_status(orders_page(&state, session, form, error, None).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

/// A session of the work as a line of the check-off list.
pub struct SessionRow {
    pub id: String,
    pub started: String,
    pub last_seen: String,
    pub ended: String,
    pub address: String,
}

/// An action of the maintenance account as a line of the check-off list.
pub struct ActionRow {
    pub time: String,
    pub action: &'static str,
    pub outcome: &'static str,
    pub outcome_class: &'static str,
    pub detail: String,
    pub address: String,
}

#[derive(Template)]
#[template(path = "work_order.html")]
struct WorkOrderPage {
    c: Chrome,
    order: OrderRow,
    sessions: Vec<SessionRow>,
    actions: Vec<ActionRow>,
    report_hash: String,
    /// (by, at, comment) once signed off.
    signoff: Option<(String, String, String)>,
    is_supervisor: bool,
    comment: String,
    notice: &'static str,
    error: String,
}

impl WorkOrderPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn outcome_words(lang: Lang, o: Outcome) -> (&'static str, &'static str) {
    let key = match o {
        Outcome::Success => "outcome.success",
        Outcome::Denied => "outcome.denied",
        Outcome::Failed => "outcome.failed",
    };
    (lang.t(key), o.as_str())
}

async fn report_page(
    state: &AppState,
    s: WebSession,
    id: String,
    comment: String,
    notice: &'static str,
    error: String,
) -> Result<Response, WebError> {
    let report: Box<WorkOrderReport> =
        state.store.execute(Command::WorkOrderReport { actor: s.auth.actor.clone(), id }).await?.into_work_order_report()?;
    let lang = s.chrome.lang;
    let now = Timestamp::now();
    let o = &report.list.order;
    let status = kiroku_store::WorkOrderStatus { order: o.clone(), signoff: report.signoff.clone() };
    let order = OrderRow {
        id: o.id.clone(),
        account: o.account.to_string(),
        vendor: o.vendor.clone(),
        purpose: o.purpose.clone(),
        window: format!("{} 〜 {}", jst(o.starts_at), jst(o.ends_at)),
        supervisor: o.supervisor.to_string(),
        scope: scope_words(lang, &o.scope),
        networks: o.networks.join(", "),
        state: order_state(&status, now),
    };
    let sessions = report
        .list
        .sessions
        .iter()
        .map(|x| SessionRow {
            id: x.id.clone(),
            started: jst_seconds(x.created_at),
            last_seen: jst_seconds(x.last_seen_at),
            ended: jst_seconds(x.revoked_at.unwrap_or(x.expires_at)),
            address: x.client_addr.clone().unwrap_or_default(),
        })
        .collect();
    let actions = report
        .list
        .events
        .iter()
        .map(|e| {
            let (outcome, outcome_class) = outcome_words(lang, e.outcome);
            ActionRow {
                time: jst_seconds(e.time),
                action: lang.action(e.action),
                outcome,
                outcome_class,
                detail: e.detail.clone().unwrap_or_default(),
                address: e.client_addr.clone().unwrap_or_default(),
            }
        })
        .collect();
    let signoff = report.signoff.as_ref().map(|x| (x.signed_by.to_string(), jst(x.signed_at), x.comment.clone()));
    let is_supervisor = o.supervisor == s.auth.actor.username;
    render(&WorkOrderPage {
        c: s.chrome,
        order,
        sessions,
        actions,
        report_hash: report.report_hash,
        signoff,
        is_supervisor,
        comment,
        notice,
        error,
    })
}

pub async fn work_order(State(state): State<AppState>, s: WebSession, Path(id): Path<String>) -> Result<Response, WebError> {
    report_page(&state, s, id, String::new(), "", String::new()).await
}

#[derive(Deserialize)]
pub struct OrderSignOffForm {
    #[serde(default)]
    report_hash: String,
    #[serde(default)]
    comment: String,
}

pub async fn sign_off_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: WebPost<OrderSignOffForm>,
) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let command = Command::SignOffWorkOrder {
        actor: session.auth.actor.clone(),
        id: id.clone(),
        report_hash: form.report_hash,
        comment: form.comment.clone(),
    };
    match state.store.execute(command).await.map_err(ApiError::from) {
        Ok(_) => report_page(&state, session, id, String::new(), "wo.signed", String::new()).await,
        Err(e) if shown_on_form(&e) => {
            let error = refusal(session.chrome.lang, &e);
            with_status(report_page(&state, session, id, form.comment, "", error).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

// ----- API tokens -----

/// A token as a line of the list.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub expires: String,
    pub created: String,
    pub last_used: String,
    pub state: &'static str,
    pub active: bool,
}

/// The token form as typed.
#[derive(Default)]
pub struct TokenForm {
    pub name: String,
    pub display_name: String,
    pub days: String,
    pub permissions: Vec<String>,
    pub classes: Vec<String>,
    pub allow_clinical: bool,
}

#[derive(Template)]
#[template(path = "api_tokens.html")]
struct TokensPage {
    c: Chrome,
    tokens: Vec<TokenRow>,
    form: TokenForm,
    permissions: Vec<Choice>,
    classes: Vec<Choice>,
    error: String,
    notice: &'static str,
    /// (name, token) shown once after issuing.
    secret: Option<(String, String)>,
}

impl TokensPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

async fn tokens_page(
    state: &AppState,
    s: WebSession,
    form: TokenForm,
    error: String,
    notice: &'static str,
    secret: Option<(String, String)>,
) -> Result<Response, WebError> {
    let tokens = state.store.execute(Command::ListApiTokens { actor: s.auth.actor.clone() }).await?.into_api_tokens()?;
    let lang = s.chrome.lang;
    let now = Timestamp::now();
    let tokens = tokens
        .iter()
        .map(|t| TokenRow {
            id: t.id.clone(),
            name: t.username.to_string(),
            scope: scope_words(lang, &t.scope),
            expires: jst(t.expires_at),
            created: format!("{} {}", t.created_by, jst(t.created_at)),
            last_used: t.last_used_at.map(jst).unwrap_or_default(),
            state: match t.refusal(now) {
                Some("revoked") => "tok.state_revoked",
                Some(_) => "tok.state_expired",
                None => "tok.state_active",
            },
            active: t.refusal(now).is_none(),
        })
        .collect();
    render(&TokensPage {
        permissions: permission_choices(lang, &form.permissions),
        classes: class_choices(lang, &form.classes),
        c: s.chrome,
        tokens,
        form,
        error,
        notice,
        secret,
    })
}

fn blank_token_form() -> TokenForm {
    TokenForm { days: "90".into(), ..TokenForm::default() }
}

pub async fn api_tokens(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    tokens_page(&state, s, blank_token_form(), String::new(), "", None).await
}

fn token_request(f: &Fields) -> Result<NewApiToken, ApiError> {
    let (permissions, classes) = typed_scope(f)?;
    let days: i64 = f
        .get("days")
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=366).contains(d))
        .ok_or_else(|| ApiError::validation("days", "a number of days from 1 to 366"))?;
    Ok(NewApiToken {
        name: f.get("name"),
        display_name: Some(f.get("display_name")),
        permissions,
        classes,
        allow_clinical: f.checked("allow_clinical"),
        expires_at: Timestamp::now().plus_seconds(days * 86_400),
    })
}

pub async fn create_token(State(state): State<AppState>, post: WebPost<Vec<(String, String)>>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let f = Fields(form);
    let typed = TokenForm {
        name: f.get("name"),
        display_name: f.get("display_name"),
        days: f.get("days"),
        permissions: f.all("permission"),
        classes: f.all("class"),
        allow_clinical: f.checked("allow_clinical"),
    };
    let result = match token_request(&f) {
        Ok(req) => create_api_token(&state, session.auth.actor.clone(), req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((record, secret)) => {
            tokens_page(&state, session, blank_token_form(), String::new(), "tok.created", Some((record.username.to_string(), secret)))
                .await
        }
        Err(e) if shown_on_form(&e) => {
            let error = refusal(session.chrome.lang, &e);
            with_status(tokens_page(&state, session, typed, error, "", None).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn revoke_token(State(state): State<AppState>, Path(id): Path<String>, post: WebPost<Empty>) -> Result<Response, WebError> {
    let WebPost { session, .. } = post;
    match state.store.execute(Command::RevokeApiToken { actor: session.auth.actor.clone(), id }).await.map_err(ApiError::from) {
        Ok(_) => tokens_page(&state, session, blank_token_form(), String::new(), "tok.revoked", None).await,
        Err(e) if shown_on_form(&e) || e.status() == StatusCode::NOT_FOUND => {
            let error = refusal(session.chrome.lang, &e);
            with_status(tokens_page(&state, session, blank_token_form(), error, "", None).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

// ----- factor resets -----

/// A reset as a line of the list.
pub struct ResetRow {
    pub id: String,
    pub username: String,
    pub issued: String,
    pub expires: String,
    pub approved_by: String,
    pub state: &'static str,
    pub pending: bool,
}

#[derive(Template)]
#[template(path = "factor_resets.html")]
struct ResetsPage {
    c: Chrome,
    resets: Vec<ResetRow>,
    user: String,
    error: String,
    notice: &'static str,
    /// (user name, code) shown once after issuing.
    code: Option<(String, String)>,
}

impl ResetsPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn reset_state(r: &FactorResetRecord, now: Timestamp) -> &'static str {
    if r.used_at.is_some() {
        "fr.state_used"
    } else if now >= r.expires_at {
        "fr.state_expired"
    } else if r.approved_at.is_some() {
        "fr.state_approved"
    } else {
        "fr.state_pending"
    }
}

async fn resets_page(
    state: &AppState,
    s: WebSession,
    user: String,
    error: String,
    notice: &'static str,
    code: Option<(String, String)>,
) -> Result<Response, WebError> {
    let resets = state.store.execute(Command::ListFactorResets { actor: s.auth.actor.clone() }).await?.into_factor_resets()?;
    let now = Timestamp::now();
    let resets = resets
        .iter()
        .map(|r| {
            let st = reset_state(r, now);
            ResetRow {
                id: r.id.clone(),
                username: r.username.to_string(),
                issued: format!("{} {}", r.issued_by, jst(r.issued_at)),
                expires: jst(r.expires_at),
                approved_by: r
                    .approved_by
                    .clone()
                    .map(|a| format!("{a} {}", r.approved_at.map(jst).unwrap_or_default()))
                    .unwrap_or_default(),
                state: st,
                pending: st == "fr.state_pending",
            }
        })
        .collect();
    render(&ResetsPage { c: s.chrome, resets, user, error, notice, code })
}

pub async fn factor_resets(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    resets_page(&state, s, String::new(), String::new(), "", None).await
}

#[derive(Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    username: String,
}

pub async fn issue_reset(State(state): State<AppState>, post: WebPost<IssueForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    match issue_factor_reset(&state, session.auth.actor.clone(), &form.username).await {
        Ok((reset, code)) => resets_page(&state, session, String::new(), String::new(), "", Some((reset.username.to_string(), code))).await,
        Err(e) if shown_on_form(&e) || e.status() == StatusCode::NOT_FOUND => {
            let error = refusal(session.chrome.lang, &e);
            with_status(resets_page(&state, session, form.username, error, "", None).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn approve_reset(State(state): State<AppState>, Path(id): Path<String>, post: WebPost<Empty>) -> Result<Response, WebError> {
    let WebPost { session, .. } = post;
    match state.store.execute(Command::ApproveFactorReset { actor: session.auth.actor.clone(), id }).await.map_err(ApiError::from) {
        Ok(_) => resets_page(&state, session, String::new(), String::new(), "fr.approved", None).await,
        Err(e) if shown_on_form(&e) || e.status() == StatusCode::NOT_FOUND => {
            let error = refusal(session.chrome.lang, &e);
            with_status(resets_page(&state, session, String::new(), error, "", None).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "factor_reset_use.html")]
struct UseResetPage {
    c: Chrome,
    error: String,
}

impl UseResetPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

/// The user's half, at the second step of a login: the reset code instead of a second factor.
pub async fn use_reset_form(PendingWebSession(s): PendingWebSession) -> Result<Response, WebError> {
    if s.auth.stage != kiroku_core::identity::SessionStage::SecondFactor {
        return Ok(see_other("/"));
    }
    render(&UseResetPage { c: s.chrome, error: String::new() })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn use_reset(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<CodeForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    match use_factor_reset(&state, session.auth.actor.clone(), &form.code).await {
        // The session may only enrol a new factor now: the enrolment page.
        Ok(()) => Ok(see_other("/account/totp")),
        Err(e) if shown_on_form(&e) || e.status() == StatusCode::NOT_FOUND => {
            let error = refusal(session.chrome.lang, &e);
            with_status(render(&UseResetPage { c: session.chrome, error }), e.status())
        }
        Err(e) => Err(e.into()),
    }
}

// ----- access review -----

/// An account as a line of the review.
pub struct ReviewRow {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub kind: &'static str,
    pub disabled: bool,
    pub last_login: String,
    pub factors: String,
    pub left_on: String,
    pub unused: bool,
    pub left: bool,
}

#[derive(Template)]
#[template(path = "access_review.html")]
struct ReviewPage {
    c: Chrome,
    unused_days: i64,
    rows: Vec<ReviewRow>,
    total: usize,
    unused_count: usize,
    left_count: usize,
    report_hash: String,
    can_manage: bool,
    comment: String,
    notice: &'static str,
    error: String,
}

impl ReviewPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn kind_key(k: AccountKind) -> &'static str {
    match k {
        AccountKind::Staff => "ar.kind_staff",
        AccountKind::Maintenance => "ar.kind_maintenance",
        AccountKind::BreakGlass => "ar.kind_break_glass",
        AccountKind::Service => "ar.kind_service",
    }
}

async fn review_page(
    state: &AppState,
    s: WebSession,
    unused_days: i64,
    comment: String,
    notice: &'static str,
    error: String,
) -> Result<Response, WebError> {
    let report = state.store.execute(Command::AccessReview { actor: s.auth.actor.clone(), unused_days }).await?.into_access_report()?;
    let report_hash = kiroku_store::review::hash_of(&report);
    let can_manage = can_manage(state, &s).await?;
    let lang = s.chrome.lang;
    let rows: Vec<ReviewRow> = report
        .accounts
        .iter()
        .map(|a| ReviewRow {
            username: a.username.to_string(),
            display_name: a.display_name.clone(),
            role: lang.role(a.role),
            kind: text(lang, kind_key(a.kind)),
            disabled: a.disabled,
            last_login: a.last_login_at.map(jst).unwrap_or_default(),
            factors: a.second_factors.join(", "),
            left_on: a.left_on.clone().unwrap_or_default(),
            unused: a.unused,
            left: a.left,
        })
        .collect();
    let (total, unused_count, left_count) = (rows.len(), rows.iter().filter(|r| r.unused).count(), rows.iter().filter(|r| r.left).count());
    render(&ReviewPage {
        c: s.chrome,
        unused_days: report.unused_days,
        rows,
        total,
        unused_count,
        left_count,
        report_hash,
        can_manage,
        comment,
        notice,
        error,
    })
}

#[derive(Deserialize)]
pub struct ReviewQuery {
    #[serde(default)]
    unused_days: Option<String>,
}

fn days_of(typed: Option<&str>) -> Result<i64, ApiError> {
    match typed.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(default_unused_days()),
        Some(d) => d.parse().map_err(|_| ApiError::validation("unused_days", "must be between 0 and 3650")),
    }
}

pub async fn access_review(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let q: ReviewQuery = parse_query(&uri)?;
    match days_of(q.unused_days.as_deref()) {
        Ok(days) => review_page(&state, s, days, String::new(), "", String::new()).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ReviewActionForm {
    #[serde(default)]
    unused_days: String,
    #[serde(default)]
    left_on: String,
}

/// One-click disable: the same command as the user administration page and `PATCH /users/{u}`.
pub async fn disable(
    State(state): State<AppState>,
    Path(name): Path<String>,
    post: WebPost<ReviewActionForm>,
) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let days = days_of(Some(form.unused_days.as_str()))?;
    let username = Username::parse(name).map_err(|_| ApiError::not_found("user"))?;
    let command = Command::UpdateUser { actor: session.auth.actor.clone(), username, display_name: None, role: None, disabled: Some(true) };
    state.store.execute(command).await?;
    review_page(&state, session, days, String::new(), "ar.disabled_done", String::new()).await
}

/// Marks a member of staff as having left, as `POST /users/{u}/left` does.
pub async fn mark_left(
    State(state): State<AppState>,
    Path(name): Path<String>,
    post: WebPost<ReviewActionForm>,
) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let days = days_of(Some(form.unused_days.as_str()))?;
    let username = Username::parse(name).map_err(|_| ApiError::not_found("user"))?;
    let command = Command::MarkLeft { actor: session.auth.actor.clone(), username, left_on: form.left_on.trim().to_string() };
    match state.store.execute(command).await.map_err(ApiError::from) {
        Ok(_) => review_page(&state, session, days, String::new(), "ar.left_done", String::new()).await,
        Err(e) if shown_on_form(&e) => {
            let error = refusal(session.chrome.lang, &e);
            with_status(review_page(&state, session, days, String::new(), "", error).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ReviewSignOffForm {
    #[serde(default)]
    unused_days: String,
    #[serde(default)]
    report_hash: String,
    #[serde(default)]
    comment: String,
}

pub async fn sign_off_review(State(state): State<AppState>, post: WebPost<ReviewSignOffForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let days = days_of(Some(form.unused_days.as_str()))?;
    let command = Command::SignOffAccessReview {
        actor: session.auth.actor.clone(),
        unused_days: days,
        report_hash: form.report_hash,
        comment: form.comment.clone(),
    };
    match state.store.execute(command).await.map_err(ApiError::from) {
        Ok(_) => review_page(&state, session, days, String::new(), "ar.signed", String::new()).await,
        Err(e) if shown_on_form(&e) => {
            let error = refusal(session.chrome.lang, &e);
            with_status(review_page(&state, session, days, form.comment, "", error).await, e.status())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `tr("key")` in these pages' templates exists, and keys are unique.
    #[test]
    fn every_text_used_exists() {
        crate::web::i18n::assert_texts_complete(
            TEXTS,
            &[
                "work_orders.html",
                "_scope_fields.html",
                "work_order.html",
                "api_tokens.html",
                "factor_resets.html",
                "factor_reset_use.html",
                "access_review.html",
            ],
            "tr(\"",
        );
        crate::web::i18n::assert_texts_complete(FIELDS, &[], "tr(\"");
    }

    #[test]
    fn refusals_are_explained_in_japanese() {
        let e = ApiError::conflict("a second, different administrator must approve the reset");
        assert!(refusal(Lang::Ja, &e).contains("別の管理者"));
        let e = ApiError::validation("ends_at", "the window must end after it starts");
        assert_eq!(refusal(Lang::Ja, &e), "入力内容に誤りがあります 作業終了: 終了は開始より後にしてください");
        let e = ApiError::validation("vendor", "must not be empty");
        assert!(refusal(Lang::Ja, &e).contains("業者名: 入力してください"), "{}", refusal(Lang::Ja, &e));
        assert!(refusal(Lang::En, &e).contains("Vendor: must not be empty"));
    }

    #[test]
    fn times_are_typed_in_jst() {
        let t = jst_time("starts_at", "2026-11-26 09:00").expect("time");
        assert_eq!(t.to_rfc3339(), Timestamp::parse_rfc3339("2026-11-26T00:00:00Z").expect("utc").to_rfc3339());
        assert_eq!(jst_seconds(jst_time("ends_at", "2026-11-26T09:00:05").expect("seconds")), "2026-11-26 09:00:05");
        assert!(jst_time("ends_at", "26/11/2026").is_err());
    }
}
