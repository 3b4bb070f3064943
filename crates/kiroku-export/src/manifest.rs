//! manifest.json: what the export is (format, time, source, the log head it corresponds to) and the
//! SHA-256 and size of every file in it; and [`verify`], which checks a folder against it.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pages::Meta;
use crate::{ExportError, Result, Summary};

pub const MANIFEST: &str = "manifest.json";
/// The manifest's shape; a reader refuses a major version it does not know.
pub const FORMAT: &str = "kiroku-export/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the export's root, with `/` between folders.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// The log as it stood when the export finished: every exported row is a leaf below `tree_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    pub tree_size: u64,
    /// Hex root hash of the tree of `tree_size` leaves (RFC 9162).
    pub root: String,
    /// The newest signed checkpoint (C2SP signed note) at or below `tree_size`, if any.
    pub checkpoint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub kiroku_version: String,
    /// RFC 3339, UTC.
    pub exported_at: String,
    pub exported_by: String,
    pub source: String,
    /// `all`, or `patient:<ID>`.
    pub selection: String,
    pub patients: u64,
    pub documents: u64,
    pub versions: u64,
    pub attachments: u64,
    pub log: LogHead,
    /// Every file of the export except this manifest, by path.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub fn new(meta: &Meta, log: LogHead, summary: &Summary, files: Vec<FileEntry>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            kiroku_version: meta.version.into(),
            exported_at: meta.exported_at.to_rfc3339(),
            exported_by: meta.operator.clone(),
            source: meta.source.clone(),
            selection: meta.selection_key.clone(),
            patients: summary.patients,
            documents: summary.documents,
            versions: summary.versions,
            attachments: summary.attachments,
            log,
            files,
        }
    }
}

/// One difference between a folder and its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", content = "path", rename_all = "snake_case")]
pub enum Finding {
    Missing(String),
    Changed(String),
    /// A file the manifest does not list (added after the export).
    Unlisted(String),
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Missing(p) => write!(f, "missing: {p}"),
            Finding::Changed(p) => write!(f, "changed: {p}"),
            Finding::Unlisted(p) => write!(f, "not in the manifest: {p}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub manifest: Manifest,
    pub checked: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks every file of the export in `dir` against its manifest: present, same size, same SHA-256;
/// and nothing added beside them.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    if !dir.is_dir() {
        return Err(ExportError::NotAFolder(dir.to_path_buf()));
    }
    let path = dir.join(MANIFEST);
    if !path.exists() {
        let reason = if dir.join(crate::folder::MARKER).exists() {
            "it is missing: the export did not finish".to_string()
        } else {
            "it is missing: this is not a kiroku export".to_string()
        };
        return Err(ExportError::BadManifest { path, reason });
    }
    let text = fs::read_to_string(&path).map_err(|source| ExportError::Read { path: path.clone(), source })?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| ExportError::BadManifest { path: path.clone(), reason: e.to_string() })?;
    if manifest.format.split('/').next() != FORMAT.split('/').next() || manifest.format.split('/').nth(1) != Some("1") {
        return Err(ExportError::BadManifest { path, reason: format!("unknown format {}", manifest.format) });
    }
    let mut findings = Vec::new();
    let mut listed = BTreeSet::new();
    for entry in &manifest.files {
        listed.insert(entry.path.clone());
        let Some(file) = safe_join(dir, &entry.path) else {
            findings.push(Finding::Changed(entry.path.clone()));
            continue;
        };
        match hash_file(&file) {
            Ok(None) => findings.push(Finding::Missing(entry.path.clone())),
            Ok(Some((sha256, size))) if sha256 != entry.sha256 || size != entry.size => findings.push(Finding::Changed(entry.path.clone())),
            Ok(Some(_)) => {}
            Err(source) => return Err(ExportError::Read { path: file, source }),
        }
    }
    for present in walk(dir)? {
        if present != MANIFEST && !listed.contains(&present) {
            findings.push(Finding::Unlisted(present));
        }
    }
    Ok(VerifyReport { checked: manifest.files.len() as u64, manifest, findings })
}

/// `rel` under `dir`, refusing anything that could lead outside it.
fn safe_join(dir: &Path, rel: &str) -> Option<PathBuf> {
    let ok = !rel.is_empty()
        && rel.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\') && !part.contains(':'));
    ok.then(|| rel.split('/').fold(dir.to_path_buf(), |p, part| p.join(part)))
}

/// SHA-256 and size of a file; `None` when it does not exist.
fn hash_file(path: &Path) -> std::io::Result<Option<(String, u64)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Some((hex::encode(hasher.finalize()), size)))
}

/// Every file below `dir`, as `/`-separated relative paths.
fn walk(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        let read_err = |source| ExportError::Read { path: path.clone(), source };
        for entry in fs::read_dir(&path).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if entry.file_type().map_err(read_err)?.is_dir() {
                stack.push((entry.path(), rel));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_cannot_leave_the_folder() {
        let d = Path::new("/x");
        assert_eq!(safe_join(d, "patients/p1.html"), Some(PathBuf::from("/x/patients/p1.html")));
        for bad in ["", "../etc/passwd", "a/../../b", "/etc/passwd", "a//b", "c:\\x", "a\\..\\b"] {
            assert_eq!(safe_join(d, bad), None, "{bad}");
        }
    }
}
