//! `kiroku verify`: the whole-store check, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use kiroku_blob::Fixity;
use kiroku_store::stamps::StampCheck;
use kiroku_store::verify::{BlobState, Report as VerifyReport, verify_with};

use crate::open::open;

/// Verifies a store and its files: every version, file, audit record, leaf and checkpoint.
pub async fn check_store(
    backend: &dyn kiroku_store::Backend,
    blobs: &kiroku_blob::BlobStore,
    verifier: Option<&kiroku_log::LogVerifier>,
    progress: &(dyn Fn(&'static str, u64) + Sync),
) -> Result<VerifyReport> {
    check_store_with(backend, blobs, verifier, None, progress).await
}

/// [`check_store`], and with `stamps` every timestamp token and signature against its anchors.
pub async fn check_store_with(
    backend: &dyn kiroku_store::Backend,
    blobs: &kiroku_blob::BlobStore,
    verifier: Option<&kiroku_log::LogVerifier>,
    stamps: Option<&StampCheck>,
    progress: &(dyn Fn(&'static str, u64) + Sync),
) -> Result<VerifyReport> {
    let check = move |hash: &str| match blobs.check(hash) {
        Fixity::Intact => BlobState::Intact,
        Fixity::Altered => BlobState::Altered,
        Fixity::Missing => BlobState::Missing,
    };
    Ok(verify_with(backend, &check, verifier, stamps, progress).await?)
}

pub async fn run(data_dir: &Path, database_url: Option<String>, json: bool, at: Option<&str>) -> Result<ExitCode> {
    let opened = open(data_dir, database_url).await?;
    let at = match at {
        Some(text) => time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| anyhow::anyhow!("--at {text}: not an RFC 3339 time ({e})"))?,
        None => time::OffsetDateTime::now_utc(),
    };
    // Tokens and signatures are checked against the configured anchors; without TSA anchors only
    // their hashes and per-item paths are.
    let stamp_check = match opened.config.timestamp.settings(data_dir)? {
        Some(t) => Some(StampCheck { anchors: t.anchors, signer_anchors: opened.config.signing.anchors(data_dir)?, at }),
        None => None,
    };
    let bar = if std::io::stderr().is_terminal() && !json { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let progress = |stage: &'static str, n: u64| bar.set_message(format!("{stage}: {n}"));
    let verifier = crate::logkey::load_verifier(data_dir)?;
    let report = check_store_with(opened.backend.as_ref(), &opened.blobs, verifier.as_ref(), stamp_check.as_ref(), &progress).await?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "checked {} audit events, {} versions, {} attestations, {} attachments, {} log leaves, {} checkpoints, {} timestamps ({} stamped items), {} signatures ({} certificates and revocation answers kept){}{}",
            report.audit_events,
            report.versions,
            report.attestations,
            report.attachments,
            report.leaves,
            report.checkpoints,
            report.timestamps,
            report.stamped_items,
            report.signatures,
            report.evidence,
            if verifier.is_some() { "" } else { " (no log key found: checkpoint signatures not checked)" },
            if stamp_check.is_some() { "" } else { " (no [timestamp] configured: tokens and signatures checked for their hashes only)" }
        );
        for f in &report.findings {
            println!("MISMATCH {f}");
        }
        println!("{}", if report.is_clean() { "OK: everything matches" } else { "FAILED: the store does not match its records" });
    }
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
