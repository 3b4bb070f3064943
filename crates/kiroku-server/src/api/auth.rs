//! Login, logout, password change.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use kiroku_auth::{PolicyContext, password, token};
use kiroku_core::Timestamp;
use kiroku_store::{Command, Reply, SessionRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{AnySession, ApiJson};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<Value>> {
    let client_addr = Some(addr.ip().to_string());
    if req.username.len() > 64 || req.password.len() > 256 {
        return Err(ApiError::validation("username", "too long"));
    }
    let user = state.store.user(&req.username).await?;
    let usable = user.as_ref().is_some_and(|u| !u.disabled && !u.is_locked(Timestamp::now()));
    // Always pay for one Argon2 verification so that timing does not reveal whether the account exists.
    let phc = user.as_ref().map_or_else(|| password::decoy_hash().to_string(), |u| u.password_hash.clone());
    let pw = req.password.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify(&pw, &phc)).await.map_err(|_| ApiError::internal())?;
    let Some(user) = user.filter(|_| usable && matches) else {
        state.metrics.login_failures.fetch_add(1, Relaxed);
        state.store.execute(Command::LoginFailed { username: req.username, client_addr, policy: state.settings.lockout }).await?;
        return Err(ApiError::login_failed());
    };
    let (bearer, token_hash) = token::new_session_token();
    let now = Timestamp::now();
    let session = SessionRecord {
        id: token::session_id(),
        token_hash,
        username: user.username.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_seconds(state.settings.session_lifetime_secs),
        revoked_at: None,
        client_addr,
    };
    let expires_at = session.expires_at;
    match state.store.execute(Command::LoginSucceeded { session }).await? {
        Reply::User(user) => {
            state.metrics.logins.fetch_add(1, Relaxed);
            Ok(Json(json!({
                "token": bearer,
                "token_type": "Bearer",
                "must_change_password": user.must_change_password,
                "expires_at": expires_at,
                "idle_timeout_seconds": state.settings.idle_timeout_secs,
                "user": user,
            })))
        }
        _ => {
            state.metrics.login_failures.fetch_add(1, Relaxed);
            Err(ApiError::login_failed())
        }
    }
}

pub async fn logout(State(state): State<AppState>, AnySession(auth): AnySession) -> ApiResult<Json<Value>> {
    state.store.execute(Command::Logout { actor: auth.actor }).await?;
    Ok(Json(json!({ "logged_out": true })))
}

pub async fn me(AnySession(auth): AnySession) -> Json<Value> {
    Json(json!({ "user": auth.user, "session": auth.actor.session }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    AnySession(auth): AnySession,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<Json<Value>> {
    let user = auth.user;
    let policy = state.settings.password_policy;
    let ctx = PolicyContext { username: user.username.as_str(), display_name: &user.display_name, has_second_factor: false };
    policy.check(&req.new_password, ctx).map_err(|v| policy_error(&v))?;
    let history = state.store.password_history(user.username.as_str(), policy.limits.history as i64).await?;
    let (current, new, phc) = (req.current_password, req.new_password, user.password_hash.clone());
    let checked = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        if !password::verify(&current, &phc) {
            return Err(ApiError::forbidden("the current password is wrong"));
        }
        policy.check_reuse(&new, &history).map_err(|v| policy_error(&v))?;
        password::hash(&new).map_err(|_| ApiError::internal())
    })
    .await
    .map_err(|_| ApiError::internal())??;
    let user = state.store.execute(Command::ChangePassword { actor: auth.actor, new_hash: checked }).await?.into_user()?;
    Ok(Json(json!({ "changed": true, "must_change_password": user.must_change_password })))
}

/// A refused password, with the Japanese explanation for the screen.
pub fn policy_error(v: &kiroku_auth::PolicyViolation) -> ApiError {
    let mut e = ApiError::validation("password", v.to_string());
    e.extra = Some(Box::new(json!({ "detail_ja": v.message_ja() })));
    e
}
