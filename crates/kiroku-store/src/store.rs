//! [`Store`]: the handle the server and CLI use. Commands go to the writer; session checks and
//! verification read through the backend directly.

use std::sync::Arc;

use kiroku_core::{AuditEvent, PermissionMatrix};

use crate::backend::Backend;
use crate::command::{Command, Reply};
use crate::error::{Result, StoreError};
use crate::operations::{EmergencyMode, EmergencyState};
use crate::records::*;
use crate::writer::Writer;

#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    writer: Writer,
    emergency: Arc<EmergencyMode>,
}

impl Store {
    /// Starts the writer for `backend`. Must be called inside a tokio runtime.
    pub fn start(backend: Arc<dyn Backend>) -> Store {
        let emergency = Arc::new(EmergencyMode::default());
        let (writer, _task) = Writer::start(backend.clone(), emergency.clone());
        Store { backend, writer, emergency }
    }

    /// Emergency read-only mode as this process knows it (kept current by every write batch and
    /// by [`Store::refresh_emergency`]).
    pub fn emergency(&self) -> &Arc<EmergencyMode> {
        &self.emergency
    }

    /// Reads the stored mode, so that a mode entered by another process sharing the database shows
    /// here even while this one writes nothing.
    pub async fn refresh_emergency(&self) -> Result<Option<EmergencyState>> {
        let mut tx = self.backend.begin_read().await?;
        let state = tx.emergency_state().await?;
        tx.rollback().await?;
        self.emergency.set_stored(state.clone());
        Ok(state)
    }

    /// Whether `role` holds `permission` in the stored matrix, for pages that show no records
    /// (status pages) and so need no audited command; the decision is `PermissionMatrix::check`.
    pub async fn allows(&self, role: kiroku_core::Role, permission: kiroku_core::Permission) -> Result<bool> {
        let mut tx = self.backend.begin_read().await?;
        let matrix = crate::engine::load_matrix(tx.as_mut()).await?;
        tx.rollback().await?;
        Ok(matrix.check(role, permission, None).is_ok())
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Executes a command through the single writer; answers once it is durable.
    pub async fn execute(&self, command: Command) -> Result<Reply> {
        self.writer.submit(command).await
    }

    /// A session by its token hash, with its account, read outside the writer.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionWithUser>> {
        self.backend.session(token_hash).await
    }

    /// An account as stored, for checking a password before the login command.
    pub async fn user(&self, username: &str) -> Result<Option<UserRecord>> {
        let mut tx = self.backend.begin_read().await?;
        let user = tx.get_user(username).await?;
        tx.rollback().await?;
        Ok(user)
    }

    /// The account's authenticators (confirmed or enrolling), for checking a code before the command.
    pub async fn second_factors(&self, username: &str) -> Result<Vec<SecondFactorRecord>> {
        let mut tx = self.backend.begin_read().await?;
        let factors = tx.list_second_factors(username).await?;
        tx.rollback().await?;
        Ok(factors)
    }

    /// The account's WebAuthn credentials as they stand, removed ones too.
    pub async fn webauthn_keys(&self, username: &str) -> Result<Vec<WebauthnKey>> {
        let mut tx = self.backend.begin_read().await?;
        let keys = tx.list_webauthn_keys(username).await?;
        tx.rollback().await?;
        Ok(keys)
    }

    /// Break-glass accounts in use now, for the banner every page shows while one is.
    pub async fn active_break_glass(&self) -> Result<Vec<BreakGlassRecord>> {
        let mut tx = self.backend.begin_read().await?;
        let all = tx.list_break_glass().await?;
        tx.rollback().await?;
        let now = kiroku_core::Timestamp::now();
        Ok(all.into_iter().filter(|b| b.is_active(now)).collect())
    }

    /// A work order by its id, read outside the writer for every request of a maintenance session.
    pub async fn work_order(&self, id: &str) -> Result<Option<WorkOrderStatus>> {
        let mut tx = self.backend.begin_read().await?;
        let order = tx.get_work_order(id).await?;
        let signoff = match &order {
            Some(_) => tx.get_work_order_signoff(id).await?,
            None => None,
        };
        tx.rollback().await?;
        Ok(order.map(|order| WorkOrderStatus { order, signoff }))
    }

    /// An API token by its hash with its service account, read outside the writer.
    pub async fn api_token(&self, token_hash: &str) -> Result<Option<(ApiTokenRecord, UserRecord)>> {
        let mut tx = self.backend.begin_read().await?;
        let token = tx.get_api_token_by_hash(token_hash).await?;
        let found = match token {
            Some(token) => tx.get_user(token.username.as_str()).await?.map(|user| (token, user)),
            None => None,
        };
        tx.rollback().await?;
        Ok(found)
    }

    /// The user's chosen UI language, if they chose one.
    pub async fn language(&self, username: &str) -> Result<Option<String>> {
        let mut tx = self.backend.begin_read().await?;
        let language = tx.get_language(username).await?;
        tx.rollback().await?;
        Ok(language)
    }

    /// The last `limit` password hashes of an account, newest first.
    pub async fn password_history(&self, username: &str, limit: i64) -> Result<Vec<String>> {
        let mut tx = self.backend.begin_read().await?;
        let hashes = tx.password_history(username, limit).await?;
        tx.rollback().await?;
        Ok(hashes)
    }

    /// The log's current size and root, read without the writer.
    pub async fn tree_head(&self) -> Result<(u64, kiroku_log::Hash)> {
        let mut tx = self.backend.begin_read().await?;
        let size = tx.tree_size().await? as u64;
        let root = crate::ledger::load_frontier(tx.as_mut(), size).await?.root();
        tx.rollback().await?;
        Ok((size, root))
    }

    /// The root of the log's first `size` leaves, as this store holds them: a backup made at `size`
    /// is part of this history exactly when its root equals this one.
    pub async fn root_at(&self, size: u64) -> Result<kiroku_log::Hash> {
        let mut tx = self.backend.begin_read().await?;
        self.check_size(tx.as_mut(), size).await?;
        let root = crate::ledger::load_frontier(tx.as_mut(), size).await?.root();
        tx.rollback().await?;
        Ok(root)
    }

    /// The audit path of leaf `index` in the tree of `size` (hashes only; no record content).
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<kiroku_log::Hash>> {
        let mut tx = self.backend.begin_read().await?;
        self.check_size(tx.as_mut(), size).await?;
        let proof = crate::ledger::inclusion(tx.as_mut(), index, size).await;
        tx.rollback().await?;
        proof
    }

    /// The consistency proof between two tree sizes.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<kiroku_log::Hash>> {
        let mut tx = self.backend.begin_read().await?;
        self.check_size(tx.as_mut(), new).await?;
        let proof = crate::ledger::consistency(tx.as_mut(), old, new).await;
        tx.rollback().await?;
        proof
    }

    async fn check_size(&self, tx: &mut dyn crate::Tx, size: u64) -> Result<()> {
        let current = tx.tree_size().await? as u64;
        if size == 0 || size > current {
            return Err(kiroku_core::DomainError::invalid("size", format!("must be between 1 and the tree size {current}")).into());
        }
        Ok(())
    }

    /// The newest signed checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        let mut tx = self.backend.begin_read().await?;
        let cp = tx.latest_checkpoint().await?;
        tx.rollback().await?;
        Ok(cp)
    }

    /// How far the export `name` has delivered: the last audit id a collector took, 0 if none.
    pub async fn export_cursor(&self, name: &str) -> Result<i64> {
        let mut tx = self.backend.begin_read().await?;
        let cursor = tx.export_cursor(name).await?;
        tx.rollback().await?;
        Ok(cursor.unwrap_or(0))
    }

    /// Up to `limit` audit events after id `after`, oldest first, read without the writer (exports).
    pub async fn audit_after(&self, after: i64, limit: i64) -> Result<Vec<AuditEvent>> {
        let mut tx = self.backend.begin_read().await?;
        let events = tx.scan_audit(after, limit).await?;
        tx.rollback().await?;
        Ok(events)
    }

    /// The newest audit event's id, 0 on an empty trail.
    pub async fn last_audit_id(&self) -> Result<i64> {
        let mut tx = self.backend.begin_read().await?;
        let newest = tx.query_audit(&AuditFilter::default(), 1).await?.first().map_or(0, |e| e.id);
        tx.rollback().await?;
        Ok(newest)
    }

    /// Up to `limit` confirmed versions and signatures that wait for a timestamp, oldest first.
    /// Hashes and identifiers only, no clinical content.
    pub async fn pending_stamps(&self, limit: i64) -> Result<Vec<PendingStamp>> {
        let mut tx = self.backend.begin_read().await?;
        let pending = tx.pending_stamps(limit).await?;
        tx.rollback().await?;
        Ok(pending)
    }

    /// How many items wait for a timestamp, and since when the oldest waits.
    pub async fn stamp_backlog(&self) -> Result<(i64, Option<kiroku_core::Timestamp>)> {
        let mut tx = self.backend.begin_read().await?;
        let (n, oldest) = tx.stamp_backlog().await?;
        tx.rollback().await?;
        Ok((n, oldest.map(kiroku_core::Timestamp::from_micros)))
    }

    /// Every stamp with its renewals and its TSA's revocation answers, for the archive job and for
    /// showing a version's or a file's proof.
    pub async fn stamp_chains(&self) -> Result<crate::stamps::StampChains> {
        let mut tx = self.backend.begin_read().await?;
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let page = tx.scan_stamps(&after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            all.extend(page);
        }
        let mut evidence = Vec::new();
        let mut after = String::new();
        loop {
            let page = tx.scan_evidence(&after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            evidence.extend(page.into_iter().filter(|e| e.owner_kind == "timestamp"));
        }
        tx.rollback().await?;
        Ok(crate::stamps::StampChains::new(all).with_evidence(&evidence))
    }

    /// The stamp item of a version or a signature, if it has been stamped.
    pub async fn stamp_item(&self, item_kind: &str, ref_id: &str, ref_version: i64) -> Result<Option<StampItem>> {
        let mut tx = self.backend.begin_read().await?;
        let item = tx.get_stamp_item(item_kind, ref_id, ref_version).await?;
        tx.rollback().await?;
        Ok(item)
    }

    /// The signatures of a document; callers read the document through a command first.
    pub async fn signatures(&self, document_id: &str) -> Result<Vec<SignatureRecord>> {
        let mut tx = self.backend.begin_read().await?;
        let signatures = tx.list_signatures(document_id).await?;
        tx.rollback().await?;
        Ok(signatures)
    }

    /// The validation data kept with a signature (`signature`) or a timestamp (`timestamp`).
    pub async fn evidence(&self, owner_kind: &str, owner_id: &str) -> Result<Vec<crate::records::EvidenceRecord>> {
        let mut tx = self.backend.begin_read().await?;
        let evidence = tx.list_evidence(owner_kind, owner_id).await?;
        tx.rollback().await?;
        Ok(evidence)
    }

    pub async fn is_initialised(&self) -> Result<bool> {
        let mut tx = self.backend.begin_read().await?;
        let n = tx.count_users().await?;
        tx.rollback().await?;
        Ok(n > 0)
    }
}

fn unexpected(reply: &Reply) -> StoreError {
    StoreError::Corrupt(format!("unexpected reply from the writer: {}", reply_name(reply)))
}

fn reply_name(reply: &Reply) -> &'static str {
    match reply {
        Reply::Done => "done",
        Reply::User(_) => "user",
        Reply::Users(_) => "users",
        Reply::LoginFailed { .. } => "login_failed",
        Reply::Matrix(_) => "matrix",
        Reply::Patient(_) => "patient",
        Reply::Patients(_) => "patients",
        Reply::Document(_) => "document",
        Reply::Documents(_) => "documents",
        Reply::Versions(_) => "versions",
        Reply::Attachment(_) => "attachment",
        Reply::Audit(_) => "audit",
        Reply::VersionProof(_) => "version_proof",
        Reply::Review(_) => "review",
        Reply::LoggedIn(..) => "logged_in",
        Reply::Sessions(_) => "sessions",
        Reply::MfaPolicies(_) => "mfa_policies",
        Reply::Signature(_) => "signature",
        Reply::PatientIds(_) => "patient_ids",
        Reply::PatientRecord(_) => "patient_record",
        Reply::LoginRefused(_) => "login_refused",
        Reply::BreakGlass(_) => "break_glass",
        Reply::Emergency(_) => "emergency",
        Reply::Locations(_) => "locations",
        Reply::LocationEntries(_) => "location_entries",
        Reply::WorkOrders(_) => "work_orders",
        Reply::WorkOrderReport(_) => "work_order_report",
        Reply::ApiTokens(_) => "api_tokens",
        Reply::FactorResets(_) => "factor_resets",
        Reply::AccessReport(_) => "access_report",
        Reply::Governance(_) => "governance",
        Reply::ScanTypes(_) => "scan_types",
        Reply::ScanRegister(_) => "scan_register",
        Reply::ScanEntry(_) => "scan_entry",
        Reply::LedgerEntry(_) => "ledger_entry",
        Reply::LedgerPage(_) => "ledger_page",
        Reply::LedgerAttachment(_) => "ledger_attachment",
        Reply::Duties(_) => "duties",
    }
}

macro_rules! into {
    ($($fn:ident => $variant:ident($t:ty)),+ $(,)?) => {
        impl Reply {
            $(pub fn $fn(self) -> Result<$t> {
                match self {
                    Reply::$variant(v) => Ok(v.into()),
                    other => Err(unexpected(&other)),
                }
            })+
        }
    };
}

into! {
    into_user => User(UserRecord),
    into_users => Users(Vec<UserRecord>),
    into_matrix => Matrix(PermissionMatrix),
    into_patient => Patient(Patient),
    into_patients => Patients(Vec<Patient>),
    into_document => Document(Box<DocumentView>),
    into_documents => Documents(Vec<DocumentHead>),
    into_versions => Versions(Vec<VersionSummary>),
    into_attachment => Attachment(AttachmentRecord),
    into_audit => Audit(Vec<AuditEvent>),
    into_version_proof => VersionProof(Box<crate::command::VersionProof>),
    into_review => Review(Box<crate::review::ReviewReport>),
    into_sessions => Sessions(Vec<SessionInfo>),
    into_break_glass => BreakGlass(Vec<BreakGlassRecord>),
    into_mfa_policies => MfaPolicies(Vec<(kiroku_core::Role, kiroku_core::identity::MfaPolicy)>),
    into_signature => Signature(Box<SignatureRecord>),
    into_patient_ids => PatientIds(Vec<kiroku_core::PatientId>),
    into_patient_record => PatientRecord(Box<PatientRecord>),
    into_emergency => Emergency(Option<Box<crate::operations::EmergencyState>>),
    into_locations => Locations(Box<crate::operations::LocationRegister>),
    into_location_entries => LocationEntries(Vec<crate::operations::LocationEntry>),
    into_work_orders => WorkOrders(Vec<WorkOrderStatus>),
    into_work_order_report => WorkOrderReport(Box<WorkOrderReport>),
    into_api_tokens => ApiTokens(Vec<ApiTokenRecord>),
    into_factor_resets => FactorResets(Vec<FactorResetRecord>),
    into_access_report => AccessReport(Box<AccessReport>),
    into_governance => Governance(Box<crate::governance::GovernanceState>),
    into_scan_types => ScanTypes(Vec<crate::scan::ScanTypeRecord>),
    into_scan_register => ScanRegister(Box<crate::scan::ScanRegister>),
    into_scan_entry => ScanEntry(Box<crate::scan::ScanEntry>),
    into_ledger_entry => LedgerEntry(Box<crate::governance_ledgers::LedgerEntry>),
    into_ledger_page => LedgerPage(Box<crate::governance_ledgers::LedgerPage>),
    into_ledger_attachment => LedgerAttachment(Box<crate::governance_ledgers::LedgerAttachment>),
    into_duties => Duties(Box<crate::governance_ledgers::DutyReport>),
}
