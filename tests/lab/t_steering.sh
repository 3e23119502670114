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
tmp=$(mktemp -d)
for i in $(seq 1 30); do
  mkfifo "$tmp/in$i"
  on client "${PSQL[@]}" < "$tmp/in$i" > "$tmp/out$i" 2>&1 &
  BG_PIDS+=($!)
  exec {fd}> "$tmp/in$i"
  FDS+=($fd)
  wait_until 5 test "$(( $(pgb_conns 6432) + $(pgb_conns 6433) + $(pgb_conns 6434) ))" -ge "$i"
done
c1=$(pgb_conns 6432); c2=$(pgb_conns 6433); c3=$(pgb_conns 6434)
check held_sessions_spread_10_10_10 [ "$c1/$c2/$c3" = 10/10/10 ]
[ "$c1/$c2/$c3" = 10/10/10 ] || echo "    pgb1/pgb2/pgb3 hold $c1/$c2/$c3"

# pgsteer status agrees with the PgBouncer host.
s1=$(srv_field pgb1 scur); s2=$(srv_field pgb2 scur); s3=$(srv_field pgb3 scur)
check status_agrees_with_pgbouncer_host [ "$s1/$s2/$s3" = "$c1/$c2/$c3" ]
[ "$s1/$s2/$s3" = "$c1/$c2/$c3" ] || echo "    status says $s1/$s2/$s3"

# The clients leave: every count returns to 0.
for fd in "${FDS[@]}"; do exec {fd}>&-; done
wait_until 10 test "$(( $(srv_field pgb1 scur) + $(srv_field pgb2 scur) + $(srv_field pgb3 scur) ))" -eq 0
check status_back_to_zero test "$(( $(srv_field pgb1 scur) + $(srv_field pgb2 scur) + $(srv_field pgb3 scur) ))" -eq 0
check pgbouncers_released_all test "$(( $(pgb_conns 6432) + $(pgb_conns 6433) + $(pgb_conns 6434) ))" -eq 0
rm -rf "$tmp"

# 3. pgbench with a new connection per transaction: nothing fails.
out=$(on client pgbench -n -S -C -c 4 -j 2 -t 250 -h "$VIP" -U app app 2>&1)
rc=$?
failed=$(echo "$out" | awk -F': ' '/number of failed transactions/ { split($2, a, " "); print a[1] }')
done_tx=$(echo "$out" | awk -F': ' '/number of transactions actually processed/ { split($2, a, "/"); print a[1] }')
ok=no; [ $rc -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${done_tx:-0}" = 1000 ] && ok=yes
check pgbench_connect_per_tx_no_failures [ $ok = yes ]
[ $ok = yes ] || echo "$out" | tail -5 | sed 's/^/    /'

# 4. An open session survives a pgsteerd restart (the datapath and its flows stay).
tmp=$(mktemp -d)
mkfifo "$tmp/in"
on client "${PSQL[@]}" < "$tmp/in" > "$tmp/out" 2>&1 &
BG_PIDS+=($!)
exec {fd}> "$tmp/in"
echo "select 'before';" >&$fd
wait_until 5 grep -q before "$tmp/out"
port_before=$(on client ss -Htn state established dst "$VIP" | awk '{ print $3 }')
lab kill lb1 > /dev/null && lab start lb1 > /dev/null
echo "select 'after';" >&$fd
wait_until 5 grep -q after "$tmp/out"
port_after=$(on client ss -Htn state established dst "$VIP" | awk '{ print $3 }')
check session_survives_pgsteerd_restart grep -q after "$tmp/out"
check same_tcp_connection_after_restart [ -n "$port_before" -a "$port_before" = "$port_after" ]
grep -q after "$tmp/out" || sed 's/^/    /' "$tmp/out"
exec {fd}>&-
rm -rf "$tmp"

# 5. bpftool prints the pinned maps as structs (BTF).
out=$(bpftool map dump pinned /sys/fs/bpf/pgsteer-lb1/pgs_servers 2>&1 | head -40)
check bpftool_dump_readable grep -q '"name": "pgb1"' <<< "$out"

# 6. No receiver dropped a segment for a bad TCP checksum.
for node in pgb client; do
  n=$(csum_errors $node)
  check "no_tcp_csum_errors_on_$node" [ "${n:-x}" = 0 ]
done
