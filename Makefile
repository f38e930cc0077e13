# CARE Field — `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run serve demo-data test test-fast lint format schema clean cluster screenshots

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the project with its test tools

# The demo runs in development mode on the demo key; an unset DEBUG means production.
demo-data run schema: export DEBUG ?= true

demo-data: install ## Migrate the database and load the demo units, people and reference data
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py load_demo

run: demo-data ## Set up and serve the demo with Daphne on http://127.0.0.1:8000
	@echo ""
	@echo "CARE Field demo on http://$(HOST):$(PORT)/"
	@echo "  admin          http://$(HOST):$(PORT)/admin/"
	@echo "  API docs       http://$(HOST):$(PORT)/api/v1/docs/"
	@echo "  metrics        http://$(HOST):$(PORT)/api/v1/metrics"
	@echo "  live feed      ws://$(HOST):$(PORT)/ws/feed/"
	@echo "  sign in as dispatcher, care1..care4, officer1, officer2, coordinator or admin;"
	@echo "  every demo password is 'care-demo'"
	@echo ""
	$(PY) deploy/serve.py -b $(HOST) -p $(PORT) server.asgi:application

# Two workers: most tests wait on a socket, a browser or Xvfb, so two share this 2-core machine
# well; TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
test: install ## Run the whole test suite (PostgreSQL/Redis tests run when DATABASE_URL/REDIS_URL are set)
	$(PY) -m pytest -q -n $(TEST_WORKERS)

lint: install ## ruff (lint and format) and the import-layer contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install ## ruff format + import sort
	$(VENV)/bin/ruff check --fix --select I .
	$(VENV)/bin/ruff format .

schema: install ## Write the OpenAPI schema to docs/openapi.yml
	$(PY) manage.py spectacular --validate --file docs/openapi.yml

SOCKETS ?= 2
API ?= 2
cluster: install ## HAProxy on 127.0.0.1:8000 before SOCKETS=2 socket + API=2 API processes and the always-on commands (DATABASE_URL=postgres://..., REDIS_URL; docs/deployment.md)
	@test -n "$$REDIS_URL" || (echo "set REDIS_URL (and DATABASE_URL=postgres://...)"; exit 1)
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || (echo "install HAProxy: apt-get install -y haproxy"; exit 1)
	$(PY) deploy/cluster.py --migrate --host $(HOST) --port $(PORT) --sockets $(SOCKETS) --api $(API) $(CLUSTER_ARGS)

bench-feed: install ## Live-feed latency benchmark (PostgreSQL + Redis on 127.0.0.1; minutes)
	$(PY) bench/feed_latency.py $(BENCH_ARGS)

screenshots: install ## Refresh docs/screenshots from the browser and tablet tests (test runs write elsewhere; minutes)
	CARE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots DEBUG=true $(PY) -m pytest -q tests/browser
	CARE_SCREENSHOTS=$(CURDIR)/docs/screenshots DEBUG=true $(PY) -m pytest -q -p no:cacheprovider \
		tests/mobile/ui/test_tablet_app.py -k "works_a_call or locks_when_idle"
	CARE_SCREENSHOTS=$(CURDIR)/docs/screenshots DEBUG=true $(PY) -m pytest -q -p no:cacheprovider \
		tests/mobile/ui/test_field_checks.py -k "shift_button or emergency_button or without_consent"

.PHONY: tablet
tablet: install ## Open the Kivy tablet app against the server (make run first; SERVER=... to change)
	$(PY) -m mobile --server $(or $(SERVER),http://$(HOST):$(PORT))

# Mutation testing of the modules named in pyproject's [tool.mutmut] (docs/benchmarks.md): never
# part of `make test` or .ci/run. `make mutants` runs every mutant (hours on this 2-core machine;
# mutmut resumes where it stopped); `make mutants-sample` only the functions behind the rules
# that once went untested (tens of minutes). MUTANTS="server.sync.push.x_payload_hash*" picks others.
MUTMUT_CHILDREN ?= 2
MUTANTS_SAMPLE := "server.dispatch.safety.services.x_check_in_due*" "server.dispatch.safety.services.x_send_backup*" \
	"server.sync.push.x_payload_hash*" "server.sync.push.x__replay*" \
	"server.care.opening.x__monthly_byday*" "server.dispatch.incidents.lifecycle.x_*allowed*" \
	"server.dispatch.policies.x_may_*" "server.dispatch.policies.x_fits*" \
	"server.dispatch.policies.x_rostered*" "server.care.policies.x_may_record_on*" \
	"server.accounts.policies.x_principal*" \
	"server.reports.disclosure.x__relation_to_widen*" "server.reports.disclosure.x__next_to_withhold*" \
	"server.reports.disclosure.x_small*"
.PHONY: mutants mutants-sample
mutants: install ## Mutation testing of the policy, push, lifecycle, safety, disclosure and standards modules (hours)
	$(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN) $(MUTANTS)
	$(VENV)/bin/mutmut results

mutants-sample: install ## Mutation testing of the sampled functions only (tens of minutes)
	$(MAKE) mutants MUTANTS='$(MUTANTS_SAMPLE)'

clean: ## Remove the virtualenv and local databases
	rm -rf $(VENV) var staticfiles .pytest_cache
