# The two commands: `make run` serves ChatSpheres on http://127.0.0.1:8000 with
# demo content; `make test` passes every test. Both set up what they need.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Worker processes on the one port; more than one needs REDIS_URL (README, "Run it").
WORKERS ?= 1

.PHONY: run test test-postgres lint format clean bench

$(VENV)/.base-installed: requirements/base.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ChatSpheres needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.base-installed requirements/dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(VENV)/.bench-installed: $(VENV)/.dev-installed requirements/bench.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements/bench.txt
	touch $@

run: $(VENV)/.base-installed
	@$(PY) -m chatspheres.server --workers $(WORKERS) --check
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) -m chatspheres.server --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(VENV)/.dev-installed
	$(PY) -m pytest

# The same tests (browser journeys aside) on PostgreSQL, as production runs.
# TEST_DATABASE_URL names a server where the test database may be created,
# e.g. postgres://postgres@127.0.0.1:5432/test.
test-postgres: $(VENV)/.dev-installed
	@if [ -z "$(TEST_DATABASE_URL)" ]; then \
	  echo "TEST_DATABASE_URL is not set: PostgreSQL tests not run"; \
	  if [ "$(CI)" = "true" ]; then exit 1; fi; \
	else \
	  DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest --ignore=tests/browser; \
	fi

# Benchmarks (never part of `make test`): every bench/<name>, then docs/performance.md.
bench: $(VENV)/.bench-installed
	$(PY) -m bench

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy chatspheres
	$(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.dev-installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
