//! Login, logout, the (forced) password change and the language toggle.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kiroku_core::identity::SessionStage;
use serde::Deserialize;

use super::i18n::{LANG_COOKIE, Lang, explain};
use super::page::*;
use crate::AppState;
use crate::api::auth::{change_password_for, login_user};

/// `/`: the patient search for clinical staff, the administrator's and auditor's own pages, or login.
pub async fn root(session: Result<WebSession, WebError>) -> Response {
    match session {
        Ok(s) if s.chrome.is("admin") => see_other("/admin/users"),
        Ok(s) if s.chrome.is("auditor") => see_other("/audit"),
        Ok(_) => see_other("/patients"),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    error: String,
    notice: String,
    username: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    out: Option<String>,
}

/// The login form, with a fresh double-submit CSRF token in a cookie and a hidden field.
pub async fn login_form(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Result<Response, WebError> {
    let lang = Lang::of_request(&headers);
    let notice = if q.expired.is_some() {
        lang.t("login.expired")
    } else if q.out.is_some() {
        lang.t("logout.done")
    } else {
        ""
    };
    login_page(&state, lang, String::new(), notice.into(), String::new())
}

fn login_page(state: &AppState, lang: Lang, error: String, notice: String, username: String) -> Result<Response, WebError> {
    let token = kiroku_auth::token::random_token(24);
    let c = Chrome {
        lang,
        user: None,
        csrf: token.clone(),
        path: "/login".into(),
        alert: false,
        break_glass: String::new(),
        emergency: EmergencyBanner::of(state),
    };
    let mut response = render(&LoginPage { c, error, notice, username })?;
    if let Ok(v) = HeaderValue::from_str(&set_cookie(state, LOGIN_CSRF_COOKIE, &token, None)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    break_glass_reason: String,
}

/// Checks the login form's CSRF token against its cookie, then logs in exactly as the API does.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    cert: Option<axum::Extension<crate::tls::ClientCert>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let lang = Lang::of_request(&headers);
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).ok_or(WebError::Csrf)?;
    check_csrf(&body, expected)?;
    let form: LoginForm = serde_urlencoded::from_bytes(&body).map_err(|_| WebError::Csrf)?;
    let client = crate::session::client_ip(addr, &headers, &state);
    let reason = Some(form.break_glass_reason).filter(|r| !r.trim().is_empty());
    let cert = cert.and_then(|c| c.0.0);
    match login_user(&state, form.username.clone(), form.password, Some(client), cert, reason).await {
        Ok(done) => {
            let next = match done.stage {
                SessionStage::SecondFactor => "/login/second-factor",
                SessionStage::Enrol => "/account/totp",
                SessionStage::Full if done.user.must_change_password => "/password",
                SessionStage::Full => "/",
            };
            let mut response = see_other(next);
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&set_cookie(&state, SESSION_COOKIE, &done.token, None)) {
                h.append(header::SET_COOKIE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&set_cookie(&state, LOGIN_CSRF_COOKIE, "", Some(0))) {
                h.append(header::SET_COOKIE, v);
            }
            // The user's own language choice wins over this browser's.
            let remembered = state.store.language(done.user.username.as_str()).await.ok().flatten().and_then(|l| Lang::parse(&l));
            if let Some(v) =
                remembered.and_then(|l| HeaderValue::from_str(&set_cookie(&state, LANG_COOKIE, l.code(), Some(365 * 24 * 3600))).ok())
            {
                h.append(header::SET_COOKIE, v);
            }
            Ok(response)
        }
        Err(e) if e.problem.kind == "login-failed" => login_page(&state, lang, lang.t("login.failed").into(), String::new(), form.username),
        Err(e) => login_page(&state, lang, explain(lang, &e).detail, String::new(), form.username),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// Any session may log out, also one still waiting for its second factor or enrolment.
pub async fn logout(State(state): State<AppState>, PendingWebPost(post): PendingWebPost<Empty>) -> Result<Response, WebError> {
    state.store.execute(kiroku_store::Command::Logout { actor: post.session.auth.actor }).await?;
    Ok(clear_session(&state, see_other("/login?out=1")))
}

fn clear_session(state: &AppState, mut response: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&set_cookie(state, SESSION_COOKIE, "", Some(0))) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Chrome,
    forced: bool,
    error: String,
}

pub async fn password_form(AnyWebSession(s): AnyWebSession) -> Result<Response, WebError> {
    let forced = s.auth.user.must_change_password;
    render(&PasswordPage { c: s.chrome, forced, error: String::new() })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

pub async fn change_password(State(state): State<AppState>, AnyWebPost(post): AnyWebPost<PasswordForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    let forced = session.auth.user.must_change_password;
    let c = session.chrome.clone();
    if form.new_password != form.new_password_again {
        return render(&PasswordPage { forced, error: c.t("password.mismatch").into(), c });
    }
    match change_password_for(&state, session.auth, form.current_password, form.new_password).await {
        Ok(_) => Ok(see_other("/")),
        Err(e) if e.status().is_client_error() => {
            let error = format!("{} {}", explain(c.lang, &e).title, explain(c.lang, &e).detail);
            let mut response = render(&PasswordPage { forced, error, c })?;
            *response.status_mut() = e.status();
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct LangQuery {
    back: Option<String>,
}

/// The language toggle: a link, remembered in a cookie; goes back to the page it was clicked on.
pub async fn set_lang(
    State(state): State<AppState>,
    axum::extract::Path(code): axum::extract::Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::Ja);
    // Logged in: remember the choice for the user, so that it follows them to any terminal.
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Ok(auth) = crate::session::authenticate_token(token, None, None, &state).await
    {
        let command = kiroku_store::Command::SetLanguage { actor: auth.actor, language: lang.code().to_string() };
        if let Err(e) = state.store.execute(command).await {
            tracing::warn!(error = %e, "cannot store the language preference");
        }
    }
    // Only paths of this site: "//host" or "/\host" would leave it.
    let back = q.back.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.starts_with("/\\")).unwrap_or_else(|| "/".into());
    let mut response = see_other(&back);
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&state, LANG_COOKIE, lang.code(), Some(365 * 24 * 3600))) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
