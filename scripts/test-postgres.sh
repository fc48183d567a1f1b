#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: a cluster under target/pg, on a port
# of its own, loopback only, fsync off (its data is worth nothing), run as
# the postgres user (PostgreSQL refuses to run as root).
#
#   scripts/test-postgres.sh start   # prints the URL; also in target/pg/url
#   scripts/test-postgres.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
# The cluster lives under /tmp, not target/: the postgres user must reach
# it, and a checkout under a private directory (/root/...) is out of its
# reach. One per checkout; its URL is kept in target/pg/url.
dir="${TMPDIR:-/tmp}/hcal-test-pg-$(printf %s "$PWD" | cksum | cut -d' ' -f1)"
data="$dir/data"
url_file="$PWD/target/pg/url"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

bin_dir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

install_postgres() {
  echo "test-postgres: installing Debian's postgresql for the store tests" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -q postgresql >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q postgresql >/dev/null; } \
    || { echo "test-postgres: cannot install postgresql: apt-get install postgresql" >&2; exit 1; }
}

start() {
  local bin
  bin=$(bin_dir) || { install_postgres; bin=$(bin_dir); }
  # A cluster left running by an interrupted run is stopped first.
  [ -f "$data/postmaster.pid" ] && stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_postgres "$bin/initdb" -D "$data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  mkdir -p "$(dirname "$url_file")"
  echo "postgres://postgres@127.0.0.1:$port/postgres" | tee "$url_file"
}

stop() {
  local bin
  bin=$(bin_dir) || return 0
  [ -d "$data" ] && as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
