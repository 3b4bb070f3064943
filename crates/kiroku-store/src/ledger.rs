//! The Merkle log as the store keeps it: what each leaf says, appending leaves in the writer's
//! transaction, tree heads and proofs read from the stored nodes.

use std::collections::HashMap;

use kiroku_core::AuditEvent;
use kiroku_core::hash::canonical_json;
use kiroku_log::{Frontier, Hash, ProofError};
use serde::Serialize;

use crate::backend::Tx;
use crate::error::{Result, StoreError};
use crate::records::*;

/// A row of history as a leaf of the log. Its data is canonical JSON, so a verifier can recompute
/// every leaf hash from the rows and find the one that was changed.
pub enum Leaf<'a> {
    Audit(&'a AuditEvent),
    Version(&'a VersionRecord),
    Attestation(&'a Attestation),
    Attachment(&'a AttachmentRecord),
    Stamp(&'a StampRecord),
    StampItem(&'a StampItem),
    Signature(&'a SignatureRecord),
    Evidence(&'a crate::records::EvidenceRecord),
    WebauthnCredential(&'a WebauthnCredential),
    WebauthnEvent(&'a WebauthnEvent),
    Profile(&'a crate::governance::ProfileRecord),
    Regulation(&'a crate::governance::RegulationRecord),
    RegulationApproval(&'a crate::governance::ApprovalRecord),
    ScanType(&'a crate::scan::ScanTypeRecord),
    ScanItem(&'a crate::scan::ScanItemRecord),
    ScanEvent(&'a crate::scan::ScanEventRecord),
    LedgerRevision(&'a crate::governance_ledgers::LedgerRevision),
    LedgerEvent(&'a crate::governance_ledgers::LedgerEvent),
    LedgerAttachment(&'a crate::governance_ledgers::LedgerAttachment),
}

/// The leaf data of the rows of schema 7 (stamps, stamp items, signatures) and 14 (WebAuthn credentials and their events): the row under its
/// kind's name, like the others.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    leaf: &'static str,
    #[serde(flatten)]
    row: Named<'a, T>,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Named<'a, T: Serialize> {
    Timestamp(&'a T),
    StampItem(&'a T),
    Signature(&'a T),
    ValidationEvidence(&'a T),
    WebauthnCredential(&'a T),
    WebauthnEvent(&'a T),
    ScanType(&'a T),
    ScanItem(&'a T),
    ScanEvent(&'a T),
    LedgerRevision(&'a T),
    LedgerEvent(&'a T),
    LedgerAttachment(&'a T),
}

/// The leaf data of audit events, attestations and attachments: the row under its kind's name.
#[derive(Serialize)]
struct Wrapped<'a> {
    leaf: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a AuditEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attestation: Option<&'a Attestation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<&'a AttachmentRecord>,
}

/// The leaf data of a version: its facts and content hash, not the body (the hash stands for it).
#[derive(Serialize)]
struct VersionLeaf<'a> {
    leaf: &'static str,
    document_id: &'a str,
    version: i64,
    kind: kiroku_core::VersionKind,
    patient_id: &'a str,
    content_hash: &'a str,
    entered_by: &'a str,
    on_behalf_of: Option<&'a str>,
    entered_at: kiroku_core::Timestamp,
    reason: Option<&'a str>,
    seq: i64,
}

impl Leaf<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Leaf::Audit(_) => "audit",
            Leaf::Version(_) => "version",
            Leaf::Attestation(_) => "attestation",
            Leaf::Attachment(_) => "attachment",
            Leaf::Stamp(_) => "timestamp",
            Leaf::StampItem(_) => "stamp_item",
            Leaf::Signature(_) => "signature",
            Leaf::Evidence(_) => "validation_evidence",
            Leaf::WebauthnCredential(_) => "webauthn_credential",
            Leaf::WebauthnEvent(_) => "webauthn_event",
            Leaf::Profile(_) => "governance_profile",
            Leaf::Regulation(_) => "regulation",
            Leaf::RegulationApproval(_) => "regulation_approval",
            Leaf::ScanType(_) => "scan_type",
            Leaf::ScanItem(_) => "scan_item",
            Leaf::ScanEvent(_) => "scan_event",
            Leaf::LedgerRevision(_) => "ledger_revision",
            Leaf::LedgerEvent(_) => "ledger_event",
            Leaf::LedgerAttachment(_) => "ledger_attachment",
        }
    }

    /// The row's key: (id, version, attestation kind).
    pub fn reference(&self) -> (String, Option<i64>, Option<String>) {
        match self {
            Leaf::Audit(e) => (e.id.to_string(), None, None),
            Leaf::Version(v) => (v.document_id.to_string(), Some(v.version), None),
            Leaf::Attestation(a) => (a.document_id.to_string(), Some(a.version), Some(a.kind.as_str().to_string())),
            Leaf::Attachment(a) => (a.id.clone(), None, None),
            Leaf::Stamp(t) => (t.id.clone(), None, None),
            Leaf::StampItem(i) => (i.ref_id.clone(), Some(i.ref_version), Some(i.item_kind.clone())),
            Leaf::Signature(g) => (g.id.clone(), None, None),
            Leaf::Evidence(e) => (e.id.clone(), None, None),
            Leaf::WebauthnCredential(c) => (c.id.clone(), None, None),
            Leaf::WebauthnEvent(e) => (e.credential.clone(), Some(e.n), None),
            Leaf::Profile(p) => (p.revision.to_string(), None, None),
            Leaf::Regulation(r) => (r.revision.to_string(), None, None),
            Leaf::RegulationApproval(a) => (a.revision.to_string(), None, None),
            Leaf::ScanType(t) => (t.rule.code.clone(), Some(t.revision), None),
            Leaf::ScanItem(i) => (i.id.clone(), None, None),
            Leaf::ScanEvent(e) => (e.id.clone(), None, None),
            Leaf::LedgerRevision(r) => (r.id.clone(), Some(r.revision), None),
            Leaf::LedgerEvent(e) => (e.entry_id.clone(), Some(e.n), None),
            Leaf::LedgerAttachment(a) => (a.id.clone(), None, None),
        }
    }

    /// The leaf's bytes: RFC 8785 JSON of the row with its kind.
    pub fn data(&self) -> String {
        // Serialized straight from the rows (no intermediate JSON tree): this runs for every leaf
        // appended and every leaf verified. RFC 8785 sorts the keys, so field order is irrelevant.
        match self {
            Leaf::Audit(e) => canonical_json(&Wrapped { leaf: "audit", event: Some(*e), attestation: None, attachment: None }),
            Leaf::Version(v) => canonical_json(&VersionLeaf {
                leaf: "version",
                document_id: v.document_id.as_str(),
                version: v.version,
                kind: v.kind,
                patient_id: v.patient_id.as_str(),
                content_hash: &v.content_hash,
                entered_by: v.entered_by.as_str(),
                on_behalf_of: v.on_behalf_of.as_ref().map(|u| u.as_str()),
                entered_at: v.entered_at,
                reason: v.reason.as_deref(),
                seq: v.seq,
            }),
            Leaf::Attestation(a) => canonical_json(&Wrapped { leaf: "attestation", event: None, attestation: Some(*a), attachment: None }),
            Leaf::Attachment(a) => canonical_json(&Wrapped { leaf: "attachment", event: None, attestation: None, attachment: Some(*a) }),
            Leaf::Stamp(t) => canonical_json(&Tagged { leaf: "timestamp", row: Named::Timestamp(*t) }),
            Leaf::StampItem(i) => canonical_json(&Tagged { leaf: "stamp_item", row: Named::StampItem(*i) }),
            Leaf::Signature(g) => canonical_json(&Tagged { leaf: "signature", row: Named::Signature(*g) }),
            Leaf::Evidence(e) => canonical_json(&Tagged { leaf: "validation_evidence", row: Named::ValidationEvidence(*e) }),
            Leaf::WebauthnCredential(c) => canonical_json(&Tagged { leaf: "webauthn_credential", row: Named::WebauthnCredential(*c) }),
            Leaf::WebauthnEvent(e) => canonical_json(&Tagged { leaf: "webauthn_event", row: Named::WebauthnEvent(*e) }),
            Leaf::Profile(p) => crate::governance::leaf_data(self.kind(), *p),
            Leaf::Regulation(r) => crate::governance::leaf_data(self.kind(), *r),
            Leaf::RegulationApproval(a) => crate::governance::leaf_data(self.kind(), *a),
            Leaf::ScanType(t) => canonical_json(&Tagged { leaf: "scan_type", row: Named::ScanType(*t) }),
            Leaf::ScanItem(i) => canonical_json(&Tagged { leaf: "scan_item", row: Named::ScanItem(*i) }),
            Leaf::ScanEvent(e) => canonical_json(&Tagged { leaf: "scan_event", row: Named::ScanEvent(*e) }),
            Leaf::LedgerRevision(r) => canonical_json(&Tagged { leaf: "ledger_revision", row: Named::LedgerRevision(*r) }),
            Leaf::LedgerEvent(e) => canonical_json(&Tagged { leaf: "ledger_event", row: Named::LedgerEvent(*e) }),
            Leaf::LedgerAttachment(a) => canonical_json(&Tagged { leaf: "ledger_attachment", row: Named::LedgerAttachment(*a) }),
        }
    }

    pub fn hash(&self) -> Hash {
        kiroku_log::leaf_hash(self.data().as_bytes())
    }
}

/// The log as the writer holds it during a batch: the right edge of the tree, the counters, and the
/// rows appended but not yet written. Rows are written once per batch (or before a command that reads
/// the log), in a few multi-row statements; a refused command is undone by [`LogState::restore`].
#[derive(Debug, Clone, Default)]
pub struct LogState {
    pub frontier: Frontier,
    pub last_seq: i64,
    pub last_event: i64,
    events: Vec<AuditEvent>,
    leaves: Vec<LeafRow>,
    nodes: Vec<(i64, i64, String)>,
}

/// Where a command started, to undo its appends.
#[derive(Debug, Clone)]
pub struct Mark {
    frontier: Frontier,
    last_event: i64,
    lens: (usize, usize, usize),
}

impl LogState {
    pub fn new(frontier: Frontier, head: LogHead) -> Self {
        LogState { frontier, last_seq: head.seq, last_event: head.last_event, ..Default::default() }
    }

    /// Whether this state still describes the log `head` reports (no other process wrote since).
    pub fn matches(&self, head: &LogHead) -> bool {
        self.frontier.size() as i64 == head.tree_size && self.last_event == head.last_event && self.last_seq == head.seq
    }

    /// The next write number; each command takes one.
    pub fn next_seq(&mut self) -> i64 {
        self.last_seq += 1;
        self.last_seq
    }

    pub fn mark(&self) -> Mark {
        Mark {
            frontier: self.frontier.clone(),
            last_event: self.last_event,
            lens: (self.events.len(), self.leaves.len(), self.nodes.len()),
        }
    }

    /// Forgets everything appended since `mark`.
    pub fn restore(&mut self, mark: Mark) {
        self.frontier = mark.frontier;
        self.last_event = mark.last_event;
        self.events.truncate(mark.lens.0);
        self.leaves.truncate(mark.lens.1);
        self.nodes.truncate(mark.lens.2);
    }

    /// Appends a leaf and the perfect subtrees it completes; returns its index.
    pub fn append_leaf(&mut self, leaf: Leaf<'_>) -> i64 {
        let hash = leaf.hash();
        let (ref_id, ref_version, ref_kind) = leaf.reference();
        let idx = self.frontier.size() as i64;
        let created = self.frontier.append(hash);
        self.leaves.push(LeafRow { idx, kind: leaf.kind().to_string(), ref_id, ref_version, ref_kind, hash: hex::encode(hash) });
        self.nodes.extend(created.into_iter().skip(1).map(|(level, index, node)| (i64::from(level), index as i64, hex::encode(node))));
        idx
    }

    /// Appends an audit event with the next gap-free id, and its leaf; the one way events are written.
    pub fn append_event(&mut self, seq: i64, ev: NewAuditEvent) -> AuditEvent {
        self.last_event += 1;
        let event = AuditEvent {
            id: self.last_event,
            seq,
            time: ev.time,
            user: ev.user,
            role: ev.role,
            session: ev.session,
            client_addr: ev.client_addr,
            action: ev.action,
            patient_id: ev.patient_id,
            document_id: ev.document_id,
            version: ev.version,
            outcome: ev.outcome,
            detail: ev.detail,
            content_hash: ev.content_hash,
        };
        self.append_leaf(Leaf::Audit(&event));
        self.events.push(event.clone());
        event
    }

    /// Writes the appended rows.
    pub async fn flush(&mut self, tx: &mut dyn Tx) -> Result<()> {
        if !self.events.is_empty() {
            tx.insert_audit_rows(&self.events).await?;
            self.events.clear();
        }
        if !self.leaves.is_empty() {
            tx.insert_leaves(&self.leaves).await?;
            self.leaves.clear();
        }
        if !self.nodes.is_empty() {
            tx.insert_nodes(&self.nodes).await?;
            self.nodes.clear();
        }
        Ok(())
    }

    /// Writes the appended rows and the counters; the last step of a batch before its commit.
    pub async fn save(&mut self, tx: &mut dyn Tx) -> Result<()> {
        self.flush(tx).await?;
        tx.save_head(self.last_seq, self.last_event, self.frontier.size() as i64).await
    }
}

pub fn parse_hash(hex_text: &str) -> Result<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).map_err(|_| StoreError::Corrupt(format!("not a hash: {hex_text}")))?;
    Ok(out)
}

async fn node(tx: &mut dyn Tx, level: u32, idx: u64) -> Result<Hash> {
    let text = tx
        .get_node(i64::from(level), idx as i64)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("log node ({level}, {idx}) is missing")))?;
    parse_hash(&text)
}

/// The right edge of the tree at `size`, read from the stored nodes.
pub async fn load_frontier(tx: &mut dyn Tx, size: u64) -> Result<Frontier> {
    let mut nodes = Vec::new();
    for (level, idx) in Frontier::positions(size) {
        nodes.push(node(tx, level, idx).await?);
    }
    Frontier::from_nodes(size, nodes).ok_or_else(|| StoreError::Corrupt("log frontier".into()))
}

/// Runs a proof computation: first to learn which nodes it needs, then with those nodes fetched.
async fn with_nodes<T>(
    tx: &mut dyn Tx,
    compute: impl Fn(&mut dyn FnMut(u32, u64) -> std::result::Result<Hash, ()>) -> std::result::Result<T, ()>,
) -> Result<T> {
    let mut needed = Vec::new();
    let _ = compute(&mut |l, i| {
        needed.push((l, i));
        Ok([0u8; 32])
    });
    let mut nodes = HashMap::new();
    for (l, i) in needed {
        if let std::collections::hash_map::Entry::Vacant(e) = nodes.entry((l, i)) {
            e.insert(node(tx, l, i).await?);
        }
    }
    compute(&mut |l, i| nodes.get(&(l, i)).copied().ok_or(())).map_err(|()| StoreError::Corrupt("log node missing".into()))
}

fn proof_error(e: ProofError) -> StoreError {
    StoreError::Invalid(kiroku_core::DomainError::invalid("proof", e.to_string()))
}

pub async fn inclusion(tx: &mut dyn Tx, index: u64, size: u64) -> Result<Vec<Hash>> {
    let r = with_nodes(tx, |get| kiroku_log::inclusion_proof(index, size, &mut |l, i| get(l, i)).map(|r| r.map_err(|_| ()))).await?;
    r.map_err(|()| proof_error(ProofError::OutOfRange { index, size }))
}

pub async fn consistency(tx: &mut dyn Tx, old: u64, new: u64) -> Result<Vec<Hash>> {
    let r = with_nodes(tx, |get| kiroku_log::consistency_proof(old, new, &mut |l, i| get(l, i)).map(|r| r.map_err(|_| ()))).await?;
    r.map_err(|()| proof_error(ProofError::OutOfRange { index: old, size: new }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::{AuditAction, DocumentId, InfoClass, Outcome, PatientId, Timestamp, Username, VersionKind};
    use serde_json::json;

    /// The leaf bytes are a stored format: they must stay exactly what they were when first written.
    #[test]
    fn leaf_data_is_the_canonical_json_of_the_row() {
        let t = Timestamp::from_micros(1_764_072_000_000_000);
        let event = AuditEvent {
            id: 7,
            seq: 5,
            time: t,
            user: Some("dr.sato".into()),
            role: Some("doctor".into()),
            session: None,
            client_addr: Some("127.0.0.1".into()),
            action: AuditAction::DocumentRead,
            patient_id: Some("P1".into()),
            document_id: None,
            version: Some(1),
            outcome: Outcome::Success,
            detail: None,
            content_hash: None,
        };
        assert_eq!(Leaf::Audit(&event).data(), canonical_json(&json!({ "leaf": "audit", "event": event })));
        let id = DocumentId::parse("0193c0de-0000-7000-8000-000000000000").expect("id");
        let v = VersionRecord {
            document_id: id.clone(),
            version: 2,
            kind: VersionKind::Amendment,
            patient_id: PatientId::parse("P1").expect("patient"),
            doc_type: "note".into(),
            title: "t".into(),
            info_class: InfoClass::Normal,
            body: json!({"text": "x"}),
            entered_by: Username::parse("dr.sato").expect("user"),
            on_behalf_of: None,
            entered_at: t,
            reason: Some("追記".into()),
            content_hash: "ab".repeat(32),
            seq: 9,
        };
        let expected = json!({
            "leaf": "version", "document_id": v.document_id, "version": v.version, "kind": v.kind, "patient_id": v.patient_id,
            "content_hash": v.content_hash, "entered_by": v.entered_by, "on_behalf_of": v.on_behalf_of, "entered_at": v.entered_at,
            "reason": v.reason, "seq": v.seq,
        });
        assert_eq!(Leaf::Version(&v).data(), canonical_json(&expected));
        let a = Attestation {
            document_id: id,
            version: 2,
            kind: AttestationKind::Confirm,
            username: Username::parse("dr.sato").expect("user"),
            at: t,
            seq: 9,
        };
        assert_eq!(Leaf::Attestation(&a).data(), canonical_json(&json!({ "leaf": "attestation", "attestation": a })));
    }
}
