#!/usr/bin/env bash
# ONCE=1 (pgsteer flows reads the pinned flow table, the same whatever the attach mode)
# Who is behind which connection: for every client row PgBouncer's SHOW CLIENTS lists (the VIP and
# a SNAT port, full NAT hides the client), `pgsteer flows -j` names the real client address and port
# (as the client's own sockets show them) and the same server; --server and --client filter. The
# connection log (the lab's pgsteerd have "log connections file") has each session's open and close.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t_start=$SECONDS

CONNLOG=$LAB_DIR_TEST/lb1/connections.log
log_from=$(($(cat "$CONNLOG" 2>/dev/null | wc -l) + 1))
# conn_logged KIND TAIL: every session of the client in $joined ("server snat_port addr port") has a
# "connection KIND" line in lb1's log since the test began, naming its client port, the VIP, the
# server and the SNAT port, ending with TAIL (an extended regular expression).
conn_logged() {
  local srv sport caddr cport
  while read -r srv sport caddr cport; do
    [ "$caddr" = 10.100.1.2 ] || continue
    tail -n +"$log_from" "$CONNLOG" | grep -qE "connection $1 10\.100\.1\.2:$cport > ${VIP//./\.}:5432 > pgsql/$srv [0-9.:]+ as ${VIP//./\.}:$sport$2" || return 1
  done <<< "$joined"
}

open_sessions 6
flows=$(on lb1 pgsteer flows -j)
# PgBouncer's view: "server snat_port" for each client connection from the VIP, on all three.
show=$(for p in 6432 6433 6434; do
  on pgb psql -h 10.100.1.5 -p $p -U app -d pgbouncer -X -At -F ' ' -c "show clients" |
    awk -v vip="$VIP" -v name="pgb$((p - 6431))" '$5 == vip { print name, $6 }'
done | sort)
# The client's view: its local ports of connections to the VIP.
ports=$(on client ss -Htn state established dst "$VIP" | awk '{ n = split($3, a, ":"); print a[n] }' | sort -n)
# The flows' view, joined: "server snat_port client_addr client_port" of established flows.
# (On stdin: after other tests' connection churn, the table's closed flows, held while their
# PgBouncer keeps TIME_WAIT, make more JSON than one argument may carry.)
joined=$(python3 -c '
import json, sys
for f in json.load(sys.stdin):
    if f["state"] == "ESTABLISHED":
        print(f["server"], f["snat_port"], f["client_addr"], f["client_port"])' <<< "$flows" | sort)
echo "    SHOW CLIENTS (server, SNAT port):" $show
# (The lab's app, 10.100.1.3, holds pools through the VIP too: its rows are checked the same way.)
check six_clients_on_pgbouncers [ "$(wc -l <<< "$show")" -ge 6 ]
miss=0
while read -r srv port; do
  row=$(awk -v s="$srv" -v p="$port" '$1 == s && $2 == p' <<< "$joined")
  if [ -z "$row" ]; then miss=$((miss + 1)); echo "    no flow of $srv with SNAT port $port"; continue; fi
  read -r _ _ caddr cport <<< "$row"
  if [ "$caddr" != 10.100.1.3 ] && { [ "$caddr" != 10.100.1.2 ] || ! grep -qx "$cport" <<< "$ports"; }; then
    miss=$((miss + 1)); echo "    $srv:$port -> $caddr:$cport, not one of the client's connections"
  fi
done <<< "$show"
check flows_name_client_behind_each_snat_port [ "$miss" = 0 ]
check flows_client_ports_are_clients_own [ "$(awk '$3 == "10.100.1.2" { print $4 }' <<< "$joined" | sort -n)" = "$ports" ]

# Filters: --server keeps that server's flows only, in every state (a closing flow of an earlier
# connection lingers until it expires, so counting all of them against the established ones is off).
# What must hold: every row is that server's, and it has exactly the client's established sessions
# on that server (the client's own sessions stay put during the test; other hosts' may come and go).
srv=$(awk '$3 == "10.100.1.2" { print $1; exit }' <<< "$joined")
want=$(awk -v s="$srv" '$1 == s && $3 == "10.100.1.2" { print $2 }' <<< "$joined" | sort -n | xargs)
got=$(on lb1 pgsteer flows -j --server "pgsql/$srv" | python3 -c '
import json, sys
f = json.load(sys.stdin)
print(",".join(sorted({str(x["server"]) for x in f})), " ".join(str(p) for p in sorted(
    x["snat_port"] for x in f if x["state"] == "ESTABLISHED" and x["client_addr"] == "10.100.1.2")))')
echo "    --server pgsql/$srv: servers and the client's established SNAT ports: $got (want $srv $want)"
check flows_server_filter [ "$got" = "$srv $want" ]
cport=$(head -n 1 <<< "$ports")
got=$(on lb1 pgsteer flows -j --client "10.100.1.2:$cport" | python3 -c 'import json, sys; print(" ".join(str(x["client_port"]) for x in json.load(sys.stdin)))')
check flows_client_filter [ "$got" = "$cport" ]
table=$(on lb1 pgsteer flows --client 10.100.1.2)
check flows_table_lists_client [ "$(grep -c "^10\.100\.1\.2:.* ESTABLISHED " <<< "$table")" = 6 ]
on lb1 pgsteer flows --client "10.100.1.2:$cport" | sed 's/^/    /'
check flows_bad_client_refused [ "$(on lb1 pgsteer flows --client 10.100.1 > /dev/null 2>&1; echo $?)" = 1 ]
t0=$(mono_ms)
wait_until 30 conn_logged open '$'
check connlog_open_line_per_session conn_logged open '$'
echo "    connection log, opened:"; tail -n +"$log_from" "$CONNLOG" | grep "connection open 10\.100\.1\.2:" | sed 's/^/      /'
close_sessions
# (psql sends Terminate, then closes: PgBouncer may close first on reading it, so either side's FIN.)
wait_until 30 conn_logged close ' after [0-9]+\.[0-9]{3}s, closed by (client|server) \(FIN\)$'
check connlog_close_line_per_session conn_logged close ' after [0-9]+\.[0-9]{3}s, closed by (client|server) \(FIN\)$'
tail -n +"$log_from" "$CONNLOG" | grep "connection close 10\.100\.1\.2:" | head -n 2 | sed 's/^/      /'
echo "    connection log lines seen within $(($(mono_ms) - t0)) ms"
echo "    t_flows took $((SECONDS - t_start)) s"
