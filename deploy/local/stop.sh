#!/usr/bin/env bash
# Stops the services that `make run` started, then FerretDB and RabbitMQ.
set -uo pipefail
source "$(dirname "$0")/env.sh"
for pidfile in "$VAR"/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -TERM "$pid" 2>/dev/null; then
    WAIT_SECONDS=15 wait_for bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    log "stopped $(basename "$pidfile" .pid) ($pid)"
  fi
  rm -f "$pidfile"
done
if [ -x "$RABBIT_BIN/rabbitmqctl" ] && port_open "$RABBITMQ_PORT"; then
  rabbitctl stop >/dev/null 2>&1 && log "stopped RabbitMQ"
fi
