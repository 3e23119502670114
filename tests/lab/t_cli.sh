#!/usr/bin/env bash
# The CLI's manners against a running pgsteerd: refused runtime commands exit non-zero, -j gives JSON
# for data and for errors (also from the pinned maps), bash completion names the daemon's servers.
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"

json_ok() { python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"; }

out=$(on lb1 pgsteer cmd bogus 2>&1); rc=$?
check_eval unknown_runtime_command_fails '[ $rc -ne 0 ] && echo "$out" | grep -q "Unknown command"'
out=$(on lb1 pgsteer cmd show stat json 2>&1); rc=$?
check_eval show_stat_json_refused '[ $rc -ne 0 ] && echo "$out" | grep -q "Not supported"'
out=$(on lb1 pgsteer cmd show info json 2>&1); rc=$?
check_eval show_info_json_refused '[ $rc -ne 0 ] && echo "$out" | grep -q "Not supported"'
out=$(on lb1 pgsteer cmd show info 2>&1); rc=$?
check_eval show_info_answers '[ $rc -eq 0 ] && echo "$out" | grep -q "^Pid: "'

out=$(on lb1 pgsteer -j cmd bogus 2>/dev/null); rc=$?
check_eval json_error_from_daemon '[ $rc -ne 0 ] && echo "$out" | json_ok "\"Unknown command\" in d[\"error\"]"'
out=$(on lb1 pgsteer -j drain pgsql/nosuch 2>/dev/null); rc=$?
check_eval json_error_for_a_bad_server '[ $rc -ne 0 ] && echo "$out" | json_ok "len(d[\"error\"]) > 0"'
out=$(on lb1 pgsteer -j nosuchcommand 2>/dev/null); rc=$?
check_eval json_error_for_an_unknown_command '[ $rc -eq 2 ] && echo "$out" | json_ok "\"nosuchcommand\" in d[\"error\"]"'
out=$(on lb1 pgsteer status -j 2>/dev/null); rc=$?
check_eval status_json '[ $rc -eq 0 ] && echo "$out" | json_ok "len(d[\"services\"]) > 0"'

# The pinned-maps fallback (no daemon on that socket): the live pins, as JSON.
out=$(on lb1 pgsteer -s /nonexistent/pgsteer.sock -j status 2>/dev/null); rc=$?
check_eval status_json_from_pinned_maps \
  '[ $rc -eq 0 ] && echo "$out" | json_ok "d[\"running\"] is False and len(d[\"services\"][0][\"servers\"]) > 0 and \"flows\" in d[\"flow_table\"]"'
out=$(on lb1 pgsteer -s /nonexistent/pgsteer.sock -f /nonexistent.conf -j status 2>/dev/null); rc=$?
check_eval json_error_without_config '[ $rc -ne 0 ] && echo "$out" | json_ok "\"nonexistent.conf\" in d[\"error\"]"'

# Completion: the servers of the running daemon after a command that takes one.
comp=$(on lb1 bash -c '. "$1"; COMP_WORDS=(pgsteer drain ""); COMP_CWORD=2; _pgsteer; printf "%s\n" "${COMPREPLY[@]}"' _ \
  "$TOP/dist/pgsteer.bash-completion" 2>&1)
echo "completion after 'drain': $(echo $comp)"
check_eval completion_names_servers 'echo "$comp" | grep -qx "pgsql/pgb1" && echo "$comp" | grep -qx "pgb1"'
