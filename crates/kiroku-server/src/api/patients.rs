//! Patients: registration, search, and the patient record's header.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_core::PatientId;
use kiroku_store::{Command, NewPatient};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, ApiQuery as Query, Authenticated};

/// A patient ID from the path; a malformed one cannot name any patient.
pub fn patient_id(raw: &str) -> ApiResult<PatientId> {
    PatientId::parse(raw).map_err(|_| ApiError::not_found("patient"))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(new): ApiJson<NewPatient>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let patient = state.store.execute(Command::CreatePatient { actor: auth.actor, patient: new }).await?.into_patient()?;
    Ok((StatusCode::CREATED, Json(json!(patient))))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(State(state): State<AppState>, auth: Authenticated, Query(query): Query<SearchQuery>) -> ApiResult<Json<Value>> {
    let patients = state.store.execute(Command::SearchPatients { actor: auth.actor, query: query.q }).await?.into_patients()?;
    Ok(Json(json!({ "patients": patients })))
}

pub async fn get_one(State(state): State<AppState>, auth: Authenticated, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let patient = state.store.execute(Command::ReadPatient { actor: auth.actor, patient_id: patient_id(&raw)? }).await?.into_patient()?;
    Ok(Json(json!(patient)))
}
