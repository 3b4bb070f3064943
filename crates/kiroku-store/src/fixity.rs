//! Scheduled fixity: the store's half of it. Versions are re-hashed here, in slices so that a long
//! run does not hold up the writer; files are re-hashed by the caller, which owns the blob store.

use serde::Serialize;

use crate::backend::Backend;
use crate::error::Result;

/// Versions or attachments read per slice.
pub const SLICE: i64 = 1_000;

/// One run's result, recorded as an audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FixitySummary {
    pub checked_versions: u64,
    pub checked_files: u64,
    /// Versions and files whose content no longer matches its hash.
    pub changed: Vec<String>,
    /// Files that attachments refer to but that are gone.
    pub missing: Vec<String>,
    /// Files in the blob store that no attachment refers to (left by refused uploads; informational).
    pub untracked: Vec<String>,
}

impl FixitySummary {
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty()
    }

    /// The audit event's detail: counts, then the first few objects of each kind.
    pub fn detail(&self) -> String {
        let list = |v: &[String]| v.iter().take(5).cloned().collect::<Vec<_>>().join(",");
        format!(
            "versions={} files={} changed={} missing={} untracked={} changed_ids=[{}] missing_ids=[{}]",
            self.checked_versions,
            self.checked_files,
            self.changed.len(),
            self.missing.len(),
            self.untracked.len(),
            list(&self.changed),
            list(&self.missing)
        )
    }
}

/// Re-hashes every version; returns how many were checked and which no longer match.
pub async fn check_versions(backend: &dyn Backend) -> Result<(u64, Vec<String>)> {
    let mut tx = backend.begin_read().await?;
    let (mut checked, mut changed) = (0u64, Vec::new());
    let mut after: Option<(String, i64)> = None;
    loop {
        let page = tx.scan_versions(after.as_ref().map(|(d, v)| (d.as_str(), *v)), SLICE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.document_id.to_string(), last.version));
        for v in &page {
            checked += 1;
            if v.content().hash().to_hex() != v.content_hash {
                changed.push(format!("document {} version {}", v.document_id, v.version));
            }
        }
        // Give the request handlers the CPU between slices.
        tokio::task::yield_now().await;
    }
    tx.rollback().await?;
    Ok((checked, changed))
}

/// Every (attachment id, document id, blob hash) the store refers to.
pub async fn attachment_blobs(backend: &dyn Backend) -> Result<Vec<(String, String, String)>> {
    let mut tx = backend.begin_read().await?;
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = tx.scan_attachments(&after, SLICE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        out.extend(page.into_iter().map(|a| (a.id, a.document_id.to_string(), a.blob_hash)));
    }
    tx.rollback().await?;
    Ok(out)
}

/// The newest recorded fixity run, to restore the alert state after a restart.
pub async fn last_run(backend: &dyn Backend) -> Result<Option<kiroku_core::AuditEvent>> {
    let mut tx = backend.begin_read().await?;
    let filter = crate::records::AuditFilter { action: Some(kiroku_core::AuditAction::FixityCheck), ..Default::default() };
    let events = tx.query_audit(&filter, 1).await?;
    tx.rollback().await?;
    Ok(events.into_iter().next())
}
