//! The export folder: refusing a folder that is not ours, writing every file with its hash, copying
//! attached files by content, and finishing with SHA256SUMS and the manifest.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kiroku_blob::{BlobError, BlobStore};
use kiroku_store::{AttachmentRecord, PatientRecord};
use sha2::{Digest, Sha256};

use crate::manifest::{self, FileEntry, LogHead, MANIFEST};
use crate::pages::{self, IndexRow, Meta};
use crate::{ExportError, Result, Summary};

/// Present while an export is being written; a folder that has it did not finish.
pub const MARKER: &str = "EXPORT-INCOMPLETE.txt";
pub const SUMS: &str = "SHA256SUMS";
/// Everything an export puts at the top of its folder; `--force` removes these and nothing else.
const PARTS: &[&str] = &["index.html", "style.css", "patients", "data", "files", "evidence", SUMS, MANIFEST, MARKER];
const STYLE: &str = include_str!("../static/style.css");
const MARKER_TEXT: &str = "この見読用出力は完了していません（書き込み中か、途中で止まりました）。\n\
    もう一度 kiroku export を実行してください。\n\
    This kiroku export did not finish (it is being written, or it stopped). Run kiroku export again.\n";

/// What happened to one attached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Copied to this path, relative to the export's root.
    Copied(String),
    /// Not in the file store.
    Missing,
    /// In the file store, but its bytes no longer have the recorded hash: not copied.
    Altered,
}

/// The result of writing one patient.
pub struct Written {
    pub row: IndexRow,
    pub versions: u64,
    pub attachments: u64,
    pub file_problems: Vec<String>,
}

#[derive(Debug)]
pub struct Output {
    root: PathBuf,
    blobs: BlobStore,
    entries: Vec<FileEntry>,
    /// Files already copied in this export, by their name under `files/`.
    copied: HashMap<String, FileState>,
    bytes: u64,
}

impl Output {
    /// Makes `out` ready: created, or empty, or (with `force`) a previous kiroku export emptied.
    pub fn prepare(out: &Path, force: bool, blobs: BlobStore) -> Result<Output> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ExportError::Write { path, source }
        };
        if out.exists() {
            if !out.is_dir() {
                return Err(ExportError::NotAFolder(out.to_path_buf()));
            }
            let present = top_level(out)?;
            if !present.is_empty() {
                if !force {
                    return Err(ExportError::NotEmpty(out.to_path_buf()));
                }
                let ours = present.iter().any(|e| e == MANIFEST || e == MARKER);
                if let Some(stranger) = present.iter().find(|e| !PARTS.contains(&e.as_str())).or(present.first().filter(|_| !ours)) {
                    return Err(ExportError::NotAnExport { path: out.to_path_buf(), entry: stranger.clone() });
                }
                // The marker goes in first, so that a replacement stopped half-way is recognisable too.
                fs::write(out.join(MARKER), MARKER_TEXT).map_err(write_err(out))?;
                for entry in present.iter().filter(|e| e.as_str() != MARKER) {
                    let path = out.join(entry);
                    let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                    removed.map_err(write_err(&path))?;
                }
            }
        } else {
            fs::create_dir_all(out).map_err(write_err(out))?;
        }
        fs::write(out.join(MARKER), MARKER_TEXT).map_err(write_err(out))?;
        for dir in ["patients", "data", "files", "evidence"] {
            fs::create_dir_all(out.join(dir)).map_err(write_err(&out.join(dir)))?;
        }
        Ok(Output { root: out.to_path_buf(), blobs, entries: Vec::new(), copied: HashMap::new(), bytes: 0 })
    }

    /// Files written so far and their bytes.
    pub fn totals(&self) -> (u64, u64) {
        (self.entries.len() as u64, self.bytes)
    }

    /// Writes one patient's page and JSON copy, copying their attached files first.
    pub fn write_patient(&mut self, record: &PatientRecord, meta: &Meta) -> Result<Written> {
        let mut files = HashMap::new();
        let mut file_problems = Vec::new();
        for document in &record.documents {
            for att in &document.attachments {
                let state = self.copy_attachment(att)?;
                match state {
                    FileState::Missing => file_problems.push(format!("{}/{}: missing from the file store", att.document_id, att.name)),
                    FileState::Altered => file_problems.push(format!("{}/{}: altered in the file store", att.document_id, att.name)),
                    FileState::Copied(_) => {}
                }
                files.insert(att.id.clone(), state);
            }
        }
        let proofs = self.write_evidence(record, &files)?;
        let stem = pages::stem(&record.patient.patient_id);
        let page = pages::patient_page(record, &files, &proofs, meta)?;
        self.write(&format!("patients/{stem}.html"), page.as_bytes())?;
        let json = crate::data::patient_json(record, &files, meta)?;
        self.write(&format!("data/{stem}.json"), json.as_bytes())?;
        Ok(Written {
            row: IndexRow::of(record, &stem),
            versions: record.documents.iter().map(|d| d.versions.len() as u64).sum(),
            attachments: record.documents.iter().map(|d| d.attachments.len() as u64).sum(),
            file_problems,
        })
    }

    /// Writes the index, the stylesheet, SHA256SUMS and last the manifest; then the folder is finished.
    pub fn finish(&mut self, index: &[IndexRow], meta: &Meta, log: LogHead, summary: &Summary) -> Result<()> {
        self.write("style.css", STYLE.as_bytes())?;
        let page = pages::index_page(index, meta, &log, summary)?;
        self.write("index.html", page.as_bytes())?;
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let sums: String = self.entries.iter().map(|e| format!("{}  {}\n", e.sha256, e.path)).collect();
        self.write(SUMS, sums.as_bytes())?;
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = manifest::Manifest::new(meta, log, summary, self.entries.clone());
        let text =
            serde_json::to_string_pretty(&manifest).map_err(|e| ExportError::Render { what: MANIFEST.into(), reason: e.to_string() })?;
        // Written aside and renamed: manifest.json is either absent or whole.
        let part = self.root.join(format!(".{MANIFEST}.part"));
        write_synced(&part, text.as_bytes())?;
        let path = self.root.join(MANIFEST);
        fs::rename(&part, &path).map_err(|source| ExportError::Write { path: path.clone(), source })?;
        let marker = self.root.join(MARKER);
        fs::remove_file(&marker).map_err(|source| ExportError::Write { path: marker, source })?;
        File::open(&self.root).and_then(|d| d.sync_all()).map_err(|source| ExportError::Write { path: self.root.clone(), source })
    }

    /// Writes the signature (.p7s, DER CMS) and timestamp token (.tsr, DER) files of the record's
    /// files and versions next to them, each listed in the manifest; answers the links per object.
    fn write_evidence(&mut self, record: &PatientRecord, files: &HashMap<String, FileState>) -> Result<crate::evidence::Proofs> {
        let plan = crate::evidence::plan(record, files);
        let mut proofs = crate::evidence::Proofs::new();
        for item in plan {
            self.write(&item.rel, &item.bytes)?;
            proofs.entry(item.key).or_default().push(crate::evidence::Proof { label: item.label, href: format!("../{}", item.rel) });
        }
        Ok(proofs)
    }

    fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        let path = self.root.join(rel);
        fs::write(&path, bytes).map_err(|source| ExportError::Write { path, source })?;
        self.record(rel, hex::encode(Sha256::digest(bytes)), bytes.len() as u64);
        Ok(())
    }

    fn record(&mut self, rel: &str, sha256: String, size: u64) {
        self.bytes += size;
        self.entries.push(FileEntry { path: rel.to_string(), sha256, size });
    }

    /// Copies an attached file once per export under its content's name, checking its hash on the way.
    fn copy_attachment(&mut self, att: &AttachmentRecord) -> Result<FileState> {
        let name = file_name(&att.blob_hash, &att.name);
        if let Some(state) = self.copied.get(&name) {
            return Ok(state.clone());
        }
        let state = self.copy_blob(&att.blob_hash, &name)?;
        self.copied.insert(name, state.clone());
        Ok(state)
    }

    fn copy_blob(&mut self, hash: &str, name: &str) -> Result<FileState> {
        let mut source = match self.blobs.open_blob(hash) {
            Ok(file) => file,
            Err(BlobError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Missing),
            Err(BlobError::BadHash(_)) => return Ok(FileState::Altered),
            Err(BlobError::Io { path, source }) => return Err(ExportError::Read { path, source }),
            Err(e @ BlobError::TooLarge { .. }) => {
                return Err(ExportError::Read { path: self.blobs.root().into(), source: std::io::Error::other(e) });
            }
        };
        let rel = format!("files/{name}");
        let part = self.root.join(format!("files/.{name}.part"));
        let write_err = |source| ExportError::Write { path: part.clone(), source };
        let mut dest = File::create(&part).map_err(write_err)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = source.read(&mut buf).map_err(|source| ExportError::Read { path: PathBuf::from(hash), source })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            dest.write_all(&buf[..n]).map_err(write_err)?;
            size += n as u64;
        }
        drop(dest);
        if hex::encode(hasher.finalize()) != hash {
            fs::remove_file(&part).map_err(write_err)?;
            return Ok(FileState::Altered);
        }
        let path = self.root.join(&rel);
        fs::rename(&part, &path).map_err(|source| ExportError::Write { path, source })?;
        self.record(&rel, hash.to_string(), size);
        Ok(FileState::Copied(rel))
    }
}

/// A copied file's name: its SHA-256, with the original's extension so that a browser opening it
/// from disk knows its type.
pub fn file_name(hash: &str, original: &str) -> String {
    let ext = original
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()));
    match ext {
        Some(ext) => format!("{hash}.{}", ext.to_ascii_lowercase()),
        None => hash.to_string(),
    }
}

fn top_level(dir: &Path) -> Result<Vec<String>> {
    let read_err = |source| ExportError::Read { path: dir.to_path_buf(), source };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        names.push(entry.map_err(read_err)?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let write_err = |source| ExportError::Write { path: path.to_path_buf(), source };
    let mut file = File::create(path).map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(dir: &Path) -> BlobStore {
        BlobStore::open(dir.join("blobs")).expect("blobs")
    }

    #[test]
    fn copied_files_keep_a_safe_extension_only() {
        let h = "ab".repeat(32);
        assert_eq!(file_name(&h, "検査結果.PDF"), format!("{h}.pdf"));
        assert_eq!(file_name(&h, "no-extension"), h);
        assert_eq!(file_name(&h, "x.tar.gz"), format!("{h}.gz"));
        assert_eq!(file_name(&h, "odd.p/df"), h);
        assert_eq!(file_name(&h, "long.extension-here"), h);
    }

    #[test]
    fn a_folder_is_used_only_when_empty_or_a_previous_export() {
        let tmp = tempfile::tempdir().expect("tmp");
        let out = tmp.path().join("out");
        fs::create_dir(&out).expect("mkdir");
        fs::write(out.join("notes.txt"), "mine").expect("write");
        assert!(matches!(Output::prepare(&out, false, blobs(tmp.path())), Err(ExportError::NotEmpty(_))));
        let refused = Output::prepare(&out, true, blobs(tmp.path()));
        assert!(matches!(&refused, Err(ExportError::NotAnExport { entry, .. }) if entry == "notes.txt"), "{refused:?}");
        assert!(out.join("notes.txt").exists(), "nothing of someone else's is removed");

        fs::remove_file(out.join("notes.txt")).expect("rm");
        fs::write(out.join("index.html"), "x").expect("write");
        let unmarked = Output::prepare(&out, true, blobs(tmp.path()));
        assert!(matches!(unmarked, Err(ExportError::NotAnExport { .. })), "an index alone is not recognisably ours");

        fs::write(out.join(MARKER), MARKER_TEXT).expect("marker");
        fs::create_dir_all(out.join("patients")).expect("mkdir");
        fs::write(out.join("patients/old.html"), "old").expect("write");
        Output::prepare(&out, true, blobs(tmp.path())).expect("a half-finished export is replaced on purpose");
        assert!(!out.join("patients/old.html").exists());
        assert!(out.join(MARKER).exists(), "the new export is unfinished until its manifest is written");
    }
}
