#!/usr/bin/env bash
# make image: builds ./Dockerfile with the first usable of docker, podman and buildah,
# tagged $IMAGE:<git describe --always --dirty> and $IMAGE:latest (IMAGE defaults to
# wxp), with the OCI labels' build arguments. Exits non-zero, saying why, when no
# builder is usable or the build fails.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WXP_ROOT"
image="${IMAGE:-wxp}"

# A builder is usable when its `info` answers: docker's CLI without a daemon is not.
builder="" tried=()
for tool in docker podman buildah; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    tried+=("$tool: not installed")
  elif out=$(timeout 20 "$tool" info 2>&1 >/dev/null); then
    builder=$tool
    break
  else
    reason=$(printf '%s' "$out" | grep -m1 -iE 'cannot|error|denied|refused' || true)
    tried+=("$tool: installed, but '$tool info' fails${reason:+ ($reason)}")
  fi
done
if [ -z "$builder" ]; then
  log "make image: no usable image builder (looked for docker, podman, buildah): $(
    IFS=';'; printf '%s' "${tried[*]}" | sed 's/;/; /g')"
  exit 1
fi

tag=$(git describe --always --dirty 2>/dev/null || echo dev)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)
# The remote's URL without any user:password@ it may carry.
source_url=$(git remote get-url origin 2>/dev/null | sed -E 's#//[^/@]*@#//#' || true)
args=(-f Dockerfile -t "$image:$tag" -t "$image:latest"
  --build-arg "VERSION=${version:-unknown}" --build-arg "REVISION=$revision"
  --build-arg "SOURCE=${source_url:-unknown}")
[ -n "${LICENSES:-}" ] && args+=(--build-arg "LICENSES=$LICENSES")

log "building $image:$tag and $image:latest with $builder"
if [ "$builder" = buildah ]; then
  cmd=(buildah bud "${args[@]}" .)
else
  cmd=("$builder" build "${args[@]}" .)
fi
"${cmd[@]}" || {
  status=$?
  log "make image: $builder build failed (exit $status): see its output above; the base image python:3.11-slim must be pullable from a registry or already present locally"
  exit 1
}
log "built $image:$tag and $image:latest"
