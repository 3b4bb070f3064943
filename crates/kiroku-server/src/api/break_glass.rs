//! Break-glass (緊急時) accounts (T1-8.3): created sealed by an administrator, the password shown
//! once to be put in an envelope; usable only with a declared reason, alerted on every page while
//! open, expiring by themselves, and closed out by re-sealing with a new password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_auth::token;
use kiroku_core::identity::AccountKind;
use kiroku_core::{Role, Timestamp, Username};
use kiroku_store::{Actor, BreakGlassRecord, Command, UserRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::users::hash_blocking;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath, Authenticated};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBreakGlass {
    username: String,
    display_name: String,
    role: Role,
}

/// Creates a sealed break-glass account; answers the account and its password, shown only now.
pub async fn create_break_glass(
    state: &AppState,
    actor: Actor,
    username: &str,
    display_name: &str,
    role: Role,
) -> ApiResult<(UserRecord, String)> {
    let username = Username::parse(username).map_err(ApiError::from)?;
    let password = token::one_time_password();
    let hash = hash_blocking(password.clone()).await?;
    let mut user = UserRecord::new(username, display_name.trim().to_string(), role, hash, Timestamp::now());
    user.kind = AccountKind::BreakGlass;
    // The sealed password is used as it is, in an emergency: no change is forced at that moment.
    user.must_change_password = false;
    let user = state.store.execute(Command::CreateBreakGlass { actor, user }).await?.into_user()?;
    Ok((user, password))
}

/// Re-seals a break-glass account with a new password, shown only now.
pub async fn reseal_break_glass(state: &AppState, actor: Actor, username: &str) -> ApiResult<String> {
    let username = Username::parse(username).map_err(|_| ApiError::not_found("break-glass account"))?;
    let password = token::one_time_password();
    let new_hash = hash_blocking(password.clone()).await?;
    state.store.execute(Command::ResealBreakGlass { actor, username, new_hash }).await?;
    Ok(password)
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewBreakGlass>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (user, password) = create_break_glass(&state, auth.actor, &req.username, &req.display_name, req.role).await?;
    Ok((StatusCode::CREATED, Json(json!({ "user": user, "sealed_password": password }))))
}

pub async fn list(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let all = state.store.execute(Command::ListBreakGlass { actor: auth.actor }).await?.into_break_glass()?;
    Ok(Json(json!({ "accounts": all.iter().map(describe).collect::<Vec<_>>() })))
}

/// An account's seal with its state as of now: sealed, open (in use) or expired (to be re-sealed).
pub fn describe(b: &BreakGlassRecord) -> Value {
    let now = Timestamp::now();
    let state = if b.is_active(now) {
        "open"
    } else if b.needs_reseal(now) {
        "expired"
    } else {
        "sealed"
    };
    json!({ "username": b.username, "state": state, "sealed_at": b.sealed_at, "sealed_by": b.sealed_by,
            "opened_at": b.opened_at, "expires_at": b.expires_at, "reason": b.reason })
}

pub async fn reseal(State(state): State<AppState>, auth: Authenticated, ApiPath(username): ApiPath<String>) -> ApiResult<Json<Value>> {
    let password = reseal_break_glass(&state, auth.actor, &username).await?;
    Ok(Json(json!({ "resealed": true, "sealed_password": password })))
}
