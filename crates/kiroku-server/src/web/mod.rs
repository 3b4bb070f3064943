//! The web UI: server-rendered pages in Japanese (English on request) for clinicians, clerks,
//! administrators and auditors, served by the same process as the API.
//!
//! Pages use the API's sessions through an HttpOnly, SameSite=Strict cookie and the same store
//! commands, so reads stay audited and rules are decided once. Every POST form carries a CSRF token
//! derived from the session token. Templates (askama, checked at compile time) live in
//! `templates/`; the stylesheet and one small script are embedded from `static/`, and the pages
//! carry no inline script, so the CSP can forbid it.

mod account;
mod accounts;
mod admin;
mod audit;
mod auth;
mod break_glass;
mod checklist;
pub(crate) mod diff;
mod documents;
mod governance;
pub mod i18n;
mod ledgers;
mod operations;
pub mod page;
mod patients;
mod scan;
mod signatures;
mod webauthn;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

/// The pages' routes; merged into the application's router beside `/api`.
pub fn router(state: &AppState) -> Router<AppState> {
    // Multipart uploads are limited by the upload setting, plus room for the form's other fields.
    let upload_limit = usize::try_from(state.settings.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    Router::new()
        .route("/", get(auth::root))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/password", get(auth::password_form).post(auth::change_password))
        .route("/login/second-factor", get(account::second_factor_form).post(account::second_factor))
        .route("/account/totp", get(account::totp_intro))
        .route("/account/totp/start", post(account::totp_start))
        .route("/account/totp/confirm", post(account::totp_confirm))
        .route("/account/security", get(account::security))
        .route("/account/sessions/{id}/revoke", post(account::revoke_session))
        .route("/account/second-factors/{id}/remove", post(account::remove_factor))
        .route("/account/webauthn/options", post(webauthn::register_options))
        .route("/account/webauthn", post(webauthn::register))
        .route("/login/second-factor/webauthn/options", post(webauthn::login_options))
        .route("/login/second-factor/webauthn", post(webauthn::login))
        .route("/admin/mfa", get(account::mfa).post(account::save_mfa))
        .route("/admin/break-glass", get(break_glass::view).post(break_glass::create))
        .route("/admin/break-glass/{username}/reseal", post(break_glass::reseal))
        .route("/admin/work-orders", get(accounts::work_orders).post(accounts::create_order))
        .route("/admin/work-orders/{id}", get(accounts::work_order))
        .route("/admin/work-orders/{id}/signoff", post(accounts::sign_off_order))
        .route("/admin/api-tokens", get(accounts::api_tokens).post(accounts::create_token))
        .route("/admin/api-tokens/{id}/revoke", post(accounts::revoke_token))
        .route("/admin/factor-resets", get(accounts::factor_resets).post(accounts::issue_reset))
        .route("/admin/factor-resets/{id}/approve", post(accounts::approve_reset))
        .route("/login/factor-reset", get(accounts::use_reset_form).post(accounts::use_reset))
        .route("/admin/access-review", get(accounts::access_review))
        .route("/admin/access-review/signoff", post(accounts::sign_off_review))
        .route("/admin/access-review/{username}/disable", post(accounts::disable))
        .route("/admin/access-review/{username}/left", post(accounts::mark_left))
        .route("/lang/{code}", get(auth::set_lang))
        .route("/patients", get(patients::search).post(patients::register))
        .route("/patients/{patient_id}", get(patients::chart))
        .route("/patients/{patient_id}/print", get(patients::print_record))
        .route("/patients/{patient_id}/documents/new", get(documents::new_form))
        .route("/patients/{patient_id}/documents", post(documents::create))
        .route("/documents/{id}", get(documents::view))
        .route("/documents/{id}/edit", get(documents::edit_form).post(documents::edit))
        .route("/documents/{id}/confirm", get(documents::confirm_form).post(documents::confirm))
        .route("/documents/{id}/approve", post(documents::approve))
        .route("/documents/{id}/delete", get(documents::delete_form).post(documents::delete))
        .route("/documents/{id}/history", get(documents::history))
        .route("/documents/{id}/attachments", post(documents::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/documents/{id}/attachments/{attachment_id}", get(documents::download))
        .route("/documents/{id}/versions/{n}/signatures", get(signatures::view).post(signatures::sign))
        .route("/patients/{patient_id}/scan", get(scan::patient))
        .route("/patients/{patient_id}/scan/papers", post(scan::receive))
        .route("/patients/{patient_id}/scan/upload", post(scan::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/patients/{patient_id}/scan/{item}", get(scan::item))
        .route("/patients/{patient_id}/scan/{item}/sign", post(scan::sign))
        .route("/patients/{patient_id}/scan/{item}/original", post(scan::original))
        .route("/scan", get(scan::register))
        .route("/scan/overdue", get(scan::overdue))
        .route("/scan/originals", get(scan::originals))
        .route("/scan/types", get(scan::types).post(scan::save_type))
        .route("/scan/types/{code}", get(scan::edit_type))
        .route("/approvals", get(documents::approvals))
        .route("/admin/timestamps", get(signatures::timestamps))
        .route("/admin/users", get(admin::users).post(admin::create))
        .route("/admin/users/{username}", post(admin::user_action))
        .route("/admin/roles", get(admin::roles).post(admin::save_roles))
        .route("/admin/status", get(operations::status))
        .route("/admin/status/emergency", post(operations::switch_emergency))
        .route("/admin/locations", get(operations::locations).post(operations::add_location))
        .route("/admin/locations/{id}", get(operations::location).post(operations::change_location))
        .route("/admin/governance/checklist", get(checklist::view))
        .route("/admin/governance/checklist.csv", get(checklist::csv))
        .route("/admin/governance/checklist.pdf", get(checklist::pdf))
        .route("/admin/governance/checklist/print", get(checklist::print))
        .route("/admin/governance/checklist/signoff", post(checklist::sign_off))
        .route("/admin/governance/checklist/attest", post(checklist::attest))
        .route("/admin/governance/oscal/{name}", get(checklist::oscal))
        .route("/admin/governance/disclosure", get(checklist::disclosure))
        .route("/admin/governance/split", get(checklist::split))
        .route("/admin/governance/profile", get(governance::profile).post(governance::save_profile))
        .route("/admin/governance/regulation", get(governance::regulation))
        .route("/admin/governance/regulation/generate", post(governance::generate))
        .route("/admin/governance/regulation/{revision}/approve", post(governance::approve))
        .route("/admin/governance/regulation/{revision}/{format}", get(governance::download))
        .route("/admin/governance/ledgers", get(ledgers::index))
        .route("/admin/governance/ledgers/{kind}", get(ledgers::list).post(ledgers::create))
        .route("/admin/governance/ledgers/{kind}/new", get(ledgers::new_form))
        .route("/admin/governance/ledgers/{kind}/{id}", get(ledgers::view))
        .route("/admin/governance/ledgers/{kind}/{id}/edit", get(ledgers::edit_form).post(ledgers::revise))
        .route("/admin/governance/ledgers/{kind}/{id}/events", post(ledgers::event))
        .route("/admin/governance/ledgers/{kind}/{id}/attachments", post(ledgers::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/admin/governance/ledgers/{kind}/{id}/attachments/{attachment_id}", get(ledgers::download))
        .route("/admin/governance/duties", get(ledgers::duties))
        .route("/audit", get(audit::view))
        .route("/audit/export.csv", get(audit::csv))
        .route("/static/kiroku.css", get(|| async { asset("text/css; charset=utf-8", include_str!("../../static/kiroku.css")) }))
        .route("/static/kiroku.js", get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/kiroku.js")) }))
        .route("/static/webauthn.js", get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/webauthn.js")) }))
}

/// An embedded asset; the browser may keep it for an hour (it holds no patient data).
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    r
}
