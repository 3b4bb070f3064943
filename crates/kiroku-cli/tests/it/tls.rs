//! The TLS listener of the real binary, with certificates made by openssl in the test's folder
//! (kiroku-testkit::pki): https with HSTS and Secure cookies, plain http refused, a key file others
//! can read refused at start, client certificates required (none or another CA's refused) or
//! optional with roles that need one, the terminal's subject recorded with the session, and a
//! session that stays on the terminal it began on.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiroku_testkit::pki::{TestPki, openssl_available};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

const SERVER_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
const TERMINAL_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";

/// A minimal HTTPS/1.1 client over tokio-rustls (ring, as the server), one connection a request:
/// a terminal with or without its certificate.
struct Https {
    addr: String,
    config: Arc<rustls::ClientConfig>,
    token: Option<String>,
}

/// An answer: status (0 when there was none: the connection was refused or closed), headers, JSON body.
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Https {
    /// Trusting `ca`, presenting `identity` (certificate, key) if given.
    fn new(server: &Server, ca: &Path, identity: Option<(&Path, &Path)>) -> Https {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).expect("ca").map(|c| c.expect("ca cert")) {
            roots.add(cert).expect("root");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match identity {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert).expect("cert").map(|c| c.expect("cert")).collect();
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).expect("key")).expect("client auth")
            }
            None => builder.with_no_client_auth(),
        };
        let addr = server.base.trim_start_matches("https://").to_string();
        Https { addr, config: Arc::new(config), token: None }
    }

    async fn try_send(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Answer> {
        let tcp = tokio::net::TcpStream::connect(&self.addr).await?;
        let name = ServerName::try_from("127.0.0.1").expect("name").to_owned();
        let mut tls = tokio_rustls::TlsConnector::from(self.config.clone()).connect(name, tcp).await?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = self.token.as_ref().map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        // A server that closes without close_notify still gave its whole answer.
        if let Err(e) = tls.read_to_end(&mut raw).await
            && raw.is_empty()
        {
            return Err(e);
        }
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
        let body = if chunked { dechunk(rest) } else { rest.to_string() };
        Ok(Answer { status, head: head.to_string(), body: serde_json::from_str(&body).unwrap_or(Value::Null) })
    }

    /// The status, or 0 when the server gave no answer at all.
    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.try_send(method, path, body).await.unwrap_or(Answer { status: 0, head: String::new(), body: Value::Null })
    }

    async fn expect(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let a = self.send(method, path, body.as_ref()).await;
        assert_eq!(a.status, status, "{method} {path}: {}", a.body);
        a.body
    }

    /// First login with a generated password, which must be replaced; answers the new one.
    async fn login_and_change(&mut self, username: &str, initial: &str) -> String {
        let r = self.expect("POST", "/api/v1/auth/login", Some(json!({ "username": username, "password": initial })), 200).await;
        self.token = r["token"].as_str().map(str::to_string);
        let new_password = format!("Hoshi-Kumo-{}!7q", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let change = json!({ "current_password": initial, "new_password": new_password });
        self.expect("POST", "/api/v1/auth/password", Some(change), 200).await;
        new_password
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn private(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

struct Pki {
    ca: std::path::PathBuf,
    server: (std::path::PathBuf, std::path::PathBuf),
    terminal: (std::path::PathBuf, std::path::PathBuf),
    stranger: (std::path::PathBuf, std::path::PathBuf),
}

fn pki(dir: &Path) -> Pki {
    let ours = TestPki::create(&dir.join("pki"), 30);
    let other = TestPki::create_named(&dir.join("other"), "somebody else's CA", 30);
    let server = ours.issue_tls("server", "/CN=localhost", SERVER_EXT, "10");
    let terminal = ours.issue_tls("terminal", "/CN=terminal-01/O=kiroku test hospital", TERMINAL_EXT, "11");
    let stranger = other.issue_tls("terminal", "/CN=terminal-01/O=kiroku test hospital", TERMINAL_EXT, "11");
    Pki { ca: ours.ca_cert, server, terminal, stranger }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_requires_terminal_certificates_from_our_ca() {
    if !openssl_available() {
        return;
    }
    let dir = temp_dir();
    let p = pki(dir.path());
    let data = dir.path().join("data");
    let env = [
        ("KIROKU_TLS_CERT_FILE", p.server.0.to_str().expect("utf-8")),
        ("KIROKU_TLS_KEY_FILE", p.server.1.to_str().expect("utf-8")),
        ("KIROKU_TLS_CLIENT_CA_FILE", p.ca.to_str().expect("utf-8")),
        ("KIROKU_TLS_CLIENT_AUTH", "required"),
    ];

    // A key file others may read stops the start, like keys/log.key.
    private(&p.server.1, 0o644);
    std::fs::write(dir.path().join("pw"), ADMIN_PASSWORD).expect("pw");
    let out =
        kiroku(&data, &["init", "--admin-user", "admin", "--admin-password-file", dir.path().join("pw").to_str().expect("utf-8")], &env);
    assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
    let mut serve = Command::new(BIN);
    serve.arg("--data-dir").arg(&data).args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, v) in env {
        serve.env(k, v);
    }
    let mut child = serve.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiroku serve started with a key file others can read");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).unwrap_or_default();
    assert!(!status.success() && stderr.contains("chmod 600"), "{status}: {stderr}");

    private(&p.server.1, 0o600);
    let server = Server::start(&data, &env);
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);

    // The terminal with our CA's certificate works; the session and the login record its subject.
    let mut terminal = Https::new(&server, &p.ca, Some((&p.terminal.0, &p.terminal.1)));
    let health = terminal.send("GET", "/healthz", None).await;
    assert_eq!(health.status, 200, "{}", health.head);
    assert!(health.head.to_ascii_lowercase().contains("strict-transport-security: max-age=31536000"), "{}", health.head);
    terminal.login_and_change("admin", ADMIN_PASSWORD).await;
    let sessions = terminal.expect("GET", "/api/v1/auth/sessions", None, 200).await;
    assert!(sessions["sessions"][0]["client_cert"].as_str().is_some_and(|s| s.contains("CN=terminal-01")), "{sessions}");
    let page = terminal.send("GET", "/login", None).await;
    let cookie = page.head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_default().to_string();
    assert!(cookie.contains("; Secure"), "cookies are Secure over TLS: {}", page.head);

    // Without a certificate, with one from another CA, or over plain http: no answer at all.
    let none = Https::new(&server, &p.ca, None).send("GET", "/healthz", None).await;
    assert_eq!(none.status, 0, "no client certificate: {}", none.head);
    let stranger = Https::new(&server, &p.ca, Some((&p.stranger.0, &p.stranger.1))).send("GET", "/healthz", None).await;
    assert_eq!(stranger.status, 0, "another CA's certificate: {}", stranger.head);
    let plain = reqwest::Client::new().get(server.base.replace("https://", "http://") + "/healthz").send().await;
    assert!(plain.is_err(), "plain http: {plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_that_need_a_terminal_certificate_cannot_work_without_one() {
    if !openssl_available() {
        return;
    }
    let dir = temp_dir();
    let p = pki(dir.path());
    private(&p.server.1, 0o600);
    let env = [
        ("KIROKU_TLS_CERT_FILE", p.server.0.to_str().expect("utf-8")),
        ("KIROKU_TLS_KEY_FILE", p.server.1.to_str().expect("utf-8")),
        ("KIROKU_TLS_CLIENT_CA_FILE", p.ca.to_str().expect("utf-8")),
        ("KIROKU_TLS_CLIENT_AUTH", "optional"),
        ("KIROKU_TLS_CLIENT_CERT_ROLES", "doctor"),
    ];
    let server = Server::init_and_start(&dir.path().join("data"), &env);
    // The administrator's role needs no certificate: a connection without one works.
    let mut admin = Https::new(&server, &p.ca, None);
    admin.login_and_change("admin", ADMIN_PASSWORD).await;
    let create = |name: &str, role: &str| json!({ "username": name, "display_name": name, "role": role });
    let created = admin.expect("POST", "/api/v1/users", Some(create("dr.okada", "doctor")), 201).await;
    let initial = created["initial_password"].as_str().expect("password").to_string();

    // A doctor from a terminal without a certificate is refused, and the refusal is recorded.
    let bare = Https::new(&server, &p.ca, None);
    let r = bare.send("POST", "/api/v1/auth/login", Some(&json!({ "username": "dr.okada", "password": initial }))).await;
    assert_eq!((r.status, r.body["type"].as_str()), (403, Some("/problems/network-refused")), "{}", r.body);
    // From the terminal with its certificate the doctor works.
    let mut doctor = Https::new(&server, &p.ca, Some((&p.terminal.0, &p.terminal.1)));
    doctor.login_and_change("dr.okada", &initial).await;
    doctor.expect("GET", "/api/v1/patients?q=x", None, 200).await;
    // The same session token from a connection without the certificate is refused.
    let stolen = Https { token: doctor.token.clone(), ..Https::new(&server, &p.ca, None) };
    let r = stolen.send("GET", "/api/v1/patients?q=x", None).await;
    assert_eq!((r.status, r.body["type"].as_str()), (403, Some("/problems/network-refused")), "{}", r.body);

    let created = admin.expect("POST", "/api/v1/users", Some(create("audit.sakai", "auditor")), 201).await;
    let mut auditor = Https::new(&server, &p.ca, None);
    auditor.login_and_change("audit.sakai", created["initial_password"].as_str().expect("password")).await;
    let refused = auditor.expect("GET", "/api/v1/audit?action=access_refused", None, 200).await;
    let details: Vec<&str> = refused["events"].as_array().expect("events").iter().filter_map(|e| e["detail"].as_str()).collect();
    assert!(details.iter().any(|d| d.starts_with("client_certificate_required role=doctor")), "{details:?}");
    let logins = auditor.expect("GET", "/api/v1/audit?user=dr.okada&action=login", None, 200).await;
    let text = logins.to_string();
    assert!(text.contains("client_cert=") && text.contains("CN=terminal-01"), "{logins}");
}
