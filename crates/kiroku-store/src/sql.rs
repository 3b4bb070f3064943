//! The SQL of the [`Tx`](crate::Tx) primitives, shared by the sqlx backends.
//!
//! SQLite and PostgreSQL both accept `$N` placeholders, `RETURNING`, `ON CONFLICT`, multi-row inserts and
//! `CAST(... AS BIGINT)`, so one text of every statement serves both; [`sql_tx!`] instantiates it for a
//! backend's sqlx database type. Schemas and migrations stay per backend. Times are UTC microseconds
//! (BIGINT), bodies canonical JSON text.

/// Rows per multi-row insert. SQLite looks a `$N` parameter up by name when it is bound, which is
/// linear in the number of parameters, so one statement of thousands of rows is far slower than a
/// few dozen statements of a few dozen rows (measured with P3 of kiroku-bench).
pub const MULTI_ROW_CHUNK: usize = 32;

/// `(…), (…)` placeholders for a multi-row insert of `rows` rows of `cols` columns.
pub fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Defines `pub struct $name` over `sqlx::Transaction<'static, $db>` and implements `Tx` for it.
#[macro_export]
macro_rules! sql_tx {
    ($name:ident, $db:ty) => {
        pub struct $name {
            tx: ::sqlx::Transaction<'static, $db>,
            /// Statements that changed at least one row; see `Tx::writes`.
            writes: u64,
        }

        impl $name {
            pub fn new(tx: ::sqlx::Transaction<'static, $db>) -> Self {
                $name { tx, writes: 0 }
            }
        }

        mod sql_rows {
            use ::sqlx::Row;
            use $crate::error::{Result, StoreError};
            use $crate::kiroku_core::{AuditAction, AuditEvent, DocumentId, DocumentStatus, Outcome, PatientId, Timestamp, Username, VersionKind};
            use $crate::records::*;

            pub type DbRow = <$db as ::sqlx::Database>::Row;

            fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(format!("{what}: {e}"))
            }
            pub fn s(row: &DbRow, col: &str) -> Result<String> {
                row.try_get::<String, _>(col).map_err(|e| corrupt(col, e))
            }
            pub fn os(row: &DbRow, col: &str) -> Result<Option<String>> {
                row.try_get::<Option<String>, _>(col).map_err(|e| corrupt(col, e))
            }
            pub fn i(row: &DbRow, col: &str) -> Result<i64> {
                row.try_get::<i64, _>(col).map_err(|e| corrupt(col, e))
            }
            pub fn oi(row: &DbRow, col: &str) -> Result<Option<i64>> {
                row.try_get::<Option<i64>, _>(col).map_err(|e| corrupt(col, e))
            }
            pub fn b(row: &DbRow, col: &str) -> Result<bool> {
                row.try_get::<bool, _>(col).map_err(|e| corrupt(col, e))
            }
            pub fn t(row: &DbRow, col: &str) -> Result<Timestamp> {
                i(row, col).map(Timestamp::from_micros)
            }
            fn ot(row: &DbRow, col: &str) -> Result<Option<Timestamp>> {
                oi(row, col).map(|v| v.map(Timestamp::from_micros))
            }
            fn parsed<T, E: std::fmt::Display>(col: &str, v: std::result::Result<T, E>) -> Result<T> {
                v.map_err(|e| corrupt(col, e))
            }
            pub fn name(row: &DbRow, col: &str) -> Result<Username> {
                parsed(col, Username::parse(s(row, col)?))
            }
            fn oname(row: &DbRow, col: &str) -> Result<Option<Username>> {
                os(row, col)?.map(|v| parsed(col, Username::parse(v))).transpose()
            }
            fn opt<T>(col: &str, v: Option<T>) -> Result<T> {
                v.ok_or_else(|| corrupt(col, "unknown value"))
            }

            pub fn user(row: &DbRow) -> Result<UserRecord> {
                Ok(UserRecord {
                    username: name(row, "username")?,
                    display_name: s(row, "display_name")?,
                    role: parsed("role", s(row, "role")?.parse())?,
                    kind: opt("kind", $crate::kiroku_core::identity::AccountKind::parse(&s(row, "kind")?))?,
                    password_hash: s(row, "password_hash")?,
                    must_change_password: b(row, "must_change_password")?,
                    disabled: b(row, "disabled")?,
                    failed_logins: i(row, "failed_logins")?,
                    locked_until: ot(row, "locked_until")?,
                    created_at: t(row, "created_at")?,
                    last_login_at: ot(row, "last_login_at")?,
                    password_changed_at: t(row, "password_changed_at")?,
                })
            }

            pub fn session(row: &DbRow) -> Result<SessionRecord> {
                Ok(SessionRecord {
                    id: s(row, "id")?,
                    token_hash: s(row, "token_hash")?,
                    username: name(row, "username")?,
                    created_at: t(row, "created_at")?,
                    last_seen_at: t(row, "last_seen_at")?,
                    expires_at: t(row, "expires_at")?,
                    revoked_at: ot(row, "revoked_at")?,
                    client_addr: os(row, "client_addr")?,
                    stage: opt("stage", $crate::kiroku_core::identity::SessionStage::parse(&s(row, "stage")?))?,
                    second_factor: os(row, "second_factor")?,
                    client_cert: os(row, "client_cert")?,
                })
            }

            pub fn work_order(row: &DbRow) -> Result<WorkOrder> {
                Ok(WorkOrder {
                    id: s(row, "id")?,
                    account: name(row, "account")?,
                    vendor: s(row, "vendor")?,
                    purpose: s(row, "purpose")?,
                    starts_at: t(row, "starts_at")?,
                    ends_at: t(row, "ends_at")?,
                    scope: parsed("scope", $crate::serde_json::from_str(&s(row, "scope")?))?,
                    networks: parsed("networks", $crate::serde_json::from_str(&s(row, "networks")?))?,
                    supervisor: name(row, "supervisor")?,
                    created_by: s(row, "created_by")?,
                    created_at: t(row, "created_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn work_order_signoff(row: &DbRow) -> Result<WorkOrderSignoff> {
                Ok(WorkOrderSignoff {
                    order_id: s(row, "order_id")?,
                    signed_by: name(row, "signed_by")?,
                    signed_at: t(row, "signed_at")?,
                    report_hash: s(row, "report_hash")?,
                    comment: s(row, "comment")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn api_token(row: &DbRow) -> Result<ApiTokenRecord> {
                Ok(ApiTokenRecord {
                    id: s(row, "id")?,
                    username: name(row, "username")?,
                    token_hash: s(row, "token_hash")?,
                    scope: parsed("scope", $crate::serde_json::from_str(&s(row, "scope")?))?,
                    expires_at: t(row, "expires_at")?,
                    created_by: s(row, "created_by")?,
                    created_at: t(row, "created_at")?,
                    revoked_at: ot(row, "revoked_at")?,
                    revoked_by: os(row, "revoked_by")?,
                    last_used_at: None,
                })
            }

            pub fn factor_reset(row: &DbRow) -> Result<FactorResetRecord> {
                Ok(FactorResetRecord {
                    id: s(row, "id")?,
                    username: name(row, "username")?,
                    code_hash: s(row, "code_hash")?,
                    issued_by: s(row, "issued_by")?,
                    issued_at: t(row, "issued_at")?,
                    expires_at: t(row, "expires_at")?,
                    approved_by: os(row, "approved_by")?,
                    approved_at: ot(row, "approved_at")?,
                    used_at: ot(row, "used_at")?,
                })
            }

            pub fn left_marker(row: &DbRow) -> Result<LeftMarker> {
                Ok(LeftMarker {
                    username: name(row, "username")?,
                    left_on: s(row, "left_on")?,
                    recorded_by: s(row, "recorded_by")?,
                    recorded_at: t(row, "recorded_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn break_glass(row: &DbRow) -> Result<BreakGlassRecord> {
                Ok(BreakGlassRecord {
                    username: name(row, "username")?,
                    state: s(row, "state")?,
                    sealed_at: t(row, "sealed_at")?,
                    sealed_by: s(row, "sealed_by")?,
                    opened_at: ot(row, "opened_at")?,
                    expires_at: ot(row, "expires_at")?,
                    reason: os(row, "reason")?,
                })
            }

            pub fn second_factor(row: &DbRow) -> Result<SecondFactorRecord> {
                Ok(SecondFactorRecord {
                    id: s(row, "id")?,
                    username: name(row, "username")?,
                    kind: s(row, "kind")?,
                    secret: s(row, "secret")?,
                    label: s(row, "label")?,
                    created_at: t(row, "created_at")?,
                    confirmed_at: ot(row, "confirmed_at")?,
                    last_step: i(row, "last_step")?,
                    removed_at: ot(row, "removed_at")?,
                })
            }

            pub fn webauthn_credential(row: &DbRow) -> Result<WebauthnCredential> {
                Ok(WebauthnCredential {
                    id: s(row, "id")?,
                    username: name(row, "username")?,
                    label: s(row, "label")?,
                    credential_id: s(row, "credential_id")?,
                    state: s(row, "state")?,
                    counter: i(row, "counter")?,
                    created_at: t(row, "created_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn webauthn_event(row: &DbRow) -> Result<WebauthnEvent> {
                Ok(WebauthnEvent {
                    credential: s(row, "credential")?,
                    n: i(row, "n")?,
                    kind: s(row, "kind")?,
                    counter: i(row, "counter")?,
                    state: os(row, "state")?,
                    at: t(row, "at")?,
                    session_id: os(row, "session_id")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn patient(row: &DbRow) -> Result<Patient> {
                Ok(Patient {
                    patient_id: parsed("patient_id", PatientId::parse(s(row, "patient_id")?))?,
                    name: s(row, "name")?,
                    name_kana: s(row, "name_kana")?,
                    birth_date: s(row, "birth_date")?,
                    sex: opt("sex", Sex::parse(&s(row, "sex")?))?,
                    created_at: t(row, "created_at")?,
                    created_by: s(row, "created_by")?,
                })
            }

            pub fn head(row: &DbRow) -> Result<DocumentHead> {
                Ok(DocumentHead {
                    id: parsed("id", DocumentId::parse(s(row, "id")?))?,
                    patient_id: parsed("patient_id", PatientId::parse(s(row, "patient_id")?))?,
                    doc_type: s(row, "doc_type")?,
                    title: s(row, "title")?,
                    info_class: parsed("info_class", s(row, "info_class")?.parse())?,
                    status: opt("status", DocumentStatus::parse(&s(row, "status")?))?,
                    version: i(row, "version")?,
                    entered_by: name(row, "entered_by")?,
                    on_behalf_of: oname(row, "on_behalf_of")?,
                    created_at: t(row, "created_at")?,
                    updated_at: t(row, "updated_at")?,
                    confirmed_by: os(row, "confirmed_by")?,
                    confirmed_at: ot(row, "confirmed_at")?,
                })
            }

            pub fn version(row: &DbRow) -> Result<VersionRecord> {
                version_from(row, "")
            }

            /// A version from columns named with `prefix` (`v_` when joined to its head).
            pub fn version_from(row: &DbRow, prefix: &str) -> Result<VersionRecord> {
                let c = |col: &str| format!("{prefix}{col}");
                Ok(VersionRecord {
                    document_id: parsed("document_id", DocumentId::parse(s(row, &c("document_id"))?))?,
                    version: i(row, &c("version"))?,
                    kind: opt("kind", VersionKind::parse(&s(row, &c("kind"))?))?,
                    patient_id: parsed("patient_id", PatientId::parse(s(row, &c("patient_id"))?))?,
                    doc_type: s(row, &c("doc_type"))?,
                    title: s(row, &c("title"))?,
                    info_class: parsed("info_class", s(row, &c("info_class"))?.parse())?,
                    body: parsed("body", $crate::serde_json::from_str(&s(row, &c("body"))?))?,
                    entered_by: name(row, &c("entered_by"))?,
                    on_behalf_of: oname(row, &c("on_behalf_of"))?,
                    entered_at: t(row, &c("entered_at"))?,
                    reason: os(row, &c("reason"))?,
                    content_hash: s(row, &c("content_hash"))?,
                    seq: i(row, &c("seq"))?,
                })
            }

            pub fn attestation(row: &DbRow) -> Result<Attestation> {
                Ok(Attestation {
                    document_id: parsed("document_id", DocumentId::parse(s(row, "document_id")?))?,
                    version: i(row, "version")?,
                    kind: opt("kind", AttestationKind::parse(&s(row, "kind")?))?,
                    username: name(row, "username")?,
                    at: t(row, "at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn attachment(row: &DbRow) -> Result<AttachmentRecord> {
                Ok(AttachmentRecord {
                    id: s(row, "id")?,
                    document_id: parsed("document_id", DocumentId::parse(s(row, "document_id")?))?,
                    version: i(row, "version")?,
                    name: s(row, "name")?,
                    media_type: s(row, "media_type")?,
                    size: i(row, "size")?,
                    blob_hash: s(row, "blob_hash")?,
                    added_by: name(row, "added_by")?,
                    added_at: t(row, "added_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn leaf(row: &DbRow) -> Result<LeafRow> {
                Ok(LeafRow {
                    idx: i(row, "idx")?,
                    kind: s(row, "kind")?,
                    ref_id: s(row, "ref_id")?,
                    ref_version: oi(row, "ref_version")?,
                    ref_kind: os(row, "ref_kind")?,
                    hash: s(row, "hash")?,
                })
            }

            pub fn emergency(row: &DbRow) -> Result<Option<$crate::operations::EmergencyState>> {
                let Some(since) = oi(row, "emergency_since")? else { return Ok(None) };
                Ok(Some($crate::operations::EmergencyState {
                    since: Timestamp::from_micros(since),
                    reason: os(row, "emergency_reason")?.unwrap_or_default(),
                    entered_by: os(row, "emergency_by")?.unwrap_or_default(),
                }))
            }

            pub fn ledger_revision(row: &DbRow) -> Result<$crate::governance_ledgers::LedgerRevision> {
                Ok($crate::governance_ledgers::LedgerRevision {
                    id: s(row, "id")?,
                    kind: opt("kind", $crate::kiroku_core::ledgers::LedgerKind::parse(&s(row, "kind")?))?,
                    revision: i(row, "revision")?,
                    fields: parsed("fields", $crate::serde_json::from_str(&s(row, "fields")?))?,
                    entry_date: os(row, "entry_date")?,
                    content_hash: s(row, "content_hash")?,
                    entered_by: name(row, "entered_by")?,
                    entered_at: t(row, "entered_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn ledger_event(row: &DbRow) -> Result<$crate::governance_ledgers::LedgerEvent> {
                Ok($crate::governance_ledgers::LedgerEvent {
                    entry_id: s(row, "entry_id")?,
                    n: i(row, "n")?,
                    kind: opt("kind", $crate::kiroku_core::ledgers::EventKind::parse(&s(row, "kind")?))?,
                    revision: i(row, "revision")?,
                    note: s(row, "note")?,
                    username: name(row, "username")?,
                    at: t(row, "at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn ledger_attachment(row: &DbRow) -> Result<$crate::governance_ledgers::LedgerAttachment> {
                Ok($crate::governance_ledgers::LedgerAttachment {
                    id: s(row, "id")?,
                    entry_id: s(row, "entry_id")?,
                    name: s(row, "name")?,
                    media_type: s(row, "media_type")?,
                    size: i(row, "size")?,
                    blob_hash: s(row, "blob_hash")?,
                    added_by: name(row, "added_by")?,
                    added_at: t(row, "added_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn location(row: &DbRow) -> Result<$crate::operations::LocationEntry> {
                Ok($crate::operations::LocationEntry {
                    id: s(row, "id")?,
                    revision: i(row, "revision")?,
                    fields: $crate::operations::LocationFields {
                        kind: opt("kind", $crate::operations::LocationKind::parse(&s(row, "kind")?))?,
                        name: s(row, "name")?,
                        place: s(row, "place")?,
                        capacity: s(row, "capacity")?,
                        retention: s(row, "retention")?,
                        backup: s(row, "backup")?,
                        response_time: s(row, "response_time")?,
                        risks: s(row, "risks")?,
                    },
                    retired: b(row, "retired")?,
                    edited_by: name(row, "edited_by")?,
                    edited_at: t(row, "edited_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn checkpoint(row: &DbRow) -> Result<CheckpointRow> {
                Ok(CheckpointRow { size: i(row, "size")?, root: s(row, "root")?, time: t(row, "time")?, note: s(row, "note")? })
            }

            pub fn stamp(row: &DbRow) -> Result<StampRecord> {
                Ok(StampRecord {
                    id: s(row, "id")?,
                    kind: opt("kind", StampKind::parse(&s(row, "kind")?))?,
                    renews: os(row, "renews")?,
                    imprint: s(row, "imprint")?,
                    token: s(row, "token")?,
                    gen_time: t(row, "gen_time")?,
                    tsa: s(row, "tsa")?,
                    tsa_not_after: t(row, "tsa_not_after")?,
                    tsa_url: s(row, "tsa_url")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn stamp_item(row: &DbRow) -> Result<StampItem> {
                let path = s(row, "path")?;
                Ok(StampItem {
                    item_kind: s(row, "item_kind")?,
                    ref_id: s(row, "ref_id")?,
                    ref_version: i(row, "ref_version")?,
                    stamp_id: s(row, "stamp_id")?,
                    digest: s(row, "digest")?,
                    leaf_index: i(row, "leaf_index")?,
                    batch_size: i(row, "batch_size")?,
                    path: if path.is_empty() { Vec::new() } else { path.split(',').map(str::to_string).collect() },
                    seq: i(row, "seq")?,
                })
            }

            pub fn signature(row: &DbRow) -> Result<SignatureRecord> {
                Ok(SignatureRecord {
                    id: s(row, "id")?,
                    document_id: parsed("document_id", DocumentId::parse(s(row, "document_id")?))?,
                    version: i(row, "version")?,
                    username: name(row, "username")?,
                    signature: s(row, "signature")?,
                    signer: s(row, "signer")?,
                    certificate_serial: s(row, "certificate_serial")?,
                    certificate_not_after: t(row, "certificate_not_after")?,
                    hc_roles: parsed("hc_roles", $crate::serde_json::from_str(&s(row, "hc_roles")?))?,
                    content_hash: s(row, "content_hash")?,
                    signature_hash: s(row, "signature_hash")?,
                    signed_at: t(row, "signed_at")?,
                    seq: i(row, "seq")?,
                    attachment_id: os(row, "attachment_id")?,
                })
            }

            pub fn evidence(row: &DbRow) -> Result<$crate::records::EvidenceRecord> {
                Ok($crate::records::EvidenceRecord {
                    id: s(row, "id")?,
                    owner_kind: s(row, "owner_kind")?,
                    owner_id: s(row, "owner_id")?,
                    kind: s(row, "kind")?,
                    about: s(row, "about")?,
                    der: s(row, "der")?,
                    source: s(row, "source")?,
                    obtained_at: t(row, "obtained_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn scan_type(row: &DbRow) -> Result<$crate::scan::ScanTypeRecord> {
                let rule = $crate::scan::ScanTypeRecord::rule_from_columns(
                    s(row, "code")?, s(row, "name")?, i(row, "min_dpi")?, &s(row, "colour")?, i(row, "deadline_days")?,
                    &s(row, "original")?, oi(row, "keep_years")?,
                );
                Ok($crate::scan::ScanTypeRecord {
                    rule: opt("scan_types", rule)?,
                    revision: i(row, "revision")?,
                    retired: b(row, "retired")?,
                    edited_by: name(row, "edited_by")?,
                    edited_at: t(row, "edited_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn scan_item(row: &DbRow) -> Result<$crate::scan::ScanItemRecord> {
                Ok($crate::scan::ScanItemRecord {
                    id: s(row, "id")?,
                    patient_id: parsed("patient_id", PatientId::parse(s(row, "patient_id")?))?,
                    type_code: s(row, "type_code")?,
                    type_revision: i(row, "type_revision")?,
                    paper_date: s(row, "paper_date")?,
                    due_date: s(row, "due_date")?,
                    registered_by: name(row, "registered_by")?,
                    registered_at: t(row, "registered_at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn scan_event(row: &DbRow) -> Result<$crate::scan::ScanEventRecord> {
                Ok($crate::scan::ScanEventRecord {
                    id: s(row, "id")?,
                    item_id: s(row, "item_id")?,
                    kind: opt("kind", $crate::scan::ScanEventKind::parse(&s(row, "kind")?))?,
                    document_id: os(row, "document_id")?,
                    attachment_id: os(row, "attachment_id")?,
                    detail: parsed("detail", $crate::serde_json::from_str(&s(row, "detail")?))?,
                    username: name(row, "username")?,
                    at: t(row, "at")?,
                    seq: i(row, "seq")?,
                })
            }

            pub fn pending(row: &DbRow, kind: &str) -> Result<PendingStamp> {
                Ok(PendingStamp {
                    item_kind: kind.to_string(),
                    ref_id: s(row, "ref_id")?,
                    ref_version: i(row, "ref_version")?,
                    digest: s(row, "digest")?,
                    since: t(row, "since")?,
                })
            }

            pub fn audit(row: &DbRow) -> Result<AuditEvent> {
                Ok(AuditEvent {
                    id: i(row, "id")?,
                    seq: i(row, "seq")?,
                    time: t(row, "time")?,
                    user: os(row, "username")?,
                    role: os(row, "role")?,
                    session: os(row, "session")?,
                    client_addr: os(row, "client_addr")?,
                    action: opt("action", AuditAction::parse(&s(row, "action")?))?,
                    patient_id: os(row, "patient_id")?,
                    document_id: os(row, "document_id")?,
                    version: oi(row, "version")?,
                    outcome: opt("outcome", Outcome::parse(&s(row, "outcome")?))?,
                    detail: os(row, "detail")?,
                    content_hash: os(row, "content_hash")?,
                })
            }
        }

        const USER_COLS: &str = "username, display_name, role, kind, password_hash, must_change_password, disabled, failed_logins, locked_until, created_at, last_login_at, password_changed_at";
        const SESSION_COLS: &str = "id, token_hash, username, created_at, last_seen_at, expires_at, revoked_at, client_addr, stage, second_factor, client_cert";
        const WORK_ORDER_COLS: &str = "id, account, vendor, purpose, starts_at, ends_at, scope, networks, supervisor, created_by, created_at, seq";
        const API_TOKEN_COLS: &str = "id, username, token_hash, scope, expires_at, created_by, created_at, revoked_at, revoked_by";
        const FACTOR_RESET_COLS: &str = "id, username, code_hash, issued_by, issued_at, expires_at, approved_by, approved_at, used_at";
        const HEAD_COLS: &str = "id, patient_id, doc_type, title, info_class, status, version, entered_by, on_behalf_of, created_at, updated_at, confirmed_by, confirmed_at";
        const VERSION_COLS: &str = "document_id, version, kind, patient_id, doc_type, title, info_class, body, entered_by, on_behalf_of, entered_at, reason, content_hash, seq";
        const AUDIT_COLS: &str = "id, seq, time, username, role, session, client_addr, action, patient_id, document_id, version, outcome, detail, content_hash";
        const ATTACHMENT_COLS: &str = "id, document_id, version, name, media_type, size, blob_hash, added_by, added_at, seq";
        const STAMP_COLS: &str = "id, kind, renews, imprint, token, gen_time, tsa, tsa_not_after, tsa_url, seq";
        const STAMP_ITEM_COLS: &str = "item_kind, ref_id, ref_version, stamp_id, digest, leaf_index, batch_size, path, seq";
        const SIGNATURE_COLS: &str = "id, document_id, version, username, signature, signer, certificate_serial, certificate_not_after, hc_roles, content_hash, signature_hash, signed_at, seq, attachment_id";
        const SCAN_TYPE_COLS: &str = "code, revision, name, min_dpi, colour, deadline_days, original, keep_years, retired, edited_by, edited_at, seq";
        const SCAN_ITEM_COLS: &str = "id, patient_id, type_code, type_revision, paper_date, due_date, registered_by, registered_at, seq";
        const SCAN_EVENT_COLS: &str = "id, item_id, kind, document_id, attachment_id, detail, username, at, seq";
        /// Confirmed or approved versions without a stamp item.
        const PENDING_VERSIONS: &str = "FROM attestations a JOIN document_versions v ON v.document_id = a.document_id AND v.version = a.version \
            WHERE NOT EXISTS (SELECT 1 FROM stamp_items s WHERE s.item_kind = 'version' AND s.ref_id = a.document_id AND s.ref_version = a.version)";
        const EVIDENCE_COLS: &str = "id, owner_kind, owner_id, kind, about, der, source, obtained_at, seq";
        const PENDING_SIGNATURES: &str = "FROM signatures g WHERE NOT EXISTS (SELECT 1 FROM stamp_items s WHERE s.item_kind = 'signature' AND s.ref_id = g.id AND s.ref_version = 0)";
        /// Files (a scanned page, a report) are stamped each on its own, from the moment they are added.
        const PENDING_ATTACHMENTS: &str = "FROM attachments f WHERE NOT EXISTS (SELECT 1 FROM stamp_items s WHERE s.item_kind = 'attachment' AND s.ref_id = f.id AND s.ref_version = 0)";

        #[$crate::async_trait::async_trait]
        impl $crate::Tx for $name {
            async fn commit(self: Box<Self>) -> $crate::error::Result<()> {
                self.tx.commit().await.map_err($crate::StoreError::database)
            }
            async fn rollback(self: Box<Self>) -> $crate::error::Result<()> {
                self.tx.rollback().await.map_err($crate::StoreError::database)
            }

            fn writes(&self) -> u64 {
                self.writes
            }

            async fn lock_head(&mut self) -> $crate::error::Result<$crate::records::LogHead> {
                // A no-op update takes the row lock: from here to commit, no other writer moves the counters.
                let row = ::sqlx::query("UPDATE log_head SET last_seq = last_seq WHERE id = 1 RETURNING last_seq, last_event, matrix_version, tree_size, emergency_since, emergency_reason, emergency_by")
                    .fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                Ok($crate::records::LogHead {
                    seq: sql_rows::i(&row, "last_seq")?,
                    last_event: sql_rows::i(&row, "last_event")?,
                    matrix_version: sql_rows::i(&row, "matrix_version")?,
                    tree_size: sql_rows::i(&row, "tree_size")?,
                    emergency: sql_rows::emergency(&row)?,
                })
            }

            async fn emergency_state(&mut self) -> $crate::error::Result<Option<$crate::operations::EmergencyState>> {
                let row = ::sqlx::query("SELECT emergency_since, emergency_reason, emergency_by FROM log_head WHERE id = 1")
                    .fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                sql_rows::emergency(&row)
            }

            async fn set_emergency(&mut self, state: Option<&$crate::operations::EmergencyState>) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE log_head SET emergency_since = $1, emergency_reason = $2, emergency_by = $3 WHERE id = 1")
                    .bind(state.map(|s| s.since.as_micros())).bind(state.map(|s| s.reason.clone())).bind(state.map(|s| s.entered_by.clone()))
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_location_entry(&mut self, e: &$crate::operations::LocationEntry) -> $crate::error::Result<()> {
                let f = &e.fields;
                ::sqlx::query("INSERT INTO location_entries (id, revision, kind, name, place, capacity, retention, backup, response_time, risks, retired, edited_by, edited_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                    .bind(&e.id).bind(e.revision).bind(f.kind.as_str()).bind(&f.name).bind(&f.place).bind(&f.capacity).bind(&f.retention)
                    .bind(&f.backup).bind(&f.response_time).bind(&f.risks).bind(e.retired).bind(e.edited_by.as_str()).bind(e.edited_at.as_micros()).bind(e.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn location_entries(&mut self, id: Option<&str>) -> $crate::error::Result<Vec<$crate::operations::LocationEntry>> {
                ::sqlx::query("SELECT id, revision, kind, name, place, capacity, retention, backup, response_time, risks, retired, edited_by, edited_at, seq FROM location_entries WHERE CAST($1 AS TEXT) IS NULL OR id = $1 ORDER BY id, revision LIMIT 10000")
                    .bind(id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::location).collect()
            }

            async fn insert_profile(&mut self, r: &$crate::governance::ProfileRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO governance_profiles (revision, facility_class, content, content_hash, edited_by, edited_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(r.revision).bind(&r.facility_class).bind(&r.content).bind(&r.content_hash).bind(r.edited_by.as_str()).bind(r.edited_at.as_micros()).bind(r.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_regulation(&mut self, r: &$crate::governance::RegulationRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO regulation_revisions (revision, profile_revision, catalogue_edition, content, content_hash, generated_by, generated_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(r.revision).bind(r.profile_revision).bind(&r.catalogue_edition).bind(&r.content).bind(&r.content_hash).bind(r.generated_by.as_str()).bind(r.generated_at.as_micros()).bind(r.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_regulation_approval(&mut self, r: &$crate::governance::ApprovalRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO regulation_approvals (revision, content_hash, approved_by, approved_at, note, seq) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(r.revision).bind(&r.content_hash).bind(r.approved_by.as_str()).bind(r.approved_at.as_micros()).bind(&r.note).bind(r.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn governance_state(&mut self) -> $crate::error::Result<$crate::governance::GovernanceState> {
                use sql_rows::*;
                let profiles = ::sqlx::query("SELECT revision, facility_class, content, content_hash, edited_by, edited_at, seq FROM governance_profiles ORDER BY revision LIMIT 100000")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|row| Ok($crate::governance::ProfileRecord {
                        revision: i(row, "revision")?, facility_class: s(row, "facility_class")?, content: s(row, "content")?,
                        content_hash: s(row, "content_hash")?, edited_by: name(row, "edited_by")?, edited_at: t(row, "edited_at")?, seq: i(row, "seq")?,
                    })).collect::<$crate::error::Result<Vec<_>>>()?;
                let regulations = ::sqlx::query("SELECT revision, profile_revision, catalogue_edition, content, content_hash, generated_by, generated_at, seq FROM regulation_revisions ORDER BY revision LIMIT 100000")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|row| Ok($crate::governance::RegulationRecord {
                        revision: i(row, "revision")?, profile_revision: i(row, "profile_revision")?, catalogue_edition: s(row, "catalogue_edition")?,
                        content: s(row, "content")?, content_hash: s(row, "content_hash")?, generated_by: name(row, "generated_by")?,
                        generated_at: t(row, "generated_at")?, seq: i(row, "seq")?,
                    })).collect::<$crate::error::Result<Vec<_>>>()?;
                let approvals = ::sqlx::query("SELECT revision, content_hash, approved_by, approved_at, note, seq FROM regulation_approvals ORDER BY revision LIMIT 100000")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|row| Ok($crate::governance::ApprovalRecord {
                        revision: i(row, "revision")?, content_hash: s(row, "content_hash")?, approved_by: name(row, "approved_by")?,
                        approved_at: t(row, "approved_at")?, note: s(row, "note")?, seq: i(row, "seq")?,
                    })).collect::<$crate::error::Result<Vec<_>>>()?;
                Ok($crate::governance::GovernanceState { profiles, regulations, approvals })
            }

            async fn insert_ledger_revision(&mut self, r: &$crate::governance_ledgers::LedgerRevision) -> $crate::error::Result<()> {
                let fields = $crate::kiroku_core::hash::canonical_json(&r.fields);
                ::sqlx::query("INSERT INTO ledger_revisions (id, revision, kind, fields, entry_date, content_hash, entered_by, entered_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&r.id).bind(r.revision).bind(r.kind.as_str()).bind(fields).bind(&r.entry_date).bind(&r.content_hash)
                    .bind(r.entered_by.as_str()).bind(r.entered_at.as_micros()).bind(r.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|x| self.count(x))?;
                Ok(())
            }

            async fn insert_ledger_event(&mut self, e: &$crate::governance_ledgers::LedgerEvent) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO ledger_events (entry_id, n, kind, revision, note, username, at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&e.entry_id).bind(e.n).bind(e.kind.as_str()).bind(e.revision).bind(&e.note).bind(e.username.as_str()).bind(e.at.as_micros()).bind(e.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|x| self.count(x))?;
                Ok(())
            }

            async fn insert_ledger_attachment(&mut self, a: &$crate::governance_ledgers::LedgerAttachment) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO ledger_attachments (id, entry_id, name, media_type, size, blob_hash, added_by, added_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&a.id).bind(&a.entry_id).bind(&a.name).bind(&a.media_type).bind(a.size).bind(&a.blob_hash)
                    .bind(a.added_by.as_str()).bind(a.added_at.as_micros()).bind(a.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|x| self.count(x))?;
                Ok(())
            }

            async fn ledger_revisions(&mut self, id: &str) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerRevision>> {
                ::sqlx::query("SELECT id, revision, kind, fields, entry_date, content_hash, entered_by, entered_at, seq FROM ledger_revisions WHERE id = $1 ORDER BY revision")
                    .bind(id).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_revision).collect()
            }

            async fn ledger_events(&mut self, id: &str) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerEvent>> {
                ::sqlx::query("SELECT entry_id, n, kind, revision, note, username, at, seq FROM ledger_events WHERE entry_id = $1 ORDER BY n")
                    .bind(id).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_event).collect()
            }

            async fn ledger_attachments(&mut self, id: &str) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerAttachment>> {
                ::sqlx::query("SELECT id, entry_id, name, media_type, size, blob_hash, added_by, added_at, seq FROM ledger_attachments WHERE entry_id = $1 ORDER BY seq")
                    .bind(id).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_attachment).collect()
            }

            async fn ledger_current(
                &mut self,
                kind: Option<&str>,
                from: Option<&str>,
                to: Option<&str>,
                before: Option<&str>,
                limit: i64,
            ) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerRevision>> {
                ::sqlx::query("SELECT id, revision, kind, fields, entry_date, content_hash, entered_by, entered_at, seq FROM ledger_revisions r \
                               WHERE (CAST($1 AS TEXT) IS NULL OR kind = $1) \
                               AND revision = (SELECT MAX(m.revision) FROM ledger_revisions m WHERE m.id = r.id) \
                               AND (CAST($2 AS TEXT) IS NULL OR entry_date >= $2) \
                               AND (CAST($3 AS TEXT) IS NULL OR entry_date <= $3) \
                               AND (CAST($4 AS TEXT) IS NULL OR id < $4) \
                               ORDER BY id DESC LIMIT $5")
                    .bind(kind).bind(from).bind(to).bind(before).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_revision).collect()
            }

            async fn scan_ledger_revisions(&mut self, after_seq: i64, limit: i64) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerRevision>> {
                ::sqlx::query("SELECT id, revision, kind, fields, entry_date, content_hash, entered_by, entered_at, seq FROM ledger_revisions WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(after_seq).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_revision).collect()
            }

            async fn scan_ledger_events(&mut self, after_seq: i64, limit: i64) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerEvent>> {
                ::sqlx::query("SELECT entry_id, n, kind, revision, note, username, at, seq FROM ledger_events WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(after_seq).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_event).collect()
            }

            async fn scan_ledger_attachments(&mut self, after_seq: i64, limit: i64) -> $crate::error::Result<Vec<$crate::governance_ledgers::LedgerAttachment>> {
                ::sqlx::query("SELECT id, entry_id, name, media_type, size, blob_hash, added_by, added_at, seq FROM ledger_attachments WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(after_seq).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::ledger_attachment).collect()
            }

            async fn tree_size(&mut self) -> $crate::error::Result<i64> {
                let row = ::sqlx::query("SELECT tree_size FROM log_head WHERE id = 1").fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                sql_rows::i(&row, "tree_size")
            }

            async fn save_head(&mut self, last_seq: i64, last_event: i64, tree_size: i64) -> $crate::error::Result<()> {
                let r = ::sqlx::query("UPDATE log_head SET last_seq = $1, last_event = $2, tree_size = $3 WHERE id = 1")
                    .bind(last_seq).bind(last_event).bind(tree_size)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_audit_rows(&mut self, events: &[$crate::kiroku_core::AuditEvent]) -> $crate::error::Result<()> {
                for chunk in events.chunks($crate::sql::MULTI_ROW_CHUNK) {
                    let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO audit_events ({AUDIT_COLS}) VALUES {}", $crate::sql::placeholders(chunk.len(), 14)));
                    let mut q = ::sqlx::query(sql);
                    for e in chunk {
                        q = q.bind(e.id).bind(e.seq).bind(e.time.as_micros()).bind(e.user.clone()).bind(e.role.clone()).bind(e.session.clone())
                            .bind(e.client_addr.clone()).bind(e.action.as_str()).bind(e.patient_id.clone()).bind(e.document_id.clone())
                            .bind(e.version).bind(e.outcome.as_str()).bind(e.detail.clone()).bind(e.content_hash.clone());
                    }
                    q.execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                    }
                Ok(())
            }

            async fn insert_leaves(&mut self, leaves: &[$crate::records::LeafRow]) -> $crate::error::Result<()> {
                for chunk in leaves.chunks($crate::sql::MULTI_ROW_CHUNK) {
                    let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO log_leaves (idx, kind, ref_id, ref_version, ref_kind, hash) VALUES {}", $crate::sql::placeholders(chunk.len(), 6)));
                    let mut q = ::sqlx::query(sql);
                    for l in chunk {
                        q = q.bind(l.idx).bind(l.kind.clone()).bind(l.ref_id.clone()).bind(l.ref_version).bind(l.ref_kind.clone()).bind(l.hash.clone());
                    }
                    q.execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                    }
                Ok(())
            }

            async fn insert_nodes(&mut self, nodes: &[(i64, i64, String)]) -> $crate::error::Result<()> {
                for chunk in nodes.chunks($crate::sql::MULTI_ROW_CHUNK) {
                    let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO log_nodes (level, idx, hash) VALUES {}", $crate::sql::placeholders(chunk.len(), 3)));
                    let mut q = ::sqlx::query(sql);
                    for (level, idx, hash) in chunk {
                        q = q.bind(*level).bind(*idx).bind(hash.clone());
                    }
                    q.execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                    }
                Ok(())
            }

            async fn get_node(&mut self, level: i64, idx: i64) -> $crate::error::Result<Option<String>> {
                let row = if level == 0 {
                    ::sqlx::query("SELECT hash FROM log_leaves WHERE idx = $1").bind(idx).fetch_optional(&mut *self.tx).await
                } else {
                    ::sqlx::query("SELECT hash FROM log_nodes WHERE level = $1 AND idx = $2").bind(level).bind(idx).fetch_optional(&mut *self.tx).await
                };
                row.map_err($crate::StoreError::database)?.as_ref().map(|r| sql_rows::s(r, "hash")).transpose()
            }

            async fn scan_leaves(&mut self, after: i64, limit: i64) -> $crate::error::Result<Vec<$crate::records::LeafRow>> {
                ::sqlx::query("SELECT idx, kind, ref_id, ref_version, ref_kind, hash FROM log_leaves WHERE idx > $1 ORDER BY idx LIMIT $2")
                    .bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::leaf).collect()
            }

            async fn find_leaf(&mut self, kind: &str, ref_id: &str, ref_version: Option<i64>) -> $crate::error::Result<Option<$crate::records::LeafRow>> {
                ::sqlx::query("SELECT idx, kind, ref_id, ref_version, ref_kind, hash FROM log_leaves WHERE kind = $1 AND ref_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR ref_version = $3) ORDER BY idx LIMIT 1")
                    .bind(kind).bind(ref_id).bind(ref_version)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::leaf).transpose()
            }

            async fn insert_checkpoint(&mut self, c: &$crate::records::CheckpointRow) -> $crate::error::Result<bool> {
                let n = ::sqlx::query("INSERT INTO checkpoints (size, root, time, note) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING")
                    .bind(c.size).bind(&c.root).bind(c.time.as_micros()).bind(&c.note)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected();
                Ok(n == 1)
            }

            async fn latest_checkpoint(&mut self) -> $crate::error::Result<Option<$crate::records::CheckpointRow>> {
                ::sqlx::query("SELECT size, root, time, note FROM checkpoints ORDER BY size DESC LIMIT 1")
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::checkpoint).transpose()
            }

            async fn list_checkpoints(&mut self) -> $crate::error::Result<Vec<$crate::records::CheckpointRow>> {
                ::sqlx::query("SELECT size, root, time, note FROM checkpoints ORDER BY size")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::checkpoint).collect()
            }

            async fn export_cursor(&mut self, name: &str) -> $crate::error::Result<Option<i64>> {
                ::sqlx::query("SELECT last_id FROM export_cursors WHERE name = $1").bind(name)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(|r| sql_rows::i(r, "last_id")).transpose()
            }

            async fn set_export_cursor(&mut self, name: &str, last_id: i64, at: i64) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO export_cursors (name, last_id, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at")
                    .bind(name).bind(last_id).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn query_audit(&mut self, f: &$crate::records::AuditFilter, limit: i64) -> $crate::error::Result<Vec<$crate::kiroku_core::AuditEvent>> {
                // Only the filters given become conditions, so that the planner can use the index of
                // the most selective one (patient, user, document) instead of scanning the trail.
                let f = f.clone();
                let text: [(&str, Option<String>); 5] = [
                    ("patient_id", f.patient_id),
                    ("username", f.user),
                    ("action", f.action.map(|a| a.as_str().to_string())),
                    ("outcome", f.outcome.map(|o| o.as_str().to_string())),
                    ("document_id", f.document_id),
                ];
                let numbers: [(&str, Option<i64>); 3] =
                    [("time >=", f.from.map(|t| t.as_micros())), ("time <", f.to.map(|t| t.as_micros())), ("id <", f.before)];
                let mut conditions = Vec::new();
                let mut n = 0;
                for (column, value) in &text {
                    if value.is_some() {
                        n += 1;
                        conditions.push(format!("{column} = ${n}"));
                    }
                }
                for (op, value) in &numbers {
                    if value.is_some() {
                        n += 1;
                        conditions.push(format!("{op} ${n}"));
                    }
                }
                let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {AUDIT_COLS} FROM audit_events {filter} ORDER BY id DESC LIMIT ${}", n + 1));
                let mut q = ::sqlx::query(sql);
                for value in text.into_iter().filter_map(|(_, v)| v) {
                    q = q.bind(value);
                }
                for value in numbers.into_iter().filter_map(|(_, v)| v) {
                    q = q.bind(value);
                }
                q.bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::audit).collect()
            }

            async fn scan_audit(&mut self, after: i64, limit: i64) -> $crate::error::Result<Vec<$crate::kiroku_core::AuditEvent>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {AUDIT_COLS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2"));
                ::sqlx::query(sql).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::audit).collect()
            }

            async fn scan_audit_between(&mut self, from: i64, to: i64, after: i64, limit: i64) -> $crate::error::Result<Vec<$crate::kiroku_core::AuditEvent>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {AUDIT_COLS} FROM audit_events WHERE time >= $1 AND time < $2 AND id > $3 ORDER BY id LIMIT $4"));
                ::sqlx::query(sql).bind(from).bind(to).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::audit).collect()
            }

            async fn restricted_documents(&mut self) -> $crate::error::Result<Vec<(String, String)>> {
                ::sqlx::query("SELECT id, info_class FROM documents WHERE info_class <> 'normal'")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|r| Ok((sql_rows::s(r, "id")?, sql_rows::s(r, "info_class")?))).collect()
            }

            async fn load_grants(&mut self) -> $crate::error::Result<Vec<(String, String)>> {
                ::sqlx::query("SELECT role, grant_key FROM role_grants ORDER BY role, grant_key")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|r| Ok((sql_rows::s(r, "role")?, sql_rows::s(r, "grant_key")?))).collect()
            }

            async fn set_grant(&mut self, role: &str, grant_key: &str, allowed: bool) -> $crate::error::Result<bool> {
                let sql = if allowed {
                    "INSERT INTO role_grants (role, grant_key) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM role_grants WHERE role = $1 AND grant_key = $2"
                };
                let n = ::sqlx::query(sql).bind(role).bind(grant_key)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected();
                if n > 0 {
                    self.exec("UPDATE log_head SET matrix_version = matrix_version + 1 WHERE id = 1").await?;
                }
                Ok(n > 0)
            }

            async fn insert_user(&mut self, u: &$crate::records::UserRecord) -> $crate::error::Result<bool> {
                let n = ::sqlx::query("INSERT INTO users (username, display_name, role, password_hash, must_change_password, disabled, failed_logins, locked_until, created_at, last_login_at, password_changed_at, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (username) DO NOTHING")
                    .bind(u.username.as_str()).bind(&u.display_name).bind(u.role.as_str()).bind(&u.password_hash)
                    .bind(u.must_change_password).bind(u.disabled).bind(u.failed_logins).bind(u.locked_until.map(|t| t.as_micros()))
                    .bind(u.created_at.as_micros()).bind(u.last_login_at.map(|t| t.as_micros())).bind(u.password_changed_at.as_micros())
                    .bind(u.kind.as_str())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected();
                Ok(n == 1)
            }

            async fn get_user(&mut self, username: &str) -> $crate::error::Result<Option<$crate::records::UserRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE username = $1"));
                ::sqlx::query(sql).bind(username)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::user).transpose()
            }

            async fn update_user(&mut self, u: &$crate::records::UserRecord) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE users SET display_name = $2, role = $3, password_hash = $4, must_change_password = $5, disabled = $6, failed_logins = $7, locked_until = $8, last_login_at = $9, password_changed_at = $10 WHERE username = $1")
                    .bind(u.username.as_str()).bind(&u.display_name).bind(u.role.as_str()).bind(&u.password_hash)
                    .bind(u.must_change_password).bind(u.disabled).bind(u.failed_logins).bind(u.locked_until.map(|t| t.as_micros()))
                    .bind(u.last_login_at.map(|t| t.as_micros())).bind(u.password_changed_at.as_micros())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_users(&mut self) -> $crate::error::Result<Vec<$crate::records::UserRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {USER_COLS} FROM users ORDER BY username"));
                ::sqlx::query(sql).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::user).collect()
            }

            async fn count_users(&mut self) -> $crate::error::Result<i64> {
                let row = ::sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                sql_rows::i(&row, "n")
            }

            async fn insert_password_history(&mut self, username: &str, hash: &str, at: i64) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO password_history (username, password_hash, created_at) VALUES ($1, $2, $3)")
                    .bind(username).bind(hash).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn password_history(&mut self, username: &str, limit: i64) -> $crate::error::Result<Vec<String>> {
                ::sqlx::query("SELECT password_hash FROM password_history WHERE username = $1 ORDER BY created_at DESC LIMIT $2")
                    .bind(username).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|r| sql_rows::s(r, "password_hash")).collect()
            }

            async fn get_language(&mut self, username: &str) -> $crate::error::Result<Option<String>> {
                ::sqlx::query("SELECT language FROM user_preferences WHERE username = $1").bind(username)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(|r| sql_rows::s(r, "language")).transpose()
            }

            async fn set_language(&mut self, username: &str, language: &str, at: i64) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO user_preferences (username, language, updated_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at")
                    .bind(username).bind(language).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_session(&mut self, x: &$crate::records::SessionRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO sessions (id, token_hash, username, created_at, last_seen_at, expires_at, revoked_at, client_addr, stage, second_factor, client_cert) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                    .bind(&x.id).bind(&x.token_hash).bind(x.username.as_str()).bind(x.created_at.as_micros())
                    .bind(x.last_seen_at.as_micros()).bind(x.expires_at.as_micros()).bind(x.revoked_at.map(|t| t.as_micros())).bind(x.client_addr.clone())
                    .bind(x.stage.as_str()).bind(x.second_factor.clone()).bind(x.client_cert.clone())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_session(&mut self, token_hash: &str) -> $crate::error::Result<Option<$crate::records::SessionRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SESSION_COLS} FROM sessions WHERE token_hash = $1"));
                ::sqlx::query(sql)
                    .bind(token_hash)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::session).transpose()
            }

            async fn get_session_by_id(&mut self, id: &str) -> $crate::error::Result<Option<$crate::records::SessionRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SESSION_COLS} FROM sessions WHERE id = $1"));
                ::sqlx::query(sql)
                    .bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::session).transpose()
            }

            async fn list_live_sessions(&mut self, username: &str, now: i64) -> $crate::error::Result<Vec<$crate::records::SessionRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SESSION_COLS} FROM sessions WHERE username = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 200"));
                ::sqlx::query(sql)
                    .bind(username).bind(now)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::session).collect()
            }

            async fn set_session_stage(&mut self, id: &str, stage: &str, second_factor: Option<&str>) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE sessions SET stage = $2, second_factor = $3 WHERE id = $1").bind(id).bind(stage).bind(second_factor)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn revoke_other_sessions(&mut self, username: &str, keep: &str, at: i64) -> $crate::error::Result<u64> {
                Ok(::sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE username = $1 AND id <> $2 AND revoked_at IS NULL").bind(username).bind(keep).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected())
            }

            async fn touch_session(&mut self, id: &str, at: i64) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2").bind(id).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn revoke_session(&mut self, id: &str, at: i64) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL").bind(id).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn revoke_user_sessions(&mut self, username: &str, at: i64) -> $crate::error::Result<u64> {
                Ok(::sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE username = $1 AND revoked_at IS NULL").bind(username).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected())
            }

            async fn insert_second_factor(&mut self, f: &$crate::records::SecondFactorRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO second_factors (id, username, kind, secret, label, created_at, confirmed_at, last_step, removed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&f.id).bind(f.username.as_str()).bind(&f.kind).bind(&f.secret).bind(&f.label).bind(f.created_at.as_micros())
                    .bind(f.confirmed_at.map(|t| t.as_micros())).bind(f.last_step).bind(f.removed_at.map(|t| t.as_micros()))
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn update_second_factor(&mut self, f: &$crate::records::SecondFactorRecord) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE second_factors SET confirmed_at = $2, last_step = $3, removed_at = $4, secret = $5 WHERE id = $1")
                    .bind(&f.id).bind(f.confirmed_at.map(|t| t.as_micros())).bind(f.last_step).bind(f.removed_at.map(|t| t.as_micros())).bind(&f.secret)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_second_factors(&mut self, username: &str) -> $crate::error::Result<Vec<$crate::records::SecondFactorRecord>> {
                ::sqlx::query("SELECT id, username, kind, secret, label, created_at, confirmed_at, last_step, removed_at FROM second_factors WHERE username = $1 AND removed_at IS NULL ORDER BY created_at")
                    .bind(username)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::second_factor).collect()
            }

            async fn replace_recovery_codes(&mut self, username: &str, hashes: &[String], at: i64) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE recovery_codes SET used_at = $2 WHERE username = $1 AND used_at IS NULL").bind(username).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                for h in hashes {
                    ::sqlx::query("INSERT INTO recovery_codes (username, code_hash, created_at, used_at) VALUES ($1, $2, $3, NULL) ON CONFLICT (username, code_hash) DO NOTHING")
                        .bind(username).bind(h).bind(at)
                        .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                }
                Ok(())
            }

            async fn use_recovery_code(&mut self, username: &str, hash: &str, at: i64) -> $crate::error::Result<bool> {
                let n = ::sqlx::query("UPDATE recovery_codes SET used_at = $3 WHERE username = $1 AND code_hash = $2 AND used_at IS NULL").bind(username).bind(hash).bind(at)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected();
                Ok(n == 1)
            }

            async fn unused_recovery_codes(&mut self, username: &str) -> $crate::error::Result<i64> {
                let row = ::sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE username = $1 AND used_at IS NULL").bind(username)
                    .fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                sql_rows::i(&row, "n")
            }

            async fn list_mfa_policies(&mut self) -> $crate::error::Result<Vec<(String, String, Option<i64>)>> {
                ::sqlx::query("SELECT role, mode, required_from FROM mfa_policies ORDER BY role")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|r| Ok((sql_rows::s(r, "role")?, sql_rows::s(r, "mode")?, sql_rows::oi(r, "required_from")?))).collect()
            }

            async fn insert_break_glass(&mut self, b: &$crate::records::BreakGlassRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO break_glass_accounts (username, state, sealed_at, sealed_by, opened_at, expires_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(b.username.as_str()).bind(&b.state).bind(b.sealed_at.as_micros()).bind(&b.sealed_by)
                    .bind(b.opened_at.map(|t| t.as_micros())).bind(b.expires_at.map(|t| t.as_micros())).bind(b.reason.clone())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn update_break_glass(&mut self, b: &$crate::records::BreakGlassRecord) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE break_glass_accounts SET state = $2, sealed_at = $3, sealed_by = $4, opened_at = $5, expires_at = $6, reason = $7 WHERE username = $1")
                    .bind(b.username.as_str()).bind(&b.state).bind(b.sealed_at.as_micros()).bind(&b.sealed_by)
                    .bind(b.opened_at.map(|t| t.as_micros())).bind(b.expires_at.map(|t| t.as_micros())).bind(b.reason.clone())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_break_glass(&mut self, username: &str) -> $crate::error::Result<Option<$crate::records::BreakGlassRecord>> {
                ::sqlx::query("SELECT username, state, sealed_at, sealed_by, opened_at, expires_at, reason FROM break_glass_accounts WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::break_glass).transpose()
            }

            async fn list_break_glass(&mut self) -> $crate::error::Result<Vec<$crate::records::BreakGlassRecord>> {
                ::sqlx::query("SELECT username, state, sealed_at, sealed_by, opened_at, expires_at, reason FROM break_glass_accounts ORDER BY username")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::break_glass).collect()
            }

            async fn set_mfa_policy(&mut self, role: &str, mode: &str, required_from: Option<i64>, at: i64, by: &str) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO mfa_policies (role, mode, required_from, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (role) DO UPDATE SET mode = $2, required_from = $3, updated_at = $4, updated_by = $5")
                    .bind(role).bind(mode).bind(required_from).bind(at).bind(by)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_work_order(&mut self, o: &$crate::records::WorkOrder) -> $crate::error::Result<()> {
                let json = |v: Result<String, $crate::serde_json::Error>| v.map_err(|e| $crate::StoreError::Corrupt(e.to_string()));
                let scope = json($crate::serde_json::to_string(&o.scope))?;
                let networks = json($crate::serde_json::to_string(&o.networks))?;
                ::sqlx::query("INSERT INTO work_orders (id, account, vendor, purpose, starts_at, ends_at, scope, networks, supervisor, created_by, created_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                    .bind(&o.id).bind(o.account.as_str()).bind(&o.vendor).bind(&o.purpose).bind(o.starts_at.as_micros()).bind(o.ends_at.as_micros())
                    .bind(scope).bind(networks).bind(o.supervisor.as_str()).bind(&o.created_by).bind(o.created_at.as_micros()).bind(o.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_work_order(&mut self, id: &str) -> $crate::error::Result<Option<$crate::records::WorkOrder>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {WORK_ORDER_COLS} FROM work_orders WHERE id = $1"));
                ::sqlx::query(sql).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::work_order).transpose()
            }

            async fn list_work_orders(&mut self) -> $crate::error::Result<Vec<$crate::records::WorkOrder>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {WORK_ORDER_COLS} FROM work_orders ORDER BY starts_at DESC, id LIMIT 1000"));
                ::sqlx::query(sql).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::work_order).collect()
            }

            async fn insert_work_order_signoff(&mut self, x: &$crate::records::WorkOrderSignoff) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO work_order_signoffs (order_id, signed_by, signed_at, report_hash, comment, seq) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&x.order_id).bind(x.signed_by.as_str()).bind(x.signed_at.as_micros()).bind(&x.report_hash).bind(&x.comment).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_work_order_signoff(&mut self, order_id: &str) -> $crate::error::Result<Option<$crate::records::WorkOrderSignoff>> {
                ::sqlx::query("SELECT order_id, signed_by, signed_at, report_hash, comment, seq FROM work_order_signoffs WHERE order_id = $1").bind(order_id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::work_order_signoff).transpose()
            }

            async fn list_work_order_signoffs(&mut self) -> $crate::error::Result<Vec<$crate::records::WorkOrderSignoff>> {
                ::sqlx::query("SELECT order_id, signed_by, signed_at, report_hash, comment, seq FROM work_order_signoffs ORDER BY signed_at")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::work_order_signoff).collect()
            }

            async fn sessions_with_prefix(&mut self, username: &str, prefix: &str) -> $crate::error::Result<Vec<$crate::records::SessionRecord>> {
                // Prefixes are made of letters, digits and dashes, none of them a LIKE wildcard.
                if !prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Ok(Vec::new());
                }
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SESSION_COLS} FROM sessions WHERE username = $1 AND id LIKE $2 ORDER BY created_at, id"));
                ::sqlx::query(sql).bind(username).bind(format!("{prefix}%"))
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::session).collect()
            }

            async fn insert_api_token(&mut self, x: &$crate::records::ApiTokenRecord) -> $crate::error::Result<()> {
                let scope = $crate::serde_json::to_string(&x.scope).map_err(|e| $crate::StoreError::Corrupt(e.to_string()))?;
                ::sqlx::query("INSERT INTO api_tokens (id, username, token_hash, scope, expires_at, created_by, created_at, revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&x.id).bind(x.username.as_str()).bind(&x.token_hash).bind(scope).bind(x.expires_at.as_micros())
                    .bind(&x.created_by).bind(x.created_at.as_micros()).bind(x.revoked_at.map(|t| t.as_micros())).bind(x.revoked_by.clone())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_api_token_by_hash(&mut self, token_hash: &str) -> $crate::error::Result<Option<$crate::records::ApiTokenRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {API_TOKEN_COLS} FROM api_tokens WHERE token_hash = $1"));
                ::sqlx::query(sql).bind(token_hash)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::api_token).transpose()
            }

            async fn list_api_tokens(&mut self) -> $crate::error::Result<Vec<$crate::records::ApiTokenRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {API_TOKEN_COLS} FROM api_tokens ORDER BY created_at DESC LIMIT 1000"));
                ::sqlx::query(sql).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::api_token).collect()
            }

            async fn revoke_api_token(&mut self, id: &str, at: i64, by: &str) -> $crate::error::Result<bool> {
                Ok(::sqlx::query("UPDATE api_tokens SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL").bind(id).bind(at).bind(by)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected() == 1)
            }

            async fn insert_factor_reset(&mut self, x: &$crate::records::FactorResetRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO factor_resets (id, username, code_hash, issued_by, issued_at, expires_at, approved_by, approved_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&x.id).bind(x.username.as_str()).bind(&x.code_hash).bind(&x.issued_by).bind(x.issued_at.as_micros()).bind(x.expires_at.as_micros())
                    .bind(x.approved_by.clone()).bind(x.approved_at.map(|t| t.as_micros())).bind(x.used_at.map(|t| t.as_micros()))
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_factor_resets(&mut self) -> $crate::error::Result<Vec<$crate::records::FactorResetRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {FACTOR_RESET_COLS} FROM factor_resets ORDER BY issued_at DESC LIMIT 1000"));
                ::sqlx::query(sql).fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::factor_reset).collect()
            }

            async fn update_factor_reset(&mut self, x: &$crate::records::FactorResetRecord) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE factor_resets SET approved_by = $2, approved_at = $3, used_at = $4 WHERE id = $1")
                    .bind(&x.id).bind(x.approved_by.clone()).bind(x.approved_at.map(|t| t.as_micros())).bind(x.used_at.map(|t| t.as_micros()))
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_left_marker(&mut self, x: &$crate::records::LeftMarker) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO staff_left (username, left_on, recorded_by, recorded_at, seq) VALUES ($1, $2, $3, $4, $5)")
                    .bind(x.username.as_str()).bind(&x.left_on).bind(&x.recorded_by).bind(x.recorded_at.as_micros()).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_left_markers(&mut self) -> $crate::error::Result<Vec<$crate::records::LeftMarker>> {
                ::sqlx::query("SELECT username, left_on, recorded_by, recorded_at, seq FROM staff_left ORDER BY seq, username")
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::left_marker).collect()
            }

            async fn insert_patient(&mut self, p: &$crate::records::Patient) -> $crate::error::Result<bool> {
                let n = ::sqlx::query("INSERT INTO patients (patient_id, name, name_kana, birth_date, sex, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (patient_id) DO NOTHING")
                    .bind(p.patient_id.as_str()).bind(&p.name).bind(&p.name_kana).bind(&p.birth_date).bind(p.sex.as_str())
                    .bind(p.created_at.as_micros()).bind(&p.created_by)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?.rows_affected();
                Ok(n == 1)
            }

            async fn get_patient(&mut self, patient_id: &str) -> $crate::error::Result<Option<$crate::records::Patient>> {
                ::sqlx::query("SELECT patient_id, name, name_kana, birth_date, sex, created_at, created_by FROM patients WHERE patient_id = $1")
                    .bind(patient_id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::patient).transpose()
            }

            async fn search_patients(&mut self, query: &str, limit: i64) -> $crate::error::Result<Vec<$crate::records::Patient>> {
                let escaped = query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let pattern = format!("%{escaped}%");
                ::sqlx::query("SELECT patient_id, name, name_kana, birth_date, sex, created_at, created_by FROM patients WHERE patient_id = $1 OR name LIKE $2 ESCAPE '\\' OR name_kana LIKE $2 ESCAPE '\\' ORDER BY patient_id LIMIT $3")
                    .bind(query).bind(pattern).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::patient).collect()
            }

            async fn patient_ids_after(&mut self, after: &str, limit: i64) -> $crate::error::Result<Vec<String>> {
                ::sqlx::query("SELECT patient_id FROM patients WHERE patient_id > $1 ORDER BY patient_id LIMIT $2")
                    .bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|row| sql_rows::s(row, "patient_id")).collect()
            }

            async fn insert_head(&mut self, h: &$crate::records::DocumentHead) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO documents (id, patient_id, doc_type, title, info_class, status, version, entered_by, on_behalf_of, created_at, updated_at, confirmed_by, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
                    .bind(h.id.as_str()).bind(h.patient_id.as_str()).bind(&h.doc_type).bind(&h.title).bind(h.info_class.as_str())
                    .bind(h.status.as_str()).bind(h.version).bind(h.entered_by.as_str()).bind(h.on_behalf_of.as_ref().map(|u| u.as_str()))
                    .bind(h.created_at.as_micros()).bind(h.updated_at.as_micros()).bind(h.confirmed_by.clone()).bind(h.confirmed_at.map(|t| t.as_micros()))
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn update_head(&mut self, h: &$crate::records::DocumentHead) -> $crate::error::Result<()> {
                ::sqlx::query("UPDATE documents SET title = $2, status = $3, version = $4, updated_at = $5, confirmed_by = $6, confirmed_at = $7 WHERE id = $1")
                    .bind(h.id.as_str()).bind(&h.title).bind(h.status.as_str()).bind(h.version).bind(h.updated_at.as_micros())
                    .bind(h.confirmed_by.clone()).bind(h.confirmed_at.map(|t| t.as_micros()))
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_head(&mut self, id: &str) -> $crate::error::Result<Option<$crate::records::DocumentHead>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {HEAD_COLS} FROM documents WHERE id = $1"));
                ::sqlx::query(sql).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::head).transpose()
            }

            async fn get_head_with_version(&mut self, id: &str, version: Option<i64>) -> $crate::error::Result<Option<($crate::records::DocumentHead, Option<$crate::records::VersionRecord>)>> {
                // One statement for what every document read and change needs first.
                let head_cols = HEAD_COLS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
                let version_cols = VERSION_COLS.split(", ").map(|c| format!("v.{c} AS v_{c}")).collect::<Vec<_>>().join(", ");
                let sql = ::sqlx::AssertSqlSafe(format!(
                    "SELECT {head_cols}, {version_cols} FROM documents d LEFT JOIN document_versions v \
                     ON v.document_id = d.id AND v.version = COALESCE(CAST($2 AS BIGINT), d.version) WHERE d.id = $1"
                ));
                let Some(row) = ::sqlx::query(sql).bind(id).bind(version).fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)? else {
                    return Ok(None);
                };
                let head = sql_rows::head(&row)?;
                let found = sql_rows::oi(&row, "v_version")?.is_some();
                let record = if found { Some(sql_rows::version_from(&row, "v_")?) } else { None };
                Ok(Some((head, record)))
            }

            async fn list_heads(&mut self, patient_id: &str) -> $crate::error::Result<Vec<$crate::records::DocumentHead>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {HEAD_COLS} FROM documents WHERE patient_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1000"));
                ::sqlx::query(sql).bind(patient_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::head).collect()
            }

            async fn list_pending_for(&mut self, username: &str) -> $crate::error::Result<Vec<$crate::records::DocumentHead>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {HEAD_COLS} FROM documents WHERE on_behalf_of = $1 AND status = 'pending_approval' ORDER BY created_at LIMIT 1000"));
                ::sqlx::query(sql).bind(username)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::head).collect()
            }

            async fn patient_heads(&mut self, patient_id: &str) -> $crate::error::Result<Vec<$crate::records::DocumentHead>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {HEAD_COLS} FROM documents WHERE patient_id = $1 ORDER BY created_at, id"));
                ::sqlx::query(sql).bind(patient_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::head).collect()
            }

            async fn patient_versions(&mut self, patient_id: &str) -> $crate::error::Result<Vec<$crate::records::VersionRecord>> {
                // Through the documents of the patient (indexed by patient), then each one's versions by key.
                let cols = VERSION_COLS.split(", ").map(|c| format!("v.{c}")).collect::<Vec<_>>().join(", ");
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {cols} FROM documents d JOIN document_versions v ON v.document_id = d.id WHERE d.patient_id = $1 ORDER BY v.document_id, v.version"));
                ::sqlx::query(sql).bind(patient_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::version).collect()
            }

            async fn patient_attestations(&mut self, patient_id: &str) -> $crate::error::Result<Vec<$crate::records::Attestation>> {
                ::sqlx::query("SELECT a.document_id, a.version, a.kind, a.username, a.at, a.seq FROM documents d JOIN attestations a ON a.document_id = d.id WHERE d.patient_id = $1 ORDER BY a.document_id, a.version, a.seq")
                    .bind(patient_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::attestation).collect()
            }

            async fn patient_attachments(&mut self, patient_id: &str) -> $crate::error::Result<Vec<$crate::records::AttachmentRecord>> {
                let cols = ATTACHMENT_COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {cols} FROM documents d JOIN attachments a ON a.document_id = d.id WHERE d.patient_id = $1 ORDER BY a.document_id, a.seq, a.id"));
                ::sqlx::query(sql).bind(patient_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::attachment).collect()
            }

            async fn insert_version(&mut self, v: &$crate::records::VersionRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO document_versions (document_id, version, kind, patient_id, doc_type, title, info_class, body, entered_by, on_behalf_of, entered_at, reason, content_hash, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                    .bind(v.document_id.as_str()).bind(v.version).bind(v.kind.as_str()).bind(v.patient_id.as_str()).bind(&v.doc_type)
                    .bind(&v.title).bind(v.info_class.as_str()).bind($crate::kiroku_core::hash::canonical_json(&v.body))
                    .bind(v.entered_by.as_str()).bind(v.on_behalf_of.as_ref().map(|u| u.as_str())).bind(v.entered_at.as_micros())
                    .bind(v.reason.clone()).bind(&v.content_hash).bind(v.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_version(&mut self, id: &str, version: i64) -> $crate::error::Result<Option<$crate::records::VersionRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {VERSION_COLS} FROM document_versions WHERE document_id = $1 AND version = $2"));
                ::sqlx::query(sql).bind(id).bind(version)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::version).transpose()
            }

            async fn list_versions(&mut self, id: &str) -> $crate::error::Result<Vec<$crate::records::VersionRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {VERSION_COLS} FROM document_versions WHERE document_id = $1 ORDER BY version"));
                ::sqlx::query(sql).bind(id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::version).collect()
            }

            async fn scan_versions(&mut self, after: Option<(&str, i64)>, limit: i64) -> $crate::error::Result<Vec<$crate::records::VersionRecord>> {
                let (doc, ver) = after.unwrap_or(("", 0));
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {VERSION_COLS} FROM document_versions WHERE document_id > $1 OR (document_id = $1 AND version > $2) ORDER BY document_id, version LIMIT $3"));
                ::sqlx::query(sql).bind(doc).bind(ver).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::version).collect()
            }

            async fn insert_attestation(&mut self, a: &$crate::records::Attestation) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO attestations (document_id, version, kind, username, at, seq) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(a.document_id.as_str()).bind(a.version).bind(a.kind.as_str()).bind(a.username.as_str()).bind(a.at.as_micros()).bind(a.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_attestations(&mut self, id: &str) -> $crate::error::Result<Vec<$crate::records::Attestation>> {
                ::sqlx::query("SELECT document_id, version, kind, username, at, seq FROM attestations WHERE document_id = $1 ORDER BY version, seq")
                    .bind(id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::attestation).collect()
            }

            async fn scan_attestations(&mut self, after: Option<(&str, i64, &str)>, limit: i64) -> $crate::error::Result<Vec<$crate::records::Attestation>> {
                let (doc, ver, kind) = after.unwrap_or(("", 0, ""));
                ::sqlx::query("SELECT document_id, version, kind, username, at, seq FROM attestations WHERE document_id > $1 OR (document_id = $1 AND (version > $2 OR (version = $2 AND kind > $3))) ORDER BY document_id, version, kind LIMIT $4")
                    .bind(doc).bind(ver).bind(kind).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::attestation).collect()
            }

            async fn insert_attachment(&mut self, a: &$crate::records::AttachmentRecord) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO attachments (id, document_id, version, name, media_type, size, blob_hash, added_by, added_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(&a.id).bind(a.document_id.as_str()).bind(a.version).bind(&a.name).bind(&a.media_type).bind(a.size)
                    .bind(&a.blob_hash).bind(a.added_by.as_str()).bind(a.added_at.as_micros()).bind(a.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_attachments(&mut self, document_id: &str) -> $crate::error::Result<Vec<$crate::records::AttachmentRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE document_id = $1 ORDER BY seq, id"));
                ::sqlx::query(sql).bind(document_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::attachment).collect()
            }

            async fn get_attachment(&mut self, document_id: &str, id: &str) -> $crate::error::Result<Option<$crate::records::AttachmentRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE document_id = $1 AND id = $2"));
                ::sqlx::query(sql).bind(document_id).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::attachment).transpose()
            }

            async fn scan_attachments(&mut self, after: &str, limit: i64) -> $crate::error::Result<Vec<$crate::records::AttachmentRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id > $1 ORDER BY id LIMIT $2"));
                ::sqlx::query(sql).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::attachment).collect()
            }
            async fn insert_stamp(&mut self, x: &$crate::records::StampRecord) -> $crate::error::Result<()> {
                let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO timestamps ({STAMP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"));
                ::sqlx::query(sql)
                    .bind(&x.id).bind(x.kind.as_str()).bind(&x.renews).bind(&x.imprint).bind(&x.token).bind(x.gen_time.as_micros())
                    .bind(&x.tsa).bind(x.tsa_not_after.as_micros()).bind(&x.tsa_url).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_stamp_items(&mut self, items: &[$crate::records::StampItem]) -> $crate::error::Result<()> {
                for chunk in items.chunks($crate::sql::MULTI_ROW_CHUNK) {
                    let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO stamp_items ({STAMP_ITEM_COLS}) VALUES {}", $crate::sql::placeholders(chunk.len(), 9)));
                    let mut q = ::sqlx::query(sql);
                    for x in chunk {
                        q = q.bind(x.item_kind.clone()).bind(x.ref_id.clone()).bind(x.ref_version).bind(x.stamp_id.clone()).bind(x.digest.clone())
                            .bind(x.leaf_index).bind(x.batch_size).bind(x.path.join(",")).bind(x.seq);
                    }
                    q.execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                }
                Ok(())
            }

            async fn get_stamp(&mut self, id: &str) -> $crate::error::Result<Option<$crate::records::StampRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {STAMP_COLS} FROM timestamps WHERE id = $1"));
                ::sqlx::query(sql).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::stamp).transpose()
            }

            async fn scan_stamps(&mut self, after: &str, limit: i64) -> $crate::error::Result<Vec<$crate::records::StampRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {STAMP_COLS} FROM timestamps WHERE id > $1 ORDER BY id LIMIT $2"));
                ::sqlx::query(sql).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::stamp).collect()
            }

            async fn scan_stamp_items(&mut self, after: Option<(&str, &str, i64)>, limit: i64) -> $crate::error::Result<Vec<$crate::records::StampItem>> {
                let (kind, id, ver) = after.unwrap_or(("", "", 0));
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {STAMP_ITEM_COLS} FROM stamp_items WHERE item_kind > $1 OR (item_kind = $1 AND (ref_id > $2 OR (ref_id = $2 AND ref_version > $3))) ORDER BY item_kind, ref_id, ref_version LIMIT $4"));
                ::sqlx::query(sql).bind(kind).bind(id).bind(ver).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::stamp_item).collect()
            }

            async fn get_stamp_item(&mut self, item_kind: &str, ref_id: &str, ref_version: i64) -> $crate::error::Result<Option<$crate::records::StampItem>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {STAMP_ITEM_COLS} FROM stamp_items WHERE item_kind = $1 AND ref_id = $2 AND ref_version = $3"));
                ::sqlx::query(sql).bind(item_kind).bind(ref_id).bind(ref_version)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::stamp_item).transpose()
            }

            async fn pending_stamps(&mut self, limit: i64) -> $crate::error::Result<Vec<$crate::records::PendingStamp>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT a.document_id AS ref_id, a.version AS ref_version, v.content_hash AS digest, MIN(a.at) AS since {PENDING_VERSIONS} GROUP BY a.document_id, a.version, v.content_hash ORDER BY since LIMIT $1"));
                let mut pending: Vec<$crate::records::PendingStamp> = ::sqlx::query(sql).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(|r| sql_rows::pending(r, "version")).collect::<$crate::error::Result<_>>()?;
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT g.id AS ref_id, CAST(0 AS BIGINT) AS ref_version, g.signature_hash AS digest, g.signed_at AS since {PENDING_SIGNATURES} ORDER BY g.signed_at LIMIT $1"));
                let signatures = ::sqlx::query(sql).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                for r in &signatures {
                    pending.push(sql_rows::pending(r, "signature")?);
                }
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT f.id AS ref_id, CAST(0 AS BIGINT) AS ref_version, f.blob_hash AS digest, f.added_at AS since {PENDING_ATTACHMENTS} ORDER BY f.added_at LIMIT $1"));
                let files = ::sqlx::query(sql).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                for r in &files {
                    pending.push(sql_rows::pending(r, "attachment")?);
                }
                pending.sort_by_key(|p| p.since);
                pending.truncate(usize::try_from(limit).unwrap_or(0));
                Ok(pending)
            }

            async fn stamp_backlog(&mut self) -> $crate::error::Result<(i64, Option<i64>)> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n, MIN(since) AS oldest FROM (SELECT MIN(a.at) AS since {PENDING_VERSIONS} GROUP BY a.document_id, a.version) p"));
                let row = ::sqlx::query(sql).fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                let (mut n, mut oldest) = (sql_rows::i(&row, "n")?, sql_rows::oi(&row, "oldest")?);
                for sql in [
                    format!("SELECT COUNT(*) AS n, MIN(g.signed_at) AS oldest {PENDING_SIGNATURES}"),
                    format!("SELECT COUNT(*) AS n, MIN(f.added_at) AS oldest {PENDING_ATTACHMENTS}"),
                ] {
                    let row = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).fetch_one(&mut *self.tx).await.map_err($crate::StoreError::database)?;
                    n += sql_rows::i(&row, "n")?;
                    if let Some(o) = sql_rows::oi(&row, "oldest")? {
                        oldest = Some(oldest.map_or(o, |x| x.min(o)));
                    }
                }
                Ok((n, oldest))
            }

            async fn insert_signature(&mut self, x: &$crate::records::SignatureRecord) -> $crate::error::Result<()> {
                let roles = $crate::serde_json::to_string(&x.hc_roles).map_err(|e| $crate::StoreError::Corrupt(e.to_string()))?;
                let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO signatures ({SIGNATURE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"));
                ::sqlx::query(sql)
                    .bind(&x.id).bind(x.document_id.as_str()).bind(x.version).bind(x.username.as_str()).bind(&x.signature).bind(&x.signer)
                    .bind(&x.certificate_serial).bind(x.certificate_not_after.as_micros()).bind(roles).bind(&x.content_hash)
                    .bind(&x.signature_hash).bind(x.signed_at.as_micros()).bind(x.seq).bind(x.attachment_id.clone())
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn attachment_by_id(&mut self, id: &str) -> $crate::error::Result<Option<$crate::records::AttachmentRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = $1"));
                ::sqlx::query(sql).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::attachment).transpose()
            }

            async fn get_signature(&mut self, id: &str) -> $crate::error::Result<Option<$crate::records::SignatureRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SIGNATURE_COLS} FROM signatures WHERE id = $1"));
                ::sqlx::query(sql).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::signature).transpose()
            }

            async fn list_signatures(&mut self, document_id: &str) -> $crate::error::Result<Vec<$crate::records::SignatureRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SIGNATURE_COLS} FROM signatures WHERE document_id = $1 ORDER BY version, signed_at, id"));
                ::sqlx::query(sql).bind(document_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::signature).collect()
            }

            async fn insert_webauthn_credential(&mut self, c: &$crate::records::WebauthnCredential) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO webauthn_credentials (id, username, label, credential_id, state, counter, created_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&c.id).bind(c.username.as_str()).bind(&c.label).bind(&c.credential_id).bind(&c.state).bind(c.counter)
                    .bind(c.created_at.as_micros()).bind(c.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn insert_webauthn_event(&mut self, e: &$crate::records::WebauthnEvent) -> $crate::error::Result<()> {
                ::sqlx::query("INSERT INTO webauthn_events (credential, n, kind, counter, state, at, session_id, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&e.credential).bind(e.n).bind(&e.kind).bind(e.counter).bind(e.state.clone())
                    .bind(e.at.as_micros()).bind(e.session_id.clone()).bind(e.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_webauthn_keys(&mut self, username: &str) -> $crate::error::Result<Vec<$crate::records::WebauthnKey>> {
                let credentials = ::sqlx::query("SELECT id, username, label, credential_id, state, counter, created_at, seq FROM webauthn_credentials WHERE username = $1 ORDER BY created_at, id")
                    .bind(username)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::webauthn_credential).collect::<$crate::error::Result<Vec<_>>>()?;
                let events = ::sqlx::query("SELECT e.credential, e.n, e.kind, e.counter, e.state, e.at, e.session_id, e.seq FROM webauthn_events e JOIN webauthn_credentials c ON c.id = e.credential WHERE c.username = $1")
                    .bind(username)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::webauthn_event).collect::<$crate::error::Result<Vec<_>>>()?;
                Ok($crate::records::WebauthnKey::fold(credentials, events))
            }

            async fn scan_webauthn(&mut self, after: &str, limit: i64) -> $crate::error::Result<Vec<($crate::records::WebauthnCredential, Vec<$crate::records::WebauthnEvent>)>> {
                let credentials = ::sqlx::query("SELECT id, username, label, credential_id, state, counter, created_at, seq FROM webauthn_credentials WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::webauthn_credential).collect::<$crate::error::Result<Vec<_>>>()?;
                let mut out = Vec::with_capacity(credentials.len());
                for c in credentials {
                    let events = ::sqlx::query("SELECT credential, n, kind, counter, state, at, session_id, seq FROM webauthn_events WHERE credential = $1 ORDER BY n")
                        .bind(&c.id)
                        .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                        .iter().map(sql_rows::webauthn_event).collect::<$crate::error::Result<Vec<_>>>()?;
                    out.push((c, events));
                }
                Ok(out)
            }

            async fn scan_signatures(&mut self, after: &str, limit: i64) -> $crate::error::Result<Vec<$crate::records::SignatureRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SIGNATURE_COLS} FROM signatures WHERE id > $1 ORDER BY id LIMIT $2"));
                ::sqlx::query(sql).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::signature).collect()
            }

            async fn insert_evidence(&mut self, x: &$crate::records::EvidenceRecord) -> $crate::error::Result<()> {
                let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO validation_evidence ({EVIDENCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"));
                ::sqlx::query(sql)
                    .bind(&x.id).bind(&x.owner_kind).bind(&x.owner_id).bind(&x.kind).bind(&x.about).bind(&x.der).bind(&x.source)
                    .bind(x.obtained_at.as_micros()).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn list_evidence(&mut self, owner_kind: &str, owner_id: &str) -> $crate::error::Result<Vec<$crate::records::EvidenceRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {EVIDENCE_COLS} FROM validation_evidence WHERE owner_kind = $1 AND owner_id = $2 ORDER BY id"));
                ::sqlx::query(sql).bind(owner_kind).bind(owner_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::evidence).collect()
            }

            async fn scan_evidence(&mut self, after: &str, limit: i64) -> $crate::error::Result<Vec<$crate::records::EvidenceRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {EVIDENCE_COLS} FROM validation_evidence WHERE id > $1 ORDER BY id LIMIT $2"));
                ::sqlx::query(sql).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::evidence).collect()
            }

            async fn insert_scan_type(&mut self, x: &$crate::scan::ScanTypeRecord) -> $crate::error::Result<()> {
                let (original, keep_years) = x.original_columns();
                let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO scan_types ({SCAN_TYPE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"));
                ::sqlx::query(sql)
                    .bind(&x.rule.code).bind(x.revision).bind(&x.rule.name).bind(i64::from(x.rule.min_dpi)).bind(x.colour_str())
                    .bind(i64::from(x.rule.deadline_days)).bind(original).bind(keep_years).bind(x.retired).bind(x.edited_by.as_str())
                    .bind(x.edited_at.as_micros()).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn scan_types(&mut self, code: Option<&str>) -> $crate::error::Result<Vec<$crate::scan::ScanTypeRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SCAN_TYPE_COLS} FROM scan_types WHERE CAST($1 AS TEXT) IS NULL OR code = $1 ORDER BY code, revision"));
                ::sqlx::query(sql).bind(code)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::scan_type).collect()
            }

            async fn insert_scan_item(&mut self, x: &$crate::scan::ScanItemRecord) -> $crate::error::Result<()> {
                let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO scan_items ({SCAN_ITEM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"));
                ::sqlx::query(sql)
                    .bind(&x.id).bind(x.patient_id.as_str()).bind(&x.type_code).bind(x.type_revision).bind(&x.paper_date).bind(&x.due_date)
                    .bind(x.registered_by.as_str()).bind(x.registered_at.as_micros()).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn get_scan_item(&mut self, id: &str) -> $crate::error::Result<Option<$crate::scan::ScanItemRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SCAN_ITEM_COLS} FROM scan_items WHERE id = $1"));
                ::sqlx::query(sql).bind(id)
                    .fetch_optional(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .as_ref().map(sql_rows::scan_item).transpose()
            }

            async fn scan_items(&mut self, patient_id: Option<&str>, after: &str, limit: i64) -> $crate::error::Result<Vec<$crate::scan::ScanItemRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SCAN_ITEM_COLS} FROM scan_items WHERE (CAST($1 AS TEXT) IS NULL OR patient_id = $1) AND id > $2 ORDER BY id LIMIT $3"));
                ::sqlx::query(sql).bind(patient_id).bind(after).bind(limit)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::scan_item).collect()
            }

            async fn insert_scan_event(&mut self, x: &$crate::scan::ScanEventRecord) -> $crate::error::Result<()> {
                let sql = ::sqlx::AssertSqlSafe(format!("INSERT INTO scan_events ({SCAN_EVENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"));
                ::sqlx::query(sql)
                    .bind(&x.id).bind(&x.item_id).bind(x.kind.as_str()).bind(x.document_id.clone()).bind(x.attachment_id.clone())
                    .bind($crate::kiroku_core::hash::canonical_json(&x.detail)).bind(x.username.as_str()).bind(x.at.as_micros()).bind(x.seq)
                    .execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }

            async fn scan_events(&mut self, item_id: Option<&str>) -> $crate::error::Result<Vec<$crate::scan::ScanEventRecord>> {
                let sql = ::sqlx::AssertSqlSafe(format!("SELECT {SCAN_EVENT_COLS} FROM scan_events WHERE CAST($1 AS TEXT) IS NULL OR item_id = $1 ORDER BY item_id, at, id"));
                ::sqlx::query(sql).bind(item_id)
                    .fetch_all(&mut *self.tx).await.map_err($crate::StoreError::database)?
                    .iter().map(sql_rows::scan_event).collect()
            }
        }

        impl $name {
            /// A session and its account in one statement on `pool`, outside any transaction: this
            /// runs for every request, so it is one round trip.
            pub async fn session_on(pool: &::sqlx::Pool<$db>, token_hash: &str) -> $crate::error::Result<Option<$crate::records::SessionWithUser>> {
                let sql = ::sqlx::AssertSqlSafe(format!(
                    "SELECT s.id AS s_id, s.token_hash AS s_token_hash, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
                     s.expires_at AS s_expires_at, s.revoked_at AS s_revoked_at, s.client_addr AS s_client_addr, \
                     s.stage AS s_stage, s.second_factor AS s_second_factor, s.client_cert AS s_client_cert, p.mode AS p_mode, p.required_from AS p_required_from, \
                     CAST(CASE WHEN EXISTS (SELECT 1 FROM second_factors f WHERE f.username = u.username AND f.confirmed_at IS NOT NULL AND f.removed_at IS NULL) \
                     OR EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.username = u.username AND NOT EXISTS (SELECT 1 FROM webauthn_events x WHERE x.credential = w.id AND x.kind = 'removal')) THEN 1 ELSE 0 END AS BIGINT) AS has_factor, {} \
                     FROM sessions s JOIN users u ON u.username = s.username LEFT JOIN mfa_policies p ON p.role = u.role WHERE s.token_hash = $1",
                    USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
                ));
                let Some(row) = ::sqlx::query(sql).bind(token_hash).fetch_optional(pool).await.map_err($crate::StoreError::database)? else {
                    return Ok(None);
                };
                let user = sql_rows::user(&row)?;
                let session = $crate::records::SessionRecord {
                    id: sql_rows::s(&row, "s_id")?,
                    token_hash: sql_rows::s(&row, "s_token_hash")?,
                    username: user.username.clone(),
                    created_at: $crate::kiroku_core::Timestamp::from_micros(sql_rows::i(&row, "s_created_at")?),
                    last_seen_at: $crate::kiroku_core::Timestamp::from_micros(sql_rows::i(&row, "s_last_seen_at")?),
                    expires_at: $crate::kiroku_core::Timestamp::from_micros(sql_rows::i(&row, "s_expires_at")?),
                    revoked_at: sql_rows::oi(&row, "s_revoked_at")?.map($crate::kiroku_core::Timestamp::from_micros),
                    client_addr: sql_rows::os(&row, "s_client_addr")?,
                    stage: $crate::kiroku_core::identity::SessionStage::parse(&sql_rows::s(&row, "s_stage")?)
                        .ok_or_else(|| $crate::StoreError::Corrupt("session stage".into()))?,
                    second_factor: sql_rows::os(&row, "s_second_factor")?,
                    client_cert: sql_rows::os(&row, "s_client_cert")?,
                };
                let mfa_policy = $crate::records::mfa_policy_of(sql_rows::os(&row, "p_mode")?.as_deref(), sql_rows::oi(&row, "p_required_from")?)?;
                let has_second_factor = sql_rows::i(&row, "has_factor")? == 1;
                Ok(Some($crate::records::SessionWithUser { session, user, has_second_factor, mfa_policy }))
            }

            /// Counts a statement that changed rows, and passes its result on.
            fn count(&mut self, r: <$db as ::sqlx::Database>::QueryResult) -> <$db as ::sqlx::Database>::QueryResult {
                if r.rows_affected() > 0 {
                    self.writes += 1;
                }
                r
            }

            async fn exec(&mut self, sql: &'static str) -> $crate::error::Result<()> {
                ::sqlx::query(sql).execute(&mut *self.tx).await.map_err($crate::StoreError::database).map(|r| self.count(r))?;
                Ok(())
            }
        }
    };
}
