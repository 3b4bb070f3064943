//! The audit trail for the audit officer (監査責任者): filtered, cursor-paged, CSV for download.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kiroku_core::{AuditAction, AuditEvent, Outcome, Timestamp};
use kiroku_store::{AuditFilter, Command};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiQuery as Query, Authenticated};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    patient_id: Option<String>,
    user: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    document_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<i64>,
    limit: Option<i64>,
    format: Option<String>,
}

pub(crate) fn time(field: &str, v: Option<String>) -> ApiResult<Option<Timestamp>> {
    v.map(|s| {
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 time such as 2026-11-25T09:00:00+09:00"))
    })
    .transpose()
}

pub(crate) fn short(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    match v {
        Some(s) if s.len() > 64 => Err(ApiError::validation(field, "must be at most 64 characters")),
        other => Ok(other.filter(|s| !s.is_empty())),
    }
}

pub async fn query(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    Query(p): Query<AuditParams>,
) -> ApiResult<Response> {
    let action = p
        .action
        .filter(|s| !s.is_empty())
        .map(|a| AuditAction::parse(&a).ok_or_else(|| ApiError::validation("action", "unknown action")))
        .transpose()?;
    let outcome = p
        .outcome
        .filter(|s| !s.is_empty())
        .map(|o| Outcome::parse(&o).ok_or_else(|| ApiError::validation("outcome", "must be success, denied or failed")))
        .transpose()?;
    let csv = p.format.as_deref() == Some("csv")
        || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/csv"));
    let limit = match p.limit {
        Some(n) if !(1..=10_000).contains(&n) => return Err(ApiError::validation("limit", "must be between 1 and 10000")),
        Some(n) => n,
        None if csv => 10_000,
        None => 100,
    };
    let filter = AuditFilter {
        patient_id: short("patient_id", p.patient_id)?,
        user: short("user", p.user)?,
        action,
        outcome,
        document_id: short("document_id", p.document_id)?,
        from: time("from", p.from)?,
        to: time("to", p.to)?,
        before: p.cursor,
    };
    let events = state.store.execute(Command::QueryAudit { actor: auth.actor, filter, limit, export: csv }).await?.into_audit()?;
    let next_cursor = (events.len() as i64 == limit).then(|| events.last().map(|e| e.id)).flatten();
    if csv {
        let mut response = to_csv(&events).into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"kiroku-audit.csv\""));
        if let Some(c) = next_cursor.and_then(|c| HeaderValue::from_str(&c.to_string()).ok()) {
            h.insert("x-next-cursor", c);
        }
        return Ok(response);
    }
    Ok(Json(json!({ "events": events, "next_cursor": next_cursor })).into_response())
}

/// RFC 4180 CSV with a BOM so that spreadsheet software reads the Japanese correctly. Cells that a
/// spreadsheet would run as a formula are prefixed with a quote.
pub fn to_csv(events: &[AuditEvent]) -> String {
    let mut out = String::from(
        "\u{feff}id,time_utc,user,role,action,action_ja,outcome,patient_id,document_id,version,client_addr,session,detail,content_hash\r\n",
    );
    for e in events {
        let cells = [
            e.id.to_string(),
            e.time.to_rfc3339(),
            e.user.clone().unwrap_or_default(),
            e.role.clone().unwrap_or_default(),
            e.action.as_str().to_string(),
            e.action.label_ja().to_string(),
            e.outcome.as_str().to_string(),
            e.patient_id.clone().unwrap_or_default(),
            e.document_id.clone().unwrap_or_default(),
            e.version.map(|v| v.to_string()).unwrap_or_default(),
            e.client_addr.clone().unwrap_or_default(),
            e.session.clone().unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
            e.content_hash.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formula_safe() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
