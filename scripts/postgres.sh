#!/usr/bin/env bash
# A throwaway PostgreSQL server for the state store's tests.
#
#   scripts/postgres.sh start   installs PostgreSQL from Debian's packages when
#                               initdb/pg_ctl are missing, creates a cluster in a
#                               temporary directory (as the postgres user when
#                               run as root), starts it on 127.0.0.1 on a free
#                               port, creates the database `syncwright` and
#                               prints its URL
#   scripts/postgres.sh url     prints the URL of the server started here
#   scripts/postgres.sh stop    stops it and removes its directory
#
# The cluster trusts local connections and does not sync to disk: it holds
# test data only. Which server belongs to this checkout is kept in
# target/postgres-test (SYNCWRIGHT_PG_STATE overrides), so several checkouts
# each have their own.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE_FILE=${SYNCWRIGHT_PG_STATE:-$PWD/target/postgres-test}

say() { echo "postgres.sh: $*" >&2; }

# The directory of initdb and pg_ctl: on PATH, else Debian's newest
# /usr/lib/postgresql/N/bin.
find_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"
    return 0
  fi
  return 1
}

install_postgres() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "PostgreSQL (initdb, pg_ctl) is missing and apt-get is not available to install it"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get update -qq >&2; then
    say "cannot reach Debian's package registry (apt-get update failed): PostgreSQL cannot be installed"
    return 1
  fi
  if ! $sudo apt-get install -y -qq --no-install-recommends postgresql >&2; then
    say "apt-get install postgresql failed"
    return 1
  fi
}

# Runs a command as the cluster's owner: the postgres user when root
# (PostgreSQL refuses to run as root), else the current user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# psql beside initdb, else on PATH.
psql_bin() {
  if [ -x "$1/psql" ]; then echo "$1/psql"; else command -v psql; fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  if [ -f "$STATE_FILE" ]; then
    if [ -n "$(sed -n 3p "$STATE_FILE")" ] && psql_bin "$(sed -n 2p "$STATE_FILE")" >/dev/null &&
        "$(psql_bin "$(sed -n 2p "$STATE_FILE")")" "$(url)" -qAtc 'SELECT 1' >/dev/null 2>&1; then
      say "the server started earlier for this checkout is still running: using it"
      url
      return 0
    fi
    stop
  fi
  local bin
  if ! bin=$(find_bin); then
    install_postgres || return 1
    bin=$(find_bin) || { say "PostgreSQL was installed but initdb/pg_ctl are not found"; return 1; }
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  local psql
  psql=$(psql_bin "$bin") || { say "psql is missing"; return 1; }
  mkdir -p "$(dirname "$STATE_FILE")"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/syncwright-pg.XXXXXX")
  # Written before anything starts, so that stop finds whatever did.
  printf '%s\n%s\n\n' "$dir" "$bin" >"$STATE_FILE"
  chmod 700 "$dir"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync >"$dir/initdb.log" 2>&1 || {
    say "initdb failed:"; cat "$dir/initdb.log" >&2; stop; return 1; }
  local port tries=0
  while :; do
    tries=$((tries + 1))
    port=$((20000 + RANDOM % 40000))
    port_free "$port" || continue
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null; then
      break
    fi
    if [ "$tries" -ge 5 ]; then
      say "the server did not start:"; tail -n 20 "$dir/server.log" >&2; stop; return 1
    fi
  done
  local url="postgresql://postgres@127.0.0.1:$port/syncwright"
  printf '%s\n%s\n%s\n' "$dir" "$bin" "$url" >"$STATE_FILE"
  "$psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE syncwright" >/dev/null 2>"$dir/createdb.log" || {
    say "could not create the database:"; cat "$dir/createdb.log" >&2; stop; return 1; }
  echo "$url"
}

url() {
  [ -f "$STATE_FILE" ] || { say "no server started for this checkout"; return 1; }
  sed -n 3p "$STATE_FILE"
}

stop() {
  [ -f "$STATE_FILE" ] || return 0
  local dir bin
  dir=$(sed -n 1p "$STATE_FILE")
  bin=$(sed -n 2p "$STATE_FILE")
  if [ -d "$dir/data" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  case "$dir" in
    */syncwright-pg.*) rm -rf "$dir" ;;
  esac
  rm -f "$STATE_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: scripts/postgres.sh start|stop|url" >&2; exit 2 ;;
esac
