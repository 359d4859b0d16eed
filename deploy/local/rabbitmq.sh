#!/usr/bin/env bash
# rabbitmq.sh stop|start: stops or starts the local broker application
# (the node stays up, its listeners go away). The fault tests use it.
# rabbitmq.sh list-test-queues: the queue names in the tests' virtual host.
# rabbitmq.sh test-queue-depths [VHOST]: each queue with its ready and unacked counts.
# rabbitmq.sh add-vhost|delete-vhost NAME, list-vhosts: a run's own virtual host (the
# fault-injection run takes one, so no other test run's services consume its events).
# rabbitmq.sh prometheus: RabbitMQ's own Prometheus plugin on 127.0.0.1:15692 (/metrics,
# /metrics/per-object, /metrics/detailed), enabled on the running node where it is not yet.
set -euo pipefail
source "$(dirname "$0")/env.sh"
case "${1:-}" in
  stop) rabbitctl stop_app >/dev/null ;;
  start) rabbitctl start_app >/dev/null && wait_for port_open "$RABBITMQ_PORT" ;;
  list-test-queues) rabbitctl list_queues -q -p wxp-test --no-table-headers name ;;
  test-queue-depths)
    rabbitctl list_queues -q -p "${2:-wxp-test}" --no-table-headers \
      name messages_ready messages_unacknowledged ;;
  add-vhost)
    rabbitctl add_vhost "$2" >/dev/null
    rabbitctl set_permissions -p "$2" guest ".*" ".*" ".*" >/dev/null ;;
  delete-vhost) rabbitctl delete_vhost "$2" >/dev/null ;;
  list-vhosts) rabbitctl list_vhosts -q --no-table-headers name ;;
  prometheus)
    port=${RABBITMQ_PROMETHEUS_PORT:-15692}
    # For the node's next start (a running node read its config when it started):
    grep -q '^prometheus.tcp.port' "$RABBITMQ_CONFIG_FILE" 2>/dev/null \
      || printf 'prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = %s\n' "$port" \
        >>"$RABBITMQ_CONFIG_FILE"
    port_open "$port" && exit 0
    # For the running node: loopback only, as its config now says, then enable online.
    rabbitctl eval "application:set_env(rabbitmq_prometheus, tcp_config, \
      [{ip, \"127.0.0.1\"}, {port, $port}])." >/dev/null
    HOME="$RABBITMQ_HOME_DIR" "$RABBIT_BIN/rabbitmq-plugins" enable -q rabbitmq_prometheus >/dev/null
    wait_for port_open "$port" || { log "RabbitMQ's Prometheus plugin is not on $port"; exit 1; } ;;
  *)
    echo "usage: $0 stop|start|list-test-queues|test-queue-depths|add-vhost|delete-vhost|list-vhosts|prometheus" >&2
    exit 2 ;;
esac
