//! Revocation data at signing and stamping time (CAdES-X-L idea, T1-4.9): for every
//! certificate of a path but the trust anchor, an OCSP answer from the responder the
//! certificate names (with a nonce), else its CRL (from its distribution point, else from the
//! configured `[signing] crl_files`). Each answer is checked by kiroku-sign; a revoked
//! certificate is refused with its time and reason. What was obtained, and the path's
//! certificates, are kept with the signature or token (`validation_evidence`), so that later
//! verification needs no network. The IO is here; every decision is kiroku-sign's.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kiroku_core::Timestamp;
use kiroku_sign::der::Encode;
use kiroku_sign::revocation::{self, EvidenceKind, OcspRequest};
use kiroku_sign::{Certificate, SignError};
use kiroku_store::EvidenceRecord;

/// Where revocation answers come from besides the certificates' own URLs.
#[derive(Debug, Clone)]
pub struct RevocationSettings {
    /// CRLs (DER or PEM, read at start) a facility distributes itself, by file name.
    pub crl_files: Vec<(String, Vec<u8>)>,
    pub timeout: Duration,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        Self { crl_files: Vec::new(), timeout: Duration::from_secs(10) }
    }
}

/// What was obtained for a path: the records to keep, and the answer for each certificate.
#[derive(Debug, Default)]
pub struct Gathered {
    pub records: Vec<EvidenceRecord>,
    /// Certificates whose status nobody could give, with why (unreachable, bad answers).
    pub unknown: Vec<SignError>,
}

fn record(owner: (&str, &str), kind: &str, about: &Certificate, der: &[u8], source: &str) -> EvidenceRecord {
    EvidenceRecord {
        id: uuid::Uuid::now_v7().to_string(),
        owner_kind: owner.0.to_string(),
        owner_id: owner.1.to_string(),
        kind: kind.to_string(),
        about: kiroku_sign::cert::subject_of(about),
        der: STANDARD.encode(der),
        source: source.to_string(),
        obtained_at: Timestamp::now(),
        seq: 0,
    }
}

/// Asks for the status of every certificate of `chain` (leaf first, anchor last) now; one
/// nobody could answer for is listed in `unknown`. Whether a revocation matters is decided by
/// [`decide`] for the time of the signature or token.
pub async fn gather(settings: &RevocationSettings, owner: (&str, &str), chain: &[Certificate]) -> Result<Gathered, SignError> {
    let client = reqwest::Client::builder().timeout(settings.timeout).build().map_err(|e| SignError::Key(e.to_string()))?;
    let mut gathered = Gathered::default();
    for cert in chain {
        if let Ok(der) = cert.to_der() {
            gathered.records.push(record(owner, "certificate", cert, &der, "path"));
        }
    }
    for pair in chain.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        match status_now(&client, settings, cert, issuer).await {
            Ok(Some((kind, der, source))) => gathered.records.push(record(owner, kind.as_str(), cert, &der, &source)),
            Ok(None) => {}
            Err(e) => gathered.unknown.push(e),
        }
    }
    Ok(gathered)
}

type Answer = (EvidenceKind, Vec<u8>, String);

/// The verdict on `chain` at `at` from `records` (kept, or just gathered): revoked before `at`
/// with time and reason, unknown with why, else fine. `unknown` adds what gathering met.
pub fn decide(chain: &[Certificate], records: &[EvidenceRecord], unknown: &[SignError], at: time::OffsetDateTime) -> Result<(), SignError> {
    match revocation::check_path(chain, &kiroku_store::verify::revocation_evidence(records), at) {
        Err(SignError::RevocationUnknown { subject, why }) if !unknown.is_empty() => Err(SignError::RevocationUnknown {
            subject,
            why: unknown.iter().map(ToString::to_string).chain(std::iter::once(why)).collect::<Vec<_>>().join("; "),
        }),
        other => other.map(|_| ()),
    }
}

/// The first valid answer about `cert`: OCSP, then its CRL, then the configured CRLs. `None`
/// when the certificate names no source and no configured CRL speaks about it.
async fn status_now(
    client: &reqwest::Client,
    settings: &RevocationSettings,
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<Option<Answer>, SignError> {
    let now = time::OffsetDateTime::now_utc();
    let mut why = Vec::new();
    for url in revocation::ocsp_urls(cert) {
        let request = OcspRequest::new(cert, issuer)?;
        match fetch(client.post(&url).header("content-type", "application/ocsp-request").body(request.der.clone())).await {
            Ok(der) => match revocation::check_ocsp(&der, cert, issuer, Some(&request.nonce), now) {
                Ok(_) => return Ok(Some((EvidenceKind::Ocsp, der, url))),
                Err(e) => why.push(format!("OCSP {url}: {e} ({})", e.code())),
            },
            Err(e) => why.push(format!("OCSP {url}: {e}")),
        }
    }
    for url in revocation::crl_urls(cert) {
        match fetch(client.get(&url)).await {
            Ok(der) => match revocation::check_crl(&der, cert, issuer, now) {
                Ok(_) => return Ok(Some((EvidenceKind::Crl, der, url))),
                Err(e) => why.push(format!("CRL {url}: {e} ({})", e.code())),
            },
            Err(e) => why.push(format!("CRL {url}: {e}")),
        }
    }
    for (name, der) in &settings.crl_files {
        match revocation::check_crl(der, cert, issuer, now) {
            Ok(_) => return Ok(Some((EvidenceKind::Crl, der.clone(), format!("file:{name}")))),
            Err(SignError::RevocationIssuer { .. }) => {}
            Err(e) => why.push(format!("CRL {name}: {e} ({})", e.code())),
        }
    }
    if why.is_empty() && !revocation::has_source(cert) {
        return Ok(None);
    }
    Err(SignError::RevocationUnknown { subject: kiroku_sign::cert::subject_of(cert), why: why.join("; ") })
}

async fn fetch(request: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
    let response = request.send().await.map_err(|e| format!("unreachable ({e})"))?;
    if !response.status().is_success() {
        return Err(format!("answered HTTP {}", response.status()));
    }
    Ok(response.bytes().await.map_err(|e| format!("answer cut off ({e})"))?.to_vec())
}

/// A CRL file's content as DER (PEM "X509 CRL" is converted).
pub fn crl_der(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"-----") {
        let (label, der) = kiroku_sign::der::pem::decode_vec(bytes).map_err(|e| e.to_string())?;
        if label != "X509 CRL" {
            return Err(format!("expected an X509 CRL, found {label}"));
        }
        return Ok(der);
    }
    Ok(bytes.to_vec())
}
