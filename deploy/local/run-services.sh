#!/usr/bin/env bash
# Starts the four services in the background (logs in var/log, pids in var/run),
# waits until each is ready, and prints what to do next. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$(dirname "$0")/secrets.sh"
mkdir -p "$VAR/log" "$VAR/run"
cd "$WXP_ROOT"

declare -A PORTS=([gateway]=${GATEWAY_PORT:-8080} [replies]=${REPLIES_PORT:-8081}
                  [scheduler]=${SCHEDULER_PORT:-8082} [analytics]=${ANALYTICS_PORT:-8083})
for svc in gateway replies scheduler analytics; do
  pidfile="$VAR/run/$svc.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "$svc already running (pid $(cat "$pidfile"))"
    continue
  fi
  nohup "$PY" -m "services.$svc" >>"$VAR/log/$svc.log" 2>&1 &
  echo $! >"$pidfile"
  log "started $svc (pid $!, port ${PORTS[$svc]}, log var/log/$svc.log)"
done
for svc in gateway replies scheduler analytics; do
  WAIT_SECONDS=30 wait_for curl -sf "http://127.0.0.1:${PORTS[$svc]}/readyz" \
    || { log "$svc is not ready; see var/log/$svc.log"; exit 1; }
done

cat <<MSG

wxp is running: gateway :${PORTS[gateway]}, replies :${PORTS[replies]}, scheduler :${PORTS[scheduler]}, analytics :${PORTS[analytics]}
Secrets for this local stack are in var/secrets.env. Next:

  source deploy/local/use.sh                      # WXP_URL, WXP_ADMIN_KEY, the wxp CLI on PATH
  wxp tenants add --name Demo --appid wx0123456789abcdef --app-secret s3cret \\
      --account-type service --encrypt-mode safe --json > demo.json
  wxp simulate text --content hello --credentials demo.json     # play WeChat against the gateway
  wxp simulate event:subscribe --credentials demo.json
  curl -s localhost:${PORTS[gateway]}/metrics | grep wxp_gateway

The agency console: http://127.0.0.1:${PORTS[gateway]}/console/ (sign in with WXP_ADMIN_KEY from
var/secrets.env, or with an account's key from \`wxp keys\`).

Stop everything with: make stop
MSG
