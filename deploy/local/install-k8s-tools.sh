#!/usr/bin/env bash
# Installs what the offline manifest checks (tests/deploy/test_manifests.py) need beyond
# `make install`: kustomize, built from the Go module proxy into var/bin. A second run
# changes nothing. (kubernetes-validate, with the Kubernetes schemas it ships, is a dev
# dependency in pyproject.toml: `make install` brings it.)
set -euo pipefail
source "$(dirname "$0")/env.sh"

# v5.8.3 needs Go 1.27; v5.8.2 builds with the Go 1.26 these machines have.
KUSTOMIZE_VERSION=v5.8.2
stamp="$VAR/bin/.kustomize-$KUSTOMIZE_VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$VAR/bin/kustomize" ]; then
  command -v go >/dev/null || { log "Go is needed to build kustomize and was not found"; exit 1; }
  log "building kustomize $KUSTOMIZE_VERSION (about a minute the first time)"
  mkdir -p "$VAR/bin"
  GOBIN="$VAR/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  rm -f "$VAR/bin"/.kustomize-*
  touch "$stamp"
fi
