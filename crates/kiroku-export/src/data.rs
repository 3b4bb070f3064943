//! The machine-readable copy of a patient's record, `data/<stem>.json`.
//!
//! Shape (format `kiroku-patient-record/1`; times RFC 3339 UTC, hashes lowercase hex SHA-256):
//! ```text
//! { "format", "exported_at", "log_tree_size",
//!   "patient": { patient_id, name, name_kana, birth_date, sex, created_at, created_by },
//!   "people": { "<user name>": "<display name>", … },
//!   "documents": [ { id, type, title, info_class, status, current_version, created_at, updated_at,
//!       "versions": [ { "content": {…}, content_hash, confirmed_by, confirmed_at, approved_by, approved_at } ],
//!       "attachments": [ { id, version, name, media_type, size, sha256, added_by, added_at, file, file_state } ] } ] }
//! ```
//! A version's `content` is exactly what its `content_hash` covers: SHA-256 over the RFC 8785
//! canonical JSON of `content`, so anyone can re-check a version with a JSON canonicaliser and
//! sha256sum. `file` is the copied file's path relative to the export's root, or null when it could
//! not be copied (`file_state`: `missing` or `altered`).

use std::collections::HashMap;

use kiroku_core::document::VersionContent;
use kiroku_store::{AttestationKind, DocumentRecord, PatientRecord};
use serde::Serialize;

use crate::folder::FileState;
use crate::pages::Meta;
use crate::{ExportError, Result};

pub const FORMAT: &str = "kiroku-patient-record/1";

#[derive(Serialize)]
struct PatientJson<'a> {
    format: &'static str,
    exported_at: String,
    log_tree_size: i64,
    patient: &'a kiroku_store::Patient,
    people: &'a std::collections::BTreeMap<String, String>,
    documents: Vec<DocumentJson<'a>>,
}

#[derive(Serialize)]
struct DocumentJson<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    doc_type: &'a str,
    title: &'a str,
    info_class: &'a str,
    status: &'a str,
    current_version: i64,
    created_at: String,
    updated_at: String,
    versions: Vec<VersionJson<'a>>,
    attachments: Vec<AttachmentJson<'a>>,
}

#[derive(Serialize)]
struct VersionJson<'a> {
    content: VersionContent<'a>,
    content_hash: &'a str,
    confirmed_by: Option<&'a str>,
    confirmed_at: Option<String>,
    approved_by: Option<&'a str>,
    approved_at: Option<String>,
}

#[derive(Serialize)]
struct AttachmentJson<'a> {
    id: &'a str,
    version: i64,
    name: &'a str,
    media_type: &'a str,
    size: i64,
    sha256: &'a str,
    added_by: &'a str,
    added_at: String,
    file: Option<&'a str>,
    file_state: &'static str,
}

pub fn patient_json(record: &PatientRecord, files: &HashMap<String, FileState>, meta: &Meta) -> Result<String> {
    let value = PatientJson {
        format: FORMAT,
        exported_at: meta.exported_at.to_rfc3339(),
        log_tree_size: record.tree_size,
        patient: &record.patient,
        people: &record.people,
        documents: record.documents.iter().map(|d| document(d, files)).collect(),
    };
    serde_json::to_string_pretty(&value)
        .map_err(|e| ExportError::Render { what: format!("data for {}", record.patient.patient_id), reason: e.to_string() })
}

fn document<'a>(d: &'a DocumentRecord, files: &'a HashMap<String, FileState>) -> DocumentJson<'a> {
    let attested = |version: i64, kind: AttestationKind| d.attestations.iter().find(|a| a.version == version && a.kind == kind);
    DocumentJson {
        id: d.head.id.as_str(),
        doc_type: &d.head.doc_type,
        title: &d.head.title,
        info_class: d.head.info_class.as_str(),
        status: d.head.status.as_str(),
        current_version: d.head.version,
        created_at: d.head.created_at.to_rfc3339(),
        updated_at: d.head.updated_at.to_rfc3339(),
        versions: d
            .versions
            .iter()
            .map(|v| {
                let confirm = attested(v.version, AttestationKind::Confirm);
                let approve = attested(v.version, AttestationKind::Approve);
                let confirmed = confirm.or(approve);
                VersionJson {
                    content: v.content(),
                    content_hash: &v.content_hash,
                    confirmed_by: confirmed.map(|a| a.username.as_str()),
                    confirmed_at: confirmed.map(|a| a.at.to_rfc3339()),
                    approved_by: approve.map(|a| a.username.as_str()),
                    approved_at: approve.map(|a| a.at.to_rfc3339()),
                }
            })
            .collect(),
        attachments: d
            .attachments
            .iter()
            .map(|a| {
                let state = files.get(&a.id);
                AttachmentJson {
                    id: &a.id,
                    version: a.version,
                    name: &a.name,
                    media_type: &a.media_type,
                    size: a.size,
                    sha256: &a.blob_hash,
                    added_by: a.added_by.as_str(),
                    added_at: a.added_at.to_rfc3339(),
                    file: match state {
                        Some(FileState::Copied(path)) => Some(path.as_str()),
                        _ => None,
                    },
                    file_state: match state {
                        Some(FileState::Copied(_)) => "copied",
                        Some(FileState::Altered) => "altered",
                        _ => "missing",
                    },
                }
            })
            .collect(),
    }
}
