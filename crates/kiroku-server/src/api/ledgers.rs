//! Ledgers (台帳) under /api/v1/governance: the ledgers and their fields, entries (create, revise,
//! approve, close and other events, history), attached files, and the periodic duties. Shared with
//! the ledger pages. Every operation is a store command (permission checked and audited there).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use kiroku_core::Permission;
use kiroku_core::ledgers::{EntryStatus, EventKind, LEDGERS, LedgerKind};
use kiroku_store::governance_ledgers::{DutyReport, LedgerAttachment, LedgerEntry, LedgerPage, LedgerQuery};
use kiroku_store::{Actor, Command};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::atomic::Ordering::Relaxed;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, ApiQuery as Query, Authenticated};

/// The ledger named in a path; an unknown one is not found.
pub fn ledger_kind(raw: &str) -> ApiResult<LedgerKind> {
    LedgerKind::parse(raw).ok_or_else(|| ApiError::not_found("ledger"))
}

/// The ledgers with their fields, for holders of governance.read (definitions, not records: not
/// audited).
pub async fn kinds(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    if !state.store.allows(auth.actor.role, Permission::GovernanceRead).await? {
        return Err(ApiError::forbidden(format!("the role {} lacks the permission {}", auth.actor.role, Permission::GovernanceRead)));
    }
    Ok(Json(json!({ "ledgers": LEDGERS })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// A page of a ledger's entries (of every ledger for `None`); shared with the list pages.
pub async fn list_as(state: &AppState, actor: Actor, kind: Option<LedgerKind>, q: ListQuery) -> ApiResult<LedgerPage> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(EntryStatus::parse(s).ok_or_else(|| ApiError::validation("status", "unknown state"))?),
        None => None,
    };
    let date = |field: &'static str, v: Option<String>| -> ApiResult<Option<String>> {
        match v.filter(|s| !s.is_empty()) {
            Some(d) if kiroku_core::ledgers::parse_date(&d).is_some() => Ok(Some(d)),
            Some(_) => Err(ApiError::validation(field, "must be a date YYYY-MM-DD")),
            None => Ok(None),
        }
    };
    let query = LedgerQuery {
        kind,
        from: date("from", q.from)?,
        to: date("to", q.to)?,
        status,
        before: q.cursor.filter(|c| !c.is_empty() && c.len() <= 64),
        limit: q.limit.unwrap_or(50),
    };
    let page = state.store.execute(Command::LedgerList { actor, query }).await?.into_ledger_page()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(*page)
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(kind): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(list_as(&state, auth.actor, Some(ledger_kind(&kind)?), q).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    pub fields: Map<String, Value>,
    /// For a revision: the revision the client last saw.
    #[serde(default)]
    pub revision: Option<i64>,
}

/// Records an entry; shared with the form.
pub async fn create_as(state: &AppState, actor: Actor, kind: LedgerKind, fields: Map<String, Value>) -> ApiResult<LedgerEntry> {
    let entry = state.store.execute(Command::LedgerCreate { actor, kind, fields }).await?.into_ledger_entry()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(*entry)
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(kind): Path<String>,
    ApiJson(body): ApiJson<NewEntry>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let kind = ledger_kind(&kind)?;
    if body.revision.is_some() {
        return Err(ApiError::validation("revision", "a new entry has no revision yet"));
    }
    Ok((StatusCode::CREATED, Json(json!(create_as(&state, auth.actor, kind, body.fields).await?))))
}

/// An entry with its history, in the ledger named by the path; shared with the history page.
pub async fn entry_as(state: &AppState, actor: Actor, kind: LedgerKind, id: String) -> ApiResult<LedgerEntry> {
    let entry = *state.store.execute(Command::LedgerRead { actor, id }).await?.into_ledger_entry()?;
    if entry.kind != kind {
        return Err(ApiError::not_found("ledger entry"));
    }
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(entry)
}

pub async fn get_one(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(entry_as(&state, auth.actor, ledger_kind(&kind)?, id).await?)))
}

/// The entry's kind must be the path's before anything is written to it.
async fn check_kind(state: &AppState, actor: &Actor, kind: &str, id: &str) -> ApiResult<()> {
    entry_as(state, actor.clone(), ledger_kind(kind)?, id.to_string()).await.map(|_| ())
}

/// A new revision; shared with the form.
pub async fn revise_as(
    state: &AppState,
    actor: Actor,
    id: String,
    revision: Option<i64>,
    fields: Map<String, Value>,
) -> ApiResult<LedgerEntry> {
    let entry = state.store.execute(Command::LedgerRevise { actor, id, if_revision: revision, fields }).await?.into_ledger_entry()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(*entry)
}

pub async fn revise(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewEntry>,
) -> ApiResult<Json<Value>> {
    check_kind(&state, &auth.actor, &kind, &id).await?;
    Ok(Json(json!(revise_as(&state, auth.actor, id, body.revision, body.fields).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    pub event: String,
    #[serde(default)]
    pub note: String,
}

/// Records an event; shared with the history page.
pub async fn event_as(state: &AppState, actor: Actor, id: String, event: EventKind, note: String) -> ApiResult<LedgerEntry> {
    let entry = state.store.execute(Command::LedgerRecordEvent { actor, id, event, note }).await?.into_ledger_entry()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(*entry)
}

pub async fn approve(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Note>,
) -> ApiResult<Json<Value>> {
    check_kind(&state, &auth.actor, &kind, &id).await?;
    Ok(Json(json!(event_as(&state, auth.actor, id, EventKind::Approve, body.note).await?)))
}

pub async fn event(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewEvent>,
) -> ApiResult<Json<Value>> {
    let event = EventKind::parse(&body.event).ok_or_else(|| ApiError::validation("event", "must be close, note or loss_reported"))?;
    if event == EventKind::Approve {
        return Err(ApiError::validation("event", "approve with POST …/approve"));
    }
    check_kind(&state, &auth.actor, &kind, &id).await?;
    Ok(Json(json!(event_as(&state, auth.actor, id, event, body.note).await?)))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    name: String,
}

/// Stores a file and attaches it to an entry; shared with the history page.
pub async fn attach_as(state: &AppState, actor: Actor, id: String, name: String, request: Request) -> ApiResult<Value> {
    kiroku_core::document::validate_attachment_name(&name)?;
    let (stored, media_type) = super::documents::store_body(state, request).await?;
    Ok(json!(attach_stored(state, actor, id, name, media_type, stored).await?))
}

/// Attaches a file already stored as a blob; shared with the upload form.
pub async fn attach_stored(
    state: &AppState,
    actor: Actor,
    id: String,
    name: String,
    media_type: String,
    stored: kiroku_blob::Stored,
) -> ApiResult<LedgerAttachment> {
    let command = Command::LedgerAttach {
        actor,
        id,
        attachment_id: uuid::Uuid::now_v7().to_string(),
        name,
        media_type,
        size: stored.size as i64,
        blob_hash: stored.hash,
    };
    let attachment = state.store.execute(command).await?.into_ledger_attachment()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(*attachment)
}

pub async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_kind(&state, &auth.actor, &kind, &id).await?;
    Ok((StatusCode::CREATED, Json(attach_as(&state, auth.actor, id, q.name, request).await?)))
}

/// An attached file's bytes after the audited read; shared with the history page.
pub async fn download_as(state: &AppState, actor: Actor, id: String, attachment_id: String) -> ApiResult<Response> {
    if attachment_id.len() > 64 {
        return Err(ApiError::not_found("attachment"));
    }
    let att = state.store.execute(Command::LedgerReadAttachment { actor, id, attachment_id }).await?.into_ledger_attachment()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    super::documents::file_response(state, &att.blob_hash, &att.name, &att.media_type, att.size)
}

pub async fn download(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id, attachment_id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    check_kind(&state, &auth.actor, &kind, &id).await?;
    download_as(&state, auth.actor, id, attachment_id).await
}

/// The periodic duties with reminders and overdue ones, and every account's training; shared with
/// the duties page.
pub async fn duties_as(state: &AppState, actor: Actor) -> ApiResult<DutyReport> {
    let report = state.store.execute(Command::GovernanceDuties { actor, intervals: state.settings.duties }).await?.into_duties()?;
    Ok(*report)
}

pub async fn duties(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let report = duties_as(&state, auth.actor).await?;
    let due: Vec<_> = report.due().collect();
    Ok(Json(
        json!({ "today": report.today, "intervals": report.intervals, "duties": report.duties, "due": due, "training": report.training }),
    ))
}
