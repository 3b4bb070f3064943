//! A test PKI and a local RFC 3161 TSA, both made by the `openssl` command in a test's own
//! directory: a CA, a TSA certificate (critical timeStamping key usage) with the validity a
//! test asks for, a signer (RSA, as HPKI cards use) and `openssl ts -reply` behind a tiny
//! HTTP server on 127.0.0.1. Never a public TSA.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The policy the test TSA issues tokens under by default.
pub const TSA_POLICY: &str = "1.2.3.4.1";
/// Another policy the test TSA accepts when asked.
pub const TSA_OTHER_POLICY: &str = "1.2.3.4.5";

/// Certificates and keys in `dir`, all PEM.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub tsa_cert: PathBuf,
    pub tsa_key: PathBuf,
    pub signer_cert: PathBuf,
    pub signer_key: PathBuf,
    pub ts_config: PathBuf,
}

/// Whether openssl can be run; prints the loud skip (or fails in CI) when not.
pub fn openssl_available() -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        crate::missing_peer("openssl", "apt-get install -y openssl");
    }
    ok
}

/// Runs openssl with `args` in `dir`; panics with its stderr if it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("openssl {args:?} could not start: {e}"));
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Runs openssl and answers whether it succeeded, with its stderr, for checks expected to fail.
pub fn openssl_status(dir: &Path, args: &[&str]) -> (bool, String) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("openssl {args:?} could not start: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

impl TestPki {
    /// `openssl cms -verify` of a detached DER signature over `content`, trusting the test CA;
    /// the files are written as `name.p7s` and `name.bin`. Whether it verified, and its output.
    pub fn openssl_cms_verify(&self, name: &str, signature: &[u8], content: &[u8]) -> (bool, String) {
        let (sig, doc) = (format!("{name}.p7s"), format!("{name}.bin"));
        std::fs::write(self.dir.join(&sig), signature).expect("write signature");
        std::fs::write(self.dir.join(&doc), content).expect("write content");
        let ca = self.ca_cert.display().to_string();
        let args = [
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &sig,
            "-content",
            &doc,
            "-CAfile",
            &ca,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ];
        openssl_status(&self.dir, &args)
    }

    /// A CA, a TSA certificate valid for `tsa_days`, and an RSA signer, in `dir`.
    pub fn create(dir: &Path, tsa_days: u32) -> Self {
        Self::create_named(dir, "kiroku test CA", tsa_days)
    }

    /// The same with another CA name, for "untrusted CA" tests.
    pub fn create_named(dir: &Path, ca_name: &str, tsa_days: u32) -> Self {
        std::fs::create_dir_all(dir).expect("pki dir");
        let p = |name: &str| dir.join(name);
        let subj = format!("/CN={ca_name}");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:true",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(
            p("tsa.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
        )
        .expect("tsa.ext");
        std::fs::write(p("signer.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
            .expect("signer.ext");
        let days = tsa_days.to_string();
        issue(dir, "tsa", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "/CN=kiroku test TSA", &days, "2");
        issue(dir, "signer", &["-newkey", "rsa:2048"], "/CN=Test Doctor", "365", "3");
        std::fs::write(p("tsaserial"), "01\n").expect("tsaserial");
        let d = dir.display();
        std::fs::write(
            p("ts.cnf"),
            format!(
                "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\nserial = {d}/tsaserial\ncrypto_device = builtin\n\
                 signer_cert = {d}/tsa.pem\ncerts = {d}/ca.pem\nsigner_key = {d}/tsa.key\nsigner_digest = sha256\n\
                 default_policy = {TSA_POLICY}\nother_policies = {TSA_OTHER_POLICY}\ndigests = sha256, sha384, sha512\n\
                 accuracy = secs:1\nordering = no\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
            ),
        )
        .expect("ts.cnf");
        Self {
            dir: dir.to_path_buf(),
            ca_cert: p("ca.pem"),
            ca_key: p("ca.key"),
            tsa_cert: p("tsa.pem"),
            tsa_key: p("tsa.key"),
            signer_cert: p("signer.pem"),
            signer_key: p("signer.key"),
            ts_config: p("ts.cnf"),
        }
    }

    /// A P-256 certificate from this CA for TLS: `name.pem` and `name.key` in the PKI's folder,
    /// with the extensions in `ext` (one `key=value` a line), e.g. a server's subjectAltName and
    /// serverAuth, or a terminal's clientAuth.
    pub fn issue_tls(&self, name: &str, subj: &str, ext: &str, serial: &str) -> (PathBuf, PathBuf) {
        std::fs::write(self.dir.join(format!("{name}.ext")), ext).expect("ext file");
        issue(&self.dir, name, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subj, "30", serial);
        (self.dir.join(format!("{name}.pem")), self.dir.join(format!("{name}.key")))
    }

    /// Another TSA certificate from the same CA, valid for `tsa_days`, with its own keys, serial
    /// file and configuration in `dir`: a TSA after its certificate was renewed.
    pub fn another_tsa(&self, dir: &Path, tsa_days: u32) -> Self {
        std::fs::create_dir_all(dir).expect("tsa dir");
        for f in ["ca.pem", "ca.key", "tsa.ext"] {
            std::fs::copy(self.dir.join(f), dir.join(f)).expect("copy CA");
        }
        issue(
            dir,
            "tsa",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "/CN=kiroku test TSA renewed",
            &tsa_days.to_string(),
            "4",
        );
        std::fs::write(dir.join("tsaserial"), "1001\n").expect("tsaserial");
        let config =
            std::fs::read_to_string(&self.ts_config).expect("ts.cnf").replace(&self.dir.display().to_string(), &dir.display().to_string());
        std::fs::write(dir.join("ts.cnf"), config).expect("ts.cnf");
        Self {
            dir: dir.to_path_buf(),
            tsa_cert: dir.join("tsa.pem"),
            tsa_key: dir.join("tsa.key"),
            ts_config: dir.join("ts.cnf"),
            ..self.clone()
        }
    }

    /// The TSA's answer (DER TimeStampResp) to a DER TimeStampReq.
    pub fn ts_reply(&self, request: &[u8]) -> Vec<u8> {
        let name = format!("req-{}.tsq", unique());
        let req = self.dir.join(&name);
        std::fs::write(&req, request).expect("write request");
        let out = openssl(&self.dir, &["ts", "-reply", "-config", &self.ts_config.display().to_string(), "-queryfile", &name]);
        let _ = std::fs::remove_file(req);
        out
    }
}

fn issue(dir: &Path, name: &str, newkey: &[&str], subj: &str, days: &str, serial: &str) {
    issue_with(dir, name, name, newkey, subj, days, serial);
}

/// Issues `name.pem`/`name.key` from the CA in `dir` with the extensions of `ext.ext`.
pub(crate) fn issue_with(dir: &Path, name: &str, ext: &str, newkey: &[&str], subj: &str, days: &str, serial: &str) {
    let (key, csr, pem, ext) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{ext}.ext"));
    let mut args = vec!["req", "-new"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &csr, "-subj", subj]);
    openssl(dir, &args);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            serial,
            "-days",
            days,
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

fn unique() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `openssl ts -reply` behind HTTP on 127.0.0.1 (RFC 3161 §3.4: POST
/// application/timestamp-query, answer application/timestamp-reply). While switched off it
/// answers 503, as a TSA in maintenance would.
pub struct TestTsa {
    pub url: String,
    up: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
}

impl TestTsa {
    pub fn start(pki: &TestPki) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test TSA");
        let url = format!("http://{}/tsa", listener.local_addr().expect("addr"));
        let up = Arc::new(AtomicBool::new(true));
        let served = Arc::new(AtomicUsize::new(0));
        let (pki, up2, served2) = (pki.clone(), up.clone(), served.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_one(stream, &pki, &up2, &served2);
            }
        });
        Self { url, up, served }
    }

    /// Switches the TSA on or off.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// How many tokens it issued.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

fn serve_one(stream: TcpStream, pki: &TestPki, up: &AtomicBool, served: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut stream = stream;
    if !up.load(Ordering::SeqCst) {
        return stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    }
    let reply = pki.ts_reply(&body);
    served.fetch_add(1, Ordering::SeqCst);
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/timestamp-reply\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reply.len()
    )?;
    stream.write_all(&reply)
}
