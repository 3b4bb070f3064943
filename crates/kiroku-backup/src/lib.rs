//! Backups of a kiroku store (T2-3.2, T2-3.3, T2-3.4, T1-8.1).
//!
//! A *target* (a folder, a removable disk, S3-compatible object storage) holds *generations*. Each
//! generation is a consistent copy of the database, the configuration and (optionally, under
//! their own passphrase) the keys, plus the files of the blob store, which are shared between
//! generations because they are content-addressed: every backup after the first only adds new
//! files. Everything is encrypted in the age format; a manifest lists each object's size and
//! SHA-256 before and after encryption and the log's size and root at the backup, and is signed by
//! the log key. A generation can be checked without restoring it (`check`), restored into an empty
//! data directory (`restore`), and pruned by a grandfather-father-son policy (`generations`).
//!
//! The crate knows no database: the caller passes the running [`kiroku_store::Store`] and its
//! backend, and verifies a restored copy with `kiroku verify`'s own code.

pub mod check;
pub mod create;
pub mod crypt;
pub mod error;
pub mod generations;
pub mod manifest;
pub mod restore;
pub mod s3;
pub mod target;

pub use error::{BackupError, Result};
pub use manifest::{Manifest, TargetInfo};
pub use target::{DirTarget, Target};

/// Progress of long work: (stage, done, total).
pub type Progress<'a> = dyn Fn(&'static str, u64, u64) + Send + Sync + 'a;

/// How a new target protects its key.
pub enum Protection<'a> {
    /// A new key, kept on the target wrapped by this passphrase.
    Passphrase(&'a str),
    /// The facility's own key (an age recipient); its identity is kept offline.
    Recipient(&'a str),
}

/// Makes `target` a kiroku backup target. Refuses one that already is.
pub async fn init_target(target: &dyn Target, protection: Protection<'_>) -> Result<TargetInfo> {
    if target.exists(manifest::TARGET_FILE).await? {
        return Err(BackupError::Target(format!("{} is already a kiroku backup target", target.location())));
    }
    let (recipient, identity) = match protection {
        Protection::Passphrase(passphrase) => {
            check_passphrase(passphrase)?;
            let identity = crypt::new_identity();
            target.put_bytes(manifest::IDENTITY_FILE, &crypt::wrap_identity(&identity, passphrase)?, None).await?;
            (identity.to_public().to_string(), Some(manifest::IDENTITY_FILE.to_string()))
        }
        Protection::Recipient(text) => (crypt::parse_recipient(text)?.to_string(), None),
    };
    let info = TargetInfo {
        format: manifest::TARGET_FORMAT.into(),
        created: manifest::rfc3339(time::OffsetDateTime::now_utc()),
        recipient,
        identity,
    };
    let bytes = serde_json::to_vec_pretty(&info).map_err(|e| BackupError::Format(e.to_string()))?;
    target.put_bytes(manifest::TARGET_FILE, &bytes, None).await?;
    target.flush().await?;
    Ok(info)
}

/// A passphrase long enough to resist guessing against a stolen copy (scrypt slows each guess).
pub fn check_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < 16 {
        return Err(BackupError::Key("the backup passphrase must have at least 16 characters".into()));
    }
    Ok(())
}

/// The target's descriptor; an error that says so when the folder is not a backup target.
pub async fn load_target_info(target: &dyn Target) -> Result<TargetInfo> {
    let bytes = target.get_bytes(manifest::TARGET_FILE).await?.ok_or_else(|| {
        BackupError::Format(format!("{} is not a kiroku backup target (run `kiroku backup init` first)", target.location()))
    })?;
    let info: TargetInfo =
        serde_json::from_slice(&bytes).map_err(|e| BackupError::Format(format!("{} is damaged: {e}", manifest::TARGET_FILE)))?;
    if info.format != manifest::TARGET_FORMAT {
        return Err(BackupError::Format(format!("target format {} is not supported", info.format)));
    }
    Ok(info)
}

/// The key that opens the target's objects: from the passphrase (the target keeps the wrapped
/// key) or from an age identity file the facility keeps.
pub async fn unlock(target: &dyn Target, passphrase: Option<&str>, identity_file: Option<&str>) -> Result<crypt::Identity> {
    let info = load_target_info(target).await?;
    let identity = match (passphrase, identity_file) {
        (_, Some(text)) => crypt::parse_identity(text)?,
        (Some(passphrase), None) => {
            let name = info
                .identity
                .as_deref()
                .ok_or_else(|| BackupError::Key("this target keeps no key of its own: give the identity file (--identity-file)".into()))?;
            let wrapped = target.get_bytes(name).await?.ok_or_else(|| BackupError::Format(format!("{name} is missing on the target")))?;
            crypt::unwrap_identity(&wrapped, passphrase)?
        }
        (None, None) => return Err(BackupError::Key("a passphrase or an identity file is needed to open the backup".into())),
    };
    if identity.to_public().to_string() != info.recipient {
        return Err(BackupError::Key("the key does not open this backup (wrong key or passphrase)".into()));
    }
    Ok(identity)
}
