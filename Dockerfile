# syntax=docker/dockerfile:1
# One image for the four services; the manifests in deploy/k8s pick the service with
# `command: ["python", "-m", "services.<name>"]`. `make image` builds it.
# Contract: python on PATH, the project installed (not editable) with the pins of
# requirements.lock, UID/GID 10001, nothing written outside /tmp (read-only root
# filesystem), no secrets inside: they come from the wxp-secrets Secret at run time.

# The console's browser libraries (htmx, uPlot), pinned by the console's package-lock.json,
# from the npm registry: served by the gateway, no CDN at run time. Not in the final image.
FROM node:20-slim AS console-assets
WORKDIR /assets
COPY services/gateway/console/assets/package.json services/gateway/console/assets/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && mkdir vendor \
    && cp node_modules/htmx.org/dist/htmx.min.js node_modules/uplot/dist/uPlot.iife.min.js \
       node_modules/uplot/dist/uPlot.min.css vendor/

# Builder: a virtualenv with the pinned dependencies, then the project itself.
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/wxp
ENV PATH=/opt/wxp/bin:$PATH
WORKDIR /src
# The lock alone first, so that a code change reuses the dependency layer.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY --from=console-assets /assets/vendor ./services/gateway/console/static/vendor
# Bytecode is compiled here (hash-checked, so copying cannot make it stale): the
# running container cannot write it.
RUN pip install --no-deps . \
    && python -m compileall -q -f --invalidation-mode unchecked-hash /opt/wxp

# Runtime: the same base with the virtualenv only (no sources, no build tools).
FROM python:3.11-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="wxp" \
      org.opencontainers.image.description="Event-driven platform for many WeChat Official Accounts: gateway, replies, scheduler, analytics (python -m services.<name>)" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}"
RUN groupadd --gid 10001 wxp \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin wxp
COPY --from=builder /opt/wxp /opt/wxp
ENV PATH=/opt/wxp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    WXP_HOST=0.0.0.0
WORKDIR /
USER 10001:10001
EXPOSE 8080 8081 8082 8083
CMD ["python", "-m", "services.gateway"]
