//! The one error type of kiroku-sign: every refusal says exactly why, with a stable code.

/// Why a signature, a token or a response is not accepted, or why one could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("not valid DER ({what}): {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the TSA refused the request: status {status}{}", text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Rejected { status: u8, text: Option<String> },
    #[error("the TSA answered without a token")]
    NoToken,
    #[error("the content is not a {expected}")]
    WrongContentType { expected: &'static str },
    #[error("the token's nonce does not match the request's")]
    NonceMismatch,
    #[error("the token covers a different hash than the document's")]
    ImprintMismatch,
    #[error("hash algorithm {0} is not accepted (SHA-256 or better)")]
    WeakHash(String),
    #[error("the token's policy {got} is not the requested {expected}")]
    PolicyMismatch { expected: String, got: String },
    #[error("the signer's certificate is not in the message")]
    SignerCertificateMissing,
    #[error("no signing-certificate attribute binds the signer's certificate")]
    SigningCertificateAttributeMissing,
    #[error("the signing-certificate attribute names another certificate than the signer's")]
    SigningCertificateMismatch,
    #[error("the TSA certificate must carry one critical extended key usage, timeStamping")]
    TsaKeyUsage,
    #[error("certificate {subject} has no key usage for {needed}")]
    KeyUsage { subject: String, needed: &'static str },
    #[error("certificate {subject} is not valid at {at} (valid {not_before} to {not_after})")]
    NotValidAt { subject: String, at: String, not_before: String, not_after: String },
    #[error("certificate {subject} does not lead to a trusted certificate authority")]
    Untrusted { subject: String },
    #[error("certificate {subject} has a signature that its issuer's key does not verify")]
    CertificateSignature { subject: String },
    #[error("issuer {subject} is not a certificate authority")]
    NotCa { subject: String },
    #[error("the message digest attribute does not match the content")]
    DigestMismatch,
    #[error("the content-type attribute does not match the content")]
    ContentTypeMismatch,
    #[error("the signature does not verify with the signer's key")]
    BadSignature,
    #[error("the message has no signer")]
    NoSigner,
    #[error("algorithm {0} is not supported")]
    UnsupportedAlgorithm(String),
    #[error("the key cannot be used: {0}")]
    Key(String),
    #[error("the private key does not belong to the certificate")]
    KeyCertificateMismatch,
    #[error("the PKCS#12 file's password is wrong (its integrity check fails)")]
    Pkcs12Password,
    #[error("the PKCS#12 file holds no private key with its certificate")]
    Pkcs12NoKey,
    #[error("the PKCS#12 file cannot be read: {0}")]
    Pkcs12(String),
    #[error("the PKCS#11 token cannot be used: {0}")]
    Pkcs11(String),
    #[error("the PKCS#11 token refused the PIN")]
    Pkcs11Pin,
    #[error("certificate {subject} was revoked at {at} (reason: {reason})")]
    Revoked { subject: String, at: String, reason: String },
    #[error("the {kind} answer was made at {this_update}, after {at}")]
    RevocationNotYetValid { kind: &'static str, this_update: String, at: String },
    #[error("the {kind} answer expired at {next_update}, before {at}")]
    RevocationExpired { kind: &'static str, next_update: String, at: String },
    #[error("the {kind} answer is not about certificate {subject} or not from its issuer")]
    RevocationIssuer { kind: &'static str, subject: String },
    #[error("the {kind} answer's signature does not verify with its issuer's key")]
    RevocationSignature { kind: &'static str },
    #[error("the OCSP responder answered {0}")]
    OcspStatus(&'static str),
    #[error("the OCSP answer's nonce is not the request's (a replayed answer?)")]
    OcspNonceMismatch,
    #[error("the OCSP answer does not repeat the request's nonce")]
    OcspNonceMissing,
    #[error("OCSP responder {responder} is not authorised by the certificate's issuer (id-kp-OCSPSigning)")]
    OcspUnauthorizedResponder { responder: String },
    #[error("revocation of certificate {subject} is unknown: {why}")]
    RevocationUnknown { subject: String, why: String },
}

impl SignError {
    /// A stable identifier for APIs, logs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::Rejected { .. } => "rejected",
            Self::NoToken => "no_token",
            Self::WrongContentType { .. } => "wrong_content_type",
            Self::NonceMismatch => "nonce_mismatch",
            Self::ImprintMismatch => "imprint_mismatch",
            Self::WeakHash(_) => "weak_hash",
            Self::PolicyMismatch { .. } => "policy_mismatch",
            Self::SignerCertificateMissing => "signer_certificate_missing",
            Self::SigningCertificateAttributeMissing => "signing_certificate_attribute_missing",
            Self::SigningCertificateMismatch => "signing_certificate_mismatch",
            Self::TsaKeyUsage => "tsa_key_usage",
            Self::KeyUsage { .. } => "key_usage",
            Self::NotValidAt { .. } => "certificate_not_valid_at",
            Self::Untrusted { .. } => "untrusted",
            Self::CertificateSignature { .. } => "certificate_signature",
            Self::NotCa { .. } => "not_ca",
            Self::DigestMismatch => "digest_mismatch",
            Self::ContentTypeMismatch => "content_type_mismatch",
            Self::BadSignature => "bad_signature",
            Self::NoSigner => "no_signer",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::Key(_) => "key",
            Self::KeyCertificateMismatch => "key_certificate_mismatch",
            Self::Pkcs12Password => "pkcs12_password",
            Self::Pkcs12NoKey => "pkcs12_no_key",
            Self::Pkcs12(_) => "pkcs12_unreadable",
            Self::Pkcs11(_) => "pkcs11",
            Self::Pkcs11Pin => "pkcs11_pin",
            Self::Revoked { .. } => "revoked",
            Self::RevocationNotYetValid { .. } => "revocation_not_yet_valid",
            Self::RevocationExpired { .. } => "revocation_expired",
            Self::RevocationIssuer { .. } => "revocation_issuer",
            Self::RevocationSignature { .. } => "revocation_signature",
            Self::OcspStatus(_) => "ocsp_status",
            Self::OcspNonceMismatch => "ocsp_nonce_mismatch",
            Self::OcspNonceMissing => "ocsp_nonce_missing",
            Self::OcspUnauthorizedResponder { .. } => "ocsp_unauthorized_responder",
            Self::RevocationUnknown { .. } => "revocation_unknown",
        }
    }

    pub(crate) fn malformed(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Malformed { what, detail: e.to_string() }
    }
}
