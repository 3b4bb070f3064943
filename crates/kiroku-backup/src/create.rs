//! Making a generation while kiroku keeps running.
//!
//! Order matters for consistency: the log's head is read first, then the database is copied as of
//! one moment (so the copy holds at least those leaves), then the files are listed (a file is
//! stored before the row that names it commits, so every file the copy names is on the list), and
//! the manifest goes last: a generation without one is incomplete and is never restored.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use kiroku_blob::BlobStore;
use kiroku_store::{Backend, Store};
use time::OffsetDateTime;

use crate::crypt::{self, Digests, Recipient};
use crate::error::{BackupError, Result};
use crate::generations::latest_complete;
use crate::manifest::{self, Entry, LogRef, Manifest};
use crate::target::Target;
use crate::{Progress, load_target_info};

/// What is backed up.
pub struct Source<'a> {
    pub store: &'a Store,
    pub backend: &'a Arc<dyn Backend>,
    pub blobs: &'a BlobStore,
    /// `kiroku.toml`, when the data directory has one.
    pub config_file: Option<PathBuf>,
    /// The data directory's `keys/` folder and the passphrase that protects its copy; `None`
    /// leaves the keys out (they are then kept by other means, as the operations manual says).
    pub keys: Option<(PathBuf, String)>,
    /// A private folder for the plaintext database snapshot (the data directory).
    pub work_dir: PathBuf,
    /// Signs the manifest; without it the manifest is unsigned and checks say so.
    pub log_key: Option<&'a kiroku_log::LogKey>,
}

pub struct Options {
    /// Objects are write-once until then, where the target enforces it.
    pub retain_until: Option<OffsetDateTime>,
}

/// Makes one generation on `target` and returns its manifest.
pub async fn create(source: &Source<'_>, target: &dyn Target, options: &Options, progress: &Progress<'_>) -> Result<Manifest> {
    let started = Instant::now();
    let now = OffsetDateTime::now_utc();
    let info = load_target_info(target).await?;
    let recipient = crypt::parse_recipient(&info.recipient)?;
    let generation = manifest::generation_id(now);
    if target.exists(&manifest::generation_key(&generation, "manifest.json")).await? {
        return Err(BackupError::Target(format!("generation {generation} already exists; try again")));
    }
    let (size, root) = source.store.tree_head().await?;
    let checkpoint = source.store.latest_checkpoint().await?.map(|c| c.note);
    let staging = target.staging()?;
    let mut new_bytes = 0u64;
    let mut files = Vec::new();

    progress("database", 0, 1);
    // The plaintext snapshot stays beside the live database (same protection), never on the target.
    let work = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(&source.work_dir)
        .map_err(|e| BackupError::io(format!("cannot create a work folder in {}", source.work_dir.display()), e))?;
    let snapshot = work.path().join("database.db");
    source.backend.snapshot_into(&snapshot).await?;
    let entry = seal_and_put(target, &recipient, staging.path(), "database", &snapshot, &generation, options).await?;
    std::fs::remove_file(&snapshot).map_err(|e| BackupError::io("cannot remove the snapshot", e))?;
    new_bytes += entry.stored_size;
    files.push(entry);
    progress("database", 1, 1);

    if let Some(config) = source.config_file.as_deref().filter(|p| p.is_file()) {
        let entry = seal_and_put(target, &recipient, staging.path(), "config", config, &generation, options).await?;
        new_bytes += entry.stored_size;
        files.push(entry);
    }
    if let Some((dir, passphrase)) = &source.keys {
        let entry = put_keys(target, staging.path(), dir, passphrase, &generation, options).await?;
        new_bytes += entry.stored_size;
        files.push(entry);
    }

    let (blobs, added) = back_up_blobs(source.blobs, target, &recipient, staging.path(), options, progress).await?;
    new_bytes += added;

    let schema_version = source.backend.schema_version().await?;
    let m = Manifest {
        format: manifest::MANIFEST_FORMAT.into(),
        generation: generation.clone(),
        created: manifest::rfc3339(now),
        kiroku_version: env!("CARGO_PKG_VERSION").into(),
        backend: source.backend.kind().into(),
        schema_version,
        recipient: info.recipient,
        log: LogRef { size, root: hex::encode(root), checkpoint },
        files,
        blobs,
        retain_until: options.retain_until.map(manifest::rfc3339),
        duration_ms: started.elapsed().as_millis() as u64,
        new_bytes,
    };
    let bytes = m.to_bytes()?;
    // Every object is durable before the manifest that names them, and the manifest before the answer.
    target.flush().await?;
    if let Some(key) = source.log_key {
        let note = key.sign_note(&manifest::note_body(&generation, &bytes));
        target.put_bytes(&manifest::generation_key(&generation, "manifest.sig"), note.as_bytes(), options.retain_until).await?;
    }
    target.put_bytes(&manifest::generation_key(&generation, "manifest.json"), &bytes, options.retain_until).await?;
    target.flush().await?;
    Ok(m)
}

/// Stores every file of the blob store that the target does not hold yet.
async fn back_up_blobs(
    blobs: &BlobStore,
    target: &dyn Target,
    recipient: &Recipient,
    staging: &Path,
    options: &Options,
    progress: &Progress<'_>,
) -> Result<(Vec<Entry>, u64)> {
    // What the target really holds: a previous manifest's word is taken only for objects still listed.
    let stored: HashSet<String> = target.list("blobs/").await?.into_iter().collect();
    let known: HashMap<String, Entry> = match latest_complete(target).await? {
        Some(previous) => previous.blobs.into_iter().filter(|e| stored.contains(&e.key)).map(|e| (e.name.clone(), e)).collect(),
        None => HashMap::new(),
    };
    let scratch = tempfile::tempdir().map_err(|e| BackupError::io("cannot create a temporary folder", e))?;
    let hashes = blobs.list().map_err(|e| BackupError::Target(format!("cannot list the file store: {e}")))?;
    let total = hashes.len() as u64;
    let mut entries = Vec::with_capacity(hashes.len());
    let mut added = 0u64;
    for (i, hash) in hashes.into_iter().enumerate() {
        progress("files", i as u64, total);
        if let Some(entry) = known.get(&hash) {
            entries.push(keep_locked(target, entry.clone(), options).await?);
            continue;
        }
        let path = blobs.path_of(&hash).map_err(|e| BackupError::Target(format!("file {hash}: {e}")))?;
        let key = manifest::blob_key(&hash);
        if stored.contains(&key) {
            // Left by a run that never finished: adopt it as it is (objects are never overwritten).
            let entry = adopt(target, &key, &hash, &path, scratch.path()).await?;
            entries.push(keep_locked(target, entry, options).await?);
            continue;
        }
        let sealed = staging.join("blob.age");
        let digests = seal_path(&path, &sealed, recipient)?;
        if hex::encode(digests.sha256) != hash {
            // The live file no longer matches its name: fixity's job to report, but never back up damage silently.
            return Err(BackupError::Crypto(format!("file {hash} in the file store does not match its SHA-256; run `kiroku verify`")));
        }
        target.put(&key, &sealed, options.retain_until).await?;
        added += digests.stored_size;
        entries.push(Entry { retain_until: options.retain_until.map(manifest::rfc3339), ..entry_of(hash, key, &digests) });
    }
    progress("files", total, total);
    Ok((entries, added))
}

/// Extends a reused file's write-once retention to this generation's, so that a generation stays
/// whole until its own retention ends (Object Lock only ever lengthens a COMPLIANCE retention).
async fn keep_locked(target: &dyn Target, mut entry: Entry, options: &Options) -> Result<Entry> {
    let Some(until) = options.retain_until else { return Ok(entry) };
    let current =
        entry.retain_until.as_deref().and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    if current.is_none_or(|c| c < until) {
        target.extend_retention(&entry.key, until).await?;
        entry.retain_until = Some(manifest::rfc3339(until));
    }
    Ok(entry)
}

/// The entry of an object already on the target, from its stored digest and the live file's size.
async fn adopt(target: &dyn Target, key: &str, hash: &str, live: &Path, scratch: &Path) -> Result<Entry> {
    let local = target.local_copy(key, scratch).await?.ok_or_else(|| BackupError::Target(format!("{key} vanished from the target")))?;
    let (stored_size, stored_sha256) = crypt::stored_digest(&local)?;
    if local.starts_with(scratch) {
        std::fs::remove_file(&local).map_err(|e| BackupError::io("cannot remove a downloaded object", e))?;
    }
    let size = std::fs::metadata(live).map_err(|e| BackupError::io(format!("cannot read {}", live.display()), e))?.len();
    Ok(Entry {
        name: hash.into(),
        key: key.into(),
        size,
        sha256: hash.into(),
        stored_size,
        stored_sha256: hex::encode(stored_sha256),
        retain_until: None,
    })
}

fn seal_path(src: &Path, dest: &Path, recipient: &Recipient) -> Result<Digests> {
    let mut file = std::fs::File::open(src).map_err(|e| BackupError::io(format!("cannot read {}", src.display()), e))?;
    crypt::seal(&mut file, dest, recipient)
}

async fn seal_and_put(
    target: &dyn Target,
    recipient: &Recipient,
    staging: &Path,
    name: &str,
    src: &Path,
    generation: &str,
    options: &Options,
) -> Result<Entry> {
    let sealed = staging.join(format!("{name}.age"));
    let digests = seal_path(src, &sealed, recipient)?;
    let key = manifest::generation_key(generation, &format!("{name}.age"));
    target.put(&key, &sealed, options.retain_until).await?;
    Ok(entry_of(name.into(), key, &digests))
}

fn entry_of(name: String, key: String, d: &Digests) -> Entry {
    Entry {
        name,
        key,
        size: d.size,
        sha256: hex::encode(d.sha256),
        stored_size: d.stored_size,
        stored_sha256: hex::encode(d.stored_sha256),
        retain_until: None,
    }
}

/// The key files as one JSON object (file name → base64), encrypted with their own passphrase so
/// that the data key and the log key are never in the same hands as the data by default.
async fn put_keys(target: &dyn Target, staging: &Path, dir: &Path, passphrase: &str, generation: &str, options: &Options) -> Result<Entry> {
    use base64::Engine;
    let mut files = serde_json::Map::new();
    let entries = std::fs::read_dir(dir).map_err(|e| BackupError::io(format!("cannot read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BackupError::io(format!("cannot read {}", dir.display()), e))?;
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).map_err(|e| BackupError::io(format!("cannot read {}", entry.path().display()), e))?;
            files.insert(entry.file_name().to_string_lossy().into_owned(), base64::engine::general_purpose::STANDARD.encode(bytes).into());
        }
    }
    let plain = serde_json::to_vec(&files).map_err(|e| BackupError::Format(e.to_string()))?;
    let sealed = staging.join("keys.age");
    let digests = crypt::seal_with_passphrase(&mut plain.as_slice(), &sealed, passphrase)?;
    let key = manifest::generation_key(generation, "keys.age");
    target.put(&key, &sealed, options.retain_until).await?;
    Ok(entry_of("keys".into(), key, &digests))
}
