//! Consistent copies of a PostgreSQL database with the server's own tools (`pg_dump`,
//! `pg_restore`), for backups and restores.
//!
//! `pg_dump` reads the whole database in one repeatable-read transaction, so a copy taken after
//! the log's head was read holds at least those leaves, as SQLite's `VACUUM INTO` does. The
//! connection's secrets go to the tools in their environment (`PGPASSWORD`), never on a command
//! line that other users of the machine could read.

use std::path::Path;
use std::process::Stdio;

use kiroku_store::StoreError;
use sqlx::Row;

/// The libpq settings of a `postgres://` URL, as environment variables for the client tools.
pub(crate) struct Connection {
    env: Vec<(&'static str, String)>,
    /// host:port/database, for messages.
    pub(crate) location: String,
}

impl Connection {
    pub(crate) fn parse(database_url: &str) -> Result<Connection, StoreError> {
        let invalid = |why: &str| StoreError::Database(format!("invalid database URL: {why}"));
        let url = url::Url::parse(database_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(invalid("expected postgres://"));
        }
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let mut env = Vec::new();
        let mut host = url.host_str().unwrap_or("").to_string();
        let port = url.port().unwrap_or(5432).to_string();
        let database = decode(url.path().trim_start_matches('/'));
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "host" => host = value.into_owned(),
                "sslmode" => env.push(("PGSSLMODE", value.into_owned())),
                "sslrootcert" => env.push(("PGSSLROOTCERT", value.into_owned())),
                "sslcert" => env.push(("PGSSLCERT", value.into_owned())),
                "sslkey" => env.push(("PGSSLKEY", value.into_owned())),
                _ => {}
            }
        }
        if !host.is_empty() {
            env.push(("PGHOST", host.clone()));
        }
        env.push(("PGPORT", port.clone()));
        if !url.username().is_empty() {
            env.push(("PGUSER", decode(url.username())));
        }
        if let Some(password) = url.password() {
            env.push(("PGPASSWORD", decode(password)));
        }
        let database = if database.is_empty() { "postgres".to_string() } else { database };
        env.push(("PGDATABASE", database.clone()));
        Ok(Connection { env, location: format!("{host}:{port}/{database}") })
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        // Only what the URL says: a PGSERVICE or PGOPTIONS of the operator's shell must not redirect the copy.
        for var in ["PGSERVICE", "PGOPTIONS", "PGHOSTADDR", "PGPASSFILE"] {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    }

    async fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), StoreError> {
        let output = self.command(program).args(args).output().await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::Database(format!(
                "{program} was not found: install the PostgreSQL client tools (Debian: postgresql-client) of the server's major version"
            )),
            _ => StoreError::Database(format!("cannot run {program}: {e}")),
        })?;
        if output.status.success() {
            return Ok(());
        }
        // The tools' own first error line: it names a table or a setting, never the password.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().find(|l| l.contains("error")).or_else(|| stderr.lines().next()).unwrap_or("no message");
        Err(StoreError::Database(format!("{program} failed on {}: {}", self.location, reason.trim())))
    }

    /// Writes a custom-format dump of the whole database (or of one schema) to `dest`.
    pub(crate) async fn dump(&self, schema: Option<&str>, dest: &Path) -> Result<(), StoreError> {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--format=custom".as_ref(), "--no-owner".as_ref(), "--no-privileges".as_ref()];
        let schema_arg = schema.map(|s| format!("--schema={s}"));
        if let Some(s) = &schema_arg {
            args.push(s.as_ref());
        }
        args.push("--file".as_ref());
        args.push(dest.as_os_str());
        self.run("pg_dump", &args).await
    }

    /// Loads a dump into this (empty) database in one transaction: all of it or nothing.
    pub(crate) async fn load(&self, dump: &Path) -> Result<(), StoreError> {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["--single-transaction".as_ref(), "--exit-on-error".as_ref(), "--no-owner".as_ref(), "--no-privileges".as_ref()];
        let dbname =
            format!("--dbname={}", self.env.iter().find(|(k, _)| *k == "PGDATABASE").map(|(_, v)| v.as_str()).unwrap_or("postgres"));
        args.push(dbname.as_ref());
        args.push(dump.as_os_str());
        self.run("pg_restore", &args).await
    }
}

/// Restores a dump made by a backup into the database `database_url` names, which must hold no
/// kiroku tables yet (a restore never mixes two stores). Afterwards `PostgresBackend::open` on
/// the same URL opens the copy (and applies newer migrations, as at any start).
pub async fn restore_dump(database_url: &str, dump: &Path) -> Result<(), StoreError> {
    let connection = Connection::parse(database_url)?;
    let pool = sqlx::PgPool::connect(database_url).await.map_err(StoreError::database)?;
    let row = sqlx::query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('log_head', '_sqlx_migrations')")
        .fetch_one(&pool)
        .await
        .map_err(StoreError::database)?;
    pool.close().await;
    if row.try_get::<i64, _>("n").map_err(StoreError::database)? > 0 {
        return Err(StoreError::Database(format!(
            "the database {} already holds a kiroku store; restore only into an empty database",
            connection.location
        )));
    }
    connection.load(dump).await
}

/// A new, empty database on the server `database_url` points at, for a restore drill: its URL.
/// Needs the CREATEDB privilege; the caller drops it with [`drop_scratch_database`].
pub async fn create_scratch_database(database_url: &str) -> Result<String, StoreError> {
    let mut url = url::Url::parse(database_url).map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?;
    let name = format!("kiroku_drill_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(database_url).await.map_err(StoreError::database)?;
    let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await;
    pool.close().await;
    created.map_err(|e| StoreError::Database(format!("cannot create a database for the drill (it needs the CREATEDB privilege): {e}")))?;
    url.set_path(&name);
    Ok(url.into())
}

/// Drops a database made by [`create_scratch_database`] (and only such a one).
pub async fn drop_scratch_database(scratch_url: &str, server_url: &str) -> Result<(), StoreError> {
    let url = url::Url::parse(scratch_url).map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?;
    let name = url.path().trim_start_matches('/');
    let ours = name.strip_prefix("kiroku_drill_").is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ours {
        return Err(StoreError::Database(format!("{name} is not a drill's database; not dropped")));
    }
    let pool = sqlx::PgPool::connect(server_url).await.map_err(StoreError::database)?;
    let dropped = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&pool).await;
    pool.close().await;
    dropped.map(|_| ()).map_err(StoreError::database)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var<'a>(c: &'a Connection, name: &str) -> Option<&'a str> {
        c.env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn url_settings_become_libpq_environment() {
        let c = Connection::parse("postgres://kiroku:p%40ss%20w@db.example:6432/records?sslmode=verify-full&application_name=x")
            .expect("parse");
        assert_eq!(var(&c, "PGHOST"), Some("db.example"));
        assert_eq!(var(&c, "PGPORT"), Some("6432"));
        assert_eq!(var(&c, "PGUSER"), Some("kiroku"));
        assert_eq!(var(&c, "PGPASSWORD"), Some("p@ss w"));
        assert_eq!(var(&c, "PGDATABASE"), Some("records"));
        assert_eq!(var(&c, "PGSSLMODE"), Some("verify-full"));
        assert_eq!(c.location, "db.example:6432/records");
        let socket = Connection::parse("postgresql:///kiroku?host=/var/run/postgresql").expect("parse");
        assert_eq!(var(&socket, "PGHOST"), Some("/var/run/postgresql"));
        assert!(var(&socket, "PGPASSWORD").is_none());
        assert!(Connection::parse("mysql://x/y").is_err());
    }
}
