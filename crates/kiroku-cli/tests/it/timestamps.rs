//! RFC 3161 timestamps end to end, with a local TSA (`openssl ts -reply` behind HTTP): a TSA
//! outage never blocks confirmation and loses nothing, the backlog is stamped in one batch when
//! the TSA returns, `kiroku verify` checks every token and each version's own proof, and an
//! archive timestamp keeps a token verifiable after its TSA certificate expires.

use std::time::Duration;

use base64::Engine as _;

use kiroku_testkit::pki::{self, TestPki, TestTsa};
use serde_json::{Value, json};

use crate::harness::*;

fn tsa_env(tsa: &TestTsa, pki: &TestPki, renew_before_days: &str) -> Vec<(String, String)> {
    vec![
        ("KIROKU_TIMESTAMP_URLS".into(), tsa.url.clone()),
        ("KIROKU_TIMESTAMP_TRUST_ANCHORS".into(), pki.ca_cert.display().to_string()),
        ("KIROKU_TIMESTAMP_INTERVAL_SECONDS".into(), "1".into()),
        ("KIROKU_TIMESTAMP_RENEW_BEFORE_DAYS".into(), renew_before_days.into()),
    ]
}

fn as_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Polls /healthz until `done` holds for its `timestamps` object.
async fn wait_for(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let client = server.client();
    for _ in 0..200 {
        let health = client.get("/healthz").await.body;
        if done(&health["timestamps"]) {
            return health;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {}", client.get("/healthz").await.body);
}

async fn confirmed_note(doctor: &Client, patient: &str, text: &str) -> String {
    let doc = doctor.post(&format!("/api/v1/patients/{patient}/documents"), note(text)).await.expect(201, "create");
    let id = doc["id"].as_str().expect("id").to_string();
    doctor.post(&format!("/api/v1/documents/{id}/confirm"), json!({})).await.expect(200, "confirm while the TSA is down");
    id
}

/// `openssl cms -verify` of a signature (as the API answered it) over the version's signed bytes.
async fn openssl_verifies(server: &Server, user: &Client, pki: &TestPki, id: &str, signed: &Value, name: &str) -> (bool, String) {
    let content = user
        .http
        .get(format!("{}/api/v1/documents/{id}/versions/1/signed-content", server.base))
        .bearer_auth(user.token.clone().unwrap_or_default())
        .send()
        .await
        .expect("content")
        .bytes()
        .await
        .expect("bytes");
    let der = base64::engine::general_purpose::STANDARD.decode(signed["signature"].as_str().unwrap_or_default()).expect("base64");
    pki.openssl_cms_verify(name, &der, &content)
}

fn verify(data: &std::path::Path, env: &[(&str, &str)], at: Option<String>) -> (Option<i32>, String) {
    let mut args = vec!["verify".to_string()];
    if let Some(at) = at {
        args.extend(["--at".to_string(), at]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = kiroku(data, &args, env);
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn days_from_now(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days)).format(&time::format_description::well_known::Rfc3339).expect("format")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsa_outage_blocks_nothing_and_the_backlog_is_stamped_when_it_returns() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let tsa = TestTsa::start(&pki);
    tsa.set_up(false);
    let data = dir.path().join("data");
    let env = tsa_env(&tsa, &pki, "0");
    let server = Server::init_and_start(&data, &as_refs(&env));
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let mut ids = Vec::new();
    for text in ["初診", "再診", "処方変更"] {
        ids.push(confirmed_note(&doctor, "P1", text).await);
    }

    let health = wait_for(&server, "the backlog while the TSA is down", |t| t["backlog"] == 3 && !t["last_error"].is_null()).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["alerts"][0].as_str().unwrap_or_default().contains("503"), "{health}");
    let metrics = server.client().http.get(format!("{}/metrics", server.base)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("kiroku_timestamp_backlog 3"), "{metrics}");

    tsa.set_up(true);
    let health = wait_for(&server, "the backlog to be stamped", |t| t["backlog"] == 0 && t["last_error"].is_null()).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(tsa.served(), 1, "three versions share one token (a Merkle batch)");
    let mut server = server;
    server.stop();

    let (code, out) = verify(&data, &as_refs(&env), None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 timestamps (3 stamped items)"), "{out}");
    // The TSA certificate is valid for 30 days: checked as of day 40 and without an archive
    // stamp, every version's timestamp is reported, each by name.
    let (code, out) = verify(&data, &as_refs(&env), Some(days_from_now(40)));
    assert_eq!(code, Some(1), "{out}");
    for id in &ids {
        assert!(out.contains(&format!("document {id} version 1: timestamp")), "{out}");
    }
    assert!(out.contains("not valid at"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_timestamp_keeps_an_expired_tsa_token_verifiable() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let short = TestPki::create(&dir.path().join("pki"), 1);
    let renewed = short.another_tsa(&dir.path().join("pki2"), 3650);
    let (tsa_short, tsa_long) = (TestTsa::start(&short), TestTsa::start(&renewed));
    let data = dir.path().join("data");

    // Year 1: a version stamped by a TSA whose certificate expires tomorrow.
    let env = tsa_env(&tsa_short, &short, "0");
    let server = Server::init_and_start(&data, &as_refs(&env));
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let kept = confirmed_note(&doctor, "P1", "退院時サマリ").await;
    wait_for(&server, "the first stamp", |t| t["backlog"] == 0 && t["stamped_total"] == 1).await;
    let mut server = server;
    server.stop();

    // The archive job, with the renewed TSA, re-stamps the token before its certificate expires.
    let env_long = tsa_env(&tsa_long, &short, "30");
    let server = Server::start(&data, &as_refs(&env_long));
    wait_for(&server, "the archive timestamp", |t| t["renewed_total"] == 1).await;
    let mut server = server;
    server.stop();

    // Another version stamped by the short-lived TSA, and never renewed (sessions outlive restarts).
    let server = Server::start(&data, &as_refs(&env));
    let doctor = Client { base: server.base.clone(), ..doctor };
    let unrenewed = confirmed_note(&doctor, "P1", "外来記録").await;
    wait_for(&server, "the second stamp", |t| t["backlog"] == 0 && t["stamped_total"] == 1).await;
    let mut server = server;
    server.stop();

    let (code, out) = verify(&data, &as_refs(&env), None);
    assert_eq!(code, Some(0), "today everything verifies: {out}");
    assert!(out.contains("3 timestamps (2 stamped items)"), "{out}");
    // Two days on, the short-lived TSA certificate has expired: the renewed token still verifies
    // through its archive timestamp, the other is reported.
    let (code, out) = verify(&data, &as_refs(&env), Some(days_from_now(2)));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("document {unrenewed} version 1: timestamp")), "{out}");
    assert!(out.contains("no valid archive timestamp renews it"), "{out}");
    assert!(!out.contains(&kept), "the archived version stays verifiable: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_version_is_signed_with_the_users_key_verified_stamped_and_checked_by_openssl() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let tsa = TestTsa::start(&pki);
    let data = dir.path().join("data");
    let mut env = tsa_env(&tsa, &pki, "0");
    env.push(("KIROKU_SIGNING_TRUST_ANCHORS".into(), pki.ca_cert.display().to_string()));
    let server = Server::init_and_start(&data, &as_refs(&env));
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let draft = doctor.post("/api/v1/patients/P1/documents", note("診断書")).await.expect(201, "create");
    let id = draft["id"].as_str().expect("id").to_string();
    let key = std::fs::read_to_string(&pki.signer_key).expect("key");
    let cert = std::fs::read_to_string(&pki.signer_cert).expect("cert");
    let sign = json!({ "private_key_pem": key, "certificate_pem": cert });
    let path = format!("/api/v1/documents/{id}/versions/1/signatures");
    let r = doctor.post(&path, sign.clone()).await;
    assert_eq!(r.status, 409, "a draft cannot be signed: {}", r.body);
    // A scanned page attached to the draft is stamped on its own, from the moment it is added.
    let upload = doctor
        .http
        .post(format!("{}/api/v1/documents/{id}/attachments?name=scan.pdf", server.base))
        .bearer_auth(doctor.token.clone().unwrap_or_default())
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.7 scanned page".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201);
    doctor.post(&format!("/api/v1/documents/{id}/confirm"), json!({})).await.expect(200, "confirm");

    let signed = doctor.post(&path, sign).await.expect(201, "sign");
    assert_eq!(signed["signed_by"], "dr.sato");
    assert!(signed["signer"].as_str().unwrap_or_default().contains("Test Doctor"), "{signed}");
    let listed = doctor.get(&path).await.expect(200, "list");
    assert_eq!(listed["signatures"][0]["valid"], true, "{listed}");

    // The signature file verifies with openssl over the exact signed bytes.
    let (ok, out) = openssl_verifies(&server, &doctor, &pki, &id, &signed, "v1").await;
    assert!(ok, "openssl cms -verify: {out}");

    // A key from a CA nobody configured is refused with the reason.
    let stranger = TestPki::create_named(&dir.path().join("stranger"), "unknown CA", 30);
    let r = doctor
        .post(
            &path,
            json!({ "private_key_pem": std::fs::read_to_string(&stranger.signer_key).expect("key"),
                    "certificate_pem": std::fs::read_to_string(&stranger.signer_cert).expect("cert") }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap_or_default().contains("untrusted"), "{}", r.body);

    // The same doctor's key as a legacy PKCS#12 file (3DES/RC2, as HPKI-issued files often
    // are), with its password for this request only; a wrong password is refused as such.
    let (key, cert) = (pki.signer_key.display().to_string(), pki.signer_cert.display().to_string());
    pki::openssl(
        &pki.dir,
        &["pkcs12", "-export", "-legacy", "-inkey", &key, "-in", &cert, "-passout", "pass:card-pin-1234", "-out", "dr.p12"],
    );
    let p12 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(pki.dir.join("dr.p12")).expect("p12"));
    let r = doctor.post(&path, json!({ "pkcs12": p12, "pkcs12_password": "wrong" })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap_or_default().contains("pkcs12_password"), "{}", r.body);
    let signed = doctor.post(&path, json!({ "pkcs12": p12, "pkcs12_password": "card-pin-1234" })).await.expect(201, "sign with PKCS#12");
    assert!(signed["signer"].as_str().unwrap_or_default().contains("Test Doctor"), "{signed}");

    // The version and its signatures are all stamped; verify checks all of it.
    wait_for(&server, "file, version and signatures stamped", |t| t["backlog"] == 0 && t["stamped_total"].as_u64() >= Some(4)).await;
    let mut server = server;
    server.stop();
    let (code, out) = verify(&data, &as_refs(&env), None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(4 stamped items), 2 signatures"), "{out}");
}

/// Revocation end to end, with `openssl ocsp` as the responder and an `openssl ca` CRL served
/// over HTTP: a revoked signer's signature is refused with time and reason, a good one is kept
/// with its certificate path and OCSP answer; after the CA's servers are gone the page's verdict
/// and `kiroku verify` still decide from the kept answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_signers_are_refused_and_kept_answers_outlive_the_responder() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let mut peers = kiroku_testkit::revocation::RevocationPeers::start(&pki);
    let tsa = TestTsa::start(&pki);
    let data = dir.path().join("data");
    let mut env = tsa_env(&tsa, &pki, "0");
    env.push(("KIROKU_SIGNING_TRUST_ANCHORS".into(), pki.ca_cert.display().to_string()));
    let server = Server::init_and_start(&data, &as_refs(&env));
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.kato", "doctor").await;
    create_patient(&doctor, "P1").await;
    let id = confirmed_note(&doctor, "P1", "紹介状").await;
    let path = format!("/api/v1/documents/{id}/versions/1/signatures");
    let key_and_cert = |key: &std::path::Path, cert: &std::path::Path| json!({ "private_key_pem": std::fs::read_to_string(key).expect("key"), "certificate_pem": std::fs::read_to_string(cert).expect("cert") });

    let r = doctor.post(&path, key_and_cert(&peers.revoked_key, &peers.revoked_cert)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("revoked") && detail.contains("keyCompromise") && detail.contains("Revoked Doctor"), "{detail}");

    let signed = doctor.post(&path, key_and_cert(&peers.good_key, &peers.good_cert)).await.expect(201, "a good signer signs");
    let listed = doctor.get(&path).await.expect(200, "list");
    assert_eq!(listed["signatures"][0]["valid"], true, "{listed}");
    assert!(signed["id"].is_string());

    // The CA's servers are gone; the kept OCSP answer still decides.
    peers.stop();
    let listed = doctor.get(&path).await.expect(200, "list after the responder stopped");
    assert_eq!(listed["signatures"][0]["valid"], true, "{listed}");
    wait_for(&server, "version and signature stamped", |t| t["backlog"] == 0 && t["stamped_total"].as_u64() >= Some(2)).await;
    let mut server = server;
    server.stop();
    let (code, out) = verify(&data, &as_refs(&env), None);
    assert_eq!(code, Some(0), "{out}");
    // Two path certificates and the OCSP answer for the signature (the TSA's names no source:
    // its two path certificates per token are kept too).
    assert!(out.contains("1 signatures ("), "{out}");
    assert!(!out.contains("(0 certificates and revocation answers kept)"), "{out}");
}

/// The facility's seal on a PKCS#11 token (SoftHSM2 made in the test's directory, the signer's
/// key and certificate imported): the PIN is sent with the request and never kept, the key
/// signs on the token, and openssl verifies the signature; a wrong PIN is refused as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facility_seal_on_a_pkcs11_token_signs_and_openssl_verifies() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let Some(hsm) = kiroku_testkit::pkcs11::SoftHsm::with_signer(&dir.path().join("hsm"), &pki) else { return };
    let data = dir.path().join("data");
    let env: Vec<(String, String)> = vec![
        ("SOFTHSM2_CONF".into(), hsm.conf.display().to_string()),
        ("KIROKU_SIGNING_TRUST_ANCHORS".into(), pki.ca_cert.display().to_string()),
        ("KIROKU_SIGNING_PKCS11_MODULE".into(), hsm.module.display().to_string()),
        ("KIROKU_SIGNING_PKCS11_TOKEN_LABEL".into(), hsm.token_label.clone()),
        ("KIROKU_SIGNING_PKCS11_KEY_LABEL".into(), hsm.key_label.clone()),
    ];
    let server = Server::init_and_start(&data, &as_refs(&env));
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.seal", "doctor").await;
    create_patient(&doctor, "P1").await;
    let id = confirmed_note(&doctor, "P1", "死亡診断書").await;
    let path = format!("/api/v1/documents/{id}/versions/1/signatures");

    let r = doctor.post(&path, json!({ "pkcs11_pin": "0000" })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap_or_default().contains("pkcs11_pin"), "{}", r.body);
    let signed = doctor.post(&path, json!({ "pkcs11_pin": hsm.pin })).await.expect(201, "signed on the token");
    assert!(signed["signer"].as_str().unwrap_or_default().contains("Test Doctor"), "{signed}");
    // Twice in a row: the token is opened and closed for each use.
    doctor.post(&path, json!({ "pkcs11_pin": hsm.pin })).await.expect(201, "signed again");
    let listed = doctor.get(&path).await.expect(200, "list");
    assert_eq!(listed["signatures"][0]["valid"], true, "{listed}");

    let (ok, out) = openssl_verifies(&server, &doctor, &pki, &id, &signed, "seal").await;
    assert!(ok, "openssl cms -verify refused the token's signature: {out}");
}

/// TLS in front of the test TSA (rustls, a server certificate for 127.0.0.1 from the test CA),
/// forwarding each connection to the TSA's plain HTTP port. Returns the https URL.
async fn tls_in_front_of(tsa: &TestTsa, pki: &TestPki) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    std::fs::write(pki.dir.join("tls.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        .expect("ext");
    for args in [
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "tls.key",
            "-out",
            "tls.csr",
            "-subj",
            "/CN=127.0.0.1",
        ][..],
        &[
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "9",
            "-days",
            "2",
            "-extfile",
            "tls.ext",
            "-out",
            "tls.pem",
        ][..],
    ] {
        pki::openssl(&pki.dir, args);
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.dir.join("tls.pem")).expect("cert").collect::<Result<_, _>>().expect("certs");
    let key = PrivateKeyDer::from_pem_file(pki.dir.join("tls.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let upstream = tsa.url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    format!("https://127.0.0.1:{port}/tsa")
}

/// An https TSA whose server certificate a private CA issued: with `tls_ca_file` naming that CA
/// the backlog is stamped through TLS; without it the TLS handshake fails and the items wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_tsa_with_a_private_ca_stamps() {
    if !pki::openssl_available() {
        return;
    }
    let dir = temp_dir();
    let pki = TestPki::create(&dir.path().join("pki"), 30);
    let tsa = TestTsa::start(&pki);
    let url = tls_in_front_of(&tsa, &pki).await;
    let data = dir.path().join("data");
    let mut env = tsa_env(&tsa, &pki, "0");
    env[0].1 = url.clone();

    // Without the private CA the TSA's certificate is not trusted: nothing is stamped.
    let server = Server::init_and_start(&data, &as_refs(&env));
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.tls", "doctor").await;
    create_patient(&doctor, "P1").await;
    confirmed_note(&doctor, "P1", "手術記録").await;
    let health = wait_for(&server, "a failed attempt", |t| t["last_error"].is_string() && t["backlog"].as_i64() >= Some(1)).await;
    assert_eq!(tsa.served(), 0, "{health}");
    let mut server = server;
    server.stop();

    env.push(("KIROKU_TIMESTAMP_TLS_CA_FILE".into(), pki.ca_cert.display().to_string()));
    let server = Server::start(&data, &as_refs(&env));
    wait_for(&server, "the version stamped over https", |t| t["backlog"] == 0 && t["stamped_total"].as_u64() >= Some(1)).await;
    assert!(tsa.served() >= 1);
}
