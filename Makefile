# The two commands of the README: `make run` (or `make index` for now) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install browser run test test-fast index lint bench bench-memory clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's Chromium for the real-browser tests (Playwright drives it; never `playwright install`).
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Build or update the index of corpus/ (incremental), then serve the UI on 127.0.0.1:7860.
run: install
	$(BIN)/qa rebuild
	$(BIN)/qa serve

test: install browser
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

index: install
	$(BIN)/qa rebuild

lint: install
	$(BIN)/ruff check qa tests benchmarks

# Every benchmark, ~14 min on 2 cores; prints one table of figures against targets.
bench: install
	$(BIN)/python benchmarks/run_all.py

# The 20,000-article rebuild memory run alone (~18 min on 2 cores).
bench-memory: install
	$(BIN)/python benchmarks/ingest.py --articles 200 --memory-articles 20000

clean:
	rm -rf indexes/chroma indexes/sparse
