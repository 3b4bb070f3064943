//! Who signs: the `Signer` trait and the software key behind it. A PKCS#11 token (an HPKI
//! card, SoftHSM2 in tests) is another implementation of the same trait.

use der::Decode;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::{SignError, cert, oid};

/// A private key with its certificate. Implementations never reveal the key; they sign.
pub trait Signer {
    /// The signer's own certificate.
    fn certificate(&self) -> &Certificate;
    /// Intermediate certificates to carry in the signature, leaf excluded.
    fn chain(&self) -> &[Certificate];
    /// The signatureAlgorithm the signature is made with.
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned;
    /// Signs `message` (hashing it with SHA-256 as part of the algorithm).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

enum Key {
    Rsa(RsaKeyPair),
    EcdsaP256(EcdsaKeyPair),
}

/// A key held in a file (PKCS#8: RSA, or ECDSA on P-256) with its X.509 certificate and
/// chain. Signatures are made with SHA-256, the digest the CMS layer uses.
pub struct SoftwareSigner {
    key: Key,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner").field("subject", &cert::subject_of(&self.certificate)).finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// A PKCS#8 key (PEM "PRIVATE KEY" or DER) and a PEM bundle whose first certificate is
    /// the key's and whose others form its chain.
    pub fn from_files_content(key: &[u8], certificates_pem: &[u8]) -> Result<Self, SignError> {
        let key_der = if key.starts_with(b"-----") {
            let (label, der) = der::pem::decode_vec(key).map_err(|e| SignError::malformed("PEM key", e))?;
            if label != "PRIVATE KEY" {
                return Err(SignError::Key(format!("expected a PKCS#8 PRIVATE KEY, found {label}")));
            }
            der
        } else {
            key.to_vec()
        };
        let mut certs = cert::certificates_from_pem(certificates_pem)?;
        let certificate = certs.remove(0);
        Self::from_pkcs8(&key_der, certificate, certs)
    }

    pub fn from_pkcs8(key_der: &[u8], certificate: Certificate, chain: Vec<Certificate>) -> Result<Self, SignError> {
        let spki = certificate.tbs_certificate().subject_public_key_info();
        let rng = SystemRandom::new();
        let key = match spki.algorithm.oid {
            oid::RSA_ENCRYPTION => Key::Rsa(RsaKeyPair::from_pkcs8(key_der).map_err(|e| SignError::Key(e.to_string()))?),
            oid::EC_PUBLIC_KEY => {
                let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
                match curve {
                    Some(oid::P256) => Key::EcdsaP256(
                        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, key_der, &rng)
                            .map_err(|e| SignError::Key(e.to_string()))?,
                    ),
                    other => {
                        return Err(SignError::UnsupportedAlgorithm(
                            other.map(|o| o.to_string()).unwrap_or_else(|| "EC key without a named curve".into()),
                        ));
                    }
                }
            }
            other => return Err(SignError::UnsupportedAlgorithm(other.to_string())),
        };
        let public = match &key {
            Key::Rsa(k) => k.public_key().as_ref().to_vec(),
            Key::EcdsaP256(k) => k.public_key().as_ref().to_vec(),
        };
        if public != spki.subject_public_key.raw_bytes() {
            return Err(SignError::KeyCertificateMismatch);
        }
        Ok(Self { key, certificate, chain })
    }

    /// A PKCS#12 file (.p12/.pfx) opened with its password: PBES2 (AES) as current tools
    /// write it, or the legacy PKCS#12 PBE (3DES, RC2-40) that many HPKI/JPKI-issued files
    /// still use. The first key with its certificate is taken; the other certificates of the
    /// file form the chain. Neither the file nor the password is kept.
    pub fn from_pkcs12(pfx: &[u8], password: &str) -> Result<Self, SignError> {
        use p12_keystore::error::Error as P12Error;
        let store = p12_keystore::KeyStore::from_pkcs12(pfx, password).map_err(|e| match e {
            P12Error::MacError(_) => SignError::Pkcs12Password,
            // Without a MAC (or with one that passed by chance) a wrong password shows as bad padding.
            P12Error::UnpadError => SignError::Pkcs12Password,
            P12Error::DerError(e) => SignError::malformed("PKCS#12", e),
            P12Error::InvalidVersion => SignError::malformed("PKCS#12", "not version 3"),
            P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => {
                SignError::UnsupportedAlgorithm(format!("PKCS#12: {e}"))
            }
            other => SignError::Pkcs12(other.to_string()),
        })?;
        let (_, entry) = store.private_key_chain().ok_or(SignError::Pkcs12NoKey)?;
        let mut certs = entry.chain().iter().map(|c| Self::certificate_from_der(c.as_der()));
        let certificate = certs.next().ok_or(SignError::Pkcs12NoKey)??;
        let chain = certs.collect::<Result<Vec<_>, _>>()?;
        Self::from_pkcs8(entry.key(), certificate, chain)
    }

    /// A DER certificate, for callers that hold one already.
    pub fn certificate_from_der(der: &[u8]) -> Result<Certificate, SignError> {
        Certificate::from_der(der).map_err(|e| SignError::malformed("certificate", e))
    }
}

impl Signer for SoftwareSigner {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        match self.key {
            Key::Rsa(_) => AlgorithmIdentifierOwned { oid: oid::SHA256_WITH_RSA, parameters: Some(der::asn1::Any::null()) },
            Key::EcdsaP256(_) => AlgorithmIdentifierOwned { oid: oid::ECDSA_WITH_SHA256, parameters: None },
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Rsa(k) => {
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out).map_err(|e| SignError::Key(e.to_string()))?;
                Ok(out)
            }
            Key::EcdsaP256(k) => Ok(k.sign(&rng, message).map_err(|e| SignError::Key(e.to_string()))?.as_ref().to_vec()),
        }
    }
}
