#!/usr/bin/env bash
# Provision the app role: the example application (examples/app, the seed's flow 1), built once and
# run as two node processes: its API (Hono, :3000, reading PostgreSQL through the VIP) and its web
# page (Next.js standalone server, :3001).
#
# usage: app.sh [build|start [api|web]|all]      (default: all = build, then start both)
#   build   npm ci once per lockfile, then the production build once per source tree, under
#           $APP_BUILD_ROOT/<lockfile hash>; print that directory (stdout, alone)
#   start   start api and web (or the one named) from $APP_BUILD unless it runs; wait until it listens
# env: APP_SRC (default: examples/app of this repository) APP_BUILD_ROOT (build) APP_BUILD (start;
#      default: build first) APP_DIR=/var/lib/pgsteer/app (pid files, logs) APP_ADDR (listen, 0.0.0.0)
#      PGHOST PGPORT=5432 PGDATABASE=app PGUSER=app PGPASSWORD (the API's database: the VIP) NODE=node
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=${LOG_TAG:-app}

APP_SRC=${APP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/app" && pwd)}
APP_DIR=${APP_DIR:-/var/lib/pgsteer/app}
APP_ADDR=${APP_ADDR:-0.0.0.0}
APP_API_PORT=${APP_API_PORT:-3000}
APP_WEB_PORT=${APP_WEB_PORT:-3001}
APP_NODE_MIN=20.9 # Next.js 16
NODE=${NODE:-node}

now_ms() { date +%s%3N; }
secs_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
tail_of() { printf '\n'; tail -n "${2:-8}" "$1" 2>/dev/null | sed 's/^/    /'; }

# Print the first 16 hex digits of the sha256 of the named files' contents and names (NUL-separated
# on stdin), sorted.
app_hash() { (cd "$APP_SRC" && LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }
# The files that make the dependencies; every source file of the app (what a build depends on).
app_dep_files() { (cd "$APP_SRC" && printf '%s\0' package-lock.json package.json api/package.json web/package.json); }
app_src_files() {
  (cd "$APP_SRC" && find . \( -name node_modules -o -name .next -o -name dist \) -prune -o -type f -print0)
}

# Fail unless node (>= APP_NODE_MIN) runs.
app_check_node() {
  local v
  command -v "$NODE" >/dev/null || die "node not found (scripts/deps.sh installs it)"
  v=$("$NODE" -p 'process.versions.node') || die "node does not run"
  "$NODE" -e 'const [a,b]=process.argv[1].split(".").map(Number),[x,y]=process.argv[2].split(".").map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)' \
    "$v" "$APP_NODE_MIN" || die "node $v is too old for Next.js (need >= $APP_NODE_MIN; run scripts/deps.sh)"
}

# Build under $APP_BUILD_ROOT and print the build's directory.
app_build() {
  local deps srch dir t0
  [ -n "${APP_BUILD_ROOT:-}" ] || die "APP_BUILD_ROOT (where builds are cached) is not set"
  app_check_node
  need_cmds npm
  [ -r "$APP_SRC/package-lock.json" ] || die "$APP_SRC/package-lock.json missing"
  deps=$(app_dep_files | app_hash)
  srch=$(app_src_files | app_hash)
  dir=$APP_BUILD_ROOT/$deps
  mkdir -p "$APP_BUILD_ROOT"
  exec 9>"$APP_BUILD_ROOT/.lock"
  flock 9
  export NEXT_TELEMETRY_DISABLED=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
  if [ ! -e "$dir/.npm-ci-done" ]; then
    t0=$(now_ms)
    rm -rf "$dir"
    mkdir -p "$dir/api" "$dir/web"
    (cd "$APP_SRC" && cp package-lock.json package.json "$dir/" && cp api/package.json "$dir/api/" && cp web/package.json "$dir/web/")
    log "npm ci in $dir (lockfile $deps)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund >"$dir/npm-ci.log" 2>&1) || die "npm ci failed in $dir:$(tail_of "$dir/npm-ci.log")"
    touch "$dir/.npm-ci-done"
    log "npm ci took $(secs_since "$t0") s" >&2
  fi
  if [ "$(cat "$dir/.built" 2>/dev/null)" != "$srch" ]; then
    t0=$(now_ms)
    rm -f "$dir/.built"
    (cd "$APP_SRC" && tar --exclude=./node_modules --exclude=./web/.next --exclude=./api/dist \
      --exclude=./web/node_modules --exclude=./api/node_modules -cf - .) | tar -C "$dir" -xf -
    log "building (next build, tsc) in $dir" >&2
    (cd "$dir" && npm run build >"$dir/build.log" 2>&1) || die "app build failed:$(tail_of "$dir/build.log" 15)"
    # The standalone server serves the client bundles from its own .next/static.
    rm -rf "$dir/web/.next/standalone/web/.next/static"
    cp -r "$dir/web/.next/static" "$dir/web/.next/standalone/web/.next/static"
    echo "$srch" >"$dir/.built"
    log "build took $(secs_since "$t0") s" >&2
  fi
  exec 9>&-
  printf '%s\n' "$dir"
}

# The script of service SVC (api or web) in build DIR, and its port.
app_script() { case $1 in api) echo "$2/api/dist/server.js" ;; web) echo "$2/web/.next/standalone/web/server.js" ;; esac; }
app_port() { case $1 in api) echo "$APP_API_PORT" ;; web) echo "$APP_WEB_PORT" ;; esac; }

# Start service SVC from the build in $APP_BUILD unless it runs; its pid in $APP_DIR/SVC.pid. The --app-dir
# argument is ignored by both servers: it makes the command line name this instance (pid checks).
app_start() {
  local svc=$1 dir=$APP_BUILD port script pid pidfile=$APP_DIR/$1.pid envs=()
  script=$(app_script "$svc" "$dir")
  port=$(app_port "$svc")
  [ -r "$script" ] || die "$script missing: is $dir a build of the app (app.sh build)?"
  app_check_node
  mkdir -p "$APP_DIR"
  if ! pidfile_clear_stale "$pidfile" "--app-dir=$APP_DIR"; then
    log "$svc already running (pid $(pidfile_pid "$pidfile"))"
    return 0
  fi
  envs=(NODE_ENV=production NEXT_TELEMETRY_DISABLED=1)
  case $svc in
    api) [ -n "${PGHOST:-}" ] || die "PGHOST (the database address for the API: the VIP) is not set"
         envs+=(PGHOST="$PGHOST" PGPORT="${PGPORT:-5432}" PGDATABASE="${PGDATABASE:-app}" PGUSER="${PGUSER:-app}"
                PGPASSWORD="${PGPASSWORD:-}" API_PORT="$port" API_HOST="$APP_ADDR") ;;
    web) envs+=(PORT="$port" HOSTNAME="$APP_ADDR" API_URL="http://127.0.0.1:$APP_API_PORT") ;;
  esac
  setsid env "${envs[@]}" "$NODE" "$script" "--app-dir=$APP_DIR" >>"$APP_DIR/$svc.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  if ! wait_for 30 app_listening "$pid" "$port"; then
    kill -KILL "$pid" 2>/dev/null || true
    die "$svc not listening on :$port after 30 s (stopped it):$(tail_of "$APP_DIR/$svc.log")"
  fi
  log "$svc running (pid $pid) on $APP_ADDR:$port"
}

# Succeed while PID runs and something listens on PORT.
app_listening() {
  proc_alive "$1" || die "app process $1 exited:$(tail_of "$APP_DIR/$svc.log")"
  ss -Hltn "sport = :$2" | grep -q LISTEN
}

# Start the services named (default both) from $APP_BUILD, building first when it is not set.
start_all() {
  local svcs=("$@") s
  [ ${#svcs[@]} -gt 0 ] || svcs=(api web)
  [ -n "${APP_BUILD:-}" ] || APP_BUILD=$(ran app_build)
  for s in "${svcs[@]}"; do ran app_start "$s"; done
}

main() {
  [ $# -gt 0 ] || set -- all
  case $1 in
    build) ran app_build ;;
    start) shift; start_all "$@" ;;
    all) start_all ;;
    -h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown subcommand '$1' (build|start|all)" ;;
  esac
}

main "$@"
