#!/usr/bin/env bash
# A spoofed SYN flood at the VIP (hping3 --rand-source from the client node, 15 s, bounded in count,
# only inside the lab): 20 held sessions run a query a second throughout, a libpq loop
# (tests/tools/pgs_connloop) opens new connections one after another during the flood and after it.
# Every held session completes, at least 99% of new connections succeed during the flood and all
# after it, the datapath answered the flood with SYN cookies, and the PgBouncer host saw no more
# SYNs from the VIP than the legitimate connections plus the auto threshold (the half-open flows
# before cookies turn on), and completed no more connections from it (TcpPassiveOpens, less its
# health checks' SYNs). pgsteer status and /stats;csv show the service in flood mode while it lasts;
# the webhook sink (the Slack stand-in) gets exactly one "SYN flood" alert and one "over" alert.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)
FLOOD_S=15
AFTER_S=8
HALFOPEN_MAX=128 # PGS_HALFOPEN_MAX_DEFAULT: the lab runs the default syn-cookies auto
PGB_ADDR=10.100.1.5
CONNLOOP=${BUILD:-$TOP/build}/tools/pgs_connloop
[ -x "$CONNLOOP" ] || CONNLOOP=$TOP/build/tools/pgs_connloop

if ! on client sh -c 'command -v hping3' >/dev/null 2>&1; then
  skip syn_flood "hping3 is not installed (scripts/deps.sh installs it)"
  exit 0
fi
if [ ! -x "$CONNLOOP" ]; then
  skip syn_flood "$CONNLOOP is not built (make all; libpq-dev)"
  exit 0
fi
# No python in what runs during the flood: on a loaded machine its start alone takes seconds.
# The wall clock in ms, from bash itself (the flood's start and end are wall-clock stamps too).
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
# A number after NAME in pgsteer status (its verdicts line, or the service's syn-cookies line).
status_num() { on lb1 pgsteer status | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }
# The service's flood mode as pgsteer status tells it: ON or off.
status_flood() { on lb1 pgsteer status | awk '/syn-cookies/ { for (i = 1; i < NF; i++) if ($i == "mode") { sub(",", "", $(i + 1)); print $(i + 1); exit } }'; }
# The pgsql FRONTEND row's syn_flood column of /stats;csv, by name.
csv_flood() {
  on client curl -s --max-time 5 "http://$VIP:8404/stats;csv" | awk -F, '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "pgsql" && $2 == "FRONTEND" { print $(col["syn_flood"]) }'
}
alerts_with() { lab alerts | grep -cF -- "$1"; }
# Connections the PgBouncer host's kernel completed (nstat -a: absolute, -s: its history untouched).
passive_opens() { on pgb nstat -asz TcpPassiveOpens | awk '/TcpPassiveOpens/ { print $2 }'; }
t_start=$(now_ms)
cookies_before=$(status_num cookie_sent)
retx_before=$(status_num cookie_syn_retx)
lab sink reset > /dev/null

# Every SYN arriving at the PgBouncer host (source address first), for the whole run; the
# capture's own bound only ends a hung test.
cap=$(mktemp)
"$LAB" exec pgb timeout 300 tcpdump -i eth0 -nn -q -l \
  "dst host $PGB_ADDR and tcp[13] & 0x12 == 0x02" > "$cap" 2>/dev/null &
TCPDUMP=$!
BG_PIDS+=($TCPDUMP)
sleep 1
opens_before=$(passive_opens)

# 20 held sessions, opened at once.
for ((k = 0; k < 20; k++)); do
  mkfifo "$SESS_DIR/in$k"
  "$LAB" exec client "${PSQL[@]}" < "$SESS_DIR/in$k" > "$SESS_DIR/out$k" 2>&1 &
  BG_PIDS+=($!)
  exec {fd}> "$SESS_DIR/in$k"
  FDS+=($fd)
done
wait_eval 60 '[ "$(sum3 "$(pgb_counts)")" -ge 20 ]'
held=$(sum3 "$(pgb_counts)")
nq=$((FLOOD_S + AFTER_S))

# New connections one after another (2 workers, 100 ms apart, each bounded by connect_timeout 15 s)
# from just before the flood to AFTER_S after it; every attempt is a line with its start time.
conns=$SESS_DIR/conns
"$LAB" exec client "$CONNLOOP" "$VIP" 5432 2 $((FLOOD_S + AFTER_S)) 15 > "$conns" 2> "$conns.err" &
CONNS=$!
BG_PIDS+=($CONNS)
# The flood: random sources, at most 20k packets a second and 300k in all, for FLOOD_S seconds. Its
# start and end as the client node saw them (wall clock ms) go to a file.
"$LAB" exec client sh -c 'date +%s%3N; timeout '$FLOOD_S' hping3 -q -S -p 5432 --rand-source -i u50 -c 300000 '"$VIP"' \
  > /dev/null 2>&1; date +%s%3N' > "$SESS_DIR/flood" &
FLOOD=$!
BG_PIDS+=($FLOOD)
t0=$(now_ms)
# What status and the CSV say while the flood lasts, until each said "flood" once (a sampler of its
# own: on a loaded machine one look takes seconds, the queries below must not wait for it).
(
  while [ $(( $(now_ms) - t0 )) -lt $((FLOOD_S * 1000)) ]; do
    [ -s "$SESS_DIR/status_flood" ] || { [ "$(status_flood)" = ON ] && echo ON > "$SESS_DIR/status_flood"; }
    [ -s "$SESS_DIR/csv_flood" ] || { [ "$(csv_flood)" = 1 ] && echo 1 > "$SESS_DIR/csv_flood"; }
    [ -s "$SESS_DIR/status_flood" ] && [ -s "$SESS_DIR/csv_flood" ] && break
    sleep 0.5
  done
) &
SAMPLER=$!
BG_PIDS+=($SAMPLER)

# A query a second on every held session.
q=0
while [ $q -lt $nq ]; do
  q=$((q + 1))
  for fd in "${FDS[@]}"; do echo "select $q;" >&"$fd"; done
  sleep_ms=$(( t0 + q * 1000 - $(now_ms) ))
  [ $sleep_ms -le 0 ] || sleep "$(printf '%d.%03d' $((sleep_ms / 1000)) $((sleep_ms % 1000)))"
done
wait $FLOOD 2>/dev/null
wait $SAMPLER 2>/dev/null
{ read -r w0; read -r w1; } < "$SESS_DIR/flood"
status_flood=$(cat "$SESS_DIR/status_flood" 2>/dev/null || echo off)
csv_flood_seen=$(cat "$SESS_DIR/csv_flood" 2>/dev/null || echo 0)
wait $CONNS
for fd in "${FDS[@]}"; do echo "select 'done';" >&"$fd"; done
wait_eval 30 'n=0; for f in "$SESS_DIR"/out*; do grep -qx done "$f" && n=$((n + 1)); done; [ $n -eq 20 ]'
complete=0
for f in "$SESS_DIR"/out*; do
  [ "$(grep -cxE '[0-9]+' "$f")" -eq "$q" ] && grep -qx done "$f" && complete=$((complete + 1))
done
close_sessions
opens_after=$(passive_opens)

# New connections by when they started: during the flood [w0, w1), after it [w1, ...).
read -r during_n during_ok after_n after_ok slowest <<< "$(awk -v w0="$w0" -v w1="$w1" '
  /^#/ { next }
  { if ($1 >= w1) { an++; ao += $3 == "ok" } else if ($1 >= w0) { dn++; do_ += $3 == "ok" }
    if ($2 > max) max = $2 }
  END { printf "%d %d %d %d %d\n", dn, do_, an, ao, max }' "$conns")"
attempts=$(grep -vc '^#' "$conns")
grep ' fail ' "$conns" | head -3 | sed 's/^/    failed: /'

# The flood is over: one alert when it began, one when it ended (the datapath's hold, then
# SYNFLOOD_QUIET_MS without a sign), and no other.
wait_eval 60 '[ "$(alerts_with "Recovery: SYN flood at pgsql over on lb1")" -ge 1 ]'
t_over=$(( ($(now_ms) - t0) / 1000 - FLOOD_S ))
sleep 2 # time for a duplicate to show up
enter_alerts=$(alerts_with "SYN flood at pgsql on lb1")
over_alerts=$(alerts_with "Recovery: SYN flood at pgsql over on lb1")
status_flood_after=$(status_flood)

kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
syns=$(grep -c " $VIP\.[0-9]* > " "$cap")
other_syns=$(grep -vc " $VIP\.[0-9]* > " "$cap")
rm -f "$cap"
opens=$((opens_after - opens_before - other_syns))
cookies=$(( $(status_num cookie_sent) - cookies_before ))
# SYNs to the PgBouncers that are legitimate: one per connection, and the ones the datapath sent
# again for a cookie flow whose first SYN found no answer yet.
legit=$((20 + attempts))
retx=$(( $(status_num cookie_syn_retx) - retx_before ))

echo "    flood ${FLOOD_S}s ($ATTACH): $cookies cookies sent; new connections $during_ok/$during_n during, $after_ok/$after_n after" \
  "(slowest ${slowest} ms); held sessions $held, complete $complete/20 ($q queries each); at the PgBouncer host: $syns SYNs from the VIP," \
  "TcpPassiveOpens from it +$opens ($other_syns health-check SYNs left out), legitimate connections $legit, cookie SYNs re-sent $retx;" \
  "status flood=$status_flood csv syn_flood=$csv_flood_seen; alerts: $enter_alerts flood, $over_alerts over (${t_over} s after the flood);" \
  "$(( ($(now_ms) - t_start) / 1000 )) s"
check_eval held_sessions_complete_through_flood '[ $complete -eq 20 ]'
check_eval new_connections_99pct_during_flood '[ $during_n -ge 20 ] && [ $((during_ok * 100)) -ge $((during_n * 99)) ]'
check_eval new_connections_all_after_flood '[ $after_n -ge 5 ] && [ $after_ok -eq $after_n ]'
check_eval flood_answered_with_cookies '[ $cookies -gt $HALFOPEN_MAX ]'
check_eval pgbouncer_host_spared_the_flood '[ $syns -le $((legit + retx + HALFOPEN_MAX)) ] && [ $opens -le $legit ]'
check_eval flood_mode_in_status_and_csv '[ "$status_flood" = ON ] && [ "$csv_flood_seen" = 1 ]'
check_eval flood_mode_over_in_status '[ "$status_flood_after" = off ]'
check_eval one_flood_alert_one_over_alert '[ "$enter_alerts" -eq 1 ] && [ "$over_alerts" -eq 1 ]'
