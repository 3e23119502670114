#!/usr/bin/env bash
# A bounded load of new connections, as an application makes them: WORKERS loops, each opening a
# connection, running one query and closing, until SECONDS have passed or the file OUTFILE.stop
# exists (the caller ends it once what it waits for has happened). Every attempt is recorded:
# "ok", "connect: <error>" (no TCP connection could be made: refused, unreachable, timed out) or
# "session: <error>" (it was made, then broke, e.g. its PgBouncer died during the login). Run
# inside the client node. usage: connload.sh HOST WORKERS SECONDS OUTFILE
set -u
host=$1 workers=$2 secs=$3 out=$4
: > "$out"
end=$(( $(date +%s) + secs ))
worker() {
  local err
  while [ "$(date +%s)" -lt "$end" ] && [ ! -e "$out.stop" ]; do
    if err=$(PGCONNECT_TIMEOUT=5 timeout 10 psql -h "$host" -U app -d app -X -At -c 'select 1' 2>&1 >/dev/null); then
      echo ok
    elif grep -qiE 'Connection refused|timeout expired|No route to host|Network is unreachable' <<< "$err"; then
      echo "connect: ${err//$'\n'/ }"
    else
      echo "session: ${err//$'\n'/ }"
    fi
  done >> "$out.$1"
}
for ((w = 0; w < workers; w++)); do worker $w & done
wait
rm -f "$out.stop"
cat "$out".* >> "$out" && rm -f "$out".*
