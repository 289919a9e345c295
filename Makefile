# Two commands: `make run` serves the full app with demo data; `make test` runs lint and tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export PORT

.PHONY: run test install lint format bench-queue clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	@DEBUG=$${DEBUG:-true} HTTPS=$${HTTPS:-false} $(BIN)/python manage.py migrate --noinput -v0
	@DEBUG=$${DEBUG:-true} HTTPS=$${HTTPS:-false} $(BIN)/python manage.py seed_demo
	@echo "smarketing: http://127.0.0.1:$(PORT)/accounts/login/  (web + Celery worker + beat; Ctrl-C stops all)"
	@DEBUG=$${DEBUG:-true} HTTPS=$${HTTPS:-false} PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint
	$(BIN)/pytest

# Queue benchmarks on PostgreSQL (bench/README.md): DATABASE_URL=… make bench-queue LEADS=1000000
bench-queue: install
	@test -n "$$DATABASE_URL" || (echo "bench-queue needs DATABASE_URL (PostgreSQL)"; exit 2)
	$(BIN)/python bench/queue_bench.py --leads $${LEADS:-1000000}

clean:
	rm -rf $(VENV) data .pytest_cache
