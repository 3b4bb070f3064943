//! The offline-readable export (見読性 during outages, T2-2.4): patients' whole records as a folder of
//! static HTML pages that any browser opens from disk, a machine-readable JSON copy per patient, and
//! a manifest with the SHA-256 of every file.
//!
//! Reading a record is the store command [`Command::ExportPatient`], executed by the writer with its
//! `record_export` audit event; patients are read and written one at a time, so an export of the
//! whole store never holds more than one patient's record in memory. [`export`] takes an opened
//! store and blob store, not a server: it serves a running data directory and one restored from a
//! backup into a temporary folder alike.
//!
//! The folder, and how a half-finished one is recognised:
//! ```text
//! EXPORT-INCOMPLETE.txt  written first, removed last: present = the export did not finish
//! index.html             patients, the export's time and source, how to check it
//! style.css              the only stylesheet (screen and print); no script, no external address
//! patients/<stem>.html   one page per patient: every document, every version, history, files
//! data/<stem>.json       the same record as JSON (shape: `data::FORMAT`)
//! files/<sha256>.<ext>   attached files, named by their content; beside a signed or stamped
//!                        one its signatures (<file>.<signature id>.p7s) and token (<file>.tsr)
//! evidence/              signed or stamped versions: the signed bytes (<doc>-v<n>.json), their
//!                        signatures (.p7s), token (.tsr) and the item's path to the token (.tsr.json)
//! SHA256SUMS             `sha256sum -c` input for every file above
//! manifest.json          written last (atomically): every file's SHA-256 and size, the log head
//! ```

mod data;
mod evidence;
mod folder;
mod manifest;
mod pages;

use std::path::{Path, PathBuf};

use kiroku_blob::BlobStore;
use kiroku_core::{PatientId, Timestamp};
use kiroku_store::{Actor, Command, Store, StoreError};

pub use data::FORMAT as DATA_FORMAT;
pub use manifest::{FORMAT as MANIFEST_FORMAT, Finding, Manifest, VerifyReport, verify};

/// Patients read per listing command when exporting everyone.
const PAGE: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no patient with the ID {0}")]
    UnknownPatient(String),
    #[error("{0} is not empty; choose an empty folder, or add --force to replace a previous kiroku export there")]
    NotEmpty(PathBuf),
    #[error("{path} is not a kiroku export ({entry} is not part of one); choose an empty folder")]
    NotAnExport { path: PathBuf, entry: String },
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a kiroku export manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error("cannot render {what}: {reason}")]
    Render { what: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = ExportError> = std::result::Result<T, E>;

/// Which patients to export.
#[derive(Debug, Clone)]
pub enum Selection {
    Patient(PatientId),
    All,
}

/// What to export, where, and how it is described in the folder.
#[derive(Debug, Clone)]
pub struct Request {
    pub out: PathBuf,
    pub selection: Selection,
    /// Who exports: the console operator (the store refuses anyone else).
    pub operator: Actor,
    /// Where the records come from, as a reader should see it (never a password or a URL with one),
    /// e.g. "データディレクトリ /var/lib/kiroku（SQLite）".
    pub source: String,
    /// Replace a previous kiroku export in `out`.
    pub force: bool,
}

/// What an export wrote; also passed to the progress callback after every patient.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub patients: u64,
    pub documents: u64,
    pub versions: u64,
    pub attachments: u64,
    /// Attached files that could not be copied: `document id/file name: reason`.
    pub file_problems: Vec<String>,
    /// Files in the folder (manifest.json not counted) and their bytes.
    pub files: u64,
    pub bytes: u64,
}

/// Exports the selected patients into `request.out`, one patient at a time, calling `progress`
/// after each. Audit events go to `store`: when it is a copy restored from a backup, the events are
/// recorded in that copy (keep it, or record the export in the live store as well).
pub async fn export(store: &Store, blobs: &BlobStore, request: &Request, progress: &(dyn Fn(&Summary) + Sync)) -> Result<Summary> {
    let exported_at = Timestamp::now();
    let meta = std::sync::Arc::new(pages::Meta::new(exported_at, request));
    let mut out = folder::Output::prepare(&request.out, request.force, blobs.clone())?;
    let mut summary = Summary::default();
    let mut index = Vec::new();
    let mut pending: Vec<PatientId> = match &request.selection {
        Selection::Patient(id) => vec![id.clone()],
        Selection::All => Vec::new(),
    };
    let mut after: Option<PatientId> = None;
    loop {
        if pending.is_empty() && matches!(request.selection, Selection::All) {
            let page = Command::ExportPatientIds { actor: request.operator.clone(), after: after.take(), limit: PAGE };
            pending = store.execute(page).await?.into_patient_ids()?;
            pending.reverse();
        }
        let Some(patient_id) = pending.pop() else { break };
        after = Some(patient_id.clone());
        let command = Command::ExportPatient { actor: request.operator.clone(), patient_id: patient_id.clone() };
        let record = match store.execute(command).await {
            Err(StoreError::NotFound("patient")) => return Err(ExportError::UnknownPatient(patient_id.to_string())),
            other => other?.into_patient_record()?,
        };
        // Rendering and file copies are blocking work; the store keeps serving meanwhile.
        let shared = meta.clone();
        let (moved, written) = run_blocking(move || {
            let written = out.write_patient(&record, &shared);
            (out, written)
        })
        .await?;
        out = moved;
        let written = written?;
        summary.patients += 1;
        summary.documents += written.row.documents as u64;
        summary.versions += written.versions;
        summary.attachments += written.attachments;
        summary.file_problems.extend(written.file_problems);
        index.push(written.row);
        (summary.files, summary.bytes) = out.totals();
        progress(&summary);
        if matches!(request.selection, Selection::Patient(_)) {
            break;
        }
    }
    let (tree_size, root) = store.tree_head().await?;
    let checkpoint = store.latest_checkpoint().await?.filter(|c| c.size as u64 <= tree_size).map(|c| c.note);
    let log = manifest::LogHead { tree_size, root: hex::encode(root), checkpoint };
    out.finish(&index, &meta, log, &summary)?;
    (summary.files, summary.bytes) = out.totals();
    Ok(summary)
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExportError::Write { path: PathBuf::from("(export task)"), source: std::io::Error::other(e.to_string()) })
}

/// Whether `dir` holds a finished kiroku export (its manifest is there); for callers that want to
/// say so before replacing one.
pub fn is_finished_export(dir: &Path) -> bool {
    dir.join(manifest::MANIFEST).is_file()
}
