#!/usr/bin/env bash
# Runs every test of kiroku: unit tests, the storage conformance story on SQLite and PostgreSQL,
# and the end-to-end tests that start the real binary.
# PostgreSQL: KIROKU_TEST_PG_URL, defaulting to the machine's server on 127.0.0.1:5432 (database test).
# Where a peer is absent the tests say so loudly and skip; with CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KIROKU_TEST_PG_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export KIROKU_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/test"
fi
cargo test --workspace --locked "$@"
