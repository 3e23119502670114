#!/usr/bin/env bash
# Steering through the VIP: psql reaches PostgreSQL, held connections spread evenly (counted on the
# PgBouncer host), pgsteer status agrees and returns to 0, pgbench -C loses nothing, a session
# survives a pgsteerd restart, and no receiver saw a bad TCP checksum.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)

# 1. psql through the VIP reaches PostgreSQL.
out=$(on client "${PSQL[@]}" -c "select count(*) from pgbench_branches" 2>&1)
check psql_through_vip [ "$out" = 10 ]

# 2. 30 idle sessions, opened one after the other, spread 10/10/10 (PgBouncer host's count).
open_sessions 30
held=$(pgb_counts)
check held_sessions_spread_10_10_10 [ "$held" = 10/10/10 ]
[ "$held" = 10/10/10 ] || echo "    pgb1/pgb2/pgb3 hold $held"

# pgsteer status agrees with the PgBouncer host.
said=$(status_counts)
check status_agrees_with_pgbouncer_host [ "$said" = "$held" ]
[ "$said" = "$held" ] || echo "    status says $said"

# The clients leave: every count returns to 0.
close_sessions
wait_eval 10 '[ "$(status_counts)" = 0/0/0 ]'
check status_back_to_zero test "$(status_counts)" = 0/0/0
check pgbouncers_released_all test "$(pgb_counts)" = 0/0/0

# 3. pgbench with a new connection per transaction: nothing fails.
out=$(on client pgbench -n -S -C -c 4 -j 2 -t 100 -h "$VIP" -U app app 2>&1)
rc=$?
failed=$(echo "$out" | awk -F': ' '/number of failed transactions/ { split($2, a, " "); print a[1] }')
done_tx=$(echo "$out" | awk -F': ' '/number of transactions actually processed/ { split($2, a, "/"); print a[1] }')
ok=no; [ $rc -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${done_tx:-0}" = 400 ] && ok=yes
check pgbench_connect_per_tx_no_failures [ $ok = yes ]
[ $ok = yes ] || echo "$out" | tail -5 | sed 's/^/    /'

# 4. An open session survives a pgsteerd restart: the datapath, its flows and the VIP stay (a restart
#    in place: the new process takes over the VRRP role before the peer could notice).
tmp=$(mktemp -d)
mkfifo "$tmp/in"
"$LAB" exec client "${PSQL[@]}" < "$tmp/in" > "$tmp/out" 2>&1 &
BG_PIDS+=($!)
exec {fd}> "$tmp/in"
echo "select 'before';" >&$fd
wait_until 5 grep -q before "$tmp/out"
port_before=$(on client ss -Htn state established dst "$VIP" | awk '{ print $3 }')
lb2_before=$(on lb2 pgsteer status -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["vrrp"]["transitions"])')
out=$(on lb1 pgsteer restart 2>&1)
check pgsteer_restart_answers grep -q "restarted in place" <<< "$out"
echo "select 'after';" >&$fd
wait_until 5 grep -q after "$tmp/out"
port_after=$(on client ss -Htn state established dst "$VIP" | awk '{ print $3 }')
check session_survives_pgsteerd_restart grep -q after "$tmp/out"
check same_tcp_connection_after_restart [ -n "$port_before" -a "$port_before" = "$port_after" ]
grep -q after "$tmp/out" || sed 's/^/    /' "$tmp/out"
lb2_after=$(on lb2 pgsteer status -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["vrrp"]["transitions"])')
check vip_stayed_on_lb1_during_restart [ "$lb2_before" = "$lb2_after" ]
exec {fd}>&-
rm -rf "$tmp"

# 5. bpftool prints the pinned maps as structs (BTF).
out=$(bpftool map dump pinned "$(pinof lb1)"/pgs_servers 2>&1 | head -40)
check bpftool_dump_readable grep -q '"name": "pgb1"' <<< "$out"

# 6. No receiver dropped a segment for a bad TCP checksum.
for node in pgb client; do
  n=$(csum_errors $node)
  check "no_tcp_csum_errors_on_$node" [ "${n:-x}" = 0 ]
done
