//! The administrator's page of break-glass (緊急時) accounts: create one sealed, see which are
//! sealed, in use (with the declared reason) or expired, and re-seal a used one. Passwords are
//! shown once, on the answer page, to be printed and sealed.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_core::{Role, Timestamp};
use kiroku_store::Command;
use serde::Deserialize;

use super::page::*;
use crate::AppState;
use crate::api::break_glass::{create_break_glass, reseal_break_glass};

pub struct SealRow {
    pub username: String,
    pub state: &'static str,
    pub reason: String,
    pub until: String,
}

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    c: Chrome,
    rows: Vec<SealRow>,
    roles: Vec<(&'static str, &'static str)>,
    /// (user name, password) shown once after creating or re-sealing.
    shown: Option<(String, String)>,
}

async fn page(state: &AppState, s: WebSession, shown: Option<(String, String)>) -> Result<Response, WebError> {
    let all = state.store.execute(Command::ListBreakGlass { actor: s.auth.actor.clone() }).await?.into_break_glass()?;
    let now = Timestamp::now();
    let c = s.chrome;
    let rows = all
        .iter()
        .map(|b| SealRow {
            username: b.username.to_string(),
            state: if b.is_active(now) {
                "bg.open"
            } else if b.needs_reseal(now) {
                "bg.expired"
            } else {
                "bg.sealed"
            },
            reason: b.reason.clone().unwrap_or_default(),
            until: b.expires_at.map(jst).unwrap_or_default(),
        })
        .collect();
    let roles = Role::ALL.iter().map(|r| (r.as_str(), c.lang.role(*r))).collect();
    render(&BreakGlassPage { c, rows, roles, shown })
}

pub async fn view(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    page(&state, s, None).await
}

#[derive(Deserialize)]
pub struct NewForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
}

pub async fn create(State(state): State<AppState>, post: WebPost<NewForm>) -> Result<Response, WebError> {
    let f = post.form;
    let role: Role = f.role.parse().map_err(crate::ApiError::from)?;
    let (user, password) = create_break_glass(&state, post.session.auth.actor.clone(), f.username.trim(), &f.display_name, role).await?;
    page(&state, post.session, Some((user.username.to_string(), password))).await
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn reseal(State(state): State<AppState>, Path(name): Path<String>, post: WebPost<Empty>) -> Result<Response, WebError> {
    let password = reseal_break_glass(&state, post.session.auth.actor.clone(), &name).await?;
    page(&state, post.session, Some((name, password))).await
}
