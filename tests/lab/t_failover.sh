#!/usr/bin/env bash
# Backend failover (seed flow 2): a PgBouncer killed under load costs no client an error, leaves
# selection at once, is reported DOWN after fall checks and UP after rise; drain, maint and
# weights; the check types against real targets; the runtime API refuses what it cannot do;
# runtime changes survive a restart; on-marked-down shutdown-sessions; slow start.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)
INTER_MS=1000 FALL=3 RISE=2   # the lab's check: pgsql inter 1s fall 3 rise 2

field() { srv_field "$1" "$2"; }

# --- 1. Kill pgb2 under a bounded load of new connections, three times -------------------------
# What must hold: no client fails to connect (pgb2 left selection before any connection could
# fail), pgb2 takes no connection once out, it is reported DOWN only after its failed checks and UP
# again after rise. Printed, not judged: out of selection (the datapath's own CLOCK_MONOTONIC
# timestamp of the first refused SYN, against the kill), DOWN and UP times.
passive_ns() { bpftool map lookup pinned "$(pinof lb1)"/pgs_passive key 1 0 0 0 -j |
  python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(int.from_bytes(bytes(int(x,16) for x in v),"little"))'; }
out_times=() down_times=() up_times=() conn_errors=() sess_errors=()
for round in 1 2 3; do
  load=$(mktemp)
  # The load runs from before the crash until pgb2 is reported DOWN and a few more connections
  # were made (at most 180 s): it ends when told to, not after a time a busy machine could outlast.
  "$LAB" exec client "$TOP/tests/lab/connload.sh" "$VIP" 4 180 "$load" > /dev/null 2>&1 &
  gen=$!
  BG_PIDS+=($gen)
  attempts() { cat "$load".* 2>/dev/null | wc -l; }
  wait_eval 60 '[ "$(cat "$load".* 2>/dev/null | grep -c "^ok")" -ge 8 ]'
  k0=$(mono_ms)
  lab kill pgb2 KILL > /dev/null
  wait_eval 60 '[ "$(field pgb2 status)" = DOWN ]'
  t_down=$(( $(mono_ms) - k0 ))
  reported_down=$(field pgb2 status)
  stot_out=$(field pgb2 stot)
  n=$(attempts)
  wait_eval 60 '[ "$(attempts)" -ge $((n + 8)) ]'
  touch "$load.stop"
  wait $gen
  p=$(passive_ns)
  stot_end=$(field pgb2 stot)
  t_out=$(( p / 1000000 >= k0 ? p / 1000000 - k0 : -1 ))
  total=$(wc -l < "$load"); conn=$(grep -c '^connect:' "$load"); sess=$(grep -c '^session:' "$load")
  conn_errors+=($conn) sess_errors+=($sess) out_times+=($t_out) down_times+=($t_down)
  [ "$conn" = 0 ] || grep '^connect:' "$load" | head -3 | sed 's/^/    /'
  t1=$(mono_ms)
  lab start pgb2 > /dev/null
  wait_eval 60 '[ "$(field pgb2 status)" = UP ]'
  up_times+=($(( $(mono_ms) - t1 )))
  reported_up=$(field pgb2 status)
  before=$(field pgb2 stot)
  on client pgbench -n -S -C -c 3 -t 10 -h "$VIP" -U app app > /dev/null 2>&1
  after=$(field pgb2 stot)
  echo "    round $round: $total connections, $conn failed to connect, $sess sessions broken by the crash;" \
       "out of selection $t_out ms after the kill, DOWN at $t_down ms, UP ${up_times[-1]} ms after restart"
  ok=yes
  # The load ran through the crash and not one connection failed, and pgb2 took no connection once
  # DOWN. (Out of selection is -1 when the checks took it out before any client's SYN reached it.)
  [ "$conn" = 0 ] && [ "$total" -gt 0 ] || { ok=no; echo "    $conn of $total connections failed"; }
  [ "$stot_out" = "$stot_end" ] || { ok=no; echo "    pgb2 took connections once DOWN: stot $stot_out then $stot_end"; }
  # DOWN follows fall: not before the first failed check and (fall - 2) more at inter (the passive
  # kick saves one); UP after rise, and pgb2 takes connections again.
  [ "$reported_down" = DOWN ] && [ "$t_down" -ge $(( (FALL - 2) * INTER_MS )) ] || { ok=no; echo "    DOWN: $reported_down at $t_down ms"; }
  [ "$reported_up" = UP ] && [ "$after" -gt "$before" ] || { ok=no; echo "    UP: $reported_up, stot $before then $after"; }
  check "pgb2_crash_round_$round" [ $ok = yes ]
  rm -f "$load"
done
echo "    pgb2 crash, medians of 3: out of selection $(median "${out_times[@]}") ms, reported DOWN $(median "${down_times[@]}") ms," \
     "UP after restart $(median "${up_times[@]}") ms, failed connections per crash $(median "${conn_errors[@]}")," \
     "sessions broken in flight $(median "${sess_errors[@]}") (all: out ${out_times[*]}; down ${down_times[*]}; up ${up_times[*]})"

# --- 2. Drain, maint, weights -----------------------------------------------------------------------
tmp=$(mktemp -d)
open_sessions 6
held=$(pgb_counts)
on lb1 pgsteer drain pgsql/pgb2
check drain_shows_DRAIN [ "$(field pgb2 status)" = DRAIN ]
# Its sessions keep working...
ok=yes
for k in 0 1 2 3 4 5; do echo "select 'still-$k';" >&${FDS[$k]}; done
for k in 0 1 2 3 4 5; do wait_until 5 grep -q "still-$k" "$SESS_DIR/out$k" || ok=no; done
check drained_sessions_keep_working [ $ok = yes ]
# ...and no new connection lands on it.
open_sessions 6
after=$(pgb_counts)
check drain_takes_no_new_connection [ "$(echo "$after" | cut -d/ -f2)" = "$(echo "$held" | cut -d/ -f2)" ]
on lb1 pgsteer maint pgsql/pgb2
check maint_shows_MAINT [ "$(field pgb2 status)" = MAINT ]
chk_before=$(on lb1 pgsteer status -j | python3 -c 'import json,sys
d=json.load(sys.stdin)
print([s for s in d["services"][0]["servers"] if s["name"]=="pgb2"][0]["check"])')
sleep 2.5
chk_after=$(on lb1 pgsteer status -j | python3 -c 'import json,sys
d=json.load(sys.stdin)
print([s for s in d["services"][0]["servers"] if s["name"]=="pgb2"][0]["check"])')
check maint_stops_checks [ "$chk_before" = "$chk_after" ]
on lb1 pgsteer ready pgsql/pgb2
wait_eval 5 '[ "$(field pgb2 status)" = UP ]'
check ready_back_to_UP [ "$(field pgb2 status)" = UP ]
close_sessions
# Weights: pgb1 2, pgb2 1, pgb3 0 -> 30 sessions spread 20/10/0.
on lb1 pgsteer weight pgsql/pgb1 2; on lb1 pgsteer weight pgsql/pgb3 0
open_sessions 30
spread=$(pgb_counts)
IFS=/ read -r w1 w2 w3 <<< "$spread"
check_eval weights_2_1_0_spread '[ "$w3" = 0 ] && [ $((w1 + w2)) = 30 ] && [ "$w1" -ge 19 ] && [ "$w1" -le 21 ]'
echo "    weights 2:1:0 over 30 sessions: $spread"
close_sessions
on lb1 pgsteer weight pgsql/pgb1 1; on lb1 pgsteer weight pgsql/pgb3 1

# --- 3. Check types against real targets -------------------------------------------------------------
PGB=10.100.1.5
# A port that accepts and closes at once; a PgBouncer whose database cannot be reached (trust auth).
"$LAB" exec pgb socat TCP-LISTEN:6490,bind=$PGB,reuseaddr,fork SYSTEM:'true' > /dev/null 2>&1 &
BG_PIDS+=($!)
bad=$LAB_DIR_TEST/pgbbad
mkdir -p "$bad" && chown postgres: "$bad"
cat > "$bad/pgbouncer.ini" <<INI
[databases]
app = host=10.100.1.20 port=5499 dbname=app
[pgbouncer]
listen_addr = $PGB
listen_port = 6491
unix_socket_dir = $bad
auth_type = trust
auth_file = $bad/userlist.txt
pool_mode = transaction
client_login_timeout = 1
logfile = $bad/pgbouncer.log
pidfile = $bad/pgbouncer.pid
INI
echo '"app" ""' > "$bad/userlist.txt"
chown postgres: "$bad"/*
"$LAB" exec pgb runuser -u postgres -- pgbouncer -d "$bad/pgbouncer.ini" > /dev/null 2>&1
wait_eval 30 'on pgb ss -Hltn "( sport = :6491 )" | grep -q 6491'
run_check() { on lb1 pgsteer check "$@" 2>&1; }
expect_check() { # NAME EXPECT(UP|DOWN) STATUS-WORD ARGS...
  local name=$1 want=$2 word=$3 out; shift 3
  out=$(run_check "$@")
  if [[ $out == *" $want: "* && $out == *"$word"* ]]; then pass "check_$name"; else fail "check_$name" "$out"; fi
}
expect_check tcp_live UP "Layer4 check passed" tcp $PGB:6432
expect_check pgsql_live UP "SSLRequest answered" pgsql $PGB:6432
expect_check login_live UP "authentication requested" login $PGB:6432 user app database app
expect_check tcp_closed DOWN "Connection refused" tcp $PGB:6499
expect_check pgsql_closed DOWN "Connection refused" pgsql $PGB:6499
expect_check login_closed DOWN "Connection refused" login $PGB:6499 user app
expect_check tcp_accept_close UP "Layer4 check passed" tcp $PGB:6490
expect_check pgsql_accept_close DOWN "closed by server" pgsql $PGB:6490
expect_check login_accept_close DOWN "closed by server" login $PGB:6490 user app
expect_check tcp_db_unreachable UP "Layer4 check passed" tcp $PGB:6491
expect_check pgsql_db_unreachable UP "SSLRequest answered" pgsql $PGB:6491
expect_check login_db_unreachable DOWN "08P01" login $PGB:6491 user app database app timeout 3s
kill "$(cat "$bad/pgbouncer.pid")" 2>/dev/null

# --- 4. The runtime API refuses malformed commands and unknown servers, changing nothing ----------
state() { on lb1 pgsteer cmd show servers state | cut -d' ' -f1-9; }
before=$(state)
refused=yes
for c in "set server pgsql/nope state drain" "set server pgsql/pgb2 state sleepy" "set server pgsql/pgb2 weight 999" \
         "set server pgsql/pgb2 weight -1" "set server pgb2" "frobnicate now" "enable server" "set server nosvc/pgb2 state maint"; do
  out=$(on lb1 pgsteer cmd $c 2>&1) # refusals may go to stderr, with exit 1
  [ -n "$out" ] || { refused=no; echo "    '$c' answered nothing"; }
done
check runtime_refuses_bad_commands [ $refused = yes ]
check runtime_bad_commands_change_nothing [ "$before" = "$(state)" ]
out=$(on lb1 pgsteer drain nope 2>&1); rc=$?
check_eval cli_drain_unknown_server_fails '[ $rc -ne 0 ] && grep -q "No such server" <<< "$out"'

# --- 5. Runtime changes survive a restart ------------------------------------------------------------
on lb1 pgsteer drain pgsql/pgb3
on lb1 pgsteer weight pgsql/pgb1 3
on lb1 pgsteer restart > /dev/null
check drain_survives_restart [ "$(field pgb3 class)" = DRAIN ]
check weight_survives_restart [ "$(field pgb1 uweight)" = 3 ]
on lb1 pgsteer ready pgsql/pgb3; on lb1 pgsteer weight pgsql/pgb1 1

# --- 6. on-marked-down shutdown-sessions: a frozen PgBouncer's sessions are reset promptly ---------
conf=$LAB_DIR_TEST/lb1/pgsteerd.conf
cp "$conf" "$tmp/conf.orig"
echo "    on-marked-down shutdown-sessions" >> "$conf"
out=$(on lb1 pgsteer reload 2>&1)
check reload_takes_new_config grep -q "reloaded" <<< "$out"
open_sessions 6
t0=$(mono_ms)
lab kill pgb2 STOP > /dev/null
wait_eval 60 '[ "$(field pgb2 status)" = DOWN ]'
t_down=$(( $(mono_ms) - t0 ))
# The client side of pgb2's sessions is reset by the datapath (no FIN will ever come from pgb2).
wait_eval 30 '[ "$(on client ss -Htn state established dst '"$VIP"' | wc -l)" -le 4 ]'
left=$(on client ss -Htn state established dst "$VIP" | wc -l)
check shutdown_sessions_resets_clients [ "$left" -le 4 ]
wait_eval 30 '[ "$(field pgb2 scur)" = 0 ]'
check shutdown_sessions_releases_counts [ "$(field pgb2 scur)" = 0 ]
echo "    frozen pgb2: DOWN after $t_down ms, its client sessions reset by $(( $(mono_ms) - t0 )) ms"
lab kill pgb2 CONT > /dev/null
close_sessions
cp "$tmp/conf.orig" "$conf"
on lb1 pgsteer reload > /dev/null
wait_eval 60 '[ "$(field pgb2 status)" = UP ]'

# --- 7. Slow start: a server back UP ramps its weight: throttled just after UP, full weight later
#        (30 s: longer than a busy machine takes to show UP here) -------------------------------------
echo "    slowstart 30s" >> "$conf"
on lb1 pgsteer reload > /dev/null
lab kill pgb3 KILL > /dev/null
wait_eval 60 '[ "$(field pgb3 status)" = DOWN ]'
lab start pgb3 > /dev/null
wait_eval 60 '[ "$(field pgb3 status)" = UP ]'
t_up=$(mono_ms)
t_early=$(field pgb3 throttle)
wait_eval 60 '[ "$(field pgb3 throttle)" = -1 ]'
t_full=$(( $(mono_ms) - t_up ))
t_late=$(field pgb3 throttle)
check_eval slowstart_ramps_weight '[ "$t_early" -ge 0 ] && [ "$t_early" -lt 100 ] && [ "$t_late" = -1 ]'
echo "    slow start: throttle $t_early% when seen UP, full weight (-1) $t_full ms later"
cp "$tmp/conf.orig" "$conf"
on lb1 pgsteer reload > /dev/null
rm -rf "$tmp"
