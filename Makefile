# The README's commands: `make run` starts the CRM, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres lint format demo bench translations clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml $(PLUGINS)
	$(BIN)/pip install --quiet -e . $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/crmlite db upgrade
	$(BIN)/crmlite run

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "== tests on SQLite =="
	$(BIN)/pytest
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)'.replace('+psycopg',''), connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(PG_TEST_URL)) =="; \
		CRMLITE_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest; \
	elif [ -n "$$CRMLITE_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is required (CRMLITE_REQUIRE_POSTGRES) but not reachable." >&2; exit 1; \
	else \
		echo; echo "NOTE: PostgreSQL is not reachable at $(PG_TEST_URL): the PostgreSQL pass was NOT run."; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(VENV)/.installed
	$(BIN)/crmlite db upgrade
	$(BIN)/crmlite demo --contacts 10000

bench: $(VENV)/.installed-test
	$(BIN)/python bench/contacts.py

translations: $(VENV)/.installed-test
	# --ignore-dirs: babel skips directories starting with "_" by default (templates/_partials).
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
		--ignore-dirs=".* __pycache__ instance" --no-wrap --sort-by-file -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-wrap --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations

clean:
	rm -rf $(VENV) build dist *.egg-info
