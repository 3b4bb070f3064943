//! The Merkle log as the store keeps it: what each leaf says, appending leaves in the writer's
//! transaction, tree heads and proofs read from the stored nodes.

use std::collections::HashMap;

use kiroku_core::AuditEvent;
use kiroku_core::hash::canonical_json;
use kiroku_log::{Frontier, Hash, ProofError};
use serde_json::json;

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
}

impl Leaf<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Leaf::Audit(_) => "audit",
            Leaf::Version(_) => "version",
            Leaf::Attestation(_) => "attestation",
            Leaf::Attachment(_) => "attachment",
        }
    }

    /// The row's key: (id, version, attestation kind).
    pub fn reference(&self) -> (String, Option<i64>, Option<String>) {
        match self {
            Leaf::Audit(e) => (e.id.to_string(), None, None),
            Leaf::Version(v) => (v.document_id.to_string(), Some(v.version), None),
            Leaf::Attestation(a) => (a.document_id.to_string(), Some(a.version), Some(a.kind.as_str().to_string())),
            Leaf::Attachment(a) => (a.id.clone(), None, None),
        }
    }

    /// The leaf's bytes: RFC 8785 JSON of the row with its kind.
    pub fn data(&self) -> String {
        let value = match self {
            Leaf::Audit(e) => json!({ "leaf": "audit", "event": e }),
            Leaf::Version(v) => json!({
                "leaf": "version", "document_id": v.document_id, "version": v.version, "kind": v.kind, "patient_id": v.patient_id,
                "content_hash": v.content_hash, "entered_by": v.entered_by, "on_behalf_of": v.on_behalf_of, "entered_at": v.entered_at,
                "reason": v.reason, "seq": v.seq,
            }),
            Leaf::Attestation(a) => json!({ "leaf": "attestation", "attestation": a }),
            Leaf::Attachment(a) => json!({ "leaf": "attachment", "attachment": a }),
        };
        canonical_json(&value)
    }

    pub fn hash(&self) -> Hash {
        kiroku_log::leaf_hash(self.data().as_bytes())
    }
}

/// Appends a leaf and the perfect subtrees it completes.
pub async fn append_leaf(tx: &mut dyn Tx, log: &mut Frontier, leaf: Leaf<'_>) -> Result<i64> {
    let hash = leaf.hash();
    let (ref_id, ref_version, ref_kind) = leaf.reference();
    let idx = log.size() as i64;
    let created = log.append(hash);
    tx.insert_leaf(&LeafRow { idx, kind: leaf.kind().to_string(), ref_id, ref_version, ref_kind, hash: hex::encode(hash) }).await?;
    for (level, index, node) in created.into_iter().skip(1) {
        tx.insert_node(i64::from(level), index as i64, &hex::encode(node)).await?;
    }
    Ok(idx)
}

/// Appends an audit event and its leaf; the one way events are written.
pub async fn append_event(tx: &mut dyn Tx, log: &mut Frontier, seq: i64, ev: NewAuditEvent) -> Result<AuditEvent> {
    let id = tx.append_audit(seq, &ev).await?;
    let event = AuditEvent {
        id,
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
    append_leaf(tx, log, Leaf::Audit(&event)).await?;
    Ok(event)
}

pub fn parse_hash(hex_text: &str) -> Result<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).map_err(|_| StoreError::Corrupt(format!("not a hash: {hex_text}")))?;
    Ok(out)
}

async fn node(tx: &mut dyn Tx, level: u32, idx: u64) -> Result<Hash> {
    let text = tx.get_node(i64::from(level), idx as i64).await?.ok_or_else(|| StoreError::Corrupt(format!("log node ({level}, {idx}) is missing")))?;
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
async fn with_nodes<T>(tx: &mut dyn Tx, compute: impl Fn(&mut dyn FnMut(u32, u64) -> std::result::Result<Hash, ()>) -> std::result::Result<T, ()>) -> Result<T> {
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
