//! Administration: accounts (create, disable/enable, unlock, reset password) and the permission
//! matrix. The same functions as the API's make the changes, so both are audited alike.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_core::access::Grant;
use kiroku_core::{InfoClass, Permission, Role, Timestamp, Username};
use kiroku_store::Command;
use serde::Deserialize;

use super::page::*;
use crate::AppState;
use crate::api::users::{create_user, set_role_grants};
use crate::error::ApiError;

/// An account as a line of the list.
pub struct UserRow {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub disabled: bool,
    pub locked: bool,
    pub must_change: bool,
    pub last_login: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    /// Shown once after creating an account or resetting a password.
    created: Option<(String, String, bool)>,
}

async fn users_page(state: &AppState, s: WebSession, created: Option<(String, String, bool)>) -> Result<Response, WebError> {
    let users = state.store.execute(Command::ListUsers { actor: s.auth.actor }).await?.into_users()?;
    let c = s.chrome;
    let now = Timestamp::now();
    let users = users
        .iter()
        .map(|u| UserRow {
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            role: c.lang.role(u.role),
            disabled: u.disabled,
            locked: u.is_locked(now),
            must_change: u.must_change_password,
            last_login: u.last_login_at.map(jst).unwrap_or_default(),
        })
        .collect();
    let roles = Role::ALL.iter().map(|r| (r.as_str(), c.lang.role(*r))).collect();
    render(&UsersPage { c, users, roles, created })
}

pub async fn users(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    users_page(&state, s, None).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
}

/// Creates an account with a generated one-time password, shown once on the answer page.
pub async fn create(State(state): State<AppState>, post: WebPost<NewUserForm>) -> Result<Response, WebError> {
    let f = post.form;
    let username = Username::parse(f.username.trim()).map_err(ApiError::from)?;
    let role: Role = f.role.parse().map_err(ApiError::from)?;
    let actor = post.session.auth.actor.clone();
    let (user, initial) = create_user(&state, actor, username, &f.display_name, role, None).await?;
    let shown = initial.map(|pw| (user.username.to_string(), pw, false));
    users_page(&state, post.session, shown).await
}

#[derive(Deserialize)]
pub struct UserActionForm {
    #[serde(default)]
    action: String,
}

/// Disable, enable, unlock or reset the password of one account.
pub async fn user_action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    post: WebPost<UserActionForm>,
) -> Result<Response, WebError> {
    let username = Username::parse(name).map_err(|_| ApiError::not_found("user"))?;
    let actor = post.session.auth.actor.clone();
    let command = match post.form.action.as_str() {
        "disable" | "enable" => {
            let disabled = Some(post.form.action == "disable");
            Command::UpdateUser { actor, username, display_name: None, role: None, disabled }
        }
        "unlock" => Command::UnlockUser { actor, username },
        "reset" => {
            let pw = kiroku_auth::token::one_time_password();
            let hash = hash(pw.clone()).await?;
            let user = state.store.execute(Command::ResetPassword { actor, username, new_hash: hash }).await?.into_user()?;
            return users_page(&state, post.session, Some((user.username.to_string(), pw, true))).await;
        }
        _ => return Err(WebError::Api(ApiError::validation("action", "unknown value"))),
    };
    state.store.execute(command).await?;
    Ok(see_other("/admin/users"))
}

async fn hash(pw: String) -> Result<String, WebError> {
    let hashed = tokio::task::spawn_blocking(move || kiroku_auth::password::hash(&pw)).await.map_err(|_| ApiError::internal())?;
    Ok(hashed.map_err(|_| ApiError::internal())?)
}

/// One row of the matrix page: a role and whether it holds each grant, in the order of the columns.
pub struct MatrixRow {
    pub label: &'static str,
    pub cells: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    c: Chrome,
    columns: Vec<(&'static str, bool)>,
    rows: Vec<MatrixRow>,
    saved: bool,
}

fn all_grants() -> Vec<Grant> {
    Permission::ALL.iter().map(|p| Grant::Permission(*p)).chain(InfoClass::ALL.iter().map(|c| Grant::Class(*c))).collect()
}

async fn roles_page(state: &AppState, s: WebSession, saved: bool) -> Result<Response, WebError> {
    let matrix = state.store.execute(Command::ReadMatrix { actor: s.auth.actor }).await?.into_matrix()?;
    let c = s.chrome;
    let grants = all_grants();
    let columns = grants
        .iter()
        .map(|g| match g {
            Grant::Permission(p) => (c.lang.permission(*p), false),
            Grant::Class(k) => (c.lang.class(*k), true),
        })
        .collect();
    let rows = Role::ALL
        .iter()
        .map(|r| MatrixRow {
            label: c.lang.role(*r),
            cells: grants.iter().map(|g| (format!("{}:{}", r.as_str(), g.key()), matrix.has(*r, *g))).collect(),
        })
        .collect();
    render(&RolesPage { c, columns, rows, saved })
}

pub async fn roles(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    roles_page(&state, s, false).await
}

/// Saves the whole matrix: every checked box is a grant; each change is its own audited command.
pub async fn save_roles(State(state): State<AppState>, post: WebPost<Vec<(String, String)>>) -> Result<Response, WebError> {
    let checked: Vec<&str> = post.form.iter().filter(|(k, _)| k == "grant").map(|(_, v)| v.as_str()).collect();
    let actor = post.session.auth.actor.clone();
    for role in Role::ALL {
        let wanted: Vec<Grant> =
            all_grants().into_iter().filter(|g| checked.contains(&format!("{}:{}", role.as_str(), g.key()).as_str())).collect();
        set_role_grants(&state, &actor, *role, &wanted).await?;
    }
    roles_page(&state, post.session, true).await
}
