//! Digest and signature algorithms: the identifiers on the wire and the primitives behind them.
//!
//! The primitives are ring's, the same library the workspace's rustls already uses.

use der::asn1::ObjectIdentifier;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::{SignError, oid};

/// The hash algorithms kiroku accepts for imprints and digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => oid::SHA256,
            Self::Sha384 => oid::SHA384,
            Self::Sha512 => oid::SHA512,
        }
    }

    /// SHA-1 and anything unknown are refused: imprints must be SHA-256 or better.
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self, SignError> {
        match *oid {
            oid::SHA256 => Ok(Self::Sha256),
            oid::SHA384 => Ok(Self::Sha384),
            oid::SHA512 => Ok(Self::Sha512),
            other => Err(SignError::WeakHash(other.to_string())),
        }
    }

    /// Parameters absent, as RFC 5754 asks.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned { oid: self.oid(), parameters: None }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// SHA-1 is still what ESSCertID (v1) binds a certificate with; it is never used for imprints.
pub(crate) fn sha1(data: &[u8]) -> Vec<u8> {
    sha1::Sha1::digest(data).to_vec()
}

/// Digests an ESSCertIDv2 or similar may name, SHA-1 included because only a match is checked.
pub(crate) fn digest_by_oid(oid: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, SignError> {
    if *oid == oid::SHA1 {
        return Ok(sha1(data));
    }
    Ok(HashAlg::from_oid(oid)?.digest(data))
}

/// Verifies `signature` over `message` with the key of `spki`, for the signature algorithm
/// `sig_alg`. `digest` is the signer's digest algorithm, needed when CMS names only the key
/// type (rsaEncryption) as its signature algorithm.
pub fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &AlgorithmIdentifierOwned,
    digest: Option<&ObjectIdentifier>,
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<(), SignError> {
    let algorithm = ring_algorithm(spki, sig_alg, digest)?;
    let key = spki.subject_public_key.raw_bytes();
    UnparsedPublicKey::new(algorithm, key).verify(message, signature_bytes).map_err(|_| SignError::BadSignature)
}

fn ring_algorithm(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &AlgorithmIdentifierOwned,
    digest: Option<&ObjectIdentifier>,
) -> Result<&'static dyn VerificationAlgorithm, SignError> {
    let unsupported = || SignError::UnsupportedAlgorithm(sig_alg.oid.to_string());
    let hash = match sig_alg.oid {
        oid::SHA256_WITH_RSA | oid::ECDSA_WITH_SHA256 => oid::SHA256,
        oid::SHA384_WITH_RSA | oid::ECDSA_WITH_SHA384 => oid::SHA384,
        oid::SHA512_WITH_RSA | oid::ECDSA_WITH_SHA512 => oid::SHA512,
        oid::RSA_ENCRYPTION | oid::EC_PUBLIC_KEY => *digest.ok_or_else(unsupported)?,
        oid::ED25519 => return Ok(&signature::ED25519),
        _ => return Err(unsupported()),
    };
    match spki.algorithm.oid {
        oid::RSA_ENCRYPTION => match hash {
            oid::SHA256 => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
            oid::SHA384 => Ok(&signature::RSA_PKCS1_2048_8192_SHA384),
            oid::SHA512 => Ok(&signature::RSA_PKCS1_2048_8192_SHA512),
            _ => Err(unsupported()),
        },
        oid::EC_PUBLIC_KEY => {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).ok_or_else(unsupported)?;
            match (curve, hash) {
                (oid::P256, oid::SHA256) => Ok(&signature::ECDSA_P256_SHA256_ASN1),
                (oid::P256, oid::SHA384) => Ok(&signature::ECDSA_P256_SHA384_ASN1),
                (oid::P384, oid::SHA256) => Ok(&signature::ECDSA_P384_SHA256_ASN1),
                (oid::P384, oid::SHA384) => Ok(&signature::ECDSA_P384_SHA384_ASN1),
                _ => Err(SignError::UnsupportedAlgorithm(curve.to_string())),
            }
        }
        other => Err(SignError::UnsupportedAlgorithm(other.to_string())),
    }
}
