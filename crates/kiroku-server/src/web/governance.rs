//! The governance pages: the facility profile (`/admin/governance/profile`) and the generated
//! 運用管理規程 (`/admin/governance/regulation`: revisions, the diff to the previous one, downloads,
//! approval). The API's functions make every change, so pages and API are audited alike.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_core::Permission;
use kiroku_governance::{FacilityClass, FacilityProfile, People, Regulation};
use kiroku_store::governance::GovernanceState;

use super::diff;
use super::page::*;
use crate::AppState;
use crate::api::governance::{approve_as, catalogue, diff_to_previous, document, generate_as, read_state, save_profile_as};
use crate::error::ApiError;

/// A catalogue parameter on the form: name, label, the profile's value, the default.
pub struct ParamRow {
    pub name: String,
    pub label: String,
    pub value: String,
    pub default: String,
    pub used_by: String,
}

#[derive(Template)]
#[template(path = "governance_profile.html")]
struct ProfilePage {
    c: Chrome,
    can_manage: bool,
    notice: &'static str,
    revision: Option<i64>,
    edited: String,
    class: String,
    facility_name: String,
    /// (field name, label, value)
    people: Vec<(&'static str, &'static str, String)>,
    external_storage: bool,
    effective_date: String,
    params: Vec<ParamRow>,
    edition: String,
}

async fn profile_page(state: &AppState, s: WebSession, notice: &'static str) -> Result<Response, WebError> {
    let all = read_state(state, s.auth.actor.clone()).await?;
    let can_manage = state.store.allows(s.auth.actor.role, Permission::GovernanceManage).await?;
    let latest = all.latest_profile();
    let profile = latest.map(|p| p.profile()).transpose()?;
    let c = s.chrome;
    let english = c.lang == super::i18n::Lang::En;
    let people = match &profile {
        Some(p) => p.people.roles().map(|(k, ja, en, v)| (k, if english { en } else { ja }, v.to_owned())),
        None => People {
            operations_manager: String::new(),
            privacy_officer: String::new(),
            system_administrator: String::new(),
            audit_officer: String::new(),
            information_manager: String::new(),
        }
        .roles()
        .map(|(k, ja, en, _)| (k, if english { en } else { ja }, String::new())),
    }
    .to_vec();
    let params = catalogue(state)
        .parameters
        .iter()
        .filter(|p| p.name != "facility_name")
        .map(|p| ParamRow {
            name: p.name.clone(),
            label: if english { p.label_en.clone() } else { p.label_ja.clone() },
            value: profile.as_ref().and_then(|pr| pr.parameters.get(&p.name).cloned()).unwrap_or_default(),
            default: p.default.clone().unwrap_or_default(),
            used_by: p.used_by.join(", "),
        })
        .collect();
    let page = ProfilePage {
        revision: latest.map(|p| p.revision),
        edited: latest.map(|p| format!("{} ({})", jst(p.edited_at), p.edited_by)).unwrap_or_default(),
        class: profile.as_ref().map_or("C", |p| p.facility_class.as_str()).to_owned(),
        facility_name: profile.as_ref().map(|p| p.facility_name.clone()).unwrap_or_default(),
        people,
        external_storage: profile.as_ref().is_some_and(|p| p.external_storage),
        effective_date: profile.as_ref().map(|p| p.effective_date.clone()).unwrap_or_default(),
        params,
        edition: catalogue(state).edition.clone(),
        c,
        can_manage,
        notice,
    };
    render(&page)
}

pub async fn profile(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    profile_page(&state, s, "").await
}

/// The form: fixed fields plus `p_<parameter>` for each catalogue parameter (empty = default).
pub async fn save_profile(State(state): State<AppState>, post: WebPost<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let f = &post.form;
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let facility_class: FacilityClass = get("facility_class").parse().map_err(|_| ApiError::validation("facility_class", "use B or C"))?;
    let parameters = f
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("p_").map(|name| (name.to_owned(), v.trim().to_owned())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let profile = FacilityProfile {
        facility_class,
        facility_name: get("facility_name"),
        people: People {
            operations_manager: get("operations_manager"),
            privacy_officer: get("privacy_officer"),
            system_administrator: get("system_administrator"),
            audit_officer: get("audit_officer"),
            information_manager: get("information_manager"),
        },
        external_storage: f.get("external_storage").is_some(),
        effective_date: get("effective_date"),
        parameters,
    };
    save_profile_as(&state, post.session.auth.actor.clone(), profile).await?;
    profile_page(&state, post.session, "governance.profile_saved").await
}

/// A regulation revision as listed.
pub struct RevisionRow {
    pub revision: i64,
    pub profile_revision: i64,
    pub generated: String,
    pub hash: String,
    pub approved: String,
}

#[derive(Template)]
#[template(path = "governance_regulation.html")]
struct RegulationPage {
    c: Chrome,
    can_manage: bool,
    notice: &'static str,
    has_profile: bool,
    revisions: Vec<RevisionRow>,
    /// The latest revision: its number, hash, approval state and text.
    latest: Option<(i64, String, bool)>,
    regulation: Option<Regulation>,
    diff: Vec<diff::Row>,
    previous: Option<i64>,
}

impl RegulationPage {
    fn number(&self, n: impl std::borrow::Borrow<u32>) -> String {
        kiroku_governance::regulation::kanji_number(*n.borrow())
    }
}

async fn regulation_page(state: &AppState, s: WebSession, notice: &'static str) -> Result<Response, WebError> {
    let all: GovernanceState = read_state(state, s.auth.actor.clone()).await?;
    let can_manage = state.store.allows(s.auth.actor.role, Permission::GovernanceManage).await?;
    let revisions = all
        .regulations
        .iter()
        .rev()
        .map(|r| RevisionRow {
            revision: r.revision,
            profile_revision: r.profile_revision,
            generated: format!("{} ({})", jst(r.generated_at), r.generated_by),
            hash: r.content_hash.chars().take(16).collect(),
            approved: all.approval(r.revision).map(|a| format!("{} ({})", jst(a.approved_at), a.approved_by)).unwrap_or_default(),
        })
        .collect();
    let last = all.regulations.last();
    let (regulation, diff, previous) = match last {
        Some(r) => (
            Some(r.regulation()?),
            diff_to_previous(&all, r.revision)?,
            all.regulations.iter().rev().find(|p| p.revision < r.revision).map(|p| p.revision),
        ),
        None => (None, Vec::new(), None),
    };
    let page = RegulationPage {
        c: s.chrome,
        can_manage,
        notice,
        has_profile: all.latest_profile().is_some(),
        revisions,
        latest: last.map(|r| (r.revision, r.content_hash.clone(), all.approval(r.revision).is_some())),
        regulation,
        diff,
        previous,
    };
    render(&page)
}

pub async fn regulation(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    regulation_page(&state, s, "").await
}

pub async fn generate(State(state): State<AppState>, post: WebPost<BTreeMap<String, String>>) -> Result<Response, WebError> {
    generate_as(&state, post.session.auth.actor.clone()).await?;
    regulation_page(&state, post.session, "governance.notice_generated").await
}

pub async fn approve(
    State(state): State<AppState>,
    Path(revision): Path<i64>,
    post: WebPost<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let hash = post.form.get("content_hash").cloned().unwrap_or_default();
    let note = post.form.get("note").map(|n| n.trim().to_owned()).unwrap_or_default();
    approve_as(&state, post.session.auth.actor.clone(), revision, hash, note).await?;
    regulation_page(&state, post.session, "governance.notice_approved").await
}

/// A revision as a download (html, docx, pdf).
pub async fn download(
    State(state): State<AppState>,
    Path((revision, format)): Path<(i64, String)>,
    s: WebSession,
) -> Result<Response, WebError> {
    if !["html", "docx", "pdf"].contains(&format.as_str()) {
        return Err(ApiError::not_found("format").into());
    }
    let all = read_state(&state, s.auth.actor).await?;
    let record = all.regulation(revision).ok_or_else(|| ApiError::not_found("regulation"))?;
    Ok(document(&all, record, &record.regulation()?, &format).await?)
}
