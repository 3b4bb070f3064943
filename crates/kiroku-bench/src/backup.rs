//! B1: backup and restore throughput. A store of documents created and confirmed through the real
//! write path plus a blob store of 1 MiB files is backed up online (`kiroku_backup::create::create`
//! into a folder target: SQLite snapshot, age encryption, SHA-256 before and after, fsync) and then
//! restored into an empty folder (`restore::restore`: every object re-hashed and decrypted).
//! Baseline, on the same data directory: `tar` into one archive, `sync`, and `sha256sum` of it; and
//! for restore `sha256sum` plus `tar -x` of that archive.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kiroku_backup::{DirTarget, Protection};
use kiroku_blob::BlobStore;
use kiroku_store::Store;
use kiroku_store_sqlite::SqliteBackend;
use sha2::{Digest, Sha256};

use crate::common::{self, note, progress};

pub struct Backup {
    pub docs: usize,
    pub bytes: u64,
    pub backup: Duration,
    pub restore: Duration,
    pub incremental: Duration,
    pub baseline_backup: Duration,
    pub baseline_restore: Duration,
}

impl Backup {
    pub fn line(&self) -> String {
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        let rate = |d: Duration| mib / d.as_secs_f64();
        format!(
            "B1 backup backup_mib_per_s={:.0} baseline_mib_per_s={:.0} ratio={:.2} restore_mib_per_s={:.0} baseline_restore_mib_per_s={:.0} restore_ratio={:.2} incremental_s={:.1} data_mib={mib:.0} docs={} baseline=tar+sync+sha256sum",
            rate(self.backup),
            rate(self.baseline_backup),
            self.baseline_backup.as_secs_f64() / self.backup.as_secs_f64(),
            rate(self.restore),
            rate(self.baseline_restore),
            self.baseline_restore.as_secs_f64() / self.restore.as_secs_f64(),
            self.incremental.as_secs_f64(),
            self.docs,
        )
    }
}

pub async fn run(base: Option<&Path>, docs: usize, blob_mib: usize, tasks: usize) -> Result<Backup> {
    let dir = common::temp_dir(base, "kiroku-bench-b1-")?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).context("creating the data directory")?;
    let backend: Arc<dyn kiroku_store::Backend> =
        Arc::new(SqliteBackend::open(&data.join("kiroku.db")).await.context("opening the store")?);
    let store = Store::start(backend.clone());
    let fx = Arc::new(common::fixture(&store, 64, "bench-no-login".into()).await?);
    note(format!("B1: creating and confirming {docs} documents"));
    let loaded = common::load(&store, fx, docs, tasks, false, &progress(docs, "B1 documents")).await?;
    if loaded.failed > 0 {
        bail!("B1: {} documents failed: {}", loaded.failed, loaded.first_error.unwrap_or_default());
    }
    note(format!("B1: writing {blob_mib} files of 1 MiB"));
    let blobs = BlobStore::open(data.join("blobs")).context("opening the file store")?;
    write_blobs(&blobs, blob_mib)?;
    let bytes = du(&data)?;

    let target = DirTarget::open(dir.path().join("target"))?;
    let identity = kiroku_backup::crypt::new_identity();
    let recipient = identity.to_public().to_string();
    kiroku_backup::init_target(&target, Protection::Recipient(&recipient)).await?;
    let source = kiroku_backup::create::Source {
        store: &store,
        backend: &backend,
        blobs: &blobs,
        config_file: None,
        keys: None,
        work_dir: data.clone(),
        log_key: None,
    };
    let options = kiroku_backup::create::Options { retain_until: None };
    let quiet = |_: &'static str, _: u64, _: u64| {};

    note("B1: backup (online, while the store is open)");
    let t = Instant::now();
    let m = kiroku_backup::create::create(&source, &target, &options, &quiet).await?;
    let backup = t.elapsed();
    // The next backup only adds what changed: here, nothing but the database.
    let t = Instant::now();
    kiroku_backup::create::create(&source, &target, &options, &quiet).await?;
    let incremental = t.elapsed();

    note("B1: restore");
    let t = Instant::now();
    kiroku_backup::restore::restore(&target, &m.generation, &identity, None, &dir.path().join("restored"), &quiet).await?;
    let restore = t.elapsed();

    note("B1: baseline tar + sync + sha256sum");
    let archive = dir.path().join("baseline.tar");
    let t = Instant::now();
    shell(&format!("tar -cf '{0}' -C '{1}' data && sync '{0}' && sha256sum '{0}' >/dev/null", archive.display(), dir.path().display()))?;
    let baseline_backup = t.elapsed();
    let out = dir.path().join("baseline-restored");
    std::fs::create_dir_all(&out).context("creating the baseline's folder")?;
    let t = Instant::now();
    shell(&format!("sha256sum '{0}' >/dev/null && tar -xf '{0}' -C '{1}' && sync", archive.display(), out.display()))?;
    let baseline_restore = t.elapsed();
    drop(store);
    Ok(Backup { docs: loaded.ok, bytes, backup, restore, incremental, baseline_backup, baseline_restore })
}

/// Files of 1 MiB that do not compress (SHA-256 in counter mode), as scans and PDFs mostly are.
fn write_blobs(blobs: &BlobStore, mib: usize) -> Result<()> {
    let bar = progress(mib, "B1 files");
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..mib {
        for (j, chunk) in buf.chunks_mut(32).enumerate() {
            let d = Sha256::digest(format!("{i}:{j}").as_bytes());
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        blobs.put_bytes(&buf, u64::MAX).map_err(|e| anyhow::anyhow!("writing a file: {e}"))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn du(dir: &Path) -> Result<u64> {
    let out = Command::new("du").args(["-sb"]).arg(dir).output().context("running du")?;
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().and_then(|n| n.parse().ok()).context("reading du's answer")
}

fn shell(script: &str) -> Result<()> {
    let status = Command::new("sh").arg("-c").arg(script).status().context("running the baseline")?;
    if !status.success() {
        bail!("the baseline failed: {script}");
    }
    Ok(())
}
