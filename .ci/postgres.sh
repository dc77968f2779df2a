#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test suite, from Debian's packages.
#   eval "$(bash .ci/postgres.sh start)"   → exports MEIKE_TEST_DATABASE_URL (prints nothing else on stdout)
#   bash .ci/postgres.sh stop
# The cluster lives in a temporary directory, listens on 127.0.0.1 only and trusts local connections;
# fsync is off (a test server: speed over durability). Never used for a clinic's data.
set -euo pipefail
PORT="${MEIKE_PG_PORT:-55432}"
DIR="${MEIKE_PG_DIR:-${TMPDIR:-/tmp}/meike-ci-pg}"
log() { echo "postgres.sh: $*" >&2; }

bindir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$found" ] && echo "$found" && return
  command -v pg_ctl >/dev/null 2>&1 && dirname "$(command -v pg_ctl)" && return
  return 1
}

install() {
  bindir >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"
    return 1
  fi
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq postgresql >/dev/null 2>&1; }
}

as_owner() {  # PostgreSQL refuses to run as root: use the postgres account then
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case "${1:-start}" in
  start)
    install
    BIN="$(bindir)"
    if [ -d "$DIR" ]; then as_owner "'$BIN/pg_ctl' -D '$DIR/data' -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$DIR"; fi
    mkdir -p "$DIR/data" "$DIR/socket"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$DIR"
    as_owner "'$BIN/initdb' -D '$DIR/data' -A trust -U meike -E UTF8 --locale=C.UTF-8" >"$DIR/initdb.log" 2>&1 \
      || as_owner "'$BIN/initdb' -D '$DIR/data' -A trust -U meike -E UTF8 --locale=C" >"$DIR/initdb.log" 2>&1
    as_owner "'$BIN/pg_ctl' -D '$DIR/data' -w -l '$DIR/server.log' -o \"-p $PORT -k '$DIR/socket' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >&2
    log "PostgreSQL ready on 127.0.0.1:$PORT"
    echo "export MEIKE_TEST_DATABASE_URL=postgresql+psycopg://meike@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    BIN="$(bindir)"
    as_owner "'$BIN/pg_ctl' -D '$DIR/data' -m fast stop" >&2 || true
    ;;
  *)
    log "usage: $0 start|stop"; exit 2 ;;
esac
