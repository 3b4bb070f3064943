//! What every page shares: the cookie session, CSRF checks, the header ("chrome"), error pages and
//! rendering. Handlers get a [`WebSession`] (GET) or a [`WebPost`] (POST, CSRF checked) and return
//! `Result<Response, WebError>`; errors are turned into pages by [`render_error_pages`].

use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use kiroku_core::identity::SessionStage;
use kiroku_core::{Role, Timestamp};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::i18n::{Lang, explain};
use crate::AppState;
use crate::error::ApiError;
use crate::session::{Authenticated, authenticate_token, client_addr};

/// The session cookie; its value is the same kind of token the API takes as a bearer token.
pub const SESSION_COOKIE: &str = "kiroku_session";
/// The double-submit token of the login form, which has no session to bind a token to yet.
pub const LOGIN_CSRF_COOKIE: &str = "kiroku_login_csrf";

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value with the attributes every kiroku cookie has.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.settings.secure_cookies {
        c.push_str("; Secure");
    }
    c
}

/// The CSRF token of a session: derived from the session token, so it needs no storage, changes
/// with every login, and cannot be computed by a page that does not know the HttpOnly cookie.
pub fn csrf_token(session_token: &str) -> String {
    kiroku_auth::token::hash_token(&format!("csrf:{session_token}"))
}

/// Compares without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads a multipart form's first field, which must be the CSRF token, so that an upload is
/// refused before a single byte of its file is read or written.
pub async fn check_multipart_csrf(form: &mut axum::extract::Multipart, csrf: &str) -> Result<(), WebError> {
    let first = form.next_field().await.map_err(|_| WebError::Csrf)?.ok_or(WebError::Csrf)?;
    if first.name() != Some("csrf") || !same(&first.text().await.map_err(|_| WebError::Csrf)?, csrf) {
        return Err(WebError::Csrf);
    }
    Ok(())
}

/// JST display of a UTC time: "2026-04-01 09:30".
pub fn jst(t: Timestamp) -> String {
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let d = t.to_datetime().to_offset(offset);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute())
}

/// Who is logged in, for the header of every page.
#[derive(Debug, Clone)]
pub struct HeaderUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// The parts of the page around the content: language, the logged-in user, the CSRF token for the
/// forms, and the current address for the language toggle.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    pub user: Option<HeaderUser>,
    pub csrf: String,
    pub path: String,
    /// The fixity alert banner: stored content was found altered or missing.
    pub alert: bool,
    /// Break-glass accounts in use now ("name until HH:MM"), shown as a banner on every page.
    pub break_glass: String,
    /// The emergency read-only banner, while the mode is active.
    pub emergency: Option<EmergencyBanner>,
}

/// What the emergency banner says: since when (JST), why, and whom to contact.
#[derive(Debug, Clone)]
pub struct EmergencyBanner {
    pub since: String,
    pub reason: String,
    pub contact: String,
}

impl EmergencyBanner {
    /// The banner from the mode this process holds in memory (so it shows when the database is down).
    pub fn of(state: &AppState) -> Option<EmergencyBanner> {
        let mode = state.store.emergency().current()?;
        Some(EmergencyBanner { since: jst(mode.since), reason: mode.reason, contact: crate::api::operations::contact(state) })
    }
}

impl Chrome {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn other_lang(&self) -> &'static str {
        self.lang.other().code()
    }

    /// "display name (user name)" of the logged-in user, for printouts.
    pub fn user_name(&self) -> String {
        self.user.as_ref().map_or_else(String::new, |u| format!("{} ({})", u.display_name, u.username))
    }

    pub fn role_label(&self) -> &'static str {
        self.user.as_ref().map_or("", |u| self.lang.role(u.role))
    }

    /// Which menu entries the header shows; the pages themselves are guarded by the matrix.
    pub fn is(&self, what: &str) -> bool {
        let role = self.user.as_ref().map(|u| u.role);
        match what {
            "clinical" => matches!(role, Some(Role::Doctor | Role::Nurse | Role::Pharmacist | Role::Clerk)),
            "doctor" => role == Some(Role::Doctor),
            "admin" => role == Some(Role::Admin),
            "auditor" => role == Some(Role::Auditor),
            "ops" => matches!(role, Some(Role::Admin | Role::Auditor)),
            // Scanning: the roles the factory matrix gives scan.read / scan.manage.
            "scan" => role.is_some_and(|r| factory_allows(r, kiroku_core::Permission::ScanRead)),
            "scan_manage" => role.is_some_and(|r| factory_allows(r, kiroku_core::Permission::ScanManage)),
            _ => false,
        }
    }
}

/// Whether the factory matrix gives `role` the permission: for menu entries only.
fn factory_allows(role: Role, permission: kiroku_core::Permission) -> bool {
    kiroku_core::PermissionMatrix::factory_default().check(role, permission, None).is_ok()
}

/// The break-glass accounts in use now, for the banner; empty when none (or when it cannot be read,
/// which the store's own error log reports).
pub async fn break_glass_banner(state: &AppState) -> String {
    match state.store.active_break_glass().await {
        Ok(open) => {
            open.iter().map(|b| format!("{} (〜{})", b.username, b.expires_at.map(jst).unwrap_or_default())).collect::<Vec<_>>().join(", ")
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read break-glass accounts for the banner");
            String::new()
        }
    }
}

/// A slot the session extractor fills so that an error page can still show who is logged in.
#[derive(Clone, Default)]
pub struct UserSlot(Arc<Mutex<Option<HeaderUser>>>);

/// A logged-in user on a web page, with the page's chrome.
pub struct WebSession {
    pub auth: Authenticated,
    pub chrome: Chrome,
}

/// Which sessions a page takes: full ones only, also one that must change its password, or also one
/// still waiting for its second factor or enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    Full,
    PasswordChange,
    Pending,
}

impl WebSession {
    async fn from_parts(parts: &Parts, state: &AppState, accept: Accept) -> Result<WebSession, WebError> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(WebError::Redirect("/login".into())) };
        let auth = match authenticate_token(token, client_addr(parts, state), crate::session::client_cert(&parts.extensions), state).await {
            Ok(auth) => auth,
            // Idle timeout, lifetime, revocation: log in again.
            Err(e) if e.status() == StatusCode::UNAUTHORIZED => return Err(WebError::Redirect("/login?expired=1".into())),
            Err(e) => return Err(e.into()),
        };
        let user =
            HeaderUser { username: auth.user.username.to_string(), display_name: auth.user.display_name.clone(), role: auth.user.role };
        if let Some(slot) = parts.extensions.get::<UserSlot>()
            && let Ok(mut s) = slot.0.lock()
        {
            *s = Some(user.clone());
        }
        match auth.stage {
            SessionStage::Full => {}
            _ if accept == Accept::Pending => {}
            SessionStage::SecondFactor => return Err(WebError::Redirect("/login/second-factor".into())),
            SessionStage::Enrol => return Err(WebError::Redirect("/account/totp".into())),
        }
        if auth.user.must_change_password && accept == Accept::Full {
            return Err(WebError::Redirect("/password".into()));
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let break_glass = break_glass_banner(state).await;
        let chrome = Chrome {
            lang: Lang::of_request(&parts.headers),
            user: Some(user),
            csrf: csrf_token(token),
            path,
            alert: state.fixity.alert(),
            break_glass,
            emergency: EmergencyBanner::of(state),
        };
        Ok(WebSession { auth, chrome })
    }
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        WebSession::from_parts(parts, state, Accept::Full).await
    }
}

/// Any session, also one waiting for its second factor: the second step of the login and enrolment.
pub struct PendingWebSession(pub WebSession);

impl FromRequestParts<AppState> for PendingWebSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        WebSession::from_parts(parts, state, Accept::Pending).await.map(PendingWebSession)
    }
}

/// A form POST of a session that may still be waiting for its second factor.
pub struct PendingWebPost<T>(pub WebPost<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for PendingWebPost<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        read_post(req, state, Accept::Pending).await.map(PendingWebPost)
    }
}

/// A session that may still have to change its password: only the password page takes it.
pub struct AnyWebSession(pub WebSession);

impl FromRequestParts<AppState> for AnyWebSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        WebSession::from_parts(parts, state, Accept::PasswordChange).await.map(AnyWebSession)
    }
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

/// A form POST by a logged-in user whose CSRF token matched; `T` is the form's fields.
pub struct WebPost<T> {
    pub session: WebSession,
    pub form: T,
}

/// The same for the password page, which a user with a forced password change may post.
pub struct AnyWebPost<T>(pub WebPost<T>);

async fn read_post<T: DeserializeOwned>(req: Request, state: &AppState, accept: Accept) -> Result<WebPost<T>, WebError> {
    let (parts, body) = req.into_parts();
    let session = WebSession::from_parts(&parts, state, accept).await?;
    let bytes = axum::body::to_bytes(body, state.settings.max_json_bytes)
        .await
        .map_err(|_| ApiError::too_large(state.settings.max_json_bytes as u64))?;
    check_csrf(&bytes, &session.chrome.csrf)?;
    let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| ApiError::malformed("the form could not be read"))?;
    Ok(WebPost { session, form })
}

/// Refuses a form whose hidden `csrf` field is missing or is not the session's token.
pub fn check_csrf(body: &[u8], expected: &str) -> Result<(), WebError> {
    let field: CsrfField = serde_urlencoded::from_bytes(body).map_err(|_| WebError::Csrf)?;
    match field.csrf {
        Some(given) if same(&given, expected) => Ok(()),
        _ => Err(WebError::Csrf),
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for WebPost<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        read_post(req, state, Accept::Full).await
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for AnyWebPost<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        read_post(req, state, Accept::PasswordChange).await.map(AnyWebPost)
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum WebError {
    /// Not logged in, session ended, or password change first: go there.
    Redirect(String),
    /// A refused form: missing or wrong CSRF token.
    Csrf,
    /// Anything the API would have answered as a problem, shown as a page.
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        if e.status() == StatusCode::UNAUTHORIZED && e.problem.kind == "unauthenticated" {
            return WebError::Redirect("/login?expired=1".into());
        }
        WebError::Api(e)
    }
}

impl From<kiroku_store::StoreError> for WebError {
    fn from(e: kiroku_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(%e, "template failure");
        WebError::Api(ApiError::internal())
    }
}

/// The error an error page shows; carried from the handler to [`render_error_pages`] in the
/// response's extensions, because only the middleware knows the request's language and user.
#[derive(Clone)]
struct ErrorPage {
    csrf: bool,
    error: Arc<ApiError>,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Redirect(to) => see_other(&to),
            WebError::Csrf => error_marker(StatusCode::FORBIDDEN, ErrorPage { csrf: true, error: Arc::new(ApiError::forbidden("csrf")) }),
            WebError::Api(e) => error_marker(e.status(), ErrorPage { csrf: false, error: Arc::new(e) }),
        }
    }
}

fn error_marker(status: StatusCode, page: ErrorPage) -> Response {
    let mut r = status.into_response();
    r.extensions_mut().insert(page);
    r
}

/// 303 See Other: where a form POST leads, so that reloading does not post it again.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Renders a template as an HTML page.
pub fn render<T: Template>(t: &T) -> Result<Response, WebError> {
    Ok(Html(t.render()?).into_response())
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    c: Chrome,
    status: u16,
    title: String,
    detail: String,
    hint: &'static str,
}

/// Turns the error marker of a failed page into a page in the request's language, with the header
/// of the logged-in user; answers for unknown pages outside `/api` too.
pub async fn render_error_pages(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let lang = Lang::of_request(request.headers());
    let path = request.uri().path().to_string();
    // The header's logout form needs the token; it is shown only when the session was valid.
    let csrf = cookie(request.headers(), SESSION_COOKIE).map(csrf_token).unwrap_or_default();
    let slot = UserSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else { return response };
    let status = response.status();
    let user = slot.0.lock().ok().and_then(|s| s.clone());
    let csrf = if user.is_some() { csrf } else { String::new() };
    let alert = user.is_some() && state.fixity.alert();
    let break_glass = if user.is_some() { break_glass_banner(&state).await } else { String::new() };
    let c = Chrome { lang, user, csrf, path, alert, break_glass, emergency: EmergencyBanner::of(&state) };
    let (title, detail, hint) = describe(lang, status, &page);
    let t = ErrorTemplate { c, status: status.as_u16(), title, detail, hint };
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => status.into_response(),
    }
}

fn describe(lang: Lang, status: StatusCode, page: &ErrorPage) -> (String, String, &'static str) {
    if page.csrf {
        return (lang.t("error.403").into(), lang.t("error.csrf").into(), "");
    }
    match status {
        StatusCode::NOT_FOUND => {
            let e = explain(lang, &page.error);
            let detail = if page.error.problem.kind == "no-route" { String::new() } else { e.detail };
            (lang.t("error.404").into(), detail, lang.t("error.404_hint"))
        }
        StatusCode::FORBIDDEN if page.error.problem.kind == "forbidden" => {
            (lang.t("error.403").into(), explain(lang, &page.error).detail, lang.t("error.403_hint"))
        }
        _ => {
            let e = explain(lang, &page.error);
            (e.title.into(), e.detail, "")
        }
    }
}

/// Query strings and form fields that are not what the page expects: a readable 422 page.
pub fn parse_query<T: DeserializeOwned>(parts: &axum::http::Uri) -> Result<T, WebError> {
    serde_urlencoded::from_str(parts.query().unwrap_or("")).map_err(|_| WebError::Api(ApiError::validation("query", "unknown value")))
}
