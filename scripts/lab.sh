#!/usr/bin/env bash
# pgsteer's namespace lab: build it, drive it, tear it down (the one entry point).
#
# usage: scripts/lab.sh COMMAND [ARGS]
#   up                        build the whole lab (env: ATTACH=xdp|tc, VRRP=1|0, PREEMPT=0|1, LB_EXTRA, VRRP_EXTRA, LAB_NO_LB=1)
#   down                      stop what up started (by PID), delete the lab's namespaces, remove pin roots
#   status                    what runs where, with PIDs, links and the VIP holder
#   exec NODE CMD...          run CMD in NODE (client app lb1 lb2 pgb db; sw = the switch), network namespace
#                             only, with $BUILD on PATH, PGPASSWORD, and on lb1/lb2 PGSTEER_SOCKET/PGSTEER_CONF
#   kill SERVICE [SIGNAL]     signal a service and wait until it is gone (default TERM; postgres: INT,
#                             its fast shutdown); SERVICE: postgres pgb1 pgb2 pgb3 lb1 lb2 sink haproxy api web;
#                             HUP, STOP, CONT, USR1/2 are only sent (reload, freeze, thaw), not waited on
#   start SERVICE             start a service again (keeps lb1/lb2's existing config and pinned state)
#   link NODE down|up         cut or restore a node's link (switch port and the node's eth0)
#   alerts                    print the JSON bodies the sink received, one a line
#   sink respond CODE [COUNT] [RETRY_AFTER]
#                             answer the next COUNT POSTs (default: all) with CODE (+ Retry-After), then 200
#   sink reset                forget the recorded alerts and requests (keeps the response mode)
#   haproxy start|stop        HAProxy 2.6 in lb2 on 10.100.1.11:5432, stats on :8405/stats
#   app start|stop|status|build
#                             the example app (examples/app) in node app: npm ci + build once (cached
#                             under $BUILD/app), then its API on 10.100.1.3:3000 and web page on :3001
# env: LAB_NS=pgs (namespace prefix)  LAB_DIR=/tmp/pgsteer-lab  BUILD=<repo>/build  ATTACH=xdp  VRRP=1  PREEMPT=0 (nopreempt)  LB_EXTRA  VRRP_EXTRA  LB_GLOBAL_EXTRA
#      LB_ARGS (extra pgsteerd flags)  LAB_NO_LB=1 (no pgsteerd)  LAB_KEEP=1 (keep a failed up for debugging)
#      PGBENCH_SCALE=10  DB_FSYNC=off  LAB_IPV6=0  LAB_PGB_MAX_CLIENT=500  LAB_PGB_NOFILE=4096 (per PgBouncer; the
#      caller's hard file limit must allow it)  LAB_HAPROXY_MAXCONN=4000
set -euo pipefail
# The lab owns its environment: none of the caller's libpq variables (PGUSER, PGPORT, PGDATA...) nor
# its locale reaches the lab's PostgreSQL, PgBouncer, psql or pgbench.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' | grep -vE '^(PGSTEER_|PGBENCH_SCALE$)')
export LC_ALL=C
LAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/lab" && pwd)
# shellcheck source=lab/common.sh
. "$LAB_LIB/common.sh"
# shellcheck source=lab/net.sh
. "$LAB_LIB/net.sh"
# shellcheck source=lab/services.sh
. "$LAB_LIB/services.sh"
# shellcheck source=lab/haproxy.sh
. "$LAB_LIB/haproxy.sh"
# shellcheck source=lab/app.sh
. "$LAB_LIB/app.sh"

# Every provisioning step the lab runs is listed here (scripts/provision/common.sh ran); the Vagrant
# lab's test compares it with what its containers ran.
export PROVISION_TRACE=${PROVISION_TRACE:-$LAB_DIR/provision.trace}

# Print the usage block at the top of this file.
usage() { sed -n '4,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# Fail if any part of a lab is still there (namespaces or running services).
up_preflight() {
  local s pid leftovers
  need_cmds ip nsenter ethtool ss setsid runuser pgrep timeout make pgbouncer
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 not found in $PG_BIN (run: scripts/deps.sh)"
  leftovers=$(net_list_ns | xargs)
  [ -z "$leftovers" ] || die "a lab is already up (namespaces: $leftovers); run scripts/lab.sh down first"
  for s in "${LAB_SERVICES[@]}"; do
    if pid=$(svc_pid "$s"); then die "$s from an earlier lab still runs (pid $pid); run scripts/lab.sh down first"; fi
  done
  case ${ATTACH:-xdp} in xdp|tc) ;; *) die "ATTACH must be xdp or tc (got '$ATTACH')" ;; esac
  [ "${LAB_NO_LB:-0}" = 1 ] || lb_check_built
}

# Give the lab a clean state directory (only its own subdirectories are removed) and stale pins.
up_fresh_state() {
  local d node
  mkdir -p "$LAB_DIR"
  chmod 755 "$LAB_DIR"
  for d in db pgb sink lb1 lb2 haproxy app; do rm -rf "${LAB_DIR:?}/$d"; done
  rm -f "$PROVISION_TRACE"
  mkdir -p "$LAB_DIR/db" "$LAB_DIR/pgb" "$LAB_DIR/sink" "$LAB_DIR/lb1" "$LAB_DIR/lb2"
  chown "$PG_OS_USER:" "$LAB_DIR/db" "$LAB_DIR/pgb"
  for node in lb1 lb2; do rm -rf "$(lab_pin_root "$node")"; done
}

# The steps of up; any failure exits (the caller tears down).
up_steps() {
  local node
  up_fresh_state
  net_up
  db_run all
  pgb_run all
  sink_run start
  for node in lb1 lb2; do lb_write_files "$node"; done
  if [ "${LAB_NO_LB:-0}" = 1 ]; then
    log "LAB_NO_LB=1: pgsteerd not started (configs written to $LAB_DIR/lb1, $LAB_DIR/lb2)"
  else
    lb_start lb1
    [ "${VRRP:-1}" = 1 ] && lb_wait_master lb1
    lb_start lb2
  fi
}

# `up`: build the whole lab; on failure tear it down again unless LAB_KEEP=1.
cmd_up() {
  local t0 rc
  t0=$(now_ms)
  need_root up
  up_preflight
  # A subshell outside any condition, so that set -e stays in force inside it.
  set +e
  (set -e; up_steps)
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    if [ "${LAB_KEEP:-0}" = 1 ]; then
      die "up failed; the half-built lab is kept (LAB_KEEP=1): scripts/lab.sh down removes it"
    fi
    warn "up failed; tearing the half-built lab down (LAB_KEEP=1 keeps it); logs stay in $LAB_DIR"
    cmd_down >&2 || true
    exit 1
  fi
  log "lab up in $(elapsed_since "$t0") s (LAB_DIR=$LAB_DIR, attach ${ATTACH:-xdp}, VRRP=${VRRP:-1})"
}

# `down`: stop every service the lab started, delete the namespaces, remove the pin roots.
cmd_down() {
  local s failed=0 lb_left=0 node
  need_root down
  for s in "${LAB_STOP_ORDER[@]}"; do
    if ! svc_stop_hard "$s"; then
      failed=1
      [[ $s == lb? ]] && lb_left=1
    fi
  done
  net_down
  for node in lb1 lb2; do
    [ -e "$(lab_pin_root "$node")" ] || continue
    if [ $lb_left = 0 ] && ! svc_pid "$node" >/dev/null; then
      rm -rf "$(lab_pin_root "$node")"
    else
      warn "pgsteerd on $node still runs: $(lab_pin_root "$node") kept"
    fi
  done
  [ $failed = 0 ] || die "down incomplete: some services could not be stopped"
  log "lab down"
}

# `status`: nodes, links, the VIP holder, then each service with its PID.
cmd_status() {
  local node s pid state where vip
  printf 'LAB_DIR=%s  BUILD=%s\n' "$LAB_DIR" "$BUILD"
  printf '%-8s %-11s %-13s %-7s %s\n' NODE NAMESPACE ADDRESS LINK ""
  for node in "${LAB_NODES[@]}"; do
    vip=""
    net_has_vip "$node" && vip="holds VIP $LAB_VIP"
    printf '%-8s %-11s %-13s %-7s %s\n' "$node" "$(ns_name "$node")" "${LAB_ADDR[$node]}" \
      "$(net_link_state "$node")" "$vip"
  done
  printf '\n%-9s %-7s %-8s %-6s %s\n' SERVICE NODE PID STATE WHERE
  for s in "${LAB_SERVICES[@]}"; do
    if pid=$(svc_pid "$s"); then state=up; else pid=-; state=down; fi
    where=$(svc_where "$s")
    printf '%-9s %-7s %-8s %-6s %s\n' "$s" "$(svc_node "$s")" "$pid" "$state" "$where"
  done
}

# `exec NODE CMD...`: replace this script by CMD inside NODE, with the node's environment.
cmd_exec() {
  local node=${1:-} envs=()
  [ $# -ge 2 ] || die "usage: lab.sh exec NODE CMD..."
  node_check "$node" sw
  shift
  ns_exists "$node" || die "namespace $(ns_name "$node") does not exist (is the lab up? scripts/lab.sh up)"
  mapfile -t envs < <(node_env "$node")
  exec nsenter --net="$(ns_file "$node")" -- env "${envs[@]}" "$@"
}

# `alerts`: print the recorded webhook bodies.
cmd_alerts() {
  local f=$LAB_DIR/sink/alerts.jsonl
  [ -e "$f" ] || return 0
  cat "$f"
}

# `sink respond CODE [COUNT] [RETRY_AFTER]` / `sink reset`.
cmd_sink() {
  local dir=$LAB_DIR/sink code count retry
  [ -d "$dir" ] || die "no sink state in $dir (is the lab up?)"
  case ${1:-} in
    respond)
      code=${2:-}
      count=${3:-}
      retry=${4:-}
      [[ $code =~ ^[1-5][0-9][0-9]$ ]] || die "usage: lab.sh sink respond CODE [COUNT] [RETRY_AFTER] (CODE: an HTTP status)"
      [ -z "$count" ] || [ "$count" = all ] || [[ $count =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive number or 'all'"
      [ -z "$retry" ] || [[ $retry =~ ^[0-9]+$ ]] || die "RETRY_AFTER must be a number of seconds"
      [ "$count" != all ] || count=""
      printf '{"code": %s, "count": %s, "retry_after": %s}\n' "$code" "${count:-null}" "${retry:-null}" \
        >"$dir/respond.json.tmp"
      mv "$dir/respond.json.tmp" "$dir/respond.json"
      log "sink: next ${count:-all} POSTs answered $code${retry:+ (Retry-After: $retry)}"
      ;;
    reset)
      : >"$dir/alerts.jsonl"
      : >"$dir/requests.log"
      log "sink: recorded alerts cleared"
      ;;
    *) die "usage: lab.sh sink respond CODE [COUNT] [RETRY_AFTER] | sink reset" ;;
  esac
}

# `haproxy start|stop`.
cmd_haproxy() {
  need_root haproxy
  case ${1:-} in
    start) haproxy_start ;;
    stop) haproxy_stop ;;
    *) die "usage: lab.sh haproxy start|stop" ;;
  esac
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    exec) need_root exec; cmd_exec "$@" ;;
    kill) need_root kill; [ $# -ge 1 ] || die "usage: lab.sh kill SERVICE [SIGNAL]"; svc_kill "$@" ;;
    start) need_root start; [ $# -eq 1 ] || die "usage: lab.sh start SERVICE"; svc_start "$1" ;;
    link) need_root link; [ $# -eq 2 ] || die "usage: lab.sh link NODE down|up"; net_link "$1" "$2" ;;
    alerts) cmd_alerts ;;
    sink) cmd_sink "$@" ;;
    haproxy) cmd_haproxy "$@" ;;
    app) cmd_app "$@" ;;
    ""|-h|--help|help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
