#!/usr/bin/env bash
# Off-path packets cannot end a session through the VIP (issue 12): 20 idle psql sessions, then an
# off-path sender on the client host forges RSTs, SYNs and FIN/ACKs with each session's exact
# 4-tuple (read from ss) and random sequence numbers (tcp_spray.py: 3 rounds, 180 packets). All 20
# sessions answer their next query, pgsteer still counts 20 active, and the datapath counted every
# forged segment as fwd_suspect.
# Why this cannot flake (bpf/lib/flow.h, the RFC 5961 rules): a random RST moves a flow only at
# exactly the sender's edge or the receiver's last ACK (2 values of 2^32), a SYN only at the first
# ISN (1 of 2^32), a FIN/ACK only with its sequence within 2^19 of 2^32 and its ACK within 2^20 of
# 2^32 (2^-25). For the 60 of each sent, the expected number of forged segments that fit a flow is
# 60 x (2^-31 + 2^-32 + 2^-25) = 1.8e-6 per run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

suspects() {
  on lb1 pgsteer status -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["datapath"]["verdicts"].get("fwd_suspect", 0))'
}

open_sessions 20
held=$(pgb_counts)
check twenty_sessions_held [ "$(sum3 "$held")" = 20 ]
wait_eval 10 '[ "$(sum3 "$(status_counts)")" = 20 ]'
before=$(suspects)

# The sessions' 4-tuples as the client sees them: local address:port - VIP:5432.
mapfile -t tuples < <(on client ss -Htn state established dst "$VIP" "( dport = :5432 )" | awk '{ print $3 "-" $4 }')
check twenty_tuples_read [ "${#tuples[@]}" = 20 ]
t0=$(mono_ms)
sent=$(on client timeout 60 python3 "$TOP/tests/lab/tcp_spray.py" 3 "${tuples[@]}" 2>&1)
echo "    sent $sent forged segments in $(( $(mono_ms) - t0 )) ms"
check spray_sent [ "$sent" = $((3 * 3 * ${#tuples[@]})) ]

# pgsteer still counts every session, and said what it forwarded without trusting it.
wait_eval 10 '[ "$(suspects)" -ge $((before + sent)) ]'
after=$(suspects)
echo "    fwd_suspect $before -> $after"
check forged_segments_counted_suspect [ "$after" -ge $((before + sent)) ]
said=$(status_counts)
check pgsteer_still_counts_20 [ "$(sum3 "$said")" = 20 ]
[ "$(sum3 "$said")" = 20 ] || echo "    pgsteer status says $said"

# Every session answers its next query, on its own connection.
for k in "${!FDS[@]}"; do echo "select 'alive$k';" >&"${FDS[$k]}"; done
alive=0
for k in "${!FDS[@]}"; do
  wait_until 10 grep -q "^alive$k\$" "$SESS_DIR/out$k" && alive=$((alive + 1))
done
check all_20_sessions_answer [ "$alive" = 20 ]
[ "$alive" = 20 ] || grep -h . "$SESS_DIR"/out* | grep -v '^alive' | sort | uniq -c | head -5 | sed 's/^/    /'
check pgbouncers_still_hold_20 [ "$(sum3 "$(pgb_counts)")" = 20 ]

close_sessions
wait_eval 10 '[ "$(status_counts)" = 0/0/0 ]'
check status_back_to_zero test "$(status_counts)" = 0/0/0
