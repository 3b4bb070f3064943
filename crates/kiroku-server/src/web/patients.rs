//! Patient search and registration, and the patient's chart (documents in time order).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use kiroku_core::{DocumentStatus, PatientId};
use kiroku_store::{Command, DocumentHead, NewPatient, Patient, Sex};
use serde::Deserialize;

use super::page::*;
use crate::AppState;
use crate::api::patients::patient_id;
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "patients.html")]
struct SearchPage {
    c: Chrome,
    q: String,
    searched: bool,
    patients: Vec<PatientRow>,
    /// A refused registration: the reason, and what was typed, so nothing has to be typed again.
    error: String,
    form: RegisterForm,
}

/// A patient as a line of a list or the chart's header.
pub struct PatientRow {
    pub id: String,
    pub name: String,
    pub kana: String,
    pub birth: String,
    pub sex: &'static str,
}

impl PatientRow {
    pub fn of(p: &Patient, c: &Chrome) -> PatientRow {
        let sex = match p.sex {
            Sex::Male => "sex.male",
            Sex::Female => "sex.female",
            Sex::Other => "sex.other",
            Sex::Unknown => "sex.unknown",
        };
        PatientRow {
            id: p.patient_id.to_string(),
            name: p.name.clone(),
            kana: p.name_kana.clone(),
            birth: p.birth_date.clone(),
            sex: c.t(sex),
        }
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// The search form and, after a search, its results; every search is an audited command.
pub async fn search(State(state): State<AppState>, s: WebSession, uri: Uri) -> Result<Response, WebError> {
    let q: SearchQuery = parse_query(&uri)?;
    let query = q.q.unwrap_or_default().trim().to_string();
    let mut patients = Vec::new();
    if !query.is_empty() {
        let found = state.store.execute(Command::SearchPatients { actor: s.auth.actor, query: query.clone() }).await?.into_patients()?;
        patients = found.iter().map(|p| PatientRow::of(p, &s.chrome)).collect();
    }
    render(&SearchPage {
        c: s.chrome,
        searched: !query.is_empty(),
        q: query,
        patients,
        error: String::new(),
        form: RegisterForm::default(),
    })
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    patient_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    name_kana: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    sex: String,
}

pub async fn register(State(state): State<AppState>, post: WebPost<RegisterForm>) -> Result<Response, WebError> {
    let WebPost { session, form } = post;
    match create(&state, &session, &form).await {
        Ok(created) => Ok(see_other(&format!("/patients/{created}"))),
        // Invalid input or a taken patient ID: the form again, filled in, with the reason on top.
        Err(e) if e.status().is_client_error() && e.status() != axum::http::StatusCode::FORBIDDEN => {
            let explained = super::i18n::explain(session.chrome.lang, &e);
            let error = format!("{} {}", explained.title, explained.detail);
            let page = SearchPage { c: session.chrome, q: String::new(), searched: false, patients: Vec::new(), error, form };
            let mut response = render(&page)?;
            *response.status_mut() = e.status();
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

async fn create(state: &AppState, session: &WebSession, f: &RegisterForm) -> Result<PatientId, ApiError> {
    let patient = NewPatient {
        patient_id: PatientId::parse(f.patient_id.trim())?,
        name: f.name.clone(),
        name_kana: f.name_kana.clone(),
        birth_date: f.birth_date.clone(),
        sex: Sex::parse(&f.sex).ok_or_else(|| ApiError::validation("sex", "unknown value"))?,
    };
    let created = state.store.execute(Command::CreatePatient { actor: session.auth.actor.clone(), patient }).await?.into_patient()?;
    Ok(created.patient_id)
}

#[derive(Template)]
#[template(path = "chart.html")]
struct ChartPage {
    c: Chrome,
    patient: PatientRow,
    documents: Vec<DocumentRow>,
}

/// A document as a line of the chart or the approval queue.
pub struct DocumentRow {
    pub id: String,
    pub patient_id: String,
    pub doc_type: String,
    pub title: String,
    pub class: &'static str,
    pub restricted: bool,
    pub status: &'static str,
    pub status_key: &'static str,
    pub version: i64,
    pub entered_by: String,
    pub on_behalf_of: String,
    pub confirmed_by: String,
    pub updated_at: String,
    pub created_at: String,
}

impl DocumentRow {
    pub fn of(d: &DocumentHead, c: &Chrome) -> DocumentRow {
        DocumentRow {
            id: d.id.to_string(),
            patient_id: d.patient_id.to_string(),
            doc_type: doc_type_label(c, &d.doc_type).to_string(),
            title: d.title.clone(),
            class: c.lang.class(d.info_class),
            restricted: d.info_class != kiroku_core::InfoClass::Normal,
            status: c.lang.status(d.status),
            status_key: status_key(d.status),
            version: d.version,
            entered_by: d.entered_by.to_string(),
            on_behalf_of: d.on_behalf_of.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            confirmed_by: d.confirmed_by.clone().unwrap_or_default(),
            updated_at: jst(d.updated_at),
            created_at: jst(d.created_at),
        }
    }
}

/// The CSS class of a status badge.
pub fn status_key(s: DocumentStatus) -> &'static str {
    s.as_str()
}

/// Document types the form offers; any other stored type is shown as it is.
pub const DOC_TYPES: &[&str] = &["progress_note", "admission_note", "discharge_summary", "referral", "nursing_record", "other"];

pub fn doc_type_label<'a>(c: &Chrome, doc_type: &'a str) -> &'a str {
    if DOC_TYPES.contains(&doc_type) {
        let key = format!("doctype.{doc_type}");
        c.t(&key)
    } else {
        doc_type
    }
}

/// The chart: the patient's header and every visible document, newest first. Reading it is two
/// audited commands (the patient, the list); restricted classes the role may not see are left out
/// by the store.
pub async fn chart(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>) -> Result<Response, WebError> {
    let id = patient_id(&raw)?;
    let actor = s.auth.actor;
    let patient = state.store.execute(Command::ReadPatient { actor: actor.clone(), patient_id: id.clone() }).await?.into_patient()?;
    let mut heads = state.store.execute(Command::ListDocuments { actor, patient_id: id }).await?.into_documents()?;
    heads.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let documents = heads.iter().map(|d| DocumentRow::of(d, &s.chrome)).collect();
    render(&ChartPage { patient: PatientRow::of(&patient, &s.chrome), c: s.chrome, documents })
}

#[derive(Template)]
#[template(path = "record_print.html")]
struct RecordPrintPage {
    c: Chrome,
    patient: PatientRow,
    documents: Vec<super::documents::DocPage>,
    printed_at: String,
}

/// The whole record of a patient on one page for printing: every document the reader may see, in
/// its current version with who wrote and confirmed it. Each document read is an audited command.
pub async fn print_record(State(state): State<AppState>, s: WebSession, Path(raw): Path<String>) -> Result<Response, WebError> {
    let id = patient_id(&raw)?;
    let actor = s.auth.actor;
    let patient = state.store.execute(Command::ReadPatient { actor: actor.clone(), patient_id: id.clone() }).await?.into_patient()?;
    let mut heads = state.store.execute(Command::ListDocuments { actor: actor.clone(), patient_id: id }).await?.into_documents()?;
    heads.sort_by_key(|d| d.created_at);
    let me = actor.username.clone();
    let mut documents = Vec::with_capacity(heads.len());
    for head in heads {
        let view = super::documents::read(&state, actor.clone(), head.id.clone(), None).await?;
        documents.push(super::documents::DocPage::of(&view, &s.chrome, &me));
    }
    let printed_at = jst(kiroku_core::Timestamp::now());
    render(&RecordPrintPage { patient: PatientRow::of(&patient, &s.chrome), c: s.chrome, documents, printed_at })
}
