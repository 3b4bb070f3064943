//! What the figures share: the accounts and patients a run needs, 1 KiB documents, progress bars,
//! facts about the machine, and per-thread CPU accounting.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use kiroku_core::{DocumentId, InfoClass, PatientId, Role, Timestamp, Username};
use kiroku_store::command::NewDocument;
use kiroku_store::{Actor, Command, NewPatient, Sex, Store, UserRecord};
use serde_json::{Value, json};

/// The serialized size of every benchmark document body, in bytes.
pub const BODY_BYTES: usize = 1024;

/// A document body whose JSON text is exactly [`BODY_BYTES`] long and differs per document.
pub fn doc_body(i: usize) -> Value {
    // `{"text":"…"}` adds 11 bytes around the text.
    let want = BODY_BYTES - 11;
    let mut text = format!("#{i} 主訴: 咳嗽。");
    let filler = ['経', '過', '観', '察', '。', '発', '熱', 'な', 'し', '、', '食', '欲', '良', '好', '。'];
    let mut k = i;
    while text.len() + 3 <= want {
        text.push(filler[k % filler.len()]);
        k += 1;
    }
    while text.len() < want {
        text.push('.');
    }
    json!({ "text": text })
}

/// The same body as stored text, for the bare SQLite baseline.
pub fn doc_body_text(i: usize) -> Result<String> {
    serde_json::to_string(&doc_body(i)).context("serializing a document body")
}

fn username(s: &str) -> Result<Username> {
    Username::parse(s).map_err(|e| anyhow!("username {s}: {e}"))
}

pub fn user_record(name: &str, role: Role, password_hash: String) -> Result<UserRecord> {
    let now = Timestamp::now();
    Ok(UserRecord {
        username: username(name)?,
        display_name: format!("{name} (bench)"),
        role,
        kind: kiroku_core::identity::AccountKind::Staff,
        password_hash,
        must_change_password: false,
        disabled: false,
        failed_logins: 0,
        locked_until: None,
        created_at: now,
        last_login_at: None,
        password_changed_at: now,
    })
}

pub fn actor(name: &str, role: Role) -> Result<Actor> {
    Ok(Actor {
        username: username(name)?,
        role,
        session: Some(format!("bench-{name}")),
        client_addr: Some("127.0.0.1".into()),
        scope: None,
    })
}

/// The doctor who writes and confirms, and the patients the documents belong to.
pub struct Fixture {
    pub doctor: Actor,
    pub patients: Vec<PatientId>,
}

pub const DOCTOR: &str = "dr.bench";

/// Bootstraps an empty store: an administrator, a clerk, the doctor `dr.bench` with
/// `doctor_hash` as password hash, and `patients` patients.
pub async fn fixture(store: &Store, patients: usize, doctor_hash: String) -> Result<Fixture> {
    store.execute(Command::Bootstrap { admin: user_record("admin", Role::Admin, "bench-no-login".into())? }).await.context("bootstrap")?;
    let admin = actor("admin", Role::Admin)?;
    store
        .execute(Command::CreateUser { actor: admin.clone(), user: user_record(DOCTOR, Role::Doctor, doctor_hash)? })
        .await
        .context("create the doctor")?;
    store
        .execute(Command::CreateUser { actor: admin, user: user_record("clerk.bench", Role::Clerk, "bench-no-login".into())? })
        .await
        .context("create the clerk")?;
    let clerk = actor("clerk.bench", Role::Clerk)?;
    let mut ids = Vec::with_capacity(patients);
    for n in 0..patients.max(1) {
        let patient_id = PatientId::parse(format!("B{n:07}")).map_err(|e| anyhow!("patient id: {e}"))?;
        let new = NewPatient {
            patient_id: patient_id.clone(),
            name: "山田 太郎".into(),
            name_kana: "ヤマダ タロウ".into(),
            birth_date: "1970-04-01".into(),
            sex: Sex::Male,
        };
        store
            .execute(Command::CreatePatient { actor: clerk.clone(), patient: new })
            .await
            .with_context(|| format!("create patient {patient_id}"))?;
        ids.push(patient_id);
    }
    Ok(Fixture { doctor: actor(DOCTOR, Role::Doctor)?, patients: ids })
}

/// Creates document `i` and confirms it, through the store's writer as the server does.
pub async fn create_and_confirm(store: &Store, fx: &Fixture, i: usize) -> Result<DocumentId> {
    let patient_id = fx.patients[i % fx.patients.len()].clone();
    let document = NewDocument {
        doc_type: "progress_note".into(),
        title: "経過記録".into(),
        body: doc_body(i),
        info_class: InfoClass::Normal,
        on_behalf_of: None,
    };
    let view = store.execute(Command::CreateDocument { actor: fx.doctor.clone(), patient_id, document }).await?.into_document()?;
    store.execute(Command::Confirm { actor: fx.doctor.clone(), id: view.id.clone(), if_match: Some(view.version) }).await?;
    Ok(view.id)
}

/// The outcome of creating and confirming many documents concurrently.
pub struct Loaded {
    /// Documents both created and confirmed.
    pub ok: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub ids: Vec<DocumentId>,
    pub elapsed: Duration,
}

/// Creates and confirms `n` documents from `tasks` concurrent tasks on the current runtime.
pub async fn load(store: &Store, fx: Arc<Fixture>, n: usize, tasks: usize, keep_ids: bool, bar: &ProgressBar) -> Result<Loaded> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks.max(1) {
        let (store, fx, next, bar) = (store.clone(), fx.clone(), next.clone(), bar.clone());
        handles.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut first_error, mut ids) = (0usize, 0usize, None, Vec::new());
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= n {
                    break;
                }
                match create_and_confirm(&store, &fx, i).await {
                    Ok(id) => {
                        ok += 1;
                        if keep_ids {
                            ids.push(id);
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
                bar.inc(1);
            }
            (ok, failed, first_error, ids)
        }));
    }
    let mut out =
        Loaded { ok: 0, failed: 0, first_error: None, ids: Vec::with_capacity(if keep_ids { n } else { 0 }), elapsed: Duration::ZERO };
    for h in handles {
        let (ok, failed, first_error, ids) = h.await.context("a load task panicked")?;
        out.ok += ok;
        out.failed += failed;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
        out.ids.extend(ids);
    }
    out.elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(out)
}

/// A progress bar on stderr when it is a terminal, otherwise nothing.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// A status line on stderr; stdout carries only the result lines.
pub fn note(text: impl AsRef<str>) {
    eprintln!("kiroku-bench: {}", text.as_ref());
}

/// A fresh temporary directory under `base` (or the system's temporary directory).
pub fn temp_dir(base: Option<&Path>, prefix: &str) -> Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    match base {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            b.tempdir_in(dir).with_context(|| format!("cannot create a temporary directory in {}", dir.display()))
        }
        None => b.tempdir().context("cannot create a temporary directory"),
    }
}

/// Facts about the machine for the first line.
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub mem_gib: f64,
    /// File system type of the directory the databases go to (tmpfs would make fsync free).
    pub fs: String,
    /// The 1-minute load average when the run began: other work on the machine skews every figure.
    pub load1: f64,
}

impl Machine {
    pub fn probe(dir: &Path) -> Machine {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
            .unwrap_or_else(|| "unknown".into());
        let cpu: String = cpu.split_whitespace().collect::<Vec<_>>().join("_");
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let load1 = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(f64::NAN);
        Machine { cores, cpu, mem_gib: mem_kib / 1024.0 / 1024.0, fs: fs_type(dir), load1 }
    }
}

/// The type of the file system holding `dir`, from the longest matching mount point.
fn fs_type(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_dev), Some(mount), Some(kind)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let mount = PathBuf::from(mount.replace("\\040", " "));
        if dir.starts_with(&mount) {
            let len = mount.as_os_str().len();
            if best.as_ref().is_none_or(|(l, _)| len >= *l) {
                best = Some((len, kind.to_string()));
            }
        }
    }
    best.map_or_else(|| "unknown".into(), |(_, k)| k)
}

/// CPU time (clock ticks) of this process's threads, split by whether the thread's name starts
/// with `prefix`: (matching, others). Threads that ended are not counted.
fn cpu_ticks_split(prefix: &str) -> (u64, u64) {
    let (mut mine, mut others) = (0, 0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return (0, 0) };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = &stat[open + 1..close];
        // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if name.starts_with(prefix) {
            mine += ticks;
        } else {
            others += ticks;
        }
    }
    (mine, others)
}

/// Linux reports thread CPU times in USER_HZ ticks, which is 100 on every architecture it runs on.
const TICKS_PER_S: f64 = 100.0;

/// Measures this process's CPU use over an interval.
pub struct CpuWatch {
    prefix: &'static str,
    started: Instant,
    ticks: (u64, u64),
}

/// CPU use over an interval.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// The share of the process's CPU time used by threads named with the watched prefix.
    pub client_share: f64,
    /// CPU seconds per second of the whole process: 2.0 means two cores fully busy.
    pub cores_busy: f64,
}

impl CpuWatch {
    /// Starts watching; threads whose name starts with `prefix` are counted apart.
    pub fn start(prefix: &'static str) -> CpuWatch {
        CpuWatch { prefix, started: Instant::now(), ticks: cpu_ticks_split(prefix) }
    }

    pub fn stop(self) -> CpuUse {
        let now = cpu_ticks_split(self.prefix);
        let (mine, others) = (now.0.saturating_sub(self.ticks.0), now.1.saturating_sub(self.ticks.1));
        let total = (mine + others) as f64;
        CpuUse {
            client_share: if total > 0.0 { mine as f64 / total } else { f64::NAN },
            cores_busy: total / TICKS_PER_S / self.started.elapsed().as_secs_f64(),
        }
    }
}

/// The nearest-rank percentile `p` (0..=100) of sorted microsecond latencies, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_one_kibibyte() {
        for i in [0, 7, 12_345, 999_999] {
            assert_eq!(doc_body_text(i).map(|t| t.len()).ok(), Some(BODY_BYTES), "body {i}");
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&[5000], 99.0), 5.0);
    }
}
