//! RFC 3161 stamping (T1-4.9, T2-5.3): every confirmed version and every signature gets a token
//! from the configured TSA, in batches whose Merkle root is the imprint so that each item keeps
//! its own proof. Confirmation never waits for the TSA: what is confirmed but not stamped is the
//! backlog, read from the store (so nothing is lost across restarts), retried every interval, and
//! shown on /healthz, /metrics and the administrators' page. The same job re-stamps tokens whose
//! TSA certificate is about to expire (archive timestamps).

use std::sync::RwLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiroku_core::Timestamp;
use kiroku_sign::der::asn1::ObjectIdentifier;
use kiroku_sign::{HashAlg, TimestampRequest, TrustAnchors};
use kiroku_store::stamps::{self, build_batch, from_offset, item_leaf};
use kiroku_store::{Command, StampItem, StampKind, StampRecord};
use serde::Serialize;
use tokio::sync::watch;

use crate::AppState;

/// The TSA settings; `None` in [`crate::Settings`] turns stamping off.
#[derive(Debug, Clone)]
pub struct TimestampSettings {
    /// TSA URLs, tried in order until one answers with a valid token.
    pub urls: Vec<String>,
    /// CA certificates a TSA certificate must lead to.
    pub anchors: TrustAnchors,
    /// The policy the tokens must be issued under, if the facility requires one.
    pub policy: Option<ObjectIdentifier>,
    pub timeout: Duration,
    pub interval: Duration,
    /// Most items under one token.
    pub batch_max: i64,
    /// Re-stamp a token this long before its TSA certificate expires.
    pub renew_before: Duration,
    /// PEM CA certificates an https TSA's server certificate may lead to (a private TSA),
    /// besides the system's.
    pub tls_ca_pem: Option<Vec<u8>>,
}

impl TimestampSettings {
    /// The HTTP client for the TSAs: the timeout, and the private CA for https when configured.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder().timeout(self.timeout);
        if let Some(pem) = &self.tls_ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("the TSA CA file is not PEM: {e}"))? {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// What the stamping job last saw, for /healthz, /metrics and the administrators' page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StampingStatus {
    pub enabled: bool,
    /// Confirmed versions and signatures without a token.
    pub backlog: i64,
    pub oldest_pending: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub last_attempt: Option<Timestamp>,
    pub last_error: Option<String>,
    pub stamped_total: u64,
    pub renewed_total: u64,
    pub failures_total: u64,
}

#[derive(Debug, Default)]
pub struct StampingState(RwLock<StampingStatus>);

impl StampingState {
    pub fn get(&self) -> StampingStatus {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut StampingStatus)) {
        if let Ok(mut s) = self.0.write() {
            f(&mut s);
        }
    }

    /// The TSA could not be reached or answered badly at the last attempt while items wait.
    pub fn alert(&self) -> bool {
        let s = self.get();
        s.enabled && s.last_error.is_some() && s.backlog > 0
    }
}

/// Why a round of stamping stopped.
#[derive(Debug, thiserror::Error)]
pub enum StampingError {
    #[error("no TSA answered: {0}")]
    Tsa(String),
    #[error("the TSA's token was refused: {0}")]
    Token(#[from] kiroku_sign::SignError),
    #[error("the store refused the token: {0}")]
    Store(#[from] kiroku_store::StoreError),
}

/// Runs every interval until `stop` turns true; the first round starts at once.
pub async fn run(state: AppState, settings: std::sync::Arc<TimestampSettings>, mut stop: watch::Receiver<bool>) {
    state.stamping.update(|s| s.enabled = true);
    loop {
        if let Err(e) = run_once(&state, &settings).await {
            tracing::warn!(error = %e, "timestamping did not complete; the backlog is kept and retried");
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.interval) => {}
            _ = stop.changed() => break,
        }
    }
}

/// One round: stamp the backlog in batches, renew tokens that are about to expire, and publish
/// the backlog that remains.
pub async fn run_once(state: &AppState, settings: &TimestampSettings) -> Result<(), StampingError> {
    let client = settings.client().map_err(StampingError::Tsa)?;
    let result = async {
        loop {
            let pending = state.store.pending_stamps(settings.batch_max).await?;
            if pending.is_empty() {
                break;
            }
            // Files get a token each over their own hash, so each verifies alone with the file.
            let (files, batch): (Vec<_>, Vec<_>) = pending.into_iter().partition(|p| p.item_kind == "attachment");
            for file in &files {
                stamp_file(state, settings, &client, file).await?;
            }
            if !batch.is_empty() {
                stamp_batch(state, settings, &client, &batch).await?;
            }
        }
        renew_expiring(state, settings, &client).await
    }
    .await;
    let (backlog, oldest) = state.store.stamp_backlog().await.unwrap_or((-1, None));
    state.stamping.update(|s| {
        s.enabled = true;
        s.backlog = backlog;
        s.oldest_pending = oldest;
        s.last_attempt = Some(Timestamp::now());
        match &result {
            Ok(()) => s.last_error = None,
            Err(e) => {
                s.last_error = Some(e.to_string());
                s.failures_total += 1;
            }
        }
    });
    result
}

async fn stamp_batch(
    state: &AppState,
    settings: &TimestampSettings,
    client: &reqwest::Client,
    pending: &[kiroku_store::PendingStamp],
) -> Result<(), StampingError> {
    let leaves: Vec<_> = pending.iter().map(|p| item_leaf(&p.item_kind, &p.ref_id, p.ref_version, &p.digest)).collect();
    let batch = build_batch(&leaves);
    let (token, url) = fetch_token(settings, client, &batch.root).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let stamp = stamp_record(&id, StampKind::Batch, None, &batch.root, &token, &url);
    let items = pending
        .iter()
        .zip(&batch.paths)
        .enumerate()
        .map(|(i, (p, path))| StampItem {
            item_kind: p.item_kind.clone(),
            ref_id: p.ref_id.clone(),
            ref_version: p.ref_version,
            stamp_id: id.clone(),
            digest: p.digest.clone(),
            leaf_index: i as i64,
            batch_size: pending.len() as i64,
            path: path.iter().map(hex::encode).collect(),
            seq: 0,
        })
        .collect();
    let evidence = token_evidence(state, &id, &token).await;
    state.store.execute(Command::RecordStamp { stamp, items, evidence }).await?;
    state.stamping.update(|s| {
        s.stamped_total += pending.len() as u64;
        s.last_success = Some(Timestamp::now());
    });
    tracing::info!(items = pending.len(), %url, "timestamped a batch");
    Ok(())
}

/// A file's own token: its imprint is the file's SHA-256 (the blob's content address).
async fn stamp_file(
    state: &AppState,
    settings: &TimestampSettings,
    client: &reqwest::Client,
    file: &kiroku_store::PendingStamp,
) -> Result<(), StampingError> {
    let digest = hex::decode(&file.digest).map_err(|e| StampingError::Tsa(format!("file {} has no SHA-256: {e}", file.ref_id)))?;
    let (token, url) = fetch_token(settings, client, &digest).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let stamp = stamp_record(&id, StampKind::File, None, &digest, &token, &url);
    let item = StampItem {
        item_kind: file.item_kind.clone(),
        ref_id: file.ref_id.clone(),
        ref_version: file.ref_version,
        stamp_id: id.clone(),
        digest: file.digest.clone(),
        leaf_index: 0,
        batch_size: 1,
        path: Vec::new(),
        seq: 0,
    };
    let evidence = token_evidence(state, &id, &token).await;
    state.store.execute(Command::RecordStamp { stamp, items: vec![item], evidence }).await?;
    state.stamping.update(|s| {
        s.stamped_total += 1;
        s.last_success = Some(Timestamp::now());
    });
    tracing::info!(file = %file.ref_id, %url, "timestamped a file");
    Ok(())
}

/// Archive timestamps: a new token over the hash of every token whose TSA certificate expires
/// within `renew_before` and that nothing renews yet. A renewal is kept only if its own TSA
/// certificate outlives the renewed one's; otherwise it would protect nothing.
async fn renew_expiring(state: &AppState, settings: &TimestampSettings, client: &reqwest::Client) -> Result<(), StampingError> {
    let horizon = Timestamp::from_micros(Timestamp::now().as_micros().saturating_add(settings.renew_before.as_micros() as i64));
    let chains = state.store.stamp_chains().await?;
    for old in chains.due_for_renewal(horizon) {
        let der = stamps::token_der(old).map_err(StampingError::Tsa)?;
        let digest = HashAlg::Sha256.digest(&der);
        let (token, url) = fetch_token(settings, client, &digest).await?;
        let not_after = from_offset(token.tsa.not_after);
        if not_after <= old.tsa_not_after {
            return Err(StampingError::Tsa(format!(
                "timestamp {} needs renewal before {}, but the TSA's certificate expires no later ({}); configure a TSA with a newer certificate",
                old.id,
                old.tsa_not_after.to_rfc3339(),
                not_after.to_rfc3339()
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let stamp = stamp_record(&id, StampKind::Archive, Some(old.id.clone()), &digest, &token, &url);
        let evidence = token_evidence(state, &id, &token).await;
        state.store.execute(Command::RecordStamp { stamp, items: Vec::new(), evidence }).await?;
        state.stamping.update(|s| s.renewed_total += 1);
        tracing::info!(renewed = %old.id, "archive timestamp made");
    }
    Ok(())
}

/// The TSA certificate's path and revocation answers, kept with the token. A TSA whose
/// status nobody can give does not stop stamping (the token itself was verified); it is logged.
async fn token_evidence(state: &AppState, id: &str, token: &kiroku_sign::TimestampToken) -> Vec<kiroku_store::EvidenceRecord> {
    match crate::revocation::gather(&state.settings.revocation, ("timestamp", id), &token.path).await {
        Ok(gathered) => {
            for e in &gathered.unknown {
                tracing::warn!(error = %e, "TSA certificate kept without a revocation answer");
            }
            gathered.records
        }
        Err(e) => {
            tracing::warn!(error = %e, "TSA certificate kept without a revocation answer");
            Vec::new()
        }
    }
}

fn stamp_record(
    id: &str,
    kind: StampKind,
    renews: Option<String>,
    imprint: &[u8],
    token: &kiroku_sign::TimestampToken,
    url: &str,
) -> StampRecord {
    StampRecord {
        id: id.to_string(),
        kind,
        renews,
        imprint: hex::encode(imprint),
        token: STANDARD.encode(&token.der),
        gen_time: from_offset(token.gen_time),
        tsa: token.tsa.subject.clone(),
        tsa_not_after: from_offset(token.tsa.not_after),
        tsa_url: url.to_string(),
        seq: 0,
    }
}

/// Asks each TSA in turn for a token over `digest` (SHA-256) and returns the first one that
/// passes every check, with the URL that gave it.
pub async fn fetch_token(
    settings: &TimestampSettings,
    client: &reqwest::Client,
    digest: &[u8],
) -> Result<(kiroku_sign::TimestampToken, String), StampingError> {
    let mut failures = Vec::new();
    for url in &settings.urls {
        let request = TimestampRequest::new(HashAlg::Sha256, digest, settings.policy)?;
        match post(client, url, request.der.clone()).await {
            Ok(body) => match kiroku_sign::verify_response(&body, &request, &settings.anchors, time::OffsetDateTime::now_utc()) {
                Ok(token) => return Ok((token, url.clone())),
                Err(e) => failures.push(format!("{url}: {e}")),
            },
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(StampingError::Tsa(failures.join("; ")))
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
    let response = client
        .post(url)
        .header("content-type", "application/timestamp-query")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("unreachable ({e})"))?;
    if !response.status().is_success() {
        return Err(format!("answered HTTP {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| format!("answer cut off ({e})"))?;
    Ok(bytes.to_vec())
}
