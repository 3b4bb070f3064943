//! The one table from kiroku's audit actions to the standard codes both exports use: DICOM (DCM)
//! event IDs and type codes, FHIR's "rest" type with its RESTful interactions (IHE BALP), and the
//! C/R/U/D/E action code. Kept in one place so the FHIR and the syslog forms never disagree.

use kiroku_core::AuditAction;

/// DICOM Controlled Terminology (PS3.16), the code system of IHE ATNA event IDs.
pub const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
/// FHIR's audit event types; BALP records operations on resources as `rest`.
pub const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
/// FHIR's RESTful interactions, the BALP subtype of a `rest` event.
pub const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
/// kiroku's own action names, carried as an extra subtype so that nothing is lost in the mapping.
pub const KIROKU_ACTION: &str = "urn:kiroku:audit-action";

/// A coded value: system, code and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

const fn dcm(code: &'static str, display: &'static str) -> Code {
    Code { system: DCM, code, display }
}

const fn rest(code: &'static str, display: &'static str) -> Code {
    Code { system: RESTFUL_INTERACTION, code, display }
}

const REST: Code = Code { system: AUDIT_EVENT_TYPE, code: "rest", display: "RESTful Operation" };
const PATIENT_RECORD: Code = dcm("110110", "Patient Record");
const QUERY: Code = dcm("110112", "Query");
const USER_AUTHENTICATION: Code = dcm("110114", "User Authentication");
const SECURITY_ALERT: Code = dcm("110113", "Security Alert");
const USER_SECURITY_ATTRIBUTES: Code = dcm("110137", "User Security Attributes Changed");

/// The standard codes of one audit action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCodes {
    /// DICOM EventID (PS3.15 A.5.3), always a DCM code.
    pub dicom_event: Code,
    /// DICOM EventTypeCode, where DICOM defines one for the event.
    pub dicom_type: Option<Code>,
    /// FHIR AuditEvent.type: `rest` for operations on records (BALP), else the DICOM EventID.
    pub fhir_type: Code,
    /// FHIR AuditEvent.subtype besides kiroku's own action code.
    pub fhir_subtype: Option<Code>,
    /// C(reate), R(ead), U(pdate), D(elete) or E(xecute), shared by FHIR and DICOM.
    pub action: &'static str,
}

/// An operation on a record (BALP `rest`); DICOM calls it a Patient Record event, or a Query for searches.
const fn on_record(interaction: Code, action: &'static str) -> EventCodes {
    let dicom_event = if matches!(action.as_bytes(), b"E") { QUERY } else { PATIENT_RECORD };
    EventCodes { dicom_event, dicom_type: None, fhir_type: REST, fhir_subtype: Some(interaction), action }
}

/// A DICOM-typed security event, the same in both forms.
const fn security(event: Code, kind: Option<Code>, action: &'static str) -> EventCodes {
    EventCodes { dicom_event: event, dicom_type: kind, fhir_type: event, fhir_subtype: kind, action }
}

/// The codes of `action`.
pub fn codes_of(action: AuditAction) -> EventCodes {
    use AuditAction as A;
    let create = rest("create", "create");
    let read = rest("read", "read");
    let vread = rest("vread", "vread");
    let update = rest("update", "update");
    let search = rest("search-type", "search type");
    match action {
        A::Login | A::LoginFailed => security(USER_AUTHENTICATION, Some(dcm("110122", "Login")), "E"),
        A::Logout => security(USER_AUTHENTICATION, Some(dcm("110123", "Logout")), "E"),
        // A lockout and account changes alter a user's security attributes (DICOM Security Alert).
        A::Lockout | A::PasswordChange | A::UserCreate | A::UserUpdate | A::UserDisable | A::UserUnlock => {
            security(SECURITY_ALERT, Some(USER_SECURITY_ATTRIBUTES), "E")
        }
        // Second factors and sessions are a user's security attributes; a refusal by source
        // network is a security alert of its own (DICOM 110127 Emergency Override is not it).
        A::SecondFactorEnrol | A::SecondFactorRemove | A::SessionRevoke => security(SECURITY_ALERT, Some(USER_SECURITY_ATTRIBUTES), "E"),
        A::BreakGlassUse => security(SECURITY_ALERT, Some(dcm("110127", "Emergency Override Started")), "E"),
        A::BreakGlassReseal => security(SECURITY_ALERT, Some(dcm("110138", "Emergency Override Stopped")), "E"),
        A::MfaPolicyChange => security(SECURITY_ALERT, Some(dcm("110136", "Security Roles Changed")), "E"),
        A::SessionList => security(SECURITY_ALERT, None, "R"),
        A::AccessRefused => security(SECURITY_ALERT, Some(dcm("110126", "Node Authentication")), "E"),
        A::RoleChange => security(SECURITY_ALERT, Some(dcm("110136", "Security Roles Changed")), "E"),
        A::AuditQuery => security(dcm("110101", "Audit Log Used"), None, "R"),
        A::AuditExport => security(dcm("110106", "Export"), None, "R"),
        A::UserList | A::PatientSearch | A::DocumentList | A::ApprovalQueue => on_record(search, "E"),
        A::RoleRead => EventCodes { dicom_event: QUERY, ..on_record(read, "R") },
        A::PatientCreate | A::DocumentCreate | A::AttachmentAdd => on_record(create, "C"),
        A::PatientRead | A::DocumentRead | A::AttachmentRead => on_record(read, "R"),
        A::VersionRead => on_record(vread, "R"),
        A::VersionList => on_record(rest("history-instance", "history instance"), "R"),
        A::DocumentUpdate | A::DocumentConfirm | A::DocumentApprove | A::DocumentAmend => on_record(update, "U"),
        A::DocumentDelete => on_record(rest("delete", "delete"), "D"),
        A::AuditReview => security(dcm("110101", "Audit Log Used"), None, "R"),
        A::AuditReviewSignoff => security(dcm("110101", "Audit Log Used"), None, "E"),
        // A scheduled integrity check is kiroku's own activity, not a person's.
        A::FixityCheck => security(dcm("110100", "Application Activity"), None, "E"),
        // Backups and restores copy or replace the whole store: DICOM's Export/Import and activity.
        A::Backup => security(dcm("110106", "Export"), None, "R"),
        A::BackupVerify | A::RestoreDrill => security(dcm("110100", "Application Activity"), None, "E"),
        A::Restore => security(dcm("110107", "Import"), None, "C"),
        // The offline-readable copy of patients' records leaves the system: an export of patient data.
        A::RecordExport => EventCodes { dicom_event: dcm("110106", "Export"), ..on_record(read, "R") },
        // Timestamps are kiroku's own activity over hashes; a signature changes what a version carries.
        A::TimestampAdd | A::TimestampRenew => security(dcm("110100", "Application Activity"), None, "E"),
        A::SignatureAdd => on_record(update, "U"),
        // Read-only mode changes what the application does, for everyone: an application activity.
        A::EmergencyModeEnter | A::EmergencyModeLeave => security(dcm("110100", "Application Activity"), None, "E"),
        // The register names where records are kept, not records: reading and editing it is
        // application configuration, like the permission matrix.
        A::LocationRegisterRead => EventCodes { dicom_event: QUERY, ..on_record(read, "R") },
        A::LocationRegisterChange => security(dcm("110100", "Application Activity"), None, "U"),
        // Work orders, API tokens, factor resets and leavers change who may act and how: a user's
        // security attributes; reading the check-off list or the access review is using the trail.
        A::WorkOrderCreate | A::ApiTokenCreate | A::ApiTokenRevoke | A::UserLeft => {
            security(SECURITY_ALERT, Some(USER_SECURITY_ATTRIBUTES), "E")
        }
        A::FactorResetIssue | A::FactorResetApprove | A::FactorResetUse => security(SECURITY_ALERT, Some(USER_SECURITY_ATTRIBUTES), "E"),
        A::WorkOrderRead | A::AccessReview => security(dcm("110101", "Audit Log Used"), None, "R"),
        A::WorkOrderSignoff | A::AccessReviewSignoff => security(dcm("110101", "Audit Log Used"), None, "E"),
        A::ApiTokenList => security(SECURITY_ALERT, None, "R"),
        // The compliance checklist's sign-off and attestations are statements about the system,
        // like an audit review's sign-off.
        A::ChecklistSignoff | A::ChecklistAttest => security(dcm("110101", "Audit Log Used"), None, "E"),
        A::GovernanceRead => EventCodes { dicom_event: QUERY, ..on_record(read, "R") },
        A::GovernanceProfileChange | A::RegulationApprove => security(dcm("110100", "Application Activity"), None, "U"),
        A::RegulationGenerate => security(dcm("110100", "Application Activity"), None, "C"),
        // Scanning: a scan type's rule is configuration; receiving paper, adding a scan and the
        // originals register are changes to a patient's record; the register is a search.
        A::ScanTypeChange => security(dcm("110100", "Application Activity"), None, "U"),
        A::ScanPaperReceive | A::ScanAdd => on_record(create, "C"),
        A::ScanOriginalKeep | A::ScanOriginalDispose | A::ScanOriginalDisposeRequest => on_record(update, "U"),
        A::ScanRegisterRead => on_record(search, "E"),
        // Ledgers (台帳) are the facility's operational records, not patient records: like the
        // location register, reading them is a query and writing them an application activity.
        A::LedgerRead | A::LedgerAttachmentRead => EventCodes { dicom_event: QUERY, ..on_record(read, "R") },
        A::LedgerCreate | A::LedgerAttachmentAdd => security(dcm("110100", "Application Activity"), None, "C"),
        A::LedgerRevise | A::LedgerApprove | A::LedgerEvent => security(dcm("110100", "Application Activity"), None, "U"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_valid_action_code_and_dcm_event() {
        for a in AuditAction::ALL {
            let c = codes_of(*a);
            assert!(["C", "R", "U", "D", "E"].contains(&c.action), "{a:?}");
            assert_eq!(c.dicom_event.system, DCM, "{a:?}");
            assert!(c.dicom_event.code.len() == 6 && c.dicom_event.code.bytes().all(|b| b.is_ascii_digit()), "{a:?}");
        }
    }

    #[test]
    fn reads_and_changes_of_records_are_balp_rest_events() {
        let c = codes_of(AuditAction::DocumentRead);
        assert_eq!((c.fhir_type.code, c.fhir_subtype.map(|s| s.code), c.action, c.dicom_event.code), ("rest", Some("read"), "R", "110110"));
        let c = codes_of(AuditAction::PatientSearch);
        assert_eq!((c.fhir_subtype.map(|s| s.code), c.action, c.dicom_event.code), (Some("search-type"), "E", "110112"));
        let c = codes_of(AuditAction::DocumentDelete);
        assert_eq!((c.fhir_subtype.map(|s| s.code), c.action), (Some("delete"), "D"));
        let c = codes_of(AuditAction::Logout);
        assert_eq!((c.fhir_type.code, c.dicom_type.map(|t| t.code)), ("110114", Some("110123")));
    }
}
