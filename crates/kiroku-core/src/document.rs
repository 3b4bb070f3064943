//! The document lifecycle: draft → confirmed, proxy entry → approved, amendments as new versions,
//! logical deletion. These rules decide; the store only records what they allow.

use serde::{Deserialize, Serialize};

use crate::hash::ContentHash;
use crate::{DocumentId, DomainError, InfoClass, PatientId, Timestamp, Username};

/// The status of a document (its head) and of each version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    Draft,
    PendingApproval,
    Confirmed,
    Deleted,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Draft => "draft",
            DocumentStatus::PendingApproval => "pending_approval",
            DocumentStatus::Confirmed => "confirmed",
            DocumentStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::PendingApproval, Self::Confirmed, Self::Deleted].into_iter().find(|v| v.as_str() == s)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            DocumentStatus::Draft => "下書き",
            DocumentStatus::PendingApproval => "承認待ち",
            DocumentStatus::Confirmed => "確定",
            DocumentStatus::Deleted => "削除",
        }
    }
}

/// Why a version exists. Versions are never changed after they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionKind {
    /// First content of a document, or a new draft text before confirmation.
    Draft,
    /// Entered by a proxy (代行入力) on behalf of a named clinician, awaiting approval.
    Proxy,
    /// A change after confirmation, confirmed as it is written.
    Amendment,
    /// Logical deletion: the last content with status deleted.
    Deletion,
}

impl VersionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionKind::Draft => "draft",
            VersionKind::Proxy => "proxy",
            VersionKind::Amendment => "amendment",
            VersionKind::Deletion => "deletion",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Proxy, Self::Amendment, Self::Deletion].into_iter().find(|v| v.as_str() == s)
    }
}

/// Everything a version's hash covers: content and the facts of its creation, so that changing the
/// author, the time or the text behind kiroku's back is detected.
#[derive(Debug, Clone, Serialize)]
pub struct VersionContent<'a> {
    pub document_id: &'a DocumentId,
    pub patient_id: &'a PatientId,
    pub version: i64,
    pub kind: VersionKind,
    pub doc_type: &'a str,
    pub title: &'a str,
    pub info_class: InfoClass,
    pub body: &'a serde_json::Value,
    pub entered_by: &'a Username,
    pub on_behalf_of: Option<&'a Username>,
    pub entered_at: Timestamp,
    pub reason: Option<&'a str>,
}

impl VersionContent<'_> {
    pub fn hash(&self) -> ContentHash {
        ContentHash::of_json(self)
    }
}

/// A lifecycle step someone asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    EditDraft,
    Confirm,
    Approve,
    Amend,
    Delete,
}

/// The facts of a document's head that the lifecycle rules need.
#[derive(Debug, Clone, Copy)]
pub struct HeadFacts<'a> {
    pub status: DocumentStatus,
    pub entered_by: &'a Username,
    pub on_behalf_of: Option<&'a Username>,
}

/// A step that the lifecycle does not allow in the document's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the document is {0} and cannot be changed this way")]
    WrongStatus(&'static str),
    #[error("only the author may edit a draft")]
    NotAuthor,
    #[error("only the clinician named for this proxy entry may approve or reject it")]
    NotNamedClinician,
}

/// Decides whether `actor` may take `step` on a document in the state `head`, and the status after it.
/// Role permissions are checked separately by the permission matrix; this is about the record itself.
pub fn next_status(head: HeadFacts<'_>, actor: &Username, step: Step) -> Result<DocumentStatus, LifecycleError> {
    use DocumentStatus::*;
    let wrong = || LifecycleError::WrongStatus(head.status.as_str());
    match (step, head.status) {
        (Step::EditDraft, Draft) if head.entered_by == actor => Ok(Draft),
        (Step::EditDraft, Draft) => Err(LifecycleError::NotAuthor),
        (Step::Confirm, Draft) => Ok(Confirmed),
        (Step::Approve, PendingApproval) | (Step::Delete, PendingApproval) => {
            if head.on_behalf_of == Some(actor) {
                Ok(if step == Step::Approve { Confirmed } else { Deleted })
            } else {
                Err(LifecycleError::NotNamedClinician)
            }
        }
        (Step::Amend, Confirmed) => Ok(Confirmed),
        (Step::Delete, Draft) | (Step::Delete, Confirmed) => Ok(Deleted),
        _ => Err(wrong()),
    }
}

/// Checks a reason given for an amendment or a deletion.
pub fn require_reason(reason: Option<&str>) -> Result<&str, DomainError> {
    match reason.map(str::trim) {
        Some(r) if !r.is_empty() && r.chars().count() <= 1000 => Ok(r),
        Some(r) if !r.is_empty() => Err(DomainError::invalid("reason", "must be at most 1000 characters")),
        _ => Err(DomainError::invalid("reason", "a reason is required for amendments and deletions")),
    }
}

/// Checks a document's type and title and the size of its body.
pub fn validate_document_fields(doc_type: &str, title: &str, body: &serde_json::Value) -> Result<(), DomainError> {
    text_field("type", doc_type, 64)?;
    text_field("title", title, 200)?;
    if body.is_null() {
        return Err(DomainError::invalid("body", "must be text or a JSON object"));
    }
    Ok(())
}

/// A required single-line text field of bounded length.
pub fn text_field(field: &'static str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    let n = value.chars().count();
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if n > max_chars {
        return Err(DomainError::invalid(field, format!("must be at most {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Username {
        Username::parse(s).expect("username")
    }

    #[test]
    fn proxy_entries_are_approved_only_by_the_named_clinician() {
        let clerk = u("clerk1");
        let doc = u("dr.a");
        let other = u("dr.b");
        let head = HeadFacts { status: DocumentStatus::PendingApproval, entered_by: &clerk, on_behalf_of: Some(&doc) };
        assert_eq!(next_status(head, &doc, Step::Approve), Ok(DocumentStatus::Confirmed));
        assert_eq!(next_status(head, &other, Step::Approve), Err(LifecycleError::NotNamedClinician));
        assert!(next_status(head, &doc, Step::Amend).is_err(), "pending entries cannot be amended");
        assert!(next_status(head, &clerk, Step::Confirm).is_err());
    }

    #[test]
    fn confirmed_documents_change_only_by_amendment_or_deletion() {
        let a = u("dr.a");
        let head = HeadFacts { status: DocumentStatus::Confirmed, entered_by: &a, on_behalf_of: None };
        assert!(next_status(head, &a, Step::EditDraft).is_err());
        assert!(next_status(head, &a, Step::Confirm).is_err());
        assert_eq!(next_status(head, &a, Step::Amend), Ok(DocumentStatus::Confirmed));
        assert_eq!(next_status(head, &a, Step::Delete), Ok(DocumentStatus::Deleted));
        let deleted = HeadFacts { status: DocumentStatus::Deleted, ..head };
        for step in [Step::EditDraft, Step::Confirm, Step::Approve, Step::Amend, Step::Delete] {
            assert!(next_status(deleted, &a, step).is_err());
        }
    }

    #[test]
    fn drafts_are_edited_by_their_author_only() {
        let a = u("dr.a");
        let b = u("dr.b");
        let head = HeadFacts { status: DocumentStatus::Draft, entered_by: &a, on_behalf_of: None };
        assert!(next_status(head, &a, Step::EditDraft).is_ok());
        assert_eq!(next_status(head, &b, Step::EditDraft), Err(LifecycleError::NotAuthor));
    }

    #[test]
    fn reasons_are_required_and_bounded() {
        assert!(require_reason(None).is_err());
        assert!(require_reason(Some("  ")).is_err());
        assert_eq!(require_reason(Some(" 誤記訂正 ")), Ok("誤記訂正"));
        assert!(require_reason(Some(&"x".repeat(1001))).is_err());
    }
}

/// Checks an attachment's file name: a plain name, never a path.
pub fn validate_attachment_name(name: &str) -> Result<(), DomainError> {
    text_field("name", name, 255)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." || name.starts_with('.') {
        return Err(DomainError::invalid("name", "must be a plain file name without a path"));
    }
    Ok(())
}

#[cfg(test)]
mod attachment_name_tests {
    use super::validate_attachment_name as check;

    #[test]
    fn attachment_names_cannot_be_paths() {
        assert!(check("検査結果.pdf").is_ok());
        for bad in ["../../etc/passwd", "a/b.pdf", "a\\b.pdf", "..", ".env", "", "a\u{0}b", "x\nname"] {
            assert!(check(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
