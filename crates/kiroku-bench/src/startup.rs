//! P6: start-up and idle memory of the real `kiroku` binary. `kiroku serve` is started twice on
//! one data directory (the first start initialises it, the second is a warm start); ready is when
//! `GET /healthz` first answers 200. Baseline: spawning and waiting for `/bin/true`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::{self, note};

const IDLE: Duration = Duration::from_secs(2);
const BASELINE_RUNS: usize = 10;

pub struct Startup {
    pub ready_ms: f64,
    pub first_ms: f64,
    pub baseline_ms: f64,
    pub idle_rss_mb: f64,
}

impl Startup {
    pub fn line(&self) -> String {
        format!(
            "P6 startup ready_ms={:.1} baseline_ms={:.2} idle_rss_mb={:.1} first_ms={:.1} baseline=spawn_bin_true",
            self.ready_ms, self.baseline_ms, self.idle_rss_mb, self.first_ms
        )
    }
}

/// The `kiroku` binary: `explicit`, or beside this program (where `cargo build --release` puts it).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .context("cannot find this program's path")?
            .parent()
            .ok_or_else(|| anyhow!("this program's path has no directory"))?
            .join("kiroku"),
    };
    if !path.is_file() {
        bail!(
            "P6 starts the real kiroku binary, expected at {}, which does not exist.\n\
             Build it first:  cargo build --release -p kiroku-cli\n\
             (or pass --kiroku-bin PATH, or leave P6 out with --only P1,P2)",
            path.display()
        );
    }
    Ok(path)
}

pub async fn run(bin: &Path, base: Option<&Path>) -> Result<Startup> {
    let dir = common::temp_dir(base, "kiroku-bench-p6-")?;
    let data_dir = dir.path().join("data");

    note(format!("P6: first start of {} (initialises the data directory)", bin.display()));
    let (first, _) = start_measure_stop(bin, &data_dir, false).await?;
    note("P6: warm start");
    let (warm, rss) = start_measure_stop(bin, &data_dir, true).await?;
    let rss = rss.ok_or_else(|| anyhow!("could not read VmRSS of kiroku serve"))?;

    let mut spawns = Vec::with_capacity(BASELINE_RUNS);
    for _ in 0..BASELINE_RUNS {
        let t0 = Instant::now();
        let status = Command::new("/bin/true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("running /bin/true")?;
        spawns.push(t0.elapsed());
        if !status.success() {
            bail!("/bin/true failed: {status}");
        }
    }
    spawns.sort();
    let baseline = spawns[spawns.len() / 2];
    Ok(Startup { ready_ms: ms(warm), first_ms: ms(first), baseline_ms: ms(baseline), idle_rss_mb: rss })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Starts `kiroku serve`, answers the time until /healthz answers 200 and, when `idle_rss`, the
/// resident memory in MiB after [`IDLE`]; then stops it with SIGTERM.
async fn start_measure_stop(bin: &Path, data_dir: &Path, idle_rss: bool) -> Result<(Duration, Option<f64>)> {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KIROKU_") {
            cmd.env_remove(&k);
        }
    }
    cmd.arg("--data-dir").arg(data_dir).args(["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("KIROKU_LOG", "warn").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);

    let t0 = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
    let measured = measure(&mut child, t0, idle_rss).await;
    stop(&mut child).await;
    measured
}

async fn measure(child: &mut Child, t0: Instant, idle_rss: bool) -> Result<(Duration, Option<f64>)> {
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout from kiroku serve"))?;
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("kiroku: listening on ") {
                return Ok(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
        Err(anyhow!("kiroku serve ended without printing its listening line"))
    })
    .await
    .map_err(|_| anyhow!("kiroku serve printed no listening line within 30 s"))??;
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let client = reqwest::Client::builder().no_proxy().build().context("building an HTTP client")?;
    let url = format!("{base}/healthz");
    let ready = loop {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => break t0.elapsed(),
            _ if t0.elapsed() > Duration::from_secs(30) => bail!("{url} did not answer 200 within 30 s"),
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    };
    drop(client);
    if !idle_rss {
        return Ok((ready, None));
    }
    tokio::time::sleep(IDLE).await;
    let pid = child.id().ok_or_else(|| anyhow!("kiroku serve already exited"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib: Option<f64> =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|r| r.split_whitespace().next()).and_then(|v| v.parse().ok());
    Ok((ready, kib.map(|k| k / 1024.0)))
}

/// SIGTERM (a clean shutdown, so the next start is a warm one rather than a crash recovery), then
/// SIGKILL if it has not ended within 10 s.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_ok() {
            return;
        }
        note("P6: kiroku serve did not stop within 10 s of SIGTERM; killing it");
    }
    let _ = child.kill().await;
}
