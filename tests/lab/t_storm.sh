#!/usr/bin/env bash
# A scrape storm at the master's stats listener (:8404) during a lab run (issue 11's acceptance): 64
# slowloris connections trickling a header byte a second and 32 clients fetching /metrics back to back,
# from the client node, for STORM_S seconds. :8404 shares pgsteerd's loop with VRRP and the health
# checks: what must hold is no VRRP transition on either node, no check result change, and a polite
# client from another address (the app node) answered every time meanwhile.
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"

STORM_S=${STORM_S:-12}
LB1=10.100.1.10
log_size() { stat -c %s "$LAB_DIR_TEST/$1/pgsteerd.log"; }
log_from() { tail -c +"$(( $2 + 1 ))" "$LAB_DIR_TEST/$1/pgsteerd.log"; }
# Every server's status and UP->DOWN count, one "name status chkdown" line each.
checks() {
  on lb1 pgsteer status -j | python3 -c 'import json, sys
for svc in json.load(sys.stdin)["services"]:
    for s in svc["servers"]:
        print(s["name"], s["status"], s.get("chkdown"))'
}

wait_eval 30 '[ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)" = MASTER/BACKUP ]'
before=$(checks)
from1=$(log_size lb1) from2=$(log_size lb2)

# The storm, from the client node (bounded: STORM_S seconds, then every socket closed).
on client timeout $(( STORM_S + 30 )) python3 - "$LB1" "$STORM_S" > "$LAB_DIR_TEST/storm.out" 2>&1 <<'PY' &
import socket, sys, threading, time, urllib.request
host, secs = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + secs
stats = {"fetch_ok": 0, "fetch_err": 0, "slow_conns": 0, "slow_cut": 0}
lock = threading.Lock()
def count(k):
    with lock:
        stats[k] += 1
def slowloris():
    while time.monotonic() < end:
        try:
            s = socket.create_connection((host, 8404), timeout=2)
            count("slow_conns")
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: lb1\r\nX-a: ")
            while time.monotonic() < end:
                time.sleep(1)
                s.sendall(b"a")
            s.close()
        except OSError:
            count("slow_cut")
            time.sleep(0.2)
def fetcher():
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(f"http://{host}:8404/metrics", timeout=5).read()
            count("fetch_ok")
        except Exception:
            count("fetch_err")
            time.sleep(0.05)
threads = [threading.Thread(target=slowloris) for _ in range(64)] + [threading.Thread(target=fetcher) for _ in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(" ".join(f"{k}={v}" for k, v in stats.items()))
PY
storm=$!
BG_PIDS+=("$storm")

# The polite client: one request a second from the app node while the storm lasts.
polite_ok=0 polite_n=0 slowest=0
t_end=$(( $(mono_ms) + STORM_S * 1000 ))
sleep 1
while [ "$(mono_ms)" -lt "$t_end" ]; do
  t=$(mono_ms)
  code=$(on app curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$LB1:8404/stats;csv")
  dt=$(( $(mono_ms) - t ))
  [ "$dt" -gt "$slowest" ] && slowest=$dt
  polite_n=$((polite_n + 1))
  [ "$code" = 200 ] && polite_ok=$((polite_ok + 1))
  sleep 1
done
wait "$storm"
echo "    storm: $(tail -1 "$LAB_DIR_TEST/storm.out"); polite client: $polite_ok of $polite_n answered, slowest ${slowest} ms"

check storm_ran grep -q 'fetch_ok=[1-9]' "$LAB_DIR_TEST/storm.out"
check_eval storm_polite_client_answered '[ "$polite_n" -gt 0 ] && [ "$polite_ok" = "$polite_n" ]'
trans=$(log_from lb1 "$from1"; log_from lb2 "$from2")
trans=$(grep -E 'vrrp: [A-Z]+ -> [A-Z]+' <<< "$trans")
[ -n "$trans" ] && echo "$trans" | sed 's/^/    /'
check storm_no_vrrp_transition [ -z "$trans" ]
check_eval storm_no_check_change '[ "$(checks)" = "$before" ]'
check storm_roles_kept eval '[ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)" = MASTER/BACKUP ]'
rm -f "$LAB_DIR_TEST/storm.out"
