//! Executes one command inside a write transaction: permission check, lifecycle rules, the change,
//! and its audit event. This is the only place where state changes are decided.

use kiroku_core::access::Grant;
use kiroku_core::document::{HeadFacts, Step, next_status, require_reason, text_field, validate_attachment_name, validate_document_fields};
use kiroku_core::{
    AuditAction as A, DocumentId, DocumentStatus, DomainError, Outcome, Permission as P, PermissionMatrix, Role, Timestamp, Username,
    VersionKind,
};

use crate::backend::Tx;
use crate::command::{Actor, Command, Reply, Subject};
use crate::error::{Result, StoreError};
use crate::ledger::{self, Leaf, LogState};
use crate::operations::{EmergencyState, LocationEntry, LocationFields, LocationRegister, check_reason};
use crate::records::*;
use kiroku_core::identity::SessionStage;

mod scan;
pub use scan::SCAN_DOC_TYPE;
mod ledgers;

/// The longest patient search string accepted; longer input is refused rather than truncated.
pub const MAX_SEARCH_CHARS: usize = 100;

mod accounts;
const SEARCH_LIMIT: i64 = 100;

/// State the engine keeps between commands: the permission matrix and the log, each reloaded when
/// the log head row (locked at the start of every batch) says another writer changed it.
#[derive(Debug, Default)]
pub struct EngineState {
    matrix: PermissionMatrix,
    /// The matrix version the cached matrix belongs to; `None` when it must be read again.
    matrix_version: Option<i64>,
    /// The log during a batch; `None` until loaded, or after a failed batch.
    pub log: Option<LogState>,
    /// Emergency read-only mode as the locked log head says (and as commands of this batch changed it).
    pub emergency: Option<EmergencyState>,
}

impl EngineState {
    /// Starts a batch: locks the log head and brings the cached matrix and log up to date.
    pub async fn begin_batch(&mut self, tx: &mut dyn Tx) -> Result<()> {
        let head = tx.lock_head().await?;
        self.emergency = head.emergency.clone();
        if self.matrix_version != Some(head.matrix_version) {
            self.matrix = load_matrix(tx).await?;
            self.matrix_version = Some(head.matrix_version);
        }
        if !self.log.as_ref().is_some_and(|l| l.matches(&head)) {
            let frontier = ledger::load_frontier(tx, head.tree_size as u64).await?;
            self.log = Some(LogState::new(frontier, head));
        }
        Ok(())
    }

    /// Reads the matrix again after a command changed it, within the same batch.
    pub async fn reload_matrix(&mut self, tx: &mut dyn Tx) -> Result<()> {
        self.matrix = load_matrix(tx).await?;
        // The stored version moved too; compare afresh at the next batch.
        self.matrix_version = None;
        Ok(())
    }

    /// The refusal of `command` in emergency read-only mode, if the mode is active and the command
    /// is a change. The one place the mode is enforced inside a batch.
    pub fn refusal(&self, command: &Command) -> Option<StoreError> {
        let mode = self.emergency.as_ref()?;
        (!command.allowed_in_emergency()).then(|| StoreError::ReadOnly(Box::new(mode.clone())))
    }

    pub fn log_mut(&mut self) -> Result<&mut LogState> {
        self.log.as_mut().ok_or_else(|| StoreError::Corrupt("log state not loaded".into()))
    }

    /// Forgets everything cached: after a failed batch nothing in memory can be trusted.
    pub fn reset(&mut self) {
        *self = EngineState::default();
    }

    fn parts(&mut self) -> Result<(&PermissionMatrix, &mut LogState, &mut Option<EmergencyState>)> {
        let log = self.log.as_mut().ok_or_else(|| StoreError::Corrupt("log state not loaded".into()))?;
        Ok((&self.matrix, log, &mut self.emergency))
    }
}

/// One command's execution context.
struct Ctx<'a> {
    tx: &'a mut dyn Tx,
    seq: i64,
    now: Timestamp,
    matrix: &'a PermissionMatrix,
    log: &'a mut LogState,
    emergency: &'a mut Option<EmergencyState>,
}

/// Runs `cmd` in `tx` as write number `seq`, inside a batch begun by [`EngineState::begin_batch`].
/// On a refusal the caller restores the log to its mark and records the attempt with [`audit_failure`].
pub async fn execute(tx: &mut dyn Tx, state: &mut EngineState, seq: i64, now: Timestamp, cmd: &Command) -> Result<Reply> {
    let (matrix, log, emergency) = state.parts()?;
    let mut ctx = Ctx { tx, seq, now, matrix, log, emergency };
    ctx.run(cmd).await
}

/// Reads the permission matrix as stored, ignoring grants this version does not know.
pub async fn load_matrix(tx: &mut dyn Tx) -> Result<PermissionMatrix> {
    let rows = tx.load_grants().await?;
    Ok(PermissionMatrix::from_grants(
        rows.into_iter().filter_map(|(role, key)| Some((role.parse::<Role>().ok()?, Grant::from_key(&key).ok()?))),
    ))
}

/// Records a refused or failed command after its changes were rolled back.
pub fn audit_failure(state: &mut EngineState, seq: i64, now: Timestamp, cmd: &Command, err: &StoreError) -> Result<()> {
    let Some(Subject { actor, action, patient_id, document_id, version }) = cmd.subject() else { return Ok(()) };
    let outcome = if err.is_denial() { Outcome::Denied } else { Outcome::Failed };
    let event = event(now, actor, action, outcome, patient_id, document_id.map(|d| d.to_string()), version, Some(failure_code(err)), None);
    state.log_mut()?.append_event(seq, event);
    Ok(())
}

/// A short code for the audit trail; never the input itself.
fn failure_code(err: &StoreError) -> String {
    match err {
        StoreError::Invalid(DomainError::Invalid { field, .. }) => format!("invalid:{field}"),
        StoreError::Denied(d) => format!("denied:{d}"),
        StoreError::NotFound(what) => format!("not_found:{what}"),
        StoreError::Conflict(_) => "conflict".into(),
        StoreError::Lifecycle(l) => format!("lifecycle:{l}"),
        StoreError::Stale { current } => format!("stale:current={current}"),
        StoreError::Unauthenticated => "unauthenticated".into(),
        StoreError::Unsupported(_) => "unsupported".into(),
        StoreError::ReadOnly(_) => "read_only".into(),
        StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::WriterGone => "internal".into(),
    }
}

/// Refuses free text that is too long or holds control characters (a newline only where allowed);
/// `required` refuses empty text.
fn check_comment(field: &'static str, text: &str, max: usize, required: bool) -> Result<()> {
    let bad = text.chars().count() > max || text.chars().any(|c| c.is_control() && c != '\n') || (required && text.trim().is_empty());
    if bad {
        let need = if required { "is required, " } else { "" };
        return Err(DomainError::invalid(field, format!("{need}at most {max} characters without control characters")).into());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn event(
    time: Timestamp,
    actor: Option<&Actor>,
    action: A,
    outcome: Outcome,
    patient_id: Option<String>,
    document_id: Option<String>,
    version: Option<i64>,
    detail: Option<String>,
    content_hash: Option<String>,
) -> NewAuditEvent {
    NewAuditEvent {
        time,
        user: actor.map(|a| a.username.to_string()),
        role: actor.map(|a| a.role.to_string()),
        session: actor.and_then(|a| a.session.clone()),
        client_addr: actor.and_then(|a| a.client_addr.clone()),
        action,
        patient_id,
        document_id,
        version,
        outcome,
        detail,
        content_hash,
    }
}

impl Ctx<'_> {
    async fn run(&mut self, cmd: &Command) -> Result<Reply> {
        match cmd {
            Command::Bootstrap { admin } => self.bootstrap(admin).await,
            Command::CreateUser { actor, user } => self.create_user(actor, user).await,
            Command::UpdateUser { actor, username, display_name, role, disabled } => {
                self.update_user(actor, username, display_name.as_deref(), *role, *disabled).await
            }
            Command::UnlockUser { actor, username } => self.unlock_user(actor, username).await,
            Command::ResetPassword { actor, username, new_hash } => self.reset_password(actor, username, new_hash).await,
            Command::ListUsers { actor } => {
                self.allow(actor, P::UserManage)?;
                let users = self.tx.list_users().await?;
                self.audit(actor, A::UserList, None, None, None, Some(format!("count={}", users.len())), None).await?;
                Ok(Reply::Users(users))
            }
            Command::LoginSucceeded { session, end_other_sessions, break_glass } => {
                self.login_succeeded(session, *end_other_sessions, break_glass.as_ref()).await
            }
            Command::CreateBreakGlass { actor, user } => self.create_break_glass(actor, user).await,
            Command::ResealBreakGlass { actor, username, new_hash } => self.reseal_break_glass(actor, username, new_hash).await,
            Command::ListBreakGlass { actor } => {
                self.allow(actor, P::UserManage)?;
                let all = self.tx.list_break_glass().await?;
                self.audit(actor, A::UserList, None, None, None, Some(format!("break_glass count={}", all.len())), None).await?;
                Ok(Reply::BreakGlass(all))
            }
            Command::BeginTotp { actor, factor } => self.begin_totp(actor, factor).await,
            Command::ConfirmTotp { actor, factor_id, step, recovery_hashes, end_other_sessions } => {
                self.confirm_totp(actor, factor_id, *step, recovery_hashes, *end_other_sessions).await
            }
            Command::SecondFactorVerified { actor, proof, end_other_sessions, policy } => {
                self.second_factor_verified(actor, proof, *end_other_sessions, policy).await
            }
            Command::SecondFactorFailed { actor, policy } => self.second_factor_failed(actor, "second_factor:wrong_code", policy).await,
            Command::RemoveSecondFactor { actor, factor_id } => self.remove_second_factor(actor, factor_id).await,
            Command::RegisterWebauthn { actor, credential, end_other_sessions } => {
                self.register_webauthn(actor, credential, *end_other_sessions).await
            }
            Command::ReadMfaPolicies { actor } => {
                self.allow(actor, P::UserManage)?;
                let policies = self.mfa_policies().await?;
                self.audit(actor, A::RoleRead, None, None, None, Some("mfa_policies".into()), None).await?;
                Ok(Reply::MfaPolicies(policies))
            }
            Command::SetMfaPolicy { actor, role, policy } => self.set_mfa_policy(actor, *role, policy).await,
            Command::ListSessions { actor, username } => self.list_sessions(actor, username).await,
            Command::RevokeSession { actor, session_id } => self.revoke_session(actor, session_id).await,
            Command::RefuseAccess { username, role, session, client_addr, detail } => {
                let ev = NewAuditEvent {
                    user: Some(username.chars().filter(|c| !c.is_control()).take(64).collect()),
                    role: role.map(|r| r.to_string()),
                    session: session.clone(),
                    client_addr: client_addr.clone(),
                    ..event(self.now, None, A::AccessRefused, Outcome::Denied, None, None, None, Some(detail.clone()), None)
                };
                self.log.append_event(self.seq, ev);
                Ok(Reply::Done)
            }
            Command::LoginFailed { username, client_addr, policy } => self.login_failed(username, client_addr.clone(), policy).await,
            Command::Logout { actor } => self.end_session(actor, None).await,
            Command::ExpireSession { actor, reason } => self.end_session(actor, Some(reason)).await,
            Command::ChangePassword { actor, new_hash } => self.change_password(actor, new_hash).await,
            Command::TouchSession { session_id } => {
                self.tx.touch_session(session_id, self.now.as_micros()).await?;
                Ok(Reply::Done)
            }
            Command::ReadMatrix { actor } => {
                self.allow(actor, P::RoleManage)?;
                self.audit(actor, A::RoleRead, None, None, None, None, None).await?;
                Ok(Reply::Matrix(self.matrix.clone()))
            }
            Command::SetGrant { actor, role, grant, allowed } => self.set_grant(actor, *role, *grant, *allowed).await,
            Command::CreatePatient { actor, patient } => self.create_patient(actor, patient).await,
            Command::SearchPatients { actor, query } => self.search_patients(actor, query).await,
            Command::ReadPatient { actor, patient_id } => {
                self.allow(actor, P::PatientRead)?;
                let patient = self.tx.get_patient(patient_id.as_str()).await?.ok_or(StoreError::NotFound("patient"))?;
                self.audit(actor, A::PatientRead, Some(patient_id.to_string()), None, None, None, None).await?;
                Ok(Reply::Patient(patient))
            }
            Command::CreateDocument { actor, patient_id, document } => self.create_document(actor, patient_id, document).await,
            Command::ListDocuments { actor, patient_id } => self.list_documents(actor, patient_id).await,
            Command::ReadDocument { actor, id, version } => self.read_document(actor, id, *version).await,
            Command::ListVersions { actor, id } => self.list_versions(actor, id).await,
            Command::UpdateDraft { actor, id, if_match, title, body } => {
                self.update_draft(actor, id, *if_match, title.as_deref(), body).await
            }
            Command::Confirm { actor, id, if_match } => self.attest(actor, id, *if_match, Step::Confirm).await,
            Command::Approve { actor, id, if_match } => self.attest(actor, id, *if_match, Step::Approve).await,
            Command::Amend { actor, id, if_match, title, body, reason } => {
                self.amend(actor, id, *if_match, title.as_deref(), body, reason).await
            }
            Command::Delete { actor, id, if_match, reason } => self.delete(actor, id, *if_match, reason).await,
            Command::AddAttachment { actor, id, attachment_id, name, media_type, size, blob_hash } => {
                self.add_attachment(actor, id, attachment_id, name, media_type, *size, blob_hash).await
            }
            Command::ReadAttachment { actor, id, attachment_id } => {
                let head = self.readable_head(actor, id).await?;
                let att = self.tx.get_attachment(id.as_str(), attachment_id).await?.ok_or(StoreError::NotFound("attachment"))?;
                self.audit(
                    actor,
                    A::AttachmentRead,
                    Some(head.patient_id.to_string()),
                    Some(id),
                    Some(att.version),
                    Some(att.name.clone()),
                    Some(att.blob_hash.clone()),
                )
                .await?;
                Ok(Reply::Attachment(att))
            }
            Command::ApprovalQueue { actor } => {
                self.allow(actor, P::DocumentApprove)?;
                let visible = self.matrix.visible_classes_as(actor.role, actor.scope.as_ref());
                let mut heads = self.tx.list_pending_for(actor.username.as_str()).await?;
                heads.retain(|h| visible.contains(&h.info_class));
                self.audit(actor, A::ApprovalQueue, None, None, None, Some(format!("count={}", heads.len())), None).await?;
                Ok(Reply::Documents(heads))
            }
            Command::StoreCheckpoint { checkpoint } => self.store_checkpoint(checkpoint).await,
            Command::AdvanceExportCursor { name, last_id } => self.advance_export_cursor(name, *last_id).await,
            Command::RecordStamp { stamp, items, evidence } => {
                let reply = self.record_stamp(stamp, items).await?;
                self.keep_evidence("timestamp", &stamp.id, evidence).await?;
                Ok(reply)
            }
            Command::AddSignature { actor, signature, evidence } => {
                let reply = self.add_signature(actor, signature).await?;
                self.keep_evidence("signature", &signature.id, evidence).await?;
                Ok(reply)
            }
            Command::ReadVersionProof { actor, id, version } => self.read_version_proof(actor, id, *version).await,
            Command::AuditReview { actor, from, to, hours } => {
                let report = self.review(actor, *from, *to, *hours).await?;
                let detail = format!("from={} to={} events={}", from.to_rfc3339(), to.to_rfc3339(), report.total_events);
                self.audit(actor, A::AuditReview, None, None, None, Some(detail), Some(crate::review::report_hash(&report))).await?;
                Ok(Reply::Review(Box::new(report)))
            }
            Command::SignOffReview { actor, from, to, hours, report_hash, comment } => {
                self.sign_off_review(actor, (*from, *to, *hours), report_hash, comment).await
            }
            Command::SignOffChecklist { actor, report_hash, counts, comment } => {
                self.allow(actor, P::AuditRead)?;
                self.allow(actor, P::GovernanceRead)?;
                if kiroku_core::ContentHash::parse_hex(report_hash).is_none() {
                    return Err(DomainError::invalid("report_hash", "must be 64 hexadecimal digits").into());
                }
                check_comment("comment", comment, 2000, false)?;
                let detail = format!("{counts} comment={}", comment.trim());
                let ev = event(
                    self.now,
                    Some(actor),
                    A::ChecklistSignoff,
                    Outcome::Success,
                    None,
                    None,
                    None,
                    Some(detail),
                    Some(report_hash.clone()),
                );
                Ok(Reply::Audit(vec![self.log.append_event(self.seq, ev)]))
            }
            Command::AttestChecklistItem { actor, detail } => {
                self.allow(actor, P::GovernanceManage)?;
                check_comment("detail", detail, 1200, true)?;
                let ev = event(self.now, Some(actor), A::ChecklistAttest, Outcome::Success, None, None, None, Some(detail.clone()), None);
                Ok(Reply::Audit(vec![self.log.append_event(self.seq, ev)]))
            }
            Command::SetLanguage { actor, language } => {
                if !["ja", "en"].contains(&language.as_str()) {
                    return Err(DomainError::invalid("language", "must be ja or en").into());
                }
                self.tx.set_language(actor.username.as_str(), language, self.now.as_micros()).await?;
                Ok(Reply::Done)
            }
            Command::RecordOperation { actor, action, outcome, detail } => {
                // Only kiroku itself and the console operator run whole-store operations.
                let operator = [crate::command::SYSTEM, crate::command::LOCAL_OPERATOR].contains(&actor.username.as_str());
                if !operator || !crate::command::OPERATION_ACTIONS.contains(action) {
                    return Err(DomainError::invalid("action", "only kiroku and its console operator record whole-store operations").into());
                }
                let ev = event(self.now, Some(actor), *action, *outcome, None, None, None, Some(detail.clone()), None);
                let recorded = self.log.append_event(self.seq, ev);
                Ok(Reply::Audit(vec![recorded]))
            }
            Command::RecordFixity { summary } => {
                let outcome = if summary.is_clean() { Outcome::Success } else { Outcome::Failed };
                let ev = event(self.now, Some(&Actor::system()), A::FixityCheck, outcome, None, None, None, Some(summary.detail()), None);
                let recorded = self.log.append_event(self.seq, ev);
                Ok(Reply::Audit(vec![recorded]))
            }
            Command::ExportPatientIds { actor, after, limit } => self.export_patient_ids(actor, after.as_ref(), *limit).await,
            Command::ExportPatient { actor, patient_id } => self.export_patient(actor, patient_id).await,
            Command::EnterEmergency { by, reason } => self.enter_emergency(by.as_ref(), reason).await,
            Command::LeaveEmergency { actor, reason } => self.leave_emergency(actor, reason).await,
            Command::ReadLocations { actor } => self.read_locations(actor).await,
            Command::LocationHistory { actor, id } => {
                self.allow(actor, P::OpsRead)?;
                let revisions = self.tx.location_entries(Some(id)).await?;
                if revisions.is_empty() {
                    return Err(StoreError::NotFound("location"));
                }
                self.audit(actor, A::LocationRegisterRead, None, None, None, Some(format!("history={id}")), None).await?;
                Ok(Reply::LocationEntries(revisions))
            }
            Command::SaveLocation { actor, id, fields, retired } => self.save_location(actor, id.as_deref(), fields, *retired).await,
            Command::CreateWorkOrder { actor, order, account } => self.create_work_order(actor, order, account.as_ref()).await,
            Command::ListWorkOrders { actor } => self.list_work_orders(actor).await,
            Command::WorkOrderReport { actor, id } => self.work_order_report(actor, id).await,
            Command::SignOffWorkOrder { actor, id, report_hash, comment } => {
                self.sign_off_work_order(actor, id, report_hash, comment).await
            }
            Command::CreateApiToken { actor, token, account } => self.create_api_token(actor, token, account.as_ref()).await,
            Command::ListApiTokens { actor } => self.list_api_tokens(actor).await,
            Command::RevokeApiToken { actor, id } => self.revoke_api_token(actor, id).await,
            Command::IssueFactorReset { actor, reset } => self.issue_factor_reset(actor, reset).await,
            Command::ListFactorResets { actor } => self.list_factor_resets(actor).await,
            Command::ApproveFactorReset { actor, id } => self.approve_factor_reset(actor, id).await,
            Command::UseFactorReset { actor, code_hash } => self.use_factor_reset(actor, code_hash).await,
            Command::AccessReview { actor, unused_days } => self.access_review(actor, *unused_days).await,
            Command::SignOffAccessReview { actor, unused_days, report_hash, comment } => {
                self.sign_off_access_review(actor, *unused_days, report_hash, comment).await
            }
            Command::MarkLeft { actor, username, left_on } => self.mark_left(actor, username, left_on).await,
            Command::Governance(g) => self.governance(&g.actor, &g.op).await,
            Command::SaveScanType { actor, rule, retired } => self.save_scan_type(actor, rule, *retired).await,
            Command::ScanRegister { actor, patient_id, calendar: _ } => self.scan_register(actor, patient_id.as_ref()).await,
            Command::ReceivePaper { actor, patient_id, type_code, paper_date, calendar } => {
                self.receive_paper(actor, patient_id, type_code, paper_date, calendar).await
            }
            Command::AddScan { actor, scan, calendar } => self.add_scan(actor, scan, calendar).await,
            Command::RecordOriginal { actor, item_id, action, calendar } => self.record_original(actor, item_id, action, calendar).await,
            Command::LedgerCreate { .. }
            | Command::LedgerRevise { .. }
            | Command::LedgerRecordEvent { .. }
            | Command::LedgerAttach { .. }
            | Command::LedgerRead { .. }
            | Command::LedgerList { .. }
            | Command::LedgerReadAttachment { .. }
            | Command::GovernanceDuties { .. } => self.ledger_command(cmd).await,
            Command::QueryAudit { actor, filter, limit, export } => {
                self.allow(actor, P::AuditRead)?;
                let events = self.tx.query_audit(filter, (*limit).clamp(1, 10_000)).await?;
                let action = if *export { A::AuditExport } else { A::AuditQuery };
                let detail = format!(
                    "count={} patient={} user={}",
                    events.len(),
                    filter.patient_id.as_deref().unwrap_or("*"),
                    filter.user.as_deref().unwrap_or("*")
                );
                self.audit(actor, action, filter.patient_id.clone(), None, None, Some(detail), None).await?;
                Ok(Reply::Audit(events))
            }
        }
    }

    fn allow(&self, actor: &Actor, permission: P) -> Result<()> {
        Ok(self.matrix.check_as(actor.role, actor.scope.as_ref(), permission, None)?)
    }

    fn allow_class(&self, actor: &Actor, permission: P, head: &DocumentHead) -> Result<()> {
        Ok(self.matrix.check_as(actor.role, actor.scope.as_ref(), permission, Some(head.info_class))?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &mut self,
        actor: &Actor,
        action: A,
        patient_id: Option<String>,
        document_id: Option<&DocumentId>,
        version: Option<i64>,
        detail: Option<String>,
        content_hash: Option<String>,
    ) -> Result<()> {
        let ev = event(
            self.now,
            Some(actor),
            action,
            Outcome::Success,
            patient_id,
            document_id.map(|d| d.to_string()),
            version,
            detail,
            content_hash,
        );
        {
            self.log.append_event(self.seq, ev);
            Ok(())
        }
    }

    async fn user(&mut self, username: &Username) -> Result<UserRecord> {
        self.tx.get_user(username.as_str()).await?.ok_or(StoreError::NotFound("user"))
    }

    // ----- accounts -----

    async fn bootstrap(&mut self, admin: &UserRecord) -> Result<Reply> {
        if self.tx.count_users().await? > 0 {
            return Err(StoreError::Conflict("the store is already initialised".into()));
        }
        if is_reserved(&admin.username) {
            return Err(StoreError::Conflict("this name is reserved for the command line".into()));
        }
        for (role, grant) in PermissionMatrix::factory_default().grants() {
            self.tx.set_grant(role.as_str(), &grant.key(), true).await?;
        }
        self.tx.insert_user(admin).await?;
        self.tx.insert_password_history(admin.username.as_str(), &admin.password_hash, self.now.as_micros()).await?;
        let system = Actor { username: admin.username.clone(), role: Role::Admin, session: None, client_addr: None, scope: None };
        self.audit(&system, A::UserCreate, None, None, None, Some("bootstrap role=admin".into()), None).await?;
        Ok(Reply::User(admin.clone()))
    }

    async fn create_user(&mut self, actor: &Actor, user: &UserRecord) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        if is_reserved(&user.username) {
            return Err(StoreError::Conflict("this name is reserved for the command line".into()));
        }
        text_field("display_name", &user.display_name, 100)?;
        if !self.tx.insert_user(user).await? {
            return Err(StoreError::Conflict("the username is taken".into()));
        }
        self.tx.insert_password_history(user.username.as_str(), &user.password_hash, self.now.as_micros()).await?;
        let detail = format!("user={} role={}", user.username, user.role);
        self.audit(actor, A::UserCreate, None, None, None, Some(detail), None).await?;
        Ok(Reply::User(user.clone()))
    }

    async fn update_user(
        &mut self,
        actor: &Actor,
        username: &Username,
        display_name: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let mut user = self.user(username).await?;
        let mut changes = Vec::new();
        if let Some(name) = display_name {
            text_field("display_name", name, 100)?;
            user.display_name = name.to_string();
            changes.push("display_name".to_string());
        }
        if let Some(role) = role {
            if &actor.username == username && role != user.role {
                return Err(StoreError::Conflict("administrators cannot change their own role".into()));
            }
            changes.push(format!("role={}->{}", user.role, role));
            user.role = role;
        }
        if let Some(disabled) = disabled {
            if disabled && &actor.username == username {
                return Err(StoreError::Conflict("administrators cannot disable their own account".into()));
            }
            user.disabled = disabled;
            changes.push(format!("disabled={disabled}"));
        }
        self.tx.update_user(&user).await?;
        let action = if disabled == Some(true) {
            // A disabled account's sessions end at once, not at their timeout.
            self.tx.revoke_user_sessions(username.as_str(), self.now.as_micros()).await?;
            A::UserDisable
        } else {
            A::UserUpdate
        };
        self.audit(actor, action, None, None, None, Some(format!("user={username} {}", changes.join(" "))), None).await?;
        Ok(Reply::User(user))
    }

    async fn unlock_user(&mut self, actor: &Actor, username: &Username) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let mut user = self.user(username).await?;
        user.failed_logins = 0;
        user.locked_until = None;
        self.tx.update_user(&user).await?;
        self.audit(actor, A::UserUnlock, None, None, None, Some(format!("user={username}")), None).await?;
        Ok(Reply::User(user))
    }

    async fn reset_password(&mut self, actor: &Actor, username: &Username, new_hash: &str) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let mut user = self.user(username).await?;
        user.password_hash = new_hash.to_string();
        user.must_change_password = true;
        user.failed_logins = 0;
        user.locked_until = None;
        user.password_changed_at = self.now;
        self.tx.update_user(&user).await?;
        self.tx.insert_password_history(username.as_str(), new_hash, self.now.as_micros()).await?;
        self.tx.revoke_user_sessions(username.as_str(), self.now.as_micros()).await?;
        self.audit(actor, A::UserUpdate, None, None, None, Some(format!("user={username} password_reset")), None).await?;
        Ok(Reply::User(user))
    }

    async fn login_succeeded(
        &mut self,
        session: &SessionRecord,
        end_other_sessions: bool,
        break_glass: Option<&crate::command::BreakGlassUse>,
    ) -> Result<Reply> {
        let mut user = self.user(&session.username).await?;
        let mut actor = Actor {
            username: user.username.clone(),
            role: user.role,
            session: Some(session.id.clone()),
            client_addr: session.client_addr.clone(),
            scope: None,
        };
        // The password was checked outside the transaction; the account may have been locked or
        // disabled since, so decide again here.
        if user.disabled || user.is_locked(self.now) {
            let detail = if user.disabled { "disabled" } else { "locked" };
            self.audit_as(&actor, A::LoginFailed, Outcome::Denied, detail).await?;
            return Ok(Reply::LoginFailed { locked: user.is_locked(self.now) });
        }
        let mut session = session.clone();
        let stage = if user.kind == kiroku_core::identity::AccountKind::BreakGlass {
            // A sealed credential with a declared reason, alerted and expiring, is the emergency
            // fallback the guideline asks for: no second factor is asked of it.
            match self.open_break_glass(&actor, break_glass).await? {
                Ok(until) => session.expires_at = session.expires_at.min(until),
                Err(refusal) => return Ok(Reply::LoginRefused(refusal)),
            }
            SessionStage::Full
        } else if user.kind == kiroku_core::identity::AccountKind::Service {
            // An integration acts through its API tokens only.
            self.audit_as(&Actor { session: None, ..actor }, A::LoginFailed, Outcome::Denied, "service_account").await?;
            return Ok(Reply::LoginFailed { locked: false });
        } else {
            if user.kind == kiroku_core::identity::AccountKind::Maintenance {
                // Only inside an open work order's window and from its networks; the session's id
                // carries the order's, so every event of the work names it.
                match self.open_work_order(&actor).await? {
                    Ok(order) => {
                        session.id = format!("{}{}", kiroku_core::maintenance::WorkOrder::session_prefix(&order.id), session.id);
                        session.expires_at = session.expires_at.min(order.ends_at);
                        actor.session = Some(session.id.clone());
                    }
                    Err(refusal) => return Ok(Reply::LoginRefused(refusal)),
                }
            }
            let has_factor = self.has_second_factor(&user.username).await?;
            let policy = self.mfa_policy(user.role).await?;
            SessionStage::after_password(has_factor, &policy, self.now)
        };
        let session = SessionRecord { stage, second_factor: None, ..session };
        user.failed_logins = 0;
        user.locked_until = None;
        if stage == SessionStage::Full {
            user.last_login_at = Some(self.now);
        }
        self.tx.update_user(&user).await?;
        self.tx.insert_session(&session).await?;
        let mut detail = if stage == SessionStage::Full {
            self.end_others(&actor, end_other_sessions).await?
        } else {
            Some(format!("password; stage={}", stage.as_str()))
        };
        // The terminal's client certificate (TLS), so the trail says which terminal it was.
        if let Some(subject) = &session.client_cert {
            let subject: String = subject.chars().filter(|c| !c.is_control()).take(300).collect();
            detail = Some(match detail {
                Some(d) => format!("{d} client_cert={subject}"),
                None => format!("client_cert={subject}"),
            });
        }
        self.audit(&actor, A::Login, None, None, None, detail, None).await?;
        Ok(Reply::LoggedIn(Box::new(user), stage))
    }

    /// Opens a break-glass account for a login: answers until when, or why not (already recorded).
    async fn open_break_glass(&mut self, actor: &Actor, use_: Option<&crate::command::BreakGlassUse>) -> Result<Result<Timestamp, String>> {
        let Some(mut seal) = self.tx.get_break_glass(actor.username.as_str()).await? else {
            return Err(StoreError::Corrupt(format!("break-glass account {} has no seal", actor.username)));
        };
        let reason: String = use_.map(|u| u.reason.trim()).unwrap_or("").chars().filter(|c| !c.is_control()).take(500).collect();
        if seal.needs_reseal(self.now) {
            self.audit_as(actor, A::LoginFailed, Outcome::Denied, "break_glass:reseal_required").await?;
            return Ok(Err(
                "this break-glass account was used and has expired; an administrator must re-seal it with a new password".into()
            ));
        }
        if reason.is_empty() {
            self.audit_as(actor, A::LoginFailed, Outcome::Denied, "break_glass:reason_required").await?;
            return Ok(Err("a break-glass account is used only in an emergency: declare the reason".into()));
        }
        let again = seal.is_active(self.now);
        if !again {
            let seconds = use_.map_or(0, |u| u.seconds).max(1);
            seal.state = "open".into();
            seal.opened_at = Some(self.now);
            seal.expires_at = Some(self.now.plus_seconds(seconds));
        }
        seal.reason = Some(reason.clone());
        self.tx.update_break_glass(&seal).await?;
        let until = seal.expires_at.unwrap_or(self.now);
        let detail = format!("{}until={} reason={reason}", if again { "again " } else { "" }, until.to_rfc3339());
        self.audit(actor, A::BreakGlassUse, None, None, None, Some(detail), None).await?;
        Ok(Ok(until))
    }

    async fn create_break_glass(&mut self, actor: &Actor, user: &UserRecord) -> Result<Reply> {
        if user.kind != kiroku_core::identity::AccountKind::BreakGlass || user.must_change_password {
            return Err(DomainError::invalid("kind", "a break-glass account with a sealed password").into());
        }
        let Reply::User(created) = self.create_user(actor, user).await? else {
            return Err(StoreError::Corrupt("create_user answered something else".into()));
        };
        self.tx.insert_break_glass(&BreakGlassRecord::sealed(user.username.clone(), actor.username.as_str(), self.now)).await?;
        self.audit(actor, A::BreakGlassReseal, None, None, None, Some(format!("user={} sealed", user.username)), None).await?;
        Ok(Reply::User(created))
    }

    async fn reseal_break_glass(&mut self, actor: &Actor, username: &Username, new_hash: &str) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let mut seal = self.tx.get_break_glass(username.as_str()).await?.ok_or(StoreError::NotFound("break-glass account"))?;
        let mut user = self.user(username).await?;
        let was = if seal.is_active(self.now) {
            "open"
        } else if seal.needs_reseal(self.now) {
            "expired"
        } else {
            "sealed"
        };
        user.password_hash = new_hash.to_string();
        user.failed_logins = 0;
        user.locked_until = None;
        user.password_changed_at = self.now;
        self.tx.update_user(&user).await?;
        self.tx.insert_password_history(username.as_str(), new_hash, self.now.as_micros()).await?;
        // Whoever was using it is out at once.
        self.tx.revoke_user_sessions(username.as_str(), self.now.as_micros()).await?;
        seal = BreakGlassRecord { reason: None, ..BreakGlassRecord::sealed(username.clone(), actor.username.as_str(), self.now) };
        self.tx.update_break_glass(&seal).await?;
        self.audit(actor, A::BreakGlassReseal, None, None, None, Some(format!("user={username} was={was}")), None).await?;
        Ok(Reply::User(user))
    }

    /// Ends the account's other sessions when the installation wants one session per person;
    /// answers the audit detail that says so.
    async fn end_others(&mut self, actor: &Actor, wanted: bool) -> Result<Option<String>> {
        let Some(keep) = actor.session.as_deref().filter(|_| wanted) else { return Ok(None) };
        let ended = self.tx.revoke_other_sessions(actor.username.as_str(), keep, self.now.as_micros()).await?;
        Ok((ended > 0).then(|| format!("ended_other_sessions={ended}")))
    }

    async fn mfa_policy(&mut self, role: Role) -> Result<kiroku_core::identity::MfaPolicy> {
        Ok(self.mfa_policies().await?.into_iter().find(|(r, _)| *r == role).map(|(_, p)| p).unwrap_or_default())
    }

    async fn mfa_policies(&mut self) -> Result<Vec<(Role, kiroku_core::identity::MfaPolicy)>> {
        let stored = self.tx.list_mfa_policies().await?;
        let mut out = Vec::new();
        for role in Role::ALL {
            let row = stored.iter().find(|(r, _, _)| r == role.as_str());
            out.push((*role, mfa_policy_of(row.map(|(_, m, _)| m.as_str()), row.and_then(|(_, _, f)| *f))?));
        }
        Ok(out)
    }

    async fn set_mfa_policy(&mut self, actor: &Actor, role: Role, policy: &kiroku_core::identity::MfaPolicy) -> Result<Reply> {
        self.allow(actor, P::UserManage)?;
        let checked = kiroku_core::identity::MfaPolicy::new(policy.mode, policy.required_from)?;
        let from = checked.required_from.map(|t| t.as_micros());
        self.tx.set_mfa_policy(role.as_str(), checked.mode.as_str(), from, self.now.as_micros(), actor.username.as_str()).await?;
        let detail = format!(
            "role={role} mode={}{}",
            checked.mode.as_str(),
            checked.required_from.map(|t| format!(" from={}", t.to_rfc3339())).unwrap_or_default()
        );
        self.audit(actor, A::MfaPolicyChange, None, None, None, Some(detail), None).await?;
        Ok(Reply::MfaPolicies(self.mfa_policies().await?))
    }

    /// The session the actor acts in, as stored.
    async fn own_session(&mut self, actor: &Actor) -> Result<SessionRecord> {
        let id = actor.session.as_deref().ok_or(StoreError::Unauthenticated)?;
        let session = self.tx.get_session_by_id(id).await?.ok_or(StoreError::Unauthenticated)?;
        if session.revoked_at.is_some() || session.username != actor.username {
            return Err(StoreError::Unauthenticated);
        }
        Ok(session)
    }

    async fn begin_totp(&mut self, actor: &Actor, factor: &SecondFactorRecord) -> Result<Reply> {
        if factor.username != actor.username || factor.kind != "totp" || factor.confirmed_at.is_some() {
            return Err(DomainError::invalid("factor", "a new TOTP authenticator of one's own").into());
        }
        text_field("label", &factor.label, 100)?;
        let existing = self.tx.list_second_factors(actor.username.as_str()).await?;
        if existing.iter().any(|f| f.kind == "totp" && f.confirmed_at.is_some()) {
            return Err(StoreError::Conflict("an authenticator app is already registered; remove it first to register another".into()));
        }
        // An enrolment that was never finished is replaced, so its secret is no longer good.
        for mut stale in existing.into_iter().filter(|f| f.confirmed_at.is_none()) {
            stale.removed_at = Some(self.now);
            self.tx.update_second_factor(&stale).await?;
        }
        self.tx.insert_second_factor(factor).await?;
        self.audit(actor, A::SecondFactorEnrol, None, None, None, Some(format!("begin kind=totp id={}", factor.id)), None).await?;
        Ok(Reply::Done)
    }

    async fn confirm_totp(
        &mut self,
        actor: &Actor,
        factor_id: &str,
        step: i64,
        recovery_hashes: &[String],
        end_other_sessions: bool,
    ) -> Result<Reply> {
        let session = self.own_session(actor).await?;
        let mut factor = self
            .tx
            .list_second_factors(actor.username.as_str())
            .await?
            .into_iter()
            .find(|f| f.id == factor_id && f.confirmed_at.is_none())
            .ok_or(StoreError::NotFound("enrolment"))?;
        if step <= factor.last_step {
            return Err(StoreError::Conflict("this code was used already; wait for the next one".into()));
        }
        factor.confirmed_at = Some(self.now);
        factor.last_step = step;
        self.tx.update_second_factor(&factor).await?;
        self.tx.replace_recovery_codes(actor.username.as_str(), recovery_hashes, self.now.as_micros()).await?;
        let mut detail = format!("confirmed kind=totp id={factor_id} recovery_codes={}", recovery_hashes.len());
        self.enrolled_in_session(actor, &session, "totp", end_other_sessions, &mut detail).await?;
        self.audit(actor, A::SecondFactorEnrol, None, None, None, Some(detail), None).await?;
        Ok(Reply::Done)
    }

    /// Proving a new factor in a session proves a second factor: a session that had to enrol may
    /// act now (which completes its login), and a password-only session — one held to a second
    /// factor because it is used from outside the facility's networks — counts as two-factor.
    async fn enrolled_in_session(
        &mut self,
        actor: &Actor,
        session: &SessionRecord,
        kind: &str,
        end_other_sessions: bool,
        detail: &mut String,
    ) -> Result<()> {
        if session.second_factor.is_some() {
            return Ok(());
        }
        self.tx.set_session_stage(&session.id, SessionStage::Full.as_str(), Some(kind)).await?;
        if session.stage == SessionStage::Enrol {
            let mut user = self.user(&actor.username).await?;
            user.last_login_at = Some(self.now);
            self.tx.update_user(&user).await?;
            if let Some(ended) = self.end_others(actor, end_other_sessions).await? {
                detail.push(' ');
                detail.push_str(&ended);
            }
        }
        Ok(())
    }

    async fn second_factor_verified(
        &mut self,
        actor: &Actor,
        proof: &FactorProof,
        end_other_sessions: bool,
        policy: &crate::command::LockoutPolicy,
    ) -> Result<Reply> {
        let session = self.own_session(actor).await?;
        let user = self.user(&actor.username).await?;
        if user.disabled || user.is_locked(self.now) {
            self.audit_as(actor, A::LoginFailed, Outcome::Denied, if user.disabled { "disabled" } else { "locked" }).await?;
            return Ok(Reply::LoginFailed { locked: user.is_locked(self.now) });
        }
        if session.second_factor.is_some() {
            return Err(StoreError::Conflict("this session has passed its second factor already".into()));
        }
        let (kind, extra) = match proof {
            FactorProof::Totp { factor_id, step } => {
                let factors = self.tx.list_second_factors(actor.username.as_str()).await?;
                let Some(mut factor) = factors.into_iter().find(|f| &f.id == factor_id && f.confirmed_at.is_some()) else {
                    return self.second_factor_failed(actor, "second_factor:unknown", policy).await;
                };
                // A code is good for one login only: the step must be newer than the last accepted.
                if *step <= factor.last_step {
                    return self.second_factor_failed(actor, "second_factor:replayed", policy).await;
                }
                factor.last_step = *step;
                self.tx.update_second_factor(&factor).await?;
                ("totp", String::new())
            }
            FactorProof::Recovery { code_hash } => {
                if !self.tx.use_recovery_code(actor.username.as_str(), code_hash, self.now.as_micros()).await? {
                    return self.second_factor_failed(actor, "second_factor:recovery_code", policy).await;
                }
                let left = self.tx.unused_recovery_codes(actor.username.as_str()).await?;
                ("recovery", format!(" recovery_codes_left={left}"))
            }
            FactorProof::Webauthn { credential, counter, state } => {
                let keys = self.tx.list_webauthn_keys(actor.username.as_str()).await?;
                let Some(key) = keys.into_iter().find(|k| &k.credential.id == credential && k.active()) else {
                    return self.second_factor_failed(actor, "second_factor:unknown", policy).await;
                };
                // The signature counter must move forward; an authenticator that keeps no
                // counter shows 0 every time, which is all it can prove (the challenge is single-use).
                if (*counter != 0 || key.counter != 0) && *counter <= key.counter {
                    return self.second_factor_failed(actor, "second_factor:webauthn_counter", policy).await;
                }
                let event = WebauthnEvent {
                    credential: credential.clone(),
                    n: key.events + 1,
                    kind: "use".into(),
                    counter: *counter,
                    state: Some(state.clone()),
                    at: self.now,
                    session_id: Some(session.id.clone()),
                    seq: self.seq,
                };
                self.tx.insert_webauthn_event(&event).await?;
                self.log.append_leaf(Leaf::WebauthnEvent(&event));
                ("webauthn", format!(" credential={credential} counter={counter}"))
            }
        };
        self.tx.set_session_stage(&session.id, SessionStage::Full.as_str(), Some(kind)).await?;
        let mut user = user;
        user.failed_logins = 0;
        user.locked_until = None;
        user.last_login_at = Some(self.now);
        self.tx.update_user(&user).await?;
        let mut detail = format!("second_factor={kind}{extra}");
        if let Some(ended) = self.end_others(actor, end_other_sessions).await? {
            detail.push(' ');
            detail.push_str(&ended);
        }
        self.audit(actor, A::Login, None, None, None, Some(detail), None).await?;
        Ok(Reply::LoggedIn(Box::new(user), SessionStage::Full))
    }

    /// A failed second step: counted with the password failures, and a lockout ends the session.
    async fn second_factor_failed(&mut self, actor: &Actor, detail: &str, policy: &crate::command::LockoutPolicy) -> Result<Reply> {
        let mut user = self.user(&actor.username).await?;
        let was_locked = user.is_locked(self.now);
        user.failed_logins += 1;
        let lock_now = !was_locked && user.failed_logins >= policy.max_failures;
        if lock_now {
            user.locked_until = Some(self.now.plus_seconds(policy.lock_seconds));
        }
        self.tx.update_user(&user).await?;
        self.audit_as(actor, A::LoginFailed, Outcome::Failed, &format!("{detail} failures={}", user.failed_logins)).await?;
        if (lock_now || was_locked)
            && let Some(id) = &actor.session
        {
            self.tx.revoke_session(id, self.now.as_micros()).await?;
        }
        if lock_now {
            let until = self.now.plus_seconds(policy.lock_seconds).to_rfc3339();
            self.audit_as(actor, A::Lockout, Outcome::Success, &format!("until={until}")).await?;
        }
        Ok(Reply::LoginFailed { locked: was_locked || lock_now })
    }

    async fn remove_second_factor(&mut self, actor: &Actor, factor_id: &str) -> Result<Reply> {
        let factors = self.tx.list_second_factors(actor.username.as_str()).await?;
        let keys = self.tx.list_webauthn_keys(actor.username.as_str()).await?;
        let other_keys = keys.iter().filter(|k| k.active() && k.credential.id != factor_id).count();
        let Some(mut factor) = factors.iter().find(|f| f.id == factor_id).cloned() else {
            let Some(key) = keys.iter().find(|k| k.credential.id == factor_id && k.active()) else {
                return Err(StoreError::NotFound("second factor"));
            };
            return self.remove_webauthn(actor, key, factors.iter().any(|f| f.confirmed_at.is_some()) || other_keys > 0).await;
        };
        let others = factors.iter().filter(|f| f.id != factor_id && f.confirmed_at.is_some()).count() + other_keys;
        if factor.confirmed_at.is_some() && others == 0 && self.mfa_policy(actor.role).await?.requires(self.now) {
            return Err(StoreError::Conflict("your role requires a second factor: register another before removing this one".into()));
        }
        factor.removed_at = Some(self.now);
        self.tx.update_second_factor(&factor).await?;
        if others == 0 {
            self.tx.replace_recovery_codes(actor.username.as_str(), &[], self.now.as_micros()).await?;
        }
        self.audit(actor, A::SecondFactorRemove, None, None, None, Some(format!("kind={} id={factor_id}", factor.kind)), None).await?;
        Ok(Reply::Done)
    }

    /// Whether the account has a confirmed authenticator app or a registered WebAuthn credential.
    async fn has_second_factor(&mut self, username: &Username) -> Result<bool> {
        if self.tx.list_second_factors(username.as_str()).await?.iter().any(|f| f.confirmed_at.is_some()) {
            return Ok(true);
        }
        Ok(self.tx.list_webauthn_keys(username.as_str()).await?.iter().any(WebauthnKey::active))
    }

    async fn register_webauthn(&mut self, actor: &Actor, credential: &WebauthnCredential, end_other_sessions: bool) -> Result<Reply> {
        let session = self.own_session(actor).await?;
        if credential.username != actor.username {
            return Err(DomainError::invalid("credential", "a security key of one's own").into());
        }
        text_field("label", &credential.label, 100)?;
        let keys = self.tx.list_webauthn_keys(actor.username.as_str()).await?;
        if keys.iter().any(|k| k.credential.credential_id == credential.credential_id) {
            return Err(StoreError::Conflict("this security key is registered already".into()));
        }
        let record = WebauthnCredential { seq: self.seq, created_at: self.now, ..credential.clone() };
        self.tx.insert_webauthn_credential(&record).await?;
        self.log.append_leaf(Leaf::WebauthnCredential(&record));
        let mut detail = format!("registered kind=webauthn id={} label={}", record.id, record.label);
        self.enrolled_in_session(actor, &session, "webauthn", end_other_sessions, &mut detail).await?;
        self.audit(actor, A::SecondFactorEnrol, None, None, None, Some(detail), None).await?;
        Ok(Reply::Done)
    }

    /// Appends the removal event of a key (with its leaf).
    pub(super) async fn append_webauthn_removal(&mut self, actor: &Actor, key: &WebauthnKey) -> Result<()> {
        let event = WebauthnEvent {
            credential: key.credential.id.clone(),
            n: key.events + 1,
            kind: "removal".into(),
            counter: key.counter,
            state: None,
            at: self.now,
            session_id: actor.session.clone(),
            seq: self.seq,
        };
        self.tx.insert_webauthn_event(&event).await?;
        self.log.append_leaf(Leaf::WebauthnEvent(&event));
        Ok(())
    }

    /// A removal is an event of the credential, never a change of its row.
    async fn remove_webauthn(&mut self, actor: &Actor, key: &WebauthnKey, others: bool) -> Result<Reply> {
        if !others && self.mfa_policy(actor.role).await?.requires(self.now) {
            return Err(StoreError::Conflict("your role requires a second factor: register another before removing this one".into()));
        }
        self.append_webauthn_removal(actor, key).await?;
        if !others {
            self.tx.replace_recovery_codes(actor.username.as_str(), &[], self.now.as_micros()).await?;
        }
        let detail = format!("kind=webauthn id={} label={}", key.credential.id, key.credential.label);
        self.audit(actor, A::SecondFactorRemove, None, None, None, Some(detail), None).await?;
        Ok(Reply::Done)
    }

    async fn list_sessions(&mut self, actor: &Actor, username: &Username) -> Result<Reply> {
        if username != &actor.username {
            self.allow(actor, P::UserManage)?;
        }
        let sessions = self.tx.list_live_sessions(username.as_str(), self.now.as_micros()).await?;
        self.audit(actor, A::SessionList, None, None, None, Some(format!("user={username} count={}", sessions.len())), None).await?;
        Ok(Reply::Sessions(sessions.iter().map(SessionInfo::from).collect()))
    }

    async fn revoke_session(&mut self, actor: &Actor, session_id: &str) -> Result<Reply> {
        let session = self.tx.get_session_by_id(session_id).await?.ok_or(StoreError::NotFound("session"))?;
        if session.username != actor.username && self.allow(actor, P::UserManage).is_err() {
            // Someone else's session is not even shown to exist.
            return Err(StoreError::NotFound("session"));
        }
        self.tx.revoke_session(session_id, self.now.as_micros()).await?;
        self.audit(actor, A::SessionRevoke, None, None, None, Some(format!("user={} session={session_id}", session.username)), None)
            .await?;
        Ok(Reply::Done)
    }

    async fn audit_as(&mut self, actor: &Actor, action: A, outcome: Outcome, detail: &str) -> Result<()> {
        let ev = event(self.now, Some(actor), action, outcome, None, None, None, Some(detail.to_string()), None);
        {
            self.log.append_event(self.seq, ev);
            Ok(())
        }
    }

    async fn login_failed(&mut self, username: &str, client_addr: Option<String>, policy: &crate::command::LockoutPolicy) -> Result<Reply> {
        let typed: String = username.chars().filter(|c| !c.is_control()).take(64).collect();
        let Some(mut user) = self.tx.get_user(&typed).await? else {
            let ev = NewAuditEvent {
                user: Some(typed),
                client_addr,
                ..event(self.now, None, A::LoginFailed, Outcome::Failed, None, None, None, Some("unknown_user".into()), None)
            };
            self.log.append_event(self.seq, ev);
            return Ok(Reply::LoginFailed { locked: false });
        };
        let actor = Actor { username: user.username.clone(), role: user.role, session: None, client_addr, scope: None };
        let was_locked = user.is_locked(self.now);
        user.failed_logins += 1;
        let lock_now = !was_locked && user.failed_logins >= policy.max_failures;
        if lock_now {
            user.locked_until = Some(self.now.plus_seconds(policy.lock_seconds));
        }
        self.tx.update_user(&user).await?;
        let detail = if was_locked { "locked".to_string() } else { format!("failures={}", user.failed_logins) };
        self.audit_as(&actor, A::LoginFailed, Outcome::Failed, &detail).await?;
        if lock_now {
            self.audit_as(
                &actor,
                A::Lockout,
                Outcome::Success,
                &format!("until={}", self.now.plus_seconds(policy.lock_seconds).to_rfc3339()),
            )
            .await?;
        }
        Ok(Reply::LoginFailed { locked: was_locked || lock_now })
    }

    async fn end_session(&mut self, actor: &Actor, reason: Option<&str>) -> Result<Reply> {
        if let Some(id) = &actor.session {
            self.tx.revoke_session(id, self.now.as_micros()).await?;
        }
        self.audit(actor, A::Logout, None, None, None, reason.map(str::to_string), None).await?;
        Ok(Reply::Done)
    }

    async fn change_password(&mut self, actor: &Actor, new_hash: &str) -> Result<Reply> {
        let mut user = self.user(&actor.username).await?;
        user.password_hash = new_hash.to_string();
        user.must_change_password = false;
        user.password_changed_at = self.now;
        self.tx.update_user(&user).await?;
        self.tx.insert_password_history(actor.username.as_str(), new_hash, self.now.as_micros()).await?;
        self.audit(actor, A::PasswordChange, None, None, None, None, None).await?;
        Ok(Reply::User(user))
    }

    async fn set_grant(&mut self, actor: &Actor, role: Role, grant: Grant, allowed: bool) -> Result<Reply> {
        self.allow(actor, P::RoleManage)?;
        if role == actor.role && grant == Grant::Permission(P::RoleManage) && !allowed {
            return Err(StoreError::Conflict("removing the permission matrix from your own role would lock administration out".into()));
        }
        let changed = self.tx.set_grant(role.as_str(), &grant.key(), allowed).await?;
        let mut matrix = self.matrix.clone();
        matrix.set(role, grant, allowed);
        let detail = format!("{role} {}={allowed} changed={changed}", grant.key());
        self.audit(actor, A::RoleChange, None, None, None, Some(detail), None).await?;
        Ok(Reply::Matrix(matrix))
    }

    // ----- patients -----

    async fn create_patient(&mut self, actor: &Actor, new: &NewPatient) -> Result<Reply> {
        self.allow(actor, P::PatientWrite)?;
        new.validate(self.now)?;
        let patient = Patient {
            patient_id: new.patient_id.clone(),
            name: new.name.trim().to_string(),
            name_kana: new.name_kana.trim().to_string(),
            birth_date: new.birth_date.clone(),
            sex: new.sex,
            created_at: self.now,
            created_by: actor.username.to_string(),
        };
        if !self.tx.insert_patient(&patient).await? {
            return Err(StoreError::Conflict("a patient with this patient_id exists".into()));
        }
        self.audit(actor, A::PatientCreate, Some(patient.patient_id.to_string()), None, None, None, None).await?;
        Ok(Reply::Patient(patient))
    }

    async fn search_patients(&mut self, actor: &Actor, query: &str) -> Result<Reply> {
        self.allow(actor, P::PatientRead)?;
        let query = query.trim();
        if query.chars().count() > MAX_SEARCH_CHARS {
            return Err(DomainError::invalid("q", format!("must be at most {MAX_SEARCH_CHARS} characters")).into());
        }
        if query.chars().any(char::is_control) {
            return Err(DomainError::invalid("q", "must not contain control characters").into());
        }
        let patients = if query.is_empty() { Vec::new() } else { self.tx.search_patients(query, SEARCH_LIMIT).await? };
        let detail = format!("q={query} results={}", patients.len());
        self.audit(actor, A::PatientSearch, None, None, None, Some(detail), None).await?;
        Ok(Reply::Patients(patients))
    }

    // ----- whole-record export -----

    /// Whole-record exports are outside the permission matrix: they read every class of every
    /// patient, which no role should be granted. Only the console operator, who holds the data
    /// directory (database and files) anyway, may run them; what the export adds is the record of it.
    fn console_only(&self, actor: &Actor) -> Result<()> {
        if actor.is_local_operator() { Ok(()) } else { Err(kiroku_core::access::Denied::ConsoleOnly.into()) }
    }

    async fn export_patient_ids(&mut self, actor: &Actor, after: Option<&kiroku_core::PatientId>, limit: i64) -> Result<Reply> {
        self.console_only(actor)?;
        let after = after.map_or("", |p| p.as_str());
        let ids = self.tx.patient_ids_after(after, limit.clamp(1, 10_000)).await?;
        let ids = ids
            .into_iter()
            .map(kiroku_core::PatientId::parse)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("patient_id: {e}")))?;
        let detail = format!("patient_ids after={after} count={}", ids.len());
        self.audit(actor, A::RecordExport, None, None, None, Some(detail), None).await?;
        Ok(Reply::PatientIds(ids))
    }

    async fn export_patient(&mut self, actor: &Actor, patient_id: &kiroku_core::PatientId) -> Result<Reply> {
        self.console_only(actor)?;
        let patient = self.tx.get_patient(patient_id.as_str()).await?.ok_or(StoreError::NotFound("patient"))?;
        let heads = self.tx.patient_heads(patient_id.as_str()).await?;
        let mut versions = group_by_document(self.tx.patient_versions(patient_id.as_str()).await?, |v| &v.document_id);
        let mut attestations = group_by_document(self.tx.patient_attestations(patient_id.as_str()).await?, |a| &a.document_id);
        let mut attachments = group_by_document(self.tx.patient_attachments(patient_id.as_str()).await?, |a| &a.document_id);
        let documents: Vec<DocumentRecord> = heads
            .into_iter()
            .map(|head| DocumentRecord {
                versions: versions.remove(&head.id).unwrap_or_default(),
                attestations: attestations.remove(&head.id).unwrap_or_default(),
                attachments: attachments.remove(&head.id).unwrap_or_default(),
                head,
            })
            .collect();
        let count = |f: fn(&DocumentRecord) -> usize| documents.iter().map(f).sum::<usize>();
        let detail = format!(
            "documents={} versions={} attachments={}",
            documents.len(),
            count(|d| d.versions.len()),
            count(|d| d.attachments.len())
        );
        let people = self.display_names(&documents).await?;
        let tree_size = self.log.frontier.size() as i64;
        let (signatures, stamps) = self.evidence_of(&documents).await?;
        self.audit(actor, A::RecordExport, Some(patient_id.to_string()), None, None, Some(detail), None).await?;
        Ok(Reply::PatientRecord(Box::new(PatientRecord { patient, documents, people, tree_size, signatures, stamps })))
    }

    /// The signatures of `documents` and the timestamps of their files, versions and signatures.
    async fn evidence_of(&mut self, documents: &[DocumentRecord]) -> Result<(Vec<SignatureRecord>, Vec<(StampItem, StampRecord)>)> {
        let mut signatures = Vec::new();
        let mut keys: Vec<(&'static str, String, i64)> = Vec::new();
        for d in documents {
            keys.extend(d.attestations.iter().map(|a| ("version", a.document_id.to_string(), a.version)));
            keys.extend(d.attachments.iter().map(|a| ("attachment", a.id.clone(), 0)));
            signatures.extend(self.tx.list_signatures(d.head.id.as_str()).await?);
        }
        keys.extend(signatures.iter().map(|g| ("signature", g.id.clone(), 0)));
        keys.dedup();
        let mut stamps = Vec::new();
        for (kind, id, version) in keys {
            if let Some(item) = self.tx.get_stamp_item(kind, &id, version).await?
                && let Some(stamp) = self.tx.get_stamp(&item.stamp_id).await?
            {
                stamps.push((item, stamp));
            }
        }
        Ok((signatures, stamps))
    }

    /// The display names of everyone a record names, so that a reader sees people, not logins.
    async fn display_names(&mut self, documents: &[DocumentRecord]) -> Result<std::collections::BTreeMap<String, String>> {
        let mut names = std::collections::BTreeSet::new();
        for d in documents {
            names.extend(d.versions.iter().flat_map(|v| std::iter::once(&v.entered_by).chain(v.on_behalf_of.as_ref())));
            names.extend(d.attestations.iter().map(|a| &a.username));
            names.extend(d.attachments.iter().map(|a| &a.added_by));
        }
        let mut people = std::collections::BTreeMap::new();
        for name in names {
            if let Some(user) = self.tx.get_user(name.as_str()).await? {
                people.insert(user.username.to_string(), user.display_name);
            }
        }
        Ok(people)
    }

    // ----- documents -----

    async fn head(&mut self, id: &DocumentId) -> Result<DocumentHead> {
        self.tx.get_head(id.as_str()).await?.ok_or(StoreError::NotFound("document"))
    }

    async fn readable_head(&mut self, actor: &Actor, id: &DocumentId) -> Result<DocumentHead> {
        self.allow(actor, P::DocumentRead)?;
        let head = self.head(id).await?;
        self.allow_class(actor, P::DocumentRead, &head)?;
        Ok(head)
    }

    /// A document's head and one of its versions (`None`: the current one), read together.
    async fn head_with(&mut self, id: &DocumentId, version: Option<i64>) -> Result<(DocumentHead, VersionRecord)> {
        let (head, record) = self.tx.get_head_with_version(id.as_str(), version).await?.ok_or(StoreError::NotFound("document"))?;
        match (record, version) {
            (Some(record), _) => Ok((head, record)),
            (None, Some(_)) => Err(StoreError::NotFound("version")),
            (None, None) => Err(StoreError::Corrupt(format!("document {} has no version {}", head.id, head.version))),
        }
    }

    /// The head of a document about to change, checked for permission and for a stale If-Match.
    async fn changeable_head(&mut self, actor: &Actor, id: &DocumentId, if_match: Option<i64>, permission: P) -> Result<DocumentHead> {
        self.allow(actor, permission)?;
        let head = self.head(id).await?;
        self.check_change(actor, &head, if_match, permission)?;
        Ok(head)
    }

    /// The same with the current version, for changes that build on it.
    async fn changeable(
        &mut self,
        actor: &Actor,
        id: &DocumentId,
        if_match: Option<i64>,
        permission: P,
    ) -> Result<(DocumentHead, VersionRecord)> {
        self.allow(actor, permission)?;
        let (head, current) = self.head_with(id, None).await?;
        self.check_change(actor, &head, if_match, permission)?;
        Ok((head, current))
    }

    fn check_change(&self, actor: &Actor, head: &DocumentHead, if_match: Option<i64>, permission: P) -> Result<()> {
        self.allow_class(actor, permission, head)?;
        if let Some(expected) = if_match
            && expected != head.version
        {
            return Err(StoreError::Stale { current: head.version });
        }
        Ok(())
    }

    fn step(&self, head: &DocumentHead, actor: &Actor, step: Step) -> Result<DocumentStatus> {
        let facts = HeadFacts { status: head.status, entered_by: &head.entered_by, on_behalf_of: head.on_behalf_of.as_ref() };
        Ok(next_status(facts, &actor.username, step)?)
    }

    async fn create_document(
        &mut self,
        actor: &Actor,
        patient_id: &kiroku_core::PatientId,
        doc: &crate::command::NewDocument,
    ) -> Result<Reply> {
        let kind = match &doc.on_behalf_of {
            Some(clinician) => {
                self.matrix.check_as(actor.role, actor.scope.as_ref(), P::DocumentProxyEnter, Some(doc.info_class))?;
                let named = self.tx.get_user(clinician.as_str()).await?;
                let can_approve = named
                    .as_ref()
                    .is_some_and(|u| !u.disabled && self.matrix.check(u.role, P::DocumentApprove, Some(doc.info_class)).is_ok());
                if !can_approve {
                    return Err(DomainError::invalid("on_behalf_of", "must name an active clinician who may approve this document").into());
                }
                VersionKind::Proxy
            }
            None => {
                self.matrix.check_as(actor.role, actor.scope.as_ref(), P::DocumentWrite, Some(doc.info_class))?;
                VersionKind::Draft
            }
        };
        validate_document_fields(&doc.doc_type, &doc.title, &doc.body)?;
        if self.tx.get_patient(patient_id.as_str()).await?.is_none() {
            return Err(StoreError::NotFound("patient"));
        }
        let id = DocumentId::parse(uuid::Uuid::now_v7().to_string())?;
        let version = VersionRecord {
            document_id: id.clone(),
            version: 1,
            kind,
            patient_id: patient_id.clone(),
            doc_type: doc.doc_type.clone(),
            title: doc.title.clone(),
            info_class: doc.info_class,
            body: doc.body.clone(),
            entered_by: actor.username.clone(),
            on_behalf_of: doc.on_behalf_of.clone(),
            entered_at: self.now,
            reason: None,
            content_hash: String::new(),
            seq: self.seq,
        };
        let version = with_hash(version);
        let head = DocumentHead {
            id: id.clone(),
            patient_id: patient_id.clone(),
            doc_type: doc.doc_type.clone(),
            title: doc.title.clone(),
            info_class: doc.info_class,
            status: if kind == VersionKind::Proxy { DocumentStatus::PendingApproval } else { DocumentStatus::Draft },
            version: 1,
            entered_by: actor.username.clone(),
            on_behalf_of: doc.on_behalf_of.clone(),
            created_at: self.now,
            updated_at: self.now,
            confirmed_by: None,
            confirmed_at: None,
        };
        self.tx.insert_head(&head).await?;
        self.record_version(&version).await?;
        let detail = doc.on_behalf_of.as_ref().map(|c| format!("proxy_for={c}"));
        self.audit(actor, A::DocumentCreate, Some(patient_id.to_string()), Some(&id), Some(1), detail, Some(version.content_hash.clone()))
            .await?;
        // A document just created has no attestations or files: nothing to read back.
        Ok(compose(head, version, &[], Vec::new()))
    }

    async fn list_documents(&mut self, actor: &Actor, patient_id: &kiroku_core::PatientId) -> Result<Reply> {
        self.allow(actor, P::DocumentRead)?;
        if self.tx.get_patient(patient_id.as_str()).await?.is_none() {
            return Err(StoreError::NotFound("patient"));
        }
        let visible = self.matrix.visible_classes_as(actor.role, actor.scope.as_ref());
        let mut heads = self.tx.list_heads(patient_id.as_str()).await?;
        heads.retain(|h| visible.contains(&h.info_class));
        self.audit(actor, A::DocumentList, Some(patient_id.to_string()), None, None, Some(format!("count={}", heads.len())), None).await?;
        Ok(Reply::Documents(heads))
    }

    async fn read_document(&mut self, actor: &Actor, id: &DocumentId, version: Option<i64>) -> Result<Reply> {
        self.allow(actor, P::DocumentRead)?;
        let (head, record) = self.head_with(id, version).await?;
        self.allow_class(actor, P::DocumentRead, &head)?;
        let n = record.version;
        let action = if version.is_some() { A::VersionRead } else { A::DocumentRead };
        self.audit(actor, action, Some(head.patient_id.to_string()), Some(id), Some(n), None, Some(record.content_hash.clone())).await?;
        self.view(head, record).await
    }

    async fn list_versions(&mut self, actor: &Actor, id: &DocumentId) -> Result<Reply> {
        let head = self.readable_head(actor, id).await?;
        let versions = self.tx.list_versions(id.as_str()).await?;
        let attestations = self.tx.list_attestations(id.as_str()).await?;
        let summaries = versions
            .into_iter()
            .map(|v| {
                let (confirm, approve) = attestation_of(&attestations, v.version);
                VersionSummary {
                    version: v.version,
                    kind: v.kind,
                    author: v.entered_by,
                    entered_at: v.entered_at,
                    reason: v.reason,
                    content_hash: v.content_hash,
                    confirmer: confirm.or(approve).map(|a| a.username.clone()),
                    confirmed_at: confirm.or(approve).map(|a| a.at),
                    approved_by: approve.map(|a| a.username.clone()),
                }
            })
            .collect();
        self.audit(actor, A::VersionList, Some(head.patient_id.to_string()), Some(id), None, None, None).await?;
        Ok(Reply::Versions(summaries))
    }

    async fn update_draft(
        &mut self,
        actor: &Actor,
        id: &DocumentId,
        if_match: Option<i64>,
        title: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<Reply> {
        let (mut head, previous) = self.changeable(actor, id, if_match, P::DocumentWrite).await?;
        if head.status == DocumentStatus::Confirmed {
            return Err(DomainError::invalid("reason", "a confirmed document is changed by an amendment, which needs a reason").into());
        }
        self.step(&head, actor, Step::EditDraft)?;
        let title = title.unwrap_or(&previous.title);
        validate_document_fields(&previous.doc_type, title, body)?;
        let version = self.next_version(&previous, VersionKind::Draft, actor, title, body.clone(), None);
        head.title = version.title.clone();
        self.append_version(actor, &mut head, version, A::DocumentUpdate, None).await
    }

    async fn amend(
        &mut self,
        actor: &Actor,
        id: &DocumentId,
        if_match: Option<i64>,
        title: Option<&str>,
        body: &serde_json::Value,
        reason: &str,
    ) -> Result<Reply> {
        let (mut head, previous) = self.changeable(actor, id, if_match, P::DocumentWrite).await?;
        // An amendment is confirmed as it is written, so it needs the confirming authority too.
        self.allow_class(actor, P::DocumentConfirm, &head)?;
        self.step(&head, actor, Step::Amend)?;
        let reason = require_reason(Some(reason))?.to_string();
        let title = title.unwrap_or(&previous.title);
        validate_document_fields(&previous.doc_type, title, body)?;
        let version = self.next_version(&previous, VersionKind::Amendment, actor, title, body.clone(), Some(reason));
        head.title = version.title.clone();
        head.confirmed_by = Some(actor.username.to_string());
        head.confirmed_at = Some(self.now);
        self.append_version(actor, &mut head, version, A::DocumentAmend, Some(AttestationKind::Confirm)).await
    }

    async fn delete(&mut self, actor: &Actor, id: &DocumentId, if_match: Option<i64>, reason: &str) -> Result<Reply> {
        let (mut head, previous) = self.changeable(actor, id, if_match, P::DocumentDelete).await?;
        head.status = self.step(&head, actor, Step::Delete)?;
        let reason = require_reason(Some(reason))?.to_string();
        let version = self.next_version(&previous, VersionKind::Deletion, actor, &previous.title, previous.body.clone(), Some(reason));
        self.append_version(actor, &mut head, version, A::DocumentDelete, None).await
    }

    fn next_version(
        &self,
        previous: &VersionRecord,
        kind: VersionKind,
        actor: &Actor,
        title: &str,
        body: serde_json::Value,
        reason: Option<String>,
    ) -> VersionRecord {
        with_hash(VersionRecord {
            version: previous.version + 1,
            kind,
            title: title.to_string(),
            body,
            entered_by: actor.username.clone(),
            on_behalf_of: None,
            entered_at: self.now,
            reason,
            content_hash: String::new(),
            seq: self.seq,
            ..previous.clone()
        })
    }

    async fn append_version(
        &mut self,
        actor: &Actor,
        head: &mut DocumentHead,
        version: VersionRecord,
        action: A,
        attest: Option<AttestationKind>,
    ) -> Result<Reply> {
        head.version = version.version;
        head.updated_at = self.now;
        self.record_version(&version).await?;
        if let Some(kind) = attest {
            self.record_attestation(&head.id, version.version, kind, actor).await?;
        }
        self.tx.update_head(head).await?;
        let detail = version.reason.as_ref().map(|r| format!("reason={r}"));
        self.audit(
            actor,
            action,
            Some(head.patient_id.to_string()),
            Some(&head.id),
            Some(version.version),
            detail,
            Some(version.content_hash.clone()),
        )
        .await?;
        self.view(head.clone(), version).await
    }

    /// Confirmation (確定) of a draft or approval (承認) of a proxy entry.
    async fn attest(&mut self, actor: &Actor, id: &DocumentId, if_match: Option<i64>, step: Step) -> Result<Reply> {
        let (permission, kind, action) = match step {
            Step::Approve => (P::DocumentApprove, AttestationKind::Approve, A::DocumentApprove),
            _ => (P::DocumentConfirm, AttestationKind::Confirm, A::DocumentConfirm),
        };
        let (mut head, version) = self.changeable(actor, id, if_match, permission).await?;
        head.status = self.step(&head, actor, step)?;
        let attestation = self.record_attestation(id, head.version, kind, actor).await?;
        head.confirmed_by = Some(actor.username.to_string());
        head.confirmed_at = Some(self.now);
        head.updated_at = self.now;
        self.tx.update_head(&head).await?;
        self.audit(
            actor,
            action,
            Some(head.patient_id.to_string()),
            Some(id),
            Some(head.version),
            None,
            Some(version.content_hash.clone()),
        )
        .await?;
        // A draft or a pending entry has never been confirmed: the new attestation is its only one.
        let mut attachments = self.tx.list_attachments(head.id.as_str()).await?;
        attachments.retain(|a| a.version <= version.version);
        Ok(compose(head, version, std::slice::from_ref(&attestation), attachments))
    }

    #[allow(clippy::too_many_arguments)]
    async fn add_attachment(
        &mut self,
        actor: &Actor,
        id: &DocumentId,
        attachment_id: &str,
        name: &str,
        media_type: &str,
        size: i64,
        blob_hash: &str,
    ) -> Result<Reply> {
        let head = self.changeable_head(actor, id, None, if_proxy(actor, self.matrix)).await?;
        validate_attachment_name(name)?;
        text_field("media_type", media_type, 127)?;
        // Files join a record only while it is being written: a draft by its author, a proxy entry
        // by the proxy before approval. After that, a change is an amendment.
        let open = match head.status {
            DocumentStatus::Draft | DocumentStatus::PendingApproval => head.entered_by == actor.username,
            _ => false,
        };
        if !open {
            return Err(StoreError::Conflict("files can be attached only to your own draft or proxy entry before confirmation".into()));
        }
        let att = AttachmentRecord {
            id: attachment_id.to_string(),
            document_id: id.clone(),
            version: head.version,
            name: name.to_string(),
            media_type: media_type.to_string(),
            size,
            blob_hash: blob_hash.to_string(),
            added_by: actor.username.clone(),
            added_at: self.now,
            seq: self.seq,
        };
        self.tx.insert_attachment(&att).await?;
        self.log.append_leaf(Leaf::Attachment(&att));
        self.audit(
            actor,
            A::AttachmentAdd,
            Some(head.patient_id.to_string()),
            Some(id),
            Some(head.version),
            Some(name.to_string()),
            Some(blob_hash.to_string()),
        )
        .await?;
        Ok(Reply::Attachment(att))
    }

    // ----- operations -----

    async fn enter_emergency(&mut self, by: Option<&Actor>, reason: &str) -> Result<Reply> {
        let system = Actor::system();
        let actor = match by {
            Some(actor) => {
                self.allow(actor, P::OpsManage)?;
                actor
            }
            None => &system,
        };
        let reason = check_reason(reason)?.to_string();
        if let Some(active) = self.emergency.as_ref() {
            return Err(StoreError::Conflict(format!("emergency read-only mode is already active since {}", active.since.to_rfc3339())));
        }
        let state = EmergencyState { since: self.now, reason: reason.clone(), entered_by: actor.username.to_string() };
        self.tx.set_emergency(Some(&state)).await?;
        *self.emergency = Some(state.clone());
        let detail = format!("reason={reason}{}", if by.is_none() { " automatic=true" } else { "" });
        self.audit(actor, A::EmergencyModeEnter, None, None, None, Some(detail), None).await?;
        Ok(Reply::Emergency(Some(Box::new(state))))
    }

    async fn leave_emergency(&mut self, actor: &Actor, reason: &str) -> Result<Reply> {
        self.allow(actor, P::OpsManage)?;
        let reason = check_reason(reason)?.to_string();
        let Some(active) = self.emergency.clone() else {
            return Err(StoreError::Conflict("emergency read-only mode is not active".into()));
        };
        self.tx.set_emergency(None).await?;
        *self.emergency = None;
        let detail = format!("reason={reason} since={} entered_by={}", active.since.to_rfc3339(), active.entered_by);
        self.audit(actor, A::EmergencyModeLeave, None, None, None, Some(detail), None).await?;
        Ok(Reply::Emergency(None))
    }

    async fn read_locations(&mut self, actor: &Actor) -> Result<Reply> {
        self.allow(actor, P::OpsRead)?;
        let entries = current_locations(self.tx.location_entries(None).await?);
        let filter = AuditFilter { action: Some(A::Backup), outcome: Some(Outcome::Success), ..AuditFilter::default() };
        let backups = crate::operations::last_backups(&self.tx.query_audit(&filter, 1000).await?);
        self.audit(actor, A::LocationRegisterRead, None, None, None, Some(format!("entries={}", entries.len())), None).await?;
        Ok(Reply::Locations(Box::new(LocationRegister { entries, backups })))
    }

    async fn save_location(&mut self, actor: &Actor, id: Option<&str>, fields: &LocationFields, retired: bool) -> Result<Reply> {
        self.allow(actor, P::OpsManage)?;
        fields.validate()?;
        let (id, revision) = match id {
            None => (uuid::Uuid::now_v7().to_string(), 1),
            Some(id) => {
                let revisions = self.tx.location_entries(Some(id)).await?;
                let last = revisions.last().ok_or(StoreError::NotFound("location"))?;
                if last.retired {
                    return Err(StoreError::Conflict("this entry was removed from the register; add a new one".into()));
                }
                (id.to_string(), last.revision + 1)
            }
        };
        let entry = LocationEntry {
            id,
            revision,
            fields: fields.clone(),
            retired,
            edited_by: actor.username.clone(),
            edited_at: self.now,
            seq: self.seq,
        };
        self.tx.insert_location_entry(&entry).await?;
        let detail = format!("location={} revision={revision}{}", entry.id, if retired { " retired=true" } else { "" });
        self.audit(actor, A::LocationRegisterChange, None, None, None, Some(detail), Some(entry.content_hash())).await?;
        Ok(Reply::LocationEntries(vec![entry]))
    }

    /// The facility profile and the regulation (schema 10); see [`crate::governance`].
    async fn governance(&mut self, actor: &Actor, op: &crate::governance::GovernanceOp) -> Result<Reply> {
        use crate::governance::{ApprovalRecord, GovernanceOp, GovernanceState, ProfileRecord, RegulationRecord, content_of};
        let invalid = |field: &'static str, reason: String| StoreError::Invalid(DomainError::invalid(field, reason));
        match op {
            GovernanceOp::Read => {
                self.allow(actor, P::GovernanceRead)?;
                let state = self.tx.governance_state().await?;
                let detail = format!("profiles={} regulations={}", state.profiles.len(), state.regulations.len());
                self.audit(actor, A::GovernanceRead, None, None, None, Some(detail), None).await?;
                Ok(Reply::Governance(Box::new(state)))
            }
            GovernanceOp::SaveProfile(profile) => {
                self.allow(actor, P::GovernanceManage)?;
                profile.validate_values().map_err(|e| invalid("profile", e.to_string()))?;
                let state = self.tx.governance_state().await?;
                let (content, content_hash) = content_of(profile.as_ref());
                let record = ProfileRecord {
                    revision: state.profiles.last().map_or(1, |p| p.revision + 1),
                    facility_class: profile.facility_class.to_string(),
                    content,
                    content_hash: content_hash.clone(),
                    edited_by: actor.username.clone(),
                    edited_at: self.now,
                    seq: self.seq,
                };
                self.tx.insert_profile(&record).await?;
                self.log.append_leaf(Leaf::Profile(&record));
                let detail = format!("profile_revision={} class={}", record.revision, record.facility_class);
                self.audit(actor, A::GovernanceProfileChange, None, None, None, Some(detail), Some(content_hash)).await?;
                Ok(Reply::Governance(Box::new(GovernanceState { profiles: vec![record], ..GovernanceState::default() })))
            }
            GovernanceOp::StoreRegulation { profile_revision, regulation } => {
                self.allow(actor, P::GovernanceManage)?;
                let state = self.tx.governance_state().await?;
                if state.latest_profile().map(|p| p.revision) != Some(*profile_revision) {
                    return Err(StoreError::Conflict("the facility profile changed meanwhile; generate the regulation again".into()));
                }
                let (content, content_hash) = content_of(regulation.as_ref());
                let record = RegulationRecord {
                    revision: state.regulations.last().map_or(1, |r| r.revision + 1),
                    profile_revision: *profile_revision,
                    catalogue_edition: regulation.catalogue_edition.clone(),
                    content,
                    content_hash: content_hash.clone(),
                    generated_by: actor.username.clone(),
                    generated_at: self.now,
                    seq: self.seq,
                };
                self.tx.insert_regulation(&record).await?;
                self.log.append_leaf(Leaf::Regulation(&record));
                let detail = format!("regulation_revision={} profile_revision={profile_revision}", record.revision);
                self.audit(actor, A::RegulationGenerate, None, None, None, Some(detail), Some(content_hash)).await?;
                Ok(Reply::Governance(Box::new(GovernanceState { regulations: vec![record], ..GovernanceState::default() })))
            }
            GovernanceOp::Approve { revision, content_hash, note } => {
                self.allow(actor, P::GovernanceManage)?;
                if note.chars().count() > 1000 || note.chars().any(|c| c.is_control() && c != '\n') {
                    return Err(invalid("note", "must be at most 1000 characters without control characters".into()));
                }
                let state = self.tx.governance_state().await?;
                let regulation = state.regulation(*revision).ok_or(StoreError::NotFound("regulation"))?;
                if state.regulations.last().map(|r| r.revision) != Some(*revision) {
                    return Err(StoreError::Conflict("a newer revision of the regulation exists; approve that one".into()));
                }
                if state.approval(*revision).is_some() {
                    return Err(StoreError::Conflict("this revision is already approved".into()));
                }
                if &regulation.content_hash != content_hash {
                    return Err(StoreError::Conflict("the text approved is not this revision's; reload and approve again".into()));
                }
                if regulation.generated_by == actor.username {
                    return Err(StoreError::Conflict(
                        "the regulation must be approved by someone other than the person who generated it".into(),
                    ));
                }
                let record = ApprovalRecord {
                    revision: *revision,
                    content_hash: content_hash.clone(),
                    approved_by: actor.username.clone(),
                    approved_at: self.now,
                    note: note.clone(),
                    seq: self.seq,
                };
                self.tx.insert_regulation_approval(&record).await?;
                self.log.append_leaf(Leaf::RegulationApproval(&record));
                let detail = format!("regulation_revision={revision}");
                self.audit(actor, A::RegulationApprove, None, None, None, Some(detail), Some(content_hash.clone())).await?;
                Ok(Reply::Governance(Box::new(GovernanceState { approvals: vec![record], ..GovernanceState::default() })))
            }
        }
    }

    async fn store_checkpoint(&mut self, cp: &CheckpointRow) -> Result<Reply> {
        if cp.size < 1 || cp.size > self.log.frontier.size() as i64 {
            return Err(StoreError::Conflict(format!("no tree of size {}", cp.size)));
        }
        let root = ledger::load_frontier(self.tx, cp.size as u64).await?.root();
        if hex::encode(root) != cp.root {
            return Err(StoreError::Conflict(format!("the root signed for size {} is not the log's", cp.size)));
        }
        self.tx.insert_checkpoint(cp).await?;
        Ok(Reply::Done)
    }

    /// Moves an export's cursor forward. Never backwards and never past the newest event, so that a
    /// confused forwarder cannot make the trail look delivered when it was not.
    async fn advance_export_cursor(&mut self, name: &str, last_id: i64) -> Result<Reply> {
        if name.is_empty() || name.len() > 64 {
            return Err(DomainError::invalid("name", "must be 1 to 64 characters").into());
        }
        let current = self.tx.export_cursor(name).await?.unwrap_or(0);
        if last_id < current {
            return Err(StoreError::Conflict(format!("export cursor {name} is at {current} and only moves forward")));
        }
        let newest = self.tx.query_audit(&AuditFilter::default(), 1).await?.first().map_or(0, |e| e.id);
        if last_id > newest {
            return Err(StoreError::Conflict(format!("there is no audit event {last_id} yet")));
        }
        self.tx.set_export_cursor(name, last_id, self.now.as_micros()).await?;
        Ok(Reply::Done)
    }

    async fn read_version_proof(&mut self, actor: &Actor, id: &DocumentId, version: i64) -> Result<Reply> {
        let Reply::Document(document) = self.read_document(actor, id, Some(version)).await? else {
            return Err(StoreError::Corrupt("read_document answered something else".into()));
        };
        let leaf = self
            .tx
            .find_leaf("version", id.as_str(), Some(version))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("document {id} version {version} has no leaf")))?;
        let checkpoint = self.tx.latest_checkpoint().await?.filter(|c| c.size > leaf.idx).ok_or_else(|| {
            StoreError::Conflict("no signed checkpoint covers this version yet; checkpoints are made every second, try again".into())
        })?;
        let record = self.tx.get_version(id.as_str(), version).await?.ok_or(StoreError::NotFound("version"))?;
        let inclusion = ledger::inclusion(self.tx, leaf.idx as u64, checkpoint.size as u64).await?;
        Ok(Reply::VersionProof(Box::new(crate::command::VersionProof {
            document: *document,
            leaf_index: leaf.idx,
            leaf_data: Leaf::Version(&record).data(),
            tree_size: checkpoint.size,
            checkpoint: checkpoint.note,
            inclusion: inclusion.iter().map(hex::encode).collect(),
        })))
    }

    /// The review report of a period that has ended; the same period always gives the same report.
    async fn review(
        &mut self,
        actor: &Actor,
        from: Timestamp,
        to: Timestamp,
        hours: crate::review::BusinessHours,
    ) -> Result<crate::review::ReviewReport> {
        self.allow(actor, P::AuditRead)?;
        if from >= to {
            return Err(DomainError::invalid("from", "must be before to").into());
        }
        if to > self.now {
            return Err(DomainError::invalid("to", "the period must have ended, so that its report cannot change after review").into());
        }
        let restricted = self.tx.restricted_documents().await?.into_iter().collect();
        let mut builder = crate::review::ReviewBuilder::new(from, to, hours, restricted);
        let mut after = 0;
        loop {
            let page = self.tx.scan_audit_between(from.as_micros(), to.as_micros(), after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            page.iter().for_each(|e| builder.add(e));
        }
        Ok(builder.finish())
    }

    async fn sign_off_review(
        &mut self,
        actor: &Actor,
        (from, to, hours): (Timestamp, Timestamp, crate::review::BusinessHours),
        report_hash: &str,
        comment: &str,
    ) -> Result<Reply> {
        let report = self.review(actor, from, to, hours).await?;
        let current = crate::review::report_hash(&report);
        crate::review::check_signed_hash(&current, report_hash)?;
        crate::review::check_comment(comment)?;
        let detail = format!("from={} to={} events={} comment={}", from.to_rfc3339(), to.to_rfc3339(), report.total_events, comment.trim());
        let ev = event(self.now, Some(actor), A::AuditReviewSignoff, Outcome::Success, None, None, None, Some(detail), Some(current));
        let recorded = self.log.append_event(self.seq, ev);
        Ok(Reply::Audit(vec![recorded]))
    }

    async fn record_stamp(&mut self, stamp: &StampRecord, items: &[StampItem]) -> Result<Reply> {
        let stamp = StampRecord { seq: self.seq, ..stamp.clone() };
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            if self.tx.get_stamp_item(&item.item_kind, &item.ref_id, item.ref_version).await?.is_some() {
                continue;
            }
            let current = match item.item_kind.as_str() {
                "version" => self.tx.get_version(&item.ref_id, item.ref_version).await?.map(|v| v.content_hash),
                "signature" => self.tx.get_signature(&item.ref_id).await?.map(|g| g.signature_hash),
                "attachment" => self.attachment_hash(&item.ref_id).await?,
                _ => None,
            };
            if current.as_deref() != Some(item.digest.as_str()) {
                return Err(StoreError::Conflict(format!("{} {} has no digest {}", item.item_kind, item.ref_id, item.digest)));
            }
            kept.push(StampItem { stamp_id: stamp.id.clone(), seq: self.seq, ..item.clone() });
        }
        let action = match stamp.kind {
            StampKind::Batch if kept.is_empty() => return Err(StoreError::Conflict("every item of the batch is stamped already".into())),
            StampKind::Batch => A::TimestampAdd,
            StampKind::File => {
                let one = matches!(kept.as_slice(), [item] if item.item_kind == "attachment" && item.digest == stamp.imprint && item.batch_size == 1);
                if !one {
                    return Err(StoreError::Conflict("a file stamp covers exactly one file, by its own hash".into()));
                }
                A::TimestampAdd
            }
            StampKind::Archive => {
                let renewed = stamp.renews.as_deref().unwrap_or_default();
                if self.tx.get_stamp(renewed).await?.is_none() {
                    return Err(StoreError::NotFound("timestamp"));
                }
                A::TimestampRenew
            }
        };
        self.tx.insert_stamp(&stamp).await?;
        self.log.append_leaf(Leaf::Stamp(&stamp));
        self.tx.insert_stamp_items(&kept).await?;
        for item in &kept {
            self.log.append_leaf(Leaf::StampItem(item));
        }
        let detail = format!(
            "stamp={} items={} gen_time={} tsa={}{}",
            stamp.id,
            kept.len(),
            stamp.gen_time.to_rfc3339(),
            stamp.tsa,
            stamp.renews.as_ref().map(|r| format!(" renews={r}")).unwrap_or_default()
        );
        let ev =
            event(self.now, Some(&Actor::system()), action, Outcome::Success, None, None, None, Some(detail), Some(stamp.imprint.clone()));
        self.log.append_event(self.seq, ev);
        Ok(Reply::Done)
    }

    async fn attachment_hash(&mut self, id: &str) -> Result<Option<String>> {
        Ok(self.tx.attachment_by_id(id).await?.map(|a| a.blob_hash))
    }

    /// Validation data of a signature or stamp just written, in the same transaction.
    async fn keep_evidence(&mut self, owner_kind: &str, owner_id: &str, evidence: &[crate::records::EvidenceRecord]) -> Result<()> {
        for e in evidence {
            if e.owner_kind != owner_kind || e.owner_id != owner_id || !matches!(e.kind.as_str(), "certificate" | "crl" | "ocsp") {
                return Err(DomainError::invalid("evidence", "validation data belongs to the signature or timestamp it comes with").into());
            }
            let record = crate::records::EvidenceRecord { seq: self.seq, ..e.clone() };
            self.tx.insert_evidence(&record).await?;
            self.log.append_leaf(Leaf::Evidence(&record));
        }
        Ok(())
    }

    /// A signature joins a confirmed version only, by the person whose key made it.
    async fn add_signature(&mut self, actor: &Actor, signature: &SignatureRecord) -> Result<Reply> {
        // A scanned file is signed by the staff who scan (scan.write); a version by its signers.
        self.allow(actor, if signature.attachment_id.is_some() { P::ScanWrite } else { P::DocumentSign })?;
        let (head, version) = self.head_with(&signature.document_id, Some(signature.version)).await?;
        self.allow_class(actor, P::DocumentRead, &head).or_else(|e| match signature.attachment_id {
            Some(_) => self.allow_class(actor, P::ScanWrite, &head),
            None => Err(e),
        })?;
        if signature.username != actor.username {
            return Err(DomainError::invalid("username", "a signature is recorded under the signer's own account").into());
        }
        let attestations = self.tx.list_attestations(head.id.as_str()).await?;
        if !attestations.iter().any(|a| a.version == signature.version) {
            return Err(StoreError::Conflict("only a confirmed version can be signed".into()));
        }
        let signed_hash = match &signature.attachment_id {
            Some(att) => match self.tx.attachment_by_id(att).await? {
                Some(a) if a.document_id == head.id && a.version <= signature.version => a.blob_hash,
                _ => return Err(StoreError::NotFound("attachment")),
            },
            None => version.content_hash.clone(),
        };
        if signed_hash != signature.content_hash {
            return Err(StoreError::Conflict("the signature covers other content than this version's".into()));
        }
        let record = SignatureRecord { seq: self.seq, signed_at: self.now, ..signature.clone() };
        self.tx.insert_signature(&record).await?;
        self.log.append_leaf(Leaf::Signature(&record));
        self.audit(
            actor,
            A::SignatureAdd,
            Some(head.patient_id.to_string()),
            Some(&head.id),
            Some(signature.version),
            Some(format!(
                "signature={} signer={}{}",
                record.id,
                record.signer,
                record.attachment_id.as_ref().map(|a| format!(" attachment={a}")).unwrap_or_default()
            )),
            Some(record.signature_hash.clone()),
        )
        .await?;
        Ok(Reply::Signature(Box::new(record)))
    }

    /// Writes a version and its leaf.
    async fn record_version(&mut self, version: &VersionRecord) -> Result<()> {
        self.tx.insert_version(version).await?;
        self.log.append_leaf(Leaf::Version(version));
        Ok(())
    }

    /// Writes a confirmation or approval and its leaf.
    async fn record_attestation(&mut self, id: &DocumentId, version: i64, kind: AttestationKind, actor: &Actor) -> Result<Attestation> {
        let attestation =
            Attestation { document_id: id.clone(), version, kind, username: actor.username.clone(), at: self.now, seq: self.seq };
        self.tx.insert_attestation(&attestation).await?;
        self.log.append_leaf(Leaf::Attestation(&attestation));
        Ok(attestation)
    }

    async fn view(&mut self, head: DocumentHead, version: VersionRecord) -> Result<Reply> {
        let attestations = self.tx.list_attestations(head.id.as_str()).await?;
        let mut attachments = self.tx.list_attachments(head.id.as_str()).await?;
        attachments.retain(|a| a.version <= version.version);
        Ok(compose(head, version, &attestations, attachments))
    }
}

/// The newest revision of each entry, without the retired ones.
fn current_locations(revisions: Vec<LocationEntry>) -> Vec<LocationEntry> {
    let mut current: Vec<LocationEntry> = Vec::new();
    for entry in revisions {
        match current.last_mut() {
            Some(last) if last.id == entry.id => *last = entry,
            _ => current.push(entry),
        }
    }
    current.retain(|e| !e.retired);
    current
}

/// A document answer from its head, the version shown, and the document's attestations and files.
fn compose(head: DocumentHead, version: VersionRecord, attestations: &[Attestation], attachments: Vec<AttachmentRecord>) -> Reply {
    let (confirm, approve) = attestation_of(attestations, version.version);
    let confirmed = confirm.or(approve);
    Reply::Document(Box::new(DocumentView {
        id: head.id,
        patient_id: head.patient_id,
        doc_type: version.doc_type,
        title: version.title,
        info_class: version.info_class,
        status: head.status,
        version: version.version,
        current_version: head.version,
        version_kind: version.kind,
        body: version.body,
        content_hash: version.content_hash,
        author: version.entered_by,
        entered_at: version.entered_at,
        on_behalf_of: version.on_behalf_of,
        confirmer: confirmed.map(|a| a.username.clone()),
        confirmed_at: confirmed.map(|a| a.at),
        approved_by: approve.map(|a| a.username.clone()),
        reason: version.reason,
        attachments,
    }))
}

fn is_reserved(username: &Username) -> bool {
    [crate::command::LOCAL_OPERATOR, crate::command::SYSTEM].contains(&username.as_str())
}

/// Rows of several documents, grouped by their document, keeping their order.
fn group_by_document<T>(rows: Vec<T>, id: impl Fn(&T) -> &DocumentId) -> std::collections::HashMap<DocumentId, Vec<T>> {
    let mut groups: std::collections::HashMap<DocumentId, Vec<T>> = std::collections::HashMap::new();
    for row in rows {
        groups.entry(id(&row).clone()).or_default().push(row);
    }
    groups
}

/// Attaching files is part of writing; a proxy writes under the proxy permission.
fn if_proxy(actor: &Actor, matrix: &PermissionMatrix) -> P {
    let holds = |p| matrix.check_as(actor.role, actor.scope.as_ref(), p, None).is_ok();
    if holds(P::DocumentProxyEnter) && !holds(P::DocumentWrite) { P::DocumentProxyEnter } else { P::DocumentWrite }
}

fn attestation_of(all: &[Attestation], version: i64) -> (Option<&Attestation>, Option<&Attestation>) {
    let find = |kind| all.iter().find(|a| a.version == version && a.kind == kind);
    (find(AttestationKind::Confirm), find(AttestationKind::Approve))
}

fn with_hash(mut v: VersionRecord) -> VersionRecord {
    v.content_hash = v.content().hash().to_hex();
    v
}
