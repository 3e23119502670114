#!/usr/bin/env bash
# The daemon contract: pgsteerd acts on SIGHUP (reload), SIGUSR2 (restart in place), SIGUSR1 (a state
# line in the log), ignores SIGALRM (its default would end it without the VIP's hand-over), and stops
# on SIGTERM and SIGQUIT, the same daemonized (no -d: it forks after setting up) as in the foreground (-d).
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"
dir=$LAB_DIR_TEST/lb2
conf=$dir/pgsteerd.conf
log=$dir/pgsteerd-t_daemon.log
: > "$log"

pid_of() { on lb2 pgsteer cmd "show info" 2>/dev/null | awk '/^Pid:/ { print $2 }'; }
count() { grep -c "$1" "$log"; }
alive() { kill -0 "$1" 2>/dev/null; }

lab kill lb2 > /dev/null
for mode in daemon foreground; do
  t0=$(date +%s%N)
  if [ $mode = daemon ]; then
    # The parent returns once the child runs; the log stays on the stderr it was given.
    on lb2 pgsteerd -f "$conf" >> "$log" 2>&1
    rc=$?
  else
    "$LAB" exec lb2 pgsteerd -d -f "$conf" >> "$log" 2>&1 < /dev/null &
    rc=0
  fi
  wait_eval 15 '[ -n "$(pid_of)" ]'
  pid=$(pid_of)
  check_eval "${mode}_starts" '[ $rc = 0 ] && [ -n "$pid" ] && alive "$pid"'
  [ -n "$pid" ] || continue

  n=$(count 'reload: done')
  kill -HUP "$pid"
  check_eval "${mode}_sighup_reloads" 'wait_eval 15 "[ \$(count \"reload: done\") -gt $n ]"'

  n=$(count 'pgsteerd .* running:')
  kill -USR2 "$pid"
  # Restart in place: a fresh image in the same process answers the runtime socket.
  check_eval "${mode}_sigusr2_restarts_in_place" \
    'wait_eval 20 "[ \$(count \"pgsteerd .* running:\") -gt $n ] && [ \"\$(pid_of)\" = $pid ]"'

  n=$(count 'status: pgsteerd')
  kill -USR1 "$pid"
  check_eval "${mode}_sigusr1_logs_state" 'wait_eval 15 "[ \$(count \"status: pgsteerd\") -gt $n ]"'
  n=$(count 'signal 14 (ALRM) .* ignored')
  kill -ALRM "$pid"
  check_eval "${mode}_sigalrm_ignored" \
    'wait_eval 15 "[ \$(count \"signal 14 (ALRM) .* ignored\") -gt $n ]" && alive $pid && [ "$(pid_of)" = $pid ]'

  # SIGTERM in the daemon pass, SIGQUIT (a terminal's quit key) in the foreground one: the same stop.
  sig=TERM; [ $mode = foreground ] && sig=QUIT
  kill -$sig "$pid"
  check_eval "${mode}_sig$(tr A-Z a-z <<< $sig)_stops" \
    'wait_until 15 eval "! alive $pid" && grep -q "signal [0-9]* ($sig): stopping" "$log"'
  alive "$pid" && { kill -KILL "$pid"; wait_until 5 eval "! alive $pid"; }
  wait 2> /dev/null
  echo "    $mode: start to stop $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done
lab start lb2 > /dev/null
check lb2_back_under_the_lab wait_eval 15 '[ -n "$(pid_of)" ]'
