# wxp: make help lists the targets. Everything installs itself on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
LOCAL := deploy/local

.PHONY: help install infra run stop test faults lint tools bench clean lock image

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: ## Install the virtualenv, RabbitMQ and FerretDB where missing
	@$(LOCAL)/install.sh

infra: install ## Start RabbitMQ and FerretDB under var/ (unless AMQP_URL / MONGODB_URL are set)
	@$(LOCAL)/start-infra.sh

run: infra ## Start the whole stack locally: infra plus the four services
	@$(LOCAL)/run-services.sh

stop: ## Stop the services, FerretDB and RabbitMQ started by make run / make test
	@$(LOCAL)/stop.sh

lint: install ## ruff and mypy (strict)
	@$(VENV)/bin/ruff check shared services tests
	@$(VENV)/bin/ruff format --check shared services tests
	@$(VENV)/bin/mypy

tools: install ## kustomize (Go module proxy) and promtool (Debian) for the offline deploy checks
	@$(LOCAL)/install-k8s-tools.sh
	@$(LOCAL)/install-promtool.sh

test: infra lint tools ## Lint, then run every test against the real RabbitMQ and FerretDB
	@source $(LOCAL)/env.sh && source $(LOCAL)/secrets.sh && $(PY) -m pytest $(PYTEST_ARGS)

faults: infra ## The seeded fault-injection run alone (WXP_FAULTS_SEED=N replays a run)
	@source $(LOCAL)/env.sh && source $(LOCAL)/secrets.sh && $(PY) -m pytest -m fault_injection $(PYTEST_ARGS)

bench: infra ## wrk against bare aiohttp, the wechatpy peer and the stack; consumers, rules, the webhook path, relay, scheduler lag, analytics intake and refresh (var/bench/)
	@$(LOCAL)/install-bench.sh
	@source $(LOCAL)/env.sh && source $(LOCAL)/secrets.sh && $(PY) -m tests.bench
	@$(PY) -m tests.bench.rules
	@$(PY) -m tests.bench.webhook_path
	@source $(LOCAL)/env.sh && source $(LOCAL)/secrets.sh && $(PY) -m tests.bench.relay
	@source $(LOCAL)/env.sh && source $(LOCAL)/secrets.sh && $(PY) -m tests.bench.scheduler
	@source $(LOCAL)/env.sh && source $(LOCAL)/secrets.sh && $(PY) -m tests.bench.analytics
	@source $(LOCAL)/env.sh && $(PY) -m tests.bench.refresh

lock: install ## Re-pin requirements.lock and requirements-dev.lock from pyproject.toml with uv (UPGRADE=1: newest allowed)
	@UPGRADE=$(UPGRADE) $(LOCAL)/lock.sh

image: ## Build the image wxp:<git describe> and wxp:latest with docker, podman or buildah
	@$(LOCAL)/build-image.sh

clean: stop ## Stop everything and delete var/ and .venv/
	rm -rf var $(VENV)
