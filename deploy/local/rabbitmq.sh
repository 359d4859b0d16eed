#!/usr/bin/env bash
# rabbitmq.sh stop|start: stops or starts the local broker application
# (the node stays up, its listeners go away). The fault tests use it.
# rabbitmq.sh list-test-queues: the queue names in the tests' virtual host.
set -euo pipefail
source "$(dirname "$0")/env.sh"
case "${1:-}" in
  stop) rabbitctl stop_app >/dev/null ;;
  start) rabbitctl start_app >/dev/null && wait_for port_open "$RABBITMQ_PORT" ;;
  list-test-queues) rabbitctl list_queues -q -p wxp-test --no-table-headers name ;;
  *) echo "usage: $0 stop|start|list-test-queues" >&2; exit 2 ;;
esac
