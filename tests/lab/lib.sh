# Helpers for lab test scripts: the lab's entry point, PASS/FAIL lines, bounded waits.
# shellcheck shell=bash
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$TOP/scripts/lab.sh
ATTACH=${ATTACH:-xdp}
export ATTACH
PFX="lab/$ATTACH"
VIP=10.100.1.100

lab() { "$LAB" "$@"; }
# Run in a node with the lab's environment; quiet.
on() { local node=$1; shift; "$LAB" exec "$node" "$@"; }

pass() { echo "PASS $PFX/$1"; }
fail() { echo "FAIL $PFX/$1: ${*:2}"; }
skip() { echo "SKIP $PFX/$1: ${*:2}"; }
# ok NAME CONDITION-RESULT MESSAGE: PASS if the previous command succeeded.
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_until() {
  local limit=$1 i; shift
  for ((i = 0; i < limit * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Connections the PgBouncer host holds from the VIP on a PgBouncer port (counted there, not by pgsteer).
pgb_conns() { on pgb ss -Htn state established "( sport = :$1 )" dst "$VIP" | wc -l; }

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
bg_cleanup() { local p; for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap bg_cleanup EXIT

# Receivers must not have dropped any segment for a bad TCP checksum (platform fact 7).
csum_errors() { on "$1" nstat -asz TcpInCsumErrors | awk '/TcpInCsumErrors/ { print $2 }'; }
