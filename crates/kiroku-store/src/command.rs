//! Commands: every state change and every read of patient data, as one value the writer executes.

use kiroku_core::access::Grant;
use kiroku_core::{AuditAction, AuditEvent, DocumentId, InfoClass, PatientId, PermissionMatrix, Role, Timestamp, Username};

use crate::records::*;

/// Who asks: the authenticated user, their session and where the request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: Username,
    pub role: Role,
    pub session: Option<String>,
    pub client_addr: Option<String>,
    /// What a maintenance account (within its work order) or an API token may do instead of its
    /// role's row of the matrix; `None` for everyone else.
    pub scope: Option<kiroku_core::Scope>,
}

/// The account name under which the `kiroku` command line acts on the store directly.
pub const LOCAL_OPERATOR: &str = "kiroku-cli";
/// The account name under which kiroku's own background jobs (fixity checks) are recorded.
pub const SYSTEM: &str = "kiroku-system";

/// The actions [`Command::RecordOperation`] may record.
pub const OPERATION_ACTIONS: &[AuditAction] =
    &[AuditAction::Backup, AuditAction::BackupVerify, AuditAction::Restore, AuditAction::RestoreDrill];

impl Actor {
    /// kiroku itself, for the audit events of its background jobs.
    pub fn system() -> Actor {
        Actor {
            username: Username::parse(SYSTEM).expect("the reserved name is valid"),
            role: Role::Admin,
            session: None,
            client_addr: Some("local".into()),
            scope: None,
        }
    }

    /// The operator at the server's console, using the `kiroku` command: acts as an administrator;
    /// `os_user` is recorded as the session so the audit trail says who it was.
    pub fn local_operator(os_user: &str) -> Actor {
        let session: String = os_user.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(32).collect();
        Actor {
            username: Username::parse(LOCAL_OPERATOR).expect("the reserved name is valid"),
            role: Role::Admin,
            session: Some(format!("cli:{session}")),
            client_addr: Some("local".into()),
            scope: None,
        }
    }

    /// Whether this is the operator at the server's console: the reserved name no account can
    /// have, with the session a `kiroku` command records.
    pub fn is_local_operator(&self) -> bool {
        self.username.as_str() == LOCAL_OPERATOR && self.session.as_deref().is_some_and(|s| s.starts_with("cli:"))
    }
}

/// A new document as submitted.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub doc_type: String,
    pub title: String,
    pub body: serde_json::Value,
    pub info_class: InfoClass,
    /// Set for a proxy entry (代行入力): the clinician who must approve it.
    pub on_behalf_of: Option<Username>,
}

/// A login to a break-glass account: the declared reason (may be empty: then it is refused) and the
/// seconds its use lasts before the account must be re-sealed.
#[derive(Debug, Clone)]
pub struct BreakGlassUse {
    pub reason: String,
    pub seconds: i64,
}

/// Limits that decide lockout; they come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub lock_seconds: i64,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Creates the first administrator and the factory permission matrix; refused once users exist.
    Bootstrap {
        admin: UserRecord,
    },
    CreateUser {
        actor: Actor,
        user: UserRecord,
    },
    UpdateUser {
        actor: Actor,
        username: Username,
        display_name: Option<String>,
        role: Option<Role>,
        disabled: Option<bool>,
    },
    UnlockUser {
        actor: Actor,
        username: Username,
    },
    /// An administrator sets a temporary password that must be changed at next login.
    ResetPassword {
        actor: Actor,
        username: Username,
        new_hash: String,
    },
    ListUsers {
        actor: Actor,
    },
    /// The password was right: opens the session at the stage the account's second factor and its
    /// role's policy decide. `end_other_sessions`: a full login ends the account's other sessions.
    LoginSucceeded {
        session: SessionRecord,
        end_other_sessions: bool,
        /// The reason declared for using a break-glass account, and how long its use may last.
        break_glass: Option<BreakGlassUse>,
    },
    /// Creates a sealed break-glass (緊急時) account (user.manage); its password is printed once and
    /// kept sealed.
    CreateBreakGlass {
        actor: Actor,
        user: UserRecord,
    },
    /// Closes out a used break-glass account with a new sealed password (user.manage).
    ResealBreakGlass {
        actor: Actor,
        username: Username,
        new_hash: String,
    },
    ListBreakGlass {
        actor: Actor,
    },
    /// Starts enrolling a TOTP authenticator (unconfirmed until its first code).
    BeginTotp {
        actor: Actor,
        factor: SecondFactorRecord,
    },
    /// The first code of a new authenticator matched (step checked by the server): confirms it and
    /// stores new recovery codes; a session waiting to enrol becomes full.
    ConfirmTotp {
        actor: Actor,
        factor_id: String,
        step: i64,
        recovery_hashes: Vec<String>,
        end_other_sessions: bool,
    },
    /// Registers a WebAuthn/FIDO2 credential whose attestation the server verified against the
    /// challenge it issued; a session waiting to enrol becomes full.
    RegisterWebauthn {
        actor: Actor,
        credential: WebauthnCredential,
        end_other_sessions: bool,
    },
    /// The second step of a login succeeded as far as the server can tell; the engine refuses a
    /// replayed step or a used recovery code, counting it as a failed login.
    SecondFactorVerified {
        actor: Actor,
        proof: FactorProof,
        end_other_sessions: bool,
        policy: LockoutPolicy,
    },
    /// A wrong second-factor code: counts toward the lockout like a wrong password.
    SecondFactorFailed {
        actor: Actor,
        policy: LockoutPolicy,
    },
    /// Removes one of the caller's own authenticators (not while the role requires one and it is
    /// the last).
    RemoveSecondFactor {
        actor: Actor,
        factor_id: String,
    },
    /// The second-factor policy of every role (user.manage).
    ReadMfaPolicies {
        actor: Actor,
    },
    /// Sets one role's second-factor policy (user.manage).
    SetMfaPolicy {
        actor: Actor,
        role: Role,
        policy: kiroku_core::identity::MfaPolicy,
    },
    /// Live sessions of an account: one's own, or anyone's with user.manage.
    ListSessions {
        actor: Actor,
        username: Username,
    },
    /// Ends a session: one's own, or anyone's with user.manage.
    RevokeSession {
        actor: Actor,
        session_id: String,
    },
    /// A request or login refused because of where it came from; recorded only.
    RefuseAccess {
        username: String,
        role: Option<Role>,
        session: Option<String>,
        client_addr: Option<String>,
        detail: String,
    },
    LoginFailed {
        username: String,
        client_addr: Option<String>,
        policy: LockoutPolicy,
    },
    Logout {
        actor: Actor,
    },
    ChangePassword {
        actor: Actor,
        new_hash: String,
    },
    /// Records activity on a session for the idle timeout; bookkeeping, not audited.
    TouchSession {
        session_id: String,
    },
    /// Ends a session that timed out; recorded as a logout with the reason.
    ExpireSession {
        actor: Actor,
        reason: &'static str,
    },

    ReadMatrix {
        actor: Actor,
    },
    SetGrant {
        actor: Actor,
        role: Role,
        grant: Grant,
        allowed: bool,
    },

    CreatePatient {
        actor: Actor,
        patient: NewPatient,
    },
    SearchPatients {
        actor: Actor,
        query: String,
    },
    ReadPatient {
        actor: Actor,
        patient_id: PatientId,
    },

    CreateDocument {
        actor: Actor,
        patient_id: PatientId,
        document: NewDocument,
    },
    ListDocuments {
        actor: Actor,
        patient_id: PatientId,
    },
    ReadDocument {
        actor: Actor,
        id: DocumentId,
        version: Option<i64>,
    },
    ListVersions {
        actor: Actor,
        id: DocumentId,
    },
    UpdateDraft {
        actor: Actor,
        id: DocumentId,
        if_match: Option<i64>,
        title: Option<String>,
        body: serde_json::Value,
    },
    Confirm {
        actor: Actor,
        id: DocumentId,
        if_match: Option<i64>,
    },
    Approve {
        actor: Actor,
        id: DocumentId,
        if_match: Option<i64>,
    },
    Amend {
        actor: Actor,
        id: DocumentId,
        if_match: Option<i64>,
        title: Option<String>,
        body: serde_json::Value,
        reason: String,
    },
    Delete {
        actor: Actor,
        id: DocumentId,
        if_match: Option<i64>,
        reason: String,
    },
    AddAttachment {
        actor: Actor,
        id: DocumentId,
        attachment_id: String,
        name: String,
        media_type: String,
        size: i64,
        blob_hash: String,
    },
    ReadAttachment {
        actor: Actor,
        id: DocumentId,
        attachment_id: String,
    },
    ApprovalQueue {
        actor: Actor,
    },

    QueryAudit {
        actor: Actor,
        filter: AuditFilter,
        limit: i64,
        export: bool,
    },

    /// Stores a signed tree head after checking its root against the stored tree; not audited (a
    /// checkpoint is about the log, not a record in it).
    StoreCheckpoint {
        checkpoint: CheckpointRow,
    },
    /// A version with its leaf and inclusion proof in the latest checkpoint, for offline checking.
    ReadVersionProof {
        actor: Actor,
        id: DocumentId,
        version: i64,
    },
    /// The audit review report of a past period (audit.read).
    AuditReview {
        actor: Actor,
        from: Timestamp,
        to: Timestamp,
        hours: crate::review::BusinessHours,
    },
    /// The audit officer's sign-off of a report they reviewed, identified by its hash.
    SignOffReview {
        actor: Actor,
        from: Timestamp,
        to: Timestamp,
        hours: crate::review::BusinessHours,
        report_hash: String,
        comment: String,
    },
    /// The result of an operation on the whole store — a backup, its check, a restore or a restore
    /// drill — recorded by whoever ran it: the console operator or kiroku's scheduler. Only
    /// [`OPERATION_ACTIONS`] can be recorded this way, so it cannot forge a clinical event.
    RecordOperation {
        actor: Actor,
        action: AuditAction,
        outcome: kiroku_core::Outcome,
        detail: String,
    },
    /// The result of a scheduled fixity check, recorded by kiroku itself.
    RecordFixity {
        summary: crate::fixity::FixitySummary,
    },
    /// The user's UI language (`ja` or `en`); a preference, not audited.
    SetLanguage {
        actor: Actor,
        language: String,
    },
    /// A page of patient IDs in ID order after `after`, for exporting every patient one at a time
    /// (console operator only; audited as `record_export`).
    ExportPatientIds {
        actor: Actor,
        after: Option<PatientId>,
        limit: i64,
    },
    /// A patient's whole record (every document, version, attestation and file record, of every
    /// class) for the offline-readable export (console operator only; audited as `record_export`).
    ExportPatient {
        actor: Actor,
        patient_id: PatientId,
    },
    /// Moves an export's delivery cursor (the last audit id a collector took); bookkeeping, not
    /// audited: the events it counts are the audit trail itself.
    AdvanceExportCursor {
        name: String,
        last_id: i64,
    },
    /// Keeps a verified RFC 3161 token: a batch stamp with the items it covers, or an archive
    /// stamp over an earlier token. Recorded by kiroku itself; items stamped meanwhile by another
    /// process are left out.
    RecordStamp {
        stamp: StampRecord,
        items: Vec<StampItem>,
        /// The TSA's certificates and revocation answers, kept with the stamp.
        evidence: Vec<crate::records::EvidenceRecord>,
    },
    /// A user's signature of a confirmed version, made with their key and verified by the caller.
    AddSignature {
        actor: Actor,
        signature: SignatureRecord,
        /// The signer's certificates and revocation answers, kept with the signature.
        evidence: Vec<crate::records::EvidenceRecord>,
    },
    /// Enters emergency read-only mode; `by` is `None` when kiroku enters it by itself (its health
    /// monitor found the database, the disk or the file store unhealthy).
    EnterEmergency {
        by: Option<Actor>,
        reason: String,
    },
    /// Leaves emergency read-only mode (ops.manage), with the reason recorded.
    LeaveEmergency {
        actor: Actor,
        reason: String,
    },
    /// The stored half of the location register (ops.read): administrators' entries and the last
    /// successful backup per target.
    ReadLocations {
        actor: Actor,
    },
    /// Every revision of one register entry (ops.read).
    LocationHistory {
        actor: Actor,
        id: String,
    },
    /// The audit officer's sign-off of the compliance checklist (audit.read and governance.read),
    /// bound to the hash of the report they read; the caller has checked that the report it computes
    /// now has that hash.
    SignOffChecklist {
        actor: Actor,
        report_hash: String,
        counts: String,
        comment: String,
    },
    /// A manual attestation of a checklist item kiroku cannot see (governance.manage): who, when
    /// and why, in the audit trail. `detail` is `kiroku_governance::evidence::Attestation::detail`.
    AttestChecklistItem {
        actor: Actor,
        detail: String,
    },
    /// Adds an entry (`id` None) or a new revision of one (ops.manage); `retired` removes it from
    /// the register while its history stays.
    SaveLocation {
        actor: Actor,
        id: Option<String>,
        fields: crate::operations::LocationFields,
        retired: bool,
    },
    /// Creates a work order for a maintenance account (user.manage); `account` creates the
    /// account too (kind maintenance).
    CreateWorkOrder {
        actor: Actor,
        order: WorkOrder,
        account: Option<UserRecord>,
    },
    /// Work orders with their sign-offs: all with user.manage or audit.read, else those the
    /// actor supervises.
    ListWorkOrders {
        actor: Actor,
    },
    /// An order's check-off list (作業報告確認): for its supervisor, user.manage or audit.read.
    WorkOrderReport {
        actor: Actor,
        id: String,
    },
    /// The supervisor signs the check-off list off, after the window, with no session open.
    SignOffWorkOrder {
        actor: Actor,
        id: String,
        report_hash: String,
        comment: String,
    },
    /// Issues an API token (user.manage); `account` creates its service account.
    CreateApiToken {
        actor: Actor,
        token: ApiTokenRecord,
        account: Option<UserRecord>,
    },
    ListApiTokens {
        actor: Actor,
    },
    RevokeApiToken {
        actor: Actor,
        id: String,
    },
    /// An administrator issues a reset of a user's second factors (user.manage).
    IssueFactorReset {
        actor: Actor,
        reset: FactorResetRecord,
    },
    ListFactorResets {
        actor: Actor,
    },
    /// A second, different administrator approves a reset (user.manage).
    ApproveFactorReset {
        actor: Actor,
        id: String,
    },
    /// The user, at the second step of a login, uses an approved reset: their factors are removed
    /// and the session must enrol a new one.
    UseFactorReset {
        actor: Actor,
        code_hash: String,
    },
    /// The access review (アカウント棚卸し) report (user.manage or audit.read).
    AccessReview {
        actor: Actor,
        unused_days: i64,
    },
    /// The review's sign-off, bound to the report's hash (user.manage or audit.read).
    SignOffAccessReview {
        actor: Actor,
        unused_days: i64,
        report_hash: String,
        comment: String,
    },
    /// Marks a member of staff as having left on a date (user.manage).
    MarkLeft {
        actor: Actor,
        username: Username,
        left_on: String,
    },
    /// The facility profile and the generated regulation (governance.read / governance.manage).
    Governance(crate::governance::GovernanceCommand),
    /// Adds a scan type or a new revision of its rule (scan.manage); `retired` ends its use.
    SaveScanType {
        actor: Actor,
        rule: kiroku_core::scan::ScanRule,
        retired: bool,
    },
    /// The scan register (scan.read): types, items with their events, files, signatures and
    /// timestamps, and which are overdue; `patient_id` narrows it to one patient.
    ScanRegister {
        actor: Actor,
        patient_id: Option<PatientId>,
        calendar: kiroku_core::scan::WorkCalendar,
    },
    /// Registers paper received for scanning (scan.write), so that its deadline runs from now.
    ReceivePaper {
        actor: Actor,
        patient_id: PatientId,
        type_code: String,
        paper_date: String,
        calendar: kiroku_core::scan::WorkCalendar,
    },
    /// A scanned file (already in the file store) checked against its type's rule and recorded
    /// as a confirmed scan record with the file attached (scan.write).
    AddScan {
        actor: Actor,
        scan: Box<crate::scan::NewScan>,
        calendar: kiroku_core::scan::WorkCalendar,
    },
    /// The originals register: kept (scan.write), disposal requested (scan.write) or disposed of
    /// (scan.manage, not by the person who scanned it nor the one who asked, only once the file
    /// is signed and stamped).
    RecordOriginal {
        actor: Actor,
        item_id: String,
        action: crate::scan::OriginalAction,
        calendar: kiroku_core::scan::WorkCalendar,
    },
    /// Records a new entry in a ledger (governance.manage); the input is checked against the
    /// ledger's fields.
    LedgerCreate {
        actor: Actor,
        kind: kiroku_core::ledgers::LedgerKind,
        fields: serde_json::Map<String, serde_json::Value>,
    },
    /// A new revision of an entry (governance.manage); `if_revision` guards against a stale edit.
    LedgerRevise {
        actor: Actor,
        id: String,
        if_revision: Option<i64>,
        fields: serde_json::Map<String, serde_json::Value>,
    },
    /// An approval, closing, note or loss report on an entry (governance.manage); an approval
    /// only by someone other than who entered it.
    LedgerRecordEvent {
        actor: Actor,
        id: String,
        event: kiroku_core::ledgers::EventKind,
        note: String,
    },
    /// A file (already in the blob store) attached to an entry (governance.manage).
    LedgerAttach {
        actor: Actor,
        id: String,
        attachment_id: String,
        name: String,
        media_type: String,
        size: i64,
        blob_hash: String,
    },
    /// One entry with its whole history (governance.read).
    LedgerRead {
        actor: Actor,
        id: String,
    },
    /// A page of entries (governance.read).
    LedgerList {
        actor: Actor,
        query: crate::governance_ledgers::LedgerQuery,
    },
    /// An attached file's record, before its bytes are served (governance.read).
    LedgerReadAttachment {
        actor: Actor,
        id: String,
        attachment_id: String,
    },
    /// The periodic duties with reminders and overdue ones, and every account's training
    /// (governance.read).
    GovernanceDuties {
        actor: Actor,
        intervals: kiroku_core::ledgers::DutyIntervals,
    },
}

/// What a command answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Done,
    User(UserRecord),
    Users(Vec<UserRecord>),
    LoginFailed {
        locked: bool,
    },
    Matrix(PermissionMatrix),
    Patient(Patient),
    Patients(Vec<Patient>),
    Document(Box<DocumentView>),
    Documents(Vec<DocumentHead>),
    Versions(Vec<VersionSummary>),
    Attachment(AttachmentRecord),
    Audit(Vec<AuditEvent>),
    VersionProof(Box<VersionProof>),
    Review(Box<crate::review::ReviewReport>),
    /// A login's first step: the account and the stage its session is at.
    LoggedIn(Box<UserRecord>, kiroku_core::identity::SessionStage),
    Sessions(Vec<SessionInfo>),
    MfaPolicies(Vec<(Role, kiroku_core::identity::MfaPolicy)>),
    Signature(Box<SignatureRecord>),
    PatientIds(Vec<PatientId>),
    PatientRecord(Box<PatientRecord>),
    /// A login refused for a reason the user should read (a break-glass account without a reason,
    /// or one that must be re-sealed); already recorded.
    LoginRefused(String),
    BreakGlass(Vec<BreakGlassRecord>),
    /// The emergency mode after the command: `None` when left.
    Emergency(Option<Box<crate::operations::EmergencyState>>),
    Locations(Box<crate::operations::LocationRegister>),
    LocationEntries(Vec<crate::operations::LocationEntry>),
    WorkOrders(Vec<WorkOrderStatus>),
    WorkOrderReport(Box<WorkOrderReport>),
    ApiTokens(Vec<ApiTokenRecord>),
    FactorResets(Vec<FactorResetRecord>),
    AccessReport(Box<AccessReport>),
    /// The governance records a command read or wrote.
    Governance(Box<crate::governance::GovernanceState>),
    ScanTypes(Vec<crate::scan::ScanTypeRecord>),
    ScanRegister(Box<crate::scan::ScanRegister>),
    ScanEntry(Box<crate::scan::ScanEntry>),
    LedgerEntry(Box<crate::governance_ledgers::LedgerEntry>),
    LedgerPage(Box<crate::governance_ledgers::LedgerPage>),
    LedgerAttachment(Box<crate::governance_ledgers::LedgerAttachment>),
    Duties(Box<crate::governance_ledgers::DutyReport>),
}

/// A version as the log proves it: the leaf's bytes, its index, the checkpoint and the audit path.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionProof {
    pub document: DocumentView,
    pub leaf_index: i64,
    /// The leaf's bytes (RFC 8785 JSON); its SHA-256 with the 0x00 prefix is the leaf hash.
    pub leaf_data: String,
    pub tree_size: i64,
    /// The signed checkpoint (C2SP signed note) whose root the proof leads to.
    pub checkpoint: String,
    /// Hex hashes of the audit path, from the leaf upwards.
    pub inclusion: Vec<String>,
}

/// The audit facts of a command, used to record a refused or failed attempt.
pub struct Subject<'a> {
    pub actor: Option<&'a Actor>,
    pub action: AuditAction,
    pub patient_id: Option<String>,
    pub document_id: Option<&'a DocumentId>,
    pub version: Option<i64>,
}

impl Command {
    /// The action and objects a failed attempt of this command is recorded under; `None` for
    /// bookkeeping that is not audited.
    pub fn subject(&self) -> Option<Subject<'_>> {
        use AuditAction as A;
        fn s(actor: &Actor, action: AuditAction) -> Subject<'_> {
            Subject { actor: Some(actor), action, patient_id: None, document_id: None, version: None }
        }
        fn doc<'a>(actor: &'a Actor, action: AuditAction, id: &'a DocumentId) -> Subject<'a> {
            Subject { document_id: Some(id), ..s(actor, action) }
        }
        fn patient<'a>(actor: &'a Actor, action: AuditAction, p: &PatientId) -> Subject<'a> {
            Subject { patient_id: Some(p.to_string()), ..s(actor, action) }
        }
        Some(match self {
            Command::Bootstrap { .. }
            | Command::TouchSession { .. }
            | Command::LoginSucceeded { .. }
            | Command::LoginFailed { .. }
            | Command::SecondFactorVerified { .. }
            | Command::SecondFactorFailed { .. }
            | Command::RefuseAccess { .. }
            | Command::StoreCheckpoint { .. } => {
                return None;
            }
            Command::AdvanceExportCursor { .. } | Command::RecordStamp { .. } => return None,
            Command::AddSignature { actor, signature, .. } => {
                Subject { version: Some(signature.version), ..doc(actor, A::SignatureAdd, &signature.document_id) }
            }
            Command::EnterEmergency { by: Some(actor), .. } => s(actor, A::EmergencyModeEnter),
            Command::EnterEmergency { by: None, .. } => return None,
            Command::LeaveEmergency { actor, .. } => s(actor, A::EmergencyModeLeave),
            Command::ReadLocations { actor } | Command::LocationHistory { actor, .. } => s(actor, A::LocationRegisterRead),
            Command::SaveLocation { actor, .. } => s(actor, A::LocationRegisterChange),
            Command::SignOffChecklist { actor, .. } => s(actor, A::ChecklistSignoff),
            Command::AttestChecklistItem { actor, .. } => s(actor, A::ChecklistAttest),
            Command::Governance(g) => s(&g.actor, g.action()),
            Command::SaveScanType { actor, .. } => s(actor, A::ScanTypeChange),
            Command::ScanRegister { actor, patient_id: Some(p), .. } => patient(actor, A::ScanRegisterRead, p),
            Command::ScanRegister { actor, patient_id: None, .. } => s(actor, A::ScanRegisterRead),
            Command::ReceivePaper { actor, patient_id, .. } => patient(actor, A::ScanPaperReceive, patient_id),
            Command::AddScan { actor, scan, .. } => patient(actor, A::ScanAdd, &scan.patient_id),
            Command::RecordOriginal { actor, action: crate::scan::OriginalAction::Keep { .. }, .. } => s(actor, A::ScanOriginalKeep),
            Command::RecordOriginal { actor, action: crate::scan::OriginalAction::RequestDisposal { .. }, .. } => {
                s(actor, A::ScanOriginalDisposeRequest)
            }
            Command::RecordOriginal { actor, .. } => s(actor, A::ScanOriginalDispose),
            Command::LedgerCreate { actor, .. } => s(actor, A::LedgerCreate),
            Command::LedgerRevise { actor, .. } => s(actor, A::LedgerRevise),
            Command::LedgerRecordEvent { actor, event, .. } => {
                s(actor, if *event == kiroku_core::ledgers::EventKind::Approve { A::LedgerApprove } else { A::LedgerEvent })
            }
            Command::LedgerAttach { actor, .. } => s(actor, A::LedgerAttachmentAdd),
            Command::LedgerRead { actor, .. } | Command::LedgerList { actor, .. } | Command::GovernanceDuties { actor, .. } => {
                s(actor, A::LedgerRead)
            }
            Command::LedgerReadAttachment { actor, .. } => s(actor, A::LedgerAttachmentRead),
            Command::ReadVersionProof { actor, id, version } => Subject { version: Some(*version), ..doc(actor, A::VersionRead, id) },
            Command::AuditReview { actor, .. } => s(actor, A::AuditReview),
            Command::SignOffReview { actor, .. } => s(actor, A::AuditReviewSignoff),
            Command::RecordFixity { .. } | Command::SetLanguage { .. } => return None,
            Command::RecordOperation { actor, action, .. } => s(actor, *action),
            Command::CreateUser { actor, .. } => s(actor, A::UserCreate),
            Command::UpdateUser { actor, .. } | Command::ResetPassword { actor, .. } => s(actor, A::UserUpdate),
            Command::UnlockUser { actor, .. } => s(actor, A::UserUnlock),
            Command::ListUsers { actor } => s(actor, A::UserList),
            Command::Logout { actor } | Command::ExpireSession { actor, .. } => s(actor, A::Logout),
            Command::ChangePassword { actor, .. } => s(actor, A::PasswordChange),
            Command::BeginTotp { actor, .. } | Command::ConfirmTotp { actor, .. } | Command::RegisterWebauthn { actor, .. } => {
                s(actor, A::SecondFactorEnrol)
            }
            Command::RemoveSecondFactor { actor, .. } => s(actor, A::SecondFactorRemove),
            Command::CreateBreakGlass { actor, .. } => s(actor, A::UserCreate),
            Command::ResealBreakGlass { actor, .. } => s(actor, A::BreakGlassReseal),
            Command::ListBreakGlass { actor } => s(actor, A::UserList),
            Command::ReadMfaPolicies { actor } => s(actor, A::RoleRead),
            Command::SetMfaPolicy { actor, .. } => s(actor, A::MfaPolicyChange),
            Command::ListSessions { actor, .. } => s(actor, A::SessionList),
            Command::RevokeSession { actor, .. } => s(actor, A::SessionRevoke),
            Command::ReadMatrix { actor } => s(actor, A::RoleRead),
            Command::SetGrant { actor, .. } => s(actor, A::RoleChange),
            Command::CreatePatient { actor, patient: p } => patient(actor, A::PatientCreate, &p.patient_id),
            Command::SearchPatients { actor, .. } => s(actor, A::PatientSearch),
            Command::ReadPatient { actor, patient_id } => patient(actor, A::PatientRead, patient_id),
            Command::CreateDocument { actor, patient_id, .. } => patient(actor, A::DocumentCreate, patient_id),
            Command::ListDocuments { actor, patient_id } => patient(actor, A::DocumentList, patient_id),
            Command::ReadDocument { actor, id, version } => {
                let action = if version.is_some() { A::VersionRead } else { A::DocumentRead };
                Subject { version: *version, ..doc(actor, action, id) }
            }
            Command::ListVersions { actor, id } => doc(actor, A::VersionList, id),
            Command::UpdateDraft { actor, id, .. } => doc(actor, A::DocumentUpdate, id),
            Command::Confirm { actor, id, .. } => doc(actor, A::DocumentConfirm, id),
            Command::Approve { actor, id, .. } => doc(actor, A::DocumentApprove, id),
            Command::Amend { actor, id, .. } => doc(actor, A::DocumentAmend, id),
            Command::Delete { actor, id, .. } => doc(actor, A::DocumentDelete, id),
            Command::AddAttachment { actor, id, .. } => doc(actor, A::AttachmentAdd, id),
            Command::ReadAttachment { actor, id, .. } => doc(actor, A::AttachmentRead, id),
            Command::ApprovalQueue { actor } => s(actor, A::ApprovalQueue),
            Command::QueryAudit { actor, export, .. } => s(actor, if *export { A::AuditExport } else { A::AuditQuery }),
            Command::ExportPatientIds { actor, .. } => s(actor, A::RecordExport),
            Command::ExportPatient { actor, patient_id } => patient(actor, A::RecordExport, patient_id),
            Command::CreateWorkOrder { actor, .. } => s(actor, A::WorkOrderCreate),
            Command::ListWorkOrders { actor } | Command::WorkOrderReport { actor, .. } => s(actor, A::WorkOrderRead),
            Command::SignOffWorkOrder { actor, .. } => s(actor, A::WorkOrderSignoff),
            Command::CreateApiToken { actor, .. } => s(actor, A::ApiTokenCreate),
            Command::ListApiTokens { actor } => s(actor, A::ApiTokenList),
            Command::RevokeApiToken { actor, .. } => s(actor, A::ApiTokenRevoke),
            Command::IssueFactorReset { actor, .. } | Command::ListFactorResets { actor } => s(actor, A::FactorResetIssue),
            Command::ApproveFactorReset { actor, .. } => s(actor, A::FactorResetApprove),
            Command::UseFactorReset { actor, .. } => s(actor, A::FactorResetUse),
            Command::AccessReview { actor, .. } => s(actor, A::AccessReview),
            Command::SignOffAccessReview { actor, .. } => s(actor, A::AccessReviewSignoff),
            Command::MarkLeft { actor, .. } => s(actor, A::UserLeft),
        })
    }

    /// Whether the command reads audit rows or the log, and so must see the rows buffered before it.
    pub fn reads_log(&self) -> bool {
        matches!(
            self,
            Command::QueryAudit { .. }
                | Command::AuditReview { .. }
                | Command::SignOffReview { .. }
                | Command::ReadVersionProof { .. }
                | Command::StoreCheckpoint { .. }
                | Command::AdvanceExportCursor { .. }
                | Command::ReadLocations { .. }
                | Command::WorkOrderReport { .. }
                | Command::SignOffWorkOrder { .. }
                | Command::GovernanceDuties { .. }
        )
    }

    /// Whether the command only reads (its audit event is still written and committed).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Command::ListUsers { .. }
                | Command::ReadMatrix { .. }
                | Command::SearchPatients { .. }
                | Command::ReadPatient { .. }
                | Command::ListDocuments { .. }
                | Command::ReadDocument { .. }
                | Command::ListVersions { .. }
                | Command::ReadAttachment { .. }
                | Command::ApprovalQueue { .. }
                | Command::QueryAudit { .. }
                | Command::ReadVersionProof { .. }
                | Command::AuditReview { .. }
                | Command::ReadMfaPolicies { .. }
                | Command::ListSessions { .. }
                | Command::ExportPatientIds { .. }
                | Command::ExportPatient { .. }
                | Command::ListBreakGlass { .. }
                | Command::ReadLocations { .. }
                | Command::LocationHistory { .. }
                | Command::ListWorkOrders { .. }
                | Command::WorkOrderReport { .. }
                | Command::ListApiTokens { .. }
                | Command::ListFactorResets { .. }
                | Command::AccessReview { .. }
                | Command::ScanRegister { .. }
                | Command::LedgerRead { .. }
                | Command::LedgerList { .. }
                | Command::LedgerReadAttachment { .. }
                | Command::GovernanceDuties { .. }
        ) || matches!(self, Command::Governance(g) if g.is_read())
    }

    /// Whether the command may run in emergency read-only mode. Read-only means no clinical or
    /// account changes: reads (which still write their audit events), logging in and out with every
    /// step of a login (second factor, enrolling one where the role requires it, changing one's own
    /// password: staff must reach the records, and after a suspected break-in passwords must be
    /// changeable and sessions endable), kiroku's own bookkeeping (checkpoints, fixity, delivery
    /// cursors), the records of backups, restores and exports (they copy, and a copy is what an
    /// outage needs most) and the mode itself stay; everything else is refused.
    pub fn allowed_in_emergency(&self) -> bool {
        self.is_read()
            || matches!(
                self,
                Command::LoginSucceeded { .. }
                    | Command::SecondFactorVerified { .. }
                    | Command::SecondFactorFailed { .. }
                    | Command::BeginTotp { .. }
                    | Command::ConfirmTotp { .. }
                    | Command::RegisterWebauthn { .. }
                    | Command::RevokeSession { .. }
                    | Command::RefuseAccess { .. }
                    | Command::LoginFailed { .. }
                    | Command::Logout { .. }
                    | Command::ChangePassword { .. }
                    | Command::ExpireSession { .. }
                    | Command::TouchSession { .. }
                    | Command::StoreCheckpoint { .. }
                    | Command::RecordFixity { .. }
                    | Command::RecordOperation { .. }
                    | Command::RecordStamp { .. }
                    | Command::AdvanceExportCursor { .. }
                    | Command::SetLanguage { .. }
                    | Command::EnterEmergency { .. }
                    | Command::LeaveEmergency { .. }
            )
    }
}
