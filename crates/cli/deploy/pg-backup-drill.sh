#!/usr/bin/env bash
# PostgreSQL restore drill: a base backup (pg_basebackup) plus the WAL archive, restored
# into a scratch data directory, started on another port, and checked with `renkei verify`.
#
#   crates/cli/deploy/pg-backup-drill.sh RENKEI_BIN
#
# It starts its own primary on loopback with continuous WAL archiving (archive_mode=on,
# archive_command copying each segment to an archive directory), fills it with the demo
# region through `renkei serve --demo`, takes a base backup, writes again after the backup
# (an organisation that only the archived WAL holds), forces the WAL segment out, then:
# unpacks the base backup into a new data directory, sets restore_command to read the
# archive, starts that copy on another port, waits for recovery to finish, and requires
# `renkei verify` to pass on it and the post-backup organisation to be there.
# Runs as root (the PostgreSQL commands then run as the `postgres` user) or as any other
# user who may run PostgreSQL. PGBIN names the PostgreSQL binaries (default: the newest
# /usr/lib/postgresql/*/bin). Exit 0 when the restored copy verifies.
set -euo pipefail

RENKEI=${1:?usage: $0 RENKEI_BIN}
RENKEI=$(readlink -f "$RENKEI")
PATHWAYS=$(cd "$(dirname "$0")/../../../pathways" && pwd)
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
PRIMARY_PORT=${DRILL_PRIMARY_PORT:-54341}
RESTORED_PORT=${DRILL_RESTORED_PORT:-54342}
RENKEI_PORT=${DRILL_RENKEI_PORT:-18431}
WORK=$(mktemp -d /tmp/renkei-pg-drill.XXXXXX)
chmod 0755 "$WORK"

as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

cleanup() {
  as_pg "$PGBIN/pg_ctl -D $WORK/primary -m fast stop" >/dev/null 2>&1 || true
  as_pg "$PGBIN/pg_ctl -D $WORK/restored -m fast stop" >/dev/null 2>&1 || true
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null || true
  if [ "${DRILL_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

mkdir -p "$WORK/primary" "$WORK/archive" "$WORK/base" "$WORK/restored" "$WORK/renkei" "$WORK/logs"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/primary" "$WORK/archive" "$WORK/base" "$WORK/restored" "$WORK/logs"

echo "== drill: primary with WAL archiving on port $PRIMARY_PORT"
as_pg "$PGBIN/initdb -D $WORK/primary -U postgres --auth=trust -E UTF8 >/dev/null"
cat >>"$WORK/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '/tmp'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $WORK/archive/%f && cp %p $WORK/archive/%f'
CONF
as_pg "$PGBIN/pg_ctl -D $WORK/primary -l $WORK/logs/primary.log -w start >/dev/null"
psql_at() { "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U postgres -qtAX -c "$2" "${3:-postgres}"; }
psql_at "$PRIMARY_PORT" "CREATE ROLE renkei LOGIN PASSWORD 'pw'"
psql_at "$PRIMARY_PORT" "CREATE DATABASE renkei OWNER renkei"
URL="postgres://renkei:pw@127.0.0.1:$PRIMARY_PORT/renkei"
export RENKEI_AUDIT_KEY_FILE="$WORK/renkei/audit.key" RENKEI_LOG=warn

echo "== drill: the demo region written through renkei serve"
(cd "$WORK/renkei" && exec "$RENKEI" --database "$URL" serve --demo --listen "127.0.0.1:$RENKEI_PORT" \
  --pathways "$PATHWAYS" >"$WORK/renkei/serve.log" 2>&1) &
SERVE_PID=$!
for _ in $(seq 1 1200); do
  if curl -fsS "http://127.0.0.1:$RENKEI_PORT/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/renkei/serve.log"; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$RENKEI_PORT/readyz" >/dev/null
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
SERVE_PID=
"$RENKEI" --database "$URL" verify

echo "== drill: base backup"
as_pg "$PGBIN/pg_basebackup -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -D $WORK/base -Ft -z -Xs"
ENTRIES_AT_BACKUP=$(psql_at "$PRIMARY_PORT" "SELECT count(*) FROM entries" renkei)

echo "== drill: a write after the backup, only in the archived WAL"
"$RENKEI" --database "$URL" org add --code drill-after-backup --name "訓練後登録診療所" --kind clinic --area 千葉 >/dev/null
# The segment the switch completed holds the write; wait until it is archived.
SEGMENT=$(psql_at "$PRIMARY_PORT" "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 600); do
  [ -f "$WORK/archive/$SEGMENT" ] && break
  sleep 0.1
done
[ -f "$WORK/archive/$SEGMENT" ] || { echo "WAL segment $SEGMENT was not archived" >&2; exit 1; }
as_pg "$PGBIN/pg_ctl -D $WORK/primary -m fast stop >/dev/null"

echo "== drill: restore into a scratch data directory, recover from the archive, port $RESTORED_PORT"
as_pg "tar -xzf $WORK/base/base.tar.gz -C $WORK/restored && tar -xzf $WORK/base/pg_wal.tar.gz -C $WORK/restored/pg_wal"
chmod 0700 "$WORK/restored"
cat >>"$WORK/restored/postgresql.conf" <<CONF
port = $RESTORED_PORT
archive_mode = off
restore_command = 'cp $WORK/archive/%f %p'
CONF
as_pg "touch $WORK/restored/recovery.signal"
as_pg "$PGBIN/pg_ctl -D $WORK/restored -l $WORK/logs/restored.log -w start >/dev/null"
for _ in $(seq 1 600); do
  [ "$(psql_at "$RESTORED_PORT" "SELECT pg_is_in_recovery()")" = f ] && break
  sleep 0.1
done
[ "$(psql_at "$RESTORED_PORT" "SELECT pg_is_in_recovery()")" = f ] || { cat "$WORK/logs/restored.log"; exit 1; }

RESTORED_URL="postgres://renkei:pw@127.0.0.1:$RESTORED_PORT/renkei"
"$RENKEI" --database "$RESTORED_URL" verify
ENTRIES=$(psql_at "$RESTORED_PORT" "SELECT count(*) FROM entries" renkei)
AFTER=$(psql_at "$RESTORED_PORT" "SELECT count(*) FROM organizations WHERE code = 'drill-after-backup'" renkei)
[ "$ENTRIES" = "$ENTRIES_AT_BACKUP" ] || { echo "entries: $ENTRIES restored, $ENTRIES_AT_BACKUP at the backup" >&2; exit 1; }
[ "$AFTER" = 1 ] || { echo "the write made after the base backup was not replayed from the WAL archive" >&2; exit 1; }
echo "== drill passed: base backup + WAL archive restored on port $RESTORED_PORT, $ENTRIES entries, renkei verify intact, post-backup write replayed"
