//! P1: ingest. Documents with 1 KiB bodies are created and confirmed through the real write path
//! (`Store` over `SqliteBackend`: WAL, synchronous=FULL, one writer with group commit) by many
//! concurrent tasks, as the server's request handlers would. Baseline: a bare SQLite insert loop
//! with the same durability settings, one connection, [`BASELINE_BATCH`] rows per transaction.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kiroku_store::Store;
use kiroku_store_sqlite::SqliteBackend;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::common::{self, doc_body_text, note, progress};

/// Rows per transaction of the baseline insert loop.
pub const BASELINE_BATCH: usize = 64;

pub struct Ingest {
    pub docs: usize,
    pub docs_per_s: f64,
    pub baseline_per_s: f64,
}

impl Ingest {
    pub fn line(&self) -> String {
        format!(
            "P1 ingest docs_per_s={:.0} baseline_per_s={:.0} ratio={:.2} baseline_batch={BASELINE_BATCH} docs={}",
            self.docs_per_s,
            self.baseline_per_s,
            self.docs_per_s / self.baseline_per_s,
            self.docs
        )
    }
}

pub async fn run(base: Option<&Path>, docs: usize, tasks: usize) -> Result<Ingest> {
    let dir = common::temp_dir(base, "kiroku-bench-p1-")?;
    let backend = Arc::new(SqliteBackend::open(&dir.path().join("kiroku.db")).await.context("opening the SQLite store")?);
    let store = Store::start(backend.clone());
    let fx = Arc::new(common::fixture(&store, 64, "bench-no-login".into()).await?);

    note(format!("P1: creating and confirming {docs} documents from {tasks} tasks"));
    let bar = progress(docs, "P1 ingest");
    let loaded = common::load(&store, fx, docs, tasks, false, &bar).await?;
    if loaded.failed > 0 {
        bail!("P1: {} of {docs} documents failed; the first: {}", loaded.failed, loaded.first_error.unwrap_or_default());
    }
    let docs_per_s = loaded.ok as f64 / loaded.elapsed.as_secs_f64();
    drop(store);
    backend.close().await;

    note(format!("P1: baseline, {docs} bare inserts in transactions of {BASELINE_BATCH}"));
    let elapsed = bare_inserts(&dir.path().join("baseline.db"), docs).await?;
    let baseline_per_s = docs as f64 / elapsed.as_secs_f64();
    Ok(Ingest { docs: loaded.ok, docs_per_s, baseline_per_s })
}

/// Inserts `n` 1 KiB rows into a fresh database with the store's durability settings, one
/// connection, [`BASELINE_BATCH`] rows per transaction; answers the time the inserts took.
async fn bare_inserts(path: &Path, n: usize) -> Result<Duration> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = options.connect().await.context("opening the baseline database")?;
    sqlx::query("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .context("creating the baseline table")?;
    let bodies: Vec<String> = (0..n).map(doc_body_text).collect::<Result<_>>()?;
    let bar = progress(n, "P1 baseline");
    let started = Instant::now();
    for chunk in bodies.chunks(BASELINE_BATCH) {
        let mut tx = conn.begin().await.context("baseline begin")?;
        for body in chunk {
            sqlx::query("INSERT INTO docs (body) VALUES (?)").bind(body.as_str()).execute(&mut *tx).await.context("baseline insert")?;
        }
        tx.commit().await.context("baseline commit")?;
        bar.inc(chunk.len() as u64);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    conn.close().await.context("closing the baseline database")?;
    Ok(elapsed)
}
