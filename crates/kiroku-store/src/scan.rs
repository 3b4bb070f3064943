//! Scanned paper as the store keeps it (schema 15, T2-5.1 … T2-5.4): scan types as revisions, scan
//! items (one paper of one patient, with its date and deadline) and their events (scanned, original
//! kept, original's disposal approved), and the register a reader sees — each item with its state,
//! whether it is or was overdue, and its file's signature and timestamp.

use kiroku_core::scan::{ColourMode, OriginalHandling, ScanFacts, ScanRule, WorkCalendar};
use kiroku_core::{PatientId, Timestamp, Username};
use serde::Serialize;

use crate::records::{AttachmentRecord, SignatureRecord, StampItem};

/// One revision of a scan type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanTypeRecord {
    #[serde(flatten)]
    pub rule: ScanRule,
    pub revision: i64,
    pub retired: bool,
    pub edited_by: Username,
    pub edited_at: Timestamp,
    pub seq: i64,
}

impl ScanTypeRecord {
    pub fn colour_str(&self) -> &'static str {
        self.rule.colour.as_str()
    }

    /// `(original, keep_years)` as the table stores them.
    pub fn original_columns(&self) -> (&'static str, Option<i64>) {
        match self.rule.original {
            OriginalHandling::Keep { years } => ("keep", Some(i64::from(years))),
            OriginalHandling::Dispose => ("dispose", None),
        }
    }

    /// The rule from the table's columns.
    #[allow(clippy::too_many_arguments)]
    pub fn rule_from_columns(
        code: String,
        name: String,
        min_dpi: i64,
        colour: &str,
        deadline_days: i64,
        original: &str,
        keep_years: Option<i64>,
    ) -> Option<ScanRule> {
        let original = match (original, keep_years) {
            ("keep", Some(y)) => OriginalHandling::Keep { years: u32::try_from(y).ok()? },
            ("dispose", _) => OriginalHandling::Dispose,
            _ => return None,
        };
        Some(ScanRule {
            code,
            name,
            min_dpi: u32::try_from(min_dpi).ok()?,
            colour: ColourMode::parse(colour)?,
            deadline_days: u32::try_from(deadline_days).ok()?,
            original,
        })
    }
}

/// One paper of one patient, registered when received or when scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanItemRecord {
    pub id: String,
    pub patient_id: PatientId,
    pub type_code: String,
    pub type_revision: i64,
    /// `YYYY-MM-DD`: the day the paper was made or received.
    pub paper_date: String,
    /// `YYYY-MM-DD`: the last day it may be scanned without a reason.
    pub due_date: String,
    pub registered_by: Username,
    pub registered_at: Timestamp,
    pub seq: i64,
}

/// What happened to a scan item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanEventKind {
    Scanned,
    OriginalKept,
    /// Someone asked for the original to be disposed of; a second person approves.
    OriginalDisposalRequested,
    OriginalDisposed,
}

impl ScanEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanEventKind::Scanned => "scanned",
            ScanEventKind::OriginalKept => "original_kept",
            ScanEventKind::OriginalDisposalRequested => "original_disposal_requested",
            ScanEventKind::OriginalDisposed => "original_disposed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Scanned, Self::OriginalKept, Self::OriginalDisposalRequested, Self::OriginalDisposed].into_iter().find(|k| k.as_str() == s)
    }
}

/// An event of a scan item. `detail` is what the kind records: for `scanned` the file's facts,
/// whether it was late and the reason; for `original_kept` where; for `original_disposal_requested`
/// and `original_disposed` the note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanEventRecord {
    pub id: String,
    pub item_id: String,
    pub kind: ScanEventKind,
    pub document_id: Option<String>,
    pub attachment_id: Option<String>,
    pub detail: serde_json::Value,
    pub username: Username,
    pub at: Timestamp,
    pub seq: i64,
}

/// A scan as uploaded: the file (already in the blob store) with what its bytes say, and the
/// paper's facts. `item_id`: a paper registered as received before; else a new item.
#[derive(Debug, Clone)]
pub struct NewScan {
    pub patient_id: PatientId,
    pub item_id: Option<String>,
    pub type_code: String,
    pub paper_date: String,
    pub late_reason: Option<String>,
    pub attachment_id: String,
    pub name: String,
    pub size: i64,
    pub blob_hash: String,
    /// `Err`: the bytes are not a PDF, PNG, JPEG or TIFF (the store records the refusal).
    pub facts: Result<ScanFacts, kiroku_core::scan::ScanRefusal>,
}

/// What to record about an original.
#[derive(Debug, Clone)]
pub enum OriginalAction {
    /// Kept, and where.
    Keep { location: String },
    /// Disposal asked for (by anyone who scans); the approval is a second person's.
    RequestDisposal { note: String },
    /// Disposed of, approved by the scanning officer (not the person who scanned it, nor the
    /// one who asked for it).
    Dispose { note: String },
}

/// A file's proof state.
#[derive(Debug, Clone, Serialize)]
pub struct FileProof {
    pub attachment: AttachmentRecord,
    pub signatures: Vec<SignatureRecord>,
    /// The file's own timestamp item, once stamped.
    pub stamp: Option<StampItem>,
}

/// One line of the register.
#[derive(Debug, Clone, Serialize)]
pub struct ScanEntry {
    pub item: ScanItemRecord,
    pub type_name: String,
    pub events: Vec<ScanEventRecord>,
    /// The scanned file with its signatures and timestamp, once scanned.
    pub file: Option<FileProof>,
    /// `received` (waiting to be scanned), `scanned`, `kept`, `disposal_requested` or `disposed`.
    pub state: &'static str,
    /// Scanned after its deadline, or still not scanned after it.
    pub overdue: bool,
    pub late_reason: Option<String>,
}

impl ScanEntry {
    pub fn scanned(&self) -> Option<&ScanEventRecord> {
        self.events.iter().find(|e| e.kind == ScanEventKind::Scanned)
    }

    pub fn signed_and_stamped(&self) -> bool {
        self.file.as_ref().is_some_and(|f| !f.signatures.is_empty() && f.stamp.is_some())
    }
}

/// The register: every type's current rule and the items.
#[derive(Debug, Clone, Serialize)]
pub struct ScanRegister {
    pub types: Vec<ScanTypeRecord>,
    pub entries: Vec<ScanEntry>,
    /// Today in Japan, the day the overdue flags were computed for.
    pub today: String,
}

/// Whether an item is overdue on `today` (JST): scanned after its due date, or not scanned and
/// past it. Dates are `YYYY-MM-DD`, so they compare as text.
pub fn is_overdue(item: &ScanItemRecord, scanned_on: Option<&str>, today: &str) -> bool {
    match scanned_on {
        Some(day) => day > item.due_date.as_str(),
        None => today > item.due_date.as_str(),
    }
}

/// The newest revision of each type, retired ones included (the register names them).
pub fn current_types(revisions: Vec<ScanTypeRecord>) -> Vec<ScanTypeRecord> {
    let mut current: Vec<ScanTypeRecord> = Vec::new();
    for t in revisions {
        match current.last_mut() {
            Some(last) if last.rule.code == t.rule.code => *last = t,
            _ => current.push(t),
        }
    }
    current
}

/// The deadline of a paper of `paper_date` under `rule`.
pub fn due_date(rule: &ScanRule, paper_date: time::Date, calendar: &WorkCalendar) -> String {
    kiroku_core::scan::format_date(calendar.due_date(paper_date, rule.deadline_days))
}
