//! The audit officer's periodic review: the report of a past period, and its sign-off.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_core::Timestamp;
use kiroku_store::Command;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiQuery as Query, Authenticated};

fn time(field: &str, v: &str) -> ApiResult<Timestamp> {
    Timestamp::parse_rfc3339(v).ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 time such as 2026-11-01T00:00:00+09:00"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    from: String,
    to: String,
}

pub async fn report(State(state): State<AppState>, auth: Authenticated, Query(p): Query<Period>) -> ApiResult<Json<Value>> {
    let (from, to) = (time("from", &p.from)?, time("to", &p.to)?);
    let hours = state.settings.business_hours;
    let report = state.store.execute(Command::AuditReview { actor: auth.actor, from, to, hours }).await?.into_review()?;
    let hash = kiroku_store::review::report_hash(&report);
    let mut body = json!(report);
    body["report_hash"] = json!(hash);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOff {
    from: String,
    to: String,
    report_hash: String,
    #[serde(default)]
    comment: String,
}

pub async fn sign_off(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<SignOff>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (from, to) = (time("from", &req.from)?, time("to", &req.to)?);
    let command = Command::SignOffReview {
        actor: auth.actor,
        from,
        to,
        hours: state.settings.business_hours,
        report_hash: req.report_hash,
        comment: req.comment,
    };
    let events = state.store.execute(command).await?.into_audit()?;
    Ok((StatusCode::CREATED, Json(json!({ "signed_off": events.first() }))))
}
