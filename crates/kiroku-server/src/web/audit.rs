//! The audit trail viewer for the audit officer (監査責任者): filters by patient, user, action and
//! period (dates in JST), paging to older events, and the CSV download the API also offers.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use kiroku_core::{AuditAction, AuditEvent, Timestamp};
use kiroku_store::{AuditFilter, Command};
use serde::Deserialize;

use super::page::*;
use crate::AppState;
use crate::api::audit::to_csv;
use crate::error::ApiError;

const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
struct AuditQuery {
    patient_id: Option<String>,
    user: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

impl AuditQuery {
    /// The store's filter: a "to" date includes that whole day, both read as JST calendar days.
    fn filter(&self) -> Result<AuditFilter, WebError> {
        let text = |v: &Option<String>, field: &str| -> Result<Option<String>, WebError> {
            match v.as_deref().map(str::trim) {
                Some(s) if s.len() > 64 => Err(WebError::Api(ApiError::validation(field, "must be at most 64 characters"))),
                Some("") | None => Ok(None),
                Some(s) => Ok(Some(s.to_string())),
            }
        };
        let action = match self.action.as_deref().filter(|a| !a.is_empty()) {
            Some(a) => Some(AuditAction::parse(a).ok_or_else(|| ApiError::validation("action", "unknown value"))?),
            None => None,
        };
        let cursor = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(c.parse::<i64>().map_err(|_| ApiError::validation("cursor", "must be a number"))?),
            None => None,
        };
        Ok(AuditFilter {
            patient_id: text(&self.patient_id, "patient_id")?,
            user: text(&self.user, "user")?,
            action,
            outcome: None,
            document_id: None,
            from: jst_day(self.from.as_deref(), "from", 0)?,
            to: jst_day(self.to.as_deref(), "to", 1)?,
            before: cursor,
        })
    }

    /// The filters as a query string, for the CSV link and the next page.
    fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> =
            [("patient_id", &self.patient_id), ("user", &self.user), ("action", &self.action), ("from", &self.from), ("to", &self.to)]
                .into_iter()
                .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
                .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// Midnight JST of a `YYYY-MM-DD` date, plus `days`.
fn jst_day(v: Option<&str>, field: &str, days: i64) -> Result<Option<Timestamp>, WebError> {
    let Some(s) = v.filter(|s| !s.is_empty()) else { return Ok(None) };
    let t = Timestamp::parse_rfc3339(&format!("{s}T00:00:00+09:00"))
        .ok_or_else(|| WebError::Api(ApiError::validation(field, "must be a date as YYYY-MM-DD")))?;
    Ok(Some(t.plus_seconds(days * 86_400)))
}

/// An audit event as a line of the table.
pub struct EventRow {
    pub id: i64,
    pub time: String,
    pub user: String,
    pub role: String,
    pub action: &'static str,
    pub outcome: &'static str,
    pub outcome_key: &'static str,
    pub patient_id: String,
    pub document_id: String,
    pub version: String,
    pub client: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    q_patient: String,
    q_user: String,
    q_action: String,
    q_from: String,
    q_to: String,
    actions: Vec<(&'static str, &'static str)>,
    events: Vec<EventRow>,
    query: String,
    next: Option<i64>,
    /// The log's public key, for the audit officer to write down or hand to a witness.
    log_key: String,
    /// "size N, JST time" of the newest signed checkpoint.
    checkpoint: String,
}

pub async fn view(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let q: AuditQuery = parse_query(&uri)?;
    let filter = q.filter()?;
    let events =
        state.store.execute(Command::QueryAudit { actor: s.auth.actor, filter, limit: PAGE, export: false }).await?.into_audit()?;
    let c = s.chrome;
    let next = (events.len() as i64 == PAGE).then(|| events.last().map(|e| e.id)).flatten();
    let rows = events.iter().map(|e| row(&c, e)).collect();
    let actions = AuditAction::ALL.iter().map(|a| (a.as_str(), c.lang.action(*a))).collect();
    let some = |v: &Option<String>| v.clone().unwrap_or_default();
    let page = AuditPage {
        q_patient: some(&q.patient_id),
        q_user: some(&q.user),
        q_action: some(&q.action),
        q_from: some(&q.from),
        q_to: some(&q.to),
        query: q.query_string(),
        actions,
        events: rows,
        next,
        log_key: state.log_key.as_ref().map(|k| k.verifier().encode()).unwrap_or_default(),
        checkpoint: match state.store.latest_checkpoint().await? {
            Some(cp) => format!("size {} / {}", cp.size, super::page::jst(cp.time)),
            None => c.t("audit.checkpoint_none").to_string(),
        },
        c,
    };
    render(&page)
}

fn row(c: &Chrome, e: &AuditEvent) -> EventRow {
    EventRow {
        id: e.id,
        time: jst(e.time),
        user: e.user.clone().unwrap_or_default(),
        role: e.role.as_deref().and_then(|r| r.parse().ok()).map(|r| c.lang.role(r)).unwrap_or_default().to_string(),
        action: c.lang.action(e.action),
        outcome: c.t(&format!("outcome.{}", e.outcome.as_str())),
        outcome_key: e.outcome.as_str(),
        patient_id: e.patient_id.clone().unwrap_or_default(),
        document_id: e.document_id.clone().unwrap_or_default(),
        version: e.version.map(|v| v.to_string()).unwrap_or_default(),
        client: e.client_addr.clone().unwrap_or_default(),
        detail: e.detail.clone().unwrap_or_default(),
    }
}

/// The filtered events as CSV, recorded as an export like the API's `format=csv`.
pub async fn csv(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let q: AuditQuery = parse_query(&uri)?;
    let filter = q.filter()?;
    let events =
        state.store.execute(Command::QueryAudit { actor: s.auth.actor, filter, limit: 10_000, export: true }).await?.into_audit()?;
    let mut response = to_csv(&events).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"kiroku-audit.csv\""));
    Ok(response)
}
