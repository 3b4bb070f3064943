//! The single writer with group commit.
//!
//! Durability states of a command (what a crash loses at each step):
//! 1. queued in the channel: lost, and the caller has not been answered;
//! 2. executed inside the batch transaction: lost, the caller has not been answered;
//! 3. committed (the backend's commit is durable: SQLite WAL with `synchronous=FULL`, PostgreSQL
//!    with `synchronous_commit=on`): kept; only now is the caller answered.
//!
//! A batch takes whatever is queued (up to [`MAX_BATCH`]) so that one fsync covers many commands.
//! Each command runs inside its own savepoint: a refused command is rolled back alone and its
//! attempt is recorded in the audit trail; only a database failure fails the whole batch.

use std::sync::Arc;

use kiroku_core::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, Tx};
use crate::command::{Command, Reply};
use crate::engine::{EngineState, audit_failure, execute};
use crate::error::{Result, StoreError};

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
    pub fn start(backend: Arc<dyn Backend>) -> (Writer, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(backend, rx));
        (Writer { queue }, task)
    }

    /// Executes a command and answers once its transaction is durable.
    pub async fn submit(&self, command: Command) -> Result<Reply> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { command, reply }).await.map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn run(backend: Arc<dyn Backend>, mut rx: mpsc::Receiver<Job>) {
    let mut state = EngineState::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(backend.as_ref(), &mut state, std::mem::take(&mut batch)).await;
    }
}

async fn commit_batch(backend: &dyn Backend, state: &mut EngineState, batch: Vec<Job>) {
    let mut tx = match backend.begin_write().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch.into_iter().map(|j| j.reply), &e),
    };
    // Results are held back until the commit: nobody hears "done" before it is durable.
    let mut held = Vec::with_capacity(batch.len());
    for job in batch {
        let result = run_one(tx.as_mut(), state, &job.command).await;
        if let Err(e) = &result
            && e.is_fatal()
        {
            tracing::error!(error = %e, "write batch failed; rolling back");
            let _ = tx.rollback().await;
            // Forget the cached matrix: it may hold grants from the rolled-back transaction.
            *state = EngineState::default();
            let pending = held.into_iter().map(|(reply, _)| reply).chain(std::iter::once(job.reply));
            return fail_all(pending, e);
        }
        held.push((job.reply, result));
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, result) in held {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit failed");
            *state = EngineState::default();
            fail_all(held.into_iter().map(|(reply, _)| reply), &e);
        }
    }
}

fn fail_all(replies: impl Iterator<Item = oneshot::Sender<Result<Reply>>>, e: &StoreError) {
    for reply in replies {
        let _ = reply.send(Err(StoreError::Database(format!("write not committed: {e}"))));
    }
}

async fn run_one(tx: &mut dyn Tx, state: &mut EngineState, command: &Command) -> Result<Reply> {
    tx.savepoint().await?;
    let head = tx.next_seq().await?;
    state.sync(tx, head).await?;
    // The log's edge lives in memory too: a rolled-back command must leave it as it was.
    let edge_before = state.frontier.clone();
    let now = Timestamp::now();
    match execute(tx, state, head.seq, now, command).await {
        Ok(reply) => {
            state.flush(tx, head.tree_size).await?;
            tx.release_savepoint().await?;
            Ok(reply)
        }
        Err(e) if e.is_fatal() => Err(e),
        Err(e) => {
            tx.rollback_to_savepoint().await?;
            state.frontier = edge_before;
            if command.subject().is_some() {
                let head = tx.next_seq().await?;
                audit_failure(tx, state, head.seq, now, command, &e).await?;
                state.flush(tx, head.tree_size).await?;
            }
            tx.release_savepoint().await?;
            Err(e)
        }
    }
}
