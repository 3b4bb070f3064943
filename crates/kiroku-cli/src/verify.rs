//! `kiroku verify`: the whole-store check, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use kiroku_blob::Fixity;
use kiroku_store::verify::{BlobState, Report as VerifyReport, verify};

use crate::open::open;

/// Verifies a store and its files: every version, file, audit record, leaf and checkpoint.
pub async fn check_store(
    backend: &dyn kiroku_store::Backend,
    blobs: &kiroku_blob::BlobStore,
    verifier: Option<&kiroku_log::LogVerifier>,
    progress: &(dyn Fn(&'static str, u64) + Sync),
) -> Result<VerifyReport> {
    let check = move |hash: &str| match blobs.check(hash) {
        Fixity::Intact => BlobState::Intact,
        Fixity::Altered => BlobState::Altered,
        Fixity::Missing => BlobState::Missing,
    };
    Ok(verify(backend, &check, verifier, progress).await?)
}

pub async fn run(data_dir: &Path, database_url: Option<String>, json: bool) -> Result<ExitCode> {
    let opened = open(data_dir, database_url).await?;
    let bar = if std::io::stderr().is_terminal() && !json { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let progress = |stage: &'static str, n: u64| bar.set_message(format!("{stage}: {n}"));
    let verifier = crate::logkey::load_verifier(data_dir)?;
    let report = check_store(opened.backend.as_ref(), &opened.blobs, verifier.as_ref(), &progress).await?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "checked {} audit events, {} versions, {} attestations, {} attachments, {} log leaves, {} checkpoints{}",
            report.audit_events,
            report.versions,
            report.attestations,
            report.attachments,
            report.leaves,
            report.checkpoints,
            if verifier.is_some() { "" } else { " (no log key found: checkpoint signatures not checked)" }
        );
        for f in &report.findings {
            println!("MISMATCH {f}");
        }
        println!("{}", if report.is_clean() { "OK: everything matches" } else { "FAILED: the store does not match its records" });
    }
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
