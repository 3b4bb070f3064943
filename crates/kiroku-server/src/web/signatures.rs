//! Pages for electronic signatures (a version's signatures with their verdicts, and the form to
//! sign it with one's key) and for administrators, the timestamp backlog. They call the same
//! functions as the API (`api::signatures`), so signing is audited alike.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_core::{DocumentStatus, Permission};
use serde::Deserialize;

use super::page::*;
use crate::AppState;
use crate::api::documents::document_id;
use crate::api::signatures::{SignRequest, sign_version, verified_signatures};
use crate::error::ApiError;

pub struct SignatureRow {
    pub signed_by: String,
    pub signer: String,
    pub hc_roles: String,
    pub signed_at: String,
    pub valid: bool,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "signatures.html")]
struct SignaturesPage {
    c: Chrome,
    id: String,
    version: i64,
    title: String,
    hash: String,
    stamp: Option<String>,
    rows: Vec<SignatureRow>,
    can_sign: bool,
}

async fn page(state: &AppState, s: WebSession, raw: &str, n: &str) -> Result<Response, WebError> {
    let n: i64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found("version"))?;
    let view = state
        .store
        .execute(kiroku_store::Command::ReadDocument { actor: s.auth.actor.clone(), id: document_id(raw)?, version: Some(n) })
        .await?
        .into_document()?;
    let rows = verified_signatures(state, &view)
        .await?
        .into_iter()
        .map(|(g, verdict)| SignatureRow {
            signed_by: g.username.to_string(),
            signer: g.signer,
            hc_roles: g.hc_roles.join(", "),
            signed_at: jst(g.signed_at),
            valid: verdict.is_ok(),
            reason: verdict.err().unwrap_or_default(),
        })
        .collect();
    let stamp = match state.store.stamp_item("version", view.id.as_str(), view.version).await? {
        Some(item) => state.store.stamp_chains().await?.get(&item.stamp_id).map(|st| format!("{} ({})", jst(st.gen_time), st.tsa)),
        None => None,
    };
    // The form is offered on every confirmed version; whether this user may sign is decided by the
    // store's one permission check when they submit.
    let can_sign = view.confirmer.is_some() && view.status != DocumentStatus::Deleted;
    render(&SignaturesPage {
        c: s.chrome,
        id: view.id.to_string(),
        version: view.version,
        title: view.title.clone(),
        hash: view.content_hash.clone(),
        stamp,
        rows,
        can_sign,
    })
}

pub async fn view(State(state): State<AppState>, s: WebSession, Path((raw, n)): Path<(String, String)>) -> Result<Response, WebError> {
    page(&state, s, &raw, &n).await
}

#[derive(Deserialize)]
pub struct SignForm {
    #[serde(default)]
    private_key_pem: String,
    #[serde(default)]
    certificate_pem: String,
}

pub async fn sign(
    State(state): State<AppState>,
    Path((raw, n)): Path<(String, String)>,
    post: WebPost<SignForm>,
) -> Result<Response, WebError> {
    let number: i64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found("version"))?;
    let view = state
        .store
        .execute(kiroku_store::Command::ReadDocument {
            actor: post.session.auth.actor.clone(),
            id: document_id(&raw)?,
            version: Some(number),
        })
        .await?
        .into_document()?;
    let request = SignRequest::with_key(post.form.private_key_pem, post.form.certificate_pem);
    sign_version(&state, &post.session.auth, &view, request).await?;
    Ok(see_other(&format!("/documents/{}/versions/{}/signatures", view.id, view.version)))
}

#[derive(Template)]
#[template(path = "timestamps.html")]
struct TimestampsPage {
    c: Chrome,
    s: crate::stamping::StampingStatus,
    oldest: String,
    last_success: String,
    last_error: String,
}

/// The administrators' view of the stamping backlog (user.manage).
pub async fn timestamps(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    // For those who manage accounts, like the other administration pages; reading the matrix is
    // itself audited.
    let matrix = state.store.execute(kiroku_store::Command::ReadMatrix { actor: s.auth.actor.clone() }).await?.into_matrix()?;
    matrix.check(s.auth.actor.role, Permission::UserManage, None).map_err(|d| ApiError::forbidden(d.to_string()))?;
    let mut status = state.stamping.get();
    if let Ok((backlog, oldest)) = state.store.stamp_backlog().await {
        status.backlog = backlog;
        status.oldest_pending = oldest;
    }
    let dash = || "—".to_string();
    render(&TimestampsPage {
        c: s.chrome,
        oldest: status.oldest_pending.map(jst).unwrap_or_else(dash),
        last_success: status.last_success.map(jst).unwrap_or_else(dash),
        last_error: status.last_error.clone().unwrap_or_else(dash),
        s: status,
    })
}
