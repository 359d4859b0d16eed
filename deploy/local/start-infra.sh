#!/usr/bin/env bash
# Starts RabbitMQ and FerretDB under var/ unless they already answer, or unless
# AMQP_URL / MONGODB_URL point at servers of their own. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$VAR/log" "$VAR/run"

ensure_test_vhost() {
  # The tests get a virtual host of their own, apart from a `make run` stack's.
  rabbitctl add_vhost wxp-test >/dev/null 2>&1 || true
  rabbitctl set_permissions -p wxp-test guest ".*" ".*" ".*" >/dev/null 2>&1 \
    || log "could not set up the wxp-test vhost (is the broker on $RABBITMQ_PORT ours?)"
}

start_rabbitmq() {
  if port_open "$RABBITMQ_PORT"; then
    log "RabbitMQ already answers on $RABBITMQ_PORT"
    ensure_test_vhost
    return
  fi
  mkdir -p "$RABBITMQ_HOME_DIR" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  [ -f "$RABBITMQ_CONFIG_FILE" ] || cat >"$RABBITMQ_CONFIG_FILE" <<CONF
loopback_users = none
listeners.tcp.default = 127.0.0.1:$RABBITMQ_PORT
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 200MB
log.console = false
log.file.level = warning
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = ${RABBITMQ_PROMETHEUS_PORT:-15692}
CONF
  [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo "[rabbitmq_prometheus]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  : >"$RABBITMQ_CONF_ENV_FILE"
  log "starting RabbitMQ (node $RABBITMQ_NODENAME, data in var/rabbitmq)"
  HOME="$RABBITMQ_HOME_DIR" nohup "$RABBIT_BIN/rabbitmq-server" >"$VAR/log/rabbitmq.out" 2>&1 &
  WAIT_SECONDS=90 wait_for rabbitctl await_startup --timeout 5 \
    || { log "RabbitMQ did not start; see var/log/rabbitmq.out and var/rabbitmq/log"; exit 1; }
  ensure_test_vhost
}

# start_ferretdb NAME PORT: one FerretDB with its SQLite files in var/NAME.
start_ferretdb() {
  local name=$1 port=$2
  if port_open "$port"; then log "FerretDB ($name) already answers on $port"; return; fi
  mkdir -p "$VAR/$name"
  log "starting FerretDB ($name, port $port, SQLite files in var/$name)"
  nohup "$FERRETDB_BIN" -listen "127.0.0.1:$port" -dir "$VAR/$name" \
    >"$VAR/log/$name.log" 2>&1 &
  echo $! >"$VAR/run/$name.pid"
  wait_for port_open "$port" || { log "FerretDB did not start; see var/log/$name.log"; exit 1; }
}

# RabbitMQ's Prometheus plugin (127.0.0.1:15692) is enabled on a node started before it was.
[ -n "${AMQP_URL:-}" ] && log "AMQP_URL is set: using that broker" \
  || { start_rabbitmq; "$(dirname "$0")/rabbitmq.sh" prometheus; }
if [ -n "${MONGODB_URL:-}" ]; then
  log "MONGODB_URL is set: using that database"
else
  start_ferretdb ferretdb "$FERRETDB_PORT"
  # The tests get a database server of their own, apart from a `make run` stack's.
  start_ferretdb ferretdb-test "$FERRETDB_TEST_PORT"
fi
