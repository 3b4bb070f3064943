//! The syslog forwarder: sends every audit event, in id order, to the facility's audit record
//! repository as an RFC 5424 message with the DICOM audit message (IHE ATNA), over TLS (RFC 5425).
//!
//! Delivery is at least once, in order. The position is a cursor in the store (`export_cursors`,
//! name [`CURSOR`]) that moves forward only after a batch was written to the TLS connection *and*
//! the connection was seen still open afterwards; a batch written into a connection that then turns
//! out closed is sent again after reconnecting. So nothing is skipped while the collector is down or
//! kiroku restarts, and a collector may see an event twice (the structured data carries its `id`
//! to drop duplicates). RFC 5425 has no acknowledgement: what a collector read but lost itself
//! cannot be seen from here.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures::FutureExt;
use kiroku_store::{Command, StoreError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::AppState;

/// The export cursor's name in the store.
pub const CURSOR: &str = "syslog";
/// Events per write; a batch is one TLS write and one cursor move.
const BATCH: i64 = 500;
/// How often the trail is looked at for new events when there is nothing to send.
const POLL: Duration = Duration::from_millis(500);
/// Retry delays while the collector is unreachable: doubling from the first to the last.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A connect or write that takes longer than this counts as a failure (a hung collector).
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// While the collector stays down, a warning is repeated every this many retries.
const WARN_EVERY: u32 = 60;

/// Where and how to forward; `None` in [`crate::Settings::syslog`] turns forwarding off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogSettings {
    /// `host:port` of the collector (`[v6addr]:port` for IPv6 literals).
    pub collector: String,
    /// PEM file of the CA certificates that may sign the collector's certificate.
    pub ca_file: PathBuf,
    /// PEM certificate chain and key for mutual TLS, when the collector asks for one.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// HOSTNAME of the messages and the DICOM AuditSourceID.
    pub hostname: String,
    /// APP-NAME of the messages.
    pub app_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    #[error("syslog.{key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn config(key: &'static str, reason: impl Into<String>) -> SyslogError {
    SyslogError::Config { key, reason: reason.into() }
}

/// A checked configuration, ready to connect.
pub struct Forwarder {
    settings: SyslogSettings,
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").field("collector", &self.settings.collector).finish_non_exhaustive()
    }
}

/// Splits `host:port`; the host is what the collector's certificate must name.
fn host_and_port(collector: &str) -> Result<(String, u16), SyslogError> {
    let (host, port) = match collector.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").ok_or_else(|| config("collector", "must be [address]:port for an IPv6 address"))?,
        None => collector.rsplit_once(':').ok_or_else(|| config("collector", "must be host:port, e.g. siem.example.jp:6514"))?,
    };
    let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| config("collector", "the port must be 1 to 65535"))?;
    if host.is_empty() {
        return Err(config("collector", "the host is empty"));
    }
    Ok((host.to_string(), port))
}

impl Forwarder {
    /// Reads the certificates and builds the TLS client; any problem stops start-up.
    pub fn new(settings: SyslogSettings) -> Result<Forwarder, SyslogError> {
        let (host, _) = host_and_port(&settings.collector)?;
        let server_name = ServerName::try_from(host).map_err(|e| config("collector", format!("not a host name or address: {e}")))?;
        let mut roots = rustls::RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&settings.ca_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| config("ca_file", format!("cannot read PEM certificates from {}: {e}", settings.ca_file.display())))?;
        let (added, _) = roots.add_parsable_certificates(cas);
        if added == 0 {
            return Err(config("ca_file", format!("{} holds no usable CA certificate", settings.ca_file.display())));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config("collector", format!("TLS set-up failed: {e}")))?
            .with_root_certificates(roots);
        let tls = match (&settings.client_cert_file, &settings.client_key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| config("client_cert_file", format!("cannot read {}: {e}", cert.display())))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| config("client_key_file", format!("cannot read {}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| config("client_key_file", format!("does not fit the certificate: {e}")))?
            }
            _ => return Err(config("client_cert_file", "client_cert_file and client_key_file go together")),
        };
        Ok(Forwarder { settings, connector: TlsConnector::from(Arc::new(tls)), server_name })
    }

    async fn connect(&self) -> Result<TlsStream<TcpStream>, SyslogError> {
        let io = |what: &str, e: &dyn std::fmt::Display| SyslogError::Io(format!("{what} {}: {e}", self.settings.collector));
        let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(&self.settings.collector))
            .await
            .map_err(|e| io("connecting to", &e))?
            .map_err(|e| io("connecting to", &e))?;
        let _ = tcp.set_nodelay(true);
        tokio::time::timeout(IO_TIMEOUT, self.connector.connect(self.server_name.clone(), tcp))
            .await
            .map_err(|e| io("TLS handshake with", &e))?
            .map_err(|e| io("TLS handshake with", &e))
    }
}

/// Whether the collector has closed the connection. Collectors never send anything under RFC 5425,
/// so anything readable is the end of the stream (or an error); looked at without waiting.
fn closed_by_peer(stream: &mut TlsStream<TcpStream>) -> bool {
    let mut buf = [0u8; 256];
    match stream.read(&mut buf).now_or_never() {
        None => false,
        Some(Ok(0)) | Some(Err(_)) => true,
        Some(Ok(_)) => false,
    }
}

/// The forwarder's position: `confirmed` is the stored cursor, `written` how far the current
/// connection has been written (ahead of `confirmed` until the next check).
struct Position {
    confirmed: i64,
    written: i64,
}

enum Progress {
    /// Nothing more to send now.
    Idle,
    /// A full batch went out; there may be more.
    More,
}

struct Run {
    state: AppState,
    forwarder: Arc<Forwarder>,
    conn: Option<TlsStream<TcpStream>>,
    position: Option<Position>,
}

impl Run {
    async fn backlog(&self, confirmed: i64) {
        if let Ok(newest) = self.state.store.last_audit_id().await {
            self.state.metrics.syslog_backlog.store(newest.saturating_sub(confirmed).max(0) as u64, Relaxed);
        }
    }

    /// Confirms what was written if the connection is still open; a closed one is dropped and
    /// its unconfirmed events are sent again on the next.
    async fn confirm(&mut self) -> Result<(), SyslogError> {
        let (Some(conn), Some(pos)) = (self.conn.as_mut(), self.position.as_mut()) else { return Ok(()) };
        if pos.written == pos.confirmed {
            return Ok(());
        }
        if closed_by_peer(conn) {
            self.conn = None;
            pos.written = pos.confirmed;
            return Err(SyslogError::Io(format!("{} closed the connection", self.forwarder.settings.collector)));
        }
        self.state.store.execute(Command::AdvanceExportCursor { name: CURSOR.into(), last_id: pos.written }).await?;
        pos.confirmed = pos.written;
        Ok(())
    }

    async fn step(&mut self) -> Result<Progress, SyslogError> {
        if self.position.is_none() {
            let confirmed = self.state.store.export_cursor(CURSOR).await?;
            self.position = Some(Position { confirmed, written: confirmed });
        }
        if self.conn.is_none() {
            let conn = self.forwarder.connect().await?;
            if let Some(pos) = self.position.as_mut() {
                pos.written = pos.confirmed;
            }
            self.conn = Some(conn);
        }
        self.confirm().await?;
        let Some(pos) = self.position.as_ref() else { return Ok(Progress::Idle) };
        let (after, confirmed) = (pos.written, pos.confirmed);
        self.backlog(confirmed).await;
        let events = self.state.store.audit_after(after, BATCH).await?;
        let Some(last) = events.last().map(|e| e.id) else { return Ok(Progress::Idle) };
        let s = &self.forwarder.settings;
        let mut bytes = Vec::with_capacity(events.len() * 1_500);
        for e in &events {
            bytes.extend(kiroku_interop::syslog::frame(&kiroku_interop::syslog::rfc5424(e, &s.hostname, &s.app_name)));
        }
        let Some(conn) = self.conn.as_mut() else { return Ok(Progress::Idle) };
        let written = tokio::time::timeout(IO_TIMEOUT, async {
            conn.write_all(&bytes).await?;
            conn.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.lost(format!("writing to {}: {e}", s.collector))),
            Err(_) => return Err(self.lost(format!("writing to {} timed out", s.collector))),
        }
        if let Some(pos) = self.position.as_mut() {
            pos.written = last;
        }
        Ok(if events.len() as i64 == BATCH { Progress::More } else { Progress::Idle })
    }

    /// Drops a broken connection; what it had not confirmed is sent again.
    fn lost(&mut self, message: String) -> SyslogError {
        self.conn = None;
        if let Some(pos) = self.position.as_mut() {
            pos.written = pos.confirmed;
        }
        SyslogError::Io(message)
    }
}

/// Sleeps for `d` unless `stop` turns true first; answers whether to stop.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Forwards until `stop` turns true. Errors never end the task: the collector being down, or the
/// database being briefly unavailable, means waiting and trying again from the confirmed cursor.
pub async fn run(state: AppState, forwarder: Arc<Forwarder>, mut stop: watch::Receiver<bool>) {
    let collector = forwarder.settings.collector.clone();
    let mut run = Run { state, forwarder, conn: None, position: None };
    let mut delay = BACKOFF_FIRST;
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let step = tokio::select! {
            step = run.step() => step,
            _ = stop.changed() => break,
        };
        match step {
            Ok(progress) => {
                if failures > 0 {
                    tracing::info!(%collector, retries = failures, "syslog collector reachable again; sending the events kept meanwhile");
                }
                failures = 0;
                delay = BACKOFF_FIRST;
                if matches!(progress, Progress::Idle) && pause(POLL, &mut stop).await {
                    break;
                }
            }
            Err(e) => {
                if let Some(pos) = run.position.as_ref() {
                    run.backlog(pos.confirmed).await;
                }
                let backlog = run.state.metrics.syslog_backlog.load(Relaxed);
                if failures.is_multiple_of(WARN_EVERY) {
                    tracing::warn!(%collector, error = %e, backlog, "syslog forwarding failed; audit events are kept and sent in order once it works again");
                } else {
                    tracing::debug!(%collector, error = %e, backlog, "syslog forwarding still failing");
                }
                failures = failures.saturating_add(1);
                if pause(delay, &mut stop).await {
                    break;
                }
                delay = (delay * 2).min(BACKOFF_MAX);
            }
        }
    }
    // Confirm what the collector has taken, then close politely; the rest goes after the next start.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = run.confirm().await;
        if let Some(mut conn) = run.conn.take() {
            let _ = conn.shutdown().await;
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collectors_are_host_and_port() {
        assert_eq!(host_and_port("siem.example.jp:6514").expect("ok"), ("siem.example.jp".to_string(), 6514));
        assert_eq!(host_and_port("[::1]:6514").expect("ok"), ("::1".to_string(), 6514));
        for bad in ["siem.example.jp", ":6514", "host:0", "host:99999", "[::1]6514"] {
            assert!(matches!(host_and_port(bad), Err(SyslogError::Config { key: "collector", .. })), "{bad}");
        }
    }

    #[test]
    fn a_missing_ca_file_is_a_configuration_error() {
        let settings = SyslogSettings {
            collector: "127.0.0.1:6514".into(),
            ca_file: "/nonexistent/ca.pem".into(),
            client_cert_file: None,
            client_key_file: None,
            hostname: "h".into(),
            app_name: "kiroku".into(),
        };
        let err = Forwarder::new(settings).expect_err("no CA");
        assert!(err.to_string().starts_with("syslog.ca_file: "), "{err}");
    }
}
