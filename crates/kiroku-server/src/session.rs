//! Request extractors: the authenticated session, the client address, and JSON bodies that fail as
//! problem details.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use kiroku_core::Timestamp;
use kiroku_core::identity::{AccountKind, SessionStage};
use kiroku_core::maintenance::WorkOrder;
use kiroku_store::{Actor, Command, SessionWithUser, UserRecord};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// The client's address: the peer, or the client a trusted proxy forwarded for.
pub fn client_addr(parts: &Parts, state: &AppState) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0;
    Some(client_ip(peer, &parts.headers, state))
}

/// The subject of the client certificate the request's TLS connection presented, if any.
pub fn client_cert(extensions: &axum::http::Extensions) -> Option<String> {
    extensions.get::<crate::tls::ClientCert>().and_then(|c| c.0.clone())
}

/// The same from a handler's `ConnectInfo` and headers.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, state: &AppState) -> String {
    state.settings.network.client_ip(peer.ip(), headers).to_string()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty() && t.len() <= 128)
}

/// A logged-in user whose password is in order. Handlers that take this may act.
#[derive(Clone)]
pub struct Authenticated {
    pub actor: Actor,
    pub user: UserRecord,
    /// How far the login has come; handlers only see `Full` unless they take [`PendingSession`].
    pub stage: SessionStage,
    pub has_second_factor: bool,
    /// Whether the account's role requires a second factor now.
    pub mfa_required: bool,
}

impl Authenticated {
    /// Refuses a session that has not passed the second factor its account or role needs.
    pub fn require_full(self) -> Result<Authenticated, ApiError> {
        match self.stage {
            SessionStage::Full => Ok(self),
            SessionStage::SecondFactor => Err(ApiError::second_factor_required()),
            SessionStage::Enrol => Err(ApiError::enrolment_required()),
        }
    }
}

/// A fully logged-in user who may still have to change the initial password; only for the
/// password endpoint.
pub struct AnySession(pub Authenticated);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await?.require_full().map(AnySession)
    }
}

/// Any session, also one still waiting for its second factor or an enrolment: only for logout,
/// "who am I", the second step of the login and enrolling a factor.
pub struct PendingSession(pub Authenticated);

impl FromRequestParts<AppState> for PendingSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(PendingSession)
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = authenticate(parts, state).await?.require_full()?;
        if auth.user.must_change_password {
            return Err(ApiError::password_change_required());
        }
        Ok(auth)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Authenticated, ApiError> {
    let token =
        bearer(&parts.headers).ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer TOKEN from POST /api/v1/auth/login"))?;
    if token.starts_with(API_TOKEN_PREFIX) {
        return authenticate_api_token(token, client_addr(parts, state), client_cert(&parts.extensions), state).await;
    }
    authenticate_token(token, client_addr(parts, state), client_cert(&parts.extensions), state).await
}

/// What every API token begins with, so that it is told from a session token at a glance.
pub const API_TOKEN_PREFIX: &str = "kiroku_at_";

/// Checks an integration's API token: known, not revoked, not expired (a refused use is recorded),
/// its service account enabled and within the networks of its role and kind. The token acts as
/// its service account within its scope; every command it sends is audited under that account.
async fn authenticate_api_token(
    token: &str,
    client_addr: Option<String>,
    client_cert: Option<String>,
    state: &AppState,
) -> Result<Authenticated, ApiError> {
    let hashed = kiroku_auth::token::hash_token(token);
    let (record, user) = state.store.api_token(&hashed).await?.ok_or_else(|| ApiError::unauthenticated("the API token is not valid"))?;
    let actor = Actor {
        username: user.username.clone(),
        role: user.role,
        session: Some(format!("token-{}", record.id)),
        client_addr,
        scope: Some(record.scope.clone()),
    };
    if let Some(why) = record.refusal(Timestamp::now()) {
        record_refusal(state, &actor, format!("api_token:{why} token={}", record.id)).await?;
        return Err(ApiError::unauthenticated(format!("the API token is {why}")));
    }
    if user.disabled || user.kind != AccountKind::Service {
        return Err(ApiError::unauthenticated("the API token's account is disabled"));
    }
    refuse_outside_networks(state, &actor, user.kind, client_cert.as_deref()).await?;
    Ok(Authenticated { actor, user, stage: SessionStage::Full, has_second_factor: false, mfa_required: false })
}

/// The scope of a maintenance session: its work order's, while the request comes from the order's
/// networks (a refusal is recorded as `access_refused` naming the order).
async fn work_order_scope(state: &AppState, actor: &Actor, session_id: &str) -> Result<kiroku_core::Scope, ApiError> {
    let ended = || ApiError::unauthenticated("the work order of this session has ended");
    let id = WorkOrder::id_of_session(session_id).ok_or_else(ended)?;
    let status = state.store.work_order(id).await?.ok_or_else(ended)?;
    let order = status.order;
    if status.signoff.is_some() || !order.is_open(Timestamp::now()) {
        return Err(ended());
    }
    if !order.allows_addr(actor.client_addr.as_deref()) {
        return refuse(state, actor, format!("maintenance:network work_order={}", order.id)).await.map(|()| order.scope);
    }
    Ok(order.scope)
}

/// Checks a session token, whether it came as a bearer token (API) or in the session cookie (web
/// pages): revocation, disabled account, lifetime and idle timeout (expiring the session through the
/// writer when it has run out), and records activity. The forced password change is left to the caller.
/// Without `client_addr` (bookkeeping such as the language choice) the network and terminal checks
/// are skipped.
pub async fn authenticate_token(
    token: &str,
    client_addr: Option<String>,
    client_cert: Option<String>,
    state: &AppState,
) -> Result<Authenticated, ApiError> {
    let hashed = kiroku_auth::token::hash_token(token);
    let SessionWithUser { session, user, has_second_factor, mfa_policy } =
        state.store.session(&hashed).await?.ok_or_else(|| ApiError::unauthenticated("the session is not valid"))?;
    let mut actor = Actor { username: user.username.clone(), role: user.role, session: Some(session.id.clone()), client_addr, scope: None };
    if session.revoked_at.is_some() || user.disabled {
        return Err(ApiError::unauthenticated("the session has ended"));
    }
    refuse_outside_networks(state, &actor, user.kind, client_cert.as_deref()).await?;
    // A session opened from a terminal with a certificate stays on that terminal.
    if actor.client_addr.is_some() && session.client_cert.is_some() && session.client_cert != client_cert {
        refuse(state, &actor, "client_certificate_changed".into()).await?;
    }
    let now = Timestamp::now();
    let idle_limit = session.last_seen_at.plus_seconds(state.settings.idle_timeout_secs);
    let expiry = if now >= session.expires_at {
        Some("expired:lifetime")
    } else if now >= idle_limit {
        Some("expired:idle")
    } else {
        None
    };
    if let Some(reason) = expiry {
        state.store.execute(Command::ExpireSession { actor, reason }).await?;
        return Err(ApiError::unauthenticated("the session timed out; log in again"));
    }
    if user.kind == AccountKind::Maintenance {
        actor.scope = Some(work_order_scope(state, &actor, &session.id).await?);
    }
    if now >= session.last_seen_at.plus_seconds(state.settings.touch_interval_secs()) {
        state.store.execute(Command::TouchSession { session_id: session.id.clone() }).await?;
    }
    // A role that came to require a second factor after this password-only login was opened
    // must not keep reaching data through it, nor may a password-only session from outside the
    // facility's networks.
    let mfa_required = mfa_policy.requires(now) || outside_internal_networks(state, &actor);
    let stage = match session.stage {
        SessionStage::Full if session.second_factor.is_none() && mfa_required => {
            if has_second_factor {
                SessionStage::SecondFactor
            } else {
                SessionStage::Enrol
            }
        }
        stage => stage,
    };
    Ok(Authenticated { actor, user, stage, has_second_factor, mfa_required })
}

/// Whether the request comes from outside the facility's networks (`[network] internal`), where a
/// password alone is never enough.
pub fn outside_internal_networks(state: &AppState, actor: &Actor) -> bool {
    actor.client_addr.as_deref().and_then(|a| a.parse().ok()).is_some_and(|ip| state.settings.network.second_factor_required_from(ip))
}

/// Refuses, and records, a request from outside the networks the account's role and kind may use,
/// or without the client certificate (TLS) its role must present.
pub async fn refuse_outside_networks(
    state: &AppState,
    actor: &Actor,
    kind: AccountKind,
    client_cert: Option<&str>,
) -> Result<(), ApiError> {
    let Some(ip) = actor.client_addr.as_deref().and_then(|a| a.parse().ok()) else { return Ok(()) };
    if let Some(detail) = state.settings.network.refusal(actor.role, kind, ip) {
        return refuse(state, actor, detail).await;
    }
    if client_cert.is_none() && state.settings.client_cert_roles.contains(&actor.role) {
        return refuse(state, actor, format!("client_certificate_required role={}", actor.role)).await;
    }
    Ok(())
}

/// Records a refused request (`access_refused`) and answers 403 `network-refused`.
async fn refuse(state: &AppState, actor: &Actor, detail: String) -> Result<(), ApiError> {
    record_refusal(state, actor, detail).await?;
    Err(ApiError::network_refused())
}

async fn record_refusal(state: &AppState, actor: &Actor, detail: String) -> Result<(), ApiError> {
    let command = Command::RefuseAccess {
        username: actor.username.to_string(),
        role: Some(actor.role),
        session: actor.session.clone(),
        client_addr: actor.client_addr.clone(),
        detail,
    };
    state.store.execute(command).await?;
    Ok(())
}

/// A JSON body: `application/json`, valid UTF-8, within the size limit, matching `T` exactly.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::unsupported_media("send the body as application/json"));
        }
        let limit = state.settings.max_json_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| ApiError::too_large(limit as u64))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, telling malformed input (400) from input of the wrong shape (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::malformed("the body is not valid UTF-8"))?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::validation(field_of(&e), strip_position(&e)),
        _ => ApiError::malformed(format!("the body is not valid JSON: {}", strip_position(&e))),
    })
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The field a serde message names, when it names one in backquotes.
fn field_of(e: &serde_json::Error) -> String {
    let s = e.to_string();
    s.split('`').nth(1).filter(|f| f.len() <= 64).unwrap_or("body").to_string()
}

/// Query parameters that fail as problem details.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::validation("query", e.body_text().replace("Failed to deserialize query string: ", "")))
    }
}

/// Path parameters that fail as problem details.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| ApiPath(p.0)).map_err(|_| ApiError::not_found("resource"))
    }
}
