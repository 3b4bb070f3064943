//! Operations: emergency read-only mode (enter, leave, state), the location register, and the
//! response-time status. Shared with the administrators' pages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiroku_core::{Permission, Timestamp};
use kiroku_store::operations::{EmergencyState, LastBackup, LocationEntry, LocationFields};
use kiroku_store::{Actor, Command};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::session::{ApiJson, ApiPath as Path, Authenticated};
use crate::timing::PurposeSummary;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

/// The mode as every page and client sees it.
pub fn emergency_json(state: &AppState) -> Value {
    match state.store.emergency().current() {
        Some(m) => json!({ "active": true, "since": m.since, "reason": m.reason, "entered_by": m.entered_by,
                           "stored": state.store.emergency().unstored().is_none(), "contact": contact(state) }),
        None => json!({ "active": false }),
    }
}

/// Whom staff should contact while the mode is active.
pub fn contact(state: &AppState) -> String {
    let c = state.settings.emergency_contact.trim();
    if c.is_empty() { "システム管理者 / the system administrator".into() } else { c.to_string() }
}

pub async fn emergency(State(state): State<AppState>, _auth: Authenticated) -> Json<Value> {
    Json(emergency_json(&state))
}

/// Enters the mode on an administrator's word; shared with the status page.
pub async fn enter_emergency_as(state: &AppState, actor: Actor, reason: String) -> ApiResult<EmergencyState> {
    let entered = state.store.execute(Command::EnterEmergency { by: Some(actor), reason }).await?.into_emergency()?;
    entered.map(|b| *b).ok_or_else(ApiError::internal)
}

/// Leaves the mode; shared with the status page. A pending automatic entry goes too: the
/// administrator has decided, and the monitor enters again if the problem is still there.
pub async fn leave_emergency_as(state: &AppState, actor: Actor, reason: String) -> ApiResult<()> {
    state.store.execute(Command::LeaveEmergency { actor, reason }).await?;
    state.store.emergency().clear_unstored();
    tracing::warn!("emergency read-only mode left by an administrator");
    Ok(())
}

pub async fn enter_emergency(State(state): State<AppState>, auth: Authenticated, ApiJson(r): ApiJson<Reason>) -> ApiResult<Json<Value>> {
    enter_emergency_as(&state, auth.actor, r.reason).await?;
    Ok(Json(emergency_json(&state)))
}

pub async fn leave_emergency(State(state): State<AppState>, auth: Authenticated, ApiJson(r): ApiJson<Reason>) -> ApiResult<Json<Value>> {
    leave_emergency_as(&state, auth.actor, r.reason).await?;
    Ok(Json(emergency_json(&state)))
}

/// One place information lives, as the register lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    /// `database`, `blob_store`, `filesystem`, `backup_target`, or an administrator's kind.
    pub kind: String,
    pub name: String,
    pub place: String,
    /// `system`: computed from the running system; `administrator`: kept by hand.
    pub source: &'static str,
    pub capacity_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    pub files: Option<u64>,
    pub capacity: String,
    pub retention: String,
    pub backup: String,
    pub last_backup: Option<LastBackup>,
    pub response_time: String,
    pub risks: String,
    /// The administrator's entry behind it (id and revision), for editing.
    pub entry: Option<LocationEntry>,
}

impl Location {
    fn computed(kind: &str, name: &str, place: String) -> Location {
        Location {
            kind: kind.into(),
            name: name.into(),
            place,
            source: "system",
            capacity_bytes: None,
            used_bytes: None,
            free_bytes: None,
            files: None,
            capacity: String::new(),
            retention: String::new(),
            backup: String::new(),
            last_backup: None,
            response_time: String::new(),
            risks: String::new(),
            entry: None,
        }
    }
}

/// The whole register: what kiroku sees of itself, then the administrators' entries. Reading it is
/// audited (the stored half is a command).
pub async fn register(state: &AppState, actor: Actor) -> ApiResult<Vec<Location>> {
    let stored = state.store.execute(Command::ReadLocations { actor }).await?.into_locations()?;
    let backend = state.store.backend();
    let targets = &state.settings.response_targets;
    let online = format!("≤ {} ms (chart) / ≤ {} ms (document)", targets.chart_ms, targets.document_ms);
    let backups_line = |backups: &[LastBackup]| match backups.first() {
        Some(b) => format!("last backup {} ({})", b.at.to_rfc3339(), b.target),
        None => "no successful backup recorded / バックアップの記録なし".into(),
    };
    let dir = crate::monitor::data_dir(state);
    let blobs = state.blobs.clone();
    let probe_dir = dir.clone();
    let (space, usage) = tokio::task::spawn_blocking(move || (crate::monitor::disk_space(&probe_dir).ok(), blobs.usage().ok()))
        .await
        .unwrap_or((None, None));
    let same_disk = backend.kind() == "sqlite";

    let mut db = Location::computed("database", &format!("database ({})", backend.kind()), backend.location());
    db.used_bytes = backend.size_bytes().await.unwrap_or(None);
    db.retention = "permanent: history is append-only, nothing is deleted / 永年（履歴は追記のみ、削除なし）".into();
    db.backup = backups_line(&stored.backups);
    db.last_backup = stored.backups.first().cloned();
    db.response_time = online.clone();
    db.risks = if same_disk {
        "on the same disk as the file store: a disk failure loses both; keep backups on another medium / ファイル保存領域と同じディスク。バックアップは別媒体へ".into()
    } else {
        "a separate database server: its own backups and access control apply / 別サーバのデータベース".into()
    };

    let mut files = Location::computed("blob_store", "file store (attachments)", state.blobs.root().display().to_string());
    files.used_bytes = usage.map(|u| u.0);
    files.files = usage.map(|u| u.1);
    files.retention = db.retention.clone();
    files.backup = db.backup.clone();
    files.last_backup = db.last_backup.clone();
    files.response_time = format!("≤ {} ms (document)", targets.document_ms);
    files.risks =
        "content-addressed and re-hashed by the fixity check; a lost file is reported, not repaired / 定期整合性検査で検出".into();

    let mut disk = Location::computed("filesystem", "data directory filesystem", dir.display().to_string());
    disk.capacity_bytes = space.map(|s| s.total_bytes);
    disk.free_bytes = space.map(|s| s.free_bytes);
    disk.risks = format!(
        "below {} MiB free kiroku enters read-only mode by itself / 空きが {} MiB 未満で自動的に縮退運用",
        state.settings.min_free_bytes >> 20,
        state.settings.min_free_bytes >> 20
    );

    let mut all = vec![db, files, disk];
    for b in &stored.backups {
        let mut target = Location::computed("backup_target", "backup target", b.target.clone());
        target.last_backup = Some(b.clone());
        target.backup = format!("generation {}", b.generation.as_deref().unwrap_or("?"));
        all.push(target);
    }
    all.extend(stored.entries.into_iter().map(|e| {
        let f = e.fields.clone();
        Location {
            kind: f.kind.as_str().into(),
            name: f.name,
            place: f.place,
            source: "administrator",
            capacity: f.capacity,
            retention: f.retention,
            backup: f.backup,
            response_time: f.response_time,
            risks: f.risks,
            entry: Some(e),
            ..Location::computed("", "", String::new())
        }
    }));
    Ok(all)
}

pub async fn locations(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "locations": register(&state, auth.actor).await?, "generated_at": Timestamp::now() })))
}

/// Adds an entry (`id` None), changes one, or retires it; shared with the register page.
pub async fn save_location_as(
    state: &AppState,
    actor: Actor,
    id: Option<String>,
    fields: LocationFields,
    retired: bool,
) -> ApiResult<LocationEntry> {
    let mut saved = state.store.execute(Command::SaveLocation { actor, id, fields, retired }).await?.into_location_entries()?;
    saved.pop().ok_or_else(ApiError::internal)
}

pub async fn add_location(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(fields): ApiJson<LocationFields>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let entry = save_location_as(&state, auth.actor, None, fields, false).await?;
    Ok((StatusCode::CREATED, Json(json!(entry))))
}

pub async fn change_location(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<LocationFields>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(save_location_as(&state, auth.actor, Some(id), fields, false).await?)))
}

pub async fn retire_location(State(state): State<AppState>, auth: Authenticated, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let history =
        state.store.execute(Command::LocationHistory { actor: auth.actor.clone(), id: id.clone() }).await?.into_location_entries()?;
    let last = history.last().ok_or_else(|| ApiError::not_found("location"))?;
    Ok(Json(json!(save_location_as(&state, auth.actor, Some(id), last.fields.clone(), true).await?)))
}

pub async fn location_history(State(state): State<AppState>, auth: Authenticated, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let revisions = state.store.execute(Command::LocationHistory { actor: auth.actor, id }).await?.into_location_entries()?;
    Ok(Json(json!({ "revisions": revisions })))
}

/// The response-time table, for holders of ops.read (it shows no records, so it is not audited).
pub async fn response_times_for(state: &AppState, auth: &Authenticated) -> ApiResult<Vec<PurposeSummary>> {
    if !state.store.allows(auth.actor.role, Permission::OpsRead).await? {
        return Err(ApiError::forbidden(format!("the role {} lacks the permission {}", auth.actor.role, Permission::OpsRead)));
    }
    Ok(state.response_times.summary(&state.settings.response_targets))
}

pub async fn response_times(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<Value>> {
    let purposes = response_times_for(&state, &auth).await?;
    Ok(Json(json!({ "window_seconds": state.settings.response_targets.window_secs, "purposes": purposes })))
}
