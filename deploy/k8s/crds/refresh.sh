#!/usr/bin/env bash
# Copies the CustomResourceDefinitions that the manifests use out of the operators' Go
# modules, as the Go module proxy serves them (`go mod download`), unchanged. Run it after
# changing a version below, then `make test`; README.md in this folder lists the sources.
# The files are committed: the tests read them, not this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# module@version  path-in-module  file-here
sources=(
  "github.com/rabbitmq/cluster-operator/v2@v2.16.0 config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml rabbitmq.com_rabbitmqclusters.yaml"
  "github.com/mongodb/mongodb-kubernetes-operator@v0.13.0 config/crd/bases/mongodbcommunity.mongodb.com_mongodbcommunity.yaml mongodbcommunity.mongodb.com_mongodbcommunity.yaml"
  "github.com/kedacore/keda/v2@v2.21.0 config/crd/bases/keda.sh_scaledobjects.yaml keda.sh_scaledobjects.yaml"
  "github.com/kedacore/keda/v2@v2.21.0 config/crd/bases/keda.sh_triggerauthentications.yaml keda.sh_triggerauthentications.yaml"
  "github.com/prometheus-operator/prometheus-operator@v0.85.0 example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_servicemonitors.yaml"
  "github.com/prometheus-operator/prometheus-operator@v0.85.0 example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_prometheusrules.yaml"
)

command -v go >/dev/null || { echo "refresh.sh: Go is needed (go mod download)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for line in "${sources[@]}"; do
  read -r module path file <<<"$line"
  dir=$(cd "$tmp" && go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -f "$dir/$path" ] || { echo "refresh.sh: $module has no $path" >&2; exit 1; }
  cp "$dir/$path" "$here/$file"
  chmod 644 "$here/$file"
  echo "$file <- $module $path"
done
