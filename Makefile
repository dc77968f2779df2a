# 美客 Meike — `make run` starts the demo clinic, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run clinic test bench crashtest lint screenshots deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

deps: $(STAMP)

run: $(STAMP)            ## the demo clinic (gl/123, admin/admin)
	@bash .ci/system-deps.sh run
	$(PY) main.py --demo

clinic: $(STAMP)         ## the clinic's real database
	@bash .ci/system-deps.sh run
	$(PY) main.py

test: $(STAMP)           ## the whole suite on SQLite, then on PostgreSQL when MEIKE_TEST_DATABASE_URL is set
	@bash .ci/system-deps.sh test
	env -u MEIKE_TEST_DATABASE_URL QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider
	@if [ -n "$${MEIKE_TEST_DATABASE_URL:-}" ]; then \
	  echo "== the same suite on PostgreSQL ($${MEIKE_TEST_DATABASE_URL}) =="; \
	  QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider; fi

bench: $(STAMP)          ## speed on large synthetic data, figures in bench/results.json
	$(PY) -m bench.run
	$(PY) -m bench.cashier
	$(PY) -m bench.callerid

crashtest: $(STAMP)      ## SIGKILL a cashier at random instants, audit the books: bench/reliability.json
	$(PY) -m bench.crashtest

lint: $(STAMP)
	$(PY) -m ruff check meike ui devices tests bench main.py

screenshots: $(STAMP)    ## PNGs of every page in /tmp/meike-shots
	@bash .ci/system-deps.sh test
	QT_QPA_PLATFORM=offscreen $(PY) main.py --demo --screenshot /tmp/meike-shots

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
