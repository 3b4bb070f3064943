//! The access trail as FHIR R4 AuditEvent NDJSON (IHE BALP), for the audit officer to hand to a
//! FHIR audit repository or an analysis tool. Every page read is an audited export, like the CSV.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kiroku_core::AuditEvent;
use kiroku_store::{Actor, AuditFilter, Command};
use serde::Deserialize;

use crate::AppState;
use crate::api::audit::{short, time};
use crate::error::ApiResult;
use crate::session::{ApiQuery as Query, Authenticated};

/// Events per store query; each page is one audited `audit_export` event.
const PAGE: i64 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FhirParams {
    from: Option<String>,
    to: Option<String>,
    patient_id: Option<String>,
    user: Option<String>,
}

async fn page(state: &AppState, actor: &Actor, filter: AuditFilter) -> Result<Vec<AuditEvent>, kiroku_store::StoreError> {
    state.store.execute(Command::QueryAudit { actor: actor.clone(), filter, limit: PAGE, export: true }).await?.into_audit()
}

fn ndjson(events: &[AuditEvent], source: &str) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * 1_200);
    for e in events {
        // Serialising a Value built from strings and numbers cannot fail.
        if serde_json::to_writer(&mut out, &kiroku_interop::fhir::audit_event(e, source, None)).is_ok() {
            out.push(b'\n');
        }
    }
    Bytes::from(out)
}

/// `GET /api/v1/audit/export/fhir`: one AuditEvent per line, newest first. The first page is read
/// before answering, so a refusal is a proper problem; later pages stream as they are read.
pub async fn fhir(State(state): State<AppState>, auth: Authenticated, Query(p): Query<FhirParams>) -> ApiResult<Response> {
    let filter = AuditFilter {
        patient_id: short("patient_id", p.patient_id)?,
        user: short("user", p.user)?,
        from: time("from", p.from)?,
        to: time("to", p.to)?,
        ..AuditFilter::default()
    };
    let first = page(&state, &auth.actor, filter.clone()).await?;
    let source = state.settings.audit_source.clone();
    let head = ndjson(&first, &source);
    // The id of the oldest event sent so far, while a full page says there may be more.
    let next = (first.len() as i64 == PAGE).then(|| first.last().map(|e| e.id)).flatten();
    let rest = futures::stream::unfold(next, move |before| {
        let (state, actor, filter, source) = (state.clone(), auth.actor.clone(), filter.clone(), source.clone());
        async move {
            let before = before?;
            match page(&state, &actor, AuditFilter { before: Some(before), ..filter }).await {
                Ok(events) => {
                    let next = (events.len() as i64 == PAGE).then(|| events.last().map(|e| e.id)).flatten();
                    Some((Ok::<Bytes, std::io::Error>(ndjson(&events, &source)), next))
                }
                Err(e) => {
                    // Too late for a problem response: cut the stream so the client sees it incomplete.
                    tracing::error!(error = %e, "FHIR audit export failed after the first page");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    let body = Body::from_stream(futures::StreamExt::chain(futures::stream::once(async move { Ok(head) }), rest));
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+ndjson"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"kiroku-audit.ndjson\""));
    Ok(response)
}
