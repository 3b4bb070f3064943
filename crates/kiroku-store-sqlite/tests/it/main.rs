//! The conformance story on SQLite, plus SQLite-specific durability and tamper checks.

use std::sync::Arc;

use kiroku_store::Backend;
use kiroku_store_sqlite::SqliteBackend;

async fn fresh() -> Option<Arc<dyn Backend>> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Some(Arc::new(SqliteBackend::open(&dir.join("kiroku.db")).await.expect("open sqlite")))
}

kiroku_store::conformance_tests!(fresh);
