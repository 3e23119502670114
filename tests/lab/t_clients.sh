#!/usr/bin/env bash
# ONCE=1 (pgsteer clients reads PgBouncer's admin console and the pinned flow table, the same whatever the attach mode)
# PgBouncer's view with the real clients: `pgsteer clients` asks every PgBouncer for SHOW CLIENTS
# (logging in with the admin-credentials file the lab's configs name) and prints, for each of the
# client's psql sessions through the VIP, the client's own address and port (as its sockets show
# them) beside the VIP:SNAT port that PgBouncer lists for it (asked directly, not through pgsteer).
# A PgBouncer with a wrong password in the file, or one that does not answer, is named in an error
# row and on stderr; the others still print.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t_start=$SECONDS
TMP=$LAB_DIR_TEST/t_clients
rm -rf "$TMP" && mkdir -p "$TMP"
trap 'bg_cleanup; rm -rf "$TMP"' EXIT
CONF=$LAB_DIR_TEST/lb1/pgsteerd.conf

# rows JSON: "server pgbouncer_port client_addr client_port" of the rows through the VIP, sorted.
rows() {
  python3 -c '
import json, sys
for r in json.loads(sys.argv[1]):
    if "error" not in r and r["via_vip"]:
        print(r["server"], r["port"], r["client_addr"], r["client_port"])' "$1" | sort
}
# errors JSON: "server: error" of the error rows.
errors() { python3 -c 'import json, sys; [print(r["server"] + ":", r["error"]) for r in json.loads(sys.argv[1]) if "error" in r]' "$1"; }

open_sessions 3
# The client's view: the local ports of its connections to the VIP.
ports=$(on client ss -Htn state established dst "$VIP" | awk '{ n = split($3, a, ":"); print a[n] }' | sort -n)
# PgBouncer's own view, asked directly: "server port" of each client connection from the VIP.
show=$(for p in 6432 6433 6434; do
  on pgb psql -h 10.100.1.5 -p $p -U app -d pgbouncer -X -At -F ' ' -c "show clients" |
    awk -v vip="$VIP" -v name="pgb$((p - 6431))" '$5 == vip { print name, $6 }'
done | sort)
t0=$(mono_ms)
out=$(on lb1 pgsteer clients -j); rc=$?
echo "    pgsteer clients -j took $(($(mono_ms) - t0)) ms (exit $rc)"
joined=$(rows "$out")
mine=$(awk '$3 == "10.100.1.2"' <<< "$joined")
echo "    the client's rows (server, SNAT port PgBouncer lists, client address, port):"; sed 's/^/      /' <<< "$mine"
check clients_all_servers_answer [ "$rc" = 0 ] && [ -z "$(errors "$out")" ]
check clients_one_row_per_session [ "$(wc -l <<< "$mine")" = 3 ]
check clients_real_client_ports [ "$(awk '{ print $4 }' <<< "$mine" | sort -n)" = "$ports" ]
miss=0
while read -r srv port _ _; do
  grep -qx "$srv $port" <<< "$show" || { miss=$((miss + 1)); echo "    $srv $port is not in that PgBouncer's SHOW CLIENTS"; }
done <<< "$mine"
check clients_snat_port_is_pgbouncers [ "$miss" = 0 ]
table=$(on lb1 pgsteer clients)
sed 's/^/    /' <<< "$table"
n=0
while read -r srv port caddr cport; do
  grep -qE "^pgsql +$srv +10\.100\.1\.2:$cport +${VIP//./\.}:$port +app +app " <<< "$table" && n=$((n + 1))
done <<< "$mine"
check clients_table_rows [ "$n" = 3 ]

# A wrong password for pgb2 only (a .pgpass line before the right USER:PASSWORD one): pgb2 is named
# with PgBouncer's refusal, the sessions on pgb1 and pgb3 still print, the exit status says so.
printf '10.100.1.5:6433:pgbouncer:app:not-the-password\napp:app-secret\n' > "$TMP/admin"
chmod 600 "$TMP/admin"
sed "s|admin-credentials .*|admin-credentials $TMP/admin|" "$CONF" > "$TMP/wrong.conf"
out=$(on lb1 pgsteer -f "$TMP/wrong.conf" clients -j 2> "$TMP/stderr"); rc=$?
echo "    wrong password for pgb2: exit $rc; stderr: $(cat "$TMP/stderr")"
check clients_wrong_password_fails [ "$rc" = 1 ]
check clients_wrong_password_names_server grep -q "^pgsteer: clients: pgsql/pgb2 (10\.100\.1\.5:6433): .*authentication failed" "$TMP/stderr"
check_eval clients_wrong_password_error_row '[ "$(errors "$out" | cut -d: -f1)" = pgb2 ]'
check_eval clients_others_still_print '[ "$(rows "$out" | awk '\''$3 == "10.100.1.2" && $1 != "pgb2"'\'')" = "$(awk '\''$1 != "pgb2"'\'' <<< "$mine")" ]'

# A broken file: every server names the config line and the file's.
printf 'app\n' > "$TMP/admin"
line=$(grep -n admin-credentials "$TMP/wrong.conf" | cut -d: -f1)
on lb1 pgsteer -f "$TMP/wrong.conf" clients > /dev/null 2> "$TMP/stderr"; rc=$?
head -n 1 "$TMP/stderr" | sed 's/^/    /'
check clients_broken_file_fails [ "$rc" = 1 ]
check_eval clients_broken_file_line '[ "$(grep -c "^pgsteer: clients: pgsql/pgb[123] (.*): ${TMP//./\\.}/wrong\.conf:$line: admin-credentials: ${TMP//./\\.}/admin:1: expects USER:PASSWORD" "$TMP/stderr")" = 3 ]'

# A PgBouncer that does not answer (nothing listens on 6439): named, the three others print.
{ cat "$CONF"; echo "    server pgb9 10.100.1.5:6439"; } > "$TMP/dead.conf"
out=$(on lb1 pgsteer -f "$TMP/dead.conf" clients -j 2> "$TMP/stderr"); rc=$?
echo "    pgb9 not answering: exit $rc; stderr: $(cat "$TMP/stderr")"
check clients_dead_server_fails [ "$rc" = 1 ]
check_eval clients_dead_server_named '[ "$(errors "$out" | cut -d: -f1)" = pgb9 ] && grep -q "pgsql/pgb9 (10\.100\.1\.5:6439): .*" "$TMP/stderr"'
check_eval clients_others_print_beside_dead '[ "$(rows "$out" | awk '\''$3 == "10.100.1.2"'\'')" = "$mine" ]'

close_sessions
echo "    t_clients took $((SECONDS - t_start)) s"
