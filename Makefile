# kzvoice: `make demo` runs the demo, `make test` runs the tests.
# Both install what they need into .venv (and node_modules for the CouchDB-API test server).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-fast bench bench-quick venv node broker clean help

help:
	@echo "make demo   - run the demo (services + gateway simulator, in one process)"
	@echo "make test   - install, start what the tests need, run the tests (make test-slow: the fault/load suite)"
	@echo "make bench  - run the benchmarks, one table at the end (make bench-quick: about a minute; BENCH_ARGS=--help)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,fast]'
	@touch $@

node: node_modules/.installed

node_modules/.installed: package.json
	npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@touch $@

broker:
	@scripts/ensure-broker

demo: venv
	$(VENV)/bin/kzvoice demo

# the default suite runs in TEST_WORKERS processes (pytest-xdist; each worker has a vhost and a
# CouchDB-API server of its own, one test file stays on one worker); TEST_WORKERS=0 runs it in one
TEST_WORKERS ?= 2

test: venv node broker
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" -n $(TEST_WORKERS) --dist loadfile

# the slower fault and load suite (tests marked `slow`); .ci/run runs it after `make test`
test-slow: venv node broker
	$(PY) -m pytest -q -p no:cacheprovider -m slow

test-fast: venv
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/contract

bench: venv node broker
	$(PY) -m pip install -q -e '.[test,fast,bench]'
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: venv node broker
	$(PY) -m pip install -q -e '.[test,fast,bench]'
	$(PY) -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache kzvoice.sqlite3*
