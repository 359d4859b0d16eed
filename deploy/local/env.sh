# Shared settings of the one-machine stack; sourced by the other scripts.
# Everything lives under var/ at the top of the repository.
WXP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VAR="$WXP_ROOT/var"
VENV="$WXP_ROOT/.venv"
PY="$VENV/bin/python"
FERRETDB_BIN="$VAR/bin/ferretdb-local"
FERRETDB_PORT="${FERRETDB_PORT:-27017}"
FERRETDB_TEST_PORT="${FERRETDB_TEST_PORT:-27018}"
RABBITMQ_PORT="${RABBITMQ_PORT:-5672}"

# RabbitMQ runs as this user, with all its state under var/rabbitmq.
export RABBITMQ_HOME_DIR="$VAR/rabbitmq"
export RABBITMQ_NODENAME="${RABBITMQ_NODENAME:-wxp@localhost}"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$RABBITMQ_PORT"
export RABBITMQ_DIST_PORT="${RABBITMQ_DIST_PORT:-25672}"
export RABBITMQ_MNESIA_BASE="$RABBITMQ_HOME_DIR/mnesia"
export RABBITMQ_LOG_BASE="$RABBITMQ_HOME_DIR/log"
export RABBITMQ_PID_FILE="$RABBITMQ_HOME_DIR/rabbit.pid"
export RABBITMQ_CONFIG_FILE="$RABBITMQ_HOME_DIR/rabbitmq.conf"
export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBITMQ_HOME_DIR/enabled_plugins"
export RABBITMQ_CONF_ENV_FILE="$RABBITMQ_HOME_DIR/rabbitmq-env.conf"
export HOME_FOR_RABBIT="$RABBITMQ_HOME_DIR"
RABBIT_BIN=/usr/lib/rabbitmq/bin

rabbitctl() { HOME="$RABBITMQ_HOME_DIR" "$RABBIT_BIN/rabbitmqctl" "$@"; }

log() { printf '[wxp] %s\n' "$*" >&2; }

# wait_for CMD... : retry a probe for up to $WAIT_SECONDS (default 60).
wait_for() {
  local deadline=$(( $(date +%s) + ${WAIT_SECONDS:-60} ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
