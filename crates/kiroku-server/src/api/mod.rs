//! Routes of the JSON API and the middleware every response passes through.

pub mod accounts;
pub mod audit;
mod audit_export;
pub mod auth;
pub mod break_glass;
pub mod checklist;
pub mod documents;
pub mod governance;
pub mod identity;
pub mod ledgers;
mod log;
pub mod operations;
mod ops;
pub mod patients;
mod review;
pub mod scan;
pub mod signatures;
pub mod users;
pub mod webauthn;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::error::ApiError;
use crate::web;
use crate::web::page::WebError;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/password", post(auth::change_password))
        .route("/auth/me", get(auth::me))
        .route("/auth/second-factor", post(identity::second_factor))
        .route("/auth/totp", post(identity::begin_totp))
        .route("/auth/totp/confirm", post(identity::confirm_totp))
        .route("/auth/second-factors", get(identity::list_factors))
        .route("/auth/webauthn/register", post(webauthn::begin_register))
        .route("/auth/webauthn/register/finish", post(webauthn::finish_register))
        .route("/auth/webauthn/login", post(webauthn::begin_login))
        .route("/auth/webauthn/login/finish", post(webauthn::finish_login_step))
        .route("/auth/second-factors/{id}", axum::routing::delete(identity::remove_factor))
        .route("/auth/sessions", get(identity::my_sessions))
        .route("/sessions/{id}/revoke", post(identity::revoke_session))
        .route("/users/{username}/sessions", get(identity::user_sessions))
        .route("/break-glass", get(break_glass::list).post(break_glass::create))
        .route("/break-glass/{username}/reseal", post(break_glass::reseal))
        .route("/mfa-policies", get(identity::policies))
        .route("/mfa-policies/{role}", axum::routing::put(identity::set_policy))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{username}", get(users::get_one).patch(users::update))
        .route("/users/{username}/unlock", post(users::unlock))
        .route("/users/{username}/password", post(users::reset_password))
        .route("/roles", get(users::roles))
        .route("/roles/{role}", axum::routing::put(users::set_role))
        .route("/patients", get(patients::search).post(patients::create))
        .route("/patients/{patient_id}", get(patients::get_one))
        .route("/patients/{patient_id}/documents", get(documents::list).post(documents::create))
        .route("/documents/{id}", get(documents::get_one).put(documents::revise).delete(documents::delete))
        .route("/documents/{id}/confirm", post(documents::confirm))
        .route("/documents/{id}/approve", post(documents::approve))
        .route("/documents/{id}/versions", get(documents::versions))
        .route("/documents/{id}/versions/{n}", get(documents::version))
        .route("/documents/{id}/attachments", get(documents::attachments).post(documents::upload))
        .route("/documents/{id}/attachments/{attachment_id}", get(documents::download))
        .route("/approvals", get(documents::approval_queue))
        .route("/audit", get(audit::query))
        .route("/audit/export/fhir", get(audit_export::fhir))
        .route("/audit/review", get(review::report))
        .route("/audit/review/signoff", post(review::sign_off))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/proof/inclusion", get(log::inclusion))
        .route("/log/proof/consistency", get(log::consistency))
        .route("/documents/{id}/versions/{n}/proof", get(log::version_proof))
        .route("/documents/{id}/versions/{n}/signed-content", get(signatures::signed_content))
        .route("/documents/{id}/versions/{n}/signatures", get(signatures::list).post(signatures::sign))
        .route("/emergency", get(operations::emergency))
        .route("/emergency/enter", post(operations::enter_emergency))
        .route("/emergency/leave", post(operations::leave_emergency))
        .route("/locations", get(operations::locations).post(operations::add_location))
        .route("/locations/{id}", axum::routing::put(operations::change_location).delete(operations::retire_location))
        .route("/locations/{id}/history", get(operations::location_history))
        .route("/governance/profile", get(governance::get_profile).put(governance::put_profile))
        .route("/governance/regulation", get(governance::list_regulations).post(governance::generate))
        .route("/governance/regulation/{revision}/approve", post(governance::approve))
        .route("/governance/regulation/{revision}/{format}", get(governance::get_regulation))
        .route("/status/response-times", get(operations::response_times))
        .route("/work-orders", get(accounts::list_orders).post(accounts::create_order))
        .route("/work-orders/{id}", get(accounts::order_report))
        .route("/work-orders/{id}/signoff", post(accounts::sign_off_order))
        .route("/api-tokens", get(accounts::list_tokens).post(accounts::create_token))
        .route("/api-tokens/{id}/revoke", post(accounts::revoke_token))
        .route("/users/{username}/factor-reset", post(accounts::issue_reset))
        .route("/factor-resets", get(accounts::list_resets))
        .route("/factor-resets/{id}/approve", post(accounts::approve_reset))
        .route("/auth/factor-reset", post(accounts::use_reset))
        .route("/access-review", get(accounts::access_review))
        .route("/access-review/signoff", post(accounts::sign_off_access_review))
        .route("/users/{username}/left", post(accounts::mark_left))
        .route("/governance/checklist", get(checklist::get_checklist))
        .route("/governance/checklist.csv", get(checklist::get_csv))
        .route("/governance/checklist.pdf", get(checklist::get_pdf))
        .route("/governance/checklist/signoff", post(checklist::sign_off))
        .route("/governance/checklist/attestations", post(checklist::attest))
        .route("/governance/evidence", get(checklist::get_evidence))
        .route("/governance/oscal/catalog.json", get(checklist::oscal_catalog))
        .route("/governance/oscal/profile.json", get(checklist::oscal_profile))
        .route("/governance/oscal/assessment-results.json", get(checklist::oscal_results))
        .route("/governance/disclosure", get(checklist::disclosure))
        .route("/governance/split", get(checklist::split))
        .route("/documents/{id}/attachments/{attachment_id}/signatures", post(signatures::sign_file))
        .route("/scan/types", get(scan::types))
        .route("/scan/types/{code}", axum::routing::put(scan::save_type))
        .route("/scan/register", get(scan::list))
        .route("/scan/overdue", get(scan::overdue))
        .route("/scan/items/{id}/original", post(scan::original))
        .route("/patients/{patient_id}/scan/papers", post(scan::receive))
        .route("/patients/{patient_id}/scans", post(scan::upload))
        .route("/governance/ledgers", get(ledgers::kinds))
        .route("/governance/ledgers/{kind}", get(ledgers::list).post(ledgers::create))
        .route("/governance/ledgers/{kind}/{id}", get(ledgers::get_one).put(ledgers::revise))
        .route("/governance/ledgers/{kind}/{id}/approve", post(ledgers::approve))
        .route("/governance/ledgers/{kind}/{id}/events", post(ledgers::event))
        .route("/governance/ledgers/{kind}/{id}/attachments", post(ledgers::upload))
        .route("/governance/ledgers/{kind}/{id}/attachments/{attachment_id}", get(ledgers::download))
        .route("/governance/duties", get(ledgers::duties))
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .route_layer(middleware::from_fn_with_state(state.clone(), refuse_changes_in_emergency));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .merge(web::router(&state))
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(state.clone(), crate::timing::measure))
        .layer(middleware::from_fn_with_state(state.clone(), web::page::render_error_pages))
        .layer(middleware::from_fn_with_state(state.clone(), secure_headers))
        .with_state(state)
}

/// In emergency read-only mode, the API's changing operations answer 503 before their body is read
/// or checked, from the mode this process holds in memory (so also when the database is down). The
/// store refuses the same changes again inside the write batch, for the web pages and the command
/// line and for a mode another process entered a moment ago.
async fn refuse_changes_in_emergency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::GET
        && let Some(mode) = state.store.emergency().current()
    {
        let route = request.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
        let method = request.method().as_str().to_ascii_lowercase();
        if !crate::openapi::OPEN_IN_EMERGENCY.iter().any(|(m, p)| *m == method && *p == route) {
            return ApiError::read_only(&mode).into_response();
        }
    }
    next.run(request).await
}

/// Unknown paths: a problem for API clients, a 404 page for people.
async fn no_route(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") { ApiError::no_route().into_response() } else { WebError::Api(ApiError::no_route()).into_response() }
}

/// The policy of the web pages: their own stylesheet, script and images, forms posted only to
/// kiroku, never framed; no inline script or style, so injected markup cannot run.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Everything else (JSON, files) is never a document that loads anything.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Security headers on every response, and the response counted for /metrics.
async fn secure_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await.into_response();
    state.metrics.count_response(response.status().as_u16());
    let is_html = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &str); 6] = [
        (header::CONTENT_SECURITY_POLICY, if is_html { PAGE_CSP } else { API_CSP }),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Patient data must not linger in shared caches or the browser's disk cache.
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    // Served over TLS: browsers must not come back over plain http for a year.
    if state.settings.tls.is_some() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}
