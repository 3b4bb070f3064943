//! Exports of the access trail, checked by real peers: a TLS syslog collector started here (CA and
//! server certificate made by the openssl command) that reads RFC 5425 frames, and the FHIR R4 JSON
//! schema run by a JavaScript validator from npm.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;

use crate::harness::*;

const HOSTNAME: &str = "kiroku-test.example.jp";

/// A test CA and a server certificate for 127.0.0.1, made by the openssl command in `dir`.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl").current_dir(dir).args(args).output().is_ok_and(|o| o.status.success())
}

fn make_pki(dir: &Path) -> Option<Pki> {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ok = openssl(
        dir,
        &[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=kiroku test CA"]]
            .concat()
            .into_iter()
            .chain(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .collect::<Vec<_>>(),
    ) && openssl(dir, &[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat())
        && std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .is_ok()
        && openssl(
            dir,
            &[
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2",
                "-extfile", "server.ext",
            ],
        );
    ok.then(|| Pki { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") })
}

/// An RFC 5425 collector: TLS on 127.0.0.1, octet-counted frames collected in arrival order.
struct Collector {
    port: u16,
    frames: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

/// Reads one "LEN SP MSG" frame; `None` at the end of the stream.
async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut len = 0usize;
    loop {
        let b = stream.read_u8().await.ok()?;
        match b {
            b'0'..=b'9' if len < 1 << 24 => len = len * 10 + usize::from(b - b'0'),
            b' ' if len > 0 => break,
            _ => panic!("not an octet-counted frame (byte {b:#x})"),
        }
    }
    let mut msg = vec![0u8; len];
    stream.read_exact(&mut msg).await.ok()?;
    Some(String::from_utf8(msg).expect("a syslog message in UTF-8"))
}

impl Collector {
    async fn start(pki: &Pki, port: u16) -> Collector {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&pki.cert).expect("cert").collect::<Result<_, _>>().expect("certs");
        let key = PrivateKeyDer::from_pem_file(&pki.key).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        // SO_REUSEADDR so that the second collector gets the same port back at once.
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(([127, 0, 0, 1], port).into()).expect("bind the collector's port");
        let listener = socket.listen(16).expect("listen");
        let port = listener.local_addr().expect("addr").port();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let sink = frames.clone();
        let task = tokio::spawn(async move {
            // Connections live in the set, so aborting this task closes them all.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, sink) = (acceptor.clone(), sink.clone());
                conns.spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    while let Some(msg) = read_frame(&mut tls).await {
                        sink.lock().expect("lock").push(msg);
                    }
                });
            }
        });
        Collector { port, frames, task }
    }

    fn received(&self) -> Vec<String> {
        self.frames.lock().expect("lock").clone()
    }

    /// Waits until an event with id `id` or later has arrived.
    async fn wait_for(&self, id: i64, what: &str) -> Vec<Syslog> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let parsed: Vec<Syslog> = self.received().iter().map(|m| parse_rfc5424(m)).collect();
            if parsed.last().is_some_and(|m| m.id >= id) {
                return parsed;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: event {id} did not arrive within 15 s; got {:?}",
                parsed.iter().map(|m| m.id).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// An RFC 5424 message, taken apart field by field.
#[derive(Debug)]
struct Syslog {
    pri: u16,
    hostname: String,
    app: String,
    msgid: String,
    id: i64,
    action: String,
    xml: String,
}

/// Parses `msg` strictly by the RFC 5424 ABNF for what kiroku sends; panics on any deviation.
fn parse_rfc5424(msg: &str) -> Syslog {
    let rest = msg.strip_prefix('<').unwrap_or_else(|| panic!("PRI must open the message: {msg}"));
    let (pri, rest) = rest.split_once('>').expect("PRI closes with >");
    assert!((1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit()), "PRI: {pri}");
    let pri: u16 = pri.parse().expect("PRI number");
    assert!(pri <= 191);
    let mut fields = rest.splitn(7, ' ');
    let mut next = |name: &str| fields.next().unwrap_or_else(|| panic!("{name} missing in {msg}")).to_string();
    assert_eq!(next("VERSION"), "1");
    let timestamp = next("TIMESTAMP");
    time::OffsetDateTime::parse(&timestamp, &time::format_description::well_known::Rfc3339).expect("TIMESTAMP is RFC 3339");
    let (hostname, app, procid, msgid) = (next("HOSTNAME"), next("APP-NAME"), next("PROCID"), next("MSGID"));
    for (f, max) in [(&hostname, 255), (&app, 48), (&procid, 128), (&msgid, 32)] {
        assert!(!f.is_empty() && f.len() <= max && f.bytes().all(|b| b.is_ascii_graphic()), "header field {f:?}");
    }
    let sd_and_msg = next("STRUCTURED-DATA");
    let sd_end = sd_and_msg.find("] ").expect("structured data, then a space and MSG");
    let (sd, body) = (&sd_and_msg[..=sd_end], &sd_and_msg[sd_end + 2..]);
    let inner = sd.strip_prefix('[').and_then(|s| s.strip_suffix(']')).expect("one SD-ELEMENT");
    let mut parts = inner.split(' ');
    assert_eq!(parts.next(), Some("kiroku@32473"), "SD-ID");
    let params: std::collections::HashMap<&str, &str> = parts
        .map(|p| {
            let (k, v) = p.split_once('=').expect("PARAM-NAME=PARAM-VALUE");
            (k, v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).expect("quoted value"))
        })
        .collect();
    let xml = body.strip_prefix('\u{feff}').expect("MSG is UTF-8 with its BOM").to_string();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>") && xml.ends_with("</AuditMessage>"), "{xml}");
    for part in [
        "<EventIdentification ",
        "<EventID csd-code=\"",
        "codeSystemName=\"DCM\"",
        "<ActiveParticipant UserID=\"",
        "<AuditSourceIdentification AuditSourceID=\"",
    ] {
        assert!(xml.contains(part), "{part} missing in {xml}");
    }
    Syslog {
        pri,
        hostname,
        app,
        msgid,
        id: params.get("id").and_then(|v| v.parse().ok()).expect("id"),
        action: params.get("action").expect("action").to_string(),
        xml,
    }
}

/// The newest audit event's id, seen by an auditor; the query itself adds one more event.
async fn newest_event(auditor: &Client) -> i64 {
    let page = auditor.get("/api/v1/audit?limit=1").await.expect(200, "audit query");
    page["events"][0]["id"].as_i64().expect("an event id") + 1
}

async fn metric(c: &Client, name: &str) -> Option<i64> {
    let text = c.http.get(format!("{}/metrics", c.base)).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_reaches_the_collector_in_order_and_catches_up_after_an_outage() {
    let dir = temp_dir();
    let Some(pki) = make_pki(dir.path()) else {
        kiroku_testkit::missing_peer("openssl", "apt-get install -y openssl");
        return;
    };
    let first = Collector::start(&pki, 0).await;
    let port = first.port;
    let collector = format!("127.0.0.1:{port}");
    let ca = pki.ca.to_str().expect("utf-8 path").to_string();
    let env =
        [("KIROKU_SYSLOG_COLLECTOR", collector.as_str()), ("KIROKU_SYSLOG_CA_FILE", ca.as_str()), ("KIROKU_SYSLOG_HOSTNAME", HOSTNAME)];
    let server = Server::init_and_start(&dir.path().join("data"), &env);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let auditor = user(&server, &admin, "kansa", "auditor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("入院時記録")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    doctor.get(&format!("/api/v1/documents/{id}")).await.expect(200, "read");

    let target = newest_event(&auditor).await;
    let got = first.wait_for(target, "before the outage").await;
    let ids: Vec<i64> = got.iter().map(|m| m.id).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "every event from the first, in id order, once");
    for m in &got {
        assert_eq!((m.hostname.as_str(), m.app.as_str(), m.msgid.as_str()), (HOSTNAME, "kiroku", "IHE+RFC-3881"));
        assert!(m.pri == 85 || m.pri == 84, "facility 10, notice or warning: {}", m.pri);
    }
    let read = got.iter().find(|m| m.action == "document_read").expect("the doctor's read was forwarded");
    assert!(read.xml.contains("UserID=\"dr.sato\"") && read.xml.contains("ParticipantObjectID=\"P1\""), "{}", read.xml);
    assert!(read.xml.contains("<EventID csd-code=\"110110\" codeSystemName=\"DCM\" originalText=\"Patient Record\"/>"));
    assert!(read.xml.contains(&format!("ParticipantObjectID=\"{id}\"")));

    // The collector goes away; kiroku keeps working and keeps the events.
    first.stop().await;
    create_patient(&doctor, "P2").await;
    let doc2 = doctor.post("/api/v1/patients/P2/documents", note("外来記録")).await.expect(201, "doc while down");
    let id2 = doc2["id"].as_str().expect("id").to_string();
    doctor.get(&format!("/api/v1/documents/{id2}")).await.expect(200, "read while down");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&doctor, "kiroku_syslog_backlog ").await.unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the backlog metric never showed the kept events");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // It comes back on the same port: what was missed arrives, in order, nothing lost.
    let second = Collector::start(&pki, port).await;
    let target = newest_event(&auditor).await;
    let again = second.wait_for(target, "after the outage").await;
    let ids2: Vec<i64> = again.iter().map(|m| m.id).collect();
    assert!(ids2.windows(2).all(|p| p[1] == p[0] + 1), "in order without gaps: {ids2:?}");
    assert!(ids2[0] <= ids.len() as i64 + 1, "resumes at or before the first event it had not confirmed: {ids2:?}");
    assert!(ids2.last().is_some_and(|l| *l >= target));
    let missed: Vec<&Syslog> = again.iter().filter(|m| m.xml.contains("ParticipantObjectID=\"P2\"")).collect();
    assert!(
        missed.iter().any(|m| m.action == "patient_create") && missed.iter().any(|m| m.action == "document_read"),
        "events from the outage"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&doctor, "kiroku_syslog_backlog ").await != Some(0) {
        assert!(Instant::now() < deadline, "the backlog did not drain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.stop().await;
}

/// Validates every NDJSON line of `file` against the FHIR R4 JSON schema; prints a summary.
const VALIDATE_JS: &str = r#"
const fs = require('fs');
const path = require('path');
const [prefix, file] = process.argv.slice(2);
const Validator = require(path.join(prefix, 'node_modules/@asymmetrik/fhir-json-schema-validator'));
const validator = new Validator();
let n = 0, bad = 0;
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  if (!line) continue;
  n++;
  const resource = JSON.parse(line);
  const errors = resource.resourceType === 'AuditEvent' ? validator.validate(resource, true) : ['not an AuditEvent'];
  if (errors.length) { bad++; console.log(JSON.stringify({ id: resource.id, errors })); }
}
console.log(`checked ${n} invalid ${bad}`);
process.exit(bad ? 1 : 0);
"#;

fn npm_prefix() -> PathBuf {
    std::env::var_os("KIROKU_TEST_NPM_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kiroku-npm"))
}

fn run_validator(prefix: &Path, script: &Path, file: &Path) -> (bool, String) {
    let out = Command::new("node").arg(script).arg(prefix).arg(file).output().expect("run node");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_audit_events_validate_against_the_r4_schema() {
    let prefix = npm_prefix();
    let node_ok = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !node_ok || !prefix.join("node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json").exists() {
        kiroku_testkit::missing_peer(
            "node with the FHIR R4 JSON schema validator",
            "apt-get install -y nodejs npm && npm install --prefix ~/.cache/kiroku-npm @asymmetrik/fhir-json-schema-validator@0.9.8",
        );
        return;
    }
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let doctor = user(&server, &admin, "dr.sato", "doctor").await;
    let nurse = user(&server, &admin, "ns.ito", "nurse").await;
    let auditor = user(&server, &admin, "kansa", "auditor").await;
    create_patient(&doctor, "P1").await;
    let doc = doctor.post("/api/v1/patients/P1/documents", note("診療録")).await.expect(201, "doc");
    let id = doc["id"].as_str().expect("id").to_string();
    doctor.post(&format!("/api/v1/documents/{id}/confirm"), json!({})).await.expect(200, "confirm");
    nurse.get(&format!("/api/v1/documents/{id}")).await;
    nurse.get("/api/v1/audit").await.expect(403, "a nurse may not read the trail");
    // A failed login with markup in the typed name must still give a valid resource.
    server.client().post("/api/v1/auth/login", json!({ "username": "<x\"&>", "password": "wrong" })).await;

    let refused = doctor.get("/api/v1/audit/export/fhir").await;
    assert_eq!(refused.status, 403, "only audit.read exports");
    let resp = auditor
        .http
        .get(format!("{}/api/v1/audit/export/fhir", auditor.base))
        .bearer_auth(auditor.token.as_deref().expect("token"))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/fhir+ndjson");
    let text = resp.text().await.expect("body");
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert!(lines.len() > 15, "{}", lines.len());
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_str().and_then(|i| i.parse().ok()).expect("id")).collect();
    assert!(ids.windows(2).all(|p| p[0] > p[1]), "newest first");
    assert!(lines.iter().any(|l| l["outcome"] == json!("4") && l["agent"][0]["who"]["identifier"]["value"] == json!("ns.ito")));
    let read = lines.iter().find(|l| l["subtype"][1]["code"] == json!("document_confirm")).expect("the confirm");
    assert_eq!(read["entity"][0]["what"]["identifier"]["value"], json!("P1"));
    assert_eq!(read["action"], json!("U"));

    let work = temp_dir();
    let script = work.path().join("validate.js");
    std::fs::write(&script, VALIDATE_JS).expect("write script");
    let file = work.path().join("audit.ndjson");
    std::fs::write(&file, &text).expect("write ndjson");
    let (ok, out) = run_validator(&prefix, &script, &file);
    assert!(ok, "FHIR R4 schema validation failed:\n{out}");
    assert!(out.contains(&format!("checked {} invalid 0", lines.len())), "{out}");

    // The validator is not a rubber stamp: a resource with a bad action code is refused.
    let mut broken = lines[0].clone();
    broken["action"] = json!("X");
    std::fs::write(&file, format!("{broken}\n")).expect("write");
    let (ok, out) = run_validator(&prefix, &script, &file);
    assert!(!ok && out.contains("invalid 1"), "{out}");

    // Filters, and the export itself is in the trail.
    let only = auditor
        .http
        .get(format!("{}/api/v1/audit/export/fhir?patient_id=P1", auditor.base))
        .bearer_auth(auditor.token.as_deref().expect("token"))
        .send()
        .await
        .expect("export");
    let only = only.text().await.expect("body");
    assert!(only.lines().count() >= 3 && only.lines().all(|l| l.contains("\"value\":\"P1\"")), "{only}");
    let exports = auditor.get("/api/v1/audit?action=audit_export&outcome=success").await.expect(200, "audit");
    assert_eq!(exports["events"].as_array().map(Vec::len), Some(2), "each export is recorded");
}
