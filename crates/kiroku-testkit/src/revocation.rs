//! Revocation peers for tests, made by openssl in the test's own directory: a small CA
//! database (`openssl ca`), signer certificates whose CRL distribution point and OCSP
//! responder point at 127.0.0.1, a CRL from `openssl ca -gencrl` served by a tiny HTTP server,
//! and `openssl ocsp -index … -port` as a real OCSP responder with a delegated signing
//! certificate. One signer stays good, one is revoked (keyCompromise).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::pki::{TestPki, openssl};

/// The CA database, the certificates and the running peers. Dropping it stops them.
pub struct RevocationPeers {
    pub dir: PathBuf,
    /// A signer (RSA) that is not revoked.
    pub good_cert: PathBuf,
    pub good_key: PathBuf,
    /// A signer revoked with reason keyCompromise.
    pub revoked_cert: PathBuf,
    pub revoked_key: PathBuf,
    /// The CA's current CRL (DER), also served at `crl_url`.
    pub crl: PathBuf,
    pub crl_url: String,
    pub ocsp_url: String,
    /// The responder's delegated certificate (id-kp-OCSPSigning) and key.
    pub ocsp_cert: PathBuf,
    pub ocsp_key: PathBuf,
    crl_up: Arc<AtomicBool>,
    ocsp: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl RevocationPeers {
    /// Issues the signers from `pki`'s CA, revokes one, makes the CRL and starts both peers.
    pub fn start(pki: &TestPki) -> Self {
        let dir = pki.dir.clone();
        let d = dir.display().to_string();
        let p = |name: &str| dir.join(name);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind CRL server");
        let crl_url = format!("http://{}/ca.crl", listener.local_addr().expect("addr"));
        let ocsp_port = free_port();
        let ocsp_url = format!("http://127.0.0.1:{ocsp_port}/");
        std::fs::write(p("index.txt"), "").expect("index");
        std::fs::write(p("crlnumber"), "01\n").expect("crlnumber");
        std::fs::write(
            p("ca.cnf"),
            format!(
                "[ ca ]\ndefault_ca = ca_default\n[ ca_default ]\ndatabase = {d}/index.txt\ncrlnumber = {d}/crlnumber\n\
                 certificate = {d}/ca.pem\nprivate_key = {d}/ca.key\ndefault_md = sha256\ndefault_crl_days = 1\nunique_subject = no\n"
            ),
        )
        .expect("ca.cnf");
        std::fs::write(
            p("revocable.ext"),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n\
                 crlDistributionPoints=URI:{crl_url}\nauthorityInfoAccess=OCSP;URI:{ocsp_url}\n"
            ),
        )
        .expect("revocable.ext");
        std::fs::write(p("ocsp.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n")
            .expect("ocsp.ext");
        crate::pki::issue_with(&dir, "good", "revocable", &["-newkey", "rsa:2048"], "/CN=Good Doctor", "365", "16");
        crate::pki::issue_with(&dir, "revoked", "revocable", &["-newkey", "rsa:2048"], "/CN=Revoked Doctor", "365", "17");
        crate::pki::issue_with(
            &dir,
            "ocsp",
            "ocsp",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "/CN=kiroku test OCSP responder",
            "365",
            "18",
        );
        for cert in ["good.pem", "revoked.pem"] {
            openssl(&dir, &["ca", "-config", "ca.cnf", "-valid", cert]);
        }
        openssl(&dir, &["ca", "-config", "ca.cnf", "-revoke", "revoked.pem", "-crl_reason", "keyCompromise"]);
        let peers_crl = p("ca.crl");
        regenerate_crl(&dir, 24, &peers_crl);
        let crl_up = Arc::new(AtomicBool::new(true));
        let (up, file) = (crl_up.clone(), peers_crl.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_file(stream, &file, &up);
            }
        });
        let mut peers = Self {
            good_cert: p("good.pem"),
            good_key: p("good.key"),
            revoked_cert: p("revoked.pem"),
            revoked_key: p("revoked.key"),
            crl: peers_crl,
            crl_url,
            ocsp_url,
            ocsp_cert: p("ocsp.pem"),
            ocsp_key: p("ocsp.key"),
            dir,
            crl_up,
            ocsp: None,
        };
        peers.start_ocsp(ocsp_port);
        peers
    }

    fn start_ocsp(&mut self, port: u16) {
        let mut child = Command::new("openssl")
            .args(["ocsp", "-index", "index.txt", "-port", &port.to_string(), "-rsigner", "ocsp.pem", "-rkey", "ocsp.key"])
            .args(["-CA", "ca.pem", "-ndays", "1"])
            .current_dir(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl ocsp");
        // openssl prints "ACCEPT …" once it listens. (Probing the port with an empty connection
        // instead leaves openssl 3.0's single-threaded responder stuck on it.)
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ACCEPT") {
                    let _ = tx.send(());
                }
            }
        });
        self.ocsp = Some(child);
        rx.recv_timeout(Duration::from_secs(10)).expect("openssl ocsp did not start listening");
    }

    /// A CRL valid for `hours` (DER), written to `out`: e.g. 0 for one already due.
    pub fn crl_valid_for(&self, hours: u32, out: &Path) {
        regenerate_crl(&self.dir, hours, out);
    }

    /// Stops both peers, as when the CA's servers are gone years later.
    pub fn stop(&mut self) {
        self.crl_up.store(false, Ordering::SeqCst);
        if let Some(mut child) = self.ocsp.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RevocationPeers {
    fn drop(&mut self) {
        self.stop();
    }
}

fn regenerate_crl(dir: &Path, hours: u32, out: &Path) {
    let pem = dir.join("crl.tmp.pem");
    let (hours, pem_s) = (hours.to_string(), pem.display().to_string());
    openssl(dir, &["ca", "-config", "ca.cnf", "-gencrl", "-crlhours", &hours, "-out", &pem_s]);
    openssl(dir, &["crl", "-in", &pem_s, "-outform", "DER", "-out", &out.display().to_string()]);
}

fn serve_file(stream: TcpStream, file: &Path, up: &AtomicBool) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let mut stream = stream;
    if !up.load(Ordering::SeqCst) {
        // Gone: the connection is closed without an answer.
        return Ok(());
    }
    let body = std::fs::read(file)?;
    write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len())?;
    stream.write_all(&body)
}
