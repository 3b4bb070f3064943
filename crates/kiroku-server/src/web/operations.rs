//! The operations pages for administrators and auditors: the status page (emergency read-only mode
//! with its switch, response times per purpose) and the location register. The API's functions
//! make every change, so both are audited alike.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_core::Permission;
use kiroku_store::Command;
use kiroku_store::operations::{LocationEntry, LocationFields, LocationKind};
use serde::Deserialize;

use super::page::*;
use crate::AppState;
use crate::api::operations::{Location, enter_emergency_as, leave_emergency_as, register, response_times_for, save_location_as};
use crate::error::ApiError;
use crate::timing::PurposeSummary;

/// A purpose's row, formatted for the page.
pub struct TimingRow {
    pub purpose: &'static str,
    pub target_ms: u64,
    pub total: u64,
    pub window: u64,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub within: String,
    /// Whether p95 misses the target: the row is marked.
    pub missed: bool,
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1}"))
}

fn timing_rows(c: &Chrome, summary: Vec<PurposeSummary>) -> Vec<TimingRow> {
    summary
        .into_iter()
        .map(|s| TimingRow {
            purpose: c.t(&format!("purpose.{}", s.purpose.as_str())),
            target_ms: s.target_ms,
            total: s.requests_total,
            window: s.window_requests,
            p50: ms(s.p50_ms),
            p95: ms(s.p95_ms),
            p99: ms(s.p99_ms),
            within: s.within_target_percent.map_or_else(|| "—".into(), |v| format!("{v:.1} %")),
            missed: s.p95_ms.is_some_and(|p| p > s.target_ms as f64),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    c: Chrome,
    can_manage: bool,
    rows: Vec<TimingRow>,
    window_minutes: u64,
    notice: &'static str,
}

async fn status_page(state: &AppState, s: WebSession, notice: &'static str) -> Result<Response, WebError> {
    let summary = response_times_for(state, &s.auth).await?;
    let can_manage = state.store.allows(s.auth.actor.role, Permission::OpsManage).await?;
    let c = s.chrome;
    let rows = timing_rows(&c, summary);
    render(&StatusPage { c, can_manage, rows, window_minutes: state.settings.response_targets.window_secs / 60, notice })
}

pub async fn status(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    status_page(&state, s, "").await
}

#[derive(Deserialize)]
pub struct EmergencyForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// Enters or leaves emergency mode from the status page.
pub async fn switch_emergency(State(state): State<AppState>, post: WebPost<EmergencyForm>) -> Result<Response, WebError> {
    let actor = post.session.auth.actor.clone();
    let notice = match post.form.action.as_str() {
        "enter" => {
            enter_emergency_as(&state, actor, post.form.reason).await?;
            "emergency.entered"
        }
        "leave" => {
            leave_emergency_as(&state, actor, post.form.reason).await?;
            "emergency.left"
        }
        _ => return Err(ApiError::validation("action", "unknown value").into()),
    };
    // The banner of the answer page follows the mode just set.
    let mut session = post.session;
    session.chrome.emergency = EmergencyBanner::of(&state);
    status_page(&state, session, notice).await
}

/// A register line, formatted for the page.
pub struct LocationRow {
    pub kind: &'static str,
    pub name: String,
    pub place: String,
    pub from_system: bool,
    pub capacity: String,
    pub used: String,
    pub retention: String,
    pub backup: String,
    pub last_backup: String,
    pub response_time: String,
    pub risks: String,
    /// The administrator's entry id, for its edit page.
    pub entry_id: Option<String>,
}

fn bytes(n: Option<u64>) -> Option<String> {
    n.map(|n| match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n => format!("{:.1} KiB", n as f64 / 1024.0),
    })
}

fn location_row(c: &Chrome, l: Location) -> LocationRow {
    let capacity = match (bytes(l.capacity_bytes), bytes(l.free_bytes)) {
        (Some(total), Some(free)) => format!("{total}（{} {free}）", c.t("locations.free")),
        (Some(total), None) => total,
        _ => l.capacity,
    };
    let used = match (bytes(l.used_bytes), l.files) {
        (Some(b), Some(n)) => format!("{b} / {n} {}", c.t("locations.files")),
        (Some(b), None) => b,
        _ => String::new(),
    };
    LocationRow {
        kind: c.t(&format!("location.kind.{}", l.kind)),
        name: l.name,
        place: l.place,
        from_system: l.source == "system",
        capacity,
        used,
        retention: l.retention,
        backup: l.backup,
        last_backup: l.last_backup.map(|b| format!("{} ({})", jst(b.at), b.generation.unwrap_or_default())).unwrap_or_default(),
        response_time: l.response_time,
        risks: l.risks,
        entry_id: l.entry.map(|e| e.id),
    }
}

#[derive(Template)]
#[template(path = "locations.html")]
struct LocationsPage {
    c: Chrome,
    rows: Vec<LocationRow>,
    can_manage: bool,
    kinds: Vec<(&'static str, &'static str)>,
    notice: &'static str,
}

fn kinds(c: &Chrome) -> Vec<(&'static str, &'static str)> {
    LocationKind::ALL.iter().map(|k| (k.as_str(), c.t(&format!("location.kind.{}", k.as_str())))).collect()
}

async fn locations_page(state: &AppState, s: WebSession, notice: &'static str) -> Result<Response, WebError> {
    let all = register(state, s.auth.actor.clone()).await?;
    let can_manage = state.store.allows(s.auth.actor.role, Permission::OpsManage).await?;
    let c = s.chrome;
    let rows = all.into_iter().map(|l| location_row(&c, l)).collect();
    let kinds = kinds(&c);
    render(&LocationsPage { c, rows, can_manage, kinds, notice })
}

pub async fn locations(State(state): State<AppState>, s: WebSession) -> Result<Response, WebError> {
    locations_page(&state, s, "").await
}

#[derive(Deserialize)]
pub struct LocationForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    retention: String,
    #[serde(default)]
    backup: String,
    #[serde(default)]
    response_time: String,
    #[serde(default)]
    risks: String,
}

impl LocationForm {
    fn fields(&self) -> Result<LocationFields, WebError> {
        let kind = LocationKind::parse(&self.kind).ok_or_else(|| ApiError::validation("kind", "unknown value"))?;
        let t = |s: &String| s.trim().to_string();
        Ok(LocationFields {
            kind,
            name: t(&self.name),
            place: t(&self.place),
            capacity: t(&self.capacity),
            retention: t(&self.retention),
            backup: t(&self.backup),
            response_time: t(&self.response_time),
            risks: t(&self.risks),
        })
    }
}

pub async fn add_location(State(state): State<AppState>, post: WebPost<LocationForm>) -> Result<Response, WebError> {
    let fields = post.form.fields()?;
    save_location_as(&state, post.session.auth.actor.clone(), None, fields, false).await?;
    locations_page(&state, post.session, "locations.saved").await
}

/// One administrator's entry with its revisions, newest first.
pub struct RevisionRow {
    pub revision: i64,
    pub edited_by: String,
    pub edited_at: String,
    pub retired: bool,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "location.html")]
struct LocationPage {
    c: Chrome,
    id: String,
    current: LocationFields,
    retired: bool,
    can_manage: bool,
    kinds: Vec<(&'static str, &'static str)>,
    revisions: Vec<RevisionRow>,
}

async fn location_page(state: &AppState, s: WebSession, id: String) -> Result<Response, WebError> {
    let history =
        state.store.execute(Command::LocationHistory { actor: s.auth.actor.clone(), id: id.clone() }).await?.into_location_entries()?;
    let last: LocationEntry = history.last().cloned().ok_or_else(|| ApiError::not_found("location"))?;
    let can_manage = state.store.allows(s.auth.actor.role, Permission::OpsManage).await?;
    let c = s.chrome;
    let revisions = history
        .iter()
        .rev()
        .map(|e| RevisionRow {
            revision: e.revision,
            edited_by: e.edited_by.to_string(),
            edited_at: jst(e.edited_at),
            retired: e.retired,
            summary: format!("{} — {} — {}", e.fields.name, e.fields.place, e.fields.retention),
        })
        .collect();
    let kinds = kinds(&c);
    render(&LocationPage { c, id, current: last.fields, retired: last.retired, can_manage, kinds, revisions })
}

pub async fn location(State(state): State<AppState>, s: WebSession, Path(id): Path<String>) -> Result<Response, WebError> {
    location_page(&state, s, id).await
}

/// Saves a new revision of an entry, or retires it.
pub async fn change_location(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: WebPost<LocationForm>,
) -> Result<Response, WebError> {
    let fields = post.form.fields()?;
    let retire = post.form.action == "retire";
    save_location_as(&state, post.session.auth.actor.clone(), Some(id), fields, retire).await?;
    locations_page(&state, post.session, if retire { "locations.retired" } else { "locations.saved" }).await
}
