# SBEE résiliation: `make run` brings the application up with demo data, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# uv on the PATH, or a private copy under var/ (installed with pip the first time).
UV := $(shell command -v uv 2>/dev/null || echo var/uv/bin/uv)
PY := $(UV) run --frozen python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run test lint format stop db setup uv sync bench bench-pdf bench-login

help:
	@echo "make run    – démarre l'application avec les données de démonstration (http://$(HOST):$(PORT))"
	@echo "make test   – lint puis toute la suite de tests sur un vrai PostgreSQL"
	@echo "make lint   – ruff (règles et format) et le sens des dépendances (import-linter)"
	@echo "make stop   – arrête le PostgreSQL local du projet"

var/uv/bin/uv:
	@echo "uv est absent : installation dans var/uv"
	python3 -m venv var/uv
	var/uv/bin/pip install --quiet uv

uv: $(UV)

sync: uv
	$(UV) sync --frozen

# The project's own PostgreSQL cluster, unless DATABASE_URL points elsewhere.
db: sync
	@if [ -z "$$DATABASE_URL" ]; then $(PY) -m sbee_resiliation.localdb start; fi

# Migrations run as the owner of the tables; everything else as the application's role, which owns
# nothing and may not TRUNCATE (DESIGN §11). With DATABASE_URL, that URL's role runs both.
setup: db
	DEBUG=true LOCAL_DB_USER=sbee_owner $(PY) manage.py migrate --no-input
	DEBUG=true $(PY) manage.py load_demo_data
	DEBUG=true $(PY) manage.py transfer_overdue_balances
	DEBUG=true $(PY) manage.py issue_due_orders

run: setup
	@echo
	@DEBUG=true $(PY) manage.py load_demo_data --logins | sed -n '/Comptes/,$$p'
	@echo
	@echo "Application : http://$(HOST):$(PORT)/   (Ctrl-C pour arrêter le serveur et le worker)"
	@export DEBUG=true; \
	$(PY) manage.py procrastinate worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports --no-cache

format: sync
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# The browser tests' accessibility and validity checkers (axe-core, vnu-jar), from tests/package.json.
tests/node_modules/.package-lock.json: tests/package.json tests/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests --no-audit --no-fund --ignore-scripts; \
	else echo "npm est absent : les vérifications axe-core et vnu des tests navigateur seront signalées."; fi

test: lint db tests/node_modules/.package-lock.json
	$(UV) run --frozen pytest $(PYTEST_ARGS)

stop:
	@if [ -x "$(UV)" ] || command -v uv >/dev/null; then $(PY) -m sbee_resiliation.localdb stop; fi

# Search benchmark on 1 000 000 contracts, in a separate database of the local cluster.
BENCH_CONTRACTS ?= 1000000
bench: db
	@sock=$$($(PY) -c "from sbee_resiliation import localdb; print(localdb.location()['socket'])"); \
	url="postgres://postgres@/sbee_bench?host=$$sock"; \
	psql "postgres://postgres@/postgres?host=$$sock" -tAc "SELECT 1 FROM pg_database WHERE datname='sbee_bench'" | grep -q 1 \
	  || psql "postgres://postgres@/postgres?host=$$sock" -qc "CREATE DATABASE sbee_bench"; \
	export DATABASE_URL=$$url DATABASE_MAINTENANCE=on; \
	DEBUG=true $(PY) manage.py migrate --no-input -v0; \
	DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=false $(PY) manage.py bench_search --contracts $(BENCH_CONTRACTS); \
	DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=false $(PY) manage.py bench_due_orders

# PDF rendering benchmark, on the demo data (rolled back afterwards).
bench-pdf: setup
	DEBUG=true $(PY) manage.py bench_pdf

# Server-side time of a login with Argon2 (rolled back afterwards).
bench-login: setup
	DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=false $(PY) manage.py bench_login
