//! PKCS#12 files made by `openssl pkcs12 -export`, current (PBES2/AES) and `-legacy`
//! (3DES key, RC2-40 certificates, as many HPKI/JPKI-issued files are), opened into a signer
//! whose signatures openssl verifies; and each refusal with its reason.

use kiroku_sign::{SignError, SoftwareSigner};
use kiroku_testkit::pki::{TestPki, openssl};

use super::{anchors, now, setup};

const PASSWORD: &str = "署名用 pass-123";

fn export(pki: &TestPki, name: &str, extra: &[&str]) -> Vec<u8> {
    let pass = format!("pass:{PASSWORD}");
    let key = pki.signer_key.display().to_string();
    let cert = pki.signer_cert.display().to_string();
    let ca = pki.ca_cert.display().to_string();
    let mut args =
        vec!["pkcs12", "-export", "-inkey", &key, "-in", &cert, "-certfile", &ca, "-name", "Test Doctor", "-passout", &pass, "-out", name];
    args.extend_from_slice(extra);
    openssl(&pki.dir, &args);
    std::fs::read(pki.dir.join(name)).expect("p12")
}

fn info(pki: &TestPki, name: &str, extra: &[&str]) -> String {
    let pass = format!("pass:{PASSWORD}");
    let mut args = vec!["pkcs12", "-info", "-noout", "-in", name, "-passin", &pass];
    args.extend_from_slice(extra);
    let out = std::process::Command::new("openssl").args(&args).current_dir(&pki.dir).output().expect("openssl");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn signs_and_verifies(pki: &TestPki, p12: &[u8]) {
    let signer = SoftwareSigner::from_pkcs12(p12, PASSWORD).expect("opened");
    let content = "処方箋 — confirmed version 2".as_bytes();
    let signature = kiroku_sign::sign_detached(content, &signer, now()).expect("signed");
    let report = kiroku_sign::verify_detached(&signature, content, &anchors(pki), now()).expect("kiroku verifies");
    assert!(report.signer.subject.contains("Test Doctor"));
    // The CA certificate of the file travels in the signature.
    assert_eq!(report.certificates.len(), 2);
    let (ok, out) = pki.openssl_cms_verify("p12", &signature, content);
    assert!(ok, "openssl cms -verify refused a signature made with a PKCS#12 key: {out}");
}

#[test]
fn pbes2_aes_pkcs12_from_openssl_signs() {
    let Some((_dir, pki)) = setup(30) else { return };
    let p12 = export(&pki, "modern.p12", &[]);
    let info = info(&pki, "modern.p12", &[]);
    assert!(info.contains("PBES2") && info.contains("AES-256-CBC"), "not the modern form: {info}");
    signs_and_verifies(&pki, &p12);
}

#[test]
fn legacy_3des_rc2_pkcs12_from_openssl_signs() {
    let Some((_dir, pki)) = setup(30) else { return };
    let p12 = export(&pki, "legacy.p12", &["-legacy"]);
    let info = info(&pki, "legacy.p12", &["-legacy"]);
    assert!(
        info.contains("pbeWithSHA1And3-KeyTripleDES-CBC") && info.contains("pbeWithSHA1And40BitRC2-CBC"),
        "not the legacy form: {info}"
    );
    signs_and_verifies(&pki, &p12);
}

#[test]
fn pkcs12_refusals_say_why() {
    let Some((_dir, pki)) = setup(30) else { return };
    for (name, extra) in [("m.p12", &[][..]), ("l.p12", &["-legacy"][..])] {
        let p12 = export(&pki, name, extra);
        let e = SoftwareSigner::from_pkcs12(&p12, "wrong password").expect_err("wrong password");
        assert_eq!(e, SignError::Pkcs12Password, "{name}");
        assert_eq!(e.code(), "pkcs12_password");
        let truncated = SoftwareSigner::from_pkcs12(&p12[..p12.len() / 2], PASSWORD).expect_err("truncated");
        assert_eq!(truncated.code(), "malformed", "{name}: {truncated}");
    }

    // Certificates only, no key.
    let pass = format!("pass:{PASSWORD}");
    let cert = pki.signer_cert.display().to_string();
    openssl(&pki.dir, &["pkcs12", "-export", "-nokeys", "-in", &cert, "-passout", &pass, "-out", "nokey.p12"]);
    let nokey = std::fs::read(pki.dir.join("nokey.p12")).expect("p12");
    assert_eq!(SoftwareSigner::from_pkcs12(&nokey, PASSWORD).expect_err("no key"), SignError::Pkcs12NoKey);

    // Another RSA key filed with the doctor's certificate (openssl refuses to make such a file).
    openssl(&pki.dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key"]);
    openssl(&pki.dir, &["pkcs8", "-topk8", "-nocrypt", "-in", "other.key", "-outform", "DER", "-out", "other.p8"]);
    let key = std::fs::read(pki.dir.join("other.p8")).expect("key");
    let cert_der = openssl(&pki.dir, &["x509", "-in", &cert, "-outform", "DER"]);
    let chain = p12_keystore::PrivateKeyChain::new(key, [1u8; 20], [p12_keystore::Certificate::from_der(&cert_der).expect("cert")]);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("mismatch", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let mismatch = store.writer(PASSWORD).write().expect("written");
    let e = SoftwareSigner::from_pkcs12(&mismatch, PASSWORD).expect_err("mismatch");
    assert_eq!(e, SignError::KeyCertificateMismatch);

    assert_eq!(SoftwareSigner::from_pkcs12(b"not a pkcs12 file", PASSWORD).expect_err("garbage").code(), "malformed");
}
