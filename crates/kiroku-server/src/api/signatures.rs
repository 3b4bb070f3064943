//! Electronic signatures of confirmed versions (T1-4.9, T2-5.3): the bytes a signature covers, a
//! signature made with the user's own key (a PKCS#8 key and certificate sent with the request,
//! used once and never stored or logged) or made elsewhere (an HPKI card client, openssl) and
//! sent as a detached CMS signature, and the list of a version's signatures with the verdict of
//! each and the reason when it does not verify.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiroku_store::{Command, DocumentView, SignatureRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering::Relaxed;

use super::documents::document_id;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, Authenticated};

/// Reads a version through the audited read command.
async fn read_version(state: &AppState, auth: &Authenticated, raw: &str, n: &str) -> ApiResult<DocumentView> {
    let n: i64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found("version"))?;
    let view = state
        .store
        .execute(Command::ReadDocument { actor: auth.actor.clone(), id: document_id(raw)?, version: Some(n) })
        .await?
        .into_document()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    Ok(*view)
}

/// The exact bytes a signature of `view` covers: the RFC 8785 JSON whose SHA-256 is the
/// version's content hash.
pub fn signed_bytes(view: &DocumentView) -> Vec<u8> {
    let content = kiroku_core::document::VersionContent {
        document_id: &view.id,
        patient_id: &view.patient_id,
        version: view.version,
        kind: view.version_kind,
        doc_type: &view.doc_type,
        title: &view.title,
        info_class: view.info_class,
        body: &view.body,
        entered_by: &view.author,
        on_behalf_of: view.on_behalf_of.as_ref(),
        entered_at: view.entered_at,
        reason: view.reason.as_deref(),
    };
    kiroku_core::hash::canonical_json(&content).into_bytes()
}

/// `GET /documents/{id}/versions/{n}/signed-content`: the bytes to sign, for signing elsewhere.
pub async fn signed_content(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((raw, n)): Path<(String, String)>,
) -> ApiResult<Response> {
    let view = read_version(&state, &auth, &raw, &n).await?;
    let mut response = signed_bytes(&view).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// A detached CMS signature (base64 DER) made elsewhere over the signed content.
    signature: Option<String>,
    /// Or the signer's PKCS#8 private key (PEM) and certificate chain (PEM), used for this
    /// signature only.
    private_key_pem: Option<String>,
    certificate_pem: Option<String>,
    /// Or the signer's PKCS#12 file (.p12/.pfx, base64) with its password, used for this
    /// signature only.
    pkcs12: Option<String>,
    pkcs12_password: Option<String>,
    /// Or the PIN of the facility's seal on the PKCS#11 token of `[signing] pkcs11_module`,
    /// used for this signature only.
    pkcs11_pin: Option<String>,
}

impl SignRequest {
    /// A request to sign with a software key, as the web form sends it.
    pub fn with_key(private_key_pem: String, certificate_pem: String) -> Self {
        SignRequest {
            signature: None,
            private_key_pem: Some(private_key_pem),
            certificate_pem: Some(certificate_pem),
            pkcs12: None,
            pkcs12_password: None,
            pkcs11_pin: None,
        }
    }

    /// A request to sign with a PKCS#12 file (.p12/.pfx) and its password, as the web form
    /// sends it; neither is kept after the signature is made.
    pub fn with_pkcs12(pkcs12: &[u8], password: String) -> Self {
        SignRequest {
            signature: None,
            private_key_pem: None,
            certificate_pem: None,
            pkcs12: Some(STANDARD.encode(pkcs12)),
            pkcs12_password: Some(password),
            pkcs11_pin: None,
        }
    }
}

/// `POST /documents/{id}/versions/{n}/signatures`: signs a confirmed version.
pub async fn sign(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((raw, n)): Path<(String, String)>,
    ApiJson(req): ApiJson<SignRequest>,
) -> ApiResult<Response> {
    let view = read_version(&state, &auth, &raw, &n).await?;
    let record = sign_version(&state, &auth, &view, req).await?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok((StatusCode::CREATED, Json(signature_json(&record, None))).into_response())
}

/// Makes (or takes) the signature, verifies it against the configured anchors and stores it.
pub async fn sign_version(state: &AppState, auth: &Authenticated, view: &DocumentView, req: SignRequest) -> ApiResult<SignatureRecord> {
    let target =
        SignTarget { document_id: view.id.clone(), version: view.version, content_hash: view.content_hash.clone(), attachment_id: None };
    sign_bytes(state, auth, &signed_bytes(view), target, req).await
}

/// What a signature is recorded against: a version, or one of its files.
pub struct SignTarget {
    pub document_id: kiroku_core::DocumentId,
    pub version: i64,
    /// The version's content hash, or the file's SHA-256.
    pub content_hash: String,
    pub attachment_id: Option<String>,
}

/// The one way a signature is made or taken: with the signer's key (PKCS#8 or PKCS#12) sent for
/// this request only, or made elsewhere; verified over `content` against `[signing]
/// trust_anchors`, its revocation checked, and stored with its evidence.
pub async fn sign_bytes(
    state: &AppState,
    auth: &Authenticated,
    content: &[u8],
    target: SignTarget,
    req: SignRequest,
) -> ApiResult<SignatureRecord> {
    if state.settings.signer_anchors.is_empty() {
        return Err(ApiError::conflict("signing is not configured: set [signing] trust_anchors to the CA certificates of the signers"));
    }
    let sign_with = |signer: kiroku_sign::SoftwareSigner, field: &'static str| {
        kiroku_sign::sign_detached(content, &signer, time::OffsetDateTime::now_utc())
            .map_err(|e| ApiError::validation(field, format!("{} ({})", e, e.code())))
    };
    if let Some(pin) = req.pkcs11_pin {
        if req.signature.is_some() || req.private_key_pem.is_some() || req.certificate_pem.is_some() || req.pkcs12.is_some() {
            return Err(ApiError::validation("pkcs11_pin", "send pkcs11_pin alone"));
        }
        let der = sign_on_token(state, content.to_vec(), pin).await?;
        return store_signature(state, auth, target, content, der).await;
    }
    let der = match (req.signature, req.private_key_pem, req.certificate_pem, req.pkcs12, req.pkcs12_password) {
        (Some(b64), None, None, None, None) => {
            STANDARD.decode(b64.trim()).map_err(|_| ApiError::validation("signature", "must be base64 of a DER CMS signature"))?
        }
        (None, Some(key), Some(certs), None, None) => {
            let signer = kiroku_sign::SoftwareSigner::from_files_content(key.as_bytes(), certs.as_bytes())
                .map_err(|e| ApiError::validation("private_key_pem", format!("{} ({})", e, e.code())))?;
            sign_with(signer, "private_key_pem")?
        }
        (None, None, None, Some(p12), Some(password)) => {
            let p12 = STANDARD.decode(p12.trim()).map_err(|_| ApiError::validation("pkcs12", "must be base64 of a .p12/.pfx file"))?;
            let signer = kiroku_sign::SoftwareSigner::from_pkcs12(&p12, &password)
                .map_err(|e| ApiError::validation("pkcs12", format!("{} ({})", e, e.code())))?;
            sign_with(signer, "pkcs12")?
        }
        _ => {
            return Err(ApiError::validation(
                "signature",
                "send either signature, or private_key_pem with certificate_pem, or pkcs12 with pkcs12_password",
            ));
        }
    };
    store_signature(state, auth, target, content, der).await
}

/// One token session at a time: a PKCS#11 module is initialised once per process.
static TOKEN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Signs `content` with the facility's seal on the configured PKCS#11 token, logging in with
/// `pin` for this signature only.
async fn sign_on_token(state: &AppState, content: Vec<u8>, pin: String) -> ApiResult<Vec<u8>> {
    let location = state.settings.pkcs11.clone().ok_or_else(|| {
        ApiError::conflict("no PKCS#11 token is configured: set [signing] pkcs11_module, pkcs11_token_label and pkcs11_key_label")
    })?;
    let signed = tokio::task::spawn_blocking(move || {
        let _one = TOKEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let signer = kiroku_sign::pkcs11::Pkcs11Signer::open(&location, &pin, Vec::new())?;
        kiroku_sign::sign_detached(&content, &signer, time::OffsetDateTime::now_utc())
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the PKCS#11 signing task failed");
        ApiError::internal()
    })?;
    signed.map_err(|e| ApiError::validation("pkcs11_pin", format!("{} ({})", e, e.code())))
}

/// Verifies a signature over `content`, checks its path's revocation and stores it with the
/// validation data.
async fn store_signature(
    state: &AppState,
    auth: &Authenticated,
    target: SignTarget,
    content: &[u8],
    der: Vec<u8>,
) -> ApiResult<SignatureRecord> {
    let now = time::OffsetDateTime::now_utc();
    let report = kiroku_sign::verify_detached(&der, content, &state.settings.signer_anchors, now)
        .map_err(|e| ApiError::validation("signature", format!("{} ({})", e, e.code())))?;
    // Revocation now: a revoked certificate is refused; the answers and the path are kept.
    let id = uuid::Uuid::now_v7().to_string();
    let gathered = crate::revocation::gather(&state.settings.revocation, ("signature", &id), &report.chain)
        .await
        .map_err(|e| ApiError::validation("signature", format!("{} ({})", e, e.code())))?;
    match crate::revocation::decide(&report.chain, &gathered.records, &gathered.unknown, now) {
        Err(e @ kiroku_sign::SignError::Revoked { .. }) => return Err(ApiError::validation("signature", format!("{} ({})", e, e.code()))),
        // Unreachable responders do not block signing; the verdict shows "revocation unknown".
        Err(e) => tracing::warn!(error = %e, "signature kept without a revocation answer"),
        Ok(()) => {}
    }
    let record = SignatureRecord {
        id,
        document_id: target.document_id,
        version: target.version,
        username: auth.actor.username.clone(),
        signature: STANDARD.encode(&der),
        signer: report.signer.subject.clone(),
        certificate_serial: report.signer.serial.clone(),
        certificate_not_after: kiroku_store::stamps::from_offset(report.signer.not_after),
        hc_roles: report.signer.hc_roles.clone(),
        content_hash: target.content_hash,
        signature_hash: kiroku_store::stamps::token_hash(&der),
        signed_at: kiroku_core::Timestamp::now(),
        seq: 0,
        attachment_id: target.attachment_id,
    };
    let command = Command::AddSignature { actor: auth.actor.clone(), signature: record, evidence: gathered.records };
    Ok(*state.store.execute(command).await?.into_signature()?)
}

/// `POST /documents/{id}/attachments/{attachment_id}/signatures`: signs a file of a confirmed
/// version (a scanned page) over its exact bytes, so the signature verifies with the file alone.
pub async fn sign_file(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((raw, attachment_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<SignRequest>,
) -> ApiResult<Response> {
    let record = sign_attachment(&state, &auth, document_id(&raw)?, attachment_id, req).await?;
    Ok((StatusCode::CREATED, Json(signature_json(&record, None))).into_response())
}

/// Signs one file over its exact bytes (the file read through the audited command, re-hashed on
/// the way); shared with the web page.
pub async fn sign_attachment(
    state: &AppState,
    auth: &Authenticated,
    id: kiroku_core::DocumentId,
    attachment_id: String,
    req: SignRequest,
) -> ApiResult<SignatureRecord> {
    if attachment_id.len() > 64 {
        return Err(ApiError::not_found("attachment"));
    }
    let att = state
        .store
        .execute(Command::ReadAttachment { actor: auth.actor.clone(), id: id.clone(), attachment_id })
        .await?
        .into_attachment()?;
    state.metrics.audited_reads.fetch_add(1, Relaxed);
    let bytes = read_file(state, &att.blob_hash).await?;
    let target =
        SignTarget { document_id: id, version: att.version, content_hash: att.blob_hash.clone(), attachment_id: Some(att.id.clone()) };
    let record = sign_bytes(state, auth, &bytes, target, req).await?;
    state.metrics.writes.fetch_add(1, Relaxed);
    Ok(record)
}

/// A stored file's bytes, re-hashed on the way: a file altered behind kiroku's back is refused.
pub async fn read_file(state: &AppState, hash: &str) -> ApiResult<Vec<u8>> {
    let file = state.blobs.open_blob(hash)?;
    let bytes = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map(|_| bytes)
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|_| ApiError::internal())?;
    if kiroku_core::ContentHash::of_bytes(&bytes).to_hex() != hash {
        return Err(ApiError::conflict("the stored file does not match its hash; run kiroku verify"));
    }
    Ok(bytes)
}

/// A signature with its verification now: valid, or the reason it is not.
pub fn signature_json(g: &SignatureRecord, verdict: Option<Result<(), String>>) -> Value {
    let mut v = json!({
        "id": g.id, "document_id": g.document_id, "version": g.version, "signed_by": g.username, "signer": g.signer,
        "certificate_serial": g.certificate_serial, "certificate_not_after": g.certificate_not_after, "hc_roles": g.hc_roles,
        "content_hash": g.content_hash, "signed_at": g.signed_at, "signature": g.signature,
    });
    if let Some(att) = &g.attachment_id {
        v["attachment_id"] = json!(att);
    }
    if let Some(verdict) = verdict {
        v["valid"] = json!(verdict.is_ok());
        v["reason"] = json!(verdict.err());
    }
    v
}

/// Verifies every signature of `view` at the time its timestamp proves (else now).
pub async fn verified_signatures(state: &AppState, view: &DocumentView) -> ApiResult<Vec<(SignatureRecord, Result<(), String>)>> {
    let content = signed_bytes(view);
    let all = state.store.signatures(view.id.as_str()).await?;
    let chains = state.store.stamp_chains().await?;
    let mut out = Vec::new();
    for g in all.into_iter().filter(|g| g.version == view.version && g.attachment_id.is_none()) {
        let item = state.store.stamp_item("signature", &g.id, 0).await?;
        let at = item
            .and_then(|i| chains.get(&i.stamp_id).map(|s| kiroku_store::stamps::to_offset(s.gen_time)))
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        let verdict = match STANDARD.decode(&g.signature) {
            Err(e) => Err(e.to_string()),
            Ok(der) => match kiroku_sign::verify_detached(&der, &content, &state.settings.signer_anchors, at) {
                Err(e) => Err(e.to_string()),
                Ok(report) => revocation_verdict(state, &g.id, &report.chain, at).await,
            },
        };
        out.push((g, verdict));
    }
    Ok(out)
}

/// Verifies the signatures of one file at the time each one's timestamp proves (else now): the
/// signature must be over this file's SHA-256, its path valid, its revocation decided as for
/// versions.
pub async fn verified_file_signatures(
    state: &AppState,
    file: &kiroku_store::AttachmentRecord,
    signatures: &[SignatureRecord],
) -> ApiResult<Vec<(SignatureRecord, Result<(), String>)>> {
    let chains = state.store.stamp_chains().await?;
    let mut out = Vec::new();
    for g in signatures {
        let item = state.store.stamp_item("signature", &g.id, 0).await?;
        let at = item
            .and_then(|i| chains.get(&i.stamp_id).map(|s| kiroku_store::stamps::to_offset(s.gen_time)))
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        let verdict = if g.content_hash != file.blob_hash || g.attachment_id.as_deref() != Some(file.id.as_str()) {
            Err("the signature is over another file".to_string())
        } else {
            match (STANDARD.decode(&g.signature), hex::decode(&file.blob_hash)) {
                (Ok(der), Ok(digest)) => match kiroku_sign::verify_detached_digest(&der, &digest, &state.settings.signer_anchors, at) {
                    Err(e) => Err(e.to_string()),
                    Ok(report) => revocation_verdict(state, &g.id, &report.chain, at).await,
                },
                (Err(e), _) => Err(e.to_string()),
                (_, Err(e)) => Err(e.to_string()),
            }
        };
        out.push((g.clone(), verdict));
    }
    Ok(out)
}

/// Revocation of a signature's path at `at`: by the answers kept with it; when they do not
/// decide (none kept, or the responder was unreachable at signing), by asking again now.
async fn revocation_verdict(
    state: &AppState,
    id: &str,
    chain: &[kiroku_sign::Certificate],
    at: time::OffsetDateTime,
) -> Result<(), String> {
    let kept = state.store.evidence("signature", id).await.map_err(|e| e.to_string())?;
    match crate::revocation::decide(chain, &kept, &[], at) {
        Err(kiroku_sign::SignError::RevocationUnknown { .. }) => {
            let live = crate::revocation::gather(&state.settings.revocation, ("signature", id), chain).await.map_err(|e| e.to_string())?;
            crate::revocation::decide(chain, &live.records, &live.unknown, at).map_err(|e| e.to_string())
        }
        other => other.map_err(|e| e.to_string()),
    }
}

/// `GET /documents/{id}/versions/{n}/signatures`: the version's signatures, each verified.
pub async fn list(State(state): State<AppState>, auth: Authenticated, Path((raw, n)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let view = read_version(&state, &auth, &raw, &n).await?;
    let signatures: Vec<Value> =
        verified_signatures(&state, &view).await?.iter().map(|(g, verdict)| signature_json(g, Some(verdict.clone()))).collect();
    Ok(Json(json!({ "signatures": signatures })))
}
