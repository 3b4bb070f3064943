//! Electronic signatures and timestamps for kiroku: CMS/CAdES detached signatures made with
//! a `Signer` and verified against configured trust anchors, and the RFC 3161 client side
//! (requests, responses, tokens). No IO: callers pass bytes in and get bytes and verdicts
//! out; the HTTP exchange with a TSA belongs to the server.

pub mod alg;
pub mod asn1;
pub mod cert;
pub mod cms;
mod error;
pub mod oid;
pub mod pkcs11;
pub mod revocation;
pub mod signer;
pub mod tsp;

pub use alg::HashAlg;
pub use cert::{CertificateSummary, TrustAnchors};
pub use cms::{SignatureReport, sign_detached, verify_detached, verify_detached_digest};
pub use der;
pub use error::SignError;
pub use signer::{Signer, SoftwareSigner};
pub use tsp::{TimestampRequest, TimestampToken, verify_response, verify_token};
pub use x509_cert::Certificate;
