#!/usr/bin/env bash
# rabbitmq.sh stop|start: stops or starts the local broker application
# (the node stays up, its listeners go away). The fault tests use it.
# rabbitmq.sh list-test-queues: the queue names in the tests' virtual host.
# rabbitmq.sh test-queue-depths [VHOST]: each queue with its ready and unacked counts.
# rabbitmq.sh add-vhost|delete-vhost NAME, list-vhosts: a run's own virtual host (the
# fault-injection run takes one, so no other test run's services consume its events).
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
  *)
    echo "usage: $0 stop|start|list-test-queues|test-queue-depths|add-vhost|delete-vhost|list-vhosts" >&2
    exit 2 ;;
esac
