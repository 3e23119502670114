# The example application (examples/app, the seed's flow 1) in the lab's app node, through
# scripts/provision/app.sh: build it once (cached under $BUILD/app), start its API (:3000) and web
# server (:3001) by PID. Sourced.
# shellcheck shell=bash

APP_SRC=$LAB_REPO/examples/app
APP_API_PORT=3000
APP_WEB_PORT=3001

# Print the directory of the app's build (scripts/provision/app.sh build, cached under
# $APP_BUILD_ROOT, by default $BUILD/app).
app_build() {
  APP_SRC=$APP_SRC APP_BUILD_ROOT=${APP_BUILD_ROOT:-$BUILD/app} LOG_TAG=app "$PROVISION/app.sh" build
}

# Start app service SVC (api or web) from the build in DIR in node app, through the provisioning
# script the Vagrant lab's app machine runs too; wait until it listens.
app_start_one() {
  local svc=$1 dir=$2
  in_ns app env LOG_TAG=app APP_SRC="$APP_SRC" APP_BUILD="$dir" APP_DIR="$LAB_DIR/app" \
    APP_API_PORT=$APP_API_PORT APP_WEB_PORT=$APP_WEB_PORT PGHOST="$LAB_VIP" PGPORT=5432 \
    PGDATABASE="$APP_DB" PGUSER="$APP_USER" PGPASSWORD="$APP_PASSWORD" "$PROVISION/app.sh" start "$svc"
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
