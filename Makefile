# Channel Workbench — `make report` and `make test` set everything up from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WB := $(VENV)/bin/workbench
DB ?= data/workbench.duckdb
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
export PYTHONHASHSEED := 0

.PHONY: help setup sysdeps fonts demo report test test-fast test-slow test-countries test-spark bench stress-notebooks lab lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the package with test tools

fonts:  ## install a CJK font (Chinese in charts and browsers), when running as root with apt
	@if ! fc-list :lang=zh 2>/dev/null | grep -q . ; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null) \
	      || echo "warning: could not install fonts-wqy-microhei; Chinese may render as boxes"; \
	  else echo "note: install a CJK font (e.g. fonts-wqy-microhei) so Chinese renders"; fi; fi

sysdeps: fonts  ## Debian chromium + CJK font for the browser tests, a Java runtime for the Spark comparison
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v java >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

$(DB): | $(STAMP)  # order-only: a reinstall does not rebuild an existing demo store
	$(WB) demo --db $(DB)

demo: $(STAMP)  ## (re)generate the synthetic demo store (refuses a store holding your own loads; FORCE=1 replaces it)
	$(WB) demo --db $(DB) $(if $(FORCE),--force)

report: $(STAMP) fonts $(DB)  ## render the demo report pack into reports/ (ARGS="--xlsx --zip --lang zh" ...)
	$(WB) report --db $(DB) --region all --out reports $(ARGS)

SPARK_STAMP := $(VENV)/.spark-installed
$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[spark,test]'
	@touch $(SPARK_STAMP)

test: $(STAMP) sysdeps $(SPARK_STAMP)  ## the whole suite: slow cases, browser and DuckDB-vs-Spark included (what CI runs)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15  # a module per worker: its fixtures (the report pack, the Spark session) are built once

test-fast: $(STAMP)  ## the suite without slow cases (notebooks, browser)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow and not spark"

test-countries: $(STAMP) sysdeps  ## every Online Retail country's pack (37; make test renders the company pack, 5 countries and the UK in Chinese)
	WB_ALL_COUNTRIES=1 $(PY) -m pytest tests/test_reports_countries.py --durations=5

test-spark: $(SPARK_STAMP)  ## DuckDB vs Spark comparison only, with the whole-pack test (spark_pack) make test leaves out (installs the [spark] extra)
	$(PY) -m pytest -m spark

bench: $(STAMP)  ## run every benchmark in bench/ and print its figures
	@for f in $(filter-out bench/stress_notebooks.py,$(wildcard bench/*.py)); do echo "== $$f"; $(PY) $$f || exit 1; done

stress-notebooks: $(STAMP)  ## notebooks 03 and 04, 30 runs each under the report engine and the papermill command, 2 at a time: no run may take 3x its median
	$(PY) bench/stress_notebooks.py

lab: $(STAMP) $(DB)  ## open JupyterLab on notebooks/ with the project's kernel
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

lint: $(STAMP)  ## ruff
	$(VENV)/bin/ruff check .

clean:  ## remove generated data and reports (keeps .venv; refuses a store holding your own loads unless FORCE=1)
	@if [ -f $(DB) ] && [ -x $(WB) ]; then $(WB) demo --db $(DB) --check $(if $(FORCE),--force) >/dev/null; fi
	rm -rf reports $(DB) .pytest_cache
