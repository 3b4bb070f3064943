//! The HTML pages: the index of patients and one page per patient, in Japanese, from askama
//! templates (escaped by default). Times are shown in JST; links are relative, so the folder can be
//! opened from disk, copied to other media, or printed.

use std::collections::HashMap;

use askama::Template;
use kiroku_core::{DocumentStatus, InfoClass, PatientId, Timestamp, VersionKind};
use kiroku_store::{AttestationKind, DocumentRecord, PatientRecord, VersionRecord};
use sha2::{Digest, Sha256};

use crate::folder::FileState;
use crate::manifest::LogHead;
use crate::{ExportError, Request, Result, Selection, Summary};

/// What every page says about the export itself.
#[derive(Debug, Clone)]
pub struct Meta {
    pub exported_at: Timestamp,
    pub exported_at_jst: String,
    pub source: String,
    /// The account and session the audit trail records, e.g. `kiroku-cli (cli:root)`.
    pub operator: String,
    pub version: &'static str,
    pub selection_key: String,
    pub selection_ja: String,
}

impl Meta {
    pub fn new(exported_at: Timestamp, request: &Request) -> Meta {
        let (selection_key, selection_ja) = match &request.selection {
            Selection::All => ("all".to_string(), "全患者".to_string()),
            Selection::Patient(id) => (format!("patient:{id}"), format!("患者 {id}")),
        };
        let op = &request.operator;
        Meta {
            exported_at,
            exported_at_jst: jst(exported_at),
            source: request.source.clone(),
            operator: match &op.session {
                Some(s) => format!("{} ({s})", op.username),
                None => op.username.to_string(),
            },
            version: env!("CARGO_PKG_VERSION"),
            selection_key,
            selection_ja,
        }
    }
}

/// JST display with seconds: "2026-04-01 09:30:05".
pub fn jst(t: Timestamp) -> String {
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let d = t.to_datetime().to_offset(offset);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute(), d.second())
}

/// A patient's file name: the ID itself when it has no capital letters; otherwise lower-cased with
/// a short hash of the ID, so that IDs differing only in case stay apart on media that ignore case
/// (FAT, exFAT, NTFS, macOS). IDs are ASCII letters, digits, `-` and `_`, so either form is safe.
pub fn stem(id: &PatientId) -> String {
    let id = id.as_str();
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        let short = hex::encode(&Sha256::digest(id.as_bytes())[..4]);
        format!("{}.{short}", id.to_ascii_lowercase())
    } else {
        id.to_string()
    }
}

/// The document types kiroku's pages offer, in Japanese (the same words as the web UI); any other
/// stored type is shown as stored.
fn doc_type_ja(doc_type: &str) -> &str {
    match doc_type {
        "progress_note" => "経過記録",
        "admission_note" => "入院時記録",
        "discharge_summary" => "退院時要約",
        "referral" => "診療情報提供書",
        "nursing_record" => "看護記録",
        "other" => "その他",
        other => other,
    }
}

/// The text of a body: kiroku's pages write `{"text": …}`; other JSON is shown pretty-printed.
fn body_text(body: &serde_json::Value) -> String {
    match body {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) if m.len() == 1 && m.get("text").is_some_and(serde_json::Value::is_string) => {
            m.get("text").and_then(serde_json::Value::as_str).unwrap_or_default().to_string()
        }
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A patient as a line of the index.
#[derive(Debug, Clone)]
pub struct IndexRow {
    pub id: String,
    pub name: String,
    pub kana: String,
    pub birth: String,
    pub sex: &'static str,
    pub href: String,
    pub documents: usize,
}

impl IndexRow {
    pub fn of(record: &PatientRecord, stem: &str) -> IndexRow {
        let p = &record.patient;
        IndexRow {
            id: p.patient_id.to_string(),
            name: p.name.clone(),
            kana: p.name_kana.clone(),
            birth: p.birth_date.clone(),
            sex: p.sex.label_ja(),
            href: format!("patients/{stem}.html"),
            documents: record.documents.len(),
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    m: &'a Meta,
    rows: &'a [IndexRow],
    log: &'a LogHead,
    s: &'a Summary,
}

pub fn index_page(rows: &[IndexRow], meta: &Meta, log: &LogHead, summary: &Summary) -> Result<String> {
    IndexPage { m: meta, rows, log, s: summary }
        .render()
        .map_err(|e| ExportError::Render { what: "index.html".into(), reason: e.to_string() })
}

struct DocView {
    anchor: String,
    id: String,
    title: String,
    doc_type: String,
    status: &'static str,
    status_key: &'static str,
    class: &'static str,
    restricted: bool,
    current_version: i64,
    created_at: String,
    updated_at: String,
    entered_by: String,
    on_behalf_of: String,
    /// For a logically deleted document: why.
    deleted_reason: String,
    /// Newest first.
    versions: Vec<VersionView>,
    attachments: Vec<AttachmentView>,
}

struct VersionView {
    anchor: String,
    number: i64,
    kind: &'static str,
    current: bool,
    /// Confirmed (確定) or approved (承認): part of the record, not a draft.
    attested: bool,
    title: String,
    author: String,
    entered_at: String,
    on_behalf_of: String,
    confirmer: String,
    confirmed_at: String,
    approver: String,
    approved_at: String,
    reason: String,
    hash: String,
    text: String,
    proofs: Vec<(&'static str, String)>,
}

struct AttachmentView {
    name: String,
    href: String,
    problem: &'static str,
    media_type: String,
    size: String,
    version: i64,
    added_by: String,
    added_at: String,
    sha256: String,
    proofs: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "patient.html")]
struct PatientPage<'a> {
    m: &'a Meta,
    p: IndexRow,
    documents: Vec<DocView>,
    tree_size: i64,
}

pub fn patient_page(
    record: &PatientRecord,
    files: &HashMap<String, FileState>,
    proofs: &crate::evidence::Proofs,
    meta: &Meta,
) -> Result<String> {
    let person = |name: &str| match record.people.get(name) {
        Some(display) if !display.is_empty() => format!("{display}（{name}）"),
        _ => name.to_string(),
    };
    let documents = record.documents.iter().map(|d| doc_view(d, files, proofs, &person)).collect();
    let page = PatientPage { m: meta, p: IndexRow::of(record, &stem(&record.patient.patient_id)), documents, tree_size: record.tree_size };
    page.render().map_err(|e| ExportError::Render { what: format!("the page of {}", record.patient.patient_id), reason: e.to_string() })
}

/// The links of an object's evidence files, as the page lists them.
fn links(proofs: &crate::evidence::Proofs, key: &str) -> Vec<(&'static str, String)> {
    proofs.get(key).map(|v| v.iter().map(|p| (p.label, p.href.clone())).collect()).unwrap_or_default()
}

fn doc_view(
    d: &DocumentRecord,
    files: &HashMap<String, FileState>,
    proofs: &crate::evidence::Proofs,
    person: &dyn Fn(&str) -> String,
) -> DocView {
    let h = &d.head;
    let anchor = format!("doc-{}", h.id);
    let mut versions: Vec<VersionView> = d
        .versions
        .iter()
        .map(|v| VersionView {
            proofs: links(proofs, &crate::evidence::version_key(v.document_id.as_str(), v.version)),
            ..version_view(d, v, &anchor, person)
        })
        .collect();
    versions.reverse();
    let deleted_reason = match h.status {
        DocumentStatus::Deleted => d.versions.last().and_then(|v| v.reason.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    DocView {
        id: h.id.to_string(),
        title: h.title.clone(),
        doc_type: doc_type_ja(&h.doc_type).to_string(),
        status: h.status.label_ja(),
        status_key: h.status.as_str(),
        class: h.info_class.label_ja(),
        restricted: h.info_class != InfoClass::Normal,
        current_version: h.version,
        created_at: jst(h.created_at),
        updated_at: jst(h.updated_at),
        entered_by: person(h.entered_by.as_str()),
        on_behalf_of: h.on_behalf_of.as_ref().map(|u| person(u.as_str())).unwrap_or_default(),
        deleted_reason,
        versions,
        attachments: d
            .attachments
            .iter()
            .map(|a| {
                let (href, problem) = match files.get(&a.id) {
                    Some(FileState::Copied(path)) => (format!("../{path}"), ""),
                    Some(FileState::Altered) => (String::new(), "保存されているファイルが記録と一致しないため、出力していません。"),
                    _ => (String::new(), "ファイルが保存場所に見つからないため、出力していません。"),
                };
                AttachmentView {
                    name: a.name.clone(),
                    href,
                    problem,
                    media_type: a.media_type.clone(),
                    size: human_size(a.size),
                    version: a.version,
                    added_by: person(a.added_by.as_str()),
                    added_at: jst(a.added_at),
                    sha256: a.blob_hash.clone(),
                    proofs: links(proofs, &crate::evidence::file_key(&a.id)),
                }
            })
            .collect(),
        anchor,
    }
}

fn version_view(d: &DocumentRecord, v: &VersionRecord, anchor: &str, person: &dyn Fn(&str) -> String) -> VersionView {
    let find = |kind| d.attestations.iter().find(|a| a.version == v.version && a.kind == kind);
    let (confirm, approve) = (find(AttestationKind::Confirm), find(AttestationKind::Approve));
    let confirmed = confirm.or(approve);
    VersionView {
        anchor: format!("{anchor}-v{}", v.version),
        number: v.version,
        kind: kind_ja(v),
        current: v.version == d.head.version,
        attested: confirmed.is_some(),
        title: v.title.clone(),
        author: person(v.entered_by.as_str()),
        entered_at: jst(v.entered_at),
        on_behalf_of: v.on_behalf_of.as_ref().map(|u| person(u.as_str())).unwrap_or_default(),
        confirmer: confirmed.map(|a| person(a.username.as_str())).unwrap_or_default(),
        confirmed_at: confirmed.map(|a| jst(a.at)).unwrap_or_default(),
        approver: approve.map(|a| person(a.username.as_str())).unwrap_or_default(),
        approved_at: approve.map(|a| jst(a.at)).unwrap_or_default(),
        reason: v.reason.clone().unwrap_or_default(),
        hash: v.content_hash.clone(),
        text: body_text(&v.body),
        proofs: Vec::new(),
    }
}

/// Why a version exists, in words that do not confuse a confirmed first version with a draft
/// (its state is shown beside it).
fn kind_ja(v: &VersionRecord) -> &'static str {
    match v.kind {
        VersionKind::Draft if v.version == 1 => "作成",
        VersionKind::Draft => "下書きの更新",
        VersionKind::Proxy => "代行入力",
        VersionKind::Amendment => "修正",
        VersionKind::Deletion => "論理削除",
    }
}

/// Sizes as staff read them.
fn human_size(bytes: i64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{:.1} MB", b / 1024.0 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_file_names_survive_case_insensitive_media() {
        let id = |s: &str| PatientId::parse(s).expect("id");
        assert_eq!(stem(&id("0001234")), "0001234");
        assert_eq!(stem(&id("p-1")), "p-1");
        let (upper, lower) = (stem(&id("P-1")), stem(&id("p-1")));
        assert!(upper.starts_with("p-1.") && upper.len() == "p-1.".len() + 8, "{upper}");
        assert_ne!(upper.to_lowercase(), lower.to_lowercase());
        assert_ne!(stem(&id("Ab")).to_lowercase(), stem(&id("aB")).to_lowercase());
    }

    #[test]
    fn jst_is_nine_hours_ahead() {
        let t = Timestamp::parse_rfc3339("2026-03-31T15:30:05Z").expect("time");
        assert_eq!(jst(t), "2026-04-01 00:30:05");
    }
}
