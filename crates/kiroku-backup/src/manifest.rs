//! What a target holds and how a generation describes itself.
//!
//! ```text
//! kiroku-backup.json                 the target: format, recipient, where the wrapped key is
//! identity.age                       the target's private key wrapped by a passphrase (optional)
//! blobs/ab/<sha256>.age              files, shared by all generations (content addressing makes
//!                                    every backup after the first incremental)
//! generations/<id>/database.age      a consistent snapshot of the database
//! generations/<id>/config.age        kiroku.toml
//! generations/<id>/keys.age          the data directory's keys, under their own passphrase (optional)
//! generations/<id>/manifest.json     every object with its size and SHA-256 before and after
//!                                    encryption, and the log's size and root at the backup; written last
//! generations/<id>/manifest.sig      a signed note by the log key over the manifest's SHA-256
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{BackupError, Result};

pub const TARGET_FILE: &str = "kiroku-backup.json";
pub const IDENTITY_FILE: &str = "identity.age";
pub const TARGET_FORMAT: &str = "kiroku-backup-target/1";
pub const MANIFEST_FORMAT: &str = "kiroku-backup/1";
const NOTE_HEADER: &str = "kiroku-backup-manifest v1";

/// The target's descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetInfo {
    pub format: String,
    pub created: String,
    /// Every object is encrypted to this age X25519 recipient.
    pub recipient: String,
    /// The key wrapped by a passphrase, if the target keeps it; else the facility holds it.
    pub identity: Option<String>,
}

/// One stored object of a generation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// `database`, `config`, `keys`, or a file's SHA-256.
    pub name: String,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub stored_size: u64,
    pub stored_sha256: String,
    /// Write-once until then (RFC 3339), on targets that enforce it. A file shared by several
    /// generations is kept locked as long as the newest of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<String>,
}

/// The log as it stood when the backup began. The snapshot holds at least these leaves, and its
/// first `size` leaves have this root.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogRef {
    pub size: u64,
    pub root: String,
    /// The newest signed checkpoint then (C2SP signed note), if there was one.
    pub checkpoint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub generation: String,
    pub created: String,
    pub kiroku_version: String,
    pub backend: String,
    pub schema_version: i64,
    pub recipient: String,
    pub log: LogRef,
    pub files: Vec<Entry>,
    pub blobs: Vec<Entry>,
    /// Write-once until then, on targets that enforce it.
    pub retain_until: Option<String>,
    pub duration_ms: u64,
    /// Bytes this generation added to the target (the rest was already there).
    pub new_bytes: u64,
}

impl Manifest {
    pub fn created_at(&self) -> Result<OffsetDateTime> {
        OffsetDateTime::parse(&self.created, &Rfc3339).map_err(|_| BackupError::Format(format!("{}: bad creation time", self.generation)))
    }

    pub fn stored_bytes(&self) -> u64 {
        self.files.iter().chain(&self.blobs).map(|e| e.stored_size).sum()
    }

    pub fn file(&self, name: &str) -> Option<&Entry> {
        self.files.iter().find(|e| e.name == name)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| BackupError::Format(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| BackupError::Format(format!("manifest.json is not a kiroku manifest: {e}")))?;
        if m.format != MANIFEST_FORMAT {
            return Err(BackupError::Format(format!(
                "manifest format {} is not supported (this kiroku reads {MANIFEST_FORMAT})",
                m.format
            )));
        }
        Ok(m)
    }
}

/// The body of the signed note that binds a manifest's exact bytes to the log key.
pub fn note_body(generation: &str, manifest_bytes: &[u8]) -> String {
    format!("{NOTE_HEADER}\n{generation}\n{}\n", hex::encode(Sha256::digest(manifest_bytes)))
}

pub fn generation_prefix(generation: &str) -> String {
    format!("generations/{generation}/")
}

pub fn generation_key(generation: &str, name: &str) -> String {
    format!("generations/{generation}/{name}")
}

pub fn blob_key(hash: &str) -> String {
    format!("blobs/{}/{hash}.age", &hash[..2.min(hash.len())])
}

/// A generation's name: its UTC start time to the millisecond, so names sort by time.
pub fn generation_id(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_note_is_not_a_checkpoint() {
        let a = generation_id(time::macros::datetime!(2026-11-25 09:05:07.123 UTC));
        let b = generation_id(time::macros::datetime!(2026-11-25 10:00:00 UTC));
        assert_eq!(a, "20261125T090507.123Z");
        assert!(a < b);
        let key = kiroku_log::LogKey::from_seed("kiroku.local/test", [3u8; 32]);
        let note = key.sign_note(&note_body(&a, b"{}"));
        assert!(key.verifier().verify(&note).is_err(), "a manifest note must never pass as a checkpoint");
        assert_eq!(key.verifier().open_note(&note).expect("opens"), note_body(&a, b"{}"));
        assert_eq!(blob_key("abcdef"), "blobs/ab/abcdef.age");
    }
}
