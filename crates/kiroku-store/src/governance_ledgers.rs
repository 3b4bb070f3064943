//! Ledgers (台帳) as the store keeps them: revisions, events and attached files of an entry
//! (append-only, each row a leaf of the log), the query the lists and the compliance checklist
//! use, and the periodic duties computed from ledger entries and audit events.
//!
//! The rules (fields, approvals, states, duty intervals) are in `kiroku_core::ledgers`; the
//! engine's half is `engine::ledgers`.

use kiroku_core::hash::ContentHash;
use kiroku_core::ledgers::{self, DutyIntervals, DutyStatus, EntryStatus, EventFacts, EventKind, Fields, LedgerKind};
use kiroku_core::{Timestamp, Username};
use serde::Serialize;

/// One revision of an entry, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerRevision {
    pub id: String,
    pub kind: LedgerKind,
    pub revision: i64,
    pub fields: Fields,
    /// The ledger's date field as `YYYY-MM-DD` (JST), for periods.
    pub entry_date: Option<String>,
    pub content_hash: String,
    pub entered_by: Username,
    pub entered_at: Timestamp,
    pub seq: i64,
}

/// What a revision's hash covers: the entry, the revision and its values.
#[derive(Serialize)]
struct RevisionContent<'a> {
    kind: LedgerKind,
    id: &'a str,
    revision: i64,
    fields: &'a Fields,
}

impl LedgerRevision {
    /// The SHA-256 of the RFC 8785 JSON of what the revision says.
    pub fn compute_hash(&self) -> String {
        ContentHash::of_json(&RevisionContent { kind: self.kind, id: &self.id, revision: self.revision, fields: &self.fields }).to_hex()
    }

    /// The value of a field as text (lists joined by commas), empty when absent.
    pub fn text(&self, field: &str) -> String {
        match self.fields.get(field) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
            Some(serde_json::Value::Bool(b)) => if *b { "✓" } else { "" }.to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }
}

/// An event on an entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEvent {
    pub entry_id: String,
    /// 1, 2, … per entry.
    pub n: i64,
    pub kind: EventKind,
    /// The revision the event was recorded on (an approval approves it).
    pub revision: i64,
    pub note: String,
    pub username: Username,
    pub at: Timestamp,
    pub seq: i64,
}

/// A file attached to an entry (a disposal certificate, training materials, a contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerAttachment {
    pub id: String,
    pub entry_id: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub blob_hash: String,
    pub added_by: Username,
    pub added_at: Timestamp,
    pub seq: i64,
}

/// An entry: its newest revision, its state, and (when read alone) its whole history.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    pub id: String,
    pub kind: LedgerKind,
    pub status: EntryStatus,
    /// Who entered the first revision (the requester an approval must differ from).
    pub entered_by: Username,
    pub current: LedgerRevision,
    pub events: Vec<LedgerEvent>,
    pub attachments: Vec<LedgerAttachment>,
    /// Every revision, oldest first; empty in lists.
    pub revisions: Vec<LedgerRevision>,
}

impl LedgerEntry {
    /// An entry from its revisions (oldest first, at least one), events and files.
    pub fn assemble(
        revisions: Vec<LedgerRevision>,
        events: Vec<LedgerEvent>,
        attachments: Vec<LedgerAttachment>,
        keep_history: bool,
    ) -> Option<LedgerEntry> {
        let first = revisions.first()?;
        let current = revisions.last()?.clone();
        let facts: Vec<EventFacts> = events.iter().map(|e| EventFacts { kind: e.kind, revision: e.revision }).collect();
        Some(LedgerEntry {
            id: current.id.clone(),
            kind: current.kind,
            status: ledgers::status(current.kind.def(), current.revision, &facts),
            entered_by: first.entered_by.clone(),
            events,
            attachments,
            revisions: if keep_history { revisions } else { Vec::new() },
            current,
        })
    }

    /// When the entry was last approved or closed, by whom.
    pub fn last_event(&self, kind: EventKind) -> Option<&LedgerEvent> {
        self.events.iter().rev().find(|e| e.kind == kind)
    }
}

/// Which entries a list shows: a ledger, optionally a period of its date field (inclusive
/// `YYYY-MM-DD`), a state, newest first after the cursor (an entry id).
#[derive(Debug, Clone, Default)]
pub struct LedgerQuery {
    pub kind: Option<LedgerKind>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub status: Option<EntryStatus>,
    /// Entries older than this id (ids are UUIDv7: time-ordered).
    pub before: Option<String>,
    pub limit: i64,
}

/// A page of entries and the cursor of the next.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    pub next_cursor: Option<String>,
}

/// One person's training: the newest session they attended, and whether it is within the interval.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingStatus {
    pub username: Username,
    pub display_name: String,
    pub role: kiroku_core::Role,
    pub last_trained: Option<String>,
    pub session: Option<String>,
    pub current: bool,
}

/// The periodic duties (with reminders and overdue ones) and every active account's training.
#[derive(Debug, Clone, Serialize)]
pub struct DutyReport {
    pub today: String,
    pub intervals: DutyIntervals,
    pub duties: Vec<DutyStatus>,
    pub training: Vec<TrainingStatus>,
}

impl DutyReport {
    pub fn due(&self) -> impl Iterator<Item = &DutyStatus> {
        self.duties.iter().filter(|d| d.state != ledgers::DutyState::Ok)
    }
}

/// The newest completion per ledger kind from current revisions: (date, `ledger:<kind>/<id>`).
pub fn last_completion(entries: &[LedgerRevision]) -> Option<(time::Date, String)> {
    entries
        .iter()
        .filter_map(|r| Some((ledgers::parse_date(r.entry_date.as_deref()?)?, format!("ledger:{}/{}", r.kind, r.id))))
        .max_by_key(|(d, _)| *d)
}
