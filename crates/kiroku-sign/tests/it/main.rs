//! Interoperability with openssl in both directions, and refusals with their precise reasons.

use std::path::Path;

use kiroku_sign::{HashAlg, SignError, SoftwareSigner, TimestampRequest, TrustAnchors};
use kiroku_testkit::pki::{self, TestPki, openssl, openssl_status};
use time::{Duration, OffsetDateTime};

fn setup(tsa_days: u32) -> Option<(tempfile::TempDir, TestPki)> {
    if !pki::openssl_available() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::create(dir.path(), tsa_days);
    Some((dir, pki))
}

fn anchors(pki: &TestPki) -> TrustAnchors {
    TrustAnchors::from_pem(&std::fs::read(&pki.ca_cert).expect("ca")).expect("anchors")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn stamp(pki: &TestPki, data: &[u8]) -> (TimestampRequest, Vec<u8>) {
    let request = TimestampRequest::new(HashAlg::Sha256, &HashAlg::Sha256.digest(data), None).expect("request");
    let response = pki.ts_reply(&request.der);
    (request, response)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).expect("write");
    name.to_owned()
}

#[test]
fn kiroku_request_answered_by_openssl_and_token_verifies_in_both() {
    let Some((_dir, pki)) = setup(30) else { return };
    let data = b"clinical note, version 1";
    let (request, response) = stamp(&pki, data);
    let token = kiroku_sign::verify_response(&response, &request, &anchors(&pki), now()).expect("kiroku accepts");
    assert_eq!(token.policy, pki::TSA_POLICY);
    assert!((now() - token.gen_time).whole_seconds().abs() < 120);
    assert!(token.tsa.subject.contains("kiroku test TSA"));

    let token_file = write(&pki.dir, "token.tst", &token.der);
    let data_file = write(&pki.dir, "data.bin", data);
    let ca = pki.ca_cert.display().to_string();
    let (ok, out) = openssl_status(&pki.dir, &["ts", "-verify", "-in", &token_file, "-token_in", "-data", &data_file, "-CAfile", &ca]);
    assert!(ok, "openssl ts -verify refused kiroku's stored token: {out}");
    // openssl also checks the request kiroku built, nonce included.
    let req_file = write(&pki.dir, "req.tsq", &request.der);
    let resp_file = write(&pki.dir, "resp.tsr", &response);
    let (ok, out) = openssl_status(&pki.dir, &["ts", "-verify", "-in", &resp_file, "-queryfile", &req_file, "-CAfile", &ca]);
    assert!(ok, "openssl ts -verify with kiroku's query: {out}");
}

#[test]
fn openssl_made_query_and_token_verify_in_kiroku() {
    let Some((_dir, pki)) = setup(30) else { return };
    let data_file = write(&pki.dir, "data.bin", b"scanned page");
    openssl(&pki.dir, &["ts", "-query", "-data", &data_file, "-sha384", "-cert", "-out", "q.tsq"]);
    let response = pki.ts_reply(&std::fs::read(pki.dir.join("q.tsq")).expect("query"));
    let resp = kiroku_sign::asn1::TimeStampResp::from_der_bytes(&response);
    let token = resp.expect("response").time_stamp_token.expect("token");
    let token = der_bytes(&token);
    let digest = HashAlg::Sha384.digest(b"scanned page");
    let verified = kiroku_sign::verify_token(&token, HashAlg::Sha384, &digest, &anchors(&pki), now()).expect("verifies");
    assert_eq!(verified.hash, HashAlg::Sha384);
}

fn der_bytes(any: &der::asn1::Any) -> Vec<u8> {
    der::Encode::to_der(any).expect("der")
}

#[test]
fn policy_requested_is_checked() {
    let Some((_dir, pki)) = setup(30) else { return };
    let digest = HashAlg::Sha256.digest(b"x");
    let other: der::asn1::ObjectIdentifier = pki::TSA_OTHER_POLICY.parse().expect("oid");
    let request = TimestampRequest::new(HashAlg::Sha256, &digest, Some(other)).expect("request");
    let token = kiroku_sign::verify_response(&pki.ts_reply(&request.der), &request, &anchors(&pki), now());
    assert_eq!(token.expect("granted").policy, pki::TSA_OTHER_POLICY);
}

#[test]
fn bad_tokens_are_refused_with_their_reason() {
    let Some((_dir, pki)) = setup(1) else { return };
    let anchors = anchors(&pki);
    let (request, response) = stamp(&pki, b"document");
    let token = kiroku_sign::verify_response(&response, &request, &anchors, now()).expect("valid").der;
    let digest = HashAlg::Sha256.digest(b"document");

    let wrong_hash = kiroku_sign::verify_token(&token, HashAlg::Sha256, &HashAlg::Sha256.digest(b"other"), &anchors, now());
    assert_eq!(wrong_hash.expect_err("refused"), SignError::ImprintMismatch);

    let other_nonce = TimestampRequest::with_nonce(HashAlg::Sha256, &digest, &[0x42, 1, 2, 3], None).expect("request");
    let wrong_nonce = kiroku_sign::verify_response(&response, &other_nonce, &anchors, now());
    assert_eq!(wrong_nonce.expect_err("refused"), SignError::NonceMismatch);

    let after_expiry = now() + Duration::days(3);
    let expired = kiroku_sign::verify_token(&token, HashAlg::Sha256, &digest, &anchors, after_expiry).expect_err("refused");
    assert_eq!(expired.code(), "certificate_not_valid_at", "{expired}");
    assert!(expired.to_string().contains("kiroku test TSA"), "{expired}");

    let stranger_dir = pki.dir.join("stranger");
    let stranger = TestPki::create_named(&stranger_dir, "another CA", 30);
    let stranger_anchors = TrustAnchors::from_pem(&std::fs::read(&stranger.ca_cert).expect("ca")).expect("anchors");
    let untrusted = kiroku_sign::verify_token(&token, HashAlg::Sha256, &digest, &stranger_anchors, now()).expect_err("refused");
    assert_eq!(untrusted.code(), "untrusted", "{untrusted}");

    let truncated = kiroku_sign::verify_token(&token[..token.len() - 10], HashAlg::Sha256, &digest, &anchors, now());
    assert_eq!(truncated.expect_err("refused").code(), "malformed");
    let garbage = kiroku_sign::verify_token(b"\x30\x03\x02\x01garbage", HashAlg::Sha256, &digest, &anchors, now());
    assert_eq!(garbage.expect_err("refused").code(), "malformed");
    let garbage_response = kiroku_sign::verify_response(b"not der at all", &request, &anchors, now());
    assert_eq!(garbage_response.expect_err("refused").code(), "malformed");

    let mut tampered = token.clone();
    let at = tampered.len() - 5;
    tampered[at] ^= 0x01;
    let tampered = kiroku_sign::verify_token(&tampered, HashAlg::Sha256, &digest, &anchors, now()).expect_err("refused");
    assert!(matches!(tampered.code(), "bad_signature" | "malformed"), "{tampered}");
}

#[test]
fn sha1_imprints_are_refused() {
    let Some((_dir, pki)) = setup(30) else { return };
    let data_file = write(&pki.dir, "data.bin", b"old");
    openssl(&pki.dir, &["ts", "-query", "-data", &data_file, "-sha1", "-cert", "-out", "q1.tsq"]);
    let reply = pki.ts_reply(&std::fs::read(pki.dir.join("q1.tsq")).expect("q"));
    // The test TSA does not list SHA-1 among its digests, so it answers with a refusal,
    // which kiroku reports with the TSA's status.
    let request = TimestampRequest::new(HashAlg::Sha256, &HashAlg::Sha256.digest(b"old"), None).expect("request");
    let refused = kiroku_sign::verify_response(&reply, &request, &anchors(&pki), now()).expect_err("refused");
    assert_eq!(refused.code(), "rejected", "{refused}");
    assert!(TimestampRequest::new(HashAlg::Sha256, &[0u8; 20], None).is_err(), "a 20-byte digest is no SHA-256");
}

#[test]
fn kiroku_cms_signature_verifies_with_openssl_and_in_kiroku() {
    let Some((_dir, pki)) = setup(30) else { return };
    let signer =
        SoftwareSigner::from_files_content(&std::fs::read(&pki.signer_key).expect("key"), &std::fs::read(&pki.signer_cert).expect("cert"))
            .expect("signer");
    let content = "退院時サマリ — confirmed version 3".as_bytes();
    let signature = kiroku_sign::sign_detached(content, &signer, now()).expect("signed");
    let report = kiroku_sign::verify_detached(&signature, content, &anchors(&pki), now()).expect("kiroku verifies");
    assert!(report.cades);
    assert!(report.signer.subject.contains("Test Doctor"));
    assert_eq!(report.path.len(), 2);

    let (ok, out) = pki.openssl_cms_verify("doc", &signature, content);
    assert!(ok, "openssl cms -verify refused kiroku's signature: {out}");
    let (ok, out) = openssl_status(&pki.dir, &["cms", "-cmsout", "-print", "-inform", "DER", "-in", "doc.p7s"]);
    assert!(ok && out.contains("id-smime-aa-signingCertificateV2"), "{out}");

    let changed = kiroku_sign::verify_detached(&signature, b"changed", &anchors(&pki), now());
    assert_eq!(changed.expect_err("refused"), SignError::DigestMismatch);
}

#[test]
fn openssl_cms_signature_verifies_in_kiroku() {
    let Some((_dir, pki)) = setup(30) else { return };
    let doc = write(&pki.dir, "doc.bin", b"referral letter");
    let (cert, key) = (pki.signer_cert.display().to_string(), pki.signer_key.display().to_string());
    openssl(
        &pki.dir,
        &["cms", "-sign", "-binary", "-in", &doc, "-signer", &cert, "-inkey", &key, "-outform", "DER", "-out", "o.p7s", "-cades"],
    );
    let signature = std::fs::read(pki.dir.join("o.p7s")).expect("sig");
    let report = kiroku_sign::verify_detached(&signature, b"referral letter", &anchors(&pki), now()).expect("verifies");
    assert!(report.cades);
    openssl(&pki.dir, &["cms", "-sign", "-binary", "-in", &doc, "-signer", &cert, "-inkey", &key, "-outform", "DER", "-out", "plain.p7s"]);
    let plain = std::fs::read(pki.dir.join("plain.p7s")).expect("sig");
    let report = kiroku_sign::verify_detached(&plain, b"referral letter", &anchors(&pki), now()).expect("verifies");
    assert!(!report.cades);
    let late = kiroku_sign::verify_detached(&plain, b"referral letter", &anchors(&pki), now() + Duration::days(400));
    assert_eq!(late.expect_err("refused").code(), "certificate_not_valid_at");
    let garbage = kiroku_sign::verify_detached(b"garbage", b"x", &anchors(&pki), now());
    assert_eq!(garbage.expect_err("refused").code(), "malformed");
}

/// DER TLV with a short or long length.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

#[test]
fn the_hpki_role_of_a_signer_is_shown() {
    let Some((_dir, pki)) = setup(30) else { return };
    // subjectDirectoryAttributes with an ISO 17090 hcRole attribute, as HPKI certificates carry:
    // SEQUENCE { SEQUENCE { OID 1.0.17090.0.1, SET { SET { SEQUENCE { [1] SEQUENCE { SEQUENCE {
    //   PrintableString "JP", SET { UTF8String "Medical Doctor" } } } } } } } }
    let regional = tlv(0x30, &[tlv(0x13, b"JP"), tlv(0x31, &tlv(0x0c, b"Medical Doctor"))].concat());
    let actor = tlv(0x30, &tlv(0xa1, &tlv(0x30, &regional)));
    let oid = tlv(0x06, &[0x28, 0x81, 0x85, 0x42, 0x00, 0x01]);
    let attribute = tlv(0x30, &[oid, tlv(0x31, &tlv(0x31, &actor))].concat());
    let extension = tlv(0x30, &attribute);
    std::fs::write(pki.dir.join("hpki.ext"), format!("keyUsage=critical,nonRepudiation\n2.5.29.9=DER:{}\n", hex::encode(&extension)))
        .expect("ext");
    openssl(
        &pki.dir,
        &["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "hpki.key", "-out", "hpki.csr", "-subj", "/CN=HPKI Doctor"],
    );
    openssl(
        &pki.dir,
        &[
            "x509",
            "-req",
            "-in",
            "hpki.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "9",
            "-days",
            "30",
            "-extfile",
            "hpki.ext",
            "-out",
            "hpki.pem",
        ],
    );
    let signer = SoftwareSigner::from_files_content(
        &std::fs::read(pki.dir.join("hpki.key")).expect("key"),
        &std::fs::read(pki.dir.join("hpki.pem")).expect("cert"),
    )
    .expect("signer");
    let signature = kiroku_sign::sign_detached(b"prescription", &signer, now()).expect("signed");
    let report = kiroku_sign::verify_detached(&signature, b"prescription", &anchors(&pki), now()).expect("verifies");
    assert!(report.signer.hc_roles.contains(&"Medical Doctor".to_string()), "{:?}", report.signer.hc_roles);
}

mod pkcs12;
mod revocation;
