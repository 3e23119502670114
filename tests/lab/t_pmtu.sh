#!/usr/bin/env bash
# Path MTU through the VIP. The test adds a router (namespace rtr, 10.100.1.30 on the lab's bridge)
# and a client behind it (far, 10.100.77.2), and removes them when it ends.
# 1. The router's link to far has MTU 1400, far's own 1500: far announces MSS 1460, the PgBouncer
#    host sends 1500-byte replies, the router answers them with fragmentation-needed to the VIP.
#    pgsteer must hand that error to the PgBouncer host, translated, or the 1 MB result never
#    arrives. The PgBouncer host then holds a path MTU of 1400 toward the VIP.
# 2. The load balancer's own route to far says MTU 1300 (the router's link back at 1500): a session
#    opened before sends its 1 MB result; pgsteer answers the too-big replies with
#    fragmentation-needed itself (icmp_too_big) and the result arrives.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
SW=$(nsof sw) RTR=$(nsof rtr) FAR=$(nsof far)
RTR_ADDR=10.100.1.30 FAR_NET=10.100.77.0/24 RTR_FAR=10.100.77.1 FAR_ADDR=10.100.77.2
BIG="select repeat('x', 1000000)"

# Everything the test added: the two namespaces (their veths go with them) and the routes to far.
pmtu_down() {
  local lb
  ip netns del "$FAR" 2>/dev/null
  ip netns del "$RTR" 2>/dev/null
  for lb in lb1 lb2; do ip -n "$(nsof "$lb")" route del "$FAR_NET" 2>/dev/null; done
  return 0
}
trap 'pmtu_down; bg_cleanup' EXIT
pmtu_down

in_far() { nsenter --net="/run/netns/$FAR" -- env PGPASSWORD=app-secret "$@"; }
# A verdict counted by both load balancers together: whichever holds the VIP steers (a test before
# this one may have left lb2 master for a while).
verdict() {
  local lb n=0 v
  for lb in lb1 lb2; do
    v=$(on "$lb" pgsteer status -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"]["verdicts"][sys.argv[1]])' "$1")
    n=$((n + ${v:-0}))
  done
  echo "$n"
}
# The path MTU the PgBouncer host holds toward the VIP (empty: none learned).
pgb_pmtu() { on pgb ip -o route get "$VIP" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'; }

ip netns add "$RTR" && ip netns add "$FAR" || { fail setup "cannot create $RTR and $FAR"; exit 0; }
for ns in "$RTR" "$FAR"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
# As the lab wires its nodes: a switch port with tx checksumming off, so receivers verify checksums.
ip -n "$SW" link add rtr type veth peer name eth0 netns "$RTR"
ip -n "$SW" link set rtr master br0
ip netns exec "$SW" ethtool -K rtr tx off >/dev/null
ip -n "$SW" link set rtr up
ip -n "$RTR" addr add "$RTR_ADDR/24" dev eth0
ip -n "$RTR" link set eth0 up
ip -n "$RTR" link add eth1 type veth peer name eth0 netns "$FAR"
ip netns exec "$RTR" ethtool -K eth1 tx off >/dev/null
ip -n "$RTR" addr add "$RTR_FAR/24" dev eth1
ip -n "$RTR" link set eth1 mtu 1400 up
ip netns exec "$RTR" sysctl -qw net.ipv4.ip_forward=1
ip -n "$FAR" addr add "$FAR_ADDR/24" dev eth0
ip -n "$FAR" link set eth0 up
ip -n "$FAR" route add 10.100.1.0/24 via "$RTR_FAR"
for lb in lb1 lb2; do ip -n "$(nsof "$lb")" route replace "$FAR_NET" via "$RTR_ADDR"; done
on pgb ip route flush cache

# 1. The router's frag-needed reaches the PgBouncer host through pgsteer.
fwd0=$(verdict icmp_fwd)
t0=$(mono_ms)
bytes=$(in_far timeout 60 psql -h "$VIP" -U app -d app -X -At -c "$BIG" 2>/dev/null | wc -c)
t1=$(mono_ms)
fwd1=$(verdict icmp_fwd)
echo "    1 MB result across a 1400-byte hop: $bytes bytes in $((t1 - t0)) ms, icmp_fwd +$((fwd1 - fwd0)), PgBouncer host's path MTU to the VIP: $(pgb_pmtu)"
check big_result_across_smaller_router_hop [ "$bytes" = 1000001 ]
check router_frag_needed_translated [ "$((fwd1 - fwd0))" -gt 0 ]
check pgbouncer_host_learned_pmtu_1400 [ "$(pgb_pmtu)" = 1400 ]

# 2. The load balancers' own route is the smaller one: pgsteer answers with frag-needed itself.
ip -n "$RTR" link set eth1 mtu 1500
mkfifo "$SESS_DIR/pmtu-in"
nsenter --net="/run/netns/$FAR" -- env PGPASSWORD=app-secret psql -h "$VIP" -U app -d app -X -At \
  < "$SESS_DIR/pmtu-in" > "$SESS_DIR/pmtu-out" 2>&1 &
BG_PIDS+=($!)
exec {fd}> "$SESS_DIR/pmtu-in"
echo "select 'open';" >&$fd
wait_until 10 grep -q open "$SESS_DIR/pmtu-out"
for lb in lb1 lb2; do ip -n "$(nsof "$lb")" route replace "$FAR_NET" via "$RTR_ADDR" mtu lock 1300; done
big0=$(verdict icmp_too_big)
t0=$(mono_ms)
echo "$BIG;" >&$fd
echo "select 'done';" >&$fd
wait_until 60 grep -q '^done$' "$SESS_DIR/pmtu-out"
t1=$(mono_ms)
big1=$(verdict icmp_too_big)
xs=$(awk 'length($0) == 1000000 && !/[^x]/ { n++ } END { print n + 0 }' "$SESS_DIR/pmtu-out")
echo "    1 MB result across the load balancer's 1300-byte route: $((t1 - t0)) ms, icmp_too_big +$((big1 - big0)), PgBouncer host's path MTU to the VIP: $(pgb_pmtu)"
check big_result_across_smaller_lb_route [ "$xs" = 1 ]
check lb_answered_too_big_with_frag_needed [ "$((big1 - big0))" -gt 0 ]
check pgbouncer_host_learned_pmtu_1300 [ "$(pgb_pmtu)" = 1300 ]
exec {fd}>&-
on pgb ip route flush cache

# Nobody received a translated or generated packet with a bad checksum.
far_bad=$(ip netns exec "$FAR" nstat -asz TcpInCsumErrors | awk '/TcpInCsumErrors/ { print $2 }')
pgb_bad=$(on pgb nstat -asz IcmpInCsumErrors TcpInCsumErrors | awk '/CsumErrors/ { n += $2 } END { print n + 0 }')
check_eval no_checksum_errors_at_far_or_pgbouncer_host '[ "${far_bad:-0}" = 0 ] && [ "$pgb_bad" = 0 ]'
