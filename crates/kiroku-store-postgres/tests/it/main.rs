//! The conformance story on PostgreSQL (KIROKU_TEST_PG_URL), each test in a fresh schema.

use std::sync::Arc;

use kiroku_store::Backend;
use kiroku_store_postgres::PostgresBackend;

async fn fresh() -> Option<Arc<dyn Backend>> {
    let url = kiroku_testkit::pg_url()?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    Some(Arc::new(PostgresBackend::open(&url, Some(&schema)).await.expect("open postgres")))
}

kiroku_store::conformance_tests!(fresh);
