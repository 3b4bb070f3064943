//! `kiroku serve` and `kiroku init`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use kiroku_auth::{PolicyContext, password, token};
use kiroku_core::{Role, Timestamp, Username};
use kiroku_store::{Command, Store, UserRecord};
use tokio::net::TcpListener;

use crate::open::{Opened, open, start};

pub async fn run(data_dir: &Path, database_url: Option<String>, listen: Option<String>) -> Result<()> {
    let started = std::time::Instant::now();
    let opened = open(data_dir, database_url).await?;
    init_logging(&opened.config.log_format);
    let store = start(&opened);
    if !store.is_initialised().await? {
        let otp = token::one_time_password();
        bootstrap(&store, "admin", &otp).await?;
        // The commented defaults, so that a facility finds every setting where it keeps its data.
        write_default_config(data_dir)?;
        println!("================================================================");
        println!(" kiroku: 初期管理者を作成しました / first administrator created");
        println!("   user: admin");
        println!("   one-time password: {otp}");
        println!(" 初回ログイン時にパスワードの変更が必要です。この表示は一度だけです。");
        println!(" It must be changed at first login. It is shown only this once.");
        println!("================================================================");
    }
    let addr = listen.unwrap_or_else(|| opened.config.listen.clone());
    let listener = TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let Opened { config, backend, blobs } = opened;
    let mut settings = config.settings();
    // Unreadable trust anchors stop start-up: a TSA nobody can check must not be used silently.
    settings.timestamp = config.timestamp.settings(data_dir)?.map(std::sync::Arc::new);
    settings.signer_anchors = config.signing.anchors(data_dir)?;
    settings.revocation = config.signing.revocation(data_dir)?;
    settings.pkcs11 = config.signing.pkcs11()?;
    if let Some(s) = &settings.syslog {
        // Unreadable certificates stop start-up here, before anyone relies on the forwarding.
        kiroku_server::syslog::Forwarder::new(s.clone()).context("the [syslog] settings cannot be used")?;
    }
    if let Some(tls) = config.tls.settings(data_dir)? {
        settings.tls = Some(kiroku_server::tls::server_config(&tls).map_err(|e| anyhow::anyhow!(e))?);
    }
    settings.client_cert_roles = config.tls.roles()?;
    let tls = settings.tls.is_some();
    // Browsers send Secure cookies only over https; on loopback kiroku may be reached over plain http.
    settings.secure_cookies = tls || !local.ip().is_loopback();
    // The health monitor watches the filesystem that holds the database and the files.
    settings.data_dir = Some(data_dir.to_path_buf());
    settings.webauthn = Some(std::sync::Arc::new(config.webauthn.relying_party(local.port(), tls)?));
    let log_key = crate::logkey::load_for_serving(data_dir, &store).await?;
    let state = kiroku_server::AppState::new(store, blobs, settings).with_log_key(log_key);
    let scheme = if tls { "https" } else { "http" };
    println!("kiroku: listening on {scheme}://{local} ({} backend, ready in {} ms)", backend.kind(), started.elapsed().as_millis());
    tracing::info!(%local, backend = backend.kind(), "listening");
    kiroku_server::serve(listener, state, shutdown_signal()).await.context("the server stopped with an error")?;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn init_logging(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("KIROKU_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

pub async fn init(data_dir: &Path, database_url: Option<String>, admin_user: &str, password_file: Option<&Path>) -> Result<()> {
    let opened = open(data_dir, database_url).await?;
    let store = start(&opened);
    if store.is_initialised().await? {
        bail!("{} is already initialised", data_dir.display());
    }
    let username = Username::parse(admin_user).map_err(|e| anyhow::anyhow!("--admin-user: {e}"))?;
    let (pw, generated) = match password_file {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            let pw = text.trim_end_matches(['\n', '\r']).to_string();
            let ctx = PolicyContext { username: username.as_str(), display_name: "", has_second_factor: false };
            opened
                .config
                .settings()
                .password_policy
                .check(&pw, ctx)
                .map_err(|v| anyhow::anyhow!("the password in {} is refused: {v}", f.display()))?;
            (pw, false)
        }
        None => (token::one_time_password(), true),
    };
    bootstrap(&store, username.as_str(), &pw).await?;
    write_default_config(data_dir)?;
    println!("kiroku: initialised {} with administrator {username}", data_dir.display());
    if generated {
        println!("one-time password (shown once, must be changed at first login): {pw}");
    }
    Ok(())
}

async fn bootstrap(store: &Store, username: &str, pw: &str) -> Result<()> {
    let pw = pw.to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw)).await?.map_err(|_| anyhow::anyhow!("password hashing failed"))?;
    let now = Timestamp::now();
    let admin =
        UserRecord::new(Username::parse(username).map_err(|e| anyhow::anyhow!("{e}"))?, "システム管理者".into(), Role::Admin, hash, now);
    store.execute(Command::Bootstrap { admin }).await.context("cannot create the first administrator")?;
    Ok(())
}

fn write_default_config(data_dir: &Path) -> Result<()> {
    let path = data_dir.join("kiroku.toml");
    if !path.exists() {
        std::fs::write(&path, crate::config::EXAMPLE).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
