#!/usr/bin/env bash
# make demo: bring the namespace lab up, steer a short load through the VIP, show how pgsteer spread
# it, fail a PgBouncer under load, then the seed's flow 1: the example app's page in headless Chromium
# while the PgBouncer serving it is killed and restarted (prints the screenshots), and tear the lab
# down. Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
LAB=$top/scripts/lab.sh
VIP=10.100.1.100
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it builds network namespaces and loads BPF)" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

trap '"$LAB" down > /dev/null 2>&1 || true' EXIT
"$LAB" down > /dev/null 2>&1 || true
say "Bringing up the lab: PostgreSQL 15, three PgBouncers, two pgsteerd nodes (VRRP), a client"
ATTACH=${ATTACH:-xdp} "$LAB" up
sleep 1
"$LAB" status

say "pgsteer status on lb1 (the VRRP master holds VIP $VIP)"
"$LAB" exec lb1 pgsteer status

say "A short load through the VIP: 12 clients of pgbench -S for 6 s, each on its own connection"
"$LAB" exec client bash -c "pgbench -n -S -c 12 -j 2 -T 6 -h $VIP -U app app 2>&1 | grep -E 'clients|tps|latency|failed'" &
load=$!
sleep 3
say "How pgsteer spreads it while it runs (12 connections over 3 PgBouncers, least connections first)"
"$LAB" exec lb1 pgsteer status
wait $load

say "The same as HAProxy's CSV on :8404 (pxname,svname,status,scur,stot)"
"$LAB" exec client curl -s "http://$VIP:8404/stats;csv" | cut -d, -f1,2,18,5,8 | head -6

say "pgb2 crashes (SIGKILL) under a load of new connections: pgsteer takes it out at its first refused SYN
   and sends that client's SYN retransmission elsewhere (only a login already under way on pgb2 can break)"
"$LAB" exec client bash -c "pgbench -n -S -C -c 4 -j 2 -T 6 -h $VIP -U app app 2>&1 | grep -E 'tps|failed|aborted'" &
load=$!
sleep 2
"$LAB" kill pgb2 KILL
wait $load
"$LAB" exec lb1 pgsteer status | sed -n '1,8p'

say "What the webhook (the stand-in for Slack) received"
sleep 2
"$LAB" alerts | python3 -c 'import json,sys; [print("  " + json.loads(l)["text"]) for l in sys.stdin]'

say "The seed's flow 1: a browser loads the Next.js page (app node :3001), which calls the Hono API
   (:3000), which reads PostgreSQL through the VIP, pgsteer and a PgBouncer (first run: npm ci + build)"
"$LAB" start pgb2 > /dev/null
"$LAB" app start
shots=${DEMO_OUT:-/tmp/pgsteer-demo}
mkdir -p "$shots"
chmod 755 "$shots"
chrome() {
  local prof
  prof=$(mktemp -d "$shots/profile.XXXXXX")
  "$LAB" exec client timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$prof" "$@" 2>/dev/null
  rm -rf "$prof"
}
page=http://10.100.1.3:3001/
serving=$("$LAB" exec client curl -s -m 30 "$page" | sed 's/<!-- -->//g' | grep -o 'id="pgbouncer">pgb[123]<' | grep -o 'pgb[123]')
echo "the page is served through ${serving:-an unknown PgBouncer}; killing it (SIGKILL) and rendering the page in Chromium"
"$LAB" kill "${serving:-pgb1}" KILL
chrome --window-size=1000,700 --screenshot="$shots/page-during-crash.png" "$page" > /dev/null
"$LAB" exec client curl -s -m 30 "$page" | sed 's/<!-- -->//g' | grep -o '<p id="served">.*</p>' | sed 's/<[^>]*>//g'
sleep 4
chrome --window-size=1200,400 --screenshot="$shots/stats-during-crash.png" "http://$VIP:8404/stats" > /dev/null
"$LAB" start "${serving:-pgb1}"
chrome --window-size=1000,700 --screenshot="$shots/page.png" "$page" > /dev/null
"$LAB" app stop > /dev/null
say "Screenshots (headless Chromium): the page while ${serving:-pgb1} was down, the stats page then, the page after"
ls -1 "$shots"/page-during-crash.png "$shots"/stats-during-crash.png "$shots"/page.png

say "Tearing the lab down"
