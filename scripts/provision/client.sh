#!/usr/bin/env bash
# Provision the client role: start the webhook sink that stands in for Slack (scripts/lab/sink.py).
#
# usage: client.sh [start|all]      (default: all = start)
#   start   start the sink in the background unless it runs; wait until it listens
# env: SINK_ADDR (listen address, required) SINK_PORT=8080 SINK_DIR=/var/lib/pgsteer/sink PYTHON=python3
# Layout: $SINK_DIR/{alerts.jsonl,requests.log,sink.log,sink.pid}. psql and pgbench come with scripts/deps.sh.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=${LOG_TAG:-client}

SINK_PORT=${SINK_PORT:-8080}
SINK_DIR=${SINK_DIR:-/var/lib/pgsteer/sink}
SINK_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lab" && pwd)/sink.py
if [ -z "${PYTHON:-}" ]; then
  PYTHON=/usr/bin/python3
  [ -x "$PYTHON" ] || PYTHON=$(command -v python3 || true)
fi

# Start sink.py detached from this shell; its pid goes to $SINK_DIR/sink.pid.
sink_start() {
  local pidfile=$SINK_DIR/sink.pid pid
  [ -n "${SINK_ADDR:-}" ] || die "SINK_ADDR (the address the sink listens on) is not set"
  [ -x "$PYTHON" ] || die "python3 not found (run scripts/deps.sh)"
  mkdir -p "$SINK_DIR"
  if ! pidfile_clear_stale "$pidfile" "--dir $SINK_DIR"; then
    log "sink already running (pid $(pidfile_pid "$pidfile"))"
    return 0
  fi
  setsid "$PYTHON" "$SINK_PY" --listen "$SINK_ADDR" --port "$SINK_PORT" --dir "$SINK_DIR" \
    >>"$SINK_DIR/sink.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_for 10 sink_ready "$pid" \
    || die "sink not listening on $SINK_ADDR:$SINK_PORT after 10 s: $(tail -n 3 "$SINK_DIR/sink.log" | tr '\n' ' ')"
  log "sink listening on $SINK_ADDR:$SINK_PORT (pid $pid)"
}

# Succeed when the sink runs and listens (fail fast if it died).
sink_ready() {
  proc_alive "$1" || die "sink exited: $(tail -n 3 "$SINK_DIR/sink.log" | tr '\n' ' ')"
  tcp_listening "$SINK_ADDR" "$SINK_PORT"
}

main() {
  [ $# -gt 0 ] || set -- all
  case $1 in
    start|all) ran sink_start ;;
    -h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown subcommand '$1' (start|all)" ;;
  esac
}

main "$@"
