//! The health monitor behind automatic emergency read-only mode (縮退運用, T1-8.2/T1-8.3).
//!
//! Every few seconds it checks that the database answers, that the data directory's filesystem has
//! more free space than the threshold (entered before the disk is full, so the space left still
//! takes the audit events of reads) and that the file store can be written. On a failure it enters
//! read-only mode as kiroku itself, with the reason, and stays there until an administrator leaves
//! it. When the database cannot take the entry (it is down or full), the mode is held in this
//! process's memory, so the banner and the refusals work at once, and stored as soon as it can be.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiroku_core::Timestamp;
use kiroku_store::operations::EmergencyState;
use kiroku_store::{Command, StoreError};
use serde::Serialize;
use tokio::sync::watch;

use crate::AppState;

/// Space on one filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiskSpace {
    pub total_bytes: u64,
    pub free_bytes: u64,
}

/// Total and available (to kiroku's user) space of the filesystem holding `path`.
pub fn disk_space(path: &Path) -> std::io::Result<DiskSpace> {
    let s = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
    Ok(DiskSpace { total_bytes: s.f_blocks.saturating_mul(s.f_frsize), free_bytes: s.f_bavail.saturating_mul(s.f_frsize) })
}

/// The directory whose filesystem holds kiroku's data.
pub fn data_dir(state: &AppState) -> PathBuf {
    state.settings.data_dir.clone().unwrap_or_else(|| state.blobs.root().to_path_buf())
}

/// What is wrong, in words for the reason of the mode (Japanese first, English after).
pub async fn find_problem(state: &AppState) -> Option<String> {
    if let Err(e) = state.store.refresh_emergency().await {
        tracing::error!(error = %e, "health check: the database does not answer");
        return Some("自動: データベースが応答しません / automatic: the database does not answer".into());
    }
    let dir = data_dir(state);
    let blobs = state.blobs.clone();
    let min_free = state.settings.min_free_bytes;
    let checked = tokio::task::spawn_blocking(move || {
        let space = disk_space(&dir);
        let probe = blobs.probe_writable();
        (space, probe)
    })
    .await;
    let Ok((space, probe)) = checked else {
        return Some("自動: 健全性検査を実行できません / automatic: the health check could not run".into());
    };
    match space {
        Ok(s) if s.free_bytes < min_free => {
            return Some(format!(
                "自動: データ領域の空き容量が下限を下回りました（空き {} MiB / 下限 {} MiB） / automatic: free space on the data directory is below the threshold ({} MiB free, {} MiB required)",
                s.free_bytes >> 20,
                min_free >> 20,
                s.free_bytes >> 20,
                min_free >> 20
            ));
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "health check: cannot read the free space");
            return Some(
                "自動: データ領域の空き容量を確認できません / automatic: the free space of the data directory cannot be read".into(),
            );
        }
    }
    if let Err(e) = probe {
        tracing::error!(error = %e, "health check: the file store cannot be written");
        return Some("自動: ファイル保存領域に書き込めません / automatic: the file store cannot be written".into());
    }
    None
}

/// Enters the mode as kiroku itself: in memory at once, in the database when it takes it.
pub async fn enter_automatically(state: &AppState, reason: String) {
    let mode = state.store.emergency();
    if mode.current().is_some() {
        return;
    }
    tracing::error!(%reason, "entering emergency read-only mode");
    mode.enter_unstored(EmergencyState { since: Timestamp::now(), reason, entered_by: kiroku_store::command::SYSTEM.into() });
    store_pending(state).await;
}

/// Stores an entry held only in memory; kept for the next check when the database refuses it.
async fn store_pending(state: &AppState) {
    let mode = state.store.emergency();
    let Some(pending) = mode.unstored() else { return };
    match state.store.execute(Command::EnterEmergency { by: None, reason: pending.reason.clone() }).await {
        // Stored, or another process stored the mode first: the database's is the one in force.
        Ok(_) | Err(StoreError::Conflict(_)) => mode.clear_unstored(),
        Err(e) => tracing::error!(error = %e, "emergency mode is held in memory; the database cannot store it yet"),
    }
}

/// One round: store a pending entry, then look for a problem.
pub async fn check_once(state: &AppState) {
    store_pending(state).await;
    if let Some(reason) = find_problem(state).await {
        enter_automatically(state, reason).await;
    }
}

/// Runs every `interval` until `stop` turns true.
pub async fn run(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        check_once(&state).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
    }
}
