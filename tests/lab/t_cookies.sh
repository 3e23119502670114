#!/usr/bin/env bash
# Every handshake through a SYN cookie (syn-cookies always on lb1): pgbench -S -C opens a new
# connection per transaction, 8 clients for 15 s, so client ports and SNAT ports come round again
# while the PgBouncers still hold TIME_WAIT on the connections they closed first.
# - Every connection completes and pgbench ends on its own: a cookie flow whose SYN meets an old
#   connection's TIME_WAIT on the PgBouncer host used to leave the client, who had its handshake
#   with the datapath, waiting on a zero window for ever.
# - A port the PgBouncer host holds in TIME_WAIT is not given to another connection, even when the
#   client reuses its port: every TIME_WAIT it entered during the churn is on a port lb1's datapath
#   still claims (a reverse entry), checked at the end. (The count of SYNs that met a TIME_WAIT,
#   cookie_backend_reset, is printed: one of a connection steered by lb2 in an earlier test is
#   unknown to lb1, and is answered without a failure.)
# - Every connection went through a cookie (cookie_valid), and none was refused or dropped.
# - A server that never answers (the PgBouncer host drops the datapath's SYNs): the client, whose
#   handshake was with the datapath, gets an RST once the half-open timeout (timeout syn, 2 s here)
#   is past (cookie_connect_timeout), not a connection that hangs for as long as its own timers go.
# The connection rate with cookies is printed next to the rate without, not judged.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
CONF=$LAB_DIR_TEST/lb1/pgsteerd.conf
SECS=15

# A node-wide count of lb1's datapath by name, from the verdicts and drops lines of pgsteer status.
status_num() { on lb1 pgsteer status | awk -v k="$1" '/^(verdicts|drops):/ { for (i = 2; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }
set_cookies() {
  sed -i '/^    syn-cookies /d; /^    timeout syn /d' "$CONF"
  [ "$1" = auto ] || sed -i "/^service pgsql/a\\    syn-cookies $1" "$CONF"
  [ -z "${2:-}" ] || sed -i "/^global/a\\    timeout syn $2" "$CONF"
  on lb1 pgsteer reload > /dev/null
}
# The PgBouncer host drops every SYN from the VIP (the datapath's, never the health checks').
DROP=(INPUT -p tcp -s "$VIP" --syn -j DROP)
trap 'on pgb iptables -D "${DROP[@]}" 2>/dev/null; set_cookies auto; bg_cleanup' EXIT
# pgbench -S -C through the VIP for SECS seconds; its output in $1, its exit status returned. The
# timeout only ends a hang (a hung connection never ends pgbench).
churn() {
  on client timeout $((SECS + 120)) env PGPASSWORD=app-secret pgbench -n -S -C -c 8 -j 2 -T "$SECS" \
    -h "$VIP" -p 5432 -U app app > "$1" 2>&1
}
tps_of() { awk -F'= ' '/^tps/ { split($2, a, " "); print a[1] }' "$1"; }
done_of() { awk -F': ' '/number of transactions actually processed/ { split($2, a, "/"); print a[1] }' "$1"; }
failed_of() { awk -F': ' '/number of failed transactions/ { split($2, a, " "); print a[1] }' "$1"; }

wait_eval 60 'holds_vip lb1'
out=$(mktemp)
set_cookies auto
churn "$out"
tps_auto=$(tps_of "$out")

set_cookies always
valid0=$(status_num cookie_valid) reset0=$(status_num cookie_backend_reset) refused0=$(status_num cookie_refused)
invalid0=$(status_num cookie_invalid) early0=$(status_num cookie_early)
t0=$SECONDS
churn "$out"
rc=$?
took=$((SECONDS - t0))
n=$(done_of "$out") failed=$(failed_of "$out") tps=$(tps_of "$out")
valid=$(( $(status_num cookie_valid) - valid0 )) resets=$(( $(status_num cookie_backend_reset) - reset0 ))
refused=$(( $(status_num cookie_refused) - refused0 ))
dropped=$(( $(status_num cookie_invalid) - invalid0 + $(status_num cookie_early) - early0 ))
# The PgBouncer host's TIME_WAITs toward the VIP with more than 30 s of their 60 left (entered in
# the churn) against lb1's reverse entries: "young unheld" in the end.
on pgb ss -Htano state time-wait dst "$VIP" > "$out.tw"
bpftool -j map dump pinned "$(pinof lb1)/pgs_rflows" > "$out.rflows"
read -r tw young unheld <<< "$(python3 - "$out.tw" "$out.rflows" <<'PY'
import json, re, sys
swap = lambda x: ((x & 0xff) << 8) | (x >> 8)  # a network-order u16 as BTF prints it
held = {(swap(e["formatted"]["key"]["bport"]), swap(e["formatted"]["key"]["sport"])) for e in json.load(open(sys.argv[2]))}
tw = young = unheld = 0
for line in open(sys.argv[1]):
    f = line.split()
    m = re.search(r"timewait,(\d+)(sec|min)", line)
    tw += 1
    if not m or len(f) < 4 or (int(m.group(1)) * (60 if m.group(2) == "min" else 1)) <= 30:
        continue
    young += 1
    unheld += (int(f[2].rsplit(":", 1)[1]), int(f[3].rsplit(":", 1)[1])) not in held
print(tw, young, unheld)
PY
)"
rm -f "$out.tw" "$out.rflows"
[ "$rc" -eq 0 ] || tail -5 "$out" | sed 's/^/    pgbench: /'
rm -f "$out"

echo "    pgbench -S -C, 8 clients, ${SECS} s ($ATTACH): syn-cookies always ${tps:-?} tps ($n transactions, exit $rc after ${took} s)," \
  "auto ${tps_auto:-?} tps; cookie_valid +$valid, cookie_backend_reset +$resets, cookie_refused +$refused, cookie drops +$dropped;" \
  "TIME_WAIT sockets toward the VIP on the PgBouncer host at the end: $tw, $young entered in the churn, $unheld of them on a port lb1 gave up"
check_eval cookie_churn_completes '[ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ] && [ "${failed:-1}" -eq 0 ]'
check_eval cookie_churn_every_connection_a_cookie '[ "$valid" -ge "${n:-0}" ] && [ "$refused" -eq 0 ] && [ "$dropped" -eq 0 ]'
check_eval time_wait_ports_stay_claimed '[ "${young:-0}" -gt 0 ] && [ "$unheld" -eq 0 ]'

# A server that never answers: the client hears of it once timeout syn is past.
set_cookies always 2s
to0=$(status_num cookie_connect_timeout)
on pgb iptables -I "${DROP[@]}"
t0=$(mono_ms)
err=$(on client timeout 120 env PGPASSWORD=app-secret PGCONNECT_TIMEOUT=100 psql -h "$VIP" -U app -d app -X -At -c 'select 1' 2>&1)
rc=$?
took=$(( $(mono_ms) - t0 ))
on pgb iptables -D "${DROP[@]}"
gave_up=$(( $(status_num cookie_connect_timeout) - to0 ))
echo "    a server that drops our SYN ($ATTACH): psql exit $rc after $took ms (timeout syn 2 s), cookie_connect_timeout +$gave_up: $(echo "$err" | head -2 | tr '\n' ' ')"
check_eval cookie_unanswered_syn_resets_the_client '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$gave_up" -ge 1 ]'
set_cookies always
check_eval cookie_connections_again_once_answered '[ "$(on client env PGPASSWORD=app-secret psql -h "$VIP" -U app -d app -X -At -c "select 7" 2>&1)" = 7 ]'
