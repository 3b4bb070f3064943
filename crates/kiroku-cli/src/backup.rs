//! `kiroku backup …` and `kiroku restore`: generations on a target, checks without restoring,
//! restore into an empty data directory, and restore drills recorded in the audit trail.
//!
//! Secrets (passphrases, identities) are read from files, never from the command line, so they do
//! not appear in the process list or the shell's history.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kiroku_backup::check::{CheckOptions, CheckReport};
use kiroku_backup::generations::{self, Retention};
use kiroku_backup::{DirTarget, Protection, Target};
use kiroku_core::{AuditAction, Outcome};
use kiroku_store::{Command, Store};
use serde_json::json;

use crate::open::{Opened, open, start};

#[derive(Args)]
pub struct TargetArg {
    /// The backup target: a folder, or s3://bucket/prefix (credentials and endpoint from the AWS_*
    /// variables). Default: `backup.target` in kiroku.toml.
    #[arg(long)]
    target: Option<String>,
}

#[derive(Args)]
pub struct KeyArgs {
    /// A file holding the target's passphrase.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// An age identity file (AGE-SECRET-KEY-1…) for a target made with --recipient.
    #[arg(long)]
    identity_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum BackupCmd {
    /// Make a folder a backup target, protected by a passphrase or by your own age key.
    Init {
        #[command(flatten)]
        target: TargetArg,
        /// A file holding the passphrase (16+ characters) that will be needed to restore.
        #[arg(long, conflicts_with = "recipient")]
        passphrase_file: Option<PathBuf>,
        /// Encrypt to this age recipient (age1…); keep its identity file offline.
        #[arg(long)]
        recipient: Option<String>,
        /// For an s3:// target: create the bucket first, with Object Lock (write-once) enabled.
        #[arg(long)]
        create_bucket: bool,
    },
    /// Write a new generation while kiroku keeps running, then prune by the retention policy.
    Create {
        #[command(flatten)]
        target: TargetArg,
        /// Also copy the data directory's keys, encrypted with the passphrase in this file.
        #[arg(long)]
        keys_passphrase_file: Option<PathBuf>,
        /// Keep every generation (no pruning after the backup).
        #[arg(long)]
        no_prune: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the generations on the target.
    List {
        #[command(flatten)]
        target: TargetArg,
        #[arg(long)]
        json: bool,
    },
    /// Check a generation without restoring it; exit 1 when anything does not match.
    Verify {
        #[command(flatten)]
        target: TargetArg,
        /// The generation to check (default: the newest complete one).
        #[arg(long)]
        generation: Option<String>,
        #[command(flatten)]
        keys: KeyArgs,
        #[arg(long)]
        json: bool,
    },
    /// Remove generations beyond the retention policy, and files no kept generation needs.
    Prune {
        #[command(flatten)]
        target: TargetArg,
    },
    /// Write a new age identity (private key) to a file and print its recipient (public key).
    Keygen {
        /// Where to write the identity; it is created with mode 0600 and must not exist.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    target: TargetArg,
    /// The generation to restore (default: the newest complete one).
    #[arg(long)]
    generation: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
    /// Restore the keys too, with the passphrase of their copy in this file.
    #[arg(long)]
    keys_passphrase_file: Option<PathBuf>,
    /// An empty folder to restore into; it becomes a data directory.
    #[arg(long, required_unless_present = "drill", conflicts_with = "drill")]
    into: Option<PathBuf>,
    /// Restore into a temporary folder, verify, report, record the drill in the audit trail, and
    /// remove the copy.
    #[arg(long)]
    drill: bool,
    /// The log's public key (as `kiroku log key` prints it) that must have signed the manifest.
    /// Default: the data directory's log key, else the keys restored with --keys-passphrase-file.
    #[arg(long)]
    log_key: Option<String>,
    /// Restore even when the manifest's signature cannot be checked (no log key at hand).
    #[arg(long)]
    allow_unsigned: bool,
    /// For a PostgreSQL backup: the empty database (postgres://…) to restore it into. A drill
    /// without it creates a temporary database on the live server and drops it afterwards.
    #[arg(long, env = "KIROKU_RESTORE_DATABASE_URL", hide_env_values = true)]
    restore_database_url: Option<String>,
    #[arg(long)]
    json: bool,
}

fn read_secret(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        bail!("the {what} file {} is empty", path.display());
    }
    Ok(secret)
}

fn target_of(arg: &TargetArg, opened: Option<&Opened>) -> Result<Box<dyn Target>> {
    let spec = match (&arg.target, opened) {
        (Some(t), _) => t.clone(),
        (None, Some(o)) if !o.config.backup.target.is_empty() => o.config.backup.target.clone(),
        _ => bail!("no backup target: give --target or set backup.target in kiroku.toml"),
    };
    if spec.starts_with("s3://") {
        return Ok(Box::new(kiroku_backup::s3::S3Target::new(kiroku_backup::s3::S3Config::from_url_and_env(&spec)?)?));
    }
    Ok(Box::new(DirTarget::open(&spec)?))
}

fn retention(opened: &Opened) -> Retention {
    let b = &opened.config.backup;
    Retention { daily: b.daily, weekly: b.weekly, monthly: b.monthly }
}

fn bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn progress_of(bar: &ProgressBar) -> impl Fn(&'static str, u64, u64) + Send + Sync + '_ {
    move |stage, done, total| {
        bar.set_message(stage);
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// Records a whole-store operation in the audit trail as the console operator.
async fn record(store: &Store, action: AuditAction, ok: bool, detail: serde_json::Value) -> Result<()> {
    let outcome = if ok { Outcome::Success } else { Outcome::Failed };
    store
        .execute(Command::RecordOperation { actor: crate::users::operator(), action, outcome, detail: detail.to_string() })
        .await
        .context("cannot record the operation in the audit trail")?;
    Ok(())
}

async fn unlock(target: &dyn Target, keys: &KeyArgs) -> Result<kiroku_backup::crypt::Identity> {
    let passphrase = keys.passphrase_file.as_deref().map(|p| read_secret(p, "passphrase")).transpose()?;
    let identity = keys.identity_file.as_deref().map(|p| read_secret(p, "identity")).transpose()?;
    Ok(kiroku_backup::unlock(target, passphrase.as_deref(), identity.as_deref()).await?)
}

async fn generation_or_latest(target: &dyn Target, generation: Option<String>) -> Result<String> {
    match generation {
        Some(g) => Ok(g),
        None => generations::latest_complete(target)
            .await?
            .map(|m| m.generation)
            .context("the target holds no complete generation yet (run `kiroku backup create`)"),
    }
}

pub async fn run(data_dir: &Path, database_url: Option<String>, cmd: BackupCmd) -> Result<ExitCode> {
    match cmd {
        BackupCmd::Keygen { out } => keygen(&out).map(|()| ExitCode::SUCCESS),
        BackupCmd::Init { target, passphrase_file, recipient, create_bucket } => {
            let opened = open(data_dir, database_url).await?;
            if create_bucket {
                let spec = target.target.clone().unwrap_or_else(|| opened.config.backup.target.clone());
                let config = kiroku_backup::s3::S3Config::from_url_and_env(&spec)?;
                kiroku_backup::s3::S3Target::new(config)?.create_bucket(true).await?;
            }
            let target = target_of(&target, Some(&opened))?;
            let passphrase = passphrase_file.as_deref().map(|p| read_secret(p, "passphrase")).transpose()?;
            let protection = match (&passphrase, &recipient) {
                (Some(p), None) => Protection::Passphrase(p),
                (None, Some(r)) => Protection::Recipient(r),
                _ => bail!("give --passphrase-file or --recipient"),
            };
            let info = kiroku_backup::init_target(target.as_ref(), protection).await?;
            println!("initialised backup target {} (recipient {})", target.location(), info.recipient);
            Ok(ExitCode::SUCCESS)
        }
        BackupCmd::Create { target, keys_passphrase_file, no_prune, json } => {
            create(data_dir, database_url, &target, keys_passphrase_file, no_prune, json).await
        }
        BackupCmd::List { target, json } => {
            let opened = open(data_dir, database_url).await?;
            list(target_of(&target, Some(&opened))?.as_ref(), json).await
        }
        BackupCmd::Verify { target, generation, keys, json } => verify(data_dir, database_url, &target, generation, &keys, json).await,
        BackupCmd::Prune { target } => {
            let opened = open(data_dir, database_url).await?;
            let target = target_of(&target, Some(&opened))?;
            let report = generations::prune(target.as_ref(), retention(&opened), time::OffsetDateTime::now_utc()).await?;
            print_prune(&report);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn create(
    data_dir: &Path,
    database_url: Option<String>,
    target_arg: &TargetArg,
    keys_passphrase_file: Option<PathBuf>,
    no_prune: bool,
    json: bool,
) -> Result<ExitCode> {
    let opened = open(data_dir, database_url).await?;
    let store = start(&opened);
    let target = target_of(target_arg, Some(&opened))?;
    let keys = match keys_passphrase_file {
        Some(f) => {
            let passphrase = read_secret(&f, "keys passphrase")?;
            kiroku_backup::check_passphrase(&passphrase)?;
            Some((data_dir.join("keys"), passphrase))
        }
        None => None,
    };
    let log_key = if data_dir.join("keys").join("log.key").exists() { Some(crate::logkey::load_or_create(data_dir)?) } else { None };
    let source = kiroku_backup::create::Source {
        store: &store,
        backend: &opened.backend,
        blobs: &opened.blobs,
        config_file: Some(data_dir.join("kiroku.toml")),
        keys,
        work_dir: data_dir.to_path_buf(),
        log_key: log_key.as_ref(),
    };
    let days = opened.config.backup.retention_days;
    let options = kiroku_backup::create::Options {
        retain_until: match days {
            0 => None,
            d => Some(
                time::OffsetDateTime::now_utc()
                    .checked_add(time::Duration::days(i64::from(d)))
                    .context("backup.retention_days is too large")?,
            ),
        },
    };
    let bar = bar();
    let result = kiroku_backup::create::create(&source, target.as_ref(), &options, &progress_of(&bar)).await;
    bar.finish_and_clear();
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let reason = if e.is_disk_full() { format!("the backup target is full: {e}") } else { e.to_string() };
            record(&store, AuditAction::Backup, false, json!({ "target": target.location(), "error": reason })).await?;
            bail!(reason);
        }
    };
    let detail = json!({
        "target": target.location(),
        "generation": manifest.generation,
        "stored_bytes": manifest.stored_bytes(),
        "new_bytes": manifest.new_bytes,
        "files": manifest.blobs.len(),
        "log_size": manifest.log.size,
        "duration_ms": manifest.duration_ms,
    });
    record(&store, AuditAction::Backup, true, detail.clone()).await?;
    let pruned =
        if no_prune { None } else { Some(generations::prune(target.as_ref(), retention(&opened), time::OffsetDateTime::now_utc()).await?) };
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({ "backup": detail, "prune": pruned }))?);
    } else {
        println!(
            "generation {} written to {}: {} files, {} bytes stored, {} new, log size {}, {} ms",
            manifest.generation,
            target.location(),
            manifest.blobs.len(),
            manifest.stored_bytes(),
            manifest.new_bytes,
            manifest.log.size,
            manifest.duration_ms
        );
        if let Some(report) = &pruned {
            print_prune(report);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_prune(report: &generations::PruneReport) {
    println!(
        "kept {} generations; removed {}; removed {} unreferenced files",
        report.kept.len(),
        report.removed.len(),
        report.removed_files
    );
    for l in &report.locked {
        println!("LOCKED {l}");
    }
    if report.files_skipped {
        println!("files were not cleaned up: a backup may be running (an unfinished generation is less than a day old)");
    }
}

async fn list(target: &dyn Target, json: bool) -> Result<ExitCode> {
    kiroku_backup::load_target_info(target).await?;
    let all = generations::list(target).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<22} {:<10} {:>8} {:>14} {:>9}  retain until", "generation", "state", "files", "stored bytes", "log size");
    for g in &all {
        match (&g.manifest, &g.problem) {
            (Some(m), _) => println!(
                "{:<22} {:<10} {:>8} {:>14} {:>9}  {}",
                g.id,
                "complete",
                m.blobs.len(),
                m.stored_bytes(),
                m.log.size,
                m.retain_until.as_deref().unwrap_or("-")
            ),
            (None, Some(problem)) => println!("{:<22} {:<10} {problem}", g.id, "damaged"),
            (None, None) => println!("{:<22} {:<10} (no manifest: interrupted)", g.id, "incomplete"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(
    data_dir: &Path,
    database_url: Option<String>,
    target_arg: &TargetArg,
    generation: Option<String>,
    keys: &KeyArgs,
    json: bool,
) -> Result<ExitCode> {
    let opened = open(data_dir, database_url).await?;
    let store = start(&opened);
    let target = target_of(target_arg, Some(&opened))?;
    let identity =
        if keys.passphrase_file.is_some() || keys.identity_file.is_some() { Some(unlock(target.as_ref(), keys).await?) } else { None };
    let generation = generation_or_latest(target.as_ref(), generation).await?;
    let verifier = crate::logkey::load_verifier(data_dir)?;
    let options = CheckOptions { identity: identity.as_ref(), verifier: verifier.as_ref(), current: Some(&store) };
    let bar = bar();
    let report = kiroku_backup::check::check(target.as_ref(), &generation, &options, &progress_of(&bar)).await;
    bar.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            record(
                &store,
                AuditAction::BackupVerify,
                false,
                json!({ "target": target.location(), "generation": generation, "error": e.to_string() }),
            )
            .await?;
            return Err(e.into());
        }
    };
    let detail = json!({
        "target": target.location(),
        "generation": report.generation,
        "objects": report.objects,
        "decrypted": report.decrypted,
        "findings": report.findings.len(),
    });
    record(&store, AuditAction::BackupVerify, report.is_clean(), detail).await?;
    print_check(&report, json)?;
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_check(report: &CheckReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "generation {}: {} objects, {} bytes, {}; manifest signature {:?}; log {:?}",
        report.generation,
        report.objects,
        report.bytes,
        if report.decrypted { "decrypted and compared" } else { "stored digests compared (no key given: contents not decrypted)" },
        report.signature,
        report.log
    );
    for f in &report.findings {
        println!("MISMATCH {f}");
    }
    println!(
        "{}",
        if report.is_clean() { "OK: the backup matches its manifest" } else { "FAILED: the backup does not match its manifest" }
    );
    Ok(())
}

pub async fn restore(data_dir: &Path, database_url: Option<String>, args: RestoreArgs) -> Result<ExitCode> {
    // The live data directory only supplies the configuration's target and, for a drill, the
    // audit trail the drill is recorded in.
    let opened = if args.drill || args.target.target.is_none() { Some(open(data_dir, database_url).await?) } else { None };
    let target = target_of(&args.target, opened.as_ref())?;
    let identity = unlock(target.as_ref(), &args.keys).await?;
    let generation = generation_or_latest(target.as_ref(), args.generation.clone()).await?;
    let keys_passphrase = args.keys_passphrase_file.as_deref().map(|p| read_secret(p, "keys passphrase")).transpose()?;
    let scratch;
    let into = match &args.into {
        Some(dir) => dir.clone(),
        None => {
            scratch =
                tempfile::Builder::new().prefix("kiroku-drill-").tempdir().context("cannot create a temporary folder for the drill")?;
            scratch.path().join("data")
        }
    };
    let started = Instant::now();
    let bar = bar();
    let trust = Trust { log_key: args.log_key.as_deref(), live_dir: data_dir, allow_unsigned: args.allow_unsigned };
    let restored = restore_signed(target.as_ref(), &generation, &identity, keys_passphrase.as_deref(), &into, &trust, &bar).await;
    bar.finish_and_clear();
    let mut scratch_database = None;
    let outcome = match restored {
        Ok(report) => {
            let database = restored_database_url(&report.manifest.backend, &args, opened.as_ref(), &mut scratch_database).await;
            match database {
                Ok(url) => match open_restored(&into, &report.manifest.backend, url.as_deref()).await {
                    Ok(copy) => check_restored(&into, &copy, data_dir, &report).await.map(|r| (r, copy)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    if let (Some(scratch), Some(live)) = (&scratch_database, opened.as_ref()) {
        // The drill's copy goes, like its temporary folder (FORCE ends the copy's own connections);
        // a failure to drop it is worth saying.
        if let Err(e) = kiroku_store_postgres::drop_scratch_database(scratch, &live.config.database_url).await {
            eprintln!("kiroku: the drill's temporary database was not dropped: {e}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if args.drill {
        let store = start(opened.as_ref().context("the drill needs the live data directory")?);
        let detail = match &outcome {
            Ok((r, _)) => json!({ "target": target.location(), "generation": generation, "ok": r.clean, "versions": r.versions,
                             "audit_events": r.audit_events, "files": r.files, "findings": r.findings.len(), "duration_ms": (seconds * 1000.0) as u64 }),
            Err(e) => {
                json!({ "target": target.location(), "generation": generation, "ok": false, "error": e.to_string(), "duration_ms": (seconds * 1000.0) as u64 })
            }
        };
        record(&store, AuditAction::RestoreDrill, outcome.as_ref().is_ok_and(|(r, _)| r.clean), detail).await?;
    }
    let (result, copy) = outcome?;
    if !args.drill {
        record_restore(&copy, &target.location(), &generation, &result).await?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "generation": generation, "into": args.into, "drill": args.drill, "seconds": seconds, "result": result })
            )?
        );
    } else {
        let place = if args.drill { "a temporary folder (removed)".to_string() } else { into.display().to_string() };
        println!(
            "generation {generation} restored into {place} in {seconds:.1} s: {} versions, {} audit events, {} files; keys {}",
            result.versions,
            result.audit_events,
            result.files,
            if result.keys_restored { "restored" } else { "not restored" }
        );
        for f in &result.findings {
            println!("MISMATCH {f}");
        }
        println!(
            "{}",
            if result.clean { "OK: `kiroku verify` passes on the restored copy" } else { "FAILED: the restored copy does not verify" }
        );
    }
    Ok(if result.clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Which log key must have signed what is restored.
pub struct Trust<'a> {
    /// `--log-key`: the public key as `kiroku log key` prints it.
    pub log_key: Option<&'a str>,
    /// The live data directory, whose log key is used when no key is given.
    pub live_dir: &'a Path,
    pub allow_unsigned: bool,
}

/// Restores `generation` into the empty folder `into` if its manifest carries the log key's
/// signature: the given key, the live data directory's, or else the keys it restored (opened with
/// the operator's own keys passphrase, so they are the real ones). A target's recipient is public:
/// only the signature tells a real generation from one planted there.
async fn restore_signed(
    target: &dyn Target,
    generation: &str,
    identity: &kiroku_backup::crypt::Identity,
    keys_passphrase: Option<&str>,
    into: &Path,
    trust: &Trust<'_>,
    bar: &ProgressBar,
) -> Result<kiroku_backup::restore::RestoreReport> {
    let verifier = match trust.log_key {
        Some(text) => Some(kiroku_log::LogVerifier::parse(text).map_err(|e| anyhow::anyhow!("--log-key: {e}"))?),
        None => crate::logkey::load_verifier(trust.live_dir)?,
    };
    if let Some(v) = &verifier {
        kiroku_backup::check::require_signature(target, generation, v).await?;
    }
    let report = kiroku_backup::restore::restore(target, generation, identity, keys_passphrase, into, &progress_of(bar)).await?;
    if verifier.is_none() {
        let signed = match crate::logkey::load_verifier(into)? {
            Some(v) => kiroku_backup::check::require_signature(target, generation, &v).await.map_err(anyhow::Error::from),
            None if trust.allow_unsigned => Ok(()),
            None => Err(anyhow::anyhow!(
                "the manifest's signature cannot be checked: give --log-key, restore the keys (--keys-passphrase-file), or --allow-unsigned"
            )),
        };
        if let Err(e) = signed {
            let _ = std::fs::remove_dir_all(into);
            return Err(e);
        }
    }
    Ok(report)
}

/// Where an export reads from when the server cannot: a backup restored into `work_dir`, which is
/// kept (it holds the export's audit events).
#[derive(clap::Args)]
pub struct FromBackup {
    /// Export from a backup instead of the data directory: the target (a folder or s3://…).
    #[arg(long = "from-backup")]
    pub target: Option<String>,
    /// The generation (default: the newest complete one).
    #[arg(long, requires = "target")]
    pub generation: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The keys' passphrase, to restore the keys too (their log key then checks the manifest).
    #[arg(long, requires = "target")]
    pub keys_passphrase_file: Option<PathBuf>,
    /// An empty folder the backup is restored into and exported from; it is kept, with the export's
    /// audit events.
    #[arg(long, requires = "target")]
    pub work_dir: Option<PathBuf>,
    /// The log's public key that must have signed the backup (as `kiroku log key` prints it).
    #[arg(long, requires = "target")]
    pub log_key: Option<String>,
    /// Export even when the backup's signature cannot be checked.
    #[arg(long, requires = "target")]
    pub allow_unsigned: bool,
}

/// Restores the backup `from` names into its work folder and opens it like a data directory.
pub async fn open_backup(from: &FromBackup, live_dir: &Path) -> Result<crate::open::Opened> {
    let spec = from.target.clone().context("--from-backup names no target")?;
    let work_dir = from.work_dir.clone().context("--from-backup needs --work-dir, an empty folder to restore into")?;
    let target = target_of(&TargetArg { target: Some(spec) }, None)?;
    let identity = unlock(target.as_ref(), &from.keys).await?;
    let generation = generation_or_latest(target.as_ref(), from.generation.clone()).await?;
    let keys_passphrase = from.keys_passphrase_file.as_deref().map(|p| read_secret(p, "keys passphrase")).transpose()?;
    let trust = Trust { log_key: from.log_key.as_deref(), live_dir, allow_unsigned: from.allow_unsigned };
    let bar = bar();
    let report = restore_signed(target.as_ref(), &generation, &identity, keys_passphrase.as_deref(), &work_dir, &trust, &bar).await;
    bar.finish_and_clear();
    let report = report?;
    eprintln!("kiroku: restored generation {} into {} to export from it", report.generation, work_dir.display());
    if report.manifest.backend == "postgres" {
        bail!(
            "a PostgreSQL backup is exported from its restored copy: `kiroku restore --into DIR --restore-database-url URL`, then `kiroku export … --data-dir DIR`"
        );
    }
    open_restored(&work_dir, &report.manifest.backend, None).await
}

/// Where a PostgreSQL generation is loaded: the database given, or for a drill a temporary one on
/// the live server (remembered in `scratch` so that it is dropped afterwards). `None` for SQLite.
async fn restored_database_url(
    backend: &str,
    args: &RestoreArgs,
    live: Option<&Opened>,
    scratch: &mut Option<String>,
) -> Result<Option<String>> {
    if backend != "postgres" {
        return Ok(None);
    }
    if let Some(url) = &args.restore_database_url {
        return Ok(Some(url.clone()));
    }
    match live.map(|o| o.config.database_url.as_str()) {
        Some(server) if args.drill && !server.is_empty() => {
            let url = kiroku_store_postgres::create_scratch_database(server).await?;
            *scratch = Some(url.clone());
            Ok(Some(url))
        }
        _ => bail!("a PostgreSQL backup is restored into an empty PostgreSQL database: give --restore-database-url postgres://…"),
    }
}

/// A restored copy opened like a data directory, whatever its kiroku.toml says: the SQLite file
/// in it, or the `pg_dump` archive in it loaded into `database_url` (then removed, and the copy's
/// kiroku.toml pointed at that database, never at the live one).
async fn open_restored(dir: &Path, backend: &str, database_url: Option<&str>) -> Result<crate::open::Opened> {
    let mut config = crate::config::Config::default();
    let backend: Arc<dyn kiroku_store::Backend> = match (backend, database_url) {
        ("postgres", Some(url)) => {
            let dump = dir.join(kiroku_backup::restore::POSTGRES_DUMP_FILE);
            let loaded = kiroku_store_postgres::restore_dump(url, &dump).await;
            std::fs::remove_file(&dump).context("cannot remove the restored database archive")?;
            loaded.context("cannot load the restored database")?;
            point_config_at(dir, url)?;
            config.database_url = url.to_string();
            Arc::new(kiroku_store_postgres::PostgresBackend::open(url, None).await.context("cannot open the restored database")?)
        }
        ("postgres", None) => bail!("a PostgreSQL backup is restored into an empty PostgreSQL database: give --restore-database-url"),
        _ => Arc::new(
            kiroku_store_sqlite::SqliteBackend::open(&dir.join(kiroku_backup::restore::DATABASE_FILE))
                .await
                .context("cannot open the restored database")?,
        ),
    };
    let blobs = kiroku_blob::BlobStore::open(dir.join("blobs")).context("cannot open the restored files")?;
    Ok(crate::open::Opened { config, backend, blobs })
}

/// Rewrites the restored kiroku.toml's `database_url`, so that serving the copy can never write
/// into the database it was backed up from.
fn point_config_at(dir: &Path, url: &str) -> Result<()> {
    let path = dir.join("kiroku.toml");
    let mut table: toml::Table = match std::fs::read_to_string(&path) {
        Ok(text) => text.parse().context("the restored kiroku.toml is not valid TOML")?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(e).context("cannot read the restored kiroku.toml"),
    };
    table.insert("database_url".into(), toml::Value::String(url.into()));
    let text = format!(
        "# Restored by `kiroku restore`: database_url names the database the backup was restored into.\n{}",
        toml::to_string(&table).context("cannot write the restored kiroku.toml")?
    );
    kiroku_backup::target::write_synced(&path, text.as_bytes())?;
    Ok(())
}

#[derive(serde::Serialize)]
struct Restored {
    clean: bool,
    versions: u64,
    audit_events: u64,
    files: u64,
    keys_restored: bool,
    findings: Vec<String>,
}

/// Runs `kiroku verify`'s checks on the restored copy and that its log holds the backup's.
async fn check_restored(
    into: &Path,
    copy: &crate::open::Opened,
    live_dir: &Path,
    report: &kiroku_backup::restore::RestoreReport,
) -> Result<Restored> {
    // The checkpoints were signed by the log key: the restored one if the keys came back, else the live one.
    let verifier = match crate::logkey::load_verifier(into)? {
        Some(v) => Some(v),
        None => crate::logkey::load_verifier(live_dir)?,
    };
    let verified = crate::verify::check_store(copy.backend.as_ref(), &copy.blobs, verifier.as_ref(), &|_, _| {}).await?;
    let mut findings: Vec<String> = verified.findings.iter().map(|f| f.to_string()).collect();
    let m = &report.manifest;
    if m.log.size > 0 {
        let store = start(copy);
        let (size, _) = store.tree_head().await?;
        if size < m.log.size {
            findings.push(format!("the restored log has {size} entries, fewer than the {} the backup recorded", m.log.size));
        } else if hex::encode(store.root_at(m.log.size).await?) != m.log.root {
            findings.push("the restored log's root differs from the one the backup recorded".into());
        }
    }
    Ok(Restored {
        clean: findings.is_empty(),
        versions: verified.versions,
        audit_events: verified.audit_events,
        files: report.files,
        keys_restored: report.keys_restored,
        findings,
    })
}

/// The restored store records where it came from, as its own first event after the restore.
async fn record_restore(copy: &crate::open::Opened, target: &str, generation: &str, result: &Restored) -> Result<()> {
    let store = start(copy);
    let detail = json!({ "target": target, "generation": generation, "ok": result.clean, "findings": result.findings.len() });
    record(&store, AuditAction::Restore, result.clean, detail).await
}

fn keygen(out: &Path) -> Result<()> {
    use std::io::Write;
    let identity = kiroku_backup::crypt::new_identity();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(out).with_context(|| format!("cannot create {} (it must not exist)", out.display()))?;
    file.write_all(kiroku_backup::crypt::identity_file(&identity).as_bytes())
        .and_then(|()| file.sync_all())
        .context("cannot write the identity")?;
    println!("{}", identity.to_public());
    Ok(())
}
