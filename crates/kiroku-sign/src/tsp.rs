//! RFC 3161 time-stamp protocol, client side: requests, and the checks a response and its
//! token must pass before kiroku keeps them.

use der::asn1::{Int, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Tag, Tagged};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::asn1::{MessageImprint, TimeStampReq, TimeStampResp, TstInfo};
use crate::cert::{self, CertificateSummary, TrustAnchors};
use crate::cms::{self as cms_impl};
use crate::{HashAlg, SignError, oid};

/// A request as sent, with what its answer must repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRequest {
    pub der: Vec<u8>,
    pub hash: HashAlg,
    pub digest: Vec<u8>,
    pub nonce: Vec<u8>,
    pub policy: Option<ObjectIdentifier>,
}

impl TimestampRequest {
    /// A request for `digest` (made with `hash`), asking for the TSA's certificate, with a
    /// fresh random nonce and, when given, the policy the token must be issued under.
    pub fn new(hash: HashAlg, digest: &[u8], policy: Option<ObjectIdentifier>) -> Result<Self, SignError> {
        let mut nonce = [0u8; 12];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SignError::Key("no randomness for the nonce".into()))?;
        // Positive and minimally encoded whatever the random bytes were.
        nonce[0] = (nonce[0] & 0x7f) | 0x40;
        Self::with_nonce(hash, digest, &nonce, policy)
    }

    pub fn with_nonce(hash: HashAlg, digest: &[u8], nonce: &[u8], policy: Option<ObjectIdentifier>) -> Result<Self, SignError> {
        if digest.len() != hash.output_len() {
            return Err(SignError::ImprintMismatch);
        }
        let request = TimeStampReq {
            version: 1,
            message_imprint: imprint(hash, digest)?,
            req_policy: policy,
            nonce: Some(Int::new(nonce).map_err(|e| SignError::malformed("nonce", e))?),
            cert_req: true,
            extensions: None,
        };
        let der = request.to_der().map_err(|e| SignError::malformed("time-stamp request", e))?;
        Ok(Self { der, hash, digest: digest.to_vec(), nonce: nonce.to_vec(), policy })
    }
}

fn imprint(hash: HashAlg, digest: &[u8]) -> Result<MessageImprint, SignError> {
    Ok(MessageImprint {
        hash_algorithm: hash.identifier(),
        hashed_message: OctetString::new(digest).map_err(|e| SignError::malformed("imprint", e))?,
    })
}

/// A verified token and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampToken {
    /// The token as the TSA made it (CMS ContentInfo, DER): what is stored and exported.
    pub der: Vec<u8>,
    pub gen_time: OffsetDateTime,
    pub serial: String,
    pub policy: String,
    pub hash: HashAlg,
    pub digest: Vec<u8>,
    pub tsa: CertificateSummary,
    /// Every certificate the token carried (DER), kept with it for long-term verification.
    pub certificates: Vec<Vec<u8>>,
    /// The TSA certificate's path to the anchor, leaf first: what revocation is checked along.
    pub path: Vec<x509_cert::Certificate>,
}

/// Checks a TSA's response to `request`: granted, a token over the same imprint with the same
/// nonce and (if asked) policy, then everything `verify_token` checks.
pub fn verify_response(
    response: &[u8],
    request: &TimestampRequest,
    anchors: &TrustAnchors,
    at: OffsetDateTime,
) -> Result<TimestampToken, SignError> {
    let response = TimeStampResp::from_der(response).map_err(|e| SignError::malformed("time-stamp response", e))?;
    if response.status.status > 1 {
        return Err(SignError::Rejected { status: response.status.status, text: response.status.status_string.map(|s| s.join("; ")) });
    }
    let token = response.time_stamp_token.ok_or(SignError::NoToken)?;
    let token = token.to_der().map_err(|e| SignError::malformed("time-stamp token", e))?;
    let (info, _) = parse_token(&token)?;
    if info.nonce.as_ref().map(|n| n.as_bytes()) != Some(request.nonce.as_slice()) {
        return Err(SignError::NonceMismatch);
    }
    if let Some(expected) = request.policy
        && info.policy != expected
    {
        return Err(SignError::PolicyMismatch { expected: expected.to_string(), got: info.policy.to_string() });
    }
    verify_token(&token, request.hash, &request.digest, anchors, at)
}

/// Verifies a stored token over `digest`: imprint, the CMS signature with its signed
/// attributes, the ESS binding of the TSA certificate, the TSA's critical timeStamping key
/// usage, the TSA certificate valid at the token's time, and its path to `anchors` at `at`.
pub fn verify_token(
    token: &[u8],
    hash: HashAlg,
    digest: &[u8],
    anchors: &TrustAnchors,
    at: OffsetDateTime,
) -> Result<TimestampToken, SignError> {
    let (info, econtent) = parse_token(token)?;
    let token_hash = HashAlg::from_oid(&info.message_imprint.hash_algorithm.oid)?;
    if token_hash != hash || info.message_imprint.hashed_message.as_bytes() != digest {
        return Err(SignError::ImprintMismatch);
    }
    let signed_data = cms_impl::parse_signed_data(token, "time-stamp token")?;
    let signer_info = cms_impl::single_signer(&signed_data)?;
    let pool = cms_impl::certificates_of(&signed_data);
    let tsa_cert = cms_impl::verify_signer_info(signer_info, &pool, &econtent, oid::TST_INFO)?;
    cms_impl::check_signing_certificate(signer_info, &tsa_cert)?;
    cert::check_tsa_key_usage(&tsa_cert)?;
    let gen_time = gen_time(&info)?;
    cert::check_valid_at(&tsa_cert, gen_time)?;
    let path = cert::verify_path(&tsa_cert, &pool, anchors, at)?;
    Ok(TimestampToken {
        der: token.to_vec(),
        gen_time,
        serial: hex::encode(info.serial_number.as_bytes()),
        policy: info.policy.to_string(),
        hash,
        digest: digest.to_vec(),
        tsa: CertificateSummary::of(&tsa_cert),
        certificates: pool.iter().filter_map(|c| c.to_der().ok()).collect(),
        path,
    })
}

/// The token's TSTInfo and the exact eContent bytes its signature covers.
pub fn parse_token(token: &[u8]) -> Result<(TstInfo, Vec<u8>), SignError> {
    let signed_data = cms_impl::parse_signed_data(token, "time-stamp token")?;
    let encap = &signed_data.encap_content_info;
    if encap.econtent_type != oid::TST_INFO {
        return Err(SignError::WrongContentType { expected: "time-stamp token (TSTInfo)" });
    }
    let econtent = encap.econtent.as_ref().ok_or(SignError::WrongContentType { expected: "time-stamp token (TSTInfo)" })?;
    let bytes = econtent.decode_as::<OctetString>().map_err(|e| SignError::malformed("time-stamp token", e))?.as_bytes().to_vec();
    let info = TstInfo::from_der(&bytes).map_err(|e| SignError::malformed("TSTInfo", e))?;
    if info.version != 1 {
        return Err(SignError::malformed("TSTInfo", format!("version {}", info.version)));
    }
    Ok((info, bytes))
}

/// The token's time (genTime); fractions of a second are dropped.
pub fn gen_time(info: &TstInfo) -> Result<OffsetDateTime, SignError> {
    let bad = |d: &str| SignError::malformed("genTime", d);
    if info.gen_time.tag() != Tag::GeneralizedTime {
        return Err(bad("not a GeneralizedTime"));
    }
    let text = std::str::from_utf8(info.gen_time.value()).map_err(|_| bad("not ASCII"))?;
    let text = text.strip_suffix('Z').ok_or_else(|| bad("not in UTC"))?;
    let whole = text.split('.').next().unwrap_or_default();
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not YYYYMMDDHHMMSS"));
    }
    let n = |r: std::ops::Range<usize>| whole[r].parse::<u32>().map_err(|_| bad("digits"));
    let month = time::Month::try_from(u8::try_from(n(4..6)?).map_err(|_| bad("month"))?).map_err(|_| bad("month"))?;
    let date = time::Date::from_calendar_date(
        i32::try_from(n(0..4)?).map_err(|_| bad("year"))?,
        month,
        u8::try_from(n(6..8)?).map_err(|_| bad("day"))?,
    )
    .map_err(|_| bad("date"))?;
    let clock = time::Time::from_hms(
        u8::try_from(n(8..10)?).map_err(|_| bad("hour"))?,
        u8::try_from(n(10..12)?).map_err(|_| bad("minute"))?,
        u8::try_from(n(12..14)?).map_err(|_| bad("second"))?,
    )
    .map_err(|_| bad("time"))?;
    Ok(date.with_time(clock).assume_utc())
}
