//! WebAuthn/FIDO2 second factors (security keys and platform authenticators) with webauthn-rs:
//! registering a named key, and the second step of a login by a key instead of a TOTP code
//! (T2-1.1). A key is something you have, a factor of another kind than the password.
//!
//! The ceremonies' state (the challenge and what it must be answered with) stays on the server,
//! in memory per session, for at most [`CHALLENGE_SECS`]; finishing a ceremony takes it, so an
//! answer works once. The signature counter is checked again by the store inside the login's
//! transaction, so two logins with the same assertion cannot both pass.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_core::Timestamp;
use kiroku_core::identity::SessionStage;
use kiroku_store::{Command, FactorProof, Reply, WebauthnCredential, WebauthnKey};
use serde::Deserialize;
use serde_json::{Value, json};
pub use webauthn_rs::prelude::Webauthn;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, WebauthnBuilder,
};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, Authenticated, PendingSession};

/// How long a ceremony may take from its challenge to its answer.
pub const CHALLENGE_SECS: u64 = 300;

/// The relying party: the host name the browser shows (`rp_id`) and the origin pages come from.
pub fn relying_party(rp_id: &str, rp_origin: &str, rp_name: &str) -> Result<Webauthn, String> {
    let origin = Url::parse(rp_origin).map_err(|e| format!("webauthn.rp_origin {rp_origin:?} is not a URL: {e}"))?;
    WebauthnBuilder::new(rp_id, &origin)
        .map_err(|_| format!("webauthn.rp_id {rp_id:?} must be the host of webauthn.rp_origin {rp_origin:?} or a parent domain of it"))?
        .rp_name(rp_name)
        .build()
        .map_err(|e| format!("webauthn settings: {e}"))
}

enum Ceremony {
    Register { state: SecurityKeyRegistration, label: String },
    Authenticate { state: SecurityKeyAuthentication, keys: Vec<(String, SecurityKey)> },
}

/// Ceremonies in progress, by session id.
#[derive(Default)]
pub struct Challenges(Mutex<HashMap<String, (Instant, Ceremony)>>);

impl Challenges {
    fn put(&self, session: &str, ceremony: Ceremony) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(CHALLENGE_SECS));
            map.insert(session.to_string(), (Instant::now(), ceremony));
        }
    }

    /// Takes the session's ceremony: it can be finished once.
    fn take(&self, session: &str) -> Option<Ceremony> {
        let (at, ceremony) = self.0.lock().ok()?.remove(session)?;
        (at.elapsed() < Duration::from_secs(CHALLENGE_SECS)).then_some(ceremony)
    }
}

fn relying(state: &AppState) -> ApiResult<&Webauthn> {
    state.settings.webauthn.as_deref().ok_or_else(|| ApiError::conflict("security keys are not configured on this server ([webauthn])"))
}

fn session_id(auth: &Authenticated) -> ApiResult<&str> {
    auth.actor.session.as_deref().ok_or_else(ApiError::internal)
}

/// The stable user handle the authenticator keeps with the key: derived from the user name, so
/// it needs no storage and says nothing more than the name (which the key shows anyway).
fn user_handle(username: &str) -> Uuid {
    let digest = kiroku_auth::token::hash_token(&format!("webauthn-user:{username}"));
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(digest.get(i * 2..i * 2 + 2).unwrap_or("00"), 16).unwrap_or(0);
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn parse_key(key: &WebauthnKey) -> ApiResult<SecurityKey> {
    serde_json::from_str(&key.state).map_err(|e| {
        tracing::error!(credential = %key.credential.id, error = %e, "a stored WebAuthn credential cannot be read");
        ApiError::internal()
    })
}

/// Starts registering a key named `label`: the options for `navigator.credentials.create`.
pub async fn start_registration(state: &AppState, auth: &Authenticated, label: &str) -> ApiResult<CreationChallengeResponse> {
    if auth.stage == SessionStage::SecondFactor {
        return Err(ApiError::second_factor_required());
    }
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::validation("label", "name the key (1 to 100 characters), e.g. 「受付のセキュリティキー」"));
    }
    let rp = relying(state)?;
    let keys = state.store.webauthn_keys(auth.user.username.as_str()).await?;
    let exclude =
        keys.iter().filter(|k| k.active()).map(parse_key).map(|k| k.map(|k| k.cred_id().clone())).collect::<ApiResult<Vec<_>>>()?;
    let name = auth.user.username.as_str();
    let (mut options, ceremony) =
        rp.start_securitykey_registration(user_handle(name), name, &auth.user.display_name, Some(exclude), None, None).map_err(|e| {
            tracing::error!(error = %e, "cannot start a WebAuthn registration");
            ApiError::internal()
        })?;
    // The key is the second factor after the password: user verification is preferred, not
    // required, so no credProtect "userVerificationRequired" (Chromium refuses that policy for a
    // credential that is not resident, and a key without a PIN could not honour it).
    if let Some(extensions) = options.public_key.extensions.as_mut() {
        extensions.cred_protect = None;
    }
    state.webauthn.put(session_id(auth)?, Ceremony::Register { state: ceremony, label: label.to_string() });
    Ok(options)
}

/// Checks the authenticator's answer against the challenge of this session and stores the key;
/// answers the new key's id and name.
pub async fn finish_registration(
    state: &AppState,
    auth: Authenticated,
    answer: &RegisterPublicKeyCredential,
) -> ApiResult<(String, String)> {
    if auth.stage == SessionStage::SecondFactor {
        return Err(ApiError::second_factor_required());
    }
    let rp = relying(state)?;
    let Some(Ceremony::Register { state: ceremony, label }) = state.webauthn.take(session_id(&auth)?) else {
        return Err(ApiError::conflict("no key registration is waiting for this session (or it took too long): start again"));
    };
    let key = rp.finish_securitykey_registration(answer, &ceremony).map_err(|e| {
        tracing::info!(error = %e, "a WebAuthn registration was refused");
        ApiError::validation("credential", "the security key's answer does not match the challenge")
    })?;
    let credential = WebauthnCredential {
        id: uuid::Uuid::now_v7().to_string(),
        username: auth.user.username.clone(),
        label: label.clone(),
        credential_id: base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, key.cred_id()),
        state: serde_json::to_string(&key).map_err(|_| ApiError::internal())?,
        counter: 0,
        created_at: Timestamp::now(),
        seq: 0,
    };
    let id = credential.id.clone();
    let command = Command::RegisterWebauthn { actor: auth.actor, credential, end_other_sessions: state.settings.single_session };
    state.store.execute(command).await?;
    Ok((id, label))
}

/// Starts the second step of a login by a key: the options for `navigator.credentials.get`.
pub async fn start_login(state: &AppState, auth: &Authenticated) -> ApiResult<RequestChallengeResponse> {
    if auth.stage != SessionStage::SecondFactor {
        return Err(ApiError::conflict("this session is not waiting for a second factor"));
    }
    let rp = relying(state)?;
    let keys = state.store.webauthn_keys(auth.user.username.as_str()).await?;
    let keys = keys.iter().filter(|k| k.active()).map(|k| Ok((k.credential.id.clone(), parse_key(k)?))).collect::<ApiResult<Vec<_>>>()?;
    if keys.is_empty() {
        return Err(ApiError::not_found("security key"));
    }
    let plain: Vec<SecurityKey> = keys.iter().map(|(_, k)| k.clone()).collect();
    let (options, ceremony) = rp.start_securitykey_authentication(&plain).map_err(|e| {
        tracing::error!(error = %e, "cannot start a WebAuthn authentication");
        ApiError::internal()
    })?;
    state.webauthn.put(session_id(auth)?, Ceremony::Authenticate { state: ceremony, keys });
    Ok(options)
}

/// Checks a key's assertion for a session waiting for its second factor. A wrong or replayed
/// answer counts toward the lockout like a wrong code.
pub async fn finish_login(state: &AppState, auth: Authenticated, answer: &PublicKeyCredential) -> ApiResult<()> {
    if auth.stage != SessionStage::SecondFactor {
        return Err(ApiError::conflict("this session is not waiting for a second factor"));
    }
    let rp = relying(state)?;
    let policy = state.settings.lockout;
    let proof = match state.webauthn.take(session_id(&auth)?) {
        Some(Ceremony::Authenticate { state: ceremony, keys }) => match rp.finish_securitykey_authentication(answer, &ceremony) {
            Ok(result) => keys.into_iter().find(|(_, k)| k.cred_id() == result.cred_id()).and_then(|(id, mut key)| {
                key.update_credential(&result);
                let state = serde_json::to_string(&key).ok()?;
                Some(FactorProof::Webauthn { credential: id, counter: i64::from(result.counter()), state })
            }),
            Err(e) => {
                tracing::info!(error = %e, "a WebAuthn assertion was refused");
                None
            }
        },
        _ => None,
    };
    let command = match proof {
        Some(proof) => {
            Command::SecondFactorVerified { actor: auth.actor, proof, end_other_sessions: state.settings.single_session, policy }
        }
        None => Command::SecondFactorFailed { actor: auth.actor, policy },
    };
    match state.store.execute(command).await? {
        Reply::LoggedIn(..) => Ok(()),
        _ => {
            state.metrics.login_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(ApiError::second_factor_failed())
        }
    }
}

/// The account's keys for a list: id, name, registered, last used; never the key material.
pub fn keys_json(keys: &[WebauthnKey]) -> Vec<Value> {
    keys.iter()
        .filter(|k| k.active())
        .map(|k| {
            json!({
                "id": k.credential.id,
                "kind": "webauthn",
                "label": k.credential.label,
                "created_at": k.credential.created_at,
                "last_used_at": k.last_used_at,
            })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    label: String,
}

pub async fn begin_register(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<CreationChallengeResponse>)> {
    Ok((StatusCode::CREATED, Json(start_registration(&state, &auth, &req.label).await?)))
}

pub async fn finish_register(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
    ApiJson(answer): ApiJson<RegisterPublicKeyCredential>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (id, label) = finish_registration(&state, auth, &answer).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "kind": "webauthn", "label": label }))))
}

pub async fn begin_login(State(state): State<AppState>, PendingSession(auth): PendingSession) -> ApiResult<Json<RequestChallengeResponse>> {
    Ok(Json(start_login(&state, &auth).await?))
}

pub async fn finish_login_step(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
    ApiJson(answer): ApiJson<PublicKeyCredential>,
) -> ApiResult<Json<Value>> {
    finish_login(&state, auth, &answer).await?;
    Ok(Json(json!({ "stage": SessionStage::Full })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_must_match_its_origin() {
        assert!(relying_party("localhost", "http://localhost:8080", "kiroku").is_ok());
        assert!(relying_party("example.jp", "https://kiroku.example.jp", "kiroku").is_ok());
        assert!(relying_party("example.jp", "https://kiroku.example.com", "kiroku").is_err());
        assert!(relying_party("localhost", "not a url", "kiroku").is_err());
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("dr.sato"), user_handle("dr.sato"));
        assert_ne!(user_handle("dr.sato"), user_handle("ns.tanaka"));
    }
}
