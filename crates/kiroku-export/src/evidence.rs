//! Signatures and timestamps next to what they cover, so that each file or version can be checked
//! alone with the reference tools: `openssl cms -verify -binary -inform DER -in <file>.<id>.p7s
//! -content <file>` and `openssl ts -verify -data <file> -in <file>.tsr`. A file's token covers the
//! file's own SHA-256; a version's token covers the root of its batch, so its `.tsr.json` gives the
//! item's leaf and path to that root (check with `openssl ts -verify -digest <root>`).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiroku_store::{PatientRecord, StampKind};

use crate::folder::FileState;

/// A link from the page to one evidence file.
pub struct Proof {
    pub label: &'static str,
    pub href: String,
}

/// Evidence links by object: `file:<attachment id>` or `version:<document id>:<n>`.
pub type Proofs = HashMap<String, Vec<Proof>>;

/// One evidence file to write.
pub struct Planned {
    pub key: String,
    pub rel: String,
    pub label: &'static str,
    pub bytes: Vec<u8>,
}

pub fn file_key(attachment_id: &str) -> String {
    format!("file:{attachment_id}")
}

pub fn version_key(document_id: &str, version: i64) -> String {
    format!("version:{document_id}:{version}")
}

/// What to write for `record`: for every copied file and every attested version, its signatures
/// and its token. Stored values that do not decode are left out (verify reports them).
pub fn plan(record: &PatientRecord, files: &HashMap<String, FileState>) -> Vec<Planned> {
    let mut out = Vec::new();
    let stamp_of = |kind: &str, id: &str, version: i64| {
        record.stamps.iter().find(|(i, _)| i.item_kind == kind && i.ref_id == id && i.ref_version == version)
    };
    for d in &record.documents {
        for a in &d.attachments {
            let Some(FileState::Copied(rel)) = files.get(&a.id) else { continue };
            for g in record.signatures.iter().filter(|g| g.attachment_id.as_deref() == Some(a.id.as_str())) {
                if let Ok(der) = STANDARD.decode(&g.signature) {
                    out.push(Planned {
                        key: file_key(&a.id), rel: format!("{rel}.{}.p7s", g.id), label: "電子署名 (.p7s)", bytes: der
                    });
                }
            }
            if let Some((item, stamp)) = stamp_of("attachment", &a.id, 0)
                && let Ok(der) = STANDARD.decode(&stamp.token)
            {
                out.push(Planned { key: file_key(&a.id), rel: format!("{rel}.tsr"), label: "タイムスタンプ (.tsr)", bytes: der });
                if stamp.kind != StampKind::File {
                    out.push(path_json(file_key(&a.id), format!("{rel}.tsr.json"), item, stamp));
                }
            }
        }
        for v in &d.versions {
            let signatures: Vec<_> = record
                .signatures
                .iter()
                .filter(|g| g.attachment_id.is_none() && g.document_id == v.document_id && g.version == v.version)
                .collect();
            let stamp = stamp_of("version", v.document_id.as_str(), v.version);
            if signatures.is_empty() && stamp.is_none() {
                continue;
            }
            let key = version_key(v.document_id.as_str(), v.version);
            let base = format!("evidence/{}-v{}", v.document_id, v.version);
            let content = kiroku_core::hash::canonical_json(&v.content()).into_bytes();
            out.push(Planned { key: key.clone(), rel: format!("{base}.json"), label: "署名対象 (.json)", bytes: content });
            for g in signatures {
                if let Ok(der) = STANDARD.decode(&g.signature) {
                    out.push(Planned { key: key.clone(), rel: format!("{base}.{}.p7s", g.id), label: "電子署名 (.p7s)", bytes: der });
                }
            }
            if let Some((item, stamp)) = stamp
                && let Ok(der) = STANDARD.decode(&stamp.token)
            {
                out.push(Planned { key: key.clone(), rel: format!("{base}.tsr"), label: "タイムスタンプ (.tsr)", bytes: der });
                out.push(path_json(key, format!("{base}.tsr.json"), item, stamp));
            }
        }
    }
    out
}

/// A batch item's own proof: the leaf it stands for and its path to the token's imprint.
fn path_json(key: String, rel: String, item: &kiroku_store::StampItem, stamp: &kiroku_store::StampRecord) -> Planned {
    let proof = serde_json::json!({
        "format": "kiroku-stamp-item/1",
        "leaf": format!("kiroku-stamp-item:{}/{}/{}/{}", item.item_kind, item.ref_id, item.ref_version, item.digest),
        "leaf_hashing": "RFC 9162: SHA-256(0x00 || leaf), nodes SHA-256(0x01 || left || right)",
        "leaf_index": item.leaf_index,
        "batch_size": item.batch_size,
        "path": item.path,
        "imprint": stamp.imprint,
        "gen_time": stamp.gen_time,
    });
    let bytes = serde_json::to_vec_pretty(&proof).unwrap_or_default();
    Planned { key, rel, label: "証明経路 (.tsr.json)", bytes }
}
