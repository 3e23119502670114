#!/usr/bin/env bash
# ONCE=1 (the guard is pgsteerd's, whatever the attach mode)
# The node's guard: something turns net.ipv4.conf.eth0.forwarding off on the master (every steered
# packet would be drop_fib): pgsteerd turns it back on within a few ticks, logs it, and queries
# through the VIP work again.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)
LOGF=$LAB_DIR_TEST/lb1/pgsteerd.log

fwd_on() { [ "$(on lb1 sysctl -n net.ipv4.conf.eth0.forwarding)" = 1 ]; }
before=$(grep -c 'forwarding was turned off' "$LOGF")
t0=$(mono_ms)
on lb1 sysctl -qw net.ipv4.conf.eth0.forwarding=0
wait_until 10 fwd_on
t1=$(mono_ms)
echo "    forwarding back on after $((t1 - t0)) ms"
check forwarding_turned_back_on fwd_on
check forwarding_restore_logged [ "$(grep -c 'forwarding was turned off' "$LOGF")" -gt "$before" ]
out=$(on client "${PSQL[@]}" -c "select 1" 2>&1)
check query_through_vip_after_restore [ "$out" = 1 ]
