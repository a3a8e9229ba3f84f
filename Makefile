# SafeTrain: `make run` serves the demo, `make test` runs everything. Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# System packages the suite needs (browser tests in Debian's Chromium; CJK fonts so pages render Chinese).
SYSTEM_PACKAGES_RUN := ffmpeg fonts-noto-cjk
SYSTEM_PACKAGES := $(SYSTEM_PACKAGES_RUN) chromium libreoffice-calc-nogui prometheus prometheus-alertmanager nginx supervisor openssl stress-ng \
	pgbackrest restic postgresql-15-auto-failover


.PHONY: run dev demo-data test test-busy install uv python-deps assets env system-deps system-deps-run lint format migrations-check reset-local-db messages screenshots

# The production shape on the embedded database: granian serving config.wsgi with DEBUG off and hashed static files,
# Celery tasks run eagerly (no REDIS_URL). `make dev` is Django's debug server for development. Both sync the demo
# project with the demo's own real-name system (REALNAME_DEMO=true: in process, no server to start).
GRANIAN_DEMO := .venv/bin/granian --interface wsgi --host $(HOST) --port $(PORT) --workers 1 --blocking-threads 2 \
	--respawn-failed-workers --respawn-interval 1 --no-access-log config.wsgi:application
run: system-deps-run install env demo-data
	$(PY) manage.py collectstatic --noinput -v 0
	@echo "SafeTrain is at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	REALNAME_DEMO=true SECURE_SSL_REDIRECT=false DEBUG=false $(GRANIAN_DEMO)

dev: system-deps-run install env demo-data
	@echo "SafeTrain (debug server) is at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	REALNAME_DEMO=true DEBUG=true $(PY) manage.py runserver --noreload $(HOST):$(PORT)

demo-data: env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# Two processes (pytest-xdist, one per core), each test file wholly on one of them (module fixtures start their
# servers once); PYTEST_WORKERS=0 runs everything in this one process.
PYTEST_WORKERS ?= 2
test: system-deps install
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The suite beside a busy neighbour: stress-ng keeps both cores about half busy for as long as the suite runs.
NEIGHBOUR_LOAD ?= 50
test-busy: system-deps
	@stress-ng --cpu 2 --cpu-load $(NEIGHBOUR_LOAD) --timeout 3h --quiet & neighbour=$$!; \
	trap "kill $$neighbour 2>/dev/null; wait $$neighbour 2>/dev/null" EXIT; \
	$(MAKE) --no-print-directory test

install: python-deps assets

# uv from PyPI into a private venv when it is not on PATH (works without a system pip or a --user site).
uv:
	@command -v $(UV) >/dev/null 2>&1 || { $(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv; }

python-deps: uv
	$(UV) sync --frozen --python $(PYTHON)

assets:
	@if [ ! -d node_modules/htmx.org ] || [ ! -d node_modules/hls.js ] || [ ! -d node_modules/echarts ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund --loglevel=error; fi
	$(PYTHON) scripts/vendor_assets.py

env: python-deps
	$(PY) scripts/make_env.py

system-deps-run:
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="$(SYSTEM_PACKAGES_RUN)"

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "installing system packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing system packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

migrations-check:
	$(PY) manage.py makemigrations --check --dry-run

# Every main page of every demo role at 1366×768 and 390×844 into var/screenshots/ (not part of `make test`).
screenshots: system-deps install
	$(PY) scripts/screenshots.py

messages: env
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=node_modules --ignore=.venv
	$(PY) scripts/compile_messages.py

reset-local-db:
	rm -f var/safetrain.sqlite3
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# Production topology on this machine (deploy/README.md): nginx (TLS) in front of two granian web nodes, Celery worker
# and beat, Prometheus and Alertmanager, all under one supervisord; configuration, secrets, logs in var/prod.
# Ports and folder from PROD_HTTPS_PORT, PROD_HTTP_PORT, PROD_WEB_PORTS, PROD_PROMETHEUS_PORT, PROD_ALERTMANAGER_PORT,
# PROD_DIR; the database and Redis from PROD_DATABASE_URL, PROD_REDIS_URL (deploy/prod.py).
SYSTEM_PACKAGES_PROD := nginx supervisor prometheus prometheus-alertmanager openssl pgbackrest restic \
	postgresql-15-auto-failover

.PHONY: prod-up prod-down prod-status restore-drill

prod-up: system-deps-run install
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="$(SYSTEM_PACKAGES_PROD)"
	$(PY) deploy/prod.py up

prod-down:
	@$(PY) deploy/prod.py down

prod-status:
	@$(PY) deploy/prod.py status

# Restore the newest backup of prod-up's formation into a scratch cluster and media folder, verify it, print RTO and
# RPO (deploy/drill.py; DRILL_ARGS="--repo 2", "--target-time '2026-12-07 10:00:00+08:00'", "--keep").
restore-drill:
	$(PY) deploy/drill.py $(DRILL_ARGS)
