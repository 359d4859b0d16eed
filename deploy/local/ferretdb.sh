#!/usr/bin/env bash
# ferretdb.sh start|kill|remove NAME PORT: a FerretDB of its own, with its SQLite files in
# var/NAME, listening on PORT (start-infra.sh starts the tests' and `make run`'s the same
# way). kill is kill -9, no warning; remove kills it and deletes its files. The
# fault-injection run keeps one for itself, so that killing it harms no other test run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
action=${1:-} name=${2:-} port=${3:-}
[[ "$name" =~ ^ferretdb-[a-z0-9-]+$ && "$port" =~ ^[0-9]+$ ]] \
  || { echo "usage: $0 start|kill|remove ferretdb-NAME PORT" >&2; exit 2; }
pidfile="$VAR/run/$name.pid"
stop_it() {
  [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
  WAIT_SECONDS=10 wait_for bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port)"
}
case "$action" in
  start)
    port_open "$port" && { log "port $port is taken"; exit 1; }
    mkdir -p "$VAR/$name" "$VAR/log" "$VAR/run"
    nohup "$FERRETDB_BIN" -listen "127.0.0.1:$port" -dir "$VAR/$name" >>"$VAR/log/$name.log" 2>&1 &
    echo $! >"$pidfile"
    wait_for port_open "$port" || { log "FerretDB did not start; see var/log/$name.log"; exit 1; }
    ;;
  kill) stop_it ;;
  remove) stop_it; rm -rf "${VAR:?}/$name" "$VAR/log/$name.log" ;;
  *) echo "usage: $0 start|kill|remove ferretdb-NAME PORT" >&2; exit 2 ;;
esac
