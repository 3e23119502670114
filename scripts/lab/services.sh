# The lab's services: where each runs, its pid file, how to start it, and how to stop it safely. Sourced.
# shellcheck shell=bash disable=SC2034

LAB_SERVICES=(postgres pgb1 pgb2 pgb3 sink lb1 lb2 haproxy api web)
# Stop order for down: the example app first, then the load balancers, the database last.
LAB_STOP_ORDER=(web api lb1 lb2 haproxy sink pgb1 pgb2 pgb3 postgres)

# Fail unless SVC is a lab service.
svc_check() {
  local s
  for s in "${LAB_SERVICES[@]}"; do [ "$s" = "$1" ] && return 0; done
  die "unknown service '$1' (one of: ${LAB_SERVICES[*]})"
}

# Print the node SVC runs in.
svc_node() {
  case $1 in
    postgres) echo db ;;
    pgb*) echo pgb ;;
    sink) echo client ;;
    lb1|lb2) echo "$1" ;;
    haproxy) echo lb2 ;;
    api|web) echo app ;;
  esac
}

# Print SVC's pid file.
svc_pidfile() {
  case $1 in
    postgres) echo "$LAB_DIR/db/data/postmaster.pid" ;;
    pgb*) echo "$LAB_DIR/pgb/$1/pgbouncer.pid" ;;
    sink) echo "$LAB_DIR/sink/sink.pid" ;;
    lb1|lb2) echo "$LAB_DIR/$1/pgsteerd.pid" ;;
    haproxy) echo "$LAB_DIR/haproxy/haproxy.pid" ;;
    api|web) echo "$LAB_DIR/app/$1.pid" ;;
  esac
}

# Print a string SVC's command line must contain (a path unique to this lab).
svc_match() {
  case $1 in
    postgres) echo "$LAB_DIR/db/data" ;;
    pgb*) echo "$LAB_DIR/pgb/$1/pgbouncer.ini" ;;
    sink) echo "--dir $LAB_DIR/sink" ;;
    lb1|lb2) echo "$LAB_DIR/$1/pgsteerd.conf" ;;
    haproxy) echo "$LAB_DIR/haproxy/haproxy.cfg" ;;
    api) echo "api/dist/server.js --app-dir=$LAB_DIR/app" ;;
    web) echo "web/server.js --app-dir=$LAB_DIR/app" ;;
  esac
}

# Print what SVC listens on, for status.
svc_where() {
  case $1 in
    postgres) echo "${LAB_ADDR[db]}:5432" ;;
    pgb*) local i; for i in $LAB_PGB_INSTANCES; do [ "${i%%:*}" != "$1" ] || echo "${LAB_ADDR[pgb]}:${i#*:}"; done ;;
    sink) echo "${LAB_ADDR[client]}:$LAB_SINK_PORT" ;;
    lb1|lb2) echo "pgsteerd, stats :$LAB_STATS_PORT" ;;
    haproxy) echo "${LAB_ADDR[lb2]}:$LAB_HAPROXY_PORT, stats :$LAB_HAPROXY_STATS_PORT" ;;
    api) echo "${LAB_ADDR[app]}:$APP_API_PORT (Hono)" ;;
    web) echo "${LAB_ADDR[app]}:$APP_WEB_PORT (Next.js)" ;;
  esac
}

# Print SVC's PID if it runs: the pid file names a live process with the right command line in the
# right namespace (PIDs are shared by all namespaces, and PID 1 reaps late).
svc_pid() {
  local svc=$1 pid
  pid=$(pidfile_pid "$(svc_pidfile "$svc")")
  [ -n "$pid" ] || return 1
  proc_matches "$pid" "$(svc_match "$svc")" || return 1
  proc_in_node "$pid" "$(svc_node "$svc")" || return 1
  printf '%s\n' "$pid"
}

# Print the signal name for a user-given signal (KILL, SIGKILL, -9, 9 ...), or fail.
svc_signal_name() {
  local s=${1#-} name
  s=${s#SIG}
  s=${s#sig}
  if [[ $s =~ ^[0-9]+$ ]]; then
    name=$(kill -l "$s" 2>/dev/null) || die "unknown signal '$1'"
  else
    name=${s^^}
    kill -l "$name" >/dev/null 2>&1 || die "unknown signal '$1'"
  fi
  printf '%s\n' "${name#SIG}"
}

# Default stop signal: TERM, except PostgreSQL, where TERM is a "smart" shutdown that waits for
# PgBouncer's pooled server connections to go away; INT is its fast shutdown.
svc_default_signal() { [ "$1" = postgres ] && echo INT || echo TERM; }

# Send SIG to SVC (children first for pgsteerd and for SIGKILL, as a crash would), wait until gone.
# Returns 1 if still running after SECS seconds.
svc_signal_wait() {
  local svc=$1 sig=$2 secs=$3 pid kids=() k
  pid=$(svc_pid "$svc") || return 0
  mapfile -t kids < <(proc_descendants "$pid")
  if [ "$sig" = KILL ] || [[ $svc == lb? ]]; then
    for ((k = ${#kids[@]} - 1; k >= 0; k--)); do
      if proc_same_alive "${kids[k]}"; then kill -s "$sig" "${kids[k]%%:*}" 2>/dev/null || true; fi
    done
  fi
  kill -s "$sig" "$pid" 2>/dev/null || true
  # A service frozen with SIGSTOP acts on the signal only once continued.
  [ "$sig" = KILL ] || kill -s CONT "$pid" 2>/dev/null || true
  wait_gone "$pid" "$secs" || return 1
  # Whatever it left behind (children outliving a SIGKILLed parent) goes too.
  for k in "${kids[@]}"; do
    if proc_same_alive "$k"; then
      kill -s KILL "${k%%:*}" 2>/dev/null || true
      wait_gone "${k%%:*}" 2 || warn "$svc: child ${k%%:*} survives"
    fi
  done
  return 0
}

# `kill SERVICE [SIGNAL]`: signal one service and wait (bounded) until it is really gone.
svc_kill() {
  local svc=$1 sig pid
  svc_check "$svc"
  sig=$(svc_signal_name "${2:-$(svc_default_signal "$svc")}")
  if ! pid=$(svc_pid "$svc"); then
    log "$svc: not running"
    return 0
  fi
  # Signals that do not end a daemon (reload, pause, resume) are sent to it alone, without waiting.
  case $sig in
    HUP|USR1|USR2|WINCH|CONT|STOP|TSTP|TTIN|TTOU|URG)
      kill -s "$sig" "$pid" || die "cannot send SIG$sig to $svc (pid $pid)"
      log "$svc: sent SIG$sig (pid $pid)"
      return 0 ;;
  esac
  svc_signal_wait "$svc" "$sig" 30 || die "$svc (pid $pid) still running 30 s after SIG$sig"
  log "$svc stopped (pid $pid, SIG$sig)"
}

# Stop a service for down: polite signal, then SIGKILL. Returns 1 if it could not be stopped.
svc_stop_hard() {
  local svc=$1 pid
  pid=$(svc_pid "$svc") || return 0
  if ! svc_signal_wait "$svc" "$(svc_default_signal "$svc")" 5; then
    warn "$svc (pid $pid) ignored SIG$(svc_default_signal "$svc"), sending SIGKILL"
    svc_signal_wait "$svc" KILL 5 || { warn "$svc (pid $pid) survives SIGKILL"; return 1; }
  fi
  log "$svc stopped (pid $pid)"
}

# `start SERVICE`: start one service in its node (no-op if it runs).
svc_start() {
  local svc=$1 node pid
  svc_check "$svc"
  node=$(svc_node "$svc")
  ns_exists "$node" || die "node $node is not up (run: scripts/lab.sh up)"
  if pid=$(svc_pid "$svc"); then
    log "$svc already running (pid $pid)"
    return 0
  fi
  case $svc in
    postgres) db_run start ;;
    pgb*) pgb_run start "$svc" ;;
    sink) sink_run start ;;
    lb1|lb2) lb_start "$svc" ;;
    haproxy) haproxy_start ;;
    api|web) app_start_one "$svc" "$(app_build)" ;;
  esac
}

# Run scripts/provision/db.sh in the lab's db with the lab's settings.
db_run() {
  mkdir -p "$LAB_DIR/db"
  in_ns db env LOG_TAG=db PG_BIN="$PG_BIN" DB_ADDR="${LAB_ADDR[db]}" DB_PORT=5432 DB_DIR="$LAB_DIR/db" \
    DB_ALLOW="$LAB_NET" DB_FSYNC="${DB_FSYNC:-off}" DB_MAX_CONN=200 PGBENCH_SCALE="${PGBENCH_SCALE:-10}" \
    APP_DB="$APP_DB" APP_USER="$APP_USER" APP_PASSWORD="$APP_PASSWORD" "$PROVISION/db.sh" "$@"
}

# Run scripts/provision/pgbouncer.sh in the lab's pgb with the lab's settings.
pgb_run() {
  in_ns pgb env LOG_TAG=pgbouncer PGB_ADDR="${LAB_ADDR[pgb]}" PGB_DIR="$LAB_DIR/pgb" \
    PGB_INSTANCES="$LAB_PGB_INSTANCES" PGB_MAX_CLIENT="$LAB_PGB_MAX_CLIENT" PGB_NOFILE="$LAB_PGB_NOFILE" \
    DB_HOST="${LAB_ADDR[db]}" DB_PORT=5432 \
    APP_DB="$APP_DB" APP_USER="$APP_USER" APP_PASSWORD="$APP_PASSWORD" "$PROVISION/pgbouncer.sh" "$@"
}

# Run scripts/provision/client.sh (the webhook sink) in the lab's client with the lab's settings.
sink_run() {
  in_ns client env LOG_TAG=sink SINK_ADDR="${LAB_ADDR[client]}" SINK_PORT="$LAB_SINK_PORT" \
    SINK_DIR="$LAB_DIR/sink" "$PROVISION/client.sh" "$@"
}

# Fail with a clear message unless pgsteerd and pgsteer are built.
lb_check_built() {
  [ -x "$BUILD/pgsteerd" ] && [ -x "$BUILD/pgsteer" ] && return 0
  die "$BUILD/pgsteerd or $BUILD/pgsteer is not built (run: make), or set LAB_NO_LB=1 to run the lab without the load balancers"
}

# Write NODE's pgsteerd config, webhook file and PgBouncer admin login (the app user is PgBouncer's
# admin_users) (up does it; start does it only if missing).
lb_write_files() {
  local node=$1 dir=$LAB_DIR/$1
  mkdir -p "$dir/state"
  (umask 077 && printf '%s:%s\n' "$APP_USER" "$APP_PASSWORD" >"$dir/pgb-admin")
  "$LAB_REPO/scripts/lab/lbconf.sh" "$node" >"$dir/pgsteerd.conf.tmp"
  mv "$dir/pgsteerd.conf.tmp" "$dir/pgsteerd.conf"
  LOG_TAG=lab LB_WEBHOOK_FILE="$dir/slack-webhook" LB_WEBHOOK_URL="$LAB_WEBHOOK_URL" \
    "$PROVISION/lb.sh" webhook >/dev/null
}

# Print the environment of NODE's shell: the build on PATH, its socket and config, the app password.
node_env() {
  local node=$1
  printf '%s\n' "PATH=$BUILD:$PATH" "PGPASSWORD=$APP_PASSWORD"
  case $node in
    lb1|lb2) printf '%s\n' "PGSTEER_SOCKET=$LAB_DIR/$node/pgsteerd.sock" "PGSTEER_CONF=$LAB_DIR/$node/pgsteerd.conf" ;;
  esac
}

# Start NODE's pgsteerd in the background (network namespace only: `ip netns exec` remounts /sys,
# so /sys/fs/bpf inside it is not bpffs); wait until its runtime socket answers `pgsteer status`.
lb_start() {
  local node=$1 dir=$LAB_DIR/$1 pid envs=() deadline
  lb_check_built
  [ -s "$dir/pgsteerd.conf" ] || lb_write_files "$node"
  mapfile -t envs < <(node_env "$node")
  # shellcheck disable=SC2086
  setsid nsenter --net="$(ns_file "$node")" env "${envs[@]}" \
    "$BUILD/pgsteerd" -f "$dir/pgsteerd.conf" -d ${LB_ARGS:-} >>"$dir/pgsteerd.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pgsteerd.pid"
  # Only ends a hung start: at load 30 on 2 cores loading the programs alone took 11 s.
  deadline=$(($(now_ms) + 120000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    proc_alive "$pid" || die "pgsteerd on $node exited; $dir/pgsteerd.log ends with:$(lab_tail "$dir/pgsteerd.log")"
    if [ -S "$dir/pgsteerd.sock" ] && lb_answers "$node"; then
      log "$node: pgsteerd running (pid $pid, attach ${ATTACH:-xdp})"
      return 0
    fi
    sleep 0.1
  done
  svc_signal_wait "$node" TERM 3 || svc_signal_wait "$node" KILL 3 || true
  die "pgsteerd on $node not ready after 120 s (stopped it); $dir/pgsteerd.log ends with:$(lab_tail "$dir/pgsteerd.log")"
}

# Succeed if `pgsteer status` answers on NODE's runtime socket.
lb_answers() {
  local node=$1 envs=()
  mapfile -t envs < <(node_env "$node")
  timeout 10 nsenter --net="$(ns_file "$node")" env "${envs[@]}" "$BUILD/pgsteer" status >/dev/null 2>&1
}

# Wait until NODE's pgsteerd is VRRP MASTER (at most 120 s, as for ready: a sanitized daemon and CLI
# on a loaded machine take seconds per status; only a hung node takes that long). With
# nopreempt (the lab's default) the node that is master first stays master: up starts lb2 after this.
lb_wait_master() {
  local node=$1 envs=() deadline out
  mapfile -t envs < <(node_env "$node")
  deadline=$(($(now_ms) + 120000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    # The whole answer first: `status -j | grep -q` under pipefail fails when grep stops reading
    # before pgsteer has written all of it (SIGPIPE), which held a sanitized lab for 120 s.
    out=$(timeout 10 nsenter --net="$(ns_file "$node")" env "${envs[@]}" "$BUILD/pgsteer" status -j 2>/dev/null) || out=""
    [[ $out == *'"state": "MASTER"'* ]] && return 0
    sleep 0.1
  done
  die "pgsteerd on $node did not become VRRP master within 120 s; $LAB_DIR/$node/pgsteerd.log ends with:$(lab_tail "$LAB_DIR/$node/pgsteerd.log")"
}

# Print the last lines of a log file, indented, for error messages.
lab_tail() {
  [ -r "$1" ] || { echo " (no log file)"; return 0; }
  echo
  tail -n "${2:-8}" "$1" | sed 's/^/    /'
}
