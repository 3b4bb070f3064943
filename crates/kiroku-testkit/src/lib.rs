//! Test helpers shared by kiroku's test suites: where the real peers are, and how to skip loudly
//! when one is absent on a developer's machine (never under `CI=true`).

/// Whether this run is CI, where a missing peer is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a missing peer: panics in CI, otherwise prints a loud notice so the skip is seen.
pub fn missing_peer(what: &str, how: &str) {
    if in_ci() {
        panic!("{what} is required in CI but is absent: {how}");
    }
    eprintln!("\n*** SKIPPED: {what} is absent ({how}) ***\n");
}

/// The PostgreSQL URL for tests, from KIROKU_TEST_PG_URL.
pub fn pg_url() -> Option<String> {
    match std::env::var("KIROKU_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            missing_peer("PostgreSQL", "set KIROKU_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test");
            None
        }
    }
}

pub mod pkcs11;
pub mod pki;
pub mod revocation;
