//! The PostgreSQL backend, for facilities that outgrow one machine. Several `kiroku serve`
//! processes may share one database: each has its own writer, and the order of writes is decided by
//! the row lock on `log_head` inside each transaction, never in a process's memory.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use kiroku_store::{Backend, StoreError, Tx};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Row, SqlSafeStr};

mod dump;
pub use dump::{create_scratch_database, drop_scratch_database, restore_dump};

kiroku_store::sql_tx!(PgTx, sqlx::Postgres);

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

pub struct PostgresBackend {
    write: PgPool,
    read: PgPool,
    location: String,
    /// For `pg_dump`; holds the URL's secrets, so it is never printed.
    connection: dump::Connection,
    schema: Option<String>,
}

impl PostgresBackend {
    /// Connects to `url` (postgres://…) and applies pending migrations. `schema`, when given, is
    /// created if missing and used as the search path (tests use a fresh one each).
    pub async fn open(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?;
        let connection = dump::Connection::parse(url)?;
        // Host, port and database only: the URL's user and password never leave this function.
        let location = format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or("postgres"));
        options = options.options([("synchronous_commit", "on")]);
        if let Some(schema) = schema {
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::Database("schema names may contain only letters, digits and _".into()));
            }
            let admin = PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await.map_err(StoreError::database)?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
                .execute(&admin)
                .await
                .map_err(StoreError::database)?;
            admin.close().await;
            options = options.options([("search_path", schema)]);
        }
        let write = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::database)?;
        migrator().run(&write).await.map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        let read = PgPoolOptions::new().max_connections(8).connect_with(options).await.map_err(StoreError::database)?;
        Ok(PostgresBackend { write, read, location, connection, schema: schema.map(str::to_string) })
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn begin_write(&self) -> Result<Box<dyn Tx>, StoreError> {
        Ok(Box::new(PgTx::new(self.write.begin().await.map_err(StoreError::database)?)))
    }

    async fn begin_read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let mut tx = self.read.begin().await.map_err(StoreError::database)?;
        sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await.map_err(StoreError::database)?;
        Ok(Box::new(PgTx::new(tx)))
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn size_bytes(&self) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT CAST(pg_database_size(current_database()) AS BIGINT) AS n")
            .fetch_one(&self.read)
            .await
            .map_err(StoreError::database)?;
        Ok(u64::try_from(row.try_get::<i64, _>("n").map_err(StoreError::database)?).ok())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<kiroku_store::SessionWithUser>, StoreError> {
        PgTx::session_on(&self.read, token_hash).await
    }

    /// A `pg_dump` custom-format copy: of the store's own schema when it has one, else of the whole
    /// database (a dump of `public` alone would not load into a database that already has it).
    async fn snapshot_into(&self, dest: &std::path::Path) -> Result<(), StoreError> {
        self.connection.dump(self.schema.as_deref(), dest).await
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
