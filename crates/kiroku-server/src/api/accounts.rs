//! Account governance (T1-5.3, T1-7.4, T1-4.2, T2-1.1): vendor work orders with the supervisor's
//! check-off list, API tokens of integrations, resets of lost second factors approved by a second
//! administrator, and the access review with leavers and its sign-off. Every rule is the store's;
//! these handlers and their shared functions (used by the pages too) only shape input and output.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_auth::token;
use kiroku_core::identity::{AccountKind, SessionStage};
use kiroku_core::maintenance::WorkOrder;
use kiroku_core::{InfoClass, Permission, Role, Scope, Timestamp, Username};
use kiroku_store::{Actor, ApiTokenRecord, Command, FactorResetRecord, UserRecord, WorkOrderStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::users::hash_blocking;
use crate::error::{ApiError, ApiResult};
use crate::session::{API_TOKEN_PREFIX, ApiJson, ApiPath, ApiQuery, Authenticated, PendingSession};

fn username(raw: &str, field: &'static str) -> ApiResult<Username> {
    Username::parse(raw.trim()).map_err(|e| ApiError::validation(field, e.to_string()))
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A scope from what was typed; clinical content only with `allow_clinical`.
fn scope_of(permissions: &[Permission], classes: &[InfoClass], allow_clinical: bool) -> ApiResult<Scope> {
    Ok(Scope::new(permissions.iter().copied(), classes.iter().copied(), allow_clinical)?)
}

// ----- work orders -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkOrder {
    /// The maintenance account; created when it does not exist yet.
    pub account: String,
    #[serde(default)]
    pub account_display_name: Option<String>,
    pub vendor: String,
    pub purpose: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub classes: Vec<InfoClass>,
    /// Clinical content (patients' records) is in the scope only when this is set.
    #[serde(default)]
    pub allow_clinical: bool,
    #[serde(default)]
    pub networks: Vec<String>,
    pub supervisor: String,
}

/// Creates a work order, and its maintenance account (with a one-time password, answered once)
/// when the account does not exist yet. Shared by the API and the page.
pub async fn create_work_order(state: &AppState, actor: Actor, req: NewWorkOrder) -> ApiResult<(WorkOrderStatus, Option<String>)> {
    let account = username(&req.account, "account")?;
    let supervisor = username(&req.supervisor, "supervisor")?;
    let (new_account, password) = if state.store.user(account.as_str()).await?.is_none() {
        let password = token::one_time_password();
        let hash = hash_blocking(password.clone()).await?;
        let display = req.account_display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| req.vendor.clone());
        // Vendors act by the order's scope; the role only decides which [network] list and
        // second-factor policy apply to them: those of administrators.
        let mut user = UserRecord::new(account.clone(), display.trim().to_string(), Role::Admin, hash, Timestamp::now());
        user.kind = AccountKind::Maintenance;
        (Some(user), Some(password))
    } else {
        (None, None)
    };
    let order = WorkOrder {
        id: new_id(),
        account,
        vendor: req.vendor.trim().to_string(),
        purpose: req.purpose.trim().to_string(),
        starts_at: req.starts_at,
        ends_at: req.ends_at,
        scope: scope_of(&req.permissions, &req.classes, req.allow_clinical)?,
        networks: req.networks.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect(),
        supervisor,
        created_by: String::new(),
        created_at: Timestamp::now(),
        seq: 0,
    };
    let created = state.store.execute(Command::CreateWorkOrder { actor, order, account: new_account }).await?.into_work_orders()?;
    let status = created.into_iter().next().ok_or_else(ApiError::internal)?;
    Ok((status, password))
}

pub async fn create_order(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewWorkOrder>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (status, password) = create_work_order(&state, auth.actor, req).await?;
    let mut body = json!({ "work_order": status.order });
    if let Some(pw) = password {
        body["account_initial_password"] = json!(pw);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn list_orders(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let orders = state.store.execute(Command::ListWorkOrders { actor: auth.actor }).await?.into_work_orders()?;
    Ok(Json(json!({ "work_orders": orders })))
}

pub async fn order_report(State(state): State<AppState>, auth: Authenticated, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    let report = state.store.execute(Command::WorkOrderReport { actor: auth.actor, id }).await?.into_work_order_report()?;
    Ok(Json(json!(report)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOff {
    report_hash: String,
    #[serde(default)]
    comment: String,
}

pub async fn sign_off_order(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SignOff>,
) -> ApiResult<Json<Value>> {
    let command = Command::SignOffWorkOrder { actor: auth.actor, id, report_hash: req.report_hash, comment: req.comment };
    let report = state.store.execute(command).await?.into_work_order_report()?;
    Ok(Json(json!({ "signed_off": true, "signoff": report.signoff })))
}

// ----- API tokens -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// The token's name, which is also its service account's user name.
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub classes: Vec<InfoClass>,
    #[serde(default)]
    pub allow_clinical: bool,
    pub expires_at: Timestamp,
}

/// Issues a token; answers its record and the token itself, shown only now.
pub async fn create_api_token(state: &AppState, actor: Actor, req: NewApiToken) -> ApiResult<(ApiTokenRecord, String)> {
    let name = username(&req.name, "name")?;
    let account = if state.store.user(name.as_str()).await?.is_none() {
        let display = req.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| name.to_string());
        // No password can match "!": a service account never logs in.
        let mut user = UserRecord::new(name.clone(), display.trim().to_string(), Role::Admin, "!".into(), Timestamp::now());
        user.kind = AccountKind::Service;
        user.must_change_password = false;
        Some(user)
    } else {
        None
    };
    let secret = format!("{API_TOKEN_PREFIX}{}", token::random_token(32));
    let record = ApiTokenRecord {
        id: new_id(),
        username: name,
        token_hash: token::hash_token(&secret),
        scope: scope_of(&req.permissions, &req.classes, req.allow_clinical)?,
        expires_at: req.expires_at,
        created_by: String::new(),
        created_at: Timestamp::now(),
        revoked_at: None,
        revoked_by: None,
        last_used_at: None,
    };
    let created = state.store.execute(Command::CreateApiToken { actor, token: record, account }).await?.into_api_tokens()?;
    Ok((created.into_iter().next().ok_or_else(ApiError::internal)?, secret))
}

pub async fn create_token(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewApiToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (record, secret) = create_api_token(&state, auth.actor, req).await?;
    Ok((StatusCode::CREATED, Json(json!({ "api_token": record, "token": secret }))))
}

pub async fn list_tokens(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let tokens = state.store.execute(Command::ListApiTokens { actor: auth.actor }).await?.into_api_tokens()?;
    Ok(Json(json!({ "api_tokens": tokens })))
}

pub async fn revoke_token(State(state): State<AppState>, auth: Authenticated, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    state.store.execute(Command::RevokeApiToken { actor: auth.actor, id }).await?;
    Ok(Json(json!({ "revoked": true })))
}

// ----- second-factor resets -----

/// Issues a reset of a user's second factors; answers it and its code, shown only now.
pub async fn issue_factor_reset(state: &AppState, actor: Actor, user: &str) -> ApiResult<(FactorResetRecord, String)> {
    let username = Username::parse(user.trim()).map_err(|_| ApiError::not_found("user"))?;
    let code = token::random_token(15);
    let now = Timestamp::now();
    let reset = FactorResetRecord {
        id: new_id(),
        username,
        code_hash: token::hash_token(&code),
        issued_by: String::new(),
        issued_at: now,
        expires_at: now,
        approved_by: None,
        approved_at: None,
        used_at: None,
    };
    let issued = state.store.execute(Command::IssueFactorReset { actor, reset }).await?.into_factor_resets()?;
    Ok((issued.into_iter().next().ok_or_else(ApiError::internal)?, code))
}

pub async fn issue_reset(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (reset, code) = issue_factor_reset(&state, auth.actor, &user).await?;
    Ok((StatusCode::CREATED, Json(json!({ "factor_reset": reset, "code": code }))))
}

pub async fn list_resets(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let resets = state.store.execute(Command::ListFactorResets { actor: auth.actor }).await?.into_factor_resets()?;
    Ok(Json(json!({ "factor_resets": resets })))
}

pub async fn approve_reset(State(state): State<AppState>, auth: Authenticated, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    let approved = state.store.execute(Command::ApproveFactorReset { actor: auth.actor, id }).await?.into_factor_resets()?;
    Ok(Json(json!({ "factor_reset": approved.first() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetCode {
    code: String,
}

/// Uses an approved reset at the second step of a login; the session must enrol a new factor.
pub async fn use_factor_reset(state: &AppState, actor: Actor, code: &str) -> ApiResult<()> {
    let code_hash = token::hash_token(code.trim());
    state.store.execute(Command::UseFactorReset { actor, code_hash }).await?;
    Ok(())
}

pub async fn use_reset(
    State(state): State<AppState>,
    PendingSession(auth): PendingSession,
    ApiJson(req): ApiJson<ResetCode>,
) -> ApiResult<Json<Value>> {
    use_factor_reset(&state, auth.actor, &req.code).await?;
    Ok(Json(json!({ "stage": SessionStage::Enrol, "enrolment_required": true })))
}

// ----- access review -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    #[serde(default = "default_unused_days")]
    pub unused_days: i64,
}

pub fn default_unused_days() -> i64 {
    90
}

pub async fn access_review(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> ApiResult<Json<Value>> {
    let report =
        state.store.execute(Command::AccessReview { actor: auth.actor, unused_days: q.unused_days }).await?.into_access_report()?;
    let hash = kiroku_store::review::hash_of(&report);
    Ok(Json(json!({ "unused_days": report.unused_days, "accounts": report.accounts, "report_hash": hash })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSignOff {
    #[serde(default = "default_unused_days")]
    unused_days: i64,
    report_hash: String,
    #[serde(default)]
    comment: String,
}

pub async fn sign_off_access_review(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<ReviewSignOff>,
) -> ApiResult<Json<Value>> {
    let command = Command::SignOffAccessReview {
        actor: auth.actor,
        unused_days: req.unused_days,
        report_hash: req.report_hash,
        comment: req.comment,
    };
    let events = state.store.execute(command).await?.into_audit()?;
    Ok(Json(json!({ "signed_off": true, "event": events.first() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Left {
    left_on: String,
}

pub async fn mark_left(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(user): ApiPath<String>,
    ApiJson(req): ApiJson<Left>,
) -> ApiResult<Json<Value>> {
    let username = Username::parse(&user).map_err(|_| ApiError::not_found("user"))?;
    state.store.execute(Command::MarkLeft { actor: auth.actor, username, left_on: req.left_on.trim().to_string() }).await?;
    Ok(Json(json!({ "left": true })))
}
