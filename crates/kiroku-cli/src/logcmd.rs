//! `kiroku log …`: the log's public key, and the offline check of a version's proof bundle.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use kiroku_core::document::VersionContent;
use kiroku_core::{DocumentId, InfoClass, PatientId, Timestamp, Username, VersionKind};
use kiroku_log::{LogVerifier, leaf_hash, verify_inclusion};
use serde_json::Value;

#[derive(Subcommand)]
pub enum LogCmd {
    /// Print the log's public key (write it down, or give it to a witness).
    Key,
    /// Start a new log key because the old one is lost for good. Earlier checkpoints stay in the
    /// store and `kiroku verify` keeps reporting them as not signed by the current key.
    NewKey,
    /// Check a proof bundle from GET /api/v1/documents/{id}/versions/{n}/proof offline, without the
    /// database: the checkpoint's signature, the leaf's inclusion, and the document's content hash.
    Check {
        /// The bundle (JSON) as the server returned it.
        bundle: PathBuf,
        /// The log's public key as printed by `kiroku log key` (never taken from the bundle itself).
        #[arg(long)]
        key: String,
    },
}

pub fn run(data_dir: &Path, cmd: LogCmd) -> Result<ExitCode> {
    match cmd {
        LogCmd::Key => {
            if !data_dir.exists() {
                anyhow::bail!("{} does not exist; run `kiroku serve` or `kiroku init` first", data_dir.display());
            }
            let key = crate::logkey::load_or_create(data_dir)?;
            println!("{}", key.verifier().encode());
            Ok(ExitCode::SUCCESS)
        }
        LogCmd::NewKey => {
            let key = crate::logkey::create_new(data_dir)?;
            println!("{}", key.verifier().encode());
            eprintln!(
                "kiroku: a new log key was created; checkpoints signed before it will be reported by `kiroku verify` as not signed by it"
            );
            Ok(ExitCode::SUCCESS)
        }
        LogCmd::Check { bundle, key } => {
            let verifier = LogVerifier::parse(&key).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
            let text = std::fs::read_to_string(&bundle).with_context(|| format!("cannot read {}", bundle.display()))?;
            let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", bundle.display()))?;
            match check(&verifier, &value) {
                Ok(summary) => {
                    println!("OK: {summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(reason) => {
                    println!("FAILED: {reason}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("the bundle has no {name}"))
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    field(v, name)?.as_str().ok_or_else(|| format!("{name} is not text"))
}

/// Checks a bundle; the error says exactly what does not hold.
pub fn check(verifier: &LogVerifier, bundle: &Value) -> Result<String, String> {
    let checkpoint = verifier.verify(text(bundle, "checkpoint")?).map_err(|e| format!("checkpoint: {e}"))?;
    let size = field(bundle, "tree_size")?.as_u64().ok_or("tree_size is not a number")?;
    if size != checkpoint.size {
        return Err(format!("the bundle says tree size {size}, the signed checkpoint {}", checkpoint.size));
    }
    let index = field(bundle, "leaf_index")?.as_u64().ok_or("leaf_index is not a number")?;
    let leaf_data = text(bundle, "leaf_data")?;
    let path = field(bundle, "inclusion")?
        .as_array()
        .ok_or("inclusion is not a list")?
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h.as_str().unwrap_or(""), &mut out)
                .map(|()| out)
                .map_err(|_| "inclusion holds a malformed hash".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    verify_inclusion(&leaf_hash(leaf_data.as_bytes()), index, size, &path, &checkpoint.root).map_err(|e| format!("inclusion: {e}"))?;
    let doc = field(bundle, "document")?;
    let recorded: Value = serde_json::from_str(leaf_data).map_err(|_| "leaf_data is not JSON")?;
    let content_hash = text(doc, "content_hash")?;
    if recorded.get("content_hash").and_then(Value::as_str) != Some(content_hash) {
        return Err("the document's content hash is not the one the log recorded".into());
    }
    let computed = content_hash_of(doc)?;
    if computed != content_hash {
        return Err(format!("the document's content does not hash to its recorded hash ({computed} != {content_hash})"));
    }
    Ok(format!(
        "document {} version {} is leaf {index} of the log {} at size {size}; its content matches",
        text(doc, "id")?,
        field(doc, "version")?,
        checkpoint.origin
    ))
}

/// Recomputes a version's content hash from the fields a document answer carries.
fn content_hash_of(doc: &Value) -> Result<String, String> {
    let parse = |name: &str| -> Result<String, String> { Ok(text(doc, name)?.to_string()) };
    let id = DocumentId::parse(parse("id")?).map_err(|e| e.to_string())?;
    let patient = PatientId::parse(parse("patient_id")?).map_err(|e| e.to_string())?;
    let author = Username::parse(parse("author")?).map_err(|e| e.to_string())?;
    let on_behalf_of = doc.get("on_behalf_of").and_then(Value::as_str).map(Username::parse).transpose().map_err(|e| e.to_string())?;
    let kind = VersionKind::parse(text(doc, "version_kind")?).ok_or("unknown version_kind")?;
    let class: InfoClass = text(doc, "info_class")?.parse().map_err(|e: kiroku_core::DomainError| e.to_string())?;
    let entered_at = Timestamp::parse_rfc3339(text(doc, "entered_at")?).ok_or("entered_at is not a time")?;
    let content = VersionContent {
        document_id: &id,
        patient_id: &patient,
        version: field(doc, "version")?.as_i64().ok_or("version is not a number")?,
        kind,
        doc_type: text(doc, "type")?,
        title: text(doc, "title")?,
        info_class: class,
        body: field(doc, "body")?,
        entered_by: &author,
        on_behalf_of: on_behalf_of.as_ref(),
        entered_at,
        reason: doc.get("reason").and_then(Value::as_str),
    };
    Ok(content.hash().to_hex())
}
