//! Timestamps as the store keeps them: batches of items under one token (a Merkle tree of RFC 9162
//! hashing whose root is the token's imprint, each item with its own path), and the chain of
//! archive stamps that keeps an old token verifiable after its TSA certificate expires.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiroku_log::{Frontier, Hash};
use kiroku_sign::{HashAlg, TrustAnchors};
use time::OffsetDateTime;

use crate::records::{StampItem, StampRecord};

/// The leaf an item stands for in its batch: its kind, identity and digest, so that a proof
/// says which version (or signature) had which hash.
pub fn item_leaf(item_kind: &str, ref_id: &str, ref_version: i64, digest: &str) -> Hash {
    kiroku_log::leaf_hash(format!("kiroku-stamp-item:{item_kind}/{ref_id}/{ref_version}/{digest}").as_bytes())
}

/// A batch's root and every leaf's path to it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub root: Hash,
    pub paths: Vec<Vec<Hash>>,
}

/// Builds the tree over `leaves` (at least one) and the inclusion path of each.
pub fn build_batch(leaves: &[Hash]) -> Batch {
    let mut frontier = Frontier::empty();
    let mut nodes = HashMap::new();
    for leaf in leaves {
        for (level, index, hash) in frontier.append(*leaf) {
            nodes.insert((level, index), hash);
        }
    }
    let size = leaves.len() as u64;
    let paths = (0..size)
        .map(|i| {
            kiroku_log::inclusion_proof(i, size, &mut |l, n| nodes.get(&(l, n)).copied().ok_or(()))
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        })
        .collect();
    Batch { root: frontier.root(), paths }
}

/// Checks that `item`'s path leads from its leaf to `imprint` (hex).
pub fn check_item_path(item: &StampItem, imprint: &str) -> Result<(), String> {
    let leaf = item_leaf(&item.item_kind, &item.ref_id, item.ref_version, &item.digest);
    let path: Vec<Hash> = item.path.iter().map(|h| crate::ledger::parse_hash(h).map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    let root = crate::ledger::parse_hash(imprint).map_err(|e| e.to_string())?;
    kiroku_log::verify_inclusion(&leaf, item.leaf_index as u64, item.batch_size as u64, &path, &root)
        .map_err(|e| format!("its path does not lead to the stamped root: {e}"))
}

/// Checks that `item` is covered by `stamp`: a file stamp's imprint is the file's own hash, a
/// batch item's path leads to the batch root.
pub fn check_item(item: &StampItem, stamp: &StampRecord) -> Result<(), String> {
    match stamp.kind {
        crate::records::StampKind::File if item.digest == stamp.imprint && item.batch_size == 1 => Ok(()),
        crate::records::StampKind::File => Err("the file's token covers another hash".into()),
        _ => check_item_path(item, &stamp.imprint),
    }
}

/// The DER token of a stamp.
pub fn token_der(stamp: &StampRecord) -> Result<Vec<u8>, String> {
    STANDARD.decode(&stamp.token).map_err(|e| format!("stored token is not base64: {e}"))
}

/// The SHA-256 an archive stamp over `stamp` carries: the hash of its token.
pub fn token_hash(der: &[u8]) -> String {
    hex::encode(HashAlg::Sha256.digest(der))
}

/// What timestamps and signatures are checked against: the TSAs' and the signers' trust
/// anchors, and the time of the check (now, or a later date to see what will expire).
#[derive(Debug, Clone)]
pub struct StampCheck {
    pub anchors: TrustAnchors,
    pub signer_anchors: TrustAnchors,
    pub at: OffsetDateTime,
}

/// Every stamp, with the archive stamps that renew each and the revocation answers about its
/// TSA's certificates kept with it (schema 16).
pub struct StampChains {
    stamps: HashMap<String, StampRecord>,
    renewed_by: HashMap<String, Vec<String>>,
    revocation: HashMap<String, Vec<kiroku_sign::revocation::Evidence>>,
}

impl StampChains {
    pub fn new(all: impl IntoIterator<Item = StampRecord>) -> Self {
        let mut stamps = HashMap::new();
        let mut renewed_by: HashMap<String, Vec<String>> = HashMap::new();
        for s in all {
            if let Some(r) = &s.renews {
                renewed_by.entry(r.clone()).or_default().push(s.id.clone());
            }
            stamps.insert(s.id.clone(), s);
        }
        StampChains { stamps, renewed_by, revocation: HashMap::new() }
    }

    /// Adds the validation data kept with the tokens (`owner_kind` `timestamp`); rows of other
    /// owners are ignored.
    pub fn with_evidence(mut self, records: &[crate::records::EvidenceRecord]) -> Self {
        let mut by_stamp: HashMap<&str, Vec<crate::records::EvidenceRecord>> = HashMap::new();
        for r in records.iter().filter(|r| r.owner_kind == "timestamp") {
            by_stamp.entry(r.owner_id.as_str()).or_default().push(r.clone());
        }
        for (id, rows) in by_stamp {
            self.revocation.insert(id.to_string(), crate::verify::revocation_evidence(&rows));
        }
        self
    }

    /// A token checked at `at`, then its TSA's path against the revocation answers kept with it,
    /// judged at the token's own time: a certificate revoked before then makes it invalid. Where
    /// no answer was kept (the responder could not be reached when it was stamped) the token is
    /// judged on its own, as before validation data was kept.
    fn check_token(&self, id: &str, der: &[u8], digest: &[u8], anchors: &TrustAnchors, at: OffsetDateTime) -> Result<(), String> {
        let token = kiroku_sign::verify_token(der, HashAlg::Sha256, digest, anchors, at).map_err(|e| e.to_string())?;
        let Some(evidence) = self.revocation.get(id) else { return Ok(()) };
        match kiroku_sign::revocation::check_path(&token.path, evidence, token.gen_time) {
            Ok(_) | Err(kiroku_sign::SignError::RevocationUnknown { .. }) => Ok(()),
            Err(e) => Err(format!("the TSA's certificate: {e}")),
        }
    }

    pub fn get(&self, id: &str) -> Option<&StampRecord> {
        self.stamps.get(id)
    }

    /// The archive stamps that renew `id`.
    pub fn renewals(&self, id: &str) -> impl Iterator<Item = &StampRecord> {
        self.renewed_by.get(id).into_iter().flatten().filter_map(|r| self.stamps.get(r))
    }

    /// Stamps not renewed yet whose TSA certificate expires before `horizon`: the archive job's work.
    pub fn due_for_renewal(&self, horizon: kiroku_core::Timestamp) -> Vec<&StampRecord> {
        let mut due: Vec<_> = self.stamps.values().filter(|s| s.tsa_not_after < horizon && !self.renewed_by.contains_key(&s.id)).collect();
        due.sort_by(|a, b| a.id.cmp(&b.id));
        due
    }

    /// Whether stamp `id` is verifiable at `check.at`: directly, or because an archive stamp made
    /// while it was still valid is itself verifiable. The error names the first reason.
    pub fn verify(&self, id: &str, check: &StampCheck) -> Result<(), String> {
        self.verify_at(id, &check.anchors, check.at, 0)
    }

    fn verify_at(&self, id: &str, anchors: &TrustAnchors, at: OffsetDateTime, depth: usize) -> Result<(), String> {
        let stamp = self.stamps.get(id).ok_or_else(|| format!("timestamp {id} is missing"))?;
        let der = token_der(stamp)?;
        let digest = hex::decode(&stamp.imprint).map_err(|e| format!("stored imprint is not hex: {e}"))?;
        let reason = match self.check_token(id, &der, &digest, anchors, at) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if depth > 64 {
            return Err(reason);
        }
        for renewal in self.renewals(id) {
            let when = to_offset(renewal.gen_time);
            let was_valid = self.check_token(id, &der, &digest, anchors, when).is_ok();
            if was_valid && renewal.imprint == token_hash(&der) && self.verify_at(&renewal.id, anchors, at, depth + 1).is_ok() {
                return Ok(());
            }
        }
        Err(format!("{reason}; no valid archive timestamp renews it"))
    }
}

pub fn to_offset(t: kiroku_core::Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_micros()) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn from_offset(t: OffsetDateTime) -> kiroku_core::Timestamp {
    kiroku_core::Timestamp::from_micros(i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_of_a_batch_leads_to_its_root() {
        for n in 1..=9usize {
            let leaves: Vec<Hash> = (0..n).map(|i| item_leaf("version", &format!("d{i}"), 1, "ab")).collect();
            let batch = build_batch(&leaves);
            for (i, path) in batch.paths.iter().enumerate() {
                let item = StampItem {
                    item_kind: "version".into(),
                    ref_id: format!("d{i}"),
                    ref_version: 1,
                    stamp_id: "s".into(),
                    digest: "ab".into(),
                    leaf_index: i as i64,
                    batch_size: n as i64,
                    path: path.iter().map(hex::encode).collect(),
                    seq: 1,
                };
                assert_eq!(check_item_path(&item, &hex::encode(batch.root)), Ok(()), "n={n} i={i}");
                let other = StampItem { digest: "cd".into(), ..item };
                assert!(check_item_path(&other, &hex::encode(batch.root)).is_err());
            }
        }
    }
}
