//! The staff's own security pages: the second step of the login, enrolling an authenticator app
//! (QR code drawn on the server, recovery codes shown once), their sessions with a button to end
//! each, and the administrator's second-factor policy per role.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_core::identity::{MfaMode, MfaPolicy, SessionStage};
use kiroku_core::{Role, Timestamp};
use kiroku_store::Command;
use serde::Deserialize;

use super::i18n::explain;
use super::page::*;
use crate::AppState;
use crate::api::identity::{finish_totp, start_totp, verify_second_factor};

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    c: Chrome,
    error: String,
    /// The account has security keys: the page offers to use one.
    has_keys: bool,
}

async fn has_keys(state: &AppState, username: &str) -> Result<bool, WebError> {
    Ok(state.settings.webauthn.is_some() && state.store.webauthn_keys(username).await?.iter().any(|k| k.active()))
}

pub async fn second_factor_form(State(state): State<AppState>, PendingWebSession(s): PendingWebSession) -> Result<Response, WebError> {
    if s.auth.stage != SessionStage::SecondFactor {
        return Ok(see_other("/"));
    }
    let has_keys = has_keys(&state, s.auth.user.username.as_str()).await?;
    render(&SecondFactorPage { c: s.chrome, error: String::new(), has_keys })
}

/// The second step's page again after a refused code or key, or the login page after a lockout.
pub(super) async fn second_factor_page(state: &AppState, c: Chrome, username: &str, e: &crate::ApiError) -> Result<Response, WebError> {
    // After a lockout the session is gone: start again at the login page.
    let locked = state.store.user(username).await?.is_some_and(|u| u.is_locked(Timestamp::now()));
    if locked {
        return Ok(see_other("/login?expired=1"));
    }
    let error = explain(c.lang, e).title.to_string();
    let has_keys = has_keys(state, username).await?;
    let mut r = render(&SecondFactorPage { c, error, has_keys })?;
    *r.status_mut() = e.status();
    Ok(r)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn second_factor(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<CodeForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let c = session.chrome.clone();
    let username = session.auth.user.username.clone();
    match verify_second_factor(&state, session.auth, &form.code).await {
        Ok(()) => Ok(see_other("/")),
        Err(e) if e.status().is_client_error() => second_factor_page(&state, c, username.as_str(), &e).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    c: Chrome,
    /// The role requires a second factor and the account has none: nothing else is reachable.
    required: bool,
    qr_svg: String,
    secret: String,
    recovery_codes: Vec<String>,
    error: String,
}

impl TotpPage {
    fn new(s: &WebSession) -> TotpPage {
        TotpPage {
            c: s.chrome.clone(),
            required: s.auth.stage == SessionStage::Enrol,
            qr_svg: String::new(),
            secret: String::new(),
            recovery_codes: Vec::new(),
            error: String::new(),
        }
    }
}

pub async fn totp_intro(PendingWebSession(s): PendingWebSession) -> Result<Response, WebError> {
    if s.auth.stage == SessionStage::SecondFactor {
        return Ok(see_other("/login/second-factor"));
    }
    render(&TotpPage::new(&s))
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn totp_start(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<Empty>) -> Result<Response, WebError> {
    let s = post.session;
    let e = start_totp(&state, &s.auth).await?;
    // The secret is shown beside the QR code for apps that cannot scan.
    let spaced: Vec<String> = e.secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    render(&TotpPage { qr_svg: e.qr_svg, secret: spaced.join(" "), ..TotpPage::new(&s) })
}

pub async fn totp_confirm(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<CodeForm>) -> Result<Response, WebError> {
    let WebPost { session: s, form } = post;
    let page = TotpPage::new(&s);
    match finish_totp(&state, s.auth, &form.code).await {
        Ok(recovery_codes) => render(&TotpPage { recovery_codes, required: false, ..page }),
        Err(e) if e.status().is_client_error() => {
            let x = explain(page.c.lang, &e);
            let error = format!("{} {}", x.title, x.detail);
            let mut r = render(&TotpPage { error, ..page })?;
            *r.status_mut() = e.status();
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

/// A session as a line of the list.
pub struct SessionRow {
    pub id: String,
    pub created: String,
    pub last_seen: String,
    pub client_addr: String,
    pub second_factor: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    c: Chrome,
    totp_id: Option<String>,
    totp_since: String,
    required: bool,
    sessions: Vec<SessionRow>,
    notice: &'static str,
    /// Registered security keys, and whether keys can be registered here ([webauthn]).
    keys: Vec<KeyRow>,
    webauthn: bool,
    error: String,
}

/// A security key as a line of the list.
pub struct KeyRow {
    pub id: String,
    pub label: String,
    pub created: String,
    pub last_used: String,
}

pub async fn security(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    security_page(&state, s, "", String::new()).await
}

pub(super) async fn security_page(state: &AppState, s: WebSession, notice: &'static str, error: String) -> Result<Response, WebError> {
    let username = s.auth.user.username.clone();
    let current = s.auth.actor.session.clone();
    let factors = state.store.second_factors(username.as_str()).await?;
    let totp = factors.iter().find(|f| f.kind == "totp" && f.confirmed_at.is_some());
    let sessions = state.store.execute(Command::ListSessions { actor: s.auth.actor.clone(), username }).await?.into_sessions()?;
    let rows = sessions
        .iter()
        .map(|x| SessionRow {
            id: x.id.clone(),
            created: jst(x.created_at),
            last_seen: jst(x.last_seen_at),
            client_addr: x.client_addr.clone().unwrap_or_default(),
            second_factor: x.second_factor.clone().unwrap_or_default(),
            current: current.as_deref() == Some(x.id.as_str()),
        })
        .collect();
    let required = s.auth.mfa_required;
    let keys = state.store.webauthn_keys(s.auth.user.username.as_str()).await?;
    let keys = keys
        .iter()
        .filter(|k| k.active())
        .map(|k| KeyRow {
            id: k.credential.id.clone(),
            label: k.credential.label.clone(),
            created: jst(k.credential.created_at),
            last_used: k.last_used_at.map(jst).unwrap_or_default(),
        })
        .collect();
    render(&SecurityPage {
        keys,
        webauthn: state.settings.webauthn.is_some(),
        error,
        c: s.chrome,
        totp_id: totp.map(|f| f.id.clone()),
        totp_since: totp.and_then(|f| f.confirmed_at).map(jst).unwrap_or_default(),
        required,
        sessions: rows,
        notice,
    })
}

pub async fn revoke_session(State(state): State<AppState>, Path(id): Path<String>, post: WebPost<Empty>) -> Result<Response, WebError> {
    let own = post.session.auth.actor.session.as_deref() == Some(id.as_str());
    state.store.execute(Command::RevokeSession { actor: post.session.auth.actor.clone(), session_id: id }).await?;
    if own {
        return Ok(see_other("/login?out=1"));
    }
    security_page(&state, post.session, "security.revoked", String::new()).await
}

pub async fn remove_factor(State(state): State<AppState>, Path(id): Path<String>, post: WebPost<Empty>) -> Result<Response, WebError> {
    state.store.execute(Command::RemoveSecondFactor { actor: post.session.auth.actor.clone(), factor_id: id }).await?;
    security_page(&state, post.session, "security.removed", String::new()).await
}

/// One role's line of the policy form.
pub struct PolicyRow {
    pub role: &'static str,
    pub label: &'static str,
    pub mode: &'static str,
    pub from: String,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    c: Chrome,
    rows: Vec<PolicyRow>,
    saved: bool,
}

async fn mfa_page(state: &AppState, s: WebSession, saved: bool) -> Result<Response, WebError> {
    let policies = state.store.execute(Command::ReadMfaPolicies { actor: s.auth.actor }).await?.into_mfa_policies()?;
    let c = s.chrome;
    let rows = policies
        .iter()
        .map(|(r, p)| PolicyRow {
            role: r.as_str(),
            label: c.lang.role(*r),
            mode: p.mode.as_str(),
            from: p.required_from.map(|t| jst(t).chars().take(10).collect()).unwrap_or_default(),
        })
        .collect();
    render(&MfaPage { c, rows, saved })
}

pub async fn mfa(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    mfa_page(&state, s, false).await
}

#[derive(Deserialize)]
pub struct PolicyForm {
    role: String,
    mode: String,
    #[serde(default)]
    from: String,
}

pub async fn save_mfa(State(state): State<AppState>, post: WebPost<PolicyForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let bad = |f: &'static str| WebError::Api(crate::ApiError::validation(f, "unknown value"));
    let role: Role = form.role.parse().map_err(|_| bad("role"))?;
    let mode = MfaMode::parse(&form.mode).ok_or_else(|| bad("mode"))?;
    // The date is a JST calendar day; 2FA is required from its midnight.
    let from = (mode == MfaMode::RequiredFrom)
        .then(|| Timestamp::parse_rfc3339(&format!("{}T00:00:00+09:00", form.from.trim())).ok_or_else(|| bad("required_from")))
        .transpose()?;
    let policy = MfaPolicy::new(mode, from).map_err(crate::ApiError::from)?;
    state.store.execute(Command::SetMfaPolicy { actor: session.auth.actor.clone(), role, policy }).await?;
    mfa_page(&state, session, true).await
}
