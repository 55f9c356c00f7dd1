#!/usr/bin/env bash
# Prints syncwright's benchmark table (see benches/pipeline.rs): engine
# throughput on one thread and all cores against a serde floor and jq, peak
# RSS for 10,000 and 1,000,000 streamed invoices, time in Rhai per rule, and
# API calls per system against the sandbox. Installs jq from Debian's
# packages when it is missing. `scripts/bench.sh --quick` runs a smaller
# version. Builds in release mode first: on a fresh 2-core machine the whole
# script takes under ten minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jq >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq jq
  else
    echo "jq is missing and apt-get is not available; the jq baseline will be skipped" >&2
  fi
fi
cargo build --release --locked -p syncwright -p syncwright-bench
exec target/release/syncwright-bench "$@"
