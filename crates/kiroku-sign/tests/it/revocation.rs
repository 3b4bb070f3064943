//! Revocation against real peers: a CRL made by `openssl ca -gencrl` and served over HTTP, and
//! `openssl ocsp -index … -port` as the OCSP responder. A revoked signer is reported revoked
//! with time and reason, a good one good; after the peers stop, the stored answers still
//! decide; bad answers are refused with their precise reason.

use std::io::{Read, Write};
use std::net::TcpStream;

use kiroku_sign::revocation::{self, CertStatus, Evidence, EvidenceKind, OcspRequest};
use kiroku_sign::{Certificate, SignError};
use kiroku_testkit::pki::openssl;
use kiroku_testkit::revocation::RevocationPeers;
use time::Duration;

use super::{now, setup};

fn cert(path: &std::path::Path) -> Certificate {
    kiroku_sign::cert::certificate_from_pem_or_der(&std::fs::read(path).expect("cert")).expect("parsed")
}

/// A plain HTTP/1.1 exchange with a test peer; the body of a 200 answer.
fn http(url: &str, method: &str, content_type: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or(std::io::ErrorKind::UnexpectedEof)?;
    if !answer.starts_with(b"HTTP/1.0 200") && !answer.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(String::from_utf8_lossy(&answer[..split]).into_owned()));
    }
    Ok(answer[split + 4..].to_vec())
}

fn ask_ocsp(url: &str, request: &OcspRequest) -> std::io::Result<Vec<u8>> {
    http(url, "POST", "application/ocsp-request", &request.der)
}

#[test]
fn crl_and_ocsp_from_openssl_say_good_and_revoked_and_stored_answers_outlive_the_peers() {
    let Some((_dir, pki)) = setup(30) else { return };
    let mut peers = RevocationPeers::start(&pki);
    let ca = cert(&pki.ca_cert);
    let (good, revoked) = (cert(&peers.good_cert), cert(&peers.revoked_cert));
    assert_eq!(revocation::crl_urls(&good), vec![peers.crl_url.clone()]);
    assert_eq!(revocation::ocsp_urls(&good), vec![peers.ocsp_url.clone()]);

    // CRL, fetched from the certificate's distribution point.
    let crl = http(&revocation::crl_urls(&good)[0], "GET", "text/plain", b"").expect("CRL fetched");
    let status = revocation::check_crl(&crl, &good, &ca, now()).expect("CRL checks");
    assert_eq!(status.status, CertStatus::Good);
    status.judge(&good, now()).expect("good is good");
    let status = revocation::check_crl(&crl, &revoked, &ca, now()).expect("CRL checks");
    let CertStatus::Revoked { at: revoked_at, reason } = status.status.clone() else { panic!("not revoked: {status:?}") };
    assert_eq!(reason.as_deref(), Some("keyCompromise"));
    let refused = status.judge(&revoked, now()).expect_err("revoked");
    assert_eq!(refused.code(), "revoked");
    assert!(refused.to_string().contains("Revoked Doctor") && refused.to_string().contains("keyCompromise"), "{refused}");
    // A signature whose timestamp proves it was made before the revocation stays valid.
    status.judge(&revoked, revoked_at - Duration::hours(1)).expect("signed before the revocation");

    // OCSP, asked of the responder the certificate names, with a nonce.
    let mut stored = vec![Evidence { kind: EvidenceKind::Crl, der: crl.clone(), obtained_at: now() }];
    for (c, want_revoked) in [(&good, false), (&revoked, true)] {
        let request = OcspRequest::new(c, &ca).expect("request");
        let answer = ask_ocsp(&revocation::ocsp_urls(c)[0], &request).expect("OCSP answered");
        let status = revocation::check_ocsp(&answer, c, &ca, Some(&request.nonce), now()).expect("OCSP checks");
        match (&status.status, want_revoked) {
            (CertStatus::Good, false) => {}
            (CertStatus::Revoked { reason, .. }, true) => assert_eq!(reason.as_deref(), Some("keyCompromise")),
            other => panic!("unexpected OCSP status {other:?}"),
        }
        assert!(status.next_update.is_some());
        stored.push(Evidence { kind: EvidenceKind::Ocsp, der: answer, obtained_at: now() });
    }

    // The CA's servers are gone: asking fails, the stored answers still decide.
    peers.stop();
    let request = OcspRequest::new(&good, &ca).expect("request");
    assert!(ask_ocsp(&peers.ocsp_url, &request).is_err(), "the responder is stopped");
    assert!(http(&peers.crl_url, "GET", "text/plain", b"").is_err(), "the CRL server is stopped");
    let ocsp_only: Vec<_> = stored.iter().filter(|e| e.kind == EvidenceKind::Ocsp).cloned().collect();
    for evidence in [&stored[..], &ocsp_only[..]] {
        // Checked years later: each answer's freshness is judged when it was obtained.
        let later = now() + Duration::days(3650);
        revocation::check_path(&[good.clone(), ca.clone()], evidence, now()).expect("still good");
        let e = revocation::check_path(&[revoked.clone(), ca.clone()], evidence, later).expect_err("still revoked");
        assert_eq!(e.code(), "revoked");
    }
    let unknown = revocation::check_path(&[good.clone(), ca.clone()], &[], now()).expect_err("nothing stored");
    assert_eq!(unknown.code(), "revocation_unknown");
    // The test CA's own TSA certificate names no source: not checked, and said so.
    let tsa = cert(&pki.tsa_cert);
    assert_eq!(revocation::check_path(&[tsa, ca.clone()], &[], now()).expect("unchecked").len(), 1);
}

#[test]
fn bad_revocation_answers_are_refused_with_their_reason() {
    let Some((_dir, pki)) = setup(30) else { return };
    let peers = RevocationPeers::start(&pki);
    let ca = cert(&pki.ca_cert);
    let good = cert(&peers.good_cert);
    let crl = std::fs::read(&peers.crl).expect("crl");

    // Garbage and truncated DER.
    for bytes in [&b"not DER at all"[..], &crl[..crl.len() / 2], &[]] {
        let e = revocation::check_crl(bytes, &good, &ca, now()).expect_err("bad CRL");
        assert_eq!(e.code(), "malformed", "{e}");
        let e = revocation::check_ocsp(bytes, &good, &ca, None, now()).expect_err("bad OCSP");
        assert_eq!(e.code(), "malformed", "{e}");
    }

    // A CRL past its nextUpdate (made valid for 24 hours, checked two days on).
    let e = revocation::check_crl(&crl, &good, &ca, now() + Duration::days(2)).expect_err("expired");
    assert!(matches!(e, SignError::RevocationExpired { kind: "crl", .. }), "{e}");
    // A CRL whose signature was tampered with.
    let mut tampered = crl.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 0x01;
    let e = revocation::check_crl(&tampered, &good, &ca, now()).expect_err("tampered");
    assert!(matches!(e.code(), "revocation_signature" | "malformed"), "{e}");

    // An OCSP answer to another request (another nonce): a replay.
    let first = OcspRequest::new(&good, &ca).expect("request");
    let answer = ask_ocsp(&peers.ocsp_url, &first).expect("answer");
    let second = OcspRequest::new(&good, &ca).expect("request");
    assert_eq!(revocation::check_ocsp(&answer, &good, &ca, Some(&second.nonce), now()).expect_err("replay"), SignError::OcspNonceMismatch);
    let truncated = revocation::check_ocsp(&answer[..answer.len() - 10], &good, &ca, Some(&first.nonce), now()).expect_err("cut");
    assert_eq!(truncated.code(), "malformed");
    // A stale OCSP answer (nextUpdate one day on).
    let e = revocation::check_ocsp(&answer, &good, &ca, None, now() + Duration::days(2)).expect_err("stale");
    assert!(matches!(e, SignError::RevocationExpired { kind: "ocsp", .. }), "{e}");

    // An answer signed by a certificate the CA did not authorise for OCSP (the TSA's).
    std::fs::write(pki.dir.join("req.der"), &first.der).expect("req");
    openssl(
        &pki.dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-rsigner",
            "tsa.pem",
            "-rkey",
            "tsa.key",
            "-CA",
            "ca.pem",
            "-reqin",
            "req.der",
            "-respout",
            "bad.der",
        ],
    );
    let bad = std::fs::read(pki.dir.join("bad.der")).expect("bad");
    let e = revocation::check_ocsp(&bad, &good, &ca, Some(&first.nonce), now()).expect_err("unauthorised");
    assert!(matches!(e, SignError::OcspUnauthorizedResponder { .. }), "{e}");
}
