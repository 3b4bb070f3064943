//! What a storage backend provides: transactions with a small set of primitives.
//!
//! Backends hold no rules. Ordering (sequence numbers, audit ids) is decided inside the database
//! transaction by updating the single `log_head` row, so several processes sharing one PostgreSQL
//! still produce one gap-free order.

use async_trait::async_trait;
use kiroku_core::AuditEvent;

use crate::error::Result;
use crate::records::*;

/// A storage backend: one database.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A transaction for the writer; the backend's durability settings apply to its commit.
    async fn begin_write(&self) -> Result<Box<dyn Tx>>;
    /// A transaction for reads outside the writer (sessions, verification); it must not write.
    async fn begin_read(&self) -> Result<Box<dyn Tx>>;
    /// The backend's name for health output (`sqlite`, `postgres`).
    fn kind(&self) -> &'static str;
    /// The applied schema version.
    async fn schema_version(&self) -> Result<i64>;
    /// The newest schema version this build knows.
    fn latest_schema(&self) -> i64;
    /// Where the database is, for the location register: a file path or host/port/database, never
    /// credentials.
    fn location(&self) -> String;
    /// The database's size in bytes, where the backend can tell.
    async fn size_bytes(&self) -> Result<Option<u64>>;
    /// A session by its token hash with its account, read outside the writer in one statement.
    async fn session(&self, token_hash: &str) -> Result<Option<SessionWithUser>>;
    /// Writes a consistent copy of the whole database, as of one moment, into the new file `dest`
    /// while the store keeps serving (backups): a SQLite database file, or a `pg_dump` archive.
    /// A backend that cannot says so with `Unsupported`.
    async fn snapshot_into(&self, dest: &std::path::Path) -> Result<()>;
}

/// The primitives of one transaction. Every method is a single statement or two; rules live in
/// [`crate::engine`].
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;

    /// How many statements of this transaction changed rows so far. The writer uses it to tell a
    /// refusal before any change (rolled back by forgetting the command's buffered rows) from a
    /// failure after one (the whole batch is rolled back).
    fn writes(&self) -> u64;
    /// Locks the log head row until the transaction ends and returns the counters: the last write
    /// number, the last audit id, the matrix version and the tree size.
    async fn lock_head(&mut self) -> Result<LogHead>;
    /// The log's tree size, without taking the lock.
    async fn tree_size(&mut self) -> Result<i64>;
    /// Emergency read-only mode as stored, read without taking the lock (the server's monitor).
    async fn emergency_state(&mut self) -> Result<Option<crate::operations::EmergencyState>>;
    /// Stores emergency read-only mode (`None`: normal operation) on the log head row.
    async fn set_emergency(&mut self, state: Option<&crate::operations::EmergencyState>) -> Result<()>;
    /// Appends a revision of an administrator's location register entry.
    async fn insert_location_entry(&mut self, entry: &crate::operations::LocationEntry) -> Result<()>;
    /// Every revision of the location register, by id then revision; `id` narrows it to one entry.
    async fn location_entries(&mut self, id: Option<&str>) -> Result<Vec<crate::operations::LocationEntry>>;
    /// Appends a facility profile revision (schema 10).
    async fn insert_profile(&mut self, row: &crate::governance::ProfileRecord) -> Result<()>;
    /// Appends a generated regulation revision.
    async fn insert_regulation(&mut self, row: &crate::governance::RegulationRecord) -> Result<()>;
    /// Appends a regulation approval.
    async fn insert_regulation_approval(&mut self, row: &crate::governance::ApprovalRecord) -> Result<()>;
    /// Every governance record, each table by revision.
    async fn governance_state(&mut self) -> Result<crate::governance::GovernanceState>;
    /// Appends a revision of a ledger entry (governance ledgers, schema 11).
    async fn insert_ledger_revision(&mut self, revision: &crate::governance_ledgers::LedgerRevision) -> Result<()>;
    async fn insert_ledger_event(&mut self, event: &crate::governance_ledgers::LedgerEvent) -> Result<()>;
    async fn insert_ledger_attachment(&mut self, attachment: &crate::governance_ledgers::LedgerAttachment) -> Result<()>;
    /// Every revision of one entry, oldest first.
    async fn ledger_revisions(&mut self, id: &str) -> Result<Vec<crate::governance_ledgers::LedgerRevision>>;
    /// Every event of one entry, oldest first.
    async fn ledger_events(&mut self, id: &str) -> Result<Vec<crate::governance_ledgers::LedgerEvent>>;
    async fn ledger_attachments(&mut self, id: &str) -> Result<Vec<crate::governance_ledgers::LedgerAttachment>>;
    /// The newest revision of each entry (of one ledger, or all), newest entry first: ids below
    /// `before`, the date field within `from..=to` (`YYYY-MM-DD`) when given.
    async fn ledger_current(
        &mut self,
        kind: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<crate::governance_ledgers::LedgerRevision>>;
    /// Ledger rows in write order after `after_seq` (each table has at most one row per write), for
    /// verification.
    async fn scan_ledger_revisions(&mut self, after_seq: i64, limit: i64) -> Result<Vec<crate::governance_ledgers::LedgerRevision>>;
    async fn scan_ledger_events(&mut self, after_seq: i64, limit: i64) -> Result<Vec<crate::governance_ledgers::LedgerEvent>>;
    async fn scan_ledger_attachments(&mut self, after_seq: i64, limit: i64) -> Result<Vec<crate::governance_ledgers::LedgerAttachment>>;
    /// Stores the counters at the end of a batch.
    async fn save_head(&mut self, last_seq: i64, last_event: i64, tree_size: i64) -> Result<()>;
    /// Inserts audit events (with their ids) in one statement per thousand.
    async fn insert_audit_rows(&mut self, events: &[AuditEvent]) -> Result<()>;
    async fn insert_leaves(&mut self, leaves: &[LeafRow]) -> Result<()>;
    /// Stores perfect subtrees above the leaves as (level ≥ 1, index, hash).
    async fn insert_nodes(&mut self, nodes: &[(i64, i64, String)]) -> Result<()>;
    /// A stored node's hash; level 0 reads the leaves.
    async fn get_node(&mut self, level: i64, idx: i64) -> Result<Option<String>>;
    async fn scan_leaves(&mut self, after: i64, limit: i64) -> Result<Vec<LeafRow>>;
    /// The leaf that stands for a row, by its kind and reference.
    async fn find_leaf(&mut self, kind: &str, ref_id: &str, ref_version: Option<i64>) -> Result<Option<LeafRow>>;
    /// Stores a signed checkpoint; returns false when one of that size exists.
    async fn insert_checkpoint(&mut self, checkpoint: &CheckpointRow) -> Result<bool>;
    async fn latest_checkpoint(&mut self) -> Result<Option<CheckpointRow>>;
    async fn list_checkpoints(&mut self) -> Result<Vec<CheckpointRow>>;
    /// How far the export `name` has delivered (the last audit id sent), if it ever ran.
    async fn export_cursor(&mut self, name: &str) -> Result<Option<i64>>;
    /// Records that the export `name` has delivered every event up to `last_id`.
    async fn set_export_cursor(&mut self, name: &str, last_id: i64, at: i64) -> Result<()>;
    async fn query_audit(&mut self, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEvent>>;
    /// Audit events in id order from `after` (exclusive), for verification.
    async fn scan_audit(&mut self, after: i64, limit: i64) -> Result<Vec<AuditEvent>>;
    /// Audit events with `from <= time < to` in id order after `after`, for review reports.
    async fn scan_audit_between(&mut self, from: i64, to: i64, after: i64, limit: i64) -> Result<Vec<AuditEvent>>;
    /// Documents of a restricted information class (anything but normal), with their class.
    async fn restricted_documents(&mut self) -> Result<Vec<(String, String)>>;

    async fn load_grants(&mut self) -> Result<Vec<(String, String)>>;
    /// Adds or removes one grant and bumps the matrix version; returns whether anything changed.
    async fn set_grant(&mut self, role: &str, grant_key: &str, allowed: bool) -> Result<bool>;

    async fn insert_user(&mut self, user: &UserRecord) -> Result<bool>;
    async fn get_user(&mut self, username: &str) -> Result<Option<UserRecord>>;
    async fn update_user(&mut self, user: &UserRecord) -> Result<()>;
    async fn list_users(&mut self) -> Result<Vec<UserRecord>>;
    async fn count_users(&mut self) -> Result<i64>;
    async fn insert_password_history(&mut self, username: &str, hash: &str, at: i64) -> Result<()>;
    async fn password_history(&mut self, username: &str, limit: i64) -> Result<Vec<String>>;

    /// The user's chosen UI language, if any.
    async fn get_language(&mut self, username: &str) -> Result<Option<String>>;
    async fn set_language(&mut self, username: &str, language: &str, at: i64) -> Result<()>;

    async fn insert_session(&mut self, session: &SessionRecord) -> Result<()>;
    async fn get_session(&mut self, token_hash: &str) -> Result<Option<SessionRecord>>;
    async fn touch_session(&mut self, id: &str, at: i64) -> Result<()>;
    async fn revoke_session(&mut self, id: &str, at: i64) -> Result<()>;
    async fn revoke_user_sessions(&mut self, username: &str, at: i64) -> Result<u64>;
    async fn get_session_by_id(&mut self, id: &str) -> Result<Option<SessionRecord>>;
    /// The account's sessions that are neither revoked nor past their lifetime, newest first.
    async fn list_live_sessions(&mut self, username: &str, now: i64) -> Result<Vec<SessionRecord>>;
    async fn set_session_stage(&mut self, id: &str, stage: &str, second_factor: Option<&str>) -> Result<()>;
    /// Ends every session of the account but `keep`; answers how many.
    async fn revoke_other_sessions(&mut self, username: &str, keep: &str, at: i64) -> Result<u64>;

    async fn insert_second_factor(&mut self, factor: &SecondFactorRecord) -> Result<()>;
    /// Stores a factor's confirmation, last accepted step and removal.
    async fn update_second_factor(&mut self, factor: &SecondFactorRecord) -> Result<()>;
    /// The account's factors that were not removed (confirmed or still enrolling).
    async fn list_second_factors(&mut self, username: &str) -> Result<Vec<SecondFactorRecord>>;
    /// Marks the unused recovery codes used and stores new ones.
    async fn replace_recovery_codes(&mut self, username: &str, hashes: &[String], at: i64) -> Result<()>;
    /// Uses a recovery code once; false when it is unknown or used.
    async fn use_recovery_code(&mut self, username: &str, hash: &str, at: i64) -> Result<bool>;
    async fn unused_recovery_codes(&mut self, username: &str) -> Result<i64>;
    /// (role, mode, required_from) of every role with a stored policy.
    async fn list_mfa_policies(&mut self) -> Result<Vec<(String, String, Option<i64>)>>;
    async fn insert_break_glass(&mut self, record: &BreakGlassRecord) -> Result<()>;
    async fn update_break_glass(&mut self, record: &BreakGlassRecord) -> Result<()>;
    async fn get_break_glass(&mut self, username: &str) -> Result<Option<BreakGlassRecord>>;
    async fn list_break_glass(&mut self) -> Result<Vec<BreakGlassRecord>>;
    async fn set_mfa_policy(&mut self, role: &str, mode: &str, required_from: Option<i64>, at: i64, by: &str) -> Result<()>;

    async fn insert_work_order(&mut self, order: &WorkOrder) -> Result<()>;
    async fn get_work_order(&mut self, id: &str) -> Result<Option<WorkOrder>>;
    /// Every work order, newest window first.
    async fn list_work_orders(&mut self) -> Result<Vec<WorkOrder>>;
    async fn insert_work_order_signoff(&mut self, signoff: &WorkOrderSignoff) -> Result<()>;
    async fn get_work_order_signoff(&mut self, order_id: &str) -> Result<Option<WorkOrderSignoff>>;
    async fn list_work_order_signoffs(&mut self) -> Result<Vec<WorkOrderSignoff>>;
    /// Every session of an account whose id starts with `prefix`, oldest first.
    async fn sessions_with_prefix(&mut self, username: &str, prefix: &str) -> Result<Vec<SessionRecord>>;
    async fn insert_api_token(&mut self, token: &ApiTokenRecord) -> Result<()>;
    async fn get_api_token_by_hash(&mut self, token_hash: &str) -> Result<Option<ApiTokenRecord>>;
    async fn list_api_tokens(&mut self) -> Result<Vec<ApiTokenRecord>>;
    /// Revokes a token that is not revoked yet; answers whether it did.
    async fn revoke_api_token(&mut self, id: &str, at: i64, by: &str) -> Result<bool>;
    async fn insert_factor_reset(&mut self, reset: &FactorResetRecord) -> Result<()>;
    async fn list_factor_resets(&mut self) -> Result<Vec<FactorResetRecord>>;
    /// Stores a reset's approval and use.
    async fn update_factor_reset(&mut self, reset: &FactorResetRecord) -> Result<()>;
    async fn insert_left_marker(&mut self, marker: &LeftMarker) -> Result<()>;
    /// Every left marker, oldest first (the newest per account counts).
    async fn list_left_markers(&mut self) -> Result<Vec<LeftMarker>>;

    async fn insert_patient(&mut self, patient: &Patient) -> Result<bool>;
    async fn get_patient(&mut self, patient_id: &str) -> Result<Option<Patient>>;
    async fn search_patients(&mut self, query: &str, limit: i64) -> Result<Vec<Patient>>;
    /// Up to `limit` patient IDs after `after` in ID order (keyset paging; `""` for the first page).
    async fn patient_ids_after(&mut self, after: &str, limit: i64) -> Result<Vec<String>>;

    async fn insert_head(&mut self, head: &DocumentHead) -> Result<()>;
    async fn update_head(&mut self, head: &DocumentHead) -> Result<()>;
    async fn get_head(&mut self, id: &str) -> Result<Option<DocumentHead>>;
    /// A document's head with one of its versions (`None`: the current one), in one statement.
    async fn get_head_with_version(&mut self, id: &str, version: Option<i64>) -> Result<Option<(DocumentHead, Option<VersionRecord>)>>;
    async fn list_heads(&mut self, patient_id: &str) -> Result<Vec<DocumentHead>>;
    async fn list_pending_for(&mut self, username: &str) -> Result<Vec<DocumentHead>>;
    /// Every document head of a patient, oldest first, without a limit (whole-record export).
    async fn patient_heads(&mut self, patient_id: &str) -> Result<Vec<DocumentHead>>;
    /// Every version of every document of a patient, by document and version.
    async fn patient_versions(&mut self, patient_id: &str) -> Result<Vec<VersionRecord>>;
    /// Every attestation of every document of a patient, by document, version and write.
    async fn patient_attestations(&mut self, patient_id: &str) -> Result<Vec<Attestation>>;
    /// Every attachment of every document of a patient, by document and write.
    async fn patient_attachments(&mut self, patient_id: &str) -> Result<Vec<AttachmentRecord>>;

    async fn insert_version(&mut self, version: &VersionRecord) -> Result<()>;
    async fn get_version(&mut self, id: &str, version: i64) -> Result<Option<VersionRecord>>;
    async fn list_versions(&mut self, id: &str) -> Result<Vec<VersionRecord>>;
    /// Versions of all documents in (document id, version) order after `after`, for verification.
    async fn scan_versions(&mut self, after: Option<(&str, i64)>, limit: i64) -> Result<Vec<VersionRecord>>;

    async fn insert_attestation(&mut self, attestation: &Attestation) -> Result<()>;
    async fn list_attestations(&mut self, id: &str) -> Result<Vec<Attestation>>;
    /// Attestations of all documents in (document id, version, kind) order after `after`.
    async fn scan_attestations(&mut self, after: Option<(&str, i64, &str)>, limit: i64) -> Result<Vec<Attestation>>;

    async fn insert_attachment(&mut self, attachment: &AttachmentRecord) -> Result<()>;
    async fn list_attachments(&mut self, document_id: &str) -> Result<Vec<AttachmentRecord>>;
    async fn get_attachment(&mut self, document_id: &str, id: &str) -> Result<Option<AttachmentRecord>>;
    async fn scan_attachments(&mut self, after: &str, limit: i64) -> Result<Vec<AttachmentRecord>>;
    /// An attachment by its id alone (stamping and verification know no document first).
    async fn attachment_by_id(&mut self, id: &str) -> Result<Option<AttachmentRecord>>;

    async fn insert_stamp(&mut self, stamp: &StampRecord) -> Result<()>;
    async fn insert_stamp_items(&mut self, items: &[StampItem]) -> Result<()>;
    async fn get_stamp(&mut self, id: &str) -> Result<Option<StampRecord>>;
    /// Stamps in id (= time) order after `after`.
    async fn scan_stamps(&mut self, after: &str, limit: i64) -> Result<Vec<StampRecord>>;
    /// Stamp items in (kind, id, version) order after `after`.
    async fn scan_stamp_items(&mut self, after: Option<(&str, &str, i64)>, limit: i64) -> Result<Vec<StampItem>>;
    async fn get_stamp_item(&mut self, item_kind: &str, ref_id: &str, ref_version: i64) -> Result<Option<StampItem>>;
    /// Confirmed versions and signatures without a stamp, oldest first.
    async fn pending_stamps(&mut self, limit: i64) -> Result<Vec<PendingStamp>>;
    /// How many items wait for a stamp, and since when the oldest waits (µs).
    async fn stamp_backlog(&mut self) -> Result<(i64, Option<i64>)>;

    async fn insert_signature(&mut self, signature: &SignatureRecord) -> Result<()>;
    async fn get_signature(&mut self, id: &str) -> Result<Option<SignatureRecord>>;
    async fn list_signatures(&mut self, document_id: &str) -> Result<Vec<SignatureRecord>>;
    async fn scan_signatures(&mut self, after: &str, limit: i64) -> Result<Vec<SignatureRecord>>;

    async fn insert_evidence(&mut self, evidence: &crate::records::EvidenceRecord) -> Result<()>;
    /// The validation data of one signature or timestamp, in the order it was kept.
    async fn list_evidence(&mut self, owner_kind: &str, owner_id: &str) -> Result<Vec<crate::records::EvidenceRecord>>;
    async fn scan_evidence(&mut self, after: &str, limit: i64) -> Result<Vec<crate::records::EvidenceRecord>>;
    async fn insert_webauthn_credential(&mut self, credential: &WebauthnCredential) -> Result<()>;
    async fn insert_webauthn_event(&mut self, event: &WebauthnEvent) -> Result<()>;
    /// The account's credentials with their events folded in, removed ones too, oldest first.
    async fn list_webauthn_keys(&mut self, username: &str) -> Result<Vec<WebauthnKey>>;
    /// Credentials in id order after `after`, with every event of each (for verification).
    async fn scan_webauthn(&mut self, after: &str, limit: i64) -> Result<Vec<(WebauthnCredential, Vec<WebauthnEvent>)>>;
    /// Scanned paper (schema 15).
    async fn insert_scan_type(&mut self, t: &crate::scan::ScanTypeRecord) -> Result<()>;
    /// Every revision of every scan type (or of `code`), by code then revision.
    async fn scan_types(&mut self, code: Option<&str>) -> Result<Vec<crate::scan::ScanTypeRecord>>;
    async fn insert_scan_item(&mut self, item: &crate::scan::ScanItemRecord) -> Result<()>;
    async fn get_scan_item(&mut self, id: &str) -> Result<Option<crate::scan::ScanItemRecord>>;
    /// Scan items (of one patient, or all) in id order after `after`.
    async fn scan_items(&mut self, patient_id: Option<&str>, after: &str, limit: i64) -> Result<Vec<crate::scan::ScanItemRecord>>;
    async fn insert_scan_event(&mut self, event: &crate::scan::ScanEventRecord) -> Result<()>;
    /// The events of one item (or of all), by item then time.
    async fn scan_events(&mut self, item_id: Option<&str>) -> Result<Vec<crate::scan::ScanEventRecord>>;
}
