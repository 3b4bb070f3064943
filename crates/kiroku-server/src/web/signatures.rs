//! Pages for electronic signatures (a version's signatures with their verdicts, and the form to
//! sign it with one's key: a PKCS#8 key with its certificate, or a PKCS#12 file with its
//! password) and for administrators, the timestamp backlog. They call the same functions as the
//! API (`api::signatures`), so signing is audited alike. The signing form (`_sign_form.html`) is
//! shared with the scanned files' page.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use kiroku_core::{DocumentStatus, Permission};

use super::i18n::{Lang, Texts};
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

/// The signing form's own words (the shared table keeps the older ones, `sig.*`).
pub(super) const SIGN_TEXTS: &Texts = &[
    ("with_pem", "署名鍵（PKCS#8）と証明書で署名", "Sign with a PKCS#8 key and certificate"),
    ("with_p12", "または PKCS#12 ファイル（.p12 / .pfx）で署名", "Or sign with a PKCS#12 file (.p12 / .pfx)"),
    ("p12_file", "PKCS#12 ファイル", "PKCS#12 file"),
    ("p12_password", "PKCS#12 のパスワード", "PKCS#12 password"),
    (
        "p12_hint",
        "ファイルとパスワードはこの署名にだけ使われ、保存も記録もされません。",
        "The file and its password are used for this signature only and are neither stored nor logged.",
    ),
];

pub(super) fn sign_text(lang: Lang, key: &str) -> &'static str {
    lang.pick(SIGN_TEXTS, key)
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
    sign_action: String,
}

impl SignaturesPage {
    fn sign_tr(&self, key: &str) -> &'static str {
        sign_text(self.c.lang, key)
    }
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
        sign_action: format!("/documents/{}/versions/{}/signatures", view.id, view.version),
    })
}

pub async fn view(State(state): State<AppState>, s: WebSession, Path((raw, n)): Path<(String, String)>) -> Result<Response, WebError> {
    page(&state, s, &raw, &n).await
}

/// Reads the signing form (multipart, for the PKCS#12 file): the CSRF field first, then either a
/// PKCS#8 key with its certificate or a PKCS#12 file with its password. Nothing of it is kept.
pub(super) async fn read_sign_form(form: &mut Multipart, csrf: &str) -> Result<SignRequest, WebError> {
    check_multipart_csrf(form, csrf).await?;
    let (mut key, mut cert, mut p12, mut password) = (String::new(), String::new(), Vec::new(), String::new());
    let unreadable = || ApiError::malformed("the form could not be read");
    while let Some(field) = form.next_field().await.map_err(|_| unreadable())? {
        match field.name().unwrap_or_default() {
            "private_key_pem" => key = field.text().await.map_err(|_| unreadable())?,
            "certificate_pem" => cert = field.text().await.map_err(|_| unreadable())?,
            "pkcs12" => p12 = field.bytes().await.map_err(|_| unreadable())?.to_vec(),
            "pkcs12_password" => password = field.text().await.map_err(|_| unreadable())?,
            _ => {}
        }
    }
    match (key.trim().is_empty() && cert.trim().is_empty(), p12.is_empty()) {
        (true, false) => Ok(SignRequest::with_pkcs12(&p12, password)),
        (false, true) => Ok(SignRequest::with_key(key, cert)),
        (true, true) => Err(ApiError::validation("signature", "give a PKCS#8 key with its certificate, or a PKCS#12 file").into()),
        (false, false) => Err(ApiError::validation("signature", "give either a PKCS#8 key or a PKCS#12 file, not both").into()),
    }
}

pub async fn sign(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, n)): Path<(String, String)>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let request = read_sign_form(&mut form, &s.chrome.csrf).await?;
    let number: i64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found("version"))?;
    let view = state
        .store
        .execute(kiroku_store::Command::ReadDocument { actor: s.auth.actor.clone(), id: document_id(&raw)?, version: Some(number) })
        .await?
        .into_document()?;
    sign_version(&state, &s.auth, &view, request).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `sign_tr("key")` of the shared signing form exists, and keys are unique.
    #[test]
    fn every_text_used_exists() {
        crate::web::i18n::assert_texts_complete(SIGN_TEXTS, &["_sign_form.html"], "sign_tr(\"");
    }
}
