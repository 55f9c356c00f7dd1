#!/usr/bin/env bash
# Workers on one PostgreSQL (see benches/workers.rs): invoices per Xero
# minute per organisation with one `syncwright run` worker and with three,
# against the sandbox (two organisations, Xero's limits on, a 6-second Xero
# minute) and one PostgreSQL store, and what sharing Xero's budgets through
# the store costs a call. Uses the server SYNCWRIGHT_BENCH_POSTGRES names,
# else starts one with scripts/postgres.sh (and stops it after, unless it
# was running already). `--quick`: 2,000 invoices per organisation, not 10,000.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p syncwright -p syncwright-bench
url=${SYNCWRIGHT_BENCH_POSTGRES:-}
if [ -z "$url" ]; then
  before=$(scripts/postgres.sh url 2>/dev/null || true)
  url=$(scripts/postgres.sh start)
  if [ "$before" != "$url" ]; then
    trap 'scripts/postgres.sh stop' EXIT
  fi
fi
target/release/syncwright-bench-workers "$url" "$@"
