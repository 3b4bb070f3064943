//! The ledger pages (台帳, /admin/governance/ledgers): the ledgers with their counts and what waits
//! for an approval; each ledger's entries with filters (period, state), newest first, by pages; a
//! form generated from the ledger's field definitions (create and revise, typed inputs); an entry
//! with its revisions, events (approve by someone else, close, note, loss reported) and attached
//! files; and the periodic duties (定期業務) with every account's training. The API's functions make
//! every read and change, so pages and API are permission-checked and audited alike.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiroku_core::Permission;
use kiroku_core::ledgers::{self, DutySource, DutyState, EntryStatus, EventKind, FieldType, KindDef, LEDGERS, LedgerKind};
use kiroku_store::governance_ledgers::{LedgerEntry, LedgerRevision};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::i18n::{Lang, Texts, explain};
use super::page::*;
use crate::AppState;
use crate::api::ledgers::{self as api, ListQuery};
use crate::error::ApiError;

/// The texts of these pages, Japanese and English, kept beside them.
const TEXTS: &Texts = &[
    ("index_title", "台帳", "Ledgers"),
    (
        "index_explain",
        "ガイドラインの運用的対策の記録です。記録は削除も上書きもできず、修正は新しい版として残ります。承認が必要な台帳は、記録した本人以外が承認します。",
        "Records of the guideline's operational measures. Nothing is deleted or overwritten; a correction is a new revision. Where an approval is needed, someone other than the person who entered it approves.",
    ),
    ("ledger", "台帳", "Ledger"),
    ("items", "ガイドライン項目", "Guideline items"),
    ("count", "件数", "Entries"),
    ("pending", "承認待ち", "Waiting for approval"),
    ("needs_approval", "承認が必要", "needs approval"),
    ("pending_title", "承認待ちの記録", "Entries waiting for an approval"),
    ("pending_none", "承認待ちの記録はありません。", "Nothing waits for an approval."),
    ("duties_link", "定期業務（期限と研修受講状況）", "Periodic duties (due dates and training)"),
    ("new", "新規記録", "New entry"),
    ("all_ledgers", "台帳一覧へ", "All ledgers"),
    ("filter", "絞り込み", "Filter"),
    ("from", "期間（から）", "From"),
    ("to", "期間（まで）", "To"),
    ("state", "状態", "State"),
    ("any", "すべて", "any"),
    ("show", "表示", "Show"),
    ("date", "日付", "Date"),
    ("title_col", "記録", "Entry"),
    ("entered", "記録者・日時", "Entered by, at"),
    ("none", "該当する記録はありません。", "No entries match."),
    ("next_page", "さらに古い記録", "Older entries"),
    ("first_page", "最新に戻る", "Back to the newest"),
    ("form_new", "新規記録", "New entry"),
    ("form_revise", "記録の修正（新しい版）", "Revise the entry (a new revision)"),
    ("required", "必須", "required"),
    ("users_hint", "利用者IDをカンマ区切りで", "account names, separated by commas"),
    ("save", "記録する", "Record"),
    ("save_revision", "新しい版として保存", "Save as a new revision"),
    (
        "revise_explain",
        "以前の版は履歴に残ります。承認が必要な台帳では、修正した版を改めて承認します。",
        "Earlier revisions are kept. Where an approval is needed, the revised entry is approved again.",
    ),
    ("cancel", "戻る", "Back"),
    ("revision", "版", "Revision"),
    ("current", "現在の内容", "Current content"),
    ("revise", "修正する", "Revise"),
    ("history", "版の履歴", "Revisions"),
    ("hash", "内容のハッシュ", "Content hash"),
    ("events", "経過（承認・完了・メモ）", "Events (approvals, closing, notes)"),
    ("events_none", "まだ記録はありません。", "Nothing recorded yet."),
    ("event", "操作", "Event"),
    ("note", "メモ", "Note"),
    ("by_at", "実施者・日時", "By, at"),
    ("ev.approve", "承認", "Approved"),
    ("ev.note", "メモ", "Note"),
    ("ev.loss_reported", "紛失・盗難の報告", "Loss or theft reported"),
    ("ev.close", "完了", "Closed"),
    ("approve", "承認する", "Approve"),
    (
        "approve_explain",
        "記録した本人は承認できません。別の担当者が内容を確認して承認してください。",
        "The person who entered it cannot approve it; someone else checks and approves.",
    ),
    ("approve_attachment", "承認の前に証明書（廃棄証明書など）を添付してください。", "Attach the certificate before approving."),
    ("close", "完了にする", "Close"),
    ("loss", "紛失・盗難を報告", "Report loss or theft"),
    ("add_note", "メモを追加", "Add a note"),
    ("attachments", "添付ファイル", "Attached files"),
    ("attachments_none", "添付ファイルはありません。", "No files attached."),
    ("attach", "添付する", "Attach"),
    ("file", "ファイル", "File"),
    ("yes", "はい", "yes"),
    ("no", "いいえ", "no"),
    ("read_only", "この職種は参照のみです。", "This role may only read."),
    ("n.created", "記録しました。", "Recorded."),
    ("n.revised", "新しい版を保存しました。", "The new revision was saved."),
    ("n.approve", "承認しました。", "Approved."),
    ("n.close", "完了にしました。", "Closed."),
    ("n.note", "メモを記録しました。", "The note was recorded."),
    ("n.loss_reported", "紛失・盗難の報告を記録しました。", "The loss or theft was recorded."),
    ("n.attached", "ファイルを添付しました。", "The file was attached."),
    ("error", "入力を確認してください", "Please check the input"),
    ("refused", "この操作はできません", "This cannot be done"),
    ("duties_title", "定期業務", "Periodic duties"),
    (
        "duties_explain",
        "定期的に行う業務の前回実施日と次回期限です。一度も記録がない業務は期限超過として表示します。期限は設定ファイル [governance] で変えられます。",
        "When each periodic duty was last done and is next due. A duty never recorded counts as overdue. The intervals are set in [governance] of the configuration.",
    ),
    ("today", "本日", "Today"),
    ("duty", "業務", "Duty"),
    ("interval", "周期（日）", "Interval (days)"),
    ("last_done", "前回実施", "Last done"),
    ("due_on", "次回期限", "Due on"),
    ("never", "記録なし", "never"),
    ("record", "記録する", "Record"),
    ("training_title", "職員の研修受講状況", "Staff training"),
    ("user", "利用者", "Account"),
    ("role", "職種", "Role"),
    ("last_trained", "最終受講日", "Last trained"),
    ("trained_ok", "受講済", "current"),
    ("trained_due", "要受講", "training due"),
    ("why.required", "入力してください", "is required"),
    ("why.date", "日付（YYYY-MM-DD）で入力してください", "must be a date YYYY-MM-DD"),
    ("why.datetime", "日時（YYYY-MM-DD HH:MM）で入力してください", "must be a date and time YYYY-MM-DDTHH:MM"),
    ("why.user", "登録されている利用者IDを入力してください", "must name an existing account"),
    ("why.number", "数値を入力してください", "must be a number"),
    ("why.choice", "選択肢から選んでください", "choose one of the options"),
    ("why.line", "1行で入力してください", "must be one line"),
    ("why.long", "長すぎます", "is too long"),
    ("why.control", "使用できない文字が含まれています", "contains characters that cannot be used"),
    (
        "why.own",
        "記録した本人は承認できません。別の担当者が承認してください。",
        "The person who entered it cannot approve it; someone else must approve.",
    ),
    ("why.certificate", "承認の前に証明書を添付してください。", "Attach the certificate before approving."),
    ("why.closed", "この記録は完了しているため変更できません。", "The entry is closed and cannot be changed."),
    ("why.approve_first", "先に承認が必要です。", "The entry must be approved first."),
    ("why.not_pending", "現在の版は承認待ちではありません。", "The current revision is not waiting for an approval."),
    ("why.loss_again", "紛失・盗難は既に報告されています。", "Loss or theft was already reported."),
    ("why.no_event", "この台帳ではこの操作はできません。", "This ledger does not take this event."),
    (
        "why.stale",
        "表示した後に他の担当者が修正しました。最新の内容を確認してください。",
        "Someone revised the entry meanwhile; check the newest content.",
    ),
];

fn text(lang: Lang, key: &str) -> &'static str {
    lang.pick(TEXTS, key)
}

/// A failure as these pages explain it: the field's label from the ledger's definition and the
/// reason in the page's language; the workflow's refusals (approval by the person who entered it…)
/// in words; anything else as the other pages explain it.
fn why(lang: Lang, def: Option<&KindDef>, e: &ApiError) -> String {
    let reasons = [
        ("is required", "why.required"),
        ("must be a date and time", "why.datetime"),
        ("must be a date", "why.date"),
        ("must be an account", "why.user"),
        ("is not an account", "why.user"),
        ("must be a list of account", "why.user"),
        ("must be a number", "why.number"),
        ("must be one of", "why.choice"),
        ("must be one line", "why.line"),
        ("must be at most", "why.long"),
        ("must not contain control", "why.control"),
    ];
    let refusals = [
        ("an approval must be given by someone other", "why.own"),
        ("attach the certificate", "why.certificate"),
        ("the entry is closed", "why.closed"),
        ("the entry must be approved first", "why.approve_first"),
        ("the current revision is not waiting", "why.not_pending"),
        ("loss or theft was already reported", "why.loss_again"),
        ("takes no", "why.no_event"),
        ("the current version is", "why.stale"),
    ];
    if let (Some(field), Some(def)) = (&e.field, def)
        && let Some(f) = def.field(field)
    {
        let label = if lang == Lang::Ja { f.label_ja } else { f.label_en };
        let reason = reasons.iter().find(|(en, _)| e.detail.contains(en)).map_or(e.detail.as_str(), |(_, k)| text(lang, k));
        // The account's name the reason is about, when it names one.
        let named = e.detail.split_once(" is not an").map(|(n, _)| format!("（{n}）")).unwrap_or_default();
        return format!("{label}{named}: {reason}");
    }
    if let Some((_, key)) = refusals.iter().find(|(en, _)| e.detail.contains(en)) {
        return text(lang, key).to_string();
    }
    let x = explain(lang, e);
    if x.detail.is_empty() { x.title.to_string() } else { format!("{}: {}", x.title, x.detail) }
}

/// A page with a status other than 200 (a refused form shown again).
fn with_status(status: StatusCode, page: Result<Response, WebError>) -> Result<Response, WebError> {
    page.map(|r| (status, r).into_response())
}

fn kind_of(raw: &str) -> Result<LedgerKind, WebError> {
    Ok(api::ledger_kind(raw)?)
}

fn label(lang: Lang, def: &KindDef) -> &'static str {
    if lang == Lang::Ja { def.label_ja } else { def.label_en }
}

fn status_label(lang: Lang, s: EntryStatus) -> &'static str {
    match lang {
        Lang::Ja => s.label_ja(),
        Lang::En => match s {
            EntryStatus::Open => "recorded",
            EntryStatus::PendingApproval => "waiting for approval",
            EntryStatus::Approved => "approved",
            EntryStatus::LossReported => "loss or theft reported",
            EntryStatus::Closed => "closed",
        },
    }
}

fn statuses(lang: Lang, def: &KindDef) -> Vec<(&'static str, &'static str)> {
    [EntryStatus::Open, EntryStatus::PendingApproval, EntryStatus::Approved, EntryStatus::LossReported, EntryStatus::Closed]
        .into_iter()
        .filter(|s| match s {
            EntryStatus::Open => !def.approval,
            EntryStatus::PendingApproval | EntryStatus::Approved => def.approval,
            EntryStatus::LossReported => def.loss_report,
            EntryStatus::Closed => def.close_ja.is_some(),
        })
        .map(|s| (s.as_str(), status_label(lang, s)))
        .collect()
}

fn base(kind: LedgerKind) -> String {
    format!("/admin/governance/ledgers/{kind}")
}

/// A value as a page shows it: a choice by its label, yes/no, account names joined.
fn show(lang: Lang, ty: FieldType, v: Option<&Value>) -> String {
    match (ty, v) {
        (_, None | Some(Value::Null)) => String::new(),
        (FieldType::Choice(choices), Some(Value::String(s))) => choices
            .iter()
            .find(|(value, _, _)| value == s)
            .map_or_else(|| s.clone(), |(_, ja, en)| (if lang == Lang::Ja { *ja } else { *en }).to_string()),
        (_, Some(Value::Bool(b))) => text(lang, if *b { "yes" } else { "no" }).to_string(),
        (_, Some(Value::Array(items))) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
        (FieldType::DateTime, Some(Value::String(s))) => ledgers::parse_datetime(s).map_or_else(|| s.clone(), jst),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// A value as an input holds it.
fn input_value(ty: FieldType, v: Option<&Value>) -> String {
    match (ty, v) {
        (_, None | Some(Value::Null) | Some(Value::Bool(_))) => String::new(),
        (_, Some(Value::Array(items))) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
        // datetime-local takes "YYYY-MM-DDTHH:MM" in local (JST) time.
        (FieldType::DateTime, Some(Value::String(s))) => ledgers::parse_datetime(s).map_or_else(|| s.clone(), |t| jst(t).replace(' ', "T")),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// An entry's line in a list.
pub struct EntryRow {
    pub href: String,
    pub ledger: &'static str,
    pub date: String,
    pub title: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub entered: String,
}

fn row(lang: Lang, e: &LedgerEntry) -> EntryRow {
    let def = e.kind.def();
    let title_ty = def.field(def.title_field).map_or(FieldType::Text, |f| f.ty);
    let mut title = show(lang, title_ty, e.current.fields.get(def.title_field));
    if title.chars().count() > 80 {
        title = title.chars().take(79).chain(['…']).collect();
    }
    EntryRow {
        href: format!("{}/{}", base(e.kind), e.id),
        ledger: label(lang, def),
        date: e.current.entry_date.clone().unwrap_or_default(),
        title,
        status: e.status.as_str(),
        status_label: status_label(lang, e.status),
        entered: format!("{} {}", e.entered_by, jst(e.current.entered_at)),
    }
}

/// A ledger on the index.
pub struct LedgerRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub items: String,
    pub count: String,
    pub pending: usize,
    pub approval: bool,
}

#[derive(Template)]
#[template(path = "ledgers.html")]
struct IndexPage {
    c: Chrome,
    ledgers: Vec<LedgerRow>,
    pending: Vec<EntryRow>,
    can_manage: bool,
}

impl IndexPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

async fn can_manage(state: &AppState, s: &WebSession) -> Result<bool, WebError> {
    Ok(state.store.allows(s.auth.actor.role, Permission::GovernanceManage).await?)
}

/// The index: every ledger with its count (of the newest 200 entries, "200+" beyond) and what
/// waits for an approval. Two audited reads.
pub async fn index(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    let lang = s.chrome.lang;
    let all = api::list_as(&state, s.auth.actor.clone(), None, ListQuery { limit: Some(200), ..ListQuery::default() }).await?;
    let pending_q = ListQuery { status: Some("pending_approval".into()), limit: Some(200), ..ListQuery::default() };
    let pending = api::list_as(&state, s.auth.actor.clone(), None, pending_q).await?;
    let more = all.next_cursor.is_some();
    let ledgers = LEDGERS
        .iter()
        .map(|def| {
            let n = all.entries.iter().filter(|e| e.kind == def.kind).count();
            LedgerRow {
                kind: def.kind.as_str(),
                label: label(lang, def),
                items: def.items.join(", "),
                count: if more { format!("{n}+") } else { n.to_string() },
                pending: pending.entries.iter().filter(|e| e.kind == def.kind).count(),
                approval: def.approval,
            }
        })
        .collect();
    let page = IndexPage {
        can_manage: can_manage(&state, &s).await?,
        pending: pending.entries.iter().map(|e| row(lang, e)).collect(),
        c: s.chrome,
        ledgers,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "ledger_list.html")]
struct ListPage {
    c: Chrome,
    kind: &'static str,
    label: &'static str,
    items: String,
    statuses: Vec<(&'static str, &'static str)>,
    q_from: String,
    q_to: String,
    q_status: String,
    error: String,
    rows: Vec<EntryRow>,
    next: String,
    paged: bool,
    can_manage: bool,
}

impl ListPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    cursor: String,
}

/// A ledger's entries, newest first, 50 a page, filtered by period and state.
pub async fn list(State(state): State<AppState>, Path(raw): Path<String>, uri: Uri, s: WebSession) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let def = kind.def();
    let lang = s.chrome.lang;
    let f: ListForm = parse_query(&uri)?;
    let q = ListQuery {
        status: Some(f.status.clone()),
        from: Some(f.from.clone()),
        to: Some(f.to.clone()),
        cursor: Some(f.cursor.clone()),
        limit: Some(50),
    };
    let (rows, next, error) = match api::list_as(&state, s.auth.actor.clone(), Some(kind), q).await {
        Ok(p) => {
            let next = p.next_cursor.map_or_else(String::new, |c| {
                let query = [("from", &f.from), ("to", &f.to), ("status", &f.status), ("cursor", &c)];
                let query = serde_urlencoded::to_string(query).unwrap_or_default();
                format!("{}?{query}", base(kind))
            });
            (p.entries.iter().map(|e| row(lang, e)).collect(), next, String::new())
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let msg = match e.field.as_deref() {
                Some("from" | "to") => {
                    format!("{}: {}", text(lang, if e.field.as_deref() == Some("from") { "from" } else { "to" }), text(lang, "why.date"))
                }
                _ => why(lang, Some(def), &e),
            };
            (Vec::new(), String::new(), msg)
        }
        Err(e) => return Err(e.into()),
    };
    let page = ListPage {
        kind: kind.as_str(),
        label: label(lang, def),
        items: def.items.join(", "),
        statuses: statuses(lang, def),
        paged: !f.cursor.is_empty(),
        q_from: f.from,
        q_to: f.to,
        q_status: f.status,
        can_manage: can_manage(&state, &s).await?,
        c: s.chrome,
        error,
        rows,
        next,
    };
    let status = if page.error.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    with_status(status, render(&page))
}

/// An input of the form, generated from a field's definition.
pub struct FieldView {
    pub name: String,
    pub label: &'static str,
    /// text, textarea, date, datetime-local, number, select, checkbox, users, user
    pub input: &'static str,
    pub required: bool,
    pub value: String,
    pub checked: bool,
    /// (value, label, selected)
    pub options: Vec<(&'static str, &'static str, bool)>,
}

fn field_views(lang: Lang, def: &KindDef, values: &BTreeMap<String, String>) -> Vec<FieldView> {
    def.fields
        .iter()
        .map(|f| {
            let value = values.get(f.name).cloned().unwrap_or_default();
            let input = match f.ty {
                FieldType::Text => "text",
                FieldType::LongText => "textarea",
                FieldType::Date => "date",
                FieldType::DateTime => "datetime-local",
                FieldType::User => "user",
                FieldType::Users => "users",
                FieldType::Number => "number",
                FieldType::Choice(_) => "select",
                FieldType::Bool => "checkbox",
            };
            let options = match f.ty {
                FieldType::Choice(choices) => {
                    choices.iter().map(|(v, ja, en)| (*v, if lang == Lang::Ja { *ja } else { *en }, *v == value)).collect()
                }
                _ => Vec::new(),
            };
            FieldView {
                name: format!("f_{}", f.name),
                label: if lang == Lang::Ja { f.label_ja } else { f.label_en },
                input,
                required: f.required,
                checked: f.ty == FieldType::Bool && !value.is_empty(),
                value,
                options,
            }
        })
        .collect()
}

/// The typed values of a form (`f_<field>`), as given.
fn form_values(form: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    form.iter().filter_map(|(k, v)| k.strip_prefix("f_").map(|name| (name.to_string(), v.clone()))).collect()
}

/// The form's values as the API's fields: empty inputs left out (a required one is then refused
/// by name), a checked box as `true`.
fn to_fields(def: &KindDef, values: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut out = Map::new();
    for f in def.fields {
        let Some(v) = values.get(f.name).map(|v| v.trim()).filter(|v| !v.is_empty()) else { continue };
        let value = if f.ty == FieldType::Bool { Value::Bool(true) } else { Value::String(v.to_string()) };
        out.insert(f.name.to_string(), value);
    }
    out
}

/// A stored revision's values as the form holds them.
fn values_of(def: &KindDef, revision: &LedgerRevision) -> BTreeMap<String, String> {
    def.fields
        .iter()
        .filter_map(|f| {
            let v = revision.fields.get(f.name)?;
            let s = if f.ty == FieldType::Bool {
                if v.as_bool() == Some(true) { "true".to_string() } else { String::new() }
            } else {
                input_value(f.ty, Some(v))
            };
            Some((f.name.to_string(), s))
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ledger_form.html")]
struct FormPage {
    c: Chrome,
    kind: &'static str,
    label: &'static str,
    approval: bool,
    action: String,
    back: String,
    /// The revision being revised (`None` for a new entry).
    revision: Option<i64>,
    fields: Vec<FieldView>,
    error: String,
}

impl FormPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn form_page(
    c: Chrome,
    kind: LedgerKind,
    entry: Option<(&str, i64)>,
    values: &BTreeMap<String, String>,
    error: String,
) -> Result<Response, WebError> {
    let def = kind.def();
    let (action, back) = match entry {
        Some((id, _)) => (format!("{}/{id}/edit", base(kind)), format!("{}/{id}", base(kind))),
        None => (base(kind), base(kind)),
    };
    let page = FormPage {
        kind: kind.as_str(),
        label: label(c.lang, def),
        approval: def.approval,
        action,
        back,
        revision: entry.map(|(_, r)| r),
        fields: field_views(c.lang, def, values),
        c,
        error,
    };
    render(&page)
}

pub async fn new_form(Path(raw): Path<String>, s: WebSession) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    form_page(s.chrome, kind, None, &BTreeMap::new(), String::new())
}

/// Records an entry; a refused one shows the form again with the typed values and the reason.
pub async fn create(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    post: WebPost<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let values = form_values(&post.form);
    let s = post.session;
    match api::create_as(&state, s.auth.actor.clone(), kind, to_fields(kind.def(), &values)).await {
        Ok(entry) => Ok(see_other(&format!("{}/{}?n=created", base(kind), entry.id))),
        Err(e) if matches!(e.status().as_u16(), 403 | 409 | 422) => {
            let msg = why(s.chrome.lang, Some(kind.def()), &e);
            with_status(e.status(), form_page(s.chrome, kind, None, &values, msg))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    Path((raw, id)): Path<(String, String)>,
    s: WebSession,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let entry = api::entry_as(&state, s.auth.actor.clone(), kind, id).await?;
    let values = values_of(kind.def(), &entry.current);
    form_page(s.chrome, kind, Some((&entry.id, entry.current.revision)), &values, String::new())
}

/// Saves a new revision; the form carries the revision it was made from, so a revision by someone
/// else meanwhile is refused rather than overwritten.
pub async fn revise(
    State(state): State<AppState>,
    Path((raw, id)): Path<(String, String)>,
    post: WebPost<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let values = form_values(&post.form);
    let revision = post.form.get("revision").and_then(|r| r.parse::<i64>().ok());
    let s = post.session;
    api::entry_as(&state, s.auth.actor.clone(), kind, id.clone()).await?;
    match api::revise_as(&state, s.auth.actor.clone(), id.clone(), revision, to_fields(kind.def(), &values)).await {
        Ok(entry) => Ok(see_other(&format!("{}/{}?n=revised", base(kind), entry.id))),
        Err(e) if matches!(e.status().as_u16(), 403 | 409 | 422) => {
            let msg = why(s.chrome.lang, Some(kind.def()), &e);
            with_status(e.status(), form_page(s.chrome, kind, Some((&id, revision.unwrap_or(0))), &values, msg))
        }
        Err(e) => Err(e.into()),
    }
}

/// A revision as the history shows it.
pub struct RevisionView {
    pub revision: i64,
    pub entered: String,
    pub hash: String,
    /// (label, value) of the fields.
    pub fields: Vec<(&'static str, String)>,
}

/// An event as the entry shows it.
pub struct EventView {
    pub kind: &'static str,
    pub label: &'static str,
    pub revision: i64,
    pub note: String,
    pub by_at: String,
}

/// An attached file as the entry shows it.
pub struct AttachmentView {
    pub href: String,
    pub name: String,
    pub size: i64,
    pub added: String,
}

#[derive(Template)]
#[template(path = "ledger_entry.html")]
struct EntryPage {
    c: Chrome,
    kind: &'static str,
    label: &'static str,
    id: String,
    status: &'static str,
    status_label: &'static str,
    revision: i64,
    entered: String,
    notice: &'static str,
    error: String,
    note: String,
    /// Which form the kept note belongs to (the refused event's).
    note_event: &'static str,
    current: Vec<(&'static str, String)>,
    revisions: Vec<RevisionView>,
    events: Vec<EventView>,
    attachments: Vec<AttachmentView>,
    can_manage: bool,
    can_approve: bool,
    needs_attachment: bool,
    close_label: &'static str,
    can_close: bool,
    can_report_loss: bool,
    can_revise: bool,
}

impl EntryPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn fields_of(lang: Lang, def: &KindDef, r: &LedgerRevision) -> Vec<(&'static str, String)> {
    def.fields.iter().map(|f| (if lang == Lang::Ja { f.label_ja } else { f.label_en }, show(lang, f.ty, r.fields.get(f.name)))).collect()
}

async fn entry_page(
    state: &AppState,
    s: WebSession,
    kind: LedgerKind,
    id: String,
    notice: &'static str,
    error: String,
    note: (&'static str, String),
) -> Result<Response, WebError> {
    let entry = api::entry_as(state, s.auth.actor.clone(), kind, id).await?;
    let def = kind.def();
    let lang = s.chrome.lang;
    let can_manage = can_manage(state, &s).await?;
    let open = entry.status != EntryStatus::Closed;
    let pending = entry.status == EntryStatus::PendingApproval;
    let page = EntryPage {
        kind: kind.as_str(),
        label: label(lang, def),
        status: entry.status.as_str(),
        status_label: status_label(lang, entry.status),
        revision: entry.current.revision,
        entered: format!("{} {}", entry.entered_by, jst(entry.revisions.first().map_or(entry.current.entered_at, |r| r.entered_at))),
        current: fields_of(lang, def, &entry.current),
        revisions: entry
            .revisions
            .iter()
            .rev()
            .map(|r| RevisionView {
                revision: r.revision,
                entered: format!("{} {}", r.entered_by, jst(r.entered_at)),
                hash: r.content_hash.chars().take(16).collect(),
                fields: fields_of(lang, def, r),
            })
            .collect(),
        events: entry
            .events
            .iter()
            .map(|e| EventView {
                kind: e.kind.as_str(),
                label: match e.kind {
                    EventKind::Close => {
                        def.close_ja.filter(|_| lang == Lang::Ja).or(def.close_en).unwrap_or_else(|| text(lang, "ev.close"))
                    }
                    k => text(lang, &format!("ev.{}", k.as_str())),
                },
                revision: e.revision,
                note: e.note.clone(),
                by_at: format!("{} {}", e.username, jst(e.at)),
            })
            .collect(),
        attachments: entry
            .attachments
            .iter()
            .map(|a| AttachmentView {
                href: format!("{}/{}/attachments/{}", base(kind), entry.id, a.id),
                name: a.name.clone(),
                size: a.size,
                added: format!("{} {}", a.added_by, jst(a.added_at)),
            })
            .collect(),
        // The approve button shows for the person who entered it too: the refusal explains the rule.
        can_approve: can_manage && def.approval && pending,
        needs_attachment: def.approval_needs_attachment && entry.attachments.is_empty(),
        close_label: if lang == Lang::Ja { def.close_ja.unwrap_or("") } else { def.close_en.unwrap_or("") },
        can_close: can_manage && open && def.close_ja.is_some() && !pending,
        can_report_loss: can_manage && open && def.loss_report && !pending && entry.status != EntryStatus::LossReported,
        can_revise: can_manage && open,
        can_manage,
        notice,
        error,
        note_event: note.0,
        note: note.1,
        id: entry.id,
        c: s.chrome,
    };
    render(&page)
}

#[derive(Deserialize, Default)]
struct EntryQuery {
    #[serde(default)]
    n: String,
}

/// The notice a redirect names, if it is one of ours.
fn notice_key(n: &str) -> &'static str {
    ["created", "revised", "approve", "close", "note", "loss_reported", "attached"]
        .iter()
        .find(|k| **k == n)
        .and_then(|k| TEXTS.iter().find(|(key, _, _)| key.strip_prefix("n.") == Some(*k)).map(|(key, _, _)| *key))
        .unwrap_or("")
}

pub async fn view(
    State(state): State<AppState>,
    Path((raw, id)): Path<(String, String)>,
    uri: Uri,
    s: WebSession,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let q: EntryQuery = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    entry_page(&state, s, kind, id, notice_key(&q.n), String::new(), ("", String::new())).await
}

/// An event from the entry's buttons (`event` = approve, close, note, loss_reported); a refusal
/// (approval by the person who entered it, closing before the approval…) shows the entry again
/// with the reason and the note kept.
pub async fn event(
    State(state): State<AppState>,
    Path((raw, id)): Path<(String, String)>,
    post: WebPost<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let note = post.form.get("note").cloned().unwrap_or_default();
    let s = post.session;
    let event = post
        .form
        .get("event")
        .and_then(|e| EventKind::parse(e))
        .ok_or_else(|| ApiError::validation("event", "must be approve, close, note or loss_reported"))?;
    api::entry_as(&state, s.auth.actor.clone(), kind, id.clone()).await?;
    match api::event_as(&state, s.auth.actor.clone(), id.clone(), event, note.clone()).await {
        Ok(entry) => Ok(see_other(&format!("{}/{}?n={}", base(kind), entry.id, event.as_str()))),
        Err(e) if matches!(e.status().as_u16(), 403 | 409 | 422) => {
            let status = e.status();
            let msg = why(s.chrome.lang, Some(kind.def()), &e);
            with_status(status, entry_page(&state, s, kind, id, "", msg, (event.as_str(), note)).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Attaches a file (multipart: the CSRF token first, then the file).
pub async fn upload(
    State(state): State<AppState>,
    Path((raw, id)): Path<(String, String)>,
    s: WebSession,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    let (stored, name, media_type) = super::documents::receive_file(&state, &s, &mut form).await?;
    api::entry_as(&state, s.auth.actor.clone(), kind, id.clone()).await?;
    match api::attach_stored(&state, s.auth.actor.clone(), id.clone(), name, media_type, stored).await {
        Ok(_) => Ok(see_other(&format!("{}/{id}?n=attached", base(kind)))),
        Err(e) if matches!(e.status().as_u16(), 403 | 409 | 422) => {
            let status = e.status();
            let msg = why(s.chrome.lang, Some(kind.def()), &e);
            with_status(status, entry_page(&state, s, kind, id, "", msg, ("", String::new())).await)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn download(
    State(state): State<AppState>,
    Path((raw, id, attachment_id)): Path<(String, String, String)>,
    s: WebSession,
) -> Result<Response, WebError> {
    let kind = kind_of(&raw)?;
    api::entry_as(&state, s.auth.actor.clone(), kind, id.clone()).await?;
    Ok(api::download_as(&state, s.auth.actor, id, attachment_id).await?)
}

/// A duty as the page shows it.
pub struct DutyView {
    pub id: String,
    pub label: String,
    pub items: String,
    pub interval: i64,
    pub last_done: String,
    pub evidence: String,
    pub due_on: String,
    pub state: &'static str,
    pub state_label: &'static str,
    /// Where to record the next completion (a ledger's form), if kiroku keeps it in a ledger.
    pub record: String,
}

/// An account's training as the page shows it.
pub struct TrainingView {
    pub username: String,
    pub name: String,
    pub role: &'static str,
    pub last: String,
    pub session: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "ledger_duties.html")]
struct DutiesPage {
    c: Chrome,
    today: String,
    duties: Vec<DutyView>,
    training: Vec<TrainingView>,
}

impl DutiesPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn duty_state_label(lang: Lang, s: DutyState) -> &'static str {
    match (lang, s) {
        (Lang::Ja, s) => s.label_ja(),
        (Lang::En, DutyState::Ok) => "done",
        (Lang::En, DutyState::DueSoon) => "due soon",
        (Lang::En, DutyState::Overdue) => "overdue",
    }
}

/// The periodic duties: last completion, next due date, overdue ones highlighted; and every staff
/// account's training.
pub async fn duties(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    let lang = s.chrome.lang;
    let report = api::duties_as(&state, s.auth.actor.clone()).await?;
    let sources = ledgers::duties(&report.intervals);
    let duties = report
        .duties
        .iter()
        .map(|d| {
            let record = match sources.iter().find(|(duty, _)| duty.id == d.id).map(|(duty, _)| duty.source) {
                Some(DutySource::Ledger(kind)) => format!("{}/new", base(kind)),
                _ if d.id.starts_with("contract_review:") => d
                    .evidence
                    .as_deref()
                    .and_then(|e| e.strip_prefix("ledger:"))
                    .map_or_else(String::new, |p| format!("/admin/governance/ledgers/{p}")),
                _ => String::new(),
            };
            let evidence = match d.evidence.as_deref().and_then(|e| e.strip_prefix("ledger:")) {
                Some(path) => format!("/admin/governance/ledgers/{path}"),
                None => String::new(),
            };
            DutyView {
                id: d.id.replace(':', "-"),
                label: if lang == Lang::Ja { d.label_ja.clone() } else { d.label_en.clone() },
                items: d.items.join(", "),
                interval: d.interval_days,
                last_done: d.last_done.clone().unwrap_or_else(|| text(lang, "never").to_string()),
                evidence,
                due_on: d.due_on.clone(),
                state: match d.state {
                    DutyState::Ok => "ok",
                    DutyState::DueSoon => "due_soon",
                    DutyState::Overdue => "overdue",
                },
                state_label: duty_state_label(lang, d.state),
                record,
            }
        })
        .collect();
    let training = report
        .training
        .iter()
        .map(|t| TrainingView {
            username: t.username.to_string(),
            name: t.display_name.clone(),
            role: lang.role(t.role),
            last: t.last_trained.clone().unwrap_or_else(|| text(lang, "never").to_string()),
            session: t.session.as_ref().map_or_else(String::new, |id| format!("{}/{id}", base(LedgerKind::Training))),
            current: t.current,
        })
        .collect();
    let page = DutiesPage { c: s.chrome, today: report.today, duties, training };
    render(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_of_the_ledger_pages_exists() {
        crate::web::i18n::assert_texts_complete(
            TEXTS,
            &["ledgers.html", "ledger_list.html", "ledger_form.html", "ledger_entry.html", "ledger_duties.html"],
            "tr(\"",
        );
    }

    #[test]
    fn form_values_become_fields_and_back() {
        let def = LedgerKind::TakeOut.def();
        let mut form = BTreeMap::new();
        form.insert("csrf".to_string(), "x".to_string());
        form.insert("f_item".to_string(), " USBメモリ ".to_string());
        form.insert("f_personal_data".to_string(), "true".to_string());
        form.insert("f_purpose".to_string(), String::new());
        let fields = to_fields(def, &form_values(&form));
        assert_eq!(fields.get("item"), Some(&Value::String("USBメモリ".into())));
        assert_eq!(fields.get("personal_data"), Some(&Value::Bool(true)));
        assert!(!fields.contains_key("purpose"), "an empty input is left out, so a required one is refused by name");
        let e = ApiError::validation("purpose", "is required");
        assert_eq!(why(Lang::Ja, Some(def), &e), "目的: 入力してください");
        let own = ApiError::forbidden(kiroku_core::access::Denied::OwnEntry.to_string());
        assert!(why(Lang::Ja, Some(def), &own).contains("本人は承認できません"));
    }
}
