#!/usr/bin/env bash
# ONCE=1
# The seed's flow 1 end to end: a browser (Debian's Chromium, in the client node) loads the Next.js
# page on the app node, which calls the Hono API, which reads PostgreSQL through the VIP, pgsteer and
# a PgBouncer. The API answers the seeded rows; Chromium's DOM has them; page loads every 300 ms
# keep succeeding while pgb2 (and then the PgBouncer serving the page) is killed and restarted and while lb1 crashes (killed, link cut) and
# lb2 takes the VIP; Chromium renders the stats page with the three servers and pgb2 DOWN.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
APP=10.100.1.3
WEB=http://$APP:3001/
API=http://$APP:3000
SEEDED=300
PSQL=(psql -h "$VIP" -U app -d app -X -At)
OUT=$(mktemp -d /tmp/pgsteer-t_app.XXXXXX)
chmod 755 "$OUT"
field() { srv_field "$1" "$2" "${3:-lb1}"; }

# Headless Chromium in the client node: chrome ARGS... (a fresh profile each time; root needs
# --no-sandbox). Bounded by timeout.
chrome() {
  local prof
  prof=$(mktemp -d "$OUT/profile.XXXXXX")
  on client timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --disable-extensions --disable-background-networking --user-data-dir="$prof" "$@" 2>>"$OUT/chromium.log"
}

if ! command -v chromium > /dev/null || ! command -v node > /dev/null; then
  skip app "chromium or node is not installed (run scripts/deps.sh)"
  exit 0
fi

# --- 0. Build (cached) and start the app --------------------------------------------------------
t0=$(date +%s%3N)
if ! lab app start > "$OUT/app-start.log" 2>&1; then
  fail app_starts "$(tail -n 5 "$OUT/app-start.log" | tr '\n' ' ')"
  exit 0
fi
pass app_starts
echo "    app built (or found cached) and started in $(( $(date +%s%3N) - t0 )) ms"

# --- 1. The API answers the seeded rows, as PostgreSQL has them --------------------------------
db_rows=$(on client "${PSQL[@]}" -c "select count(*), min(id), max(id) from users")
db_row7=$(on client "${PSQL[@]}" -F '|' -c "select id, name, email from users where id = 7")
on client curl -sS -m 30 "$API/api/users" > "$OUT/users.json"
on client curl -sS -m 30 "$API/api/users/7" > "$OUT/user7.json"
on client curl -sS -m 30 -o /dev/null -w '%{http_code}' "$API/api/users/99999" > "$OUT/user-none.code"
on client curl -sS -m 30 -o /dev/null -w '%{http_code}' "$API/api/users/x1" > "$OUT/user-bad.code"
on client curl -sS -m 30 "$API/api/health" > "$OUT/health.json"
api=$(python3 - "$OUT" <<'PY'
import json, sys
d = sys.argv[1]
u = json.load(open(d + "/users.json"))
one = json.load(open(d + "/user7.json"))["user"]
h = json.load(open(d + "/health.json"))
ids = [r["id"] for r in u["users"]]
print("%d|%d|%d|%s|%d|%s|%s|%s|%s|%s" % (u["count"], min(ids), max(ids), u["pgbouncer"], len(set(ids)),
      one["id"], one["name"], one["email"], h["pgbouncer"], h["roundTripMs"]))
PY
)
echo "    PostgreSQL: $db_rows (count|min|max); API: $api"
IFS='|' read -r n lo hi pgb uniq id7 name7 mail7 hpgb rtt <<< "$api"
check_eval api_users_returns_seeded_rows '[ "$db_rows" = "$SEEDED|1|$SEEDED" ] && [ "$n|$lo|$hi" = "$db_rows" ] && [ "$uniq" = "$SEEDED" ]'
check_eval api_user_by_id_matches_db '[ "$id7|$name7|$mail7" = "$db_row7" ]'
check_eval api_user_errors '[ "$(cat "$OUT/user-none.code")" = 404 ] && [ "$(cat "$OUT/user-bad.code")" = 400 ]'
check_eval api_names_the_pgbouncer '[[ $pgb =~ ^pgb[123]$ ]] && [[ $hpgb =~ ^pgb[123]$ ]]'
check_eval api_health_round_trip '[[ $rtt =~ ^[0-9]+(\.[0-9]+)?$ ]]'

# --- 2. Chromium renders the page: the DOM has the rows and names the PgBouncer ----------------
chrome --dump-dom "$WEB" > "$OUT/page.html"
dom=$(python3 - "$OUT/page.html" <<'PY'
import re, sys
h = open(sys.argv[1]).read().replace("<!-- -->", "")  # React's separators between text parts
rows = re.findall(r'<tr data-user-id="(\d+)"><td[^>]*>(\d+)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>', h)
pgb = re.search(r'id="pgbouncer">([^<]*)<', h)
rtt = re.search(r'id="db-round-trip">([0-9.]+) ms<', h)
r7 = [r for r in rows if r[0] == "7"]
print("%d|%s|%s|%s" % (len(rows), pgb.group(1) if pgb else "-", rtt.group(1) if rtt else "-",
      "|".join(r7[0][1:]) if r7 else "-"))
PY
)
echo "    Chromium DOM: $dom (rows|pgbouncer|db round trip ms|row 7)"
IFS='|' read -r drows dpgb drtt _ <<< "$dom"
check_eval chromium_renders_users '[ "$drows" = "$SEEDED" ] && [[ $dpgb =~ ^pgb[123]$ ]] && [[ $drtt =~ ^[0-9.]+$ ]] && [ "$(cut -d"|" -f4- <<< "$dom")" = "$db_row7" ]'

# Page loads every 300 ms (each its own request, up to 20 s) from the client node while STEP runs;
# "loads" prints the count, the failures and the slowest load.
loads_start() {
  rm -f "$OUT/stop"
  "$LAB" exec client python3 "$TOP/tests/lab/pageload.py" "$WEB" "$OUT/$1.loads" "$SEEDED" "$OUT/stop" 0.3 180 20 &
  LOADER=$!
  BG_PIDS+=($LOADER)
  sleep 2
}
loads_stop() {
  sleep 2
  touch "$OUT/stop"
  wait "$LOADER"
  awk -v what="$2" '{ n++; if ($2 != 200 || $7 != "") f++; if ($3 > max) max = $3; if ($6 > 1) r++; by[$5]++ }
    END { s = ""; for (k in by) s = s k "=" by[k] " ";
          printf "    %s: %d page loads, %d failed, slowest %d ms, %d needed an API retry; served by %s\n", what, n, f, max, r, s }' "$OUT/$1.loads"
  awk '$2 != 200 || $7 != ""' "$OUT/$1.loads" | head -5 | sed 's/^/      failed: /'
}
loads_failed() { awk '$2 != 200 || $7 != "" { f++ } END { print f + 0 }' "$OUT/$1.loads"; }
loads_count() { wc -l < "$OUT/$1.loads"; }

# --- 3. pgb2 killed and restarted under page loads ----------------------------------------------
loads_start pgb2
lab kill pgb2 KILL > /dev/null
wait_eval 15 '[ "$(field pgb2 status)" = DOWN ]'
sleep 1
lab start pgb2 > /dev/null
wait_eval 15 '[ "$(field pgb2 status)" = UP ]'
loads_stop pgb2 "pgb2 killed and restarted"
check_eval page_loads_survive_pgbouncer_crash '[ "$(loads_failed pgb2)" = 0 ] && [ "$(loads_count pgb2)" -ge 10 ]'

# The API's pool keeps reusing its warm connections, so pgb2 may have served none of those loads.
# The PgBouncer that serves the page right now is killed too (its connections are in use).
serving=$(on client curl -sS -m 30 "$WEB" | sed 's/<!-- -->//g' | grep -o 'id="pgbouncer">pgb[123]<' | grep -o 'pgb[123]')
if [[ $serving =~ ^pgb[123]$ ]]; then
  loads_start serving
  lab kill "$serving" KILL > /dev/null
  wait_eval 15 '[ "$(field "$serving" status)" = DOWN ]'
  sleep 1
  lab start "$serving" > /dev/null
  wait_eval 15 '[ "$(field "$serving" status)" = UP ]'
  loads_stop serving "$serving (serving the page) killed and restarted"
  check_eval page_loads_survive_serving_pgbouncer_crash '[ "$(loads_failed serving)" = 0 ] && [ "$(loads_count serving)" -ge 10 ] && [ "$(awk -v p="$serving" '\''$5 != p && $5 != "-"'\'' "$OUT/serving.loads" | wc -l)" -gt 0 ]'
else
  fail page_loads_survive_serving_pgbouncer_crash "the page names no PgBouncer ('$serving')"
fi

# --- 4. lb1 crashes (SIGKILL + link cut), lb2 takes the VIP; then lb1 returns -------------------
loads_start lb1
lab kill lb1 KILL > /dev/null
lab link lb1 down > /dev/null
wait_eval 15 'holds_vip lb2 && [ "$(vrrp_of lb2 state)" = MASTER ]'
took_over=$?
sleep 3
return_lb lb1
vip_back_to_lb1
loads_stop lb1 "lb1 crashed, lb2 took the VIP, lb1 returned and got it back (lb2 stopped gracefully)"
check_eval page_loads_survive_lb_failover '[ $took_over = 0 ] && [ "$(loads_failed lb1)" = 0 ] && [ "$(loads_count lb1)" -ge 10 ]'

# --- 5. Chromium renders the stats page: three servers, then pgb2 DOWN --------------------------
stats_dom() {
  chrome --dump-dom "http://$VIP:8404/stats" | python3 -c '
import re, sys
h = sys.stdin.read()
rows = re.findall(r"<tr class=\"srv ([a-z]+)\" data-server=\"([^\"]+)\">.*?<td class=\"status\">([^<]*)</td>", h)
vrrp = re.search(r"id=\"vrrp-state\"[^>]*>([A-Z]+)<", h)
print(" ".join("%s:%s:%s" % (n, s.replace(" ", "_"), c) for c, n, s in rows), vrrp.group(1) if vrrp else "-")'
}
s_up=$(stats_dom)
echo "    stats page (server:status:colour class, VRRP): $s_up"
check_eval chromium_renders_stats '[[ $s_up == "pgb1:UP:up pgb2:UP:up pgb3:UP:up MASTER" ]]'
lab kill pgb2 KILL > /dev/null
wait_eval 15 '[ "$(field pgb2 status)" = DOWN ]'
s_down=$(stats_dom)
echo "    after pgb2 was killed: $s_down"
check_eval chromium_stats_shows_pgb2_down '[[ $s_down == "pgb1:UP:up pgb2:DOWN:down pgb3:UP:up MASTER" ]]'
chrome --window-size=1200,400 --screenshot="$OUT/stats.png" "http://$VIP:8404/stats" > /dev/null
lab start pgb2 > /dev/null
wait_eval 15 '[ "$(field pgb2 status)" = UP ]'
chrome --window-size=1000,700 --screenshot="$OUT/page.png" "$WEB" > /dev/null
echo "    screenshots: $OUT/page.png $OUT/stats.png"

lab app stop > /dev/null 2>&1 || fail app_stops "lab app stop failed"

# Leave the lab as the next test expects it: no session on any PgBouncer. The API's connections that
# went through lb1 when it crashed were reset on the app's side, but their PgBouncer ends never heard
# of it (no flow sync yet: lb2 did not know those flows, and an idle server sends nothing that would
# meet lb2's reset); they stay established until TCP keepalive. Restart the PgBouncers holding any.
if ! wait_eval 10 '[ "$(pgb_counts)" = 0/0/0 ]'; then
  left=$(pgb_counts)
  echo "    PgBouncer-side connections orphaned by the lb1 crash (pgb1/pgb2/pgb3): $left; restarting those PgBouncers"
  i=0
  for n in ${left//\// }; do
    i=$((i + 1))
    [ "$n" = 0 ] && continue
    lab kill "pgb$i" > /dev/null
    lab start "pgb$i" > /dev/null
    wait_eval 15 '[ "$(field "pgb$i" status)" = UP ]'
  done
  wait_eval 10 '[ "$(pgb_counts)" = 0/0/0 ]' || fail pgbouncers_released_all "still $(pgb_counts)"
fi
