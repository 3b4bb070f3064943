//! The SQLite backend: the embedded default. One file in the data directory, WAL journal,
//! `synchronous=FULL` so that a commit is durable when it returns, one writer connection and a pool
//! of read-only connections.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use kiroku_store::{Backend, StoreError, Tx};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlSafeStr};

kiroku_store::sql_tx!(SqliteTx, sqlx::Sqlite);

/// The schema, one entry per released migration.
fn migrator() -> Migrator {
    let m = |version, description: &'static str, sql: &'static str| {
        Migration::new(version, description.into(), MigrationType::Simple, sql.into_sql_str(), false)
    };
    Migrator::with_migrations(vec![
        m(1, "initial", include_str!("../migrations/0001_initial.sql")),
        m(2, "merkle log", include_str!("../migrations/0002_merkle_log.sql")),
        m(3, "user preferences", include_str!("../migrations/0003_user_preferences.sql")),
        m(4, "export cursors", include_str!("../migrations/0004_export_cursors.sql")),
        m(5, "operations", include_str!("../migrations/0005_operations.sql")),
        m(6, "identity", include_str!("../migrations/0006_identity.sql")),
        m(7, "signatures and timestamps", include_str!("../migrations/0007_signatures_timestamps.sql")),
        m(9, "break-glass accounts", include_str!("../migrations/0009_break_glass.sql")),
        m(10, "governance regulation", include_str!("../migrations/0010_governance_regulation.sql")),
        m(11, "governance ledgers", include_str!("../migrations/0011_governance_ledgers.sql")),
        m(13, "identity maintenance", include_str!("../migrations/0013_identity_maintenance.sql")),
        m(14, "webauthn and tls", include_str!("../migrations/0014_webauthn_tls.sql")),
        m(15, "scanned paper", include_str!("../migrations/0015_scan.sql")),
        m(16, "validation evidence", include_str!("../migrations/0016_validation_evidence.sql")),
    ])
}

pub struct SqliteBackend {
    write: SqlitePool,
    read: SqlitePool,
    path: std::path::PathBuf,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(StoreError::database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::database)?;
        migrator().run(&write).await.map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        let read = SqlitePoolOptions::new().max_connections(8).connect_with(options.read_only(true)).await.map_err(StoreError::database)?;
        Ok(SqliteBackend { write, read, path: path.to_path_buf() })
    }

    /// Closes the pools, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn begin_write(&self) -> Result<Box<dyn Tx>, StoreError> {
        Ok(Box::new(SqliteTx::new(self.write.begin().await.map_err(StoreError::database)?)))
    }

    async fn begin_read(&self) -> Result<Box<dyn Tx>, StoreError> {
        Ok(Box::new(SqliteTx::new(self.read.begin().await.map_err(StoreError::database)?)))
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()).display().to_string()
    }

    async fn size_bytes(&self) -> Result<Option<u64>, StoreError> {
        // The database file and its write-ahead log; the WAL holds commits not yet checkpointed.
        let files = [self.path.clone(), self.path.with_extension("db-wal")];
        Ok(Some(files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum()))
    }

    async fn session(&self, token_hash: &str) -> Result<Option<kiroku_store::SessionWithUser>, StoreError> {
        SqliteTx::session_on(&self.read, token_hash).await
    }

    async fn snapshot_into(&self, dest: &Path) -> Result<(), StoreError> {
        // VACUUM INTO reads one read transaction's view, so the copy is consistent while the writer
        // goes on; the copy is compact and has no WAL of its own.
        let dest = dest.to_str().ok_or_else(|| StoreError::Database("the snapshot path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(dest).execute(&self.read).await.map_err(StoreError::database)?;
        Ok(())
    }

    fn latest_schema(&self) -> i64 {
        migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.read)
            .await
            .map_err(StoreError::database)?;
        row.try_get::<i64, _>("v").map_err(StoreError::database)
    }
}
