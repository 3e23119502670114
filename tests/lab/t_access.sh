#!/usr/bin/env bash
# Who may drive and who may read pgsteerd: the runtime socket is 0660 (a user outside its group is
# refused, one in it answered), and "stats auth-file" puts the stats page behind HTTP basic auth
# (401 without a user, 200 with one), applied, changed and taken away by reloads; a broken users file
# fails the reload and keeps the users that were.
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"
dir=$LAB_DIR_TEST/lb2
conf=$dir/pgsteerd.conf
sock=$dir/pgsteerd.sock
users=$dir/stats-users
LB2=10.100.1.11

# ---- the runtime socket, as the lab's pgsteerd made it (no group named: pgsteer's, else root's)
mode=$(stat -c %a "$sock")
gid=$(stat -c %g "$sock")
check_eval socket_mode_0660 '[ "$mode" = 660 ]'
out=$(on lb2 setpriv --reuid=65534 --regid=65534 --clear-groups pgsteer -s "$sock" cmd "show info" 2>&1); rc=$?
check_eval socket_refuses_a_user_outside_its_group '[ $rc -ne 0 ] && echo "$out" | grep -q "Permission denied"'
out=$(on lb2 setpriv --reuid=65534 --regid=65534 --groups="$gid" pgsteer -s "$sock" cmd "show info" 2>&1); rc=$?
check_eval socket_answers_a_user_in_its_group '[ $rc -eq 0 ] && echo "$out" | grep -q "^Name: pgsteer"'

# ---- the stats page's users
code() { on client curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "http://$LB2:8404/stats;csv"; }
reload() { on lb2 pgsteer -s "$sock" reload 2>&1; }

cp "$conf" "$conf.t_access"
restore() { [ -f "$conf.t_access" ] && mv "$conf.t_access" "$conf" && reload > /dev/null; rm -f "$users"; }
trap restore EXIT
( umask 077; printf '# stats users\nadmin:lab-s3cret\n' > "$users" )
sed -i "s|^    stats .*|&\n    stats           auth-file $users|" "$conf"
out=$(reload); rc=$?
check_eval reload_with_users '[ $rc -eq 0 ]' || echo "    $out"
c1=$(code); c2=$(code -u admin:nope); c3=$(code -u admin:lab-s3cret)
echo "    no user: $c1, wrong password: $c2, right password: $c3"
check_eval stats_401_without_a_user '[ "$c1" = 401 ]'
check_eval stats_401_with_a_wrong_password '[ "$c2" = 401 ]'
check_eval stats_200_with_a_user '[ "$c3" = 200 ]'
hdr=$(on client curl -s -D - -o /dev/null --max-time 10 "http://$LB2:8404/metrics")
check_eval stats_asks_for_basic_auth 'echo "$hdr" | grep -qi "^WWW-Authenticate: Basic realm=\"pgsteer statistics\""'

# A new password applies at the next reload; the old one no longer does.
( umask 077; printf 'admin:changed\n' > "$users" )
reload > /dev/null
check_eval reload_changes_the_password '[ "$(code -u admin:lab-s3cret)" = 401 ] && [ "$(code -u admin:changed)" = 200 ]'

# A broken users file: the reload fails naming the file and line, the running users stay.
printf 'admin:changed\nbroken\n' > "$users"
out=$(reload); rc=$?
check_eval reload_refuses_a_broken_users_file "[ $rc -ne 0 ] && echo \"\$out\" | grep -q '$users:2: expects USER:PASSWORD'" ||
  echo "    $out"
check_eval broken_file_keeps_the_users '[ "$(code -u admin:changed)" = 200 ] && [ "$(code)" = 401 ]'

# The auth-file line taken away: the page is open again.
trap - EXIT
restore
check_eval stats_open_again_without_users '[ "$(code)" = 200 ]'
