#!/usr/bin/env bash
# Conformance against clients no one here wrote: Xero's and Zoho's own Python
# SDKs, installed unmodified from PyPI (pinned), drive a running sandbox
# through the calls the sandbox must answer as the real services do.
#
#   scripts/sdk-check.sh            # builds the CLI, starts a sandbox, runs both SDKs
#
# Env: SDK_CHECK_VENV (default target/sdk-check/venv) reuses a virtual
# environment; SYNCWRIGHT_BIN uses an already built binary.
set -euo pipefail
cd "$(dirname "$0")/.."

XERO_PYTHON=xero-python==15.2.0
ZOHO_SDK=zohocrmsdk8-0==7.0.0
WORK=target/sdk-check
VENV=${SDK_CHECK_VENV:-$WORK/venv}
mkdir -p "$WORK"

if ! command -v python3 >/dev/null; then
  echo "sdk-check: python3 is not installed; it is needed to run the vendors' SDKs" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import xero_python, zohocrmsdk' 2>/dev/null; then
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "$XERO_PYTHON" "$ZOHO_SDK" >"$WORK/pip.log" 2>&1; then
    echo "sdk-check: could not install $XERO_PYTHON and $ZOHO_SDK from PyPI (is PyPI reachable?); pip said:" >&2
    tail -n 5 "$WORK/pip.log" >&2
    exit 1
  fi
fi

BIN=${SYNCWRIGHT_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --quiet --bin syncwright
  BIN=target/debug/syncwright
fi

PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" sandbox --seed examples/zoho-crm-to-xero/crm.json --listen "127.0.0.1:$PORT" --no-limits >"$WORK/sandbox.log" 2>&1 &
SANDBOX=$!
trap 'kill "$SANDBOX" 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  if "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('$BASE/sandbox/calls')" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SANDBOX" 2>/dev/null; then
    echo "sdk-check: the sandbox did not start:" >&2
    cat "$WORK/sandbox.log" >&2
    exit 1
  fi
  sleep 0.1
done

status=0
echo "== Xero: $XERO_PYTHON"
"$VENV/bin/python" scripts/sdk-check/xero_check.py "$BASE" || status=1
echo "== Zoho: $ZOHO_SDK"
rm -rf "$WORK/zoho"
"$VENV/bin/python" scripts/sdk-check/zoho_check.py "$BASE" "$WORK/zoho" || status=1
if [ "$status" -ne 0 ]; then
  echo "sdk-check: some SDK calls failed (the sandbox's call log: $BASE/sandbox/calls while it ran; Zoho SDK log: $WORK/zoho/sdk.log)" >&2
fi
exit "$status"
