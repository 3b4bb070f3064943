//! Operations: emergency read-only mode (縮退運用, T1-8.2/T1-8.3) and the location register's
//! entries that administrators keep (情報の所在管理, T2-2.1).
//!
//! The mode is stored on the log head row, which every write batch locks, so every process sharing
//! the database honours it from its next batch and a restart keeps it. Each process also holds the
//! mode in memory ([`EmergencyMode`]): the writer refuses changes from memory before it opens a
//! transaction, so the refusal still works when the database cannot be written at all (a full disk,
//! a database that is down), which is exactly when kiroku enters the mode by itself.
//!
//! Read-only means "no clinical or account changes", not "no writes": reads keep writing their audit
//! events, logins and logouts keep working (staff must be able to read), and the log keeps being
//! signed. [`Command::allowed_in_emergency`](crate::Command::allowed_in_emergency) is the one list.

use std::sync::RwLock;

use kiroku_core::{DomainError, Timestamp, Username};
use serde::{Deserialize, Serialize};

/// The mode while it is active: since when, why, and who entered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyState {
    pub since: Timestamp,
    pub reason: String,
    /// The account that entered it; `kiroku-system` when kiroku entered it by itself.
    pub entered_by: String,
}

/// The mode as this process knows it: what the database said at the last batch or check, and an
/// entry kiroku decided on but could not store yet (the database was not writable).
#[derive(Debug, Default)]
pub struct EmergencyMode {
    stored: RwLock<Option<EmergencyState>>,
    unstored: RwLock<Option<EmergencyState>>,
}

impl EmergencyMode {
    /// The mode in force: the stored one, else one this process entered but could not store yet.
    pub fn current(&self) -> Option<EmergencyState> {
        let stored = self.stored.read().map(|s| s.clone()).unwrap_or(None);
        stored.or_else(|| self.unstored())
    }

    /// Whether this process holds an entry the database has not taken yet.
    pub fn unstored(&self) -> Option<EmergencyState> {
        self.unstored.read().map(|s| s.clone()).unwrap_or(None)
    }

    /// What the database says now (read at every write batch and by the server's monitor).
    pub fn set_stored(&self, state: Option<EmergencyState>) {
        if let Ok(mut s) = self.stored.write() {
            *s = state;
        }
    }

    /// Enters the mode in memory only, until the database can take it.
    pub fn enter_unstored(&self, state: EmergencyState) {
        if let Ok(mut s) = self.unstored.write() {
            s.get_or_insert(state);
        }
    }

    /// Forgets the in-memory entry once the database holds the mode (or an administrator left it).
    pub fn clear_unstored(&self) {
        if let Ok(mut s) = self.unstored.write() {
            *s = None;
        }
    }
}

/// The longest reason accepted for entering or leaving the mode.
pub const MAX_REASON_CHARS: usize = 500;

/// A reason for entering or leaving: required, one paragraph, no control characters but newlines.
pub fn check_reason(reason: &str) -> Result<&str, DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::invalid("reason", "must not be empty"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(DomainError::invalid("reason", format!("must be at most {MAX_REASON_CHARS} characters")));
    }
    if reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid("reason", "must not contain control characters"));
    }
    Ok(reason)
}

/// Kinds of places the register lists. Computed kinds come from the running system; administrators
/// add the places kiroku cannot see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    PaperArchive,
    RemovableMedia,
    RemoteSite,
    BackupTarget,
    ExportMedia,
    Other,
}

impl LocationKind {
    pub const ALL: &'static [LocationKind] = &[
        LocationKind::PaperArchive,
        LocationKind::RemovableMedia,
        LocationKind::RemoteSite,
        LocationKind::BackupTarget,
        LocationKind::ExportMedia,
        LocationKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::PaperArchive => "paper_archive",
            LocationKind::RemovableMedia => "removable_media",
            LocationKind::RemoteSite => "remote_site",
            LocationKind::BackupTarget => "backup_target",
            LocationKind::ExportMedia => "export_media",
            LocationKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<LocationKind> {
        LocationKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// What an administrator writes about a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationFields {
    pub kind: LocationKind,
    pub name: String,
    /// Where it is: a room, a safe, a site's address (no credentials).
    pub place: String,
    #[serde(default)]
    pub capacity: String,
    #[serde(default)]
    pub retention: String,
    /// How often and by what method it is backed up or refreshed.
    #[serde(default)]
    pub backup: String,
    #[serde(default)]
    pub response_time: String,
    #[serde(default)]
    pub risks: String,
}

impl LocationFields {
    pub fn validate(&self) -> Result<(), DomainError> {
        let fields = [
            ("name", &self.name, 200, true),
            ("place", &self.place, 500, true),
            ("capacity", &self.capacity, 200, false),
            ("retention", &self.retention, 200, false),
            ("backup", &self.backup, 500, false),
            ("response_time", &self.response_time, 200, false),
            ("risks", &self.risks, 2000, false),
        ];
        for (field, value, max, required) in fields {
            if required && value.trim().is_empty() {
                return Err(DomainError::invalid(field, "must not be empty"));
            }
            if value.chars().count() > max {
                return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
            }
            if value.chars().any(|c| c.is_control() && c != '\n') {
                return Err(DomainError::invalid(field, "must not contain control characters"));
            }
        }
        Ok(())
    }
}

/// One revision of an administrator's entry, as stored (append-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationEntry {
    pub id: String,
    pub revision: i64,
    #[serde(flatten)]
    pub fields: LocationFields,
    pub retired: bool,
    pub edited_by: Username,
    pub edited_at: Timestamp,
    pub seq: i64,
}

impl LocationEntry {
    /// The hash of what the revision says, recorded in its audit event so that a revision changed
    /// behind kiroku's back no longer matches the (signed) trail.
    pub fn content_hash(&self) -> String {
        kiroku_core::hash::ContentHash::of_json(self).to_hex()
    }
}

/// The newest successful backup to one target, as its audit event says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastBackup {
    pub target: String,
    pub generation: Option<String>,
    pub at: Timestamp,
    pub event_id: i64,
}

/// The stored half of the register: administrators' entries (newest revision each, retired ones
/// left out) and the last successful backup per target from the audit trail.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocationRegister {
    pub entries: Vec<LocationEntry>,
    pub backups: Vec<LastBackup>,
}

/// The newest backup per target from `backup` audit events, newest first. The backup commands put
/// a JSON object with `target` and `generation` in `detail`; events that do not parse are skipped.
pub fn last_backups(events: &[kiroku_core::AuditEvent]) -> Vec<LastBackup> {
    let mut seen: Vec<LastBackup> = Vec::new();
    for e in events {
        let Some(detail) = e.detail.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) else { continue };
        let Some(target) = detail.get("target").and_then(|t| t.as_str()) else { continue };
        if seen.iter().any(|b| b.target == target) {
            continue;
        }
        let generation = detail.get("generation").map(|g| g.as_str().map_or_else(|| g.to_string(), str::to_string));
        seen.push(LastBackup { target: target.to_string(), generation, at: e.time, event_id: e.id });
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_memory_entry_holds_until_the_database_has_the_mode() {
        let mode = EmergencyMode::default();
        assert_eq!(mode.current(), None);
        let state = EmergencyState { since: Timestamp::from_micros(1), reason: "disk".into(), entered_by: "kiroku-system".into() };
        mode.enter_unstored(state.clone());
        assert_eq!(mode.current(), Some(state.clone()));
        mode.set_stored(None);
        assert_eq!(mode.current(), Some(state.clone()), "the database not knowing yet does not end it");
        mode.clear_unstored();
        assert_eq!(mode.current(), None);
    }

    #[test]
    fn reasons_are_required_and_plain() {
        assert!(check_reason("  ").is_err());
        assert!(check_reason("a\u{7}b").is_err());
        assert_eq!(check_reason(" ディスク交換のため\n").ok(), Some("ディスク交換のため"));
    }
}
