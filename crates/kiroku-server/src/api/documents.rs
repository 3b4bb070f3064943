//! Documents: create, read, revise (draft edit or amendment), confirm, approve, delete, history,
//! attachments, and the approval queue.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use kiroku_core::{DocumentId, InfoClass, Username};
use kiroku_store::command::NewDocument;
use kiroku_store::{Command, DocumentView};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};

use super::patients::patient_id;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, ApiQuery as Query, Authenticated};

pub fn document_id(raw: &str) -> ApiResult<DocumentId> {
    DocumentId::parse(raw).map_err(|_| ApiError::not_found("document"))
}

/// The version a client last saw, from `If-Match: "3"` (also `W/"3"` or `3`); `*` means any.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().map_err(|_| ApiError::validation("If-Match", "must be an ETag such as \"3\""))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| ApiError::validation("If-Match", "must be an ETag such as \"3\""))
}

/// Executes a command that changes a document and answers the document as it now is.
async fn write(state: &AppState, command: Command, status: StatusCode) -> ApiResult<Response> {
    let view = state.store.execute(command).await?.into_document()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(document_response(status, *view))
}

/// A document answer with its ETag (the version number).
fn document_response(status: StatusCode, view: DocumentView) -> Response {
    let etag = format!("\"{}\"", view.current_version);
    let mut response = (status, Json(json!(view))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDocument {
    #[serde(rename = "type")]
    doc_type: String,
    title: String,
    body: Value,
    #[serde(default = "normal")]
    info_class: InfoClass,
    on_behalf_of: Option<Username>,
}

fn normal() -> InfoClass {
    InfoClass::Normal
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    ApiJson(req): ApiJson<CreateDocument>,
) -> ApiResult<Response> {
    let document = NewDocument {
        doc_type: req.doc_type,
        title: req.title,
        body: req.body,
        info_class: req.info_class,
        on_behalf_of: req.on_behalf_of,
    };
    write(&state, Command::CreateDocument { actor: auth.actor, patient_id: patient_id(&raw)?, document }, StatusCode::CREATED).await
}

pub async fn list(State(state): State<AppState>, auth: Authenticated, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let documents =
        state.store.execute(Command::ListDocuments { actor: auth.actor, patient_id: patient_id(&raw)? }).await?.into_documents()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(Json(json!({ "documents": documents })))
}

pub async fn get_one(State(state): State<AppState>, auth: Authenticated, Path(raw): Path<String>) -> ApiResult<Response> {
    let view =
        state.store.execute(Command::ReadDocument { actor: auth.actor, id: document_id(&raw)?, version: None }).await?.into_document()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(document_response(StatusCode::OK, *view))
}

pub async fn version(State(state): State<AppState>, auth: Authenticated, Path((raw, n)): Path<(String, String)>) -> ApiResult<Response> {
    let n: i64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found("version"))?;
    let view = state
        .store
        .execute(Command::ReadDocument { actor: auth.actor, id: document_id(&raw)?, version: Some(n) })
        .await?
        .into_document()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(document_response(StatusCode::OK, *view))
}

pub async fn versions(State(state): State<AppState>, auth: Authenticated, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let versions = state.store.execute(Command::ListVersions { actor: auth.actor, id: document_id(&raw)? }).await?.into_versions()?;
    Ok(Json(json!({ "versions": versions })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    body: Value,
    title: Option<String>,
    /// Required for a confirmed document: the change becomes a new, confirmed version.
    reason: Option<String>,
}

/// PUT: edits a draft, or amends a confirmed document when a reason is given.
pub async fn revise(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Revision>,
) -> ApiResult<Response> {
    let id = document_id(&raw)?;
    let if_match = if_match(&headers)?;
    let command = match req.reason {
        Some(reason) => Command::Amend { actor: auth.actor, id, if_match, title: req.title, body: req.body, reason },
        None => Command::UpdateDraft { actor: auth.actor, id, if_match, title: req.title, body: req.body },
    };
    write(&state, command, StatusCode::OK).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deletion {
    reason: String,
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Deletion>,
) -> ApiResult<Response> {
    let command = Command::Delete { actor: auth.actor, id: document_id(&raw)?, if_match: if_match(&headers)?, reason: req.reason };
    write(&state, command, StatusCode::OK).await
}

pub async fn confirm(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    write(&state, Command::Confirm { actor: auth.actor, id: document_id(&raw)?, if_match: if_match(&headers)? }, StatusCode::OK).await
}

pub async fn approve(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    write(&state, Command::Approve { actor: auth.actor, id: document_id(&raw)?, if_match: if_match(&headers)? }, StatusCode::OK).await
}

pub async fn approval_queue(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let documents = state.store.execute(Command::ApprovalQueue { actor: auth.actor }).await?.into_documents()?;
    Ok(Json(json!({ "documents": documents })))
}

pub async fn attachments(State(state): State<AppState>, auth: Authenticated, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let view =
        state.store.execute(Command::ReadDocument { actor: auth.actor, id: document_id(&raw)?, version: None }).await?.into_document()?;
    Ok(Json(json!({ "attachments": view.attachments })))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    name: String,
}

/// Streams the request body into the blob store, then records the attachment.
pub async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = document_id(&raw)?;
    kiroku_core::document::validate_attachment_name(&q.name)?;
    let (stored, media_type) = store_body(&state, request).await?;
    let command = Command::AddAttachment {
        actor: auth.actor,
        id,
        attachment_id: uuid::Uuid::now_v7().to_string(),
        name: q.name,
        media_type,
        size: stored.size as i64,
        blob_hash: stored.hash,
    };
    let attachment = state.store.execute(command).await?.into_attachment()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok((StatusCode::CREATED, Json(json!(attachment))))
}

/// Streams a request body into the file store (the one way files enter kiroku) and answers the
/// stored file and the media type the request declared.
pub async fn store_body(state: &AppState, request: Request) -> ApiResult<(kiroku_blob::Stored, String)> {
    let limit = state.settings.max_upload_bytes;
    let headers = request.headers();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v.len() <= 127 && v.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let stream = request.into_body().into_data_stream().map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let blobs = state.blobs.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        blobs.put(&mut reader, limit)
    })
    .await
    .map_err(|_| ApiError::internal())??;
    Ok((stored, media_type))
}

pub async fn download(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((raw, attachment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    attachment_response(&state, auth.actor, &raw, attachment_id).await
}

/// An attachment's bytes as a download, after the audited read; shared with the web pages.
pub async fn attachment_response(state: &AppState, actor: kiroku_store::Actor, raw: &str, attachment_id: String) -> ApiResult<Response> {
    let id = document_id(raw)?;
    if attachment_id.len() > 64 {
        return Err(ApiError::not_found("attachment"));
    }
    let att = state.store.execute(Command::ReadAttachment { actor, id, attachment_id }).await?.into_attachment()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    file_response(state, &att.blob_hash, &att.name, &att.media_type, att.size)
}

/// A stored file as a download under its recorded name and type; shared with the ledgers.
pub fn file_response(state: &AppState, blob_hash: &str, name: &str, media_type: &str, size: i64) -> ApiResult<Response> {
    let file = state.blobs.open_blob(blob_hash)?;
    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    let disposition = format!("attachment; filename=\"download\"; filename*=UTF-8''{}", percent_encode(name));
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size as u64));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"sha256:{blob_hash}\"")) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

/// RFC 5987 encoding for a file name in Content-Disposition.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
