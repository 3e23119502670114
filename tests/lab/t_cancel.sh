#!/usr/bin/env bash
# Cancel routing (cancel-routing on, the default): nine psql Ctrl-C (SIGINT) through the VIP, at once,
# cancel their running query although leastconn sends each cancel connection elsewhere; a cancelled session
# runs its next query normally (no second delivery); a bogus key and a burst of 1000 bogus cancels
# cancel nothing and disturb no session; the counters say what happened.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PSQL=(psql -h "$VIP" -U app -d app -X -At)

# The cancel counters of lb1 (pgsteer status -j: datapath.cancel.FIELD).
cancel_stat() {
  on lb1 pgsteer status -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["datapath"]["cancel"][sys.argv[1]])' "$1"
}

# How many statements QUERY (no quotes in it) are running in PostgreSQL (asked through the VIP).
running() {
  on client "${PSQL[@]}" -c "select count(*) from pg_stat_activity where state = 'active' and query = '$1'"
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
t_start=$SECONDS

# 30 idle sessions: leastconn would send a cancel connection to any PgBouncer but the busy one's.
open_sessions_at_once 30

# 1. Nine psql sessions run pg_sleep(30) (a query not cancelled would hold its psql for 30 s); once
#    PostgreSQL runs all nine, each psql gets its Ctrl-C at the same moment.
Q1="select pg_sleep(30) /* t_cancel nine */"
pids=()
for i in 1 2 3 4 5 6 7 8 9; do
  "$LAB" exec client "${PSQL[@]}" -c "$Q1" > "$SESS_DIR/c$i" 2>&1 &
  pids+=($!)
done
BG_PIDS+=("${pids[@]}")
wait_eval 30 '[ "$(running "$Q1")" = 9 ]'
check nine_queries_running [ "$(running "$Q1")" = 9 ]
t0=$(mono_ms)
kill -INT "${pids[@]}"
wait "${pids[@]}" 2>/dev/null # pg_sleep(30) bounds them
ms=$(( $(mono_ms) - t0 ))
ok=0
for i in 1 2 3 4 5 6 7 8 9; do
  if grep -q "canceling statement due to user request" "$SESS_DIR/c$i"; then ok=$((ok + 1)); else sed 's/^/    /' "$SESS_DIR/c$i"; fi
done
check nine_of_nine_cancelled [ "$ok" = 9 ]
echo "    $ok/9 cancelled; SIGINT to the last psql's exit: $ms ms"

# 2. A cancelled session runs its next query normally: a second delivery would cancel it. psql
#    gives up its remaining -c commands after a Ctrl-C, so this session is libpq's own (ctypes; as in
#    psql, PQcancel sends the CancelRequest on a new connection to the VIP).
on client python3 - "$VIP" > "$SESS_DIR/cout" 2>&1 <<'PY'
import ctypes, sys, time
pq = ctypes.CDLL("libpq.so.5")
for f in ("PQconnectdb", "PQgetResult", "PQexec", "PQgetCancel"):
    getattr(pq, f).restype = ctypes.c_void_p
for f in ("PQresultErrorMessage", "PQerrorMessage", "PQgetvalue"):
    getattr(pq, f).restype = ctypes.c_char_p
def connect():
    c = ctypes.c_void_p(pq.PQconnectdb(("host=%s user=app dbname=app connect_timeout=10" % sys.argv[1]).encode()))
    if pq.PQstatus(c) != 0:
        sys.exit("connect: %s" % pq.PQerrorMessage(c).decode())
    return c
def value(c, sql):
    r = ctypes.c_void_p(pq.PQexec(c, sql))
    v = pq.PQgetvalue(r, 0, 1).decode() if pq.PQresultStatus(r) == 2 else pq.PQresultErrorMessage(r).decode().strip()
    pq.PQclear(r)
    return v
c, watch = connect(), connect()
pq.PQsendQuery(c, b"select pg_sleep(30) /* t_cancel next */")
end = time.monotonic() + 30
while time.monotonic() < end and value(watch, b"select 0, count(*) from pg_stat_activity where state = 'active' "
                                               b"and query = 'select pg_sleep(30) /* t_cancel next */'") != "1":
    time.sleep(0.1)
t0 = time.monotonic()
cancel, err = ctypes.c_void_p(pq.PQgetCancel(c)), ctypes.create_string_buffer(256)
print("PQcancel", pq.PQcancel(cancel, err, 256), err.value.decode())
pq.PQfreeCancel(cancel)
while True:
    r = pq.PQgetResult(c)
    if not r:
        break
    r = ctypes.c_void_p(r)
    print("first:", pq.PQresultErrorMessage(r).decode().strip() or "no error", "after %.1f s" % (time.monotonic() - t0))
    pq.PQclear(r)
# A second copy of the CancelRequest still on its way would land in this query.
print("next:", value(c, b"select pg_sleep(2), 'next query'"))
pq.PQfinish(c); pq.PQfinish(watch)
PY
check cancelled_session_runs_next_query grep -q "^next: next query" "$SESS_DIR/cout"
check first_query_cancelled_once [ "$(grep -c "canceling statement" "$SESS_DIR/cout")" = 1 ]
sed 's/^/    /' "$SESS_DIR/cout"

# 3. A bogus key, then a burst of 1000, while a query runs: once pgsteerd has dealt with every one of
#    them, the query still runs (then a real Ctrl-C ends it).
Q3="select pg_sleep(30) /* t_cancel bogus */"
"$LAB" exec client "${PSQL[@]}" -c "$Q3" > "$SESS_DIR/sout" 2>&1 &
pid=$!
BG_PIDS+=($pid)
wait_eval 30 '[ "$(running "$Q3")" = 1 ]'
t0=$(mono_ms)
sent1=$(bogus_cancels 1)
sent=$(bogus_cancels 1000)
echo "    1001 bogus cancels sent in $(( $(mono_ms) - t0 )) ms"
check bogus_cancels_sent [ "$sent1" = 1 -a "$sent" = 1000 ]
wait_eval 30 '[ $(( $(cancel_stat routed) + $(cancel_stat dropped) - routed0 - dropped0 )) -ge 1011 ]'
check bogus_cancels_cancel_nothing [ "$(running "$Q3")" = 1 ]
kill -INT "$pid"
wait "$pid" 2>/dev/null # pg_sleep(30) bounds it
check real_cancel_after_flood grep -q "canceling statement due to user request" "$SESS_DIR/sout"
# Every idle session still answers.
for fd in "${FDS[@]}"; do echo "select 'alive';" >&$fd; done
wait_eval 30 '[ "$(cat "$SESS_DIR"/out* | grep -c "^alive$")" -ge 30 ]'
alive=$(cat "$SESS_DIR"/out* | grep -c "^alive$")
check thirty_sessions_undisturbed [ "$alive" = 30 ]
close_sessions

# 4. The counters: every cancel seen once, each either routed or dropped (rate limit).
wait_eval 30 '[ $(( $(cancel_stat routed) + $(cancel_stat dropped) - routed0 - dropped0 )) -ge 1012 ]'
seen=$(( $(cancel_stat seen) - seen0 )); routed=$(( $(cancel_stat routed) - routed0 ))
dropped=$(( $(cancel_stat dropped) - dropped0 ))
check cancels_seen_once [ "$seen" = 1012 ]
check cancels_routed_or_dropped [ $((routed + dropped)) = 1012 ]
check real_cancels_routed [ "$routed" -ge 11 ]
echo "    cancels seen $seen, routed $routed, dropped $dropped, copies delivered $(cancel_stat fanned_out), failed $(cancel_stat failed)"
# PgBouncer takes the copies as libpq's cancels: none of them crashed (1.18 dies of a half-close).
check pgbouncers_all_up [ "$(srv_field pgb1 status)/$(srv_field pgb2 status)/$(srv_field pgb3 status)" = UP/UP/UP ]
echo "    t_cancel took $((SECONDS - t_start)) s"
