#!/usr/bin/env bash
# make bench-failover: queries per 100 ms through failures, pgsteer (VRRP + flow sync) against HAProxy +
# keepalived, in one lab (issues 13 and 19). Reports figures; asserts nothing.
#   stacks    pgsteer   pgsteerd on lb1 (priority 101) and lb2 (100), flow sync with a shared key
#             haproxy   HAProxy 2.6 leastconn on lb1 and lb2 (the same health checks), bound to the VIP,
#                       keepalived 2.2 (VRRPv3, the same vrid, priorities and interval) moving the VIP
#   events    pgb_kill  PgBouncer pgb1 killed (SIGKILL) under the load, then started again
#             lb_crash  the master lb1 killed (SIGKILL) with its link cut
#             graceful  the master lb1 stopped (SIGTERM: priority 0 advert, the backup takes over)
#   load      tests/tools/pgs_qload in the client: FAILOVER_WORKERS sessions running SELECT 1 back to
#             back (reconnecting after a failure) and FAILOVER_IDLE idle sessions asked once at the end
# Per run the event comes PRE_S s into the load; the node is restored (lb1 master again) between runs.
# Figures per event: the LB's takeover (the backup's MASTER transition, from its own clock), the
# longest stretch with no query answered after the kill, the active sessions that
# broke and the idle ones that survived. A steady run with pgbench -S beside the load counts VRRP
# transitions nobody caused (false failovers). Every advert interval in FAILOVER_ADVERTS is run.
# Output: $BENCH_DIR/failover.json, failover.md, failover.png (scripts/bench_failover_report.py).
# env: FAILOVER_ADVERTS="100ms 20ms"  FAILOVER_ROUNDS=3  FAILOVER_STACKS="pgsteer haproxy"
#      FAILOVER_EVENTS="pgb_kill lb_crash graceful"  FAILOVER_WORKERS=8  FAILOVER_IDLE=5
#      FAILOVER_RUN_S=7 (per run)  FAILOVER_STEADY_S=10  BENCH_QUICK=1 (100ms only, one round, 5 s runs)
#      BENCH_DIR=build/bench  LAB_NS=pgs
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
LAB=$top/scripts/lab.sh
export BUILD=${BUILD:-$top/build}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  ADVERTS=${FAILOVER_ADVERTS:-100ms} ROUNDS=${FAILOVER_ROUNDS:-1} RUN_S=${FAILOVER_RUN_S:-5} STEADY_S=${FAILOVER_STEADY_S:-4}
else
  ADVERTS=${FAILOVER_ADVERTS:-"100ms 20ms"} ROUNDS=${FAILOVER_ROUNDS:-3} RUN_S=${FAILOVER_RUN_S:-7} STEADY_S=${FAILOVER_STEADY_S:-10}
fi
STACKS=${FAILOVER_STACKS:-"pgsteer haproxy"}
EVENTS=${FAILOVER_EVENTS:-"pgb_kill lb_crash graceful"}
WORKERS=${FAILOVER_WORKERS:-8} IDLE=${FAILOVER_IDLE:-5} PRE_S=2
OUT=${BENCH_DIR:-$BUILD/bench}
# The lab's names and addresses (LAB_NS, LAB_DIR, LAB_VIP...), and its HAProxy and keepalived configs.
# shellcheck source=lab/common.sh
. "$top/scripts/lab/common.sh"
# shellcheck source=lab/haproxy.sh
. "$top/scripts/lab/haproxy.sh"
# shellcheck source=lab/keepalived.sh
. "$top/scripts/lab/keepalived.sh"
export LAB_NS LAB_DIR
FW=$LAB_DIR/bench-failover
[ "$(id -u)" -eq 0 ] || { echo "bench-failover: run as root (network namespaces, BPF)" >&2; exit 1; }
[ -x "$BUILD/tools/pgs_qload" ] || { echo "bench-failover: $BUILD/tools/pgs_qload not built (make all)" >&2; exit 1; }
say() { echo "bench-failover: $*" >&2; }
ns() { printf '%s-%s\n' "$LAB_NS" "$1"; }
in_node() { local n=$1; shift; nsenter --net="/run/netns/$(ns "$n")" -- "$@"; }
lab() { "$LAB" "$@" > /dev/null; }
VIP=$LAB_VIP
declare -A KA_PID=() HA_PID=()

# The PID in pid file $1 if that process runs with $2 in its command line (ours), else fail.
pid_in() {
  local pid
  pid=$(head -1 "$1" 2>/dev/null) && [ -n "$pid" ] && { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$2" &&
    echo "$pid"
}
alive() { local p; for p; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
# Cut NODE's link at once (the switch port and its eth0), as scripts/lab.sh link does.
link_cut() { ip -n "$(ns sw)" link set dev "$1" down; ip -n "$(ns "$1")" link set dev eth0 down; }

# Wait up to $1 s for the shell condition $2.
wait_cond() {
  local end=$((SECONDS + $1))
  until eval "$2"; do
    [ $SECONDS -lt "$end" ] || { say "timed out ($1 s) waiting for: $2"; return 1; }
    sleep 0.1
  done
}

# --- pgsteer ----------------------------------------------------------------------------------------
status_of() { # NODE PYEXPR over the status document d: prints the value, or "none" if pgsteerd is down
  PGSTEER_SOCKET=$LAB_DIR/$1/pgsteerd.sock PGSTEER_CONF=$LAB_DIR/$1/pgsteerd.conf "$BUILD/pgsteer" status -j 2>/dev/null | python3 -c "import json, sys
try: d = json.load(sys.stdin)
except ValueError: print('none'); sys.exit()
print($2)" 2>/dev/null || echo none
}
vrrp_state() { status_of "$1" 'd["vrrp"]["state"]'; }
sync_ready() { status_of "$1" 'str((d.get("sync") or {}).get("ready")).lower()'; }
pgsteer_running() { [ "$(vrrp_state "$1")" != none ]; }

# lb1 master, lb2 backup, both synced, every server UP: the state each run starts from.
pgsteer_restore() {
  lab link lb1 up; lab link lb2 up
  pgsteer_running lb1 || lab start lb1
  pgsteer_running lb2 || lab start lb2
  wait_cond 30 '[ "$(vrrp_state lb1)$(vrrp_state lb2)" = MASTERBACKUP ] || [ "$(vrrp_state lb1)$(vrrp_state lb2)" = BACKUPMASTER ]'
  if [ "$(vrrp_state lb1)" != MASTER ]; then
    lab kill lb2 TERM
    wait_cond 15 '[ "$(vrrp_state lb1)" = MASTER ]'
    lab start lb2
  fi
  wait_cond 30 '[ "$(vrrp_state lb2)" = BACKUP ] && [ "$(sync_ready lb1)$(sync_ready lb2)" = truetrue ]'
  wait_cond 30 '[ "$(status_of lb1 "sum(s[\"status\"] == \"UP\" for s in d[\"services\"][0][\"servers\"])")" = 3 ]'
}

use_pgsteer() { # ADVERT: HAProxy and keepalived gone, both pgsteerd (re)started with advert-interval ADVERT
  local n
  for n in lb1 lb2; do
    ka_stop $n TERM; ha_kill $n
    ip -n "$(ns $n)" addr del "$VIP/24" dev eth0 2>/dev/null || true
    sed -i "s/^    advert-interval .*/    advert-interval $1/" "$LAB_DIR/$n/pgsteerd.conf"
  done
  pgsteer_running lb2 && lab kill lb2 TERM
  if pgsteer_running lb1; then "$LAB" exec lb1 pgsteer restart > /dev/null; else lab start lb1; fi
  wait_cond 15 '[ "$(vrrp_state lb1)" = MASTER ]'
  lab start lb2
  pgsteer_restore
}

# The epoch ms of NODE's last VRRP transition and its count.
pgsteer_last_change() { status_of "$1" 'd["vrrp"]["last_change_ms"]'; }
pgsteer_transitions() { echo $(( $(status_of lb1 'd["vrrp"]["transitions"]') + $(status_of lb2 'd["vrrp"]["transitions"]') )); }

# --- HAProxy + keepalived ---------------------------------------------------------------------------
ha_start() { # NODE
  haproxy_conf "$VIP" > "$FW/haproxy-$1.cfg"
  rm -f "$FW/haproxy-$1.pid"
  in_node "$1" haproxy -D -p "$FW/haproxy-$1.pid" -f "$FW/haproxy-$1.cfg" >> "$FW/haproxy-$1.log" 2>&1 < /dev/null
  HA_PID[$1]=$(cat "$FW/haproxy-$1.pid")
}
ha_kill() { [ -z "${HA_PID[$1]:-}" ] || { kill -KILL "${HA_PID[$1]}" 2>/dev/null || true; HA_PID[$1]=""; }; }
# keepalived's PIDs on NODE: its VRRP child (renamed, so known by its parent), then the parent.
ka_pids() {
  local main child
  main=$(pid_in "$FW/ka-$1.pid" "$FW/ka-$1.conf") || return 0
  child=$(head -1 "$FW/ka-$1-vrrp.pid" 2>/dev/null) &&
    [ "$(awk '/^PPid:/ { print $2 }' "/proc/$child/status" 2>/dev/null)" = "$main" ] && echo "$child"
  echo "$main"
}
ka_start() { # NODE ADVERT
  keepalived_conf "$VIP/$LAB_PREFIX" "$([ "$1" = lb1 ] && echo 101 || echo 100)" "$2" "$FW/ka-notify-$1.sh" > "$FW/ka-$1.conf"
  printf '#!/bin/sh\n# keepalived notify: $1 INSTANCE|GROUP, $2 name, $3 state\necho "$(date +%%s%%3N) %s $3" >> %s\n' \
    "$1" "$FW/ka-states" > "$FW/ka-notify-$1.sh"
  chmod 755 "$FW/ka-notify-$1.sh"
  rm -f "$FW/ka-$1.pid" "$FW/ka-$1-vrrp.pid"
  in_node "$1" keepalived -n -l -D --vrrp -f "$FW/ka-$1.conf" -p "$FW/ka-$1.pid" -r "$FW/ka-$1-vrrp.pid" \
    >> "$FW/ka-$1.log" 2>&1 < /dev/null &
  KA_PID[$1]=$!
  wait_cond 10 "[ \"\$(ka_pids $1 | wc -l)\" = 2 ]"
}
ka_signal() { # NODE TERM|KILL, not waiting: on KILL the VRRP child first (it would outlive its parent)
  local pids
  pids=$(ka_pids "$1" | xargs)
  [ -z "$pids" ] || kill -s "$2" $pids 2>/dev/null || true
}
ka_stop() { # NODE TERM|KILL, and wait until keepalived is gone
  local pids=${KA_PID[$1]:-}
  [ -n "$pids" ] || return 0
  pids+=" $(ka_pids "$1" | xargs)"
  ka_signal "$1" "$2"
  wait_cond 15 "! alive $pids" || true
  wait "${KA_PID[$1]}" 2>/dev/null || true
  KA_PID[$1]=""
}
# keepalived's notify scripts append "EPOCH_MS NODE STATE".
ka_state() { awk -v n="$1" '$2 == n { s = $3 } END { print (s == "" ? "none" : s) }' "$FW/ka-states" 2>/dev/null || echo none; }
ka_last_change() { awk -v n="$1" -v s="$2" '$2 == n && $3 == s { t = $1 } END { print t }' "$FW/ka-states"; }
ka_transitions() { wc -l < "$FW/ka-states"; }
holds_vip() { ip -n "$(ns "$1")" -4 addr show dev eth0 | grep -q "inet $VIP/"; }

haproxy_restore() { # ADVERT
  local n
  lab link lb1 up; lab link lb2 up
  for n in lb1 lb2; do
    [ -n "${HA_PID[$n]:-}" ] && kill -0 "${HA_PID[$n]}" 2>/dev/null || ha_start $n
    if [ -z "${KA_PID[$n]:-}" ]; then
      # A keepalived killed with SIGKILL leaves its VIP behind: the node comes back as after a reboot.
      ip -n "$(ns $n)" addr del "$VIP/24" dev eth0 2>/dev/null || true
      ka_start $n "$1"
    fi
  done
  wait_cond 30 '[ "$(ka_state lb1)$(ka_state lb2)" = MASTERBACKUP ] && holds_vip lb1 && ! holds_vip lb2'
  # HAProxy's checks: rise 2 at 1 s, after a PgBouncer restart.
  sleep 2.5
}

use_haproxy() { # ADVERT: pgsteerd stopped and its datapath detached on both nodes, HAProxy and keepalived started
  local n
  for n in lb1 lb2; do
    pgsteer_running $n && lab kill $n TERM
    "$LAB" exec $n pgsteer detach > /dev/null 2>&1 || true
    in_node $n sysctl -qw net.ipv4.ip_nonlocal_bind=1
    ka_stop $n TERM
  done
  haproxy_restore "$1"
}

cleanup() {
  local n
  for n in lb1 lb2; do ka_stop $n KILL; ha_kill $n; done
  [ "${BENCH_KEEP_LAB:-0}" = 1 ] || "$LAB" down > /dev/null 2>&1 || true
}
trap cleanup EXIT

# --- the runs ---------------------------------------------------------------------------------------
# takeover_ms: the backup's MASTER transition after T0 (its own clock), or empty.
takeover_ms() { # STACK T0
  local t
  if [ "$1" = pgsteer ]; then t=$(pgsteer_last_change lb2); else t=$(ka_last_change lb2 MASTER); fi
  [ -n "$t" ] && [ "$t" != none ] && [ "$t" -ge "$2" ] && echo $((t - $2)) || echo ""
}

event() { # STACK EVENT: prints T0, the epoch ms of the failure; signals at once, waits for nothing
  local t0 pid
  case $2 in
    pgb_kill) pid=$(pid_in "$LAB_DIR/pgb/pgb1/pgbouncer.pid" "$LAB_DIR/pgb/pgb1/") ;;
    *) [ "$1" = haproxy ] || pid=$(pid_in "$LAB_DIR/lb1/pgsteerd.pid" "$LAB_DIR/lb1/") ;;
  esac
  t0=$(now_ms)
  case $1/$2 in
    */pgb_kill) kill -KILL "$pid" ;;
    pgsteer/lb_crash) kill -KILL "$pid"; link_cut lb1 ;;
    pgsteer/graceful) kill -TERM "$pid" ;;
    haproxy/lb_crash) ka_signal lb1 KILL; ha_kill lb1; link_cut lb1 ;;
    haproxy/graceful) ka_signal lb1 TERM ;;
  esac
  echo "$t0"
}

one_run() { # STACK ADVERT EVENT ROUND
  local stack=$1 adv=$2 ev=$3 rnd=$4 f pid t0 tk
  f=$FW/runs/$stack-$adv-$ev-$rnd.qload
  in_node client env PGPASSWORD=app-secret "$BUILD/tools/pgs_qload" $VIP 5432 "$WORKERS" "$RUN_S" "$IDLE" > "$f" 2> "$f.err" &
  pid=$!
  sleep $((PRE_S + 1)) # the idle sessions connect first (about 1 s on a loaded machine)
  t0=$(event "$stack" "$ev")
  wait "$pid" || say "pgs_qload failed ($stack $adv $ev): $(tail -3 "$f.err")"
  tk=$(takeover_ms "$stack" "$t0")
  case $stack/$ev in
    */pgb_kill) tk=""; lab kill pgb1 KILL; lab start pgb1 ;;
    pgsteer/*) lab kill lb1 KILL ;;
    haproxy/*) ka_stop lb1 KILL ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$stack" "$adv" "$ev" "$rnd" "$t0" "$tk" "$f" >> "$FW/events.tsv"
  say "$(printf 'round %s  %-8s %-6s %-9s takeover %5s ms  %s' "$rnd" "$stack" "$adv" "$ev" "${tk:--}" \
    "$(grep -E '^# (workers|idle)' "$f" | tr '\n' ' ')")"
  if [ "$stack" = pgsteer ]; then pgsteer_restore; else haproxy_restore "$adv"; fi
}

steady_run() { # STACK ADVERT: the load plus pgbench -S, and the VRRP transitions meanwhile
  local stack=$1 adv=$2 f before after pb
  f=$FW/runs/$stack-$adv-steady.qload
  if [ "$stack" = pgsteer ]; then before=$(pgsteer_transitions); else before=$(ka_transitions); fi
  in_node client env PGPASSWORD=app-secret pgbench -n -S -c 16 -j 2 -T "$STEADY_S" -h $VIP -U app app > "$f.pgbench" 2>&1 &
  pb=$!
  in_node client env PGPASSWORD=app-secret "$BUILD/tools/pgs_qload" $VIP 5432 "$WORKERS" "$STEADY_S" 0 > "$f" 2> "$f.err" || true
  wait "$pb" || true
  if [ "$stack" = pgsteer ]; then after=$(pgsteer_transitions); else after=$(ka_transitions); fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$stack" "$adv" "$STEADY_S" $((after - before)) "$(awk '/^tps/ { print $3; exit }' "$f.pgbench")" >> "$FW/steady.tsv"
  say "$(printf 'steady    %-8s %-6s %s s under pgbench -S -c 16: %s VRRP transitions' "$stack" "$adv" "$STEADY_S" $((after - before)))"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$LAB" down > /dev/null 2>&1 || true
rm -rf "$FW"; mkdir -p "$FW/runs" "$OUT"; chmod 755 "$FW"
head -c 32 /dev/urandom | base64 > "$FW/sync.key"; chmod 600 "$FW/sync.key"
: > "$FW/events.tsv"; : > "$FW/steady.tsv"
say "bringing the lab up (LAB_NS=$LAB_NS, XDP, flow sync)"
VRRP_EXTRA="sync key-file $FW/sync.key" ATTACH=xdp "$LAB" up > /dev/null

: > "$FW/ka-states"
# Rounds outermost, the stacks interleaved within each: neither always runs on a warmer machine.
for rnd in $(seq 1 "$ROUNDS"); do
  for adv in $ADVERTS; do
    stacks=$STACKS
    [ $((rnd % 2)) = 0 ] && stacks=$(tr ' ' '\n' <<< "$STACKS" | tac | xargs)
    for stack in $stacks; do
      say "round $rnd: $stack, adverts every $adv"
      "use_$stack" "$adv"
      [ "$rnd" = 1 ] && steady_run "$stack" "$adv"
      for ev in $EVENTS; do one_run "$stack" "$adv" "$ev" "$rnd"; done
    done
  done
done

{
  echo "load: $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1/5/15 min) on $(nproc) CPUs; $(uname -r)"
  echo "cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
} > "$FW/machine.txt"
python3 "$top/scripts/bench_failover_report.py" --work "$FW" --out "$OUT" --workers "$WORKERS" --idle "$IDLE" \
  --run-s "$RUN_S" --rounds "$ROUNDS"
