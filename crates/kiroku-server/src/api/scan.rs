//! Scanned paper (T2-5.1 … T2-5.4): scan types and their rules, paper received for scanning,
//! uploading a scanned file (stored like every attachment, then checked by the store against the
//! type's rule and deadline), the scan register with each file's signature and timestamp, the
//! overdue list, and the originals register. Files are signed through
//! `POST /documents/{id}/attachments/{attachment_id}/signatures` (the one way to sign).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use kiroku_core::PatientId;
use kiroku_core::scan::{ColourMode, OriginalHandling, ScanRule};
use kiroku_store::Command;
use kiroku_store::SignatureRecord;
use kiroku_store::scan::{FileProof, NewScan, OriginalAction, ScanEntry, ScanRegister, ScanTypeRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;

use super::patients::patient_id;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, ApiQuery as Query, Authenticated};

/// A scan type's rule as the API takes it; defaults: 300 dpi, 2 working days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeRequest {
    pub name: String,
    pub min_dpi: Option<u32>,
    pub colour: ColourMode,
    pub deadline_days: Option<u32>,
    /// `keep` (with `keep_years`) or `dispose`.
    pub original: String,
    pub keep_years: Option<u32>,
    #[serde(default)]
    pub retired: bool,
}

impl TypeRequest {
    pub fn rule(self, code: String) -> ApiResult<(ScanRule, bool)> {
        let original = match (self.original.as_str(), self.keep_years) {
            ("keep", Some(years)) => OriginalHandling::Keep { years },
            ("keep", None) => return Err(ApiError::validation("keep_years", "give the years the original is kept")),
            ("dispose", _) => OriginalHandling::Dispose,
            _ => return Err(ApiError::validation("original", "must be keep or dispose")),
        };
        let rule = ScanRule {
            code,
            name: self.name,
            min_dpi: self.min_dpi.unwrap_or(kiroku_core::scan::DEFAULT_MIN_DPI),
            colour: self.colour,
            deadline_days: self.deadline_days.unwrap_or(kiroku_core::scan::DEFAULT_DEADLINE_DAYS),
            original,
        };
        Ok((rule, self.retired))
    }
}

/// Reads the register through the audited command; `patient` narrows it.
pub async fn register(state: &AppState, auth: &Authenticated, patient: Option<PatientId>) -> ApiResult<ScanRegister> {
    let command = Command::ScanRegister { actor: auth.actor.clone(), patient_id: patient, calendar: state.settings.scan_calendar.clone() };
    let register = state.store.execute(command).await?.into_scan_register()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(*register)
}

/// `GET /scan/types`: every type's current rule.
pub async fn types(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let register = register(&state, &auth, None).await?;
    Ok(Json(json!({ "types": register.types })))
}

/// `PUT /scan/types/{code}`: adds a type or a new revision of its rule (scan.manage).
pub async fn save_type(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<TypeRequest>,
) -> ApiResult<Json<Value>> {
    let saved = save_type_as(&state, &auth, code, req).await?;
    Ok(Json(json!({ "type": saved })))
}

/// Saves a type's rule as a new revision; shared with the web page.
pub async fn save_type_as(state: &AppState, auth: &Authenticated, code: String, req: TypeRequest) -> ApiResult<ScanTypeRecord> {
    let (rule, retired) = req.rule(code)?;
    let saved = state.store.execute(Command::SaveScanType { actor: auth.actor.clone(), rule, retired }).await?.into_scan_types()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    saved.into_iter().next().ok_or_else(ApiError::internal)
}

/// A scanned file's proof as checked now: the stored bytes against their hash, each signature
/// (over the file's SHA-256, at the time its own timestamp proves), and the file's own
/// timestamp (its place under the token, the token, archive renewals and the TSA's kept
/// revocation answers). Every verdict is `Err(reason)` when it does not hold.
pub struct FileCheck {
    pub intact: Result<(), String>,
    pub signatures: Vec<(SignatureRecord, Result<(), String>)>,
    /// `None`: not stamped yet; else the token's time and TSA (when the token is there) and the verdict.
    pub stamp: Option<(Option<kiroku_core::Timestamp>, String, Result<(), String>)>,
}

pub async fn check_file(state: &AppState, file: &FileProof) -> ApiResult<FileCheck> {
    let intact = super::signatures::read_file(state, &file.attachment.blob_hash).await.map(|_| ()).map_err(|e| e.detail.clone());
    let signatures = super::signatures::verified_file_signatures(state, &file.attachment, &file.signatures).await?;
    let stamp = match &file.stamp {
        None => None,
        Some(item) => {
            let chains = state.store.stamp_chains().await?;
            match chains.get(&item.stamp_id) {
                None => Some((None, String::new(), Err(format!("timestamp {} is missing", item.stamp_id)))),
                Some(st) => {
                    let verdict = if item.digest != file.attachment.blob_hash {
                        Err("the stamped hash is not the file's".to_string())
                    } else {
                        kiroku_store::stamps::check_item(item, st).and_then(|()| match &state.settings.timestamp {
                            Some(t) => chains.verify(
                                &st.id,
                                &kiroku_store::stamps::StampCheck {
                                    anchors: t.anchors.clone(),
                                    signer_anchors: state.settings.signer_anchors.clone(),
                                    at: time::OffsetDateTime::now_utc(),
                                },
                            ),
                            None => {
                                Err("timestamping is not configured ([timestamp] trust_anchors), so the token cannot be checked".into())
                            }
                        })
                    };
                    Some((Some(st.gen_time), st.tsa.clone(), verdict))
                }
            }
        }
    };
    Ok(FileCheck { intact, signatures, stamp })
}

#[derive(Deserialize)]
pub struct RegisterQuery {
    patient: Option<String>,
}

/// `GET /scan/register?patient=`: items with their state, file, signatures and timestamp.
pub async fn list(State(state): State<AppState>, auth: Authenticated, Query(q): Query<RegisterQuery>) -> ApiResult<Json<Value>> {
    let patient = q.patient.as_deref().map(patient_id).transpose()?;
    let register = register(&state, &auth, patient).await?;
    let entries: Vec<Value> = register.entries.iter().map(entry_json).collect();
    Ok(Json(json!({ "today": register.today, "items": entries })))
}

/// `GET /scan/overdue`: papers scanned after their deadline, or still waiting past it.
pub async fn overdue(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let register = register(&state, &auth, None).await?;
    let entries: Vec<Value> = register.entries.iter().filter(|e| e.overdue).map(entry_json).collect();
    Ok(Json(json!({ "today": register.today, "items": entries })))
}

/// One register line as JSON, with the file's proof state spelled out.
pub fn entry_json(e: &ScanEntry) -> Value {
    let file = e.file.as_ref().map(|f| {
        json!({
            "document_id": f.attachment.document_id, "attachment_id": f.attachment.id, "name": f.attachment.name,
            "media_type": f.attachment.media_type, "size": f.attachment.size, "sha256": f.attachment.blob_hash,
            "signatures": f.signatures.iter().map(|g| json!({ "id": g.id, "signed_by": g.username, "signer": g.signer, "signed_at": g.signed_at })).collect::<Vec<_>>(),
            "signed": !f.signatures.is_empty(),
            "timestamped": f.stamp.is_some(),
            "stamp_id": f.stamp.as_ref().map(|s| s.stamp_id.clone()),
        })
    });
    json!({
        "id": e.item.id, "patient_id": e.item.patient_id, "type": e.item.type_code, "type_name": e.type_name,
        "type_revision": e.item.type_revision, "paper_date": e.item.paper_date, "due_date": e.item.due_date,
        "registered_by": e.item.registered_by, "registered_at": e.item.registered_at, "state": e.state, "overdue": e.overdue,
        "late_reason": e.late_reason, "file": file, "events": e.events,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperRequest {
    #[serde(rename = "type")]
    type_code: String,
    paper_date: String,
}

/// `POST /patients/{id}/scan/papers`: paper received for scanning; its deadline runs from its date.
pub async fn receive(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    ApiJson(req): ApiJson<PaperRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let command = Command::ReceivePaper {
        actor: auth.actor,
        patient_id: patient_id(&raw)?,
        type_code: req.type_code,
        paper_date: req.paper_date,
        calendar: state.settings.scan_calendar.clone(),
    };
    let entry = state.store.execute(command).await?.into_scan_entry()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok((StatusCode::CREATED, Json(entry_json(&entry))))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    #[serde(rename = "type")]
    type_code: Option<String>,
    paper_date: Option<String>,
    name: String,
    /// A paper registered as received before.
    item: Option<String>,
    late_reason: Option<String>,
}

/// `POST /patients/{id}/scans?type=&paper_date=&name=[&item=][&late_reason=]`, the file as the
/// body: stored in the file store, checked against the type's rule, recorded as a scan record.
pub async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let patient = patient_id(&raw)?;
    kiroku_core::document::validate_attachment_name(&q.name)?;
    let (stored, _declared) = super::documents::store_body(&state, request).await?;
    let entry = add_scan(&state, &auth, patient, q.item, q.type_code, q.paper_date, q.name, q.late_reason, stored).await?;
    Ok((StatusCode::CREATED, Json(entry_json(&entry))))
}

/// Inspects a stored file and records the scan; shared with the web form.
#[allow(clippy::too_many_arguments)]
pub async fn add_scan(
    state: &AppState,
    auth: &Authenticated,
    patient: PatientId,
    item: Option<String>,
    type_code: Option<String>,
    paper_date: Option<String>,
    name: String,
    late_reason: Option<String>,
    stored: kiroku_blob::Stored,
) -> ApiResult<ScanEntry> {
    let bytes = super::signatures::read_file(state, &stored.hash).await?;
    let facts = kiroku_core::scan::inspect(&bytes);
    let scan = NewScan {
        patient_id: patient,
        item_id: item.filter(|i| !i.is_empty()),
        type_code: type_code.unwrap_or_default(),
        paper_date: paper_date.unwrap_or_default(),
        late_reason: late_reason.filter(|r| !r.trim().is_empty()),
        attachment_id: uuid::Uuid::now_v7().to_string(),
        name,
        size: stored.size as i64,
        blob_hash: stored.hash,
        facts,
    };
    let command = Command::AddScan { actor: auth.actor.clone(), scan: Box::new(scan), calendar: state.settings.scan_calendar.clone() };
    let entry = state.store.execute(command).await?.into_scan_entry()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(*entry)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalRequest {
    /// `keep` (with `location`), `request_disposal` or `dispose` (the approval by a second
    /// person; each with an optional `note`).
    action: String,
    location: Option<String>,
    note: Option<String>,
}

impl OriginalRequest {
    pub fn new(action: String, location: Option<String>, note: Option<String>) -> Self {
        OriginalRequest { action, location, note }
    }

    pub fn action(self) -> ApiResult<OriginalAction> {
        match self.action.as_str() {
            "keep" => Ok(OriginalAction::Keep { location: self.location.unwrap_or_default() }),
            "request_disposal" => Ok(OriginalAction::RequestDisposal { note: self.note.unwrap_or_default() }),
            "dispose" => Ok(OriginalAction::Dispose { note: self.note.unwrap_or_default() }),
            _ => Err(ApiError::validation("action", "must be keep, request_disposal or dispose")),
        }
    }
}

/// `POST /scan/items/{id}/original`: the original kept (where), its disposal requested, or the
/// disposal approved by a second person.
pub async fn original(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(item_id): Path<String>,
    ApiJson(req): ApiJson<OriginalRequest>,
) -> ApiResult<Json<Value>> {
    let entry = record_original(&state, &auth, item_id, req).await?;
    Ok(Json(entry_json(&entry)))
}

pub async fn record_original(state: &AppState, auth: &Authenticated, item_id: String, req: OriginalRequest) -> ApiResult<ScanEntry> {
    if item_id.len() > 64 {
        return Err(ApiError::not_found("scan item"));
    }
    let command = Command::RecordOriginal {
        actor: auth.actor.clone(),
        item_id,
        action: req.action()?,
        calendar: state.settings.scan_calendar.clone(),
    };
    let entry = state.store.execute(command).await?.into_scan_entry()?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(*entry)
}
