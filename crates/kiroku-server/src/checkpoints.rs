//! The checkpointer: signs the log's tree head at least every second while there are writes, and
//! once more on shutdown, so that a rewrite of history after that moment is detectable.

use std::sync::Arc;
use std::time::Duration;

use kiroku_core::Timestamp;
use kiroku_log::{Checkpoint, LogKey};
use kiroku_store::{CheckpointRow, Command, StoreError};
use tokio::sync::watch;

use crate::AppState;

/// Signs and stores a checkpoint if the log grew since the last one; returns the size signed.
pub async fn checkpoint_once(state: &AppState, key: &LogKey, origin: &str) -> Result<Option<u64>, StoreError> {
    let (size, root) = state.store.tree_head().await?;
    let latest = state.store.latest_checkpoint().await?.map_or(0, |c| c.size as u64);
    if size == 0 || size <= latest {
        return Ok(None);
    }
    let time = Timestamp::now();
    // The signing time is signed with the tree head, as an extension line of the note.
    let note = key.sign(&Checkpoint { origin: origin.to_string(), size, root, extensions: vec![format!("time {}", time.to_rfc3339())] });
    let checkpoint = CheckpointRow { size: size as i64, root: hex::encode(root), time, note };
    state.store.execute(Command::StoreCheckpoint { checkpoint }).await?;
    Ok(Some(size))
}

/// Runs until `stop` turns true, then signs a last checkpoint.
pub async fn run(state: AppState, key: Arc<LogKey>, origin: String, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if let Err(e) = checkpoint_once(&state, &key, &origin).await {
            tracing::error!(error = %e, "checkpoint failed");
        }
    }
    if let Err(e) = checkpoint_once(&state, &key, &origin).await {
        tracing::error!(error = %e, "final checkpoint failed");
    }
}
