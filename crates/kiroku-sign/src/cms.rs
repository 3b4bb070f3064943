//! CMS SignedData: detached CAdES-BES signatures made by a `Signer`, and verification of
//! signatures made by anyone (kiroku, openssl, an HPKI client). Also the SignedData checks
//! that time-stamp tokens share.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::ext::pkix::name::GeneralName;

use crate::asn1::{EssCertIdV2, IssuerSerial, SigningCertificate, SigningCertificateV2};
use crate::cert::{self, CertificateSummary, TrustAnchors};
use crate::{HashAlg, SignError, Signer, alg, oid};

/// What a valid signature says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub signer: CertificateSummary,
    /// The time the signer's machine claimed; informative only, never trusted as a timestamp.
    pub signing_time: Option<OffsetDateTime>,
    /// A signing-certificate-v2 attribute binds the certificate (CAdES-BES).
    pub cades: bool,
    /// The path from the signer to the trust anchor, leaf first.
    pub path: Vec<CertificateSummary>,
    /// Every certificate the signature carried (DER), for storing with it.
    pub certificates: Vec<Vec<u8>>,
    /// The path itself, leaf first, anchor last: what revocation is checked along.
    pub chain: Vec<Certificate>,
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> SignError {
    move |e| SignError::malformed(what, e)
}

/// Makes a detached CMS SignedData (DER) over `content`: content-type, signing-time,
/// message-digest and signing-certificate-v2 signed attributes, the signer's certificate
/// and chain included.
pub fn sign_detached(content: &[u8], signer: &dyn Signer, signing_time: OffsetDateTime) -> Result<Vec<u8>, SignError> {
    let digest = HashAlg::Sha256;
    let certificate = signer.certificate();
    let time = x509_cert::time::Time::try_from(std::time::SystemTime::from(signing_time)).map_err(der_err("signing time"))?;
    let mut signed_attrs = Attributes::new();
    for (oid, value) in [
        (oid::CONTENT_TYPE, Any::encode_from(&oid::DATA)),
        (oid::SIGNING_TIME, Any::encode_from(&time)),
        (oid::MESSAGE_DIGEST, Any::encode_from(&OctetString::new(digest.digest(content)).map_err(der_err("digest"))?)),
        (oid::SIGNING_CERTIFICATE_V2, Any::encode_from(&signing_certificate_v2(certificate)?)),
    ] {
        let value = value.map_err(der_err("signed attribute"))?;
        let attribute = Attribute { oid, values: SetOfVec::try_from(vec![value]).map_err(der_err("signed attribute"))? };
        signed_attrs.insert(attribute).map_err(der_err("signed attributes"))?;
    }
    let to_sign = signed_attrs.to_der().map_err(der_err("signed attributes"))?;
    let signature = signer.sign(&to_sign)?;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: certificate.tbs_certificate().issuer().clone(),
            serial_number: certificate.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: digest.identifier(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: signer.signature_algorithm(),
        signature: OctetString::new(signature).map_err(der_err("signature"))?,
        unsigned_attrs: None,
    };
    let certificates: Vec<CertificateChoices> =
        std::iter::once(certificate).chain(signer.chain()).cloned().map(CertificateChoices::Certificate).collect();
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest.identifier()]).map_err(der_err("digest algorithms"))?,
        encap_content_info: EncapsulatedContentInfo { econtent_type: oid::DATA, econtent: None },
        certificates: Some(CertificateSet::try_from(certificates).map_err(der_err("certificates"))?),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(der_err("signer infos"))?,
    };
    ContentInfo { content_type: oid::SIGNED_DATA, content: Any::encode_from(&signed_data).map_err(der_err("signed data"))? }
        .to_der()
        .map_err(der_err("content info"))
}

fn signing_certificate_v2(certificate: &Certificate) -> Result<SigningCertificateV2, SignError> {
    let der = certificate.to_der().map_err(der_err("certificate"))?;
    Ok(SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(HashAlg::Sha256.digest(&der)).map_err(der_err("certificate hash"))?,
            issuer_serial: Some(issuer_serial(certificate)),
        }],
        policies: None,
    })
}

fn issuer_serial(certificate: &Certificate) -> IssuerSerial {
    IssuerSerial {
        issuer: vec![GeneralName::DirectoryName(certificate.tbs_certificate().issuer().clone())],
        serial_number: certificate.tbs_certificate().serial_number().clone(),
    }
}

/// Verifies a detached signature over `content`: the signature itself, its signed
/// attributes, the signer's key usage and the path to `anchors` at `at`.
pub fn verify_detached(signature: &[u8], content: &[u8], anchors: &TrustAnchors, at: OffsetDateTime) -> Result<SignatureReport, SignError> {
    verify_detached_content(signature, Content::Bytes(content), anchors, at)
}

/// [`verify_detached`] given only the content's SHA-256 (a file known by its content address):
/// possible when the signature has signed attributes and uses SHA-256, as kiroku's do.
pub fn verify_detached_digest(
    signature: &[u8],
    sha256: &[u8],
    anchors: &TrustAnchors,
    at: OffsetDateTime,
) -> Result<SignatureReport, SignError> {
    verify_detached_content(signature, Content::Sha256(sha256), anchors, at)
}

/// What a signature is checked against: the bytes, or their SHA-256.
#[derive(Clone, Copy)]
pub(crate) enum Content<'a> {
    Bytes(&'a [u8]),
    Sha256(&'a [u8]),
}

fn verify_detached_content(
    signature: &[u8],
    content: Content<'_>,
    anchors: &TrustAnchors,
    at: OffsetDateTime,
) -> Result<SignatureReport, SignError> {
    let signed_data = parse_signed_data(signature, "CMS signature")?;
    if signed_data.encap_content_info.econtent_type != oid::DATA {
        return Err(SignError::ContentTypeMismatch);
    }
    let signer_info = single_signer(&signed_data)?;
    let pool = certificates_of(&signed_data);
    let signer_cert = verify_signer_content(signer_info, &pool, content, oid::DATA)?;
    let cades = match check_signing_certificate(signer_info, &signer_cert) {
        Ok(()) => true,
        Err(SignError::SigningCertificateAttributeMissing) => false,
        Err(e) => return Err(e),
    };
    cert::check_signing_key_usage(&signer_cert)?;
    let path = cert::verify_path(&signer_cert, &pool, anchors, at)?;
    Ok(SignatureReport {
        signer: CertificateSummary::of(&signer_cert),
        signing_time: signing_time(signer_info),
        cades,
        path: path.iter().map(CertificateSummary::of).collect(),
        certificates: pool.iter().filter_map(|c| c.to_der().ok()).collect(),
        chain: path,
    })
}

pub(crate) fn parse_signed_data(der: &[u8], what: &'static str) -> Result<SignedData, SignError> {
    let content_info = ContentInfo::from_der(der).map_err(der_err(what))?;
    if content_info.content_type != oid::SIGNED_DATA {
        return Err(SignError::WrongContentType { expected: "CMS SignedData" });
    }
    content_info.content.decode_as::<SignedData>().map_err(der_err(what))
}

pub(crate) fn single_signer(signed_data: &SignedData) -> Result<&SignerInfo, SignError> {
    let mut signers = signed_data.signer_infos.0.iter();
    match (signers.next(), signers.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(SignError::NoSigner),
        (Some(_), Some(_)) => Err(SignError::UnsupportedAlgorithm("more than one signer".into())),
    }
}

pub(crate) fn certificates_of(signed_data: &SignedData) -> Vec<Certificate> {
    signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect()
}

fn find_signer_certificate(sid: &SignerIdentifier, pool: &[Certificate]) -> Result<Certificate, SignError> {
    pool.iter()
        .find(|c| match sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate().issuer() == &isn.issuer && c.tbs_certificate().serial_number() == &isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => matches!(
                c.tbs_certificate().get_extension::<SubjectKeyIdentifier>(),
                Ok(Some((_, own))) if own == *ski
            ),
        })
        .cloned()
        .ok_or(SignError::SignerCertificateMissing)
}

fn attribute(signer_info: &SignerInfo, oid: ObjectIdentifier) -> Option<&Any> {
    signer_info.signed_attrs.as_ref()?.iter().find(|a| a.oid == oid)?.values.get(0)
}

/// Checks the signed attributes (content type, message digest over `content`) and the
/// signature with the key of the signer's certificate, which it returns.
pub(crate) fn verify_signer_info(
    signer_info: &SignerInfo,
    pool: &[Certificate],
    content: &[u8],
    content_type: ObjectIdentifier,
) -> Result<Certificate, SignError> {
    verify_signer_content(signer_info, pool, Content::Bytes(content), content_type)
}

fn verify_signer_content(
    signer_info: &SignerInfo,
    pool: &[Certificate],
    content: Content<'_>,
    content_type: ObjectIdentifier,
) -> Result<Certificate, SignError> {
    let signer_cert = find_signer_certificate(&signer_info.sid, pool)?;
    let digest_oid = signer_info.digest_alg.oid;
    let digest = HashAlg::from_oid(&digest_oid)?;
    let signed = match &signer_info.signed_attrs {
        Some(attrs) => {
            let declared_type = attribute(signer_info, oid::CONTENT_TYPE)
                .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
                .ok_or(SignError::ContentTypeMismatch)?;
            if declared_type != content_type {
                return Err(SignError::ContentTypeMismatch);
            }
            let declared_digest = attribute(signer_info, oid::MESSAGE_DIGEST)
                .and_then(|v| v.decode_as::<OctetString>().ok())
                .ok_or(SignError::DigestMismatch)?;
            let actual = match content {
                Content::Bytes(bytes) => digest.digest(bytes),
                Content::Sha256(known) if digest == HashAlg::Sha256 => known.to_vec(),
                Content::Sha256(_) => {
                    return Err(SignError::UnsupportedAlgorithm("a file's signature must use SHA-256 to be checked by its hash".into()));
                }
            };
            if declared_digest.as_bytes() != actual.as_slice() {
                return Err(SignError::DigestMismatch);
            }
            attrs.to_der().map_err(der_err("signed attributes"))?
        }
        None => match content {
            Content::Bytes(bytes) => bytes.to_vec(),
            Content::Sha256(_) => {
                return Err(SignError::UnsupportedAlgorithm("a signature without signed attributes needs the file itself".into()));
            }
        },
    };
    alg::verify_signature(
        signer_cert.tbs_certificate().subject_public_key_info(),
        &signer_info.signature_algorithm,
        Some(&digest_oid),
        &signed,
        signer_info.signature.as_bytes(),
    )?;
    Ok(signer_cert)
}

/// The signing-certificate (v1, SHA-1) or -v2 attribute names `signer_cert` first.
pub(crate) fn check_signing_certificate(signer_info: &SignerInfo, signer_cert: &Certificate) -> Result<(), SignError> {
    let der = signer_cert.to_der().map_err(der_err("certificate"))?;
    if let Some(v2) = attribute(signer_info, oid::SIGNING_CERTIFICATE_V2) {
        let v2 = v2.decode_as::<SigningCertificateV2>().map_err(der_err("signing-certificate-v2"))?;
        let first = v2.certs.first().ok_or(SignError::SigningCertificateMismatch)?;
        let hash_oid = first.hash_algorithm.as_ref().map(|a| a.oid).unwrap_or(oid::SHA256);
        if alg::digest_by_oid(&hash_oid, &der)? != first.cert_hash.as_bytes() {
            return Err(SignError::SigningCertificateMismatch);
        }
        return check_issuer_serial(first.issuer_serial.as_ref(), signer_cert);
    }
    if let Some(v1) = attribute(signer_info, oid::SIGNING_CERTIFICATE) {
        let v1 = v1.decode_as::<SigningCertificate>().map_err(der_err("signing-certificate"))?;
        let first = v1.certs.first().ok_or(SignError::SigningCertificateMismatch)?;
        if alg::sha1(&der) != first.cert_hash.as_bytes() {
            return Err(SignError::SigningCertificateMismatch);
        }
        return check_issuer_serial(first.issuer_serial.as_ref(), signer_cert);
    }
    Err(SignError::SigningCertificateAttributeMissing)
}

fn check_issuer_serial(issuer_serial: Option<&IssuerSerial>, signer_cert: &Certificate) -> Result<(), SignError> {
    match issuer_serial {
        Some(is) if is.serial_number != *signer_cert.tbs_certificate().serial_number() => Err(SignError::SigningCertificateMismatch),
        _ => Ok(()),
    }
}

fn signing_time(signer_info: &SignerInfo) -> Option<OffsetDateTime> {
    let time = attribute(signer_info, oid::SIGNING_TIME)?.decode_as::<x509_cert::time::Time>().ok()?;
    OffsetDateTime::from_unix_timestamp(i64::try_from(time.to_unix_duration().as_secs()).ok()?).ok()
}
