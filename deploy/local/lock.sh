#!/usr/bin/env bash
# make lock: pins every package that pyproject.toml names, and what they pull in, with
# their hashes, for CPython 3.11 on x86_64 Linux (this machine and the image).
#   requirements.lock      [project].dependencies: what the image installs
#   requirements-dev.lock  the same pins plus the dev extra: .venv (make run, make test, CI)
# Pins already in the files are kept where pyproject still allows them; UPGRADE=1 moves
# every one to the newest version allowed. `lock.sh --check` writes nothing and fails
# when the locks are not what pyproject.toml resolves to (a pin added, dropped or moved).
# Uses uv from .venv (the dev extra pins it).
set -euo pipefail
source "$(dirname "$0")/env.sh"
uv="$VENV/bin/uv"
[ -x "$uv" ] || { log "uv is not in .venv: run make install first"; exit 1; }
cd "$WXP_ROOT"
out=.
if [ "${1:-}" = --check ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  cp requirements.lock requirements-dev.lock "$out/"
fi
args=(pip compile --quiet --generate-hashes --python-version 3.11
  --python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock")
[ "${UPGRADE:-}" = 1 ] && args+=(--upgrade)
"$uv" "${args[@]}" pyproject.toml -o "$out/requirements.lock"
# The runtime pins constrain the dev lock, so tests run exactly what the image ships.
"$uv" "${args[@]}" --extra dev --constraint "$out/requirements.lock" pyproject.toml \
  -o "$out/requirements-dev.lock"

pins() { grep -oE '^[A-Za-z0-9._-]+==[^ ;\\]+' "$1" | sort; }
if [ "$out" != . ]; then
  stale=0
  for f in requirements.lock requirements-dev.lock; do
    if ! diff <(pins "$f") <(pins "$out/$f") >"$out/diff" 2>&1; then
      log "$f is stale (< committed, > what pyproject.toml resolves to); run make lock:"
      sed 's/^/    /' "$out/diff" >&2
      stale=1
    fi
  done
  exit "$stale"
fi
log "pinned $(pins requirements.lock | wc -l) runtime and $(pins requirements-dev.lock | wc -l) dev packages"
