//! Opening a data directory: configuration, the database backend chosen by URL, the blob store.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use kiroku_blob::BlobStore;
use kiroku_store::{Backend, Store};

use crate::config::Config;

pub struct Opened {
    pub config: Config,
    pub backend: Arc<dyn Backend>,
    pub blobs: BlobStore,
}

/// Creates the data directory (owner-only) if needed and opens everything in it.
pub async fn open(data_dir: &Path, database_url: Option<String>) -> Result<Opened> {
    create_private_dir(data_dir)?;
    let mut config = Config::load(data_dir)?;
    if let Some(url) = database_url {
        config.database_url = url;
    }
    let backend: Arc<dyn Backend> = if config.database_url.is_empty() {
        let path = data_dir.join("kiroku.db");
        Arc::new(
            kiroku_store_sqlite::SqliteBackend::open(&path)
                .await
                .with_context(|| format!("cannot open the database {}", path.display()))?,
        )
    } else if config.database_url.starts_with("postgres://") || config.database_url.starts_with("postgresql://") {
        Arc::new(
            kiroku_store_postgres::PostgresBackend::open(&config.database_url, None)
                .await
                .context("cannot open the PostgreSQL database")?,
        )
    } else {
        anyhow::bail!("database_url must be empty (SQLite) or a postgres:// URL");
    };
    let blobs = BlobStore::open(data_dir.join("blobs")).context("cannot open the file store")?;
    Ok(Opened { config, backend, blobs })
}

pub fn start(opened: &Opened) -> Store {
    Store::start(opened.backend.clone())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}
