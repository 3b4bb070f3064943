//! X.509 certificates: trust anchors, path building to them, validity at a given time,
//! key usages and the HPKI role.

use der::{Decode, DecodePem, Encode};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectDirectoryAttributes};

use crate::{SignError, alg, oid};

/// How many certificates a path may have above the leaf; real ones have one or two.
const MAX_PATH: usize = 8;

/// The certificate authorities a deployment trusts (for TSAs, or for signers).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<Certificate>,
}

impl TrustAnchors {
    pub fn new(anchors: Vec<Certificate>) -> Self {
        Self { anchors }
    }

    /// Every certificate of a PEM bundle.
    pub fn from_pem(pem: &[u8]) -> Result<Self, SignError> {
        Ok(Self::new(certificates_from_pem(pem)?))
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub fn certificates(&self) -> &[Certificate] {
        &self.anchors
    }
}

/// All certificates of a PEM text, in order.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Certificate>, SignError> {
    let certs = Certificate::load_pem_chain(pem).map_err(|e| SignError::malformed("PEM certificates", e))?;
    if certs.is_empty() {
        return Err(SignError::malformed("PEM certificates", "no certificate found"));
    }
    Ok(certs)
}

/// One certificate from PEM or DER, whichever it is.
pub fn certificate_from_pem_or_der(bytes: &[u8]) -> Result<Certificate, SignError> {
    if bytes.starts_with(b"-----") {
        Certificate::from_pem(bytes).map_err(|e| SignError::malformed("PEM certificate", e))
    } else {
        Certificate::from_der(bytes).map_err(|e| SignError::malformed("certificate", e))
    }
}

/// What a person needs to recognise a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// HPKI roles (hcRole), when the certificate carries them.
    pub hc_roles: Vec<String>,
}

impl CertificateSummary {
    pub fn of(cert: &Certificate) -> Self {
        let tbs = cert.tbs_certificate();
        let (not_before, not_after) = validity(cert);
        Self {
            subject: subject_of(cert),
            issuer: tbs.issuer().to_string(),
            serial: hex::encode(tbs.serial_number().as_bytes()),
            not_before,
            not_after,
            hc_roles: hc_roles(cert),
        }
    }
}

pub fn subject_of(cert: &Certificate) -> String {
    cert.tbs_certificate().subject().to_string()
}

pub fn validity(cert: &Certificate) -> (OffsetDateTime, OffsetDateTime) {
    let v = cert.tbs_certificate().validity();
    (to_offset(v.not_before.to_unix_duration()), to_offset(v.not_after.to_unix_duration()))
}

fn to_offset(d: std::time::Duration) -> OffsetDateTime {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The certificate's validity period contains `at`.
pub fn check_valid_at(cert: &Certificate, at: OffsetDateTime) -> Result<(), SignError> {
    let (not_before, not_after) = validity(cert);
    if at < not_before || at > not_after {
        return Err(SignError::NotValidAt {
            subject: subject_of(cert),
            at: rfc3339(at),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
        });
    }
    Ok(())
}

/// `cert` was signed by `issuer`'s key.
pub fn check_issued_by(cert: &Certificate, issuer: &Certificate) -> Result<(), SignError> {
    let tbs = cert.tbs_certificate().to_der().map_err(|e| SignError::malformed("certificate", e))?;
    alg::verify_signature(
        issuer.tbs_certificate().subject_public_key_info(),
        cert.signature_algorithm(),
        None,
        &tbs,
        cert.signature().raw_bytes(),
    )
    .map_err(|e| match e {
        SignError::BadSignature => SignError::CertificateSignature { subject: subject_of(cert) },
        other => other,
    })
}

/// Builds the path from `leaf` through `pool` (certificates the message carried) to one of
/// `anchors`, checking every signature and every validity period at `at`. Returns the path,
/// leaf first, anchor last.
pub fn verify_path(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &TrustAnchors,
    at: OffsetDateTime,
) -> Result<Vec<Certificate>, SignError> {
    check_valid_at(leaf, at)?;
    let mut path = vec![leaf.clone()];
    for _ in 0..MAX_PATH {
        let current = path.last().cloned().ok_or(SignError::NoSigner)?;
        if anchors.anchors.contains(&current) {
            return Ok(path);
        }
        let issuer_name = current.tbs_certificate().issuer();
        let mut bad_signature = None;
        if let Some(anchor) = anchors.anchors.iter().find(|a| {
            a.tbs_certificate().subject() == issuer_name && {
                let ok = check_issued_by(&current, a);
                if let Err(e) = &ok {
                    bad_signature = Some(e.clone());
                }
                ok.is_ok()
            }
        }) {
            check_valid_at(anchor, at)?;
            path.push(anchor.clone());
            return Ok(path);
        }
        let issuer = pool.iter().filter(|c| **c != current).find(|c| {
            c.tbs_certificate().subject() == issuer_name && {
                let ok = check_issued_by(&current, c);
                if let Err(e) = &ok {
                    bad_signature = Some(e.clone());
                }
                ok.is_ok()
            }
        });
        let Some(issuer) = issuer else {
            return Err(bad_signature.unwrap_or(SignError::Untrusted { subject: subject_of(leaf) }));
        };
        if !is_ca(issuer) {
            return Err(SignError::NotCa { subject: subject_of(issuer) });
        }
        check_valid_at(issuer, at)?;
        path.push(issuer.clone());
    }
    Err(SignError::Untrusted { subject: subject_of(leaf) })
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate().get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

/// A TSA certificate has exactly one extended key usage, timeStamping, marked critical
/// (RFC 3161 §2.3).
pub fn check_tsa_key_usage(cert: &Certificate) -> Result<(), SignError> {
    match cert.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Ok(Some((true, eku))) if eku.0 == [oid::EKU_TIME_STAMPING] => Ok(()),
        _ => Err(SignError::TsaKeyUsage),
    }
}

/// A signer's certificate, if it restricts its key usage, allows digital signatures or
/// non-repudiation (content commitment).
pub fn check_signing_key_usage(cert: &Certificate) -> Result<(), SignError> {
    match cert.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(None) => Ok(()),
        Ok(Some((_, ku))) if ku.digital_signature() || ku.non_repudiation() => Ok(()),
        _ => Err(SignError::KeyUsage { subject: subject_of(cert), needed: "digitalSignature or nonRepudiation" }),
    }
}

/// The hcRole values (ISO 17090, HPKI) of a certificate's subjectDirectoryAttributes, as text.
pub fn hc_roles(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, attrs))) = cert.tbs_certificate().get_extension::<SubjectDirectoryAttributes>() else {
        return Vec::new();
    };
    let mut roles = Vec::new();
    for attr in attrs.0.iter().filter(|a| a.oid == oid::HC_ROLE) {
        for value in attr.values.iter() {
            if let Ok(der) = value.to_der() {
                collect_strings(&der, &mut roles);
            }
        }
    }
    roles
}

/// Every string inside a DER value, depth first; HCActorData nests them in sequences, sets
/// and context tags, and the role's text is what a person needs to see.
fn collect_strings(mut bytes: &[u8], out: &mut Vec<String>) {
    while let Some((tag, value, rest)) = split_tlv(bytes) {
        if tag & 0x20 != 0 {
            collect_strings(value, out);
        } else if matches!(tag, 0x0c | 0x13 | 0x16)
            && let Ok(s) = std::str::from_utf8(value)
        {
            out.push(s.to_owned());
        }
        bytes = rest;
    }
}

fn split_tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}
