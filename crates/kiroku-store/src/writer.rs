//! The single writer with group commit.
//!
//! Durability states of a command (what a crash loses at each step):
//! 1. queued in the channel: lost, and the caller has not been answered;
//! 2. executed inside the batch transaction: lost, the caller has not been answered;
//! 3. committed (the backend's commit is durable: SQLite WAL with `synchronous=FULL`, PostgreSQL
//!    with `synchronous_commit=on`): kept; only now is the caller answered.
//!
//! A batch takes whatever is queued (up to [`MAX_BATCH`]) so that one fsync covers many commands.
//! The batch locks the log head row first, so the write numbers, audit ids and leaf indexes it hands
//! out are decided inside the database transaction. Audit events, leaves and log nodes are buffered
//! and written in a few multi-row statements per batch. Commands check before they change anything:
//! a refused command is undone by forgetting its buffered rows and recorded as a refused attempt; a
//! command that fails after changing the database rolls the whole batch back.

use std::sync::Arc;

use kiroku_core::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, Tx};
use crate::command::{Command, Reply};
use crate::engine::{EngineState, audit_failure, execute};
use crate::error::{Result, StoreError};
use crate::operations::EmergencyMode;

pub const MAX_BATCH: usize = 512;
const QUEUE: usize = 4096;

struct Job {
    command: Command,
    reply: oneshot::Sender<Result<Reply>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on the current tokio runtime. It ends when every handle is dropped.
    /// `emergency` is the process's view of read-only mode, which the writer enforces and updates.
    pub fn start(backend: Arc<dyn Backend>, emergency: Arc<EmergencyMode>) -> (Writer, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(backend, emergency, rx));
        (Writer { queue }, task)
    }

    /// Executes a command and answers once its transaction is durable.
    pub async fn submit(&self, command: Command) -> Result<Reply> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { command, reply }).await.map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn run(backend: Arc<dyn Backend>, emergency: Arc<EmergencyMode>, mut rx: mpsc::Receiver<Job>) {
    let mut state = EngineState::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let batch = refuse_in_emergency(backend.as_ref(), &emergency, std::mem::take(&mut batch)).await;
        if batch.is_empty() {
            continue;
        }
        commit_batch(backend.as_ref(), &mut state, &emergency, batch).await;
    }
}

/// Answers the changes emergency mode refuses before any transaction begins: the refusal must work
/// when the database cannot be written (that is when kiroku enters the mode by itself). Refusals
/// change nothing and are not audited (with a full disk there is nowhere to write them). While the
/// mode is on, the stored mode is read again (a read still works on a full disk), because another
/// process may have left it; when even that fails, memory decides. The batch itself checks once
/// more against the locked log head ([`EngineState::refusal`]).
async fn refuse_in_emergency(backend: &dyn Backend, emergency: &EmergencyMode, batch: Vec<Job>) -> Vec<Job> {
    if emergency.current().is_none() || batch.iter().all(|j| j.command.allowed_in_emergency()) {
        return batch;
    }
    if emergency.unstored().is_none()
        && let Ok(stored) = stored_mode(backend).await
    {
        emergency.set_stored(stored);
    }
    let Some(mode) = emergency.current() else { return batch };
    let (allowed, refused): (Vec<Job>, Vec<Job>) = batch.into_iter().partition(|j| j.command.allowed_in_emergency());
    for job in refused {
        let _ = job.reply.send(Err(StoreError::ReadOnly(Box::new(mode.clone()))));
    }
    allowed
}

async fn stored_mode(backend: &dyn Backend) -> Result<Option<crate::operations::EmergencyState>> {
    let mut tx = backend.begin_read().await?;
    let state = tx.emergency_state().await?;
    tx.rollback().await?;
    Ok(state)
}

async fn commit_batch(backend: &dyn Backend, state: &mut EngineState, emergency: &EmergencyMode, batch: Vec<Job>) {
    let mut tx = match backend.begin_write().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch.into_iter().map(|j| j.reply), &e),
    };
    if let Err(e) = state.begin_batch(tx.as_mut()).await {
        let _ = tx.rollback().await;
        state.reset();
        return fail_all(batch.into_iter().map(|j| j.reply), &e);
    }
    // Results are held back until the commit: nobody hears "done" before it is durable.
    let mut held = Vec::with_capacity(batch.len());
    for job in batch {
        let result = run_one(tx.as_mut(), state, &job.command).await;
        if let Err(e) = &result
            && e.is_fatal()
        {
            tracing::error!(error = %e, "write batch failed; rolling back");
            let _ = tx.rollback().await;
            state.reset();
            let pending = held.into_iter().map(|(reply, _)| reply).chain(std::iter::once(job.reply));
            return fail_all(pending, e);
        }
        held.push((job.reply, result));
    }
    let saved = match state.log_mut() {
        Ok(log) => log.save(tx.as_mut()).await,
        Err(e) => Err(e),
    };
    let committed = match saved {
        Ok(()) => tx.commit().await,
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    };
    match committed {
        Ok(()) => {
            // The mode as committed (the log head said so, or a command of this batch changed it),
            // published before anyone hears of the commit.
            emergency.set_stored(state.emergency.clone());
            for (reply, result) in held {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit failed");
            state.reset();
            fail_all(held.into_iter().map(|(reply, _)| reply), &e);
        }
    }
}

fn fail_all(replies: impl Iterator<Item = oneshot::Sender<Result<Reply>>>, e: &StoreError) {
    for reply in replies {
        let _ = reply.send(Err(StoreError::Database(format!("write not committed: {e}"))));
    }
}

/// One command inside the batch. A refusal before any change to the database is undone by
/// restoring the log's mark and recorded as a refused attempt under the same write number; a
/// failure after a change is fatal and rolls the whole batch back.
async fn run_one(tx: &mut dyn Tx, state: &mut EngineState, command: &Command) -> Result<Reply> {
    if let Some(refused) = state.refusal(command) {
        return Err(refused);
    }
    let log = state.log_mut()?;
    let seq = log.next_seq();
    if command.reads_log() {
        // Commands that read audit rows, leaves or nodes see everything appended before them.
        log.flush(tx).await?;
    }
    let mark = log.mark();
    let writes_before = tx.writes();
    let now = Timestamp::now();
    let result = execute(tx, state, seq, now, command).await;
    match result {
        Ok(reply) => {
            if matches!(command, Command::SetGrant { .. }) {
                state.reload_matrix(tx).await?;
            }
            Ok(reply)
        }
        Err(e) if e.is_fatal() => Err(e),
        Err(e) if tx.writes() != writes_before => {
            Err(StoreError::Database(format!("a command failed after it had changed the database, so its batch is rolled back: {e}")))
        }
        Err(e) => {
            state.log_mut()?.restore(mark);
            audit_failure(state, seq, now, command, &e)?;
            Err(e)
        }
    }
}
