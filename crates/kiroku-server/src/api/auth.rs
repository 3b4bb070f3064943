//! Login, logout, password change.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use kiroku_auth::{PolicyContext, password, token};
use kiroku_core::Timestamp;
use kiroku_core::identity::{AccountKind, SessionStage};
use kiroku_store::command::BreakGlassUse;
use kiroku_store::{Actor, Command, Reply, SessionRecord, UserRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{AnySession, ApiJson, Authenticated, PendingSession, client_ip, outside_internal_networks, refuse_outside_networks};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
    #[serde(default)]
    break_glass_reason: Option<String>,
}

/// A successful password step: the bearer token (also the web session cookie's value), the
/// account, and whether a second factor or an enrolment must follow before the session may act.
pub struct LoggedIn {
    pub token: String,
    pub user: UserRecord,
    pub expires_at: Timestamp,
    pub stage: SessionStage,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    cert: Option<axum::Extension<crate::tls::ClientCert>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<Value>> {
    let client = Some(client_ip(addr, &headers, &state));
    let done = login_user(&state, req.username, req.password, client, cert.and_then(|c| c.0.0), req.break_glass_reason).await?;
    Ok(Json(json!({
        "token": done.token,
        "token_type": "Bearer",
        "stage": done.stage,
        "second_factor_required": done.stage == SessionStage::SecondFactor,
        "enrolment_required": done.stage == SessionStage::Enrol,
        "must_change_password": done.user.must_change_password,
        "expires_at": done.expires_at,
        "idle_timeout_seconds": state.settings.idle_timeout_secs,
        "user": done.user,
    })))
}

/// Checks a user name and password and opens a session; used by the API and the login page alike,
/// so that lockout and the audit trail behave the same whichever way staff log in.
pub async fn login_user(
    state: &AppState,
    username: String,
    pw: String,
    client_addr: Option<String>,
    client_cert: Option<String>,
    break_glass_reason: Option<String>,
) -> ApiResult<LoggedIn> {
    if username.len() > 64 || pw.len() > 256 {
        return Err(ApiError::validation("username", "too long"));
    }
    let user = state.store.user(&username).await?;
    let usable = user.as_ref().is_some_and(|u| !u.disabled && !u.is_locked(Timestamp::now()));
    // Always pay for one Argon2 verification so that timing does not reveal whether the account exists.
    let phc = user.as_ref().map_or_else(|| password::decoy_hash().to_string(), |u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || password::verify(&pw, &phc)).await.map_err(|_| ApiError::internal())?;
    let Some(user) = user.filter(|_| usable && matches) else {
        state.metrics.login_failures.fetch_add(1, Relaxed);
        state.store.execute(Command::LoginFailed { username, client_addr, policy: state.settings.lockout }).await?;
        return Err(ApiError::login_failed());
    };
    let actor = Actor { username: user.username.clone(), role: user.role, session: None, client_addr: client_addr.clone(), scope: None };
    refuse_outside_networks(state, &actor, user.kind, client_cert.as_deref()).await?;
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
        stage: SessionStage::Full,
        second_factor: None,
        client_cert,
    };
    let expires_at = session.expires_at;
    let user_kind = user.kind;
    let break_glass = (user.kind == kiroku_core::identity::AccountKind::BreakGlass)
        .then(|| BreakGlassUse { reason: break_glass_reason.unwrap_or_default(), seconds: state.settings.break_glass_secs });
    let command = Command::LoginSucceeded { session, end_other_sessions: state.settings.single_session, break_glass };
    match state.store.execute(command).await? {
        Reply::LoggedIn(user, stage) => {
            state.metrics.logins.fetch_add(1, Relaxed);
            // The store decided by the role's policy (an account with a factor is never `Full`
            // here); from outside the facility's networks a password alone is not enough either,
            // and `authenticate_token` holds every request of such a session to that.
            let stage = if stage == SessionStage::Full && outside_internal_networks(state, &actor) { SessionStage::Enrol } else { stage };
            Ok(LoggedIn { token: bearer, user: *user, expires_at, stage })
        }
        Reply::LoginRefused(why) if user_kind == AccountKind::Maintenance => Err(ApiError::maintenance_refused(why)),
        Reply::LoginRefused(why) => Err(ApiError::break_glass_refused(why)),
        _ => {
            state.metrics.login_failures.fetch_add(1, Relaxed);
            Err(ApiError::login_failed())
        }
    }
}

pub async fn logout(State(state): State<AppState>, PendingSession(auth): PendingSession) -> ApiResult<Json<Value>> {
    state.store.execute(Command::Logout { actor: auth.actor }).await?;
    Ok(Json(json!({ "logged_out": true })))
}

pub async fn me(PendingSession(auth): PendingSession) -> Json<Value> {
    Json(json!({ "user": auth.user, "session": auth.actor.session, "stage": auth.stage, "has_second_factor": auth.has_second_factor }))
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
    let user = change_password_for(&state, auth, req.current_password, req.new_password).await?;
    Ok(Json(json!({ "changed": true, "must_change_password": user.must_change_password })))
}

/// Checks the current password and the policy (strength, no reuse), then stores the new hash.
pub async fn change_password_for(state: &AppState, auth: Authenticated, current: String, new: String) -> ApiResult<UserRecord> {
    let user = auth.user;
    let policy = state.settings.password_policy;
    // The shorter minimum applies only to an account that logs in with a second factor.
    let ctx =
        PolicyContext { username: user.username.as_str(), display_name: &user.display_name, has_second_factor: auth.has_second_factor };
    policy.check(&new, ctx).map_err(|v| policy_error(&v))?;
    let history = state.store.password_history(user.username.as_str(), policy.limits.history as i64).await?;
    let phc = user.password_hash.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        if !password::verify(&current, &phc) {
            return Err(ApiError::forbidden("the current password is wrong"));
        }
        policy.check_reuse(&new, &history).map_err(|v| policy_error(&v))?;
        password::hash(&new).map_err(|_| ApiError::internal())
    })
    .await
    .map_err(|_| ApiError::internal())??;
    Ok(state.store.execute(Command::ChangePassword { actor: auth.actor, new_hash: checked }).await?.into_user()?)
}

/// A refused password, with the Japanese explanation for the screen.
pub fn policy_error(v: &kiroku_auth::PolicyViolation) -> ApiError {
    let mut e = ApiError::validation("password", v.to_string());
    e.extra = Some(Box::new(json!({ "detail_ja": v.message_ja() })));
    e
}
