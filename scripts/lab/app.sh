# The example application (examples/app, the seed's flow 1) in the lab's app node: build it once
# (cached under $BUILD/app), start its API (:3000) and web server (:3001) by PID. Sourced.
# shellcheck shell=bash

APP_SRC=$LAB_REPO/examples/app
APP_API_PORT=3000
APP_WEB_PORT=3001
APP_NODE_MIN=20.9

# Print the first 16 hex digits of the sha256 of the named files' contents and names, sorted.
app_hash() {
  (cd "$APP_SRC" && LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# Print the files that make the dependencies (the lockfile and the package.json files), NUL-separated.
app_dep_files() { (cd "$APP_SRC" && printf '%s\0' package-lock.json package.json api/package.json web/package.json); }

# Print every source file of the app (what a build depends on), NUL-separated.
app_src_files() {
  (cd "$APP_SRC" && find . \( -name node_modules -o -name .next -o -name dist \) -prune -o -type f -print0)
}

# Fail unless node (>= APP_NODE_MIN, what Next.js needs) and npm are installed.
app_check_node() {
  local v
  need_cmds node npm
  v=$(node -p 'process.versions.node') || die "node does not run"
  node -e 'const [a,b]=process.argv[1].split(".").map(Number),[x,y]=process.argv[2].split(".").map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)' \
    "$v" "$APP_NODE_MIN" || die "node $v is too old for Next.js (need >= $APP_NODE_MIN; run scripts/deps.sh)"
}

# Print the directory of the app's build, building it if needed: npm ci once per lockfile
# ($BUILD/app/<lockfile hash>), then the production build once per source tree (stamped .built).
app_build() {
  local deps srch dir t0
  app_check_node
  [ -r "$APP_SRC/package-lock.json" ] || die "$APP_SRC/package-lock.json missing"
  deps=$(app_dep_files | app_hash)
  srch=$(app_src_files | app_hash)
  dir=$BUILD/app/$deps
  mkdir -p "$BUILD/app"
  exec 9>"$BUILD/app/.lock"
  flock 9
  export NEXT_TELEMETRY_DISABLED=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
  if [ ! -e "$dir/.npm-ci-done" ]; then
    t0=$(now_ms)
    rm -rf "$dir"
    mkdir -p "$dir/api" "$dir/web"
    (cd "$APP_SRC" && cp package-lock.json package.json "$dir/" && cp api/package.json "$dir/api/" && cp web/package.json "$dir/web/")
    log "app: npm ci in $dir (lockfile $deps)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund >"$dir/npm-ci.log" 2>&1) \
      || die "npm ci failed in $dir:$(lab_tail "$dir/npm-ci.log")"
    touch "$dir/.npm-ci-done"
    log "app: npm ci took $(elapsed_since "$t0") s" >&2
  fi
  if [ "$(cat "$dir/.built" 2>/dev/null)" != "$srch" ]; then
    t0=$(now_ms)
    rm -f "$dir/.built"
    (cd "$APP_SRC" && tar --exclude=./node_modules --exclude=./web/.next --exclude=./api/dist \
      --exclude=./web/node_modules --exclude=./api/node_modules -cf - .) | tar -C "$dir" -xf -
    log "app: building (next build, tsc) in $dir" >&2
    (cd "$dir" && npm run build >"$dir/build.log" 2>&1) || die "app build failed:$(lab_tail "$dir/build.log" 15)"
    # The standalone server serves the client bundles from its own .next/static.
    rm -rf "$dir/web/.next/standalone/web/.next/static"
    cp -r "$dir/web/.next/static" "$dir/web/.next/standalone/web/.next/static"
    echo "$srch" >"$dir/.built"
    log "app: build took $(elapsed_since "$t0") s" >&2
  fi
  exec 9>&-
  printf '%s\n' "$dir"
}

# Print the command line of app service SVC (api or web) for the build in DIR. The --lab-dir
# argument is ignored by both servers; it makes the command line unique to this lab (svc_match).
app_cmd() {
  local svc=$1 dir=$2
  case $svc in
    api) printf '%s\n' node "$dir/api/dist/server.js" "--lab-dir=$LAB_DIR/app" ;;
    web) printf '%s\n' node "$dir/web/.next/standalone/web/server.js" "--lab-dir=$LAB_DIR/app" ;;
  esac
}

# Start app service SVC (api or web) from the build in DIR; wait until it listens.
app_start_one() {
  local svc=$1 dir=$2 port pid cmd=() envs=()
  if pid=$(svc_pid "$svc"); then
    log "$svc already running (pid $pid)"
    return 0
  fi
  mapfile -t cmd < <(app_cmd "$svc" "$dir")
  mapfile -t envs < <(node_env app)
  envs+=(NODE_ENV=production NEXT_TELEMETRY_DISABLED=1)
  case $svc in
    api) port=$APP_API_PORT
         envs+=(PGHOST="$LAB_VIP" PGPORT=5432 PGDATABASE="$APP_DB" PGUSER="$APP_USER" API_PORT="$port" API_HOST=0.0.0.0) ;;
    web) port=$APP_WEB_PORT
         envs+=(PORT="$port" HOSTNAME=0.0.0.0 API_URL="http://127.0.0.1:$APP_API_PORT") ;;
  esac
  mkdir -p "$LAB_DIR/app"
  setsid nsenter --net="$(ns_file app)" env "${envs[@]}" "${cmd[@]}" >>"$LAB_DIR/app/$svc.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(svc_pidfile "$svc")"
  if ! wait_for 30 app_listening "$pid" "$port"; then
    svc_signal_wait "$svc" KILL 3 || true
    die "$svc not listening on :$port after 30 s (stopped it):$(lab_tail "$LAB_DIR/app/$svc.log")"
  fi
  log "$svc running (pid $pid) on ${LAB_ADDR[app]}:$port"
}

# Succeed while PID runs and something listens on PORT in the app node.
app_listening() {
  proc_alive "$1" || die "app process $1 exited"
  in_ns app ss -Hltn "sport = :$2" | grep -q LISTEN
}

# `app start|stop|status`.
cmd_app() {
  local dir s pid
  case ${1:-} in
    start)
      need_root app
      ns_exists app || die "node app is not up (run: scripts/lab.sh up)"
      dir=$(app_build)
      app_start_one api "$dir"
      app_start_one web "$dir"
      log "app: http://${LAB_ADDR[app]}:$APP_WEB_PORT/ (web), http://${LAB_ADDR[app]}:$APP_API_PORT/api/users (api)" ;;
    stop)
      need_root app
      for s in web api; do svc_stop_hard "$s" || die "$s could not be stopped"; done ;;
    build)
      app_build >/dev/null ;;
    status)
      for s in api web; do
        if pid=$(svc_pid "$s"); then echo "$s up (pid $pid) $(svc_where "$s")"; else echo "$s down"; fi
      done ;;
    *) die "usage: lab.sh app start|stop|status|build" ;;
  esac
}
