//! P3: the audit log. A store is opened on a temporary SQLite file (the real schema, WAL,
//! synchronous=FULL) and filled with `events` audit events through the log's append path:
//! `kiroku_store::ledger::LogState` in write transactions of [`BATCH`] events each, as the writer
//! runs a batch (lock the log head, one write number per event, the leaf hash of the event's leaf
//! data, the `Frontier` append, then the audit, leaf and node rows in multi-row statements, the
//! counters and a durable commit). Events are spread over [`PATIENTS`] patients and [`USERS`] users. On that store:
//!
//! - append: the fill's rate, beside bare inserts of one row per event carrying the event's leaf
//!   data into a plain table, in transactions of the same size with the same durability. The rate
//!   of a cheap audited command (`ReadPatient`) through `Store::execute` from many tasks is given
//!   beside it as `store_cmds_per_s`.
//! - verify: `kiroku_store::verify::verify` over the whole store (every leaf recomputed from its
//!   row, the tree rebuilt), in leaves/s, beside a bare SHA-256 loop over the leaf data bytes.
//! - history: one patient's access history, `Command::QueryAudit` with a patient filter and limit
//!   100 as an auditor through the store (audited, committed), beside the same query as plain SQL
//!   on the same database (`WHERE patient_id = ? ORDER BY id DESC LIMIT 100`, the statement the
//!   store itself sends for that filter): the difference is the command path's cost (the writer's
//!   queue, the audit event, the durable commit).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kiroku_core::{AuditAction, Outcome, PatientId, Role, Timestamp};
use kiroku_store::ledger::{self, Leaf, LogState};
use kiroku_store::verify::{self, BlobState};
use kiroku_store::{AuditFilter, Backend, Command, NewAuditEvent, Store};
use kiroku_store_sqlite::SqliteBackend;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::common::{self, note, percentile_ms, progress};

/// Events per write transaction of the batched append, and rows per transaction of its baseline.
pub const BATCH: usize = 1_000;
/// Patients and users the generated events are spread over.
pub const PATIENTS: usize = 10_000;
pub const USERS: usize = 200;
/// Concurrent tasks submitting commands for the through-the-store rate.
const COMMAND_TASKS: usize = 128;
/// At most this many leaves' data are held in memory for the SHA-256 baseline.
const HASH_SAMPLE_CAP: usize = 1_000_000;
/// Distinct leaf data strings the append baseline cycles through.
const ROW_POOL: usize = 4_096;
const HISTORY_LIMIT: i64 = 100;
const HISTORY_WARMUP: usize = 3;

pub struct Plan<'a> {
    pub base: Option<&'a Path>,
    pub events: usize,
    /// History queries to time (each, through the store and as plain SQL).
    pub queries: usize,
    /// Stop the history queries after this long, if at least 10 were timed.
    pub history_budget: Duration,
    /// How long the through-the-store command rate runs.
    pub command_secs: u64,
}

pub struct LogFigures {
    pub events: usize,
    pub append_per_s: f64,
    pub append_baseline_per_s: f64,
    pub row_bytes: f64,
    pub store_cmds_per_s: f64,
    pub leaves: u64,
    pub verify_per_s: f64,
    pub verify_secs: f64,
    pub hash_per_s: f64,
    pub hash_leaves: usize,
    pub clean: bool,
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
    pub query_max_ms: f64,
    pub baseline_p50_ms: f64,
    pub baseline_p99_ms: f64,
    /// The store's SQL text for the patient filter, on the plain connection.
    pub queries: usize,
    pub rows_per_query: f64,
}

impl LogFigures {
    pub fn lines(&self) -> [String; 3] {
        [
            format!(
                "P3 append leaves_per_s={:.0} baseline_per_s={:.0} ratio={:.2} what=ledger_logstate_batch{BATCH}_sqlite_wal_sync_full baseline=bare_sqlite_insert_one_row_per_event_leaf_data_tx{BATCH} row_bytes={:.0} store_cmds_per_s={:.0} store_cmd=read_patient_{COMMAND_TASKS}_tasks events={}",
                self.append_per_s,
                self.append_baseline_per_s,
                self.append_per_s / self.append_baseline_per_s,
                self.row_bytes,
                self.store_cmds_per_s,
                self.events
            ),
            format!(
                "P3 verify leaves_per_s={:.0} baseline_per_s={:.0} ratio={:.2} what=store_verify_whole_store baseline=bare_sha256_of_leaf_data leaves={} secs={:.1} baseline_leaves={} clean={}",
                self.verify_per_s,
                self.hash_per_s,
                self.verify_per_s / self.hash_per_s,
                self.leaves,
                self.verify_secs,
                self.hash_leaves,
                self.clean
            ),
            format!(
                "P3 history query_ms_p50={:.2} query_ms_p99={:.2} baseline_ms={:.2} baseline_ms_p99={:.2} ratio={:.2} what=store_query_audit_patient_limit{HISTORY_LIMIT}_audited baseline=plain_sql_patient_id_order_by_id_desc_limit{HISTORY_LIMIT} query_ms_max={:.2} queries={} rows_per_query={:.1} events={} patients={PATIENTS} users={USERS}",
                self.query_p50_ms,
                self.query_p99_ms,
                self.baseline_p50_ms,
                self.baseline_p99_ms,
                self.query_p50_ms / self.baseline_p50_ms,
                self.query_max_ms,
                self.queries,
                self.rows_per_query,
                self.events
            ),
        ]
    }
}

/// splitmix64: a small deterministic generator, enough to pick patients and actions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn patient_id(n: usize) -> String {
    format!("L{n:07}")
}

/// Audit event `i`: mostly reads of a patient's documents by doctors and nurses, as a day's log is.
fn event(i: usize, rng: &mut Rng, t0: i64) -> NewAuditEvent {
    let u = rng.below(USERS);
    let p = rng.below(PATIENTS);
    let role = if u.is_multiple_of(4) { "nurse" } else { "doctor" };
    let doc = format!("0190a000-0000-7000-8000-{:012x}", p * 64 + rng.below(64));
    let (action, document_id, version, content_hash) = match rng.below(10) {
        0..=5 => {
            (AuditAction::DocumentRead, Some(doc), Some(1), Some(format!("{:016x}{:016x}{:016x}{:016x}", rng.next(), rng.next(), i, p)))
        }
        6 | 7 => (AuditAction::DocumentList, None, None, None),
        _ => (AuditAction::PatientRead, None, None, None),
    };
    NewAuditEvent {
        time: Timestamp::from_micros(t0 + i as i64 * 1_000),
        user: Some(format!("user.{u:03}")),
        role: Some(role.into()),
        session: Some(format!("sess-{u:03}-{:04}", i / 50_000)),
        client_addr: Some(format!("10.1.{}.{}", u / 250, u % 250 + 1)),
        action,
        patient_id: Some(patient_id(p)),
        document_id,
        version,
        outcome: Outcome::Success,
        detail: None,
        content_hash,
    }
}

pub async fn run(plan: &Plan<'_>) -> Result<LogFigures> {
    let dir = common::temp_dir(plan.base, "kiroku-bench-p3-")?;
    let backend = Arc::new(SqliteBackend::open(&dir.path().join("kiroku.db")).await.context("opening the SQLite store")?);
    let store = Store::start(backend.clone());
    let fx = common::fixture(&store, 64, "bench-no-login".into()).await?;
    let admin = common::actor("admin", Role::Admin)?;
    store
        .execute(Command::CreateUser { actor: admin, user: common::user_record("auditor.bench", Role::Auditor, "bench-no-login".into())? })
        .await
        .context("create the auditor")?;
    let auditor = common::actor("auditor.bench", Role::Auditor)?;

    // Append: fill the log through the batched append path.
    note(format!("P3: appending {} audit events in transactions of {BATCH}", plan.events));
    let append_elapsed = fill(backend.as_ref(), plan.events).await?;
    let append_per_s = plan.events as f64 / append_elapsed.as_secs_f64();
    note(format!("P3: appended in {:.1} s ({append_per_s:.0} events/s)", append_elapsed.as_secs_f64()));

    // The same rows' size through the whole command path, for comparison.
    note(format!("P3: ReadPatient through the store from {COMMAND_TASKS} tasks for {} s", plan.command_secs));
    let store_cmds_per_s = store_commands(&store, &fx, Duration::from_secs(plan.command_secs)).await?;

    // The leaf data the baselines use, read back from the rows as verification reads them.
    let data = leaf_data(backend.as_ref(), HASH_SAMPLE_CAP).await?;
    if data.is_empty() {
        bail!("P3: the log holds no audit events");
    }
    let row_bytes = data.iter().map(String::len).sum::<usize>() as f64 / data.len() as f64;

    note(format!("P3: append baseline, {} bare inserts in transactions of {BATCH}", plan.events));
    let pool: Vec<&str> = data.iter().rev().take(ROW_POOL).map(String::as_str).collect();
    let baseline_elapsed = bare_inserts(&dir.path().join("baseline.db"), plan.events, &pool).await?;
    let append_baseline_per_s = plan.events as f64 / baseline_elapsed.as_secs_f64();

    // Verify: the whole store, then a bare SHA-256 loop over the leaf data.
    note("P3: verifying the whole store");
    let started = Instant::now();
    let report = verify::verify(backend.as_ref(), &|_| BlobState::Intact, None, &|_, _| {}).await.context("verifying the store")?;
    let verify_secs = started.elapsed().as_secs_f64();
    if !report.is_clean() {
        note(format!("P3: verification found {} problems; the first: {}", report.findings.len(), report.findings[0]));
    }
    let verify_per_s = report.leaves as f64 / verify_secs;
    let hash_per_s = hash_rate(&data);
    let hash_leaves = data.len();
    drop(data);

    // History: one patient's events through the store, then as plain SQL.
    let mut rng = Rng(0x5eed_0003);
    let patients: Vec<String> = (0..plan.queries + HISTORY_WARMUP).map(|_| patient_id(rng.below(PATIENTS))).collect();
    note(format!("P3: history baseline, {} plain SQL queries", plan.queries));
    let baseline = plain_history(&dir.path().join("kiroku.db"), &patients, plan.history_budget).await?;
    note(format!("P3: history, {} audited QueryAudit commands through the store", plan.queries));
    let (mut lat, rows) = store_history(&store, &auditor, &patients, plan.history_budget).await?;
    lat.sort_unstable();
    let queries = lat.len();

    drop(store);
    backend.close().await;
    Ok(LogFigures {
        events: plan.events,
        append_per_s,
        append_baseline_per_s,
        row_bytes,
        store_cmds_per_s,
        leaves: report.leaves,
        verify_per_s,
        verify_secs,
        hash_per_s,
        hash_leaves,
        clean: report.is_clean(),
        query_p50_ms: percentile_ms(&lat, 50.0),
        query_p99_ms: percentile_ms(&lat, 99.0),
        query_max_ms: lat.last().map_or(f64::NAN, |&us| f64::from(us) / 1000.0),
        baseline_p50_ms: percentile_ms(&baseline, 50.0),
        baseline_p99_ms: percentile_ms(&baseline, 99.0),
        queries,
        rows_per_query: rows as f64 / queries.max(1) as f64,
    })
}

/// Appends `n` generated events as the store's writer runs a batch of commands, [`BATCH`] per
/// durable commit: lock the log head (reloading the log's edge only if another writer moved it, as
/// `EngineState::begin_batch` does), one write number per event, `LogState::append_event`, then
/// `LogState::save` (the audit, leaf and node rows in multi-row statements, and the counters) and
/// the commit. Answers the time it took.
async fn fill(backend: &dyn Backend, n: usize) -> Result<Duration> {
    let mut rng = Rng(0x5eed_0001);
    let t0 = Timestamp::now().as_micros() - n as i64 * 1_000;
    let bar = progress(n, "P3 append");
    let started = Instant::now();
    let mut kept: Option<LogState> = None;
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let mut tx = backend.begin_write().await.context("begin")?;
        let head = tx.lock_head().await.context("lock the log head")?;
        let mut log = match kept.take() {
            Some(log) if log.matches(&head) => log,
            _ => LogState::new(ledger::load_frontier(tx.as_mut(), head.tree_size as u64).await.context("loading the log's edge")?, head),
        };
        for k in i..end {
            let seq = log.next_seq();
            log.append_event(seq, event(k, &mut rng, t0));
        }
        log.save(tx.as_mut()).await.context("writing the batch")?;
        tx.commit().await.context("commit")?;
        kept = Some(log);
        bar.inc((end - i) as u64);
        i = end;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(elapsed)
}

/// `ReadPatient` of the fixture's patients by its doctor from [`COMMAND_TASKS`] tasks for `secs`;
/// answers commands per second.
async fn store_commands(store: &Store, fx: &common::Fixture, secs: Duration) -> Result<f64> {
    let deadline = Instant::now() + secs;
    let started = Instant::now();
    let mut handles = Vec::with_capacity(COMMAND_TASKS);
    for t in 0..COMMAND_TASKS {
        let (store, actor, patients) = (store.clone(), fx.doctor.clone(), fx.patients.clone());
        handles.push(tokio::spawn(async move {
            let mut done = 0usize;
            let mut k = t;
            while Instant::now() < deadline {
                let patient_id: PatientId = patients[k % patients.len()].clone();
                store.execute(Command::ReadPatient { actor: actor.clone(), patient_id }).await.map_err(|e| anyhow!("ReadPatient: {e}"))?;
                done += 1;
                k += COMMAND_TASKS;
            }
            Ok::<_, anyhow::Error>(done)
        }));
    }
    let mut done = 0;
    for h in handles {
        done += h.await.context("a command task panicked")??;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// The leaf data of up to `cap` audit events, in id order, read from the rows.
async fn leaf_data(backend: &dyn Backend, cap: usize) -> Result<Vec<String>> {
    let mut tx = backend.begin_read().await.context("begin read")?;
    let mut out = Vec::new();
    let mut last = 0;
    while out.len() < cap {
        let page = tx.scan_audit(last, 2_000).await.context("scan_audit")?;
        let Some(tail) = page.last() else { break };
        last = tail.id;
        out.extend(page.iter().take(cap - out.len()).map(|ev| Leaf::Audit(ev).data()));
    }
    tx.rollback().await.context("rollback")?;
    Ok(out)
}

/// SHA-256 of every string, one after another; answers hashes per second.
fn hash_rate(data: &[String]) -> f64 {
    let started = Instant::now();
    let mut acc = [0u8; 32];
    for d in data {
        let h: [u8; 32] = Sha256::digest(d.as_bytes()).into();
        acc[0] ^= h[0];
    }
    std::hint::black_box(acc);
    data.len() as f64 / started.elapsed().as_secs_f64()
}

async fn connect(path: &Path, create: bool) -> Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .read_only(!create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .with_context(|| format!("opening {}", path.display()))
}

/// Inserts `n` rows cycling through `pool` into a fresh database, [`BATCH`] per transaction, with
/// the store's durability settings; answers the time the inserts took.
async fn bare_inserts(path: &Path, n: usize, pool: &[&str]) -> Result<Duration> {
    let mut conn = connect(path, true).await?;
    sqlx::query("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .context("creating the baseline table")?;
    let bar = progress(n, "P3 baseline");
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let mut tx = conn.begin().await.context("baseline begin")?;
        for k in i..end {
            sqlx::query("INSERT INTO rows (body) VALUES (?)")
                .bind(pool[k % pool.len()])
                .execute(&mut *tx)
                .await
                .context("baseline insert")?;
        }
        tx.commit().await.context("baseline commit")?;
        bar.inc((end - i) as u64);
        i = end;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    conn.close().await.context("closing the baseline database")?;
    Ok(elapsed)
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

const COLS: &str =
    "id, seq, time, username, role, session, client_addr, action, patient_id, document_id, version, outcome, detail, content_hash";

/// The history query as plain SQL on its own read-only connection; answers sorted latencies (µs).
async fn plain_history(path: &Path, patients: &[String], budget: Duration) -> Result<Vec<u32>> {
    let mut conn = connect(path, false).await?;
    let plain = format!("SELECT {COLS} FROM audit_events WHERE patient_id = $1 ORDER BY id DESC LIMIT $2");
    let mut lat = Vec::with_capacity(patients.len());
    let started = Instant::now();
    for (n, p) in patients.iter().enumerate() {
        let t = Instant::now();
        let rows = sqlx::query(sqlx::AssertSqlSafe(plain.as_str()))
            .bind(p.as_str())
            .bind(HISTORY_LIMIT)
            .fetch_all(&mut conn)
            .await
            .context("the plain history query")?;
        let took = t.elapsed();
        std::hint::black_box(rows);
        if n >= HISTORY_WARMUP {
            lat.push(micros(took));
            if lat.len() >= 10 && started.elapsed() > budget {
                note(format!("P3: plain history stopped after {} queries ({} s budget)", lat.len(), budget.as_secs()));
                break;
            }
        }
    }
    conn.close().await.context("closing the query connection")?;
    lat.sort_unstable();
    Ok(lat)
}

/// The history query through the store, one at a time; answers latencies (µs) and rows returned.
async fn store_history(store: &Store, auditor: &kiroku_store::Actor, patients: &[String], budget: Duration) -> Result<(Vec<u32>, usize)> {
    let mut lat = Vec::with_capacity(patients.len());
    let mut rows = 0;
    let started = Instant::now();
    for (n, p) in patients.iter().enumerate() {
        let filter = AuditFilter { patient_id: Some(p.clone()), ..AuditFilter::default() };
        let t = Instant::now();
        let events = store
            .execute(Command::QueryAudit { actor: auditor.clone(), filter, limit: HISTORY_LIMIT, export: false })
            .await
            .context("QueryAudit")?
            .into_audit()
            .context("QueryAudit reply")?;
        let took = t.elapsed();
        if n >= HISTORY_WARMUP {
            lat.push(micros(took));
            rows += events.len();
            if lat.len() >= 10 && started.elapsed() > budget {
                note(format!("P3: history stopped after {} queries ({} s budget)", lat.len(), budget.as_secs()));
                break;
            }
        }
    }
    Ok((lat, rows))
}
