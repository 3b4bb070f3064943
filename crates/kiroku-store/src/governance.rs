//! Governance records (schema 10): the facility profile's revisions, the generated 運用管理規程's
//! revisions and their approvals. Each is history (append-only), hashed over its canonical JSON
//! content, and a leaf of the log whose data holds the hash, not the content (like a version).
//!
//! One [`Command::Governance`](crate::Command::Governance) carries every operation, so the
//! shared command list grows by one variant.

use kiroku_core::hash::{ContentHash, canonical_json};
use kiroku_core::{AuditAction, Timestamp, Username};
use kiroku_governance::{FacilityProfile, Regulation};
use serde::Serialize;

use crate::command::Actor;

/// One revision of the facility profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileRecord {
    pub revision: i64,
    pub facility_class: String,
    /// RFC 8785 JSON of the [`FacilityProfile`].
    pub content: String,
    pub content_hash: String,
    pub edited_by: Username,
    pub edited_at: Timestamp,
    pub seq: i64,
}

/// One generated revision of the regulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegulationRecord {
    pub revision: i64,
    pub profile_revision: i64,
    pub catalogue_edition: String,
    /// RFC 8785 JSON of the [`Regulation`].
    pub content: String,
    pub content_hash: String,
    pub generated_by: Username,
    pub generated_at: Timestamp,
    pub seq: i64,
}

/// The approval of a regulation revision (at most one each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    pub revision: i64,
    pub content_hash: String,
    pub approved_by: Username,
    pub approved_at: Timestamp,
    pub note: String,
    pub seq: i64,
}

impl ProfileRecord {
    pub fn profile(&self) -> Result<FacilityProfile, crate::StoreError> {
        serde_json::from_str(&self.content).map_err(|e| crate::StoreError::Corrupt(format!("profile revision {}: {e}", self.revision)))
    }
}

impl RegulationRecord {
    pub fn regulation(&self) -> Result<Regulation, crate::StoreError> {
        serde_json::from_str(&self.content).map_err(|e| crate::StoreError::Corrupt(format!("regulation revision {}: {e}", self.revision)))
    }
}

/// Everything stored, oldest first (a facility has a handful of revisions, not thousands).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GovernanceState {
    pub profiles: Vec<ProfileRecord>,
    pub regulations: Vec<RegulationRecord>,
    pub approvals: Vec<ApprovalRecord>,
}

impl GovernanceState {
    pub fn latest_profile(&self) -> Option<&ProfileRecord> {
        self.profiles.last()
    }

    pub fn approval(&self, revision: i64) -> Option<&ApprovalRecord> {
        self.approvals.iter().find(|a| a.revision == revision)
    }

    pub fn regulation(&self, revision: i64) -> Option<&RegulationRecord> {
        self.regulations.iter().find(|r| r.revision == revision)
    }
}

/// What a governance command does.
#[derive(Debug, Clone)]
pub enum GovernanceOp {
    /// Everything stored (governance.read).
    Read,
    /// A new profile revision (governance.manage).
    SaveProfile(Box<FacilityProfile>),
    /// Stores a regulation generated from `profile_revision`, which must be the latest (governance.manage).
    StoreRegulation { profile_revision: i64, regulation: Box<Regulation> },
    /// Approves a revision: the latest, not yet approved, by someone else than its generator; the
    /// hash says which text the approver saw (governance.manage).
    Approve { revision: i64, content_hash: String, note: String },
}

#[derive(Debug, Clone)]
pub struct GovernanceCommand {
    pub actor: Actor,
    pub op: GovernanceOp,
}

impl GovernanceCommand {
    pub fn action(&self) -> AuditAction {
        match self.op {
            GovernanceOp::Read => AuditAction::GovernanceRead,
            GovernanceOp::SaveProfile(_) => AuditAction::GovernanceProfileChange,
            GovernanceOp::StoreRegulation { .. } => AuditAction::RegulationGenerate,
            GovernanceOp::Approve { .. } => AuditAction::RegulationApprove,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self.op, GovernanceOp::Read)
    }
}

/// The content and hash of a record's JSON.
pub fn content_of<T: Serialize>(value: &T) -> (String, String) {
    (canonical_json(value), ContentHash::of_json(value).to_hex())
}

/// The hash of stored content, as verification recomputes it.
pub fn hash_of_content(content: &str) -> String {
    ContentHash::of_bytes(content.as_bytes()).to_hex()
}

/// The leaf data: the row without its content (the hash stands for it).
pub fn leaf_data(kind: &str, record: &impl Serialize) -> String {
    let mut value = serde_json::to_value(record).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("content");
        map.insert("leaf".into(), kind.into());
    }
    canonical_json(&value)
}
