//! Second factors (TOTP enrolment with a QR code, the second step of a login, recovery codes),
//! each role's second-factor policy, and session lists (T2-1.1, T1-4.2).
//!
//! Codes are checked here against the stored secret; whether a code's time step or a recovery
//! code was used before is decided by the store inside the command's transaction, so two requests
//! with the same code cannot both pass.

use axum::Json;
use axum::extract::State;
use kiroku_auth::totp::{self, Totp};
use kiroku_core::identity::{MfaMode, MfaPolicy, SessionStage};
use kiroku_core::{Role, Timestamp, Username};
use kiroku_store::{Command, FactorProof, Reply, SecondFactorRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath, Authenticated, PendingSession};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

fn unix_now() -> u64 {
    u64::try_from(Timestamp::now().as_micros() / 1_000_000).unwrap_or(0)
}

/// The second step of a login: a TOTP code or a recovery code. A wrong code counts toward the
/// account's lockout; after the lockout the session is ended.
pub async fn second_factor(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<Value>> {
    verify_second_factor(&state, auth, &req.code).await?;
    Ok(Json(json!({ "stage": SessionStage::Full })))
}

/// Checks `code` for a session waiting for its second factor, then records the step through the store.
pub async fn verify_second_factor(state: &AppState, auth: crate::session::Authenticated, code: &str) -> ApiResult<()> {
    if auth.stage != SessionStage::SecondFactor {
        return Err(ApiError::conflict("this session is not waiting for a second factor"));
    }
    if code.len() > 64 {
        return Err(ApiError::validation("code", "too long"));
    }
    let policy = state.settings.lockout;
    let proof = if totp::looks_like_recovery_code(code) {
        Some(FactorProof::Recovery { code_hash: totp::recovery_hash(code) })
    } else {
        let factors = state.store.second_factors(auth.user.username.as_str()).await?;
        let now = unix_now();
        factors.iter().filter(|f| f.confirmed_at.is_some() && f.kind == "totp").find_map(|f| {
            let step = Totp::from_base32(&f.secret)?.verify(code, now)?;
            Some(FactorProof::Totp { factor_id: f.id.clone(), step: i64::try_from(step).ok()? })
        })
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

/// A TOTP enrolment in progress: what the authenticator app needs.
pub struct TotpEnrolment {
    pub factor_id: String,
    pub secret: String,
    pub uri: String,
    /// The QR code of `uri` as an `<svg>` element, drawn here: no image service sees the secret.
    pub qr_svg: String,
}

/// Starts enrolling an authenticator app: a new secret, stored unconfirmed.
pub async fn start_totp(state: &AppState, auth: &crate::session::Authenticated) -> ApiResult<TotpEnrolment> {
    if auth.stage == SessionStage::SecondFactor {
        return Err(ApiError::second_factor_required());
    }
    let generator = Totp::generate();
    let factor = SecondFactorRecord {
        id: uuid::Uuid::now_v7().to_string(),
        username: auth.user.username.clone(),
        kind: "totp".into(),
        secret: generator.secret_base32(),
        label: "authenticator app".into(),
        created_at: Timestamp::now(),
        confirmed_at: None,
        last_step: 0,
        removed_at: None,
    };
    let uri = generator.otpauth_uri(&state.settings.totp_issuer, auth.user.username.as_str());
    let qr_svg = qr_svg(&uri)?;
    state.store.execute(Command::BeginTotp { actor: auth.actor.clone(), factor: factor.clone() }).await?;
    Ok(TotpEnrolment { factor_id: factor.id, secret: factor.secret, uri, qr_svg })
}

/// The QR code of `text` as an inline SVG element (without the XML declaration).
pub fn qr_svg(text: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| ApiError::internal())?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build();
    Ok(svg.find("<svg").map_or(svg.clone(), |i| svg[i..].to_string()))
}

/// Confirms the enrolment with the app's first code; answers the recovery codes, shown only now.
pub async fn finish_totp(state: &AppState, auth: crate::session::Authenticated, code: &str) -> ApiResult<Vec<String>> {
    if auth.stage == SessionStage::SecondFactor {
        return Err(ApiError::second_factor_required());
    }
    let factors = state.store.second_factors(auth.user.username.as_str()).await?;
    let pending = factors.iter().find(|f| f.kind == "totp" && f.confirmed_at.is_none()).ok_or_else(|| ApiError::not_found("enrolment"))?;
    let step = Totp::from_base32(&pending.secret)
        .and_then(|t| t.verify(code, unix_now()))
        .ok_or_else(|| ApiError::validation("code", "the code does not match; check the device's clock and type the current code"))?;
    let codes = totp::recovery_codes();
    let command = Command::ConfirmTotp {
        actor: auth.actor,
        factor_id: pending.id.clone(),
        step: i64::try_from(step).map_err(|_| ApiError::internal())?,
        recovery_hashes: codes.iter().map(|(_, h)| h.clone()).collect(),
        end_other_sessions: state.settings.single_session,
    };
    state.store.execute(command).await?;
    Ok(codes.into_iter().map(|(c, _)| c).collect())
}

pub async fn begin_totp(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let e = start_totp(&state, &auth).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "factor_id": e.factor_id, "secret": e.secret, "otpauth_uri": e.uri, "qr_svg": e.qr_svg })),
    ))
}

pub async fn confirm_totp(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<Value>> {
    let codes = finish_totp(&state, auth, &req.code).await?;
    Ok(Json(json!({ "confirmed": true, "recovery_codes": codes })))
}

pub async fn list_factors(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let factors = state.store.second_factors(auth.user.username.as_str()).await?;
    let mut list: Vec<Value> = factors.iter().filter(|f| f.confirmed_at.is_some()).map(|f| json!(f)).collect();
    list.extend(crate::api::webauthn::keys_json(&state.store.webauthn_keys(auth.user.username.as_str()).await?));
    Ok(Json(json!({ "second_factors": list })))
}

pub async fn remove_factor(State(state): State<AppState>, auth: Authenticated, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    state.store.execute(Command::RemoveSecondFactor { actor: auth.actor, factor_id: id }).await?;
    Ok(Json(json!({ "removed": true })))
}

pub async fn my_sessions(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let current = auth.actor.session.clone();
    let sessions =
        state.store.execute(Command::ListSessions { username: auth.user.username.clone(), actor: auth.actor }).await?.into_sessions()?;
    Ok(Json(json!({ "sessions": sessions, "current": current })))
}

pub async fn user_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(username): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let username = Username::parse(&username).map_err(|_| ApiError::not_found("user"))?;
    let sessions = state.store.execute(Command::ListSessions { actor: auth.actor, username }).await?.into_sessions()?;
    Ok(Json(json!({ "sessions": sessions })))
}

pub async fn revoke_session(State(state): State<AppState>, auth: Authenticated, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    if id.len() > 64 {
        return Err(ApiError::not_found("session"));
    }
    state.store.execute(Command::RevokeSession { actor: auth.actor, session_id: id }).await?;
    Ok(Json(json!({ "revoked": true })))
}

pub async fn policies(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let policies = state.store.execute(Command::ReadMfaPolicies { actor: auth.actor }).await?.into_mfa_policies()?;
    Ok(Json(policies_json(&policies)))
}

fn policies_json(policies: &[(Role, MfaPolicy)]) -> Value {
    let list: Vec<Value> = policies.iter().map(|(r, p)| json!({ "role": r, "mode": p.mode, "required_from": p.required_from })).collect();
    json!({ "policies": list })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    mode: MfaMode,
    #[serde(default)]
    required_from: Option<Timestamp>,
}

pub async fn set_policy(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(role): ApiPath<String>,
    ApiJson(req): ApiJson<PolicyChange>,
) -> ApiResult<Json<Value>> {
    let role: Role = role.parse().map_err(|_| ApiError::not_found("role"))?;
    let policy = MfaPolicy::new(req.mode, req.required_from)?;
    let policies = state.store.execute(Command::SetMfaPolicy { actor: auth.actor, role, policy }).await?.into_mfa_policies()?;
    Ok(Json(policies_json(&policies)))
}
