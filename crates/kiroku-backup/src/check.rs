//! Checking a generation without restoring it, and the per-object check that restore shares.

use std::path::Path;

use serde::Serialize;

use crate::crypt::{self, Identity};
use crate::error::{BackupError, Result};
use crate::manifest::{self, Entry, Manifest};
use crate::target::Target;
use crate::{Progress, load_target_info};

/// How a key opens objects: the target's identity, or the passphrase of the keys' copy.
pub enum Opener<'a> {
    Identity(&'a Identity),
    Passphrase(&'a str),
}

/// Checks one stored object: present, unchanged since the manifest (size and SHA-256 as stored),
/// and, with a key, decryptable to exactly the plaintext the manifest names. With `dest`, the
/// plaintext is written there. The error says what is wrong with which object.
pub async fn check_entry(
    target: &dyn Target,
    entry: &Entry,
    scratch: &Path,
    opener: Option<Opener<'_>>,
    dest: Option<&Path>,
) -> Result<()> {
    let bad = |why: String| BackupError::Crypto(format!("{}: {why}", entry.key));
    let path = target.local_copy(&entry.key, scratch).await?.ok_or_else(|| bad("missing".into()))?;
    let changed = |size: u64, sha: [u8; 32]| size != entry.stored_size || hex::encode(sha) != entry.stored_sha256;
    match opener {
        None => {
            let (stored_size, stored_sha) = crypt::stored_digest(&path)?;
            if changed(stored_size, stored_sha) {
                return Err(bad("changed since the backup (its SHA-256 differs from the manifest)".into()));
            }
        }
        Some(opener) => {
            let mut file = match dest {
                Some(d) => Some(std::fs::File::create(d).map_err(|e| BackupError::io(format!("cannot create {}", d.display()), e))?),
                None => None,
            };
            let out = file.as_mut().map(|f| f as &mut dyn std::io::Write);
            // One read hashes the object as stored and decrypts it.
            let read = match opener {
                Opener::Identity(id) => crypt::read_once(&path, out, id)?,
                Opener::Passphrase(p) => crypt::read_once(&path, out, &crypt::passphrase_identity(p))?,
            };
            // A changed object is reported as such, before whatever its decryption then said.
            if changed(read.stored_size, read.stored_sha256) {
                return Err(bad("changed since the backup (its SHA-256 differs from the manifest)".into()));
            }
            let (size, sha) = read.plain.map_err(|e| bad(e.to_string()))?;
            if size != entry.size || hex::encode(sha) != entry.sha256 {
                return Err(bad("decrypts to different content than was backed up".into()));
            }
        }
    }
    if path.starts_with(scratch) {
        std::fs::remove_file(&path).map_err(|e| BackupError::io("cannot remove a downloaded object", e))?;
    }
    Ok(())
}

/// The manifest's signature, as far as it could be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    Valid,
    /// No log key was given to check it with.
    NotChecked,
    Missing,
    Invalid,
}

/// Whether the backup is part of the history the current store holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LogRelation {
    NotChecked,
    /// The current log's first `size` leaves have the backup's root.
    Consistent {
        current_size: u64,
    },
    /// The current log is shorter than the backup's: it may have been restored from an older copy.
    Ahead {
        current_size: u64,
    },
    /// Same size, different root: one of the two histories was rewritten.
    Diverged,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub generation: String,
    pub objects: u64,
    pub bytes: u64,
    pub decrypted: bool,
    pub signature: Signature,
    pub log: LogRelation,
    /// Each problem, naming the object.
    pub findings: Vec<String>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && !matches!(self.signature, Signature::Missing | Signature::Invalid)
    }
}

pub struct CheckOptions<'a> {
    pub identity: Option<&'a Identity>,
    pub verifier: Option<&'a kiroku_log::LogVerifier>,
    /// The running store, to check that the backup belongs to its history.
    pub current: Option<&'a kiroku_store::Store>,
}

/// Reads and parses a generation's manifest.
pub async fn manifest_of(target: &dyn Target, generation: &str) -> Result<(Manifest, Vec<u8>)> {
    let bytes = target
        .get_bytes(&manifest::generation_key(generation, "manifest.json"))
        .await?
        .ok_or_else(|| BackupError::Format(format!("generation {generation} has no manifest: it is incomplete or does not exist")))?;
    Ok((Manifest::parse(&bytes)?, bytes))
}

/// Checks generation `generation` of `target` object by object.
pub async fn check(target: &dyn Target, generation: &str, options: &CheckOptions<'_>, progress: &Progress<'_>) -> Result<CheckReport> {
    load_target_info(target).await?;
    let (m, bytes) = manifest_of(target, generation).await?;
    let mut findings = Vec::new();
    let signature = check_signature(target, generation, &bytes, options.verifier, &mut findings).await?;
    let scratch = tempfile::tempdir().map_err(|e| BackupError::io("cannot create a temporary folder", e))?;
    let entries: Vec<&Entry> = m.files.iter().chain(&m.blobs).collect();
    let total = entries.len() as u64;
    for (i, entry) in entries.iter().enumerate() {
        progress("objects", i as u64, total);
        let opener = match (entry.name.as_str(), options.identity) {
            // The keys' copy has its own passphrase; without it only its stored digest is checked.
            ("keys", _) | (_, None) => None,
            (_, Some(id)) => Some(Opener::Identity(id)),
        };
        if let Err(e) = check_entry(target, entry, scratch.path(), opener, None).await {
            let wrong_key = e.to_string().contains("wrong key");
            findings.push(e.to_string());
            if wrong_key {
                // Every other object would say the same.
                break;
            }
        }
    }
    progress("objects", total, total);
    let log = match options.current {
        Some(store) => relate(store, &m, &mut findings).await?,
        None => LogRelation::NotChecked,
    };
    Ok(CheckReport {
        generation: m.generation.clone(),
        objects: total,
        bytes: m.stored_bytes(),
        decrypted: options.identity.is_some(),
        signature,
        log,
        findings,
    })
}

/// Checks generation `generation`'s manifest against the log key's signature; the error says why not.
pub async fn require_signature(target: &dyn Target, generation: &str, verifier: &kiroku_log::LogVerifier) -> Result<()> {
    let (_, bytes) = manifest_of(target, generation).await?;
    let mut findings = Vec::new();
    match check_signature(target, generation, &bytes, Some(verifier), &mut findings).await? {
        Signature::Valid => Ok(()),
        _ => Err(BackupError::Crypto(findings.join("; "))),
    }
}

async fn check_signature(
    target: &dyn Target,
    generation: &str,
    manifest_bytes: &[u8],
    verifier: Option<&kiroku_log::LogVerifier>,
    findings: &mut Vec<String>,
) -> Result<Signature> {
    let Some(verifier) = verifier else { return Ok(Signature::NotChecked) };
    let Some(note) = target.get_bytes(&manifest::generation_key(generation, "manifest.sig")).await? else {
        findings.push(format!("{}: missing", manifest::generation_key(generation, "manifest.sig")));
        return Ok(Signature::Missing);
    };
    let expected = manifest::note_body(generation, manifest_bytes);
    match String::from_utf8(note).ok().and_then(|n| verifier.open_note(&n).ok()) {
        Some(body) if body == expected => Ok(Signature::Valid),
        _ => {
            findings.push(format!(
                "{}: the manifest does not match its signature by the log key (changed manifest or another key)",
                manifest::generation_key(generation, "manifest.json")
            ));
            Ok(Signature::Invalid)
        }
    }
}

async fn relate(store: &kiroku_store::Store, m: &Manifest, findings: &mut Vec<String>) -> Result<LogRelation> {
    let (current_size, _) = store.tree_head().await?;
    if m.log.size == 0 {
        return Ok(LogRelation::Consistent { current_size });
    }
    if current_size < m.log.size {
        findings.push(format!("the backup's log ({} entries) is longer than the current log ({current_size})", m.log.size));
        return Ok(LogRelation::Ahead { current_size });
    }
    let root = store.root_at(m.log.size).await?;
    if hex::encode(root) == m.log.root {
        Ok(LogRelation::Consistent { current_size })
    } else {
        findings.push(format!("the backup's log root at size {} differs from the current log's: one history was rewritten", m.log.size));
        Ok(LogRelation::Diverged)
    }
}
