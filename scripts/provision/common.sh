# Helpers shared by the provisioning scripts and the namespace lab: messages, process checks, bounded waits.
# shellcheck shell=bash disable=SC2034
# Sourced, never run. Works the same in a lab namespace (via nsenter) and on a Vagrant VM.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGB_BIN=${PGB_BIN:-/usr/sbin/pgbouncer}
PG_OS_USER=${PG_OS_USER:-postgres}

# Print one progress line, prefixed by the calling tool's name.
log() { printf '%s: %s\n' "${LOG_TAG:-provision}" "$*"; }

# Print a warning on stderr.
warn() { printf '%s: warning: %s\n' "${LOG_TAG:-provision}" "$*" >&2; }

# Print an error on stderr and exit 1.
die() { printf '%s: error: %s\n' "${LOG_TAG:-provision}" "$*" >&2; exit 1; }

# Fail unless every named command is available.
need_cmds() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "command '$c' not found (run scripts/deps.sh as root)"
  done
}

# Run a command as the PostgreSQL OS user (PostgreSQL and PgBouncer refuse to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

# Succeed if PID is a live process: it exists and is not a zombie (PID 1 may reap late).
proc_alive() {
  local pid=$1 stat state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  state=${stat##*) }
  state=${state%% *}
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Print PID's command line with NULs turned into spaces.
proc_cmdline() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null; }

# Succeed if PID is alive and its command line contains the fixed string PATTERN.
proc_matches() {
  local pid=$1 pattern=$2
  proc_alive "$pid" || return 1
  [[ "$(proc_cmdline "$pid")" == *"$pattern"* ]]
}

# Print the PID stored on the first line of a pid file (nothing if absent or malformed).
pidfile_pid() {
  local f=$1 pid=""
  if [ -r "$f" ]; then read -r pid <"$f" 2>/dev/null || true; fi
  [[ $pid =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
  return 0
}

# Remove a pid file whose process is gone, so a daemon restarted after a crash does not refuse to start.
pidfile_clear_stale() {
  local f=$1 pattern=$2 pid
  [ -e "$f" ] || return 0
  pid=$(pidfile_pid "$f")
  if [ -n "$pid" ] && proc_matches "$pid" "$pattern"; then
    return 1
  fi
  rm -f "$f"
}

# Wait up to SECS seconds (0.1 s steps) for a command to succeed.
wait_for() {
  local secs=$1 i n
  shift
  n=$((secs * 10))
  for ((i = 0; i < n; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

# Run a provisioning step (a function and its arguments), first recording it as "SCRIPT STEP ARGS" in
# $PROVISION_TRACE when that is set: the namespace lab and the Vagrant lab list what they ran this way.
ran() {
  [ -z "${PROVISION_TRACE:-}" ] || printf '%s %s\n' "$(basename "$0" .sh)" "$*" >>"$PROVISION_TRACE"
  "$@"
}

# Succeed if something listens on TCP ADDR:PORT in the current network namespace.
tcp_listening() {
  local addr=$1 port=$2
  ss -Hltn "src $addr:$port" 2>/dev/null | grep -q .
}
