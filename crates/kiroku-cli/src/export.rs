//! `kiroku export`: the offline-readable export of patients' whole records (T2-2.4), and the check
//! of an export folder against its manifest.
//!
//! Who may export: the operator at the server's console, i.e. whoever can run `kiroku` with the data
//! directory (and so could read the database and files directly). The export adds the record of it:
//! every patient read is a `record_export` audit event under the local operator, with the OS user as
//! its session. No web or API role may export whole records (the store refuses anyone else).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use kiroku_core::PatientId;
use kiroku_export::{Request, Selection, Summary};

use crate::open::{Opened, open};

#[derive(Subcommand)]
pub enum ExportCmd {
    /// Export one patient's whole record into a folder that any browser opens from disk.
    Patient {
        /// The patient ID (患者ID).
        patient_id: String,
        /// The folder to write; it must be empty or absent.
        #[arg(long)]
        out: PathBuf,
        /// Replace a previous kiroku export in --out.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        from: crate::backup::FromBackup,
    },
    /// Export every patient's whole record, one patient at a time.
    All {
        /// The folder to write; it must be empty or absent.
        #[arg(long)]
        out: PathBuf,
        /// Replace a previous kiroku export in --out.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        from: crate::backup::FromBackup,
    },
    /// Check an export folder against its manifest; exit 1 naming every changed, missing or added file.
    Verify {
        dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data_dir: &Path, database_url: Option<String>, cmd: ExportCmd) -> Result<ExitCode> {
    let (selection, out, force, from) = match cmd {
        ExportCmd::Verify { dir, json } => return verify(&dir, json),
        ExportCmd::Patient { patient_id, out, force, from } => {
            let id = PatientId::parse(patient_id.trim()).map_err(|e| anyhow::anyhow!("{e}"))?;
            (Selection::Patient(id), out, force, from)
        }
        ExportCmd::All { out, force, from } => (Selection::All, out, force, from),
    };
    let (opened, source) = if from.target.is_some() {
        // During an outage: the records as the backup holds them, without the server or its database.
        let opened = crate::backup::open_backup(&from, data_dir).await?;
        let source =
            format!("バックアップ {}（世代 {}）", from.target.as_deref().unwrap_or_default(), from.generation.as_deref().unwrap_or("最新"));
        (opened, source)
    } else {
        if !data_dir.is_dir() {
            bail!("there is no data directory at {}", data_dir.display());
        }
        let opened = open(data_dir, database_url).await?;
        let source = describe_source(data_dir, &opened);
        (opened, source)
    };
    let started = Instant::now();
    let summary = export_from(&opened, source, selection, &out, force).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "exported {} patients, {} documents, {} versions, {} attachments to {} ({} files, {} bytes) in {:.1} s ({:.0} documents/s)",
        summary.patients,
        summary.documents,
        summary.versions,
        summary.attachments,
        out.display(),
        summary.files,
        summary.bytes,
        seconds,
        summary.documents as f64 / seconds.max(0.001)
    );
    for problem in &summary.file_problems {
        eprintln!("kiroku: warning: attached file not exported: {problem}");
    }
    if summary.file_problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("kiroku: the export finished, but {} attached files could not be copied; run kiroku verify", summary.file_problems.len());
        Ok(ExitCode::from(1))
    }
}

/// Exports from an opened data directory: the served one, or one restored from a backup into a
/// temporary folder (`kiroku export all --from-backup`). Acts as the console operator; its audit
/// events are written to the store of `opened`. A progress bar on a terminal for `Selection::All`.
pub async fn export_from(opened: &Opened, source: String, selection: Selection, out: &Path, force: bool) -> Result<Summary> {
    let store = crate::open::start(opened);
    if !store.is_initialised().await? {
        bail!("the data directory holds no kiroku store (run kiroku init or kiroku serve first)");
    }
    let bar = if matches!(selection, Selection::All) && std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let started = Instant::now();
    let progress = |s: &Summary| {
        let rate = s.documents as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!("{} patients, {} documents ({rate:.0}/s), {} files", s.patients, s.documents, s.files));
        bar.tick();
    };
    let request = Request { out: out.to_path_buf(), selection, operator: crate::users::operator(), source, force };
    let summary = kiroku_export::export(&store, &opened.blobs, &request, &progress).await.context("cannot export")?;
    bar.finish_and_clear();
    Ok(summary)
}

/// The data directory and database kind, for the pages; never a database URL (it may hold a password).
fn describe_source(data_dir: &Path, opened: &Opened) -> String {
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let kind = match opened.backend.kind() {
        "postgres" => "PostgreSQL",
        _ => "SQLite",
    };
    format!("データディレクトリ {}（{kind}）", dir.display())
}

fn verify(dir: &Path, json: bool) -> Result<ExitCode> {
    let report = kiroku_export::verify(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let m = &report.manifest;
        println!(
            "export of {} ({}) from {}, {} patients, log tree size {}",
            m.exported_at, m.selection, m.source, m.patients, m.log.tree_size
        );
        for finding in &report.findings {
            println!("MISMATCH {finding}");
        }
        if report.is_clean() {
            println!("OK: all {} files match the manifest", report.checked);
        } else {
            println!("FAILED: {} of the export's files do not match its manifest", report.findings.len());
        }
    }
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
