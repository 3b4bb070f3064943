//! The facts the compliance checklist reads from the store: the permission matrix, second-factor
//! policies and enrolment, the newest audit event of each whole-store operation (backups, restore
//! drills, fixity checks, reviews' sign-offs …), emergency mode and its history, the timestamp
//! backlog, the latest checkpoint, the location register and the break-glass accounts. One read
//! transaction, no writes and no audit event: none of it is patient data.

use std::collections::BTreeMap;

use kiroku_core::identity::{AccountKind, MfaPolicy};
use kiroku_core::{AuditAction, AuditEvent, PermissionMatrix, Role, Timestamp};

use crate::error::Result;
use crate::operations::{EmergencyState, LocationEntry};
use crate::records::*;

/// An account as the checklist counts it.
#[derive(Debug, Clone)]
pub struct AccountFacts {
    pub username: String,
    pub role: Role,
    pub kind: AccountKind,
    pub disabled: bool,
    pub has_second_factor: bool,
    pub last_login_at: Option<Timestamp>,
}

/// Everything the checklist's evidence takes from the store, read at one moment.
#[derive(Debug, Clone)]
pub struct StoreFacts {
    pub matrix: PermissionMatrix,
    pub mfa_policies: Vec<(Role, MfaPolicy)>,
    pub accounts: Vec<AccountFacts>,
    /// The newest event of each action in [`EVIDENCE_ACTIONS`] by its wire name: of any outcome,
    /// but only successful sign-offs and approvals.
    pub newest: BTreeMap<String, AuditEvent>,
    /// How many times emergency mode was entered (all time).
    pub emergency_entries: usize,
    pub emergency: Option<EmergencyState>,
    /// Items waiting for a timestamp, and since when the oldest waits.
    pub stamp_backlog: (i64, Option<Timestamp>),
    pub latest_checkpoint: Option<CheckpointRow>,
    /// The location register's current administrator entries (retired ones left out).
    pub locations: Vec<LocationEntry>,
    pub break_glass: Vec<BreakGlassRecord>,
    /// Manual attestations of checklist items, newest first.
    pub attestations: Vec<AuditEvent>,
    /// The facility profile's latest revision (the facility's name and class B/C), if saved.
    pub profile: Option<crate::governance::ProfileRecord>,
    /// The newest entry of each ledger (台帳) that has one, by the ledger's kind name.
    pub ledgers: BTreeMap<String, LedgerFact>,
}

/// A ledger's newest entry as evidence: when it was recorded, its date, and whether it waits for
/// an approval (which is no evidence yet).
#[derive(Debug, Clone)]
pub struct LedgerFact {
    pub id: String,
    pub entered_at: Timestamp,
    pub entered_by: String,
    /// The entry's own date field (`YYYY-MM-DD`), if the ledger has one.
    pub entry_date: Option<String>,
    pub status: kiroku_core::ledgers::EntryStatus,
}

/// The actions whose newest event is evidence. Actions added by other parts of kiroku are named by
/// their wire names and looked up, so an action this build does not know is simply absent.
pub const EVIDENCE_ACTIONS: &[&str] = &[
    "backup",
    "backup_verify",
    "restore",
    "restore_drill",
    "fixity_check",
    "audit_review_signoff",
    "access_review_signoff",
    "record_export",
    "signature_add",
    "timestamp_add",
    "emergency_mode_enter",
    "emergency_mode_leave",
    "checklist_signoff",
    "regulation_approve",
];

/// How many attestation events are read (the newest per item counts).
const ATTESTATION_LIMIT: i64 = 5_000;

/// Reads [`StoreFacts`] in one read transaction.
pub async fn gather(tx: &mut dyn crate::Tx) -> Result<StoreFacts> {
    let matrix = crate::engine::load_matrix(tx).await?;
    let stored = tx.list_mfa_policies().await?;
    let mut mfa_policies = Vec::new();
    for role in Role::ALL {
        let row = stored.iter().find(|(r, _, _)| r == role.as_str());
        mfa_policies.push((*role, mfa_policy_of(row.map(|(_, m, _)| m.as_str()), row.and_then(|(_, _, f)| *f))?));
    }
    let mut accounts = Vec::new();
    for user in tx.list_users().await? {
        let factors = tx.list_second_factors(user.username.as_str()).await?;
        accounts.push(AccountFacts {
            username: user.username.to_string(),
            role: user.role,
            kind: user.kind,
            disabled: user.disabled,
            has_second_factor: factors.iter().any(|f| f.confirmed_at.is_some()),
            last_login_at: user.last_login_at,
        });
    }
    let mut newest = BTreeMap::new();
    for name in EVIDENCE_ACTIONS {
        let Some(action) = AuditAction::parse(name) else { continue };
        // A refused sign-off or approval is no evidence, and must not hide the last one that stood;
        // a failed backup, drill or fixity check is evidence (of a failure).
        let outcome = (name.ends_with("_signoff") || name.ends_with("_approve")).then_some(kiroku_core::Outcome::Success);
        let filter = AuditFilter { action: Some(action), outcome, ..AuditFilter::default() };
        if let Some(e) = tx.query_audit(&filter, 1).await?.into_iter().next() {
            newest.insert((*name).to_string(), e);
        }
    }
    let emergency_entries =
        tx.query_audit(&AuditFilter { action: Some(AuditAction::EmergencyModeEnter), ..AuditFilter::default() }, 10_000).await?.len();
    let emergency = tx.emergency_state().await?;
    let (waiting, oldest) = tx.stamp_backlog().await?;
    let latest_checkpoint = tx.latest_checkpoint().await?;
    let mut current: BTreeMap<String, LocationEntry> = BTreeMap::new();
    for entry in tx.location_entries(None).await? {
        current.insert(entry.id.clone(), entry);
    }
    let locations = current.into_values().filter(|e| !e.retired).collect();
    let break_glass = tx.list_break_glass().await?;
    let attestations = match AuditAction::parse("checklist_attest") {
        Some(action) => tx.query_audit(&AuditFilter { action: Some(action), ..AuditFilter::default() }, ATTESTATION_LIMIT).await?,
        None => Vec::new(),
    };
    let profile = tx.governance_state().await?.profiles.pop();
    let mut ledgers = BTreeMap::new();
    for kind in kiroku_core::ledgers::LedgerKind::ALL {
        // The newest entry of each ledger: entries never go away, so one row says enough.
        let Some(newest) = tx.ledger_current(Some(kind.as_str()), None, None, None, 1).await?.into_iter().next() else { continue };
        let events = tx.ledger_events(&newest.id).await?;
        let facts: Vec<_> = events.iter().map(|e| kiroku_core::ledgers::EventFacts { kind: e.kind, revision: e.revision }).collect();
        let status = kiroku_core::ledgers::status(kind.def(), newest.revision, &facts);
        ledgers.insert(
            kind.as_str().to_string(),
            LedgerFact {
                id: newest.id,
                entered_at: newest.entered_at,
                entered_by: newest.entered_by.to_string(),
                entry_date: newest.entry_date,
                status,
            },
        );
    }
    Ok(StoreFacts {
        profile,
        ledgers,
        matrix,
        mfa_policies,
        accounts,
        newest,
        emergency_entries,
        emergency,
        stamp_backlog: (waiting, oldest.map(Timestamp::from_micros)),
        latest_checkpoint,
        locations,
        break_glass,
        attestations,
    })
}

impl crate::Store {
    /// The checklist's facts, read without the writer and without an audit event (no patient data).
    pub async fn governance_facts(&self) -> Result<StoreFacts> {
        let mut tx = self.backend().begin_read().await?;
        let facts = gather(tx.as_mut()).await;
        tx.rollback().await?;
        facts
    }
}
