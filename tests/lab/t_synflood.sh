#!/usr/bin/env bash
# A spoofed SYN flood at the VIP (hping3 --rand-source from the client node, 15 s, bounded in count,
# only inside the lab): 20 held sessions run a query a second throughout, a loop opens new
# connections one after another during the flood and after it. Every held session completes, at
# least 99% of new connections succeed during the flood and all after it, the datapath answered
# the flood with SYN cookies, and the PgBouncer host saw no more SYNs from the VIP than the
# legitimate connections plus the auto threshold (the half-open flows before cookies turn on), and
# completed no more connections from it (TcpPassiveOpens, less its health checks' SYNs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)
FLOOD_S=15
AFTER_S=8
HALFOPEN_MAX=128 # PGS_HALFOPEN_MAX_DEFAULT: the lab runs the default syn-cookies auto
PGB_ADDR=10.100.1.5

if ! on client sh -c 'command -v hping3' >/dev/null 2>&1; then
  skip syn_flood "hping3 is not installed (scripts/deps.sh installs it)"
  exit 0
fi
verdict() { on lb1 pgsteer status -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"]["verdicts"].get(sys.argv[1], 0))' "$1"; }
# Connections the PgBouncer host's kernel completed (nstat -a: absolute, -s: its history untouched).
passive_opens() { on pgb nstat -asz TcpPassiveOpens | awk '/TcpPassiveOpens/ { print $2 }'; }
t_start=$(mono_ms)
cookies_before=$(verdict cookie_sent)
retx_before=$(verdict cookie_syn_retx)

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
nq=$((FLOOD_S + AFTER_S + 4))

# The flood: random sources, at most 20k packets a second and 300k in all, for FLOOD_S seconds.
"$LAB" exec client timeout $FLOOD_S hping3 -q -S -p 5432 --rand-source -i u50 -c 300000 "$VIP" > /dev/null 2>&1 &
FLOOD=$!
BG_PIDS+=($FLOOD)
t0=$(mono_ms)

# A query a second on every held session, and new connections one after another.
during_ok=0 during_n=0 after_ok=0 after_n=0 q=0
flood_end=$((t0 + FLOOD_S * 1000))
end=$((flood_end + AFTER_S * 1000))
next_q=$t0
while :; do
  now=$(mono_ms)
  [ "$now" -lt "$end" ] || break
  if [ "$now" -ge "$next_q" ] && [ $q -lt $nq ]; then
    q=$((q + 1))
    for fd in "${FDS[@]}"; do echo "select $q;" >&"$fd"; done
    next_q=$((next_q + 1000))
  fi
  ok=0
  on client timeout 20 "${PSQL[@]}" "connect_timeout=15" -c "select 1" > /dev/null 2>&1 && ok=1
  if [ "$now" -lt "$flood_end" ]; then
    during_n=$((during_n + 1)) during_ok=$((during_ok + ok))
  else
    after_n=$((after_n + 1)) after_ok=$((after_ok + ok))
  fi
done
wait $FLOOD 2>/dev/null
for fd in "${FDS[@]}"; do echo "select 'done';" >&"$fd"; done
wait_eval 30 'n=0; for f in "$SESS_DIR"/out*; do grep -qx done "$f" && n=$((n + 1)); done; [ $n -eq 20 ]'
complete=0
for f in "$SESS_DIR"/out*; do
  [ "$(grep -cxE '[0-9]+' "$f")" -eq "$q" ] && grep -qx done "$f" && complete=$((complete + 1))
done
close_sessions
opens_after=$(passive_opens)
sleep 1
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
syns=$(grep -c " $VIP\.[0-9]* > " "$cap")
other_syns=$(grep -vc " $VIP\.[0-9]* > " "$cap")
rm -f "$cap"
opens=$((opens_after - opens_before - other_syns))
cookies=$(( $(verdict cookie_sent) - cookies_before ))
# SYNs to the PgBouncers that are legitimate: one per connection, and the ones the datapath sent
# again for a cookie flow whose first SYN found no answer yet.
legit=$((20 + during_n + after_n))
retx=$(( $(verdict cookie_syn_retx) - retx_before ))

echo "    flood ${FLOOD_S}s ($ATTACH): $cookies cookies sent; new connections $during_ok/$during_n during, $after_ok/$after_n after;" \
  "held sessions $held, complete $complete/20 ($q queries each); at the PgBouncer host: $syns SYNs from the VIP," \
  "TcpPassiveOpens from it +$opens ($other_syns health-check SYNs left out), legitimate connections $legit, cookie SYNs re-sent $retx;" \
  "$(( ($(mono_ms) - t_start) / 1000 )) s"
check_eval held_sessions_complete_through_flood '[ $complete -eq 20 ]'
check_eval new_connections_99pct_during_flood '[ $during_n -gt 0 ] && [ $((during_ok * 100)) -ge $((during_n * 99)) ]'
check_eval new_connections_all_after_flood '[ $after_n -gt 0 ] && [ $after_ok -eq $after_n ]'
check_eval flood_answered_with_cookies '[ $cookies -gt $HALFOPEN_MAX ]'
check_eval pgbouncer_host_spared_the_flood '[ $syns -le $((legit + retx + HALFOPEN_MAX)) ] && [ $opens -le $legit ]'
