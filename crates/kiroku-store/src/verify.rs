//! Whole-store verification: recompute every version's hash, check that every version and every
//! file has the audit event that recorded it, that audit ids have no gaps, and that every file's
//! bytes still match their hash. Each finding names the object it concerns.

use std::collections::HashMap;

use kiroku_core::{AuditAction, Outcome};
use serde::Serialize;

use crate::backend::Backend;
use crate::error::Result;

const PAGE: i64 = 2_000;

/// What verification found wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Finding {
    /// The stored content no longer hashes to the hash recorded with it.
    VersionAltered { document_id: String, version: i64, recorded: String, computed: String },
    /// No audit event records the writing of this version with this content.
    VersionWithoutAudit { document_id: String, version: i64 },
    /// The audit event of this version recorded another hash than the one stored now.
    VersionAuditMismatch { document_id: String, version: i64, audited: String, stored: String },
    /// Audit event ids jump: events were deleted.
    AuditGap { after: i64, next: i64 },
    /// A file's bytes no longer match the hash they are stored under.
    BlobAltered { attachment_id: String, document_id: String, blob_hash: String },
    /// A file recorded by an attachment is gone.
    BlobMissing { attachment_id: String, document_id: String, blob_hash: String },
    /// No audit event records this confirmation or approval by this person.
    AttestationWithoutAudit { document_id: String, version: i64, kind: String, username: String },
    /// No audit event records the attaching of this file.
    AttachmentWithoutAudit { attachment_id: String, document_id: String },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::VersionAltered { document_id, version, recorded, computed } => {
                write!(f, "document {document_id} version {version}: content altered (recorded {recorded}, now {computed})")
            }
            Finding::VersionWithoutAudit { document_id, version } => {
                write!(f, "document {document_id} version {version}: no audit event records it")
            }
            Finding::VersionAuditMismatch { document_id, version, audited, stored } => {
                write!(f, "document {document_id} version {version}: hash {stored} differs from the audited {audited}")
            }
            Finding::AuditGap { after, next } => write!(f, "audit trail: events {} to {} are missing", after + 1, next - 1),
            Finding::BlobAltered { attachment_id, document_id, blob_hash } => {
                write!(f, "attachment {attachment_id} of document {document_id}: file {blob_hash} altered")
            }
            Finding::BlobMissing { attachment_id, document_id, blob_hash } => {
                write!(f, "attachment {attachment_id} of document {document_id}: file {blob_hash} missing")
            }
            Finding::AttestationWithoutAudit { document_id, version, kind, username } => {
                write!(f, "document {document_id} version {version}: {kind} by {username} has no audit event")
            }
            Finding::AttachmentWithoutAudit { attachment_id, document_id } => {
                write!(f, "attachment {attachment_id} of document {document_id}: no audit event records it")
            }
        }
    }
}

/// The state of one blob as the blob store sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    Intact,
    Altered,
    Missing,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub audit_events: u64,
    pub versions: u64,
    pub attachments: u64,
    pub attestations: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Progress callback: (stage, objects done so far).
pub type Progress<'a> = &'a (dyn Fn(&'static str, u64) + Sync);

type Written = HashMap<(String, i64), String>;
type Attached = HashMap<(String, String), ()>;
type Attested = HashMap<(String, i64, &'static str, String), ()>;

/// Remembers what a successful audit event recorded: a version's hash, a file, an attestation.
fn record_event(ev: &kiroku_core::AuditEvent, written: &mut Written, attached: &mut Attached, attested: &mut Attested) {
    let Some(doc) = ev.document_id.clone() else { return };
    match (ev.action, ev.version, ev.content_hash.clone()) {
        (
            AuditAction::DocumentCreate | AuditAction::DocumentUpdate | AuditAction::DocumentAmend | AuditAction::DocumentDelete,
            Some(v),
            Some(hash),
        ) => {
            written.insert((doc.clone(), v), hash);
        }
        (AuditAction::AttachmentAdd, _, Some(hash)) => {
            attached.insert((doc.clone(), hash), ());
        }
        _ => {}
    }
    let kind = match ev.action {
        AuditAction::DocumentConfirm | AuditAction::DocumentAmend => "confirm",
        AuditAction::DocumentApprove => "approve",
        _ => return,
    };
    if let (Some(v), Some(user)) = (ev.version, ev.user.clone()) {
        attested.insert((doc, v, kind, user), ());
    }
}

/// Verifies the whole store. `blob` checks one file by its hash.
pub async fn verify(backend: &dyn Backend, blob: &(dyn Fn(&str) -> BlobState + Sync), progress: Progress<'_>) -> Result<Report> {
    let mut report = Report::default();
    let mut tx = backend.begin_read().await?;

    // Pass 1: the audit trail. Remember what each write event recorded.
    let mut written = Written::new();
    let mut attached = Attached::new();
    let mut attested = Attested::new();
    let mut last = 0i64;
    loop {
        let page = tx.scan_audit(last, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for ev in page {
            if ev.id != last + 1 {
                report.findings.push(Finding::AuditGap { after: last, next: ev.id });
            }
            last = ev.id;
            report.audit_events += 1;
            if ev.outcome != Outcome::Success {
                continue;
            }
            record_event(&ev, &mut written, &mut attached, &mut attested);
        }
        progress("audit", report.audit_events);
    }

    // Pass 2: every version against its own hash and its audit event.
    let mut after: Option<(String, i64)> = None;
    loop {
        let page = tx.scan_versions(after.as_ref().map(|(d, v)| (d.as_str(), *v)), PAGE).await?;
        let Some(lastv) = page.last() else { break };
        after = Some((lastv.document_id.to_string(), lastv.version));
        for v in page {
            report.versions += 1;
            let computed = v.content().hash().to_hex();
            let doc = v.document_id.to_string();
            if computed != v.content_hash {
                report.findings.push(Finding::VersionAltered {
                    document_id: doc.clone(),
                    version: v.version,
                    recorded: v.content_hash.clone(),
                    computed: computed.clone(),
                });
            }
            match written.get(&(doc.clone(), v.version)) {
                None => report.findings.push(Finding::VersionWithoutAudit { document_id: doc, version: v.version }),
                Some(audited) if *audited != computed => report.findings.push(Finding::VersionAuditMismatch {
                    document_id: doc,
                    version: v.version,
                    audited: audited.clone(),
                    stored: computed,
                }),
                Some(_) => {}
            }
        }
        progress("versions", report.versions);
    }

    // Pass 3: every confirmation and approval against the event that recorded it.
    let mut after: Option<(String, i64, String)> = None;
    loop {
        let page = tx.scan_attestations(after.as_ref().map(|(d, v, k)| (d.as_str(), *v, k.as_str())), PAGE).await?;
        let Some(last_a) = page.last() else { break };
        after = Some((last_a.document_id.to_string(), last_a.version, last_a.kind.as_str().to_string()));
        for a in page {
            report.attestations += 1;
            let key = (a.document_id.to_string(), a.version, a.kind.as_str(), a.username.to_string());
            if !attested.contains_key(&key) {
                report.findings.push(Finding::AttestationWithoutAudit {
                    document_id: key.0,
                    version: a.version,
                    kind: a.kind.as_str().into(),
                    username: key.3,
                });
            }
        }
        progress("attestations", report.attestations);
    }

    // Pass 4: every attachment's file.
    let mut after = String::new();
    loop {
        let page = tx.scan_attachments(&after, PAGE).await?;
        let Some(lasta) = page.last() else { break };
        after = lasta.id.clone();
        for a in page {
            report.attachments += 1;
            let ids = || (a.id.clone(), a.document_id.to_string(), a.blob_hash.clone());
            match blob(&a.blob_hash) {
                BlobState::Intact => {}
                BlobState::Altered => {
                    let (attachment_id, document_id, blob_hash) = ids();
                    report.findings.push(Finding::BlobAltered { attachment_id, document_id, blob_hash });
                }
                BlobState::Missing => {
                    let (attachment_id, document_id, blob_hash) = ids();
                    report.findings.push(Finding::BlobMissing { attachment_id, document_id, blob_hash });
                }
            }
            if !attached.contains_key(&(a.document_id.to_string(), a.blob_hash.clone())) {
                report
                    .findings
                    .push(Finding::AttachmentWithoutAudit { attachment_id: a.id.clone(), document_id: a.document_id.to_string() });
            }
        }
        progress("attachments", report.attachments);
    }
    tx.rollback().await?;
    Ok(report)
}
