//! The compliance checklist pages (/admin/governance/checklist): every item with its status, the
//! reason and links to the evidence, filters by status and table, the audit officer's sign-off, manual
//! attestations, the print view, kiroku's self-disclosure and the technical/operational split. The
//! API's functions compute everything, so the pages and the API always agree.

use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use kiroku_core::{Permission, Timestamp};
use kiroku_governance::checklist::{Met, Row, Status};
use kiroku_governance::disclosure::{Disclosure, SplitRow};
use kiroku_governance::evidence::keys;
use serde::Deserialize;

use super::i18n::{Lang, Texts};
use super::page::*;
use crate::AppState;
use crate::api::checklist::{self as api, Attest, Current, Filter, SignOff};

/// The texts of these pages, Japanese and English, kept beside them.
const TEXTS: &Texts = &[
    ("title", "安全管理ガイドライン チェックリスト", "Safety-management guideline checklist"),
    (
        "explain",
        "各項目の状態は稼働中のkirokuの証跡から算出しています。証跡がなければ未充足です。kirokuから見えない運用的対策は、台帳への記録か手動確認で示します。",
        "Each status is computed from evidence of the running kiroku. No evidence counts as not satisfied. Operational measures kiroku cannot see are shown by a ledger entry or a manual attestation.",
    ),
    ("facility", "施設", "Facility"),
    ("class", "施設区分", "Facility class"),
    ("generated", "算出日時", "Computed at"),
    ("hash", "報告のハッシュ", "Report hash"),
    ("filter", "絞り込み", "Filter"),
    ("status", "状態", "Status"),
    ("table", "表", "Table"),
    ("any", "すべて", "any"),
    ("show", "表示", "Show"),
    ("id", "ID", "ID"),
    ("item", "実施項目", "Item"),
    ("reason", "理由", "Reason"),
    ("evidence", "証跡", "Evidence"),
    ("days_ago", "日前", "days ago"),
    ("config", "現在の設定", "current setting"),
    ("missing", "証跡なし", "no evidence"),
    ("none", "該当する項目はありません。", "No items match."),
    (
        "mhlw",
        "医療機関におけるサイバーセキュリティ対策チェックリスト（厚生労働省）との対応",
        "MHLW cyber-security checklist, mapped to the same evidence",
    ),
    ("exports", "出力", "Exports"),
    ("csv", "CSV（Excel用）", "CSV (for Excel)"),
    ("pdf", "PDF（PDF/A）", "PDF (PDF/A)"),
    ("print", "印刷用表示", "Print view"),
    ("oscal_catalog", "OSCALカタログ", "OSCAL catalog"),
    ("oscal_profile", "OSCALプロファイル", "OSCAL profile"),
    ("oscal_results", "OSCAL評価結果", "OSCAL assessment results"),
    ("disclosure", "kirokuのセキュリティ開示書", "kiroku's security self-disclosure"),
    ("split", "技術的・運用的対策の分担表", "Technical/operational split"),
    ("signoff", "監査責任者の確認", "Audit officer's sign-off"),
    ("signoff_last", "最新の確認", "Latest sign-off"),
    ("signoff_none", "まだ確認されていません。", "Not signed off yet."),
    ("signoff_matches", "（この内容と一致）", "(matches this report)"),
    ("signoff_differs", "（その後、内容が変わっています）", "(the report has changed since)"),
    ("comment", "所見", "Comment"),
    ("sign", "この内容を確認した", "Sign off this report"),
    ("signed", "チェックリストの確認を記録しました。", "The sign-off was recorded."),
    ("attest", "手動確認（kirokuから見えない項目）", "Manual attestation (items kiroku cannot see)"),
    ("attest_explain", "確認した人・日時・理由は監査証跡に記録されます。", "Who, when and why are recorded in the audit trail."),
    ("attest_submit", "確認を記録", "Record the attestation"),
    ("attested", "手動確認を記録しました。", "The attestation was recorded."),
    ("by", "確認者", "By"),
    ("question", "機能", "Function"),
    ("answer", "回答", "Answer"),
    ("basis", "根拠（現在の設定・記録）", "Basis (current configuration and records)"),
    ("items", "ガイドライン項目", "Guideline items"),
    (
        "disclosure_explain",
        "JAHIS/JIRA MDS/SDSの形式に倣い、kiroku自身のセキュリティ機能を稼働中の設定から回答しています。",
        "In the manner of the JAHIS/JIRA MDS/SDS, kiroku's own security functions answered from its running configuration.",
    ),
    ("kiroku_enforces", "kirokuが技術的に実施（証跡）", "kiroku enforces (evidence)"),
    ("technical", "技術的対策（ガイドライン）", "Technical measures (guideline)"),
    ("facility_performs", "施設が実施する運用的対策", "The facility performs"),
    ("ledgers", "記録先の台帳", "Ledgers"),
    (
        "split_explain",
        "T1-4.6: 技術的対策と運用的対策の分担を、カタログとチェックリストの規則から生成しています。",
        "T1-4.6: the split between technical and operational measures, generated from the catalogue and the checklist's rules.",
    ),
    ("yes", "はい", "yes"),
    ("partly", "一部", "partly"),
    ("no", "いいえ", "no"),
    (
        "print_note",
        "ブラウザの印刷機能で印刷できます。PDFは一覧の「PDF」から取得できます。",
        "Use the browser's print function; the checklist's PDF link gives a PDF/A file.",
    ),
    ("back", "チェックリストへ戻る", "Back to the checklist"),
];

fn text(lang: Lang, key: &str) -> &'static str {
    lang.pick(TEXTS, key)
}

fn status_label(lang: Lang, s: Status) -> &'static str {
    if lang == Lang::Ja { s.label_ja() } else { s.label_en() }
}

/// A piece of evidence as a row shows it.
pub struct EvidenceLink {
    pub label: String,
    pub href: String,
    pub met: &'static str,
}

/// A checklist row formatted for the page.
pub struct RowView {
    pub id: String,
    pub title: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub reason: String,
    pub evidence: Vec<EvidenceLink>,
}

fn row_view(lang: Lang, r: &Row) -> RowView {
    let evidence = r
        .findings
        .iter()
        .map(|f| {
            let age = match (f.age_days, f.link.is_empty()) {
                (Some(a), _) => format!("{a} {}", text(lang, "days_ago")),
                (None, true) => text(lang, "missing").to_string(),
                (None, false) => text(lang, "config").to_string(),
            };
            EvidenceLink {
                label: format!("{} ({age})", f.evidence),
                href: f.link.clone(),
                met: match f.met {
                    Met::Yes => "yes",
                    Met::Partly => "partly",
                    Met::No => "no",
                },
            }
        })
        .collect();
    RowView {
        id: r.id.clone(),
        title: r.title_ja.clone(),
        status: r.status.as_str(),
        status_label: status_label(lang, r.status),
        reason: if lang == Lang::Ja { r.reason_ja.clone() } else { r.reason_en.clone() },
        evidence,
    }
}

/// The last sign-off as the page shows it.
pub struct SignOffView {
    pub when: String,
    pub by: String,
    pub matches: bool,
}

#[derive(Template)]
#[template(path = "checklist.html")]
struct ChecklistPage {
    c: Chrome,
    facility: String,
    class: String,
    generated: String,
    hash: String,
    counts: Vec<(&'static str, &'static str, usize)>,
    rows: Vec<RowView>,
    mhlw: Vec<RowView>,
    statuses: Vec<(&'static str, &'static str)>,
    q_status: String,
    q_table: String,
    last_signoff: Option<SignOffView>,
    can_sign: bool,
    can_attest: bool,
    attestable: Vec<String>,
    notice: &'static str,
    print: bool,
}

impl ChecklistPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

fn page(
    state: &AppState,
    s: WebSession,
    cur: Current,
    filter: &Filter,
    notice: &'static str,
    print: bool,
    rights: (bool, bool),
) -> Result<Response, WebError> {
    let (status, table) = filter.parse()?;
    let lang = s.chrome.lang;
    let hash = cur.report.hash();
    let last_signoff = cur.evidence.get(keys::CHECKLIST_SIGNOFF).map(|e| SignOffView {
        when: e.time.map(jst).unwrap_or_default(),
        by: e.by.clone().unwrap_or_default(),
        matches: e.facts.get("content_hash").and_then(|h| h.as_str()) == Some(hash.as_str()),
    });
    let catalogue = &*state.settings.catalogue;
    let attestable = catalogue
        .items
        .iter()
        .map(|i| i.id.as_str())
        .chain(kiroku_governance::mhlw::ITEMS.iter().map(|m| m.id))
        .filter(|id| kiroku_governance::checklist::attestable(id, |x| catalogue.item(x).is_some()))
        .map(str::to_string)
        .collect();
    let _ = state;
    render(&ChecklistPage {
        facility: cur.facility.name.clone(),
        class: format!(
            "{} {}",
            cur.facility.class.as_str(),
            if lang == Lang::Ja { cur.facility.class.label_ja() } else { cur.facility.class.label_en() }
        ),
        generated: jst(cur.at),
        counts: cur.report.counts().into_iter().map(|(st, n)| (st.as_str(), status_label(lang, st), n)).collect(),
        rows: api::filtered(&cur.report, status, table).into_iter().map(|r| row_view(lang, r)).collect(),
        mhlw: cur.report.mhlw.iter().map(|r| row_view(lang, r)).collect(),
        statuses: Status::ALL.iter().map(|st| (st.as_str(), status_label(lang, *st))).collect(),
        q_status: filter.status.clone().unwrap_or_default(),
        q_table: filter.table.clone().unwrap_or_default(),
        hash,
        last_signoff,
        can_sign: rights.0,
        can_attest: rights.1,
        attestable,
        notice,
        print,
        c: s.chrome,
    })
}

async fn rights(state: &AppState, s: &WebSession) -> Result<(bool, bool), WebError> {
    let role = s.auth.actor.role;
    Ok((state.store.allows(role, Permission::AuditRead).await?, state.store.allows(role, Permission::GovernanceManage).await?))
}

async fn show(state: &AppState, s: WebSession, filter: Filter, notice: &'static str, print: bool) -> Result<Response, WebError> {
    let cur = api::current_for(state, &s.auth).await?;
    let rights = rights(state, &s).await?;
    page(state, s, cur, &filter, notice, print, rights)
}

pub async fn view(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let filter: Filter = parse_query(&uri)?;
    show(&state, s, filter, "", false).await
}

pub async fn print(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let filter: Filter = parse_query(&uri)?;
    show(&state, s, filter, "", true).await
}

pub async fn csv(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let filter: Filter = parse_query(&uri)?;
    let (status, table) = filter.parse()?;
    let cur = api::current_for(&state, &s.auth).await?;
    Ok(api::attachment("text/csv; charset=utf-8", "kiroku-checklist.csv", api::to_csv(&cur.report, status, table)))
}

/// The checklist as PDF/A-2b, with the page's filters.
pub async fn pdf(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let filter: Filter = parse_query(&uri)?;
    let (status, table) = filter.parse()?;
    let cur = api::current_for(&state, &s.auth).await?;
    Ok(api::pdf(&cur, status, table).await?)
}

/// The OSCAL documents through the page session (the API serves the same with a bearer token).
pub async fn oscal(
    State(state): State<AppState>,
    s: WebSession,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Response, WebError> {
    let cur = api::current_for(&state, &s.auth).await?;
    let cat = &*state.settings.catalogue;
    let now = Timestamp::now();
    let doc = match name.as_str() {
        "catalog.json" => kiroku_governance::oscal::catalog(&kiroku_governance::oscal::item_texts(cat), &cat.edition, now),
        "profile.json" => {
            let ids: Vec<String> = cat.applicable_to(cur.facility.class).iter().map(|i| i.id.clone()).collect();
            kiroku_governance::oscal::profile(cur.facility.class.as_str(), &ids, &cat.edition, "catalog.json", now)
        }
        "assessment-results.json" => kiroku_governance::oscal::assessment_results(&cur.report, &cur.facility.name, "profile.json", cur.at),
        _ => return Err(crate::error::ApiError::not_found("document").into()),
    };
    let body = serde_json::to_vec_pretty(&doc).map_err(|_| crate::error::ApiError::internal())?;
    Ok(api::attachment("application/json", &format!("kiroku-oscal-{name}"), body))
}

#[derive(Deserialize)]
pub struct SignOffForm {
    report_hash: String,
    #[serde(default)]
    comment: String,
}

pub async fn sign_off(State(state): State<AppState>, post: WebPost<SignOffForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    api::sign_off_as(&state, &session.auth, SignOff { report_hash: form.report_hash, comment: form.comment }).await?;
    show(&state, session, Filter::default(), "signed", false).await
}

#[derive(Deserialize)]
pub struct AttestForm {
    item: String,
    status: String,
    reason: String,
}

pub async fn attest(State(state): State<AppState>, post: WebPost<AttestForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    api::require(&state, &session.auth, Permission::GovernanceRead).await?;
    api::attest_as(&state, &session.auth, Attest { item: form.item, status: form.status, reason: form.reason }).await?;
    show(&state, session, Filter::default(), "attested", false).await
}

#[derive(Template)]
#[template(path = "disclosure.html")]
struct DisclosurePage {
    c: Chrome,
    d: Disclosure,
}

impl DisclosurePage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }

    fn ja(&self) -> bool {
        self.c.lang == Lang::Ja
    }
}

pub async fn disclosure(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    let d = api::disclosure_for(&state, &s.auth).await?;
    render(&DisclosurePage { c: s.chrome, d })
}

#[derive(Template)]
#[template(path = "split.html")]
struct SplitPage {
    c: Chrome,
    rows: Vec<SplitRow>,
}

impl SplitPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

pub async fn split(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    let rows = api::split_for(&state, &s.auth).await?;
    render(&SplitPage { c: s.chrome, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `tr("key")` in these pages' templates exists, and keys are unique.
    #[test]
    fn every_text_used_exists() {
        crate::web::i18n::assert_texts_complete(TEXTS, &["checklist.html", "disclosure.html", "split.html"], "tr(\"");
    }
}
