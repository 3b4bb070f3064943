//! Documents on the web: new document and proxy entry, view, edit draft or amend, confirm with a
//! last full view, approve, version history with a side-by-side diff, logical delete, attachments,
//! and the clinician's approval queue. Every read and change is the same store command the API uses.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::Uri;
use axum::response::Response;
use bytes::Bytes;
use kiroku_core::{DocumentId, DocumentStatus, InfoClass, Username, VersionKind};
use kiroku_store::command::NewDocument;
use kiroku_store::{Actor, Command, DocumentView};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;

use super::diff;
use super::page::*;
use super::patients::{DOC_TYPES, DocumentRow, PatientRow, doc_type_label, status_key};
use crate::AppState;
use crate::api::documents::{attachment_response, document_id};
use crate::api::patients::patient_id;
use crate::error::ApiError;

/// The text of a body: kiroku's pages write `{"text": …}`; other JSON is shown pretty-printed.
fn body_text(body: &Value) -> String {
    match body {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 && m.get("text").is_some_and(Value::is_string) => {
            m.get("text").and_then(Value::as_str).unwrap_or_default().to_string()
        }
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn kind_key(k: VersionKind) -> &'static str {
    match k {
        VersionKind::Draft => "kind.draft",
        VersionKind::Proxy => "kind.proxy",
        VersionKind::Amendment => "kind.amendment",
        VersionKind::Deletion => "kind.deletion",
    }
}

/// An attachment as a line of the document page.
pub struct AttachmentRow {
    pub id: String,
    pub name: String,
    pub size: i64,
    pub media_type: String,
    pub added_by: String,
    pub added_at: String,
}

/// A document version as the pages show it, with the actions that fit its state.
pub(super) struct DocPage {
    pub id: String,
    pub patient_id: String,
    pub doc_type: String,
    pub title: String,
    pub class: &'static str,
    pub restricted: bool,
    pub status: &'static str,
    pub status_key: &'static str,
    pub version: i64,
    pub current_version: i64,
    pub kind: &'static str,
    pub body: String,
    pub hash: String,
    pub author: String,
    pub entered_at: String,
    pub on_behalf_of: String,
    pub confirmer: String,
    pub confirmed_at: String,
    pub approved_by: String,
    pub reason: String,
    pub attachments: Vec<AttachmentRow>,
    pub is_current: bool,
    pub can_edit: bool,
    pub can_confirm: bool,
    pub can_approve: bool,
    pub can_amend: bool,
    pub can_delete: bool,
}

impl DocPage {
    /// The actions are offered by the lifecycle's rules as the user can see them; the store decides
    /// again when one is taken, so an offered action may still be refused by the matrix.
    pub(super) fn of(v: &DocumentView, c: &Chrome, me: &Username) -> DocPage {
        let current = v.version == v.current_version;
        let author = &v.author == me;
        let approver = v.status == DocumentStatus::PendingApproval && v.on_behalf_of.as_ref() == Some(me);
        DocPage {
            id: v.id.to_string(),
            patient_id: v.patient_id.to_string(),
            doc_type: doc_type_label(c, &v.doc_type).to_string(),
            title: v.title.clone(),
            class: c.lang.class(v.info_class),
            restricted: v.info_class != InfoClass::Normal,
            status: c.lang.status(v.status),
            status_key: status_key(v.status),
            version: v.version,
            current_version: v.current_version,
            kind: c.t(kind_key(v.version_kind)),
            body: body_text(&v.body),
            hash: v.content_hash.clone(),
            author: v.author.to_string(),
            entered_at: jst(v.entered_at),
            on_behalf_of: v.on_behalf_of.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            confirmer: v.confirmer.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            confirmed_at: v.confirmed_at.map(jst).unwrap_or_default(),
            approved_by: v.approved_by.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            reason: v.reason.clone().unwrap_or_default(),
            attachments: v
                .attachments
                .iter()
                .map(|a| AttachmentRow {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    size: a.size,
                    media_type: a.media_type.clone(),
                    added_by: a.added_by.to_string(),
                    added_at: jst(a.added_at),
                })
                .collect(),
            is_current: current,
            can_edit: current && v.status == DocumentStatus::Draft && author,
            can_confirm: current && v.status == DocumentStatus::Draft && author,
            can_approve: current && approver,
            can_amend: current && v.status == DocumentStatus::Confirmed,
            can_delete: current && (matches!(v.status, DocumentStatus::Confirmed | DocumentStatus::Draft) || approver),
        }
    }
}

pub(super) async fn read(state: &AppState, actor: Actor, id: DocumentId, version: Option<i64>) -> Result<DocumentView, WebError> {
    let view = state.store.execute(Command::ReadDocument { actor, id, version }).await?.into_document()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(*view)
}

fn version_of(raw: &str) -> Result<Option<i64>, WebError> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>().map(Some).map_err(|_| WebError::Api(ApiError::validation("version", "must be a number")))
}

// ----- new document -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "document_new.html")]
struct NewPage {
    c: Chrome,
    patient: PatientRow,
    types: Vec<(&'static str, &'static str)>,
    classes: Vec<(&'static str, &'static str)>,
}

pub async fn new_form(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>) -> Result<Response, WebError> {
    let id = patient_id(&raw)?;
    let patient = state.store.execute(Command::ReadPatient { actor: s.auth.actor, patient_id: id }).await?.into_patient()?;
    let c = s.chrome;
    let types = DOC_TYPES.iter().map(|t| (*t, c.t(&format!("doctype.{t}")))).collect();
    let classes = InfoClass::ALL.iter().map(|k| (k.as_str(), c.lang.class(*k))).collect();
    render(&NewPage { patient: PatientRow::of(&patient, &c), c, types, classes })
}

#[derive(Deserialize)]
pub struct NewForm {
    #[serde(default)]
    doc_type: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    info_class: String,
    #[serde(default)]
    on_behalf_of: String,
}

pub async fn create(State(state): State<AppState>, Path(raw): Path<String>, post: WebPost<NewForm>) -> Result<Response, WebError> {
    let f = post.form;
    let on_behalf_of = match f.on_behalf_of.trim() {
        "" => None,
        name => Some(Username::parse(name).map_err(|_| ApiError::validation("on_behalf_of", "unknown value"))?),
    };
    let info_class: InfoClass = f.info_class.parse().map_err(ApiError::from)?;
    let document = NewDocument { doc_type: f.doc_type, title: f.title, body: json!({ "text": f.body }), info_class, on_behalf_of };
    let command = Command::CreateDocument { actor: post.session.auth.actor, patient_id: patient_id(&raw)?, document };
    let view = state.store.execute(command).await?.into_document()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(see_other(&format!("/documents/{}", view.id)))
}

// ----- view -----------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "document.html")]
struct ViewPage {
    c: Chrome,
    d: DocPage,
}

#[derive(Deserialize)]
struct ViewQuery {
    v: Option<String>,
}

pub async fn view(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>, uri: Uri) -> Result<Response, WebError> {
    let q: ViewQuery = parse_query(&uri)?;
    let version = version_of(q.v.as_deref().unwrap_or(""))?;
    let me = s.auth.actor.username.clone();
    let v = read(&state, s.auth.actor, document_id(&raw)?, version).await?;
    render(&ViewPage { d: DocPage::of(&v, &s.chrome, &me), c: s.chrome })
}

// ----- edit draft / amend ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "document_edit.html")]
struct EditPage {
    c: Chrome,
    d: DocPage,
    amend: bool,
}

pub async fn edit_form(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>) -> Result<Response, WebError> {
    let me = s.auth.actor.username.clone();
    let v = read(&state, s.auth.actor, document_id(&raw)?, None).await?;
    let amend = v.status == DocumentStatus::Confirmed;
    render(&EditPage { d: DocPage::of(&v, &s.chrome, &me), c: s.chrome, amend })
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    reason: Option<String>,
}

/// Saves a draft in place of the last draft text, or, with a reason, amends a confirmed document
/// as a new version; the version the form was made from guards against overwriting someone else.
pub async fn edit(State(state): State<AppState>, Path(raw): Path<String>, post: WebPost<EditForm>) -> Result<Response, WebError> {
    let f = post.form;
    let (id, if_match, actor) = (document_id(&raw)?, version_of(&f.version)?, post.session.auth.actor);
    let (title, body) = (Some(f.title), json!({ "text": f.body }));
    let command = match f.reason {
        Some(reason) => Command::Amend { actor, id, if_match, title, body, reason },
        None => Command::UpdateDraft { actor, id, if_match, title, body },
    };
    let view = state.store.execute(command).await?.into_document()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(see_other(&format!("/documents/{}", view.id)))
}

// ----- confirm, approve, delete -----------------------------------------------------------------

#[derive(Template)]
#[template(path = "document_confirm.html")]
struct ConfirmPage {
    c: Chrome,
    d: DocPage,
}

/// The last full view of exactly the version that will be confirmed.
pub async fn confirm_form(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>) -> Result<Response, WebError> {
    let me = s.auth.actor.username.clone();
    let v = read(&state, s.auth.actor, document_id(&raw)?, None).await?;
    render(&ConfirmPage { d: DocPage::of(&v, &s.chrome, &me), c: s.chrome })
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    back: String,
}

pub async fn confirm(State(state): State<AppState>, Path(raw): Path<String>, post: WebPost<VersionForm>) -> Result<Response, WebError> {
    let command = Command::Confirm { actor: post.session.auth.actor, id: document_id(&raw)?, if_match: version_of(&post.form.version)? };
    let view = state.store.execute(command).await?.into_document()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(see_other(&format!("/documents/{}", view.id)))
}

pub async fn approve(State(state): State<AppState>, Path(raw): Path<String>, post: WebPost<VersionForm>) -> Result<Response, WebError> {
    let command = Command::Approve { actor: post.session.auth.actor, id: document_id(&raw)?, if_match: version_of(&post.form.version)? };
    let view = state.store.execute(command).await?.into_document()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    let to = if post.form.back == "approvals" { "/approvals".to_string() } else { format!("/documents/{}", view.id) };
    Ok(see_other(&to))
}

#[derive(Template)]
#[template(path = "document_delete.html")]
struct DeletePage {
    c: Chrome,
    d: DocPage,
}

pub async fn delete_form(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>) -> Result<Response, WebError> {
    let me = s.auth.actor.username.clone();
    let v = read(&state, s.auth.actor, document_id(&raw)?, None).await?;
    render(&DeletePage { d: DocPage::of(&v, &s.chrome, &me), c: s.chrome })
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
}

pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>, post: WebPost<DeleteForm>) -> Result<Response, WebError> {
    let f = post.form;
    let command =
        Command::Delete { actor: post.session.auth.actor, id: document_id(&raw)?, if_match: version_of(&f.version)?, reason: f.reason };
    let view = state.store.execute(command).await?.into_document()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(see_other(&format!("/patients/{}", view.patient_id)))
}

// ----- approval queue ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    c: Chrome,
    documents: Vec<DocumentRow>,
}

pub async fn approvals(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    let heads = state.store.execute(Command::ApprovalQueue { actor: s.auth.actor }).await?.into_documents()?;
    let documents = heads.iter().map(|d| DocumentRow::of(d, &s.chrome)).collect();
    render(&ApprovalsPage { c: s.chrome, documents })
}

// ----- history and diff -------------------------------------------------------------------------

/// A line of the version history: who, when, why.
pub struct VersionRow {
    pub version: i64,
    pub kind: &'static str,
    pub author: String,
    pub entered_at: String,
    pub reason: String,
    pub confirmer: String,
    pub confirmed_at: String,
    pub approved_by: String,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    c: Chrome,
    id: String,
    title: String,
    patient_id: String,
    versions: Vec<VersionRow>,
    a: i64,
    b: i64,
    rows: Vec<diff::Row>,
    title_changed: Option<(String, String)>,
}

#[derive(Deserialize)]
struct HistoryQuery {
    a: Option<String>,
    b: Option<String>,
}

/// The versions with who/when/why, and a side-by-side diff of two of them (by default the last two).
pub async fn history(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>, uri: Uri) -> Result<Response, WebError> {
    let q: HistoryQuery = parse_query(&uri)?;
    let id = document_id(&raw)?;
    let actor = s.auth.actor;
    let list = state.store.execute(Command::ListVersions { actor: actor.clone(), id: id.clone() }).await?.into_versions()?;
    let newest = list.iter().map(|v| v.version).max().unwrap_or(1);
    let b = version_of(q.b.as_deref().unwrap_or(""))?.unwrap_or(newest).clamp(1, newest);
    let a = version_of(q.a.as_deref().unwrap_or(""))?.unwrap_or(b - 1).clamp(1, newest);
    let left = read(&state, actor.clone(), id.clone(), Some(a)).await?;
    let right = read(&state, actor, id, Some(b)).await?;
    let c = s.chrome;
    let versions = list
        .iter()
        .map(|v| VersionRow {
            version: v.version,
            kind: c.t(kind_key(v.kind)),
            author: v.author.to_string(),
            entered_at: jst(v.entered_at),
            reason: v.reason.clone().unwrap_or_default(),
            confirmer: v.confirmer.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            confirmed_at: v.confirmed_at.map(jst).unwrap_or_default(),
            approved_by: v.approved_by.as_ref().map(|u| u.to_string()).unwrap_or_default(),
        })
        .collect();
    let rows = diff::side_by_side(&body_text(&left.body), &body_text(&right.body));
    let title_changed = (left.title != right.title).then(|| (left.title.clone(), right.title.clone()));
    let page = HistoryPage {
        c,
        id: right.id.to_string(),
        title: right.title.clone(),
        patient_id: right.patient_id.to_string(),
        versions,
        a,
        b,
        rows,
        title_changed,
    };
    render(&page)
}

// ----- attachments ------------------------------------------------------------------------------

/// The file of a multipart upload form whose first field is the CSRF token, so the token is
/// checked before a single byte is written; the file is streamed to the blob store (the size limit
/// applies) and answered with its name and media type. Shared by the upload forms (documents,
/// ledgers).
pub(super) async fn receive_file(
    state: &AppState,
    s: &WebSession,
    form: &mut Multipart,
) -> Result<(kiroku_blob::Stored, String, String), WebError> {
    check_multipart_csrf(form, &s.chrome.csrf).await?;
    let no_file = || WebError::Api(ApiError::validation("file", "choose a file"));
    let mut field = form.next_field().await.map_err(|_| no_file())?.ok_or_else(no_file)?;
    let name = field.file_name().map(str::to_string).filter(|n| !n.is_empty()).ok_or_else(no_file)?;
    kiroku_core::document::validate_attachment_name(&name).map_err(ApiError::from)?;
    let media_type = field
        .content_type()
        .map(|m| m.to_ascii_lowercase())
        .filter(|m| m.len() <= 127 && m.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".into());
    let stored = store_field(state, &mut field).await?;
    Ok((stored, name, media_type))
}

/// Stores a file attached to a document.
pub async fn upload(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let id = document_id(&raw)?;
    let (stored, name, media_type) = receive_file(&state, &s, &mut form).await?;
    let command = Command::AddAttachment {
        actor: s.auth.actor,
        id,
        attachment_id: uuid::Uuid::now_v7().to_string(),
        name,
        media_type,
        size: stored.size as i64,
        blob_hash: stored.hash,
    };
    let att = state.store.execute(command).await?.into_attachment()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(see_other(&format!("/documents/{}", att.document_id)))
}

/// Streams an uploaded form field into the file store (never held in memory whole), within the
/// upload limit; shared with the scanning pages.
pub(super) async fn store_field(
    state: &AppState,
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<kiroku_blob::Stored, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let stream = Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }));
    let mut reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let (blobs, limit) = (state.blobs.clone(), state.settings.max_upload_bytes);
    let writer = tokio::task::spawn_blocking(move || blobs.put(&mut reader, limit));
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                break;
            }
        }
    }
    drop(tx);
    writer.await.map_err(|_| ApiError::internal())?.map_err(ApiError::from)
}

pub async fn download(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, att)): Path<(String, String)>,
) -> Result<Response, WebError> {
    Ok(attachment_response(&state, s.auth.actor, &raw, att).await?)
}
