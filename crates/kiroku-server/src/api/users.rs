//! Accounts and the permission matrix (administrators).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_auth::{PolicyContext, password, token};
use kiroku_core::access::Grant;
use kiroku_core::{InfoClass, Permission, PermissionMatrix, Role, Timestamp, Username};
use kiroku_store::{Actor, Command, UserRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::policy_error;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, Authenticated};

fn username(raw: &str) -> ApiResult<Username> {
    Username::parse(raw).map_err(|_| ApiError::not_found("user"))
}

pub async fn list(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let users = state.store.execute(Command::ListUsers { actor: auth.actor }).await?.into_users()?;
    Ok(Json(json!({ "users": users })))
}

pub async fn get_one(State(state): State<AppState>, auth: Authenticated, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let name = username(&name)?;
    let users = state.store.execute(Command::ListUsers { actor: auth.actor }).await?.into_users()?;
    let user = users.into_iter().find(|u| u.username == name).ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(json!(user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: Username,
    display_name: String,
    role: Role,
    /// When absent, a one-time password is generated and returned once.
    password: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (user, generated) = create_user(&state, auth.actor, req.username, &req.display_name, req.role, req.password).await?;
    let mut body = json!(user);
    if let Some(initial) = generated {
        body["initial_password"] = json!(initial);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

/// Creates an account that must change its password at first login; answers the generated one-time
/// password when none was given. Shared by the API and the administration page.
pub async fn create_user(
    state: &AppState,
    actor: Actor,
    username: Username,
    display_name: &str,
    role: Role,
    given: Option<String>,
) -> ApiResult<(UserRecord, Option<String>)> {
    let (initial, generated) = initial_password(state, given, &username, display_name)?;
    let hash = hash_blocking(initial.clone()).await?;
    let now = Timestamp::now();
    let user = UserRecord::new(username, display_name.trim().to_string(), role, hash, now);
    let user = state.store.execute(Command::CreateUser { actor, user }).await?.into_user()?;
    Ok((user, generated.then_some(initial)))
}

/// The password an administrator gives, checked against the policy, or a generated one-time password.
fn initial_password(state: &AppState, given: Option<String>, username: &Username, display_name: &str) -> ApiResult<(String, bool)> {
    match given {
        Some(pw) => {
            let ctx = PolicyContext { username: username.as_str(), display_name, has_second_factor: false };
            state.settings.password_policy.check(&pw, ctx).map_err(|v| policy_error(&v))?;
            Ok((pw, false))
        }
        None => Ok((token::one_time_password(), true)),
    }
}

pub async fn hash_blocking(pw: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || password::hash(&pw)).await.map_err(|_| ApiError::internal())?.map_err(|_| ApiError::internal())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    display_name: Option<String>,
    role: Option<Role>,
    disabled: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<UserChange>,
) -> ApiResult<Json<Value>> {
    let command = Command::UpdateUser {
        actor: auth.actor,
        username: username(&name)?,
        display_name: req.display_name,
        role: req.role,
        disabled: req.disabled,
    };
    Ok(Json(json!(state.store.execute(command).await?.into_user()?)))
}

pub async fn unlock(State(state): State<AppState>, auth: Authenticated, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let user = state.store.execute(Command::UnlockUser { actor: auth.actor, username: username(&name)? }).await?.into_user()?;
    Ok(Json(json!(user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    password: Option<String>,
}

/// An administrator sets a temporary password (for a forgotten one); it must be changed at next login.
pub async fn reset_password(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<PasswordReset>,
) -> ApiResult<Json<Value>> {
    let name = username(&name)?;
    let (initial, generated) = initial_password(&state, req.password, &name, "")?;
    let hash = hash_blocking(initial.clone()).await?;
    let user = state.store.execute(Command::ResetPassword { actor: auth.actor, username: name, new_hash: hash }).await?.into_user()?;
    let mut body = json!(user);
    if generated {
        body["initial_password"] = json!(initial);
    }
    Ok(Json(body))
}

fn matrix_json(m: &PermissionMatrix) -> Value {
    let roles: Vec<Value> = Role::ALL
        .iter()
        .map(|&r| {
            let perms: Vec<&str> = Permission::ALL.iter().filter(|&&p| m.has(r, Grant::Permission(p))).map(|p| p.as_str()).collect();
            let classes: Vec<&str> = InfoClass::ALL.iter().filter(|&&c| m.has(r, Grant::Class(c))).map(|c| c.as_str()).collect();
            json!({ "role": r, "label_ja": r.label_ja(), "permissions": perms, "classes": classes })
        })
        .collect();
    let permissions: Vec<Value> = Permission::ALL.iter().map(|p| json!({ "name": p, "label_ja": p.label_ja() })).collect();
    let classes: Vec<Value> = InfoClass::ALL.iter().map(|c| json!({ "name": c, "label_ja": c.label_ja() })).collect();
    json!({ "roles": roles, "permissions": permissions, "classes": classes })
}

pub async fn roles(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let m = state.store.execute(Command::ReadMatrix { actor: auth.actor }).await?.into_matrix()?;
    Ok(Json(matrix_json(&m)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGrants {
    permissions: Vec<Permission>,
    classes: Vec<InfoClass>,
}

/// Replaces one role's grants; each added or removed grant is its own audited change.
pub async fn set_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(role): Path<String>,
    ApiJson(req): ApiJson<RoleGrants>,
) -> ApiResult<Json<Value>> {
    let role: Role = role.parse().map_err(|_| ApiError::not_found("role"))?;
    let wanted: Vec<Grant> =
        req.permissions.iter().map(|p| Grant::Permission(*p)).chain(req.classes.iter().map(|c| Grant::Class(*c))).collect();
    let matrix = set_role_grants(&state, &auth.actor, role, &wanted).await?;
    Ok(Json(matrix_json(&matrix)))
}

/// Makes one role hold exactly `wanted`; each added or removed grant is its own audited change.
pub async fn set_role_grants(state: &AppState, actor: &Actor, role: Role, wanted: &[Grant]) -> ApiResult<PermissionMatrix> {
    let mut matrix = state.store.execute(Command::ReadMatrix { actor: actor.clone() }).await?.into_matrix()?;
    let all = Permission::ALL.iter().map(|p| Grant::Permission(*p)).chain(InfoClass::ALL.iter().map(|c| Grant::Class(*c)));
    for grant in all {
        let allowed = wanted.contains(&grant);
        if matrix.has(role, grant) != allowed {
            matrix = state.store.execute(Command::SetGrant { actor: actor.clone(), role, grant, allowed }).await?.into_matrix()?;
        }
    }
    Ok(matrix)
}
