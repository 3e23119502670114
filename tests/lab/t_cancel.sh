#!/usr/bin/env bash
# Cancel routing (cancel-routing on, the default): nine psql Ctrl-C (SIGINT) through the VIP cancel
# their running query although leastconn sends each cancel connection elsewhere; a cancelled session
# runs its next query normally (no second delivery); a bogus key and a burst of 1000 bogus cancels
# cancel nothing and disturb no session; the counters say what happened.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)

# The cancel counters of lb1 (pgsteer status -j: datapath.cancel.FIELD).
cancel_stat() {
  on lb1 pgsteer status -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["datapath"]["cancel"][sys.argv[1]])' "$1"
}

# Send N CancelRequests with random keys to VIP:5432 from the client, at most 50 connections at a
# time, each waiting (bounded) for the server to close; prints how many were sent.
bogus_cancels() {
  on client python3 - "$VIP" "$1" <<'PY'
import random, selectors, socket, struct, sys, time
vip, n = sys.argv[1], int(sys.argv[2])
sel, sent, live, end = selectors.DefaultSelector(), 0, 0, time.monotonic() + 60
while (sent < n or live) and time.monotonic() < end:
    while sent < n and live < 50:
        s = socket.create_connection((vip, 5432), timeout=5)
        s.sendall(struct.pack("!IIII", 16, 80877102, random.getrandbits(31), random.getrandbits(32)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        sent += 1; live += 1
    for key, _ in sel.select(timeout=1):
        try:
            if key.fileobj.recv(64):
                continue
        except OSError:
            pass
        sel.unregister(key.fileobj); key.fileobj.close(); live -= 1
print(sent)
PY
}

seen0=$(cancel_stat seen); routed0=$(cancel_stat routed); dropped0=$(cancel_stat dropped)

# 30 idle sessions: leastconn would send a cancel connection to any PgBouncer but the busy one's.
open_sessions 30

# 1. Nine Ctrl-C on pg_sleep(6), each in a session of its own.
ok=0 times=()
for i in 1 2 3 4 5 6 7 8 9; do
  "$LAB" exec client "${PSQL[@]}" -c "select pg_sleep(6)" > "$SESS_DIR/c$i" 2>&1 &
  pid=$!
  sleep 1
  t0=$(mono_ms)
  kill -INT "$pid"
  wait "$pid" 2>/dev/null # pg_sleep(6) bounds it
  times+=($(( $(mono_ms) - t0 )))
  if grep -q "canceling statement due to user request" "$SESS_DIR/c$i"; then ok=$((ok + 1)); else sed 's/^/    /' "$SESS_DIR/c$i"; fi
done
check nine_of_nine_cancelled [ "$ok" = 9 ]
echo "    $ok/9 cancelled; SIGINT to psql exit, ms: ${times[*]} (median $(median "${times[@]}"))"

# 2. A cancelled session runs its next query normally: a second delivery would cancel it. (Two -c
#    on one connection: psql reading a pipe does not survive SIGINT, psql -c does.)
"$LAB" exec client "${PSQL[@]}" -c "select pg_sleep(6)" -c "select pg_sleep(2), 'next query'" > "$SESS_DIR/cout" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid" 2>/dev/null # bounded by its two queries
check cancelled_session_runs_next_query grep -q "|next query" "$SESS_DIR/cout"
check first_query_cancelled_once [ "$(grep -c "canceling statement" "$SESS_DIR/cout")" = 1 ]
grep -q "|next query" "$SESS_DIR/cout" || sed 's/^/    /' "$SESS_DIR/cout"

# 3. A bogus key, then a burst of 1000, while a query runs: nothing is cancelled.
"$LAB" exec client "${PSQL[@]}" -c "select pg_sleep(4), 'survived'" > "$SESS_DIR/sout" 2>&1 &
pid=$!
sleep 1
sent1=$(bogus_cancels 1)
sent=$(bogus_cancels 1000)
wait "$pid" 2>/dev/null
check bogus_cancels_sent [ "$sent1" = 1 -a "$sent" = 1000 ]
check bogus_cancels_cancel_nothing grep -q "|survived" "$SESS_DIR/sout"
grep -q "|survived" "$SESS_DIR/sout" || sed 's/^/    /' "$SESS_DIR/sout"
# Every idle session still answers.
for fd in "${FDS[@]}"; do echo "select 'alive';" >&$fd; done
wait_eval 30 '[ "$(cat "$SESS_DIR"/out* | grep -c "^alive$")" -ge 30 ]'
alive=$(cat "$SESS_DIR"/out* | grep -c "^alive$")
check thirty_sessions_undisturbed [ "$alive" = 30 ]
close_sessions

# 4. The counters: every cancel seen once, each either routed or dropped (rate limit).
wait_eval 30 '[ $(( $(cancel_stat routed) + $(cancel_stat dropped) - routed0 - dropped0 )) -ge 1011 ]'
seen=$(( $(cancel_stat seen) - seen0 )); routed=$(( $(cancel_stat routed) - routed0 ))
dropped=$(( $(cancel_stat dropped) - dropped0 ))
check cancels_seen_once [ "$seen" = 1011 ]
check cancels_routed_or_dropped [ $((routed + dropped)) = 1011 ]
check real_cancels_routed [ "$routed" -ge 10 ]
echo "    cancels seen $seen, routed $routed, dropped $dropped, copies delivered $(cancel_stat fanned_out), failed $(cancel_stat failed)"
# PgBouncer takes the copies as libpq's cancels: none of them crashed (1.18 dies of a half-close).
check pgbouncers_all_up [ "$(srv_field pgb1 status)/$(srv_field pgb2 status)/$(srv_field pgb3 status)" = UP/UP/UP ]
