# SBEE résiliation: `make run` brings the application up with demo data, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_LINK_MODE := copy
# uv on the PATH, or a private copy under var/ (installed with pip the first time).
UV := $(shell command -v uv 2>/dev/null || echo var/uv/bin/uv)
# Everything runs in the project's environment, made by `make sync`.
PY := .venv/bin/python
BIN := .venv/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The address printed in the documents' QR codes and the attestation's verification link.
SITE_URL ?= http://$(HOST):$(PORT)
export SITE_URL

.PHONY: help run serve proxy test lint format stop db setup uv sync backup restore manage \
        bench bench-pdf bench-login bench-documents bench-load bench-dashboard \
        bench-import bench-clear-queue bench-notifications bench-tracking bench-field

help:
	@echo "make run    – démarre l'application avec les données de démonstration (http://$(HOST):$(PORT))"
	@echo "make test   – lint puis toute la suite de tests sur un vrai PostgreSQL"
	@echo "make lint   – ruff (règles et format) et le sens des dépendances (import-linter)"
	@echo "make serve  – la pile de production (gunicorn, workers de tâches, DEBUG off) sur http://$(HOST):$(PORT)"
	@echo "make serve REPLICA=1 POOLER=1 – la même, avec un réplica en lecture et PgBouncer devant le primaire"
	@echo "make proxy UPSTREAMS=\"127.0.0.1:8001 127.0.0.1:8002\" – nginx devant plusieurs piles"
	@echo "make stop   – arrête make run / make serve laissés en arrière-plan, puis le PostgreSQL local"
	@echo "make manage ARGS=\"…\" – une commande manage.py dans l'environnement de make run"
	@echo "make backup – sauvegarde cohérente de la base (documents compris) sous var/backups/"
	@echo "make restore FILE=var/backups/....dump – la restaure dans une nouvelle base"

var/uv/bin/uv:
	@echo "uv est absent : installation dans var/uv"
	python3 -m venv var/uv
	var/uv/bin/pip install --quiet uv

uv: $(UV)

# The Python: the environment's when it is 3.12 or later; else Python 3.13 (.python-version) or any
# 3.12+ the machine has; else the one uv downloads, where the network allows it.
sync: uv
	@if .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  py=.venv/bin/python; \
	else \
	  py=$$($(UV) python find --no-project 3.13 2>/dev/null || $(UV) python find --no-project '>=3.12' 2>/dev/null || echo 3.13); \
	fi; \
	$(UV) sync --frozen $(SYNC_GROUPS) --python "$$py" || { \
	  echo "Il faut Python 3.12 ou plus récent : installez-le (apt-get install python3.12, pyenv...)," \
	       "ou laissez uv le télécharger (accès réseau à ses versions de Python)."; exit 1; }

# The project's own PostgreSQL cluster, unless DATABASE_URL points elsewhere.
db: sync
	@if [ -z "$$DATABASE_URL" ]; then $(PY) -m sbee_resiliation.localdb start; fi

# Migrations run as the owner of the tables; everything else as the application's role, which owns
# nothing and may not TRUNCATE (DESIGN §11). With DATABASE_URL, that URL's role runs both.
setup: db
	DEBUG=true LOCAL_DB_USER=sbee_owner $(PY) manage.py migrate --no-input
	DEBUG=true $(PY) manage.py load_demo_data
	DEBUG=true $(PY) manage.py load_demo_requests
	DEBUG=true $(PY) manage.py transfer_overdue_balances
	DEBUG=true $(PY) manage.py issue_due_orders

run: setup
	@echo
	@DEBUG=true $(PY) manage.py load_demo_data --logins | sed -n '/Comptes/,$$p'
	@echo
	@echo "Application : http://$(HOST):$(PORT)/   (Ctrl-C pour arrêter le serveur et le worker)"
	@mkdir -p var/run; export DEBUG=true; \
	$(PY) manage.py run_worker & worker=$$!; \
	$(PY) manage.py runserver $(HOST):$(PORT) & server=$$!; \
	echo "$$worker $$server" > var/run/make-run.pids; \
	trap 'kill $$worker $$server 2>/dev/null; wait $$worker $$server 2>/dev/null; rm -f var/run/make-run.pids' EXIT INT TERM; \
	wait $$server

# The production stack: gunicorn (2 workers per CPU + 1), SBEE_WORKERS task workers, each
# restarted when it stops (supervisord, deploy/supervisord.conf); DEBUG off; static files hashed
# and compressed; connections kept 300 s. Plain HTTP on HOST:PORT unless told otherwise: behind a
# TLS proxy, see the README. Ctrl-C stops it, so does `make stop`.
# Beyond one machine (README): REPLICA=1 starts a hot standby of the local cluster that the
# read-only pages read from; POOLER=1 puts PgBouncer (transaction mode) between the web processes
# and the primary (the task workers connect directly); STACK=name runs a second stack from the
# same clone (its own supervisord under var/run/name/), standing for a second machine.
SBEE_WORKERS ?= 2
STACK ?=
RUN_DIR = var/run$(if $(STACK),/$(STACK))
serve: db
	@mkdir -p var/log $(RUN_DIR)
	@test -s var/secret_key || { umask 077; $(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key; }
	@if [ -z "$$DATABASE_URL" ]; then \
	  if [ "$(REPLICA)" = 1 ]; then $(PY) -m sbee_resiliation.localdb replica start || exit 1; fi; \
	  if [ "$(POOLER)" = 1 ]; then $(PY) -m sbee_resiliation.localdb pooler start || exit 1; fi; \
	fi
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" DEBUG=false \
	  ALLOWED_HOSTS="$${ALLOWED_HOSTS:-$(HOST),localhost,127.0.0.1}" \
	  SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-false}" SECURE_COOKIES="$${SECURE_COOKIES:-false}" \
	  SECURE_HSTS_SECONDS="$${SECURE_HSTS_SECONDS:-0}" SITE_URL="$${SITE_URL:-http://$(HOST):$(PORT)}" \
	  CONN_MAX_AGE="$${CONN_MAX_AGE:-300}" HOST=$(HOST) PORT=$(PORT) \
	  SBEE_ROOT="$(CURDIR)" SBEE_RUN="$(CURDIR)/$(RUN_DIR)" SBEE_STACK="$(or $(STACK),main)" \
	  SBEE_WORKERS=$(SBEE_WORKERS); \
	if [ -z "$$DATABASE_URL" ] && [ "$(REPLICA)" = 1 ]; then \
	  export REPLICA_DATABASE_URL="$$($(PY) -m sbee_resiliation.localdb replica url)"; fi; \
	if [ -z "$$DATABASE_URL" ] && [ "$(POOLER)" = 1 ]; then \
	  export WEB_DATABASE_URL="$$($(PY) -m sbee_resiliation.localdb pooler url)"; fi; \
	DATABASE_URL="$${MIGRATE_DATABASE_URL:-$$DATABASE_URL}" LOCAL_DB_USER=sbee_owner \
	  $(PY) manage.py migrate --no-input -v0 && \
	$(PY) manage.py load_demo_data --reference-only -v0 && \
	$(PY) manage.py collectstatic --no-input -v0 && \
	echo "Pile de production : http://$(HOST):$(PORT)/  (santé : /sante/ ; Ctrl-C ou make stop pour arrêter)" && \
	exec $(BIN)/supervisord -c deploy/supervisord.conf

# nginx (Debian's package) on HOST:PORT in front of the stacks listed in UPSTREAMS, with the
# proxy settings of deploy/nginx/sbee-app.conf: make proxy PORT=8000 UPSTREAMS="127.0.0.1:8001 127.0.0.1:8002"
UPSTREAMS ?= 127.0.0.1:8001 127.0.0.1:8002
proxy: sync
	@mkdir -p var/run
	exec $(PY) -m sbee_resiliation.proxy $(HOST):$(PORT) $(UPSTREAMS)

# A manage.py command in make run's environment (the local cluster, DEBUG on for the demo):
# make manage ARGS="issue_due_orders --date 2026-12-10"
manage: db
	DEBUG=true $(PY) manage.py $(ARGS)

lint: sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: sync
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The browser tests' accessibility and validity checkers (axe-core, vnu-jar), from tests/package.json.
tests/node_modules/.package-lock.json: tests/package.json tests/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests --no-audit --no-fund --ignore-scripts; \
	else echo "npm est absent : les vérifications axe-core et vnu des tests navigateur seront signalées."; fi

test: lint db tests/node_modules/.package-lock.json
	$(BIN)/pytest $(PYTEST_ARGS)

stop:
	@for pidfile in var/run/supervisord.pid var/run/*/supervisord.pid var/run/nginx/nginx.pid; do \
	  if [ -s $$pidfile ] && kill -0 $$(cat $$pidfile) 2>/dev/null; then \
	    kill $$(cat $$pidfile); echo "$$pidfile : arrêté."; \
	    while kill -0 $$(cat $$pidfile 2>/dev/null) 2>/dev/null; do sleep 0.5; done; fi; \
	done
	@if [ -s var/run/make-run.pids ]; then kill $$(cat var/run/make-run.pids) 2>/dev/null \
	  && echo "make run arrêté."; rm -f var/run/make-run.pids; fi
	@if [ -x $(PY) ]; then $(PY) -m sbee_resiliation.localdb stop; fi

# A consistent dump (documents included) under var/backups/, or FILE=...; its restoration into a
# new database (DB=name, default: named after the dump's date), never over the one in use.
backup: db
	$(PY) -m sbee_resiliation.backup dump $(FILE)

restore: db
	@test -n "$(FILE)" || { echo "usage : make restore FILE=var/backups/sbee-....dump [DB=nom]"; exit 2; }
	$(PY) -m sbee_resiliation.backup restore $(FILE) $(DB)

# The benchmarks' own packages (locust) come with them: the `bench` dependency group, which
# `make run` and `make test` do not install.
bench bench-clear-queue bench-documents bench-dashboard bench-load bench-import bench-pdf \
  bench-login bench-notifications bench-tracking bench-field: SYNC_GROUPS = --group bench

# Benchmarks on 1 000 000 contracts, in a separate database of the local cluster (sbee_bench).
BENCH_CONTRACTS ?= 1000000
BENCH_ENV = url=$$($(PY) -m sbee_resiliation.localdb url postgres sbee_bench); \
	admin=$$($(PY) -m sbee_resiliation.localdb url postgres postgres); \
	psql "$$admin" -tAc "SELECT 1 FROM pg_database WHERE datname='sbee_bench'" | grep -q 1 \
	  || psql "$$admin" -qc "CREATE DATABASE sbee_bench"; \
	export DATABASE_URL=$$url DATABASE_MAINTENANCE=on SECRET_KEY=bench ALLOWED_HOSTS=testserver,127.0.0.1,localhost \
	  SECURE_SSL_REDIRECT=false SECURE_COOKIES=false SECURE_HSTS_SECONDS=0 DEBUG=false; \
	DEBUG=true $(PY) manage.py migrate --no-input -v0

# The contract search, step 8 and the work queues; each page beside the SQL it runs; then each
# page's SQL at 10 000, 100 000 and 1 000 000 contracts (2 000 to 200 000 requests).
bench: db
	@$(BENCH_ENV); \
	$(PY) manage.py bench_check bench && \
	$(PY) manage.py collectstatic --no-input -v0 && \
	$(PY) manage.py bench_search --contracts $(BENCH_CONTRACTS) && \
	$(PY) manage.py bench_due_orders && \
	$(PY) manage.py bench_pages && \
	$(PY) manage.py bench_growth; rc=$$?; \
	$(PY) manage.py bench_check bench --fin --vider-la-file; exit $$rc

# The render jobs a benchmark left queued in the benchmark database, removed.
bench-clear-queue: db
	@$(BENCH_ENV); \
	$(PY) manage.py bench_check bench-clear-queue --fin --vider-la-file

# The 10 000 removal orders of a large daily job, rendered and stored by the task workers.
BENCH_WORKERS ?= 2
bench-documents: db
	@$(BENCH_ENV); \
	$(PY) manage.py bench_check bench-documents && \
	$(PY) manage.py bench_documents --workers $(BENCH_WORKERS); rc=$$?; \
	$(PY) manage.py bench_check bench-documents --fin; exit $$rc

# The customers' SMS of step 8's 10 000 removal orders, sent by the task workers to a local
# server speaking Infobip's SMS API (the real backend and its SDK).
bench-notifications: db
	@$(BENCH_ENV); \
	$(PY) manage.py bench_check bench-notifications && \
	$(PY) manage.py bench_notifications --workers $(BENCH_WORKERS); rc=$$?; \
	$(PY) manage.py bench_check bench-notifications --fin --vider-la-file; exit $$rc

# Dashboards (national, one DR, one agency), the searches by deadline and the export of every
# request, with 200 000 requests in every state on the 1 000 000 contracts (seeded once); then
# each page (the work queues among them) beside its SQL at that size.
bench-dashboard: db
	@$(BENCH_ENV); \
	$(PY) manage.py bench_check bench-dashboard && \
	$(PY) manage.py collectstatic --no-input -v0 && \
	$(PY) manage.py bench_dashboard && \
	$(PY) manage.py bench_pages --runs 50; rc=$$?; \
	$(PY) manage.py bench_check bench-dashboard --fin; exit $$rc

# Simulated agents (locust) against the production stack on the benchmark database: 100 agents
# for 2 minutes, then the climb that finds the saturation point.
# Beyond one machine: BENCH_STACKS=2 puts nginx in front of two stacks, BENCH_REPLICA=1 sends
# the read-only pages to a hot standby, BENCH_POOLER=1 the web processes through PgBouncer;
# BENCH_CHEFS=1 adds a chef d'agence for 8 agents, who reads those pages.
BENCH_AGENTS ?= 100
BENCH_SWEEP ?= 50,150,200,300
BENCH_STACKS ?= 1
BENCH_LOAD_OPTIONS = --stacks $(BENCH_STACKS) $(if $(filter 1,$(BENCH_REPLICA)),--replica) \
	$(if $(filter 1,$(BENCH_POOLER)),--pooler) $(if $(filter 1,$(BENCH_CHEFS)),--chefs)
bench-load: db
	@$(BENCH_ENV); \
	$(PY) manage.py collectstatic --no-input -v0; \
	$(PY) manage.py bench_load --users $(BENCH_AGENTS) --duration 120 $(BENCH_LOAD_OPTIONS); \
	$(PY) manage.py bench_load --users $(BENCH_SWEEP) --duration 60 $(BENCH_LOAD_OPTIONS)

# The import of a national extraction: 1 000 000 contracts with their customers, deposits, unpaid
# invoices, advances and 12 billed readings each, into a database made afresh (sbee_import_bench);
# then the same files again. The files are generated once under var/bench-import/.
BENCH_IMPORT_CONTRACTS ?= 1000000
bench-import: db
	@psql "$$($(PY) -m sbee_resiliation.localdb url postgres postgres)" -q \
	  -c "DROP DATABASE IF EXISTS sbee_import_bench" -c "CREATE DATABASE sbee_import_bench"; \
	export DATABASE_URL="$$($(PY) -m sbee_resiliation.localdb url postgres sbee_import_bench)" DATABASE_MAINTENANCE=on \
	  SECRET_KEY=bench ALLOWED_HOSTS=localhost SECURE_SSL_REDIRECT=false DEBUG=false; \
	DEBUG=true $(PY) manage.py migrate --no-input -v0 && \
	$(PY) manage.py load_demo_data --reference-only -v0 && \
	$(PY) manage.py bench_import --contracts $(BENCH_IMPORT_CONTRACTS)

# PDF rendering benchmark, on the demo data (rolled back afterwards).
bench-pdf: setup
	DEBUG=true $(PY) manage.py bench_pdf

# The customer's page: a wrong code and an unknown number answer alike, in time too
# (rolled back afterwards; the demo's requests).
bench-tracking: setup
	@export DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=false; \
	$(PY) manage.py collectstatic --no-input -v0 && $(PY) manage.py bench_tracking

# The field app: bytes of its first load, of the day, of a report and of an order's PDF, and
# the server's cost of each (rolled back afterwards; the demo reader's orders).
bench-field: setup
	@export DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=false; \
	$(PY) manage.py collectstatic --no-input -v0 && $(PY) manage.py bench_field

# Server-side time of a login with Argon2 (rolled back afterwards).
bench-login: setup
	@export DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS=testserver SECURE_SSL_REDIRECT=false; \
	$(PY) manage.py collectstatic --no-input -v0 && $(PY) manage.py bench_login
