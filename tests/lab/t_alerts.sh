#!/usr/bin/env bash
# Stats and alerts (seed flow 4): one alert per change, from the node that steers, in the seed's
# words; retries on 500, Retry-After on 429, a dead webhook never slows checks or steering; no
# duplicate after a restart; a user's CSV consumer by column name; pgsteer monitor against a real
# HAProxy; /metrics passes promtool.
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)
field() { srv_field "$1" "$2"; }
# How many delivered alerts contain TEXT (a fixed string).
alerts_with() { lab alerts | grep -cF -- "$1"; }
wait_alert() { wait_eval "${2:-30}" '[ "$(alerts_with "'"$1"'")" -ge 1 ]'; }

lab sink reset > /dev/null
# --- 1. Kill pgb2: exactly one DOWN; restart it: exactly one recovery -----------------------------
lab kill pgb2 KILL > /dev/null
wait_alert "pgb2 is DOWN"
sleep 3 # time for any duplicate (the backup, a retry) to show up
check one_down_alert [ "$(alerts_with "pgb2 is DOWN")" = 1 ]
check down_alert_names_node_and_check eval 'lab alerts | grep -F "pgb2 is DOWN" | grep -q "node lb1, service pgsql, check L"'

# --- 2. pgsteerd restarted (in place, and stopped and started) while pgb2 is DOWN: no duplicate ---
on lb1 pgsteer restart > /dev/null
sleep 3
check no_duplicate_after_restart_in_place [ "$(alerts_with "pgb2 is DOWN")" = 1 ]
lab kill lb1 TERM > /dev/null
wait_alert "VIP migrated to lb2"
lab start lb1 > /dev/null
check lb1_back_under_nopreempt vip_back_to_lb1
sleep 3
check no_duplicate_after_stop_start [ "$(alerts_with "pgb2 is DOWN")" = 1 ]
check takeover_by_lb2_announced_by_lb2 eval 'lab alerts | grep -F "VIP migrated to lb2" | grep -q "\"value\":\"lb2\""'
lab start pgb2 > /dev/null
wait_alert "Recovery: pgb2 is back UP"
sleep 3
check one_recovery_alert [ "$(alerts_with "Recovery: pgb2 is back UP")" = 1 ]
check recovery_says_downtime eval 'lab alerts | grep -F "Recovery: pgb2 is back UP" | grep -q "down for "'

# --- 3. A crashed master: the migration message comes from the new master ------------------------
lab sink reset > /dev/null
lab kill lb1 KILL > /dev/null
lab link lb1 down > /dev/null
wait_alert "VIP migrated to lb2, lb1 is DOWN"
check vip_migration_alert eval 'lab alerts | grep -F "VIP migrated to lb2, lb1 is DOWN" | grep -q "\"value\":\"lb2\""'
return_lb lb1
wait_alert "lb1 rejoined"
# It rejoins as BACKUP (nopreempt): one alert, and none more when it gets the VIP back.
check lb1_rejoins_as_backup [ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)" = BACKUP/MASTER ]
check lb1_gets_vip_back vip_back_to_lb1
sleep 3
check one_rejoin_alert [ "$(alerts_with "lb1 rejoined")" = 1 ]

# --- 4. The sink answers 500, then 200: delivered after a retry ----------------------------------
lab sink reset > /dev/null
lab sink respond 500 1 > /dev/null
on lb1 pgsteer drain pgsql/pgb3
wait_alert "pgb3 is DRAIN" 15
check delivered_after_500 [ "$(alerts_with "pgb3 is DRAIN")" = 1 ]
check the_500_was_seen grep -q " 500" "$LAB_DIR_TEST/sink/requests.log"

# --- 5. 429 with Retry-After: 2 s later, delivered ----------------------------------------------
lab sink respond 429 1 2 > /dev/null
t0=$(mono_ms)
on lb1 pgsteer ready pgsql/pgb3
wait_alert "Recovery: pgb3 is back UP" 15
t=$(( $(mono_ms) - t0 ))
check_eval retry_after_honoured '[ "$(alerts_with "Recovery: pgb3 is back UP")" = 1 ] && [ $t -ge 2000 ]'
echo "    429 with Retry-After: 2 -> delivered after $t ms"

# --- 6. The sink down for a while: checks and steering unaffected, alerts delivered after -------
lab kill sink > /dev/null
on lb1 pgsteer maint pgsql/pgb1
lab kill pgb3 KILL > /dev/null
out=$(on client pgbench -n -S -C -c 4 -j 2 -T 4 -h "$VIP" -U app app 2>&1); rc=$?
failed=$(awk -F': ' '/number of failed transactions/ { split($2, a, " "); print a[1] }' <<< "$out")
check_eval steering_unaffected_by_dead_webhook '[ $rc -eq 0 ] && [ "${failed:-x}" = 0 ]'
wait_eval 30 '[ "$(field pgb3 status)" = DOWN ]'
check checks_unaffected_by_dead_webhook [ "$(field pgb3 status)" = DOWN ]
queued=$(on lb1 pgsteer status -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["alerts"]["queued"])')
check alerts_queued_while_webhook_down [ "$queued" -ge 1 ]
lab start sink > /dev/null
lab start pgb3 > /dev/null
on lb1 pgsteer ready pgsql/pgb1
wait_alert "pgb3 is DOWN" 40
wait_alert "pgb1 is in MAINT" 5
check alerts_delivered_when_webhook_returns eval '[ "$(alerts_with "pgb3 is DOWN")" = 1 ] && [ "$(alerts_with "pgb1 is in MAINT")" = 1 ]'
wait_eval 30 '[ "$(field pgb3 status)" = UP ]'

# --- 7. A user's consumer of /stats;csv, by column name (shell + awk, and python) ---------------
csv=$(on client curl -s "http://$VIP:8404/stats;csv")
awk_view=$(awk -F, 'NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
  $(col["svname"]) ~ /^pgb/ { printf "%s=%s/%s ", $(col["svname"]), $(col["status"]), $(col["scur"]) }' <<< "$csv")
check csv_consumer_awk_by_name grep -qE "pgb1=UP/[0-9]+ pgb2=UP/[0-9]+ pgb3=UP/[0-9]+" <<< "$awk_view"
py_view=$(python3 -c '
import csv, io, sys
text = sys.stdin.read()
rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
print(" ".join("%s=%s/%s" % (r["svname"], r["status"], r["scur"]) for r in rows if r["svname"].startswith("pgb")))' <<< "$csv")
check csv_consumer_python_by_name grep -qE "pgb1=UP/[0-9]+ pgb2=UP/[0-9]+ pgb3=UP/[0-9]+" <<< "$py_view"
echo "    CSV read by column name: $awk_view"
# Debian 12's HAProxy 2.6 header, byte for byte (reference/vectors/haproxy-2.6-stats.csv).
haproxy_hdr='# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,'
# Then pgsteer's own columns, as an HAProxy stats module adds its own (SYN floods, synflood.c).
check csv_header_is_haproxy_26_then_pgsteers [ "$(head -1 <<< "$csv")" = "${haproxy_hdr}syn_cookies,syn_flood,cookie_sent,cookie_valid,drop_cookie_invalid," ]

# --- 8. /metrics passes promtool ---------------------------------------------------------------
on client curl -s "http://$VIP:8404/metrics" > "$LAB_DIR_TEST/metrics.txt"
out=$(promtool check metrics < "$LAB_DIR_TEST/metrics.txt" 2>&1); rc=$?
check_eval metrics_pass_promtool '[ $rc -eq 0 ] && [ -s "$LAB_DIR_TEST/metrics.txt" ]'
[ $rc -eq 0 ] || echo "$out" | head -5 | sed 's/^/    /'
check metrics_have_haproxy_names grep -q '^haproxy_server_current_sessions{proxy="pgsql",server="pgb1"}' "$LAB_DIR_TEST/metrics.txt"

# --- 9. pgsteer monitor against a real HAProxy ----------------------------------------------------
lab haproxy start > /dev/null
mon=$LAB_DIR_TEST/monitor
mkdir -p "$mon"
echo "http://10.100.1.2:8080/services/T0MON/B0MON/monitor-secret" > "$mon/webhook"
chmod 600 "$mon/webhook"
"$LAB" exec client pgsteer monitor --stats-url "http://10.100.1.11:8405/stats;csv" --interval 1s \
  --state-file "$mon/state.json" --webhook-file "$mon/webhook" --node monitor --verbose > "$mon/log" 2>&1 &
BG_PIDS+=($!)
# The monitor has seen pgb2 UP (its first poll) before pgb2 goes down.
wait_eval 30 'grep -q "/pgb2 UP" "$mon/log"'
lab sink reset > /dev/null
lab kill pgb2 KILL > /dev/null
wait_alert "pgb2 is DOWN (node monitor" 15
check monitor_sees_haproxy_down [ "$(alerts_with "pgb2 is DOWN (node monitor")" = 1 ]
lab start pgb2 > /dev/null
wait_alert "Recovery: pgb2 is back UP (node monitor" 15
check monitor_sees_haproxy_recovery [ "$(alerts_with "Recovery: pgb2 is back UP (node monitor")" = 1 ]
check monitor_never_logs_the_secret eval '! grep -q monitor-secret "$mon/log"'
kill "${BG_PIDS[-1]}" 2>/dev/null
lab haproxy stop > /dev/null
wait_eval 30 '[ "$(field pgb2 status)" = UP ]'
