//! Revocation of signer and TSA certificates: CRLs (RFC 5280 §5) and OCSP (RFC 6960), pure.
//! Where to ask comes from the certificate (CRL distribution points, authority information
//! access); the asking is the caller's. Each answer is checked — the issuer's signature (or an
//! OCSP responder the issuer authorised), the request's nonce, thisUpdate/nextUpdate — and then
//! says good or revoked (when, why). The DER of the answers is what kiroku stores with each
//! signature and token, so that verification years later uses the same evidence when the CA's
//! servers are gone (the CAdES-X-L idea).

use const_oid::AssociatedOid;
use der::asn1::{Any, BitString, GeneralizedTime, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Enumerated, Sequence, Tag, Tagged};
use ring::rand::{SecureRandom, SystemRandom};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::certificate::Rfc5280;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints, ExtendedKeyUsage};
use x509_cert::serial_number::SerialNumber;

use crate::cert::{self, rfc3339, subject_of};
use crate::{HashAlg, SignError, alg};

const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// Clocks of CAs and of kiroku differ a little; an answer made this far "in the future" is fine.
const SKEW: time::Duration = time::Duration::minutes(5);

/// What kind of revocation evidence a DER blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    Crl,
    Ocsp,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crl => "crl",
            Self::Ocsp => "ocsp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "crl" => Some(Self::Crl),
            "ocsp" => Some(Self::Ocsp),
            _ => None,
        }
    }
}

/// A certificate's status as one CRL or OCSP answer gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    Revoked { at: OffsetDateTime, reason: Option<String> },
}

/// A checked answer about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationStatus {
    pub kind: EvidenceKind,
    pub status: CertStatus,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
}

impl RevocationStatus {
    /// The certificate was not revoked at `at` (a revocation after `at` leaves a signature
    /// made before it valid); otherwise the refusal with the time and reason.
    pub fn judge(&self, cert: &Certificate, at: OffsetDateTime) -> Result<(), SignError> {
        match &self.status {
            CertStatus::Revoked { at: revoked, reason } if *revoked <= at => Err(SignError::Revoked {
                subject: subject_of(cert),
                at: rfc3339(*revoked),
                reason: reason.clone().unwrap_or_else(|| "unspecified".into()),
            }),
            _ => Ok(()),
        }
    }
}

/// The http(s) URLs of the certificate's CRL distribution points.
pub fn crl_urls(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, dps))) = cert.tbs_certificate().get_extension::<CrlDistributionPoints>() else {
        return Vec::new();
    };
    dps.0
        .iter()
        .filter_map(|dp| match &dp.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names.iter().filter_map(uri).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The OCSP responders the certificate names (authority information access).
pub fn ocsp_urls(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, aia))) = cert.tbs_certificate().get_extension::<AuthorityInfoAccessSyntax>() else {
        return Vec::new();
    };
    aia.0.iter().filter(|a| a.access_method == ID_AD_OCSP).filter_map(|a| uri(&a.access_location)).collect()
}

fn uri(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(u) => {
            let s = u.to_string();
            (s.starts_with("http://") || s.starts_with("https://")).then_some(s)
        }
        _ => None,
    }
}

fn to_offset_time(t: &x509_cert::time::Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn generalized(t: &GeneralizedTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn reason_text(reason: CrlReason) -> String {
    match reason {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "cACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "aACompromise",
    }
    .to_owned()
}

/// The answer was current at `at`: made before it (with some skew) and not yet superseded.
fn check_current(
    kind: EvidenceKind,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    at: OffsetDateTime,
) -> Result<(), SignError> {
    if this_update > at + SKEW {
        return Err(SignError::RevocationNotYetValid { kind: kind.as_str(), this_update: rfc3339(this_update), at: rfc3339(at) });
    }
    if let Some(next) = next_update
        && next < at
    {
        return Err(SignError::RevocationExpired { kind: kind.as_str(), next_update: rfc3339(next), at: rfc3339(at) });
    }
    Ok(())
}

/// Checks a CRL (DER) issued by `issuer` — its signature, that it was current at `at` — and
/// answers the status of `cert` in it.
pub fn check_crl(crl_der: &[u8], cert: &Certificate, issuer: &Certificate, at: OffsetDateTime) -> Result<RevocationStatus, SignError> {
    let crl = CertificateList::<Rfc5280>::from_der(crl_der).map_err(|e| SignError::malformed("CRL", e))?;
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != *cert.tbs_certificate().issuer() || tbs.issuer != *issuer.tbs_certificate().subject() {
        return Err(SignError::RevocationIssuer { kind: "crl", subject: subject_of(cert) });
    }
    let tbs_der = tbs.to_der().map_err(|e| SignError::malformed("CRL", e))?;
    alg::verify_signature(
        issuer.tbs_certificate().subject_public_key_info(),
        &crl.signature_algorithm,
        None,
        &tbs_der,
        crl.signature.raw_bytes(),
    )
    .map_err(|e| match e {
        SignError::BadSignature => SignError::RevocationSignature { kind: "crl" },
        other => other,
    })?;
    let this_update = to_offset_time(&tbs.this_update);
    let next_update = tbs.next_update.as_ref().map(to_offset_time);
    check_current(EvidenceKind::Crl, this_update, next_update, at)?;
    let serial = cert.tbs_certificate().serial_number();
    let status = match tbs.revoked_certificates.iter().flatten().find(|r| same_serial(&r.serial_number, serial)) {
        None => CertStatus::Good,
        Some(entry) => {
            let reason = entry
                .crl_entry_extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == CrlReason::OID)
                .and_then(|e| CrlReason::from_der(e.extn_value.as_bytes()).ok())
                .map(reason_text);
            CertStatus::Revoked { at: to_offset_time(&entry.revocation_date), reason }
        }
    };
    Ok(RevocationStatus { kind: EvidenceKind::Crl, status, this_update, next_update })
}

fn same_serial<P: x509_cert::certificate::Profile, Q: x509_cert::certificate::Profile>(a: &SerialNumber<P>, b: &SerialNumber<Q>) -> bool {
    a.as_bytes() == b.as_bytes()
}

// --- OCSP (RFC 6960 §4), the structures the RustCrypto stack of this workspace lacks. ---

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct CertId {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: SerialNumber,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspSingleRequest {
    req_cert: CertId,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    single_request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TbsRequest {
    request_list: Vec<OcspSingleRequest>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspRequestDer {
    tbs_request: TbsRequest,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq, Enumerated)]
#[repr(u32)]
enum OcspResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspResponse {
    response_status: OcspResponseStatus,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    response_bytes: Option<ResponseBytes>,
}

/// `tbs_response_data` is kept as received: its exact bytes are what the responder signed.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct BasicOcspResponse {
    tbs_response_data: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    certs: Option<Vec<Certificate>>,
}

/// `responder_id` is a CHOICE of [1] Name / [2] KeyHash, both explicit: kept as `Any`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseData {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    responder_id: Any,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    response_extensions: Option<Extensions>,
}

/// `cert_status`: [0] IMPLICIT NULL good, [1] IMPLICIT RevokedInfo, [2] IMPLICIT NULL unknown.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: Any,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    single_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    revocation_reason: Option<CrlReason>,
}

/// An OCSP request as sent, with the nonce its answer must repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    pub der: Vec<u8>,
    /// The nonce extension's value (RFC 8954: an OCTET STRING of 32 random bytes).
    pub nonce: Vec<u8>,
}

fn cert_id(hash: HashAlg, cert: &Certificate, issuer: &Certificate) -> Result<CertId, SignError> {
    let name = issuer.tbs_certificate().subject().to_der().map_err(|e| SignError::malformed("issuer name", e))?;
    let key = issuer.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes();
    let octets = |b: Vec<u8>| OctetString::new(b).map_err(|e| SignError::malformed("OCSP CertID", e));
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned { oid: hash.oid(), parameters: None },
        issuer_name_hash: octets(hash.digest(&name))?,
        issuer_key_hash: octets(hash.digest(key))?,
        serial_number: cert.tbs_certificate().serial_number().clone(),
    })
}

impl OcspRequest {
    /// A request about `cert` (issued by `issuer`), CertID with SHA-256, with a fresh nonce.
    pub fn new(cert: &Certificate, issuer: &Certificate) -> Result<Self, SignError> {
        let mut random = [0u8; 32];
        SystemRandom::new().fill(&mut random).map_err(|_| SignError::Key("no randomness for the nonce".into()))?;
        let nonce = OctetString::new(random.to_vec()).and_then(|o| o.to_der()).map_err(|e| SignError::malformed("OCSP nonce", e))?;
        let extension = x509_cert::ext::Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(nonce.clone()).map_err(|e| SignError::malformed("OCSP nonce", e))?,
        };
        let request = OcspRequestDer {
            tbs_request: TbsRequest {
                request_list: vec![OcspSingleRequest {
                    req_cert: cert_id(HashAlg::Sha256, cert, issuer)?,
                    single_request_extensions: None,
                }],
                request_extensions: Some(vec![extension]),
            },
        };
        let der = request.to_der().map_err(|e| SignError::malformed("OCSP request", e))?;
        Ok(Self { der, nonce })
    }
}

fn status_code(status: OcspResponseStatus) -> &'static str {
    match status {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

/// Checks an OCSP response (DER) about `cert`: successful, signed by `issuer` or by a
/// responder `issuer` authorised (id-kp-OCSPSigning, valid when the answer was produced),
/// repeating `nonce` when one was sent (a stored answer is checked without), and current at
/// `at`. Answers the certificate's status; "unknown" is a refusal.
pub fn check_ocsp(
    response_der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    nonce: Option<&[u8]>,
    at: OffsetDateTime,
) -> Result<RevocationStatus, SignError> {
    let response = OcspResponse::from_der(response_der).map_err(|e| SignError::malformed("OCSP response", e))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(SignError::OcspStatus(status_code(response.response_status)));
    }
    let bytes = response.response_bytes.ok_or_else(|| SignError::malformed("OCSP response", "no response bytes"))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(SignError::UnsupportedAlgorithm(format!("OCSP response type {}", bytes.response_type)));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(|e| SignError::malformed("OCSP response", e))?;
    let data: ResponseData = basic.tbs_response_data.decode_as().map_err(|e| SignError::malformed("OCSP response data", e))?;
    let produced_at = generalized(&data.produced_at);
    let signed = basic.tbs_response_data.to_der().map_err(|e| SignError::malformed("OCSP response data", e))?;
    check_responder(&basic, &signed, issuer, produced_at)?;
    if let Some(sent) = nonce {
        let echoed = data.response_extensions.iter().flatten().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE);
        match echoed {
            Some(e) if e.extn_value.as_bytes() == sent => {}
            Some(_) => return Err(SignError::OcspNonceMismatch),
            None => return Err(SignError::OcspNonceMissing),
        }
    }
    let single = data
        .responses
        .iter()
        .find(|r| matches_cert(&r.cert_id, cert, issuer))
        .ok_or_else(|| SignError::RevocationIssuer { kind: "ocsp", subject: subject_of(cert) })?;
    let this_update = generalized(&single.this_update);
    let next_update = single.next_update.as_ref().map(generalized);
    check_current(EvidenceKind::Ocsp, this_update, next_update, at)?;
    let status = match single.cert_status.tag() {
        Tag::ContextSpecific { number, .. } if number.value() == 0 => CertStatus::Good,
        Tag::ContextSpecific { number, .. } if number.value() == 1 => {
            // [1] IMPLICIT RevokedInfo: the same content under a SEQUENCE tag.
            let info = Any::new(Tag::Sequence, single.cert_status.value())
                .and_then(|a| a.decode_as::<RevokedInfo>())
                .map_err(|e| SignError::malformed("OCSP revoked info", e))?;
            CertStatus::Revoked { at: generalized(&info.revocation_time), reason: info.revocation_reason.map(reason_text) }
        }
        _ => {
            return Err(SignError::RevocationUnknown {
                subject: subject_of(cert),
                why: "the OCSP responder does not know the certificate".into(),
            });
        }
    };
    Ok(RevocationStatus { kind: EvidenceKind::Ocsp, status, this_update, next_update })
}

fn matches_cert(id: &CertId, cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(hash) = HashAlg::from_oid(&id.hash_algorithm.oid).map(Some).or_else(|_| {
        // SHA-1 CertIDs are common; they only identify, so compare them too.
        if id.hash_algorithm.oid == crate::oid::SHA1 { Ok(None) } else { Err(()) }
    }) else {
        return false;
    };
    let digest = |data: &[u8]| match hash {
        Some(h) => h.digest(data),
        None => alg::sha1(data),
    };
    let Ok(name) = issuer.tbs_certificate().subject().to_der() else { return false };
    let key = issuer.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes();
    same_serial(&id.serial_number, cert.tbs_certificate().serial_number())
        && id.issuer_name_hash.as_bytes() == digest(&name)
        && id.issuer_key_hash.as_bytes() == digest(key)
}

/// The response is signed by the issuer itself or by a certificate the issuer made for OCSP
/// signing (RFC 6960 §4.2.2.2).
fn check_responder(basic: &BasicOcspResponse, signed: &[u8], issuer: &Certificate, produced_at: OffsetDateTime) -> Result<(), SignError> {
    let verify_with = |c: &Certificate| {
        alg::verify_signature(
            c.tbs_certificate().subject_public_key_info(),
            &basic.signature_algorithm,
            None,
            signed,
            basic.signature.raw_bytes(),
        )
    };
    if verify_with(issuer).is_ok() {
        return Ok(());
    }
    for responder in basic.certs.iter().flatten() {
        if verify_with(responder).is_err() {
            continue;
        }
        let delegated = cert::check_issued_by(responder, issuer).is_ok()
            && matches!(responder.tbs_certificate().get_extension::<ExtendedKeyUsage>(), Ok(Some((_, eku))) if eku.0.contains(&ID_KP_OCSP_SIGNING));
        if !delegated {
            return Err(SignError::OcspUnauthorizedResponder { responder: subject_of(responder) });
        }
        cert::check_valid_at(responder, produced_at)?;
        return Ok(());
    }
    Err(SignError::RevocationSignature { kind: "ocsp" })
}

/// One stored or fetched answer, with when it was obtained: its freshness is judged then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub der: Vec<u8>,
    pub obtained_at: OffsetDateTime,
}

/// The status of `cert` from the first piece of `evidence` that speaks about it and was
/// current when it was obtained; when none does, `RevocationUnknown` saying what each lacked.
pub fn status_from_evidence(evidence: &[Evidence], cert: &Certificate, issuer: &Certificate) -> Result<RevocationStatus, SignError> {
    let mut why = Vec::new();
    for e in evidence {
        let checked = match e.kind {
            EvidenceKind::Crl => check_crl(&e.der, cert, issuer, e.obtained_at),
            EvidenceKind::Ocsp => check_ocsp(&e.der, cert, issuer, None, e.obtained_at),
        };
        match checked {
            Ok(status) => return Ok(status),
            Err(SignError::RevocationIssuer { .. }) => {}
            Err(other) => why.push(format!("{}: {other}", e.kind.as_str())),
        }
    }
    if why.is_empty() {
        why.push("no CRL or OCSP answer about it was kept".into());
    }
    Err(SignError::RevocationUnknown { subject: subject_of(cert), why: why.join("; ") })
}

/// Whether anyone can say if `cert` is revoked: it names a CRL or OCSP source, or `evidence`
/// holds an answer from its issuer.
pub fn has_source(cert: &Certificate) -> bool {
    !crl_urls(cert).is_empty() || !ocsp_urls(cert).is_empty()
}

/// Checks every certificate of `path` (leaf first, trust anchor last; the anchor itself is
/// trusted as configured) against `evidence` for the time `at` a signature or token was made.
/// A certificate that names no CRL or OCSP source and about which nothing was kept is not
/// checked, and is listed in the answer.
pub fn check_path(path: &[Certificate], evidence: &[Evidence], at: OffsetDateTime) -> Result<Vec<String>, SignError> {
    let mut unchecked = Vec::new();
    for pair in path.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        match status_from_evidence(evidence, cert, issuer) {
            Ok(status) => status.judge(cert, at)?,
            Err(SignError::RevocationUnknown { .. }) if !has_source(cert) => unchecked.push(subject_of(cert)),
            Err(e) => return Err(e),
        }
    }
    Ok(unchecked)
}
