//! P2: audited reads of a document by id over HTTP. The real server runs in this process on its own
//! runtime (threads `kb-server*`); the load generator runs on another (`kb-client*`) with `clients`
//! concurrent keep-alive connections asking `GET /api/v1/documents/{random id}` for a fixed time.
//! Baseline: the same server, clients and duration on `GET /healthz` (no login, no audit; it asks
//! the database for its schema version).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kiroku_blob::BlobStore;
use kiroku_server::{AppState, Settings};
use kiroku_store::Store;
use kiroku_store_sqlite::SqliteBackend;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::common::{self, CpuUse, DOCTOR, note, percentile_ms, progress};

const PASSWORD: &str = "Bench-Doctor-Passw0rd!#2024";
const WARMUP: Duration = Duration::from_secs(2);

pub struct Reads {
    pub reads_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub baseline_per_s: f64,
    pub baseline_p99_ms: f64,
    pub clients: usize,
    pub secs: u64,
    pub docs: usize,
    pub errors: usize,
    /// CPU use while the reads were measured: the load generator's share of it, cores busy.
    pub cpu: CpuUse,
    pub baseline_cpu: CpuUse,
}

impl Reads {
    pub fn line(&self) -> String {
        format!(
            "P2 reads reads_per_s={:.0} p50_ms={:.2} p99_ms={:.2} baseline_reads_per_s={:.0} ratio={:.2} baseline=healthz baseline_p99_ms={:.2} clients={} secs={} docs={} errors={} client_cpu_share={:.2} cpu_cores_busy={:.2} baseline_client_cpu_share={:.2} baseline_cpu_cores_busy={:.2}",
            self.reads_per_s,
            self.p50_ms,
            self.p99_ms,
            self.baseline_per_s,
            self.reads_per_s / self.baseline_per_s,
            self.baseline_p99_ms,
            self.clients,
            self.secs,
            self.docs,
            self.errors,
            self.cpu.client_share,
            self.cpu.cores_busy,
            self.baseline_cpu.client_share,
            self.baseline_cpu.cores_busy
        )
    }
}

pub struct Plan<'a> {
    pub base: Option<&'a Path>,
    pub docs: usize,
    pub load_tasks: usize,
    pub clients: usize,
    pub secs: u64,
    pub cores: usize,
}

/// Runs P2; `client_rt` is the load generator's runtime, the server gets a runtime of its own.
pub fn run(plan: &Plan<'_>, client_rt: &Runtime) -> Result<Reads> {
    let dir = common::temp_dir(plan.base, "kiroku-bench-p2-")?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.cores)
        .thread_name("kb-server")
        .enable_all()
        .build()
        .context("building the server runtime")?;

    // The server's side: store, accounts, preloaded documents, then the HTTP server.
    let (docs, ids, backend, base_url, stop, served) = server_rt.block_on(async {
        let backend = Arc::new(SqliteBackend::open(&dir.path().join("kiroku.db")).await.context("opening the SQLite store")?);
        let store = Store::start(backend.clone());
        let hash = tokio::task::spawn_blocking(|| kiroku_auth::password::hash(PASSWORD))
            .await
            .context("hashing task")?
            .context("hashing the password")?;
        let patients = (plan.docs / 1000).clamp(16, 1000);
        let fx = Arc::new(common::fixture(&store, patients, hash).await?);
        note(format!("P2: preloading {} confirmed documents for {patients} patients", plan.docs));
        let bar = progress(plan.docs, "P2 preload");
        let loaded = common::load(&store, fx, plan.docs, plan.load_tasks, true, &bar).await?;
        if loaded.failed > 0 {
            bail!("P2: preloading failed for {} documents; the first: {}", loaded.failed, loaded.first_error.unwrap_or_default());
        }
        note(format!(
            "P2: preloaded in {:.1} s ({:.0} docs/s)",
            loaded.elapsed.as_secs_f64(),
            loaded.ok as f64 / loaded.elapsed.as_secs_f64()
        ));
        let ids: Vec<String> = loaded.ids.into_iter().map(String::from).collect();
        let blobs = BlobStore::open(dir.path().join("blobs")).context("opening the blob store")?;
        let state = AppState::new(store, blobs, Settings::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(kiroku_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok::<_, anyhow::Error>((loaded.ok, ids, backend, format!("http://{addr}"), stop, served))
    })?;

    let ids = Arc::new(ids);
    let measured = client_rt.block_on(async {
        let token = login(&base_url).await?;
        note(format!("P2: warming up for {} s", WARMUP.as_secs()));
        hammer(&format!("{base_url}/api/v1/documents/"), Some(&token), ids.clone(), plan.clients, WARMUP).await?;
        let secs = Duration::from_secs(plan.secs);
        note(format!("P2: baseline, GET /healthz from {} clients for {} s", plan.clients, plan.secs));
        let cpu = common::CpuWatch::start("kb-client");
        let baseline = hammer(&format!("{base_url}/healthz"), None, Arc::new(Vec::new()), plan.clients, secs).await?;
        let baseline_cpu = cpu.stop();
        note(format!("P2: GET /api/v1/documents/{{id}} from {} clients for {} s", plan.clients, plan.secs));
        let cpu = common::CpuWatch::start("kb-client");
        let reads = hammer(&format!("{base_url}/api/v1/documents/"), Some(&token), ids.clone(), plan.clients, secs).await?;
        let reads_cpu = cpu.stop();
        Ok::<_, anyhow::Error>((baseline, reads, baseline_cpu, reads_cpu))
    });

    // Stop the server whatever happened to the measurement.
    let _ = stop.send(());
    server_rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(10), served).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => note(format!("P2: the server stopped with an error: {e}")),
            Ok(Err(e)) => note(format!("P2: the server task failed: {e}")),
            Err(_) => note("P2: the server did not stop within 10 s"),
        }
        backend.close().await;
    });
    server_rt.shutdown_timeout(Duration::from_secs(5));

    let (baseline, reads, baseline_cpu, reads_cpu) = measured?;
    if reads.ok == 0 {
        bail!("P2: no read succeeded; the first failure: {}", reads.first_error.unwrap_or_default());
    }
    if baseline.ok == 0 {
        bail!("P2: no health check succeeded; the first failure: {}", baseline.first_error.unwrap_or_default());
    }
    if let Some(e) = reads.first_error.as_ref().or(baseline.first_error.as_ref()) {
        note(format!("P2: {} reads and {} health checks failed; the first: {e}", reads.errors, baseline.errors));
    }
    Ok(Reads {
        reads_per_s: reads.per_s(),
        p50_ms: percentile_ms(&reads.latencies_us, 50.0),
        p99_ms: percentile_ms(&reads.latencies_us, 99.0),
        baseline_per_s: baseline.per_s(),
        baseline_p99_ms: percentile_ms(&baseline.latencies_us, 99.0),
        clients: plan.clients,
        secs: plan.secs,
        docs,
        errors: reads.errors + baseline.errors,
        cpu: reads_cpu,
        baseline_cpu,
    })
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder().no_proxy().build().context("building an HTTP client")
}

/// Logs in as the bench doctor and answers the bearer token.
async fn login(base_url: &str) -> Result<String> {
    let response = http_client()?
        .post(format!("{base_url}/api/v1/auth/login"))
        .json(&json!({ "username": DOCTOR, "password": PASSWORD }))
        .send()
        .await
        .context("POST /api/v1/auth/login")?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the login answer")?;
    if !status.is_success() {
        bail!("login failed with {status}: {body}");
    }
    if body["must_change_password"].as_bool() == Some(true) {
        bail!("the bench doctor must change the password: {body}");
    }
    body["token"].as_str().map(str::to_string).ok_or_else(|| anyhow!("the login answer has no token: {body}"))
}

/// What the load generator saw.
struct Hammered {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    /// Latencies of successful requests, sorted, in microseconds.
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

impl Hammered {
    fn per_s(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` tasks, each with its own keep-alive connection, send GET requests for `duration`:
/// to `prefix` + a random element of `ids`, or to `prefix` alone when `ids` is empty.
async fn hammer(prefix: &str, token: Option<&str>, ids: Arc<Vec<String>>, clients: usize, duration: Duration) -> Result<Hammered> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients.max(1) {
        let (client, prefix, token, ids) = (http_client()?, prefix.to_string(), token.map(str::to_string), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = SplitMix(0x9E37_79B9_7F4A_7C15 ^ (c as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
            let (mut ok, mut errors, mut first_error, mut latencies) = (0usize, 0usize, None::<String>, Vec::with_capacity(1 << 16));
            while Instant::now() < deadline {
                let url = if ids.is_empty() { prefix.clone() } else { format!("{prefix}{}", ids[rng.below(ids.len())]) };
                let mut request = client.get(&url);
                if let Some(t) = &token {
                    request = request.bearer_auth(t);
                }
                let t0 = Instant::now();
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(body) => Err(format!("{status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]))),
                            Err(e) => Err(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("request: {e}")),
                };
                let took = t0.elapsed();
                match outcome {
                    Ok(()) => {
                        ok += 1;
                        latencies.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (ok, errors, first_error, latencies)
        }));
    }
    let mut out = Hammered { ok: 0, errors: 0, first_error: None, latencies_us: Vec::new(), elapsed: Duration::ZERO };
    for t in tasks {
        let (ok, errors, first_error, latencies) = t.await.context("a client task panicked")?;
        out.ok += ok;
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
        out.latencies_us.extend(latencies);
    }
    out.elapsed = started.elapsed();
    out.latencies_us.sort_unstable();
    Ok(out)
}

/// A small deterministic generator for picking ids (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}
