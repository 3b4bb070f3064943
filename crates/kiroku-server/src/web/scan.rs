//! Scanned paper pages (スキャナ読み取り書類, T2-5.1 … T2-5.4): the scan types and their rules
//! (スキャン文書種別, for whoever holds scan.manage), a patient's papers (received, then scanned:
//! the file uploaded and checked against its type's rule and deadline), the register
//! (スキャン台帳) with filters, the overdue list (期限超過), each file's proof (the stored bytes,
//! every signature's verdict, the file's own timestamp) with the form to sign it, and the
//! originals register (原本管理: kept, disposal requested, disposal approved by a second person).
//! Every handler calls the API's functions and the store's commands (`api::scan`,
//! `api::signatures`), so the rules, permissions and audit events are the API's.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use kiroku_core::scan::{ColourMode, OriginalHandling};
use kiroku_core::{PatientId, Permission};
use kiroku_store::Command;
use kiroku_store::scan::{ScanEntry, ScanEventKind, ScanTypeRecord};
use serde::Deserialize;

use super::i18n::{Lang, Texts, explain};
use super::page::*;
use super::patients::PatientRow;
use crate::AppState;
use crate::api::patients::patient_id;
use crate::api::scan::{self as api, OriginalRequest, TypeRequest};
use crate::error::ApiError;

/// The words of these pages, Japanese and English, kept beside them.
const TEXTS: &Texts = &[
    ("types_title", "スキャン文書種別", "Scan types"),
    (
        "types_explain",
        "スキャンする文書の種別ごとに、解像度・色・読み取り期限（作成または受領から何営業日以内か）・原本の扱いを定めます。変更は新しい版として記録されます。",
        "Each scanned document type has its rule: resolution, colour, the deadline (working days after the paper was made or received) and what happens to the original. A change is recorded as a new revision.",
    ),
    ("code", "コード", "Code"),
    ("name", "名称", "Name"),
    ("min_dpi", "最低解像度（dpi）", "Minimum resolution (dpi)"),
    ("colour", "色", "Colour"),
    ("deadline", "読み取り期限（営業日）", "Deadline (working days)"),
    ("original", "原本の扱い", "Original"),
    ("keep_years", "保管年数", "Years kept"),
    ("keep", "保管する", "Keep"),
    ("dispose", "確認後に廃棄する", "Dispose of after checking"),
    ("keep_for", "年間保管", "years kept"),
    ("revision", "版", "Revision"),
    ("edited", "変更者・日時", "Changed by, at"),
    ("retired", "使用を終了", "Retired"),
    ("edit", "変更", "Change"),
    ("new_type", "種別を追加", "Add a type"),
    ("edit_type", "種別の規程を変更", "Change the type's rule"),
    ("save", "保存", "Save"),
    ("saved", "スキャン文書種別を保存しました。", "The scan type was saved."),
    ("no_types", "スキャン文書種別はまだありません。", "No scan types yet."),
    ("code_hint", "半角英小文字・数字・-・_（例: referral）", "Lowercase letters, digits, - and _ (e.g. referral)"),
    ("monochrome", "白黒", "Black and white"),
    ("greyscale", "グレースケール", "Greyscale"),
    ("colour_c", "カラー", "Colour"),
    ("patient_title", "スキャン文書", "Scanned papers"),
    ("receive", "紙の書類を受け付ける", "Register a paper received"),
    (
        "receive_hint",
        "受け付けた日（または作成日）から読み取り期限が数えられます。",
        "The deadline runs from the day the paper was made or received.",
    ),
    ("type", "文書種別", "Type"),
    ("paper_date", "書類の作成日・受領日", "Date made or received"),
    ("receive_submit", "受付を記録", "Register"),
    ("received_ok", "受付を記録しました。", "The paper was registered."),
    ("upload", "スキャンしたファイルを取り込む", "Upload the scan"),
    (
        "upload_hint",
        "PDF・PNG・JPEG・TIFF。画像は解像度と色を規程と照合します。期限を過ぎた場合は遅延理由が必要です。",
        "PDF, PNG, JPEG or TIFF. Images are checked for resolution and colour against the rule. After the deadline a reason is required.",
    ),
    ("paper", "受付済みの書類", "Paper registered before"),
    ("new_paper", "新しい書類（下の種別と日付）", "A new paper (type and date below)"),
    ("late_reason", "遅延理由（期限を過ぎた場合）", "Reason for the delay (after the deadline)"),
    ("file", "ファイル", "File"),
    ("file_again", "ファイルはもう一度選んでください。", "Please choose the file again."),
    ("upload_submit", "取り込む", "Upload"),
    ("scanned_ok", "取り込みました。", "The scan was recorded."),
    ("register_title", "スキャン台帳", "Scan register"),
    (
        "register_explain",
        "受け付けた紙の書類と、その読み取り・署名・タイムスタンプ・原本の状況です。",
        "Papers received, and their scan, signature, timestamp and original.",
    ),
    ("overdue_title", "期限超過", "Overdue"),
    (
        "overdue_explain",
        "読み取り期限を過ぎて読み取られたもの、またはまだ読み取られていないものです。",
        "Papers scanned after their deadline, or still waiting past it.",
    ),
    ("patient", "患者ID", "Patient ID"),
    ("state", "状態", "State"),
    ("overdue_only", "期限超過のみ", "Overdue only"),
    ("from", "書類の日付（から）", "Paper date from"),
    ("to", "（まで）", "to"),
    ("any", "すべて", "any"),
    ("show", "表示", "Show"),
    ("due", "期限", "Deadline"),
    ("scanned_on", "読取日", "Scanned on"),
    ("scanned_by", "読取者", "Scanned by"),
    ("proof", "署名・タイムスタンプ", "Signature, timestamp"),
    ("signed", "署名済み", "signed"),
    ("unsigned", "未署名", "not signed"),
    ("stamped", "タイムスタンプ済み", "timestamped"),
    ("unstamped", "タイムスタンプ待ち", "timestamp pending"),
    ("late", "期限超過", "overdue"),
    ("none", "該当する書類はありません。", "No papers match."),
    ("today", "基準日", "As of"),
    ("st_received", "受付済み（未読取）", "Received, not scanned"),
    ("st_scanned", "読取済み", "Scanned"),
    ("st_kept", "原本保管中", "Original kept"),
    ("st_disposal_requested", "原本廃棄の申請中", "Disposal requested"),
    ("st_disposed", "原本廃棄済み", "Original disposed of"),
    ("item_title", "スキャン文書の検証", "Scanned file and its proof"),
    ("back_patient", "この患者のスキャン文書へ", "Back to the patient's scans"),
    ("file_facts", "ファイルの内容", "What the file says"),
    ("sha256", "SHA-256", "SHA-256"),
    ("size", "サイズ（バイト）", "Size (bytes)"),
    ("download", "ファイルを開く", "Open the file"),
    ("intact", "保存されたファイル", "Stored file"),
    ("intact_ok", "ハッシュと一致（改変なし）", "matches its hash (unchanged)"),
    ("verdict", "判定", "Verdict"),
    ("valid", "有効", "Valid"),
    ("invalid", "無効", "Not valid"),
    ("signatures", "電子署名", "Signatures"),
    ("no_signatures", "このファイルにはまだ電子署名がありません。", "This file is not signed yet."),
    ("timestamp", "タイムスタンプ（RFC 3161、ファイルごと）", "Timestamp (RFC 3161, per file)"),
    ("no_stamp", "タイムスタンプはまだ付与されていません（順次付与されます）。", "No timestamp yet (files are stamped in turn)."),
    ("stamp_time", "時刻", "Time"),
    ("tsa", "時刻認証局", "TSA"),
    (
        "verified",
        "検証済み: ファイル・電子署名・タイムスタンプがすべて有効です。",
        "Verified: the file, its signature and its timestamp are all valid.",
    ),
    ("not_verified", "未検証: 下の判定を確認してください。", "Not verified: see the verdicts below."),
    ("sign_title", "このファイルに電子署名する（情報作成管理者）", "Sign this file (scanning officer)"),
    (
        "sign_hint",
        "読み取った書類と画像を照合したうえで署名してください。署名はファイルのバイト列そのものに対して行われます。",
        "Sign once you have checked the image against the paper. The signature covers the file's exact bytes.",
    ),
    ("signed_ok", "電子署名を記録しました。", "The signature was recorded."),
    ("originals_title", "原本管理", "Originals register"),
    (
        "originals_explain",
        "読み取り後の紙の原本の保管と廃棄です。廃棄は申請した人・読み取った人以外の情報作成管理者が、電子署名とタイムスタンプの付与後に承認します。",
        "What happened to the paper originals after scanning. A disposal is approved by a scanning officer other than the requester and the person who scanned it, once the file is signed and timestamped.",
    ),
    ("location", "保管場所", "Location"),
    ("note", "備考", "Note"),
    ("keep_submit", "保管を記録", "Record as kept"),
    ("request_submit", "廃棄を申請", "Request disposal"),
    ("approve_submit", "廃棄を承認", "Approve disposal"),
    ("requested_by", "申請者", "Requested by"),
    ("approved_by", "承認者", "Approved by"),
    ("kept_at", "保管場所", "Kept at"),
    ("original_ok", "原本の記録を保存しました。", "The original's record was saved."),
    ("history", "経過", "History"),
    ("when", "日時", "When"),
    ("who", "利用者", "Who"),
    ("what", "内容", "What"),
    ("ev_received", "受付", "Received"),
    ("ev_scanned", "読み取り", "Scanned"),
    ("ev_original_kept", "原本を保管", "Original kept"),
    ("ev_original_disposal_requested", "原本の廃棄を申請", "Disposal requested"),
    ("ev_original_disposed", "原本の廃棄を承認", "Disposal approved"),
    ("open", "詳細", "Details"),
    ("field_file", "ファイル", "file"),
    ("field_late_reason", "遅延理由", "reason for the delay"),
    ("field_paper_date", "書類の日付", "paper date"),
    ("field_type", "文書種別", "type"),
    ("field_code", "コード", "code"),
    ("field_name", "名称", "name"),
    ("field_min_dpi", "最低解像度", "minimum resolution"),
    ("field_deadline_days", "読み取り期限", "deadline"),
    ("field_keep_years", "保管年数", "years kept"),
    ("field_location", "保管場所", "location"),
    ("field_note", "備考", "note"),
    ("field_signature", "電子署名", "signature"),
    ("field_pkcs12", "PKCS#12 ファイル", "PKCS#12 file"),
    ("field_private_key_pem", "署名鍵", "signing key"),
    ("field_from", "期間", "period"),
];

fn text(lang: Lang, key: &str) -> &'static str {
    lang.pick(TEXTS, key)
}

/// Reasons kiroku gives in English (verdicts, refusals of kiroku-sign), with their Japanese.
const REASONS_JA: &[(&str, &str)] = &[
    ("does not lead to a trusted certificate authority", "信頼された認証局につながりません"),
    ("was revoked", "証明書が失効しています"),
    ("is not valid at", "証明書の有効期間外です"),
    ("the message digest attribute does not match", "署名後に内容が変わっています"),
    ("the signature does not verify", "署名が署名者の鍵で検証できません"),
    ("no valid archive timestamp renews it", "有効なアーカイブタイムスタンプで延長されていません"),
    ("the token covers a different hash", "タイムスタンプが別の内容に対するものです"),
    ("the stamped hash is not the file's", "タイムスタンプが別の内容に対するものです"),
    ("the signature is over another file", "署名が別のファイルに対するものです"),
    ("does not match its hash", "保存されたファイルがハッシュと一致しません（改変の疑い）。kiroku verify を実行してください"),
    ("revocation of certificate", "証明書の失効状況を確認できません"),
    ("the TSA's certificate", "時刻認証局の証明書に問題があります"),
    ("timestamping is not configured", "タイムスタンプが設定されていないため検証できません"),
    ("is missing", "タイムスタンプが見つかりません"),
    ("the PKCS#12 file's password is wrong", "PKCS#12 ファイルのパスワードが正しくありません"),
    ("the PKCS#12 file holds no private key", "PKCS#12 ファイルに署名鍵と証明書がありません"),
    ("the PKCS#12 file cannot be read", "PKCS#12 ファイルを読み取れません"),
    ("the private key does not belong to the certificate", "署名鍵が証明書と対応していません"),
    ("the key cannot be used", "署名鍵を使用できません"),
    ("signing is not configured", "電子署名が設定されていません（[signing] trust_anchors）"),
    ("give a PKCS#8 key with its certificate", "署名鍵と証明書、または PKCS#12 ファイルを指定してください"),
    ("give either a PKCS#8 key or a PKCS#12 file", "署名鍵と PKCS#12 ファイルのどちらか一方を指定してください"),
    ("this scan type is no longer in use", "この文書種別は使用を終了しています"),
    ("this scan type was retired", "この文書種別は使用を終了しています。新しいコードで追加してください"),
    ("scan type not found", "文書種別が見つかりません"),
    ("the paper is not scanned yet", "まだ読み取られていません"),
    ("the original was disposed of already", "原本は既に廃棄されています"),
    ("is scanned already", "この書類は既に読み取られています"),
    ("must be a whole number", "整数で入力してください"),
    ("between 100 and 2400 dpi", "100〜2400 dpi の範囲で入力してください"),
    ("at most 30 working days", "30 営業日以内で入力してください"),
    ("between 1 and 100 years", "1〜100 年の範囲で入力してください"),
    ("give the years the original is kept", "保管年数を入力してください"),
    ("1 to 40 lowercase letters", "半角英小文字・数字・-・_ の 1〜40 文字で入力してください"),
    ("must be a date such as", "2026-04-01 の形式で入力してください"),
    ("must not be in the future", "未来の日付は入力できません"),
    ("must not be empty", "入力してください"),
    ("choose a file", "ファイルを選択してください"),
];

/// A reason in the page's language: a known English reason gets its Japanese, with the exact
/// wording kept after it for whoever has to look further.
fn reason_text(lang: Lang, reason: &str) -> String {
    if lang == Lang::En {
        return reason.to_string();
    }
    match REASONS_JA.iter().find(|(en, _)| reason.contains(en)) {
        Some((_, ja)) => format!("{ja}（{reason}）"),
        None => reason.to_string(),
    }
}

/// The store's and core's messages say "日本語 (English)"; each page shows its own language.
fn split_bilingual(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_suffix(')')?;
    body.match_indices(" (")
        .map(|(i, _)| i)
        .find(|&i| body[i + 2..].is_ascii() && !body[..i].is_ascii())
        .map(|i| (&body[..i], &body[i + 2..]))
}

/// A refusal as one line above the form, in the page's language, naming the field.
fn error_text(lang: Lang, e: &ApiError) -> String {
    let explained = explain(lang, e);
    let detail = match split_bilingual(&e.detail) {
        Some((ja, en)) => (if lang == Lang::Ja { ja } else { en }).to_string(),
        None if lang == Lang::Ja && REASONS_JA.iter().any(|(en, _)| e.detail.contains(en)) => reason_text(lang, &e.detail),
        None => return format!("{} {}", explained.title, explained.detail),
    };
    let field = e.field.as_deref().map(|f| {
        let key = format!("field_{f}");
        match TEXTS.iter().any(|(k, _, _)| *k == key) {
            true => format!("{}: ", text(lang, &key)),
            false => format!("{f}: "),
        }
    });
    format!("{} {}{detail}", explained.title, field.unwrap_or_default())
}

/// Whether an error belongs on the form (the user can fix it) rather than on an error page.
fn on_form(e: &ApiError) -> bool {
    e.status().is_client_error() && e.status() != StatusCode::FORBIDDEN && e.status() != StatusCode::UNAUTHORIZED
}

fn colour_label(lang: Lang, c: ColourMode) -> &'static str {
    text(
        lang,
        match c {
            ColourMode::Monochrome => "monochrome",
            ColourMode::Greyscale => "greyscale",
            ColourMode::Colour => "colour_c",
        },
    )
}

fn state_label(lang: Lang, state: &str) -> &'static str {
    match state {
        "received" => text(lang, "st_received"),
        "scanned" => text(lang, "st_scanned"),
        "kept" => text(lang, "st_kept"),
        "disposal_requested" => text(lang, "st_disposal_requested"),
        "disposed" => text(lang, "st_disposed"),
        _ => "",
    }
}

const STATES: [&str; 5] = ["received", "scanned", "kept", "disposal_requested", "disposed"];

/// One line of the register, the overdue list or the originals register.
pub struct Line {
    pub id: String,
    pub patient_id: String,
    pub href: String,
    pub type_code: String,
    pub type_name: String,
    pub paper_date: String,
    pub due_date: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub overdue: bool,
    pub late_reason: String,
    pub scanned_on: String,
    pub scanned_by: String,
    pub file_name: String,
    pub signed: bool,
    pub stamped: bool,
    /// Where the original is kept, who asked for its disposal, who approved it.
    pub original: String,
}

impl Line {
    fn of(lang: Lang, e: &ScanEntry) -> Line {
        let scanned = e.scanned();
        let detail_str = |ev: &kiroku_store::scan::ScanEventRecord, key: &str| {
            ev.detail.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
        };
        let original = e
            .events
            .iter()
            .rev()
            .find(|ev| ev.kind != ScanEventKind::Scanned)
            .map(|ev| match ev.kind {
                ScanEventKind::OriginalKept => format!("{}: {}", text(lang, "kept_at"), detail_str(ev, "location")),
                ScanEventKind::OriginalDisposalRequested => {
                    format!("{}: {} ({})", text(lang, "requested_by"), ev.username, jst(ev.at))
                }
                ScanEventKind::OriginalDisposed => {
                    let requested = detail_str(ev, "requested_by");
                    let mut s = format!("{}: {} ({})", text(lang, "approved_by"), ev.username, jst(ev.at));
                    if !requested.is_empty() {
                        s = format!("{}: {requested} ／ {s}", text(lang, "requested_by"));
                    }
                    s
                }
                ScanEventKind::Scanned => String::new(),
            })
            .unwrap_or_default();
        Line {
            id: e.item.id.clone(),
            patient_id: e.item.patient_id.to_string(),
            href: format!("/patients/{}/scan/{}", e.item.patient_id, e.item.id),
            type_code: e.item.type_code.clone(),
            type_name: e.type_name.clone(),
            paper_date: e.item.paper_date.clone(),
            due_date: e.item.due_date.clone(),
            state: e.state,
            state_label: state_label(lang, e.state),
            overdue: e.overdue,
            late_reason: e.late_reason.clone().unwrap_or_default(),
            scanned_on: scanned.map(|s| jst(s.at)).unwrap_or_default(),
            scanned_by: scanned.map(|s| s.username.to_string()).unwrap_or_default(),
            file_name: e.file.as_ref().map(|f| f.attachment.name.clone()).unwrap_or_default(),
            signed: e.file.as_ref().is_some_and(|f| !f.signatures.is_empty()),
            stamped: e.file.as_ref().is_some_and(|f| f.stamp.is_some()),
            original,
        }
    }
}

/// A type's current rule as a row of the list.
pub struct TypeRow {
    pub code: String,
    pub name: String,
    pub min_dpi: u32,
    pub colour: &'static str,
    pub deadline_days: u32,
    pub original: String,
    pub revision: i64,
    pub edited: String,
    pub retired: bool,
}

impl TypeRow {
    fn of(lang: Lang, t: &ScanTypeRecord) -> TypeRow {
        TypeRow {
            code: t.rule.code.clone(),
            name: t.rule.name.clone(),
            min_dpi: t.rule.min_dpi,
            colour: colour_label(lang, t.rule.colour),
            deadline_days: t.rule.deadline_days,
            original: match t.rule.original {
                OriginalHandling::Keep { years } => format!("{} {years} {}", text(lang, "keep"), text(lang, "keep_for")),
                OriginalHandling::Dispose => text(lang, "dispose").to_string(),
            },
            revision: t.revision,
            edited: format!("{} {}", t.edited_by, jst(t.edited_at)),
            retired: t.retired,
        }
    }
}

async fn can(state: &AppState, s: &WebSession, p: Permission) -> Result<bool, WebError> {
    Ok(state.store.allows(s.auth.actor.role, p).await?)
}

// ---------------------------------------------------------------------------------------------
// Scan types (スキャン文書種別)

#[derive(Deserialize, Default)]
pub struct TypeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    min_dpi: String,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    deadline_days: String,
    #[serde(default)]
    original: String,
    #[serde(default)]
    keep_years: String,
    #[serde(default)]
    retired: Option<String>,
}

impl TypeForm {
    fn of(t: &ScanTypeRecord) -> TypeForm {
        let (original, keep_years) = match t.rule.original {
            OriginalHandling::Keep { years } => ("keep", years.to_string()),
            OriginalHandling::Dispose => ("dispose", String::new()),
        };
        TypeForm {
            code: t.rule.code.clone(),
            name: t.rule.name.clone(),
            min_dpi: t.rule.min_dpi.to_string(),
            colour: t.rule.colour.as_str().into(),
            deadline_days: t.rule.deadline_days.to_string(),
            original: original.into(),
            keep_years,
            retired: t.retired.then(|| "on".into()),
        }
    }

    fn request(&self) -> Result<TypeRequest, ApiError> {
        let number = |field: &'static str, s: &str| -> Result<Option<u32>, ApiError> {
            match s.trim() {
                "" => Ok(None),
                n => n.parse().map(Some).map_err(|_| ApiError::validation(field, "must be a whole number")),
            }
        };
        Ok(TypeRequest {
            name: self.name.clone(),
            min_dpi: number("min_dpi", &self.min_dpi)?,
            colour: ColourMode::parse(&self.colour).ok_or_else(|| ApiError::validation("colour", "unknown value"))?,
            deadline_days: number("deadline_days", &self.deadline_days)?,
            original: self.original.clone(),
            keep_years: number("keep_years", &self.keep_years)?,
            retired: self.retired.is_some(),
        })
    }
}

#[derive(Template)]
#[template(path = "scan_types.html")]
struct TypesPage {
    c: Chrome,
    types: Vec<TypeRow>,
    can_manage: bool,
    editing: bool,
    form: TypeForm,
    colours: Vec<(&'static str, &'static str)>,
    error: String,
    notice: &'static str,
}

impl TypesPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

async fn types_page(
    state: &AppState,
    s: WebSession,
    edit: Option<&str>,
    form: Option<TypeForm>,
    error: String,
    notice: &'static str,
) -> Result<Response, WebError> {
    let register = api::register(state, &s.auth, None).await?;
    let lang = s.chrome.lang;
    let can_manage = can(state, &s, Permission::ScanManage).await?;
    let editing = edit.is_some() || form.as_ref().is_some_and(|f| register.types.iter().any(|t| t.rule.code == f.code));
    let form = match (form, edit) {
        (Some(f), _) => f,
        (None, Some(code)) => {
            TypeForm::of(register.types.iter().find(|t| t.rule.code == code).ok_or_else(|| ApiError::not_found("scan type"))?)
        }
        (None, None) => TypeForm {
            min_dpi: kiroku_core::scan::DEFAULT_MIN_DPI.to_string(),
            deadline_days: kiroku_core::scan::DEFAULT_DEADLINE_DAYS.to_string(),
            colour: "greyscale".into(),
            original: "keep".into(),
            keep_years: "5".into(),
            ..TypeForm::default()
        },
    };
    let colours =
        [ColourMode::Monochrome, ColourMode::Greyscale, ColourMode::Colour].iter().map(|c| (c.as_str(), colour_label(lang, *c))).collect();
    let failed = !error.is_empty();
    let mut response = render(&TypesPage {
        types: register.types.iter().map(|t| TypeRow::of(lang, t)).collect(),
        can_manage,
        editing,
        form,
        colours,
        error,
        notice,
        c: s.chrome,
    })?;
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn types(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    types_page(&state, s, None, None, String::new(), "").await
}

pub async fn edit_type(State(state): State<AppState>, s: WebSession, Path(code): Path<String>) -> Result<Response, WebError> {
    types_page(&state, s, Some(&code), None, String::new(), "").await
}

pub async fn save_type(State(state): State<AppState>, post: WebPost<TypeForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let saved = match form.request() {
        Ok(req) => api::save_type_as(&state, &session.auth, form.code.trim().to_string(), req).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => types_page(&state, session, None, None, String::new(), "saved").await,
        Err(e) if on_form(&e) => {
            let error = error_text(session.chrome.lang, &e);
            types_page(&state, session, None, Some(form), error, "").await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// A patient's papers: receive, upload

#[derive(Deserialize, Default)]
pub struct ReceiveForm {
    #[serde(default, rename = "type")]
    type_code: String,
    #[serde(default)]
    paper_date: String,
}

/// What was typed into the upload form, shown again when the scan is refused.
#[derive(Default)]
pub struct UploadForm {
    item: String,
    type_code: String,
    paper_date: String,
    late_reason: String,
}

#[derive(Template)]
#[template(path = "scan_patient.html")]
struct PatientPage {
    c: Chrome,
    patient: PatientRow,
    lines: Vec<Line>,
    types: Vec<(String, String)>,
    waiting: Vec<(String, String)>,
    receive: ReceiveForm,
    upload: UploadForm,
    error: String,
    /// Which form the error belongs to: `receive` or `upload`.
    error_form: &'static str,
    error_field: String,
    today: String,
    can_write: bool,
    notice: &'static str,
}

impl PatientPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

struct PatientPageInput {
    receive: ReceiveForm,
    upload: UploadForm,
    error: Option<(ApiError, &'static str)>,
    notice: &'static str,
}

async fn patient_page(state: &AppState, s: WebSession, id: PatientId, input: PatientPageInput) -> Result<Response, WebError> {
    let patient =
        state.store.execute(Command::ReadPatient { actor: s.auth.actor.clone(), patient_id: id.clone() }).await?.into_patient()?;
    let register = api::register(state, &s.auth, Some(id)).await?;
    let lang = s.chrome.lang;
    let can_write = can(state, &s, Permission::ScanWrite).await?;
    let types = register.types.iter().filter(|t| !t.retired).map(|t| (t.rule.code.clone(), t.rule.name.clone())).collect();
    let waiting = register
        .entries
        .iter()
        .filter(|e| e.state == "received")
        .map(|e| (e.item.id.clone(), format!("{}（{}、{} {}）", e.type_name, e.item.paper_date, text(lang, "due"), e.item.due_date)))
        .collect();
    let mut upload = input.upload;
    if upload.paper_date.is_empty() {
        upload.paper_date = register.today.clone();
    }
    let mut receive = input.receive;
    if receive.paper_date.is_empty() {
        receive.paper_date = register.today.clone();
    }
    let (error, error_form, error_field, status) = match &input.error {
        Some((e, form)) => (error_text(lang, e), *form, e.field.clone().unwrap_or_default(), Some(e.status())),
        None => (String::new(), "", String::new(), None),
    };
    let mut response = render(&PatientPage {
        patient: PatientRow::of(&patient, &s.chrome),
        lines: register.entries.iter().rev().map(|e| Line::of(lang, e)).collect(),
        types,
        waiting,
        receive,
        upload,
        error,
        error_form,
        error_field,
        today: register.today.clone(),
        can_write,
        notice: input.notice,
        c: s.chrome,
    })?;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// The notice a `?done=` after a redirect names, from a fixed list.
fn notice(q: &DoneQuery) -> &'static str {
    match q.done.as_deref() {
        Some("received") => "received_ok",
        Some("scanned") => "scanned_ok",
        Some("signed") => "signed_ok",
        Some("original") => "original_ok",
        _ => "",
    }
}

pub async fn patient(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>, uri: Uri) -> Result<Response, WebError> {
    let q: DoneQuery = parse_query(&uri)?;
    let input = PatientPageInput { receive: ReceiveForm::default(), upload: UploadForm::default(), error: None, notice: notice(&q) };
    patient_page(&state, s, patient_id(&raw)?, input).await
}

pub async fn receive(State(state): State<AppState>, Path(raw): Path<String>, post: WebPost<ReceiveForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let id = patient_id(&raw)?;
    let command = Command::ReceivePaper {
        actor: session.auth.actor.clone(),
        patient_id: id.clone(),
        type_code: form.type_code.clone(),
        paper_date: form.paper_date.clone(),
        calendar: state.settings.scan_calendar.clone(),
    };
    match state.store.execute(command).await.map_err(ApiError::from).and_then(|r| Ok(r.into_scan_entry()?)) {
        Ok(_) => {
            state.metrics.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(see_other(&format!("/patients/{id}/scan?done=received")))
        }
        Err(e) if on_form(&e) => {
            let input = PatientPageInput { receive: form, upload: UploadForm::default(), error: Some((e, "receive")), notice: "" };
            patient_page(&state, session, id, input).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The upload form (multipart): the CSRF field first, then the paper's fields, the file last;
/// the file is streamed into the file store and then checked by the same function as the API's.
pub async fn upload(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let id = patient_id(&raw)?;
    check_multipart_csrf(&mut form, &s.chrome.csrf).await?;
    let unreadable = || ApiError::malformed("the form could not be read");
    let mut typed = UploadForm::default();
    let mut file: Option<(String, kiroku_blob::Stored)> = None;
    let mut refused: Option<ApiError> = None;
    while let Some(mut field) = form.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "item" => typed.item = field.text().await.map_err(|_| unreadable())?,
            "type" => typed.type_code = field.text().await.map_err(|_| unreadable())?,
            "paper_date" => typed.paper_date = field.text().await.map_err(|_| unreadable())?,
            "late_reason" => typed.late_reason = field.text().await.map_err(|_| unreadable())?,
            "file" => {
                // A form sent without a file carries an empty part with an empty file name.
                let Some(file_name) = field.file_name().map(str::to_string).filter(|n| !n.is_empty()) else { continue };
                if let Err(e) = kiroku_core::document::validate_attachment_name(&file_name) {
                    refused = Some(e.into());
                    continue;
                }
                file = Some((file_name, super::documents::store_field(&state, &mut field).await?));
            }
            _ => {}
        }
    }
    let result = match (refused, file) {
        (Some(e), _) => Err(e),
        (None, None) => Err(ApiError::validation("file", "choose a file")),
        (None, Some((name, stored))) => {
            let item = Some(typed.item.clone()).filter(|i| !i.is_empty());
            let (type_code, paper_date) = match item {
                Some(_) => (None, None),
                None => (Some(typed.type_code.clone()), Some(typed.paper_date.clone())),
            };
            let late = Some(typed.late_reason.clone());
            api::add_scan(&state, &s.auth, id.clone(), item, type_code, paper_date, name, late, stored).await
        }
    };
    match result {
        Ok(entry) => Ok(see_other(&format!("/patients/{id}/scan/{}?done=scanned", entry.item.id))),
        Err(e) if on_form(&e) => {
            let input = PatientPageInput { receive: ReceiveForm::default(), upload: typed, error: Some((e, "upload")), notice: "" };
            patient_page(&state, s, id, input).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// One scanned file: its proof, signing it, its original

/// A signature of the file with its verdict.
pub struct SigRow {
    pub signed_by: String,
    pub signer: String,
    pub signed_at: String,
    pub valid: bool,
    pub reason: String,
}

/// The file and its proof as the page shows them.
pub struct FileView {
    pub name: String,
    pub href: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub facts: String,
    pub intact: bool,
    pub intact_reason: String,
    pub signatures: Vec<SigRow>,
    /// `None`: not stamped yet.
    pub stamp: Option<StampView>,
    /// The stored file, at least one signature and the timestamp all valid.
    pub verified: bool,
}

pub struct StampView {
    pub time: String,
    pub tsa: String,
    pub valid: bool,
    pub reason: String,
}

/// One event of the item, for the history table.
pub struct EventRow {
    pub when: String,
    pub who: String,
    pub what: &'static str,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "scan_item.html")]
struct ItemPage {
    c: Chrome,
    patient: PatientRow,
    line: Line,
    file: Option<FileView>,
    events: Vec<EventRow>,
    can_write: bool,
    can_manage: bool,
    sign_action: String,
    original_action: String,
    error: String,
    notice: &'static str,
}

impl ItemPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }

    fn sign_tr(&self, key: &str) -> &'static str {
        super::signatures::sign_text(self.c.lang, key)
    }
}

/// The item through the patient's register (an audited read naming the patient).
async fn entry_of(state: &AppState, s: &WebSession, id: &PatientId, item: &str) -> Result<ScanEntry, WebError> {
    let register = api::register(state, &s.auth, Some(id.clone())).await?;
    Ok(register.entries.into_iter().find(|e| e.item.id == item).ok_or_else(|| ApiError::not_found("scan item"))?)
}

fn facts_text(lang: Lang, e: &ScanEntry) -> String {
    let Some(facts) = e.scanned().and_then(|s| s.detail.get("facts")) else { return String::new() };
    let get = |k: &str| facts.get(k).and_then(|v| v.as_u64());
    let mut parts = vec![facts.get("format").and_then(|v| v.as_str()).unwrap_or_default().to_uppercase()];
    if let (Some(w), Some(h)) = (get("width"), get("height")) {
        parts.push(format!("{w}×{h} px"));
    }
    if let Some(dpi) = get("dpi") {
        parts.push(format!("{dpi} dpi"));
    }
    if let Some(c) = facts.get("colour").and_then(|v| v.as_str()).and_then(ColourMode::parse) {
        parts.push(colour_label(lang, c).to_string());
    }
    parts.join(" ／ ")
}

async fn item_page(
    state: &AppState,
    s: WebSession,
    id: PatientId,
    item: &str,
    error: Option<ApiError>,
    notice: &'static str,
) -> Result<Response, WebError> {
    let patient =
        state.store.execute(Command::ReadPatient { actor: s.auth.actor.clone(), patient_id: id.clone() }).await?.into_patient()?;
    let entry = entry_of(state, &s, &id, item).await?;
    let lang = s.chrome.lang;
    let file = match &entry.file {
        None => None,
        Some(f) => {
            let check = api::check_file(state, f).await?;
            let signatures: Vec<SigRow> = check
                .signatures
                .iter()
                .map(|(g, verdict)| SigRow {
                    signed_by: g.username.to_string(),
                    signer: g.signer.clone(),
                    signed_at: jst(g.signed_at),
                    valid: verdict.is_ok(),
                    reason: verdict.as_ref().err().map(|r| reason_text(lang, r)).unwrap_or_default(),
                })
                .collect();
            let stamp = check.stamp.as_ref().map(|(time, tsa, verdict)| StampView {
                time: time.map(jst).unwrap_or_default(),
                tsa: tsa.clone(),
                valid: verdict.is_ok(),
                reason: verdict.as_ref().err().map(|r| reason_text(lang, r)).unwrap_or_default(),
            });
            let verified = check.intact.is_ok() && signatures.iter().any(|g| g.valid) && stamp.as_ref().is_some_and(|st| st.valid);
            Some(FileView {
                name: f.attachment.name.clone(),
                href: format!("/documents/{}/attachments/{}", f.attachment.document_id, f.attachment.id),
                media_type: f.attachment.media_type.clone(),
                size: f.attachment.size,
                sha256: f.attachment.blob_hash.clone(),
                facts: facts_text(lang, &entry),
                intact: check.intact.is_ok(),
                intact_reason: check.intact.as_ref().err().map(|r| reason_text(lang, r)).unwrap_or_default(),
                signatures,
                stamp,
                verified,
            })
        }
    };
    let mut events = vec![EventRow {
        when: jst(entry.item.registered_at),
        who: entry.item.registered_by.to_string(),
        what: text(lang, "ev_received"),
        detail: format!("{} {} ／ {} {}", text(lang, "paper_date"), entry.item.paper_date, text(lang, "due"), entry.item.due_date),
    }];
    for ev in &entry.events {
        let d = |k: &str| ev.detail.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let (what, detail) = match ev.kind {
            ScanEventKind::Scanned => ("ev_scanned", d("late_reason")),
            ScanEventKind::OriginalKept => ("ev_original_kept", d("location")),
            ScanEventKind::OriginalDisposalRequested => ("ev_original_disposal_requested", d("note")),
            ScanEventKind::OriginalDisposed => ("ev_original_disposed", d("note")),
        };
        events.push(EventRow { when: jst(ev.at), who: ev.username.to_string(), what: text(lang, what), detail });
    }
    let status = error.as_ref().map(ApiError::status);
    let path = format!("/patients/{}/scan/{}", entry.item.patient_id, entry.item.id);
    let mut response = render(&ItemPage {
        patient: PatientRow::of(&patient, &s.chrome),
        line: Line::of(lang, &entry),
        file,
        events,
        can_write: can(state, &s, Permission::ScanWrite).await?,
        can_manage: can(state, &s, Permission::ScanManage).await?,
        sign_action: format!("{path}/sign"),
        original_action: format!("{path}/original"),
        error: error.as_ref().map(|e| error_text(lang, e)).unwrap_or_default(),
        notice,
        c: s.chrome,
    })?;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    Ok(response)
}

pub async fn item(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, item)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, WebError> {
    let q: DoneQuery = parse_query(&uri)?;
    item_page(&state, s, patient_id(&raw)?, &item, None, notice(&q)).await
}

/// Signs the file with the officer's key (PKCS#8 or PKCS#12), through the API's one signing path.
pub async fn sign(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, item)): Path<(String, String)>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let id = patient_id(&raw)?;
    let request = super::signatures::read_sign_form(&mut form, &s.chrome.csrf).await;
    let result = match request {
        Err(WebError::Api(e)) => Err(e),
        Err(other) => return Err(other),
        Ok(request) => {
            let entry = entry_of(&state, &s, &id, &item).await?;
            match entry.file {
                None => Err(ApiError::conflict("the paper is not scanned yet")),
                Some(f) => {
                    let att = f.attachment;
                    crate::api::signatures::sign_attachment(&state, &s.auth, att.document_id, att.id, request).await
                }
            }
        }
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/patients/{id}/scan/{item}?done=signed"))),
        Err(e) if on_form(&e) => item_page(&state, s, id, &item, Some(e), "").await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct OriginalForm {
    action: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    note: String,
    /// `originals` when posted from the originals register.
    #[serde(default)]
    back: String,
}

pub async fn original(
    State(state): State<AppState>,
    Path((raw, item)): Path<(String, String)>,
    post: WebPost<OriginalForm>,
) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let id = patient_id(&raw)?;
    // The item must be this patient's: the register read names the patient in the audit trail.
    entry_of(&state, &session, &id, &item).await?;
    let request = OriginalRequest::new(form.action, Some(form.location), Some(form.note));
    match api::record_original(&state, &session.auth, item.clone(), request).await {
        Ok(_) if form.back == "originals" => Ok(see_other("/scan/originals?done=original")),
        Ok(_) => Ok(see_other(&format!("/patients/{id}/scan/{item}?done=original"))),
        Err(e) if on_form(&e) && form.back == "originals" => {
            let filter = RegisterFilter::default();
            list_page(&state, session, Mode::Originals, filter, Some(e), "").await
        }
        Err(e) if on_form(&e) => item_page(&state, session, id, &item, Some(e), "").await,
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The register, the overdue list and the originals register

#[derive(Deserialize, Default)]
pub struct RegisterFilter {
    patient: Option<String>,
    #[serde(rename = "type")]
    type_code: Option<String>,
    state: Option<String>,
    overdue: Option<String>,
    from: Option<String>,
    to: Option<String>,
    done: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Register,
    Overdue,
    Originals,
}

#[derive(Template)]
#[template(path = "scan_register.html")]
struct RegisterPage {
    c: Chrome,
    title: &'static str,
    explain: &'static str,
    mode: &'static str,
    lines: Vec<Line>,
    types: Vec<(String, String)>,
    states: Vec<(&'static str, &'static str)>,
    q_patient: String,
    q_type: String,
    q_state: String,
    q_overdue: bool,
    q_from: String,
    q_to: String,
    today: String,
    can_write: bool,
    can_manage: bool,
    error: String,
    notice: &'static str,
}

impl RegisterPage {
    fn tr(&self, key: &str) -> &'static str {
        text(self.c.lang, key)
    }
}

async fn list_page(
    state: &AppState,
    s: WebSession,
    mode: Mode,
    f: RegisterFilter,
    error: Option<ApiError>,
    notice: &'static str,
) -> Result<Response, WebError> {
    let lang = s.chrome.lang;
    let clean = |o: &Option<String>| o.as_deref().map(str::trim).unwrap_or_default().to_string();
    let (q_patient, q_type, q_state, q_from, q_to) =
        (clean(&f.patient), clean(&f.type_code), clean(&f.state), clean(&f.from), clean(&f.to));
    for (field, d) in [("from", &q_from), ("to", &q_to)] {
        if !d.is_empty() {
            kiroku_core::scan::parse_date(field, d).map_err(ApiError::from)?;
        }
    }
    if !q_state.is_empty() && !STATES.contains(&q_state.as_str()) {
        return Err(ApiError::validation("state", "unknown value").into());
    }
    let patient = match q_patient.as_str() {
        "" => None,
        p => Some(patient_id(p)?),
    };
    let register = api::register(state, &s.auth, patient).await?;
    let q_overdue = mode == Mode::Overdue || f.overdue.as_deref().is_some_and(|v| !v.is_empty());
    let lines = register
        .entries
        .iter()
        .rev()
        .filter(|e| !q_overdue || e.overdue)
        .filter(|e| mode != Mode::Originals || e.state != "received")
        .filter(|e| q_type.is_empty() || e.item.type_code == q_type)
        .filter(|e| q_state.is_empty() || e.state == q_state)
        .filter(|e| q_from.is_empty() || e.item.paper_date >= q_from)
        .filter(|e| q_to.is_empty() || e.item.paper_date <= q_to)
        .map(|e| Line::of(lang, e))
        .collect();
    let (title, explain, mode_key) = match mode {
        Mode::Register => ("register_title", "register_explain", "register"),
        Mode::Overdue => ("overdue_title", "overdue_explain", "overdue"),
        Mode::Originals => ("originals_title", "originals_explain", "originals"),
    };
    let status = error.as_ref().map(ApiError::status);
    let mut response = render(&RegisterPage {
        title: text(lang, title),
        explain: text(lang, explain),
        mode: mode_key,
        lines,
        types: register.types.iter().map(|t| (t.rule.code.clone(), t.rule.name.clone())).collect(),
        states: STATES.iter().map(|st| (*st, state_label(lang, st))).collect(),
        q_patient,
        q_type,
        q_state,
        q_overdue: q_overdue && mode == Mode::Register,
        q_from,
        q_to,
        today: register.today.clone(),
        can_write: can(state, &s, Permission::ScanWrite).await?,
        can_manage: can(state, &s, Permission::ScanManage).await?,
        error: error.as_ref().map(|e| error_text(lang, e)).unwrap_or_default(),
        notice,
        c: s.chrome,
    })?;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    Ok(response)
}

pub async fn register(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let f: RegisterFilter = parse_query(&uri)?;
    list_page(&state, s, Mode::Register, f, None, "").await
}

pub async fn overdue(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    list_page(&state, s, Mode::Overdue, RegisterFilter::default(), None, "").await
}

pub async fn originals(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let f: RegisterFilter = parse_query(&uri)?;
    let done = if f.done.as_deref() == Some("original") { "original_ok" } else { "" };
    list_page(&state, s, Mode::Originals, f, None, done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `tr("key")` in these pages' templates exists, and keys are unique.
    #[test]
    fn every_text_used_exists() {
        crate::web::i18n::assert_texts_complete(
            TEXTS,
            &["scan_types.html", "scan_patient.html", "scan_item.html", "scan_register.html"],
            "tr(\"",
        );
    }

    #[test]
    fn bilingual_messages_show_one_language() {
        let refusal = kiroku_core::scan::ScanRefusal::LowResolution { dpi: 150, min: 300 }.message();
        assert_eq!(
            split_bilingual(&refusal),
            Some(("解像度 150 dpi は規程の 300 dpi 未満です", "its resolution of 150 dpi is below the rule's 300 dpi"))
        );
        let none = kiroku_core::scan::ScanRefusal::NoResolution.message();
        let (ja, en) = split_bilingual(&none).expect("split");
        assert!(ja.starts_with("ファイルに解像度（dpi）") && en.starts_with("the file records no resolution (dpi)"), "{ja} / {en}");
        assert_eq!(split_bilingual("plain English (with a remark)"), None);
        let e = ApiError::validation(
            "late_reason",
            "期限 2026-11-02 を過ぎています。遅延理由を入力してください (the deadline 2026-11-02 has passed; give the reason for the late scan)",
        );
        let ja = error_text(Lang::Ja, &e);
        assert!(ja.contains("遅延理由: 期限 2026-11-02 を過ぎています") && !ja.contains("deadline"), "{ja}");
        let en = error_text(Lang::En, &e);
        assert!(en.contains("reason for the delay: the deadline 2026-11-02 has passed") && !en.contains("期限"), "{en}");
        let p12 = ApiError::validation("pkcs12", "the PKCS#12 file's password is wrong (its integrity check fails) (pkcs12_password)");
        assert!(error_text(Lang::Ja, &p12).contains("PKCS#12 ファイルのパスワードが正しくありません"), "{}", error_text(Lang::Ja, &p12));
    }
}
