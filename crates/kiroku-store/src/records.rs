//! Rows as the store keeps them and read models as the server shows them.

use kiroku_core::identity::{AccountKind, MfaPolicy, SessionStage};
use kiroku_core::{AuditAction, DocumentId, DocumentStatus, InfoClass, Outcome, PatientId, Role, Timestamp, Username, VersionKind};
use serde::{Deserialize, Serialize};

pub use kiroku_core::patient::{NewPatient, Patient, Sex};

/// An account. Its mutable state (lock, failures, disabled) changes only through audited commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub kind: AccountKind,
    #[serde(skip)]
    pub password_hash: String,
    pub must_change_password: bool,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    pub password_changed_at: Timestamp,
}

impl UserRecord {
    /// A new account: its initial password must be changed at the first login.
    pub fn new(username: Username, display_name: String, role: Role, password_hash: String, now: Timestamp) -> Self {
        UserRecord {
            username,
            display_name,
            role,
            kind: AccountKind::Staff,
            password_hash,
            must_change_password: true,
            disabled: false,
            failed_logins: 0,
            locked_until: None,
            created_at: now,
            last_login_at: None,
            password_changed_at: now,
        }
    }

    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

/// A login session. Only the SHA-256 of the bearer token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// A short public id that appears in audit events instead of the token.
    pub id: String,
    pub token_hash: String,
    pub username: Username,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub client_addr: Option<String>,
    /// How far the login has come; only a full session may act.
    pub stage: SessionStage,
    /// The kind of second factor the login used (`totp`, `recovery`, `webauthn`), if any.
    pub second_factor: Option<String>,
    /// The subject of the client certificate the terminal presented over TLS at login (schema 14).
    pub client_cert: Option<String>,
}

/// A session as its owner or an administrator sees it in a list: never the token's hash.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub username: Username,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub client_addr: Option<String>,
    pub stage: SessionStage,
    pub second_factor: Option<String>,
    pub client_cert: Option<String>,
}

impl From<&SessionRecord> for SessionInfo {
    fn from(s: &SessionRecord) -> Self {
        SessionInfo {
            id: s.id.clone(),
            username: s.username.clone(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            client_addr: s.client_addr.clone(),
            stage: s.stage,
            second_factor: s.second_factor.clone(),
            client_cert: s.client_cert.clone(),
        }
    }
}

/// A session together with the account state that decides whether it is still good: the account,
/// whether it has a second factor, and its role's second-factor policy.
#[derive(Debug, Clone)]
pub struct SessionWithUser {
    pub session: SessionRecord,
    pub user: UserRecord,
    pub has_second_factor: bool,
    pub mfa_policy: MfaPolicy,
}

/// A WebAuthn/FIDO2 credential (security key or platform authenticator) as it was registered
/// (schema 14, append-only). `state` is what verification needs: webauthn-rs's credential as JSON
/// (credential id, public key, algorithm, the signature counter at registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebauthnCredential {
    pub id: String,
    pub username: Username,
    pub label: String,
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    pub state: String,
    pub counter: i64,
    pub created_at: Timestamp,
    pub seq: i64,
}

/// What happened to a credential after its registration (append-only): a use, with the signature
/// counter it showed and the credential's state after it, or its removal. The `n`-th event of a
/// credential is unique, so two writers cannot both append the same step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebauthnEvent {
    pub credential: String,
    pub n: i64,
    /// `use` or `removal`.
    pub kind: String,
    pub counter: i64,
    pub state: Option<String>,
    pub at: Timestamp,
    pub session_id: Option<String>,
    pub seq: i64,
}

/// A credential as it stands now: its registration with its events folded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnKey {
    pub credential: WebauthnCredential,
    /// The state and counter after the last use (or the registration's).
    pub state: String,
    pub counter: i64,
    pub events: i64,
    pub last_used_at: Option<Timestamp>,
    pub removed_at: Option<Timestamp>,
}

impl WebauthnKey {
    /// Folds each credential's events (in any order) into its current state.
    pub fn fold(credentials: Vec<WebauthnCredential>, mut events: Vec<WebauthnEvent>) -> Vec<WebauthnKey> {
        events.sort_by(|a, b| (&a.credential, a.n).cmp(&(&b.credential, b.n)));
        credentials
            .into_iter()
            .map(|c| {
                let mut key = WebauthnKey {
                    state: c.state.clone(),
                    counter: c.counter,
                    credential: c,
                    events: 0,
                    last_used_at: None,
                    removed_at: None,
                };
                for e in events.iter().filter(|e| e.credential == key.credential.id) {
                    key.events = key.events.max(e.n);
                    match e.kind.as_str() {
                        "removal" => key.removed_at = Some(e.at),
                        _ => {
                            key.counter = key.counter.max(e.counter);
                            key.last_used_at = Some(e.at);
                            if let Some(state) = &e.state {
                                key.state = state.clone();
                            }
                        }
                    }
                }
                key
            })
            .collect()
    }

    pub fn active(&self) -> bool {
        self.removed_at.is_none()
    }
}

/// An authenticator an account enrolled. The secret never leaves the server after enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecondFactorRecord {
    pub id: String,
    pub username: Username,
    /// `totp`.
    pub kind: String,
    #[serde(skip)]
    pub secret: String,
    pub label: String,
    pub created_at: Timestamp,
    /// `None` while enrolment waits for the first code.
    pub confirmed_at: Option<Timestamp>,
    /// The last time step accepted; a code of this step or an earlier one is refused.
    #[serde(skip)]
    pub last_step: i64,
    pub removed_at: Option<Timestamp>,
}

/// How the second step of a login was proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorProof {
    /// A TOTP code of `step` matched the secret of factor `factor_id` (checked by the server).
    Totp { factor_id: String, step: i64 },
    /// A recovery code, by its hash.
    Recovery { code_hash: String },
    /// An assertion of WebAuthn credential `credential` (our id) verified by the server against
    /// the challenge it issued; `counter` is the signature counter it showed and `state` the
    /// credential's state after it. The engine refuses a counter that did not move forward.
    Webauthn { credential: String, counter: i64, state: String },
}

/// The current state of a document; derived from its versions and attestations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentHead {
    pub id: DocumentId,
    pub patient_id: PatientId,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub title: String,
    pub info_class: InfoClass,
    pub status: DocumentStatus,
    pub version: i64,
    pub entered_by: Username,
    pub on_behalf_of: Option<Username>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<Timestamp>,
}

/// One immutable version of a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionRecord {
    pub document_id: DocumentId,
    pub version: i64,
    pub kind: VersionKind,
    pub patient_id: PatientId,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub title: String,
    pub info_class: InfoClass,
    pub body: serde_json::Value,
    pub entered_by: Username,
    pub on_behalf_of: Option<Username>,
    pub entered_at: Timestamp,
    pub reason: Option<String>,
    pub content_hash: String,
    pub seq: i64,
}

impl VersionRecord {
    pub fn content(&self) -> kiroku_core::document::VersionContent<'_> {
        kiroku_core::document::VersionContent {
            document_id: &self.document_id,
            patient_id: &self.patient_id,
            version: self.version,
            kind: self.kind,
            doc_type: &self.doc_type,
            title: &self.title,
            info_class: self.info_class,
            body: &self.body,
            entered_by: &self.entered_by,
            on_behalf_of: self.on_behalf_of.as_ref(),
            entered_at: self.entered_at,
            reason: self.reason.as_deref(),
        }
    }
}

/// Confirmation (確定) or approval of a proxy entry (承認) of one version, by one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestation {
    pub document_id: DocumentId,
    pub version: i64,
    pub kind: AttestationKind,
    pub username: Username,
    pub at: Timestamp,
    pub seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationKind {
    Confirm,
    Approve,
}

impl AttestationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationKind::Confirm => "confirm",
            AttestationKind::Approve => "approve",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Confirm, Self::Approve].into_iter().find(|k| k.as_str() == s)
    }
}

/// A file attached to a document; its bytes live in the blob store under `blob_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentRecord {
    pub id: String,
    pub document_id: DocumentId,
    pub version: i64,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub blob_hash: String,
    pub added_by: Username,
    pub added_at: Timestamp,
    pub seq: i64,
}

/// A document as the API shows it: head, the requested version's content and who confirmed it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub id: DocumentId,
    pub patient_id: PatientId,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub title: String,
    pub info_class: InfoClass,
    /// The document's current status.
    pub status: DocumentStatus,
    /// The version shown.
    pub version: i64,
    /// The newest version; differs from `version` when an old version is read.
    pub current_version: i64,
    pub version_kind: VersionKind,
    pub body: serde_json::Value,
    pub content_hash: String,
    /// 入力者: who typed this version.
    pub author: Username,
    pub entered_at: Timestamp,
    /// The clinician a proxy entry was made for.
    pub on_behalf_of: Option<Username>,
    /// 確定者 of the shown version, if confirmed.
    pub confirmer: Option<Username>,
    pub confirmed_at: Option<Timestamp>,
    pub approved_by: Option<Username>,
    pub reason: Option<String>,
    pub attachments: Vec<AttachmentRecord>,
}

/// One document as a whole-record export reads it: its head and everything ever recorded about it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRecord {
    pub head: DocumentHead,
    /// Every version, oldest first.
    pub versions: Vec<VersionRecord>,
    /// Every confirmation and approval, in version order.
    pub attestations: Vec<Attestation>,
    /// Every attached file, in the order they were added.
    pub attachments: Vec<AttachmentRecord>,
}

/// A patient's whole record as one transaction saw it, for the offline-readable export.
#[derive(Debug, Clone, Serialize)]
pub struct PatientRecord {
    pub patient: Patient,
    /// Every document of the patient, oldest first, of every information class.
    pub documents: Vec<DocumentRecord>,
    /// Display names of everyone named in the record (authors, confirmers, approvers), by user name.
    pub people: std::collections::BTreeMap<String, String>,
    /// The log's size when the record was read: every row above is a leaf below this index.
    pub tree_size: i64,
    /// Signatures of the documents' versions and files.
    pub signatures: Vec<SignatureRecord>,
    /// Timestamp items of the files, versions and signatures above, with their stamps.
    pub stamps: Vec<(StampItem, StampRecord)>,
}

/// One line of a version history.
#[derive(Debug, Clone, Serialize)]
pub struct VersionSummary {
    pub version: i64,
    pub kind: VersionKind,
    pub author: Username,
    pub entered_at: Timestamp,
    pub reason: Option<String>,
    pub content_hash: String,
    pub confirmer: Option<Username>,
    pub confirmed_at: Option<Timestamp>,
    pub approved_by: Option<Username>,
}

/// Filters of an audit query; results come newest first, paged by event id.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditFilter {
    pub patient_id: Option<String>,
    pub user: Option<String>,
    pub action: Option<AuditAction>,
    pub outcome: Option<Outcome>,
    pub document_id: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Return events with an id below this one.
    pub before: Option<i64>,
}

/// An audit event before it has its id and sequence number.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub time: Timestamp,
    pub user: Option<String>,
    pub role: Option<String>,
    pub session: Option<String>,
    pub client_addr: Option<String>,
    pub action: AuditAction,
    pub patient_id: Option<String>,
    pub document_id: Option<String>,
    pub version: Option<i64>,
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub content_hash: Option<String>,
}

/// The state of the log head row as one command sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    pub seq: i64,
    pub last_event: i64,
    pub matrix_version: i64,
    pub tree_size: i64,
    /// Emergency read-only mode, when active.
    pub emergency: Option<crate::operations::EmergencyState>,
}

/// A leaf of the Merkle log: its hash and the row it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeafRow {
    pub idx: i64,
    pub kind: String,
    pub ref_id: String,
    pub ref_version: Option<i64>,
    pub ref_kind: Option<String>,
    pub hash: String,
}

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRow {
    pub size: i64,
    pub root: String,
    pub time: Timestamp,
    pub note: String,
}

/// A role's stored policy; no row means the factory default (optional).
pub fn mfa_policy_of(mode: Option<&str>, required_from: Option<i64>) -> crate::error::Result<MfaPolicy> {
    let Some(mode) = mode else { return Ok(MfaPolicy::default()) };
    let mode = kiroku_core::identity::MfaMode::parse(mode).ok_or_else(|| crate::StoreError::Corrupt(format!("mfa policy mode {mode}")))?;
    MfaPolicy::new(mode, required_from.map(Timestamp::from_micros)).map_err(|e| crate::StoreError::Corrupt(e.to_string()))
}

/// An RFC 3161 token as kept: a batch stamp over the root of its items, or an archive stamp over
/// an earlier token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampRecord {
    pub id: String,
    pub kind: StampKind,
    pub renews: Option<String>,
    /// Hex SHA-256 the token's imprint carries.
    pub imprint: String,
    /// Base64 of the DER token.
    pub token: String,
    pub gen_time: Timestamp,
    pub tsa: String,
    pub tsa_not_after: Timestamp,
    pub tsa_url: String,
    pub seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StampKind {
    Batch,
    Archive,
    /// One file under its own token whose imprint is the file's SHA-256, so that the token
    /// verifies against the file alone (`openssl ts -verify -data`).
    File,
}

impl StampKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StampKind::Batch => "batch",
            StampKind::Archive => "archive",
            StampKind::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Batch, Self::Archive, Self::File].into_iter().find(|k| k.as_str() == s)
    }
}

/// What a batch stamp covers, with its own path to the batch root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampItem {
    /// `version` or `signature`.
    pub item_kind: String,
    pub ref_id: String,
    /// The version number; 0 for a signature.
    pub ref_version: i64,
    pub stamp_id: String,
    /// Hex: a version's content hash, or the SHA-256 of a signature's DER.
    pub digest: String,
    pub leaf_index: i64,
    pub batch_size: i64,
    /// Hex hashes from the leaf upwards.
    pub path: Vec<String>,
    pub seq: i64,
}

/// Something confirmed that has no stamp yet: the backlog of the stamping job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingStamp {
    pub item_kind: String,
    pub ref_id: String,
    pub ref_version: i64,
    pub digest: String,
    /// When it became due (its confirmation or signature), µs.
    pub since: Timestamp,
}

/// A detached CMS signature of a confirmed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureRecord {
    pub id: String,
    pub document_id: DocumentId,
    pub version: i64,
    pub username: Username,
    /// Base64 of the DER SignedData.
    pub signature: String,
    pub signer: String,
    pub certificate_serial: String,
    pub certificate_not_after: Timestamp,
    pub hc_roles: Vec<String>,
    pub content_hash: String,
    /// Hex SHA-256 of the signature's DER: what its timestamp covers.
    pub signature_hash: String,
    pub signed_at: Timestamp,
    pub seq: i64,
    /// Set when the signature covers a file (a scanned page) rather than the version's content:
    /// the signed bytes are the file's and `content_hash` is its SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
}

/// Validation data kept with a signature or a timestamp (schema 16): a certificate of its path
/// or a revocation answer (CRL, OCSP response) as obtained at signing or stamping time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceRecord {
    pub id: String,
    /// `signature` or `timestamp`.
    pub owner_kind: String,
    pub owner_id: String,
    /// `certificate`, `crl` or `ocsp`.
    pub kind: String,
    pub about: String,
    /// Base64 of the DER.
    pub der: String,
    pub source: String,
    pub obtained_at: Timestamp,
    pub seq: i64,
}

/// A break-glass (緊急時) account's seal: sealed in advance, open for a limited time after a login
/// with a declared reason, then unusable until re-sealed with a new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakGlassRecord {
    pub username: Username,
    /// `sealed` or `open`.
    pub state: String,
    pub sealed_at: Timestamp,
    pub sealed_by: String,
    pub opened_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub reason: Option<String>,
}

impl BreakGlassRecord {
    pub fn sealed(username: Username, by: &str, now: Timestamp) -> Self {
        BreakGlassRecord {
            username,
            state: "sealed".into(),
            sealed_at: now,
            sealed_by: by.into(),
            opened_at: None,
            expires_at: None,
            reason: None,
        }
    }

    /// Opened and not yet expired: its use is shown on every page.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.state == "open" && self.expires_at.is_some_and(|t| t > now)
    }

    /// Opened and expired: unusable until re-sealed.
    pub fn needs_reseal(&self, now: Timestamp) -> bool {
        self.state == "open" && !self.is_active(now)
    }
}

pub use kiroku_core::maintenance::{WorkOrder, WorkOrderSignoff};

/// A session opened under a work order, as its check-off list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkSession {
    pub id: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub client_addr: Option<String>,
}

impl WorkSession {
    /// Still usable at `now`: neither ended nor past its lifetime (which ends with the window).
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

impl From<&SessionRecord> for WorkSession {
    fn from(s: &SessionRecord) -> Self {
        WorkSession {
            id: s.id.clone(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            client_addr: s.client_addr.clone(),
        }
    }
}

/// An order with its sign-off, if any, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct WorkOrderStatus {
    pub order: WorkOrder,
    pub signoff: Option<WorkOrderSignoff>,
}

/// The supervisor's check-off list (作業報告確認): every session opened under the order and every
/// audit event of the account's work; `hash` is what a sign-off refers to.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOffList {
    pub order: WorkOrder,
    pub sessions: Vec<WorkSession>,
    pub events: Vec<kiroku_core::AuditEvent>,
}

/// The check-off list with its hash and sign-off.
#[derive(Debug, Clone, Serialize)]
pub struct WorkOrderReport {
    #[serde(flatten)]
    pub list: CheckOffList,
    pub report_hash: String,
    pub signoff: Option<WorkOrderSignoff>,
}

/// An integration's API token: only its SHA-256 is kept; it acts as its service account within
/// its scope until it expires or is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenRecord {
    pub id: String,
    /// The service account (the token's name) whose events its uses are.
    pub username: Username,
    #[serde(skip)]
    pub token_hash: String,
    pub scope: kiroku_core::Scope,
    pub expires_at: Timestamp,
    pub created_by: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    /// Not stored: the time of the token's newest accepted use, read from the audit trail by
    /// `Command::ListApiTokens` (None elsewhere, and for a token never used).
    pub last_used_at: Option<Timestamp>,
}

impl ApiTokenRecord {
    /// Why the token may not be used at `now`, if it may not.
    pub fn refusal(&self, now: Timestamp) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked")
        } else if now >= self.expires_at {
            Some("expired")
        } else {
            None
        }
    }
}

/// A reset of a user's lost second factors: issued by one administrator, approved by a second,
/// used once before it expires. Only the code's SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactorResetRecord {
    pub id: String,
    pub username: Username,
    #[serde(skip)]
    pub code_hash: String,
    pub issued_by: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub approved_by: Option<String>,
    pub approved_at: Option<Timestamp>,
    pub used_at: Option<Timestamp>,
}

/// A member of staff marked as having left (退職), from a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftMarker {
    pub username: Username,
    /// The last working day, `YYYY-MM-DD`.
    pub left_on: String,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
    pub seq: i64,
}

/// One account in the access review (アカウント棚卸し).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRow {
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub kind: AccountKind,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    /// Kinds of the confirmed second factors.
    pub second_factors: Vec<String>,
    pub left_on: Option<String>,
    /// Enabled, and no login (or, never logged in, no creation) within the review's days.
    pub unused: bool,
    /// Enabled although marked as left.
    pub left: bool,
}

/// The access review report: every account, flagged; the same accounts in the same state give
/// the same hash, which a sign-off refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessReport {
    pub unused_days: i64,
    pub accounts: Vec<AccessRow>,
}
