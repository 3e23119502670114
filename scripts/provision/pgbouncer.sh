#!/usr/bin/env bash
# Provision the PgBouncer role: several PgBouncer 1.18 instances (transaction pooling, SCRAM pass-through).
#
# usage: pgbouncer.sh [config|start NAME|all]...      (default: all = config, then start every instance)
#   config      write the userlist and one pgbouncer.ini per instance
#   start NAME  start one instance as a daemon (after a crash too) and wait until it listens
# env: PGB_ADDR (listen address, required) PGB_DIR=/var/lib/pgsteer/pgb
#      PGB_INSTANCES="pgb1:6432 pgb2:6433 pgb3:6434" PGB_POOL_SIZE=20 PGB_MAX_CLIENT=500
#      DB_HOST (required) DB_PORT=5432 APP_DB=app APP_USER=app APP_PASSWORD=app-secret
#      APP_SECRET: the userlist secret; default: the app user's SCRAM secret, read from the server's
#      pg_authid through pgsteer.own_scram_secret() (created by db.sh), so SCRAM pass-through works
# Layout: $PGB_DIR/userlist.txt, $PGB_DIR/NAME/{pgbouncer.ini,pgbouncer.log,pgbouncer.pid}; NAME's
# directory is also its unix_socket_dir.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=${LOG_TAG:-pgbouncer}

PGB_DIR=${PGB_DIR:-/var/lib/pgsteer/pgb}
PGB_INSTANCES=${PGB_INSTANCES:-pgb1:6432 pgb2:6433 pgb3:6434}
PGB_POOL_SIZE=${PGB_POOL_SIZE:-20}
PGB_MAX_CLIENT=${PGB_MAX_CLIENT:-500}
PGB_NOFILE=${PGB_NOFILE:-4096}
DB_PORT=${DB_PORT:-5432}
APP_DB=${APP_DB:-app}
APP_USER=${APP_USER:-app}
APP_PASSWORD=${APP_PASSWORD:-app-secret}

# Check the settings every subcommand needs.
pgb_check_env() {
  [ -n "${PGB_ADDR:-}" ] || die "PGB_ADDR (the address PgBouncer listens on) is not set"
  [ -n "${DB_HOST:-}" ] || die "DB_HOST (the PostgreSQL server) is not set"
  [ -x "$PGB_BIN" ] || die "pgbouncer not found at $PGB_BIN (run scripts/deps.sh)"
}

# Print the port of instance NAME (from PGB_INSTANCES), or fail.
pgb_port() {
  local name=$1 item
  for item in $PGB_INSTANCES; do
    [ "${item%%:*}" = "$name" ] && { printf '%s\n' "${item#*:}"; return 0; }
  done
  die "unknown PgBouncer instance '$name' (PGB_INSTANCES: $PGB_INSTANCES)"
}

# Fetch the app user's SCRAM secret from the server, logging in as that user.
pgb_fetch_secret() {
  local secret i
  for ((i = 0; i < 10; i++)); do
    secret=$(cd / && PGPASSWORD=$APP_PASSWORD PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -Atq \
      -h "$DB_HOST" -p "$DB_PORT" -U "$APP_USER" -d "$APP_DB" \
      -c 'select pgsteer.own_scram_secret()' 2>/dev/null) && break
    sleep 0.5
  done
  [[ ${secret:-} == SCRAM-SHA-256\$* ]] \
    || die "could not read $APP_USER's SCRAM secret from $DB_HOST:$DB_PORT (is db.sh provisioned?)"
  printf '%s\n' "$secret"
}

# Write the shared userlist (mode 600, owned by the PgBouncer user).
pgb_write_userlist() {
  local secret=${APP_SECRET:-}
  [ -n "$secret" ] || secret=$(pgb_fetch_secret)
  mkdir -p "$PGB_DIR"
  chown "$PG_OS_USER:" "$PGB_DIR"
  (umask 077 && printf '"%s" "%s"\n' "$APP_USER" "$secret" >"$PGB_DIR/userlist.txt")
  chown "$PG_OS_USER:" "$PGB_DIR/userlist.txt"
}

# Write pgbouncer.ini for instance NAME listening on PORT. Its connect_query marks every server
# connection it opens with the custom setting pgsteer.pgbouncer = NAME, so a client can ask which
# PgBouncer ran its transaction (current_setting('pgsteer.pgbouncer', true)); transaction pooling runs
# no reset query, so the mark stays for the connection's life.
pgb_write_ini() {
  local name=$1 port=$2 dir=$PGB_DIR/$1
  mkdir -p "$dir"
  chown "$PG_OS_USER:" "$dir"
  cat >"$dir/pgbouncer.ini" <<EOF
; $name, written by scripts/provision/pgbouncer.sh
[databases]
$APP_DB = host=$DB_HOST port=$DB_PORT dbname=$APP_DB connect_query='SET pgsteer.pgbouncer TO $name'

[pgbouncer]
listen_addr = $PGB_ADDR
listen_port = $port
unix_socket_dir = $dir
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
max_client_conn = $PGB_MAX_CLIENT
default_pool_size = $PGB_POOL_SIZE
admin_users = $APP_USER
stats_users = $APP_USER
ignore_startup_parameters = extra_float_digits
server_login_retry = 2
EOF
  chown "$PG_OS_USER:" "$dir/pgbouncer.ini"
}

# Write the userlist and every instance's ini.
pgb_config() {
  local item
  pgb_write_userlist
  for item in $PGB_INSTANCES; do
    pgb_write_ini "${item%%:*}" "${item#*:}"
  done
  log "configured $PGB_INSTANCES on $PGB_ADDR"
}

# Start instance NAME unless it runs; a pid file left by a crash (SIGKILL) is removed first.
pgb_start() {
  local name=$1 port dir pidfile pid
  port=$(pgb_port "$name")
  dir=$PGB_DIR/$name
  pidfile=$dir/pgbouncer.pid
  [ -r "$dir/pgbouncer.ini" ] || die "$dir/pgbouncer.ini missing (run: pgbouncer.sh config)"
  if ! pidfile_clear_stale "$pidfile" "$dir/pgbouncer.ini"; then
    log "$name already running (pid $(pidfile_pid "$pidfile"))"
    return 0
  fi
  # PgBouncer refuses to start while its old socket still accepts; a dead one it replaces itself.
  # shellcheck disable=SC2016
  (cd / && as_pg bash -c 'ulimit -n "$1" 2>/dev/null || true; exec "$2" -d "$3"' _ \
    "$PGB_NOFILE" "$PGB_BIN" "$dir/pgbouncer.ini") \
    || die "$name did not start: $(tail -n 3 "$dir/pgbouncer.log" 2>/dev/null | tr '\n' ' ')"
  if ! wait_for 10 pgb_ready "$pidfile" "$dir/pgbouncer.ini" "$port"; then
    die "$name not listening on $PGB_ADDR:$port after 10 s: $(tail -n 3 "$dir/pgbouncer.log" 2>/dev/null | tr '\n' ' ')"
  fi
  log "$name listening on $PGB_ADDR:$port (pid $(pidfile_pid "$pidfile"))"
}

# Succeed when the instance wrote its pid file, runs, and listens on its port.
pgb_ready() {
  local pidfile=$1 ini=$2 port=$3 pid
  pid=$(pidfile_pid "$pidfile")
  [ -n "$pid" ] && proc_matches "$pid" "$ini" && tcp_listening "$PGB_ADDR" "$port"
}

main() {
  local item
  [ $# -gt 0 ] || set -- all
  pgb_check_env
  while [ $# -gt 0 ]; do
    case $1 in
      config) ran pgb_config ;;
      start) [ $# -ge 2 ] || die "usage: pgbouncer.sh start NAME"; ran pgb_start "$2"; shift ;;
      all) ran pgb_config; for item in $PGB_INSTANCES; do ran pgb_start "${item%%:*}"; done ;;
      -h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown subcommand '$1' (config|start NAME|all)" ;;
    esac
    shift
  done
}

main "$@"
