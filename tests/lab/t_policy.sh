#!/usr/bin/env bash
# Source-address policy (allow/deny in the service): after a reload, a refused source's psql gets no
# connection (its SYNs dropped and counted as drop_policy, no PgBouncer sees it) while an allowed
# source's psql works; the longest matching network decides; a session open before the change keeps
# working through every change; removing the lines by reload lets the source in again.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t_start=$SECONDS
conf=$LAB_DIR_TEST/lb1/pgsteerd.conf
orig=$(mktemp)
cp "$conf" "$orig"
# The lab's own config again at exit, whatever happened (the tests after this one need it).
restore() { cp "$orig" "$conf"; on lb1 pgsteer reload > /dev/null; rm -f "$orig"; bg_cleanup; }
trap restore EXIT

# One psql through the VIP from NODE (client is 10.100.1.2, app 10.100.1.3); prints its answer or
# its error. A refused SYN is dropped, so the attempt ends at connect_timeout.
try_psql() {
  on "$1" psql "host=$VIP user=app dbname=app connect_timeout=3" -X -At -c "select 'in from $1'" 2>&1
}
drop_policy() {
  on lb1 pgsteer status -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["datapath"]["verdicts"]["drop_policy"])'
}
# The service's policy is the service section's allow/deny lines: set_policy LINE... (none: no policy).
set_policy() {
  local l
  cp "$orig" "$conf"
  for l in "$@"; do echo "    $l" >> "$conf"; done
  on lb1 pgsteer reload 2>&1 | grep -q reloaded
}
# The live session answers a query: live_answers TAG.
live_answers() {
  echo "select 'live $1';" >&"${FDS[0]}"
  wait_eval 30 'grep -q "^live '"$1"'$" "$SESS_DIR/out0"'
}

# A session from the client, open before any policy.
open_sessions 1
check session_open_before [ "$(sum3 "$(pgb_counts)")" = 1 ]

# 1. deny 10.100.1.2/32: the client is refused, counted, and reaches no PgBouncer; app gets in.
check deny_reloaded set_policy "deny 10.100.1.2/32"
d0=$(drop_policy)
out=$(try_psql client)
check denied_source_gets_no_connection [ "$(grep -c "^in from client$" <<< "$out")" = 0 ]
grep -q "^in from client$" <<< "$out" && sed 's/^/    /' <<< "$out"
d1=$(drop_policy)
check denied_syn_counted_drop_policy [ "$d1" -gt "$d0" ]
check denied_source_reaches_no_pgbouncer [ "$(sum3 "$(pgb_counts)")" = 1 ]
check allowed_source_gets_in grep -q "^in from app$" <<< "$(try_psql app)"
check live_session_survives_deny live_answers deny
echo "    drop_policy +$((d1 - d0)) for the refused psql (its SYN and retransmissions)"

# 2. allow 10.100.1.0/24 with deny 10.100.1.2/32 inside it: the longer network decides.
check allow_net_deny_host_reloaded set_policy "allow 10.100.1.0/24" "deny 10.100.1.2/32"
check longest_match_refuses_client [ "$(grep -c "^in from client$" <<< "$(try_psql client)")" = 0 ]
check longest_match_allows_app grep -q "^in from app$" <<< "$(try_psql app)"

# 3. allow 10.100.1.3/32 alone: every other source is refused.
check allow_only_app_reloaded set_policy "allow 10.100.1.3/32"
d0=$(drop_policy)
check allow_list_refuses_others [ "$(grep -c "^in from client$" <<< "$(try_psql client)")" = 0 ]
check allow_list_refusal_counted [ "$(drop_policy)" -gt "$d0" ]
check allow_list_admits_app grep -q "^in from app$" <<< "$(try_psql app)"
check live_session_survives_allow live_answers allow

# 4. No policy again (reload): the client gets in; the live session still answers.
check policy_removed_reloaded set_policy
check client_in_again grep -q "^in from client$" <<< "$(try_psql client)"
check live_session_survives_removal live_answers removal
close_sessions
echo "    t_policy took $((SECONDS - t_start)) s"
