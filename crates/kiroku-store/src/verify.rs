//! Whole-store verification: recompute every version's hash, check that every version and every
//! file has the audit event that recorded it, that audit ids have no gaps, and that every file's
//! bytes still match their hash. Each finding names the object it concerns.

use std::collections::{HashMap, HashSet};

use kiroku_core::{AuditAction, Outcome};
use serde::Serialize;

use kiroku_log::{Frontier, Hash, LogVerifier};

use crate::backend::{Backend, Tx};
use crate::error::Result;
use crate::ledger::Leaf;
use crate::records::CheckpointRow;
use crate::stamps::{self, StampChains, StampCheck};

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
    /// Leaf indexes jump: leaves were deleted.
    LeafGap { after: i64, next: i64 },
    /// The row a leaf stands for no longer hashes to the leaf: the row (or the leaf) was altered.
    LeafAltered { index: i64, object: String },
    /// The row a leaf stands for is gone: it was deleted.
    LeafRowMissing { index: i64, object: String },
    /// A row of history that no leaf stands for: it was inserted behind kiroku's back.
    NotInLog { object: String },
    /// The tree recomputed from the leaves does not have the root a checkpoint signed.
    CheckpointMismatch { size: i64 },
    /// A checkpoint's signature does not verify with the log's public key, or its note disagrees
    /// with its row.
    CheckpointSignature { size: i64, reason: String },
    /// The log head's size differs from the number of leaves.
    TreeSize { recorded: i64, leaves: i64 },
    /// A stored timestamp is not what it claims: its token does not parse or covers another hash.
    StampInvalid { stamp: String, reason: String },
    /// A stamped version's or signature's own proof fails: its digest is no longer the object's, or
    /// its path does not lead to the stamped root.
    StampItemMismatch { object: String, reason: String },
    /// The timestamp of a version or signature cannot be verified now (TSA certificate expired or
    /// untrusted, token altered) and no archive timestamp keeps it verifiable.
    TimestampNotVerifiable { object: String, stamp: String, reason: String },
    /// A signature of a version does not verify.
    SignatureInvalid { document_id: String, version: i64, signature: String, reason: String },
    /// A facility profile or regulation revision no longer hashes to its recorded hash.
    GovernanceAltered { object: String },
    /// A ledger entry's revision no longer hashes to the hash recorded with it.
    LedgerRevisionAltered { entry_id: String, revision: i64 },
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
            Finding::LeafGap { after, next } => write!(f, "log: leaves {} to {} are missing", after + 1, next - 1),
            Finding::LeafAltered { index, object } => write!(f, "log leaf {index} ({object}): altered"),
            Finding::LeafRowMissing { index, object } => write!(f, "log leaf {index} ({object}): the row is missing (deleted)"),
            Finding::NotInLog { object } => write!(f, "{object}: not in the log (inserted)"),
            Finding::CheckpointMismatch { size } => {
                write!(f, "checkpoint at size {size}: the log no longer has its root (history rewritten)")
            }
            Finding::CheckpointSignature { size, reason } => write!(f, "checkpoint at size {size}: {reason}"),
            Finding::TreeSize { recorded, leaves } => write!(f, "log head says {recorded} leaves, the log has {leaves}"),
            Finding::StampInvalid { stamp, reason } => write!(f, "timestamp {stamp}: {reason}"),
            Finding::StampItemMismatch { object, reason } => write!(f, "{object}: timestamp proof fails: {reason}"),
            Finding::TimestampNotVerifiable { object, stamp, reason } => {
                write!(f, "{object}: timestamp {stamp} not verifiable: {reason}")
            }
            Finding::GovernanceAltered { object } => write!(f, "{object}: its content no longer matches its recorded hash"),
            Finding::SignatureInvalid { document_id, version, signature, reason } => {
                write!(f, "document {document_id} version {version}: signature {signature} invalid: {reason}")
            }
            Finding::LedgerRevisionAltered { entry_id, revision } => {
                write!(f, "ledger entry {entry_id} revision {revision}: content does not match its recorded hash")
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
    pub leaves: u64,
    pub checkpoints: u64,
    pub timestamps: u64,
    pub stamped_items: u64,
    pub signatures: u64,
    /// Certificates and revocation answers kept with signatures and timestamps.
    pub evidence: u64,
    /// Ledger revisions, events and attached files (governance).
    pub ledger_rows: u64,
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
type Attached = HashSet<(String, String)>;
type Attested = HashSet<(String, i64, &'static str, String)>;

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
            attached.insert((doc.clone(), hash));
        }
        _ => {}
    }
    let kind = match ev.action {
        AuditAction::DocumentConfirm | AuditAction::DocumentAmend => "confirm",
        AuditAction::DocumentApprove => "approve",
        _ => return,
    };
    if let (Some(v), Some(user)) = (ev.version, ev.user.clone()) {
        attested.insert((doc, v, kind, user));
    }
}

/// Verifies the whole store. `blob` checks one file by its hash.
pub async fn verify(
    backend: &dyn Backend,
    blob: &(dyn Fn(&str) -> BlobState + Sync),
    log_key: Option<&LogVerifier>,
    progress: Progress<'_>,
) -> Result<Report> {
    verify_with(backend, blob, log_key, None, progress).await
}

/// [`verify`], and with `stamps` also every timestamp token and signature against the trust
/// anchors at the time given (without it only their hashes and paths are checked).
pub async fn verify_with(
    backend: &dyn Backend,
    blob: &(dyn Fn(&str) -> BlobState + Sync),
    log_key: Option<&LogVerifier>,
    stamps: Option<&StampCheck>,
    progress: Progress<'_>,
) -> Result<Report> {
    let mut expected = Expected::new();
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
                expect(&mut expected, Leaf::Audit(&ev));
                continue;
            }
            record_event(&ev, &mut written, &mut attached, &mut attested);
            expect(&mut expected, Leaf::Audit(&ev));
        }
        progress("audit", report.audit_events);
    }

    // Pass 2: every version against its own hash and its audit event.
    let mut version_hashes: HashMap<(String, i64), String> = HashMap::new();
    let mut after: Option<(String, i64)> = None;
    loop {
        let page = tx.scan_versions(after.as_ref().map(|(d, v)| (d.as_str(), *v)), PAGE).await?;
        let Some(lastv) = page.last() else { break };
        after = Some((lastv.document_id.to_string(), lastv.version));
        for v in page {
            report.versions += 1;
            expect(&mut expected, Leaf::Version(&v));
            let computed = v.content().hash().to_hex();
            let doc = v.document_id.to_string();
            version_hashes.insert((doc.clone(), v.version), v.content_hash.clone());
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
            expect(&mut expected, Leaf::Attestation(&a));
            let key = (a.document_id.to_string(), a.version, a.kind.as_str(), a.username.to_string());
            if !attested.contains(&key) {
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
            expect(&mut expected, Leaf::Attachment(&a));
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
            if !attached.contains(&(a.document_id.to_string(), a.blob_hash.clone())) {
                report
                    .findings
                    .push(Finding::AttachmentWithoutAudit { attachment_id: a.id.clone(), document_id: a.document_id.to_string() });
            }
        }
        progress("attachments", report.attachments);
    }
    verify_ledgers(tx.as_mut(), &mut expected, blob, &mut report).await?;
    verify_evidence(tx.as_mut(), &mut expected, &version_hashes, stamps, &mut report).await?;
    verify_governance(tx.as_mut(), &mut expected, &mut report).await?;
    verify_scans(tx.as_mut(), &mut expected).await?;
    verify_log(tx.as_mut(), expected, log_key, &mut report, progress).await?;
    tx.rollback().await?;
    Ok(report)
}

/// Pass 4c: governance records (schema 10): each content against its hash, each row a leaf.
async fn verify_governance(tx: &mut dyn Tx, expected: &mut Expected, report: &mut Report) -> Result<()> {
    use crate::governance::hash_of_content;
    let state = tx.governance_state().await?;
    for p in &state.profiles {
        expect(expected, Leaf::Profile(p));
        if hash_of_content(&p.content) != p.content_hash {
            report.findings.push(Finding::GovernanceAltered { object: format!("facility profile revision {}", p.revision) });
        }
    }
    for r in &state.regulations {
        expect(expected, Leaf::Regulation(r));
        if hash_of_content(&r.content) != r.content_hash {
            report.findings.push(Finding::GovernanceAltered { object: format!("regulation revision {}", r.revision) });
        }
    }
    for a in &state.approvals {
        expect(expected, Leaf::RegulationApproval(a));
    }
    Ok(())
}

/// Pass 4d: ledger rows: each revision against its own hash, each attached file, every row
/// expected as a leaf.
async fn verify_ledgers(
    tx: &mut dyn Tx,
    expected: &mut Expected,
    blob: &(dyn Fn(&str) -> BlobState + Sync),
    report: &mut Report,
) -> Result<()> {
    let mut after = 0;
    while let Some(last) = {
        let page = tx.scan_ledger_revisions(after, PAGE).await?;
        for r in &page {
            report.ledger_rows += 1;
            expect(expected, Leaf::LedgerRevision(r));
            if r.compute_hash() != r.content_hash {
                report.findings.push(Finding::LedgerRevisionAltered { entry_id: r.id.clone(), revision: r.revision });
            }
        }
        page.last().map(|r| r.seq)
    } {
        after = last;
    }
    let mut after = 0;
    while let Some(last) = {
        let page = tx.scan_ledger_events(after, PAGE).await?;
        for e in &page {
            report.ledger_rows += 1;
            expect(expected, Leaf::LedgerEvent(e));
        }
        page.last().map(|e| e.seq)
    } {
        after = last;
    }
    let mut after = 0;
    while let Some(last) = {
        let page = tx.scan_ledger_attachments(after, PAGE).await?;
        for a in &page {
            report.ledger_rows += 1;
            expect(expected, Leaf::LedgerAttachment(a));
            let (attachment_id, document_id, blob_hash) = (a.id.clone(), format!("ledger:{}", a.entry_id), a.blob_hash.clone());
            match blob(&a.blob_hash) {
                BlobState::Intact => {}
                BlobState::Altered => report.findings.push(Finding::BlobAltered { attachment_id, document_id, blob_hash }),
                BlobState::Missing => report.findings.push(Finding::BlobMissing { attachment_id, document_id, blob_hash }),
            }
        }
        page.last().map(|a| a.seq)
    } {
        after = last;
    }
    Ok(())
}

/// Pass 4b: timestamps (token against imprint, chain of archive stamps), every stamped item's own
/// proof, and signatures (with `check`: against the signers' anchors at the time their stamp proves).
async fn verify_evidence(
    tx: &mut dyn Tx,
    expected: &mut Expected,
    version_hashes: &HashMap<(String, i64), String>,
    check: Option<&StampCheck>,
    report: &mut Report,
) -> Result<()> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let page = tx.scan_stamps(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        all.extend(page);
    }
    for stamp in &all {
        report.timestamps += 1;
        expect(expected, Leaf::Stamp(stamp));
        let parsed = stamps::token_der(stamp).and_then(|der| kiroku_sign::tsp::parse_token(&der).map_err(|e| e.to_string()));
        match parsed {
            Err(reason) => report.findings.push(Finding::StampInvalid { stamp: stamp.id.clone(), reason }),
            Ok((info, _)) if hex::encode(info.message_imprint.hashed_message.as_bytes()) != stamp.imprint => report
                .findings
                .push(Finding::StampInvalid { stamp: stamp.id.clone(), reason: "the token covers another hash than recorded".into() }),
            Ok(_) => {}
        }
    }
    // Validation data first: the tokens' revocation answers are part of their verdicts.
    let mut evidence_rows = Vec::new();
    let mut after = String::new();
    loop {
        let page = tx.scan_evidence(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        evidence_rows.extend(page);
    }
    let chains = StampChains::new(all).with_evidence(&evidence_rows);
    let mut verdicts: HashMap<String, std::result::Result<(), String>> = HashMap::new();
    let mut stamp_times: HashMap<(String, String), kiroku_core::Timestamp> = HashMap::new();
    let mut after: Option<(String, String, i64)> = None;
    loop {
        let page = tx.scan_stamp_items(after.as_ref().map(|(k, i, v)| (k.as_str(), i.as_str(), *v)), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.item_kind.clone(), last.ref_id.clone(), last.ref_version));
        for item in page {
            report.stamped_items += 1;
            expect(expected, Leaf::StampItem(&item));
            let object = describe_item(&item);
            let Some(stamp) = chains.get(&item.stamp_id) else {
                report.findings.push(Finding::StampItemMismatch { object, reason: format!("timestamp {} is missing", item.stamp_id) });
                continue;
            };
            if item.item_kind == "version" {
                let current = version_hashes.get(&(item.ref_id.clone(), item.ref_version));
                if current != Some(&item.digest) {
                    report.findings.push(Finding::StampItemMismatch {
                        object: object.clone(),
                        reason: "the stamped hash is not the version's".into(),
                    });
                }
            }
            if item.item_kind == "attachment" {
                let current = tx.attachment_by_id(&item.ref_id).await?.map(|a| a.blob_hash);
                if current.as_deref() != Some(item.digest.as_str()) {
                    report
                        .findings
                        .push(Finding::StampItemMismatch { object: object.clone(), reason: "the stamped hash is not the file's".into() });
                }
            }
            if let Err(reason) = stamps::check_item(&item, stamp) {
                report.findings.push(Finding::StampItemMismatch { object: object.clone(), reason });
                continue;
            }
            let Some(check) = check else { continue };
            let verdict = verdicts.entry(stamp.id.clone()).or_insert_with(|| chains.verify(&stamp.id, check));
            match verdict {
                Ok(()) => {
                    stamp_times.insert((item.item_kind.clone(), item.ref_id.clone()), stamp.gen_time);
                }
                Err(reason) => {
                    report.findings.push(Finding::TimestampNotVerifiable { object, stamp: stamp.id.clone(), reason: reason.clone() })
                }
            }
        }
    }
    let mut after = String::new();
    loop {
        let page = tx.scan_signatures(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for g in page {
            report.signatures += 1;
            expect(expected, Leaf::Signature(&g));
            let Some(check) = check else { continue };
            let at = stamp_times.get(&("signature".to_string(), g.id.clone())).map_or(check.at, |t| stamps::to_offset(*t));
            let evidence = tx.list_evidence("signature", &g.id).await?;
            let verdict = match &g.attachment_id {
                // A file's signature is checked against the file's hash; the file itself is
                // checked against that hash with the other files.
                Some(att) => match tx.attachment_by_id(att).await? {
                    Some(a) if a.blob_hash == g.content_hash && a.document_id == g.document_id => {
                        check_file_signature(&g, &check.signer_anchors, at, &evidence).map(|_| ())
                    }
                    _ => Err("the signed file is missing or is not the one signed".to_string()),
                },
                None => {
                    let version = tx.get_version(g.document_id.as_str(), g.version).await?;
                    check_signature(&g, version.as_ref(), &check.signer_anchors, at, &evidence).map(|_| ())
                }
            };
            if let Err(reason) = verdict {
                report.findings.push(Finding::SignatureInvalid {
                    document_id: g.document_id.to_string(),
                    version: g.version,
                    signature: g.id.clone(),
                    reason,
                });
            }
        }
    }
    for e in &evidence_rows {
        report.evidence += 1;
        expect(expected, Leaf::Evidence(e));
    }
    // WebAuthn credentials and their events (schema 14): rows of history like the others.
    let mut after = String::new();
    loop {
        let page = tx.scan_webauthn(&after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.id.clone();
        for (credential, events) in &page {
            expect(expected, Leaf::WebauthnCredential(credential));
            for event in events {
                expect(expected, Leaf::WebauthnEvent(event));
            }
        }
    }
    Ok(())
}

fn describe_item(item: &crate::records::StampItem) -> String {
    match item.item_kind.as_str() {
        "version" => format!("document {} version {}", item.ref_id, item.ref_version),
        "attachment" => format!("attachment {}", item.ref_id),
        other => format!("{other} {}", item.ref_id),
    }
}

/// The revocation answers among stored validation data, as kiroku-sign checks them.
pub fn revocation_evidence(records: &[crate::records::EvidenceRecord]) -> Vec<kiroku_sign::revocation::Evidence> {
    use base64::Engine;
    records
        .iter()
        .filter_map(|r| {
            Some(kiroku_sign::revocation::Evidence {
                kind: kiroku_sign::revocation::EvidenceKind::parse(&r.kind)?,
                der: base64::engine::general_purpose::STANDARD.decode(&r.der).ok()?,
                obtained_at: stamps::to_offset(r.obtained_at),
            })
        })
        .collect()
}

/// A signature against the version's canonical bytes, its certificate path at `at` (the time its
/// timestamp proves, else now), and the revocation of that path by the answers kept with it.
pub fn check_signature(
    g: &crate::records::SignatureRecord,
    version: Option<&crate::records::VersionRecord>,
    anchors: &kiroku_sign::TrustAnchors,
    at: time::OffsetDateTime,
    evidence: &[crate::records::EvidenceRecord],
) -> std::result::Result<kiroku_sign::SignatureReport, String> {
    use base64::Engine;
    let version = version.ok_or("the signed version is missing")?;
    let der = base64::engine::general_purpose::STANDARD.decode(&g.signature).map_err(|e| format!("stored signature is not base64: {e}"))?;
    if stamps::token_hash(&der) != g.signature_hash {
        return Err("the stored signature is not the one recorded (its hash differs)".into());
    }
    let content = kiroku_core::hash::canonical_json(&version.content());
    let report = kiroku_sign::verify_detached(&der, content.as_bytes(), anchors, at).map_err(|e| e.to_string())?;
    kiroku_sign::revocation::check_path(&report.chain, &revocation_evidence(evidence), at).map_err(|e| e.to_string())?;
    Ok(report)
}

/// A file's signature against the file's SHA-256 (`content_hash`, the file's content address).
pub fn check_file_signature(
    g: &crate::records::SignatureRecord,
    anchors: &kiroku_sign::TrustAnchors,
    at: time::OffsetDateTime,
    evidence: &[crate::records::EvidenceRecord],
) -> std::result::Result<kiroku_sign::SignatureReport, String> {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(&g.signature).map_err(|e| format!("stored signature is not base64: {e}"))?;
    if stamps::token_hash(&der) != g.signature_hash {
        return Err("the stored signature is not the one recorded (its hash differs)".into());
    }
    let digest = hex::decode(&g.content_hash).map_err(|e| format!("stored file hash is not hex: {e}"))?;
    let report = kiroku_sign::verify_detached_digest(&der, &digest, anchors, at).map_err(|e| e.to_string())?;
    kiroku_sign::revocation::check_path(&report.chain, &revocation_evidence(evidence), at).map_err(|e| e.to_string())?;
    Ok(report)
}

/// Pass 4c: the scanned-paper rows (schema 15) are leaves like every other row of history.
async fn verify_scans(tx: &mut dyn Tx, expected: &mut Expected) -> Result<()> {
    for t in tx.scan_types(None).await? {
        expect(expected, Leaf::ScanType(&t));
    }
    let mut after = String::new();
    loop {
        let page = tx.scan_items(None, &after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for item in &page {
            expect(expected, Leaf::ScanItem(item));
        }
    }
    for e in tx.scan_events(None).await? {
        expect(expected, Leaf::ScanEvent(&e));
    }
    Ok(())
}

/// (kind, id, version, attestation kind) of a row of history.
type LeafKey = (String, String, Option<i64>, Option<String>);
type Expected = HashMap<LeafKey, Hash>;

fn expect(expected: &mut Expected, leaf: Leaf<'_>) {
    let (id, version, kind) = leaf.reference();
    expected.insert((leaf.kind().to_string(), id, version, kind), leaf.hash());
}

fn describe(key: &LeafKey) -> String {
    match key {
        (k, id, None, None) if k == "audit" => format!("audit event {id}"),
        (k, id, Some(v), None) if k == "version" => format!("document {id} version {v}"),
        (k, id, Some(v), Some(kind)) if k == "attestation" => format!("document {id} version {v} {kind}"),
        (k, id, _, _) => format!("{k} {id}"),
    }
}

/// Pass 5: every leaf against its row, the tree against every signed checkpoint.
async fn verify_log(
    tx: &mut dyn Tx,
    mut expected: Expected,
    log_key: Option<&LogVerifier>,
    report: &mut Report,
    progress: Progress<'_>,
) -> Result<()> {
    let checkpoints = tx.list_checkpoints().await?;
    report.checkpoints = checkpoints.len() as u64;
    let mut pending = checkpoints.iter().peekable();
    let mut frontier = Frontier::empty();
    let mut last = -1i64;
    loop {
        let page = tx.scan_leaves(last, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for leaf in page {
            if leaf.idx != last + 1 {
                report.findings.push(Finding::LeafGap { after: last, next: leaf.idx });
            }
            last = leaf.idx;
            report.leaves += 1;
            let row: LeafKey = (leaf.kind.clone(), leaf.ref_id.clone(), leaf.ref_version, leaf.ref_kind.clone());
            match expected.remove(&row) {
                None => report.findings.push(Finding::LeafRowMissing { index: leaf.idx, object: describe(&row) }),
                Some(h) if hex::encode(h) != leaf.hash => {
                    report.findings.push(Finding::LeafAltered { index: leaf.idx, object: describe(&row) })
                }
                Some(_) => {}
            }
            frontier.append(crate::ledger::parse_hash(&leaf.hash).unwrap_or_default());
            while let Some(cp) = pending.next_if(|cp| cp.size as u64 == frontier.size()) {
                check_checkpoint(cp, &frontier.root(), log_key, report);
            }
        }
        progress("log", report.leaves);
    }
    for cp in pending {
        report.findings.push(Finding::CheckpointMismatch { size: cp.size });
    }
    let mut inserted: Vec<_> = expected.into_keys().map(|k| describe(&k)).collect();
    inserted.sort();
    report.findings.extend(inserted.into_iter().map(|object| Finding::NotInLog { object }));
    let recorded = tx.tree_size().await?;
    if recorded != report.leaves as i64 {
        report.findings.push(Finding::TreeSize { recorded, leaves: report.leaves as i64 });
    }
    Ok(())
}

fn check_checkpoint(cp: &CheckpointRow, root: &Hash, log_key: Option<&LogVerifier>, report: &mut Report) {
    if cp.root != hex::encode(root) {
        report.findings.push(Finding::CheckpointMismatch { size: cp.size });
        return;
    }
    let Some(key) = log_key else { return };
    match key.verify(&cp.note) {
        Ok(signed) if signed.size as i64 == cp.size && signed.root == *root => {}
        Ok(_) => {
            report.findings.push(Finding::CheckpointSignature { size: cp.size, reason: "the signed note names another tree head".into() })
        }
        Err(e) => report.findings.push(Finding::CheckpointSignature { size: cp.size, reason: e.to_string() }),
    }
}
