#!/usr/bin/env bash
# Provision the database role: a PostgreSQL 15 cluster with the app database loaded by pgbench -i.
#
# usage: db.sh [init|start|app|users|secret|all]...      (default: all = init start app users)
#   init    create the cluster under $DB_DIR/data (skipped if it exists) and write its config
#   start   start PostgreSQL with pg_ctl (waits until it accepts connections)
#   app     create role and database (SCRAM password) and load them with pgbench -i (once)
#   users   create the example app's users table (examples/app) with $APP_USERS rows (once)
#   secret  print the app user's SCRAM secret from pg_authid (for PgBouncer's userlist)
# env: DB_ADDR (listen address, required) DB_PORT=5432 DB_DIR=/var/lib/pgsteer/db DB_ALLOW=CIDR (required)
#      APP_DB=app APP_USER=app APP_PASSWORD=app-secret PGBENCH_SCALE=10 DB_MAX_CONN=200 APP_USERS=300
#      DB_FSYNC=on (the namespace lab turns it off) PG_BIN=/usr/lib/postgresql/15/bin
# Layout: $DB_DIR/data (PGDATA, postmaster.pid), $DB_DIR/run (socket dir), $DB_DIR/postgres.log.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=${LOG_TAG:-db}

DB_PORT=${DB_PORT:-5432}
DB_DIR=${DB_DIR:-/var/lib/pgsteer/db}
APP_DB=${APP_DB:-app}
APP_USER=${APP_USER:-app}
APP_PASSWORD=${APP_PASSWORD:-app-secret}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
APP_USERS=${APP_USERS:-300}
DB_MAX_CONN=${DB_MAX_CONN:-200}
DB_FSYNC=${DB_FSYNC:-on}
PGDATA_DIR=$DB_DIR/data
SOCK_DIR=$DB_DIR/run

# Check the settings every subcommand needs.
db_check_env() {
  [ -n "${DB_ADDR:-}" ] || die "DB_ADDR (the address PostgreSQL listens on) is not set"
  [ -n "${DB_ALLOW:-}" ] || die "DB_ALLOW (the client network, CIDR) is not set"
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 not found in $PG_BIN (run scripts/deps.sh)"
}

# Run psql as the superuser over the cluster's own unix socket.
db_psql_super() {
  (cd / && as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$DB_PORT" -U postgres "$@")
}

# Create the cluster and write postgresql.conf additions and pg_hba.conf.
db_init() {
  mkdir -p "$DB_DIR"
  chown "$PG_OS_USER:" "$DB_DIR"
  chmod 700 "$DB_DIR"
  if [ -s "$PGDATA_DIR/PG_VERSION" ]; then
    log "cluster exists in $PGDATA_DIR"
  else
    local nosync=()
    [ "$DB_FSYNC" = off ] && nosync=(--no-sync)
    log "initdb $PGDATA_DIR"
    (cd / && as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C \
      --auth-local=peer --auth-host=scram-sha-256 "${nosync[@]}" >"$DB_DIR/initdb.log" 2>&1) \
      || die "initdb failed, see $DB_DIR/initdb.log"
  fi
  as_pg mkdir -p "$SOCK_DIR"
  db_write_conf
}

# Write the settings the lab relies on (a later line in postgresql.conf wins, so append an include).
db_write_conf() {
  cat >"$PGDATA_DIR/pgsteer.conf" <<EOF
# written by scripts/provision/db.sh
listen_addresses = '$DB_ADDR'
port = $DB_PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = $DB_MAX_CONN
password_encryption = 'scram-sha-256'
fsync = $DB_FSYNC
synchronous_commit = $DB_FSYNC
full_page_writes = $DB_FSYNC
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  grep -qx "include 'pgsteer.conf'" "$PGDATA_DIR/postgresql.conf" \
    || echo "include 'pgsteer.conf'" >>"$PGDATA_DIR/postgresql.conf"
  cat >"$PGDATA_DIR/pg_hba.conf" <<EOF
# written by scripts/provision/db.sh
local   all   postgres                  peer
local   all   all                       scram-sha-256
host    all   all   127.0.0.1/32        scram-sha-256
host    all   all   $DB_ALLOW   scram-sha-256
EOF
  chown "$PG_OS_USER:" "$PGDATA_DIR/pgsteer.conf" "$PGDATA_DIR/pg_hba.conf"
}

# Start PostgreSQL unless it already runs; pg_ctl -w waits until it accepts connections.
db_start() {
  local pidfile=$PGDATA_DIR/postmaster.pid pid
  [ -s "$PGDATA_DIR/PG_VERSION" ] || die "no cluster in $PGDATA_DIR (run: db.sh init)"
  pid=$(pidfile_pid "$pidfile")
  if [ -n "$pid" ] && proc_matches "$pid" "$PGDATA_DIR"; then
    log "postgres already running (pid $pid)"
    return 0
  fi
  # A crashed postmaster leaves its lock files; PostgreSQL refuses to start while their PID answers
  # kill -0, which a not yet reaped zombie does.
  rm -f "$pidfile" "$SOCK_DIR/.s.PGSQL.$DB_PORT.lock"
  (cd / && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$DB_DIR/postgres.log" -w -t 30 -s start) \
    || die "postgres did not start, see $DB_DIR/postgres.log: $(tail -n 3 "$DB_DIR/postgres.log" 2>/dev/null | tr '\n' ' ')"
  log "postgres listening on $DB_ADDR:$DB_PORT (pid $(pidfile_pid "$pidfile"))"
}

# Create the app role and database, then load them with pgbench -i as the app user (once).
db_app() {
  local exists
  exists=$(db_psql_super -d postgres -Atc "select 1 from pg_database where datname = '$APP_DB'")
  if [ "$exists" = 1 ]; then
    log "database $APP_DB exists"
    return 0
  fi
  db_psql_super -d postgres -v user="$APP_USER" -v db="$APP_DB" -v pw="$APP_PASSWORD" <<'EOF'
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"user";
EOF
  db_secret_function
  log "pgbench -i -s $PGBENCH_SCALE $APP_DB"
  (cd / && PGPASSWORD=$APP_PASSWORD "$PG_BIN/pgbench" -i -q -s "$PGBENCH_SCALE" \
    -h "$DB_ADDR" -p "$DB_PORT" -U "$APP_USER" "$APP_DB" >"$DB_DIR/pgbench-init.log" 2>&1) \
    || die "pgbench -i failed, see $DB_DIR/pgbench-init.log"
}

# Create the example app's users table, owned by the app user, with APP_USERS rows of made-up names
# and emails (deterministic: row N is the same on every machine). Rows already there are kept.
db_users() {
  [[ $APP_USERS =~ ^[0-9]+$ ]] || die "APP_USERS must be a number (got '$APP_USERS')"
  db_psql_super -d "$APP_DB" -v user="$APP_USER" -v n="$APP_USERS" <<'EOF'
SET ROLE :"user";
CREATE TABLE IF NOT EXISTS users (
  id         integer PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO users (id, name, email, created_at)
SELECT g,
       f.first || ' ' || l.last,
       lower(f.first || '.' || l.last) || g || '@example.com',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 hours'
  FROM generate_series(1, :n) AS g,
       LATERAL (SELECT (ARRAY['Ada','Alan','Barbara','Dennis','Edsger','Frances','Grace','Ken','Leslie',
                              'Linus','Margaret','Niklaus','Radia','Robin','Shafi','Tony','Vint','Whitfield',
                              'Yukihiro','Zhou'])[1 + g % 20] AS first) AS f,
       LATERAL (SELECT (ARRAY['Lovelace','Turing','Liskov','Ritchie','Dijkstra','Allen','Hopper','Thompson',
                              'Lamport','Torvalds','Hamilton','Wirth','Perlman','Milner','Goldwasser'])[1 + (g / 20) % 15] AS last) AS l
ON CONFLICT (id) DO NOTHING;
EOF
  log "users table in $APP_DB: $(db_psql_super -d "$APP_DB" -Atc 'select count(*) from users') rows"
}

# Let the app user read its own SCRAM secret from pg_authid over the network, so a PgBouncer on
# another host can build its userlist for SCRAM pass-through (it needs the server's exact secret).
db_secret_function() {
  db_psql_super -d "$APP_DB" -v user="$APP_USER" <<'EOF'
CREATE SCHEMA IF NOT EXISTS pgsteer AUTHORIZATION postgres;
CREATE OR REPLACE FUNCTION pgsteer.own_scram_secret() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
  AS $$ SELECT rolpassword FROM pg_authid WHERE rolname = session_user $$;
REVOKE ALL ON FUNCTION pgsteer.own_scram_secret() FROM PUBLIC;
GRANT USAGE ON SCHEMA pgsteer TO :"user";
GRANT EXECUTE ON FUNCTION pgsteer.own_scram_secret() TO :"user";
EOF
}

# Print the app user's SCRAM secret as stored by PostgreSQL.
db_secret() {
  local secret
  secret=$(db_psql_super -d postgres -Atc "select rolpassword from pg_authid where rolname = '$APP_USER'")
  [[ $secret == SCRAM-SHA-256\$* ]] || die "no SCRAM secret stored for role $APP_USER"
  printf '%s\n' "$secret"
}

main() {
  local cmd
  [ $# -gt 0 ] || set -- all
  db_check_env
  for cmd in "$@"; do
    case $cmd in
      init) ran db_init ;;
      start) ran db_start ;;
      app) ran db_app ;;
      users) ran db_users ;;
      secret) db_secret ;;
      all) ran db_init; ran db_start; ran db_app; ran db_users ;;
      -h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown subcommand '$cmd' (init|start|app|users|secret|all)" ;;
    esac
  done
}

main "$@"
