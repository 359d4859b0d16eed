#!/usr/bin/env bash
# Installs what the project needs and is missing; a second run changes nothing.
#   - the virtualenv .venv: requirements-dev.lock's pins, then the project (editable)
#   - Debian's rabbitmq-server (unless AMQP_URL points elsewhere)
#   - FerretDB v1.24.2 (SQLite backend) built from deploy/local/ferretdb (unless MONGODB_URL does)
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$VAR/bin"

# The pinned packages (make lock writes the lock), then the project itself, editable,
# built by the lock's setuptools.
lock="$WXP_ROOT/requirements-dev.lock"
stamp="$VENV/.installed-$(cat "$WXP_ROOT/pyproject.toml" "$lock" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  log "installing Python packages into .venv (pinned by requirements-dev.lock)"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  mkdir -p "$VAR/log"
  { "$PY" -m pip install -q --upgrade pip \
      && "$PY" -m pip install -q --require-hashes --no-deps -r "$lock" \
      && "$PY" -m pip install -q --no-deps --no-build-isolation -e "$WXP_ROOT"; } \
    >"$VAR/log/pip.log" 2>&1 || { cat "$VAR/log/pip.log" >&2; log "pip install failed"; exit 1; }
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

if [ -z "${AMQP_URL:-}" ] && [ ! -x "$RABBIT_BIN/rabbitmq-server" ]; then
  log "installing Debian's rabbitmq-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
  # The package starts a system-wide node where it can; ours runs under var/.
  service rabbitmq-server stop >/dev/null 2>&1 || true
fi

# FerretDB v1.24.2 as released, plus deploy/local/ferretdb/patches (see the README's
# "FerretDB, patched"): the module is copied out of Go's cache, patched, and the launcher
# built against the copy.
src="$WXP_ROOT/deploy/local/ferretdb"
src_stamp="$VAR/bin/.ferretdb-$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" "$src"/patches/*.patch | sha1sum | cut -c1-12)"
if [ -z "${MONGODB_URL:-}" ] && [ ! -f "$src_stamp" ]; then
  command -v go >/dev/null || { log "Go is needed to build FerretDB and was not found"; exit 1; }
  if ! command -v patch >/dev/null; then
    log "installing Debian's patch (to patch FerretDB's source)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patch >/dev/null
  fi
  log "building FerretDB v1.24.2, patched (takes about two minutes the first time)"
  build="$VAR/build/ferretdb"
  rm -rf "$build" && mkdir -p "$build"
  module="$(cd "$src" && go mod download -json github.com/FerretDB/FerretDB | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -d "$module" ] || { log "FerretDB's module was not found in Go's cache"; exit 1; }
  cp -R "$module" "$build/FerretDB" && chmod -R u+w "$build/FerretDB"
  for fix in "$src"/patches/*.patch; do
    patch -s -p1 -d "$build/FerretDB" <"$fix"
  done
  cp "$src/go.mod" "$src/go.sum" "$src/main.go" "$build/"
  (cd "$build" && go mod edit -replace github.com/FerretDB/FerretDB=./FerretDB \
    && go build -mod=readonly -o "$FERRETDB_BIN" .)
  rm -f "$VAR/bin"/.ferretdb-*
  touch "$src_stamp"
fi

# The console's browser libraries (npm), vendored next to its pages.
"$WXP_ROOT/deploy/local/install-console-assets.sh"

# Debian's Chromium, for the console's browser tests (Playwright drives it), and a
# Chinese font, without which the console's screenshots show boxes for every 汉字.
if [ -z "${WXP_NO_BROWSER:-}" ] && { [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; }; then
  log "installing Debian's chromium and fonts-wqy-microhei (the console's browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei fontconfig >/dev/null
fi
