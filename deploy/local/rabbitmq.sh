#!/usr/bin/env bash
# rabbitmq.sh stop|start: stops or starts the local broker application
# (the node stays up, its listeners go away). The fault tests use it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
case "${1:-}" in
  stop) rabbitctl stop_app >/dev/null ;;
  start) rabbitctl start_app >/dev/null && wait_for port_open "$RABBITMQ_PORT" ;;
  *) echo "usage: $0 stop|start" >&2; exit 2 ;;
esac
