# Helpers for lab test scripts: the lab's entry point, PASS/FAIL lines, bounded waits, a stopwatch.
# shellcheck shell=bash
# A test owns its environment: none of the caller's libpq variables or locale, no dependence on cwd.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' | grep -vE '^(PGSTEER_|PGBENCH_SCALE$)')
export LC_ALL=C
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$TOP/scripts/lab.sh
ATTACH=${ATTACH:-xdp}
export ATTACH
PFX="lab/$ATTACH"
VIP=10.100.1.100
LAB_NS=${LAB_NS:-pgs}
if [ "$LAB_NS" = pgs ]; then LAB_DIR_TEST=${LAB_DIR:-/tmp/pgsteer-lab}; else LAB_DIR_TEST=${LAB_DIR:-/tmp/pgsteer-lab-$LAB_NS}; fi
# The namespace of lab NODE, and the pin root of load balancer NODE (as scripts/lab/common.sh names them).
nsof() { printf '%s-%s\n' "$LAB_NS" "$1"; }
pinof() { if [ "$LAB_NS" = pgs ]; then printf '/sys/fs/bpf/pgsteer-%s\n' "$1"; else printf '/sys/fs/bpf/pgsteer-%s-%s\n' "$LAB_NS" "$1"; fi; }

lab() { "$LAB" "$@"; }
# The stopwatch: milliseconds on CLOCK_MONOTONIC, the clock every node shares (namespaces share it;
# the wall clock can step, and a clock started by another process later than ours reads short).
# Read once before the event and once after the outcome was seen, the difference is never negative.
mono_ms() { python3 -c 'import time; print(time.monotonic_ns() // 1000000)'; }
# The median of a list of numbers.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Run in a node with the lab's environment.
on() { local node=$1; shift; "$LAB" exec "$node" "$@"; }
# In the background, write: "$LAB" exec NODE CMD... < in > out & BG_PIDS+=($!)
# (not through a function: its redirections would be opened by this shell, and a FIFO blocks it;
# lab.sh execs the command, so $! is the command's own PID).

pass() { echo "PASS $PFX/$1"; }
fail() { echo "FAIL $PFX/$1: ${*:2}"; }
skip() { echo "SKIP $PFX/$1: ${*:2}"; }
# check NAME CMD...: PASS if CMD succeeds. check_eval NAME 'shell condition' for compound ones.
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }
check_eval() { if eval "$2"; then pass "$1"; else fail "$1" "$2"; fi; }

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout. CMD runs anew each
# time: pass a function or a command, never a $(...) that would be expanded once (use wait_eval).
# Every wait is for an outcome that must come: its deadline (at least WAIT_MIN seconds, 30 by
# default) only ends a hung test, on a busy machine it costs nothing. What must hold is asserted
# after the wait; how long it took is printed, never judged.
WAIT_MIN=${WAIT_MIN:-30}
wait_until() {
  local limit=$1 end; shift
  [ "$limit" -ge "$WAIT_MIN" ] || limit=$WAIT_MIN
  end=$((SECONDS + limit))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}
# wait_eval SECONDS 'shell condition': the condition is evaluated anew on each poll.
wait_eval() { local limit=$1; shift; wait_until "$limit" eval "$1"; }

# Connections the PgBouncer host holds from the VIP on a PgBouncer port (counted there, not by pgsteer).
pgb_conns() { on pgb ss -Htn state established "( sport = :$1 )" dst "$VIP" | wc -l; }
# The same for pgb1/pgb2/pgb3 at once, as "n1/n2/n3".
pgb_counts() {
  on pgb ss -Htn state established dst "$VIP" |
    awk '{ split($3, a, ":"); n[a[2]]++ } END { printf "%d/%d/%d\n", n[6432], n[6433], n[6434] }'
}
# What pgsteer status says of pgb1/pgb2/pgb3's active sessions, as "n1/n2/n3" (NODE, default lb1).
status_counts() {
  on "${1:-lb1}" pgsteer status -j | python3 -c '
import json, sys
d = json.load(sys.stdin)
n = {s["name"]: s["scur"] for svc in d["services"] for s in svc["servers"]}
print("%d/%d/%d" % (n["pgb1"], n["pgb2"], n["pgb3"]))'
}
# n1/n2/n3 -> n1+n2+n3
sum3() { local IFS=/; set -- $1; echo $(( $1 + $2 + $3 )); }

# One field of a server in `pgsteer status -j` (lb1 by default): srv_field SERVER FIELD [NODE]
srv_field() {
  on "${3:-lb1}" pgsteer status -j | python3 -c '
import json, sys
d = json.load(sys.stdin)
for svc in d["services"]:
    for s in svc["servers"]:
        if s["name"] == sys.argv[1]:
            v = s
            for k in sys.argv[2].split("."):
                v = v[k]
            print(v)
' "$1" "$2"
}

# Background processes this test started, stopped at exit (by PID).
BG_PIDS=()
bg_cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${SESS_DIR:-/nonexistent}"
}
trap bg_cleanup EXIT

# Receivers must not have dropped any segment for a bad TCP checksum.
csum_errors() { on "$1" nstat -asz TcpInCsumErrors | awk '/TcpInCsumErrors/ { print $2 }'; }

# Idle psql sessions through the VIP, opened one at a time (each counted on the PgBouncer host before
# the next): open_sessions N (open_sessions_at_once N: all started together). Their stdin FIFOs stay open on the fds in FDS; session k's output is in
# $SESS_DIR/out$k; close_sessions ends them all and waits until the PgBouncers hold none.
SESS_DIR=$(mktemp -d)
FDS=()
NFIFO=0
open_sessions() {
  local n=$1 i base=${#FDS[@]} k
  for ((i = 0; i < n; i++)); do
    k=$((base + i))
    open_session "$k"
    wait_eval 5 '[ "$(sum3 "$(pgb_counts)")" -ge '"$((k + 1))"' ]'
  done
}
# The same, all started at once, then counted once (where no test needs them opened in order): a
# psql start through the lab costs seconds on a busy machine, N of them in a row N times that.
open_sessions_at_once() {
  local n=$1 i base=${#FDS[@]}
  for ((i = 0; i < n; i++)); do open_session $((base + i)); done
  wait_eval 30 '[ "$(sum3 "$(pgb_counts)")" -ge '"$((base + n))"' ]'
}
open_session() {
  local f=$((NFIFO++)) fd
  mkfifo "$SESS_DIR/in$f"
  "$LAB" exec client psql -h "$VIP" -U app -d app -X -At < "$SESS_DIR/in$f" > "$SESS_DIR/out$1" 2>&1 &
  BG_PIDS+=($!)
  exec {fd}> "$SESS_DIR/in$f"
  FDS+=($fd)
}
close_sessions() {
  local fd
  for fd in "${FDS[@]}"; do exec {fd}>&-; done
  FDS=()
  wait_eval 10 '[ "$(pgb_counts)" = 0/0/0 ]'
}

# One field of load balancer NODE's VRRP status (state, master, last_change_ms ...): vrrp_of NODE FIELD;
# "none" when its pgsteerd does not answer.
vrrp_of() {
  on "$1" pgsteer status -j 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["vrrp"][sys.argv[1]])' "$2" 2>/dev/null || echo none
}
# Whether NODE's flow sync is ready (resynced): true, false, or none without flow sync.
sync_ready() {
  on "$1" pgsteer status -j 2>/dev/null |
    python3 -c 'import json, sys; print(str((json.load(sys.stdin).get("sync") or {}).get("ready")).lower())' 2>/dev/null || echo none
}
# NODE holds the VIP: the address on a link that is up (a node whose link was cut may keep the
# address, as keepalived does after SIGKILL, but nobody can reach it).
holds_vip() { ip -n "$(nsof "$1")" -4 addr show dev eth0 | grep -q "inet $VIP/" && ip -n "$(nsof "$1")" link show eth0 | grep -q LOWER_UP; }
# Hand the VIP back to lb1, as an operator does under nopreempt (the lab's default), where a node
# that returns stays BACKUP: with lb1 BACKUP (resynced, when flow sync is on) and lb2 MASTER, lb2
# stops gracefully (priority 0: lb1 takes over at once; with flow sync no session breaks) and
# starts again as BACKUP. Nothing to do when lb1 is MASTER already. Succeeds when lb1 is MASTER
# holding the VIP and lb2 BACKUP.
vip_back_to_lb1() {
  wait_eval 30 'case $(vrrp_of lb1 state) in MASTER|BACKUP) true ;; *) false ;; esac'
  if [ "$(vrrp_of lb1 state)" != MASTER ]; then
    wait_eval 30 '[ "$(sync_ready lb1)" != false ]'
    lab kill lb2 TERM > /dev/null
    wait_eval 30 '[ "$(vrrp_of lb1 state)" = MASTER ] && holds_vip lb1'
    lab start lb2 > /dev/null
  fi
  wait_eval 30 '[ "$(vrrp_of lb2 state)" = BACKUP ]'
  [ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)" = MASTER/BACKUP ] && holds_vip lb1 && ! holds_vip lb2
}

# The VIP's holders, sampled in the background (tests/lab/vipholders.py: both nodes queried at nearly
# the same instant, every 20 ms): vip_sampler_start FILE; vip_sampler_stop FILE prints how many times
# lb1 and lb2 both held the VIP across more than one advert interval of lb1's config (a split brain:
# the new master's next advert would have ended an honest overlap), and lists every overlap with
# its length. A preemption overlaps for as long as the old master takes to hear the new one's
# advert (tens of ms for a starved keepalived): listed, not a split brain.
vip_sampler_start() {
  rm -f "$1" "$1.raw" "$1.stop"
  python3 "$TOP/tests/lab/vipholders.py" "$(nsof lb1)" "$(nsof lb2)" "$VIP" "$1.stop" "$1.raw" 20 1800 &
  VIP_SAMPLER=$!
  BG_PIDS+=($VIP_SAMPLER)
}
vip_sampler_stop() {
  local adv
  touch "$1.stop"
  wait_until 60 test -e "$1.raw"   # (called in $(...): no wait for the test shell's child)
  [ -s "$1.raw" ] || { echo "    the VIP sampler wrote nothing" >&2; echo sampler-failed; return; }
  adv=$(awk '$1 == "advert-interval" { v = $2; if (v ~ /ms$/) sub(/ms$/, "", v); else { sub(/s$/, "", v); v *= 1000 } print v }' \
    "$LAB_DIR_TEST/lb1/pgsteerd.conf")
  # Lines: "SAMPLE MONO_MS HH:MM:SS.mmm" per two-holder sample; an overlap is a run of consecutive
  # samples, its length from its first to the first sample after it (about 20 ms later).
  awk -v adv="${adv:-300}" '
    function close_run() {
      if (!n) return
      len = last - first + 20
      split_brain = len > adv
      printf "    two VIP holders from %s for %d ms (%d samples)%s\n", when, len, n, split_brain ? ": split brain" : "" > "/dev/stderr"
      bad += split_brain; n = 0
    }
    NR == 1 || /^#/ { if (/^#/) { sub(/^# /, ""); print "    VIP sampler: " $0 > "/dev/stderr" } next }
    { if (n && $1 == prev + 1) { n++; last = $2 } else { close_run(); n = 1; first = $2; last = $2; when = $3 } prev = $1 }
    END { close_run(); print bad + 0 }' "$1.raw"
  rm -f "$1" "$1.raw" "$1.stop"
}

# A crashed node back as after a reboot: return_lb NODE. Its pgsteerd starts with the link still
# down (FAULT: it removes the VIP the killed process left behind), and only then the link comes up.
# The link up first, or before that clean-up, puts the stale VIP on the wire beside the new master's:
# two holders, which is the test's doing, not the daemon's.
return_lb() {
  local node=$1
  lab start "$node" > /dev/null
  wait_eval 60 '! ip -n "$(nsof "$node")" -4 addr show dev eth0 | grep -q "inet $VIP/"'
  lab link "$node" up > /dev/null
}

# A crash as the network sees it: crash_lb NODE [PID...]. The node's eth0 is cut first, by one `ip`
# in its namespace (it vanishes from the network at that instant, as with a pulled cable), then its
# pgsteerd (or the given processes) gets SIGKILL and the lab's switch port goes down. A VIP the node
# held is left on its eth0, as a crash leaves it (put back if the daemon saw its link go and removed
# it before the kill), for the restart to clean up. Killing first and cutting the link after left a
# window (seconds on a loaded machine, longer than the peer's master-down time) in which the dead
# node's kernel still answered for the VIP the peer had taken: two holders, seen by the samplers.
crash_lb() {
  local node=$1 pids held
  shift
  pids=${*:-$(cat "$LAB_DIR_TEST/$node/pgsteerd.pid")}
  held=$(ip -n "$(nsof "$node")" -4 addr show dev eth0 | grep -c "inet $VIP/")
  ip -n "$(nsof "$node")" link set dev eth0 down
  # shellcheck disable=SC2086
  if [ $# -eq 0 ]; then lab kill "$node" KILL > /dev/null; else kill -KILL $pids; fi
  lab link "$node" down > /dev/null
  if [ "$held" -gt 0 ] && ! ip -n "$(nsof "$node")" -4 addr show dev eth0 | grep -q "inet $VIP/"; then
    ip -n "$(nsof "$node")" addr add "$VIP/24" dev eth0
  fi
}
