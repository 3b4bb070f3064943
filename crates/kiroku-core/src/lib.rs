//! Domain types and rules of kiroku: who may do what, what a document's lifecycle allows, how content
//! is hashed. Nothing here does IO; storage, server and CLI build on these types.

pub mod access;
pub mod audit;
pub mod document;
pub mod hash;
pub mod identity;
pub mod ids;
pub mod ledgers;
pub mod maintenance;
pub mod patient;
pub mod scan;
pub mod time;

pub use access::{InfoClass, Permission, PermissionMatrix, Role, Scope};
pub use audit::{AuditAction, AuditEvent, Outcome};
pub use document::{DocumentStatus, VersionKind};
pub use hash::ContentHash;
pub use ids::{DocumentId, PatientId, Username};
pub use time::Timestamp;

/// A rule of the domain was broken by the input; the message is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid { field, reason: reason.into() }
    }
}
