# 美客 Meike — `make run` starts the demo clinic, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The frozen build: its own venv with the pinned versions (packaging/requirements-build.txt).
BUILD_VENV  := .venv-build
BPY         := $(BUILD_VENV)/bin/python
BUILD_STAMP := $(BUILD_VENV)/.installed

.PHONY: run clinic test bench crashtest lint screenshots deps clean dist dist-check installer

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

bench: $(STAMP) dist     ## speed on large synthetic data, figures in bench/results.json
	$(PY) -m bench.run
	$(PY) -m bench.cashier
	$(PY) -m bench.callerid
	$(PY) -m bench.frozen_start
	$(PY) -m bench.responsiveness

crashtest: $(STAMP)      ## SIGKILL cashiers at random instants (one, two at once, on PostgreSQL when
                         ## MEIKE_TEST_DATABASE_URL is set), audit the books with meike.check: bench/reliability.json
	$(PY) -m bench.crashtest

lint: $(STAMP)            ## ruff, and mypy (strict for meike/ and devices/; [tool.mypy] in pyproject.toml)
	$(PY) -m ruff check meike ui devices tests bench packaging main.py
	$(PY) -m mypy

screenshots: $(STAMP)    ## PNGs of every page in /tmp/meike-shots
	@bash .ci/system-deps.sh test
	QT_QPA_PLATFORM=offscreen $(PY) main.py --demo --screenshot /tmp/meike-shots

$(BUILD_STAMP): pyproject.toml packaging/requirements-build.txt
	@bash .ci/system-deps.sh dist
	$(PYTHON) -m venv $(BUILD_VENV)
	$(BPY) -m pip install --quiet --upgrade pip
	$(BPY) -m pip install --quiet -r packaging/requirements-build.txt
	touch $(BUILD_STAMP)

dist: $(BUILD_STAMP)     ## the one-folder build dist/Meike (PyInstaller, from the pinned versions)
	rm -rf build/lib build/bdist.* *.egg-info  # setuptools reuses build/lib: a deleted module would ship
	$(BPY) -m pip install --quiet --no-deps --force-reinstall .
	rm -rf dist/Meike
	mkdir -p build/pyinstaller
	# Outside the source tree: its meike/ would shadow the installed package (meike.migrations, ui.resources).
	cd build/pyinstaller && ../../$(BPY) -m PyInstaller --noconfirm --log-level WARN \
	    --distpath ../../dist --workpath work ../../packaging/meike.spec
	$(BPY) packaging/notices.py dist/Meike/THIRD-PARTY-NOTICES.txt --licenses dist/Meike/licenses
	cp LICENSE CHANGELOG.md dist/Meike/
	cp packaging/licenses/*.txt dist/Meike/licenses/

installer: dist          ## dist/Meike-Setup-<version>.exe (NSIS 3: apt-get install nsis, or NSIS on Windows)
	$(BPY) packaging/nsis_files.py dist/Meike build/nsis
	makensis -V2 -DVERSION=$$($(BPY) packaging/nsis_files.py --version) -DDISTDIR=dist/Meike installer.nsi

dist-check: installer    ## CI: the build's self-test, every page from the build, the installer, pip install .
	bash packaging/dist-check.sh

clean:
	rm -rf $(VENV) $(BUILD_VENV) build dist *.egg-info .pytest_cache
