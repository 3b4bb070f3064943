//! The backup layer's one error type. Messages name the object and the reason, never a secret.

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A key, passphrase or recipient that cannot be used.
    #[error("{0}")]
    Key(String),
    /// Encrypted data that does not open: wrong key, damaged bytes.
    #[error("{0}")]
    Crypto(String),
    /// The target is not a kiroku backup target, or a generation is not complete.
    #[error("{0}")]
    Format(String),
    /// The target (folder or object store) refused or failed an operation.
    #[error("{0}")]
    Target(String),
    #[error("the store: {0}")]
    Store(#[from] kiroku_store::StoreError),
}

impl BackupError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BackupError::Io { context: context.into(), source }
    }

    /// Whether the disk (or the target) is full, which the CLI reports in plain words.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, BackupError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull)
    }
}

pub type Result<T, E = BackupError> = std::result::Result<T, E>;
