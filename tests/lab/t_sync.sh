#!/usr/bin/env bash
# Flow sync (issue 13): with a shared key and nopreempt, 20 pgbench -S clients and 5 idle psql
# sessions are held through four VIP moves in a row (master killed with its link cut; old master
# back; graceful stop of the new master; its return): no client aborts, every idle session answers
# on its own TCP connection, the new master's counts equal the sessions the PgBouncer host holds,
# and forged sync messages are counted and change nothing. Then the backup crashes and restarts
# under load while sessions open and close: its bulk resync gives it the master's table exactly,
# and a crash of the master keeps every session. Last, a backup that returns with preempt takes
# the VIP back only after its bulk resync, and the idle sessions still answer.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

conf1=$LAB_DIR_TEST/lb1/pgsteerd.conf
conf2=$LAB_DIR_TEST/lb2/pgsteerd.conf
key=$LAB_DIR_TEST/sync.key
tmp=$(mktemp -d)

sync_of() {
  on "$1" pgsteer status -j | python3 -c '
import json, sys
v = json.load(sys.stdin).get("sync") or {}
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(str(v).lower())' "$2"
}
# The established flows of NODE's flow table, one "client:cport backend:bport sport" a line, sorted.
est_keys() {
  bpftool -j map dump pinned "$(pinof "$1")/pgs_flows" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    k, v = e["formatted"]["key"], e["formatted"]["value"]
    if v["state"] == 3:
        print(k["client"], k["cport"], v["backend"], v["bport"], v["sport"])' | sort
}
# Established flows in NODE's flow table (what a takeover would steer), read from its pinned map.
flows_est() {
  bpftool -j map dump pinned "$(pinof "$1")/pgs_flows" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if e.get("formatted", {}).get("value", {}).get("state") == 3))'
}
# The client's local ports of its connections to the VIP.
client_ports() { on client ss -Htn state established dst "$VIP" | awk '{ split($3, a, ":"); print a[2] }' | sort; }
# The stopwatch of a VIP move: signal NODE's pgsteerd at once (no lab.sh in between) and print the
# wall-clock ms it was sent at, the clock pgsteerd stamps vrrp.last_change_ms with. The takeover is
# the new master's own last_change_ms minus that: neither lab.sh nor the polling (a python3 start
# each, seconds on a busy machine) is in it. `lab kill` then waits until the process is gone.
signal_lb() { local pid t; pid=$(cat "$LAB_DIR_TEST/$1/pgsteerd.pid"); t=$(now_ms); kill -s "$2" "$pid"; echo "$t"; }
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
# Every idle session has printed TAG<k> (its answer to "select 'TAG<k>'").
answered() { local k; for ((k = 0; k < 5; k++)); do grep -q "$1$k" "$SESS_DIR/out$k" || return 1; done; }
# Sessions K... (after TAG) have printed TAG<k>: all_answered TAG K...
all_answered() { local tag=$1 k; shift; for k; do grep -q "$tag$k" "$SESS_DIR/out$k" || return 1; done; }
ask_all() { local k; for ((k = 0; k < 5; k++)); do echo "select '$1$k';" >&"${FDS[$k]}"; done; }
# Delivered alerts (the lab's webhook sink) containing TEXT.
alerts_with() { lab alerts | grep -cF -- "$1"; }

restore() {
  [ -e "$conf1.sync-orig" ] || return 0
  cp "$conf1.sync-orig" "$conf1"; cp "$conf2.sync-orig" "$conf2"
  rm -f "$conf1.sync-orig" "$conf2.sync-orig"
  lab kill lb2 TERM > /dev/null 2>&1
  if [ "$(vrrp_of lb1 state 2>/dev/null)" = MASTER ]; then on lb1 pgsteer restart > /dev/null 2>&1
  else lab kill lb1 TERM > /dev/null 2>&1; lab start lb1 > /dev/null 2>&1; fi
  lab link lb1 up > /dev/null 2>&1
  wait_eval 10 '[ "$(vrrp_of lb1 state)" = MASTER ]'
  lab start lb2 > /dev/null 2>&1
  wait_eval 10 '[ "$(vrrp_of lb2 state)" = BACKUP ]'
}
cleanup() { close_sessions; bg_cleanup; restore; rm -rf "$tmp"; }
trap cleanup EXIT

# --- setup: one key on both nodes (nopreempt: the lab's default); lb1 restarts in place (stays
#     master), lb2 restarts ------------------------------------------------------------------------
head -c 32 /dev/urandom | base64 > "$key"; chmod 600 "$key"
for c in "$conf1" "$conf2"; do
  cp "$c" "$c.sync-orig"
  sed -i "s|^vrrp\$|vrrp\n    sync key-file $key|" "$c"
done
on lb1 pgsteer restart > /dev/null
wait_eval 10 '[ "$(vrrp_of lb1 state)" = MASTER ] && [ "$(sync_of lb1 ready)" = true ]'
lab kill lb2 TERM > /dev/null; lab start lb2 > /dev/null
wait_eval 15 '[ "$(vrrp_of lb2 state)" = BACKUP ] && [ "$(sync_of lb2 ready)" = true ]'
check sync_on_both_nodes [ "$(sync_of lb1 ready)/$(sync_of lb2 ready)" = true/true ]

# --- the load: 5 idle sessions, then 20 pgbench -S clients for the whole run ------------------------
open_sessions 5
ports_before=$(client_ports)
"$LAB" exec client pgbench -n -S -c 20 -j 4 -T 900 -h "$VIP" -U app app > "$tmp/pgbench" 2>&1 &
PGBENCH=$!
BG_PIDS+=($PGBENCH)
wait_eval 10 '[ "$(sum3 "$(pgb_counts)")" -ge 25 ]'
wait_eval 10 '[ "$(flows_est lb2)" -ge 25 ]'
check backup_holds_the_flows [ "$(flows_est lb2)" -ge 25 ]
echo "    before: lb1 $(flows_est lb1) established flows, lb2 (backup) $(flows_est lb2), PgBouncer host $(sum3 "$(pgb_counts)") sessions"

# --- 1. master killed with its link cut ------------------------------------------------------------
t0=$(signal_lb lb1 KILL)
lab kill lb1 KILL > /dev/null; lab link lb1 down > /dev/null
wait_eval 10 '[ "$(vrrp_of lb2 state)" = MASTER ] && holds_vip lb2'
echo "    1. lb1 killed: lb2 MASTER $(( $(vrrp_of lb2 last_change_ms) - t0 )) ms after the kill (its own clock)"
check takeover_after_crash [ "$(vrrp_of lb2 state)" = MASTER ]
wait_eval 5 '[ "$(sum3 "$(status_counts lb2)")" = "$(sum3 "$(pgb_counts)")" ]'
check counts_after_crash_equal_pgbouncer [ "$(sum3 "$(status_counts lb2)")" = "$(sum3 "$(pgb_counts)")" ]
echo "       lb2 counts $(status_counts lb2), PgBouncer host $(pgb_counts)"

# --- 2. old master back: stays backup (nopreempt), resyncs -----------------------------------------
rejoined1=$(alerts_with "Recovery: lb1 rejoined")
return_lb lb1
wait_eval 15 '[ "$(vrrp_of lb1 state)" = BACKUP ] && [ "$(sync_of lb1 ready)" = true ]'
check old_master_back_as_synced_backup [ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)/$(sync_of lb1 ready)" = BACKUP/MASTER/true ]
echo "    2. lb1 back: BACKUP, resynced $(flows_est lb1) established flows (lb2 holds $(flows_est lb2))"

# --- 3. graceful stop of the new master --------------------------------------------------------------
t0=$(signal_lb lb2 TERM)
lab kill lb2 TERM > /dev/null
wait_eval 10 '[ "$(vrrp_of lb1 state)" = MASTER ] && holds_vip lb1'
echo "    3. lb2 stopped: lb1 MASTER $(( $(vrrp_of lb1 last_change_ms) - t0 )) ms after SIGTERM (its own clock)"
check takeover_after_graceful_stop [ "$(vrrp_of lb1 state)" = MASTER ]
wait_eval 5 '[ "$(sum3 "$(status_counts lb1)")" = "$(sum3 "$(pgb_counts)")" ]'
check counts_after_handover_equal_pgbouncer [ "$(sum3 "$(status_counts lb1)")" = "$(sum3 "$(pgb_counts)")" ]
echo "       lb1 counts $(status_counts lb1), PgBouncer host $(pgb_counts)"

# --- 4. its return: stays backup ---------------------------------------------------------------------
lab start lb2 > /dev/null
wait_eval 15 '[ "$(vrrp_of lb2 state)" = BACKUP ] && [ "$(sync_of lb2 ready)" = true ]'
check returning_node_stays_backup [ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)" = MASTER/BACKUP ]
# lb1's return (2.) was told once, in the seed's words, by lb1; seconds and two transitions later
# there is still no second one.
wait_eval 10 '[ "$(alerts_with "Recovery: lb1 rejoined")" -gt '"$rejoined1"' ]'
check lb1_rejoined_alerted_once [ "$(alerts_with "Recovery: lb1 rejoined")" = $((rejoined1 + 1)) ]
check rejoined_alert_in_seed_words eval 'lab alerts | grep -F "Recovery: lb1 rejoined" | tail -1 |
  grep -F "system at full HA capacity (lb2 is MASTER)" | grep -q "\"value\":\"lb1\""'
# --- 4b. the backup crashes and restarts under load: sessions open and close while it is down; its
#     bulk resync gives it exactly the master's table; a crash of the master then keeps them all --
open_sessions 2                                   # sessions 5 and 6, synced to lb2
wait_eval 10 '[ "$(est_keys lb2 | wc -l)" -ge "$(est_keys lb1 | wc -l)" ]'
lab kill lb2 KILL > /dev/null
fd=${FDS[5]}; exec {fd}>&-                        # session 5 ends while lb2 is down
wait_eval 10 '[ "$(sum3 "$(pgb_counts)")" -le 26 ]'
open_sessions 2                                   # sessions 7 and 8 start while lb2 is down
t0=$(now_ms)
lab start lb2 > /dev/null
wait_eval 20 '[ "$(vrrp_of lb2 state)" = BACKUP ] && [ "$(sync_of lb2 ready)" = true ]'
echo "    4b. lb2 restarted under load: ready $(( $(now_ms) - t0 )) ms after its start began; lb1 $(est_keys lb1 | wc -l) established flows, lb2 $(est_keys lb2 | wc -l)"
check restarted_backup_ready [ "$(vrrp_of lb2 state)/$(sync_of lb2 ready)" = BACKUP/true ]
# pgbench's and the idle sessions' connections stay put: the tables must be the same flows, to the
# SNAT port, without the session that ended while lb2 was down.
check restarted_backup_has_the_masters_table eval 'diff <(est_keys lb1) <(est_keys lb2)'
t0=$(signal_lb lb1 KILL)
lab kill lb1 KILL > /dev/null; lab link lb1 down > /dev/null
wait_eval 10 '[ "$(vrrp_of lb2 state)" = MASTER ] && holds_vip lb2'
echo "        lb1 killed: lb2 MASTER $(( $(vrrp_of lb2 last_change_ms) - t0 )) ms after the kill (its own clock)"
for k in 0 1 2 3 4 6 7 8; do echo "select 'restart_$k';" >&"${FDS[$k]}"; done
wait_until 10 all_answered restart_ 0 1 2 3 4 6 7 8
check sessions_survive_takeover_after_backup_restart all_answered restart_ 0 1 2 3 4 6 7 8
wait_eval 5 '[ "$(sum3 "$(status_counts lb2)")" = "$(sum3 "$(pgb_counts)")" ]'
check counts_after_backup_restart_equal_pgbouncer [ "$(sum3 "$(status_counts lb2)")" = "$(sum3 "$(pgb_counts)")" ]
return_lb lb1
wait_eval 15 '[ "$(vrrp_of lb1 state)" = BACKUP ] && [ "$(sync_of lb1 ready)" = true ]'
check vip_handed_back_to_lb1 vip_back_to_lb1

# The transitions happened while pgbench ran (a client that aborts says so at once on stderr);
# then it is stopped: its verdict covers all the transitions.
check pgbench_ran_through_all_transitions kill -0 $PGBENCH
sleep 2
kill -TERM $PGBENCH 2>/dev/null; wait $PGBENCH  # TERM: a background job ignores SIGINT
grep -E 'transactions|aborted|error' "$tmp/pgbench" | sed 's/^/       pgbench: /' | head -8
check pgbench_no_aborted_client eval '! grep -qiE "aborted|error|lost|terminat" "$tmp/pgbench"'
for ((k = 0; k < 5; k++)); do echo "select 'after$k';" >&"${FDS[$k]}"; done
wait_eval 10 'answered after'
ok=yes
for ((k = 0; k < 5; k++)); do
  grep -q "after$k" "$SESS_DIR/out$k" || ok=no
  grep -qiE 'lost|reset|closed|terminat|error' "$SESS_DIR/out$k" && ok=no
done
check idle_sessions_answer [ $ok = yes ]
ports_after=$(client_ports)
check idle_sessions_same_connections eval '[ -z "$(comm -23 <(echo "$ports_before") <(echo "$ports_after"))" ]'

# --- forged sync messages: counted, nothing installed ------------------------------------------------
before_flows=$(flows_est lb2)
for kind in garbage:version truncated:truncated wrongkey:auth replay:replay unknown:unknown_service unknown:unknown_server; do
  what=${kind%%:*} reason=${kind#*:}
  n0=$(sync_of lb2 "rejected.$reason")
  on client python3 "$TOP/tests/lab/sync_craft.py" "$what" "${LAB_ADDR_LB2:-10.100.1.11}" "$key"
  wait_eval 3 '[ "$(sync_of lb2 "rejected.'"$reason"'")" -gt '"$n0"' ]'
  check "forged_${what}_counted_as_${reason}" [ "$(sync_of lb2 "rejected.$reason")" -gt "$n0" ]
done
check forged_messages_change_no_flow [ "$(flows_est lb2)" -le "$before_flows" ]

# --- 5. a backup that returns with preempt takes the VIP back only once its resync is complete -------
lab kill lb1 TERM > /dev/null
wait_eval 10 '[ "$(vrrp_of lb2 state)" = MASTER ] && holds_vip lb2'
# Each session talks through lb2 meanwhile: lb2 learns both sides' sequence edges (used in 6.).
ask_all via2_
wait_eval 10 'answered via2_'
sed -i 's/^    nopreempt$/    preempt/' "$conf1"
log1=$LAB_DIR_TEST/lb1/pgsteerd.log
mark=$(wc -l < "$log1")
n_master=$(flows_est lb2)
lab start lb1 > /dev/null
wait_eval 20 '[ "$(vrrp_of lb1 state)" = MASTER ] && holds_vip lb1'
echo "    5. lb1 back with preempt: MASTER; lb2 held $n_master established flows, lb1 now $(flows_est lb1)"
tail -n +"$((mark + 1))" "$log1" | grep -E "startup|bulk resync from the master complete|-> MASTER" | sed 's/^/       lb1: /'
check preempts_after_resync eval 'tail -n +$((mark + 1)) "$log1" | grep -E "bulk resync from the master complete|-> MASTER" | head -1 | grep -q "resync from the master complete"'
check preempting_node_holds_every_flow [ "$(flows_est lb1)" -ge "$n_master" ]
for ((k = 0; k < 5; k++)); do echo "select 'again$k';" >&"${FDS[$k]}"; done
wait_eval 10 'answered again'
check idle_sessions_answer_after_preemption answered again

