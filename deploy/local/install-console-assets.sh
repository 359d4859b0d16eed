#!/usr/bin/env bash
# The console's browser libraries, from the npm registry, pinned by package-lock.json:
# htmx and uPlot are copied into services/gateway/console/static/vendor (served by the
# gateway; no CDN at run time), axe-core stays in node_modules for the browser tests.
# A second run changes nothing. OMIT_DEV=1 (the image) leaves axe-core out.
set -euo pipefail
source "$(dirname "$0")/env.sh"
console="$WXP_ROOT/services/gateway/console"
assets="$console/assets"
vendor="$console/static/vendor"
stamp="$assets/node_modules/.wxp-$(cat "$assets/package.json" "$assets/package-lock.json" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ] || [ ! -f "$vendor/htmx.min.js" ]; then
  command -v npm >/dev/null || { log "npm is needed for the console's libraries and was not found"; exit 1; }
  log "installing the console's browser libraries (npm ci)"
  omit=()
  [ "${OMIT_DEV:-}" = 1 ] && omit=(--omit=dev)
  npm ci --prefix "$assets" --no-audit --no-fund --loglevel=error "${omit[@]}" >/dev/null
  mkdir -p "$vendor"
  cp "$assets/node_modules/htmx.org/dist/htmx.min.js" "$vendor/"
  cp "$assets/node_modules/uplot/dist/uPlot.iife.min.js" "$assets/node_modules/uplot/dist/uPlot.min.css" "$vendor/"
  rm -f "$assets"/node_modules/.wxp-*
  touch "$stamp"
fi
