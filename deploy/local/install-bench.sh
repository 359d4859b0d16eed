#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make install`: Debian's wrk (the HTTP load
# generator). A second run changes nothing.
set -euo pipefail
source "$(dirname "$0")/env.sh"

if ! command -v wrk >/dev/null; then
  log "installing Debian's wrk"
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
