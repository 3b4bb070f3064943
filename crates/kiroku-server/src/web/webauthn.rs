//! Security keys on the pages: registering one on セキュリティ設定 and using one for the second
//! step of the login. The browser half is `static/webauthn.js`: it posts the form (with its CSRF
//! token) to an `…/options` address for the ceremony's options, asks the key, and submits the
//! form with the key's answer; the server checks it with the same functions as the API.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::account::{Empty, second_factor_page, security_page};
use super::i18n::explain;
use super::page::*;
use crate::AppState;
use crate::api::webauthn::{finish_login, finish_registration, start_login, start_registration};
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    credential: String,
}

fn answer<T: serde::de::DeserializeOwned>(form: &CredentialForm) -> Result<T, ApiError> {
    serde_json::from_str(&form.credential).map_err(|_| ApiError::validation("credential", "the security key's answer could not be read"))
}

pub async fn register_options(State(state): State<AppState>, post: WebPost<LabelForm>) -> Result<Response, WebError> {
    Ok(Json(start_registration(&state, &post.session.auth, &post.form.label).await?).into_response())
}

pub async fn register(State(state): State<AppState>, post: WebPost<CredentialForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let result = match answer(&form) {
        Ok(a) => finish_registration(&state, session.auth.clone(), &a).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => security_page(&state, session, "security.key_added", String::new()).await,
        Err(e) if e.status().is_client_error() => {
            let x = explain(session.chrome.lang, &e);
            let error = format!("{} {}", x.title, x.detail);
            security_page(&state, session, "", error).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn login_options(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<Empty>) -> Result<Response, WebError> {
    Ok(Json(start_login(&state, &post.session.auth).await?).into_response())
}

pub async fn login(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<CredentialForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let c = session.chrome.clone();
    let username = session.auth.user.username.clone();
    let result = match answer(&form) {
        Ok(a) => finish_login(&state, session.auth, &a).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other("/")),
        Err(e) if e.status().is_client_error() => second_factor_page(&state, c, username.as_str(), &e).await,
        Err(e) => Err(e.into()),
    }
}
