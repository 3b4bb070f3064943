//! The TLS listener (rustls; TLS 1.2 and 1.3 only, as rustls offers nothing older) with optional
//! client certificates for terminals (T1-7.5): certificates from PEM files, the private key only
//! from a file nobody else may read (checked by the CLI), a client certificate required, optional
//! or not asked for, and the subject of the one a connection presented handed to every request of
//! that connection as [`ClientCert`]. A connection that does not complete the handshake (plain
//! HTTP, a certificate from another CA, none where one is required) never reaches the application.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use kiroku_sign::der::Decode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Whether terminals must present a certificate signed by `client_ca_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Off,
    Optional,
    Required,
}

impl ClientAuth {
    pub fn parse(s: &str) -> Option<ClientAuth> {
        match s {
            "" | "off" => Some(ClientAuth::Off),
            "optional" => Some(ClientAuth::Optional),
            "required" => Some(ClientAuth::Required),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM: the server's certificate, then its chain.
    pub cert_file: PathBuf,
    /// PEM: the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM: the CA certificates that sign terminals' certificates.
    pub client_ca_file: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

/// The subject (RFC 4514) of the certificate the connection's client presented, if any; every
/// request of a TLS connection carries one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCert(pub Option<String>);

/// The rustls server configuration, or why the files cannot be used.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&settings.cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("tls.cert_file: cannot read PEM certificates from {}: {e}", settings.cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!("tls.cert_file: {} holds no certificate", settings.cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key_file)
        .map_err(|e| format!("tls.key_file: cannot read a PEM private key from {}: {e}", settings.key_file.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls: {e}"))?;
    let builder = match (settings.client_auth, &settings.client_ca_file) {
        (ClientAuth::Off, _) => builder.with_no_client_auth(),
        (_, None) => return Err("tls.client_auth needs tls.client_ca_file (the CA that signs the terminals' certificates)".into()),
        (mode, Some(ca_file)) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca_file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("tls.client_ca_file: cannot read PEM certificates from {}: {e}", ca_file.display()))?
            {
                roots.add(cert).map_err(|e| format!("tls.client_ca_file: {}: {e}", ca_file.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Optional { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("tls.client_ca_file: {e}"))?)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| format!("tls.key_file does not fit tls.cert_file: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The subject of a DER certificate, RFC 4514 (`CN=terminal-01,O=…`).
pub fn subject_of(der: &[u8]) -> Option<String> {
    kiroku_sign::Certificate::from_der(der).ok().map(|c| c.tbs_certificate().subject().to_string())
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves; connections in flight are given
/// a moment to finish. Each handshake runs in its own task, so a slow client holds up nobody.
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            let subject = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| subject_of(c.as_ref()));
            let app = app.layer(axum::Extension(ConnectInfo(peer))).layer(axum::Extension(ClientCert(subject)));
            let service = hyper_util::service::TowerToHyperService::new(app);
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    Ok(())
}
