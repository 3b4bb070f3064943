//! Scheduled fixity (T2-3.4, T2-1.3): every interval, re-hash every version and every file, record
//! the run as an audit event, and keep the result where /healthz, /metrics and the web pages show it.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

use kiroku_blob::Fixity;
use kiroku_core::{Outcome, Timestamp};
use kiroku_store::fixity::{FixitySummary, attachment_blobs, check_versions, last_run};
use kiroku_store::{Command, StoreError};
use serde::Serialize;
use tokio::sync::watch;

use crate::AppState;

/// What the last run found; `None` before the first run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FixityStatus {
    pub last_run: Option<Timestamp>,
    pub clean: bool,
    pub detail: Option<String>,
    pub mismatches: u64,
}

#[derive(Debug, Default)]
pub struct FixityState(RwLock<FixityStatus>);

impl FixityState {
    pub fn get(&self) -> FixityStatus {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn set(&self, status: FixityStatus) {
        if let Ok(mut s) = self.0.write() {
            *s = status;
        }
    }

    /// Whether an alert is due: the last run found changed or missing content.
    pub fn alert(&self) -> bool {
        let s = self.get();
        s.last_run.is_some() && !s.clean
    }
}

/// One full run: versions, then files in slices on a blocking thread; recorded and published.
pub async fn run_once(state: &AppState) -> Result<FixitySummary, StoreError> {
    let backend = state.store.backend().clone();
    let (checked_versions, mut changed) = check_versions(backend.as_ref()).await?;
    let referenced = attachment_blobs(backend.as_ref()).await?;
    let blobs = state.blobs.clone();
    let files = tokio::task::spawn_blocking(move || {
        let mut seen = HashSet::new();
        let (mut checked, mut altered, mut missing) = (0u64, Vec::new(), Vec::new());
        for (attachment, document, hash) in &referenced {
            if !seen.insert(hash.clone()) {
                continue;
            }
            checked += 1;
            match blobs.check(hash) {
                Fixity::Intact => {}
                Fixity::Altered => altered.push(format!("file {hash} (attachment {attachment} of document {document})")),
                Fixity::Missing => missing.push(format!("file {hash} (attachment {attachment} of document {document})")),
            }
        }
        let untracked: Vec<String> = blobs.list().unwrap_or_default().into_iter().filter(|h| !seen.contains(h)).collect();
        (checked, altered, missing, untracked)
    })
    .await
    .map_err(|e| StoreError::Database(format!("fixity task failed: {e}")))?;
    let (checked_files, altered, missing, untracked) = files;
    changed.extend(altered);
    let summary = FixitySummary { checked_versions, checked_files, changed, missing, untracked };
    state.store.execute(Command::RecordFixity { summary: summary.clone() }).await?;
    state.fixity.set(FixityStatus {
        last_run: Some(Timestamp::now()),
        clean: summary.is_clean(),
        detail: Some(summary.detail()),
        mismatches: (summary.changed.len() + summary.missing.len()) as u64,
    });
    if !summary.is_clean() {
        tracing::error!(changed = summary.changed.len(), missing = summary.missing.len(), "fixity check found altered or missing content");
    }
    Ok(summary)
}

/// Restores the alert state from the last recorded run, so a restart does not hide a mismatch.
pub async fn restore(state: &AppState) {
    match last_run(state.store.backend().as_ref()).await {
        Ok(Some(ev)) => state.fixity.set(FixityStatus {
            last_run: Some(ev.time),
            clean: ev.outcome == Outcome::Success,
            mismatches: u64::from(ev.outcome != Outcome::Success),
            detail: ev.detail,
        }),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot read the last fixity run"),
    }
}

/// Runs every `interval` until `stop` turns true.
pub async fn run(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    restore(&state).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
        if let Err(e) = run_once(&state).await {
            tracing::error!(error = %e, "fixity check failed to run");
        }
    }
}
