//! The OpenAPI 3.1 document of the API, served at /api/openapi.json. A test checks that every
//! operation listed here reaches a handler.

use serde_json::{Map, Value, json};

/// One operation of the API.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub request: Option<&'static str>,
    pub status: u16,
    pub response: Option<&'static str>,
    pub needs_login: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    status: u16,
    response: Option<&'static str>,
    needs_login: bool,
) -> Operation {
    Operation { method, path, summary, request, status, response, needs_login }
}

/// The changing operations (not GET) that stay open in emergency read-only mode: every step of
/// logging in (second factor, enrolling one, changing one's own password) and out, ending a session
/// (staff must reach the records; after a break-in sessions must be endable), and the mode itself.
/// Every other changing operation answers 503; a test checks every one of them. The store decides
/// the same ([`kiroku_store::Command::allowed_in_emergency`]).
pub const OPEN_IN_EMERGENCY: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/password"),
    ("post", "/api/v1/auth/second-factor"),
    ("post", "/api/v1/auth/totp"),
    ("post", "/api/v1/auth/totp/confirm"),
    ("post", "/api/v1/auth/webauthn/register"),
    ("post", "/api/v1/auth/webauthn/register/finish"),
    ("post", "/api/v1/auth/webauthn/login"),
    ("post", "/api/v1/auth/webauthn/login/finish"),
    ("post", "/api/v1/sessions/{id}/revoke"),
    ("post", "/api/v1/emergency/enter"),
    ("post", "/api/v1/emergency/leave"),
];

pub const OPERATIONS: &[Operation] = &[
    op("post", "/api/v1/auth/login", "Log in; returns a bearer token", Some("LoginRequest"), 200, Some("LoginResponse"), false),
    op("post", "/api/v1/auth/logout", "End the current session", None, 200, None, true),
    op("post", "/api/v1/auth/password", "Change one's own password", Some("PasswordChange"), 200, None, true),
    op("get", "/api/v1/auth/me", "The logged-in user", None, 200, None, true),
    op("post", "/api/v1/auth/second-factor", "Second step of a login: TOTP or recovery code", Some("Code"), 200, None, true),
    op("post", "/api/v1/auth/totp", "Start enrolling an authenticator app (secret, otpauth URI, QR as SVG)", None, 201, None, true),
    op(
        "post",
        "/api/v1/auth/totp/confirm",
        "Confirm the app with its first code; answers recovery codes once",
        Some("Code"),
        200,
        None,
        true,
    ),
    op("get", "/api/v1/auth/second-factors", "One's own second factors", None, 200, None, true),
    op(
        "post",
        "/api/v1/auth/webauthn/register",
        "Start registering a security key {\"label\"}: options for navigator.credentials.create",
        None,
        201,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/auth/webauthn/register/finish",
        "Finish registering a security key with the authenticator's answer (W3C RegistrationResponseJSON)",
        None,
        201,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/auth/webauthn/login",
        "Second step of a login by a security key: options for navigator.credentials.get",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/auth/webauthn/login/finish",
        "Second step of a login by a security key: the authenticator's assertion (W3C AuthenticationResponseJSON)",
        None,
        200,
        None,
        true,
    ),
    op("delete", "/api/v1/auth/second-factors/{id}", "Remove one of one's own second factors", None, 200, None, true),
    op("get", "/api/v1/auth/sessions", "One's own live sessions", None, 200, None, true),
    op("post", "/api/v1/sessions/{id}/revoke", "End a session (one's own, or anyone's with user.manage)", None, 200, None, true),
    op("get", "/api/v1/users/{username}/sessions", "An account's live sessions (own, or user.manage)", None, 200, None, true),
    op("get", "/api/v1/break-glass", "Break-glass accounts and their seals (user.manage)", None, 200, None, true),
    op(
        "post",
        "/api/v1/break-glass",
        "Create a sealed break-glass account; its password is answered once (user.manage)",
        Some("NewBreakGlass"),
        201,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/break-glass/{username}/reseal",
        "Close out a break-glass account with a new sealed password (user.manage)",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/work-orders",
        "Work orders of maintenance accounts (all with user.manage or audit.read, else those one supervises)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/work-orders",
        "Create a work order; a new maintenance account's password is answered once (user.manage)",
        None,
        201,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/work-orders/{id}",
        "A work order's check-off list: sessions, actions and the list's hash (supervisor, user.manage, audit.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/work-orders/{id}/signoff",
        "The supervisor signs the check-off list off (after the window, no session open)",
        None,
        200,
        None,
        true,
    ),
    op("get", "/api/v1/api-tokens", "API tokens of integrations (user.manage)", None, 200, None, true),
    op("post", "/api/v1/api-tokens", "Issue a scoped, expiring API token; the token is answered once (user.manage)", None, 201, None, true),
    op("post", "/api/v1/api-tokens/{id}/revoke", "Revoke an API token (user.manage)", None, 200, None, true),
    op(
        "post",
        "/api/v1/users/{username}/factor-reset",
        "Issue a reset of a user's second factors; its code is answered once (user.manage)",
        None,
        201,
        None,
        true,
    ),
    op("get", "/api/v1/factor-resets", "Issued second-factor resets (user.manage)", None, 200, None, true),
    op(
        "post",
        "/api/v1/factor-resets/{id}/approve",
        "Approve a reset: a second, different administrator (user.manage)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/auth/factor-reset",
        "Use an approved reset at the second step of a login; the session must enrol again",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/access-review",
        "Access review: every account with role, kind, last login, factors, unused and left flags (user.manage or audit.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/access-review/signoff",
        "Sign the access review off, bound to the report's hash (user.manage or audit.read)",
        None,
        200,
        None,
        true,
    ),
    op("post", "/api/v1/users/{username}/left", "Mark a member of staff as left on a date (user.manage)", None, 200, None, true),
    op("get", "/api/v1/mfa-policies", "Second-factor policy of every role (user.manage)", None, 200, None, true),
    op("put", "/api/v1/mfa-policies/{role}", "Set a role's second-factor policy (user.manage)", Some("MfaPolicy"), 200, None, true),
    op("get", "/api/v1/users", "List accounts (user.manage)", None, 200, None, true),
    op("post", "/api/v1/users", "Create an account (user.manage)", Some("NewUser"), 201, Some("User"), true),
    op("get", "/api/v1/users/{username}", "One account (user.manage)", None, 200, Some("User"), true),
    op(
        "patch",
        "/api/v1/users/{username}",
        "Change display name, role or disabled state (user.manage)",
        Some("UserChange"),
        200,
        Some("User"),
        true,
    ),
    op("post", "/api/v1/users/{username}/unlock", "Unlock a locked account (user.manage)", None, 200, Some("User"), true),
    op(
        "post",
        "/api/v1/users/{username}/password",
        "Set a temporary password (user.manage)",
        Some("PasswordReset"),
        200,
        Some("User"),
        true,
    ),
    op("get", "/api/v1/roles", "The permission matrix (role.manage)", None, 200, Some("Matrix"), true),
    op("put", "/api/v1/roles/{role}", "Replace one role's grants (role.manage)", Some("RoleGrants"), 200, Some("Matrix"), true),
    op("get", "/api/v1/patients", "Search patients by ID, name or kana (?q=)", None, 200, None, true),
    op("post", "/api/v1/patients", "Register a patient", Some("NewPatient"), 201, Some("Patient"), true),
    op("get", "/api/v1/patients/{patient_id}", "One patient", None, 200, Some("Patient"), true),
    op("get", "/api/v1/patients/{patient_id}/documents", "A patient's documents, newest first", None, 200, None, true),
    op(
        "post",
        "/api/v1/patients/{patient_id}/documents",
        "Create a draft, or a proxy entry with on_behalf_of",
        Some("NewDocument"),
        201,
        Some("Document"),
        true,
    ),
    op("get", "/api/v1/documents/{id}", "The current version of a document", None, 200, Some("Document"), true),
    op(
        "put",
        "/api/v1/documents/{id}",
        "Edit a draft, or amend a confirmed document (with reason and If-Match)",
        Some("Revision"),
        200,
        Some("Document"),
        true,
    ),
    op("delete", "/api/v1/documents/{id}", "Delete logically (a new version with a reason)", Some("Deletion"), 200, Some("Document"), true),
    op("post", "/api/v1/documents/{id}/confirm", "Confirm a draft (確定)", None, 200, Some("Document"), true),
    op(
        "post",
        "/api/v1/documents/{id}/approve",
        "Approve a proxy entry (承認); only the named clinician",
        None,
        200,
        Some("Document"),
        true,
    ),
    op("get", "/api/v1/documents/{id}/versions", "Version history with who and when", None, 200, None, true),
    op("get", "/api/v1/documents/{id}/versions/{n}", "One version, byte for byte as written", None, 200, Some("Document"), true),
    op("get", "/api/v1/documents/{id}/attachments", "Files attached to a document", None, 200, None, true),
    op("post", "/api/v1/documents/{id}/attachments", "Attach a file (raw body, ?name=FILE, Content-Type)", None, 201, None, true),
    op("get", "/api/v1/documents/{id}/attachments/{attachment_id}", "Download an attached file", None, 200, None, true),
    op("get", "/api/v1/approvals", "Proxy entries awaiting the caller's approval", None, 200, None, true),
    op("get", "/api/v1/audit", "Audit events (audit.read): filters, cursor paging, ?format=csv", None, 200, Some("AuditPage"), true),
    op(
        "get",
        "/api/v1/audit/export/fhir",
        "Audit events as FHIR R4 AuditEvent NDJSON, newest first (audit.read; ?from=&to=&patient_id=&user=)",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/log/checkpoint",
        "The latest signed checkpoint of the tamper-evident log (C2SP signed note)",
        None,
        200,
        None,
        false,
    ),
    op("get", "/api/v1/log/key", "The log's public key, to write down or give to a witness", None, 200, None, false),
    op("get", "/api/v1/log/proof/inclusion", "Inclusion proof of leaf ?leaf=N in the tree of ?size=M", None, 200, None, true),
    op("get", "/api/v1/log/proof/consistency", "Consistency proof between tree sizes ?from=A and ?to=B", None, 200, None, true),
    op(
        "get",
        "/api/v1/documents/{id}/versions/{n}/proof",
        "A version with its leaf, checkpoint and inclusion proof, for `kiroku log check`",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/documents/{id}/versions/{n}/signed-content",
        "The exact bytes a signature of the version covers (RFC 8785 JSON)",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/documents/{id}/versions/{n}/signatures",
        "The version's signatures, each verified, with the reason when not valid",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/documents/{id}/versions/{n}/signatures",
        "Sign a confirmed version: a detached CMS signature, or a PKCS#8 key and certificate used once (document.sign)",
        Some("SignRequest"),
        201,
        None,
        true,
    ),
    op("get", "/api/v1/audit/review", "Audit review report of a past period ?from=&to= (audit.read)", None, 200, None, true),
    op(
        "post",
        "/api/v1/audit/review/signoff",
        "Sign off a reviewed report by its hash (audit.read); recorded in the log",
        Some("SignOff"),
        201,
        None,
        true,
    ),
    op("get", "/api/v1/emergency", "Emergency read-only mode: whether active, since when, why", None, 200, None, true),
    op(
        "post",
        "/api/v1/emergency/enter",
        "Enter emergency read-only mode with a reason (ops.manage); changes answer 503 until it is left",
        Some("Reason"),
        200,
        None,
        true,
    ),
    op("post", "/api/v1/emergency/leave", "Leave emergency read-only mode with a reason (ops.manage)", Some("Reason"), 200, None, true),
    op("get", "/api/v1/locations", "The location register: where information lives (ops.read; audited)", None, 200, None, true),
    op("post", "/api/v1/locations", "Add a place kiroku cannot see to the register (ops.manage)", Some("LocationFields"), 201, None, true),
    op(
        "put",
        "/api/v1/locations/{id}",
        "Change a register entry: a new revision, the old ones kept (ops.manage)",
        Some("LocationFields"),
        200,
        None,
        true,
    ),
    op("delete", "/api/v1/locations/{id}", "Remove an entry from the register (a retiring revision; ops.manage)", None, 200, None, true),
    op("get", "/api/v1/locations/{id}/history", "Every revision of a register entry (ops.read)", None, 200, None, true),
    op(
        "get",
        "/api/v1/governance/profile",
        "The facility profile's latest revision and the catalogue's parameters (governance.read; audited)",
        None,
        200,
        None,
        true,
    ),
    op(
        "put",
        "/api/v1/governance/profile",
        "Save a new facility profile revision (governance.manage; audited)",
        Some("FacilityProfile"),
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/governance/regulation",
        "The generated regulation's revisions with their approvals (governance.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/governance/regulation",
        "Generate the 運用管理規程 from the latest profile: a new revision, with the changes from the previous one (governance.manage)",
        None,
        201,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/governance/regulation/{revision}/{format}",
        "One revision as json, html, docx or pdf (PDF/A-2b with Japanese fonts: the articles with their catalogue IDs, the revision history and the approval record; 501 not-built in a build without the `pdf` feature; governance.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/governance/regulation/{revision}/approve",
        "Approve the latest revision, by someone other than its generator, for the hash seen (governance.manage)",
        Some("RegulationApproval"),
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/status/response-times",
        "Response times per purpose: target, requests, p50/p95/p99, share within target (ops.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/governance/checklist",
        "Compliance checklist with live evidence ?status=&table= (governance.read)",
        None,
        200,
        None,
        true,
    ),
    op("get", "/api/v1/governance/checklist.csv", "The checklist as CSV, UTF-8 with BOM (governance.read)", None, 200, None, true),
    op(
        "get",
        "/api/v1/governance/checklist.pdf",
        "The checklist as PDF/A-2b ?status=&table=: facility, class, date, each item's ID, status and reason, the latest sign-off (501 not-built without the `pdf` feature; governance.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/governance/checklist/signoff",
        "The audit officer signs off the checklist by its report hash (audit.read, governance.read); recorded in the log",
        Some("ChecklistSignOff"),
        201,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/governance/checklist/attestations",
        "Attest an item kiroku cannot see: satisfied, partly or not, with the reason (governance.manage); recorded in the log",
        Some("Attestation"),
        201,
        None,
        true,
    ),
    op("get", "/api/v1/governance/evidence", "Every piece of evidence with its time and links (governance.read)", None, 200, None, true),
    op(
        "get",
        "/api/v1/governance/oscal/catalog.json",
        "OSCAL 1.1 catalog of the guideline's items (governance.read)",
        None,
        200,
        None,
        true,
    ),
    op("get", "/api/v1/governance/oscal/profile.json", "OSCAL 1.1 profile of the facility class (governance.read)", None, 200, None, true),
    op(
        "get",
        "/api/v1/governance/oscal/assessment-results.json",
        "OSCAL 1.1 assessment results: statuses as findings, evidence as observations (governance.read)",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/governance/disclosure",
        "kiroku's MDS/SDS-style self-disclosure from its configuration (governance.read)",
        None,
        200,
        None,
        true,
    ),
    op("get", "/api/v1/governance/split", "Technical/operational split of every item, T1-4.6 (governance.read)", None, 200, None, true),
    op(
        "post",
        "/api/v1/documents/{id}/attachments/{attachment_id}/signatures",
        "Sign a file of a confirmed version (a scanned page) over its exact bytes, like a version (scan.write for files)",
        Some("SignRequest"),
        201,
        None,
        true,
    ),
    op("get", "/api/v1/scan/types", "Scan document types with their rules (scan.read; audited)", None, 200, None, true),
    op(
        "put",
        "/api/v1/scan/types/{code}",
        "Add a scan type or a new revision of its rule (scan.manage)",
        Some("ScanType"),
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/scan/register",
        "The scan register ?patient=: state, deadline, file, signature and timestamp (scan.read)",
        None,
        200,
        None,
        true,
    ),
    op("get", "/api/v1/scan/overdue", "Papers scanned after their deadline or still waiting past it (scan.read)", None, 200, None, true),
    op(
        "post",
        "/api/v1/scan/items/{id}/original",
        "Originals register: kept (where; scan.write) or disposal approved (scan.manage, not by the scanner, after signature and timestamp)",
        Some("Original"),
        200,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/patients/{patient_id}/scan/papers",
        "Register paper received for scanning (scan.write)",
        Some("Paper"),
        201,
        None,
        true,
    ),
    op(
        "post",
        "/api/v1/patients/{patient_id}/scans",
        "Upload a scanned PDF/PNG/JPEG/TIFF ?type=&paper_date=&name=[&item=][&late_reason=]; checked against the type's rule (scan.write)",
        None,
        201,
        None,
        true,
    ),
    op("get", "/api/v1/governance/ledgers", "The ledgers (台帳) with their fields and workflow (governance.read)", None, 200, None, true),
    op(
        "get",
        "/api/v1/governance/ledgers/{kind}",
        "A ledger's entries, newest first: status, from, to (YYYY-MM-DD), cursor, limit (governance.read; audited)",
        None,
        200,
        Some("LedgerPage"),
        true,
    ),
    op(
        "post",
        "/api/v1/governance/ledgers/{kind}",
        "Record an entry (governance.manage)",
        Some("LedgerInput"),
        201,
        Some("LedgerEntry"),
        true,
    ),
    op(
        "get",
        "/api/v1/governance/ledgers/{kind}/{id}",
        "An entry with every revision, event and file (governance.read)",
        None,
        200,
        Some("LedgerEntry"),
        true,
    ),
    op(
        "put",
        "/api/v1/governance/ledgers/{kind}/{id}",
        "Revise an entry: a new revision, the old ones kept; an approval must be given again (governance.manage)",
        Some("LedgerInput"),
        200,
        Some("LedgerEntry"),
        true,
    ),
    op(
        "post",
        "/api/v1/governance/ledgers/{kind}/{id}/approve",
        "Approve or confirm the current revision; not by who entered it (governance.manage)",
        Some("LedgerNote"),
        200,
        Some("LedgerEntry"),
        true,
    ),
    op(
        "post",
        "/api/v1/governance/ledgers/{kind}/{id}/events",
        "Close an entry (return, exit, resolved…), add a note, or report loss/theft (governance.manage)",
        Some("LedgerEvent"),
        200,
        Some("LedgerEntry"),
        true,
    ),
    op(
        "post",
        "/api/v1/governance/ledgers/{kind}/{id}/attachments",
        "Attach a file (raw body, ?name=) such as a disposal certificate (governance.manage)",
        None,
        201,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/governance/ledgers/{kind}/{id}/attachments/{attachment_id}",
        "An attached file (governance.read; audited)",
        None,
        200,
        None,
        true,
    ),
    op(
        "get",
        "/api/v1/governance/duties",
        "Periodic duties with last completion, due date, reminders and overdue ones; per-staff training (governance.read)",
        None,
        200,
        None,
        true,
    ),
    op("get", "/healthz", "Health", None, 200, None, false),
    op("get", "/metrics", "Prometheus metrics", None, 200, None, false),
    op("get", "/api/openapi.json", "This document", None, 200, None, false),
];

fn schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    json!({
        "Problem": { "type": "object", "required": ["type", "title", "status"], "properties": {
            "type": s("string"), "title": s("string"), "title_ja": s("string"), "status": s("integer"), "detail": s("string"), "field": s("string") } },
        "LoginRequest": { "type": "object", "additionalProperties": false, "required": ["username", "password"], "properties": { "username": s("string"), "password": s("string"),
            "break_glass_reason": { "type": "string", "description": "required to use a break-glass (緊急時) account" } } },
        "LoginResponse": { "type": "object", "required": ["token", "must_change_password"], "properties": {
            "token": s("string"), "token_type": s("string"), "must_change_password": s("boolean"), "expires_at": { "type": "string", "format": "date-time" },
            "idle_timeout_seconds": s("integer"), "user": { "$ref": "#/components/schemas/User" } } },
        "PasswordChange": { "type": "object", "additionalProperties": false, "required": ["current_password", "new_password"], "properties": { "current_password": s("string"), "new_password": s("string") } },
        "Role": { "type": "string", "enum": ["doctor", "nurse", "pharmacist", "clerk", "admin", "auditor", "scan_officer"] },
        "InfoClass": { "type": "string", "enum": ["normal", "psychiatry", "genetic"] },
        "User": { "type": "object", "properties": { "username": s("string"), "display_name": s("string"), "role": { "$ref": "#/components/schemas/Role" },
            "must_change_password": s("boolean"), "disabled": s("boolean"), "failed_logins": s("integer"), "locked_until": { "type": ["string", "null"] },
            "created_at": s("string"), "last_login_at": { "type": ["string", "null"] }, "initial_password": { "type": "string", "description": "only when generated" } } },
        "NewUser": { "type": "object", "additionalProperties": false, "required": ["username", "display_name", "role"], "properties": {
            "username": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" }, "display_name": s("string"), "role": { "$ref": "#/components/schemas/Role" }, "password": s("string") } },
        "UserChange": { "type": "object", "additionalProperties": false, "properties": { "display_name": s("string"), "role": { "$ref": "#/components/schemas/Role" }, "disabled": s("boolean") } },
        "PasswordReset": { "type": "object", "additionalProperties": false, "properties": { "password": s("string") } },
        "Matrix": { "type": "object", "properties": { "roles": s("array"), "permissions": s("array"), "classes": s("array") } },
        "RoleGrants": { "type": "object", "additionalProperties": false, "required": ["permissions", "classes"], "properties": {
            "permissions": { "type": "array", "items": s("string") }, "classes": { "type": "array", "items": { "$ref": "#/components/schemas/InfoClass" } } } },
        "NewPatient": { "type": "object", "additionalProperties": false, "required": ["patient_id", "name", "name_kana", "birth_date", "sex"], "properties": {
            "patient_id": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$" }, "name": s("string"), "name_kana": s("string"),
            "birth_date": { "type": "string", "format": "date" }, "sex": { "type": "string", "enum": ["male", "female", "other", "unknown"] } } },
        "Patient": { "type": "object", "properties": { "patient_id": s("string"), "name": s("string"), "name_kana": s("string"), "birth_date": s("string"), "sex": s("string"), "created_at": s("string"), "created_by": s("string") } },
        "NewDocument": { "type": "object", "additionalProperties": false, "required": ["type", "title", "body"], "properties": {
            "type": s("string"), "title": s("string"), "body": { "description": "text or a JSON object" }, "info_class": { "$ref": "#/components/schemas/InfoClass" },
            "on_behalf_of": { "type": "string", "description": "username of the clinician who must approve a proxy entry" } } },
        "Revision": { "type": "object", "additionalProperties": false, "required": ["body"], "properties": { "body": {}, "title": s("string"), "reason": s("string") } },
        "Deletion": { "type": "object", "additionalProperties": false, "required": ["reason"], "properties": { "reason": s("string") } },
        "Document": { "type": "object", "required": ["id", "version", "status"], "properties": {
            "id": s("string"), "patient_id": s("string"), "type": s("string"), "title": s("string"), "info_class": { "$ref": "#/components/schemas/InfoClass" },
            "status": { "type": "string", "enum": ["draft", "pending_approval", "confirmed", "deleted"] }, "version": s("integer"), "current_version": s("integer"),
            "body": {}, "content_hash": s("string"), "author": s("string"), "entered_at": s("string"), "on_behalf_of": { "type": ["string", "null"] },
            "confirmer": { "type": ["string", "null"] }, "confirmed_at": { "type": ["string", "null"] }, "approved_by": { "type": ["string", "null"] },
            "reason": { "type": ["string", "null"] }, "attachments": s("array") } },
        "AuditEvent": { "type": "object", "properties": { "id": s("integer"), "seq": s("integer"), "time": s("string"), "user": { "type": ["string", "null"] },
            "action": s("string"), "patient_id": { "type": ["string", "null"] }, "document_id": { "type": ["string", "null"] }, "version": { "type": ["integer", "null"] },
            "outcome": { "type": "string", "enum": ["success", "denied", "failed"] }, "client_addr": { "type": ["string", "null"] }, "detail": { "type": ["string", "null"] } } },
        "AuditPage": { "type": "object", "required": ["events", "next_cursor"], "properties": {
            "events": { "type": "array", "items": { "$ref": "#/components/schemas/AuditEvent" } }, "next_cursor": { "type": ["integer", "null"] } } }
    })
}

/// Schemas of the ledgers (台帳). The fields of each ledger are listed by GET /api/v1/governance/ledgers.
fn ledger_schemas() -> Value {
    let text = json!({ "type": "string" });
    let status = json!({ "type": "string", "enum": ["open", "pending_approval", "approved", "loss_reported", "closed"] });
    json!({
        "LedgerInput": { "type": "object", "additionalProperties": false, "required": ["fields"], "properties": {
            "fields": { "type": "object", "description": "the ledger's fields by name (see GET /api/v1/governance/ledgers)" },
            "revision": { "type": "integer", "description": "for a revision: the revision last seen (409 when stale)" } } },
        "LedgerNote": { "type": "object", "additionalProperties": false, "properties": { "note": text } },
        "LedgerEvent": { "type": "object", "additionalProperties": false, "required": ["event"], "properties": {
            "event": { "type": "string", "enum": ["close", "note", "loss_reported"] }, "note": text } },
        "LedgerEntry": { "type": "object", "required": ["id", "kind", "status", "current"], "properties": {
            "id": text, "kind": text, "status": status, "entered_by": text,
            "current": { "type": "object", "properties": { "revision": { "type": "integer" }, "fields": { "type": "object" }, "content_hash": text,
                "entered_by": text, "entered_at": text, "entry_date": { "type": ["string", "null"] } } },
            "events": { "type": "array" }, "attachments": { "type": "array" }, "revisions": { "type": "array" } } },
        "LedgerPage": { "type": "object", "required": ["entries", "next_cursor"], "properties": {
            "entries": { "type": "array", "items": { "$ref": "#/components/schemas/LedgerEntry" } }, "next_cursor": { "type": ["string", "null"] } } }
    })
}

/// Schemas of the log and review endpoints, kept apart so that each `json!` stays small.
fn more_schemas() -> Value {
    let text = json!({ "type": "string" });
    json!({
        "SignRequest": { "type": "object", "additionalProperties": false, "properties": {
            "signature": { "type": "string", "description": "base64 of a detached DER CMS signature over the signed content" },
            "private_key_pem": { "type": "string", "description": "PKCS#8 PEM key, used for this signature only and never stored" },
            "certificate_pem": { "type": "string", "description": "PEM certificate of the key, then its chain" },
            "pkcs12": { "type": "string", "description": "base64 of a PKCS#12 file (.p12/.pfx: PBES2/AES or legacy 3DES/RC2), used for this signature only and never stored" },
            "pkcs12_password": { "type": "string", "description": "the PKCS#12 file's password; never stored or logged" },
            "pkcs11_pin": { "type": "string", "description": "PIN of the facility's seal on the PKCS#11 token configured in [signing]; never stored or logged" } } },
        "NewBreakGlass": { "type": "object", "additionalProperties": false, "required": ["username", "display_name", "role"], "properties": {
            "username": { "type": "string" }, "display_name": { "type": "string" }, "role": { "$ref": "#/components/schemas/Role" } } },
        "Code": { "type": "object", "additionalProperties": false, "required": ["code"], "properties": { "code": { "type": "string", "description": "6-digit TOTP code or a recovery code" } } },
        "MfaPolicy": { "type": "object", "additionalProperties": false, "required": ["mode"], "properties": {
            "mode": { "type": "string", "enum": ["optional", "required", "required_from"] }, "required_from": { "type": ["string", "null"], "format": "date-time" } } },
        "Reason": { "type": "object", "additionalProperties": false, "required": ["reason"], "properties": { "reason": text } },
        "FacilityProfile": { "type": "object", "additionalProperties": false,
            "required": ["facility_class", "facility_name", "people", "external_storage", "effective_date"], "properties": {
            "facility_class": { "enum": ["B", "C"] }, "facility_name": text, "external_storage": { "type": "boolean" },
            "effective_date": { "type": "string", "format": "date" },
            "people": { "type": "object", "additionalProperties": false,
                "required": ["operations_manager", "privacy_officer", "system_administrator", "audit_officer", "information_manager"],
                "properties": { "operations_manager": text, "privacy_officer": text, "system_administrator": text,
                    "audit_officer": text, "information_manager": text } },
            "parameters": { "type": "object", "additionalProperties": text } } },
        "RegulationApproval": { "type": "object", "additionalProperties": false, "required": ["content_hash"], "properties": {
            "content_hash": text, "note": text } },
        "LocationFields": { "type": "object", "additionalProperties": false, "required": ["kind", "name", "place"], "properties": {
            "kind": { "type": "string", "enum": ["paper_archive", "removable_media", "remote_site", "backup_target", "export_media", "other"] },
            "name": text, "place": text, "capacity": text, "retention": text, "backup": text, "response_time": text, "risks": text } },
        "ScanType": { "type": "object", "additionalProperties": false, "required": ["name", "colour", "original"], "properties": {
            "name": text, "min_dpi": { "type": "integer", "default": 300 }, "colour": { "type": "string", "enum": ["colour", "greyscale", "monochrome"] },
            "deadline_days": { "type": "integer", "default": 2, "description": "working days after the paper's date" },
            "original": { "type": "string", "enum": ["keep", "dispose"] }, "keep_years": { "type": "integer" }, "retired": { "type": "boolean" } } },
        "Paper": { "type": "object", "additionalProperties": false, "required": ["type", "paper_date"], "properties": {
            "type": text, "paper_date": { "type": "string", "format": "date" } } },
        "Original": { "type": "object", "additionalProperties": false, "required": ["action"], "properties": {
            "action": { "type": "string", "enum": ["keep", "request_disposal", "dispose"] }, "location": text, "note": text } },
        "SignOff": { "type": "object", "additionalProperties": false, "required": ["from", "to", "report_hash"], "properties": {
            "from": { "type": "string" }, "to": { "type": "string" }, "report_hash": { "type": "string" }, "comment": { "type": "string" } } }
    })
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for Operation { method, path, summary, request, status, response, needs_login: login } in OPERATIONS {
        let mut op = json!({ "summary": summary, "responses": {
            status.to_string(): { "description": "success", "content": { "application/json": { "schema": response.map_or(json!({}), |r| json!({ "$ref": format!("#/components/schemas/{r}") })) } } },
            "default": { "description": "problem", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
        }});
        if let Some(r) = request {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{r}") } } } });
        }
        if !login {
            op["security"] = json!([]);
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "kiroku API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Medical-records vault. Errors are RFC 9457 problem details; every read of patient data is audited." },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": merged(merged(merged(schemas(), more_schemas()), checklist_schemas()), ledger_schemas()),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "security": [{ "bearer": [] }]
    })
}

/// Schemas of the compliance checklist's requests.
fn checklist_schemas() -> Value {
    let text = json!({ "type": "string" });
    json!({
        "ChecklistSignOff": { "type": "object", "additionalProperties": false, "required": ["report_hash"], "properties": {
            "report_hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" }, "comment": text } },
        "Attestation": { "type": "object", "additionalProperties": false, "required": ["item", "status", "reason"], "properties": {
            "item": { "type": "string", "description": "catalogue item (T1-2.4) or MHLW checklist item (M-10)" },
            "status": { "type": "string", "enum": ["satisfied", "partly", "not"] }, "reason": text } }
    })
}

fn merged(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}
