#!/usr/bin/env bash
# Installs what the monitoring checks of `make test` need and is missing: promtool, from
# Debian's prometheus package (tests/deploy/test_monitoring.py checks and unit-tests the
# alert rules and the dashboards' queries with it). A second run changes nothing.
set -euo pipefail
source "$(dirname "$0")/env.sh"

command -v promtool >/dev/null && exit 0
log "installing Debian's prometheus (for promtool)"
export DEBIAN_FRONTEND=noninteractive
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt=($sudo apt-get -o DPkg::Lock::Timeout=300)  # another install may hold the lock a while
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends prometheus >/dev/null
# The package starts a system-wide Prometheus on :9090 where it can; only promtool is wanted.
if [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
else
  $sudo service prometheus stop >/dev/null 2>&1 || true
  $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null || { log "promtool is still missing after the install"; exit 1; }
