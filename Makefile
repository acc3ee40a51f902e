# open-orders-sync: every command bootstraps what it needs from pinned files.
#   make demo   - venv, emulator + PostgreSQL, 5,000 demo rows, a real sync, summary, teardown
#   make up     - the same stack plus a real Airflow with its UI, syncing every 5 minutes until Ctrl-C
#   make test   - the whole suite against real servers (started and stopped by the tests)
#   make lint   - ruff
#   make bench  - benchmarks and docs/benchmarks.md
#   make lock   - regenerate constraints.txt from requirements*.txt

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SYSDEPS_STAMP := .run/.sysdeps-stamp
PIP_VERSION := 25.3
UV_VERSION := 0.13.9

.PHONY: venv sysdeps demo up test test-fast lint bench bench-quick lock clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

# System packages from Debian: PostgreSQL server binaries (embedded PostgreSQL), FreeTDS's tsql
# (the third emulator client) and Chromium (the status page's browser test).
sysdeps: $(SYSDEPS_STAMP)

$(SYSDEPS_STAMP): devtools/sysdeps.sh
	bash devtools/sysdeps.sh
	mkdir -p .run && touch $(SYSDEPS_STAMP)

demo: venv sysdeps
	$(PY) -m devtools.demo

# UP_ARGS passes options through, e.g. make up UP_ARGS="--port 8081" (see --help).
up: venv sysdeps
	$(PY) -m devtools.up $(UP_ARGS)

test: venv sysdeps
	$(PY) -m pytest

test-fast: venv sysdeps
	$(PY) -m pytest -m "not slow"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The full-reload tools get 240 s a run and the row-by-row baselines stop at 100,000 rows, so
# the whole run takes about half an hour on the 2-core machine (the report says both).
bench: venv sysdeps
	$(PY) -m bench --reload-timeout 240 --row-by-row-max-rows 100000

# Quick mode leaves the committed full report alone: its results go to .run/bench-quick/.
bench-quick: venv sysdeps
	$(PY) -m bench --quick --results .run/bench-quick/results.json \
		--report .run/bench-quick/benchmarks.md --chart .run/bench-quick/images/bench-rows-per-second.png

# Airflow's published constraints cannot be fetched here, so the project resolves its own:
# one universal lock for every supported Python (3.11 to 3.13).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile --universal --python-version 3.11 --no-header \
		requirements-dev.txt -o constraints.txt
	rm -f $(STAMP)

clean:
	rm -rf $(VENV) .run .pytest_cache
