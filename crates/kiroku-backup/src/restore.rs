//! Restoring a generation into an empty data directory. Every object is checked on the way (as
//! `check` does); the database is then opened and verified by the caller (`kiroku verify`).

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Serialize;

use crate::check::{Opener, check_entry, manifest_of};
use crate::crypt::Identity;
use crate::error::{BackupError, Result};
use crate::manifest::Manifest;
use crate::target::Target;
use crate::{Progress, load_target_info};

/// The database file name in a data directory (the SQLite backend's).
pub const DATABASE_FILE: &str = "kiroku.db";
/// Where a PostgreSQL generation's `pg_dump` archive is put in the restored folder, for the caller
/// to load into an empty database and then remove (it is the plaintext database).
pub const POSTGRES_DUMP_FILE: &str = "database.pgdump";

/// The file the database object of a generation made on `backend` is restored to.
pub fn database_file(backend: &str) -> Result<&'static str> {
    match backend {
        "sqlite" => Ok(DATABASE_FILE),
        "postgres" => Ok(POSTGRES_DUMP_FILE),
        other => Err(BackupError::Format(format!("the backup is of an unknown kind of database ({other})"))),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub generation: String,
    pub into: PathBuf,
    pub files: u64,
    pub bytes: u64,
    pub keys_restored: bool,
    pub manifest: Manifest,
}

/// Restores `generation` into `into`, which must be empty or absent. Keys are restored only when
/// the generation holds them and `keys_passphrase` is given.
pub async fn restore(
    target: &dyn Target,
    generation: &str,
    identity: &Identity,
    keys_passphrase: Option<&str>,
    into: &Path,
    progress: &Progress<'_>,
) -> Result<RestoreReport> {
    load_target_info(target).await?;
    let (m, _) = manifest_of(target, generation).await?;
    check_entries(&m)?;
    prepare_empty(into)?;
    let result = restore_objects(target, &m, identity, keys_passphrase, into, progress).await;
    if result.is_err() {
        // The folder was empty before: leave it so, and a retry can start over.
        let _ = std::fs::remove_dir_all(into);
    }
    let (files, keys_restored) = result?;
    Ok(RestoreReport {
        generation: m.generation.clone(),
        into: into.to_path_buf(),
        files,
        bytes: m.files.iter().chain(&m.blobs).map(|e| e.size).sum(),
        keys_restored,
        manifest: m,
    })
}

/// A manifest names what it should: one database, files whose names are their SHA-256 under the
/// key that name gives, nothing else.
fn check_entries(m: &Manifest) -> Result<()> {
    database_file(&m.backend)?;
    let databases = m.files.iter().filter(|e| e.name == "database").count();
    if databases != 1 {
        return Err(BackupError::Format(format!("generation {} names {databases} databases; a backup has exactly one", m.generation)));
    }
    for e in &m.blobs {
        let is_hash = e.name.len() == 64 && e.name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !is_hash || e.sha256 != e.name || e.key != crate::manifest::blob_key(&e.name) {
            return Err(BackupError::Format(format!("generation {}: the entry {} is not a file of the blob store", m.generation, e.key)));
        }
    }
    Ok(())
}

async fn restore_objects(
    target: &dyn Target,
    m: &Manifest,
    identity: &Identity,
    keys_passphrase: Option<&str>,
    into: &Path,
    progress: &Progress<'_>,
) -> Result<(u64, bool)> {
    let database = database_file(&m.backend)?;
    let scratch = tempfile::tempdir().map_err(|e| BackupError::io("cannot create a temporary folder", e))?;
    let mut keys_restored = false;
    for entry in &m.files {
        match entry.name.as_str() {
            "database" => check_entry(target, entry, scratch.path(), Some(Opener::Identity(identity)), Some(&into.join(database))).await?,
            "config" => {
                check_entry(target, entry, scratch.path(), Some(Opener::Identity(identity)), Some(&into.join("kiroku.toml"))).await?
            }
            "keys" => {
                if let Some(passphrase) = keys_passphrase {
                    let plain = scratch.path().join("keys.json");
                    check_entry(target, entry, scratch.path(), Some(Opener::Passphrase(passphrase)), Some(&plain)).await?;
                    write_keys(&plain, &into.join("keys"))?;
                    std::fs::remove_file(&plain).map_err(|e| BackupError::io("cannot remove a temporary file", e))?;
                    keys_restored = true;
                }
            }
            other => return Err(BackupError::Format(format!("unknown object {other} in the manifest"))),
        }
    }
    let blobs =
        kiroku_blob::BlobStore::open(into.join("blobs")).map_err(|e| BackupError::Target(format!("cannot create the file store: {e}")))?;
    let total = m.blobs.len() as u64;
    for (i, entry) in m.blobs.iter().enumerate() {
        progress("files", i as u64, total);
        let dest = blobs.path_of(&entry.name).map_err(|e| BackupError::Format(format!("{}: {e}", entry.key)))?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| BackupError::io(format!("cannot create {}", parent.display()), e))?;
        }
        check_entry(target, entry, scratch.path(), Some(Opener::Identity(identity)), Some(&dest)).await?;
    }
    progress("files", total, total);
    crate::target::sync_filesystem(into)?;
    Ok((total, keys_restored))
}

fn prepare_empty(into: &Path) -> Result<()> {
    if into.exists() {
        let mut entries = std::fs::read_dir(into).map_err(|e| BackupError::io(format!("cannot read {}", into.display()), e))?;
        if entries.next().is_some() {
            return Err(BackupError::Target(format!("{} is not empty; restore only into an empty folder", into.display())));
        }
    }
    std::fs::create_dir_all(into).map_err(|e| BackupError::io(format!("cannot create {}", into.display()), e))?;
    restrict(into, 0o700)
}

fn write_keys(json: &Path, dir: &Path) -> Result<()> {
    let bytes = std::fs::read(json).map_err(|e| BackupError::io("cannot read the keys' copy", e))?;
    let files: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| BackupError::Format("the keys' copy is not readable".into()))?;
    std::fs::create_dir_all(dir).map_err(|e| BackupError::io(format!("cannot create {}", dir.display()), e))?;
    restrict(dir, 0o700)?;
    for (name, content) in files {
        if name.contains('/') || name.starts_with('.') {
            return Err(BackupError::Format(format!("the keys' copy names an invalid file {name:?}")));
        }
        let bytes = content
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or_else(|| BackupError::Format(format!("the keys' copy of {name} is not readable")))?;
        let path = dir.join(&name);
        crate::target::write_synced(&path, &bytes)?;
        restrict(&path, 0o600)?;
    }
    Ok(())
}

fn restrict(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| BackupError::io(format!("cannot restrict {}", path.display()), e))?;
    }
    let _ = mode;
    Ok(())
}
