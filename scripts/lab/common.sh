# The namespace lab's names, addresses and paths, plus helpers to run things inside a node. Sourced.
# shellcheck shell=bash disable=SC2034
LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../provision/common.sh
. "$LAB_REPO/scripts/provision/common.sh"
LOG_TAG=lab

# LAB_NS prefixes every namespace (and names the pin roots and the default LAB_DIR), so several labs
# can run side by side on one machine: LAB_NS=pgx scripts/lab.sh up.
LAB_NS=${LAB_NS:-pgs}
[[ $LAB_NS =~ ^[a-z][a-z0-9]{0,5}$ ]] || { echo "LAB_NS must be 1-6 lower-case letters or digits (got '$LAB_NS')" >&2; exit 2; }
if [ "$LAB_NS" = pgs ]; then LAB_DIR=${LAB_DIR:-/tmp/pgsteer-lab}; else LAB_DIR=${LAB_DIR:-/tmp/pgsteer-lab-$LAB_NS}; fi
BUILD=${BUILD:-$LAB_REPO/build}
PROVISION=$LAB_REPO/scripts/provision

LAB_NODES=(client app lb1 lb2 pgb db)
declare -A LAB_ADDR=([client]=10.100.1.2 [app]=10.100.1.3 [lb1]=10.100.1.10 [lb2]=10.100.1.11 [pgb]=10.100.1.5 [db]=10.100.1.20)
LAB_PREFIX=24
LAB_NET=10.100.1.0/24
LAB_VIP=10.100.1.100
LAB_PGB_INSTANCES="pgb1:6432 pgb2:6433 pgb3:6434"
# Client sessions per PgBouncer and its file limit; HAProxy's maxconn (the bench's idle run raises them).
LAB_PGB_MAX_CLIENT=${LAB_PGB_MAX_CLIENT:-500}
LAB_PGB_NOFILE=${LAB_PGB_NOFILE:-4096}
LAB_HAPROXY_MAXCONN=${LAB_HAPROXY_MAXCONN:-4000}
LAB_SINK_PORT=8080
LAB_WEBHOOK_URL="http://${LAB_ADDR[client]}:$LAB_SINK_PORT/services/T0LAB/B0LAB/lab-secret-token"
LAB_STATS_PORT=8404
LAB_HAPROXY_PORT=5432
LAB_HAPROXY_STATS_PORT=8405
APP_DB=app
APP_USER=app
APP_PASSWORD=app-secret

# Normalise LAB_DIR and BUILD to absolute paths (they end up in pid checks and configs).
lab_paths_check() {
  [[ $LAB_DIR == /* ]] || LAB_DIR=$(pwd)/$LAB_DIR
  LAB_DIR=$(realpath -m "$LAB_DIR")
  [ "$LAB_DIR" != / ] || die "LAB_DIR must not be /"
  [[ $BUILD == /* ]] || BUILD=$(pwd)/$BUILD
  BUILD=$(realpath -m "$BUILD")
}
lab_paths_check

# Fail unless running as root (namespaces, bpffs and daemons need it).
need_root() { [ "$(id -u)" -eq 0 ] || die "the lab needs root (run: sudo $0 $*)"; }

# Print the namespace name of NODE (client app lb1 lb2 pgb db, or sw for the switch).
ns_name() { printf '%s-%s\n' "$LAB_NS" "$1"; }

# Print the netns file of NODE.
ns_file() { printf '/run/netns/%s-%s\n' "$LAB_NS" "$1"; }

# Print the BPF pin root of load-balancer NODE (lb1, lb2).
lab_pin_root() { if [ "$LAB_NS" = pgs ]; then printf '/sys/fs/bpf/pgsteer-%s\n' "$1"; else printf '/sys/fs/bpf/pgsteer-%s-%s\n' "$LAB_NS" "$1"; fi; }

# Succeed if NODE's namespace exists.
ns_exists() { [ -e "$(ns_file "$1")" ]; }

# Fail unless NODE is a lab node name (sw allowed when $2 is "sw").
node_check() {
  local n
  [ "$1" = sw ] && [ "${2:-}" = sw ] && return 0
  for n in "${LAB_NODES[@]}"; do [ "$n" = "$1" ] && return 0; done
  die "unknown node '$1' (one of: ${LAB_NODES[*]})"
}

# Run a command inside NODE's network namespace only (the host's /sys/fs/bpf stays visible).
in_ns() {
  local node=$1
  shift
  ns_exists "$node" || die "namespace $(ns_name "$node") does not exist (is the lab up? scripts/lab.sh up)"
  nsenter --net="$(ns_file "$node")" -- "$@"
}

# Succeed if PID lives in NODE's network namespace (or that namespace file is already gone).
proc_in_node() {
  local pid=$1 node=$2 want have
  ns_exists "$node" || return 0
  want=$(stat -L -c %i "$(ns_file "$node")" 2>/dev/null) || return 0
  have=$(readlink "/proc/$pid/ns/net" 2>/dev/null) || return 1
  [ "$have" = "net:[$want]" ]
}

# Print the process start time of PID (field 22 of /proc/PID/stat), to tell a reused PID apart.
proc_starttime() {
  local stat rest
  local fields=()
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  # rest starts at field 3 (state); start time is field 22.
  read -r -a fields <<<"$rest"
  printf '%s\n' "${fields[19]}"
}

# Print PID's descendants as "pid:starttime", deepest last.
proc_descendants() {
  local queue=("$1") p c
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for c in $(pgrep -P "$p" 2>/dev/null || true); do
      printf '%s:%s\n' "$c" "$(proc_starttime "$c" || echo 0)"
      queue+=("$c")
    done
  done
}

# Succeed if the process recorded as "pid:starttime" still runs.
proc_same_alive() {
  local pid=${1%%:*} st=${1#*:}
  proc_alive "$pid" && [ "$(proc_starttime "$pid")" = "$st" ]
}

# Wait up to SECS seconds for PID to be gone (no process, or a zombie not yet reaped).
wait_gone() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    proc_alive "$pid" || return 0
    sleep 0.1
  done
  ! proc_alive "$pid"
}

# Print the current time in milliseconds.
now_ms() { local t=${EPOCHREALTIME//[.,]/}; printf '%s\n' "$((t / 1000))"; }

# Print the seconds elapsed since START (a now_ms value), with one decimal.
elapsed_since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%d\n' $((ms / 1000)) $((ms % 1000 / 100))
}
