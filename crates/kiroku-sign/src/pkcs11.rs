//! A key on a PKCS#11 token (an HSM holding the facility's seal, an HPKI card in a reader,
//! SoftHSM2 in tests) behind the `Signer` trait. The module is loaded, the token found by its
//! label, the user logged in with the PIN given for this use (never kept), and the private key
//! and its certificate found by their label (CKA_LABEL). The key never leaves the token: it
//! signs SHA-256 RSA PKCS#1 v1.5 (CKM_SHA256_RSA_PKCS), as HPKI cards do, or ECDSA P-256 over
//! a digest computed here (CKM_ECDSA), whose raw r||s is DER-encoded for CMS.

use std::path::Path;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::Decode;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::{HashAlg, SignError, Signer, oid};

/// Where the key is: the module, the token's label and the label of its key and certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Location {
    pub module: std::path::PathBuf,
    pub token_label: String,
    pub key_label: String,
}

enum KeyKind {
    Rsa,
    EcdsaP256,
}

/// A logged-in session on the token with the key and certificate found.
pub struct Pkcs11Signer {
    // The session must be closed before the library is finalised: field order drops it first.
    session: Session,
    _context: Pkcs11,
    key: ObjectHandle,
    kind: KeyKind,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer").field("subject", &crate::cert::subject_of(&self.certificate)).finish_non_exhaustive()
    }
}

fn p11(what: &'static str) -> impl Fn(cryptoki::error::Error) -> SignError {
    move |e| SignError::Pkcs11(format!("{what}: {e}"))
}

impl Pkcs11Signer {
    /// Opens the token at `location` with `pin` and finds the key and its certificate (both
    /// labelled `key_label`). `chain`: intermediate certificates to carry, if the token lacks them.
    pub fn open(location: &Pkcs11Location, pin: &str, chain: Vec<Certificate>) -> Result<Self, SignError> {
        let context = Pkcs11::new(Path::new(&location.module)).map_err(p11("cannot load the PKCS#11 module"))?;
        context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).map_err(p11("cannot initialise the module"))?;
        let slots = context.get_slots_with_token().map_err(p11("cannot list the slots"))?;
        let slot = slots
            .into_iter()
            .find(|s| context.get_token_info(*s).is_ok_and(|t| t.label().trim_end() == location.token_label))
            .ok_or_else(|| SignError::Pkcs11(format!("no token labelled {:?} is present", location.token_label)))?;
        let session = context.open_ro_session(slot).map_err(p11("cannot open a session"))?;
        session.login(UserType::User, Some(&AuthPin::from(pin.to_owned()))).map_err(|e| match e {
            cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::PinIncorrect, _) => SignError::Pkcs11Pin,
            cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::PinLocked, _) => SignError::Pkcs11("the token's PIN is locked".into()),
            other => SignError::Pkcs11(format!("login: {other}")),
        })?;
        let label = Attribute::Label(location.key_label.as_bytes().to_vec());
        let find = |class| session.find_objects(&[Attribute::Class(class), label.clone()]).map_err(p11("cannot search the token"));
        let key = find(ObjectClass::PRIVATE_KEY)?
            .into_iter()
            .next()
            .ok_or_else(|| SignError::Pkcs11(format!("no private key labelled {:?} on the token", location.key_label)))?;
        let cert_handle = find(ObjectClass::CERTIFICATE)?
            .into_iter()
            .next()
            .ok_or_else(|| SignError::Pkcs11(format!("no certificate labelled {:?} on the token", location.key_label)))?;
        let value = session.get_attributes(cert_handle, &[AttributeType::Value]).map_err(p11("cannot read the certificate"))?;
        let der = value
            .into_iter()
            .find_map(|a| if let Attribute::Value(v) = a { Some(v) } else { None })
            .ok_or_else(|| SignError::Pkcs11("the certificate has no value".into()))?;
        let certificate = Certificate::from_der(&der).map_err(|e| SignError::malformed("certificate on the token", e))?;
        let spki = certificate.tbs_certificate().subject_public_key_info();
        let kind = match spki.algorithm.oid {
            oid::RSA_ENCRYPTION => KeyKind::Rsa,
            oid::EC_PUBLIC_KEY
                if spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                    == Some(oid::P256) =>
            {
                KeyKind::EcdsaP256
            }
            other => return Err(SignError::UnsupportedAlgorithm(other.to_string())),
        };
        let signer = Self { session, _context: context, key, kind, certificate, chain };
        // The key and the certificate must belong together: a signature must verify.
        let probe = b"kiroku: does the token's key belong to its certificate?";
        let signature = signer.sign(probe)?;
        let spki = signer.certificate.tbs_certificate().subject_public_key_info();
        crate::alg::verify_signature(spki, &signer.signature_algorithm(), Some(&oid::SHA256), probe, &signature)
            .map_err(|_| SignError::KeyCertificateMismatch)?;
        Ok(signer)
    }
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from the raw r||s PKCS#11 returns.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, SignError> {
    use der::Encode;
    if !raw.len().is_multiple_of(2) || raw.is_empty() {
        return Err(SignError::Pkcs11("the token's ECDSA signature has an odd length".into()));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    fn int(b: &[u8]) -> Result<der::asn1::UintRef<'_>, SignError> {
        der::asn1::UintRef::new(b).map_err(|e| SignError::malformed("ECDSA signature", e))
    }
    #[derive(der::Sequence)]
    struct EcdsaSig<'a> {
        r: der::asn1::UintRef<'a>,
        s: der::asn1::UintRef<'a>,
    }
    EcdsaSig { r: int(r)?, s: int(s)? }.to_der().map_err(|e| SignError::malformed("ECDSA signature", e))
}

impl Signer for Pkcs11Signer {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        match self.kind {
            KeyKind::Rsa => AlgorithmIdentifierOwned { oid: oid::SHA256_WITH_RSA, parameters: Some(der::asn1::Any::null()) },
            KeyKind::EcdsaP256 => AlgorithmIdentifierOwned { oid: oid::ECDSA_WITH_SHA256, parameters: None },
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match self.kind {
            KeyKind::Rsa => self.session.sign(&Mechanism::Sha256RsaPkcs, self.key, message).map_err(p11("the token did not sign")),
            KeyKind::EcdsaP256 => {
                let digest = HashAlg::Sha256.digest(message);
                let raw = self.session.sign(&Mechanism::Ecdsa, self.key, &digest).map_err(p11("the token did not sign"))?;
                ecdsa_der(&raw)
            }
        }
    }
}
