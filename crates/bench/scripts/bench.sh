#!/usr/bin/env bash
# One command for every benchmark of ../shared/quality.md: writes BENCHMARKS.md.
#   crates/bench/scripts/bench.sh [extra renkei-bench run flags, e.g. --only p1,p7 --reps 1]
# Installs what is missing (wrk, pgbench, valgrind from Debian; oha from crates.io), builds
# the release binaries, starts a private PostgreSQL on 127.0.0.1:54330 (stopped at the end
# unless it was already running), then runs `renkei-bench run`. Every step is bounded.
set -euo pipefail
cd "$(dirname "$0")/../../.."

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v pgbench >/dev/null || need_apt+=(postgresql-contrib)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v taskset >/dev/null || need_apt+=(util-linux)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || timeout 3600 cargo install oha --locked
OHA=${OHA:-oha}

timeout 3600 cargo build --release -p renkei -p renkei-bench

PORT=${RENKEI_BENCH_PG_PORT:-54330}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=${RENKEI_BENCH_PGDATA:-/tmp/renkei-pg-bench}
started_pg=0
if ! "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA"
    su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGDATA -U postgres --auth=trust -E UTF8 >/dev/null"
  fi
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/log -o '-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c fsync=on -c synchronous_commit=on -c max_connections=200' -w start >/dev/null"
  started_pg=1
fi
if [ "$started_pg" = 1 ]; then
  trap 'su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -m fast stop" >/dev/null 2>&1 || true' EXIT
fi
psql -h 127.0.0.1 -p "$PORT" -U postgres -qtc "SELECT 1 FROM pg_roles WHERE rolname='renkei'" | grep -q 1 ||
  psql -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE ROLE renkei LOGIN PASSWORD 'pw'"
psql -h 127.0.0.1 -p "$PORT" -U postgres -qtc "SELECT 1 FROM pg_database WHERE datname='renkei_bench'" | grep -q 1 ||
  psql -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE renkei_bench OWNER renkei"

exec timeout 7200 target/release/renkei-bench run \
  --pg-url "postgres://renkei:pw@127.0.0.1:$PORT/renkei_bench" --oha "$OHA" "$@"
