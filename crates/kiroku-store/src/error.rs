//! The store's one error type. The server maps each variant to an HTTP status and a safe message.

use kiroku_core::DomainError;
use kiroku_core::access::Denied;
use kiroku_core::document::LifecycleError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid input: {0}")]
    Invalid(#[from] DomainError),
    #[error("access denied: {0}")]
    Denied(#[from] Denied),
    /// The object does not exist, or the caller may not know that it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("lifecycle: {0}")]
    Lifecycle(#[from] LifecycleError),
    /// The version the caller last saw is no longer the current one (ETag / If-Match).
    #[error("stale version: the document is at version {current}")]
    Stale { current: i64 },
    #[error("authentication failed")]
    Unauthenticated,
    #[error("database error: {0}")]
    Database(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("the writer has stopped")]
    WriterGone,
    /// The backend cannot do this (e.g. a snapshot file of a PostgreSQL database).
    #[error("not supported by this database: {0}")]
    Unsupported(&'static str),
    /// Emergency read-only mode is active: no clinical or account changes until it is left.
    #[error("emergency read-only mode since {}: {}", .0.since.to_rfc3339(), .0.reason)]
    ReadOnly(Box<crate::operations::EmergencyState>),
}

impl StoreError {
    pub fn database(e: impl std::fmt::Display) -> Self {
        StoreError::Database(e.to_string())
    }

    /// Whether a refused command leaves an audit event with outcome `denied` (else `failed`).
    pub fn is_denial(&self) -> bool {
        matches!(self, StoreError::Denied(_) | StoreError::Lifecycle(LifecycleError::NotNamedClinician | LifecycleError::NotAuthor))
    }

    /// Whether the whole batch's transaction is unusable after this error (as opposed to one command's).
    pub fn is_fatal(&self) -> bool {
        // A corrupt record (or log) stops the batch: writing on top of it would hide the damage.
        matches!(self, StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::WriterGone)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
